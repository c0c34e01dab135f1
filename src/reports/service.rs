//! Who may have which report, and the reports themselves written line by line into any
//! writer (the HTTP layer streams them).

use std::io::Write;
use std::sync::Arc;

use chrono::{NaiveDate, NaiveDateTime};

use super::dpc::{self, DpcRecord};
use super::roster::{self, Dashboard, DashboardBuilder, RosterLine};
use super::store;
use crate::catalog::cache::CourseCache;
use crate::catalog::model::{Course, CourseKind};
use crate::certificates::model::{CertificateKind, Validity};
use crate::certificates::store as certificates;
use crate::db::{DbConn, Pool};
use crate::enrolment::model::EnrolmentStatus;
use crate::enrolment::store::{self as enrolment_store, Session};
use crate::error::AppError;
use crate::fr;
use crate::http::csv::Csv;
use crate::identity::auth::{require_staff, CurrentUser};
use crate::identity::model::{ModeExercice, Profession};

/// A session and its course, for the staff of its organisation (anyone else: 404).
pub fn staff_session(
    conn: &mut DbConn,
    courses: &CourseCache,
    user: &CurrentUser,
    session_id: &str,
) -> Result<(Session, Arc<Course>), AppError> {
    let hidden = || AppError::not_found("Session introuvable.");
    let session = enrolment_store::session(conn, session_id)?.ok_or_else(hidden)?;
    require_staff(conn, user, &session.organisation_id).map_err(|e| e.not_found_as(hidden))?;
    let course = courses.get(conn, &session.course_version_id)?;
    Ok((session, course))
}

/// The organisation's sessions of one kind of course, for its staff.
pub fn staff_sessions(
    conn: &mut DbConn,
    courses: &CourseCache,
    user: &CurrentUser,
    organisation_id: &str,
    kind: CourseKind,
) -> Result<Vec<(Session, Arc<Course>)>, AppError> {
    require_staff(conn, user, organisation_id)?;
    let mut sessions = Vec::new();
    for session in store::sessions_of(conn, organisation_id)? {
        let course = courses.get(conn, &session.course_version_id)?;
        if course.kind == kind {
            sessions.push((session, course));
        }
    }
    Ok(sessions)
}

/// « 87,5 »: the column says « (%) ».
fn percent(value: Option<f64>) -> String {
    value.map_or(String::new(), |v| fr::fixed(v, 1))
}

/// Paris time with its offset, as every export states an instant.
fn date_time(value: Option<NaiveDateTime>) -> String {
    value.map_or(String::new(), fr::export_time)
}

fn profession(code: &str) -> String {
    Profession::parse(code).map_or(code.to_owned(), |p| p.label().to_owned())
}

pub const ROSTER_HEADER: [&str; 15] = [
    "Nom",
    "Courriel",
    "N° étudiant",
    "RPPS",
    "ADELI",
    "Profession",
    "Statut",
    "Progression (%)",
    "Temps de formation (min)",
    "Pré-test (%)",
    "Post-test (%)",
    "Évaluation finale (%)",
    "Achevé le",
    "Code d'attestation",
    "Statut de l'attestation",
];

pub fn roster_cells(line: &RosterLine) -> Vec<String> {
    vec![
        line.name.clone(),
        line.email.clone(),
        line.student_number.clone().unwrap_or_default(),
        line.rpps.clone().unwrap_or_default(),
        line.adeli.clone().unwrap_or_default(),
        profession(&line.profession),
        if line.status == EnrolmentStatus::Active {
            "inscrit"
        } else {
            "désinscrit"
        }
        .into(),
        line.progress_percent.to_string(),
        (line.active_seconds / 60).to_string(),
        percent(line.pre_test),
        percent(line.post_test),
        percent(line.final_score),
        date_time(line.completed_at),
        line.certificate_code
            .as_deref()
            .map(crate::certificates::model::grouped)
            .unwrap_or_default(),
        match line.certificate_status {
            Some(Validity::Valid) => "valide",
            Some(_) => "révoquée",
            None => "",
        }
        .into(),
    ]
}

pub fn roster_csv(
    pool: &Pool,
    course: &Course,
    session_id: &str,
    out: impl Write,
    bom: bool,
) -> anyhow::Result<()> {
    let mut csv = Csv::new(out, bom)?;
    csv.row(&ROSTER_HEADER)?;
    csv.flush()?;
    roster::for_each_page(pool, course, session_id, |lines| {
        for line in &lines {
            csv.row(&roster_cells(line))?;
        }
        Ok(())
    })?;
    csv.finish()?.flush()?;
    Ok(())
}

pub fn dashboard(
    pool: &Pool,
    course: &Course,
    session_id: &str,
    now: NaiveDateTime,
) -> anyhow::Result<Dashboard> {
    let mut builder = DashboardBuilder::default();
    roster::for_each_page(pool, course, session_id, |lines| {
        lines.iter().for_each(|l| builder.add(l, now));
        Ok(())
    })?;
    Ok(builder.finish())
}

/// The participants who completed the training body's DPC sessions in [from, to]: the
/// list an ODPC declares to the national agency.
pub fn dpc_declarations(
    pool: &Pool,
    sessions: &[(Session, Arc<Course>)],
    from: NaiveDate,
    to: NaiveDate,
    out: impl Write,
    bom: bool,
) -> anyhow::Result<()> {
    let mut csv = Csv::new(out, bom)?;
    csv.row(&[
        "RPPS",
        "ADELI",
        "Nom",
        "Prénom",
        "Profession",
        "Mode d'exercice",
        "Référence de l'action",
        "N° de session",
        "Orientation prioritaire",
        "Début de session",
        "Fin de session",
        "Durée de l'action (h)",
        "Achevé le",
        "Temps de connexion (min)",
        "RPPS vérifié (Pro Santé Connect)",
    ])?;
    csv.flush()?;
    let end = to
        .checked_add_days(chrono::Days::new(1))
        .ok_or_else(|| anyhow::anyhow!("date out of range"))?;
    // Days as the export's column shows them: Paris days.
    let (from, to) = (fr::paris_midnight(from), fr::paris_midnight(end));
    for (session, course) in sessions {
        let mut after = String::new();
        loop {
            let (page, attested, verified) = {
                let mut conn = pool.get()?;
                let page = store::completed_page(&mut conn, &session.id, from, to, &after)?;
                let accounts: Vec<String> = page.iter().map(|(_, a, ..)| a.id.clone()).collect();
                let verified = crate::identity::store::rpps_vouched_among(&mut conn, &accounts)?;
                let ids: Vec<String> = page.iter().map(|(e, ..)| e.id.clone()).collect();
                // Only actions whose certificate stands: a revoked one is not declared.
                let attested: std::collections::HashSet<String> =
                    store::certificates_of(&mut conn, &ids)?
                        .into_iter()
                        .filter(|(_, _, kind, _, revoked)| {
                            *kind == CertificateKind::Dpc && revoked.is_none()
                        })
                        .map(|(id, ..)| id)
                        .collect();
                (page, attested, verified)
            };
            let Some((last, ..)) = page.last() else { break };
            after = last.id.clone();
            let full = page.len() as i64 == store::PAGE;
            for (enrolment, account, completed_at, seconds) in page {
                if !attested.contains(&enrolment.id) {
                    continue;
                }
                csv.row(&[
                    account.rpps.unwrap_or_default(),
                    account.adeli.unwrap_or_default(),
                    // Accounts made before names were kept apart: the whole name as « Nom ».
                    account.last_name.unwrap_or(account.full_name),
                    account.first_name.unwrap_or_default(),
                    profession(&account.profession),
                    account
                        .mode_exercice
                        .as_deref()
                        .map(|m| {
                            ModeExercice::parse(m).map_or(m.to_owned(), |m| m.label().to_owned())
                        })
                        .unwrap_or_default(),
                    session.dpc_action_ref.clone().unwrap_or_default(),
                    session.dpc_session_no.clone().unwrap_or_default(),
                    session.dpc_orientation.clone().unwrap_or_default(),
                    session.opens_on.to_string(),
                    session.closes_on.to_string(),
                    fr::number_upto(f64::from(course.duration_minutes) / 60.0, 2),
                    fr::paris_day(completed_at).to_string(),
                    (seconds / 60).to_string(),
                    if verified.contains(&account.id) {
                        "oui"
                    } else {
                        "non"
                    }
                    .into(),
                ])?;
            }
            if !full {
                break;
            }
        }
    }
    csv.finish()?.flush()?;
    Ok(())
}

/// QVT module validation per student, for the curriculum's records.
pub fn promotion(
    pool: &Pool,
    sessions: &[(Session, Arc<Course>)],
    out: impl Write,
    bom: bool,
) -> anyhow::Result<()> {
    let mut csv = Csv::new(out, bom)?;
    csv.row(&[
        "Année universitaire",
        "Cursus",
        "Session",
        "N° étudiant",
        "Nom",
        "Courriel",
        "Module validé",
        "Date de validation",
        "Score (%)",
    ])?;
    csv.flush()?;
    for (session, course) in sessions {
        roster::for_each_page(pool, course, &session.id, |lines| {
            for line in lines.iter().filter(|l| l.status == EnrolmentStatus::Active) {
                csv.row(&[
                    session.academic_year.clone().unwrap_or_default(),
                    session.curriculum.clone().unwrap_or_default(),
                    session.title.clone(),
                    line.student_number.clone().unwrap_or_default(),
                    line.name.clone(),
                    line.email.clone(),
                    if line.completed_at.is_some() {
                        "oui"
                    } else {
                        "non"
                    }
                    .into(),
                    line.completed_at
                        .map_or(String::new(), |d| fr::paris_day(d).to_string()),
                    percent(line.final_score.or(line.post_test)),
                ])?;
            }
            Ok(())
        })?;
    }
    csv.finish()?.flush()?;
    Ok(())
}

/// The caller's DPC record over the period `day` counts for.
pub fn my_dpc(
    conn: &mut DbConn,
    user: &CurrentUser,
    day: NaiveDate,
) -> Result<DpcRecord, AppError> {
    let period = dpc::period_of(day)
        .ok_or_else(|| AppError::not_found("Aucune période de DPC connue pour cette date."))?;
    let mut actions = Vec::new();
    for certificate in certificates::of_account(conn, &user.id)? {
        if certificate.kind != CertificateKind::Dpc || certificate.revoked_at.is_some() {
            continue;
        }
        let snapshot = crate::certificates::service::snapshot_of(&certificate)?;
        actions.extend(dpc::action_of(&snapshot, &certificate.code, period));
    }
    Ok(dpc::record(period, actions))
}

/// The roster as an Excel workbook: rows go to a temporary file as they come (constant
/// memory), the workbook is then written out.
pub fn roster_xlsx(
    pool: &Pool,
    course: &Course,
    session_id: &str,
    out: impl Write + Send,
) -> anyhow::Result<()> {
    use rust_xlsxwriter::{Format, Workbook};

    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet_with_constant_memory()?;
    sheet.set_name("Inscrits")?;
    sheet.set_freeze_panes(1, 0)?;
    let bold = Format::new().set_bold();
    for (col, title) in ROSTER_HEADER.iter().enumerate() {
        sheet.write_string_with_format(0, col as u16, *title, &bold)?;
    }
    let mut row = 0u32;
    roster::for_each_page(pool, course, session_id, |lines| {
        for line in &lines {
            row += 1;
            for (col, text) in roster_cells(line).into_iter().enumerate() {
                // Strings are never formulas in a workbook: no neutralising needed.
                sheet.write_string(row, col as u16, text)?;
            }
            sheet.write_number(row, 7, line.progress_percent)?;
            sheet.write_number(row, 8, (line.active_seconds / 60) as f64)?;
            for (col, value) in [
                (9, line.pre_test),
                (10, line.post_test),
                (11, line.final_score),
            ] {
                if let Some(value) = value {
                    sheet.write_number(row, col, value)?;
                }
            }
        }
        Ok(())
    })?;
    workbook.save_to_writer(out)?;
    Ok(())
}
