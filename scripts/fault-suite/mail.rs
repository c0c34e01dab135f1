//! A mail claimed by an instance that dies mid-conversation: the instance's SMTP server
//! holds the conversation (it greets, then never answers), the instance is killed with
//! `-9` while it holds the message's claim, and another instance sends the message once
//! the claim's lease has run out — once, not never and not twice.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use qvt_campus::db::Pool;
use qvt_campus::mail::{self, NewMail, Status};
use serde_json::json;

use super::{Server, Verdict};

/// The dying instance's lease on a message it claims (the others keep the default 30 s).
const LEASE_SECONDS: u64 = 5;

/// An SMTP server that greets and then never answers: whoever sends through it hangs
/// mid-conversation, holding what it claimed.
struct Staller {
    port: u16,
    conversations: Arc<AtomicUsize>,
}

impl Staller {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let conversations = Arc::new(AtomicUsize::new(0));
        let counted = conversations.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                counted.fetch_add(1, Ordering::SeqCst);
                // Reads what the client says until it goes (or dies), answering nothing.
                std::thread::spawn(move || {
                    let _ = stream.write_all(b"220 staller.test ESMTP\r\n");
                    let mut buf = [0u8; 1024];
                    while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
                });
            }
        });
        Self {
            port,
            conversations,
        }
    }

    fn conversations(&self) -> usize {
        self.conversations.load(Ordering::SeqCst)
    }
}

fn row(pool: &Pool, id: &str) -> mail::OutboxRow {
    mail::find(&mut pool.get().unwrap(), id).unwrap()
}

/// Queues a message, then waits (3 s at most) for the dying instance to be the one in an
/// SMTP conversation for it. The others poll every 2 s, it every 50 ms: it nearly always
/// wins, and a message another instance sent first is simply tried again.
async fn held_by(staller: &Staller, pool: &Pool) -> Option<String> {
    for _ in 0..5 {
        let before = staller.conversations();
        let message = NewMail::new("cadre@chu-exemple.fr", "essai", json!({})).unwrap();
        let id = pool
            .get()
            .unwrap()
            .write(|c| mail::enqueue(c, &message))
            .unwrap();
        let asked = Instant::now();
        while asked.elapsed() < Duration::from_secs(3) {
            if staller.conversations() > before {
                let row = row(pool, &id);
                if row.status == Status::Sending && row.attempts == 1 {
                    return Some(id);
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    None
}

pub(crate) async fn claimed_mail_outlives_its_sender(
    verdict: &mut Verdict,
    first: &Server,
    client: &reqwest::Client,
    pool: &Pool,
) {
    println!("== a mail claimed by an instance killed mid-conversation");
    let staller = Staller::start();
    let mut dying = first.sibling();
    dying.env = vec![
        ("QVT_MAIL_TRANSPORT", "smtp".to_owned()),
        ("SMTP_URL", format!("smtp://127.0.0.1:{}", staller.port)),
        ("QVT_MAIL_LEASE_SECONDS", LEASE_SECONDS.to_string()),
        ("QVT_MAIL_POLL_MS", "50".to_owned()),
    ];
    dying.start(client).await;
    let held = held_by(&staller, pool).await;
    verdict.check(
        held.is_some(),
        "an instance holds a mail's claim, mid-SMTP conversation",
    );
    let Some(id) = held else { return };
    let killed = Instant::now();
    dying.kill9();

    let mut sent = None;
    while killed.elapsed() < Duration::from_secs(LEASE_SECONDS + 30) {
        let row = row(pool, &id);
        if row.status != Status::Sending {
            sent = Some(row);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let took = killed.elapsed().as_secs_f64();
    println!(
        "  the claim's lease was {LEASE_SECONDS} s; another instance sent the message {took:.1} s \
         after the kill: {:?}",
        sent.as_ref().map(|r| (r.status, r.attempts))
    );
    verdict.check(
        sent.is_some_and(|r| r.status == Status::Sent && r.attempts == 2),
        "the mail the dead instance held was sent by another once its lease ran out, on the \
         second attempt",
    );
}
