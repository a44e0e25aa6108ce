//! NPL transfers (不良资产批量转让): loans chosen by a filter, their balances as of a cut-off
//! date, priced for a buyer; requested by one user, approved by another within their
//! authority. On approval each loan is sold at the end of the transfer date (a ledger event:
//! its balance leaves the book, later money is held for the buyer), its case's work stops, and
//! each borrower is sent the transfer notice (债权转让通知) by letter when the letters channel is
//! configured, else by SMS. The package — the loans with their balances, a summary, and each
//! case's evidence package from the audit log — is written to a folder.

use std::collections::BTreeMap;

use arrears_core::ledger::{BookStatus, LedgerAction, LedgerEvent};
use arrears_core::{Amount, Currency};
use arrears_store::Db;
use arrears_store::outbox::NewMessage;
use arrears_store::transfers::{self as store, Filter, Transfer, TransferLoan};
use chrono::NaiveDate;

use crate::arrangements::{ArrangementError as Error, Verdict, authority};
use crate::audit::Event;

/// The template of the notice each borrower of a sold loan is sent.
pub const NOTICE_TEMPLATE: &str = "transfer_notice";

/// What is asked.
#[derive(Debug, Clone)]
pub struct TransferInput {
    /// Who buys.
    pub buyer: String,
    /// What they pay, major units.
    pub price: String,
    /// The package's currency.
    pub currency: String,
    /// Balances as of this date.
    pub cut_off: NaiveDate,
    /// Sold at the end of this date (on or after the cut-off).
    pub transfer_on: NaiveDate,
    /// Loans at least this many days past due at the last close.
    pub min_dpd: i64,
    /// Of this product only.
    pub product: Option<String>,
    /// At most this many loans.
    pub limit: i64,
    /// Why.
    pub note: String,
    /// Who asks.
    pub actor: String,
}

/// A transfer as shown.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TransferView {
    /// The transfer.
    #[serde(flatten)]
    pub transfer: Transfer,
    /// Loans in the package.
    pub loans: usize,
    /// What they owed at the cut-off, major units.
    pub total: String,
    /// The price, major units.
    pub price_amount: String,
    /// The discount, per mille of the total.
    pub discount_permille: i64,
}

fn view(t: Transfer, loans: &[TransferLoan]) -> Result<TransferView, Error> {
    let c = Currency::from_code(&t.currency).map_err(|e| Error::Invalid(e.to_string()))?;
    let total: i64 = loans.iter().map(owed).sum();
    let discount =
        if total > 0 { ((total - t.price).max(0) as i128 * 1000 / total as i128) as i64 } else { 0 };
    Ok(TransferView {
        loans: loans.len(),
        total: Amount::from_minor(total).format(c),
        price_amount: Amount::from_minor(t.price).format(c),
        discount_permille: discount,
        transfer: t,
    })
}

fn owed(l: &TransferLoan) -> i64 {
    l.principal + l.interest + l.fee + l.penalty
}

/// Chooses the loans, values them at the cut-off and records the request with its audit entry.
pub async fn create(db: &Db, input: TransferInput, at: &crate::audit::At) -> Result<TransferView, Error> {
    let c = Currency::from_code(&input.currency).map_err(|e| Error::Invalid(format!("--currency: {e}")))?;
    let price = Amount::parse(input.price.trim(), c)
        .map_err(|e| Error::Invalid(format!("price {:?}: {e}", input.price)))?;
    if price.is_negative() {
        return Err(Error::Invalid("the price must not be negative".into()));
    }
    if input.transfer_on < input.cut_off {
        return Err(Error::Invalid(format!(
            "the transfer date {} is before the cut-off {}",
            input.transfer_on, input.cut_off
        )));
    }
    if input.buyer.trim().is_empty() {
        return Err(Error::Invalid("--buyer: name the buyer".into()));
    }
    let filter = Filter {
        min_dpd: input.min_dpd,
        currency: c.code(),
        product: input.product.as_deref(),
        limit: input.limit.max(1),
    };
    let chosen = store::candidates(db, &filter).await?;
    let mut loans = Vec::with_capacity(chosen.len());
    for cand in chosen {
        let Some(b) = arrears_store::loans::load_loan(db, &cand.loan_id).await? else { continue };
        let pos = crate::view::position(&b, input.cut_off);
        if pos.book != BookStatus::OnBook || pos.active_arrangement().is_some() {
            continue;
        }
        let rules = crate::batch::loans::product_rules(&b).map_err(|e| Error::Invalid(e.to_string()))?;
        let q = arrears_core::delinquency::assess(&pos, b.loan.disbursed_on, &rules);
        // Everything owed at the end of the cut-off, the credit held meeting it as a sale takes it.
        let owed = pos.owed_through(input.cut_off);
        if owed.total() <= pos.credit {
            continue;
        }
        let (p, _) = owed.less_credit(pos.credit);
        loans.push(TransferLoan {
            loan_id: cand.loan_id,
            borrower_id: cand.borrower_id,
            case_id: cand.case_id,
            product: b.loan.product.clone(),
            dpd: i64::from(q.dpd),
            five_class: q.five_class.as_str().to_string(),
            principal: p.principal.minor(),
            interest: p.interest.minor(),
            fee: p.fee.minor(),
            penalty: p.penalty.minor(),
        });
    }
    if loans.is_empty() {
        return Err(Error::Invalid(format!(
            "no loan of {} at least {} days past due{} is free to transfer",
            c.code(),
            input.min_dpd,
            input.product.as_deref().map(|p| format!(" of product {p}")).unwrap_or_default()
        )));
    }
    let now = at.to_rfc3339();
    let t = Transfer {
        transfer_id: format!("TR:{now}"),
        buyer: input.buyer.trim().to_string(),
        cut_off: input.cut_off,
        transfer_on: input.transfer_on,
        currency: c.code().to_string(),
        price: price.minor(),
        filter: format!(
            "dpd >= {}{}, {}, at most {}",
            input.min_dpd,
            input.product.as_deref().map(|p| format!(", product {p}")).unwrap_or_default(),
            c.code(),
            input.limit
        ),
        note: input.note,
        requested_by: input.actor.clone(),
        requested_at: now.to_string(),
        status: "requested".into(),
        decided_by: None,
        decided_at: None,
    };
    let v = view(t.clone(), &loans)?;
    let mut tx = db.begin().await?;
    store::add(&mut tx, &t, &loans).await?;
    let e = Event::new(&format!("user:{}", input.actor), "transfer.requested")
        .entity(format!("transfer:{}", t.transfer_id))
        .fact("buyer", t.buyer.as_str())
        .fact("loans", loans.len() as u64)
        .fact("total", v.total.as_str())
        .fact("price", v.price_amount.as_str())
        .fact("cut_off", t.cut_off.to_string().as_str())
        .fact("transfer_on", t.transfer_on.to_string().as_str());
    crate::audit::record_all(&mut tx, at, vec![e]).await?;
    tx.commit().await?;
    Ok(v)
}

/// Every transfer as shown, newest first.
pub async fn list(db: &Db) -> Result<Vec<TransferView>, Error> {
    let mut out = Vec::new();
    for t in store::all(db).await? {
        let loans = store::loans(db, &t.transfer_id).await?;
        out.push(view(t, &loans)?);
    }
    Ok(out)
}

/// A transfer as shown, by id.
pub async fn show(db: &Db, transfer_id: &str) -> Result<TransferView, Error> {
    let t = store::by_id(db, transfer_id)
        .await?
        .ok_or_else(|| Error::Invalid(format!("no transfer {transfer_id}")))?;
    let loans = store::loans(db, transfer_id).await?;
    view(t, &loans)
}

/// Approves or declines a transfer as `approver` with their role on `date`: never the maker's
/// own, within the approver's authority (kind `transfer`: the package's total, its discount as
/// the share waived); decided once. An approval sells each loan at the end of the transfer
/// date, stops its case's work and queues its borrower's transfer notice (by letter when the
/// letters channel is configured in `config/channels.toml`, else by SMS), with an audit entry
/// per loan on its case, in one transaction.
pub async fn decide(
    db: &Db,
    transfer_id: &str,
    (approver, role): (&str, arrears_core::access::Role),
    verdict: Verdict,
    note: &str,
    date: NaiveDate,
    at: &crate::audit::At,
) -> Result<TransferView, Error> {
    let t = store::by_id(db, transfer_id)
        .await?
        .ok_or_else(|| Error::Invalid(format!("no transfer {transfer_id}")))?;
    crate::arrangements::may_decide(
        "transfer",
        transfer_id,
        (&t.status, t.decided_by.as_deref()),
        &t.requested_by,
        approver,
    )?;
    let loans = store::loans(db, transfer_id).await?;
    let c = Currency::from_code(&t.currency).map_err(|e| Error::Invalid(e.to_string()))?;
    let total: i64 = loans.iter().map(owed).sum();
    if verdict == Verdict::Approve {
        if date > t.transfer_on {
            return Err(Error::Invalid(format!(
                "transfer {transfer_id} was to take effect on {}: approve it by then, or ask again",
                t.transfer_on
            )));
        }
        let decision = arrears_core::authority::Decision {
            maker: &t.requested_by,
            approver,
            role,
            kind: "transfer",
            product: "",
            currency: c,
            balance: Amount::from_minor(total),
            waived: Amount::from_minor((total - t.price).max(0)),
        };
        arrears_core::authority::check(&authority()?, &decision)
            .map_err(|e| Error::Invalid(format!("{transfer_id}: {e}")))?;
        // A loan that has since changed hands or entered an arrangement cannot be sold.
        for l in &loans {
            let Some(b) = arrears_store::loans::load_loan(db, &l.loan_id).await? else { continue };
            let pos = crate::view::position(&b, date);
            if pos.book != BookStatus::OnBook {
                return Err(Error::Invalid(format!("loan {} is {} on {date}", l.loan_id, pos.book.as_str())));
            }
            if let Some(a) = pos.active_arrangement() {
                return Err(Error::Invalid(format!(
                    "loan {} is in arrangement {} since {}: take it out of the package",
                    l.loan_id, a.id, a.on
                )));
            }
        }
    }
    let status = if verdict == Verdict::Approve { "approved" } else { "rejected" };
    let notices = if verdict == Verdict::Approve {
        notices(db, &t, &loans, notice_by_letter()).await?
    } else {
        Vec::new()
    };
    let now = at.to_rfc3339();
    let mut tx = db.begin().await?;
    if !store::decide(&mut tx, transfer_id, status, approver, &now, note).await? {
        return Err(Error::Invalid(format!("transfer {transfer_id} was decided by someone else first")));
    }
    let mut events = vec![
        Event::new(
            &format!("user:{approver}"),
            if verdict == Verdict::Approve { "transfer.approved" } else { "transfer.declined" },
        )
        .entity(format!("transfer:{transfer_id}"))
        .fact("requested_by", t.requested_by.as_str())
        .fact("role", role.as_str())
        .fact("loans", loans.len() as u64)
        .fact("note", note),
    ];
    if verdict == Verdict::Approve {
        for l in &loans {
            let event =
                LedgerEvent { on: t.transfer_on, id: transfer_id.to_string(), action: LedgerAction::Sell };
            arrears_store::ledger_events::add(&mut tx, &l.loan_id, &event).await?;
            arrears_store::loan_state::note_event(&mut tx, &l.loan_id, t.transfer_on).await?;
            let mut e = Event::new(&format!("user:{approver}"), "loan.sold")
                .entity(format!("loan:{}", l.loan_id))
                .fact("transfer_id", transfer_id)
                .fact("buyer", t.buyer.as_str())
                .fact("on", t.transfer_on.to_string().as_str())
                .fact("balance_at_cut_off", Amount::from_minor(owed(l)).format(c).as_str());
            if let Some(case) = &l.case_id {
                e = e.entity(format!("case:{case}"));
            }
            events.push(e);
        }
        let cases: Vec<&str> = loans.iter().filter_map(|l| l.case_id.as_deref()).collect();
        store::stop_work_and_notify(&mut tx, date, &cases, &notices).await?;
    }
    crate::audit::record_all(&mut tx, at, events).await?;
    tx.commit().await?;
    let t = store::by_id(db, transfer_id).await?.unwrap_or(t);
    view(t, &loans)
}

/// Whether the transfer notice goes by letter: the letters channel is configured.
fn notice_by_letter() -> bool {
    crate::channels::config::ChannelsConfig::load().is_ok_and(|c| c.channels.contains_key("letter"))
}

/// The transfer notices of an approved transfer: one per borrower, in their language, sent on
/// the morning of the transfer date.
async fn notices(
    db: &Db,
    t: &Transfer,
    loans: &[TransferLoan],
    letters: bool,
) -> Result<Vec<NewMessage>, Error> {
    let c = Currency::from_code(&t.currency).map_err(|e| Error::Invalid(e.to_string()))?;
    let templates = crate::templates::Templates::load().map_err(|e| Error::Invalid(e.to_string()))?;
    let mut scanner = crate::templates::MessageScanner::new(crate::templates::shipped_scanner());
    let mut by_borrower: BTreeMap<&str, Vec<&TransferLoan>> = BTreeMap::new();
    for l in loans {
        by_borrower.entry(l.borrower_id.as_str()).or_default().push(l);
    }
    let mut out = Vec::new();
    for b in store::notice_targets(db, &t.transfer_id).await? {
        let Some(theirs) = by_borrower.get(b.borrower_id.as_str()) else { continue };
        let values: BTreeMap<&str, String> = [
            ("name", b.name.clone()),
            ("loan_id", theirs.iter().map(|l| l.loan_id.as_str()).collect::<Vec<_>>().join(", ")),
            ("amount_due", Amount::from_minor(theirs.iter().map(|l| owed(l)).sum()).format(c)),
            ("date", t.transfer_on.to_string()),
            ("buyer", t.buyer.clone()),
        ]
        .into_iter()
        .collect();
        let (body, content, rules) = match templates.get(NOTICE_TEMPLATE, &b.language) {
            // No text in their language: queued empty, refused by the dispatcher with the reason.
            None => (String::new(), "ok", String::new()),
            Some(text) => {
                let body = arrears_content::render(text, |k| values.get(k).map(|v| v.clone().into()));
                let check = scanner.check(&body);
                if check.verdict == arrears_content::Verdict::Block {
                    return Err(Error::Invalid(format!(
                        "the transfer notice to {} is blocked by the content rules: {}",
                        b.borrower_id,
                        check.rules.join(", ")
                    )));
                }
                let warned = check.verdict == arrears_content::Verdict::Warn;
                (body, if warned { "warn" } else { "ok" }, check.rules.join(","))
            }
        };
        let key = format!("N:{}:{}", t.transfer_id, b.borrower_id);
        let params: serde_json::Map<String, serde_json::Value> =
            values.iter().map(|(k, v)| (k.to_string(), serde_json::Value::String(v.clone()))).collect();
        let morning =
            crate::batch::treatment::local_midnight(&b.timezone, t.transfer_on) + chrono::Duration::hours(9);
        out.push(NewMessage {
            task_id: arrears_core::id::TaskId::new(key).map_err(|e| Error::Invalid(e.to_string()))?,
            case_id: None,
            loan_id: Some(
                arrears_core::LoanId::new(theirs[0].loan_id.clone())
                    .map_err(|e| Error::Invalid(e.to_string()))?,
            ),
            borrower_id: arrears_core::BorrowerId::new(b.borrower_id.clone())
                .map_err(|e| Error::Invalid(e.to_string()))?,
            channel: if letters { "letter" } else { "sms" },
            template: NOTICE_TEMPLATE.into(),
            language: b.language,
            body,
            params: serde_json::Value::Object(params).to_string(),
            send_at: morning.to_rfc3339(),
            content,
            content_rules: rules,
        });
    }
    Ok(out)
}

/// What a package folder holds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Package {
    /// The transfer.
    pub transfer_id: String,
    /// `loans.csv`: one line per loan with its balances at the cut-off.
    pub loans_csv: String,
    /// Its SHA-256.
    pub loans_csv_sha256: String,
    /// Case evidence packages written (`evidence/CASE.zip`).
    pub evidence: usize,
}

/// The files of an approved transfer's package, by path: `loans.csv` (each loan's balances at
/// the cut-off), `summary.json`, and each case's evidence package from the audit log (signed
/// with `signer`) as `evidence/CASE.zip`; with the SHA-256 of `loans.csv`.
async fn package_files(
    db: &Db,
    transfer_id: &str,
    signer: &arrears_audit::LogSigner,
    at: &crate::audit::At,
) -> Result<(Vec<(String, Vec<u8>)>, String), Error> {
    let t = store::by_id(db, transfer_id)
        .await?
        .ok_or_else(|| Error::Invalid(format!("no transfer {transfer_id}")))?;
    if t.status != "approved" {
        return Err(Error::Invalid(format!(
            "transfer {transfer_id} is {}, not approved: no package",
            t.status
        )));
    }
    let loans = store::loans(db, transfer_id).await?;
    let c = Currency::from_code(&t.currency).map_err(|e| Error::Invalid(e.to_string()))?;
    let money = |m: i64| Amount::from_minor(m).format(c);
    let mut csv = String::from(
        "loan_id,borrower_id,case_id,product,currency,cut_off,dpd,five_class,principal,interest,fee,penalty,total\n",
    );
    for l in &loans {
        csv.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
            l.loan_id,
            l.borrower_id,
            l.case_id.as_deref().unwrap_or(""),
            l.product,
            c.code(),
            t.cut_off,
            l.dpd,
            l.five_class,
            money(l.principal),
            money(l.interest),
            money(l.fee),
            money(l.penalty),
            money(owed(l))
        ));
    }
    let sha = crate::audit::sha256_hex(&csv);
    let mut files = vec![("loans.csv".to_string(), csv.into_bytes())];
    let mut cases: Vec<&str> = loans.iter().filter_map(|l| l.case_id.as_deref()).collect();
    cases.sort_unstable();
    cases.dedup();
    let mut evidence = Vec::with_capacity(cases.len());
    for case in cases {
        let ev = crate::audit::case_evidence(db, case, signer, at)
            .await
            .map_err(|e| Error::Invalid(e.to_string()))?;
        let zip = crate::audit::evidence_zip(&ev)
            .map_err(|e| Error::Invalid(format!("evidence of {case}: {e}")))?;
        evidence.push((format!("evidence/{}.zip", case.replace(':', "_")), zip));
    }
    let summary = serde_json::json!({ "transfer": view(t, &loans)?, "loans_csv_sha256": sha });
    let summary = serde_json::to_string_pretty(&summary).unwrap_or_default() + "\n";
    files.push(("summary.json".to_string(), summary.into_bytes()));
    files.extend(evidence);
    Ok((files, sha))
}

/// Writes an approved transfer's package into `dir` (see [`package_files`]).
pub async fn write_package(
    db: &Db,
    transfer_id: &str,
    dir: &std::path::Path,
    signer: &arrears_audit::LogSigner,
    at: &crate::audit::At,
) -> Result<Package, Error> {
    let (files, sha) = package_files(db, transfer_id, signer, at).await?;
    let io = |what: &str, e: std::io::Error| Error::Invalid(format!("{}: {what}: {e}", dir.display()));
    std::fs::create_dir_all(dir.join("evidence")).map_err(|e| io("create", e))?;
    let mut evidence = 0;
    for (name, bytes) in &files {
        std::fs::write(dir.join(name), bytes).map_err(|e| io(name, e))?;
        evidence += usize::from(name.starts_with("evidence/"));
    }
    Ok(Package {
        transfer_id: transfer_id.to_string(),
        loans_csv: dir.join("loans.csv").display().to_string(),
        loans_csv_sha256: sha,
        evidence,
    })
}

/// An approved transfer's package as one zip, for download from the workbench.
pub async fn package_zip(
    db: &Db,
    transfer_id: &str,
    signer: &arrears_audit::LogSigner,
    at: &crate::audit::At,
) -> Result<Vec<u8>, Error> {
    use std::io::Write as _;
    let (files, _) = package_files(db, transfer_id, signer, at).await?;
    let zipping =
        |e: &dyn std::fmt::Display| Error::Invalid(format!("zipping the package of {transfer_id}: {e}"));
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, bytes) in files {
        zip.start_file(name, opts).map_err(|e| zipping(&e))?;
        zip.write_all(&bytes).map_err(|e| zipping(&e))?;
    }
    Ok(zip.finish().map_err(|e| zipping(&e))?.into_inner())
}
