//! Reminders before and on the due date (还款提醒), and the notice that penalty interest has
//! started: messages about one loan's next instalment that fire by themselves, for borrowers
//! with no collection case as much as for those with one.
//!
//! ```toml
//! [[reminder]]
//! name = "due_sms_d_minus_3"       # unique among steps and reminders
//! kind = "sms"                     # sms or email
//! dpd = -3                         # the day relative to the due date: -3 is three days before, 0 the day itself
//! template = "due_reminder"
//!
//! [[reminder]]
//! name = "penalty_started_sms"
//! kind = "sms"
//! penalty_starts = true            # the day after the grace days run out unpaid
//! template = "penalty_notice"
//! ```
//!
//! Timing: the batch of business date D runs after D's close and its messages go out from
//! D+1 00:00 in the borrower's zone, so a reminder at `dpd = -n` is decided on D when the
//! instalment falls due on D+1+n, and the penalty notice on the last day of grace
//! (due date + grace days) when the instalment is still unpaid at its close.
//!
//! Who gets them: a reminder before or on the due date goes to a borrower with no open case
//! (a case's own ladder speaks to a borrower in collection); the penalty notice goes to every
//! borrower whose case is neither on hold nor placed with an agency. Each fires once per loan
//! and instalment: the caller keys the message by loan, reminder and due date.

use chrono::{Duration, NaiveDate};

use crate::file::{Reminder, ReminderTrigger, Strategy};

/// What a reminder needs to know of one loan on the business date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoanDue {
    /// Days past due on the date (0: nothing overdue).
    pub dpd: i64,
    /// The next instalment not yet overdue: its due date and what is left to pay of it (minor units).
    pub next_due: Option<(NaiveDate, i64)>,
    /// The product's grace days: penalty is waived for an instalment paid within them.
    pub grace_days: i64,
    /// Whether the borrower has an open collection case.
    pub in_case: bool,
    /// Whether that case is on hold or placed with an agency (no internal treatment).
    pub case_withheld: bool,
}

/// A reminder due for a loan, with the instalment it is about.
#[derive(Debug, Clone, PartialEq)]
pub struct DueReminder<'a> {
    /// The reminder.
    pub reminder: &'a Reminder,
    /// Due date of the instalment it is about (with the reminder's name, the message's key).
    pub due_on: NaiveDate,
    /// Why it fired, for the audit (`3 days before 2026-12-10`).
    pub because: String,
}

/// The reminders of `strategy` that fire for `loan` on business date `date`.
pub fn due_reminders<'a>(strategy: &'a Strategy, loan: &LoanDue, date: NaiveDate) -> Vec<DueReminder<'a>> {
    let mut out = Vec::new();
    for r in &strategy.reminders {
        match r.trigger {
            ReminderTrigger::BeforeDue(days) => {
                let Some((due_on, left)) = loan.next_due else { continue };
                if loan.in_case || left <= 0 || due_on != date + Duration::days(1 + days) {
                    continue;
                }
                let because = if days == 0 {
                    format!("due on {due_on}")
                } else {
                    format!("{days} days before {due_on}")
                };
                out.push(DueReminder { reminder: r, due_on, because });
            }
            ReminderTrigger::PenaltyStarts => {
                if loan.case_withheld {
                    continue;
                }
                // The oldest unpaid instalment: overdue for `dpd` days, or due today.
                let oldest = if loan.dpd > 0 {
                    Some(date - Duration::days(loan.dpd))
                } else {
                    loan.next_due.filter(|&(on, left)| on == date && left > 0).map(|(on, _)| on)
                };
                let Some(due_on) = oldest else { continue };
                if due_on + Duration::days(loan.grace_days.max(0)) == date {
                    let because = format!(
                        "penalty from {} (grace {} days)",
                        due_on + Duration::days(1),
                        loan.grace_days
                    );
                    out.push(DueReminder { reminder: r, due_on, because });
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file::{Known, check};

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    const FILE: &str = r#"
name = "t"
version = 1
effective_from = "2026-01-01"
[[segment]]
name = "all"
when = "true"
[[segment.step]]
name = "sms"
kind = "sms"
dpd = 1
template = "reminder_soft"
[[reminder]]
name = "d3"
kind = "sms"
dpd = -3
template = "reminder_soft"
[[reminder]]
name = "d0"
kind = "email"
dpd = 0
template = "reminder_soft"
[[reminder]]
name = "penalty"
kind = "sms"
penalty_starts = true
template = "reminder_soft"
"#;

    fn fired(loan: &LoanDue, date: &str) -> Vec<(String, String)> {
        let s = check("t.toml", FILE, &Known::default()).unwrap();
        due_reminders(&s, loan, d(date))
            .into_iter()
            .map(|r| (r.reminder.name.clone(), r.due_on.to_string()))
            .collect()
    }

    fn current(due: &str, left: i64) -> LoanDue {
        LoanDue {
            dpd: 0,
            next_due: Some((d(due), left)),
            grace_days: 3,
            in_case: false,
            case_withheld: false,
        }
    }

    #[test]
    fn reminders_fire_on_their_day_relative_to_the_due_date() {
        let due = "2026-12-10";
        // (batch date, expected reminders): messages go out the day after the batch date.
        let table: &[(&str, &[&str])] = &[
            ("2026-12-05", &[]),
            ("2026-12-06", &["d3"]), // sent on 12-07, three days before
            ("2026-12-07", &[]),
            ("2026-12-09", &["d0"]), // sent on 12-10, the due date
            ("2026-12-10", &[]),
        ];
        for (date, want) in table {
            let got: Vec<String> = fired(&current(due, 10_000), date).into_iter().map(|(n, _)| n).collect();
            assert_eq!(got, *want, "batch date {date}");
        }
    }

    #[test]
    fn nothing_left_to_pay_or_a_case_open_means_no_reminder() {
        assert!(fired(&current("2026-12-10", 0), "2026-12-06").is_empty());
        let in_case = LoanDue { in_case: true, ..current("2026-12-10", 100) };
        assert!(fired(&in_case, "2026-12-06").is_empty());
        assert!(fired(&LoanDue { next_due: None, ..current("2026-12-10", 1) }, "2026-12-06").is_empty());
    }

    #[test]
    fn penalty_notice_fires_on_the_last_day_of_grace() {
        // Due 12-10 with 3 grace days: unpaid at the close of 12-13 (DPD 3), penalty is owed from 12-11.
        let overdue = |dpd| LoanDue {
            dpd,
            next_due: Some((d("2027-01-10"), 500)),
            grace_days: 3,
            in_case: true,
            case_withheld: false,
        };
        for (dpd, date, want) in [(2, "2026-12-12", false), (3, "2026-12-13", true), (4, "2026-12-14", false)]
        {
            let got = fired(&overdue(dpd), date);
            assert_eq!(got.iter().any(|(n, on)| n == "penalty" && on == "2026-12-10"), want, "dpd {dpd}");
        }
        // No grace: the due date's own close.
        let today = LoanDue { grace_days: 0, ..current("2026-12-10", 100) };
        assert_eq!(fired(&today, "2026-12-10"), vec![("penalty".to_string(), "2026-12-10".to_string())]);
        // A case on hold or with an agency gets no notice from us.
        let withheld = LoanDue { case_withheld: true, ..overdue(3) };
        assert!(fired(&withheld, "2026-12-13").is_empty());
    }
}
