//! « Mon compte »: what the platform holds about the person and what they may change
//! themselves (name, profession, mode d'exercice, numbers, e-mail address, password), their
//! DPC record when their profession has the obligation, their data export, and erasing
//! the account. Each form's refusal is shown above that form, what was typed kept.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use super::page;
use super::session::{sign_in_after, Visitor};
use super::{error_page, form_again, message, redirect, render};
use crate::app::AppState;
use crate::db;
use crate::error::AppError;
use crate::fr;
use crate::http::Fields;
use crate::identity::auth::CurrentUser;
use crate::identity::credentials;
use crate::identity::model::{Adeli, Email, ModeExercice, Password, Profession, Rpps};
use crate::identity::routes::me::{apply, UpdateMe};
use crate::identity::service as identity_service;
use crate::identity::store as identity_store;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/mon-compte").get(account_page))
        .service(web::resource("/mon-compte/profil").post(change_profile))
        .service(web::resource("/mon-compte/adresse").post(change_email))
        .service(web::resource("/mon-compte/mot-de-passe").post(change_password))
        .service(web::resource("/mon-compte/numeros").post(change_numbers))
        .service(web::resource("/mon-compte/supprimer").post(erase));
}

/// Professions without the DPC obligation: the record would only confuse them.
fn has_dpc_obligation(profession: &str) -> bool {
    !matches!(profession, "etudiant" | "autre")
}

/// A form's refusal: which form, its message and its fields, and what was typed.
#[derive(Default)]
struct Refusal {
    form: &'static str,
    problem: String,
    errors: Value,
    typed: Value,
}

impl Refusal {
    fn of(form: &'static str, e: &AppError, typed: Value) -> Self {
        Self {
            form,
            problem: message(e),
            errors: super::field_errors(e),
            typed,
        }
    }
}

/// What the account page shows, with a form's refusal above that form when there is one.
/// The deployment's providers, each linked to the account or not; unlinking is offered
/// while something else remains to sign in with.
fn identities(
    state: &AppState,
    account: &identity_store::Account,
    linked: &[identity_store::LinkedIdentity],
) -> Value {
    let others = |name: &str| linked.iter().filter(|l| l.provider != name).count();
    state
        .settings
        .oidc
        .iter()
        .map(|p| {
            let link = linked.iter().find(|l| l.provider == p.name);
            json!({
                "name": p.name, "label": p.label, "psc": p.is_psc(),
                "linked": link.is_some(),
                "linked_on": link.map(|l| fr::date(l.linked_at.date())),
                "rpps": link.and_then(|l| l.rpps.clone()),
                "may_unlink": link.is_some() && (!account.password_hash.is_empty() || others(&p.name) > 0),
            })
        })
        .collect()
}

async fn account_data(
    state: &AppState,
    user: CurrentUser,
    refusal: Option<Refusal>,
) -> Result<Value, AppError> {
    let day = fr::paris_day(chrono::Utc::now().naive_utc());
    let (dpc, account, linked) = db::run(&state.pool, move |conn| {
        let account = identity_store::account(conn, &user.id)?;
        let linked = identity_store::provider_identities_of(conn, &user.id)?;
        let dpc = if has_dpc_obligation(&account.profession) {
            crate::reports::service::my_dpc(conn, &user, day).ok()
        } else {
            None
        };
        Ok((dpc, account, linked))
    })
    .await?;
    let identities = identities(state, &account, &linked);
    let rpps_verified = linked
        .iter()
        .any(|l| l.rpps.is_some() && l.rpps == account.rpps);
    let dpc = dpc.map(|d| {
        let period = crate::reports::dpc::period_of(day);
        let extended = period.filter(|p| p.extended_to.is_some()).map(|p| fr::date(p.last_day()));
        json!({
            "period": d.period, "extended_to": extended, "obligation_met": d.obligation_met,
            "hours": fr::hours(d.hours), "count": d.actions.len(),
            "actions": d.actions.iter().map(|a| json!({ "title": a.course_title, "organisation": a.organisation,
                "completed_on": fr::date(a.completed_on), "hours": fr::hours(a.hours) })).collect::<Vec<_>>(),
        })
    });
    let refusal = refusal.unwrap_or_default();
    let typed = |k: &str| refusal.typed.get(k).cloned();
    let option = |value: &str, label: &str, current: &str| json!({ "value": value, "label": label, "selected": value == current });
    let profession = typed("profession")
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or(account.profession.clone());
    let mode = typed("mode_exercice")
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or(account.mode_exercice.clone().unwrap_or_default());
    Ok(json!({
        "dpc": dpc, "dpc_obligation": has_dpc_obligation(&account.profession),
        "refusal": { "form": refusal.form, "problem": refusal.problem }, "errors": refusal.errors,
        "profile": {
            // Accounts made before names were kept apart: the whole name as the last name,
            // for the person to split.
            "first_name": typed("first_name").unwrap_or_else(|| account.first_name.clone().unwrap_or_default().into()),
            "last_name": typed("last_name").unwrap_or_else(|| account.last_name.clone().unwrap_or_else(|| account.full_name.clone()).into()),
            "student_number": typed("student_number").unwrap_or_else(|| account.student_number.clone().unwrap_or_default().into()),
            "professions": Profession::ALL.iter().map(|p| option(p.code(), p.label(), &profession)).collect::<Vec<_>>(),
            "modes": std::iter::once(option("", "Non précisé", &mode))
                .chain(ModeExercice::ALL.iter().map(|m| option(m.code(), m.label(), &mode))).collect::<Vec<_>>(),
        },
        "email": typed("email").unwrap_or_else(|| account.email.clone().into()),
        "unconfirmed": account.email_verified_at.is_none(),
        "numbers": { "rpps": account.rpps, "adeli": account.adeli, "rpps_verified": rpps_verified },
        "identities": identities,
    }))
}

/// My account.
async fn account_page(
    state: web::Data<AppState>,
    visitor: Visitor,
    query: web::Query<std::collections::HashMap<String, String>>,
) -> HttpResponse {
    let saved = query.get("enregistre").cloned();
    page(state, visitor, |state, user, visitor| async move {
        let mut data = account_data(&state, user, None).await?;
        data["saved"] = match saved.as_deref() {
            Some("profil") => "Profil enregistré.".into(),
            Some("adresse") => "Adresse enregistrée : ouvrez le lien envoyé à la nouvelle adresse pour la confirmer.".into(),
            Some("mot-de-passe") => "Mot de passe changé : vos autres sessions sont fermées.".into(),
            Some("numeros") => "Numéros enregistrés.".into(),
            _ => Value::Null,
        };
        render(&state, &visitor, "mon-compte", "Mon compte", data)
    })
    .await
}

/// The page again after a refused form.
async fn refused(
    state: &web::Data<AppState>,
    visitor: &Visitor,
    e: AppError,
    form: &'static str,
    typed: Value,
) -> HttpResponse {
    match visitor.user.clone() {
        Some(user) if e.status().is_client_error() => {
            let page = account_data(state, user, Some(Refusal::of(form, &e, typed)))
                .await
                .and_then(|data| render(state, visitor, "mon-compte", "Mon compte", data));
            form_again(state, visitor, &e, page)
        }
        _ => error_page(state, visitor, &e),
    }
}

#[derive(Deserialize)]
struct ProfileForm {
    csrf: String,
    first_name: String,
    last_name: String,
    profession: String,
    #[serde(default)]
    mode_exercice: String,
    #[serde(default)]
    student_number: String,
}

async fn change_profile(
    state: web::Data<AppState>,
    visitor: Visitor,
    form: web::Form<ProfileForm>,
) -> HttpResponse {
    let form = form.into_inner();
    let typed = json!({ "first_name": form.first_name, "last_name": form.last_name, "profession": form.profession,
                        "mode_exercice": form.mode_exercice, "student_number": form.student_number });
    let done = async {
        let user = visitor.for_form(&form.csrf)?.clone();
        let patch = UpdateMe {
            first_name: Some(form.first_name.clone()),
            last_name: Some(form.last_name.clone()),
            profession: Some(form.profession.clone()),
            student_number: Some(Some(form.student_number.clone())),
            mode_exercice: Some(Some(form.mode_exercice.clone())),
            ..UpdateMe::default()
        };
        db::run(&state.pool, move |conn| {
            identity_service::update_own_profile(conn, &user.id, |a| apply(patch, a)).map(drop)
        })
        .await
    }
    .await;
    match done {
        Ok(()) => redirect("/mon-compte?enregistre=profil"),
        Err(e) => refused(&state, &visitor, e, "profil", typed).await,
    }
}

#[derive(Deserialize)]
struct EmailForm {
    csrf: String,
    email: String,
    current_password: String,
}

async fn change_email(
    state: web::Data<AppState>,
    visitor: Visitor,
    req: HttpRequest,
    form: web::Form<EmailForm>,
) -> HttpResponse {
    let form = form.into_inner();
    let typed = json!({ "email": form.email });
    let ip = crate::http::client_ip(&req).to_string();
    let done = async {
        let user = visitor.for_form(&form.csrf)?.clone();
        let email = Email::parse(&form.email).map_err(|m| AppError::invalid("email", m))?;
        let s = state.clone();
        let current = form.current_password.clone();
        let stale = db::run(&state.pool, move |conn| {
            credentials::change_email(
                conn,
                &s.settings.identity,
                &s.settings.public_url,
                &user.id,
                &current,
                &email,
                &ip,
            )
        })
        .await?;
        state.forget(stale);
        Ok::<(), AppError>(())
    }
    .await;
    match done {
        Ok(()) => redirect("/mon-compte?enregistre=adresse"),
        Err(e) => refused(&state, &visitor, e, "adresse", typed).await,
    }
}

#[derive(Deserialize)]
struct PasswordForm {
    csrf: String,
    current_password: String,
    password: String,
}

async fn change_password(
    state: web::Data<AppState>,
    visitor: Visitor,
    req: HttpRequest,
    form: web::Form<PasswordForm>,
) -> HttpResponse {
    let form = form.into_inner();
    let ip = crate::http::client_ip(&req).to_string();
    let done = async {
        let user = visitor.for_form(&form.csrf)?.clone();
        let new = Password::parse(&form.password).map_err(|m| AppError::invalid("password", m))?;
        let s = state.clone();
        let current = form.current_password.clone();
        let set = db::run(&state.pool, move |conn| {
            credentials::change_password(conn, &s.settings.identity, &user.id, &current, &new, &ip)
        })
        .await?;
        // Every session ended with the old password; this browser goes on with the new one.
        sign_in_after(&state, set, "/mon-compte?enregistre=mot-de-passe")
    }
    .await;
    match done {
        Ok(page) => page,
        Err(e) => refused(&state, &visitor, e, "mot-de-passe", json!({})).await,
    }
}

#[derive(Deserialize)]
struct NumbersForm {
    csrf: String,
    rpps: String,
    adeli: String,
}

/// The learner's own RPPS and ADELI numbers (empty clears one): refused when another
/// account holds it, or once a DPC certificate attests it.
async fn change_numbers(
    state: web::Data<AppState>,
    visitor: Visitor,
    form: web::Form<NumbersForm>,
) -> HttpResponse {
    let NumbersForm { csrf, rpps, adeli } = form.into_inner();
    let done = async {
        let user = visitor.for_form(&csrf)?.clone();
        db::run(&state.pool, move |conn| {
            identity_service::update_own_profile(conn, &user.id, |account| {
                let mut f = Fields::new();
                let rpps_parsed = f.optional("rpps", Some(&rpps), Rpps::parse);
                let adeli_parsed = f.optional("adeli", Some(&adeli), Adeli::parse);
                f.finish()?;
                account.rpps = rpps_parsed.map(|r| r.as_str().to_owned());
                account.adeli = adeli_parsed.map(|a| a.as_str().to_owned());
                Ok(())
            })
        })
        .await
    }
    .await;
    match done {
        Ok(_) => redirect("/mon-compte?enregistre=numeros"),
        Err(e) => refused(&state, &visitor, e, "numeros", json!({})).await,
    }
}

#[derive(Deserialize)]
struct EraseForm {
    csrf: String,
    password: String,
}

async fn erase(
    state: web::Data<AppState>,
    visitor: Visitor,
    form: web::Form<EraseForm>,
) -> HttpResponse {
    let EraseForm { csrf, password } = form.into_inner();
    let done = async {
        let user = visitor.for_form(&csrf)?.clone();
        let stale = db::run(&state.pool, move |conn| {
            crate::identity::service::erase(conn, &user.id, &password)
        })
        .await?;
        state.forget(stale);
        Ok::<(), AppError>(())
    }
    .await;
    match done {
        Ok(()) => {
            super::session::sign_out(&state).unwrap_or_else(|e| error_page(&state, &visitor, &e))
        }
        Err(e) => refused(&state, &visitor, e, "supprimer", json!({})).await,
    }
}
