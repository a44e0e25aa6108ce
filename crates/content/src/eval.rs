//! The labelled evaluation set and its figures: precision, recall and false-positive rate per
//! category and overall.
//!
//! Format: one line per text, `LABEL<TAB>TEXT`, where LABEL is `ok` or one or more category codes
//! joined by commas. Lines starting with `#` are comments; the comment `#split held-out` marks the
//! start of the held-out part (texts that were not looked at while the rules were written).

use crate::{Category, Scanner};

/// Recall the scanner must reach on the violations.
pub const TARGET_RECALL: f64 = 0.95;
/// False-positive rate it must stay under on the lawful lines.
pub const TARGET_FPR: f64 = 0.02;

/// One labelled text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    /// 1-based line in the file.
    pub line: usize,
    /// Categories the text violates; empty for lawful text.
    pub labels: Vec<Category>,
    /// The text.
    pub text: String,
    /// In the held-out part.
    pub held_out: bool,
}

/// A line of the evaluation set that cannot be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("line {line}: {message}")]
pub struct EvalSetError {
    /// 1-based line.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Reads an evaluation set.
pub fn parse(src: &str) -> Result<Vec<Example>, EvalSetError> {
    let mut out = Vec::new();
    let mut held_out = false;
    for (i, raw) in src.lines().enumerate() {
        let line = i + 1;
        let l = raw.trim_end_matches('\r');
        if l.trim().is_empty() {
            continue;
        }
        if let Some(comment) = l.strip_prefix('#') {
            if comment.trim() == "split held-out" {
                held_out = true;
            }
            continue;
        }
        let Some((label, text)) = l.split_once('\t') else {
            return Err(EvalSetError { line, message: "expected LABEL<TAB>TEXT".into() });
        };
        let mut labels = Vec::new();
        if label.trim() != "ok" {
            for code in label.split(',') {
                let c = Category::from_code(code.trim()).ok_or_else(|| EvalSetError {
                    line,
                    message: format!("unknown label {:?} (expected ok or a category code)", code.trim()),
                })?;
                labels.push(c);
            }
        }
        if text.trim().is_empty() {
            return Err(EvalSetError { line, message: "the text is empty".into() });
        }
        out.push(Example { line, labels, text: text.to_string(), held_out });
    }
    Ok(out)
}

/// Counts for one category.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// The category.
    pub category: Category,
    /// Labelled with it and found.
    pub true_pos: usize,
    /// Found but not labelled with it.
    pub false_pos: usize,
    /// Labelled with it and not found.
    pub false_neg: usize,
    /// Lines not labelled with it.
    pub negatives: usize,
}

/// A share, or None when the denominator is zero.
fn ratio(num: usize, den: usize) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

impl Counts {
    /// TP / (TP + FP).
    pub fn precision(&self) -> Option<f64> {
        ratio(self.true_pos, self.true_pos + self.false_pos)
    }
    /// TP / (TP + FN).
    pub fn recall(&self) -> Option<f64> {
        ratio(self.true_pos, self.true_pos + self.false_neg)
    }
    /// FP / lines not labelled with the category.
    pub fn false_positive_rate(&self) -> Option<f64> {
        ratio(self.false_pos, self.negatives)
    }
}

/// A line the scanner got wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Miss {
    /// 1-based line.
    pub line: usize,
    /// Labelled categories (empty: lawful).
    pub expected: Vec<Category>,
    /// Categories found.
    pub found: Vec<Category>,
    /// The text.
    pub text: String,
}

/// Figures for a set of examples.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Per category, in [`Category::ALL`] order.
    pub categories: Vec<Counts>,
    /// Lines with a violation label.
    pub violations: usize,
    /// Of those, lines where at least one labelled category was found.
    pub violations_found: usize,
    /// Of those, lines with any finding at all (warn or block).
    pub violations_flagged: usize,
    /// Lawful lines.
    pub lawful: usize,
    /// Lawful lines with any finding.
    pub lawful_flagged: usize,
    /// Violations missed and lawful lines flagged, in file order.
    pub misses: Vec<Miss>,
}

impl Report {
    /// Share of violation lines where a labelled category was found.
    pub fn recall(&self) -> Option<f64> {
        ratio(self.violations_found, self.violations)
    }
    /// Share of lawful lines flagged.
    pub fn false_positive_rate(&self) -> Option<f64> {
        ratio(self.lawful_flagged, self.lawful)
    }
    /// Micro-averaged precision over the categories.
    pub fn precision(&self) -> Option<f64> {
        let tp: usize = self.categories.iter().map(|c| c.true_pos).sum();
        let fp: usize = self.categories.iter().map(|c| c.false_pos).sum();
        ratio(tp, tp + fp)
    }
    /// Recall ≥ [`TARGET_RECALL`] and false-positive rate ≤ [`TARGET_FPR`] (an empty side passes).
    pub fn meets_targets(&self) -> bool {
        self.recall().is_none_or(|r| r >= TARGET_RECALL)
            && self.false_positive_rate().is_none_or(|f| f <= TARGET_FPR)
    }
}

/// Scans every example and counts.
pub fn evaluate<'a>(scanner: &Scanner, examples: impl IntoIterator<Item = &'a Example>) -> Report {
    let mut categories: Vec<Counts> = Category::ALL
        .into_iter()
        .map(|category| Counts { category, true_pos: 0, false_pos: 0, false_neg: 0, negatives: 0 })
        .collect();
    let mut r = Report {
        categories: Vec::new(),
        violations: 0,
        violations_found: 0,
        violations_flagged: 0,
        lawful: 0,
        lawful_flagged: 0,
        misses: Vec::new(),
    };
    for ex in examples {
        let scan = scanner.scan(&ex.text);
        let mut found: Vec<Category> = scan.findings.iter().map(|f| f.category).collect();
        found.sort();
        found.dedup();
        for c in &mut categories {
            let labelled = ex.labels.contains(&c.category);
            let hit = found.contains(&c.category);
            match (labelled, hit) {
                (true, true) => c.true_pos += 1,
                (true, false) => c.false_neg += 1,
                (false, true) => c.false_pos += 1,
                (false, false) => {}
            }
            if !labelled {
                c.negatives += 1;
            }
        }
        let wrong = if ex.labels.is_empty() {
            r.lawful += 1;
            let flagged = !found.is_empty();
            r.lawful_flagged += usize::from(flagged);
            flagged
        } else {
            r.violations += 1;
            let right = ex.labels.iter().any(|l| found.contains(l));
            r.violations_found += usize::from(right);
            r.violations_flagged += usize::from(!found.is_empty());
            !right
        };
        if wrong {
            r.misses.push(Miss { line: ex.line, expected: ex.labels.clone(), found, text: ex.text.clone() });
        }
    }
    r.categories = categories;
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_reads_labels_comments_and_the_held_out_mark() {
        let src = "# a comment\nok\t您好\ninsult,violence_threat\tx\n#split held-out\nok\ty\n";
        let ex = parse(src).unwrap();
        assert_eq!(ex.len(), 3);
        assert_eq!(ex[0].labels, vec![]);
        assert_eq!(ex[1].labels, vec![Category::Insult, Category::ViolenceThreat]);
        assert_eq!(ex[1].line, 3);
        assert!(!ex[1].held_out);
        assert!(ex[2].held_out);
    }

    #[test]
    fn parse_names_the_bad_line() {
        assert_eq!(parse("ok\ta\nnonsense\tb\n").unwrap_err().line, 2);
        assert_eq!(parse("ok\ta\n\nno tab here\n").unwrap_err().line, 3);
        assert!(parse("ok\t  \n").unwrap_err().message.contains("empty"));
    }

    #[test]
    fn ratios_are_none_on_empty_denominators() {
        let c = Counts { category: Category::Insult, true_pos: 0, false_pos: 0, false_neg: 0, negatives: 0 };
        assert_eq!(c.precision(), None);
        assert_eq!(c.recall(), None);
        assert_eq!(c.false_positive_rate(), None);
        let c = Counts { category: Category::Insult, true_pos: 3, false_pos: 1, false_neg: 1, negatives: 10 };
        assert_eq!(c.precision(), Some(0.75));
        assert_eq!(c.recall(), Some(0.75));
        assert_eq!(c.false_positive_rate(), Some(0.1));
    }
}
