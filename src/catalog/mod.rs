//! The course catalogue: course folders (`courses/<slug>/`) checked and turned into
//! immutable, content-addressed versions, and the public catalogue API.

pub mod cache;
pub mod files;
pub mod load;
pub mod markdown;
pub mod model;
pub mod routes;
pub mod store;

pub use load::{load_course, load_dir, Diagnostic, LoadedCourse};

/// Checks and imports every course under `dir` (at `serve` start and by
/// `qvt-campus courses import`). A missing folder is not an error: the platform then
/// serves an empty catalogue. A broken course is: nothing is imported and every
/// problem is listed.
pub fn import_dir(
    pool: &crate::db::Pool,
    dir: &std::path::Path,
) -> anyhow::Result<Vec<(String, store::ImportOutcome)>> {
    if !dir.is_dir() {
        tracing::warn!(dir = %dir.display(), "no course folder: the catalogue is empty");
        return Ok(Vec::new());
    }
    let courses = load_dir(dir).map_err(|problems| {
        let listed: Vec<String> = problems.iter().map(ToString::to_string).collect();
        anyhow::anyhow!(
            "{} problem(s) in the courses:\n{}",
            problems.len(),
            listed.join("\n")
        )
    })?;
    let mut conn = pool.get()?;
    let mut outcomes = Vec::new();
    for loaded in &courses {
        let outcome = store::import(&mut conn, loaded)?;
        tracing::info!(course = %loaded.course.slug, outcome = ?outcome, "course checked");
        outcomes.push((loaded.course.slug.clone(), outcome));
    }
    Ok(outcomes)
}
