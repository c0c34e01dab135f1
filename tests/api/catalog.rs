//! The course catalogue: the checker on the real courses and on broken copies, versioned
//! import, and an API that never reveals answers.

use std::path::{Path, PathBuf};

use diesel::prelude::*;
use qvt_campus::catalog::{self, store, Diagnostic};
use qvt_campus::db::schema::course_versions;
use serde_json::Value;

use crate::helpers::{copy_course, problem, real_courses, spawn_app_with};

const SAMPLE: &str = "dpc-tensions-conflits";

fn edit(path: &Path, change: impl FnOnce(String) -> String) {
    let text = std::fs::read_to_string(path).unwrap();
    std::fs::write(path, change(text)).unwrap();
}

/// 1-based line of the first line of `path` containing `needle`.
fn line_with(path: &Path, needle: &str) -> usize {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .position(|l| l.contains(needle))
        .expect("needle present")
        + 1
}

fn problems_of(course: &Path) -> Vec<Diagnostic> {
    catalog::load_course(course).expect_err("the broken copy is refused")
}

fn assert_reported(problems: &[Diagnostic], path: &Path, line: usize, words: &str) {
    assert!(
        problems
            .iter()
            .any(|p| p.path == path && p.line == line && p.message.contains(words)),
        "expected {}:{line}: …{words}… in {problems:#?}",
        path.display()
    );
}

#[test]
fn the_real_courses_pass_the_checker() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_qvt-campus"))
        .args(["courses", "check"])
        .arg(real_courses())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}{}",
        stdout,
        String::from_utf8_lossy(&output.stderr)
    );
    for slug in [
        "dpc-epuisement-professionnel",
        "dpc-securite-exercice",
        "dpc-tensions-conflits",
        "du-soigner-les-soignants",
        "qvt-formation-initiale",
    ] {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(&format!("{slug}: ok"))),
            "{slug} in {stdout}"
        );
    }
}

#[test]
fn the_real_courses_meet_the_programme_minimums() {
    for loaded in catalog::load_dir(&real_courses()).unwrap() {
        let course = &loaded.course;
        assert!(course.lessons.len() >= 6, "{}", course.slug);
        assert!(course.bank.question_count() >= 20, "{}", course.slug);
        assert!(
            course.lessons.iter().all(|l| !l.html.contains("<script")),
            "{}",
            course.slug
        );
    }
}

/// `qvt-campus courses check [--strict] DIR`, as an author or CI runs it.
fn check_command(dir: &std::path::Path, strict: bool) -> std::process::Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_qvt-campus"));
    command.args(["courses", "check"]);
    if strict {
        command.arg("--strict");
    }
    command.arg(dir).output().expect("the binary runs")
}

#[test]
fn the_shipped_courses_pass_the_strict_check_and_their_dpc_and_du_rules() {
    let strict = check_command(&real_courses(), true);
    let said = String::from_utf8_lossy(&strict.stderr);
    assert!(strict.status.success() && said.is_empty(), "{said}");
    assert_eq!(
        String::from_utf8_lossy(&strict.stdout)
            .matches(": ok (")
            .count(),
        5
    );

    for loaded in catalog::load_dir(&real_courses()).unwrap() {
        let c = &loaded.course;
        // Every lesson dated and sourced; the hours backed by activities.
        assert!(
            c.lessons
                .iter()
                .all(|l| l.reviewed_on.is_some() && !l.references.is_empty()),
            "{}",
            c.slug
        );
        if let Some(dpc) = &c.dpc {
            assert!(
                c.lessons.iter().map(|l| l.activities.len()).sum::<usize>() >= c.lessons.len(),
                "{}",
                c.slug
            );
            assert!(
                !dpc.designers.is_empty() && dpc.designers.iter().all(|d| !d.interests.is_empty())
            );
            assert!(!dpc
                .target_professions
                .iter()
                .any(|p| p == "etudiant" || p == "autre"));
        }
        if c.kind == qvt_campus::catalog::model::CourseKind::Du {
            assert!(c.lessons.len() >= 12, "{} lessons", c.lessons.len());
            let graded = c
                .units
                .iter()
                .filter_map(|u| u.assessment.as_ref())
                .filter(|a| {
                    c.quizzes.iter().any(|q| {
                        &&q.id == a
                            && q.role == qvt_campus::catalog::model::QuizRole::Graded
                            && q.max_attempts.is_some()
                    })
                })
                .count();
            assert_eq!(graded, 4, "four graded unit assessments");
            let thesis = c.thesis.as_ref().unwrap();
            assert_eq!(thesis.criteria.iter().map(|k| k.weight).sum::<u32>(), 100);
        }
    }
}

#[test]
fn strict_refuses_what_a_plain_check_only_warns_about() {
    // A true/false statement keyed false that « uniquement » gives away.
    let (dir, course) = copy_course(SAMPLE);
    let bank = course.join("quizzes/banque.toml");
    edit(&bank, |t| {
        format!("{t}\n[[questions]]\nid = \"indice\"\ntype = \"true_false\"\nobjective = \"o1\"\n\
                 prompt = \"Le stress concerne uniquement les internes.\"\nfeedback = \"Non.\"\nanswer = false\n")
    });
    let plain = check_command(dir.path(), false);
    let said = String::from_utf8_lossy(&plain.stderr).into_owned();
    assert!(plain.status.success(), "{said}");
    assert!(
        said.contains("banque.toml:")
            && said.contains("avertissement")
            && said.contains("« uniquement »"),
        "{said}"
    );
    let strict = check_command(dir.path(), true);
    assert!(!strict.status.success());
    assert!(String::from_utf8_lossy(&strict.stderr).contains("refusés avec --strict"));
}

#[test]
fn an_unknown_key_is_reported_with_its_line() {
    let (_dir, course) = copy_course(SAMPLE);
    let file = course.join("course.toml");
    edit(&file, |t| {
        t.replacen("summary =", "colour = \"bleu\"\nsummary =", 1)
    });
    assert_reported(
        &problems_of(&course),
        &file,
        line_with(&file, "colour"),
        "colour",
    );
}

#[test]
fn a_correct_answer_missing_from_the_choices_is_reported() {
    let (_dir, course) = copy_course(SAMPLE);
    let bank = course.join("quizzes/banque.toml");
    let text = std::fs::read_to_string(&bank).unwrap();
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("correct = \""))
        .unwrap()
        .to_owned();
    edit(&bank, |t| t.replacen(&line, "correct = \"zz\"", 1));
    assert_reported(
        &problems_of(&course),
        &bank,
        line_with(&bank, "correct = \"zz\""),
        "zz",
    );
}

#[test]
fn a_duplicate_id_is_reported_on_the_second_one() {
    let (_dir, course) = copy_course(SAMPLE);
    let bank = course.join("quizzes/banque.toml");
    let text = std::fs::read_to_string(&bank).unwrap();
    let mut ids = text.lines().filter(|l| l.starts_with("id = \""));
    let (first, second) = (
        ids.next().unwrap().to_owned(),
        ids.next().unwrap().to_owned(),
    );
    edit(&bank, |t| t.replacen(&second, &first, 1));
    let line = std::fs::read_to_string(&bank)
        .unwrap()
        .lines()
        .enumerate()
        .filter(|(_, l)| *l == first)
        .nth(1)
        .unwrap()
        .0
        + 1;
    assert_reported(&problems_of(&course), &bank, line, "en double");
}

#[test]
fn a_dangling_objective_is_reported() {
    let (_dir, course) = copy_course(SAMPLE);
    let quiz = course.join("quizzes/post-test.toml");
    edit(&quiz, |t| {
        t.replacen("objective = \"o1\"", "objective = \"o99\"", 1)
    });
    assert_reported(&problems_of(&course), &quiz, line_with(&quiz, "o99"), "o99");
}

#[test]
fn a_pass_mark_out_of_range_is_reported() {
    let (_dir, course) = copy_course(SAMPLE);
    let quiz = course.join("quizzes/post-test.toml");
    let line = line_with(&quiz, "pass_mark");
    edit(&quiz, |t| {
        let old = t
            .lines()
            .find(|l| l.starts_with("pass_mark"))
            .unwrap()
            .to_owned();
        t.replacen(&old, "pass_mark = 150", 1)
    });
    assert_reported(&problems_of(&course), &quiz, line, "pass_mark");
}

#[test]
fn missing_lessons_are_reported() {
    let (_dir, course) = copy_course(SAMPLE);
    let mut lessons: Vec<PathBuf> = std::fs::read_dir(course.join("lessons"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    lessons.sort();
    for lesson in &lessons[5..] {
        std::fs::remove_file(lesson).unwrap();
    }
    let problems = problems_of(&course);
    assert!(
        problems
            .iter()
            .any(|p| p.path == course.join("lessons") && p.message.contains("au moins 6")),
        "{problems:#?}"
    );
}

#[test]
fn unsafe_markdown_is_reported_on_its_line() {
    let (_dir, course) = copy_course(SAMPLE);
    let mut lessons: Vec<PathBuf> = std::fs::read_dir(course.join("lessons"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    lessons.sort();
    let lesson = &lessons[0];
    edit(lesson, |t| {
        format!("{t}\n\n<script>alert('x')</script>\n\n[piège](javascript:alert(1))\n")
    });
    let problems = problems_of(&course);
    assert_reported(&problems, lesson, line_with(lesson, "<script>"), "HTML");
    assert_reported(
        &problems,
        lesson,
        line_with(lesson, "javascript:"),
        "javascript",
    );
}

#[tokio::test]
async fn the_catalogue_lists_the_five_programmes_and_import_is_idempotent() {
    // Arrange: serve imports the real courses.
    let app = spawn_app_with(|s| s.courses_dir = real_courses()).await;

    // Act
    let list: Vec<Value> = app.get("/api/v1/courses").await.json().await.unwrap();
    let again = catalog::import_dir(&app.pool, &real_courses()).unwrap();

    // Assert
    assert_eq!(list.len(), 5);
    let kinds: Vec<&str> = list.iter().map(|c| c["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "dpc").count(), 3);
    assert!(list
        .iter()
        .all(|c| c["lesson_count"].as_i64().unwrap() >= 6));
    assert!(again
        .iter()
        .all(|(_, outcome)| matches!(outcome, store::ImportOutcome::Unchanged { .. })));
    let versions: i64 = course_versions::table
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(versions, 5);
}

#[tokio::test]
async fn a_changed_lesson_makes_a_new_version_and_leaves_the_old_one_intact() {
    // Arrange
    let (dir, course) = copy_course(SAMPLE);
    let app = spawn_app_with(|s| s.courses_dir = dir.path().to_path_buf()).await;
    let before = store::current_version(&mut app.conn(), SAMPLE).unwrap();
    let mut lessons: Vec<PathBuf> = std::fs::read_dir(course.join("lessons"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    lessons.sort();
    let lesson_id = lessons[0]
        .file_stem()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    edit(&lessons[0], |t| {
        format!("{t}\n\nUn paragraphe ajouté par l'équipe pédagogique.\n")
    });

    // Act
    let outcomes = catalog::import_dir(&app.pool, dir.path()).unwrap();

    // Assert
    let after = store::current_version(&mut app.conn(), SAMPLE).unwrap();
    assert!(matches!(
        outcomes[0].1,
        store::ImportOutcome::Imported { .. }
    ));
    assert_ne!(before.id, after.id);
    assert_ne!(before.content_hash, after.content_hash);
    let old_html = store::lesson_html(&mut app.conn(), &before.id, &lesson_id).unwrap();
    let new_html = store::lesson_html(&mut app.conn(), &after.id, &lesson_id).unwrap();
    assert!(!old_html.contains("paragraphe ajouté"));
    assert!(new_html.contains("paragraphe ajouté"));
    assert_eq!(
        store::versions_of(&mut app.conn(), SAMPLE).unwrap().len(),
        2
    );
    let outline: Value = app
        .get(&format!("/api/v1/courses/{SAMPLE}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(outline["version_id"], after.id.as_str());
}

#[tokio::test]
async fn outlines_never_reveal_questions_or_answers() {
    let app = spawn_app_with(|s| s.courses_dir = real_courses()).await;
    for loaded in catalog::load_dir(&real_courses()).unwrap() {
        let course = loaded.course;
        let response = app.get(&format!("/api/v1/courses/{}", course.slug)).await;
        assert_eq!(response.status().as_u16(), 200);
        let outline: Value = response.json().await.unwrap();
        let text = outline.to_string();

        assert_eq!(
            outline["lessons"].as_array().unwrap().len(),
            course.lessons.len()
        );
        assert_eq!(
            outline["quizzes"].as_array().unwrap().len(),
            course.quizzes.len()
        );
        for key in [
            "\"correct\"",
            "\"answer\"",
            "\"feedback\"",
            "\"choices\"",
            "\"pairs\"",
            "\"tolerance\"",
            "\"questions\"",
        ] {
            assert!(!text.contains(key), "{} outline leaks {key}", course.slug);
        }
        for question in &course.bank.questions {
            assert!(
                !text.contains(&question.feedback),
                "{}: feedback of {} leaked",
                course.slug,
                question.id
            );
        }
    }
    problem(app.get("/api/v1/courses/inexistant").await, 404).await;
}

#[tokio::test]
async fn a_broken_course_file_keeps_its_last_good_version_online_and_tells_the_platform_admins() {
    // Arrange: the course imported, then its course.toml broken by an edit.
    let (dir, course) = copy_course(SAMPLE);
    let app = spawn_app_with(|s| s.courses_dir = dir.path().to_path_buf()).await;
    let good = store::current_version(&mut app.conn(), SAMPLE).unwrap();
    edit(&course.join("course.toml"), |t| {
        format!("{t}\n[[[ pas du TOML\n")
    });

    // Act: the platform restarts on the broken file.
    let restarted = app.another_instance().await;

    // Assert: the last good version is served, and platform admins are told where it broke.
    assert_eq!(
        store::current_version(&mut app.conn(), SAMPLE).unwrap().id,
        good.id
    );
    let outline = restarted.get(&format!("/api/v1/courses/{SAMPLE}")).await;
    assert_eq!(outline.status().as_u16(), 200);
    let admin = restarted.platform_admin().await;
    let broken: Vec<Value> = restarted
        .get_json(&admin.token, "/api/v1/courses/problems")
        .await;
    assert_eq!(broken.len(), 1, "{broken:?}");
    assert_eq!(broken[0]["slug"], SAMPLE);
    let first = broken[0]["problems"][0].as_str().unwrap();
    assert!(first.contains("course.toml:"), "{first}");
    let learner = restarted.learner("curieuse@exemple.fr").await;
    problem(
        restarted
            .get_as(&learner.token, "/api/v1/courses/problems")
            .await,
        403,
    )
    .await;

    // A course that never had a good version cannot be served: the start fails.
    let (fresh_dir, fresh) = copy_course("dpc-epuisement-professionnel");
    edit(&fresh.join("course.toml"), |t| {
        format!("{t}\n[[[ pas du TOML\n")
    });
    let refused = qvt_campus::catalog::import_dir(&app.pool, fresh_dir.path());
    assert!(refused.is_err());
}
