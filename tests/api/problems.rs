//! Bad input gets a problem document, never a 500 or a dropped connection.

use crate::helpers::{field_names, problem, spawn_app, spawn_app_with};

#[tokio::test]
async fn an_unknown_route_is_a_404_problem() {
    let app = spawn_app().await;
    let body = problem(app.get("/api/v1/nothing-here").await, 404).await;
    assert!(body["detail"]
        .as_str()
        .unwrap()
        .contains("/api/v1/nothing-here"));
}

#[tokio::test]
async fn a_wrong_method_is_a_405_problem_that_keeps_allow() {
    let app = spawn_app().await;
    let response = app.client.delete(app.url("/healthz")).send().await.unwrap();
    let allow = response
        .headers()
        .get("allow")
        .map(|v| v.to_str().unwrap().to_owned());
    problem(response, 405).await;
    assert_eq!(allow.as_deref(), Some("GET"));
}

#[tokio::test]
async fn malformed_json_is_a_400_problem_on_the_body() {
    let app = spawn_app().await;
    let body = problem(
        app.post_json_text("/test/echo", r#"{"name": "Zoé", "#)
            .await,
        400,
    )
    .await;
    assert_eq!(field_names(&body), vec!["body"]);
}

#[tokio::test]
async fn a_missing_or_mistyped_field_is_a_422_naming_it() {
    let app = spawn_app().await;

    let missing = problem(
        app.post_json_text("/test/echo", r#"{"name": "Zoé"}"#).await,
        422,
    )
    .await;
    assert_eq!(field_names(&missing), vec!["age"]);

    let mistyped = problem(
        app.post_json_text("/test/echo", r#"{"name": "Zoé", "age": "trente"}"#)
            .await,
        422,
    )
    .await;
    assert_eq!(field_names(&mistyped), vec!["age"]);

    let negative = problem(
        app.post_json_text("/test/echo", r#"{"name": "Zoé", "age": -3}"#)
            .await,
        422,
    )
    .await;
    assert_eq!(field_names(&negative), vec!["age"]);
}

#[tokio::test]
async fn a_bad_query_parameter_is_a_400_problem_naming_it() {
    let app = spawn_app().await;

    let missing = problem(app.get("/test/page").await, 400).await;
    assert_eq!(field_names(&missing), vec!["page"]);

    let mistyped = problem(app.get("/test/page?page=deux").await, 400).await;
    assert_eq!(field_names(&mistyped), vec!["query"]);

    assert_eq!(app.get("/test/page?page=2").await.status().as_u16(), 200);
}

#[tokio::test]
async fn good_json_still_works() {
    let app = spawn_app().await;
    let response = app
        .post_json_text("/test/echo", r#"{"name": "Zoé", "age": 31}"#)
        .await;
    assert_eq!(response.status().as_u16(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["name"], "Zoé");
}

#[tokio::test]
async fn a_wrong_content_type_is_a_415_problem() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/test/echo"))
        .header("content-type", "text/plain")
        .body(r#"{"name": "Zoé", "age": 31}"#)
        .send()
        .await
        .unwrap();
    let body = problem(response, 415).await;
    assert_eq!(field_names(&body), vec!["content-type"]);

    let without = app
        .client
        .post(app.url("/test/echo"))
        .body("{}")
        .send()
        .await
        .unwrap();
    problem(without, 415).await;
}

#[tokio::test]
async fn an_oversized_body_is_a_413_problem() {
    let app = spawn_app_with(|s| s.body_limit = 1024).await;
    let huge = format!(r#"{{"name": "{}", "age": 31}}"#, "a".repeat(4096));
    let body = problem(app.post_json_text("/test/echo", &huge).await, 413).await;
    assert_eq!(field_names(&body), vec!["body"]);
    assert!(body["detail"].as_str().unwrap().contains("1024"));
}

#[tokio::test]
async fn a_panic_in_a_handler_is_a_500_problem_and_the_server_keeps_serving() {
    let app = spawn_app().await;

    let response = app.get("/test/panic").await;
    let body = problem(response, 500).await;
    assert!(
        !body.to_string().contains("a bug in a handler"),
        "the cause is logged, not sent"
    );

    assert_eq!(app.get("/healthz").await.status().as_u16(), 200);
}
