//! Storage: one connection type over SQLite and PostgreSQL, its pool, and the helpers that
//! keep the two backends behaving alike (pragmas, IMMEDIATE write transactions, running
//! blocking diesel calls off the actix executor).

mod migrations;
pub mod schema;

use std::time::Duration;

use anyhow::Context;
use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::pg::PgConnection;
use diesel::r2d2::{self, ManageConnection, R2D2Connection};
use diesel::sqlite::SqliteConnection;
use diesel::Connection;

pub use migrations::{has_pending_migrations, migrate};

use crate::config::{DatabaseKind, DatabaseSettings, SqliteSynchronous};
use crate::error::AppError;

/// A connection to whichever database `DATABASE_URL` names.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Sqlite(SqliteConnection),
    Pg(PgConnection),
}

pub type Pool = r2d2::Pool<Manager>;
pub type PooledConn = r2d2::PooledConnection<Manager>;

/// Opens connections for one backend, chosen once from the URL. (diesel's generic
/// `ConnectionManager<DbConn>` would try each backend in turn, so a PostgreSQL outage
/// would silently create an SQLite file named after the URL.)
#[derive(Debug)]
pub struct Manager {
    kind: DatabaseKind,
    url: String,
    synchronous: SqliteSynchronous,
    busy_timeout: Duration,
}

impl ManageConnection for Manager {
    type Connection = DbConn;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConn, r2d2::Error> {
        match self.kind {
            DatabaseKind::Postgres => PgConnection::establish(&self.url)
                .map(DbConn::Pg)
                .map_err(r2d2::Error::ConnectionError),
            DatabaseKind::Sqlite => {
                let mut conn =
                    SqliteConnection::establish(&self.url).map_err(r2d2::Error::ConnectionError)?;
                // Per connection: these pragmas do not persist in the file (WAL does: see `connect`).
                conn.batch_execute(&format!(
                    "PRAGMA busy_timeout = {}; PRAGMA synchronous = {}; PRAGMA foreign_keys = ON;",
                    self.busy_timeout.as_millis(),
                    self.synchronous.as_sql()
                ))
                .map_err(r2d2::Error::QueryError)?;
                Ok(DbConn::Sqlite(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), r2d2::Error> {
        conn.ping().map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConn) -> bool {
        conn.is_broken()
    }
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
    let manager = Manager {
        kind,
        url,
        synchronous: settings.sqlite_synchronous,
        busy_timeout: settings.sqlite_busy_timeout,
    };
    r2d2::Pool::builder()
        .max_size(settings.pool_size)
        .connection_timeout(Duration::from_secs(10))
        .build(manager)
        .with_context(|| format!("cannot open the {} database", kind.name()))
}

impl DbConn {
    pub fn kind(&self) -> DatabaseKind {
        match self {
            DbConn::Sqlite(_) => DatabaseKind::Sqlite,
            DbConn::Pg(_) => DatabaseKind::Postgres,
        }
    }

    /// Runs `f` in a write transaction. On SQLite it is `BEGIN IMMEDIATE`, so the write
    /// lock is taken up front and concurrent writers wait on `busy_timeout` instead of
    /// failing with SQLITE_BUSY half-way through.
    pub fn write<T, E>(&mut self, f: impl FnOnce(&mut DbConn) -> Result<T, E>) -> Result<T, E>
    where
        E: From<diesel::result::Error>,
    {
        if let DbConn::Sqlite(inner) = self {
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
        } else {
            self.transaction(f)
        }
    }
}

/// Runs blocking database work on actix's blocking thread pool with a pooled connection.
pub async fn run<T, F>(pool: &Pool, f: F) -> Result<T, AppError>
where
    F: FnOnce(&mut DbConn) -> Result<T, AppError> + Send + 'static,
    T: Send + 'static,
{
    let pool = pool.clone();
    actix_web::web::block(move || {
        let mut conn = pool
            .get()
            .map_err(|e| AppError::unavailable(anyhow::Error::new(e)))?;
        f(&mut conn)
    })
    .await
    .map_err(|e| AppError::internal(anyhow::anyhow!("blocking task failed: {e}")))?
}
