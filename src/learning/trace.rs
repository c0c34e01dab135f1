//! The traceability record (relevé de connexion) of an enrolment: who, which session (with
//! its DPC references), every interval of activity, and totals per lesson and per day —
//! computed once as a [`Trace`], then written as CSV (sections separated by an empty line)
//! or as an A4 PDF. Times are stored in UTC and stated in Europe/Paris local time with
//! their offset (`2026-12-05 17:04:12 +01:00` in the CSV, `05/12/2026 17:04:12 UTC+01:00`
//! in the PDF, both from `crate::fr`), so an auditor reads the learner's clock and can
//! still get back to UTC without knowing when summer time started; days are local too.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};

use super::activities::{Answer, AuditAnswer};
use super::store::IntervalRow;
use crate::catalog::model::Course;
use crate::enrolment::store::Session;
use crate::fr;
use crate::http::csv::Csv;
use crate::identity::store::Account;
use crate::pdf::{self, Column};

/// Everything the record states, in the order it states it.
pub struct Trace {
    pub identity: Vec<(&'static str, String)>,
    /// When the record was made (UTC), stated last in its identity.
    pub generated_at: NaiveDateTime,
    pub intervals: Vec<TraceInterval>,
    pub per_lesson: Vec<(String, i64)>,
    /// Local days in Paris.
    pub per_day: Vec<(NaiveDate, i64)>,
    /// (day, lesson, seconds), days in order and lessons in course order within a day.
    pub per_day_and_lesson: Vec<(NaiveDate, String, i64)>,
    pub total_seconds: i64,
    /// The learner's answers to the lessons' activities, in course order.
    pub activities: Vec<TraceActivity>,
}

/// One answered activity: what the learner did, as the record states it.
pub struct TraceActivity {
    pub lesson: String,
    pub kind: String,
    pub title: String,
    /// UTC.
    pub saved_at: NaiveDateTime,
    pub answer: String,
}

pub struct TraceInterval {
    /// The local day in Paris it started on.
    pub day: NaiveDate,
    pub lesson: String,
    /// UTC.
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
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
        ];
        let position = |id: &str| course.lessons.iter().position(|l| l.id == id);
        let mut per_lesson: BTreeMap<&str, i64> = BTreeMap::new();
        let mut per_day: BTreeMap<NaiveDate, i64> = BTreeMap::new();
        let mut per_pair: BTreeMap<(NaiveDate, Option<usize>, &str), i64> = BTreeMap::new();
        let rows = intervals
            .iter()
            .map(|i| {
                // An interval belongs to the local day it started on.
                let day = fr::paris_day(i.started_at);
                let seconds = i64::from(i.active_seconds);
                *per_lesson.entry(&i.lesson_id).or_default() += seconds;
                *per_day.entry(day).or_default() += seconds;
                *per_pair
                    .entry((day, position(&i.lesson_id), &i.lesson_id))
                    .or_default() += seconds;
                TraceInterval {
                    day,
                    lesson: title_of(&i.lesson_id),
                    start: i.started_at,
                    end: i.ended_at,
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
            generated_at,
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
                    saved_at: *at,
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
        header.push(row(&["Édité le", &fr::export_time(self.generated_at)]));
        let mut detail = vec![row(&["Date", "Leçon", "Début", "Fin", "Secondes actives"])];
        detail.extend(self.intervals.iter().map(|i| {
            row(&[
                &i.day.to_string(),
                &i.lesson,
                &fr::export_time(i.start),
                &fr::export_time(i.end),
                &i.seconds.to_string(),
            ])
        }));
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
                .map(|(d, s)| row(&["", &d.to_string(), &s.to_string()])),
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
                .map(|(d, l, s)| row(&["", &d.to_string(), l, &s.to_string()])),
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
        activities.extend(self.activities.iter().map(|a| {
            row(&[
                "",
                &a.lesson,
                &a.kind,
                &a.title,
                &fr::export_time(a.saved_at),
                &a.answer,
            ])
        }));

        // Names and titles are typed by people: every cell goes through the neutralising
        // writer, so none runs as a formula. The tables are separated by an empty line.
        let mut out = Vec::new();
        for (i, section) in [header, detail, lessons, days, pairs, totals, activities]
            .into_iter()
            .enumerate()
        {
            if i > 0 {
                out.push(b'\n');
            }
            let mut csv = Csv::flexible(out, false)?;
            for record in section {
                csv.row(&record)?;
            }
            out = csv.finish()?;
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
        let mut identity: Vec<(&str, String)> =
            self.identity.iter().map(|(k, v)| (*k, v.clone())).collect();
        identity.push(("Édité le", fr::record_time(self.generated_at)));
        doc.fields(&identity);

        doc.heading("Total");
        doc.fields(&[("Temps actif total", fr::duration(self.total_seconds))]);

        let seconds = |s: &i64| s.to_string();
        doc.heading("Total par leçon");
        let rows: Vec<Vec<String>> = self
            .per_lesson
            .iter()
            .map(|(l, s)| vec![l.clone(), fr::duration(*s), seconds(s)])
            .collect();
        doc.table(
            &[
                Column::text("Leçon"),
                Column::number("Durée"),
                Column::number("Secondes"),
            ],
            &rows,
        );

        doc.heading("Total par jour");
        let rows: Vec<Vec<String>> = self
            .per_day
            .iter()
            .map(|(d, s)| vec![fr::short_date(*d), fr::duration(*s), seconds(s)])
            .collect();
        doc.table(
            &[
                Column::whole("Date"),
                Column::number("Durée"),
                Column::number("Secondes"),
            ],
            &rows,
        );

        doc.heading("Total par jour et par leçon");
        let rows: Vec<Vec<String>> = self
            .per_day_and_lesson
            .iter()
            .map(|(d, l, s)| vec![fr::short_date(*d), l.clone(), fr::duration(*s), seconds(s)])
            .collect();
        doc.table(
            &[
                Column::whole("Date"),
                Column::text("Leçon"),
                Column::number("Durée"),
                Column::number("Secondes"),
            ],
            &rows,
        );

        if !self.activities.is_empty() {
            doc.heading("Activités réalisées");
            for a in &self.activities {
                doc.paragraph(
                    &format!(
                        "{} · {} : {} (enregistrée le {})",
                        a.lesson,
                        a.kind,
                        a.title,
                        fr::date_time(a.saved_at)
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
                    fr::record_time(i.start),
                    fr::record_time(i.end),
                    seconds(&i.seconds),
                ]
            })
            .collect();
        // No date column: each time carries its date, whole on one line.
        doc.table(
            &[
                Column::text("Leçon"),
                Column::whole("Début"),
                Column::whole("Fin"),
                Column::number("Secondes"),
            ],
            &rows,
        );
        doc.finish()
    }
}

/// What the record says of its times, at the top of both formats.
const ZONE_NOTE: &str = "heures de Paris (Europe/Paris), suivies de leur décalage avec UTC";

/// `2026-12-05 17:04:12 +01:00` (kept here for the pages, until they call `crate::fr`).
pub use crate::fr::export_time as local_time;

/// "1 h 05 min 07 s" (kept here for the pages, until they call `crate::fr`).
pub use crate::fr::duration;
