//! The registrar's transcript of a cohort, one line per learner: CSV (semicolons, as French
//! spreadsheets expect, with formula-looking cells neutralised) and an A4 PDF.

use super::model::Grade;
use super::service::Transcript;
use crate::pdf::{Column, Document};

fn grade(value: Option<f64>) -> String {
    value
        .and_then(|g| Grade::parse(g).ok())
        .map_or(String::new(), |g| {
            g.printed().trim_end_matches("/20").to_owned()
        })
}

/// A spreadsheet must not run what a learner typed as their name.
fn cell(value: &str) -> String {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    }
}

fn label<T: serde::Serialize>(value: &Option<T>) -> String {
    value
        .as_ref()
        .and_then(|v| serde_json::to_value(v).ok())
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

pub fn csv(t: &Transcript) -> anyhow::Result<Vec<u8>> {
    let mut writer = csv::WriterBuilder::new()
        .delimiter(b';')
        .from_writer(Vec::new());
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
    writer.write_record(&header)?;
    for line in &t.lines {
        let mut row = vec![
            cell(&line.name),
            cell(&line.email),
            cell(line.student_number.as_deref().unwrap_or("")),
        ];
        row.extend(line.units.iter().map(|g| grade(*g)));
        row.push(cell(line.thesis_title.as_deref().unwrap_or("")));
        row.push(grade(line.thesis_grade));
        row.push(
            if line.online_complete {
                "terminé"
            } else {
                "en cours"
            }
            .into(),
        );
        row.push(label(&line.proposal));
        row.push(label(&line.decision));
        row.push(label(&line.mention));
        row.push(line.record_number.clone().unwrap_or_default());
        writer.write_record(&row)?;
    }
    Ok(writer.into_inner()?)
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
    let mut columns = vec![Column {
        title: "Nom",
        share: 3.0,
        right: false,
    }];
    columns.extend(units.iter().map(|u| Column {
        title: u,
        share: 0.9,
        right: true,
    }));
    columns.extend([
        Column {
            title: "Mémoire",
            share: 1.0,
            right: true,
        },
        Column {
            title: "Décision",
            share: 1.4,
            right: false,
        },
        Column {
            title: "Relevé",
            share: 2.2,
            right: false,
        },
    ]);
    let rows: Vec<Vec<String>> = t
        .lines
        .iter()
        .map(|l| {
            let mut row = vec![l.name.clone()];
            row.extend(l.units.iter().map(|g| grade(*g)));
            row.push(grade(l.thesis_grade));
            row.push(label(&l.decision));
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
    fn cells_that_look_like_formulas_are_neutralised() {
        assert_eq!(cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(cell("Zoé"), "Zoé");
        assert_eq!(grade(Some(12.5)), "12,5");
        assert_eq!(grade(None), "");
    }
}
