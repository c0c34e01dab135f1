//! Running a DU cohort as university staff do: attendance and grades by tutors, the
//! jury's decisions and closed minutes by admins, numbered completion records issued as
//! certificates. Every change of a grade or decision is audited with its old value.

use std::sync::Arc;

use chrono::{NaiveDate, NaiveDateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::model::{self, Decision, Grade, Mention, Proposal, UnitFacts};
use super::store::{self, Attendance, Cohort, DecisionRow, Record, Thesis, UnitGrade};
use crate::catalog::cache::CourseCache;
use crate::catalog::model::{Course, CourseKind};
use crate::certificates::model::{AttestedDuRecord, AttestedThesis, AttestedUnit};
use crate::certificates::{self, store as certificate_store};
use crate::completion;
use crate::db::DbConn;
use crate::enrolment::store::{self as enrolment_store, Enrolment, Session};
use crate::error::AppError;
use crate::identity::auth::{require_org_admin, require_staff, CurrentUser};
use crate::identity::store as identity;

fn now() -> NaiveDateTime {
    Utc::now().naive_utc().trunc_subsecs(6)
}

fn no_session() -> AppError {
    AppError::not_found("Session introuvable.")
}

fn no_enrolment() -> AppError {
    AppError::not_found("Inscription introuvable.")
}

/// Who may act: tutors and admins enter grades, admins decide.
#[derive(Clone, Copy, PartialEq)]
pub enum Gate {
    Staff,
    Admin,
    /// The learner themself, or the staff.
    Reader,
}

fn check(
    conn: &mut DbConn,
    user: &CurrentUser,
    session: &Session,
    owner: Option<&str>,
    gate: Gate,
    hidden: fn() -> AppError,
) -> Result<(), AppError> {
    if gate == Gate::Reader && owner == Some(user.id.as_str()) {
        return Ok(());
    }
    let allowed = match gate {
        Gate::Admin => require_org_admin(conn, user, &session.organisation_id).map(drop),
        Gate::Staff | Gate::Reader => require_staff(conn, user, &session.organisation_id).map(drop),
    };
    match gate {
        // Someone who may not read it learns nothing, not even that it exists.
        Gate::Reader => allowed.map_err(|_| hidden()),
        _ => allowed.map_err(|e| e.not_found_as(hidden)),
    }
}

fn du_course(
    conn: &mut DbConn,
    courses: &CourseCache,
    session: &Session,
) -> Result<Arc<Course>, AppError> {
    let course = courses.get(conn, &session.course_version_id)?;
    if course.kind != CourseKind::Du {
        return Err(AppError::conflict(
            "Cette session n'est pas celle d'un diplôme d'université.",
        ));
    }
    Ok(course)
}

/// A DU session, for whom `gate` lets in.
pub fn session_for(
    conn: &mut DbConn,
    courses: &CourseCache,
    user: &CurrentUser,
    session_id: &str,
    gate: Gate,
) -> Result<(Session, Arc<Course>), AppError> {
    let session = enrolment_store::session(conn, session_id)?.ok_or_else(no_session)?;
    check(conn, user, &session, None, gate, no_session)?;
    let course = du_course(conn, courses, &session)?;
    Ok((session, course))
}

/// An enrolment of a DU session, for whom `gate` lets in.
pub fn enrolment_for(
    conn: &mut DbConn,
    courses: &CourseCache,
    user: &CurrentUser,
    enrolment_id: &str,
    gate: Gate,
) -> Result<(Enrolment, Session, Arc<Course>), AppError> {
    let enrolment = enrolment_store::enrolment(conn, enrolment_id)?.ok_or_else(no_enrolment)?;
    let session =
        enrolment_store::session(conn, &enrolment.session_id)?.ok_or_else(no_enrolment)?;
    check(
        conn,
        user,
        &session,
        Some(&enrolment.account_id),
        gate,
        no_enrolment,
    )?;
    let course = du_course(conn, courses, &session)?;
    Ok((enrolment, session, course))
}

/// Grades, attendance and theses are what the jury decided on: frozen with its minutes.
fn ensure_open(conn: &mut DbConn, session: &Session) -> Result<(), AppError> {
    if minutes_closed(conn, &session.id)? {
        return Err(AppError::conflict(
            "Le procès-verbal du jury est clos : les notes ne changent plus.",
        ));
    }
    Ok(())
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

fn audit(
    conn: &mut DbConn,
    user: &CurrentUser,
    session: &Session,
    enrolment: &Enrolment,
    action: &str,
    details: serde_json::Value,
) -> Result<(), AppError> {
    let mut details = details;
    details["enrolment_id"] = enrolment.id.clone().into();
    identity::audit(
        conn,
        Some(&user.id),
        action,
        Some(&session.organisation_id),
        Some(&enrolment.account_id),
        details,
    )?;
    Ok(())
}

/// The cohort's settings as an admin gives them.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CohortView {
    pub session_id: String,
    pub academic_year: Option<String>,
    pub partner_organisation_id: Option<String>,
    pub responsibles: Vec<String>,
    pub minutes_closed_at: Option<NaiveDateTime>,
}

fn cohort_view(session: &Session, cohort: Option<Cohort>) -> CohortView {
    CohortView {
        session_id: session.id.clone(),
        academic_year: session.academic_year.clone(),
        partner_organisation_id: cohort
            .as_ref()
            .and_then(|c| c.partner_organisation_id.clone()),
        responsibles: cohort
            .as_ref()
            .and_then(|c| serde_json::from_str(&c.responsibles).ok())
            .unwrap_or_default(),
        minutes_closed_at: cohort.and_then(|c| c.minutes_closed_at),
    }
}

pub fn set_cohort(
    conn: &mut DbConn,
    courses: &CourseCache,
    user: &CurrentUser,
    session_id: &str,
    partner: Option<String>,
    responsibles: Vec<String>,
) -> Result<CohortView, AppError> {
    conn.write(|c| {
        let (session, _) = session_for(c, courses, user, session_id, Gate::Admin)?;
        if let Some(partner) = &partner {
            // Its name is signed into the records: its own admins must agree.
            let org = require_org_admin(c, user, partner).map_err(|_| {
                AppError::invalid(
                    "partner_organisation_id",
                    "université inconnue ou dont vous n'êtes pas administrateur",
                )
            })?;
            if org.kind != "university" || org.id == session.organisation_id {
                return Err(AppError::invalid(
                    "partner_organisation_id",
                    "une autre université est attendue",
                ));
            }
        }
        let existing = store::cohort(c, session_id)?;
        let cohort = Cohort {
            session_id: session_id.to_owned(),
            partner_organisation_id: partner,
            responsibles: serde_json::to_string(&responsibles).map_err(anyhow::Error::from)?,
            minutes_closed_at: existing.as_ref().and_then(|e| e.minutes_closed_at),
            minutes_closed_by: existing.and_then(|e| e.minutes_closed_by),
            updated_at: now(),
        };
        store::save_cohort(c, &cohort)?;
        identity::audit(
            c,
            Some(&user.id),
            "du.cohort",
            Some(&session.organisation_id),
            Some(session_id),
            serde_json::json!({
                "partner_organisation_id": cohort.partner_organisation_id,
                "responsibles": cohort.responsibles,
            }),
        )?;
        Ok(cohort_view(&session, Some(cohort)))
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
    enrolment_id: &str,
    unit_id: &str,
    days: &[SeminarDay],
) -> Result<(), AppError> {
    conn.write(|c| {
        let (enrolment, session, course) =
            enrolment_for(c, courses, user, enrolment_id, Gate::Staff)?;
        unit_title(&course, unit_id)?;
        ensure_open(c, &session)?;
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
        store::replace_attendance(c, &enrolment.id, unit_id, &rows)?;
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
    enrolment_id: &str,
    unit_id: &str,
    grade: Grade,
) -> Result<(), AppError> {
    conn.write(|c| {
        let (enrolment, session, course) =
            enrolment_for(c, courses, user, enrolment_id, Gate::Staff)?;
        unit_title(&course, unit_id)?;
        ensure_open(c, &session)?;
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
        let (enrolment, session, _) = enrolment_for(c, courses, user, enrolment_id, Gate::Staff)?;
        ensure_open(c, &session)?;
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

/// Units, thesis, online part and the proposal the rules make.
struct Facts {
    units: Vec<UnitFacts>,
    thesis: Option<Thesis>,
    online_complete: bool,
    proposal: Proposal,
}

fn facts(conn: &mut DbConn, course: &Course, enrolment_id: &str) -> Result<Facts, AppError> {
    let grades = store::grades_of(conn, enrolment_id)?;
    let attendance = store::attendance_of(conn, enrolment_id)?;
    let done = completion::store::lessons_done(conn, enrolment_id)?;
    let units: Vec<UnitFacts> = course
        .units
        .iter()
        .map(|u| {
            let days: Vec<&Attendance> = attendance.iter().filter(|a| a.unit_id == u.id).collect();
            UnitFacts {
                unit_id: u.id.clone(),
                title: u.title.clone(),
                grade: grades
                    .iter()
                    .find(|g| g.unit_id == u.id)
                    .map(|g| Grade::from_hundredths(g.grade_hundredths).value()),
                seminar_days_recorded: days.len(),
                seminar_days_present: days.iter().filter(|a| a.present).count(),
                lessons_done: u.lessons.iter().filter(|l| done.contains(*l)).count(),
                lessons_total: u.lessons.len(),
            }
        })
        .collect();
    let thesis = store::thesis_of(conn, enrolment_id)?;
    let online_complete = completion::store::completion(conn, enrolment_id)?.is_some();
    let rules = course.du_rules.clone().unwrap_or_default();
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
    pub recorded_at: NaiveDateTime,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RecordView {
    pub number: String,
    pub certificate_id: String,
    /// `valid` or `revoked`.
    pub status: String,
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

fn decision_view(row: &DecisionRow) -> DecisionView {
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
fn current_record(
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

fn minutes_closed(conn: &mut DbConn, session_id: &str) -> Result<bool, AppError> {
    Ok(store::cohort(conn, session_id)?.is_some_and(|c| c.minutes_closed_at.is_some()))
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
        status: "valid".into(),
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

/// A jury decision as an admin records it.
#[derive(Debug, Clone)]
pub struct DecisionInput {
    pub decision: Decision,
    pub mention: Option<Mention>,
    pub decided_on: NaiveDate,
    pub jury: Vec<String>,
    pub reason: Option<String>,
}

pub fn decide(
    conn: &mut DbConn,
    courses: &CourseCache,
    user: &CurrentUser,
    enrolment_id: &str,
    input: DecisionInput,
) -> Result<DuView, AppError> {
    conn.write(|c| {
        let (_, session, course) = enrolment_for(c, courses, user, enrolment_id, Gate::Admin)?;
        let enrolment =
            enrolment_store::enrolment_for_update(c, enrolment_id)?.ok_or_else(no_enrolment)?;
        let facts = facts(c, &course, &enrolment.id)?;
        if input.decision != Decision::Absent && !facts.proposal.missing.is_empty() {
            return Err(AppError::conflict(format!(
                "Décision impossible avant la saisie complète : {}.",
                facts.proposal.missing.join(", ")
            ))
            .with_field("decision", "notes, présences ou mémoire manquants"));
        }
        let closed = minutes_closed(c, &session.id)?;
        if closed && input.reason.is_none() {
            return Err(AppError::invalid(
                "reason",
                "procès-verbal clos : une nouvelle décision doit être motivée",
            ));
        }
        let previous = store::decisions_of(c, &enrolment.id)?.pop();
        let row = DecisionRow {
            id: uuid::Uuid::new_v4().to_string(),
            enrolment_id: enrolment.id.clone(),
            decision: input.decision.code().into(),
            mention: input.mention.map(|m| m.code().into()),
            decided_on: input.decided_on,
            jury: serde_json::to_string(&input.jury).map_err(anyhow::Error::from)?,
            reason: input.reason.clone(),
            recorded_by: user.id.clone(),
            recorded_at: now(),
        };
        store::insert_decision(c, &row)?;
        audit(
            c,
            user,
            &session,
            &enrolment,
            "du.decision",
            serde_json::json!({
                "old": previous.as_ref().map(|p| serde_json::json!({"decision": p.decision, "mention": p.mention})),
                "new": {"decision": row.decision, "mention": row.mention},
                "after_minutes_closed": closed,
                "reason": input.reason,
            }),
        )?;
        // A record states one decision: a new one revokes it (an `admis` learner then gets
        // a new record, with a new number).
        if let Some((_, certificate)) = current_record(c, &enrolment.id)? {
            certificates::service::revoke_audited(
                c,
                user,
                &certificate,
                "Décision du jury modifiée",
            )?;
        }
        file_of(c, &course, &enrolment, &session)
    })
}

pub fn close_minutes(
    conn: &mut DbConn,
    courses: &CourseCache,
    user: &CurrentUser,
    session_id: &str,
) -> Result<CohortView, AppError> {
    conn.write(|c| {
        let (session, _) = session_for(c, courses, user, session_id, Gate::Admin)?;
        let mut cohort = store::cohort(c, session_id)?.unwrap_or(Cohort {
            session_id: session_id.to_owned(),
            partner_organisation_id: None,
            responsibles: "[]".into(),
            minutes_closed_at: None,
            minutes_closed_by: None,
            updated_at: now(),
        });
        if cohort.minutes_closed_at.is_some() {
            return Err(AppError::conflict("Le procès-verbal est déjà clos."));
        }
        let mut undecided = 0;
        for (enrolment, _) in enrolment_store::enrolments_of_session(c, session_id)? {
            if enrolment.status == enrolment_store::ACTIVE
                && store::decisions_of(c, &enrolment.id)?.is_empty()
            {
                undecided += 1;
            }
        }
        if undecided > 0 {
            return Err(AppError::conflict(format!(
                "{undecided} candidat(s) sans décision du jury : le procès-verbal ne peut être clos."
            )));
        }
        cohort.minutes_closed_at = Some(now());
        cohort.minutes_closed_by = Some(user.id.clone());
        cohort.updated_at = now();
        store::save_cohort(c, &cohort)?;
        identity::audit(
            c,
            Some(&user.id),
            "du.minutes_closed",
            Some(&session.organisation_id),
            Some(session_id),
            serde_json::json!({}),
        )?;
        Ok(cohort_view(&session, Some(cohort)))
    })
}

/// Issues the completion record of an `admis` learner once the minutes are closed; the
/// record in force if there is one already.
pub fn issue_record(
    conn: &mut DbConn,
    courses: &CourseCache,
    user: &CurrentUser,
    enrolment_id: &str,
) -> Result<(Record, bool), AppError> {
    conn.write(|c| {
        let (_, session, course) = enrolment_for(c, courses, user, enrolment_id, Gate::Admin)?;
        let enrolment =
            enrolment_store::enrolment_for_update(c, enrolment_id)?.ok_or_else(no_enrolment)?;
        if let Some((record, _)) = current_record(c, &enrolment.id)? {
            return Ok((record, false));
        }
        let cohort = store::cohort(c, &session.id)?;
        let Some(cohort) = cohort.filter(|c| c.minutes_closed_at.is_some()) else {
            return Err(AppError::conflict(
                "Le procès-verbal du jury doit être clos avant de délivrer les relevés.",
            ));
        };
        let decision = store::decisions_of(c, &enrolment.id)?
            .pop()
            .filter(|d| d.decision == Decision::Admis.code())
            .ok_or_else(|| AppError::conflict("Seul un candidat admis reçoit un relevé."))?;
        let university = identity::organisation(c, &session.organisation_id)?;
        let code = university.uai.clone().ok_or_else(|| {
            AppError::conflict(
                "L'université n'a pas de code UAI : les relevés ne peuvent être numérotés.",
            )
        })?;
        let year = session
            .academic_year
            .as_deref()
            .and_then(model::first_year)
            .unwrap_or_else(|| chrono::Datelike::year(&decision.decided_on));
        let facts = facts(c, &course, &enrolment.id)?;
        let thesis = facts
            .thesis
            .ok_or_else(|| AppError::conflict("Mémoire non saisi."))?;
        let mut universities = vec![university.name.clone()];
        if let Some(partner) = &cohort.partner_organisation_id {
            universities.push(identity::organisation(c, partner)?.name);
        }
        let sequence = store::next_sequence(c, &university.id, year)?;
        let number = model::record_number(&code, year, sequence);
        let printed = |g: Option<f64>| {
            g.and_then(|g| Grade::parse(g).ok())
                .map_or("—".to_owned(), Grade::printed)
        };
        let view = decision_view(&decision);
        let (completed_at, seconds) =
            match completion::store::completion_with_seconds(c, &enrolment.id)? {
                Some((at, seconds)) => (at, i64::from(seconds)),
                None => (
                    decision.decided_on.and_time(chrono::NaiveTime::MIN),
                    completion::store::active_seconds(c, &enrolment.id)?,
                ),
            };
        let issued_at = now();
        let achievement = completion::service::achievement(
            c,
            &course,
            &enrolment.id,
            &session,
            completed_at,
            issued_at,
        )?;
        let mut snapshot = certificates::service::snapshot(
            c,
            &course,
            &enrolment,
            &session,
            completed_at,
            seconds,
            issued_at,
            achievement,
        )?;
        snapshot.du_record = Some(AttestedDuRecord {
            number: number.clone(),
            universities,
            responsibles: serde_json::from_str(&cohort.responsibles).unwrap_or_default(),
            units: facts
                .units
                .iter()
                .map(|u| AttestedUnit {
                    title: u.title.clone(),
                    grade: printed(u.grade),
                })
                .collect(),
            thesis: AttestedThesis {
                title: thesis.title,
                supervisor: thesis.supervisor,
                grade: printed(
                    thesis
                        .grade_hundredths
                        .map(|h| Grade::from_hundredths(h).value()),
                ),
                defended_on: thesis.defended_on,
            },
            decision: view.decision.label().into(),
            mention: view.mention.map(|m| m.label().into()),
            decided_on: view.decided_on,
            jury: view.jury,
        });
        // A new record after a revoked one continues its chain (one record in force).
        let mut replaces = None;
        if let Some(last) = store::records_of(c, &enrolment.id)?.pop() {
            if certificate_store::replacement_of(c, &last.certificate_id)?.is_none() {
                replaces = Some(last.certificate_id);
            }
        }
        let certificate = certificates::service::write(
            c,
            &enrolment,
            &session,
            &snapshot,
            "du_record",
            replaces,
        )?;
        identity::audit(
            c,
            Some(&user.id),
            "du.record",
            Some(&session.organisation_id),
            Some(&enrolment.account_id),
            serde_json::json!({ "number": number, "certificate_id": certificate.id, "enrolment_id": enrolment.id }),
        )?;
        let record = Record {
            number,
            enrolment_id: enrolment.id.clone(),
            decision_id: decision.id.clone(),
            certificate_id: certificate.id.clone(),
            organisation_id: university.id.clone(),
            year,
            sequence,
            issued_at: certificate.issued_at,
        };
        store::insert_record(c, &record)?;
        Ok((record, true))
    })
}

/// One line of the registrar's transcript.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TranscriptLine {
    pub name: String,
    pub email: String,
    pub student_number: Option<String>,
    pub units: Vec<Option<f64>>,
    pub thesis_title: Option<String>,
    pub thesis_grade: Option<f64>,
    pub online_complete: bool,
    pub proposal: Option<Decision>,
    pub decision: Option<Decision>,
    pub mention: Option<Mention>,
    pub record_number: Option<String>,
}

pub struct Transcript {
    pub session: Session,
    pub unit_titles: Vec<String>,
    pub lines: Vec<TranscriptLine>,
}

pub fn transcript(
    conn: &mut DbConn,
    courses: &CourseCache,
    user: &CurrentUser,
    session_id: &str,
) -> Result<Transcript, AppError> {
    let (session, course) = session_for(conn, courses, user, session_id, Gate::Admin)?;
    let mut lines = Vec::new();
    for (enrolment, account) in enrolment_store::enrolments_of_session(conn, session_id)? {
        let file = file_of(conn, &course, &enrolment, &session)?;
        lines.push(TranscriptLine {
            name: account.full_name,
            email: account.email,
            student_number: account.student_number,
            units: file.units.iter().map(|u| u.grade).collect(),
            thesis_title: file.thesis.as_ref().map(|t| t.title.clone()),
            thesis_grade: file.thesis.and_then(|t| t.grade),
            online_complete: file.online_complete,
            proposal: file.proposal.decision,
            decision: file.decision.as_ref().map(|d| d.decision),
            mention: file.decision.and_then(|d| d.mention),
            record_number: file.record.map(|r| r.number),
        });
    }
    lines.sort_by(|a, b| a.name.cmp(&b.name).then(a.email.cmp(&b.email)));
    Ok(Transcript {
        unit_titles: course.units.iter().map(|u| u.title.clone()).collect(),
        session,
        lines,
    })
}

pub fn cohort_of(conn: &mut DbConn, session: &Session) -> Result<CohortView, AppError> {
    let cohort = store::cohort(conn, &session.id)?;
    Ok(cohort_view(session, cohort))
}

/// Issues the record of every admitted learner of the cohort without one, each in its own
/// transaction; the numbers issued.
pub fn issue_records(
    conn: &mut DbConn,
    courses: &CourseCache,
    user: &CurrentUser,
    session_id: &str,
) -> Result<Vec<String>, AppError> {
    session_for(conn, courses, user, session_id, Gate::Admin)?;
    let mut issued = Vec::new();
    for (enrolment, _) in enrolment_store::enrolments_of_session(conn, session_id)? {
        let admitted = store::decisions_of(conn, &enrolment.id)?
            .pop()
            .is_some_and(|d| d.decision == Decision::Admis.code());
        if admitted {
            let (record, new) = issue_record(conn, courses, user, &enrolment.id)?;
            if new {
                issued.push(record.number);
            }
        }
    }
    Ok(issued)
}
