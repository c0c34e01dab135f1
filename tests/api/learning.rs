//! The learning path: lesson order, server-measured time, completion once, the trace.

use std::time::Duration;

use diesel::prelude::*;
use qvt_campus::db::schema::{completions, time_intervals};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{
    access_cookie, course_with_completion, lesson_ids, no_redirects, pdf_text, postgres_base_url,
    problem, real_courses, setup_in, Setup, TestApp,
};
use crate::journeys::{adeli_of, User};

const COURSE: &str = "qvt-formation-initiale";

struct Learner {
    s: Setup,
    user: User,
    enrolment: String,
    lessons: Vec<String>,
    _courses: tempfile::TempDir,
}

async fn enrolled_learner(completion: &str) -> Learner {
    let courses = course_with_completion(COURSE, completion);
    let s = setup_in(courses.path().to_path_buf()).await;
    let session = s.qvt_session(json!({})).await;
    let user = s.app.learner("apprenante@univ-exemple.fr").await;
    let enrolment: Value = s
        .enrol(&user, &session, json!({}))
        .await
        .json()
        .await
        .unwrap();
    let lessons = lesson_ids(&s.app, COURSE).await;
    Learner {
        s,
        user,
        enrolment: enrolment["id"].as_str().unwrap().to_owned(),
        lessons,
        _courses: courses,
    }
}

impl Learner {
    fn path(&self, rest: &str) -> String {
        format!("/api/v1/enrolments/{}{rest}", self.enrolment)
    }
    /// Opens a lesson and, if it opens, does its activities (what finishing it takes).
    async fn open(&self, lesson: &str) -> reqwest::Response {
        let path = self.path(&format!("/lessons/{lesson}"));
        let opened = self.s.app.get_as(&self.user.token, &path).await;
        if !opened.status().is_success() {
            return opened;
        }
        self.s
            .app
            .work_through(&self.user.token, &self.enrolment, lesson)
            .await;
        self.s.app.get_as(&self.user.token, &path).await
    }
    async fn beat(&self, lesson: &str, id: &str) -> i64 {
        self.beat_on(&self.s.app, lesson, id).await
    }
    async fn beat_on(&self, app: &TestApp, lesson: &str, id: &str) -> i64 {
        let response = app
            .post_as(
                &self.user.token,
                &self.path(&format!("/lessons/{lesson}/heartbeat")),
                &json!({ "beat_id": id }),
            )
            .await;
        assert_eq!(response.status().as_u16(), 200);
        response.json::<Value>().await.unwrap()["credited_seconds"]
            .as_i64()
            .unwrap()
    }
    async fn progress(&self) -> Value {
        self.s
            .app
            .get_json(&self.user.token, &self.path("/progress"))
            .await
    }
    async fn complete(&self, lesson: &str) -> reqwest::Response {
        self.s
            .app
            .post_as(
                &self.user.token,
                &self.path(&format!("/lessons/{lesson}/complete")),
                &json!({}),
            )
            .await
    }
}

#[tokio::test]
async fn lessons_unlock_in_order_and_reading_time_is_measured_by_the_server() {
    let l = enrolled_learner("sequential = true\nmin_lesson_seconds = 1").await;
    let (first, second) = (&l.lessons[0], &l.lessons[1]);

    problem(l.open(second).await, 409).await;
    let opened: Value = l.open(first).await.json().await.unwrap();
    assert!(
        opened["html"].as_str().unwrap().contains("<h2>"),
        "rendered HTML"
    );
    let too_soon = problem(l.complete(first).await, 409).await;
    assert!(too_soon["detail"].as_str().unwrap().contains("lecture"));

    assert_eq!(l.beat(first, "b1").await, 0);
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let credited = l.beat(first, "b2").await;
    assert!((1..=2).contains(&credited), "{credited}");
    assert_eq!(
        l.beat(first, "b2").await,
        0,
        "a retried heartbeat counts nothing"
    );

    assert_eq!(l.complete(first).await.status().as_u16(), 200);
    assert_eq!(l.open(second).await.status().as_u16(), 200, "unlocked");
    let progress = l.progress().await;
    assert_eq!(progress["lessons"][0]["state"], "completed");
    assert_eq!(progress["lessons"][1]["state"], "viewed");
    assert_eq!(progress["lessons"][2]["state"], "locked");
    assert_eq!(progress["active_seconds"].as_i64(), Some(credited));
    assert_eq!(progress["completed"], false);
}

#[tokio::test]
async fn a_lesson_opened_in_many_tabs_at_once_is_viewed_once() {
    let l = enrolled_learner("min_lesson_seconds = 0").await;

    // Act: each lesson's first view, twelve times at once (tabs, a double click).
    let mut statuses = Vec::new();
    for lesson in &l.lessons {
        let url = l.s.app.url(&l.path(&format!("/lessons/{lesson}")));
        let opens = (0..12).map(|_| {
            let (client, url, token) = (l.s.app.client.clone(), url.clone(), l.user.token.clone());
            tokio::spawn(async move {
                let response = client.get(url).bearer_auth(token).send().await.unwrap();
                response.status().as_u16()
            })
        });
        for status in futures_util::future::join_all(opens).await {
            statuses.push(status.unwrap());
        }
    }

    // Assert: no duplicate first view failed a request; each lesson is viewed.
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let progress = l.progress().await;
    let states: Vec<&str> = progress["lessons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|lesson| lesson["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, vec!["viewed"; l.lessons.len()]);
}

#[tokio::test]
async fn twenty_simultaneous_final_events_complete_the_course_once() {
    // Arrange: every lesson done but the last.
    let l = enrolled_learner("min_lesson_seconds = 0").await;
    for lesson in &l.lessons {
        l.open(lesson).await;
    }
    let (last, others) = l.lessons.split_last().unwrap();
    for lesson in others {
        let done: Value = l.complete(lesson).await.json().await.unwrap();
        assert_eq!(done["course_completed"], false);
    }

    // Act: the last lesson marked done by 20 requests at once.
    let url = l.s.app.url(&l.path(&format!("/lessons/{last}/complete")));
    let calls = (0..20).map(|_| {
        let (client, url, token) = (l.s.app.client.clone(), url.clone(), l.user.token.clone());
        tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(token)
                .json(&json!({}))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        })
    });
    let answers: Vec<Value> = futures_util::future::join_all(calls)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();

    // Assert
    assert!(
        answers.iter().all(|a| a["course_completed"] == true),
        "{answers:?}"
    );
    assert_eq!(
        answers
            .iter()
            .filter(|a| a["completed_now"] == true)
            .count(),
        1
    );
    let rows: i64 = completions::table
        .count()
        .get_result(&mut l.s.app.conn())
        .unwrap();
    assert_eq!(rows, 1);
    let progress = l.progress().await;
    assert_eq!(
        (
            progress["completed"].as_bool(),
            progress["percent"].as_i64()
        ),
        (Some(true), Some(100))
    );
    assert!(progress["missing"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn the_real_courses_require_their_quizzes_before_completion() {
    let s = setup_in(real_courses()).await;
    let session = s.qvt_session(json!({})).await;
    let user = s.app.learner("lucide@univ-exemple.fr").await;
    let enrolment: Value = s
        .enrol(&user, &session, json!({}))
        .await
        .json()
        .await
        .unwrap();
    let progress: Value = s
        .app
        .get_json(
            &user.token,
            &format!(
                "/api/v1/enrolments/{}/progress",
                enrolment["id"].as_str().unwrap()
            ),
        )
        .await;
    let missing: Vec<&str> = progress["missing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    assert!(
        missing.iter().any(|m| m.contains("leçon(s) à terminer")),
        "{missing:?}"
    );
    assert!(missing.iter().any(|m| m.starts_with("quiz")), "{missing:?}");
}

fn trace_totals(csv: &str) -> (i64, i64) {
    let mut rows = 0;
    let mut total = 0;
    let mut in_intervals = false;
    for line in csv.lines() {
        let cells: Vec<&str> = line.split(';').collect();
        match cells.first().copied() {
            Some("Date") => in_intervals = true,
            Some("") | None => in_intervals = false,
            Some("Total") => total = cells[2].parse().unwrap(),
            Some(_) if in_intervals => rows += cells[4].parse::<i64>().unwrap(),
            _ => {}
        }
    }
    (rows, total)
}

#[tokio::test]
async fn the_trace_totals_equal_the_recorded_intervals() {
    let l = enrolled_learner("min_lesson_seconds = 0").await;
    let (a, b) = (&l.lessons[0], &l.lessons[1]);
    l.open(a).await;
    l.open(b).await;
    l.beat(a, "1").await;
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    l.beat(a, "2").await;
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    l.beat(b, "3").await;
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    l.beat(b, "4").await;

    let response = l.s.app.get_as(&l.user.token, &l.path("/trace.csv")).await;

    assert_eq!(response.status().as_u16(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let csv = response.text().await.unwrap();
    let stored: Vec<i32> = time_intervals::table
        .select(time_intervals::active_seconds)
        .load(&mut l.s.app.conn())
        .unwrap();
    let stored: i64 = stored.into_iter().map(i64::from).sum();
    let (rows, total) = trace_totals(&csv);
    assert!(stored >= 3, "{stored}");
    assert_eq!((rows, total), (stored, stored), "{csv}");
    assert!(
        csv.contains(&format!("ADELI;{}", adeli_of(&l.user.email))),
        "{csv}"
    );
    assert!(csv.contains("Total par leçon") && csv.contains("Total par jour"));
    // The organisation's staff may read it too.
    assert_eq!(
        l.s.app
            .get_as(&l.s.dean.token, &l.path("/trace.csv"))
            .await
            .status()
            .as_u16(),
        200
    );
}

#[tokio::test]
async fn the_trace_pdf_states_the_learner_the_session_and_the_same_totals() {
    let l = enrolled_learner("min_lesson_seconds = 0").await;
    let a = &l.lessons[0];
    l.open(a).await;
    l.beat(a, "1").await;
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    l.beat(a, "2").await;

    let response = l.s.app.get_as(&l.user.token, &l.path("/trace.pdf")).await;

    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers()["content-type"], "application/pdf");
    let text = pdf_text(&response.bytes().await.unwrap());
    let stored: Vec<i32> = time_intervals::table
        .select(time_intervals::active_seconds)
        .load(&mut l.s.app.conn())
        .unwrap();
    let stored: i64 = stored.into_iter().map(i64::from).sum();
    assert!(stored >= 2, "{stored}");
    for expected in [
        "Relevé de connexion",
        "Camille Soignant",
        &adeli_of(&l.user.email),
        "Référence action DPC",
        "Total par leçon",
        "Total par jour",
        "page 1 / ",
        // What the learner wrote in the lesson's activities is part of the record.
        "Activités réalisées",
        "Autodiagnostic : Les cinq dimensions",
    ] {
        assert!(text.contains(expected), "{expected} missing from:\n{text}");
    }
    let total_line = text
        .lines()
        .find(|l| l.contains("Temps actif total"))
        .unwrap();
    assert!(
        total_line.ends_with(&format!("0 min {stored:02} s")),
        "{total_line} vs {stored}"
    );
}

#[tokio::test]
async fn two_tabs_on_two_instances_are_not_double_counted() {
    let l = enrolled_learner("min_lesson_seconds = 0").await;
    let other = l.s.app.another_instance().await;
    let lesson = &l.lessons[0];
    l.open(lesson).await;
    let started = std::time::Instant::now();
    // Two tabs, each heartbeat landing on a different instance (no sticky sessions).
    for round in 0..3 {
        l.beat(lesson, &format!("a{round}")).await;
        l.beat_on(&other, lesson, &format!("b{round}")).await;
        if round < 2 {
            tokio::time::sleep(Duration::from_millis(2_100)).await;
        }
    }
    let elapsed = started.elapsed().as_secs() as i64 + 1;

    // Every credit answered is written: the stored union is read at once.
    let rows: Vec<(chrono::NaiveDateTime, chrono::NaiveDateTime, i32)> = time_intervals::table
        .select((
            time_intervals::started_at,
            time_intervals::ended_at,
            time_intervals::active_seconds,
        ))
        .load(&mut l.s.app.conn())
        .unwrap();
    let stored: i64 = rows.iter().map(|r| i64::from(r.2)).sum();
    assert!(
        (2..=elapsed).contains(&stored),
        "{rows:?}: {stored} s credited over {elapsed} s of wall-clock time"
    );
}

#[tokio::test]
async fn the_time_that_meets_the_minimum_completes_the_course_when_it_is_written() {
    // Arrange: every lesson done, 59 of the 60 required seconds already on record.
    let l = enrolled_learner("min_lesson_seconds = 0\nmin_minutes = 1").await;
    for lesson in &l.lessons {
        l.open(lesson).await;
        let done: Value = l.complete(lesson).await.json().await.unwrap();
        assert_eq!(done["course_completed"], false, "the time is missing");
    }
    let earlier = chrono::Utc::now().naive_utc() - chrono::Duration::minutes(10);
    diesel::insert_into(time_intervals::table)
        .values((
            time_intervals::id.eq("earlier"),
            time_intervals::enrolment_id.eq(&l.enrolment),
            time_intervals::lesson_id.eq(&l.lessons[0]),
            time_intervals::started_at.eq(earlier),
            time_intervals::ended_at.eq(earlier + chrono::Duration::seconds(59)),
            time_intervals::active_seconds.eq(59),
        ))
        .execute(&mut l.s.app.conn())
        .unwrap();

    // Act: one more second of reading, written before it is answered.
    let lesson = &l.lessons[0];
    l.beat(lesson, "b1").await;
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    assert!(l.beat(lesson, "b2").await >= 1);

    // Assert
    let progress = l.progress().await;
    assert_eq!(progress["completed"], true, "{progress}");
    let completed: i64 = completions::table
        .filter(completions::enrolment_id.eq(&l.enrolment))
        .count()
        .get_result(&mut l.s.app.conn())
        .unwrap();
    assert_eq!(completed, 1);
}

#[tokio::test]
async fn nobody_else_reaches_an_enrolment_and_a_withdrawn_one_records_nothing() {
    let l = enrolled_learner("min_lesson_seconds = 0").await;
    let lesson = &l.lessons[0];
    let other = l.s.app.learner("curieux@exemple.fr").await;

    for (method, rest) in [
        (Method::GET, format!("/lessons/{lesson}")),
        (Method::POST, format!("/lessons/{lesson}/complete")),
        (Method::POST, format!("/lessons/{lesson}/heartbeat")),
        (Method::GET, "/progress".to_string()),
        (Method::GET, "/trace.csv".to_string()),
        (Method::GET, "/trace.pdf".to_string()),
    ] {
        let body = json!({ "beat_id": "x" });
        let response =
            l.s.app
                .call(
                    method.clone(),
                    &l.path(&rest),
                    &other.token,
                    Some(&body).filter(|_| rest.ends_with("heartbeat")),
                )
                .await;
        assert_eq!(response.status().as_u16(), 404, "{method} {rest}");
    }

    l.s.app
        .call(
            Method::DELETE,
            &format!("/api/v1/enrolments/{}", l.enrolment),
            &l.user.token,
            None,
        )
        .await;
    problem(l.open(lesson).await, 409).await;
    let beat =
        l.s.app
            .post_as(
                &l.user.token,
                &l.path(&format!("/lessons/{lesson}/heartbeat")),
                &json!({ "beat_id": "y" }),
            )
            .await;
    problem(beat, 409).await;
}

#[tokio::test]
async fn heartbeats_answered_from_memory_stop_at_once_when_the_page_session_signs_out() {
    let l = enrolled_learner("min_lesson_seconds = 0").await;
    let lesson = &l.lessons[0];
    assert_eq!(l.open(lesson).await.status().as_u16(), 200);
    let client = no_redirects();
    let signed_in = client
        .post(l.s.app.url("/connexion"))
        .form(&[
            ("email", l.user.email.as_str()),
            ("password", crate::journeys::PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    let cookie = access_cookie(&signed_in);
    let csrf = qvt_campus::identity::auth::csrf_of(&cookie);
    let beat = |id: &'static str| {
        client
            .post(
                l.s.app
                    .url(&l.path(&format!("/lessons/{lesson}/heartbeat"))),
            )
            .header("cookie", format!("qvt_access={cookie}"))
            .header("x-csrf-token", csrf.clone())
            .json(&json!({ "beat_id": id }))
            .send()
    };
    // The first beat checks account and enrolment; the second is answered from memory.
    assert_eq!(beat("b1").await.unwrap().status().as_u16(), 200);
    assert_eq!(beat("b2").await.unwrap().status().as_u16(), 200);

    let out = client
        .post(l.s.app.url("/deconnexion"))
        .header("cookie", format!("qvt_access={cookie}"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status().as_u16(), 303);

    let after = beat("b3").await.unwrap();
    assert_eq!(
        after.status().as_u16(),
        401,
        "the signed-out session is refused"
    );
}

#[tokio::test]
async fn the_stretch_across_a_restart_is_counted() {
    let l = enrolled_learner("min_lesson_seconds = 0").await;
    let lesson = &l.lessons[0];
    l.open(lesson).await;
    assert_eq!(l.beat(lesson, "avant-1").await, 0);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert!(l.beat(lesson, "avant-2").await >= 1);

    // The instance dies; another one (a restart: an empty tracker) takes the next beat.
    let restarted = l.s.app.another_instance().await;
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let credited = l.beat_on(&restarted, lesson, "apres-1").await;

    // The reading went on across the restart: the next beat credits it, not 0.
    assert!((2..=4).contains(&credited), "{credited}");
}

#[tokio::test]
async fn a_credit_is_written_before_it_is_answered() {
    let l = enrolled_learner("min_lesson_seconds = 0").await;
    let lesson = &l.lessons[0];
    l.open(lesson).await;
    let mut answered = 0;
    for n in 0..3 {
        answered += l.beat(lesson, &format!("b{n}")).await;
        // Read straight from the database the moment the answer came, as after a crash:
        // nothing else (a flush, a page) ran in between.
        let stored: Option<i64> = time_intervals::table
            .filter(time_intervals::enrolment_id.eq(&l.enrolment))
            .select(diesel::dsl::sum(time_intervals::active_seconds))
            .first(&mut l.s.app.conn())
            .unwrap();
        assert_eq!(stored.unwrap_or(0), answered, "after beat {n}");
        tokio::time::sleep(Duration::from_millis(1_100)).await;
    }
    assert!(answered >= 2, "{answered}");
}

/// Two instances on one PostgreSQL database: a withdrawal on one stops the heartbeats the
/// other answers from memory within a second (told by `NOTIFY`), not after its 90 s check.
/// SQLite serves a single instance.
#[tokio::test]
async fn a_withdrawal_on_one_instance_stops_the_heartbeats_on_another_within_a_second() {
    if postgres_base_url().is_none() {
        return;
    }
    let l = enrolled_learner("min_lesson_seconds = 0").await;
    let lesson = &l.lessons[0];
    let other = l.s.app.another_instance().await;
    assert_eq!(
        other
            .get_as(&l.user.token, &l.path(&format!("/lessons/{lesson}")))
            .await
            .status()
            .as_u16(),
        200
    );
    let (beat_path, token, other) = (
        l.path(&format!("/lessons/{lesson}/heartbeat")),
        &l.user.token,
        &other,
    );
    let beat = |n: usize| {
        let path = beat_path.clone();
        async move {
            let body = json!({ "beat_id": format!("beat-{n}") });
            other.post_as(token, &path, &body).await
        }
    };
    // The other instance now answers this enrolment's beats from memory.
    assert_eq!(beat(0).await.status().as_u16(), 200);

    let withdrawn =
        l.s.app
            .call(
                Method::DELETE,
                &format!("/api/v1/enrolments/{}", l.enrolment),
                &l.user.token,
                None,
            )
            .await;
    assert_eq!(withdrawn.status().as_u16(), 200);
    let asked = std::time::Instant::now();
    let mut n = 1;
    loop {
        let status = beat(n).await.status().as_u16();
        if status == 409 {
            break;
        }
        assert_eq!(status, 200);
        assert!(
            asked.elapsed() < Duration::from_secs(1),
            "the other instance still credits a withdrawn enrolment after 1 s"
        );
        n += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
