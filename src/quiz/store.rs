//! Persistence of attempts and extra-time accommodations. Each exam-path call (start,
//! save, submit) is a handful of indexed single-row statements.

use std::collections::{BTreeMap, HashSet};

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::paper::Paper;
use crate::db::schema::{enrolments, quiz_accommodations, quiz_attempts};
use crate::db::{cached_update, locked, native, DbConn};
use crate::enrolment::store::Enrolment;
use crate::quiz::QuizAt;

// `None` inserted as NULL, not left to the column's default (none has one): the insert is
// then one static statement that diesel prepares once, instead of SQL rebuilt each time.
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Insertable)]
#[diesel(table_name = quiz_attempts, treat_none_as_default_value = false)]
pub struct Attempt {
    pub id: String,
    pub enrolment_id: String,
    pub quiz_id: String,
    pub number: i32,
    pub paper: String,
    pub answers: String,
    pub started_at: NaiveDateTime,
    pub deadline: Option<NaiveDateTime>,
    pub answers_saved_at: Option<NaiveDateTime>,
    pub submitted_at: Option<NaiveDateTime>,
    pub auto_submitted: bool,
    pub score_points: Option<f64>,
    pub max_points: Option<f64>,
    pub percent: Option<f64>,
    pub passed: Option<bool>,
    pub grading: Option<String>,
    pub idempotency_key: Option<String>,
    pub request_hash: Option<String>,
}

impl Attempt {
    /// The quiz of the enrolment this attempt belongs to.
    pub fn quiz_at(&self) -> QuizAt<'_> {
        QuizAt {
            enrolment_id: &self.enrolment_id,
            quiz_id: &self.quiz_id,
        }
    }

    /// The paper drawn at start, as stored.
    pub fn drawn_paper(&self) -> anyhow::Result<Paper> {
        Ok(serde_json::from_str(&self.paper)?)
    }

    /// The answers saved so far, by question id (none when unreadable).
    pub fn saved_answers(&self) -> BTreeMap<String, Value> {
        serde_json::from_str(&self.answers).unwrap_or_default()
    }
}

pub fn attempt(conn: &mut DbConn, id: &str) -> QueryResult<Option<Attempt>> {
    native!(conn, |c| quiz_attempts::table
        .find(id)
        .select(Attempt::as_select())
        .first(c)
        .optional())
}

/// Reads an attempt and its enrolment to change them, in one query; on PostgreSQL both
/// rows stay locked, the enrolment's first (`FOR UPDATE` locks the joined rows in the order
/// of the `FROM` clause). That is the one lock order of every path that writes an attempt
/// (a start locks the enrolment too, and `learning` the enrolment alone), so that two of
/// them never deadlock, and grading a pass always runs `learning::evaluate` under the
/// enrolment's lock: the event that satisfies the last rule then sees every other one
/// committed before it, and none is missed.
pub fn attempt_for_update(
    conn: &mut DbConn,
    id: &str,
) -> QueryResult<Option<(Enrolment, Attempt)>> {
    locked!(
        conn,
        enrolments::table
            .inner_join(quiz_attempts::table)
            .filter(quiz_attempts::id.eq(id))
            .select((Enrolment::as_select(), Attempt::as_select())),
        |q, c| q.first(c).optional()
    )
}

/// What a start (and the feedback policy) needs to know of the quiz's attempts so far,
/// oldest first.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = quiz_attempts)]
pub struct AttemptState {
    pub id: String,
    pub deadline: Option<NaiveDateTime>,
    pub submitted_at: Option<NaiveDateTime>,
    pub passed: Option<bool>,
    /// The drawn paper (JSON): a retake prefers items not seen yet.
    pub paper: String,
}

pub fn attempt_states(conn: &mut DbConn, quiz: QuizAt<'_>) -> QueryResult<Vec<AttemptState>> {
    native!(conn, |c| quiz_attempts::table
        .filter(quiz_attempts::enrolment_id.eq(quiz.enrolment_id))
        .filter(quiz_attempts::quiz_id.eq(quiz.quiz_id))
        .order(quiz_attempts::number.asc())
        .select(AttemptState::as_select())
        .load(c))
}

/// One attempt as listed to its learner.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptLine {
    pub id: String,
    pub number: i32,
    pub submitted: bool,
    pub percent: Option<f64>,
    pub passed: Option<bool>,
}

/// The attempts of one quiz of an enrolment, oldest first, as listed to their learner.
pub fn scores(conn: &mut DbConn, quiz: QuizAt<'_>) -> QueryResult<Vec<AttemptLine>> {
    type Row = (
        String,
        i32,
        Option<NaiveDateTime>,
        Option<f64>,
        Option<bool>,
    );
    let rows: Vec<Row> = native!(conn, |c| quiz_attempts::table
        .filter(quiz_attempts::enrolment_id.eq(quiz.enrolment_id))
        .filter(quiz_attempts::quiz_id.eq(quiz.quiz_id))
        .order(quiz_attempts::number.asc())
        .select((
            quiz_attempts::id,
            quiz_attempts::number,
            quiz_attempts::submitted_at,
            quiz_attempts::percent,
            quiz_attempts::passed,
        ))
        .load(c))?;
    Ok(rows
        .into_iter()
        .map(|(id, number, submitted_at, percent, passed)| AttemptLine {
            id,
            number,
            submitted: submitted_at.is_some(),
            percent,
            passed,
        })
        .collect())
}

/// The quizzes of an enrolment with at least one submitted attempt.
pub fn submitted_quizzes(conn: &mut DbConn, enrolment_id: &str) -> QueryResult<HashSet<String>> {
    native!(conn, |c| quiz_attempts::table
        .filter(quiz_attempts::enrolment_id.eq(enrolment_id))
        .filter(quiz_attempts::submitted_at.is_not_null())
        .select(quiz_attempts::quiz_id)
        .distinct()
        .load::<String>(c))
    .map(|ids| ids.into_iter().collect())
}

/// Inserts a new attempt. Its number, and the quiz's one open attempt, are unique: a start
/// that read the attempts before a concurrent one inserted (see `quiz::facts`) fails here.
/// (Not `ON CONFLICT DO NOTHING`: PostgreSQL's speculative insertion cost a fifth of the
/// pairs per second at 64 learners.)
pub fn insert(conn: &mut DbConn, attempt: &Attempt) -> QueryResult<()> {
    native!(conn, |c| diesel::insert_into(quiz_attempts::table)
        .values(attempt)
        .execute(c)
        .map(drop))
}

pub fn save_answers(
    conn: &mut DbConn,
    id: &str,
    answers: &str,
    at: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(
        quiz_attempts::table
            .find(id)
            .filter(quiz_attempts::submitted_at.is_null()),
    )
    .set((
        quiz_attempts::answers.eq(answers),
        quiz_attempts::answers_saved_at.eq(Some(at)),
    ))
    .execute(conn)
    .map(drop)
}

/// What grading writes; the update only applies to an attempt still open, whose answers
/// were last saved when the grading read them (`saved_at`).
pub struct Graded<'a> {
    pub answers: &'a str,
    pub submitted_at: NaiveDateTime,
    pub auto_submitted: bool,
    pub score_points: f64,
    pub max_points: f64,
    pub percent: f64,
    pub passed: bool,
    pub grading: &'a str,
    pub idempotency_key: Option<&'a str>,
    pub request_hash: Option<&'a str>,
    /// The attempt's `answers_saved_at` as read before grading. On PostgreSQL a submit reads
    /// without a lock (see `quiz::facts`): an autosave acknowledged in between would be
    /// graded over and lost, so the grading then changes nothing and is decided again.
    pub saved_at: Option<NaiveDateTime>,
}

/// Records a grading: false, with nothing changed, when the attempt was graded or its
/// answers saved since they were read (see [`Graded`]).
pub fn record_grading(conn: &mut DbConn, id: &str, g: &Graded<'_>) -> QueryResult<bool> {
    // Every column is set, whatever the grading: the statement is always the same (one
    // per form of the guard on `answers_saved_at`).
    let set = || {
        (
            quiz_attempts::answers.eq(g.answers),
            quiz_attempts::submitted_at.eq(Some(g.submitted_at)),
            quiz_attempts::auto_submitted.eq(g.auto_submitted),
            quiz_attempts::score_points.eq(Some(g.score_points)),
            quiz_attempts::max_points.eq(Some(g.max_points)),
            quiz_attempts::percent.eq(Some(g.percent)),
            quiz_attempts::passed.eq(Some(g.passed)),
            quiz_attempts::grading.eq(Some(g.grading)),
            quiz_attempts::idempotency_key.eq(g.idempotency_key),
            quiz_attempts::request_hash.eq(g.request_hash),
        )
    };
    let open = quiz_attempts::id
        .eq(id)
        .and(quiz_attempts::submitted_at.is_null());
    let updated = match g.saved_at {
        Some(saved) => {
            let update = cached_update(
                quiz_attempts::table,
                set(),
                open.and(quiz_attempts::answers_saved_at.eq(saved)),
            );
            native!(conn, |c| update.execute(c))?
        }
        None => {
            let update = cached_update(
                quiz_attempts::table,
                set(),
                open.and(quiz_attempts::answers_saved_at.is_null()),
            );
            native!(conn, |c| update.execute(c))?
        }
    };
    Ok(updated == 1)
}

/// Open attempts whose deadline (grace included) is before `before`.
pub fn due(conn: &mut DbConn, before: NaiveDateTime, limit: i64) -> QueryResult<Vec<String>> {
    quiz_attempts::table
        .filter(quiz_attempts::submitted_at.is_null())
        .filter(quiz_attempts::deadline.lt(before))
        .order(quiz_attempts::deadline.asc())
        .limit(limit)
        .select(quiz_attempts::id)
        .load(conn)
}

pub fn attempts_of(conn: &mut DbConn, enrolment_id: &str) -> QueryResult<Vec<Attempt>> {
    quiz_attempts::table
        .filter(quiz_attempts::enrolment_id.eq(enrolment_id))
        .order((quiz_attempts::quiz_id.asc(), quiz_attempts::number.asc()))
        .select(Attempt::as_select())
        .load(conn)
}

/// The gradings of every submitted attempt at `quiz_id` in the given sessions.
pub fn gradings(
    conn: &mut DbConn,
    session_ids: &[String],
    quiz_id: &str,
) -> QueryResult<Vec<String>> {
    quiz_attempts::table
        .inner_join(enrolments::table)
        .filter(enrolments::session_id.eq_any(session_ids))
        .filter(quiz_attempts::quiz_id.eq(quiz_id))
        .filter(quiz_attempts::grading.is_not_null())
        .select(quiz_attempts::grading.assume_not_null())
        .load(conn)
}

pub fn extra_time_percent(conn: &mut DbConn, enrolment_id: &str) -> QueryResult<i32> {
    let percent = native!(conn, |c| quiz_accommodations::table
        .find(enrolment_id)
        .select(quiz_accommodations::extra_time_percent)
        .first(c)
        .optional())?;
    Ok(percent.unwrap_or(0))
}

pub fn set_extra_time(
    conn: &mut DbConn,
    enrolment_id: &str,
    percent: i32,
    by: &str,
    at: NaiveDateTime,
) -> QueryResult<()> {
    diesel::delete(quiz_accommodations::table.find(enrolment_id)).execute(conn)?;
    if percent > 0 {
        diesel::insert_into(quiz_accommodations::table)
            .values((
                quiz_accommodations::enrolment_id.eq(enrolment_id),
                quiz_accommodations::extra_time_percent.eq(percent),
                quiz_accommodations::set_by.eq(by),
                quiz_accommodations::set_at.eq(at),
            ))
            .execute(conn)?;
    }
    Ok(())
}
