//! Two organisations ready to run sessions: a university and a DPC training body, each
//! with its admin, on an app serving a given courses folder.

use serde_json::{json, Value};

use super::{real_courses, spawn_app_with, TestApp};
use crate::journeys::User;

/// The date `offset` days from today in Paris (`YYYY-MM-DD`).
pub fn day(offset: i64) -> String {
    (qvt_campus::fr::paris_today() + chrono::Duration::days(offset))
        .format("%Y-%m-%d")
        .to_string()
}

pub struct Setup {
    pub app: TestApp,
    pub dean: User,
    pub university: String,
    pub odpc_admin: User,
    pub training_body: String,
}

/// An app with the real catalogue, a university and a DPC training body, each with its admin.
pub async fn setup() -> Setup {
    setup_in(real_courses()).await
}

/// Like [`setup`], serving the courses found in `courses`.
pub async fn setup_in(courses: std::path::PathBuf) -> Setup {
    setup_with(|s| s.courses_dir = courses).await
}

/// Like [`setup`], the settings adjusted by `customize`.
pub async fn setup_with(customize: impl FnOnce(&mut qvt_campus::config::Settings)) -> Setup {
    let app = spawn_app_with(|s| {
        s.courses_dir = super::real_courses();
        customize(s);
    })
    .await;
    let admin = app.platform_admin().await;
    let dean = app.learner("doyen@univ-exemple.fr").await;
    let odpc_admin = app.learner("direction@odpc-exemple.fr").await;
    let university = app.organisation(&admin, "Université Exemple", &dean).await;
    let created = app
        .post_as(
            &admin.token,
            "/api/v1/organisations",
            &json!({ "kind": "training_body", "name": "ODPC Exemple", "odpc_number": "4321" }),
        )
        .await;
    let training_body = created.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.post_as(
        &admin.token,
        &format!("/api/v1/organisations/{training_body}/members"),
        &json!({ "email": odpc_admin.email, "role": "org_admin" }),
    )
    .await;
    Setup {
        app,
        dean,
        university,
        odpc_admin,
        training_body,
    }
}

impl Setup {
    /// A new account, added by the dean as a tutor of the university.
    pub async fn university_tutor(&self, email: &str) -> User {
        let tutor = self.app.learner(email).await;
        let added = self
            .app
            .post_as(
                &self.dean.token,
                &format!("/api/v1/organisations/{}/members", self.university),
                &json!({ "email": tutor.email, "role": "tutor" }),
            )
            .await;
        assert_eq!(added.status().as_u16(), 201);
        tutor
    }

    pub async fn session(&self, by: &User, organisation: &str, body: Value) -> Value {
        let response = self
            .app
            .post_as(
                &by.token,
                &format!("/api/v1/organisations/{organisation}/sessions"),
                &body,
            )
            .await;
        assert_eq!(
            response.status().as_u16(),
            201,
            "{}",
            response.text().await.unwrap()
        );
        response.json().await.unwrap()
    }

    pub async fn qvt_session(&self, extra: Value) -> String {
        let mut body = json!({ "course": "qvt-formation-initiale", "title": "Promotion DFGSM2 2026-2027", "opens_on": day(-1), "closes_on": day(30),
                               "enrolment_mode": "open", "academic_year": "2026-2027", "curriculum": "DFGSM" });
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        self.session(&self.dean, &self.university, body).await["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub async fn enrol(&self, user: &User, session: &str, body: Value) -> reqwest::Response {
        self.app
            .post_as(
                &user.token,
                &format!("/api/v1/sessions/{session}/enrolments"),
                &body,
            )
            .await
    }
}
