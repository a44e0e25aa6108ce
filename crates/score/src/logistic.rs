//! Logistic regression by Newton's method (IRLS), with optional L2 or L1 penalties.
//!
//! The objective is the summed negative log-likelihood plus `λ/2·‖β‖²` (L2) or `λ·‖β‖₁`
//! (L1); the intercept is never penalised. Penalising the sum (scikit-learn's convention,
//! `C = 1/λ`) makes the penalty a fixed prior whose pull fades as data grow, so one default
//! suits a thousand rows and a million. Scorecards have few
//! variables, so the (p+1)×(p+1) normal equations are cheap and exact.

// Dense dynamic-programming and matrix code reads like the maths with explicit indices.
#![allow(clippy::needless_range_loop)]

use serde::{Deserialize, Serialize};

/// Penalty on the coefficients (never on the intercept).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "lambda")]
pub enum Penalty {
    /// Plain maximum likelihood.
    None,
    /// Ridge: `λ/2·‖β‖²` added to the summed negative log-likelihood.
    L2(f64),
    /// Lasso: `λ·‖β‖₁` added to the summed negative log-likelihood, solved by coordinate
    /// descent on each Newton step's quadratic.
    L1(f64),
}

/// A fitted logistic regression: `P(bad) = σ(intercept + Σ coefs·x)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogisticFit {
    /// The log-odds of bad when every input is zero.
    pub intercept: f64,
    /// One coefficient per input column.
    pub coefs: Vec<f64>,
    /// Newton iterations used.
    pub iterations: usize,
    /// Whether the step size fell below the tolerance.
    pub converged: bool,
}

/// The logistic function, written to stay accurate for large |z|.
pub fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// `ln(1 + e^z)` without overflow.
fn log1pexp(z: f64) -> f64 {
    if z > 0.0 { z + (-z).exp().ln_1p() } else { z.exp().ln_1p() }
}

impl LogisticFit {
    /// Linear predictor (log-odds of bad) for one row of inputs.
    pub fn log_odds(&self, row: &[f64]) -> f64 {
        self.intercept + self.coefs.iter().zip(row).map(|(b, x)| b * x).sum::<f64>()
    }
}

fn objective(x: &[Vec<f64>], y: &[bool], beta: &[f64], penalty: Penalty) -> f64 {
    let n = y.len();
    let mut nll = 0.0;
    for i in 0..n {
        let eta = beta[0] + x.iter().zip(&beta[1..]).map(|(c, b)| c[i] * b).sum::<f64>();
        nll += log1pexp(eta) - if y[i] { eta } else { 0.0 };
    }
    nll / n as f64
        + match penalty {
            Penalty::None => 0.0,
            Penalty::L2(l) => 0.5 * l * beta[1..].iter().map(|b| b * b).sum::<f64>(),
            Penalty::L1(l) => l * beta[1..].iter().map(|b| b.abs()).sum::<f64>(),
        }
}

/// Solves `a·x = b` for a symmetric positive definite `a` by Cholesky; a tiny ridge is
/// added if rounding makes `a` look indefinite (perfectly collinear inputs).
fn solve_spd(a: &[Vec<f64>], b: &[f64]) -> Vec<f64> {
    let n = b.len();
    let mut jitter = 0.0;
    loop {
        let mut l = vec![vec![0.0; n]; n];
        let mut ok = true;
        'outer: for i in 0..n {
            for j in 0..=i {
                let mut s = a[i][j] + if i == j { jitter } else { 0.0 };
                for k in 0..j {
                    s -= l[i][k] * l[j][k];
                }
                if i == j {
                    if s <= 1e-300 {
                        ok = false;
                        break 'outer;
                    }
                    l[i][i] = s.sqrt();
                } else {
                    l[i][j] = s / l[j][j];
                }
            }
        }
        if ok {
            let mut z = vec![0.0; n];
            for i in 0..n {
                let s: f64 = (0..i).map(|k| l[i][k] * z[k]).sum();
                z[i] = (b[i] - s) / l[i][i];
            }
            let mut x = vec![0.0; n];
            for i in (0..n).rev() {
                let s: f64 = (i + 1..n).map(|k| l[k][i] * x[k]).sum();
                x[i] = (z[i] - s) / l[i][i];
            }
            return x;
        }
        jitter = if jitter == 0.0 { 1e-10 } else { jitter * 10.0 };
    }
}

/// Fits a logistic regression on column-major inputs `x` (one `Vec` per variable) and
/// targets `y` (`true` = bad).
pub fn fit_logistic(x: &[Vec<f64>], y: &[bool], penalty: Penalty) -> LogisticFit {
    let n = y.len();
    // Internally everything is per row (mean loss), which keeps the Gram matrix well scaled.
    let penalty = match penalty {
        Penalty::None => Penalty::None,
        Penalty::L2(l) => Penalty::L2(l / n.max(1) as f64),
        Penalty::L1(l) => Penalty::L1(l / n.max(1) as f64),
    };
    let p = x.len();
    let d = p + 1;
    let nf = n as f64;
    let rate = y.iter().filter(|&&b| b).count() as f64 / nf;
    // Starting at the base rate makes the first Newton step small and well conditioned.
    let mut beta = vec![0.0; d];
    beta[0] = (rate.clamp(1e-6, 1.0 - 1e-6) / (1.0 - rate.clamp(1e-6, 1.0 - 1e-6))).ln();
    let mut obj = objective(x, y, &beta, penalty);
    let mut iterations = 0;
    let mut converged = false;
    let mut eta = vec![0.0; n];
    while iterations < 100 {
        iterations += 1;
        for (i, e) in eta.iter_mut().enumerate() {
            *e = beta[0] + x.iter().zip(&beta[1..]).map(|(c, b)| c[i] * b).sum::<f64>();
        }
        // Gram matrix A = X'WX/n and right side r = X'W z/n with the working response z.
        let mut a = vec![vec![0.0; d]; d];
        let mut r = vec![0.0; d];
        let mut row = vec![0.0; d];
        for i in 0..n {
            let pi = sigmoid(eta[i]);
            let w = (pi * (1.0 - pi)).max(1e-10);
            let z = eta[i] + ((y[i] as u8 as f64) - pi) / w;
            row[0] = 1.0;
            for j in 0..p {
                row[j + 1] = x[j][i];
            }
            for j in 0..d {
                let wj = w * row[j];
                r[j] += wj * z;
                for k in 0..=j {
                    a[j][k] += wj * row[k];
                }
            }
        }
        for j in 0..d {
            r[j] /= nf;
            for k in 0..=j {
                a[j][k] /= nf;
                a[k][j] = a[j][k];
            }
        }
        let target = match penalty {
            Penalty::None | Penalty::L2(_) => {
                let mut a2 = a.clone();
                if let Penalty::L2(l) = penalty {
                    for (j, row) in a2.iter_mut().enumerate().skip(1) {
                        row[j] += l;
                    }
                }
                solve_spd(&a2, &r)
            }
            Penalty::L1(l) => {
                // Coordinate descent on ½β'Aβ − r'β + λ‖β₁..‖₁, warm-started at β.
                let mut b = beta.clone();
                for _ in 0..1000 {
                    let mut delta: f64 = 0.0;
                    for j in 0..d {
                        if a[j][j] <= 0.0 {
                            continue;
                        }
                        let s: f64 = r[j] - (0..d).filter(|&k| k != j).map(|k| a[j][k] * b[k]).sum::<f64>();
                        let new =
                            if j == 0 { s / a[j][j] } else { s.signum() * (s.abs() - l).max(0.0) / a[j][j] };
                        delta = delta.max((new - b[j]).abs());
                        b[j] = new;
                    }
                    if delta < 1e-13 {
                        break;
                    }
                }
                b
            }
        };
        // Step halving keeps Newton from overshooting when the data are nearly separable.
        let mut step = 1.0;
        let mut next;
        loop {
            next = beta.iter().zip(&target).map(|(b, t)| b + step * (t - b)).collect::<Vec<_>>();
            let o = objective(x, y, &next, penalty);
            if o <= obj + 1e-15 || step < 1e-6 {
                let change = beta.iter().zip(&next).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
                beta = next;
                let improvement = obj - o;
                obj = o;
                if change < 1e-9 || improvement.abs() < 1e-15 {
                    converged = true;
                }
                break;
            }
            step *= 0.5;
        }
        if converged {
            break;
        }
    }
    LogisticFit { intercept: beta[0], coefs: beta[1..].to_vec(), iterations, converged }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logit(p: f64) -> f64 {
        (p / (1.0 - p)).ln()
    }

    /// One binary input: the MLE is known in closed form from the two groups' bad rates.
    fn binary_data() -> (Vec<Vec<f64>>, Vec<bool>) {
        let mut x = Vec::new();
        let mut y = Vec::new();
        // x = 0: 20 bad of 100; x = 1: 45 bad of 60.
        for i in 0..100 {
            x.push(0.0);
            y.push(i < 20);
        }
        for i in 0..60 {
            x.push(1.0);
            y.push(i < 45);
        }
        (vec![x], y)
    }

    #[test]
    fn matches_closed_form_mle() {
        let (x, y) = binary_data();
        let fit = fit_logistic(&x, &y, Penalty::None);
        assert!(fit.converged);
        assert!((fit.intercept - logit(0.2)).abs() < 1e-8, "{fit:?}");
        assert!((fit.coefs[0] - (logit(0.75) - logit(0.2))).abs() < 1e-8, "{fit:?}");
    }

    #[test]
    fn l2_solution_has_zero_penalised_gradient() {
        let (mut x, y) = binary_data();
        x.push((0..160).map(|i| ((i * 37) % 11) as f64 / 10.0).collect());
        let n = y.len() as f64;
        let l = 0.05 * n;
        let fit = fit_logistic(&x, &y, Penalty::L2(l));
        let mut g = [0.0; 3];
        for i in 0..y.len() {
            let r = sigmoid(fit.log_odds(&[x[0][i], x[1][i]])) - y[i] as u8 as f64;
            g[0] += r / n;
            g[1] += r * x[0][i] / n;
            g[2] += r * x[1][i] / n;
        }
        assert!(g[0].abs() < 1e-9);
        // Mean gradient plus the penalty's gradient, both per row, vanish at the optimum.
        assert!((g[1] + l / n * fit.coefs[0]).abs() < 1e-9);
        assert!((g[2] + l / n * fit.coefs[1]).abs() < 1e-9);
        // Shrinkage: the ridge coefficient is smaller than the unpenalised one.
        let free = fit_logistic(&x, &y, Penalty::None);
        assert!(fit.coefs[0].abs() < free.coefs[0].abs());
    }

    #[test]
    fn l1_zero_lambda_is_mle_and_large_lambda_zeroes() {
        let (x, y) = binary_data();
        let fit = fit_logistic(&x, &y, Penalty::L1(0.0));
        assert!((fit.coefs[0] - (logit(0.75) - logit(0.2))).abs() < 1e-7);
        let zero = fit_logistic(&x, &y, Penalty::L1(1600.0));
        assert_eq!(zero.coefs[0], 0.0);
        // With β = 0 the intercept is the overall log-odds: 65 bad of 160.
        assert!((zero.intercept - logit(65.0 / 160.0)).abs() < 1e-8);
    }

    #[test]
    fn sigmoid_is_stable() {
        assert_eq!(sigmoid(0.0), 0.5);
        assert!(sigmoid(-800.0) >= 0.0 && sigmoid(800.0) <= 1.0);
        assert!((log1pexp(1000.0) - 1000.0).abs() < 1e-9);
    }
}
