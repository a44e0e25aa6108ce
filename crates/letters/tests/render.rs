//! Renders letters with the machine's fonts (scripts/install-fonts.sh) and reads them back
//! with poppler's tools (pdftotext, pdfinfo, pdftoppm).

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use arrears_letters::{Fonts, Letter, LetterError, content_digest, render};

/// Runs scripts/install-fonts.sh once (it does nothing when the fonts and poppler's tools are
/// there), as the channels' tests install their SMTP server: a fresh machine runs these too.
fn ensure_installed() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/install-fonts.sh");
        match Command::new("bash").arg(&script).status() {
            Ok(s) if s.success() => {}
            other => eprintln!("{} did not finish: {other:?}", script.display()),
        }
    });
}

/// The default fonts, loaded once for all tests (about 70 MB of font files).
fn fonts() -> &'static Fonts {
    static FONTS: OnceLock<Fonts> = OnceLock::new();
    FONTS.get_or_init(|| {
        ensure_installed();
        match Fonts::system() {
            Ok(f) => f,
            Err(e) => panic!("{e}"),
        }
    })
}

/// Whether a poppler tool is installed; if not, says so (the test then skips its check).
fn have(tool: &str) -> bool {
    ensure_installed();
    let ok = Command::new(tool).arg("-v").output().is_ok();
    if !ok {
        eprintln!("SKIPPED: {tool} is not installed (Debian poppler-utils; run scripts/install-fonts.sh)");
    }
    ok
}

fn chinese_letter() -> Letter {
    let mut l = Letter {
        letterhead: vec![
            "北京某某小额贷款有限公司".into(),
            "地址：北京市朝阳区建国路 88 号现代城 A 座 1201 室".into(),
            "电话 / Tel: 010-8888 6666".into(),
        ],
        reference: "MSG-20261207-000123".into(),
        date: "2026-12-07".into(),
        recipient: vec![
            "𠮷祥 先生（身份证号尾号 1234）".into(),
            "上海市浦东新区世纪大道 100 号𪛖园小区 3 栋 502 室".into(),
        ],
        title: "律师函".into(),
        paragraphs: vec![
            "北京某某律师事务所受北京某某小额贷款有限公司（以下简称“委托人”）委托，就您与委托人之间的借款合同纠纷一事，特致函如下：".into(),
            "根据您于 2025 年 3 月 15 日签署的《个人借款合同》（合同编号：LN-2025-0315-7788），委托人已向您发放借款人民币 50,000.00 元。截至本函出具之日，您已逾期 97 天，尚欠款项明细见下表。".into(),
            "请您在收到本函之日起七日内，将上述欠款全额支付至委托人指定账户。逾期未付的，委托人将依法向有管辖权的人民法院提起诉讼，由此产生的诉讼费、律师费等一切费用均由您承担。".into(),
            "If you have already paid, please disregard this letter and contact us at 010-8888 6666 with your payment receipt.".into(),
        ],
        amounts: vec![
            ("逾期本金 / Overdue principal".into(), "12,345.67 CNY".into()),
            ("逾期利息 / Interest".into(), "1,234.56 CNY".into()),
            ("罚息 / Penalty interest".into(), "234.50 CNY".into()),
            ("合计 / Total".into(), "13,814.73 CNY".into()),
        ],
        closing: vec!["北京某某律师事务所".into(), "律师：王某某".into(), "2026 年 12 月 7 日".into()],
        footer: String::new(),
    };
    l.footer = format!("内容摘要 / Content SHA-256: {}", content_digest(&l));
    l
}

fn english_letter() -> Letter {
    let mut l = Letter {
        letterhead: vec![
            "Example Consumer Finance Ltd.".into(),
            "12 Harbour Road, Wan Chai, Hong Kong".into(),
            "Tel: +852 2345 6789".into(),
        ],
        reference: "MSG-EN-42".into(),
        date: "2026-12-07".into(),
        recipient: vec!["Mr. John Smith".into(), "Flat 5B, 8 Queen's Road Central".into()],
        title: "Demand for payment".into(),
        paragraphs: vec![
            "We write regarding loan agreement LN-2025-0042 dated 15 March 2025. Despite our earlier reminders, the instalments due since 1 September 2026 remain unpaid.".into(),
            "Please pay the outstanding balance set out below within seven days of the date of this letter. If payment is not received, we may take legal action without further notice.".into(),
        ],
        amounts: vec![
            ("Outstanding principal".into(), "8,000.00 HKD".into()),
            ("Interest".into(), "412.30 HKD".into()),
            ("Total".into(), "8,412.30 HKD".into()),
        ],
        closing: vec!["Yours faithfully,".into(), "Collections Department".into()],
        footer: String::new(),
    };
    l.footer = format!("Content SHA-256: {}", content_digest(&l));
    l
}

fn write_pdf(dir: &Path, name: &str, letter: &Letter) -> std::path::PathBuf {
    let pdf = render(letter, fonts()).unwrap_or_else(|e| panic!("render failed: {e}"));
    assert!(pdf.starts_with(b"%PDF-"), "not a PDF");
    let path = dir.join(name);
    std::fs::write(&path, &pdf).expect("write the PDF");
    path
}

fn pdftotext(path: &Path) -> String {
    let out = Command::new("pdftotext").args(["-enc", "UTF-8"]).arg(path).arg("-").output();
    let out = out.expect("run pdftotext");
    assert!(out.status.success(), "pdftotext failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("pdftotext gives UTF-8")
}

fn pages(path: &Path) -> usize {
    let out = Command::new("pdfinfo").arg(path).output().expect("run pdfinfo");
    assert!(out.status.success(), "pdfinfo failed: {}", String::from_utf8_lossy(&out.stderr));
    let info = String::from_utf8_lossy(&out.stdout);
    info.lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no page count in pdfinfo output:\n{info}"))
}

/// Text without any whitespace, so that line breaks and justification do not matter.
fn squeeze(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

/// Counts the page objects in the file (the dictionaries are not compressed).
fn page_objects(pdf: &[u8]) -> usize {
    pdf.windows(b"/Type /Page\n".len()).filter(|w| w == b"/Type /Page\n").count()
        + pdf.windows(b"/Type /Page/".len()).filter(|w| w == b"/Type /Page/").count()
        + pdf.windows(b"/Type /Page ".len()).filter(|w| w == b"/Type /Page ").count()
}

#[test]
fn chinese_lawyer_letter_with_rare_characters_round_trips_through_pdftotext() {
    let dir = tempfile::tempdir().expect("temp dir");
    let letter = chinese_letter();
    let path = write_pdf(dir.path(), "lawyer.pdf", &letter);
    let pdf = std::fs::read(&path).expect("read back");
    // Noto Sans CJK (CFF) and HanaMinB (TrueType, for 𪛖 U+2A6D6) are both embedded as subsets.
    let text = String::from_utf8_lossy(&pdf);
    assert!(text.contains("/CIDFontType0C"), "no CFF font program embedded");
    assert!(text.contains("/FontFile2"), "the TrueType fallback font is not embedded");
    assert!(text.contains("/ToUnicode"));
    assert!(text.contains("/Identity-H"));
    assert!(pdf.len() < 400_000, "subset fonts should keep the letter small: {} bytes", pdf.len());
    if !have("pdftotext") {
        return;
    }
    let got = squeeze(&pdftotext(&path));
    for want in [
        "律师函",
        "北京某某小额贷款有限公司",
        "𠮷祥",
        "𪛖园小区",
        "编号/Ref:MSG-20261207-000123",
        "日期/Date:2026-12-07",
        "逾期本金/Overdueprincipal",
        "12,345.67CNY",
        "1,234.56CNY",
        "13,814.73CNY",
        "律师：王某某",
        "第1/1页·Page1of1",
    ] {
        assert!(got.contains(want), "{want:?} not in the extracted text:\n{got}");
    }
    for p in &letter.paragraphs {
        assert!(got.contains(&squeeze(p)), "paragraph not extracted whole:\n{p}\n---\n{got}");
    }
    assert!(got.contains(&content_digest(&letter)), "the digest line is missing");
}

#[test]
fn english_demand_letter_renders() {
    let dir = tempfile::tempdir().expect("temp dir");
    let letter = english_letter();
    let path = write_pdf(dir.path(), "demand.pdf", &letter);
    if !have("pdftotext") {
        return;
    }
    let raw = pdftotext(&path);
    assert!(raw.contains("Demand for payment"), "{raw}");
    assert!(raw.contains("Example Consumer Finance Ltd."), "{raw}");
    // Latin words are kept whole, separated by spaces, and lines break only at spaces.
    let words = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    for p in &letter.paragraphs {
        assert!(words.contains(p.as_str()), "paragraph not extracted word by word:\n{p}\n---\n{raw}");
    }
    let got = squeeze(&raw);
    for want in ["Outstandingprincipal", "8,000.00HKD", "8,412.30HKD", "Yoursfaithfully,", "Page1of1"] {
        assert!(got.contains(want), "{want:?} not in the extracted text:\n{raw}");
    }
    for p in &letter.paragraphs {
        assert!(got.contains(&squeeze(p)), "paragraph not extracted whole:\n{p}\n---\n{raw}");
    }
}

#[test]
fn long_letter_spills_onto_more_pages_with_numbered_footers() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut letter = chinese_letter();
    let base = letter.paragraphs.clone();
    for i in 0..12 {
        for p in &base {
            letter.paragraphs.push(format!("（{}）{p}", i + 1));
        }
    }
    letter.footer = format!("SHA-256: {}", content_digest(&letter));
    let path = write_pdf(dir.path(), "long.pdf", &letter);
    let pdf = std::fs::read(&path).expect("read back");
    let objects = page_objects(&pdf);
    assert!(objects >= 2, "expected 2+ page objects, found {objects}");
    if !have("pdfinfo") || !have("pdftotext") {
        return;
    }
    let n = pages(&path);
    assert_eq!(n, objects);
    assert!(n >= 2, "a letter of {} paragraphs fit on {n} page", letter.paragraphs.len());
    let mut got = squeeze(&pdftotext(&path));
    assert_eq!(got.matches(&content_digest(&letter)).count(), n, "the footer is not on every page");
    let reference = squeeze(&format!("编号 / Ref: {}", letter.reference));
    assert_eq!(got.matches(&reference).count(), n, "continuation pages should repeat the reference");
    // Without the footers and page headers, every paragraph comes back whole, even those
    // split over a page break.
    got = got.replace(&squeeze(&letter.footer), "").replace(&reference, "");
    for k in 1..=n {
        let want = format!("第{k}/{n}页·Page{k}of{n}");
        assert!(got.contains(&want), "{want} missing");
        got = got.replace(&want, "");
    }
    for p in &letter.paragraphs {
        assert!(got.contains(&squeeze(p)), "paragraph lost:\n{p}");
    }
}

#[test]
fn rendering_is_deterministic_and_the_digest_follows_the_body() {
    let letter = chinese_letter();
    let a = render(&letter, fonts()).expect("render");
    let b = render(&letter, fonts()).expect("render");
    assert!(a == b, "two renderings of the same letter differ");
    let mut other = letter.clone();
    other.paragraphs[1] = other.paragraphs[1].replace("97", "98");
    assert_ne!(content_digest(&other), content_digest(&letter));
    other.footer = format!("内容摘要 / Content SHA-256: {}", content_digest(&other));
    let c = render(&other, fonts()).expect("render");
    assert!(a != c, "a different body gave the same PDF");
}

#[test]
fn a_character_in_no_font_is_an_error_that_names_it() {
    let mut letter = english_letter();
    // U+30000 (CJK Extension G) is in none of the default fonts.
    letter.paragraphs[1] = "Pay now \u{30000} please.".into();
    let err = render(&letter, fonts()).expect_err("rendered a character no font has");
    match &err {
        LetterError::MissingGlyph { ch, code, field, .. } => {
            assert_eq!(*ch, '\u{30000}');
            assert_eq!(*code, 0x30000);
            assert_eq!(field, "paragraph 2");
        }
        other => panic!("wrong error: {other}"),
    }
    let msg = err.to_string();
    assert!(msg.contains("U+30000") && msg.contains('\u{30000}') && msg.contains("paragraph 2"), "{msg}");
}

#[test]
fn first_page_rasterizes_with_pdftoppm() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = write_pdf(dir.path(), "lawyer.pdf", &chinese_letter());
    if !have("pdftoppm") {
        return;
    }
    let prefix = dir.path().join("page");
    let out = Command::new("pdftoppm")
        .args(["-png", "-r", "50", "-f", "1", "-l", "1"])
        .arg(&path)
        .arg(&prefix)
        .output()
        .expect("run pdftoppm");
    assert!(out.status.success(), "pdftoppm failed: {}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stderr.is_empty(), "pdftoppm complained: {}", String::from_utf8_lossy(&out.stderr));
    let png = dir.path().join("page-1.png");
    let bytes = std::fs::read(&png).unwrap_or_else(|e| panic!("{} not produced: {e}", png.display()));
    assert!(bytes.starts_with(b"\x89PNG"), "not a PNG");
    // A4 at 50 dpi is about 413 × 585 pixels (width and height are big-endian at offsets 16 and 20).
    let w = u32::from_be_bytes([bytes[16], bytes[17], bytes[18], bytes[19]]);
    let h = u32::from_be_bytes([bytes[20], bytes[21], bytes[22], bytes[23]]);
    assert!((413..=414).contains(&w) && (584..=585).contains(&h), "{w} × {h} pixels");
    if let Some(keep) = std::env::var_os("LETTERS_KEEP_PNG") {
        std::fs::copy(&png, keep).expect("copy the PNG");
    }
}

#[test]
fn empty_letter_and_unbreakable_text_still_render() {
    // Nothing but a footer: one page, no panic.
    let empty = Letter { footer: "x".into(), ..Letter::default() };
    let pdf = render(&empty, fonts()).expect("an empty letter renders");
    assert_eq!(page_objects(&pdf), 1);

    // A token longer than a line (no space, no CJK) is broken anywhere rather than overflowing.
    let dir = tempfile::tempdir().expect("temp dir");
    let mut letter = english_letter();
    let token: String = (0..40).map(|i| format!("ACCT{i:03}")).collect();
    letter.paragraphs.push(format!("Account: {token} end."));
    let path = write_pdf(dir.path(), "token.pdf", &letter);
    if !have("pdftotext") {
        return;
    }
    let raw = pdftotext(&path);
    assert!(squeeze(&raw).contains(&token), "the long token was lost:\n{raw}");
    let longest = raw.lines().map(|l| l.chars().count()).max().unwrap_or(0);
    assert!(longest < 140, "a line of {longest} characters overflows the page:\n{raw}");
}
