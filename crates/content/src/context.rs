//! Whether a match is meant: negation in its clause, someone else's reported words, a 《title》.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use crate::lexicon::ContextFile;
use crate::{LexiconError, ascii_bounded};

/// A set of cue words found by one automaton; ASCII cues only between word boundaries.
pub(crate) struct CueSet {
    ac: AhoCorasick,
    ascii: Vec<bool>,
}

impl CueSet {
    fn new(words: &[String]) -> Result<CueSet, LexiconError> {
        let words: Vec<&str> = words.iter().map(|w| w.trim()).filter(|w| !w.is_empty()).collect();
        let ac = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .build(&words)
            .map_err(|e| LexiconError::Build(e.to_string()))?;
        Ok(CueSet { ac, ascii: words.iter().map(|w| w.is_ascii()).collect() })
    }

    /// Cues in `text[from..to]` as absolute (start, end) byte ranges.
    fn find<'a>(
        &'a self,
        text: &'a str,
        from: usize,
        to: usize,
    ) -> impl Iterator<Item = (usize, usize)> + 'a {
        self.ac.find_iter(&text[from..to]).filter_map(move |m| {
            let (s, e) = (from + m.start(), from + m.end());
            (!self.ascii[m.pattern().as_usize()] || ascii_bounded(text, s, e)).then_some((s, e))
        })
    }

    /// The last cue in `text[from..to]`.
    fn last(&self, text: &str, from: usize, to: usize) -> Option<(usize, usize)> {
        self.find(text, from, to).last()
    }

    /// True when a cue lies in `text[from..to]`.
    fn any(&self, text: &str, from: usize, to: usize) -> bool {
        from < to && self.find(text, from, to).next().is_some()
    }

    /// True when `text[at..]`, after spaces, starts with a cue.
    fn starts(&self, text: &str, at: usize) -> bool {
        let rest = text[at..].trim_start();
        let from = text.len() - rest.len();
        let to = (from + 16).min(text.len());
        let to = (to..=text.len()).find(|&i| text.is_char_boundary(i)).unwrap_or(text.len());
        self.find(text, from, to).next().is_some_and(|(s, _)| s == from)
    }
}

/// The context words of a lexicon, compiled.
pub(crate) struct Context {
    negation: CueSet,
    consequence: CueSet,
    condition_verbs: CueSet,
    reported: CueSet,
    own_speech: CueSet,
}

/// Ends a sentence: reported speech reaches no further.
fn ends_sentence(text: &str, i: usize, c: char) -> bool {
    match c {
        '。' | '！' | '？' | '!' | '?' | ';' | '；' | '\n' | '…' => true,
        // A full stop, not a decimal point or an abbreviation inside a word.
        '.' => text[i + 1..].chars().next().is_none_or(char::is_whitespace),
        _ => false,
    }
}

/// Ends a clause: a negation governs no further.
fn ends_clause(text: &str, i: usize, c: char) -> bool {
    match c {
        '，' | '、' | '：' | ':' | '—' => true,
        // A comma, not a thousands separator.
        ',' => {
            !(text[..i].ends_with(|p: char| p.is_ascii_digit())
                && text[i + 1..].starts_with(|n: char| n.is_ascii_digit()))
        }
        _ => ends_sentence(text, i, c),
    }
}

/// Byte offset just after the last boundary before `pos`.
fn start_of(text: &str, pos: usize, boundary: fn(&str, usize, char) -> bool) -> usize {
    text[..pos].char_indices().rev().find(|&(i, c)| boundary(text, i, c)).map_or(0, |(i, c)| i + c.len_utf8())
}

impl Context {
    pub(crate) fn new(f: &ContextFile) -> Result<Context, LexiconError> {
        Ok(Context {
            negation: CueSet::new(&f.negation)?,
            consequence: CueSet::new(&f.consequence)?,
            condition_verbs: CueSet::new(&f.condition_verbs)?,
            reported: CueSet::new(&f.reported)?,
            own_speech: CueSet::new(&f.own_speech)?,
        })
    }

    /// True when the match `text[start..end]` should not count.
    pub(crate) fn suppressed(&self, text: &str, start: usize, end: usize) -> bool {
        in_title(text, start, end) || self.reported_speech(text, start) || self.negated(text, start, end)
    }

    /// Someone else's words: a reporting cue earlier in the sentence, and the writer has not
    /// started speaking again between it and the match.
    fn reported_speech(&self, text: &str, start: usize) -> bool {
        let from = start_of(text, start, ends_sentence);
        match self.reported.last(text, from, start) {
            Some((_, cue_end)) => !self.own_speech.any(text, cue_end, start),
            None => false,
        }
    }

    /// A negation that starts earlier in the clause governs the match ("不构成犯罪" negates "构成犯罪"),
    /// unless the negation is part of a condition on the debtor ("没钱就去借", "if you don't pay we
    /// will…"). An English negation inside a match counts too ("we are not the police").
    fn negated(&self, text: &str, start: usize, end: usize) -> bool {
        let from = start_of(text, start, ends_clause);
        let Some((_, cue_end)) = self
            .negation
            .find(text, from, end)
            .filter(|&(s, e)| s < start || (e <= end && text[s..e].is_ascii()))
            .last()
        else {
            return false;
        };
        if self.condition_verbs.starts(text, cue_end) {
            return false;
        }
        !(cue_end < start && self.consequence.any(text, cue_end, start))
    }
}

/// Inside 《…》: the name of a law or a document, not something said to the debtor.
fn in_title(text: &str, start: usize, end: usize) -> bool {
    let before = &text[..start];
    match (before.rfind('《'), before.rfind('》')) {
        (Some(open), close) if close.is_none_or(|c| c < open) => text[end..].contains('》'),
        _ => false,
    }
}
