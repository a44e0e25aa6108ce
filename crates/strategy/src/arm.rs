//! Champion/challenger assignment: a case's arm follows from its id and the
//! experiment's name alone, so it is the same on every run, every machine and every
//! release, and a case keeps its arm for the experiment's life.
//!
//! The point of a case is SHA-256 of `"arrears-arm-v1" 0x00 experiment 0x00 case_id`;
//! its first 8 bytes read big-endian, keep the top 53 bits, divided by 2^53: a number
//! in [0, 1). Arms take consecutive stretches of [0, 1) in file order, each as long as
//! its share; the case goes to the arm whose stretch holds its point. Changing the
//! shares or the order of arms moves cases between arms: to change an experiment's
//! design, start a new experiment under a new name.

use sha2::{Digest, Sha256};

use crate::file::{Arm, Experiment};

/// The case's fixed point in [0, 1) for `experiment`.
pub fn point(experiment: &str, case_id: &str) -> f64 {
    let mut h = Sha256::new();
    h.update(b"arrears-arm-v1\0");
    h.update(experiment.as_bytes());
    h.update([0u8]);
    h.update(case_id.as_bytes());
    let digest = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(first) >> 11) as f64 / (1u64 << 53) as f64
}

/// The arm of `experiment` that `case_id` belongs to; `None` only for an experiment without arms.
pub fn assign<'a>(experiment: &'a Experiment, case_id: &str) -> Option<&'a Arm> {
    let p = point(&experiment.name, case_id);
    let mut end = 0.0;
    for arm in &experiment.arms {
        end += arm.share;
        if p < end {
            return Some(arm);
        }
    }
    // Shares add up to 1 within rounding; a point in the rounding gap joins the last arm.
    experiment.arms.last()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn exp(shares: &[(&str, f64)]) -> Experiment {
        Experiment {
            name: "m1_voice_bot".into(),
            segment: "early".into(),
            starts_on: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            ends_on: None,
            arms: shares.iter().map(|(n, s)| Arm { name: (*n).into(), share: *s, steps: None }).collect(),
        }
    }

    #[test]
    fn the_point_never_changes_between_releases() {
        // Pinned on first release: if this fails, every running experiment would reshuffle.
        let p = point("m1_voice_bot", "C-B000001-20260105");
        assert_eq!(format!("{p:.12}"), PINNED);
        assert_eq!(point("m1_voice_bot", "C-B000001-20260105"), p);
        assert_ne!(point("other", "C-B000001-20260105"), p);
    }

    /// Computed independently (Python hashlib) from the documented recipe.
    const PINNED: &str = "0.129948115235";

    #[test]
    fn shares_hold_within_statistical_tolerance() {
        let e = exp(&[("champion", 0.8), ("challenger", 0.2)]);
        let n = 100_000;
        let challengers = (0..n)
            .filter(|i| assign(&e, &format!("C-B{i:07}-20260105")).unwrap().name == "challenger")
            .count();
        let share = challengers as f64 / n as f64;
        // Four standard deviations of a binomial share: fails by chance about once in 15,000 runs
        // of a changed hash, never for the fixed one.
        let sd = (0.2f64 * 0.8 / n as f64).sqrt();
        assert!((share - 0.2).abs() < 4.0 * sd, "challenger share {share}");
    }

    #[test]
    fn three_arms_split_in_order() {
        let e = exp(&[("a", 0.5), ("b", 0.3), ("c", 0.2)]);
        let n = 60_000;
        let mut counts = [0usize; 3];
        for i in 0..n {
            let arm = assign(&e, &format!("case-{i}")).unwrap();
            counts[["a", "b", "c"].iter().position(|x| *x == arm.name).unwrap()] += 1;
        }
        for (c, want) in counts.iter().zip([0.5, 0.3, 0.2]) {
            let sd = (want * (1.0 - want) / n as f64).sqrt();
            assert!((*c as f64 / n as f64 - want).abs() < 4.0 * sd, "{counts:?}");
        }
    }
}
