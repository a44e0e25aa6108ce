//! Step 5, reminders (还款提醒): the strategy's `[[reminder]]`s before and on the due date, and
//! the notice that penalty interest has started, queued in the outbox beside the cases'
//! messages and checked the same way (contact policy with restrictions and opt-outs first,
//! then the content rules on the rendered text). The dispatcher checks each again when it sends.

use std::collections::{BTreeSet, HashMap};

use arrears_content::Verdict;
use arrears_core::contact_policy::{Attempt, Channel, Party, Proposal, Purpose, Source, first_allowed};
use arrears_core::id::{BorrowerId, TaskId};
use arrears_core::{Amount, Currency};
use arrears_store::Db;
use arrears_store::batch_chunks::KeyRange;
use arrears_store::outbox::NewMessage;
use arrears_store::reminders::ReminderLoan;
use arrears_strategy::{LoanDue, ReminderTrigger, Strategy, due_reminders};
use chrono::{Duration, NaiveDate};

use super::treatment::{TreatmentError, TreatmentReport, channel_of, local_midnight};
use crate::contact_policy::{Packs, profile};
use crate::restrictions::Target;
use crate::templates::{MessageScanner, Templates};

/// The reminders of `date` for the borrowers of `range`, as messages for the outbox; counts go
/// to `report`.
// The strategy, templates, scanner and packs are the run's, read once for all of its cases.
#[allow(clippy::too_many_arguments)]
pub(super) async fn decide(
    db: &Db,
    date: NaiveDate,
    range: &KeyRange,
    strategy: &Strategy,
    templates: &Templates,
    scanner: &mut MessageScanner<'_>,
    packs: &Packs,
    report: &mut TreatmentReport,
) -> Result<Vec<NewMessage>, TreatmentError> {
    if strategy.reminders.is_empty() {
        return Ok(Vec::new());
    }
    let mut days = BTreeSet::new();
    let mut penalty = false;
    for r in &strategy.reminders {
        match r.trigger {
            ReminderTrigger::BeforeDue(n) => {
                days.insert(date + Duration::days(1 + n));
            }
            ReminderTrigger::PenaltyStarts => penalty = true,
        }
    }
    let days: Vec<NaiveDate> = days.into_iter().collect();
    let loans = arrears_store::reminders::loans_for(db, date, &days, penalty, range).await?;
    let borrowers: Vec<&str> = loans.iter().map(|l| l.borrower_id.as_str()).collect();
    let restricted = crate::restrictions::of_borrowers(db, &borrowers).await?;
    // What this run queues for a borrower counts against the frequency limits of the next.
    let mut queued: HashMap<BorrowerId, Vec<Attempt>> = HashMap::new();
    let mut out = Vec::new();
    for loan in &loans {
        let facts = LoanDue {
            dpd: loan.dpd,
            next_due: loan.next_due,
            grace_days: loan.grace_days,
            in_case: loan.case_id.is_some(),
            case_withheld: loan.hold.is_some() || loan.placed_with.is_some(),
        };
        for due in due_reminders(strategy, &facts, date) {
            let r = due.reminder;
            let key = TaskId::new(format!("R:{}:{}:{}", loan.loan_id, r.name, due.due_on))?;
            let channel = channel_of(r.kind);
            let reachable = if channel == Channel::Email { loan.email_valid } else { loan.phone_valid };
            if !reachable {
                report.reminders_unreachable += 1;
                continue;
            }
            let morning = local_midnight(&loan.timezone, date + Duration::days(1));
            let subject =
                loan.case_id.as_ref().map_or_else(|| loan.borrower_id.to_string(), |c| c.to_string());
            let proposal = Proposal {
                party: Party::Debtor,
                channel,
                address: format!("{subject}:{}", channel.as_str()),
                at: morning,
                by: Vec::new(),
                source: Source::Lender,
                purpose: Purpose::Collect,
                debt: None,
                carries_opt_out: true,
            };
            let mut profile = profile(&loan.timezone, loan.hold.as_deref());
            if let Some(rs) = restricted.get(&loan.borrower_id) {
                let target = Target { channel, address: &proposal.address, bidx: None };
                crate::restrictions::apply(&mut profile, rs, Some(date + Duration::days(1)), target);
            }
            let pack = packs.for_case(loan.contact_pack.as_deref(), &loan.timezone);
            let history = queued.entry(loan.borrower_id.clone()).or_default();
            // A reminder belongs to its day: one the policy keeps off that day is not sent later.
            let Some(at) = first_allowed(
                pack,
                &proposal,
                &profile,
                history,
                packs.holidays_for(pack),
                morning + Duration::days(1),
            ) else {
                report.reminders_blocked += 1;
                continue;
            };
            let values = values(loan, due.due_on, r.trigger, date);
            let Some(text) = templates.get(&r.template, &loan.language) else {
                // No text in the borrower's language: queued empty, the dispatcher refuses it with that reason.
                out.push(message(key, loan, r, channel.as_str(), String::new(), &values, at, None));
                report.reminders += 1;
                continue;
            };
            let body = arrears_content::render(text, |k| values.get(k).map(|v| v.clone().into()));
            let scanned = scanner.check(&body);
            if scanned.verdict == Verdict::Block {
                report.content_blocked += 1;
                report.reminders_blocked += 1;
                continue;
            }
            let warned = (scanned.verdict == Verdict::Warn).then(|| scanned.rules.join(","));
            if warned.is_some() {
                report.content_warned += 1;
            }
            history.push(Attempt::scheduled(&proposal, at));
            out.push(message(key, loan, r, channel.as_str(), body, &values, at, warned));
            report.reminders += 1;
        }
    }
    Ok(out)
}

// One argument per column the message needs; a struct would only rename them.
#[allow(clippy::too_many_arguments)]
fn message(
    key: TaskId,
    loan: &ReminderLoan,
    r: &arrears_strategy::Reminder,
    channel: &'static str,
    body: String,
    values: &HashMap<&'static str, String>,
    at: chrono::DateTime<chrono::Utc>,
    warned: Option<String>,
) -> NewMessage {
    let params: serde_json::Map<String, serde_json::Value> =
        values.iter().map(|(k, v)| (k.to_string(), serde_json::Value::String(v.clone()))).collect();
    NewMessage {
        task_id: key,
        case_id: loan.case_id.clone(),
        loan_id: Some(loan.loan_id.clone()),
        borrower_id: loan.borrower_id.clone(),
        channel,
        template: r.template.clone(),
        language: loan.language.clone(),
        body,
        params: serde_json::Value::Object(params).to_string(),
        send_at: at.to_rfc3339(),
        content: if warned.is_some() { "warn" } else { "ok" },
        content_rules: warned.unwrap_or_default(),
    }
}

/// The placeholders a reminder fills: the instalment's due date and what is left of it (the
/// overdue total for the penalty notice), with the loan and the borrower's name.
fn values(
    loan: &ReminderLoan,
    due_on: NaiveDate,
    trigger: ReminderTrigger,
    date: NaiveDate,
) -> HashMap<&'static str, String> {
    let mut v = HashMap::new();
    v.insert("name", loan.name.clone());
    v.insert("loan_id", loan.loan_id.to_string());
    v.insert("due_date", due_on.to_string());
    v.insert("date", date.to_string());
    v.insert("dpd", loan.dpd.to_string());
    if let Ok(currency) = Currency::from_code(&loan.currency) {
        let left = loan.next_due.map_or(0, |(_, left)| left);
        let amount = match trigger {
            ReminderTrigger::PenaltyStarts => loan.overdue.max(left),
            ReminderTrigger::BeforeDue(_) => left,
        };
        v.insert("amount_due", Amount::from_minor(amount).format(currency));
        v.insert("overdue", Amount::from_minor(loan.overdue).format(currency));
    }
    v
}
