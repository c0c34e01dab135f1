//! `/metrics` (Prometheus, from the `actix-web-prom` middleware) is for the operator, not
//! the public: it is served only when `QVT_METRICS_TOKEN` is set, and only to a request
//! bearing that token. Otherwise the path does not exist (404).

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::web;
use sha2::{Digest, Sha256};

use crate::app::AppState;
use crate::error::AppError;

pub const PATH: &str = "/metrics";

/// Whether `presented` is `Bearer <token>` (compared by hash: no early exit on a prefix).
fn authorised(presented: Option<&str>, token: &str) -> bool {
    let Some(given) = presented.and_then(|v| v.strip_prefix("Bearer ")) else {
        return false;
    };
    Sha256::digest(given.trim().as_bytes()) == Sha256::digest(token.as_bytes())
}

pub async fn guard(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    if req.path() == PATH {
        let token = req
            .app_data::<web::Data<AppState>>()
            .and_then(|s| s.settings.metrics_token.clone());
        let presented = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if !token.is_some_and(|t| authorised(presented, t.expose())) {
            let response = actix_web::ResponseError::error_response(&AppError::not_found(
                "Aucune ressource à cette adresse.",
            ));
            return Ok(req.into_response(response).map_into_right_body());
        }
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_bearer_token_opens_the_metrics() {
        assert!(authorised(Some("Bearer s3cret"), "s3cret"));
        assert!(!authorised(Some("Bearer s3cre"), "s3cret"));
        assert!(!authorised(Some("s3cret"), "s3cret"));
        assert!(!authorised(None, "s3cret"));
    }
}
