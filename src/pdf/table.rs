//! Tables and label/value lists whose columns are sized from their content, measured with
//! the real font: a value that must stay whole (a date, a number, a code) is never broken,
//! every column is at least as wide as its longest unbreakable piece, text wraps at spaces
//! only, and when a row cannot fit the type gets smaller. Nothing is ever drawn over
//! anything else.

use super::{natural_width, text_width, words, wrap, Document, Op, LEADING, MARGIN, PAGE_WIDTH};

/// Space between a cell's text and its column's edges, each side.
const PAD: f32 = 3.0;
/// The type size tables start from, and the smallest they shrink to before names wrap.
const TABLE_SIZE: f32 = 9.0;
const SMALLEST: f32 = 6.5;

/// How a column's values may be broken across lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    /// Prose: wraps at spaces.
    Text,
    /// A name or a short label: kept on one line unless the row cannot hold it even in
    /// small type.
    Keep,
    /// Dates, numbers, durations, codes: always whole on one line.
    Whole,
}

/// A column of a table: its title, how its values break and whether they align right.
pub struct Column<'a> {
    pub title: &'a str,
    pub fit: Fit,
    pub right: bool,
}

impl<'a> Column<'a> {
    /// Prose, left-aligned, wrapped at spaces.
    pub fn text(title: &'a str) -> Self {
        Self {
            title,
            fit: Fit::Text,
            right: false,
        }
    }

    /// Names and short labels, left-aligned, whole whenever the row can hold them.
    pub fn keep(title: &'a str) -> Self {
        Self {
            title,
            fit: Fit::Keep,
            right: false,
        }
    }

    /// Dates, references, codes: left-aligned, never broken.
    pub fn whole(title: &'a str) -> Self {
        Self {
            title,
            fit: Fit::Whole,
            right: false,
        }
    }

    /// Numbers and durations: right-aligned, never broken.
    pub fn number(title: &'a str) -> Self {
        Self {
            title,
            fit: Fit::Whole,
            right: true,
        }
    }
}

/// A table's type size and column widths (each with its padding).
#[derive(Debug, PartialEq)]
pub(super) struct Layout {
    pub size: f32,
    pub widths: Vec<f32>,
}

/// The narrowest and the natural width of each column at `size`.
fn bounds(
    columns: &[Column<'_>],
    rows: &[Vec<String>],
    size: f32,
    names_whole: bool,
) -> (Vec<f32>, Vec<f32>) {
    columns
        .iter()
        .enumerate()
        .map(|(i, column)| {
            // Titles of prose columns wrap at spaces; the others' too, once names do.
            let mut max = natural_width(column.title, size, true);
            let mut min = if names_whole && column.fit != Fit::Text {
                max
            } else {
                super::longest_word(column.title, size, true)
            };
            for cell in rows.iter().filter_map(|r| r.get(i)) {
                let whole = natural_width(cell, size, false);
                let least = match column.fit {
                    Fit::Whole => whole,
                    Fit::Keep if names_whole => whole,
                    Fit::Keep | Fit::Text => super::longest_word(cell, size, false),
                };
                min = min.max(least);
                max = max.max(whole);
            }
            (min + 2.0 * PAD, max + 2.0 * PAD)
        })
        .unzip()
}

/// Gives each column its narrowest width, then shares out what is left: all of it in
/// proportion to what each column lacks to be unwrapped, or, when every column is already
/// unwrapped, to the prose and name columns.
fn share(columns: &[Column<'_>], min: &[f32], max: &[f32], width: f32) -> Vec<f32> {
    let spare = width - min.iter().sum::<f32>();
    if spare <= 0.0 {
        return min.to_vec();
    }
    let lacking: f32 = min.iter().zip(max).map(|(a, b)| b - a).sum();
    if lacking > spare {
        return min
            .iter()
            .zip(max)
            .map(|(a, b)| a + spare * (b - a) / lacking)
            .collect();
    }
    let left = spare - lacking;
    let stretchy: Vec<bool> = columns.iter().map(|c| c.fit != Fit::Whole).collect();
    let stretch: f32 = max
        .iter()
        .zip(&stretchy)
        .filter(|(_, s)| **s)
        .map(|(m, _)| m)
        .sum();
    max.iter()
        .zip(&stretchy)
        .map(|(m, s)| match (*s, stretch > 0.0) {
            (true, true) => m + left * m / stretch,
            (_, true) => *m,
            (_, false) => m + left / max.len() as f32,
        })
        .collect()
}

/// Sizes a table to `width`: names whole from 9 pt down to 6.5 pt, then names wrapped, then,
/// for a row that holds only unbreakable values too wide for the page, smaller type still.
pub(super) fn layout(columns: &[Column<'_>], rows: &[Vec<String>], width: f32) -> Layout {
    let steps = ((TABLE_SIZE - SMALLEST) / 0.5) as usize;
    for names_whole in [true, false] {
        for step in 0..=steps {
            let size = TABLE_SIZE - 0.5 * step as f32;
            let (min, max) = bounds(columns, rows, size, names_whole);
            if min.iter().sum::<f32>() <= width {
                let widths = share(columns, &min, &max, width);
                return Layout { size, widths };
            }
        }
    }
    // Widths without padding are proportional to the type size.
    let (min, max) = bounds(columns, rows, SMALLEST, false);
    let padding = 2.0 * PAD * columns.len() as f32;
    let text: f32 = min.iter().sum::<f32>() - padding;
    let size = (SMALLEST * (width - padding) / text).max(1.0);
    let scale = size / SMALLEST;
    let scaled = |v: &[f32]| -> Vec<f32> {
        v.iter()
            .map(|w| (w - 2.0 * PAD) * scale + 2.0 * PAD)
            .collect()
    };
    let widths = share(columns, &scaled(&min), &scaled(&max), width);
    Layout { size, widths }
}

/// The lines of one cell in a column of `width` (padding included).
fn cell_lines(cell: &str, fit: Fit, size: f32, bold: bool, width: f32) -> Vec<String> {
    let room = width - 2.0 * PAD;
    if fit == Fit::Whole && !bold {
        return cell
            .split('\n')
            .map(|l| words(l).collect::<Vec<_>>().join(" "))
            .collect();
    }
    // A hair of slack for the rounding of sums of advances; never enough to overlap.
    wrap(cell, size, bold, room + 0.01)
}

impl Document {
    /// A table whose columns are sized from their content (see the module's header), rows
    /// breaking across pages and the header repeated on each page.
    pub fn table(&mut self, columns: &[Column<'_>], rows: &[Vec<String>]) {
        let Layout { size, widths } = layout(columns, rows, Self::content_width());
        let header: Vec<String> = columns.iter().map(|c| c.title.to_owned()).collect();
        self.table_row(columns, &widths, &header, size, true);
        for row in rows {
            let height = row_height(columns, &widths, row, size, false);
            if self.y + height > super::PAGE_HEIGHT - MARGIN - super::FOOTER_SPACE {
                self.ensure(super::PAGE_HEIGHT);
                self.table_row(columns, &widths, &header, size, true);
            }
            self.table_row(columns, &widths, row, size, false);
        }
    }

    fn table_row(
        &mut self,
        columns: &[Column<'_>],
        widths: &[f32],
        row: &[String],
        size: f32,
        bold: bool,
    ) {
        let height = row_height(columns, widths, row, size, bold);
        self.ensure(height);
        let top = self.y;
        let mut x = MARGIN;
        for ((cell, width), column) in row.iter().zip(widths).zip(columns) {
            for (i, line) in cell_lines(cell, column.fit, size, bold, *width)
                .iter()
                .enumerate()
            {
                let y = top + 2.0 + (i as f32 + 1.0) * size * LEADING - size * (LEADING - 1.0);
                let lx = if column.right {
                    x + width - PAD - text_width(line, size, bold)
                } else {
                    x + PAD
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

    /// Label / value lines, labels in bold in a left column as wide as the longest label
    /// (at most 45 % of the line, labels wrapping at spaces beyond), values wrapping in the
    /// rest. Consecutive fields belong in one call, so that their values line up.
    pub fn fields(&mut self, fields: &[(&str, String)]) {
        let size = 10.0;
        let gap = 12.0;
        let width = Self::content_width();
        let longest = fields
            .iter()
            .map(|(l, _)| natural_width(l, size, true))
            .fold(0.0, f32::max);
        let longest_word = fields
            .iter()
            .map(|(l, _)| super::longest_word(l, size, true))
            .fold(0.0, f32::max);
        let label_width = longest.min(0.45 * width).max(longest_word);
        let value_width = width - label_width - gap;
        for (label, value) in fields {
            let labels = wrap(label, size, true, label_width + 0.01);
            let values = wrap(value, size, false, value_width);
            let lines = labels.len().max(values.len());
            self.ensure(lines as f32 * size * LEADING);
            let top = self.y;
            let baseline =
                |i: usize| top + (i as f32 + 1.0) * size * LEADING - size * (LEADING - 1.0);
            for (i, line) in labels.iter().enumerate() {
                self.text_at(MARGIN, baseline(i), size, true, line);
            }
            for (i, line) in values.iter().enumerate() {
                self.text_at(MARGIN + label_width + gap, baseline(i), size, false, line);
            }
            self.y = top + lines as f32 * size * LEADING;
        }
    }
}

fn row_height(
    columns: &[Column<'_>],
    widths: &[f32],
    row: &[String],
    size: f32,
    bold: bool,
) -> f32 {
    let lines = row
        .iter()
        .zip(widths)
        .zip(columns)
        .map(|((cell, w), c)| cell_lines(cell, c.fit, size, bold, *w).len())
        .max()
        .unwrap_or(1);
    lines as f32 * size * LEADING + 4.0
}

#[cfg(test)]
mod tests {
    use super::*;

    const WIDTH: f32 = PAGE_WIDTH - 2.0 * MARGIN;

    fn dpc_columns() -> [Column<'static>; 6] {
        [
            Column::text("Action"),
            Column::text("Type"),
            Column::whole("Référence"),
            Column::whole("Achevée le"),
            Column::number("Durée"),
            Column::whole("Code de vérification"),
        ]
    }

    fn dpc_row() -> Vec<String> {
        [
            "Prévention, repérage et prise en charge de l'épuisement professionnel des soignants",
            "Évaluation des pratiques professionnelles",
            "12345678901",
            "05/12/2026",
            "4,5\u{a0}h",
            "ABCD-EFGH-JKLM-NPQR-STUV-WXYZ-2345",
        ]
        .map(str::to_owned)
        .to_vec()
    }

    /// Every cell of `row` drawn within its column, unbroken when it must be.
    fn assert_fits(columns: &[Column<'_>], rows: &[Vec<String>], layout: &Layout) {
        assert!(
            layout.widths.iter().sum::<f32>() <= WIDTH + 0.01,
            "{layout:?}"
        );
        for row in rows {
            for ((cell, column), width) in row.iter().zip(columns).zip(&layout.widths) {
                let lines = cell_lines(cell, column.fit, layout.size, false, *width);
                for line in &lines {
                    assert!(
                        text_width(line, layout.size, false) <= width - 2.0 * PAD + 0.01,
                        "{line:?} overflows {width} at {}",
                        layout.size
                    );
                }
                if column.fit == Fit::Whole {
                    assert_eq!(lines.len(), 1, "{cell:?} broken");
                }
                assert_eq!(lines.join(" "), words(cell).collect::<Vec<_>>().join(" "));
            }
        }
    }

    #[test]
    fn whole_values_keep_one_line_and_prose_takes_what_is_left() {
        let rows = vec![dpc_row(), dpc_row()];
        let layout = layout(&dpc_columns(), &rows, WIDTH);
        assert!(layout.size >= 8.0, "{layout:?}");
        assert_fits(&dpc_columns(), &rows, &layout);
    }

    #[test]
    fn names_stay_whole_in_smaller_type_then_wrap_and_tokens_shrink_the_type() {
        let mut columns = vec![Column::keep("Nom")];
        columns.extend((0..8).map(|_| Column::number("U1")));
        columns.push(Column::whole("Relevé"));
        let mut row = vec!["Marie-Christine Delacroix-Beaumont de Saint-Exupéry".to_owned()];
        row.extend((0..8).map(|_| "14,75".to_owned()));
        row.push("0751721N-2026-0001".to_owned());
        let rows = vec![row.clone()];
        let laid = layout(&columns, &rows, WIDTH);
        assert_fits(&columns, &rows, &laid);

        // Twelve record numbers side by side: only smaller type can hold them.
        let columns: Vec<Column<'_>> = (0..12).map(|_| Column::whole("Relevé")).collect();
        let rows = vec![vec!["0751721N-2026-0001".to_owned(); 12]];
        let laid = layout(&columns, &rows, WIDTH);
        assert!(laid.size < SMALLEST);
        assert_fits(&columns, &rows, &laid);
    }

    #[test]
    fn long_tables_break_across_pages_and_render() {
        let mut doc = Document::new("Essai");
        doc.paragraph("Relevé de connexion", 16.0, true, true);
        let rows: Vec<Vec<String>> = (0..200)
            .map(|i| vec![format!("Leçon n° {i}"), i.to_string()])
            .collect();
        doc.table(&[Column::text("Leçon"), Column::number("Secondes")], &rows);
        assert!(doc.pages.len() > 2);
        let bytes = doc.finish().unwrap();
        assert!(bytes.starts_with(b"%PDF-"));
    }
}
