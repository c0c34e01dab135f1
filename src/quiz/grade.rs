//! Answers and grading, as pure functions of the paper, the course's questions and what the
//! learner saved: no query, no clock, so grading is exact and fast under exam load.
//!
//! Answers, in the labels of the paper: single choice `"b"` (a choice id), multiple choice
//! `["a", "c"]`, true/false `true`, matching `{"1": "C", "2": "A"}` (left id → answer
//! label), ordering `["C", "A", "B"]` (labels in the chosen order), numeric `12.5`;
//! `null` clears an answer. Scoring: one question is worth its points; multiple choice is
//! all-or-nothing unless the question says `partial` — then (right picks − wrong picks) /
//! right answers, never below zero; matching earns its share of right pairs; ordering is
//! all-or-nothing; numeric is right within the tolerance.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::paper::{label, Paper, PaperQuestion};
use crate::catalog::model::{Bank, Question, QuestionKind};

/// A learner's answer to one question, checked against the paper.
#[derive(Debug, Clone, PartialEq)]
pub enum Response {
    Choice(String),
    Choices(Vec<String>),
    Bool(bool),
    Matches(BTreeMap<String, String>),
    Order(Vec<String>),
    Number(f64),
}

fn position_of(paper: &PaperQuestion, label_text: &str) -> Option<usize> {
    (0..paper.order.len()).find(|&p| label(p) == label_text)
}

/// Reads the answer to `question` from JSON, or says in French what was expected.
pub fn parse_response(
    question: &Question,
    paper: &PaperQuestion,
    value: &Value,
) -> Result<Response, String> {
    let labels = || {
        (0..paper.order.len())
            .map(label)
            .collect::<Vec<_>>()
            .join(", ")
    };
    match &question.kind {
        QuestionKind::SingleChoice { choices, .. } => match value.as_str() {
            Some(id) if choices.iter().any(|c| c.id == id) => Ok(Response::Choice(id.into())),
            _ => Err("l'identifiant d'un des choix proposés".into()),
        },
        QuestionKind::MultipleChoice { choices, .. } => {
            let ids: Option<Vec<String>> = value.as_array().and_then(|a| {
                a.iter()
                    .map(|v| v.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
            });
            match ids {
                Some(ids)
                    if ids.iter().all(|id| choices.iter().any(|c| &c.id == id))
                        && ids.iter().collect::<HashSet<_>>().len() == ids.len() =>
                {
                    Ok(Response::Choices(ids))
                }
                _ => Err("une liste d'identifiants de choix proposés, sans doublon".into()),
            }
        }
        QuestionKind::TrueFalse { .. } => value
            .as_bool()
            .map(Response::Bool)
            .ok_or_else(|| "true ou false".into()),
        QuestionKind::Matching { pairs } => {
            let expected = || {
                format!(
                    "un objet {{\"1\": \"A\", …}} associant chaque élément à une réponse ({})",
                    labels()
                )
            };
            let object = value.as_object().ok_or_else(expected)?;
            let mut matches = BTreeMap::new();
            for (left, right) in object {
                let left_ok = left
                    .parse::<usize>()
                    .is_ok_and(|n| (1..=pairs.len()).contains(&n));
                match right.as_str() {
                    Some(r) if left_ok && position_of(paper, r).is_some() => {
                        matches.insert(left.clone(), r.to_owned());
                    }
                    _ => return Err(expected()),
                }
            }
            Ok(Response::Matches(matches))
        }
        QuestionKind::Ordering { .. } => {
            let order: Option<Vec<String>> = value.as_array().and_then(|a| {
                a.iter()
                    .map(|v| v.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
            });
            match order {
                Some(order)
                    if order.iter().all(|l| position_of(paper, l).is_some())
                        && order.iter().collect::<HashSet<_>>().len() == order.len() =>
                {
                    Ok(Response::Order(order))
                }
                _ => Err(format!(
                    "la liste des étiquettes dans l'ordre choisi ({})",
                    labels()
                )),
            }
        }
        QuestionKind::Numeric { .. } => value
            .as_f64()
            .filter(|n| n.is_finite())
            .map(Response::Number)
            .ok_or_else(|| "un nombre".into()),
    }
}

/// The share of the question's points a response earns, between 0 and 1.
pub fn credit(question: &Question, paper: &PaperQuestion, response: &Response) -> f64 {
    match (&question.kind, response) {
        (QuestionKind::SingleChoice { correct, .. }, Response::Choice(id)) => {
            f64::from(u8::from(id == correct))
        }
        (
            QuestionKind::MultipleChoice {
                correct, partial, ..
            },
            Response::Choices(ids),
        ) => {
            let right = ids.iter().filter(|id| correct.contains(id)).count() as f64;
            let wrong = ids.len() as f64 - right;
            if *partial {
                ((right - wrong) / correct.len() as f64).max(0.0)
            } else {
                f64::from(u8::from(wrong == 0.0 && right == correct.len() as f64))
            }
        }
        (QuestionKind::TrueFalse { answer }, Response::Bool(b)) => f64::from(u8::from(answer == b)),
        (QuestionKind::Matching { pairs }, Response::Matches(matches)) => {
            let right = matches
                .iter()
                .filter(|(left, r)| {
                    let left: usize = left.parse().unwrap_or(0);
                    position_of(paper, r).is_some_and(|p| paper.order[p] + 1 == left)
                })
                .count();
            right as f64 / pairs.len().max(1) as f64
        }
        (QuestionKind::Ordering { items }, Response::Order(order)) => {
            let chosen: Vec<usize> = order
                .iter()
                .filter_map(|l| position_of(paper, l).map(|p| paper.order[p]))
                .collect();
            f64::from(u8::from(chosen == (0..items.len()).collect::<Vec<_>>()))
        }
        (
            QuestionKind::Numeric {
                answer, tolerance, ..
            },
            Response::Number(n),
        ) => {
            // A hair of slack so that 0.1 + 0.2 is within a tolerance of 0 of 0.3.
            let slack = 1e-9 * answer.abs().max(1.0);
            f64::from(u8::from((n - answer).abs() <= tolerance + slack))
        }
        _ => 0.0,
    }
}

/// The right answer, in the paper's labels (for feedback once the policy allows).
pub fn correct_answer(question: &Question, paper: &PaperQuestion) -> Value {
    let label_of = |original: usize| {
        paper
            .order
            .iter()
            .position(|&o| o == original)
            .map(label)
            .unwrap_or_default()
    };
    match &question.kind {
        QuestionKind::SingleChoice { correct, .. } => json!(correct),
        QuestionKind::MultipleChoice { correct, .. } => json!(correct),
        QuestionKind::TrueFalse { answer } => json!(answer),
        QuestionKind::Matching { pairs } => Value::Object(
            (0..pairs.len())
                .map(|i| ((i + 1).to_string(), json!(label_of(i))))
                .collect(),
        ),
        QuestionKind::Ordering { items } => {
            json!((0..items.len()).map(label_of).collect::<Vec<_>>())
        }
        QuestionKind::Numeric {
            answer, tolerance, ..
        } => json!({ "value": answer, "tolerance": tolerance }),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuestionResult {
    pub id: String,
    pub points: f64,
    pub awarded: f64,
    pub answered: bool,
}

impl QuestionResult {
    pub fn correct(&self) -> bool {
        self.points > 0.0 && self.awarded >= self.points - 1e-9
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Grading {
    pub results: Vec<QuestionResult>,
    pub points: f64,
    pub max_points: f64,
    /// 0–100, two decimals.
    pub percent: f64,
}

impl Grading {
    pub fn passed(&self, pass_mark: u8) -> bool {
        self.percent + 1e-9 >= f64::from(pass_mark)
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Grades the saved answers of a paper. Unanswered or unreadable answers earn nothing.
pub fn grade(paper: &Paper, bank: &Bank, answers: &BTreeMap<String, Value>) -> Grading {
    let mut results = Vec::new();
    for pq in paper.questions() {
        let Some(question) = bank.find_question(&pq.id) else {
            continue;
        };
        let response = answers
            .get(&pq.id)
            .filter(|v| !v.is_null())
            .and_then(|v| parse_response(question, pq, v).ok());
        let points = f64::from(question.points);
        results.push(QuestionResult {
            id: pq.id.clone(),
            points,
            awarded: round2(response.as_ref().map_or(0.0, |r| credit(question, pq, r)) * points),
            answered: response.is_some(),
        });
    }
    let points = round2(results.iter().map(|r| r.awarded).sum());
    let max_points: f64 = results.iter().map(|r| r.points).sum();
    let percent = if max_points > 0.0 {
        round2(points * 100.0 / max_points)
    } else {
        0.0
    };
    Grading {
        results,
        points,
        max_points,
        percent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::model::{Choice, Pair};

    fn q(kind: QuestionKind) -> Question {
        Question {
            id: "q".into(),
            objective: "o".into(),
            prompt: "?".into(),
            points: 2,
            feedback: "!".into(),
            kind,
        }
    }

    fn pq(order: Vec<usize>) -> PaperQuestion {
        PaperQuestion {
            id: "q".into(),
            order,
        }
    }

    fn choices(n: usize) -> Vec<Choice> {
        (0..n)
            .map(|i| Choice {
                id: ((b'a' + i as u8) as char).to_string(),
                text: i.to_string(),
            })
            .collect()
    }

    fn score(question: &Question, paper: &PaperQuestion, answer: Value) -> f64 {
        let response = parse_response(question, paper, &answer).unwrap();
        credit(question, paper, &response)
    }

    #[test]
    fn single_choice_and_true_false() {
        let single = q(QuestionKind::SingleChoice {
            choices: choices(3),
            correct: "b".into(),
        });
        let p = pq(vec![2, 0, 1]);
        assert_eq!(score(&single, &p, json!("b")), 1.0);
        assert_eq!(score(&single, &p, json!("a")), 0.0);
        assert!(parse_response(&single, &p, &json!("z")).is_err());
        let tf = q(QuestionKind::TrueFalse { answer: false });
        assert_eq!(score(&tf, &pq(vec![]), json!(false)), 1.0);
        assert_eq!(score(&tf, &pq(vec![]), json!(true)), 0.0);
        assert!(parse_response(&tf, &pq(vec![]), &json!("false")).is_err());
    }

    #[test]
    fn multiple_choice_all_or_nothing_and_partial() {
        let kind = |partial| QuestionKind::MultipleChoice {
            choices: choices(5),
            correct: vec!["a".into(), "b".into(), "c".into()],
            partial,
        };
        let p = pq(vec![0, 1, 2, 3, 4]);
        let strict = q(kind(false));
        assert_eq!(score(&strict, &p, json!(["c", "a", "b"])), 1.0);
        assert_eq!(score(&strict, &p, json!(["a", "b"])), 0.0);
        assert_eq!(score(&strict, &p, json!(["a", "b", "c", "d"])), 0.0);
        let partial = q(kind(true));
        assert!((score(&partial, &p, json!(["a", "b"])) - 2.0 / 3.0).abs() < 1e-12);
        assert!((score(&partial, &p, json!(["a", "b", "d"])) - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(score(&partial, &p, json!(["a", "d", "e"])), 0.0);
        assert_eq!(score(&partial, &p, json!([])), 0.0);
        assert!(parse_response(&partial, &p, &json!(["a", "a"])).is_err());
    }

    #[test]
    fn matching_earns_its_share_of_right_pairs() {
        let matching = q(QuestionKind::Matching {
            pairs: (0..3)
                .map(|i| Pair {
                    left: format!("g{i}"),
                    right: format!("d{i}"),
                })
                .collect(),
        });
        // Shown: A = d2, B = d0, C = d1.
        let p = pq(vec![2, 0, 1]);
        assert_eq!(
            score(&matching, &p, json!({"1": "B", "2": "C", "3": "A"})),
            1.0
        );
        assert!((score(&matching, &p, json!({"1": "B", "2": "A"})) - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(
            correct_answer(&matching, &p),
            json!({"1": "B", "2": "C", "3": "A"})
        );
        assert!(parse_response(&matching, &p, &json!({"4": "A"})).is_err());
        assert!(parse_response(&matching, &p, &json!({"1": "D"})).is_err());
    }

    #[test]
    fn ordering_is_right_only_in_full() {
        let ordering = q(QuestionKind::Ordering {
            items: vec!["un".into(), "deux".into(), "trois".into()],
        });
        // Shown: A = trois, B = un, C = deux.
        let p = pq(vec![2, 0, 1]);
        assert_eq!(score(&ordering, &p, json!(["B", "C", "A"])), 1.0);
        assert_eq!(score(&ordering, &p, json!(["B", "A", "C"])), 0.0);
        assert_eq!(score(&ordering, &p, json!(["B", "C"])), 0.0);
        assert_eq!(correct_answer(&ordering, &p), json!(["B", "C", "A"]));
        assert!(parse_response(&ordering, &p, &json!(["B", "B", "A"])).is_err());
    }

    #[test]
    fn numeric_within_tolerance() {
        let numeric = q(QuestionKind::Numeric {
            answer: 0.3,
            tolerance: 0.0,
            unit: None,
        });
        let p = pq(vec![]);
        assert_eq!(score(&numeric, &p, json!(0.1 + 0.2)), 1.0);
        assert_eq!(score(&numeric, &p, json!(0.31)), 0.0);
        let tolerant = q(QuestionKind::Numeric {
            answer: 15.0,
            tolerance: 2.0,
            unit: Some("%".into()),
        });
        assert_eq!(score(&tolerant, &p, json!(13)), 1.0);
        assert_eq!(score(&tolerant, &p, json!(17.0)), 1.0);
        assert_eq!(score(&tolerant, &p, json!(17.5)), 0.0);
        assert!(parse_response(&tolerant, &p, &json!("15")).is_err());
    }

    #[test]
    fn a_paper_is_graded_on_points_with_the_pass_mark_inclusive() {
        let bank = Bank {
            questions: vec![
                Question {
                    id: "a".into(),
                    ..q(QuestionKind::TrueFalse { answer: true })
                },
                Question {
                    id: "b".into(),
                    points: 2,
                    ..q(QuestionKind::TrueFalse { answer: true })
                },
            ],
            vignettes: vec![],
        };
        let paper = Paper {
            items: ["a", "b"]
                .iter()
                .map(|id| {
                    super::super::paper::PaperItem::Question(PaperQuestion {
                        id: id.to_string(),
                        order: vec![],
                    })
                })
                .collect(),
        };
        let answers: BTreeMap<String, Value> = [
            ("a".to_string(), json!(false)),
            ("b".to_string(), json!(true)),
        ]
        .into();
        let grading = grade(&paper, &bank, &answers);
        assert_eq!((grading.points, grading.max_points), (2.0, 4.0));
        assert_eq!(grading.percent, 50.0);
        assert!(grading.passed(50));
        assert!(!grading.passed(51));
        assert!(!grading.results[0].correct() && grading.results[1].correct());
        let empty = grade(&paper, &bank, &BTreeMap::new());
        assert_eq!(empty.percent, 0.0);
        assert!(empty.results.iter().all(|r| !r.answered));
    }
}
