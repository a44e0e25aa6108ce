//! What can be known about a condition without running it: the region of field
//! values it admits, when it is a conjunction of comparisons of fields with literals.
//!
//! Each condition gets two readings. The *over* region holds every case the condition
//! could match: atoms that are not `field op literal` (an `||`, a function call) are
//! dropped, which only widens it. The region is *exact* when nothing was dropped.
//! From these the checker draws only sound conclusions:
//! - a segment whose over region is empty can never match;
//! - a segment whose over region lies inside an earlier segment's exact region can
//!   never be reached (first match wins), since every case it admits the earlier
//!   one takes;
//! - two segments declared exclusive overlap when both are exact and their regions
//!   meet (this reads fields as independent: `case.bucket == "M1"` and `case.max_dpd
//!   > 60` meet on paper although the book never holds such a case).
//!
//! Anything else (`||`, `!`, arithmetic) is not analysed, and such segments are
//! neither flagged nor cleared.

use std::collections::{BTreeMap, BTreeSet};

use cel::IdedExpr;
use cel::common::ast::{Expr as Node, LiteralValue};

use crate::expr::{Catalogue, Expr, Type};

/// One end of a numeric range: the value and whether it is included.
type End = Option<(f64, bool)>;

/// The values a single field may take.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Dom {
    /// A numeric range; `None` ends are unbounded.
    Num { lo: End, hi: End },
    /// Only these strings.
    In(BTreeSet<String>),
    /// Any string but these.
    NotIn(BTreeSet<String>),
}

/// A region: per constrained field its domain; an absent field is unconstrained.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Region {
    fields: BTreeMap<String, Dom>,
    /// A literal `false`, or contradictory string sets seen on the way.
    never: bool,
}

/// The analysis of one condition.
#[derive(Debug, Clone)]
pub(crate) struct Reading {
    /// Every case the condition may match lies in here.
    pub over: Region,
    /// Whether `over` is exactly the condition.
    pub exact: bool,
}

/// Reads a compiled condition.
pub(crate) fn read(expr: &Expr, cat: &Catalogue) -> Reading {
    let mut r = Reading { over: Region::default(), exact: true };
    walk(expr.ast(), cat, &mut r);
    r
}

fn path(e: &IdedExpr) -> Option<(String, String)> {
    if let Node::Select(s) = &e.expr
        && !s.test
        && let Node::Ident(root) = &s.operand.expr
    {
        return Some((root.clone(), s.field.clone()));
    }
    None
}

fn number(e: &IdedExpr) -> Option<f64> {
    match &e.expr {
        Node::Literal(LiteralValue::Int(i)) => Some(*i.inner() as f64),
        Node::Literal(LiteralValue::UInt(u)) => Some(*u.inner() as f64),
        Node::Literal(LiteralValue::Double(d)) => Some(*d.inner()),
        Node::Call(c) if c.func_name == "-_" && c.args.len() == 1 => number(&c.args[0]).map(|n| -n),
        _ => None,
    }
}

fn string(e: &IdedExpr) -> Option<String> {
    match &e.expr {
        Node::Literal(LiteralValue::String(s)) => Some(s.inner().to_string()),
        _ => None,
    }
}

fn walk(e: &IdedExpr, cat: &Catalogue, r: &mut Reading) {
    match &e.expr {
        Node::Literal(LiteralValue::Boolean(b)) => {
            if !*b.inner() {
                r.over.never = true;
            }
        }
        Node::Call(c) if c.func_name == "_&&_" && c.args.len() == 2 => {
            walk(&c.args[0], cat, r);
            walk(&c.args[1], cat, r);
        }
        Node::Call(c) if c.args.len() == 2 && c.target.is_none() => {
            if !atom(&c.func_name, &c.args[0], &c.args[1], cat, r) {
                r.exact = false;
            }
        }
        _ => r.exact = false,
    }
}

/// Applies `a op b` to the region; false when it is not an atom we read.
fn atom(op: &str, a: &IdedExpr, b: &IdedExpr, cat: &Catalogue, r: &mut Reading) -> bool {
    let flipped = |op: &str| {
        match op {
            "_<_" => "_>_",
            "_<=_" => "_>=_",
            "_>_" => "_<_",
            "_>=_" => "_<=_",
            o => o,
        }
        .to_string()
    };
    let (field, lit, op) = match (path(a), path(b)) {
        (Some(p), None) => (p, b, op.to_string()),
        (None, Some(p)) if op != "@in" => (p, a, flipped(op)),
        _ => return false,
    };
    let Some(decl) = cat.field(&field.0, &field.1) else { return false };
    let key = format!("{}.{}", field.0, field.1);
    let is_int = decl.ty == Type::Int;
    let dom = if let Some(n) = number(lit) {
        // For an int field `> 30` is `>= 31`: it lets `> 30 && < 31` read as empty.
        let (lo, hi): (End, End) = match op.as_str() {
            "_==_" => (Some((n, true)), Some((n, true))),
            "_>=_" => (Some((n, true)), None),
            "_>_" if is_int && n.fract() == 0.0 => (Some((n + 1.0, true)), None),
            "_>_" => (Some((n, false)), None),
            "_<=_" => (None, Some((n, true))),
            "_<_" if is_int && n.fract() == 0.0 => (None, Some((n - 1.0, true))),
            "_<_" => (None, Some((n, false))),
            _ => return false,
        };
        Dom::Num { lo, hi }
    } else if let Some(s) = string(lit) {
        match op.as_str() {
            "_==_" => Dom::In([s].into()),
            "_!=_" => Dom::NotIn([s].into()),
            _ => return false,
        }
    } else if let Node::List(l) = &lit.expr
        && op == "@in"
    {
        let items: Option<BTreeSet<String>> = l.elements.iter().map(string).collect();
        match items {
            Some(set) => Dom::In(set),
            None => return false,
        }
    } else {
        return false;
    };
    let merged = match r.over.fields.remove(&key) {
        Some(old) => intersect(&old, &dom),
        None => Some(dom),
    };
    match merged {
        Some(d) => {
            r.over.fields.insert(key, d);
        }
        None => r.over.never = true,
    }
    true
}

fn max_lo(a: End, b: End) -> End {
    match (a, b) {
        (None, x) | (x, None) => x,
        (Some((x, xi)), Some((y, yi))) => Some(if x > y || (x == y && !xi) { (x, xi) } else { (y, yi) }),
    }
}

fn min_hi(a: End, b: End) -> End {
    match (a, b) {
        (None, x) | (x, None) => x,
        (Some((x, xi)), Some((y, yi))) => Some(if x < y || (x == y && !xi) { (x, xi) } else { (y, yi) }),
    }
}

fn num_empty(lo: End, hi: End) -> bool {
    match (lo, hi) {
        (Some((l, li)), Some((h, hi))) => l > h || (l == h && !(li && hi)),
        _ => false,
    }
}

/// The intersection of two domains, `None` when it is empty or they do not mix.
fn intersect(a: &Dom, b: &Dom) -> Option<Dom> {
    let d = match (a, b) {
        (Dom::Num { lo: l1, hi: h1 }, Dom::Num { lo: l2, hi: h2 }) => {
            let (lo, hi) = (max_lo(*l1, *l2), min_hi(*h1, *h2));
            if num_empty(lo, hi) {
                return None;
            }
            Dom::Num { lo, hi }
        }
        (Dom::In(x), Dom::In(y)) => Dom::In(x.intersection(y).cloned().collect()),
        (Dom::In(x), Dom::NotIn(n)) | (Dom::NotIn(n), Dom::In(x)) => {
            Dom::In(x.difference(n).cloned().collect())
        }
        (Dom::NotIn(x), Dom::NotIn(y)) => Dom::NotIn(x.union(y).cloned().collect()),
        _ => return None,
    };
    if matches!(&d, Dom::In(s) if s.is_empty()) { None } else { Some(d) }
}

/// Whether every value of `inner` is in `outer`.
fn dom_within(inner: &Dom, outer: &Dom) -> bool {
    match (inner, outer) {
        (Dom::Num { lo: il, hi: ih }, Dom::Num { lo: ol, hi: oh }) => {
            let lo_ok = match (il, ol) {
                (_, None) => true,
                (None, Some(_)) => false,
                (Some((i, ii)), Some((o, oi))) => i > o || (i == o && (*oi || !*ii)),
            };
            let hi_ok = match (ih, oh) {
                (_, None) => true,
                (None, Some(_)) => false,
                (Some((i, ii)), Some((o, oi))) => i < o || (i == o && (*oi || !*ii)),
            };
            lo_ok && hi_ok
        }
        (Dom::In(i), Dom::In(o)) => i.is_subset(o),
        (Dom::In(i), Dom::NotIn(n)) => i.is_disjoint(n),
        (Dom::NotIn(i), Dom::NotIn(o)) => o.is_subset(i),
        _ => false,
    }
}

impl Region {
    /// Whether no case lies in the region.
    pub(crate) fn is_empty(&self) -> bool {
        self.never
    }

    /// Whether every case in `self` is also in `outer`.
    pub(crate) fn within(&self, outer: &Region) -> bool {
        if self.never {
            return true;
        }
        if outer.never {
            return false;
        }
        outer.fields.iter().all(|(k, od)| self.fields.get(k).is_some_and(|id| dom_within(id, od)))
    }

    /// Whether some case lies in both regions (fields read as independent).
    pub(crate) fn meets(&self, other: &Region) -> bool {
        if self.never || other.never {
            return false;
        }
        self.fields.iter().all(|(k, d)| other.fields.get(k).is_none_or(|o| intersect(d, o).is_some()))
    }

    /// The region of both.
    pub(crate) fn and(&self, other: &Region) -> Region {
        let mut out = self.clone();
        out.never |= other.never;
        for (k, d) in &other.fields {
            let merged = match out.fields.remove(k) {
                Some(old) => intersect(&old, d),
                None => Some(d.clone()),
            };
            match merged {
                Some(m) => {
                    out.fields.insert(k.clone(), m);
                }
                None => out.never = true,
            }
        }
        out
    }

    /// The highest value a numeric field can take here, if bounded (ends included).
    pub(crate) fn upper(&self, key: &str) -> Option<f64> {
        match self.fields.get(key)? {
            Dom::Num { hi: Some((h, incl)), .. } => Some(if *incl { *h } else { h.next_down() }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::compile;
    use crate::facts::catalogue;

    fn rd(src: &str) -> Reading {
        let cat = catalogue();
        read(&compile(src, &cat, &Type::Bool).unwrap(), &cat)
    }

    #[test]
    fn containment_table() {
        // (inner, outer, inner within outer)
        let table = [
            ("case.max_dpd >= 40", "case.max_dpd >= 31", true),
            ("case.max_dpd >= 31", "case.max_dpd > 30", true),
            ("case.max_dpd >= 30", "case.max_dpd > 30", false),
            (r#"case.bucket == "M2""#, r#"case.bucket in ["M2", "M3"]"#, true),
            (r#"case.bucket in ["M2", "M4"]"#, r#"case.bucket in ["M2", "M3"]"#, false),
            (r#"borrower.kind == "company" && case.max_dpd > 90"#, r#"borrower.kind == "company""#, true),
            (r#"borrower.kind == "company""#, r#"borrower.kind == "company" && case.max_dpd > 90"#, false),
            ("case.max_dpd > 10", "true", true),
            (r#"case.bucket == "M1""#, r#"case.bucket != "M2""#, true),
        ];
        for (inner, outer, want) in table {
            let (i, o) = (rd(inner), rd(outer));
            assert!(o.exact, "{outer}");
            assert_eq!(i.over.within(&o.over), want, "{inner} within {outer}");
        }
    }

    /// Soundness against evaluation: over random conjunctions and random cases, whatever
    /// the reading claims (contained, empty, disjoint) holds for every case evaluated.
    #[test]
    fn claims_hold_on_evaluated_cases() {
        use crate::facts::sample;
        let mut seed = 7u64;
        let mut next = move |n: u64| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        let ops = ["<", "<=", ">", ">=", "==", "!="];
        let buckets = ["M1", "M2", "M3"];
        let atom = |next: &mut dyn FnMut(u64) -> u64| -> String {
            match next(4) {
                0 => format!("case.max_dpd {} {}", ops[next(6) as usize], next(3) * 10),
                1 => format!("case.total_overdue {} {}.5", ops[next(4) as usize], next(2) * 100),
                2 => format!(
                    "case.bucket {} \"{}\"",
                    ["==", "!="][next(2) as usize],
                    buckets[next(3) as usize]
                ),
                _ => format!(
                    "case.bucket in [\"{}\", \"{}\"]",
                    buckets[next(3) as usize],
                    buckets[next(3) as usize]
                ),
            }
        };
        let cond = |next: &mut dyn FnMut(u64) -> u64| -> String {
            let parts: Vec<String> = (0..1 + next(3)).map(|_| atom(next)).collect();
            let c = parts.join(" && ");
            if next(5) == 0 { format!("({c}) || case.loans > 3") } else { c }
        };
        let cat = catalogue();
        let on = chrono::NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
        let cases: Vec<_> = (0..300)
            .map(|i| {
                // Half the cases sit exactly on the literals' boundaries, where mistakes hide.
                let dpd = if next(2) == 0 { next(3) * 10 } else { next(40) };
                let mut f = sample(&format!("C{i}"), on, dpd as i64);
                let fen = if next(2) == 0 { next(2) * 10_000 + 50 } else { next(30_000) };
                f.case.total_overdue = arrears_core::Amount::from_minor(fen as i64);
                f.case.bucket = buckets[next(3) as usize].into();
                f.bindings(on)
            })
            .collect();
        let (mut contained, mut empty, mut disjoint) = (0, 0, 0);
        for _ in 0..1500 {
            let (a_src, b_src) = (cond(&mut next), cond(&mut next));
            let a = compile(&a_src, &cat, &Type::Bool).unwrap();
            let b = compile(&b_src, &cat, &Type::Bool).unwrap();
            let (ra, rb) = (read(&a, &cat), read(&b, &cat));
            let claim_within = ra.exact && rb.over.within(&ra.over);
            let claim_disjoint = ra.exact && rb.exact && !ra.over.meets(&rb.over);
            contained += usize::from(claim_within);
            empty += usize::from(rb.over.is_empty());
            disjoint += usize::from(claim_disjoint);
            for bind in &cases {
                let (va, vb) = (a.eval_bool(bind).unwrap(), b.eval_bool(bind).unwrap());
                assert!(!(claim_within && vb && !va), "{b_src} claimed within {a_src}");
                assert!(!(rb.over.is_empty() && vb), "{b_src} claimed empty");
                assert!(!(claim_disjoint && va && vb), "{a_src} claimed disjoint from {b_src}");
            }
        }
        assert!(contained > 5 && empty > 5 && disjoint > 5, "{contained} {empty} {disjoint}");
    }

    #[test]
    fn contradictions_and_overlaps() {
        assert!(rd("case.max_dpd > 30 && case.max_dpd < 31").over.is_empty());
        assert!(rd("false").over.is_empty());
        assert!(rd(r#"case.bucket == "M1" && case.bucket == "M2""#).over.is_empty());
        assert!(!rd("case.total_overdue > 30 && case.total_overdue < 31").over.is_empty());
        let (a, b) = (rd("case.max_dpd <= 30"), rd("case.max_dpd >= 30"));
        assert!(a.over.meets(&b.over));
        let (a, b) = (rd("case.max_dpd <= 30"), rd("case.max_dpd > 30"));
        assert!(!a.over.meets(&b.over));
        let r = rd(r#"case.max_dpd > 3 || borrower.kind == "company""#);
        assert!(!r.exact);
        assert_eq!(rd("case.max_dpd < 61").over.upper("case.max_dpd"), Some(60.0));
    }
}
