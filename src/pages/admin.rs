//! Pages for the staff of an organisation: their sessions, a session's learners with
//! progress and exports, the CSV import with its dry run shown first, and certificate
//! revocation (a DU learner's file is in `admin_du`).

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use super::learners::{self, TableQuery};
use super::session::Visitor;
use super::{error_page, field_errors, filled, form_again, message, redirect, render};
use crate::app::AppState;
use crate::catalog::model::CourseKind;
use crate::certificates::model::Validity;
use crate::certificates::service as certificates;
use crate::db;
use crate::enrolment::model::{CreateSession, NewSession};
use crate::enrolment::store as enrolment_store;
use crate::enrolment::{import, numbers};
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
        .service(web::resource("/gestion/sessions/{id}/import").post(import_csv))
        .service(web::resource("/gestion/sessions/{id}/modifier").post(update_session))
        .service(
            web::resource("/gestion/organisations/{id}/sessions/nouvelle")
                .get(new_session_form)
                .post(create_session),
        )
        .service(web::resource("/gestion/attestations/{id}/revoquer").post(revoke))
        .service(web::resource("/gestion/attestations/{id}/redelivrer").post(reissue))
        .service(web::resource("/gestion/inscriptions/{id}/numeros").post(change_numbers))
        .configure(super::admin_du::configure);
}

async fn home(state: web::Data<AppState>, visitor: Visitor) -> HttpResponse {
    let Some(user) = visitor.user.clone() else {
        return visitor.sign_in_first();
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
            json!({ "organisations": organisations }),
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
async fn session_page(
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
                         "dpc": session.dpc_action_ref.is_some() },
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

/// The largest file the import form takes: a promotion of 10,000 learners is about 1 MB.
const IMPORT_FILE_LIMIT: usize = 2 * 1024 * 1024;

/// The import form (`multipart/form-data`): « Vérifier » checks the file chosen (or the
/// text pasted) and, when no row is wrong, sends back its decoded text in a hidden field;
/// « Importer » imports that text, so exactly what was checked, as the browser cannot
/// send the file again.
async fn import_csv(
    state: web::Data<AppState>,
    visitor: Visitor,
    path: web::Path<String>,
    multipart: actix_multipart::Multipart,
) -> HttpResponse {
    let session_id = path.into_inner();
    let mut pasted = String::new();
    let mut file_name = String::new();
    let mut checked = String::new();
    let outcome = async {
        // Nobody signed in: refused before the body is read.
        if visitor.user.is_none() {
            return Err(AppError::unauthorized("Connexion requise."));
        }
        let form = super::upload::read(multipart, IMPORT_FILE_LIMIT).await?;
        let user = visitor.for_form(form.field("csrf"))?.clone();
        pasted = form.field("contenu").to_owned();
        let dry_run = form.field("action") != "importer";
        let text = if !dry_run {
            form.field("verifie").to_owned()
        } else if let Some(file) = form.file("fichier") {
            file_name = file.name.clone();
            import::decode(&file.bytes)?.into_owned()
        } else {
            pasted.clone()
        };
        if text.trim().is_empty() {
            return Err(AppError::invalid(
                import::FILE_FIELD,
                if dry_run {
                    "choisissez un fichier CSV (ou collez son contenu)"
                } else {
                    "vérifiez d'abord le fichier"
                },
            )
            .with_detail("Rien n'a été importé."));
        }
        let rows = import::read_text(&text)
            .map_err(|e| e.with_detail("Le fichier ne peut pas être lu."))?;
        let (id, public_url) = (session_id.clone(), state.settings.public_url.clone());
        let (report, stale) = db::run(&state.pool, move |conn| {
            import::run(conn, &user, &id, rows, dry_run, &public_url)
        })
        .await?;
        for stale in stale {
            state.forget(stale);
        }
        if report.dry_run && report.errors == 0 {
            checked = text;
        }
        Ok::<_, AppError>(report)
    }
    .await;
    let import = match outcome {
        Ok(report) => {
            let mut report = json!(report);
            for row in report["report"].as_array_mut().into_iter().flatten() {
                french_fields(&mut row["errors"]);
            }
            json!({ "csv": if report["dry_run"] == true { pasted } else { String::new() },
                    "checked": checked, "file_name": file_name,
                    "report": report, "done": report["dry_run"] == false, "problem": null, "errors": [] })
        }
        Err(e) if e.status().is_client_error() => {
            let mut errors = json!(e.problem().errors);
            french_fields(&mut errors);
            json!({ "csv": pasted, "checked": "", "report": null, "done": false,
                    "problem": message(&e), "errors": errors })
        }
        Err(e) => return error_page(&state, &visitor, &e),
    };
    session_page(&state, &visitor, session_id, import)
        .await
        .unwrap_or_else(|e| error_page(&state, &visitor, &e))
}

/// The import's field names as the page shows them: « Fichier », « Ligne 7, Prénom ».
fn french_fields(errors: &mut Value) {
    for error in errors.as_array_mut().into_iter().flatten() {
        let Some(field) = error["field"].as_str() else {
            continue;
        };
        let (line, field) = match field.strip_prefix("rows[").and_then(|f| f.split_once("].")) {
            Some((line, field)) => (Some(line), field),
            None => (None, field),
        };
        let name = match field {
            import::FILE_FIELD | "body" => "Fichier",
            "email" => "E-mail",
            "nom" => "Nom",
            "prenom" => "Prénom",
            "numero_etudiant" => "Numéro étudiant",
            "profession" => "Profession",
            "rpps" => "RPPS",
            "adeli" => "ADELI",
            "formulaire" => "Formulaire",
            other => other,
        };
        error["field"] = match line {
            Some(line) => format!("Ligne {line}, {name}"),
            None => name.to_owned(),
        }
        .into();
    }
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
                      "dpc_session_no": field("dpc_session_no"), "dpc_orientation": field("dpc_orientation") },
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
                                 "dpc_session_no": form.dpc_session_no, "dpc_orientation": form.dpc_orientation });
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
