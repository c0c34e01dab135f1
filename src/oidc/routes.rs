//! The pages of signing in with a provider: `/connexion/oidc/{provider}` starts it, the
//! provider returns to `/connexion/oidc/{provider}/retour`, an existing account proves
//! itself at `/connexion/oidc/lier` (or its owner asks for a new account at
//! `/connexion/oidc/nouveau`), the provider's back-channel logout arrives at
//! `/connexion/oidc/{provider}/deconnexion`; « Mon compte » links and unlinks.

use actix_web::cookie::{time, Cookie, SameSite};
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::service::{self, Outcome};
use crate::app::AppState;
use crate::db;
use crate::error::AppError;
use crate::identity::model::Email;
use crate::identity::service as identity;
use crate::pages::session::{sign_in, Visitor};
use crate::pages::{error_page, render};

/// The cookie holding a sign-in's PKCE verifier, named after its state: it ties the return
/// to the browser that started the sign-in.
const COOKIE_PREFIX: &str = "qvt_oidc_";

/// Sign-ins started per minute from one address: a lecture hall behind one address signing
/// in together stays far below it; a script filling the logins table does not.
pub const SIGN_INS_PER_MINUTE: u32 = 600;

/// The limiter of sign-ins started (`startup` registers it), shared by every instance on
/// PostgreSQL.
pub struct SignInLimiter(pub crate::http::limit::PerAddress);

impl SignInLimiter {
    pub fn new(kind: crate::config::DatabaseKind, pool: &crate::db::Pool) -> Self {
        Self(crate::http::limit::PerAddress::for_database(
            "oidc_sign_in",
            SIGN_INS_PER_MINUTE,
            kind,
            pool,
        ))
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/connexion/oidc/lier").post(prove))
        .service(web::resource("/connexion/oidc/nouveau").post(create_instead))
        .service(web::resource("/connexion/oidc/{provider}").get(start))
        .service(web::resource("/connexion/oidc/{provider}/retour").get(back))
        .service(web::resource("/connexion/oidc/{provider}/deconnexion").post(logout))
        .service(web::resource("/mon-compte/identites/{provider}/lier").post(link))
        .service(web::resource("/mon-compte/identites/{provider}/delier").post(unlink));
}

/// Where a sign-in may lead afterwards: a path of this site (`/…`, not `//host`), else
/// the dashboard.
fn return_path(asked: Option<&str>) -> String {
    asked
        .and_then(crate::pages::session::safe_return)
        .unwrap_or(super::model::DEFAULT_RETURN)
        .to_owned()
}

fn verifier_cookie(
    state: &AppState,
    login_state: &str,
    value: String,
    age: i64,
) -> Cookie<'static> {
    Cookie::build(format!("{COOKIE_PREFIX}{login_state}"), value)
        .path("/connexion/oidc")
        .http_only(true)
        .secure(state.settings.https())
        // The provider's redirect back is a top-level GET: `Lax` is sent with it.
        .same_site(SameSite::Lax)
        .max_age(time::Duration::seconds(age))
        .finish()
}

async fn redirect_to_provider(
    state: &AppState,
    req: &HttpRequest,
    provider: &str,
    link_account: Option<String>,
    return_to: String,
) -> Result<HttpResponse, AppError> {
    let provider = service::provider(state, provider)?;
    if let Some(limiter) = req.app_data::<web::Data<SignInLimiter>>() {
        limiter.0.check(crate::http::client_ip(req)).await?;
    }
    let started = service::begin(state, provider, link_account, return_to).await?;
    let cookie = verifier_cookie(
        state,
        &started.state,
        started.verifier,
        service::LOGIN_TTL.num_seconds(),
    );
    Ok(HttpResponse::Found()
        .insert_header((header::LOCATION, started.url))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .cookie(cookie)
        .finish())
}

#[derive(Deserialize)]
struct Start {
    retour: Option<String>,
}

/// « Se connecter avec … »: to the provider.
async fn start(
    state: web::Data<AppState>,
    visitor: Visitor,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<Start>,
) -> HttpResponse {
    redirect_to_provider(
        &state,
        &req,
        &path,
        None,
        return_path(query.retour.as_deref()),
    )
    .await
    .unwrap_or_else(|e| error_page(&state, &visitor, &e))
}

#[derive(Deserialize)]
struct Back {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    /// RFC 9207: the issuer of the answer, where the provider says it.
    iss: Option<String>,
}

/// The provider's return: verified, settled on an account, signed in.
async fn back(
    state: web::Data<AppState>,
    visitor: Visitor,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<Back>,
) -> HttpResponse {
    let query = query.into_inner();
    let done = query
        .state
        .as_deref()
        .map(|s| verifier_cookie(&state, s, String::new(), 0));
    let outcome = async {
        let provider = service::provider(&state, &path)?;
        if let Some(error) = &query.error {
            tracing::info!(error, "identity provider returned an error");
            return Err(AppError::unauthorized(
                "Connexion annulée ou refusée chez le fournisseur d'identité.",
            ));
        }
        if query
            .iss
            .as_deref()
            .is_some_and(|iss| iss != provider.issuer)
        {
            return Err(super::model::refused("réponse d'un autre émetteur (iss)"));
        }
        let code = query.code.as_deref().filter(|c| !c.is_empty());
        let code = code.ok_or_else(|| AppError::invalid("code", "obligatoire"))?;
        let login_state = query.state.as_deref().filter(|s| !s.is_empty());
        let login_state = login_state.ok_or_else(|| AppError::invalid("state", "obligatoire"))?;
        let verifier = req
            .cookie(&format!("{COOKIE_PREFIX}{login_state}"))
            .map(|c| c.value().to_owned())
            .filter(|v| !v.is_empty());
        let returned =
            service::verify_return(&state, provider, code, login_state, verifier).await?;
        let outcome = db::run(&state.pool, move |conn| service::settle(conn, &returned)).await?;
        finish(&state, &visitor, outcome)
    }
    .await;
    let mut response = outcome.unwrap_or_else(|e| error_page(&state, &visitor, &e));
    if let Some(cookie) = done {
        let _ = response.add_cookie(&cookie);
    }
    response
}

/// Signs in, or asks the existing account to prove itself.
fn finish(state: &AppState, visitor: &Visitor, outcome: Outcome) -> Result<HttpResponse, AppError> {
    match outcome {
        Outcome::SignedIn {
            account_id,
            epoch,
            to,
            stale,
        } => {
            state.forget(stale);
            sign_in(state, &account_id, epoch, &to)
        }
        Outcome::NeedsProof { token, to } => proof_page(state, visitor, &token, &to, None, ""),
    }
}

/// « Un compte existe déjà pour vous »: the password form of the link waiting for `token`
/// (`render` marks it `no-store`), again with `problem` after a refusal.
fn proof_page(
    state: &AppState,
    visitor: &Visitor,
    token: &str,
    to: &str,
    problem: Option<String>,
    email: &str,
) -> Result<HttpResponse, AppError> {
    render(
        state,
        visitor,
        "oidc-lier",
        "Lier votre identité",
        json!({ "token": token, "retour": to, "problem": problem, "email": email }),
    )
}

#[derive(Deserialize)]
struct Proof {
    token: String,
    email: String,
    password: String,
    #[serde(default)]
    retour: String,
}

/// The existing account proves itself by its password; the identity is linked to it.
async fn prove(
    state: web::Data<AppState>,
    visitor: Visitor,
    req: HttpRequest,
    form: web::Form<Proof>,
) -> HttpResponse {
    let Proof {
        token,
        email,
        password,
        retour,
    } = form.into_inner();
    let to = return_path(Some(&retour));
    let ip = crate::http::client_ip(&req).to_string();
    let typed = email.clone();
    let (again_token, again_to) = (token.clone(), to.clone());
    let outcome = async {
        let email = Email::parse(&typed).map_err(|m| AppError::invalid("email", m))?;
        let s = state.clone();
        let outcome = db::run(&state.pool, move |conn| {
            let account =
                identity::authenticate(conn, &s.settings.identity, &email, &password, &ip)?;
            service::link_after_proof(conn, &s.settings.oidc, &token, account, to)
        })
        .await?;
        finish(&state, &visitor, outcome)
    }
    .await;
    match outcome {
        Ok(page) => page,
        Err(e) if e.status().is_client_error() && e.status().as_u16() != 429 => {
            let problem = Some(crate::pages::message(&e));
            let page = proof_page(&state, &visitor, &again_token, &again_to, problem, &email);
            crate::pages::form_again(&state, &visitor, &e, page)
        }
        Err(e) => error_page(&state, &visitor, &e),
    }
}

#[derive(Deserialize)]
struct Instead {
    token: String,
    #[serde(default)]
    retour: String,
}

/// « Ce compte n'est pas le mien »: a new account for the verified identity.
async fn create_instead(
    state: web::Data<AppState>,
    visitor: Visitor,
    form: web::Form<Instead>,
) -> HttpResponse {
    let Instead { token, retour } = form.into_inner();
    let to = return_path(Some(&retour));
    let s = state.clone();
    let outcome = db::run(&state.pool, move |conn| {
        service::create_instead(conn, &s.settings.oidc, &token, to)
    })
    .await
    .and_then(|outcome| finish(&state, &visitor, outcome));
    outcome.unwrap_or_else(|e| error_page(&state, &visitor, &e))
}

#[derive(Deserialize)]
struct LogoutForm {
    logout_token: Option<String>,
}

/// OpenID Connect Back-Channel Logout: the provider says the person signed out there.
async fn logout(
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<LogoutForm>,
) -> Result<HttpResponse, AppError> {
    let provider = service::provider(&state, &path)?;
    let token = form
        .into_inner()
        .logout_token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| AppError::invalid("logout_token", "obligatoire"))?;
    service::back_channel_logout(&state, provider, &token).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}

#[derive(Deserialize)]
struct AccountForm {
    csrf: String,
}

/// « Lier mon identité … » from « Mon compte »: the signed-in account asks for the link.
async fn link(
    state: web::Data<AppState>,
    visitor: Visitor,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<AccountForm>,
) -> HttpResponse {
    let outcome = async {
        let user = visitor.for_form(&form.csrf)?.clone();
        redirect_to_provider(&state, &req, &path, Some(user.id), "/mon-compte".into()).await
    }
    .await;
    outcome.unwrap_or_else(|e| error_page(&state, &visitor, &e))
}

/// « Délier »: while a password or another identity remains.
async fn unlink(
    state: web::Data<AppState>,
    visitor: Visitor,
    path: web::Path<String>,
    form: web::Form<AccountForm>,
) -> HttpResponse {
    let outcome = async {
        let user = visitor.for_form(&form.csrf)?.clone();
        let provider = path.into_inner();
        let id = user.id.clone();
        db::run(&state.pool, move |conn| {
            service::unlink(conn, &id, &provider)
        })
        .await?;
        state.forget(crate::stale::Stale::Account(user.id));
        Ok::<_, AppError>(crate::pages::redirect("/mon-compte"))
    }
    .await;
    outcome.unwrap_or_else(|e| error_page(&state, &visitor, &e))
}

#[cfg(test)]
mod tests {
    use super::return_path;

    #[test]
    fn a_return_leads_only_to_this_site() {
        assert_eq!(return_path(Some("/apprendre/1")), "/apprendre/1");
        assert_eq!(return_path(Some("//evil.example/")), "/tableau-de-bord");
        assert_eq!(
            return_path(Some("https://evil.example/")),
            "/tableau-de-bord"
        );
        assert_eq!(return_path(None), "/tableau-de-bord");
    }
}
