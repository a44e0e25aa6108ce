//! Contact restrictions end to end through the binary, on SQLite always and on PostgreSQL when
//! `ARREARS_TEST_PG` is set: borrowers with open cases are restricted (an SMS opt-out, a cease
//! request, an inconvenient morning, their own number on the do-not-contact list, an attorney),
//! the batch runs over a fortnight that ends in the National Day holidays, and the outbox and
//! the tasks are checked from the raw tables against each restriction and the holiday calendar;
//! then logged contacts that a restriction forbids exit 1 naming the rule. Bad input changes
//! nothing.

#[allow(dead_code)]
#[path = "../../app/tests/import/support.rs"]
mod support;

use std::collections::BTreeMap;
use std::process::{Command, Output};

use arrears_store::Db;
use chrono::{DateTime, FixedOffset, NaiveDate, Timelike};
use sqlx::Row as _;
use support::{TestDb, each_backend};

/// One base64 data key for every run (the keys are derived from it; no file is written).
const DATA_KEY: &str = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs `arrears --db <test database> args…` with the test's data key and `env` set.
/// The clock zone of the commands: eight hours behind UTC, so that their today is [`day`],
/// whose working hours in Shanghai have passed whenever the tests run (a contact cannot be
/// logged before it happened).
const CLI_ZONE: &str = "Etc/GMT+8";

/// The day the tests log contacts on: today in [`CLI_ZONE`], whose 16:00 in Shanghai (08:00
/// UTC) is past.
fn day() -> NaiveDate {
    (chrono::Utc::now() - chrono::Duration::hours(8)).date_naive()
}

fn run(t: &TestDb, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_arrears"));
    c.arg("--db").arg(t.url.expose()).args(args);
    c.env("TZ", CLI_ZONE);
    for var in ["ARREARS_FAILPOINT", "ARREARS_ALERT_RULES", "ARREARS_DATA_KEY_FILE", "ARREARS_HOLIDAYS"] {
        c.env_remove(var);
    }
    c.env("ARREARS_DATA_KEY", DATA_KEY);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("the arrears binary runs")
}

fn ok(t: &TestDb, args: &[&str]) -> String {
    let out = run(t, &[], args);
    assert!(out.status.success(), "[{}] arrears {args:?}: {}", t.backend, text(&out.stderr));
    text(&out.stdout)
}

/// Rows of a query whose first column joins the values with `|`.
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

/// Seven borrowers in Shanghai, each with one bullet loan unpaid since 15 September (B6's since
/// 29 September, so that its first reminder falls in the National Day holidays).
fn book() -> tempfile::TempDir {
    let mut borrowers = String::from("borrower_id,kind,name,national_id,phone,email,timezone,language\n");
    let mut loans = String::from(
        "loan_id,borrower_id,product,currency,principal,annual_rate,term_months,disbursed_on,method,penalty_rate,grace_days\n",
    );
    for i in 1..=7 {
        borrowers.push_str(&format!(
            "B{i},individual,借款人{i},11010119800101{i:03}X,1380000000{i},b{i}@example.com,Asia/Shanghai,zh\n"
        ));
        let disbursed = if i == 6 { "2026-08-29" } else { "2026-08-15" };
        loans.push_str(&format!("L{i},B{i},P,CNY,5000.00,0.12,1,{disbursed},bullet,0.18,0\n"));
    }
    support::write_files(&[("borrowers.csv", &borrowers), ("loans.csv", &loans)])
}

/// Local (Shanghai) time of a stored RFC 3339 instant.
fn local(at: &str) -> DateTime<FixedOffset> {
    let east8 = FixedOffset::east_opt(8 * 3600).unwrap();
    DateTime::parse_from_rfc3339(at).unwrap_or_else(|e| panic!("{at:?}: {e}")).with_timezone(&east8)
}

fn d(s: &str) -> NaiveDate {
    arrears_core::calendar::parse_iso_date(s).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn restrictions_hold_in_the_batch_and_in_logged_contacts() {
    let dir = book();
    let cal = tempfile::tempdir().unwrap();
    let today = day();
    let today_holiday = cal.path().join("today.txt");
    std::fs::write(&today_holiday, format!("# a holiday today\n{today}\n")).unwrap();
    let no_holidays = cal.path().join("none.txt");
    std::fs::write(&no_holidays, "# no holidays\n").unwrap();
    each_backend(async |t: &TestDb| {
        ok(t, &["import", dir.path().to_str().unwrap()]);
        let restricts: &[&[&str]] = &[
            &["B1", "--kind", "opt-out", "--channel", "sms", "--note", "客户来电要求不再发短信"],
            &["B2", "--kind", "cease", "--date", "2026-09-01"],
            &["B3", "--kind", "inconvenient", "--from", "08:00", "--to", "12:00"],
            &["B4", "--kind", "do-not-contact", "--number", "+86 138 0000 0004"],
            &["B5", "--kind", "attorney", "--name", "王律师", "--phone", "13700000005"],
        ];
        for args in restricts {
            ok(t, &[&["contact", "restrict"][..], *args].concat());
        }
        let listed: serde_json::Value =
            serde_json::from_str(&ok(t, &["contact", "restrictions", "--json"])).unwrap();
        let listed = listed.as_array().unwrap();
        assert_eq!(listed.len(), 5, "[{}]", t.backend);
        assert_eq!(listed[3]["address"], "138****0004", "[{}] numbers print masked", t.backend);
        assert_eq!(listed[4]["address"], "137****0005");
        let all = serde_json::to_string(listed).unwrap();
        assert!(!all.contains("13800000004") && !all.contains("13700000005"), "{all}");
        let stored = rows(&t.db, "SELECT address FROM contact_restrictions WHERE address <> ''").await;
        assert!(stored.iter().all(|r| r[0].starts_with("v1:") && !r[0].contains("0004")), "{stored:?}");

        ok(t, &["batch", "--from", "2026-09-16", "--to", "2026-09-30"]);

        // Messages and tasks by borrower, from the raw tables.
        let outbox = rows(
            &t.db,
            "SELECT borrower_id || '|' || channel || '|' || send_at FROM outbox ORDER BY borrower_id, send_at",
        )
        .await;
        let mut messages: BTreeMap<String, Vec<(String, DateTime<FixedOffset>)>> = BTreeMap::new();
        for m in &outbox {
            messages.entry(m[0].clone()).or_default().push((m[1].clone(), local(&m[2])));
        }
        let tasks = rows(
            &t.db,
            "SELECT c.borrower_id || '|' || t.kind || '|' || t.status || '|' || t.due_at || '|' || COALESCE(t.reason, '') \
             FROM tasks t JOIN cases c ON c.case_id = t.case_id \
             WHERE t.kind IN ('sms', 'email', 'call', 'voice_bot') ORDER BY t.task_id",
        )
        .await;
        let of = |b: &str| {
            let b = b.to_string();
            tasks.iter().filter(move |t| t[0] == b)
        };
        let channels = |b: &str| -> Vec<String> {
            messages.get(b).map(|m| m.iter().map(|(c, _)| c.clone()).collect()).unwrap_or_default()
        };
        // The control borrower gets texts and e-mails: the checks below can fail.
        let control = channels("B7");
        assert!(control.contains(&"sms".to_string()) && control.contains(&"email".to_string()), "{control:?}");
        // B1 opted out of texts: e-mails still go, no text, its text tasks blocked by the opt-out rule.
        assert!(!channels("B1").contains(&"sms".to_string()) && channels("B1").contains(&"email".to_string()));
        let b1_sms: Vec<_> = of("B1").filter(|t| t[1] == "sms").collect();
        assert!(!b1_sms.is_empty() && b1_sms.iter().all(|t| t[2] == "blocked" && t[4].contains("CN-OPT-01")));
        // B2 asked in writing that collection stop: nothing at all, every contact task blocked.
        assert!(channels("B2").is_empty(), "[{}] {:?}", t.backend, messages.get("B2"));
        assert!(of("B2").count() > 0 && of("B2").all(|t| t[2] == "blocked" && t[4].contains("CN-HOLD-01")));
        // B3: nothing between 08:00 and 12:00 local, messages and calls alike.
        assert!(!channels("B3").is_empty());
        for (_, at) in &messages["B3"] {
            assert!(at.hour() >= 12, "[{}] B3 message at {at}", t.backend);
        }
        for task in of("B3").filter(|t| t[2] != "blocked") {
            let h = local(&task[3]).hour();
            assert!(!(8..12).contains(&h), "[{}] B3 task at {}", t.backend, task[3]);
        }
        // B4's own number is on the do-not-contact list: e-mail only.
        assert_eq!(channels("B4").iter().filter(|c| *c != "email").count(), 0, "{:?}", channels("B4"));
        assert!(!channels("B4").is_empty());
        let b4_phone: Vec<_> = of("B4").filter(|t| t[1] != "email").collect();
        assert!(!b4_phone.is_empty() && b4_phone.iter().all(|t| t[2] == "blocked" && t[4].contains("CN-DNC-01")));
        // B5 is represented by an attorney: nothing goes to the borrower.
        assert!(channels("B5").is_empty());
        assert!(of("B5").count() > 0 && of("B5").all(|t| t[2] == "blocked" && t[4].contains("CN-ATTY-01")));
        // Nothing on a holiday of the cn calendar; B6's first reminder waits for 8 October.
        let holidays: Vec<NaiveDate> = (25..=27)
            .map(|day| d(&format!("2026-09-{day}")))
            .chain((1..=7).map(|day| d(&format!("2026-10-0{day}"))))
            .collect();
        for (b, list) in &messages {
            for (_, at) in list {
                assert!(!holidays.contains(&at.date_naive()), "[{}] {b} message on holiday {at}", t.backend);
            }
        }
        let b6 = messages.get("B6").cloned().unwrap_or_default();
        assert!(b6.iter().any(|(c, at)| c == "sms" && at.date_naive() == d("2026-10-08")), "{b6:?}");

        // Logged contacts today, at 15:00 in Shanghai (10:00 for the inconvenient morning).
        let at = |hour: &str| format!("{today}T{hour}:00:00+08:00");
        let cases: BTreeMap<String, String> =
            rows(&t.db, "SELECT borrower_id || '|' || case_id FROM cases WHERE status = 'open'")
                .await
                .into_iter()
                .map(|r| (r[0].clone(), r[1].clone()))
                .collect();
        let case = |b: &str| cases[b].clone();
        let none = no_holidays.to_str().unwrap();
        let log = |env: &[(&str, &str)], case: &str, channel: &str, party: &str, when: &str| {
            run(t, env, &[
                "action", "log", "--case", case, "--channel", channel, "--party", party, "--outcome", "no_answer",
                "--at", when, "--by", "c1",
            ])
        };
        let plain: &[(&str, &str)] = &[("ARREARS_HOLIDAYS", none)];
        for (b, channel, party, hour, rule) in [
            ("B1", "sms", "borrower", "15", "CN-OPT-01"),
            ("B2", "call", "borrower", "15", "CN-HOLD-01"),
            ("B3", "call", "borrower", "10", "CN-TIME-02"),
            ("B4", "call", "borrower", "15", "CN-DNC-01"),
            ("B4", "sms", "borrower", "15", "CN-DNC-01"),
            ("B5", "call", "borrower", "15", "CN-ATTY-01"),
        ] {
            let out = log(plain, &case(b), channel, party, &at(hour));
            assert_eq!(out.status.code(), Some(1), "[{}] {b} {channel}: {}", t.backend, text(&out.stderr));
            assert!(text(&out.stderr).contains(rule), "[{}] {b}: {}", t.backend, text(&out.stderr));
        }
        for (b, channel, party, hour) in [
            ("B3", "call", "borrower", "15"),
            ("B4", "email", "borrower", "15"),
            ("B5", "call", "attorney", "15"),
            ("B7", "call", "borrower", "15"),
        ] {
            let out = log(plain, &case(b), channel, party, &at(hour));
            assert!(out.status.success(), "[{}] {b} {channel} {party}: {}", t.backend, text(&out.stderr));
        }
        // Lifted, B1's texts are allowed again.
        let id = listed[0]["restriction_id"].as_i64().unwrap().to_string();
        ok(t, &["contact", "lift", &id, "--note", "客户同意恢复短信"]);
        let out = log(plain, &case("B1"), "sms", "borrower", &at("16"));
        assert!(out.status.success(), "[{}] {}", t.backend, text(&out.stderr));
        // The calendar of ARREARS_HOLIDAYS replaces the built-in one.
        let holiday: &[(&str, &str)] = &[("ARREARS_HOLIDAYS", today_holiday.to_str().unwrap())];
        let out = log(holiday, &case("B7"), "call", "borrower", &at("16"));
        assert_eq!(out.status.code(), Some(1), "[{}] {}", t.backend, text(&out.stderr));
        assert!(text(&out.stderr).contains("CN-HOLI-01"), "{}", text(&out.stderr));
        let out = log(&[("ARREARS_HOLIDAYS", "/no/such/calendar.toml")], &case("B7"), "call", "borrower", &at("16"));
        assert_eq!(out.status.code(), Some(2));
        assert!(text(&out.stderr).contains("ARREARS_HOLIDAYS"), "{}", text(&out.stderr));

        let lifted: serde_json::Value =
            serde_json::from_str(&ok(t, &["contact", "restrictions", "B1", "--json"])).unwrap();
        assert_eq!(lifted[0]["active"], false);
        assert_eq!(lifted[0]["ended_on"], today.to_string());
    })
    .await;
}

#[tokio::test]
async fn bad_input_names_what_is_wrong_and_changes_nothing() {
    let dir = book();
    each_backend(async |t: &TestDb| {
        ok(t, &["import", dir.path().to_str().unwrap()]);
        ok(t, &["contact", "restrict", "B1", "--kind", "cease", "--date", "2026-09-01"]);
        let audit = || async { t.db.count("audit_entries").await.unwrap() };
        let before = (t.db.count("contact_restrictions").await.unwrap(), audit().await);
        let cases: &[(&[&str], &str)] = &[
            (&["contact", "restrict", "B9", "--kind", "cease", "--date", "2026-09-01"], "no borrower \"B9\""),
            (&["contact", "restrict", "B1", "--kind", "holiday"], "unknown restriction kind \"holiday\""),
            (
                &["contact", "restrict", "B1", "--kind", "inconvenient", "--from", "25:00", "--to", "14:00"],
                "--from \"25:00\"",
            ),
            (&["contact", "restrict", "B1", "--kind", "inconvenient", "--from", "12:00"], "needs --to"),
            (
                &["contact", "restrict", "B1", "--kind", "inconvenient", "--from", "12:00", "--to", "12:00"],
                "empty window",
            ),
            (&["contact", "restrict", "B1", "--kind", "opt-out", "--channel", "fax"], "--channel \"fax\""),
            (&["contact", "restrict", "B1", "--kind", "do-not-contact"], "needs --number"),
            (
                &["contact", "restrict", "B1", "--kind", "do-not-contact", "--number", "12"],
                "not a phone number",
            ),
            (&["contact", "restrict", "B1", "--kind", "cease", "--date", "2026-13-01"], "2026-13-01"),
            (
                &["contact", "restrict", "B1", "--kind", "cease", "--date", "2026-09-01", "--channel", "sms"],
                "--channel",
            ),
            (&["contact", "restrictions", "B9"], "no borrower \"B9\""),
            (&["contact", "lift", "999"], "no contact restriction 999"),
            (&["contact", "lift", "x"], "invalid"),
        ];
        for (args, want) in cases {
            let out = run(t, &[], args);
            assert_eq!(out.status.code(), Some(2), "[{}] {args:?}", t.backend);
            assert!(text(&out.stderr).contains(want), "[{}] {args:?}: {}", t.backend, text(&out.stderr));
        }
        let id =
            rows(&t.db, "SELECT CAST(restriction_id AS TEXT) FROM contact_restrictions").await[0][0].clone();
        ok(t, &["contact", "lift", &id]);
        let again = run(t, &[], &["contact", "lift", &id]);
        assert_eq!(again.status.code(), Some(2));
        assert!(text(&again.stderr).contains("already lifted"), "{}", text(&again.stderr));
        assert_eq!(t.db.count("contact_restrictions").await.unwrap(), before.0);
        assert_eq!(audit().await, before.1 + 1, "[{}] only the lift was recorded", t.backend);
    })
    .await;
}

#[tokio::test]
async fn contacts_are_restricted_and_notices_pass_a_cease_through_the_binary() {
    let dir = support::write_files(&[
        (
            "borrowers.csv",
            "borrower_id,kind,name,national_id,phone,email,timezone,language\n\
             B1,individual,借款人一,110101198001011234,13800000001,b1@example.com,Asia/Shanghai,zh\n\
             B2,individual,Jo Smith,123456789,+12125550102,jo@example.com,America/New_York,en\n",
        ),
        (
            "contacts.csv",
            "contact_id,borrower_id,relation,name,phone,email,consent\n\
             S1,B1,spouse,配偶,13900000013,,true\n\
             G1,B1,guarantor,担保人,13900000011,,true\n",
        ),
        (
            "loans.csv",
            "loan_id,borrower_id,product,currency,principal,annual_rate,term_months,disbursed_on,method,penalty_rate,grace_days\n\
             L1,B1,P,CNY,5000.00,0.12,1,2026-08-15,bullet,0.18,0\n\
             L2,B2,P,USD,5000.00,0.12,1,2026-08-15,bullet,0.18,0\n",
        ),
    ]);
    each_backend(async |t: &TestDb| {
        ok(t, &["import", dir.path().to_str().unwrap()]);
        ok(t, &["batch", "--date", "2026-09-30"]);
        let case = |b: &'static str| async move {
            rows(&t.db, &format!("SELECT case_id FROM cases WHERE borrower_id = '{b}' AND status = 'open'"))
                .await[0][0]
                .clone()
        };
        let (k1, k2) = (case("B1").await, case("B2").await);
        let v: serde_json::Value = serde_json::from_str(&ok(
            t,
            &[
                "contact",
                "restrict",
                "--contact",
                "S1",
                "--kind",
                "refusal",
                "--date",
                "2026-09-20",
                "--json",
            ],
        ))
        .unwrap();
        assert_eq!((v["borrower_id"].as_str(), v["contact_id"].as_str()), (Some("B1"), Some("S1")), "{v}");
        ok(
            t,
            &[
                "contact",
                "restrict",
                "--contact",
                "G1",
                "--kind",
                "do-not-contact",
                "--number",
                "13900000011",
            ],
        );
        ok(t, &["contact", "restrict", "B2", "--kind", "cease", "--date", "2026-09-20"]);
        let listed = ok(t, &["contact", "restrictions", "B1"]);
        assert!(listed.contains("S1") && listed.contains("139****0011"), "{listed}");
        assert!(!listed.contains("13900000011"));

        // Today at 10:00 local (a do-not-contact number applies from the day it is recorded),
        // with no holiday calendar so that the day of the run does not matter.
        let cal = tempfile::tempdir().unwrap();
        let none = cal.path().join("none.txt");
        std::fs::write(&none, "# no holidays\n").unwrap();
        let none = none.to_str().unwrap().to_string();
        let log = |case: &str, party: &str, at: &str, purpose: Option<&str>| {
            let mut args = vec![
                "action",
                "log",
                "--case",
                case,
                "--channel",
                "call",
                "--party",
                party,
                "--outcome",
                "no_answer",
                "--at",
                at,
            ];
            if let Some(p) = purpose {
                args.extend(["--purpose", p]);
            }
            run(t, &[("ARREARS_HOLIDAYS", none.as_str())], &args)
        };
        let today = day();
        let cn_at = format!("{today}T10:00:00+08:00");
        // 10:00 in New York has passed on the day before `today` (its cease is dated).
        let us_at = chrono::TimeZone::from_local_datetime(
            &chrono_tz::America::New_York,
            &today.pred_opt().unwrap().and_hms_opt(10, 0, 0).unwrap(),
        )
        .earliest()
        .unwrap()
        .to_rfc3339();
        let (cn_at, us_at) = (cn_at.as_str(), us_at.as_str());
        for (case, party, at, purpose, rule) in [
            (&k1, "S1", cn_at, None, "CN-PARTY-03"),
            (&k1, "G1", cn_at, None, "CN-DNC-01"),
            (&k2, "borrower", us_at, None, "US-CEASE-01"),
            (&k2, "borrower", us_at, Some("collect"), "US-CEASE-01"),
        ] {
            let out = log(case, party, at, purpose);
            assert_eq!(
                out.status.code(),
                Some(1),
                "[{}] {party} {purpose:?}: {}",
                t.backend,
                text(&out.stderr)
            );
            assert!(text(&out.stderr).contains(rule), "[{}] {party}: {}", t.backend, text(&out.stderr));
        }
        let out = log(&k2, "borrower", us_at, Some("notice"));
        assert!(out.status.success(), "[{}] a notice passes the cease: {}", t.backend, text(&out.stderr));
        let actions: serde_json::Value =
            serde_json::from_str(&ok(t, &["action", "list", "--case", &k2, "--json"])).unwrap();
        let purposes: Vec<(&str, bool)> = actions
            .as_array()
            .unwrap()
            .iter()
            .map(|a| (a["purpose"].as_str().unwrap(), a["allowed"].as_bool().unwrap()))
            .collect();
        assert_eq!(purposes, [("collect", false), ("collect", false), ("notice", true)], "[{}]", t.backend);

        let before =
            (t.db.count("actions").await.unwrap(), t.db.count("contact_restrictions").await.unwrap());
        let bad: &[(&[&str], &str)] = &[
            (
                &[
                    "action",
                    "log",
                    "--case",
                    &k2,
                    "--channel",
                    "call",
                    "--outcome",
                    "no_answer",
                    "--at",
                    us_at,
                    "--purpose",
                    "threaten",
                ],
                "unknown purpose \"threaten\"",
            ),
            (
                &["contact", "restrict", "--contact", "S1", "--kind", "cease", "--date", "2026-09-20"],
                "not a contact's",
            ),
            (
                &["contact", "restrict", "--contact", "X9", "--kind", "refusal", "--date", "2026-09-20"],
                "no contact \"X9\"",
            ),
            (&["contact", "restrict", "B1", "--kind", "refusal", "--date", "2026-09-20"], "is a contact's"),
            (&["contact", "restrict", "--kind", "cease", "--date", "2026-09-20"], "BORROWER"),
        ];
        for (args, want) in bad {
            let out = run(t, &[], args);
            assert_eq!(out.status.code(), Some(2), "[{}] {args:?}: {}", t.backend, text(&out.stderr));
            assert!(text(&out.stderr).contains(want), "[{}] {args:?}: {}", t.backend, text(&out.stderr));
        }
        assert_eq!(
            (t.db.count("actions").await.unwrap(), t.db.count("contact_restrictions").await.unwrap()),
            before
        );
    })
    .await;
}
