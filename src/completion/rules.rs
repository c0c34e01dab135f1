//! The completion rules as pure functions: what still stands between an enrolment and
//! completion, and what its certificate may say of the learner's results.

use std::collections::HashSet;

use chrono::NaiveDateTime;

use super::results::{summary, Scored};
use crate::catalog::model::{Course, QuizRole};
use crate::certificates::model::Evaluation;

/// What still stands between an enrolment and completion, in French; empty when complete.
pub fn missing_requirements(
    course: &Course,
    done: &HashSet<String>,
    active_seconds: i64,
    passed: &HashSet<String>,
) -> Vec<String> {
    let mut missing = Vec::new();
    let left = course
        .lessons
        .iter()
        .filter(|l| !done.contains(&l.id))
        .count();
    if left > 0 {
        missing.push(format!("{left} leçon(s) à terminer"));
    }
    let required = i64::from(course.completion.min_minutes) * 60;
    if active_seconds < required {
        missing.push(format!(
            "{} minute(s) de formation à effectuer",
            (required - active_seconds + 59) / 60
        ));
    }
    for quiz in &course.completion.required_quizzes {
        if !passed.contains(quiz) {
            let title = course
                .quizzes
                .iter()
                .find(|q| &q.id == quiz)
                .map_or(quiz.as_str(), |q| q.title.as_str());
            missing.push(format!("quiz « {title} » à réussir"));
        }
    }
    missing
}

/// What the certificate says of the holder's results, from the attempts submitted by
/// completion: a score only if its quiz's feedback policy already lets scores be shown
/// at `at` (in a session closed at `closed_at`, if it is).
pub fn evaluation(
    course: &Course,
    attempts: &[Scored],
    closed_at: Option<NaiveDateTime>,
    at: NaiveDateTime,
) -> Evaluation {
    let results = summary(course, attempts);
    let shown = |role: QuizRole| {
        course
            .quizzes
            .iter()
            .any(|q| q.role == role && q.feedback.shows_scores(closed_at, at))
    };
    let final_score = results
        .quizzes
        .iter()
        .filter(|r| r.role == QuizRole::Graded)
        .filter(|r| course.completion.required_quizzes.contains(&r.quiz_id))
        .filter(|r| {
            course
                .quizzes
                .iter()
                .any(|q| q.id == r.quiz_id && q.feedback.shows_scores(closed_at, at))
        })
        .filter_map(|r| r.best_percent)
        .reduce(f64::min);
    let (pre_shown, post_shown) = (shown(QuizRole::PreTest), shown(QuizRole::PostTest));
    Evaluation {
        pre_test: results.pre_test.filter(|_| pre_shown),
        post_test: results.post_test.filter(|_| post_shown),
        gain: results.gain.filter(|_| pre_shown && post_shown),
        final_score,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::model::{
        Bank, Completion, CourseKind, FeedbackPolicy, Lesson, Quiz, Selection,
    };

    fn course(completion: Completion) -> Course {
        let lesson = |id: &str| Lesson {
            id: id.into(),
            position: 1,
            unit: None,
            title: id.into(),
            minutes: 10,
            objectives: vec![],
            html: String::new(),
            reviewed_on: None,
            references: vec![],
            activities: vec![],
        };
        Course {
            slug: "c".into(),
            title: "C".into(),
            kind: CourseKind::Dpc,
            audience: String::new(),
            language: "fr".into(),
            version_label: "1".into(),
            duration_minutes: 60,
            summary: String::new(),
            objectives: vec![],
            dpc: None,
            units: vec![],
            thesis: None,
            configuration: Default::default(),
            completion,
            du_rules: None,
            lessons: vec![lesson("l1"), lesson("l2")],
            bank: Bank::default(),
            quizzes: vec![],
        }
    }

    #[test]
    fn every_missing_requirement_is_named() {
        let c = course(Completion {
            min_minutes: 30,
            required_quizzes: vec!["post-test".into()],
            ..Completion::default()
        });
        let done: HashSet<String> = ["l1".to_string()].into();
        let missing = missing_requirements(&c, &done, 25 * 60, &HashSet::new());
        assert_eq!(
            missing,
            vec![
                "1 leçon(s) à terminer",
                "5 minute(s) de formation à effectuer",
                "quiz « post-test » à réussir"
            ]
        );
        let all: HashSet<String> = ["l1".to_string(), "l2".to_string()].into();
        let passed: HashSet<String> = ["post-test".to_string()].into();
        assert!(missing_requirements(&c, &all, 30 * 60, &passed).is_empty());
    }

    #[test]
    fn the_evaluation_shows_only_the_scores_the_learner_may_already_see() {
        let mut c = course(Completion {
            required_quizzes: vec!["final".into()],
            ..Completion::default()
        });
        let quiz = |id: &str, role: QuizRole, feedback: FeedbackPolicy| Quiz {
            id: id.into(),
            title: id.into(),
            role,
            pass_mark: 50,
            time_limit_minutes: None,
            max_attempts: None,
            selection: Selection::Items(vec![]),
            feedback,
            shuffle_questions: false,
            shuffle_choices: false,
            pool: None,
            after_lessons: false,
            after_quizzes: vec![],
            improvement_attempts: false,
            max_repeat_percent: 50,
            shares_items_with: vec![],
        };
        c.quizzes = vec![
            quiz("pre", QuizRole::PreTest, FeedbackPolicy::AfterSubmit),
            quiz("post", QuizRole::PostTest, FeedbackPolicy::AfterSubmit),
            quiz("final", QuizRole::Graded, FeedbackPolicy::AfterClose),
        ];
        let scored = |quiz_id: &str, number: i32, percent: f64| Scored {
            quiz_id: quiz_id.into(),
            number,
            percent: Some(percent),
            passed: Some(percent >= 50.0),
        };
        let attempts = [
            scored("pre", 1, 40.0),
            scored("pre", 2, 90.0),
            scored("post", 1, 70.0),
            scored("post", 2, 80.0),
            scored("final", 1, 75.0),
        ];
        let at = chrono::DateTime::from_timestamp(1_800_000_000, 0)
            .unwrap()
            .naive_utc();
        let open = evaluation(&c, &attempts, None, at);
        assert_eq!(
            (open.pre_test, open.post_test, open.gain, open.final_score),
            (Some(40.0), Some(80.0), Some(40.0), None),
            "first pre-test, best post-test; the final score waits for the session's close"
        );
        let closed = evaluation(&c, &attempts, Some(at), at);
        assert_eq!(closed.final_score, Some(75.0));
    }
}
