//! The state every handler shares (behind `web::Data`): the database, the keys, and the
//! in-memory caches. `startup` builds it; nothing here starts anything.

use std::sync::Arc;

use crate::catalog::cache::CourseCache;
use crate::certificates::{keys::IssuerKey, status};
use crate::config::Settings;
use crate::db::{self, Pool};
use crate::identity::{current::AccountCache, tokens::KeyRing};
use crate::learning::Learning;
use crate::stale::peers::{forget_here, Peers};
use crate::stale::Stale;
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
    /// The LTI tool key (RS256): our client assertions and deep linking responses.
    pub lti_key: IssuerKey,
    /// LTI platforms' keysets and access tokens, and the HTTP client that fetches them.
    pub lti: crate::lti::client::Platforms,
    /// The origins of platforms that may frame our pages (see `lti::origins`).
    pub lti_frames: crate::lti::origins::FrameOrigins,
    /// OpenID Connect providers' discovery documents and keysets (see `oidc::provider`).
    pub oidc: crate::oidc::provider::Providers,
    pub status_lists: status::Cache,
    /// Parsed course versions, for every capability that needs a course.
    pub courses: Arc<CourseCache>,
    /// Time on task and the heartbeats' recent checks.
    pub learning: Arc<Learning>,
    /// Accounts checked in the last seconds (see `identity::current::AccountCache`).
    pub accounts: Arc<AccountCache>,
    /// The other instances, told of what a change made stale (PostgreSQL).
    pub peers: Peers,
    /// Set at SIGTERM: `/readyz` says not ready while requests are still served.
    pub draining: Arc<std::sync::atomic::AtomicBool>,
    /// Courses whose files were broken at start, served at their last good version: each
    /// with its problems (`path:line: message`), for the platform's admins.
    pub broken_courses: Vec<(String, Vec<String>)>,
}

impl AppState {
    /// Forgets what a committed change made stale (see [`Stale`]), here and, within a
    /// fraction of a second, on the other instances.
    pub fn forget(&self, stale: Stale) {
        self.peers.tell(&stale);
        forget_here(stale, &self.accounts, &self.learning);
    }
}
