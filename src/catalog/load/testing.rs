//! Test support for the checker: a minimal valid course written to a temporary folder
//! (to break one file at a time), and assertions on diagnostics by file, line and words.

use std::path::{Path, PathBuf};

use super::report::FileReport;
use super::{load_course, Diagnostic, LoadedCourse};

pub(super) const SLUG: &str = "mini";

/// The fields `course.toml` cannot do without; tests append sections to it.
pub(super) const COURSE_HEAD: &str = r#"slug = "mini"
title = "Un cours minimal"
kind = "initial_module"
audience = "Étudiants"
language = "fr"
version = "1.0.0"
duration_hours = 2.0
summary = "Juste assez pour passer le contrôle."
"#;

const COURSE_REST: &str = r#"
[[objectives]]
id = "o1"
text = "Premier objectif"

[[objectives]]
id = "o2"
text = "Second objectif"

[configuration]
referent = "Le référent local"

[completion]
min_minutes = 100
required_quizzes = ["final"]
"#;

const QUIZ: &str = r#"title = "Évaluation finale"
role = "graded"
pass_mark = 70
time_limit_minutes = 20
max_attempts = 3

[[draw]]
objective = "o1"
count = 2
"#;

/// A lesson file with the given front matter lines and body.
pub(super) fn lesson(front: &str, body: &str) -> String {
    format!("+++\n{front}+++\n{body}")
}

fn bank() -> String {
    (1..=20)
        .map(|n| {
            format!(
                "[[questions]]\nid = \"q{n:02}\"\ntype = \"true_false\"\nobjective = \"o{}\"\n\
                 prompt = \"Affirmation {n}\"\nfeedback = \"Parce que.\"\nanswer = true\n\n",
                n % 2 + 1
            )
        })
        .collect()
}

/// A valid course folder `mini/`: 6 lessons, a bank of 20 questions, one graded quiz.
pub(super) struct Fixture {
    _dir: tempfile::TempDir,
    pub(super) course: PathBuf,
}

impl Fixture {
    pub(super) fn new() -> Self {
        let dir = tempfile::tempdir().expect("temporary folder");
        let course = dir.path().join(SLUG);
        let fixture = Self { _dir: dir, course };
        fixture.write("course.toml", &format!("{COURSE_HEAD}{COURSE_REST}"));
        for n in 1..=6 {
            fixture.write(
                &format!("lessons/{n:02}-lecon.md"),
                &lesson(
                    &format!("title = \"Leçon {n}\"\nminutes = 10\nobjectives = [\"o1\"]\n"),
                    &format!("\nTexte de la leçon {n}.\n\nContact : {{{{config:referent}}}}.\n"),
                ),
            );
        }
        fixture.write("quizzes/banque.toml", &bank());
        fixture.write("quizzes/final.toml", QUIZ);
        fixture
    }

    pub(super) fn path(&self, relative: &str) -> PathBuf {
        self.course.join(relative)
    }

    pub(super) fn write(&self, relative: &str, text: &str) {
        let path = self.path(relative);
        std::fs::create_dir_all(path.parent().expect("in the course")).expect("folder");
        std::fs::write(path, text).expect("written");
    }

    pub(super) fn edit(&self, relative: &str, change: impl FnOnce(String) -> String) {
        let text = std::fs::read_to_string(self.path(relative)).expect("read");
        self.write(relative, &change(text));
    }

    pub(super) fn load(&self) -> LoadedCourse {
        load_course(&self.course).unwrap_or_else(|p| panic!("unexpected problems: {p:#?}"))
    }

    pub(super) fn problems(&self) -> Vec<Diagnostic> {
        load_course(&self.course).expect_err("the broken course is refused")
    }

    /// The warnings of a course that loads.
    pub(super) fn warnings(&self) -> Vec<Diagnostic> {
        self.load().warnings
    }

    /// 1-based line of the first line of a course file containing `needle`.
    pub(super) fn line_with(&self, relative: &str, needle: &str) -> usize {
        line_with(
            &std::fs::read_to_string(self.path(relative)).expect("read"),
            needle,
        )
    }
}

/// 1-based line of the first line of `text` containing `needle`.
pub(super) fn line_with(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle} in {text}"))
        + 1
}

/// Runs `check` with a report on `text` (as file `path`) and returns the errors it
/// reported (warnings have their own tests: [`warned`]).
pub(super) fn reported<T>(
    path: &str,
    text: &str,
    check: impl FnOnce(&mut FileReport<'_>) -> T,
) -> (T, Vec<Diagnostic>) {
    let (out, mut problems) = everything_reported(path, text, check);
    problems.retain(|p| !p.warning);
    (out, problems)
}

/// As [`reported`], the warnings only.
pub(super) fn warned<T>(
    path: &str,
    text: &str,
    check: impl FnOnce(&mut FileReport<'_>) -> T,
) -> (T, Vec<Diagnostic>) {
    let (out, mut problems) = everything_reported(path, text, check);
    problems.retain(|p| p.warning);
    (out, problems)
}

fn everything_reported<T>(
    path: &str,
    text: &str,
    check: impl FnOnce(&mut FileReport<'_>) -> T,
) -> (T, Vec<Diagnostic>) {
    let mut problems = Vec::new();
    let mut r = FileReport::new(Path::new(path), text, &mut problems);
    let out = check(&mut r);
    (out, problems)
}

/// Asserts a problem at `path:line` whose message contains `words`.
pub(super) fn assert_reported(problems: &[Diagnostic], path: &Path, line: usize, words: &str) {
    assert!(
        problems
            .iter()
            .any(|p| p.path == path && p.line == line && p.message.contains(words)),
        "expected {}:{line}: …{words}… in {problems:#?}",
        path.display()
    );
}

/// Asserts exactly these `(line, message)` problems, in order, all against one file.
pub(super) fn assert_exactly(problems: &[Diagnostic], expected: &[(usize, &str)]) {
    let got: Vec<(usize, &str)> = problems
        .iter()
        .map(|p| (p.line, p.message.as_str()))
        .collect();
    assert_eq!(got, expected, "{problems:#?}");
}
