//! The behaviour features the batch keeps per loan (`loan_state.track`, read by the scoring
//! phase) against the reference: every borrower's whole history read back and its ledger
//! replayed. A generated book runs through 60 business dates, one at a time, with a backdated
//! payment (a recompute), a payment announced for a later value date, and tracks dropped as in
//! a database from before they were kept; after every date the two must agree for every
//! borrower of the book. SQLite always, PostgreSQL when `ARREARS_TEST_PG` is set.

#[allow(dead_code)]
#[path = "import/support.rs"]
mod support;

use std::collections::{BTreeSet, HashMap};

use arrears_app::batch::{BatchOptions, Quiet, run_batch};
use arrears_app::behaviour::{BorrowerNow, borrowers_now, borrowers_replayed};
use arrears_app::payments::{NewPayment, add_payment};
use arrears_store::Db;
use chrono::{Days, NaiveDate};
use support::{clock, each_backend, import};

const LAST: &str = "2026-10-20";
const DAYS: u64 = 60;

fn d(s: &str) -> NaiveDate {
    arrears_core::calendar::parse_iso_date(s).unwrap()
}

fn today() -> NaiveDate {
    d("2026-11-29")
}

async fn texts(db: &Db, sql: &str) -> Vec<Vec<String>> {
    use sqlx::Row as _;
    arrears_store::on_pool!(db, pool => {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .iter()
            .map(|r| (0..r.len()).map(|i| r.get::<Option<String>, _>(i).unwrap_or_default()).collect())
            .collect()
    })
}

async fn exec(db: &Db, sql: &str) {
    arrears_store::on_pool!(db, pool => {
        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    });
}

/// Kept and replayed features agree for every borrower on `date`; returns the borrowers whose
/// kept state was not current (read the long way).
async fn compare(db: &Db, borrowers: &[String], date: NaiveDate, what: &str) -> BTreeSet<String> {
    let kept = arrears_store::scores::kept(db, borrowers, date).await.unwrap();
    let replayed = borrowers_replayed(db, borrowers, date).await.unwrap();
    let now = borrowers_now(db, borrowers, date).await.unwrap();
    assert_eq!(now, replayed, "{what}: borrowers_now against the replay");
    let mut stale = BTreeSet::new();
    for b in borrowers {
        let r: &BorrowerNow = replayed.get(b).unwrap_or_else(|| panic!("{what}: {b} has a history"));
        match kept.get(b).unwrap_or_else(|| panic!("{what}: {b} has loans")) {
            Some(k) => {
                assert_eq!(k.features(date), r.features, "{what}: features of {b}");
                assert_eq!((k.in_m1(), k.has_open_case(date)), (r.in_m1, r.open_case), "{what}: {b}");
            }
            None => {
                stale.insert(b.clone());
            }
        }
    }
    stale
}

#[tokio::test]
async fn kept_features_equal_the_replayed_history_on_every_date() {
    let last = d(LAST);
    let book = tempfile::tempdir().unwrap();
    let cfg = arrears_sim::GenConfig::new(1200, 31, last);
    arrears_sim::generate(&cfg, book.path(), &|_| {}).unwrap();
    each_backend(async |t| {
        let b = t.backend;
        import(&t.db, book.path()).await.unwrap();
        let borrowers: Vec<String> = texts(&t.db, "SELECT borrower_id FROM borrowers ORDER BY 1")
            .await
            .into_iter()
            .map(|r| r[0].clone())
            .collect();
        let first = last.checked_sub_days(Days::new(DAYS - 1)).unwrap();
        let now = clock();
        let mut dropped: BTreeSet<String> = BTreeSet::new();
        let (mut in_m1, mut with_case, mut late_shares) = (0, 0, BTreeSet::new());
        for k in 0..DAYS {
            let date = first + Days::new(k);
            let prev = date.pred_opt().unwrap();
            if k == 20 {
                // A delinquent loan pays its overdue amount with a value date five days back:
                // its snapshots from then on are rewritten at once, and its track with them.
                let loan = texts(
                    &t.db,
                    "SELECT loan_id, CAST(overdue_principal + overdue_interest + overdue_fee AS TEXT) \
                     FROM loan_state WHERE dpd > 10 AND currency = 'CNY' ORDER BY loan_id LIMIT 1",
                )
                .await;
                let (id, minor) = (&loan[0][0], loan[0][1].parse::<i64>().unwrap());
                let amount = format!("{}.{:02}", minor / 100, minor % 100);
                let p = NewPayment {
                    id: "T-BACKDATED",
                    loan_id: id,
                    paid_on: prev - Days::new(5),
                    amount: &amount,
                    channel: "bank",
                };
                let done = add_payment(&t.db, &t.url, &p, today(), &clock()).await.unwrap();
                assert_eq!(done.refresh.report.map(|r| r.loans_recomputed), Some(1), "[{b}] {id} recomputed");
                compare(&t.db, &borrowers, prev, &format!("[{b}] after the backdated payment")).await;
            }
            if k == 30 {
                // A payment announced with a value date after the last closed date brings the
                // loan's next evaluation forward to it.
                let loan = texts(
                    &t.db,
                    "SELECT loan_id FROM loan_state WHERE dpd > 0 ORDER BY loan_id DESC LIMIT 1",
                )
                .await;
                let p = NewPayment {
                    id: "T-AHEAD",
                    loan_id: &loan[0][0],
                    paid_on: date + Days::new(2),
                    amount: "50.00",
                    channel: "bank",
                };
                add_payment(&t.db, &t.url, &p, today(), &clock()).await.unwrap();
            }
            if k == 40 {
                // As in a database kept before tracks were: the scoring phase reads these
                // borrowers the long way until their loans' next evaluations keep tracks again.
                exec(
                    &t.db,
                    "UPDATE loan_state SET track = NULL WHERE loan_id IN \
                     (SELECT loan_id FROM loan_state ORDER BY loan_id LIMIT 300)",
                )
                .await;
                dropped = texts(&t.db, "SELECT DISTINCT borrower_id FROM loan_state WHERE track IS NULL")
                    .await
                    .into_iter()
                    .map(|r| r[0].clone())
                    .collect();
                let stale = compare(&t.db, &borrowers, prev, &format!("[{b}] tracks dropped")).await;
                assert_eq!(
                    stale, dropped,
                    "[{b}] exactly the borrowers without tracks are read the long way"
                );
            }
            let reports =
                run_batch(&t.db, &t.url, date..=date, today(), &now, BatchOptions::default(), &Quiet)
                    .await
                    .unwrap();
            assert!(reports.iter().all(|r| r.finished), "[{b}] {date}");
            let stale = compare(&t.db, &borrowers, date, &format!("[{b}] {date}")).await;
            let without: BTreeSet<String> =
                texts(&t.db, "SELECT DISTINCT borrower_id FROM loan_state WHERE track IS NULL")
                    .await
                    .into_iter()
                    .map(|r| r[0].clone())
                    .collect();
            assert_eq!(stale, without, "[{b}] {date}: read the long way only without a track");
            assert!(without.is_subset(&dropped), "[{b}] {date}: every evaluated loan keeps its track");
            let replayed: HashMap<String, BorrowerNow> =
                borrowers_replayed(&t.db, &borrowers, date).await.unwrap();
            in_m1 += replayed.values().filter(|r| r.in_m1).count();
            with_case += replayed.values().filter(|r| r.open_case).count();
            late_shares.extend(replayed.values().filter_map(|r| r.features.late_share_permille));
        }
        // The comparison saw the states scoring depends on, not just current borrowers.
        assert!(
            in_m1 > 0 && with_case > 0 && late_shares.len() > 20,
            "[{b}] {in_m1} {with_case} {late_shares:?}"
        );
        let dropped_left = texts(&t.db, "SELECT CAST(COUNT(*) AS TEXT) FROM loan_state WHERE track IS NULL")
            .await[0][0]
            .parse::<i64>()
            .unwrap();
        assert!(dropped_left < 300, "[{b}] evaluations since rebuilt some dropped tracks from the rows");
    })
    .await;
}
