//! Text measured with the real font: DejaVu Sans's advance widths read by skrifa, the same
//! faces krilla embeds, so a width computed here is the width drawn.

use std::sync::LazyLock;

use krilla::text::Font;
use skrifa::instance::{LocationRef, Size};
use skrifa::{FontRef, MetadataProvider};

pub(super) struct Face {
    pub(super) font: Font,
    metrics: FontRef<'static>,
}

static REGULAR: LazyLock<Face> = LazyLock::new(|| face(dejavu::sans::regular()));
static BOLD: LazyLock<Face> = LazyLock::new(|| face(dejavu::sans::bold()));

fn face(data: &'static [u8]) -> Face {
    Face {
        font: Font::new(data.into(), 0).expect("DejaVu Sans is a valid font"),
        metrics: FontRef::new(data).expect("DejaVu Sans is a valid font"),
    }
}

pub(super) fn face_of(bold: bool) -> &'static Face {
    if bold {
        &BOLD
    } else {
        &REGULAR
    }
}

/// The width of `text` set in `size` points.
pub fn text_width(text: &str, size: f32, bold: bool) -> f32 {
    let metrics = &face_of(bold).metrics;
    let charmap = metrics.charmap();
    let glyphs = metrics.glyph_metrics(Size::new(size), LocationRef::default());
    text.chars()
        .filter_map(|c| charmap.map(c))
        .filter_map(|g| glyphs.advance_width(g))
        .sum()
}

/// The words of `text`: split at plain spaces only, so that a no-break space (« 4,5 h »)
/// keeps its number and unit together.
pub fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split([' ', '\t']).filter(|w| !w.is_empty())
}

/// The width of the widest word of `text`: what a column that wraps at spaces needs.
pub fn longest_word(text: &str, size: f32, bold: bool) -> f32 {
    words(text)
        .map(|w| text_width(w, size, bold))
        .fold(0.0, f32::max)
}

/// The widest line of `text` unwrapped (its lines are its `\n`-separated parts).
pub fn natural_width(text: &str, size: f32, bold: bool) -> f32 {
    text.split('\n')
        .map(|l| text_width(&words(l).collect::<Vec<_>>().join(" "), size, bold))
        .fold(0.0, f32::max)
}

/// Greedy line breaking at spaces; a word wider than the line is cut between characters
/// (prose only: table columns are at least as wide as their longest word).
pub fn wrap(text: &str, size: f32, bold: bool, width: f32) -> Vec<String> {
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        for word in words(paragraph) {
            let candidate = if line.is_empty() {
                word.to_owned()
            } else {
                format!("{line} {word}")
            };
            if text_width(&candidate, size, bold) <= width {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            for c in word.chars() {
                line.push(c);
                if text_width(&line, size, bold) > width && line.chars().count() > 1 {
                    let last = line.pop().expect("two characters at least");
                    lines.push(std::mem::replace(&mut line, last.to_string()));
                }
            }
        }
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_keeps_every_word_within_the_width() {
        let text = "Prévention, détection et prise en charge de l'épuisement professionnel";
        let lines = wrap(text, 10.0, false, 120.0);
        assert!(lines.len() > 1);
        assert!(lines.iter().all(|l| text_width(l, 10.0, false) <= 120.0));
        assert_eq!(lines.join(" "), text);
    }

    #[test]
    fn a_word_wider_than_the_line_is_cut() {
        let lines = wrap(&"é".repeat(200), 10.0, false, 100.0);
        assert!(lines.len() > 1);
        assert_eq!(lines.concat(), "é".repeat(200));
    }

    #[test]
    fn a_no_break_space_holds_a_number_to_its_unit() {
        let text = "Durée : 4,5\u{a0}h, soit 50\u{a0}%";
        assert_eq!(
            words(text).collect::<Vec<_>>(),
            ["Durée", ":", "4,5\u{a0}h,", "soit", "50\u{a0}%"]
        );
        let width = text_width("Durée : 4,5", 10.0, false) + 1.0;
        assert!(wrap(text, 10.0, false, width)
            .iter()
            .all(|l| !l.ends_with("4,5")));
    }

    #[test]
    fn the_fonts_have_every_glyph_the_formatter_prints() {
        for face in [&REGULAR, &BOLD] {
            let charmap = face.metrics.charmap();
            for c in "\u{a0}\u{202f}éèêàâçôûœÉÈÀ«»’–—·•°".chars() {
                assert!(charmap.map(c).is_some(), "{c:?}");
            }
        }
    }
}
