//! Persistence of the diploma: cohorts, attendance, grades, theses, decisions, records and
//! the gap-free record counters.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::model::UnitAt;
use crate::db::schema::{
    du_attendance, du_cohorts, du_decisions, du_record_counters, du_records, du_theses,
    du_unit_grades, quiz_attempts,
};
use crate::db::DbConn;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = du_cohorts, treat_none_as_null = true)]
pub struct Cohort {
    pub session_id: String,
    pub partner_organisation_id: Option<String>,
    pub responsibles: String,
    pub minutes_closed_at: Option<NaiveDateTime>,
    pub minutes_closed_by: Option<String>,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = du_attendance)]
pub struct Attendance {
    pub enrolment_id: String,
    pub unit_id: String,
    pub day: NaiveDate,
    pub present: bool,
    pub recorded_by: String,
    pub recorded_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = du_unit_grades)]
pub struct UnitGrade {
    pub enrolment_id: String,
    pub unit_id: String,
    pub grade_hundredths: i32,
    pub graded_by: String,
    pub graded_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = du_theses, treat_none_as_null = true)]
pub struct Thesis {
    pub enrolment_id: String,
    pub title: String,
    pub supervisor: String,
    pub grade_hundredths: Option<i32>,
    pub defended_on: Option<NaiveDate>,
    pub updated_by: String,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = du_decisions)]
pub struct DecisionRow {
    pub id: String,
    pub enrolment_id: String,
    pub decision: String,
    pub mention: Option<String>,
    pub decided_on: NaiveDate,
    pub jury: String,
    pub reason: Option<String>,
    pub recorded_by: String,
    pub recorded_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = du_records)]
pub struct Record {
    pub number: String,
    pub enrolment_id: String,
    pub decision_id: String,
    pub certificate_id: String,
    pub organisation_id: String,
    pub year: i32,
    pub sequence: i32,
    pub issued_at: NaiveDateTime,
}

pub fn cohort(conn: &mut DbConn, session_id: &str) -> QueryResult<Option<Cohort>> {
    du_cohorts::table
        .find(session_id)
        .select(Cohort::as_select())
        .first(conn)
        .optional()
}

pub fn save_cohort(conn: &mut DbConn, cohort: &Cohort) -> QueryResult<()> {
    let updated = diesel::update(du_cohorts::table.find(&cohort.session_id))
        .set(cohort)
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(du_cohorts::table)
            .values(cohort)
            .execute(conn)?;
    }
    Ok(())
}

pub fn attendance_of(conn: &mut DbConn, enrolment_id: &str) -> QueryResult<Vec<Attendance>> {
    du_attendance::table
        .filter(du_attendance::enrolment_id.eq(enrolment_id))
        .order((du_attendance::unit_id.asc(), du_attendance::day.asc()))
        .select(Attendance::as_select())
        .load(conn)
}

/// Replaces one unit's recorded seminar days.
pub fn replace_attendance(
    conn: &mut DbConn,
    unit: UnitAt<'_>,
    days: &[Attendance],
) -> QueryResult<()> {
    diesel::delete(
        du_attendance::table
            .filter(du_attendance::enrolment_id.eq(unit.enrolment_id))
            .filter(du_attendance::unit_id.eq(unit.unit_id)),
    )
    .execute(conn)?;
    crate::db::batch_insert!(conn, du_attendance::table, days);
    Ok(())
}

pub fn grades_of(conn: &mut DbConn, enrolment_id: &str) -> QueryResult<Vec<UnitGrade>> {
    du_unit_grades::table
        .filter(du_unit_grades::enrolment_id.eq(enrolment_id))
        .select(UnitGrade::as_select())
        .load(conn)
}

/// Sets a unit grade; returns the previous one (for the audit).
pub fn set_grade(conn: &mut DbConn, grade: &UnitGrade) -> QueryResult<Option<i32>> {
    let key = du_unit_grades::table.find((&grade.enrolment_id, &grade.unit_id));
    let old: Option<i32> = key
        .select(du_unit_grades::grade_hundredths)
        .first(conn)
        .optional()?;
    if old.is_some() {
        diesel::update(key)
            .set((
                du_unit_grades::grade_hundredths.eq(grade.grade_hundredths),
                du_unit_grades::graded_by.eq(&grade.graded_by),
                du_unit_grades::graded_at.eq(grade.graded_at),
            ))
            .execute(conn)?;
    } else {
        diesel::insert_into(du_unit_grades::table)
            .values(grade)
            .execute(conn)?;
    }
    Ok(old)
}

pub fn thesis_of(conn: &mut DbConn, enrolment_id: &str) -> QueryResult<Option<Thesis>> {
    du_theses::table
        .find(enrolment_id)
        .select(Thesis::as_select())
        .first(conn)
        .optional()
}

pub fn save_thesis(conn: &mut DbConn, thesis: &Thesis) -> QueryResult<()> {
    let updated = diesel::update(du_theses::table.find(&thesis.enrolment_id))
        .set(thesis)
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(du_theses::table)
            .values(thesis)
            .execute(conn)?;
    }
    Ok(())
}

pub fn insert_decision(conn: &mut DbConn, decision: &DecisionRow) -> QueryResult<()> {
    diesel::insert_into(du_decisions::table)
        .values(decision)
        .execute(conn)
        .map(drop)
}

/// Every decision of an enrolment, oldest first; the last is in force.
pub fn decisions_of(conn: &mut DbConn, enrolment_id: &str) -> QueryResult<Vec<DecisionRow>> {
    du_decisions::table
        .filter(du_decisions::enrolment_id.eq(enrolment_id))
        .order((du_decisions::recorded_at.asc(), du_decisions::id.asc()))
        .select(DecisionRow::as_select())
        .load(conn)
}

pub fn records_of(conn: &mut DbConn, enrolment_id: &str) -> QueryResult<Vec<Record>> {
    du_records::table
        .filter(du_records::enrolment_id.eq(enrolment_id))
        .order(du_records::issued_at.asc())
        .select(Record::as_select())
        .load(conn)
}

pub fn insert_record(conn: &mut DbConn, record: &Record) -> QueryResult<()> {
    diesel::insert_into(du_records::table)
        .values(record)
        .execute(conn)
        .map(drop)
}

/// The next record sequence of a university for a year, inside the caller's transaction:
/// the counter row stays locked until it commits, and a rollback gives the number back,
/// so numbers have neither gaps nor duplicates.
pub fn next_sequence(conn: &mut DbConn, organisation_id: &str, year: i32) -> QueryResult<i32> {
    let key = du_record_counters::table.find((organisation_id, year));
    loop {
        let bumped = diesel::update(key)
            .set(du_record_counters::last_sequence.eq(du_record_counters::last_sequence + 1))
            .execute(conn)?;
        if bumped == 1 {
            return key.select(du_record_counters::last_sequence).first(conn);
        }
        // First record of the year: two issuers may race to create the row; the loser's
        // savepoint rolls back and it bumps the winner's row instead.
        let created = conn.write(|c| {
            diesel::insert_into(du_record_counters::table)
                .values((
                    du_record_counters::organisation_id.eq(organisation_id),
                    du_record_counters::year.eq(year),
                    du_record_counters::last_sequence.eq(1),
                ))
                .execute(c)
        });
        match created {
            Ok(_) => return Ok(1),
            Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            )) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// The best submitted score (percent) of an enrolment at each quiz: what a DU unit's
/// online assessment contributes to its grade.
/// Attempts submitted after `until` (the jury's closed minutes) do not count: what the jury
/// decided on stays what the records state.
pub fn best_percents(
    conn: &mut DbConn,
    enrolment_id: &str,
    until: Option<NaiveDateTime>,
) -> QueryResult<std::collections::BTreeMap<String, f64>> {
    let mut query = quiz_attempts::table
        .filter(quiz_attempts::enrolment_id.eq(enrolment_id))
        .filter(quiz_attempts::submitted_at.is_not_null())
        .select((quiz_attempts::quiz_id, quiz_attempts::percent))
        .into_boxed();
    if let Some(until) = until {
        query = query.filter(quiz_attempts::submitted_at.le(until));
    }
    let rows: Vec<(String, Option<f64>)> = query.load(conn)?;
    let mut best = std::collections::BTreeMap::new();
    for (quiz, percent) in rows {
        if let Some(p) = percent {
            let entry = best.entry(quiz).or_insert(p);
            if p > *entry {
                *entry = p;
            }
        }
    }
    Ok(best)
}

/// When the jury's minutes of the enrolment's cohort were closed, if they were.
pub fn minutes_closed_at_of_enrolment(
    conn: &mut DbConn,
    enrolment_id: &str,
) -> QueryResult<Option<NaiveDateTime>> {
    use crate::db::schema::enrolments;
    let session: String = enrolments::table
        .find(enrolment_id)
        .select(enrolments::session_id)
        .first(conn)?;
    Ok(du_cohorts::table
        .find(session)
        .select(du_cohorts::minutes_closed_at)
        .first::<Option<NaiveDateTime>>(conn)
        .optional()?
        .flatten())
}
