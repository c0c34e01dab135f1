//! The state every handler shares (behind `web::Data`): the database, the keys, and the
//! in-memory caches. `startup` builds it; nothing here starts anything.

use std::sync::Arc;

use crate::catalog::cache::CourseCache;
use crate::certificates::{keys::IssuerKey, status};
use crate::config::Settings;
use crate::db::{self, Pool};
use crate::identity::{auth::AccountCache, tokens::KeyRing};
use crate::learning::Learning;
use crate::templates::Templates;

pub struct AppState {
    pub pool: Pool,
    /// Group commit for the exam's writes on SQLite (see `db::Writer`).
    pub writer: db::Writer,
    pub settings: Settings,
    pub templates: Arc<Templates>,
    pub keys: KeyRing,
    /// Signs certificates' credentials and status lists (RS256), not access tokens.
    pub issuer: IssuerKey,
    pub status_lists: status::Cache,
    /// Parsed course versions, for every capability that needs a course.
    pub courses: Arc<CourseCache>,
    /// Time on task and the heartbeats' recent checks.
    pub learning: Arc<Learning>,
    /// Accounts checked in the last seconds (see `identity::auth::AccountCache`).
    pub accounts: AccountCache,
}

/// What a committed change made stale in the caches of [`AppState`]: the services that
/// disable, erase or sign out an account, withdraw an enrolment or edit a session return
/// it, and the caller hands it to [`AppState::forget`] once their transaction has committed
/// (forgotten earlier, a concurrent request could cache the old state again). `#[must_use]`
/// and `-D warnings` make an entry point that drops it fail to build.
#[must_use = "hand it to AppState::forget once the transaction has committed"]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stale {
    /// An account disabled, erased or signed out everywhere: its next request is checked
    /// against the database, and so are its heartbeats.
    Account(String),
    /// A withdrawn enrolment: its heartbeats stop crediting time at once.
    Enrolment(String),
    /// A session edited, closed or reopened: its heartbeats are checked again.
    Session(String),
}

impl Stale {
    /// Forgets what these caches remember of it.
    pub(crate) fn forget_in(self, accounts: &AccountCache, learning: &Learning) {
        match self {
            Stale::Account(id) => {
                accounts.forget(&id);
                learning.forget_recording_of(&id);
            }
            Stale::Enrolment(id) => learning.forget_recording(Some(&id), None),
            Stale::Session(id) => learning.forget_recording(None, Some(&id)),
        }
    }
}

impl AppState {
    /// Forgets what a committed change made stale (see [`Stale`]).
    pub fn forget(&self, stale: Stale) {
        stale.forget_in(&self.accounts, &self.learning);
    }
}
