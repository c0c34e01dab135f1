//! `lessons/*.md` and how they are organised: each lesson file (name, TOML front matter
//! between `+++` lines, Markdown body), the `[[units]]` of `course.toml` that group them,
//! and the minimum number of lessons.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use toml::Spanned;

use chrono::NaiveDate;

use super::quality;
use super::report::{read, sorted_files, stem, whole, FileReport};
use super::{Diagnostic, MIN_LESSONS};
use crate::catalog::files::{ActivityFile, CourseFile, LessonFrontMatter, ReferenceFile, UnitFile};
use crate::catalog::markdown;
use crate::catalog::model::{
    Activity, ActivityKind, AuditItem, CourseKind, Lesson, Reference, Seminar, Unit,
};

/// Every lesson of `dir` (in file-name order, which is their position), the units of
/// `course.toml` placed over them, and the count rule. `r` reports on `course.toml`.
/// Also returns the minutes the lessons' content takes (reading and activities).
pub(super) fn check_lessons(
    r: &mut FileReport<'_>,
    dir: &Path,
    file: &CourseFile,
    kind: Option<CourseKind>,
    objectives: &HashSet<String>,
) -> (Vec<Lesson>, Vec<Unit>, f64) {
    let mut lessons = Vec::new();
    let mut content_minutes = 0.0;
    // A folder among the lessons is not read: say so rather than skip it.
    if let Ok(entries) = std::fs::read_dir(dir) {
        let mut folders: Vec<std::path::PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .collect();
        folders.sort();
        for folder in folders {
            r.problems.push(whole(
                &folder,
                "dossier inattendu parmi les leçons : une leçon est un fichier NN-nom.md".into(),
            ));
        }
    }
    let mut numbers: HashMap<String, String> = HashMap::new();
    for (position, path) in sorted_files(dir, "md").into_iter().enumerate() {
        let position = position as u32 + 1;
        // Two lessons numbered alike leave their order to chance.
        let id = stem(&path);
        if let Some(number) = id
            .split('-')
            .next()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        {
            if let Some(first) = numbers.insert(number.to_owned(), id.clone()) {
                r.problems.push(whole(
                    &path,
                    format!("numéro de leçon {number} déjà pris par {first}.md"),
                ));
            }
        }
        if let Some((lesson, minutes)) =
            check_lesson(&path, position, objectives, &file.configuration, r.problems)
        {
            lessons.push(lesson);
            content_minutes += minutes;
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
    (lessons, units, content_minutes)
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
        } else if kind == Some(CourseKind::Du) && unit.lessons.len() < DU_UNIT_LESSONS {
            r.warn_on(
                &unit.id,
                format!(
                    "unité « {} » : {} leçons, au moins {DU_UNIT_LESSONS} attendues pour un DU",
                    unit.id.get_ref(),
                    unit.lessons.len()
                ),
            );
        }
        for seminar in &unit.seminars {
            if !(*seminar.hours.get_ref() > 0.0 && *seminar.hours.get_ref() <= 100.0) {
                r.on(&seminar.hours, "heures du séminaire : entre 0 et 100");
            }
        }
        units.push(Unit {
            id: unit.id.get_ref().clone(),
            title: unit.title.clone(),
            lessons: unit.lessons.iter().map(|l| l.get_ref().clone()).collect(),
            assessment: unit.assessment.as_ref().map(|a| a.get_ref().clone()),
            seminars: unit
                .seminars
                .iter()
                .map(|s| Seminar {
                    title: s.title.clone(),
                    hours: *s.hours.get_ref(),
                    programme: s.programme.clone(),
                })
                .collect(),
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
) -> Option<(Lesson, f64)> {
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
    let references = check_references(&mut fm, &matter.references);
    let activities = check_activities(&mut fm, &matter.activities, configuration);
    let reviewed_on = matter
        .reviewed_on
        .as_ref()
        .and_then(|d| date_of(&mut fm, d));
    if matter.reviewed_on.is_none() {
        fm.warn_at(0, "leçon sans date de relecture (reviewed_on)");
    }
    if references.is_empty() {
        fm.warn_at(0, "leçon sans sources ([[references]])");
    }
    // What the lesson really takes: reading its text, then doing its activities.
    let words = quality::word_count(body);
    // In u64: out-of-range minutes are reported, and must not overflow the sum meanwhile.
    let activity_minutes: u64 = activities.iter().map(|a| u64::from(a.minutes)).sum();
    let backed = quality::reading_minutes(words).ceil() as u64 + activity_minutes;
    let slack = u64::from(quality::LESSON_MINUTES_SLACK);
    if u64::from(*matter.minutes.get_ref()) > backed + slack {
        fm.warn_on(
            &matter.minutes,
            format!(
                "minutes = {} mais la leçon se lit en {} min ({words} mots à {} mots/min) et ses activités durent {} min : annoncez au plus {}",
                matter.minutes.get_ref(),
                quality::reading_minutes(words).ceil(),
                quality::READING_WORDS_PER_MINUTE,
                activity_minutes,
                backed + slack
            ),
        );
    }
    // The body starts after the opening `+++`, the front matter and the closing `+++`.
    let mut md = FileReport {
        path: path.to_path_buf(),
        text: body,
        line_offset: 1 + front.matches('\n').count() + 1,
        problems: fm.problems,
    };
    check_body(&mut md, configuration);
    let content_minutes = quality::reading_minutes(words) + activity_minutes as f64;
    let lesson = Lesson {
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
        reviewed_on,
        references,
        activities,
    };
    Some((lesson, content_minutes))
}

/// A TOML date (`2026-12-06`, no time) as a calendar date.
pub(super) fn date_of(
    r: &mut FileReport<'_>,
    value: &Spanned<toml::value::Datetime>,
) -> Option<NaiveDate> {
    let date = value.get_ref();
    match (date.date, date.time) {
        (Some(d), None) => NaiveDate::from_ymd_opt(d.year.into(), d.month.into(), d.day.into()),
        _ => {
            r.on(value, "date attendue sous la forme 2026-12-06 (sans heure)");
            None
        }
    }
}

/// Public sources: a title, a publisher, a plausible year, a web address if any.
pub(super) fn check_references(
    r: &mut FileReport<'_>,
    written: &[Spanned<ReferenceFile>],
) -> Vec<Reference> {
    let mut references = Vec::new();
    for reference in written {
        let f = reference.get_ref();
        if f.title.trim().is_empty() || f.publisher.trim().is_empty() {
            r.on(
                reference,
                "une référence a un titre (title) et un éditeur (publisher)",
            );
        }
        if !(1900..=2100).contains(f.year.get_ref()) {
            r.on(&f.year, "année de la référence : entre 1900 et 2100");
        }
        if let Some(url) = &f.url {
            if !url.get_ref().starts_with("https://") {
                r.on(url, "adresse de la référence : https:// attendu");
            }
        }
        references.push(Reference {
            title: f.title.trim().to_owned(),
            publisher: f.publisher.trim().to_owned(),
            year: *f.year.get_ref(),
            url: f.url.as_ref().map(|u| u.get_ref().clone()),
        });
    }
    references
}

/// The activities of a lesson: each kind with what it needs, Markdown that passes the
/// lesson rules, ids unique in the lesson.
fn check_activities(
    r: &mut FileReport<'_>,
    written: &[Spanned<ActivityFile>],
    configuration: &BTreeMap<String, String>,
) -> Vec<Activity> {
    let mut ids = HashSet::new();
    let mut activities = Vec::new();
    for spanned in written {
        let a = spanned.get_ref();
        if !ids.insert(a.id.get_ref().clone()) {
            r.on(&a.id, format!("activité « {} » en double", a.id.get_ref()));
        }
        if !is_slug(a.id.get_ref()) {
            r.on(
                &a.id,
                "identifiant d'activité : minuscules, chiffres et - seulement",
            );
        }
        let Ok(kind) = ActivityKind::parse(a.kind.get_ref()) else {
            r.on(
                &a.kind,
                "kind : self_audit, case, reflection ou action_plan",
            );
            continue;
        };
        if !(1..=120).contains(a.minutes.get_ref()) {
            r.on(&a.minutes, "minutes de l'activité : entre 1 et 120");
        }
        if a.prompt.trim().is_empty() {
            r.on(spanned, "consigne (prompt) obligatoire");
        }
        for text in std::iter::once(&a.prompt).chain(&a.commentary) {
            for issue in markdown::check(text, configuration) {
                r.on(spanned, issue.message);
            }
        }
        match kind {
            ActivityKind::SelfAudit if a.items.len() < 3 => {
                r.on(spanned, "un autodiagnostic compte au moins 3 items (items)");
            }
            ActivityKind::SelfAudit => {
                if let Some(m) = &a.min_chars {
                    r.on(m, "min_chars ne s'applique pas à un autodiagnostic");
                }
            }
            _ if !a.items.is_empty() => {
                r.on(spanned, "items réservés aux autodiagnostics (self_audit)");
            }
            ActivityKind::Case if a.commentary.is_none() => {
                r.on(
                    spanned,
                    "une analyse de cas a un commentaire d'expert (commentary)",
                );
            }
            _ => {}
        }
        let min_chars = a
            .min_chars
            .as_ref()
            .map_or(DEFAULT_MIN_CHARS, |m| *m.get_ref());
        if !(20..=5000).contains(&min_chars) {
            if let Some(m) = &a.min_chars {
                r.on(m, "min_chars : entre 20 et 5000");
            }
        }
        activities.push(Activity {
            id: a.id.get_ref().clone(),
            kind,
            title: a.title.clone(),
            minutes: *a.minutes.get_ref(),
            prompt_html: markdown::render(&a.prompt, configuration),
            items: a
                .items
                .iter()
                .map(|i| AuditItem {
                    text: i.text.clone(),
                    advice: i.advice.clone(),
                })
                .collect(),
            commentary_html: a
                .commentary
                .as_ref()
                .map(|c| markdown::render(c, configuration)),
            min_chars: if kind == ActivityKind::SelfAudit {
                0
            } else {
                min_chars
            },
        });
    }
    activities
}

/// A DU unit's lessons below this number is a warning (below 2, an error).
const DU_UNIT_LESSONS: usize = 3;

/// The shortest free-text answer an activity accepts unless it says otherwise.
pub const DEFAULT_MIN_CHARS: u32 = 200;

fn is_slug(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
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

    /// The warnings of one lesson file of `fixture`, as `(line, message)`.
    fn warnings_of(fixture: &Fixture, relative: &str) -> Vec<(usize, String)> {
        fixture
            .warnings()
            .into_iter()
            .filter(|w| w.path == fixture.path(relative))
            .map(|w| (w.line, w.message))
            .collect()
    }

    #[test]
    fn a_lesson_without_review_date_references_or_honest_minutes_is_warned() {
        let fixture = Fixture::new();
        let warned = warnings_of(&fixture, "lessons/01-lecon.md");
        let messages: Vec<&str> = warned.iter().map(|(_, m)| m.as_str()).collect();
        assert_eq!(
            messages[..2],
            [
                "leçon sans date de relecture (reviewed_on)",
                "leçon sans sources ([[references]])"
            ]
        );
        // Ten minutes announced for a dozen words and no activity.
        assert_eq!(warned[2].0, 3);
        assert!(
            warned[2]
                .1
                .starts_with("minutes = 10 mais la leçon se lit en 1 min"),
            "{}",
            warned[2].1
        );
    }

    #[test]
    fn references_review_date_and_activities_are_read_and_back_the_minutes() {
        let fixture = Fixture::new();
        fixture.write(
            "lessons/01-lecon.md",
            &lesson(
                "title = \"Leçon 1\"\nminutes = 10\nreviewed_on = 2026-12-06\n\n\
                 [[references]]\ntitle = \"Stratégie nationale\"\npublisher = \"Ministère\"\n\
                 year = 2017\nurl = \"https://solidarites-sante.gouv.fr\"\n\n\
                 [[activities]]\nid = \"audit\"\nkind = \"self_audit\"\ntitle = \"Mon cabinet\"\n\
                 minutes = 8\nprompt = \"Cochez.\"\nitems = [{ text = \"A\", advice = \"a\" }, \
                 { text = \"B\", advice = \"b\" }, { text = \"C\", advice = \"c\" }]\n",
                "\nTexte de la leçon 1.\n",
            ),
        );
        assert!(warnings_of(&fixture, "lessons/01-lecon.md").is_empty());
        let course = fixture.load().course;
        let first = &course.lessons[0];
        assert_eq!(first.reviewed_on, NaiveDate::from_ymd_opt(2026, 12, 6));
        assert_eq!(first.references[0].year, 2017);
        assert_eq!(first.activities[0].kind, ActivityKind::SelfAudit);
        assert_eq!(first.activities[0].items.len(), 3);
    }

    #[test]
    fn an_activity_must_have_what_its_kind_needs() {
        let fixture = Fixture::new();
        fixture.write(
            "lessons/01-lecon.md",
            &lesson(
                "title = \"Leçon 1\"\nminutes = 10\n\n\
                 [[activities]]\nid = \"cas\"\nkind = \"case\"\ntitle = \"Un cas\"\nminutes = 10\n\
                 prompt = \"Que faites-vous ?\"\n\n\
                 [[activities]]\nid = \"cas\"\nkind = \"quiz\"\ntitle = \"X\"\nminutes = 0\nprompt = \"\"\n",
                "\nTexte.\n",
            ),
        );
        let problems = fixture.problems();
        let messages: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "une analyse de cas a un commentaire d'expert (commentary)",
                "activité « cas » en double",
                "kind : self_audit, case, reflection ou action_plan",
            ]
        );
    }

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
    fn a_second_lesson_with_a_taken_number_a_folder_and_a_huge_file_are_reported() {
        let fixture = Fixture::new();
        fixture.write("lessons/03-doublon.md", &lesson(FRONT, "\nTexte.\n"));
        fixture.write("lessons/07-dossier.md/notes.md", "Notes.\n");
        let huge = "a".repeat(super::super::report::MAX_FILE_BYTES as usize + 1);
        fixture.write("lessons/08-enorme.md", &huge);
        let problems = fixture.problems();
        assert_reported(
            &problems,
            &fixture.path("lessons/03-lecon.md"),
            1,
            "numéro de leçon 03 déjà pris par 03-doublon.md",
        );
        assert_reported(
            &problems,
            &fixture.path("lessons/07-dossier.md"),
            1,
            "dossier inattendu parmi les leçons",
        );
        assert_reported(
            &problems,
            &fixture.path("lessons/08-enorme.md"),
            1,
            "fichier trop volumineux : 2.0 Mo, au plus 2 Mo",
        );
        assert_eq!(problems.len(), 3, "{problems:#?}");
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
                warning: false,
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

/// A lesson file is text an author (or an editor's accident) wrote: loaded or reported on a
/// line of its own file, never a panic.
#[cfg(test)]
mod properties {
    use super::super::testing::Fixture;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn any_lesson_text_is_loaded_or_reported_on_one_of_its_lines(
            text in "(?s)(\\+\\+\\+\n)?(title = \"[^\"]{0,10}\"\n|minutes = -?[0-9]{1,3}\n|objectives = \\[\"o1\"\\]\n|.{0,40}\n){0,6}(\\+\\+\\+\n)?.{0,300}",
        ) {
            let fixture = Fixture::new();
            fixture.write("lessons/07-essai.md", &text);
            let path = fixture.path("lessons/07-essai.md");
            if let Err(problems) = super::super::load_course(&fixture.course) {
                let lines = text.lines().count().max(1);
                for p in problems.iter().filter(|p| p.path == path) {
                    prop_assert!((1..=lines + 1).contains(&p.line), "{p:?} in {lines} lines");
                }
            }
        }
    }
}
