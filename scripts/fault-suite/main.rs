//! The fault suite behind `scripts/faults`: runs the real server binary under exam load
//! (quiz attempts started and submitted, heartbeats every second) and breaks it — `kill -9`
//! again and again, its PostgreSQL stopped and started, its disk filled, SIGTERM with slow
//! clients connected — then checks, from the database and through the API, that nothing
//! acknowledged was lost or changed and that outages were answered 503 with `Retry-After`.
//! Prints the figures of each phase; exits non-zero when a guarantee is broken.
//!
//!   faults [--database-url URL --pg-ctl "pg_ctl -D DATA"] [--kills N]

#[path = "../../bench/support.rs"]
#[allow(dead_code)]
mod support;

mod cluster;
mod failover;
mod mail;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use qvt_campus::config::Settings;
use qvt_campus::db::schema::{
    certificates, completions, course_lessons, lesson_progress, mail_outbox, quiz_attempts,
    time_intervals,
};
use qvt_campus::db::{self, Pool};
use serde_json::{json, Value};

struct Options {
    database_url: Option<String>,
    /// The command that stops and starts the PostgreSQL server (`pg_ctl -D …`).
    pg_ctl: Option<String>,
    kills: usize,
    /// `--only kills,disk`: just these phases (kills, restart, cluster, sigterm, disk,
    /// schemathesis, failover).
    only: Option<String>,
    /// The commands that stop the primary hard and promote its standby (`failover`).
    stop_primary: Option<String>,
    promote: Option<String>,
}

impl Options {
    fn runs(&self, phase: &str) -> bool {
        self.only
            .as_deref()
            .is_none_or(|only| only.split(',').any(|p| p == phase))
    }
}

fn options() -> Options {
    let mut o = Options {
        database_url: None,
        pg_ctl: None,
        kills: 10,
        only: None,
        stop_primary: None,
        promote: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--database-url" => o.database_url = args.next(),
            "--pg-ctl" => o.pg_ctl = args.next(),
            "--kills" => o.kills = args.next().and_then(|n| n.parse().ok()).unwrap_or(10),
            "--only" => o.only = args.next(),
            "--stop-primary" => o.stop_primary = args.next(),
            "--promote" => o.promote = args.next(),
            other => panic!("unknown argument {other}"),
        }
    }
    o
}

/// How long after `since` the load had a submission acknowledged beyond the first `before`
/// (within 30 s): when it went on after a fault.
async fn next_submission(ledger: &Shared, before: usize, since: Instant) -> Option<Duration> {
    while since.elapsed() < Duration::from_secs(30) {
        if ledger.lock().unwrap().submitted.len() > before {
            return Some(since.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

/// The server binary, started and stopped as an operator (or a crash) would.
struct Server {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
    /// Where its standard error goes (not on a disk the suite fills).
    log: PathBuf,
    courses: PathBuf,
    database_url: String,
    /// `QVT_DRAIN_SECONDS`: 0 but behind the load balancer.
    drain: u64,
    /// `QVT_PUBLIC_URL`, the tokens' issuer: its own address, or the first instance's for
    /// the others of a cluster (as the balancer's would be for all).
    public_url: String,
    /// More settings, over the suite's own.
    env: Vec<(&'static str, String)>,
}

impl Server {
    fn new(dir: &Path, courses: &Path, database_url: &str) -> Self {
        let port = support::free_port();
        Self {
            child: None,
            port,
            dir: dir.to_owned(),
            log: dir.join("server.log"),
            courses: courses.to_owned(),
            database_url: database_url.to_owned(),
            drain: 0,
            public_url: format!("http://127.0.0.1:{port}"),
            env: Vec::new(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Another instance on the same database and courses, for the same balancer.
    fn sibling(&self) -> Self {
        let mut s = Server::new(&self.dir, &self.courses, &self.database_url);
        s.log = self.dir.join("server-others.log");
        s.drain = 2;
        s.public_url = self.public_url.clone();
        s
    }

    fn spawn(&mut self) {
        // Built by `scripts/faults` beside this example: target/<profile>/qvt-campus.
        let exe = std::env::current_exe().unwrap();
        let binary = exe.parent().unwrap().parent().unwrap().join("qvt-campus");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(binary)
            .arg("serve")
            .env("QVT_DATA_DIR", &self.dir)
            .env("QVT_COURSES_DIR", &self.courses)
            .env("QVT_BIND", format!("127.0.0.1:{}", self.port))
            .env("DATABASE_URL", &self.database_url)
            .env("QVT_MAIL_TRANSPORT", "log")
            .env("QVT_SHUTDOWN_TIMEOUT", "10")
            .env("QVT_DRAIN_SECONDS", self.drain.to_string())
            .env("QVT_PUBLIC_URL", &self.public_url)
            .env("RUST_LOG", "warn")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("the server binary (scripts/faults builds it)");
        self.child = Some(child);
    }

    /// Starts the server and waits until `/readyz` answers 200.
    async fn start(&mut self, client: &reqwest::Client) {
        self.spawn();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(120) {
            if let Ok(r) = client.get(self.url("/readyz")).send().await {
                if r.status().is_success() {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "the server was not ready within 120 s (see {}/server.log)",
            self.dir.display()
        );
    }

    fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then the exit status and how long the stop took.
    fn terminate(&mut self) -> (ExitStatus, Duration) {
        let mut child = self.child.take().expect("running");
        let asked = Instant::now();
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return (status, asked.elapsed());
            }
            if asked.elapsed() > Duration::from_secs(60) {
                let _ = child.kill();
                return (child.wait().unwrap(), asked.elapsed());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A submission the server acknowledged (200), and how to replay it.
struct Submitted {
    attempt: String,
    enrolment: String,
    key: String,
    body: String,
    percent: f64,
}

/// What the learners were told, and every answer that broke a rule.
#[derive(Default)]
struct Ledger {
    submitted: Vec<Submitted>,
    /// Per enrolment, the seconds the heartbeats' answers credited.
    credited: HashMap<String, i64>,
    beats: usize,
    unavailable: usize,
    /// The longest a 503 took to come: an outage must be answered at once, not after the
    /// pool's checkout timeout.
    slowest_unavailable: Duration,
    /// Answers no fault excuses: a 5xx other than 503 with `Retry-After` or a 502.
    broken: Vec<String>,
    /// 502s from the balancer: requests an instance died answering that it would not
    /// replay (what each was).
    dropped: Vec<String>,
    /// When the last request of each kind succeeded.
    last_success: Option<Instant>,
}

impl Ledger {
    /// Records the status of an answer; true when it is a success.
    fn judge(&mut self, what: &str, response: &reqwest::Response, sent: Instant) -> bool {
        let status = response.status();
        if status.as_u16() == 503 {
            self.unavailable += 1;
            self.slowest_unavailable = self.slowest_unavailable.max(sent.elapsed());
            if !response.headers().contains_key("retry-after") {
                self.broken.push(format!("{what}: 503 without Retry-After"));
            }
        } else if status.as_u16() == 502 {
            self.dropped.push(what.to_owned());
        } else if status.is_server_error() {
            self.broken.push(format!("{what}: {status}"));
        }
        if status.is_success() {
            self.last_success = Some(Instant::now());
        }
        status.is_success()
    }
}

type Shared = Arc<Mutex<Ledger>>;

/// An exam worker: starts an attempt, answers it and submits it with an `Idempotency-Key`,
/// retrying the same submission until it is answered, over and over, until `stop`.
async fn exam(
    client: reqwest::Client,
    base: String,
    learners: Vec<(String, String)>,
    ledger: Shared,
    stop: Arc<AtomicBool>,
) {
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        let (enrolment, token) = &learners[n % learners.len()];
        n += 1;
        let sent = Instant::now();
        let start = client
            .post(format!(
                "{base}/api/v1/enrolments/{enrolment}/quizzes/quiz-final/attempts"
            ))
            .bearer_auth(token)
            .send()
            .await;
        let bytes = match start {
            Ok(r) if ledger.lock().unwrap().judge("start", &r, sent) => match r.bytes().await {
                Ok(bytes) => bytes,
                Err(_) => continue,
            },
            Ok(r) if r.status().is_client_error() => {
                let status = r.status();
                let text = r.text().await.unwrap_or_default();
                ledger
                    .lock()
                    .unwrap()
                    .broken
                    .push(format!("start: {status} {text}"));
                continue;
            }
            _ => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(paper) = serde_json::from_slice::<support::Paper<'_>>(&bytes) else {
            continue;
        };
        let attempt = paper.id.to_string();
        let body = json!({ "answers": support::answers_for(&paper.items) }).to_string();
        let key = uuid::Uuid::new_v4().to_string();
        // The same submission until it is answered: a crash in between must not lose it
        // nor grade it twice.
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            let asked = Instant::now();
            let sent = client
                .post(format!("{base}/api/v1/attempts/{attempt}/submit"))
                .bearer_auth(token)
                .header("idempotency-key", &key)
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await;
            if let Ok(r) = sent {
                let ok = ledger.lock().unwrap().judge("submit", &r, asked);
                let status = r.status();
                let answer: Value = r.json().await.unwrap_or_default();
                if ok {
                    ledger.lock().unwrap().submitted.push(Submitted {
                        attempt: attempt.clone(),
                        enrolment: enrolment.clone(),
                        key: key.clone(),
                        body: body.clone(),
                        percent: score(&answer).unwrap_or(-1.0),
                    });
                    break;
                }
                if status.is_client_error() {
                    ledger
                        .lock()
                        .unwrap()
                        .broken
                        .push(format!("submit replay: {status} {answer}"));
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The bench's copy of the QVT module, its final quiz passed at 1 %: the workers' answers
/// (the first choice of each question) then pass now and then, so that learners complete
/// the course, each earning one certificate and its mail, while the server is killed.
fn faults_courses(dir: &Path) -> PathBuf {
    let courses = support::bench_courses(dir);
    let quiz = courses.join("qvt-formation-initiale/quizzes/quiz-final.toml");
    let text = std::fs::read_to_string(&quiz).unwrap();
    assert!(
        text.contains("pass_mark = 70"),
        "the final quiz's pass mark moved"
    );
    std::fs::write(&quiz, text.replace("pass_mark = 70", "pass_mark = 1")).unwrap();
    courses
}

/// Every lesson of every learner done, with 20 minutes read in each two days ago: passing
/// the final quiz is all they lack to complete.
fn ready_to_complete(pool: &Pool, seeded: &support::Seeded) {
    let mut conn = pool.get().unwrap();
    let lessons: Vec<String> = course_lessons::table
        .select(course_lessons::lesson_id)
        .distinct()
        .load(&mut *conn)
        .unwrap();
    let start = chrono::Utc::now().naive_utc() - chrono::Duration::days(2);
    for (enrolment, _) in &seeded.learners {
        for (n, lesson) in lessons.iter().enumerate() {
            let from = start + chrono::Duration::seconds(1_300 * n as i64);
            let to = from + chrono::Duration::seconds(1_200);
            diesel::insert_into(lesson_progress::table)
                .values((
                    lesson_progress::enrolment_id.eq(enrolment),
                    lesson_progress::lesson_id.eq(lesson),
                    lesson_progress::first_viewed_at.eq(from),
                    lesson_progress::completed_at.eq(Some(to)),
                ))
                .execute(&mut *conn)
                .unwrap();
            diesel::insert_into(time_intervals::table)
                .values((
                    time_intervals::id.eq(uuid::Uuid::new_v4().to_string()),
                    time_intervals::enrolment_id.eq(enrolment),
                    time_intervals::lesson_id.eq(lesson),
                    time_intervals::started_at.eq(from),
                    time_intervals::ended_at.eq(to),
                    time_intervals::active_seconds.eq(1_200),
                ))
                .execute(&mut *conn)
                .unwrap();
        }
    }
}

/// Each completion has exactly one live certificate and each certificate its mail queued;
/// within `wait`, every certificate mail is sent (at least once: a kill between the send
/// and its record sends it again after the 30 s lease, with the same Message-ID).
async fn certificates_once(verdict: &mut Verdict, pool: &Pool, wait: Duration) {
    let count = |conn: &mut db::PooledConn| {
        let completed: i64 = completions::table.count().get_result(&mut **conn).unwrap();
        let live: Vec<String> = certificates::table
            .filter(certificates::revoked_at.is_null())
            .select(certificates::enrolment_id)
            .load(&mut **conn)
            .unwrap();
        let mails: Vec<String> = mail_outbox::table
            .filter(mail_outbox::template.eq("certificat_delivre"))
            .select(mail_outbox::status)
            .load(&mut **conn)
            .unwrap();
        (completed, live, mails)
    };
    let mut conn = pool.get().unwrap();
    let (completed, live, mails) = count(&mut conn);
    let holders: std::collections::HashSet<&String> = live.iter().collect();
    verdict.check(
        completed > 0 && live.len() as i64 == completed && holders.len() == live.len(),
        format!(
            "{completed} completions, {} live certificates, {} holders: one certificate each",
            live.len(),
            holders.len()
        ),
    );
    verdict.check(
        mails.len() == live.len(),
        format!(
            "a certificate mail queued with each certificate ({})",
            mails.len()
        ),
    );
    let asked = Instant::now();
    let mut unsent = mails.iter().filter(|s| *s != "sent").count();
    while unsent > 0 && asked.elapsed() < wait {
        tokio::time::sleep(Duration::from_millis(500)).await;
        unsent = count(&mut conn).2.iter().filter(|s| *s != "sent").count();
    }
    verdict.check(
        unsent == 0,
        format!(
            "every certificate mail sent ({unsent} unsent after {:.1} s)",
            asked.elapsed().as_secs_f64()
        ),
    );
}

/// The score a submission's answer (an attempt with its result) gives.
fn score(answer: &Value) -> Option<f64> {
    answer["result"]["percent"].as_f64()
}

/// A learner reading: one heartbeat a second (a fresh id each), summing what is credited.
async fn reader(
    client: reqwest::Client,
    base: String,
    learner: (String, String),
    lesson: String,
    ledger: Shared,
    stop: Arc<AtomicBool>,
) {
    let (enrolment, token) = learner;
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let asked = Instant::now();
        let sent = client
            .post(format!(
                "{base}/api/v1/enrolments/{enrolment}/lessons/{lesson}/heartbeat"
            ))
            .bearer_auth(&token)
            .json(&json!({ "beat_id": format!("{}-{n}", uuid::Uuid::new_v4()) }))
            .send()
            .await;
        if let Ok(r) = sent {
            if ledger.lock().unwrap().judge("heartbeat", &r, asked) {
                let answer: Value = r.json().await.unwrap_or_default();
                let mut l = ledger.lock().unwrap();
                l.beats += 1;
                *l.credited.entry(enrolment.clone()).or_default() +=
                    answer["credited_seconds"].as_i64().unwrap_or(0);
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// The load: `exams` workers submitting, `readers` learners beating, until the returned
/// flag is raised and the handles awaited.
struct Load {
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    fn start(
        client: &reqwest::Client,
        base: &str,
        seeded: &support::Seeded,
        ledger: &Shared,
    ) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let (exams, readers) = (8, 20);
        let mut tasks = Vec::new();
        for w in 0..exams {
            // Each worker its own learners: two never share an open attempt.
            let mine: Vec<(String, String)> = seeded.learners[readers..]
                .iter()
                .skip(w)
                .step_by(exams)
                .cloned()
                .collect();
            tasks.push(tokio::spawn(exam(
                client.clone(),
                base.to_owned(),
                mine,
                ledger.clone(),
                stop.clone(),
            )));
        }
        for learner in &seeded.learners[..readers] {
            tasks.push(tokio::spawn(reader(
                client.clone(),
                base.to_owned(),
                learner.clone(),
                seeded.lesson.clone(),
                ledger.clone(),
                stop.clone(),
            )));
        }
        Self { stop, tasks }
    }

    /// A load run 3 s, so a fault falls on an exam in full swing, and the submissions
    /// acknowledged so far (what came after the fault is counted against them).
    async fn warmed(
        client: &reqwest::Client,
        base: &str,
        seeded: &support::Seeded,
        ledger: &Shared,
    ) -> (Self, usize) {
        let load = Self::start(client, base, seeded, ledger);
        tokio::time::sleep(Duration::from_secs(3)).await;
        let before = ledger.lock().unwrap().submitted.len();
        (load, before)
    }

    /// Stops the load after 2 s more of it: what follows the fault's recovery.
    async fn stop_after_more(self) {
        tokio::time::sleep(Duration::from_secs(2)).await;
        self.stop().await;
    }

    async fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Broken guarantees, printed as they are found.
#[derive(Default)]
struct Verdict {
    failures: Vec<String>,
}

impl Verdict {
    fn check(&mut self, ok: bool, what: impl Into<String>) {
        let what = what.into();
        println!("  {} {what}", if ok { "ok  " } else { "FAIL" });
        if !ok {
            self.failures.push(what);
        }
    }
}

/// What the database holds against what was acknowledged; replays every acknowledged
/// submission through the API.
async fn audit(
    verdict: &mut Verdict,
    pool: &Pool,
    client: &reqwest::Client,
    server: &Server,
    seeded: &support::Seeded,
    ledger: &Shared,
) {
    // After a database restart the pool may still hold dead connections: each fails once
    // and is dropped.
    let mut conn = pool.get().unwrap();
    for _ in 0..20 {
        if diesel::sql_query("SELECT 1").execute(&mut *conn).is_ok() {
            break;
        }
        conn = pool.get().unwrap();
    }
    // The phase is over: its ledger is read here only.
    let l = std::mem::take(&mut *ledger.lock().unwrap());
    let stored: HashMap<String, (String, Option<f64>, bool)> = quiz_attempts::table
        .select((
            quiz_attempts::id,
            quiz_attempts::enrolment_id,
            quiz_attempts::percent,
            quiz_attempts::submitted_at.is_not_null(),
        ))
        .load::<(String, String, Option<f64>, bool)>(&mut *conn)
        .unwrap()
        .into_iter()
        .map(|(id, e, p, s)| (id, (e, p, s)))
        .collect();
    let lost: Vec<&Submitted> = l
        .submitted
        .iter()
        .filter(|s| {
            stored.get(&s.attempt).is_none_or(|(e, p, done)| {
                !done || e != &s.enrolment || p.is_none_or(|p| (p - s.percent).abs() > 1e-9)
            })
        })
        .collect();
    verdict.check(
        lost.is_empty(),
        format!(
            "{} acknowledged submissions all stored with their score ({} lost or changed)",
            l.submitted.len(),
            lost.len()
        ),
    );
    let mut open: HashMap<&str, usize> = HashMap::new();
    for (e, _, done) in stored.values() {
        if !done {
            *open.entry(e.as_str()).or_default() += 1;
        }
    }
    let doubled = open.values().filter(|n| **n > 1).count();
    verdict.check(
        doubled == 0,
        format!("no enrolment with two open attempts ({doubled})"),
    );
    let stored_time: HashMap<String, i64> = time_intervals::table
        .group_by(time_intervals::enrolment_id)
        .select((
            time_intervals::enrolment_id,
            diesel::dsl::sum(time_intervals::active_seconds),
        ))
        .load::<(String, Option<i64>)>(&mut *conn)
        .unwrap()
        .into_iter()
        .map(|(e, s)| (e, s.unwrap_or(0)))
        .collect();
    let (acknowledged, kept): (i64, i64) = l.credited.iter().fold((0, 0), |(a, k), (e, s)| {
        (
            a + s,
            k + (*s).min(stored_time.get(e).copied().unwrap_or(0)),
        )
    });
    verdict.check(
        acknowledged == kept,
        format!(
            "acknowledged time on task kept: {kept} of {acknowledged} s in {} beats",
            l.beats
        ),
    );
    let broken = l.broken.clone();
    let replays: Vec<(String, String, String, f64, String)> = l
        .submitted
        .iter()
        .map(|s| {
            let token = seeded
                .learners
                .iter()
                .find(|(e, _)| *e == s.enrolment)
                .map(|(_, t)| t.clone())
                .unwrap_or_default();
            (
                s.attempt.clone(),
                s.key.clone(),
                s.body.clone(),
                s.percent,
                token,
            )
        })
        .collect();
    let mut differing = 0;
    for (attempt, key, body, percent, token) in &replays {
        let again = client
            .post(server.url(&format!("/api/v1/attempts/{attempt}/submit")))
            .bearer_auth(token)
            .header("idempotency-key", key)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        let ok = again.status().is_success();
        let answer: Value = again.json().await.unwrap_or_default();
        if !ok || score(&answer) != Some(*percent) {
            if differing == 0 {
                println!("  first differing replay: {answer} (acknowledged {percent})");
            }
            differing += 1;
        }
    }
    verdict.check(
        differing == 0,
        format!(
            "{} same-key replays answered the same result ({differing} differ)",
            replays.len()
        ),
    );
    verdict.check(
        broken.is_empty(),
        format!(
            "no answer but 2xx, 4xx or 503 with Retry-After ({} others: {:?})",
            broken.len(),
            broken.iter().take(5).collect::<Vec<_>>()
        ),
    );
    if server.database_url.starts_with("postgres") {
        return;
    }
    let check: Vec<IntegrityRow> = diesel::sql_query("PRAGMA integrity_check")
        .load(&mut *conn)
        .unwrap();
    let answer: Vec<&str> = check.iter().map(|r| r.integrity_check.as_str()).collect();
    verdict.check(
        answer == ["ok"],
        format!("SQLite integrity_check: {answer:?}"),
    );
}

#[derive(QueryableByName)]
struct IntegrityRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    integrity_check: String,
}

/// `kill -9` every 1.5–3.5 s under load, `kills` times, restarting each time.
async fn kills(
    verdict: &mut Verdict,
    server: &mut Server,
    client: &reqwest::Client,
    seeded: &support::Seeded,
    pool: &Pool,
    kills: usize,
) {
    println!("== kill -9 under exam load ({kills} kills)");
    let ledger = Shared::default();
    let load = Load::start(client, &server.url(""), seeded, &ledger);
    let mut restarts = Vec::new();
    for k in 0..kills {
        tokio::time::sleep(Duration::from_millis(1_500 + (k as u64 * 700) % 2_000)).await;
        server.kill9();
        let down = Instant::now();
        server.start(client).await;
        restarts.push(down.elapsed());
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    load.stop().await;
    let slowest = restarts.iter().max().copied().unwrap_or_default();
    let (submitted, beats, unavailable) = {
        let l = ledger.lock().unwrap();
        (l.submitted.len(), l.beats, l.unavailable)
    };
    println!(
        "  {kills} kills, back ready within {:.1} s at most; {submitted} submissions, {beats} beats, {unavailable} × 503",
        slowest.as_secs_f64(),
    );
    verdict.check(submitted >= kills, "the exam went on between the kills");
    audit(verdict, pool, client, server, seeded, &ledger).await;
    // A send cut by a kill is retried once its 30 s lease runs out.
    certificates_once(verdict, pool, Duration::from_secs(60)).await;
}

/// PostgreSQL stopped for 5 s under load, then started: 503s while it is down, `/readyz`
/// not ready within a second, recovery by itself.
async fn database_restart(
    verdict: &mut Verdict,
    server: &Server,
    client: &reqwest::Client,
    seeded: &support::Seeded,
    pool: &Pool,
    pg_ctl: &str,
) {
    println!("== PostgreSQL stopped and started under load");
    let ledger = Shared::default();
    let (load, _) = Load::warmed(client, &server.url(""), seeded, &ledger).await;
    let stopped = sh(&format!("{pg_ctl} -m fast -w stop"));
    verdict.check(stopped, "PostgreSQL stopped");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let asked = Instant::now();
    let ready = client
        .get(server.url("/readyz"))
        .timeout(Duration::from_secs(10))
        .send()
        .await;
    let answered_in = asked.elapsed();
    verdict.check(
        ready.as_ref().is_ok_and(|r| r.status().as_u16() == 503)
            && answered_in < Duration::from_millis(1_500),
        format!(
            "/readyz not ready while the database is down ({:?} in {:.2} s)",
            ready.map(|r| r.status().as_u16()),
            answered_in.as_secs_f64()
        ),
    );
    tokio::time::sleep(Duration::from_secs(4)).await;
    let before = ledger.lock().unwrap().submitted.len();
    let started = sh(&format!("{pg_ctl} -w start"));
    verdict.check(started, "PostgreSQL started again");
    let recovered = next_submission(&ledger, before, Instant::now()).await;
    load.stop_after_more().await;
    let (unavailable, slowest) = {
        let l = ledger.lock().unwrap();
        (l.unavailable, l.slowest_unavailable)
    };
    println!(
        "  {unavailable} × 503 while down, the slowest in {:.2} s; first submission after the restart in {:?}",
        slowest.as_secs_f64(),
        recovered.map(|d| format!("{:.2} s", d.as_secs_f64()))
    );
    verdict.check(
        unavailable > 0 && slowest < Duration::from_millis(2_500),
        "requests answered 503 at once while it is down, not after the 10 s checkout timeout",
    );
    verdict.check(
        recovered.is_some_and(|d| d < Duration::from_secs(10)),
        "recovered by itself within 10 s",
    );
    audit(verdict, pool, client, server, seeded, &ledger).await;
}

/// SIGTERM with ten clients trickling a request body and learners beating: the stop ends
/// within the grace period, exits 0, and the time answered is stored.
async fn sigterm(
    verdict: &mut Verdict,
    server: &mut Server,
    client: &reqwest::Client,
    seeded: &support::Seeded,
    pool: &Pool,
) {
    println!("== SIGTERM under load with slow clients");
    let ledger = Shared::default();
    let load = Load::start(client, &server.url(""), seeded, &ledger);
    let mut slow = Vec::new();
    for _ in 0..10 {
        let port = server.port;
        slow.push(std::thread::spawn(move || {
            use std::io::Write;
            let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
                return;
            };
            let _ = write!(
                s,
                "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
            );
            for _ in 0..30 {
                if s.write_all(b" ").is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (status, took) = tokio::task::block_in_place(|| server.terminate());
    println!("  stopped in {:.2} s with {status}", took.as_secs_f64());
    verdict.check(
        status.success() && took < Duration::from_secs(12),
        // The trickling clients hold their requests to the end of the grace period.
        "exit 0 by the end of the 10 s grace period (2 s allowed for the flush)",
    );
    // Started again before the load stops: a submission in flight at the stop is retried
    // until answered, and the audit replays through the API.
    server.start(client).await;
    load.stop().await;
    audit(verdict, pool, client, server, seeded, &ledger).await;
    for s in slow {
        let _ = s.join();
    }
}

/// The data directory on a small tmpfs, filled up under load, then freed (SQLite only;
/// skipped when a tmpfs cannot be mounted here).
async fn disk_full(verdict: &mut Verdict, client: &reqwest::Client) {
    println!("== disk full (SQLite data directory on a 64 MiB tmpfs)");
    let failures = verdict.failures.len();
    let outer = tempfile::tempdir().unwrap();
    let dir = outer.path().join("data");
    std::fs::create_dir_all(&dir).unwrap();
    if !sh(&format!(
        "mount -t tmpfs -o size=64m tmpfs {}",
        dir.display()
    )) {
        println!("  skipped: a tmpfs cannot be mounted here (needs root)");
        return;
    }
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(dir.clone());
    let courses = support::bench_courses(outer.path());
    let url = dir
        .join("qvt-campus.sqlite3")
        .to_string_lossy()
        .into_owned();
    let mut server = Server::new(&dir, &courses, &url);
    server.log = outer.path().join("server.log");
    server.start(client).await;
    let pool = pool_for(&url, &dir, &server);
    let seeded = support::seed(&pool, &settings_for(&url, &dir, &server), 100).unwrap();
    let ledger = Shared::default();
    let load = Load::start(client, &server.url(""), &seeded, &ledger);
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Fill what is left.
    let filler = dir.join("filler");
    let _ = sh(&format!(
        "dd if=/dev/zero of={} bs=1M 2>/dev/null",
        filler.display()
    ));
    // SQLite reuses its write-ahead log: writes fail once a checkpoint needs room.
    let full = Instant::now();
    while full.elapsed() < Duration::from_secs(15) && ledger.lock().unwrap().unavailable == 0 {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ready = client.get(server.url("/readyz")).send().await;
    if let Err(e) = &ready {
        println!("  /readyz while full: {e}");
    }
    let full_status = ready.map(|r| r.status().as_u16()).ok();
    let unavailable = ledger.lock().unwrap().unavailable;
    println!("  while full: /readyz {full_status:?}, {unavailable} × 503");
    verdict.check(
        unavailable > 0 && full_status == Some(503),
        "writes refused with 503 while the disk is full, /readyz not ready",
    );
    std::fs::remove_file(&filler).unwrap();
    let freed = Instant::now();
    let mut recovered = None;
    while freed.elapsed() < Duration::from_secs(30) {
        let ready = client.get(server.url("/readyz")).send().await;
        if ready.is_ok_and(|r| r.status().is_success()) {
            recovered = Some(freed.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    load.stop().await;
    verdict.check(
        recovered.is_some(),
        format!("ready again once space returns ({recovered:?})"),
    );
    audit(verdict, &pool, client, &server, &seeded, &ledger).await;
    if verdict.failures.len() > failures {
        println!("  server log: {}", server.log.display());
        let _ = outer.keep();
    }
}

/// Schemathesis (from PyPI, installed by `scripts/faults` under `target/py-st`) over the
/// served OpenAPI document with one token (a learner's, then the organisation admin's): no
/// 5xx, no answer outside its schema. Last: what it sends may sign them out or erase them.
fn schemathesis(verdict: &mut Verdict, server: &Server, who: &str, token: &str) {
    println!("== Schemathesis over /api/openapi.json with the {who}'s token");
    let py = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/py-st");
    if !py.join("schemathesis").exists() {
        println!("  skipped: schemathesis is not installed under target/py-st");
        return;
    }
    let report = server.dir.join(format!("schemathesis-{who}"));
    let details = server.dir.join(format!("schemathesis-{who}.txt"));
    let output = Command::new("python3")
        .args(["-m", "schemathesis.cli", "run"])
        .arg(server.url("/api/openapi.json"))
        .args(["--checks", "not_a_server_error,response_schema_conformance"])
        .args([
            "--max-examples",
            "5",
            "--workers",
            "2",
            "--request-timeout",
            "10",
        ])
        .args(["--generation-deterministic", "--no-color"])
        .arg("--header")
        .arg(format!("Authorization: Bearer {token}"))
        .arg("--report-dir")
        .arg(&report)
        .env("PYTHONPATH", &py)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    let summary: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("passed") || l.contains("failed") || l.contains("test cases"))
        .collect();
    println!("  {}", summary.join("\n  "));
    if !output.status.success() {
        std::fs::write(&details, text.as_bytes()).unwrap();
    }
    verdict.check(
        output.status.success(),
        format!(
            "Schemathesis ({who}): no server error, every answer in its schema (details: {})",
            details.display()
        ),
    );
}

fn sh(command: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn settings_for(url: &str, dir: &Path, server: &Server) -> Settings {
    let mut settings = Settings::from_lookup(|_| None).unwrap();
    settings.database.url = qvt_campus::config::Secret::new(url.to_owned());
    settings.identity.keys_dir = dir.join("keys");
    settings.public_url = server.public_url.clone();
    settings
}

fn pool_for(url: &str, dir: &Path, server: &Server) -> Pool {
    db::connect(&settings_for(url, dir, server).database).unwrap()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let o = options();
    let dir = tempfile::tempdir().unwrap();
    let courses = faults_courses(dir.path());
    let url = o.database_url.clone().unwrap_or_else(|| {
        dir.path()
            .join("qvt-campus.sqlite3")
            .to_string_lossy()
            .into_owned()
    });
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .unwrap();
    let mut server = Server::new(dir.path(), &courses, &url);
    server.start(&client).await;
    let pool = pool_for(&url, dir.path(), &server);
    let seeded = support::seed(&pool, &settings_for(&url, dir.path(), &server), 200).unwrap();
    ready_to_complete(&pool, &seeded);
    let mut verdict = Verdict::default();
    if o.runs("kills") {
        kills(&mut verdict, &mut server, &client, &seeded, &pool, o.kills).await;
    }
    if let (Some(pg_ctl), true) = (&o.pg_ctl, o.runs("restart")) {
        database_restart(&mut verdict, &server, &client, &seeded, &pool, pg_ctl).await;
    }
    if o.database_url.is_some() && o.runs("cluster") {
        cluster::three_instances(&mut verdict, &server, &client, &seeded, &pool).await;
    }
    if o.runs("sigterm") {
        sigterm(&mut verdict, &mut server, &client, &seeded, &pool).await;
    }
    if o.database_url.is_none() && o.runs("disk") {
        disk_full(&mut verdict, &client).await;
    }
    if o.runs("schemathesis") {
        let learner = seeded.learners[0].1.clone();
        tokio::task::block_in_place(|| {
            schemathesis(&mut verdict, &server, "learner", &learner);
            schemathesis(&mut verdict, &server, "admin", &seeded.admin);
        });
    }
    // Last: the database is then the promoted standby.
    if let (Some(stop), Some(promote), true) = (&o.stop_primary, &o.promote, o.runs("failover")) {
        failover::lose_the_primary(
            &mut verdict,
            &server,
            &client,
            &seeded,
            &pool,
            stop,
            promote,
        )
        .await;
    }
    // Before `exit`, which runs no destructor: the server must not outlive the suite.
    drop(server);
    if !verdict.failures.is_empty() {
        eprintln!(
            "faults: {} broken guarantees (server log: {})",
            verdict.failures.len(),
            dir.path().join("server.log").display()
        );
        let _ = dir.keep();
        std::process::exit(1);
    }
    println!("faults: every guarantee held");
}
