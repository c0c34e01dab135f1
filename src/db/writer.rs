//! Group commit for the hot SQLite write paths (quiz start and submit).
//!
//! SQLite has one writer at a time, and a durable commit is an fsync of the WAL. Each
//! request committing on its own pooled connection paid that fsync alone, and also found
//! its connection's page cache emptied by the other connections' commits. Here one thread
//! owns one connection and runs the writes queued meanwhile in one transaction, each in
//! its own savepoint: one fsync for the group, a page cache that stays warm, and every
//! caller still answered only once its write is durable (or told it failed). On
//! PostgreSQL, which has many writers and its own group commit, a write runs on the
//! caller's connection as before. A second thread checkpoints the WAL (see [`checkpoint`]).
//!
//! Request handlers read first, on a pooled connection and a blocking thread, into a
//! [`Plan`]; that thread hands the plan's write straight to the writer ([`Writer::run`]),
//! which answers the async handler itself: no connection or blocking thread waits for the
//! commit (quiz pairs at 64 learners about 1,500 → 2,300/s), and the async worker wakes
//! once per request.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::r2d2::ManageConnection;
use diesel::Connection;

use tokio::sync::oneshot;

use super::{DbConn, Manager, Pool};
use crate::error::AppError;

/// The most writes one commit carries: enough to amortise the fsync, few enough that the
/// first of them does not wait long for the last.
const MAX_GROUP: usize = 64;

/// What the writer thread runs: the caller's write, inside the group's transaction; it
/// answers with how to tell the caller once the group has committed.
type Job = Box<dyn FnOnce(&mut DbConn) -> Reply + Send>;
type Reply = Box<dyn FnOnce() + Send>;

/// Where writes that can wait for a group go. Cheap to share; the thread stops when the
/// last `Writer` is dropped, after the writes already queued.
pub struct Writer {
    jobs: Option<SyncSender<Job>>,
    /// Dropped with the writer, which stops the checkpointer.
    _checkpoints: Option<mpsc::Sender<()>>,
}

/// How often the WAL is copied back into the database file, off the writers' path.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

impl Writer {
    /// A writer thread with its own connection on SQLite; none on PostgreSQL.
    pub(super) fn start(manager: Manager) -> anyhow::Result<Self> {
        if manager.kind != crate::config::DatabaseKind::Sqlite {
            return Ok(Self {
                jobs: None,
                _checkpoints: None,
            });
        }
        let conn = manager.connect()?;
        let checkpointer = manager.connect()?;
        let (jobs, queue) = mpsc::sync_channel::<Job>(1024);
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || serve(manager, conn, queue))?;
        let (checkpoints, stop) = mpsc::channel();
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || checkpoint(checkpointer, stop))?;
        Ok(Self {
            jobs: Some(jobs),
            _checkpoints: Some(checkpoints),
        })
    }

    /// Runs `write` in a transaction and returns its result once it is durable. `conn` is
    /// the caller's connection: PostgreSQL runs the write there; SQLite hands it to the
    /// writer thread and waits (the caller is on a blocking thread already).
    pub fn write<T, F>(&self, conn: &mut DbConn, write: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut DbConn) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        let Some(jobs) = &self.jobs else {
            return conn.write(write);
        };
        let (answer, answered) = mpsc::sync_channel::<Result<T, AppError>>(1);
        jobs.send(job(write, move |outcome| {
            let _ = answer.send(outcome);
        }))
        .map_err(|_| stopped())?;
        answered.recv().unwrap_or_else(|_| Err(not_committed()))
    }

    /// Runs a request: `prepare` reads on a pooled connection and plans; then its write, if
    /// any, and its answer. On SQLite the write joins the writer's group once the
    /// connection is back in the pool; on PostgreSQL it runs on the same connection, in the
    /// same blocking call (a second checkout would cost a round trip for nothing).
    pub async fn run<T, W, F>(&self, pool: &Pool, prepare: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut DbConn) -> Result<Plan<T, W>, AppError> + Send + 'static,
        T: Send + 'static,
        W: Send + 'static,
    {
        let Some(jobs) = &self.jobs else {
            return super::run(pool, move |conn| match prepare(conn)? {
                Plan::Answer(answer) => Ok(answer),
                Plan::Write { write, then } => then(conn.write(write)?),
            })
            .await;
        };
        // The reads hand their write straight to the writer thread, which tells this task
        // once it is durable: the async worker wakes once per request, not once for the
        // reads and again for the write (the blocking task is not awaited).
        let (tell, told) = oneshot::channel::<Result<Reached<T, W>, AppError>>();
        let turn = pool.turn().await;
        let (pool, jobs) = (pool.clone(), jobs.clone());
        tokio::task::spawn_blocking(move || {
            let _turn = turn;
            // A panic is answered here (500): the task awaits `tell`, not this thread.
            let planned = pool.checkout().and_then(|mut conn| {
                catch_unwind(AssertUnwindSafe(|| prepare(&mut conn))).unwrap_or_else(|_| {
                    Err(AppError::internal(anyhow::anyhow!(
                        "a request's reads panicked"
                    )))
                })
            });
            let reached = match planned {
                Ok(Plan::Write { write, then }) => {
                    // A stopped writer drops the job, and `tell` with it: not committed.
                    let _ = jobs.send(job(write, move |outcome| {
                        let _ = tell.send(outcome.map(|written| Reached::Written(written, then)));
                    }));
                    return;
                }
                Ok(Plan::Answer(answer)) => Ok(Reached::Answer(answer)),
                Err(e) => Err(e),
            };
            let _ = tell.send(reached);
        });
        match told.await.unwrap_or_else(|_| Err(not_committed()))? {
            Reached::Answer(answer) => Ok(answer),
            Reached::Written(written, then) => then(written),
        }
    }
}

/// How far a request got on the blocking side: answered by its reads, or written (durably)
/// with its answer still to make on the async side.
enum Reached<T, W> {
    Answer(T),
    Written(W, Then<W, T>),
}

/// The writer thread's job for `write`: run it in its own savepoint, so that a failed write
/// leaves the rest of the group untouched, and hand its outcome to `answer` once the group
/// has committed.
fn job<T: Send + 'static>(
    write: impl FnOnce(&mut DbConn) -> Result<T, AppError> + Send + 'static,
    answer: impl FnOnce(Result<T, AppError>) + Send + 'static,
) -> Job {
    Box::new(move |c: &mut DbConn| -> Reply {
        let outcome = c.transaction(write);
        Box::new(move || answer(outcome))
    })
}

/// What a request found by reading first: the answer already, or the write it needs (to run
/// in the writer's group) and how to answer from that write's result once it is durable.
pub enum Plan<T, W> {
    Answer(T),
    Write {
        write: PlannedWrite<W>,
        then: Then<W, T>,
    },
}

/// The write of a [`Plan`], run in the writer's group.
pub type PlannedWrite<W> = Box<dyn FnOnce(&mut DbConn) -> Result<W, AppError> + Send>;
/// The answer of a [`Plan`], from its write's result once durable.
pub type Then<W, T> = Box<dyn FnOnce(W) -> Result<T, AppError> + Send>;

fn stopped() -> AppError {
    AppError::unavailable(anyhow::anyhow!("the SQLite writer has stopped"))
}

/// A write dropped without an answer: its group did not commit (the cause is logged there).
fn not_committed() -> AppError {
    AppError::unavailable(anyhow::anyhow!(
        "the group of writes could not be committed"
    ))
}

/// Copies the WAL back into the database file every [`CHECKPOINT_EVERY`]. Left to SQLite,
/// the commit that crosses the WAL's size limit does it, inside the write lock: every few
/// dozen groups, the writer stopped to copy and fsync megabytes. A passive checkpoint
/// waits for no one and makes no writer wait (connections still checkpoint by themselves
/// past a far larger WAL, see `SQLITE_AUTOCHECKPOINT_PAGES`, should this thread fall behind).
fn checkpoint(mut conn: DbConn, stop: Receiver<()>) {
    while let Err(RecvTimeoutError::Timeout) = stop.recv_timeout(CHECKPOINT_EVERY) {
        if let Err(e) = conn.batch_execute("PRAGMA wal_checkpoint(PASSIVE)") {
            tracing::warn!(error = %e, "WAL checkpoint failed");
        }
    }
}

fn serve(manager: Manager, mut conn: DbConn, queue: Receiver<Job>) {
    while let Ok(first) = queue.recv() {
        let mut group = vec![first];
        group.extend(queue.try_iter().take(MAX_GROUP - 1));
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
                // A write panicked inside the transaction: this connection's transaction
                // state cannot be trusted, so it goes (rolling back the group) and a new
                // one takes its place.
                tracing::error!(size, "a write panicked; its group is rolled back");
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

    #[test]
    fn concurrent_writes_commit_in_groups_and_a_failed_one_alone_is_rolled_back() {
        let (_dir, pool, writer) = table_t();

        let threads: Vec<_> = (0..40)
            .map(|i| {
                let (pool, writer) = (pool.clone(), writer.clone());
                std::thread::spawn(move || {
                    let mut conn = pool.get().unwrap();
                    // Every fifth write repeats its first row: the constraint fails it.
                    writer.write(&mut conn, move |c| -> Result<i32, AppError> {
                        c.batch_execute(&format!("INSERT INTO t VALUES ({})", 1000 + i))?;
                        let second = if i % 5 == 0 { 1000 + i } else { 2000 + i };
                        c.batch_execute(&format!("INSERT INTO t VALUES ({second})"))?;
                        Ok(i)
                    })
                })
            })
            .collect();
        let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();

        let failed = results.iter().filter(|r| r.is_err()).count();
        assert_eq!(
            failed, 8,
            "each write that broke the constraint fails, alone"
        );
        for (i, result) in results.iter().enumerate() {
            if let Ok(value) = result {
                assert_eq!(*value, i as i32, "each caller gets its own answer");
            }
        }
        // 32 good writes of 2 rows each; nothing of the failed ones' first rows.
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
                    writer.run(&pool, move |_| Ok(plan)).await
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
        let answered = writer.run(&pool, |_| Ok(Plan::<_, ()>::Answer("lu")));
        assert_eq!(answered.await.unwrap(), "lu");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reads_that_panic_answer_500_and_the_writer_goes_on() {
        let (_dir, pool, writer) = table_t();

        let panicked = writer
            .run(&pool, |_| -> Result<Plan<(), ()>, AppError> {
                panic!("a bug in the reads")
            })
            .await;

        assert_eq!(panicked.unwrap_err().status().as_u16(), 500);
        let plan: Plan<i32, i32> = Plan::Write {
            write: Box::new(|c| {
                c.batch_execute("INSERT INTO t VALUES (1)")?;
                Ok(1)
            }),
            then: Box::new(Ok),
        };
        assert_eq!(writer.run(&pool, move |_| Ok(plan)).await.unwrap(), 1);
    }
}
