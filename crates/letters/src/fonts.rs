//! Font files: loading, the default fonts of this machine, and the fallback chain.

use std::fmt;
use std::path::{Path, PathBuf};

use ttf_parser::{Face, Tag, name_id};

use crate::LetterError;

/// The Debian paths of the default fonts, in fallback order, as installed by
/// scripts/install-fonts.sh: Noto Sans CJK SC (face 2 of the collection; Chinese, Latin and
/// punctuation, and some Extension B such as 𠮷), then HanaMinA (the rest of the BMP) and
/// HanaMinB (CJK Extension B and beyond).
const SYSTEM_FONTS: [(&str, u32, &str); 3] = [
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2, "fonts-noto-cjk"),
    ("/usr/share/fonts/truetype/hanazono/HanaMinA.ttf", 0, "fonts-hanazono"),
    ("/usr/share/fonts/truetype/hanazono/HanaMinB.ttf", 0, "fonts-hanazono"),
];

/// The environment variable that replaces the default fonts: paths separated by ':'.
pub(crate) const FONTS_ENV: &str = "ARREARS_LETTER_FONTS";

pub(crate) const CFF: Tag = Tag::from_bytes(b"CFF ");
const GLYF: Tag = Tag::from_bytes(b"glyf");

/// Parsed font faces for letters: the primary font first, then the fallbacks in order.
pub struct Fonts {
    pub(crate) files: Vec<FontFile>,
}

/// One face of a font file, with the facts the PDF needs about it.
pub(crate) struct FontFile {
    /// The whole file (a collection keeps all its faces; the subsetter picks `index`).
    pub(crate) data: Vec<u8>,
    /// The face within a collection, 0 for a single font.
    pub(crate) index: u32,
    /// "path" or "path#index", for messages.
    pub(crate) label: String,
    /// The PostScript name, reduced to characters allowed in a PDF name.
    pub(crate) ps_name: String,
    /// Whether the outlines are CFF (else TrueType `glyf`).
    pub(crate) is_cff: bool,
    /// Font units per em.
    pub(crate) units_per_em: f32,
}

impl fmt::Debug for Fonts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.files.iter().map(|file| &file.label)).finish()
    }
}

impl Fonts {
    /// Loads font files (TTF/OTF/TTC; for a .ttc the face index may be given as "path#index").
    pub fn load(paths: &[PathBuf]) -> Result<Fonts, LetterError> {
        if paths.is_empty() {
            return Err(LetterError::NoFonts);
        }
        let files = paths.iter().map(|p| load_one(p)).collect::<Result<Vec<_>, _>>()?;
        Ok(Fonts { files })
    }

    /// Finds the project's default fonts on this machine (the Debian packages installed by scripts/install-fonts.sh), or an error naming the script to run; env ARREARS_LETTER_FONTS (paths separated by ':') overrides.
    pub fn system() -> Result<Fonts, LetterError> {
        if let Some(list) = std::env::var_os(FONTS_ENV).filter(|v| !v.is_empty()) {
            let paths: Vec<PathBuf> =
                std::env::split_paths(&list).filter(|p| !p.as_os_str().is_empty()).collect();
            return Fonts::load(&paths);
        }
        let missing: Vec<String> = SYSTEM_FONTS
            .iter()
            .filter(|(path, _, _)| !Path::new(path).is_file())
            .map(|(path, _, package)| format!("{path} from {package}"))
            .collect();
        if !missing.is_empty() {
            return Err(LetterError::SystemFontsMissing { missing: missing.join(", ") });
        }
        let paths: Vec<PathBuf> = SYSTEM_FONTS
            .iter()
            .map(
                |(path, index, _)| {
                    if *index == 0 { PathBuf::from(path) } else { PathBuf::from(format!("{path}#{index}")) }
                },
            )
            .collect();
        Fonts::load(&paths)
    }

    /// The fonts in fallback order, as "path" or "path#index".
    pub fn labels(&self) -> Vec<String> {
        self.files.iter().map(|f| f.label.clone()).collect()
    }

    /// Parses every face again (cheap: a table directory) for one rendering.
    pub(crate) fn parse_all(&self) -> Result<Vec<Face<'_>>, LetterError> {
        self.files
            .iter()
            .map(|f| {
                Face::parse(&f.data, f.index).map_err(|e| LetterError::BadFont {
                    path: PathBuf::from(&f.label),
                    index: f.index,
                    reason: e.to_string(),
                })
            })
            .collect()
    }
}

/// Splits "path#index" into the path and the face index; a '#' that belongs to an existing
/// file name is kept.
fn split_spec(spec: &Path) -> Result<(PathBuf, u32), LetterError> {
    let Some(s) = spec.to_str() else { return Ok((spec.to_path_buf(), 0)) };
    match s.rsplit_once('#') {
        Some((path, index)) if !spec.exists() => match index.parse::<u32>() {
            Ok(i) => Ok((PathBuf::from(path), i)),
            Err(_) => Err(LetterError::BadFaceIndex { spec: s.to_owned() }),
        },
        _ => Ok((spec.to_path_buf(), 0)),
    }
}

fn load_one(spec: &Path) -> Result<FontFile, LetterError> {
    let (path, index) = split_spec(spec)?;
    let data = std::fs::read(&path).map_err(|source| LetterError::ReadFont { path: path.clone(), source })?;
    let bad = |reason: String| LetterError::BadFont { path: path.clone(), index, reason };
    let face = Face::parse(&data, index).map_err(|e| {
        let faces = ttf_parser::fonts_in_collection(&data);
        match faces {
            Some(n) if index >= n => bad(format!("the collection has {n} faces (0 to {})", n - 1)),
            _ => bad(format!("not a TrueType/OpenType font ({e})")),
        }
    })?;
    let raw = face.raw_face();
    let is_cff = raw.table(CFF).is_some();
    if !is_cff && raw.table(GLYF).is_none() {
        return Err(bad("it has neither TrueType (glyf) nor CFF outlines (CFF2 and bitmap \
                        fonts cannot be embedded)"
            .into()));
    }
    if face.tables().cmap.is_none() {
        return Err(bad("it has no character map (cmap)".into()));
    }
    let units_per_em = f32::from(face.units_per_em());
    let ps_name = face
        .names()
        .into_iter()
        .filter(|n| n.name_id == name_id::POST_SCRIPT_NAME)
        .find_map(|n| n.to_string())
        .map(|n| n.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').take(100).collect())
        .filter(|n: &String| !n.is_empty())
        .unwrap_or_else(|| "Font".to_owned());
    let label = if index == 0 { path.display().to_string() } else { format!("{}#{index}", path.display()) };
    Ok(FontFile { data, index, label, ps_name, is_cff, units_per_em })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn face_index_after_hash() {
        let (p, i) = split_spec(Path::new("/nonexistent/x.ttc#2")).unwrap();
        assert_eq!((p, i), (PathBuf::from("/nonexistent/x.ttc"), 2));
        let (p, i) = split_spec(Path::new("/nonexistent/x.ttf")).unwrap();
        assert_eq!((p, i), (PathBuf::from("/nonexistent/x.ttf"), 0));
        let e = split_spec(Path::new("/nonexistent/x.ttc#two")).unwrap_err();
        assert!(e.to_string().contains("face index"), "{e}");
    }

    #[test]
    fn errors_name_the_file() {
        let e = Fonts::load(&[PathBuf::from("/nonexistent/font.ttf")]).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/font.ttf"), "{e}");
        assert!(matches!(Fonts::load(&[]), Err(LetterError::NoFonts)));
        let dir = std::env::temp_dir().join(format!("letters-notafont-{}", std::process::id()));
        std::fs::write(&dir, b"not a font at all").unwrap();
        let e = Fonts::load(std::slice::from_ref(&dir)).unwrap_err();
        let _ = std::fs::remove_file(&dir);
        assert!(matches!(e, LetterError::BadFont { .. }), "{e}");
    }
}
