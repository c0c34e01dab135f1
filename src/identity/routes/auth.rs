//! Registration, login, token refresh and logout, e-mail verification, password reset.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

use super::me::AccountView;
use crate::app::AppState;
use crate::db;
use crate::error::{AppError, Problem};
use crate::http::{Fields, Json};
use crate::identity::model::{Email, NewAccount, Password, RegisterRequest};
use crate::identity::service::{self, TokenPair};

/// Creates a learner account and sends the e-mail verification link.
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "identity", request_body = RegisterRequest, responses(
    (status = 201, body = AccountView),
    (status = 409, body = Problem, description = "RPPS or ADELI already used (an address already used gets the same answer as a new one; its owner is mailed)"),
    (status = 422, body = Problem, description = "invalid fields, all named"),
    (status = 429, body = Problem, description = "too many sign-ups from this address, or for this e-mail; see Retry-After"),
))]
pub async fn register(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Json<RegisterRequest>,
) -> Result<HttpResponse, AppError> {
    let new = NewAccount::try_from(body.0)?;
    let s = state.clone();
    let from = client_address(&req);
    let view = db::run(&state.pool, move |conn| {
        let account = service::register(
            conn,
            &s.settings.identity,
            &s.settings.public_url,
            new,
            &from,
        )?;
        AccountView::load(conn, account)
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header(("location", "/api/v1/me"))
        .json(view))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    email: String,
    password: String,
}

/// The client's address (behind a trusted proxy, the one it forwarded for).
fn client_address(req: &HttpRequest) -> String {
    crate::http::client_ip(req).to_string()
}

/// Opens a session: a 15-minute access token and a rotating refresh token.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "identity", request_body = LoginRequest, responses(
    (status = 200, body = TokenPair),
    (status = 401, body = Problem, description = "unknown e-mail or wrong password (same answer)"),
    (status = 429, body = Problem, description = "too many failures; see Retry-After"),
))]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Json<LoginRequest>,
) -> Result<HttpResponse, AppError> {
    let Json(LoginRequest { email, password }) = body;
    let mut f = Fields::new();
    let email = f.required("email", Some(&email), Email::parse);
    f.finish()?;
    let ip = client_address(&req);
    let s = state.clone();
    let pair = db::run(&state.pool, move |conn| {
        service::login(
            conn,
            &s.settings.identity,
            &s.keys,
            &email.expect("checked"),
            &password,
            &ip,
        )
    })
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(pair))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    refresh_token: String,
}

/// Rotates the refresh token; presenting a used one revokes its whole family.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "identity", request_body = RefreshRequest, responses(
    (status = 200, body = TokenPair), (status = 401, body = Problem),
))]
pub async fn refresh(
    state: web::Data<AppState>,
    body: Json<RefreshRequest>,
) -> Result<HttpResponse, AppError> {
    let token = body.0.refresh_token;
    let s = state.clone();
    let pair = db::run(&state.pool, move |conn| {
        service::refresh(conn, &s.settings.identity, &s.keys, &token)
    })
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(pair))
}

/// Ends the session of this refresh token, and at once every access token of the account
/// issued before (other devices get new ones with their refresh tokens).
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "identity", request_body = RefreshRequest, responses((status = 204)))]
pub async fn logout(
    state: web::Data<AppState>,
    body: Json<RefreshRequest>,
) -> Result<HttpResponse, AppError> {
    let token = body.0.refresh_token;
    let stale = db::run(&state.pool, move |conn| service::logout(conn, &token)).await?;
    if let Some(stale) = stale {
        state.forget(stale);
    }
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    token: String,
}

/// Confirms the e-mail address with the token from the verification mail.
#[utoipa::path(post, path = "/api/v1/auth/verify-email", tag = "identity", request_body = TokenRequest, responses(
    (status = 204), (status = 422, body = Problem),
))]
pub async fn verify_email(
    state: web::Data<AppState>,
    body: Json<TokenRequest>,
) -> Result<HttpResponse, AppError> {
    let token = body.0.token;
    let stale = db::run(&state.pool, move |conn| service::verify_email(conn, &token)).await?;
    state.forget(stale);
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResendRequest {
    email: String,
}

/// Sends a new confirmation link if the address belongs to an unconfirmed account (at most
/// three links an hour); the answer is the same either way.
#[utoipa::path(post, path = "/api/v1/auth/verify-email/resend", tag = "identity", request_body = ResendRequest, responses(
    (status = 202), (status = 422, body = Problem),
))]
pub async fn resend_verification(
    state: web::Data<AppState>,
    body: Json<ResendRequest>,
) -> Result<HttpResponse, AppError> {
    let mut f = Fields::new();
    let email = f.required("email", Some(&body.0.email), Email::parse);
    f.finish()?;
    let s = state.clone();
    db::run(&state.pool, move |conn| {
        service::resend_verification(
            conn,
            &s.settings.identity,
            &s.settings.public_url,
            &email.expect("checked"),
        )
    })
    .await?;
    Ok(HttpResponse::Accepted().json(serde_json::json!({
        "detail": "Si un compte non confirmé existe pour cette adresse, un nouveau lien de confirmation vient d'y être envoyé."
    })))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    email: String,
}

/// Sends a reset link if the account exists; the answer is the same either way.
#[utoipa::path(post, path = "/api/v1/auth/password-reset/request", tag = "identity", request_body = ResetRequest, responses(
    (status = 202), (status = 429, body = Problem, description = "too many requests from this address; see Retry-After"),
))]
pub async fn request_password_reset(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Json<ResetRequest>,
) -> Result<HttpResponse, AppError> {
    let mut f = Fields::new();
    let email = f.required("email", Some(&body.0.email), Email::parse);
    f.finish()?;
    let from = client_address(&req);
    db::run(&state.pool, move |conn| {
        service::request_password_reset(conn, &email.expect("checked"), &from)
    })
    .await?;
    Ok(HttpResponse::Accepted().json(serde_json::json!({
        "detail": "Si un compte existe pour cette adresse, un lien de réinitialisation vient d'y être envoyé."
    })))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetConfirm {
    token: String,
    password: String,
}

/// Sets a new password with the token from the reset mail; all sessions are closed.
#[utoipa::path(post, path = "/api/v1/auth/password-reset/confirm", tag = "identity", request_body = ResetConfirm, responses(
    (status = 204), (status = 422, body = Problem),
))]
pub async fn confirm_password_reset(
    state: web::Data<AppState>,
    body: Json<ResetConfirm>,
) -> Result<HttpResponse, AppError> {
    let ResetConfirm { token, password } = body.0;
    let mut f = Fields::new();
    let password = f.required("password", Some(&password), Password::parse);
    f.finish()?;
    let set = db::run(&state.pool, move |conn| {
        service::confirm_password_reset(conn, &token, &password.expect("checked"))
    })
    .await?;
    state.forget(set.stale);
    Ok(HttpResponse::NoContent().finish())
}
