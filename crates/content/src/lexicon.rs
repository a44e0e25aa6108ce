//! The lexicon file: rules (terms and patterns) and the context words that negate or report them.

use arrears_core::config::{line_of, toml_error_at};
use serde::Deserialize;
use toml::Spanned;

use crate::{Category, LexiconError, Severity};

/// The lexicon as written in TOML, before it is compiled into a [`crate::Scanner`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LexiconFile {
    pub context: ContextFile,
    #[serde(default, rename = "rule")]
    pub rules: Vec<RuleFile>,
}

/// Words that change what a match means: negation, conditions, reported speech.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ContextFile {
    /// Cues that negate what follows in the same clause ("不会", "never").
    pub negation: Vec<String>,
    /// Words between a negation and a match that show the negation belongs to a condition
    /// ("如果不还，就…", "don't pay and we will…").
    pub consequence: Vec<String>,
    /// Verbs that, right after a negation, make it a condition on the debtor ("don't pay").
    pub condition_verbs: Vec<String>,
    /// Cues that start someone else's words, up to the end of the sentence ("客户说", "customer said").
    pub reported: Vec<String>,
    /// Words that, opening a sentence of a note, make it an account of what the debtor did or said
    /// ("客户准备…", "Customer plans…"); not when an address follows ("客户您好，…").
    #[serde(default)]
    pub reported_subjects: Vec<String>,
    /// Cues that end reported speech inside a sentence: the writer speaks again ("我告诉他", "I told").
    pub own_speech: Vec<String>,
    /// Words that make a statement about enforcement a statement of lawful process ("依法", "may").
    #[serde(default)]
    pub hedges: Vec<String>,
}

/// One rule as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RuleFile {
    pub id: Spanned<String>,
    pub category: Spanned<String>,
    pub severity: Spanned<String>,
    pub description_zh: String,
    pub description_en: String,
    #[serde(default)]
    pub terms_zh: Vec<Spanned<String>>,
    #[serde(default)]
    pub terms_en: Vec<Spanned<String>>,
    /// Patterns tried on every text.
    #[serde(default)]
    pub patterns: Vec<Spanned<String>>,
    /// Patterns tried only on texts with Chinese characters.
    #[serde(default)]
    pub patterns_zh: Vec<Spanned<String>>,
    /// Patterns tried only on texts with ASCII letters.
    #[serde(default)]
    pub patterns_en: Vec<Spanned<String>>,
    #[serde(default)]
    pub lawful_when_hedged: bool,
}

/// Parses the TOML text; every error names the line it is on.
pub(crate) fn parse(src: &str) -> Result<LexiconFile, LexiconError> {
    toml::from_str::<LexiconFile>(src).map_err(|e| LexiconError::Syntax {
        line: toml_error_at(src, &e).map_or(0, |(line, _)| line),
        message: e.message().to_string(),
    })
}

/// Category code → category, or an error at the line of the code.
pub(crate) fn category(src: &str, s: &Spanned<String>) -> Result<Category, LexiconError> {
    Category::from_code(s.get_ref()).ok_or_else(|| LexiconError::UnknownCategory {
        line: line_of(src, s.span().start),
        code: s.get_ref().clone(),
    })
}

/// Severity word → severity, or an error at its line.
pub(crate) fn severity(src: &str, s: &Spanned<String>) -> Result<Severity, LexiconError> {
    match s.get_ref().as_str() {
        "warn" => Ok(Severity::Warn),
        "block" => Ok(Severity::Block),
        other => {
            Err(LexiconError::UnknownSeverity { line: line_of(src, s.span().start), word: other.to_string() })
        }
    }
}
