//! Who is looking at a page: the account behind the access-token cookie, if any, and the
//! session's CSRF token that forms must send back.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::cookie::{time, Cookie, SameSite};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method};
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};

use crate::app::AppState;
use crate::db;
use crate::error::AppError;
use crate::identity::auth::{
    access_cookie, access_cookie_name, csrf_of, user_of_token, CurrentUser,
};
use crate::identity::model::Role;
use crate::identity::{service, store};

/// How long a page session lasts: a working day. API clients keep short tokens.
pub const PAGE_SESSION: Duration = Duration::from_secs(8 * 3600);

#[derive(Clone)]
pub struct Visitor {
    pub user: Option<CurrentUser>,
    pub name: String,
    pub csrf: String,
    /// Whether the account tutors or administers an organisation (the « Gestion » link).
    pub staff: bool,
    /// The address asked for (path and query), to come back to after signing in.
    pub path: String,
    /// The page of this site the visitor came from, for an error page's way back.
    pub back: Option<String>,
}

impl Visitor {
    /// A signed-out visitor on a page that needs an account: the sign-in page, which
    /// brings them back here.
    pub fn sign_in_first(&self) -> HttpResponse {
        super::redirect(&sign_in_then(&self.path))
    }

    /// The visitor behind an access token (the page-session cookie), if it is still good.
    pub async fn of_token(state: &AppState, token: Option<String>, path: String) -> Self {
        let csrf = token.as_deref().map(csrf_of).unwrap_or_default();
        let user = match token {
            Some(token) => user_of_token(state, &token).await.ok(),
            None => None,
        };
        let (name, staff) = match &user {
            Some(u) => {
                let (id, admin) = (u.id.clone(), u.is_platform_admin);
                db::run(&state.pool, move |conn| {
                    let name = store::account(conn, &id)?.full_name;
                    let staff = admin
                        || store::organisations_of(conn, &id)?
                            .iter()
                            .any(|(_, role)| *role != Role::Learner);
                    Ok((name, staff))
                })
                .await
                .unwrap_or_default()
            }
            None => Default::default(),
        };
        Visitor {
            user,
            name,
            csrf,
            staff,
            path,
            back: None,
        }
    }

    /// The user a form acts for: signed in, and the form carries the session's token.
    pub fn for_form(&self, sent: &str) -> Result<&CurrentUser, AppError> {
        let user = self
            .user
            .as_ref()
            .ok_or_else(|| AppError::unauthorized("Connexion requise."))?;
        if self.csrf.is_empty() || sent != self.csrf {
            return Err(AppError::forbidden(
                "Formulaire expiré : rechargez la page et recommencez.",
            ));
        }
        Ok(user)
    }
}

impl FromRequest for Visitor {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = access_cookie(req).map(|c| c.value().to_owned());
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let path = req
            .uri()
            .path_and_query()
            .map_or_else(|| req.path().to_owned(), |p| p.as_str().to_owned());
        let back = came_from(req);
        Box::pin(async move {
            let state =
                state.ok_or_else(|| AppError::internal(anyhow::anyhow!("AppState missing")))?;
            let mut visitor = Visitor::of_token(&state, token, path).await;
            visitor.back = back;
            Ok(visitor)
        })
    }
}

/// A path the sign-in page may send the visitor back to: on this site only (an address
/// like `//evil.example` or `/\evil.example` would leave it).
pub fn safe_return(raw: &str) -> Option<&str> {
    let ok = raw.starts_with('/')
        && !raw.starts_with("//")
        && !raw.starts_with("/\\")
        && !raw.chars().any(|c| c.is_control())
        && raw.len() <= 2000;
    ok.then_some(raw)
}

/// The sign-in page, set to come back to `to` afterwards.
pub fn sign_in_then(to: &str) -> String {
    match safe_return(to) {
        Some(to) if to != "/" => format!(
            "/connexion?{}",
            serde_urlencoded::to_string([("retour", to)]).unwrap_or_default()
        ),
        _ => "/connexion".into(),
    }
}

/// The page of this site named by `Referer`, if any (another site's address is not a way
/// back this site offers).
fn came_from(req: &HttpRequest) -> Option<String> {
    let referer = req.headers().get(header::REFERER)?.to_str().ok()?;
    let host = req.headers().get(header::HOST)?.to_str().ok()?;
    let rest = referer.split_once("://")?.1;
    let path = rest.strip_prefix(host)?;
    safe_return(path).map(str::to_owned)
}

/// The page-session cookie: `Secure` and `__Host-`-prefixed when the site is https.
fn cookie(value: String, secure: bool, max_age: time::Duration) -> Cookie<'static> {
    Cookie::build(access_cookie_name(secure), value)
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .max_age(max_age)
        .finish()
}

/// Signs in an account an LTI launch vouched for, as [`sign_in`] does, with a cookie the
/// browser also sends inside the platform's frame: `SameSite=None` under https (a `Lax`
/// cookie is withheld from a cross-site frame). The CSRF token and `same_site` still guard
/// every form.
pub fn sign_in_from_platform(
    state: &AppState,
    account_id: &str,
    epoch: i32,
    to: &str,
) -> Result<HttpResponse, AppError> {
    let token = state.keys.issue_access(account_id, PAGE_SESSION, epoch)?;
    let https = state.settings.https();
    let mut framed = cookie(
        token,
        https,
        time::Duration::seconds(PAGE_SESSION.as_secs() as i64),
    );
    if https {
        framed.set_same_site(SameSite::None);
    }
    let mut response = super::redirect(to);
    add(&mut response, framed)?;
    Ok(response)
}

fn add(response: &mut HttpResponse, cookie: Cookie<'static>) -> Result<(), AppError> {
    response
        .add_cookie(&cookie)
        .map_err(|e| AppError::internal(anyhow::anyhow!("cookie: {e}")))
}

/// Signs the account in for pages: its access token and a fresh CSRF token, as cookies.
pub fn sign_in(
    state: &AppState,
    account_id: &str,
    epoch: i32,
    to: &str,
) -> Result<HttpResponse, AppError> {
    let token = state.keys.issue_access(account_id, PAGE_SESSION, epoch)?;
    let age = time::Duration::seconds(PAGE_SESSION.as_secs() as i64);
    let mut response = super::redirect(to);
    add(&mut response, cookie(token, state.settings.https(), age))?;

    Ok(response)
}

/// Signs in again after a new password (every session of the account ended with the old
/// one), then lets the caches forget what they knew of the account.
pub fn sign_in_after(
    state: &AppState,
    set: service::PasswordSet,
    to: &str,
) -> Result<HttpResponse, AppError> {
    let page = sign_in(state, &set.account_id, set.epoch, to);
    state.forget(set.stale);
    page
}

/// Refuses a page form posted from another site (CSRF, login CSRF: being signed in to
/// someone else's account), by the browser's own `Sec-Fetch-Site` and `Origin` headers.
/// One rule for every state-changing page request: a request the browser says came from
/// elsewhere — another site, a sibling sub-domain, or an opaque origin (`Origin: null`,
/// sent by sandboxed frames and `data:` pages) — is refused before any handler runs.
/// Requests without either header (old browsers, scripts) still need the session's CSRF
/// token wherever a session is involved.
pub fn same_site(req: &HttpRequest) -> Result<(), AppError> {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let refused = || AppError::forbidden("Formulaire envoyé depuis un autre site.");
    if let Some(site) = header("sec-fetch-site") {
        if site != "same-origin" && site != "none" {
            return Err(refused());
        }
    }
    if let Some(origin) = header("origin") {
        let origin_host = origin.split_once("://").map(|(_, rest)| rest);
        if origin_host.is_none() || origin_host != header("host") {
            return Err(refused());
        }
    }
    Ok(())
}

/// The middleware applying [`same_site`] to every unsafe request outside the API (the
/// API's callers authenticate with a bearer token or the CSRF header, never a form).
pub async fn cross_site_forms(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    // A learning platform starts logins and posts launches from its own site: those are
    // checked by their state, nonce and signature instead (see `lti::launch`).
    let platform_post = matches!(req.path(), "/lti/login" | "/lti/launch")
        || (req.path().starts_with("/connexion/oidc/") && req.path().ends_with("/deconnexion"));
    if !safe && !req.path().starts_with("/api/") && !platform_post {
        same_site(req.request())?;
    }
    next.call(req).await
}

/// Ends every page session of the account (the cookie of a stolen session included),
/// then clears this browser's cookies.
pub async fn sign_out_everywhere(
    state: &AppState,
    user: &CurrentUser,
) -> Result<HttpResponse, AppError> {
    let id = user.id.clone();
    let stale = db::run(&state.pool, move |conn| {
        service::end_page_sessions(conn, &id)
    })
    .await?;
    state.forget(stale);
    sign_out(state)
}

pub fn sign_out(state: &AppState) -> Result<HttpResponse, AppError> {
    let mut response = super::redirect("/");
    add(
        &mut response,
        cookie(String::new(), state.settings.https(), time::Duration::ZERO),
    )?;
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_of_this_site_are_returned_to() {
        assert_eq!(safe_return("/formations/qvt"), Some("/formations/qvt"));
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "https://evil.example",
            "",
            "/a\nb",
        ] {
            assert_eq!(safe_return(bad), None, "{bad:?}");
        }
        assert_eq!(
            sign_in_then("/api/v1/certificates/x.pdf?a=1&b=2"),
            "/connexion?retour=%2Fapi%2Fv1%2Fcertificates%2Fx.pdf%3Fa%3D1%26b%3D2"
        );
        assert_eq!(sign_in_then("//evil.example"), "/connexion");
    }
}
