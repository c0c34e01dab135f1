//! What a learner's attempts add up to: best score per quiz and the pre/post-test gain.
//! Pure; the quiz's results view, the completion's evaluation and the reports share it.

use serde::Serialize;
use utoipa::ToSchema;

use crate::catalog::model::{Course, QuizRole};

#[derive(Debug, Serialize, ToSchema)]
pub struct QuizResultView {
    pub quiz_id: String,
    pub title: String,
    pub role: QuizRole,
    pub attempts: usize,
    pub best_percent: Option<f64>,
    pub passed: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ResultsView {
    pub quizzes: Vec<QuizResultView>,
    /// First graded pre-test attempt, in percent.
    pub pre_test: Option<f64>,
    /// Best graded post-test attempt, in percent.
    pub post_test: Option<f64>,
    /// Post-test minus pre-test, in percentage points.
    pub gain: Option<f64>,
    /// The same, objective by objective (filled where the gradings are at hand).
    pub gain_by_objective: Vec<ObjectiveGain>,
}

/// Pre- and post-test scores on one objective of the course, in percent.
#[derive(Debug, Serialize, ToSchema)]
pub struct ObjectiveGain {
    pub objective: String,
    pub text: String,
    pub pre_test: f64,
    pub post_test: f64,
    /// Post minus pre, in percentage points.
    pub gain: f64,
}

/// What results need of an attempt (reports load just this, for many enrolments).
#[derive(Debug, Clone)]
pub struct Scored {
    pub quiz_id: String,
    pub number: i32,
    pub percent: Option<f64>,
    pub passed: Option<bool>,
}

/// Scores per quiz and the pre/post-test gain of one enrolment's attempts: the first
/// pre-test attempt, the best post-test one.
pub fn summary(course: &Course, attempts: &[Scored]) -> ResultsView {
    fn graded<'a>(attempts: &'a [Scored], quiz_id: &'a str) -> impl Iterator<Item = &'a Scored> {
        attempts
            .iter()
            .filter(move |a| a.quiz_id == quiz_id && a.percent.is_some())
    }
    let best = |quiz_id: &str| {
        graded(attempts, quiz_id)
            .filter_map(|a| a.percent)
            .reduce(f64::max)
    };
    let by_role = |role: QuizRole| course.quizzes.iter().find(|q| q.role == role);
    let pre_test = by_role(QuizRole::PreTest).and_then(|q| {
        graded(attempts, &q.id)
            .min_by_key(|a| a.number)
            .and_then(|a| a.percent)
    });
    let post_test = by_role(QuizRole::PostTest).and_then(|q| best(&q.id));
    ResultsView {
        quizzes: course
            .quizzes
            .iter()
            .map(|q| QuizResultView {
                quiz_id: q.id.clone(),
                title: q.title.clone(),
                role: q.role,
                attempts: attempts.iter().filter(|a| a.quiz_id == q.id).count(),
                best_percent: best(&q.id),
                passed: graded(attempts, &q.id).any(|a| a.passed == Some(true)),
            })
            .collect(),
        pre_test,
        post_test,
        gain: pre_test
            .zip(post_test)
            .map(|(pre, post)| round2(post - pre)),
        gain_by_objective: Vec::new(),
    }
}

/// Two decimals: how every percentage and gain is shown and stored.
pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
