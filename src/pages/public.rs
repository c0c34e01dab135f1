//! Pages anyone may see: the catalogue, a course, signing up, confirming the address,
//! signing in and out, resetting a password.

use std::collections::HashMap;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use super::session::{sign_in, sign_in_after, sign_out_everywhere, Visitor};
use super::{error_page, field_errors, filled, form_again, message, render};
use crate::app::AppState;
use crate::catalog::model::CourseOutline;
use crate::catalog::store as catalog;
use crate::db;
use crate::enrolment::model::{EnrolmentMode, EnrolmentStatus};
use crate::enrolment::{service as enrolment_service, store as enrolment_store};
use crate::error::AppError;
use crate::fr::hours;
use crate::identity::model::{
    Email, ModeExercice, NewAccount, Password, Profession, RegisterRequest,
};
use crate::identity::service;
use crate::identity::store as identity_store;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/").get(home))
        .service(web::resource("/formations/{slug}").get(course))
        .service(
            web::resource("/inscription")
                .get(sign_up_form)
                .post(sign_up),
        )
        .service(web::resource("/verifier-email").get(verify_email))
        .service(web::resource("/verifier-email/renvoyer").post(resend_verification))
        .service(
            web::resource("/connexion")
                .get(sign_in_form)
                .post(sign_in_post),
        )
        .service(web::resource("/deconnexion").post(sign_out_post))
        .service(
            web::resource("/mot-de-passe-oublie")
                .get(reset_request_form)
                .post(reset_request),
        )
        .service(
            web::resource("/reinitialiser-mot-de-passe")
                .get(reset_form)
                .post(reset),
        )
        // The link of the invitation a CSV import sends: the same form under the words of
        // a first password (the token is an invitation, which the reset accepts).
        .service(web::resource("/definir-mot-de-passe").get(reset_form));
}

async fn home(state: web::Data<AppState>, visitor: Visitor) -> HttpResponse {
    let rows = db::run(&state.pool, |conn| Ok(catalog::catalogue(conn)?)).await;
    let result = rows.and_then(|rows| {
        let courses: Vec<Value> = rows
            .into_iter()
            .map(|v| {
                json!({
                    "slug": v.course_slug, "title": v.title, "kind": v.kind.label(),
                    "hours": hours(f64::from(v.duration_minutes) / 60.0), "lessons": v.lesson_count,
                })
            })
            .collect();
        render(
            &state,
            &visitor,
            "accueil",
            "QVT Campus — prendre soin de ceux qui nous soignent",
            json!({ "courses": courses }),
        )
    });
    result.unwrap_or_else(|e| error_page(&state, &visitor, &e))
}

async fn course(
    state: web::Data<AppState>,
    visitor: Visitor,
    path: web::Path<String>,
) -> HttpResponse {
    let slug = path.into_inner();
    let account = visitor.user.as_ref().map(|u| u.id.clone());
    let loaded = db::run(&state.pool, move |conn| {
        let version = catalog::current_version(conn, &slug)?;
        let course = version.course()?;
        let sessions =
            enrolment_store::public_sessions(conn, enrolment_service::today(), Some(&course.slug))?;
        let mut runs = Vec::new();
        for session in sessions {
            let organisation = identity_store::organisation(conn, &session.organisation_id)?.name;
            runs.push((session, organisation));
        }
        // The learner's own enrolments in this course: « Continuer », not « S'inscrire ».
        let mine: HashMap<String, (String, EnrolmentStatus)> = match account {
            Some(id) => enrolment_store::enrolments_of_account(conn, &id)?
                .into_iter()
                .map(|(e, s)| (s.id, (e.id, e.status)))
                .collect(),
            None => HashMap::new(),
        };
        Ok((CourseOutline::of(course, version.id), runs, mine))
    })
    .await;
    let result = loaded.and_then(|(outline, sessions, mine)| {
        let sessions: Vec<Value> = sessions
            .iter()
            .map(|(s, organisation)| {
                let enrolment = mine.get(&s.id);
                json!({
                    "id": s.id, "title": s.title, "organisation": organisation,
                    "opens_on": crate::fr::short_date(s.opens_on),
                    "closes_on": crate::fr::short_date(s.closes_on),
                    "needs_key": s.enrolment_mode == EnrolmentMode::Key,
                    "seats_left": s.capacity.map(|c| (c - s.active_count).max(0)),
                    "full": s.capacity.is_some_and(|c| s.active_count >= c),
                    "enrolled": enrolment.filter(|(_, st)| *st == EnrolmentStatus::Active)
                        .map(|(id, _)| format!("/apprendre/{id}")),
                    "withdrawn": enrolment.is_some_and(|(_, st)| *st != EnrolmentStatus::Active),
                })
            })
            .collect();
        // The DPC programme sheet, in words: type, modality, professions, last update.
        let sheet = outline.dpc.as_ref().map(|d| {
            let professions: Vec<&str> = d
                .target_professions
                .iter()
                .map(|p| Profession::parse(p).map_or(p.as_str(), |p| p.label()))
                .collect();
            json!({ "action_type": d.action_type.label(), "modality": d.modality.label(),
                    "professions": professions.join(", "),
                    "updated_on": d.updated_on.map(crate::fr::date) })
        });
        render(
            &state,
            &visitor,
            "formation",
            &outline.title.clone(),
            json!({
                "course": outline, "kind": outline.kind.label(), "sheet": sheet,
                "hours": hours(outline.duration_hours), "sessions": sessions,
            }),
        )
    });
    result.unwrap_or_else(|e| error_page(&state, &visitor, &e))
}

fn modes() -> Vec<Value> {
    std::iter::once(json!({ "code": "", "label": "Non concerné·e (étudiant·e)" }))
        .chain(
            ModeExercice::ALL
                .iter()
                .map(|m| json!({ "code": m.code(), "label": m.label() })),
        )
        .collect()
}

fn professions() -> Vec<Value> {
    Profession::ALL
        .iter()
        .map(|p| json!({ "code": p.code(), "label": p.label() }))
        .collect()
}

async fn sign_up_form(state: web::Data<AppState>, visitor: Visitor) -> HttpResponse {
    render(
        &state,
        &visitor,
        "inscription",
        "Créer un compte",
        json!({
            "professions": professions(), "modes": modes(), "errors": {}, "problem": null,
            "form": { "email": "", "first_name": "", "last_name": "", "profession": "", "rpps": "", "adeli": "", "student_number": "", "mode_exercice": "" },
        }),
    )
    .unwrap_or_else(|e| error_page(&state, &visitor, &e))
}

#[derive(Deserialize)]
struct SignUp {
    email: String,
    password: String,
    first_name: String,
    last_name: String,
    profession: String,
    #[serde(default)]
    rpps: String,
    #[serde(default)]
    adeli: String,
    #[serde(default)]
    student_number: String,
    #[serde(default)]
    mode_exercice: String,
}

async fn sign_up(
    state: web::Data<AppState>,
    visitor: Visitor,
    req: HttpRequest,
    form: web::Form<SignUp>,
) -> HttpResponse {
    let form = form.into_inner();
    let request = RegisterRequest {
        email: Some(form.email.clone()),
        password: Some(form.password.clone()),
        full_name: None,
        first_name: Some(form.first_name.clone()),
        last_name: Some(form.last_name.clone()),
        profession: Some(form.profession.clone()),
        rpps: filled(&form.rpps),
        adeli: filled(&form.adeli),
        student_number: filled(&form.student_number),
        mode_exercice: filled(&form.mode_exercice),
    };
    let s = state.clone();
    let from = crate::http::client_ip(&req).to_string();
    let created = async move {
        let new = NewAccount::try_from(request)?;
        let pool = s.pool.clone();
        db::run(&pool, move |conn| {
            service::register(
                conn,
                &s.settings.identity,
                &s.settings.public_url,
                new,
                &from,
            )
        })
        .await
    }
    .await;
    match created {
        Ok(_) => render(
            &state,
            &visitor,
            "message",
            "Vérifiez votre messagerie",
            json!({ "title": "Vérifiez votre messagerie",
                    "text": "Nous venons d'envoyer un courriel à cette adresse. Ouvrez-le pour confirmer votre adresse (ou, si vous aviez déjà un compte, pour vous connecter), puis connectez-vous.",
                    "link": "/connexion", "link_text": "Se connecter" }),
        )
        .unwrap_or_else(|e| error_page(&state, &visitor, &e)),
        Err(e) if e.status().is_client_error() => {
            form_again(&state, &visitor, &e, render(
                &state,
                &visitor,
                "inscription",
                "Créer un compte",
                json!({
                    "professions": professions(), "modes": modes(),
                    "form": { "email": form.email, "first_name": form.first_name, "last_name": form.last_name, "profession": form.profession,
                              "rpps": form.rpps, "adeli": form.adeli, "student_number": form.student_number,
                              "mode_exercice": form.mode_exercice },
                    "errors": field_errors(&e),
                    "problem": e.problem().detail,
                }),
            ))
        }
        Err(e) => error_page(&state, &visitor, &e),
    }
}

async fn verify_email(
    state: web::Data<AppState>,
    visitor: Visitor,
    query: web::Query<HashMap<String, String>>,
) -> HttpResponse {
    let token = query.get("jeton").cloned().unwrap_or_default();
    let verified = db::run(&state.pool, move |conn| service::verify_email(conn, &token)).await;
    let (title, text) = match verified {
        Ok(stale) => {
            state.forget(stale);
            (
                "Adresse confirmée",
                "Votre adresse est confirmée : vous pouvez vous connecter.",
            )
        }
        Err(_) => (
            "Lien invalide",
            "Ce lien de confirmation est invalide, expiré ou déjà utilisé.",
        ),
    };
    render(
        &state,
        &visitor,
        "message",
        title,
        json!({ "title": title, "text": text, "link": "/connexion", "link_text": "Se connecter" }),
    )
    .unwrap_or_else(|e| error_page(&state, &visitor, &e))
}

#[derive(Deserialize)]
struct ResendForm {
    email: String,
}

/// « Renvoyer le lien »: the same answer whether the address is known, unconfirmed or not.
async fn resend_verification(
    state: web::Data<AppState>,
    visitor: Visitor,
    form: web::Form<ResendForm>,
) -> HttpResponse {
    let s = state.clone();
    let email = form.into_inner().email;
    let done = async move {
        let email = Email::parse(&email).map_err(|m| AppError::invalid("email", m))?;
        let pool = s.pool.clone();
        db::run(&pool, move |conn| {
            service::resend_verification(conn, &s.settings.identity, &s.settings.public_url, &email)
        })
        .await
    }
    .await;
    match done {
        Ok(()) => render(
            &state,
            &visitor,
            "message",
            "Vérifiez votre messagerie",
            json!({ "title": "Vérifiez votre messagerie",
                    "text": "Si un compte non confirmé existe avec cette adresse, un nouveau lien de confirmation vient d'y être envoyé. Ouvrez-le, puis reprenez votre inscription." }),
        )
        .unwrap_or_else(|e| error_page(&state, &visitor, &e)),
        Err(e) => error_page(&state, &visitor, &e),
    }
}

/// `?retour=` is where a signed-out visitor was going (only a path of this site).
fn return_of(query: &HashMap<String, String>) -> Option<String> {
    query
        .get("retour")
        .and_then(|to| super::session::safe_return(to))
        .map(str::to_owned)
}

async fn sign_in_form(
    state: web::Data<AppState>,
    visitor: Visitor,
    query: web::Query<HashMap<String, String>>,
) -> HttpResponse {
    render(
        &state,
        &visitor,
        "connexion",
        "Se connecter",
        json!({ "email": "", "problem": null, "retour": return_of(&query) }),
    )
    .unwrap_or_else(|e| error_page(&state, &visitor, &e))
}

#[derive(Deserialize)]
struct SignIn {
    email: String,
    password: String,
    #[serde(default)]
    retour: String,
}

async fn sign_in_post(
    state: web::Data<AppState>,
    visitor: Visitor,
    req: HttpRequest,
    form: web::Form<SignIn>,
) -> HttpResponse {
    let SignIn {
        email,
        password,
        retour,
    } = form.into_inner();
    let to = super::session::safe_return(&retour)
        .unwrap_or("/tableau-de-bord")
        .to_owned();
    let ip = crate::http::client_ip(&req).to_string();
    let s = state.clone();
    let typed = email.clone();
    let outcome = async move {
        let email = Email::parse(&typed).map_err(|m| AppError::invalid("email", m))?;
        let (pool, k) = (s.pool.clone(), s.clone());
        let account = db::run(&pool, move |conn| {
            service::authenticate(conn, &k.settings.identity, &email, &password, &ip)
        })
        .await?;
        let (id, epoch) = (account.id, account.page_session_epoch);
        Ok::<_, AppError>((id, epoch))
    };
    let s = state.clone();
    match outcome.await {
        Ok((account_id, epoch)) => {
            sign_in(&s, &account_id, epoch, &to).unwrap_or_else(|e| error_page(&s, &visitor, &e))
        }
        Err(e) if e.status().is_client_error() => form_again(
            &state,
            &visitor,
            &e,
            render(
                &state,
                &visitor,
                "connexion",
                "Se connecter",
                json!({ "email": email, "problem": message(&e), "retour": super::session::safe_return(&to) }),
            ),
        ),
        Err(e) => error_page(&state, &visitor, &e),
    }
}

async fn sign_out_post(
    state: web::Data<AppState>,
    visitor: Visitor,
    form: web::Form<super::CsrfForm>,
) -> HttpResponse {
    let user = match visitor.for_form(&form.csrf) {
        Ok(user) => user.clone(),
        Err(e) => return error_page(&state, &visitor, &e),
    };
    sign_out_everywhere(&state, &user)
        .await
        .unwrap_or_else(|e| error_page(&state, &visitor, &e))
}

async fn reset_request_form(state: web::Data<AppState>, visitor: Visitor) -> HttpResponse {
    render(
        &state,
        &visitor,
        "mot-de-passe-oublie",
        "Mot de passe oublié",
        json!({}),
    )
    .unwrap_or_else(|e| error_page(&state, &visitor, &e))
}

#[derive(Deserialize)]
struct ResetRequest {
    email: String,
}

async fn reset_request(
    state: web::Data<AppState>,
    visitor: Visitor,
    req: HttpRequest,
    form: web::Form<ResetRequest>,
) -> HttpResponse {
    let s = state.clone();
    let from = crate::http::client_ip(&req).to_string();
    let email = form.into_inner().email;
    let done = async move {
        let email = Email::parse(&email).map_err(|m| AppError::invalid("email", m))?;
        let pool = s.pool.clone();
        db::run(&pool, move |conn| {
            service::request_password_reset(conn, &email, &from)
        })
        .await
    }
    .await;
    match done {
        // Same answer whether the address is known or not.
        Ok(()) => render(
            &state,
            &visitor,
            "message",
            "Vérifiez votre messagerie",
            json!({ "title": "Vérifiez votre messagerie",
                    "text": "Si un compte existe avec cette adresse, un lien pour choisir un nouveau mot de passe vient d'y être envoyé." }),
        )
        .unwrap_or_else(|e| error_page(&state, &visitor, &e)),
        Err(e) => error_page(&state, &visitor, &e),
    }
}

async fn reset_form(
    state: web::Data<AppState>,
    visitor: Visitor,
    query: web::Query<HashMap<String, String>>,
) -> HttpResponse {
    let token = query.get("jeton").cloned().unwrap_or_default();
    render(
        &state,
        &visitor,
        "nouveau-mot-de-passe",
        "Nouveau mot de passe",
        json!({ "token": token, "problem": null }),
    )
    .unwrap_or_else(|e| error_page(&state, &visitor, &e))
}

#[derive(Deserialize)]
struct Reset {
    token: String,
    password: String,
}

async fn reset(
    state: web::Data<AppState>,
    visitor: Visitor,
    form: web::Form<Reset>,
) -> HttpResponse {
    let Reset { token, password } = form.into_inner();
    let s = state.clone();
    let typed = token.clone();
    let done = async move {
        let password = Password::parse(&password).map_err(|m| AppError::invalid("password", m))?;
        let set = db::run(&s.pool, move |conn| {
            service::confirm_password_reset(conn, &typed, &password)
        })
        .await?;
        sign_in_after(&s, set, "/tableau-de-bord?mot-de-passe=enregistre")
    }
    .await;
    match done {
        // The link proved the mailbox and the password is new: the person is signed in.
        Ok(page) => page,
        Err(e) if e.status().is_client_error() => form_again(
            &state,
            &visitor,
            &e,
            render(
                &state,
                &visitor,
                "nouveau-mot-de-passe",
                "Nouveau mot de passe",
                json!({ "token": token, "problem": message(&e) }),
            ),
        ),
        Err(e) => error_page(&state, &visitor, &e),
    }
}
