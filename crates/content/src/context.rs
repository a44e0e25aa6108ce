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

    /// The end of the cue that `text[at..]` starts with, after spaces.
    fn starts(&self, text: &str, at: usize) -> Option<usize> {
        let rest = text[at..].trim_start();
        let from = text.len() - rest.len();
        let to = (from + 48).min(text.len());
        let to = (to..=text.len()).find(|&i| text.is_char_boundary(i)).unwrap_or(text.len());
        self.find(text, from, to).next().filter(|&(s, _)| s == from).map(|(_, e)| e)
    }
}

/// The context words of a lexicon, compiled.
pub(crate) struct Context {
    negation: CueSet,
    consequence: CueSet,
    condition_verbs: CueSet,
    reported: CueSet,
    reported_subjects: CueSet,
    own_speech: CueSet,
    hedges: CueSet,
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

/// Ends a clause: a negation governs no further. The enumeration comma 、 does not: it lists items
/// under one verb ("不会向您的家人、朋友或单位透露").
fn ends_clause(text: &str, i: usize, c: char) -> bool {
    match c {
        '，' | '：' | ':' | '—' => true,
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
            reported_subjects: CueSet::new(&f.reported_subjects)?,
            own_speech: CueSet::new(&f.own_speech)?,
            hedges: CueSet::new(&f.hedges)?,
        })
    }

    /// True when the match `text[start..end]` should not count.
    pub(crate) fn suppressed(
        &self,
        text: &str,
        start: usize,
        end: usize,
        pattern: bool,
        hedgeable: bool,
    ) -> bool {
        in_title(text, start, end)
            || self.reported_speech(text, start)
            || self.negated(text, start, end, pattern)
            || (hedgeable && self.hedges.any(text, start_of(text, start, ends_sentence), start))
    }

    /// Someone else's words: a reporting cue earlier in the sentence, and the writer has not
    /// started speaking again between it and the match.
    fn reported_speech(&self, text: &str, start: usize) -> bool {
        let from = start_of(text, start, ends_sentence);
        let subject =
            self.reported_subjects.starts(text, from).filter(|&e| e <= start && !addresses(&text[e..]));
        match self.reported.last(text, from, start).map(|(_, e)| e).or(subject) {
            Some(cue_end) => !self.own_speech.any(text, cue_end, start),
            None => false,
        }
    }

    /// A negation that starts earlier in the clause governs the match ("不构成犯罪" negates "构成犯罪"),
    /// unless the negation is part of a condition on the debtor ("没钱就去借", "if you don't pay we
    /// will…"). An English negation inside a pattern's match counts too ("we are not the police"); one
    /// inside a term is part of the term ("a visit you won't forget").
    fn negated(&self, text: &str, start: usize, end: usize, pattern: bool) -> bool {
        let from = start_of(text, start, ends_clause);
        let Some((_, cue_end)) = self
            .negation
            .find(text, from, end)
            .filter(|&(s, e)| s < start || (pattern && e <= end && text[s..e].is_ascii()))
            .last()
        else {
            return false;
        };
        if self.condition_verbs.starts(text, cue_end).is_some() {
            return false;
        }
        !(cue_end < start && self.consequence.any(text, cue_end, start))
    }
}

/// True when `rest` opens with an address to the reader ("您好", "你", ", "): the subject word was a
/// salutation ("客户您好"), not the subject of a report.
fn addresses(rest: &str) -> bool {
    let rest = rest.trim_start();
    rest.is_empty() || ["您", "你", ",", "，", ":", "：", "!", "！"].iter().any(|p| rest.starts_with(p))
}

/// Inside 《…》: the name of a law or a document, not something said to the debtor.
fn in_title(text: &str, start: usize, end: usize) -> bool {
    let before = &text[..start];
    match (before.rfind('《'), before.rfind('》')) {
        (Some(open), close) if close.is_none_or(|c| c < open) => text[end..].contains('》'),
        _ => false,
    }
}
