//! `arrears strategy check` as a supervisor meets it: the shipped default passes, and a
//! broken file gets every error as FILE:LINE:COL with exit code 1.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn arrears(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_arrears")).args(args).output().expect("the arrears binary runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config")
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn the_default_strategy_checks_clean() {
    let file = config().join("strategies/default.toml");
    let out = arrears(&["strategy", "check", s(&file)]);
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stdout).contains("ok — default v1, 5 segments"), "{}", text(&out.stdout));
    assert!(
        !text(&out.stderr).contains("not checked"),
        "templates and queues are found: {}",
        text(&out.stderr)
    );
    let out = arrears(&["strategy", "check", s(&file), "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["ok"], true);
    assert_eq!(v["summary"]["experiments"][0]["arms"][1]["share"], 0.2);
}

#[test]
fn a_broken_file_lists_every_error_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let strategies = dir.path().join("strategies");
    std::fs::create_dir_all(strategies.join("../templates")).unwrap();
    std::fs::write(dir.path().join("templates/reminder.zh.txt"), "提醒").unwrap();
    std::fs::write(dir.path().join("queues.toml"), "[[queue]]\nname = \"calls\"\n").unwrap();
    let file = strategies.join("bad.toml");
    std::fs::write(
        &file,
        "name = \"bad\"\nversion = 1\neffective_from = \"2026-01-01\"\n\
         [[segment]]\nname = \"all\"\nwhen = 'case.maxdpd > 3'\n\
         [[segment.step]]\nname = \"s1\"\nkind = \"sms\"\ndpd = 1\ntemplate = \"nope\"\n\
         [[segment.step]]\nname = \"s2\"\nkind = \"telegram\"\ndpd = 2\n\
         [[segment.step]]\nname = \"s3\"\nkind = \"call\"\ndpd = 3\nqueue = \"ghosts\"\n",
    )
    .unwrap();
    let out = arrears(&["strategy", "check", s(&file)]);
    assert_eq!(out.status.code(), Some(1), "{}{}", text(&out.stdout), text(&out.stderr));
    let stdout = text(&out.stdout);
    let f = s(&file);
    let want = [
        format!("{f}:6:9: when: unknown field `case.maxdpd`; did you mean `case.max_dpd`?"),
        format!("{f}:11:12: unknown template \"nope\"; known: reminder"),
        format!("{f}:14:8: unknown step kind \"telegram\""),
        format!("{f}:20:9: unknown queue \"ghosts\"; known: calls"),
    ];
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), want.len(), "{stdout}");
    for (line, w) in lines.iter().zip(&want) {
        assert!(line.starts_with(w.as_str()), "want {w}\n got {line}");
    }
    assert!(text(&out.stderr).contains("4 error(s)"));
}

#[test]
fn not_toml_and_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("x.toml");
    std::fs::write(&file, "name = \"x\"\nversion = \n").unwrap();
    let out = arrears(&["strategy", "check", s(&file), "--config", s(&config())]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).starts_with(&format!("{}:2:", s(&file))), "{}", text(&out.stdout));
    let out = arrears(&["strategy", "check", s(&dir.path().join("missing.toml"))]);
    assert_eq!(out.status.code(), Some(2), "an unreadable file is an error, not a finding");
}

#[test]
fn a_template_that_breaks_the_content_rules_cannot_be_used() {
    // A copy of the shipped configuration with one template turned into a threat.
    let dir = tempfile::tempdir().expect("temp dir");
    for sub in ["strategies", "templates"] {
        std::fs::create_dir(dir.path().join(sub)).expect("mkdir");
        for e in std::fs::read_dir(config().join(sub)).expect("config folder") {
            let e = e.expect("entry");
            std::fs::copy(e.path(), dir.path().join(sub).join(e.file_name())).expect("copy");
        }
    }
    std::fs::copy(config().join("queues.toml"), dir.path().join("queues.toml")).expect("copy queues");
    let file = dir.path().join("strategies/default.toml");
    let out = arrears(&["strategy", "check", s(&file)]);
    assert_eq!(out.status.code(), Some(0), "the copy checks clean: {}", text(&out.stdout));
    std::fs::write(
        dir.path().join("templates/reminder_soft.zh.txt"),
        "{name}，再不还钱就打断你的腿，我们知道你家在哪。\n",
    )
    .expect("write template");
    let out = arrears(&["strategy", "check", s(&file)]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let shown = text(&out.stdout);
    assert!(shown.contains("reminder_soft") && shown.contains("content rule"), "{shown}");
    // It names the line of the first step that uses the template.
    let line = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .position(|l| l.contains("\"reminder_soft\""))
        .unwrap()
        + 1;
    assert!(shown.contains(&format!("default.toml:{line}:")), "{shown}");
}
