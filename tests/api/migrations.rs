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

/// The version of the migration that makes RPPS and ADELI numbers unique.
const ONE_IDENTITY: &str = "20261205160000";

#[test]
fn numbers_claimed_twice_before_the_unique_indexes_stay_on_the_oldest_account() {
    use diesel::prelude::*;
    use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
    use qvt_campus::db::schema::{accounts, audit_log};
    use qvt_campus::db::DbConn;

    const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
    const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");
    // Arrange: a database as it was before the migration, holding duplicates.
    let dir = tempfile::tempdir().unwrap();
    let database = TestDb::fresh(dir.path());
    let pool = db::connect(&test_settings(dir.path(), &database).database).unwrap();
    let mut conn = pool.get().unwrap();
    db::migrate(&mut conn).unwrap();
    loop {
        let applied: Vec<String> = match &mut *conn {
            DbConn::Sqlite(c) => c.applied_migrations().unwrap(),
            DbConn::Pg(c) => c.applied_migrations().unwrap(),
        }
        .into_iter()
        .map(|v| v.to_string())
        .collect();
        if !applied.iter().any(|v| v == ONE_IDENTITY) {
            break;
        }
        match &mut *conn {
            DbConn::Sqlite(c) => c.revert_last_migration(SQLITE).map(drop),
            DbConn::Pg(c) => c.revert_last_migration(POSTGRES).map(drop),
        }
        .unwrap();
    }
    let day = |d: u32| {
        chrono::NaiveDate::from_ymd_opt(2026, 9, d)
            .unwrap()
            .and_hms_opt(8, 0, 0)
            .unwrap()
    };
    let rows = [
        ("c", day(3), Some("10000000009"), Some("691234567")),
        ("a", day(1), Some("10000000009"), None),
        ("b", day(2), Some("10000000009"), Some("691234567")),
        ("d", day(4), None, None),
    ];
    for (id, at, rpps, adeli) in rows {
        diesel::insert_into(accounts::table)
            .values((
                accounts::id.eq(id),
                accounts::email.eq(format!("{id}@exemple.fr")),
                accounts::full_name.eq(id),
                accounts::password_hash.eq(""),
                accounts::profession.eq("medecin"),
                accounts::rpps.eq(rpps),
                accounts::adeli.eq(adeli),
                accounts::is_platform_admin.eq(false),
                accounts::created_at.eq(at),
                accounts::updated_at.eq(at),
            ))
            .execute(&mut *conn)
            .unwrap();
    }

    // Act
    let applied = db::migrate(&mut conn).unwrap();

    // Assert: the oldest holder keeps each number, the others lost it, on the record.
    assert!(applied >= 1);
    let mut numbers: Vec<(String, Option<String>, Option<String>)> = accounts::table
        .select((accounts::id, accounts::rpps, accounts::adeli))
        .load(&mut *conn)
        .unwrap();
    numbers.sort();
    let some = |s: &str| Some(s.to_owned());
    assert_eq!(
        numbers,
        vec![
            ("a".into(), some("10000000009"), None),
            ("b".into(), None, some("691234567")),
            ("c".into(), None, None),
            ("d".into(), None, None),
        ]
    );
    let mut cleared: Vec<(Option<String>, String)> = audit_log::table
        .filter(audit_log::action.eq("account.duplicate_number_cleared"))
        .select((audit_log::target_id, audit_log::details))
        .load(&mut *conn)
        .unwrap();
    cleared.sort();
    let details: Vec<(Option<String>, serde_json::Value)> = cleared
        .into_iter()
        .map(|(t, d)| (t, serde_json::from_str(&d).unwrap()))
        .collect();
    assert_eq!(
        details,
        vec![
            (
                some("b"),
                serde_json::json!({ "field": "rpps", "value": "10000000009", "kept_by": "a" })
            ),
            (
                some("c"),
                serde_json::json!({ "field": "adeli", "value": "691234567", "kept_by": "b" })
            ),
            (
                some("c"),
                serde_json::json!({ "field": "rpps", "value": "10000000009", "kept_by": "a" })
            ),
        ]
    );
}
