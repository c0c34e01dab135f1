//! What PostgreSQL ran for a test's database, read from `pg_stat_statements` (which
//! `scripts/test` preloads), and how each statement is planned: counts per request and
//! "no table read whole on a hot path" are held by the database's own accounts.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use super::TestApp;

#[derive(QueryableByName, Debug)]
pub struct Statement {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub calls: i64,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub query: String,
}

/// Starts counting this database's statements afresh.
pub fn reset_statements(app: &TestApp) {
    app.conn()
        .batch_execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        .expect("scripts/test starts PostgreSQL with shared_preload_libraries=pg_stat_statements");
    diesel::sql_query(
        "SELECT pg_stat_statements_reset(0, \
         (SELECT oid FROM pg_database WHERE datname = current_database()), 0)",
    )
    .execute(&mut app.conn())
    .unwrap();
}

/// The statements PostgreSQL ran in this test's database since the last reset (transaction
/// control included), most called first; without the counting's own and the background
/// jobs' single statements (the reset links' look, the deadlines' look, the other
/// instances' channel), which may run meanwhile.
pub fn statements_run(app: &TestApp) -> Vec<Statement> {
    diesel::sql_query(
        "SELECT calls, query FROM pg_stat_statements \
         WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) \
         AND query NOT LIKE '%pg_stat_statements%' \
         AND query NOT LIKE '%password_reset_requests%' \
         AND query NOT LIKE '%\"quiz_attempts\".\"deadline\" <%' \
         AND query NOT IN ('SELECT 1', 'LISTEN qvt_stale') ORDER BY calls DESC",
    )
    .load(&mut app.conn())
    .unwrap()
}

#[derive(QueryableByName)]
struct PlanLine {
    #[diesel(sql_type = diesel::sql_types::Text)]
    #[diesel(column_name = "QUERY PLAN")]
    line: String,
}

/// The statements run since the last reset whose plan reads a table whole, each with its
/// plan. Each is prepared and planned as a generic plan (whatever the values) with
/// sequential scans disabled: a `Seq Scan` left is a table no index can serve for that
/// statement — fine on a test's few rows, a scan of a million accounts in a national
/// database. That much holds whatever the statistics. An index walked whole (in its
/// order, or to count it) is not caught: on a test's few rows the planner's choice
/// between walking an index and looking up another is chance.
pub fn whole_table_reads(app: &TestApp) -> Vec<String> {
    let mut conn = app.conn();
    let mut found = Vec::new();
    for s in statements_run(app) {
        let q = s.query.trim_start().to_ascii_uppercase();
        if !(q.starts_with("SELECT")
            || q.starts_with("WITH")
            || q.starts_with("UPDATE")
            || q.starts_with("DELETE")
            || q.starts_with("INSERT"))
        {
            continue; // BEGIN, COMMIT, SET, NOTIFY…
        }
        let params = (1..=100)
            .take_while(|n| s.query.contains(&format!("${n}")))
            .count();
        let nulls = vec!["NULL"; params].join(", ");
        let execute = if params == 0 {
            "EXPLAIN EXECUTE plan_check".to_owned()
        } else {
            format!("EXPLAIN EXECUTE plan_check({nulls})")
        };
        conn.batch_execute(&format!(
            "DEALLOCATE ALL; SET plan_cache_mode = force_generic_plan; \
             SET enable_seqscan = off; PREPARE plan_check AS {}",
            s.query
        ))
        .unwrap_or_else(|e| panic!("{e}: cannot prepare {}", s.query));
        let plan: Vec<PlanLine> = diesel::sql_query(&execute)
            .load(&mut *conn)
            .unwrap_or_else(|e| panic!("{e}: cannot plan {}", s.query));
        let plan: Vec<String> = plan.into_iter().map(|l| l.line).collect();
        if plan.iter().any(|l| l.contains("Seq Scan on ")) {
            found.push(format!("{}\n{}", s.query, plan.join("\n")));
        }
    }
    conn.batch_execute("DEALLOCATE ALL; RESET plan_cache_mode; RESET enable_seqscan")
        .unwrap();
    found
}
