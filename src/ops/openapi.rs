//! `GET /api/openapi.json`: the OpenAPI 3.1 document, generated from the handlers'
//! `#[utoipa::path]` annotations. Every new endpoint is listed in `paths(...)` below.

use actix_web::HttpResponse;
use utoipa::OpenApi;

use crate::error::{FieldError, Problem};
use crate::ops::health;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "qvt-campus",
        description = "Formations QVT des professionnels de santé : module de formation initiale, DPC, DU « Soigner les soignants ». Errors are RFC 9457 problem documents.",
    ),
    paths(health::healthz, health::readyz),
    components(schemas(Problem, FieldError, health::Health, health::Readiness)),
    tags((name = "ops", description = "Probes for operators")),
)]
pub struct ApiDoc;

pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}
