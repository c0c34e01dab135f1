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
    Completion, Course, CourseKind, Criterion, Designer, Dpc, DpcActionType, DpcModality, DuRules,
    Objective, Orientation, Quiz, QuizRole, Thesis,
};
use crate::identity::model::Profession;
use crate::resources;

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
    let (lessons, units, content_minutes) =
        lesson::check_lessons(&mut r, &dir.join("lessons"), &file, kind, &objective_ids);
    let (bank, quizzes) = quiz::check_quizzes(
        &dir.join("quizzes"),
        kind,
        &objective_ids,
        &file.configuration,
        r.problems,
    );
    let completion = check_completion(&mut r, file.completion.as_ref(), &quizzes, hours);
    check_declared_hours(&mut r, &file, &completion, lessons.len(), &quizzes);
    check_content_hours(&mut r, &file, &completion, content_minutes, &quizzes);
    check_unit_assessments(&mut r, &file, kind, &quizzes);
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
    r: &mut FileReport<'_>,
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
    let kind = CourseKind::parse(file.kind.get_ref()).ok();
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
    r: &mut FileReport<'_>,
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
    r: &mut FileReport<'_>,
    dpc: Option<&Spanned<DpcFile>>,
    kind: Option<CourseKind>,
) -> Option<Dpc> {
    match (dpc, kind) {
        (Some(d), Some(CourseKind::Dpc)) => {
            let d = d.get_ref();
            let action_type = DpcActionType::parse(d.action_type.get_ref()).ok();
            if action_type.is_none() {
                r.on(
                    &d.action_type,
                    "action_type : formation_continue, epp, gestion_risques ou programme_integre",
                );
            }
            let modality = DpcModality::parse(d.modality.get_ref()).ok();
            if modality.is_none() {
                r.on(&d.modality, "modality : e_learning ou mixte");
            }
            let programme = check_dpc_programme(r, d);
            Some(Dpc {
                action_type: action_type?,
                modality: modality?,
                ..programme
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

/// What a DPC programme sheet carries besides its type: the professions it is for (DPC-
/// eligible ones), its last update, its designers and their declarations of interests,
/// its references, and the orientations it was designed for, each with its source. The
/// action type and modality are filled by the caller.
fn check_dpc_programme(r: &mut FileReport<'_>, d: &DpcFile) -> Dpc {
    let mut professions = Vec::new();
    for p in &d.target_professions {
        match Profession::parse(p.get_ref()) {
            Ok(Profession::Etudiant | Profession::Autre) => r.warn_on(
                p,
                format!(
                    "profession « {} » non éligible au DPC (public cible d'une formation DPC)",
                    p.get_ref()
                ),
            ),
            Ok(_) => professions.push(p.get_ref().clone()),
            Err(_) => r.on(p, format!("profession inconnue : « {} »", p.get_ref())),
        }
    }
    if d.target_professions.is_empty() {
        r.warn_at(0, "[dpc] sans public cible (target_professions)");
    }
    let updated_on = d.updated_on.as_ref().and_then(|u| lesson::date_of(r, u));
    if d.updated_on.is_none() {
        r.warn_at(0, "[dpc] sans date de mise à jour (updated_on)");
    }
    let mut designers = Vec::new();
    for designer in &d.designers {
        let f = designer.get_ref();
        let interests = f.interests.as_deref().map(str::trim).unwrap_or("");
        if interests.is_empty() {
            r.warn_on(
                designer,
                format!(
                    "concepteur « {} » sans déclaration d'intérêts (interests)",
                    f.name
                ),
            );
        }
        designers.push(Designer {
            name: f.name.trim().to_owned(),
            role: f.role.trim().to_owned(),
            interests: interests.to_owned(),
        });
    }
    if d.designers.is_empty() {
        r.warn_at(0, "[dpc] sans concepteurs ni experts ([[dpc.designers]])");
    }
    let references = lesson::check_references(r, &d.references);
    if references.is_empty() {
        r.warn_at(0, "[dpc] sans références ([[dpc.references]])");
    }
    let mut orientations = Vec::new();
    for o in &d.orientations {
        let f = o.get_ref();
        match f.source.as_deref().map(str::trim) {
            Some(source) if !source.is_empty() => orientations.push(Orientation {
                number: f.number,
                title: f.title.clone(),
                source: source.to_owned(),
            }),
            _ => r.warn_on(
                o,
                format!(
                    "orientation {} sans source : citez le texte qui la définit",
                    f.number
                ),
            ),
        }
    }
    Dpc {
        action_type: DpcActionType::FormationContinue,
        modality: DpcModality::ELearning,
        target_professions: professions,
        updated_on,
        orientations,
        designers,
        references,
    }
}

/// `[thesis]`: required for a DU, refused for any other course.
fn check_thesis(
    r: &mut FileReport<'_>,
    thesis: Option<&Spanned<ThesisFile>>,
    kind: Option<CourseKind>,
) -> Option<Thesis> {
    match (thesis, kind) {
        (Some(t), Some(CourseKind::Du)) => {
            let criteria: Vec<Criterion> = t
                .get_ref()
                .criteria
                .iter()
                .map(|c| Criterion {
                    name: c.get_ref().name.clone(),
                    weight: c.get_ref().weight,
                    description: c.get_ref().description.clone(),
                })
                .collect();
            for c in &t.get_ref().criteria {
                if !(1..=100).contains(&c.get_ref().weight) {
                    r.on(c, "poids d'un critère du mémoire : entre 1 et 100");
                }
            }
            let total: u64 = criteria.iter().map(|c| u64::from(c.weight)).sum();
            if criteria.is_empty() {
                r.warn_on(t, "mémoire sans grille d'évaluation ([[thesis.criteria]])");
            } else if total != 100 {
                r.on(
                    t,
                    format!("les poids des critères du mémoire font {total}, 100 attendus"),
                );
            }
            Some(Thesis {
                title: t.get_ref().title.clone(),
                description: t.get_ref().description.clone(),
                criteria,
            })
        }
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
fn check_configuration(r: &mut FileReport<'_>, configuration: &BTreeMap<String, String>) {
    for key in configuration.keys() {
        // The map keeps no spans: the first occurrence of the key is close enough.
        let offset = r.text.find(key.as_str()).unwrap_or(0);
        if key.is_empty()
            || !key
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            r.at(
                offset,
                format!("clé de configuration « {key} » : minuscules, chiffres et _ seulement"),
            );
        } else if resources::fields::get(key).is_none() {
            r.warn_at(
                offset,
                format!("clé « {key} » non reliée à un champ des ressources locales des organisations (src/resources/fields.toml)"),
            );
        }
    }
}

/// `[completion]`: the quizzes it requires must exist, and the minimum time must fit in
/// the announced duration. Checked after the quizzes, which it refers to.
fn check_completion(
    r: &mut FileReport<'_>,
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

/// The minutes a learner cannot complete the course in less than: the minimum time on
/// task (or the minimum reading time of every lesson, if longer) plus the time limits of
/// the quizzes to pass.
pub(crate) fn required_minutes(completion: &Completion, lessons: usize, quizzes: &[Quiz]) -> u32 {
    let reading = (lessons as u32 * completion.min_lesson_seconds).div_ceil(60);
    let quiz_time: u32 = quizzes
        .iter()
        .filter(|q| completion.required_quizzes.contains(&q.id))
        .filter_map(|q| q.time_limit_minutes)
        .sum();
    completion.min_minutes.max(reading) + quiz_time
}

/// The hours an attestation prints are the course's `duration_hours`: they may not exceed
/// what the completion rules make every learner spend, or a certificate would attest
/// hours nobody had to do.
fn check_declared_hours(
    r: &mut FileReport<'_>,
    file: &CourseFile,
    completion: &Completion,
    lessons: usize,
    quizzes: &[Quiz],
) {
    let declared = (*file.duration_hours.get_ref() * 60.0).round();
    let required = required_minutes(completion, lessons, quizzes);
    if declared > f64::from(required) {
        r.on(
            &file.duration_hours,
            format!(
                "duration_hours annonce {declared} min, mais les règles d'achèvement n'en exigent que {required} (temps minimal ou lecture minimale des leçons, plus la durée des quiz requis) : relevez min_minutes ou réduisez la durée"
            ),
        );
    }
}

/// The hours an attestation prints must be backed by content a learner works through:
/// the lessons' reading and activities, and the required quizzes.
fn check_content_hours(
    r: &mut FileReport<'_>,
    file: &CourseFile,
    completion: &Completion,
    content_minutes: f64,
    quizzes: &[Quiz],
) {
    let declared = (*file.duration_hours.get_ref() * 60.0).round();
    let quiz_time: u32 = quizzes
        .iter()
        .filter(|q| completion.required_quizzes.contains(&q.id))
        .filter_map(|q| q.time_limit_minutes)
        .sum();
    let backed = (content_minutes + f64::from(quiz_time)).floor();
    if declared > backed {
        r.warn_on(
            &file.duration_hours,
            format!(
                "duration_hours annonce {declared} min, mais le contenu n'en représente que {backed} (lecture des leçons à 150 mots/min, activités, durée des quiz requis) : ajoutez des activités ou réduisez la durée"
            ),
        );
    }
}

/// A DU unit is assessed online by a graded quiz with an attempt limit, whose best score
/// is the unit's online grade.
fn check_unit_assessments(
    r: &mut FileReport<'_>,
    file: &CourseFile,
    kind: Option<CourseKind>,
    quizzes: &[Quiz],
) {
    for unit in &file.units {
        match &unit.assessment {
            Some(a) => match quizzes.iter().find(|q| &q.id == a.get_ref()) {
                None => r.on(a, format!("quiz « {} » introuvable dans quizzes/", a.get_ref())),
                Some(q) if q.role != QuizRole::Graded || q.max_attempts.is_none() => r.on(
                    a,
                    format!(
                        "l'évaluation d'unité « {} » doit être un quiz role = \"graded\" avec max_attempts",
                        a.get_ref()
                    ),
                ),
                Some(_) => {}
            },
            None if kind == Some(CourseKind::Du) => r.warn_on(
                &unit.id,
                format!(
                    "unité « {} » sans évaluation notée (assessment)",
                    unit.id.get_ref()
                ),
            ),
            None => {}
        }
    }
}

/// `[du_rules]`: a DU without it gets the defaults; any other course may not have it.
fn check_du_rules(
    r: &mut FileReport<'_>,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::load::testing::{
        assert_exactly, line_with, reported, warned, Fixture, COURSE_HEAD,
    };
    use crate::catalog::load::{content_hash, Diagnostic};
    use crate::catalog::model::QuestionKind;

    /// Parses `text` as `course.toml` and runs `check` on it.
    fn on_course<T>(
        text: &str,
        check: impl FnOnce(&mut FileReport<'_>, &CourseFile) -> T,
    ) -> (T, Vec<Diagnostic>) {
        reported("course.toml", text, |r| {
            let file: CourseFile = r.parse("course.toml invalide").expect("parses");
            check(r, &file)
        })
    }

    #[test]
    fn a_valid_course_loads_with_everything_in_place() {
        let fixture = Fixture::new();
        let loaded = fixture.load();
        let course = &loaded.course;
        assert_eq!(course.slug, "mini");
        assert_eq!(course.kind, CourseKind::InitialModule);
        assert_eq!(course.duration_minutes, 120);
        assert_eq!(course.objectives.len(), 2);
        let lessons: Vec<(&str, u32)> = course
            .lessons
            .iter()
            .map(|l| (l.id.as_str(), l.position))
            .collect();
        assert_eq!(lessons[0], ("01-lecon", 1));
        assert_eq!(lessons[5], ("06-lecon", 6));
        assert!(course.lessons[2].html.contains("Texte de la leçon 3"));
        assert_eq!(course.bank.question_count(), 20);
        assert!(matches!(
            course.bank.questions[0].kind,
            QuestionKind::TrueFalse { answer: true }
        ));
        assert_eq!(course.quizzes.len(), 1);
        assert_eq!(course.quizzes[0].id, "final");
        assert_eq!(course.completion.min_minutes, 100);
        assert_eq!(course.completion.required_quizzes, ["final"]);
        assert!(course.dpc.is_none() && course.thesis.is_none() && course.du_rules.is_none());
        assert_eq!(loaded.content_hash, content_hash(&fixture.course).unwrap());
        assert_eq!(loaded.content_hash.len(), 64);
    }

    #[test]
    fn any_edit_makes_a_new_content_hash() {
        let fixture = Fixture::new();
        let before = fixture.load().content_hash;
        fixture.edit("lessons/02-lecon.md", |t| {
            t.replace("leçon 2.", "leçon 2 !")
        });
        assert_ne!(fixture.load().content_hash, before);
    }

    #[test]
    fn metadata_problems_point_at_their_values() {
        let text = COURSE_HEAD
            .replace("slug = \"mini\"", "slug = \"autre\"")
            .replace("\"initial_module\"", "\"mooc\"")
            .replace("\"fr\"", "\"en\"")
            .replace("2.0", "0.0");
        let ((kind, _), problems) = on_course(&text, |r, f| check_metadata(r, f, "mini"));
        assert_eq!(kind, None);
        assert_exactly(
            &problems,
            &[
                (1, "slug « autre » différent du nom du dossier « mini »"),
                (3, "kind inconnu : initial_module, dpc ou du"),
                (5, "seule la langue « fr » est prise en charge"),
                (7, "duration_hours doit être compris entre 0 et 500"),
            ],
        );
    }

    #[test]
    fn a_nan_duration_is_refused_and_a_valid_one_passes() {
        let nan = COURSE_HEAD.replace("2.0", "nan");
        let (_, problems) = on_course(&nan, |r, f| check_metadata(r, f, "mini"));
        assert_exactly(
            &problems,
            &[(7, "duration_hours doit être compris entre 0 et 500")],
        );
        let ((kind, hours), problems) = on_course(COURSE_HEAD, |r, f| check_metadata(r, f, "mini"));
        assert_eq!((kind, hours), (Some(CourseKind::InitialModule), 2.0));
        assert!(problems.is_empty(), "{problems:#?}");
    }

    #[test]
    fn objectives_are_required_and_unique() {
        let (_, problems) = on_course(COURSE_HEAD, |r, f| check_objectives(r, &f.objectives));
        assert_exactly(&problems, &[(1, "au moins un [[objectives]] est requis")]);

        let text = format!(
            "{COURSE_HEAD}[[objectives]]\nid = \"o1\"\ntext = \"A\"\n\n\
             [[objectives]]\nid = \"o1\"\ntext = \"B\"\n"
        );
        let ((objectives, ids), problems) =
            on_course(&text, |r, f| check_objectives(r, &f.objectives));
        assert_eq!(objectives.len(), 2);
        assert_eq!(ids.len(), 1);
        assert_exactly(&problems, &[(14, "objectif « o1 » en double")]);
    }

    #[test]
    fn the_dpc_section_goes_with_the_dpc_kind() {
        let (dpc, problems) = on_course(COURSE_HEAD, |r, f| {
            check_dpc(r, f.dpc.as_ref(), Some(CourseKind::Dpc))
        });
        assert!(dpc.is_none());
        assert_exactly(
            &problems,
            &[(1, "une formation DPC doit avoir une section [dpc]")],
        );

        let text =
            format!("{COURSE_HEAD}\n[dpc]\naction_type = \"atelier\"\nmodality = \"presentiel\"\n");
        let (dpc, problems) = on_course(&text, |r, f| {
            check_dpc(r, f.dpc.as_ref(), Some(CourseKind::Dpc))
        });
        assert!(
            dpc.is_none(),
            "a section with unknown codes is reported, not kept"
        );
        assert_exactly(
            &problems,
            &[
                (
                    line_with(&text, "action_type"),
                    "action_type : formation_continue, epp, gestion_risques ou programme_integre",
                ),
                (
                    line_with(&text, "modality"),
                    "modality : e_learning ou mixte",
                ),
            ],
        );

        let (dpc, problems) = on_course(&text, |r, f| {
            check_dpc(r, f.dpc.as_ref(), Some(CourseKind::InitialModule))
        });
        assert!(dpc.is_none());
        assert_exactly(
            &problems,
            &[(
                line_with(&text, "[dpc]"),
                "[dpc] réservé aux formations de kind = \"dpc\"",
            )],
        );
    }

    #[test]
    fn a_dpc_programme_sheet_is_complete_and_for_eligible_professions_only() {
        let dpc = |rest: &str| {
            format!("{COURSE_HEAD}\n[dpc]\naction_type = \"programme_integre\"\nmodality = \"e_learning\"\n{rest}")
        };
        let bare = dpc("");
        let (programme, warnings) = warned("course.toml", &bare, |r| {
            let f: CourseFile = r.parse("x").expect("parses");
            check_dpc(r, f.dpc.as_ref(), Some(CourseKind::Dpc))
        });
        assert_eq!(
            programme.expect("kept").action_type,
            DpcActionType::ProgrammeIntegre
        );
        let messages: Vec<&str> = warnings.iter().map(|w| w.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "[dpc] sans public cible (target_professions)",
                "[dpc] sans date de mise à jour (updated_on)",
                "[dpc] sans concepteurs ni experts ([[dpc.designers]])",
                "[dpc] sans références ([[dpc.references]])",
            ]
        );

        let text = dpc(
            "target_professions = [\"medecin\", \"etudiant\"]\nupdated_on = 2026-12-06\n\
             [[dpc.orientations]]\nnumber = 3\ntitle = \"Sans source\"\n\
             [[dpc.designers]]\nname = \"Équipe\"\nrole = \"Conception\"\n\
             [[dpc.references]]\ntitle = \"Stratégie\"\npublisher = \"Ministère\"\nyear = 2017\n",
        );
        let (programme, warnings) = warned("course.toml", &text, |r| {
            let f: CourseFile = r.parse("x").expect("parses");
            check_dpc(r, f.dpc.as_ref(), Some(CourseKind::Dpc))
        });
        let programme = programme.expect("kept");
        assert_eq!(programme.target_professions, ["medecin"]);
        assert!(programme.orientations.is_empty());
        assert_exactly(
            &warnings,
            &[
                (
                    line_with(&text, "target_professions"),
                    "profession « etudiant » non éligible au DPC (public cible d'une formation DPC)",
                ),
                (
                    line_with(&text, "Équipe") - 1,
                    "concepteur « Équipe » sans déclaration d'intérêts (interests)",
                ),
                (
                    line_with(&text, "number = 3") - 1,
                    "orientation 3 sans source : citez le texte qui la définit",
                ),
            ],
        );
    }

    #[test]
    fn the_thesis_goes_with_a_du() {
        let (_, problems) = on_course(COURSE_HEAD, |r, f| {
            check_thesis(r, f.thesis.as_ref(), Some(CourseKind::Du))
        });
        assert_exactly(
            &problems,
            &[(1, "un DU doit décrire son mémoire dans [thesis]")],
        );

        let text =
            format!("{COURSE_HEAD}\n[thesis]\ntitle = \"Mémoire\"\ndescription = \"Écrit\"\n");
        let (thesis, problems) = on_course(&text, |r, f| {
            check_thesis(r, f.thesis.as_ref(), Some(CourseKind::Du))
        });
        assert_eq!(thesis.expect("kept").title, "Mémoire");
        assert!(problems.is_empty(), "{problems:#?}");

        let (thesis, problems) = on_course(&text, |r, f| {
            check_thesis(r, f.thesis.as_ref(), Some(CourseKind::Dpc))
        });
        assert!(thesis.is_none());
        assert_exactly(
            &problems,
            &[(line_with(&text, "[thesis]"), "[thesis] réservé aux DU")],
        );
    }

    #[test]
    fn configuration_keys_are_lowercase_digits_and_underscores() {
        let text =
            format!("{COURSE_HEAD}\n[configuration]\nreferent_2 = \"ok\"\n\"Ma Clé\" = \"non\"\n");
        let (_, problems) = on_course(&text, |r, f| check_configuration(r, &f.configuration));
        assert_exactly(
            &problems,
            &[(
                line_with(&text, "Ma Clé"),
                "clé de configuration « Ma Clé » : minuscules, chiffres et _ seulement",
            )],
        );
    }

    #[test]
    fn completion_names_existing_quizzes_and_fits_the_duration() {
        let text = format!(
            "{COURSE_HEAD}\n[completion]\nmin_minutes = 121\nsequential = true\n\
             required_quizzes = [\"final\"]\n"
        );
        let (completion, problems) = on_course(&text, |r, f| {
            check_completion(r, f.completion.as_ref(), &[], 2.0)
        });
        assert!(completion.sequential);
        assert_exactly(
            &problems,
            &[
                (
                    line_with(&text, "required_quizzes"),
                    "quiz « final » introuvable dans quizzes/",
                ),
                (
                    line_with(&text, "min_minutes"),
                    "min_minutes dépasse la durée de la formation",
                ),
            ],
        );
        let (completion, problems) = on_course(COURSE_HEAD, |r, f| {
            check_completion(r, f.completion.as_ref(), &[], 2.0)
        });
        assert_eq!(completion, Completion::default());
        assert!(problems.is_empty());
    }

    #[test]
    fn declared_hours_may_not_exceed_what_completion_requires() {
        let fixture = Fixture::new();
        // 100 min of time on task plus the 20 min final quiz: 2 h may be declared, not 2.5.
        fixture.edit("course.toml", |t| {
            t.replace("duration_hours = 2.0", "duration_hours = 2.5")
        });
        let problems = fixture.problems();
        let text = std::fs::read_to_string(fixture.path("course.toml")).unwrap();
        assert_exactly(
            &problems,
            &[(
                line_with(&text, "duration_hours"),
                "duration_hours annonce 150 min, mais les règles d'achèvement n'en exigent que 120 (temps minimal ou lecture minimale des leçons, plus la durée des quiz requis) : relevez min_minutes ou réduisez la durée",
            )],
        );
        // Reading time counts when it is longer than the minimum time on task.
        fixture.edit("course.toml", |t| {
            t.replace(
                "min_minutes = 100",
                "min_minutes = 10\nmin_lesson_seconds = 1300",
            )
        });
        assert_eq!(fixture.load().course.duration_minutes, 150);
    }

    #[test]
    fn du_rules_are_marks_out_of_twenty_for_a_du_only() {
        let (rules, problems) = on_course(COURSE_HEAD, |r, f| {
            check_du_rules(r, f.du_rules.as_ref(), Some(CourseKind::Du))
        });
        assert_eq!(rules, Some(DuRules::default()));
        assert!(problems.is_empty());

        let text = format!(
            "{COURSE_HEAD}\n[du_rules]\nunit_pass_mark = 25.0\nthesis_pass_mark = 12.0\n\
             compensation = true\n"
        );
        let (rules, problems) = on_course(&text, |r, f| {
            check_du_rules(r, f.du_rules.as_ref(), Some(CourseKind::Du))
        });
        let rules = rules.expect("a DU has rules");
        assert_eq!(rules.unit_pass_mark, 10.0, "an invalid mark falls back");
        assert_eq!(rules.thesis_pass_mark, 12.0);
        assert!(rules.compensation);
        assert_exactly(
            &problems,
            &[(
                line_with(&text, "unit_pass_mark"),
                "note sur 20 attendue (0 à 20)",
            )],
        );

        let (_, problems) = on_course(&text, |r, f| {
            check_du_rules(r, f.du_rules.as_ref(), Some(CourseKind::Dpc))
        });
        let messages: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
        assert_eq!(
            messages,
            ["[du_rules] réservé aux DU", "note sur 20 attendue (0 à 20)"]
        );
    }

    #[test]
    fn a_broken_course_toml_stops_at_its_syntax_error() {
        let fixture = Fixture::new();
        fixture.edit("course.toml", |t| {
            t.replacen("summary =", "colour = \"bleu\"\nsummary =", 1)
        });
        let problems = fixture.problems();
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert_eq!(problems[0].path, fixture.path("course.toml"));
        assert_eq!(problems[0].line, fixture.line_with("course.toml", "colour"));
        assert!(
            problems[0].message.starts_with("course.toml invalide : ")
                && problems[0].message.contains("colour"),
            "{}",
            problems[0].message
        );
    }
}
