//! The exam paths: start an attempt, save answers, submit (idempotently), grade what the
//! deadline left, show results as the feedback policy allows. Each writes in one statement
//! or one short transaction; grading works on the course held in memory. A start and a
//! submit read their facts once (`quiz::facts`), the quiz's `decide` module says what to
//! do with them, and a write that finds them changed is decided again.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{Duration, NaiveDateTime, SubsecRound, Utc};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

pub use super::decide::Submission;
use super::decide::{
    self, grade_attempt, merge_answers, past_deadline, quiz_of, Grade, Start, StartFacts, Submit,
    SubmitFacts, GRACE_SECONDS,
};
use super::facts;
use super::paper::{self, Paper};
use super::store::{self, Attempt, Graded};
use super::view::{view, view_of, AttemptView, Seen};
use crate::app::AppState;
use crate::catalog::cache::CourseCache;
use crate::catalog::model::{Course, Quiz};
use crate::completion;
use crate::db::{DbConn, Hold, Plan, Pool};
use crate::enrolment::access::{
    ensure_recording, not_found as enrolment_not_found, readable_enrolment,
};
use crate::enrolment::store::{self as enrolment_store, Enrolment, Session};
use crate::error::AppError;
use crate::identity::auth::CurrentUser;
use crate::quiz::QuizAt;

/// The most extra time an accommodation may grant, in percent of the time limit.
pub const MAX_EXTRA_TIME_PERCENT: i32 = 200;

fn now() -> NaiveDateTime {
    Utc::now().naive_utc().trunc_subsecs(6)
}

fn attempt_not_found() -> AppError {
    AppError::not_found("Tentative introuvable.")
}

/// Records a grading of an open attempt; completes the enrolment in the same transaction
/// when this pass satisfies the last rule. False, with nothing changed, when the attempt was
/// graded or its answers saved in the meantime (by a concurrent submit, autosave, view or
/// the deadline job; see [`store::Graded`]).
/// `placed`: whether the session is placed in an LMS course (its grade book is then owed the
/// score), `None` when the caller did not read the session (it is looked up).
///
/// Alone, the grading is one statement, atomic by itself: the submit of an exam on
/// PostgreSQL runs outside any transaction (see `quiz::facts`). With a grade owed or a
/// completion to evaluate (which locks the enrolment), it is one transaction, or a
/// savepoint of the caller's.
#[allow(clippy::too_many_arguments)]
fn record(
    conn: &mut DbConn,
    course: &Course,
    attempt: &mut Attempt,
    grade: Grade,
    auto: bool,
    idempotency: Option<(&str, &str)>,
    at: NaiveDateTime,
    placed: Option<bool>,
) -> Result<bool, AppError> {
    let alone = placed == Some(false) && !grade.may_complete;
    let write = |conn: &mut DbConn| -> Result<bool, AppError> {
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
                saved_at: attempt.answers_saved_at,
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
        if placed != Some(false) {
            crate::lti::grades::owe_attempt(
                conn,
                course,
                &attempt.enrolment_id,
                &attempt.quiz_id,
                at,
            )?;
        }
        if grade.may_complete {
            completion::evaluate(conn, course, &attempt.enrolment_id)?;
        }
        Ok(true)
    };
    if alone {
        write(conn)
    } else {
        conn.write(write)
    }
}

/// Grades an open attempt out of time with the answers saved in time, as auto-submitted,
/// and records it (see [`record`]).
fn grade_saved(
    conn: &mut DbConn,
    course: &Course,
    attempt: &mut Attempt,
    at: NaiveDateTime,
) -> Result<bool, AppError> {
    let saved = attempt.saved_answers();
    let grade = grade_attempt(course, attempt, &attempt.drawn_paper()?, &saved)?;
    record(conn, course, attempt, grade, true, None, at, None)
}

/// An attempt shown at its start, and whether the start created it.
pub type Opened = (AttemptView, bool);

/// A start decided on attempts that changed meanwhile (see `quiz::facts`): decided again.
fn raced() -> AppError {
    AppError::raced("Une autre ouverture de ce quiz est en cours : réessayez dans un instant.")
}

/// A submit whose attempt was graded or saved after it was read: decided again.
fn submit_raced() -> AppError {
    AppError::raced("Cette tentative vient de changer : réessayez dans un instant.")
}

/// Starts an attempt, or returns the open one: (view, created); [`raced`] when a concurrent
/// start or grading changed the attempts after they were read (ask again). Reads what
/// [`decide::start`] needs ([`facts::for_start`]), and returns the decision as a plan,
/// which [`Writer::run`](crate::db::Writer::run) carries out (on SQLite in the same
/// savepoint of the writer's group; on PostgreSQL guarded by the write, see `quiz::facts`).
pub fn start(
    conn: &mut DbConn,
    courses: &CourseCache,
    user: &CurrentUser,
    at_quiz: QuizAt<'_>,
) -> Result<Plan<Opened, Started>, AppError> {
    let QuizAt {
        enrolment_id,
        quiz_id,
    } = at_quiz;
    let read = facts::for_start(conn, at_quiz)?
        .filter(|r| r.enrolment.account_id == user.id)
        .ok_or_else(enrolment_not_found)?;
    let (enrolment, session) = (read.enrolment, read.session);
    let course = courses.get(conn, &enrolment.course_version_id)?;
    let at = now();
    let decided = decide::start(&StartFacts {
        enrolment: &enrolment,
        session: &session,
        course: &course,
        quiz_id,
        attempts: &read.attempts,
        extra_time_percent: read.extra_time_percent,
        lessons_done: &read.lessons_done,
        submitted_quizzes: &read.submitted_quizzes,
        at,
    })?;
    let seen = |settled| Seen {
        session: &session,
        at,
        settled,
    };
    let (started, overdue) = match decided {
        Start::Resume { attempt_id } => {
            let open = store::attempt(conn, attempt_id)?.ok_or_else(attempt_not_found)?;
            if open.submitted_at.is_some() {
                // Submitted since it was read.
                return Err(raced());
            }
            // Open: no result to show, whatever the policy.
            return Ok(Plan::Answer((view(&open, &course, seen(false))?, false)));
        }
        Start::New {
            quiz,
            number,
            deadline,
            grade_first,
            seen: earlier,
        } => {
            let started = new_attempt(&course, quiz, enrolment_id, number, deadline, &earlier, at)?;
            let overdue = match grade_first {
                Some(id) => Some(store::attempt(conn, id)?.ok_or_else(attempt_not_found)?),
                None => None,
            };
            (started, overdue)
        }
    };
    let written = course.clone();
    Ok(Plan::Write {
        write: Box::new(move |c| {
            // The new attempt alone is one statement; after grading the overdue one, one
            // transaction.
            let Some(mut overdue) = overdue else {
                return insert(c, started);
            };
            c.write(|c| {
                if !grade_saved(c, &written, &mut overdue, at)? {
                    // Graded meanwhile: the attempts read are out of date.
                    return Err(raced());
                }
                insert(c, started)
            })
        }),
        then: Box::new(move |Started { attempt, paper }| {
            let seen = Seen {
                session: &session,
                at,
                settled: false,
            };
            Ok((view_of(&attempt, &paper, &course, seen)?, true))
        }),
    })
}

/// Inserts a new attempt; [`raced`] when its number, or the one open attempt of the quiz,
/// was taken since the attempts were read (the unique indexes are what guards a start).
fn insert(c: &mut DbConn, started: Started) -> Result<Started, AppError> {
    store::insert(c, &started.attempt).map_err(|e| match e {
        diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        ) => raced(),
        other => other.into(),
    })?;
    Ok(started)
}

/// Runs [`start`] through the writer: `(view, created)`.
pub async fn start_attempt(
    state: &AppState,
    user: CurrentUser,
    enrolment_id: String,
    quiz_id: String,
) -> Result<Opened, AppError> {
    let courses = state.courses.clone();
    decided(
        state,
        Arc::new(move |conn: &mut DbConn| {
            let at = QuizAt {
                enrolment_id: &enrolment_id,
                quiz_id: &quiz_id,
            };
            start(conn, &courses, &user, at)
        }),
    )
    .await
}

/// Runs [`submit`] through the writer.
pub async fn submit_attempt(
    state: &AppState,
    user: CurrentUser,
    attempt_id: String,
    submission: Submission,
) -> Result<AttemptView, AppError> {
    let courses = state.courses.clone();
    decided(
        state,
        Arc::new(move |conn: &mut DbConn| {
            submit(conn, &courses, &user, &attempt_id, submission.clone())
        }),
    )
    .await
}

/// A quiz request as the writer runs it: reads, then the plan decided on them.
pub type Request<T, W> = Arc<dyn Fn(&mut DbConn) -> Result<Plan<T, W>, AppError> + Send + Sync>;

/// Runs a quiz request through the writer, and again when its write found that what it
/// read had changed meanwhile ([`raced`], [`submit_raced`]): then under locks, where the
/// requests racing it wait instead (see `quiz::facts`). Four times in a row means a storm
/// of double clicks: the conflict is answered.
pub async fn decided<T, W>(state: &AppState, request: Request<T, W>) -> Result<T, AppError>
where
    T: Send + 'static,
    W: Send + 'static,
{
    let mut hold = Hold::ByTheWrite;
    let mut tries = 0;
    loop {
        let request = request.clone();
        let outcome = state
            .writer
            .run(&state.pool, hold, move |conn| request(conn))
            .await;
        tries += 1;
        match outcome {
            Err(e) if e.is_raced() && tries < 4 => hold = Hold::ByLocks,
            other => return other,
        }
    }
}

/// A new attempt, and its paper as drawn: the view is built from it after the commit,
/// without parsing the paper back.
pub struct Started {
    attempt: Attempt,
    paper: Paper,
}

/// A fresh attempt with its drawn paper.
fn new_attempt(
    course: &Course,
    quiz: &Quiz,
    enrolment_id: &str,
    number: i32,
    deadline: Option<NaiveDateTime>,
    seen: &HashMap<String, u32>,
    at: NaiveDateTime,
) -> Result<Started, AppError> {
    let paper = paper::draw(quiz, &course.bank, seen, &mut rand::rng());
    let attempt = Attempt {
        id: uuid::Uuid::new_v4().to_string(),
        enrolment_id: enrolment_id.to_owned(),
        quiz_id: quiz.id.clone(),
        number,
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
    Ok(Started { attempt, paper })
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

#[derive(Debug, Serialize, ToSchema)]
pub struct SavedView {
    #[serde(with = "crate::http::timestamps::utc")]
    pub saved_at: NaiveDateTime,
    pub answered: usize,
    #[serde(with = "crate::http::timestamps::utc_option")]
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
            return Err(decide::already_submitted());
        }
        let at = now();
        if past_deadline(attempt.deadline, at) {
            return Err(AppError::conflict(
                "Le temps imparti est écoulé : les réponses ne sont plus acceptées.",
            ));
        }
        ensure_recording(&enrolment, &session)?;
        let course = courses.get(c, &enrolment.course_version_id)?;
        let merged = merge_answers(&attempt, &attempt.drawn_paper()?, &course, answers)?;
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
/// another body is refused (422); [`submit_raced`] when the attempt was graded or saved
/// after it was read. Reads what [`decide::submit`] needs ([`facts::for_submit`]), and
/// returns the decision as a plan, as [`start`] does.
pub fn submit(
    conn: &mut DbConn,
    courses: &CourseCache,
    user: &CurrentUser,
    attempt_id: &str,
    submission: Submission,
) -> Result<Plan<AttemptView, Attempt>, AppError> {
    // Time on task still in memory is not needed here: when it is the last missing rule,
    // the flush that writes it completes the enrolment.
    let facts::SubmitRead {
        mut attempt,
        enrolment,
        session,
        attempts: mut states,
    } = facts::for_submit(conn, attempt_id)?
        .filter(|r| r.enrolment.account_id == user.id)
        .ok_or_else(attempt_not_found)?;
    let course = courses.get(conn, &enrolment.course_version_id)?;
    let quiz = quiz_of(&course, &attempt.quiz_id)?;
    let at = now();
    let decided = decide::submit(&SubmitFacts {
        attempt: &attempt,
        enrolment: &enrolment,
        session: &session,
        course: &course,
        submission: &submission,
        at,
    })?;
    let (grade, late, paper) = match decided {
        Submit::Replay => {
            let seen = Seen {
                session: &session,
                at,
                settled: decide::settled(quiz, &states),
            };
            return Ok(Plan::Answer(view(&attempt, &course, seen)?));
        }
        Submit::Record { grade, late, paper } => (grade, late, paper),
    };
    // Settled as it will be once this grade is recorded.
    if let Some(this) = states.iter_mut().find(|s| s.id == attempt.id) {
        this.passed = Some(grade.passed);
    }
    let settled = decide::settled(quiz, &states);
    let Submission { key, body_hash, .. } = submission;
    let written = course.clone();
    let placed = session.lms_placed;
    Ok(Plan::Write {
        write: Box::new(move |c| {
            let idempotency = key.as_deref().map(|k| (k, body_hash.as_str()));
            if !record(
                c,
                &written,
                &mut attempt,
                grade,
                late,
                idempotency,
                at,
                Some(placed),
            )? {
                // Graded or saved since it was read: decided again (see `submit_attempt`).
                return Err(submit_raced());
            }
            Ok(attempt)
        }),
        then: Box::new(move |graded| {
            let seen = Seen {
                session: &session,
                at,
                settled,
            };
            view_of(&graded, &paper, &course, seen)
        }),
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
                grade_saved(c, &course, &mut locked, at)?;
            }
            attempt = locked;
        }
        let states = store::attempt_states(c, attempt.quiz_at())?;
        let settled = decide::settled(quiz_of(&course, &attempt.quiz_id)?, &states);
        let seen = Seen {
            session: &session,
            at,
            settled,
        };
        let mut shown = view(&attempt, &course, seen)?;
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
            grade_saved(c, &course, &mut attempt, now())
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
