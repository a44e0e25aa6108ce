//! Writes a sample Chinese lawyer letter (律师函) to the given path (default letter.pdf).
//! Usage: cargo run -p arrears-letters --example render_letter -- out.pdf

use arrears_letters::{Fonts, Letter, content_digest, render};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args().nth(1).unwrap_or_else(|| "letter.pdf".into());
    let fonts = Fonts::system()?;
    let mut letter = Letter {
        letterhead: vec![
            "北京某某小额贷款有限公司".into(),
            "地址：北京市朝阳区建国路 88 号现代城 A 座 1201 室".into(),
            "电话 / Tel: 010-8888 6666".into(),
        ],
        reference: "MSG-20261207-000123".into(),
        date: "2026-12-07".into(),
        recipient: vec!["𠮷祥 先生（身份证号尾号 1234）".into(), "上海市浦东新区世纪大道 100 号𪛖园小区 3 栋 502 室".into()],
        title: "律师函 / Lawyer's letter".into(),
        paragraphs: vec![
            "北京某某律师事务所受北京某某小额贷款有限公司（以下简称“委托人”）委托，就您与委托人之间的借款合同纠纷一事，特致函如下：".into(),
            "根据您于 2025 年 3 月 15 日签署的《个人借款合同》（合同编号：LN-2025-0315-7788），委托人已向您发放借款人民币 50,000.00 元。截至本函出具之日，您已逾期 97 天，尚欠款项明细见下表。".into(),
            "If you have already paid, please disregard this letter and contact us at 010-8888 6666 with your payment receipt.".into(),
        ],
        amounts: vec![
            ("逾期本金 / Overdue principal".into(), "12,345.67 CNY".into()),
            ("合计 / Total".into(), "12,345.67 CNY".into()),
        ],
        closing: vec!["北京某某律师事务所".into(), "律师：王某某".into(), "2026 年 12 月 7 日".into()],
        footer: String::new(),
    };
    letter.footer = format!("内容摘要 / Content SHA-256: {}", content_digest(&letter));
    std::fs::write(&out, render(&letter, &fonts)?)?;
    println!("wrote {out}");
    Ok(())
}
