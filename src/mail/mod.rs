//! Outgoing mail. Code that wants a message calls [`enqueue`] inside the transaction of the
//! change that causes it; the worker ([`spawn_worker`]) renders queued messages from
//! `templates/email/<name>/{subject,text,html}.hbs` and hands them to the configured
//! transport, retrying with back-off. Nothing here decides *when* mail is owed.

pub(crate) mod outbox;
mod sender;
mod transport;
mod worker;

pub use outbox::{
    backoff, claim_due, enqueue, enqueue_many, find, mark_failed, mark_sent, now as outbox_now,
    NewMail, OutboxRow, Status,
};
pub use sender::{DeliveryReport, Sender};
pub use worker::spawn_worker;

use crate::db::DbConn;

/// Queues the French test message used by `qvt-campus mail test`.
pub fn queue_test_message(conn: &mut DbConn, to: &str) -> anyhow::Result<String> {
    let mail = NewMail::new(to, "essai", serde_json::json!({}))?;
    Ok(conn.write(|c| enqueue(c, &mail))?)
}
