//! LTI's HTTP side: the tool's endpoints the platforms call (`/lti/login`, `/lti/launch`,
//! `/lti/jwks.json`, `/lti/configuration`) and the registration API of an organisation's
//! admins (`/api/v1/organisations/{id}/lti/platforms`).

use actix_web::cookie::{time, Cookie, SameSite};
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::roster::RosterReport;

use super::launch::{self, Landing, LaunchForm, LoginRequest};
use super::model::{Message, NewPlatform, RegisterPlatform, ToolConfiguration};
use super::platforms::{self, PlatformView};
use crate::app::AppState;
use crate::config::DatabaseKind;
use crate::db;
use crate::error::{AppError, Problem};
use crate::http::{limit, Json};
use crate::identity::auth::CurrentUser;

/// The cookies that tie a launch to the browser that started its login: one per login in
/// flight (`qvt_lti_login_<state>`), so two activities of one LMS page, launched together,
/// do not overwrite each other's.
const STATE_COOKIE_PREFIX: &str = "qvt_lti_login_";

fn state_cookie(login_state: &str) -> String {
    format!("{STATE_COOKIE_PREFIX}{login_state}")
}
/// Logins started per minute from one address: a lecture hall behind one address opening
/// the activity together stays far below it; a script filling the logins table does not.
pub const LOGINS_PER_MINUTE: u32 = 600;

/// The limiter of login initiations (`startup` registers it), shared by every instance on
/// PostgreSQL.
pub struct LoginLimiter(pub limit::PerAddress);

impl LoginLimiter {
    pub fn new(kind: DatabaseKind, pool: &crate::db::Pool) -> Self {
        Self(limit::PerAddress::for_database(
            "lti_login",
            LOGINS_PER_MINUTE,
            kind,
            pool,
        ))
    }
}

/// The tool's endpoints, at the root.
pub fn configure_public(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/lti/login").get(login_get).post(login_post))
        .service(web::resource("/lti/launch").post(launch))
        .service(web::resource("/lti/deep-link").post(super::deep_linking::respond))
        .service(web::resource("/lti/inscription/{token}").get(dynamic_registration))
        .service(web::resource("/lti/jwks.json").get(jwks))
        .service(web::resource("/lti/configuration").get(configuration));
}

/// The registration API, under `/api/v1`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/organisations/{id}/lti/platforms")
            .get(list)
            .post(register),
    )
    .service(web::resource("/organisations/{id}/lti/platforms/{platform}").delete(remove))
    .service(web::resource("/sessions/{id}/lti/roster").post(roster))
    .service(web::resource("/organisations/{id}/lti/registration-urls").post(registration_url));
}

/// LTI Dynamic Registration: the LMS opens the address with its configuration; we
/// register with it and record it (see `lti::registration`), then tell the LMS we are done.
pub async fn dynamic_registration(
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<super::registration::Initiation>,
) -> Result<HttpResponse, AppError> {
    let view =
        super::registration::register(&state, &path.into_inner(), query.into_inner()).await?;
    let visitor = super::deep_linking::visitor();
    let mut page = crate::pages::render(
        &state,
        &visitor,
        "lti-inscrit",
        "Outil enregistré",
        serde_json::json!({ "platform": view.name, "client_id": view.client_id }),
    )?;
    super::frame::mark(&mut page, super::frame::FRAME_MARKER, &view.id);
    Ok(page)
}

/// A registration address for the LMS (LTI Dynamic Registration): one use, 7 days.
#[utoipa::path(post, path = "/api/v1/organisations/{id}/lti/registration-urls", tag = "lti", security(("bearer" = [])), responses(
    (status = 201, body = super::registration::RegistrationUrl), (status = 403, body = Problem), (status = 404, body = Problem),
))]
pub async fn registration_url(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let (organisation_id, public_url) = (path.into_inner(), state.settings.public_url.clone());
    let url = db::run(&state.pool, move |conn| {
        super::registration::invite(conn, &user, &organisation_id, &public_url)
    })
    .await?;
    Ok(HttpResponse::Created().json(url))
}

/// A cookie the platform's cross-site navigation and frame still carry under https
/// (`SameSite=None` needs `Secure`); on plain http (a developer's machine) the browser
/// would refuse that, so it is `Lax` there.
fn cross_site_cookie(
    name: &str,
    value: String,
    https: bool,
    max_age: time::Duration,
) -> Cookie<'static> {
    Cookie::build(name.to_owned(), value)
        .path("/")
        .http_only(true)
        .secure(https)
        .same_site(if https { SameSite::None } else { SameSite::Lax })
        .max_age(max_age)
        .finish()
}

async fn begin(
    state: web::Data<AppState>,
    req: HttpRequest,
    request: LoginRequest,
) -> Result<HttpResponse, AppError> {
    if let Some(limiter) = req.app_data::<web::Data<LoginLimiter>>() {
        limiter.0.check(crate::http::client_ip(&req)).await?;
    }
    let public_url = state.settings.public_url.clone();
    let https = state.settings.https();
    let (to, login_state) = db::run(&state.pool, move |conn| {
        launch::begin_login(conn, &public_url, &request)
    })
    .await?;
    let age = time::Duration::seconds(launch::LOGIN_TTL.num_seconds());
    Ok(HttpResponse::Found()
        .insert_header((header::LOCATION, to))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .cookie(cross_site_cookie(
            &state_cookie(&login_state),
            "1".into(),
            https,
            age,
        ))
        .finish())
}

/// Third-party initiated login, as a GET.
pub async fn login_get(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<LoginRequest>,
) -> Result<HttpResponse, AppError> {
    begin(state, req, query.into_inner()).await
}

/// Third-party initiated login, as a form POST.
pub async fn login_post(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<LoginRequest>,
) -> Result<HttpResponse, AppError> {
    begin(state, req, form.into_inner()).await
}

/// The launch: the platform's id_token verified, the user and course linked, the user
/// signed in and sent to their course (a learner) or the session's page (a teacher).
pub async fn launch(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<LaunchForm>,
) -> Result<HttpResponse, AppError> {
    // The logins this browser started (none where the frame's cookies are blocked).
    let started: Vec<String> = req
        .cookies()
        .map(|all| {
            all.iter()
                .filter_map(|c| {
                    c.name()
                        .strip_prefix(STATE_COOKIE_PREFIX)
                        .map(str::to_owned)
                })
                .collect()
        })
        .unwrap_or_default();
    let form = form.into_inner();
    let done_cookie = form.state.as_deref().map(state_cookie);
    let verified = launch::verify(&state, form, &started).await?;
    if verified.message == Message::DeepLinking {
        return super::deep_linking::picker(&state, verified).await;
    }
    let platform_id = verified.platform.id.clone();
    let linked = db::run(&state.pool, move |conn| launch::link(conn, &verified)).await?;
    let to = match &linked.landing {
        Landing::Learn {
            enrolment_id,
            quiz: None,
        } => format!("/apprendre/{enrolment_id}"),
        Landing::Learn {
            enrolment_id,
            quiz: Some(quiz),
        } => format!("/apprendre/{enrolment_id}/quiz/{quiz}"),
        Landing::Manage { session_id } => format!("/gestion/sessions/{session_id}"),
    };
    let mut response = crate::pages::session::sign_in_from_platform(
        &state,
        &linked.account_id,
        linked.epoch,
        &to,
    )?;
    let https = state.settings.https();
    let session_age = time::Duration::seconds(crate::pages::session::PAGE_SESSION.as_secs() as i64);
    let mut cookies = vec![
        // Which platform may frame our pages for this browser (see `lti::frame`).
        cross_site_cookie(super::frame::COOKIE, platform_id, https, session_age),
    ];
    if let Some(name) = done_cookie {
        cookies.push(cross_site_cookie(
            &name,
            String::new(),
            https,
            time::Duration::ZERO,
        ));
    }
    for cookie in cookies {
        response
            .add_cookie(&cookie)
            .map_err(|e| AppError::internal(anyhow::anyhow!("cookie: {e}")))?;
    }
    Ok(response)
}

/// The tool's public keys (RS256), which platforms use to check our client assertions
/// and deep linking responses.
#[utoipa::path(get, path = "/lti/jwks.json", tag = "lti", responses((status = 200, description = "JSON Web Key Set")))]
pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .json(serde_json::json!({ "keys": state.lti_key.jwks(&state.settings.public_url) }))
}

/// The addresses to register the tool with in an LMS.
#[utoipa::path(get, path = "/lti/configuration", tag = "lti", responses((status = 200, body = ToolConfiguration)))]
pub async fn configuration(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(ToolConfiguration::of(&state.settings.public_url))
}

/// The learning platforms the organisation registered (its admins only).
#[utoipa::path(get, path = "/api/v1/organisations/{id}/lti/platforms", tag = "lti", security(("bearer" = [])), responses(
    (status = 200, body = [PlatformView]), (status = 403, body = Problem), (status = 404, body = Problem),
))]
pub async fn list(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let organisation_id = path.into_inner();
    let views = db::run(&state.pool, move |conn| {
        platforms::list(conn, &user, &organisation_id)
    })
    .await?;
    Ok(HttpResponse::Ok().json(views))
}

/// Registers a learning platform (LMS) for the organisation.
#[utoipa::path(post, path = "/api/v1/organisations/{id}/lti/platforms", tag = "lti", security(("bearer" = [])), request_body = RegisterPlatform, responses(
    (status = 201, body = PlatformView), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem),
))]
pub async fn register(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    body: Json<RegisterPlatform>,
) -> Result<HttpResponse, AppError> {
    let organisation_id = path.into_inner();
    let new = NewPlatform::parse(body.0, !state.settings.https())?;
    let view = db::run(&state.pool, move |conn| {
        platforms::register(conn, &user, &organisation_id, new)
    })
    .await?;
    Ok(HttpResponse::Created().json(view))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct RosterQuery {
    /// Report what would be done, without writing.
    #[serde(default)]
    dry_run: bool,
}

/// Brings the LMS course's members into the session (NRPS): students enrolled, teachers
/// made tutors; one report per LMS course placing the session (its organisation's admins).
#[utoipa::path(post, path = "/api/v1/sessions/{id}/lti/roster", tag = "lti", security(("bearer" = [])), params(RosterQuery), responses(
    (status = 200, body = [RosterReport]), (status = 403, body = Problem), (status = 404, body = Problem),
    (status = 409, body = Problem), (status = 503, body = Problem),
))]
pub async fn roster(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    query: web::Query<RosterQuery>,
) -> Result<HttpResponse, AppError> {
    let reports =
        super::roster::sync_session(&state, user, path.into_inner(), query.dry_run).await?;
    Ok(HttpResponse::Ok().json(reports))
}

/// Removes a registration: its launches stop; accounts and records stay.
#[utoipa::path(delete, path = "/api/v1/organisations/{id}/lti/platforms/{platform}", tag = "lti", security(("bearer" = [])), responses(
    (status = 204), (status = 403, body = Problem), (status = 404, body = Problem),
))]
pub async fn remove(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (organisation_id, platform_id) = path.into_inner();
    let removed = platform_id.clone();
    db::run(&state.pool, move |conn| {
        platforms::remove(conn, &user, &organisation_id, &platform_id)
    })
    .await?;
    state.lti_frames.forget(&removed);
    Ok(HttpResponse::NoContent().finish())
}
