//! Numbered completion records: issued as certificates (same verification and VC-JWT) to
//! the learners the jury admitted, once its minutes are closed; one record in force per
//! learner, a new one continuing the chain of the one it replaces.

use super::file::{current_record, decision_view, facts, Facts};
use super::model::{self, Decision, Grade, UnitFacts};
use super::service::{enrolment_for, no_enrolment, now, session_for, Gate};
use super::store::{self, Cohort, DecisionRow, Record, Thesis};
use crate::catalog::cache::CourseCache;
use crate::catalog::model::Course;
use crate::certificates::model::CertificateKind;
use crate::certificates::model::{AttestedDuRecord, AttestedThesis, AttestedUnit};
use crate::certificates::{self, store as certificate_store};
use crate::completion;
use crate::db::DbConn;
use crate::enrolment::store::{self as enrolment_store, Enrolment, Session};
use crate::error::AppError;
use crate::identity::auth::CurrentUser;
use crate::identity::store::{self as identity, Organisation};

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
        let grounds = grounds(c, &session, &enrolment)?;
        let Facts { units, thesis, .. } = facts(c, &course, &enrolment.id)?;
        let thesis = thesis.ok_or_else(|| AppError::conflict("Mémoire non saisi."))?;
        let universities = universities(c, &grounds)?;
        let sequence = store::next_sequence(c, &grounds.university.id, grounds.year)?;
        let number = model::record_number(&grounds.code, grounds.year, sequence);
        let du_record = attested(&grounds, &units, thesis, universities, number.clone());
        let certificate = certify(c, &course, &enrolment, &session, &grounds.decision, du_record)?;
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
            decision_id: grounds.decision.id.clone(),
            certificate_id: certificate.id.clone(),
            organisation_id: grounds.university.id.clone(),
            year: grounds.year,
            sequence,
            issued_at: certificate.issued_at,
        };
        store::insert_record(c, &record)?;
        Ok((record, true))
    })
}

/// What a record may be issued on: closed minutes, an `admis` decision in force, a
/// university with a UAI code to number it.
struct Grounds {
    cohort: Cohort,
    decision: DecisionRow,
    university: Organisation,
    code: String,
    /// The academic year the record is numbered in.
    year: i32,
}

fn grounds(
    conn: &mut DbConn,
    session: &Session,
    enrolment: &Enrolment,
) -> Result<Grounds, AppError> {
    let cohort = store::cohort(conn, &session.id)?;
    let Some(cohort) = cohort.filter(|c| c.minutes_closed_at.is_some()) else {
        return Err(AppError::conflict(
            "Le procès-verbal du jury doit être clos avant de délivrer les relevés.",
        ));
    };
    let decision = store::decisions_of(conn, &enrolment.id)?
        .pop()
        .filter(|d| d.decision == Decision::Admis.code())
        .ok_or_else(|| AppError::conflict("Seul un candidat admis reçoit un relevé."))?;
    let university = identity::organisation(conn, &session.organisation_id)?;
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
    Ok(Grounds {
        cohort,
        decision,
        university,
        code,
        year,
    })
}

/// The university first, then its partner: both names are signed into the record.
fn universities(conn: &mut DbConn, grounds: &Grounds) -> Result<Vec<String>, AppError> {
    let mut names = vec![grounds.university.name.clone()];
    if let Some(partner) = &grounds.cohort.partner_organisation_id {
        names.push(identity::organisation(conn, partner)?.name);
    }
    Ok(names)
}

/// The record as the certificate states it.
fn attested(
    grounds: &Grounds,
    units: &[UnitFacts],
    thesis: Thesis,
    universities: Vec<String>,
    number: String,
) -> AttestedDuRecord {
    let printed = |g: Option<f64>| {
        g.and_then(|g| Grade::parse(g).ok())
            .map_or("—".to_owned(), Grade::printed)
    };
    let view = decision_view(&grounds.decision);
    AttestedDuRecord {
        number,
        universities,
        responsibles: serde_json::from_str(&grounds.cohort.responsibles).unwrap_or_default(),
        units: units
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
    }
}

/// Writes the certificate stating `du_record`; its completion is the online part's, or the
/// decision's day when the learner never completed it.
fn certify(
    conn: &mut DbConn,
    course: &Course,
    enrolment: &Enrolment,
    session: &Session,
    decision: &DecisionRow,
    du_record: AttestedDuRecord,
) -> Result<certificate_store::Certificate, AppError> {
    let (completed_at, seconds) =
        match completion::store::completion_with_seconds(conn, &enrolment.id)? {
            Some((at, seconds)) => (at, i64::from(seconds)),
            None => (
                decision.decided_on.and_time(chrono::NaiveTime::MIN),
                completion::store::active_seconds(conn, &enrolment.id)?,
            ),
        };
    let issued_at = now();
    let achievement = completion::service::achievement(
        conn,
        course,
        &enrolment.id,
        session,
        completed_at,
        issued_at,
    )?;
    let mut snapshot = certificates::service::snapshot(
        conn,
        course,
        enrolment,
        session,
        completed_at,
        seconds,
        issued_at,
        achievement,
    )?;
    snapshot.du_record = Some(du_record);
    // A new record after a revoked one continues its chain (one record in force).
    let mut replaces = None;
    if let Some(last) = store::records_of(conn, &enrolment.id)?.pop() {
        if certificate_store::replacement_of(conn, &last.certificate_id)?.is_none() {
            replaces = Some(last.certificate_id);
        }
    }
    certificates::service::write(
        conn,
        enrolment,
        session,
        &snapshot,
        CertificateKind::DuRecord,
        replaces,
    )
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
