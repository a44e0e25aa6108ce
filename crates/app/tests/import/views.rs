//! `loan show` and `report portfolio` over an imported, hand-made book.

use arrears_app::batch::{self, BatchOptions, run_batch};
use arrears_app::portfolio::{TotalsRow, portfolio};
use arrears_app::view::{LoanView, show_loan};
use arrears_core::{Amount, Currency};
use chrono::NaiveDate;

use crate::support::*;

fn d(s: &str) -> NaiveDate {
    s.parse().expect("date")
}

fn cny(minor: i64) -> String {
    Amount::from_minor(minor).format(Currency::CNY)
}

fn minor(s: &str) -> i64 {
    Amount::parse(s, Currency::CNY).expect("decimal string").minor()
}

/// L1's schedule by hand: 12000.00 at 1% a month, 12 months, payment 1066.19;
/// interest = balance/100 rounded half up, the last installment takes the rest.
fn l1_schedule() -> Vec<(i64, i64)> {
    let mut balance = 1_200_000i64;
    let mut out = Vec::new();
    for k in 1..=12 {
        let interest = (balance + 50) / 100;
        let principal = if k == 12 { balance } else { 106_619 - interest };
        balance -= principal;
        out.push((principal, interest));
    }
    out
}

async fn l1(t: &TestDb, date: &str) -> LoanView {
    show_loan(&t.db, "L1", d(date)).await.expect("show").expect("L1 exists")
}

#[tokio::test]
async fn loan_show_contract_fields() {
    each_backend(async |t| {
        import_good(t).await;
        let v = l1(t, "2024-02-29").await;
        let be = t.backend;
        assert_eq!(
            (v.loan_id.as_str(), v.borrower_id.as_str(), v.currency.as_str(), v.product.as_str(), v.method),
            ("L1", "B1", "CNY", "consumer", "annuity"),
            "[{be}]"
        );
        assert_eq!(v.principal, "12000.00");
        assert_eq!(
            (v.dpd, v.bucket.as_str(), v.five_class, v.status),
            (0, "M0", "normal", "active"),
            "[{be}]"
        );
        assert_eq!(v.overdue.total, "0.00", "[{be}]");
        assert_eq!(v.outstanding_principal, "11053.81", "[{be}]");

        let due: Vec<String> = v.installments.iter().map(|i| i.due_on.to_string()).collect();
        assert_eq!(
            due,
            [
                "2024-02-29",
                "2024-03-31",
                "2024-04-30",
                "2024-05-31",
                "2024-06-30",
                "2024-07-31",
                "2024-08-31",
                "2024-09-30",
                "2024-10-31",
                "2024-11-30",
                "2024-12-31",
                "2025-01-31"
            ],
            "[{be}]"
        );
        let hand = l1_schedule();
        for (i, (p, int)) in v.installments.iter().zip(&hand) {
            assert_eq!(
                (i.principal.clone(), i.interest.clone(), i.fee.as_str()),
                (cny(*p), cny(*int), "0.00")
            );
        }
        assert_eq!(hand.iter().map(|x| x.0).sum::<i64>(), 1_200_000);
        assert_eq!((hand[0], hand[1]), ((94_619, 12_000), (95_565, 11_054)));
        let i1 = &v.installments[0];
        assert_eq!((i1.paid_principal.as_str(), i1.paid_interest.as_str()), ("946.19", "120.00"), "[{be}]");
        assert_eq!(i1.settled_on, Some(d("2024-02-29")));
        assert_eq!(v.installments[1].paid_principal, "0.00");

        assert_eq!(v.payments.len(), 1);
        let p = &v.payments[0];
        assert_eq!((p.payment_id.as_str(), p.amount.as_str(), p.channel.as_str()), ("P1", "1066.19", "bank"));
        assert_eq!(p.allocation.iter().map(|a| minor(&a.amount)).sum::<i64>(), 106_619, "[{be}]");

        // The JSON contract of DESIGN.md: the keys are there and amounts are strings.
        let j = serde_json::to_value(&v).unwrap();
        for k in ["loan_id", "borrower_id", "currency", "dpd", "bucket", "five_class", "overdue", "status"] {
            assert!(j.get(k).is_some(), "missing {k}");
        }
        assert!(j["outstanding_principal"].is_string());
        for k in ["principal", "interest", "fee", "penalty", "total"] {
            assert!(j["overdue"][k].is_string(), "overdue.{k}");
        }
        for k in [
            "seq",
            "due_on",
            "principal",
            "interest",
            "fee",
            "paid_principal",
            "paid_interest",
            "paid_fee",
            "paid_penalty",
        ] {
            assert!(j["installments"][0].get(k).is_some(), "installments[].{k}");
        }
        assert_eq!(j["installments"][1]["due_on"], "2024-03-31");

        assert!(show_loan(&t.db, "L404", d("2024-02-29")).await.unwrap().is_none());
    })
    .await;
}

#[tokio::test]
async fn loan_show_dpd_bucket_and_five_class_over_time() {
    each_backend(async |t| {
        import_good(t).await;
        let due2 = d("2024-03-31");
        // (date, dpd, bucket, five_class): installment 2 (due 2024-03-31) is never paid.
        let cases = [
            ("2024-02-01", 0, "M0", "normal"),
            ("2024-03-31", 0, "M0", "normal"), // due on the date: not yet overdue
            ("2024-04-01", 1, "M1", "special_mention"),
            ("2024-04-30", 30, "M1", "special_mention"),
            ("2024-05-01", 31, "M2", "special_mention"),
            ("2024-06-29", 90, "M3", "special_mention"),
            ("2024-06-30", 91, "M4", "substandard"),
            ("2024-09-28", 181, "M7+", "substandard"),
            ("2024-12-26", 270, "M7+", "substandard"),
            ("2024-12-27", 271, "M7+", "doubtful"),
            ("2025-03-26", 360, "M7+", "doubtful"),
            ("2025-03-27", 361, "M7+", "loss"),
        ];
        for (date, dpd, bucket, class) in cases {
            if dpd > 0 {
                assert_eq!((d(date) - due2).num_days(), dpd as i64, "hand count for {date}");
            }
            let v = l1(t, date).await;
            assert_eq!(
                (v.dpd, v.bucket.as_str(), v.five_class, v.status),
                (dpd, bucket, class, "active"),
                "[{}] on {date}",
                t.backend
            );
        }
        let pending = l1(t, "2024-01-15").await;
        assert_eq!((pending.status, pending.dpd, pending.overdue.total.as_str()), ("pending", 0, "0.00"));

        // On 2024-05-01 installments 2 and 3 are overdue.
        let v = l1(t, "2024-05-01").await;
        let hand = l1_schedule();
        assert_eq!(v.overdue.principal, cny(hand[1].0 + hand[2].0), "[{}]", t.backend);
        assert_eq!(v.overdue.interest, cny(hand[1].1 + hand[2].1), "[{}]", t.backend);
        assert_eq!(v.overdue.fee, "0.00");
        let parts = [&v.overdue.principal, &v.overdue.interest, &v.overdue.fee, &v.overdue.penalty];
        assert_eq!(parts.iter().map(|s| minor(s)).sum::<i64>(), minor(&v.overdue.total));
        assert!(minor(&v.overdue.penalty) > 0, "penalty accrues past the grace days");
    })
    .await;
}

#[tokio::test]
async fn portfolio_matches_a_hand_count() {
    each_backend(async |t| {
        let loans = "loan_id,borrower_id,product,currency,principal,annual_rate,term_months,disbursed_on,method,penalty_rate,grace_days\n\
                     L1,B1,consumer,CNY,12000.00,0.12,12,2024-01-31,annuity,0.18,3\n\
                     L2,B2,sme,CNY,10000.00,0.12,12,2024-03-15,bullet,0.18,0\n\
                     L3,B1,consumer,CNY,1000.00,0.12,1,2024-01-10,bullet,0.18,0\n\
                     L4,B1,consumer,CNY,3000.00,0.12,6,2024-06-01,annuity,0.18,0\n\
                     L5,B2,sme,USD,5000.00,0.10,3,2024-01-05,bullet,0.18,0\n";
        let pays = "payment_id,loan_id,paid_on,amount,channel\n\
                    P1,L1,2024-02-29,1066.19,bank\n\
                    P3,L3,2024-02-10,1010.00,bank\n";
        let dir = write_files(&[("borrowers.csv", BORROWERS), ("loans.csv", loans), ("payments.csv", pays)]);
        import(&t.db, dir.path()).await.unwrap_or_else(|e| panic!("[{}] {e}", t.backend));
        let date = d("2024-05-01");
        let be = t.backend;
        let opts = BatchOptions::default();
        let clock = arrears_app::audit::fixed_clock(now());
        run_batch(&t.db, &t.url, date..=date, d("2024-06-01"), &clock, opts, &batch::Quiet)
            .await
            .unwrap_or_else(|e| panic!("[{be}] {e}"));
        let p = portfolio(&t.db, date).await.unwrap();
        let line = |r: &TotalsRow| {
            (r.group.clone(), r.currency.clone(), r.loans, r.overdue_loans, r.outstanding_principal.clone(), r.overdue_total.clone())
        };
        let lines = |rows: &[TotalsRow]| rows.iter().map(line).collect::<Vec<_>>();
        let want = |rows: &[(&str, &str, i64, i64, String, String)]| {
            rows.iter().map(|(g, c, n, o, a, b)| (g.to_string(), c.to_string(), *n, *o, a.clone(), b.clone())).collect::<Vec<_>>()
        };

        let status: Vec<(String, String, i64)> =
            p.by_status.iter().map(|r| (r.currency.clone(), r.group.clone(), r.loans)).collect();
        let want_status = [("CNY", "pending", 1), ("CNY", "active", 2), ("CNY", "paid_off", 1), ("USD", "active", 1)];
        let want_status: Vec<(String, String, i64)> =
            want_status.iter().map(|(c, s, n)| (c.to_string(), s.to_string(), *n)).collect();
        assert_eq!(status, want_status, "[{be}]");

        // Overdue totals (with penalty) as the loan view computes them, independently of the batch.
        let overdue = async |id: &str| show_loan(&t.db, id, date).await.unwrap().unwrap().overdue.total;
        let (o1, o5) = (overdue("L1").await, overdue("L5").await);
        let l1_out = cny(1_200_000 - 94_619);
        let (zero, usd) = (cny(0), |m: i64| Amount::from_minor(m).format(Currency::USD));
        assert_eq!(
            lines(&p.by_product),
            want(&[
                ("consumer", "CNY", 1, 1, l1_out.clone(), o1.clone()),
                ("sme", "CNY", 1, 0, cny(1_000_000), zero.clone()),
                ("sme", "USD", 1, 1, usd(500_000), o5.clone()),
            ]),
            "[{be}]"
        );
        // L1: 31 days (M2); L2: current (M0); L5: due 2024-04-05, 26 days (M1).
        assert_eq!(
            lines(&p.by_bucket),
            want(&[
                ("M0", "CNY", 1, 0, cny(1_000_000), zero.clone()),
                ("M2", "CNY", 1, 1, l1_out.clone(), o1.clone()),
                ("M1", "USD", 1, 1, usd(500_000), o5.clone()),
            ]),
            "[{be}]"
        );
        assert_eq!(
            lines(&p.by_five_class),
            want(&[
                ("normal", "CNY", 1, 0, cny(1_000_000), zero.clone()),
                ("special_mention", "CNY", 1, 1, l1_out.clone(), o1.clone()),
                ("special_mention", "USD", 1, 1, usd(500_000), o5.clone()),
            ]),
            "[{be}]"
        );
        // L5's overdue: principal 5000.00 + interest 125.00 (5000 · 10% · 3/12) + penalty.
        assert!(Amount::parse(&o5, Currency::USD).unwrap().minor() > 512_500, "[{be}] {o5:?}");
        assert_eq!(p.by_bucket[1].outstanding_principal, "11053.81");
        // The first business date has no previous one: no roll rates.
        assert!(p.roll_rates.is_empty(), "[{be}] {:?}", p.roll_rates);
    })
    .await;
}
