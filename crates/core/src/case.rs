//! Collection cases (催收案件) derived from delinquency: one case per borrower
//! holds every loan of theirs that is delinquent, opens on the first day one is
//! and closes on the first day none is.
//!
//! Cases are a function of each loan's delinquency history, so a backdated
//! payment that rewrites the history rewrites the cases to what they would have
//! been had the payment arrived on time.

use chrono::NaiveDate;

use crate::book::text_enum;
use crate::id::{BorrowerId, CaseId, LoanId};

text_enum!(
    /// Where a collection case stands.
    CaseStatus {
        /// Some loan of the borrower is delinquent.
        Open = "open",
        /// Every loan cured; the case keeps its history.
        Closed = "closed",
        /// A backdated payment showed it should never have opened, but work was recorded on it.
        Void = "void",
    }
);

impl CaseStatus {
    /// The status of a derived case: closed once it has a closing date.
    pub fn of(closed_on: Option<NaiveDate>) -> CaseStatus {
        if closed_on.is_some() { CaseStatus::Closed } else { CaseStatus::Open }
    }
}

/// A run of business dates on which a loan was delinquent (DPD > 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spell {
    /// The loan.
    pub loan_id: LoanId,
    /// First delinquent date.
    pub began_on: NaiveDate,
    /// First date cured again; `None` while still delinquent.
    pub ended_on: Option<NaiveDate>,
}

/// Turns a loan's change-only history of delinquent flags (ascending dates) into spells.
pub fn spells(loan_id: &LoanId, changes: &[(NaiveDate, bool)]) -> Vec<Spell> {
    let mut out: Vec<Spell> = Vec::new();
    let mut open: Option<NaiveDate> = None;
    for &(on, delinquent) in changes {
        match (open, delinquent) {
            (None, true) => open = Some(on),
            (Some(began_on), false) => {
                out.push(Spell { loan_id: loan_id.clone(), began_on, ended_on: Some(on) });
                open = None;
            }
            _ => {}
        }
    }
    if let Some(began_on) = open {
        out.push(Spell { loan_id: loan_id.clone(), began_on, ended_on: None });
    }
    out
}

/// A case as its borrower's spells define it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseSpan {
    /// The first date one of the loans was delinquent.
    pub opened_on: NaiveDate,
    /// The first date none was; `None` while open.
    pub closed_on: Option<NaiveDate>,
    /// Each loan the case held, with the date it joined, in joining order.
    pub loans: Vec<(LoanId, NaiveDate)>,
}

/// Derives a borrower's cases from the spells of all of their loans.
///
/// A spell that begins on the day another ends keeps the case open: there was
/// no business date on which the borrower owed nothing overdue.
pub fn derive(spells: &[Spell]) -> Vec<CaseSpan> {
    let mut sorted: Vec<&Spell> = spells.iter().collect();
    sorted.sort_by(|a, b| (a.began_on, &a.loan_id).cmp(&(b.began_on, &b.loan_id)));
    let mut cases: Vec<CaseSpan> = Vec::new();
    for s in sorted {
        match cases.last_mut() {
            Some(c) if c.closed_on.is_none_or(|closed| s.began_on <= closed) => {
                c.closed_on = match (c.closed_on, s.ended_on) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    _ => None,
                };
                if !c.loans.iter().any(|(id, _)| *id == s.loan_id) {
                    c.loans.push((s.loan_id.clone(), s.began_on));
                }
            }
            _ => cases.push(CaseSpan {
                opened_on: s.began_on,
                closed_on: s.ended_on,
                loans: vec![(s.loan_id.clone(), s.began_on)],
            }),
        }
    }
    cases
}

/// The case's identifier: the borrower and the opening date, so that deriving
/// the same history twice names the same case.
pub fn case_id(borrower_id: &BorrowerId, opened_on: NaiveDate) -> CaseId {
    CaseId::derived(format!("C-{borrower_id}-{}", opened_on.format("%Y%m%d")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::parse_iso_date;

    fn d(s: &str) -> NaiveDate {
        parse_iso_date(s).unwrap()
    }

    fn spell(loan: &str, from: &str, to: Option<&str>) -> Spell {
        Spell { loan_id: LoanId::new(loan).unwrap(), began_on: d(from), ended_on: to.map(d) }
    }

    #[test]
    fn spells_follow_the_flag_changes() {
        let changes = [
            (d("2024-01-01"), false),
            (d("2024-01-05"), true),
            (d("2024-01-06"), true),
            (d("2024-01-09"), false),
            (d("2024-02-01"), true),
        ];
        assert_eq!(
            spells(&LoanId::new("L1").unwrap(), &changes),
            vec![spell("L1", "2024-01-05", Some("2024-01-09")), spell("L1", "2024-02-01", None)]
        );
        assert!(spells(&LoanId::new("L1").unwrap(), &[(d("2024-01-01"), false)]).is_empty());
    }

    #[test]
    fn cases_from_spells_table() {
        /// (what, spells, expected (opened, closed, loans))
        type Case<'a> = (&'a str, Vec<Spell>, Vec<(&'a str, Option<&'a str>, Vec<&'a str>)>);
        let table: Vec<Case> = vec![
            ("no spells, no case", vec![], vec![]),
            ("one open spell", vec![spell("L1", "2024-01-05", None)], vec![("2024-01-05", None, vec!["L1"])]),
            (
                "second loan joins the open case",
                vec![
                    spell("L2", "2024-01-10", Some("2024-01-20")),
                    spell("L1", "2024-01-05", Some("2024-01-15")),
                ],
                vec![("2024-01-05", Some("2024-01-20"), vec!["L1", "L2"])],
            ),
            (
                "cured on the day the other falls due keeps the case open",
                vec![spell("L1", "2024-01-05", Some("2024-01-15")), spell("L2", "2024-01-15", None)],
                vec![("2024-01-05", None, vec!["L1", "L2"])],
            ),
            (
                "a gap of a day closes and reopens",
                vec![spell("L1", "2024-01-05", Some("2024-01-15")), spell("L1", "2024-01-16", None)],
                vec![("2024-01-05", Some("2024-01-15"), vec!["L1"]), ("2024-01-16", None, vec!["L1"])],
            ),
            (
                "a loan delinquent twice in one case is listed once",
                vec![
                    spell("L1", "2024-01-05", None),
                    spell("L2", "2024-01-06", Some("2024-01-08")),
                    spell("L2", "2024-01-10", None),
                ],
                vec![("2024-01-05", None, vec!["L1", "L2"])],
            ),
        ];
        for (what, spells, expected) in table {
            let got: Vec<(NaiveDate, Option<NaiveDate>, Vec<String>)> = derive(&spells)
                .into_iter()
                .map(|c| (c.opened_on, c.closed_on, c.loans.into_iter().map(|(l, _)| l.into()).collect()))
                .collect();
            let want: Vec<(NaiveDate, Option<NaiveDate>, Vec<String>)> = expected
                .into_iter()
                .map(|(o, c, ls)| (d(o), c.map(d), ls.into_iter().map(String::from).collect()))
                .collect();
            assert_eq!(got, want, "{what}");
        }
    }

    #[test]
    fn case_ids_are_stable() {
        assert_eq!(case_id(&BorrowerId::new("B0000001").unwrap(), d("2026-11-20")), "C-B0000001-20261120");
    }
}
