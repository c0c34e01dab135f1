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
    r: &mut FileReport<'_>,
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
    r: &mut FileReport<'_>,
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
    r: &mut FileReport<'_>,
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
    fm: &mut FileReport<'_>,
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

fn check_body(md: &mut FileReport<'_>, configuration: &BTreeMap<String, String>) {
    if md.text.trim().is_empty() {
        md.at(0, "leçon vide");
    }
    for issue in markdown::check(md.text, configuration) {
        md.at(issue.offset, issue.message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::load::testing::{
        assert_exactly, assert_reported, lesson, line_with, reported, Fixture, COURSE_HEAD,
    };

    const FRONT: &str = "title = \"Leçon\"\nminutes = 10\nobjectives = [\"o1\"]\n";

    #[test]
    fn body_problems_count_the_front_matter_lines() {
        let fixture = Fixture::new();
        let name = "lessons/03-lecon.md";
        let text = lesson(
            FRONT,
            "\nUn paragraphe.\n\n<div>brut</div>\n\nVoir [ici](ftp://exemple.fr) et {{config:absente}}.\n",
        );
        fixture.write(name, &text);
        let problems = fixture.problems();
        let path = fixture.path(name);
        assert_reported(
            &problems,
            &path,
            line_with(&text, "<div>"),
            "HTML brut interdit dans une leçon",
        );
        assert_reported(
            &problems,
            &path,
            line_with(&text, "ftp://"),
            "lien refusé (ftp://exemple.fr)",
        );
        assert_reported(
            &problems,
            &path,
            line_with(&text, "{{config:absente}}"),
            "clé de configuration « absente » non déclarée",
        );
        assert_eq!(problems.len(), 3, "{problems:#?}");
    }

    #[test]
    fn front_matter_problems_are_on_their_lines() {
        let fixture = Fixture::new();
        let name = "lessons/02-lecon.md";
        let text = lesson(
            "title = \"Leçon\"\nminutes = 0\nobjectives = [\"o1\", \"o9\"]\n",
            "\nTexte.\n",
        );
        fixture.write(name, &text);
        let problems = fixture.problems();
        let path = fixture.path(name);
        assert_reported(&problems, &path, 3, "minutes : entre 1 et 240");
        assert_reported(&problems, &path, 4, "objectif « o9 » inconnu");
        assert_eq!(problems.len(), 2, "{problems:#?}");

        fixture.write(
            name,
            &lesson("title = \"Leçon\"\nminutes = \"dix\"\n", "\nTexte.\n"),
        );
        let problems = fixture.problems();
        assert_reported(&problems, &path, 3, "en-tête de leçon invalide : ");
    }

    #[test]
    fn a_lesson_needs_a_numbered_name_and_closed_fences() {
        let fixture = Fixture::new();
        fixture.write("lessons/intro.md", &lesson(FRONT, "\nTexte.\n"));
        fixture.write("lessons/07-sans-entete.md", "Juste du texte.\n");
        fixture.write("lessons/08-ouvert.md", "+++\ntitle = \"Leçon\"\n\nTexte.\n");
        fixture.write("lessons/09-vide.md", &lesson(FRONT, "\n  \n"));
        let problems = fixture.problems();
        let at = |name: &str| -> Vec<(usize, &str)> {
            problems
                .iter()
                .filter(|p| p.path == fixture.path(name))
                .map(|p| (p.line, p.message.as_str()))
                .collect()
        };
        assert_eq!(
            at("lessons/intro.md"),
            [(1, "nom de leçon attendu : NN-nom.md (NN = 01, 02, …)")]
        );
        assert_eq!(
            at("lessons/07-sans-entete.md"),
            [(
                1,
                "la leçon doit commencer par un en-tête TOML entre deux lignes +++"
            )]
        );
        assert_eq!(
            at("lessons/08-ouvert.md"),
            [(1, "en-tête TOML non refermé par une ligne +++")]
        );
        assert_eq!(at("lessons/09-vide.md"), [(6, "leçon vide")]);
        assert_eq!(problems.len(), 4, "{problems:#?}");
    }

    #[test]
    fn the_front_matter_may_end_the_file() {
        assert_eq!(
            split_front_matter("+++\nminutes = 1\n+++"),
            Ok(("minutes = 1\n", ""))
        );
        assert_eq!(
            split_front_matter("+++\nminutes = 1\n+++\nCorps\n"),
            Ok(("minutes = 1\n", "Corps\n"))
        );
        assert!(is_numbered("01-a") && !is_numbered("1-ab") && !is_numbered("01-"));
    }

    #[test]
    fn too_few_lessons_are_reported_on_the_folder() {
        let fixture = Fixture::new();
        std::fs::remove_file(fixture.path("lessons/06-lecon.md")).unwrap();
        let problems = fixture.problems();
        assert_eq!(
            problems,
            [crate::catalog::load::Diagnostic {
                path: fixture.path("lessons"),
                line: 1,
                message: "5 leçon(s) : au moins 6 attendues".into(),
            }]
        );
    }

    /// The units and where each lesson was placed, as `check_units` returns them.
    type Units = (Vec<Unit>, BTreeMap<String, String>);

    /// Runs `check_units` on `text` (a `course.toml`), with lessons 01-a, 02-b and 03-c.
    fn units(text: &str, kind: CourseKind) -> (Units, Vec<Diagnostic>) {
        let ids: HashSet<String> = ["01-a", "02-b", "03-c"].map(String::from).into();
        reported("course.toml", text, |r| {
            let file: CourseFile = r.parse("course.toml invalide").expect("parses");
            check_units(r, &file.units, Some(kind), &ids)
        })
    }

    #[test]
    fn each_lesson_is_in_one_existing_unit_at_most() {
        let text = format!(
            "{COURSE_HEAD}\n[[units]]\nid = \"u1\"\ntitle = \"Un\"\nlessons = [\"01-a\", \"02-b\"]\n\
             \n[[units]]\nid = \"u1\"\ntitle = \"Deux\"\nlessons = [\n  \"02-b\",\n  \"04-z\",\n]\n"
        );
        let ((units, placed), problems) = units(&text, CourseKind::InitialModule);
        assert_eq!(units.len(), 2);
        assert_eq!(placed.get("02-b").map(String::as_str), Some("u1"));
        assert!(!placed.contains_key("03-c"));
        assert_exactly(
            &problems,
            &[
                (
                    line_with(&text, "title = \"Deux\"") - 1,
                    "unité « u1 » en double",
                ),
                (
                    line_with(&text, "  \"02-b\""),
                    "leçon « 02-b » déjà dans l'unité « u1 »",
                ),
                (
                    line_with(&text, "04-z"),
                    "leçon « 04-z » introuvable dans lessons/",
                ),
            ],
        );
    }

    #[test]
    fn a_du_has_four_units_of_two_lessons() {
        let text = format!(
            "{COURSE_HEAD}\n[[units]]\nid = \"u1\"\ntitle = \"Un\"\nlessons = [\"01-a\"]\n"
        );
        let (_, problems) = units(&text, CourseKind::Du);
        assert_exactly(
            &problems,
            &[
                (
                    line_with(&text, "id = \"u1\""),
                    "chaque unité d'un DU compte au moins 2 leçons",
                ),
                (1, "un DU compte au moins 4 unités ([[units]])"),
            ],
        );
        let (_, problems) = units(&text, CourseKind::Dpc);
        assert!(problems.is_empty(), "{problems:#?}");
    }

    #[test]
    fn units_are_given_to_their_lessons() {
        let fixture = Fixture::new();
        fixture.edit("course.toml", |t| {
            format!("{t}\n[[units]]\nid = \"u1\"\ntitle = \"Début\"\nlessons = [\"01-lecon\", \"02-lecon\"]\n")
        });
        let course = fixture.load().course;
        let units: Vec<Option<&str>> = course.lessons.iter().map(|l| l.unit.as_deref()).collect();
        assert_eq!(units, [Some("u1"), Some("u1"), None, None, None, None]);
    }
}
