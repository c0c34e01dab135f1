//! One question of the bank: what every question needs (a known objective, feedback,
//! points), the keys its type allows, then what each type requires (choices and correct
//! answers, true/false, pairs, items, a number).

use std::collections::HashSet;

use toml::Spanned;

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
    r: &mut FileReport,
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
    Some(Question {
        id: q.id.into_inner(),
        objective: q.objective.into_inner(),
        prompt: q.prompt,
        points,
        feedback,
        kind,
    })
}

/// Keys a type does not use are refused, so a typo cannot silently drop an answer.
fn check_unused_keys(r: &mut FileReport, q: &QuestionFile, ty: Type) {
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
fn missing(r: &mut FileReport, id: &Spanned<String>, ty: Type, key: &str) {
    r.on(id, format!("question {} sans « {key} »", ty.name()));
}

fn choice_question(
    r: &mut FileReport,
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
    r: &mut FileReport,
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
    r: &mut FileReport,
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
fn check_scoring(r: &mut FileReport, scoring: Option<&Spanned<String>>) -> bool {
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
    r: &mut FileReport,
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
    r: &mut FileReport,
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
    r: &mut FileReport,
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
    r: &mut FileReport,
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
