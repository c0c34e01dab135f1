//! Reading a `courses/` folder into validated [`Course`]s, or into the list of everything
//! wrong with it, each problem as `path:line: message`.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use toml::Spanned;

use super::files::{
    Answer, BankFile, Correct, CourseFile, LessonFrontMatter, QuestionFile, QuizFile,
};
use super::markdown;
use super::model::*;

pub const MIN_LESSONS: usize = 6;
pub const MIN_BANK: usize = 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub path: PathBuf,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.path.display(), self.line, self.message)
    }
}

#[derive(Debug, Clone)]
pub struct LoadedCourse {
    pub course: Course,
    /// SHA-256 of every file of the course: the identity of a version.
    pub content_hash: String,
}

/// Loads every course folder under `root` (sorted by name).
pub fn load_dir(root: &Path) -> Result<Vec<LoadedCourse>, Vec<Diagnostic>> {
    let entries = std::fs::read_dir(root).map_err(|e| {
        vec![Diagnostic {
            path: root.to_path_buf(),
            line: 1,
            message: format!("dossier illisible : {e}"),
        }]
    })?;
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
    let mut courses = Vec::new();
    let mut problems = Vec::new();
    for dir in dirs {
        match load_course(&dir) {
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

/// Collects problems against one file, turning byte offsets into line numbers.
struct FileReport<'a> {
    path: PathBuf,
    text: &'a str,
    /// Lines before `text` starts in the file (a lesson body after its front matter).
    line_offset: usize,
    problems: &'a mut Vec<Diagnostic>,
}

impl FileReport<'_> {
    fn line_of(&self, offset: usize) -> usize {
        let offset = offset.min(self.text.len());
        self.line_offset + self.text[..offset].matches('\n').count() + 1
    }
    fn at(&mut self, offset: usize, message: impl Into<String>) {
        let line = self.line_of(offset);
        self.problems.push(Diagnostic {
            path: self.path.clone(),
            line,
            message: message.into(),
        });
    }
    fn on<T>(&mut self, value: &Spanned<T>, message: impl Into<String>) {
        self.at(value.span().start, message);
    }
    fn parse<T: serde::de::DeserializeOwned>(&mut self, what: &str) -> Option<T> {
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

fn read(path: &Path, problems: &mut Vec<Diagnostic>) -> Option<String> {
    match std::fs::read_to_string(path) {
        Ok(text) => Some(text),
        Err(e) => {
            problems.push(Diagnostic {
                path: path.to_path_buf(),
                line: 1,
                message: format!("fichier illisible : {e}"),
            });
            None
        }
    }
}

fn sorted_files(dir: &Path, extension: &str) -> Vec<PathBuf> {
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
        let bytes = std::fs::read(&file)?;
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(&bytes);
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
    let course = check_course(dir, &mut problems);
    match course {
        Some(course) if problems.is_empty() => {
            let content_hash = content_hash(dir).map_err(|e| {
                vec![Diagnostic {
                    path: dir.to_path_buf(),
                    line: 1,
                    message: format!("dossier illisible : {e}"),
                }]
            })?;
            Ok(LoadedCourse {
                course,
                content_hash,
            })
        }
        _ => Err(problems),
    }
}

fn check_course(dir: &Path, problems: &mut Vec<Diagnostic>) -> Option<Course> {
    let folder = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let course_path = dir.join("course.toml");
    let text = read(&course_path, problems)?;
    let mut r = FileReport {
        path: course_path,
        text: &text,
        line_offset: 0,
        problems,
    };
    let file: CourseFile = r.parse("course.toml invalide")?;

    if file.slug.get_ref() != &folder {
        r.on(
            &file.slug,
            format!(
                "slug « {} » différent du nom du dossier « {folder} »",
                file.slug.get_ref()
            ),
        );
    }
    let kind = CourseKind::parse(file.kind.get_ref());
    if kind.is_none() {
        r.on(&file.kind, "kind inconnu : initial_module, dpc ou du");
    }
    if file.language.get_ref() != "fr" {
        r.on(&file.language, "seule la langue « fr » est prise en charge");
    }
    let hours = *file.duration_hours.get_ref();
    if !(hours > 0.0 && hours <= 500.0) {
        r.on(
            &file.duration_hours,
            "duration_hours doit être compris entre 0 et 500",
        );
    }
    let mut objectives = Vec::new();
    let mut objective_ids = HashSet::new();
    for o in &file.objectives {
        if !objective_ids.insert(o.id.get_ref().clone()) {
            r.on(&o.id, format!("objectif « {} » en double", o.id.get_ref()));
        }
        objectives.push(Objective {
            id: o.id.get_ref().clone(),
            text: o.text.clone(),
        });
    }
    if objectives.is_empty() {
        r.at(0, "au moins un [[objectives]] est requis");
    }
    let dpc = match (&file.dpc, kind) {
        (Some(d), Some(CourseKind::Dpc)) => {
            let d = d.get_ref();
            if !["formation_continue", "epp", "gestion_risques"]
                .contains(&d.action_type.get_ref().as_str())
            {
                r.on(
                    &d.action_type,
                    "action_type : formation_continue, epp ou gestion_risques",
                );
            }
            if !["e_learning", "mixte"].contains(&d.modality.get_ref().as_str()) {
                r.on(&d.modality, "modality : e_learning ou mixte");
            }
            Some(Dpc {
                action_type: d.action_type.get_ref().clone(),
                modality: d.modality.get_ref().clone(),
                orientations: d.orientations.clone(),
            })
        }
        (None, Some(CourseKind::Dpc)) => {
            r.at(0, "une formation DPC doit avoir une section [dpc]");
            None
        }
        (Some(d), _) => {
            r.on(d, "[dpc] réservé aux formations de kind = \"dpc\"");
            None
        }
        (None, _) => None,
    };
    let thesis = match (&file.thesis, kind) {
        (Some(t), Some(CourseKind::Du)) => Some(Thesis {
            title: t.get_ref().title.clone(),
            description: t.get_ref().description.clone(),
        }),
        (None, Some(CourseKind::Du)) => {
            r.at(0, "un DU doit décrire son mémoire dans [thesis]");
            None
        }
        (Some(t), _) => {
            r.on(t, "[thesis] réservé aux DU");
            None
        }
        (None, _) => None,
    };
    for key in file.configuration.keys() {
        if key.is_empty()
            || !key
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            r.at(
                text.find(key.as_str()).unwrap_or(0),
                format!("clé de configuration « {key} » : minuscules, chiffres et _ seulement"),
            );
        }
    }

    // Lessons
    let lessons_dir = dir.join("lessons");
    let mut lessons = Vec::new();
    for (position, path) in sorted_files(&lessons_dir, "md").into_iter().enumerate() {
        if let Some(lesson) = check_lesson(
            &path,
            position as u32 + 1,
            &objective_ids,
            &file.configuration,
            r.problems,
        ) {
            lessons.push(lesson);
        }
    }
    let lesson_ids: HashSet<String> = lessons.iter().map(|l| l.id.clone()).collect();

    // Units
    let mut units = Vec::new();
    let mut unit_ids = HashSet::new();
    let mut placed: BTreeMap<String, String> = BTreeMap::new();
    for unit in &file.units {
        if !unit_ids.insert(unit.id.get_ref().clone()) {
            r.on(
                &unit.id,
                format!("unité « {} » en double", unit.id.get_ref()),
            );
        }
        for lesson in &unit.lessons {
            if !lesson_ids.contains(lesson.get_ref()) {
                r.on(
                    lesson,
                    format!("leçon « {} » introuvable dans lessons/", lesson.get_ref()),
                );
            } else if let Some(other) =
                placed.insert(lesson.get_ref().clone(), unit.id.get_ref().clone())
            {
                r.on(
                    lesson,
                    format!(
                        "leçon « {} » déjà dans l'unité « {other} »",
                        lesson.get_ref()
                    ),
                );
            }
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
    for lesson in &mut lessons {
        lesson.unit = placed.get(&lesson.id).cloned();
    }
    let min_lessons = if kind == Some(CourseKind::Du) {
        MIN_LESSONS.max(2 * units.len())
    } else {
        MIN_LESSONS
    };
    if lessons.len() < min_lessons {
        r.problems.push(Diagnostic {
            path: lessons_dir.clone(),
            line: 1,
            message: format!(
                "{} leçon(s) : au moins {min_lessons} attendues",
                lessons.len()
            ),
        });
    }

    // Quizzes
    let quizzes_dir = dir.join("quizzes");
    let bank = check_bank(
        &quizzes_dir.join("banque.toml"),
        &objective_ids,
        &file.configuration,
        r.problems,
    )
    .unwrap_or_default();
    let mut quizzes = Vec::new();
    for path in sorted_files(&quizzes_dir, "toml") {
        if path.file_name().is_some_and(|n| n == "banque.toml") {
            continue;
        }
        if let Some(quiz) = check_quiz(&path, &bank, &objective_ids, r.problems) {
            quizzes.push(quiz);
        }
    }
    check_quiz_set(&quizzes_dir, kind, &quizzes, &bank, r.problems);
    let completion = match &file.completion {
        None => Completion::default(),
        Some(c) => {
            let c = c.get_ref();
            for quiz in &c.required_quizzes {
                if !quizzes.iter().any(|q| &q.id == quiz.get_ref()) {
                    r.on(
                        quiz,
                        format!("quiz « {} » introuvable dans quizzes/", quiz.get_ref()),
                    );
                }
            }
            if let Some(m) = &c.min_minutes {
                if *m.get_ref() as f64 > hours * 60.0 {
                    r.on(m, "min_minutes dépasse la durée de la formation");
                }
            }
            Completion {
                min_minutes: c.min_minutes.as_ref().map_or(0, |m| *m.get_ref()),
                sequential: c.sequential,
                min_lesson_seconds: c.min_lesson_seconds.as_ref().map_or(0, |m| *m.get_ref()),
                required_quizzes: c
                    .required_quizzes
                    .iter()
                    .map(|q| q.get_ref().clone())
                    .collect(),
            }
        }
    };

    let du_rules = match (&file.du_rules, kind) {
        (None, Some(CourseKind::Du)) => Some(DuRules::default()),
        (None, _) => None,
        (Some(rules), kind) => {
            if kind != Some(CourseKind::Du) {
                r.on(rules, "[du_rules] réservé aux DU");
            }
            let rules = rules.get_ref();
            let defaults = DuRules::default();
            let mut mark = |m: &Option<Spanned<f64>>, default: f64| match m {
                Some(m) if !(0.0..=20.0).contains(m.get_ref()) => {
                    r.on(m, "note sur 20 attendue (0 à 20)");
                    default
                }
                Some(m) => *m.get_ref(),
                None => default,
            };
            Some(DuRules {
                unit_pass_mark: mark(&rules.unit_pass_mark, defaults.unit_pass_mark),
                thesis_pass_mark: mark(&rules.thesis_pass_mark, defaults.thesis_pass_mark),
                attendance_required: rules
                    .attendance_required
                    .unwrap_or(defaults.attendance_required),
                compensation: rules.compensation.unwrap_or(defaults.compensation),
                online_required: rules.online_required.unwrap_or(defaults.online_required),
            })
        }
    };

    Some(Course {
        slug: file.slug.into_inner(),
        title: file.title,
        kind: kind?,
        audience: file.audience,
        language: file.language.into_inner(),
        version_label: file.version,
        duration_minutes: (hours * 60.0).round() as u32,
        summary: file.summary,
        objectives,
        dpc,
        units,
        thesis,
        configuration: file.configuration,
        completion,
        du_rules,
        lessons,
        bank,
        quizzes,
    })
}

fn check_lesson(
    path: &Path,
    position: u32,
    objectives: &HashSet<String>,
    configuration: &BTreeMap<String, String>,
    problems: &mut Vec<Diagnostic>,
) -> Option<Lesson> {
    let text = read(path, problems)?;
    let id = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut whole = FileReport {
        path: path.to_path_buf(),
        text: &text,
        line_offset: 0,
        problems,
    };
    let numbered = id.len() > 3
        && id.as_bytes()[..2].iter().all(u8::is_ascii_digit)
        && id.as_bytes()[2] == b'-';
    if !numbered {
        whole.at(0, "nom de leçon attendu : NN-nom.md (NN = 01, 02, …)");
    }
    let Some(rest) = text.strip_prefix("+++\n") else {
        whole.at(
            0,
            "la leçon doit commencer par un en-tête TOML entre deux lignes +++",
        );
        return None;
    };
    let Some(end) = rest
        .find("\n+++\n")
        .or_else(|| rest.strip_suffix("\n+++").map(|r| r.len()))
    else {
        whole.at(0, "en-tête TOML non refermé par une ligne +++");
        return None;
    };
    let front = &rest[..end + 1];
    let body = rest.get(end + 5..).unwrap_or("");
    let front_lines = 1 + front.matches('\n').count() + 1;
    let mut fm = FileReport {
        path: path.to_path_buf(),
        text: front,
        line_offset: 1,
        problems: whole.problems,
    };
    let matter: LessonFrontMatter = fm.parse("en-tête de leçon invalide")?;
    if !(1..=240).contains(matter.minutes.get_ref()) {
        fm.on(&matter.minutes, "minutes : entre 1 et 240");
    }
    for o in &matter.objectives {
        if !objectives.contains(o.get_ref()) {
            fm.on(o, format!("objectif « {} » inconnu", o.get_ref()));
        }
    }
    let mut md = FileReport {
        path: path.to_path_buf(),
        text: body,
        line_offset: front_lines,
        problems: fm.problems,
    };
    if body.trim().is_empty() {
        md.at(0, "leçon vide");
    }
    for issue in markdown::check(body, configuration) {
        md.at(issue.offset, issue.message);
    }
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

fn check_bank(
    path: &Path,
    objectives: &HashSet<String>,
    configuration: &BTreeMap<String, String>,
    problems: &mut Vec<Diagnostic>,
) -> Option<Bank> {
    let text = read(path, problems)?;
    let mut r = FileReport {
        path: path.to_path_buf(),
        text: &text,
        line_offset: 0,
        problems,
    };
    let file: BankFile = r.parse("banque de questions invalide")?;
    let mut ids = HashSet::new();
    let mut bank = Bank::default();
    let mut unique = |r: &mut FileReport<'_>, id: &Spanned<String>| {
        if !ids.insert(id.get_ref().clone()) {
            r.on(id, format!("identifiant « {} » en double", id.get_ref()));
        }
    };
    for q in file.questions {
        unique(&mut r, &q.id);
        if let Some(q) = check_question(&mut r, q, objectives) {
            bank.questions.push(q);
        }
    }
    for v in file.vignettes {
        unique(&mut r, &v.id);
        if !objectives.contains(v.objective.get_ref()) {
            r.on(
                &v.objective,
                format!("objectif « {} » inconnu", v.objective.get_ref()),
            );
        }
        for issue in markdown::check(v.case.get_ref(), configuration) {
            r.on(&v.case, issue.message);
        }
        if v.questions.is_empty() {
            r.on(&v.id, "une vignette regroupe au moins une question");
        }
        let mut questions = Vec::new();
        for q in v.questions {
            unique(&mut r, &q.id);
            if let Some(q) = check_question(&mut r, q, objectives) {
                questions.push(q);
            }
        }
        bank.vignettes.push(Vignette {
            id: v.id.into_inner(),
            objective: v.objective.into_inner(),
            title: v.title,
            case_html: markdown::render(v.case.get_ref(), configuration),
            questions,
        });
    }
    if bank.question_count() < MIN_BANK {
        r.at(
            0,
            format!(
                "{} question(s) dans la banque : au moins {MIN_BANK} attendues",
                bank.question_count()
            ),
        );
    }
    Some(bank)
}

fn check_question(
    r: &mut FileReport<'_>,
    q: QuestionFile,
    objectives: &HashSet<String>,
) -> Option<Question> {
    let kind_name = q.kind.get_ref().as_str();
    if !objectives.contains(q.objective.get_ref()) {
        r.on(
            &q.objective,
            format!("objectif « {} » inconnu", q.objective.get_ref()),
        );
    }
    let feedback = match q.feedback {
        Some(f) if !f.trim().is_empty() => f,
        _ => {
            r.on(&q.id, "feedback obligatoire : expliquez la bonne réponse");
            String::new()
        }
    };
    let points = q.points.as_ref().map_or(1, |p| *p.get_ref());
    if let Some(p) = &q.points {
        if !(1..=100).contains(p.get_ref()) {
            r.on(p, "points : entre 1 et 100");
        }
    }
    // Keys a type does not use are refused, so a typo cannot silently drop an answer.
    let allowed: &[&str] = match kind_name {
        "single_choice" => &["choices", "correct"],
        "multiple_choice" => &["choices", "correct", "scoring"],
        "true_false" => &["answer"],
        "matching" => &["pairs"],
        "ordering" => &["items"],
        "numeric" => &["answer", "tolerance", "unit"],
        _ => {
            r.on(&q.kind, "type inconnu : single_choice, multiple_choice, true_false, matching, ordering ou numeric");
            return None;
        }
    };
    let present: [(&str, Option<usize>); 8] = [
        ("scoring", q.scoring.as_ref().map(|v| v.span().start)),
        ("choices", q.choices.as_ref().map(|v| v.span().start)),
        ("correct", q.correct.as_ref().map(|v| v.span().start)),
        ("answer", q.answer.as_ref().map(|v| v.span().start)),
        ("tolerance", q.tolerance.as_ref().map(|v| v.span().start)),
        ("unit", q.unit.as_ref().map(|_| q.id.span().start)),
        ("pairs", q.pairs.as_ref().map(|v| v.span().start)),
        ("items", q.items.as_ref().map(|v| v.span().start)),
    ];
    for (key, offset) in present {
        if let Some(offset) = offset.filter(|_| !allowed.contains(&key)) {
            r.at(
                offset,
                format!("« {key} » n'a pas de sens pour une question {kind_name}"),
            );
        }
    }
    let missing = |r: &mut FileReport<'_>, key: &str| {
        r.on(&q.id, format!("question {kind_name} sans « {key} »"))
    };
    let kind = match kind_name {
        "single_choice" | "multiple_choice" => {
            let Some(choices) = q.choices else {
                missing(r, "choices");
                return None;
            };
            let span = choices.span().start;
            let choices: Vec<Choice> = choices
                .into_inner()
                .into_iter()
                .map(|c| Choice {
                    id: c.id,
                    text: c.text,
                })
                .collect();
            let mut seen = HashSet::new();
            if choices.iter().any(|c| !seen.insert(c.id.clone())) {
                r.at(span, "choix en double");
            }
            if choices.len() < 2 {
                r.at(span, "au moins 2 choix");
            }
            let Some(correct) = q.correct else {
                missing(r, "correct");
                return None;
            };
            let correct_span = correct.span().start;
            let ids: Vec<String> = match (kind_name, correct.into_inner()) {
                ("single_choice", Correct::One(id)) => vec![id],
                ("multiple_choice", Correct::Many(ids)) if !ids.is_empty() => ids,
                ("single_choice", _) => {
                    r.at(
                        correct_span,
                        "single_choice : correct = \"id\" (une seule bonne réponse)",
                    );
                    return None;
                }
                _ => {
                    r.at(
                        correct_span,
                        "multiple_choice : correct = [\"id\", …] (au moins une bonne réponse)",
                    );
                    return None;
                }
            };
            for id in &ids {
                if !seen.contains(id) {
                    r.at(
                        correct_span,
                        format!("bonne réponse « {id} » absente des choix"),
                    );
                }
            }
            if kind_name == "single_choice" {
                QuestionKind::SingleChoice {
                    choices,
                    correct: ids.into_iter().next().expect("one"),
                }
            } else {
                let partial = match q.scoring.as_ref().map(|s| s.get_ref().as_str()) {
                    None | Some("all_or_nothing") => false,
                    Some("partial") => true,
                    Some(_) => {
                        let scoring = q.scoring.as_ref().expect("matched");
                        r.on(scoring, "scoring : all_or_nothing ou partial");
                        false
                    }
                };
                QuestionKind::MultipleChoice {
                    choices,
                    correct: ids,
                    partial,
                }
            }
        }
        "true_false" => match q.answer.map(Spanned::into_inner) {
            Some(Answer::Bool(answer)) => QuestionKind::TrueFalse { answer },
            _ => {
                missing(r, "answer = true|false");
                return None;
            }
        },
        "matching" => {
            let Some(pairs) = q.pairs else {
                missing(r, "pairs");
                return None;
            };
            if pairs.get_ref().len() < 2 {
                r.on(&pairs, "au moins 2 paires");
            }
            QuestionKind::Matching {
                pairs: pairs
                    .into_inner()
                    .into_iter()
                    .map(|p| Pair {
                        left: p.left,
                        right: p.right,
                    })
                    .collect(),
            }
        }
        "ordering" => {
            let Some(items) = q.items else {
                missing(r, "items");
                return None;
            };
            if items.get_ref().len() < 2 {
                r.on(&items, "au moins 2 éléments à ordonner");
            }
            QuestionKind::Ordering {
                items: items.into_inner(),
            }
        }
        _ => {
            let answer = match q.answer.map(Spanned::into_inner) {
                Some(Answer::Number(n)) if n.is_finite() => n,
                _ => {
                    missing(r, "answer = nombre");
                    return None;
                }
            };
            let tolerance = q.tolerance.map_or(0.0, Spanned::into_inner);
            if !(tolerance >= 0.0 && tolerance.is_finite()) {
                r.on(&q.id, "tolerance : nombre positif ou nul");
            }
            QuestionKind::Numeric {
                answer,
                tolerance,
                unit: q.unit,
            }
        }
    };
    Some(Question {
        id: q.id.into_inner(),
        objective: q.objective.into_inner(),
        prompt: q.prompt,
        points,
        feedback,
        kind,
    })
}

fn check_quiz(
    path: &Path,
    bank: &Bank,
    objectives: &HashSet<String>,
    problems: &mut Vec<Diagnostic>,
) -> Option<Quiz> {
    let text = read(path, problems)?;
    let id = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut r = FileReport {
        path: path.to_path_buf(),
        text: &text,
        line_offset: 0,
        problems,
    };
    let file: QuizFile = r.parse("quiz invalide")?;
    let role = QuizRole::parse(file.role.get_ref());
    if role.is_none() {
        r.on(&file.role, "role : pre_test, post_test, graded ou practice");
    }
    let feedback = match &file.feedback {
        None => Some(FeedbackPolicy::AfterSubmit),
        Some(raw) => {
            let policy = FeedbackPolicy::parse(raw.get_ref());
            if policy.is_none() {
                r.on(raw, "feedback : after_submit, after_close ou never");
            }
            policy
        }
    };
    if !(0..=100).contains(file.pass_mark.get_ref()) {
        r.on(&file.pass_mark, "pass_mark : pourcentage entre 0 et 100");
    }
    for limit in [&file.time_limit_minutes, &file.max_attempts]
        .into_iter()
        .flatten()
    {
        if *limit.get_ref() == 0 {
            r.on(limit, "doit être au moins 1");
        }
    }
    let selection = match (file.draw.is_empty(), file.items) {
        (false, None) => {
            for d in &file.draw {
                if !objectives.contains(d.objective.get_ref()) {
                    r.on(
                        &d.objective,
                        format!("objectif « {} » inconnu", d.objective.get_ref()),
                    );
                } else if *d.count.get_ref() == 0
                    || *d.count.get_ref() as usize > bank.items_for(d.objective.get_ref())
                {
                    r.on(
                        &d.count,
                        format!(
                            "count = {} : la banque n'a que {} élément(s) pour l'objectif « {} »",
                            d.count.get_ref(),
                            bank.items_for(d.objective.get_ref()),
                            d.objective.get_ref()
                        ),
                    );
                }
            }
            Selection::Draw(
                file.draw
                    .into_iter()
                    .map(|d| Draw {
                        objective: d.objective.into_inner(),
                        count: d.count.into_inner(),
                    })
                    .collect(),
            )
        }
        (true, Some(items)) => {
            let known: HashSet<&str> = bank
                .questions
                .iter()
                .map(|q| q.id.as_str())
                .chain(bank.vignettes.iter().map(|v| v.id.as_str()))
                .collect();
            for item in items.get_ref() {
                if !known.contains(item.get_ref().as_str()) {
                    r.on(
                        item,
                        format!(
                            "« {} » n'est ni une question ni une vignette de la banque",
                            item.get_ref()
                        ),
                    );
                }
            }
            if items.get_ref().is_empty() {
                r.on(&items, "items vide");
            }
            Selection::Items(
                items
                    .into_inner()
                    .into_iter()
                    .map(Spanned::into_inner)
                    .collect(),
            )
        }
        _ => {
            r.at(
                0,
                "un quiz a soit des [[draw]], soit une liste items, pas les deux ni aucun",
            );
            return None;
        }
    };
    Some(Quiz {
        id,
        title: file.title,
        role: role?,
        pass_mark: (*file.pass_mark.get_ref()).clamp(0, 100) as u8,
        time_limit_minutes: file.time_limit_minutes.map(Spanned::into_inner),
        max_attempts: file.max_attempts.map(Spanned::into_inner),
        selection,
        feedback: feedback?,
        shuffle_questions: file.shuffle_questions.unwrap_or(true),
        shuffle_choices: file.shuffle_choices.unwrap_or(true),
    })
}

/// The objectives a quiz covers.
fn quiz_objectives(quiz: &Quiz, bank: &Bank) -> BTreeSet<String> {
    match &quiz.selection {
        Selection::Draw(draws) => draws.iter().map(|d| d.objective.clone()).collect(),
        Selection::Items(items) => items
            .iter()
            .filter_map(|id| {
                bank.questions
                    .iter()
                    .find(|q| &q.id == id)
                    .map(|q| q.objective.clone())
                    .or_else(|| {
                        bank.vignettes
                            .iter()
                            .find(|v| &v.id == id)
                            .map(|v| v.objective.clone())
                    })
            })
            .collect(),
    }
}

fn check_quiz_set(
    dir: &Path,
    kind: Option<CourseKind>,
    quizzes: &[Quiz],
    bank: &Bank,
    problems: &mut Vec<Diagnostic>,
) {
    let mut complain = |message: String| {
        problems.push(Diagnostic {
            path: dir.to_path_buf(),
            line: 1,
            message,
        })
    };
    let with_role = |role| quizzes.iter().find(|q| q.role == role);
    match kind {
        Some(CourseKind::Dpc) => {
            match (with_role(QuizRole::PreTest), with_role(QuizRole::PostTest)) {
                (Some(pre), Some(post)) => {
                    if quiz_objectives(pre, bank) != quiz_objectives(post, bank) {
                        complain(format!("le pré-test « {} » et le post-test « {} » doivent porter sur les mêmes objectifs", pre.id, post.id));
                    }
                }
                _ => complain(
                    "une formation DPC a un quiz role = \"pre_test\" et un role = \"post_test\""
                        .into(),
                ),
            }
        }
        Some(_) if with_role(QuizRole::Graded).is_none() => {
            complain("il manque un quiz role = \"graded\"".into())
        }
        _ => {}
    }
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
}
