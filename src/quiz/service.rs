//! The exam paths: start an attempt, save answers, submit (idempotently), grade what the
//! deadline left, show results as the feedback policy allows. Each is one short write
//! transaction; grading works on the course held in memory.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{Duration, NaiveDateTime, SubsecRound, Utc};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::grade;
use super::paper::{self, Paper};
use super::store::{self, Attempt, Graded};
use super::view::{parse_answers, parse_paper, view, view_of, AttemptView};
use crate::catalog::cache::CourseCache;
use crate::catalog::model::{Course, Quiz};
use crate::completion;
use crate::db::{DbConn, Plan, Pool};
use crate::enrolment::access::{ensure_recording, own_enrolment, readable_enrolment};
use crate::enrolment::store::{self as enrolment_store, Enrolment, Session};
use crate::error::{AppError, FieldError};
use crate::identity::auth::CurrentUser;

/// Answers reaching the server up to this long after the deadline still count (network).
pub const GRACE_SECONDS: i64 = 30;
/// The most extra time an accommodation may grant, in percent of the time limit.
pub const MAX_EXTRA_TIME_PERCENT: i32 = 200;

fn now() -> NaiveDateTime {
    Utc::now().naive_utc().trunc_subsecs(6)
}

fn attempt_not_found() -> AppError {
    AppError::not_found("Tentative introuvable.")
}

pub(super) fn quiz_of<'a>(course: &'a Course, quiz_id: &str) -> Result<&'a Quiz, AppError> {
    course
        .quizzes
        .iter()
        .find(|q| q.id == quiz_id)
        .ok_or_else(|| AppError::not_found("Quiz introuvable dans cette formation."))
}

/// Whether `at` is past an attempt's deadline and its grace.
fn past_deadline(deadline: Option<NaiveDateTime>, at: NaiveDateTime) -> bool {
    deadline.is_some_and(|d| at > d + Duration::seconds(GRACE_SECONDS))
}

/// An attempt's grading, worked out before any write.
struct Grade {
    answers: String,
    grading: String,
    points: f64,
    max_points: f64,
    percent: f64,
    passed: bool,
    /// A pass of a quiz the completion rules require: recording it may complete.
    may_complete: bool,
}

fn grade_attempt(
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

/// Records a grading of an open attempt; completes the enrolment in the same transaction
/// when this pass satisfies the last rule. The caller holds the enrolment's lock (see
/// [`store::attempt_for_update`]). False, with nothing changed, when the attempt was
/// graded in the meantime (by a concurrent submit, view or the deadline job).
fn record(
    conn: &mut DbConn,
    course: &Course,
    attempt: &mut Attempt,
    grade: Grade,
    auto: bool,
    idempotency: Option<(&str, &str)>,
    at: NaiveDateTime,
) -> Result<bool, AppError> {
    let recorded = store::record_grading(
        conn,
        &attempt.id,
        &Graded {
            answers: &grade.answers,
            submitted_at: at,
            auto_submitted: auto,
            score_points: grade.points,
            max_points: grade.max_points,
            percent: grade.percent,
            passed: grade.passed,
            grading: &grade.grading,
            idempotency_key: idempotency.map(|i| i.0),
            request_hash: idempotency.map(|i| i.1),
        },
    )?;
    if !recorded {
        return Ok(false);
    }
    attempt.answers = grade.answers;
    attempt.submitted_at = Some(at);
    attempt.auto_submitted = auto;
    attempt.score_points = Some(grade.points);
    attempt.max_points = Some(grade.max_points);
    attempt.percent = Some(grade.percent);
    attempt.passed = Some(grade.passed);
    attempt.grading = Some(grade.grading);
    attempt.idempotency_key = idempotency.map(|i| i.0.to_owned());
    attempt.request_hash = idempotency.map(|i| i.1.to_owned());
    if grade.may_complete {
        completion::evaluate(conn, course, &attempt.enrolment_id)?;
    }
    Ok(true)
}

/// Grades an open attempt with `answers` and records it (see [`record`]).
fn finalise(
    conn: &mut DbConn,
    course: &Course,
    attempt: &mut Attempt,
    answers: &BTreeMap<String, Value>,
    auto: bool,
    idempotency: Option<(&str, &str)>,
    at: NaiveDateTime,
) -> Result<bool, AppError> {
    let grade = grade_attempt(course, attempt, &parse_paper(attempt)?, answers)?;
    record(conn, course, attempt, grade, auto, idempotency, at)
}

/// Starts an attempt, or returns the open one; (view, created). Everything is read and
/// prepared (the paper drawn) before the write, which then only checks, under the
/// enrolment's lock, that what it relied on still holds and inserts: on PostgreSQL the
/// reads run outside the write's transaction, so the locks are held briefly. When
/// something changed in between (a parallel start, a withdrawal, a closed session), the
/// write decides again from scratch. Returns the plan, which
/// [`Writer::run`](crate::db::Writer::run) carries out (on SQLite, reads and write in one
/// savepoint of the writer's group).
pub fn start(
    conn: &mut DbConn,
    courses: &Arc<CourseCache>,
    user: &CurrentUser,
    enrolment_id: &str,
    quiz_id: &str,
) -> Result<Plan<(AttemptView, bool), Started>, AppError> {
    let (enrolment, session) = own_enrolment(conn, user, enrolment_id)?;
    ensure_recording(&enrolment, &session)?;
    let course = courses.get(conn, &enrolment.course_version_id)?;
    let quiz = quiz_of(&course, quiz_id)?;
    let at = now();
    let seen = store::attempt_states(conn, enrolment_id, quiz_id)?;
    let open = seen.iter().find(|a| a.submitted_at.is_none());
    let prepared = match open {
        Some(open) if !past_deadline(open.deadline, at) => {
            let open = store::attempt(conn, &open.id)?.ok_or_else(attempt_not_found)?;
            return Ok(Plan::Answer((view(&open, &course, &session, at)?, false)));
        }
        // Out of time: the write grades it first, then decides.
        Some(_) => None,
        None => {
            let count = seen.len() as i64;
            if let Some(max) = quiz.max_attempts {
                if count >= i64::from(max) {
                    return Err(max_attempts_reached(max));
                }
            }
            let extra = store::extra_time_percent(conn, enrolment_id)?;
            Some((
                new_attempt(&course, quiz, enrolment_id, count, extra, at)?,
                extra,
            ))
        }
    };
    let (courses, user) = (courses.clone(), user.clone());
    let (enrolment_id, quiz_id) = (enrolment_id.to_owned(), quiz_id.to_owned());
    let seen: Vec<String> = seen.into_iter().map(|a| a.id).collect();
    let write = move |c: &mut DbConn| {
        let ((attempt, paper), extra) = match prepared {
            Some(prepared) => prepared,
            None => {
                return start_locked(c, &courses, &user, &enrolment_id, &quiz_id)
                    .map(Started::Decided)
            }
        };
        // Serialises starts of one learner: two parallel starts make one attempt.
        let enrolment = enrolment_store::enrolment_for_update(c, &enrolment_id)?
            .ok_or_else(attempt_not_found)?;
        let session =
            enrolment_store::session(c, &enrolment.session_id)?.ok_or_else(attempt_not_found)?;
        ensure_recording(&enrolment, &session)?;
        let current: Vec<String> = store::attempt_states(c, &enrolment_id, &quiz_id)?
            .into_iter()
            .map(|a| a.id)
            .collect();
        if current != seen || store::extra_time_percent(c, &enrolment_id)? != extra {
            return start_locked(c, &courses, &user, &enrolment_id, &quiz_id).map(Started::Decided);
        }
        store::insert(c, &attempt)?;
        Ok(Started::Inserted(attempt, paper))
    };
    Ok(Plan::Write {
        write: Box::new(write),
        then: Box::new(move |started| match started {
            Started::Inserted(attempt, paper) => {
                Ok((view_of(&attempt, &paper, &course, &session, at)?, true))
            }
            Started::Decided(decided) => Ok(decided),
        }),
    })
}

/// What a start's write did: inserted the prepared attempt, with the paper as drawn (its
/// view is built after the commit, without parsing the paper back), or decided again under
/// the lock.
pub enum Started {
    Inserted(Attempt, Paper),
    Decided((AttemptView, bool)),
}

fn max_attempts_reached(max: u32) -> AppError {
    AppError::conflict(format!("Nombre maximal de tentatives atteint ({max})."))
}

/// A fresh attempt: its number, deadline (extra time included) and drawn paper (also
/// returned as drawn, for the view).
fn new_attempt(
    course: &Course,
    quiz: &Quiz,
    enrolment_id: &str,
    count: i64,
    extra_time_percent: i32,
    at: NaiveDateTime,
) -> Result<(Attempt, Paper), AppError> {
    let deadline = quiz.time_limit_minutes.map(|minutes| {
        let seconds = i64::from(minutes) * 60 * (100 + i64::from(extra_time_percent)) / 100;
        at + Duration::seconds(seconds)
    });
    let paper = paper::draw(quiz, &course.bank, &mut rand::rng());
    let attempt = Attempt {
        id: uuid::Uuid::new_v4().to_string(),
        enrolment_id: enrolment_id.to_owned(),
        quiz_id: quiz.id.clone(),
        number: count as i32 + 1,
        paper: serde_json::to_string(&paper).map_err(anyhow::Error::from)?,
        answers: "{}".into(),
        started_at: at,
        deadline,
        answers_saved_at: None,
        submitted_at: None,
        auto_submitted: false,
        score_points: None,
        max_points: None,
        percent: None,
        passed: None,
        grading: None,
        idempotency_key: None,
        request_hash: None,
    };
    Ok((attempt, paper))
}

/// [`start`] decided and written under the enrolment's lock, for when the prepared start
/// no longer holds.
fn start_locked(
    conn: &mut DbConn,
    courses: &CourseCache,
    user: &CurrentUser,
    enrolment_id: &str,
    quiz_id: &str,
) -> Result<(AttemptView, bool), AppError> {
    conn.write(|c| {
        let (_, session) = own_enrolment(c, user, enrolment_id)?;
        // Serialises starts of one learner: two parallel starts make one attempt.
        let enrolment = enrolment_store::enrolment_for_update(c, enrolment_id)?
            .ok_or_else(attempt_not_found)?;
        ensure_recording(&enrolment, &session)?;
        let course = courses.get(c, &enrolment.course_version_id)?;
        let quiz = quiz_of(&course, quiz_id)?;
        let at = now();
        if let Some(mut open) = store::open_attempt(c, enrolment_id, quiz_id)? {
            if !past_deadline(open.deadline, at) {
                return Ok((view(&open, &course, &session, at)?, false));
            }
            // Out of time: graded with what was saved, here or, if it got there first, by
            // the deadline job or a view; either way it is graded, and a new one may start.
            let saved = parse_answers(&open.answers);
            finalise(c, &course, &mut open, &saved, true, None, at)?;
        }
        let count = store::attempt_count(c, enrolment_id, quiz_id)?;
        if let Some(max) = quiz.max_attempts {
            if count >= i64::from(max) {
                return Err(max_attempts_reached(max));
            }
        }
        let extra = store::extra_time_percent(c, enrolment_id)?;
        let (attempt, paper) = new_attempt(&course, quiz, enrolment_id, count, extra, at)?;
        store::insert(c, &attempt)?;
        Ok((view_of(&attempt, &paper, &course, &session, at)?, true))
    })
}

/// The attempt with its enrolment and session, locked, for its learner only (others get a
/// 404).
fn own_attempt(
    conn: &mut DbConn,
    user: &CurrentUser,
    attempt_id: &str,
) -> Result<(Attempt, Enrolment, Session), AppError> {
    let (enrolment, attempt) = store::attempt_for_update(conn, attempt_id)?
        .filter(|(e, _)| e.account_id == user.id)
        .ok_or_else(attempt_not_found)?;
    let session =
        enrolment_store::session(conn, &enrolment.session_id)?.ok_or_else(attempt_not_found)?;
    Ok((attempt, enrolment, session))
}

/// Checks each answer against the paper; every bad one is named (`answers.<question>`).
fn merge_answers(
    attempt: &Attempt,
    paper: &Paper,
    course: &Course,
    new: &BTreeMap<String, Value>,
) -> Result<BTreeMap<String, Value>, AppError> {
    let mut merged = parse_answers(&attempt.answers);
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

#[derive(Debug, Serialize, ToSchema)]
pub struct SavedView {
    pub saved_at: NaiveDateTime,
    pub answered: usize,
    pub deadline: Option<NaiveDateTime>,
}

/// Autosave: merges answers into the open attempt (null clears one).
pub fn save(
    conn: &mut DbConn,
    courses: &CourseCache,
    user: &CurrentUser,
    attempt_id: &str,
    answers: &BTreeMap<String, Value>,
) -> Result<SavedView, AppError> {
    conn.write(|c| {
        let (attempt, enrolment, session) = own_attempt(c, user, attempt_id)?;
        if attempt.submitted_at.is_some() {
            return Err(AppError::conflict("Cette tentative est déjà soumise."));
        }
        let at = now();
        if past_deadline(attempt.deadline, at) {
            return Err(AppError::conflict(
                "Le temps imparti est écoulé : les réponses ne sont plus acceptées.",
            ));
        }
        ensure_recording(&enrolment, &session)?;
        let course = courses.get(c, &enrolment.course_version_id)?;
        let merged = merge_answers(&attempt, &parse_paper(&attempt)?, &course, answers)?;
        let json = serde_json::to_string(&merged).map_err(anyhow::Error::from)?;
        store::save_answers(c, attempt_id, &json, at)?;
        Ok(SavedView {
            saved_at: at,
            answered: merged.len(),
            deadline: attempt.deadline,
        })
    })
}

/// The fingerprint of a submit's body, byte for byte, kept with its `Idempotency-Key`: a
/// replay must send the very same body.
pub fn request_hash(body: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(body))
}

/// Grades the attempt with its saved answers plus the ones sent (if still in time). With an
/// `Idempotency-Key`, a replay (same key, same `body_hash`) returns the same result and
/// another body is refused (422). Graded before the write, like [`start`]; the write checks
/// under the locks that the attempt is as it was read (still open, same saved answers,
/// learner and session still recording) and records, or else decides again. Returns the
/// plan, as [`start`] does.
pub fn submit(
    conn: &mut DbConn,
    courses: &Arc<CourseCache>,
    user: &CurrentUser,
    attempt_id: &str,
    submission: Submission,
) -> Result<Plan<AttemptView, Submitted>, AppError> {
    let Submission {
        key,
        body_hash,
        answers,
    } = submission;
    let (attempt, enrolment, session) = store::attempt_in_session(conn, attempt_id)?
        .filter(|(_, e, _)| e.account_id == user.id)
        .ok_or_else(attempt_not_found)?;
    let course = courses.get(conn, &enrolment.course_version_id)?;
    let at = now();
    if attempt.submitted_at.is_some() {
        return already_submitted(&attempt, &course, &session, key.as_deref(), &body_hash, at)
            .map(Plan::Answer);
    }
    ensure_recording(&enrolment, &session)?;
    let late = past_deadline(attempt.deadline, at);
    // Parsed once for the checks, the grading and the view.
    let paper = parse_paper(&attempt)?;
    let merged = match (&answers, late) {
        (Some(new), false) => merge_answers(&attempt, &paper, &course, new)?,
        _ => parse_answers(&attempt.answers),
    };
    let grade = grade_attempt(&course, &attempt, &paper, &merged)?;
    let (courses, user, write_course) = (courses.clone(), user.clone(), course.clone());
    let read = attempt;
    let write = move |c: &mut DbConn| {
        let idempotency = key.as_deref().map(|k| (k, body_hash.as_str()));
        let again = |c: &mut DbConn| {
            submit_locked(
                c,
                &courses,
                &user,
                &read.id,
                key.as_deref(),
                &body_hash,
                answers,
            )
            .map(Submitted::Decided)
        };
        let Some((enrolment, current)) = store::attempt_for_update(c, &read.id)? else {
            return Err(attempt_not_found());
        };
        let session =
            enrolment_store::session(c, &enrolment.session_id)?.ok_or_else(attempt_not_found)?;
        let unchanged = current.submitted_at.is_none()
            && current.answers == read.answers
            && current.answers_saved_at == read.answers_saved_at
            && ensure_recording(&enrolment, &session).is_ok();
        if !unchanged {
            return again(c);
        }
        let mut graded = current;
        if !record(c, &write_course, &mut graded, grade, late, idempotency, at)? {
            return again(c);
        }
        Ok(Submitted::Recorded(graded))
    };
    Ok(Plan::Write {
        write: Box::new(write),
        then: Box::new(move |submitted| match submitted {
            Submitted::Recorded(graded) => view_of(&graded, &paper, &course, &session, at),
            Submitted::Decided(decided) => Ok(decided),
        }),
    })
}

/// What a submit's write did: recorded the prepared grading (its view is built after the
/// commit), or decided again under the locks.
pub enum Submitted {
    Recorded(Attempt),
    Decided(AttemptView),
}

/// A submit request: its `Idempotency-Key`, the hash of its body (see [`request_hash`]),
/// and the last answers sent with it.
pub struct Submission {
    pub key: Option<String>,
    pub body_hash: String,
    pub answers: Option<BTreeMap<String, Value>>,
}

/// A submit of an attempt already graded: the same result for a replay of the same
/// request, a refusal otherwise.
fn already_submitted(
    attempt: &Attempt,
    course: &Course,
    session: &Session,
    key: Option<&str>,
    body_hash: &str,
    at: NaiveDateTime,
) -> Result<AttemptView, AppError> {
    match (key, &attempt.idempotency_key, &attempt.request_hash) {
        (Some(k), Some(stored), Some(h)) if k == stored && h == body_hash => {
            view(attempt, course, session, at)
        }
        (Some(k), Some(stored), _) if k == stored => Err(AppError::invalid(
            "Idempotency-Key",
            "cette clé a déjà servi pour une soumission différente",
        )),
        _ => Err(AppError::conflict("Cette tentative est déjà soumise.")),
    }
}

/// [`submit`] decided and written under the locks, for when the prepared grading no
/// longer holds.
fn submit_locked(
    conn: &mut DbConn,
    courses: &CourseCache,
    user: &CurrentUser,
    attempt_id: &str,
    key: Option<&str>,
    body_hash: &str,
    answers: Option<BTreeMap<String, Value>>,
) -> Result<AttemptView, AppError> {
    // Time on task still in memory is not needed here: when it is the last missing rule,
    // the flush that writes it completes the enrolment.
    conn.write(|c| {
        let (mut attempt, enrolment, session) = own_attempt(c, user, attempt_id)?;
        let course = courses.get(c, &enrolment.course_version_id)?;
        let at = now();
        if attempt.submitted_at.is_some() {
            return already_submitted(&attempt, &course, &session, key, body_hash, at);
        }
        ensure_recording(&enrolment, &session)?;
        let late = past_deadline(attempt.deadline, at);
        // Parsed once for the checks, the grading and the view, as in `submit`.
        let paper = parse_paper(&attempt)?;
        let answers = match (&answers, late) {
            (Some(new), false) => merge_answers(&attempt, &paper, &course, new)?,
            // After the deadline only what was saved in time counts.
            _ => parse_answers(&attempt.answers),
        };
        let grade = grade_attempt(&course, &attempt, &paper, &answers)?;
        let idempotency = key.map(|k| (k, body_hash));
        if !record(c, &course, &mut attempt, grade, late, idempotency, at)? {
            // Cannot happen under the attempt's lock; said plainly if it ever does.
            return Err(AppError::conflict("Cette tentative est déjà soumise."));
        }
        view_of(&attempt, &paper, &course, &session, at)
    })
}

/// The attempt, for its learner or the staff of the session's organisation. An open attempt
/// past its deadline is graded first.
pub fn show(
    conn: &mut DbConn,
    courses: &CourseCache,
    user: &CurrentUser,
    attempt_id: &str,
) -> Result<AttemptView, AppError> {
    conn.write(|c| {
        let mut attempt = store::attempt(c, attempt_id)?.ok_or_else(attempt_not_found)?;
        let (enrolment, session) = readable_enrolment(c, user, &attempt.enrolment_id)
            .map_err(|e| e.not_found_as(attempt_not_found))?;
        let course = courses.get(c, &enrolment.course_version_id)?;
        let at = now();
        if attempt.submitted_at.is_none() && past_deadline(attempt.deadline, at) {
            // Grading may complete the enrolment: locks as every other write path.
            let (_, mut locked) =
                store::attempt_for_update(c, attempt_id)?.ok_or_else(attempt_not_found)?;
            if locked.submitted_at.is_none() {
                let saved = parse_answers(&locked.answers);
                finalise(c, &course, &mut locked, &saved, true, None, at)?;
            }
            attempt = locked;
        }
        let mut shown = view(&attempt, &course, &session, at)?;
        if enrolment.account_id != user.id && attempt.submitted_at.is_none() {
            // Staff do not see a learner's answers while the attempt is open.
            shown.answers.clear();
        }
        Ok(shown)
    })
}

/// Grades every attempt left open past its deadline (the learner never submitted).
pub fn grade_due(pool: &Pool, courses: &CourseCache) -> anyhow::Result<usize> {
    let mut conn = pool.get()?;
    let before = now() - Duration::seconds(GRACE_SECONDS);
    let due = store::due(&mut conn, before, 500)?;
    let mut graded = 0;
    for id in due {
        let done = conn.write(|c| -> Result<bool, AppError> {
            let Some((enrolment, mut attempt)) = store::attempt_for_update(c, &id)? else {
                return Ok(false);
            };
            if attempt.submitted_at.is_some() {
                return Ok(false);
            }
            // A withdrawn learner's attempt is graded too (the score is kept); completion
            // is `completion::evaluate`'s to refuse.
            let course = courses.get(c, &enrolment.course_version_id)?;
            let saved = parse_answers(&attempt.answers);
            finalise(c, &course, &mut attempt, &saved, true, None, now())
        });
        match done {
            Ok(true) => graded += 1,
            Ok(false) => {}
            Err(e) => tracing::warn!(attempt = %id, error = %e, "could not grade a due attempt"),
        }
    }
    Ok(graded)
}

/// Sets a learner's extra time (tiers-temps); org admins of the session only.
pub fn set_extra_time(
    conn: &mut DbConn,
    user: &CurrentUser,
    enrolment_id: &str,
    percent: i32,
) -> Result<i32, AppError> {
    if !(0..=MAX_EXTRA_TIME_PERCENT).contains(&percent) {
        return Err(AppError::invalid(
            "extra_time_percent",
            format!("entre 0 et {MAX_EXTRA_TIME_PERCENT}"),
        ));
    }
    conn.write(|c| {
        let enrolment = enrolment_store::enrolment(c, enrolment_id)?
            .ok_or_else(|| AppError::not_found("Inscription introuvable."))?;
        crate::enrolment::service::administered_session(c, user, &enrolment.session_id)?;
        store::set_extra_time(c, enrolment_id, percent, &user.id, now())?;
        Ok(percent)
    })
}
