//! Losing the PostgreSQL primary under exam load through HAProxy, two instances behind it:
//! the primary is stopped hard and its synchronous standby promoted (`scripts/lib/pg.sh`
//! sets them up); each instance, on a two-host URL with `target_session_attrs=read-write`,
//! finds the new primary by itself. Clients may see 503s with `Retry-After` meanwhile (the
//! instances', or HAProxy's own while neither is ready), never another error, and nothing
//! acknowledged is lost.

use std::time::{Duration, Instant};

use super::cluster::{haproxy_installed, Balancer};
use super::{audit, next_submission, sh, support, Load, Server, Shared, Verdict};

pub(crate) async fn lose_the_primary(
    verdict: &mut Verdict,
    server: &Server,
    client: &reqwest::Client,
    seeded: &support::Seeded,
    pool: &qvt_campus::db::Pool,
    stop_primary: &str,
    promote: &str,
) {
    println!("== the primary stopped hard, its synchronous standby promoted, under load");
    if !haproxy_installed(verdict) {
        return;
    }
    let mut second = server.sibling();
    second.start(client).await;
    let Some(lb) = Balancer::start(&server.dir, &[server.port, second.port]) else {
        verdict.check(false, "HAProxy started");
        return;
    };
    verdict.check(
        lb.until_up(client, 2).await.is_some(),
        "HAProxy sees the two instances up",
    );
    let ledger = Shared::default();
    let (load, before) = Load::warmed(client, &lb.url(""), seeded, &ledger).await;
    let lost_at = Instant::now();
    verdict.check(sh(stop_primary), "primary stopped (immediate)");
    verdict.check(sh(promote), "standby promoted");
    let promoted_in = lost_at.elapsed();
    let back = next_submission(&ledger, before, lost_at).await;
    let both_back = lb.until_up(client, 2).await;
    load.stop_after_more().await;
    let (unavailable, slowest, submitted) = {
        let l = ledger.lock().unwrap();
        (l.unavailable, l.slowest_unavailable, l.submitted.len())
    };
    println!(
        "  promoted {:.2} s after the loss; first submission on the new primary {:?} after \
         the loss; {unavailable} × 503 (slowest {:.2} s); {submitted} submissions in all",
        promoted_in.as_secs_f64(),
        back.map(|d| format!("{:.2} s", d.as_secs_f64())),
        slowest.as_secs_f64()
    );
    verdict.check(
        back.is_some_and(|d| d < Duration::from_secs(15)),
        "the instances found the new primary by themselves within 15 s",
    );
    verdict.check(
        both_back.is_some(),
        format!("both instances ready again in HAProxy ({both_back:?} after the first submission)"),
    );
    audit(verdict, pool, client, server, seeded, &ledger).await;
}
