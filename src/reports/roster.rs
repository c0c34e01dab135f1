//! A session's roster, one line per enrolment, built a page at a time, and the dashboard
//! figures computed from the same lines.

use std::collections::HashMap;

use chrono::{Duration, NaiveDateTime};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::store;
use crate::catalog::model::{Course, CourseKind, QuizRole};
use crate::certificates::model::{CertificateKind, Validity};
use crate::completion::results::{round2, summary, Scored};
use crate::db::{DbConn, Pool};
use crate::enrolment::model::EnrolmentStatus;
use crate::enrolment::store::Enrolment;
use crate::identity::store::Account;

/// What the roster says of one enrolment.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RosterLine {
    pub enrolment_id: String,
    pub name: String,
    pub email: String,
    pub student_number: Option<String>,
    pub rpps: Option<String>,
    pub adeli: Option<String>,
    pub profession: String,
    pub mode_exercice: Option<String>,
    /// `active` or `withdrawn`.
    pub status: EnrolmentStatus,
    #[serde(with = "crate::http::timestamps::utc")]
    pub enrolled_at: NaiveDateTime,
    /// Lessons done, in percent.
    pub progress_percent: u32,
    pub active_seconds: i64,
    #[serde(with = "crate::http::timestamps::utc_option")]
    pub last_activity: Option<NaiveDateTime>,
    pub pre_test: Option<f64>,
    pub post_test: Option<f64>,
    /// Best score at the graded quizzes.
    pub final_score: Option<f64>,
    #[serde(with = "crate::http::timestamps::utc_option")]
    pub completed_at: Option<NaiveDateTime>,
    pub certificate_code: Option<String>,
    /// `valid` or `revoked`.
    pub certificate_status: Option<Validity>,
}

fn group<T>(rows: Vec<(String, T)>) -> HashMap<String, Vec<T>> {
    let mut map: HashMap<String, Vec<T>> = HashMap::new();
    for (id, value) in rows {
        map.entry(id).or_default().push(value);
    }
    map
}

/// The lines of one page of enrolments: five queries whatever the page's size.
pub fn lines(
    conn: &mut DbConn,
    course: &Course,
    page: Vec<(Enrolment, Account)>,
) -> diesel::QueryResult<Vec<RosterLine>> {
    let ids: Vec<String> = page.iter().map(|(e, _)| e.id.clone()).collect();
    let lessons = group(store::lessons(conn, &ids)?);
    let intervals = group(
        store::intervals(conn, &ids)?
            .into_iter()
            .map(|(id, s, end)| (id, (s, end)))
            .collect(),
    );
    let attempts = group(
        store::attempts(conn, &ids)?
            .into_iter()
            .map(|(id, quiz_id, number, percent, passed)| {
                (
                    id,
                    Scored {
                        quiz_id,
                        number,
                        percent,
                        passed,
                    },
                )
            })
            .collect(),
    );
    let completed: HashMap<String, NaiveDateTime> =
        store::completions_of(conn, &ids)?.into_iter().collect();
    let mut certificates = group(
        store::certificates_of(conn, &ids)?
            .into_iter()
            // A DU's record (`du_record`) is issued after its attestation: the newest stands.
            .filter(|(_, _, kind, _, _)| {
                *kind == CertificateKind::from(course.kind)
                    || (course.kind == CourseKind::Du && *kind == CertificateKind::DuRecord)
            })
            .map(|(id, code, _, issued, revoked)| (id, (issued, code, revoked)))
            .collect(),
    );
    let total_lessons = course.lessons.len().max(1);
    let graded: Vec<&str> = course
        .quizzes
        .iter()
        .filter(|q| q.role == QuizRole::Graded)
        .map(|q| q.id.as_str())
        .collect();
    Ok(page
        .into_iter()
        .map(|(enrolment, account)| {
            let id = &enrolment.id;
            let done = lessons
                .get(id)
                .map_or(0, |l| l.iter().filter(|d| **d).count());
            let spent = intervals.get(id);
            let results = summary(course, attempts.get(id).map_or(&[][..], Vec::as_slice));
            // The newest certificate stands (an older one was replaced).
            let certificate = certificates.get_mut(id).and_then(|c| {
                c.sort();
                c.pop()
            });
            RosterLine {
                enrolment_id: enrolment.id.clone(),
                name: account.full_name,
                email: account.email,
                student_number: account.student_number,
                rpps: account.rpps,
                adeli: account.adeli,
                profession: account.profession,
                mode_exercice: account.mode_exercice,
                status: enrolment.status,
                enrolled_at: enrolment.enrolled_at,
                progress_percent: (done * 100 / total_lessons) as u32,
                active_seconds: spent.map_or(0, |s| s.iter().map(|(s, _)| i64::from(*s)).sum()),
                last_activity: spent.and_then(|s| s.iter().map(|(_, end)| *end).max()),
                pre_test: results.pre_test,
                post_test: results.post_test,
                final_score: results
                    .quizzes
                    .iter()
                    .filter(|q| graded.contains(&q.quiz_id.as_str()))
                    .filter_map(|q| q.best_percent)
                    .reduce(f64::max),
                completed_at: completed.get(id).copied(),
                certificate_status: certificate
                    .as_ref()
                    .map(|(_, _, revoked)| Validity::of(revoked.is_some())),
                certificate_code: certificate.map(|(_, code, _)| code),
            }
        })
        .collect())
}

/// Calls `each` with the lines of every page of the session, in enrolment-id order. A
/// connection is held only while a page is read, never while a slow client takes it.
pub fn for_each_page(
    pool: &Pool,
    course: &Course,
    session_id: &str,
    mut each: impl FnMut(Vec<RosterLine>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut after = String::new();
    loop {
        let (lines, full) = {
            let mut conn = pool.get()?;
            let page = store::page(&mut conn, session_id, &after)?;
            let Some((last, _)) = page.last() else {
                return Ok(());
            };
            after = last.id.clone();
            let full = page.len() as i64 == store::PAGE;
            (lines(&mut conn, course, page)?, full)
        };
        each(lines)?;
        if !full {
            return Ok(());
        }
    }
}

/// A session at a glance.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct Dashboard {
    /// Active enrolments.
    pub enrolled: u64,
    pub withdrawn: u64,
    /// Active enrolments with time on task in the last 7 days.
    pub active_last_7_days: u64,
    pub completed: u64,
    /// Completed among the active enrolments, in percent.
    pub completion_rate: f64,
    /// From enrolment to completion, in hours.
    pub median_hours_to_completion: Option<f64>,
    /// Mean post-test minus pre-test, in points, over those who took both.
    pub average_gain: Option<f64>,
}

/// Folds roster lines into the dashboard (pure: the tests compare it with their own sums).
#[derive(Default)]
pub struct DashboardBuilder {
    dashboard: Dashboard,
    hours: Vec<f64>,
    gains: Vec<f64>,
}

impl DashboardBuilder {
    pub fn add(&mut self, line: &RosterLine, now: NaiveDateTime) {
        let d = &mut self.dashboard;
        if line.status != EnrolmentStatus::Active {
            d.withdrawn += 1;
            return;
        }
        d.enrolled += 1;
        if line
            .last_activity
            .is_some_and(|at| at >= now - Duration::days(7))
        {
            d.active_last_7_days += 1;
        }
        if let Some(done) = line.completed_at {
            d.completed += 1;
            self.hours
                .push((done - line.enrolled_at).num_seconds() as f64 / 3600.0);
        }
        if let (Some(pre), Some(post)) = (line.pre_test, line.post_test) {
            self.gains.push(post - pre);
        }
    }

    pub fn finish(mut self) -> Dashboard {
        let d = &mut self.dashboard;
        if d.enrolled > 0 {
            d.completion_rate = round2(d.completed as f64 * 100.0 / d.enrolled as f64);
        }
        self.hours.sort_by(f64::total_cmp);
        d.median_hours_to_completion = match self.hours.len() {
            0 => None,
            n if n % 2 == 1 => Some(round2(self.hours[n / 2])),
            n => Some(round2((self.hours[n / 2 - 1] + self.hours[n / 2]) / 2.0)),
        };
        if !self.gains.is_empty() {
            d.average_gain = Some(round2(
                self.gains.iter().sum::<f64>() / self.gains.len() as f64,
            ));
        }
        self.dashboard
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(
        status: EnrolmentStatus,
        enrolled: i64,
        completed: Option<i64>,
        pre_post: Option<(f64, f64)>,
    ) -> RosterLine {
        let base = chrono::NaiveDate::from_ymd_opt(2026, 11, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        RosterLine {
            enrolment_id: "e".into(),
            name: "n".into(),
            email: "e@x".into(),
            student_number: None,
            rpps: None,
            adeli: None,
            profession: "infirmier".into(),
            mode_exercice: None,
            status,
            enrolled_at: base + Duration::hours(enrolled),
            progress_percent: 0,
            active_seconds: 0,
            last_activity: completed.map(|h| base + Duration::hours(h)),
            pre_test: pre_post.map(|p| p.0),
            post_test: pre_post.map(|p| p.1),
            final_score: None,
            completed_at: completed.map(|h| base + Duration::hours(h)),
            certificate_code: None,
            certificate_status: None,
        }
    }

    #[test]
    fn the_dashboard_counts_rates_medians_and_gains() {
        let now = chrono::NaiveDate::from_ymd_opt(2026, 11, 5)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        let mut b = DashboardBuilder::default();
        for l in [
            line(EnrolmentStatus::Active, 0, Some(10), Some((40.0, 70.0))),
            line(EnrolmentStatus::Active, 0, Some(30), Some((50.0, 60.0))),
            line(EnrolmentStatus::Active, 0, None, None),
            line(EnrolmentStatus::Active, 0, None, Some((20.0, 20.0))),
            line(EnrolmentStatus::Withdrawn, 0, Some(5), None),
        ] {
            b.add(&l, now);
        }
        let d = b.finish();
        assert_eq!((d.enrolled, d.withdrawn, d.completed), (4, 1, 2));
        assert_eq!(d.completion_rate, 50.0);
        assert_eq!(d.median_hours_to_completion, Some(20.0));
        assert_eq!(d.average_gain, Some(13.33));
        assert_eq!(d.active_last_7_days, 2);
    }
}
