//! Embedded migrations, one folder per backend (`migrations/sqlite`, `migrations/postgres`),
//! kept in step: an integration test (`tests/api/migrations.rs`) compares the tables and
//! columns they produce.

use anyhow::anyhow;
use diesel::connection::SimpleConnection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use super::DbConn;

const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Arbitrary constant: the advisory lock that serialises migrations when several app
/// instances start at once on one PostgreSQL database.
const PG_MIGRATION_LOCK: i64 = 0x5156_5443_414d_5055;

/// Applies pending migrations; returns how many ran.
pub fn migrate(conn: &mut DbConn) -> anyhow::Result<usize> {
    let applied = match conn {
        DbConn::Sqlite(c) => c.run_pending_migrations(SQLITE).map(|v| v.len()),
        DbConn::Pg(c) => {
            c.batch_execute(&format!("SELECT pg_advisory_lock({PG_MIGRATION_LOCK})"))?;
            let result = c.run_pending_migrations(POSTGRES).map(|v| v.len());
            c.batch_execute(&format!("SELECT pg_advisory_unlock({PG_MIGRATION_LOCK})"))?;
            result
        }
    };
    applied.map_err(|e| anyhow!("migration failed: {e}"))
}

pub fn has_pending_migrations(conn: &mut DbConn) -> anyhow::Result<bool> {
    let pending = match conn {
        DbConn::Sqlite(c) => c.has_pending_migration(SQLITE),
        DbConn::Pg(c) => c.has_pending_migration(POSTGRES),
    };
    pending.map_err(|e| anyhow!("cannot read the migration table: {e}"))
}
