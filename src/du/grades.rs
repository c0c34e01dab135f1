//! What tutors enter while a cohort runs: seminar attendance, unit grades, the thesis. Each
//! change is audited with the value it replaces; all of it is frozen once the jury's minutes
//! are closed, as it is what the jury decided on.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::cohort::minutes_closed;
use super::model::{Grade, UnitAt};
use super::service::{audit, enrolment_for, now, Gate};
use super::store::{self, Attendance, Thesis, UnitGrade};
use crate::catalog::cache::CourseCache;
use crate::catalog::model::Course;
use crate::db::DbConn;
use crate::enrolment::store::{Enrolment, Session};
use crate::error::AppError;
use crate::identity::auth::CurrentUser;

/// The enrolment whose DU file staff may still write (of a known unit when one is named):
/// grades, attendance and theses are what the jury decided on, frozen with its minutes.
fn writable_file(
    conn: &mut DbConn,
    courses: &CourseCache,
    user: &CurrentUser,
    enrolment_id: &str,
    unit_id: Option<&str>,
) -> Result<(Enrolment, Session), AppError> {
    let (enrolment, session, course) =
        enrolment_for(conn, courses, user, enrolment_id, Gate::Staff)?;
    if let Some(unit_id) = unit_id {
        unit_title(&course, unit_id)?;
    }
    if minutes_closed(conn, &session.id)? {
        return Err(AppError::conflict(
            "Le procès-verbal du jury est clos : les notes ne changent plus.",
        ));
    }
    Ok((enrolment, session))
}

fn unit_title<'a>(course: &'a Course, unit_id: &str) -> Result<&'a str, AppError> {
    course
        .units
        .iter()
        .find(|u| u.id == unit_id)
        .map(|u| u.title.as_str())
        .ok_or_else(|| {
            let ids: Vec<&str> = course.units.iter().map(|u| u.id.as_str()).collect();
            AppError::invalid(
                "unit",
                format!("unité inconnue de ce diplôme ; unités : {}", ids.join(", ")),
            )
        })
}

/// One seminar day as entered.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SeminarDay {
    pub day: NaiveDate,
    pub present: bool,
}

pub fn set_attendance(
    conn: &mut DbConn,
    courses: &CourseCache,
    user: &CurrentUser,
    unit: UnitAt<'_>,
    days: &[SeminarDay],
) -> Result<(), AppError> {
    let UnitAt {
        enrolment_id,
        unit_id,
    } = unit;
    conn.write(|c| {
        let (enrolment, session) = writable_file(c, courses, user, enrolment_id, Some(unit_id))?;
        let at = now();
        let rows: Vec<Attendance> = days
            .iter()
            .map(|d| Attendance {
                enrolment_id: enrolment.id.clone(),
                unit_id: unit_id.to_owned(),
                day: d.day,
                present: d.present,
                recorded_by: user.id.clone(),
                recorded_at: at,
            })
            .collect();
        let before: Vec<(NaiveDate, bool)> = store::attendance_of(c, &enrolment.id)?
            .into_iter()
            .filter(|a| a.unit_id == unit_id)
            .map(|a| (a.day, a.present))
            .collect();
        store::replace_attendance(c, unit, &rows)?;
        audit(
            c,
            user,
            &session,
            &enrolment,
            "du.attendance",
            serde_json::json!({ "unit": unit_id, "old": before, "new": days.iter().map(|d| (d.day, d.present)).collect::<Vec<_>>() }),
        )
    })
}

pub fn set_grade(
    conn: &mut DbConn,
    courses: &CourseCache,
    user: &CurrentUser,
    unit: UnitAt<'_>,
    grade: Grade,
) -> Result<(), AppError> {
    let UnitAt {
        enrolment_id,
        unit_id,
    } = unit;
    conn.write(|c| {
        let (enrolment, session) = writable_file(c, courses, user, enrolment_id, Some(unit_id))?;
        let old = store::set_grade(
            c,
            &UnitGrade {
                enrolment_id: enrolment.id.clone(),
                unit_id: unit_id.to_owned(),
                grade_hundredths: grade.hundredths(),
                graded_by: user.id.clone(),
                graded_at: now(),
            },
        )?;
        audit(
            c,
            user,
            &session,
            &enrolment,
            "du.grade",
            serde_json::json!({
                "unit": unit_id,
                "old": old.map(|g| Grade::from_hundredths(g).value()),
                "new": grade.value(),
            }),
        )
    })
}

/// The thesis as a tutor enters it; the grade and defence date may come later.
#[derive(Debug, Clone)]
pub struct ThesisInput {
    pub title: String,
    pub supervisor: String,
    pub grade: Option<Grade>,
    pub defended_on: Option<NaiveDate>,
}

pub fn set_thesis(
    conn: &mut DbConn,
    courses: &CourseCache,
    user: &CurrentUser,
    enrolment_id: &str,
    input: ThesisInput,
) -> Result<(), AppError> {
    conn.write(|c| {
        let (enrolment, session) = writable_file(c, courses, user, enrolment_id, None)?;
        let old = store::thesis_of(c, &enrolment.id)?;
        store::save_thesis(
            c,
            &Thesis {
                enrolment_id: enrolment.id.clone(),
                title: input.title.clone(),
                supervisor: input.supervisor.clone(),
                grade_hundredths: input.grade.map(Grade::hundredths),
                defended_on: input.defended_on,
                updated_by: user.id.clone(),
                updated_at: now(),
            },
        )?;
        let grade = |h: Option<i32>| h.map(|h| Grade::from_hundredths(h).value());
        audit(
            c,
            user,
            &session,
            &enrolment,
            "du.thesis",
            serde_json::json!({
                "old": old.as_ref().map(|t| serde_json::json!({
                    "title": t.title, "supervisor": t.supervisor,
                    "grade": grade(t.grade_hundredths), "defended_on": t.defended_on,
                })),
                "new": {
                    "title": input.title, "supervisor": input.supervisor,
                    "grade": input.grade.map(Grade::value), "defended_on": input.defended_on,
                },
            }),
        )
    })
}
