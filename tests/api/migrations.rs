//! Migrations: both folders describe the same schema, and running them twice is harmless.

use diesel::sql_types::{Integer, Text};
use diesel::{sql_query, Connection, PgConnection, QueryableByName, RunQueryDsl, SqliteConnection};
use qvt_campus::db;

use crate::helpers::{postgres_base_url, spawn_app, test_settings, TestDb};

#[derive(QueryableByName, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct ColumnInfo {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Integer)]
    not_null: i32,
}

fn sqlite_columns(url: &str) -> Vec<ColumnInfo> {
    let mut conn = SqliteConnection::establish(url).unwrap();
    let mut columns: Vec<ColumnInfo> = sql_query(
        "SELECT m.name AS table_name, p.name AS column_name, p.\"notnull\" AS not_null \
         FROM sqlite_master m JOIN pragma_table_info(m.name) p \
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '__diesel_schema_migrations'",
    )
    .load(&mut conn)
    .unwrap();
    columns.sort();
    columns
}

fn postgres_columns(url: &str) -> Vec<ColumnInfo> {
    let mut conn = PgConnection::establish(url).unwrap();
    let mut columns: Vec<ColumnInfo> = sql_query(
        "SELECT table_name::text AS table_name, column_name::text AS column_name, \
                CASE WHEN is_nullable = 'NO' THEN 1 ELSE 0 END AS not_null \
         FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name <> '__diesel_schema_migrations'",
    )
    .load(&mut conn)
    .unwrap();
    columns.sort();
    columns
}

#[test]
fn both_migration_folders_produce_the_same_tables_and_columns() {
    let Some(base) = postgres_base_url() else {
        eprintln!("skipped here: needs TEST_DATABASE_URL=postgres://… (scripts/test runs it in the PostgreSQL pass)");
        return;
    };
    // Arrange: one database of each kind, fully migrated.
    let dir = tempfile::tempdir().unwrap();
    let sqlite = TestDb::sqlite(dir.path());
    let postgres = TestDb::postgres(&base);
    for db in [&sqlite, &postgres] {
        let pool = db::connect(&test_settings(dir.path(), db).database).unwrap();
        db::migrate(&mut pool.get().unwrap()).unwrap();
    }
    // Act
    let on_sqlite = sqlite_columns(&sqlite.url);
    let on_postgres = postgres_columns(&postgres.url);
    // Assert
    assert!(!on_sqlite.is_empty());
    assert_eq!(on_sqlite, on_postgres);
}

#[tokio::test]
async fn migrating_an_up_to_date_database_does_nothing() {
    let app = spawn_app().await;
    let applied = db::migrate(&mut app.conn()).unwrap();
    assert_eq!(applied, 0);
    assert!(!db::has_pending_migrations(&mut app.conn()).unwrap());
}

#[test]
fn the_migrate_command_applies_then_reports_nothing_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let database = TestDb::fresh(dir.path());
    let run = || {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_qvt-campus"))
            .arg("migrate")
            .env("DATABASE_URL", &database.url)
            .env("QVT_DATA_DIR", dir.path())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    let first = run();
    assert!(!first.starts_with("0 "), "{first}");
    assert!(run().starts_with("0 migration(s) applied"));
}
