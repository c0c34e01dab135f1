//! Three instances on one PostgreSQL database behind HAProxy (Debian's `haproxy`, health
//! checks on `/readyz`): the same quiz start and the same submission raced across the
//! instances give one attempt and one grading; under exam load through the balancer, one
//! instance stopped by SIGTERM drains (not ready, still serving) and no client sees an error.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::support::{self, free_port};
use super::{audit, certificates_once, Load, Server, Shared, Verdict};

/// HAProxy in front of the instances, on free ports, with its statistics as CSV.
pub(crate) struct Balancer {
    child: Child,
    port: u16,
    stats_port: u16,
}

impl Balancer {
    pub(crate) fn start(dir: &Path, instances: &[u16]) -> Option<Self> {
        let (port, stats_port) = (free_port(), free_port());
        let config = support::haproxy_config(port, instances, stats_port);
        let file = dir.join("haproxy.cfg");
        std::fs::write(&file, config).unwrap();
        let child = Command::new("haproxy")
            .arg("-db")
            .arg("-f")
            .arg(&file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        Some(Self {
            child,
            port,
            stats_port,
        })
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// How many instances HAProxy sends requests to now.
    async fn up(&self, client: &reqwest::Client) -> usize {
        let Ok(r) = client
            .get(format!("http://127.0.0.1:{}/stats;csv", self.stats_port))
            .send()
            .await
        else {
            return 0;
        };
        let csv = r.text().await.unwrap_or_default();
        csv.lines()
            .filter(|l| l.starts_with("app,i"))
            .filter(|l| l.split(',').nth(17) == Some("UP"))
            .count()
    }

    /// Waits (with a deadline) until exactly `n` instances are up.
    pub(crate) async fn until_up(&self, client: &reqwest::Client, n: usize) -> Option<Duration> {
        let asked = Instant::now();
        while asked.elapsed() < Duration::from_secs(20) {
            if self.up(client).await == n {
                return Some(asked.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether Debian's `haproxy` is there: its absence fails the suite in CI only.
pub(crate) fn haproxy_installed(verdict: &mut Verdict) -> bool {
    if Command::new("haproxy").arg("-v").output().is_ok() {
        return true;
    }
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    verdict.check(!ci, "HAProxy installed (Debian's haproxy)");
    println!("  skipped: no haproxy");
    false
}

pub(crate) async fn three_instances(
    verdict: &mut Verdict,
    first: &Server,
    client: &reqwest::Client,
    seeded: &support::Seeded,
    pool: &qvt_campus::db::Pool,
) {
    println!("== three instances behind HAProxy");
    if !haproxy_installed(verdict) {
        return;
    }
    let mut others: Vec<Server> = (0..2).map(|_| first.sibling()).collect();
    for server in &mut others {
        server.start(client).await;
    }
    let ports = [first.port, others[0].port, others[1].port];
    let Some(lb) = Balancer::start(&first.dir, &ports) else {
        verdict.check(false, "HAProxy started");
        return;
    };
    let all_up = lb.until_up(client, 3).await;
    verdict.check(
        all_up.is_some(),
        format!("HAProxy sees the three instances up ({all_up:?})"),
    );

    race(verdict, client, &[first, &others[0], &others[1]], seeded).await;

    let ledger = Shared::default();
    let (load, before) = Load::warmed(client, &lb.url(""), seeded, &ledger).await;
    let (status, took) = tokio::task::block_in_place(|| others[0].terminate());
    let down = lb.until_up(client, 2).await;
    load.stop_after_more().await;
    let (submitted, broken) = {
        let l = ledger.lock().unwrap();
        (l.submitted.len(), l.broken.len())
    };
    println!(
        "  one instance stopped by SIGTERM in {:.2} s ({status}); {submitted} submissions \
         through HAProxy, {} after the stop began, {broken} errors",
        took.as_secs_f64(),
        submitted - before
    );
    verdict.check(
        status.success() && down.is_some(),
        "the stopped instance drained (out of HAProxy) and exited 0",
    );
    verdict.check(
        submitted > before,
        "the exam went on through the two others",
    );
    audit(verdict, pool, client, first, seeded, &ledger).await;

    // One of the two left dies mid-exam (kill -9): the exam goes on through the last one
    // and nothing acknowledged is lost. (What the dead one was answering, HAProxy replays
    // when harmless; requests here last about a millisecond, so few are caught in flight:
    // a run without the replay rule saw no error either.)
    let ledger = Shared::default();
    let (load, before) = Load::warmed(client, &lb.url(""), seeded, &ledger).await;
    others[1].kill9();
    let down = lb.until_up(client, 1).await;
    load.stop_after_more().await;
    let (submitted, broken, dropped) = {
        let l = ledger.lock().unwrap();
        (l.submitted.len(), l.broken.clone(), l.dropped.clone())
    };
    let dropped_writes: Vec<&String> = dropped.iter().filter(|w| *w != "heartbeat").collect();
    println!(
        "  one instance killed (-9) under load: out of HAProxy in {down:?}; {submitted} \
         submissions, {} after the kill; {} heartbeats in flight answered 502 (not \
         replayed), other 502s {dropped_writes:?}, other errors {broken:?}",
        submitted - before,
        dropped.len() - dropped_writes.len(),
    );
    verdict.check(
        down.is_some() && submitted > before && broken.is_empty() && dropped_writes.is_empty(),
        "an instance killed mid-exam: the exam went on through the last one, no error \
         (but heartbeats in flight)",
    );
    audit(verdict, pool, client, first, seeded, &ledger).await;
    // What the dead instance's periodic jobs had claimed is done by the others: a mail it
    // was sending is taken over when its 30 s lease ends.
    certificates_once(verdict, pool, Duration::from_secs(45)).await;
    // Whether it held one or not there, it does here.
    super::mail::claimed_mail_outlives_its_sender(verdict, first, client, pool).await;
}

/// The same start, then the same submission (one `Idempotency-Key`), sent at once to each
/// instance, for a few learners: one attempt, one grading, every answer alike.
async fn race(
    verdict: &mut Verdict,
    client: &reqwest::Client,
    servers: &[&Server],
    seeded: &support::Seeded,
) {
    let mut differing = Vec::new();
    let learners = &seeded.learners[seeded.learners.len() - 10..];
    for (enrolment, token) in learners {
        let starts = servers.iter().map(|s| {
            client
                .post(s.url(&format!(
                    "/api/v1/enrolments/{enrolment}/quizzes/quiz-final/attempts"
                )))
                .bearer_auth(token)
                .send()
        });
        let mut ids = Vec::new();
        let mut paper = None;
        for answer in futures_util::future::join_all(starts).await {
            let Ok(answer) = answer else { continue };
            let status = answer.status().as_u16();
            let text = answer.text().await.unwrap_or_default();
            if status != 200 && status != 201 {
                differing.push(format!("start: {status} {text}"));
                continue;
            }
            let body: Value = serde_json::from_str(&text).unwrap_or_default();
            ids.push(body["id"].as_str().unwrap_or_default().to_owned());
            paper = Some(text);
        }
        ids.dedup();
        if ids.len() != 1 {
            differing.push(format!("{enrolment}: attempts {ids:?} for one start"));
            continue;
        }
        let paper = paper.unwrap();
        let paper: support::Paper<'_> = serde_json::from_str(&paper).expect("a paper");
        let body = json!({ "answers": support::answers_for(&paper.items) }).to_string();
        let key = uuid::Uuid::new_v4().to_string();
        let submits = servers.iter().map(|s| {
            client
                .post(s.url(&format!("/api/v1/attempts/{}/submit", ids[0])))
                .bearer_auth(token)
                .header("idempotency-key", &key)
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
        });
        let mut scores = Vec::new();
        for answer in futures_util::future::join_all(submits).await {
            let Ok(answer) = answer else { continue };
            let status = answer.status().as_u16();
            let body: Value = answer.json().await.unwrap_or_default();
            if status != 200 {
                differing.push(format!("submit: {status} {body}"));
                continue;
            }
            scores.push(super::score(&body));
        }
        scores.dedup();
        if scores.len() != 1 {
            differing.push(format!("{enrolment}: scores {scores:?} for one submission"));
        }
    }
    verdict.check(
        differing.is_empty(),
        format!(
            "10 starts and 10 submissions each raced on the three instances: one attempt, one \
             result ({:?})",
            differing.iter().take(3).collect::<Vec<_>>()
        ),
    );
}
