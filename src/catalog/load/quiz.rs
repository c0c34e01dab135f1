//! `quizzes/`: the bank (checked by `bank`), each quiz file (role, marks, limits, and what
//! it asks: draws per objective or a fixed list of bank items), and the quizzes the kind
//! of course requires (a graded quiz; for a DPC, matching pre- and post-tests).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;

use toml::Spanned;

use super::bank::check_bank;
use super::report::{read, sorted_files, stem, whole, FileReport};
use super::Diagnostic;
use crate::catalog::files::{DrawFile, QuizFile};
use crate::catalog::model::{Bank, CourseKind, Draw, FeedbackPolicy, Quiz, QuizRole, Selection};

const BANK_FILE: &str = "banque.toml";

/// The bank and every quiz of `dir`. A bank that cannot be read counts as empty, so the
/// quizzes are still checked (and report what they cannot find).
pub(super) fn check_quizzes(
    dir: &Path,
    kind: Option<CourseKind>,
    objectives: &HashSet<String>,
    configuration: &BTreeMap<String, String>,
    problems: &mut Vec<Diagnostic>,
) -> (Bank, Vec<Quiz>) {
    let bank =
        check_bank(&dir.join(BANK_FILE), objectives, configuration, problems).unwrap_or_default();
    let mut quizzes = Vec::new();
    for path in sorted_files(dir, "toml") {
        if path.file_name().is_some_and(|n| n == BANK_FILE) {
            continue;
        }
        if let Some(quiz) = check_quiz(&path, &bank, objectives, problems) {
            quizzes.push(quiz);
        }
    }
    check_quiz_set(dir, kind, &quizzes, &bank, problems);
    (bank, quizzes)
}

/// One quiz file; its id is the file name.
fn check_quiz(
    path: &Path,
    bank: &Bank,
    objectives: &HashSet<String>,
    problems: &mut Vec<Diagnostic>,
) -> Option<Quiz> {
    let text = read(path, problems)?;
    let mut r = FileReport::new(path, &text, problems);
    let file: QuizFile = r.parse("quiz invalide")?;
    let (role, feedback) = check_settings(&mut r, &file);
    let selection = match (file.draw.is_empty(), file.items) {
        (false, None) => Selection::Draw(check_draws(&mut r, file.draw, bank, objectives)),
        (true, Some(items)) => Selection::Items(check_items(&mut r, items, bank)),
        _ => {
            r.at(
                0,
                "un quiz a soit des [[draw]], soit une liste items, pas les deux ni aucun",
            );
            return None;
        }
    };
    Some(Quiz {
        id: stem(path),
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

/// Role, feedback policy, pass mark and limits. An unknown role or policy is `None`
/// (reported) so that the selection is still checked before the quiz is dropped.
fn check_settings(
    r: &mut FileReport,
    file: &QuizFile,
) -> (Option<QuizRole>, Option<FeedbackPolicy>) {
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
    (role, feedback)
}

/// `[[draw]]`: each draw takes `count` items of one objective, so the bank must have
/// that many for it.
fn check_draws(
    r: &mut FileReport,
    draws: Vec<DrawFile>,
    bank: &Bank,
    objectives: &HashSet<String>,
) -> Vec<Draw> {
    for d in &draws {
        let objective = d.objective.get_ref();
        if !objectives.contains(objective) {
            r.on(&d.objective, format!("objectif « {objective} » inconnu"));
        } else if *d.count.get_ref() == 0 || *d.count.get_ref() as usize > bank.items_for(objective)
        {
            r.on(
                &d.count,
                format!(
                    "count = {} : la banque n'a que {} élément(s) pour l'objectif « {objective} »",
                    d.count.get_ref(),
                    bank.items_for(objective),
                ),
            );
        }
    }
    draws
        .into_iter()
        .map(|d| Draw {
            objective: d.objective.into_inner(),
            count: d.count.into_inner(),
        })
        .collect()
}

/// `items = [...]`: a fixed list of bank questions or vignettes, by id.
fn check_items(
    r: &mut FileReport,
    items: Spanned<Vec<Spanned<String>>>,
    bank: &Bank,
) -> Vec<String> {
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
    items
        .into_inner()
        .into_iter()
        .map(Spanned::into_inner)
        .collect()
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

/// The quizzes a kind of course needs. A DPC measures progress, so its pre- and
/// post-tests must cover the same objectives; other courses need a graded quiz.
/// Reported against the `quizzes/` folder, as no single file is at fault.
fn check_quiz_set(
    dir: &Path,
    kind: Option<CourseKind>,
    quizzes: &[Quiz],
    bank: &Bank,
    problems: &mut Vec<Diagnostic>,
) {
    let with_role = |role| quizzes.iter().find(|q| q.role == role);
    let message = match kind {
        Some(CourseKind::Dpc) => {
            match (with_role(QuizRole::PreTest), with_role(QuizRole::PostTest)) {
                (Some(pre), Some(post)) => (quiz_objectives(pre, bank)
                    != quiz_objectives(post, bank))
                .then(|| {
                    format!(
                        "le pré-test « {} » et le post-test « {} » doivent porter sur les mêmes objectifs",
                        pre.id, post.id
                    )
                }),
                _ => Some(
                    "une formation DPC a un quiz role = \"pre_test\" et un role = \"post_test\""
                        .into(),
                ),
            }
        }
        Some(_) if with_role(QuizRole::Graded).is_none() => {
            Some("il manque un quiz role = \"graded\"".into())
        }
        _ => None,
    };
    if let Some(message) = message {
        problems.push(whole(dir, message));
    }
}
