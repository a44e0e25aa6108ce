//! Contact restrictions against real databases (SQLite always, PostgreSQL when
//! `ARREARS_TEST_PG` is set): each kind is recorded sealed and audited, listed masked, fed into
//! the contact policy's profile through the blind index, lifted once; bad input changes
//! nothing; re-keying re-seals restriction numbers.

#[allow(dead_code)]
#[path = "import/support.rs"]
mod support;

use arrears_app::import::{Quiet, import_dir_with_keys};
use arrears_app::restrictions::{self as uc, NewInput, RestrictionError, Target, bidx_for};
use arrears_core::contact_policy::{Channel, DebtorProfile, OptOut};
use arrears_store::Db;
use arrears_store::personal::Keyring;
use chrono::NaiveDate;
use support::{each_backend, now};

fn d(s: &str) -> NaiveDate {
    arrears_core::calendar::parse_iso_date(s).unwrap()
}

const TODAY: &str = "2026-11-29";

fn book() -> tempfile::TempDir {
    support::write_files(&[
        (
            "borrowers.csv",
            "borrower_id,kind,name,national_id,phone,email,timezone,language\n\
             B1,individual,张三,110101198001011234,13800000001,zhang@example.com,Asia/Shanghai,zh\n\
             B2,individual,李四,110101198001015678,13800000002,li@example.com,Asia/Shanghai,zh\n",
        ),
        (
            "contacts.csv",
            "contact_id,borrower_id,relation,name,phone,email,consent\n\
             C1,B1,guarantor,赵六,13900000009,,true\n",
        ),
        (
            "loans.csv",
            "loan_id,borrower_id,product,currency,principal,annual_rate,term_months,disbursed_on,method,penalty_rate,grace_days\n\
             L1,B1,P,CNY,1000.00,0.12,1,2026-08-15,bullet,0.18,0\n",
        ),
    ])
}

fn input(borrower: &str, kind: &str, f: impl FnOnce(&mut NewInput)) -> NewInput {
    let mut i =
        NewInput { borrower_id: borrower.into(), kind: kind.into(), by: "u1".into(), ..Default::default() };
    f(&mut i);
    i
}

/// Rows of the table, and audit entries of a kind.
async fn counts(db: &Db, kind: &str) -> (i64, usize) {
    let rows = db.count("contact_restrictions").await.unwrap();
    let entries = arrears_store::audit::all_entries(db)
        .await
        .unwrap()
        .iter()
        .filter(|(_, body)| arrears_audit::Entry::decode(body).unwrap().kind == kind)
        .count();
    (rows, entries)
}

async fn text_of(db: &Db, sql: &str) -> Vec<String> {
    arrears_store::on_pool!(db, p => sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_all(p).await.unwrap())
}

#[tokio::test]
async fn each_kind_is_recorded_sealed_audited_listed_and_lifted_once() {
    let dir = book();
    each_backend(async |t| {
        let keys = Keyring::ephemeral();
        import_dir_with_keys(&t.db, dir.path(), &now(), &Quiet, &keys).await.unwrap();
        let today = d(TODAY);
        let dnc = uc::restrict(
            &t.db,
            &keys,
            &input("B1", "do-not-contact", |i| i.number = Some("+86 138 0000 0001".into())),
            today,
            &now(),
        )
        .await
        .unwrap();
        assert_eq!(dnc.address.as_deref(), Some("138****0001"), "[{}] printed masked", t.backend);
        let others = [
            input("B1", "opt-out", |i| i.channel = Some("sms".into())),
            input("B1", "opt-out", |i| {
                i.channel = Some("email".into());
                i.address = Some("Zhang@Example.com".into());
            }),
            input("B1", "inconvenient", |i| {
                i.from = Some("12:00".into());
                i.to = Some("14:00".into());
                i.weekdays = Some("mon,tue".into());
            }),
            input("B1", "attorney", |i| {
                i.name = Some("王律师".into());
                i.phone = Some("13700000007".into());
            }),
            input("B1", "cease", |i| i.date = Some(d("2026-11-20"))),
        ];
        for i in &others {
            uc::restrict(&t.db, &keys, i, today, &now()).await.unwrap_or_else(|e| panic!("{i:?}: {e}"));
        }
        assert_eq!(counts(&t.db, "contact.restricted").await, (6, 6), "[{}]", t.backend);

        // Numbers are sealed; the blind index of the restricted number is the borrower's own.
        let stored = text_of(&t.db, "SELECT address FROM contact_restrictions WHERE address <> ''").await;
        assert_eq!(stored.len(), 3);
        assert!(stored.iter().all(|a| a.starts_with("v1:") && !a.contains("0001") && !a.contains("@")));
        let same = text_of(
            &t.db,
            "SELECT r.kind FROM contact_restrictions r JOIN borrowers b ON b.borrower_id = r.borrower_id \
             WHERE r.address_bidx IN (b.phone_bidx, b.email_bidx) ORDER BY r.restriction_id",
        )
        .await;
        assert_eq!(same, ["do_not_contact", "opt_out"], "[{}]", t.backend);

        let listed = uc::list(&t.db, &keys, Some("B1")).await.unwrap();
        assert_eq!(listed.len(), 6);
        assert!(listed.iter().all(|v| v.active));
        assert_eq!(listed[2].address.as_deref(), Some("z***@example.com"));
        assert_eq!(listed[3].weekdays, ["mon", "tue"]);
        assert_eq!(listed[4].address.as_deref(), Some("137****0007"));
        assert!(uc::list(&t.db, &keys, Some("B2")).await.unwrap().is_empty());

        // Into the profile of a text to the borrower's number, a call to the guarantor, an e-mail.
        let restrictions = uc::of_borrower(&t.db, "B1").await.unwrap();
        let (phone, email): (Vec<String>, Vec<String>) = (
            text_of(&t.db, "SELECT phone_bidx FROM borrowers WHERE borrower_id = 'B1'").await,
            text_of(&t.db, "SELECT email_bidx FROM borrowers WHERE borrower_id = 'B1'").await,
        );
        let guarantor = text_of(&t.db, "SELECT phone_bidx FROM contacts WHERE contact_id = 'C1'").await;
        let profile = |channel, phone: &str, email: &str, on: &str| {
            let mut p = DebtorProfile::default();
            let target = Target { channel, address: "X", bidx: bidx_for(channel, phone, email) };
            uc::apply(&mut p, &restrictions, Some(d(on)), target);
            p
        };
        let sms = profile(Channel::Sms, &phone[0], &email[0], TODAY);
        assert_eq!(sms.do_not_contact, ["X"]);
        assert_eq!(sms.opt_outs, [OptOut::Channel(Channel::Sms)]);
        assert!(sms.attorney_represented && sms.cease_requested && sms.inconvenient_times.len() == 1);
        let mail = profile(Channel::Email, &phone[0], &email[0], TODAY);
        assert!(mail.do_not_contact.is_empty());
        assert!(mail.opt_outs.contains(&OptOut::Address("X".into())), "{:?}", mail.opt_outs);
        let call = profile(Channel::Call, &guarantor[0], "", TODAY);
        assert!(call.do_not_contact.is_empty(), "the guarantor's number is not restricted");
        // The cease request applies from its own date, the rest from the day they were recorded.
        let before = profile(Channel::Sms, &phone[0], &email[0], "2026-11-21");
        assert!(before.cease_requested && before.do_not_contact.is_empty() && !before.attorney_represented);

        // Lifting: once, audited, and the row stays.
        let lifted = uc::lift(&t.db, &keys, dnc.restriction_id, today, &now(), "u2", "number given back")
            .await
            .unwrap();
        assert!(!lifted.active && lifted.ended_on == Some(today) && lifted.ended_by.as_deref() == Some("u2"));
        let again = uc::lift(&t.db, &keys, dnc.restriction_id, today, &now(), "u2", "").await.unwrap_err();
        assert!(matches!(again, RestrictionError::AlreadyLifted { .. }), "{again}");
        assert!(matches!(
            uc::lift(&t.db, &keys, 9999, today, &now(), "u2", "").await.unwrap_err(),
            RestrictionError::UnknownRestriction(9999)
        ));
        let early = uc::lift(&t.db, &keys, dnc.restriction_id + 1, d("2026-11-01"), &now(), "u2", "")
            .await
            .unwrap_err();
        assert!(early.to_string().contains("before restriction"), "{early}");
        assert_eq!(counts(&t.db, "contact.restriction_lifted").await, (6, 1), "[{}]", t.backend);
        let restrictions = uc::of_borrower(&t.db, "B1").await.unwrap();
        let mut p = DebtorProfile::default();
        let target = Target { channel: Channel::Sms, address: "X", bidx: Some(&phone[0]) };
        uc::apply(&mut p, &restrictions, Some(today), target);
        assert!(p.do_not_contact.is_empty(), "[{}] a lifted number is usable again", t.backend);
    })
    .await;
}

#[tokio::test]
async fn bad_input_is_refused_and_changes_nothing() {
    let dir = book();
    each_backend(async |t| {
        let keys = Keyring::ephemeral();
        import_dir_with_keys(&t.db, dir.path(), &now(), &Quiet, &keys).await.unwrap();
        let entries = arrears_store::audit::all_entries(&t.db).await.unwrap().len();
        let cases: Vec<(NewInput, &str)> = vec![
            (input("B9", "cease", |i| i.date = Some(d("2026-11-01"))), "no borrower \"B9\""),
            (input("B1", "holiday", |_| {}), "unknown restriction kind"),
            (
                input("B1", "inconvenient", |i| {
                    i.from = Some("14:00".into());
                    i.to = Some("24:00".into());
                }),
                "--to \"24:00\"",
            ),
            (input("B1", "do-not-contact", |i| i.number = Some("not a number".into())), "--number"),
            (input("B1", "cease", |i| i.date = Some(d("2027-01-01"))), "after today"),
            (input("B1", "attorney", |i| i.name = Some("  ".into())), "needs --name"),
        ];
        for (i, want) in cases {
            let err = uc::restrict(&t.db, &keys, &i, d(TODAY), &now()).await.unwrap_err();
            assert!(err.to_string().contains(want), "[{}] {i:?}: {err}", t.backend);
        }
        assert_eq!(t.db.count("contact_restrictions").await.unwrap(), 0);
        assert_eq!(arrears_store::audit::all_entries(&t.db).await.unwrap().len(), entries);
        let err = uc::list(&t.db, &keys, Some("B9")).await.unwrap_err();
        assert!(matches!(err, RestrictionError::UnknownBorrower(_)), "{err}");
    })
    .await;
}

#[tokio::test]
async fn rekey_reseals_restriction_numbers() {
    let dir = book();
    each_backend(async |t| {
        let index = "index BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n";
        let old = Keyring::parse(&format!("{index}key CAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAg=\n"), "old").unwrap();
        let new = Keyring::parse(
            &format!(
                "{index}key CAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAg=\nkey CQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=\n"
            ),
            "new",
        )
        .unwrap();
        import_dir_with_keys(&t.db, dir.path(), &now(), &Quiet, &old).await.unwrap();
        let i = input("B1", "do-not-contact", |i| i.number = Some("13800000001".into()));
        let v = uc::restrict(&t.db, &old, &i, d(TODAY), &now()).await.unwrap();
        let report = arrears_store::people::rekey(&t.db, &new).await.unwrap();
        assert_eq!(report.restrictions, 1, "[{}]", t.backend);
        let stored = text_of(&t.db, "SELECT address FROM contact_restrictions").await;
        assert!(stored[0].starts_with(&format!("v1:{}:", new.current_id())), "{}", stored[0]);
        let listed = uc::list(&t.db, &new, Some("B1")).await.unwrap();
        assert_eq!(listed[0].address, v.address);
        assert_eq!(arrears_store::people::rekey(&t.db, &new).await.unwrap().restrictions, 0);
    })
    .await;
}
