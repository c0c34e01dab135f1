//! The quiz engine: exact grading, no answer before the policy allows, idempotent submit,
//! deadlines, attempt limits under concurrency, results, statistics, completion.

use std::collections::HashMap;
use std::time::Duration;

use diesel::prelude::*;
use qvt_campus::db::schema::{completions, quiz_attempts, training_sessions};
use serde_json::{json, Value};

use crate::helpers::{
    copy_course, eventually, field_names, lesson_ids, problem, real_courses, replace_last_section,
    reset_statements, setup_in, statements_run, whole_table_reads, Setup, Statement,
};
use crate::journeys::User;

const COURSE: &str = "qvt-formation-initiale";
/// One of each question type, and a case vignette (9 questions of 1 point).
const ITEMS: &str = r#"items = ["q01", "q02", "q03", "q04", "q05", "q08", "v01"]"#;

/// The QVT module with extra quiz files and, optionally, other completion rules. Its
/// practice quiz is left out: the extra quizzes draw items it would share.
fn course_with(quizzes: &[(&str, String)], completion: Option<&str>) -> tempfile::TempDir {
    let (dir, course) = copy_course(COURSE);
    std::fs::remove_file(course.join("quizzes/quiz-formatif.toml")).unwrap();
    for (id, text) in quizzes {
        std::fs::write(course.join("quizzes").join(format!("{id}.toml")), text).unwrap();
    }
    if let Some(completion) = completion {
        replace_last_section(&course, "[completion]", completion);
    }
    dir
}

/// A quiz on [`ITEMS`]; a graded one allows 3 attempts unless `extra` says otherwise.
fn quiz(role: &str, extra: &str) -> String {
    let limit = if role != "practice" && !extra.contains("max_attempts") {
        "max_attempts = 3"
    } else {
        ""
    };
    format!("title = \"Examen d'essai\"\nrole = \"{role}\"\npass_mark = 60\n{limit}\n{extra}\n{ITEMS}\n")
}

/// The right answers, read from the course's own bank.
pub(crate) struct AnswerKey(HashMap<String, toml::Value>);

impl AnswerKey {
    pub(crate) fn load() -> Self {
        let path = real_courses().join(COURSE).join("quizzes/banque.toml");
        let bank: toml::Table = toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let mut all = HashMap::new();
        let mut add = |questions: &toml::Value| {
            for q in questions.as_array().unwrap() {
                all.insert(q["id"].as_str().unwrap().to_owned(), q.clone());
            }
        };
        add(&bank["questions"]);
        for v in bank["vignettes"].as_array().unwrap() {
            add(&v["questions"]);
        }
        Self(all)
    }

    /// The right answer to a question as shown (labels looked up by text).
    pub(crate) fn right(&self, shown: &Value) -> Value {
        let q = &self.0[shown["id"].as_str().unwrap()];
        let label_of = |list: &str, text: &str| {
            shown[list]
                .as_array()
                .unwrap()
                .iter()
                .find(|o| o["text"] == text)
                .unwrap()["id"]
                .clone()
        };
        // A choice's label on this paper, from its id in the course file.
        let choice_label = |id: &toml::Value| {
            let choice = q["choices"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["id"] == *id)
                .unwrap();
            label_of("choices", choice["text"].as_str().unwrap())
        };
        match q["type"].as_str().unwrap() {
            "single_choice" => choice_label(&q["correct"]),
            "multiple_choice" => {
                let mut labels: Vec<Value> = q["correct"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(choice_label)
                    .collect();
                labels.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
                Value::Array(labels)
            }
            "true_false" => json!(q["answer"].as_bool().unwrap()),
            "numeric" => json!(q["answer"]
                .as_integer()
                .map_or_else(|| q["answer"].as_float().unwrap(), |i| i as f64)),
            "matching" => Value::Object(
                q["pairs"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .enumerate()
                    .map(|(i, p)| {
                        (
                            (i + 1).to_string(),
                            label_of("right", p["right"].as_str().unwrap()),
                        )
                    })
                    .collect(),
            ),
            "ordering" => Value::Array(
                q["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| label_of("items", t.as_str().unwrap()))
                    .collect(),
            ),
            other => panic!("unknown type {other}"),
        }
    }

    /// A wrong answer of the right shape.
    fn wrong(&self, shown: &Value) -> Value {
        let right = self.right(shown);
        match shown["type"].as_str().unwrap() {
            "single_choice" => shown["choices"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].clone())
                .find(|id| *id != right)
                .unwrap(),
            "multiple_choice" => json!([]),
            "true_false" => json!(!right.as_bool().unwrap()),
            "numeric" => json!(right.as_f64().unwrap() + 1000.0),
            "matching" => json!({}),
            "ordering" => {
                let mut items = right.as_array().unwrap().clone();
                items.reverse();
                Value::Array(items)
            }
            other => panic!("unknown type {other}"),
        }
    }
}

pub(crate) fn questions(attempt: &Value) -> Vec<Value> {
    attempt["items"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|item| match item["type"].as_str().unwrap() {
            "vignette" => item["questions"].as_array().unwrap().clone(),
            _ => vec![item.clone()],
        })
        .collect()
}

struct Exam {
    s: Setup,
    session: String,
    learner: User,
    enrolment: String,
    key: AnswerKey,
    _courses: tempfile::TempDir,
}

async fn exam(quizzes: &[(&str, String)], completion: Option<&str>) -> Exam {
    let courses = course_with(quizzes, completion);
    let s = setup_in(courses.path().to_path_buf()).await;
    let session = s.qvt_session(json!({})).await;
    let learner = s.app.learner("etudiante@univ-exemple.fr").await;
    let enrolment = enrol(&s, &learner, &session).await;
    Exam {
        s,
        session,
        learner,
        enrolment,
        key: AnswerKey::load(),
        _courses: courses,
    }
}

async fn enrol(s: &Setup, user: &User, session: &str) -> String {
    let enrolment: Value = s
        .enrol(user, session, json!({}))
        .await
        .json()
        .await
        .unwrap();
    enrolment["id"].as_str().unwrap().to_owned()
}

impl Exam {
    async fn start_as(&self, user: &User, enrolment: &str, quiz: &str) -> reqwest::Response {
        self.s
            .app
            .post_as(
                &user.token,
                &format!("/api/v1/enrolments/{enrolment}/quizzes/{quiz}/attempts"),
                &json!({}),
            )
            .await
    }
    async fn start(&self, quiz: &str) -> Value {
        let response = self.start_as(&self.learner, &self.enrolment, quiz).await;
        assert!(response.status().is_success(), "{}", response.status());
        response.json().await.unwrap()
    }
    async fn save(&self, attempt: &Value, answers: Value) -> reqwest::Response {
        self.s
            .app
            .call(
                reqwest::Method::PUT,
                &format!(
                    "/api/v1/attempts/{}/answers",
                    attempt["id"].as_str().unwrap()
                ),
                &self.learner.token,
                Some(&json!({ "answers": answers })),
            )
            .await
    }
    async fn submit(&self, attempt: &Value, key: Option<&str>, body: Value) -> reqwest::Response {
        self.submit_as(&self.learner, attempt, key, body).await
    }
    async fn submit_as(
        &self,
        user: &User,
        attempt: &Value,
        key: Option<&str>,
        body: Value,
    ) -> reqwest::Response {
        let body = serde_json::to_vec(&body).unwrap();
        self.submit_raw(user, attempt, key, Some("application/json"), body)
            .await
    }
    /// A submit with exactly these bytes and this content type.
    async fn submit_raw(
        &self,
        user: &User,
        attempt: &Value,
        key: Option<&str>,
        content_type: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        let mut request = self
            .s
            .app
            .client
            .post(self.s.app.url(&format!(
                "/api/v1/attempts/{}/submit",
                attempt["id"].as_str().unwrap()
            )))
            .bearer_auth(&user.token)
            .body(body);
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        request.send().await.unwrap()
    }
    async fn get(&self, user: &User, path: &str) -> reqwest::Response {
        self.s.app.get_as(&user.token, path).await
    }
    /// Answers the first `right` questions correctly and the others wrongly.
    fn answers(&self, attempt: &Value, right: usize) -> Value {
        Value::Object(
            questions(attempt)
                .iter()
                .enumerate()
                .map(|(i, q)| {
                    let answer = if i < right {
                        self.key.right(q)
                    } else {
                        self.key.wrong(q)
                    };
                    (q["id"].as_str().unwrap().to_owned(), answer)
                })
                .collect(),
        )
    }
}

/// No correct answer and no feedback text of the bank appears in `body`.
fn assert_no_answers(body: &str, key: &AnswerKey) {
    for leak in ["correct", "\"answer\":", "feedback\":", "tolerance"] {
        assert!(!body.contains(leak), "{leak} leaked: {body}");
    }
    for q in key.0.values() {
        let feedback = q["feedback"].as_str().unwrap();
        assert!(!body.contains(feedback), "feedback leaked: {feedback}");
    }
}

#[tokio::test]
async fn an_attempt_is_drawn_without_answers_and_graded_exactly() {
    let e = exam(&[("examen", quiz("graded", ""))], None).await;

    let response = e.start_as(&e.learner, &e.enrolment, "examen").await;

    assert_eq!(response.status().as_u16(), 201);
    let body = response.text().await.unwrap();
    assert_no_answers(&body, &e.key);
    let attempt: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(questions(&attempt).len(), 9);
    assert_eq!(attempt["status"], "open");
    // Choices go under the paper's labels, in the order shown, never the course's ids
    // (in which the right one is most often "b").
    for q in questions(&attempt) {
        if let Some(choices) = q["choices"].as_array() {
            let ids: Vec<&str> = choices.iter().map(|c| c["id"].as_str().unwrap()).collect();
            let labels: Vec<String> = (0..choices.len())
                .map(|i| char::from(b'A' + i as u8).to_string())
                .collect();
            assert_eq!(ids, labels, "{q}");
        }
    }
    // Starting again returns the same open attempt.
    let again = e.start_as(&e.learner, &e.enrolment, "examen").await;
    assert_eq!(again.status().as_u16(), 200);
    assert_eq!(again.json::<Value>().await.unwrap()["id"], attempt["id"]);

    // Autosave in two parts, then submit: 6 of 9 right.
    let answers = e.answers(&attempt, 6);
    let (first, second): (Vec<_>, Vec<_>) = answers
        .as_object()
        .unwrap()
        .iter()
        .enumerate()
        .partition(|(i, _)| i % 2 == 0);
    for part in [first, second] {
        let part: serde_json::Map<String, Value> = part
            .into_iter()
            .map(|(_, (k, v))| (k.clone(), v.clone()))
            .collect();
        let saved = e.save(&attempt, Value::Object(part)).await;
        assert_eq!(saved.status().as_u16(), 200);
    }
    let reread: Value = e
        .get(
            &e.learner,
            &format!("/api/v1/attempts/{}", attempt["id"].as_str().unwrap()),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(reread["answers"], answers);
    assert_no_answers(
        &reread.to_string().replace(&answers.to_string(), ""),
        &e.key,
    );

    let result: Value = e
        .submit(&attempt, None, json!({}))
        .await
        .json()
        .await
        .unwrap();

    let r = &result["result"];
    assert_eq!(
        (r["points"].as_f64(), r["max_points"].as_f64()),
        (Some(6.0), Some(9.0))
    );
    assert_eq!(r["percent"], 66.67);
    assert_eq!(r["passed"], true);
    let feedback = r["questions"].as_array().unwrap();
    assert_eq!(feedback.len(), 9);
    for q in feedback {
        let shown = questions(&attempt)
            .into_iter()
            .find(|s| s["id"] == q["id"])
            .unwrap();
        let expected = match shown["type"].as_str().unwrap() {
            "numeric" => json!({ "value": e.key.right(&shown), "tolerance": 0.0 }),
            _ => e.key.right(&shown),
        };
        assert_eq!(q["correct_answer"], expected, "{q}");
        assert!(!q["feedback"].as_str().unwrap().is_empty());
    }
    // Passed: the quiz does not start again (no improvement attempts on this one).
    let second = e.start_as(&e.learner, &e.enrolment, "examen").await;
    assert_eq!(
        problem(second, 409).await["detail"],
        "Ce quiz est déjà réussi : il ne se repasse pas pour améliorer le score."
    );
}

#[tokio::test]
async fn bad_answers_are_named_and_change_nothing() {
    let e = exam(&[("examen", quiz("graded", ""))], None).await;
    let attempt = e.start("examen").await;
    let good = e.answers(&attempt, 9);
    let first = questions(&attempt)[0]["id"].as_str().unwrap().to_owned();
    e.save(&attempt, json!({ &first: good[&first] })).await;

    let response = e
        .save(
            &attempt,
            json!({ "q99": "a", &first: {"x": 1}, "q03": "vrai" }),
        )
        .await;

    let body = problem(response, 422).await;
    let mut fields = field_names(&body);
    fields.sort();
    let mut expected = vec![format!("answers.{first}"), "answers.q99".into()];
    if first != "q03" {
        expected.push("answers.q03".into());
    }
    expected.sort();
    assert_eq!(fields, expected, "{body}");
    let reread: Value = e
        .get(
            &e.learner,
            &format!("/api/v1/attempts/{}", attempt["id"].as_str().unwrap()),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(reread["answers"], json!({ &first: good[&first] }));

    // A matching left is its number written plainly: "01" or "+1" would count it twice.
    let right = good["q05"].as_object().unwrap();
    let label = right["1"].clone();
    for twice in [
        json!({ "1": label, "01": label }),
        json!({ "+1": label }),
        json!({ "1 ": label }),
    ] {
        let body = problem(e.save(&attempt, json!({ "q05": twice })).await, 422).await;
        assert_eq!(field_names(&body), ["answers.q05"], "{body}");
    }
}

#[tokio::test]
async fn a_submit_with_an_idempotency_key_grades_once() {
    let e = exam(&[("examen", quiz("graded", ""))], None).await;
    let attempt = e.start("examen").await;
    let body = json!({ "answers": e.answers(&attempt, 5) });

    // A double click and retries: twenty submits at once with one key (on PostgreSQL,
    // spread over three instances).
    let instances = e.s.app.instances().await;
    let path = format!(
        "/api/v1/attempts/{}/submit",
        attempt["id"].as_str().unwrap()
    );
    let responses = futures_util::future::join_all((0..20).map(|i| {
        let app = instances.nth(i);
        app.client
            .post(app.url(&path))
            .bearer_auth(&e.learner.token)
            .header("Idempotency-Key", "clic-1")
            .json(&body)
            .send()
    }))
    .await
    .into_iter()
    .map(Result::unwrap);

    let mut results = Vec::new();
    for response in responses {
        assert_eq!(response.status().as_u16(), 200);
        results.push(response.json::<Value>().await.unwrap()["result"].clone());
    }
    assert!(results.iter().all(|r| *r == results[0]));
    assert_eq!(results[0]["points"], 5.0);
    let graded: i64 = quiz_attempts::table
        .filter(quiz_attempts::submitted_at.is_not_null())
        .count()
        .get_result(&mut e.s.app.conn())
        .unwrap();
    assert_eq!(graded, 1);
    // The same key with another body is refused; another key finds it submitted.
    let other = json!({ "answers": e.answers(&attempt, 9) });
    let refused = problem(e.submit(&attempt, Some("clic-1"), other.clone()).await, 422).await;
    assert_eq!(field_names(&refused), ["Idempotency-Key"]);
    problem(e.submit(&attempt, Some("clic-2"), other).await, 409).await;
}

#[tokio::test]
async fn every_autosave_acknowledged_while_the_submit_grades_is_in_the_grade() {
    // On PostgreSQL a submit reads the attempt without a lock and grades it a moment later
    // (`quiz::facts`): a save acknowledged in between must make it decide again, not be
    // graded over. Each round: one save per question and a submit of the saved answers at
    // once, spread over three instances on PostgreSQL.
    let e = exam(&[("examen", quiz("graded", "max_attempts = 8"))], None).await;
    let instances = e.s.app.instances().await;
    for round in 0..8 {
        let attempt = e.start("examen").await;
        let id = attempt["id"].as_str().unwrap();
        // Wrong answers, so that the quiz stays open to another attempt.
        let answers = e.answers(&attempt, 0);
        let answers = answers.as_object().unwrap();
        let path = format!("/api/v1/attempts/{id}/answers");
        let (instances, token) = (&instances, &e.learner.token);
        let saves =
            futures_util::future::join_all(answers.iter().enumerate().map(|(i, (q, a))| {
                let body = json!({ "answers": { q: a } });
                let path = &path;
                async move {
                    let app = instances.nth(i + 1);
                    let response = app
                        .call(reqwest::Method::PUT, path, token, Some(&body))
                        .await;
                    (q.clone(), a.clone(), response.status().as_u16())
                }
            }));
        let submit = async {
            tokio::time::sleep(Duration::from_millis(round * 2)).await;
            e.submit_as(&e.learner, &attempt, None, json!({})).await
        };
        let (saves, submitted) = tokio::join!(saves, submit);

        assert_eq!(submitted.status().as_u16(), 200, "round {round}");
        let graded: String = quiz_attempts::table
            .find(id)
            .select(quiz_attempts::answers)
            .get_result(&mut e.s.app.conn())
            .unwrap();
        let graded: Value = serde_json::from_str(&graded).unwrap();
        for (question, answer, status) in saves {
            assert!(status == 200 || status == 409, "round {round}: {status}");
            if status == 200 {
                assert_eq!(
                    graded[&question], answer,
                    "round {round}: {question} was saved, then graded without it"
                );
            }
        }
    }
}

#[tokio::test]
async fn twenty_simultaneous_starts_make_one_attempt_and_the_limit_holds() {
    let e = exam(&[("examen", quiz("graded", "max_attempts = 1"))], None).await;
    // On PostgreSQL, spread over three instances.
    let instances = e.s.app.instances().await;
    let path = format!("/api/v1/enrolments/{}/quizzes/examen/attempts", e.enrolment);

    let empty = json!({});
    let responses = futures_util::future::join_all(
        (0..20).map(|i| instances.nth(i).post_as(&e.learner.token, &path, &empty)),
    )
    .await;

    let mut ids = std::collections::HashSet::new();
    let mut created = 0;
    for response in responses {
        let status = response.status().as_u16();
        assert!(status == 200 || status == 201, "{status}");
        created += usize::from(status == 201);
        ids.insert(response.json::<Value>().await.unwrap()["id"].clone());
    }
    assert_eq!((created, ids.len()), (1, 1));
    let attempt = e.start("examen").await;
    e.submit(&attempt, None, json!({})).await;
    let refused = problem(e.start_as(&e.learner, &e.enrolment, "examen").await, 409).await;
    assert!(refused["detail"].as_str().unwrap().contains("tentatives"));
}

#[tokio::test]
async fn feedback_waits_for_the_policy() {
    let e = exam(
        &[
            (
                "jamais",
                quiz(
                    "practice",
                    "feedback = \"never\"\nshares_items_with = [\"cloture\", \"quiz-final\"]",
                ),
            ),
            ("cloture", quiz("graded", "feedback = \"after_close\"")),
        ],
        None,
    )
    .await;

    for quiz in ["jamais", "cloture"] {
        let attempt = e.start(quiz).await;
        let submitted = e
            .submit(&attempt, None, json!({ "answers": e.answers(&attempt, 9) }))
            .await
            .text()
            .await
            .unwrap();
        let submitted: Value = serde_json::from_str(&submitted).unwrap();
        assert_eq!(submitted["result"]["percent"], 100.0);
        assert!(
            submitted["result"].get("questions").is_none(),
            "{quiz}: {submitted}"
        );
        let shown = e
            .get(
                &e.learner,
                &format!("/api/v1/attempts/{}", attempt["id"].as_str().unwrap()),
            )
            .await
            .text()
            .await
            .unwrap();
        assert!(!shown.contains("correct_answer"), "{quiz}: {shown}");
    }

    // Once the session is closed, the after_close quiz shows its feedback.
    e.s.app
        .call(
            reqwest::Method::PATCH,
            &format!("/api/v1/sessions/{}", e.session),
            &e.s.dean.token,
            Some(&json!({ "closed": true })),
        )
        .await;
    let results: Value = e
        .get(
            &e.learner,
            &format!("/api/v1/enrolments/{}/results", e.enrolment),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(results["quizzes"].as_array().unwrap().len(), 3);
    let ids: Vec<String> = quiz_attempts::table
        .filter(quiz_attempts::quiz_id.eq_any(["jamais", "cloture"]))
        .order(quiz_attempts::quiz_id.asc())
        .select(quiz_attempts::id)
        .load(&mut e.s.app.conn())
        .unwrap();
    let cloture: Value = e
        .get(&e.learner, &format!("/api/v1/attempts/{}", ids[0]))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(cloture["result"]["questions"].as_array().unwrap().len(), 9);
    let jamais = e
        .get(&e.learner, &format!("/api/v1/attempts/{}", ids[1]))
        .await
        .text()
        .await
        .unwrap();
    assert!(!jamais.contains("correct_answer"));
}

#[tokio::test]
async fn the_deadline_is_the_servers_and_an_abandoned_attempt_is_graded() {
    let e = exam(
        &[("minute", quiz("graded", "time_limit_minutes = 20"))],
        None,
    )
    .await;
    // A tiers-temps, set by the organisation, not by the learner.
    let path = format!("/api/v1/enrolments/{}/accommodation", e.enrolment);
    let body = json!({ "extra_time_percent": 50 });
    let by_learner =
        e.s.app
            .call(reqwest::Method::PUT, &path, &e.learner.token, Some(&body))
            .await;
    assert_eq!(by_learner.status().as_u16(), 404);
    let by_dean =
        e.s.app
            .call(reqwest::Method::PUT, &path, &e.s.dean.token, Some(&body))
            .await;
    assert_eq!(by_dean.status().as_u16(), 200);

    let attempt = e.start("minute").await;

    let started = chrono::DateTime::parse_from_rfc3339(attempt["started_at"].as_str().unwrap())
        .unwrap()
        .naive_utc();
    let deadline = chrono::DateTime::parse_from_rfc3339(attempt["deadline"].as_str().unwrap())
        .unwrap()
        .naive_utc();
    assert_eq!((deadline - started).num_minutes(), 30);
    let answers = e.answers(&attempt, 9);
    let first = questions(&attempt)[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        e.save(&attempt, json!({ &first: answers[&first] }))
            .await
            .status()
            .as_u16(),
        200
    );

    // Time runs out (moved into the past rather than waited for).
    let id = attempt["id"].as_str().unwrap().to_owned();
    diesel::update(quiz_attempts::table.find(&id))
        .set(quiz_attempts::deadline.eq(Some(
            chrono::Utc::now().naive_utc() - chrono::Duration::minutes(2),
        )))
        .execute(&mut e.s.app.conn())
        .unwrap();
    problem(e.save(&attempt, answers.clone()).await, 409).await;

    // The learner never submits: the server grades what was saved in time.
    let graded = eventually(Duration::from_secs(20), || {
        quiz_attempts::table
            .find(&id)
            .select((quiz_attempts::auto_submitted, quiz_attempts::score_points))
            .first::<(bool, Option<f64>)>(&mut e.s.app.conn())
            .ok()
            .filter(|(auto, _)| *auto)
    })
    .await;
    assert_eq!(graded.1, Some(1.0));
}

#[tokio::test]
async fn nobody_else_reaches_an_attempt() {
    let e = exam(&[("examen", quiz("graded", ""))], None).await;
    let attempt = e.start("examen").await;
    let other = e.s.app.learner("voisin@univ-exemple.fr").await;
    let id = attempt["id"].as_str().unwrap();

    let responses = [
        e.get(&other, &format!("/api/v1/attempts/{id}")).await,
        e.s.app
            .call(
                reqwest::Method::PUT,
                &format!("/api/v1/attempts/{id}/answers"),
                &other.token,
                Some(&json!({ "answers": {} })),
            )
            .await,
        e.s.app
            .post_as(
                &other.token,
                &format!("/api/v1/attempts/{id}/submit"),
                &json!({}),
            )
            .await,
        e.start_as(&other, &e.enrolment, "examen").await,
        e.get(
            &other,
            &format!("/api/v1/enrolments/{}/results", e.enrolment),
        )
        .await,
        e.get(
            &other,
            &format!("/api/v1/sessions/{}/quizzes/examen/statistics", e.session),
        )
        .await,
    ];

    for response in responses {
        assert_eq!(response.status().as_u16(), 404, "{}", response.url());
    }
    // The organisation's staff see the open attempt, without the learner's answers.
    let staff: Value = e
        .get(&e.s.dean, &format!("/api/v1/attempts/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(staff["answers"], json!({}));
}

#[tokio::test]
async fn passing_the_required_quiz_completes_the_course_and_pre_post_gain_is_shown() {
    let e = exam(
        &[
            ("examen", quiz("graded", "")),
            // A parallel form: items the other quizzes never draw (the real final quiz,
            // which draws from the whole bank, is replaced by one on the same items).
            (
                "pre",
                "title = \"Positionnement\"\nrole = \"pre_test\"\npass_mark = 0\nmax_attempts = 1\n\
                 items = [\"q06\", \"q07\", \"q09\", \"q11\", \"q13\", \"q14\", \"q15\", \"q16\", \"q17\"]\n"
                    .into(),
            ),
            ("post", quiz("post_test", "")),
            ("quiz-final", quiz("graded", "")),
        ],
        Some("min_lesson_seconds = 0\nrequired_quizzes = [\"examen\"]"),
    )
    .await;
    for lesson in lesson_ids(&e.s.app, COURSE).await {
        let path = format!("/api/v1/enrolments/{}/lessons/{lesson}", e.enrolment);
        e.s.app
            .work_through(&e.learner.token, &e.enrolment, &lesson)
            .await;
        e.s.app
            .post_as(&e.learner.token, &format!("{path}/complete"), &json!({}))
            .await;
    }
    let failing = e.start("examen").await;
    e.submit(&failing, None, json!({ "answers": e.answers(&failing, 3) }))
        .await;
    let count = || {
        completions::table
            .count()
            .get_result::<i64>(&mut e.s.app.conn())
            .unwrap()
    };
    assert_eq!(count(), 0, "a failed quiz completes nothing");

    let passing = e.start("examen").await;
    let submitted: Value = e
        .submit(&passing, None, json!({ "answers": e.answers(&passing, 9) }))
        .await
        .json()
        .await
        .unwrap();

    assert_eq!(submitted["result"]["passed"], true);
    assert_eq!(count(), 1);
    let progress: Value = e
        .get(
            &e.learner,
            &format!("/api/v1/enrolments/{}/progress", e.enrolment),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(progress["completed"], true);

    for (quiz, right) in [("pre", 3), ("post", 9)] {
        let attempt = e.start(quiz).await;
        e.submit(
            &attempt,
            None,
            json!({ "answers": e.answers(&attempt, right) }),
        )
        .await;
    }
    let results: Value = e
        .get(
            &e.learner,
            &format!("/api/v1/enrolments/{}/results", e.enrolment),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(results["pre_test"], 33.33);
    assert_eq!(results["post_test"], 100.0);
    assert_eq!(results["gain"], 66.67);
    // Objective by objective: the post-test was all right, the pre-test missed 6 of 9.
    let by_objective = results["gain_by_objective"].as_array().unwrap();
    assert!(by_objective.len() >= 2, "{by_objective:?}");
    for o in by_objective {
        let (pre, post) = (
            o["pre_test"].as_f64().unwrap(),
            o["post_test"].as_f64().unwrap(),
        );
        assert_eq!(post, 100.0, "{o}");
        assert!(
            (o["gain"].as_f64().unwrap() - (post - pre)).abs() < 0.01,
            "{o}"
        );
        assert!(!o["text"].as_str().unwrap().is_empty());
    }
    assert!(by_objective
        .iter()
        .any(|o| o["pre_test"].as_f64() < Some(100.0)));

    let stats: Value = e
        .get(
            &e.s.dean,
            &format!("/api/v1/sessions/{}/quizzes/examen/statistics", e.session),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stats["attempts"], 2);
    let items = stats["items"].as_array().unwrap();
    assert_eq!(items.len(), 9);
    assert!(items.iter().all(|i| i["drawn"] == 2 && i["prompt"] != ""));
    let mean: f64 = items
        .iter()
        .map(|i| i["facility"].as_f64().unwrap())
        .sum::<f64>()
        / 9.0;
    assert!((mean - 12.0 / 18.0).abs() < 0.01, "{mean}");
}

/// Sets the session's dates, as if the calendar had moved on.
fn move_session(e: &Exam, opens_on: i64, closes_on: i64) {
    let day = |offset: i64| qvt_campus::fr::paris_today() + chrono::Duration::days(offset);
    diesel::update(training_sessions::table.find(&e.session))
        .set((
            training_sessions::opens_on.eq(day(opens_on)),
            training_sessions::closes_on.eq(day(closes_on)),
        ))
        .execute(&mut e.s.app.conn())
        .unwrap();
}

/// Moves an attempt's deadline into the past rather than waiting for it.
fn expire(e: &Exam, attempt: &Value) {
    diesel::update(quiz_attempts::table.find(attempt["id"].as_str().unwrap()))
        .set(quiz_attempts::deadline.eq(Some(
            chrono::Utc::now().naive_utc() - chrono::Duration::minutes(2),
        )))
        .execute(&mut e.s.app.conn())
        .unwrap();
}

impl Exam {
    /// The course's lesson paths for an enrolment, in order.
    async fn lessons(&self, enrolment: &str) -> Vec<String> {
        lesson_ids(&self.s.app, COURSE)
            .await
            .iter()
            .map(|id| format!("/api/v1/enrolments/{enrolment}/lessons/{id}"))
            .collect()
    }

    /// Opens every lesson and completes all but the last; returns the last one's path.
    async fn all_lessons_but_one(&self, user: &User, enrolment: &str) -> String {
        let lessons = self.lessons(enrolment).await;
        for (i, path) in lessons.iter().enumerate() {
            let lesson = path.rsplit('/').next().unwrap();
            self.s
                .app
                .work_through(&user.token, enrolment, lesson)
                .await;
            if i + 1 < lessons.len() {
                let done = self
                    .s
                    .app
                    .post_as(&user.token, &format!("{path}/complete"), &json!({}))
                    .await;
                assert_eq!(done.status().as_u16(), 200);
            }
        }
        lessons.last().unwrap().clone()
    }

    fn completions(&self) -> i64 {
        completions::table
            .count()
            .get_result::<i64>(&mut self.s.app.conn())
            .unwrap()
    }
}

#[tokio::test]
async fn a_malformed_submit_is_refused_and_grades_nothing() {
    let e = exam(&[("examen", quiz("graded", ""))], None).await;
    let attempt = e.start("examen").await;
    let answers = e.answers(&attempt, 9);
    assert_eq!(e.save(&attempt, answers.clone()).await.status(), 200);
    let json = Some("application/json");

    let broken = e
        .submit_raw(&e.learner, &attempt, Some("k"), json, r#"{"answers": {"#)
        .await;
    let mistyped = e
        .submit_raw(&e.learner, &attempt, Some("k"), json, r#"{"answers": 5}"#)
        .await;
    let misnamed = e
        .submit_raw(&e.learner, &attempt, Some("k"), json, r#"{"answer": {}}"#)
        .await;
    let not_json = e
        .submit_raw(&e.learner, &attempt, None, Some("text/plain"), "{}")
        .await;

    assert!(!field_names(&problem(broken, 400).await).is_empty());
    assert_eq!(field_names(&problem(mistyped, 422).await), ["answers"]);
    assert_eq!(field_names(&problem(misnamed, 422).await), ["answer"]);
    problem(not_json, 415).await;
    let still: Value = e
        .get(
            &e.learner,
            &format!("/api/v1/attempts/{}", attempt["id"].as_str().unwrap()),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(still["status"], "open");

    // An empty body grades the saved answers; the key then holds that very body only.
    let empty = e
        .submit_raw(&e.learner, &attempt, Some("k"), None, "")
        .await;
    assert_eq!(empty.status(), 200);
    let graded: Value = empty.json().await.unwrap();
    assert_eq!(graded["result"]["percent"], 100.0);
    let replay = e
        .submit_raw(&e.learner, &attempt, Some("k"), None, "")
        .await;
    assert_eq!(replay.status(), 200);
    assert_eq!(
        replay.json::<Value>().await.unwrap()["result"],
        graded["result"]
    );
    let other = e
        .submit_raw(&e.learner, &attempt, Some("k"), json, r#"{"answers": {}}"#)
        .await;
    assert_eq!(field_names(&problem(other, 422).await), ["Idempotency-Key"]);
}

#[tokio::test]
async fn after_close_answers_wait_for_the_session_to_be_closed_not_its_end_date() {
    let e = exam(
        &[(
            "cloture",
            quiz(
                "graded",
                "feedback = \"after_close\"\nimprovement_attempts = true",
            ),
        )],
        None,
    )
    .await;
    // The session's end date has passed, but nobody closed it: learners still take the quiz.
    move_session(&e, -30, -1);

    let first = e.start("cloture").await;
    let submitted = e
        .submit(&first, None, json!({ "answers": e.answers(&first, 9) }))
        .await;

    assert_eq!(submitted.status(), 200);
    let body = submitted.text().await.unwrap();
    assert!(!body.contains("correct_answer"), "{body}");
    let shown = e
        .get(
            &e.learner,
            &format!("/api/v1/attempts/{}", first["id"].as_str().unwrap()),
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(!shown.contains("correct_answer"), "{shown}");
    // A second attempt is still possible, and its paper shows no answer either.
    let second = e.start_as(&e.learner, &e.enrolment, "cloture").await;
    assert_eq!(second.status(), 201);
    assert_no_answers(&second.text().await.unwrap(), &e.key);
}

#[tokio::test]
async fn a_withdrawn_learners_quiz_is_graded_but_completes_nothing() {
    let e = exam(
        &[("examen", quiz("graded", "time_limit_minutes = 20"))],
        Some("min_lesson_seconds = 0\nrequired_quizzes = [\"examen\"]"),
    )
    .await;
    let last = e.all_lessons_but_one(&e.learner, &e.enrolment).await;
    let done =
        e.s.app
            .post_as(&e.learner.token, &format!("{last}/complete"), &json!({}))
            .await;
    assert_eq!(done.status(), 200);
    let attempt = e.start("examen").await;
    assert_eq!(e.save(&attempt, e.answers(&attempt, 9)).await.status(), 200);
    let withdrawn =
        e.s.app
            .call(
                reqwest::Method::DELETE,
                &format!("/api/v1/enrolments/{}", e.enrolment),
                &e.learner.token,
                None,
            )
            .await;
    assert!(withdrawn.status().is_success(), "{}", withdrawn.status());

    // Time runs out; the deadline job (or a tutor's look) grades what was saved.
    expire(&e, &attempt);
    let id = attempt["id"].as_str().unwrap().to_owned();
    let graded = eventually(Duration::from_secs(20), || {
        quiz_attempts::table
            .find(&id)
            .select(quiz_attempts::passed)
            .first::<Option<bool>>(&mut e.s.app.conn())
            .unwrap()
    })
    .await;
    let seen: Value = e
        .get(&e.s.dean, &format!("/api/v1/attempts/{id}"))
        .await
        .json()
        .await
        .unwrap();

    assert!(graded);
    assert_eq!(seen["result"]["passed"], true);
    assert_eq!(
        e.completions(),
        0,
        "a withdrawn enrolment is never completed"
    );
}

/// On PostgreSQL, a transaction that holds the completions table, which completion reads
/// first, after the writes of the event it evaluates: every event stops there (or at the
/// enrolment's lock, behind the first) until released. (Not the time-on-task table: the
/// rules stop at the lessons left before they read the time.)
fn hold_evaluations(e: &Exam) -> Option<qvt_campus::db::PooledConn> {
    use diesel::connection::SimpleConnection;
    let mut conn = e.s.app.conn();
    matches!(*conn, qvt_campus::db::DbConn::Pg(_)).then(|| {
        conn.batch_execute("BEGIN; LOCK TABLE completions IN ACCESS EXCLUSIVE MODE")
            .unwrap();
        conn
    })
}

/// Server transactions of this test's database waiting for a lock.
fn waiting_for_locks(e: &Exam) -> i64 {
    diesel::sql_query(
        "SELECT count(*) AS n FROM pg_stat_activity \
         WHERE datname = current_database() AND wait_event_type = 'Lock'",
    )
    .get_result::<Count>(&mut e.s.app.conn())
    .unwrap()
    .n
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

#[tokio::test]
async fn a_last_lesson_and_the_required_quiz_finished_at_once_complete_the_course() {
    let e = exam(
        &[("examen", quiz("graded", ""))],
        Some("min_lesson_seconds = 0\nrequired_quizzes = [\"examen\"]"),
    )
    .await;
    let last = e.all_lessons_but_one(&e.learner, &e.enrolment).await;
    let attempt = e.start("examen").await;
    let answers = json!({ "answers": e.answers(&attempt, 9) });
    let (complete, empty) = (format!("{last}/complete"), json!({}));
    // On PostgreSQL both events are made to overlap: each has written its part when it
    // checks the rules, and neither has committed.
    let held = hold_evaluations(&e);

    let release = async {
        if let Some(mut held) = held {
            use diesel::connection::SimpleConnection;
            eventually(Duration::from_secs(10), || {
                (waiting_for_locks(&e) >= 2).then_some(())
            })
            .await;
            held.batch_execute("COMMIT").unwrap();
        }
    };
    let (lesson, quiz, ()) = futures_util::join!(
        e.s.app.post_as(&e.learner.token, &complete, &empty),
        e.submit(&attempt, None, answers),
        release,
    );

    assert_eq!(
        (lesson.status().as_u16(), quiz.status().as_u16()),
        (200, 200)
    );
    assert_eq!(e.completions(), 1, "the second event completes the course");
}

#[tokio::test]
async fn an_expired_attempt_graded_by_a_look_while_a_new_one_starts_is_no_error() {
    let e = exam(
        &[("minute", quiz("graded", "time_limit_minutes = 20"))],
        None,
    )
    .await;
    let first = e.start("minute").await;
    expire(&e, &first);
    let path = format!("/api/v1/attempts/{}", first["id"].as_str().unwrap());

    // The learner reloads the old attempt and starts again, many times at once.
    let looks = futures_util::future::join_all((0..10).map(|_| e.get(&e.learner, &path)));
    let starts = futures_util::future::join_all(
        (0..10).map(|_| e.start_as(&e.learner, &e.enrolment, "minute")),
    );
    let (looks, starts) = futures_util::join!(looks, starts);

    for look in looks {
        assert_eq!(look.status(), 200);
    }
    let mut created = 0;
    for start in starts {
        let status = start.status().as_u16();
        assert!(status == 200 || status == 201, "{status}");
        let attempt: Value = start.json().await.unwrap();
        assert_eq!(attempt["number"], 2);
        created += usize::from(status == 201);
    }
    assert_eq!(created, 1);
    let old: Value = e.get(&e.learner, &path).await.json().await.unwrap();
    assert_eq!(old["status"], "submitted");
    assert_eq!(old["result"]["auto_submitted"], true);
}

#[tokio::test]
async fn an_expired_attempt_graded_by_someone_else_meanwhile_does_not_stop_a_new_start() {
    use diesel::connection::SimpleConnection;
    let e = exam(
        &[("minute", quiz("graded", "time_limit_minutes = 20"))],
        None,
    )
    .await;
    let first = e.start("minute").await;
    expire(&e, &first);
    // Another grader (the deadline job, a view) grades it and has not committed yet when
    // the start finds it open; on SQLite writes never overlap, so it has committed.
    let grading = format!(
        "UPDATE quiz_attempts SET submitted_at = deadline, auto_submitted = TRUE, \
         score_points = 0, max_points = 9, percent = 0, passed = FALSE, \
         grading = '{{\"results\":[],\"points\":0.0,\"max_points\":9.0,\"percent\":0.0}}' \
         WHERE id = '{}'",
        first["id"].as_str().unwrap()
    );
    let mut grader = e.s.app.conn();
    let overlapping = matches!(*grader, qvt_campus::db::DbConn::Pg(_));
    if overlapping {
        grader.batch_execute(&format!("BEGIN; {grading}")).unwrap();
    } else {
        grader.batch_execute(&grading).unwrap();
    }

    let release = async {
        if overlapping {
            eventually(Duration::from_secs(10), || {
                (waiting_for_locks(&e) >= 1).then_some(())
            })
            .await;
            grader.batch_execute("COMMIT").unwrap();
        }
    };
    let (started, ()) =
        futures_util::join!(e.start_as(&e.learner, &e.enrolment, "minute"), release);

    assert_eq!(started.status().as_u16(), 201);
    assert_eq!(started.json::<Value>().await.unwrap()["number"], 2);
}

#[tokio::test]
async fn statistics_over_all_sessions_keep_to_the_course_version() {
    let e = exam(&[("examen", quiz("graded", ""))], None).await;
    let attempt = e.start("examen").await;
    e.submit(&attempt, None, json!({ "answers": e.answers(&attempt, 9) }))
        .await;
    // A new version of the course (its bank edited), and a session that runs it.
    let bank = e._courses.path().join(COURSE).join("quizzes/banque.toml");
    let text = std::fs::read_to_string(&bank).unwrap();
    std::fs::write(&bank, format!("{text}\n# Relu.\n")).unwrap();
    qvt_campus::catalog::import_dir(&e.s.app.pool, e._courses.path()).unwrap();
    let newer = e.s.qvt_session(json!({ "title": "Promotion 2027" })).await;
    let other = e.s.app.learner("promo2027@univ-exemple.fr").await;
    let enrolment = enrol(&e.s, &other, &newer).await;
    let theirs: Value = e
        .start_as(&other, &enrolment, "examen")
        .await
        .json()
        .await
        .unwrap();
    let submitted = e
        .submit_as(&other, &theirs, None, json!({ "answers": {} }))
        .await;
    assert_eq!(submitted.status(), 200);

    let e = &e;
    let stats = |session: String| async move {
        e.get(
            &e.s.dean,
            &format!("/api/v1/sessions/{session}/quizzes/examen/statistics?scope=all"),
        )
        .await
        .json::<Value>()
        .await
        .unwrap()
    };
    let old = stats(e.session.clone()).await;
    let new = stats(newer.clone()).await;

    assert_eq!(
        (old["sessions"].as_u64(), old["attempts"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(
        (new["sessions"].as_u64(), new["attempts"].as_u64()),
        (Some(1), Some(1))
    );
    let facility = |stats: &Value| {
        stats["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["facility"].as_f64().unwrap())
            .sum::<f64>()
    };
    assert_eq!((facility(&old), facility(&new)), (9.0, 0.0));
}

#[tokio::test]
async fn a_start_and_submit_pair_runs_four_statements_on_postgresql() {
    if crate::helpers::postgres_base_url().is_none() {
        return;
    }
    let e = exam(&[("examen", quiz("graded", "max_attempts = 50"))], None).await;
    reset_statements(&e.s.app);
    // One pair first: the course is then in memory, as it is all day long.
    let attempt = e.start("examen").await;
    let body = json!({ "answers": e.answers(&attempt, 4) });
    assert_eq!(e.submit(&attempt, None, body).await.status().as_u16(), 200);

    const PAIRS: usize = 20;
    reset_statements(&e.s.app);
    for _ in 0..PAIRS {
        let attempt = e.start("examen").await;
        let body = json!({ "answers": e.answers(&attempt, 4) });
        assert_eq!(e.submit(&attempt, None, body).await.status().as_u16(), 200);
    }
    let run = statements_run(&e.s.app);

    // The mail worker polls meanwhile: one transaction (BEGIN, claim, COMMIT) per look.
    let mail_polls: i64 = run
        .iter()
        .filter(|s| s.query.contains("mail_outbox") && s.query.contains("SKIP LOCKED"))
        .map(|s| s.calls)
        .sum();
    let run: Vec<Statement> = run
        .into_iter()
        // Nor the LTI grade worker's look for grades due (one read, no transaction).
        .filter(|s| !s.query.contains("mail_outbox") && !s.query.contains("lti_grades"))
        .collect();
    let total = run.iter().map(|s| s.calls).sum::<i64>() - 2 * mail_polls;
    let listing: Vec<String> = run
        .iter()
        .map(|s| format!("{:>4} × {}", s.calls, s.query))
        .collect();
    let per_pair = total as f64 / PAIRS as f64;
    println!("{per_pair:.2} statements per pair:\n{}", listing.join("\n"));
    // A read and a write each, with no BEGIN or COMMIT (see `quiz::facts`).
    assert!(
        per_pair <= 4.0,
        "{per_pair:.2} statements per pair:\n{}",
        listing.join("\n")
    );
    // And none of them reads a table whole.
    let scans = whole_table_reads(&e.s.app);
    assert!(scans.is_empty(), "{}", scans.join("\n\n"));
}
