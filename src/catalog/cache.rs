//! Parsed course versions kept in memory: versions never change, so nothing ever expires.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::model::Course;
use super::store;
use crate::db::DbConn;

#[derive(Default)]
pub struct CourseCache {
    versions: Mutex<HashMap<String, Arc<Course>>>,
}

impl CourseCache {
    /// The version if it is already in memory.
    pub fn cached(&self, version_id: &str) -> Option<Arc<Course>> {
        self.versions
            .lock()
            .expect("not poisoned")
            .get(version_id)
            .cloned()
    }

    pub fn get(&self, conn: &mut DbConn, version_id: &str) -> anyhow::Result<Arc<Course>> {
        if let Some(course) = self.versions.lock().expect("not poisoned").get(version_id) {
            return Ok(course.clone());
        }
        let course = Arc::new(store::version(conn, version_id)?.course()?);
        self.versions
            .lock()
            .expect("not poisoned")
            .insert(version_id.to_owned(), course.clone());
        Ok(course)
    }
}
