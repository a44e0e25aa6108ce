//! The legal track (法律诉讼): a legal case attached to a collection case moves through its
//! stages in order — lawyer letter (律师函), pre-litigation mediation (诉前调解), filing (立案),
//! hearing (开庭), judgment (判决), enforcement (执行), closed (结案) — forward only, a stage
//! may be skipped, never one gone back to. Each stage has a deadline, by default so many days
//! after it is entered.

use chrono::NaiveDate;

use crate::book::text_enum;

text_enum!(
    /// Where a legal case stands.
    Stage {
        /// 律师函: the lawyer's demand letter.
        LawyerLetter = "lawyer_letter",
        /// 诉前调解: mediation before a suit.
        Mediation = "mediation",
        /// 立案: the suit filed with the court.
        Filing = "filing",
        /// 开庭: heard.
        Hearing = "hearing",
        /// 判决: judged (or mediated by the court).
        Judgment = "judgment",
        /// 执行: enforcement of the judgment.
        Enforcement = "enforcement",
        /// 结案: closed.
        Closed = "closed",
    }
);

impl Stage {
    /// Position in the order (the order they are declared in, `Stage::ALL`), from 0.
    pub fn rank(self) -> usize {
        Stage::ALL.iter().position(|s| *s == self).unwrap_or(0)
    }

    /// Days from entering the stage to its deadline by default: the letter's reply period,
    /// mediation's 30 days (民事诉讼法: 诉前调解 generally within 30 days), the court's acceptance
    /// of a filing, a hearing, the 15-day appeal period after a judgment, enforcement's six
    /// months; none once closed.
    pub fn default_days(self) -> Option<u32> {
        match self {
            Stage::LawyerLetter => Some(15),
            Stage::Mediation => Some(30),
            Stage::Filing => Some(30),
            Stage::Hearing => Some(90),
            Stage::Judgment => Some(15),
            Stage::Enforcement => Some(180),
            Stage::Closed => None,
        }
    }

    /// The Chinese name shown on the board.
    pub fn zh(self) -> &'static str {
        match self {
            Stage::LawyerLetter => "律师函",
            Stage::Mediation => "诉前调解",
            Stage::Filing => "立案",
            Stage::Hearing => "开庭",
            Stage::Judgment => "判决",
            Stage::Enforcement => "执行",
            Stage::Closed => "结案",
        }
    }
}

/// Why a legal step is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LegalError {
    /// A stage before the current one, or the same.
    #[error("a legal case at {from} cannot go to {to}: stages only move forward ({order})")]
    Backwards {
        /// Current stage.
        from: Stage,
        /// Asked.
        to: Stage,
        /// The order, written out.
        order: String,
    },
    /// The case is closed.
    #[error("the legal case is closed")]
    Closed,
    /// A deadline before the day the stage is entered.
    #[error("deadline {deadline} is before {on}, the day the stage is entered")]
    DeadlineBefore {
        /// Asked.
        deadline: NaiveDate,
        /// The stage's first day.
        on: NaiveDate,
    },
}

/// Checks a move from `from` to `to` on `on` and gives the new stage's deadline: `deadline`
/// when given, else the stage's default days after `on`.
pub fn advance(
    from: Stage,
    to: Stage,
    on: NaiveDate,
    deadline: Option<NaiveDate>,
) -> Result<Option<NaiveDate>, LegalError> {
    if from == Stage::Closed {
        return Err(LegalError::Closed);
    }
    if to.rank() <= from.rank() {
        let order = Stage::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" → ");
        return Err(LegalError::Backwards { from, to, order });
    }
    deadline_of(to, on, deadline)
}

/// A stage's deadline when entered on `on`: `deadline` when given (not before `on`), else the
/// default days after `on`.
pub fn deadline_of(
    stage: Stage,
    on: NaiveDate,
    deadline: Option<NaiveDate>,
) -> Result<Option<NaiveDate>, LegalError> {
    match deadline {
        Some(d) if d < on => Err(LegalError::DeadlineBefore { deadline: d, on }),
        Some(d) => Ok(Some(d)),
        None => Ok(stage.default_days().and_then(|n| on.checked_add_days(chrono::Days::new(u64::from(n))))),
    }
}

/// Whether a stage's deadline has passed on `today` (an open case only).
pub fn overdue(stage: Stage, deadline: Option<NaiveDate>, today: NaiveDate) -> bool {
    stage != Stage::Closed && deadline.is_some_and(|d| d < today)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        crate::calendar::parse_iso_date(s).unwrap()
    }

    #[test]
    fn stages_move_forward_only_with_a_deadline() {
        // (from, to, deadline given, result: deadline or error text)
        type Row<'a> = (Stage, Stage, Option<&'a str>, Result<Option<&'a str>, &'a str>);
        let table: &[Row] = &[
            (Stage::LawyerLetter, Stage::Mediation, None, Ok(Some("2026-07-31"))),
            (Stage::LawyerLetter, Stage::Filing, None, Ok(Some("2026-07-31"))),
            (Stage::Filing, Stage::Hearing, Some("2026-09-01"), Ok(Some("2026-09-01"))),
            (Stage::Judgment, Stage::Enforcement, None, Ok(Some("2026-12-28"))),
            (Stage::Enforcement, Stage::Closed, None, Ok(None)),
            (Stage::Hearing, Stage::Filing, None, Err("cannot go to filing: stages only move forward")),
            (Stage::Hearing, Stage::Hearing, None, Err("cannot go to hearing")),
            (Stage::Closed, Stage::Enforcement, None, Err("closed")),
            (Stage::Filing, Stage::Hearing, Some("2026-06-30"), Err("is before 2026-07-01")),
        ];
        for (from, to, deadline, want) in table {
            let got = advance(*from, *to, d("2026-07-01"), deadline.map(d));
            match want {
                Ok(w) => assert_eq!(got, Ok(w.map(d)), "{from} → {to}"),
                Err(text) => {
                    let e = got.unwrap_err().to_string();
                    assert!(e.contains(text), "{from} → {to}: {e}");
                }
            }
        }
    }

    #[test]
    fn a_deadline_passes_the_day_after_it() {
        let dl = Some(d("2026-07-10"));
        assert!(!overdue(Stage::Filing, dl, d("2026-07-10")));
        assert!(overdue(Stage::Filing, dl, d("2026-07-11")));
        assert!(!overdue(Stage::Closed, dl, d("2026-08-01")));
        assert!(!overdue(Stage::Filing, None, d("2026-08-01")));
    }

    #[test]
    fn every_stage_reads_back_from_its_code() {
        for &s in Stage::ALL {
            assert_eq!(s.as_str().parse::<Stage>().ok(), Some(s));
            assert!(!s.zh().is_empty());
        }
    }
}
