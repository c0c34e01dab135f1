//! Pages for the staff of an organisation: their organisations and sessions, a session's
//! figures, learners table and exports, certificate revocation and re-issue, numbers
//! corrected (the import is in `import`, the session forms in `session_forms`, a DU
//! learner's file in `admin_du`).

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use super::learners::{self, TableQuery};
use super::session::Visitor;
use super::{error_page, redirect, render};
use crate::app::AppState;
use crate::catalog::model::CourseKind;
use crate::certificates::model::Validity;
use crate::certificates::service as certificates;
use crate::db;
use crate::enrolment::numbers;
use crate::enrolment::store as enrolment_store;
use crate::error::AppError;
use crate::fr;
use crate::identity::model::{OrgKind, Role};
use crate::identity::store as identity;
use crate::reports::roster::{self, RosterLine};
use crate::reports::service as reports;
use crate::reports::store as report_store;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/gestion").get(home))
        .service(web::resource("/gestion/sessions/{id}").get(session))
        .configure(super::session_forms::configure)
        .service(web::resource("/gestion/attestations/{id}/revoquer").post(revoke))
        .service(web::resource("/gestion/attestations/{id}/redelivrer").post(reissue))
        .service(web::resource("/gestion/inscriptions/{id}/numeros").post(change_numbers))
        .configure(super::admin_du::configure);
}

async fn home(state: web::Data<AppState>, visitor: Visitor) -> HttpResponse {
    let Some(user) = visitor.user.clone() else {
        return visitor.sign_in_first();
    };
    // Platform admins are told which course files are broken (their last good version is
    // served meanwhile).
    let broken: Vec<Value> = if user.is_platform_admin {
        state
            .broken_courses
            .iter()
            .map(|(slug, problems)| json!({ "slug": slug, "problems": problems }))
            .collect()
    } else {
        Vec::new()
    };
    let loaded = db::run(&state.pool, move |conn| {
        let mut organisations = Vec::new();
        let mine = identity::organisations_of(conn, &user.id)?;
        for (org, role) in mine.into_iter().filter(|(_, r)| *r != Role::Learner) {
            let sessions: Vec<Value> = report_store::sessions_of(conn, &org.id)?
                .into_iter()
                .map(|s| json!({ "id": s.id, "title": s.title, "course": s.course_slug,
                                 "dates": format!("du {} au {}", fr::short_date(s.opens_on), fr::short_date(s.closes_on)) }))
                .collect();
            let admin = role == Role::OrgAdmin;
            organisations.push(json!({ "id": org.id, "name": org.name, "role": role.label(), "admin": admin, "sessions": sessions,
                                       "training_body": org.kind == OrgKind::TrainingBody }));
        }
        Ok(organisations)
    })
    .await;
    match loaded {
        Ok(organisations) => render(
            &state,
            &visitor,
            "gestion",
            "Gestion des formations",
            json!({ "organisations": organisations, "broken_courses": broken }),
        )
        .unwrap_or_else(|e| error_page(&state, &visitor, &e)),
        Err(e) => error_page(&state, &visitor, &e),
    }
}

fn line_view(line: &RosterLine, du: bool) -> Value {
    json!({
        "name": line.name, "email": line.email, "status": line.status, "percent": line.progress_percent,
        "withdrawn": line.status != crate::enrolment::model::EnrolmentStatus::Active,
        "minutes": line.active_seconds / 60, "completed": line.completed_at.map(|d| fr::short_date(fr::paris_day(d))),
        "code": line.certificate_code.as_deref().map(crate::certificates::model::grouped),
        "revoked": line.certificate_status == Some(Validity::Revoked),
        "du_href": du.then(|| format!("/gestion/du/{}", line.enrolment_id)),
        "enrolment": line.enrolment_id, "rpps": line.rpps, "adeli": line.adeli,
    })
}

/// A session's page; `import` carries the last import's report and the CSV typed.
pub(super) async fn session_page(
    state: &web::Data<AppState>,
    visitor: &Visitor,
    session_id: String,
    import: Value,
) -> Result<HttpResponse, AppError> {
    session_page_with(state, visitor, session_id, import, &TableQuery::default()).await
}

/// A session's page with its learners table searched, filtered, sorted and paged.
async fn session_page_with(
    state: &web::Data<AppState>,
    visitor: &Visitor,
    session_id: String,
    import: Value,
    table: &TableQuery,
) -> Result<HttpResponse, AppError> {
    let user = visitor
        .user
        .clone()
        .ok_or_else(|| AppError::unauthorized("Connexion requise."))?;
    let s = state.clone();
    let (session, course, certificates, gains) = db::run(&state.pool, move |conn| {
        let (session, course) = reports::staff_session(conn, &s.courses, &user, &session_id)?;
        let (_, certificates) = certificates::of_session(
            conn,
            &user,
            &session.id,
            crate::identity::auth::require_staff,
        )?;
        let gains =
            crate::quiz::results::session_gain_by_objective(conn, &s.courses, &user, &session.id)?;
        Ok((session, course, certificates, gains))
    })
    .await?;
    let (gains, gain_learners) = gains;
    let gains: Vec<Value> = gains
        .iter()
        .map(|g| json!({ "text": g.text, "pre": fr::percent(g.pre_test), "post": fr::percent(g.post_test), "gain": fr::points(g.gain) }))
        .collect();
    let pool = state.pool.clone();
    let (session_id, c) = (session.id.clone(), course.clone());
    let (lines, figures) = web::block(move || -> anyhow::Result<_> {
        let mut lines = Vec::new();
        roster::for_each_page(&pool, &c, &session_id, |page| {
            lines.extend(page);
            Ok(())
        })?;
        let figures = reports::dashboard(&pool, &c, &session_id, chrono::Utc::now().naive_utc())?;
        Ok((lines, figures))
    })
    .await
    .map_err(|e| AppError::internal(anyhow::anyhow!("{e}")))??;
    let du = course.kind == CourseKind::Du;
    let ids: std::collections::HashMap<String, String> = certificates
        .iter()
        .map(|c| (c.code.clone(), c.id.clone()))
        .collect();
    let (shown, matching, page) = learners::select(&lines, table);
    let learners: Vec<Value> = shown
        .into_iter()
        .map(|l| {
            let mut v = line_view(l, du);
            v["certificate_id"] = l
                .certificate_code
                .as_ref()
                .and_then(|code| ids.get(code))
                .map_or(Value::Null, |id| id.clone().into());
            v
        })
        .collect();
    let api = format!("/api/v1/sessions/{}", session.id);
    render(
        state,
        visitor,
        "gestion-session",
        &session.title.clone(),
        json!({
            "session": { "id": session.id, "title": session.title, "course": course.title,
                         "closes_on": session.closes_on.to_string(), "closes_on_text": fr::date(session.closes_on), "closed": session.closed_at.is_some(),
                         "dpc": session.dpc_action_ref.is_some(), "lms": session.lms_placed,
                         "requires_verified_rpps": session.requires_verified_rpps },
            "figures": figures_view(&figures), "learners": learners, "du": du,
            "gains": gains, "gain_learners": gain_learners,
            "du_grid": du.then(|| format!("/gestion/sessions/{}/diplome", session.id)),
            "table": table_view(&session.id, table, matching, page, lines.len()),
            "quizzes": course.quizzes.iter().filter(|q| q.role != crate::catalog::model::QuizRole::Practice)
                .map(|q| json!({ "title": q.title, "href": format!("/gestion/sessions/{}/quiz/{}", session.id, q.id) }))
                .collect::<Vec<_>>(),
            "exports": [
                { "href": format!("{api}/report.csv?bom=true"), "label": "Liste des inscrits (CSV pour Excel)" },
                { "href": format!("{api}/report.xlsx"), "label": "Liste des inscrits (Excel)" },
                { "href": format!("{api}/certificates.zip"), "label": "Toutes les attestations (ZIP de PDF)" },
            ],
            "import": import,
        }),
    )
}

/// The dashboard's figures as a French reader writes them.
fn figures_view(figures: &roster::Dashboard) -> Value {
    let decimal = fr::number;
    json!({
        "enrolled": figures.enrolled, "withdrawn": figures.withdrawn,
        "active_last_7_days": figures.active_last_7_days, "completed": figures.completed,
        "completion_rate": decimal(figures.completion_rate),
        "median_hours": figures.median_hours_to_completion.map(decimal),
        "average_gain": figures.average_gain.map(fr::points),
    })
}

/// The state of the learners table's form, and the links to its other pages.
fn table_view(session: &str, t: &TableQuery, matching: usize, page: usize, all: usize) -> Value {
    let pages = matching.div_ceil(learners::PAGE).max(1);
    let link = |p: usize| {
        let query = serde_urlencoded::to_string([
            ("q", t.q.as_str()),
            ("statut", t.statut.as_str()),
            ("tri", t.tri.as_str()),
            ("page", &p.to_string()),
        ])
        .unwrap_or_default();
        format!("/gestion/sessions/{session}?{query}#apprenants")
    };
    let option = |value: &str, label: &str, current: &str| json!({ "value": value, "label": label, "selected": value == current });
    json!({
        "q": t.q, "matching": matching, "all": all, "page": page, "pages": pages,
        "previous": (page > 1).then(|| link(page - 1)), "next": (page < pages).then(|| link(page + 1)),
        "statuses": [option("", "Tous", &t.statut), option("en_cours", "En cours", &t.statut),
                     option("termine", "Formation terminée", &t.statut), option("attestation", "Attestation valide", &t.statut),
                     option("retire", "Désinscrits", &t.statut)],
        "sorts": [option("", "Nom", &t.tri), option("progression", "Progression", &t.tri),
                  option("temps", "Temps de formation", &t.tri), option("termine", "Date d'achèvement", &t.tri),
                  option("activite", "Dernière activité", &t.tri)],
    })
}

async fn session(
    state: web::Data<AppState>,
    visitor: Visitor,
    path: web::Path<String>,
    table: web::Query<TableQuery>,
) -> HttpResponse {
    if visitor.user.is_none() {
        return visitor.sign_in_first();
    }
    let empty = json!({ "csv": "", "report": null, "done": false, "problem": null, "errors": [] });
    session_page_with(&state, &visitor, path.into_inner(), empty, &table)
        .await
        .unwrap_or_else(|e| error_page(&state, &visitor, &e))
}

#[derive(Deserialize)]
struct RevokeForm {
    csrf: String,
    reason: String,
    /// Sent by the page; the redirect uses the certificate's own session instead.
    #[allow(dead_code)]
    session: String,
}

async fn revoke(
    state: web::Data<AppState>,
    visitor: Visitor,
    path: web::Path<String>,
    form: web::Form<RevokeForm>,
) -> HttpResponse {
    let id = path.into_inner();
    let RevokeForm { csrf, reason, .. } = form.into_inner();
    let done = async {
        let user = visitor.for_form(&csrf)?.clone();
        let reason = certificates::parse_reason(&reason)?;
        let s = state.clone();
        db::run(&state.pool, move |conn| {
            let revoked = certificates::revoke(conn, &user, &id, &reason)?;
            s.status_lists.clear();
            Ok(revoked.session_id)
        })
        .await
    }
    .await;
    match done {
        // Back to the certificate's own session, not to an address the form names.
        Ok(session) => redirect(&format!("/gestion/sessions/{session}")),
        Err(e) => error_page(&state, &visitor, &e),
    }
}
/// A corrected certificate (after a name or a reference was fixed): the old one revoked
/// with the reason, a new code issued for the same completion.
async fn reissue(
    state: web::Data<AppState>,
    visitor: Visitor,
    path: web::Path<String>,
    form: web::Form<RevokeForm>,
) -> HttpResponse {
    let id = path.into_inner();
    let RevokeForm { csrf, reason, .. } = form.into_inner();
    let done = async {
        let user = visitor.for_form(&csrf)?.clone();
        let reason = certificates::parse_reason(&reason)?;
        let s = state.clone();
        db::run(&state.pool, move |conn| {
            let new = crate::completion::service::reissue(conn, &s.courses, &user, &id, &reason)?;
            s.status_lists.clear();
            Ok(new.session_id)
        })
        .await
    }
    .await;
    match done {
        Ok(session) => redirect(&format!("/gestion/sessions/{session}#apprenants")),
        Err(e) => error_page(&state, &visitor, &e),
    }
}

#[derive(Deserialize)]
struct NumbersForm {
    csrf: String,
    rpps: String,
    adeli: String,
}

/// A DPC learner's RPPS or ADELI number corrected by the session's admin (audited).
async fn change_numbers(
    state: web::Data<AppState>,
    visitor: Visitor,
    path: web::Path<String>,
    form: web::Form<NumbersForm>,
) -> HttpResponse {
    let id = path.into_inner();
    let NumbersForm { csrf, rpps, adeli } = form.into_inner();
    let done = async {
        let user = visitor.for_form(&csrf)?.clone();
        let patch = numbers::NumbersPatch::parse(Some(Some(&rpps)), Some(Some(&adeli)))?;
        db::run(&state.pool, move |conn| {
            numbers::change(conn, &user, &id, patch)?;
            let enrolment = enrolment_store::enrolment(conn, &id)?
                .ok_or_else(|| AppError::not_found("Inscription introuvable."))?;
            Ok(enrolment.session_id)
        })
        .await
    }
    .await;
    match done {
        Ok(session) => redirect(&format!("/gestion/sessions/{session}")),
        Err(e) => error_page(&state, &visitor, &e),
    }
}
