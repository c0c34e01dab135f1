//! Storage: one connection type over SQLite and PostgreSQL, its pool, and the helpers that
//! keep the two backends behaving alike (pragmas, IMMEDIATE write transactions, running
//! blocking diesel calls off the actix executor).

mod circuit;
mod migrations;
pub mod schema;
mod writer;

use std::path::PathBuf;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use anyhow::Context;
use diesel::connection::{
    AnsiTransactionManager, Instrumentation, InstrumentationEvent, SimpleConnection,
    TransactionManager,
};
use diesel::pg::PgConnection;
use diesel::r2d2::{self, ManageConnection, R2D2Connection};
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, QueryResult};

use circuit::Circuit;
pub use migrations::{has_pending_migrations, migrate};
pub use writer::{Hold, Plan, Writer};

use crate::config::{DatabaseKind, DatabaseSettings, Secret, SqliteSynchronous};
use crate::error::AppError;

/// How long a request (or a job) waits for a pooled connection while the database is up.
const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(10);
/// r2d2's own timeout, which also caps its back-off between attempts to reconnect: a
/// restarted database is back in the pool within about this long.
const RECONNECT_WITHIN: Duration = Duration::from_secs(2);
/// A request waiting for a connection looks at the circuit this often.
const CHECKOUT_SLICE: Duration = Duration::from_millis(250);
/// How long a write waits for its database's in-process turn (see [`DbConn::write`]).
const WRITER_WAIT: Duration = Duration::from_secs(10);
/// The WAL size (in 4 KiB pages) past which a committing connection copies it back into the
/// database file: 1 MiB, a quarter of SQLite's default. The WAL starts over only when a
/// write begins with every frame copied back, and under a steady stream of writes only the
/// writer itself finds that moment (its checkpoint, then its next transaction): a thread
/// checkpointing every 250 ms beside it let the WAL grow to the 64 MiB limit this was, and
/// the writer then stopped 20–45 ms about once a second to finish the copy (quiz offered at
/// 2,000 pairs/s: p99 86–127 ms, against 10–16 ms with small, frequent checkpoints).
const SQLITE_AUTOCHECKPOINT_PAGES: u32 = 256;

/// How much of an SQLite file its connections read through a memory map rather than
/// `pread` into each one's page cache: the pages are then shared by every connection, and
/// a lookup in a large table (an export's accounts, 1,000,000 of them) does not copy them.
/// The whole file, whatever its size: at 1 GiB, a grown bench database (1,100,000
/// accounts, 2,100,000 enrolments, the quiz's attempts) outgrew the map and the export's
/// server CPU rose by a third, in `pread` and page-cache copies. A map is address space,
/// not memory (64 GiB, in a 128 TiB space); `.cargo/config.toml` lifts SQLite's 2 GiB ceiling.
const SQLITE_MMAP_BYTES: u64 = 1 << 36;

/// A connection to whichever database `DATABASE_URL` names.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Sqlite(SqliteConnection),
    Pg(PgConnection),
}

pub type PooledConn = r2d2::PooledConnection<Manager>;

/// Runs a diesel query on the connection's own backend: `native!(conn, |c| query.first(c))`.
/// Through [`DbConn`] (diesel's `MultiConnection`), every execution renders the query's SQL
/// again, twice, even when its prepared statement is cached: about a tenth of the server's
/// samples on the quiz path (`bench/`). The query is compiled once per backend instead.
macro_rules! native {
    ($conn:expr, |$c:ident| $query:expr) => {
        match &mut *$conn {
            $crate::db::DbConn::Sqlite($c) => $query,
            $crate::db::DbConn::Pg($c) => $query,
        }
    };
}
pub(crate) use native;

/// Runs a query that locks the rows it reads on PostgreSQL (`SELECT … FOR UPDATE`) and
/// reads them plainly on SQLite, whose write transactions are serial already:
/// `locked!(conn, query, |q, c| q.first(c))`. The query is written once and compiled per
/// backend, as with [`native!`].
///
/// Which queries go through `native!` (and so `locked!`): those on request paths (quiz,
/// enrolment, lessons and time, completion, certificate verification, accounts and
/// memberships); the rest (admin pages, reports, CLI) use [`DbConn`] directly.
macro_rules! locked {
    ($conn:expr, $query:expr, |$q:ident, $c:ident| $run:expr) => {
        match &mut *$conn {
            $crate::db::DbConn::Pg($c) => {
                let $q = $query.for_update();
                $run
            }
            $crate::db::DbConn::Sqlite($c) => {
                let $q = $query;
                $run
            }
        }
    };
}
pub(crate) use locked;

/// `UPDATE table SET set WHERE filter`, its prepared statement kept by the connection like
/// a query's. diesel prepares every `UPDATE` again (a changeset may skip `None` fields, so
/// it cannot know the SQL is the same), which was two fifths of a quiz submit's grading
/// write. Only for a changeset that sets the same columns whatever the values.
pub fn cached_update<T, V, W>(
    table: T,
    set: V,
    filter: W,
) -> CachedUpdate<T::FromClause, V::Changeset, W>
where
    T: diesel::Table,
    V: diesel::AsChangeset<Target = T>,
{
    CachedUpdate {
        table: table.from_clause(),
        set: set.as_changeset(),
        filter,
    }
}

/// See [`cached_update`].
#[derive(Debug, Clone, Copy)]
pub struct CachedUpdate<T, V, W> {
    table: T,
    set: V,
    filter: W,
}

impl<T, V, W, DB> diesel::query_builder::QueryFragment<DB> for CachedUpdate<T, V, W>
where
    DB: diesel::backend::Backend,
    T: diesel::query_builder::QueryFragment<DB>,
    V: diesel::query_builder::QueryFragment<DB>,
    W: diesel::query_builder::QueryFragment<DB>,
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
    ) -> QueryResult<()> {
        out.push_sql("UPDATE ");
        self.table.walk_ast(out.reborrow())?;
        out.push_sql(" SET ");
        self.set.walk_ast(out.reborrow())?;
        out.push_sql(" WHERE ");
        self.filter.walk_ast(out.reborrow())
    }
}

/// Cached by its SQL (diesel's update nodes have no static query id).
impl<T, V, W> diesel::query_builder::QueryId for CachedUpdate<T, V, W> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<T, V, W, C> diesel::RunQueryDsl<C> for CachedUpdate<T, V, W> {}

/// Hand-written PostgreSQL SQL whose prepared statement the connection keeps, like a
/// query's: `pieces` with a text parameter between each two. diesel's `sql_query` is never
/// cached, so PostgreSQL parses and plans it on every run: the exam path's one-statement
/// reads (`quiz::facts`) made that way, with `ON CONFLICT` on the insert besides, gave 810
/// pairs/s at 16 learners where the statements they replaced gave 1,090 (bench/README).
#[derive(Debug, Clone, Copy)]
pub struct CachedSql<'a, const N: usize> {
    pub pieces: &'static [&'static str],
    pub texts: [&'a str; N],
}

impl<const N: usize> diesel::query_builder::QueryFragment<diesel::pg::Pg> for CachedSql<'_, N> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        debug_assert_eq!(self.pieces.len(), N + 1);
        for (i, piece) in self.pieces.iter().enumerate() {
            out.push_sql(piece);
            if let Some(text) = self.texts.get(i) {
                out.push_bind_param::<diesel::sql_types::Text, _>(text)?;
            }
        }
        Ok(())
    }
}

/// Cached by its SQL.
impl<const N: usize> diesel::query_builder::QueryId for CachedSql<'_, N> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<const N: usize> diesel::query_builder::Query for CachedSql<'_, N> {
    type SqlType = diesel::sql_types::Untyped;
}

impl<const N: usize, C> diesel::RunQueryDsl<C> for CachedSql<'_, N> {}

/// The connection pool, and on SQLite one turn per connection for [`run`]: a request waits
/// for its turn as a task, not as a blocking thread parked on the pool (hundreds of them,
/// under a peak, each woken and put back to sleep in turn). Not on PostgreSQL, where a
/// connection mostly waits for the server: there, a thread already parked on the pool takes
/// a returned connection sooner (measured: a third fewer verifications per second).
///
/// Connections are not tested on checkout. On PostgreSQL that test is a round trip on every
/// request (a fifth of the verifications per second), and not needed: a connection the
/// server closed (restart, failover) fails its next query, which marks it broken (libpq's
/// status), and the pool drops it on return: one failed request (503) per dead connection,
/// as the health tests check. An SQLite connection is a file handle; nothing closes it.
#[derive(Clone)]
pub struct Pool {
    connections: r2d2::Pool<Manager>,
    turns: std::sync::Arc<tokio::sync::Semaphore>,
    /// Open while the manager's connection attempts fail (see [`circuit`]).
    circuit: Arc<Circuit>,
}

impl Pool {
    /// Waits, as a task, for a turn to use a connection (see [`Pool`]); hold it until the
    /// connection is back.
    async fn turn(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        // Closed never: a failed acquire cannot happen.
        self.turns.clone().acquire_owned().await.ok()
    }

    /// A pooled connection for a job or a command, waiting up to 10 s (shadows r2d2's `get`,
    /// whose timeout is the short reconnection back-off).
    pub fn get(&self) -> Result<PooledConn, r2d2::PoolError> {
        self.connections.get_timeout(CHECKOUT_TIMEOUT)
    }

    /// A pooled connection for a request, on a blocking thread; none within 10 s is a 503.
    fn checkout(&self) -> Result<PooledConn, AppError> {
        self.checkout_within(CHECKOUT_TIMEOUT)
    }

    /// Waits up to `timeout` for a connection, unless the database is found unreachable: then
    /// an idle connection (which may still work) or a 503 at once.
    fn checkout_within(&self, timeout: Duration) -> Result<PooledConn, AppError> {
        let started = Instant::now();
        loop {
            if self.circuit.is_open() {
                return self.connections.try_get().ok_or_else(|| {
                    AppError::unavailable(anyhow::anyhow!(
                        "the database refuses connections (circuit open)"
                    ))
                });
            }
            let left = timeout.saturating_sub(started.elapsed());
            match self.connections.get_timeout(left.min(CHECKOUT_SLICE)) {
                Ok(conn) => return Ok(conn),
                Err(e) if started.elapsed() >= timeout => {
                    return Err(AppError::unavailable(anyhow::Error::new(e)))
                }
                Err(_) => {}
            }
        }
    }
}

impl std::ops::Deref for Pool {
    type Target = r2d2::Pool<Manager>;

    fn deref(&self) -> &Self::Target {
        &self.connections
    }
}

/// Opens connections for one backend, chosen once from the URL. (diesel's generic
/// `ConnectionManager<DbConn>` would try each backend in turn, so a PostgreSQL outage
/// would silently create an SQLite file named after the URL.)
#[derive(Debug)]
pub struct Manager {
    kind: DatabaseKind,
    url: Secret,
    synchronous: SqliteSynchronous,
    busy_timeout: Duration,
    /// On SQLite, the database's writer turn, handed to each connection opened.
    turn: Option<WriterTurn>,
    /// Told of every connection attempt's outcome.
    circuit: Arc<Circuit>,
}

/// The in-process turn for one SQLite database's writes (see [`DbConn::write`]): one per
/// database file, shared by every connection to it (the pool's and the group-commit
/// writer's, each opened by its own [`Manager`]). Writes to two different files do not wait
/// for each other, as they did on one process-wide lock (the API tests run many apps, each
/// on its own file, in one process).
type WriterTurn = Arc<parking_lot::Mutex<()>>;

/// The turn of the SQLite database at `url`: the one its other managers hold, or a new one.
/// A database's turn lives as long as a manager or a connection holds it.
fn writer_turn(url: &str) -> WriterTurn {
    static TURNS: parking_lot::Mutex<Vec<(PathBuf, Weak<parking_lot::Mutex<()>>)>> =
        parking_lot::Mutex::new(Vec::new());
    // The file exists by now (`connect` opened it), so two spellings of it are one key.
    let file = std::fs::canonicalize(url).unwrap_or_else(|_| PathBuf::from(url));
    let mut turns = TURNS.lock();
    turns.retain(|(_, turn)| turn.strong_count() > 0);
    if let Some(turn) = turns
        .iter()
        .filter(|(key, _)| *key == file)
        .find_map(|(_, turn)| turn.upgrade())
    {
        return turn;
    }
    let turn = WriterTurn::default();
    turns.push((file, Arc::downgrade(&turn)));
    turn
}

/// Carries its database's [`WriterTurn`] on an SQLite connection. A diesel connection keeps
/// nothing of ours but its instrumentation, so the turn rides there, found again by
/// downcasting (see [`DbConn::writer_turn`]). Its cost: a call that does nothing per query
/// event. Events go on to diesel's default instrumentation, if one is set.
struct TurnCarrier {
    turn: WriterTurn,
    events: Option<Box<dyn Instrumentation>>,
}

impl Instrumentation for TurnCarrier {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if let Some(events) = &mut self.events {
            events.on_connection_event(event);
        }
    }
}

impl ManageConnection for Manager {
    type Connection = DbConn;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConn, r2d2::Error> {
        let opened = self.open();
        match &opened {
            Ok(_) => self.circuit.succeeded(),
            Err(_) => self.circuit.failed(),
        }
        opened
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), r2d2::Error> {
        conn.ping().map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConn) -> bool {
        conn.is_broken()
    }
}

impl Manager {
    fn open(&self) -> Result<DbConn, r2d2::Error> {
        match self.kind {
            DatabaseKind::Postgres => establish_pg(self.url.expose())
                .map(DbConn::Pg)
                .map_err(r2d2::Error::ConnectionError),
            DatabaseKind::Sqlite => {
                let mut conn = SqliteConnection::establish(self.url.expose())
                    .map_err(r2d2::Error::ConnectionError)?;
                // Per connection: these pragmas do not persist in the file (WAL does: see `connect`).
                conn.batch_execute(&format!(
                    "PRAGMA busy_timeout = {}; PRAGMA synchronous = {}; PRAGMA foreign_keys = ON; \
                     PRAGMA wal_autocheckpoint = {SQLITE_AUTOCHECKPOINT_PAGES}; \
                     PRAGMA mmap_size = {SQLITE_MMAP_BYTES};",
                    self.busy_timeout.as_millis(),
                    self.synchronous.as_sql()
                ))
                .map_err(r2d2::Error::QueryError)?;
                if let Some(turn) = &self.turn {
                    conn.set_instrumentation(TurnCarrier {
                        turn: turn.clone(),
                        events: diesel::connection::get_default_instrumentation(),
                    });
                }
                Ok(DbConn::Sqlite(conn))
            }
        }
    }
}

/// A PostgreSQL URL that gives up connecting after 2 s unless it says otherwise: during an
/// outage, requests then fail fast (503) instead of hanging on an unanswered connect.
fn with_connect_timeout(url: &str) -> String {
    if url.contains("connect_timeout=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&connect_timeout=2")
    } else {
        format!("{url}?connect_timeout=2")
    }
}

/// A PostgreSQL connection, the pool's or a dedicated one (`LISTEN`), with the connect
/// timeout.
pub(crate) fn establish_pg(url: &str) -> diesel::ConnectionResult<PgConnection> {
    PgConnection::establish(&with_connect_timeout(url))
}

/// Builds the pool and checks that one connection can be opened.
pub fn connect(settings: &DatabaseSettings) -> anyhow::Result<Pool> {
    let kind = settings.kind();
    let url = settings.url.expose().to_owned();
    if kind == DatabaseKind::Sqlite {
        if let Some(parent) = std::path::Path::new(&url)
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
        {
            std::fs::create_dir_all(parent).with_context(|| {
                format!("cannot create the database folder {}", parent.display())
            })?;
        }
    }
    if kind == DatabaseKind::Sqlite {
        // WAL is a property of the file; switching it from several new pooled connections
        // at once races for the lock, so it is done once here.
        let mut conn =
            SqliteConnection::establish(&url).with_context(|| format!("cannot open {url}"))?;
        conn.batch_execute(&format!(
            "PRAGMA busy_timeout = {}; PRAGMA journal_mode = WAL;",
            settings.sqlite_busy_timeout.as_millis()
        ))?;
    }
    let manager = manager(settings);
    let circuit = manager.circuit.clone();
    let connections = r2d2::Pool::builder()
        .max_size(settings.pool_size)
        .connection_timeout(RECONNECT_WITHIN)
        .test_on_check_out(false)
        // Unchecked, then checked below with the checkout timeout: r2d2's own check would
        // allow the whole pool only the short reconnection timeout to open.
        .build_unchecked(manager);
    drop(
        connections
            .get_timeout(CHECKOUT_TIMEOUT)
            .with_context(|| format!("cannot open the {} database", kind.name()))?,
    );
    Ok(Pool {
        connections,
        turns: std::sync::Arc::new(tokio::sync::Semaphore::new(match kind {
            DatabaseKind::Sqlite => settings.pool_size as usize,
            DatabaseKind::Postgres => tokio::sync::Semaphore::MAX_PERMITS,
        })),
        circuit,
    })
}

fn manager(settings: &DatabaseSettings) -> Manager {
    let kind = settings.kind();
    Manager {
        kind,
        url: Secret::new(settings.url.expose()),
        synchronous: settings.sqlite_synchronous,
        busy_timeout: settings.sqlite_busy_timeout,
        turn: (kind == DatabaseKind::Sqlite).then(|| writer_turn(settings.url.expose())),
        circuit: Arc::default(),
    }
}

/// The group-commit writer for the database (see [`Writer`]); call after [`connect`],
/// which prepares an SQLite file.
pub fn writer(settings: &DatabaseSettings) -> anyhow::Result<Writer> {
    Writer::start(manager(settings)).context("cannot start the database writer")
}

impl DbConn {
    pub fn kind(&self) -> DatabaseKind {
        match self {
            DbConn::Sqlite(_) => DatabaseKind::Sqlite,
            DbConn::Pg(_) => DatabaseKind::Postgres,
        }
    }

    /// The in-process turn for writes to this connection's database: SQLite's, when the
    /// connection was opened by a [`Manager`].
    fn writer_turn(&mut self) -> Option<WriterTurn> {
        match self {
            DbConn::Sqlite(inner) => inner
                .instrumentation()
                .downcast_ref::<TurnCarrier>()
                .map(|carrier| carrier.turn.clone()),
            DbConn::Pg(_) => None,
        }
    }

    /// Runs `f` in a write transaction. On SQLite it is `BEGIN IMMEDIATE`, so the write
    /// lock is taken up front and concurrent writers wait on `busy_timeout` instead of
    /// failing with SQLITE_BUSY half-way through.
    pub fn write<T, E>(&mut self, f: impl FnOnce(&mut DbConn) -> Result<T, E>) -> Result<T, E>
    where
        E: From<diesel::result::Error>,
    {
        // Nested writes (on either backend) become savepoints of the outer transaction.
        let outermost_sqlite = match self {
            DbConn::Sqlite(inner) => !in_transaction(inner)?,
            DbConn::Pg(_) => false,
        };
        if !outermost_sqlite {
            return self.transaction(f);
        }
        // SQLite has one writer; waiting for it here, on a lock the previous writer hands
        // over at once, beats SQLite's busy handler, which sleeps 1 ms, 2 ms, 5 ms… between
        // tries: under load that sleeping was the tail latency. The wait is bounded like the
        // busy timeout, so a writer stuck elsewhere still ends in an error, not a hang. (A
        // connection not opened by a `Manager` has no turn: its writes wait on SQLite's.)
        let turn = self.writer_turn();
        let _writer = match turn.as_ref().map(|turn| turn.try_lock_for(WRITER_WAIT)) {
            Some(None) => {
                return Err(E::from(diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::Unknown,
                    Box::new("database is locked (another write took too long)".to_owned()),
                )))
            }
            held => held.flatten(),
        };
        let DbConn::Sqlite(inner) = self else {
            unreachable!("checked above")
        };
        AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE")?;
        let result = f(self);
        let DbConn::Sqlite(inner) = self else {
            unreachable!("the variant cannot change")
        };
        match result {
            Ok(value) => {
                AnsiTransactionManager::commit_transaction(inner)?;
                Ok(value)
            }
            Err(e) => {
                AnsiTransactionManager::rollback_transaction(inner)?;
                Err(e)
            }
        }
    }
}

/// Whether a transaction (or a savepoint in one) is open on `c`, by diesel's own count.
pub fn in_transaction<C>(c: &mut C) -> QueryResult<bool>
where
    C: Connection<TransactionManager = AnsiTransactionManager>,
{
    let status =
        <AnsiTransactionManager as TransactionManager<C>>::transaction_manager_status_mut(c);
    Ok(status.transaction_depth()?.is_some())
}

/// Inserts many rows of one table in chunks (one multi-row INSERT per chunk), on either
/// backend: `batch_insert!(conn, table, &rows)` returns the number of rows inserted.
macro_rules! batch_insert {
    ($conn:expr, $table:expr, $rows:expr) => {{
        let mut inserted = 0usize;
        for chunk in $rows.chunks(500) {
            inserted += match &mut *$conn {
                $crate::db::DbConn::Pg(c) => {
                    diesel::insert_into($table).values(chunk).execute(c)?
                }
                $crate::db::DbConn::Sqlite(c) => {
                    diesel::insert_into($table).values(chunk).execute(c)?
                }
            };
        }
        inserted
    }};
}
pub(crate) use batch_insert;

/// Runs blocking database work on actix's blocking thread pool with a pooled connection.
pub async fn run<T, F>(pool: &Pool, f: F) -> Result<T, AppError>
where
    F: FnOnce(&mut DbConn) -> Result<T, AppError> + Send + 'static,
    T: Send + 'static,
{
    let turn = pool.turn().await;
    let pool = pool.clone();
    actix_web::web::block(move || {
        let _turn = turn;
        f(&mut *pool.checkout()?)
    })
    .await
    .map_err(|e| AppError::internal(anyhow::anyhow!("blocking task failed: {e}")))?
}

/// Like [`run`], waiting at most `timeout` for a connection (probes must answer quickly).
pub async fn run_within<T, F>(pool: &Pool, timeout: Duration, f: F) -> Result<T, AppError>
where
    F: FnOnce(&mut DbConn) -> Result<T, AppError> + Send + 'static,
    T: Send + 'static,
{
    let pool = pool.clone();
    actix_web::web::block(move || f(&mut *pool.checkout_within(timeout)?))
        .await
        .map_err(|e| AppError::internal(anyhow::anyhow!("blocking task failed: {e}")))?
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;
    use diesel::sql_types::BigInt;
    use diesel::RunQueryDsl;

    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }

    /// The rows of the test table `t`.
    pub(super) fn count(conn: &mut DbConn) -> i64 {
        diesel::sql_query("SELECT COUNT(*) AS n FROM t")
            .get_result::<Count>(conn)
            .unwrap()
            .n
    }

    /// Default database settings, on an SQLite file named `file` in `dir`.
    pub(super) fn sqlite_in(dir: &std::path::Path, file: &str) -> DatabaseSettings {
        let mut settings = Settings::from_lookup(|_| None).unwrap().database;
        settings.url = Secret::new(dir.join(file).to_string_lossy());
        settings
    }

    #[derive(diesel::QueryableByName)]
    struct Pragmas {
        #[diesel(sql_type = diesel::sql_types::Text)]
        journal_mode: String,
        #[diesel(sql_type = BigInt)]
        foreign_keys: i64,
        #[diesel(sql_type = BigInt)]
        synchronous: i64,
        #[diesel(sql_type = BigInt)]
        qpsg: i64,
    }

    #[derive(diesel::QueryableByName)]
    struct Map {
        #[diesel(sql_type = BigInt)]
        mmap_size: i64,
    }

    #[test]
    fn sqlite_connections_get_wal_foreign_keys_the_configured_synchronous_and_stable_plans() {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = sqlite_in(dir.path(), "p.sqlite3");
        settings.sqlite_synchronous = SqliteSynchronous::Normal;
        let pool = connect(&settings).unwrap();
        let pragmas: Pragmas = diesel::sql_query(
            "SELECT (SELECT journal_mode FROM pragma_journal_mode) AS journal_mode, \
                    (SELECT foreign_keys FROM pragma_foreign_keys) AS foreign_keys, \
                    (SELECT synchronous FROM pragma_synchronous) AS synchronous, \
                    sqlite_compileoption_used('ENABLE_QPSG') AS qpsg",
        )
        .get_result(&mut pool.get().unwrap())
        .unwrap();
        assert_eq!(pragmas.journal_mode, "wal");
        assert_eq!(pragmas.foreign_keys, 1);
        assert_eq!(pragmas.synchronous, 1, "NORMAL");
        assert_eq!(
            pragmas.qpsg, 1,
            "SQLite built with SQLITE_ENABLE_QPSG (.cargo/config.toml): statements keep their plan"
        );
        let map: Map = diesel::sql_query("PRAGMA mmap_size")
            .get_result(&mut pool.get().unwrap())
            .unwrap();
        assert_eq!(
            map.mmap_size as u64, SQLITE_MMAP_BYTES,
            "SQLite built with SQLITE_MAX_MMAP_SIZE (.cargo/config.toml): the map is not cut to 2 GiB"
        );
    }

    diesel::table! {
        t (x) {
            x -> Integer,
        }
    }

    #[test]
    fn a_cached_update_is_prepared_once_and_a_plain_one_every_time() {
        use diesel::connection::InstrumentationEvent;
        use diesel::{ExpressionMethods, QueryDsl};
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::Arc;

        let mut conn = SqliteConnection::establish(":memory:").unwrap();
        conn.batch_execute("CREATE TABLE t (x INTEGER)").unwrap();
        let cached = Arc::new(AtomicUsize::new(0));
        let counter = cached.clone();
        conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
            if let InstrumentationEvent::CacheQuery { .. } = event {
                counter.fetch_add(1, Ordering::SeqCst);
            }
        });

        for x in 0..3 {
            cached_update(t::table, t::x.eq(x), t::x.ge(-1))
                .execute(&mut conn)
                .unwrap();
        }
        assert_eq!(
            cached.load(Ordering::SeqCst),
            1,
            "prepared once, then reused"
        );
        for x in 0..3 {
            diesel::update(t::table.filter(t::x.ge(-1)))
                .set(t::x.eq(x))
                .execute(&mut conn)
                .unwrap();
        }
        assert_eq!(
            cached.load(Ordering::SeqCst),
            1,
            "diesel keeps no plain UPDATE"
        );
    }

    #[test]
    fn one_database_has_one_writer_turn_and_a_write_open_on_one_does_not_hold_another() {
        let dir = tempfile::tempdir().unwrap();
        let (one, other) = (
            sqlite_in(dir.path(), "a.sqlite3"),
            sqlite_in(dir.path(), "b.sqlite3"),
        );
        let (pool, other_pool) = (connect(&one).unwrap(), connect(&other).unwrap());
        // The group-commit writer opens its connection through a manager of its own.
        let mut writers = manager(&one).connect().unwrap();
        let turn = pool.get().unwrap().writer_turn().unwrap();
        assert!(Arc::ptr_eq(&turn, &writers.writer_turn().unwrap()));
        assert!(!Arc::ptr_eq(
            &turn,
            &other_pool.get().unwrap().writer_turn().unwrap()
        ));

        let (entered, inside) = std::sync::mpsc::channel();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let holder = std::thread::spawn(move || {
            pool.get()
                .unwrap()
                .write(|_| -> QueryResult<()> {
                    entered.send(()).unwrap();
                    released.recv().unwrap();
                    Ok(())
                })
                .unwrap();
        });
        inside.recv().unwrap();

        // On one process-wide turn, this write would wait for the one held open, then fail.
        assert!(turn.is_locked(), "the open write holds its database's turn");
        let mut conn = other_pool.get().unwrap();
        conn.write(|c| c.batch_execute("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1)"))
            .unwrap();
        assert_eq!(count(&mut conn), 1);
        release.send(()).unwrap();
        holder.join().unwrap();
        assert!(!turn.is_locked());
    }

    #[test]
    fn sqlite_writes_nest_as_savepoints_and_roll_back_whole() {
        let dir = tempfile::tempdir().unwrap();
        let settings = sqlite_in(dir.path(), "t.sqlite3");
        let pool = connect(&settings).unwrap();
        let mut conn = pool.get().unwrap();
        conn.batch_execute("CREATE TABLE t (x INTEGER)").unwrap();

        let nested: Result<(), diesel::result::Error> = conn.write(|c| {
            c.batch_execute("INSERT INTO t VALUES (1)")?;
            c.write(|c| c.batch_execute("INSERT INTO t VALUES (2)"))
        });
        assert!(nested.is_ok());
        assert_eq!(count(&mut conn), 2);

        let failed: Result<(), diesel::result::Error> = conn.write(|c| {
            c.batch_execute("INSERT INTO t VALUES (3)")?;
            Err(diesel::result::Error::RollbackTransaction)
        });
        assert!(failed.is_err());
        assert_eq!(count(&mut conn), 2, "nothing of a failed write remains");
    }
}
