//! Telling the other instances on the same PostgreSQL database what a committed change made
//! stale, through `LISTEN`/`NOTIFY` on the channel `qvt_stale`: a sign-out, a disabled
//! account or a withdrawal on one instance is forgotten by the others' caches within a
//! fraction of a second, instead of at the end of their TTLs (5 s for accounts, 90 s for the
//! heartbeats' checks). A notification lost while the listening connection is down falls
//! back to those TTLs; after a reconnection every cached account is forgotten, as one may
//! have been missed. SQLite serves one instance: nothing to tell.
//!
//! One thread per instance holds one dedicated connection (not the pool's): it sends what
//! `AppState::forget` hands it and, every [`POLL`], reads what arrived — libpq reads the
//! socket without a round trip to the server.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::Duration;

use diesel::pg::PgConnection;
use diesel::sql_types::Text;
use diesel::RunQueryDsl;

use super::Stale;
use crate::identity::current::AccountCache;
use crate::learning::Learning;

const CHANNEL: &str = "qvt_stale";
/// How often arrived notifications are read: well within the one second a change may take
/// to reach every instance.
const POLL: Duration = Duration::from_millis(100);
/// Every this many polls (10 s), a query checks that the connection is alive.
const PING_EVERY: u32 = 100;
/// How long to wait before connecting again after a failure.
const RECONNECT: Duration = Duration::from_secs(1);

/// The sending end; the thread stops when the application state holding it is dropped.
pub struct Peers {
    outbox: Option<Sender<Stale>>,
}

impl Peers {
    /// No other instance to tell (SQLite).
    pub fn alone() -> Self {
        Self { outbox: None }
    }

    /// Starts the thread that tells and listens on the PostgreSQL database at `url`.
    pub fn start(url: String, accounts: Arc<AccountCache>, learning: Arc<Learning>) -> Self {
        let (outbox, inbox) = mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("stale-peers".into())
            .spawn(move || run(&url, &inbox, &accounts, &learning));
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start telling the other instances");
            return Self::alone();
        }
        Self {
            outbox: Some(outbox),
        }
    }

    /// Hands a committed change's stale item to the thread, which sends it.
    pub fn tell(&self, stale: &Stale) {
        if let Some(outbox) = &self.outbox {
            let _ = outbox.send(stale.clone());
        }
    }
}

/// Forgets what this instance's caches remember of a [`Stale`] item: told by another
/// instance, or by this one (`AppState::forget`).
pub(crate) fn forget_here(stale: Stale, accounts: &AccountCache, learning: &Learning) {
    match stale {
        Stale::Account(id) => {
            accounts.forget(&id);
            learning.forget_recording_of(&id);
        }
        Stale::Enrolment(id) => learning.forget_recording(Some(&id), None),
        Stale::Session(id) => learning.forget_recording(None, Some(&id)),
    }
}

fn run(url: &str, inbox: &Receiver<Stale>, accounts: &AccountCache, learning: &Learning) {
    let mut listening: Option<PgConnection> = None;
    let mut connected_once = false;
    let mut polls: u32 = 0;
    loop {
        if listening.is_none() {
            match listen(url) {
                Ok(conn) => {
                    if connected_once {
                        // What was sent while this connection was down is lost.
                        accounts.forget_all();
                        tracing::info!("listening to the other instances again");
                    }
                    connected_once = true;
                    listening = Some(conn);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen to the other instances; retrying");
                }
            }
        }
        let wait = if listening.is_some() { POLL } else { RECONNECT };
        let mut outgoing = Vec::new();
        match inbox.recv_timeout(wait) {
            Ok(stale) => outgoing.push(stale),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        outgoing.extend(inbox.try_iter());
        let Some(conn) = listening.as_mut() else {
            if !outgoing.is_empty() {
                tracing::warn!(
                    count = outgoing.len(),
                    "not told to the other instances (no connection); their caches expire"
                );
            }
            continue;
        };
        polls = polls.wrapping_add(1);
        // A silent network is not seen by reading the socket: a query now and then is.
        let ping = polls.is_multiple_of(PING_EVERY);
        if let Err(e) = exchange(conn, &outgoing, ping, accounts, learning) {
            tracing::warn!(error = %e, "lost the connection to the other instances");
            listening = None;
        }
    }
}

/// A connection listening on the channel.
fn listen(url: &str) -> diesel::ConnectionResult<PgConnection> {
    let mut conn = crate::db::establish_pg(url)?;
    diesel::sql_query(format!("LISTEN {CHANNEL}"))
        .execute(&mut conn)
        .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
    Ok(conn)
}

/// Sends `outgoing`, then applies what the other instances sent (and this one: harmless).
fn exchange(
    conn: &mut PgConnection,
    outgoing: &[Stale],
    ping: bool,
    accounts: &AccountCache,
    learning: &Learning,
) -> diesel::QueryResult<()> {
    if ping {
        diesel::sql_query("SELECT 1").execute(conn)?;
    }
    for stale in outgoing {
        diesel::sql_query(format!("SELECT pg_notify('{CHANNEL}', $1)"))
            .bind::<Text, _>(stale.encode())
            .execute(conn)?;
    }
    for arrived in conn.notifications_iter() {
        if let Some(stale) = Stale::decode(&arrived?.payload) {
            forget_here(stale, accounts, learning);
        }
    }
    Ok(())
}
