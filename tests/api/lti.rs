//! LTI 1.3 Advantage against an independent platform implementation (`lti1p3platform`,
//! see `helpers::lms`): registration, launches and their refusals (1EdTech security
//! framework), deep linking, and grades reaching the platform's grade book.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::lms::{
    browser, csp, form_action, input, location, post_launch, session_token, Lms,
};
use crate::helpers::{
    course_with_completion, field_names, free_port, lesson_ids, problem, spawn_app_with, Browsing,
    TestApp,
};
use crate::journeys::User;
use crate::quiz::{questions, AnswerKey};

const COURSE: &str = "qvt-formation-initiale";

/// A university whose Moodle is registered with us, and that Moodle.
pub(crate) struct Campus {
    pub(crate) app: TestApp,
    dean: User,
    university: String,
    pub(crate) lms: Lms,
    lessons: Vec<String>,
    _courses: tempfile::TempDir,
}

/// The app, served at the address it calls itself by (the platform redirects browsers
/// there), a university and its dean; `None` when the platform package is not installed.
pub(crate) async fn campus() -> Option<Campus> {
    campus_with(true).await
}

/// [`campus`], the platform registered (by the API) or not yet.
async fn campus_with(registered: bool) -> Option<Campus> {
    // The module completed by its lessons and its final quiz, no minimum time.
    let courses = course_with_completion(
        COURSE,
        "min_lesson_seconds = 0\nrequired_quizzes = [\"quiz-final\"]",
    );
    let port = free_port();
    let dir = courses.path().to_path_buf();
    let app = spawn_app_with(move |s| {
        s.courses_dir = dir;
        s.bind = format!("127.0.0.1:{port}").parse().unwrap();
        s.public_url = format!("http://127.0.0.1:{port}");
    })
    .await;
    let lms = Lms::start(&app)?;
    let admin = app.platform_admin().await;
    let dean = app.learner("doyen@univ-exemple.fr").await;
    let university = app.organisation(&admin, "Université Exemple", &dean).await;
    if registered {
        lms.register(&app, &dean.token, &university).await;
    }
    let lessons = lesson_ids(&app, COURSE).await;
    Some(Campus {
        app,
        dean,
        university,
        lms,
        lessons,
        _courses: courses,
    })
}

const TEACHER: &[(&str, &str)] = &[
    ("user", "teacher-1"),
    ("roles", "instructor"),
    ("name", "Claire Enseignante"),
    ("email", "claire@univ-exemple.fr"),
    ("course", COURSE),
    ("context", "moodle-course-7"),
    ("context_title", "Promotion DFGSM2"),
];

fn student(sub: &str, email: &str) -> Vec<(&'static str, String)> {
    vec![
        ("user", sub.to_owned()),
        ("roles", "learner".into()),
        ("name", "Zoé Étudiante".into()),
        ("email", email.to_owned()),
        ("course", COURSE.into()),
        ("context", "moodle-course-7".into()),
    ]
}

fn params<'a>(v: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    v.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

impl Campus {
    /// The teacher opens the activity once: the session is created.
    pub(crate) async fn opened_by_teacher(&self) -> String {
        let launched = self.lms.launch(&browser(), TEACHER).await;
        assert_eq!(launched.status().as_u16(), 303);
        let to = location(&launched);
        to.strip_prefix("/gestion/sessions/")
            .expect("the teacher lands on the session's page")
            .to_owned()
    }

    /// A student launched from the LMS: (their access token, enrolment).
    async fn student_in(&self, sub: &str, email: &str) -> (String, String) {
        let launched = self
            .lms
            .launch(&browser(), &params(&student(sub, email)))
            .await;
        assert_eq!(
            launched.status().as_u16(),
            303,
            "{:?}",
            launched.text().await
        );
        let token = session_token(&launched);
        let enrolment = location(&launched)
            .strip_prefix("/apprendre/")
            .expect("the student lands on their course")
            .to_owned();
        (token, enrolment)
    }

    /// Does every lesson (the final quiz opens then).
    async fn lessons_done(&self, token: &str, enrolment: &str) {
        for lesson in &self.lessons {
            self.app.work_through(token, enrolment, lesson).await;
            let done = self
                .app
                .post_as(
                    token,
                    &format!("/api/v1/enrolments/{enrolment}/lessons/{lesson}/complete"),
                    &json!({}),
                )
                .await;
            assert_eq!(done.status().as_u16(), 200);
        }
    }

    /// Sits the final quiz once, every answer right; its percentage.
    async fn sit_final_quiz(&self, token: &str, enrolment: &str) -> f64 {
        let started = self
            .app
            .post_as(
                token,
                &format!("/api/v1/enrolments/{enrolment}/quizzes/quiz-final/attempts"),
                &json!({}),
            )
            .await;
        assert!(started.status().is_success(), "{:?}", started.text().await);
        let attempt: Value = started.json().await.unwrap();
        let id = attempt["id"].as_str().unwrap();
        let key = AnswerKey::load();
        let answers: serde_json::Map<String, Value> = questions(&attempt)
            .iter()
            .map(|q| (q["id"].as_str().unwrap().to_owned(), key.right(q)))
            .collect();
        let submitted = self
            .app
            .post_as(
                token,
                &format!("/api/v1/attempts/{id}/submit"),
                &json!({ "answers": answers }),
            )
            .await;
        assert_eq!(submitted.status().as_u16(), 200);
        submitted.json::<Value>().await.unwrap()["result"]["percent"]
            .as_f64()
            .unwrap()
    }

    /// A student placed by the teacher completes the module (lessons, final quiz) while
    /// the LMS's grade book is down: the quiz's score and the completion are owed to its
    /// two columns. The student's `sub` on the platform names them.
    async fn grades_owed_while_the_book_is_down(&self, sub: &str, email: &str) {
        self.opened_by_teacher().await;
        self.columns(2).await;
        let (token, enrolment) = self.student_in(sub, email).await;
        self.lms.grades_down(true).await;
        self.lessons_done(&token, &enrolment).await;
        self.sit_final_quiz(&token, &enrolment).await;
    }

    /// The LMS course's grade book columns once there are `expected` of them.
    async fn columns(&self, expected: usize) -> Vec<Value> {
        let mut found = Vec::new();
        for _ in 0..300 {
            found = self.lms.received().await["lineitems"]["moodle-course-7"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if found.len() >= expected {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the grade book has {found:?}");
    }

    async fn scores_for(&self, sub: &str, expected: usize) -> Vec<Value> {
        let mut found = Vec::new();
        for _ in 0..300 {
            let received = self.lms.received().await;
            found = received["scores"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|s| s["score"]["userId"] == sub)
                .cloned()
                .collect();
            if found.len() >= expected {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the platform received {found:?}");
    }
}

#[tokio::test]
async fn a_student_launched_from_moodle_completes_the_module_and_moodle_gets_the_grades() {
    let Some(c) = campus().await else { return };
    // The teacher's first launch opens the session, linked to the LMS course.
    let session = c.opened_by_teacher().await;
    // The grade book gets its columns before any student: the graded quiz and completion.
    let mut tags: Vec<String> = c
        .columns(2)
        .await
        .iter()
        .map(|i| i["tag"].as_str().unwrap().to_owned())
        .collect();
    tags.sort();
    assert_eq!(tags, ["completion", "quiz:quiz-final"]);

    let (token, enrolment) = c.student_in("student-42", "zoe@etu.univ-exemple.fr").await;
    c.lessons_done(&token, &enrolment).await;
    // The final quiz completes the module.
    let percent = c.sit_final_quiz(&token, &enrolment).await;

    // The platform's grade book gets the quiz's score and the completion.
    let scores = c.scores_for("student-42", 2).await;
    let received = c.lms.received().await;
    let items = received["lineitems"]["moodle-course-7"]
        .as_array()
        .unwrap()
        .clone();
    let item = |tag: &str| {
        items
            .iter()
            .find(|i| i["tag"] == tag)
            .unwrap_or_else(|| panic!("no line item {tag}: {items:?}"))
            .clone()
    };
    let score_on = |tag: &str| {
        let id = item(tag)["id"].clone();
        scores
            .iter()
            .find(|s| s["lineitem"] == id)
            .unwrap_or_else(|| panic!("no score on {tag}: {scores:?}"))["score"]
            .clone()
    };
    let quiz = score_on("quiz:quiz-final");
    assert_eq!(quiz["scoreGiven"].as_f64().unwrap(), percent);
    assert_eq!(quiz["scoreMaximum"], 100.0);
    let completion = score_on("completion");
    assert_eq!(completion["scoreGiven"], 1.0);
    assert_eq!(completion["scoreMaximum"], 1.0);
    assert_eq!(completion["activityProgress"], "Completed");
    assert_eq!(completion["gradingProgress"], "FullyGraded");
    assert_eq!(item("completion")["resourceId"], COURSE);

    // The student's certificate is in the session the teacher's launch opened.
    let certificates: Value = c.app.get_json(&token, "/api/v1/me/certificates").await;
    assert_eq!(certificates.as_array().unwrap().len(), 1);
    let roster = c
        .app
        .get_as(
            &c.dean.token,
            &format!("/api/v1/sessions/{session}/enrolments"),
        )
        .await;
    assert_eq!(roster.status().as_u16(), 200);

    // Launching again finds the same account and enrolment.
    let (_, again) = c.student_in("student-42", "zoe@etu.univ-exemple.fr").await;
    assert_eq!(again, enrolment);
}

#[tokio::test]
async fn an_lms_user_is_linked_by_sub_never_by_e_mail() {
    let Some(c) = campus().await else { return };
    c.opened_by_teacher().await;
    // Someone in the LMS gives the dean's address: they get an account of their own.
    let (token, _) = c.student_in("intruder", "doyen@univ-exemple.fr").await;
    let me: Value = c.app.get_json(&token, "/api/v1/me").await;
    assert_ne!(me["email"], "doyen@univ-exemple.fr");
    assert_ne!(me["id"], c.dean.id);
    // A learner's launch before any teacher's: a clear refusal, nothing created.
    let early = c
        .lms
        .launch(
            &browser(),
            &[
                ("user", "s2"),
                ("roles", "learner"),
                ("course", COURSE),
                ("context", "other-course"),
            ],
        )
        .await;
    let refused = problem(early, 409).await;
    assert!(
        refused["detail"].as_str().unwrap().contains("enseignant"),
        "{refused}"
    );
}

#[tokio::test]
async fn launches_the_security_framework_forbids_are_refused_with_a_reason() {
    let Some(c) = campus().await else { return };
    c.opened_by_teacher().await;
    for (mode, words) in [
        ("wrong_aud", "audience"),
        ("expired", "expiré"),
        ("unknown_kid", "clé de signature inconnue"),
        ("bad_signature", "signature invalide"),
        ("bad_deployment", "déploiement"),
    ] {
        let mut p = student("s-mode", "mode@etu.test");
        p.push(("mode", mode.into()));
        let launched = c.lms.launch(&browser(), &params(&p)).await;
        let refused = problem(launched, 401).await;
        let detail = refused["detail"].as_str().unwrap();
        assert!(detail.contains(words), "{mode}: {detail}");
    }

    // A launch replayed: its state (and nonce) served once.
    let b = browser();
    let (action, id_token, state) = c
        .lms
        .launch_form(&b, &params(&student("s-r", "r@etu.test")))
        .await;
    assert_eq!(
        post_launch(&b, &action, &id_token, &state)
            .await
            .status()
            .as_u16(),
        303
    );
    let replayed = problem(post_launch(&b, &action, &id_token, &state).await, 401).await;
    assert!(
        replayed["detail"].as_str().unwrap().contains("state"),
        "{replayed}"
    );
    // Its id_token with another login's state: the nonce is not that login's.
    let other = browser();
    let (_, _, fresh_state) = c
        .lms
        .launch_form(&other, &params(&student("s-r", "r@etu.test")))
        .await;
    let mixed = problem(
        post_launch(&other, &action, &id_token, &fresh_state).await,
        401,
    )
    .await;
    assert!(
        mixed["detail"].as_str().unwrap().contains("nonce"),
        "{mixed}"
    );
    // A state from another browser (its cookie says otherwise).
    let (action, id_token, state) = c
        .lms
        .launch_form(&browser(), &params(&student("s-x", "x@etu.test")))
        .await;
    let (_, _, mine) = c
        .lms
        .launch_form(&b, &params(&student("s-y", "y@etu.test")))
        .await;
    assert_ne!(mine, state);
    let crossed = problem(post_launch(&b, &action, &id_token, &state).await, 401).await;
    assert!(
        crossed["detail"].as_str().unwrap().contains("navigateur"),
        "{crossed}"
    );
    // Two activities launched together in one browser: both go through.
    let both = browser();
    let a = c
        .lms
        .launch_form(&both, &params(&student("s-a", "a@etu.test")))
        .await;
    let z = c
        .lms
        .launch_form(&both, &params(&student("s-a", "a@etu.test")))
        .await;
    for (to, token, state) in [a, z] {
        let launched = post_launch(&both, &to, &token, &state).await;
        assert_eq!(launched.status().as_u16(), 303);
    }
    // Garbage: a field-named problem, never a 500.
    let garbage = problem(
        post_launch(&browser(), &action, "not.a.jwt", "no-such-state").await,
        401,
    )
    .await;
    assert!(
        garbage["detail"].as_str().unwrap().contains("state"),
        "{garbage}"
    );
    let empty = browser()
        .post(&action)
        .form(&[("state", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(field_names(&problem(empty, 422).await), ["id_token"]);
}

/// The teacher's choice on the deep linking page: a course, or one of its quizzes.
async fn place(
    b: &reqwest::Client,
    app: &TestApp,
    request: &str,
    course: &str,
    quiz: Option<&str>,
) -> reqwest::Response {
    let mut form = vec![("request", request), ("course", course)];
    form.extend(quiz.map(|q| ("quiz", q)));
    b.post(app.url("/lti/deep-link"))
        .form(&form)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_teacher_places_the_module_by_deep_linking_and_the_platform_accepts_it() {
    let Some(c) = campus().await else { return };
    let b = browser();
    let mut teacher: Vec<(&str, &str)> = TEACHER.to_vec();
    teacher.push(("message", "dl"));
    let picker = c.lms.launch(&b, &teacher).await;
    assert_eq!(picker.status().as_u16(), 200, "{:?}", picker.text().await);
    // Framed by this platform only, for this page.
    let policy = csp(&picker);
    assert!(
        policy.contains(&format!("frame-ancestors 'self' {}", c.lms.url)),
        "{policy}"
    );
    assert!(picker.headers().get("x-frame-options").is_none());
    let page = picker.text().await.unwrap();
    assert!(page.contains("Placer une formation"), "{page}");
    let request = input(&page, "request").unwrap();

    let chosen = place(&b, &c.app, request.as_str(), COURSE, None).await;
    assert_eq!(chosen.status().as_u16(), 200);
    let policy = csp(&chosen);
    assert!(
        policy.contains(&format!("form-action 'self' {}", c.lms.url)),
        "{policy}"
    );
    let page = chosen.text().await.unwrap();
    let (to, jwt) = (form_action(&page).unwrap(), input(&page, "JWT").unwrap());
    assert_eq!(to, format!("{}/dl/return", c.lms.url));
    let accepted = c.lms.post_form(&to, &[("JWT", jwt.as_str())]).await;
    assert_eq!(
        accepted.status().as_u16(),
        200,
        "{}",
        accepted.text().await.unwrap()
    );
    let links = c.lms.received().await["deep_links"].clone();
    assert_eq!(links[0]["type"], "ltiResourceLink");
    assert_eq!(links[0]["custom"]["course"], COURSE);
    assert_eq!(links[0]["url"], c.app.url("/lti/launch"));

    // One quiz alone, with its own column; a practice quiz cannot be placed.
    let chosen = place(&b, &c.app, request.as_str(), COURSE, Some("quiz-final")).await;
    let page = chosen.text().await.unwrap();
    let jwt = input(&page, "JWT").unwrap();
    let accepted = c.lms.post_form(&to, &[("JWT", jwt.as_str())]).await;
    assert_eq!(accepted.status().as_u16(), 200);
    let quiz_link = c.lms.received().await["deep_links"][1].clone();
    assert_eq!(
        quiz_link["custom"],
        json!({ "course": COURSE, "quiz": "quiz-final" })
    );
    assert_eq!(quiz_link["lineItem"]["tag"], "quiz:quiz-final");
    assert_eq!(quiz_link["lineItem"]["scoreMaximum"], 100);
    let practice = place(&b, &c.app, request.as_str(), COURSE, Some("quiz-formatif")).await;
    assert_eq!(field_names(&problem(practice, 422).await), ["quiz"]);

    // A student follows the quiz link: to the quiz, and its score to that column.
    c.opened_by_teacher().await;
    let column = quiz_link["lineitem_id"].as_str().unwrap().to_owned();
    let short = column.rsplit('/').next().unwrap().to_owned();
    let launched = c
        .lms
        .launch(
            &browser(),
            &[
                ("user", "s-q"),
                ("roles", "learner"),
                ("course", COURSE),
                ("quiz", "quiz-final"),
                ("context", "moodle-course-7"),
                ("lineitem", &short),
            ],
        )
        .await;
    assert_eq!(launched.status().as_u16(), 303);
    let to_quiz = location(&launched);
    let token = session_token(&launched);
    let enrolment = to_quiz
        .strip_prefix("/apprendre/")
        .and_then(|r| r.strip_suffix("/quiz/quiz-final"))
        .unwrap_or_else(|| panic!("{to_quiz}"))
        .to_owned();
    c.lessons_done(&token, &enrolment).await;
    let percent = c.sit_final_quiz(&token, &enrolment).await;
    let scores = c.scores_for("s-q", 1).await;
    let on_column: Vec<&Value> = scores
        .iter()
        .filter(|s| s["lineitem"] == column.as_str())
        .collect();
    assert!(!on_column.is_empty(), "{scores:?}");
    assert_eq!(
        on_column[0]["score"]["scoreGiven"].as_f64().unwrap(),
        percent
    );

    // A course the university may not run, and a forged request, are refused.
    let dpc = place(&b, &c.app, request.as_str(), "dpc-securite-exercice", None).await;
    assert_eq!(field_names(&problem(dpc, 422).await), ["course"]);
    let forged = place(&b, &c.app, "eyJhbGciOiJub25lIn0.e30.", COURSE, None).await;
    problem(forged, 401).await;
    // A learner cannot place anything.
    let mut learner = student("s-dl", "dl@etu.test");
    learner.push(("message", "dl".into()));
    problem(c.lms.launch(&browser(), &params(&learner)).await, 403).await;
}

#[tokio::test]
async fn grades_wait_out_an_lms_outage_and_arrive_once() {
    let Some(c) = campus().await else { return };
    c.grades_owed_while_the_book_is_down("student-7", "sept@etu.univ-exemple.fr")
        .await;

    // The registration shows the grade waiting, and why.
    let path = format!("/api/v1/organisations/{}/lti/platforms", c.university);
    let mut listed = Value::Null;
    for _ in 0..150 {
        listed = c.app.get_json(&c.dean.token, &path).await;
        if listed[0]["last_error"].is_string() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(listed[0]["grades_waiting"], 2, "{listed}");
    assert!(
        listed[0]["last_error"].as_str().unwrap().contains("503"),
        "{listed}"
    );
    assert!(c.lms.received().await["scores"]
        .as_array()
        .unwrap()
        .is_empty());

    // Back up: the quiz's score and the completion arrive, once each.
    c.lms.grades_down(false).await;
    c.scores_for("student-7", 2).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(c.scores_for("student-7", 2).await.len(), 2);
    let listed: Value = c.app.get_json(&c.dean.token, &path).await;
    assert_eq!(listed[0]["grades_waiting"], 0, "{listed}");
}

#[tokio::test]
async fn a_grade_sender_whose_lease_ran_out_cannot_undo_the_instance_that_took_over() {
    use qvt_campus::lti::store::{claim_due, mark_failed, mark_sent};
    let Some(c) = campus().await else { return };
    c.grades_owed_while_the_book_is_down("student-8", "huit@etu.univ-exemple.fr")
        .await;

    // Instance A claims the grades with a lease that runs out; instance B claims them again.
    // (Ahead of the clock: the worker's own claims, if any, have run out by then too.)
    let now = chrono::Utc::now().naive_utc();
    let hours = |h| now + chrono::Duration::hours(h);
    let by_a = claim_due(&mut c.app.conn(), hours(1), hours(2), 10).unwrap();
    let by_b = claim_due(&mut c.app.conn(), hours(3), hours(4), 10).unwrap();
    assert_eq!((by_a.len(), by_b.len()), (2, 2), "both grades taken over");

    // A's platform call fails at last while B is sending: it must not free the grades for
    // a third sender. Then B's succeeds, and A's late success does not count either.
    for grade in &by_a {
        assert!(!mark_failed(&mut c.app.conn(), grade, "503", hours(3)).unwrap());
    }
    for grade in &by_b {
        assert!(mark_sent(&mut c.app.conn(), grade, hours(3)).unwrap());
    }
    for grade in &by_a {
        assert!(!mark_sent(&mut c.app.conn(), grade, hours(5)).unwrap());
    }
    assert!(claim_due(&mut c.app.conn(), hours(24), hours(25), 10)
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn only_the_organisations_admins_register_platforms_and_bad_fields_are_named() {
    let Some(c) = campus().await else { return };
    let path = format!("/api/v1/organisations/{}/lti/platforms", c.university);
    // Each bad field is named.
    let bad = c
        .app
        .post_as(
            &c.dean.token,
            &path,
            &json!({ "name": "", "issuer": "ftp://x", "client_id": "a", "deployment_ids": [],
                     "auth_url": "https://a.test/auth", "token_url": "https://a.test/token", "jwks_url": "javascript:alert(1)" }),
        )
        .await;
    let mut named = field_names(&problem(bad, 422).await);
    named.sort();
    assert_eq!(named, ["deployment_ids", "issuer", "jwks_url", "name"]);
    // The same platform twice: a conflict.
    let again = c
        .app
        .post_as(&c.dean.token, &path, &c.lms.registration())
        .await;
    problem(again, 409).await;
    // A student of the university may not; a stranger does not see it.
    let student = c.app.learner("etudiant@univ-exemple.fr").await;
    c.app
        .post_as(
            &c.dean.token,
            &format!("/api/v1/organisations/{}/members", c.university),
            &json!({ "email": student.email, "role": "learner" }),
        )
        .await;
    problem(c.app.get_as(&student.token, &path).await, 403).await;
    let stranger = c.app.learner("autre@ailleurs.fr").await;
    problem(c.app.get_as(&stranger.token, &path).await, 404).await;
    // The dean sees it, with the addresses to paste in Moodle alongside.
    let listed: Value = c.app.get_json(&c.dean.token, &path).await;
    assert_eq!(listed[0]["deployment_ids"], json!(["deployment-1"]));
    let config: Value = c.app.get("/lti/configuration").await.json().await.unwrap();
    assert_eq!(config["login_url"], c.app.url("/lti/login"));
    let keys: Value = c.app.get("/lti/jwks.json").await.json().await.unwrap();
    assert_eq!(keys["keys"][0]["kty"], "RSA");

    // Removed: launches from it stop, with a clear answer.
    let id = listed[0]["id"].as_str().unwrap();
    let removed = c
        .app
        .call(
            reqwest::Method::DELETE,
            &format!("{path}/{id}"),
            &c.dean.token,
            None,
        )
        .await;
    assert_eq!(removed.status().as_u16(), 204);
    let start = browser()
        .get(format!("{}/start", c.lms.url))
        .query(TEACHER)
        .send()
        .await
        .unwrap();
    let login = browser().get(location(&start)).send().await.unwrap();
    problem(login, 404).await;
}

#[tokio::test]
async fn the_dean_registers_moodle_from_the_organisations_page_and_removes_it() {
    let Some(c) = campus_with(false).await else {
        return;
    };
    let dean = Browsing::signed_in(&c.app, &c.dean.email).await;
    let page = format!("/gestion/organisations/{}/lms", c.university);
    // The addresses to paste into Moodle are on the page.
    let (status, html) = dean.page(&page).await;
    assert_eq!(status, 200);
    assert!(html.contains(&c.app.url("/lti/login")), "{html}");
    assert!(html.contains(&c.app.url("/lti/jwks.json")));
    let (_, org) = dean
        .page(&format!("/gestion/organisations/{}", c.university))
        .await;
    assert!(org.contains(&page), "the organisation's page links to it");
    // The dynamic registration address, created from the page.
    let created = dean.post(&format!("{page}/adresse"), &[]).await;
    assert_eq!(created.status().as_u16(), 200);
    let html = crate::helpers::unescape(&created.text().await.unwrap());
    assert!(html.contains(&c.app.url("/lti/inscription/")), "{html}");

    let registration = c.lms.registration();
    let field = |name: &str| registration[name].as_str().unwrap().to_owned();
    let mut fields = vec![
        ("name", field("name")),
        ("issuer", field("issuer")),
        ("client_id", field("client_id")),
        ("deployment_ids", "deployment-1\n".to_owned()),
        ("auth_url", field("auth_url")),
        ("token_url", field("token_url")),
        ("jwks_url", "ftp://nope".to_owned()),
    ];
    let send = |f: &[(&'static str, String)]| {
        let pairs: Vec<(&'static str, String)> = f.to_vec();
        let (dean, page) = (&dean, page.clone());
        async move {
            let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
            dean.post(&page, &pairs).await
        }
    };
    // A wrong address: the form again, the field named, what was typed kept.
    let refused = send(&fields).await;
    assert_eq!(refused.status().as_u16(), 422);
    let html = crate::helpers::unescape(&refused.text().await.unwrap());
    assert!(
        html.contains("aria-invalid=\"true\" aria-describedby=\"jwks_url-error\""),
        "{html}"
    );
    assert!(html.contains(&field("token_url")));
    fields[6].1 = field("jwks_url");
    let registered = send(&fields).await;
    assert_eq!(Browsing::location(&registered), page);
    let (_, html) = dean.page(&page).await;
    assert!(html.contains("Moodle de l'université"), "{html}");

    // It works: the teacher's launch opens the session.
    c.opened_by_teacher().await;

    // Removed from the page: gone.
    let listed: Value = c
        .app
        .get_json(
            &c.dean.token,
            &format!("/api/v1/organisations/{}/lti/platforms", c.university),
        )
        .await;
    let id = listed[0]["id"].as_str().unwrap();
    let removed = dean.post(&format!("{page}/{id}/retirer"), &[]).await;
    assert_eq!(Browsing::location(&removed), page);
    let (_, html) = dean.page(&page).await;
    assert!(html.contains("Aucune plateforme"), "{html}");
}

#[tokio::test]
async fn the_lms_courses_roster_is_brought_in_after_a_dry_run() {
    let Some(c) = campus().await else { return };
    let session = c.opened_by_teacher().await;
    c.student_in("s-1", "un@etu.test").await;
    let learner = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner";
    let teacher = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor";
    c.lms
        .set_members(
            "moodle-course-7",
            json!([
                { "user_id": "s-1", "roles": [learner], "name": "Déjà Là" },
                { "user_id": "s-2", "roles": [learner], "given_name": "Inès", "family_name": "Nouvelle", "email": "ines@etu.test" },
                { "user_id": "s-3", "roles": [learner], "name": "Paul Nouveau" },
                { "user_id": "s-4", "roles": [learner], "status": "Inactive", "name": "Parti" },
                { "user_id": "t-2", "roles": [teacher], "name": "Autre Enseignant" },
            ]),
        )
        .await;
    let path = format!("/api/v1/sessions/{session}/lti/roster");
    let enrolled = || async {
        let roster: Value = c
            .app
            .get_json(
                &c.dean.token,
                &format!("/api/v1/sessions/{session}/enrolments"),
            )
            .await;
        roster.as_array().map_or(0, Vec::len)
    };

    // The dry run says what would happen, and changes nothing.
    let dry: Value = c
        .app
        .post_as(&c.dean.token, &format!("{path}?dry_run=true"), &json!({}))
        .await
        .json()
        .await
        .unwrap();
    let report = &dry[0];
    assert_eq!(report["dry_run"], true);
    assert_eq!(report["members"], 5, "every page read: {report}");
    assert_eq!(report["enrolled"], 2);
    assert_eq!(report["already_enrolled"], 1);
    assert_eq!(report["teachers"], 1);
    assert_eq!(report["left_aside"], 1);
    assert_eq!(enrolled().await, 1);

    // The real run enrols them; run again, nothing more.
    let done: Value = c
        .app
        .post_as(&c.dean.token, &path, &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(done[0]["enrolled"], 2, "{done}");
    assert_eq!(enrolled().await, 3);
    let again: Value = c
        .app
        .post_as(&c.dean.token, &path, &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again[0]["enrolled"], 0);
    assert_eq!(again[0]["already_enrolled"], 3);
    // The student brought in by the roster launches into the same enrolment.
    let (_, enrolment) = c.student_in("s-3", "paul@etu.test").await;
    assert!(!enrolment.is_empty());
    assert_eq!(enrolled().await, 3);

    // From the session's page too: checked, then brought in.
    let dean = Browsing::signed_in(&c.app, &c.dean.email).await;
    let (_, page) = dean.page(&format!("/gestion/sessions/{session}")).await;
    assert!(page.contains("Vérifier la liste du cours"), "{page}");
    let form = format!("/gestion/sessions/{session}/liste-plateforme");
    let checked = dean.post(&form, &[("mode", "verifier")]).await;
    assert_eq!(checked.status().as_u16(), 200);
    let html = crate::helpers::unescape(&checked.text().await.unwrap());
    assert!(
        html.contains("5 participant(s)") && html.contains("3 déjà inscrit(s)"),
        "{html}"
    );
    assert!(html.contains("Inscrire la liste du cours"));
    let brought = dean.post(&form, &[("mode", "inscrire")]).await;
    let html = crate::helpers::unescape(&brought.text().await.unwrap());
    assert!(html.contains("Liste du cours inscrite"), "{html}");

    // Only the organisation's admins may.
    let outsider = c.app.learner("curieux@ailleurs.fr").await;
    problem(c.app.post_as(&outsider.token, &path, &json!({})).await, 404).await;
}

#[tokio::test]
async fn login_initiations_from_one_address_are_limited() {
    let Some(c) = campus().await else { return };
    let client = browser();
    let url = c
        .app
        .url("/lti/login?iss=https://inconnu.test&login_hint=x");
    let mut refused = None;
    let quota = qvt_campus::lti::routes::LOGINS_PER_MINUTE;
    // The quota refills as time passes (SQLite) or starts again at the next minute
    // (PostgreSQL): a flood is refused once it is spent, at most a little later.
    for n in 0..3 * quota {
        let answer = client.get(&url).send().await.unwrap();
        if answer.status().as_u16() == 429 {
            refused = Some((n, answer));
            break;
        }
        assert_eq!(answer.status().as_u16(), 404, "an unknown platform");
    }
    let (n, answer) = refused.expect("a flood is refused");
    assert!(n >= quota, "refused after {n}");
    assert!(answer.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn a_platform_that_rotates_its_key_is_believed_within_seconds() {
    let Some(c) = campus().await else { return };
    c.opened_by_teacher().await;
    c.lms.rotate_key().await;
    // The keyset was read moments ago: a launch with the new key waits for the refetch
    // window (2 s), then the new key is fetched and the launch goes through.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (_, enrolment) = c.student_in("s-rot", "rot@etu.test").await;
    assert!(!enrolment.is_empty());
    // A key the new keyset does not publish is still refused (the refetch found none).
    let mut p = student("s-old", "old@etu.test");
    p.push(("mode", "unknown_kid".into()));
    let old = c.lms.launch(&browser(), &params(&p)).await;
    problem(old, 401).await;
}

#[tokio::test]
async fn moodle_registers_the_tool_by_itself_from_an_address_the_dean_created() {
    let Some(c) = campus_with(false).await else {
        return;
    };
    let created = c
        .app
        .post_as(
            &c.dean.token,
            &format!(
                "/api/v1/organisations/{}/lti/registration-urls",
                c.university
            ),
            &json!({}),
        )
        .await;
    assert_eq!(created.status().as_u16(), 201);
    let created: Value = created.json().await.unwrap();
    let address = created["url"].as_str().unwrap().to_owned();
    // A date-time as the OpenAPI document says (RFC 3339, with its offset), a week ahead.
    let expires = created["expires_at"].as_str().unwrap();
    let expires = chrono::DateTime::parse_from_rfc3339(expires).expect(expires);
    let ahead = expires.with_timezone(&chrono::Utc) - chrono::Utc::now();
    assert!(
        (ahead - chrono::Duration::days(7)).num_minutes().abs() < 5,
        "{created}"
    );
    assert!(
        address.starts_with(&c.app.url("/lti/inscription/")),
        "{address}"
    );
    let configuration = format!("{}/.well-known/openid-configuration", c.lms.url);
    let open = |token: &'static str| {
        let (address, configuration) = (address.clone(), configuration.clone());
        async move {
            browser()
                .get(&address)
                .query(&[
                    ("openid_configuration", configuration.as_str()),
                    ("registration_token", token),
                ])
                .send()
                .await
                .unwrap()
        }
    };

    // The platform refuses a wrong registration token: nothing is recorded, the address
    // still works.
    let refused = open("wrong").await;
    assert_eq!(refused.status().as_u16(), 503);
    let path = format!("/api/v1/organisations/{}/lti/platforms", c.university);
    let listed: Value = c.app.get_json(&c.dean.token, &path).await;
    assert!(listed.as_array().unwrap().is_empty());

    let registered = open("registration-token-1").await;
    assert_eq!(registered.status().as_u16(), 200);
    let policy = csp(&registered);
    assert!(
        policy.contains(&format!("frame-ancestors 'self' {}", c.lms.url)),
        "{policy}"
    );
    let page = registered.text().await.unwrap();
    assert!(page.contains("data-lti-close"), "{page}");
    let listed: Value = c.app.get_json(&c.dean.token, &path).await;
    assert_eq!(listed[0]["issuer"], c.lms.url.as_str());
    assert_eq!(listed[0]["client_id"], "qvt-tool");
    assert_eq!(listed[0]["deployment_ids"], json!(["deployment-1"]));
    assert_eq!(listed[0]["token_url"], format!("{}/token", c.lms.url));
    // What the platform received is what it needs (it checked it too).
    let sent = c.lms.received().await["registered"].clone();
    assert_eq!(sent["jwks_uri"], c.app.url("/lti/jwks.json"));

    // Launches work at once; the address is used up.
    c.opened_by_teacher().await;
    let again = open("registration-token-1").await;
    problem(again, 404).await;
}
