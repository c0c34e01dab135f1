//! The university diploma: a cohort of 30 through attendance, grades, thesis, jury, closed
//! minutes and numbered completion records; numbering under concurrency; who may do what;
//! the audit trail; the registrar's transcript.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{
    copy_course, day, field_names, pdf_text, problem, replace_last_section, setup_in, unescape,
    Browsing, Setup,
};
use crate::journeys::{User, PASSWORD};

const COURSE: &str = "du-soigner-les-soignants";
const UNITS: [&str; 4] = ["u1", "u2", "u3", "u4"];

/// The DU with the online part left out of its rules (tested in the unit tests), so the
/// cohort's journey is the staff's.
fn du_course() -> tempfile::TempDir {
    let (dir, course) = copy_course(COURSE);
    replace_last_section(&course, "[du_rules]", "online_required = false");
    dir
}

pub(crate) struct Cohort {
    pub s: Setup,
    pub tutor: User,
    /// Admin of the partner university: staff elsewhere, nobody here.
    other_dean: User,
    pub session: String,
    pub learners: Vec<(User, String)>,
    _courses: tempfile::TempDir,
}

pub(crate) async fn cohort(size: usize) -> Cohort {
    let courses = du_course();
    let s = setup_in(courses.path().to_path_buf()).await;
    let admin = s.app.logged_in("admin@qvt-campus.fr", PASSWORD).await;
    let other_dean = s.app.learner("doyenne@univ-toulouse.fr").await;
    let partner = s
        .app
        .organisation(&admin, "Université de Toulouse", &other_dean)
        .await;
    let tutor = s.university_tutor("tutrice@univ-exemple.fr").await;
    let session = s
        .session(
            &s.dean,
            &s.university,
            json!({ "course": COURSE, "title": "DIU Soigner les soignants 2026-2027", "opens_on": day(-1),
                    "closes_on": day(200), "enrolment_mode": "open", "academic_year": "2026-2027" }),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let set = s
        .app
        .call(
            Method::PUT,
            &format!("/api/v1/sessions/{session}/du"),
            // Naming the partner on signed records takes an admin of both universities.
            &admin.token,
            Some(&json!({ "partner_organisation_id": partner, "responsibles": ["Pr Anne Martin", "Dr Éric Durand"] })),
        )
        .await;
    assert_eq!(set.status().as_u16(), 200, "{}", set.text().await.unwrap());
    let mut learners = Vec::new();
    for i in 0..size {
        let user = s
            .app
            .learner(&format!("candidat{i:02}@chu-exemple.fr"))
            .await;
        let enrolment: Value = s
            .enrol(&user, &session, json!({}))
            .await
            .json()
            .await
            .unwrap();
        learners.push((user, enrolment["id"].as_str().unwrap().to_owned()));
    }
    Cohort {
        s,
        tutor,
        other_dean,
        session,
        learners,
        _courses: courses,
    }
}

impl Cohort {
    async fn put(&self, by: &User, path: &str, body: Value) -> reqwest::Response {
        self.s
            .app
            .call(Method::PUT, path, &by.token, Some(&body))
            .await
    }

    /// Attendance (every day present unless `absent_day`), four grades, the thesis.
    pub async fn grade(&self, enrolment: &str, grades: [f64; 4], thesis: f64) {
        for (unit, grade) in UNITS.iter().zip(grades) {
            let base = format!("/api/v1/enrolments/{enrolment}/du/units/{unit}");
            let days = json!({ "days": [{ "day": "2026-11-05", "present": true }, { "day": "2026-11-06", "present": true }] });
            let r = self
                .put(&self.tutor, &format!("{base}/attendance"), days)
                .await;
            assert_eq!(r.status().as_u16(), 204, "{}", r.text().await.unwrap());
            let r = self
                .put(
                    &self.tutor,
                    &format!("{base}/grade"),
                    json!({ "grade": grade }),
                )
                .await;
            assert_eq!(r.status().as_u16(), 204);
        }
        let r = self
            .put(
                &self.tutor,
                &format!("/api/v1/enrolments/{enrolment}/du/thesis"),
                json!({ "title": "Le soignant face à l'erreur : récit et soutien", "supervisor": "Dr Éric Durand",
                        "grade": thesis, "defended_on": "2027-06-15" }),
            )
            .await;
        assert_eq!(r.status().as_u16(), 204);
    }

    pub async fn decide(&self, enrolment: &str, body: Value) -> reqwest::Response {
        self.s
            .app
            .post_as(
                &self.s.dean.token,
                &format!("/api/v1/enrolments/{enrolment}/du/decision"),
                &body,
            )
            .await
    }

    async fn file(&self, by: &User, enrolment: &str) -> reqwest::Response {
        self.s
            .app
            .get_as(&by.token, &format!("/api/v1/enrolments/{enrolment}/du"))
            .await
    }
}

pub(crate) fn admis(mention: Option<&str>) -> Value {
    json!({ "decision": "admis", "mention": mention, "decided_on": "2027-06-30",
            "jury": ["Pr Anne Martin", "Dr Éric Durand", "Dr Léa Petit"] })
}

#[tokio::test]
async fn a_cohort_of_thirty_goes_through_grades_jury_and_numbered_records() {
    let c = cohort(30).await;
    let (passed, failed, absent) = (&c.learners[..28], &c.learners[28], &c.learners[29]);
    for (i, (_, enrolment)) in passed.iter().enumerate() {
        c.grade(enrolment, [12.0, 10.0, 14.5, 11.0 + (i % 5) as f64], 13.0)
            .await;
    }
    c.grade(&failed.1, [12.0, 8.0, 14.0, 12.0], 11.0).await;

    // No decision but `absent` before everything is entered.
    let early = problem(c.decide(&absent.1, admis(None)).await, 409).await;
    assert!(
        field_names(&early).contains(&"decision".to_owned()),
        "{early}"
    );
    assert!(early["detail"].as_str().unwrap().contains("note"));
    let r = c
        .decide(
            &absent.1,
            json!({ "decision": "absent", "decided_on": "2027-06-30", "jury": ["Pr Anne Martin"] }),
        )
        .await;
    assert_eq!(r.status().as_u16(), 200);

    // The rules propose; the jury decides.
    let file: Value = c.file(&c.tutor, &failed.1).await.json().await.unwrap();
    assert_eq!(file["proposal"]["decision"], "ajourne");
    let r = c.decide(&failed.1, json!({ "decision": "ajourne", "decided_on": "2027-06-30", "jury": ["Pr Anne Martin"] })).await;
    assert_eq!(r.status().as_u16(), 200);
    for (i, (_, enrolment)) in passed.iter().enumerate() {
        let mention = (i % 3 == 0).then_some("bien");
        let r = c.decide(enrolment, admis(mention)).await;
        assert_eq!(r.status().as_u16(), 200, "{}", r.text().await.unwrap());
    }

    // Records wait for the closed minutes.
    let first = format!("/api/v1/enrolments/{}/du/record", passed[0].1);
    problem(
        c.s.app.post_as(&c.s.dean.token, &first, &json!({})).await,
        409,
    )
    .await;
    let close = format!("/api/v1/sessions/{}/du/minutes/close", c.session);
    assert_eq!(
        c.s.app
            .post_as(&c.s.dean.token, &close, &json!({}))
            .await
            .status()
            .as_u16(),
        200
    );
    problem(
        c.s.app.post_as(&c.s.dean.token, &close, &json!({})).await,
        409,
    )
    .await;
    // After that, a new decision needs a reason.
    let unreasoned = problem(c.decide(&failed.1, admis(None)).await, 422).await;
    assert_eq!(field_names(&unreasoned), vec!["reason"]);

    // 20 issued at once (on PostgreSQL, over three instances): 20 distinct numbers, no gap.
    let instances = c.s.app.instances().await;
    let paths: Vec<String> = passed[..20]
        .iter()
        .map(|(_, e)| format!("/api/v1/enrolments/{e}/du/record"))
        .collect();
    let empty = json!({});
    let calls = paths
        .iter()
        .enumerate()
        .map(|(i, path)| instances.nth(i).post_as(&c.s.dean.token, path, &empty));
    let mut numbers = Vec::new();
    for answer in futures_util::future::join_all(calls).await {
        assert_eq!(answer.status().as_u16(), 201);
        numbers.push(
            answer.json::<Value>().await.unwrap()["number"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    numbers.sort();
    let expected: Vec<String> = (1..=20).map(|n| format!("0751717J-2026-{n:04}")).collect();
    assert_eq!(numbers, expected);
    // The rest in one go; asking again changes nothing.
    let rest: Value =
        c.s.app
            .post_as(
                &c.s.dean.token,
                &format!("/api/v1/sessions/{}/du/records", c.session),
                &json!({}),
            )
            .await
            .json()
            .await
            .unwrap();
    assert_eq!(rest["issued"].as_array().unwrap().len(), 8);
    assert_eq!(rest["issued"][7], "0751717J-2026-0028");
    let again = c.s.app.post_as(&c.s.dean.token, &first, &json!({})).await;
    assert_eq!(again.status().as_u16(), 200);

    // The learner sees their file and the record, a signed certificate like the others.
    let (learner, enrolment) = &passed[0];
    let file: Value = c.file(learner, enrolment).await.json().await.unwrap();
    assert_eq!(file["decision"]["decision"], "admis");
    assert_eq!(file["units"][2]["grade"], 14.5);
    let certificate = file["record"]["certificate_id"].as_str().unwrap();
    let pdf =
        c.s.app
            .get_as(
                &learner.token,
                &format!("/api/v1/certificates/{certificate}.pdf"),
            )
            .await
            .bytes()
            .await
            .unwrap();
    let text = pdf_text(&pdf);
    for expected in [
        "Relevé de fin de formation",
        file["record"]["number"].as_str().unwrap(),
        "Université Exemple et Université de Toulouse",
        "Assumer et gérer l'erreur médicale",
        "14,5/20",
        "Le soignant face à l'erreur",
        "13/20",
        "Admis",
        "Bien",
        "Camille Soignant",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }
    let shown: Value =
        c.s.app
            .get_json(
                &learner.token,
                &format!("/api/v1/certificates/{certificate}"),
            )
            .await;
    let code = shown["code"].as_str().unwrap();
    let verified: Value =
        c.s.app
            .get(&format!("/api/v1/verify/{code}"))
            .await
            .json()
            .await
            .unwrap();
    assert_eq!(verified["status"], "valid");
    assert_eq!(verified["attested"]["du_record"]["decision"], "Admis");

    // A new decision after the minutes: motivated, audited, and the record falls with it.
    let (_, last) = &passed[27];
    let last_record: Value =
        c.s.app
            .post_as(
                &c.s.dean.token,
                &format!("/api/v1/enrolments/{last}/du/record"),
                &json!({}),
            )
            .await
            .json()
            .await
            .unwrap();
    let changed = c
        .decide(
            last,
            json!({ "decision": "ajourne", "decided_on": "2027-07-02", "jury": ["Pr Anne Martin"],
                              "reason": "Plagiat établi dans le mémoire" }),
        )
        .await;
    assert_eq!(changed.status().as_u16(), 200);
    let changed: Value = changed.json().await.unwrap();
    assert!(changed["record"].is_null());
    assert_eq!(changed["earlier_decisions"][0]["decision"], "admis");
    let record_certificate = last_record["certificate_id"].as_str().unwrap();
    let shown: Value =
        c.s.app
            .get_json(
                &c.s.dean.token,
                &format!("/api/v1/certificates/{record_certificate}"),
            )
            .await;
    assert_eq!(shown["status"], "revoked");
    // The jury comes back to it: a new record, with the next number, in the same chain.
    let back = c
        .decide(
            last,
            json!({ "decision": "admis", "decided_on": "2027-07-09", "jury": ["Pr Anne Martin"],
                              "reason": "Recours gracieux accueilli" }),
        )
        .await;
    assert_eq!(back.status().as_u16(), 200);
    let renewed =
        c.s.app
            .post_as(
                &c.s.dean.token,
                &format!("/api/v1/enrolments/{last}/du/record"),
                &json!({}),
            )
            .await;
    assert_eq!(renewed.status().as_u16(), 201);
    assert_eq!(
        renewed.json::<Value>().await.unwrap()["number"],
        "0751717J-2026-0029"
    );
    // The grades the jury decided on are frozen with its minutes.
    let frozen = c
        .put(
            &c.tutor,
            &format!("/api/v1/enrolments/{last}/du/units/u1/grade"),
            json!({ "grade": 20 }),
        )
        .await;
    problem(frozen, 409).await;

    // The registrar's transcript: one line per learner.
    let csv =
        c.s.app
            .get_as(
                &c.s.dean.token,
                &format!("/api/v1/sessions/{}/du/transcript.csv", c.session),
            )
            .await
            .text()
            .await
            .unwrap();
    assert_eq!(csv.lines().count(), 31, "{csv}");
    assert!(csv
        .lines()
        .next()
        .unwrap()
        .contains("Devenir médecin et rester une personne (/20)"));
    assert!(csv.contains("0751717J-2026-0029") && csv.contains(";Ajourné;"));
    let pdf =
        c.s.app
            .get_as(
                &c.s.dean.token,
                &format!("/api/v1/sessions/{}/du/transcript.pdf", c.session),
            )
            .await
            .bytes()
            .await
            .unwrap();
    assert!(pdf_text(&pdf).contains("Relevé de notes"));
}

#[tokio::test]
async fn only_the_universitys_staff_grade_only_its_admins_decide_and_every_change_is_audited() {
    let c = cohort(2).await;
    let ((learner, enrolment), (other_learner, _)) = (&c.learners[0], &c.learners[1]);
    let grade_path = format!("/api/v1/enrolments/{enrolment}/du/units/u1/grade");

    // Bad input is named.
    let bad = problem(
        c.put(&c.tutor, &grade_path, json!({ "grade": 21 })).await,
        422,
    )
    .await;
    assert_eq!(field_names(&bad), vec!["grade"]);
    let bad = problem(
        c.put(
            &c.tutor,
            &format!("/api/v1/enrolments/{enrolment}/du/units/u9/grade"),
            json!({ "grade": 12 }),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(field_names(&bad), vec!["unit"]);
    let bad = c
        .put(&c.tutor, &grade_path, json!({ "grade": "douze" }))
        .await;
    assert!(bad.status().is_client_error());
    let bad = problem(c.decide(enrolment, json!({ "decision": "ajourne", "mention": "bien", "decided_on": "2027-06-30", "jury": [] })).await, 422).await;
    assert_eq!(field_names(&bad), vec!["mention", "jury"]);

    // Who may do what.
    assert_eq!(
        c.put(&c.tutor, &grade_path, json!({ "grade": 9.5 }))
            .await
            .status()
            .as_u16(),
        204
    );
    assert_eq!(
        c.put(&c.tutor, &grade_path, json!({ "grade": 11.25 }))
            .await
            .status()
            .as_u16(),
        204
    );
    for outsider in [learner, other_learner, &c.other_dean] {
        let refused = c.put(outsider, &grade_path, json!({ "grade": 20 })).await;
        assert!([403, 404].contains(&refused.status().as_u16()));
    }
    assert_eq!(c.file(learner, enrolment).await.status().as_u16(), 200);
    problem(c.file(other_learner, enrolment).await, 404).await;
    problem(c.file(&c.other_dean, enrolment).await, 404).await;
    let tutor_decides =
        c.s.app
            .post_as(
                &c.tutor.token,
                &format!("/api/v1/enrolments/{enrolment}/du/decision"),
                &json!({ "decision": "absent", "decided_on": "2027-06-30", "jury": ["X"] }),
            )
            .await;
    problem(tutor_decides, 403).await;
    let transcript =
        c.s.app
            .get_as(
                &c.tutor.token,
                &format!("/api/v1/sessions/{}/du/transcript.csv", c.session),
            )
            .await;
    problem(transcript, 403).await;

    // The grade's history: who, old value, new value, when.
    let audit: Vec<Value> =
        c.s.app
            .get_json(
                &c.s.dean.token,
                &format!("/api/v1/organisations/{}/audit-log", c.s.university),
            )
            .await;
    let grades: Vec<&Value> = audit.iter().filter(|e| e["action"] == "du.grade").collect();
    assert_eq!(grades.len(), 2);
    let details: Value = serde_json::from_str(grades[1]["details"].as_str().unwrap_or("null"))
        .unwrap_or_else(|_| grades[1]["details"].clone());
    assert_eq!(
        (details["old"].as_f64(), details["new"].as_f64()),
        (Some(9.5), Some(11.25))
    );
    assert_eq!(grades[1]["actor_id"], c.tutor.id.as_str());
    assert!(grades[1]["at"].is_string());
}

#[tokio::test]
async fn a_units_online_assessment_weighs_half_of_its_grade() {
    // Arrange: a candidate who took the unit 1 assessment and answered nothing (0 %).
    let c = cohort(1).await;
    let (learner, enrolment) = &c.learners[0];
    let started =
        c.s.app
            .post_as(
                &learner.token,
                &format!("/api/v1/enrolments/{enrolment}/quizzes/evaluation-u1/attempts"),
                &json!({}),
            )
            .await;
    assert_eq!(started.status().as_u16(), 201);
    let attempt: Value = started.json().await.unwrap();
    let submitted =
        c.s.app
            .post_as(
                &learner.token,
                &format!(
                    "/api/v1/attempts/{}/submit",
                    attempt["id"].as_str().unwrap()
                ),
                &json!({ "answers": {} }),
            )
            .await;
    assert_eq!(submitted.status().as_u16(), 200);

    // Act: the tutors grade every unit 14/20.
    c.grade(enrolment, [14.0; 4], 12.0).await;

    // Assert: unit 1 counts its online 0/20 for half; the others have no score yet and, the
    // online part being out of these rules, keep the tutors' grade.
    let file: Value = c.file(&c.tutor, enrolment).await.json().await.unwrap();
    let u1 = &file["units"][0];
    assert_eq!(
        (
            u1["online_grade"].as_f64(),
            u1["tutor_grade"].as_f64(),
            u1["grade"].as_f64()
        ),
        (Some(0.0), Some(14.0), Some(7.0)),
        "{u1}"
    );
    assert_eq!(file["units"][1]["grade"].as_f64(), Some(14.0));
    assert_eq!(
        file["proposal"]["decision"], "ajourne",
        "{}",
        file["proposal"]
    );
}

#[tokio::test]
async fn the_coordinator_grades_the_cohort_in_one_grid_closes_the_minutes_and_issues_the_records() {
    let c = cohort(2).await;
    let (first, second) = (&c.learners[0].1, &c.learners[1].1);
    c.grade(first, [14.0, 12.0, 15.0, 13.0], 15.0).await;
    c.grade(second, [8.0, 12.0, 15.0, 13.0], 15.0).await;
    let tutor = Browsing::signed_in(&c.s.app, &c.tutor.email).await;
    let grid = format!("/gestion/sessions/{}/diplome", c.session);

    // The grid shows every candidate × unit, grades the French way, the live proposal.
    let (status, page) = tutor.page(&grid).await;
    assert_eq!(status, 200);
    assert!(
        page.contains(&format!("name=\"grade.{first}.u1\" value=\"14\"")),
        "{page}"
    );
    assert!(page.contains(&format!("name=\"grade.{second}.u1\" value=\"8\"")));

    // One refused cell: nothing of the form is written, what was typed comes back.
    let refused = tutor
        .post(
            &format!("{grid}/notes"),
            &[
                (&format!("grade.{first}.u1"), "16,5"),
                (&format!("grade.{second}.u1"), "25"),
            ],
        )
        .await;
    assert_eq!(refused.status().as_u16(), 422);
    let text = unescape(&refused.text().await.unwrap());
    assert!(text.contains("Une note est invalide"), "{text}");
    assert!(
        text.contains(&format!("name=\"grade.{second}.u1\" value=\"25\"")),
        "typed kept"
    );
    let file: Value = c.file(&c.tutor, first).await.json().await.unwrap();
    assert_eq!(
        file["units"][0]["tutor_grade"], 14.0,
        "nothing half-written"
    );

    // Both cells right: both saved in one go.
    let saved = tutor
        .post(
            &format!("{grid}/notes"),
            &[
                (&format!("grade.{first}.u1"), "16,5"),
                (&format!("grade.{second}.u1"), "11"),
            ],
        )
        .await;
    assert_eq!(saved.status().as_u16(), 303);
    let file: Value = c.file(&c.tutor, first).await.json().await.unwrap();
    assert_eq!(file["units"][0]["tutor_grade"], 16.5);
    let (_, page) = tutor.page(&grid).await;
    assert!(page.contains(&format!("name=\"grade.{first}.u1\" value=\"16,5\"")));
    assert!(
        !page.contains("proces-verbal"),
        "a tutor does not close the minutes"
    );

    // The jury goes against the rules' proposal only with a reason.
    let against = problem(
        c.decide(second, json!({ "decision": "ajourne", "decided_on": "2027-06-30", "jury": ["Pr Anne Martin"] })).await,
        422,
    )
    .await;
    assert_eq!(field_names(&against), ["reason"]);
    assert!(against["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("« Admis »"));
    let dean = Browsing::signed_in(&c.s.app, &c.s.dean.email).await;
    let closing = dean.post(&format!("{grid}/proces-verbal"), &[]).await;
    assert_eq!(
        closing.status().as_u16(),
        409,
        "candidates without a decision"
    );
    assert!(unescape(&closing.text().await.unwrap()).contains("sans décision du jury"));
    assert_eq!(
        c.decide(first, admis(Some("bien"))).await.status().as_u16(),
        200
    );
    let reasoned = json!({ "decision": "ajourne", "decided_on": "2027-06-30", "jury": ["Pr Anne Martin"],
                           "reason": "Mémoire non soutenu en présence du jury" });
    assert_eq!(c.decide(second, reasoned).await.status().as_u16(), 200);
    let (_, page) = dean.page(&grid).await;
    assert!(
        page.contains("Admis (Bien)") && page.contains("≠ proposition"),
        "{page}"
    );

    // End of year: the minutes closed, the records numbered, the transcript for Excel.
    assert_eq!(
        dean.post(&format!("{grid}/proces-verbal"), &[])
            .await
            .status()
            .as_u16(),
        303
    );
    assert_eq!(
        dean.post(&format!("{grid}/releves"), &[])
            .await
            .status()
            .as_u16(),
        303
    );
    let (_, page) = dean.page(&grid).await;
    assert!(page.contains("Le procès-verbal est clos"));
    assert_eq!(
        page.matches("Relevé n°").count(),
        1,
        "one record, for the admitted candidate"
    );
    let csv = dean
        .get(&format!(
            "/api/v1/sessions/{}/du/transcript.csv?bom=true",
            c.session
        ))
        .await;
    assert_eq!(csv.status().as_u16(), 200);
    assert!(csv.bytes().await.unwrap().starts_with(b"\xEF\xBB\xBF"));
    // The same parameter as every other CSV download: a bad value is named, not ignored.
    let refused =
        c.s.app
            .get_as(
                &c.s.dean.token,
                &format!(
                    "/api/v1/sessions/{}/du/transcript.csv?bom=peut-etre",
                    c.session
                ),
            )
            .await;
    assert_eq!(field_names(&problem(refused, 422).await), ["bom"]);
}
