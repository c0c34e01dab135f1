//! Where diagnostics come from: a [`FileReport`] turns byte offsets (or TOML spans) in
//! one file into `path:line` problems, plus the two file-system helpers every check uses.

use std::path::{Path, PathBuf};

use toml::Spanned;

use super::Diagnostic;

/// Collects problems against one file, turning byte offsets into line numbers.
pub(super) struct FileReport<'a> {
    pub(super) path: PathBuf,
    pub(super) text: &'a str,
    /// Lines before `text` starts in the file (a lesson body after its front matter).
    pub(super) line_offset: usize,
    pub(super) problems: &'a mut Vec<Diagnostic>,
}

impl<'a> FileReport<'a> {
    /// A report on a whole file, whose first line is line 1.
    pub(super) fn new(path: &Path, text: &'a str, problems: &'a mut Vec<Diagnostic>) -> Self {
        Self {
            path: path.to_path_buf(),
            text,
            line_offset: 0,
            problems,
        }
    }

    pub(super) fn line_of(&self, offset: usize) -> usize {
        let offset = offset.min(self.text.len());
        self.line_offset + self.text[..offset].matches('\n').count() + 1
    }

    pub(super) fn at(&mut self, offset: usize, message: impl Into<String>) {
        self.push(offset, message.into(), false);
    }

    pub(super) fn on<T>(&mut self, value: &Spanned<T>, message: impl Into<String>) {
        self.at(value.span().start, message);
    }

    /// A warning at `offset`: the course loads, `--strict` refuses it.
    pub(super) fn warn_at(&mut self, offset: usize, message: impl Into<String>) {
        self.push(offset, message.into(), true);
    }

    pub(super) fn warn_on<T>(&mut self, value: &Spanned<T>, message: impl Into<String>) {
        self.warn_at(value.span().start, message);
    }

    fn push(&mut self, offset: usize, message: String, warning: bool) {
        let line = self.line_of(offset);
        self.problems.push(Diagnostic {
            path: self.path.clone(),
            line,
            message,
            warning,
        });
    }

    /// Parses the whole text; a syntax or shape error is reported where TOML saw it.
    pub(super) fn parse<T: serde::de::DeserializeOwned>(&mut self, what: &str) -> Option<T> {
        match toml::from_str(self.text) {
            Ok(v) => Some(v),
            Err(e) => {
                let offset = e.span().map_or(0, |s| s.start);
                self.at(offset, format!("{what} : {}", e.message()));
                None
            }
        }
    }
}

/// A problem that belongs to a file or folder as a whole (reported at line 1).
pub(super) fn whole(path: &Path, message: String) -> Diagnostic {
    Diagnostic {
        path: path.to_path_buf(),
        line: 1,
        message,
        warning: false,
    }
}

/// The largest course file read: a lesson is a few pages of Markdown, a question bank a few
/// hundred questions. A larger file is an accident (or worse), refused before it is read.
pub(super) const MAX_FILE_BYTES: u64 = 2 * 1024 * 1024;

pub(super) fn read(path: &Path, problems: &mut Vec<Diagnostic>) -> Option<String> {
    if let Ok(meta) = std::fs::metadata(path) {
        if meta.len() > MAX_FILE_BYTES {
            problems.push(whole(
                path,
                format!(
                    "fichier trop volumineux : {:.1} Mo, au plus {} Mo",
                    meta.len() as f64 / (1024.0 * 1024.0),
                    MAX_FILE_BYTES / (1024 * 1024)
                ),
            ));
            return None;
        }
    }
    match std::fs::read_to_string(path) {
        Ok(text) => Some(text),
        Err(e) => {
            problems.push(whole(path, format!("fichier illisible : {e}")));
            None
        }
    }
}

/// The files of `dir` with that extension, by name; a missing folder has none (the
/// minimum counts then report it).
pub(super) fn sorted_files(dir: &Path, extension: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == extension))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// The file name without its extension: the id of a lesson or a quiz.
pub(super) fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_become_lines_counting_a_front_matter() {
        let mut problems = Vec::new();
        let mut r = FileReport {
            path: "x.md".into(),
            text: "a\nb\nc",
            line_offset: 4,
            problems: &mut problems,
        };
        r.at(4, "here");
        assert_eq!(problems[0].to_string(), "x.md:7: here");
    }

    #[test]
    fn an_offset_past_the_end_is_the_last_line() {
        let mut problems = Vec::new();
        let mut r = FileReport::new(Path::new("x.toml"), "a\nb\n", &mut problems);
        r.at(1_000, "late");
        assert_eq!(problems[0].line, 3);
    }

    #[test]
    fn a_toml_error_is_reported_on_its_line_with_the_label() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct T {
            a: u32,
        }
        let mut problems = Vec::new();
        let mut r = FileReport::new(
            Path::new("t.toml"),
            "# comment\n\na = \"x\"\n",
            &mut problems,
        );
        assert!(r.parse::<T>("t.toml invalide").is_none());
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].line, 3);
        assert!(
            problems[0].message.starts_with("t.toml invalide : "),
            "{}",
            problems[0].message
        );
    }
}
