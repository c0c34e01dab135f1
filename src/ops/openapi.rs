//! `GET /api/openapi.json`: the OpenAPI 3.1 document, generated from the handlers'
//! `#[utoipa::path]` annotations. Every new endpoint is listed in `paths(...)` below.

use std::collections::HashMap;
use std::sync::LazyLock;

use actix_web::HttpResponse;
use utoipa::OpenApi;

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::Modify;

use crate::catalog::routes as catalogue;
use crate::certificates::routes as certificates;
use crate::completion::routes as completion;
use crate::du::routes as du;
use crate::enrolment::{
    import as enrolment_import, numbers as enrolment_numbers, routes as enrolment,
};
use crate::error::{FieldError, Problem};
use crate::identity::routes::{self as identity, auth, me, organisations};
use crate::identity::service::TokenPair;
use crate::learning::routes as learning;
use crate::lti::routes as lti;
use crate::ops::health;
use crate::quiz::routes as quiz;
use crate::reports::routes as reports;
use crate::resources::routes as resources;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "qvt-campus",
        description = "Formations QVT des professionnels de santé : module de formation initiale, DPC, DU « Soigner les soignants ». Errors are RFC 9457 problem documents.",
    ),
    paths(
        health::healthz, health::readyz, identity::jwks, openapi_json, metrics,
        certificates::status_list, certificates::issuer_status_list, certificates::issuer_profile,
        certificates::issuer_key,
        auth::register, auth::login, auth::refresh, auth::logout, auth::verify_email, auth::resend_verification,
        auth::request_password_reset, auth::confirm_password_reset,
        me::get, me::update, me::export, me::erase,
        organisations::create, organisations::list, organisations::get, organisations::members,
        organisations::add_member, organisations::change_role, organisations::remove_member,
        organisations::audit_log, organisations::disable_account,
        catalogue::list, catalogue::outline, catalogue::problems,
        enrolment::create, enrolment::list_for_organisation, enrolment::public_list, enrolment::get,
        enrolment::update, enrolment::enrol, enrolment::list_enrolments, enrolment::withdraw,
        enrolment::my_enrolments, enrolment_import::import, enrolment_numbers::put,
        learning::open_lesson, learning::answer_activity, learning::complete, learning::heartbeat, learning::progress, learning::trace_csv, learning::trace_pdf,
        quiz::overview, quiz::start, quiz::save, quiz::submit, quiz::show, quiz::results, quiz::accommodation, quiz::statistics,
        certificates::get, certificates::mine, certificates::of_session, certificates::pdf,
        certificates::html, certificates::credential, certificates::revoke, completion::reissue,
        certificates::verify_code, certificates::verify_credential, certificates::session_zip,
        du::set_cohort, du::cohort, du::attendance, du::grade, du::thesis, du::file, du::decide,
        du::close_minutes, du::issue_record, du::issue_records, du::transcript_csv, du::transcript_pdf,
        reports::roster_csv, reports::roster_xlsx, reports::dashboard, reports::dpc_declarations,
        reports::promotion, reports::my_dpc, reports::my_dpc_pdf,
        resources::list, resources::update,
        lti::configuration, lti::jwks, lti::list, lti::register, lti::remove, lti::roster,
        lti::registration_url,
    ),
    components(schemas(Problem, FieldError, health::Health, health::Readiness, TokenPair)),
    modifiers(&BearerAuth),
    tags(
        (name = "ops", description = "Probes for operators"),
        (name = "identity", description = "Accounts, sessions and personal data"),
        (name = "organisations", description = "Universities, schools, training bodies and their members"),
        (name = "catalogue", description = "The courses and their outlines"),
        (name = "enrolment", description = "Sessions of a course and enrolments in them"),
        (name = "learning", description = "Lessons, time on task, progress and completion"),
        (name = "quiz", description = "Attempts, grading, results and item statistics"),
        (name = "reports", description = "Rosters, dashboards, DPC declarations, promotion exports, the practitioner's DPC record"),
        (name = "du", description = "The university diploma: attendance, grades, thesis, jury, completion records"),
        (name = "certificates", description = "Certificates: documents, signed credentials, revocation and public verification"),
        (name = "lti", description = "LTI 1.3: the learning platforms (Moodle…) an organisation registered, and the tool's own addresses and keys"),
    ),
)]
pub struct ApiDoc;

/// Declares the `bearer` scheme the endpoints' `security(("bearer" = []))` refers to.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The document as served: built once, every operation id unique (utoipa names an
/// operation after its handler, and several modules have a `get` or a `list`: those are
/// named `<tag>_<handler>`, which generated clients need).
static DOCUMENT: LazyLock<serde_json::Value> = LazyLock::new(|| {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).expect("the document serialises");
    unique_operation_ids(&mut doc);
    common_refusals(&mut doc);
    doc
});

/// Documents the refusals every operation can give, as the server gives them (one
/// middleware or extractor for all, so no handler lists them): 401 where a token is
/// needed; 400, 413, 415 and 422 where a body is read; all as problem documents.
fn common_refusals(doc: &mut serde_json::Value) {
    let problem = |description: &str| {
        serde_json::json!({
            "description": description,
            "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } },
        })
    };
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for item in paths.values_mut().filter_map(|i| i.as_object_mut()) {
        for op in item.values_mut().filter(|op| op.get("responses").is_some()) {
            let secured = op.get("security").is_some();
            let with_body = op.get("requestBody").is_some();
            let Some(responses) = op["responses"].as_object_mut() else {
                continue;
            };
            let mut add = |code: &str, description: &str| {
                responses
                    .entry(code.to_owned())
                    .or_insert_with(|| problem(description));
            };
            if secured {
                add("401", "no valid token (or the session ended)");
            }
            if with_body {
                add("400", "a body that cannot be read");
                add("413", "a body over the size limit");
                add("415", "a body of another media type");
                add("422", "invalid fields, each named");
            }
        }
    }
}

fn unique_operation_ids(doc: &mut serde_json::Value) {
    fn operations(doc: &mut serde_json::Value) -> impl Iterator<Item = &mut serde_json::Value> {
        doc["paths"]
            .as_object_mut()
            .into_iter()
            .flat_map(|paths| paths.values_mut())
            .filter_map(|item| item.as_object_mut())
            .flat_map(|item| item.values_mut())
            .filter(|op| op.get("operationId").is_some())
    }
    let id = |op: &serde_json::Value| op["operationId"].as_str().unwrap_or_default().to_owned();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for op in operations(doc) {
        *seen.entry(id(op)).or_default() += 1;
    }
    for op in operations(doc) {
        if seen[&id(op)] > 1 {
            let tag = op["tags"][0].as_str().unwrap_or("api").to_owned();
            op["operationId"] = format!("{tag}_{}", id(op)).into();
        }
    }
}

#[utoipa::path(get, path = "/api/openapi.json", tag = "ops", responses(
    (status = 200, description = "this OpenAPI 3.1 document", content_type = "application/json"),
))]
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(&*DOCUMENT)
}

/// Prometheus metrics, for the operator: only with `QVT_METRICS_TOKEN` set, to that bearer
/// token (otherwise 404). Served by the `actix-web-prom` middleware; documented here.
#[utoipa::path(get, path = "/metrics", tag = "ops", security(("bearer" = [])), responses(
    (status = 200, description = "Prometheus text exposition", content_type = "text/plain"),
    (status = 404, body = Problem, description = "no token configured, or not this one"),
))]
#[allow(dead_code)]
fn metrics() {}
