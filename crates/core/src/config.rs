//! Positions in configuration files (policy packs, lexicons, strategies): every problem in
//! one names the line, and where it helps the column, a person can go to with an editor.

/// 1-based line and column of byte `offset` in `text`; the column counts characters, as
/// editors do. No offset panics: one past the end counts as the end, one inside a
/// character as the character after it.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text.as_bytes()[..offset.min(text.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    // Characters are the bytes that do not continue a UTF-8 sequence.
    let column = before[line_start..].iter().filter(|&&b| b & 0xC0 != 0x80).count() + 1;
    (line, column)
}

/// 1-based line of byte `offset` in `text` (see [`line_col`]).
pub fn line_of(text: &str, offset: usize) -> usize {
    line_col(text, offset).0
}

/// 1-based line and column where a TOML error starts in `text`, when the parser knows
/// (errors raised by a type's own deserialisation may carry no position).
pub fn toml_error_at(text: &str, error: &toml::de::Error) -> Option<(usize, usize)> {
    error.span().map(|span| line_col(text, span.start))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_columns_are_one_based() {
        let text = "a = 1\nb = \"é\" x\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 4), (1, 5));
        assert_eq!(line_col(text, 5), (1, 6));
        assert_eq!(line_col(text, 6), (2, 1));
        // After "é" (two bytes): one character further.
        let x = text.find('x').unwrap();
        assert_eq!(line_col(text, x), (2, 9));
        assert_eq!(line_of(text, x), 2);
    }

    #[test]
    fn odd_offsets_do_not_panic() {
        let text = "é\nz";
        // Inside the two bytes of "é": the character after it.
        assert_eq!(line_col(text, 1), (1, 2));
        assert_eq!(line_col(text, 1000), (2, 2));
        assert_eq!(line_col("", 3), (1, 1));
    }

    #[test]
    fn toml_errors_name_their_position() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct File {
            n: u32,
        }
        let text = "# a comment\nn = \"seven\"\n";
        let e = toml::from_str::<File>(text).unwrap_err();
        assert_eq!(toml_error_at(text, &e), Some((2, 5)));
    }
}
