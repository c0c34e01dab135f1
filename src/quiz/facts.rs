//! What a quiz start and a quiz submit read before deciding: on PostgreSQL in one statement,
//! on SQLite (serial already, on the writer's connection) in several small ones.
//!
//! On PostgreSQL each statement is a round trip, and the exam path used to make seven reads
//! per pair besides the lock (`pg_stat_statements`: 15 statements per start and submit),
//! then 8 (a locked read and a write per request, each in `BEGIN` … `COMMIT`), now 4, held
//! by `quiz::a_start_and_submit_pair_runs_four_statements_on_postgresql`. The enrolment and
//! the session come back as JSON (`row_to_json`: the tables share column names, which
//! diesel's by-name mapping cannot tell apart), the attempts as arrays.
//!
//! The read takes no lock and opens no transaction: `BEGIN` and `COMMIT` were half of a
//! pair's round trips, and PostgreSQL's work for a read and a write nearly halves without
//! them (pgbench, 24 clients on this 2-core machine: 10,100–11,700 such requests a second
//! in a locked transaction, 18,700–20,600 without). What the decision rests on is guarded
//! by the write instead, which is one statement or a transaction of its own:
//! - a start inserts the attempt with the number it read as next; an attempt number
//!   already taken, or a second open attempt (`quiz_attempts_one_open`), is a unique
//!   violation, and the start is decided again (`AppError::raced`); grading an overdue
//!   attempt first only applies while it is still open;
//! - a submit grades only while the attempt is still open *and* its answers were last
//!   saved when they were read (`quiz::store::Graded::saved_at`): a concurrent submit,
//!   autosave, view or deadline job makes it decide again, so an autosave acknowledged in
//!   between is never graded over;
//! - what else is read only grows (lessons done, quizzes submitted, attempts graded), so a
//!   read that predates a concurrent write can only under-state it: a start refused that a
//!   retry allows, a result shown as not yet settled, never more;
//! - a completion the grading may bring is evaluated under the enrolment's lock, in the
//!   grading's transaction (`completion::evaluate`), as every other path that completes.
//!
//! A request whose write failed so is decided again under locks (`db::Hold::ByLocks`): in
//! one transaction, its read locks the enrolment (and the attempt), so that the requests
//! racing it wait for it instead of failing it again — a submit among a burst of autosaves
//! would otherwise lose to each. That read takes its snapshot before waiting for the locks:
//! the locked rows come back as they are once granted, but what its subqueries read may
//! predate the transaction that held the lock just before, which the same guards catch.

use std::collections::HashSet;

use chrono::NaiveDateTime;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{Array, Bool, Integer, Nullable, Text, Timestamp};
use serde::de::DeserializeOwned;

use super::store::{self, Attempt, AttemptState};
use super::QuizAt;
use crate::completion;
use crate::db::{in_transaction, CachedSql, DbConn};
use crate::enrolment::store::{self as enrolment_store, Enrolment, Session};

/// What [`decide::start`](super::decide::start) rests on.
pub struct StartRead {
    pub enrolment: Enrolment,
    pub session: Session,
    pub attempts: Vec<AttemptState>,
    pub lessons_done: HashSet<String>,
    pub submitted_quizzes: HashSet<String>,
    pub extra_time_percent: i32,
}

/// What [`decide::submit`](super::decide::submit) rests on.
pub struct SubmitRead {
    pub attempt: Attempt,
    pub enrolment: Enrolment,
    pub session: Session,
    /// The quiz's attempts (this one as locked), oldest first.
    pub attempts: Vec<AttemptState>,
}

/// Reads an enrolment with its session and what a start of the quiz needs; `None` when
/// there is no such enrolment.
pub fn for_start(conn: &mut DbConn, at: QuizAt<'_>) -> QueryResult<Option<StartRead>> {
    match conn {
        DbConn::Pg(c) => pg_start(c, at),
        DbConn::Sqlite(_) => {
            let Some((enrolment, session)) =
                enrolment_store::enrolment_with_session(conn, at.enrolment_id)?
            else {
                return Ok(None);
            };
            Ok(Some(StartRead {
                attempts: store::attempt_states(conn, at)?,
                lessons_done: completion::store::lessons_done(conn, at.enrolment_id)?,
                submitted_quizzes: store::submitted_quizzes(conn, at.enrolment_id)?,
                extra_time_percent: store::extra_time_percent(conn, at.enrolment_id)?,
                enrolment,
                session,
            }))
        }
    }
}

/// The quiz's attempts, oldest first, one array per column (named apart from the attempt's
/// own columns, which a submit reads beside them): arrays travel in binary, where JSON
/// (`json_agg`) would escape every paper.
#[derive(QueryableByName)]
struct AttemptColumns {
    #[diesel(sql_type = Array<Text>)]
    attempt_ids: Vec<String>,
    #[diesel(sql_type = Array<Nullable<Timestamp>>)]
    attempt_deadlines: Vec<Option<NaiveDateTime>>,
    #[diesel(sql_type = Array<Nullable<Timestamp>>)]
    attempt_submitted: Vec<Option<NaiveDateTime>>,
    #[diesel(sql_type = Array<Nullable<Bool>>)]
    attempt_passed: Vec<Option<bool>>,
    /// Empty for a submit, which does not look at them.
    #[diesel(sql_type = Array<Text>)]
    attempt_papers: Vec<String>,
}

impl AttemptColumns {
    fn states(self) -> Vec<AttemptState> {
        let mut papers = self.attempt_papers.into_iter();
        let columns = self
            .attempt_deadlines
            .into_iter()
            .zip(self.attempt_submitted)
            .zip(self.attempt_passed);
        self.attempt_ids
            .into_iter()
            .zip(columns)
            .map(|(id, ((deadline, submitted_at), passed))| AttemptState {
                id,
                deadline,
                submitted_at,
                passed,
                paper: papers.next().unwrap_or_default(),
            })
            .collect()
    }
}

/// The `FROM` item `o` of [`AttemptColumns`]: the attempts of the enrolment `e` at the quiz
/// given next, with their papers or not.
macro_rules! attempt_columns {
    ($papers:literal) => {
        concat!(
            "CROSS JOIN LATERAL (SELECT ",
            "COALESCE(array_agg(q.id ORDER BY q.number), '{}') AS attempt_ids, ",
            "COALESCE(array_agg(q.deadline ORDER BY q.number), '{}') AS attempt_deadlines, ",
            "COALESCE(array_agg(q.submitted_at ORDER BY q.number), '{}') AS attempt_submitted, ",
            "COALESCE(array_agg(q.passed ORDER BY q.number), '{}') AS attempt_passed, ",
            $papers,
            " AS attempt_papers FROM quiz_attempts q WHERE q.enrolment_id = e.id AND q.quiz_id = "
        )
    };
}

/// What both reads return: the enrolment and its session (JSON), the quiz's attempts.
#[derive(QueryableByName)]
struct Enrolled {
    #[diesel(sql_type = Text)]
    enrolment: String,
    #[diesel(sql_type = Text)]
    session: String,
    #[diesel(embed)]
    attempts: AttemptColumns,
}

impl Enrolled {
    fn parts(self) -> QueryResult<(Enrolment, Session, Vec<AttemptState>)> {
        Ok((
            json(&self.enrolment)?,
            json(&self.session)?,
            self.attempts.states(),
        ))
    }
}

#[derive(QueryableByName)]
struct StartRow {
    #[diesel(embed)]
    enrolled: Enrolled,
    #[diesel(sql_type = Array<Text>)]
    lessons_done: Vec<String>,
    #[diesel(sql_type = Array<Text>)]
    submitted_quizzes: Vec<String>,
    #[diesel(sql_type = Nullable<Integer>)]
    extra_time_percent: Option<i32>,
}

/// The start's read: the quiz id, then the enrolment id.
const START: &str = concat!(
    "SELECT row_to_json(e)::text AS enrolment, row_to_json(s)::text AS session, ",
    "o.attempt_ids, o.attempt_deadlines, o.attempt_submitted, o.attempt_passed, o.attempt_papers, ",
    "ARRAY(SELECT p.lesson_id FROM lesson_progress p ",
    "WHERE p.enrolment_id = e.id AND p.completed_at IS NOT NULL) AS lessons_done, ",
    "ARRAY(SELECT DISTINCT d.quiz_id FROM quiz_attempts d ",
    "WHERE d.enrolment_id = e.id AND d.submitted_at IS NOT NULL) AS submitted_quizzes, ",
    "(SELECT x.extra_time_percent FROM quiz_accommodations x ",
    "WHERE x.enrolment_id = e.id) AS extra_time_percent ",
    "FROM enrolments e JOIN training_sessions s ON s.id = e.session_id ",
    attempt_columns!("COALESCE(array_agg(q.paper ORDER BY q.number), '{}')")
);

fn pg_start(c: &mut PgConnection, at: QuizAt<'_>) -> QueryResult<Option<StartRead>> {
    // In a transaction (`db::Hold::ByLocks`), the read locks what the decision rests on
    // until the commit, the enrolment first (see [`store::attempt_for_update`]).
    const GUARDED: &[&str] = &[START, ") o WHERE e.id = ", ""];
    const LOCKED: &[&str] = &[START, ") o WHERE e.id = ", " FOR UPDATE OF e"];
    let row: Option<StartRow> = CachedSql {
        pieces: if in_transaction(c)? { LOCKED } else { GUARDED },
        texts: [at.quiz_id, at.enrolment_id],
    }
    .get_result(c)
    .optional()?;
    row.map(|r| {
        let (enrolment, session, attempts) = r.enrolled.parts()?;
        Ok(StartRead {
            enrolment,
            session,
            attempts,
            lessons_done: r.lessons_done.into_iter().collect(),
            submitted_quizzes: r.submitted_quizzes.into_iter().collect(),
            extra_time_percent: r.extra_time_percent.unwrap_or(0),
        })
    })
    .transpose()
}

/// Reads an attempt with its enrolment, session and the quiz's attempts; `None` when there
/// is no such attempt.
pub fn for_submit(conn: &mut DbConn, attempt_id: &str) -> QueryResult<Option<SubmitRead>> {
    let read = match conn {
        DbConn::Pg(c) => pg_submit(c, attempt_id)?,
        DbConn::Sqlite(_) => {
            let Some((enrolment, attempt)) = store::attempt_for_update(conn, attempt_id)? else {
                return Ok(None);
            };
            let Some(session) = enrolment_store::session(conn, &enrolment.session_id)? else {
                return Ok(None);
            };
            Some(SubmitRead {
                attempts: store::attempt_states(conn, attempt.quiz_at())?,
                attempt,
                enrolment,
                session,
            })
        }
    };
    Ok(read.map(|mut read| {
        // The attempt's own row is the truth about it.
        if let Some(this) = read.attempts.iter_mut().find(|s| s.id == read.attempt.id) {
            this.submitted_at = read.attempt.submitted_at;
            this.passed = read.attempt.passed;
        }
        read
    }))
}

#[derive(QueryableByName)]
struct SubmitRow {
    #[diesel(embed)]
    attempt: Attempt,
    #[diesel(embed)]
    enrolled: Enrolled,
}

/// The submit's read, by the attempt's id.
const SUBMIT: &str = concat!(
    "SELECT a.*, row_to_json(e)::text AS enrolment, row_to_json(s)::text AS session, ",
    "o.attempt_ids, o.attempt_deadlines, o.attempt_submitted, o.attempt_passed, o.attempt_papers ",
    "FROM enrolments e JOIN quiz_attempts a ON a.enrolment_id = e.id ",
    "JOIN training_sessions s ON s.id = e.session_id ",
    attempt_columns!("'{}'::text[]"),
    "a.quiz_id) o WHERE a.id = "
);

fn pg_submit(c: &mut PgConnection, attempt_id: &str) -> QueryResult<Option<SubmitRead>> {
    // As for a start.
    const GUARDED: &[&str] = &[SUBMIT, ""];
    const LOCKED: &[&str] = &[SUBMIT, " FOR UPDATE OF e, a"];
    let row: Option<SubmitRow> = CachedSql {
        pieces: if in_transaction(c)? { LOCKED } else { GUARDED },
        texts: [attempt_id],
    }
    .get_result(c)
    .optional()?;
    row.map(|r| {
        let (enrolment, session, attempts) = r.enrolled.parts()?;
        Ok(SubmitRead {
            attempt: r.attempt,
            enrolment,
            session,
            attempts,
        })
    })
    .transpose()
}

/// A row as PostgreSQL's `row_to_json` wrote it (timestamps without zone, as the columns).
fn json<T: DeserializeOwned>(text: &str) -> QueryResult<T> {
    serde_json::from_str(text).map_err(|e| diesel::result::Error::DeserializationError(e.into()))
}
