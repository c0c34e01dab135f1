//! Printable A4 documents (traceability records, certificates): a small flow layout drawn
//! with krilla in DejaVu Sans, embedded and subset so that French accents print on any
//! reader. Layout happens first into pages of drawing operations, rendering last, so every
//! page can say "page i / n".

use std::sync::LazyLock;

use krilla::color::luma;
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::text::{Font, TextDirection};
use krilla::Document as PdfDocument;
use skrifa::instance::{LocationRef, Size};
use skrifa::{FontRef, MetadataProvider};

pub const PAGE_WIDTH: f32 = 595.28;
pub const PAGE_HEIGHT: f32 = 841.89;
pub const MARGIN: f32 = 50.0;
const FOOTER_SPACE: f32 = 30.0;
const LEADING: f32 = 1.3;

struct Face {
    font: Font,
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

fn face_of(bold: bool) -> &'static Face {
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

/// Greedy line breaking at spaces; a word wider than the line is cut between characters.
pub fn wrap(text: &str, size: f32, bold: bool, width: f32) -> Vec<String> {
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
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

#[derive(Debug, Clone)]
enum Op {
    Text {
        x: f32,
        y: f32,
        size: f32,
        bold: bool,
        text: String,
    },
    Line {
        x1: f32,
        y1: f32,
        x2: f32,
        y2: f32,
    },
    Square {
        x: f32,
        y: f32,
        side: f32,
    },
}

/// A column of a table: its title, its share of the line and whether numbers align right.
pub struct Column<'a> {
    pub title: &'a str,
    pub share: f32,
    pub right: bool,
}

/// A document being laid out, top to bottom.
pub struct Document {
    title: String,
    pages: Vec<Vec<Op>>,
    y: f32,
}

impl Document {
    pub fn new(title: &str) -> Self {
        Self {
            title: title.to_owned(),
            pages: vec![Vec::new()],
            y: MARGIN,
        }
    }

    pub fn content_width() -> f32 {
        PAGE_WIDTH - 2.0 * MARGIN
    }

    fn ops(&mut self) -> &mut Vec<Op> {
        self.pages.last_mut().expect("a document has a page")
    }

    /// Starts a new page unless `height` still fits on this one.
    pub fn ensure(&mut self, height: f32) {
        if self.y + height > PAGE_HEIGHT - MARGIN - FOOTER_SPACE {
            self.pages.push(Vec::new());
            self.y = MARGIN;
        }
    }

    pub fn space(&mut self, height: f32) {
        self.y += height;
    }

    pub fn text_at(&mut self, x: f32, baseline: f32, size: f32, bold: bool, text: &str) {
        self.ops().push(Op::Text {
            x,
            y: baseline,
            size,
            bold,
            text: text.to_owned(),
        });
    }

    /// Wrapped text across the content width; `centred` for titles.
    pub fn paragraph(&mut self, text: &str, size: f32, bold: bool, centred: bool) {
        let width = Self::content_width();
        for line in wrap(text, size, bold, width) {
            self.ensure(size * LEADING);
            self.y += size * LEADING;
            let x = if centred {
                MARGIN + (width - text_width(&line, size, bold)) / 2.0
            } else {
                MARGIN
            };
            let y = self.y - size * (LEADING - 1.0);
            self.text_at(x, y, size, bold, &line);
        }
    }

    pub fn heading(&mut self, text: &str) {
        self.space(8.0);
        self.ensure(40.0);
        self.paragraph(text, 13.0, true, false);
        self.space(3.0);
    }

    pub fn rule(&mut self) {
        let y = self.y + 2.0;
        self.ops().push(Op::Line {
            x1: MARGIN,
            y1: y,
            x2: PAGE_WIDTH - MARGIN,
            y2: y,
        });
        self.y += 6.0;
    }

    /// Label / value lines, labels in bold in a fixed left column.
    pub fn fields(&mut self, fields: &[(&str, String)]) {
        let size = 10.0;
        let label_width = 170.0;
        let value_width = Self::content_width() - label_width;
        for (label, value) in fields {
            let lines = wrap(value, size, false, value_width);
            self.ensure(lines.len() as f32 * size * LEADING);
            let top = self.y;
            for (i, line) in lines.iter().enumerate() {
                let y = top + (i as f32 + 1.0) * size * LEADING - size * (LEADING - 1.0);
                if i == 0 {
                    self.text_at(MARGIN, y, size, true, label);
                }
                self.text_at(MARGIN + label_width, y, size, false, line);
            }
            self.y = top + lines.len() as f32 * size * LEADING;
        }
    }

    /// A table whose rows wrap inside their cells and break across pages, repeating the
    /// header on each page.
    pub fn table(&mut self, columns: &[Column<'_>], rows: &[Vec<String>]) {
        let size = 9.0;
        let total: f32 = columns.iter().map(|c| c.share).sum();
        let widths: Vec<f32> = columns
            .iter()
            .map(|c| c.share / total * Self::content_width())
            .collect();
        let header: Vec<String> = columns.iter().map(|c| c.title.to_owned()).collect();
        self.table_row(columns, &widths, &header, size, true);
        for row in rows {
            let height = self.row_height(&widths, row, size);
            if self.y + height > PAGE_HEIGHT - MARGIN - FOOTER_SPACE {
                self.ensure(PAGE_HEIGHT);
                self.table_row(columns, &widths, &header, size, true);
            }
            self.table_row(columns, &widths, row, size, false);
        }
    }

    fn row_height(&self, widths: &[f32], row: &[String], size: f32) -> f32 {
        let lines = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| wrap(cell, size, false, w - 6.0).len())
            .max()
            .unwrap_or(1);
        lines as f32 * size * LEADING + 4.0
    }

    fn table_row(
        &mut self,
        columns: &[Column<'_>],
        widths: &[f32],
        row: &[String],
        size: f32,
        bold: bool,
    ) {
        let height = self.row_height(widths, row, size);
        self.ensure(height);
        let top = self.y;
        let mut x = MARGIN;
        for ((cell, width), column) in row.iter().zip(widths).zip(columns) {
            for (i, line) in wrap(cell, size, bold, width - 6.0).iter().enumerate() {
                let y = top + 2.0 + (i as f32 + 1.0) * size * LEADING - size * (LEADING - 1.0);
                let lx = if column.right {
                    x + width - 3.0 - text_width(line, size, bold)
                } else {
                    x + 3.0
                };
                self.text_at(lx, y, size, bold, line);
            }
            x += width;
        }
        self.y = top + height;
        self.ops().push(Op::Line {
            x1: MARGIN,
            y1: top + height,
            x2: PAGE_WIDTH - MARGIN,
            y2: top + height,
        });
    }

    /// Draws a square matrix of dark modules (a QR code) of `side` points at (x, top).
    pub fn matrix(&mut self, x: f32, top: f32, side: f32, dark: &[bool], width: usize) {
        let module = side / width as f32;
        for (i, _) in dark.iter().enumerate().filter(|(_, d)| **d) {
            let (row, col) = (i / width, i % width);
            self.ops().push(Op::Square {
                x: x + col as f32 * module,
                y: top + row as f32 * module,
                side: module,
            });
        }
    }

    pub fn cursor(&self) -> f32 {
        self.y
    }

    pub fn set_cursor(&mut self, y: f32) {
        self.y = y;
    }

    /// Renders every page, with the title and "page i / n" in the footer.
    pub fn finish(self) -> anyhow::Result<Vec<u8>> {
        let mut pdf = PdfDocument::new();
        pdf.set_metadata(
            Metadata::new()
                .title(self.title.clone())
                .language("fr".into())
                .creator("QVT Campus".into()),
        );
        let count = self.pages.len();
        for (n, ops) in self.pages.into_iter().enumerate() {
            let settings = PageSettings::from_wh(PAGE_WIDTH, PAGE_HEIGHT)
                .ok_or_else(|| anyhow::anyhow!("A4 is a valid page size"))?;
            let mut page = pdf.start_page_with(settings);
            let mut surface = page.surface();
            let footer = format!("{} — page {} / {}", self.title, n + 1, count);
            let footer_ops = [Op::Text {
                x: MARGIN,
                y: PAGE_HEIGHT - MARGIN + 10.0,
                size: 8.0,
                bold: false,
                text: footer,
            }];
            for op in ops.iter().chain(&footer_ops) {
                match op {
                    Op::Text {
                        x,
                        y,
                        size,
                        bold,
                        text,
                    } => {
                        surface.set_fill(Some(Fill::default()));
                        surface.draw_text(
                            Point::from_xy(*x, *y),
                            face_of(*bold).font.clone(),
                            *size,
                            text,
                            false,
                            TextDirection::Auto,
                        );
                    }
                    Op::Line { x1, y1, x2, y2 } => {
                        let mut path = PathBuilder::new();
                        path.move_to(*x1, *y1);
                        path.line_to(*x2, *y2);
                        if let Some(path) = path.finish() {
                            surface.set_fill(None);
                            surface.set_stroke(Some(Stroke {
                                paint: luma::Color::new(150).into(),
                                width: 0.5,
                                ..Stroke::default()
                            }));
                            surface.draw_path(&path);
                            surface.set_stroke(None);
                        }
                    }
                    Op::Square { x, y, side } => {
                        let mut path = PathBuilder::new();
                        if let Some(rect) = Rect::from_xywh(*x, *y, *side, *side) {
                            path.push_rect(rect);
                        }
                        if let Some(path) = path.finish() {
                            surface.set_fill(Some(Fill::default()));
                            surface.draw_path(&path);
                        }
                    }
                }
            }
            surface.finish();
            page.finish();
        }
        pdf.finish()
            .map_err(|e| anyhow::anyhow!("PDF rendering failed: {e:?}"))
    }
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
    fn long_tables_break_across_pages_and_render() {
        let mut doc = Document::new("Essai");
        doc.paragraph("Relevé de connexion", 16.0, true, true);
        let rows: Vec<Vec<String>> = (0..200)
            .map(|i| vec![format!("Leçon n° {i}"), i.to_string()])
            .collect();
        let columns = [
            Column {
                title: "Leçon",
                share: 3.0,
                right: false,
            },
            Column {
                title: "Secondes",
                share: 1.0,
                right: true,
            },
        ];
        doc.table(&columns, &rows);
        assert!(doc.pages.len() > 2);
        let bytes = doc.finish().unwrap();
        assert!(bytes.starts_with(b"%PDF-"));
    }
}
