//! What a quiz start and a quiz submit read before deciding: on PostgreSQL in one statement
//! that also takes the locks, on SQLite (serial already, on the writer's connection) in
//! several small ones.
//!
//! On PostgreSQL each statement is a round trip, and the exam path used to make seven reads
//! per pair besides the lock (`pg_stat_statements`: 15 statements per start and submit;
//! 8 now, held by `quiz::a_start_and_submit_pair_runs_at_most_eight_statements_on_postgresql`).
//! The enrolment and the session come back as JSON (`row_to_json`: the tables share column
//! names, which diesel's by-name mapping cannot tell apart), the attempts as arrays.
//!
//! One statement reads under one snapshot, taken *before* it waits for its locks. The locked
//! rows themselves come back as they are once the lock is granted (PostgreSQL re-reads a
//! row updated meanwhile), but what the subqueries read (the other attempts, lessons done)
//! may predate a transaction that held the lock just before. What depends on that is
//! guarded by the write instead: a start that read too early inserts an attempt number
//! already taken, or finds the attempt it was to grade graded, and starts over
//! (`AppError::raced`); a submit's own attempt is the locked row, and the other attempts only
//! decide whether the quiz is settled, which an early read can only under-state (attempts
//! are graded, never ungraded): less feedback shown, never more.

use std::collections::HashSet;

use chrono::NaiveDateTime;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{Array, Bool, Integer, Nullable, Text, Timestamp};
use serde::de::DeserializeOwned;

use super::store::{self, Attempt, AttemptState};
use super::QuizAt;
use crate::completion;
use crate::db::{CachedSql, DbConn};
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

/// Reads an enrolment with its session and what a start of the quiz needs, the enrolment
/// locked on PostgreSQL; `None` when there is no such enrolment.
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

fn pg_start(c: &mut PgConnection, at: QuizAt<'_>) -> QueryResult<Option<StartRead>> {
    // The quiz id, then the enrolment id.
    const SQL: &[&str] = &[
        concat!(
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
        ),
        ") o WHERE e.id = ",
        " FOR UPDATE OF e",
    ];
    let row: Option<StartRow> = CachedSql {
        pieces: SQL,
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

/// Reads an attempt with its enrolment, session and the quiz's attempts, the attempt and
/// its enrolment locked on PostgreSQL (the enrolment first: see
/// [`store::attempt_for_update`]); `None` when there is no such attempt.
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
        // The locked row is the truth about this attempt.
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

fn pg_submit(c: &mut PgConnection, attempt_id: &str) -> QueryResult<Option<SubmitRead>> {
    const SQL: &[&str] = &[
        concat!(
            "SELECT a.*, row_to_json(e)::text AS enrolment, row_to_json(s)::text AS session, ",
            "o.attempt_ids, o.attempt_deadlines, o.attempt_submitted, o.attempt_passed, o.attempt_papers ",
            "FROM enrolments e JOIN quiz_attempts a ON a.enrolment_id = e.id ",
            "JOIN training_sessions s ON s.id = e.session_id ",
            attempt_columns!("'{}'::text[]"),
            "a.quiz_id) o WHERE a.id = "
        ),
        " FOR UPDATE OF e, a",
    ];
    let row: Option<SubmitRow> = CachedSql {
        pieces: SQL,
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
