//! `GET /healthz` (the process answers) and `GET /readyz` (the database answers, takes a
//! write, has room on SQLite, every migration is applied, and the instance is not draining),
//! for load balancers and orchestrators. Readiness is told within a second: a load balancer
//! must not wait on a database that is down.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::config::DatabaseKind;
use crate::db;
use crate::error::{AppError, Problem};

#[derive(Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    pub status: String,
    pub version: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct Readiness {
    /// `ready`.
    pub status: String,
    /// `sqlite` or `postgres`.
    pub database: String,
    /// `applied`.
    pub migrations: String,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, body = Health)))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    })
}

/// The database is reachable and its schema is current.
#[utoipa::path(get, path = "/readyz", tag = "ops", responses(
    (status = 200, body = Readiness),
    (status = 503, body = Problem, content_type = "application/problem+json"),
))]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    if state.draining.load(std::sync::atomic::Ordering::Relaxed) {
        return Err(AppError::unavailable(anyhow::anyhow!(
            "this instance is stopping (draining)"
        )));
    }
    let probe = db::run_within(&state.pool, READY_WITHIN, |conn| {
        let pending = db::has_pending_migrations(conn).map_err(AppError::unavailable)?;
        // A write, as the learners' own: refused on a full disk, a read-only file or a
        // standby, where reads still work.
        conn.write(|c| {
            use crate::db::schema::readiness_probe::dsl::*;
            use diesel::prelude::*;
            diesel::update(readiness_probe.find(1))
                .set(probed_at.eq(chrono::Utc::now().naive_utc()))
                .execute(c)
        })
        .map_err(|e| AppError::unavailable(e.into()))?;
        Ok((conn.kind(), pending))
    });
    let (kind, pending) = tokio::time::timeout(READY_WITHIN, probe)
        .await
        .map_err(|_| {
            AppError::unavailable(anyhow::anyhow!(
                "the database did not answer within {READY_WITHIN:?}"
            ))
        })??;
    if pending {
        return Err(AppError::unavailable(anyhow::anyhow!(
            "migrations are pending"
        )));
    }
    if kind == DatabaseKind::Sqlite {
        let file = std::path::Path::new(state.settings.database.url.expose());
        if let Some(free) = free_bytes_beside(file).filter(|free| *free < MIN_FREE_BYTES) {
            return Err(AppError::unavailable(anyhow::anyhow!(
                "{free} bytes free beside the database {}",
                file.display()
            )));
        }
    }
    Ok(HttpResponse::Ok().json(Readiness {
        status: "ready".into(),
        database: kind.name().into(),
        migrations: "applied".into(),
    }))
}

/// Below this much free space beside an SQLite database, the instance is not ready. The probe's
/// one-row write still fits in the write-ahead log's reused space on a full disk, while a
/// learner's submission, or the next checkpoint (1 MiB of log, see `db`), no longer does.
const MIN_FREE_BYTES: u64 = 4 << 20;

/// The space left to unprivileged writers on the file system of `file`'s folder.
fn free_bytes_beside(file: &std::path::Path) -> Option<u64> {
    let folder = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => std::path::Path::new("."),
    };
    let stats = rustix::fs::statvfs(folder).ok()?;
    Some(stats.f_bavail.saturating_mul(stats.f_frsize))
}

/// How long readiness may take to tell.
const READY_WITHIN: std::time::Duration = std::time::Duration::from_secs(1);
