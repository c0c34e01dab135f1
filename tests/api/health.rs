use diesel::connection::SimpleConnection;
use diesel::Connection;

use crate::helpers::{postgres_base_url, problem, spawn_app, TestApp};

#[tokio::test]
async fn healthz_says_the_process_is_up() {
    // Arrange
    let app = spawn_app().await;
    // Act
    let response = app.get("/healthz").await;
    // Assert
    assert_eq!(response.status().as_u16(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn readyz_names_the_database_and_its_migrations() {
    let app = spawn_app().await;
    let response = app.get("/readyz").await;
    assert_eq!(response.status().as_u16(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    let expected = if postgres_base_url().is_some() {
        "postgres"
    } else {
        "sqlite"
    };
    assert_eq!(body["database"], expected);
    assert_eq!(body["migrations"], "applied");
}

#[tokio::test]
async fn a_plain_request_id_is_echoed_and_a_hostile_one_replaced() {
    let app = spawn_app().await;

    let kept = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "lb-42.abc_DEF")
        .send()
        .await
        .unwrap();
    assert_eq!(kept.headers()["x-request-id"], "lb-42.abc_DEF");

    let replaced = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "x\" injected=1")
        .send()
        .await
        .unwrap();
    let id = replaced.headers()["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");

    let generated = app.get("/nowhere").await;
    assert!(
        generated.headers().contains_key("x-request-id"),
        "errors carry an id too"
    );
}

#[tokio::test]
async fn metrics_count_requests_and_time_them_per_route_for_the_operator_only() {
    let app = crate::helpers::spawn_app_with(|s| {
        s.metrics_token = Some(qvt_campus::config::Secret::new("jeton-de-supervision"));
    })
    .await;
    app.get("/healthz").await;
    app.get("/healthz").await;
    app.get("/no/such/page").await;

    // The public, and a wrong token, find nothing there.
    problem(app.get("/metrics").await, 404).await;
    problem(app.get_as("autre-jeton", "/metrics").await, 404).await;
    let text = app
        .get_as("jeton-de-supervision", "/metrics")
        .await
        .text()
        .await
        .unwrap();

    assert!(
        text.contains(
            r#"qvt_http_requests_total{endpoint="/healthz",method="GET",status="200"} 2"#
        ),
        "{text}"
    );
    assert!(text.contains(r#"qvt_http_requests_duration_seconds_bucket{endpoint="/healthz",method="GET",status="200",le="0.005"}"#));
    // Unknown paths share one label, so scanners cannot blow up the series count.
    assert!(text.contains(r#"endpoint="UNKNOWN""#), "{text}");
    assert!(!text.contains("/no/such/page"));
}

#[tokio::test]
async fn the_openapi_document_is_3_1_and_lists_the_endpoints() {
    let app = spawn_app().await;
    let doc: serde_json::Value = app.get("/api/openapi.json").await.json().await.unwrap();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    assert!(doc["paths"]["/healthz"]["get"].is_object());
    assert!(doc["paths"]["/readyz"]["get"]["responses"]["503"].is_object());
    assert!(doc["components"]["schemas"]["Problem"].is_object());
    for path in [
        "/api/v1/auth/register",
        "/api/v1/auth/login",
        "/api/v1/me",
        "/api/v1/organisations/{id}/members",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} is documented");
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
}

#[tokio::test]
async fn readyz_is_a_503_problem_while_migrations_are_pending() {
    // Arrange: the database forgets its migrations (as after a restore of an old backup).
    let app = spawn_app().await;
    app.conn()
        .batch_execute("DELETE FROM __diesel_schema_migrations")
        .unwrap();
    // Act
    let response = app.get("/readyz").await;
    // Assert
    let body = crate::helpers::problem(response, 503).await;
    assert!(
        !body.to_string().contains("migrations are pending"),
        "causes are logged, not sent"
    );
}

#[tokio::test]
async fn connections_the_postgresql_server_closed_are_replaced_after_one_failed_request() {
    if postgres_base_url().is_none() {
        return; // Only a server can close a connection under the app.
    }
    // Arrange: the pool's connections opened, then closed by the server (as a restart does).
    let app = spawn_app().await;
    let pool_size = app.settings.database.pool_size as usize;
    let warm = (0..pool_size).map(|_| app.get("/readyz"));
    for response in futures_util::future::join_all(warm).await {
        assert_eq!(response.status().as_u16(), 200);
    }
    let mut admin = diesel::PgConnection::establish(app.settings.database.url.expose()).unwrap();
    admin
        .batch_execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .unwrap();

    // Act
    let mut statuses = Vec::new();
    for _ in 0..pool_size + 5 {
        statuses.push(app.get("/readyz").await.status().as_u16());
    }

    // Assert: at most one failure per closed connection, clear ones, then all is well.
    let failed = statuses.iter().filter(|s| **s != 200).count();
    assert!(failed <= pool_size, "{statuses:?}");
    assert!(
        statuses.iter().all(|s| [200, 503].contains(s)),
        "{statuses:?}"
    );
    assert!(
        statuses[pool_size..].iter().all(|s| *s == 200),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn a_database_that_reads_but_cannot_write_is_not_ready() {
    let Some(_) = postgres_base_url() else {
        return; // A standby-like, read-only database: PostgreSQL only.
    };
    let app = spawn_app().await;
    assert_eq!(app.get("/readyz").await.status().as_u16(), 200);
    let mut admin = diesel::PgConnection::establish(app.settings.database.url.expose()).unwrap();
    // New sessions are read-only (as on a standby); the pool's are closed to take it.
    admin
        .batch_execute(
            "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET default_transaction_read_only = on', current_database()); END $$; \
             SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .unwrap();

    // Reads work, readiness does not, and a write is an outage (503 with Retry-After).
    readiness_becomes(&app, 503).await;
    let refused = app
        .post_json(
            "/api/v1/auth/register",
            &serde_json::json!({ "email": "lecture.seule@exemple.fr", "password": "un mot de passe assez long",
                                 "full_name": "Lecture Seule", "profession": "infirmier" }),
        )
        .await;
    assert_eq!(refused.status().as_u16(), 503);
    assert!(refused.headers().contains_key("retry-after"));

    admin
        .batch_execute(
            "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I RESET default_transaction_read_only', current_database()); END $$; \
             SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .unwrap();
    readiness_becomes(&app, 200).await;
}

/// Polls `/readyz` until it answers `status`, within 10 s: the pool replaces its terminated
/// connections as they are checked out, and a failed attempt meanwhile holds the circuit
/// open for a few seconds (`db::circuit`), so how many requests it takes is not fixed.
async fn readiness_becomes(app: &TestApp, status: u16) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut seen = Vec::new();
    loop {
        seen.push(app.get("/readyz").await.status().as_u16());
        if seen.last() == Some(&status) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "/readyz never answered {status} in 10 s: {seen:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
