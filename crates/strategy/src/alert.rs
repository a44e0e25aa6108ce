//! Early-warning rules (预警规则): a TOML file of rules whose conditions are CEL over
//! the alert catalogue, checked like strategy files, and evaluated per borrower.
//!
//! ```toml
//! version = 1
//!
//! [[rule]]
//! id = "current_ratio_below_1"          # unique; letters, digits and _
//! description = "流动比率低于 1.0"
//! severity = "warning"                  # info | warning | critical
//! departments = ["risk", "relationship_manager"]   # collections, risk, legal, relationship_manager
//! when = 'fin.current_ratio < 1.0'
//! ```
//!
//! A condition that reads a field which is `null` for the borrower (no statement, no
//! score yet) and cannot be decided without it does not fire: an absent figure is not
//! evidence of anything. The batch raises an alert when a condition starts to hold
//! (edge-triggered); this module only says whether it holds and on which values.

use arrears_core::id::RuleId;
use std::collections::BTreeMap;

use arrears_core::config::line_col;
use cel::IdedExpr;
use cel::common::ast::Expr as Node;
use serde::Deserialize;
use toml::Spanned;

use crate::expr::{Bindings, Catalogue, Expr, Field, Type, Val, compile};
use crate::file::{CheckErrors, Report};

/// How urgent an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// For information.
    Info,
    /// Needs a look.
    Warning,
    /// Needs action now.
    Critical,
}

impl Severity {
    /// Every severity, least urgent first.
    pub const ALL: [Severity; 3] = [Severity::Info, Severity::Warning, Severity::Critical];

    /// The code in files and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }

    /// Parses a code.
    pub fn parse(s: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// The departments an alert can go to.
pub const DEPARTMENTS: [&str; 4] = ["collections", "risk", "legal", "relationship_manager"];

/// A checked rule.
#[derive(Debug)]
pub struct AlertRule {
    /// Unique id, the key of its alerts.
    pub id: RuleId,
    /// What it means, for the people who receive it.
    pub description: String,
    /// How urgent.
    pub severity: Severity,
    /// Who receives it, each one of [`DEPARTMENTS`].
    pub departments: Vec<String>,
    /// The condition.
    pub when: Expr,
    /// The fields the condition reads (`root`, `field`), in first-read order.
    pub reads: Vec<(String, String)>,
}

/// A checked rule file.
#[derive(Debug)]
pub struct AlertRules {
    /// Version of the file.
    pub version: i64,
    /// Rules in file order.
    pub rules: Vec<AlertRule>,
}

fn field(name: &'static str, ty: Type, nullable: bool, doc: &'static str) -> Field {
    Field { name, ty, nullable, values: &[], doc }
}

/// The fields alert conditions may read.
pub fn catalogue() -> Catalogue {
    use Type::{Bool, Double, Int, String as Str};
    let kind = Field {
        name: "kind",
        ty: Str,
        nullable: false,
        values: &["individual", "company"],
        doc: "borrower kind",
    };
    Catalogue::new()
        .with_root(
            "borrower",
            vec![
                kind,
                field("max_dpd", Int, false, "worst days past due over the borrower's loans on the date"),
                field("overdue_total", Double, false, "overdue amount over all loans, major units"),
                field("delinquent_loans", Int, false, "loans with days past due > 0"),
                field("active_loans", Int, false, "loans not yet paid off"),
                field(
                    "previously_clean",
                    Bool,
                    true,
                    "never past due before the date; null on the borrower's first business date (no history)",
                ),
                field("has_open_case", Bool, false, "an open collection case"),
            ],
        )
        .with_root(
            "ptp",
            vec![
                field("broken_today", Int, false, "promises judged broken on the date"),
                field("kept_today", Int, false, "promises judged kept on the date"),
                field("broken_total", Int, false, "promises broken so far"),
                field("kept_total", Int, false, "promises kept so far"),
                field("pending", Int, false, "promises not yet judged"),
            ],
        )
        .with_root(
            "fin",
            vec![
                field("period_end", Str, true, "end of the latest statement (YYYY-MM-DD); null: none"),
                field("current_ratio", Double, true, "current assets / current liabilities"),
                field("quick_ratio", Double, true, "(current assets - inventory) / current liabilities"),
                field("quick_ratio_prev", Double, true, "quick ratio of the period before"),
                field("quick_ratio_change", Double, true, "relative change of the quick ratio, -0.3 = -30%"),
                field("debt_to_assets", Double, true, "total liabilities / total assets"),
                field("net_margin", Double, true, "net income / revenue"),
                field(
                    "ocf_to_current_liabilities",
                    Double,
                    true,
                    "operating cash flow / current liabilities",
                ),
                field("revenue_growth", Double, true, "relative change of revenue, -0.2 = -20%"),
            ],
        )
        .with_root(
            "guarantor",
            vec![
                field(
                    "contact_id",
                    Str,
                    true,
                    "a guarantor contact whose phone is that of a delinquent borrower of the book (the worst); null: none",
                ),
                field("borrower_id", Str, true, "that borrower"),
                field("dpd", Int, true, "that borrower's worst days past due on the date"),
                field("delinquent", Int, false, "guarantors of the borrower who are delinquent borrowers of the book"),
            ],
        )
        .with_root(
            "score",
            vec![
                field("current", Double, true, "latest behaviour score; null until scores are stored"),
                field("previous", Double, true, "the score before it"),
                field("change", Double, true, "current - previous"),
                field("roll", Double, true, "probability of rolling from M1 to M2 within 30 days, 0-1"),
                field("ptp", Double, true, "probability of a payment within 14 days, 0-1"),
                field("points", Double, true, "behaviour score points of the date (the same as current)"),
            ],
        )
}

/// A company's ratios for conditions (ratios, never money).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FinFacts {
    /// End of the latest statement, ISO.
    pub period_end: Option<String>,
    /// Current ratio.
    pub current_ratio: Option<f64>,
    /// Quick ratio.
    pub quick_ratio: Option<f64>,
    /// Previous period's quick ratio.
    pub quick_ratio_prev: Option<f64>,
    /// Relative change of the quick ratio.
    pub quick_ratio_change: Option<f64>,
    /// Debt to assets.
    pub debt_to_assets: Option<f64>,
    /// Net margin.
    pub net_margin: Option<f64>,
    /// Operating cash flow to current liabilities.
    pub ocf_to_current_liabilities: Option<f64>,
    /// Relative change of revenue.
    pub revenue_growth: Option<f64>,
}

/// A guarantor of the borrower who is itself a delinquent borrower of the book (matched by
/// the blind index of the phone number).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GuarantorFacts {
    /// The worst such guarantor's contact id.
    pub contact_id: Option<String>,
    /// The borrower it is.
    pub borrower_id: Option<String>,
    /// That borrower's worst DPD.
    pub dpd: Option<i64>,
    /// How many of the borrower's guarantors are delinquent borrowers.
    pub delinquent: i64,
}

/// What the alert rules see of one borrower on one business date.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlertFacts {
    /// `individual` or `company`.
    pub kind: String,
    /// Worst DPD.
    pub max_dpd: i64,
    /// Overdue total, major units.
    pub overdue_total: f64,
    /// Loans past due.
    pub delinquent_loans: i64,
    /// Loans not paid off.
    pub active_loans: i64,
    /// Never past due before the date; `None` without history.
    pub previously_clean: Option<bool>,
    /// An open case.
    pub has_open_case: bool,
    /// Promises broken on the date.
    pub ptp_broken_today: i64,
    /// Promises kept on the date.
    pub ptp_kept_today: i64,
    /// Promises broken in all.
    pub ptp_broken_total: i64,
    /// Promises kept in all.
    pub ptp_kept_total: i64,
    /// Promises pending.
    pub ptp_pending: i64,
    /// Financial ratios.
    pub fin: FinFacts,
    /// Its guarantors who are delinquent borrowers.
    pub guarantor: GuarantorFacts,
    /// Latest score.
    pub score_current: Option<f64>,
    /// Score before it.
    pub score_previous: Option<f64>,
    /// Probability of rolling from M1 to M2 within 30 days.
    pub score_roll: Option<f64>,
    /// Probability of a payment within 14 days.
    pub score_ptp: Option<f64>,
}

impl AlertFacts {
    /// Bytes equal for two facts exactly when every field is (numbers by bit pattern), so
    /// that the rules' outcomes can be remembered per distinct facts: most borrowers of a
    /// book share theirs with many others.
    pub fn key(&self) -> Vec<u8> {
        let mut k = Vec::with_capacity(160);
        let text = |k: &mut Vec<u8>, s: Option<&str>| match s {
            None => k.push(0),
            Some(s) => {
                k.push(1);
                k.extend_from_slice(&(s.len() as u64).to_le_bytes());
                k.extend_from_slice(s.as_bytes());
            }
        };
        let int = |k: &mut Vec<u8>, v: Option<i64>| match v {
            None => k.push(0),
            Some(v) => {
                k.push(1);
                k.extend_from_slice(&v.to_le_bytes());
            }
        };
        let num = |k: &mut Vec<u8>, v: Option<f64>| int(k, v.map(|v| v.to_bits() as i64));
        // Destructured in full, so that a new field cannot be left out of the key.
        let AlertFacts {
            kind,
            max_dpd,
            overdue_total,
            delinquent_loans,
            active_loans,
            previously_clean,
            has_open_case,
            ptp_broken_today,
            ptp_kept_today,
            ptp_broken_total,
            ptp_kept_total,
            ptp_pending,
            fin,
            guarantor,
            score_current,
            score_previous,
            score_roll,
            score_ptp,
        } = self;
        let FinFacts {
            period_end,
            current_ratio,
            quick_ratio,
            quick_ratio_prev,
            quick_ratio_change,
            debt_to_assets,
            net_margin,
            ocf_to_current_liabilities,
            revenue_growth,
        } = fin;
        let GuarantorFacts { contact_id, borrower_id, dpd, delinquent } = guarantor;
        text(&mut k, Some(kind));
        text(&mut k, period_end.as_deref());
        text(&mut k, contact_id.as_deref());
        text(&mut k, borrower_id.as_deref());
        for v in [
            Some(*max_dpd),
            Some(*delinquent_loans),
            Some(*active_loans),
            previously_clean.map(i64::from),
            Some(i64::from(*has_open_case)),
            Some(*ptp_broken_today),
            Some(*ptp_kept_today),
            Some(*ptp_broken_total),
            Some(*ptp_kept_total),
            Some(*ptp_pending),
            *dpd,
            Some(*delinquent),
        ] {
            int(&mut k, v);
        }
        for v in [
            Some(*overdue_total),
            *current_ratio,
            *quick_ratio,
            *quick_ratio_prev,
            *quick_ratio_change,
            *debt_to_assets,
            *net_margin,
            *ocf_to_current_liabilities,
            *revenue_growth,
            *score_current,
            *score_previous,
            *score_roll,
            *score_ptp,
        ] {
            num(&mut k, v);
        }
        k
    }
}

fn dbl(v: Option<f64>) -> Val {
    v.map(Val::Double).into()
}

impl AlertFacts {
    /// The record as roots of fields, in catalogue order.
    pub fn roots(&self) -> Vec<(&'static str, Vec<(&'static str, Val)>)> {
        let f = &self.fin;
        let change = match (self.score_current, self.score_previous) {
            (Some(c), Some(p)) => Some(c - p),
            _ => None,
        };
        vec![
            (
                "borrower",
                vec![
                    ("kind", Val::Str(self.kind.clone())),
                    ("max_dpd", Val::Int(self.max_dpd)),
                    ("overdue_total", Val::Double(self.overdue_total)),
                    ("delinquent_loans", Val::Int(self.delinquent_loans)),
                    ("active_loans", Val::Int(self.active_loans)),
                    ("previously_clean", self.previously_clean.map(Val::Bool).into()),
                    ("has_open_case", Val::Bool(self.has_open_case)),
                ],
            ),
            (
                "ptp",
                vec![
                    ("broken_today", Val::Int(self.ptp_broken_today)),
                    ("kept_today", Val::Int(self.ptp_kept_today)),
                    ("broken_total", Val::Int(self.ptp_broken_total)),
                    ("kept_total", Val::Int(self.ptp_kept_total)),
                    ("pending", Val::Int(self.ptp_pending)),
                ],
            ),
            (
                "fin",
                vec![
                    ("period_end", f.period_end.clone().map(Val::Str).into()),
                    ("current_ratio", dbl(f.current_ratio)),
                    ("quick_ratio", dbl(f.quick_ratio)),
                    ("quick_ratio_prev", dbl(f.quick_ratio_prev)),
                    ("quick_ratio_change", dbl(f.quick_ratio_change)),
                    ("debt_to_assets", dbl(f.debt_to_assets)),
                    ("net_margin", dbl(f.net_margin)),
                    ("ocf_to_current_liabilities", dbl(f.ocf_to_current_liabilities)),
                    ("revenue_growth", dbl(f.revenue_growth)),
                ],
            ),
            (
                "guarantor",
                vec![
                    ("contact_id", self.guarantor.contact_id.clone().map(Val::Str).into()),
                    ("borrower_id", self.guarantor.borrower_id.clone().map(Val::Str).into()),
                    ("dpd", self.guarantor.dpd.map(Val::Int).into()),
                    ("delinquent", Val::Int(self.guarantor.delinquent)),
                ],
            ),
            (
                "score",
                vec![
                    ("current", dbl(self.score_current)),
                    ("previous", dbl(self.score_previous)),
                    ("change", dbl(change)),
                    ("roll", dbl(self.score_roll)),
                    ("ptp", dbl(self.score_ptp)),
                    ("points", dbl(self.score_current)),
                ],
            ),
        ]
    }
}

/// One borrower's record, bound once for every rule.
pub struct AlertRecord {
    bindings: Bindings,
    values: BTreeMap<(&'static str, &'static str), Val>,
}

impl AlertRecord {
    /// Binds the facts.
    pub fn new(facts: &AlertFacts) -> AlertRecord {
        let mut bindings = Bindings::new();
        let mut values = BTreeMap::new();
        for (root, fields) in facts.roots() {
            for (name, v) in &fields {
                values.insert((root, *name), v.clone());
            }
            bindings.set_root(root, fields);
        }
        AlertRecord { bindings, values }
    }

    fn value(&self, root: &str, field: &str) -> Val {
        self.values.iter().find(|((r, f), _)| *r == root && *f == field).map_or(Val::Null, |(_, v)| v.clone())
    }
}

/// Whether a rule's condition holds for a record.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// It holds, on these values (`root.field`, value) of the fields it reads.
    Holds(Vec<(String, Val)>),
    /// It does not hold.
    Clear,
    /// It reads a `null` field and cannot be decided: it does not fire.
    Undecided,
    /// Evaluation failed although every field it reads was present (overflow, …).
    Failed(String),
}

impl AlertRule {
    /// Evaluates the condition against one record.
    pub fn evaluate(&self, record: &AlertRecord) -> Outcome {
        match self.when.eval_bool(&record.bindings) {
            Ok(true) => Outcome::Holds(
                self.reads.iter().map(|(r, f)| (format!("{r}.{f}"), record.value(r, f))).collect(),
            ),
            Ok(false) => Outcome::Clear,
            Err(e) => {
                if self.reads.iter().any(|(r, f)| record.value(r, f) == Val::Null) {
                    Outcome::Undecided
                } else {
                    Outcome::Failed(e.0)
                }
            }
        }
    }
}

/// The catalogue fields an expression reads, in first-read order.
fn reads(e: &IdedExpr, out: &mut Vec<(String, String)>) {
    match &e.expr {
        Node::Select(s) => {
            if let Node::Ident(root) = &s.operand.expr {
                let key = (root.clone(), s.field.clone());
                if !out.contains(&key) {
                    out.push(key);
                }
            } else {
                reads(&s.operand, out);
            }
        }
        Node::Call(c) => {
            if let Some(t) = c.target.as_deref() {
                reads(t, out);
            }
            for a in &c.args {
                reads(a, out);
            }
        }
        Node::List(l) => {
            for x in &l.elements {
                reads(x, out);
            }
        }
        _ => {}
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRules {
    version: Spanned<i64>,
    #[serde(default, rename = "rule")]
    rules: Vec<RawRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: Spanned<String>,
    description: Spanned<String>,
    severity: Spanned<String>,
    departments: Spanned<Vec<Spanned<String>>>,
    when: Spanned<String>,
}

/// Reads and checks an alert rule file; every problem as `FILE:LINE:COL`. `path` only
/// names the file in messages.
pub fn check_rules(path: &str, text: &str) -> Result<AlertRules, CheckErrors> {
    let mut r = Report { text, found: Vec::new() };
    let raw: RawRules = match toml::from_str(text) {
        Ok(raw) => raw,
        Err(e) => {
            let at = e.span().map_or(0, |s| s.start);
            r.at(at, e.message().trim().to_string());
            return Err(r.finish(path));
        }
    };
    if *raw.version.get_ref() < 1 {
        r.on(&raw.version, "version starts at 1");
    }
    if raw.rules.is_empty() {
        r.at(0, "the file has no [[rule]]");
    }
    let cat = catalogue();
    let mut ids: BTreeMap<String, usize> = BTreeMap::new();
    let mut rules = Vec::new();
    for raw_rule in raw.rules {
        let id = raw_rule.id.get_ref().clone();
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            r.on(&raw_rule.id, format!("rule id {id:?} must be letters, digits and _ only"));
        }
        if let Some(prev) = ids.insert(id.clone(), raw_rule.id.span().start) {
            let (line, _) = line_col(text, prev);
            r.on(&raw_rule.id, format!("rule {id:?} is already defined on line {line}"));
        }
        if raw_rule.description.get_ref().trim().is_empty() {
            r.on(&raw_rule.description, "the description is empty: say what the alert means");
        }
        let severity = Severity::parse(raw_rule.severity.get_ref());
        if severity.is_none() {
            r.on(
                &raw_rule.severity,
                format!("severity {:?} is not one of info, warning, critical", raw_rule.severity.get_ref()),
            );
        }
        let mut departments = Vec::new();
        if raw_rule.departments.get_ref().is_empty() {
            r.on(&raw_rule.departments, "the rule goes to no department: name at least one");
        }
        for d in raw_rule.departments.get_ref() {
            if !DEPARTMENTS.contains(&d.get_ref().as_str()) {
                r.on(d, format!("department {:?} is not one of {}", d.get_ref(), DEPARTMENTS.join(", ")));
            } else if departments.contains(d.get_ref()) {
                r.on(d, format!("department {:?} is listed twice", d.get_ref()));
            } else {
                departments.push(d.get_ref().clone());
            }
        }
        let when = match compile(raw_rule.when.get_ref(), &cat, &Type::Bool) {
            Ok(e) => Some(e),
            Err(errs) => {
                r.expr_errors(&raw_rule.when, "when", errs);
                None
            }
        };
        let rule_id = match RuleId::new(id.as_str()) {
            Ok(rule_id) => Some(rule_id),
            Err(e) => {
                // An empty id or one with other characters is reported above.
                if !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    r.on(&raw_rule.id, format!("rule id {id:?}: {e}"));
                }
                None
            }
        };
        if let (Some(severity), Some(when), Some(id)) = (severity, when, rule_id) {
            let mut read = Vec::new();
            reads(when.ast(), &mut read);
            rules.push(AlertRule {
                id,
                description: raw_rule.description.into_inner(),
                severity,
                departments,
                when,
                reads: read,
            });
        }
    }
    if r.found.is_empty() {
        Ok(AlertRules { version: *raw.version.get_ref(), rules })
    } else {
        Err(r.finish(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULT: &str = include_str!("../../../config/alerts/default.toml");

    fn rules() -> AlertRules {
        check_rules("default.toml", DEFAULT).unwrap_or_else(|e| panic!("{e}"))
    }

    fn rule<'a>(rs: &'a AlertRules, id: &str) -> &'a AlertRule {
        rs.rules.iter().find(|r| r.id == id).unwrap_or_else(|| panic!("no rule {id}"))
    }

    fn holds(rs: &AlertRules, id: &str, f: &AlertFacts) -> bool {
        match rule(rs, id).evaluate(&AlertRecord::new(f)) {
            Outcome::Holds(_) => true,
            Outcome::Clear | Outcome::Undecided => false,
            Outcome::Failed(e) => panic!("{id}: {e}"),
        }
    }

    fn company(fin: FinFacts) -> AlertFacts {
        AlertFacts { kind: "company".into(), fin, ..AlertFacts::default() }
    }

    #[test]
    fn the_shipped_file_checks() {
        let rs = rules();
        for id in [
            "current_ratio_below_1",
            "quick_ratio_drop_30",
            "revenue_down_20",
            "first_missed_installment",
            "broken_promise",
            "score_deterioration",
        ] {
            rule(&rs, id);
        }
    }

    #[test]
    fn financial_rule_boundaries() {
        let rs = rules();
        let cr = |v: Option<f64>| company(FinFacts { current_ratio: v, ..FinFacts::default() });
        let qr = |v: Option<f64>| company(FinFacts { quick_ratio_change: v, ..FinFacts::default() });
        let rg = |v: Option<f64>| company(FinFacts { revenue_growth: v, ..FinFacts::default() });
        let table: &[(&str, AlertFacts, bool)] = &[
            ("current_ratio_below_1", cr(Some(0.9999)), true),
            ("current_ratio_below_1", cr(Some(1.0)), false),
            ("current_ratio_below_1", cr(Some(-0.5)), true),
            ("current_ratio_below_1", cr(None), false),
            ("quick_ratio_drop_30", qr(Some(-0.3)), false),
            ("quick_ratio_drop_30", qr(Some(-0.3001)), true),
            ("quick_ratio_drop_30", qr(Some(0.5)), false),
            ("quick_ratio_drop_30", qr(None), false),
            ("revenue_down_20", rg(Some(-0.2)), false),
            ("revenue_down_20", rg(Some(-0.2001)), true),
            ("revenue_down_20", rg(None), false),
        ];
        for (id, f, want) in table {
            assert_eq!(holds(&rs, id, f), *want, "{id} on {:?}", f.fin);
        }
    }

    #[test]
    fn behaviour_rule_boundaries() {
        let rs = rules();
        let b = |dpd: i64, clean: Option<bool>| AlertFacts {
            kind: "individual".into(),
            max_dpd: dpd,
            previously_clean: clean,
            ..AlertFacts::default()
        };
        let p = |broken: i64| AlertFacts {
            kind: "individual".into(),
            ptp_broken_today: broken,
            ..AlertFacts::default()
        };
        let s = |cur: Option<f64>, prev: Option<f64>| AlertFacts {
            kind: "individual".into(),
            score_current: cur,
            score_previous: prev,
            ..AlertFacts::default()
        };
        let table: &[(&str, AlertFacts, bool)] = &[
            ("first_missed_installment", b(1, Some(true)), true),
            ("first_missed_installment", b(0, Some(true)), false),
            ("first_missed_installment", b(1, Some(false)), false),
            ("first_missed_installment", b(40, None), false),
            ("broken_promise", p(0), false),
            ("broken_promise", p(1), true),
            ("broken_promise", p(2), true),
            ("score_deterioration", s(None, None), false),
            ("score_deterioration", s(Some(500.0), None), false),
            ("score_deterioration", s(Some(550.0), Some(600.0)), true),
            ("score_deterioration", s(Some(551.0), Some(600.0)), false),
        ];
        for (id, f, want) in table {
            assert_eq!(holds(&rs, id, f), *want, "{id} on {f:?}");
        }
    }

    #[test]
    fn a_firing_rule_names_the_values_it_read() {
        let rs = rules();
        let f = company(FinFacts { current_ratio: Some(0.8), ..FinFacts::default() });
        let out = rule(&rs, "current_ratio_below_1").evaluate(&AlertRecord::new(&f));
        let Outcome::Holds(values) = out else { panic!("{out:?}") };
        assert!(values.contains(&("fin.current_ratio".to_string(), Val::Double(0.8))), "{values:?}");
    }

    #[test]
    fn a_bare_comparison_with_null_is_undecided() {
        let text = "version = 1\n[[rule]]\nid = \"x\"\ndescription = \"d\"\nseverity = \"info\"\n\
                    departments = [\"risk\"]\nwhen = 'score.change < -10.0'\n";
        let rs = check_rules("x.toml", text).unwrap();
        assert_eq!(rs.rules[0].evaluate(&AlertRecord::new(&AlertFacts::default())), Outcome::Undecided);
    }

    /// (file text, expected `line:col: message` fragment)
    #[test]
    fn bad_files_give_line_and_column() {
        let head = "version = 1\n[[rule]]\nid = \"r1\"\ndescription = \"d\"\n";
        let table: &[(String, &str)] = &[
            (
                format!(
                    "{head}severity = \"urgent\"\ndepartments = [\"risk\"]\nwhen = 'borrower.max_dpd > 1'\n"
                ),
                "x.toml:5:12: severity \"urgent\" is not one of info, warning, critical",
            ),
            (
                format!(
                    "{head}severity = \"info\"\ndepartments = [\"risk\", \"sales\"]\nwhen = 'borrower.max_dpd > 1'\n"
                ),
                "x.toml:6:24: department \"sales\" is not one of",
            ),
            (
                format!(
                    "{head}severity = \"info\"\ndepartments = [\"risk\"]\nwhen = 'borrower.maxdpd > 1'\n"
                ),
                "x.toml:7:9: when: unknown field `borrower.maxdpd`; did you mean `borrower.max_dpd`?",
            ),
            (
                format!(
                    "{head}severity = \"info\"\ndepartments = [\"risk\"]\nwhen = 'fin.current_ratio < \"x\"'\n"
                ),
                "x.toml:7:27: when: cannot order a double against a string",
            ),
            (
                format!("{head}severity = \"info\"\ndepartments = []\nwhen = 'borrower.max_dpd > 1'\n"),
                "x.toml:6:15: the rule goes to no department",
            ),
            (
                format!("{head}severity = \"info\"\ndepartments = [\"risk\"]\nwhen = 'true'\nlevel = 3\n"),
                "x.toml:8:1: unknown field `level`",
            ),
            (
                format!(
                    "{head}severity = \"info\"\ndepartments = [\"risk\"]\nwhen = 'true'\n\
                     [[rule]]\nid = \"r1\"\ndescription = \"e\"\nseverity = \"info\"\ndepartments = [\"risk\"]\nwhen = 'true'\n"
                ),
                "x.toml:9:6: rule \"r1\" is already defined on line 3",
            ),
            ("version = 1\n".to_string(), "x.toml:1:1: the file has no [[rule]]"),
            (
                format!(
                    "version = 1\n[[rule]]\nid = \"{}\"\ndescription = \"d\"\nseverity = \"info\"\n\
                     departments = [\"risk\"]\nwhen = 'true'\n",
                    "r".repeat(65)
                ),
                "is longer than 64 characters",
            ),
        ];
        for (text, want) in table {
            let e = check_rules("x.toml", text).expect_err(text);
            let lines = e.lines();
            assert!(
                lines.iter().any(|l| l.starts_with(want) || l.contains(want)),
                "{text}\n{lines:?}\nwant {want}"
            );
        }
    }

    #[test]
    fn facts_key_tells_apart_any_field_change() {
        let base = AlertFacts { kind: "individual".into(), active_loans: 1, ..AlertFacts::default() };
        assert_eq!(base.key(), base.clone().key());
        let changed = [
            AlertFacts { active_loans: 2, ..base.clone() },
            AlertFacts { previously_clean: Some(true), ..base.clone() },
            AlertFacts { previously_clean: Some(false), ..base.clone() },
            AlertFacts { overdue_total: 0.01, ..base.clone() },
            AlertFacts { kind: "company".into(), ..base.clone() },
            AlertFacts { score_roll: Some(0.0), ..base.clone() },
            AlertFacts { fin: FinFacts { current_ratio: Some(0.9), ..FinFacts::default() }, ..base.clone() },
            AlertFacts {
                fin: FinFacts { period_end: Some("2026-06-30".into()), ..FinFacts::default() },
                ..base.clone()
            },
            AlertFacts {
                guarantor: GuarantorFacts { contact_id: Some("K1".into()), ..GuarantorFacts::default() },
                ..base.clone()
            },
            AlertFacts {
                guarantor: GuarantorFacts { borrower_id: Some("K1".into()), ..GuarantorFacts::default() },
                ..base.clone()
            },
        ];
        let mut keys: Vec<Vec<u8>> = changed.iter().map(AlertFacts::key).collect();
        keys.push(base.key());
        let n = keys.len();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), n, "every variation has its own key");
    }
}
