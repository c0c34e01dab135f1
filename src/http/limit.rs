//! Rate limiting per client address for public endpoints (a code can be tried only so
//! often from one address): the `governor` crate's keyed GCRA, shared by every worker of
//! the instance, and a middleware answering a 429 problem with `Retry-After` over quota.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::AppError;

/// Past this many remembered addresses, those whose quota has refilled are dropped.
const FORGET_ABOVE: usize = 10_000;

/// `per_minute` requests a minute from one address, all of them usable at once.
#[derive(Clone)]
pub struct PerAddress(Arc<DefaultKeyedRateLimiter<IpAddr>>);

impl PerAddress {
    pub fn per_minute(per_minute: u32) -> Self {
        let n = NonZeroU32::new(per_minute.max(1)).expect("at least one");
        Self(Arc::new(RateLimiter::keyed(
            Quota::per_minute(n).allow_burst(n),
        )))
    }

    /// Counts one request from `ip`; over quota, the seconds until the next is allowed.
    pub fn check(&self, ip: IpAddr) -> Result<(), u64> {
        if self.0.len() > FORGET_ABOVE {
            self.0.retain_recent();
        }
        self.0.check_key(&ip).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }
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
    limiter.check(ip).map_err(AppError::too_many_requests)?;
    next.call(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_address_has_its_own_quota_and_is_told_how_long_to_wait() {
        let limiter = PerAddress::per_minute(2);
        let (a, b) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]));
        assert_eq!(limiter.check(a), Ok(()));
        assert_eq!(limiter.check(a), Ok(()));
        let wait = limiter.check(a).unwrap_err();
        assert!((1..=30).contains(&wait), "{wait}");
        assert_eq!(limiter.check(b), Ok(()), "another address is not held back");
    }
}
