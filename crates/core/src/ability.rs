//! Repayment ability (还款能力): ratios from a company's financial statements and
//! figures from an individual's behaviour over the loan book.
//!
//! Every figure carries the inputs it was computed from and the period it speaks of,
//! so that whoever reads it (a risk analyst, an alert, a regulator) can redo the sum.
//! A figure that cannot be computed (a zero denominator, no earlier period, data the
//! book does not hold) is still returned, with no value and the reason why: an absent
//! figure must never look like a zero.

use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::Amount;

/// Decimal places a ratio is rounded to (half-up, once, after the exact division).
pub const RATIO_SCALE: u32 = 4;

/// One financial statement of a company, amounts in minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Statement {
    /// Last day of the period the statement covers.
    pub period_end: NaiveDate,
    /// 流动资产: current assets at the period end.
    pub current_assets: Amount,
    /// 流动负债: current liabilities at the period end.
    pub current_liabilities: Amount,
    /// 存货: inventory at the period end, left out of the quick ratio.
    pub inventory: Amount,
    /// 总资产: total assets at the period end.
    pub total_assets: Amount,
    /// 总负债: total liabilities at the period end.
    pub total_liabilities: Amount,
    /// 营业收入 of the period.
    pub revenue: Amount,
    /// 净利润 of the period.
    pub net_income: Amount,
    /// 经营活动现金流量净额 of the period.
    pub operating_cash_flow: Amount,
}

/// A value a figure was computed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputValue {
    /// Money in minor units (the caller knows the currency).
    Money(Amount),
    /// A count (installments, promises).
    Count(i64),
    /// A number of days (days from due dates to settlement, say).
    Days(i64),
    /// A ratio computed earlier (the previous period's quick ratio, say).
    Ratio(Decimal),
}

/// One named input of a figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Input {
    /// Code of the input (`current_assets`, `installments_due`, …).
    pub name: &'static str,
    /// Its value.
    pub value: InputValue,
    /// The period it belongs to, when it comes from a statement.
    pub period_end: Option<NaiveDate>,
}

/// Why a figure has no value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// The named denominator is zero.
    ZeroDenominator(&'static str),
    /// No statement ends on or before the date.
    NoStatement,
    /// Only one statement: a change between periods needs two.
    NoPreviousPeriod,
    /// Nothing of the kind has happened yet (no installment due, no promise judged).
    NoEvents(&'static str),
    /// The book does not record what the figure needs.
    NotRecorded(&'static str),
}

impl Missing {
    /// Why, in Chinese.
    pub fn zh(&self) -> String {
        match self {
            Missing::ZeroDenominator(d) => format!("无法计算：分母 {d} 为零"),
            Missing::NoStatement => "无法计算：该日期前没有财务报表".into(),
            Missing::NoPreviousPeriod => "无法计算：只有一期报表，没有上一期可比".into(),
            Missing::NoEvents(what) => format!("无法计算：尚无{}", events_zh(what)),
            Missing::NotRecorded(what) => format!("无法计算：系统未记录{}", recorded_zh(what)),
        }
    }

    /// Why, in English.
    pub fn en(&self) -> String {
        match self {
            Missing::ZeroDenominator(d) => format!("not computable: the denominator {d} is zero"),
            Missing::NoStatement => {
                "not computable: no financial statement ends on or before the date".into()
            }
            Missing::NoPreviousPeriod => {
                "not computable: only one statement, no earlier period to compare with".into()
            }
            Missing::NoEvents(what) => format!("not computable: no {what} yet"),
            Missing::NotRecorded(what) => format!("not computable: the book does not record {what}"),
        }
    }
}

fn events_zh(what: &str) -> &str {
    match what {
        "installments due" => "到期分期",
        "paid installments" => "已结清分期",
        "judged promises" => "已判定的还款承诺",
        _ => what,
    }
}

fn recorded_zh(what: &str) -> &str {
    match what {
        "credit limits" => "授信额度",
        _ => what,
    }
}

/// One figure with its explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Figure {
    /// Code (`current_ratio`, `payment_regularity`, …).
    pub code: &'static str,
    /// The value, rounded to [`RATIO_SCALE`] places; `None` when it cannot be computed.
    pub value: Option<Decimal>,
    /// How it is computed, as a formula over the input codes.
    pub formula: &'static str,
    /// The inputs with their values.
    pub inputs: Vec<Input>,
    /// The period the figure speaks of (a statement's end, or the business date).
    pub period_end: Option<NaiveDate>,
    /// Why there is no value.
    pub missing: Option<Missing>,
}

impl Figure {
    /// The figure's name in Chinese.
    pub fn name_zh(&self) -> &'static str {
        match self.code {
            "current_ratio" => "流动比率",
            "quick_ratio" => "速动比率",
            "quick_ratio_change" => "速动比率变动",
            "debt_to_assets" => "资产负债率",
            "net_margin" => "净利率",
            "ocf_to_current_liabilities" => "经营现金流/流动负债",
            "revenue_growth" => "营业收入增长率",
            "payment_regularity" => "按期还款率",
            "partial_payment_share" => "部分还款占比",
            "avg_days_due_to_payment" => "到期至还款平均天数",
            "promise_keep_rate" => "承诺履约率",
            "utilisation" => "额度使用率",
            _ => self.code,
        }
    }
}

fn money(name: &'static str, a: Amount, period: NaiveDate) -> Input {
    Input { name, value: InputValue::Money(a), period_end: Some(period) }
}

fn count(name: &'static str, n: i64) -> Input {
    Input { name, value: InputValue::Count(n), period_end: None }
}

/// `num / den` rounded half-up to [`RATIO_SCALE`] places, or why not.
fn ratio(num: i128, den: i128, den_name: &'static str) -> Result<Decimal, Missing> {
    if den == 0 {
        return Err(Missing::ZeroDenominator(den_name));
    }
    // Amounts are i64 minor units, so both fit a Decimal (96-bit mantissa) exactly.
    let (n, d) = (Decimal::from_i128_with_scale(num, 0), Decimal::from_i128_with_scale(den, 0));
    n.checked_div(d)
        .map(|q| q.round_dp_with_strategy(RATIO_SCALE, rust_decimal::RoundingStrategy::MidpointAwayFromZero))
        .ok_or(Missing::ZeroDenominator(den_name))
}

fn figure(
    code: &'static str,
    formula: &'static str,
    inputs: Vec<Input>,
    period_end: Option<NaiveDate>,
    r: Result<Decimal, Missing>,
) -> Figure {
    let (value, missing) = match r {
        Ok(v) => (Some(v), None),
        Err(m) => (None, Some(m)),
    };
    Figure { code, value, formula, inputs, period_end, missing }
}

fn i(a: Amount) -> i128 {
    i128::from(a.minor())
}

/// The company figures on `date`: from the latest statement ending on or before it and,
/// for changes, the one before that. `statements` may come in any order.
pub fn company(statements: &[Statement], date: NaiveDate) -> Vec<Figure> {
    let mut known: Vec<&Statement> = statements.iter().filter(|s| s.period_end <= date).collect();
    known.sort_by_key(|s| s.period_end);
    let codes: [(&'static str, &'static str); 7] = [
        ("current_ratio", "current_assets / current_liabilities"),
        ("quick_ratio", "(current_assets - inventory) / current_liabilities"),
        ("debt_to_assets", "total_liabilities / total_assets"),
        ("net_margin", "net_income / revenue"),
        ("ocf_to_current_liabilities", "operating_cash_flow / current_liabilities"),
        ("revenue_growth", "(revenue - previous revenue) / |previous revenue|"),
        ("quick_ratio_change", "(quick_ratio - previous quick_ratio) / |previous quick_ratio|"),
    ];
    let Some(cur) = known.last().copied() else {
        return codes
            .iter()
            .map(|(code, formula)| figure(code, formula, Vec::new(), None, Err(Missing::NoStatement)))
            .collect();
    };
    let prev = known.len().checked_sub(2).map(|k| known[k]);
    let p = cur.period_end;
    let quick = |s: &Statement| {
        ratio(i(s.current_assets) - i(s.inventory), i(s.current_liabilities), "current_liabilities")
    };
    let mut out = vec![
        figure(
            codes[0].0,
            codes[0].1,
            vec![
                money("current_assets", cur.current_assets, p),
                money("current_liabilities", cur.current_liabilities, p),
            ],
            Some(p),
            ratio(i(cur.current_assets), i(cur.current_liabilities), "current_liabilities"),
        ),
        figure(
            codes[1].0,
            codes[1].1,
            vec![
                money("current_assets", cur.current_assets, p),
                money("inventory", cur.inventory, p),
                money("current_liabilities", cur.current_liabilities, p),
            ],
            Some(p),
            quick(cur),
        ),
        figure(
            codes[2].0,
            codes[2].1,
            vec![
                money("total_liabilities", cur.total_liabilities, p),
                money("total_assets", cur.total_assets, p),
            ],
            Some(p),
            ratio(i(cur.total_liabilities), i(cur.total_assets), "total_assets"),
        ),
        figure(
            codes[3].0,
            codes[3].1,
            vec![money("net_income", cur.net_income, p), money("revenue", cur.revenue, p)],
            Some(p),
            ratio(i(cur.net_income), i(cur.revenue), "revenue"),
        ),
        figure(
            codes[4].0,
            codes[4].1,
            vec![
                money("operating_cash_flow", cur.operating_cash_flow, p),
                money("current_liabilities", cur.current_liabilities, p),
            ],
            Some(p),
            ratio(i(cur.operating_cash_flow), i(cur.current_liabilities), "current_liabilities"),
        ),
    ];
    match prev {
        None => {
            out.push(figure(
                codes[5].0,
                codes[5].1,
                vec![money("revenue", cur.revenue, p)],
                Some(p),
                Err(Missing::NoPreviousPeriod),
            ));
            out.push(figure(codes[6].0, codes[6].1, Vec::new(), Some(p), Err(Missing::NoPreviousPeriod)));
        }
        Some(pr) => {
            let q = pr.period_end;
            // A negative base would flip the sign of the change: growth is measured against
            // the size of the earlier figure.
            out.push(figure(
                codes[5].0,
                codes[5].1,
                vec![money("revenue", cur.revenue, p), money("previous revenue", pr.revenue, q)],
                Some(p),
                ratio(i(cur.revenue) - i(pr.revenue), i(pr.revenue).abs(), "previous revenue"),
            ));
            let change = match (quick(cur), quick(pr)) {
                (Ok(now), Ok(before)) => {
                    let inputs = vec![
                        Input { name: "quick_ratio", value: InputValue::Ratio(now), period_end: Some(p) },
                        Input {
                            name: "previous quick_ratio",
                            value: InputValue::Ratio(before),
                            period_end: Some(q),
                        },
                    ];
                    let r = if before.is_zero() {
                        Err(Missing::ZeroDenominator("previous quick_ratio"))
                    } else {
                        (now - before)
                            .checked_div(before.abs())
                            .map(|v| {
                                v.round_dp_with_strategy(
                                    RATIO_SCALE,
                                    rust_decimal::RoundingStrategy::MidpointAwayFromZero,
                                )
                            })
                            .ok_or(Missing::ZeroDenominator("previous quick_ratio"))
                    };
                    (inputs, r)
                }
                (Err(m), _) | (_, Err(m)) => (Vec::new(), Err(m)),
            };
            out.push(figure(codes[6].0, codes[6].1, change.0, Some(p), change.1));
        }
    }
    out
}

/// One installment of an individual's loans as the ledger sees it on the date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstallmentRecord {
    /// Due date.
    pub due_on: NaiveDate,
    /// Principal, interest and fee due.
    pub due: Amount,
    /// Of that, paid by the date.
    pub paid: Amount,
    /// The day it was paid in full, if it was.
    pub settled_on: Option<NaiveDate>,
}

/// An individual's record over the loan book on a date.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Behaviour {
    /// Every installment of every loan (any order).
    pub installments: Vec<InstallmentRecord>,
    /// Promises to pay judged kept.
    pub promises_kept: i64,
    /// Promises to pay judged broken.
    pub promises_broken: i64,
    /// Promises not yet judged.
    pub promises_pending: i64,
    /// Credit limit and the balance drawn on it, when the book records a limit.
    pub credit_line: Option<(Amount, Amount)>,
}

/// The individual figures on `date`. Only installments due before `date` count: one due on
/// the date is due, not yet late.
pub fn individual(b: &Behaviour, date: NaiveDate) -> Vec<Figure> {
    let due: Vec<&InstallmentRecord> = b.installments.iter().filter(|r| r.due_on < date).collect();
    let n = due.len() as i64;
    let on_time = due.iter().filter(|r| r.settled_on.is_some_and(|s| s <= r.due_on)).count() as i64;
    let partial = due.iter().filter(|r| r.paid.minor() > 0 && r.paid < r.due).count() as i64;
    let settled: Vec<i64> =
        due.iter().filter_map(|r| r.settled_on.map(|s| (s - r.due_on).num_days().max(0))).collect();
    let d = Some(date);
    let no_due = Missing::NoEvents("installments due");
    let ratio_or =
        |num: i64, den: i64, m: Missing| if den == 0 { Err(m) } else { ratio(num.into(), den.into(), "") };
    let days_total: i64 = settled.iter().sum();
    let judged = b.promises_kept + b.promises_broken;
    let utilisation = match b.credit_line {
        None => figure(
            "utilisation",
            "balance / credit_limit",
            Vec::new(),
            d,
            Err(Missing::NotRecorded("credit limits")),
        ),
        Some((limit, balance)) => figure(
            "utilisation",
            "balance / credit_limit",
            vec![
                Input { name: "balance", value: InputValue::Money(balance), period_end: d },
                Input { name: "credit_limit", value: InputValue::Money(limit), period_end: d },
            ],
            d,
            ratio(i(balance), i(limit), "credit_limit"),
        ),
    };
    vec![
        figure(
            "payment_regularity",
            "installments_paid_on_time / installments_due",
            vec![count("installments_paid_on_time", on_time), count("installments_due", n)],
            d,
            ratio_or(on_time, n, no_due),
        ),
        figure(
            "partial_payment_share",
            "installments_partly_paid / installments_due",
            vec![count("installments_partly_paid", partial), count("installments_due", n)],
            d,
            ratio_or(partial, n, no_due),
        ),
        figure(
            "avg_days_due_to_payment",
            "days_from_due_to_settlement / installments_settled",
            vec![
                Input {
                    name: "days_from_due_to_settlement",
                    value: InputValue::Days(days_total),
                    period_end: None,
                },
                count("installments_settled", settled.len() as i64),
            ],
            d,
            ratio_or(days_total, settled.len() as i64, Missing::NoEvents("paid installments")),
        ),
        figure(
            "promise_keep_rate",
            "promises_kept / (promises_kept + promises_broken)",
            vec![
                count("promises_kept", b.promises_kept),
                count("promises_broken", b.promises_broken),
                count("promises_pending", b.promises_pending),
            ],
            d,
            ratio_or(b.promises_kept, judged, Missing::NoEvents("judged promises")),
        ),
        utilisation,
    ]
}

/// The figure with `code`, if present.
pub fn find<'a>(figures: &'a [Figure], code: &str) -> Option<&'a Figure> {
    figures.iter().find(|f| f.code == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn dec(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    /// A statement with (current assets, current liabilities, inventory, revenue) and the rest fixed.
    fn st(end: &str, ca: i64, cl: i64, inv: i64, rev: i64) -> Statement {
        Statement {
            period_end: day(end),
            current_assets: Amount::from_minor(ca),
            current_liabilities: Amount::from_minor(cl),
            inventory: Amount::from_minor(inv),
            total_assets: Amount::from_minor(1000),
            total_liabilities: Amount::from_minor(600),
            revenue: Amount::from_minor(rev),
            net_income: Amount::from_minor(rev / 10),
            operating_cash_flow: Amount::from_minor(-50),
        }
    }

    /// An expected value (decimal text) or why there is none.
    type Want = Result<&'static str, Missing>;

    fn value(f: &[Figure], code: &str) -> Result<Decimal, Missing> {
        let x = find(f, code).expect(code);
        x.value.ok_or_else(|| x.missing.expect("a figure without a value says why"))
    }

    #[test]
    fn ratios_at_their_boundaries() {
        // (ca, cl, inv, current_ratio, quick_ratio)
        let table: &[(i64, i64, i64, Want, Want)] = &[
            (100, 100, 0, Ok("1"), Ok("1")),
            (99, 100, 0, Ok("0.99"), Ok("0.99")),
            (100, 100, 100, Ok("1"), Ok("0")),
            (2, 3, 0, Ok("0.6667"), Ok("0.6667")),
            (1, 3, 0, Ok("0.3333"), Ok("0.3333")),
            // 0.00005 rounds half-up to 0.0001
            (1, 20000, 0, Ok("0.0001"), Ok("0.0001")),
            (
                100,
                0,
                0,
                Err(Missing::ZeroDenominator("current_liabilities")),
                Err(Missing::ZeroDenominator("current_liabilities")),
            ),
            (100, 50, 150, Ok("2"), Ok("-1")),
            (i64::MAX, 1, 0, Ok("9223372036854775807"), Ok("9223372036854775807")),
        ];
        for (ca, cl, inv, cr, qr) in table {
            let f = company(&[st("2025-12-31", *ca, *cl, *inv, 100)], day("2026-01-05"));
            assert_eq!(value(&f, "current_ratio"), cr.map(dec), "current ratio of {ca}/{cl}");
            assert_eq!(value(&f, "quick_ratio"), qr.map(dec), "quick ratio of ({ca}-{inv})/{cl}");
        }
    }

    #[test]
    fn other_company_ratios_and_their_inputs() {
        let f = company(&[st("2025-12-31", 300, 200, 50, 400)], day("2026-01-05"));
        assert_eq!(value(&f, "debt_to_assets"), Ok(dec("0.6")));
        assert_eq!(value(&f, "net_margin"), Ok(dec("0.1")));
        assert_eq!(value(&f, "ocf_to_current_liabilities"), Ok(dec("-0.25")));
        let q = find(&f, "quick_ratio").unwrap();
        let names: Vec<&str> = q.inputs.iter().map(|i| i.name).collect();
        assert_eq!(names, ["current_assets", "inventory", "current_liabilities"]);
        assert_eq!(q.inputs[1].value, InputValue::Money(Amount::from_minor(50)));
        assert_eq!(q.period_end, Some(day("2025-12-31")));
        let mut zero_rev = st("2025-12-31", 300, 200, 50, 0);
        zero_rev.total_assets = Amount::from_minor(0);
        let f = company(&[zero_rev], day("2026-01-05"));
        assert_eq!(value(&f, "net_margin"), Err(Missing::ZeroDenominator("revenue")));
        assert_eq!(value(&f, "debt_to_assets"), Err(Missing::ZeroDenominator("total_assets")));
    }

    #[test]
    fn changes_between_periods() {
        // (previous revenue, revenue, growth); (previous quick inputs, quick inputs, change)
        let table: &[(i64, i64, Result<&str, Missing>)] = &[
            (100, 80, Ok("-0.2")),
            (100, 79, Ok("-0.21")),
            (100, 120, Ok("0.2")),
            (0, 50, Err(Missing::ZeroDenominator("previous revenue"))),
            (-100, -50, Ok("0.5")),
        ];
        for (before, now, want) in table {
            let f = company(
                &[st("2025-12-31", 100, 100, 0, *now), st("2024-12-31", 100, 100, 0, *before)],
                day("2026-03-01"),
            );
            assert_eq!(value(&f, "revenue_growth"), want.map(dec), "{before} -> {now}");
        }
        // quick ratio 1.0 -> 0.7 is -30%, 1.0 -> 0.69 is -31%
        let table: &[(i64, Result<&str, Missing>)] = &[(70, Ok("-0.3")), (69, Ok("-0.31")), (100, Ok("0"))];
        for (ca, want) in table {
            let f = company(
                &[st("2024-12-31", 100, 100, 0, 1), st("2025-12-31", *ca, 100, 0, 1)],
                day("2026-03-01"),
            );
            assert_eq!(value(&f, "quick_ratio_change"), want.map(dec), "quick 1.0 -> {ca}/100");
        }
        let f =
            company(&[st("2024-12-31", 0, 100, 0, 1), st("2025-12-31", 50, 100, 0, 1)], day("2026-03-01"));
        assert_eq!(value(&f, "quick_ratio_change"), Err(Missing::ZeroDenominator("previous quick_ratio")));
    }

    #[test]
    fn periods_follow_the_date() {
        let both = [st("2024-12-31", 100, 100, 0, 100), st("2025-12-31", 50, 100, 0, 70)];
        let table: &[(&str, Want, Want)] = &[
            ("2024-12-30", Err(Missing::NoStatement), Err(Missing::NoStatement)),
            ("2024-12-31", Ok("1"), Err(Missing::NoPreviousPeriod)),
            ("2025-12-30", Ok("1"), Err(Missing::NoPreviousPeriod)),
            ("2025-12-31", Ok("0.5"), Ok("-0.3")),
        ];
        for (on, cr, growth) in table {
            let f = company(&both, day(on));
            assert_eq!(value(&f, "current_ratio"), cr.map(dec), "on {on}");
            assert_eq!(value(&f, "revenue_growth"), growth.map(dec), "on {on}");
        }
    }

    fn inst(due: &str, due_amt: i64, paid: i64, settled: Option<&str>) -> InstallmentRecord {
        InstallmentRecord {
            due_on: day(due),
            due: Amount::from_minor(due_amt),
            paid: Amount::from_minor(paid),
            settled_on: settled.map(day),
        }
    }

    #[test]
    fn behaviour_figures() {
        let b = Behaviour {
            installments: vec![
                inst("2026-01-10", 100, 100, Some("2026-01-10")),
                inst("2026-02-10", 100, 100, Some("2026-02-14")),
                inst("2026-03-10", 100, 40, None),
                inst("2026-04-10", 100, 0, None),
                // due on the date: not counted
                inst("2026-05-10", 100, 0, None),
            ],
            promises_kept: 1,
            promises_broken: 3,
            promises_pending: 1,
            credit_line: None,
        };
        let f = individual(&b, day("2026-05-10"));
        assert_eq!(value(&f, "payment_regularity"), Ok(dec("0.25")));
        assert_eq!(value(&f, "partial_payment_share"), Ok(dec("0.25")));
        assert_eq!(value(&f, "avg_days_due_to_payment"), Ok(dec("2")));
        assert_eq!(value(&f, "promise_keep_rate"), Ok(dec("0.25")));
        assert_eq!(value(&f, "utilisation"), Err(Missing::NotRecorded("credit limits")));
        let f = individual(&b, day("2026-05-11"));
        assert_eq!(value(&f, "payment_regularity"), Ok(dec("0.2")), "the fifth is late from the next day");
    }

    #[test]
    fn behaviour_without_history_says_why() {
        let f = individual(&Behaviour::default(), day("2026-05-10"));
        assert_eq!(value(&f, "payment_regularity"), Err(Missing::NoEvents("installments due")));
        assert_eq!(value(&f, "avg_days_due_to_payment"), Err(Missing::NoEvents("paid installments")));
        assert_eq!(value(&f, "promise_keep_rate"), Err(Missing::NoEvents("judged promises")));
        let b = Behaviour {
            credit_line: Some((Amount::from_minor(0), Amount::from_minor(10))),
            ..Behaviour::default()
        };
        assert_eq!(
            value(&individual(&b, day("2026-05-10")), "utilisation"),
            Err(Missing::ZeroDenominator("credit_limit"))
        );
        let b = Behaviour {
            credit_line: Some((Amount::from_minor(1000), Amount::from_minor(250))),
            ..Behaviour::default()
        };
        assert_eq!(value(&individual(&b, day("2026-05-10")), "utilisation"), Ok(dec("0.25")));
    }

    #[test]
    fn every_missing_reason_reads_in_both_languages() {
        for m in [
            Missing::ZeroDenominator("x"),
            Missing::NoStatement,
            Missing::NoPreviousPeriod,
            Missing::NoEvents("judged promises"),
            Missing::NotRecorded("credit limits"),
        ] {
            assert!(m.zh().starts_with("无法计算"), "{m:?}");
            assert!(m.en().starts_with("not computable"), "{m:?}");
        }
    }
}
