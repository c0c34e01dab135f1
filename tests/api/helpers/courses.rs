//! Scratch copies of the repository's courses, to change for a test, and their lessons.

use std::path::{Path, PathBuf};

use serde_json::Value;
use tempfile::TempDir;

use super::{real_courses, TestApp};

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

/// A scratch copy of the real course `slug`: the folder that holds it (to serve as the
/// courses folder), and the course's own folder.
pub fn copy_course(slug: &str) -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let course = dir.path().join(slug);
    copy_dir(&real_courses().join(slug), &course);
    (dir, course)
}

/// Scratch copies of the real courses `slugs`, side by side in one courses folder.
pub fn copy_courses(slugs: &[&str]) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    for slug in slugs {
        copy_dir(&real_courses().join(slug), &dir.path().join(slug));
    }
    dir
}

/// Replaces the last section of the course's `course.toml`, from `header` on, by `header`
/// followed by `body`.
///
/// New `[completion]` rules usually ask less than the real ones: the course then declares
/// the hours they back (its `min_minutes`, or next to none), as `courses check` requires.
pub fn replace_last_section(course: &Path, header: &str, body: &str) {
    let file = course.join("course.toml");
    let mut text = std::fs::read_to_string(&file).unwrap();
    if header == "[completion]" {
        let minutes = body
            .lines()
            .find_map(|l| l.strip_prefix("min_minutes = "))
            .map_or(0.06, |m| m.trim().parse::<f64>().unwrap());
        let start = text.find("duration_hours = ").unwrap();
        let end = start + text[start..].find('\n').unwrap();
        text.replace_range(start..end, &format!("duration_hours = {}", minutes / 60.0));
    }
    let kept = &text[..text.find(header).unwrap()];
    std::fs::write(&file, format!("{kept}{header}\n{body}\n")).unwrap();
}

/// A scratch copy of the real course `slug` with its `[completion]` rules replaced by
/// `completion`.
pub fn course_with_completion(slug: &str, completion: &str) -> TempDir {
    let (dir, course) = copy_course(slug);
    replace_last_section(&course, "[completion]", completion);
    dir
}

/// The ids of the lessons of `course`, in order, from its public outline.
pub async fn lesson_ids(app: &TestApp, course: &str) -> Vec<String> {
    let outline: Value = app
        .get(&format!("/api/v1/courses/{course}"))
        .await
        .json()
        .await
        .unwrap();
    outline["lessons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap().to_owned())
        .collect()
}
