//! Rate limiting per client address for public endpoints (a code can be tried only so
//! often from one address), and a middleware answering a 429 problem with `Retry-After`
//! over quota. On SQLite (one instance) the `governor` crate's keyed GCRA in memory; on
//! PostgreSQL the quota is shared by every instance (`http::quota`).

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::quota::Leases;
use crate::db::Pool;
use crate::error::AppError;

/// Past this many remembered addresses, those whose quota has refilled are dropped.
const FORGET_ABOVE: usize = 10_000;

/// `per_minute` requests a minute from one address.
#[derive(Clone)]
pub struct PerAddress(Arc<Counted>);

enum Counted {
    /// By this instance, all of the quota usable at once then refilled gradually.
    Here(DefaultKeyedRateLimiter<IpAddr>),
    /// By every instance together, per clock minute.
    Shared(Leases),
}

impl PerAddress {
    /// Counted in this process: the database is SQLite, which one instance serves.
    pub fn per_minute(per_minute: u32) -> Self {
        let n = NonZeroU32::new(per_minute.max(1)).expect("at least one");
        Self(Arc::new(Counted::Here(RateLimiter::keyed(
            Quota::per_minute(n).allow_burst(n),
        ))))
    }

    /// Counted in the database for every instance, under `action`.
    pub fn shared(action: &'static str, per_minute: u32, pool: Pool) -> Self {
        Self(Arc::new(Counted::Shared(Leases::new(
            action, per_minute, pool,
        ))))
    }

    /// The limiter `kind` of database calls for: in this process on SQLite (one instance),
    /// shared by every instance under `action` on PostgreSQL.
    pub fn for_database(
        action: &'static str,
        per_minute: u32,
        kind: crate::config::DatabaseKind,
        pool: &Pool,
    ) -> Self {
        match kind {
            crate::config::DatabaseKind::Sqlite => Self::per_minute(per_minute),
            crate::config::DatabaseKind::Postgres => Self::shared(action, per_minute, pool.clone()),
        }
    }

    /// Counts one request from `ip`; over quota, a 429 saying how long to wait.
    pub async fn check(&self, ip: IpAddr) -> Result<(), AppError> {
        match &*self.0 {
            Counted::Here(limiter) => check_here(limiter, ip).map_err(AppError::too_many_requests),
            Counted::Shared(leases) => leases.check(ip).await,
        }
    }
}

/// Over quota, the seconds until the next request is allowed.
fn check_here(limiter: &DefaultKeyedRateLimiter<IpAddr>, ip: IpAddr) -> Result<(), u64> {
    if limiter.len() > FORGET_ABOVE {
        limiter.retain_recent();
    }
    limiter.check_key(&ip).map_err(|not_until| {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
    })
}

/// The middleware of a limited resource (`.wrap(from_fn(http::limit::per_address))`): the
/// limiter is the app's `web::Data<PerAddress>`, one for every limited route.
pub async fn per_address(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let limiter = req
        .app_data::<web::Data<PerAddress>>()
        .ok_or_else(|| AppError::from(anyhow::anyhow!("no rate limiter registered")))?;
    // Behind a trusted proxy, the client it forwarded for (see `http::client`).
    let ip = super::client_ip(req.request());
    limiter.check(ip).await?;
    next.call(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_address_has_its_own_quota_and_is_told_how_long_to_wait() {
        let n = NonZeroU32::new(2).unwrap();
        let limiter = RateLimiter::keyed(Quota::per_minute(n).allow_burst(n));
        let (a, b) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]));
        assert_eq!(check_here(&limiter, a), Ok(()));
        assert_eq!(check_here(&limiter, a), Ok(()));
        let wait = check_here(&limiter, a).unwrap_err();
        assert!((1..=30).contains(&wait), "{wait}");
        assert_eq!(
            check_here(&limiter, b),
            Ok(()),
            "another address is not held back"
        );
    }
}
