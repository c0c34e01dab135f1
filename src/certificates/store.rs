//! Persistence of certificates: insertion (once per enrolment, enforced by a partial unique
//! index), look-ups by id and code, revocation, and the status-list positions.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{certificate_counters, certificates};
use crate::db::DbConn;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = certificates)]
pub struct Certificate {
    pub id: String,
    pub enrolment_id: String,
    pub organisation_id: String,
    pub session_id: String,
    pub account_id: String,
    pub code: String,
    pub kind: String,
    pub snapshot: String,
    pub issued_at: NaiveDateTime,
    pub status_index: i32,
    pub revoked_at: Option<NaiveDateTime>,
    pub revoked_by: Option<String>,
    pub revocation_reason: Option<String>,
    pub replaces_id: Option<String>,
}

/// The next free position in the status lists. Called inside the issuing transaction: the
/// counter row stays locked until it commits, so two certificates never share a bit.
pub fn allocate_status_index(conn: &mut DbConn) -> QueryResult<i32> {
    let counter = certificate_counters::table.find("status_index");
    diesel::update(counter)
        .set(certificate_counters::next_value.eq(certificate_counters::next_value + 1))
        .execute(conn)?;
    let next: i32 = counter
        .select(certificate_counters::next_value)
        .first(conn)?;
    Ok(next - 1)
}

pub fn insert(conn: &mut DbConn, certificate: &Certificate) -> QueryResult<()> {
    diesel::insert_into(certificates::table)
        .values(certificate)
        .execute(conn)
        .map(drop)
}

pub fn by_id(conn: &mut DbConn, id: &str) -> QueryResult<Option<Certificate>> {
    certificates::table
        .find(id)
        .select(Certificate::as_select())
        .first(conn)
        .optional()
}

pub fn by_code(conn: &mut DbConn, code: &str) -> QueryResult<Option<Certificate>> {
    certificates::table
        .filter(certificates::code.eq(code))
        .select(Certificate::as_select())
        .first(conn)
        .optional()
}

/// The certificate that replaced this one, if it was re-issued.
pub fn replacement_of(conn: &mut DbConn, id: &str) -> QueryResult<Option<Certificate>> {
    certificates::table
        .filter(certificates::replaces_id.eq(id))
        .select(Certificate::as_select())
        .first(conn)
        .optional()
}

pub fn of_enrolment(conn: &mut DbConn, enrolment_id: &str) -> QueryResult<Vec<Certificate>> {
    certificates::table
        .filter(certificates::enrolment_id.eq(enrolment_id))
        .order(certificates::issued_at.asc())
        .select(Certificate::as_select())
        .load(conn)
}

pub fn of_account(conn: &mut DbConn, account_id: &str) -> QueryResult<Vec<Certificate>> {
    certificates::table
        .filter(certificates::account_id.eq(account_id))
        .order(certificates::issued_at.desc())
        .select(Certificate::as_select())
        .load(conn)
}

/// The certificates in force (not revoked) of a session, in issue order.
pub fn current_of_session(conn: &mut DbConn, session_id: &str) -> QueryResult<Vec<Certificate>> {
    certificates::table
        .filter(certificates::session_id.eq(session_id))
        .filter(certificates::revoked_at.is_null())
        .order((certificates::issued_at.asc(), certificates::id.asc()))
        .select(Certificate::as_select())
        .load(conn)
}

/// Revokes a certificate still in force; false if it already was (or does not exist).
pub fn revoke(
    conn: &mut DbConn,
    id: &str,
    by: &str,
    reason: &str,
    at: NaiveDateTime,
) -> QueryResult<bool> {
    diesel::update(
        certificates::table
            .find(id)
            .filter(certificates::revoked_at.is_null()),
    )
    .set((
        certificates::revoked_at.eq(at),
        certificates::revoked_by.eq(by),
        certificates::revocation_reason.eq(reason),
    ))
    .execute(conn)
    .map(|n| n == 1)
}

/// The revoked positions of status list `list` (indices within the list).
pub fn revoked_in_list(conn: &mut DbConn, list: i64, size: i64) -> QueryResult<Vec<i64>> {
    let (first, last) = (list * size, (list + 1) * size);
    let (Ok(first), Ok(last)) = (i32::try_from(first), i32::try_from(last)) else {
        return Ok(Vec::new());
    };
    let indices: Vec<i32> = certificates::table
        .filter(certificates::status_index.ge(first))
        .filter(certificates::status_index.lt(last))
        .filter(certificates::revoked_at.is_not_null())
        .select(certificates::status_index)
        .load(conn)?;
    Ok(indices
        .into_iter()
        .map(|i| i64::from(i) - i64::from(first))
        .collect())
}

/// How many status lists exist (the last one may be partly used).
pub fn list_count(conn: &mut DbConn, size: i64) -> QueryResult<i64> {
    let next: i32 = certificate_counters::table
        .find("status_index")
        .select(certificate_counters::next_value)
        .first(conn)?;
    Ok((i64::from(next) + size - 1) / size)
}
