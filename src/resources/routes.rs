//! An organisation's local resources over HTTP (under `/api/v1`).

use std::collections::BTreeMap;

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

use super::service::{self, ResourceView};
use crate::app::AppState;
use crate::db;
use crate::error::{AppError, Problem};
use crate::http::Json;
use crate::identity::auth::CurrentUser;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/organisations/{id}/resources")
            .get(list)
            .put(update),
    );
}

/// Changes to an organisation's resources: field key → new value (`null` or an empty
/// string clears it, so that lessons show the national default); fields not sent stay.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceChanges {
    pub values: BTreeMap<String, Option<String>>,
}

/// The local resources of an organisation (its members): every field, with its value.
#[utoipa::path(get, path = "/api/v1/organisations/{id}/resources", tag = "organisations", operation_id = "list_resources", security(("bearer" = [])), responses(
    (status = 200, body = [ResourceView]), (status = 404, body = Problem),
))]
pub async fn list(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let organisation_id = path.into_inner();
    let view = db::run(&state.pool, move |conn| {
        service::list(conn, &user, &organisation_id)
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Sets or clears local resources (org admins), all or none.
#[utoipa::path(put, path = "/api/v1/organisations/{id}/resources", tag = "organisations", operation_id = "update_resources", security(("bearer" = [])), request_body = ResourceChanges, responses(
    (status = 200, body = [ResourceView]), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem),
))]
pub async fn update(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    body: Json<ResourceChanges>,
) -> Result<HttpResponse, AppError> {
    let organisation_id = path.into_inner();
    let changes = service::parse_changes(body.0.values)?;
    let view = db::run(&state.pool, move |conn| {
        service::update(conn, &user, &organisation_id, changes)
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}
