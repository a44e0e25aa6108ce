//! Writes laid-out pages as a PDF with subset Type0 fonts (Identity-H) and /ToUnicode maps.
//!
//! Follows what typst's PDF exporter did with pdf-writer and subsetter before it moved to
//! krilla: the subsetter renumbers the used glyphs from 0 and makes every font CID-keyed with
//! CID = new glyph id, so the content streams show 2-byte CIDs.

use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, TextRenderingMode, UnicodeCmap};
use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};
use sha2::{Digest, Sha256};
use subsetter::GlyphRemapper;
use ttf_parser::Face;

use crate::fonts::{CFF, FontFile};
use crate::layout::{Op, PAGE_H, PAGE_W};
use crate::{Fonts, Letter, LetterError};

const SYSTEM_INFO: SystemInfo =
    SystemInfo { registry: Str(b"Adobe"), ordering: Str(b"Identity"), supplement: 0 };

/// The glyphs of one font that the letter uses.
struct Used {
    remapper: GlyphRemapper,
    /// The character each new glyph id (CID) stands for, by CID.
    chars: Vec<Option<char>>,
    /// The PDF resource name, "F0", "F1", … in order of first use.
    name: String,
}

pub(crate) fn write(
    letter: &Letter,
    fonts: &Fonts,
    faces: &[Face<'_>],
    pages: &[Vec<Op>],
) -> Result<Vec<u8>, LetterError> {
    // First pass: renumber glyphs per font (in order of use, so the output is deterministic)
    // and write the content streams.
    let mut used: Vec<Option<Used>> = fonts.files.iter().map(|_| None).collect();
    let mut order: Vec<usize> = Vec::new();
    let mut contents = Vec::with_capacity(pages.len());
    for ops in pages {
        let mut content = Content::new();
        for op in ops {
            match op {
                Op::Rule { x1, x2, y, width, gray } => {
                    content.set_stroke_gray(*gray);
                    content.set_line_width(*width);
                    content.move_to(*x1, *y);
                    content.line_to(*x2, *y);
                    content.stroke();
                }
                Op::Text { x, y, size, bold, gray, glyphs } => {
                    content.set_fill_gray(*gray);
                    if *bold {
                        // Bold by stroking the outlines too: works with any font of the chain.
                        content.set_stroke_gray(*gray);
                        content.set_line_width(size * 0.035);
                        content.set_text_rendering_mode(TextRenderingMode::FillStroke);
                    } else {
                        content.set_text_rendering_mode(TextRenderingMode::Fill);
                    }
                    content.begin_text();
                    let mut pen = *x;
                    let mut i = 0;
                    while i < glyphs.len() {
                        let font = glyphs[i].font;
                        let u = used[font].get_or_insert_with(|| {
                            order.push(font);
                            Used {
                                remapper: GlyphRemapper::new(),
                                chars: vec![None],
                                name: format!("F{}", order.len() - 1),
                            }
                        });
                        let start_pen = pen;
                        let mut bytes = Vec::new();
                        while i < glyphs.len() && glyphs[i].font == font {
                            let g = glyphs[i];
                            let cid = u.remapper.remap(g.gid);
                            let slot = usize::from(cid);
                            if u.chars.len() <= slot {
                                u.chars.resize(slot + 1, None);
                            }
                            u.chars[slot].get_or_insert(g.ch);
                            bytes.extend_from_slice(&cid.to_be_bytes());
                            pen += g.advance * size;
                            i += 1;
                        }
                        content.set_font(Name(u.name.as_bytes()), *size);
                        content.set_text_matrix([1.0, 0.0, 0.0, 1.0, start_pen, *y]);
                        content.show(Str(&bytes));
                    }
                    content.end_text();
                }
            }
        }
        contents.push(deflate(&content.finish()));
    }

    // Object numbers: catalog, page tree, info, then per page (page, content), then per font
    // (type0, cid font, descriptor, cmap, font file).
    let catalog_id = Ref::new(1);
    let tree_id = Ref::new(2);
    let info_id = Ref::new(3);
    let mut next = 4;
    let mut alloc = || {
        let r = Ref::new(next);
        next += 1;
        r
    };
    let page_ids: Vec<(Ref, Ref)> = pages.iter().map(|_| (alloc(), alloc())).collect();
    let font_ids: Vec<[Ref; 5]> =
        order.iter().map(|_| [alloc(), alloc(), alloc(), alloc(), alloc()]).collect();

    let mut pdf = Pdf::new();
    pdf.catalog(catalog_id).pages(tree_id);
    pdf.pages(tree_id).kids(page_ids.iter().map(|(p, _)| *p)).count(page_ids.len() as i32);
    pdf.document_info(info_id)
        .title(TextStr(&letter.title))
        .producer(TextStr(concat!("arrears-letters ", env!("CARGO_PKG_VERSION"))));

    for ((page_id, content_id), data) in page_ids.iter().zip(&contents) {
        let mut page = pdf.page(*page_id);
        page.media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H));
        page.parent(tree_id);
        page.contents(*content_id);
        let mut resources = page.resources();
        let mut font_dict = resources.fonts();
        for (k, &font) in order.iter().enumerate() {
            if let Some(u) = &used[font] {
                font_dict.pair(Name(u.name.as_bytes()), font_ids[k][0]);
            }
        }
        font_dict.finish();
        resources.finish();
        page.finish();
        pdf.stream(*content_id, data).filter(Filter::FlateDecode);
    }

    for (k, &font) in order.iter().enumerate() {
        let (Some(u), Some(file), Some(face)) = (&used[font], fonts.files.get(font), faces.get(font)) else {
            continue;
        };
        write_font(&mut pdf, font_ids[k], u, file, face)?;
    }
    Ok(pdf.finish())
}

fn write_font(
    pdf: &mut Pdf,
    [type0_id, cid_id, descriptor_id, cmap_id, data_id]: [Ref; 5],
    used: &Used,
    file: &FontFile,
    face: &Face<'_>,
) -> Result<(), LetterError> {
    // A subset tag from the font and its glyphs: the same letter gives the same name.
    let mut hasher = Sha256::new();
    hasher.update(file.ps_name.as_bytes());
    for gid in used.remapper.remapped_gids() {
        hasher.update(gid.to_be_bytes());
    }
    let hash = hasher.finalize();
    let tag: String = hash.iter().take(6).map(|b| char::from(b'A' + b % 26)).collect();
    let base_font = format!("{tag}+{}", file.ps_name);
    let type0_name = if file.is_cff { format!("{base_font}-Identity-H") } else { base_font.clone() };

    pdf.type0_font(type0_id)
        .base_font(Name(type0_name.as_bytes()))
        .encoding_predefined(Name(b"Identity-H"))
        .descendant_font(cid_id)
        .to_unicode(cmap_id);

    let em = 1000.0 / file.units_per_em;
    let mut cid = pdf.cid_font(cid_id);
    cid.subtype(if file.is_cff { CidFontType::Type0 } else { CidFontType::Type2 });
    cid.base_font(Name(base_font.as_bytes()));
    cid.system_info(SYSTEM_INFO);
    cid.font_descriptor(descriptor_id);
    cid.default_width(0.0);
    if !file.is_cff {
        cid.cid_to_gid_map_predefined(Name(b"Identity"));
    }
    let widths: Vec<f32> = used
        .remapper
        .remapped_gids()
        .map(|gid| f32::from(face.glyph_hor_advance(ttf_parser::GlyphId(gid)).unwrap_or(0)) * em)
        .collect();
    cid.widths().consecutive(0, widths);
    cid.finish();

    let mut cmap = UnicodeCmap::new(Name(b"Custom"), SYSTEM_INFO);
    for (cid, ch) in used.chars.iter().enumerate() {
        if let (Some(ch), Ok(cid)) = (ch, u16::try_from(cid)) {
            cmap.pair(cid, *ch);
        }
    }
    let cmap = deflate(&cmap.finish());
    pdf.cmap(cmap_id, &cmap).filter(Filter::FlateDecode);

    let subset_err = |source| LetterError::Subset { font: file.label.clone(), source };
    let subset = subsetter::subset(&file.data, file.index, &used.remapper).map_err(subset_err)?;
    // For CFF outlines the PDF wants the bare CFF program (FontFile3, CIDFontType0C).
    let program = if file.is_cff {
        let raw = ttf_parser::RawFace::parse(&subset, 0)
            .map_err(|_| subset_err(subsetter::Error::MalformedFont))?;
        deflate(raw.table(CFF).ok_or_else(|| subset_err(subsetter::Error::MalformedFont))?)
    } else {
        deflate(&subset)
    };
    let mut stream = pdf.stream(data_id, &program);
    stream.filter(Filter::FlateDecode);
    if file.is_cff {
        stream.pair(Name(b"Subtype"), Name(b"CIDFontType0C"));
    }
    stream.finish();

    let bbox = face.global_bounding_box();
    let flags = {
        let mut f = FontFlags::SYMBOLIC;
        f.set(FontFlags::SERIF, file.ps_name.contains("Serif") || file.ps_name.contains("Min"));
        f.set(FontFlags::FIXED_PITCH, face.is_monospaced());
        f
    };
    let mut descriptor = pdf.font_descriptor(descriptor_id);
    descriptor
        .name(Name(base_font.as_bytes()))
        .flags(flags)
        .bbox(Rect::new(
            f32::from(bbox.x_min) * em,
            f32::from(bbox.y_min) * em,
            f32::from(bbox.x_max) * em,
            f32::from(bbox.y_max) * em,
        ))
        .italic_angle(face.italic_angle())
        .ascent(f32::from(face.ascender()) * em)
        .descent(f32::from(face.descender()) * em)
        .cap_height(f32::from(face.capital_height().unwrap_or(face.ascender())) * em)
        .stem_v(10.0 + 0.244 * (f32::from(face.weight().to_number()) - 50.0));
    if file.is_cff {
        descriptor.font_file3(data_id);
    } else {
        descriptor.font_file2(data_id);
    }
    descriptor.finish();
    Ok(())
}

/// zlib (FlateDecode) at a middle level: fonts and text compress well and quickly.
fn deflate(data: &[u8]) -> Vec<u8> {
    miniz_oxide::deflate::compress_to_vec_zlib(data, 6)
}
