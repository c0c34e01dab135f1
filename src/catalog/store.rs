//! Course versions in the database: import (idempotent, content-addressed) and reads.

use chrono::{NaiveDateTime, Utc};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use serde::Serialize;

use super::load::LoadedCourse;
use super::model::Course;
use crate::catalog::model::CourseKind;
use crate::db::schema::{course_lessons, course_versions, courses};
use crate::db::DbConn;

/// Serialises concurrent imports of several app instances on one PostgreSQL database.
const PG_IMPORT_LOCK: i64 = 0x5156_5443_4341_5441;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum ImportOutcome {
    /// A new version was stored and made current.
    Imported { version_id: String },
    /// This content was already stored; it is (again) the current version.
    Unchanged { version_id: String },
    /// The files are broken (`problems`, each `path:line: message`): the last good version
    /// stays current and is served.
    KeptLastGood {
        version_id: String,
        problems: Vec<String>,
    },
}

impl ImportOutcome {
    pub fn version_id(&self) -> &str {
        match self {
            Self::Imported { version_id }
            | Self::Unchanged { version_id }
            | Self::KeptLastGood { version_id, .. } => version_id,
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = course_versions)]
pub struct VersionRow {
    pub id: String,
    pub course_slug: String,
    pub content_hash: String,
    pub version_label: String,
    pub title: String,
    pub kind: CourseKind,
    pub duration_minutes: i32,
    pub lesson_count: i32,
    #[serde(skip)]
    pub content: String,
    pub imported_at: NaiveDateTime,
}

impl VersionRow {
    pub fn course(&self) -> anyhow::Result<Course> {
        Ok(serde_json::from_str(&self.content)?)
    }
}

/// Stores `loaded` as a version of its course unless that exact content is already
/// stored, and makes it the current version. One transaction per course.
pub fn import(conn: &mut DbConn, loaded: &LoadedCourse) -> QueryResult<ImportOutcome> {
    let course = &loaded.course;
    conn.write(|conn| {
        if let DbConn::Pg(pg) = conn {
            pg.batch_execute(&format!("SELECT pg_advisory_xact_lock({PG_IMPORT_LOCK})"))?;
        }
        let now = Utc::now().naive_utc();
        let known: bool = diesel::select(diesel::dsl::exists(courses::table.find(&course.slug)))
            .get_result(conn)?;
        if !known {
            diesel::insert_into(courses::table)
                .values((
                    courses::slug.eq(&course.slug),
                    courses::current_version_id.eq(None::<String>),
                    courses::created_at.eq(now),
                    courses::updated_at.eq(now),
                ))
                .execute(conn)?;
        }
        let existing: Option<String> = course_versions::table
            .filter(course_versions::course_slug.eq(&course.slug))
            .filter(course_versions::content_hash.eq(&loaded.content_hash))
            .select(course_versions::id)
            .first(conn)
            .optional()?;
        let outcome = match existing {
            Some(version_id) => ImportOutcome::Unchanged { version_id },
            None => {
                let version_id = uuid::Uuid::new_v4().to_string();
                let content = serde_json::to_string(course).expect("a course serialises");
                diesel::insert_into(course_versions::table)
                    .values((
                        course_versions::id.eq(&version_id),
                        course_versions::course_slug.eq(&course.slug),
                        course_versions::content_hash.eq(&loaded.content_hash),
                        course_versions::version_label.eq(&course.version_label),
                        course_versions::title.eq(&course.title),
                        course_versions::kind.eq(course.kind),
                        course_versions::duration_minutes.eq(course.duration_minutes as i32),
                        course_versions::lesson_count.eq(course.lessons.len() as i32),
                        course_versions::content.eq(content),
                        course_versions::imported_at.eq(now),
                    ))
                    .execute(conn)?;
                for lesson in &course.lessons {
                    diesel::insert_into(course_lessons::table)
                        .values((
                            course_lessons::version_id.eq(&version_id),
                            course_lessons::lesson_id.eq(&lesson.id),
                            course_lessons::position.eq(lesson.position as i32),
                            course_lessons::unit_id.eq(&lesson.unit),
                            course_lessons::title.eq(&lesson.title),
                            course_lessons::minutes.eq(lesson.minutes as i32),
                            course_lessons::html.eq(&lesson.html),
                        ))
                        .execute(conn)?;
                }
                ImportOutcome::Imported { version_id }
            }
        };
        diesel::update(courses::table.find(&course.slug))
            .set((
                courses::current_version_id.eq(Some(outcome.version_id())),
                courses::updated_at.eq(now),
            ))
            .execute(conn)?;
        Ok(outcome)
    })
}

/// The current version of every course, by title.
pub fn catalogue(conn: &mut DbConn) -> QueryResult<Vec<VersionRow>> {
    courses::table
        .inner_join(
            course_versions::table
                .on(courses::current_version_id.eq(course_versions::id.nullable())),
        )
        .order(course_versions::title.asc())
        .select(VersionRow::as_select())
        .load(conn)
}

pub fn current_version(conn: &mut DbConn, slug: &str) -> QueryResult<VersionRow> {
    courses::table
        .inner_join(
            course_versions::table
                .on(courses::current_version_id.eq(course_versions::id.nullable())),
        )
        .filter(courses::slug.eq(slug))
        .select(VersionRow::as_select())
        .first(conn)
}

pub fn version(conn: &mut DbConn, id: &str) -> QueryResult<VersionRow> {
    course_versions::table
        .find(id)
        .select(VersionRow::as_select())
        .first(conn)
}

pub fn versions_of(conn: &mut DbConn, slug: &str) -> QueryResult<Vec<VersionRow>> {
    course_versions::table
        .filter(course_versions::course_slug.eq(slug))
        .order(course_versions::imported_at.asc())
        .select(VersionRow::as_select())
        .load(conn)
}

pub fn lesson_html(conn: &mut DbConn, version_id: &str, lesson_id: &str) -> QueryResult<String> {
    course_lessons::table
        .find((version_id, lesson_id))
        .select(course_lessons::html)
        .first(conn)
}
