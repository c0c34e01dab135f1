//! An organisation's local resources, set by its admins and shown in its learners' lessons;
//! lesson activities, stored and required before a lesson is done.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{course_with_completion, day, setup_in, Setup};
use crate::helpers::{field_names, problem};
use crate::journeys::{User, PASSWORD};

const COURSE: &str = "qvt-formation-initiale";
/// The lesson that names the helpline (`{{config:ecoute}}`).
const HELP: &str = "07-aides-et-dispositifs";

/// The QVT module, lessons in any order, at the university and at a nursing school.
struct TwoSchools {
    s: Setup,
    school: String,
    school_admin: User,
    _courses: tempfile::TempDir,
}

async fn two_schools() -> TwoSchools {
    let courses = course_with_completion(COURSE, "min_lesson_seconds = 0");
    let s = setup_in(courses.path().to_path_buf()).await;
    let admin = s.app.logged_in("admin@qvt-campus.fr", PASSWORD).await;
    let school_admin = s.app.learner("direction@ifsi-exemple.fr").await;
    let school = s
        .app
        .organisation(&admin, "IFSI Exemple", &school_admin)
        .await;
    TwoSchools {
        s,
        school,
        school_admin,
        _courses: courses,
    }
}

impl TwoSchools {
    async fn put_resources(
        &self,
        by: &User,
        organisation: &str,
        values: Value,
    ) -> reqwest::Response {
        self.s
            .app
            .call(
                Method::PUT,
                &format!("/api/v1/organisations/{organisation}/resources"),
                &by.token,
                Some(&json!({ "values": values })),
            )
            .await
    }

    /// A learner of `organisation` (as enrolled by `by`), reading lesson `lesson`.
    async fn learner_reads(
        &self,
        email: &str,
        by: &User,
        organisation: &str,
        lesson: &str,
    ) -> Reading {
        let session = self
            .s
            .session(
                by,
                organisation,
                json!({ "course": COURSE, "title": "Promotion", "opens_on": day(-1),
                                               "closes_on": day(30), "enrolment_mode": "open" }),
            )
            .await;
        let learner = self.s.app.learner(email).await;
        let enrolment: Value = self
            .s
            .enrol(&learner, session["id"].as_str().unwrap(), json!({}))
            .await
            .json()
            .await
            .unwrap();
        let path = format!(
            "/api/v1/enrolments/{}/lessons/{lesson}",
            enrolment["id"].as_str().unwrap()
        );
        let opened = self.s.app.get_as(&learner.token, &path).await;
        assert_eq!(opened.status().as_u16(), 200);
        Reading {
            view: opened.json().await.unwrap(),
            token: learner.token,
            enrolment: enrolment["id"].as_str().unwrap().to_owned(),
            path,
        }
    }
}

/// A lesson as a learner read it, and where: their token, enrolment and the lesson's path.
struct Reading {
    view: Value,
    token: String,
    enrolment: String,
    path: String,
}

#[tokio::test]
async fn each_organisations_learners_read_its_own_helpline_and_the_national_default_otherwise() {
    // Arrange: the university gives its helpline, the school its own with a line break.
    let t = two_schools().await;
    let set = t
        .put_resources(
            &t.s.dean,
            &t.s.university,
            json!({ "ecoute": "Cellule d'écoute de l'Université Exemple : 01 23 45 67 89" }),
        )
        .await;
    assert_eq!(set.status().as_u16(), 200);
    let set = t
        .put_resources(
            &t.school_admin,
            &t.school,
            json!({ "ecoute": "Psychologue de l'IFSI <mardi & jeudi>\nBureau 12" }),
        )
        .await;
    assert_eq!(set.status().as_u16(), 200);

    // Act: a student of each reads the lesson on the help available.
    let at_university = t
        .learner_reads(
            "etudiante@univ-exemple.fr",
            &t.s.dean,
            &t.s.university,
            HELP,
        )
        .await;
    let at_school = t
        .learner_reads("etudiant@ifsi-exemple.fr", &t.school_admin, &t.school, HELP)
        .await;

    // Assert: each reads their own, escaped, and never the other's.
    let university_html = at_university.view["html"].as_str().unwrap();
    let school_html = at_school.view["html"].as_str().unwrap();
    assert!(
        university_html.contains("Cellule d'écoute de l'Université Exemple : 01 23 45 67 89"),
        "{university_html}"
    );
    assert!(!university_html.contains("IFSI"));
    assert!(
        school_html.contains("Psychologue de l'IFSI &lt;mardi &amp; jeudi&gt;<br>Bureau 12"),
        "{school_html}"
    );
    assert!(!school_html.contains("Université Exemple"));
    assert!(!school_html.contains("a-configurer"), "no marker left");

    // A field the school has not filled shows the national default, marked as such; once
    // cleared, the helpline does too.
    let cleared = t
        .put_resources(&t.school_admin, &t.school, json!({ "ecoute": null }))
        .await;
    assert_eq!(cleared.status().as_u16(), 200);
    let again: Value = t.s.app.get_json(&at_school.token, &at_school.path).await;
    let html = again["html"].as_str().unwrap();
    assert!(
        html.contains("repère national") && html.contains("24 h/24"),
        "{html}"
    );
}

#[tokio::test]
async fn only_an_organisations_admins_change_its_resources_and_bad_fields_are_named() {
    let t = two_schools().await;
    // Another organisation's admin cannot see, let alone change, the school's resources.
    problem(
        t.put_resources(&t.s.dean, &t.school, json!({ "ecoute": "x" }))
            .await,
        404,
    )
    .await;
    let listed =
        t.s.app
            .get_as(
                &t.s.dean.token,
                &format!("/api/v1/organisations/{}/resources", t.school),
            )
            .await;
    problem(listed, 404).await;

    // Unknown fields and over-long values are named; nothing is written.
    let refused = t
        .put_resources(
            &t.school_admin,
            &t.school,
            json!({ "ecoute": "Ligne", "inconnu": "x", "urgence": "y".repeat(601) }),
        )
        .await;
    let body = problem(refused, 422).await;
    assert_eq!(field_names(&body), ["values.inconnu", "values.urgence"]);
    let listed: Value =
        t.s.app
            .get_json(
                &t.school_admin.token,
                &format!("/api/v1/organisations/{}/resources", t.school),
            )
            .await;
    let ecoute = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["key"] == "ecoute")
        .unwrap();
    assert_eq!(ecoute["value"], Value::Null, "all or nothing");
    assert!(ecoute["national_default"]
        .as_str()
        .unwrap()
        .contains("24 h/24"));
}

#[tokio::test]
async fn a_lesson_is_done_once_its_activities_are_answered_and_answers_unlock_the_commentary() {
    let t = two_schools().await;
    let reading = t
        .learner_reads(
            "etudiante@univ-exemple.fr",
            &t.s.dean,
            &t.s.university,
            "01-ce-que-recouvre-la-qvt",
        )
        .await;
    let (view, token, path) = (&reading.view, reading.token.as_str(), &reading.path);
    let activities = view["activities"].as_array().unwrap();
    assert!(!activities.is_empty(), "{view}");
    assert!(
        activities.iter().all(|a| a["commentary_html"].is_null()),
        "nothing before answering"
    );
    assert!(view["references"].as_array().is_some_and(|r| !r.is_empty()));
    assert!(view["reviewed_on"].is_string());

    // Not done while an activity waits.
    let refused = problem(
        t.s.app
            .post_as(token, &format!("{path}/complete"), &json!({}))
            .await,
        409,
    )
    .await;
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .contains("Répondez d'abord"),
        "{refused}"
    );

    // A too-short or malformed answer is refused, naming the field.
    let first = &activities[0];
    let url = format!("{path}/activities/{}", first["id"].as_str().unwrap());
    let bad = if first["items"].as_array().unwrap().is_empty() {
        json!({ "text": "Trop court." })
    } else {
        json!({ "items": ["oui"] })
    };
    let refused = problem(
        t.s.app.call(Method::PUT, &url, token, Some(&bad)).await,
        422,
    )
    .await;
    assert!(!field_names(&refused).is_empty(), "{refused}");

    // Answered: stored, shown back with what it unlocks; then the lesson can be done.
    let done =
        t.s.app
            .work_through(token, &reading.enrolment, "01-ce-que-recouvre-la-qvt")
            .await;
    assert_eq!(done["lesson_id"], "01-ce-que-recouvre-la-qvt");
    let reread: Value = t.s.app.get_json(token, path).await;
    for a in reread["activities"].as_array().unwrap() {
        assert!(
            a["answer"].is_object() && a["answered_at"].is_string(),
            "{a}"
        );
        if a["kind"] == "case" {
            assert!(a["commentary_html"].is_string(), "{a}");
        }
    }
    assert_eq!(
        t.s.app
            .post_as(token, &format!("{path}/complete"), &json!({}))
            .await
            .status()
            .as_u16(),
        200
    );

    // Someone else cannot answer for the learner.
    let other = t.s.app.learner("autre@univ-exemple.fr").await;
    let stranger =
        t.s.app
            .call(
                Method::PUT,
                &url,
                &other.token,
                Some(&json!({ "text": "x".repeat(400) })),
            )
            .await;
    assert_eq!(stranger.status().as_u16(), 404);
}

#[tokio::test]
async fn a_learners_answers_are_in_their_export_and_go_with_their_erasure() {
    let t = two_schools().await;
    let reading = t
        .learner_reads(
            "etudiante@univ-exemple.fr",
            &t.s.dean,
            &t.s.university,
            "01-ce-que-recouvre-la-qvt",
        )
        .await;
    let (view, token, enrolment) = (&reading.view, reading.token.as_str(), &reading.enrolment);
    t.s.app
        .work_through(token, enrolment, "01-ce-que-recouvre-la-qvt")
        .await;

    let export: Value = t.s.app.get_json(token, "/api/v1/me/export").await;
    let answers = export["activity_answers"].as_array().unwrap();
    assert_eq!(answers.len(), view["activities"].as_array().unwrap().len());
    assert_eq!(answers[0]["enrolment_id"], enrolment.as_str());

    let erased =
        t.s.app
            .call(
                Method::DELETE,
                "/api/v1/me",
                token,
                Some(&json!({ "password": PASSWORD })),
            )
            .await;
    assert_eq!(erased.status().as_u16(), 204);
    use diesel::prelude::*;
    use qvt_campus::db::schema::activity_answers;
    let left: i64 = activity_answers::table
        .count()
        .get_result(&mut t.s.app.conn())
        .unwrap();
    assert_eq!(left, 0);
}

#[tokio::test]
async fn the_resources_page_saves_long_values_and_the_audit_names_what_changed() {
    // Arrange: the school's admin, signed in on the pages.
    let t = two_schools().await;
    let client = crate::helpers::no_redirects();
    let token = crate::helpers::page_session(&t.s.app, &t.school_admin.email).await;
    let cookie = format!("qvt_access={token}");
    let csrf = qvt_campus::identity::auth::csrf_of(&token);

    // Act: every field filled with 590 characters of French (well over actix's default
    // 16 KiB form once encoded), posted as the page posts it.
    let long = "Écoute à l'IFSI, « bureau 12 » : lundi–vendredi. ".repeat(12);
    let long: String = long.chars().take(590).collect();
    let mut form: Vec<(String, String)> = vec![("csrf".into(), csrf)];
    for field in qvt_campus::resources::fields::all() {
        form.push((field.key.clone(), long.clone()));
    }
    let page = format!("/gestion/organisations/{}/ressources", t.school);
    let saved = client
        .post(t.s.app.url(&page))
        .header("cookie", &cookie)
        .form(&form)
        .send()
        .await
        .unwrap();

    // Assert: saved, shown back, audited with old and new values; saving again unchanged
    // audits nothing.
    assert_eq!(
        saved.status().as_u16(),
        303,
        "{}",
        saved.text().await.unwrap()
    );
    let shown = client
        .get(t.s.app.url(&format!("{page}?enregistre=1")))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(shown.contains("Ressources enregistrées"));
    let again = client
        .post(t.s.app.url(&page))
        .header("cookie", &cookie)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status().as_u16(), 303);
    let audit: Vec<Value> =
        t.s.app
            .get_json(
                &t.school_admin.token,
                &format!("/api/v1/organisations/{}/audit-log", t.school),
            )
            .await;
    let updates: Vec<&Value> = audit
        .iter()
        .filter(|e| e["action"] == "organisation.resources_updated")
        .collect();
    assert_eq!(updates.len(), 1, "{audit:?}");
    let details = updates[0]["details"].as_str().unwrap();
    assert!(
        details.contains("\"ecoute\"") && details.contains("\"old\":null"),
        "{details}"
    );
}
