//! Who is calling, and may they? [`CurrentUser`] authenticates a request by its bearer
//! token or, for browser pages, by the page-session cookie (then unsafe methods must send
//! the session's CSRF token in `x-csrf-token`). The `require_*` helpers are the authorisation
//! rules other capabilities reuse: to callers outside an organisation, its resources do
//! not exist (404); members without the needed role get 403.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::{header, Method};
use actix_web::{web, FromRequest, HttpRequest};
use diesel::OptionalExtension;

use super::model::Role;
use super::store::{self, Organisation};
use crate::app::AppState;
use crate::db::{self, DbConn};
use crate::error::AppError;

pub use super::current::CurrentUser;

/// The page session's cookie. Under https it takes the `__Host-` prefix: the browser then
/// accepts it only if Secure, for the whole site and from this host alone (a sibling
/// sub-domain cannot plant one).
pub fn access_cookie_name(https: bool) -> &'static str {
    if https {
        "__Host-qvt_access"
    } else {
        "qvt_access"
    }
}

/// The page-session cookie a request carries, under the name this deployment uses.
pub fn access_cookie(req: &HttpRequest) -> Option<actix_web::cookie::Cookie<'static>> {
    let https = req
        .app_data::<web::Data<AppState>>()
        .is_some_and(|state| state.settings.https());
    req.cookie(access_cookie_name(https))
}
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The CSRF token of a cookie session: derived from its access token, which scripts cannot
/// read (HttpOnly) and other sites cannot set, so a token planted in a cookie by a
/// neighbouring site or a network attacker is worth nothing.
pub fn csrf_of(access_token: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("qvt-campus csrf\0{access_token}").as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
}

/// The access token of a request (bearer header, or page-session cookie with its CSRF
/// header on unsafe methods).
pub fn token_of(req: &HttpRequest) -> Result<String, AppError> {
    if let Some(value) = req.headers().get(header::AUTHORIZATION) {
        let value = value.to_str().unwrap_or_default();
        return match value.split_once(' ') {
            Some((scheme, token))
                if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
            {
                Ok(token.trim().to_owned())
            }
            _ => Err(AppError::unauthorized(
                "En-tête Authorization attendu : « Bearer <jeton> ».",
            )),
        };
    }
    if let Some(cookie) = access_cookie(req) {
        let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
        if !safe {
            let sent = req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok());
            if sent != Some(csrf_of(cookie.value()).as_str()) {
                return Err(AppError::forbidden("Jeton anti-CSRF absent ou invalide."));
            }
        }
        return Ok(cookie.value().to_owned());
    }
    Err(AppError::unauthorized("Connexion requise."))
}

/// The account a valid access token was issued to, without checking that it is still active
/// (see [`user_of_token`]).
pub fn account_of_token(state: &AppState, token: &str) -> Result<String, AppError> {
    state
        .keys
        .verify_access(token)
        .map(|claims| claims.sub)
        .ok_or_else(invalid_token)
}

fn invalid_token() -> AppError {
    AppError::unauthorized("Jeton invalide ou expiré.")
}

/// The active account an access token stands for.
pub async fn user_of_token(state: &AppState, token: &str) -> Result<CurrentUser, AppError> {
    let claims = state.keys.verify_access(token).ok_or_else(invalid_token)?;
    // A session signed out (or whose password was reset) since the token was issued.
    let current = |epoch: i32| claims.sev == epoch;
    let ended = || AppError::unauthorized("Session terminée : reconnectez-vous.");
    if let Some((user, epoch)) = state.accounts.get(&claims.sub) {
        return if current(epoch) {
            Ok(user)
        } else {
            Err(ended())
        };
    }
    let id = claims.sub.clone();
    let account = db::run(&state.pool, move |conn| {
        Ok(store::account(conn, &id).optional()?)
    })
    .await?;
    match account {
        Some(a) if a.is_active() && !a.awaits_owner() => {
            let epoch = a.page_session_epoch;
            let user = CurrentUser {
                email_verified: a.email_verified_at.is_some(),
                id: a.id,
                email: a.email,
                is_platform_admin: a.is_platform_admin,
            };
            state.accounts.put(&user, epoch);
            if current(epoch) {
                Ok(user)
            } else {
                Err(ended())
            }
        }
        _ => Err(AppError::unauthorized("Compte inexistant ou désactivé.")),
    }
}

impl FromRequest for CurrentUser {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let token = token_of(req);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let state =
                state.ok_or_else(|| AppError::internal(anyhow::anyhow!("AppState missing")))?;
            user_of_token(&state, &token?).await
        })
    }
}

/// The organisation, if the user may see it (member or platform admin), with their role.
pub fn require_member(
    conn: &mut DbConn,
    user: &CurrentUser,
    organisation_id: &str,
) -> Result<(Organisation, Option<Role>), AppError> {
    let hidden = || AppError::not_found("Organisation introuvable.");
    let organisation = store::organisation(conn, organisation_id)
        .optional()?
        .ok_or_else(hidden)?;
    let role = store::membership(conn, organisation_id, &user.id)?.map(|m| m.role);
    if role.is_none() && !user.is_platform_admin {
        return Err(hidden());
    }
    Ok((organisation, role))
}

/// The organisation, if the user administers it (org admin there, or platform admin).
pub fn require_org_admin(
    conn: &mut DbConn,
    user: &CurrentUser,
    organisation_id: &str,
) -> Result<Organisation, AppError> {
    let (organisation, role) = require_member(conn, user, organisation_id)?;
    if user.is_platform_admin || role == Some(Role::OrgAdmin) {
        Ok(organisation)
    } else {
        Err(AppError::forbidden(
            "Réservé aux administrateurs de cette organisation.",
        ))
    }
}

/// The organisation, if the user teaches or administers there (tutor, org admin, or
/// platform admin): who may see a session's learners.
pub fn require_staff(
    conn: &mut DbConn,
    user: &CurrentUser,
    organisation_id: &str,
) -> Result<Organisation, AppError> {
    let (organisation, role) = require_member(conn, user, organisation_id)?;
    if user.is_platform_admin || matches!(role, Some(Role::OrgAdmin) | Some(Role::Tutor)) {
        Ok(organisation)
    } else {
        Err(AppError::forbidden(
            "Réservé aux tuteurs et administrateurs de cette organisation.",
        ))
    }
}
