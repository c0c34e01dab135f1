//! Grades to learning platforms (LTI Assignment and Grade Services 2.0), through an
//! outbox: a completion writes what each LMS course's grade book is owed in its own
//! transaction, and a worker sends it — finding or creating the line item, then posting
//! the score — retrying with back-off, so an LMS outage loses no grade.

use chrono::{NaiveDateTime, Utc};

use super::client::CallError;
use super::model::{quiz_tag, with_query, COMPLETION_TAG, SCOPE_LINEITEM, SCOPE_SCORE};
use super::store::{self, Context, Grade};
use crate::app::AppState;
use crate::catalog::model::{Course, QuizRole};
use crate::db::{self, DbConn};
use crate::error::AppError;

const LINEITEM: &str = "application/vnd.ims.lis.v2.lineitem+json";
const LINEITEMS: &str = "application/vnd.ims.lis.v2.lineitemcontainer+json";
const SCORE: &str = "application/vnd.ims.lis.v1.score+json";
/// How many grades one run sends.
const BATCH: i64 = 50;
/// How long a claimed grade is this instance's to send.
const LEASE: chrono::Duration = chrono::Duration::minutes(2);

/// When to try again after `attempts` failures: `first`, doubling, at most 6 hours (a
/// platform down for a weekend gets its grades within 6 hours of coming back).
pub fn retry_delay(first: std::time::Duration, attempts: i32) -> chrono::Duration {
    let first = first.as_secs().max(1) as i64;
    let seconds = first.saturating_mul(1 << (attempts - 1).clamp(0, 10));
    chrono::Duration::seconds(seconds.min(6 * 3600))
}

/// A score owed to a grade book, completed and fully graded.
fn owed(
    context: &Context,
    sub: &str,
    tag: String,
    label: String,
    given: f64,
    maximum: f64,
    at: NaiveDateTime,
) -> Grade {
    Grade {
        id: uuid::Uuid::new_v4().to_string(),
        context_id: context.id.clone(),
        user_sub: sub.to_owned(),
        tag,
        label,
        score_given: given,
        score_maximum: maximum,
        activity_progress: "Completed".into(),
        grading_progress: "FullyGraded".into(),
        occurred_at: at,
        attempts: 0,
        next_attempt_at: at,
        locked_until: None,
        sent_at: None,
        last_error: None,
    }
}

/// Whether a quiz's score goes to grade books: graded quizzes and post-tests (a pre-test
/// measures where one started, a practice quiz is practice).
fn scored(course: &Course, quiz_id: &str) -> Option<String> {
    course
        .quizzes
        .iter()
        .find(|q| q.id == quiz_id && matches!(q.role, QuizRole::Graded | QuizRole::PostTest))
        .map(|q| q.title.clone())
}

/// Asks for the grade book's columns of a course placed in an LMS course, as soon as the
/// platform offers its line items service: one per scored quiz and one for completion, so
/// teachers see them before any student has a score. A row without a user (`user_sub`
/// empty) only finds or creates its line item.
pub fn declare_columns(
    conn: &mut DbConn,
    course: &Course,
    context: &Context,
    at: NaiveDateTime,
) -> Result<(), AppError> {
    let quizzes = course
        .quizzes
        .iter()
        .filter(|q| scored(course, &q.id).is_some())
        .map(|q| (quiz_tag(&q.id), q.title.clone(), 100.0));
    let completion = (
        COMPLETION_TAG.to_owned(),
        format!("{} — formation terminée", course.title),
        1.0,
    );
    for (tag, label, maximum) in quizzes.chain(std::iter::once(completion)) {
        store::insert_grade(conn, &owed(context, "", tag, label, 0.0, maximum, at))?;
    }
    Ok(())
}

/// Writes what a graded attempt owes to the LMS courses its session is placed in, where
/// the learner came from (in the grading's transaction): the quiz's best percentage so far
/// (the LMS keeps the latest score it is sent; ours is the best attempt).
pub fn owe_attempt(
    conn: &mut DbConn,
    course: &Course,
    enrolment_id: &str,
    quiz_id: &str,
    at: NaiveDateTime,
) -> Result<usize, AppError> {
    let Some(title) = scored(course, quiz_id) else {
        return Ok(0);
    };
    let books = store::grade_books_of_enrolment(conn, enrolment_id)?;
    if books.is_empty() {
        return Ok(0);
    }
    let Some(best) = store::best_percent(conn, enrolment_id, quiz_id)? else {
        return Ok(0);
    };
    for (context, sub) in &books {
        let grade = owed(
            context,
            sub,
            quiz_tag(quiz_id),
            title.clone(),
            best,
            100.0,
            at,
        );
        store::insert_grade(conn, &grade)?;
    }
    Ok(books.len())
}

/// Writes what a completion owes to the LMS courses the session is placed in, where the
/// learner came from (in the completion's transaction): 1 of 1, completed.
pub fn owe_at_completion(
    conn: &mut DbConn,
    course: &Course,
    session_id: &str,
    account_id: &str,
    at: NaiveDateTime,
) -> Result<usize, AppError> {
    let books = store::grade_books_of(conn, session_id, account_id)?;
    let label = format!("{} — formation terminée", course.title);
    for (context, sub) in &books {
        let grade = owed(
            context,
            sub,
            COMPLETION_TAG.into(),
            label.clone(),
            1.0,
            1.0,
            at,
        );
        store::insert_grade(conn, &grade)?;
    }
    Ok(books.len())
}

/// The scores URL of a line item: `/scores` appended to its path, before any query.
fn scores_url(line_item: &str) -> String {
    match line_item.split_once('?') {
        Some((path, query)) => format!("{}/scores?{query}", path.trim_end_matches('/')),
        None => format!("{}/scores", line_item.trim_end_matches('/')),
    }
}

/// `tag` and `resource_id` filters on a line items URL that may have a query already.
fn filtered(lineitems: &str, tag: &str, resource_id: &str) -> String {
    let query = serde_urlencoded::to_string([("tag", tag), ("resource_id", resource_id)])
        .unwrap_or_default();
    with_query(lineitems, &query)
}

/// The line item for `grade`: the one a link came with or one found or created before,
/// one of the platform's with our tag, or a new one.
async fn line_item(
    state: &AppState,
    context: &Context,
    grade: &Grade,
    token: &str,
) -> Result<String, CallError> {
    let (id, tag) = (context.id.clone(), grade.tag.clone());
    let known = db::run(&state.pool, move |c| Ok(store::line_item(c, &id, &tag)?))
        .await
        .map_err(|e| CallError::Unreachable(e.to_string()))?;
    if let Some(url) = known {
        return Ok(url);
    }
    let Some(lineitems) = &context.lineitems_url else {
        return Err(CallError::Refused(
            0,
            "no line items service for this course".into(),
        ));
    };
    let listed = state
        .lti
        .call(
            &filtered(lineitems, &grade.tag, &context.course_slug),
            token,
            LINEITEMS,
            None,
        )
        .await?;
    let found = listed.as_array().and_then(|items| {
        items
            .iter()
            .find(|i| i["tag"] == grade.tag.as_str())
            .and_then(|i| i["id"].as_str())
            .map(str::to_owned)
    });
    let url = match found {
        Some(url) => url,
        None => {
            let body = serde_json::json!({
                "scoreMaximum": grade.score_maximum, "label": grade.label,
                "tag": grade.tag, "resourceId": context.course_slug,
            });
            let created = state
                .lti
                .call(lineitems, token, LINEITEM, Some((LINEITEM, &body)))
                .await?;
            created["id"]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| CallError::Unreachable("line item created without id".into()))?
        }
    };
    let (id, tag, stored) = (context.id.clone(), grade.tag.clone(), url.clone());
    db::run(&state.pool, move |c| {
        Ok(c.write(|c| store::insert_line_item(c, &id, &tag, &stored))?)
    })
    .await
    .map_err(|e| CallError::Unreachable(e.to_string()))?;
    Ok(url)
}

async fn send(state: &AppState, grade: &Grade) -> Result<(), CallError> {
    let context_id = grade.context_id.clone();
    let (context, platform) = db::run(&state.pool, move |c| {
        let context = store::context_by_id(c, &context_id)?;
        let platform = store::platform(c, &context.platform_id)?;
        Ok((context, platform))
    })
    .await
    .map_err(|e| CallError::Unreachable(e.to_string()))?;
    let platform = platform.ok_or_else(|| CallError::Refused(0, "platform deleted".into()))?;
    let scopes = format!("{SCOPE_LINEITEM} {SCOPE_SCORE}");
    let public_url = &state.settings.public_url;
    let token = state
        .lti
        .access_token(
            &state.lti_key,
            public_url,
            &platform.client_id,
            &platform.token_url,
            &scopes,
        )
        .await?;
    let result = async {
        let item = line_item(state, &context, grade, &token).await?;
        if grade.user_sub.is_empty() {
            // A column asked for ahead of any score: it exists now.
            return Ok(());
        }
        let score = serde_json::json!({
            "userId": grade.user_sub,
            "scoreGiven": grade.score_given,
            "scoreMaximum": grade.score_maximum,
            "activityProgress": grade.activity_progress,
            "gradingProgress": grade.grading_progress,
            "timestamp": grade.occurred_at.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        });
        state
            .lti
            .call(&scores_url(&item), &token, "application/json", Some((SCORE, &score)))
            .await
            .map(drop)
    }
    .await;
    if let Err(CallError::Refused(401, _)) = &result {
        // A token the platform no longer takes: the next try asks for a new one.
        state
            .lti
            .forget_token(&platform.token_url, &platform.client_id, &scopes);
    }
    result
}

/// Sends the grades due (one run of the worker); returns how many the platforms took.
pub async fn send_due(state: &AppState) -> anyhow::Result<usize> {
    let at = Utc::now().naive_utc();
    let due = db::run(&state.pool, move |c| {
        if !store::any_due(c, at)? {
            return Ok(Vec::new());
        }
        Ok(store::claim_due(c, at, at + LEASE, BATCH)?)
    })
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut sent = 0;
    let first_retry = state.settings.lti_retry;
    for grade in due {
        let outcome = send(state, &grade).await;
        // The claim counted this attempt already.
        let (id, attempts) = (grade.id.clone(), grade.attempts);
        match &outcome {
            Ok(()) => sent += 1,
            Err(e) => {
                tracing::warn!(grade = %grade.id, attempts, error = %e, "grade not taken by its platform")
            }
        }
        let held = db::run(&state.pool, move |c| {
            let now = Utc::now().naive_utc();
            Ok(c.write(|c| match outcome {
                Ok(()) => store::mark_sent(c, &grade, now),
                Err(e) => store::mark_failed(
                    c,
                    &grade,
                    &e.to_string(),
                    now + retry_delay(first_retry, attempts),
                ),
            })?)
        })
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        if !held {
            tracing::warn!(grade = %id, "a grade's lease ran out while it was sent: another instance had claimed it again");
        }
    }
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_go_to_the_line_items_scores_path_before_its_query() {
        assert_eq!(scores_url("https://lms/li/7"), "https://lms/li/7/scores");
        assert_eq!(
            scores_url("https://lms/li/7/?type_id=2"),
            "https://lms/li/7/scores?type_id=2"
        );
        assert_eq!(
            filtered("https://lms/c/1/lineitems?x=1", "completion", "qvt"),
            "https://lms/c/1/lineitems?x=1&tag=completion&resource_id=qvt"
        );
    }

    #[test]
    fn retries_back_off_to_six_hours() {
        let first = std::time::Duration::from_secs(30);
        assert_eq!(retry_delay(first, 1).num_seconds(), 30);
        assert_eq!(retry_delay(first, 2).num_seconds(), 60);
        assert_eq!(retry_delay(first, 3).num_seconds(), 120);
        assert_eq!(retry_delay(first, 30).num_seconds(), 6 * 3600);
    }
}
