//! The background task that drains the outbox every `QVT_MAIL_POLL_MS` until shutdown.

use std::sync::Arc;
use std::time::Duration;

use super::Sender;
use crate::background::Periodic;
use crate::db::Pool;

pub fn spawn_worker(pool: Pool, sender: Arc<Sender>, interval: Duration) -> Periodic {
    Periodic::spawn("mail outbox", interval, false, move || {
        let mut conn = pool.get()?;
        sender.deliver_due(&mut conn).map(drop)
    })
}
