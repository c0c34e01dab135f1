//! Who a request's account is, once its token has been checked ([`CurrentUser`]), and the
//! accounts checked in the last seconds ([`AccountCache`]). Apart from `auth`, which fills
//! them, so that the application state can hold the cache without importing the extractor.

use crate::error::AppError;

#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub id: String,
    pub email: String,
    pub is_platform_admin: bool,
    /// Whether the address was confirmed (as of the account check, at most
    /// [`ACCOUNT_CHECK_TTL`] old; confirming it forgets the cached check).
    pub email_verified: bool,
}

impl CurrentUser {
    /// An account stays inactive until its address is confirmed, as the confirmation mail
    /// says: anyone can register any address, and enrolling or sitting a quiz is acting as
    /// the professional it names.
    pub fn require_confirmed(&self) -> Result<(), AppError> {
        if self.email_verified {
            Ok(())
        } else {
            Err(AppError::unconfirmed())
        }
    }

    pub fn require_platform_admin(&self) -> Result<(), AppError> {
        if self.is_platform_admin {
            Ok(())
        } else {
            Err(AppError::forbidden(
                "Réservé aux administrateurs de la plateforme.",
            ))
        }
    }
}

/// Recently checked accounts. Looking the account up on every request costs a database
/// round trip through the blocking pool, the largest share of a small request; an account
/// disabled, erased or demoted is refused at the latest [`ACCOUNT_CHECK_TTL`] later.
#[derive(Default)]
pub struct AccountCache {
    entries:
        std::sync::Mutex<std::collections::HashMap<String, (std::time::Instant, CurrentUser, i32)>>,
}

pub const ACCOUNT_CHECK_TTL: std::time::Duration = std::time::Duration::from_secs(5);

impl AccountCache {
    pub(super) fn get(&self, id: &str) -> Option<(CurrentUser, i32)> {
        let entries = self.entries.lock().expect("not poisoned");
        entries
            .get(id)
            .filter(|(at, ..)| at.elapsed() < ACCOUNT_CHECK_TTL)
            .map(|(_, user, epoch)| (user.clone(), *epoch))
    }

    pub(super) fn put(&self, user: &CurrentUser, epoch: i32) {
        let mut entries = self.entries.lock().expect("not poisoned");
        if entries.len() > 100_000 {
            entries.retain(|_, (at, ..)| at.elapsed() < ACCOUNT_CHECK_TTL);
        }
        entries.insert(
            user.id.clone(),
            (std::time::Instant::now(), user.clone(), epoch),
        );
    }

    /// Forgets an account at once (disabled, erased, signed out everywhere): see
    /// [`crate::stale::Stale`].
    pub(crate) fn forget(&self, id: &str) {
        self.entries.lock().expect("not poisoned").remove(id);
    }

    /// Forgets every account (what other instances said may have been missed).
    pub(crate) fn forget_all(&self) {
        self.entries.lock().expect("not poisoned").clear();
    }
}
