//! `GET /healthz` (the process answers) and `GET /readyz` (the database answers, takes a
//! write, and every migration is applied), for load balancers and orchestrators. Readiness
//! is told within a second: a load balancer must not wait on a database that is down.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppState;
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
    Ok(HttpResponse::Ok().json(Readiness {
        status: "ready".into(),
        database: kind.name().into(),
        migrations: "applied".into(),
    }))
}

/// How long readiness may take to tell.
const READY_WITHIN: std::time::Duration = std::time::Duration::from_secs(1);
