//! Behaviour features (行为评分特征) of a borrower on a business date, read off the batch's
//! history, and the outcomes the behaviour models learn: does a borrower in M1 roll to M2
//! within 30 days, does a borrower with an open case pay within 14 days.
//!
//! Features only look at what was known at the end of the date (snapshots dated on or
//! before it, payments with value dates on or before it, promises judged by then), so the
//! same function builds a training row for an old date and the row scored tonight. A
//! borrower's loans are pooled: the worst DPD, the most recent payment, the share of all
//! installments paid late. Ratios are integer per mille, so that the features are exact.

use chrono::{Days, NaiveDate};

use crate::book::{Loan, Payment};
use crate::ledger::{LedgerEvent, LoanPosition, Waterfall, replay_with};
use crate::money::Amount;
use crate::ptp::PtpStatus;
use crate::schedule::Installment;

/// Days of history the windowed features look back over (max DPD, cures, partial payments).
pub const LOOKBACK_DAYS: u64 = 90;
/// Days after the date in which a roll to M2 counts.
pub const ROLL_HORIZON_DAYS: u64 = 30;
/// Days after the date in which a payment counts for propensity to pay.
pub const PTP_HORIZON_DAYS: u64 = 14;

/// A loan's stored snapshot on one business date, reduced to what the features read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotPoint {
    /// The business date the snapshot was taken (it holds until the next one).
    pub as_of: NaiveDate,
    /// Days past due.
    pub dpd: u32,
    /// Position of the bucket in the product's scheme: 0 current, 1 M1, 2 M2, …
    pub bucket_rank: u32,
    /// Principal not yet repaid.
    pub outstanding_principal: Amount,
    /// Still owing (not paid off, already disbursed).
    pub active: bool,
}

/// When one installment fell due and when it was paid in full, if it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settlement {
    /// Due date.
    pub due_on: NaiveDate,
    /// The value date of the payment that completed it.
    pub settled_on: Option<NaiveDate>,
}

/// One loan's history as the features need it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LoanHistory {
    /// Principal disbursed.
    pub principal: Amount,
    /// Installments in due order with their settlement dates.
    pub installments: Vec<Settlement>,
    /// Payments as (value date, amount), by value date.
    pub payments: Vec<(NaiveDate, Amount)>,
    /// Snapshots by date; the first may predate the lookback window (the one in force at its start).
    pub snapshots: Vec<SnapshotPoint>,
}

/// A promise to pay as the features count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PromiseRecord {
    /// Its status as last judged.
    pub status: PtpStatus,
    /// When it was judged; a kept or broken promise counts from then on.
    pub judged_on: Option<NaiveDate>,
}

/// A collection case's span: open from `opened_on` up to (not including) `closed_on`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaseRecord {
    /// First delinquent date.
    pub opened_on: NaiveDate,
    /// The date it closed (cured), if it has.
    pub closed_on: Option<NaiveDate>,
}

/// Everything the behaviour models know about one borrower.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BorrowerHistory {
    /// The borrower's loans.
    pub loans: Vec<LoanHistory>,
    /// Promises to pay over all of its cases.
    pub promises: Vec<PromiseRecord>,
    /// Its cases (void ones left out).
    pub cases: Vec<CaseRecord>,
}

/// The features of one borrower on one date; `None` where there is nothing to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Features {
    /// Worst DPD over its loans on the date.
    pub dpd: i64,
    /// Worst DPD over the lookback window.
    pub max_dpd_90d: i64,
    /// Times a loan went from past due back to current in the window.
    pub cures_90d: i64,
    /// Days since the latest payment on any loan; `None` if it never paid.
    pub days_since_payment: Option<i64>,
    /// Per mille of installments due before the date that were not paid in full by their due date.
    pub late_share_permille: Option<i64>,
    /// Payments in the window that left an installment already past due unpaid.
    pub partial_payments_90d: i64,
    /// Promises kept by the date.
    pub promises_kept: i64,
    /// Promises broken by the date.
    pub promises_broken: i64,
    /// Per mille of the principal of its active loans still outstanding (no credit lines
    /// are held, so for instalment loans this is how much of the loan is still used).
    pub utilisation_permille: Option<i64>,
}

/// Names of the features as model variables, in the order of [`Features::values`].
pub const FEATURE_NAMES: [&str; 9] = [
    "dpd",
    "max_dpd_90d",
    "cures_90d",
    "days_since_payment",
    "late_share_permille",
    "partial_payments_90d",
    "promises_kept",
    "promises_broken",
    "utilisation_permille",
];

impl Features {
    /// The values in the order of [`FEATURE_NAMES`], `None` for a missing one.
    pub fn values(&self) -> [Option<i64>; 9] {
        [
            Some(self.dpd),
            Some(self.max_dpd_90d),
            Some(self.cures_90d),
            self.days_since_payment,
            self.late_share_permille,
            Some(self.partial_payments_90d),
            Some(self.promises_kept),
            Some(self.promises_broken),
            self.utilisation_permille,
        ]
    }
}

fn minus(d: NaiveDate, days: u64) -> NaiveDate {
    d.checked_sub_days(Days::new(days)).unwrap_or(NaiveDate::MIN)
}

fn plus(d: NaiveDate, days: u64) -> NaiveDate {
    d.checked_add_days(Days::new(days)).unwrap_or(NaiveDate::MAX)
}

/// `num / den` in per mille, rounded half-up; `None` when `den` is zero.
fn permille(num: i64, den: i64) -> Option<i64> {
    (den > 0).then(|| (num * 2000 + den) / (2 * den))
}

impl LoanHistory {
    /// The snapshot in force at the end of `on`.
    pub fn snapshot_on(&self, on: NaiveDate) -> Option<&SnapshotPoint> {
        let i = self.snapshots.partition_point(|s| s.as_of <= on);
        i.checked_sub(1).map(|i| &self.snapshots[i])
    }

    /// Whether installment `s` was still owing (wholly or partly) at the end of `on`.
    fn unpaid_at(s: &Settlement, on: NaiveDate) -> bool {
        s.settled_on.is_none_or(|p| p > on)
    }
}

impl BorrowerHistory {
    /// The worst bucket rank over its active loans on `on`; `None` before any snapshot.
    pub fn worst_rank(&self, on: NaiveDate) -> Option<u32> {
        self.loans
            .iter()
            .filter_map(|l| l.snapshot_on(on))
            .map(|s| if s.active { s.bucket_rank } else { 0 })
            .max()
    }

    /// In M1 on `on`: its worst loan is in the first past-due bucket.
    pub fn in_m1(&self, on: NaiveDate) -> bool {
        self.worst_rank(on) == Some(1)
    }

    /// Whether any loan reached M2 or worse on a date in (`on`, `on` + `days`].
    pub fn rolls_within(&self, on: NaiveDate, days: u64) -> bool {
        let end = plus(on, days);
        self.loans.iter().any(|l| {
            l.snapshots.iter().any(|s| s.as_of > on && s.as_of <= end && s.active && s.bucket_rank >= 2)
        })
    }

    /// Whether a case of the borrower was open at the end of `on`.
    pub fn has_open_case(&self, on: NaiveDate) -> bool {
        open_on(&self.cases, on)
    }

    /// Whether a payment on any loan has a value date in (`on`, `on` + `days`].
    pub fn pays_within(&self, on: NaiveDate, days: u64) -> bool {
        let end = plus(on, days);
        self.loans.iter().any(|l| l.payments.iter().any(|(d, _)| *d > on && *d <= end))
    }

    /// The features at the end of `on`.
    pub fn features(&self, on: NaiveDate) -> Features {
        let start = minus(on, LOOKBACK_DAYS);
        let mut f = Features::default();
        let (mut due, mut late) = (0i64, 0i64);
        let (mut outstanding, mut disbursed) = (0i64, 0i64);
        let mut last_payment: Option<NaiveDate> = None;
        for l in &self.loans {
            if let Some(s) = l.snapshot_on(on) {
                f.dpd = f.dpd.max(i64::from(s.dpd));
                if s.active {
                    outstanding += s.outstanding_principal.minor();
                    disbursed += l.principal.minor();
                }
            }
            // The window opens with the snapshot in force at its start.
            let mut prev: Option<u32> = l.snapshot_on(start).map(|s| s.dpd);
            f.max_dpd_90d = f.max_dpd_90d.max(i64::from(prev.unwrap_or(0)));
            for s in l.snapshots.iter().filter(|s| s.as_of > start && s.as_of <= on) {
                f.max_dpd_90d = f.max_dpd_90d.max(i64::from(s.dpd));
                if s.dpd == 0 && prev.is_some_and(|p| p > 0) {
                    f.cures_90d += 1;
                }
                prev = Some(s.dpd);
            }
            for i in l.installments.iter().filter(|i| i.due_on < on) {
                due += 1;
                if i.settled_on.is_none_or(|p| p > i.due_on) {
                    late += 1;
                }
            }
            for (paid_on, _) in l.payments.iter().filter(|(d, _)| *d <= on) {
                last_payment = last_payment.max(Some(*paid_on));
                // Partial: after the day's payments an installment already past due still owes.
                if *paid_on > start
                    && l.installments
                        .iter()
                        .any(|i| i.due_on < *paid_on && LoanHistory::unpaid_at(i, *paid_on))
                {
                    f.partial_payments_90d += 1;
                }
            }
        }
        f.days_since_payment = last_payment.map(|p| (on - p).num_days());
        f.late_share_permille = permille(late, due);
        f.utilisation_permille = permille(outstanding, disbursed);
        (f.promises_kept, f.promises_broken) = judged(&self.promises, on);
        f
    }
}

/// An installment that falls due after an evaluation and before the loan's next one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ahead {
    /// Due date.
    pub due_on: NaiveDate,
    /// Whether it counts as not paid in full by its due date once it is due.
    pub late: bool,
}

/// A snapshot row's DPD, in force from `as_of` until the next row's date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DpdMark {
    /// The row's date.
    pub as_of: NaiveDate,
    /// Its DPD.
    pub dpd: u32,
    /// The next row's date; `None` for the latest row.
    pub until: Option<NaiveDate>,
}

/// What the batch keeps of one loan at each evaluation so that its behaviour features on
/// any date up to the next evaluation are read off it, without replaying the ledger or
/// reading its snapshots again.
///
/// The ledger part (counts, dates of payments) is taken from the position the loan phase
/// has just replayed; between evaluations it cannot change, because a loan is evaluated
/// again the day after each open installment falls due, on a due date when credit waits,
/// and when a payment arrives. The snapshot part is carried from row to row: only the rows
/// that can still be the worst of a lookback window, and the cures still inside one.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LoanTrack {
    /// Installments due before the evaluation date.
    pub due: u32,
    /// Of those, the ones not paid in full by their due date.
    pub late: u32,
    /// Installments falling due from the evaluation date up to the next evaluation.
    pub ahead: Vec<Ahead>,
    /// The latest payment value date on or before the evaluation date.
    pub last_payment: Option<NaiveDate>,
    /// Value dates, one per payment, of payments in the lookback that left an installment
    /// already past due owing.
    pub partial: Vec<NaiveDate>,
    /// Rows whose DPD no later row reaches, oldest first (so with falling DPD); the last is
    /// the latest row.
    pub peaks: Vec<DpdMark>,
    /// Dates of rows in the lookback that went from past due to current.
    pub cures: Vec<NaiveDate>,
}

impl LoanTrack {
    /// A track from stored snapshot rows `(as_of, dpd)` in date order.
    pub fn from_rows(rows: impl IntoIterator<Item = (NaiveDate, u32)>) -> LoanTrack {
        let mut t = LoanTrack::default();
        for (on, dpd) in rows {
            t.push_row(on, dpd);
        }
        t
    }

    /// Adds the snapshot row the batch stores for `as_of` (later than every row before).
    pub fn push_row(&mut self, as_of: NaiveDate, dpd: u32) {
        let before = self.peaks.last().map(|m| m.dpd);
        if let Some(last) = self.peaks.last_mut() {
            last.until = Some(as_of);
        }
        if dpd == 0 && before.is_some_and(|b| b > 0) {
            self.cures.push(as_of);
        }
        // A row no worse than this later one is never the only worst of a window: any
        // window that counts it counts this one too.
        while self.peaks.last().is_some_and(|m| m.dpd <= dpd) {
            self.peaks.pop();
        }
        self.peaks.push(DpdMark { as_of, dpd, until: None });
    }

    /// Takes the ledger part from the position replayed at the evaluation (its `as_of`),
    /// with the loan's payments and the date it is next evaluated.
    pub fn set_ledger(
        &mut self,
        position: &LoanPosition,
        payments: &[Payment],
        review_on: Option<NaiveDate>,
    ) {
        let on = position.as_of;
        let start = minus(on, LOOKBACK_DAYS);
        self.due = 0;
        self.late = 0;
        self.ahead.clear();
        for ip in &position.installments {
            let due_on = ip.installment.due_on;
            let late = match ip.settled_on {
                Some(s) => s > due_on,
                // Nothing owed but never met by an allocation: waiting credit meets it on
                // its due date, otherwise it stays unsettled.
                None => !(ip.unpaid_contractual().is_zero() && position.credit > Amount::ZERO),
            };
            if due_on < on {
                self.due += 1;
                self.late += u32::from(ip.settled_on.is_none_or(|s| s > due_on));
            } else if review_on.is_none_or(|r| due_on < r) {
                self.ahead.push(Ahead { due_on, late });
            }
        }
        self.last_payment = payments.iter().map(|p| p.paid_on).filter(|d| *d <= on).max();
        self.partial = payments
            .iter()
            .map(|p| p.paid_on)
            .filter(|d| *d > start && *d <= on)
            .filter(|d| {
                position
                    .installments
                    .iter()
                    .any(|i| i.installment.due_on < *d && i.settled_on.is_none_or(|s| s > *d))
            })
            .collect();
    }

    /// Drops what no window of `on` or later can count.
    pub fn prune(&mut self, on: NaiveDate) {
        let start = minus(on, LOOKBACK_DAYS);
        self.peaks.retain(|m| m.until.is_none_or(|u| u > start));
        self.cures.retain(|c| *c > start);
        self.partial.retain(|p| *p > start);
    }
}

/// A loan as the batch keeps it: its principal, current snapshot and track.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptLoan {
    /// Principal disbursed.
    pub principal: Amount,
    /// The snapshot in force (its `as_of` is the evaluation date).
    pub snapshot: SnapshotPoint,
    /// What was kept at the evaluation.
    pub track: LoanTrack,
}

/// A borrower as the batch keeps it, enough for the features of any date from its loans'
/// latest evaluations up to their next ones: the same features [`BorrowerHistory`] computes
/// from the whole history.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeptBorrower {
    /// Its loans.
    pub loans: Vec<KeptLoan>,
    /// Promises to pay over all of its cases.
    pub promises: Vec<PromiseRecord>,
    /// Its cases (void ones left out).
    pub cases: Vec<CaseRecord>,
}

impl KeptBorrower {
    /// In M1: its worst active loan is in the first past-due bucket.
    pub fn in_m1(&self) -> bool {
        self.loans.iter().map(|l| if l.snapshot.active { l.snapshot.bucket_rank } else { 0 }).max() == Some(1)
    }

    /// Whether a case of the borrower was open at the end of `on`.
    pub fn has_open_case(&self, on: NaiveDate) -> bool {
        open_on(&self.cases, on)
    }

    /// The features at the end of `on`.
    pub fn features(&self, on: NaiveDate) -> Features {
        let start = minus(on, LOOKBACK_DAYS);
        let mut f = Features::default();
        let (mut due, mut late) = (0i64, 0i64);
        let (mut outstanding, mut disbursed) = (0i64, 0i64);
        let mut last_payment: Option<NaiveDate> = None;
        for l in &self.loans {
            let (s, t) = (&l.snapshot, &l.track);
            f.dpd = f.dpd.max(i64::from(s.dpd));
            if s.active {
                outstanding += s.outstanding_principal.minor();
                disbursed += l.principal.minor();
            }
            // Peaks fall with time: the first one still in force in the window is its worst.
            let worst = t.peaks.iter().find(|m| m.until.is_none_or(|u| u > start)).map_or(0, |m| m.dpd);
            f.max_dpd_90d = f.max_dpd_90d.max(i64::from(worst));
            f.cures_90d += t.cures.iter().filter(|c| **c > start && **c <= on).count() as i64;
            let now_due = t.ahead.iter().filter(|a| a.due_on < on);
            due += i64::from(t.due) + now_due.clone().count() as i64;
            late += i64::from(t.late) + now_due.filter(|a| a.late).count() as i64;
            last_payment = last_payment.max(t.last_payment.filter(|p| *p <= on));
            f.partial_payments_90d += t.partial.iter().filter(|p| **p > start && **p <= on).count() as i64;
        }
        f.days_since_payment = last_payment.map(|p| (on - p).num_days());
        f.late_share_permille = permille(late, due);
        f.utilisation_permille = permille(outstanding, disbursed);
        (f.promises_kept, f.promises_broken) = judged(&self.promises, on);
        f
    }
}

/// Whether one of `cases` was open at the end of `on`.
fn open_on(cases: &[CaseRecord], on: NaiveDate) -> bool {
    cases.iter().any(|c| c.opened_on <= on && c.closed_on.is_none_or(|x| x > on))
}

/// Promises judged kept and broken by `on`.
fn judged(promises: &[PromiseRecord], on: NaiveDate) -> (i64, i64) {
    let (mut kept, mut broken) = (0, 0);
    for p in promises.iter().filter(|p| p.judged_on.is_some_and(|j| j <= on)) {
        match p.status {
            PtpStatus::Kept => kept += 1,
            PtpStatus::Broken => broken += 1,
            PtpStatus::Pending => {}
        }
    }
    (kept, broken)
}

/// A loan's history from its terms, schedule, payments, ledger events and stored snapshots:
/// the ledger is replayed up to `through` (at least the last date features or outcomes are
/// read for) to find when each installment of the schedule in force was paid in full.
pub fn loan_history(
    loan: &Loan,
    (schedule, events): (&[Installment], &[LedgerEvent]),
    payments: &[Payment],
    snapshots: Vec<SnapshotPoint>,
    through: NaiveDate,
    waterfall: &Waterfall,
) -> LoanHistory {
    let pos = replay_with(loan, schedule, payments, events, through, waterfall);
    LoanHistory {
        principal: loan.principal,
        installments: pos
            .installments
            .iter()
            .filter(|p| p.installment.due_on <= through)
            .map(|p| Settlement { due_on: p.installment.due_on, settled_on: p.settled_on })
            .collect(),
        payments: payments.iter().filter(|p| p.paid_on <= through).map(|p| (p.paid_on, p.amount)).collect(),
        snapshots,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        crate::calendar::parse_iso_date(s).unwrap()
    }

    fn snap(on: &str, dpd: u32) -> SnapshotPoint {
        let rank = match dpd {
            0 => 0,
            1..=30 => 1,
            31..=60 => 2,
            _ => 3,
        };
        SnapshotPoint {
            as_of: d(on),
            dpd,
            bucket_rank: rank,
            outstanding_principal: Amount::from_minor(5_000),
            active: true,
        }
    }

    fn inst(due: &str, settled: Option<&str>) -> Settlement {
        Settlement { due_on: d(due), settled_on: settled.map(d) }
    }

    /// One loan: due on the 1st of Jan–Apr 2026, January paid on time, February 10 days
    /// late, March partly paid on 03-05 and not yet in full; in M1 since 03-02.
    fn borrower() -> BorrowerHistory {
        BorrowerHistory {
            loans: vec![LoanHistory {
                principal: Amount::from_minor(10_000),
                installments: vec![
                    inst("2026-01-01", Some("2026-01-01")),
                    inst("2026-02-01", Some("2026-02-11")),
                    inst("2026-03-01", None),
                    inst("2026-04-01", None),
                ],
                payments: vec![
                    (d("2026-01-01"), Amount::from_minor(1_000)),
                    (d("2026-02-11"), Amount::from_minor(1_010)),
                    (d("2026-03-05"), Amount::from_minor(300)),
                ],
                snapshots: vec![
                    snap("2025-10-01", 0),
                    snap("2026-02-02", 1),
                    snap("2026-02-11", 0),
                    snap("2026-03-02", 1),
                    snap("2026-03-03", 2),
                    snap("2026-03-04", 3),
                    snap("2026-04-02", 32),
                ],
            }],
            promises: vec![
                PromiseRecord { status: PtpStatus::Kept, judged_on: Some(d("2026-02-11")) },
                PromiseRecord { status: PtpStatus::Broken, judged_on: Some(d("2026-03-20")) },
                PromiseRecord { status: PtpStatus::Pending, judged_on: None },
            ],
            cases: vec![
                CaseRecord { opened_on: d("2026-02-02"), closed_on: Some(d("2026-02-11")) },
                CaseRecord { opened_on: d("2026-03-02"), closed_on: None },
            ],
        }
    }

    #[test]
    fn features_by_date() {
        let b = borrower();
        // (date, dpd, max dpd 90d, cures, days since payment, late ‰, partial, kept, broken)
        type Row = (&'static str, i64, i64, i64, Option<i64>, Option<i64>, i64, i64, i64);
        let table: &[Row] = &[
            ("2025-12-31", 0, 0, 0, None, None, 0, 0, 0),
            // January due on 01-01 is not yet overdue on 01-01: nothing due before the date.
            ("2026-01-01", 0, 0, 0, Some(0), None, 0, 0, 0),
            ("2026-02-05", 1, 1, 0, Some(35), Some(500), 0, 0, 0),
            // Cured on 02-11 by a payment settling February 10 days late; a promise kept.
            ("2026-02-11", 0, 1, 1, Some(0), Some(500), 0, 1, 0),
            // 03-05: a payment that leaves March owing is partial; March is late too.
            ("2026-03-05", 3, 3, 1, Some(0), Some(667), 1, 1, 0),
            ("2026-03-20", 3, 3, 1, Some(15), Some(667), 1, 1, 1),
            // 04-02: April is also late (3 of 4 late); the window still holds the February cure.
            ("2026-04-02", 32, 32, 1, Some(28), Some(750), 1, 1, 1),
            // 90 days after the cure, it has left the window; DPD then was 0, still max 32.
            ("2026-05-12", 32, 32, 0, Some(68), Some(750), 1, 1, 1),
        ];
        for &(on, dpd, max90, cures, since, late, partial, kept, broken) in table {
            let f = b.features(d(on));
            assert_eq!(
                (
                    f.dpd,
                    f.max_dpd_90d,
                    f.cures_90d,
                    f.days_since_payment,
                    f.late_share_permille,
                    f.partial_payments_90d,
                    f.promises_kept,
                    f.promises_broken
                ),
                (dpd, max90, cures, since, late, partial, kept, broken),
                "{on}"
            );
        }
    }

    #[test]
    fn window_starts_with_the_snapshot_in_force() {
        // Past due before the window opened and cured inside it: one cure, and the old DPD counts.
        let b = BorrowerHistory {
            loans: vec![LoanHistory {
                principal: Amount::from_minor(1),
                snapshots: vec![snap("2026-01-01", 20), snap("2026-04-15", 0)],
                ..LoanHistory::default()
            }],
            ..BorrowerHistory::default()
        };
        let f = b.features(d("2026-04-20"));
        assert_eq!((f.dpd, f.max_dpd_90d, f.cures_90d), (0, 20, 1));
        // Far later nothing of it is left.
        let f = b.features(d("2026-09-01"));
        assert_eq!((f.max_dpd_90d, f.cures_90d), (0, 0));
    }

    #[test]
    fn utilisation_pools_active_loans() {
        let mut paid = snap("2026-01-01", 0);
        paid.active = false;
        paid.outstanding_principal = Amount::from_minor(0);
        let b = BorrowerHistory {
            loans: vec![
                LoanHistory {
                    principal: Amount::from_minor(10_000),
                    snapshots: vec![snap("2026-01-01", 0)],
                    ..Default::default()
                },
                LoanHistory {
                    principal: Amount::from_minor(90_000),
                    snapshots: vec![paid],
                    ..Default::default()
                },
            ],
            ..BorrowerHistory::default()
        };
        assert_eq!(b.features(d("2026-01-02")).utilisation_permille, Some(500));
        assert_eq!(b.features(d("2025-12-31")).utilisation_permille, None);
    }

    #[test]
    fn outcomes_by_date() {
        let b = borrower();
        // (date, in M1, rolls within 30 days, open case, pays within 14 days)
        let table: &[(&str, bool, bool, bool, bool)] = &[
            ("2026-01-15", false, false, false, false),
            ("2026-01-31", false, false, false, true),
            ("2026-02-02", true, false, true, true),
            // Cured on 02-11: the case closed that day.
            ("2026-02-11", false, false, false, false),
            // M2 is reached on 04-02: 31 days after 03-02 (out of the horizon), 30 after 03-03.
            ("2026-03-02", true, false, true, true),
            ("2026-03-03", true, true, true, true),
            ("2026-04-02", false, false, true, false),
        ];
        for &(on, m1, rolls, open, pays) in table {
            let day = d(on);
            assert_eq!(b.in_m1(day), m1, "{on} in M1");
            assert_eq!(b.rolls_within(day, ROLL_HORIZON_DAYS), rolls, "{on} rolls");
            assert_eq!(b.has_open_case(day), open, "{on} open case");
            assert_eq!(b.pays_within(day, PTP_HORIZON_DAYS), pays, "{on} pays");
        }
    }

    #[test]
    fn settlements_come_from_the_ledger() {
        use crate::book::{BorrowerId, LoanId, PaymentId, RepaymentMethod};
        let loan = Loan {
            id: LoanId::new("L1").unwrap(),
            borrower_id: BorrowerId::new("B1").unwrap(),
            product: "p".into(),
            currency: crate::Currency::from_code("CNY").unwrap(),
            principal: Amount::from_minor(300_000),
            annual_rate: "0".parse().unwrap(),
            term_months: 3,
            disbursed_on: d("2026-01-01"),
            method: RepaymentMethod::EqualPrincipal,
            penalty_rate: "0".parse().unwrap(),
            grace_days: 0,
        };
        let schedule = crate::schedule::generate(&loan).unwrap();
        let pay = |id: &str, on: &str, amount: i64| Payment {
            id: PaymentId::new(id).unwrap(),
            loan_id: loan.id.clone(),
            paid_on: d(on),
            amount: Amount::from_minor(amount),
            channel: "bank".into(),
        };
        let payments = vec![pay("P1", "2026-02-01", 100_000), pay("P2", "2026-03-10", 100_000)];
        let h = loan_history(
            &loan,
            (&schedule, &[]),
            &payments,
            Vec::new(),
            d("2026-04-15"),
            &Waterfall::default(),
        );
        let settled: Vec<Option<NaiveDate>> = h.installments.iter().map(|i| i.settled_on).collect();
        assert_eq!(settled, vec![Some(d("2026-02-01")), Some(d("2026-03-10")), None]);
        assert_eq!(h.payments.len(), 2);
        // Through an earlier date: the later installments and payments are not there yet.
        let h = loan_history(
            &loan,
            (&schedule, &[]),
            &payments,
            Vec::new(),
            d("2026-02-15"),
            &Waterfall::default(),
        );
        assert_eq!(h.installments.len(), 1);
        assert_eq!(h.payments.len(), 1);
    }

    /// Walks loans over consecutive business dates the way the batch does (evaluating each
    /// only when it is due for review, keeping its track) and returns, per date, the kept
    /// borrower and the full history the reference features read.
    fn walk_both(
        loans: &[(Loan, Vec<Payment>)],
        dates: &[NaiveDate],
        mut check: impl FnMut(NaiveDate, &KeptBorrower, &BorrowerHistory),
    ) {
        use crate::close::{Carried, LoanInput, advance};
        use crate::delinquency::{DelinquencyRules, LoanStatus};
        let rules = DelinquencyRules::default();
        let w = Waterfall::default();
        let schedules: Vec<Vec<Installment>> =
            loans.iter().map(|(l, _)| crate::schedule::generate(l).unwrap()).collect();
        let mut carried: Vec<Option<(Carried, LoanTrack)>> = vec![None; loans.len()];
        let mut rows: Vec<Vec<SnapshotPoint>> = vec![Vec::new(); loans.len()];
        for &date in dates {
            for (i, (l, ps)) in loans.iter().enumerate() {
                let input = LoanInput {
                    loan: l,
                    schedule: &schedules[i],
                    payments: ps,
                    events: &[],
                    rules: &rules,
                    waterfall: &w,
                };
                let (prior, track) = match &carried[i] {
                    Some((c, t)) => (Some(c), t.clone()),
                    None => (None, LoanTrack::default()),
                };
                if let Some(a) = advance(&input, prior, track, &[date], false) {
                    for (on, s) in &a.changed {
                        rows[i].push(SnapshotPoint {
                            as_of: *on,
                            dpd: s.dpd,
                            bucket_rank: s.bucket_rank,
                            outstanding_principal: s.outstanding_principal,
                            active: s.status == LoanStatus::Active,
                        });
                    }
                    carried[i] = Some((a.last, a.track));
                }
            }
            let kept = KeptBorrower {
                loans: loans
                    .iter()
                    .enumerate()
                    .map(|(i, (l, _))| KeptLoan {
                        principal: l.principal,
                        snapshot: *rows[i].last().unwrap(),
                        track: carried[i].as_ref().unwrap().1.clone(),
                    })
                    .collect(),
                ..KeptBorrower::default()
            };
            let full = BorrowerHistory {
                loans: loans
                    .iter()
                    .enumerate()
                    .map(|(i, (l, ps))| loan_history(l, (&schedules[i], &[]), ps, rows[i].clone(), date, &w))
                    .collect(),
                ..BorrowerHistory::default()
            };
            check(date, &kept, &full);
        }
    }

    fn test_loan(id: &str, method: usize, term: u32, rate: &str, on: NaiveDate) -> Loan {
        use crate::book::{BorrowerId, LoanId, RepaymentMethod};
        let methods = [
            RepaymentMethod::Annuity,
            RepaymentMethod::EqualPrincipal,
            RepaymentMethod::InterestOnly,
            RepaymentMethod::Bullet,
        ];
        Loan {
            id: LoanId::new(id).unwrap(),
            borrower_id: BorrowerId::new("B1").unwrap(),
            product: "p".into(),
            currency: crate::Currency::from_code("CNY").unwrap(),
            principal: Amount::from_minor(300_000),
            annual_rate: rate.parse().unwrap(),
            term_months: term,
            disbursed_on: on,
            method: methods[method],
            penalty_rate: "0.18".parse().unwrap(),
            grace_days: 3,
        }
    }

    fn test_pay(loan: &Loan, k: usize, on: NaiveDate, amount: i64) -> Payment {
        Payment {
            id: crate::book::PaymentId::new(format!("{}-P{k}", loan.id.as_str())).unwrap(),
            loan_id: loan.id.clone(),
            paid_on: on,
            amount: Amount::from_minor(amount),
            channel: "bank".into(),
        }
    }

    #[test]
    fn kept_features_follow_a_paid_off_loan_and_a_cure() {
        // Five monthly installments from 02-10, the first paid 10 days late by a payment of
        // everything on 02-20: the later ones fall due without another evaluation and count
        // as paid on time; the cure on 02-20 and DPD 9 the day before leave the window in May.
        let on = d("2026-01-10");
        let l = test_loan("L1", 1, 5, "0", on);
        let ps = vec![test_pay(&l, 0, d("2026-02-20"), 300_000)];
        let dates: Vec<NaiveDate> = (0..200).map(|k| on + Days::new(k)).collect();
        // (date, late ‰, cures in the window, worst DPD in the window)
        let table = [
            ("2026-02-19", Some(1000), 0, 9),
            ("2026-04-01", Some(500), 1, 9),
            ("2026-06-01", Some(250), 0, 0),
        ];
        let mut seen = 0;
        walk_both(&[(l, ps)], &dates, |date, kept, full| {
            assert_eq!(kept.features(date), full.features(date), "{date}");
            for (on, late, cures, worst) in table {
                if date == d(on) {
                    let f = kept.features(date);
                    assert_eq!(
                        (f.late_share_permille, f.cures_90d, f.max_dpd_90d),
                        (late, cures, worst),
                        "{on}"
                    );
                    seen += 1;
                }
            }
        });
        assert_eq!(seen, table.len());
    }

    proptest::proptest! {
        /// The features read off the kept tracks equal those of a full replay with every
        /// stored snapshot, on every date, for borrowers with one or two loans of every
        /// method (zero interest gives installments with nothing to pay), paid early, late,
        /// partly or not at all.
        #[test]
        fn kept_features_equal_the_full_replay(
            specs in proptest::collection::vec(
                (0usize..4, 1u32..7, 1u32..=28, proptest::bool::ANY,
                 proptest::collection::vec((0u64..230, 1i64..120_000), 0..9)),
                1..3,
            ),
        ) {
            let mut loans = Vec::new();
            for (n, (method, term, day, free, pays)) in specs.iter().enumerate() {
                let on = NaiveDate::from_ymd_opt(2024, 1 + n as u32, *day).unwrap();
                let l = test_loan(&format!("L{n}"), *method, *term, if *free { "0" } else { "0.18" }, on);
                let ps = pays.iter().enumerate().map(|(k, (off, amt))| test_pay(&l, k, on + Days::new(*off), *amt)).collect();
                loans.push((l, ps));
            }
            let start = NaiveDate::from_ymd_opt(2023, 12, 25).unwrap();
            let dates: Vec<NaiveDate> = (0..330).map(|k| start + Days::new(k)).collect();
            let mut failed = None;
            walk_both(&loans, &dates, |date, kept, full| {
                if failed.is_none() {
                    let (a, b) = (kept.features(date), full.features(date));
                    if a != b || kept.in_m1() != full.in_m1(date) {
                        failed = Some(format!("{date}: kept {a:?}\n full {b:?}"));
                    }
                }
            });
            proptest::prop_assert!(failed.is_none(), "{}", failed.unwrap_or_default());
        }
    }
}
