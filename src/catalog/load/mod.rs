//! Reading a `courses/` folder into validated [`Course`]s, or into the list of everything
//! wrong with it, each problem as `path:line: message`.
//!
//! This module owns the entry points (`load_dir`, `load_course`), the diagnostic type and
//! the content hash that identifies a version. The checks themselves live in the
//! submodules, one per kind of file: `course` (course.toml), `lesson` (lessons/*.md),
//! `bank` and `question` (quizzes/banque.toml), `quiz` (the other quizzes/*.toml).

mod bank;
mod course;
mod lesson;
mod quality;
mod question;
mod quiz;
mod report;
#[cfg(test)]
mod testing;

use std::fmt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::model::Course;
use report::whole;

pub const MIN_LESSONS: usize = 6;
pub const MIN_BANK: usize = 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub path: PathBuf,
    pub line: usize,
    pub message: String,
    /// A fault of quality (an item that gives its answer away, hours the content does not
    /// back…): the course still loads; `courses check --strict` refuses it.
    pub warning: bool,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = if self.warning { "avertissement : " } else { "" };
        write!(
            f,
            "{}:{}: {label}{}",
            self.path.display(),
            self.line,
            self.message
        )
    }
}

#[derive(Debug, Clone)]
pub struct LoadedCourse {
    pub course: Course,
    /// SHA-256 of every file of the course: the identity of a version.
    pub content_hash: String,
    /// What `courses check --strict` refuses but a server still serves.
    pub warnings: Vec<Diagnostic>,
}

/// Loads every course folder under `root` (sorted by name).
/// Every course folder of `root` (by name), each loaded or refused on its own.
pub fn load_each(root: &Path) -> Vec<(String, Result<LoadedCourse, Vec<Diagnostic>>)> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_dir()
                && !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    dirs.sort();
    dirs.into_iter()
        .map(|dir| {
            let name = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            (name, load_course(&dir))
        })
        .collect()
}

pub fn load_dir(root: &Path) -> Result<Vec<LoadedCourse>, Vec<Diagnostic>> {
    if let Err(e) = std::fs::read_dir(root) {
        return Err(vec![whole(root, format!("dossier illisible : {e}"))]);
    }
    let mut courses = Vec::new();
    let mut problems = Vec::new();
    for (_, loaded) in load_each(root) {
        match loaded {
            Ok(course) => courses.push(course),
            Err(mut found) => problems.append(&mut found),
        }
    }
    if problems.is_empty() {
        Ok(courses)
    } else {
        Err(problems)
    }
}

/// SHA-256 over every file of `dir` (relative path, length, bytes, in path order), so
/// that renaming or moving a file makes a new version just as editing one does.
pub fn content_hash(dir: &Path) -> std::io::Result<String> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.is_dir() {
                walk(&path, out)?;
            } else {
                out.push(path);
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    walk(dir, &mut files)?;
    files.sort();
    let mut hasher = Sha256::new();
    for file in files {
        let relative = file
            .strip_prefix(dir)
            .unwrap_or(&file)
            .to_string_lossy()
            .replace('\\', "/");
        hasher.update(relative.as_bytes());
        hasher.update([0]);
        // Streamed: an oversized file (refused by the checker) must not be held in memory.
        let mut reader = std::fs::File::open(&file)?;
        hasher.update(reader.metadata()?.len().to_le_bytes());
        let mut buffer = [0u8; 64 * 1024];
        loop {
            let n = std::io::Read::read(&mut reader, &mut buffer)?;
            if n == 0 {
                break;
            }
            hasher.update(&buffer[..n]);
        }
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Loads and checks one course folder.
pub fn load_course(dir: &Path) -> Result<LoadedCourse, Vec<Diagnostic>> {
    let mut problems = Vec::new();
    let course = course::check_course(dir, &mut problems);
    let (warnings, errors): (Vec<_>, Vec<_>) = problems.into_iter().partition(|p| p.warning);
    match course {
        Some(course) if errors.is_empty() => {
            let content_hash = content_hash(dir)
                .map_err(|e| vec![whole(dir, format!("dossier illisible : {e}"))])?;
            Ok(LoadedCourse {
                course,
                content_hash,
                warnings,
            })
        }
        _ => Err(errors),
    }
}
