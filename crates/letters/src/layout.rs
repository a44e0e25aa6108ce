//! Line breaking and page layout, in PDF points (1/72 in), origin at the bottom left.

use std::collections::HashMap;

use ttf_parser::Face;

use crate::{Fonts, Letter, LetterError};

/// A4 portrait.
pub(crate) const PAGE_W: f32 = 595.276;
pub(crate) const PAGE_H: f32 = 841.89;
/// 20 mm.
const MARGIN: f32 = 56.693;
const CONTENT_W: f32 = PAGE_W - 2.0 * MARGIN;
const TOP: f32 = PAGE_H - MARGIN;

const BODY: f32 = 11.0;
const BODY_LEADING: f32 = 1.7;
const SMALL: f32 = 9.0;
const FOOTER: f32 = 7.5;
const GRAY: f32 = 0.35;

/// One glyph: the font (index in the fallback chain), its glyph id in that font, the
/// character it stands for (for /ToUnicode) and its advance in em.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Glyph {
    pub(crate) font: usize,
    pub(crate) gid: u16,
    pub(crate) ch: char,
    pub(crate) advance: f32,
}

/// Something drawn on a page.
#[derive(Debug)]
pub(crate) enum Op {
    /// A line of text with its baseline starting at (x, y).
    Text { x: f32, y: f32, size: f32, bold: bool, gray: f32, glyphs: Vec<Glyph> },
    /// A horizontal rule.
    Rule { x1: f32, x2: f32, y: f32, width: f32, gray: f32 },
}

/// A broken line: its glyphs and its width in em.
struct Line {
    glyphs: Vec<Glyph>,
    width: f32,
}

/// Maps characters to glyphs through the fallback chain, with a cache for the letter.
struct Shaper<'a> {
    fonts: &'a Fonts,
    faces: &'a [Face<'a>],
    cache: HashMap<char, Option<(usize, u16, f32)>>,
}

impl Shaper<'_> {
    fn glyph(&mut self, ch: char, field: &str) -> Result<Glyph, LetterError> {
        let found = *self.cache.entry(ch).or_insert_with(|| {
            self.faces.iter().enumerate().find_map(|(i, face)| {
                let gid = face.glyph_index(ch).filter(|g| g.0 != 0)?;
                let advance = face.glyph_hor_advance(gid).unwrap_or(0);
                Some((i, gid.0, f32::from(advance) / self.fonts.files[i].units_per_em))
            })
        });
        match found {
            Some((font, gid, advance)) => Ok(Glyph { font, gid, ch, advance }),
            None => Err(LetterError::MissingGlyph {
                ch,
                code: u32::from(ch),
                field: field.to_owned(),
                fonts: self.fonts.labels().join(", "),
            }),
        }
    }

    /// Breaks `text` into lines no wider than `width` points at `size`; the first line is
    /// indented by `indent` points. '\n' forces a break; an empty text gives one empty line.
    fn wrap(
        &mut self,
        text: &str,
        size: f32,
        width: f32,
        indent: f32,
        field: &str,
    ) -> Result<Vec<Line>, LetterError> {
        let avail = width / size;
        let mut lines = Vec::new();
        let mut first_indent = indent / size;
        for hard in text.split('\n') {
            let mut glyphs = Vec::with_capacity(hard.len());
            for ch in hard.chars() {
                let ch = if ch == '\t' { ' ' } else { ch };
                if ignorable(ch) {
                    continue;
                }
                glyphs.push(self.glyph(ch, field)?);
            }
            let mut line = Line { glyphs: Vec::new(), width: first_indent };
            first_indent = 0.0;
            let mut start = 0;
            while start < glyphs.len() {
                let mut end = start + 1;
                while end < glyphs.len() && !break_between(glyphs[end - 1].ch, glyphs[end].ch) {
                    end += 1;
                }
                let piece = &glyphs[start..end];
                start = end;
                let piece_w: f32 = piece.iter().map(|g| g.advance).sum();
                let trailing: f32 = piece.iter().rev().take_while(|g| g.ch == ' ').map(|g| g.advance).sum();
                if line.glyphs.is_empty() && piece.iter().all(|g| g.ch == ' ') {
                    continue; // no leading spaces on a line
                }
                if line.width + piece_w - trailing <= avail {
                    line.glyphs.extend_from_slice(piece);
                    line.width += piece_w;
                    continue;
                }
                if !line.glyphs.is_empty() {
                    lines.push(finish(line));
                    line = Line { glyphs: Vec::new(), width: 0.0 };
                    if piece_w - trailing <= avail {
                        line.glyphs.extend_from_slice(piece);
                        line.width = piece_w;
                        continue;
                    }
                }
                // A piece wider than a whole line (a long number or address): break anywhere.
                for g in piece {
                    if !line.glyphs.is_empty() && line.width + g.advance > avail && g.ch != ' ' {
                        lines.push(finish(line));
                        line = Line { glyphs: Vec::new(), width: 0.0 };
                    }
                    line.glyphs.push(*g);
                    line.width += g.advance;
                }
            }
            lines.push(finish(line));
        }
        // Callers place the first line at the indent: its width is that of the text alone.
        if let Some(first) = lines.first_mut() {
            first.width -= indent / size;
        }
        Ok(lines)
    }
}

/// Drops the trailing spaces of a line.
fn finish(mut line: Line) -> Line {
    while line.glyphs.last().is_some_and(|g| g.ch == ' ') {
        if let Some(g) = line.glyphs.pop() {
            line.width -= g.advance;
        }
    }
    line
}

/// Invisible format characters that fonts need not have: dropped, not drawn.
fn ignorable(ch: char) -> bool {
    matches!(ch, '\r' | '\u{200B}'..='\u{200F}' | '\u{2060}'..='\u{2064}' | '\u{FE00}'..='\u{FE0F}'
        | '\u{FEFF}' | '\u{E0100}'..='\u{E01EF}')
}

fn is_cjk(ch: char) -> bool {
    matches!(ch, '\u{2E80}'..='\u{9FFF}' | '\u{AC00}'..='\u{D7AF}' | '\u{F900}'..='\u{FAFF}'
        | '\u{FE30}'..='\u{FE4F}' | '\u{FF00}'..='\u{FFEF}' | '\u{20000}'..='\u{3FFFF}')
}

/// Punctuation that must not start a line.
fn is_closing(ch: char) -> bool {
    "，。、；：！？）」』》〉】〕〗”’…—·％,.;:!?)]}%".contains(ch)
}

/// Punctuation that must not end a line.
fn is_opening(ch: char) -> bool {
    "（「『《〈【〔〖“‘([{".contains(ch)
}

/// Whether a line may break between `a` and `b`: after a space, or next to a CJK character,
/// but never before closing or after opening punctuation.
fn break_between(a: char, b: char) -> bool {
    if b == ' ' || is_closing(b) || is_opening(a) {
        return false;
    }
    a == ' ' || is_cjk(a) || is_cjk(b)
}

/// Lays out pages: text and rules in order, then the footer on each page.
struct Pager<'a> {
    shaper: Shaper<'a>,
    pages: Vec<Vec<Op>>,
    /// The top of the next line box.
    y: f32,
    /// The lowest a line box may reach on a page (above the footer).
    bottom: f32,
    /// Drawn at the top of continuation pages.
    continued: Option<Line>,
}

impl Pager<'_> {
    fn page(&mut self) -> &mut Vec<Op> {
        if self.pages.is_empty() {
            self.pages.push(Vec::new());
        }
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = TOP;
        if let Some(line) = &self.continued {
            let x = PAGE_W - MARGIN - line.width * SMALL;
            let glyphs = line.glyphs.clone();
            self.page().push(Op::Text { x, y: TOP - SMALL, size: SMALL, bold: false, gray: GRAY, glyphs });
            self.y = TOP - SMALL * 2.5;
        }
    }

    /// Starts a new page unless `height` points still fit on this one.
    fn need(&mut self, height: f32) {
        if self.y - height < self.bottom && self.y < TOP - SMALL * 3.0 {
            self.new_page();
        }
    }

    /// Places one line box of `size` × `leading` with the line aligned in [x, x + width].
    fn line(&mut self, line: Line, st: Style, x: f32, width: f32, align: Align) {
        let h = st.size * st.leading;
        self.need(h);
        let baseline = self.y - st.size * (0.5 * (st.leading - 1.0) + 0.88);
        let w = line.width * st.size;
        let x = match align {
            Align::Left => x,
            Align::Right => x + width - w,
            Align::Center => x + (width - w) / 2.0,
        };
        if !line.glyphs.is_empty() {
            let Style { size, bold, gray, .. } = st;
            self.page().push(Op::Text { x, y: baseline, size, bold, gray, glyphs: line.glyphs });
        }
        self.y -= h;
    }

    /// Wraps and places a text in [x, x + width].
    fn text(
        &mut self,
        text: &str,
        field: &str,
        st: Style,
        x: f32,
        width: f32,
        align: Align,
    ) -> Result<(), LetterError> {
        for line in self.shaper.wrap(text, st.size, width, 0.0, field)? {
            self.line(line, st, x, width, align);
        }
        Ok(())
    }

    fn rule(&mut self, width: f32, gray: f32) {
        let y = self.y;
        self.page().push(Op::Rule { x1: MARGIN, x2: PAGE_W - MARGIN, y, width, gray });
    }
}

/// How a text is set.
#[derive(Clone, Copy)]
struct Style {
    size: f32,
    leading: f32,
    bold: bool,
    gray: f32,
}

const fn style(size: f32, leading: f32, bold: bool, gray: f32) -> Style {
    Style { size, leading, bold, gray }
}

const BODY_STYLE: Style = style(BODY, BODY_LEADING, false, 0.0);
const SMALL_STYLE: Style = style(SMALL, 1.45, false, GRAY);

#[derive(Clone, Copy)]
enum Align {
    Left,
    Right,
    Center,
}

pub(crate) fn lay_out(
    letter: &Letter,
    fonts: &Fonts,
    faces: &[Face<'_>],
) -> Result<Vec<Vec<Op>>, LetterError> {
    let mut shaper = Shaper { fonts, faces, cache: HashMap::new() };

    // The footer's own lines decide how low the body may go.
    let footer_lines = shaper.wrap(&letter.footer, FOOTER, CONTENT_W, 0.0, "footer")?;
    let footer_lead = FOOTER * 1.4;
    let page_number_y = MARGIN * 0.5;
    let footer_top = page_number_y + footer_lead * footer_lines.len() as f32 + FOOTER;
    let bottom = (footer_top + 8.0).max(MARGIN);

    let reference = format!("编号 / Ref: {}", letter.reference);
    let continued = shaper.wrap(&reference, SMALL, CONTENT_W, 0.0, "reference")?.into_iter().next();
    let mut p = Pager { shaper, pages: vec![Vec::new()], y: TOP, bottom, continued };

    // Letterhead on the left; under it, reference and date on the right over the full width
    // (a reference such as a message id is too long for a column beside the letterhead).
    for (i, line) in letter.letterhead.iter().enumerate() {
        let field = format!("letterhead line {}", i + 1);
        if i == 0 {
            p.text(line, &field, style(15.0, 1.4, true, 0.0), MARGIN, CONTENT_W, Align::Left)?;
        } else {
            p.text(line, &field, SMALL_STYLE, MARGIN, CONTENT_W, Align::Left)?;
        }
    }
    p.y -= 4.0;
    let date = format!("日期 / Date: {}", letter.date);
    p.text(&reference, "reference", SMALL_STYLE, MARGIN, CONTENT_W, Align::Right)?;
    p.text(&date, "date", SMALL_STYLE, MARGIN, CONTENT_W, Align::Right)?;
    p.y -= 4.0;
    p.rule(0.8, 0.0);
    p.y -= 18.0;

    for (i, line) in letter.recipient.iter().enumerate() {
        let field = format!("recipient line {}", i + 1);
        p.text(line, &field, style(BODY, 1.5, false, 0.0), MARGIN, CONTENT_W, Align::Left)?;
    }
    p.y -= 16.0;

    p.need(60.0);
    p.text(&letter.title, "title", style(17.0, 1.5, true, 0.0), MARGIN, CONTENT_W, Align::Center)?;
    p.y -= 10.0;

    for (i, para) in letter.paragraphs.iter().enumerate() {
        let field = format!("paragraph {}", i + 1);
        // Chinese paragraphs start indented by two characters, English ones do not.
        let indent = if para.chars().next().is_some_and(is_cjk) { 2.0 * BODY } else { 0.0 };
        let lines = p.shaper.wrap(para, BODY, CONTENT_W, indent, &field)?;
        for (j, line) in lines.into_iter().enumerate() {
            let x = if j == 0 { MARGIN + indent } else { MARGIN };
            p.line(line, BODY_STYLE, x, CONTENT_W, Align::Left);
        }
        p.y -= 6.0;
    }

    if !letter.amounts.is_empty() {
        p.y -= 6.0;
        let label_w = CONTENT_W * 0.6;
        let amount_x = MARGIN + label_w + 12.0;
        let amount_w = PAGE_W - MARGIN - amount_x - 6.0;
        let mut rows = Vec::with_capacity(letter.amounts.len());
        for (i, (label, amount)) in letter.amounts.iter().enumerate() {
            let field = format!("amounts row {}", i + 1);
            let labels = p.shaper.wrap(label, BODY, label_w - 6.0, 0.0, &field)?;
            let amounts = p.shaper.wrap(amount, BODY, amount_w, 0.0, &field)?;
            rows.push((labels, amounts));
        }
        let lead = BODY * 1.5;
        let first_h = rows.first().map_or(0.0, |(l, a)| l.len().max(a.len()) as f32 * lead + 8.0);
        p.need(first_h + 2.0);
        p.rule(0.8, 0.0);
        let last = rows.len() - 1;
        for (i, (labels, amounts)) in rows.into_iter().enumerate() {
            let n = labels.len().max(amounts.len());
            let h = n as f32 * lead + 8.0;
            p.need(h);
            let top = p.y - 4.0;
            p.y = top;
            for line in labels {
                p.line(line, style(BODY, 1.5, false, 0.0), MARGIN + 6.0, label_w, Align::Left);
            }
            p.y = top;
            for line in amounts {
                p.line(line, style(BODY, 1.5, false, 0.0), amount_x, amount_w, Align::Right);
            }
            p.y = top - n as f32 * lead - 4.0;
            if i == last {
                p.rule(0.8, 0.0);
            } else {
                p.rule(0.3, 0.5);
            }
        }
        p.y -= 6.0;
    }

    if !letter.closing.is_empty() {
        p.y -= 18.0;
        let x = MARGIN + CONTENT_W * 0.55;
        let w = CONTENT_W * 0.45;
        let mut all = Vec::new();
        for (i, line) in letter.closing.iter().enumerate() {
            let field = format!("closing line {}", i + 1);
            all.extend(p.shaper.wrap(line, BODY, w, 0.0, &field)?);
        }
        // Keep the signature block together when it fits on one page.
        let h = all.len() as f32 * BODY * 1.6;
        if h < TOP - p.bottom - 40.0 {
            p.need(h);
        }
        for line in all {
            p.line(line, style(BODY, 1.6, false, 0.0), x, w, Align::Left);
        }
    }

    // The footer on every page: the letter's footer text, then the page number.
    let mut pages = p.pages;
    let total = pages.len();
    for (n, ops) in pages.iter_mut().enumerate() {
        let mut y = page_number_y + footer_lead * footer_lines.len() as f32;
        ops.push(Op::Rule { x1: MARGIN, x2: PAGE_W - MARGIN, y: y + FOOTER + 2.0, width: 0.3, gray: 0.6 });
        for line in &footer_lines {
            let x = MARGIN + (CONTENT_W - line.width * FOOTER) / 2.0;
            ops.push(Op::Text { x, y, size: FOOTER, bold: false, gray: GRAY, glyphs: line.glyphs.clone() });
            y -= footer_lead;
        }
        let number = format!("第 {}/{total} 页 · Page {} of {total}", n + 1, n + 1);
        for line in p.shaper.wrap(&number, FOOTER, CONTENT_W, 0.0, "page number")? {
            let x = MARGIN + (CONTENT_W - line.width * FOOTER) / 2.0;
            ops.push(Op::Text {
                x,
                y: page_number_y,
                size: FOOTER,
                bold: false,
                gray: GRAY,
                glyphs: line.glyphs,
            });
        }
    }
    Ok(pages)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breaks_follow_cjk_and_latin_rules() {
        assert!(break_between('中', '文'));
        assert!(!break_between('中', '。'), "no break before closing punctuation");
        assert!(!break_between('（', '中'), "no break after opening punctuation");
        assert!(!break_between('a', 'b'), "inside a Latin word");
        assert!(break_between(' ', 'b'));
        assert!(!break_between('a', ' '));
        assert!(break_between('元', '1'));
        assert!(break_between('\u{20BB7}', '家'));
    }
}
