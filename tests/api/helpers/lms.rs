//! A learning platform beside the app under test: `tests/tools/lti_platform.py`, an LTI
//! 1.3 platform built on the independent `lti1p3platform` package, started per test. A
//! launch here walks the same steps a browser does: the platform's start link, our login
//! initiation, the platform's authentication endpoint, and its form posted to our launch.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};

use serde_json::{json, Value};

use super::python::python_with;
use super::TestApp;

pub struct Lms {
    child: Child,
    pub url: String,
    http: reqwest::Client,
}

impl Drop for Lms {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A browser: keeps cookies, follows no redirect (each step is checked).
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The value of `<input name="{name}" value="…">` in a page.
pub fn input(page: &str, name: &str) -> Option<String> {
    let at = page.find(&format!("name=\"{name}\""))?;
    let rest = &page[at..];
    let value = rest.split("value=\"").nth(1)?.split('"').next()?;
    Some(
        value
            .replace("&amp;", "&")
            .replace("&quot;", "\"")
            .replace("&#x27;", "'"),
    )
}

/// The `action` of the first form of a page.
pub fn form_action(page: &str) -> Option<String> {
    let value = page.split("action=\"").nth(1)?.split('"').next()?;
    Some(value.replace("&amp;", "&").replace("&#x2F;", "/"))
}

impl Lms {
    /// The platform, pointed at `tool`; `None` when `lti1p3platform` is not installed
    /// (outside CI, which requires it).
    pub fn start(tool: &TestApp) -> Option<Self> {
        let mut command = python_with(&["lti1p3platform"])?;
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools/lti_platform.py");
        let mut child = command
            .arg(script)
            .arg(tool.url(""))
            .stdout(Stdio::piped())
            .spawn()
            .expect("the LTI platform starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("the platform prints its address");
        Some(Self {
            child,
            url: line.trim().to_owned(),
            http: reqwest::Client::new(),
        })
    }

    /// What an organisation's admin types in to register this platform.
    pub fn registration(&self) -> Value {
        json!({
            "name": "Moodle de l'université",
            "issuer": self.url,
            "client_id": "qvt-tool",
            "deployment_ids": ["deployment-1"],
            "auth_url": format!("{}/auth", self.url),
            "token_url": format!("{}/token", self.url),
            "jwks_url": format!("{}/jwks", self.url),
        })
    }

    /// Registers the platform for `organisation` as its admin; returns the registration.
    pub async fn register(&self, app: &TestApp, admin_token: &str, organisation: &str) -> Value {
        let response = app
            .post_as(
                admin_token,
                &format!("/api/v1/organisations/{organisation}/lti/platforms"),
                &self.registration(),
            )
            .await;
        assert_eq!(response.status().as_u16(), 201);
        response.json().await.unwrap()
    }

    /// The launch form the platform answers for a start link with `params` (user, roles,
    /// context, course, message, mode…), as (form action, id_token, state).
    pub async fn launch_form(
        &self,
        browser: &reqwest::Client,
        params: &[(&str, &str)],
    ) -> (String, String, String) {
        let start = browser
            .get(format!("{}/start", self.url))
            .query(params)
            .send()
            .await
            .unwrap();
        assert_eq!(start.status().as_u16(), 302);
        let login = location(&start);
        let initiated = browser.get(&login).send().await.unwrap();
        assert_eq!(
            initiated.status().as_u16(),
            302,
            "{}",
            initiated.text().await.unwrap()
        );
        let auth = location(&initiated);
        assert!(auth.starts_with(&self.url), "{auth}");
        let page = browser.get(&auth).send().await.unwrap();
        assert_eq!(page.status().as_u16(), 200);
        let page = page.text().await.unwrap();
        (
            form_action(&page).expect("a launch form"),
            input(&page, "id_token").expect("an id_token"),
            input(&page, "state").expect("a state"),
        )
    }

    /// A whole launch: the form posted to the tool, as the platform's page does.
    pub async fn launch(
        &self,
        browser: &reqwest::Client,
        params: &[(&str, &str)],
    ) -> reqwest::Response {
        let (action, id_token, state) = self.launch_form(browser, params).await;
        post_launch(browser, &action, &id_token, &state).await
    }

    /// What the platform received: scores, line items, deep links.
    pub async fn received(&self) -> Value {
        self.http
            .get(format!("{}/control/state", self.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The members the platform's roster service (NRPS) lists for `context`.
    pub async fn set_members(&self, context: &str, members: Value) {
        let set = self
            .http
            .post(format!("{}/control/members?context={context}", self.url))
            .json(&members)
            .send()
            .await
            .unwrap();
        assert_eq!(set.status().as_u16(), 204);
    }

    /// The platform signs with a new key from now on (and publishes only that one).
    pub async fn rotate_key(&self) {
        let rotated = self
            .http
            .post(format!("{}/control/rotate", self.url))
            .send()
            .await
            .unwrap();
        assert_eq!(rotated.status().as_u16(), 204);
    }

    /// Takes the grade service down (503) or back up.
    pub async fn grades_down(&self, down: bool) {
        let flag = if down { "1" } else { "0" };
        self.http
            .post(format!("{}/control/ags?down={flag}", self.url))
            .send()
            .await
            .unwrap();
    }

    /// Posts a form to the platform (a deep linking response).
    pub async fn post_form(&self, url: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.http.post(url).form(form).send().await.unwrap()
    }
}

pub async fn post_launch(
    browser: &reqwest::Client,
    action: &str,
    id_token: &str,
    state: &str,
) -> reqwest::Response {
    browser
        .post(action)
        .header("origin", "http://lms.invalid")
        .header("sec-fetch-site", "cross-site")
        .form(&[("id_token", id_token), ("state", state)])
        .send()
        .await
        .unwrap()
}

pub fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .expect("a redirect")
        .to_str()
        .unwrap()
        .to_owned()
}

/// The page-session cookie a launch set: an access token, usable as a bearer token too.
pub fn session_token(response: &reqwest::Response) -> String {
    super::access_cookie(response)
}

/// A response's Content Security Policy.
pub fn csp(response: &reqwest::Response) -> String {
    response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned()
}
