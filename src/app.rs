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

impl AppState {
    /// Forgets what is remembered of an account (disabled, erased, demoted, signed out):
    /// its next request is checked against the database.
    pub fn forget_account(&self, id: &str) {
        self.accounts.forget(id);
        self.learning.forget_recording_of(id);
    }
}
