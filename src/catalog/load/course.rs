//! `course.toml`: the course's own fields (slug, kind, language, duration), its
//! objectives, the sections that depend on the kind (`[dpc]`, `[thesis]`, `[du_rules]`),
//! the `[configuration]` keys and `[completion]`; and the assembly of the [`Course`] from
//! every checked file of the folder.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use toml::Spanned;

use super::report::{read, FileReport};
use super::{lesson, quiz, Diagnostic};
use crate::catalog::files::{
    CompletionFile, CourseFile, DpcFile, DuRulesFile, ObjectiveFile, ThesisFile,
};
use crate::catalog::model::{
    Completion, Course, CourseKind, Dpc, DuRules, Objective, Quiz, Thesis,
};

/// Checks the whole folder `dir`. Every file is checked even after a problem, so that an
/// author sees all of them at once; the course is only built if `course.toml` parsed.
pub(super) fn check_course(dir: &Path, problems: &mut Vec<Diagnostic>) -> Option<Course> {
    let folder = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let course_path = dir.join("course.toml");
    let text = read(&course_path, problems)?;
    let mut r = FileReport::new(&course_path, &text, problems);
    let file: CourseFile = r.parse("course.toml invalide")?;

    let (kind, hours) = check_metadata(&mut r, &file, &folder);
    let (objectives, objective_ids) = check_objectives(&mut r, &file.objectives);
    let dpc = check_dpc(&mut r, file.dpc.as_ref(), kind);
    let thesis = check_thesis(&mut r, file.thesis.as_ref(), kind);
    check_configuration(&mut r, &file.configuration);
    let (lessons, units) =
        lesson::check_lessons(&mut r, &dir.join("lessons"), &file, kind, &objective_ids);
    let (bank, quizzes) = quiz::check_quizzes(
        &dir.join("quizzes"),
        kind,
        &objective_ids,
        &file.configuration,
        r.problems,
    );
    let completion = check_completion(&mut r, file.completion.as_ref(), &quizzes, hours);
    let du_rules = check_du_rules(&mut r, file.du_rules.as_ref(), kind);

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

/// Slug, kind, language and duration; returns the kind (if known) and the hours.
fn check_metadata(
    r: &mut FileReport,
    file: &CourseFile,
    folder: &str,
) -> (Option<CourseKind>, f64) {
    // The slug names the course in URLs and in the database: the folder must agree, or
    // two folders could claim the same course.
    if file.slug.get_ref() != folder {
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
    // Written so that NaN fails too.
    if !(hours > 0.0 && hours <= 500.0) {
        r.on(
            &file.duration_hours,
            "duration_hours doit être compris entre 0 et 500",
        );
    }
    (kind, hours)
}

/// The objectives, and their ids for the lessons, questions and quizzes to refer to.
fn check_objectives(
    r: &mut FileReport,
    written: &[ObjectiveFile],
) -> (Vec<Objective>, HashSet<String>) {
    let mut objectives = Vec::new();
    let mut ids = HashSet::new();
    for o in written {
        if !ids.insert(o.id.get_ref().clone()) {
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
    (objectives, ids)
}

/// `[dpc]`: required for a DPC course, refused for any other.
fn check_dpc(
    r: &mut FileReport,
    dpc: Option<&Spanned<DpcFile>>,
    kind: Option<CourseKind>,
) -> Option<Dpc> {
    match (dpc, kind) {
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
    }
}

/// `[thesis]`: required for a DU, refused for any other course.
fn check_thesis(
    r: &mut FileReport,
    thesis: Option<&Spanned<ThesisFile>>,
    kind: Option<CourseKind>,
) -> Option<Thesis> {
    match (thesis, kind) {
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
    }
}

/// Configuration keys appear in `{{config:KEY}}` references and in the institutions'
/// settings, so they are kept to a spelling that survives both.
fn check_configuration(r: &mut FileReport, configuration: &BTreeMap<String, String>) {
    for key in configuration.keys() {
        if key.is_empty()
            || !key
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            // The map keeps no spans: the first occurrence of the key is close enough.
            let offset = r.text.find(key.as_str()).unwrap_or(0);
            r.at(
                offset,
                format!("clé de configuration « {key} » : minuscules, chiffres et _ seulement"),
            );
        }
    }
}

/// `[completion]`: the quizzes it requires must exist, and the minimum time must fit in
/// the announced duration. Checked after the quizzes, which it refers to.
fn check_completion(
    r: &mut FileReport,
    completion: Option<&Spanned<CompletionFile>>,
    quizzes: &[Quiz],
    hours: f64,
) -> Completion {
    let Some(c) = completion else {
        return Completion::default();
    };
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

/// `[du_rules]`: a DU without it gets the defaults; any other course may not have it.
fn check_du_rules(
    r: &mut FileReport,
    rules: Option<&Spanned<DuRulesFile>>,
    kind: Option<CourseKind>,
) -> Option<DuRules> {
    let Some(rules) = rules else {
        return (kind == Some(CourseKind::Du)).then(DuRules::default);
    };
    if kind != Some(CourseKind::Du) {
        r.on(rules, "[du_rules] réservé aux DU");
    }
    let rules = rules.get_ref();
    let defaults = DuRules::default();
    // An out-of-range mark is reported and replaced, so the other keys are still checked.
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
