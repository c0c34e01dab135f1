//! The LTI tables: registered platforms and their deployments, logins in flight, LMS
//! users and contexts linked to ours, line items, the grades owed (an outbox), and the
//! addresses given to platforms to register us by themselves.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::{
    lti_contexts, lti_deployments, lti_grades, lti_line_items, lti_logins, lti_platforms,
    lti_registration_invites, lti_users,
};
use crate::db::{native, DbConn};

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = lti_platforms)]
pub struct Platform {
    pub id: String,
    pub organisation_id: String,
    pub name: String,
    pub issuer: String,
    pub client_id: String,
    pub auth_url: String,
    pub token_url: String,
    pub jwks_url: String,
    pub created_at: NaiveDateTime,
}

pub fn insert_platform(
    conn: &mut DbConn,
    platform: &Platform,
    deployments: &[String],
) -> QueryResult<()> {
    diesel::insert_into(lti_platforms::table)
        .values(platform)
        .execute(conn)?;
    for d in deployments {
        diesel::insert_into(lti_deployments::table)
            .values((
                lti_deployments::platform_id.eq(&platform.id),
                lti_deployments::deployment_id.eq(d),
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub fn platform(conn: &mut DbConn, id: &str) -> QueryResult<Option<Platform>> {
    lti_platforms::table
        .find(id)
        .select(Platform::as_select())
        .first(conn)
        .optional()
}

pub fn platforms_of(conn: &mut DbConn, organisation_id: &str) -> QueryResult<Vec<Platform>> {
    lti_platforms::table
        .filter(lti_platforms::organisation_id.eq(organisation_id))
        .order(lti_platforms::created_at.asc())
        .select(Platform::as_select())
        .load(conn)
}

/// The registrations of an issuer (with this client id, when the platform sent one).
pub fn platforms_by_issuer(
    conn: &mut DbConn,
    issuer: &str,
    client_id: Option<&str>,
) -> QueryResult<Vec<Platform>> {
    let mut query = lti_platforms::table
        .filter(lti_platforms::issuer.eq(issuer))
        .select(Platform::as_select())
        .into_boxed();
    if let Some(client_id) = client_id {
        query = query.filter(lti_platforms::client_id.eq(client_id));
    }
    query.limit(2).load(conn)
}

pub fn deployments(conn: &mut DbConn, platform_id: &str) -> QueryResult<Vec<String>> {
    lti_deployments::table
        .filter(lti_deployments::platform_id.eq(platform_id))
        .order(lti_deployments::deployment_id.asc())
        .select(lti_deployments::deployment_id)
        .load(conn)
}

/// Deletes a registration and what hangs on it (logins, user links, contexts, grades
/// owed); the accounts, sessions and their records stay.
pub fn delete_platform(conn: &mut DbConn, id: &str) -> QueryResult<usize> {
    let contexts: Vec<String> = lti_contexts::table
        .filter(lti_contexts::platform_id.eq(id))
        .select(lti_contexts::id)
        .load(conn)?;
    diesel::delete(lti_grades::table.filter(lti_grades::context_id.eq_any(&contexts)))
        .execute(conn)?;
    diesel::delete(lti_line_items::table.filter(lti_line_items::context_id.eq_any(&contexts)))
        .execute(conn)?;
    diesel::delete(lti_contexts::table.filter(lti_contexts::platform_id.eq(id))).execute(conn)?;
    diesel::delete(lti_users::table.filter(lti_users::platform_id.eq(id))).execute(conn)?;
    diesel::delete(lti_logins::table.filter(lti_logins::platform_id.eq(id))).execute(conn)?;
    diesel::delete(lti_deployments::table.filter(lti_deployments::platform_id.eq(id)))
        .execute(conn)?;
    diesel::delete(lti_platforms::table.find(id)).execute(conn)
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = lti_logins)]
pub struct Login {
    pub state: String,
    pub nonce: String,
    pub platform_id: String,
    pub expires_at: NaiveDateTime,
}

pub fn insert_login(conn: &mut DbConn, login: &Login) -> QueryResult<()> {
    diesel::insert_into(lti_logins::table)
        .values(login)
        .execute(conn)
        .map(drop)
}

/// The login of `state`, deleted as it is read: a state (and its nonce) serves once.
pub fn take_login(conn: &mut DbConn, state: &str) -> QueryResult<Option<Login>> {
    native!(conn, |c| diesel::delete(lti_logins::table.find(state))
        .returning(Login::as_returning())
        .get_result(c)
        .optional())
}

pub fn prune_logins(conn: &mut DbConn, before: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(lti_logins::table.filter(lti_logins::expires_at.lt(before))).execute(conn)
}

pub fn account_of(conn: &mut DbConn, platform_id: &str, sub: &str) -> QueryResult<Option<String>> {
    lti_users::table
        .find((platform_id, sub))
        .select(lti_users::account_id)
        .first(conn)
        .optional()
}

pub fn insert_user(
    conn: &mut DbConn,
    platform_id: &str,
    sub: &str,
    account_id: &str,
    at: NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(lti_users::table)
        .values((
            lti_users::platform_id.eq(platform_id),
            lti_users::sub.eq(sub),
            lti_users::account_id.eq(account_id),
            lti_users::created_at.eq(at),
        ))
        .execute(conn)
        .map(drop)
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = lti_contexts, treat_none_as_null = true)]
pub struct Context {
    pub id: String,
    pub platform_id: String,
    pub context_id: String,
    pub course_slug: String,
    pub session_id: String,
    pub title: String,
    pub lineitems_url: Option<String>,
    pub memberships_url: Option<String>,
    pub roster_synced_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

pub fn context(
    conn: &mut DbConn,
    platform_id: &str,
    context_id: &str,
    course_slug: &str,
) -> QueryResult<Option<Context>> {
    lti_contexts::table
        .filter(lti_contexts::platform_id.eq(platform_id))
        .filter(lti_contexts::context_id.eq(context_id))
        .filter(lti_contexts::course_slug.eq(course_slug))
        .select(Context::as_select())
        .first(conn)
        .optional()
}

pub fn context_by_id(conn: &mut DbConn, id: &str) -> QueryResult<Context> {
    lti_contexts::table
        .find(id)
        .select(Context::as_select())
        .first(conn)
}

pub fn insert_context(conn: &mut DbConn, context: &Context) -> QueryResult<()> {
    diesel::insert_into(lti_contexts::table)
        .values(context)
        .execute(conn)
        .map(drop)
}

/// Keeps the services' addresses the platform sent with the latest launch (grade book,
/// roster).
pub fn set_services(
    conn: &mut DbConn,
    id: &str,
    lineitems_url: Option<&str>,
    memberships_url: Option<&str>,
) -> QueryResult<()> {
    diesel::update(lti_contexts::table.find(id))
        .set((
            lti_contexts::lineitems_url.eq(lineitems_url),
            lti_contexts::memberships_url.eq(memberships_url),
        ))
        .execute(conn)
        .map(drop)
}

/// The contexts of a session whose roster the platform offers.
pub fn rosters_of_session(conn: &mut DbConn, session_id: &str) -> QueryResult<Vec<Context>> {
    lti_contexts::table
        .filter(lti_contexts::session_id.eq(session_id))
        .filter(lti_contexts::memberships_url.is_not_null())
        .select(Context::as_select())
        .load(conn)
}

/// Claims the rosters not read since `before` (the periodic sync): each is this
/// instance's for this round (another instance's claim makes the update miss).
pub fn claim_stale_rosters(
    conn: &mut DbConn,
    before: NaiveDateTime,
    at: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<Context>> {
    conn.write(|conn| {
        let stale: Vec<Context> = lti_contexts::table
            .filter(lti_contexts::memberships_url.is_not_null())
            .filter(
                lti_contexts::roster_synced_at
                    .is_null()
                    .or(lti_contexts::roster_synced_at.lt(before)),
            )
            .limit(limit)
            .select(Context::as_select())
            .load(conn)?;
        let mut claimed = Vec::new();
        for context in stale {
            // Claimed only if nobody synced it since it was read.
            let target = lti_contexts::table.filter(lti_contexts::id.eq(&context.id));
            let set = lti_contexts::roster_synced_at.eq(Some(at));
            let won = match context.roster_synced_at {
                Some(seen) => {
                    diesel::update(target.filter(lti_contexts::roster_synced_at.eq(seen)))
                        .set(set)
                        .execute(conn)?
                }
                None => diesel::update(target.filter(lti_contexts::roster_synced_at.is_null()))
                    .set(set)
                    .execute(conn)?,
            };
            if won == 1 {
                claimed.push(context);
            }
        }
        Ok(claimed)
    })
}

/// Records that a roster was read now (a sync asked for by hand).
pub fn roster_synced(conn: &mut DbConn, id: &str, at: NaiveDateTime) -> QueryResult<()> {
    diesel::update(lti_contexts::table.find(id))
        .set(lti_contexts::roster_synced_at.eq(Some(at)))
        .execute(conn)
        .map(drop)
}

/// The LMS contexts a session is placed in where this account came from, with the
/// account's `sub` there: where its grades go.
pub fn grade_books_of(
    conn: &mut DbConn,
    session_id: &str,
    account_id: &str,
) -> QueryResult<Vec<(Context, String)>> {
    lti_contexts::table
        .inner_join(lti_users::table.on(lti_users::platform_id.eq(lti_contexts::platform_id)))
        .filter(lti_contexts::session_id.eq(session_id))
        .filter(lti_users::account_id.eq(account_id))
        .filter(
            lti_contexts::lineitems_url
                .is_not_null()
                .or(lti_contexts::id
                    .eq_any(lti_line_items::table.select(lti_line_items::context_id))),
        )
        .select((Context::as_select(), lti_users::sub))
        .load(conn)
}

/// [`grade_books_of`] an enrolment's session and account.
pub fn grade_books_of_enrolment(
    conn: &mut DbConn,
    enrolment_id: &str,
) -> QueryResult<Vec<(Context, String)>> {
    use crate::db::schema::enrolments;
    let Some((session_id, account_id)) = enrolments::table
        .find(enrolment_id)
        .select((enrolments::session_id, enrolments::account_id))
        .first::<(String, String)>(conn)
        .optional()?
    else {
        return Ok(Vec::new());
    };
    grade_books_of(conn, &session_id, &account_id)
}

/// The best percentage of an enrolment's graded attempts at a quiz.
pub fn best_percent(
    conn: &mut DbConn,
    enrolment_id: &str,
    quiz_id: &str,
) -> QueryResult<Option<f64>> {
    use crate::db::schema::quiz_attempts;
    quiz_attempts::table
        .filter(quiz_attempts::enrolment_id.eq(enrolment_id))
        .filter(quiz_attempts::quiz_id.eq(quiz_id))
        .filter(quiz_attempts::submitted_at.is_not_null())
        .select(diesel::dsl::max(quiz_attempts::percent))
        .first::<Option<f64>>(conn)
}

pub fn line_item(conn: &mut DbConn, context_id: &str, tag: &str) -> QueryResult<Option<String>> {
    lti_line_items::table
        .find((context_id, tag))
        .select(lti_line_items::url)
        .first(conn)
        .optional()
}

/// Remembers the line item a link came with (the platform's word is the latest).
pub fn set_line_item(conn: &mut DbConn, context_id: &str, tag: &str, url: &str) -> QueryResult<()> {
    native!(conn, |c| diesel::insert_into(lti_line_items::table)
        .values((
            lti_line_items::context_id.eq(context_id),
            lti_line_items::tag.eq(tag),
            lti_line_items::url.eq(url),
        ))
        .on_conflict((lti_line_items::context_id, lti_line_items::tag))
        .do_update()
        .set(lti_line_items::url.eq(url))
        .execute(c)
        .map(drop))
}

/// Remembers a line item; of two workers creating the same one, the first stays.
pub fn insert_line_item(
    conn: &mut DbConn,
    context_id: &str,
    tag: &str,
    url: &str,
) -> QueryResult<()> {
    native!(conn, |c| diesel::insert_into(lti_line_items::table)
        .values((
            lti_line_items::context_id.eq(context_id),
            lti_line_items::tag.eq(tag),
            lti_line_items::url.eq(url),
        ))
        .on_conflict_do_nothing()
        .execute(c)
        .map(drop))
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = lti_grades)]
pub struct Grade {
    pub id: String,
    pub context_id: String,
    pub user_sub: String,
    pub tag: String,
    pub label: String,
    pub score_given: f64,
    pub score_maximum: f64,
    pub activity_progress: String,
    pub grading_progress: String,
    pub occurred_at: NaiveDateTime,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub locked_until: Option<NaiveDateTime>,
    pub sent_at: Option<NaiveDateTime>,
    pub last_error: Option<String>,
}

pub fn insert_grade(conn: &mut DbConn, grade: &Grade) -> QueryResult<()> {
    diesel::insert_into(lti_grades::table)
        .values(grade)
        .execute(conn)
        .map(drop)
}

/// Whether any grade is due (a plain read: most runs of the worker find none, and must
/// not take SQLite's write lock to learn it).
pub fn any_due(conn: &mut DbConn, at: NaiveDateTime) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        lti_grades::table
            .filter(lti_grades::sent_at.is_null())
            .filter(lti_grades::next_attempt_at.le(at)),
    ))
    .get_result(conn)
}

/// Reserves up to `limit` due grades until `until` (as the mail outbox does: `SKIP
/// LOCKED` lets instances claim disjoint batches; a sender that died leaves its lease to
/// expire). Oldest first, so a learner's later score is sent after the earlier one.
pub fn claim_due(
    conn: &mut DbConn,
    at: NaiveDateTime,
    until: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<Grade>> {
    conn.write(|conn| {
        let due = lti_grades::table
            .filter(lti_grades::sent_at.is_null())
            .filter(lti_grades::next_attempt_at.le(at))
            .filter(
                lti_grades::locked_until
                    .is_null()
                    .or(lti_grades::locked_until.lt(at)),
            )
            .order(lti_grades::next_attempt_at.asc())
            .limit(limit)
            .select(lti_grades::id);
        let ids: Vec<String> = match conn {
            DbConn::Pg(pg) => due.for_update().skip_locked().load(pg)?,
            DbConn::Sqlite(sqlite) => due.load(sqlite)?,
        };
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        diesel::update(lti_grades::table.filter(lti_grades::id.eq_any(&ids)))
            .set((
                lti_grades::locked_until.eq(Some(until)),
                lti_grades::attempts.eq(lti_grades::attempts + 1),
            ))
            .execute(conn)?;
        lti_grades::table
            .filter(lti_grades::id.eq_any(&ids))
            .order((lti_grades::occurred_at.asc(), lti_grades::id.asc()))
            .select(Grade::as_select())
            .load(conn)
    })
}

/// Records a grade taken by its platform, under the claim that sent it. False when the
/// claim was lost: its lease ran out and another instance claimed the grade again (see
/// [`still_held`]); that one's record stands.
pub fn mark_sent(conn: &mut DbConn, claim: &Grade, at: NaiveDateTime) -> QueryResult<bool> {
    diesel::update(still_held(&claim.id, claim.attempts))
        .set((
            lti_grades::sent_at.eq(Some(at)),
            lti_grades::locked_until.eq(None::<NaiveDateTime>),
            lti_grades::last_error.eq(None::<String>),
        ))
        .execute(conn)
        .map(|n| n == 1)
}

/// Records a failed send under its claim, to be tried again at `retry_at`; false when the
/// claim was lost (see [`mark_sent`]).
pub fn mark_failed(
    conn: &mut DbConn,
    claim: &Grade,
    error: &str,
    retry_at: NaiveDateTime,
) -> QueryResult<bool> {
    let error: String = error.chars().take(2000).collect();
    diesel::update(still_held(&claim.id, claim.attempts))
        .set((
            lti_grades::next_attempt_at.eq(retry_at),
            lti_grades::locked_until.eq(None::<NaiveDateTime>),
            lti_grades::last_error.eq(Some(error)),
        ))
        .execute(conn)
        .map(|n| n == 1)
}

/// The claimed grade `id`, unsent, while no later claim has taken it over: each claim
/// counts one more attempt, so `attempts` names the claim.
#[diesel::dsl::auto_type(no_type_alias)]
fn still_held<'a>(id: &'a str, attempts: i32) -> _ {
    lti_grades::table
        .find(id)
        .filter(lti_grades::sent_at.is_null())
        .filter(lti_grades::attempts.eq(attempts))
}

/// Grades not yet taken by their platform, with the last error (for the admin page).
pub fn pending_grades(conn: &mut DbConn, platform_id: &str) -> QueryResult<Vec<Grade>> {
    lti_grades::table
        .inner_join(lti_contexts::table)
        .filter(lti_contexts::platform_id.eq(platform_id))
        .filter(lti_grades::sent_at.is_null())
        .order(lti_grades::occurred_at.asc())
        .limit(100)
        .select(Grade::as_select())
        .load(conn)
}

pub fn insert_invite(
    conn: &mut DbConn,
    token_hash: &str,
    organisation_id: &str,
    created_by: &str,
    expires_at: NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(lti_registration_invites::table)
        .values((
            lti_registration_invites::token_hash.eq(token_hash),
            lti_registration_invites::organisation_id.eq(organisation_id),
            lti_registration_invites::created_by.eq(created_by),
            lti_registration_invites::expires_at.eq(expires_at),
        ))
        .execute(conn)
        .map(drop)
}

/// The organisation and inviting admin of a registration address still good at `at`.
pub fn invite(
    conn: &mut DbConn,
    token_hash: &str,
    at: NaiveDateTime,
) -> QueryResult<Option<(String, String)>> {
    lti_registration_invites::table
        .find(token_hash)
        .filter(lti_registration_invites::expires_at.gt(at))
        .select((
            lti_registration_invites::organisation_id,
            lti_registration_invites::created_by,
        ))
        .first(conn)
        .optional()
}

/// Uses a registration address up; false if another registration used it first.
pub fn consume_invite(conn: &mut DbConn, token_hash: &str) -> QueryResult<bool> {
    diesel::delete(lti_registration_invites::table.find(token_hash))
        .execute(conn)
        .map(|n| n == 1)
}
