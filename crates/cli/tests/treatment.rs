//! Strategy, tasks, allocation and actions end to end through the binary: a generated book,
//! collectors and an agency, 60 business days of batch with contacts logged on the way; then
//! every task, message, placement and allocation is checked against the rules from the raw
//! tables, independently of the code that made them. SQLite always, PostgreSQL when
//! `ARREARS_TEST_PG` is set.

mod common;
#[allow(dead_code)]
#[path = "../../app/tests/import/support.rs"]
mod support;

use std::collections::{BTreeMap, BTreeSet};

use arrears_store::Db;
use chrono::{DateTime, NaiveDate, Timelike, Utc};
use common::{arrears, ok, text};
use sqlx::Row as _;
use support::{TestDb, each_backend};

/// Rows of a query as `|`-joined text columns.
async fn rows(db: &Db, sql: &str) -> Vec<Vec<String>> {
    arrears_store::on_pool!(db, pool => {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .iter()
            .map(|r| r.get::<String, _>(0).split('|').map(String::from).collect())
            .collect()
    })
}

async fn count(db: &Db, sql: &str) -> i64 {
    arrears_store::on_pool!(db, pool => {
        sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql)).fetch_one(pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"))
    })
}

fn d(s: &str) -> NaiveDate {
    arrears_core::calendar::parse_iso_date(s).unwrap_or_else(|| panic!("date {s:?}"))
}

const FIRST: &str = "2026-09-01";
const MIDDLE: &str = "2026-09-30";
const LAST: &str = "2026-10-30";

#[tokio::test(flavor = "multi_thread")]
async fn sixty_business_days_of_treatment_follow_the_strategy_and_the_contact_rules() {
    let (_dir, book) = common::generated_book(2500, 11, LAST);
    each_backend(async |t: &TestDb| {
        ok(t, &["import", book.to_str().unwrap()]);
        ok(t, &["agency", "add", "default_agency", "--name", "外包一", "--commission", "0.15"]);
        for i in 1..=4 {
            let id = format!("c{i}");
            let mut args = vec!["collector", "add", &id, "--name", "催收员", "--capacity", "12"];
            args.extend(["--queues", "early_calls,mid_calls,late_calls"]);
            if i == 1 {
                args.extend(["--days-off", "2026-09-10,2026-10-01"]);
            }
            ok(t, &args);
        }
        ok(t, &["collector", "add", "corp", "--name", "对公", "--capacity", "8", "--queues", "corporate,field_visits"]);
        ok(t, &["batch", "--from", FIRST, "--to", MIDDLE]);

        // Work on three open cases the way collectors would: a promise, a dispute, calls.
        let open = rows(&t.db, "SELECT c.case_id || '|' || c.borrower_id FROM cases c JOIN borrowers b ON b.borrower_id = c.borrower_id \
             WHERE c.status = 'open' AND b.timezone = 'Asia/Shanghai' AND b.kind = 'individual' ORDER BY c.case_id").await;
        assert!(open.len() >= 3, "[{}] only {} open cases", t.backend, open.len());
        let (promised, disputed, called) = (&open[0][0], &open[1][0], &open[2][0]);
        ok(t, &[
            "action", "log", "--case", promised, "--channel", "call", "--outcome", "promise_to_pay", "--at",
            "2026-09-30T10:00:00+08:00", "--ptp-amount", "100.00", "--ptp-date", "2026-10-05", "--by", "c2",
            "--note", "客户承诺10月5日前还款100元",
        ]);
        ok(t, &[
            "action", "log", "--case", disputed, "--channel", "call", "--outcome", "dispute", "--at",
            "2026-09-30T11:00:00+08:00", "--by", "c2",
        ]);
        // Three conversations with one debtor in a day are the most the cn pack allows.
        for hour in ["09", "12", "15"] {
            let at = format!("2026-09-30T{hour}:00:00+08:00");
            ok(t, &["action", "log", "--case", called, "--channel", "call", "--outcome", "right_party_contact", "--at", &at, "--by", "c3"]);
        }
        let before = count(&t.db, "SELECT CAST(COUNT(*) AS BIGINT) FROM actions").await;
        let refused = arrears(t, &[
            "action", "log", "--case", called, "--channel", "call", "--outcome", "right_party_contact", "--at",
            "2026-09-30T17:00:00+08:00", "--by", "c3",
        ]);
        assert_eq!(refused.status.code(), Some(1), "[{}] a fourth call is refused", t.backend);
        assert!(text(&refused.stderr).contains("CN-"), "[{}] refusal names the rule: {}", t.backend, text(&refused.stderr));
        // A call at 23:00 local breaks the quiet hours.
        let night = arrears(t, &[
            "action", "log", "--case", promised, "--channel", "call", "--outcome", "no_answer", "--at",
            "2026-09-30T23:00:00+08:00",
        ]);
        assert_eq!(night.status.code(), Some(1), "[{}] a call at 23:00 is refused", t.backend);
        assert_eq!(
            count(&t.db, "SELECT CAST(COUNT(*) AS BIGINT) FROM actions WHERE allowed = 0").await,
            2,
            "[{}] refusals are recorded",
            t.backend
        );
        // A threatening note is not saved at all.
        let threat = arrears(t, &[
            "action", "log", "--case", promised, "--channel", "call", "--outcome", "refused", "--at",
            "2026-09-30T16:00:00+08:00", "--note", "再不还钱就打断你的腿",
        ]);
        assert!(!threat.status.success(), "[{}] a threatening note is refused", t.backend);
        assert_eq!(count(&t.db, "SELECT CAST(COUNT(*) AS BIGINT) FROM actions").await, before + 2);
        let listed: serde_json::Value =
            serde_json::from_str(&ok(t, &["action", "list", "--case", called, "--json"])).expect("JSON");
        let listed = listed.as_array().expect("array");
        assert_eq!(listed.len(), 4, "[{}] three calls and a refusal", t.backend);
        assert!(listed.iter().all(|a| a["at"].as_str().is_some_and(|s| s.ends_with("+08:00"))));

        // A vague menace in a note is saved and queued for compliance review.
        ok(t, &[
            "action", "log", "--case", promised, "--channel", "call", "--outcome", "no_answer", "--at",
            "2026-09-30T14:00:00+08:00", "--note", "已告知客户后果自负",
        ]);
        let review: serde_json::Value =
            serde_json::from_str(&ok(t, &["action", "list", "--review", "--json"])).expect("JSON");
        assert_eq!(review.as_array().map(Vec::len), Some(1), "[{}] one note to review", t.backend);
        assert_eq!(review[0]["content"], "warn");
        let shown: serde_json::Value =
            serde_json::from_str(&ok(t, &["case", "show", called, "--json"])).expect("JSON");
        assert_eq!(shown["actions"].as_array().map(Vec::len), Some(4), "[{}] case show has the actions", t.backend);
        assert!(shown["tasks"].as_array().is_some_and(|a| !a.is_empty()), "[{}] case show has the tasks", t.backend);

        // A supervisor changes the strategy from 2026-10-01: the e-mail step gets a new name.
        let config = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config");
        let default = std::fs::read_to_string(format!("{config}/strategies/default.toml")).expect("default strategy");
        let changed = default
            .replace("version = 1", "version = 2")
            .replace("effective_from = \"2026-01-01\"", "effective_from = \"2026-10-01\"")
            .replace("name = \"early_email\"", "name = \"early_email_v2\"");
        assert_ne!(changed, default);
        let file = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(file.path(), &changed).expect("write strategy");
        let broken = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(broken.path(), changed.replace("queue = \"mid_calls\"", "queue = \"nowhere\"")).expect("write");
        let refused = arrears(t, &["strategy", "install", broken.path().to_str().unwrap(), "--config", config]);
        assert_eq!(refused.status.code(), Some(1), "[{}] a strategy with errors is not installed", t.backend);
        assert!(text(&refused.stdout).contains("nowhere"), "[{}] {}", t.backend, text(&refused.stdout));
        ok(t, &["strategy", "install", file.path().to_str().unwrap(), "--config", config]);

        ok(t, &["batch", "--from", "2026-10-01", "--to", LAST]);
        let old_step = count(&t.db, "SELECT CAST(COUNT(*) AS BIGINT) FROM tasks WHERE step = 'early_email' AND created_on >= '2026-10-01'").await;
        let new_before = count(&t.db, "SELECT CAST(COUNT(*) AS BIGINT) FROM tasks WHERE step = 'early_email_v2' AND created_on < '2026-10-01'").await;
        let new_after = count(&t.db, "SELECT CAST(COUNT(*) AS BIGINT) FROM tasks WHERE step = 'early_email_v2'").await;
        assert_eq!((old_step, new_before), (0, 0), "[{}] each version applies from its date", t.backend);
        assert!(new_after > 0, "[{}] the installed version made work", t.backend);
        let tasks_before_rerun = count(&t.db, "SELECT CAST(COUNT(*) AS BIGINT) FROM tasks").await;
        ok(t, &["batch", "--date", LAST]);
        assert_eq!(
            count(&t.db, "SELECT CAST(COUNT(*) AS BIGINT) FROM tasks").await,
            tasks_before_rerun,
            "[{}] running a date again makes no new task",
            t.backend
        );
        check_everything(t, disputed).await;
        reports_and_moves(t).await;
    })
    .await;
}

/// The worst DPD of each case on a date, from the change-only snapshots (independent of treatment).
async fn worst_dpd(db: &Db) -> BTreeMap<(String, NaiveDate), i64> {
    // Per case and loan, the snapshot history; then for each task date the latest as_of <= date.
    let mut hist: BTreeMap<String, BTreeMap<String, Vec<(NaiveDate, i64)>>> = BTreeMap::new();
    let snap = rows(
        db,
        "SELECT cl.case_id || '|' || cl.loan_id || '|' || CAST(s.as_of AS TEXT) || '|' || CAST(s.dpd AS TEXT) \
         FROM case_loans cl JOIN snapshots s ON s.loan_id = cl.loan_id",
    )
    .await;
    for r in snap {
        hist.entry(r[0].clone())
            .or_default()
            .entry(r[1].clone())
            .or_default()
            .push((d(&r[2]), r[3].parse().unwrap()));
    }
    let dates = rows(db, "SELECT DISTINCT case_id || '|' || CAST(created_on AS TEXT) FROM tasks").await;
    let mut out = BTreeMap::new();
    for r in dates {
        let (case, on) = (r[0].clone(), d(&r[1]));
        let worst = hist
            .get(&case)
            .map(|loans| {
                loans
                    .values()
                    .filter_map(|h| {
                        h.iter().filter(|(a, _)| *a <= on).max_by_key(|(a, _)| *a).map(|(_, dpd)| *dpd)
                    })
                    .max()
                    .unwrap_or(0)
            })
            .unwrap_or(0);
        out.insert((case, on), worst);
    }
    out
}

async fn check_everything(t: &TestDb, disputed: &str) {
    let db = &t.db;
    let b = t.backend;
    let tasks = rows(
        db,
        "SELECT t.task_id || '|' || t.case_id || '|' || t.step || '|' || t.kind || '|' || CAST(t.created_on AS TEXT) \
         || '|' || t.status || '|' || t.segment || '|' || COALESCE(b.kind, '') || '|' || COALESCE(c.status, '') \
         || '|' || COALESCE(CAST(c.closed_on AS TEXT), '') || '|' || COALESCE(t.collector_id, '') || '|' \
         || COALESCE(CAST(t.allocated_on AS TEXT), '') || '|' || COALESCE(t.queue, '') \
         FROM tasks t JOIN cases c ON c.case_id = t.case_id LEFT JOIN borrowers b ON b.borrower_id = c.borrower_id",
    )
    .await;
    assert!(tasks.len() > 500, "[{b}] a 60-day run makes work: {} tasks", tasks.len());
    let worst = worst_dpd(db).await;
    let held: BTreeSet<String> = rows(db, "SELECT case_id FROM case_treatment WHERE hold IS NOT NULL")
        .await
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    assert!(held.contains(disputed), "[{b}] the disputed case is on hold");
    let mut kinds = BTreeSet::new();
    for r in &tasks {
        let (id, case, step, kind, on, status, segment, borrower_kind, case_status, closed_on) =
            (&r[0], &r[1], &r[2], &r[3], d(&r[4]), &r[5], &r[6], &r[7], &r[8], &r[9]);
        kinds.insert(kind.clone());
        // The segment is the first of on_hold / company / early / mid / late whose condition holds.
        let dpd = worst[&(case.clone(), on)];
        let expected = if held.contains(case) && segment == "on_hold" {
            "on_hold"
        } else if borrower_kind == "company" {
            "company"
        } else if dpd <= 30 {
            "early"
        } else if dpd <= 90 {
            "mid"
        } else {
            "late"
        };
        assert_eq!(segment, expected, "[{b}] task {id}: worst DPD {dpd}, borrower {borrower_kind}");
        // Step names carry their segment: no step fires for a segment it does not belong to.
        let prefix = if segment == "on_hold" { "hold_" } else { &format!("{segment}_") };
        assert!(step.starts_with(prefix), "[{b}] task {id} step {step} in segment {segment}");
        // A cured case gets nothing after it closed, and its open work was cancelled.
        if case_status == "closed" {
            let closed = d(closed_on);
            assert!(on < closed, "[{b}] task {id} made on {on}, case closed {closed}");
            assert!(
                !["pending", "due", "blocked"].contains(&status.as_str()),
                "[{b}] task {id} of a closed case is {status}"
            );
        }
    }
    assert!(kinds.contains("sms") && kinds.contains("call"), "[{b}] messages and calls: {kinds:?}");

    // Disputed: after the dispute only hold-kind steps.
    let after = rows(
        db,
        &format!(
            "SELECT kind FROM tasks WHERE case_id = '{disputed}' AND created_on > '2026-09-30' AND kind NOT IN ('hold', 'agency_recall', 'write_off_review')"
        ),
    )
    .await;
    assert!(after.is_empty(), "[{b}] a disputed case got {after:?}");

    // Placed cases get no internal treatment while placed.
    let inside = count(
        db,
        "SELECT CAST(COUNT(*) AS BIGINT) FROM tasks t JOIN placements p ON p.case_id = t.case_id \
         WHERE t.created_on > p.placed_on AND t.created_on <= COALESCE(p.recalled_on, p.until_on) \
         AND t.kind IN ('sms', 'email', 'voice_bot', 'call', 'visit', 'letter', 'guarantor_contact', 'agency_placement')",
    )
    .await;
    assert_eq!(inside, 0, "[{b}] internal tasks during a placement");
    let placements = count(db, "SELECT CAST(COUNT(*) AS BIGINT) FROM placements").await;
    let placement_steps = count(
        db,
        "SELECT CAST(COUNT(*) AS BIGINT) FROM tasks WHERE kind = 'agency_placement' AND status = 'done'",
    )
    .await;
    assert_eq!(placements, placement_steps, "[{b}] a placement per placement step");
    assert!(placements > 0, "[{b}] late cases were placed");
    let cured_work =
        count(db, "SELECT CAST(COUNT(*) AS BIGINT) FROM tasks WHERE reason = 'case closed'").await;
    assert!(cured_work > 0, "[{b}] cured cases had open work cancelled");
    let visits =
        count(db, "SELECT CAST(COUNT(*) AS BIGINT) FROM tasks WHERE kind = 'visit' AND status = 'blocked'")
            .await;
    assert_eq!(visits, 0, "[{b}] visits are scheduled, not blocked");

    // Allocation: within capacity, skills and days off.
    let load = rows(
        db,
        "SELECT t.collector_id || '|' || CAST(t.allocated_on AS TEXT) || '|' || CAST(COUNT(*) AS TEXT) FROM tasks t \
         WHERE t.collector_id IS NOT NULL GROUP BY t.collector_id, t.allocated_on",
    )
    .await;
    assert!(!load.is_empty(), "[{b}] some tasks were allocated");
    for r in &load {
        let cap = if r[0] == "corp" { 8 } else { 12 };
        assert!(r[2].parse::<i64>().unwrap() <= cap, "[{b}] {} got {} tasks on {}", r[0], r[2], r[1]);
        // c1 is off on 2026-09-10 and 2026-10-01: the runs of the day before allocate for those days.
        assert!(
            !(r[0] == "c1" && (r[1] == "2026-09-09" || r[1] == "2026-09-30")),
            "[{b}] c1 got work on a day off"
        );
    }
    for r in &tasks {
        let (collector, queue) = (&r[10], &r[12]);
        if collector == "corp" {
            assert!(["corporate", "field_visits"].contains(&queue.as_str()), "[{b}] corp got {queue}");
        } else if !collector.is_empty() {
            assert!(queue.ends_with("_calls"), "[{b}] {collector} got {queue}");
        }
    }

    // Champion / challenger: the configured 80/20 split, within four standard deviations.
    let arms = rows(
        db,
        "SELECT arm || '|' || CAST(COUNT(*) AS TEXT) FROM case_treatment WHERE experiment = 'early_voice_bot_2026' GROUP BY arm",
    )
    .await;
    let n: f64 = arms.iter().map(|r| r[1].parse::<f64>().unwrap()).sum();
    let challenger = arms.iter().find(|r| r[0] == "challenger").map_or(0.0, |r| r[1].parse::<f64>().unwrap());
    assert!(n > 100.0, "[{b}] {n} cases in the experiment");
    let sigma = (0.2 * 0.8 / n).sqrt();
    assert!((challenger / n - 0.2).abs() < 4.0 * sigma, "[{b}] challenger share {} of {n}", challenger / n);
    let bot_steps = count(
        db,
        "SELECT CAST(COUNT(*) AS BIGINT) FROM tasks WHERE step LIKE 'early_bot_%' AND arm <> 'challenger'",
    )
    .await;
    assert_eq!(bot_steps, 0, "[{b}] challenger steps only for challenger cases");

    // Every queued message goes out inside the local hours the pack allows.
    let msgs = rows(
        db,
        "SELECT o.send_at || '|' || COALESCE(b.timezone, 'Asia/Shanghai') || '|' || o.channel FROM outbox o \
         LEFT JOIN borrowers b ON b.borrower_id = o.borrower_id",
    )
    .await;
    assert!(msgs.len() > 100, "[{b}] {} messages", msgs.len());
    for r in &msgs {
        let at: DateTime<Utc> = DateTime::parse_from_rfc3339(&r[0]).expect("RFC 3339").with_timezone(&Utc);
        let tz: chrono_tz::Tz = r[1].parse().expect("zone");
        let local = at.with_timezone(&tz);
        let close = if r[1].starts_with("America/") { 21 } else { 22 };
        if r[2] != "letter" {
            assert!((8..close).contains(&local.hour()), "[{b}] {} message at {local} ({})", r[2], r[1]);
        }
    }
    every_contact_passes_the_pack(t).await;

    // The promise taken is judged by the batch.
    let judged =
        count(db, "SELECT CAST(COUNT(*) AS BIGINT) FROM ptps WHERE status IN ('kept', 'broken')").await;
    assert_eq!(judged, 1, "[{b}] the promise due 2026-10-05 was judged");
}

/// Every message still queued and every contact recorded as allowed passes its pack (cn, or us
/// for American zones), given every contact of the case before it: the batch's scheduling and
/// the action checks are re-judged here from the raw tables.
async fn every_contact_passes_the_pack(t: &TestDb) {
    use arrears_core::contact_policy::{
        Attempt, Channel, DebtorProfile, Hold, Holidays, Outcome, Party, PolicyPack, Proposal, Purpose,
        Source, check,
    };
    let b = t.backend;
    let events = rows(
        &t.db,
        "SELECT o.case_id || '|' || o.send_at || '|' || o.channel || '|borrower|delivered|outbox|' \
         || COALESCE(b.timezone, 'Asia/Shanghai') FROM outbox o JOIN cases c ON c.case_id = o.case_id \
         LEFT JOIN borrowers b ON b.borrower_id = c.borrower_id WHERE o.status <> 'cancelled' \
         UNION ALL \
         SELECT a.case_id || '|' || a.at_utc || '|' || a.channel || '|' || a.party || '|' || COALESCE(a.outcome, '') \
         || '|' || a.actor || '|' || COALESCE(b.timezone, 'Asia/Shanghai') FROM actions a \
         JOIN cases c ON c.case_id = a.case_id LEFT JOIN borrowers b ON b.borrower_id = c.borrower_id \
         WHERE a.allowed = 1",
    )
    .await;
    let mut by_case: BTreeMap<String, Vec<Vec<String>>> = BTreeMap::new();
    for e in events {
        by_case.entry(e[0].clone()).or_default().push(e);
    }
    let packs = (PolicyPack::builtin("cn").unwrap(), PolicyPack::builtin("us").unwrap());
    let mut checked = 0;
    for (case, mut evs) in by_case {
        evs.sort_by(|a, b| a[1].cmp(&b[1]));
        let mut history: Vec<Attempt> = Vec::new();
        let mut profile = DebtorProfile::default();
        for e in evs {
            let at = DateTime::parse_from_rfc3339(&e[1]).expect("RFC 3339").with_timezone(&Utc);
            let channel: Channel = e[2].parse().expect("channel");
            let tz: chrono_tz::Tz = e[6].parse().expect("zone");
            profile.timezones = vec![tz];
            let pack = if e[6].starts_with("America/") { &packs.1 } else { &packs.0 };
            let by = if e[5] == "outbox" {
                vec![]
            } else {
                arrears_core::contact_policy::CollectorId::new(e[5].as_str()).into_iter().collect()
            };
            let proposal = Proposal {
                party: Party::Debtor,
                channel,
                address: format!("{case}:{channel}"),
                at,
                by: by.clone(),
                source: Source::Lender,
                purpose: Purpose::Collect,
                debt: None,
                carries_opt_out: true,
            };
            let decision = check(pack, &proposal, &profile, &history, &Holidays::default());
            assert!(decision.allowed, "[{b}] case {case}: {} at {at} breaks {:?}", e[2], decision.refusals);
            checked += 1;
            let outcome = match e[4].as_str() {
                "delivered" => Outcome::Delivered,
                "no_answer" => Outcome::NoAnswer,
                "right_party_contact" | "callback" => Outcome::RightPartyContact,
                _ => Outcome::Conversation,
            };
            match e[4].as_str() {
                "dispute" => profile.holds.push(Hold::Dispute),
                "deceased" => profile.holds.push(Hold::Deceased),
                "bankrupt" => profile.holds.push(Hold::Bankruptcy),
                _ => {}
            }
            history.push(Attempt {
                at,
                party: Party::Debtor,
                channel,
                address: proposal.address.clone(),
                outcome,
                by,
                source: Source::Lender,
                debt: None,
            });
        }
    }
    assert!(checked > 100, "[{b}] {checked} contacts checked");
}

/// Agency commission, arm figures and a supervisor's move, against the raw tables.
async fn reports_and_moves(t: &TestDb) {
    let b = t.backend;
    // Payments inside each placement's window, summed here from the raw rows.
    let windows = rows(
        &t.db,
        "SELECT p.case_id || '|' || CAST(p.placed_on AS TEXT) || '|' || CAST(COALESCE(p.recalled_on, p.until_on) AS TEXT) \
         FROM placements p",
    )
    .await;
    let mut recovered = 0i64;
    for w in &windows {
        let pays = rows(
            &t.db,
            &format!(
                "SELECT CAST(p.paid_on AS TEXT) || '|' || CAST(p.amount AS TEXT) FROM payments p \
                 JOIN case_loans cl ON cl.loan_id = p.loan_id WHERE cl.case_id = '{}'",
                w[0]
            ),
        )
        .await;
        recovered += pays
            .iter()
            .filter(|p| d(&w[1]) <= d(&p[0]) && d(&p[0]) <= d(&w[2]))
            .map(|p| p[1].parse::<i64>().unwrap())
            .sum::<i64>();
    }
    let report: serde_json::Value =
        serde_json::from_str(&ok(t, &["agency", "report", "--json"])).expect("JSON");
    let a = &report[0];
    assert_eq!(a["agency_id"], "default_agency");
    assert_eq!(a["placements"].as_i64(), Some(windows.len() as i64), "[{b}] placements");
    assert_eq!(a["recovered_minor"].as_i64(), Some(recovered), "[{b}] recovered during placements");
    // 15%, half-up to the fen.
    let commission = (recovered * 15 + 50) / 100;
    assert_eq!(
        a["commission"].as_str(),
        Some(format!("{}.{:02}", commission / 100, commission % 100).as_str())
    );

    let arms: serde_json::Value =
        serde_json::from_str(&ok(t, &["strategy", "report", "--json"])).expect("JSON");
    let total: i64 = arms.as_array().unwrap().iter().map(|r| r["cases"].as_i64().unwrap()).sum();
    let stored =
        count(&t.db, "SELECT CAST(COUNT(*) AS BIGINT) FROM case_treatment WHERE experiment IS NOT NULL")
            .await;
    assert_eq!(total, stored, "[{b}] every experiment case is in one arm");
    assert!(arms.as_array().unwrap().iter().all(|r| r["cured"].as_i64() <= r["cases"].as_i64()));

    // A supervisor moves a case's open calls to another collector.
    let held = rows(&t.db, "SELECT case_id FROM tasks WHERE status = 'due' AND collector_id IS NOT NULL AND collector_id <> 'c4' ORDER BY task_id").await;
    let case = &held.first().expect("an allocated open task")[0];
    ok(t, &["case", "assign", case, "--collector", "c4"]);
    let left = count(
        &t.db,
        &format!("SELECT CAST(COUNT(*) AS BIGINT) FROM tasks WHERE case_id = '{case}' AND status = 'due' AND collector_id <> 'c4'"),
    )
    .await;
    assert_eq!(left, 0, "[{b}] the case's open calls moved");
    let bad = arrears(t, &["case", "assign", case, "--collector", "nobody"]);
    assert!(!bad.status.success(), "[{b}] an unknown collector is refused");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_product_s_contact_pack_decides_which_rules_apply() {
    let (_dir, book) = common::generated_book(600, 5, "2026-10-10");
    each_backend(async |t: &TestDb| {
        ok(t, &["import", book.to_str().unwrap()]);
        ok(t, &["batch", "--from", "2026-10-01", "--to", "2026-10-10"]);
        // Two open cases of Shanghai borrowers whose worst loans share a product.
        let cases = rows(
            &t.db,
            "SELECT s.product || '|' || c.case_id FROM cases c JOIN borrowers b ON b.borrower_id = c.borrower_id \
             JOIN case_loans cl ON cl.case_id = c.case_id JOIN loan_state s ON s.loan_id = cl.loan_id \
             WHERE c.status = 'open' AND b.timezone = 'Asia/Shanghai' ORDER BY s.product, c.case_id",
        )
        .await;
        let (product, first, second) = cases
            .windows(2)
            .find(|w| w[0][0] == w[1][0] && w[0][1] != w[1][1])
            .map(|w| (w[0][0].clone(), w[0][1].clone(), w[1][1].clone()))
            .expect("two open cases with one product");
        // 21:30 in Shanghai: inside the cn pack's hours (08:00-22:00), outside the us pack's (08:00-21:00).
        let at = "2026-10-11T21:30:00+08:00";
        let log = |case: &str| {
            arrears(t, &["action", "log", "--case", case, "--channel", "call", "--outcome", "no_answer", "--at", at])
        };
        let cn = log(&first);
        assert!(cn.status.success(), "[{}] cn allows 21:30: {}", t.backend, text(&cn.stderr));
        ok(t, &["product", "set", &product, "--contact-pack", "us"]);
        let listed: serde_json::Value = serde_json::from_str(&ok(t, &["product", "list", "--json"])).expect("JSON");
        let mine = listed.as_array().unwrap().iter().find(|p| p["product"] == product.as_str()).expect("product");
        assert_eq!(mine["contact_pack"], "us");
        let us = log(&second);
        assert_eq!(us.status.code(), Some(1), "[{}] the us pack refuses 21:30", t.backend);
        assert!(text(&us.stderr).contains("US-TIME"), "[{}] {}", t.backend, text(&us.stderr));
        let bad = arrears(t, &["product", "set", &product, "--contact-pack", "eu"]);
        assert!(!bad.status.success() && text(&bad.stderr).contains("contact-pack"), "{}", text(&bad.stderr));
    })
    .await;
}
