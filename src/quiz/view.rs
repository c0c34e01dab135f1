//! What a learner (or their tutor) sees of an attempt: the paper in its own labels, the
//! saved answers, and the result with per-question feedback only as the quiz's feedback
//! policy allows.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::decide::quiz_of;
use super::grade::{correct_answer, percent_of, Grading};
use super::paper::{self, ItemView, Paper};
use super::store::Attempt;
use crate::catalog::model::{Course, FeedbackPolicy, QuizRole};
use crate::codes::code_list;
use crate::enrolment::store::Session;
use crate::error::AppError;

code_list!(
    /// Where an attempt stands: open until submitted (by the learner or, past its deadline,
    /// graded with what was saved).
    AttemptStatus, "statut de tentative" {
    Open = "open": "En cours",
    Submitted = "submitted": "Rendue",
});

#[derive(Debug, Serialize, ToSchema)]
pub struct QuestionFeedback {
    pub id: String,
    pub points: f64,
    pub awarded: f64,
    pub correct: bool,
    /// The learner's answer, in the labels of the paper.
    pub answer: Option<Value>,
    pub correct_answer: Value,
    pub feedback: String,
}

/// The score on one objective of the course: what to work on, shown whatever the
/// feedback policy (it gives no answer away).
#[derive(Debug, Serialize, ToSchema)]
pub struct ObjectiveScore {
    pub objective: String,
    pub text: String,
    pub points: f64,
    pub max_points: f64,
    pub percent: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ResultView {
    pub points: f64,
    pub max_points: f64,
    pub percent: f64,
    pub pass_mark: u8,
    pub passed: bool,
    #[serde(with = "crate::http::timestamps::utc")]
    pub submitted_at: NaiveDateTime,
    /// Graded by the server at the deadline, without a submit.
    pub auto_submitted: bool,
    /// Per question, when the quiz's feedback policy allows it; otherwise absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub questions: Option<Vec<QuestionFeedback>>,
    /// Per objective of the paper, in the course's order.
    pub objectives: Vec<ObjectiveScore>,
    pub feedback_policy: FeedbackPolicy,
    /// The policy in one sentence, for the learner.
    pub feedback_note: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptView {
    pub id: String,
    pub enrolment_id: String,
    pub quiz_id: String,
    pub quiz_title: String,
    pub role: QuizRole,
    pub number: i32,
    pub max_attempts: Option<u32>,
    pub status: AttemptStatus,
    #[serde(with = "crate::http::timestamps::utc")]
    pub started_at: NaiveDateTime,
    /// Answers are accepted until then (plus a short grace for the network).
    #[serde(with = "crate::http::timestamps::utc_option")]
    pub deadline: Option<NaiveDateTime>,
    pub items: Vec<ItemView>,
    #[schema(value_type = Object)]
    pub answers: BTreeMap<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<ResultView>,
}

/// Where an attempt is viewed from: its session, the moment, and whether the learner's
/// result on the quiz is settled (see [`FeedbackPolicy::AfterPass`]).
#[derive(Clone, Copy)]
pub(super) struct Seen<'a> {
    pub session: &'a Session,
    pub at: NaiveDateTime,
    pub settled: bool,
}

pub(super) fn view(
    attempt: &Attempt,
    course: &Course,
    seen: Seen<'_>,
) -> Result<AttemptView, AppError> {
    view_of(attempt, &attempt.drawn_paper()?, course, seen)
}

/// The score per objective of a grading, in the course's order of objectives.
fn objective_scores(course: &Course, grading: &Grading) -> Vec<ObjectiveScore> {
    let totals = grading.by_objective(&course.bank);
    course
        .objectives
        .iter()
        .filter_map(|o| {
            let (points, max_points) = *totals.get(&o.id)?;
            Some(ObjectiveScore {
                objective: o.id.clone(),
                text: o.text.clone(),
                points,
                max_points,
                percent: percent_of(points, max_points),
            })
        })
        .collect()
}

/// [`view`] with the attempt's paper already parsed (or just drawn).
pub(super) fn view_of(
    attempt: &Attempt,
    paper: &Paper,
    course: &Course,
    seen: Seen<'_>,
) -> Result<AttemptView, AppError> {
    let Seen {
        session,
        at,
        settled,
    } = seen;
    let quiz = quiz_of(course, &attempt.quiz_id)?;
    let answers = attempt.saved_answers();
    let result = match (&attempt.submitted_at, &attempt.grading) {
        (Some(submitted_at), Some(grading)) => {
            let grading: Grading = serde_json::from_str(grading).map_err(anyhow::Error::from)?;
            let questions = quiz
                .feedback
                .allows(settled, session.closed_at, at)
                .then(|| {
                    let papers: BTreeMap<&str, &paper::PaperQuestion> =
                        paper.questions().map(|q| (q.id.as_str(), q)).collect();
                    grading
                        .results
                        .iter()
                        .filter_map(|r| {
                            let question = course.bank.find_question(&r.id)?;
                            let pq = papers.get(r.id.as_str())?;
                            Some(QuestionFeedback {
                                id: r.id.clone(),
                                points: r.points,
                                awarded: r.awarded,
                                correct: r.correct(),
                                answer: answers.get(&r.id).cloned(),
                                correct_answer: correct_answer(question, pq),
                                feedback: question.feedback.clone(),
                            })
                        })
                        .collect()
                });
            Some(ResultView {
                points: grading.points,
                max_points: grading.max_points,
                percent: grading.percent,
                pass_mark: quiz.pass_mark,
                passed: attempt.passed.unwrap_or(false),
                submitted_at: *submitted_at,
                auto_submitted: attempt.auto_submitted,
                questions,
                objectives: objective_scores(course, &grading),
                feedback_policy: quiz.feedback,
                feedback_note: quiz.feedback.sentence(),
            })
        }
        _ => None,
    };
    Ok(AttemptView {
        id: attempt.id.clone(),
        enrolment_id: attempt.enrolment_id.clone(),
        quiz_id: quiz.id.clone(),
        quiz_title: quiz.title.clone(),
        role: quiz.role,
        number: attempt.number,
        max_attempts: quiz.max_attempts,
        status: if attempt.submitted_at.is_some() {
            AttemptStatus::Submitted
        } else {
            AttemptStatus::Open
        },
        started_at: attempt.started_at,
        deadline: attempt.deadline,
        items: paper::present(paper, &course.bank),
        answers,
        result,
    })
}
