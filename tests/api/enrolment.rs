//! Sessions and enrolments: creation rules, self and admin enrolment, dates, keys, DPC
//! identifiers, withdrawal, the capacity race, and cross-organisation denial.

use std::time::Duration;

use chrono::Utc;
use qvt_campus::identity::store::{self as identity, Account};
use qvt_campus::identity::tokens::KeyRing;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{day, field_names, problem, setup};

#[tokio::test]
async fn an_org_admin_opens_a_session_pinned_to_the_current_course_version() {
    let s = setup().await;
    let outline: Value = s
        .app
        .get("/api/v1/courses/qvt-formation-initiale")
        .await
        .json()
        .await
        .unwrap();

    let session = s
        .session(&s.dean, &s.university, json!({ "course": "qvt-formation-initiale", "title": "IFSI promotion 2026", "opens_on": day(0), "closes_on": day(60), "capacity": 120, "enrolment_mode": "key", "enrolment_key": "IFSI-2026", "curriculum": "IFSI" }))
        .await;

    assert_eq!(session["course_version_id"], outline["version_id"]);
    assert_eq!(session["seats_left"], 120);
    assert!(
        !session.to_string().contains("IFSI-2026"),
        "the key is never sent back"
    );

    let bad = s
        .app
        .post_as(&s.dean.token, &format!("/api/v1/organisations/{}/sessions", s.university), &json!({ "course": "qvt-formation-initiale", "title": "", "opens_on": "2026-13-01", "closes_on": day(1), "enrolment_mode": "key", "capacity": 0 }))
        .await;
    let mut fields = field_names(&problem(bad, 422).await);
    fields.sort();
    assert_eq!(
        fields,
        vec!["capacity", "enrolment_key", "opens_on", "title"]
    );

    let unknown = s.app.post_as(&s.dean.token, &format!("/api/v1/organisations/{}/sessions", s.university), &json!({ "course": "cours-inconnu", "title": "X", "opens_on": day(0), "closes_on": day(1), "enrolment_mode": "open" })).await;
    assert_eq!(field_names(&problem(unknown, 422).await), vec!["course"]);
    let dpc_at_university = s.app.post_as(&s.dean.token, &format!("/api/v1/organisations/{}/sessions", s.university), &json!({ "course": "dpc-securite-exercice", "title": "X", "opens_on": day(0), "closes_on": day(1), "enrolment_mode": "open", "dpc_action_ref": "12345678901", "dpc_session_no": "1", "dpc_orientation": "12" })).await;
    assert_eq!(
        field_names(&problem(dpc_at_university, 422).await),
        vec!["course"]
    );
    let dpc_without_ref = s.app.post_as(&s.odpc_admin.token, &format!("/api/v1/organisations/{}/sessions", s.training_body), &json!({ "course": "dpc-securite-exercice", "title": "X", "opens_on": day(0), "closes_on": day(1), "enrolment_mode": "open" })).await;
    let mut missing = field_names(&problem(dpc_without_ref, 422).await);
    missing.sort();
    assert_eq!(
        missing,
        vec!["dpc_action_ref", "dpc_orientation", "dpc_session_no"]
    );
    let dpc = s.session(&s.odpc_admin, &s.training_body, json!({ "course": "dpc-securite-exercice", "title": "Session 1", "opens_on": day(0), "closes_on": day(10), "enrolment_mode": "open", "dpc_action_ref": "1234 5678 901", "dpc_session_no": "1", "dpc_orientation": "12" })).await;
    assert_eq!(dpc["odpc_number"], "4321");
    assert_eq!(dpc["dpc_action_ref"], "12345678901");
    assert_eq!(dpc["dpc_orientation"], "12");
}

#[tokio::test]
async fn learners_enrol_themselves_in_open_and_key_sessions_but_not_admin_only_ones() {
    let s = setup().await;
    let open = s.qvt_session(json!({})).await;
    let keyed = s
        .qvt_session(json!({ "enrolment_mode": "key", "enrolment_key": "DFGSM-2026" }))
        .await;
    let closed_mode = s
        .qvt_session(json!({ "enrolment_mode": "admin_only" }))
        .await;
    let learner = s.app.learner("etudiante@univ-exemple.fr").await;

    let enrolled = s.enrol(&learner, &open, json!({})).await;
    assert_eq!(enrolled.status().as_u16(), 201);
    problem(s.enrol(&learner, &open, json!({})).await, 409).await;
    assert_eq!(
        field_names(&problem(s.enrol(&learner, &keyed, json!({})).await, 422).await),
        vec!["enrolment_key"]
    );
    assert_eq!(
        field_names(
            &problem(
                s.enrol(&learner, &keyed, json!({ "enrolment_key": "mauvaise-cle" }))
                    .await,
                422
            )
            .await
        ),
        vec!["enrolment_key"]
    );
    assert_eq!(
        s.enrol(&learner, &keyed, json!({ "enrolment_key": "DFGSM-2026" }))
            .await
            .status()
            .as_u16(),
        201
    );
    problem(s.enrol(&learner, &closed_mode, json!({})).await, 404).await;

    let mine: Vec<Value> = s
        .app
        .get_json(&learner.token, "/api/v1/me/enrolments")
        .await;
    assert_eq!(mine.len(), 2);
    let subject = s
        .app
        .token_from_mail_subject(&learner.email, "inscription confirmée")
        .await;
    let outline: Value = s
        .app
        .get("/api/v1/courses/qvt-formation-initiale")
        .await
        .json()
        .await
        .unwrap();
    assert!(
        subject.contains(outline["title"].as_str().unwrap()),
        "{subject}"
    );
    let public: Vec<Value> = s
        .app
        .get("/api/v1/sessions?course=qvt-formation-initiale")
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = public.iter().map(|v| v["id"].as_str().unwrap()).collect();
    assert!(
        ids.contains(&open.as_str())
            && ids.contains(&keyed.as_str())
            && !ids.contains(&closed_mode.as_str())
    );
}

#[tokio::test]
async fn dates_and_closing_decide_whether_a_session_takes_enrolments() {
    let s = setup().await;
    let past = s
        .qvt_session(json!({ "opens_on": day(-30), "closes_on": day(-1) }))
        .await;
    let future = s
        .qvt_session(json!({ "opens_on": day(5), "closes_on": day(30) }))
        .await;
    let open = s.qvt_session(json!({})).await;
    let learner = s.app.learner("interne@univ-exemple.fr").await;
    s.app
        .post_as(
            &s.dean.token,
            &format!("/api/v1/organisations/{}/members", s.university),
            &json!({ "email": learner.email, "role": "learner" }),
        )
        .await;

    problem(s.enrol(&learner, &past, json!({})).await, 409).await;
    problem(
        s.enrol(&s.dean, &past, json!({ "user_id": learner.id }))
            .await,
        409,
    )
    .await;
    problem(s.enrol(&learner, &future, json!({})).await, 409).await;
    let early = s
        .enrol(&s.dean, &future, json!({ "user_id": learner.id }))
        .await;
    assert_eq!(
        early.status().as_u16(),
        201,
        "admins may enrol before opening"
    );
    let early: Value = early.json().await.unwrap();
    let lesson = s
        .app
        .get_as(
            &learner.token,
            &format!(
                "/api/v1/enrolments/{}/lessons/01-ce-que-recouvre-la-qvt",
                early["id"].as_str().unwrap()
            ),
        )
        .await;
    let refused = problem(lesson, 409).await;
    assert!(
        refused["detail"].as_str().unwrap().contains("ouvre le"),
        "the lessons wait for the session to open: {refused}"
    );

    let closed = s
        .app
        .call(
            Method::PATCH,
            &format!("/api/v1/sessions/{open}"),
            &s.dean.token,
            Some(&json!({ "closed": true })),
        )
        .await;
    assert_eq!(closed.status().as_u16(), 200);
    problem(s.enrol(&learner, &open, json!({})).await, 409).await;
}

#[tokio::test]
async fn a_dpc_session_needs_an_rpps_or_adeli_number() {
    let s = setup().await;
    let session = s.session(&s.odpc_admin, &s.training_body, json!({ "course": "dpc-tensions-conflits", "title": "Session 2", "opens_on": day(0), "closes_on": day(10), "enrolment_mode": "open", "dpc_action_ref": "12345678901", "dpc_session_no": "2", "dpc_orientation": "12" })).await;
    let session = session["id"].as_str().unwrap();
    let without = s.app.learner("sans-numero@exemple.fr").await;
    s.app
        .call(
            Method::PATCH,
            "/api/v1/me",
            &without.token,
            Some(&json!({ "adeli": null })),
        )
        .await;
    let with = s.app.learner("avec-numero@exemple.fr").await;

    let refused = problem(s.enrol(&without, session, json!({})).await, 422).await;
    let accepted = s.enrol(&with, session, json!({})).await;

    assert_eq!(field_names(&refused), vec!["rpps"]);
    assert!(refused["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("RPPS ou ADELI"));
    assert_eq!(accepted.status().as_u16(), 201);
}

#[tokio::test]
async fn withdrawal_keeps_history_and_frees_the_seat() {
    let s = setup().await;
    let session = s.qvt_session(json!({ "capacity": 1 })).await;
    let first = s.app.learner("premiere@univ-exemple.fr").await;
    let second = s.app.learner("second@univ-exemple.fr").await;

    let enrolment: Value = s
        .enrol(&first, &session, json!({}))
        .await
        .json()
        .await
        .unwrap();
    let full = problem(s.enrol(&second, &session, json!({})).await, 409).await;
    assert!(full["detail"].as_str().unwrap().contains("complète"));
    let path = format!("/api/v1/enrolments/{}", enrolment["id"].as_str().unwrap());
    let withdrawn: Value = s
        .app
        .call(Method::DELETE, &path, &first.token, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(withdrawn["status"], "withdrawn");
    problem(
        s.app.call(Method::DELETE, &path, &first.token, None).await,
        409,
    )
    .await;
    assert_eq!(
        s.enrol(&second, &session, json!({}))
            .await
            .status()
            .as_u16(),
        201
    );

    let learners: Vec<Value> = s
        .app
        .get_json(
            &s.dean.token,
            &format!("/api/v1/sessions/{session}/enrolments"),
        )
        .await;
    let statuses: Vec<(&str, &str)> = learners
        .iter()
        .map(|l| {
            (
                l["email"].as_str().unwrap(),
                l["enrolment"]["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(statuses.len(), 2);
    assert!(
        statuses.contains(&("premiere@univ-exemple.fr", "withdrawn"))
            && statuses.contains(&("second@univ-exemple.fr", "active"))
    );
    s.app
        .token_from_mail_subject(&first.email, "désinscription")
        .await;
}

#[tokio::test]
async fn a_hundred_simultaneous_requests_fill_ten_seats_exactly() {
    // Arrange: a session of capacity 10 and 100 learners with tokens.
    let s = setup().await;
    let session = s.qvt_session(json!({ "capacity": 10 })).await;
    let keys = KeyRing::load_or_create(
        &s.app.settings.identity.keys_dir,
        &s.app.settings.public_url,
    )
    .unwrap();
    let now = Utc::now().naive_utc();
    let mut tokens = Vec::new();
    for i in 0..100 {
        let account = Account {
            id: identity::new_id(),
            email: format!("candidat{i}@univ-exemple.fr"),
            full_name: format!("Candidat {i}"),
            password_hash: String::new(),
            profession: "etudiant".into(),
            rpps: None,
            adeli: None,
            student_number: None,
            mode_exercice: None,
            is_platform_admin: false,
            email_verified_at: Some(now),
            disabled_at: None,
            erased_at: None,
            created_at: now,
            updated_at: now,
            page_session_epoch: 0,
            first_name: None,
            last_name: None,
        };
        identity::insert_account(&mut s.app.conn(), &account).unwrap();
        tokens.push(
            keys.issue_access(&account.id, Duration::from_secs(900), 0)
                .unwrap(),
        );
    }

    // Act: all at once (on PostgreSQL, spread over three instances).
    let instances = s.app.instances().await;
    let path = format!("/api/v1/sessions/{session}/enrolments");
    let requests = tokens.into_iter().enumerate().map(|(i, token)| {
        let (client, url) = (s.app.client.clone(), instances.nth(i).url(&path));
        tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(token)
                .json(&json!({}))
                .send()
                .await
                .unwrap()
        })
    });
    let responses: Vec<reqwest::Response> = futures_util::future::join_all(requests)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();

    // Assert
    let created = responses
        .iter()
        .filter(|r| r.status().as_u16() == 201)
        .count();
    let refused: Vec<&reqwest::Response> = responses
        .iter()
        .filter(|r| r.status().as_u16() == 409)
        .collect();
    assert_eq!((created, refused.len()), (10, 90));
    assert!(refused
        .iter()
        .all(|r| r.headers()["content-type"] == "application/problem+json"));
    let view: Value = s
        .app
        .get_json(&s.dean.token, &format!("/api/v1/sessions/{session}"))
        .await;
    assert_eq!(
        (view["enrolled"].as_i64(), view["seats_left"].as_i64()),
        (Some(10), Some(0))
    );
}

#[tokio::test]
async fn another_organisation_can_touch_none_of_these_sessions() {
    let s = setup().await;
    let session = s
        .qvt_session(json!({ "enrolment_mode": "admin_only" }))
        .await;
    let learner = s.app.learner("membre@univ-exemple.fr").await;
    s.app
        .post_as(
            &s.dean.token,
            &format!("/api/v1/organisations/{}/members", s.university),
            &json!({ "email": learner.email, "role": "learner" }),
        )
        .await;
    let enrolment: Value = s
        .enrol(&s.dean, &session, json!({ "user_id": learner.id }))
        .await
        .json()
        .await
        .unwrap();
    let outsider = &s.odpc_admin;

    let attempts: Vec<(Method, String, Option<Value>)> = vec![
        (
            Method::POST,
            format!("/api/v1/organisations/{}/sessions", s.university),
            Some(
                json!({ "course": "qvt-formation-initiale", "title": "X", "opens_on": day(0), "closes_on": day(1), "enrolment_mode": "open" }),
            ),
        ),
        (
            Method::GET,
            format!("/api/v1/organisations/{}/sessions", s.university),
            None,
        ),
        (Method::GET, format!("/api/v1/sessions/{session}"), None),
        (
            Method::PATCH,
            format!("/api/v1/sessions/{session}"),
            Some(json!({ "closed": true })),
        ),
        (
            Method::GET,
            format!("/api/v1/sessions/{session}/enrolments"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/sessions/{session}/enrolments"),
            Some(json!({ "user_id": learner.id })),
        ),
        (
            Method::DELETE,
            format!("/api/v1/enrolments/{}", enrolment["id"].as_str().unwrap()),
            None,
        ),
    ];
    for (method, path, body) in &attempts {
        let response = s
            .app
            .call(method.clone(), path, &outsider.token, body.as_ref())
            .await;
        assert_eq!(response.status().as_u16(), 404, "{method} {path}");
    }
    let import = s
        .app
        .import_csv(
            &outsider.token,
            &session,
            "email;nom;prenom\na@b.fr;A;B\n",
            false,
        )
        .await;
    problem(import, 404).await;
    // A learner of the university sees the session but neither its learners nor its settings.
    problem(
        s.app
            .get_as(
                &learner.token,
                &format!("/api/v1/sessions/{session}/enrolments"),
            )
            .await,
        403,
    )
    .await;
    problem(
        s.app
            .call(
                Method::PATCH,
                &format!("/api/v1/sessions/{session}"),
                &learner.token,
                Some(&json!({ "closed": true })),
            )
            .await,
        403,
    )
    .await;
    // Nothing changed.
    let view: Value = s
        .app
        .get_json(&s.dean.token, &format!("/api/v1/sessions/{session}"))
        .await;
    assert_eq!(
        (view["closed"].as_bool(), view["enrolled"].as_i64()),
        (Some(false), Some(1))
    );
}
