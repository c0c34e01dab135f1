//! One question of the bank: what every question needs (a known objective, feedback,
//! points), the keys its type allows, then what each type requires (choices and correct
//! answers, true/false, pairs, items, a number).

use std::collections::HashSet;

use toml::Spanned;

use super::quality;
use super::report::FileReport;
use crate::catalog::files::{Answer, ChoiceFile, Correct, PairFile, QuestionFile};
use crate::catalog::model::{Choice, Pair, Question, QuestionKind};

/// The question types, as written in `type = "…"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Type {
    SingleChoice,
    MultipleChoice,
    TrueFalse,
    Matching,
    Ordering,
    Numeric,
}

impl Type {
    fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "single_choice" => Self::SingleChoice,
            "multiple_choice" => Self::MultipleChoice,
            "true_false" => Self::TrueFalse,
            "matching" => Self::Matching,
            "ordering" => Self::Ordering,
            "numeric" => Self::Numeric,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Self::SingleChoice => "single_choice",
            Self::MultipleChoice => "multiple_choice",
            Self::TrueFalse => "true_false",
            Self::Matching => "matching",
            Self::Ordering => "ordering",
            Self::Numeric => "numeric",
        }
    }

    /// The type-specific keys this type uses.
    fn keys(self) -> &'static [&'static str] {
        match self {
            Self::SingleChoice => &["choices", "correct"],
            Self::MultipleChoice => &["choices", "correct", "scoring"],
            Self::TrueFalse => &["answer"],
            Self::Matching => &["pairs"],
            Self::Ordering => &["items"],
            Self::Numeric => &["answer", "tolerance", "unit"],
        }
    }
}

/// Checks one question; `None` when it cannot be built (unknown type, a required key
/// missing or of the wrong shape), after reporting why.
pub(super) fn check_question(
    r: &mut FileReport<'_>,
    mut q: QuestionFile,
    objectives: &HashSet<String>,
) -> Option<Question> {
    if !objectives.contains(q.objective.get_ref()) {
        r.on(
            &q.objective,
            format!("objectif « {} » inconnu", q.objective.get_ref()),
        );
    }
    let feedback = match q.feedback.take() {
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
    let Some(ty) = Type::parse(q.kind.get_ref()) else {
        r.on(&q.kind, "type inconnu : single_choice, multiple_choice, true_false, matching, ordering ou numeric");
        return None;
    };
    check_unused_keys(r, &q, ty);
    let id = &q.id;
    let kind = match ty {
        Type::SingleChoice | Type::MultipleChoice => {
            choice_question(r, id, ty, q.choices, q.correct, q.scoring)?
        }
        Type::TrueFalse => true_false_question(r, id, q.answer)?,
        Type::Matching => matching_question(r, id, q.pairs)?,
        Type::Ordering => ordering_question(r, id, q.items)?,
        Type::Numeric => numeric_question(r, id, q.answer, q.tolerance, q.unit)?,
    };
    warn_on_cues(r, id, &q.prompt, &kind);
    Some(Question {
        id: q.id.into_inner(),
        objective: q.objective.into_inner(),
        prompt: q.prompt,
        points,
        feedback,
        kind,
        pool: q.pool.map(Spanned::into_inner),
    })
}

/// A statement keyed false that an absolute word gives away, a number to recall.
fn warn_on_cues(r: &mut FileReport<'_>, id: &Spanned<String>, prompt: &str, kind: &QuestionKind) {
    match kind {
        QuestionKind::TrueFalse { answer: false } => {
            if let Some(word) = quality::absolute_qualifier(prompt) {
                r.warn_on(
                    id,
                    format!(
                        "« {} » : affirmation fausse contenant « {word} », un indice qui donne la réponse",
                        id.get_ref()
                    ),
                );
            }
        }
        QuestionKind::Numeric { unit, .. } => {
            if let Some(why) = quality::numeric_trivia(prompt, unit.as_deref()) {
                r.warn_on(id, format!("« {} » : {why}", id.get_ref()));
            }
        }
        _ => {}
    }
}

/// Keys a type does not use are refused, so a typo cannot silently drop an answer.
fn check_unused_keys(r: &mut FileReport<'_>, q: &QuestionFile, ty: Type) {
    // `unit` is a plain string, without a span: it is reported on the question's id.
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
        if let Some(offset) = offset.filter(|_| !ty.keys().contains(&key)) {
            r.at(
                offset,
                format!("« {key} » n'a pas de sens pour une question {}", ty.name()),
            );
        }
    }
}

/// A key the type requires is absent (or, for `answer`, of the wrong kind).
fn missing(r: &mut FileReport<'_>, id: &Spanned<String>, ty: Type, key: &str) {
    r.on(id, format!("question {} sans « {key} »", ty.name()));
}

fn choice_question(
    r: &mut FileReport<'_>,
    id: &Spanned<String>,
    ty: Type,
    choices: Option<Spanned<Vec<ChoiceFile>>>,
    correct: Option<Spanned<Correct>>,
    scoring: Option<Spanned<String>>,
) -> Option<QuestionKind> {
    let Some(choices) = choices else {
        missing(r, id, ty, "choices");
        return None;
    };
    let (choices, choice_ids) = check_choices(r, choices);
    let Some(correct) = correct else {
        missing(r, id, ty, "correct");
        return None;
    };
    let correct = check_correct(r, ty, correct, &choice_ids)?;
    Some(if ty == Type::SingleChoice {
        QuestionKind::SingleChoice {
            choices,
            correct: correct.into_iter().next().expect("one"),
        }
    } else {
        QuestionKind::MultipleChoice {
            choices,
            correct,
            partial: check_scoring(r, scoring.as_ref()),
        }
    })
}

/// The choices, and their ids for the correct answers to refer to.
fn check_choices(
    r: &mut FileReport<'_>,
    choices: Spanned<Vec<ChoiceFile>>,
) -> (Vec<Choice>, HashSet<String>) {
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
    (choices, seen)
}

/// The correct choice ids: exactly one for a single choice (a string), at least one for
/// a multiple choice (a list), each among the choices.
fn check_correct(
    r: &mut FileReport<'_>,
    ty: Type,
    correct: Spanned<Correct>,
    choice_ids: &HashSet<String>,
) -> Option<Vec<String>> {
    let span = correct.span().start;
    let ids: Vec<String> = match (ty, correct.into_inner()) {
        (Type::SingleChoice, Correct::One(id)) => vec![id],
        (Type::MultipleChoice, Correct::Many(ids)) if !ids.is_empty() => ids,
        (Type::SingleChoice, _) => {
            r.at(
                span,
                "single_choice : correct = \"id\" (une seule bonne réponse)",
            );
            return None;
        }
        _ => {
            r.at(
                span,
                "multiple_choice : correct = [\"id\", …] (au moins une bonne réponse)",
            );
            return None;
        }
    };
    for id in &ids {
        if !choice_ids.contains(id) {
            r.at(span, format!("bonne réponse « {id} » absente des choix"));
        }
    }
    Some(ids)
}

/// Whether a multiple choice gives partial credit; an unknown value is reported and
/// read as all-or-nothing.
fn check_scoring(r: &mut FileReport<'_>, scoring: Option<&Spanned<String>>) -> bool {
    match scoring.map(|s| s.get_ref().as_str()) {
        None | Some("all_or_nothing") => false,
        Some("partial") => true,
        Some(_) => {
            let scoring = scoring.expect("matched");
            r.on(scoring, "scoring : all_or_nothing ou partial");
            false
        }
    }
}

fn true_false_question(
    r: &mut FileReport<'_>,
    id: &Spanned<String>,
    answer: Option<Spanned<Answer>>,
) -> Option<QuestionKind> {
    match answer.map(Spanned::into_inner) {
        Some(Answer::Bool(answer)) => Some(QuestionKind::TrueFalse { answer }),
        _ => {
            missing(r, id, Type::TrueFalse, "answer = true|false");
            None
        }
    }
}

fn matching_question(
    r: &mut FileReport<'_>,
    id: &Spanned<String>,
    pairs: Option<Spanned<Vec<PairFile>>>,
) -> Option<QuestionKind> {
    let Some(pairs) = pairs else {
        missing(r, id, Type::Matching, "pairs");
        return None;
    };
    if pairs.get_ref().len() < 2 {
        r.on(&pairs, "au moins 2 paires");
    }
    Some(QuestionKind::Matching {
        pairs: pairs
            .into_inner()
            .into_iter()
            .map(|p| Pair {
                left: p.left,
                right: p.right,
            })
            .collect(),
    })
}

fn ordering_question(
    r: &mut FileReport<'_>,
    id: &Spanned<String>,
    items: Option<Spanned<Vec<String>>>,
) -> Option<QuestionKind> {
    let Some(items) = items else {
        missing(r, id, Type::Ordering, "items");
        return None;
    };
    if items.get_ref().len() < 2 {
        r.on(&items, "au moins 2 éléments à ordonner");
    }
    Some(QuestionKind::Ordering {
        items: items.into_inner(),
    })
}

fn numeric_question(
    r: &mut FileReport<'_>,
    id: &Spanned<String>,
    answer: Option<Spanned<Answer>>,
    tolerance: Option<Spanned<f64>>,
    unit: Option<String>,
) -> Option<QuestionKind> {
    let answer = match answer.map(Spanned::into_inner) {
        Some(Answer::Number(n)) if n.is_finite() => n,
        _ => {
            missing(r, id, Type::Numeric, "answer = nombre");
            return None;
        }
    };
    let tolerance = tolerance.map_or(0.0, Spanned::into_inner);
    // Written so that NaN fails too.
    if !(tolerance >= 0.0 && tolerance.is_finite()) {
        r.on(id, "tolerance : nombre positif ou nul");
    }
    Some(QuestionKind::Numeric {
        answer,
        tolerance,
        unit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::files::BankFile;
    use crate::catalog::load::testing::{assert_exactly, line_with, reported};
    use crate::catalog::load::Diagnostic;

    /// Checks every `[[questions]]` of `text` against the objectives o1 and o2.
    fn check(text: &str) -> (Vec<Option<Question>>, Vec<Diagnostic>) {
        let objectives: HashSet<String> = ["o1", "o2"].map(String::from).into();
        reported("banque.toml", text, |r| {
            let file: BankFile = r.parse("banque de questions invalide").expect("parses");
            file.questions
                .into_iter()
                .map(|q| check_question(r, q, &objectives))
                .collect()
        })
    }

    /// One question of `kind` with the common keys, then `rest`.
    fn question(kind: &str, rest: &str) -> String {
        format!(
            "[[questions]]\nid = \"q1\"\ntype = \"{kind}\"\nobjective = \"o1\"\n\
             prompt = \"Question ?\"\nfeedback = \"Parce que.\"\n{rest}"
        )
    }

    const CHOICES: &str =
        "choices = [\n  { id = \"a\", text = \"A\" },\n  { id = \"b\", text = \"B\" },\n]\n";

    #[test]
    fn every_type_builds_its_kind() {
        let text = [
            question(
                "single_choice",
                &format!("{CHOICES}correct = \"b\"\npoints = 3\n"),
            ),
            question(
                "multiple_choice",
                &format!("{CHOICES}correct = [\"a\", \"b\"]\nscoring = \"partial\"\n"),
            ),
            question("true_false", "answer = false\n"),
            question(
                "matching",
                "pairs = [{ left = \"1\", right = \"un\" }, { left = \"2\", right = \"deux\" }]\n",
            ),
            question("ordering", "items = [\"d'abord\", \"ensuite\"]\n"),
            question("numeric", "answer = 37.5\ntolerance = 0.5\nunit = \"°C\"\n"),
        ]
        .concat();
        let (questions, problems) = check(&text);
        assert!(problems.is_empty(), "{problems:#?}");
        let questions: Vec<Question> = questions.into_iter().map(Option::unwrap).collect();
        assert_eq!(questions[0].points, 3);
        assert_eq!(questions[1].points, 1, "one point unless said otherwise");
        assert_eq!(questions[0].feedback, "Parce que.");
        assert!(
            matches!(&questions[0].kind, QuestionKind::SingleChoice { choices, correct } if choices.len() == 2 && correct == "b")
        );
        assert!(
            matches!(&questions[1].kind, QuestionKind::MultipleChoice { correct, partial: true, .. } if correct == &["a", "b"])
        );
        assert!(matches!(
            questions[2].kind,
            QuestionKind::TrueFalse { answer: false }
        ));
        assert!(
            matches!(&questions[3].kind, QuestionKind::Matching { pairs } if pairs[1].right == "deux")
        );
        assert!(
            matches!(&questions[4].kind, QuestionKind::Ordering { items } if items[0] == "d'abord")
        );
        assert!(
            matches!(&questions[5].kind, QuestionKind::Numeric { answer, tolerance, unit } if *answer == 37.5 && *tolerance == 0.5 && unit.as_deref() == Some("°C"))
        );
    }

    #[test]
    fn common_fields_are_checked_whatever_the_type() {
        let text = "[[questions]]\nid = \"q1\"\ntype = \"true_false\"\nobjective = \"o9\"\n\
                    prompt = \"Vrai ?\"\nfeedback = \"  \"\npoints = 0\nanswer = true\n";
        let (questions, problems) = check(text);
        assert!(
            questions[0].is_some(),
            "still usable: the problems are reported"
        );
        assert_exactly(
            &problems,
            &[
                (4, "objectif « o9 » inconnu"),
                (2, "feedback obligatoire : expliquez la bonne réponse"),
                (7, "points : entre 1 et 100"),
            ],
        );
    }

    #[test]
    fn an_unknown_type_is_refused_on_its_line() {
        let (questions, problems) = check(&question("essay", ""));
        assert!(questions[0].is_none());
        assert_exactly(
            &problems,
            &[(
                3,
                "type inconnu : single_choice, multiple_choice, true_false, matching, ordering ou numeric",
            )],
        );
    }

    #[test]
    fn keys_of_another_type_are_refused() {
        let text = question(
            "true_false",
            &format!("answer = true\n{CHOICES}scoring = \"partial\"\nunit = \"mg\"\n"),
        );
        let (questions, problems) = check(&text);
        assert!(questions[0].is_some());
        assert_exactly(
            &problems,
            &[
                (
                    line_with(&text, "scoring"),
                    "« scoring » n'a pas de sens pour une question true_false",
                ),
                (
                    line_with(&text, "choices"),
                    "« choices » n'a pas de sens pour une question true_false",
                ),
                // `unit` has no position of its own: the question's id stands for it.
                (2, "« unit » n'a pas de sens pour une question true_false"),
            ],
        );
    }

    #[test]
    fn choices_and_correct_answers_must_agree() {
        let text = question(
            "single_choice",
            "choices = [{ id = \"a\", text = \"A\" }, { id = \"a\", text = \"A bis\" }]\n\
             correct = \"c\"\n",
        );
        let (questions, problems) = check(&text);
        assert!(questions[0].is_some());
        assert_exactly(
            &problems,
            &[
                (7, "choix en double"),
                (8, "bonne réponse « c » absente des choix"),
            ],
        );

        let (questions, problems) = check(&question(
            "single_choice",
            "choices = [{ id = \"a\", text = \"A\" }]\ncorrect = [\"a\"]\n",
        ));
        assert!(questions[0].is_none());
        assert_exactly(
            &problems,
            &[
                (7, "au moins 2 choix"),
                (
                    8,
                    "single_choice : correct = \"id\" (une seule bonne réponse)",
                ),
            ],
        );

        let text = question("multiple_choice", &format!("{CHOICES}correct = []\n"));
        let (questions, problems) = check(&text);
        assert!(questions[0].is_none());
        assert_exactly(
            &problems,
            &[(
                line_with(&text, "correct = []"),
                "multiple_choice : correct = [\"id\", …] (au moins une bonne réponse)",
            )],
        );
    }

    #[test]
    fn an_unknown_scoring_is_reported_and_read_as_all_or_nothing() {
        let text = question(
            "multiple_choice",
            &format!("{CHOICES}correct = [\"a\"]\nscoring = \"bonus\"\n"),
        );
        let (questions, problems) = check(&text);
        assert!(matches!(
            questions[0].as_ref().unwrap().kind,
            QuestionKind::MultipleChoice { partial: false, .. }
        ));
        assert_exactly(
            &problems,
            &[(
                line_with(&text, "scoring"),
                "scoring : all_or_nothing ou partial",
            )],
        );
    }

    #[test]
    fn each_type_reports_its_missing_answer_on_the_id() {
        let text = [
            question("single_choice", ""),
            question("multiple_choice", CHOICES),
            question("true_false", "answer = 1\n"),
            question("matching", ""),
            question("ordering", ""),
            question("numeric", "answer = true\n"),
        ]
        .concat();
        let (questions, problems) = check(&text);
        assert!(questions.iter().all(Option::is_none));
        let messages: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "question single_choice sans « choices »",
                "question multiple_choice sans « correct »",
                "question true_false sans « answer = true|false »",
                "question matching sans « pairs »",
                "question ordering sans « items »",
                "question numeric sans « answer = nombre »",
            ]
        );
        let id_lines: Vec<usize> = text
            .lines()
            .enumerate()
            .filter(|(_, l)| l.starts_with("id = "))
            .map(|(n, _)| n + 1)
            .collect();
        let lines: Vec<usize> = problems.iter().map(|p| p.line).collect();
        assert_eq!(lines, id_lines);
    }

    #[test]
    fn short_lists_and_a_negative_tolerance_are_reported() {
        let text = [
            question("matching", "pairs = [{ left = \"1\", right = \"un\" }]\n"),
            question("ordering", "items = [\"seul\"]\n"),
            question("numeric", "answer = 5\ntolerance = -1.0\n"),
        ]
        .concat();
        let (questions, problems) = check(&text);
        assert!(questions.iter().all(Option::is_some));
        assert_exactly(
            &problems,
            &[
                (line_with(&text, "pairs"), "au moins 2 paires"),
                (line_with(&text, "items"), "au moins 2 éléments à ordonner"),
                // Reported on the question's id, not on the value (as before the split).
                (
                    line_with(&text, "type = \"numeric\"") - 1,
                    "tolerance : nombre positif ou nul",
                ),
            ],
        );
    }
}
