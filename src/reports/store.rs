//! The queries behind the reports: enrolments a page at a time (keyset on the id, so
//! 100,000 lines never sit in memory at once), and for each page the few facts per
//! enrolment that the lines need, one query per kind of fact.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::certificates::model::CertificateKind;
use crate::db::schema::{
    accounts, certificates, completions, enrolments, lesson_progress, quiz_attempts,
    time_intervals, training_sessions,
};
use crate::db::DbConn;
use crate::enrolment::store::{Enrolment, Session};
use crate::identity::store::Account;

pub const PAGE: i64 = 1000;

/// The enrolments of a session after `after` (by id), with their accounts.
pub fn page(
    conn: &mut DbConn,
    session_id: &str,
    after: &str,
) -> QueryResult<Vec<(Enrolment, Account)>> {
    enrolments::table
        .inner_join(accounts::table)
        .filter(enrolments::session_id.eq(session_id))
        .filter(enrolments::id.gt(after))
        .order(enrolments::id.asc())
        .limit(PAGE)
        .select((Enrolment::as_select(), Account::as_select()))
        .load(conn)
}

/// (enrolment, lesson done?) for every opened lesson.
pub fn lessons(conn: &mut DbConn, ids: &[String]) -> QueryResult<Vec<(String, bool)>> {
    let rows: Vec<(String, Option<NaiveDateTime>)> = lesson_progress::table
        .filter(lesson_progress::enrolment_id.eq_any(ids))
        .select((lesson_progress::enrolment_id, lesson_progress::completed_at))
        .load(conn)?;
    Ok(rows.into_iter().map(|(e, c)| (e, c.is_some())).collect())
}

/// (enrolment, active seconds, end) of every interval of time on task.
pub fn intervals(
    conn: &mut DbConn,
    ids: &[String],
) -> QueryResult<Vec<(String, i32, NaiveDateTime)>> {
    time_intervals::table
        .filter(time_intervals::enrolment_id.eq_any(ids))
        .select((
            time_intervals::enrolment_id,
            time_intervals::active_seconds,
            time_intervals::ended_at,
        ))
        .load(conn)
}

pub type ScoredRow = (String, String, i32, Option<f64>, Option<bool>);

/// (enrolment, quiz, number, percent, passed) of every attempt.
pub fn attempts(conn: &mut DbConn, ids: &[String]) -> QueryResult<Vec<ScoredRow>> {
    quiz_attempts::table
        .filter(quiz_attempts::enrolment_id.eq_any(ids))
        .select((
            quiz_attempts::enrolment_id,
            quiz_attempts::quiz_id,
            quiz_attempts::number,
            quiz_attempts::percent,
            quiz_attempts::passed,
        ))
        .load(conn)
}

pub fn completions_of(
    conn: &mut DbConn,
    ids: &[String],
) -> QueryResult<Vec<(String, NaiveDateTime)>> {
    completions::table
        .filter(completions::enrolment_id.eq_any(ids))
        .select((completions::enrolment_id, completions::completed_at))
        .load(conn)
}

pub type CertificateRow = (
    String,
    String,
    CertificateKind,
    NaiveDateTime,
    Option<NaiveDateTime>,
);

/// (enrolment, code, kind, issued, revoked) of every certificate.
pub fn certificates_of(conn: &mut DbConn, ids: &[String]) -> QueryResult<Vec<CertificateRow>> {
    certificates::table
        .filter(certificates::enrolment_id.eq_any(ids))
        .select((
            certificates::enrolment_id,
            certificates::code,
            certificates::kind,
            certificates::issued_at,
            certificates::revoked_at,
        ))
        .load(conn)
}

/// The sessions of an organisation.
pub fn sessions_of(conn: &mut DbConn, organisation_id: &str) -> QueryResult<Vec<Session>> {
    training_sessions::table
        .filter(training_sessions::organisation_id.eq(organisation_id))
        .order((
            training_sessions::opens_on.asc(),
            training_sessions::id.asc(),
        ))
        .select(Session::as_select())
        .load(conn)
}

/// The completions of a session within [from, to), after `after` (by enrolment id).
pub fn completed_page(
    conn: &mut DbConn,
    session_id: &str,
    from: NaiveDateTime,
    to: NaiveDateTime,
    after: &str,
) -> QueryResult<Vec<(Enrolment, Account, NaiveDateTime, i32)>> {
    enrolments::table
        .inner_join(accounts::table)
        .inner_join(completions::table.on(completions::enrolment_id.eq(enrolments::id)))
        .filter(enrolments::session_id.eq(session_id))
        .filter(completions::completed_at.ge(from))
        .filter(completions::completed_at.lt(to))
        .filter(enrolments::id.gt(after))
        .order(enrolments::id.asc())
        .limit(PAGE)
        .select((
            Enrolment::as_select(),
            Account::as_select(),
            completions::completed_at,
            completions::active_seconds,
        ))
        .load(conn)
}
