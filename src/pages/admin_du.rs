//! Pages for a DU's staff: a learner's file (grades, seminar attendance, thesis), saved
//! from one form in one transaction, and the jury's decision.

use actix_web::{web, HttpResponse};
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{json, Value};

use super::du_cohort::{decision_label, grade_text};
use super::session::Visitor;
use super::{error_page, field, field_errors, form_again, message, redirect, render};
use crate::app::AppState;
use crate::catalog::cache::CourseCache;
use crate::catalog::model::Course;
use crate::db;
use crate::du::model::{Decision, Grade, Mention};
use crate::du::service::UnitAt;
use crate::du::service::{self as du, DecisionInput, SeminarDay, ThesisInput};
use crate::error::AppError;
use crate::fr::date as french_date;
use crate::identity::auth::CurrentUser;
use crate::identity::store as identity;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/gestion/du/{enrolment}").get(du_file))
        .service(web::resource("/gestion/du/{enrolment}/notes").post(du_grades))
        .service(web::resource("/gestion/du/{enrolment}/decision").post(du_decision));
}

async fn du_page(
    state: &web::Data<AppState>,
    visitor: &Visitor,
    enrolment_id: String,
    errors: Value,
) -> Result<HttpResponse, AppError> {
    let user = visitor
        .user
        .clone()
        .ok_or_else(|| AppError::unauthorized("Connexion requise."))?;
    let s = state.clone();
    let (file, name, session_id, course, attendance) = db::run(&state.pool, move |conn| {
        let (enrolment, session, course) =
            du::enrolment_for(conn, &s.courses, &user, &enrolment_id, du::Gate::Staff)?;
        let file = du::file_of(conn, &course, &enrolment, &session)?;
        let account = identity::account(conn, &enrolment.account_id)?;
        let attendance = crate::du::store::attendance_of(conn, &enrolment.id)?;
        Ok((file, account.full_name, session.id, course, attendance))
    })
    .await?;
    // The programme the jury grades against: each unit's seminars, the thesis rubric.
    let seminars: Vec<Value> = course
        .units
        .iter()
        .map(|u| json!({ "unit": u.title, "assessment": u.assessment.is_some(), "seminars": u.seminars }))
        .collect();
    let rubric = course.thesis.as_ref().map(|t| &t.criteria);
    // Grades as words here: a template's `if` reads 0/20 as « nothing ».
    let mut shown = serde_json::to_value(&file).map_err(anyhow::Error::from)?;
    for unit in shown["units"].as_array_mut().into_iter().flatten() {
        let label = |g: &Value, none: &str| {
            g.as_f64()
                .map_or(none.to_owned(), |g| format!("{}/20", grade_text(g)))
        };
        unit["online_label"] = label(&unit["online_grade"], "pas encore passée").into();
        unit["grade_label"] = label(&unit["grade"], "en attente").into();
        unit["tutor_grade"] = unit["tutor_grade"]
            .as_f64()
            .map_or(String::new(), grade_text)
            .into();
        let id = unit["unit_id"].as_str().unwrap_or_default();
        unit["days"] = attendance
            .iter()
            .filter(|a| a.unit_id == id)
            .map(|a| json!({ "day": french_date(a.day), "present": a.present }))
            .collect::<Vec<_>>()
            .into();
    }
    // Codes in words: « Ajourné », « Admis (Bien) », dates as a French reader writes them.
    let words = |d: &crate::du::service::DecisionView| {
        json!({ "decision": d.decision.label(), "mention": d.mention.map(|m| m.label()),
                "decided_on": french_date(d.decided_on), "reason": d.reason, "jury": d.jury.join(", ") })
    };
    shown["proposal"]["label"] = decision_label(file.proposal.decision).into();
    shown["decision"] = file.decision.as_ref().map_or(Value::Null, words);
    shown["earlier_decisions"] = file
        .earlier_decisions
        .iter()
        .map(words)
        .collect::<Vec<_>>()
        .into();
    shown["differs"] = file
        .decision
        .as_ref()
        .is_some_and(|d| file.proposal.decision.is_some_and(|p| p != d.decision))
        .into();
    let title = format!("Dossier de {name}");
    render(
        state,
        visitor,
        "gestion-du",
        &title,
        json!({
            "name": name, "session": session_id, "errors": errors, "enrolment": file.enrolment_id,
            "thesis": {
                "title": file.thesis.as_ref().map_or("", |t| t.title.as_str()),
                "supervisor": file.thesis.as_ref().map_or("", |t| t.supervisor.as_str()),
                "grade": file.thesis.as_ref().and_then(|t| t.grade).map_or(String::new(), grade_text),
                "defended_on": file.thesis.as_ref().and_then(|t| t.defended_on).map_or(String::new(), |d| d.to_string()),
            },
            "file": shown, "programme": seminars, "rubric": rubric,
        }),
    )
}

async fn du_file(
    state: web::Data<AppState>,
    visitor: Visitor,
    path: web::Path<String>,
) -> HttpResponse {
    if visitor.user.is_none() {
        return visitor.sign_in_first();
    }
    du_page(
        &state,
        &visitor,
        path.into_inner(),
        json!({ "problem": null, "fields": {} }),
    )
    .await
    .unwrap_or_else(|e| error_page(&state, &visitor, &e))
}

/// The grades form: every unit's grade and seminar attendance, and the thesis, at once.
/// A DU file's form, read before anything is written: per unit its grade (if entered) and
/// seminar days, and the thesis (if titled).
struct DuForm {
    units: Vec<(String, Option<Grade>, Vec<SeminarDay>)>,
    thesis: Option<ThesisInput>,
}

fn read_du_form(form: &[(String, String)], course: &Course) -> Result<DuForm, AppError> {
    let get = |k: &str| field(form, k).trim().to_owned();
    let date = |k: &str| NaiveDate::parse_from_str(&get(k), "%Y-%m-%d").ok();
    let grade = |name: &str| -> Result<Option<Grade>, AppError> {
        match get(name).replace(',', ".") {
            raw if raw.is_empty() => Ok(None),
            raw => raw
                .parse::<f64>()
                .map_err(|_| "note sur 20 attendue".to_owned())
                .and_then(Grade::parse)
                .map(Some)
                .map_err(|m| AppError::invalid(name, m)),
        }
    };
    let mut units = Vec::new();
    for unit in &course.units {
        let days = (1..=3)
            .filter_map(|i| {
                Some(SeminarDay {
                    day: date(&format!("day.{}.{i}", unit.id))?,
                    present: get(&format!("present.{}.{i}", unit.id)) == "on",
                })
            })
            .collect();
        units.push((unit.id.clone(), grade(&format!("grade.{}", unit.id))?, days));
    }
    let title = get("thesis_title");
    let thesis = if title.is_empty() {
        None
    } else {
        Some(ThesisInput {
            title,
            supervisor: get("thesis_supervisor"),
            grade: grade("thesis_grade")?,
            defended_on: date("thesis_defended_on"),
        })
    };
    Ok(DuForm { units, thesis })
}

/// Saves a DU file's form in one transaction: a refused field leaves nothing half-written.
fn save_du_form(
    conn: &mut db::DbConn,
    courses: &CourseCache,
    user: &CurrentUser,
    id: &str,
    form: &[(String, String)],
) -> Result<(), AppError> {
    conn.write(|conn| {
        let (_, _, course) = du::enrolment_for(conn, courses, user, id, du::Gate::Staff)?;
        let read = read_du_form(form, &course)?;
        for (unit_id, grade, days) in &read.units {
            let unit = UnitAt {
                enrolment_id: id,
                unit_id,
            };
            if let Some(grade) = grade {
                du::set_grade(conn, courses, user, unit, *grade)?;
            }
            if !days.is_empty() {
                du::set_attendance(conn, courses, user, unit, days)?;
            }
        }
        if let Some(thesis) = read.thesis {
            du::set_thesis(conn, courses, user, id, thesis)?;
        }
        Ok(())
    })
}

async fn du_grades(
    state: web::Data<AppState>,
    visitor: Visitor,
    path: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
) -> HttpResponse {
    let enrolment_id = path.into_inner();
    let form = form.into_inner();
    let saved = async {
        let user = visitor.for_form(field(&form, "csrf"))?.clone();
        let s = state.clone();
        let id = enrolment_id.clone();
        let form = form.clone();
        db::run(&state.pool, move |conn| {
            save_du_form(conn, &s.courses, &user, &id, &form)
        })
        .await
    }
    .await;
    match saved {
        Ok(()) => redirect(&format!("/gestion/du/{enrolment_id}")),
        Err(e) if e.status().is_client_error() => {
            let errors = field_errors(&e);
            form_again(
                &state,
                &visitor,
                &e,
                du_page(
                    &state,
                    &visitor,
                    enrolment_id,
                    json!({ "problem": message(&e), "fields": errors }),
                )
                .await,
            )
        }
        Err(e) => error_page(&state, &visitor, &e),
    }
}

#[derive(Deserialize)]
struct DecisionForm {
    csrf: String,
    decision: String,
    #[serde(default)]
    mention: String,
    decided_on: String,
    jury: String,
    #[serde(default)]
    reason: String,
}

async fn du_decision(
    state: web::Data<AppState>,
    visitor: Visitor,
    path: web::Path<String>,
    form: web::Form<DecisionForm>,
) -> HttpResponse {
    let enrolment_id = path.into_inner();
    let form = form.into_inner();
    let decided = async {
        let user = visitor.for_form(&form.csrf)?.clone();
        let decision =
            Decision::parse(&form.decision).map_err(|m| AppError::invalid("decision", m))?;
        let mention = match form.mention.as_str() {
            "" => None,
            m => Some(Mention::parse(m).map_err(|m| AppError::invalid("mention", m))?),
        };
        let decided_on = NaiveDate::parse_from_str(&form.decided_on, "%Y-%m-%d")
            .map_err(|_| AppError::invalid("decided_on", "date attendue"))?;
        let jury: Vec<String> = form
            .jury
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect();
        if jury.is_empty() {
            return Err(AppError::invalid("jury", "au moins un nom"));
        }
        let reason = Some(form.reason.trim().to_owned()).filter(|r| !r.is_empty());
        let input = DecisionInput {
            decision,
            mention,
            decided_on,
            jury,
            reason,
        };
        let (s, id) = (state.clone(), enrolment_id.clone());
        db::run(&state.pool, move |conn| {
            du::decide(conn, &s.courses, &user, &id, input)
        })
        .await?;
        state.status_lists.clear();
        Ok(())
    }
    .await;
    match decided {
        Ok(()) => redirect(&format!("/gestion/du/{enrolment_id}")),
        Err(e) if e.status().is_client_error() => form_again(
            &state,
            &visitor,
            &e,
            du_page(
                &state,
                &visitor,
                enrolment_id,
                json!({ "problem": message(&e), "fields": field_errors(&e) }),
            )
            .await,
        ),
        Err(e) => error_page(&state, &visitor, &e),
    }
}
