//! Per-address quotas shared by every instance on PostgreSQL: an address's quota of a
//! minute is one row of `address_quotas`, and an instance takes it in leases — an eighth of
//! what is left, at least one — so that a verifier costs one database write per minute and
//! instance rather than one per request, and the instances together never let through more
//! than the quota. A lease left unused at the end of its minute is lost: the error is on the
//! side of refusing. Once the row says the quota is spent, the instance refuses until the
//! minute ends without asking again, so a flood of requests does not become a flood of
//! writes. The table is unlogged: a crash or a failover forgets the counts, which only
//! gives the addresses a fresh minute.

use std::collections::HashMap;
use std::net::IpAddr;

use diesel::prelude::*;
use diesel::sql_types::Integer;
use parking_lot::Mutex;

use crate::db::{self, schema::address_quotas, CachedSql, DbConn, Pool};
use crate::error::AppError;

/// Past this many remembered addresses, those of past minutes are dropped.
const FORGET_ABOVE: usize = 10_000;

/// What this instance holds of an address's quota in one minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Held {
    minute: i64,
    left: u32,
    /// The shared count says the minute's quota is all taken.
    spent: bool,
}

/// What to do with one request, from what this instance holds.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    Allow,
    /// Take a lease from the shared count first.
    Lease,
    /// Refused; the seconds until the minute ends.
    Refuse(u64),
}

fn step(held: Option<&mut Held>, minute: i64, second: i64) -> Step {
    match held {
        Some(h) if h.minute == minute && h.left > 0 => {
            h.left -= 1;
            Step::Allow
        }
        Some(h) if h.minute == minute && h.spent => Step::Refuse(until_next_minute(second)),
        _ => Step::Lease,
    }
}

/// Seconds until the minute ends, at `second` of it (at least one, for `Retry-After`).
fn until_next_minute(second: i64) -> u64 {
    (60 - second).max(1) as u64
}

/// A shared quota of `per_minute` requests per client address for one `action`.
pub struct Leases {
    action: &'static str,
    per_minute: u32,
    pool: Pool,
    held: Mutex<HashMap<IpAddr, Held>>,
}

impl Leases {
    pub fn new(action: &'static str, per_minute: u32, pool: Pool) -> Self {
        Self {
            action,
            per_minute: per_minute.max(1),
            pool,
            held: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one request from `ip`: over quota, a 429 saying how long to wait.
    pub async fn check(&self, ip: IpAddr) -> Result<(), AppError> {
        let now = chrono::Utc::now().timestamp();
        let (minute, second) = (now.div_euclid(60), now.rem_euclid(60));
        match step(self.held.lock().get_mut(&ip), minute, second) {
            Step::Allow => return Ok(()),
            Step::Refuse(wait) => return Err(AppError::too_many_requests(wait)),
            Step::Lease => {}
        }
        let granted = self.lease(ip, minute).await?;
        let mut held = self.held.lock();
        if held.len() > FORGET_ABOVE {
            held.retain(|_, h| h.minute == minute);
        }
        let fresh = Held {
            minute,
            left: 0,
            spent: false,
        };
        let h = held.entry(ip).or_insert(fresh);
        if h.minute != minute {
            *h = fresh;
        }
        match granted {
            // One of the lease is this request; two leases taken at once add up.
            Some(n) => {
                h.left += n - 1;
                Ok(())
            }
            None => {
                h.spent = true;
                Err(AppError::too_many_requests(until_next_minute(second)))
            }
        }
    }

    /// Takes a lease of the address's quota in `minute`: its size, or `None` when spent.
    async fn lease(&self, ip: IpAddr, minute: i64) -> Result<Option<u32>, AppError> {
        const SQL: &[&str] = &[
            "WITH p AS (SELECT ",
            "::integer AS quota) \
             INSERT INTO address_quotas AS q (action, address, minute, used, granted) \
             SELECT ",
            ", ",
            ", ",
            "::bigint, GREATEST(1, quota / 8), GREATEST(1, quota / 8) FROM p \
             ON CONFLICT (action, address, minute) DO UPDATE \
             SET granted = GREATEST(1, ((SELECT quota FROM p) - q.used) / 8), \
                 used = q.used + GREATEST(1, ((SELECT quota FROM p) - q.used) / 8) \
             WHERE q.used < (SELECT quota FROM p) \
             RETURNING granted",
        ];
        #[derive(QueryableByName)]
        struct Granted {
            #[diesel(sql_type = Integer)]
            granted: i32,
        }
        let (action, quota) = (self.action, self.per_minute.to_string());
        db::run(&self.pool, move |conn| {
            let DbConn::Pg(c) = conn else {
                return Err(AppError::from(anyhow::anyhow!(
                    "shared quotas are for PostgreSQL"
                )));
            };
            let (address, minute) = (ip.to_string(), minute.to_string());
            let row: Option<Granted> = CachedSql {
                pieces: SQL,
                texts: [quota.as_str(), action, address.as_str(), minute.as_str()],
            }
            .get_result(c)
            .optional()?;
            Ok(row.map(|r| r.granted.max(1) as u32))
        })
        .await
    }
}

/// Drops the counts of minutes before the last one.
pub fn prune(conn: &mut DbConn) -> QueryResult<usize> {
    let minute = chrono::Utc::now().timestamp().div_euclid(60);
    diesel::delete(address_quotas::table.filter(address_quotas::minute.lt(minute - 1)))
        .execute(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(minute: i64, left: u32, spent: bool) -> Held {
        Held {
            minute,
            left,
            spent,
        }
    }

    #[test]
    fn a_lease_is_used_up_one_request_at_a_time_then_renewed() {
        let mut h = held(7, 2, false);
        assert_eq!(step(Some(&mut h), 7, 10), Step::Allow);
        assert_eq!(step(Some(&mut h), 7, 10), Step::Allow);
        assert_eq!(h.left, 0);
        assert_eq!(step(Some(&mut h), 7, 10), Step::Lease);
        assert_eq!(step(None, 7, 10), Step::Lease, "a new address asks");
    }

    #[test]
    fn a_spent_minute_is_refused_until_it_ends_without_asking_again() {
        let mut h = held(7, 0, true);
        assert_eq!(step(Some(&mut h), 7, 45), Step::Refuse(15));
        assert_eq!(step(Some(&mut h), 7, 59), Step::Refuse(1));
        assert_eq!(
            step(Some(&mut h), 8, 0),
            Step::Lease,
            "the next minute asks"
        );
    }
}
