use std::sync::OnceLock;

use super::*;

fn scanner() -> &'static Scanner {
    static S: OnceLock<Scanner> = OnceLock::new();
    S.get_or_init(Scanner::default)
}

fn categories(text: &str) -> Vec<Category> {
    let mut c: Vec<Category> = scanner().scan(text).findings.iter().map(|f| f.category).collect();
    c.dedup();
    c
}

use Category::*;

/// Per category: violations in both languages that must be found, and lawful sentences on the same
/// subject (negated, quoted, reported, truthful) that must pass.
const CASES: &[(Category, &[&str], &[&str])] = &[
    (
        ViolenceThreat,
        &["再不还钱，我找人打断你的腿。", "Pay up or we'll break your legs."],
        &["我们不会使用任何暴力手段。", "客户说上次有人威胁要打断他的腿。", "This is not a threat."],
    ),
    (
        FalseArrestClaim,
        &["欠款不还，警察马上来抓你。", "You will be arrested tomorrow."],
        &[
            "欠款本身不构成犯罪。",
            "Failure to pay will not result in arrest.",
            "判决生效后，债权人可以依法申请强制执行。",
        ],
    ),
    (
        Impersonation,
        &["我是派出所的民警。", "This is the police department calling."],
        &["我们不是警察，也不是法院。", "We are not the police and cannot arrest anyone."],
    ),
    (
        Insult,
        &["你这个老赖真不要脸。", "You're a worthless deadbeat."],
        &["客户骂我是骗子后挂断。", "Customer said the last agent called him an idiot.", "猪肉价格上涨了。"],
    ),
    (
        ThirdPartyDisclosure,
        &["再不还就爆你通讯录。", "We will tell your boss about your debt."],
        &[
            "我们不会向第三方透露您的欠款。",
            "We will never contact your employer.",
            "客户说“别再打给我老板了”。",
        ],
    ),
    (
        PublicShaming,
        &["明天把你的照片发到朋友圈曝光。", "We will post your name on social media."],
        &[
            "我们不会在朋友圈或任何公开渠道曝光您的信息。",
            "We will not post anything about your debt online.",
        ],
    ),
    (
        FalseLegalConsequence,
        &["不还钱你孩子以后不能考公务员。", "Your passport will be revoked."],
        &["您的逾期信息将如实报送征信系统。", "Late payments may affect your credit score."],
    ),
    (
        BorrowToRepay,
        &["你去网贷平台借一下先还我们。", "Get a payday loan and pay us today."],
        &["请不要借新还旧，有困难可以协商。", "客户说他会卖掉自己的旧车来还款。"],
    ),
    (
        InventedFeeOrPersonalAccount,
        &["请把钱转到我个人银行卡。", "Pay to my personal account and I'll waive the fees."],
        &["请勿将还款转入任何个人账户。", "We never ask you to pay into a personal account."],
    ),
    (
        PrivateDataMisuse,
        &["我们已经读取了你手机里的通讯录和短信。", "We tracked your location through the app."],
        &["我们不会泄露或滥用您的个人信息。", "We do not sell or share your personal data."],
    ),
    (
        FamilyThreat,
        &["我们知道你女儿在哪个学校，放学去找她。", "We know which school your daughter goes to."],
        &["我们不会威胁您，也不会恐吓您的家人。", "客户说家里孩子生病住院，申请延期。"],
    ),
    (
        MisleadingCallback,
        &["恭喜您中奖了，请回电领取奖品。", "You have won a prize, call us back to claim it."],
        &["请您在方便的时候回电，我们将为您介绍还款方案。", "Please call us back about your account."],
    ),
];

#[test]
fn each_category_finds_violations_in_both_languages() {
    for (cat, bad, _) in CASES {
        for text in *bad {
            let scan = scanner().scan(text);
            assert!(categories(text).contains(cat), "{cat:?} not found in {text:?}: {scan:?}");
            assert_ne!(scan.verdict, Verdict::Ok, "{text}");
        }
    }
}

#[test]
fn negated_quoted_and_reported_language_passes() {
    for (cat, _, good) in CASES {
        for text in *good {
            let scan = scanner().scan(text);
            assert_eq!(scan.verdict, Verdict::Ok, "{cat:?}: {text:?} flagged: {scan:?}");
        }
    }
}

#[test]
fn every_category_has_cases() {
    for c in Category::ALL {
        assert!(CASES.iter().any(|(k, _, _)| *k == c), "{c:?} has no test cases");
    }
}

#[test]
fn a_condition_on_the_debtor_is_not_a_negation() {
    // "没钱" and "don't pay" are conditions; the threat that follows them stands.
    assert!(categories("没钱就去把车卖了还钱。").contains(&BorrowToRepay));
    assert!(categories("If you don't pay we will tell your boss.").contains(&ThirdPartyDisclosure));
    // The same words negated directly pass.
    assert!(categories("我们不建议您卖车还钱。").is_empty());
}

#[test]
fn reported_speech_ends_where_the_collector_speaks_again() {
    assert!(categories("客户说没钱，我告诉他不还就爆他通讯录。").contains(&ThirdPartyDisclosure));
    assert!(categories("客户说没钱。").is_empty());
}

#[test]
fn a_salutation_is_not_a_reported_subject() {
    assert!(categories("客户您好，再不还钱就打断你的腿。").contains(&ViolenceThreat));
    assert!(categories("Customer plans to sell his boat to pay; we did not ask.").is_empty());
}

#[test]
fn chinese_terms_match_only_on_word_boundaries() {
    // 猪 is an insult on its own but not inside 猪肉; 滚 not inside 滚动.
    assert!(categories("你是猪吗？").contains(&Insult));
    assert!(categories("今天的猪肉很新鲜。").is_empty());
    assert!(categories("页面可以滚动查看还款明细。").is_empty());
}

#[test]
fn english_terms_match_only_on_word_boundaries() {
    assert!(categories("You liar.").contains(&Insult));
    assert!(categories("The earliest date is Monday.").is_empty()); // not "liar" or "arrest"
    assert!(categories("Please see the Shitake menu.").is_empty());
}

#[test]
fn titles_of_laws_are_not_speech() {
    assert!(categories("依据《关于严禁暴力催收、威胁拘留的通知》办理。").is_empty());
}

#[test]
fn spans_are_in_characters_across_chinese_english_and_emoji() {
    // 😀 is one character and four bytes; spans must count it as one.
    let text = "😀Hi 张三，再不还钱就爆你通讯录 ok";
    let scan = scanner().scan(text);
    let f = scan.findings.iter().find(|f| f.category == ThirdPartyDisclosure).expect("found");
    let chars: Vec<char> = text.chars().collect();
    let got: String = chars[f.start..f.end].iter().collect();
    assert_eq!(got, "爆你通讯录");
    assert_eq!((f.start, f.end), (12, 17));
    let text = "👨‍👩‍👧 you idiot";
    let f = &scanner().scan(text).findings[0];
    let got: String = text.chars().skip(f.start).take(f.end - f.start).collect();
    assert_eq!(got, "idiot");
    assert_eq!(f.end, text.chars().count());
}

#[test]
fn verdict_is_the_worst_severity() {
    assert_eq!(scanner().scan("您好，请按时还款。").verdict, Verdict::Ok);
    // violence.menace is a warning, bodily harm blocks.
    assert_eq!(scanner().scan("你等着瞧。后果自负").verdict, Verdict::Warn);
    assert_eq!(scanner().scan("后果自负，我找人打断你的腿").verdict, Verdict::Block);
    let json = serde_json::to_value(scanner().scan("后果自负")).unwrap();
    assert_eq!(json["verdict"], "warn");
    assert_eq!(json["findings"][0]["category"], "violence_threat");
    assert_eq!(json["findings"][0]["rule"], "violence.menace");
    assert_eq!(json["findings"][0]["start"], 0);
    assert_eq!(json["findings"][0]["end"], 4);
}

#[test]
fn overlapping_matches_of_one_category_make_one_finding() {
    let scan = scanner().scan("打断你的腿");
    assert_eq!(scan.findings.len(), 1, "{scan:?}");
    assert_eq!((scan.findings[0].start, scan.findings[0].end), (0, 5));
}

#[test]
fn empty_and_odd_input_does_not_panic() {
    for text in ["", " ", "\n", "《", "》《", "“", "，，，", "a", "😀", "62", "\u{0}"] {
        assert_eq!(scanner().scan(text).verdict, Verdict::Ok, "{text:?}");
    }
}

#[test]
fn every_prefix_and_suffix_of_real_texts_scans_with_spans_inside_the_text() {
    // Cuts at every character boundary put cues, quotes and terms at the very edges of the text.
    let examples = eval::parse(DEFAULT_EVAL_SET).unwrap();
    for ex in examples.iter().step_by(5) {
        for (i, _) in ex.text.char_indices() {
            for part in [&ex.text[..i], &ex.text[i..]] {
                let n = part.chars().count();
                for f in scanner().scan(part).findings {
                    assert!(f.start < f.end && f.end <= n, "{f:?} outside {part:?}");
                }
            }
        }
    }
}

#[test]
fn the_default_lexicon_names_every_category_once_or_more() {
    for c in Category::ALL {
        assert!(scanner().rules().iter().any(|r| r.category == c), "no rule for {c:?}");
        assert_eq!(Category::from_code(c.code()), Some(c));
    }
    assert!(scanner().rule("violence.bodily_harm").is_some());
}

const CONTEXT: &str = "[context]\nnegation = [\"不会\", \"not\"]\nconsequence = []\ncondition_verbs = []\nreported = []\nown_speech = []\n";

#[test]
fn a_small_lexicon_from_a_string_works() {
    let src = format!(
        "{CONTEXT}\n[[rule]]\nid = \"x.one\"\ncategory = \"insult\"\nseverity = \"warn\"\ndescription_zh = \"测试\"\n\
         description_en = \"test\"\nterms_zh = [\"坏蛋\"]\nterms_en = [\"rascal\"]\npatterns = ['\\d{{3}}-bad']\n"
    );
    let s = Scanner::from_toml(&src).unwrap();
    assert_eq!(s.scan("你这个坏蛋").verdict, Verdict::Warn);
    assert_eq!(s.scan("You RASCAL").findings[0].rule, "x.one");
    assert_eq!(s.scan("code 123-bad").findings.len(), 1);
    assert_eq!(s.scan("我不会说你是坏蛋").verdict, Verdict::Ok);
}

#[test]
fn lexicon_errors_name_their_line() {
    let rule = |body: &str| format!("{CONTEXT}\n[[rule]]\n{body}");
    let ok_head = "id = \"a\"\ncategory = \"insult\"\nseverity = \"block\"\ndescription_zh = \"z\"\ndescription_en = \"e\"\n";
    // Lines: CONTEXT is 6 lines, then a blank line, then [[rule]] on 8, id on 9 … description_en on 13.
    let cases: Vec<(String, usize, &str)> = vec![
        (
            rule(&ok_head.replace("insult", "rudeness")).replace("terms", "x") + "terms_en = [\"x\"]\n",
            10,
            "unknown category",
        ),
        (rule(&ok_head.replace("block", "maybe")) + "terms_en = [\"x\"]\n", 11, "unknown severity"),
        (rule(ok_head) + "patterns = ['(unclosed']\n", 14, "not a valid regular expression"),
        (rule(ok_head), 9, "no terms_zh"),
        (rule(ok_head) + "patterns_zh = [\"[\"]\n", 14, "not a valid regular expression"),
        (rule(ok_head) + "terms_en = [\"  \"]\n", 14, "a term is empty"),
        (
            rule(ok_head)
                + "terms_en = [\"x\"]\n"
                + &rule(ok_head).replace(CONTEXT, "")
                + "terms_en = [\"y\"]\n",
            17,
            "used twice",
        ),
        (rule(ok_head) + "terms_en = [\"x\"\n", 14, ""),
        (rule(ok_head) + "colour = \"red\"\n", 14, "unknown field"),
        ("[context]\nnegation = 3\n".to_string(), 2, ""),
    ];
    for (src, line, what) in cases {
        let err = Scanner::from_toml(&src).expect_err(&src);
        let msg = err.to_string();
        assert!(msg.starts_with(&format!("line {line}:")), "expected line {line}, got {msg:?} for\n{src}");
        assert!(msg.contains(what), "{msg:?} should say {what:?}");
    }
}

#[test]
fn the_shipped_eval_set_meets_the_targets() {
    let examples = eval::parse(DEFAULT_EVAL_SET).unwrap();
    assert!(examples.len() >= 300, "{} lines", examples.len());
    let lawful = examples.iter().filter(|e| e.labels.is_empty()).count();
    assert!(lawful * 3 >= examples.len(), "only {lawful} lawful lines");
    assert!(examples.iter().any(|e| e.held_out));
    for c in Category::ALL {
        assert!(examples.iter().filter(|e| e.labels.contains(&c)).count() >= 10, "few examples of {c:?}");
    }
    let report = eval::evaluate(scanner(), &examples);
    assert!(
        report.meets_targets(),
        "recall {:?} FPR {:?}; misses: {:#?}",
        report.recall(),
        report.false_positive_rate(),
        report.misses
    );
}
