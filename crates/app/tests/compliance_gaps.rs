//! The compliance gaps of issue 5 against real databases (SQLite always, PostgreSQL when
//! `ARREARS_TEST_PG` is set), each checked from the raw tables:
//! - restrictions on a borrower's contacts (refusal, do-not-contact number, opt-out,
//!   inconvenient time) are honoured by `action log` and by the batch, with rule ids, and audited;
//! - a contact logged with purpose `notice` passes a cease request in the us pack, nothing else
//!   does, and the purpose is stored;
//! - the retention purge removes sealed restriction numbers of borrowers past retention only;
//! - every rendered outgoing message is scanned: a name that renders a template into a blocked
//!   text is not queued (its task is blocked with the rule), a warning is queued for review.

#[allow(dead_code)]
#[path = "import/support.rs"]
mod support;

use arrears_app::actions::{ActionError, ActionInput};
use arrears_app::batch::{BatchOptions, Quiet as BatchQuiet, run_batch};
use arrears_app::import::{Quiet, import_dir_with_keys};
use arrears_app::restrictions::{self as uc, NewInput, RestrictionError};
use arrears_store::Db;
use arrears_store::personal::Keyring;
use chrono::{DateTime, NaiveDate};
use sqlx::Row as _;
use support::{TestDb, clock, each_backend, now};

fn d(s: &str) -> NaiveDate {
    arrears_core::calendar::parse_iso_date(s).unwrap()
}

/// The batch date: loans due 2026-09-15 are 45 days past due (the guarantor step), those due
/// 2026-10-29 one day (the first reminder).
const BATCH: &str = "2026-10-30";

/// B1 (Shanghai) with a guarantor G1, a second guarantor G2 and a spouse S1; B2 (Shanghai) with
/// a lone guarantor G3; B3 (New York); B4, B5, B6 due yesterday, named so that the soft reminder
/// renders into an insult (B4), a vague menace (B5) or nothing wrong (B6); B7 repaid in 2018.
fn book() -> tempfile::TempDir {
    support::write_files(&[
        (
            "borrowers.csv",
            "borrower_id,kind,name,national_id,phone,email,timezone,language\n\
             B1,individual,张三,110101198001011234,13800000001,zhang@example.com,Asia/Shanghai,zh\n\
             B2,individual,李四,110101198001015678,13800000002,li@example.com,Asia/Shanghai,zh\n\
             B3,individual,Jo Smith,123456789,+12125550103,jo@example.com,America/New_York,en\n\
             B4,individual,老赖,110101198001014444,13800000004,,Asia/Shanghai,zh\n\
             B5,individual,走着瞧,110101198001015555,13800000005,,Asia/Shanghai,zh\n\
             B6,individual,赵六,110101198001016666,13800000006,,Asia/Shanghai,zh\n\
             B7,individual,钱七,110101198001017777,13800000007,,Asia/Shanghai,zh\n",
        ),
        (
            "contacts.csv",
            "contact_id,borrower_id,relation,name,phone,email,consent\n\
             G1,B1,guarantor,担保一,13900000011,g1@example.com,true\n\
             G2,B1,guarantor,担保二,13900000012,,true\n\
             S1,B1,spouse,配偶一,13900000013,,true\n\
             G3,B2,guarantor,担保三,13900000021,,true\n\
             S7,B7,spouse,配偶七,13900000071,,true\n",
        ),
        (
            "loans.csv",
            "loan_id,borrower_id,product,currency,principal,annual_rate,term_months,disbursed_on,method,penalty_rate,grace_days\n\
             L1,B1,P,CNY,5000.00,0.12,1,2026-08-15,bullet,0.18,0\n\
             L2,B2,P,CNY,5000.00,0.12,1,2026-08-15,bullet,0.18,0\n\
             L3,B3,P,USD,5000.00,0.12,1,2026-08-15,bullet,0.18,0\n\
             L4,B4,P,CNY,5000.00,0.12,1,2026-09-29,bullet,0.18,0\n\
             L5,B5,P,CNY,5000.00,0.12,1,2026-09-29,bullet,0.18,0\n\
             L6,B6,P,CNY,5000.00,0.12,1,2026-09-29,bullet,0.18,0\n\
             L7,B7,P,CNY,1000.00,0.12,1,2018-01-15,bullet,0.18,0\n",
        ),
        ("payments.csv", "payment_id,loan_id,paid_on,amount,channel\nP7,L7,2018-02-15,1010.00,bank\n"),
    ])
}

/// Imports the book and runs the batch of [`BATCH`] with its keys.
async fn setup(t: &TestDb, dir: &tempfile::TempDir, keys: &Keyring) {
    import_dir_with_keys(&t.db, dir.path(), &now(), &Quiet, keys).await.unwrap();
    let day = d(BATCH);
    run_batch(&t.db, &t.url, day..=day, day, &clock(), BatchOptions::default(), &BatchQuiet)
        .await
        .unwrap_or_else(|e| panic!("[{}] batch: {e}", t.backend));
}

fn restriction(who: (&str, Option<&str>), kind: &str, f: impl FnOnce(&mut NewInput)) -> NewInput {
    let mut i = NewInput {
        borrower_id: who.0.into(),
        contact_id: who.1.map(String::from),
        kind: kind.into(),
        by: "u1".into(),
        ..Default::default()
    };
    f(&mut i);
    i
}

async fn strings(db: &Db, sql: &str) -> Vec<String> {
    arrears_store::on_pool!(db, p => sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(p).await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .iter().map(|r| r.get::<String, _>(0)).collect())
}

async fn case_of(db: &Db, borrower: &str) -> String {
    let sql = format!("SELECT case_id FROM cases WHERE borrower_id = '{borrower}' AND status = 'open'");
    strings(db, &sql).await.pop().unwrap_or_else(|| panic!("no open case for {borrower}"))
}

fn contact(case: &str, party: &str, channel: &str, at: &str) -> ActionInput {
    ActionInput {
        case_id: case.into(),
        at: DateTime::parse_from_rfc3339(at).unwrap(),
        actor: "c1".into(),
        agency: None,
        channel: channel.into(),
        party: party.into(),
        outcome: "right_party_contact".into(),
        note: String::new(),
        promise: None,
        purpose: None,
    }
}

/// The rule ids of a refused contact, or an empty list when it was logged.
async fn refused_by(db: &Db, input: ActionInput) -> Vec<String> {
    let scanner = arrears_content::Scanner::default();
    // Logged as it happens.
    let logged = input.at;
    match arrears_app::actions::log(db, &scanner, input, &logged).await {
        Ok(_) => Vec::new(),
        Err(ActionError::Refused { messages, .. }) => messages
            .iter()
            .map(|m| m.trim_start_matches("拒绝：").split('，').next().unwrap_or("").to_string())
            .collect(),
        Err(e) => panic!("{e}"),
    }
}

/// Audit entries of a kind that name an entity.
async fn audited(db: &Db, kind: &str, entity: &str) -> usize {
    arrears_store::audit::all_entries(db)
        .await
        .unwrap()
        .iter()
        .map(|(_, body)| arrears_audit::Entry::decode(body).unwrap())
        .filter(|e| e.kind == kind && e.entity_ids.iter().any(|x| x == entity))
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn contact_restrictions_are_honoured_by_logged_contacts_and_audited() {
    let dir = book();
    each_backend(async |t| {
        let keys = Keyring::ephemeral();
        setup(t, &dir, &keys).await;
        let (db, today) = (&t.db, d(BATCH));
        let k1 = case_of(db, "B1").await;
        // Monday 2 November, 10:00 and 12:30 in Shanghai.
        let (ten, half_past_noon) = ("2026-11-02T10:00:00+08:00", "2026-11-02T12:30:00+08:00");
        // Before any restriction: the guarantor may be called and texted, the spouse only once
        // the debtor is unreachable.
        assert_eq!(refused_by(db, contact(&k1, "G1", "call", ten)).await, Vec::<String>::new());
        assert_eq!(refused_by(db, contact(&k1, "S1", "call", ten)).await, ["CN-PARTY-02"]);

        let rows_before = db.count("contact_restrictions").await.unwrap();
        for i in [
            restriction(("", Some("S1")), "refusal", |i| i.date = Some(d("2026-10-29"))),
            restriction(("", Some("G1")), "do-not-contact", |i| i.number = Some("139-0000-0011".into())),
            restriction(("B1", Some("G1")), "opt-out", |i| i.channel = Some("email".into())),
            restriction(("", Some("G2")), "inconvenient", |i| {
                i.from = Some("12:00".into());
                i.to = Some("14:00".into());
            }),
        ] {
            let v = uc::restrict(db, &keys, &i, today, &now()).await.unwrap_or_else(|e| panic!("{i:?}: {e}"));
            assert_eq!(v.borrower_id, "B1", "[{}] the contact's borrower", t.backend);
            assert_eq!(v.contact_id.as_deref(), i.contact_id.as_deref());
        }
        assert_eq!(db.count("contact_restrictions").await.unwrap(), rows_before + 4);
        // Audited with the contact named, the number never (sealed, masked when listed).
        assert_eq!(audited(db, "contact.restricted", "contact:S1").await, 1, "[{}]", t.backend);
        assert_eq!(audited(db, "contact.restricted", "contact:G1").await, 2);
        let stored =
            strings(db, "SELECT address FROM contact_restrictions WHERE contact_id = 'G1' AND address <> ''")
                .await;
        assert!(
            stored.len() == 1 && stored[0].starts_with("v1:") && !stored[0].contains("0011"),
            "{stored:?}"
        );
        let listed = uc::list(db, &keys, Some("B1")).await.unwrap();
        assert!(listed.iter().any(|v| v.address.as_deref() == Some("139****0011")), "{listed:?}");

        // (party, channel, local time, refusing rules)
        let cases: &[(&str, &str, &str, &[&str])] = &[
            ("S1", "call", ten, &["CN-PARTY-02", "CN-PARTY-03"]),
            ("G1", "call", ten, &["CN-DNC-01"]),
            ("G1", "email", ten, &["CN-OPT-01"]),
            ("G2", "call", half_past_noon, &["CN-TIME-02"]),
            ("G2", "call", ten, &[]),
            // The borrower's own contacts are not touched by their contacts' restrictions.
            ("borrower", "call", half_past_noon, &[]),
            ("borrower", "email", ten, &[]),
        ];
        for (party, channel, at, want) in cases {
            let got = refused_by(db, contact(&k1, party, channel, at)).await;
            assert_eq!(got, *want, "[{}] {party} {channel} {at}", t.backend);
        }
        let refused = strings(
            db,
            "SELECT policy FROM actions WHERE allowed = 0 AND contact_id = 'S1' ORDER BY action_id",
        )
        .await;
        assert!(
            refused.last().unwrap().contains("CN-PARTY-03"),
            "[{}] stored with the rule: {refused:?}",
            t.backend
        );

        // Lifting the refusal makes the spouse a third party like before (audited as well).
        let s1 = listed.iter().find(|v| v.contact_id.as_deref() == Some("S1")).unwrap();
        uc::lift(db, &keys, s1.restriction_id, d("2026-11-01"), &now(), "u2", "asked again").await.unwrap();
        assert_eq!(audited(db, "contact.restriction_lifted", "contact:S1").await, 1);
        assert_eq!(refused_by(db, contact(&k1, "S1", "call", ten)).await, ["CN-PARTY-02"]);

        // Bad input changes nothing.
        let entries = arrears_store::audit::all_entries(db).await.unwrap().len();
        let rows = db.count("contact_restrictions").await.unwrap();
        let bad: Vec<(NewInput, &str)> = vec![
            (restriction(("", Some("X9")), "refusal", |i| i.date = Some(today)), "no contact \"X9\""),
            (restriction(("B2", Some("G1")), "refusal", |i| i.date = Some(today)), "borrower B1's, not B2's"),
            (restriction(("", Some("G1")), "cease", |i| i.date = Some(today)), "not a contact's"),
            (restriction(("B1", None), "refusal", |i| i.date = Some(today)), "is a contact's"),
        ];
        for (i, want) in bad {
            let err = uc::restrict(db, &keys, &i, today, &now()).await.unwrap_err();
            assert!(err.to_string().contains(want), "[{}] {i:?}: {err}", t.backend);
            if want.starts_with("no contact") {
                assert!(matches!(err, RestrictionError::UnknownContact(_)), "{err}");
            }
        }
        assert_eq!(db.count("contact_restrictions").await.unwrap(), rows);
        assert_eq!(arrears_store::audit::all_entries(db).await.unwrap().len(), entries);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_batch_honours_contact_restrictions_of_guarantors() {
    let dir = book();
    each_backend(async |t| {
        let keys = Keyring::ephemeral();
        import_dir_with_keys(&t.db, dir.path(), &now(), &Quiet, &keys).await.unwrap();
        let db = &t.db;
        // B1's first guarantor refused; B2's only guarantor refused too.
        for who in ["G1", "G3"] {
            let i = restriction(("", Some(who)), "refusal", |i| i.date = Some(d("2026-10-01")));
            uc::restrict(db, &keys, &i, d("2026-10-01"), &now()).await.unwrap();
        }
        let day = d(BATCH);
        run_batch(db, &t.url, day..=day, day, &clock(), BatchOptions::default(), &BatchQuiet)
            .await
            .unwrap();
        let task = |b: &str| {
            format!(
                "SELECT t.status || '|' || COALESCE(t.reason, '') FROM tasks t JOIN cases c ON c.case_id = t.case_id \
                 WHERE c.borrower_id = '{b}' AND t.kind = 'guarantor_contact'"
            )
        };
        let b1 = strings(db, &task("B1")).await;
        assert_eq!(b1.len(), 1, "[{}] the guarantor step fired: {b1:?}", t.backend);
        assert!(b1[0].starts_with("due|"), "[{}] B1's second guarantor may be called: {b1:?}", t.backend);
        let b2 = strings(db, &task("B2")).await;
        assert_eq!(b2.len(), 1, "[{}] {b2:?}", t.backend);
        assert!(b2[0].starts_with("blocked|") && b2[0].contains("CN-PARTY-03"), "[{}] {b2:?}", t.backend);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_notice_passes_a_cease_request_and_nothing_else_does() {
    let dir = book();
    each_backend(async |t| {
        let keys = Keyring::ephemeral();
        setup(t, &dir, &keys).await;
        let db = &t.db;
        let k3 = case_of(db, "B3").await;
        let cease = restriction(("B3", None), "cease", |i| i.date = Some(d("2026-10-20")));
        uc::restrict(db, &keys, &cease, d(BATCH), &now()).await.unwrap();
        // Monday 2 November, 10:00 in New York.
        let at = "2026-11-02T10:00:00-05:00";
        // Calls that nobody answers: no conversation, so no frequency rule interferes.
        let with = |purpose: Option<&str>| ActionInput {
            purpose: purpose.map(String::from),
            outcome: "no_answer".into(),
            ..contact(&k3, "borrower", "call", at)
        };
        let actions = db.count("actions").await.unwrap();
        let bad = arrears_app::actions::log(
            db,
            &arrears_content::Scanner::default(),
            with(Some("threaten")),
            &now(),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(bad, ActionError::Purpose(_)) && bad.to_string().contains("collect, locate or notice"),
            "{bad}"
        );
        assert_eq!(db.count("actions").await.unwrap(), actions, "a bad purpose stores nothing");

        // (purpose given, refusing rules, purpose stored)
        let cases: &[(Option<&str>, &[&str], &str)] = &[
            (None, &["US-CEASE-01"], "collect"),
            (Some("collect"), &["US-CEASE-01"], "collect"),
            (Some("locate"), &["US-CEASE-01"], "locate"),
            (Some("notice"), &[], "notice"),
        ];
        for (purpose, want, stored) in cases {
            assert_eq!(refused_by(db, with(*purpose)).await, *want, "[{}] {purpose:?}", t.backend);
            let last = strings(
                db,
                "SELECT purpose || '|' || CAST(allowed AS TEXT) FROM actions ORDER BY action_id DESC LIMIT 1",
            )
            .await;
            let allowed = if want.is_empty() { 1 } else { 0 };
            assert_eq!(last, [format!("{stored}|{allowed}")], "[{}] {purpose:?}", t.backend);
        }
        // A notice is still a contact: outside 08:00–21:00 it is refused like any other.
        let late = ActionInput {
            at: DateTime::parse_from_rfc3339("2026-11-02T21:00:00-05:00").unwrap(),
            ..with(Some("notice"))
        };
        assert_eq!(refused_by(db, late).await, ["US-TIME-01"]);
        // The purpose is in the audit entry.
        let notices = arrears_store::audit::all_entries(db)
            .await
            .unwrap()
            .iter()
            .map(|(_, body)| arrears_audit::Entry::decode(body).unwrap())
            .filter(|e| {
                e.kind == "action.logged"
                    && e.facts.get("purpose").is_some_and(|v| format!("{v:?}").contains("notice"))
            })
            .count();
        assert_eq!(notices, 1, "[{}]", t.backend);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn retention_purge_removes_restriction_numbers_past_retention_only() {
    let dir = book();
    each_backend(async |t| {
        let keys = Keyring::ephemeral();
        setup(t, &dir, &keys).await;
        let db = &t.db;
        let today = d(BATCH);
        // B7 repaid in 2018 and its case closed in 2019; B1 still owes.
        arrears_store::on_pool!(db, p => {
            sqlx::query("INSERT INTO cases (case_id, borrower_id, opened_on, closed_on, status) VALUES ($1, $2, $3, $4, $5)")
                .bind("K-OLD").bind("B7").bind(d("2018-03-01")).bind(d("2019-03-01")).bind("closed")
                .execute(p).await.unwrap();
        });
        for i in [
            restriction(("B7", None), "do-not-contact", |i| i.number = Some("13800000007".into())),
            restriction(("B7", None), "attorney", |i| {
                i.name = Some("王律师".into());
                i.phone = Some("13700000077".into());
            }),
            restriction(("", Some("S7")), "opt-out", |i| {
                i.channel = Some("sms".into());
                i.address = Some("13900000071".into());
            }),
            restriction(("B1", None), "do-not-contact", |i| i.number = Some("13800000001".into())),
            restriction(("", Some("G1")), "do-not-contact", |i| i.number = Some("13900000011".into())),
        ] {
            uc::restrict(db, &keys, &i, today, &now()).await.unwrap();
        }
        let raw = |b: &str| {
            format!(
                "SELECT kind || '|' || address || '|' || address_bidx || '|' || COALESCE(attorney_name, '-') \
                 FROM contact_restrictions WHERE borrower_id = '{b}' ORDER BY restriction_id"
            )
        };
        let sealed = |rows: &[String]| rows.iter().all(|r| r.split('|').nth(1).is_some_and(|a| a.starts_with("v1:")));
        assert!(sealed(&strings(db, &raw("B7")).await), "sealed before the purge");
        let b1_before = strings(db, &raw("B1")).await;

        // Eight years keeps 2019 within retention: nothing changes.
        let r = arrears_app::personal::purge(db, today, Some(8), "cn", &now(), "user:test").await.unwrap();
        assert!(r.borrowers.is_empty(), "[{}] {r:?}", t.backend);
        assert!(sealed(&strings(db, &raw("B7")).await));
        // The cn pack's five years reach it.
        let r = arrears_app::personal::purge(db, today, None, "cn", &now(), "user:test").await.unwrap();
        assert_eq!(r.borrowers, ["B7"], "[{}]", t.backend);
        let b7 = strings(db, &raw("B7")).await;
        assert_eq!(b7, ["do_not_contact|||", "attorney|||", "opt_out|||"], "[{}] numbers and names gone, kinds kept", t.backend);
        assert_eq!(strings(db, &raw("B1")).await, b1_before, "[{}] B1 and its contact keep theirs", t.backend);
        assert!(sealed(&b1_before) && b1_before.len() == 2);
        // Listing a purged restriction shows no number and does not fail.
        let listed = uc::list(db, &keys, Some("B7")).await.unwrap();
        assert!(listed.iter().all(|v| v.address.is_none()), "{listed:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rendered_messages_are_scanned_before_the_outbox() {
    let dir = book();
    each_backend(async |t| {
        let keys = Keyring::ephemeral();
        setup(t, &dir, &keys).await;
        let db = &t.db;
        let sms = |b: &str| {
            format!(
                "SELECT t.status || '|' || COALESCE(t.reason, '') FROM tasks t JOIN cases c ON c.case_id = t.case_id \
                 WHERE c.borrower_id = '{b}' AND t.kind = 'sms'"
            )
        };
        let outbox = |b: &str| {
            format!(
                "SELECT status || '|' || content || '|' || content_rules FROM outbox WHERE borrower_id = '{b}'"
            )
        };
        // 老赖 renders the soft reminder into an insult: blocked with the rule, never queued.
        let b4 = strings(db, &sms("B4")).await;
        assert_eq!(b4.len(), 1, "[{}] the first reminder fired: {b4:?}", t.backend);
        assert!(b4[0].starts_with("blocked|") && b4[0].contains("insult.abuse"), "[{}] {b4:?}", t.backend);
        assert!(strings(db, &outbox("B4")).await.is_empty(), "[{}] not in the outbox", t.backend);
        // 走着瞧 is a vague menace: queued, flagged for compliance review with the rule.
        assert_eq!(strings(db, &sms("B5")).await.len(), 1);
        assert_eq!(strings(db, &outbox("B5")).await, ["queued|warn|violence.menace"], "[{}]", t.backend);
        // The review queue lists it, and only it.
        let flagged = arrears_store::outbox::for_review(db, 100).await.unwrap();
        let k5 = case_of(db, "B5").await;
        assert_eq!(
            flagged.iter().map(|m| (m.case_id.as_ref().map_or("", |c| c.as_str()), m.content_rules.as_str())).collect::<Vec<_>>(),
            [(k5.as_str(), "violence.menace")],
            "[{}]",
            t.backend
        );
        // An ordinary name: queued, nothing flagged.
        assert_eq!(strings(db, &outbox("B6")).await, ["queued|ok|"], "[{}]", t.backend);
        assert!(strings(db, &sms("B6")).await[0].starts_with("pending|"));
        // The day's audit entry counts them.
        let decided = arrears_store::audit::all_entries(db)
            .await
            .unwrap()
            .iter()
            .map(|(_, body)| arrears_audit::Entry::decode(body).unwrap())
            .find(|e| e.kind == "treatment.decided")
            .unwrap();
        let fact = |k: &str| format!("{:?}", decided.facts.get(k).unwrap());
        assert!(fact("content_blocked").contains('1') && fact("content_warned").contains('1'), "{:?}", decided.facts);
    })
    .await;
}
