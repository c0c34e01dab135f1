//! Hardening found wanting by a penetration test (`../shared/reviews/security-review.md`):
//! browser headers, cookies under https, cross-site forms, private files, shared throttles.

use std::os::unix::fs::PermissionsExt;

use serde_json::json;

use crate::helpers::{no_redirects, problem, spawn_app, spawn_app_with};
use crate::journeys::PASSWORD;

#[tokio::test]
async fn every_response_forbids_framing_inline_scripts_and_sniffing() {
    let app = spawn_app().await;
    for path in [
        "/",
        "/connexion",
        "/api/v1/courses",
        "/nulle-part",
        "/healthz",
    ] {
        let response = app.get(path).await;
        let h = response.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert_eq!(h["referrer-policy"], "same-origin", "{path}");
        assert!(
            !h.contains_key("strict-transport-security"),
            "http: no HSTS"
        );
    }
    // The pages hold no inline script any more: what they load is served from here.
    let page = app.get("/connexion").await.text().await.unwrap();
    assert!(!page.contains("<script>"), "{page}");
}

#[tokio::test]
async fn under_https_cookies_are_secure_host_only_and_hsts_is_sent() {
    let app = spawn_app_with(|s| s.public_url = "https://campus.example.test".into()).await;
    app.learner("infirmiere.https@exemple.fr").await;
    let response = app.get("/").await;
    assert_eq!(
        response.headers()["strict-transport-security"],
        "max-age=63072000"
    );
    let signed_in = no_redirects()
        .post(app.url("/connexion"))
        .form(&[
            ("email", "infirmiere.https@exemple.fr"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status().as_u16(), 303);
    let cookie = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.starts_with("__Host-qvt_access="), "{cookie}");
    assert!(
        cookie.contains("Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    assert!(
        cookie.contains("Path=/") && !cookie.contains("Domain"),
        "{cookie}"
    );
    // The session works under its prefixed name, and not under the bare one.
    let token = cookie.split(';').next().unwrap().split_once('=').unwrap().1;
    let mine = no_redirects()
        .get(app.url("/tableau-de-bord"))
        .header("cookie", format!("__Host-qvt_access={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(mine.status().as_u16(), 200);
    let bare = no_redirects()
        .get(app.url("/tableau-de-bord"))
        .header("cookie", format!("qvt_access={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status().as_u16(), 303, "sent to sign in");
}

#[tokio::test]
async fn forms_posted_from_elsewhere_are_refused_whatever_the_form() {
    let app = spawn_app().await;
    app.learner("cible@exemple.fr").await;
    let post = |path: &'static str, header: (&'static str, &'static str)| {
        let app = &app;
        async move {
            no_redirects()
                .post(app.url(path))
                .header(header.0, header.1)
                .form(&[("email", "cible@exemple.fr"), ("password", PASSWORD)])
                .send()
                .await
                .unwrap()
        }
    };
    for path in ["/connexion", "/inscription", "/mot-de-passe-oublie"] {
        for header in [
            ("origin", "null"),
            ("origin", "https://pirate.example"),
            ("sec-fetch-site", "cross-site"),
            ("sec-fetch-site", "same-site"),
        ] {
            let response = post(path, header).await;
            assert_eq!(response.status().as_u16(), 403, "{path} {header:?}");
            assert!(response.headers().get("set-cookie").is_none());
        }
    }
    assert!(app
        .mails_to("cible@exemple.fr")
        .iter()
        .all(|(s, _)| !s.contains("réinitialisation")));
    // The site's own form still works.
    let own = post("/connexion", ("sec-fetch-site", "same-origin")).await;
    assert_eq!(own.status().as_u16(), 303);
}

#[tokio::test]
async fn the_data_folder_database_and_outbox_are_the_services_alone() {
    let app = spawn_app().await;
    app.learner("discrete@exemple.fr").await;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&app.settings.data_dir), 0o700);
    assert_eq!(mode(&app.settings.mail.outbox_dir), 0o700);
    if let Some(file) = app.settings.sqlite_path() {
        assert_eq!(mode(file), 0o600);
    }
}

#[tokio::test]
async fn guessing_an_enrolment_key_is_stopped_for_the_learner_and_the_address() {
    let s = crate::helpers::setup().await;
    let session = s
        .qvt_session(json!({ "enrolment_mode": "key", "enrolment_key": "CLE-SECRETE-2026" }))
        .await;
    let learner = s.app.learner("devine@univ-exemple.fr").await;
    for i in 0..5 {
        let wrong = s
            .enrol(
                &learner,
                &session,
                json!({ "enrolment_key": format!("essai-{i}") }),
            )
            .await;
        problem(wrong, 422).await;
    }
    // The right key too must wait now: the guesses are what is limited.
    let stopped = s
        .enrol(
            &learner,
            &session,
            json!({ "enrolment_key": "CLE-SECRETE-2026" }),
        )
        .await;
    assert!(stopped.headers().contains_key("retry-after"));
    problem(stopped, 429).await;
    // Another learner (from another address, here the same loopback: under the address
    // limit) still enrols with the key.
    let other = s.app.learner("honnete@univ-exemple.fr").await;
    let enrolled = s
        .enrol(
            &other,
            &session,
            json!({ "enrolment_key": "CLE-SECRETE-2026" }),
        )
        .await;
    assert_eq!(enrolled.status().as_u16(), 201);
}

#[tokio::test]
async fn sign_ups_to_one_address_and_reset_requests_from_one_client_are_limited() {
    let app = spawn_app_with(|s| s.identity.sign_ups_per_address_per_hour = 3).await;
    for i in 0..3 {
        assert_eq!(
            app.register(&format!("nouveau{i}@exemple.fr"))
                .await
                .status()
                .as_u16(),
            201
        );
    }
    let fourth = app.register("nouveau3@exemple.fr").await;
    assert!(fourth.headers().contains_key("retry-after"));
    problem(fourth, 429).await;

    let app = spawn_app().await;
    for i in 0..10 {
        let asked = app
            .post_json(
                "/api/v1/auth/password-reset/request",
                &json!({ "email": format!("compte{i}@exemple.fr") }),
            )
            .await;
        assert_eq!(asked.status().as_u16(), 202);
    }
    let fanned_out = app
        .post_json(
            "/api/v1/auth/password-reset/request",
            &json!({ "email": "compte10@exemple.fr" }),
        )
        .await;
    problem(fanned_out, 429).await;
}
