//! Answers and grading, as pure functions of the paper, the course's questions and what the
//! learner saved: no query, no clock, so grading is exact and fast under exam load.
//!
//! Answers, in the labels of the paper (never the course file's ids): single choice `"B"`,
//! multiple choice `["A", "C"]`, true/false `true`, matching `{"1": "C", "2": "A"}` (left
//! id, exactly `"1"` to `"n"` → answer label), ordering `["C", "A", "B"]` (labels in the
//! chosen order), numeric `12.5`; `null` clears an answer. Labels are mapped back to the
//! course's options through the order stored in the paper. Scoring: one question is worth its points; multiple choice is
//! all-or-nothing unless the question says `partial` — then (right picks − wrong picks) /
//! right answers, never below zero; matching earns its share of right pairs; ordering is
//! all-or-nothing; numeric is right within the tolerance. No question earns less than
//! nothing or more than its points.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::paper::{label, Paper, PaperQuestion};
use crate::catalog::model::{Bank, Choice, Question, QuestionKind};
use crate::completion::results::round2;

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

/// The option (index into the course's choices, pairs or items) shown under `label_text`.
fn option_of(paper: &PaperQuestion, label_text: &str) -> Option<usize> {
    position_of(paper, label_text).map(|p| paper.order[p])
}

/// The pair a matching key names: `"1"` … `"n"` exactly (not `"01"` nor `"+1"`), as 0-based.
fn left_of(key: &str, pairs: usize) -> Option<usize> {
    (1..=pairs).find(|n| n.to_string() == key).map(|n| n - 1)
}

fn strings(value: &Value) -> Option<Vec<String>> {
    value.as_array().and_then(|a| {
        a.iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
    })
}

fn distinct(labels: &[String]) -> bool {
    labels.iter().collect::<HashSet<_>>().len() == labels.len()
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
    let shown = |l: &str| position_of(paper, l).is_some();
    match &question.kind {
        QuestionKind::SingleChoice { .. } => match value.as_str() {
            Some(l) if shown(l) => Ok(Response::Choice(l.into())),
            _ => Err(format!(
                "l'étiquette d'un des choix proposés ({})",
                labels()
            )),
        },
        QuestionKind::MultipleChoice { .. } => match strings(value) {
            Some(chosen) if chosen.iter().all(|l| shown(l)) && distinct(&chosen) => {
                Ok(Response::Choices(chosen))
            }
            _ => Err(format!(
                "une liste d'étiquettes des choix proposés ({}), sans doublon",
                labels()
            )),
        },
        QuestionKind::TrueFalse { .. } => value
            .as_bool()
            .map(Response::Bool)
            .ok_or_else(|| "true ou false".into()),
        QuestionKind::Matching { pairs } => {
            let expected = || {
                format!(
                    "un objet {{\"1\": \"A\", …}} associant chaque élément (\"1\" à \"{}\") à une \
                     réponse ({})",
                    pairs.len(),
                    labels()
                )
            };
            let object = value.as_object().ok_or_else(expected)?;
            let mut matches = BTreeMap::new();
            for (left, right) in object {
                match right.as_str() {
                    Some(r) if left_of(left, pairs.len()).is_some() && shown(r) => {
                        matches.insert(left.clone(), r.to_owned());
                    }
                    _ => return Err(expected()),
                }
            }
            Ok(Response::Matches(matches))
        }
        QuestionKind::Ordering { .. } => match strings(value) {
            Some(order) if order.iter().all(|l| shown(l)) && distinct(&order) => {
                Ok(Response::Order(order))
            }
            _ => Err(format!(
                "la liste des étiquettes dans l'ordre choisi ({})",
                labels()
            )),
        },
        QuestionKind::Numeric { .. } => value
            .as_f64()
            .filter(|n| n.is_finite())
            .map(Response::Number)
            .ok_or_else(|| "un nombre".into()),
    }
}

/// The share of the question's points a response earns, between 0 and 1 whatever the
/// response holds (labels are mapped back through the paper's order).
pub fn credit(question: &Question, paper: &PaperQuestion, response: &Response) -> f64 {
    let share = raw_credit(question, paper, response);
    if share.is_nan() {
        0.0
    } else {
        share.clamp(0.0, 1.0)
    }
}

fn raw_credit(question: &Question, paper: &PaperQuestion, response: &Response) -> f64 {
    fn choice_id<'c>(paper: &PaperQuestion, choices: &'c [Choice], l: &str) -> Option<&'c str> {
        option_of(paper, l)
            .and_then(|i| choices.get(i))
            .map(|c| c.id.as_str())
    }
    match (&question.kind, response) {
        (QuestionKind::SingleChoice { choices, correct }, Response::Choice(l)) => f64::from(
            u8::from(choice_id(paper, choices, l) == Some(correct.as_str())),
        ),
        (
            QuestionKind::MultipleChoice {
                choices,
                correct,
                partial,
            },
            Response::Choices(labels),
        ) => {
            let picked: HashSet<&str> = labels
                .iter()
                .filter_map(|l| choice_id(paper, choices, l))
                .collect();
            let right = picked
                .iter()
                .filter(|id| correct.iter().any(|c| c == *id))
                .count() as f64;
            let wrong = picked.len() as f64 - right;
            if *partial {
                (right - wrong) / correct.len().max(1) as f64
            } else {
                f64::from(u8::from(wrong == 0.0 && right == correct.len() as f64))
            }
        }
        (QuestionKind::TrueFalse { answer }, Response::Bool(b)) => f64::from(u8::from(answer == b)),
        (QuestionKind::Matching { pairs }, Response::Matches(matches)) => {
            // Each left counts once, whatever keys the response holds.
            let right: HashSet<usize> = matches
                .iter()
                .filter_map(|(left, r)| {
                    let left = left_of(left, pairs.len())?;
                    (option_of(paper, r) == Some(left)).then_some(left)
                })
                .collect();
            right.len() as f64 / pairs.len().max(1) as f64
        }
        (QuestionKind::Ordering { items }, Response::Order(order)) => {
            let chosen: Vec<usize> = order.iter().filter_map(|l| option_of(paper, l)).collect();
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
    let position_of_option = |original: usize| paper.order.iter().position(|&o| o == original);
    let label_of = |original: usize| position_of_option(original).map(label).unwrap_or_default();
    let choice_position = |choices: &[Choice], id: &str| {
        choices
            .iter()
            .position(|c| c.id == id)
            .and_then(position_of_option)
    };
    match &question.kind {
        QuestionKind::SingleChoice { choices, correct } => {
            json!(choice_position(choices, correct)
                .map(label)
                .unwrap_or_default())
        }
        QuestionKind::MultipleChoice {
            choices, correct, ..
        } => {
            let mut positions: Vec<usize> = correct
                .iter()
                .filter_map(|id| choice_position(choices, id))
                .collect();
            positions.sort_unstable();
            json!(positions.into_iter().map(label).collect::<Vec<_>>())
        }
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

    /// Points awarded and possible per objective of the bank's questions, by objective id.
    pub fn by_objective(&self, bank: &Bank) -> BTreeMap<String, (f64, f64)> {
        let mut totals: BTreeMap<String, (f64, f64)> = BTreeMap::new();
        for r in &self.results {
            if let Some(q) = bank.find_question(&r.id) {
                let total = totals.entry(q.objective.clone()).or_default();
                total.0 += r.awarded;
                total.1 += r.points;
            }
        }
        totals
    }
}

/// `awarded` out of `points` in percent, two decimals (0 when nothing was possible).
pub fn percent_of(awarded: f64, points: f64) -> f64 {
    if points > 0.0 {
        round2(awarded / points * 100.0)
    } else {
        0.0
    }
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
            pool: None,
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
        // Shown: A = c, B = a, C = b.
        let p = pq(vec![2, 0, 1]);
        assert_eq!(score(&single, &p, json!("C")), 1.0);
        assert_eq!(score(&single, &p, json!("B")), 0.0);
        assert_eq!(score(&single, &p, json!("A")), 0.0);
        assert_eq!(correct_answer(&single, &p), json!("C"));
        // The course file's ids are not answers: only the paper's labels are.
        for id in ["a", "b", "c", "D", "z"] {
            assert!(parse_response(&single, &p, &json!(id)).is_err(), "{id}");
        }
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
        // Shown: A = e, B = c, C = a, D = d, E = b; right: B, C, E.
        let p = pq(vec![4, 2, 0, 3, 1]);
        let strict = q(kind(false));
        assert_eq!(correct_answer(&strict, &p), json!(["B", "C", "E"]));
        assert_eq!(score(&strict, &p, json!(["E", "C", "B"])), 1.0);
        assert_eq!(score(&strict, &p, json!(["B", "C"])), 0.0);
        assert_eq!(score(&strict, &p, json!(["B", "C", "E", "D"])), 0.0);
        let partial = q(kind(true));
        assert!((score(&partial, &p, json!(["B", "C"])) - 2.0 / 3.0).abs() < 1e-12);
        assert!((score(&partial, &p, json!(["B", "C", "D"])) - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(score(&partial, &p, json!(["B", "A", "D"])), 0.0);
        assert_eq!(score(&partial, &p, json!([])), 0.0);
        assert!(parse_response(&partial, &p, &json!(["B", "B"])).is_err());
        assert!(parse_response(&partial, &p, &json!(["a", "b", "c"])).is_err());
        // Whatever reaches `credit`, it stays between 0 and 1.
        let repeated = Response::Choices(vec!["B".into(), "B".into(), "C".into(), "E".into()]);
        assert_eq!(credit(&partial, &p, &repeated), 1.0);
        let wrong = Response::Choices(vec!["A".into(), "D".into()]);
        assert_eq!(credit(&partial, &p, &wrong), 0.0);
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
    fn a_matching_left_is_its_exact_number_and_counts_once() {
        let matching = q(QuestionKind::Matching {
            pairs: (0..3)
                .map(|i| Pair {
                    left: format!("g{i}"),
                    right: format!("d{i}"),
                })
                .collect(),
        });
        // Shown: A = d2, B = d0, C = d1; "1" → B is right.
        let p = pq(vec![2, 0, 1]);
        for key in ["01", "+1", " 1", "1.0", "0", "4", "١"] {
            assert!(
                parse_response(&matching, &p, &json!({ key: "B" })).is_err(),
                "{key}"
            );
        }
        assert!(parse_response(&matching, &p, &json!({"1": "B", "01": "B", "+1": "B"})).is_err());
        // Even a response built around the parser earns each left once, at most everything.
        let forged = Response::Matches(
            [("1", "B"), ("01", "B"), ("+1", "B"), ("001", "B")]
                .iter()
                .map(|(l, r)| (l.to_string(), r.to_string()))
                .collect(),
        );
        assert!((credit(&matching, &p, &forged) - 1.0 / 3.0).abs() < 1e-12);
        let all = json!({"1": "B", "2": "C", "3": "A"});
        assert_eq!(score(&matching, &p, all), 1.0);
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

/// Answers come from the learner's browser as any JSON: read or refused, never a panic,
/// and never worth less than nothing or more than the question.
#[cfg(test)]
mod properties {
    use super::*;
    use crate::catalog::model::{Choice, Pair};
    use proptest::prelude::*;

    fn json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
            "[A-Ea-e]{0,2}".prop_map(Value::from),
            ".{0,12}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 40, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::btree_map("[A-Ea-e]{1,2}|.{0,6}", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn kinds() -> Vec<QuestionKind> {
        let choices: Vec<Choice> = ["a", "b", "c", "d"]
            .iter()
            .map(|id| Choice {
                id: (*id).into(),
                text: id.to_uppercase(),
            })
            .collect();
        vec![
            QuestionKind::SingleChoice {
                choices: choices.clone(),
                correct: "b".into(),
            },
            QuestionKind::MultipleChoice {
                choices: choices.clone(),
                correct: vec!["a".into(), "c".into()],
                partial: true,
            },
            QuestionKind::MultipleChoice {
                choices,
                correct: vec!["d".into()],
                partial: false,
            },
            QuestionKind::TrueFalse { answer: false },
            QuestionKind::Matching {
                pairs: (0..4)
                    .map(|i| Pair {
                        left: format!("l{i}"),
                        right: format!("r{i}"),
                    })
                    .collect(),
            },
            QuestionKind::Ordering {
                items: (0..4).map(|i| format!("i{i}")).collect(),
            },
            QuestionKind::Numeric {
                answer: 12.5,
                tolerance: 0.5,
                unit: None,
            },
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn any_json_answer_is_read_or_refused_and_earns_between_nothing_and_everything(
            value in json(),
            order in Just(vec![0usize, 1, 2, 3]).prop_shuffle(),
        ) {
            for kind in kinds() {
                let question = Question {
                    id: "q".into(),
                    objective: "o".into(),
                    prompt: "?".into(),
                    points: 3,
                    feedback: "!".into(),
                    kind,
                    pool: None,
                };
                let paper = PaperQuestion { id: "q".into(), order: order.clone() };
                if let Ok(response) = parse_response(&question, &paper, &value) {
                    let share = credit(&question, &paper, &response);
                    prop_assert!((0.0..=1.0).contains(&share), "{share} for {value}");
                }
            }
        }
    }
}
