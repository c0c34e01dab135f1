//! Framing by the learning platform a browser came from. Our pages refuse every frame
//! (`frame-ancestors 'none'`, `X-Frame-Options: DENY`, see `http::headers`), except for a
//! browser an LTI launch signed in: its pages may be framed by that launch's platform, and
//! by it alone (the cookie names the platform; its origin comes from its registration).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};
use parking_lot::Mutex;

use super::store;
use crate::app::AppState;
use crate::db;

/// The cookie naming the platform that launched this browser.
pub const COOKIE: &str = "qvt_lti_frame";
/// Markers the handlers leave for this middleware (removed before the answer leaves): the
/// platform a page may be framed by before any cookie names it (deep linking, dynamic
/// registration), and the origin a page's form may post to.
pub const FRAME_MARKER: &str = "x-qvt-lti-platform";
pub const FORM_TO_MARKER: &str = "x-qvt-lti-form-to";

/// How long an origin is remembered (a removed registration stops framing within this,
/// at once on the instance that removed it).
const TTL: Duration = Duration::from_secs(60);

/// Platform id → its origin (`None`: no such platform), with when it was read.
#[derive(Default)]
pub struct FrameOrigins(Mutex<HashMap<String, (Instant, Option<String>)>>);

/// `scheme://host[:port]` of a registered URL, with nothing a policy could be bent by.
pub fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split(['/', '?', '#']).next()?;
    let clean = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    (matches!(scheme, "https" | "http") && clean).then(|| format!("{scheme}://{host}"))
}

async fn origin_of(state: &AppState, platform_id: &str) -> Option<String> {
    if let Some((at, known)) = state.lti_frames.0.lock().get(platform_id) {
        if at.elapsed() < TTL {
            return known.clone();
        }
    }
    let id = platform_id.to_owned();
    let platform = db::run(&state.pool, move |c| Ok(store::platform(c, &id)?))
        .await
        .ok()?;
    let found = platform.and_then(|p| origin(&p.issuer));
    let mut cache = state.lti_frames.0.lock();
    if cache.len() > 10_000 {
        cache.clear();
    }
    cache.insert(platform_id.to_owned(), (Instant::now(), found.clone()));
    found
}

/// Forgets a platform's origin (its registration was removed).
pub fn forget(state: &AppState, platform_id: &str) {
    state.lti_frames.0.lock().remove(platform_id);
}

/// Leaves a marker on a page for this middleware.
pub fn mark(page: &mut HttpResponse, name: &'static str, value: &str) {
    if let Ok(value) = actix_web::http::header::HeaderValue::from_str(value) {
        page.headers_mut().insert(
            actix_web::http::header::HeaderName::from_static(name),
            value,
        );
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
    let Some(origin) = origin_of(&state, &id).await else {
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

#[cfg(test)]
mod tests {
    use super::origin;

    #[test]
    fn an_origin_is_scheme_and_host_and_nothing_else() {
        assert_eq!(
            origin("https://moodle.univ.fr/").as_deref(),
            Some("https://moodle.univ.fr")
        );
        assert_eq!(
            origin("http://127.0.0.1:8081/lms?x").as_deref(),
            Some("http://127.0.0.1:8081")
        );
        assert_eq!(origin("https://a.fr;script-src *"), None);
        assert_eq!(origin("javascript://x"), None);
    }
}
