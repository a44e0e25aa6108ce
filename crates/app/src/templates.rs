//! Message templates for the batch's automatic messages, and the content check of each
//! rendered message before it reaches the outbox.
//!
//! The shipped templates (`config/templates/NAME.LANG.txt`) are built in; the folder named by
//! `ARREARS_TEMPLATES` adds to and replaces them. A template is scanned when it is loaded, and
//! every message made from it is scanned again once its variables are filled in: a clean
//! template can still render into a blocked text (a name, an amount written into it).

use std::collections::HashMap;
use std::path::Path;

use arrears_content::{Scanner, Severity, Verdict};

/// Environment variable naming a folder of templates (`NAME.LANG.txt`) used besides, and
/// before, the shipped ones.
pub const TEMPLATES_ENV: &str = "ARREARS_TEMPLATES";

/// The shipped templates, each in Chinese and English: (file name, text).
const BUILTIN: &[(&str, &str)] = &[
    ("company_reminder.zh.txt", include_str!("../../../config/templates/company_reminder.zh.txt")),
    ("company_reminder.en.txt", include_str!("../../../config/templates/company_reminder.en.txt")),
    ("due_reminder.zh.txt", include_str!("../../../config/templates/due_reminder.zh.txt")),
    ("due_reminder.en.txt", include_str!("../../../config/templates/due_reminder.en.txt")),
    ("penalty_notice.zh.txt", include_str!("../../../config/templates/penalty_notice.zh.txt")),
    ("penalty_notice.en.txt", include_str!("../../../config/templates/penalty_notice.en.txt")),
    ("demand_letter.zh.txt", include_str!("../../../config/templates/demand_letter.zh.txt")),
    ("demand_letter.en.txt", include_str!("../../../config/templates/demand_letter.en.txt")),
    ("lawyer_letter.zh.txt", include_str!("../../../config/templates/lawyer_letter.zh.txt")),
    ("lawyer_letter.en.txt", include_str!("../../../config/templates/lawyer_letter.en.txt")),
    ("overdue_notice.zh.txt", include_str!("../../../config/templates/overdue_notice.zh.txt")),
    ("overdue_notice.en.txt", include_str!("../../../config/templates/overdue_notice.en.txt")),
    ("promise_broken.zh.txt", include_str!("../../../config/templates/promise_broken.zh.txt")),
    ("promise_broken.en.txt", include_str!("../../../config/templates/promise_broken.en.txt")),
    ("reminder_firm.zh.txt", include_str!("../../../config/templates/reminder_firm.zh.txt")),
    ("reminder_firm.en.txt", include_str!("../../../config/templates/reminder_firm.en.txt")),
    ("reminder_soft.zh.txt", include_str!("../../../config/templates/reminder_soft.zh.txt")),
    ("reminder_soft.en.txt", include_str!("../../../config/templates/reminder_soft.en.txt")),
    ("transfer_notice.zh.txt", include_str!("../../../config/templates/transfer_notice.zh.txt")),
    ("transfer_notice.en.txt", include_str!("../../../config/templates/transfer_notice.en.txt")),
    ("voice_reminder.zh.txt", include_str!("../../../config/templates/voice_reminder.zh.txt")),
    ("voice_reminder.en.txt", include_str!("../../../config/templates/voice_reminder.en.txt")),
];

/// A template folder could not be read.
#[derive(Debug, thiserror::Error)]
#[error("message templates {path} ({TEMPLATES_ENV}): {detail}")]
pub struct TemplateError {
    /// The folder or file.
    pub path: String,
    /// What went wrong.
    pub detail: String,
}

/// Templates by name and language.
#[derive(Debug, Clone, Default)]
pub struct Templates {
    by_name: HashMap<String, Vec<(String, String)>>,
}

impl Templates {
    /// The templates shipped with arrears.
    pub fn builtin() -> Templates {
        let mut t = Templates::default();
        for (file, text) in BUILTIN {
            t.insert_file(file, text);
        }
        t
    }

    /// The shipped templates with those of `ARREARS_TEMPLATES` (when set) over them.
    pub fn load() -> Result<Templates, TemplateError> {
        let mut t = Templates::builtin();
        if let Some(dir) = std::env::var_os(TEMPLATES_ENV).filter(|d| !d.is_empty()) {
            t.add_dir(Path::new(&dir))?;
        }
        Ok(t)
    }

    /// Adds every `NAME.LANG.txt` of a folder, replacing a template of the same name and
    /// language.
    pub fn add_dir(&mut self, dir: &Path) -> Result<(), TemplateError> {
        let err = |p: &Path, e: std::io::Error| TemplateError {
            path: p.display().to_string(),
            detail: e.to_string(),
        };
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| err(dir, e))?
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .collect();
        files.sort();
        for path in files {
            let Some(file) = path.file_name().and_then(|n| n.to_str()).map(str::to_string) else { continue };
            if arrears_strategy::template_name(&file).is_none() {
                continue;
            }
            let text = std::fs::read_to_string(&path).map_err(|e| err(&path, e))?;
            self.insert_file(&file, &text);
        }
        Ok(())
    }

    /// Adds one template from its file name (`NAME.LANG.txt`, or `NAME.txt` for Chinese).
    pub fn insert_file(&mut self, file: &str, text: &str) {
        let Some(name) = arrears_strategy::template_name(file) else { return };
        let stem = file.strip_suffix(".txt").unwrap_or(file);
        let language = stem.strip_prefix(name).and_then(|l| l.strip_prefix('.')).unwrap_or("zh");
        let language = if language.is_empty() { "zh" } else { language };
        let entry = self.by_name.entry(name.to_string()).or_default();
        entry.retain(|(l, _)| l != language);
        entry.push((language.to_string(), text.trim_end().to_string()));
    }

    /// The text of a template in the language. There is no fallback: a borrower is never
    /// written to in a language they did not choose.
    pub fn get(&self, name: &str, language: &str) -> Option<&str> {
        self.by_name.get(name)?.iter().find(|(l, _)| l == language).map(|(_, t)| t.as_str())
    }

    /// Templates whose own text the content rules block, with the rules (a message made from
    /// one is never sent).
    pub fn blocked(&self, scanner: &Scanner) -> Vec<(String, Vec<String>)> {
        let mut out = Vec::new();
        let mut names: Vec<&String> = self.by_name.keys().collect();
        names.sort();
        for name in names {
            for (language, text) in &self.by_name[name] {
                let scan = scanner.scan(text);
                if scan.verdict == Verdict::Block {
                    let rules = scan.findings.into_iter().map(|f| f.rule).collect();
                    out.push((format!("{name}.{language}"), rules));
                }
            }
        }
        out
    }
}

/// The placeholders a template may use: those the batch fills from the case, and those the
/// dispatcher fills from the sender.
pub const PLACEHOLDERS: &[&str] = &[
    "name",
    "dpd",
    "overdue",
    "loan_id",
    "date",
    "due_date",
    "amount_due",
    "ptp_date",
    "ptp_amount",
    "lender",
    "buyer",
];

/// A problem in a template file, at a 1-based line and column (in characters).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TemplateProblem {
    /// The file.
    pub path: String,
    /// Line.
    pub line: usize,
    /// Column.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for TemplateProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}: {}", self.path, self.line, self.column, self.message)
    }
}

/// Unknown placeholders (`{word}` not in [`PLACEHOLDERS`]) in a template's text; `path`
/// names the file in each problem.
pub fn check_placeholders(path: &str, text: &str) -> Vec<TemplateProblem> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let mut rest = line;
        let mut offset = 0;
        while let Some(open) = rest.find('{') {
            let after = &rest[open + 1..];
            let len = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
            let name = &after[..len];
            if !name.is_empty() && after[len..].starts_with('}') && !PLACEHOLDERS.contains(&name) {
                out.push(TemplateProblem {
                    path: path.to_string(),
                    line: i + 1,
                    column: line[..offset + open].chars().count() + 1,
                    message: format!(
                        "未知占位符 {{{name}}} / unknown placeholder {{{name}}} (known: {})",
                        PLACEHOLDERS.join(", ")
                    ),
                });
            }
            offset += open + 1;
            rest = after;
        }
    }
    out
}

/// The shipped templates checked for unknown placeholders (none, unless one was edited).
pub fn check_builtin() -> Vec<TemplateProblem> {
    BUILTIN
        .iter()
        .flat_map(|(file, text)| check_placeholders(&format!("config/templates/{file}"), text))
        .collect()
}

/// Every `NAME.LANG.txt` of a folder checked for unknown placeholders; `only` limits the
/// check to these template names.
pub fn check_dir(dir: &Path, only: Option<&[String]>) -> Result<Vec<TemplateProblem>, TemplateError> {
    let err =
        |p: &Path, e: std::io::Error| TemplateError { path: p.display().to_string(), detail: e.to_string() };
    let mut files: Vec<_> =
        std::fs::read_dir(dir).map_err(|e| err(dir, e))?.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let Some(file) = path.file_name().and_then(|n| n.to_str()) else { continue };
        let Some(name) = arrears_strategy::template_name(file) else { continue };
        if only.is_some_and(|o| !o.iter().any(|n| n == name)) {
            continue;
        }
        let text = std::fs::read_to_string(&path).map_err(|e| err(&path, e))?;
        out.extend(check_placeholders(&path.display().to_string(), &text));
    }
    Ok(out)
}

/// The content scanner with the shipped lexicon, built once per process (segmentation
/// dictionaries take a moment to load; the batch and the dispatcher scan many texts).
pub fn shipped_scanner() -> &'static Scanner {
    static SCANNER: std::sync::OnceLock<Scanner> = std::sync::OnceLock::new();
    SCANNER.get_or_init(Scanner::default)
}

/// The content check of one rendered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageCheck {
    /// ok, warn or block.
    pub verdict: Verdict,
    /// The rules that fired, in order, without repeats.
    pub rules: Vec<String>,
    /// For a block, the reason recorded on the task: each blocking rule with what it forbids.
    pub reason: String,
}

/// Scans rendered messages, once per distinct text: the batch writes tens of thousands of
/// messages, many of them the same words.
pub struct MessageScanner<'s> {
    scanner: &'s Scanner,
    seen: HashMap<String, MessageCheck>,
    /// Texts scanned (not answered from the cache).
    pub scanned: u64,
}

impl<'s> MessageScanner<'s> {
    /// A scanner with an empty cache.
    pub fn new(scanner: &'s Scanner) -> Self {
        MessageScanner { scanner, seen: HashMap::new(), scanned: 0 }
    }

    /// The check of a rendered message.
    pub fn check(&mut self, text: &str) -> MessageCheck {
        if let Some(c) = self.seen.get(text) {
            return c.clone();
        }
        self.scanned += 1;
        let scan = self.scanner.scan(text);
        let mut rules: Vec<String> = Vec::new();
        let mut reasons: Vec<String> = Vec::new();
        for f in &scan.findings {
            if rules.contains(&f.rule) {
                continue;
            }
            rules.push(f.rule.clone());
            if let Some(rule) = self.scanner.rule(&f.rule)
                && rule.severity == Severity::Block
            {
                reasons.push(format!("{}（{}）", rule.id, rule.description_zh));
            }
        }
        let reason = if reasons.is_empty() {
            String::new()
        } else {
            format!("拒绝：内容规则 {}，消息未发送", reasons.join("；"))
        };
        let c = MessageCheck { verdict: scan.verdict, rules, reason };
        self.seen.insert(text.to_string(), c.clone());
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_templates_load_and_none_is_blocked() {
        let mut t = Templates::builtin();
        assert_eq!(t.by_name.len() * 2, BUILTIN.len());
        assert!(t.get("reminder_soft", "en").unwrap().starts_with("[{lender}] Dear {name}"));
        assert!(t.get("reminder_soft", "zh").unwrap().starts_with("【{lender}】{name}您好"));
        t.insert_file("only_chinese.zh.txt", "{name}，请还款。");
        assert_eq!(t.get("only_chinese", "en"), None, "no fallback to Chinese");
        assert!(t.get("no_such", "zh").is_none());
        assert!(t.blocked(&Scanner::default()).is_empty(), "{:?}", t.blocked(&Scanner::default()));
    }

    #[test]
    fn unknown_placeholders_are_named_with_file_line_and_column() {
        let p = check_placeholders("t.zh.txt", "【{lender}】{name}您好\n应还{amount}元，{ dpd }天{dpd}");
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!((p[0].line, p[0].column), (2, 3));
        assert!(p[0].to_string().starts_with("t.zh.txt:2:3: 未知占位符 {amount}"), "{}", p[0]);
        assert!(check_builtin().is_empty(), "{:?}", check_builtin());
    }

    #[test]
    fn every_shipped_template_speaks_both_languages_with_the_same_placeholders() {
        fn placeholders(text: &str) -> std::collections::BTreeSet<&str> {
            text.split('{').skip(1).filter_map(|rest| rest.split_once('}').map(|(name, _)| name)).collect()
        }
        let t = Templates::builtin();
        for (name, texts) in &t.by_name {
            let zh = texts.iter().find(|(l, _)| l == "zh").map(|(_, x)| x.as_str());
            let en = texts.iter().find(|(l, _)| l == "en").map(|(_, x)| x.as_str());
            let (Some(zh), Some(en)) = (zh, en) else { panic!("{name}: zh {zh:?}, en {en:?}") };
            assert_eq!(placeholders(zh), placeholders(en), "{name}");
            assert!(
                !en.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
                "{name}.en has Chinese: {en}"
            );
        }
    }

    #[test]
    fn a_folder_replaces_by_name_and_language() {
        let mut t = Templates::builtin();
        t.insert_file("reminder_soft.en.txt", "Dear {name}, please pay.\n");
        t.insert_file("reminder_soft.zh.txt", "{name}，请还款。");
        t.insert_file("notes.md", "ignored");
        assert_eq!(t.get("reminder_soft", "en"), Some("Dear {name}, please pay."));
        assert_eq!(t.get("reminder_soft", "zh"), Some("{name}，请还款。"));
        t.insert_file("threat.zh.txt", "再不还钱就打断你的腿");
        let blocked = t.blocked(&Scanner::default());
        assert_eq!(blocked.len(), 1, "{blocked:?}");
        assert_eq!(blocked[0].0, "threat.zh");
    }

    #[test]
    fn rendered_messages_are_scanned_once_per_text() {
        let scanner = Scanner::default();
        let mut m = MessageScanner::new(&scanner);
        let template = Templates::builtin();
        let soft = template.get("reminder_soft", "zh").unwrap();
        let fill = |name: &'static str| {
            arrears_content::render(soft, |k| match k {
                "name" => Some(name.into()),
                _ => None,
            })
        };
        // (name written into the template, verdict)
        let cases: &[(&str, Verdict)] = &[
            ("张三", Verdict::Ok),
            ("老赖", Verdict::Block),
            ("走着瞧", Verdict::Warn),
            ("张三", Verdict::Ok),
        ];
        for (name, verdict) in cases {
            let c = m.check(&fill(name));
            assert_eq!(c.verdict, *verdict, "{name}: {c:?}");
            assert_eq!(c.reason.is_empty(), *verdict != Verdict::Block, "{name}: {c:?}");
        }
        assert_eq!(m.scanned, 3, "the repeated text came from the cache");
        let blocked = m.check(&fill("老赖"));
        assert_eq!(blocked.rules, ["insult.abuse"]);
        assert!(blocked.reason.contains("insult.abuse（侮辱、谩骂借款人）"), "{}", blocked.reason);
    }
}
