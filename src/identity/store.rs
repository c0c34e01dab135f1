//! Persistence of identities: accounts, organisations, memberships, tokens, login failures
//! and the audit log. Plain diesel over `DbConn`; callers own the transactions.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::{
    accounts, audit_log, certificates, login_failures, memberships, one_time_tokens, organisations,
    password_reset_requests, refresh_tokens,
};
use crate::db::{locked, native, DbConn};
use crate::identity::model::{OrgKind, Role};

pub fn now() -> NaiveDateTime {
    chrono::Utc::now().naive_utc()
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset, Serialize)]
#[diesel(table_name = accounts, treat_none_as_null = true)]
pub struct Account {
    pub id: String,
    pub email: String,
    pub full_name: String,
    #[serde(skip)]
    pub password_hash: String,
    pub profession: String,
    pub rpps: Option<String>,
    pub adeli: Option<String>,
    pub student_number: Option<String>,
    pub mode_exercice: Option<String>,
    pub is_platform_admin: bool,
    pub email_verified_at: Option<NaiveDateTime>,
    pub disabled_at: Option<NaiveDateTime>,
    pub erased_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// Page sessions carry it; it moves on at sign-out and password reset.
    pub page_session_epoch: i32,
    /// Apart, for certificates and declarations (None for accounts made before).
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

impl Account {
    /// A new account with nothing but its address, name, credential and profession (the
    /// address not yet confirmed, no numbers): each way of creating one sets the rest.
    pub fn fresh(
        email: String,
        full_name: String,
        password_hash: String,
        profession: &str,
        at: NaiveDateTime,
    ) -> Self {
        Self {
            id: new_id(),
            email,
            full_name,
            password_hash,
            profession: profession.to_owned(),
            rpps: None,
            adeli: None,
            student_number: None,
            mode_exercice: None,
            is_platform_admin: false,
            email_verified_at: None,
            disabled_at: None,
            erased_at: None,
            created_at: at,
            updated_at: at,
            page_session_epoch: 0,
            first_name: None,
            last_name: None,
        }
    }

    pub fn is_active(&self) -> bool {
        self.disabled_at.is_none() && self.erased_at.is_none()
    }

    /// An unconfirmed account whose credential an invitation reset (see the CSV import):
    /// until the address's owner sets a password, no token stands for it, even one issued
    /// before to whoever registered the address first.
    pub fn awaits_owner(&self) -> bool {
        self.password_hash.is_empty() && self.email_verified_at.is_none()
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = organisations)]
pub struct Organisation {
    pub id: String,
    pub kind: OrgKind,
    pub name: String,
    pub siret: Option<String>,
    pub uai: Option<String>,
    pub odpc_number: Option<String>,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = memberships)]
pub struct Membership {
    pub organisation_id: String,
    pub account_id: String,
    pub role: Role,
    pub created_at: NaiveDateTime,
}

pub fn insert_account(conn: &mut DbConn, account: &Account) -> QueryResult<()> {
    diesel::insert_into(accounts::table)
        .values(account)
        .execute(conn)
        .map(drop)
}

pub fn update_account(conn: &mut DbConn, account: &Account) -> QueryResult<()> {
    diesel::update(accounts::table.find(&account.id))
        .set(account)
        .execute(conn)
        .map(drop)
}

pub fn account(conn: &mut DbConn, id: &str) -> QueryResult<Account> {
    native!(conn, |c| accounts::table
        .find(id)
        .select(Account::as_select())
        .first(c))
}

/// Reads an account to modify it: on PostgreSQL the row stays locked until the transaction
/// ends, so a concurrent change (a disable, an erasure) is not overwritten; SQLite's
/// IMMEDIATE transactions already serialise writers.
pub fn account_for_update(conn: &mut DbConn, id: &str) -> QueryResult<Account> {
    locked!(
        conn,
        accounts::table.find(id).select(Account::as_select()),
        |q, c| q.first(c)
    )
}

/// Locks an organisation's memberships (PostgreSQL) before its admins are counted.
pub fn lock_memberships(conn: &mut DbConn, organisation_id: &str) -> QueryResult<()> {
    if let DbConn::Pg(pg) = conn {
        memberships::table
            .filter(memberships::organisation_id.eq(organisation_id))
            .select(memberships::account_id)
            .for_update()
            .load::<String>(pg)?;
    }
    Ok(())
}

pub fn account_by_email(conn: &mut DbConn, email: &str) -> QueryResult<Option<Account>> {
    accounts::table
        .filter(accounts::email.eq(email))
        .select(Account::as_select())
        .first(conn)
        .optional()
}

pub fn email_taken(conn: &mut DbConn, email: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        accounts::table.filter(accounts::email.eq(email)),
    ))
    .get_result(conn)
}

/// The account holding an RPPS (`field` = "rpps") or ADELI number, if any.
pub fn number_holder(conn: &mut DbConn, field: &str, value: &str) -> QueryResult<Option<String>> {
    let query = accounts::table.select(accounts::id).into_boxed();
    let query = if field == "adeli" {
        query.filter(accounts::adeli.eq(value))
    } else {
        query.filter(accounts::rpps.eq(value))
    };
    query.first(conn).optional()
}

/// The holders of many numbers of one field at once (an import's), as (number, account id).
pub fn number_holders(
    conn: &mut DbConn,
    field: &str,
    values: &[String],
) -> QueryResult<Vec<(String, String)>> {
    let mut found = Vec::new();
    for chunk in values.chunks(500) {
        let pairs: Vec<(Option<String>, String)> = if field == "adeli" {
            accounts::table
                .filter(accounts::adeli.eq_any(chunk))
                .select((accounts::adeli, accounts::id))
                .load(conn)?
        } else {
            accounts::table
                .filter(accounts::rpps.eq_any(chunk))
                .select((accounts::rpps, accounts::id))
                .load(conn)?
        };
        found.extend(pairs.into_iter().filter_map(|(n, id)| Some((n?, id))));
    }
    Ok(found)
}

/// `CertificateKind::Dpc`'s code: identity does not depend on certificates, so the code is
/// repeated here and a test in `certificates::model` keeps the two equal.
pub const DPC_CERTIFICATE_KIND: &str = "dpc";

/// Whether a DPC certificate (revoked or not) attests this account's numbers.
pub fn holds_dpc_certificate(conn: &mut DbConn, account_id: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        certificates::table
            .filter(certificates::account_id.eq(account_id))
            .filter(certificates::kind.eq(DPC_CERTIFICATE_KIND)),
    ))
    .get_result(conn)
}

pub fn insert_organisation(conn: &mut DbConn, org: &Organisation) -> QueryResult<()> {
    diesel::insert_into(organisations::table)
        .values(org)
        .execute(conn)
        .map(drop)
}

pub fn organisation(conn: &mut DbConn, id: &str) -> QueryResult<Organisation> {
    organisations::table
        .find(id)
        .select(Organisation::as_select())
        .first(conn)
}

pub fn all_organisations(conn: &mut DbConn) -> QueryResult<Vec<Organisation>> {
    organisations::table
        .order(organisations::name.asc())
        .select(Organisation::as_select())
        .load(conn)
}

/// The organisations an account belongs to, with its role in each.
pub fn organisations_of(
    conn: &mut DbConn,
    account_id: &str,
) -> QueryResult<Vec<(Organisation, Role)>> {
    memberships::table
        .inner_join(organisations::table)
        .filter(memberships::account_id.eq(account_id))
        .order(organisations::name.asc())
        .select((Organisation::as_select(), memberships::role))
        .load(conn)
}

pub fn membership(
    conn: &mut DbConn,
    organisation_id: &str,
    account_id: &str,
) -> QueryResult<Option<Membership>> {
    native!(conn, |c| memberships::table
        .find((organisation_id, account_id))
        .select(Membership::as_select())
        .first(c)
        .optional())
}

pub fn members(
    conn: &mut DbConn,
    organisation_id: &str,
) -> QueryResult<Vec<(Membership, Account)>> {
    memberships::table
        .inner_join(accounts::table)
        .filter(memberships::organisation_id.eq(organisation_id))
        .order(accounts::full_name.asc())
        .select((Membership::as_select(), Account::as_select()))
        .load(conn)
}

pub fn insert_membership(conn: &mut DbConn, membership: &Membership) -> QueryResult<()> {
    diesel::insert_into(memberships::table)
        .values(membership)
        .execute(conn)
        .map(drop)
}

pub fn set_role(
    conn: &mut DbConn,
    organisation_id: &str,
    account_id: &str,
    role: Role,
) -> QueryResult<usize> {
    diesel::update(memberships::table.find((organisation_id, account_id)))
        .set(memberships::role.eq(role))
        .execute(conn)
}

pub fn delete_membership(
    conn: &mut DbConn,
    organisation_id: &str,
    account_id: &str,
) -> QueryResult<usize> {
    diesel::delete(memberships::table.find((organisation_id, account_id))).execute(conn)
}

pub fn count_role(conn: &mut DbConn, organisation_id: &str, role: Role) -> QueryResult<i64> {
    memberships::table
        .filter(memberships::organisation_id.eq(organisation_id))
        .filter(memberships::role.eq(role))
        .count()
        .get_result(conn)
}

/// Whether `rpps` is the number a provider linked to the account vouched for (see `oidc`).
pub fn rpps_vouched(conn: &mut DbConn, account_id: &str, rpps: Option<&str>) -> QueryResult<bool> {
    use crate::db::schema::oidc_identities;
    let Some(rpps) = rpps else { return Ok(false) };
    diesel::select(diesel::dsl::exists(
        oidc_identities::table
            .filter(oidc_identities::account_id.eq(account_id))
            .filter(oidc_identities::rpps.eq(rpps)),
    ))
    .get_result(conn)
}

/// An OpenID Connect identity linked to an account (see `oidc`): the provider's subject,
/// and what it vouched for at the last sign-in.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = crate::db::schema::oidc_identities)]
pub struct LinkedIdentity {
    pub provider: String,
    pub subject: String,
    pub account_id: String,
    /// The RPPS the provider vouched for.
    pub rpps: Option<String>,
    pub profession_code: Option<String>,
    pub linked_at: NaiveDateTime,
    pub last_sign_in_at: NaiveDateTime,
}

/// The OpenID Connect identities linked to the account, oldest first.
pub fn provider_identities_of(
    conn: &mut DbConn,
    account_id: &str,
) -> QueryResult<Vec<LinkedIdentity>> {
    use crate::db::schema::oidc_identities as i;
    i::table
        .filter(i::account_id.eq(account_id))
        .order(i::linked_at.asc())
        .select(LinkedIdentity::as_select())
        .load(conn)
}

/// Among `account_ids`, those whose RPPS is the one a linked provider vouched for (what
/// [`rpps_vouched`] says of one account, for a page of them).
pub fn rpps_vouched_among(
    conn: &mut DbConn,
    account_ids: &[String],
) -> QueryResult<std::collections::HashSet<String>> {
    use crate::db::schema::oidc_identities as i;
    let mut vouched = std::collections::HashSet::new();
    for chunk in account_ids.chunks(500) {
        let found: Vec<String> = i::table
            .inner_join(accounts::table)
            .filter(i::account_id.eq_any(chunk))
            .filter(accounts::rpps.nullable().eq(i::rpps.nullable()))
            .select(i::account_id)
            .load(conn)?;
        vouched.extend(found);
    }
    Ok(vouched)
}

/// The OpenID Connect identities linked to the account (see `oidc`).
pub fn delete_provider_identities_of(conn: &mut DbConn, account_id: &str) -> QueryResult<usize> {
    use crate::db::schema::oidc_identities;
    diesel::delete(oidc_identities::table.filter(oidc_identities::account_id.eq(account_id)))
        .execute(conn)
}

pub fn delete_memberships_of(conn: &mut DbConn, account_id: &str) -> QueryResult<usize> {
    diesel::delete(memberships::table.filter(memberships::account_id.eq(account_id))).execute(conn)
}

// ---- refresh tokens

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = refresh_tokens)]
pub struct RefreshToken {
    pub id: String,
    pub account_id: String,
    pub family_id: String,
    #[serde(skip)]
    pub token_hash: String,
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

pub fn insert_refresh(conn: &mut DbConn, token: &RefreshToken) -> QueryResult<()> {
    diesel::insert_into(refresh_tokens::table)
        .values(token)
        .execute(conn)
        .map(drop)
}

pub fn refresh_by_hash(conn: &mut DbConn, hash: &str) -> QueryResult<Option<RefreshToken>> {
    refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(hash))
        .select(RefreshToken::as_select())
        .first(conn)
        .optional()
}

/// Marks a token used, only if nobody else did first; returns whether this call won.
pub fn mark_refresh_used(conn: &mut DbConn, id: &str) -> QueryResult<bool> {
    diesel::update(
        refresh_tokens::table
            .find(id)
            .filter(refresh_tokens::used_at.is_null()),
    )
    .set(refresh_tokens::used_at.eq(Some(now())))
    .execute(conn)
    .map(|n| n == 1)
}

pub fn revoke_family(conn: &mut DbConn, family_id: &str) -> QueryResult<usize> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::family_id.eq(family_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(Some(now())))
    .execute(conn)
}

pub fn revoke_all_refresh(conn: &mut DbConn, account_id: &str) -> QueryResult<usize> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::account_id.eq(account_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(Some(now())))
    .execute(conn)
}

pub fn refresh_tokens_of(conn: &mut DbConn, account_id: &str) -> QueryResult<Vec<RefreshToken>> {
    refresh_tokens::table
        .filter(refresh_tokens::account_id.eq(account_id))
        .order(refresh_tokens::created_at.asc())
        .select(RefreshToken::as_select())
        .load(conn)
}

// ---- one-time tokens (e-mail verification, password reset)

pub const VERIFY_EMAIL: &str = "verify_email";
pub const PASSWORD_RESET: &str = "password_reset";
pub const INVITATION: &str = "invitation";

pub fn insert_one_time(
    conn: &mut DbConn,
    account_id: &str,
    purpose: &str,
    hash: &str,
    expires_at: NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(one_time_tokens::table)
        .values((
            one_time_tokens::id.eq(new_id()),
            one_time_tokens::account_id.eq(account_id),
            one_time_tokens::purpose.eq(purpose),
            one_time_tokens::token_hash.eq(hash),
            one_time_tokens::expires_at.eq(expires_at),
            one_time_tokens::created_at.eq(now()),
        ))
        .execute(conn)
        .map(drop)
}

/// Uses a one-time token: returns its account if the token exists for `purpose`, is unused
/// and unexpired, and marks it used in the same statement (so two uses cannot both win).
pub fn consume_one_time(
    conn: &mut DbConn,
    purpose: &str,
    hash: &str,
) -> QueryResult<Option<String>> {
    let at = now();
    let found: Option<(String, String)> = one_time_tokens::table
        .filter(one_time_tokens::token_hash.eq(hash))
        .filter(one_time_tokens::purpose.eq(purpose))
        .filter(one_time_tokens::used_at.is_null())
        .filter(one_time_tokens::expires_at.gt(at))
        .select((one_time_tokens::id, one_time_tokens::account_id))
        .first(conn)
        .optional()?;
    let Some((id, account_id)) = found else {
        return Ok(None);
    };
    let won = diesel::update(
        one_time_tokens::table
            .find(&id)
            .filter(one_time_tokens::used_at.is_null()),
    )
    .set(one_time_tokens::used_at.eq(Some(at)))
    .execute(conn)?;
    Ok((won == 1).then_some(account_id))
}

pub fn count_one_time_since(
    conn: &mut DbConn,
    account_id: &str,
    purpose: &str,
    since: NaiveDateTime,
) -> QueryResult<i64> {
    one_time_tokens::table
        .filter(one_time_tokens::account_id.eq(account_id))
        .filter(one_time_tokens::purpose.eq(purpose))
        .filter(one_time_tokens::created_at.gt(since))
        .count()
        .get_result(conn)
}

pub fn delete_one_time_of(conn: &mut DbConn, account_id: &str) -> QueryResult<usize> {
    diesel::delete(one_time_tokens::table.filter(one_time_tokens::account_id.eq(account_id)))
        .execute(conn)
}

// ---- login failures

pub fn record_login_failure(conn: &mut DbConn, email: &str, ip: &str) -> QueryResult<()> {
    diesel::insert_into(login_failures::table)
        .values((
            login_failures::id.eq(new_id()),
            login_failures::email.eq(email),
            login_failures::ip.eq(ip),
            login_failures::at.eq(now()),
        ))
        .execute(conn)
        .map(drop)
}

/// How many login failures, and the oldest of them.
pub type FailureCount = (i64, Option<NaiveDateTime>);

/// Login failures since `since`, counted three ways.
pub struct LoginFailures {
    /// For this account from this address.
    pub pair: FailureCount,
    /// For this account from every address.
    pub account: FailureCount,
    /// From this address for every account.
    pub address: FailureCount,
}

/// Failures since `since` for this e-mail and address, this e-mail, and this address.
pub fn login_failures_since(
    conn: &mut DbConn,
    email: &str,
    ip: &str,
    since: NaiveDateTime,
) -> QueryResult<LoginFailures> {
    let counted = || {
        login_failures::table
            .filter(login_failures::at.gt(since))
            .select((
                diesel::dsl::count_star(),
                diesel::dsl::min(login_failures::at),
            ))
            .into_boxed()
    };
    Ok(LoginFailures {
        pair: counted()
            .filter(login_failures::email.eq(email))
            .filter(login_failures::ip.eq(ip))
            .first(conn)?,
        account: counted()
            .filter(login_failures::email.eq(email))
            .first(conn)?,
        address: counted().filter(login_failures::ip.eq(ip)).first(conn)?,
    })
}

/// Forgets every failure of this account (its owner proved itself by the mailed link).
pub fn clear_all_login_failures(conn: &mut DbConn, email: &str) -> QueryResult<usize> {
    diesel::delete(login_failures::table.filter(login_failures::email.eq(email))).execute(conn)
}

/// Forgets this account's failures from this address (its owner got in from there; the
/// failures from elsewhere still count).
pub fn clear_login_failures(conn: &mut DbConn, email: &str, ip: &str) -> QueryResult<usize> {
    diesel::delete(
        login_failures::table
            .filter(login_failures::email.eq(email))
            .filter(login_failures::ip.eq(ip)),
    )
    .execute(conn)
}

pub fn prune_login_failures(conn: &mut DbConn, before: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(login_failures::table.filter(login_failures::at.lt(before))).execute(conn)
}

// ---- password-reset requests

pub fn insert_reset_request(conn: &mut DbConn, email: &str) -> QueryResult<()> {
    diesel::insert_into(password_reset_requests::table)
        .values((
            password_reset_requests::id.eq(new_id()),
            password_reset_requests::email.eq(email),
            password_reset_requests::requested_at.eq(now()),
        ))
        .execute(conn)
        .map(drop)
}

pub fn reset_requests_pending(conn: &mut DbConn) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        password_reset_requests::table.select(password_reset_requests::id),
    ))
    .get_result(conn)
}

/// The oldest `limit` requests' addresses, removed from the queue (call it in the
/// transaction that handles them).
pub fn take_reset_requests(conn: &mut DbConn, limit: i64) -> QueryResult<Vec<String>> {
    let query = password_reset_requests::table
        .order(password_reset_requests::requested_at)
        .limit(limit)
        .select((password_reset_requests::id, password_reset_requests::email));
    // Several instances run this job: each takes rows the others have not locked.
    let taken: Vec<(String, String)> = match &mut *conn {
        DbConn::Pg(c) => query.for_update().skip_locked().load(c)?,
        DbConn::Sqlite(c) => query.load(c)?,
    };
    let ids: Vec<&String> = taken.iter().map(|(id, _)| id).collect();
    diesel::delete(password_reset_requests::table.filter(password_reset_requests::id.eq_any(ids)))
        .execute(conn)?;
    Ok(taken.into_iter().map(|(_, email)| email).collect())
}

// ---- audit log

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = audit_log)]
pub struct AuditEntry {
    pub id: String,
    pub actor_id: Option<String>,
    pub action: String,
    pub organisation_id: Option<String>,
    pub target_id: Option<String>,
    pub details: String,
    pub at: NaiveDateTime,
}

/// Records who did what to whom; call it in the transaction of the action itself.
pub fn audit(
    conn: &mut DbConn,
    actor_id: Option<&str>,
    action: &str,
    organisation_id: Option<&str>,
    target_id: Option<&str>,
    details: serde_json::Value,
) -> QueryResult<()> {
    diesel::insert_into(audit_log::table)
        .values((
            audit_log::id.eq(new_id()),
            audit_log::actor_id.eq(actor_id),
            audit_log::action.eq(action),
            audit_log::organisation_id.eq(organisation_id),
            audit_log::target_id.eq(target_id),
            audit_log::details.eq(details.to_string()),
            audit_log::at.eq(now()),
        ))
        .execute(conn)
        .map(drop)
}

pub fn audit_about(conn: &mut DbConn, account_id: &str) -> QueryResult<Vec<AuditEntry>> {
    audit_log::table
        .filter(
            audit_log::actor_id
                .eq(account_id)
                .or(audit_log::target_id.eq(account_id)),
        )
        .order(audit_log::at.asc())
        .select(AuditEntry::as_select())
        .load(conn)
}

pub fn audit_of_organisation(
    conn: &mut DbConn,
    organisation_id: &str,
) -> QueryResult<Vec<AuditEntry>> {
    audit_log::table
        .filter(audit_log::organisation_id.eq(organisation_id))
        .order(audit_log::at.asc())
        .select(AuditEntry::as_select())
        .load(conn)
}

/// One page of an organisation's audit log, newest first, and how many entries it has.
pub fn audit_page(
    conn: &mut DbConn,
    organisation_id: &str,
    limit: i64,
    offset: i64,
) -> QueryResult<(Vec<AuditEntry>, i64)> {
    let total = audit_log::table
        .filter(audit_log::organisation_id.eq(organisation_id))
        .count()
        .get_result(conn)?;
    let entries = audit_log::table
        .filter(audit_log::organisation_id.eq(organisation_id))
        .order((audit_log::at.desc(), audit_log::id.desc()))
        .limit(limit)
        .offset(offset)
        .select(AuditEntry::as_select())
        .load(conn)?;
    Ok((entries, total))
}

/// The names of accounts, by id (an erased account keeps the name it was erased to).
pub fn names_of(
    conn: &mut DbConn,
    ids: &[String],
) -> QueryResult<std::collections::HashMap<String, String>> {
    Ok(accounts::table
        .filter(accounts::id.eq_any(ids))
        .select((accounts::id, accounts::full_name))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect())
}

/// The answers an account gave to lesson activities, over all its enrolments:
/// (enrolment, lesson, activity, answer JSON, last saved).
#[allow(clippy::type_complexity)]
pub fn activity_answers_of(
    conn: &mut DbConn,
    account_id: &str,
) -> QueryResult<Vec<(String, String, String, String, NaiveDateTime)>> {
    use crate::db::schema::{activity_answers, enrolments};
    activity_answers::table
        .inner_join(enrolments::table.on(enrolments::id.eq(activity_answers::enrolment_id)))
        .filter(enrolments::account_id.eq(account_id))
        .select((
            activity_answers::enrolment_id,
            activity_answers::lesson_id,
            activity_answers::activity_id,
            activity_answers::answer,
            activity_answers::updated_at,
        ))
        .order((activity_answers::enrolment_id, activity_answers::lesson_id))
        .load(conn)
}

/// Deletes what an account wrote in lesson activities (at erasure).
pub fn delete_activity_answers_of(conn: &mut DbConn, account_id: &str) -> QueryResult<usize> {
    use crate::db::schema::{activity_answers, enrolments};
    let theirs = enrolments::table
        .filter(enrolments::account_id.eq(account_id))
        .select(enrolments::id);
    diesel::delete(activity_answers::table.filter(activity_answers::enrolment_id.eq_any(theirs)))
        .execute(conn)
}

/// Deletes accounts erased before `before` (their retention period is over).
pub fn purge_erased(conn: &mut DbConn, before: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(accounts::table.filter(accounts::erased_at.lt(before))).execute(conn)
}

// ---- in bulk, for the CSV import (`enrolment::import`), which checks a whole batch before
// writing any of it; rows go in chunks so that no statement exceeds a backend's bind limit.

/// The accounts whose address is among `emails`, by address.
pub fn accounts_by_email(
    conn: &mut DbConn,
    emails: &[String],
) -> QueryResult<std::collections::HashMap<String, Account>> {
    let mut found = std::collections::HashMap::new();
    for chunk in emails.chunks(500) {
        for account in accounts::table
            .filter(accounts::email.eq_any(chunk))
            .select(Account::as_select())
            .load(conn)?
        {
            found.insert(account.email.clone(), account);
        }
    }
    Ok(found)
}

/// Those of `account_ids` already members of the organisation, whatever their role.
pub fn members_among(
    conn: &mut DbConn,
    organisation_id: &str,
    account_ids: &[String],
) -> QueryResult<std::collections::HashSet<String>> {
    let mut found = std::collections::HashSet::new();
    for chunk in account_ids.chunks(500) {
        found.extend(
            memberships::table
                .filter(memberships::organisation_id.eq(organisation_id))
                .filter(memberships::account_id.eq_any(chunk))
                .select(memberships::account_id)
                .load::<String>(conn)?,
        );
    }
    Ok(found)
}

pub fn insert_accounts(conn: &mut DbConn, rows: &[Account]) -> QueryResult<usize> {
    Ok(crate::db::batch_insert!(conn, accounts::table, rows))
}

pub fn insert_memberships(conn: &mut DbConn, rows: &[Membership]) -> QueryResult<usize> {
    Ok(crate::db::batch_insert!(conn, memberships::table, rows))
}

/// A one-time token as stored: only its hash, the token itself goes out by mail.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = one_time_tokens)]
pub struct NewOneTimeToken {
    pub id: String,
    pub account_id: String,
    pub purpose: &'static str,
    pub token_hash: String,
    pub expires_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
}

pub fn insert_one_time_tokens(conn: &mut DbConn, rows: &[NewOneTimeToken]) -> QueryResult<usize> {
    Ok(crate::db::batch_insert!(conn, one_time_tokens::table, rows))
}
