//! End-to-end checks of generated books: determinism, every row parsing with
//! core's parsers, identifiers with valid check characters, dates inside the
//! book's window, and a realistic delinquency profile.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::str::FromStr;

use arrears_core::arrangement::{ArrangementKind, Terms};
use arrears_core::calendar::parse_iso_date;
use arrears_core::delinquency::FiveClass;
use arrears_core::delinquency::{DelinquencyRules, LoanStatus, assess};
use arrears_core::ledger::{LedgerAction, LedgerEvent, Waterfall, replay, replay_with};
use arrears_core::schedule;
use arrears_core::{
    Amount, BorrowerId, BorrowerKind, ContactId, Currency, Language, Loan, LoanId, Payment, PaymentId, Rate,
    Relation, RepaymentMethod,
};
use arrears_sim::ids::{resident_id_valid, ssn_valid, uscc_valid};
use arrears_sim::{FILES, GenConfig, SimError, generate};
use chrono::NaiveDate;

fn as_of() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 6, 30).unwrap()
}

/// Splits CSV text into rows of fields, honouring quotes (a test-only reader).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                _ => field.push(c),
            }
        } else {
            match c {
                '"' if field.is_empty() => quoted = true,
                ',' => row.push(std::mem::take(&mut field)),
                '\n' => {
                    row.push(std::mem::take(&mut field));
                    rows.push(std::mem::take(&mut row));
                }
                _ => field.push(c),
            }
        }
    }
    assert!(field.is_empty() && row.is_empty(), "file does not end with a newline");
    rows
}

fn read(dir: &Path, name: &str) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(dir.join(name)).unwrap();
    let rows = parse_csv(&text);
    let header = FILES.iter().find(|(n, _)| *n == name).unwrap().1;
    assert_eq!(rows[0].join(","), header, "{name} header");
    let width = rows[0].len();
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r.len(), width, "{name} line {}", i + 1);
    }
    rows.into_iter().skip(1).collect()
}

fn files(dir: &Path) -> Vec<Vec<u8>> {
    FILES.iter().map(|(n, _)| std::fs::read(dir.join(n)).unwrap()).collect()
}

#[test]
fn same_seed_same_bytes_whatever_the_threads() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let c = tempfile::tempdir().unwrap();
    // 10 000 loans: three blocks, the last one partial.
    let one = GenConfig { threads: 1, ..GenConfig::new(10_000, 7, as_of()) };
    let three = GenConfig { threads: 3, ..one.clone() };
    let calls = std::sync::atomic::AtomicU64::new(0);
    let sa = generate(&one, a.path(), &|n| {
        assert!(n <= 10_000);
        calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    })
    .unwrap();
    assert_eq!(calls.into_inner(), 3);
    let sb = generate(&three, b.path(), &|_| {}).unwrap();
    assert_eq!(sa, sb);
    assert_eq!(files(a.path()), files(b.path()));
    generate(&GenConfig { seed: 8, ..three }, c.path(), &|_| {}).unwrap();
    let (fa, fc) = (files(a.path()), files(c.path()));
    for (x, y) in fa.iter().zip(&fc) {
        assert_ne!(x, y);
    }
    assert_eq!(sa.loans, 10_000);
    let bytes: u64 = fa.iter().map(|f| f.len() as u64).sum();
    assert_eq!(sa.bytes, bytes);
}

#[test]
fn every_row_parses_and_hangs_together() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = GenConfig { assess_every: 0, ..GenConfig::new(6_000, 11, as_of()) };
    let summary = generate(&cfg, dir.path(), &|_| {}).unwrap();
    let d = dir.path();

    let borrowers = read(d, "borrowers.csv");
    assert_eq!(borrowers.len() as u64, summary.borrowers);
    let mut currency_of: HashMap<String, (Currency, BorrowerKind)> = HashMap::new();
    let (mut companies, mut chinese) = (0, 0);
    for r in &borrowers {
        BorrowerId::new(r[0].clone()).unwrap();
        let kind = BorrowerKind::from_str(&r[1]).unwrap();
        let lang = Language::from_str(&r[7]).unwrap();
        assert!(!r[2].is_empty() && !r[4].is_empty());
        let id = &r[3];
        match (kind, lang) {
            (BorrowerKind::Individual, Language::Zh) => assert!(resident_id_valid(id), "{id}"),
            (BorrowerKind::Individual, Language::En) => assert!(ssn_valid(id), "{id}"),
            (BorrowerKind::Company, Language::Zh) => assert!(uscc_valid(id), "{id}"),
            (BorrowerKind::Company, Language::En) => {
                assert!(id.len() == 10 && id.as_bytes()[2] == b'-', "{id}")
            }
        }
        if lang == Language::Zh {
            chinese += 1;
            assert_eq!(r[6], "Asia/Shanghai");
            let p = r[4].as_bytes();
            assert!(p.len() == 11 && p[0] == b'1' && (b'3'..=b'9').contains(&p[1]), "{}", r[4]);
        } else {
            assert!(r[6].starts_with("America/"));
            assert!(r[4].starts_with("+1 ") && r[4].len() == 15, "{}", r[4]);
        }
        assert!(r[5].is_empty() || r[5].contains('@'));
        if kind == BorrowerKind::Company {
            companies += 1;
        }
        let cur = if lang == Language::Zh { Currency::CNY } else { Currency::USD };
        assert!(currency_of.insert(r[0].clone(), (cur, kind)).is_none(), "duplicate {}", r[0]);
    }
    let share = |n: usize| n as f64 / borrowers.len() as f64;
    assert!((0.05..0.12).contains(&share(companies)), "companies {companies}");
    assert!((0.80..0.90).contains(&share(chinese)), "chinese {chinese}");

    let contacts = read(d, "contacts.csv");
    assert_eq!(contacts.len() as u64, summary.contacts);
    let mut guarantors: HashMap<&str, u32> = HashMap::new();
    for r in &contacts {
        ContactId::new(r[0].clone()).unwrap();
        assert!(currency_of.contains_key(&r[1]), "contact of unknown borrower {}", r[1]);
        if Relation::from_str(&r[2]).unwrap() == Relation::Guarantor {
            *guarantors.entry(r[1].as_str()).or_default() += 1;
        }
        assert!(r[6] == "true" || r[6] == "false");
    }
    for (id, (_, kind)) in &currency_of {
        if *kind == BorrowerKind::Company {
            assert!((1..=2).contains(guarantors.get(id.as_str()).unwrap_or(&0)), "company {id} guarantors");
        }
    }

    let loans = read(d, "loans.csv");
    assert_eq!(loans.len(), 6_000);
    let mut loan_info: HashMap<String, (Currency, NaiveDate)> = HashMap::new();
    let mut methods = HashSet::new();
    for r in &loans {
        LoanId::new(r[0].clone()).unwrap();
        let (cur, kind) = currency_of[&r[1]];
        assert_eq!(Currency::from_code(&r[3]).unwrap(), cur);
        let principal = Amount::parse(&r[4], cur).unwrap();
        let rate = Rate::from_str(&r[5]).unwrap();
        let term: u32 = r[6].parse().unwrap();
        let disbursed = parse_iso_date(&r[7]).unwrap();
        let method = RepaymentMethod::from_str(&r[8]).unwrap();
        let penalty = Rate::from_str(&r[9]).unwrap();
        let grace: u32 = r[10].parse().unwrap();
        methods.insert(method);
        assert!(disbursed < as_of() && disbursed >= as_of() - chrono::Days::new(3 * 366));
        assert!(grace <= 3);
        // Penalty is 1.5 × the rate to four places.
        let (pn, pd) = penalty.as_fraction();
        let (rn, rd) = rate.as_fraction();
        assert!((pn * rd * 2 * 10_000 - 3 * rn * pd * 10_000).abs() <= pd * rd, "{} {}", r[5], r[9]);
        let major = principal.minor() / 100;
        match (r[2].as_str(), kind) {
            ("consumer_loan", BorrowerKind::Individual) => {
                assert!((3_000..=200_000).contains(&major) && (6..=36).contains(&term));
            }
            ("card_instalment", BorrowerKind::Individual) => {
                assert!((1_000..=50_000).contains(&major) && (3..=24).contains(&term));
            }
            ("sme_loan", BorrowerKind::Company) => {
                assert!((100_000..=5_000_000).contains(&major) && (6..=36).contains(&term));
            }
            other => panic!("product {other:?}"),
        }
        loan_info.insert(r[0].clone(), (cur, disbursed));
    }
    assert_eq!(methods.len(), 4, "all four repayment methods appear");

    let payments = read(d, "payments.csv");
    assert_eq!(payments.len() as u64, summary.payments);
    let mut ids = HashSet::new();
    for r in &payments {
        PaymentId::new(r[0].clone()).unwrap();
        assert!(ids.insert(r[0].clone()), "duplicate payment id {}", r[0]);
        let (cur, disbursed) = loan_info[&r[1]];
        let on = parse_iso_date(&r[2]).unwrap();
        assert!(on > disbursed && on <= as_of(), "{} paid {on}, disbursed {disbursed}", r[0]);
        assert!(Amount::parse(&r[3], cur).unwrap().minor() > 0);
        assert!(!r[4].is_empty());
    }

    let fin = read(d, "financials.csv");
    assert_eq!(fin.len() as u64, summary.financial_rows);
    for r in &fin {
        let (cur, kind) = currency_of[&r[0]];
        assert_eq!(kind, BorrowerKind::Company);
        let end = parse_iso_date(&r[1]).unwrap();
        assert!(end < as_of() && r[1].ends_with("-12-31"));
        let v: Vec<i64> = r[2..].iter().map(|x| Amount::parse(x, cur).unwrap().minor()).collect();
        let (ca, cl, inv, ta, tl) = (v[0], v[1], v[2], v[3], v[4]);
        assert!(ca >= inv && inv >= 0 && ta >= ca && tl >= cl && cl >= 0 && v[5] >= 0, "{r:?}");
    }
}

#[test]
fn overdue_share_and_bucket_decay_on_a_20k_book() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = GenConfig { assess_every: 1, ..GenConfig::new(20_000, 2025, as_of()) };
    let s = generate(&cfg, dir.path(), &|_| {}).unwrap();
    assert_eq!(s.assessed_loans, 20_000);
    let share = s.overdue_share();
    eprintln!(
        "active {} overdue {} ({:.2}%) by bucket {:?}",
        s.active_loans,
        s.overdue_loans(),
        share * 100.0,
        s.by_bucket
    );
    assert!((0.05..=0.10).contains(&share), "overdue share {share}");
    let b = &s.by_bucket;
    // Counts fall from bucket to bucket. Beyond M3 a 20k book holds only a handful of loans
    // per bucket (the 1M bench shows the decay continue), so the tail is checked as a whole.
    let tail: u64 = b[4..].iter().sum();
    assert!(b[1] > b[2] && b[2] > b[3] && b[3] > tail && tail > 0, "{b:?}");

    // The files say the same as the generator: replaying what was written gives the same
    // counts, and a loan at DPD 0 owes nothing overdue (late payers really paid their penalty).
    let mut payments: HashMap<String, Vec<Payment>> = HashMap::new();
    for r in read(dir.path(), "payments.csv") {
        let cur = Currency::CNY; // Both currencies have two places; amounts re-parse per loan below.
        payments.entry(r[1].clone()).or_default().push(Payment {
            id: PaymentId::new(r[0].clone()).unwrap(),
            loan_id: LoanId::new(r[1].clone()).unwrap(),
            paid_on: parse_iso_date(&r[2]).unwrap(),
            amount: Amount::parse(&r[3], cur).unwrap(),
            channel: r[4].clone(),
        });
    }
    let rules = DelinquencyRules::default();
    let arrangements: HashMap<String, Vec<String>> =
        read(dir.path(), "arrangements.csv").into_iter().map(|r| (r[1].clone(), r)).collect();
    assert_eq!(arrangements.len() as u64, s.arrangements, "one request per loan at most");
    let mut by_bucket = [0u64; 8];
    let (mut active, mut cured_with_arrears) = (0u64, 0u64);
    let mut standing: HashMap<&str, u64> = HashMap::new();
    let mut statuses: HashMap<String, u64> = HashMap::new();
    for r in read(dir.path(), "loans.csv") {
        let currency = Currency::from_code(&r[3]).unwrap();
        let loan = Loan {
            id: LoanId::new(r[0].clone()).unwrap(),
            borrower_id: BorrowerId::new(r[1].clone()).unwrap(),
            product: r[2].clone(),
            currency,
            principal: Amount::parse(&r[4], currency).unwrap(),
            annual_rate: r[5].parse().unwrap(),
            term_months: r[6].parse().unwrap(),
            disbursed_on: parse_iso_date(&r[7]).unwrap(),
            method: r[8].parse().unwrap(),
            penalty_rate: r[9].parse().unwrap(),
            grace_days: r[10].parse().unwrap(),
        };
        let sched = schedule::generate(&loan).unwrap();
        let pays = payments.remove(&r[0]).unwrap_or_default();
        let events = match arrangements.get(&r[0]) {
            Some(a) => {
                *statuses.entry(a[7].clone()).or_default() += 1;
                approved_event(a, &loan, &sched, &pays, &rules).into_iter().collect()
            }
            None => Vec::new(),
        };
        let pos = replay_with(&loan, &sched, &pays, &events, as_of(), &Waterfall::default());
        if !events.is_empty() {
            assert!(pos.totals(loan.principal, &pays).conserved(), "{}: money not conserved", r[0]);
            for a in &pos.arrangements {
                *standing.entry(a.status.as_str()).or_default() += 1;
            }
        }
        let d = assess(&pos, loan.disbursed_on, &rules);
        if d.status == LoanStatus::Active {
            active += 1;
            by_bucket[d.bucket_index] += 1;
            if d.dpd == 0 && !d.overdue.total().is_zero() {
                cured_with_arrears += 1;
            }
        }
    }
    assert_eq!((active, by_bucket), (s.active_loans, s.by_bucket));
    assert_eq!(cured_with_arrears, 0);
    // Borrowers ask, are declined or approved, and keep or break what was approved.
    eprintln!("requests {statuses:?}, approved ones in the ledger {standing:?}");
    for status in ["requested", "approved", "declined"] {
        assert!(statuses.get(status).is_some_and(|n| *n > 0), "no {status} request in {statuses:?}");
    }
    for status in ["active", "kept", "broken"] {
        assert!(standing.get(status).is_some_and(|n| *n > 0), "no {status} arrangement in {standing:?}");
    }
    assert_eq!(standing.get("void"), None, "an approved arrangement the ledger could not apply");
}

/// The ledger event of an approved row of `arrangements.csv`, as the import puts it in force.
fn approved_event(
    a: &[String],
    loan: &Loan,
    sched: &[schedule::Installment],
    pays: &[Payment],
    rules: &DelinquencyRules,
) -> Option<LedgerEvent> {
    let requested = parse_iso_date(&a[5]).unwrap();
    assert!(a[6] != a[9], "{a:?}: the maker decided their own request");
    if a[7] == "requested" {
        assert!(a[8].is_empty() && a[9].is_empty(), "{a:?}");
        assert!(as_of() - requested < chrono::Duration::days(7), "{a:?}: undecided for a week");
        return None;
    }
    let decided = parse_iso_date(&a[8]).unwrap();
    assert!(decided > requested && decided <= as_of(), "{a:?}");
    if a[7] != "approved" {
        return None;
    }
    let kind = ArrangementKind::parse(&a[2]).unwrap();
    let months = (!a[3].is_empty()).then(|| a[3].parse().unwrap());
    let amount = (!a[4].is_empty()).then(|| Amount::parse(&a[4], loan.currency).unwrap());
    let before = replay(loan, sched, pays, decided, &Waterfall::default());
    let class = assess(&before, loan.disbursed_on, rules).five_class;
    Some(LedgerEvent {
        on: decided,
        id: a[0].clone(),
        action: LedgerAction::Arrange {
            terms: Terms { kind, months, amount, max_months: 60 },
            tolerance_days: 15,
            tolerance: Amount::ZERO,
            was_non_performing: class >= FiveClass::Substandard,
        },
    })
}

#[test]
fn errors_name_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let e = generate(&GenConfig::new(0, 1, as_of()), dir.path(), &|_| {}).unwrap_err();
    assert!(matches!(e, SimError::ZeroLoans));
    let e = generate(&GenConfig { threads: 0, ..GenConfig::new(5, 1, as_of()) }, dir.path(), &|_| {})
        .unwrap_err();
    assert!(matches!(e, SimError::ZeroThreads));
    // A file where the output directory should be.
    let file = dir.path().join("plain-file");
    std::fs::write(&file, "x").unwrap();
    let e = generate(&GenConfig::new(5, 1, as_of()), &file, &|_| {}).unwrap_err();
    assert!(matches!(e, SimError::Io { .. }));
    assert!(e.to_string().contains("plain-file"), "{e}");
}
