//! `arrears compliance` as a user meets it: the JSON contract of `scan`, exit codes 0 / 1 / 2, and
//! the evaluation report on the shipped set.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn arrears(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_arrears"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the arrears binary runs");
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn scan_json_follows_the_contract_and_a_block_exits_1() {
    let input = "您好，请于本月20日前还款。\n😀再不还就爆你通讯录\r\n后果自负\nWe will never contact your employer.\n";
    let out = arrears(&["compliance", "scan", "--json"], input);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", text(&out.stderr));
    let lines: Vec<serde_json::Value> =
        text(&out.stdout).lines().map(|l| serde_json::from_str(l).expect("one JSON object a line")).collect();
    assert_eq!(lines.len(), 4);
    for l in &lines {
        let mut keys: Vec<&str> = l.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["findings", "text", "verdict"]);
    }
    // Fields in the order of the contract.
    assert!(text(&out.stdout).lines().all(|l| l.starts_with("{\"text\":")));
    assert_eq!(lines[0]["verdict"], "ok");
    assert_eq!(lines[0]["findings"].as_array().unwrap().len(), 0);
    // The carriage return is not part of the text; the span counts the emoji as one character.
    assert_eq!(lines[1]["text"], "😀再不还就爆你通讯录");
    assert_eq!(lines[1]["verdict"], "block");
    let f = &lines[1]["findings"][0];
    assert_eq!(f["category"], "third_party_disclosure");
    assert_eq!((f["start"].as_u64(), f["end"].as_u64()), (Some(5), Some(10)));
    assert!(f["rule"].as_str().unwrap().starts_with("disclosure."));
    assert_eq!(lines[2]["verdict"], "warn");
    assert_eq!(lines[3]["verdict"], "ok");
}

#[test]
fn scan_of_lawful_text_exits_0_and_a_broken_lexicon_exits_2_naming_its_line() {
    let out = arrears(&["compliance", "scan"], "如您遇到困难，可以申请分期还款。\n");
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("ok "), "{}", text(&out.stdout));

    let dir = tempfile::tempdir().unwrap();
    let lexicon = dir.path().join("bad.toml");
    std::fs::write(
        &lexicon,
        "[context]\nnegation = []\nconsequence = []\ncondition_verbs = []\nreported = []\nown_speech = []\n\n\
         [[rule]]\nid = \"a\"\ncategory = \"rudeness\"\nseverity = \"block\"\ndescription_zh = \"z\"\n\
         description_en = \"e\"\nterms_en = [\"x\"]\n",
    )
    .unwrap();
    let out = arrears(&["compliance", "scan", "--lexicon", lexicon.to_str().unwrap()], "x\n");
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("bad.toml: line 10: unknown category \"rudeness\""), "{err}");
}

#[test]
fn eval_prints_figures_per_category_and_exits_by_the_targets() {
    let out = arrears(&["compliance", "eval"], "");
    assert_eq!(out.status.code(), Some(0), "stdout: {}\nstderr: {}", text(&out.stdout), text(&out.stderr));
    let report = text(&out.stdout);
    for code in ["violence_threat", "third_party_disclosure", "misleading_callback", "held-out", "dev"] {
        assert!(report.contains(code), "{code} missing from\n{report}");
    }

    // A set the rules cannot meet: a violation they do not know, so recall is 0.
    let dir = tempfile::tempdir().unwrap();
    let set = dir.path().join("set.tsv");
    std::fs::write(&set, "ok\t您好\ninsult\t你真是个不可理喻的家伙\n").unwrap();
    let out = arrears(&["compliance", "eval", set.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(text(&out.stderr).contains("targets missed"));

    std::fs::write(&set, "ok\t您好\nrudeness\tx\n").unwrap();
    let out = arrears(&["compliance", "eval", set.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("line 2: unknown label"), "{}", text(&out.stderr));
}
