//! Content rules for collection messages, templates and call notes, in Chinese and English.
//!
//! A [`Scanner`] compiles a lexicon (TOML: rules with terms and patterns, plus the context words
//! that negate or report them) into one Aho-Corasick automaton over every term and one regex per
//! pattern (each with its own literal prefilter: a `RegexSet` over them all was eight times slower,
//! its DFA thrashing on the many bounded Unicode classes). Chinese terms count only where jieba's segmentation puts word boundaries,
//! English terms only between ASCII word boundaries, so "打你" does not fire inside "打你电话"
//! unless the lexicon says so, and "arrest" does not fire inside "arrested" unless listed. A match
//! is dropped when a negation governs it in its clause ("我们不会向第三方透露…", "we will never
//! contact your employer") or when it lies in someone else's reported words ("客户说…",
//! "customer said …") or inside a 《title》.
//!
//! Pure: no I/O, no clock. The lexicon is a string; [`DEFAULT_LEXICON`] is embedded.
#![forbid(unsafe_code)]

mod context;
pub mod eval;
mod lexicon;
mod render;

use std::collections::HashSet;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use arrears_core::config::line_of;
use jieba_rs::Jieba;
use regex::Regex;
use serde::Serialize;

use context::Context;
pub use render::render;

/// The shipped lexicon (config/content/lexicon.toml), embedded at build time.
pub const DEFAULT_LEXICON: &str = include_str!("../../../config/content/lexicon.toml");

/// The shipped labelled evaluation set (config/content/eval.tsv), embedded at build time.
pub const DEFAULT_EVAL_SET: &str = include_str!("../../../config/content/eval.tsv");

/// What kind of unlawful or abusive collection content a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Threats of violence against the debtor or property.
    ViolenceThreat,
    /// False claims of arrest, criminal liability or seizure.
    FalseArrestClaim,
    /// Posing as police, a court, a prosecutor or a lawyer.
    Impersonation,
    /// Insults and profanity.
    Insult,
    /// Telling third parties about the debt, or threatening to (爆通讯录).
    ThirdPartyDisclosure,
    /// Public shaming: posters, social media, group chats.
    PublicShaming,
    /// False or exaggerated legal or credit consequences.
    FalseLegalConsequence,
    /// Pushing the debtor to borrow elsewhere or sell assets to pay.
    BorrowToRepay,
    /// Invented fees, or payment to a personal account.
    InventedFeeOrPersonalAccount,
    /// Misuse of private data (contacts, location, photos, records).
    PrivateDataMisuse,
    /// Threats aimed at the debtor's family or children.
    FamilyThreat,
    /// Misleading reasons to call back (prizes, parcels, emergencies).
    MisleadingCallback,
}

impl Category {
    /// Every category, in report order.
    pub const ALL: [Category; 12] = [
        Category::ViolenceThreat,
        Category::FalseArrestClaim,
        Category::Impersonation,
        Category::Insult,
        Category::ThirdPartyDisclosure,
        Category::PublicShaming,
        Category::FalseLegalConsequence,
        Category::BorrowToRepay,
        Category::InventedFeeOrPersonalAccount,
        Category::PrivateDataMisuse,
        Category::FamilyThreat,
        Category::MisleadingCallback,
    ];

    /// The stable snake_case code used in JSON, the lexicon and the evaluation set.
    pub fn code(self) -> &'static str {
        match self {
            Category::ViolenceThreat => "violence_threat",
            Category::FalseArrestClaim => "false_arrest_claim",
            Category::Impersonation => "impersonation",
            Category::Insult => "insult",
            Category::ThirdPartyDisclosure => "third_party_disclosure",
            Category::PublicShaming => "public_shaming",
            Category::FalseLegalConsequence => "false_legal_consequence",
            Category::BorrowToRepay => "borrow_to_repay",
            Category::InventedFeeOrPersonalAccount => "invented_fee_or_personal_account",
            Category::PrivateDataMisuse => "private_data_misuse",
            Category::FamilyThreat => "family_threat",
            Category::MisleadingCallback => "misleading_callback",
        }
    }

    /// The category with this code.
    pub fn from_code(code: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.code() == code)
    }

    /// Name shown to a Chinese-speaking user.
    pub fn name_zh(self) -> &'static str {
        match self {
            Category::ViolenceThreat => "暴力威胁",
            Category::FalseArrestClaim => "虚假抓捕/刑责/查封",
            Category::Impersonation => "冒充公检法或律师",
            Category::Insult => "侮辱谩骂",
            Category::ThirdPartyDisclosure => "向第三方透露债务",
            Category::PublicShaming => "公开羞辱",
            Category::FalseLegalConsequence => "虚假或夸大的法律/征信后果",
            Category::BorrowToRepay => "诱导借贷或变卖资产还款",
            Category::InventedFeeOrPersonalAccount => "虚构费用或个人账户收款",
            Category::PrivateDataMisuse => "滥用个人信息",
            Category::FamilyThreat => "威胁家人子女",
            Category::MisleadingCallback => "误导性回电",
        }
    }
}

/// How serious a rule is: a warning goes to compliance review, a block refuses the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Stored, queued for review.
    Warn,
    /// Refused outright, not queued for review.
    Block,
}

/// The outcome of a scan: the worst severity found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Nothing found.
    Ok,
    /// Something for compliance to review.
    Warn,
    /// Must not be sent, used or saved.
    Block,
}

impl Verdict {
    /// The JSON word for the verdict.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Warn => "warn",
            Verdict::Block => "block",
        }
    }
}

/// One rule that fired, with where: `start..end` in characters (Unicode scalar values).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// What kind of violation.
    pub category: Category,
    /// First character of the match.
    pub start: usize,
    /// One past the last character of the match.
    pub end: usize,
    /// Id of the rule in the lexicon.
    pub rule: String,
}

/// The result of scanning one text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Scan {
    /// ok, warn or block.
    pub verdict: Verdict,
    /// What fired, ordered by start.
    pub findings: Vec<Finding>,
}

/// A rule of the lexicon as the scanner keeps it.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Stable id, e.g. `violence.bodily_harm`.
    pub id: String,
    /// Category of its findings.
    pub category: Category,
    /// warn or block.
    pub severity: Severity,
    /// What the rule forbids, in Chinese.
    pub description_zh: String,
    /// What the rule forbids, in English.
    pub description_en: String,
    /// A hedge in the sentence ("may", "依法", "if a judgment is entered") makes the match a truthful
    /// statement of lawful process rather than a false claim.
    pub lawful_when_hedged: bool,
}

/// Why a lexicon could not be loaded; every variant names the line to fix.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LexiconError {
    /// Not valid TOML, or a field missing or misspelt.
    #[error("line {line}: {message}")]
    Syntax {
        /// 1-based line.
        line: usize,
        /// The parser's message.
        message: String,
    },
    /// A category code that is not one of the twelve.
    #[error("line {line}: unknown category {code:?} (expected one of: {})", category_codes())]
    UnknownCategory {
        /// 1-based line.
        line: usize,
        /// The code as written.
        code: String,
    },
    /// A severity other than warn or block.
    #[error("line {line}: unknown severity {word:?} (expected \"warn\" or \"block\")")]
    UnknownSeverity {
        /// 1-based line.
        line: usize,
        /// The word as written.
        word: String,
    },
    /// A pattern that is not a valid regular expression.
    #[error("line {line}: rule {rule}: pattern is not a valid regular expression: {message}")]
    BadPattern {
        /// 1-based line.
        line: usize,
        /// Rule id.
        rule: String,
        /// The regex crate's message.
        message: String,
    },
    /// Two rules with one id.
    #[error("line {line}: rule id {id:?} is used twice")]
    DuplicateRule {
        /// 1-based line of the second use.
        line: usize,
        /// The id.
        id: String,
    },
    /// A rule with no terms and no patterns, or an empty term.
    #[error("line {line}: rule {id}: {what}")]
    EmptyRule {
        /// 1-based line.
        line: usize,
        /// Rule id.
        id: String,
        /// What is empty.
        what: &'static str,
    },
    /// The automaton could not be built (too many or too long terms).
    #[error("the term automaton cannot be built: {0}")]
    Build(String),
}

fn category_codes() -> String {
    Category::ALL.map(Category::code).join(", ")
}

/// Which rule a term of the automaton belongs to, and how its boundaries are checked.
#[derive(Debug, Clone, Copy)]
struct TermOwner {
    rule: u32,
    /// Contains CJK: boundaries come from jieba; otherwise from ASCII word characters.
    cjk: bool,
}

/// Which texts a pattern is tried on: a text without Chinese characters cannot match a Chinese
/// pattern, so skipping it halves the regex work on one-language texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Script {
    Any,
    Chinese,
    Latin,
}

/// A match before its context has been checked, in bytes.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    rule: u32,
    start: usize,
    end: usize,
    cjk: bool,
    pattern: bool,
}

/// The compiled lexicon. Build once (jieba's dictionary takes a moment), scan many.
pub struct Scanner {
    rules: Vec<Rule>,
    terms: AhoCorasick,
    owners: Vec<TermOwner>,
    patterns: Vec<(u32, Script, Regex)>,
    context: Context,
    jieba: Jieba,
}

impl std::fmt::Debug for Scanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scanner")
            .field("rules", &self.rules.len())
            .field("terms", &self.owners.len())
            .field("patterns", &self.patterns.len())
            .finish()
    }
}

impl Default for Scanner {
    /// The scanner over [`DEFAULT_LEXICON`].
    fn default() -> Self {
        // The embedded lexicon is part of the build and is loaded by the crate's tests.
        Scanner::from_toml(DEFAULT_LEXICON).expect("the embedded lexicon is valid")
    }
}

/// True for characters of the CJK scripts that jieba segments.
fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F)
}

/// True when `text[start..end]` is not glued to ASCII letters or digits on either side.
pub(crate) fn ascii_bounded(text: &str, start: usize, end: usize) -> bool {
    let b = text.as_bytes();
    let word = |x: u8| x.is_ascii_alphanumeric() || x == b'_';
    let first_word = b.get(start).is_some_and(|&x| word(x));
    let last_word = end > 0 && b.get(end - 1).is_some_and(|&x| word(x));
    let glued_before = first_word && start > 0 && word(b[start - 1]);
    let glued_after = last_word && end < b.len() && word(b[end]);
    !glued_before && !glued_after
}

impl Scanner {
    /// Compiles a lexicon written in TOML (see config/content/lexicon.toml).
    pub fn from_toml(src: &str) -> Result<Scanner, LexiconError> {
        let file = lexicon::parse(src)?;
        let context = Context::new(&file.context)?;
        let mut rules = Vec::with_capacity(file.rules.len());
        let mut ids = HashSet::new();
        let mut term_texts: Vec<String> = Vec::new();
        let mut owners = Vec::new();
        let mut patterns = Vec::new();
        let mut jieba = Jieba::new();
        for (i, r) in file.rules.iter().enumerate() {
            let rule_no = u32::try_from(i).map_err(|_| LexiconError::Build("too many rules".into()))?;
            let id = r.id.get_ref().trim().to_string();
            let id_line = line_of(src, r.id.span().start);
            if id.is_empty() {
                return Err(LexiconError::EmptyRule { line: id_line, id, what: "the id is empty" });
            }
            if !ids.insert(id.clone()) {
                return Err(LexiconError::DuplicateRule { line: id_line, id });
            }
            if r.terms_zh.is_empty()
                && r.terms_en.is_empty()
                && r.patterns.is_empty()
                && r.patterns_zh.is_empty()
                && r.patterns_en.is_empty()
            {
                return Err(LexiconError::EmptyRule {
                    line: id_line,
                    id,
                    what: "it has no terms_zh, terms_en, patterns, patterns_zh or patterns_en",
                });
            }
            for t in r.terms_zh.iter().chain(&r.terms_en) {
                let term = t.get_ref().trim();
                if term.is_empty() {
                    return Err(LexiconError::EmptyRule {
                        line: line_of(src, t.span().start),
                        id,
                        what: "a term is empty",
                    });
                }
                let cjk = term.chars().any(is_cjk);
                if cjk && term.chars().count() > 1 {
                    // Teach jieba the term so that it keeps it whole instead of gluing its edges to
                    // neighbours; word boundaries then fall at the term's own edges.
                    jieba.add_word(term, None, None);
                }
                term_texts.push(term.to_string());
                owners.push(TermOwner { rule: rule_no, cjk });
            }
            let scripted = (r.patterns.iter().map(|p| (Script::Any, p)))
                .chain(r.patterns_zh.iter().map(|p| (Script::Chinese, p)))
                .chain(r.patterns_en.iter().map(|p| (Script::Latin, p)));
            for (script, p) in scripted {
                let re = Regex::new(p.get_ref()).map_err(|e| LexiconError::BadPattern {
                    line: line_of(src, p.span().start),
                    rule: id.clone(),
                    message: e.to_string().lines().last().unwrap_or_default().trim().to_string(),
                })?;
                patterns.push((rule_no, script, re));
            }
            rules.push(Rule {
                id,
                category: lexicon::category(src, &r.category)?,
                severity: lexicon::severity(src, &r.severity)?,
                description_zh: r.description_zh.clone(),
                description_en: r.description_en.clone(),
                lawful_when_hedged: r.lawful_when_hedged,
            });
        }
        let terms = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(&term_texts)
            .map_err(|e| LexiconError::Build(e.to_string()))?;
        Ok(Scanner { rules, terms, owners, patterns, context, jieba })
    }

    /// The rules of the lexicon, in file order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The rule with this id.
    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }

    /// Scans one text: a message, a template or a call note.
    pub fn scan(&self, text: &str) -> Scan {
        let mut cands: Vec<Candidate> = Vec::new();
        for m in self.terms.find_overlapping_iter(text) {
            let owner = self.owners[m.pattern().as_usize()];
            if !owner.cjk && !ascii_bounded(text, m.start(), m.end()) {
                continue;
            }
            cands.push(Candidate {
                rule: owner.rule,
                start: m.start(),
                end: m.end(),
                cjk: owner.cjk,
                pattern: false,
            });
        }
        let chinese = text.chars().any(is_cjk);
        let latin = text.bytes().any(|b| b.is_ascii_alphabetic());
        for (rule, script, re) in &self.patterns {
            if (*script == Script::Chinese && !chinese) || (*script == Script::Latin && !latin) {
                continue;
            }
            for m in re.find_iter(text) {
                if m.is_empty() {
                    continue;
                }
                cands.push(Candidate {
                    rule: *rule,
                    start: m.start(),
                    end: m.end(),
                    cjk: false,
                    pattern: true,
                });
            }
        }
        if cands.is_empty() {
            return Scan { verdict: Verdict::Ok, findings: Vec::new() };
        }
        if cands.iter().any(|c| c.cjk) {
            let bounds = self.word_bounds(text);
            cands.retain(|c| {
                !c.cjk || (bounds.binary_search(&c.start).is_ok() && bounds.binary_search(&c.end).is_ok())
            });
        }
        cands.retain(|c| {
            !self.context.suppressed(
                text,
                c.start,
                c.end,
                c.pattern,
                self.rules[c.rule as usize].lawful_when_hedged,
            )
        });
        self.findings(text, cands)
    }

    /// Byte offsets where jieba puts word boundaries (including 0 and the end).
    fn word_bounds(&self, text: &str) -> Vec<usize> {
        let mut bounds = Vec::with_capacity(text.len() / 2 + 2);
        let mut at = 0;
        bounds.push(0);
        // Without HMM: unknown runs stay split by the dictionary, which keeps boundaries predictable.
        for w in self.jieba.cut(text, false) {
            at += w.len();
            bounds.push(at);
        }
        bounds
    }

    /// Candidates → findings in characters: one per category and overlapping stretch, worst first.
    fn findings(&self, text: &str, mut cands: Vec<Candidate>) -> Scan {
        cands.sort_by(|a, b| {
            a.start
                .cmp(&b.start)
                .then(b.end.cmp(&a.end))
                .then(self.rules[b.rule as usize].severity.cmp(&self.rules[a.rule as usize].severity))
        });
        let mut kept: Vec<Candidate> = Vec::with_capacity(cands.len());
        for c in cands {
            let cat = self.rules[c.rule as usize].category;
            let sev = self.rules[c.rule as usize].severity;
            let overlap = kept
                .iter_mut()
                .find(|k| self.rules[k.rule as usize].category == cat && k.start < c.end && c.start < k.end);
            match overlap {
                Some(k) => {
                    // Keep the worst severity; the span grows to cover both matches.
                    if sev > self.rules[k.rule as usize].severity {
                        k.rule = c.rule;
                    }
                    k.end = k.end.max(c.end);
                }
                None => kept.push(c),
            }
        }
        let mut verdict = Verdict::Ok;
        let mut findings = Vec::with_capacity(kept.len());
        // Byte → char offsets in one forward walk over the sorted starts.
        let mut chars = CharIndex::new(text);
        for c in kept {
            let rule = &self.rules[c.rule as usize];
            verdict = verdict.max(match rule.severity {
                Severity::Warn => Verdict::Warn,
                Severity::Block => Verdict::Block,
            });
            findings.push(Finding {
                category: rule.category,
                start: chars.at(c.start),
                end: chars.at(c.end),
                rule: rule.id.clone(),
            });
        }
        Scan { verdict, findings }
    }
}

/// Counts characters up to byte offsets; cheap for offsets that mostly increase.
struct CharIndex<'a> {
    text: &'a str,
    byte: usize,
    chars: usize,
}

impl<'a> CharIndex<'a> {
    fn new(text: &'a str) -> Self {
        CharIndex { text, byte: 0, chars: 0 }
    }

    fn at(&mut self, byte: usize) -> usize {
        if byte < self.byte {
            self.byte = 0;
            self.chars = 0;
        }
        self.chars += self.text[self.byte..byte].chars().count();
        self.byte = byte;
        self.chars
    }
}

#[cfg(test)]
mod tests;
