//! Throttles shared by every instance: recent events per (action, subject) counted in the
//! database, so a limit holds whichever instance a request reaches (an in-process limiter
//! would multiply it by the number of instances). Used where a guess or a mail costs
//! someone else: a wrong enrolment key, a registration, a password-reset request.

use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::throttle_events;
use crate::db::DbConn;
use crate::error::AppError;
use crate::identity::store::{new_id, now};

/// At most `max` events of `action` per subject within `window`.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub action: &'static str,
    pub max: i64,
    pub window: Duration,
}

impl Limit {
    pub const fn new(action: &'static str, max: i64, window: Duration) -> Self {
        Self {
            action,
            max,
            window,
        }
    }

    fn since(&self, at: NaiveDateTime) -> NaiveDateTime {
        at - chrono::Duration::from_std(self.window).unwrap_or(chrono::Duration::hours(1))
    }

    /// Seconds until the oldest counted event leaves the window, if the limit is reached.
    pub fn wait(&self, conn: &mut DbConn, subject: &str) -> QueryResult<Option<u64>> {
        let at = now();
        let (count, oldest): (i64, Option<NaiveDateTime>) = throttle_events::table
            .filter(throttle_events::action.eq(self.action))
            .filter(throttle_events::subject.eq(subject))
            .filter(throttle_events::at.gt(self.since(at)))
            .select((
                diesel::dsl::count_star(),
                diesel::dsl::min(throttle_events::at),
            ))
            .first(conn)?;
        Ok((count >= self.max).then(|| {
            oldest.map_or(60, |o| {
                let window = chrono::Duration::from_std(self.window).unwrap_or_default();
                (o + window - at).num_seconds().max(1) as u64
            })
        }))
    }

    /// Counts one event for `subject`.
    pub fn record(&self, conn: &mut DbConn, subject: &str) -> QueryResult<()> {
        diesel::insert_into(throttle_events::table)
            .values((
                throttle_events::id.eq(new_id()),
                throttle_events::action.eq(self.action),
                throttle_events::subject.eq(subject),
                throttle_events::at.eq(now()),
            ))
            .execute(conn)
            .map(drop)
    }

    /// Forgets the events of `subject` (a right key after wrong ones).
    pub fn clear(&self, conn: &mut DbConn, subject: &str) -> QueryResult<()> {
        diesel::delete(
            throttle_events::table
                .filter(throttle_events::action.eq(self.action))
                .filter(throttle_events::subject.eq(subject)),
        )
        .execute(conn)
        .map(drop)
    }
}

const HOUR: Duration = Duration::from_secs(3600);

/// Wrong enrolment keys of one learner for one session.
pub const KEY_PER_LEARNER: Limit =
    Limit::new("enrolment_key.learner", 5, Duration::from_secs(15 * 60));
/// Wrong enrolment keys from one client address, whatever the account.
pub const KEY_PER_ADDRESS: Limit =
    Limit::new("enrolment_key.address", 20, Duration::from_secs(15 * 60));
/// Sign-ups from one client address (a class in a computer room shares one): the
/// maximum is `QVT_SIGN_UPS_PER_ADDRESS_PER_HOUR`.
pub const SIGN_UPS_PER_ADDRESS: Limit = Limit::new("sign_up.address", 100, HOUR);
/// Sign-up mails to one address (someone else's, perhaps).
pub const SIGN_UPS_PER_EMAIL: Limit = Limit::new("sign_up.email", 3, HOUR);
/// Password-reset requests from one client address, whatever the accounts.
pub const RESETS_PER_ADDRESS: Limit = Limit::new("password_reset.address", 10, HOUR);
/// Checks every `(limit, subject)` and, when none is reached, counts the event against
/// each; in one write transaction, so parallel requests cannot all slip under a limit.
/// Over a limit: 429 with the seconds to wait (the longest of those reached).
pub fn take(conn: &mut DbConn, checks: &[(Limit, &str)]) -> Result<(), AppError> {
    let wait = conn.write(|c| {
        if let DbConn::Pg(pg) = c {
            // PostgreSQL runs writers side by side: the subject's lock makes count-then-
            // record atomic (SQLite's single writer already does).
            for (limit, subject) in checks {
                diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                    .bind::<diesel::sql_types::Text, _>(format!("{} {subject}", limit.action))
                    .execute(pg)?;
            }
        }
        let mut longest = None;
        for (limit, subject) in checks {
            if let Some(wait) = limit.wait(c, subject)? {
                longest = Some(longest.map_or(wait, |w: u64| w.max(wait)));
            }
        }
        if longest.is_none() {
            for (limit, subject) in checks {
                limit.record(c, subject)?;
            }
        }
        Ok::<_, AppError>(longest)
    })?;
    match wait {
        Some(wait) => Err(AppError::too_many_requests(wait)),
        None => Ok(()),
    }
}

/// Drops events older than a day (no limit counts further back).
pub fn prune(conn: &mut DbConn) -> QueryResult<usize> {
    diesel::delete(
        throttle_events::table.filter(throttle_events::at.lt(now() - chrono::Duration::days(1))),
    )
    .execute(conn)
}
