//! Proof that holds, on the identity side: one account per RPPS or ADELI number (also
//! under concurrent registrations), numbers attested by a DPC certificate changed only by
//! the training body's staff (audited), unconfirmed accounts kept inactive until their
//! owner follows the (re)sent link, and a CSV import that gives a pre-claimed address back
//! to its owner instead of to whoever registered it.

use diesel::prelude::*;
use qvt_campus::db::schema::{accounts, training_sessions};
use qvt_campus::enrolment::model::EnrolmentStatus;
use qvt_campus::enrolment::service::{self as enrolment, Enroller};
use qvt_campus::enrolment::store;
use qvt_campus::identity::auth::{csrf_of, CurrentUser};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{
    field_names, no_redirects, page_session, problem, setup, world_of, Setup, TestApp,
};
use crate::journeys::{adeli_of, PASSWORD};

/// A valid RPPS number (Luhn key), another one, and a valid ADELI number no helper uses.
const RPPS: &str = "10000000009";
const OTHER_RPPS: &str = "10000000017";

async fn register_with(app: &TestApp, email: &str, numbers: Value) -> reqwest::Response {
    let mut body = json!({ "email": email, "password": PASSWORD, "full_name": "Camille Soignant",
                           "profession": "medecin" });
    for (k, v) in numbers.as_object().unwrap() {
        body[k] = v.clone();
    }
    app.post_json("/api/v1/auth/register", &body).await
}

async fn refused_as_taken(response: reqwest::Response, field: &str) {
    let body = problem(response, 409).await;
    assert_eq!(field_names(&body), vec![field]);
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("contactez l'organisme de formation"),
        "{detail}"
    );
}

#[tokio::test]
async fn an_rpps_or_adeli_number_already_held_is_refused_at_registration_and_in_the_profile() {
    let s = setup().await;
    let app = &s.app;
    assert_eq!(
        register_with(app, "dr.a@exemple.fr", json!({ "rpps": RPPS }))
            .await
            .status()
            .as_u16(),
        201
    );
    let nurse = app.learner("infirmiere.a@exemple.fr").await;

    // Registration: the same RPPS (spaced differently), the same ADELI.
    refused_as_taken(
        register_with(app, "dr.b@exemple.fr", json!({ "rpps": "100 0000 0009" })).await,
        "rpps",
    )
    .await;
    refused_as_taken(
        register_with(
            app,
            "dr.c@exemple.fr",
            json!({ "adeli": adeli_of(&nurse.email) }),
        )
        .await,
        "adeli",
    )
    .await;

    // PATCH /me: another account claiming either number.
    let other = app.learner("infirmiere.b@exemple.fr").await;
    for (field, value) in [("rpps", RPPS.to_owned()), ("adeli", adeli_of(&nurse.email))] {
        let patched = app
            .call(
                Method::PATCH,
                "/api/v1/me",
                &other.token,
                Some(&json!({ field: value })),
            )
            .await;
        refused_as_taken(patched, field).await;
    }
    let me: Value = app.get_json(&other.token, "/api/v1/me").await;
    assert_eq!(me["adeli"], adeli_of(&other.email));
    assert_eq!(me["rpps"], Value::Null);
    // Its own number, sent again, is no conflict.
    let same = app
        .call(
            Method::PATCH,
            "/api/v1/me",
            &other.token,
            Some(&json!({ "adeli": adeli_of(&other.email) })),
        )
        .await;
    assert_eq!(same.status().as_u16(), 200);

    // The account page too.
    let cookie = page_session(app, &other.email).await;
    let page = no_redirects()
        .post(app.url("/mon-compte/numeros"))
        .header("cookie", format!("qvt_access={cookie}"))
        .form(&[
            ("csrf", csrf_of(&cookie).as_str()),
            ("rpps", RPPS),
            ("adeli", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 409);
    let html = page.text().await.unwrap();
    assert!(html.contains("organisme de formation"), "{html}");

    // And a CSV import that would give the number to a new account reports the row.
    let session = s.qvt_session(json!({})).await;
    let report: Value = app
        .import_csv(
            &s.dean.token,
            &session,
            format!("email;nom;prenom;rpps\nnouveau@univ-exemple.fr;Nouveau;Léo;{RPPS}\n"),
            true,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(report["report"][0]["status"], "error", "{report}");
    assert_eq!(
        report["report"][0]["errors"][0]["field"], "rpps",
        "{report}"
    );

    // The sign-up page says so too, next to the form.
    let page = no_redirects()
        .post(app.url("/inscription"))
        .form(&[
            ("email", "dr.d@exemple.fr"),
            ("password", PASSWORD),
            ("first_name", "D"),
            ("last_name", "D"),
            ("profession", "medecin"),
            ("rpps", RPPS),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 409);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("contactez l") && html.contains("organisme de formation"),
        "{html}"
    );
}

#[tokio::test]
async fn of_parallel_registrations_with_one_rpps_exactly_one_is_created() {
    let app = crate::helpers::spawn_app().await;
    let attempts = (0..6).map(|i| {
        let (client, url) = (app.client.clone(), app.url("/api/v1/auth/register"));
        tokio::spawn(async move {
            client
                .post(url)
                .json(&json!({ "email": format!("dr.{i}@exemple.fr"), "password": PASSWORD,
                               "full_name": "Camille Soignant", "profession": "medecin", "rpps": OTHER_RPPS }))
                .send()
                .await
                .unwrap()
        })
    });
    let mut statuses = Vec::new();
    for attempt in attempts.collect::<Vec<_>>() {
        let response = attempt.await.unwrap();
        let status = response.status().as_u16();
        if status == 409 {
            refused_as_taken(response, "rpps").await;
        }
        statuses.push(status);
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 409, 409, 409, 409, 409]);
    let holders: i64 = accounts::table
        .filter(accounts::rpps.eq(OTHER_RPPS))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(holders, 1);
}

#[tokio::test]
async fn a_number_on_a_dpc_certificate_is_changed_by_the_training_body_and_audited() {
    let w = world_of("dpc-securite-exercice").await;
    let (learner, _) = w.certified("infirmiere@cabinet-exemple.fr").await;
    let app = &w.s.app;

    // The learner may no longer change it, nor clear it.
    for patch in [
        json!({ "adeli": "123456789" }),
        json!({ "adeli": null }),
        json!({ "rpps": RPPS }),
    ] {
        let refused = app
            .call(
                Method::PATCH,
                "/api/v1/me",
                &learner.user.token,
                Some(&patch),
            )
            .await;
        let body = problem(refused, 409).await;
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .contains("organisme de formation"),
            "{body}"
        );
    }
    let cookie = page_session(app, &learner.user.email).await;
    let page = no_redirects()
        .post(app.url("/mon-compte/numeros"))
        .header("cookie", format!("qvt_access={cookie}"))
        .form(&[
            ("csrf", csrf_of(&cookie).as_str()),
            ("rpps", ""),
            ("adeli", "123456789"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 409);
    assert!(page
        .text()
        .await
        .unwrap()
        .contains("Demandez la correction"));
    // Other fields stay the learner's.
    let renamed = app
        .call(
            Method::PATCH,
            "/api/v1/me",
            &learner.user.token,
            Some(&json!({ "full_name": "Zoé Martin" })),
        )
        .await;
    assert_eq!(renamed.status().as_u16(), 200);

    // Nor may a learner or another organisation's admin use the staff endpoint.
    let path = format!(
        "/api/v1/enrolments/{}/professional-numbers",
        learner.enrolment
    );
    let by_learner = app
        .call(
            Method::PUT,
            &path,
            &learner.user.token,
            Some(&json!({ "adeli": "123456789" })),
        )
        .await;
    assert!(matches!(by_learner.status().as_u16(), 403 | 404));
    let by_dean = app
        .call(
            Method::PUT,
            &path,
            &w.s.dean.token,
            Some(&json!({ "adeli": "123456789" })),
        )
        .await;
    assert_eq!(by_dean.status().as_u16(), 404);
    // A number held by someone else stays refused for the staff too.
    let taken = app
        .call(
            Method::PUT,
            &path,
            &w.s.odpc_admin.token,
            Some(&json!({ "adeli": adeli_of(&w.s.dean.email) })),
        )
        .await;
    refused_as_taken(taken, "adeli").await;

    // The training body's admin corrects it.
    let old = adeli_of(&learner.user.email);
    let changed = app
        .call(
            Method::PUT,
            &path,
            &w.s.odpc_admin.token,
            Some(&json!({ "adeli": "123456789" })),
        )
        .await;
    assert_eq!(changed.status().as_u16(), 200);
    let me: Value = app.get_json(&learner.user.token, "/api/v1/me").await;
    assert_eq!(me["adeli"], "123456789");

    // And through the session page.
    let cookie = page_session(app, &w.s.odpc_admin.email).await;
    let posted = no_redirects()
        .post(app.url(&format!(
            "/gestion/inscriptions/{}/numeros",
            learner.enrolment
        )))
        .header("cookie", format!("qvt_access={cookie}"))
        .form(&[
            ("csrf", csrf_of(&cookie).as_str()),
            ("rpps", RPPS),
            ("adeli", "123456789"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status().as_u16(), 303);
    let me: Value = app.get_json(&learner.user.token, "/api/v1/me").await;
    assert_eq!(me["rpps"], RPPS);
    let page = app
        .client
        .get(app.url(&format!("/gestion/sessions/{}", w.session)))
        .header("cookie", format!("qvt_access={cookie}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Corriger le numéro"), "{page}");

    // Both changes are in the training body's audit log: who, when, old and new value.
    let audit: Vec<Value> = app
        .get_json(
            &w.s.odpc_admin.token,
            &format!("/api/v1/organisations/{}/audit-log", w.s.training_body),
        )
        .await;
    let changes: Vec<Value> = audit
        .iter()
        .filter(|e| e["action"] == "account.professional_number_changed")
        .map(|e| {
            assert_eq!(e["actor_id"], w.s.odpc_admin.id.as_str());
            assert_eq!(e["target_id"], learner.user.id.as_str());
            assert!(e["at"].is_string());
            let details = match &e["details"] {
                Value::String(s) => serde_json::from_str(s).unwrap(),
                other => other.clone(),
            };
            details["changes"].clone()
        })
        .collect();
    assert_eq!(
        changes,
        vec![
            json!({ "adeli": { "from": old, "to": "123456789" } }),
            json!({ "rpps": { "from": null, "to": RPPS } }),
        ]
    );
}

#[tokio::test]
async fn an_unconfirmed_account_cannot_enrol_nor_start_a_quiz_until_it_follows_the_resent_link() {
    let s: Setup = setup().await;
    let app = &s.app;
    let session = s.qvt_session(serde_json::json!({})).await;
    let email = "etudiante.pressee@univ-exemple.fr";
    assert_eq!(app.register(email).await.status().as_u16(), 201);
    let first_link = crate::helpers::eventually(std::time::Duration::from_secs(10), || {
        app.confirmation_tokens(email).pop()
    })
    .await;
    let user = app.logged_in(email, PASSWORD).await;

    // API: enrolling is refused, with what to do.
    let refused = s.enrol(&user, &session, json!({})).await;
    let body = problem(refused, 403).await;
    assert_eq!(body["type"], "/problems/email-unconfirmed");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("Renvoyer le lien"),
        "{body}"
    );

    // A quiz on an enrolment made before this rule existed is refused too.
    let account = CurrentUser {
        id: user.id.clone(),
        email: email.into(),
        is_platform_admin: false,
        email_verified: true,
    };
    let legacy = enrolment::enrol(
        &mut app.conn(),
        &account,
        &session,
        Enroller::Learner {
            key: None,
            from: "127.0.0.1",
        },
    )
    .unwrap();
    let quiz_path = format!(
        "/api/v1/enrolments/{}/quizzes/quiz-formatif/attempts",
        legacy.id
    );
    let body = problem(app.post_as(&user.token, &quiz_path, &json!({})).await, 403).await;
    assert_eq!(body["type"], "/problems/email-unconfirmed");

    // Pages: the same refusal, with a « Renvoyer le lien » button.
    let cookie = page_session(app, email).await;
    let other_session = s.qvt_session(json!({ "title": "Autre promotion" })).await;
    for path in [
        format!("/sessions/{other_session}/inscription"),
        format!("/apprendre/{}/quiz/quiz-formatif", legacy.id),
    ] {
        let page = no_redirects()
            .post(app.url(&path))
            .header("cookie", format!("qvt_access={cookie}"))
            .form(&[("csrf", csrf_of(&cookie))])
            .send()
            .await
            .unwrap();
        assert_eq!(page.status().as_u16(), 403, "{path}");
        let html = page.text().await.unwrap();
        assert!(
            html.contains("Renvoyer le lien") && html.contains("/verifier-email/renvoyer"),
            "{html}"
        );
    }

    // The dashboard says so from the start.
    let dashboard = app
        .client
        .get(app.url("/tableau-de-bord"))
        .header("cookie", format!("qvt_access={cookie}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(dashboard.contains("pas encore confirmée") && dashboard.contains("Renvoyer le lien"));

    // The button asks for a new link; an unknown address gets the same answer.
    let resend = |address: &'static str| {
        no_redirects()
            .post(app.url("/verifier-email/renvoyer"))
            .form(&[("email", address)])
            .send()
    };
    let known = resend(email).await.unwrap();
    let unknown = resend("personne@univ-exemple.fr").await.unwrap();
    assert_eq!(
        (known.status().as_u16(), unknown.status().as_u16()),
        (200, 200)
    );
    assert_eq!(known.text().await.unwrap(), unknown.text().await.unwrap());
    let api = app
        .post_json(
            "/api/v1/auth/verify-email/resend",
            &json!({ "email": "personne@univ-exemple.fr" }),
        )
        .await;
    assert_eq!(api.status().as_u16(), 202);
    let new_link = crate::helpers::eventually(std::time::Duration::from_secs(10), || {
        app.confirmation_tokens(email)
            .into_iter()
            .find(|t| *t != first_link)
    })
    .await;

    // Following the resent link confirms the address: enrolling and the quiz now work.
    let confirmed = app.get(&format!("/verifier-email?jeton={new_link}")).await;
    assert!(confirmed
        .text()
        .await
        .unwrap()
        .contains("Adresse confirmée"));
    assert_eq!(
        s.enrol(&user, &other_session, json!({}))
            .await
            .status()
            .as_u16(),
        201
    );
    let started = app.post_as(&user.token, &quiz_path, &json!({})).await;
    assert_eq!(
        started.status().as_u16(),
        201,
        "{}",
        started.text().await.unwrap()
    );
}

#[tokio::test]
async fn importing_a_pre_claimed_unconfirmed_address_gives_the_account_to_its_owner() {
    let s = setup().await;
    let app = &s.app;
    let session = s
        .qvt_session(json!({ "enrolment_mode": "admin_only" }))
        .await;
    // An attacker registers the student's address before the university imports its roster.
    let victim = "future.etudiante@univ-exemple.fr";
    register_with(app, victim, json!({ "rpps": RPPS })).await;
    let attacker = app.logged_in(victim, PASSWORD).await;
    // Another one had been made a learner of the session by an import before this rule.
    let earlier = "deja.inscrite@univ-exemple.fr";
    register_with(app, earlier, json!({})).await;
    let squatter = app.logged_in(earlier, PASSWORD).await;
    let version: String = training_sessions::table
        .find(&session)
        .select(training_sessions::course_version_id)
        .first(&mut app.conn())
        .unwrap();
    store::insert_enrolment(
        &mut app.conn(),
        &store::Enrolment {
            id: uuid::Uuid::new_v4().to_string(),
            session_id: session.clone(),
            account_id: squatter.id.clone(),
            course_version_id: version,
            status: EnrolmentStatus::Active,
            enrolled_by: Some(s.dean.id.clone()),
            enrolled_at: chrono::Utc::now().naive_utc(),
            withdrawn_by: None,
            withdrawn_at: None,
        },
    )
    .unwrap();

    let imported = app
        .import_csv(
            &s.dean.token,
            &session,
            format!("email;nom;prenom\n{victim};Etudiante;Vraie\n{earlier};Inscrite;Déjà\n"),
            false,
        )
        .await;
    assert_eq!(imported.status().as_u16(), 200);
    let report: Value = imported.json().await.unwrap();
    // The report does not tell who had an account: both rows are just « to enrol ».
    assert!(report.get("invited_existing").is_none(), "{report}");
    assert_eq!(
        report["enrolled"], 1,
        "the earlier enrolment is kept, not doubled"
    );
    assert_eq!(report["report"][0]["status"], "to_enrol");
    assert_eq!(report["report"][1]["status"], "to_enrol");
    assert_eq!(
        app.get_as(&squatter.token, "/api/v1/me")
            .await
            .status()
            .as_u16(),
        401
    );
    assert_eq!(app.login(earlier, PASSWORD).await.status().as_u16(), 401);
    app.token_from_mail(earlier, "vous inscrit").await;

    // The pre-claimer holds nothing any more: token, refresh token and password are dead.
    assert_eq!(
        app.get_as(&attacker.token, "/api/v1/me")
            .await
            .status()
            .as_u16(),
        401
    );
    assert_eq!(
        app.get_as(&attacker.token, &format!("/api/v1/sessions/{session}"))
            .await
            .status()
            .as_u16(),
        401
    );
    assert_eq!(app.login(victim, PASSWORD).await.status().as_u16(), 401);
    let refreshed = app
        .post_json(
            "/api/v1/auth/refresh",
            &json!({ "refresh_token": attacker.refresh_token }),
        )
        .await;
    assert_eq!(refreshed.status().as_u16(), 401);

    // The owner's invitation link opens a page (F17) that sets her password.
    let token = app.token_from_mail(victim, "vous inscrit").await;
    let form = app
        .get(&format!("/definir-mot-de-passe?jeton={token}"))
        .await;
    assert_eq!(form.status().as_u16(), 200);
    let set = no_redirects()
        .post(app.url("/reinitialiser-mot-de-passe"))
        .form(&[
            ("token", token.as_str()),
            ("password", "mon vrai mot de passe"),
        ])
        .send()
        .await
        .unwrap();
    // She is signed in at once and told so on her dashboard.
    assert_eq!(
        set.headers()["location"],
        "/tableau-de-bord?mot-de-passe=enregistre"
    );
    let session = crate::helpers::access_cookie(&set);
    let dashboard = no_redirects()
        .get(app.url("/tableau-de-bord?mot-de-passe=enregistre"))
        .header("cookie", format!("qvt_access={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(dashboard.status().as_u16(), 200);
    let text = dashboard.text().await.unwrap();
    assert!(text.contains("Vraie Etudiante"), "signed in as herself");
    assert!(text.contains("Votre mot de passe est enregistré"), "{text}");
    let owner = app.logged_in(victim, "mon vrai mot de passe").await;
    let me: Value = app.get_json(&owner.token, "/api/v1/me").await;
    assert_eq!(me["email_verified"], true);
    assert_eq!(me["full_name"], "Vraie Etudiante");
    assert_eq!(me["rpps"], Value::Null, "the pre-claimer's number is gone");
    assert_eq!(
        me["memberships"][0]["organisation_id"],
        s.university.as_str()
    );
    let mine: Vec<Value> = app.get_json(&owner.token, "/api/v1/me/enrolments").await;
    assert_eq!(mine.len(), 1);
}
