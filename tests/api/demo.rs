//! The demo (`serve --demo`): seeded once, and its accounts can do their jobs at once.

use qvt_campus::demo;
use serde_json::Value;

use crate::helpers::{real_courses, spawn_app_with};
use crate::journeys::PASSWORD;

#[tokio::test]
async fn the_demo_seeds_once_and_its_learners_and_admins_can_work_at_once() {
    // Arrange
    let app = spawn_app_with(|s| s.courses_dir = real_courses()).await;

    // Act: seeded twice, as when the demo server is started again.
    let (pool, settings) = (app.pool.clone(), app.settings.clone());
    let first = tokio::task::spawn_blocking(move || demo::seed(&pool, &settings, PASSWORD))
        .await
        .unwrap()
        .unwrap();
    let (pool, settings) = (app.pool.clone(), app.settings.clone());
    let again = tokio::task::spawn_blocking(move || demo::seed(&pool, &settings, PASSWORD))
        .await
        .unwrap()
        .unwrap();

    // Assert: every listed account signs in with the demo password.
    assert!(first, "a fresh database is seeded");
    assert!(!again, "an existing demo is left as it is");
    for (_, email) in demo::ACCOUNTS {
        let user = app.logged_in(email, PASSWORD).await;
        assert!(!user.token.is_empty(), "{email}");
    }
    // The student is enrolled in the QVT module; the nurse in the DPC session.
    for (email, course) in [
        ("etudiante@demo-universite.fr", "qvt-formation-initiale"),
        ("infirmier@demo-cabinet.fr", "dpc-securite-exercice"),
    ] {
        let user = app.logged_in(email, PASSWORD).await;
        let enrolments: Value = app.get_json(&user.token, "/api/v1/me/enrolments").await;
        let text = enrolments.to_string();
        assert!(text.contains(course), "{email}: {text}");
    }
    // Each admin sees an organisation she runs.
    for email in [
        "doyenne@demo-universite.fr",
        "direction@demo-ifsi.fr",
        "direction@demo-odpc.fr",
    ] {
        let admin = app.logged_in(email, PASSWORD).await;
        let orgs: Value = app.get_json(&admin.token, "/api/v1/organisations").await;
        assert_eq!(orgs[0]["my_role"], "org_admin", "{email}: {orgs}");
    }
}

#[tokio::test]
async fn the_demo_has_certificates_to_verify_a_du_file_to_grade_and_no_stray_mail() {
    let app = spawn_app_with(|s| s.courses_dir = real_courses()).await;
    let (pool, settings) = (app.pool.clone(), app.settings.clone());
    tokio::task::spawn_blocking(move || demo::seed(&pool, &settings, PASSWORD))
        .await
        .unwrap()
        .unwrap();

    // A finished QVT module and a finished DPC action, each with a certificate anyone verifies.
    for (email, kind) in [
        ("diplome@demo-universite.fr", "initial_module"),
        ("infirmiere@demo-cabinet.fr", "dpc"),
    ] {
        let user = app.logged_in(email, PASSWORD).await;
        let mine: Value = app.get_json(&user.token, "/api/v1/me/certificates").await;
        assert_eq!(mine[0]["kind"], kind, "{email}: {mine}");
        let code = mine[0]["code"].as_str().unwrap();
        let page = app
            .get(&format!("/verifier/{code}"))
            .await
            .text()
            .await
            .unwrap();
        assert!(page.contains("Attestation valide"), "{email}: {page}");
    }
    // The nurse's declarations carry a mode d'exercice and an RPPS.
    let odpc = app.logged_in("direction@demo-odpc.fr", PASSWORD).await;
    let orgs: Value = app.get_json(&odpc.token, "/api/v1/organisations").await;
    let csv = app
        .get_as(
            &odpc.token,
            &format!(
                "/api/v1/organisations/{}/dpc-declarations.csv",
                orgs[0]["id"].as_str().unwrap()
            ),
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(csv.contains("Libéral") || csv.contains("liberal"), "{csv}");
    // The DU candidate's grades are in the coordinator's grid.
    let dean =
        crate::helpers::Browsing::signed_in_with(&app, "doyenne@demo-universite.fr", PASSWORD)
            .await;
    let (_, gestion) = dean.page("/gestion").await;
    let du = gestion
        .split("href=\"/gestion/sessions/")
        .filter_map(|rest| rest.split_once('"'))
        .find(|(_, after)| after.starts_with(">DU Soigner"))
        .map(|(id, _)| id.to_owned())
        .expect("the DU session is listed");
    let (status, grid) = dean.page(&format!("/gestion/sessions/{du}/diplome")).await;
    assert_eq!(status, 200);
    assert!(
        grid.contains("Karim Haddad") && grid.contains("value=\"12\""),
        "{grid}"
    );
    // Demo addresses are made up: no confirmation mail waits for them.
    let stray: Vec<_> = app
        .mails_to("etudiante@demo-universite.fr")
        .into_iter()
        .filter(|(subject, _)| subject.contains("onfirmez votre adresse"))
        .collect();
    assert!(stray.is_empty(), "{stray:?}");
}
