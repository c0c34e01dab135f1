//! The hot paths reach their rows through indexes on PostgreSQL: after a student's whole
//! journey (enrolment, lessons and their activities, heartbeats, completion, certificate)
//! and what others do with it (verification, the roster export, the progress page's data), no
//! statement PostgreSQL ran reads a table whole. (The quiz path's statements are checked
//! in `quiz`, with their count.) Growth to a national database is where a scan would show:
//! `bench/run --grow`, whose findings these tests now hold.

use serde_json::{json, Value};

use crate::helpers::{postgres_base_url, reset_statements, whole_table_reads, world};

#[tokio::test]
async fn a_students_journey_and_its_proof_read_no_table_whole() {
    if postgres_base_url().is_none() {
        return; // The plans are PostgreSQL's.
    }
    // Arrange: a session with one student already through it, so every table has rows.
    let w = world().await;
    w.certified("premier@univ-exemple.fr").await;
    reset_statements(&w.s.app);

    // Act: a second student's journey, then the proof's readers.
    let learner = w.nearly_done("etudiante@univ-exemple.fr").await;
    let lesson = w.lessons.last().unwrap();
    let beat =
        w.s.app
            .post_as(
                &learner.user.token,
                &format!(
                    "/api/v1/enrolments/{}/lessons/{lesson}/heartbeat",
                    learner.enrolment
                ),
                &json!({ "beat_id": uuid::Uuid::new_v4().to_string() }),
            )
            .await;
    assert_eq!(beat.status().as_u16(), 200);
    let done = w.complete(&learner, lesson).await;
    assert_eq!(done.json::<Value>().await.unwrap()["completed_now"], true);
    let certificate = w.my_certificates(&learner).await[0].clone();
    let code = certificate["code"].as_str().unwrap();
    let verified = w.s.app.get(&format!("/api/v1/verify/{code}")).await;
    assert_eq!(verified.status().as_u16(), 200);
    let roster = format!("/api/v1/sessions/{}/report.csv", w.session);
    let roster = w.s.app.get_as(&w.s.dean.token, &roster).await;
    assert_eq!(roster.status().as_u16(), 200);
    let progress = format!("/api/v1/enrolments/{}/progress", learner.enrolment);
    let progress = w.s.app.get_as(&learner.user.token, &progress).await;
    assert_eq!(progress.status().as_u16(), 200);

    // Assert
    let scans = whole_table_reads(&w.s.app);
    assert!(scans.is_empty(), "{}", scans.join("\n\n"));
}
