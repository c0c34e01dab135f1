//! A signed-in learner's pages: the dashboard (courses, the steps in order, certificates),
//! enrolling, the next step, the lesson reader and its activities (quizzes: `attempt`).

use std::collections::BTreeMap;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use super::session::Visitor;
use super::{error_page, form_again, message, page, redirect, render};
use crate::app::AppState;
use crate::catalog::model::QuizRole;
use crate::certificates::model::Validity;
use crate::certificates::service as certificates;
use crate::db;
use crate::enrolment::model::EnrolmentStatus;
use crate::enrolment::service::{self as enrolment_service, Enroller};
use crate::enrolment::store as enrolment_store;
use crate::error::AppError;
use crate::learning::activities::{self, ActivityView, AnswerInput, AuditAnswer};
use crate::learning::service as learning;
use crate::learning::service::{LessonState, QuizState};
use crate::learning::trace::{duration, local_time};
use crate::learning::LessonAt;
use crate::quiz::results as quiz_results;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/tableau-de-bord").get(dashboard))
        .service(web::resource("/sessions/{id}/inscription").post(enrol))
        .service(web::resource("/apprendre/{enrolment}").get(next_step))
        .service(web::resource("/apprendre/{enrolment}/lecons/{lesson}").get(lesson))
        .service(web::resource("/apprendre/{enrolment}/lecons/{lesson}/terminer").post(complete))
        .service(
            web::resource("/apprendre/{enrolment}/lecons/{lesson}/activites/{activity}")
                .post(answer_activity),
        )
        .service(
            web::resource("/apprendre/{enrolment}/quiz/{quiz}")
                .get(super::quiz::intro)
                .post(super::attempt::start_quiz),
        )
        .service(web::resource("/tentatives/{id}").get(super::attempt::attempt))
        .service(web::resource("/tentatives/{id}/enregistrer").post(super::attempt::save))
        .service(web::resource("/tentatives/{id}/rendre").post(super::attempt::submit));
}

async fn dashboard(
    state: web::Data<AppState>,
    visitor: Visitor,
    query: web::Query<std::collections::HashMap<String, String>>,
) -> HttpResponse {
    let password_set = query.get("mot-de-passe").is_some_and(|v| v == "enregistre");
    page(state, visitor, move |state, user, visitor| async move {
        let s = state.clone();
        let (courses, mine) = db::run(&state.pool, move |conn| {
            let mut courses = Vec::new();
            for (enrolment, session) in enrolment_store::enrolments_of_account(conn, &user.id)? {
                if enrolment.status != EnrolmentStatus::Active {
                    continue;
                }
                let progress = learning::progress(conn, &s.courses, &user, &enrolment.id)?;
                let quizzes: Vec<Value> = progress
                    .quizzes
                    .iter()
                    .map(|q| json!({ "title": q.title, "passed": q.state == QuizState::Passed, "required": q.required,
                                     "action": format!("/apprendre/{}/quiz/{}", enrolment.id, q.quiz_id) }))
                    .collect();
                let results = quiz_results::results(conn, &s.courses, &user, &enrolment.id)?;
                let steps = steps(&progress, results.pre_test.is_some(), results.post_test.is_some());
                let next_step = steps.iter().find(|st| !st.done && st.counts).cloned();
                let gain = results.gain.map(|gain| json!({
                    "pre": results.pre_test.map(decimal), "post": results.post_test.map(decimal), "gain": signed(gain),
                    "objectives": results.gain_by_objective.iter().map(|o| json!({
                        "text": o.text, "pre": decimal(o.pre_test), "post": decimal(o.post_test), "gain": signed(o.gain),
                    })).collect::<Vec<_>>(),
                }));
                courses.push(json!({
                    "enrolment": enrolment.id, "title": session.title, "percent": progress.percent,
                    "completed": progress.completed, "missing": progress.missing,
                    "quizzes": quizzes, "minutes": progress.active_seconds / 60, "gain": gain,
                    "steps": steps, "next_step": next_step,
                }));
            }
            let mine = certificates::mine(conn, &s.settings.public_url, &user)?;
            Ok((courses, mine))
        })
        .await?;
        let certificates: Vec<Value> = mine
            .iter()
            .map(|c| json!({
                "title": c.attested.course.title, "code": c.code, "valid": c.status == Validity::Valid,
                "pdf": format!("/api/v1/certificates/{}.pdf", c.id), "html": format!("/api/v1/certificates/{}.html", c.id),
                "credential": format!("/api/v1/certificates/{}/credential", c.id),
                "verify": c.verify_url, "issued_on": crate::fr::short_date(crate::fr::paris_day(c.issued_at)),
            }))
            .collect();
        render(
            &state,
            &visitor,
            "tableau-de-bord",
            "Mon tableau de bord",
            json!({ "courses": courses, "certificates": certificates, "password_set": password_set,
                    "unconfirmed": visitor.user.as_ref().filter(|u| !u.email_verified).map(|u| u.email.clone()) }),
        )
    })
    .await
}

/// One step of a course on the dashboard.
#[derive(Clone, serde::Serialize)]
struct Step {
    kind: &'static str,
    title: String,
    href: String,
    done: bool,
    /// Whether the course asks for it (a practice quiz is offered, never the next step).
    counts: bool,
}

/// A course's steps in the order a learner takes them: the pre-test first (the gain means
/// nothing otherwise), the lessons, practice, the post-test, the final evaluation.
fn steps(progress: &learning::ProgressView, pre_taken: bool, post_taken: bool) -> Vec<Step> {
    let quiz = |role: QuizRole, kind: &'static str, taken: bool| {
        progress
            .quizzes
            .iter()
            .filter(move |q| q.role == role)
            .map(move |q| Step {
                kind,
                title: q.title.clone(),
                href: format!("/apprendre/{}/quiz/{}", progress.enrolment_id, q.quiz_id),
                done: q.state == QuizState::Passed || taken,
                counts: role != QuizRole::Practice || q.required,
            })
    };
    let lessons = progress.lessons.iter().enumerate().map(|(i, l)| Step {
        kind: if i == 0 { "Leçons" } else { "" },
        title: l.title.clone(),
        href: format!(
            "/apprendre/{}/lecons/{}",
            progress.enrolment_id, l.lesson_id
        ),
        done: l.state == LessonState::Completed,
        counts: true,
    });
    quiz(QuizRole::PreTest, "Test de positionnement", pre_taken)
        .chain(lessons)
        .chain(quiz(QuizRole::Practice, "Entraînement", false))
        .chain(quiz(QuizRole::PostTest, "Test final", post_taken))
        .chain(quiz(QuizRole::Graded, "Évaluation", false))
        .collect()
}

/// A number as a French reader writes it: « 33,33 », « 100 ».
fn decimal(x: f64) -> String {
    crate::fr::number_upto(x, 2)
}

/// A gain in points: « +12,5 », « −4 », « 0 ».
fn signed(points: f64) -> String {
    match points {
        p if p > 0.0 => format!("+{}", decimal(p)),
        p if p < 0.0 => format!("−{}", decimal(-p)),
        _ => "0".into(),
    }
}

#[derive(Deserialize)]
struct EnrolForm {
    csrf: String,
    #[serde(default)]
    key: String,
}

async fn enrol(
    state: web::Data<AppState>,
    visitor: Visitor,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<EnrolForm>,
) -> HttpResponse {
    let session_id = path.into_inner();
    let form = form.into_inner();
    let user = match visitor.for_form(&form.csrf) {
        Ok(user) => user.clone(),
        Err(e) if visitor.user.is_none() => {
            let _ = e;
            return visitor.sign_in_first();
        }
        Err(e) => return error_page(&state, &visitor, &e),
    };
    let key = form.key.trim().to_owned();
    let from = crate::http::client_ip(&req).to_string();
    let enrolled = db::run(&state.pool, move |conn| {
        let key = (!key.is_empty()).then_some(key.as_str());
        let who = Enroller::Learner { key, from: &from };
        enrolment_service::enrol(conn, &user, &session_id, who)
    })
    .await;
    match enrolled {
        Ok(enrolment) => redirect(&format!("/apprendre/{}", enrolment.id)),
        Err(e) => error_page(&state, &visitor, &e),
    }
}

/// Where the learner takes up the course: the next step (the pre-test before the first
/// lesson), or the dashboard once every step is done.
async fn next_step(
    state: web::Data<AppState>,
    visitor: Visitor,
    path: web::Path<String>,
) -> HttpResponse {
    let id = path.into_inner();
    page(state, visitor, |state, user, _| async move {
        let s = state.clone();
        let (progress, pre, post) = db::run(&state.pool, move |conn| {
            let progress = learning::progress(conn, &s.courses, &user, &id)?;
            let results = quiz_results::results(conn, &s.courses, &user, &id)?;
            Ok((
                progress,
                results.pre_test.is_some(),
                results.post_test.is_some(),
            ))
        })
        .await?;
        Ok(
            match steps(&progress, pre, post)
                .into_iter()
                .find(|st| !st.done && st.counts)
            {
                Some(step) => redirect(&step.href),
                None => redirect("/tableau-de-bord"),
            },
        )
    })
    .await
}

async fn lesson(
    state: web::Data<AppState>,
    visitor: Visitor,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let (enrolment_id, lesson_id) = path.into_inner();
    page(state, visitor, |state, user, visitor| async move {
        lesson_page(&state, &visitor, user, enrolment_id, lesson_id, None, None).await
    })
    .await
}

/// What the learner typed in an activity whose answer was refused: shown back, not lost.
struct Draft {
    activity_id: String,
    form: ActivityForm,
    problem: String,
}

/// The lesson reader, with a refusal of « J'ai terminé cette leçon » above its button when
/// there is one: the learner stays where they can go on reading.
async fn lesson_page(
    state: &web::Data<AppState>,
    visitor: &Visitor,
    user: crate::identity::auth::CurrentUser,
    enrolment_id: String,
    lesson_id: String,
    refusal: Option<String>,
    draft: Option<Draft>,
) -> Result<HttpResponse, AppError> {
    let s = state.clone();
    let (lesson, progress) = db::run(&state.pool, move |conn| {
        let lesson = learning::open_lesson(
            conn,
            &s.courses,
            &user,
            LessonAt {
                enrolment_id: &enrolment_id,
                lesson_id: &lesson_id,
            },
        )?;
        let progress = learning::progress(conn, &s.courses, &user, &enrolment_id)?;
        Ok((lesson, progress))
    })
    .await?;
    let index = progress
        .lessons
        .iter()
        .position(|l| l.lesson_id == lesson.lesson_id)
        .unwrap_or(0);
    let href = |i: usize| {
        progress.lessons.get(i).map(|l| {
            format!(
                "/apprendre/{}/lecons/{}",
                progress.enrolment_id, l.lesson_id
            )
        })
    };
    let outline: Vec<Value> = progress
        .lessons
        .iter()
        .map(|l| json!({ "title": l.title, "state": l.state, "current": l.lesson_id == lesson.lesson_id,
                         "href": format!("/apprendre/{}/lecons/{}", progress.enrolment_id, l.lesson_id) }))
        .collect();
    let credited = progress.lessons.get(index).map_or(0, |l| l.active_seconds);
    let minimum = i64::from(lesson.min_lesson_seconds);
    let reading = json!({
        "minimum": (minimum > 0).then(|| duration(minimum)),
        "credited": duration(credited),
        "remaining": duration((minimum - credited).max(0)),
    });
    let activities: Vec<Value> = lesson
        .activities
        .iter()
        .map(|a| activity_fields(a, draft.as_ref().filter(|d| d.activity_id == a.id)))
        .collect();
    let references: Vec<Value> = lesson
        .references
        .iter()
        .map(
            |r| json!({ "title": r.title, "publisher": r.publisher, "year": r.year, "url": r.url }),
        )
        .collect();
    let activity_action = format!(
        "/apprendre/{}/lecons/{}/activites",
        progress.enrolment_id, lesson.lesson_id
    );
    let reviewed_on = lesson.reviewed_on.map(crate::fr::date);
    render(
        state,
        visitor,
        "lecon",
        &lesson.title.clone(),
        json!({
            "activities": activities, "activity_action": activity_action,
            "references": references, "reviewed_on": reviewed_on,
            "enrolment": progress.enrolment_id, "lesson": lesson, "outline": outline,
            "percent": progress.percent, "reading": reading, "refusal": refusal,
            "previous": index.checked_sub(1).and_then(href), "next": href(index + 1),
            "complete_action": format!("/apprendre/{}/lecons/{}/terminer", progress.enrolment_id, lesson.lesson_id),
            "heartbeat": format!("/api/v1/enrolments/{}/lessons/{}/heartbeat", progress.enrolment_id, lesson.lesson_id),
        }),
    )
}

async fn complete(
    state: web::Data<AppState>,
    visitor: Visitor,
    path: web::Path<(String, String)>,
    form: web::Form<super::CsrfForm>,
) -> HttpResponse {
    let (enrolment_id, lesson_id) = path.into_inner();
    let user = match visitor.for_form(&form.csrf) {
        Ok(user) => user.clone(),
        Err(e) => return error_page(&state, &visitor, &e),
    };
    let s = state.clone();
    let (e, l) = (enrolment_id.clone(), lesson_id.clone());
    let reader = user.clone();
    let done = db::run(&state.pool, move |conn| {
        learning::complete_lesson(
            conn,
            &s.courses,
            &user,
            LessonAt {
                enrolment_id: &e,
                lesson_id: &l,
            },
        )?;
        learning::progress(conn, &s.courses, &user, &e)
    })
    .await;
    match done {
        Ok(progress) => {
            let position = progress
                .lessons
                .iter()
                .position(|x| x.lesson_id == lesson_id);
            match position.and_then(|i| progress.lessons.get(i + 1)) {
                Some(next) => redirect(&format!(
                    "/apprendre/{enrolment_id}/lecons/{}",
                    next.lesson_id
                )),
                None => redirect("/tableau-de-bord"),
            }
        }
        // Refused (too early, not opened): the lesson again, saying why and what is left.
        Err(refusal) => {
            let again = lesson_page(
                &state,
                &visitor,
                reader,
                enrolment_id,
                lesson_id,
                Some(message(&refusal)),
                None,
            )
            .await;
            form_again(&state, &visitor, &refusal, again)
        }
    }
}

/// An activity's form as the page posts it: the text, and a self-audit's items as
/// `item_0`, `item_1`…
struct ActivityForm {
    text: String,
    items: BTreeMap<String, String>,
}

impl ActivityForm {
    /// The answer it carries. A self-audit's items in order, up to the last one answered:
    /// an unanswered radio group is not sent at all, so it is empty here and the answer is
    /// refused naming it (`items[i]`).
    fn input(&self) -> AnswerInput {
        let count = self
            .items
            .keys()
            .filter_map(|k| k.strip_prefix("item_")?.parse::<usize>().ok())
            .max()
            .map_or(0, |last| last + 1);
        let items = (count > 0).then(|| {
            (0..count)
                .map(|i| {
                    self.items
                        .get(&format!("item_{i}"))
                        .cloned()
                        .unwrap_or_default()
                })
                .collect()
        });
        AnswerInput {
            text: Some(self.text.clone()),
            items,
        }
    }
}

/// An activity for the template: its view, the radio buttons of a self-audit with the
/// learner's answer (or draft) checked, the text to show in the box.
fn activity_fields(a: &ActivityView, draft: Option<&Draft>) -> Value {
    let items: Vec<Value> = a
        .items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let chosen = match draft {
                Some(d) => d.form.items.get(&format!("item_{i}")).cloned(),
                None => item.answer.map(|x| x.code().to_owned()),
            };
            let options: Vec<Value> = AuditAnswer::ALL
                .iter()
                .map(|o| json!({ "value": o.code(), "label": o.label(),
                                 "checked": chosen.as_deref() == Some(o.code()),
                                 "id": format!("{}-{i}-{}", a.id, o.code()) }))
                .collect();
            json!({ "name": format!("item_{i}"), "text": item.text, "options": options, "advice": item.advice })
        })
        .collect();
    let text = match draft {
        Some(d) => d.form.text.clone(),
        None => a
            .answer
            .as_ref()
            .map(|x| x.text.clone())
            .unwrap_or_default(),
    };
    json!({
        "id": a.id, "kind_label": a.kind_label, "title": a.title, "minutes": a.minutes,
        "prompt_html": a.prompt_html, "items": items, "audit": !a.items.is_empty(),
        "min_chars": a.min_chars, "text": text, "answered": a.answer.is_some(),
        "answered_at": a.answered_at.map(local_time),
        "commentary_html": a.commentary_html, "problem": draft.map(|d| d.problem.clone()),
    })
}

async fn answer_activity(
    state: web::Data<AppState>,
    visitor: Visitor,
    path: web::Path<(String, String, String)>,
    form: web::Form<Vec<(String, String)>>,
) -> HttpResponse {
    let (enrolment_id, lesson_id, activity_id) = path.into_inner();
    let mut fields: BTreeMap<String, String> = form.into_inner().into_iter().collect();
    let csrf = fields.remove("csrf").unwrap_or_default();
    let user = match visitor.for_form(&csrf) {
        Ok(user) => user.clone(),
        Err(e) => return error_page(&state, &visitor, &e),
    };
    let typed = ActivityForm {
        text: fields.remove("text").unwrap_or_default(),
        items: fields,
    };
    let s = state.clone();
    let (e, l, a) = (enrolment_id.clone(), lesson_id.clone(), activity_id.clone());
    let reader = user.clone();
    let input = typed.input();
    let saved = db::run(&state.pool, move |conn| {
        let at = LessonAt {
            enrolment_id: &e,
            lesson_id: &l,
        };
        activities::answer(conn, &s.courses, &user, at, &a, input)
    })
    .await;
    match saved {
        Ok(_) => redirect(&format!(
            "/apprendre/{enrolment_id}/lecons/{lesson_id}#activite-{activity_id}"
        )),
        Err(refusal) if refusal.status().is_client_error() && !refusal.errors().is_empty() => {
            let problem = refusal
                .errors()
                .iter()
                .map(|e| e.message.clone())
                .collect::<Vec<_>>()
                .join(" ; ");
            let draft = Draft {
                activity_id,
                form: typed,
                problem,
            };
            let again = lesson_page(
                &state,
                &visitor,
                reader,
                enrolment_id,
                lesson_id,
                None,
                Some(draft),
            )
            .await;
            form_again(&state, &visitor, &refusal, again)
        }
        Err(refusal) => error_page(&state, &visitor, &refusal),
    }
}

#[cfg(test)]
mod tests {
    use super::{decimal, signed};

    #[test]
    fn numbers_read_the_french_way() {
        assert_eq!(decimal(33.33), "33,33");
        assert_eq!(decimal(100.0), "100");
        assert_eq!(decimal(12.5), "12,5");
        assert_eq!(signed(66.67), "+66,67");
        assert_eq!(signed(-4.0), "−4");
        assert_eq!(signed(0.0), "0");
    }
}
