//! What a learner reads before starting a quiz: its rules (questions, time limit, attempts
//! left, pass mark, feedback policy), what it still waits for, and the attempts so far.
//! Opening a quiz is not starting it: the page shows this, and only « Commencer » starts a
//! counted, timed attempt. Whether a start would succeed is `decide::start`'s answer, so
//! the page and the start never disagree.

use chrono::NaiveDateTime;
use serde::Serialize;
use utoipa::ToSchema;

use super::decide::{self, quiz_of, Start, StartFacts};
use super::store::{self, AttemptLine};
use super::QuizAt;
use crate::catalog::cache::CourseCache;
use crate::catalog::model::{FeedbackPolicy, QuizRole};
use crate::completion;
use crate::db::DbConn;
use crate::enrolment::access::own_enrolment;
use crate::error::AppError;
use crate::identity::auth::CurrentUser;

#[derive(Debug, Serialize, ToSchema)]
pub struct QuizOverview {
    pub enrolment_id: String,
    pub quiz_id: String,
    pub title: String,
    pub role: QuizRole,
    /// Questions or case vignettes per attempt.
    pub item_count: u32,
    pub time_limit_minutes: Option<u32>,
    pub max_attempts: Option<u32>,
    pub attempts_left: Option<u32>,
    /// Percent needed to pass (0 for a quiz that is not passed or failed).
    pub pass_mark: u8,
    /// Whether the quiz has a pass mark that means something (graded or post-test).
    pub assessed: bool,
    pub feedback_policy: FeedbackPolicy,
    pub feedback_note: &'static str,
    /// A start would begin a new attempt now.
    pub can_start: bool,
    /// The attempt in progress, to resume.
    pub open_attempt: Option<String>,
    /// Why a new attempt cannot start (what is missing, no attempt left, already passed).
    pub blocked: Option<String>,
    pub passed: bool,
    pub attempts: Vec<AttemptLine>,
}

/// The quiz as its learner sees it before starting; others get a 404.
pub fn overview(
    conn: &mut DbConn,
    courses: &CourseCache,
    user: &CurrentUser,
    at_quiz: QuizAt<'_>,
    at: NaiveDateTime,
) -> Result<QuizOverview, AppError> {
    let (enrolment, session) = own_enrolment(conn, user, at_quiz.enrolment_id)?;
    let course = courses.get(conn, &enrolment.course_version_id)?;
    let quiz = quiz_of(&course, at_quiz.quiz_id)?;
    let states = store::attempt_states(conn, at_quiz)?;
    let lessons_done = completion::store::lessons_done(conn, at_quiz.enrolment_id)?;
    let submitted_quizzes = store::submitted_quizzes(conn, at_quiz.enrolment_id)?;
    let decided = decide::start(&StartFacts {
        enrolment: &enrolment,
        session: &session,
        course: &course,
        quiz_id: at_quiz.quiz_id,
        attempts: &states,
        extra_time_percent: 0,
        lessons_done: &lessons_done,
        submitted_quizzes: &submitted_quizzes,
        at,
    });
    let (can_start, open_attempt, blocked) = match decided {
        Ok(Start::Resume { attempt_id }) => (false, Some(attempt_id.to_owned()), None),
        Ok(Start::New { .. }) => (true, None, None),
        Err(e) => (
            false,
            None,
            Some(e.detail().unwrap_or("Indisponible.").to_owned()),
        ),
    };
    let scores = store::scores(conn, at_quiz)?;
    let used = states.len() as u32;
    Ok(QuizOverview {
        enrolment_id: enrolment.id.clone(),
        quiz_id: quiz.id.clone(),
        title: quiz.title.clone(),
        role: quiz.role,
        item_count: quiz.item_count(),
        time_limit_minutes: quiz.time_limit_minutes,
        max_attempts: quiz.max_attempts,
        attempts_left: quiz.max_attempts.map(|max| max.saturating_sub(used)),
        pass_mark: quiz.pass_mark,
        assessed: matches!(quiz.role, QuizRole::Graded | QuizRole::PostTest),
        feedback_policy: quiz.feedback,
        feedback_note: quiz.feedback.sentence(),
        can_start,
        open_attempt,
        blocked,
        passed: states.iter().any(|s| s.passed == Some(true)),
        attempts: scores,
    })
}
