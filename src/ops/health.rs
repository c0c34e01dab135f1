//! `GET /healthz` (the process answers) and `GET /readyz` (the database answers and every
//! migration is applied), for load balancers and orchestrators.

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
    let (kind, pending) = db::run(&state.pool, |conn| {
        let pending = db::has_pending_migrations(conn).map_err(AppError::unavailable)?;
        Ok((conn.kind(), pending))
    })
    .await?;
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
