//! Losing the PostgreSQL primary under exam load: it is stopped hard and its synchronous
//! standby promoted (`scripts/lib/pg.sh` sets them up); the server, on a two-host URL with
//! `target_session_attrs=read-write`, finds the new primary by itself. Clients may see 503s
//! with `Retry-After` meanwhile, never another error, and nothing acknowledged is lost.

use std::time::{Duration, Instant};

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
    let ledger = Shared::default();
    let load = Load::start(client, &server.url(""), seeded, &ledger);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before = ledger.lock().unwrap().submitted.len();
    let lost_at = Instant::now();
    verdict.check(sh(stop_primary), "primary stopped (immediate)");
    verdict.check(sh(promote), "standby promoted");
    let promoted_in = lost_at.elapsed();
    let back = next_submission(&ledger, before, lost_at).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    load.stop().await;
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
        "the server found the new primary by itself within 15 s",
    );
    audit(verdict, pool, client, server, seeded, &ledger).await;
}
