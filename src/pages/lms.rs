//! The organisation's learning platforms (LTI 1.3), for its admins: the addresses to
//! paste into the LMS, the registered platforms with the grades they have not taken yet,
//! and the forms to register or remove one (the same use cases as the API, `lti::platforms`).

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::page;
use super::session::Visitor;
use super::{error_page, field_errors, form_again, message, redirect, render, CsrfForm};
use crate::app::AppState;
use crate::db;
use crate::error::AppError;
use crate::identity::auth::{require_org_admin, CurrentUser};
use crate::lti::model::ToolConfiguration;
use crate::lti::model::{NewPlatform, RegisterPlatform};
use crate::lti::platforms;
use crate::lti::registration::RegistrationUrl;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/gestion/organisations/{id}/lms")
            .get(platforms_page)
            .post(register),
    )
    .service(web::resource("/gestion/organisations/{id}/lms/{platform}/retirer").post(remove))
    .service(web::resource("/gestion/sessions/{id}/liste-plateforme").post(roster))
    .service(web::resource("/gestion/organisations/{id}/lms/adresse").post(registration_address));
}

/// A dynamic registration address, shown on the page (once: only its hash is kept).
async fn registration_address(
    state: web::Data<AppState>,
    visitor: Visitor,
    path: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    let id = path.into_inner();
    let user = match visitor.for_form(&form.csrf) {
        Ok(user) => user.clone(),
        Err(e) => return error_page(&state, &visitor, &e),
    };
    let (org, by, public_url) = (id.clone(), user.clone(), state.settings.public_url.clone());
    let done = async {
        let url = db::run(&state.pool, move |conn| {
            crate::lti::registration::invite(conn, &by, &org, &public_url)
        })
        .await?;
        let empty = json!({ "name": "", "issuer": "", "client_id": "", "deployment_ids": "",
                            "auth_url": "", "token_url": "", "jwks_url": "" });
        show(&state, &visitor, user, id, None, empty, Some(url)).await
    };
    done.await
        .unwrap_or_else(|e| error_page(&state, &visitor, &e))
}

#[derive(Deserialize)]
struct RosterForm {
    csrf: String,
    /// `verifier` (dry run) or `inscrire`.
    mode: String,
}

/// The LMS course's roster read now: checked first, then brought in (`lti::roster`).
async fn roster(
    state: web::Data<AppState>,
    visitor: Visitor,
    path: web::Path<String>,
    form: web::Form<RosterForm>,
) -> HttpResponse {
    let session = path.into_inner();
    let user = match visitor.for_form(&form.csrf) {
        Ok(user) => user.clone(),
        Err(e) => return error_page(&state, &visitor, &e),
    };
    let dry_run = form.mode != "inscrire";
    let done = crate::lti::roster::sync_session(&state, user, session.clone(), dry_run).await;
    let page = done.and_then(|reports| {
        render(
            &state,
            &visitor,
            "gestion-liste-plateforme",
            "Liste du cours de la plateforme",
            json!({ "session": session, "reports": reports, "dry_run": dry_run }),
        )
    });
    page.unwrap_or_else(|e| error_page(&state, &visitor, &e))
}

async fn platforms_page(
    state: web::Data<AppState>,
    visitor: Visitor,
    path: web::Path<String>,
) -> HttpResponse {
    let id = path.into_inner();
    page(state, visitor, |state, user, visitor| async move {
        let empty = json!({ "name": "", "issuer": "", "client_id": "", "deployment_ids": "",
                            "auth_url": "", "token_url": "", "jwks_url": "" });
        show(&state, &visitor, user, id, None, empty, None).await
    })
    .await
}

/// The page; after a refused registration, with the refusal and what was typed.
async fn show(
    state: &AppState,
    visitor: &Visitor,
    user: CurrentUser,
    id: String,
    refusal: Option<&AppError>,
    typed: serde_json::Value,
    registration: Option<RegistrationUrl>,
) -> Result<HttpResponse, AppError> {
    let (org, listed) = db::run(&state.pool, move |conn| {
        let org = require_org_admin(conn, &user, &id)?;
        let listed = platforms::list(conn, &user, &id)?;
        Ok((org, listed))
    })
    .await?;
    render(
        state,
        visitor,
        "gestion-lms",
        "Plateformes d'apprentissage (LTI)",
        json!({
            "org": { "id": org.id, "name": org.name },
            "tool": ToolConfiguration::of(&state.settings.public_url),
            "platforms": listed,
            "problem": refusal.map(message),
            "errors": refusal.map_or_else(|| json!({}), field_errors),
            "typed": typed,
            "registration": registration.map(|r| json!({
                "url": r.url,
                "until": crate::fr::short_date(crate::fr::paris_day(r.expires_at)),
            })),
        }),
    )
}

#[derive(Deserialize)]
struct RegisterForm {
    csrf: String,
    name: String,
    issuer: String,
    client_id: String,
    /// One per line.
    deployment_ids: String,
    auth_url: String,
    token_url: String,
    jwks_url: String,
}

async fn register(
    state: web::Data<AppState>,
    visitor: Visitor,
    path: web::Path<String>,
    form: web::Form<RegisterForm>,
) -> HttpResponse {
    let id = path.into_inner();
    let form = form.into_inner();
    let user = match visitor.for_form(&form.csrf) {
        Ok(user) => user.clone(),
        Err(e) => return error_page(&state, &visitor, &e),
    };
    let typed = json!({
        "name": form.name, "issuer": form.issuer, "client_id": form.client_id,
        "deployment_ids": form.deployment_ids, "auth_url": form.auth_url,
        "token_url": form.token_url, "jwks_url": form.jwks_url,
    });
    let body = RegisterPlatform {
        name: Some(form.name),
        issuer: Some(form.issuer),
        client_id: Some(form.client_id),
        deployment_ids: Some(vec![form.deployment_ids]),
        auth_url: Some(form.auth_url),
        token_url: Some(form.token_url),
        jwks_url: Some(form.jwks_url),
    };
    let (org, by) = (id.clone(), user.clone());
    let allow_http = !state.settings.https();
    let done = async {
        let new = NewPlatform::parse(body, allow_http)?;
        db::run(&state.pool, move |conn| {
            platforms::register(conn, &by, &org, new)
        })
        .await
    }
    .await;
    match done {
        Ok(_) => redirect(&format!("/gestion/organisations/{id}/lms")),
        Err(e) => {
            let again = show(&state, &visitor, user, id, Some(&e), typed, None).await;
            form_again(&state, &visitor, &e, again)
        }
    }
}

async fn remove(
    state: web::Data<AppState>,
    visitor: Visitor,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    let (id, platform) = path.into_inner();
    let user = match visitor.for_form(&form.csrf) {
        Ok(user) => user.clone(),
        Err(e) => return error_page(&state, &visitor, &e),
    };
    let (org, gone) = (id.clone(), platform.clone());
    let done = db::run(&state.pool, move |conn| {
        platforms::remove(conn, &user, &org, &gone)
    })
    .await;
    match done {
        Ok(()) => {
            state.lti_frames.forget(&platform);
            redirect(&format!("/gestion/organisations/{id}/lms"))
        }
        Err(e) => error_page(&state, &visitor, &e),
    }
}
