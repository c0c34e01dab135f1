//! Organisations, members and roles; what one organisation's people can do to another's.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{field_names, problem, spawn_app};
use crate::journeys::PASSWORD;

#[tokio::test]
async fn only_platform_admins_create_organisations_and_identifiers_are_checked() {
    let app = spawn_app().await;
    let admin = app.platform_admin().await;
    let learner = app.learner("etudiante@exemple.fr").await;

    let refused = app
        .post_as(
            &learner.token,
            "/api/v1/organisations",
            &json!({ "kind": "university", "name": "X" }),
        )
        .await;
    problem(refused, 403).await;

    let bad = app
        .post_as(&admin.token, "/api/v1/organisations", &json!({ "kind": "training_body", "name": "ODPC Santé", "uai": "0751717J", "siret": "73282932000075" }))
        .await;
    let mut fields = field_names(&problem(bad, 422).await);
    fields.sort();
    assert_eq!(fields, vec!["odpc_number", "siret", "uai"]);

    let created = app
        .post_as(&admin.token, "/api/v1/organisations", &json!({ "kind": "training_body", "name": "ODPC Santé", "odpc_number": "1234", "siret": "73282932000074" }))
        .await;
    assert_eq!(created.status().as_u16(), 201);
    let body: Value = created.json().await.unwrap();
    assert_eq!(body["odpc_number"], "1234");
}

#[tokio::test]
async fn an_org_admin_manages_members_and_every_change_is_audited() {
    // Arrange
    let app = spawn_app().await;
    let admin = app.platform_admin().await;
    let dean = app.learner("doyen@faculte-exemple.fr").await;
    let student = app.learner("etudiant@faculte-exemple.fr").await;
    let org = app.organisation(&admin, "Faculté de santé", &dean).await;
    let members = format!("/api/v1/organisations/{org}/members");

    // Act
    let added = app
        .post_as(
            &dean.token,
            &members,
            &json!({ "email": student.email, "role": "learner" }),
        )
        .await;
    let duplicate = app
        .post_as(
            &dean.token,
            &members,
            &json!({ "email": student.email, "role": "tutor" }),
        )
        .await;
    let nobody = app
        .post_as(
            &dean.token,
            &members,
            &json!({ "email": "inconnu@exemple.fr", "role": "learner" }),
        )
        .await;
    let promoted = app
        .call(
            Method::PATCH,
            &format!("{members}/{}", student.id),
            &dean.token,
            Some(&json!({ "role": "tutor" })),
        )
        .await;
    let last_admin = app
        .call(
            Method::PATCH,
            &format!("{members}/{}", dean.id),
            &dean.token,
            Some(&json!({ "role": "learner" })),
        )
        .await;

    // Assert
    assert_eq!(added.status().as_u16(), 201);
    assert_eq!(field_names(&problem(duplicate, 409).await), vec!["email"]);
    // An address without an account is invited, answered like any other: the answer
    // does not tell who is registered.
    assert_eq!(nobody.status().as_u16(), 201);
    assert_eq!(promoted.status().as_u16(), 204);
    problem(last_admin, 409).await;

    let list: Vec<Value> = app.get_json(&dean.token, &members).await;
    let roles: Vec<(&str, &str)> = list
        .iter()
        .map(|m| (m["email"].as_str().unwrap(), m["role"].as_str().unwrap()))
        .collect();
    assert!(
        roles.contains(&("etudiant@faculte-exemple.fr", "tutor")),
        "{roles:?}"
    );

    let me: Value = app.get_json(&student.token, "/api/v1/me").await;
    assert_eq!(me["memberships"][0]["role"], "tutor");

    let removed = app
        .call(
            Method::DELETE,
            &format!("{members}/{}", student.id),
            &dean.token,
            None,
        )
        .await;
    assert_eq!(removed.status().as_u16(), 204);

    let audit: Vec<Value> = app
        .get_json(
            &dean.token,
            &format!("/api/v1/organisations/{org}/audit-log"),
        )
        .await;
    let actions: Vec<(&str, &str)> = audit
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["actor_id"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        vec![
            ("organisation.created", admin.id.as_str()),
            ("membership.added", admin.id.as_str()),
            ("membership.added", dean.id.as_str()),
            ("membership.invited", dean.id.as_str()),
            ("membership.role_changed", dean.id.as_str()),
            ("membership.removed", dean.id.as_str()),
        ]
    );
    assert_eq!(
        audit[4]["details"],
        json!({ "from": "learner", "to": "tutor" }).to_string()
    );
}

#[tokio::test]
async fn people_of_one_organisation_can_neither_read_nor_change_another() {
    // Arrange: two universities, each with its admin and a learner.
    let app = spawn_app().await;
    let admin = app.platform_admin().await;
    let admin_a = app.learner("admin@univ-a.fr").await;
    let admin_b = app.learner("admin@univ-b.fr").await;
    let learner_b = app.learner("etudiant@univ-b.fr").await;
    let org_a = app.organisation(&admin, "Université A", &admin_a).await;
    let org_b = app.organisation(&admin, "Université B", &admin_b).await;
    app.post_as(
        &admin_b.token,
        &format!("/api/v1/organisations/{org_b}/members"),
        &json!({ "email": learner_b.email, "role": "learner" }),
    )
    .await;
    let b = format!("/api/v1/organisations/{org_b}");

    // Act & Assert: every identity endpoint of B, called by A's admin, answers 404.
    let attempts: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, b.clone(), None),
        (Method::GET, format!("{b}/members"), None),
        (Method::GET, format!("{b}/audit-log"), None),
        (
            Method::POST,
            format!("{b}/members"),
            Some(json!({ "email": admin_a.email, "role": "org_admin" })),
        ),
        (
            Method::PATCH,
            format!("{b}/members/{}", learner_b.id),
            Some(json!({ "role": "org_admin" })),
        ),
        (
            Method::DELETE,
            format!("{b}/members/{}", learner_b.id),
            None,
        ),
        (Method::DELETE, format!("{b}/members/{}", admin_b.id), None),
    ];
    for (method, path, body) in &attempts {
        let response = app
            .call(method.clone(), path, &admin_a.token, body.as_ref())
            .await;
        assert_eq!(response.status().as_u16(), 404, "{method} {path}");
    }
    // Platform-wide actions are refused to an org admin.
    problem(
        app.post_as(
            &admin_a.token,
            &format!("/api/v1/accounts/{}/disable", learner_b.id),
            &json!({}),
        )
        .await,
        403,
    )
    .await;
    problem(
        app.post_as(
            &admin_a.token,
            "/api/v1/organisations",
            &json!({ "kind": "university", "name": "C" }),
        )
        .await,
        403,
    )
    .await;
    // A's admin sees only A.
    let visible: Vec<Value> = app.get_json(&admin_a.token, "/api/v1/organisations").await;
    assert_eq!(visible.len(), 1);
    assert_eq!(visible[0]["id"], org_a.as_str());
    // A learner of B sees B but not its members.
    assert_eq!(
        app.get_as(&learner_b.token, &b).await.status().as_u16(),
        200
    );
    problem(
        app.get_as(&learner_b.token, &format!("{b}/members")).await,
        403,
    )
    .await;

    // Nothing of B changed.
    let members: Vec<Value> = app.get_json(&admin_b.token, &format!("{b}/members")).await;
    let mut roles: Vec<String> = members
        .iter()
        .map(|m| {
            format!(
                "{}={}",
                m["email"].as_str().unwrap(),
                m["role"].as_str().unwrap()
            )
        })
        .collect();
    roles.sort();
    assert_eq!(
        roles,
        vec!["admin@univ-b.fr=org_admin", "etudiant@univ-b.fr=learner"]
    );
}

#[tokio::test]
async fn a_disabled_account_is_locked_out_at_once() {
    let app = spawn_app().await;
    let admin = app.platform_admin().await;
    let user = app.learner("suspendu@exemple.fr").await;

    let disabled = app
        .post_as(
            &admin.token,
            &format!("/api/v1/accounts/{}/disable", user.id),
            &json!({}),
        )
        .await;

    assert_eq!(disabled.status().as_u16(), 204);
    problem(app.get_as(&user.token, "/api/v1/me").await, 401).await;
    problem(
        app.post_json(
            "/api/v1/auth/refresh",
            &json!({ "refresh_token": user.refresh_token }),
        )
        .await,
        401,
    )
    .await;
    problem(app.login(&user.email, crate::journeys::PASSWORD).await, 401).await;
}

#[tokio::test]
async fn an_address_nobody_confirmed_is_invited_its_squatter_shut_out() {
    // Someone registers a colleague's address without owning the mailbox.
    let app = spawn_app().await;
    let admin = app.platform_admin().await;
    let dean = app.learner("doyenne@faculte-exemple.fr").await;
    let org = app.organisation(&admin, "Faculté", &dean).await;
    app.register("dr.martin@chu-exemple.fr").await;
    let squatter = app.login("dr.martin@chu-exemple.fr", PASSWORD).await;
    assert_eq!(squatter.status().as_u16(), 200);

    let added = app
        .post_as(
            &dean.token,
            &format!("/api/v1/organisations/{org}/members"),
            &json!({ "email": "dr.martin@chu-exemple.fr", "role": "tutor" }),
        )
        .await;

    // Answered as any addition; the squatter's password no longer opens the account, and
    // the mailbox's owner gets the link that sets one.
    assert_eq!(added.status().as_u16(), 201);
    problem(app.login("dr.martin@chu-exemple.fr", PASSWORD).await, 401).await;
    let token = app
        .token_from_mail("dr.martin@chu-exemple.fr", "vous invite")
        .await;
    assert!(!token.is_empty());
}
