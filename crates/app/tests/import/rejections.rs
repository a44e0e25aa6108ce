//! Bad input: every case is rejected whole, names file, line and column, and writes nothing.

use arrears_app::import::ImportError;

use crate::support::*;

const LOAN_HEAD: &str = "loan_id,borrower_id,product,currency,principal,annual_rate,term_months,disbursed_on,method,penalty_rate,grace_days\n";
const PAY_HEAD: &str = "payment_id,loan_id,paid_on,amount,channel\n";
const INST_HEAD: &str = "loan_id,seq,due_on,principal,interest,fee\n";

#[tokio::test]
async fn unparseable_date() {
    each_backend(async |t| {
        let loans = format!("{LOAN_HEAD}L3,B1,consumer,CNY,1000.00,0.12,6,2024-02-30,annuity,0.18,0\n");
        let errs = rejected_text(t, &[("loans.csv", &loans)]).await;
        assert_has(t, &errs, "loans.csv:2: disbursed_on: ", "is not a date");
        assert_eq!(errs.len(), 1, "{errs:#?}");

        let pays = format!("{PAY_HEAD}P2,L1,31/03/2024,10.00,bank\n");
        let errs = rejected_text(t, &[("payments.csv", &pays)]).await;
        assert_has(t, &errs, "payments.csv:2: paid_on: ", "expected YYYY-MM-DD");
    })
    .await;
}

#[tokio::test]
async fn unparseable_amount() {
    each_backend(async |t| {
        let pays = format!("{PAY_HEAD}P2,L1,2024-03-31,12.5.0,bank\n");
        let errs = rejected_text(t, &[("payments.csv", &pays)]).await;
        assert_has(t, &errs, "payments.csv:2: amount: ", "is not an amount");
        assert_eq!(errs.len(), 1, "{errs:#?}");

        // Three places in a two-place currency.
        let loans = format!("{LOAN_HEAD}L3,B1,consumer,CNY,1000.001,0.12,6,2024-02-01,annuity,0.18,0\n");
        let errs = rejected_text(t, &[("loans.csv", &loans)]).await;
        assert_has(t, &errs, "loans.csv:2: principal: ", "decimal places");
    })
    .await;
}

#[tokio::test]
async fn negative_principal() {
    each_backend(async |t| {
        let loans = format!("{LOAN_HEAD}L3,B1,consumer,CNY,-1000.00,0.12,6,2024-02-01,annuity,0.18,0\n");
        let errs = rejected_text(t, &[("loans.csv", &loans)]).await;
        assert_has(t, &errs, "loans.csv:2: principal: ", "must be positive");
        assert_eq!(errs.len(), 1, "{errs:#?}");
    })
    .await;
}

#[tokio::test]
async fn unknown_borrower_in_loans() {
    each_backend(async |t| {
        let loans = format!(
            "{LOAN_HEAD}L3,B1,consumer,CNY,1000.00,0.12,6,2024-02-01,annuity,0.18,0\n\
             L4,B9,consumer,CNY,1000.00,0.12,6,2024-02-01,annuity,0.18,0\n"
        );
        let errs = rejected_text(t, &[("loans.csv", &loans)]).await;
        assert_has(t, &errs, "loans.csv:3: borrower_id: ", "unknown borrower B9");
        assert_eq!(errs.len(), 1, "{errs:#?}");
    })
    .await;
}

#[tokio::test]
async fn unknown_borrower_in_contacts() {
    each_backend(async |t| {
        let contacts = "contact_id,borrower_id,relation,name,phone,email,consent\n\
                        C3,B404,spouse,Zhao Liu,13900000003,,true\n";
        let errs = rejected_text(t, &[("contacts.csv", contacts)]).await;
        assert_has(t, &errs, "contacts.csv:2: borrower_id: ", "unknown borrower B404");
        assert_eq!(errs.len(), 1, "{errs:#?}");
    })
    .await;
}

#[tokio::test]
async fn unknown_loan_in_payments() {
    each_backend(async |t| {
        let pays = format!("{PAY_HEAD}P2,L1,2024-03-31,10.00,bank\nP3,L99,2024-03-31,10.00,bank\n");
        let errs = rejected_text(t, &[("payments.csv", &pays)]).await;
        assert_has(t, &errs, "payments.csv:3: loan_id: ", "unknown loan L99");
        assert_eq!(errs.len(), 1, "{errs:#?}");
    })
    .await;
}

#[tokio::test]
async fn unknown_loan_in_installments() {
    each_backend(async |t| {
        let inst = format!("{INST_HEAD}L99,1,2024-03-31,100.00,1.00,0.00\n");
        let errs = rejected_text(t, &[("installments.csv", &inst)]).await;
        assert_has(t, &errs, "installments.csv:2: loan_id: ", "unknown loan L99");
        assert_eq!(errs.len(), 1, "{errs:#?}");
    })
    .await;
}

#[tokio::test]
async fn unknown_currency() {
    each_backend(async |t| {
        let loans = format!("{LOAN_HEAD}L3,B1,consumer,XYZ,1000.00,0.12,6,2024-02-01,annuity,0.18,0\n");
        let errs = rejected_text(t, &[("loans.csv", &loans)]).await;
        assert_has(t, &errs, "loans.csv:2: currency: ", "unknown currency \"XYZ\"");
        assert_eq!(errs.len(), 1, "{errs:#?}");
    })
    .await;
}

#[tokio::test]
async fn duplicate_id_with_different_content_in_one_file() {
    each_backend(async |t| {
        let borrowers = "borrower_id,kind,name,national_id,phone,email,timezone,language\n\
                         B3,individual,Sun Qi,110101199003070000,1,,Asia/Shanghai,zh\n\
                         B3,individual,Sun Ba,110101199003070000,1,,Asia/Shanghai,zh\n";
        let errs = rejected_text(t, &[("borrowers.csv", borrowers)]).await;
        assert_has(t, &errs, "borrowers.csv:3: name: ", "duplicate borrower_id: line 2 has name");
        assert_eq!(errs.len(), 1, "{errs:#?}");
    })
    .await;
}

#[tokio::test]
async fn same_rows_twice_in_one_file_are_one_row() {
    each_backend(async |t| {
        let pays = format!("{PAY_HEAD}P2,L1,2024-03-31,10.00,bank\nP2,L1,2024-03-31,10.00,bank\n");
        let dir = write_files(&[("borrowers.csv", BORROWERS), ("loans.csv", LOANS), ("payments.csv", &pays)]);
        import(&t.db, dir.path()).await.unwrap_or_else(|e| panic!("[{}] {e}", t.backend));
        assert_eq!(t.db.count("payments").await.unwrap(), 1, "[{}]", t.backend);
    })
    .await;
}

#[tokio::test]
async fn duplicate_id_with_different_content_against_previous_import() {
    each_backend(async |t| {
        // B1 was imported with phone 13800000001.
        let borrowers = "borrower_id,kind,name,national_id,phone,email,timezone,language\n\
                         B1,individual,Zhang San,110101199003074514,13800009999,zs@example.com,Asia/Shanghai,zh\n";
        let errs = rejected_text(t, &[("borrowers.csv", borrowers)]).await;
        assert_has(t, &errs, "borrowers.csv:2: phone: ", "borrower_id already stored with phone");
        assert_eq!(errs.len(), 1, "{errs:#?}");
        // Sealed values are compared through their blind index and never shown.
        let all = errs.join("\n");
        assert!(!all.contains("13800000001") && !all.contains("13800009999"), "{all}");
        assert!(all.contains("not shown"), "{all}");
        // The same number written another way is the same value: no conflict.
        let same = "borrower_id,kind,name,national_id,phone,email,timezone,language\n\
                    B1,individual,Zhang San,110101199003074514,+86 138 0000 0001,zs@example.com,Asia/Shanghai,zh\n";
        let dir = write_files(&[("borrowers.csv", same)]);
        import(&t.db, dir.path()).await.expect("a re-import of the same phone written another way");

        let loans = format!("{LOAN_HEAD}L1,B1,consumer,CNY,13000.00,0.12,12,2024-01-31,annuity,0.18,3\n");
        let errs = rejected_text(t, &[("loans.csv", &loans)]).await;
        assert_has(t, &errs, "loans.csv:2: principal: ", "loan_id already stored with principal");
    })
    .await;
}

#[tokio::test]
async fn conflict_message_shows_amounts_as_in_the_file() {
    each_backend(async |t| {
        let loans = format!("{LOAN_HEAD}L1,B1,consumer,CNY,13000.00,0.12,12,2024-01-31,annuity,0.18,3\n");
        let errs = rejected_text(t, &[("loans.csv", &loans)]).await;
        assert_has(t, &errs, "loans.csv:2: principal: ", "12000.00");
    })
    .await;
}

#[tokio::test]
async fn installments_not_summing_to_principal() {
    each_backend(async |t| {
        let loans = format!("{LOAN_HEAD}L3,B1,consumer,CNY,1000.00,0.12,2,2024-02-01,annuity,0.18,0\n");
        let inst =
            format!("{INST_HEAD}L3,1,2024-03-01,500.00,10.00,0.00\nL3,2,2024-04-01,400.00,5.00,0.00\n");
        let errs = rejected_text(t, &[("loans.csv", &loans), ("installments.csv", &inst)]).await;
        assert_has(
            t,
            &errs,
            "installments.csv:2: principal: ",
            "sum to 900.00, not the loan's principal 1000.00",
        );
        assert_eq!(errs.len(), 1, "{errs:#?}");
    })
    .await;
}

#[tokio::test]
async fn payment_before_disbursement() {
    each_backend(async |t| {
        let pays = format!("{PAY_HEAD}P2,L1,2024-01-30,10.00,bank\n");
        let errs = rejected_text(t, &[("payments.csv", &pays)]).await;
        assert_has(t, &errs, "payments.csv:2: paid_on: ", "before the loan's disbursement on 2024-01-31");
        assert_eq!(errs.len(), 1, "{errs:#?}");
    })
    .await;
}

#[tokio::test]
async fn wrong_number_of_columns() {
    each_backend(async |t| {
        let pays = format!(
            "{PAY_HEAD}P2,L1,2024-03-31,10.00,bank\nP3,L1,2024-03-31,10.00\nP4,L1,2024-03-31,1,bank,x\n"
        );
        let errs = rejected_text(t, &[("payments.csv", &pays)]).await;
        assert_has(t, &errs, "payments.csv:3: row: ", "wrong number of columns: expected 5, found 4");
        assert_has(t, &errs, "payments.csv:4: row: ", "wrong number of columns: expected 5, found 6");
        assert_eq!(errs.len(), 2, "{errs:#?}");
    })
    .await;
}

#[tokio::test]
async fn invalid_utf8() {
    each_backend(async |t| {
        let mut borrowers = b"borrower_id,kind,name,national_id,phone,email,timezone,language\n".to_vec();
        borrowers
            .extend_from_slice(b"B3,individual,Bad \xff\xfe Name,110101199003070000,1,,Asia/Shanghai,zh\n");
        let errs = rejected(t, &[("borrowers.csv", &borrowers)]).await;
        assert_has(t, &errs, "borrowers.csv:2: name: ", "invalid UTF-8");
        assert_eq!(errs.len(), 1, "{errs:#?}");
    })
    .await;
}

#[tokio::test]
async fn missing_header_column() {
    each_backend(async |t| {
        let loans = "loan_id,borrower_id,product,currency,principal,annual_rate,term_months,disbursed_on,method,penalty_rate\n\
                     L3,B1,consumer,CNY,1000.00,0.12,6,2024-02-01,annuity,0.18\n";
        let errs = rejected_text(t, &[("loans.csv", loans)]).await;
        assert_has(t, &errs, "loans.csv:1: grace_days: ", "column missing from the header");
        assert_eq!(errs.len(), 1, "{errs:#?}");
    })
    .await;
}

#[tokio::test]
async fn every_bad_row_is_listed() {
    each_backend(async |t| {
        let pays = format!(
            "{PAY_HEAD}P2,L1,2024-13-01,10.00,bank\n\
             P3,L1,2024-03-31,10.00,bank\n\
             P4,L1,2024-03-31,ten,bank\n\
             P5,L77,2024-03-31,10.00,bank\n"
        );
        let errs = rejected_text(t, &[("payments.csv", &pays)]).await;
        assert_eq!(errs.len(), 3, "[{}] {errs:#?}", t.backend);
        assert!(errs[0].starts_with("payments.csv:2: paid_on: "), "{errs:#?}");
        assert!(errs[1].starts_with("payments.csv:4: amount: "), "{errs:#?}");
        assert!(errs[2].starts_with("payments.csv:5: loan_id: "), "{errs:#?}");
    })
    .await;
}

#[tokio::test]
async fn errors_across_files_are_in_file_then_line_order() {
    each_backend(async |t| {
        let loans = format!(
            "{LOAN_HEAD}L3,B404,consumer,CNY,1000.00,0.12,6,2024-02-01,annuity,0.18,0\n\
             L4,B1,consumer,CNY,1000.00,0.12,6,2024-02-01,annuity,0.18,-1\n"
        );
        let contacts = "contact_id,borrower_id,relation,name,phone,email,consent\nC3,B1,friend,X,1,,true\n";
        let errs = rejected_text(t, &[("loans.csv", &loans), ("contacts.csv", contacts)]).await;
        let prefixes: Vec<&str> = errs.iter().map(|e| e.split(": ").next().unwrap_or("")).collect();
        assert_eq!(prefixes, ["contacts.csv:2", "loans.csv:2", "loans.csv:3"], "[{}] {errs:#?}", t.backend);
    })
    .await;
}

#[tokio::test]
async fn line_numbers_count_physical_lines() {
    each_backend(async |t| {
        // A quoted field spanning two lines: the bad row after it is on line 4.
        let borrowers = "borrower_id,kind,name,national_id,phone,email,timezone,language\n\
                         B3,company,\"Two\nLines Ltd\",91350100M000100Y43,1,,Asia/Shanghai,en\n\
                         B4,robot,X,1,1,,Asia/Shanghai,en\n";
        let errs = rejected_text(t, &[("borrowers.csv", borrowers)]).await;
        assert_has(t, &errs, "borrowers.csv:4: kind: ", "robot");
    })
    .await;
}

#[tokio::test]
async fn unknown_csv_file_name() {
    each_backend(async |t| {
        let before = import_good(t).await;
        let dir = write_files(&[("borrowers.csv", BORROWERS), ("loan.csv", LOANS)]);
        match import(&t.db, dir.path()).await {
            Err(ImportError::UnknownFile(p)) => assert!(p.ends_with("loan.csv"), "{p:?}"),
            other => panic!("[{}] expected UnknownFile, got {other:?}", t.backend),
        }
        assert_eq!(before, snapshot(&t.db).await, "[{}]", t.backend);
    })
    .await;
}

#[tokio::test]
async fn empty_dir() {
    each_backend(async |t| {
        let before = import_good(t).await;
        let dir = write_files(&[]);
        match import(&t.db, dir.path()).await {
            Err(ImportError::NoFiles(p)) => assert_eq!(p, dir.path()),
            other => panic!("[{}] expected NoFiles, got {other:?}", t.backend),
        }
        assert_eq!(before, snapshot(&t.db).await, "[{}]", t.backend);
    })
    .await;
}

/// On PostgreSQL the keys hold borrower_id (the layout a distributed database needs), so
/// nothing but the importer stops an id stored for one borrower from being stored again for
/// another: the conflict must read as on SQLite, and nothing be written.
#[tokio::test]
async fn an_id_stored_for_another_borrower_is_the_same_conflict_on_every_database() {
    each_backend(async |t| {
        // P1 was imported on L1 (B1); L2 is B2's.
        let pays = format!("{PAY_HEAD}P1,L2,2024-04-15,1066.19,bank\n");
        let errs = rejected_text(t, &[("payments.csv", &pays)]).await;
        assert_has(t, &errs, "payments.csv:2: loan_id: ", "payment_id already stored with loan_id = \"L1\"");
        assert_eq!(errs.len(), 1, "{errs:#?}");
        // Twice in one file, for two borrowers: the second line is the duplicate.
        let pays = format!("{PAY_HEAD}P7,L1,2024-04-15,5.00,bank\nP7,L2,2024-04-15,5.00,bank\n");
        let errs = rejected_text(t, &[("payments.csv", &pays)]).await;
        assert_has(t, &errs, "payments.csv:3: loan_id: ", "duplicate payment_id: line 2 has loan_id");
        assert_eq!(errs.len(), 1, "{errs:#?}");
        // A loan id taken by another borrower.
        let loans = format!("{LOAN_HEAD}L1,B2,consumer,CNY,12000.00,0.12,12,2024-01-31,annuity,0.18,3\n");
        let errs = rejected_text(t, &[("loans.csv", &loans)]).await;
        assert_has(
            t,
            &errs,
            "loans.csv:2: borrower_id: ",
            "loan_id already stored with borrower_id = \"B1\"",
        );

        // Over the API's path: the clash is refused and the rest is kept.
        let pay = |id: &str, loan: &str| arrears_core::Payment {
            id: arrears_core::PaymentId::new(id).unwrap(),
            loan_id: arrears_core::LoanId::new(loan).unwrap(),
            paid_on: chrono::NaiveDate::from_ymd_opt(2024, 4, 1).unwrap(),
            amount: arrears_core::Amount::from_minor(500),
            channel: "bank".into(),
        };
        let mut tx = t.db.begin().await.unwrap();
        let import_id = arrears_store::import::begin_import(&mut tx, "api", NOW).await.unwrap();
        let got =
            arrears_store::payments::record_payments(&mut tx, &[pay("P1", "L2"), pay("P8", "L2")], import_id)
                .await
                .unwrap();
        tx.commit().await.unwrap();
        use arrears_store::payments::Recorded;
        assert_eq!(got, vec![Recorded::Differs("loan_id"), Recorded::New], "[{}]", t.backend);
        let p1 = snapshot(&t.db).await.rows_of("payments").iter().filter(|r| r[0] == "P1").count();
        assert_eq!(p1, 1, "[{}] P1 stored once, on L1", t.backend);
    })
    .await;
}
