//! The pool's circuit breaker: while connection attempts fail (the database is down or
//! unreachable), a request that finds no idle connection is answered 503 at once instead of
//! waiting out the checkout timeout — hundreds of requests parked for 10 s each is how an
//! outage becomes a pile-up. The pool's own reconnection attempts are the probe: each failure
//! holds the circuit open, the first success closes it.

use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// How long one failed connection attempt keeps the circuit open: longer than the pool's
/// back-off between attempts (`db::RECONNECT_WITHIN`), so that it stays open through an
/// outage, and short enough that a single failed attempt beside a healthy pool (all its
/// connections busy, none being opened) stops failing requests within seconds.
const OPEN_FOR: Duration = Duration::from_secs(3);

#[derive(Debug, Default)]
pub struct Circuit {
    open_until: Mutex<Option<Instant>>,
}

impl Circuit {
    /// A connection attempt failed.
    pub fn failed(&self) {
        self.failed_at(Instant::now());
    }

    /// A connection attempt succeeded: the database answers again.
    pub fn succeeded(&self) {
        *self.open_until.lock() = None;
    }

    /// Whether requests should not wait for a new connection.
    pub fn is_open(&self) -> bool {
        self.is_open_at(Instant::now())
    }

    fn failed_at(&self, now: Instant) {
        *self.open_until.lock() = Some(now + OPEN_FOR);
    }

    fn is_open_at(&self, now: Instant) -> bool {
        self.open_until.lock().is_some_and(|until| now < until)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_attempt_opens_the_circuit_until_a_success_or_for_a_few_seconds() {
        let circuit = Circuit::default();
        let now = Instant::now();
        assert!(!circuit.is_open_at(now), "closed to begin with");

        circuit.failed_at(now);
        assert!(circuit.is_open_at(now + Duration::from_secs(2)));
        assert!(!circuit.is_open_at(now + OPEN_FOR), "closes by itself");

        // Each failure holds it open again: an outage keeps it open.
        circuit.failed_at(now + Duration::from_secs(2));
        assert!(circuit.is_open_at(now + Duration::from_secs(4)));

        circuit.succeeded();
        assert!(!circuit.is_open_at(now + Duration::from_secs(4)));
    }
}
