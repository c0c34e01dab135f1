//! Completion over HTTP: re-issuing a certificate after a correction (a new snapshot of
//! the same completion).

use actix_web::{web, HttpResponse};

use super::service;
use crate::app::AppState;
use crate::certificates::routes::Reason;
use crate::certificates::service::{self as certificates, CertificateView};
use crate::db;
use crate::error::{AppError, Problem};
use crate::http::Json;
use crate::identity::auth::CurrentUser;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/certificates/{id}/reissue").post(reissue));
}

/// Re-issues a certificate after a correction: a new one from the current records, the
/// old one revoked with the reason and linked to it.
#[utoipa::path(post, path = "/api/v1/certificates/{id}/reissue", tag = "certificates", security(("bearer" = [])), request_body = Reason, responses(
    (status = 201, body = CertificateView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem),
))]
pub async fn reissue(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    body: Json<Reason>,
) -> Result<HttpResponse, AppError> {
    let reason = certificates::parse_reason(&body.0.reason)?;
    let (id, s) = (path.into_inner(), state.clone());
    let view = db::run(&state.pool, move |conn| {
        let certificate = service::reissue(conn, &s.courses, &user, &id, &reason)?;
        s.status_lists.clear();
        certificates::view(conn, &s.settings.public_url, &certificate)
    })
    .await?;
    Ok(HttpResponse::Created().json(view))
}
