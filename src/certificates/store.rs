//! Persistence of certificates: insertion (once per enrolment, enforced by a partial unique
//! index), look-ups by id and code, revocation, the status-list positions, and the
//! tombstones that keep purged certificates revoked.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::model::CertificateKind;
use crate::db::schema::{accounts, certificate_tombstones, certificates, completions, du_records};
use crate::db::{native, DbConn};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = certificates)]
pub struct Certificate {
    pub id: String,
    pub enrolment_id: String,
    pub organisation_id: String,
    pub session_id: String,
    pub account_id: String,
    pub code: String,
    pub kind: CertificateKind,
    pub snapshot: String,
    pub issued_at: NaiveDateTime,
    pub status_index: i32,
    pub revoked_at: Option<NaiveDateTime>,
    pub revoked_by: Option<String>,
    pub revocation_reason: Option<String>,
    pub replaces_id: Option<String>,
}

pub fn insert(conn: &mut DbConn, certificate: &Certificate) -> QueryResult<()> {
    native!(conn, |c| diesel::insert_into(certificates::table)
        .values(certificate)
        .execute(c)
        .map(drop))
}

pub fn by_id(conn: &mut DbConn, id: &str) -> QueryResult<Option<Certificate>> {
    native!(conn, |c| certificates::table
        .find(id)
        .select(Certificate::as_select())
        .first(c)
        .optional())
}

/// The certificate with this code and the code of the one that replaced it, if any, in
/// one query: public verification is the hottest read there is.
pub fn by_code_with_replacement(
    conn: &mut DbConn,
    code: &str,
) -> QueryResult<Option<(Certificate, Option<String>)>> {
    let replacement = diesel::alias!(certificates as replacement);
    native!(conn, |c| certificates::table
        .left_join(
            replacement.on(replacement
                .field(certificates::replaces_id)
                .eq(certificates::id.nullable())),
        )
        .filter(certificates::code.eq(code))
        .select((
            Certificate::as_select(),
            replacement.field(certificates::code).nullable(),
        ))
        .first(c)
        .optional())
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
    let mut indices: Vec<i32> = certificates::table
        .filter(certificates::status_index.ge(first))
        .filter(certificates::status_index.lt(last))
        .filter(certificates::revoked_at.is_not_null())
        .select(certificates::status_index)
        .load(conn)?;
    indices.extend(
        certificate_tombstones::table
            .filter(certificate_tombstones::status_index.ge(first))
            .filter(certificate_tombstones::status_index.lt(last))
            .select(certificate_tombstones::status_index)
            .load::<i32>(conn)?,
    );
    Ok(indices
        .into_iter()
        .map(|i| i64::from(i) - i64::from(first))
        .collect())
}

/// How many status lists are in use: a new one opens when those in use are half full, so a
/// random free bit is found in a draw or two.
pub fn lists_in_use(conn: &mut DbConn, size: i64) -> QueryResult<i64> {
    let handed_out = match conn {
        // The sequence each issue advances ([`take_status_bit`]), read without advancing.
        DbConn::Pg(c) => {
            diesel::sql_query(
                "SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END AS n \
                 FROM status_bits_handed_out",
            )
            .get_result::<Number>(c)?
            .n
        }
        DbConn::Sqlite(_) => counted(conn)?,
    };
    Ok(in_use(handed_out, size))
}

/// Takes a status bit for a certificate about to be issued: the lists in use to draw it
/// from. On PostgreSQL one `nextval`, where counting every certificate at each issue walked
/// a million index entries per certificate at national size (`bench/README.md`); SQLite,
/// one school's database, counts.
pub fn take_status_bit(conn: &mut DbConn, size: i64) -> QueryResult<i64> {
    let before = match conn {
        DbConn::Pg(c) => {
            diesel::sql_query("SELECT nextval('status_bits_handed_out') - 1 AS n")
                .get_result::<Number>(c)?
                .n
        }
        DbConn::Sqlite(_) => counted(conn)?,
    };
    Ok(in_use(before, size))
}

#[derive(QueryableByName)]
struct Number {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// The certificates issued, those of purged holders included.
fn counted(conn: &mut DbConn) -> QueryResult<i64> {
    let issued: i64 = certificates::table.count().get_result(conn)?;
    let buried: i64 = certificate_tombstones::table.count().get_result(conn)?;
    Ok(issued + buried)
}

fn in_use(handed_out: i64, size: i64) -> i64 {
    handed_out.max(0) / (size / 2) + 1
}

/// Before their holders' accounts are purged, their certificates leave a revoked bit
/// behind: a purged certificate must not come back to life in the status list.
pub fn bury_certificates_of_purged(
    conn: &mut DbConn,
    erased_before: NaiveDateTime,
    at: NaiveDateTime,
) -> QueryResult<usize> {
    let indices: Vec<i32> = certificates::table
        .inner_join(accounts::table.on(accounts::id.eq(certificates::account_id)))
        .filter(accounts::erased_at.lt(erased_before))
        .select(certificates::status_index)
        .load(conn)?;
    let rows: Vec<_> = indices
        .iter()
        .map(|i| {
            (
                certificate_tombstones::status_index.eq(*i),
                certificate_tombstones::buried_at.eq(at),
            )
        })
        .collect();
    Ok(crate::db::batch_insert!(
        conn,
        certificate_tombstones::table,
        &rows
    ))
}

/// Completions that have no certificate: those recorded before certificates existed.
pub fn completions_without_certificate(
    conn: &mut DbConn,
    limit: i64,
) -> QueryResult<Vec<(String, NaiveDateTime, i32)>> {
    completions::table
        .filter(diesel::dsl::not(diesel::dsl::exists(
            certificates::table.filter(certificates::enrolment_id.eq(completions::enrolment_id)),
        )))
        .order(completions::completed_at.asc())
        .limit(limit)
        .select((
            completions::enrolment_id,
            completions::completed_at,
            completions::active_seconds,
        ))
        .load(conn)
}

/// A DU completion record follows its certificate when it is re-issued.
pub fn move_du_record(conn: &mut DbConn, from: &str, to: &str) -> QueryResult<usize> {
    diesel::update(du_records::table.filter(du_records::certificate_id.eq(from)))
        .set(du_records::certificate_id.eq(to))
        .execute(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_opens_when_those_in_use_are_half_full() {
        assert_eq!(in_use(0, 8), 1);
        assert_eq!(in_use(3, 8), 1);
        assert_eq!(in_use(4, 8), 2);
        assert_eq!(in_use(8, 8), 3);
        assert_eq!(
            in_use(-1, 8),
            1,
            "an unused sequence reads one below its start"
        );
    }
}
