//! The paper of an attempt: which items were drawn and in what order everything is shown,
//! fixed at start and stored whole. Also what the learner sees of it — prompts and
//! options, never which option is right: choices, matching answers and ordering items are
//! shown under labels ("A", "B", …) given in the order of the paper, after shuffling, so no
//! id betrays the solution (the course files' choice ids never leave the server).

use std::collections::HashMap;

use rand::seq::SliceRandom;
use rand::Rng;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::catalog::model::{Bank, Question, QuestionKind, Quiz, Selection};
use crate::codes::code_list;

/// A question on the paper, with the order its options are shown in (indexes into the
/// choices, the matching pairs' right sides, or the ordering items; empty otherwise).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaperQuestion {
    pub id: String,
    pub order: Vec<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", from = "StoredItem")]
pub enum PaperItem {
    Question(PaperQuestion),
    Vignette {
        id: String,
        questions: Vec<PaperQuestion>,
    },
}

/// A paper item as stored, read in one pass. Serde reads an internally tagged enum by
/// first copying each object into a buffer of its own to find the tag: for a paper,
/// parsed on every start (the earlier papers, for the draw) and every submit, that was
/// most of the JSON work and of its allocations.
#[derive(Deserialize)]
struct StoredItem {
    #[serde(rename = "type")]
    kind: StoredKind,
    id: String,
    #[serde(default)]
    order: Vec<usize>,
    #[serde(default)]
    questions: Vec<PaperQuestion>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum StoredKind {
    Question,
    Vignette,
}

impl From<StoredItem> for PaperItem {
    fn from(item: StoredItem) -> Self {
        match item.kind {
            StoredKind::Question => PaperItem::Question(PaperQuestion {
                id: item.id,
                order: item.order,
            }),
            StoredKind::Vignette => PaperItem::Vignette {
                id: item.id,
                questions: item.questions,
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Paper {
    pub items: Vec<PaperItem>,
}

impl Paper {
    /// Every question on the paper, vignette questions included, in the order shown.
    pub fn questions(&self) -> impl Iterator<Item = &PaperQuestion> {
        self.items.iter().flat_map(|item| match item {
            PaperItem::Question(q) => std::slice::from_ref(q).iter(),
            PaperItem::Vignette { questions, .. } => questions.iter(),
        })
    }

    /// The drawn items (standalone questions and vignettes), by id.
    pub fn item_ids(&self) -> impl Iterator<Item = &str> {
        self.items.iter().map(|item| match item {
            PaperItem::Question(q) => q.id.as_str(),
            PaperItem::Vignette { id, .. } => id.as_str(),
        })
    }
}

/// The label of the option shown in position `position`: A, B, … Z, AA, AB, …
pub fn label(position: usize) -> String {
    let letters = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    if position < 26 {
        (letters[position] as char).to_string()
    } else {
        format!("{}{}", label(position / 26 - 1), label(position % 26))
    }
}

fn option_count(kind: &QuestionKind) -> usize {
    match kind {
        QuestionKind::SingleChoice { choices, .. }
        | QuestionKind::MultipleChoice { choices, .. } => choices.len(),
        QuestionKind::Matching { pairs } => pairs.len(),
        QuestionKind::Ordering { items } => items.len(),
        QuestionKind::TrueFalse { .. } | QuestionKind::Numeric { .. } => 0,
    }
}

fn paper_question(question: &Question, shuffle: bool, rng: &mut impl Rng) -> PaperQuestion {
    let mut order: Vec<usize> = (0..option_count(&question.kind)).collect();
    // Matching and ordering are shuffled even when choices are not: in file order the
    // answer would be given away.
    let always = matches!(
        question.kind,
        QuestionKind::Matching { .. } | QuestionKind::Ordering { .. }
    );
    if shuffle || always {
        order.shuffle(rng);
        if always && order.len() > 1 && order.iter().enumerate().all(|(i, o)| i == *o) {
            order.rotate_left(1);
        }
    }
    PaperQuestion {
        id: question.id.clone(),
        order,
    }
}

/// Draws a paper for `quiz` from the course bank: per draw, `count` items of its objective
/// in the quiz's pool, the ones `seen` least often on the learner's earlier papers first
/// (at random among equals), so that a retake repeats as little as the pool allows.
pub fn draw(quiz: &Quiz, bank: &Bank, seen: &HashMap<String, u32>, rng: &mut impl Rng) -> Paper {
    let item = |id: &str, rng: &mut _| -> Option<PaperItem> {
        if let Some(q) = bank.questions.iter().find(|q| q.id == id) {
            return Some(PaperItem::Question(paper_question(
                q,
                quiz.shuffle_choices,
                rng,
            )));
        }
        bank.vignettes
            .iter()
            .find(|v| v.id == id)
            .map(|v| PaperItem::Vignette {
                id: v.id.clone(),
                questions: v
                    .questions
                    .iter()
                    .map(|q| paper_question(q, quiz.shuffle_choices, rng))
                    .collect(),
            })
    };
    let ids: Vec<String> = match &quiz.selection {
        Selection::Items(items) => items.clone(),
        Selection::Draw(draws) => draws
            .iter()
            .flat_map(|d| {
                let mut pool = bank.pool_items(&d.objective, quiz.pool.as_deref());
                pool.shuffle(rng);
                // Stable: the shuffle decides among items seen as often.
                pool.sort_by_key(|id| seen.get(*id).copied().unwrap_or(0));
                pool.truncate(d.count as usize);
                pool.into_iter().map(str::to_owned).collect::<Vec<_>>()
            })
            .collect(),
    };
    let mut items: Vec<PaperItem> = ids.iter().filter_map(|id| item(id, rng)).collect();
    if quiz.shuffle_questions {
        items.shuffle(rng);
    }
    Paper { items }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OptionView {
    pub id: String,
    pub text: String,
}

/// A question as the learner sees it before feedback is allowed: nothing about the answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QuestionView {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: QuestionType,
    pub prompt: String,
    pub points: u32,
    /// Single and multiple choice: the choices, labelled "A", "B", … in the order of this
    /// paper (never the course file's choice ids).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub choices: Option<Vec<OptionView>>,
    /// Matching: the left column (ids "1", "2", …) and the answers to match them with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub left: Option<Vec<OptionView>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub right: Option<Vec<OptionView>>,
    /// Ordering: the items to put in order, shuffled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<OptionView>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

/// An item of the paper as shown: a question, whose `type` is its kind, or a vignette
/// (`"type": "vignette"`) with its questions. Not internally tagged: a question would then
/// carry two `type` keys in one object (`"question"`, then its kind), which strict JSON
/// readers refuse and others read as either.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(untagged)]
pub enum ItemView {
    Question(QuestionView),
    Vignette {
        #[serde(rename = "type")]
        kind: VignetteTag,
        id: String,
        title: String,
        case_html: String,
        questions: Vec<QuestionView>,
    },
}

/// The `type` of a vignette item: always `"vignette"`.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VignetteTag {
    Vignette,
}

code_list!(
    /// A question's type as the learner's paper names it (its answer stays server-side).
    QuestionType, "type de question" {
    SingleChoice = "single_choice": "Choix unique",
    MultipleChoice = "multiple_choice": "Choix multiples",
    TrueFalse = "true_false": "Vrai ou faux",
    Matching = "matching": "Appariement",
    Ordering = "ordering": "Remise en ordre",
    Numeric = "numeric": "Réponse numérique",
});

impl QuestionType {
    pub fn of(kind: &QuestionKind) -> Self {
        match kind {
            QuestionKind::SingleChoice { .. } => Self::SingleChoice,
            QuestionKind::MultipleChoice { .. } => Self::MultipleChoice,
            QuestionKind::TrueFalse { .. } => Self::TrueFalse,
            QuestionKind::Matching { .. } => Self::Matching,
            QuestionKind::Ordering { .. } => Self::Ordering,
            QuestionKind::Numeric { .. } => Self::Numeric,
        }
    }
}

fn labelled(texts: impl Iterator<Item = String>) -> Vec<OptionView> {
    texts
        .enumerate()
        .map(|(i, text)| OptionView { id: label(i), text })
        .collect()
}

pub fn question_view(question: &Question, paper: &PaperQuestion) -> QuestionView {
    let mut view = QuestionView {
        id: question.id.clone(),
        kind: QuestionType::of(&question.kind),
        prompt: question.prompt.clone(),
        points: question.points,
        choices: None,
        left: None,
        right: None,
        items: None,
        unit: None,
    };
    match &question.kind {
        QuestionKind::SingleChoice { choices, .. }
        | QuestionKind::MultipleChoice { choices, .. } => {
            view.choices = Some(labelled(
                paper.order.iter().map(|&i| choices[i].text.clone()),
            ));
        }
        QuestionKind::Matching { pairs } => {
            view.left = Some(
                pairs
                    .iter()
                    .enumerate()
                    .map(|(i, p)| OptionView {
                        id: (i + 1).to_string(),
                        text: p.left.clone(),
                    })
                    .collect(),
            );
            view.right = Some(labelled(
                paper.order.iter().map(|&i| pairs[i].right.clone()),
            ));
        }
        QuestionKind::Ordering { items } => {
            view.items = Some(labelled(paper.order.iter().map(|&i| items[i].clone())));
        }
        QuestionKind::Numeric { unit, .. } => view.unit = unit.clone(),
        QuestionKind::TrueFalse { .. } => {}
    }
    view
}

/// The paper as shown; items missing from the bank (impossible for a stored version) are
/// skipped rather than failing the whole attempt.
pub fn present(paper: &Paper, bank: &Bank) -> Vec<ItemView> {
    let find = |id: &str| bank.find_question(id);
    paper
        .items
        .iter()
        .filter_map(|item| match item {
            PaperItem::Question(pq) => {
                find(&pq.id).map(|q| ItemView::Question(question_view(q, pq)))
            }
            PaperItem::Vignette { id, questions } => {
                let vignette = bank.vignettes.iter().find(|v| &v.id == id)?;
                Some(ItemView::Vignette {
                    kind: VignetteTag::Vignette,
                    id: id.clone(),
                    title: vignette.title.clone(),
                    case_html: vignette.case_html.clone(),
                    questions: questions
                        .iter()
                        .filter_map(|pq| find(&pq.id).map(|q| question_view(q, pq)))
                        .collect(),
                })
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::model::{Choice, Draw, FeedbackPolicy, Pair, QuizRole, Vignette};
    use rand::SeedableRng;

    pub fn question(id: &str, objective: &str, kind: QuestionKind) -> Question {
        Question {
            id: id.into(),
            objective: objective.into(),
            prompt: format!("Question {id}"),
            points: 1,
            feedback: "Parce que.".into(),
            kind,
            pool: None,
        }
    }

    fn bank() -> Bank {
        let choices = |n: usize| {
            (0..n)
                .map(|i| Choice {
                    id: ((b'a' + i as u8) as char).to_string(),
                    text: format!("choix {i}"),
                })
                .collect::<Vec<_>>()
        };
        Bank {
            questions: (0..6)
                .map(|i| {
                    question(
                        &format!("q{i}"),
                        if i < 3 { "o1" } else { "o2" },
                        QuestionKind::SingleChoice {
                            choices: choices(4),
                            correct: "a".into(),
                        },
                    )
                })
                .chain([question(
                    "m",
                    "o3",
                    QuestionKind::Matching {
                        pairs: (0..3)
                            .map(|i| Pair {
                                left: format!("g{i}"),
                                right: format!("d{i}"),
                            })
                            .collect(),
                    },
                )])
                .collect(),
            vignettes: vec![Vignette {
                id: "v".into(),
                objective: "o2".into(),
                title: "Cas".into(),
                case_html: "<p>Cas</p>".into(),
                questions: vec![question(
                    "v1",
                    "o2",
                    QuestionKind::TrueFalse { answer: true },
                )],
                pool: None,
            }],
        }
    }

    fn quiz(selection: Selection) -> Quiz {
        Quiz {
            id: "final".into(),
            title: "Final".into(),
            role: QuizRole::Graded,
            pass_mark: 50,
            time_limit_minutes: None,
            max_attempts: None,
            selection,
            feedback: FeedbackPolicy::AfterSubmit,
            shuffle_questions: true,
            shuffle_choices: true,
            pool: None,
            after_lessons: false,
            after_quizzes: vec![],
            improvement_attempts: false,
            max_repeat_percent: 50,
            shares_items_with: vec![],
        }
    }

    #[test]
    fn a_paper_reads_back_as_it_was_stored() {
        let paper = Paper {
            items: vec![
                PaperItem::Question(PaperQuestion {
                    id: "q1".into(),
                    order: vec![2, 0, 1],
                }),
                PaperItem::Question(PaperQuestion {
                    id: "vf".into(),
                    order: vec![],
                }),
                PaperItem::Vignette {
                    id: "v1".into(),
                    questions: vec![PaperQuestion {
                        id: "v1a".into(),
                        order: vec![1, 0],
                    }],
                },
            ],
        };
        let stored = serde_json::to_string(&paper).unwrap();
        // The stored form, as earlier papers in the database have it.
        assert_eq!(
            stored,
            r#"{"items":[{"type":"question","id":"q1","order":[2,0,1]},{"type":"question","id":"vf","order":[]},{"type":"vignette","id":"v1","questions":[{"id":"v1a","order":[1,0]}]}]}"#
        );
        assert_eq!(serde_json::from_str::<Paper>(&stored).unwrap(), paper);
        // The tag may come anywhere in the object; an unknown one is refused.
        let moved = r#"{"items":[{"id":"q1","order":[2,0,1],"type":"question"}]}"#;
        assert_eq!(
            serde_json::from_str::<Paper>(moved).unwrap().items[0],
            paper.items[0]
        );
        assert!(serde_json::from_str::<Paper>(r#"{"items":[{"type":"essay","id":"e"}]}"#).is_err());
    }

    #[test]
    fn a_draw_takes_the_asked_count_per_objective_without_repeats() {
        let q = quiz(Selection::Draw(vec![
            Draw {
                objective: "o1".into(),
                count: 2,
            },
            Draw {
                objective: "o2".into(),
                count: 4,
            },
        ]));
        for seed in 0..50 {
            let paper = draw(
                &q,
                &bank(),
                &HashMap::new(),
                &mut rand::rngs::StdRng::seed_from_u64(seed),
            );
            assert_eq!(paper.items.len(), 6);
            let ids: std::collections::HashSet<String> = paper
                .items
                .iter()
                .map(|i| match i {
                    PaperItem::Question(q) => q.id.clone(),
                    PaperItem::Vignette { id, .. } => id.clone(),
                })
                .collect();
            assert_eq!(ids.len(), 6);
            assert_eq!(
                ids.iter()
                    .filter(|i| ["q0", "q1", "q2"].contains(&i.as_str()))
                    .count(),
                2
            );
        }
    }

    #[test]
    fn the_view_never_reveals_the_answer() {
        let q = quiz(Selection::Items(vec!["m".into(), "v".into(), "q0".into()]));
        let b = bank();
        for seed in 0..20 {
            let paper = draw(
                &q,
                &b,
                &HashMap::new(),
                &mut rand::rngs::StdRng::seed_from_u64(seed),
            );
            let json = serde_json::to_string(&present(&paper, &b)).unwrap();
            for leak in ["correct", "answer", "feedback", "Parce que", "tolerance"] {
                assert!(!json.contains(leak), "{leak} in {json}");
            }
            // Matching answers are never shown in the order of their lefts.
            let PaperItem::Question(m) = paper
                .items
                .iter()
                .find(|i| matches!(i, PaperItem::Question(q) if q.id == "m"))
                .unwrap()
            else {
                unreachable!()
            };
            assert_ne!(m.order, vec![0, 1, 2]);
        }
    }

    #[test]
    fn choices_are_shown_under_paper_labels_never_course_ids() {
        let q = quiz(Selection::Items(vec!["q0".into()]));
        let b = bank();
        let mut orders = std::collections::HashSet::new();
        for seed in 0..20 {
            let paper = draw(
                &q,
                &b,
                &HashMap::new(),
                &mut rand::rngs::StdRng::seed_from_u64(seed),
            );
            let [ItemView::Question(view)] = &present(&paper, &b)[..] else {
                panic!("one question drawn")
            };
            let PaperItem::Question(pq) = &paper.items[0] else {
                unreachable!()
            };
            let shown = view.choices.as_ref().unwrap();
            let ids: Vec<&str> = shown.iter().map(|o| o.id.as_str()).collect();
            assert_eq!(ids, ["A", "B", "C", "D"]);
            for (position, option) in shown.iter().enumerate() {
                assert_eq!(option.text, format!("choix {}", pq.order[position]));
            }
            orders.insert(pq.order.clone());
        }
        assert!(orders.len() > 1, "choices are shuffled");
    }

    #[test]
    fn a_shown_question_has_one_type_its_kind() {
        let q = quiz(Selection::Items(vec!["q0".into()]));
        let b = bank();
        let paper = draw(
            &q,
            &b,
            &HashMap::new(),
            &mut rand::rngs::StdRng::seed_from_u64(1),
        );

        let json = serde_json::to_string(&present(&paper, &b)).unwrap();

        assert_eq!(json.matches("\"type\"").count(), 1, "{json}");
        let items: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(items[0]["type"], "single_choice");
    }

    #[test]
    fn labels_run_past_z() {
        assert_eq!(label(0), "A");
        assert_eq!(label(25), "Z");
        assert_eq!(label(26), "AA");
        assert_eq!(label(27), "AB");
    }
}
