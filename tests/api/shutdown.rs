//! Graceful shutdown: in-flight requests finish; SIGTERM stops the binary cleanly.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use std::sync::atomic::Ordering;

use crate::helpers::{eventually, free_port, spawn_app, TestDb, SLOW_REQUESTS_STARTED};

#[tokio::test]
async fn an_in_flight_request_finishes_when_the_server_stops() {
    // Arrange: a slow request is being served.
    let app = spawn_app().await;
    let (client, url) = (app.client.clone(), app.url("/test/slow"));
    let before = SLOW_REQUESTS_STARTED.load(Ordering::SeqCst);
    let slow = tokio::spawn(async move { client.get(url).send().await });
    // In flight means in its handler: a fixed pause was too short on a loaded machine.
    eventually(Duration::from_secs(10), || {
        (SLOW_REQUESTS_STARTED.load(Ordering::SeqCst) > before).then_some(())
    })
    .await;

    // Act: graceful stop, as on SIGTERM.
    let handle = app.handle.clone();
    let stopping = tokio::spawn(async move { handle.stop(true).await });

    // Assert
    let response = slow
        .await
        .unwrap()
        .expect("the in-flight request is answered");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.text().await.unwrap(), "done");
    stopping.await.unwrap();
    app.server.await.unwrap().unwrap();
    assert!(
        reqwest::get(format!("{}/healthz", app.address))
            .await
            .is_err(),
        "no new connections"
    );
}

/// The `serve` command on a fresh database, once ready; its address. `env`: extra settings.
async fn serve_binary(env: &[(&str, &str)]) -> (Child, String, tempfile::TempDir, TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let database = TestDb::fresh(dir.path());
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_qvt-campus"))
        .arg("serve")
        .env("QVT_BIND", format!("127.0.0.1:{port}"))
        .env("QVT_DATA_DIR", dir.path())
        .env("DATABASE_URL", &database.url)
        .env("QVT_MAIL_TRANSPORT", "log")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    while status_of(&base, "/readyz").await != Some(200) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the server did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (child, base, dir, database)
}

async fn status_of(base: &str, path: &str) -> Option<u16> {
    reqwest::get(format!("{base}{path}"))
        .await
        .map(|r| r.status().as_u16())
        .ok()
}

fn sigterm(child: &Child) {
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
}

#[tokio::test]
async fn sigterm_stops_the_serve_command_cleanly() {
    // Arrange
    let (mut child, _base, _dir, _db) = serve_binary(&[]).await;

    // Act
    sigterm(&child);

    // Assert: it exits by itself, successfully.
    let status = eventually(Duration::from_secs(15), || child.try_wait().unwrap()).await;
    assert!(status.success(), "{status:?}");
}

/// Behind a load balancer: after SIGTERM the instance says not ready for the drain time
/// (`QVT_DRAIN_SECONDS`) while it still serves, then stops.
#[tokio::test]
async fn after_sigterm_an_instance_drains_not_ready_but_serving_then_stops() {
    // Arrange
    let (mut child, base, _dir, _db) = serve_binary(&[("QVT_DRAIN_SECONDS", "3")]).await;

    // Act
    let signalled = Instant::now();
    sigterm(&child);

    // Assert: not ready at once, still serving, then gone and exited cleanly.
    while status_of(&base, "/readyz").await != Some(503) {
        assert!(signalled.elapsed() < Duration::from_secs(1), "still ready");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(status_of(&base, "/healthz").await, Some(200));
    assert_eq!(status_of(&base, "/api/v1/courses").await, Some(200));
    assert!(signalled.elapsed() < Duration::from_secs(3));
    let status = eventually(Duration::from_secs(15), || child.try_wait().unwrap()).await;
    assert!(status.success(), "{status:?}");
    assert!(
        signalled.elapsed() >= Duration::from_secs(3),
        "stopped before the drain time"
    );
}

#[tokio::test]
async fn a_body_sent_a_byte_now_and_then_is_cut_off_at_the_deadline() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = crate::helpers::spawn_app_with(|s| s.body_deadline = Duration::from_secs(1)).await;
    let address = app.address.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    // Promises 100 bytes, sends 1 per 300 ms.
    stream
        .write_all(
            format!(
                "POST /api/v1/auth/login HTTP/1.1\r\nHost: {address}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    let mut buffer = [0u8; 1024];
    loop {
        if stream.write_all(b" ").await.is_err() {
            break;
        }
        match tokio::time::timeout(Duration::from_millis(300), stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => {
                answer.extend_from_slice(&buffer[..n]);
                break;
            }
            Err(_) => {}
        }
        assert!(started.elapsed() < Duration::from_secs(10), "never cut off");
    }
    // Answered (and freed) after about the deadline, long before the body would be whole.
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 4"), "{answer}");
}
