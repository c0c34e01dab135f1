//! Framing by the learning platform a browser came from. Our pages refuse every frame
//! (`frame-ancestors 'none'`, `X-Frame-Options: DENY`, see `http::headers`), except for a
//! browser an LTI launch signed in: its pages may be framed by that launch's platform, and
//! by it alone (the cookie names the platform; its origin comes from its registration).

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};

use super::origins::origin;
use crate::app::AppState;

/// The cookie naming the platform that launched this browser.
pub const COOKIE: &str = "qvt_lti_frame";
/// Markers the handlers leave for this middleware (removed before the answer leaves): the
/// platform a page may be framed by before any cookie names it (deep linking, dynamic
/// registration), and the origin a page's form may post to.
pub const FRAME_MARKER: &str = "x-qvt-lti-platform";
pub const FORM_TO_MARKER: &str = "x-qvt-lti-form-to";

/// Leaves a marker on a page for this middleware.
pub fn mark(page: &mut HttpResponse, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        page.headers_mut()
            .insert(header::HeaderName::from_static(name), value);
    }
}

/// The middleware: lets the launching platform frame the response — the platform of the
/// browser's cookie, or the one a deep linking page names (before any cookie is set) — and
/// lets a deep linking page post its answer to the platform.
pub async fn allow_platform_frames(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let cookie = req.cookie(COOKIE).map(|c| c.value().to_owned());
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let mut response = next.call(req).await?;
    let headers = response.headers_mut();
    let marker = |headers: &mut header::HeaderMap, name: &str| {
        let value = headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        headers.remove(name);
        value
    };
    let marked = marker(headers, FRAME_MARKER);
    let form_to = marker(headers, FORM_TO_MARKER);
    let (Some(id), Some(state)) = (marked.or(cookie), state) else {
        return Ok(response);
    };
    let Some(origin) = state.lti_frames.of(&state.pool, &id).await else {
        return Ok(response);
    };
    let headers = response.headers_mut();
    let policy = headers
        .get(header::CONTENT_SECURITY_POLICY)
        .and_then(|v| v.to_str().ok())
        .map(|p| {
            let p = p.replace(
                "frame-ancestors 'none'",
                &format!("frame-ancestors 'self' {origin}"),
            );
            match form_to.as_deref().and_then(origin_checked) {
                Some(to) => p.replace("form-action 'self'", &format!("form-action 'self' {to}")),
                None => p,
            }
        });
    if let Some(value) = policy.and_then(|p| HeaderValue::from_str(&p).ok()) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
        headers.remove(header::X_FRAME_OPTIONS);
    }
    Ok(response)
}

/// An origin marker, checked again (it came from a URL the platform sent).
fn origin_checked(marked: &str) -> Option<String> {
    origin(marked).filter(|o| o == marked)
}
