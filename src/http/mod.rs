//! What every route shares: the JSON extractor, problem responses for errors produced
//! outside handlers (routing 404/405, extractor failures), request ids and panic capture.

pub mod client;
pub mod csv;
pub mod deadline;
mod fields;
pub mod headers;
mod json;
pub mod limit;
mod middleware;
pub mod quota;
pub mod stream;
pub mod timestamps;

use actix_web::dev::ServiceResponse;
use actix_web::http::header;
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{web, HttpRequest, HttpResponse};

pub use client::{client_ip, TrustedProxies};
pub use fields::Fields;
pub use json::{is_json, parse_json, Json};
pub use middleware::{catch_panic, request_id};

use crate::error::{problem_response, AppError, PROBLEM_JSON};

/// The request body limit, kept next to actix's `PayloadConfig` so errors can quote it.
#[derive(Clone, Copy, Debug)]
pub struct BodyLimit(pub usize);

/// Extractor settings that turn every path, query and body failure into a problem.
pub fn configure_extractors(cfg: &mut web::ServiceConfig, body_limit: usize) {
    cfg.app_data(web::PayloadConfig::new(body_limit))
        // Pages post forms (an activity's answer, an organisation's 28 resources): the
        // same limit as JSON, not actix's 16 KiB default, or a long answer would be lost.
        .app_data(web::FormConfig::default().limit(body_limit))
        .app_data(BodyLimit(body_limit))
        .app_data(
            web::PathConfig::default()
                .error_handler(|err, _req| AppError::malformed("path", err.to_string()).into()),
        )
        .app_data(web::QueryConfig::default().error_handler(|err, _req| {
            let message = err.to_string();
            let field = json::named_field(&message).unwrap_or_else(|| "query".into());
            AppError::malformed(field, message).into()
        }));
}

/// Unknown route → 404 problem.
pub async fn not_found(req: HttpRequest) -> Result<HttpResponse, AppError> {
    Err(AppError::not_found(format!(
        "Aucune ressource à l'adresse {}.",
        req.path()
    )))
}

/// Rewrites any error response that is not already a problem (405 from a resource,
/// errors of third-party extractors…) into one, keeping headers such as `Allow`.
pub fn problem_for_bare_errors<B>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_problem = res
        .response()
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    // Pages answer errors with a page of their own, in French, next to the form.
    let is_page = res
        .response()
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if is_problem || is_page {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let (req, old) = res.into_parts();
    let mut new = problem_response(status, &AppError::from_status(status).problem());
    for (name, value) in old.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            new.headers_mut().append(name.clone(), value.clone());
        }
    }
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, new).map_into_right_body(),
    ))
}

/// A file to download (CSV, PDF): its type and the name the browser saves it under.
pub fn attachment(body: Vec<u8>, content_type: &str, filename: &str) -> HttpResponse {
    download(content_type, filename).body(body)
}

/// The start of a download's response, for a body given whole or streamed.
pub fn download(content_type: &str, filename: &str) -> actix_web::HttpResponseBuilder {
    let mut builder = HttpResponse::Ok();
    builder.content_type(content_type).insert_header((
        header::CONTENT_DISPOSITION,
        format!("attachment; filename=\"{filename}\""),
    ));
    builder
}
