//! Lesson activities (self-audits, cases, reflections, action plans): the learner's answer
//! parsed against the activity, stored (the last version, with when it was first given),
//! shown back with the commentary it unlocks, and required before the lesson is done.

use std::collections::BTreeMap;

use chrono::{NaiveDateTime, SubsecRound, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::catalog::cache::CourseCache;
use crate::catalog::model::{Activity, ActivityKind, Course};
use crate::codes::code_list;
use crate::completion::store as completion_store;
use crate::db::schema::activity_answers;
use crate::db::{native, DbConn};
use crate::enrolment::access::{ensure_recording, own_enrolment};
use crate::error::{AppError, FieldError};
use crate::identity::auth::CurrentUser;
use crate::learning::LessonAt;
use crate::resources::fill::fill;

/// The longest free-text answer, in characters.
pub const MAX_TEXT_CHARS: usize = 10_000;

code_list!(
    /// A self-audit item's answer.
    AuditAnswer, "réponse d'autodiagnostic" {
    Oui = "oui": "Oui",
    EnPartie = "en_partie": "En partie",
    Non = "non": "Non",
});

/// An answer as stored and shown: the text (free-text kinds, or a self-audit's comment) and
/// the self-audit's item answers, in item order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Answer {
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub items: Vec<AuditAnswer>,
}

/// An answer as sent.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerInput {
    pub text: Option<String>,
    /// Self-audits: `oui`, `en_partie` or `non`, one per item in order.
    pub items: Option<Vec<String>>,
}

/// Parses an answer against its activity, naming every problem.
pub fn parse_answer(activity: &Activity, input: AnswerInput) -> Result<Answer, AppError> {
    let mut errors = Vec::new();
    // Browsers send line breaks as \r\n but count them as one character.
    let text = input
        .text
        .unwrap_or_default()
        .replace("\r\n", "\n")
        .trim()
        .to_owned();
    let length = text.chars().count();
    if length > MAX_TEXT_CHARS {
        errors.push(FieldError::new(
            "text",
            format!("au plus {MAX_TEXT_CHARS} caractères"),
        ));
    } else if activity.kind != ActivityKind::SelfAudit && length < activity.min_chars as usize {
        errors.push(FieldError::new(
            "text",
            format!(
                "réponse trop courte : {length} caractères, au moins {} attendus",
                activity.min_chars
            ),
        ));
    }
    let mut items = Vec::new();
    match (activity.kind, input.items) {
        (ActivityKind::SelfAudit, Some(sent)) if sent.len() == activity.items.len() => {
            for (i, raw) in sent.iter().enumerate() {
                match AuditAnswer::parse(raw.trim()) {
                    Ok(a) => items.push(a),
                    Err(_) => errors.push(FieldError::new(
                        format!("items[{i}]"),
                        "oui, en_partie ou non",
                    )),
                }
            }
        }
        (ActivityKind::SelfAudit, _) => errors.push(FieldError::new(
            "items",
            format!("une réponse par item ({} attendues)", activity.items.len()),
        )),
        (_, Some(_)) => errors.push(FieldError::new("items", "réservé aux autodiagnostics")),
        (_, None) => {}
    }
    if errors.is_empty() {
        Ok(Answer { text, items })
    } else {
        Err(AppError::invalid_fields(errors))
    }
}

/// An activity as the learner sees it: the commentary and the audit's advice only once
/// they have answered, so that they think before reading the expert's view.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ActivityView {
    pub id: String,
    pub kind: ActivityKind,
    pub kind_label: String,
    pub title: String,
    pub minutes: u32,
    pub prompt_html: String,
    pub items: Vec<AuditItemView>,
    pub min_chars: u32,
    pub answer: Option<Answer>,
    #[serde(with = "crate::http::timestamps::utc_option")]
    pub answered_at: Option<NaiveDateTime>,
    /// Shown once answered.
    pub commentary_html: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditItemView {
    pub text: String,
    pub answer: Option<AuditAnswer>,
    /// Shown once answered, for an item not answered « oui ».
    pub advice: Option<String>,
}

/// The activity for the learner, with their organisation's local resources (`resources`)
/// filled in, as in the lesson.
pub fn view(
    activity: &Activity,
    stored: Option<&(Answer, NaiveDateTime)>,
    resources: &BTreeMap<String, String>,
) -> ActivityView {
    let answer = stored.map(|(a, _)| a);
    ActivityView {
        id: activity.id.clone(),
        kind: activity.kind,
        kind_label: activity.kind.label().to_owned(),
        title: activity.title.clone(),
        minutes: activity.minutes,
        prompt_html: fill(&activity.prompt_html, resources),
        items: activity
            .items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let given = answer.and_then(|a| a.items.get(i).copied());
                AuditItemView {
                    text: item.text.clone(),
                    answer: given,
                    advice: given
                        .filter(|g| *g != AuditAnswer::Oui)
                        .map(|_| item.advice.clone()),
                }
            })
            .collect(),
        min_chars: activity.min_chars,
        answer: answer.cloned(),
        answered_at: stored.map(|(_, at)| *at),
        commentary_html: stored.and(
            activity
                .commentary_html
                .as_ref()
                .map(|c| fill(c, resources)),
        ),
    }
}

/// The answers of an enrolment, by (lesson, activity), with when each was last saved.
pub fn answers_of(
    conn: &mut DbConn,
    enrolment_id: &str,
) -> QueryResult<BTreeMap<(String, String), (Answer, NaiveDateTime)>> {
    let rows: Vec<(String, String, String, NaiveDateTime)> = native!(conn, |c| {
        activity_answers::table
            .filter(activity_answers::enrolment_id.eq(enrolment_id))
            .select((
                activity_answers::lesson_id,
                activity_answers::activity_id,
                activity_answers::answer,
                activity_answers::updated_at,
            ))
            .load(c)
    })?;
    Ok(rows
        .into_iter()
        .map(|(lesson, activity, answer, at)| {
            // Written by us from `Answer`: an unreadable row is shown as empty, not lost.
            let answer = serde_json::from_str(&answer).unwrap_or_default();
            ((lesson, activity), (answer, at))
        })
        .collect())
}

fn save(
    conn: &mut DbConn,
    lesson: LessonAt<'_>,
    activity_id: &str,
    answer: &Answer,
    at: NaiveDateTime,
) -> QueryResult<()> {
    let json = serde_json::to_string(answer).expect("an answer serialises");
    let row = activity_answers::table
        .filter(activity_answers::enrolment_id.eq(lesson.enrolment_id))
        .filter(activity_answers::lesson_id.eq(lesson.lesson_id))
        .filter(activity_answers::activity_id.eq(activity_id));
    let updated = native!(conn, |c| diesel::update(row)
        .set((
            activity_answers::answer.eq(&json),
            activity_answers::updated_at.eq(at)
        ))
        .execute(c))?;
    if updated == 0 {
        native!(conn, |c| diesel::insert_into(activity_answers::table)
            .values((
                activity_answers::enrolment_id.eq(lesson.enrolment_id),
                activity_answers::lesson_id.eq(lesson.lesson_id),
                activity_answers::activity_id.eq(activity_id),
                activity_answers::answer.eq(&json),
                activity_answers::first_answered_at.eq(at),
                activity_answers::updated_at.eq(at),
            ))
            .execute(c))?;
    }
    Ok(())
}

fn find<'a>(
    course: &'a Course,
    lesson_id: &str,
    activity_id: &str,
) -> Result<&'a Activity, AppError> {
    course
        .lessons
        .iter()
        .find(|l| l.id == lesson_id)
        .and_then(|l| l.activities.iter().find(|a| a.id == activity_id))
        .ok_or_else(|| AppError::not_found("Activité introuvable dans cette leçon."))
}

/// Records the learner's answer to an activity of a lesson they have opened; editable
/// until the course is completed (then it is part of the record).
pub fn answer(
    conn: &mut DbConn,
    courses: &CourseCache,
    user: &CurrentUser,
    lesson: LessonAt<'_>,
    activity_id: &str,
    input: AnswerInput,
) -> Result<ActivityView, AppError> {
    let (enrolment, session) = own_enrolment(conn, user, lesson.enrolment_id)?;
    ensure_recording(&enrolment, &session)?;
    let course = courses.get(conn, &enrolment.course_version_id)?;
    let activity = find(&course, lesson.lesson_id, activity_id)?;
    let parsed = parse_answer(activity, input)?;
    let at = Utc::now().naive_utc().trunc_subsecs(0);
    conn.write(|c| {
        if !super::store::progress_of(c, lesson.enrolment_id)?
            .iter()
            .any(|p| p.lesson_id == lesson.lesson_id)
        {
            return Err(AppError::conflict("Ouvrez d'abord la leçon."));
        }
        if completion_store::completion(c, lesson.enrolment_id)?.is_some() {
            return Err(AppError::conflict(
                "Formation achevée : vos réponses font partie de votre dossier et ne se modifient plus.",
            ));
        }
        save(c, lesson, activity_id, &parsed, at)?;
        Ok::<_, AppError>(())
    })?;
    let resources = crate::resources::store::values_of(conn, &session.organisation_id)?;
    Ok(view(activity, Some(&(parsed, at)), &resources))
}

/// The first activity of a lesson still without an answer, if any.
pub fn unanswered<'a>(
    course: &'a Course,
    lesson_id: &str,
    answers: &BTreeMap<(String, String), (Answer, NaiveDateTime)>,
) -> Option<&'a Activity> {
    course
        .lessons
        .iter()
        .find(|l| l.id == lesson_id)?
        .activities
        .iter()
        .find(|a| !answers.contains_key(&(lesson_id.to_owned(), a.id.clone())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::model::AuditItem;

    fn activity(kind: ActivityKind) -> Activity {
        Activity {
            id: "a".into(),
            kind,
            title: "A".into(),
            minutes: 10,
            prompt_html: "<p>Consigne</p>".into(),
            items: if kind == ActivityKind::SelfAudit {
                (0..3)
                    .map(|i| AuditItem {
                        text: format!("Item {i}"),
                        advice: format!("Conseil {i}"),
                    })
                    .collect()
            } else {
                vec![]
            },
            commentary_html: Some("<p>Commentaire</p>".into()),
            min_chars: if kind == ActivityKind::SelfAudit {
                0
            } else {
                20
            },
        }
    }

    fn fields_of(e: AppError) -> Vec<String> {
        e.errors().iter().map(|f| f.field.clone()).collect()
    }

    #[test]
    fn a_free_text_answer_must_reach_the_minimum_length() {
        let case = activity(ActivityKind::Case);
        let short = parse_answer(
            &case,
            AnswerInput {
                text: Some("  trop court  ".into()),
                items: None,
            },
        );
        assert_eq!(fields_of(short.unwrap_err()), ["text"]);
        let with_items = AnswerInput {
            text: Some("x".repeat(30)),
            items: Some(vec!["oui".into()]),
        };
        assert_eq!(
            fields_of(parse_answer(&case, with_items).unwrap_err()),
            ["items"]
        );
        let ok = parse_answer(
            &case,
            AnswerInput {
                text: Some(format!(" {} ", "x".repeat(20))),
                items: None,
            },
        )
        .unwrap();
        assert_eq!(ok.text.len(), 20);
    }

    #[test]
    fn a_self_audit_answers_every_item_with_a_known_answer() {
        let audit = activity(ActivityKind::SelfAudit);
        let missing = AnswerInput {
            text: None,
            items: Some(vec!["oui".into()]),
        };
        assert_eq!(
            fields_of(parse_answer(&audit, missing).unwrap_err()),
            ["items"]
        );
        let odd = AnswerInput {
            text: None,
            items: Some(vec!["oui".into(), "peut-être".into(), "non".into()]),
        };
        assert_eq!(
            fields_of(parse_answer(&audit, odd).unwrap_err()),
            ["items[1]"]
        );
        let ok = AnswerInput {
            text: None,
            items: Some(vec!["oui".into(), "en_partie".into(), "non".into()]),
        };
        let answer = parse_answer(&audit, ok).unwrap();
        assert_eq!(
            answer.items,
            [AuditAnswer::Oui, AuditAnswer::EnPartie, AuditAnswer::Non]
        );
    }

    #[test]
    fn the_commentary_and_advice_wait_for_the_answer() {
        let audit = activity(ActivityKind::SelfAudit);
        let before = view(&audit, None, &BTreeMap::new());
        assert!(before.commentary_html.is_none());
        assert!(before.items.iter().all(|i| i.advice.is_none()));
        let answer = Answer {
            text: String::new(),
            items: vec![AuditAnswer::Oui, AuditAnswer::Non, AuditAnswer::EnPartie],
        };
        let after = view(
            &audit,
            Some(&(answer, NaiveDateTime::default())),
            &BTreeMap::new(),
        );
        assert!(after.commentary_html.is_some());
        let advice: Vec<Option<&str>> = after.items.iter().map(|i| i.advice.as_deref()).collect();
        assert_eq!(advice, [None, Some("Conseil 1"), Some("Conseil 2")]);
    }
}
