//! A quiz attempt on one page: starting it from the introduction page, the paper as a
//! form (autosaved by the page's script, read back by [`answers_of`]), submission, and
//! the result with the review of one's answers as far as the feedback policy allows.

use std::collections::BTreeMap;

use actix_web::{web, HttpResponse};
use serde_json::{json, Value};

use super::page;
use super::session::Visitor;
use super::{error_page, field, redirect, render};
use crate::app::AppState;
use crate::catalog::model::QuizRole;
use crate::db;
use crate::error::AppError;
use crate::quiz::paper::QuestionType;
use crate::quiz::paper::{ItemView, QuestionView};
use crate::quiz::service as quiz;
use crate::quiz::view::AttemptStatus;

pub(super) async fn start_quiz(
    state: web::Data<AppState>,
    visitor: Visitor,
    path: web::Path<(String, String)>,
    form: web::Form<super::CsrfForm>,
) -> HttpResponse {
    let (enrolment_id, quiz_id) = path.into_inner();
    let user = match visitor.for_form(&form.csrf) {
        Ok(user) => user.clone(),
        Err(e) => return error_page(&state, &visitor, &e),
    };
    if let Err(e) = user.require_confirmed() {
        return error_page(&state, &visitor, &e);
    }
    let started = quiz::start_attempt(&state, user, enrolment_id, quiz_id).await;
    match started {
        Ok((view, _)) => redirect(&format!("/tentatives/{}", view.id)),
        Err(e) => error_page(&state, &visitor, &e),
    }
}

/// An answer (the learner's, or the expected one) in the words of the paper: the text of
/// the chosen options, « Vrai »/« Faux », the pairs and the order, a number the French way.
fn answer_words(question: Option<&QuestionView>, answer: &Value) -> String {
    let text_of = |list: &Option<Vec<crate::quiz::paper::OptionView>>, id: &str| {
        list.iter()
            .flatten()
            .find(|o| o.id == id)
            .map_or(id.to_owned(), |o| o.text.clone())
    };
    let Some(q) = question else {
        return answer.to_string();
    };
    match answer {
        Value::Bool(true) => "Vrai".into(),
        Value::Bool(false) => "Faux".into(),
        Value::Number(n) => n.as_f64().map_or(n.to_string(), crate::fr::number_upto_3),
        Value::String(id) => text_of(&q.choices, id),
        Value::Array(ids) => {
            let list = if q.items.is_some() {
                &q.items
            } else {
                &q.choices
            };
            let words: Vec<String> = ids
                .iter()
                .filter_map(Value::as_str)
                .map(|id| text_of(list, id))
                .collect();
            words.join(if q.items.is_some() { " → " } else { " ; " })
        }
        Value::Object(map) if map.contains_key("value") => {
            let value = map["value"]
                .as_f64()
                .map_or(String::new(), crate::fr::number_upto_3);
            match map
                .get("tolerance")
                .and_then(Value::as_f64)
                .filter(|t| *t > 0.0)
            {
                Some(t) => format!("{value} (à {} près)", crate::fr::number_upto_3(t)),
                None => value,
            }
        }
        Value::Object(pairs) => pairs
            .iter()
            .map(|(left, right)| {
                format!(
                    "{} : {}",
                    text_of(&q.left, left),
                    right
                        .as_str()
                        .map_or(String::new(), |r| text_of(&q.right, r))
                )
            })
            .collect::<Vec<_>>()
            .join(" ; "),
        Value::Null => "sans réponse".into(),
    }
}

/// A question as form fields (the names the form parser below reads back).
fn question_fields(q: &QuestionView, answers: &BTreeMap<String, Value>) -> Value {
    let given = answers.get(&q.id);
    let chosen = |label: &str| match given {
        Some(Value::String(s)) => s == label,
        Some(Value::Array(a)) => a.iter().any(|v| v == label),
        _ => false,
    };
    let options = |list: &Option<Vec<crate::quiz::paper::OptionView>>| -> Vec<Value> {
        list.iter()
            .flatten()
            .map(|o| json!({ "id": o.id, "text": o.text, "checked": chosen(&o.id) }))
            .collect()
    };
    let mut view = json!({
        "id": q.id, "prompt": q.prompt, "points": q.points, "type": q.kind,
        "single": q.kind == QuestionType::SingleChoice, "multiple": q.kind == QuestionType::MultipleChoice,
        "true_false": q.kind == QuestionType::TrueFalse, "numeric": q.kind == QuestionType::Numeric,
        "matching": q.kind == QuestionType::Matching, "ordering": q.kind == QuestionType::Ordering,
        "choices": options(&q.choices),
        "is_true": given == Some(&Value::Bool(true)), "is_false": given == Some(&Value::Bool(false)),
        "number": given.and_then(Value::as_f64).map(|n| n.to_string()).unwrap_or_default(),
    });
    if let (Some(left), Some(right)) = (&q.left, &q.right) {
        view["pairs"] = left
            .iter()
            .map(|l| {
                let picked = given.and_then(|g| g.get(&l.id)).and_then(Value::as_str);
                json!({ "id": l.id, "text": l.text,
                        "options": right.iter().map(|r| json!({ "id": r.id, "text": r.text, "selected": picked == Some(r.id.as_str()) })).collect::<Vec<_>>() })
            })
            .collect();
    }
    if let Some(items) = &q.items {
        let order: Vec<&str> = given
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        view["positions"] = (0..items.len())
            .map(|i| {
                json!({ "rank": i + 1,
                        "options": items.iter().map(|it| json!({ "id": it.id, "text": it.text, "selected": order.get(i) == Some(&it.id.as_str()) })).collect::<Vec<_>>() })
            })
            .collect();
    }
    view
}

pub(super) async fn attempt(
    state: web::Data<AppState>,
    visitor: Visitor,
    path: web::Path<String>,
) -> HttpResponse {
    let id = path.into_inner();
    page(state, visitor, |state, user, visitor| async move {
        let s = state.clone();
        let view = db::run(&state.pool, move |conn| quiz::show(conn, &s.courses, &user, &id)).await?;
        let items: Vec<Value> = view
            .items
            .iter()
            .map(|item| match item {
                ItemView::Question(q) => json!({ "questions": [question_fields(q, &view.answers)] }),
                ItemView::Vignette { title, case_html, questions, .. } => json!({
                    "vignette": title, "case_html": case_html,
                    "questions": questions.iter().map(|q| question_fields(q, &view.answers)).collect::<Vec<_>>(),
                }),
            })
            .collect();
        let paper = questions_of(&view.items);
        let prompt = |id: &str| {
            paper
                .iter()
                .find(|q| q.id == id)
                .map_or(String::new(), |q| q.prompt.clone())
        };
        let find = |id: &str| paper.iter().find(|q| q.id == id);
        let result = view.result.as_ref().map(|r| {
            json!({
                "percent": crate::fr::number(r.percent), "passed": r.passed,
                "pass_mark": r.pass_mark, "auto": r.auto_submitted,
                "assessed": matches!(view.role, QuizRole::Graded | QuizRole::PostTest),
                "objectives": r.objectives.iter().map(|o| json!({
                    "text": o.text, "percent": format!("{:.0}", o.percent), "work": o.percent < f64::from(r.pass_mark.max(50)),
                })).collect::<Vec<_>>(),
                "feedback_note": r.feedback_note,
                "questions": r.questions.as_ref().map(|qs| qs.iter().map(|f| json!({
                    "prompt": prompt(&f.id), "correct": f.correct, "feedback": f.feedback,
                    "answer": f.answer.as_ref().map_or("sans réponse".into(), |a| answer_words(find(&f.id), a)),
                    "expected": answer_words(find(&f.id), &f.correct_answer),
                })).collect::<Vec<_>>()),
            })
        });
        render(
            &state,
            &visitor,
            "quiz",
            &view.quiz_title.clone(),
            json!({
                "attempt": view.id, "title": view.quiz_title, "number": view.number,
                "open": view.status == AttemptStatus::Open, "items": items, "result": result,
                "deadline": view.deadline.map(|d| d.and_utc().to_rfc3339()),
                "enrolment": view.enrolment_id, "quiz": view.quiz_id,
            }),
        )
    })
    .await
}

/// Reads the quiz form back into answers: `q.<id>` for one value (repeated for several
/// choices), `q.<id>.<left>` for matching, `q.<id>.rank.<n>` for ordering; empty fields
/// are unanswered. Types follow the paper, so "12,5" is a number and "true" a boolean.
fn answers_of(form: &[(String, String)], paper: &[QuestionView]) -> BTreeMap<String, Value> {
    let mut answers = BTreeMap::new();
    for q in paper {
        let prefix = format!("q.{}", q.id);
        let values: Vec<(&str, &str)> = form
            .iter()
            .filter_map(|(k, v)| {
                let rest = k.strip_prefix(&prefix)?;
                (rest.is_empty() || rest.starts_with('.')).then_some((rest, v.as_str()))
            })
            .filter(|(_, v)| !v.trim().is_empty())
            .collect();
        if values.is_empty() {
            continue;
        }
        let answer = match q.kind {
            QuestionType::MultipleChoice => {
                Value::Array(values.iter().map(|(_, v)| json!(v)).collect())
            }
            QuestionType::TrueFalse => json!(values[0].1 == "true"),
            QuestionType::Numeric => values[0]
                .1
                .trim()
                .replace(',', ".")
                .parse::<f64>()
                .map_or_else(|_| json!(values[0].1), |n| json!(n)),
            QuestionType::Matching => Value::Object(
                values
                    .iter()
                    .filter_map(|(k, v)| Some((k.strip_prefix('.')?.to_owned(), json!(v))))
                    .collect(),
            ),
            QuestionType::Ordering => {
                let mut ranked: Vec<(usize, &str)> = values
                    .iter()
                    .filter_map(|(k, v)| Some((k.strip_prefix(".rank.")?.parse().ok()?, *v)))
                    .collect();
                ranked.sort();
                Value::Array(ranked.into_iter().map(|(_, v)| json!(v)).collect())
            }
            _ => json!(values[0].1),
        };
        answers.insert(q.id.clone(), answer);
    }
    answers
}

fn questions_of(items: &[ItemView]) -> Vec<QuestionView> {
    items
        .iter()
        .flat_map(|item| match item {
            ItemView::Question(q) => vec![q.clone()],
            ItemView::Vignette { questions, .. } => questions.clone(),
        })
        .collect()
}

/// Autosave from the page's script: the form as it stands.
pub(super) async fn save(
    state: web::Data<AppState>,
    visitor: Visitor,
    path: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let user = visitor.for_form(field(&form, "csrf"))?.clone();
    let (id, s) = (path.into_inner(), state.clone());
    let form = form.into_inner();
    db::run(&state.pool, move |conn| {
        let view = quiz::show(conn, &s.courses, &user, &id)?;
        let answers = answers_of(&form, &questions_of(&view.items));
        quiz::save(conn, &s.courses, &user, &id, &answers)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

pub(super) async fn submit(
    state: web::Data<AppState>,
    visitor: Visitor,
    path: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
) -> HttpResponse {
    let user = match visitor.for_form(field(&form, "csrf")) {
        Ok(user) => user.clone(),
        Err(e) => return error_page(&state, &visitor, &e),
    };
    let (id, courses) = (path.into_inner(), state.courses.clone());
    let form = form.into_inner();
    let target = format!("/tentatives/{id}");
    let done = quiz::decided(
        &state,
        std::sync::Arc::new(move |conn: &mut db::DbConn| {
            let view = quiz::show(conn, &courses, &user, &id)?;
            let answers = answers_of(&form, &questions_of(&view.items));
            let body = serde_json::to_vec(&answers).map_err(anyhow::Error::from)?;
            quiz::submit(
                conn,
                &courses,
                &user,
                &id,
                quiz::Submission {
                    key: None,
                    body_hash: quiz::request_hash(&body),
                    answers: Some(answers),
                },
            )
        }),
    )
    .await;
    match done {
        Ok(_) => redirect(&target),
        Err(e) => error_page(&state, &visitor, &e),
    }
}
