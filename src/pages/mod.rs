//! Server-rendered pages in French (handlebars `templates/pages/`, layout in
//! `templates/partials/`), for students between lectures and practitioners between
//! patients, often on a phone. No front-end build: a stylesheet served under a content
//! hash, and a few lines of script where a page needs them (heartbeats, quiz autosave and
//! timer). Sign-in keeps the access token in an HttpOnly, SameSite cookie; every form that
//! changes something carries the CSRF token of the session.

mod admin;
mod admin_du;
mod learner;
mod public;
mod quiz;
mod resources;
pub mod session;
mod upload;

use std::sync::LazyLock;

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::app::AppState;
use crate::error::AppError;
use session::Visitor;

const CSS: &str = include_str!("../../templates/static/app.css");

/// `/static/app-<hash>.css`: a new stylesheet gets a new address, so browsers may keep
/// this one for a year.
pub static CSS_PATH: LazyLock<String> = LazyLock::new(|| {
    let hash = Sha256::digest(CSS.as_bytes());
    let hex: String = hash.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("/static/app-{hex}.css")
});

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource(CSS_PATH.as_str()).get(stylesheet));
    public::configure(cfg);
    learner::configure(cfg);
    admin::configure(cfg);
    resources::configure(cfg);
}

async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .body(CSS)
}

/// Renders `pages/<name>` inside the layout, with what every page needs (title, the
/// visitor, the CSRF token, the stylesheet).
pub fn render(
    state: &AppState,
    visitor: &Visitor,
    name: &str,
    title: &str,
    mut data: Value,
) -> Result<HttpResponse, AppError> {
    data["page_title"] = title.into();
    data["css"] = CSS_PATH.as_str().into();
    data["user"] = visitor.user.as_ref().map_or(
        Value::Null,
        |u| json!({ "email": u.email, "name": visitor.name }),
    );
    data["csrf"] = visitor.csrf.clone().into();
    let html = state.templates.render(&format!("pages/{name}"), &data)?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(html))
}

/// A page's answer to an error: the same layout, the problem's words.
pub fn error_page(state: &AppState, visitor: &Visitor, error: &AppError) -> HttpResponse {
    // The API's answer logs the cause and carries Retry-After: the page keeps both.
    let api = actix_web::ResponseError::error_response(error);
    let problem = error.problem();
    let mut response = render(
        state,
        visitor,
        "erreur",
        &problem.title,
        json!({ "title": problem.title, "detail": problem.detail, "errors": problem.errors,
                // An unconfirmed account is offered a new link, for the address it signed in with.
                "resend": if error.is_unconfirmed() { visitor.user.as_ref().map(|u| u.email.clone()) } else { None } }),
    )
    .unwrap_or_else(|_| HttpResponse::InternalServerError().finish());
    *response.status_mut() = error.status();
    if let Some(retry) = api.headers().get(header::RETRY_AFTER) {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, retry.clone());
    }
    response
}

/// A form's page shown again after the form was refused: with the refusal's status, and an
/// error page if the page itself cannot be rendered.
pub fn form_again(
    state: &AppState,
    visitor: &Visitor,
    refusal: &AppError,
    page: Result<HttpResponse, AppError>,
) -> HttpResponse {
    let mut response = page.unwrap_or_else(|e| error_page(state, visitor, &e));
    *response.status_mut() = refusal.status();
    response
}

/// What a problem says, for a line above the form.
pub fn message(error: &AppError) -> String {
    let problem = error.problem();
    problem.detail.unwrap_or(problem.title)
}

/// A form field: trimmed, None when left empty.
pub fn filled(raw: &str) -> Option<String> {
    let raw = raw.trim();
    (!raw.is_empty()).then(|| raw.to_owned())
}

/// The value of a field of a form read as pairs (repeated names allowed).
pub fn field<'a>(form: &'a [(String, String)], name: &str) -> &'a str {
    form.iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

pub fn redirect(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .finish()
}

/// Field errors of a problem, keyed by field, for showing them next to each field.
pub fn field_errors(error: &AppError) -> Value {
    let mut map = serde_json::Map::new();
    for e in error.errors() {
        map.insert(e.field.replace('.', "_"), e.message.clone().into());
    }
    Value::Object(map)
}
