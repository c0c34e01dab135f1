//! Pro Santé Connect beside the app under test: `tests/tools/oidc_provider.mjs`, a real
//! OpenID Connect provider built on the certified `oidc-provider` package (npm), with
//! PSC-shaped test practitioners, started per test. A sign-in here walks the browser's
//! steps: our start link, the provider's authorization endpoint and interaction, its
//! redirect back to our return address.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use qvt_campus::config::Secret;
use qvt_campus::oidc::settings::{Profile, ProviderSettings};
use serde_json::{json, Value};

use super::lms::browser;
use super::{session_of, spawn_app_with, TestApp};
use crate::journeys::User;

pub const CLIENT_ID: &str = "qvt-campus";
/// With characters RFC 6749 § 2.3.1 makes us form-encode before HTTP Basic.
pub const CLIENT_SECRET: &str = "secret de test/+&=%";

pub struct Psc {
    child: Child,
    pub url: String,
    http: reqwest::Client,
}

impl Drop for Psc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A test practitioner of the provider.
pub struct Practitioner {
    pub sub: String,
    pub rpps: String,
    pub email: Option<String>,
}

fn modules() -> Option<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/oidc/node_modules");
    if dir.join("oidc-provider").is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true: oidc-provider missing from {}; scripts/test installs it with npm",
        dir.display()
    );
    eprintln!("oidc-provider not installed: the Pro Santé Connect tests are skipped");
    None
}

impl Psc {
    /// The provider, not yet set up; `None` when `oidc-provider` is not installed
    /// (outside CI, which requires it).
    pub fn start() -> Option<Self> {
        let modules = modules()?;
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools/oidc_provider.mjs");
        let mut child = Command::new("node")
            .arg(script)
            .env("OIDC_MODULES", modules)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node runs the provider");
        let mut line = String::new();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        out.read_line(&mut line)
            .expect("the provider prints its address");
        // The rest of its output is read and dropped: a closed pipe would kill it.
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        Some(Self {
            child,
            url: line.trim().to_owned(),
            http: reqwest::Client::new(),
        })
    }

    /// What a deployment sets to trust this provider as PSC.
    pub fn settings(&self) -> ProviderSettings {
        ProviderSettings {
            name: "psc".into(),
            label: "Pro Santé Connect".into(),
            issuer: self.url.clone(),
            client_id: CLIENT_ID.into(),
            client_secret: Secret::new(CLIENT_SECRET),
            scopes: "openid scope_all".into(),
            profile: Profile::Psc,
            acr: Some("eidas1".into()),
        }
    }

    async fn control(&self, path: &str, body: Value) -> u16 {
        self.http
            .post(format!("{}{path}", self.url))
            .json(&body)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// Registers our client (its return and back-channel logout addresses).
    pub async fn register(&self, app: &TestApp, signed_userinfo: bool) {
        let setup = json!({
            "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
            "redirect_uris": [format!("{}/connexion/oidc/psc/retour", app.settings.public_url)],
            "backchannel_logout_uri": app.url("/connexion/oidc/psc/deconnexion"),
            "signed_userinfo": signed_userinfo,
        });
        assert_eq!(self.control("/test/setup", setup).await, 204);
    }

    /// The provider's test practitioners: a doctor, a nurse, a pharmacist without e-mail.
    pub async fn practitioners(&self) -> Vec<Practitioner> {
        let all: Vec<Value> = self
            .http
            .get(format!("{}/test/accounts", self.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        all.iter()
            .map(|a| Practitioner {
                sub: a["sub"].as_str().unwrap().into(),
                rpps: a["rpps"].as_str().unwrap().into(),
                email: a["email"].as_str().map(str::to_owned),
            })
            .collect()
    }

    /// The next token response is spoiled: `unknown-key`, `wrong-audience`, `expired`,
    /// `replay`, `wrong-issuer`.
    pub async fn spoil_next_token(&self, mode: &str) {
        assert_eq!(
            self.control("/test/mode", json!({ "mode": mode })).await,
            204
        );
    }

    /// The provider signs with a new key from now on (and still publishes the old one).
    pub async fn rotate_key(&self) {
        assert_eq!(self.control("/test/rotate-key", json!({})).await, 204);
    }

    /// The provider tells us `sub` signed out there; the status our endpoint's answer gave.
    pub async fn back_channel_logout(&self, sub: &str) -> u16 {
        self.control("/test/backchannel-logout", json!({ "sub": sub }))
            .await
    }

    /// A sign-in by `sub` from a fresh browser: our answer to the provider's return.
    pub async fn sign_in(&self, app: &TestApp, sub: &str) -> reqwest::Response {
        self.sign_in_from(app, &browser(), "/connexion/oidc/psc", sub)
            .await
    }

    /// A sign-in started at `start` (a GET of ours) in `browser`.
    pub async fn sign_in_from(
        &self,
        app: &TestApp,
        browser: &reqwest::Client,
        start: &str,
        sub: &str,
    ) -> reqwest::Response {
        let first = browser.get(app.url(start)).send().await.unwrap();
        self.through_provider(app, browser, first, sub).await
    }

    /// From our redirect to the provider until its redirect back, answered by us.
    pub async fn through_provider(
        &self,
        app: &TestApp,
        browser: &reqwest::Client,
        first: reqwest::Response,
        sub: &str,
    ) -> reqwest::Response {
        assert_eq!(
            self.control("/test/next-login", json!({ "sub": sub }))
                .await,
            204
        );
        // The provider knows us by our public address; the test reaches us by our port.
        let public = &app.settings.public_url;
        let back = app.url("/connexion/oidc/psc/retour");
        let mut response = first;
        let mut at = String::from("our start");
        for _ in 0..10 {
            if !response.status().is_redirection() {
                let status = response.status();
                panic!(
                    "{at}: a redirect, not {status}: {}",
                    response.text().await.unwrap()
                );
            }
            let to = response.headers()["location"].to_str().unwrap().to_owned();
            let to = match to.strip_prefix(public.as_str()) {
                Some(path) => app.url(path),
                None if to.starts_with('/') => format!("{}{to}", self.url),
                None => to,
            };
            response = browser.get(&to).send().await.unwrap();
            at.clone_from(&to);
            if to.starts_with(&back) {
                return response;
            }
        }
        panic!("the provider never sent the browser back");
    }
}

/// An app trusting a fresh PSC; `None` when the provider is not installed.
pub async fn app_with_psc(signed_userinfo: bool) -> Option<(TestApp, Psc)> {
    let psc = Psc::start()?;
    let settings = psc.settings();
    let app = spawn_app_with(|s| s.oidc = vec![settings]).await;
    psc.register(&app, signed_userinfo).await;
    Some((app, psc))
}

/// The account a PSC sign-in answer signed in to, as the API knows it.
pub async fn user_of(app: &TestApp, signed_in: &reqwest::Response) -> User {
    let token = session_of(signed_in).expect("signed in");
    let me: Value = app.get_json(&token, "/api/v1/me").await;
    User {
        id: me["id"].as_str().unwrap().to_owned(),
        email: me["email"].as_str().unwrap().to_owned(),
        token,
        refresh_token: String::new(),
    }
}

/// « Lier mon identité à ce compte »: the waiting link's token and the account's credentials.
pub async fn prove(app: &TestApp, token: &str, email: &str, password: &str) -> reqwest::Response {
    browser()
        .post(app.url("/connexion/oidc/lier"))
        .form(&[("token", token), ("email", email), ("password", password)])
        .send()
        .await
        .unwrap()
}
