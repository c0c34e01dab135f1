//! The admins' page of their organisation's local resources (« Ressources locales »): every
//! field of the catalogue, grouped, with the national default each falls back to.

use std::collections::BTreeMap;

use actix_web::{web, HttpResponse};
use serde_json::{json, Value};

use super::page;
use super::session::Visitor;
use super::{error_page, form_again, redirect, render};
use crate::app::AppState;
use crate::db;
use crate::error::AppError;
use crate::identity::auth::{require_org_admin, CurrentUser};
use crate::resources::fields;
use crate::resources::service::{self, ResourceView};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/gestion/organisations/{id}/ressources")
            .get(show)
            .post(save),
    );
}

/// The page: the fields by group, each with what the organisation entered (or, after a
/// refused save, what was typed) and the error naming it.
async fn form_page(
    state: &AppState,
    visitor: &Visitor,
    user: CurrentUser,
    organisation: String,
    typed: Option<(BTreeMap<String, String>, &AppError)>,
    saved: bool,
) -> Result<HttpResponse, AppError> {
    let org = organisation.clone();
    let (name, views) = db::run(&state.pool, move |conn| {
        let org = require_org_admin(conn, &user, &org)?;
        Ok((org.name, service::list(conn, &user, &org.id)?))
    })
    .await?;
    let errors: BTreeMap<String, String> = typed
        .as_ref()
        .map(|(_, e)| {
            e.errors()
                .iter()
                .map(|f| {
                    (
                        f.field.trim_start_matches("values.").to_owned(),
                        f.message.clone(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let mut groups: Vec<(String, Vec<Value>)> = Vec::new();
    for v in views {
        let ResourceView {
            key,
            group,
            label,
            help,
            value,
            national_default,
            ..
        } = v;
        let shown = typed
            .as_ref()
            .and_then(|(t, _)| t.get(&key).cloned())
            .or(value)
            .unwrap_or_default();
        let field = json!({ "key": key, "label": label, "help": help, "value": shown,
                            "default": national_default, "error": errors.get(&key) });
        match groups.iter_mut().find(|(g, _)| *g == group) {
            Some((_, fields)) => fields.push(field),
            None => groups.push((group, vec![field])),
        }
    }
    let groups: Vec<Value> = groups
        .into_iter()
        .map(|(name, fields)| json!({ "name": name, "fields": fields }))
        .collect();
    render(
        state,
        visitor,
        "gestion-ressources",
        "Ressources locales",
        json!({ "organisation": { "id": organisation, "name": name }, "groups": groups,
                "max": fields::MAX_VALUE_CHARS, "saved": saved, "problem": typed.map(|(_, e)| e.problem().detail) }),
    )
}

async fn show(
    state: web::Data<AppState>,
    visitor: Visitor,
    path: web::Path<String>,
    query: web::Query<BTreeMap<String, String>>,
) -> HttpResponse {
    let organisation = path.into_inner();
    let saved = query.contains_key("enregistre");
    page(state, visitor, |state, user, visitor| async move {
        form_page(&state, &visitor, user, organisation, None, saved).await
    })
    .await
}

async fn save(
    state: web::Data<AppState>,
    visitor: Visitor,
    path: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
) -> HttpResponse {
    let organisation = path.into_inner();
    let mut typed: BTreeMap<String, String> = form.into_inner().into_iter().collect();
    let csrf = typed.remove("csrf").unwrap_or_default();
    let user = match visitor.for_form(&csrf) {
        Ok(user) => user.clone(),
        Err(e) => return error_page(&state, &visitor, &e),
    };
    // Every field is on the form: an empty one is cleared, as the page says.
    let changes = service::parse_changes(
        typed
            .iter()
            .map(|(k, v)| (k.clone(), Some(v.clone())))
            .collect(),
    );
    let saved = match changes {
        Ok(changes) => {
            let (u, o) = (user.clone(), organisation.clone());
            db::run(&state.pool, move |conn| {
                service::update(conn, &u, &o, changes)
            })
            .await
            .map(|_| ())
        }
        Err(e) => Err(e),
    };
    match saved {
        Ok(()) => redirect(&format!(
            "/gestion/organisations/{organisation}/ressources?enregistre=1"
        )),
        Err(e) if e.status().is_client_error() && !e.errors().is_empty() => {
            let again = form_page(
                &state,
                &visitor,
                user,
                organisation,
                Some((typed, &e)),
                false,
            )
            .await;
            form_again(&state, &visitor, &e, again)
        }
        Err(e) => error_page(&state, &visitor, &e),
    }
}
