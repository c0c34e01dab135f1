//! Errors as a person in a browser sees them. The API answers every error with a
//! problem+json body; a browser navigating to an address (it sends `Accept: text/html`)
//! gets the same problem as a French page with a way back instead, and a signed-out
//! visitor following a link (the certificate in a mail, a bookmarked page) is sent to the
//! sign-in page, then back to where they were going.

use actix_web::body::{self, BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::web;

use super::session::{sign_in_then, Visitor};
use crate::app::AppState;
use crate::error::{AppError, Problem};
use crate::identity::auth::access_cookie;

/// Whether the caller is a browser asking for a page (API clients ask for JSON or `*/*`).
fn wants_html(req: &ServiceRequest) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

pub async fn html_errors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if !wants_html(&req) {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    }
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let token = access_cookie(req.request()).map(|c| c.value().to_owned());
    let is_get = req.method() == Method::GET;
    let target = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.path().to_owned(), |p| p.as_str().to_owned());
    let response = next.call(req).await?;
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    let status = response.status();
    let Some(state) = state.filter(|_| is_problem && status.is_client_error()) else {
        return Ok(response.map_into_boxed_body());
    };
    let (req, res) = response.into_parts();
    if status == StatusCode::UNAUTHORIZED && is_get {
        let page = super::redirect(&sign_in_then(&target));
        return Ok(ServiceResponse::new(req, page));
    }
    let retry_after = res.headers().get(header::RETRY_AFTER).cloned();
    let bytes = body::to_bytes(res.into_body()).await.unwrap_or_default();
    let problem: Problem =
        serde_json::from_slice(&bytes).unwrap_or_else(|_| AppError::from_status(status).problem());
    let visitor = Visitor::of_token(&state, token, target).await;
    let mut page = super::problem_page(&state, &visitor, &problem, None);
    *page.status_mut() = status;
    if let Some(retry) = retry_after {
        page.headers_mut().insert(header::RETRY_AFTER, retry);
    }
    Ok(ServiceResponse::new(req, page))
}
