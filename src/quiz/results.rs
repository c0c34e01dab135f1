//! What a learner's attempts add up to (best score per quiz, pre/post-test gain) and the
//! item statistics of a quiz for the people who write its questions: read-only views over
//! graded attempts.

use std::sync::Arc;

use serde::Serialize;
use utoipa::ToSchema;

use super::grade::Grading;
use super::service::quiz_of;
use super::store::{self, Attempt};
use crate::catalog::model::{Course, QuizRole};
use crate::db::DbConn;
use crate::enrolment::store as enrolment_store;
use crate::error::AppError;
use crate::identity::auth::CurrentUser;
use crate::learning::service::{self as learning, Learning};

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
}

/// Scores per quiz, and the pre/post-test gain.
pub fn results(
    conn: &mut DbConn,
    learning: &Learning,
    user: &CurrentUser,
    enrolment_id: &str,
) -> Result<ResultsView, AppError> {
    let (enrolment, _) = learning::readable_enrolment(conn, user, enrolment_id)?;
    let course: Arc<Course> = learning.courses.get(conn, &enrolment.course_version_id)?;
    let attempts = store::attempts_of(conn, enrolment_id)?;
    let scored: Vec<Scored> = attempts.iter().map(Scored::of).collect();
    Ok(summary(&course, &scored))
}

/// What results need of an attempt (reports load just this, for many enrolments).
#[derive(Debug, Clone)]
pub struct Scored {
    pub quiz_id: String,
    pub number: i32,
    pub percent: Option<f64>,
    pub passed: Option<bool>,
}

impl Scored {
    pub fn of(attempt: &Attempt) -> Self {
        Self {
            quiz_id: attempt.quiz_id.clone(),
            number: attempt.number,
            percent: attempt.percent,
            passed: attempt.passed,
        }
    }
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
            .map(|(pre, post)| ((post - pre) * 100.0).round() / 100.0),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatisticsView {
    pub quiz_id: String,
    /// Graded attempts counted.
    pub attempts: usize,
    /// Sessions counted: this one, or all of the organisation's sessions of the same course
    /// version.
    pub sessions: usize,
    pub items: Vec<ItemStatisticsView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ItemStatisticsView {
    pub prompt: String,
    #[serde(flatten)]
    pub statistics: super::stats::ItemStatistics,
}

/// Item statistics of a quiz over a session, or over every session of the organisation
/// that runs the same course version (another version may have other questions under the
/// same ids); for its tutors and admins.
pub fn statistics(
    conn: &mut DbConn,
    learning: &Learning,
    user: &CurrentUser,
    session_id: &str,
    quiz_id: &str,
    all_sessions: bool,
) -> Result<StatisticsView, AppError> {
    let session = crate::enrolment::service::staff_session(conn, user, session_id)?;
    let course = learning.courses.get(conn, &session.course_version_id)?;
    quiz_of(&course, quiz_id)?;
    let sessions: Vec<String> = if all_sessions {
        enrolment_store::sessions_of(conn, &session.organisation_id)?
            .into_iter()
            .filter(|s| s.course_version_id == session.course_version_id)
            .map(|s| s.id)
            .collect()
    } else {
        vec![session.id.clone()]
    };
    let gradings: Vec<Grading> = store::gradings(conn, &sessions, quiz_id)?
        .iter()
        .filter_map(|g| serde_json::from_str(g).ok())
        .collect();
    let items = super::stats::item_statistics(&gradings)
        .into_iter()
        .map(|statistics| ItemStatisticsView {
            prompt: course
                .bank
                .find_question(&statistics.question_id)
                .map(|q| q.prompt.clone())
                .unwrap_or_default(),
            statistics,
        })
        .collect();
    Ok(StatisticsView {
        quiz_id: quiz_id.to_owned(),
        attempts: gradings.len(),
        sessions: sessions.len(),
        items,
    })
}
