//! An organisation's own page, for its admins: its sessions, the exports a funder or a
//! registrar asks for (DPC declarations, the promotion), its members (add, change a role,
//! remove) and its audit log. Every change goes through the same use cases as the API
//! (`identity::members`), so the rules (an admin always left, confirmed accounts only) and
//! the audit entries are the same.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use super::page;
use super::session::Visitor;
use super::{error_page, filled, form_again, message, redirect, render};
use crate::app::AppState;
use crate::db;
use crate::error::AppError;
use crate::fr;
use crate::identity::auth::{require_org_admin, CurrentUser};
use crate::identity::model::{Email, FullName, OrgKind, Role};
use crate::identity::{members, store};
use crate::reports::store as report_store;

const AUDIT_PAGE: i64 = 100;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/gestion/organisations/{id}").get(organisation))
        .service(web::resource("/gestion/organisations/{id}/membres").post(add_member))
        .service(
            web::resource("/gestion/organisations/{id}/membres/{account}/role").post(change_role),
        )
        .service(
            web::resource("/gestion/organisations/{id}/membres/{account}/retirer")
                .post(remove_member),
        )
        .service(web::resource("/gestion/organisations/{id}/journal").get(audit_log));
}

async fn organisation(
    state: web::Data<AppState>,
    visitor: Visitor,
    path: web::Path<String>,
) -> HttpResponse {
    let id = path.into_inner();
    page(state, visitor, |state, user, visitor| async move {
        organisation_page(&state, &visitor, user, id, None).await
    })
    .await
}

/// The page, with the refusal of a member form above the members when there is one.
async fn organisation_page(
    state: &web::Data<AppState>,
    visitor: &Visitor,
    user: CurrentUser,
    id: String,
    problem: Option<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let me = user.id.clone();
    let (org, sessions, members) = db::run(&state.pool, move |conn| {
        let org = require_org_admin(conn, &user, &id)?;
        let sessions = report_store::sessions_of(conn, &id)?;
        let members = store::members(conn, &id)?;
        Ok((org, sessions, members))
    })
    .await?;
    let sessions: Vec<Value> = sessions
        .iter()
        .map(|s| json!({ "id": s.id, "title": s.title,
                         "dates": format!("du {} au {}", fr::short_date(s.opens_on), fr::short_date(s.closes_on)) }))
        .collect();
    let roles: Vec<Value> = Role::ALL
        .iter()
        .map(|r| json!({ "code": r.code(), "label": r.label() }))
        .collect();
    let members: Vec<Value> = members
        .iter()
        .map(|(m, a)| {
            json!({ "id": a.id, "name": a.full_name, "email": a.email, "role": m.role.label(),
                    "roles": Role::ALL.iter().map(|r| json!({ "code": r.code(), "label": r.label(), "selected": *r == m.role })).collect::<Vec<_>>(),
                    "me": a.id == me, "since": fr::short_date(fr::paris_day(m.created_at)) })
        })
        .collect();
    let api = format!("/api/v1/organisations/{}", org.id);
    let (problem, email) = problem.unzip();
    render(
        state,
        visitor,
        "gestion-organisation",
        &org.name.clone(),
        json!({
            "org": { "id": org.id, "name": org.name, "kind": org.kind.label(),
                     "training_body": org.kind == OrgKind::TrainingBody },
            "sessions": sessions, "members": members, "roles": roles,
            "problem": problem, "email": email.unwrap_or_default(),
            // From pages, CSV files open in French Excel: a byte-order mark and `;`.
            "declarations": format!("{api}/dpc-declarations.csv"),
            "promotion": format!("{api}/promotion.csv"),
        }),
    )
}

#[derive(Deserialize)]
struct AddForm {
    csrf: String,
    email: String,
    role: String,
    /// Only for someone without an account, who is then invited.
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
}

async fn add_member(
    state: web::Data<AppState>,
    visitor: Visitor,
    path: web::Path<String>,
    form: web::Form<AddForm>,
) -> HttpResponse {
    let id = path.into_inner();
    let form = form.into_inner();
    let user = match visitor.for_form(&form.csrf) {
        Ok(user) => user.clone(),
        Err(e) => return error_page(&state, &visitor, &e),
    };
    let (org, by) = (id.clone(), user.clone());
    let typed = form.email.clone();
    let s = state.clone();
    let done = async move {
        let email = Email::parse(&typed).map_err(|m| AppError::invalid("email", m))?;
        let role = Role::parse(&form.role).map_err(|m| AppError::invalid("role", m))?;
        let names = match (filled(&form.first_name), filled(&form.last_name)) {
            (Some(first), Some(last)) => Some((
                FullName::parse(&first).map_err(|m| AppError::invalid("first_name", m))?,
                FullName::parse(&last).map_err(|m| AppError::invalid("last_name", m))?,
            )),
            _ => None,
        };
        let public_url = s.settings.public_url.clone();
        let invitee = members::Invitee { email, names, role };
        let (_, _, stale) = db::run(&s.pool, move |conn| {
            members::add_or_invite(conn, &by, &org, invitee, &public_url)
        })
        .await?;
        if let Some(stale) = stale {
            s.forget(stale);
        }
        Ok(())
    };
    changed(&state, &visitor, user, id, done.await, form.email).await
}

/// A refusal in words: the detail, or each field's message after its French label.
fn message_of(e: &AppError) -> String {
    let fields: Vec<String> = e
        .errors()
        .iter()
        .map(|f| format!("{} : {}", super::label_of(&f.field), f.message))
        .collect();
    if fields.is_empty() {
        message(e)
    } else {
        fields.join(" ; ")
    }
}

#[derive(Deserialize)]
struct RoleForm {
    csrf: String,
    role: String,
}

async fn change_role(
    state: web::Data<AppState>,
    visitor: Visitor,
    path: web::Path<(String, String)>,
    form: web::Form<RoleForm>,
) -> HttpResponse {
    let (id, account) = path.into_inner();
    let form = form.into_inner();
    let user = match visitor.for_form(&form.csrf) {
        Ok(user) => user.clone(),
        Err(e) => return error_page(&state, &visitor, &e),
    };
    let (org, by) = (id.clone(), user.clone());
    let s = state.clone();
    let done = async move {
        let role = Role::parse(&form.role).map_err(|m| AppError::invalid("role", m))?;
        db::run(&s.pool, move |conn| {
            members::change_role(conn, &by, &org, &account, role)
        })
        .await
    };
    changed(&state, &visitor, user, id, done.await, String::new()).await
}

async fn remove_member(
    state: web::Data<AppState>,
    visitor: Visitor,
    path: web::Path<(String, String)>,
    form: web::Form<super::CsrfForm>,
) -> HttpResponse {
    let (id, account) = path.into_inner();
    let user = match visitor.for_form(&form.csrf) {
        Ok(user) => user.clone(),
        Err(e) => return error_page(&state, &visitor, &e),
    };
    let (org, by) = (id.clone(), user.clone());
    let done = db::run(&state.pool, move |conn| {
        members::remove_member(conn, &by, &org, &account)
    })
    .await;
    changed(&state, &visitor, user, id, done, String::new()).await
}

/// Back to the members after a change, or the page again with the refusal above them (and
/// what was typed kept).
async fn changed(
    state: &web::Data<AppState>,
    visitor: &Visitor,
    user: CurrentUser,
    id: String,
    done: Result<(), AppError>,
    typed: String,
) -> HttpResponse {
    match done {
        Ok(()) => redirect(&format!("/gestion/organisations/{id}#membres")),
        Err(e) if e.status().is_client_error() => {
            let page =
                organisation_page(state, visitor, user, id, Some((message_of(&e), typed))).await;
            form_again(state, visitor, &e, page)
        }
        Err(e) => error_page(state, visitor, &e),
    }
}

#[derive(Deserialize)]
struct AuditQuery {
    #[serde(default)]
    page: Option<i64>,
}

/// Who did what, newest first, a hundred entries a page; people by name, actions in words.
async fn audit_log(
    state: web::Data<AppState>,
    visitor: Visitor,
    path: web::Path<String>,
    query: web::Query<AuditQuery>,
) -> HttpResponse {
    let id = path.into_inner();
    let page_no = query.page.unwrap_or(1).max(1);
    page(state, visitor, |state, user, visitor| async move {
        let offset = (page_no - 1) * AUDIT_PAGE;
        let (org, entries, total, names) = db::run(&state.pool, move |conn| {
            let org = require_org_admin(conn, &user, &id)?;
            let (entries, total) = store::audit_page(conn, &id, AUDIT_PAGE, offset)?;
            let ids: Vec<String> = entries
                .iter()
                .flat_map(|e| [e.actor_id.clone(), e.target_id.clone()])
                .flatten()
                .collect();
            let names = store::names_of(conn, &ids)?;
            Ok((org, entries, total, names))
        })
        .await?;
        let who = |id: &Option<String>| {
            id.as_ref()
                .map(|id| names.get(id).cloned().unwrap_or_else(|| id.clone()))
        };
        let rows: Vec<Value> = entries
            .iter()
            .map(|e| {
                json!({ "at": fr::date_time(e.at), "actor": who(&e.actor_id),
                        "action": action_label(&e.action), "target": who(&e.target_id),
                        "details": if e.details == "{}" { String::new() } else { e.details.clone() } })
            })
            .collect();
        let pages = (total + AUDIT_PAGE - 1) / AUDIT_PAGE;
        let base = format!("/gestion/organisations/{}/journal", org.id);
        render(
            &state,
            &visitor,
            "gestion-journal",
            &format!("Journal — {}", org.name),
            json!({ "org": { "id": org.id, "name": org.name }, "entries": rows, "total": total,
                    "page": page_no, "pages": pages.max(1),
                    "previous": (page_no > 1).then(|| format!("{base}?page={}", page_no - 1)),
                    "next": (page_no < pages).then(|| format!("{base}?page={}", page_no + 1)) }),
        )
    })
    .await
}

/// An audit action in words (an unknown one is shown as recorded).
fn action_label(action: &str) -> &str {
    match action {
        "account.disabled" => "Compte désactivé",
        "account.erased" => "Compte effacé",
        "account.password_reset" => "Mot de passe changé",
        "account.professional_number_changed" => "Numéro professionnel corrigé",
        "certificate.reissue" => "Attestation délivrée à nouveau",
        "certificate.revoke" => "Attestation révoquée",
        "du.attendance" => "Présence au séminaire enregistrée",
        "du.cohort" => "Cohorte du diplôme modifiée",
        "du.decision" => "Décision du jury enregistrée",
        "du.grade" => "Note enregistrée",
        "du.minutes_closed" => "Procès-verbal clos",
        "du.record" => "Relevé numéroté délivré",
        "du.thesis" => "Mémoire enregistré",
        "enrolment.created" => "Inscription",
        "enrolment.imported" => "Inscriptions importées",
        "enrolment.withdrawn" => "Désinscription",
        "membership.added" => "Membre ajouté",
        "membership.invited" => "Membre invité par courriel",
        "account.password_changed" => "Mot de passe changé",
        "account.email_changed" => "Adresse e-mail changée",
        "membership.removed" => "Membre retiré",
        "membership.role_changed" => "Rôle modifié",
        "organisation.created" => "Organisation créée",
        "organisation.resources_updated" => "Ressources locales modifiées",
        "session.created" => "Session créée",
        "session.updated" => "Session modifiée",
        other => other,
    }
}
