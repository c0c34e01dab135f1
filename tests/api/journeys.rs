//! Steps of a user's journey, shared by the identity tests: register, read the mail the
//! platform sent, log in, call the API with a token.

use std::time::Duration;

use qvt_campus::identity::model::{Email, FullName, Password};
use qvt_campus::identity::service;
use serde_json::{json, Value};

use crate::helpers::{eventually, TestApp};

pub const PASSWORD: &str = "prendre soin de soi 2017";

/// The ADELI number [`TestApp::register`] gives an address: one per address, as an ADELI
/// number belongs to one account.
pub fn adeli_of(email: &str) -> String {
    let hash = email.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    format!("{:09}", hash % 1_000_000_000)
}

pub struct User {
    pub id: String,
    pub email: String,
    pub token: String,
    pub refresh_token: String,
}

impl TestApp {
    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .request(method, self.url(path))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.expect("request sent")
    }

    pub async fn get_as(&self, token: &str, path: &str) -> reqwest::Response {
        self.call(reqwest::Method::GET, path, token, None).await
    }

    /// What a GET with a token reads, which must succeed: the JSON body as `T` (most often
    /// a `Value`).
    pub async fn get_json<T: serde::de::DeserializeOwned>(&self, token: &str, path: &str) -> T {
        let response = self.get_as(token, path).await;
        assert_eq!(response.status().as_u16(), 200, "GET {path}");
        response.json().await.expect("a JSON body")
    }

    /// Posts a file of learners to a session's CSV import (`dry_run`: the report only), as
    /// plain `text/csv` like most clients: the import detects the encoding itself.
    pub async fn import_csv(
        &self,
        token: &str,
        session: &str,
        csv: impl Into<reqwest::Body>,
        dry_run: bool,
    ) -> reqwest::Response {
        self.client
            .post(self.url(&format!(
                "/api/v1/sessions/{session}/enrolments/import?dry_run={dry_run}"
            )))
            .bearer_auth(token)
            .header("content-type", "text/csv")
            .body(csv)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn post_as(&self, token: &str, path: &str, body: &Value) -> reqwest::Response {
        self.call(reqwest::Method::POST, path, token, Some(body))
            .await
    }

    /// Opens a lesson and does its activities as a diligent learner would (every self-audit
    /// item answered, a written answer long enough): what finishing a lesson now takes.
    pub async fn work_through(&self, token: &str, enrolment: &str, lesson: &str) -> Value {
        let path = format!("/api/v1/enrolments/{enrolment}/lessons/{lesson}");
        let opened = self.get_as(token, &path).await;
        assert_eq!(opened.status().as_u16(), 200, "{path}");
        let view: Value = opened.json().await.unwrap();
        for activity in view["activities"].as_array().unwrap() {
            let items: Vec<&str> = activity["items"]
                .as_array()
                .unwrap()
                .iter()
                .enumerate()
                .map(|(i, _)| ["oui", "en_partie", "non"][i % 3])
                .collect();
            let chars = activity["min_chars"].as_u64().unwrap() as usize;
            let text = "Dans ma pratique, je commencerais par ".repeat(chars / 30 + 1);
            let body = if items.is_empty() {
                json!({ "text": text })
            } else {
                json!({ "text": "", "items": items })
            };
            let answered = self
                .call(
                    reqwest::Method::PUT,
                    &format!("{path}/activities/{}", activity["id"].as_str().unwrap()),
                    token,
                    Some(&body),
                )
                .await;
            assert_eq!(answered.status().as_u16(), 200, "{}", activity["id"]);
        }
        view
    }

    pub async fn register(&self, email: &str) -> reqwest::Response {
        self.post_json(
            "/api/v1/auth/register",
            &json!({
                "email": email, "password": PASSWORD, "full_name": "Camille Soignant", "first_name": "Camille", "last_name": "Soignant",
                "profession": "infirmier", "adeli": adeli_of(email), "mode_exercice": "liberal",
            }),
        )
        .await
    }

    pub async fn login(&self, email: &str, password: &str) -> reqwest::Response {
        self.post_json(
            "/api/v1/auth/login",
            &json!({ "email": email, "password": password }),
        )
        .await
    }

    /// Registers a learner, confirms the address from the mail, logs in.
    pub async fn learner(&self, email: &str) -> User {
        let registered = self.register(email).await;
        assert_eq!(
            registered.status().as_u16(),
            201,
            "{}",
            registered.text().await.unwrap()
        );
        let token = self.token_from_mail(email, "confirmez votre adresse").await;
        let verified = self
            .post_json("/api/v1/auth/verify-email", &json!({ "token": token }))
            .await;
        assert_eq!(verified.status().as_u16(), 204);
        self.logged_in(email, PASSWORD).await
    }

    pub async fn logged_in(&self, email: &str, password: &str) -> User {
        let response = self.login(email, password).await;
        assert_eq!(response.status().as_u16(), 200);
        let pair: Value = response.json().await.unwrap();
        let token = pair["access_token"].as_str().unwrap().to_owned();
        let me: Value = self.get_json(&token, "/api/v1/me").await;
        User {
            id: me["id"].as_str().unwrap().to_owned(),
            email: email.to_owned(),
            token,
            refresh_token: pair["refresh_token"].as_str().unwrap().to_owned(),
        }
    }

    /// A platform administrator, created as the CLI does, logged in.
    pub async fn platform_admin(&self) -> User {
        let email = "admin@qvt-campus.fr";
        service::create_platform_admin(
            &mut self.conn(),
            &Email::parse(email).unwrap(),
            &FullName::parse("Admin Plateforme").unwrap(),
            &Password::parse(PASSWORD).unwrap(),
        )
        .unwrap();
        self.logged_in(email, PASSWORD).await
    }

    /// An organisation created by `admin`, with `org_admin` as its administrator.
    pub async fn organisation(&self, admin: &User, name: &str, org_admin: &User) -> String {
        let created = self
            .post_as(
                &admin.token,
                "/api/v1/organisations",
                &json!({ "kind": "university", "name": name, "uai": "0751717J" }),
            )
            .await;
        assert_eq!(created.status().as_u16(), 201);
        let id = created.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let added = self
            .post_as(
                &admin.token,
                &format!("/api/v1/organisations/{id}/members"),
                &json!({ "email": org_admin.email, "role": "org_admin" }),
            )
            .await;
        assert_eq!(added.status().as_u16(), 201);
        id
    }

    /// The mails delivered to `to` so far (the file transport's .eml files), parsed as
    /// (subject, text body).
    pub fn mails_to(&self, to: &str) -> Vec<(String, String)> {
        let Ok(entries) = std::fs::read_dir(&self.settings.mail.outbox_dir) else {
            return Vec::new();
        };
        entries
            .filter_map(|e| std::fs::read(e.ok()?.path()).ok())
            .filter_map(|raw| {
                let message = mail_parser::MessageParser::default().parse(&raw)?;
                let recipient = message.to()?.first()?.address()?.to_owned();
                (recipient == to).then_some(())?;
                Some((
                    message.subject()?.to_owned(),
                    message.body_text(0)?.into_owned(),
                ))
            })
            .collect()
    }

    /// Waits for a mail whose subject contains `subject` and returns the token of its link.
    pub async fn token_from_mail(&self, to: &str, subject: &str) -> String {
        let body = eventually(Duration::from_secs(10), || {
            self.mails_to(to)
                .into_iter()
                .find(|(s, _)| s.contains(subject))
                .map(|(_, body)| body)
        })
        .await;
        let start = body.find("?jeton=").expect("a link with a token") + "?jeton=".len();
        body[start..].split_whitespace().next().unwrap().to_owned()
    }
}

impl TestApp {
    /// Every address-confirmation token mailed to `to` so far.
    pub fn confirmation_tokens(&self, to: &str) -> Vec<String> {
        self.mails_to(to)
            .into_iter()
            .filter(|(subject, _)| subject.contains("confirmez votre adresse"))
            .filter_map(|(_, body)| {
                let start = body.find("?jeton=")? + "?jeton=".len();
                Some(body[start..].split_whitespace().next()?.to_owned())
            })
            .collect()
    }

    /// Waits for a mail to `to` whose subject contains `words`; returns the subject.
    pub async fn token_from_mail_subject(&self, to: &str, words: &str) -> String {
        eventually(Duration::from_secs(10), || {
            self.mails_to(to)
                .into_iter()
                .map(|(s, _)| s)
                .find(|s| s.contains(words))
        })
        .await
    }
}
