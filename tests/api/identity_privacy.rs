//! Personal data: export, erasure, purge after the retention period; the admin CLI.

use std::io::Write;
use std::process::{Command, Stdio};

use diesel::prelude::*;
use qvt_campus::db::schema::accounts;
use serde_json::{json, Value};

use crate::helpers::{field_names, problem, spawn_app};
use crate::journeys::{adeli_of, PASSWORD};

#[tokio::test]
async fn a_person_exports_everything_held_about_them() {
    let app = spawn_app().await;
    let user = app.learner("export@exemple.fr").await;

    let response = app.get_as(&user.token, "/api/v1/me/export").await;

    assert_eq!(response.status().as_u16(), 200);
    assert!(response.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("attachment"));
    let data: Value = response.json().await.unwrap();
    assert_eq!(data["account"]["email"], "export@exemple.fr");
    assert_eq!(data["account"]["adeli"], adeli_of("export@exemple.fr"));
    assert_eq!(data["sessions"].as_array().unwrap().len(), 1);
    let text = data.to_string();
    assert!(
        !text.contains("argon2") && !text.contains("token_hash"),
        "no secrets in the export"
    );
}

#[tokio::test]
async fn erasure_removes_identifying_data_and_ends_every_session() {
    // Arrange
    let app = spawn_app().await;
    let user = app.learner("effacement@exemple.fr").await;

    // Act
    let wrong = app
        .call(
            reqwest::Method::DELETE,
            "/api/v1/me",
            &user.token,
            Some(&json!({ "password": "pas le bon" })),
        )
        .await;
    let erased = app
        .call(
            reqwest::Method::DELETE,
            "/api/v1/me",
            &user.token,
            Some(&json!({ "password": PASSWORD })),
        )
        .await;

    // Assert
    assert_eq!(field_names(&problem(wrong, 422).await), vec!["password"]);
    assert_eq!(erased.status().as_u16(), 204);
    problem(app.get_as(&user.token, "/api/v1/me").await, 401).await;
    problem(app.login(&user.email, PASSWORD).await, 401).await;
    problem(
        app.post_json(
            "/api/v1/auth/refresh",
            &json!({ "refresh_token": user.refresh_token }),
        )
        .await,
        401,
    )
    .await;

    let (email, name, adeli): (String, String, Option<String>) = accounts::table
        .find(&user.id)
        .select((accounts::email, accounts::full_name, accounts::adeli))
        .first(&mut app.conn())
        .unwrap();
    assert!(!email.contains("effacement"), "{email}");
    assert_eq!(name, "Compte supprimé");
    assert_eq!(adeli, None);

    // The address is free again.
    assert_eq!(
        app.register("effacement@exemple.fr")
            .await
            .status()
            .as_u16(),
        201
    );
}

fn run_cli(app: &crate::helpers::TestApp, args: &[&str], stdin: Option<&str>) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_qvt-campus"))
        .args(args)
        .env("DATABASE_URL", app.settings.database.url.expose())
        .env("QVT_DATA_DIR", &app.settings.data_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[tokio::test]
async fn purge_deletes_erased_accounts_once_their_retention_is_over() {
    let app = spawn_app().await;
    let old = app.learner("ancien@exemple.fr").await;
    let recent = app.learner("recent@exemple.fr").await;
    for user in [&old, &recent] {
        app.call(
            reqwest::Method::DELETE,
            "/api/v1/me",
            &user.token,
            Some(&json!({ "password": PASSWORD })),
        )
        .await;
    }
    let seven_years_ago = chrono::Utc::now().naive_utc() - chrono::Duration::days(7 * 365);
    diesel::update(accounts::table.find(&old.id))
        .set(accounts::erased_at.eq(Some(seven_years_ago)))
        .execute(&mut app.conn())
        .unwrap();

    let printed = run_cli(&app, &["purge"], None);

    assert!(printed.starts_with("1 erased account(s)"), "{printed}");
    let left: Vec<String> = accounts::table
        .select(accounts::id)
        .load(&mut app.conn())
        .unwrap();
    assert!(!left.contains(&old.id) && left.contains(&recent.id));
}

#[tokio::test]
async fn the_cli_creates_a_platform_admin_who_can_log_in() {
    let app = spawn_app().await;

    let printed = run_cli(
        &app,
        &[
            "admin",
            "create",
            "--email",
            "Responsable@QVT-Campus.fr",
            "--name",
            "Responsable Plateforme",
            "--password-stdin",
        ],
        Some("un mot de passe d'administration\n"),
    );
    let generated = run_cli(
        &app,
        &[
            "admin",
            "create",
            "--email",
            "second@qvt-campus.fr",
            "--name",
            "Second",
        ],
        None,
    );

    assert!(printed.contains("responsable@qvt-campus.fr"), "{printed}");
    let admin = app
        .logged_in(
            "responsable@qvt-campus.fr",
            "un mot de passe d'administration",
        )
        .await;
    let me: Value = app.get_json(&admin.token, "/api/v1/me").await;
    assert_eq!(me["is_platform_admin"], true);
    let password = generated
        .lines()
        .find_map(|l| l.strip_prefix("password (shown only now): "))
        .unwrap();
    app.logged_in("second@qvt-campus.fr", password).await;
}
