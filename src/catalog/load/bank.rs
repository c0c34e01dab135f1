//! `quizzes/banque.toml`, the question bank: ids unique across standalone questions,
//! vignettes and the questions inside vignettes (quizzes pick items by id), the vignettes'
//! case text, and the minimum bank size. Each question is checked by `question`.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use toml::Spanned;

use super::question::check_question;
use super::report::{read, FileReport};
use super::{Diagnostic, MIN_BANK};
use crate::catalog::files::{BankFile, VignetteFile};
use crate::catalog::markdown;
use crate::catalog::model::{Bank, Vignette};

pub(super) fn check_bank(
    path: &Path,
    objectives: &HashSet<String>,
    configuration: &BTreeMap<String, String>,
    problems: &mut Vec<Diagnostic>,
) -> Option<Bank> {
    let text = read(path, problems)?;
    let mut r = FileReport::new(path, &text, problems);
    let file: BankFile = r.parse("banque de questions invalide")?;
    let mut ids = UniqueIds::default();
    let mut bank = Bank::default();
    for q in file.questions {
        ids.check(&mut r, &q.id);
        if let Some(q) = check_question(&mut r, q, objectives) {
            bank.questions.push(q);
        }
    }
    for v in file.vignettes {
        let vignette = check_vignette(&mut r, v, &mut ids, objectives, configuration);
        bank.vignettes.push(vignette);
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

/// The ids seen so far in the bank, whatever kind of item carries them.
#[derive(Default)]
struct UniqueIds(HashSet<String>);

impl UniqueIds {
    fn check(&mut self, r: &mut FileReport, id: &Spanned<String>) {
        if !self.0.insert(id.get_ref().clone()) {
            r.on(id, format!("identifiant « {} » en double", id.get_ref()));
        }
    }
}

/// A vignette is kept even when broken, so that quizzes naming it are not also reported.
fn check_vignette(
    r: &mut FileReport,
    v: VignetteFile,
    ids: &mut UniqueIds,
    objectives: &HashSet<String>,
    configuration: &BTreeMap<String, String>,
) -> Vignette {
    ids.check(r, &v.id);
    if !objectives.contains(v.objective.get_ref()) {
        r.on(
            &v.objective,
            format!("objectif « {} » inconnu", v.objective.get_ref()),
        );
    }
    // The case is Markdown inside a TOML string: its offsets are not file offsets, so
    // its problems point at the string.
    for issue in markdown::check(v.case.get_ref(), configuration) {
        r.on(&v.case, issue.message);
    }
    if v.questions.is_empty() {
        r.on(&v.id, "une vignette regroupe au moins une question");
    }
    let mut questions = Vec::new();
    for q in v.questions {
        ids.check(r, &q.id);
        if let Some(q) = check_question(r, q, objectives) {
            questions.push(q);
        }
    }
    Vignette {
        id: v.id.into_inner(),
        objective: v.objective.into_inner(),
        title: v.title,
        case_html: markdown::render(v.case.get_ref(), configuration),
        questions,
    }
}
