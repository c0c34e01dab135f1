//! Persistence of sessions and enrolments.

use chrono::NaiveDate;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::db::schema::{accounts, enrolments, training_sessions};
use crate::db::{locked, native, DbConn};
use crate::enrolment::model::{EnrolmentMode, EnrolmentStatus};
use crate::identity::store::Account;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset, Serialize, Deserialize)]
#[diesel(table_name = training_sessions, treat_none_as_null = true)]
pub struct Session {
    pub id: String,
    pub organisation_id: String,
    pub course_slug: String,
    pub course_version_id: String,
    pub title: String,
    pub opens_on: NaiveDate,
    pub closes_on: NaiveDate,
    pub capacity: Option<i32>,
    pub active_count: i32,
    pub enrolment_mode: EnrolmentMode,
    #[serde(skip_serializing)]
    pub enrolment_key_hash: Option<String>,
    pub dpc_action_ref: Option<String>,
    pub dpc_session_no: Option<String>,
    /// The orientation prioritaire declared for this DPC session.
    pub dpc_orientation: Option<String>,
    pub odpc_number: Option<String>,
    pub academic_year: Option<String>,
    pub curriculum: Option<String>,
    pub closed_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// Placed in an LMS course (LTI): its quizzes' scores are owed to the grade book.
    #[serde(default)]
    pub lms_placed: bool,
    /// Only practitioners whose RPPS a provider verified (Pro Santé Connect) may enrol.
    #[serde(default)]
    pub requires_verified_rpps: bool,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize, Deserialize)]
#[diesel(table_name = enrolments)]
pub struct Enrolment {
    pub id: String,
    pub session_id: String,
    pub account_id: String,
    pub course_version_id: String,
    pub status: EnrolmentStatus,
    pub enrolled_by: Option<String>,
    pub enrolled_at: NaiveDateTime,
    pub withdrawn_by: Option<String>,
    pub withdrawn_at: Option<NaiveDateTime>,
}

pub fn insert_session(conn: &mut DbConn, session: &Session) -> QueryResult<()> {
    diesel::insert_into(training_sessions::table)
        .values(session)
        .execute(conn)
        .map(drop)
}

pub fn update_session(conn: &mut DbConn, session: &Session) -> QueryResult<()> {
    diesel::update(training_sessions::table.find(&session.id))
        .set(session)
        .execute(conn)
        .map(drop)
}

pub fn session(conn: &mut DbConn, id: &str) -> QueryResult<Option<Session>> {
    native!(conn, |c| training_sessions::table
        .find(id)
        .select(Session::as_select())
        .first(c)
        .optional())
}

/// Reads a session to modify it, locking its row on PostgreSQL.
pub fn session_for_update(conn: &mut DbConn, id: &str) -> QueryResult<Option<Session>> {
    locked!(
        conn,
        training_sessions::table
            .find(id)
            .select(Session::as_select()),
        |q, c| q.first(c).optional()
    )
}

pub fn sessions_of(conn: &mut DbConn, organisation_id: &str) -> QueryResult<Vec<Session>> {
    training_sessions::table
        .filter(training_sessions::organisation_id.eq(organisation_id))
        .order((
            training_sessions::opens_on.desc(),
            training_sessions::title.asc(),
        ))
        .select(Session::as_select())
        .load(conn)
}

/// Sessions anyone may enrol in today (open or with a key), optionally for one course.
pub fn public_sessions(
    conn: &mut DbConn,
    today: NaiveDate,
    course: Option<&str>,
) -> QueryResult<Vec<Session>> {
    let mut query = training_sessions::table
        .filter(training_sessions::enrolment_mode.ne(EnrolmentMode::AdminOnly))
        .filter(training_sessions::closed_at.is_null())
        .filter(training_sessions::opens_on.le(today))
        .filter(training_sessions::closes_on.ge(today))
        .into_boxed();
    if let Some(course) = course {
        query = query.filter(training_sessions::course_slug.eq(course.to_owned()));
    }
    query
        .order(training_sessions::closes_on.asc())
        .select(Session::as_select())
        .load(conn)
}

/// Takes a seat if one is left: one conditional UPDATE, so concurrent requests can never
/// overbook (PostgreSQL re-checks the condition after waiting for the row lock).
pub fn take_seat(conn: &mut DbConn, session_id: &str) -> QueryResult<bool> {
    diesel::update(
        training_sessions::table.find(session_id).filter(
            training_sessions::capacity
                .is_null()
                .or(training_sessions::active_count
                    .lt(training_sessions::capacity.assume_not_null())),
        ),
    )
    .set(training_sessions::active_count.eq(training_sessions::active_count + 1))
    .execute(conn)
    .map(|n| n == 1)
}

/// Takes `seats` seats at once if that many are left, as [`take_seat`] does for one.
pub fn take_seats(conn: &mut DbConn, session_id: &str, seats: i32) -> QueryResult<bool> {
    diesel::update(
        training_sessions::table.find(session_id).filter(
            training_sessions::capacity
                .is_null()
                .or((training_sessions::active_count + seats)
                    .le(training_sessions::capacity.assume_not_null())),
        ),
    )
    .set(training_sessions::active_count.eq(training_sessions::active_count + seats))
    .execute(conn)
    .map(|n| n == 1)
}

pub fn release_seat(conn: &mut DbConn, session_id: &str) -> QueryResult<()> {
    diesel::update(training_sessions::table.find(session_id))
        .set(training_sessions::active_count.eq(training_sessions::active_count - 1))
        .execute(conn)
        .map(drop)
}

pub fn insert_enrolment(conn: &mut DbConn, enrolment: &Enrolment) -> QueryResult<()> {
    diesel::insert_into(enrolments::table)
        .values(enrolment)
        .execute(conn)
        .map(drop)
}

pub fn insert_enrolments(conn: &mut DbConn, rows: &[Enrolment]) -> QueryResult<usize> {
    Ok(crate::db::batch_insert!(conn, enrolments::table, rows))
}

pub fn enrolment(conn: &mut DbConn, id: &str) -> QueryResult<Option<Enrolment>> {
    native!(conn, |c| enrolments::table
        .find(id)
        .select(Enrolment::as_select())
        .first(c)
        .optional())
}

/// An enrolment with its session, in one query (every learner request needs both).
pub fn enrolment_with_session(
    conn: &mut DbConn,
    id: &str,
) -> QueryResult<Option<(Enrolment, Session)>> {
    native!(conn, |c| enrolments::table
        .inner_join(training_sessions::table)
        .filter(enrolments::id.eq(id))
        .select((Enrolment::as_select(), Session::as_select()))
        .first(c)
        .optional())
}

/// Reads an enrolment to serialise writes about it, locking its row on PostgreSQL (SQLite's
/// write transactions are serial already).
pub fn enrolment_for_update(conn: &mut DbConn, id: &str) -> QueryResult<Option<Enrolment>> {
    locked!(
        conn,
        enrolments::table.find(id).select(Enrolment::as_select()),
        |q, c| q.first(c).optional()
    )
}

/// [`enrolment_for_update`] for many enrolments at once, locked in id order (so that two
/// batches never deadlock); missing ids are left out.
pub fn enrolments_for_update(conn: &mut DbConn, ids: &[&str]) -> QueryResult<Vec<Enrolment>> {
    let query = || {
        enrolments::table
            .filter(enrolments::id.eq_any(ids))
            .order(enrolments::id.asc())
    };
    locked!(conn, query().select(Enrolment::as_select()), |q, c| q
        .load(c))
}

pub fn active_enrolment(
    conn: &mut DbConn,
    session_id: &str,
    account_id: &str,
) -> QueryResult<Option<Enrolment>> {
    enrolments::table
        .filter(enrolments::session_id.eq(session_id))
        .filter(enrolments::account_id.eq(account_id))
        .filter(enrolments::status.eq(EnrolmentStatus::Active))
        .select(Enrolment::as_select())
        .first(conn)
        .optional()
}

/// Marks an active enrolment withdrawn; false if it was not active (any more).
pub fn withdraw(conn: &mut DbConn, id: &str, by: &str, at: NaiveDateTime) -> QueryResult<bool> {
    diesel::update(
        enrolments::table
            .find(id)
            .filter(enrolments::status.eq(EnrolmentStatus::Active)),
    )
    .set((
        enrolments::status.eq(EnrolmentStatus::Withdrawn),
        enrolments::withdrawn_by.eq(Some(by)),
        enrolments::withdrawn_at.eq(Some(at)),
    ))
    .execute(conn)
    .map(|n| n == 1)
}

pub fn enrolments_of_account(
    conn: &mut DbConn,
    account_id: &str,
) -> QueryResult<Vec<(Enrolment, Session)>> {
    enrolments::table
        .inner_join(training_sessions::table)
        .filter(enrolments::account_id.eq(account_id))
        .order(enrolments::enrolled_at.desc())
        .select((Enrolment::as_select(), Session::as_select()))
        .load(conn)
}

pub fn enrolments_of_session(
    conn: &mut DbConn,
    session_id: &str,
) -> QueryResult<Vec<(Enrolment, Account)>> {
    enrolments::table
        .inner_join(accounts::table)
        .filter(enrolments::session_id.eq(session_id))
        .order((enrolments::status.asc(), accounts::full_name.asc()))
        .select((Enrolment::as_select(), Account::as_select()))
        .load(conn)
}

/// Ids of the accounts, among `account_ids`, actively enrolled in the session.
pub fn actively_enrolled(
    conn: &mut DbConn,
    session_id: &str,
    account_ids: &[String],
) -> QueryResult<Vec<String>> {
    let mut found = Vec::new();
    for chunk in account_ids.chunks(500) {
        found.extend(
            enrolments::table
                .filter(enrolments::session_id.eq(session_id))
                .filter(enrolments::status.eq(EnrolmentStatus::Active))
                .filter(enrolments::account_id.eq_any(chunk))
                .select(enrolments::account_id)
                .load::<String>(conn)?,
        );
    }
    Ok(found)
}
