//! A session's forms for its admins: a new session (only the courses the organisation
//! may run, the DPC references asked of a training body) and a session's changes.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use super::session::Visitor;
use super::{error_page, field_errors, filled, form_again, redirect, render};
use crate::app::AppState;
use crate::db;
use crate::enrolment::model::{CreateSession, NewSession};
use crate::error::AppError;
use crate::identity::model::OrgKind;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/gestion/sessions/{id}/modifier").post(update_session))
        .service(
            web::resource("/gestion/organisations/{id}/sessions/nouvelle")
                .get(new_session_form)
                .post(create_session),
        );
}

async fn new_session_form(
    state: web::Data<AppState>,
    visitor: Visitor,
    path: web::Path<String>,
) -> HttpResponse {
    if visitor.user.is_none() {
        return visitor.sign_in_first();
    }
    new_session_page(
        &state,
        &visitor,
        path.into_inner(),
        json!({}),
        json!({}),
        None,
    )
    .await
    .unwrap_or_else(|e| error_page(&state, &visitor, &e))
}

async fn new_session_page(
    state: &web::Data<AppState>,
    visitor: &Visitor,
    organisation: String,
    form: Value,
    errors: Value,
    problem: Option<String>,
) -> Result<HttpResponse, AppError> {
    let user = visitor
        .user
        .clone()
        .ok_or_else(|| AppError::unauthorized("Connexion requise."))?;
    let org_id = organisation.clone();
    let (org, courses) = db::run(&state.pool, move |conn| {
        let org = crate::identity::auth::require_org_admin(conn, &user, &org_id)?;
        Ok((org, crate::catalog::store::catalogue(conn)?))
    })
    .await?;
    // Only what this organisation may run (a training body is not offered the diploma).
    let courses: Vec<Value> = courses
        .into_iter()
        .filter(|c| crate::enrolment::model::may_run(org.kind, c.kind).is_ok())
        .map(|c| json!({ "slug": c.course_slug, "title": c.title, "selected": form.get("course").and_then(Value::as_str) == Some(c.course_slug.as_str()) }))
        .collect();
    let field = |k: &str| form.get(k).cloned().unwrap_or_else(|| json!(""));
    render(
        state,
        visitor,
        "gestion-nouvelle-session",
        "Nouvelle session",
        json!({
            "organisation": { "id": org.id, "name": org.name, "training_body": org.kind == OrgKind::TrainingBody,
                              "university": org.kind == OrgKind::University || org.kind == OrgKind::Platform },
            "courses": courses, "errors": errors, "problem": problem,
            "form": { "title": field("title"), "opens_on": field("opens_on"), "closes_on": field("closes_on"),
                      "academic_year": field("academic_year"), "dpc_action_ref": field("dpc_action_ref"),
                      "dpc_session_no": field("dpc_session_no"), "dpc_orientation": field("dpc_orientation"),
                      "requires_verified_rpps": form.get("requires_verified_rpps").and_then(Value::as_bool).unwrap_or(false) },
        }),
    )
}

#[derive(Deserialize)]
struct NewSessionForm {
    csrf: String,
    course: String,
    title: String,
    opens_on: String,
    closes_on: String,
    enrolment_mode: String,
    #[serde(default)]
    enrolment_key: String,
    #[serde(default)]
    capacity: String,
    #[serde(default)]
    academic_year: String,
    #[serde(default)]
    dpc_action_ref: String,
    #[serde(default)]
    dpc_session_no: String,
    #[serde(default)]
    dpc_orientation: String,
    /// A checkbox: present when ticked.
    requires_verified_rpps: Option<String>,
}

async fn create_session(
    state: web::Data<AppState>,
    visitor: Visitor,
    path: web::Path<String>,
    form: web::Form<NewSessionForm>,
) -> HttpResponse {
    let organisation = path.into_inner();
    let form = form.into_inner();
    let created = async {
        let user = visitor.for_form(&form.csrf)?.clone();
        let capacity = match filled(&form.capacity) {
            None => None,
            Some(c) => Some(
                c.parse::<i64>()
                    .map_err(|_| AppError::invalid("capacity", "un nombre entier"))?,
            ),
        };
        let new = NewSession::try_from(CreateSession {
            course: Some(form.course.clone()),
            title: Some(form.title.clone()),
            opens_on: Some(form.opens_on.clone()),
            closes_on: Some(form.closes_on.clone()),
            capacity,
            enrolment_mode: Some(form.enrolment_mode.clone()),
            enrolment_key: filled(&form.enrolment_key),
            dpc_action_ref: filled(&form.dpc_action_ref),
            dpc_session_no: filled(&form.dpc_session_no),
            dpc_orientation: filled(&form.dpc_orientation),
            academic_year: filled(&form.academic_year),
            curriculum: None,
            requires_verified_rpps: Some(form.requires_verified_rpps.is_some()),
        })?;
        let org = organisation.clone();
        db::run(&state.pool, move |conn| {
            crate::enrolment::service::create_session(conn, &user, &org, new)
        })
        .await
    }
    .await;
    match created {
        Ok(session) => redirect(&format!("/gestion/sessions/{}", session.id)),
        Err(e) if e.status().is_client_error() => {
            let values = json!({ "course": form.course, "title": form.title, "opens_on": form.opens_on, "closes_on": form.closes_on,
                                 "academic_year": form.academic_year, "dpc_action_ref": form.dpc_action_ref,
                                 "dpc_session_no": form.dpc_session_no, "dpc_orientation": form.dpc_orientation,
                                 "requires_verified_rpps": form.requires_verified_rpps.is_some() });
            let problem = e.problem().detail;
            form_again(
                &state,
                &visitor,
                &e,
                new_session_page(
                    &state,
                    &visitor,
                    organisation,
                    values,
                    field_errors(&e),
                    problem,
                )
                .await,
            )
        }
        Err(e) => error_page(&state, &visitor, &e),
    }
}

#[derive(Deserialize)]
struct UpdateForm {
    csrf: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    closes_on: String,
    /// `fermer`, `rouvrir`, or empty to keep.
    #[serde(default)]
    state: String,
    /// `exiger` (only RPPS verified by Pro Santé Connect), `accepter`, or empty to keep.
    #[serde(default)]
    verified_rpps: String,
}

async fn update_session(
    state: web::Data<AppState>,
    visitor: Visitor,
    path: web::Path<String>,
    form: web::Form<UpdateForm>,
) -> HttpResponse {
    let id = path.into_inner();
    let form = form.into_inner();
    let updated = async {
        let user = visitor.for_form(&form.csrf)?.clone();
        let mut patch = crate::enrolment::service::SessionPatch::default();
        if let Some(title) = filled(&form.title) {
            patch.title = Some(
                crate::enrolment::model::parse_title(&title)
                    .map_err(|m| AppError::invalid("title", m))?,
            );
        }
        if let Some(day) = filled(&form.closes_on) {
            patch.closes_on = Some(
                crate::enrolment::model::parse_date(&day)
                    .map_err(|m| AppError::invalid("closes_on", m))?,
            );
        }
        patch.closed = match form.state.as_str() {
            "fermer" => Some(true),
            "rouvrir" => Some(false),
            _ => None,
        };
        patch.requires_verified_rpps = match form.verified_rpps.as_str() {
            "exiger" => Some(true),
            "accepter" => Some(false),
            _ => None,
        };
        let session = id.clone();
        db::run(&state.pool, move |conn| {
            crate::enrolment::service::update_session(conn, &user, &session, patch)
        })
        .await
    }
    .await;
    match updated {
        Ok((_, stale)) => {
            state.forget(stale);
            redirect(&format!("/gestion/sessions/{id}"))
        }
        Err(e) => error_page(&state, &visitor, &e),
    }
}
