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
/// serves an empty catalogue. A broken course keeps its last good version (its problems
/// logged and returned in its outcome); a broken course with no good version is an error
/// listing every problem.
pub fn import_dir(
    pool: &crate::db::Pool,
    dir: &std::path::Path,
) -> anyhow::Result<Vec<(String, store::ImportOutcome)>> {
    if !dir.is_dir() {
        tracing::warn!(dir = %dir.display(), "no course folder: the catalogue is empty");
        return Ok(Vec::new());
    }
    let mut conn = pool.get()?;
    let mut outcomes = Vec::new();
    let mut fatal = Vec::new();
    for (folder, loaded) in load::load_each(dir) {
        let outcome = match loaded {
            Ok(loaded) => store::import(&mut conn, &loaded)?,
            // A broken course keeps its last good version, if it has one: one bad edit must
            // not take the platform down. Without one, there is nothing to serve.
            Err(problems) => {
                let problems: Vec<String> = problems.iter().map(ToString::to_string).collect();
                match diesel::OptionalExtension::optional(store::current_version(
                    &mut conn, &folder,
                ))? {
                    Some(version) => {
                        for problem in &problems {
                            tracing::error!(course = %folder, %problem, "course file broken: the last good version is served");
                        }
                        store::ImportOutcome::KeptLastGood {
                            version_id: version.id,
                            problems,
                        }
                    }
                    None => {
                        fatal.extend(problems);
                        continue;
                    }
                }
            }
        };
        tracing::info!(course = %folder, outcome = ?outcome, "course checked");
        outcomes.push((folder, outcome));
    }
    if !fatal.is_empty() {
        anyhow::bail!(
            "{} problem(s) in courses that have no good version to serve:\n{}",
            fatal.len(),
            fatal.join("\n")
        );
    }
    Ok(outcomes)
}
