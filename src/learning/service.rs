//! The learning path: opening and finishing lessons, heartbeats and time on task, and
//! progress. Finishing a lesson or flushing time asks `completion` whether the course is
//! now complete, in the same transaction.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

use chrono::{NaiveDate, NaiveDateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::activities::{self, ActivityView};
use super::clock::{Credit, Interval, Tracker};
use super::commit::Commits;
use super::store;
use crate::catalog::cache::CourseCache;
use crate::catalog::model::{Course, QuizRole, Reference};
use crate::catalog::store as catalog;
use crate::codes::code_list;
use crate::completion::{self, rules::missing_requirements};
use crate::db::{DbConn, Pool};
use crate::enrolment::access::{ensure_recording, own_enrolment, readable_enrolment};
use crate::enrolment::model::EnrolmentStatus;
use crate::enrolment::store::{self as enrolment_store, Enrolment};
use crate::error::AppError;
use crate::identity::auth::CurrentUser;
use crate::learning::LessonAt;
use crate::resources::{self, fill::fill};

/// What the learning path shares across requests.
#[derive(Default)]
pub struct Learning {
    pub tracker: Mutex<Tracker>,
    /// Beats waiting for their credit to be written (see `commit`).
    pub commits: Commits,
    /// (account, enrolment) → (checked at, course version) for heartbeats: a learner's
    /// beats every 30 s need no database while the check is fresh.
    recording: Mutex<HashMap<(String, String), Recording>>,
}

struct Recording {
    at: std::time::Instant,
    version: String,
    session: String,
    /// The lesson last beaten on, and its credited total as this instance knows it (the
    /// written total at the check, plus this instance's credits since): what the page shows.
    lesson: String,
    lesson_seconds: i64,
}

impl Learning {
    /// Forgets every recording check of an account (disabled, erased, signed out); through
    /// `AppState::forget`, with what else an account's change made stale.
    pub(crate) fn forget_recording_of(&self, account_id: &str) {
        self.recording
            .lock()
            .expect("not poisoned")
            .retain(|(account, _), _| account != account_id);
    }

    /// Puts back a batch of time that could not be written: the next flush retries it.
    fn put_back(&self, batch: Vec<Interval>) {
        self.tracker.lock().expect("not poisoned").restore(batch);
    }

    /// Withdrawn enrolments and closed sessions stop crediting time at once on this
    /// instance (other instances within [`RECORDING_CHECK_TTL`]); through `AppState::forget`.
    pub(crate) fn forget_recording(&self, enrolment_id: Option<&str>, session_id: Option<&str>) {
        self.recording
            .lock()
            .expect("not poisoned")
            .retain(|(_, enrolment), r| {
                Some(enrolment.as_str()) != enrolment_id && Some(r.session.as_str()) != session_id
            });
    }
}

/// How long a check of a learner's account and enrolment is trusted by their heartbeats.
/// Longer than the 30 s between beats, so that most beats need no database; a withdrawal,
/// a closed session, a disabled account or an ended page session stops crediting time at
/// once on the instance where it happens, and at the latest this much later on the others.
const RECORDING_CHECK_TTL: std::time::Duration = std::time::Duration::from_secs(90);

/// Microseconds, as PostgreSQL stores them: an in-memory time must equal its stored copy.
fn now() -> NaiveDateTime {
    Utc::now().naive_utc().trunc_subsecs(6)
}

fn not_found() -> AppError {
    AppError::not_found("Inscription introuvable.")
}

/// Writes the time on task held in memory, in one transaction, and answers the beats that
/// waited for it (see `commit`); on failure the time stays in memory for the next run. The
/// only writer of the tracker's time: requests read what it wrote.
pub fn flush(pool: &Pool, courses: &CourseCache, learning: &Learning) -> anyhow::Result<usize> {
    let waiting = learning.commits.take();
    let batch = learning
        .tracker
        .lock()
        .expect("not poisoned")
        .take_flush(now());
    let written = if batch.is_empty() {
        Ok(0)
    } else {
        match pool.get() {
            Ok(mut conn) => write_batch(&mut conn, courses, learning, batch),
            Err(e) => {
                learning.put_back(batch);
                Err(e.into())
            }
        }
    };
    waiting.answer(written.is_ok());
    written
}

/// Writes a batch taken from the tracker in one transaction, or puts it back.
fn write_batch(
    conn: &mut DbConn,
    courses: &CourseCache,
    learning: &Learning,
    batch: Vec<Interval>,
) -> anyhow::Result<usize> {
    if batch.is_empty() {
        return Ok(0);
    }
    let written = conn.write(|c| {
        // Enrolments in a fixed order, so that two instances flushing never deadlock.
        let mut touched: BTreeMap<&str, Vec<&Interval>> = BTreeMap::new();
        for interval in &batch {
            touched
                .entry(&interval.enrolment_id)
                .or_default()
                .push(interval);
        }
        let ids: Vec<&str> = touched.keys().copied().collect();
        store::lock_accounts_of(c, &ids)?;
        for chunk in ids.chunks(FLUSH_CHUNK) {
            flush_chunk(c, courses, chunk, &touched)?;
        }
        Ok::<_, anyhow::Error>(())
    });
    match written {
        Ok(()) => Ok(batch.len()),
        Err(e) => {
            learning.put_back(batch);
            Err(e)
        }
    }
}

/// Enrolments written per round of queries: few enough for any database's limit on bound
/// parameters, many enough that a flush of thousands of learners is a handful of queries.
const FLUSH_CHUNK: usize = 500;

/// Writes the time of a chunk of enrolments (sorted by id) in a few queries, and completes
/// those the new time may complete: a flush once took a dozen round trips per learner.
fn flush_chunk(
    c: &mut DbConn,
    courses: &CourseCache,
    ids: &[&str],
    touched: &BTreeMap<&str, Vec<&Interval>>,
) -> anyhow::Result<()> {
    // Enrolments gone since (erased) take their time with them.
    let enrolments = enrolment_store::enrolments_for_update(c, ids)?;
    let intervals: Vec<Interval> = enrolments
        .iter()
        .flat_map(|e| touched[e.id.as_str()].iter().map(|i| (*i).clone()))
        .collect();
    store::upsert_intervals(c, &intervals)?;
    // One clock per account: the union is taken over all its enrolments' intervals.
    let mut since: BTreeMap<&str, NaiveDateTime> = BTreeMap::new();
    for e in &enrolments {
        let Some(first) = touched[e.id.as_str()].iter().map(|i| i.started_at).min() else {
            continue;
        };
        since
            .entry(e.account_id.as_str())
            .and_modify(|at| *at = (*at).min(first))
            .or_insert(first);
    }
    store::reconcile_overlaps(c, &since)?;
    // Time completes only what lacks nothing but time: active, not yet complete, every
    // lesson done. `completion::evaluate` decides for those, with everything else it checks.
    let active: Vec<&Enrolment> = enrolments
        .iter()
        .filter(|e| e.status == EnrolmentStatus::Active)
        .collect();
    let active_ids: Vec<&str> = active.iter().map(|e| e.id.as_str()).collect();
    let completed = completion::store::completed_among(c, &active_ids)?;
    let mut done = completion::store::lessons_done_among(c, &active_ids)?;
    for enrolment in active.into_iter().filter(|e| !completed.contains(&e.id)) {
        let course = courses.get(c, &enrolment.course_version_id)?;
        let lessons = done.remove(&enrolment.id).unwrap_or_default();
        if course.lessons.iter().all(|l| lessons.contains(&l.id)) {
            completion::evaluate(c, &course, &enrolment.id).map_err(|e| anyhow::anyhow!("{e}"))?;
        }
    }
    Ok(())
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LessonView {
    pub lesson_id: String,
    pub title: String,
    pub position: u32,
    pub unit: Option<String>,
    pub minutes: u32,
    /// The course's minimum reading time per lesson, in seconds (0: none).
    pub min_lesson_seconds: u32,
    /// Sanitised HTML of the enrolment's pinned version, with the learner's organisation's
    /// local resources filled in.
    pub html: String,
    pub completed: bool,
    /// When the lesson's content was last reviewed.
    pub reviewed_on: Option<NaiveDate>,
    pub references: Vec<Reference>,
    /// The work to do on the page, with the learner's answers.
    pub activities: Vec<ActivityView>,
}

fn lesson_index(course: &Course, lesson_id: &str) -> Result<usize, AppError> {
    course
        .lessons
        .iter()
        .position(|l| l.id == lesson_id)
        .ok_or_else(|| AppError::not_found("Leçon introuvable dans cette formation."))
}

/// Opens a lesson (recording the first view), if it is unlocked.
pub fn open_lesson(
    conn: &mut DbConn,
    courses: &CourseCache,
    user: &CurrentUser,
    lesson: LessonAt<'_>,
) -> Result<LessonView, AppError> {
    let LessonAt {
        enrolment_id,
        lesson_id,
    } = lesson;
    let (enrolment, session) = own_enrolment(conn, user, enrolment_id)?;
    ensure_recording(&enrolment, &session)?;
    let course = courses.get(conn, &enrolment.course_version_id)?;
    let index = lesson_index(&course, lesson_id)?;
    let done: HashSet<String> = store::progress_of(conn, enrolment_id)?
        .into_iter()
        .filter(|p| p.completed_at.is_some())
        .map(|p| p.lesson_id)
        .collect();
    if course.completion.sequential && index > 0 && !done.contains(&course.lessons[index - 1].id) {
        return Err(AppError::conflict(format!(
            "Leçon verrouillée : terminez d'abord « {} ».",
            course.lessons[index - 1].title
        )));
    }
    conn.write(|c| store::mark_viewed(c, lesson, now()))?;
    let lesson = &course.lessons[index];
    let resources = resources::store::values_of(conn, &session.organisation_id)?;
    let answers = activities::answers_of(conn, enrolment_id)?;
    let html = catalog::lesson_html(conn, &enrolment.course_version_id, lesson_id)?;
    Ok(LessonView {
        lesson_id: lesson.id.clone(),
        title: lesson.title.clone(),
        position: lesson.position,
        unit: lesson.unit.clone(),
        minutes: lesson.minutes,
        min_lesson_seconds: course.completion.min_lesson_seconds,
        html: fill(&html, &resources),
        completed: done.contains(lesson_id),
        reviewed_on: lesson.reviewed_on,
        references: lesson.references.clone(),
        activities: lesson
            .activities
            .iter()
            .map(|a| {
                let stored = answers.get(&(lesson.id.clone(), a.id.clone()));
                activities::view(a, stored, &resources)
            })
            .collect(),
    })
}

/// A heartbeat's answer: what it credited, and where its lesson stands against the
/// course's minimum reading time (so the page can show it live).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BeatView {
    /// Seconds this heartbeat credited (to the lesson the learner was on until now).
    pub credited_seconds: i64,
    /// The lesson's credited total so far.
    pub lesson_seconds: i64,
    /// The course's minimum reading time per lesson (0: none).
    pub min_lesson_seconds: i64,
    /// What is still needed before the lesson can be marked done.
    pub remaining_seconds: i64,
}

fn beat_view(course: &Course, credited_seconds: i64, lesson_seconds: i64) -> BeatView {
    let min_lesson_seconds = i64::from(course.completion.min_lesson_seconds);
    BeatView {
        credited_seconds,
        lesson_seconds,
        min_lesson_seconds,
        remaining_seconds: (min_lesson_seconds - lesson_seconds).max(0),
    }
}

pub fn heartbeat(
    conn: &mut DbConn,
    courses: &CourseCache,
    learning: &Learning,
    user: &CurrentUser,
    lesson: LessonAt<'_>,
    beat_id: &str,
) -> Result<BeatView, AppError> {
    let LessonAt {
        enrolment_id,
        lesson_id,
    } = lesson;
    let (enrolment, session) = own_enrolment(conn, user, enrolment_id)?;
    ensure_recording(&enrolment, &session)?;
    let course = courses.get(conn, &enrolment.course_version_id)?;
    lesson_index(&course, lesson_id)?;
    // Every credit answered is written (`commit`): the total read lacks at most the
    // beats still in flight.
    let written = store::seconds_of_lesson(conn, lesson)?;
    // Nothing in memory (a restart, or another instance had it): continue from where the
    // stored time ends, so the stretch across a restart is counted, not dropped.
    let held = learning
        .tracker
        .lock()
        .expect("not poisoned")
        .is_open(enrolment_id);
    let last = if held {
        None
    } else {
        store::last_stretch(conn, enrolment_id)?
    };
    let credit = {
        let mut tracker = learning.tracker.lock().expect("not poisoned");
        if let Some((stored_lesson, ended_at)) = &last {
            let at = LessonAt {
                enrolment_id,
                lesson_id: stored_lesson,
            };
            tracker.resume(&user.id, at, *ended_at);
        }
        tracker.beat(&user.id, lesson, beat_id, now())
    };
    let lesson_seconds = written + credited_to(&credit, lesson_id);
    let mut recording = learning.recording.lock().expect("not poisoned");
    if recording.len() > 200_000 {
        recording.retain(|_, r| r.at.elapsed() < RECORDING_CHECK_TTL);
    }
    recording.insert(
        (user.id.clone(), enrolment_id.to_owned()),
        Recording {
            at: std::time::Instant::now(),
            version: enrolment.course_version_id.clone(),
            session: session.id.clone(),
            lesson: lesson_id.to_owned(),
            lesson_seconds,
        },
    );
    Ok(beat_view(&course, credit.seconds, lesson_seconds))
}

/// The part of a credit that went to this lesson (the first beat on a lesson credits the
/// one left).
fn credited_to(credit: &Credit, lesson_id: &str) -> i64 {
    if credit.lesson_id == lesson_id {
        credit.seconds
    } else {
        0
    }
}

/// A heartbeat answered from memory when the same account's enrolment was checked recently
/// on the same lesson (see `RECORDING_CHECK_TTL`); None when the database must be asked
/// (see [`heartbeat`]).
pub fn heartbeat_from_memory(
    courses: &CourseCache,
    learning: &Learning,
    account_id: &str,
    lesson: LessonAt<'_>,
    beat_id: &str,
) -> Option<Result<BeatView, AppError>> {
    let LessonAt {
        enrolment_id,
        lesson_id,
    } = lesson;
    let key = (account_id.to_owned(), enrolment_id.to_owned());
    let version = {
        let recording = learning.recording.lock().expect("not poisoned");
        let r = recording.get(&key)?;
        (r.at.elapsed() < RECORDING_CHECK_TTL && r.lesson == lesson_id)
            .then(|| r.version.clone())?
    };
    let course = courses.cached(&version)?;
    if let Err(e) = lesson_index(&course, lesson_id) {
        return Some(Err(e));
    }
    let credit =
        learning
            .tracker
            .lock()
            .expect("not poisoned")
            .beat(account_id, lesson, beat_id, now());
    let mut recording = learning.recording.lock().expect("not poisoned");
    // Forgotten meanwhile (signed out, withdrawn): the credit stays, the total is unknown.
    let r = recording.get_mut(&key)?;
    r.lesson_seconds += credited_to(&credit, lesson_id);
    Some(Ok(beat_view(&course, credit.seconds, r.lesson_seconds)))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CompleteView {
    pub lesson_id: String,
    pub course_completed: bool,
    /// True for the one request whose event completed the course.
    pub completed_now: bool,
}

/// Marks a lesson done, then checks whether the course is complete, in one transaction.
pub fn complete_lesson(
    conn: &mut DbConn,
    courses: &CourseCache,
    user: &CurrentUser,
    lesson: LessonAt<'_>,
) -> Result<CompleteView, AppError> {
    let LessonAt {
        enrolment_id,
        lesson_id,
    } = lesson;
    let (enrolment, session) = own_enrolment(conn, user, enrolment_id)?;
    ensure_recording(&enrolment, &session)?;
    let course = courses.get(conn, &enrolment.course_version_id)?;
    lesson_index(&course, lesson_id)?;
    if !store::progress_of(conn, enrolment_id)?
        .iter()
        .any(|p| p.lesson_id == lesson_id)
    {
        return Err(AppError::conflict("Ouvrez d'abord la leçon."));
    }
    if let Some(activity) = activities::unanswered(
        &course,
        lesson_id,
        &activities::answers_of(conn, enrolment_id)?,
    ) {
        return Err(AppError::conflict(format!(
            "Répondez d'abord à l'activité « {} » de cette leçon.",
            activity.title
        )));
    }
    let minimum = i64::from(course.completion.min_lesson_seconds);
    if minimum > 0 {
        let read = store::seconds_by_lesson(conn, enrolment_id)?
            .get(lesson_id)
            .copied()
            .unwrap_or(0);
        if read < minimum {
            return Err(AppError::conflict(format!(
                "Temps de lecture insuffisant : il vous reste {} de lecture sur cette leçon \
                 (minimum {}).",
                whole_minutes(minimum - read),
                whole_minutes(minimum)
            )));
        }
    }
    let (course_completed, completed_now) = conn.write(|c| {
        // The enrolment's lock first, as on every path that may complete it (quiz grading
        // included): whichever of two racing events comes second sees the first's writes.
        let enrolment =
            enrolment_store::enrolment_for_update(c, enrolment_id)?.ok_or_else(not_found)?;
        ensure_recording(&enrolment, &session)?;
        store::mark_completed(c, lesson, now())?;
        completion::evaluate(c, &course, enrolment_id)
    })?;
    Ok(CompleteView {
        lesson_id: lesson_id.to_owned(),
        course_completed,
        completed_now,
    })
}

/// "2 min", rounded up: a learner told "0 min" left would click again for nothing.
pub fn whole_minutes(seconds: i64) -> String {
    format!("{} min", (seconds.max(0) + 59) / 60)
}

code_list!(
    /// Where a learner stands in a lesson.
    LessonState, "état de leçon" {
    Locked = "locked": "Verrouillée",
    Available = "available": "Disponible",
    Viewed = "viewed": "Commencée",
    Completed = "completed": "Terminée",
});

code_list!(
    /// Whether a learner has passed a quiz.
    QuizState, "état de quiz" {
    Pending = "pending": "À faire",
    Passed = "passed": "Réussi",
});

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LessonProgressView {
    pub lesson_id: String,
    pub title: String,
    pub state: LessonState,
    pub active_seconds: i64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct QuizProgressView {
    pub quiz_id: String,
    pub title: String,
    pub role: QuizRole,
    pub required: bool,
    pub state: QuizState,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ProgressView {
    pub enrolment_id: String,
    pub status: EnrolmentStatus,
    pub lessons: Vec<LessonProgressView>,
    pub quizzes: Vec<QuizProgressView>,
    pub active_seconds: i64,
    /// Lessons done, in percent.
    pub percent: u32,
    pub completed: bool,
    #[serde(with = "crate::http::timestamps::utc_option")]
    pub completed_at: Option<NaiveDateTime>,
    /// What is still required, in French.
    pub missing: Vec<String>,
}

pub fn progress(
    conn: &mut DbConn,
    courses: &CourseCache,
    user: &CurrentUser,
    enrolment_id: &str,
) -> Result<ProgressView, AppError> {
    let (enrolment, _) = readable_enrolment(conn, user, enrolment_id)?;
    let course = courses.get(conn, &enrolment.course_version_id)?;
    let rows: HashMap<String, store::LessonProgress> = store::progress_of(conn, enrolment_id)?
        .into_iter()
        .map(|p| (p.lesson_id.clone(), p))
        .collect();
    let seconds = store::seconds_by_lesson(conn, enrolment_id)?;
    let done: HashSet<String> = rows
        .values()
        .filter(|p| p.completed_at.is_some())
        .map(|p| p.lesson_id.clone())
        .collect();
    let lessons: Vec<LessonProgressView> = course
        .lessons
        .iter()
        .enumerate()
        .map(|(i, lesson)| {
            let state = match rows.get(&lesson.id) {
                Some(p) if p.completed_at.is_some() => LessonState::Completed,
                Some(_) => LessonState::Viewed,
                None if course.completion.sequential
                    && i > 0
                    && !done.contains(&course.lessons[i - 1].id) =>
                {
                    LessonState::Locked
                }
                None => LessonState::Available,
            };
            LessonProgressView {
                lesson_id: lesson.id.clone(),
                title: lesson.title.clone(),
                state,
                active_seconds: seconds.get(&lesson.id).copied().unwrap_or(0),
            }
        })
        .collect();
    let passed = completion::store::passed_quizzes(conn, enrolment_id)?;
    let quizzes = course
        .quizzes
        .iter()
        .map(|q| QuizProgressView {
            quiz_id: q.id.clone(),
            title: q.title.clone(),
            role: q.role,
            required: course.completion.required_quizzes.contains(&q.id),
            state: if passed.contains(&q.id) {
                QuizState::Passed
            } else {
                QuizState::Pending
            },
        })
        .collect();
    let active_seconds: i64 = seconds.values().sum();
    let completed_at = completion::store::completion(conn, enrolment_id)?;
    let percent = if course.lessons.is_empty() {
        100
    } else {
        (done.len() * 100 / course.lessons.len()) as u32
    };
    Ok(ProgressView {
        enrolment_id: enrolment_id.to_owned(),
        status: enrolment.status,
        lessons,
        quizzes,
        active_seconds,
        percent,
        completed: completed_at.is_some(),
        completed_at,
        missing: if completed_at.is_some() {
            Vec::new()
        } else {
            missing_requirements(&course, &done, active_seconds, &passed)
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::current::AccountCache;
    use crate::stale::{peers::forget_here, Stale};

    /// (account, enrolment, session) of each recording check remembered.
    fn remembered(learning: &Learning) -> Vec<(String, String, String)> {
        let recording = learning.recording.lock().unwrap();
        let mut keys: Vec<_> = recording
            .iter()
            .map(|((a, e), r)| (a.clone(), e.clone(), r.session.clone()))
            .collect();
        keys.sort();
        keys
    }

    #[test]
    fn a_stale_account_enrolment_or_session_forgets_exactly_its_recording_checks() {
        let learning = Learning::default();
        for (account, enrolment, session) in [
            ("a1", "e1", "s1"),
            ("a1", "e2", "s2"),
            ("a2", "e3", "s1"),
            ("a3", "e4", "s3"),
            ("a4", "e5", "s4"),
        ] {
            learning.recording.lock().unwrap().insert(
                (account.into(), enrolment.into()),
                Recording {
                    at: std::time::Instant::now(),
                    version: "v1".into(),
                    session: session.into(),
                    lesson: "l1".into(),
                    lesson_seconds: 0,
                },
            );
        }
        let accounts = AccountCache::default();
        let left = |l: &Learning| -> Vec<String> {
            remembered(l).into_iter().map(|(_, e, _)| e).collect()
        };

        forget_here(Stale::Account("a1".into()), &accounts, &learning);
        assert_eq!(left(&learning), ["e3", "e4", "e5"]);
        forget_here(Stale::Session("s1".into()), &accounts, &learning);
        assert_eq!(left(&learning), ["e4", "e5"]);
        forget_here(Stale::Enrolment("e4".into()), &accounts, &learning);
        assert_eq!(left(&learning), ["e5"]);
    }
}
