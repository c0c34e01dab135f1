//! The test harness: `spawn_app()` and friends, fresh databases, an SMTP sink; and the
//! fixtures that several test modules share (course copies, organisations, a world of
//! learners heading for their certificates).

mod browse;
mod courses;
pub mod lms;
pub mod psc;
mod python;
mod setup;
mod statements;
mod world;

pub use browse::{unescape, Browsing, HTML};
pub use courses::{
    copy_course, copy_courses, course_with_completion, lesson_ids, replace_last_section,
};
pub use python::python_with;
pub use setup::{day, setup, setup_in, setup_with, Setup};
pub use statements::{reset_statements, statements_run, whole_table_reads, Statement};
pub use world::{world, world_of, world_with, Learner, World, NAME};

use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::dev::ServerHandle;
use actix_web::{web, HttpResponse};
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use qvt_campus::config::{MailTransportKind, Secret, Settings};
use qvt_campus::db::{self, Pool};
use qvt_campus::http::Json;
use qvt_campus::startup::Application;
use serde::{Deserialize, Serialize};
use tempfile::TempDir;

/// The PostgreSQL server under test, if this run targets PostgreSQL.
pub fn postgres_base_url() -> Option<String> {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres"))
}

/// A database nobody else uses: a new SQLite file in `dir`, or a new PostgreSQL database
/// (dropped when the value is dropped).
pub struct TestDb {
    pub url: String,
    pg: Option<(String, String)>,
}

impl TestDb {
    pub fn sqlite(dir: &Path) -> Self {
        let url = dir
            .join(format!("{}.sqlite3", uuid::Uuid::new_v4()))
            .to_string_lossy()
            .into_owned();
        Self { url, pg: None }
    }

    pub fn postgres(base: &str) -> Self {
        let name = format!("qvt_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::establish(base).expect("cannot reach TEST_DATABASE_URL");
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("cannot create a test database");
        let (prefix, _) = base
            .rsplit_once('/')
            .expect("TEST_DATABASE_URL has a database path");
        Self {
            url: format!("{prefix}/{name}"),
            pg: Some((base.to_owned(), name)),
        }
    }

    /// The backend of this test run.
    pub fn fresh(dir: &Path) -> Self {
        match postgres_base_url() {
            Some(base) => Self::postgres(&base),
            None => Self::sqlite(dir),
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((base, name)) = &self.pg {
            if let Ok(mut admin) = PgConnection::establish(base) {
                let _ =
                    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        }
    }
}

/// The course folders of this repository.
pub fn real_courses() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("courses")
}

static ISSUER_PEM: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    qvt_campus::certificates::keys::generate_pem().expect("an RSA key")
});

/// Settings for a test: temp data dir, the given database, file mail, fast worker.
pub fn test_settings(dir: &Path, db: &TestDb) -> Settings {
    let mut s = Settings::from_lookup(|_| None).expect("default settings");
    s.bind = "127.0.0.1:0".parse().unwrap();
    s.data_dir = dir.to_path_buf();
    s.database.url = Secret::new(db.url.clone());
    s.database.pool_size = 4;
    s.mail.outbox_dir = dir.join("outbox");
    s.identity.keys_dir = dir.join("keys");
    // One RSA issuer key for the whole run: generating one per app would cost seconds.
    let issuer_dir = s.identity.keys_dir.join("issuer");
    std::fs::create_dir_all(&issuer_dir).unwrap();
    std::fs::write(issuer_dir.join("test.pem"), &*ISSUER_PEM).unwrap();
    // ... and as the LTI tool key.
    let lti_dir = s.identity.keys_dir.join("lti");
    std::fs::create_dir_all(&lti_dir).unwrap();
    std::fs::write(lti_dir.join("test.pem"), &*ISSUER_PEM).unwrap();
    s.lti_retry = Duration::from_secs(1);
    // No catalogue unless a test asks for one (see `real_courses`).
    s.courses_dir = dir.join("courses");
    s.mail.poll_interval = Duration::from_millis(100);
    s.mail.retry_base = Duration::from_secs(1);
    s.public_url = "http://campus.test".into();
    s
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub pool: Pool,
    pub settings: Settings,
    pub handle: ServerHandle,
    pub server: tokio::task::JoinHandle<std::io::Result<()>>,
    /// Kept so the database and data dir outlive the server.
    _db: Arc<TestDb>,
    _dir: Arc<TempDir>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// A fresh database and data dir, settings adjusted by `customize`.
pub async fn spawn_app_with(customize: impl FnOnce(&mut Settings)) -> TestApp {
    // Warnings and errors of the server show in a failing test's output.
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter("warn")
        .try_init();
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let db = Arc::new(TestDb::fresh(dir.path()));
    let mut settings = test_settings(dir.path(), &db);
    customize(&mut settings);
    spawn_app_on(settings, db, dir).await
}

/// Starts an app on an existing database (a "restart" after a crash).
pub async fn spawn_app_on(settings: Settings, db: Arc<TestDb>, dir: Arc<TempDir>) -> TestApp {
    let app = Application::build_with(settings.clone(), probes)
        .await
        .expect("the app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    let server = tokio::spawn(app.run_until_stopped());
    let pool = db::connect(&settings.database).unwrap();
    TestApp {
        address,
        // Idle connections are dropped before the server's 5-second keep-alive closes them:
        // reusing one the server just closed fails a request for nothing.
        client: reqwest::Client::builder()
            .pool_idle_timeout(Duration::from_secs(2))
            .build()
            .expect("an HTTP client"),
        pool,
        settings,
        handle,
        server,
        _db: db,
        _dir: dir,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request sent")
    }

    pub async fn post_json_text(&self, path: &str, body: &str) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .expect("request sent")
    }

    /// A second app instance on the same database, as in a multi-instance deployment.
    pub async fn another_instance(&self) -> TestApp {
        spawn_app_on(self.settings.clone(), self._db.clone(), self._dir.clone()).await
    }

    /// This app and, on PostgreSQL, two more instances on its database: racing requests
    /// are spread over them (`Instances::nth`). SQLite serves one instance.
    pub async fn instances(&self) -> Instances<'_> {
        let mut others = Vec::new();
        if postgres_base_url().is_some() {
            for _ in 0..2 {
                others.push(self.another_instance().await);
            }
        }
        Instances {
            first: self,
            others,
        }
    }

    pub fn conn(&self) -> db::PooledConn {
        self.pool.get().expect("a connection")
    }
}

#[derive(Deserialize, Serialize)]
pub struct Echo {
    pub name: String,
    pub age: u32,
}

#[derive(Deserialize)]
pub struct Page {
    pub page: u32,
}

/// Routes mounted only in tests, to exercise what every real endpoint shares.
fn probes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/test/echo")
            .post(|body: Json<Echo>| async move { HttpResponse::Ok().json(body.0) }),
    )
    .service(
        web::resource("/test/page").get(|query: web::Query<Page>| async move {
            HttpResponse::Ok().json(serde_json::json!({ "page": query.page }))
        }),
    )
    .service(web::resource("/test/panic").get(|| async {
        if true {
            panic!("a bug in a handler");
        }
        HttpResponse::Ok().finish()
    }))
    .service(web::resource("/test/slow").get(|| async {
        SLOW_REQUESTS_STARTED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(800)).await;
        HttpResponse::Ok().body("done")
    }));
}

/// How many `/test/slow` requests have reached their handler (in this test process).
pub static SLOW_REQUESTS_STARTED: std::sync::atomic::AtomicUsize =
    std::sync::atomic::AtomicUsize::new(0);

/// The JSON body of a problem response, after checking its content type and status.
pub async fn problem(response: reqwest::Response, status: u16) -> serde_json::Value {
    assert_eq!(response.status().as_u16(), status);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], status);
    assert!(
        body["type"].is_string() && body["title"].is_string(),
        "{body}"
    );
    body
}

pub fn field_names(problem: &serde_json::Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| e["field"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Polls `check` until it holds or `timeout` passes.
pub async fn eventually<T>(timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            started.elapsed() < timeout,
            "condition not met within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A free loopback port (nothing listens on it once this returns).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A real SMTP server on loopback that keeps every message it accepts.
#[derive(Clone, Default)]
pub struct SmtpSink {
    received: Arc<Mutex<Vec<Vec<u8>>>>,
    current: Vec<u8>,
}

impl mailin_embedded::Handler for SmtpSink {
    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.current.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> mailin_embedded::Response {
        self.received
            .lock()
            .unwrap()
            .push(std::mem::take(&mut self.current));
        mailin_embedded::response::OK
    }
}

impl SmtpSink {
    /// Serves on `port` in a background thread for the rest of the test process.
    pub fn start(port: u16) -> Self {
        let sink = SmtpSink::default();
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("the SMTP port is free");
        let mut server = mailin_embedded::Server::new(sink.clone());
        server
            .with_name("smtp.test")
            .with_num_threads(2)
            .with_tcp_listener(listener);
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        sink
    }

    pub fn messages(&self) -> Vec<Vec<u8>> {
        self.received.lock().unwrap().clone()
    }
}

pub fn smtp_transport(port: u16) -> MailTransportKind {
    MailTransportKind::Smtp {
        url: Secret::new(format!("smtp://127.0.0.1:{port}")),
    }
}

/// The text of a PDF as a reader sees it, through poppler's `pdftotext` (a real PDF reader,
/// installed by `.ci/run`).
pub fn pdf_text(pdf: &[u8]) -> String {
    use std::io::Write;
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(pdf).unwrap();
    let output = std::process::Command::new("pdftotext")
        .args(["-layout", "-enc", "UTF-8"])
        .arg(file.path())
        .arg("-")
        .output()
        .expect("pdftotext (Debian package poppler-utils) is installed");
    assert!(
        output.status.success(),
        "pdftotext refused the file: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// A client that shows redirects instead of following them.
pub fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Signs in through the sign-in page; returns the session cookie's token.
pub async fn page_session(app: &TestApp, email: &str) -> String {
    let signed_in = no_redirects()
        .post(app.url("/connexion"))
        .form(&[("email", email), ("password", crate::journeys::PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status().as_u16(), 303);
    access_cookie(&signed_in)
}

/// The page-session token a sign-in response sets (`qvt_access`).
pub fn access_cookie(response: &reqwest::Response) -> String {
    session_of(response).expect("a session cookie")
}

/// The page-session token a response set, if it set one (not a sign-out's empty one).
pub fn session_of(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("qvt_access="))
        .map(|c| c.split(';').next().unwrap().to_owned())
        .filter(|t| !t.is_empty())
}

/// An app and the other instances serving its database (see [`TestApp::instances`]).
pub struct Instances<'a> {
    first: &'a TestApp,
    others: Vec<TestApp>,
}

impl Instances<'_> {
    /// The instance the `i`-th of many racing requests goes to, in turn.
    pub fn nth(&self, i: usize) -> &TestApp {
        match i % (self.others.len() + 1) {
            0 => self.first,
            k => &self.others[k - 1],
        }
    }
}
