//! Write-offs (核销): a loan's balance taken off the book, in full or in part, requested by one
//! user and approved by another within their authority; later payments are recoveries, reported
//! apart and never reopening the loan; a reversal (冲回) puts back what was not recovered and
//! needs its own approval. An approved one is a ledger event of the loan on the decision's date.

use arrears_core::ledger::{BookStatus, LedgerAction, LedgerEvent, Totals};
use arrears_core::{Amount, Currency};
use arrears_store::Db;
use arrears_store::loans::LoanBundle;
use arrears_store::write_offs::{self as store, WriteOffRequest};

use crate::arrangements::{ArrangementError as Error, Verdict, authority};
use crate::audit::Event;

/// What is asked.
#[derive(Debug, Clone)]
pub struct WriteOffInput {
    /// The loan.
    pub loan_id: String,
    /// A partial write-off's amount in major units; `None` writes off everything owed.
    pub amount: Option<String>,
    /// A reversal of the loan's write-off rather than a write-off.
    pub reverse: bool,
    /// Why, in the maker's words.
    pub note: String,
    /// Who asks.
    pub actor: String,
}

/// What the loan stands at on the date, as a write-off is judged.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WriteOffQuote {
    /// The loan.
    pub loan_id: String,
    /// The date.
    pub date: chrono::NaiveDate,
    /// Currency code.
    pub currency: String,
    /// Owed on the book: outstanding less credit held.
    pub balance: String,
    /// What this write-off takes off the book (a reversal: puts back).
    pub amount: String,
    /// Written off before it and not recovered.
    pub written_off: String,
    /// Recovered on written-off debt so far.
    pub recovered: String,
}

/// Checks what is asked against the loan on `date`: a write-off of a loan on the book, not in
/// an arrangement in force, of no more than it owes; a reversal of a loan with something
/// written off and not recovered, not sold.
fn judge(
    b: &LoanBundle,
    date: chrono::NaiveDate,
    reverse: bool,
    amount: Option<Amount>,
) -> Result<WriteOffQuote, Error> {
    let loan = b.loan.id.as_str();
    let c: Currency = b.loan.currency;
    let pos = crate::view::position(b, date);
    let t: Totals = pos.totals(b.loan.principal, &b.payments);
    let balance = (t.outstanding - t.credit).clamp_zero();
    let bad = |why: String| Err(Error::Invalid(format!("loan {loan} on {date}: {why}")));
    if pos.book == BookStatus::Sold {
        return bad("it was sold; nothing of it is ours to write off or put back".into());
    }
    let taken = if reverse {
        if t.written_off.minor() <= 0 {
            return bad("nothing is written off and unrecovered, so there is nothing to put back".into());
        }
        if amount.is_some() {
            return bad("a reversal puts back everything not recovered; it takes no --amount".into());
        }
        t.written_off
    } else {
        if pos.book == BookStatus::WrittenOff {
            return bad("it is written off already".into());
        }
        if let Some(a) = pos.active_arrangement() {
            return bad(format!(
                "arrangement {} ({}) is in force since {}: it must be kept or break first",
                a.id,
                a.kind.as_str(),
                a.on
            ));
        }
        if balance.is_zero() {
            return bad("nothing is owed".into());
        }
        match amount {
            Some(a) if a.minor() <= 0 => {
                return bad(format!("the amount must be positive, not {}", a.format(c)));
            }
            Some(a) if a > balance => {
                return bad(format!("{} is more than the {} owed", a.format(c), balance.format(c)));
            }
            Some(a) => a,
            None => balance,
        }
    };
    Ok(WriteOffQuote {
        loan_id: loan.to_string(),
        date,
        currency: c.code().to_string(),
        balance: balance.format(c),
        amount: taken.format(c),
        written_off: t.written_off.format(c),
        recovered: t.recovered.format(c),
    })
}

fn kind(reverse: bool) -> &'static str {
    if reverse { "write_off_reversal" } else { "write_off" }
}

async fn bundle(db: &Db, loan_id: &str) -> Result<LoanBundle, Error> {
    arrears_store::loans::load_loan(db, loan_id)
        .await?
        .ok_or_else(|| Error::Invalid(format!("no loan {loan_id}")))
}

/// Records a write-off or reversal request, checked against the loan on `date`, with its audit
/// entry in one transaction.
pub async fn request(
    db: &Db,
    input: WriteOffInput,
    date: chrono::NaiveDate,
    at: &crate::audit::At,
) -> Result<WriteOffRequest, Error> {
    let b = bundle(db, &input.loan_id).await?;
    let c = b.loan.currency;
    let amount = input
        .amount
        .as_deref()
        .map(|a| Amount::parse(a.trim(), c).map_err(|e| Error::Invalid(format!("amount {a:?}: {e}"))))
        .transpose()?;
    judge(&b, date, input.reverse, amount)?;
    let now = at.to_rfc3339();
    let r = WriteOffRequest {
        request_id: format!("WO:{}:{now}", input.loan_id),
        loan_id: input.loan_id.clone(),
        kind: kind(input.reverse).to_string(),
        amount: amount.map(|a| a.minor()),
        currency: c.code().to_string(),
        note: input.note,
        requested_by: input.actor.clone(),
        requested_at: now.to_string(),
        status: "requested".into(),
        decided_by: None,
        decided_at: None,
        effective_on: None,
    };
    let case = arrears_store::workbench::case_of_loan(db, &r.loan_id).await?;
    let mut tx = db.begin().await?;
    store::add(&mut tx, &r).await?;
    let mut e = Event::new(&format!("user:{}", input.actor), &format!("{}.requested", r.kind))
        .entity(format!("loan:{}", r.loan_id))
        .fact("request_id", r.request_id.as_str())
        .fact("amount", r.amount.map_or("all".to_string(), |a| Amount::from_minor(a).format(c)).as_str())
        .fact("note", r.note.as_str());
    if let Some(case) = &case {
        e = e.entity(format!("case:{case}"));
    }
    crate::audit::record_all(&mut tx, at, vec![e]).await?;
    tx.commit().await?;
    Ok(r)
}

/// What a waiting request would do to its loan on `date` (for the approver, beside it).
pub async fn quote_request(
    db: &Db,
    r: &WriteOffRequest,
    date: chrono::NaiveDate,
) -> Result<WriteOffQuote, Error> {
    let b = bundle(db, &r.loan_id).await?;
    judge(&b, date, r.kind == "write_off_reversal", r.amount.map(Amount::from_minor))
}

/// A decision, with what the loan stood at.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WriteOffDecision {
    /// The request.
    pub request_id: String,
    /// approved or rejected.
    pub status: &'static str,
    /// Who decided.
    pub decided_by: String,
    /// The loan on the decision's date.
    pub quote: WriteOffQuote,
}

/// Approves or declines a request as `approver` with their role on `date`: never the maker's
/// own, an approval only within the approver's authority (`config/authority.toml`, kinds
/// `write_off` and `write_off_reversal`: the balance, and the amount taken as the share
/// waived); decided once. An approval is a ledger event of the loan on `date`, marked for
/// evaluation, audited in the same transaction.
pub async fn decide(
    db: &Db,
    request_id: &str,
    (approver, role): (&str, arrears_core::access::Role),
    verdict: Verdict,
    note: &str,
    date: chrono::NaiveDate,
    at: &crate::audit::At,
) -> Result<WriteOffDecision, Error> {
    let r = store::by_id(db, request_id)
        .await?
        .ok_or_else(|| Error::Invalid(format!("no write-off request {request_id}")))?;
    crate::arrangements::may_decide(
        "request",
        request_id,
        (&r.status, r.decided_by.as_deref()),
        &r.requested_by,
        approver,
    )?;
    let b = bundle(db, &r.loan_id).await?;
    if let Some(later) = b.events.iter().map(|e| e.on).filter(|on| *on > date).max() {
        return Err(Error::Invalid(format!(
            "loan {} has a change to its ledger on {later}, after {date}: decide as of {later} or later",
            r.loan_id
        )));
    }
    let c = b.loan.currency;
    let reverse = r.kind == "write_off_reversal";
    let quote = judge(&b, date, reverse, r.amount.map(Amount::from_minor))?;
    if verdict == Verdict::Approve {
        let parse = |s: &str| Amount::parse(s, c).unwrap_or(Amount::ZERO);
        let balance = if reverse { parse(&quote.written_off) } else { parse(&quote.balance) };
        let decision = arrears_core::authority::Decision {
            maker: &r.requested_by,
            approver,
            role,
            kind: &r.kind,
            product: &b.loan.product,
            currency: c,
            balance,
            waived: parse(&quote.amount),
        };
        arrears_core::authority::check(&authority()?, &decision)
            .map_err(|e| Error::Invalid(format!("{request_id}: {e}")))?;
    }
    let status = if verdict == Verdict::Approve { "approved" } else { "rejected" };
    let quote_json = serde_json::to_string(&quote).map_err(|e| Error::Invalid(e.to_string()))?;
    let now = at.to_rfc3339();
    let case = arrears_store::workbench::case_of_loan(db, &r.loan_id).await?;
    let mut tx = db.begin().await?;
    let write = store::Decision {
        request_id,
        status,
        by: approver,
        at: &now,
        note,
        effective_on: date,
        quote: &quote_json,
    };
    if !store::decide(&mut tx, &write).await? {
        return Err(Error::Invalid(format!("request {request_id} was decided by someone else first")));
    }
    if verdict == Verdict::Approve {
        let action = if reverse {
            LedgerAction::ReverseWriteOff
        } else {
            LedgerAction::WriteOff(r.amount.map(Amount::from_minor))
        };
        let event = LedgerEvent { on: date, id: request_id.to_string(), action };
        arrears_store::ledger_events::add(&mut tx, &r.loan_id, &event).await?;
        arrears_store::loan_state::note_event(&mut tx, &r.loan_id, date).await?;
    }
    let mut e = Event::new(
        &format!("user:{approver}"),
        &format!("{}.{}", r.kind, if verdict == Verdict::Approve { "approved" } else { "declined" }),
    )
    .entity(format!("loan:{}", r.loan_id))
    .fact("request_id", request_id)
    .fact("requested_by", r.requested_by.as_str())
    .fact("role", role.as_str())
    .fact("effective_on", date.to_string().as_str())
    .fact("amount", quote.amount.as_str())
    .fact("balance", quote.balance.as_str())
    .fact("quote_sha256", crate::audit::sha256_hex(&quote_json).as_str())
    .fact("note", note);
    if let Some(case) = &case {
        e = e.entity(format!("case:{case}"));
    }
    crate::audit::record_all(&mut tx, at, vec![e]).await?;
    tx.commit().await?;
    Ok(WriteOffDecision {
        request_id: request_id.to_string(),
        status,
        decided_by: approver.to_string(),
        quote,
    })
}
