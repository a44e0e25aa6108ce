//! Renders N varied Chinese lawyer letters and prints letters/s and the peak RSS.
//! Usage: cargo run --release -p arrears-letters --example bench_letters -- [N]   (default 1000)

use std::time::Instant;

use arrears_letters::{Fonts, Letter, content_digest, render};

const SURNAMES: &[&str] = &["王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "𠮷", "欧阳"];
const GIVEN: &[&str] = &["伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇"];
const CITIES: &[&str] = &["北京市朝阳区", "上海市浦东新区", "广州市天河区", "深圳市南山区", "成都市武侯区"];
const STREETS: &[&str] = &["建国路", "世纪大道", "天河北路", "科技园南路", "人民南路"];
const LENDERS: &[&str] =
    &["北京某某小额贷款有限公司", "上海某某消费金融股份有限公司", "深圳某某融资担保有限公司"];
const FIRMS: &[&str] = &["北京某某律师事务所", "上海某某律师事务所", "广东某某律师事务所"];

/// A small deterministic generator (no dependency needed for a benchmark).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n
    }
}

fn money(cents: u64) -> String {
    let yuan = (cents / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in yuan.chars().enumerate() {
        if i > 0 && (yuan.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{grouped}.{:02} CNY", cents % 100)
}

fn letter(i: usize, rng: &mut Lcg) -> Letter {
    let lender = LENDERS[rng.next(LENDERS.len())];
    let firm = FIRMS[rng.next(FIRMS.len())];
    let name = format!("{}{}", SURNAMES[rng.next(SURNAMES.len())], GIVEN[rng.next(GIVEN.len())]);
    let city = CITIES[rng.next(CITIES.len())];
    let street = STREETS[rng.next(STREETS.len())];
    let days = 30 + rng.next(300);
    let principal = 100_000 + rng.next(20_000_000) as u64;
    let interest = principal / 20 + rng.next(10_000) as u64;
    let penalty = principal / 50;
    let mut paragraphs = vec![
        format!("{firm}受{lender}（以下简称“委托人”）委托，就您与委托人之间的借款合同纠纷一事，特致函如下："),
        format!(
            "根据您于 2025 年 {} 月 {} 日签署的《个人借款合同》（合同编号：LN-2025-{:06}），委托人已依约向您发放借款。截至本函出具之日，您已逾期 {days} 天，尚欠款项明细见下表。",
            1 + rng.next(12),
            1 + rng.next(28),
            i
        ),
        "请您在收到本函之日起七日内，将上述欠款全额支付至委托人指定账户。逾期未付的，委托人将依法向有管辖权的人民法院提起诉讼，由此产生的诉讼费、保全费、律师费等一切费用均由您承担。".into(),
    ];
    if rng.next(3) == 0 {
        paragraphs.push("如您已还款，请忽略本函并联系我们核对。If you have already paid, please disregard this letter and contact us with your payment receipt.".into());
    }
    let mut l = Letter {
        letterhead: vec![
            lender.into(),
            format!("地址：{city}{street} {} 号", 1 + rng.next(300)),
            "电话 / Tel: 400-800-8888".into(),
        ],
        reference: format!("MSG-20261207-{i:06}"),
        date: "2026-12-07".into(),
        recipient: vec![
            format!("{name} 先生/女士"),
            format!("{city}{street} {} 号 {} 室", 1 + rng.next(500), 101 + rng.next(2000)),
        ],
        title: "律师函".into(),
        paragraphs,
        amounts: vec![
            ("逾期本金 / Overdue principal".into(), money(principal)),
            ("逾期利息 / Interest".into(), money(interest)),
            ("罚息 / Penalty interest".into(), money(penalty)),
            ("合计 / Total".into(), money(principal + interest + penalty)),
        ],
        closing: vec![firm.into(), "律师：王某某".into(), "2026 年 12 月 7 日".into()],
        footer: String::new(),
    };
    l.footer = format!("内容摘要 / Content SHA-256: {}", content_digest(&l));
    l
}

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = match std::env::args().nth(1) {
        Some(s) => s.parse().map_err(|_| format!("N must be a number, not {s:?}"))?,
        None => 1000,
    };
    let t0 = Instant::now();
    let fonts = Fonts::system()?;
    let load = t0.elapsed();
    let mut rng = Lcg(42);
    let letters: Vec<Letter> = (0..n).map(|i| letter(i, &mut rng)).collect();
    let t1 = Instant::now();
    let mut bytes = 0usize;
    for l in &letters {
        bytes += render(l, &fonts)?.len();
    }
    let secs = t1.elapsed().as_secs_f64();
    println!("fonts loaded in {:.0} ms: {:?}", load.as_secs_f64() * 1e3, fonts.labels());
    println!(
        "{n} letters in {secs:.2} s: {:.0} letters/s on one thread, {:.1} KiB per letter",
        n as f64 / secs,
        bytes as f64 / n.max(1) as f64 / 1024.0
    );
    match peak_rss_mib() {
        Some(m) => println!("peak RSS: {m:.0} MiB"),
        None => println!("peak RSS: unknown (no /proc/self/status)"),
    }
    Ok(())
}
