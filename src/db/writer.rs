//! Group commit for the hot SQLite requests (quiz start and submit).
//!
//! SQLite has one writer at a time, and a durable commit is an fsync of the WAL. Here one
//! thread owns one connection and runs the requests queued meanwhile in one transaction,
//! each in its own savepoint: one fsync for the group, and every caller answered only once
//! its work is durable (or told it failed). A request's reads run there too, in the same
//! savepoint as its write: on a pooled connection they paid a blocking-thread hand-off and
//! found the page cache emptied by every commit in between (pages read again with
//! `pread`), which cost more than the reads themselves; on the writer's connection the
//! cache stays warm, and reads and write see one state. Server CPU per quiz pair at 256
//! learners went from about 0.53–0.66 ms to 0.32–0.34 ms (`bench/compare`, 2 rounds).
//! The answer (the view, its JSON) is still built on the async side, off this thread.
//!
//! On PostgreSQL, which has many writers and its own group commit, a request runs on a
//! pooled connection: its reads without a transaction, then its write, which is atomic by
//! itself (one statement, or a transaction it opens) and guarded by what it writes (a
//! conditional `UPDATE`, a unique index), so that a write decided on reads a concurrent
//! request changed fails and the request is decided again (`AppError::raced`), then under
//! locks ([`Hold`]), where concurrent requests wait rather than fail it once more. Each
//! `BEGIN` and `COMMIT` is a round trip to PostgreSQL: without them a quiz pair makes 4
//! instead of 8, and PostgreSQL's own work for it nearly halves (see `quiz::facts`). On
//! both backends a request reads once; on SQLite its reads and write are serial, in the
//! writer's transaction.

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

use diesel::r2d2::ManageConnection;
use diesel::Connection;
use tokio::sync::{mpsc as queue, oneshot};

use super::{DbConn, Manager, Pool};
use crate::error::AppError;

/// The most requests one commit carries: enough to amortise the fsync, few enough that the
/// first of them does not wait long for the last.
const MAX_GROUP: usize = 64;
/// Requests waiting for the writer, past which callers wait (as tasks) to queue.
const QUEUE: usize = 1024;

/// What the writer thread runs: a request, inside the group's transaction; it answers with
/// how to tell the caller once the group has committed.
type Job = Box<dyn FnOnce(&mut DbConn) -> Reply + Send>;
type Reply = Box<dyn FnOnce() + Send>;

/// Where requests that can wait for a group go. Cheap to share; the thread stops when the
/// last `Writer` is dropped, after the requests already queued.
pub struct Writer {
    jobs: Option<queue::Sender<Job>>,
}

impl Writer {
    /// A writer thread with its own connection on SQLite; none on PostgreSQL.
    pub(super) fn start(manager: Manager) -> anyhow::Result<Self> {
        if manager.kind != crate::config::DatabaseKind::Sqlite {
            return Ok(Self { jobs: None });
        }
        let conn = manager.connect()?;
        let (jobs, queued) = queue::channel::<Job>(QUEUE);
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || serve(manager, conn, queued))?;
        Ok(Self { jobs: Some(jobs) })
    }

    /// Runs a request: `prepare` reads and plans; then its write, if any, and its answer.
    /// On SQLite, reads, plan and write run in the writer's group, in one savepoint (a
    /// failed request leaves the rest of the group untouched); on PostgreSQL on a pooled
    /// connection, as `hold` says. The answer to a write is made once it is durable, on the
    /// async side.
    pub async fn run<T, W, F>(&self, pool: &Pool, hold: Hold, prepare: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut DbConn) -> Result<Plan<T, W>, AppError> + Send + 'static,
        T: Send + 'static,
        W: Send + 'static,
    {
        let Some(jobs) = &self.jobs else {
            return super::run(pool, move |conn| match hold {
                Hold::ByTheWrite => reach(conn, prepare),
                Hold::ByLocks => conn.write(|c| reach(c, prepare)),
            })
            .await?
            .answer();
        };
        let (tell, told) = oneshot::channel();
        jobs.send(job(
            move |c| reach(c, prepare),
            move |outcome| {
                let _ = tell.send(outcome);
            },
        ))
        .await
        .map_err(|_| stopped())?;
        // A group that fails to commit drops its replies, and `tell` with them.
        told.await
            .unwrap_or_else(|_| Err(not_committed()))?
            .answer()
    }
}

/// What holds a request's reads true until its write, on PostgreSQL (on SQLite the writer
/// is serial: both are the same).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// The write: no transaction around reads and write, and the write fails if what it
    /// was decided on has changed (see the module's header). Half the round trips.
    ByTheWrite,
    /// Locks: reads and write in one transaction, the reads locking the rows they read
    /// (`quiz::facts`). For a request decided again after its write failed:
    /// under locks, concurrent requests wait instead of failing it again.
    ByLocks,
}

/// How far a request got in its transaction: answered by its reads, or written with its
/// answer still to make, once the write is durable, on the async side.
enum Reached<T, W> {
    Answer(T),
    Written(W, Then<W, T>),
}

impl<T, W> Reached<T, W> {
    fn answer(self) -> Result<T, AppError> {
        match self {
            Reached::Answer(answer) => Ok(answer),
            Reached::Written(written, then) => then(written),
        }
    }
}

/// A request's reads, plan and write, inside the transaction [`Writer::run`] gives it.
fn reach<T, W>(
    c: &mut DbConn,
    prepare: impl FnOnce(&mut DbConn) -> Result<Plan<T, W>, AppError>,
) -> Result<Reached<T, W>, AppError> {
    match prepare(c)? {
        Plan::Answer(answer) => Ok(Reached::Answer(answer)),
        Plan::Write { write, then } => Ok(Reached::Written(write(c)?, then)),
    }
}

/// The writer thread's job for `work`: run it in its own savepoint, and hand its outcome to
/// `answer` once the group has committed. A panic is answered at once (500, nothing of it
/// is kept) and then unwinds to [`serve`], which rolls back the group: the connection's
/// transaction state cannot be trusted after it.
fn job<T: Send + 'static>(
    work: impl FnOnce(&mut DbConn) -> Result<T, AppError> + Send + 'static,
    answer: impl FnOnce(Result<T, AppError>) + Send + 'static,
) -> Job {
    Box::new(move |c: &mut DbConn| -> Reply {
        match catch_unwind(AssertUnwindSafe(|| c.transaction(work))) {
            Ok(outcome) => Box::new(move || answer(outcome)),
            Err(panic) => {
                answer(Err(AppError::internal(anyhow::anyhow!(
                    "a request panicked in the SQLite writer"
                ))));
                resume_unwind(panic)
            }
        }
    })
}

/// What a request decided from its reads: the answer already, or the write it needs and
/// how to answer from that write's result once it is durable.
pub enum Plan<T, W> {
    Answer(T),
    Write {
        write: PlannedWrite<W>,
        then: Then<W, T>,
    },
}

/// The write of a [`Plan`]: atomic by itself (one statement, or `DbConn::write` around
/// several), since on PostgreSQL no transaction encloses it.
pub type PlannedWrite<W> = Box<dyn FnOnce(&mut DbConn) -> Result<W, AppError> + Send>;
/// The answer of a [`Plan`], from its write's result once durable.
pub type Then<W, T> = Box<dyn FnOnce(W) -> Result<T, AppError> + Send>;

fn stopped() -> AppError {
    AppError::unavailable(anyhow::anyhow!("the SQLite writer has stopped"))
}

/// A request dropped without an answer: its group did not commit (the cause is logged there).
fn not_committed() -> AppError {
    AppError::unavailable(anyhow::anyhow!(
        "the group of writes could not be committed"
    ))
}

fn serve(manager: Manager, mut conn: DbConn, mut queued: queue::Receiver<Job>) {
    while let Some(first) = queued.blocking_recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match queued.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let size = group.len();
        let committed = catch_unwind(AssertUnwindSafe(|| {
            conn.write(|c| -> Result<Vec<Reply>, diesel::result::Error> {
                Ok(group.into_iter().map(|job| job(c)).collect())
            })
        }));
        match committed {
            Ok(Ok(replies)) => replies.into_iter().for_each(|reply| reply()),
            // The replies are dropped unsent: each caller learns its write failed.
            Ok(Err(e)) => tracing::error!(error = %e, size, "a group of writes failed to commit"),
            Err(_) => {
                // A request panicked inside the transaction (its caller was answered 500):
                // this connection's transaction state cannot be trusted, so it goes
                // (rolling back the group) and a new one takes its place.
                tracing::error!(size, "a request panicked; its group is rolled back");
                match manager.connect() {
                    Ok(fresh) => conn = fresh,
                    Err(e) => {
                        tracing::error!(error = %e, "the SQLite writer cannot reconnect");
                        return;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::tests::{count, sqlite_in};
    use diesel::connection::SimpleConnection;

    /// A pool and a writer on a fresh SQLite file holding the table `t (x UNIQUE)`.
    fn table_t() -> (tempfile::TempDir, Pool, std::sync::Arc<Writer>) {
        let dir = tempfile::tempdir().unwrap();
        let settings = sqlite_in(dir.path(), "w.sqlite3");
        let pool = super::super::connect(&settings).unwrap();
        let writer = std::sync::Arc::new(super::super::writer(&settings).unwrap());
        pool.get()
            .unwrap()
            .batch_execute("CREATE TABLE t (x INTEGER NOT NULL UNIQUE)")
            .unwrap();
        (dir, pool, writer)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_requests_commit_in_groups_and_a_failed_one_alone_is_rolled_back() {
        let (_dir, pool, writer) = table_t();

        let tasks: Vec<_> = (0..40)
            .map(|i| {
                let (pool, writer) = (pool.clone(), writer.clone());
                tokio::spawn(async move {
                    writer
                        .run(
                            &pool,
                            Hold::ByTheWrite,
                            move |c| -> Result<Plan<i32, ()>, AppError> {
                                // Every fifth request repeats its first row: the constraint
                                // fails it after a first write and a read.
                                c.batch_execute(&format!("INSERT INTO t VALUES ({})", 1000 + i))?;
                                assert!(count(c) >= 1, "a request reads its own writes");
                                let second = if i % 5 == 0 { 1000 + i } else { 2000 + i };
                                c.batch_execute(&format!("INSERT INTO t VALUES ({second})"))?;
                                Ok(Plan::Answer(i))
                            },
                        )
                        .await
                })
            })
            .collect();
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await.unwrap());
        }

        let failed = results.iter().filter(|r| r.is_err()).count();
        assert_eq!(
            failed, 8,
            "each request that broke the constraint fails, alone"
        );
        for (i, result) in results.iter().enumerate() {
            if let Ok(value) = result {
                assert_eq!(*value, i as i32, "each caller gets its own answer");
            }
        }
        // 32 good requests of 2 rows each; nothing of the failed ones' first rows.
        assert_eq!(count(&mut pool.get().unwrap()), 64);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn planned_writes_answer_their_task_once_durable_and_fail_alone() {
        let (_dir, pool, writer) = table_t();

        let tasks: Vec<_> = (0..20)
            .map(|i| {
                let (pool, writer) = (pool.clone(), writer.clone());
                tokio::spawn(async move {
                    // Every fourth write inserts a row another one also inserts.
                    let x = if i % 4 == 0 { 0 } else { i };
                    let plan: Plan<String, i32> = Plan::Write {
                        write: Box::new(move |c| {
                            c.batch_execute(&format!("INSERT INTO t VALUES ({x})"))?;
                            Ok(x)
                        }),
                        then: Box::new(|x| Ok(format!("row {x}"))),
                    };
                    writer.run(&pool, Hold::ByTheWrite, move |_| Ok(plan)).await
                })
            })
            .collect();
        let mut answers = Vec::new();
        for task in tasks {
            answers.push(task.await.unwrap());
        }

        // Of the five writes of row 0, one commits; each other write gets its own answer.
        assert_eq!(answers.iter().filter(|a| a.is_err()).count(), 4);
        for (i, answer) in answers.iter().enumerate().filter(|(i, _)| i % 4 != 0) {
            assert_eq!(answer.as_deref().unwrap(), format!("row {i}"));
        }
        assert_eq!(count(&mut pool.get().unwrap()), 16);
        let answered = writer.run(&pool, Hold::ByTheWrite, |_| Ok(Plan::<_, ()>::Answer("lu")));
        assert_eq!(answered.await.unwrap(), "lu");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_request_that_panics_is_answered_500_keeps_nothing_and_the_writer_goes_on() {
        let (_dir, pool, writer) = table_t();

        let panicked = writer
            .run(
                &pool,
                Hold::ByTheWrite,
                |c| -> Result<Plan<(), ()>, AppError> {
                    c.batch_execute("INSERT INTO t VALUES (7)")?;
                    panic!("a bug after a write")
                },
            )
            .await;

        assert_eq!(panicked.unwrap_err().status().as_u16(), 500);
        let plan: Plan<i32, i32> = Plan::Write {
            write: Box::new(|c| {
                c.batch_execute("INSERT INTO t VALUES (1)")?;
                Ok(1)
            }),
            then: Box::new(Ok),
        };
        assert_eq!(
            writer
                .run(&pool, Hold::ByTheWrite, move |_| Ok(plan))
                .await
                .unwrap(),
            1
        );
        assert_eq!(count(&mut pool.get().unwrap()), 1, "row 7 was rolled back");
    }
}
