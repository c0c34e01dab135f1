//! Group commit of time on task: a heartbeat that credits time is answered only once that
//! time is written. A credit the page was told of is evidence a training body shows its
//! funder; it must survive a crash the moment after the answer.
//!
//! Beats wait in [`Commits`]; the time-on-task job (`startup`) is woken, gathers what
//! arrives for [`GATHER`], writes everything the tracker holds in one transaction
//! (`service::flush`) and answers every beat that was waiting when it started. Under load
//! the beats arriving during one write make the next group, so the cost per beat falls as
//! the load rises; alone, a beat waits one write. The job is the only writer of the
//! tracker's time, so a beat answered is never one whose write another request still had
//! in hand (and could fail).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{oneshot, Notify};

use crate::error::AppError;

/// How long the job waits for more beats once one arrived: one write per 100 ms at most,
/// whatever the number of learners; a beat's answer is a background request nobody reads
/// sooner.
pub const GATHER: Duration = Duration::from_millis(100);

/// The beats waiting for their time to be written.
#[derive(Default)]
pub struct Commits {
    waiting: Mutex<Vec<oneshot::Sender<bool>>>,
    /// Wakes the time-on-task job; a wake while it writes is kept for its next round.
    pub wake: Arc<Notify>,
}

impl Commits {
    /// Waits until everything credited before the call is written. An outage answers 503:
    /// the page retries the beat (its id makes the retry credit nothing) and the time held
    /// in memory is written when the database is back.
    pub async fn written(&self) -> Result<(), AppError> {
        let (tell, told) = oneshot::channel();
        self.waiting.lock().expect("not poisoned").push(tell);
        self.wake.notify_one();
        match told.await {
            Ok(true) => Ok(()),
            Ok(false) => Err(AppError::unavailable(anyhow::anyhow!(
                "time on task not written"
            ))),
            Err(_) => Err(AppError::unavailable(anyhow::anyhow!(
                "the time-on-task job stopped"
            ))),
        }
    }

    /// The beats a write about to start will answer: taken before the tracker's time is,
    /// so that each of them credited what that write takes (or an earlier one wrote).
    pub(super) fn take(&self) -> Waiting {
        Waiting(std::mem::take(
            &mut *self.waiting.lock().expect("not poisoned"),
        ))
    }
}

/// Beats to answer once a write has ended.
#[must_use]
pub(super) struct Waiting(Vec<oneshot::Sender<bool>>);

impl Waiting {
    pub(super) fn answer(self, written: bool) {
        for tell in self.0 {
            // A beat whose client went away is not waiting any more.
            let _ = tell.send(written);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_waiting_beat_is_answered_by_the_write_that_took_it() {
        let commits = Arc::new(Commits::default());
        let waiting = {
            let commits = commits.clone();
            tokio::spawn(async move { commits.written().await })
        };
        commits.wake.notified().await;
        let taken = commits.take();
        assert!(commits.take().0.is_empty(), "taken once");
        taken.answer(true);
        assert!(waiting.await.unwrap().is_ok());
    }

    #[tokio::test]
    async fn a_failed_write_is_a_503_to_retry() {
        let commits = Arc::new(Commits::default());
        let waiting = {
            let commits = commits.clone();
            tokio::spawn(async move { commits.written().await })
        };
        commits.wake.notified().await;
        commits.take().answer(false);
        let error = waiting.await.unwrap().unwrap_err();
        assert_eq!(
            error.status(),
            actix_web::http::StatusCode::SERVICE_UNAVAILABLE
        );
    }
}
