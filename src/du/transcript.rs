//! The registrar's transcript of a cohort, one line per learner: gathered from each
//! learner's file, then rendered as CSV and as an A4 PDF.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::file::file_of;
use super::model::{Decision, Grade, Mention};
use super::service::{session_for, Gate};
use crate::catalog::cache::CourseCache;
use crate::db::DbConn;
use crate::enrolment::store::{self as enrolment_store, Session};
use crate::error::AppError;
use crate::http::csv::Csv;
use crate::identity::auth::CurrentUser;
use crate::pdf::{Column, Document};

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

fn grade(value: Option<f64>) -> String {
    value
        .and_then(|g| Grade::parse(g).ok())
        .map_or(String::new(), |g| crate::fr::grade_value(g.value()))
}

/// The transcript as a `;` table, opened by French Excel; `bom` marks it UTF-8 for Excel.
pub fn csv(t: &Transcript, bom: bool) -> anyhow::Result<Vec<u8>> {
    let mut csv = Csv::new(Vec::new(), bom)?;
    let mut header = vec!["Nom".to_owned(), "Courriel".into(), "N° étudiant".into()];
    header.extend(t.unit_titles.iter().map(|u| format!("{u} (/20)")));
    header.extend(
        [
            "Mémoire",
            "Note du mémoire (/20)",
            "Parcours en ligne",
            "Proposition",
            "Décision",
            "Mention",
            "N° de relevé",
        ]
        .map(str::to_owned),
    );
    csv.row(&header)?;
    for line in &t.lines {
        let mut row = vec![
            line.name.clone(),
            line.email.clone(),
            line.student_number.clone().unwrap_or_default(),
        ];
        row.extend(line.units.iter().map(|g| grade(*g)));
        row.push(line.thesis_title.clone().unwrap_or_default());
        row.push(grade(line.thesis_grade));
        row.push(
            if line.online_complete {
                "terminé"
            } else {
                "en cours"
            }
            .into(),
        );
        row.push(line.proposal.map_or("", |d| d.label()).to_owned());
        row.push(line.decision.map_or("", |d| d.label()).to_owned());
        row.push(line.mention.map_or("", |m| m.label()).to_owned());
        row.push(line.record_number.clone().unwrap_or_default());
        csv.row(&row)?;
    }
    csv.finish()
}

pub fn pdf(t: &Transcript) -> anyhow::Result<Vec<u8>> {
    let mut doc = Document::new("Relevé de notes du diplôme");
    doc.paragraph("Relevé de notes", 18.0, true, true);
    doc.paragraph(&t.session.title, 11.0, false, true);
    if let Some(year) = &t.session.academic_year {
        doc.paragraph(&format!("Année universitaire {year}"), 10.0, false, true);
    }
    doc.space(10.0);
    let units: Vec<String> = (1..=t.unit_titles.len()).map(|i| format!("U{i}")).collect();
    let mut columns = vec![Column::keep("Nom")];
    columns.extend(units.iter().map(|u| Column::number(u)));
    columns.extend([
        Column::number("Mémoire"),
        Column::keep("Décision"),
        Column::keep("Mention"),
        Column::whole("Relevé"),
    ]);
    let rows: Vec<Vec<String>> = t
        .lines
        .iter()
        .map(|l| {
            let mut row = vec![l.name.clone()];
            row.extend(l.units.iter().map(|g| grade(*g)));
            row.push(grade(l.thesis_grade));
            row.push(l.decision.map_or("", |d| d.label()).to_owned());
            row.push(l.mention.map_or("", |m| m.label()).to_owned());
            row.push(l.record_number.clone().unwrap_or_default());
            row
        })
        .collect();
    doc.table(&columns, &rows);
    doc.heading("Unités");
    let legend: Vec<(&str, String)> = units
        .iter()
        .zip(&t.unit_titles)
        .map(|(u, title)| (u.as_str(), title.clone()))
        .collect();
    doc.fields(&legend);
    doc.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grades_print_without_the_scale() {
        assert_eq!(grade(Some(12.5)), "12,5");
        assert_eq!(grade(None), "");
    }
}
