//! What changes a loan's ledger besides payments, each taking effect at the end of its date:
//! an approved arrangement replaces the schedule in force (the old instalments are closed, what
//! they still owed is carried into the new ones), a write-off (核销) takes balances off the book,
//! its reversal puts them back, and a sale (不良资产转让) hands them to a buyer.
//!
//! An arrangement breaks when one of its instalments is still unpaid beyond the tolerance more
//! than its tolerance days after falling due: derived here from the payments, so that a
//! backdated payment that kept it gives a kept arrangement. A broken settlement's remainder
//! falls due on the day it breaks; a kept one's is waived.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::{InstallmentPosition, Ledger, Parts, Posting, Source, Target};
use crate::arrangement::{ArrangementKind, Terms, plan};
use crate::money::Amount;
use crate::schedule::Installment;

/// One change to a loan's ledger other than a payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEvent {
    /// The date it takes effect (at the end of it).
    pub on: NaiveDate,
    /// Its id (an arrangement request, write-off or transfer), ordering events of one date.
    pub id: String,
    /// What it does.
    pub action: LedgerAction,
}

/// What an event does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LedgerAction {
    /// An approved arrangement: its schedule is planned from the position on the date.
    Arrange {
        /// What was approved.
        terms: Terms,
        /// Days an instalment may stay unpaid after its due date before the arrangement breaks.
        tolerance_days: u32,
        /// An instalment counts as unpaid only when more than this is left on it.
        tolerance: Amount,
        /// Whether the loan was non-performing (substandard or worse) when it was approved.
        was_non_performing: bool,
    },
    /// A write-off of everything owed (`None`) or of this much of it.
    WriteOff(Option<Amount>),
    /// Puts what is written off and not yet recovered back on the book, due at once.
    ReverseWriteOff,
    /// Sold in an NPL transfer: everything owed goes to the buyer.
    Sell,
}

/// Where a loan's balance is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BookStatus {
    /// On the lender's book (a partial write-off leaves it here).
    OnBook,
    /// Written off in full: payments are recoveries.
    WrittenOff,
    /// Sold: payments are held for the buyer.
    Sold,
}

impl BookStatus {
    /// The name used in JSON and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            BookStatus::OnBook => "on_book",
            BookStatus::WrittenOff => "written_off",
            BookStatus::Sold => "sold",
        }
    }
}

/// Where an arrangement stands in the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArrangementStatus {
    /// In force, instalments to pay.
    Active,
    /// Every instalment paid (a waiver: applied).
    Kept,
    /// An instalment unpaid past the tolerance.
    Broken,
    /// Replaced by a later arrangement while in force.
    Superseded,
    /// Could not apply on its date (nothing owed any more, or its terms no longer fit).
    Void,
}

impl ArrangementStatus {
    /// The name used in JSON and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            ArrangementStatus::Active => "active",
            ArrangementStatus::Kept => "kept",
            ArrangementStatus::Broken => "broken",
            ArrangementStatus::Superseded => "superseded",
            ArrangementStatus::Void => "void",
        }
    }
}

/// An arrangement as the ledger applied it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArrangementState {
    /// The event's id.
    pub id: String,
    /// Its kind.
    pub kind: ArrangementKind,
    /// The date it took effect.
    pub on: NaiveDate,
    /// Where it stands.
    pub status: ArrangementStatus,
    /// When it was kept, broke or was superseded.
    pub ended_on: Option<NaiveDate>,
    /// Whether the loan was non-performing before it.
    pub was_non_performing: bool,
    /// Waived by it so far (a settlement's only once kept).
    pub waived: Amount,
    tolerance_days: u32,
    tolerance: Amount,
}

impl Ledger<'_> {
    /// Applies one event at the end of its date.
    pub(super) fn apply(&mut self, e: &LedgerEvent) {
        match e.action {
            LedgerAction::Arrange { terms, tolerance_days, tolerance, was_non_performing } => {
                self.arrange(e, terms, (tolerance_days, tolerance), was_non_performing)
            }
            LedgerAction::WriteOff(amount) => self.write_off(e.on, amount),
            LedgerAction::ReverseWriteOff => self.reinstate(e.on),
            LedgerAction::Sell => {
                if self.pos.book == super::BookStatus::OnBook {
                    let taken = self.take_everything(e.on);
                    self.pos.sold += taken.total();
                    self.pos.book = BookStatus::Sold;
                }
            }
        }
    }

    fn arrange(&mut self, e: &LedgerEvent, terms: Terms, tolerance: (u32, Amount), was_non_performing: bool) {
        let mut state = ArrangementState {
            id: e.id.clone(),
            kind: terms.kind,
            on: e.on,
            status: ArrangementStatus::Void,
            ended_on: Some(e.on),
            was_non_performing,
            waived: Amount::ZERO,
            tolerance_days: tolerance.0,
            tolerance: tolerance.1,
        };
        if self.pos.book != BookStatus::OnBook {
            self.pos.arrangements.push(state);
            return;
        }
        // A settlement still in force is replaced with its remainder owed, as if it had broken.
        let contingent = self.pos.contingent.take();
        if let Some(mut c) = contingent.clone() {
            c.installment.due_on = e.on;
            self.insert(c);
        }
        let planned = plan(self.loan, &self.pos, e.on, &Terms { max_months: u32::MAX, ..terms });
        let Ok(planned) = planned else {
            if let Some(c) = contingent {
                // Nothing changes: the settlement in force stays as it was.
                self.pos.installments.retain(|i| i.installment.seq != 0);
                self.pos.contingent = Some(c);
            }
            self.pos.arrangements.push(state);
            return;
        };
        if let Some(prev) = self.pos.arrangements.last_mut().filter(|a| a.status == ArrangementStatus::Active)
        {
            prev.status = ArrangementStatus::Superseded;
            prev.ended_on = Some(e.on);
        }
        for mut ip in std::mem::take(&mut self.pos.installments) {
            ip.close(e.on);
            self.pos.closed.push(ip);
        }
        self.pos.installments = planned
            .rows
            .iter()
            .map(|r| InstallmentPosition::new(r.installment, (r.carried_interest, r.carried_fee)))
            .collect();
        state.status = ArrangementStatus::Active;
        state.ended_on = None;
        match terms.kind {
            ArrangementKind::Waiver => {
                self.pos.waived += planned.waived;
                state.waived = planned.waived;
                state.status = ArrangementStatus::Kept;
                state.ended_on = Some(e.on);
            }
            ArrangementKind::Settlement => {
                let parts = planned.contingent.unwrap_or_default();
                let mut c = InstallmentPosition::new(
                    Installment {
                        seq: 0,
                        due_on: NaiveDate::MAX,
                        principal: parts.principal,
                        interest: parts.interest,
                        fee: parts.fee + parts.penalty,
                    },
                    (parts.interest, parts.fee + parts.penalty),
                );
                // The credit held counts towards the settlement: it meets the remainder now,
                // so that what is waived is what was quoted.
                let credit = self.pos.credit;
                self.pos.credit = Amount::ZERO;
                let mut left = credit;
                for comp in self.waterfall.0 {
                    let take = c.owed(comp).min(left);
                    if take.minor() > 0 {
                        c.pay(comp, take);
                        left -= take;
                        self.pos.postings.push(Posting {
                            on: e.on,
                            source: Source::Credit,
                            target: Target::Installment(0, comp),
                            amount: take,
                        });
                    }
                }
                self.pos.credit = left;
                self.pos.contingent = Some(c);
            }
            ArrangementKind::Extension | ArrangementKind::InstalmentPlan => {}
        }
        self.pos.arrangements.push(state);
        self.settle_arrangement(e.on);
    }

    /// Inserts an instalment into the schedule in force in due order (after those due the same day).
    fn insert(&mut self, ip: InstallmentPosition) {
        let at = self.pos.installments.partition_point(|i| i.installment.due_on <= ip.installment.due_on);
        self.pos.installments.insert(at, ip);
    }

    /// The next date on which the arrangement in force could break.
    pub(super) fn next_break_check(&self) -> Option<NaiveDate> {
        let a = self.pos.active_arrangement()?;
        if a.kind == ArrangementKind::Waiver {
            return None;
        }
        self.pos
            .installments
            .iter()
            .filter(|i| i.unpaid_contractual() > a.tolerance)
            .filter_map(|i| {
                i.installment.due_on.checked_add_days(chrono::Days::new(u64::from(a.tolerance_days) + 1))
            })
            .min()
    }

    /// Breaks the arrangement in force if an instalment is unpaid past its tolerance on `date`.
    pub(super) fn check_break(&mut self, date: NaiveDate) {
        let Some(a) = self.pos.active_arrangement() else { return };
        let late = |i: &InstallmentPosition| {
            i.unpaid_contractual() > a.tolerance
                && crate::calendar::days_between(i.installment.due_on, date) > i64::from(a.tolerance_days)
        };
        if a.kind == ArrangementKind::Waiver || !self.pos.installments.iter().any(late) {
            return;
        }
        if let Some(a) = self.pos.arrangements.last_mut() {
            a.status = ArrangementStatus::Broken;
            a.ended_on = Some(date);
        }
        // The conditional waiver is revoked: the remainder is owed, due today.
        if let Some(mut c) = self.pos.contingent.take() {
            c.installment.due_on = date;
            self.insert(c);
        }
    }

    /// Marks the arrangement in force kept once all its instalments are paid; a settlement's
    /// remainder is then waived.
    pub(super) fn settle_arrangement(&mut self, on: NaiveDate) {
        if self.pos.active_arrangement().is_none()
            || !self.pos.installments.iter().all(|i| i.unpaid_contractual().is_zero())
        {
            return;
        }
        let mut waived = Amount::ZERO;
        if let Some(c) = self.pos.contingent.as_mut() {
            let owed = c.owed_on(NaiveDate::MAX);
            c.relieved += owed;
            waived = owed.total();
        }
        self.pos.waived += waived;
        if let Some(a) = self.pos.arrangements.last_mut() {
            a.status = ArrangementStatus::Kept;
            a.ended_on = Some(on);
            a.waived += waived;
        }
    }

    /// Takes everything owed off the schedule in force on `date` (interest not yet due is no
    /// longer charged), the credit held meeting it first (charges, then principal); returns
    /// what was taken net of that credit.
    fn take_everything(&mut self, date: NaiveDate) -> Parts {
        let mut taken = Parts::default();
        for ip in self.pos.installments.iter_mut().chain(&mut self.pos.contingent) {
            // The day after: what falls due on the date is owed, interest and fee included.
            taken += ip.close(date.succ_opt().unwrap_or(date));
        }
        let (taken, left) = taken.less_credit(self.pos.credit);
        // Credit beyond the debt stays credit.
        self.pos.credit = left;
        taken
    }

    /// A write-off on `date`: of everything (the loan leaves the book), or of `amount`, taken
    /// from the charges of instalments due by the date, oldest first, then from principal,
    /// latest instalment first (the loan stays on the book with the rest).
    fn write_off(&mut self, date: NaiveDate, amount: Option<Amount>) {
        if self.pos.book != BookStatus::OnBook {
            return;
        }
        let Some(amount) = amount else {
            let taken = self.take_everything(date);
            self.pos.written_off += taken;
            self.pos.book = BookStatus::WrittenOff;
            return;
        };
        let mut left = amount;
        let mut taken = Parts::default();
        for ip in self.pos.installments.iter_mut().filter(|i| i.installment.due_on <= date) {
            for (get, put) in [(ip.unpaid_penalty(), 3usize), (ip.unpaid_fee(), 2), (ip.unpaid_interest(), 1)]
            {
                let take = left.min(get);
                left -= take;
                let (r, t) = match put {
                    3 => (&mut ip.relieved.penalty, &mut taken.penalty),
                    2 => (&mut ip.relieved.fee, &mut taken.fee),
                    _ => (&mut ip.relieved.interest, &mut taken.interest),
                };
                *r += take;
                *t += take;
            }
        }
        for ip in self.pos.contingent.iter_mut().chain(self.pos.installments.iter_mut().rev()) {
            let take = left.min(ip.unpaid_principal());
            left -= take;
            ip.relieved.principal += take;
            taken.principal += take;
        }
        self.pos.written_off += taken;
        if self.pos.is_settled() {
            self.pos.book = BookStatus::WrittenOff;
        }
    }

    /// Puts what is written off and not recovered back on the book, due on `date`.
    fn reinstate(&mut self, date: NaiveDate) {
        let net = self.pos.unrecovered_written_off();
        if net.minor() <= 0 || self.pos.book == BookStatus::Sold {
            return;
        }
        // Recoveries paid back principal first.
        let principal =
            (self.pos.written_off.principal - self.pos.recovered - self.pos.reinstated).clamp_zero().min(net);
        let charges = net - principal;
        self.pos.reinstated += net;
        self.pos.book = BookStatus::OnBook;
        let seq = self.pos.installments.iter().map(|i| i.installment.seq).max().unwrap_or(0) + 1;
        self.insert(InstallmentPosition::new(
            Installment { seq, due_on: date, principal, interest: Amount::ZERO, fee: charges },
            (Amount::ZERO, charges),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::{Payment, RepaymentMethod};
    use crate::ledger::tests::pay;
    use crate::ledger::{LoanPosition, Waterfall, replay, replay_with};
    use crate::schedule::generate;
    use crate::schedule::tests::{d, loan};
    use proptest::prelude::*;

    /// 12 × 1,000.00 equal principal at 12% from 15 Jan 2026; January to March paid on time.
    fn book() -> (crate::book::Loan, Vec<Installment>, Vec<Payment>) {
        let l = loan(RepaymentMethod::EqualPrincipal, 1_200_000, "0.12", 12, "2026-01-15");
        let s = generate(&l).unwrap();
        let paid = s[..3]
            .iter()
            .enumerate()
            .map(|(i, r)| pay(&format!("P{i}"), &r.due_on.to_string(), r.total().minor()))
            .collect();
        (l, s, paid)
    }

    fn arrange(on: &str, kind: ArrangementKind, months: Option<u32>, amount: Option<i64>) -> LedgerEvent {
        LedgerEvent {
            on: d(on),
            id: format!("A-{on}"),
            action: LedgerAction::Arrange {
                terms: Terms { kind, months, amount: amount.map(Amount::from_minor), max_months: 60 },
                tolerance_days: 10,
                tolerance: Amount::ZERO,
                was_non_performing: false,
            },
        }
    }

    fn at(events: &[LedgerEvent], payments: &[Payment], on: &str) -> LoanPosition {
        let (l, s, mut paid) = book();
        paid.extend_from_slice(payments);
        let p = replay_with(&l, &s, &paid, events, d(on), &Waterfall::default());
        let t = p.totals(l.principal, &paid);
        assert!(t.conserved(), "{on}: {t:?}");
        p
    }

    #[test]
    fn an_arrangement_changes_nothing_before_its_date_and_replaces_the_schedule_after() {
        let (l, s, paid) = book();
        let ext = [arrange("2026-06-01", ArrangementKind::Extension, Some(6), None)];
        for on in ["2026-05-20", "2026-05-31"] {
            let without = replay(&l, &s, &paid, d(on), &Waterfall::default());
            assert_eq!(at(&ext, &[], on), without, "{on}: earlier positions are untouched");
        }
        let after = at(&ext, &[], "2026-06-02");
        assert_eq!(after.installments.len(), 14);
        assert_eq!(after.closed.len(), 12);
        assert_eq!(after.installments[0].installment.due_on, d("2026-07-01"));
        assert_eq!(after.outstanding_principal(), Amount::from_minor(900_000));
        assert_eq!(after.active_arrangement().map(|a| a.status), Some(ArrangementStatus::Active));
        assert_eq!(after.restructured(), Some((d("2026-06-01"), false)));
        // The arrears moved into the first new instalment, owed from the start.
        let (ci, cf) = after.installments[0].unpaid_carried();
        assert_eq!(ci, Amount::from_minor(9_000), "May's interest");
        assert!(cf.minor() > 0, "May's penalty");
    }

    #[test]
    fn a_kept_settlement_waives_its_remainder_and_a_broken_one_owes_it() {
        let settle = [arrange("2026-06-01", ArrangementKind::Settlement, Some(2), Some(600_000))];
        let quoted = at(&settle, &[], "2026-06-01");
        let remainder = quoted.contingent.as_ref().unwrap().owed_on(NaiveDate::MAX).total();
        assert!(remainder.minor() > 0);
        assert_eq!(quoted.waived, Amount::ZERO, "nothing waived until the last payment");
        let rows: Vec<Installment> = quoted.installments.iter().map(|i| i.installment).collect();
        let both = [
            pay("S1", "2026-07-01", rows[0].total().minor()),
            pay("S2", "2026-08-01", rows[1].total().minor()),
        ];
        let kept = at(&settle, &both, "2026-09-01");
        assert_eq!(kept.waived, remainder);
        assert!(kept.is_settled());
        assert_eq!(kept.arrangements[0].status, ArrangementStatus::Kept);
        assert_eq!(kept.arrangements[0].ended_on, Some(d("2026-08-01")));
        // The second payment 10 days late is still within the tolerance.
        // (with the penalty of those days: what is left is credit)
        let late = at(
            &settle,
            &[both[0].clone(), pay("S2", "2026-08-11", rows[1].total().minor() + 10_000)],
            "2026-09-01",
        );
        assert_eq!(late.arrangements[0].status, ArrangementStatus::Kept);
        // Eleven days late: broken on the 11th day, the remainder due that day, nothing waived.
        let broken = at(&settle, &[both[0].clone()], "2026-09-01");
        assert_eq!(broken.arrangements[0].status, ArrangementStatus::Broken);
        assert_eq!(broken.arrangements[0].ended_on, Some(d("2026-08-12")));
        assert_eq!(broken.waived, Amount::ZERO);
        assert!(broken.contingent.is_none());
        assert!(broken.installments.iter().any(|i| i.installment.due_on == d("2026-08-12")));
        // Paid after it broke, the second payment does not mend it.
        let after =
            at(&settle, &[both[0].clone(), pay("S2", "2026-08-20", rows[1].total().minor())], "2026-09-01");
        assert_eq!(after.arrangements[0].status, ArrangementStatus::Broken);
        assert!(!after.is_settled());
    }

    #[test]
    fn a_waiver_applies_at_once_and_a_plan_breaks_past_its_tolerance() {
        let w = at(&[arrange("2026-06-01", ArrangementKind::Waiver, None, None)], &[], "2026-06-02");
        assert!(w.waived.minor() > 0);
        assert_eq!(w.arrangements[0].status, ArrangementStatus::Kept);
        let plan = [arrange("2026-06-01", ArrangementKind::InstalmentPlan, Some(6), None)];
        let on_time = at(&plan, &[], "2026-07-11");
        assert_eq!(
            on_time.arrangements[0].status,
            ArrangementStatus::Active,
            "10 days after: within tolerance"
        );
        let broken = at(&plan, &[], "2026-07-12");
        assert_eq!(broken.arrangements[0].status, ArrangementStatus::Broken);
        // A second arrangement after it replaces the schedule again.
        let again = at(
            &[plan[0].clone(), arrange("2026-07-20", ArrangementKind::Extension, Some(3), None)],
            &[],
            "2026-07-21",
        );
        assert_eq!(again.arrangements[1].status, ArrangementStatus::Active);
        assert_eq!(again.outstanding_principal(), Amount::from_minor(900_000));
    }

    #[test]
    fn write_off_recovery_reversal_and_sale() {
        let wo = LedgerEvent { on: d("2026-06-01"), id: "W1".into(), action: LedgerAction::WriteOff(None) };
        let p = at(std::slice::from_ref(&wo), &[], "2026-06-10");
        assert_eq!(p.book, BookStatus::WrittenOff);
        let written = p.written_off.total();
        assert!(written > Amount::from_minor(900_000));
        assert!(p.is_settled(), "nothing left on the book");
        // A payment after it is a recovery, never reopening the loan.
        let rec = at(std::slice::from_ref(&wo), &[pay("R1", "2026-07-01", 100_000)], "2026-07-10");
        assert_eq!(rec.recovered, Amount::from_minor(100_000));
        assert_eq!(rec.book, BookStatus::WrittenOff);
        let t = rec.totals(Amount::from_minor(1_200_000), &{
            let (_, _, mut ps) = book();
            ps.push(pay("R1", "2026-07-01", 100_000));
            ps
        });
        assert_eq!(t.written_off, written - Amount::from_minor(100_000));
        // Reversed: what is not recovered is owed again, due that day.
        let rev = LedgerEvent { on: d("2026-08-01"), id: "W2".into(), action: LedgerAction::ReverseWriteOff };
        let back = at(&[wo.clone(), rev], &[pay("R1", "2026-07-01", 100_000)], "2026-08-03");
        assert_eq!(back.book, BookStatus::OnBook);
        assert_eq!(back.outstanding_principal(), Amount::from_minor(800_000));
        // Partial: the charges first, then principal; the loan stays on the book.
        let part = LedgerEvent {
            on: d("2026-06-01"),
            id: "W3".into(),
            action: LedgerAction::WriteOff(Some(Amount::from_minor(50_000))),
        };
        let p = at(&[part], &[], "2026-06-02");
        assert_eq!(p.book, BookStatus::OnBook);
        assert_eq!(p.written_off.total(), Amount::from_minor(50_000));
        assert!(p.written_off.principal.minor() > 0 && p.written_off.penalty.minor() > 0);
        // Sold: everything to the buyer, later money held for them.
        let sell = LedgerEvent { on: d("2026-06-01"), id: "T1".into(), action: LedgerAction::Sell };
        let s = at(&[sell], &[pay("X", "2026-06-05", 5_000)], "2026-06-10");
        assert_eq!(s.book, BookStatus::Sold);
        assert_eq!(s.credit, Amount::from_minor(5_000));
        assert!(s.sold > Amount::from_minor(900_000));
    }

    #[test]
    fn a_payment_backdated_before_an_arrangement_is_planned_in() {
        let ext = [arrange("2026-06-01", ArrangementKind::Extension, Some(6), None)];
        let later = at(&ext, &[pay("B", "2026-05-20", 50_000)], "2026-07-05");
        assert_eq!(later.arrangements[0].status, ArrangementStatus::Active);
        assert!(later.outstanding_principal() < Amount::from_minor(900_000));
    }

    #[test]
    fn a_restructured_loan_keeps_its_class_floor_for_the_observation_period() {
        use crate::delinquency::{DelinquencyRules, FiveClass, assess};
        let (l, s, paid) = book();
        // (non-performing before, observation months, date, class): every new instalment
        // paid on its due date, so DPD alone would say normal.
        let table = [
            (false, 12, "2026-05-31", FiveClass::SpecialMention), // before it: 16 DPD
            (false, 12, "2026-06-01", FiveClass::SpecialMention),
            (false, 12, "2026-06-02", FiveClass::SpecialMention),
            (false, 12, "2027-05-31", FiveClass::SpecialMention),
            (false, 12, "2027-06-01", FiveClass::Normal),
            (true, 12, "2026-06-02", FiveClass::Substandard),
            (true, 12, "2027-05-31", FiveClass::Substandard),
            (true, 12, "2027-06-01", FiveClass::Normal),
            (true, 6, "2026-11-30", FiveClass::Substandard),
            (true, 6, "2026-12-01", FiveClass::Normal),
        ];
        for (npl, months, on, want) in table {
            let mut e = arrange("2026-06-01", ArrangementKind::Extension, Some(6), None);
            if let LedgerAction::Arrange { was_non_performing, .. } = &mut e.action {
                *was_non_performing = npl;
            }
            let events = [e];
            let rows =
                replay_with(&l, &s, &paid, &events, d("2026-06-01"), &Waterfall::default()).installments;
            let mut all = paid.clone();
            all.extend(rows.iter().map(|r| {
                pay(
                    &format!("N{}", r.installment.seq),
                    &r.installment.due_on.to_string(),
                    r.installment.total().minor(),
                )
            }));
            let pos = replay_with(&l, &s, &all, &events, d(on), &Waterfall::default());
            let rules = DelinquencyRules { observation_months: months, ..DelinquencyRules::default() };
            let q = assess(&pos, l.disbursed_on, &rules);
            assert_eq!(q.five_class, want, "non-performing {npl}, {months} months, on {on} (DPD {})", q.dpd);
        }
    }

    fn arb_event() -> impl Strategy<Value = (u32, u8, u32, i64)> {
        (0u32..700, 0u8..8, 1u32..30, 1i64..100)
    }

    proptest! {
        /// Random books, payments and events (arrangements of every kind, write-offs, reversals,
        /// sales): on every date money is conserved, no part of an instalment is negative, every
        /// payment is allocated in full, and replaying again gives the same position.
        #[test]
        fn every_event_conserves_money(
            method in prop::sample::select(RepaymentMethod::ALL.to_vec()),
            principal in 10_000i64..3_000_000,
            n in 1u32..24,
            raw in prop::collection::vec((0u32..800, 1i64..400_000), 0..12),
            evs in prop::collection::vec(arb_event(), 0..5),
            as_of_day in 0u32..900,
        ) {
            let mut l = loan(method, principal, "0.15", n, "2025-01-31");
            l.grace_days = 3;
            let s = generate(&l).unwrap();
            let start = d("2025-01-31");
            let day = |k: u32| start + chrono::Days::new(u64::from(k));
            let payments: Vec<Payment> = raw.iter().enumerate()
                .map(|(i, (k, amt))| pay(&format!("P{i:03}"), &day(*k).to_string(), *amt))
                .collect();
            let events: Vec<LedgerEvent> = evs.iter().enumerate().map(|(i, &(k, what, months, share))| {
                let kinds = ArrangementKind::ALL;
                let action = match what {
                    0..=3 => LedgerAction::Arrange {
                        terms: Terms {
                            kind: kinds[what as usize],
                            months: Some(months),
                            // A share of the principal: a settlement's offer, a plan's down payment, a waiver.
                            amount: (kinds[what as usize] != ArrangementKind::Extension)
                                .then(|| Amount::from_minor((principal * share / 150).max(1))),
                            max_months: 60,
                        },
                        tolerance_days: months % 20,
                        tolerance: Amount::from_minor(i64::from(months)),
                        was_non_performing: share > 50,
                    },
                    4 => LedgerAction::WriteOff(None),
                    5 => LedgerAction::WriteOff(Some(Amount::from_minor(principal * share / 200 + 1))),
                    6 => LedgerAction::ReverseWriteOff,
                    _ => LedgerAction::Sell,
                };
                LedgerEvent { on: day(k), id: format!("E{i}"), action }
            }).collect();
            let as_of = day(as_of_day);
            let pos = replay_with(&l, &s, &payments, &events, as_of, &Waterfall::default());
            let t = pos.totals(l.principal, &payments);
            prop_assert!(t.conserved(), "{:?}", t);
            for ip in pos.installments.iter().chain(&pos.closed).chain(&pos.contingent) {
                prop_assert!(!ip.unpaid_principal().is_negative(), "{:?}", ip);
                prop_assert!(!ip.unpaid_interest().is_negative(), "{:?}", ip);
                prop_assert!(!ip.unpaid_fee().is_negative(), "{:?}", ip);
                prop_assert!(!ip.unpaid_penalty().is_negative(), "{:?}", ip);
            }
            for w in pos.installments.windows(2) {
                prop_assert!(w[0].installment.due_on <= w[1].installment.due_on);
            }
            for (i, p) in payments.iter().enumerate() {
                if p.paid_on > as_of { continue; }
                let out: Amount = pos.postings.iter().filter(|x| x.source == Source::Payment(i)).map(|x| x.amount).sum();
                prop_assert_eq!(out, p.amount);
            }
            prop_assert!(!pos.credit.is_negative());
            prop_assert!(t.written_off.minor() >= 0 && t.recovered.minor() >= 0);
            if pos.book != BookStatus::OnBook {
                prop_assert!(t.outstanding.is_zero(), "{:?}", t);
            }
            let again = replay_with(&l, &s, &payments, &events, as_of, &Waterfall::default());
            prop_assert_eq!(pos, again);
        }
    }
}
