//! What a quiz start and a submit do, decided by pure functions from the facts read once
//! (`quiz::facts`, which says what guards a decision taken on them): answer with what is
//! there, refuse, or write. `service` reads the facts, asks here, and carries the decision out; the rules
//! (attempt limit, deadline and grace, idempotent replay, merging the last answers into the
//! saved ones) live here only, and are tested without a database.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{Duration, NaiveDateTime};
use serde_json::Value;

use super::grade;
use super::paper::Paper;
use super::store::{Attempt, AttemptState};
use crate::catalog::model::{Course, Quiz, QuizRole};
use crate::enrolment::access::ensure_recording;
use crate::enrolment::store::{Enrolment, Session};
use crate::error::{AppError, FieldError};

/// Answers reaching the server up to this long after the deadline still count (network).
pub const GRACE_SECONDS: i64 = 30;

/// A submit request: its `Idempotency-Key`, the hash of its body (see
/// [`request_hash`](super::service::request_hash)), and the last answers sent with it.
#[derive(Clone)]
pub struct Submission {
    pub key: Option<String>,
    pub body_hash: String,
    pub answers: Option<BTreeMap<String, Value>>,
}

/// The quiz `quiz_id` of `course`.
pub(super) fn quiz_of<'a>(course: &'a Course, quiz_id: &str) -> Result<&'a Quiz, AppError> {
    course
        .quizzes
        .iter()
        .find(|q| q.id == quiz_id)
        .ok_or_else(|| AppError::not_found("Quiz introuvable dans cette formation."))
}

/// Whether `at` is past an attempt's deadline and its grace.
pub(super) fn past_deadline(deadline: Option<NaiveDateTime>, at: NaiveDateTime) -> bool {
    deadline.is_some_and(|d| at > d + Duration::seconds(GRACE_SECONDS))
}

/// What a start reads: the learner's enrolment and its session, the course, the quiz's
/// attempts so far (oldest first), the learner's extra time, and what the quiz may wait
/// for: the lessons done and the quizzes with a submitted attempt.
pub(super) struct StartFacts<'a> {
    pub enrolment: &'a Enrolment,
    pub session: &'a Session,
    pub course: &'a Course,
    pub quiz_id: &'a str,
    pub attempts: &'a [AttemptState],
    pub extra_time_percent: i32,
    pub lessons_done: &'a HashSet<String>,
    pub submitted_quizzes: &'a HashSet<String>,
    pub at: NaiveDateTime,
}

/// What a start does (a refusal is the `Err` of [`start`]).
#[derive(Debug)]
pub(super) enum Start<'a> {
    /// Shows the open attempt again: it is still in time.
    Resume { attempt_id: &'a str },
    /// Starts attempt `number` of `quiz`. First, `grade_first`: the open attempt, out of
    /// time, graded with what was saved in time. `seen`: how often each item was on the
    /// learner's earlier papers, for the draw to prefer new ones.
    New {
        quiz: &'a Quiz,
        number: i32,
        deadline: Option<NaiveDateTime>,
        grade_first: Option<&'a str>,
        seen: HashMap<String, u32>,
    },
}

/// Decides a start: the open attempt if still in time, else a new one if the quiz allows
/// another; only while the enrolment records progress.
pub(super) fn start<'a>(facts: &StartFacts<'a>) -> Result<Start<'a>, AppError> {
    ensure_recording(facts.enrolment, facts.session)?;
    let quiz = quiz_of(facts.course, facts.quiz_id)?;
    let open = facts.attempts.iter().find(|a| a.submitted_at.is_none());
    if let Some(open) = open.filter(|open| !past_deadline(open.deadline, facts.at)) {
        return Ok(Start::Resume {
            attempt_id: &open.id,
        });
    }
    // An open attempt out of time counts: it is graded before the new one starts.
    let count = facts.attempts.len();
    if let Some(max) = quiz.max_attempts {
        if count >= max as usize {
            return Err(max_attempts_reached(max));
        }
    }
    // Practice goes on as long as the learner likes; a graded pass is final.
    let assessed = matches!(quiz.role, QuizRole::Graded | QuizRole::PostTest);
    if assessed
        && !quiz.improvement_attempts
        && facts.attempts.iter().any(|a| a.passed == Some(true))
    {
        return Err(AppError::conflict(
            "Ce quiz est déjà réussi : il ne se repasse pas pour améliorer le score.",
        ));
    }
    let missing = missing_prerequisites(facts.course, quiz, facts);
    if !missing.is_empty() {
        return Err(AppError::conflict(format!(
            "Ce quiz n'est pas encore ouvert : {}.",
            missing.join(" ; ")
        )));
    }
    Ok(Start::New {
        quiz,
        number: count as i32 + 1,
        deadline: deadline(quiz, facts.extra_time_percent, facts.at),
        grade_first: open.map(|open| open.id.as_str()),
        seen: seen_items(facts.attempts),
    })
}

/// What the quiz still waits for, in French (empty when it is open): the lessons to
/// finish (`after_lessons`) and the quizzes to submit first (`after_quizzes`).
pub(super) fn missing_prerequisites(
    course: &Course,
    quiz: &Quiz,
    facts: &StartFacts<'_>,
) -> Vec<String> {
    let mut missing = Vec::new();
    if quiz.after_lessons {
        let left: Vec<&str> = course
            .lessons
            .iter()
            .filter(|l| !facts.lessons_done.contains(&l.id))
            .map(|l| l.title.as_str())
            .collect();
        match left.as_slice() {
            [] => {}
            [one] => missing.push(format!("terminer la leçon « {one} »")),
            many => missing.push(format!("terminer {} leçons", many.len())),
        }
    }
    for id in &quiz.after_quizzes {
        if !facts.submitted_quizzes.contains(id) {
            let title = course
                .quizzes
                .iter()
                .find(|q| &q.id == id)
                .map_or(id.as_str(), |q| q.title.as_str());
            missing.push(format!("rendre le quiz « {title} »"));
        }
    }
    missing
}

/// How often each item (question or vignette) was on the earlier papers.
fn seen_items(attempts: &[AttemptState]) -> HashMap<String, u32> {
    let mut seen = HashMap::new();
    for attempt in attempts {
        let Ok(paper) = serde_json::from_str::<Paper>(&attempt.paper) else {
            continue;
        };
        for id in paper.item_ids() {
            *seen.entry(id.to_owned()).or_insert(0) += 1;
        }
    }
    seen
}

/// Whether the learner's result on `quiz` is settled, given its attempts: passed (and not
/// to be improved) or no attempt left. [`FeedbackPolicy::AfterPass`] waits for it.
///
/// [`FeedbackPolicy::AfterPass`]: crate::catalog::model::FeedbackPolicy::AfterPass
pub(super) fn settled(quiz: &Quiz, attempts: &[AttemptState]) -> bool {
    let passed = attempts.iter().any(|a| a.passed == Some(true));
    let exhausted = quiz
        .max_attempts
        .is_some_and(|max| attempts.len() >= max as usize);
    exhausted || (passed && !quiz.improvement_attempts)
}

fn max_attempts_reached(max: u32) -> AppError {
    AppError::conflict(format!("Nombre maximal de tentatives atteint ({max})."))
}

/// The deadline of an attempt started at `at`: the quiz's time limit, extra time included.
fn deadline(quiz: &Quiz, extra_time_percent: i32, at: NaiveDateTime) -> Option<NaiveDateTime> {
    quiz.time_limit_minutes.map(|minutes| {
        let seconds = i64::from(minutes) * 60 * (100 + i64::from(extra_time_percent)) / 100;
        at + Duration::seconds(seconds)
    })
}

/// What a submit reads: the attempt with its enrolment, the session, the course.
pub(super) struct SubmitFacts<'a> {
    pub attempt: &'a Attempt,
    pub enrolment: &'a Enrolment,
    pub session: &'a Session,
    pub course: &'a Course,
    pub submission: &'a Submission,
    pub at: NaiveDateTime,
}

/// What a submit does (a refusal is the `Err` of [`submit`]).
#[derive(Debug)]
pub(super) enum Submit {
    /// A replay of the submit that graded the attempt: its result again.
    Replay,
    /// Records `grade`; `late` (past the deadline and its grace, so only what was saved in
    /// time counts) marks it auto-submitted. `paper` as parsed, for the view.
    Record {
        grade: Grade,
        late: bool,
        paper: Paper,
    },
}

/// Decides a submit: a graded attempt answers a replay of the same request only; an open
/// one is graded with its saved answers, plus the ones sent if still in time.
pub(super) fn submit(facts: &SubmitFacts<'_>) -> Result<Submit, AppError> {
    let SubmitFacts {
        attempt,
        course,
        submission,
        at,
        ..
    } = facts;
    if attempt.submitted_at.is_some() {
        return replay(attempt, submission);
    }
    ensure_recording(facts.enrolment, facts.session)?;
    let late = past_deadline(attempt.deadline, *at);
    // Parsed once for the checks, the grading and the view.
    let paper = attempt.drawn_paper()?;
    let answers = match (&submission.answers, late) {
        (Some(new), false) => merge_answers(attempt, &paper, course, new)?,
        // After the deadline only what was saved in time counts.
        _ => attempt.saved_answers(),
    };
    let grade = grade_attempt(course, attempt, &paper, &answers)?;
    Ok(Submit::Record { grade, late, paper })
}

/// A submit of an attempt already graded: the same result for a replay of the same
/// request (same `Idempotency-Key`, same body), a refusal otherwise.
fn replay(attempt: &Attempt, submission: &Submission) -> Result<Submit, AppError> {
    let key = submission.key.as_deref();
    match (key, &attempt.idempotency_key, &attempt.request_hash) {
        (Some(k), Some(stored), Some(h)) if k == stored && *h == submission.body_hash => {
            Ok(Submit::Replay)
        }
        (Some(k), Some(stored), _) if k == stored => Err(AppError::invalid(
            "Idempotency-Key",
            "cette clé a déjà servi pour une soumission différente",
        )),
        _ => Err(already_submitted()),
    }
}

pub(super) fn already_submitted() -> AppError {
    AppError::conflict("Cette tentative est déjà soumise.")
}

/// Merges `new` answers into the attempt's saved ones (null clears one), each checked
/// against the paper; every bad one is named (`answers.<question>`).
pub(super) fn merge_answers(
    attempt: &Attempt,
    paper: &Paper,
    course: &Course,
    new: &BTreeMap<String, Value>,
) -> Result<BTreeMap<String, Value>, AppError> {
    let mut merged = attempt.saved_answers();
    let mut errors = Vec::new();
    for (id, value) in new {
        let field = format!("answers.{id}");
        let Some(pq) = paper.questions().find(|q| &q.id == id) else {
            errors.push(FieldError::new(
                field,
                "question absente de cette tentative",
            ));
            continue;
        };
        if value.is_null() {
            merged.remove(id);
            continue;
        }
        let Some(question) = course.bank.find_question(id) else {
            errors.push(FieldError::new(field, "question inconnue"));
            continue;
        };
        match grade::parse_response(question, pq, value) {
            Ok(_) => {
                merged.insert(id.clone(), value.clone());
            }
            Err(expected) => errors.push(FieldError::new(field, format!("attendu : {expected}"))),
        }
    }
    if errors.is_empty() {
        Ok(merged)
    } else {
        Err(AppError::invalid_fields(errors))
    }
}

/// An attempt's grading, worked out before any write.
#[derive(Debug)]
pub(super) struct Grade {
    pub answers: String,
    pub grading: String,
    pub points: f64,
    pub max_points: f64,
    pub percent: f64,
    pub passed: bool,
    /// A pass of a quiz the completion rules require: recording it may complete.
    pub may_complete: bool,
}

pub(super) fn grade_attempt(
    course: &Course,
    attempt: &Attempt,
    paper: &Paper,
    answers: &BTreeMap<String, Value>,
) -> Result<Grade, AppError> {
    let quiz = quiz_of(course, &attempt.quiz_id)?;
    let grading = grade::grade(paper, &course.bank, answers);
    let passed = grading.passed(quiz.pass_mark);
    Ok(Grade {
        answers: serde_json::to_string(answers).map_err(anyhow::Error::from)?,
        grading: serde_json::to_string(&grading).map_err(anyhow::Error::from)?,
        points: grading.points,
        max_points: grading.max_points,
        percent: grading.percent,
        passed,
        may_complete: passed && course.completion.required_quizzes.contains(&quiz.id),
    })
}

#[cfg(test)]
mod tests;
