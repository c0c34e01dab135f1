//! The `mail_outbox` table: queueing, claiming due messages (safely from several app
//! instances at once), and recording each outcome. The retry schedule is a pure function.

use std::time::Duration;

use anyhow::Context;
use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;

use crate::codes::code_list;
use crate::db::schema::mail_outbox;
use crate::db::DbConn;

code_list!(
    /// Where a queued message stands.
    Status, "statut de message" {
    Pending = "pending": "En attente",
    Sending = "sending": "En cours d'envoi",
    Sent = "sent": "Envoyé",
    Failed = "failed": "Échec",
});

/// A message to queue: the recipient is checked here so a bad address never reaches the table.
#[derive(Debug, Clone)]
pub struct NewMail {
    recipient: lettre::Address,
    template: String,
    context: serde_json::Value,
}

impl NewMail {
    pub fn new(
        recipient: &str,
        template: &str,
        context: serde_json::Value,
    ) -> anyhow::Result<Self> {
        let recipient = recipient
            .trim()
            .parse()
            .with_context(|| format!("invalid recipient address {recipient:?}"))?;
        Ok(Self {
            recipient,
            template: template.to_owned(),
            context,
        })
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = mail_outbox)]
pub struct OutboxRow {
    pub id: String,
    pub recipient: String,
    pub template: String,
    pub context: String,
    pub status: Status,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub locked_until: Option<NaiveDateTime>,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub sent_at: Option<NaiveDateTime>,
}

pub fn now() -> NaiveDateTime {
    Utc::now().naive_utc()
}

#[derive(Insertable)]
#[diesel(table_name = mail_outbox)]
struct PendingRow {
    id: String,
    recipient: String,
    template: String,
    context: String,
    status: Status,
    attempts: i32,
    next_attempt_at: NaiveDateTime,
    created_at: NaiveDateTime,
}

impl PendingRow {
    fn of(mail: &NewMail, at: NaiveDateTime) -> Self {
        Self {
            id: uuid::Uuid::new_v4().to_string(),
            recipient: mail.recipient.to_string(),
            template: mail.template.clone(),
            context: mail.context.to_string(),
            status: Status::Pending,
            attempts: 0,
            next_attempt_at: at,
            created_at: at,
        }
    }
}

/// Whether the address can receive mail: one under `.invalid` (RFC 2606, the addresses
/// given to accounts a learning platform created without one) never can.
fn deliverable(mail: &NewMail) -> bool {
    !mail
        .recipient
        .domain()
        .to_ascii_lowercase()
        .ends_with(".invalid")
}

/// Inserts a pending message; call it inside the caller's transaction. A message to an
/// undeliverable address is dropped (its id is still returned, for the caller's log).
pub fn enqueue(conn: &mut DbConn, mail: &NewMail) -> QueryResult<String> {
    let row = PendingRow::of(mail, now());
    if !deliverable(mail) {
        return Ok(row.id);
    }
    diesel::insert_into(mail_outbox::table)
        .values(&row)
        .execute(conn)?;
    Ok(row.id)
}

/// Drops the confirmation links still queued for an address (the demo confirms its made-up
/// addresses itself: mail to them would only bounce).
pub fn drop_queued_to(conn: &mut DbConn, recipient: &str) -> QueryResult<usize> {
    diesel::delete(
        mail_outbox::table
            .filter(mail_outbox::recipient.eq(recipient))
            .filter(mail_outbox::template.eq("verification_email"))
            .filter(mail_outbox::sent_at.is_null()),
    )
    .execute(conn)
}

/// Inserts many pending messages at once (bulk imports); inside the caller's transaction.
pub fn enqueue_many(conn: &mut DbConn, mails: &[NewMail]) -> QueryResult<usize> {
    let at = now();
    let rows: Vec<PendingRow> = mails
        .iter()
        .filter(|m| deliverable(m))
        .map(|m| PendingRow::of(m, at))
        .collect();
    Ok(crate::db::batch_insert!(conn, mail_outbox::table, &rows))
}

pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<OutboxRow> {
    mail_outbox::table
        .find(id)
        .select(OutboxRow::as_select())
        .first(conn)
}

/// Reserves up to `limit` due messages for this instance until `now + lease`: pending ones
/// whose time has come, and ones whose sender vanished (lease expired). On PostgreSQL,
/// `FOR UPDATE SKIP LOCKED` lets concurrent instances claim disjoint batches; on SQLite
/// the IMMEDIATE transaction already admits one writer at a time.
pub fn claim_due(
    conn: &mut DbConn,
    at: NaiveDateTime,
    limit: i64,
    lease: Duration,
) -> QueryResult<Vec<OutboxRow>> {
    let until = at + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::minutes(5));
    conn.write(|conn| {
        let due = mail_outbox::table
            .filter(
                mail_outbox::status
                    .eq(Status::Pending)
                    .and(mail_outbox::next_attempt_at.le(at))
                    .or(mail_outbox::status
                        .eq(Status::Sending)
                        .and(mail_outbox::locked_until.lt(at))),
            )
            .order(mail_outbox::next_attempt_at.asc())
            .limit(limit)
            .select(mail_outbox::id);
        let ids: Vec<String> = match conn {
            DbConn::Pg(pg) => due.for_update().skip_locked().load(pg)?,
            DbConn::Sqlite(sqlite) => due.load(sqlite)?,
        };
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        diesel::update(mail_outbox::table.filter(mail_outbox::id.eq_any(&ids)))
            .set((
                mail_outbox::status.eq(Status::Sending),
                mail_outbox::locked_until.eq(Some(until)),
                mail_outbox::attempts.eq(mail_outbox::attempts + 1),
            ))
            .execute(conn)?;
        mail_outbox::table
            .filter(mail_outbox::id.eq_any(&ids))
            .order(mail_outbox::next_attempt_at.asc())
            .select(OutboxRow::as_select())
            .load(conn)
    })
}

/// Records delivery under `claim`. The context is blanked: it may hold one-time links,
/// which must not outlive their message in the database. False when the claim was lost:
/// its lease ran out and another instance claimed the message again (see [`still_held`]);
/// that one's record stands.
pub fn mark_sent(conn: &mut DbConn, claim: &OutboxRow) -> QueryResult<bool> {
    diesel::update(still_held(&claim.id, claim.attempts))
        .set((
            mail_outbox::context.eq("{}"),
            mail_outbox::status.eq(Status::Sent),
            mail_outbox::sent_at.eq(Some(now())),
            mail_outbox::locked_until.eq(None::<NaiveDateTime>),
            mail_outbox::last_error.eq(None::<String>),
        ))
        .execute(conn)
        .map(|n| n == 1)
}

/// Records a failed attempt under `claim`: back to pending at `retry_at`, or failed for
/// good when `None`. False when the claim was lost (see [`mark_sent`]): a late failure
/// must not make a message another instance has since sent due again.
pub fn mark_failed(
    conn: &mut DbConn,
    claim: &OutboxRow,
    error: &str,
    retry_at: Option<NaiveDateTime>,
) -> QueryResult<bool> {
    let error: String = error.chars().take(2000).collect();
    let target = still_held(&claim.id, claim.attempts);
    match retry_at {
        Some(at) => diesel::update(target)
            .set((
                mail_outbox::status.eq(Status::Pending),
                mail_outbox::next_attempt_at.eq(at),
                mail_outbox::locked_until.eq(None::<NaiveDateTime>),
                mail_outbox::last_error.eq(Some(error)),
            ))
            .execute(conn),
        // Given up: the context may hold a one-time link, which must not linger.
        None => diesel::update(target)
            .set((
                mail_outbox::context.eq("{}"),
                mail_outbox::status.eq(Status::Failed),
                mail_outbox::locked_until.eq(None::<NaiveDateTime>),
                mail_outbox::last_error.eq(Some(error)),
            ))
            .execute(conn),
    }
    .map(|n| n == 1)
}

/// The claimed message `id`, while no later claim has taken it over: each claim counts one
/// more attempt, so `attempts` names the claim.
#[diesel::dsl::auto_type(no_type_alias)]
fn still_held<'a>(id: &'a str, attempts: i32) -> _ {
    let sending: Status = Status::Sending;
    mail_outbox::table
        .find(id)
        .filter(mail_outbox::status.eq(sending))
        .filter(mail_outbox::attempts.eq(attempts))
}

/// Delay before the next try after `attempts` failed ones: `base`, doubling each time,
/// at most six hours.
pub fn backoff(attempts: i32, base: Duration) -> Duration {
    let cap = Duration::from_secs(6 * 3600);
    let exponent = attempts.saturating_sub(1).clamp(0, 20) as u32;
    base.saturating_mul(2u32.saturating_pow(exponent)).min(cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_base_and_is_capped() {
        let base = Duration::from_secs(30);
        assert_eq!(backoff(1, base), Duration::from_secs(30));
        assert_eq!(backoff(2, base), Duration::from_secs(60));
        assert_eq!(backoff(4, base), Duration::from_secs(240));
        assert_eq!(backoff(30, base), Duration::from_secs(6 * 3600));
        assert_eq!(backoff(0, base), base);
    }

    #[test]
    fn bad_recipients_are_refused_before_queueing() {
        assert!(NewMail::new("pas une adresse", "essai", serde_json::json!({})).is_err());
        assert!(NewMail::new(" zoe@chu-lyon.fr ", "essai", serde_json::json!({})).is_ok());
    }
}
