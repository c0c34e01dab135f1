//! The background task that drains the outbox every `QVT_MAIL_POLL_MS` until shutdown.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::Sender;
use crate::db::Pool;

pub struct Worker {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Worker {
    /// Asks the worker to stop and waits for the batch in flight to be recorded.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

pub fn spawn_worker(pool: Pool, sender: Arc<Sender>, interval: Duration) -> Worker {
    let (stop, mut stopped) = watch::channel(false);
    let task = tokio::spawn(async move {
        loop {
            let (pool, sender) = (pool.clone(), sender.clone());
            let round = tokio::task::spawn_blocking(move || {
                let mut conn = pool.get()?;
                sender.deliver_due(&mut conn)
            })
            .await;
            match round {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::error!(error = %format!("{e:#}"), "outbox round failed"),
                Err(e) => tracing::error!(error = %e, "outbox round panicked"),
            }
            tokio::select! {
                _ = stopped.changed() => break,
                _ = tokio::time::sleep(interval) => {}
            }
        }
    });
    Worker { stop, task }
}
