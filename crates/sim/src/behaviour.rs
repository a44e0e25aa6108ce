//! Payment histories from a borrower's latent behaviour.
//!
//! The simulation works on day numbers and integer minor units; it never needs
//! the ledger itself because every late payment carries an upper bound of the
//! penalty the ledger will have charged, so a borrower who "catches up" really
//! leaves the loan with nothing overdue (the small excess becomes credit).

use rand::Rng;

/// How a borrower pays, drawn once per borrower.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Behaviour {
    /// Pays every installment on its due date or a few days before.
    OnTime,
    /// Occasionally 1–25 days late, then pays installment and penalty.
    SometimesLate,
    /// Late most months by 8–45 days, sometimes two installments at once.
    Chronic,
    /// Pays until some installment, then stops; collections sometimes recover it.
    Defaulter,
}

impl Behaviour {
    /// Draws a behaviour with the portfolio's mix (80 / 10 / 5 / 5 %).
    pub(crate) fn draw(rng: &mut impl Rng) -> Behaviour {
        match rng.random_range(0..1000u32) {
            0..800 => Behaviour::OnTime,
            800..900 => Behaviour::SometimesLate,
            900..950 => Behaviour::Chronic,
            _ => Behaviour::Defaulter,
        }
    }
}

/// Per cent of installments a sometimes-late borrower pays late.
const OCCASIONAL_LATE_PCT: u32 = 50;
/// Per cent of installments a chronic late payer pays late.
const CHRONIC_LATE_PCT: u32 = 90;
/// Per cent of installments a chronic late payer skips and pays with the next one.
const CHRONIC_SKIP_PCT: u32 = 15;
/// Per cent chance per month that collections resolve a young default (borrower pays all arrears).
const RESOLVE_EARLY_PCT: u32 = 45;
/// The same from the fifth month on.
///
/// Must be above 50 for the open-ended M7+ bucket to hold fewer loans than M6:
/// with a monthly survival q the stock in M7+ relative to M6 is q / (1 − q).
const RESOLVE_LATE_PCT: u32 = 62;
/// Per cent chance, per installment, that a defaulter stops paying from it on.
const DEFAULT_START_PCT: u32 = 20;
/// Per cent chance per month of a partial payment while in default.
const PARTIAL_PCT: u32 = 25;

/// One contractual installment reduced to what the simulation needs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Due {
    /// Due date as a day number (days from the common era).
    pub day: i32,
    /// Principal + interest + fee, minor units.
    pub total: i64,
    /// Principal, minor units: the base of penalty interest.
    pub principal: i64,
}

/// One simulated payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pay {
    /// Value date as a day number.
    pub day: i32,
    /// Amount, minor units; positive.
    pub amount: i64,
    /// Collected through collections (agency or legal) rather than the usual channel.
    pub collected: bool,
}

/// The loan's terms that matter for penalties.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Terms {
    /// Grace days: full payment this many days after the due date costs no penalty.
    pub grace_days: i32,
    /// Yearly penalty rate in basis points.
    pub penalty_bp: i64,
}

/// An upper bound of the penalty the ledger charges on an installment paid in full on day `on`.
///
/// The ledger accrues daily on the unpaid principal from the day after the due
/// date through the day before payment, at `penalty_rate / 360`, and rounds once;
/// assuming the whole principal stayed unpaid and rounding up can only overstate it.
pub(crate) fn penalty_bound(due: &Due, on: i32, terms: &Terms) -> i64 {
    let late = on - due.day;
    if late <= terms.grace_days {
        return 0;
    }
    let days = i64::from(late - 1);
    (due.principal * days * terms.penalty_bp + 3_599_999) / 3_600_000
}

/// A default: from the due date of the first installment left unpaid to the day its arrears
/// were paid, if they were by the as-of date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Episode {
    /// The due date of the first unpaid installment, a day number.
    pub start: i32,
    /// The day collections resolved it.
    pub resolved: Option<i32>,
}

/// Simulates the payments of one loan, appending those with value date ≤ `as_of` to `pays`;
/// returns the loan's first default, if it had one.
pub(crate) fn simulate(
    rng: &mut impl Rng,
    behaviour: Behaviour,
    dues: &[Due],
    terms: &Terms,
    as_of: i32,
    pays: &mut Vec<Pay>,
) -> Option<Episode> {
    let mut first: Option<Episode> = None;
    let n = dues.len();
    let mut last = i32::MIN;
    let mut i = 0;
    while i < n {
        // Nobody pays more than 3 days ahead: the rest of the schedule is after the as-of date.
        if dues[i].day - 3 > as_of {
            return first;
        }
        // A defaulter stops at a random installment (geometric: each one may be the first unpaid).
        let defaults = behaviour == Behaviour::Defaulter && rng.random_range(0..100) < DEFAULT_START_PCT;
        let pay_on = if defaults {
            let resolved = default_episode(rng, dues, i, terms, as_of, &mut last, pays);
            first.get_or_insert(Episode { start: dues[i].day, resolved });
            match resolved {
                // Collections recovered the arrears; the borrower may stop again later.
                Some(day) => day,
                None => return first,
            }
        } else {
            match behaviour {
                Behaviour::OnTime | Behaviour::Defaulter => on_time(rng, dues[i].day),
                Behaviour::SometimesLate => {
                    if rng.random_range(0..100) < OCCASIONAL_LATE_PCT {
                        dues[i].day + rng.random_range(1..=25)
                    } else {
                        on_time(rng, dues[i].day)
                    }
                }
                Behaviour::Chronic => {
                    let roll = rng.random_range(0..100);
                    if roll < CHRONIC_SKIP_PCT && i + 1 < n {
                        dues[i + 1].day + rng.random_range(0..=10)
                    } else if roll < CHRONIC_LATE_PCT {
                        dues[i].day + rng.random_range(8..=45)
                    } else {
                        on_time(rng, dues[i].day)
                    }
                }
            }
        }
        .max(last);
        if pay_on > as_of {
            return first;
        }
        // Pay this installment and every later one already due, each with its penalty.
        let mut amount = 0;
        let mut j = i;
        while j < n && (j == i || dues[j].day <= pay_on) {
            amount += dues[j].total + penalty_bound(&dues[j], pay_on, terms);
            j += 1;
        }
        // A resolved default already paid its arrears inside the episode.
        if !defaults {
            pays.push(Pay { day: pay_on, amount, collected: false });
            last = pay_on;
        }
        i = j;
    }
    first
}

/// The due date or 1–3 days before it.
pub(crate) fn on_time(rng: &mut impl Rng, due: i32) -> i32 {
    match rng.random_range(0..10) {
        0..6 => due,
        k => due - (k - 5),
    }
}

/// Runs a default starting at installment `i`: months of silence with occasional partial
/// payments until collections resolve it. Returns the day the arrears were paid, if by `as_of`.
fn default_episode(
    rng: &mut impl Rng,
    dues: &[Due],
    i: usize,
    terms: &Terms,
    as_of: i32,
    last: &mut i32,
    pays: &mut Vec<Pay>,
) -> Option<i32> {
    let mut t = dues[i].day;
    let mut partial = 0i64;
    let mut months = 0;
    loop {
        months += 1;
        let step = rng.random_range(20..=40);
        if rng.random_range(0..100) < PARTIAL_PCT {
            let day = (t + rng.random_range(1..step)).max(*last);
            if day > as_of {
                return None;
            }
            // A token amount: never enough to clear what has fallen due.
            let amount = (dues[i].total * rng.random_range(10..=50) / 100).max(1);
            pays.push(Pay { day, amount, collected: false });
            *last = day;
            partial += amount;
        }
        t += step;
        if t > as_of {
            return None;
        }
        let hazard = if months <= 4 { RESOLVE_EARLY_PCT } else { RESOLVE_LATE_PCT };
        if rng.random_range(0..100) < hazard {
            break;
        }
    }
    let day = t.max(*last);
    let mut owed = 0;
    for d in dues[i..].iter().take_while(|d| d.day <= day) {
        owed += d.total + penalty_bound(d, day, terms);
    }
    pays.push(Pay { day, amount: (owed - partial).max(1), collected: rng.random_range(0..100) < 40 });
    *last = day;
    Some(day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn penalty_bound_matches_the_ledger_rule() {
        // 10000.00 principal at 18%/yr, paid 10 days late: 9 days of accrual = 450.00.
        let due = Due { day: 1000, total: 1_100_000, principal: 1_000_000 };
        let terms = Terms { grace_days: 3, penalty_bp: 1800 };
        assert_eq!(penalty_bound(&due, 1003, &terms), 0);
        assert_eq!(penalty_bound(&due, 1004, &terms), 1_500);
        assert_eq!(penalty_bound(&due, 1010, &terms), 4_500);
    }
}
