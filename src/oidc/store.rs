//! The OpenID Connect tables: sign-ins in flight, identities linked to accounts (listed by
//! `identity::store`, whose export and erasure read them too), links waiting for the
//! account's proof.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{oidc_identities, oidc_logins, oidc_pending_links};
use crate::db::{native, DbConn};
use crate::identity::store::LinkedIdentity;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = oidc_logins)]
pub struct Login {
    pub state: String,
    pub provider: String,
    pub nonce: String,
    pub link_account_id: Option<String>,
    pub return_to: Option<String>,
    pub expires_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = oidc_pending_links)]
pub struct PendingLink {
    pub token_hash: String,
    pub provider: String,
    pub subject: String,
    /// The mapped identity (`claims::Identity`), as JSON.
    pub identity: String,
    pub expires_at: NaiveDateTime,
}

pub fn insert_login(conn: &mut DbConn, login: &Login) -> QueryResult<()> {
    diesel::insert_into(oidc_logins::table)
        .values(login)
        .execute(conn)
        .map(|_| ())
}

/// Takes the login of `state`: it serves once.
pub fn take_login(conn: &mut DbConn, state: &str) -> QueryResult<Option<Login>> {
    native!(conn, |c| diesel::delete(oidc_logins::table.find(state))
        .returning(Login::as_returning())
        .get_result(c)
        .optional())
}

/// Drops sign-ins never finished and proofs never given.
pub fn prune(conn: &mut DbConn, before: NaiveDateTime) -> QueryResult<usize> {
    let logins = diesel::delete(oidc_logins::table.filter(oidc_logins::expires_at.lt(before)))
        .execute(conn)?;
    let pending =
        diesel::delete(oidc_pending_links::table.filter(oidc_pending_links::expires_at.lt(before)))
            .execute(conn)?;
    Ok(logins + pending)
}

pub fn identity(
    conn: &mut DbConn,
    provider: &str,
    subject: &str,
) -> QueryResult<Option<LinkedIdentity>> {
    oidc_identities::table
        .find((provider, subject))
        .select(LinkedIdentity::as_select())
        .first(conn)
        .optional()
}

pub fn insert_identity(conn: &mut DbConn, identity: &LinkedIdentity) -> QueryResult<()> {
    diesel::insert_into(oidc_identities::table)
        .values(identity)
        .execute(conn)
        .map(|_| ())
}

/// Records a sign-in: when, and what the provider vouches for now.
pub fn touch_identity(
    conn: &mut DbConn,
    provider: &str,
    subject: &str,
    rpps: Option<&str>,
    profession_code: Option<&str>,
    at: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(oidc_identities::table.find((provider, subject)))
        .set((
            oidc_identities::last_sign_in_at.eq(at),
            oidc_identities::rpps.eq(rpps),
            oidc_identities::profession_code.eq(profession_code),
        ))
        .execute(conn)
        .map(|_| ())
}

pub fn delete_identity(conn: &mut DbConn, account_id: &str, provider: &str) -> QueryResult<usize> {
    diesel::delete(
        oidc_identities::table
            .filter(oidc_identities::account_id.eq(account_id))
            .filter(oidc_identities::provider.eq(provider)),
    )
    .execute(conn)
}

pub fn insert_pending(conn: &mut DbConn, pending: &PendingLink) -> QueryResult<()> {
    diesel::insert_into(oidc_pending_links::table)
        .values(pending)
        .execute(conn)
        .map(|_| ())
}

pub fn pending(conn: &mut DbConn, token_hash: &str) -> QueryResult<Option<PendingLink>> {
    oidc_pending_links::table
        .find(token_hash)
        .select(PendingLink::as_select())
        .first(conn)
        .optional()
}

pub fn delete_pending(conn: &mut DbConn, token_hash: &str) -> QueryResult<usize> {
    diesel::delete(oidc_pending_links::table.find(token_hash)).execute(conn)
}
