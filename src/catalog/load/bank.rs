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
    fn check(&mut self, r: &mut FileReport<'_>, id: &Spanned<String>) {
        if !self.0.insert(id.get_ref().clone()) {
            r.on(id, format!("identifiant « {} » en double", id.get_ref()));
        }
    }
}

/// A vignette is kept even when broken, so that quizzes naming it are not also reported.
fn check_vignette(
    r: &mut FileReport<'_>,
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
    // Papers are drawn and shown without the learner's organisation at hand (the exam's
    // hot path): its resources are filled into lessons only.
    if v.case.get_ref().contains("{{config:") {
        r.on(
            &v.case,
            "les ressources locales ({{config:…}}) s'affichent dans les leçons, pas dans les questions",
        );
    }
    if v.questions.is_empty() {
        r.on(&v.id, "une vignette regroupe au moins une question");
    }
    let mut questions = Vec::new();
    for q in v.questions {
        ids.check(r, &q.id);
        if let Some(pool) = &q.pool {
            r.on(
                pool,
                "le pool se déclare sur la vignette, pas sur ses questions",
            );
        }
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
        pool: v.pool,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::load::testing::{assert_exactly, line_with};

    fn check(text: &str) -> (Option<Bank>, Vec<Diagnostic>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("banque.toml");
        std::fs::write(&path, text).unwrap();
        let objectives: HashSet<String> = ["o1"].map(String::from).into();
        let configuration = BTreeMap::from([("referent".to_string(), "Qui".to_string())]);
        let mut problems = Vec::new();
        let bank = check_bank(&path, &objectives, &configuration, &mut problems);
        (bank, problems)
    }

    fn true_false(id: &str) -> String {
        format!(
            "[[questions]]\nid = \"{id}\"\ntype = \"true_false\"\nobjective = \"o1\"\n\
             prompt = \"Vrai ?\"\nfeedback = \"Oui.\"\nanswer = true\n\n"
        )
    }

    fn vignette(id: &str, objective: &str, case: &str, questions: &[&str]) -> String {
        let mut text = format!(
            "[[vignettes]]\nid = \"{id}\"\nobjective = \"{objective}\"\ntitle = \"Cas\"\n\
             case = \"{case}\"\n\n"
        );
        if questions.is_empty() {
            text = text.replace("case =", "questions = []\ncase =");
        }
        for q in questions {
            text += &true_false(q).replace("[[questions]]", "[[vignettes.questions]]");
        }
        text
    }

    #[test]
    fn a_full_bank_counts_vignette_questions() {
        let text: String = (1..=18)
            .map(|n| true_false(&format!("q{n}")))
            .collect::<String>()
            + &vignette("v1", "o1", "Un cas.", &["v1a", "v1b"]);
        let (bank, problems) = check(&text);
        assert!(problems.is_empty(), "{problems:#?}");
        let (_, problems) = check(&text.replace("Un cas.", "Appelez {{config:referent}}."));
        assert!(
            problems[0].message.starts_with("les ressources locales"),
            "{problems:#?}"
        );
        let bank = bank.unwrap();
        assert_eq!(bank.question_count(), 20);
        assert_eq!(bank.pool_items("o1", None).len(), 19);
        assert!(bank.vignettes[0].case_html.contains("Un cas"));
    }

    #[test]
    fn ids_are_unique_across_questions_and_vignettes_and_the_bank_has_a_minimum() {
        let text = true_false("q1")
            + &true_false("v1")
            + &vignette("v1", "o9", "Un cas<br>.", &["q1"])
            + &vignette("v2", "o1", "Un cas.", &[]);
        let (bank, problems) = check(&text);
        let bank = bank.expect("read, even with problems");
        assert_eq!(bank.vignettes.len(), 2, "vignettes are kept");
        let vignette = line_with(&text, "objective = \"o9\"") - 1;
        assert_exactly(
            &problems,
            &[
                (vignette, "identifiant « v1 » en double"),
                (vignette + 1, "objectif « o9 » inconnu"),
                (vignette + 3, "HTML brut interdit dans une leçon"),
                (
                    line_with(&text, "[[vignettes.questions]]") + 1,
                    "identifiant « q1 » en double",
                ),
                (
                    line_with(&text, "id = \"v2\""),
                    "une vignette regroupe au moins une question",
                ),
                (1, "3 question(s) dans la banque : au moins 20 attendues"),
            ],
        );
    }

    #[test]
    fn a_bank_that_does_not_parse_is_one_problem() {
        let (bank, problems) = check("[[questions]]\nid = \"q1\"\ncolour = \"bleu\"\n");
        assert!(bank.is_none());
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert!(problems[0]
            .message
            .starts_with("banque de questions invalide : "));
    }
}
