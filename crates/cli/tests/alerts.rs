//! Early-warning alerts through the binary over a generated book and 60 business days,
//! on SQLite always and on PostgreSQL when `ARREARS_TEST_PG` is set. The expected alerts
//! are worked out here from the raw tables (snapshots, promises, statements) without the
//! production code: each rule must fire exactly on the days its condition starts to hold,
//! once per episode, and never while an alert for the same borrower and rule is open.

mod common;
#[allow(dead_code)]
#[path = "../../app/tests/import/support.rs"]
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use arrears_store::Db;
use chrono::{Days, NaiveDate};
use common::{arrears, json, ok, rows, text};
use support::each_backend;

const AS_OF: &str = "2026-10-20";
const DAYS: u64 = 60;
/// The run is split after this many days; broken-promise alerts open then are closed.
const SPLIT: u64 = 12;

fn book() -> &'static Path {
    static BOOK: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, path) = BOOK.get_or_init(|| common::generated_book(2000, 11, AS_OF));
    path
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

fn plus(d: NaiveDate, n: u64) -> NaiveDate {
    d.checked_add_days(Days::new(n)).unwrap()
}

/// `n/d` in units of 1e-4, rounded half away from zero (the documented ratio rounding).
fn round4(n: i128, d: i128) -> Option<i128> {
    if d == 0 {
        return None;
    }
    let q = (n.abs() * 20000 + d.abs()) / (2 * d.abs());
    Some(if (n < 0) != (d < 0) { -q } else { q })
}

/// (period_end, current assets, current liabilities, inventory, revenue)
type Stmt = (NaiveDate, i128, i128, i128, i128);

/// The financial rules on the latest statement ending by `on`, worked out in integers.
fn financial_conditions(stmts: &[Stmt], on: NaiveDate) -> BTreeSet<&'static str> {
    let mut known: Vec<&Stmt> = stmts.iter().filter(|s| s.0 <= on).collect();
    known.sort();
    let mut out = BTreeSet::new();
    let Some(cur) = known.last() else { return out };
    if round4(cur.1, cur.2).is_some_and(|r| r < 10000) {
        out.insert("current_ratio_below_1");
    }
    if known.len() >= 2 {
        let prev = known[known.len() - 2];
        if round4(cur.4 - prev.4, prev.4.abs()).is_some_and(|g| g < -2000) {
            out.insert("revenue_down_20");
        }
        if let (Some(q), Some(qp)) = (round4(cur.1 - cur.3, cur.2), round4(prev.1 - prev.3, prev.2))
            && round4(q - qp, qp.abs()).is_some_and(|c| c < -3000)
        {
            out.insert("quick_ratio_drop_30");
        }
    }
    out
}

/// Everything the expectation needs, read from the raw tables after the run.
struct Raw {
    /// borrower → loan → [(as_of, dpd)] in date order.
    snapshots: BTreeMap<String, BTreeMap<String, Vec<(NaiveDate, i64)>>>,
    /// borrower → dates a promise of it was judged broken.
    broken: BTreeMap<String, BTreeSet<NaiveDate>>,
    /// borrower → dates a promise of it was judged (kept or broken).
    judged: BTreeMap<String, BTreeSet<NaiveDate>>,
    /// borrower → statements.
    stmts: BTreeMap<String, Vec<Stmt>>,
    /// borrower X → the other borrowers Y whose phone's blind index one of X's guarantor
    /// contacts has (the same mobile number).
    guarantors: BTreeMap<String, BTreeSet<String>>,
}

async fn read_raw(db: &Db) -> Raw {
    let mut raw = Raw {
        snapshots: BTreeMap::new(),
        broken: BTreeMap::new(),
        judged: BTreeMap::new(),
        stmts: BTreeMap::new(),
        guarantors: BTreeMap::new(),
    };
    for r in rows(
        db,
        "SELECT l.borrower_id, s.loan_id, CAST(s.as_of AS TEXT), CAST(s.dpd AS TEXT) \
         FROM snapshots s JOIN loans l ON l.loan_id = s.loan_id ORDER BY s.loan_id, s.as_of",
    )
    .await
    {
        raw.snapshots
            .entry(r[0].clone())
            .or_default()
            .entry(r[1].clone())
            .or_default()
            .push((day(&r[2]), r[3].parse().unwrap()));
    }
    for r in rows(
        db,
        "SELECT c.borrower_id, t.status, CAST(t.evaluated_on AS TEXT) FROM ptps t \
         JOIN cases c ON c.case_id = t.case_id WHERE t.evaluated_on IS NOT NULL",
    )
    .await
    {
        let on = day(&r[2]);
        raw.judged.entry(r[0].clone()).or_default().insert(on);
        if r[1] == "broken" {
            raw.broken.entry(r[0].clone()).or_default().insert(on);
        }
    }
    for r in rows(
        db,
        "SELECT borrower_id, CAST(period_end AS TEXT), CAST(current_assets AS TEXT), \
         CAST(current_liabilities AS TEXT), CAST(inventory AS TEXT), CAST(revenue AS TEXT) FROM financials",
    )
    .await
    {
        let n = |i: usize| r[i].parse::<i128>().unwrap();
        raw.stmts.entry(r[0].clone()).or_default().push((day(&r[1]), n(2), n(3), n(4), n(5)));
    }
    for r in rows(
        db,
        "SELECT c.borrower_id, y.borrower_id FROM contacts c, borrowers y \
         WHERE c.relation = 'guarantor' AND c.phone_bidx = y.phone_bidx AND c.phone_bidx <> '' \
         AND y.borrower_id <> c.borrower_id",
    )
    .await
    {
        raw.guarantors.entry(r[0].clone()).or_default().insert(r[1].clone());
    }
    raw
}

/// A borrower's worst DPD on `on`: over its loans, the latest snapshot on or before it.
fn max_dpd(raw: &Raw, b: &str, on: NaiveDate) -> i64 {
    raw.snapshots
        .get(b)
        .into_iter()
        .flat_map(|l| l.values())
        .filter_map(|snaps| snaps.iter().rev().find(|s| s.0 <= on).map(|s| s.1))
        .max()
        .unwrap_or(0)
}

/// Whether a loan of `b` has a snapshot dated `on`.
fn snapshot_on(raw: &Raw, b: &str, on: NaiveDate) -> bool {
    raw.snapshots.get(b).is_some_and(|l| l.values().flatten().any(|s| s.0 == on))
}

/// The alerts (borrower, rule, raised on) the rules should have raised over `dates`, with
/// the broken-promise alerts open after `split` closed.
fn expected(raw: &Raw, dates: &[NaiveDate], split: NaiveDate) -> BTreeSet<(String, String, NaiveDate)> {
    let mut borrowers: BTreeSet<&String> = raw.snapshots.keys().collect();
    borrowers.extend(raw.judged.keys());
    borrowers.extend(raw.stmts.keys());
    borrowers.extend(raw.guarantors.keys());
    let first = dates[0];
    let mut out = BTreeSet::new();
    for b in borrowers {
        let loans = raw.snapshots.get(b);
        let all: Vec<(NaiveDate, i64)> =
            loans.into_iter().flat_map(|l| l.values().flatten().copied()).collect();
        let first_seen = all.iter().map(|s| s.0).min();
        let first_delinquent = all.iter().filter(|s| s.1 > 0).map(|s| s.0).min();
        let others = raw.guarantors.get(b).cloned().unwrap_or_default();
        let stmts = raw.stmts.get(b).map(Vec::as_slice).unwrap_or_default();
        let mut holding: BTreeSet<&'static str> = BTreeSet::new();
        let mut open: BTreeSet<&'static str> = BTreeSet::new();
        for &on in dates {
            let evaluated = all.iter().any(|s| s.0 == on)
                || raw.judged.get(b).is_some_and(|d| d.contains(&on))
                || (on == first && !stmts.is_empty())
                || others.iter().any(|y| snapshot_on(raw, y, on));
            if evaluated {
                let mut now = financial_conditions(stmts, on);
                if others.iter().any(|y| max_dpd(raw, y, on) > 0) {
                    now.insert("guarantor_delinquent");
                }
                if max_dpd(raw, b, on) > 0
                    && first_seen.is_some_and(|f| f < on)
                    && first_delinquent.is_none_or(|f| f >= on)
                {
                    now.insert("first_missed_installment");
                }
                if raw.broken.get(b).is_some_and(|d| d.contains(&on)) {
                    now.insert("broken_promise");
                }
                for rule in &now {
                    if !holding.contains(rule) && !open.contains(rule) {
                        out.insert((b.clone(), rule.to_string(), on));
                        open.insert(rule);
                    }
                }
                holding = now;
            }
            if on == split {
                open.remove("broken_promise");
            }
        }
    }
    out
}

#[tokio::test]
async fn each_rule_fires_exactly_when_its_condition_starts_to_hold() {
    use arrears_core::Amount;
    use arrears_core::ptp::Promise;
    each_backend(async |t| {
        let d0 = day(AS_OF);
        let dates: Vec<NaiveDate> = (0..DAYS).map(|k| plus(d0, k)).collect();
        let split = plus(d0, SPLIT);
        let last = *dates.last().unwrap();
        ok(t, &["import", book().to_str().unwrap()]);
        ok(t, &["batch", "--date", AS_OF]);
        // The guarantor links read for the whole book at once (PostgreSQL's first dates)
        // give each page exactly what the page's own read gives.
        let links = arrears_store::alerts::guarantor_links(&t.db, &arrears_store::batch_chunks::KeyRange::ALL).await.unwrap();
        let all: Vec<String> =
            rows(&t.db, "SELECT borrower_id FROM borrowers ORDER BY borrower_id").await.into_iter().map(|r| r[0].clone()).collect();
        let mut linked = 0;
        for page in all.chunks(700) {
            let own = arrears_store::alerts::alert_inputs(&t.db, d0, page, None).await.unwrap();
            let shared = arrears_store::alerts::alert_inputs(&t.db, d0, page, Some(&links)).await.unwrap();
            assert_eq!(own, shared, "[{}]", t.backend);
            linked += own.values().filter(|x| !x.guarantors.is_empty()).count();
        }
        assert!(linked > 0, "[{}] the book has guarantors who are borrowers", t.backend);
        // Three promises on each of 40 open cases; a quarter of the first ones are paid.
        let cases = rows(
            &t.db,
            "SELECT c.case_id, MIN(cl.loan_id), MIN(l.currency) FROM cases c \
             JOIN case_loans cl ON cl.case_id = c.case_id JOIN loans l ON l.loan_id = cl.loan_id \
             WHERE c.status = 'open' GROUP BY c.case_id ORDER BY c.case_id",
        )
        .await;
        assert!(cases.len() >= 40, "[{}] only {} open cases", t.backend, cases.len());
        let mut tx = t.db.begin().await.unwrap();
        for (i, c) in cases.iter().take(40).enumerate() {
            let k = i as u64 % 10;
            // c breaks while a's alert may still be open; b after those alerts were closed.
            for (n, due) in [("a", plus(d0, 2 + k)), ("c", plus(d0, 4 + k)), ("b", plus(d0, 15 + k))] {
                let p = Promise { promised_on: plus(d0, 1), due_on: due, amount: Amount::from_minor(100) };
                arrears_store::ptps::add_ptp(&mut tx, &format!("T{i}{n}"), &c[0], &c[2], &p).await.unwrap();
            }
        }
        tx.commit().await.unwrap();
        for (i, c) in cases.iter().take(40).enumerate().filter(|(i, _)| i % 4 == 0) {
            let on = plus(d0, 2 + i as u64 % 10).to_string();
            ok(
                t,
                &[
                    "payment",
                    "add",
                    "--id",
                    &format!("P{i}"),
                    "--loan",
                    &c[1],
                    "--date",
                    &on,
                    "--amount",
                    "100.00",
                ],
            );
        }
        ok(t, &["batch", "--from", &plus(d0, 1).to_string(), "--to", &split.to_string()]);
        // People act on alerts between the two parts of the run.
        let open = json(t, &["alert", "list", "--status", "open", "--json"]);
        let mut closed = 0;
        for a in open.as_array().unwrap() {
            let id = a["id"].as_i64().unwrap().to_string();
            if a["rule_id"] == "broken_promise" {
                ok(t, &["alert", "close", &id, "--note", "已联系，重新承诺 / called, promised again"]);
                closed += 1;
            } else if a["rule_id"] == "first_missed_installment" {
                ok(t, &["alert", "ack", &id, "--note", "seen"]);
            }
        }
        assert!(closed > 0, "[{}] no broken promise before the split", t.backend);
        ok(t, &["batch", "--from", &plus(split, 1).to_string(), "--to", &last.to_string()]);

        let raw = read_raw(&t.db).await;
        let want = expected(&raw, &dates, split);
        let got: BTreeSet<(String, String, NaiveDate)> =
            rows(&t.db, "SELECT borrower_id, rule_id, CAST(raised_on AS TEXT) FROM alerts")
                .await
                .into_iter()
                .map(|r| (r[0].clone(), r[1].clone(), day(&r[2])))
                .collect();
        let missing: Vec<_> = want.difference(&got).take(5).collect();
        let extra: Vec<_> = got.difference(&want).take(5).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "[{}] missing {missing:?}, unexpected {extra:?}",
            t.backend
        );
        // Each alert names the case its borrower had open on the date it was raised, if any.
        let cases_of_alerts = rows(
            &t.db,
            "SELECT CAST(a.alert_id AS TEXT), COALESCE(a.case_id, '-'), COALESCE((SELECT MIN(c.case_id) \
             FROM cases c WHERE c.borrower_id = a.borrower_id AND c.opened_on <= a.raised_on \
             AND (c.closed_on IS NULL OR c.closed_on > a.raised_on)), '-') FROM alerts a",
        )
        .await;
        let wrong: Vec<_> = cases_of_alerts.iter().filter(|r| r[1] != r[2]).take(5).collect();
        assert!(wrong.is_empty(), "[{}] alerts naming the wrong case (id, named, open): {wrong:?}", t.backend);
        let named = cases_of_alerts.iter().filter(|r| r[1] != "-").count();
        assert!(named > 0 && named < cases_of_alerts.len(), "[{}] {named} alerts name a case", t.backend);
        let count = |rule: &str| got.iter().filter(|g| g.1 == rule).count();
        eprintln!(
            "[{}] alerts: {} in all; {:?}",
            t.backend,
            got.len(),
            [
                "current_ratio_below_1",
                "quick_ratio_drop_30",
                "revenue_down_20",
                "first_missed_installment",
                "broken_promise",
                "guarantor_delinquent"
            ]
            .map(|r| (r, count(r)))
        );
        for rule in
            ["current_ratio_below_1", "first_missed_installment", "broken_promise", "guarantor_delinquent"]
        {
            assert!(count(rule) > 0, "[{}] the test never saw {rule} fire", t.backend);
        }
        assert!(
            count("quick_ratio_drop_30") + count("revenue_down_20") > 0,
            "[{}] no decline alerts",
            t.backend
        );
        assert_eq!(count("score_deterioration"), 0, "no scores are stored, so that rule never fires");
        let brokens: Vec<_> = got.iter().filter(|g| g.1 == "broken_promise").collect();
        assert!(
            brokens.iter().any(|g| brokens.iter().any(|h| h.0 == g.0 && h.2 != g.2)),
            "[{}] a borrower should have a second broken-promise episode after the first alert closed",
            t.backend
        );

        // A guarantor's alert names the contact, the borrower it is and that borrower's DPD on
        // the date; it goes to risk and collections.
        let guarantor = rows(
            &t.db,
            "SELECT a.borrower_id, CAST(a.raised_on AS TEXT), a.vals, a.departments FROM alerts a \
             WHERE a.rule_id = 'guarantor_delinquent' ORDER BY a.alert_id",
        )
        .await;
        for g in &guarantor {
            let v: serde_json::Value = serde_json::from_str(&g[2]).unwrap();
            let (c, y) =
                (v["guarantor.contact_id"].as_str().unwrap(), v["guarantor.borrower_id"].as_str().unwrap());
            assert_eq!(
                v["guarantor.dpd"].as_i64(),
                Some(max_dpd(&raw, y, day(&g[1]))),
                "[{}] {g:?}",
                t.backend
            );
            assert!(raw.guarantors[&g[0]].contains(y), "[{}] {g:?}", t.backend);
            let contact =
                rows(&t.db, &format!(
                    "SELECT c.borrower_id, c.relation FROM contacts c JOIN borrowers y ON y.phone_bidx = c.phone_bidx \
                     WHERE c.contact_id = '{c}' AND y.borrower_id = '{y}'"
                ))
                    .await;
            assert_eq!(contact, vec![vec![g[0].clone(), "guarantor".to_string()]], "[{}] {g:?}", t.backend);
            assert_eq!(g[3], "risk,collections", "[{}]", t.backend);
        }

        // Running the last date again raises nothing new.
        let before = t.db.count("alerts").await.unwrap();
        ok(t, &["batch", "--date", &last.to_string()]);
        assert_eq!(t.db.count("alerts").await.unwrap(), before, "[{}] a second run raised alerts", t.backend);

        // The values that fired an alert are stored with it, and listing filters work.
        let list = json(t, &["alert", "list", "--status", "closed", "--json"]);
        assert_eq!(list.as_array().unwrap().len(), closed, "[{}]", t.backend);
        let first = &list[0];
        assert!(first["values"]["ptp.broken_today"].as_i64().unwrap() >= 1, "{first}");
        assert!(
            first["notes"][0].as_str().unwrap().ends_with("已联系，重新承诺 / called, promised again"),
            "{first}"
        );
        let b = first["borrower_id"].as_str().unwrap();
        let mine = json(t, &["alert", "list", "--borrower", b, "--json"]);
        assert!(mine.as_array().unwrap().iter().all(|a| a["borrower_id"] == b));
        let id = first["id"].as_i64().unwrap().to_string();
        let out = arrears(t, &["alert", "ack", &id, "--note", "late"]);
        assert!(!out.status.success(), "acknowledging a closed alert is refused");
        assert!(text(&out.stderr).contains("closed"), "{}", text(&out.stderr));
        let out = arrears(t, &["alert", "close", "999999", "--note", "x"]);
        assert!(text(&out.stderr).contains("999999"), "{}", text(&out.stderr));
    })
    .await;
}

#[tokio::test]
async fn ability_explains_each_figure() {
    each_backend(async |t| {
        ok(t, &["import", book().to_str().unwrap()]);
        let company = rows(
            &t.db,
            "SELECT borrower_id, CAST(current_assets AS TEXT), CAST(current_liabilities AS TEXT), \
             CAST(period_end AS TEXT) FROM financials ORDER BY borrower_id, period_end DESC",
        )
        .await;
        let c = &company[0];
        let v = json(t, &["ability", &c[0], "--date", AS_OF, "--json"]);
        let cr = v["company"].as_array().unwrap().iter().find(|f| f["code"] == "current_ratio").unwrap();
        let want = round4(c[1].parse().unwrap(), c[2].parse().unwrap()).unwrap();
        let got: f64 = cr["value"].as_str().unwrap().parse().unwrap();
        assert_eq!((got * 10000.0).round() as i128, want, "{cr}");
        assert_eq!(cr["period_end"], c[3].as_str(), "{cr}");
        assert_eq!(cr["inputs"][0]["name"], "current_assets");
        let zh = ok(t, &["ability", &c[0], "--date", AS_OF]);
        assert!(zh.contains("流动比率") && zh.contains("公式"), "{zh}");
        let en = ok(t, &["ability", &c[0], "--date", AS_OF, "--lang", "en"]);
        assert!(en.contains("current_ratio") && en.contains("formula"), "{en}");
        let util = v["behaviour"].as_array().unwrap().iter().find(|f| f["code"] == "utilisation").unwrap();
        assert!(util["value"].is_null() && util["missing"]["en"].as_str().unwrap().contains("credit limit"));
        let out = arrears(t, &["ability", "NOBODY", "--json"]);
        assert!(!out.status.success() && text(&out.stderr).contains("NOBODY"));
    })
    .await;
}

#[test]
fn alert_check_reports_lines_and_accepts_the_shipped_rules() {
    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/alerts/default.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_arrears")).args(["alert", "check", shipped]).output().unwrap();
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "version = 1\n[[rule]]\nid = \"r\"\ndescription = \"d\"\nseverity = \"high\"\n\
         departments = [\"risk\"]\nwhen = 'fin.curent_ratio < 1.0'\n",
    )
    .unwrap();
    let out =
        Command::new(env!("CARGO_BIN_EXE_arrears")).args(["alert", "check"]).arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let shown = text(&out.stdout);
    let name = bad.display().to_string();
    assert!(shown.contains(&format!("{name}:5:12: severity \"high\"")), "{shown}");
    assert!(shown.contains(&format!("{name}:7:9: when: unknown field `fin.curent_ratio`")), "{shown}");
}
