//! Login, refresh rotation and reuse detection, logout, throttling, password reset.

use std::sync::Arc;

use serde_json::{json, Value};

use crate::helpers::{
    postgres_base_url, problem, spawn_app, spawn_app_on, spawn_app_with, test_settings, TestDb,
};
use crate::journeys::PASSWORD;

#[tokio::test]
async fn login_refresh_and_logout() {
    // Arrange
    let app = spawn_app().await;
    app.register("infirmiere@exemple.fr").await;

    // Act: log in
    let response = app.login("INFIRMIERE@exemple.fr", PASSWORD).await;

    // Assert
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let pair: Value = response.json().await.unwrap();
    assert_eq!(pair["token_type"], "Bearer");
    assert_eq!(pair["expires_in"], 900);
    let access = pair["access_token"].as_str().unwrap();
    assert_eq!(
        app.get_as(access, "/api/v1/me").await.status().as_u16(),
        200
    );

    // Refresh rotates the token.
    let first = pair["refresh_token"].as_str().unwrap().to_owned();
    let rotated: Value = app
        .post_json("/api/v1/auth/refresh", &json!({ "refresh_token": first }))
        .await
        .json()
        .await
        .unwrap();
    let second = rotated["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(first, second);
    assert_eq!(
        app.get_as(rotated["access_token"].as_str().unwrap(), "/api/v1/me")
            .await
            .status()
            .as_u16(),
        200
    );

    // Logout ends the session: its refresh token, and at once the access token too.
    let current = rotated["access_token"].as_str().unwrap();
    let out = app
        .post_json("/api/v1/auth/logout", &json!({ "refresh_token": second }))
        .await;
    assert_eq!(out.status().as_u16(), 204);
    let after = app
        .post_json("/api/v1/auth/refresh", &json!({ "refresh_token": second }))
        .await;
    problem(after, 401).await;
    problem(app.get_as(current, "/api/v1/me").await, 401).await;
}

#[tokio::test]
async fn reusing_a_refresh_token_revokes_the_whole_family() {
    let app = spawn_app().await;
    let user = app.learner("etudiant@faculte-exemple.fr").await;
    let stolen = user.refresh_token.clone();

    // The owner refreshes; later the thief replays the old token.
    let owner: Value = app
        .post_json("/api/v1/auth/refresh", &json!({ "refresh_token": stolen }))
        .await
        .json()
        .await
        .unwrap();
    let replay = app
        .post_json("/api/v1/auth/refresh", &json!({ "refresh_token": stolen }))
        .await;
    problem(replay, 401).await;

    // The owner's newer token is revoked too.
    let newer = owner["refresh_token"].as_str().unwrap();
    problem(
        app.post_json("/api/v1/auth/refresh", &json!({ "refresh_token": newer }))
            .await,
        401,
    )
    .await;
    // Another session of the same person is untouched.
    let other = app.logged_in(&user.email, PASSWORD).await;
    let ok = app
        .post_json(
            "/api/v1/auth/refresh",
            &json!({ "refresh_token": other.refresh_token }),
        )
        .await;
    assert_eq!(ok.status().as_u16(), 200);
}

#[tokio::test]
async fn unknown_email_and_wrong_password_get_the_same_answer() {
    let app = spawn_app().await;
    app.register("pharmacien@exemple.fr").await;

    let wrong = problem(
        app.login("pharmacien@exemple.fr", "pas le bon mot de passe")
            .await,
        401,
    )
    .await;
    let unknown = problem(
        app.login("personne@exemple.fr", "pas le bon mot de passe")
            .await,
        401,
    )
    .await;

    assert_eq!(wrong, unknown);
}

#[tokio::test]
async fn ten_failures_lock_the_account_for_a_while_even_with_the_right_password() {
    let app = spawn_app().await;
    app.register("sage-femme@exemple.fr").await;
    for _ in 0..10 {
        problem(
            app.login("sage-femme@exemple.fr", "mauvais mot de passe")
                .await,
            401,
        )
        .await;
    }

    let locked = app.login("sage-femme@exemple.fr", PASSWORD).await;
    let retry_after: u64 = locked.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    problem(locked, 429).await;
    assert!((1..=900).contains(&retry_after), "{retry_after}");

    // An unknown address is throttled the same way.
    for _ in 0..10 {
        problem(
            app.login("inconnu@exemple.fr", "mauvais mot de passe")
                .await,
            401,
        )
        .await;
    }
    problem(
        app.login("inconnu@exemple.fr", "mauvais mot de passe")
            .await,
        429,
    )
    .await;
}

#[tokio::test]
async fn failures_count_across_app_instances() {
    // Two instances on one database, as in production.
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let db = Arc::new(TestDb::fresh(dir.path()));
    let settings = test_settings(dir.path(), &db);
    let first = spawn_app_on(settings.clone(), db.clone(), dir.clone()).await;
    let second = spawn_app_on(settings, db, dir).await;
    first.register("kine@exemple.fr").await;

    for i in 0..10 {
        let app = if i % 2 == 0 { &first } else { &second };
        problem(
            app.login("kine@exemple.fr", "mauvais mot de passe").await,
            401,
        )
        .await;
    }

    problem(first.login("kine@exemple.fr", PASSWORD).await, 429).await;
    problem(second.login("kine@exemple.fr", PASSWORD).await, 429).await;
}

#[tokio::test]
async fn too_many_failures_from_one_address_are_throttled() {
    let app = spawn_app_with(|s| s.identity.login_max_failures_per_address = 5).await;
    for i in 0..5 {
        problem(
            app.login(&format!("essai{i}@exemple.fr"), "mauvais mot de passe")
                .await,
            401,
        )
        .await;
    }
    problem(
        app.login("encore-un@exemple.fr", "mauvais mot de passe")
            .await,
        429,
    )
    .await;
}

#[tokio::test]
async fn a_password_reset_goes_through_the_mail_and_closes_every_session() {
    // Arrange
    let app = spawn_app().await;
    let user = app.learner("dentiste@exemple.fr").await;

    // Act: ask for a reset, for a real and an unknown address.
    let asked = app
        .post_json(
            "/api/v1/auth/password-reset/request",
            &json!({ "email": "Dentiste@exemple.fr" }),
        )
        .await;
    let unknown = app
        .post_json(
            "/api/v1/auth/password-reset/request",
            &json!({ "email": "personne@exemple.fr" }),
        )
        .await;

    // Assert: the same answer either way; only the real one gets a mail.
    assert_eq!(asked.status().as_u16(), 202);
    assert_eq!(unknown.status().as_u16(), 202);
    assert_eq!(asked.text().await.unwrap(), unknown.text().await.unwrap());
    let token = app
        .token_from_mail("dentiste@exemple.fr", "réinitialisation")
        .await;
    assert!(app.mails_to("personne@exemple.fr").is_empty());

    let weak = app
        .post_json(
            "/api/v1/auth/password-reset/confirm",
            &json!({ "token": token, "password": "court" }),
        )
        .await;
    assert_eq!(
        crate::helpers::field_names(&problem(weak, 422).await),
        vec!["password"]
    );
    let new_password = "un nouveau mot de passe solide";
    let done = app
        .post_json(
            "/api/v1/auth/password-reset/confirm",
            &json!({ "token": token, "password": new_password }),
        )
        .await;
    assert_eq!(done.status().as_u16(), 204);

    // The access token issued before the reset is refused at once, not in 15 minutes.
    problem(app.get_as(&user.token, "/api/v1/me").await, 401).await;
    problem(app.login(&user.email, PASSWORD).await, 401).await;
    assert_eq!(
        app.login(&user.email, new_password).await.status().as_u16(),
        200
    );
    problem(
        app.post_json(
            "/api/v1/auth/refresh",
            &json!({ "refresh_token": user.refresh_token }),
        )
        .await,
        401,
    )
    .await;
    let reused = app
        .post_json(
            "/api/v1/auth/password-reset/confirm",
            &json!({ "token": token, "password": "encore un autre mot de passe" }),
        )
        .await;
    problem(reused, 422).await;
}

#[tokio::test]
async fn reset_links_are_limited_to_three_an_hour() {
    let app = spawn_app().await;
    app.learner("podologue@exemple.fr").await;

    for _ in 0..5 {
        let asked = app
            .post_json(
                "/api/v1/auth/password-reset/request",
                &json!({ "email": "podologue@exemple.fr" }),
            )
            .await;
        assert_eq!(asked.status().as_u16(), 202);
    }

    crate::helpers::eventually(std::time::Duration::from_secs(10), || {
        (app.mails_to("podologue@exemple.fr")
            .iter()
            .filter(|(s, _)| s.contains("réinitialisation"))
            .count()
            == 3)
            .then_some(())
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let resets = app
        .mails_to("podologue@exemple.fr")
        .into_iter()
        .filter(|(s, _)| s.contains("réinitialisation"))
        .count();
    assert_eq!(resets, 3);
}

/// Logs in as if from `client`, through a reverse proxy that says so in X-Forwarded-For.
async fn login_from(
    app: &crate::helpers::TestApp,
    client: &str,
    email: &str,
    password: &str,
) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/auth/login"))
        .header("x-forwarded-for", client)
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_stranger_failing_on_purpose_does_not_lock_the_owner_out() {
    // Behind a trusted reverse proxy (here, on loopback), clients are told apart by the
    // address it forwards.
    let app = spawn_app_with(|s| {
        s.trusted_proxies = qvt_campus::http::TrustedProxies::parse("127.0.0.1").unwrap();
    })
    .await;
    app.learner("infirmier.cible@exemple.fr").await;
    for _ in 0..10 {
        let refused = login_from(
            &app,
            "198.51.100.66",
            "infirmier.cible@exemple.fr",
            "mauvais mot de passe",
        )
        .await;
        problem(refused, 401).await;
    }
    // The stranger is locked out of this account…
    let stranger = login_from(
        &app,
        "198.51.100.66",
        "infirmier.cible@exemple.fr",
        PASSWORD,
    )
    .await;
    problem(stranger, 429).await;
    // …its owner, elsewhere, is not.
    let owner = login_from(&app, "203.0.113.7", "infirmier.cible@exemple.fr", PASSWORD).await;
    assert_eq!(owner.status().as_u16(), 200);
}

#[tokio::test]
async fn a_forged_forwarding_header_does_not_dodge_the_limit_without_a_trusted_proxy() {
    let app = spawn_app().await;
    app.learner("pharmacienne@exemple.fr").await;
    for i in 0..10 {
        let refused = login_from(
            &app,
            &format!("192.0.2.{i}"),
            "pharmacienne@exemple.fr",
            "mauvais mot de passe",
        )
        .await;
        problem(refused, 401).await;
    }
    let next = login_from(&app, "192.0.2.200", "pharmacienne@exemple.fr", PASSWORD).await;
    problem(next, 429).await;
}

/// Two instances on one PostgreSQL database: a sign-out on one refuses the access token on
/// the other within a second (told by `NOTIFY`), not at the end of its 5 s account cache.
/// SQLite serves a single instance.
#[tokio::test]
async fn a_sign_out_on_one_instance_is_refused_on_another_within_a_second() {
    if postgres_base_url().is_none() {
        return;
    }
    let first = spawn_app().await;
    let second = first.another_instance().await;
    let user = first.learner("interne@chu-exemple.fr").await;
    // The second instance has just checked, and cached, the account.
    assert_eq!(
        second
            .get_as(&user.token, "/api/v1/me")
            .await
            .status()
            .as_u16(),
        200
    );

    let out = first
        .post_json(
            "/api/v1/auth/logout",
            &json!({ "refresh_token": user.refresh_token }),
        )
        .await;
    assert_eq!(out.status().as_u16(), 204);
    let asked = std::time::Instant::now();
    loop {
        let status = second
            .get_as(&user.token, "/api/v1/me")
            .await
            .status()
            .as_u16();
        if status == 401 {
            break;
        }
        assert_eq!(status, 200);
        assert!(
            asked.elapsed() < std::time::Duration::from_secs(1),
            "the other instance still lets a signed-out token in after 1 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
