//! CSV as spreadsheet users open it: semicolons (French Excel), UTF-8 with an optional
//! byte-order mark, and no cell that a spreadsheet would run as a formula.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Write;

use super::Fields;

/// A cell that starts like a formula (`= + - @`, tab, carriage return) gets a leading
/// apostrophe, so a name typed as `=HYPERLINK(…)` stays text.
pub fn cell(value: &str) -> Cow<'_, str> {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{value}"))
    } else {
        Cow::Borrowed(value)
    }
}

/// The `?bom=` parameter of every CSV download (`true`: a byte-order mark first, for French
/// Excel, what the pages link to); a bad value goes into `f`.
pub fn bom(query: &HashMap<String, String>, f: &mut Fields) -> bool {
    let parse = |raw: &str| match raw {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err("true ou false".into()),
    };
    f.optional("bom", query.get("bom").map(String::as_str), parse)
        .unwrap_or(false)
}

pub struct Csv<W: Write> {
    writer: csv::Writer<W>,
}

impl<W: Write> Csv<W> {
    pub fn new(mut out: W, bom: bool) -> std::io::Result<Self> {
        if bom {
            out.write_all("\u{feff}".as_bytes())?;
        }
        Ok(Self {
            writer: csv::WriterBuilder::new().delimiter(b';').from_writer(out),
        })
    }

    /// Like [`Csv::new`], for a table whose rows differ in length.
    pub fn flexible(mut out: W, bom: bool) -> std::io::Result<Self> {
        if bom {
            out.write_all("\u{feff}".as_bytes())?;
        }
        Ok(Self {
            writer: csv::WriterBuilder::new()
                .delimiter(b';')
                .flexible(true)
                .from_writer(out),
        })
    }

    /// Writes a row of text cells, each neutralised.
    pub fn row<S: AsRef<str>>(&mut self, cells: &[S]) -> csv::Result<()> {
        self.writer
            .write_record(cells.iter().map(|c| cell(c.as_ref()).into_owned()))
    }

    /// Sends what is written so far (the header first: the response starts at once).
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.writer.flush()
    }

    pub fn finish(self) -> anyhow::Result<W> {
        Ok(self.writer.into_inner().map_err(|e| e.into_error())?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised_and_the_bom_is_optional() {
        for risky in ["=1+1", "+33 6", "-2", "@SUM(A1)", "\tx", "\rx"] {
            assert!(cell(risky).starts_with('\''), "{risky}");
        }
        assert_eq!(cell("Zoé"), "Zoé");
        let mut csv = Csv::new(Vec::new(), true).unwrap();
        csv.row(&["=HYPERLINK(\"http://x\")", "Zoé; Lefèvre"])
            .unwrap();
        let out = String::from_utf8(csv.finish().unwrap()).unwrap();
        assert_eq!(
            out,
            "\u{feff}\"'=HYPERLINK(\"\"http://x\"\")\";\"Zoé; Lefèvre\"\n"
        );
    }
}
