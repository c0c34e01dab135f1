//! A learner's results (as `completion::results` adds them up) and the item statistics of
//! a quiz for the people who write its questions: read-only views over graded attempts.

use std::cmp::Ordering;
use std::sync::Arc;

use serde::Serialize;
use utoipa::ToSchema;

use super::decide::quiz_of;
use super::grade::{percent_of, Grading};
use super::store::{self, Attempt};
use crate::catalog::cache::CourseCache;
use crate::catalog::model::{Course, QuizRole};
use crate::completion::results::{round2, summary, ObjectiveGain, ResultsView, Scored};
use crate::db::DbConn;
use crate::enrolment::access::readable_enrolment;
use crate::enrolment::store as enrolment_store;
use crate::error::AppError;
use crate::identity::auth::CurrentUser;

/// Scores per quiz, and the pre/post-test gain.
pub fn results(
    conn: &mut DbConn,
    courses: &CourseCache,
    user: &CurrentUser,
    enrolment_id: &str,
) -> Result<ResultsView, AppError> {
    let (enrolment, _) = readable_enrolment(conn, user, enrolment_id)?;
    let course: Arc<Course> = courses.get(conn, &enrolment.course_version_id)?;
    let attempts = store::attempts_of(conn, enrolment_id)?;
    let scored: Vec<Scored> = attempts.iter().map(Scored::from).collect();
    let mut view = summary(&course, &scored);
    view.gain_by_objective = gain_by_objective(&course, &attempts);
    Ok(view)
}

/// The session's gain per objective, averaged over the learners who took both tests, for
/// its staff; and how many learners that is. Empty when the course has no pre/post pair.
pub fn session_gain_by_objective(
    conn: &mut DbConn,
    courses: &CourseCache,
    user: &CurrentUser,
    session_id: &str,
) -> Result<(Vec<ObjectiveGain>, usize), AppError> {
    let session = crate::enrolment::service::staff_session(conn, user, session_id)?;
    let course = courses.get(conn, &session.course_version_id)?;
    let mut each = Vec::new();
    for (enrolment, _) in enrolment_store::enrolments_of_session(conn, &session.id)? {
        if enrolment.status == crate::enrolment::model::EnrolmentStatus::Active {
            let gains = gain_by_objective(&course, &store::attempts_of(conn, &enrolment.id)?);
            if !gains.is_empty() {
                each.push(gains);
            }
        }
    }
    let learners = each.len();
    Ok((mean_gains(&each), learners))
}

/// The mean of each objective's scores over learners (pure: the tests sum by hand).
pub fn mean_gains(each: &[Vec<ObjectiveGain>]) -> Vec<ObjectiveGain> {
    let Some(first) = each.first() else {
        return Vec::new();
    };
    first
        .iter()
        .map(|o| {
            let same: Vec<&ObjectiveGain> = each
                .iter()
                .filter_map(|gains| gains.iter().find(|g| g.objective == o.objective))
                .collect();
            let n = same.len() as f64;
            let mean = |f: fn(&ObjectiveGain) -> f64| same.iter().map(|g| f(g)).sum::<f64>() / n;
            let (pre, post) = (mean(|g| g.pre_test), mean(|g| g.post_test));
            ObjectiveGain {
                objective: o.objective.clone(),
                text: o.text.clone(),
                pre_test: pre,
                post_test: post,
                gain: post - pre,
            }
        })
        .collect()
}

/// The gain per objective: the first pre-test attempt against the best post-test one (the
/// attempts the overall gain compares), each grading split by the objectives of its items.
fn gain_by_objective(course: &Course, attempts: &[Attempt]) -> Vec<ObjectiveGain> {
    let by_role = |role: QuizRole| course.quizzes.iter().find(|q| q.role == role);
    let (Some(pre), Some(post)) = (by_role(QuizRole::PreTest), by_role(QuizRole::PostTest)) else {
        return Vec::new();
    };
    let graded = |quiz_id: &str| {
        attempts
            .iter()
            .filter(|a| a.quiz_id == quiz_id && a.percent.is_some())
            .collect::<Vec<_>>()
    };
    let first_pre = graded(&pre.id).into_iter().min_by_key(|a| a.number);
    let best_post = graded(&post.id)
        .into_iter()
        .max_by(|a, b| a.percent.partial_cmp(&b.percent).unwrap_or(Ordering::Equal));
    let split = |a: Option<&Attempt>| {
        a.and_then(|a| a.grading.as_deref())
            .and_then(|g| serde_json::from_str::<Grading>(g).ok())
            .map(|g| g.by_objective(&course.bank))
    };
    let (Some(pre), Some(post)) = (split(first_pre), split(best_post)) else {
        return Vec::new();
    };
    course
        .objectives
        .iter()
        .filter_map(|o| {
            let (pre_points, pre_max) = *pre.get(&o.id)?;
            let (post_points, post_max) = *post.get(&o.id)?;
            let (pre_test, post_test) = (
                percent_of(pre_points, pre_max),
                percent_of(post_points, post_max),
            );
            Some(ObjectiveGain {
                objective: o.id.clone(),
                text: o.text.clone(),
                pre_test,
                post_test,
                gain: round2(post_test - pre_test),
            })
        })
        .collect()
}

impl From<&Attempt> for Scored {
    fn from(attempt: &Attempt) -> Self {
        Self {
            quiz_id: attempt.quiz_id.clone(),
            number: attempt.number,
            percent: attempt.percent,
            passed: attempt.passed,
        }
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
    courses: &CourseCache,
    user: &CurrentUser,
    session_id: &str,
    quiz_id: &str,
    all_sessions: bool,
) -> Result<StatisticsView, AppError> {
    let session = crate::enrolment::service::staff_session(conn, user, session_id)?;
    let course = courses.get(conn, &session.course_version_id)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn gain(objective: &str, pre: f64, post: f64) -> ObjectiveGain {
        ObjectiveGain {
            objective: objective.into(),
            text: format!("Objectif {objective}"),
            pre_test: pre,
            post_test: post,
            gain: post - pre,
        }
    }

    #[test]
    fn a_sessions_gain_is_the_mean_of_its_learners_per_objective() {
        let each = vec![
            vec![gain("o1", 50.0, 100.0), gain("o2", 0.0, 50.0)],
            vec![gain("o1", 0.0, 50.0), gain("o2", 100.0, 100.0)],
        ];
        let mean = mean_gains(&each);
        assert_eq!(
            (mean[0].pre_test, mean[0].post_test, mean[0].gain),
            (25.0, 75.0, 50.0)
        );
        assert_eq!(
            (mean[1].pre_test, mean[1].post_test, mean[1].gain),
            (50.0, 75.0, 25.0)
        );
        assert!(mean_gains(&[]).is_empty());
    }
}
