//! The traceability record (relevé de connexion) of an enrolment, as CSV: who, which
//! session (with its DPC references), every interval of activity, and totals per lesson
//! and per day, in sections separated by an empty line. All times are UTC.

use std::collections::BTreeMap;

use super::store::IntervalRow;
use crate::catalog::model::Course;
use crate::enrolment::store::Session;
use crate::identity::store::Account;

type Section = Vec<Vec<String>>;

fn row(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|c| c.to_string()).collect()
}

pub fn csv(
    account: &Account,
    session: &Session,
    course: &Course,
    intervals: &[IntervalRow],
) -> anyhow::Result<Vec<u8>> {
    let title_of = |id: &str| {
        course
            .lessons
            .iter()
            .find(|l| l.id == id)
            .map_or(id.to_owned(), |l| l.title.clone())
    };
    let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let header: Section = vec![
        row(&["Relevé de connexion", "QVT Campus", "heures en UTC"]),
        row(&["Apprenant", &account.full_name]),
        row(&["Courriel", &account.email]),
        row(&["RPPS", &dash(&account.rpps)]),
        row(&["ADELI", &dash(&account.adeli)]),
        row(&["Formation", &course.title]),
        row(&["Session", &session.title]),
        row(&["Référence action DPC", &dash(&session.dpc_action_ref)]),
        row(&["Numéro de session DPC", &dash(&session.dpc_session_no)]),
        row(&["Numéro ODPC", &dash(&session.odpc_number)]),
    ];
    let mut detail: Section = vec![row(&["Date", "Leçon", "Début", "Fin", "Secondes actives"])];
    let mut per_lesson: BTreeMap<String, i64> = BTreeMap::new();
    let mut per_day: BTreeMap<String, i64> = BTreeMap::new();
    for i in intervals {
        let day = i.started_at.format("%Y-%m-%d").to_string();
        detail.push(vec![
            day.clone(),
            title_of(&i.lesson_id),
            i.started_at.format("%H:%M:%S").to_string(),
            i.ended_at.format("%H:%M:%S").to_string(),
            i.active_seconds.to_string(),
        ]);
        *per_lesson.entry(i.lesson_id.clone()).or_default() += i64::from(i.active_seconds);
        *per_day.entry(day).or_default() += i64::from(i.active_seconds);
    }
    let mut lessons: Section = vec![row(&["Total par leçon", "Leçon", "Secondes actives"])];
    for lesson in &course.lessons {
        if let Some(seconds) = per_lesson.get(&lesson.id) {
            lessons.push(vec![
                String::new(),
                lesson.title.clone(),
                seconds.to_string(),
            ]);
        }
    }
    let mut days: Section = vec![row(&["Total par jour", "Date", "Secondes actives"])];
    for (day, seconds) in &per_day {
        days.push(vec![String::new(), day.clone(), seconds.to_string()]);
    }
    let total: i64 = per_day.values().sum();
    let totals: Section = vec![row(&["Total", "", &total.to_string()])];

    let mut out = Vec::new();
    for (i, section) in [header, detail, lessons, days, totals]
        .into_iter()
        .enumerate()
    {
        if i > 0 {
            out.push(b'\n');
        }
        let mut writer = csv::WriterBuilder::new()
            .delimiter(b';')
            .flexible(true)
            .from_writer(Vec::new());
        for record in section {
            writer.write_record(&record)?;
        }
        out.extend(writer.into_inner()?);
    }
    Ok(out)
}
