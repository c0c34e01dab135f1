//! The origin (`scheme://host[:port]`) each registered platform may frame our pages from,
//! read from its registration and remembered for a minute. Apart from the framing
//! middleware (`frame`), so that the application state can hold the cache.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::store;
use crate::db::{self, Pool};

/// How long an origin is remembered (a removed registration stops framing within this,
/// at once on the instance that removed it).
const TTL: Duration = Duration::from_secs(60);

/// Platform id → its origin (`None`: no such platform), with when it was read.
#[derive(Default)]
pub struct FrameOrigins(Mutex<HashMap<String, (Instant, Option<String>)>>);

impl FrameOrigins {
    /// The origin of a platform's registration; `None` for no such platform (or a database
    /// that cannot answer: then nothing may frame the page).
    pub async fn of(&self, pool: &Pool, platform_id: &str) -> Option<String> {
        if let Some((at, known)) = self.0.lock().get(platform_id) {
            if at.elapsed() < TTL {
                return known.clone();
            }
        }
        let id = platform_id.to_owned();
        let platform = db::run(pool, move |c| Ok(store::platform(c, &id)?))
            .await
            .ok()?;
        let found = platform.and_then(|p| origin(&p.issuer));
        let mut cache = self.0.lock();
        if cache.len() > 10_000 {
            cache.clear();
        }
        cache.insert(platform_id.to_owned(), (Instant::now(), found.clone()));
        found
    }

    /// Forgets a platform's origin (its registration was removed).
    pub fn forget(&self, platform_id: &str) {
        self.0.lock().remove(platform_id);
    }
}

/// `scheme://host[:port]` of a registered URL, with nothing a policy could be bent by.
pub fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split(['/', '?', '#']).next()?;
    let clean = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    (matches!(scheme, "https" | "http") && clean).then(|| format!("{scheme}://{host}"))
}

#[cfg(test)]
mod tests {
    use super::origin;

    #[test]
    fn an_origin_is_scheme_and_host_and_nothing_else() {
        assert_eq!(
            origin("https://moodle.univ.fr/").as_deref(),
            Some("https://moodle.univ.fr")
        );
        assert_eq!(
            origin("http://127.0.0.1:8081/lms?x").as_deref(),
            Some("http://127.0.0.1:8081")
        );
        assert_eq!(origin("https://a.fr;script-src *"), None);
        assert_eq!(origin("javascript://x"), None);
    }
}
