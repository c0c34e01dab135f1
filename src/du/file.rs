//! One learner's diploma file as tutors, admins and the learner read it: the facts the
//! rules weigh (units, thesis, online part), the proposal they make, the jury's decisions
//! and the record in force.

use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::cohort::minutes_closed;
use super::model::{self, Decision, Grade, Mention, Proposal, UnitFacts};
use super::service::{enrolment_for, Gate};
use super::store::{self, Attendance, DecisionRow, Record, Thesis};
use crate::catalog::cache::CourseCache;
use crate::catalog::model::Course;
use crate::certificates::model::Validity;
use crate::certificates::store as certificate_store;
use crate::completion;
use crate::db::DbConn;
use crate::enrolment::store::{Enrolment, Session};
use crate::error::AppError;
use crate::identity::auth::CurrentUser;

/// Units, thesis, online part and the proposal the rules make.
pub(super) struct Facts {
    pub units: Vec<UnitFacts>,
    pub thesis: Option<Thesis>,
    pub online_complete: bool,
    pub proposal: Proposal,
}

pub(super) fn facts(
    conn: &mut DbConn,
    course: &Course,
    enrolment_id: &str,
) -> Result<Facts, AppError> {
    let grades = store::grades_of(conn, enrolment_id)?;
    let attendance = store::attendance_of(conn, enrolment_id)?;
    let done = completion::store::lessons_done(conn, enrolment_id)?;
    let closed_at = store::minutes_closed_at_of_enrolment(conn, enrolment_id)?;
    let best = store::best_percents(conn, enrolment_id, closed_at)?;
    let rules = course.du_rules.clone().unwrap_or_default();
    let units: Vec<UnitFacts> = course
        .units
        .iter()
        .map(|u| {
            let days: Vec<&Attendance> = attendance.iter().filter(|a| a.unit_id == u.id).collect();
            let tutor_grade = grades
                .iter()
                .find(|g| g.unit_id == u.id)
                .map(|g| Grade::from_hundredths(g.grade_hundredths).value());
            let online_grade = u
                .assessment
                .as_ref()
                .and_then(|quiz| best.get(quiz).copied())
                .map(model::out_of_twenty);
            UnitFacts {
                unit_id: u.id.clone(),
                title: u.title.clone(),
                grade: model::unit_grade(
                    tutor_grade,
                    online_grade,
                    u.assessment.is_some(),
                    rules.online_required,
                ),
                tutor_grade,
                online_grade,
                seminar_days_recorded: days.len(),
                seminar_days_present: days.iter().filter(|a| a.present).count(),
                lessons_done: u.lessons.iter().filter(|l| done.contains(*l)).count(),
                lessons_total: u.lessons.len(),
            }
        })
        .collect();
    let thesis = store::thesis_of(conn, enrolment_id)?;
    let online_complete = completion::store::completion(conn, enrolment_id)?.is_some();
    let thesis_grade = thesis
        .as_ref()
        .and_then(|t| t.grade_hundredths)
        .map(|h| Grade::from_hundredths(h).value());
    let proposal = model::propose(&rules, &units, thesis_grade, online_complete);
    Ok(Facts {
        units,
        thesis,
        online_complete,
        proposal,
    })
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ThesisView {
    pub title: String,
    pub supervisor: String,
    pub grade: Option<f64>,
    pub defended_on: Option<NaiveDate>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DecisionView {
    pub decision: Decision,
    pub mention: Option<Mention>,
    pub decided_on: NaiveDate,
    pub jury: Vec<String>,
    pub reason: Option<String>,
    #[serde(with = "crate::http::timestamps::utc")]
    pub recorded_at: NaiveDateTime,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RecordView {
    pub number: String,
    pub certificate_id: String,
    /// `valid` or `revoked`.
    pub status: Validity,
}

/// One learner's diploma file.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DuView {
    pub enrolment_id: String,
    pub units: Vec<UnitFacts>,
    pub thesis: Option<ThesisView>,
    pub online_complete: bool,
    pub proposal: Proposal,
    /// The decision in force, then the earlier ones.
    pub decision: Option<DecisionView>,
    pub earlier_decisions: Vec<DecisionView>,
    pub minutes_closed: bool,
    pub record: Option<RecordView>,
}

pub(super) fn decision_view(row: &DecisionRow) -> DecisionView {
    DecisionView {
        decision: Decision::parse(&row.decision).unwrap_or(Decision::Absent),
        mention: row.mention.as_deref().and_then(|m| Mention::parse(m).ok()),
        decided_on: row.decided_on,
        jury: serde_json::from_str(&row.jury).unwrap_or_default(),
        reason: row.reason.clone(),
        recorded_at: row.recorded_at,
    }
}

/// The record in force (its certificate not revoked), if any.
pub(super) fn current_record(
    conn: &mut DbConn,
    enrolment_id: &str,
) -> Result<Option<(Record, certificate_store::Certificate)>, AppError> {
    for record in store::records_of(conn, enrolment_id)?.into_iter().rev() {
        if let Some(certificate) = certificate_store::by_id(conn, &record.certificate_id)? {
            if certificate.revoked_at.is_none() {
                return Ok(Some((record, certificate)));
            }
        }
    }
    Ok(None)
}

pub fn view(
    conn: &mut DbConn,
    courses: &CourseCache,
    user: &CurrentUser,
    enrolment_id: &str,
) -> Result<DuView, AppError> {
    let (enrolment, session, course) =
        enrolment_for(conn, courses, user, enrolment_id, Gate::Reader)?;
    file_of(conn, &course, &enrolment, &session)
}

/// The file of an enrolment already checked (see [`enrolment_for`]).
pub fn file_of(
    conn: &mut DbConn,
    course: &Course,
    enrolment: &Enrolment,
    session: &Session,
) -> Result<DuView, AppError> {
    let facts = facts(conn, course, &enrolment.id)?;
    let mut decisions: Vec<DecisionView> = store::decisions_of(conn, &enrolment.id)?
        .iter()
        .map(decision_view)
        .collect();
    let decision = decisions.pop();
    decisions.reverse();
    let record = current_record(conn, &enrolment.id)?.map(|(r, c)| RecordView {
        number: r.number,
        certificate_id: c.id,
        status: Validity::of(c.revoked_at.is_some()),
    });
    Ok(DuView {
        enrolment_id: enrolment.id.clone(),
        units: facts.units,
        thesis: facts.thesis.map(|t| ThesisView {
            title: t.title,
            supervisor: t.supervisor,
            grade: t
                .grade_hundredths
                .map(|h| Grade::from_hundredths(h).value()),
            defended_on: t.defended_on,
        }),
        online_complete: facts.online_complete,
        proposal: facts.proposal,
        decision,
        earlier_decisions: decisions,
        minutes_closed: minutes_closed(conn, &session.id)?,
        record,
    })
}
