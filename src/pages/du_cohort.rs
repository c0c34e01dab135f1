//! A DU cohort for its tutors and admins: the grade grid (every candidate × every unit,
//! the tutors' grades editable, the rules' proposal live per candidate), then the jury's
//! end of year: closing the minutes, issuing the numbered records, the registrar's
//! transcript. The grid saves in one transaction, through the same use case as the API,
//! and writes only the grades that changed (each change audited once).

use actix_web::{web, HttpResponse};
use serde_json::{json, Value};

use super::page;
use super::session::Visitor;
use super::{error_page, field, form_again, message, redirect, render, CsrfForm};
use crate::app::AppState;
use crate::catalog::cache::CourseCache;
use crate::db;
use crate::du::model::{Decision, Grade, UnitAt};
use crate::du::service::{self as du, Gate};
use crate::enrolment::model::EnrolmentStatus;
use crate::enrolment::store as enrolment_store;
use crate::error::AppError;
use crate::identity::auth::{require_org_admin, CurrentUser};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/gestion/sessions/{id}/diplome").get(grid))
        .service(web::resource("/gestion/sessions/{id}/diplome/notes").post(save_grid))
        .service(web::resource("/gestion/sessions/{id}/diplome/proces-verbal").post(close_minutes))
        .service(web::resource("/gestion/sessions/{id}/diplome/releves").post(issue_records));
}

/// A grade as a French reader writes it: « 12,5 », « 14 ».
pub fn grade_text(grade: f64) -> String {
    crate::fr::grade_value(grade)
}

pub fn decision_label(decision: Option<Decision>) -> &'static str {
    decision.map_or("En attente des notes", Decision::label)
}

async fn grid(
    state: web::Data<AppState>,
    visitor: Visitor,
    path: web::Path<String>,
) -> HttpResponse {
    let id = path.into_inner();
    page(state, visitor, |state, user, visitor| async move {
        grid_page(&state, &visitor, user, id, None, None).await
    })
    .await
}

/// The grid; after a refused save, the refusal above it and what was typed kept.
async fn grid_page(
    state: &web::Data<AppState>,
    visitor: &Visitor,
    user: CurrentUser,
    id: String,
    problem: Option<String>,
    typed: Option<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let s = state.clone();
    let (session, units, rows, admin, closed) = db::run(&state.pool, move |conn| {
        let (session, course) = du::session_for(conn, &s.courses, &user, &id, Gate::Staff)?;
        let admin = require_org_admin(conn, &user, &session.organisation_id).is_ok();
        let units: Vec<(String, String)> = course
            .units
            .iter()
            .map(|u| (u.id.clone(), u.title.clone()))
            .collect();
        let mut rows = Vec::new();
        let mut closed = false;
        for (enrolment, account) in enrolment_store::enrolments_of_session(conn, &session.id)? {
            if enrolment.status != EnrolmentStatus::Active {
                continue;
            }
            let file = du::file_of(conn, &course, &enrolment, &session)?;
            closed = file.minutes_closed;
            rows.push((account.full_name, file));
        }
        Ok((session, units, rows, admin, closed))
    })
    .await?;
    let typed_value = |name: &str| typed.as_ref().map(|form| field(form, name).to_owned());
    let candidates: Vec<Value> = rows
        .iter()
        .map(|(name, file)| {
            let cells: Vec<Value> = file
                .units
                .iter()
                .map(|u| {
                    let input = format!("grade.{}.{}", file.enrolment_id, u.unit_id);
                    let value = typed_value(&input)
                        .unwrap_or_else(|| u.tutor_grade.map(grade_text).unwrap_or_default());
                    json!({ "name": input, "value": value, "unit": u.title,
                            "online": u.online_grade.map(grade_text),
                            "grade": u.grade.map(grade_text) })
                })
                .collect();
            let decision = file.decision.as_ref();
            json!({
                "name": name, "file": format!("/gestion/du/{}", file.enrolment_id), "cells": cells,
                "proposal": decision_label(file.proposal.decision),
                "missing": file.proposal.missing.len(),
                "decision": decision.map(|d| format!("{}{}", d.decision.label(),
                    d.mention.map(|m| format!(" ({})", m.label())).unwrap_or_default())),
                "differs": decision.is_some_and(|d| file.proposal.decision.is_some_and(|p| p != d.decision)),
                "record": file.record.as_ref().map(|r| r.number.clone()),
            })
        })
        .collect();
    let api = format!("/api/v1/sessions/{}/du", session.id);
    render(
        state,
        visitor,
        "gestion-diplome",
        &format!("Notes — {}", session.title),
        json!({
            "session": { "id": session.id, "title": session.title, "year": session.academic_year },
            "units": units.iter().map(|(id, title)| json!({ "id": id, "title": title })).collect::<Vec<_>>(),
            "candidates": candidates, "admin": admin, "closed": closed, "problem": problem,
            "transcript_csv": format!("{api}/transcript.csv"), "transcript_pdf": format!("{api}/transcript.pdf"),
        }),
    )
}

/// The grid's grades, read before anything is written: (enrolment, unit, grade) for each
/// field that differs from what is recorded, and errors named after the cell.
fn changed_grades(form: &[(String, String)]) -> Result<Vec<(String, String, Grade)>, AppError> {
    let mut changes = Vec::new();
    let mut errors = Vec::new();
    for (name, raw) in form {
        let Some(rest) = name.strip_prefix("grade.") else {
            continue;
        };
        let Some((enrolment, unit)) = rest.split_once('.') else {
            continue;
        };
        let raw = raw.trim().replace(',', ".");
        if raw.is_empty() {
            continue;
        }
        match raw
            .parse::<f64>()
            .map_err(|_| "note sur 20 attendue".to_owned())
            .and_then(Grade::parse)
        {
            Ok(grade) => changes.push((enrolment.to_owned(), unit.to_owned(), grade)),
            Err(m) => errors.push(crate::error::FieldError::new(name.clone(), m)),
        }
    }
    if errors.is_empty() {
        Ok(changes)
    } else {
        Err(AppError::invalid_fields(errors))
    }
}

async fn save_grid(
    state: web::Data<AppState>,
    visitor: Visitor,
    path: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
) -> HttpResponse {
    let id = path.into_inner();
    let form = form.into_inner();
    let user = match visitor.for_form(field(&form, "csrf")) {
        Ok(user) => user.clone(),
        Err(e) => return error_page(&state, &visitor, &e),
    };
    let (s, session_id, by) = (state.clone(), id.clone(), user.clone());
    let typed = form.clone();
    let saved = async move {
        let changes = changed_grades(&form)?;
        let pool = s.pool.clone();
        db::run(&pool, move |conn| {
            conn.write(|conn| {
                let (session, course) =
                    du::session_for(conn, &s.courses, &by, &session_id, Gate::Staff)?;
                for (enrolment_id, unit_id, grade) in &changes {
                    // Only this cohort's candidates, and only what changed.
                    let (enrolment, _, _) =
                        du::enrolment_for(conn, &s.courses, &by, enrolment_id, Gate::Staff)?;
                    if enrolment.session_id != session.id {
                        return Err(AppError::not_found("Inscription introuvable."));
                    }
                    let file = du::file_of(conn, &course, &enrolment, &session)?;
                    let current = file
                        .units
                        .iter()
                        .find(|u| &u.unit_id == unit_id)
                        .ok_or_else(|| {
                            AppError::invalid(
                                format!("grade.{enrolment_id}.{unit_id}"),
                                "unité inconnue",
                            )
                        })?
                        .tutor_grade;
                    if current.map(|g| Grade::parse(g).ok()) != Some(Some(*grade)) {
                        du::set_grade(
                            conn,
                            &s.courses,
                            &by,
                            UnitAt {
                                enrolment_id,
                                unit_id,
                            },
                            *grade,
                        )?;
                    }
                }
                Ok(())
            })
        })
        .await
    }
    .await;
    match saved {
        Ok(()) => redirect(&format!("/gestion/sessions/{id}/diplome?enregistre=1")),
        Err(e) if e.status().is_client_error() => {
            let page = grid_page(
                &state,
                &visitor,
                user,
                id,
                Some(cells_message(&e)),
                Some(typed),
            )
            .await;
            form_again(&state, &visitor, &e, page)
        }
        Err(e) => error_page(&state, &visitor, &e),
    }
}

/// A refusal of the grid: each refused cell by its candidate's row is too long to name
/// here, so the count and the first message, the cells themselves marked by the browser.
fn cells_message(e: &AppError) -> String {
    match e.errors() {
        [] => message(e),
        [one] => format!("Une note est invalide : {}.", one.message),
        many => format!("{} notes sont invalides ({}).", many.len(), many[0].message),
    }
}

async fn close_minutes(
    state: web::Data<AppState>,
    visitor: Visitor,
    path: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    end_of_year(
        state,
        visitor,
        path.into_inner(),
        &form.csrf,
        |conn, courses, by, id| du::close_minutes(conn, courses, by, id).map(drop),
    )
    .await
}

async fn issue_records(
    state: web::Data<AppState>,
    visitor: Visitor,
    path: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    end_of_year(
        state,
        visitor,
        path.into_inner(),
        &form.csrf,
        |conn, courses, by, id| du::issue_records(conn, courses, by, id).map(drop),
    )
    .await
}

/// One of the cohort's end-of-year acts, by an admin, then back to the grid.
async fn end_of_year(
    state: web::Data<AppState>,
    visitor: Visitor,
    id: String,
    csrf: &str,
    act: fn(&mut db::DbConn, &CourseCache, &CurrentUser, &str) -> Result<(), AppError>,
) -> HttpResponse {
    let user = match visitor.for_form(csrf) {
        Ok(user) => user.clone(),
        Err(e) => return error_page(&state, &visitor, &e),
    };
    let (s, session_id, by) = (state.clone(), id.clone(), user.clone());
    let done = db::run(&state.pool, move |conn| {
        act(conn, &s.courses, &by, &session_id)
    })
    .await;
    after(&state, &visitor, user, id, done).await
}

/// Back to the grid, or the grid with the refusal (« 2 candidats sans décision… »).
async fn after(
    state: &web::Data<AppState>,
    visitor: &Visitor,
    user: CurrentUser,
    id: String,
    done: Result<(), AppError>,
) -> HttpResponse {
    match done {
        Ok(()) => redirect(&format!("/gestion/sessions/{id}/diplome")),
        Err(e) if e.status().is_client_error() => {
            let page = grid_page(state, visitor, user, id, Some(message(&e)), None).await;
            form_again(state, visitor, &e, page)
        }
        Err(e) => error_page(state, visitor, &e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grades_read_as_french_people_type_them() {
        assert_eq!(grade_text(12.5), "12,5");
        assert_eq!(grade_text(14.0), "14");
        assert_eq!(grade_text(13.25), "13,25");
        let form = vec![
            ("csrf".to_owned(), "x".to_owned()),
            ("grade.e1.u1".to_owned(), "12,5".to_owned()),
            ("grade.e1.u2".to_owned(), "".to_owned()),
        ];
        let changes = changed_grades(&form).unwrap();
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].2.value(), 12.5);
        let bad = vec![
            ("grade.e1.u1".to_owned(), "21".to_owned()),
            ("grade.e2.u1".to_owned(), "abc".to_owned()),
        ];
        let e = changed_grades(&bad).unwrap_err();
        assert_eq!(e.errors().len(), 2, "every refused cell is named");
    }
}
