//! `lessons/*.md` and how they are organised: each lesson file (name, TOML front matter
//! between `+++` lines, Markdown body), the `[[units]]` of `course.toml` that group them,
//! and the minimum number of lessons.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use toml::Spanned;

use super::report::{read, sorted_files, stem, whole, FileReport};
use super::{Diagnostic, MIN_LESSONS};
use crate::catalog::files::{CourseFile, LessonFrontMatter, UnitFile};
use crate::catalog::markdown;
use crate::catalog::model::{CourseKind, Lesson, Unit};

/// Every lesson of `dir` (in file-name order, which is their position), the units of
/// `course.toml` placed over them, and the count rule. `r` reports on `course.toml`.
pub(super) fn check_lessons(
    r: &mut FileReport,
    dir: &Path,
    file: &CourseFile,
    kind: Option<CourseKind>,
    objectives: &HashSet<String>,
) -> (Vec<Lesson>, Vec<Unit>) {
    let mut lessons = Vec::new();
    for (position, path) in sorted_files(dir, "md").into_iter().enumerate() {
        let position = position as u32 + 1;
        if let Some(lesson) =
            check_lesson(&path, position, objectives, &file.configuration, r.problems)
        {
            lessons.push(lesson);
        }
    }
    let lesson_ids: HashSet<String> = lessons.iter().map(|l| l.id.clone()).collect();
    let (units, placed) = check_units(r, &file.units, kind, &lesson_ids);
    for lesson in &mut lessons {
        lesson.unit = placed.get(&lesson.id).cloned();
    }
    // A DU needs at least two lessons per unit, whatever the general minimum.
    let min_lessons = if kind == Some(CourseKind::Du) {
        MIN_LESSONS.max(2 * units.len())
    } else {
        MIN_LESSONS
    };
    if lessons.len() < min_lessons {
        r.problems.push(whole(
            dir,
            format!(
                "{} leçon(s) : au moins {min_lessons} attendues",
                lessons.len()
            ),
        ));
    }
    (lessons, units)
}

/// The units, and which unit each placed lesson belongs to. A lesson may be in one unit
/// at most; the DU minimums (4 units of 2 lessons) are checked here.
fn check_units(
    r: &mut FileReport,
    written: &[UnitFile],
    kind: Option<CourseKind>,
    lesson_ids: &HashSet<String>,
) -> (Vec<Unit>, BTreeMap<String, String>) {
    let mut units = Vec::new();
    let mut unit_ids = HashSet::new();
    let mut placed: BTreeMap<String, String> = BTreeMap::new();
    for unit in written {
        if !unit_ids.insert(unit.id.get_ref().clone()) {
            r.on(
                &unit.id,
                format!("unité « {} » en double", unit.id.get_ref()),
            );
        }
        for lesson in &unit.lessons {
            place(r, lesson, unit.id.get_ref(), lesson_ids, &mut placed);
        }
        if kind == Some(CourseKind::Du) && unit.lessons.len() < 2 {
            r.on(&unit.id, "chaque unité d'un DU compte au moins 2 leçons");
        }
        units.push(Unit {
            id: unit.id.get_ref().clone(),
            title: unit.title.clone(),
            lessons: unit.lessons.iter().map(|l| l.get_ref().clone()).collect(),
        });
    }
    if kind == Some(CourseKind::Du) && units.len() < 4 {
        r.at(0, "un DU compte au moins 4 unités ([[units]])");
    }
    (units, placed)
}

/// Records `lesson` as part of `unit`, unless it does not exist or is already placed.
fn place(
    r: &mut FileReport,
    lesson: &Spanned<String>,
    unit: &str,
    lesson_ids: &HashSet<String>,
    placed: &mut BTreeMap<String, String>,
) {
    if !lesson_ids.contains(lesson.get_ref()) {
        r.on(
            lesson,
            format!("leçon « {} » introuvable dans lessons/", lesson.get_ref()),
        );
    } else if let Some(other) = placed.insert(lesson.get_ref().clone(), unit.to_owned()) {
        r.on(
            lesson,
            format!(
                "leçon « {} » déjà dans l'unité « {other} »",
                lesson.get_ref()
            ),
        );
    }
}

/// One lesson file. Its problems are reported against the whole file, the front matter
/// or the body, each counting lines from where it starts in the file.
fn check_lesson(
    path: &Path,
    position: u32,
    objectives: &HashSet<String>,
    configuration: &BTreeMap<String, String>,
    problems: &mut Vec<Diagnostic>,
) -> Option<Lesson> {
    let text = read(path, problems)?;
    let id = stem(path);
    let mut file = FileReport::new(path, &text, problems);
    if !is_numbered(&id) {
        file.at(0, "nom de leçon attendu : NN-nom.md (NN = 01, 02, …)");
    }
    let (front, body) = match split_front_matter(&text) {
        Ok(parts) => parts,
        Err(message) => {
            file.at(0, message);
            return None;
        }
    };
    let mut fm = FileReport {
        path: path.to_path_buf(),
        text: front,
        line_offset: 1,
        problems: file.problems,
    };
    let matter = check_front_matter(&mut fm, objectives)?;
    // The body starts after the opening `+++`, the front matter and the closing `+++`.
    let mut md = FileReport {
        path: path.to_path_buf(),
        text: body,
        line_offset: 1 + front.matches('\n').count() + 1,
        problems: fm.problems,
    };
    check_body(&mut md, configuration);
    Some(Lesson {
        id,
        position,
        unit: None,
        title: matter.title,
        minutes: matter.minutes.into_inner(),
        objectives: matter
            .objectives
            .into_iter()
            .map(Spanned::into_inner)
            .collect(),
        html: markdown::render(body, configuration),
    })
}

/// `NN-name`: the number gives the order, so it must be there.
fn is_numbered(id: &str) -> bool {
    id.len() > 3 && id.as_bytes()[..2].iter().all(u8::is_ascii_digit) && id.as_bytes()[2] == b'-'
}

/// The front matter (with its final newline) and the body of a lesson, or what is wrong
/// with the `+++` fences.
fn split_front_matter(text: &str) -> Result<(&str, &str), &'static str> {
    let Some(rest) = text.strip_prefix("+++\n") else {
        return Err("la leçon doit commencer par un en-tête TOML entre deux lignes +++");
    };
    let Some(end) = rest
        .find("\n+++\n")
        .or_else(|| rest.strip_suffix("\n+++").map(|r| r.len()))
    else {
        return Err("en-tête TOML non refermé par une ligne +++");
    };
    Ok((&rest[..end + 1], rest.get(end + 5..).unwrap_or("")))
}

fn check_front_matter(
    fm: &mut FileReport,
    objectives: &HashSet<String>,
) -> Option<LessonFrontMatter> {
    let matter: LessonFrontMatter = fm.parse("en-tête de leçon invalide")?;
    if !(1..=240).contains(matter.minutes.get_ref()) {
        fm.on(&matter.minutes, "minutes : entre 1 et 240");
    }
    for o in &matter.objectives {
        if !objectives.contains(o.get_ref()) {
            fm.on(o, format!("objectif « {} » inconnu", o.get_ref()));
        }
    }
    Some(matter)
}

fn check_body(md: &mut FileReport, configuration: &BTreeMap<String, String>) {
    if md.text.trim().is_empty() {
        md.at(0, "leçon vide");
    }
    for issue in markdown::check(md.text, configuration) {
        md.at(issue.offset, issue.message);
    }
}
