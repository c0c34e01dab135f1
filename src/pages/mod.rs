//! Server-rendered pages in French (handlebars `templates/pages/`, layout in
//! `templates/partials/`), for students between lectures and practitioners between
//! patients, often on a phone. No front-end build: a stylesheet served under a content
//! hash, and a few lines of script where a page needs them (heartbeats, quiz autosave and
//! timer). Sign-in keeps the access token in an HttpOnly, SameSite cookie; every form that
//! changes something carries the CSRF token of the session.

mod account;
mod admin;
mod admin_du;
pub mod assets;
mod attempt;
mod du_cohort;
pub mod errors;
mod import;
mod learner;
mod learners;
mod lms;
mod organisation;
mod public;
mod quiz;
mod resources;
pub mod session;
mod session_forms;
mod statistics;
mod upload;

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde_json::{json, Value};

use crate::app::AppState;
use crate::error::{AppError, Problem};
use session::Visitor;

pub fn configure(cfg: &mut web::ServiceConfig) {
    assets::configure(cfg);
    public::configure(cfg);
    learner::configure(cfg);
    account::configure(cfg);
    admin::configure(cfg);
    import::configure(cfg);
    organisation::configure(cfg);
    lms::configure(cfg);
    statistics::configure(cfg);
    du_cohort::configure(cfg);
    resources::configure(cfg);
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
    data["css"] = assets::APP_CSS.path.as_str().into();
    data["js"] = assets::links();
    data["user"] = visitor.user.as_ref().map_or(
        Value::Null,
        |u| json!({ "email": u.email, "name": visitor.name }),
    );
    data["csrf"] = visitor.csrf.clone().into();
    data["staff"] = visitor.staff.into();
    if matches!(name, "connexion" | "inscription") {
        let back = data["retour"].as_str().map(str::to_owned);
        data["oidc_buttons"] = oidc_buttons(state, back.as_deref());
    }
    let html = state.templates.render(&format!("pages/{name}"), &data)?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(html))
}

/// The sign-in buttons of the deployment's OpenID Connect providers (sign-in and sign-up
/// pages), each starting at `/connexion/oidc/<name>`.
fn oidc_buttons(state: &AppState, return_to: Option<&str>) -> Value {
    let query = return_to
        .map(|r| {
            format!(
                "?{}",
                serde_urlencoded::to_string([("retour", r)]).unwrap_or_default()
            )
        })
        .unwrap_or_default();
    state
        .settings
        .oidc
        .iter()
        .map(|p| {
            json!({ "href": format!("/connexion/oidc/{}{query}", p.name), "label": p.label,
                    "psc": p.is_psc(), "name": p.name })
        })
        .collect()
}

/// Runs a page's work, turning a missing sign-in into the sign-in page and any error into
/// an error page.
pub async fn page<F, Fut>(state: web::Data<AppState>, visitor: Visitor, work: F) -> HttpResponse
where
    F: FnOnce(web::Data<AppState>, crate::identity::auth::CurrentUser, Visitor) -> Fut,
    Fut: std::future::Future<Output = Result<HttpResponse, AppError>>,
{
    let Some(user) = visitor.user.clone() else {
        return visitor.sign_in_first();
    };
    let s = state.clone();
    match work(s, user, visitor.clone()).await {
        Ok(response) => response,
        Err(e) => error_page(&state, &visitor, &e),
    }
}

/// A page's answer to an error: the same layout, the problem's words.
pub fn error_page(state: &AppState, visitor: &Visitor, error: &AppError) -> HttpResponse {
    // The API's answer logs the cause and carries Retry-After: the page keeps both.
    let api = actix_web::ResponseError::error_response(error);
    // An unconfirmed account is offered a new link, for the address it signed in with.
    let resend = error
        .is_unconfirmed()
        .then(|| visitor.user.as_ref().map(|u| u.email.clone()))
        .flatten();
    let mut response = problem_page(state, visitor, &error.problem(), resend);
    *response.status_mut() = error.status();
    if let Some(retry) = api.headers().get(header::RETRY_AFTER) {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, retry.clone());
    }
    response
}

/// A problem as a page: its title and detail, each offending field by its French label,
/// a way back.
pub fn problem_page(
    state: &AppState,
    visitor: &Visitor,
    problem: &Problem,
    resend: Option<String>,
) -> HttpResponse {
    let errors: Vec<Value> = problem
        .errors
        .iter()
        .map(|e| json!({ "field": label_of(&e.field), "message": e.message }))
        .collect();
    let back = visitor.back.clone();
    render(
        state,
        visitor,
        "erreur",
        &problem.title,
        json!({ "title": problem.title, "detail": problem.detail, "errors": errors,
                "resend": resend, "back": back,
                "sign_in": visitor.user.is_none().then(|| session::sign_in_then(&visitor.path)) }),
    )
    .unwrap_or_else(|_| HttpResponse::InternalServerError().finish())
}

/// The French label of a request field, for people reading a refusal (the API names
/// fields by their JSON path; a page names them as its form does).
pub fn label_of(field: &str) -> String {
    let base = field.rsplit('.').next().unwrap_or(field);
    let base = base.split('[').next().unwrap_or(base);
    let label = match base {
        "email" => "Adresse e-mail",
        "password" => "Mot de passe",
        "full_name" => "Nom complet",
        "first_name" | "prenom" => "Prénom",
        "last_name" | "nom" => "Nom",
        "profession" => "Profession",
        "mode_exercice" => "Mode d'exercice",
        "rpps" => "Numéro RPPS",
        "adeli" => "Numéro ADELI",
        "student_number" => "Numéro étudiant",
        "enrolment_key" => "Clé d'inscription",
        "title" => "Intitulé",
        "course" => "Formation",
        "opens_on" => "Date d'ouverture",
        "closes_on" => "Date de clôture",
        "capacity" => "Nombre de places",
        "academic_year" => "Année universitaire",
        "dpc_orientation" => "Orientation prioritaire",
        "reason" => "Motif",
        "role" => "Rôle",
        "grade" => "Note",
        "decision" => "Décision",
        "mention" => "Mention",
        "decided_on" => "Date de la délibération",
        "jury" => "Membres du jury",
        "date" | "days" => "Date",
        "csv" | "fichier" => "Fichier",
        "name" => "Nom",
        "siret" => "SIRET",
        "uai" => "UAI",
        "issuer" => "ID de la plateforme",
        "client_id" => "ID du client",
        "deployment_ids" => "ID de déploiement",
        "auth_url" => "URL de demande d'authentification",
        "token_url" => "URL du jeton d'accès",
        "jwks_url" => "URL du jeu de clés",
        "token" | "jeton" => "Lien reçu par courriel",
        "body" => "Contenu envoyé",
        "content-type" => "Type de contenu",
        "answers" | "items" => "Réponses",
        _ => return field.replace('_', " "),
    };
    label.into()
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

/// A form that only carries the session's CSRF token (a button).
#[derive(serde::Deserialize)]
pub struct CsrfForm {
    pub csrf: String,
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
