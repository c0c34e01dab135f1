//! Persistence of progress: lessons viewed and done, time intervals.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{NaiveDateTime, SubsecRound};
use diesel::prelude::*;

use super::clock::{union_credits, Interval};
use crate::db::schema::{accounts, enrolments, lesson_progress, time_intervals};
use crate::db::{locked, native, DbConn};
use crate::learning::LessonAt;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = lesson_progress)]
pub struct LessonProgress {
    pub enrolment_id: String,
    pub lesson_id: String,
    pub first_viewed_at: NaiveDateTime,
    pub completed_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = time_intervals)]
pub struct IntervalRow {
    pub id: String,
    pub enrolment_id: String,
    pub lesson_id: String,
    pub started_at: NaiveDateTime,
    pub ended_at: NaiveDateTime,
    pub active_seconds: i32,
}

pub fn progress_of(conn: &mut DbConn, enrolment_id: &str) -> QueryResult<Vec<LessonProgress>> {
    native!(conn, |c| lesson_progress::table
        .filter(lesson_progress::enrolment_id.eq(enrolment_id))
        .select(LessonProgress::as_select())
        .load(c))
}

/// Records a first view; later views change nothing. One statement: two first views at
/// once (two tabs) cannot both insert, as a check then an insert could on PostgreSQL.
pub fn mark_viewed(conn: &mut DbConn, lesson: LessonAt<'_>, at: NaiveDateTime) -> QueryResult<()> {
    let LessonAt {
        enrolment_id,
        lesson_id,
    } = lesson;
    let row = (
        lesson_progress::enrolment_id.eq(enrolment_id),
        lesson_progress::lesson_id.eq(lesson_id),
        lesson_progress::first_viewed_at.eq(at),
        lesson_progress::completed_at.eq(None::<NaiveDateTime>),
    );
    native!(conn, |c| diesel::insert_into(lesson_progress::table)
        .values(row)
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(())
}

/// Marks a viewed lesson done (once; the first completion time stays).
pub fn mark_completed(
    conn: &mut DbConn,
    lesson: LessonAt<'_>,
    at: NaiveDateTime,
) -> QueryResult<()> {
    let update = diesel::update(
        lesson_progress::table
            .find((lesson.enrolment_id, lesson.lesson_id))
            .filter(lesson_progress::completed_at.is_null()),
    )
    .set(lesson_progress::completed_at.eq(Some(at)));
    native!(conn, |c| update.execute(c)).map(drop)
}

/// Writes intervals: new ones inserted, growing ones updated (the id is stable).
pub fn upsert_intervals(conn: &mut DbConn, batch: &[Interval]) -> QueryResult<()> {
    for i in batch {
        let row = (
            time_intervals::id.eq(&i.id),
            time_intervals::enrolment_id.eq(&i.enrolment_id),
            time_intervals::lesson_id.eq(&i.lesson_id),
            time_intervals::started_at.eq(i.started_at),
            time_intervals::ended_at.eq(i.ended_at),
            time_intervals::active_seconds.eq(i.active_seconds as i32),
        );
        let update = (
            time_intervals::ended_at.eq(i.ended_at),
            time_intervals::active_seconds.eq(i.active_seconds as i32),
        );
        native!(conn, |c| diesel::insert_into(time_intervals::table)
            .values(row)
            .on_conflict(time_intervals::id)
            .do_update()
            .set(update)
            .execute(c))?;
    }
    Ok(())
}

/// Locks the accounts of these enrolments, in id order, before any enrolment row: every
/// flush does, so two instances writing time of one account (two courses, two tabs) take
/// turns, each seeing the other's intervals, and never deadlock.
pub fn lock_accounts_of(conn: &mut DbConn, enrolment_ids: &[&str]) -> QueryResult<()> {
    let mut owners: BTreeSet<String> = BTreeSet::new();
    for chunk in enrolment_ids.chunks(LOCK_CHUNK) {
        owners.extend(native!(conn, |c| enrolments::table
            .filter(enrolments::id.eq_any(chunk))
            .select(enrolments::account_id)
            .load::<String>(c))?);
    }
    let owners: Vec<String> = owners.into_iter().collect();
    for chunk in owners.chunks(LOCK_CHUNK) {
        let query = accounts::table
            .filter(accounts::id.eq_any(chunk))
            .order(accounts::id.asc())
            .select(accounts::id);
        locked!(conn, query, |q, c| q.load::<String>(c))?;
    }
    Ok(())
}

/// Ids bound per query: under every database's limit on parameters.
const LOCK_CHUNK: usize = 500;

/// Re-credits each account's intervals from its `since` on, across all its enrolments, so
/// that overlapping ones (recorded by different instances, or for two courses at once)
/// count their union once: two reads for all of them. Call with the accounts locked
/// ([`lock_accounts_of`]).
pub fn reconcile_overlaps(
    conn: &mut DbConn,
    since: &BTreeMap<&str, NaiveDateTime>,
) -> QueryResult<()> {
    // Compared with stored times, which PostgreSQL keeps to the microsecond.
    let since: BTreeMap<&str, NaiveDateTime> = since
        .iter()
        .map(|(a, at)| (*a, at.trunc_subsecs(6)))
        .collect();
    let Some(earliest) = since.values().min().copied() else {
        return Ok(());
    };
    let owners: HashMap<String, String> = native!(conn, |c| enrolments::table
        .filter(enrolments::account_id.eq_any(since.keys()))
        .select((enrolments::id, enrolments::account_id))
        .load::<(String, String)>(c))?
    .into_iter()
    .collect();
    let rows: Vec<IntervalRow> = native!(conn, |c| time_intervals::table
        .filter(time_intervals::enrolment_id.eq_any(owners.keys()))
        .filter(time_intervals::ended_at.gt(earliest))
        .order((time_intervals::started_at.asc(), time_intervals::id.asc()))
        .select(IntervalRow::as_select())
        .load(c))?;
    let mut windows: BTreeMap<&str, Vec<Interval>> = BTreeMap::new();
    for r in &rows {
        let Some((account, from)) = owners
            .get(&r.enrolment_id)
            .and_then(|a| since.get_key_value(a.as_str()))
        else {
            continue;
        };
        if r.ended_at > *from {
            windows.entry(account).or_default().push(Interval {
                id: r.id.clone(),
                enrolment_id: r.enrolment_id.clone(),
                lesson_id: r.lesson_id.clone(),
                started_at: r.started_at,
                ended_at: r.ended_at,
                active_seconds: i64::from(r.active_seconds),
            });
        }
    }
    for (account, window) in &windows {
        for (index, credit) in union_credits(window, since[account]) {
            let update = diesel::update(time_intervals::table.find(&window[index].id))
                .set(time_intervals::active_seconds.eq(credit as i32));
            native!(conn, |c| update.execute(c))?;
        }
    }
    Ok(())
}

/// The time credited to one lesson so far (as written).
pub fn seconds_of_lesson(conn: &mut DbConn, lesson: LessonAt<'_>) -> QueryResult<i64> {
    let total: Option<i64> = native!(conn, |c| time_intervals::table
        .filter(time_intervals::enrolment_id.eq(lesson.enrolment_id))
        .filter(time_intervals::lesson_id.eq(lesson.lesson_id))
        .select(diesel::dsl::sum(time_intervals::active_seconds))
        .first(c))?;
    Ok(total.unwrap_or(0))
}

/// Where the enrolment's stored time ends: the lesson and the end of its latest interval.
pub fn last_stretch(
    conn: &mut DbConn,
    enrolment_id: &str,
) -> QueryResult<Option<(String, NaiveDateTime)>> {
    native!(conn, |c| time_intervals::table
        .filter(time_intervals::enrolment_id.eq(enrolment_id))
        .order(time_intervals::ended_at.desc())
        .select((time_intervals::lesson_id, time_intervals::ended_at))
        .first(c)
        .optional())
}

pub fn intervals_of(conn: &mut DbConn, enrolment_id: &str) -> QueryResult<Vec<IntervalRow>> {
    native!(conn, |c| time_intervals::table
        .filter(time_intervals::enrolment_id.eq(enrolment_id))
        .order(time_intervals::started_at.asc())
        .select(IntervalRow::as_select())
        .load(c))
}

/// Active seconds per lesson.
pub fn seconds_by_lesson(
    conn: &mut DbConn,
    enrolment_id: &str,
) -> QueryResult<HashMap<String, i64>> {
    let mut totals = HashMap::new();
    for row in intervals_of(conn, enrolment_id)? {
        *totals.entry(row.lesson_id).or_insert(0) += i64::from(row.active_seconds);
    }
    Ok(totals)
}
