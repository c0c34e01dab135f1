//! Periodic background jobs (mail delivery, time-on-task flushing, grading quiz attempts past
//! their deadline, issuing owed certificates): a blocking job run off the async executor at
//! start and then every so often, until the application stops.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

pub struct Periodic {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

type Job = Arc<dyn Fn() -> anyhow::Result<()> + Send + Sync>;

async fn run_once(name: &'static str, job: &Job) {
    let job = job.clone();
    match tokio::task::spawn_blocking(move || job()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::error!(job = name, error = %format!("{e:#}"), "background job failed")
        }
        Err(e) => tracing::error!(job = name, error = %e, "background job panicked"),
    }
}

impl Periodic {
    /// Runs `job` now, then every `every`; on stop, runs it one last time if `on_stop`.
    pub fn spawn(
        name: &'static str,
        every: Duration,
        on_stop: bool,
        job: impl Fn() -> anyhow::Result<()> + Send + Sync + 'static,
    ) -> Self {
        Self::spawn_woken(name, every, on_stop, None, job)
    }

    /// As [`Periodic::spawn`], and also run when `wake` is notified, `gather` later (what
    /// else arrives meanwhile is done in the same run); a wake during a run starts another
    /// right after it.
    pub fn spawn_woken(
        name: &'static str,
        every: Duration,
        on_stop: bool,
        wake: Option<(Arc<Notify>, Duration)>,
        job: impl Fn() -> anyhow::Result<()> + Send + Sync + 'static,
    ) -> Self {
        let job: Job = Arc::new(job);
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            let woken = || async {
                match &wake {
                    Some((notify, gather)) => {
                        notify.notified().await;
                        tokio::time::sleep(*gather).await;
                    }
                    None => std::future::pending().await,
                }
            };
            loop {
                run_once(name, &job).await;
                tokio::select! {
                    _ = stopped.changed() => break,
                    _ = tokio::time::sleep(every) => {}
                    _ = woken() => {}
                }
            }
            if on_stop {
                run_once(name, &job).await;
            }
        });
        Self { stop, task }
    }

    /// Stops the job, waiting for the run in progress (and the last one).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}
