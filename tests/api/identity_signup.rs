//! Registration and e-mail verification.

use serde_json::{json, Value};

use crate::helpers::{field_names, problem, spawn_app};
use crate::journeys::PASSWORD;

#[tokio::test]
async fn a_learner_registers_and_confirms_the_address_from_the_mail() {
    // Arrange
    let app = spawn_app().await;

    // Act
    let response = app.register("Camille.Soignant@Cabinet-Exemple.fr").await;

    // Assert: created, e-mail lower-cased, not yet verified, no secret in the body.
    assert_eq!(response.status().as_u16(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["email"], "camille.soignant@cabinet-exemple.fr");
    assert_eq!(body["profession"], "infirmier");
    assert_eq!(body["profession_label"], "Infirmier");
    assert_eq!(body["email_verified"], false);
    assert!(!body.to_string().contains("argon2"));

    let token = app
        .token_from_mail(
            "camille.soignant@cabinet-exemple.fr",
            "confirmez votre adresse",
        )
        .await;
    let verified = app
        .post_json("/api/v1/auth/verify-email", &json!({ "token": token }))
        .await;
    assert_eq!(verified.status().as_u16(), 204);
    let user = app
        .logged_in("camille.soignant@cabinet-exemple.fr", PASSWORD)
        .await;
    let me: Value = app.get_json(&user.token, "/api/v1/me").await;
    assert_eq!(me["email_verified"], true);

    // The link works once.
    let again = app
        .post_json("/api/v1/auth/verify-email", &json!({ "token": token }))
        .await;
    assert_eq!(field_names(&problem(again, 422).await), vec!["token"]);
}

#[tokio::test]
async fn every_invalid_field_is_named_in_one_answer() {
    let app = spawn_app().await;
    let response = app
        .post_json(
            "/api/v1/auth/register",
            &json!({
                "email": "pas-une-adresse", "password": "court", "full_name": "  ",
                "profession": "sorcier", "rpps": "10000000008", "adeli": "12345678",
                "student_number": "n° 12", "mode_exercice": "libéral",
            }),
        )
        .await;
    let body = problem(response, 422).await;
    let mut fields = field_names(&body);
    fields.sort();
    assert_eq!(
        fields,
        vec![
            "adeli",
            "email",
            "full_name",
            "mode_exercice",
            "password",
            "profession",
            "rpps",
            "student_number"
        ]
    );
    let rpps = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["field"] == "rpps")
        .unwrap();
    assert!(rpps["message"].as_str().unwrap().contains("clé"), "{rpps}");
}

#[tokio::test]
async fn missing_and_unknown_fields_are_named() {
    let app = spawn_app().await;
    let mut missing = field_names(
        &problem(
            app.post_json("/api/v1/auth/register", &json!({})).await,
            422,
        )
        .await,
    );
    missing.sort();
    // Without a full name, the first and last names are asked apart.
    assert_eq!(
        missing,
        vec!["email", "first_name", "last_name", "password", "profession"]
    );

    let unknown = app
        .post_json(
            "/api/v1/auth/register",
            &json!({ "email": "a@b.fr", "is_platform_admin": true }),
        )
        .await;
    assert_eq!(
        field_names(&problem(unknown, 422).await),
        vec!["is_platform_admin"]
    );
}

#[tokio::test]
async fn a_valid_rpps_is_kept_and_an_address_is_unique_whatever_its_case() {
    let app = spawn_app().await;
    let response = app
        .post_json(
            "/api/v1/auth/register",
            &json!({ "email": "dr.martin@exemple.fr", "password": PASSWORD, "full_name": "Dr Martin",
                     "profession": "medecin", "rpps": "100 0000 0009" }),
        )
        .await;
    assert_eq!(response.status().as_u16(), 201);
    assert_eq!(
        response.json::<Value>().await.unwrap()["rpps"],
        "10000000009"
    );

    // A taken address gets the same answer as a new one (sign-up does not tell who is
    // registered); its owner is mailed instead, and no second account exists.
    let fresh = app.register("nouvelle.venue@exemple.fr").await;
    let duplicate = app.register("DR.MARTIN@exemple.fr").await;
    assert_eq!(duplicate.status(), fresh.status());
    let (fresh, duplicate): (Value, Value) =
        (fresh.json().await.unwrap(), duplicate.json().await.unwrap());
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&duplicate), keys(&fresh));
    assert_eq!(duplicate["email_verified"], false);
    crate::helpers::eventually(std::time::Duration::from_secs(10), || {
        app.mails_to("dr.martin@exemple.fr")
            .iter()
            .any(|(subject, _)| subject.contains("déjà un compte"))
            .then_some(())
    })
    .await;
    let count: i64 = {
        use diesel::prelude::*;
        use qvt_campus::db::schema::accounts;
        accounts::table
            .filter(accounts::email.eq("dr.martin@exemple.fr"))
            .count()
            .get_result(&mut app.conn())
            .unwrap()
    };
    assert_eq!(count, 1);
}

#[tokio::test]
async fn a_profile_update_sets_clears_and_checks_fields() {
    let app = spawn_app().await;
    let user = app.learner("profil@exemple.fr").await;

    let bad = app
        .call(
            reqwest::Method::PATCH,
            "/api/v1/me",
            &user.token,
            Some(&json!({ "rpps": "123", "profession": "magicien" })),
        )
        .await;
    let mut fields = field_names(&problem(bad, 422).await);
    fields.sort();
    assert_eq!(fields, vec!["profession", "rpps"]);

    let updated = app
        .call(
            reqwest::Method::PATCH,
            "/api/v1/me",
            &user.token,
            Some(&json!({ "adeli": null, "rpps": "10000000009", "profession": "medecin", "mode_exercice": "mixte" })),
        )
        .await;
    assert_eq!(updated.status().as_u16(), 200);
    let me: Value = app.get_json(&user.token, "/api/v1/me").await;
    assert_eq!(me["adeli"], Value::Null);
    assert_eq!(me["rpps"], "10000000009");
    assert_eq!(me["profession"], "medecin");
    assert_eq!(me["mode_exercice"], "mixte");
    assert_eq!(me["full_name"], "Camille Soignant", "untouched");
}
