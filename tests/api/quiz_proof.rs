//! The quiz attacks of the security review, tried as a learner would and shown failing:
//! answers harvested from a failed graded attempt or a pre-test, a post-test that repeats
//! the pre-test, a required quiz started before its lessons, hours no rule backs.

use serde_json::{json, Value};

use crate::helpers::{copy_course, problem, real_courses, world_of, Learner, World};

/// Starts `quiz` for the learner: the raw response.
async fn start(w: &World, l: &Learner, quiz: &str) -> reqwest::Response {
    let path = format!("/api/v1/enrolments/{}/quizzes/{quiz}/attempts", l.enrolment);
    w.s.app.post_as(&l.user.token, &path, &json!({})).await
}

/// Starts `quiz` and submits it with no answer (0 %): the submitted attempt.
async fn fail(w: &World, l: &Learner, quiz: &str) -> Value {
    let started = start(w, l, quiz).await;
    assert_eq!(started.status().as_u16(), 201);
    let attempt: Value = started.json().await.unwrap();
    let path = format!(
        "/api/v1/attempts/{}/submit",
        attempt["id"].as_str().unwrap()
    );
    let submitted = w.s.app.post_as(&l.user.token, &path, &json!({})).await;
    assert_eq!(submitted.status().as_u16(), 200);
    submitted.json().await.unwrap()
}

/// Every lesson of the learner's course done.
async fn all_lessons(w: &World, l: &Learner) {
    let last = w.lessons.last().unwrap();
    assert_eq!(w.complete(l, last).await.status().as_u16(), 200);
}

fn item_ids(attempt: &Value) -> Vec<String> {
    attempt["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_failed_graded_attempt_shows_no_answer_until_no_attempt_is_left() {
    let w = world_of("qvt-formation-initiale").await;
    let l = w.nearly_done("ines@example.fr").await;
    all_lessons(&w, &l).await;

    for number in 1..=3 {
        let result = &fail(&w, &l, "quiz-final").await["result"];
        assert_eq!(result["passed"], false);
        // The score and the objectives to work on, always.
        assert!(!result["objectives"].as_array().unwrap().is_empty());
        let text = result.to_string();
        if number < 3 {
            assert!(!text.contains("correct_answer"), "attempt {number}: {text}");
            assert!(result.get("questions").is_none());
        } else {
            // No attempt left: the result is settled, the corrections are shown.
            let questions = result["questions"].as_array().unwrap();
            assert!(
                questions.iter().all(|q| q.get("correct_answer").is_some()),
                "{text}"
            );
        }
    }
    let fourth = start(&w, &l, "quiz-final").await;
    assert!(problem(fourth, 409).await["detail"]
        .as_str()
        .unwrap()
        .contains("Nombre maximal de tentatives atteint (3)"));
}

#[tokio::test]
async fn twenty_parallel_starts_before_the_lessons_are_done_are_all_refused() {
    let w = world_of("qvt-formation-initiale").await;
    let l = w.nearly_done("jules@example.fr").await;

    let starts = (0..20).map(|_| start(&w, &l, "quiz-final"));
    for response in futures_util::future::join_all(starts).await {
        let body = problem(response, 409).await;
        let detail = body["detail"].as_str().unwrap();
        assert!(
            detail.starts_with("Ce quiz n'est pas encore ouvert : terminer la leçon « "),
            "{detail}"
        );
    }
    let overview: Value =
        w.s.app
            .get_json(
                &l.user.token,
                &format!("/api/v1/enrolments/{}/quizzes/quiz-final", l.enrolment),
            )
            .await;
    assert_eq!(overview["can_start"], false);
    assert_eq!(overview["attempts_left"], 3);
    assert!(overview["attempts"].as_array().unwrap().is_empty());

    // Done: the quiz opens.
    all_lessons(&w, &l).await;
    assert_eq!(start(&w, &l, "quiz-final").await.status().as_u16(), 201);
}

#[tokio::test]
async fn the_pre_test_shows_no_answer_and_the_post_test_shares_none_of_its_items() {
    let w = world_of("dpc-securite-exercice").await;
    let l = w.nearly_done("infirmier@example.fr").await;

    // The post-test waits for the pre-test and the last lesson.
    let early = problem(start(&w, &l, "post-test").await, 409).await;
    let detail = early["detail"].as_str().unwrap();
    assert!(
        detail.contains("terminer la leçon")
            && detail.contains("rendre le quiz « Test de positionnement »"),
        "{detail}"
    );

    let pre = fail(&w, &l, "pre-test").await;
    let text = pre["result"].to_string();
    assert!(
        !text.contains("correct_answer") && !text.contains("feedback\":\""),
        "{text}"
    );
    assert_eq!(pre["result"]["objectives"].as_array().unwrap().len(), 5);
    let again = problem(start(&w, &l, "pre-test").await, 409).await;
    assert!(again["detail"].as_str().unwrap().contains("(1)"));

    all_lessons(&w, &l).await;
    let post = fail(&w, &l, "post-test").await;
    let pre_items = item_ids(&pre);
    let post_items = item_ids(&post);
    assert_eq!((pre_items.len(), post_items.len()), (10, 10));
    assert!(
        pre_items.iter().all(|i| !post_items.contains(i)),
        "{pre_items:?} / {post_items:?}"
    );

    // A retake of the post-test repeats none of the first paper's items (the pool allows).
    let retake = fail(&w, &l, "post-test").await;
    let retake_items = item_ids(&retake);
    assert!(retake_items
        .iter()
        .all(|i| !post_items.contains(i) && !pre_items.contains(i)));
}

/// Runs `qvt-campus courses check` on a folder of courses: (success, output).
fn courses_check(dir: &std::path::Path) -> (bool, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_qvt-campus"))
        .args(["courses", "check"])
        .arg(dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

#[test]
fn courses_check_refuses_more_hours_than_the_rules_require_and_shared_pre_post_items() {
    let (ok, text) = courses_check(&real_courses());
    assert!(ok, "{text}");

    // 3 h are backed (140 min of time on task, two 20 min tests); 4 h are not.
    let (dir, course) = copy_course("dpc-securite-exercice");
    let file = course.join("course.toml");
    let toml = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        toml.replace("duration_hours = 3.0", "duration_hours = 4.0"),
    )
    .unwrap();
    let (ok, text) = courses_check(dir.path());
    assert!(!ok);
    assert!(
        text.contains(
            "duration_hours annonce 240 min, mais les règles d'achèvement n'en exigent que 180"
        ),
        "{text}"
    );

    // A pre-test drawing from the post-test's pool.
    std::fs::write(&file, toml).unwrap();
    let pre = course.join("quizzes/pre-test.toml");
    let quiz = std::fs::read_to_string(&pre).unwrap();
    std::fs::write(&pre, quiz.replace("pool = \"pre\"\n", "")).unwrap();
    let (ok, text) = courses_check(dir.path());
    assert!(!ok);
    assert!(
        text.contains("les quiz « pre-test » et « post-test » partagent"),
        "{text}"
    );
}
