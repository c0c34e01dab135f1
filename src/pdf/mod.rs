//! Printable A4 documents (traceability records, certificates): a small flow layout drawn
//! with krilla in DejaVu Sans, embedded and subset so that French accents print on any
//! reader. Layout happens first into pages of drawing operations, rendering last, so every
//! page can say "page i / n".

mod measure;
mod table;

use krilla::color::luma;
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::text::TextDirection;
use krilla::Document as PdfDocument;

use measure::face_of;
pub use measure::{longest_word, natural_width, text_width, words, wrap};
pub use table::Column;

use crate::fr::NBSP;

pub const PAGE_WIDTH: f32 = 595.28;
pub const PAGE_HEIGHT: f32 = 841.89;
pub const MARGIN: f32 = 50.0;
const FOOTER_SPACE: f32 = 30.0;
const LEADING: f32 = 1.3;

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
                        // Lines are broken already: a no-break space is drawn as the space
                        // it is as wide as, which readers (pdftotext) take for one.
                        surface.draw_text(
                            Point::from_xy(*x, *y),
                            face_of(*bold).font.clone(),
                            *size,
                            &text.replace(NBSP, " "),
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
