//! The traceability record (relevé de connexion) of an enrolment: who, which session (with
//! its DPC references), every interval of activity, and totals per lesson and per day —
//! computed once as a [`Trace`], then written as CSV (sections separated by an empty line)
//! or as an A4 PDF. Times are stored in UTC and stated in Europe/Paris local time with
//! their offset (`2026-12-05 17:04:12 +01:00`), so an auditor reads the learner's clock and
//! can still get back to UTC without knowing when summer time started; days are local too.

use std::collections::BTreeMap;

use chrono::{NaiveDateTime, TimeZone};
use chrono_tz::Europe::Paris;

use super::activities::{Answer, AuditAnswer};
use super::store::IntervalRow;
use crate::catalog::model::Course;
use crate::enrolment::store::Session;
use crate::http::csv::cell;
use crate::identity::store::Account;
use crate::pdf::{self, Column};

/// Everything the record states, in the order it states it.
pub struct Trace {
    pub identity: Vec<(&'static str, String)>,
    pub intervals: Vec<TraceInterval>,
    pub per_lesson: Vec<(String, i64)>,
    pub per_day: Vec<(String, i64)>,
    /// (day, lesson, seconds), days in order and lessons in course order within a day.
    pub per_day_and_lesson: Vec<(String, String, i64)>,
    pub total_seconds: i64,
    /// The learner's answers to the lessons' activities, in course order.
    pub activities: Vec<TraceActivity>,
}

/// One answered activity: what the learner did, as the record states it.
pub struct TraceActivity {
    pub lesson: String,
    pub kind: String,
    pub title: String,
    pub saved_at: String,
    pub answer: String,
}

pub struct TraceInterval {
    pub day: String,
    pub lesson: String,
    pub start: String,
    pub end: String,
    pub seconds: i64,
}

impl Trace {
    pub fn new(
        account: &Account,
        session: &Session,
        course: &Course,
        intervals: &[IntervalRow],
        generated_at: NaiveDateTime,
    ) -> Self {
        let title_of = |id: &str| {
            course
                .lessons
                .iter()
                .find(|l| l.id == id)
                .map_or(id.to_owned(), |l| l.title.clone())
        };
        // Not "-": a spreadsheet cell starting with a minus is neutralised into "'-".
        let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "non renseigné".into());
        let identity = vec![
            ("Apprenant", account.full_name.clone()),
            ("Courriel", account.email.clone()),
            ("RPPS", dash(&account.rpps)),
            ("ADELI", dash(&account.adeli)),
            ("Formation", course.title.clone()),
            ("Version du programme", course.version_label.clone()),
            ("Session", session.title.clone()),
            ("Référence action DPC", dash(&session.dpc_action_ref)),
            ("Numéro de session DPC", dash(&session.dpc_session_no)),
            ("Orientation prioritaire", dash(&session.dpc_orientation)),
            ("Numéro ODPC", dash(&session.odpc_number)),
            ("Édité le", local_time(generated_at)),
        ];
        let position = |id: &str| course.lessons.iter().position(|l| l.id == id);
        let mut per_lesson: BTreeMap<&str, i64> = BTreeMap::new();
        let mut per_day: BTreeMap<String, i64> = BTreeMap::new();
        let mut per_pair: BTreeMap<(String, Option<usize>, &str), i64> = BTreeMap::new();
        let rows = intervals
            .iter()
            .map(|i| {
                // An interval belongs to the local day it started on.
                let day = Paris
                    .from_utc_datetime(&i.started_at)
                    .format("%Y-%m-%d")
                    .to_string();
                let seconds = i64::from(i.active_seconds);
                *per_lesson.entry(&i.lesson_id).or_default() += seconds;
                *per_day.entry(day.clone()).or_default() += seconds;
                *per_pair
                    .entry((day.clone(), position(&i.lesson_id), &i.lesson_id))
                    .or_default() += seconds;
                TraceInterval {
                    day,
                    lesson: title_of(&i.lesson_id),
                    start: local_time(i.started_at),
                    end: local_time(i.ended_at),
                    seconds,
                }
            })
            .collect();
        let per_day_and_lesson = per_pair
            .into_iter()
            .map(|((day, _, lesson), seconds)| (day, title_of(lesson), seconds))
            .collect();
        // Lessons in course order; a lesson no longer in the course still keeps its time.
        let mut lessons: Vec<(String, i64)> = course
            .lessons
            .iter()
            .filter_map(|l| {
                per_lesson
                    .remove(l.id.as_str())
                    .map(|s| (l.title.clone(), s))
            })
            .collect();
        lessons.extend(per_lesson.into_iter().map(|(id, s)| (id.to_owned(), s)));
        Self {
            identity,
            intervals: rows,
            total_seconds: per_day.values().sum(),
            per_lesson: lessons,
            per_day: per_day.into_iter().collect(),
            per_day_and_lesson,
            activities: Vec::new(),
        }
    }

    /// Adds the learner's activity answers (a self-audit as its count of each answer, then
    /// its comment; a written answer as written).
    pub fn with_activities(
        mut self,
        course: &Course,
        answers: &BTreeMap<(String, String), (Answer, NaiveDateTime)>,
    ) -> Self {
        for lesson in &course.lessons {
            for activity in &lesson.activities {
                let Some((answer, at)) = answers.get(&(lesson.id.clone(), activity.id.clone()))
                else {
                    continue;
                };
                let mut text = String::new();
                if !answer.items.is_empty() {
                    let count = |a: AuditAnswer| answer.items.iter().filter(|x| **x == a).count();
                    text = format!(
                        "{} item(s) : {} Oui, {} En partie, {} Non",
                        answer.items.len(),
                        count(AuditAnswer::Oui),
                        count(AuditAnswer::EnPartie),
                        count(AuditAnswer::Non)
                    );
                    if !answer.text.is_empty() {
                        text.push_str(". Commentaire : ");
                    }
                }
                text.push_str(&answer.text);
                self.activities.push(TraceActivity {
                    lesson: lesson.title.clone(),
                    kind: activity.kind.label().to_owned(),
                    title: activity.title.clone(),
                    saved_at: local_time(*at),
                    answer: text,
                });
            }
        }
        self
    }

    pub fn csv(&self) -> anyhow::Result<Vec<u8>> {
        let row = |cells: &[&str]| cells.iter().map(|c| c.to_string()).collect::<Vec<_>>();
        let mut header = vec![row(&["Relevé de connexion", "QVT Campus", ZONE_NOTE])];
        header.extend(self.identity.iter().map(|(k, v)| row(&[k, v])));
        let mut detail = vec![row(&["Date", "Leçon", "Début", "Fin", "Secondes actives"])];
        detail.extend(
            self.intervals
                .iter()
                .map(|i| row(&[&i.day, &i.lesson, &i.start, &i.end, &i.seconds.to_string()])),
        );
        let mut lessons = vec![row(&["Total par leçon", "Leçon", "Secondes actives"])];
        lessons.extend(
            self.per_lesson
                .iter()
                .map(|(l, s)| row(&["", l, &s.to_string()])),
        );
        let mut days = vec![row(&["Total par jour", "Date", "Secondes actives"])];
        days.extend(
            self.per_day
                .iter()
                .map(|(d, s)| row(&["", d, &s.to_string()])),
        );
        let mut pairs = vec![row(&[
            "Total par jour et par leçon",
            "Date",
            "Leçon",
            "Secondes actives",
        ])];
        pairs.extend(
            self.per_day_and_lesson
                .iter()
                .map(|(d, l, s)| row(&["", d, l, &s.to_string()])),
        );
        let totals = vec![row(&["Total", "", &self.total_seconds.to_string()])];
        let mut activities = vec![row(&[
            "Activités",
            "Leçon",
            "Type",
            "Activité",
            "Enregistrée le",
            "Réponse",
        ])];
        activities.extend(
            self.activities
                .iter()
                .map(|a| row(&["", &a.lesson, &a.kind, &a.title, &a.saved_at, &a.answer])),
        );

        let mut out = Vec::new();
        for (i, section) in [header, detail, lessons, days, pairs, totals, activities]
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
            // Names and titles are typed by people: no cell may run as a formula.
            for record in section {
                writer.write_record(record.iter().map(|c| cell(c).into_owned()))?;
            }
            out.extend(writer.into_inner()?);
        }
        Ok(out)
    }

    pub fn pdf(&self) -> anyhow::Result<Vec<u8>> {
        let mut doc = pdf::Document::new("Relevé de connexion");
        doc.paragraph("Relevé de connexion", 18.0, true, true);
        doc.paragraph(
            &format!("Temps de formation mesuré par la plateforme QVT Campus ({ZONE_NOTE})"),
            10.0,
            false,
            true,
        );
        doc.space(12.0);
        let identity: Vec<(&str, String)> =
            self.identity.iter().map(|(k, v)| (*k, v.clone())).collect();
        doc.fields(&identity);

        doc.heading("Total");
        doc.fields(&[("Temps actif total", duration(self.total_seconds))]);

        doc.heading("Total par leçon");
        let rows: Vec<Vec<String>> = self
            .per_lesson
            .iter()
            .map(|(l, s)| vec![l.clone(), duration(*s), s.to_string()])
            .collect();
        doc.table(
            &[col("Leçon", 5.0), num("Durée", 1.5), num("Secondes", 1.2)],
            &rows,
        );

        doc.heading("Total par jour");
        let rows: Vec<Vec<String>> = self
            .per_day
            .iter()
            .map(|(d, s)| vec![d.clone(), duration(*s), s.to_string()])
            .collect();
        doc.table(
            &[col("Date", 5.0), num("Durée", 1.5), num("Secondes", 1.2)],
            &rows,
        );

        doc.heading("Total par jour et par leçon");
        let rows: Vec<Vec<String>> = self
            .per_day_and_lesson
            .iter()
            .map(|(d, l, s)| vec![d.clone(), l.clone(), duration(*s), s.to_string()])
            .collect();
        doc.table(
            &[
                col("Date", 1.6),
                col("Leçon", 3.6),
                num("Durée", 1.5),
                num("Secondes", 1.2),
            ],
            &rows,
        );

        if !self.activities.is_empty() {
            doc.heading("Activités réalisées");
            for a in &self.activities {
                doc.paragraph(
                    &format!(
                        "{} · {} : {} (enregistrée le {})",
                        a.lesson, a.kind, a.title, a.saved_at
                    ),
                    10.0,
                    true,
                    false,
                );
                doc.paragraph(&a.answer, 10.0, false, false);
                doc.space(6.0);
            }
        }

        doc.heading("Détail des intervalles d'activité");
        let rows: Vec<Vec<String>> = self
            .intervals
            .iter()
            .map(|i| {
                vec![
                    i.lesson.clone(),
                    i.start.clone(),
                    i.end.clone(),
                    i.seconds.to_string(),
                ]
            })
            .collect();
        // No date column: each time carries its date, whole on one line.
        doc.table(
            &[
                col("Leçon", 3.0),
                col("Début", 2.7),
                col("Fin", 2.7),
                num("Secondes", 1.1),
            ],
            &rows,
        );
        doc.finish()
    }
}

fn col(title: &str, share: f32) -> Column<'_> {
    Column {
        title,
        share,
        right: false,
    }
}

fn num(title: &str, share: f32) -> Column<'_> {
    Column {
        title,
        share,
        right: true,
    }
}

/// What the record says of its times, at the top of both formats.
const ZONE_NOTE: &str = "heures de Paris (Europe/Paris), suivies de leur décalage avec UTC";

/// `2026-12-05 17:04:12 +01:00`: the learner's wall clock, with the offset that makes it
/// unambiguous (the hour repeated when summer time ends included).
pub fn local_time(utc: NaiveDateTime) -> String {
    Paris
        .from_utc_datetime(&utc)
        .format("%Y-%m-%d %H:%M:%S %:z")
        .to_string()
}

/// "1 h 05 min 07 s": how people read time on a record.
pub fn duration(seconds: i64) -> String {
    let (h, m, s) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    if h > 0 {
        format!("{h} h {m:02} min {s:02} s")
    } else {
        format!("{m} min {s:02} s")
    }
}

#[cfg(test)]
mod tests {
    use super::{duration, local_time};

    fn utc(text: &str) -> chrono::NaiveDateTime {
        chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn times_read_in_paris_with_their_offset_across_both_changes() {
        assert_eq!(
            local_time(utc("2026-12-05 16:04:12")),
            "2026-12-05 17:04:12 +01:00"
        );
        assert_eq!(
            local_time(utc("2026-07-01 10:00:00")),
            "2026-07-01 12:00:00 +02:00"
        );
        // Summer time ends on 25 October 2026 at 01:00 UTC: 02:30 happens twice in Paris.
        assert_eq!(
            local_time(utc("2026-10-25 00:30:00")),
            "2026-10-25 02:30:00 +02:00"
        );
        assert_eq!(
            local_time(utc("2026-10-25 01:30:00")),
            "2026-10-25 02:30:00 +01:00"
        );
        // And a UTC evening is already the next day in Paris.
        assert_eq!(
            local_time(utc("2026-12-31 23:30:00")),
            "2027-01-01 00:30:00 +01:00"
        );
    }

    #[test]
    fn durations_read_as_hours_minutes_seconds() {
        assert_eq!(duration(0), "0 min 00 s");
        assert_eq!(duration(3907), "1 h 05 min 07 s");
        assert_eq!(duration(59), "0 min 59 s");
    }
}
