//! Checking and installing collection strategies: the strategy crate's checks plus what the
//! configuration folder knows (template and queue names, templates the content rules block).

use std::collections::BTreeSet;
use std::path::Path;

use arrears_store::Db;
use arrears_strategy::{CheckErrors, Known, Strategy, check, queue_names, template_name};

/// Checks a strategy's text (`shown` names it in errors) against the configuration folder:
/// names known, the templates it uses passing the content rules. Also returns notes about
/// parts of the folder that are missing and so were not checked.
pub fn check_strategy(shown: &str, text: &str, dir: &Path) -> Result<(Strategy, Vec<String>), CheckErrors> {
    let (known, notes) = known(dir)?;
    let s = check(shown, text, &known)?;
    let used: BTreeSet<&str> = s.all_steps().filter_map(|st| st.template.as_deref()).collect();
    let errors: Vec<arrears_strategy::Diagnostic> = blocked_templates(dir)
        .into_iter()
        .filter(|(name, _)| used.contains(name.as_str()))
        .map(|(name, why)| {
            let at = text.find(&format!("\"{name}\"")).unwrap_or(0);
            let line = text[..at].matches('\n').count() + 1;
            let column = text[..at].rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            arrears_strategy::Diagnostic {
                line,
                column,
                message: format!(
                    "模板 {name} 违反内容规则，不能使用 / template {name} breaks a content rule ({why})"
                ),
            }
        })
        .collect();
    let mut errors = errors;
    // A template the strategy uses with a placeholder nothing fills would go out with the
    // braces in it: refused here, at the template's use, naming the template's own line.
    let names: Vec<String> = used.iter().map(|n| n.to_string()).collect();
    for problem in crate::templates::check_dir(&dir.join("templates"), Some(&names)).unwrap_or_default() {
        let name = Path::new(&problem.path)
            .file_name()
            .and_then(|f| f.to_str())
            .and_then(arrears_strategy::template_name)
            .unwrap_or_default()
            .to_string();
        let at = text.find(&format!("\"{name}\"")).unwrap_or(0);
        errors.push(arrears_strategy::Diagnostic {
            line: text[..at].matches('\n').count() + 1,
            column: text[..at].rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1,
            message: format!("模板 {name} / template {name}: {problem}"),
        });
    }
    if errors.is_empty() { Ok((s, notes)) } else { Err(CheckErrors { path: shown.to_string(), errors }) }
}

/// Installs a checked strategy; false if that exact text was installed already (then
/// nothing is recorded). `actor` is recorded as having installed it.
pub async fn install(
    db: &Db,
    s: &Strategy,
    text: String,
    at: &crate::audit::At,
    actor: &str,
) -> Result<bool, crate::audit::AuditError> {
    let sha = crate::audit::sha256_hex(&text);
    let stored = arrears_store::strategies::StoredStrategy {
        name: s.name.clone(),
        version: s.version,
        effective_from: s.effective_from,
        source: text,
    };
    let mut tx = db.begin().await?;
    if !arrears_store::strategies::install_strategy_tx(&mut tx, &stored, &sha, &at.to_rfc3339()).await? {
        tx.rollback().await?;
        return Ok(false);
    }
    let e = crate::audit::Event::new(actor, "strategy.installed")
        .entity(format!("strategy:{}:v{}", s.name, s.version))
        .fact("name", s.name.as_str())
        .fact("version", s.version)
        .fact("effective_from", s.effective_from.to_string())
        .fact("sha256", sha.as_str());
    crate::audit::record_all(&mut tx, at, vec![e]).await?;
    tx.commit().await?;
    Ok(true)
}

/// Reads the names strategies may use from the configuration folder; a missing part leaves
/// those names unchecked, and a note says so.
fn known(dir: &Path) -> Result<(Known, Vec<String>), CheckErrors> {
    let mut known = Known::default();
    let mut notes = Vec::new();
    let templates = dir.join("templates");
    match std::fs::read_dir(&templates) {
        Ok(entries) => {
            let names: BTreeSet<String> = entries
                .filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().to_str().and_then(template_name).map(str::to_string))
                .collect();
            known.templates = Some(names);
        }
        Err(_) => notes.push(format!(
            "注意: 未找到 {}，模板名未检查 / note: no {}, template names not checked",
            templates.display(),
            templates.display()
        )),
    }
    let queues = dir.join("queues.toml");
    match std::fs::read_to_string(&queues) {
        Ok(text) => known.queues = Some(queue_names(&queues.display().to_string(), &text)?),
        Err(_) => notes.push(format!(
            "注意: 未找到 {}，队列名未检查 / note: no {}, queue names not checked",
            queues.display(),
            queues.display()
        )),
    }
    Ok((known, notes))
}

/// Templates of the configuration folder that the content rules block, with the rules: a
/// message made from one could not be sent, so a strategy may not use it.
fn blocked_templates(dir: &Path) -> Vec<(String, String)> {
    let scanner = arrears_content::Scanner::default();
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir.join("templates")) else { return out };
    let mut files: Vec<_> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    files.sort();
    for path in files {
        let Some(name) = path.file_name().and_then(|n| n.to_str()).and_then(template_name) else { continue };
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        let scan = scanner.scan(&text);
        if scan.verdict == arrears_content::Verdict::Block {
            let rules: Vec<&str> = scan.findings.iter().map(|f| f.rule.as_str()).collect();
            out.push((name.to_string(), format!("{}: {}", path.display(), rules.join(", "))));
        }
    }
    out
}
