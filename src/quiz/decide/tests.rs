//! The decisions of a start and a submit, on the first real course.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use chrono::NaiveDate;
use rand::SeedableRng;
use serde_json::json;

use super::*;
use crate::catalog::model::{QuestionKind, Selection};
use crate::enrolment::model::EnrolmentStatus;

/// The first real course: its final quiz (required for completion) allows 3 attempts
/// of 30 minutes, pass mark 70.
static COURSE: LazyLock<Course> = LazyLock::new(|| {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("courses/qvt-formation-initiale");
    crate::catalog::load_course(&dir)
        .unwrap_or_else(|_| panic!("the course loads"))
        .course
});
const QUIZ: &str = "quiz-final";

fn at() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2025, 3, 10)
        .unwrap()
        .and_hms_opt(9, 0, 0)
        .unwrap()
}

fn minutes(n: i64) -> Duration {
    Duration::minutes(n)
}

fn enrolment(status: EnrolmentStatus) -> Enrolment {
    Enrolment {
        id: "e".into(),
        session_id: "s".into(),
        account_id: "a".into(),
        course_version_id: "v".into(),
        status,
        enrolled_by: None,
        enrolled_at: at() - minutes(600),
        withdrawn_by: None,
        withdrawn_at: None,
    }
}

fn session(closed: bool) -> Session {
    let day = at().date();
    Session {
        id: "s".into(),
        organisation_id: "o".into(),
        course_slug: "qvt-formation-initiale".into(),
        course_version_id: "v".into(),
        title: "Session".into(),
        opens_on: day,
        closes_on: day,
        capacity: None,
        active_count: 1,
        enrolment_mode: crate::enrolment::model::EnrolmentMode::Open,
        enrolment_key_hash: None,
        dpc_action_ref: None,
        dpc_session_no: None,
        dpc_orientation: None,
        odpc_number: None,
        academic_year: None,
        curriculum: None,
        closed_at: closed.then(at),
        created_at: at(),
        updated_at: at(),
        lms_placed: false,
        requires_verified_rpps: false,
    }
}

/// Attempt `id` started at `started`; submitted or still open.
fn state(id: &str, started: NaiveDateTime, submitted: bool) -> AttemptState {
    AttemptState {
        id: id.into(),
        deadline: Some(started + minutes(30)),
        submitted_at: submitted.then_some(started + minutes(20)),
        passed: submitted.then_some(false),
        paper: "{}".into(),
    }
}

/// Every lesson of the course done, and every quiz submitted: nothing is missing.
static ALL_LESSONS: LazyLock<HashSet<String>> =
    LazyLock::new(|| COURSE.lessons.iter().map(|l| l.id.clone()).collect());
static ALL_QUIZZES: LazyLock<HashSet<String>> =
    LazyLock::new(|| COURSE.quizzes.iter().map(|q| q.id.clone()).collect());

fn decide_start<'a>(
    enrolment: &'a Enrolment,
    session: &'a Session,
    quiz_id: &'a str,
    attempts: &'a [AttemptState],
    extra_time_percent: i32,
) -> Result<Start<'a>, AppError> {
    start(&StartFacts {
        enrolment,
        session,
        course: &COURSE,
        quiz_id,
        attempts,
        extra_time_percent,
        lessons_done: &ALL_LESSONS,
        submitted_quizzes: &ALL_QUIZZES,
        at: at(),
    })
}

#[test]
fn a_first_start_makes_attempt_one_with_the_time_limit_and_extra_time() {
    let (e, s) = (enrolment(EnrolmentStatus::Active), session(false));
    let Ok(Start::New {
        quiz,
        number,
        deadline,
        grade_first,
        ..
    }) = decide_start(&e, &s, QUIZ, &[], 0)
    else {
        panic!("a new attempt")
    };
    assert_eq!((quiz.id.as_str(), number, grade_first), (QUIZ, 1, None));
    assert_eq!(deadline, Some(at() + minutes(30)));

    let Ok(Start::New { deadline, .. }) = decide_start(&e, &s, QUIZ, &[], 50) else {
        panic!("a new attempt")
    };
    assert_eq!(deadline, Some(at() + Duration::seconds(30 * 60 * 3 / 2)));
}

#[test]
fn an_open_attempt_in_time_or_in_its_grace_is_resumed() {
    let (e, s) = (enrolment(EnrolmentStatus::Active), session(false));
    for started in [
        at() - minutes(10),
        at() - minutes(30) - Duration::seconds(30),
    ] {
        let attempts = [
            state("1", at() - minutes(60), true),
            state("2", started, false),
        ];
        assert!(matches!(
            decide_start(&e, &s, QUIZ, &attempts, 0),
            Ok(Start::Resume { attempt_id: "2" })
        ));
    }
}

#[test]
fn an_open_attempt_out_of_time_is_graded_first_and_counts() {
    let (e, s) = (enrolment(EnrolmentStatus::Active), session(false));
    let overdue = at() - minutes(30) - Duration::seconds(31);
    let attempts = [
        state("1", at() - minutes(60), true),
        state("2", overdue, false),
    ];
    let Ok(Start::New {
        number,
        grade_first,
        ..
    }) = decide_start(&e, &s, QUIZ, &attempts, 0)
    else {
        panic!("a new attempt")
    };
    assert_eq!((number, grade_first), (3, Some("2")));
}

#[test]
fn no_attempt_past_the_limit_and_none_graded_for_it() {
    let (e, s) = (enrolment(EnrolmentStatus::Active), session(false));
    let long_ago = at() - minutes(600);
    let done = [
        state("1", long_ago, true),
        state("2", long_ago, true),
        state("3", long_ago, true),
    ];
    let overdue = [
        state("1", long_ago, true),
        state("2", long_ago, true),
        state("3", long_ago, false),
    ];
    for attempts in [&done, &overdue] {
        let refused = decide_start(&e, &s, QUIZ, attempts, 0).unwrap_err();
        assert_eq!(refused.status().as_u16(), 409);
    }
}

#[test]
fn a_withdrawn_learner_or_a_closed_session_starts_nothing_not_even_a_resume() {
    let attempts = [state("1", at() - minutes(5), false)];
    for (e, s) in [
        (enrolment(EnrolmentStatus::Withdrawn), session(false)),
        (enrolment(EnrolmentStatus::Active), session(true)),
    ] {
        let refused = decide_start(&e, &s, QUIZ, &attempts, 0).unwrap_err();
        assert_eq!(refused.status().as_u16(), 409);
    }
    // Recording is checked before the quiz is looked up, as it always was.
    let (e, s) = (enrolment(EnrolmentStatus::Withdrawn), session(false));
    let refused = decide_start(&e, &s, "nope", &[], 0).unwrap_err();
    assert_eq!(refused.status().as_u16(), 409);
    let (e, s) = (enrolment(EnrolmentStatus::Active), session(false));
    let unknown = decide_start(&e, &s, "nope", &[], 0).unwrap_err();
    assert_eq!(unknown.status().as_u16(), 404);
}

/// An open attempt at the final quiz, started 10 minutes ago, with a drawn paper and
/// the right answer saved for its first question.
fn open_attempt() -> (Attempt, Paper) {
    let quiz = quiz_of(&COURSE, QUIZ).unwrap();
    let paper = super::super::paper::draw(
        quiz,
        &COURSE.bank,
        &HashMap::new(),
        &mut rand::rngs::StdRng::seed_from_u64(7),
    );
    let first = paper.questions().next().unwrap();
    let saved = json!({ first.id.clone(): right(&paper, &first.id) });
    let started = at() - minutes(10);
    let attempt = Attempt {
        id: "t".into(),
        enrolment_id: "e".into(),
        quiz_id: QUIZ.into(),
        number: 1,
        paper: serde_json::to_string(&paper).unwrap(),
        answers: saved.to_string(),
        started_at: started,
        deadline: Some(started + minutes(30)),
        answers_saved_at: Some(started),
        submitted_at: None,
        auto_submitted: false,
        score_points: None,
        max_points: None,
        percent: None,
        passed: None,
        grading: None,
        idempotency_key: None,
        request_hash: None,
    };
    (attempt, paper)
}

/// The right answer to question `id` of `paper`, as a learner sends it.
fn right(paper: &Paper, id: &str) -> Value {
    let pq = paper.questions().find(|q| q.id == id).unwrap();
    let question = COURSE.bank.find_question(id).unwrap();
    match &question.kind {
        QuestionKind::Numeric { answer, .. } => json!(answer),
        _ => grade::correct_answer(question, pq),
    }
}

fn submission(key: Option<&str>, answers: Option<Value>) -> Submission {
    Submission {
        key: key.map(str::to_owned),
        body_hash: "h".into(),
        answers: answers.map(|a| serde_json::from_value(a).unwrap()),
    }
}

fn decide_submit(
    attempt: &Attempt,
    enrolment: &Enrolment,
    submission: &Submission,
    at: NaiveDateTime,
) -> Result<Submit, AppError> {
    submit(&SubmitFacts {
        attempt,
        enrolment,
        session: &session(false),
        course: &COURSE,
        submission,
        at,
    })
}

fn graded_answers(decided: Result<Submit, AppError>) -> (BTreeMap<String, Value>, bool) {
    match decided {
        Ok(Submit::Record { grade, late, .. }) => {
            (serde_json::from_str(&grade.answers).unwrap(), late)
        }
        other => panic!("a grading to record, not {other:?}"),
    }
}

#[test]
fn answers_sent_in_time_are_merged_into_the_saved_ones_and_null_clears_one() {
    let (attempt, paper) = open_attempt();
    let ids: Vec<String> = paper.questions().map(|q| q.id.clone()).collect();
    let (first, second) = (&ids[0], &ids[1]);
    let e = enrolment(EnrolmentStatus::Active);

    let sent = submission(None, Some(json!({ second.clone(): right(&paper, second) })));
    let (answers, late) = graded_answers(decide_submit(&attempt, &e, &sent, at()));
    assert!(!late);
    let mut both = vec![first, second];
    both.sort();
    assert_eq!(answers.keys().collect::<Vec<_>>(), both);

    let cleared = submission(None, Some(json!({ first.clone(): null })));
    let (answers, _) = graded_answers(decide_submit(&attempt, &e, &cleared, at()));
    assert!(answers.is_empty());
}

#[test]
fn bad_answers_in_time_are_named_and_late_ones_are_not_looked_at() {
    let (attempt, _) = open_attempt();
    let e = enrolment(EnrolmentStatus::Active);
    let bad = submission(None, Some(json!({ "q-absente": "a" })));

    let refused = decide_submit(&attempt, &e, &bad, at()).unwrap_err();
    assert_eq!(refused.status().as_u16(), 422);
    assert_eq!(refused.errors()[0].field, "answers.q-absente");

    let past_grace = attempt.deadline.unwrap() + Duration::seconds(GRACE_SECONDS + 1);
    let (answers, late) = graded_answers(decide_submit(&attempt, &e, &bad, past_grace));
    assert!(late, "auto-submitted");
    assert_eq!(answers, attempt.saved_answers(), "only what was saved");
}

#[test]
fn every_right_answer_passes_and_may_complete_the_required_quiz() {
    let (attempt, paper) = open_attempt();
    let all: serde_json::Map<String, Value> = paper
        .questions()
        .map(|q| (q.id.clone(), right(&paper, &q.id)))
        .collect();
    let sent = submission(None, Some(Value::Object(all)));
    let Ok(Submit::Record { grade, .. }) =
        decide_submit(&attempt, &enrolment(EnrolmentStatus::Active), &sent, at())
    else {
        panic!("a grading to record")
    };
    assert_eq!(grade.percent, 100.0);
    assert!(grade.passed && grade.may_complete);
}

#[test]
fn a_graded_attempt_answers_only_a_replay_of_its_own_submit() {
    let (mut attempt, _) = open_attempt();
    attempt.submitted_at = Some(at() - minutes(1));
    attempt.idempotency_key = Some("k".into());
    attempt.request_hash = Some("h".into());
    // Even once withdrawn: the replay says what was recorded.
    let e = enrolment(EnrolmentStatus::Withdrawn);

    let same = submission(Some("k"), None);
    assert!(matches!(
        decide_submit(&attempt, &e, &same, at()),
        Ok(Submit::Replay)
    ));
    let mut other_body = submission(Some("k"), None);
    other_body.body_hash = "autre".into();
    let status = |s: &Submission| {
        decide_submit(&attempt, &e, s, at())
            .unwrap_err()
            .status()
            .as_u16()
    };
    assert_eq!(status(&other_body), 422);
    assert_eq!(status(&submission(Some("autre"), None)), 409);
    assert_eq!(status(&submission(None, None)), 409);
}

#[test]
fn an_open_attempt_of_a_withdrawn_learner_is_not_submitted() {
    let (attempt, _) = open_attempt();
    let refused = decide_submit(
        &attempt,
        &enrolment(EnrolmentStatus::Withdrawn),
        &submission(None, None),
        at(),
    )
    .unwrap_err();
    assert_eq!(refused.status().as_u16(), 409);
}

#[test]
fn a_quiz_waiting_for_its_lessons_is_refused_with_what_is_missing() {
    let (e, s) = (enrolment(EnrolmentStatus::Active), session(false));
    let one_left: HashSet<String> = COURSE.lessons[1..].iter().map(|l| l.id.clone()).collect();
    let none = HashSet::new();
    for (lessons, expected) in [
        (
            &one_left,
            format!("terminer la leçon « {} »", COURSE.lessons[0].title),
        ),
        (&none, format!("terminer {} leçons", COURSE.lessons.len())),
    ] {
        let refused = start(&StartFacts {
            enrolment: &e,
            session: &s,
            course: &COURSE,
            quiz_id: QUIZ,
            attempts: &[],
            extra_time_percent: 0,
            lessons_done: lessons,
            submitted_quizzes: &none,
            at: at(),
        })
        .unwrap_err();
        assert_eq!(refused.status().as_u16(), 409);
        assert!(refused.detail().unwrap().contains(&expected), "{refused:?}");
    }
}

#[test]
fn a_passed_quiz_does_not_start_again_and_its_result_is_settled() {
    let (e, s) = (enrolment(EnrolmentStatus::Active), session(false));
    let mut passed = state("a1", at() - minutes(60), true);
    passed.passed = Some(true);
    let refused = decide_start(&e, &s, QUIZ, std::slice::from_ref(&passed), 0).unwrap_err();
    assert_eq!(refused.status().as_u16(), 409);
    assert!(refused.detail().unwrap().contains("déjà réussi"));

    let quiz = quiz_of(&COURSE, QUIZ).unwrap();
    let failed = state("a1", at() - minutes(60), true);
    assert!(
        !settled(quiz, std::slice::from_ref(&failed)),
        "two attempts left"
    );
    assert!(settled(quiz, &[passed]));
    let three: Vec<AttemptState> = (0..3)
        .map(|i| state(&format!("a{i}"), at() - minutes(60 * (3 - i)), true))
        .collect();
    assert!(settled(quiz, &three), "no attempt left");
}

#[test]
fn a_retake_prefers_the_items_not_seen_yet() {
    let (e, s) = (enrolment(EnrolmentStatus::Active), session(false));
    let quiz = quiz_of(&COURSE, QUIZ).unwrap();
    let (first, _) = open_attempt();
    let mut done = state("t", at() - minutes(60), true);
    done.paper = first.paper.clone();
    let Ok(Start::New { seen, .. }) = decide_start(&e, &s, QUIZ, &[done], 0) else {
        panic!("a second attempt")
    };
    let earlier: Paper = serde_json::from_str(&first.paper).unwrap();
    assert_eq!(seen.len(), earlier.item_ids().count());
    // A retake repeats only what the pool cannot avoid: per objective, the draw beyond
    // what the items not seen yet can fill.
    let Selection::Draw(draws) = &quiz.selection else {
        panic!("the final quiz draws")
    };
    let unavoidable: usize = draws
        .iter()
        .map(|d| {
            let pool = COURSE
                .bank
                .pool_items(&d.objective, quiz.pool.as_deref())
                .len();
            (2 * d.count as usize).saturating_sub(pool)
        })
        .sum();
    for seed in 0..20 {
        let retake = super::super::paper::draw(
            quiz,
            &COURSE.bank,
            &seen,
            &mut rand::rngs::StdRng::seed_from_u64(seed),
        );
        let repeated = retake
            .item_ids()
            .filter(|id| seen.contains_key(*id))
            .count();
        assert_eq!(repeated, unavoidable, "seed {seed}");
    }
}
