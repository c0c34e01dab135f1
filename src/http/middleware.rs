//! Middleware: a request id on every request (echoed in `x-request-id` and carried by
//! every log line of the request), and panics turned into 500 problems instead of
//! dropped connections.

use std::panic::AssertUnwindSafe;
use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::InternalError;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use futures_util::FutureExt;
use tracing::Instrument;

use crate::error::AppError;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Keeps a caller's id when it is short and plain (so it cannot forge log lines),
/// otherwise makes one.
fn request_id_of(req: &ServiceRequest) -> String {
    req.headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        })
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// The path as logged: certificate verification codes are capabilities (whoever holds
/// one reads the attested facts), so they stay out of the logs.
fn loggable_path(path: &str) -> &str {
    ["/verifier/", "/api/v1/verify/"]
        .into_iter()
        .find(|prefix| path.starts_with(prefix))
        .map_or(path, |prefix| match prefix {
            "/verifier/" => "/verifier/{code}",
            _ => "/api/v1/verify/{code}",
        })
}

pub async fn request_id(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let id = request_id_of(&req);
    let header = HeaderValue::from_str(&id).expect("request ids are plain ASCII");
    // The query string is left out on purpose: it may carry tokens.
    let path = loggable_path(req.path());
    let span =
        tracing::info_span!("request", request_id = %id, method = %req.method(), path = %path);
    let started = Instant::now();
    // No clone of the request may live across `next.call`: routing needs it unshared.
    match next.call(req).instrument(span.clone()).await {
        Ok(res) => {
            let mut res = res.map_into_boxed_body();
            span.in_scope(|| {
                tracing::info!(
                    status = res.status().as_u16(),
                    route = res.request().match_pattern().as_deref().unwrap_or("-"),
                    elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
                    "request handled"
                )
            });
            res.headers_mut().insert(REQUEST_ID, header);
            Ok(res)
        }
        Err(err) => {
            let mut response = err.error_response();
            span.in_scope(|| {
                tracing::info!(
                    status = response.status().as_u16(),
                    elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
                    "request failed"
                )
            });
            response.headers_mut().insert(REQUEST_ID, header);
            Err(InternalError::from_response(err.to_string(), response).into())
        }
    }
}

/// A panic below becomes an error whose response is a 500 problem; the outer layers
/// (request id, metrics) then treat it like any other failed request.
pub async fn catch_panic(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let path = req.path().to_owned();
    match AssertUnwindSafe(next.call(req)).catch_unwind().await {
        Ok(result) => result.map(ServiceResponse::map_into_boxed_body),
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            tracing::error!(panic = %message, %path, "handler panicked");
            Err(AppError::from_status(StatusCode::INTERNAL_SERVER_ERROR)
                .with_detail("Une erreur inattendue est survenue ; elle a été journalisée.")
                .into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verification_codes_are_not_logged() {
        assert_eq!(loggable_path("/verifier/ABCD-EFGH"), "/verifier/{code}");
        assert_eq!(
            loggable_path("/api/v1/verify/ABCD"),
            "/api/v1/verify/{code}"
        );
        assert_eq!(loggable_path("/api/v1/verify"), "/api/v1/verify");
        assert_eq!(loggable_path("/api/v1/me"), "/api/v1/me");
    }
}
