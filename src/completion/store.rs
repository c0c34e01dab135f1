//! The completion records, and the evidence the rules read: lessons done, time on task and
//! quiz attempts, read straight from the tables learning and quiz write (a read model:
//! those capabilities call completion, so completion cannot call them).

use std::collections::{HashMap, HashSet};

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::results::Scored;
use crate::db::schema::{completions, lesson_progress, quiz_attempts, time_intervals};
use crate::db::{native, DbConn};

pub fn completion(conn: &mut DbConn, enrolment_id: &str) -> QueryResult<Option<NaiveDateTime>> {
    native!(conn, |c| completions::table
        .find(enrolment_id)
        .select(completions::completed_at)
        .first(c)
        .optional())
}

/// When an enrolment was completed and the time on task it was completed with.
pub fn completion_with_seconds(
    conn: &mut DbConn,
    enrolment_id: &str,
) -> QueryResult<Option<(NaiveDateTime, i32)>> {
    native!(conn, |c| completions::table
        .find(enrolment_id)
        .select((completions::completed_at, completions::active_seconds))
        .first(c)
        .optional())
}

/// Records the completion unless it already is: true for the one call that records it.
pub fn insert_completion(
    conn: &mut DbConn,
    enrolment_id: &str,
    at: NaiveDateTime,
    active_seconds: i64,
) -> QueryResult<bool> {
    let row = (
        completions::enrolment_id.eq(enrolment_id),
        completions::completed_at.eq(at),
        completions::active_seconds.eq(active_seconds as i32),
    );
    let inserted = native!(conn, |c| diesel::insert_into(completions::table)
        .values(row)
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(inserted == 1)
}

/// Of these enrolments, those completed.
pub fn completed_among(conn: &mut DbConn, ids: &[&str]) -> QueryResult<HashSet<String>> {
    let completed: Vec<String> = native!(conn, |c| completions::table
        .filter(completions::enrolment_id.eq_any(ids))
        .select(completions::enrolment_id)
        .load(c))?;
    Ok(completed.into_iter().collect())
}

/// The lessons an enrolment has completed.
pub fn lessons_done(conn: &mut DbConn, enrolment_id: &str) -> QueryResult<HashSet<String>> {
    let done: Vec<String> = native!(conn, |c| lesson_progress::table
        .filter(lesson_progress::enrolment_id.eq(enrolment_id))
        .filter(lesson_progress::completed_at.is_not_null())
        .select(lesson_progress::lesson_id)
        .load(c))?;
    Ok(done.into_iter().collect())
}

/// Of these enrolments, the lessons each has completed.
pub fn lessons_done_among(
    conn: &mut DbConn,
    ids: &[&str],
) -> QueryResult<HashMap<String, HashSet<String>>> {
    let rows: Vec<(String, String)> = native!(conn, |c| lesson_progress::table
        .filter(lesson_progress::enrolment_id.eq_any(ids))
        .filter(lesson_progress::completed_at.is_not_null())
        .select((lesson_progress::enrolment_id, lesson_progress::lesson_id))
        .load(c))?;
    let mut done: HashMap<String, HashSet<String>> = HashMap::new();
    for (enrolment, lesson) in rows {
        done.entry(enrolment).or_default().insert(lesson);
    }
    Ok(done)
}

/// When the learner first opened any lesson of the enrolment.
pub fn first_viewed_at(
    conn: &mut DbConn,
    enrolment_id: &str,
) -> QueryResult<Option<NaiveDateTime>> {
    let views: Vec<NaiveDateTime> = native!(conn, |c| lesson_progress::table
        .filter(lesson_progress::enrolment_id.eq(enrolment_id))
        .select(lesson_progress::first_viewed_at)
        .load(c))?;
    Ok(views.into_iter().min())
}

/// The enrolment's recorded time on task, in seconds (what is flushed, not what is still
/// in an instance's memory).
pub fn active_seconds(conn: &mut DbConn, enrolment_id: &str) -> QueryResult<i64> {
    let credits: Vec<i32> = native!(conn, |c| time_intervals::table
        .filter(time_intervals::enrolment_id.eq(enrolment_id))
        .select(time_intervals::active_seconds)
        .load(c))?;
    Ok(credits.into_iter().map(i64::from).sum())
}

/// The quizzes the enrolment has passed (at least one passing graded attempt).
pub fn passed_quizzes(conn: &mut DbConn, enrolment_id: &str) -> QueryResult<HashSet<String>> {
    let passed: Vec<String> = native!(conn, |c| quiz_attempts::table
        .filter(quiz_attempts::enrolment_id.eq(enrolment_id))
        .filter(quiz_attempts::passed.eq(true))
        .select(quiz_attempts::quiz_id)
        .distinct()
        .load(c))?;
    Ok(passed.into_iter().collect())
}

/// The attempts submitted by `until`, as results need them.
pub fn scored_until(
    conn: &mut DbConn,
    enrolment_id: &str,
    until: NaiveDateTime,
) -> QueryResult<Vec<Scored>> {
    let rows: Vec<(String, i32, Option<f64>, Option<bool>)> = native!(conn, |c| {
        quiz_attempts::table
            .filter(quiz_attempts::enrolment_id.eq(enrolment_id))
            .filter(quiz_attempts::submitted_at.le(until))
            .order((quiz_attempts::quiz_id.asc(), quiz_attempts::number.asc()))
            .select((
                quiz_attempts::quiz_id,
                quiz_attempts::number,
                quiz_attempts::percent,
                quiz_attempts::passed,
            ))
            .load(c)
    })?;
    Ok(rows
        .into_iter()
        .map(|(quiz_id, number, percent, passed)| Scored {
            quiz_id,
            number,
            percent,
            passed,
        })
        .collect())
}
