//! The expression language of arrears: CEL (the Common Expression Language), checked
//! against a typed catalogue of fields before it is ever run.
//!
//! One place for strategies' segment conditions, the task priority expression and,
//! later, alert rules: [`compile`] parses and type-checks a source text against a
//! [`Catalogue`], [`Bindings`] holds one record's values, and [`Expr::eval`] runs it.
//! Parsing and evaluation are the `cel` crate's; the checker is ours, because the
//! crate has none and a supervisor must hear about `case.maxdpd` when the file is
//! checked, not when the batch runs.
//!
//! Supported: literals (int, double, string, bool, null, lists), field selection on
//! the catalogue's roots, `has(root.field)`, `! && || ?:`, comparisons, `+ - * / %`,
//! `in`, `size`, `startsWith`, `endsWith`, `contains`, `int()`, `double()`, `string()`.
//! Not supported (reported as errors): maps, messages, indexing, the comprehension
//! macros (`all`, `exists`, `map`, `filter`) and any other function.
//!
//! CEL does not mix int and double in arithmetic (`1 + 2.0` is an error at run time),
//! so the checker rejects it too and says to write `2.0` or `double(x)`; comparisons
//! may mix them (`case.total_overdue > 5000`).

use std::collections::BTreeMap;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, LazyLock};

use cel::common::ast::{Expr as Node, LiteralValue};
use cel::common::types::{CelBool, CelDouble, CelInt, CelMap, CelMapKey, CelNull, CelString};
use cel::common::value::Val as CelVal;
use cel::{IdedExpr, Program, Value};

/// The type of a value in an expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Type {
    /// 64-bit signed integer.
    Int,
    /// 64-bit float.
    Double,
    /// UTF-8 text.
    String,
    /// `true` or `false`.
    Bool,
    /// The `null` literal.
    Null,
    /// A list of values of one type.
    List(Box<Type>),
    /// Not known before evaluation (a list literal's empty element type).
    Dyn,
}

impl Type {
    fn is_numeric(&self) -> bool {
        matches!(self, Type::Int | Type::Double | Type::Dyn)
    }

    /// The CEL name of the type, as shown in messages.
    pub fn name(&self) -> String {
        match self {
            Type::Int => "int".into(),
            Type::Double => "double".into(),
            Type::String => "string".into(),
            Type::Bool => "bool".into(),
            Type::Null => "null".into(),
            Type::List(t) => format!("list({})", t.name()),
            Type::Dyn => "dyn".into(),
        }
    }
}

/// One field the caller promises to bind for every record.
#[derive(Debug, Clone)]
pub struct Field {
    /// Name below its root (`max_dpd` of `case.max_dpd`).
    pub name: &'static str,
    /// Its type when present.
    pub ty: Type,
    /// Whether it may be `null` (absent score, no contact yet…).
    pub nullable: bool,
    /// The only values a string field takes; empty when any text may appear.
    pub values: &'static [&'static str],
    /// What it means, for `strategy fields` listings and error hints.
    pub doc: &'static str,
}

/// The fields an expression may read, grouped under roots (`case`, `loan`, …).
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    roots: BTreeMap<&'static str, Vec<Field>>,
}

impl Catalogue {
    /// An empty catalogue.
    pub fn new() -> Catalogue {
        Catalogue::default()
    }

    /// Adds a root with its fields.
    pub fn with_root(mut self, root: &'static str, fields: Vec<Field>) -> Catalogue {
        self.roots.insert(root, fields);
        self
    }

    /// The field `root.name`, if declared.
    pub fn field(&self, root: &str, name: &str) -> Option<&Field> {
        self.roots.get(root)?.iter().find(|f| f.name == name)
    }

    /// Every root and its fields, roots in name order.
    pub fn roots(&self) -> impl Iterator<Item = (&'static str, &[Field])> {
        self.roots.iter().map(|(r, f)| (*r, f.as_slice()))
    }

    fn has_root(&self, root: &str) -> bool {
        self.roots.contains_key(root)
    }
}

/// A problem in an expression, at a byte offset of its source text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExprError {
    /// Byte offset into the expression's source where the problem starts.
    pub offset: usize,
    /// What is wrong, for the person who wrote the expression.
    pub message: String,
}

impl fmt::Display for ExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at {}: {}", self.offset, self.message)
    }
}

/// A failure while evaluating a checked expression: a `null` field in a comparison,
/// an overflow, a division by zero.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EvalError(pub String);

/// A value bound to a field or produced by an expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    /// 64-bit signed integer (days, counts).
    Int(i64),
    /// Float (scores, amounts shown in major units).
    Double(f64),
    /// UTF-8 text (codes, names).
    Str(String),
    /// Truth value.
    Bool(bool),
    /// A field with no value for the case (no promise, no score yet), or `null`.
    Null,
}

impl From<Option<Val>> for Val {
    fn from(v: Option<Val>) -> Val {
        v.unwrap_or(Val::Null)
    }
}

impl Val {
    fn into_val(self) -> Box<dyn CelVal> {
        match self {
            Val::Int(i) => Box::new(CelInt::from(i)),
            Val::Double(d) => Box::new(CelDouble::from(d)),
            Val::Str(s) => Box::new(CelString::from(s)),
            Val::Bool(b) => Box::new(CelBool::from(b)),
            Val::Null => Box::new(CelNull),
        }
    }
}

/// The standard environment, built once: building it registers every standard
/// function, which is too slow to repeat for each of 100,000 cases.
static ENV: LazyLock<Arc<cel::Env>> = LazyLock::new(|| Arc::new(cel::Env::stdlib()));

/// One record's values, ready for any number of expressions to read.
pub struct Bindings {
    ctx: cel::Context<'static, 'static>,
}

impl Default for Bindings {
    fn default() -> Bindings {
        Bindings::new()
    }
}

impl Bindings {
    /// No values yet.
    pub fn new() -> Bindings {
        Bindings { ctx: cel::Context::with_env(ENV.clone()) }
    }

    /// Binds `root` to a record of `fields`.
    pub fn set_root(&mut self, root: &str, fields: Vec<(&'static str, Val)>) {
        // Built straight into the interpreter's own map with borrowed static keys: going
        // through `Value` would build and convert two more maps per record (most of the
        // decision's cost on a book of 100,000 cases).
        let map: std::collections::HashMap<CelMapKey<'static>, Box<dyn CelVal>> =
            fields.into_iter().map(|(k, v)| (CelMapKey::String(CelString::from(k)), v.into_val())).collect();
        self.ctx.add_variable_as_val(root.to_string(), Box::new(CelMap::from(map)));
    }
}

/// A checked expression, ready to run against [`Bindings`].
#[derive(Debug)]
pub struct Expr {
    source: String,
    program: Program,
    ty: Type,
}

impl Expr {
    /// The source text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The type the checker inferred for the whole expression.
    pub fn ty(&self) -> &Type {
        &self.ty
    }

    /// Evaluates against one record.
    pub fn eval(&self, b: &Bindings) -> Result<Val, EvalError> {
        let v = self.program.execute(&b.ctx).map_err(|e| EvalError(e.to_string()))?;
        match v {
            Value::Int(i) => Ok(Val::Int(i)),
            Value::UInt(u) => {
                i64::try_from(u).map(Val::Int).map_err(|_| EvalError(format!("{u} is too large")))
            }
            Value::Float(d) => Ok(Val::Double(d)),
            Value::String(s) => Ok(Val::Str(s.to_string())),
            Value::Bool(b) => Ok(Val::Bool(b)),
            Value::Null => Ok(Val::Null),
            other => Err(EvalError(format!("unexpected result {other:?}"))),
        }
    }

    /// Evaluates a condition: anything but a boolean is an error.
    pub fn eval_bool(&self, b: &Bindings) -> Result<bool, EvalError> {
        match self.eval(b)? {
            Val::Bool(v) => Ok(v),
            other => Err(EvalError(format!("the condition gave {other:?}, not true or false"))),
        }
    }

    /// Evaluates a number (an int is widened to a double).
    pub fn eval_number(&self, b: &Bindings) -> Result<f64, EvalError> {
        match self.eval(b)? {
            Val::Int(i) => Ok(i as f64),
            Val::Double(d) => Ok(d),
            other => Err(EvalError(format!("the expression gave {other:?}, not a number"))),
        }
    }

    /// The parsed tree, for static analysis of conditions.
    pub(crate) fn ast(&self) -> &IdedExpr {
        self.program.expression()
    }
}

/// Parses and type-checks `source` against `catalogue`; `want` is the type the
/// caller needs (`Type::Bool` for a condition, `Type::Double` accepts any number).
/// Returns every problem found, each at its byte offset in `source`.
pub fn compile(source: &str, catalogue: &Catalogue, want: &Type) -> Result<Expr, Vec<ExprError>> {
    if source.trim().is_empty() {
        return Err(vec![ExprError { offset: 0, message: "the expression is empty".into() }]);
    }
    // The parser is third-party: a panic on some odd input must become an error, not a crash.
    let parsed = catch_unwind(AssertUnwindSafe(|| Program::compile(source)));
    let program = match parsed {
        Ok(Ok(p)) => p,
        Ok(Err(errs)) => {
            return Err(errs
                .errors
                .iter()
                .map(|e| ExprError {
                    offset: line_col_to_offset(source, e.pos.0, e.pos.1),
                    message: syntax_message(&e.msg),
                })
                .collect());
        }
        Err(_) => {
            return Err(vec![ExprError { offset: 0, message: "the expression cannot be parsed".into() }]);
        }
    };
    let mut checker = Checker { cat: catalogue, program: &program, errors: Vec::new() };
    let ty = checker.ty(program.expression());
    let mut errors = checker.errors;
    if errors.is_empty() {
        let fits = match want {
            Type::Double => ty.is_numeric(),
            Type::Dyn => true,
            w => ty == *w || ty == Type::Dyn,
        };
        if !fits {
            errors.push(ExprError {
                offset: 0,
                message: format!(
                    "the expression gives a {}, but a {} is needed here",
                    ty.name(),
                    want.name()
                ),
            });
        }
    }
    if errors.is_empty() { Ok(Expr { source: source.to_string(), program, ty }) } else { Err(errors) }
}

fn syntax_message(msg: &str) -> String {
    let m = msg.strip_prefix("Syntax error: ").unwrap_or(msg);
    format!("syntax error: {m}")
}

/// Converts the parser's 1-based line and character column into a byte offset.
fn line_col_to_offset(source: &str, line: isize, col: isize) -> usize {
    if line < 1 {
        return 0;
    }
    let mut offset = 0;
    for (i, l) in source.split_inclusive('\n').enumerate() {
        if i as isize + 1 == line {
            let chars = usize::try_from(col - 1).unwrap_or(0);
            return offset + l.char_indices().nth(chars).map_or(l.len(), |(b, _)| b);
        }
        offset += l.len();
    }
    source.len()
}

struct Checker<'a> {
    cat: &'a Catalogue,
    program: &'a Program,
    errors: Vec<ExprError>,
}

impl Checker<'_> {
    fn at(&self, e: &IdedExpr) -> usize {
        self.program.source_info().offset_for(e.id).map_or(0, |(s, _)| s as usize)
    }

    fn err(&mut self, e: &IdedExpr, message: String) -> Type {
        let offset = self.at(e);
        self.errors.push(ExprError { offset, message });
        Type::Dyn
    }

    /// The catalogue field `e` names, if it is `root.field`.
    fn field_of(&self, e: &IdedExpr) -> Option<(&'static str, Field)> {
        if let Node::Select(s) = &e.expr
            && !s.test
            && let Node::Ident(root) = &s.operand.expr
        {
            let (r, fields) = self.cat.roots.get_key_value(root.as_str())?;
            return fields.iter().find(|f| f.name == s.field).map(|f| (*r, f.clone()));
        }
        None
    }

    fn ty(&mut self, e: &IdedExpr) -> Type {
        match &e.expr {
            Node::Literal(l) => match l {
                LiteralValue::Int(_) | LiteralValue::UInt(_) => Type::Int,
                LiteralValue::Double(_) => Type::Double,
                LiteralValue::String(_) => Type::String,
                LiteralValue::Boolean(_) => Type::Bool,
                LiteralValue::Null => Type::Null,
                LiteralValue::Bytes(_) => self.err(e, "bytes literals are not supported".into()),
            },
            Node::Ident(name) => {
                if self.cat.has_root(name) {
                    self.err(
                        e,
                        format!(
                            "`{name}` is a group of fields: name one of them, e.g. `{name}.{}`",
                            self.first_field(name)
                        ),
                    )
                } else {
                    let roots: Vec<&str> = self.cat.roots.keys().copied().collect();
                    self.err(e, format!("unknown name `{name}`; the fields are under {}", roots.join(", ")))
                }
            }
            Node::Select(s) => {
                if let Node::Ident(root) = &s.operand.expr
                    && self.cat.has_root(root)
                {
                    match self.cat.field(root, &s.field) {
                        Some(f) if s.test => {
                            let _ = f;
                            Type::Bool
                        }
                        Some(f) => f.ty.clone(),
                        None => {
                            let hint = self.suggest(root, &s.field);
                            self.err(&s.operand, format!("unknown field `{root}.{}`{hint}", s.field))
                        }
                    }
                } else {
                    let t = self.ty(&s.operand);
                    if t == Type::Dyn {
                        Type::Dyn
                    } else {
                        self.err(e, format!("a {} has no fields", t.name()))
                    }
                }
            }
            Node::List(l) => {
                let mut elem = Type::Dyn;
                for x in &l.elements {
                    let t = self.ty(x);
                    if elem == Type::Dyn {
                        elem = t;
                    } else if !compatible(&elem, &t) {
                        return self.err(x, format!("a list mixes {} and {}", elem.name(), t.name()));
                    }
                }
                Type::List(Box::new(elem))
            }
            Node::Map(_) | Node::Struct(_) => self.err(e, "maps and messages are not supported".into()),
            Node::Comprehension(_) => {
                self.err(e, "the macros all, exists, exists_one, map and filter are not supported".into())
            }
            Node::Unspecified => self.err(e, "incomplete expression".into()),
            Node::Call(c) => self.call(e, &c.func_name, c.target.as_deref(), &c.args),
        }
    }

    fn first_field(&self, root: &str) -> &'static str {
        self.cat.roots.get(root).and_then(|f| f.first()).map_or("id", |f| f.name)
    }

    fn suggest(&self, root: &str, name: &str) -> String {
        let best = self.cat.roots.get(root).and_then(|fields| {
            fields.iter().map(|f| (edit_distance(f.name, name), f.name)).filter(|(d, _)| *d <= 3).min()
        });
        match best {
            Some((_, n)) => format!("; did you mean `{root}.{n}`?"),
            None => {
                let all: Vec<&str> = self.cat.roots.get(root).into_iter().flatten().map(|f| f.name).collect();
                format!("; `{root}` has {}", all.join(", "))
            }
        }
    }

    /// Checks a string literal compared with an enumerated field against its values.
    fn check_value(&mut self, field: &IdedExpr, lit: &IdedExpr) {
        let Some((root, f)) = self.field_of(field) else { return };
        if f.values.is_empty() {
            return;
        }
        let mut lits: Vec<&IdedExpr> = Vec::new();
        match &lit.expr {
            Node::Literal(LiteralValue::String(_)) => lits.push(lit),
            Node::List(l) => lits.extend(l.elements.iter()),
            _ => {}
        }
        for l in lits {
            if let Node::Literal(LiteralValue::String(s)) = &l.expr {
                let s: &str = s.inner();
                if !f.values.contains(&s) {
                    self.err(
                        l,
                        format!(
                            "{s:?} is not a value of {root}.{}; it is one of {}",
                            f.name,
                            f.values.join(", ")
                        ),
                    );
                }
            }
        }
    }

    fn call(&mut self, e: &IdedExpr, name: &str, target: Option<&IdedExpr>, args: &[IdedExpr]) -> Type {
        let arity = |n: usize| args.len() == n && target.is_none();
        match name {
            "_&&_" | "_||_" if arity(2) => {
                for a in args {
                    let t = self.ty(a);
                    if !matches!(t, Type::Bool | Type::Dyn) {
                        self.err(a, format!("`&&` and `||` need true or false, this is a {}", t.name()));
                    }
                }
                Type::Bool
            }
            "!_" if arity(1) => {
                let t = self.ty(&args[0]);
                if !matches!(t, Type::Bool | Type::Dyn) {
                    self.err(&args[0], format!("`!` needs true or false, this is a {}", t.name()));
                }
                Type::Bool
            }
            "-_" if arity(1) => {
                let t = self.ty(&args[0]);
                if !t.is_numeric() {
                    return self.err(&args[0], format!("cannot negate a {}", t.name()));
                }
                t
            }
            "_==_" | "_!=_" if arity(2) => {
                let (a, b) = (self.ty(&args[0]), self.ty(&args[1]));
                if !(compatible(&a, &b) || a == Type::Null || b == Type::Null) {
                    self.err(e, format!("cannot compare a {} with a {}", a.name(), b.name()));
                }
                self.check_value(&args[0], &args[1]);
                self.check_value(&args[1], &args[0]);
                Type::Bool
            }
            "_<_" | "_<=_" | "_>_" | "_>=_" if arity(2) => {
                let (a, b) = (self.ty(&args[0]), self.ty(&args[1]));
                let ok = (a.is_numeric() && b.is_numeric())
                    || (matches!(a, Type::String | Type::Dyn) && matches!(b, Type::String | Type::Dyn));
                if !ok {
                    self.err(e, format!("cannot order a {} against a {}", a.name(), b.name()));
                }
                Type::Bool
            }
            "_+_" | "_-_" | "_*_" | "_/_" | "_%_" if arity(2) => {
                let (a, b) = (self.ty(&args[0]), self.ty(&args[1]));
                match (&a, &b) {
                    (Type::Dyn, t) | (t, Type::Dyn) => t.clone(),
                    (Type::Int, Type::Int) => Type::Int,
                    (Type::Double, Type::Double) if name != "_%_" => Type::Double,
                    (Type::String, Type::String) if name == "_+_" => Type::String,
                    (Type::Int, Type::Double) | (Type::Double, Type::Int) => self.err(
                        e,
                        "CEL does not mix int and double in arithmetic: write 30.0 rather than 30, or double(x)"
                            .into(),
                    ),
                    _ => self.err(e, format!("no arithmetic between a {} and a {}", a.name(), b.name())),
                }
            }
            "_?_:_" if arity(3) => {
                let c = self.ty(&args[0]);
                if !matches!(c, Type::Bool | Type::Dyn) {
                    self.err(&args[0], format!("the condition of `?:` is a {}, not true or false", c.name()));
                }
                let (a, b) = (self.ty(&args[1]), self.ty(&args[2]));
                if !compatible(&a, &b) {
                    return self
                        .err(e, format!("the branches of `?:` differ: {} and {}", a.name(), b.name()));
                }
                if a == Type::Dyn { b } else { a }
            }
            "@in" if arity(2) => {
                let (a, b) = (self.ty(&args[0]), self.ty(&args[1]));
                match &b {
                    Type::List(elem) if compatible(&a, elem) => {}
                    Type::Dyn => {}
                    _ => {
                        self.err(
                            e,
                            format!("`in` needs a list of {} on its right, not a {}", a.name(), b.name()),
                        );
                    }
                }
                self.check_value(&args[0], &args[1]);
                Type::Bool
            }
            "size" => {
                let subject = match (target, args) {
                    (Some(t), []) => t,
                    (None, [a]) => a,
                    _ => return self.err(e, "size takes one argument".into()),
                };
                let t = self.ty(subject);
                if !matches!(t, Type::String | Type::List(_) | Type::Dyn) {
                    self.err(subject, format!("size of a {} has no meaning", t.name()));
                }
                Type::Int
            }
            "startsWith" | "endsWith" | "contains" => {
                let (Some(t), [a]) = (target, args) else {
                    return self.err(e, format!("write it as text.{name}(\"…\")"));
                };
                for x in [t, a] {
                    let ty = self.ty(x);
                    if !matches!(ty, Type::String | Type::Dyn) {
                        self.err(x, format!("{name} works on text, this is a {}", ty.name()));
                    }
                }
                Type::Bool
            }
            "int" | "double" | "string" if arity(1) => {
                let t = self.ty(&args[0]);
                if matches!(t, Type::List(_) | Type::Null) {
                    self.err(&args[0], format!("cannot convert a {} with {name}()", t.name()));
                }
                match name {
                    "int" => Type::Int,
                    "double" => Type::Double,
                    _ => Type::String,
                }
            }
            "_[_]" => self.err(e, "indexing is not supported".into()),
            other => {
                let shown = other.trim_matches('_').replace('_', " ");
                self.err(e, format!("unknown function or wrong use of `{shown}`"))
            }
        }
    }
}

/// Whether values of the two types can meet in `==`, a list or the branches of `?:`.
fn compatible(a: &Type, b: &Type) -> bool {
    match (a, b) {
        (Type::Dyn, _) | (_, Type::Dyn) => true,
        (x, y) if x.is_numeric() && y.is_numeric() => true,
        (Type::List(x), Type::List(y)) => compatible(x, y),
        (x, y) => x == y,
    }
}

/// Levenshtein distance, for "did you mean" hints on short field names.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cat() -> Catalogue {
        let f = |name, ty, nullable, values| Field { name, ty, nullable, values, doc: "" };
        Catalogue::new()
            .with_root(
                "case",
                vec![
                    f("max_dpd", Type::Int, false, &[]),
                    f("total_overdue", Type::Double, false, &[]),
                    f("bucket", Type::String, false, &[]),
                    f("hold", Type::String, true, &["dispute", "deceased"]),
                ],
            )
            .with_root("score", vec![f("pd", Type::Double, true, &[])])
    }

    fn bindings(dpd: i64, overdue: f64, pd: Option<f64>) -> Bindings {
        let mut b = Bindings::new();
        b.set_root(
            "case",
            vec![
                ("max_dpd", Val::Int(dpd)),
                ("total_overdue", Val::Double(overdue)),
                ("bucket", Val::Str("M2".into())),
                ("hold", Val::Null),
            ],
        );
        b.set_root("score", vec![("pd", pd.map(Val::Double).into())]);
        b
    }

    #[test]
    fn conditions_evaluate_against_bindings() {
        let c = cat();
        let e = compile("case.max_dpd >= 31 && case.total_overdue > 5000", &c, &Type::Bool).unwrap();
        assert!(e.eval_bool(&bindings(31, 5000.01, None)).unwrap());
        assert!(!e.eval_bool(&bindings(30, 9000.0, None)).unwrap());
        assert!(!e.eval_bool(&bindings(31, 5000.0, None)).unwrap());
        let e = compile(r#"case.bucket in ["M2", "M3"] && !has(case.nothing)"#, &c, &Type::Bool);
        assert!(e.is_err(), "has() on an unknown field is an unknown field");
        let e = compile(r#"case.bucket in ["M2", "M3"]"#, &c, &Type::Bool).unwrap();
        assert!(e.eval_bool(&bindings(40, 1.0, None)).unwrap());
    }

    #[test]
    fn null_fields_fail_comparisons_unless_guarded() {
        let c = cat();
        let bare = compile("score.pd > 0.5", &c, &Type::Bool).unwrap();
        assert!(bare.eval_bool(&bindings(1, 1.0, None)).is_err());
        assert!(bare.eval_bool(&bindings(1, 1.0, Some(0.7))).unwrap());
        let guarded = compile("score.pd != null && score.pd > 0.5", &c, &Type::Bool).unwrap();
        assert!(!guarded.eval_bool(&bindings(1, 1.0, None)).unwrap());
    }

    #[test]
    fn priority_expression_gives_a_number() {
        let c = cat();
        let e =
            compile("case.total_overdue * (1.0 + double(case.max_dpd) / 30.0)", &c, &Type::Double).unwrap();
        assert_eq!(e.eval_number(&bindings(30, 100.0, None)).unwrap(), 200.0);
    }

    /// (source, expected message fragment, expected offset)
    #[test]
    fn errors_name_the_problem_and_where() {
        let table: &[(&str, &str, usize)] = &[
            ("case.maxdpd > 3", "unknown field `case.maxdpd`; did you mean `case.max_dpd`?", 0),
            ("case.max_dpd > 3 && loan.dpd > 1", "unknown name `loan`", 20),
            ("case.max_dpd > 'x'", "cannot order a int against a string", 13),
            ("case.max_dpd + 1.5 > 3", "does not mix int and double", 13),
            ("case.max_dpd", "gives a int, but a bool is needed", 0),
            ("case.max_dpd >", "syntax error", 14),
            (r#"case.hold == "disput""#, "\"disput\" is not a value of case.hold", 13),
            ("foo(case.max_dpd)", "unknown function", 3),
            ("[1,2].exists(x, x > 1)", "not supported", 12),
            ("case", "is a group of fields", 0),
            ("  ", "empty", 0),
        ];
        let c = cat();
        for (src, want, at) in table {
            let errs = compile(src, &c, &Type::Bool).expect_err(src);
            assert!(errs.iter().any(|e| e.message.contains(want)), "{src}: {errs:?}");
            assert_eq!(errs[0].offset, *at, "{src}: {errs:?}");
        }
    }

    #[test]
    fn every_error_is_reported() {
        let errs = compile("case.a > 1 && case.b > 2", &cat(), &Type::Bool).unwrap_err();
        assert_eq!(errs.len(), 2, "{errs:?}");
    }
}
