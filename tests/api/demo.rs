//! The demo (`serve --demo`): seeded once, and its accounts can do their jobs at once.

use qvt_campus::demo;
use serde_json::Value;

use crate::helpers::{real_courses, spawn_app_with};

#[tokio::test]
async fn the_demo_seeds_once_and_its_learners_and_admins_can_work_at_once() {
    // Arrange
    let app = spawn_app_with(|s| s.courses_dir = real_courses()).await;

    // Act: seeded twice, as when the demo server is started again.
    let (pool, settings) = (app.pool.clone(), app.settings.clone());
    let first = tokio::task::spawn_blocking(move || demo::seed(&pool, &settings))
        .await
        .unwrap()
        .unwrap();
    let (pool, settings) = (app.pool.clone(), app.settings.clone());
    let again = tokio::task::spawn_blocking(move || demo::seed(&pool, &settings))
        .await
        .unwrap()
        .unwrap();

    // Assert: every listed account signs in with the demo password.
    assert!(first, "a fresh database is seeded");
    assert!(!again, "an existing demo is left as it is");
    for (_, email) in demo::ACCOUNTS {
        let user = app.logged_in(email, demo::PASSWORD).await;
        assert!(!user.token.is_empty(), "{email}");
    }
    // The student is enrolled in the QVT module; the nurse in the DPC session.
    for (email, course) in [
        ("etudiante@demo-universite.fr", "qvt-formation-initiale"),
        ("infirmier@demo-cabinet.fr", "dpc-securite-exercice"),
    ] {
        let user = app.logged_in(email, demo::PASSWORD).await;
        let enrolments: Value = app
            .get_as(&user.token, "/api/v1/me/enrolments")
            .await
            .json()
            .await
            .unwrap();
        let text = enrolments.to_string();
        assert!(text.contains(course), "{email}: {text}");
    }
    // Each admin sees an organisation she runs.
    for email in [
        "doyenne@demo-universite.fr",
        "direction@demo-ifsi.fr",
        "direction@demo-odpc.fr",
    ] {
        let admin = app.logged_in(email, demo::PASSWORD).await;
        let orgs: Value = app
            .get_as(&admin.token, "/api/v1/organisations")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(orgs[0]["my_role"], "org_admin", "{email}: {orgs}");
    }
}
