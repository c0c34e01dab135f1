//! `quizzes/`: the bank (checked by `bank`), each quiz file (role, marks, limits, and what
//! it asks: draws per objective or a fixed list of bank items), and the quizzes the kind
//! of course requires (a graded quiz; for a DPC, matching pre- and post-tests).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;

use toml::Spanned;

use super::bank::check_bank;
use super::quality;
use super::report::{read, sorted_files, stem, whole, FileReport};
use super::Diagnostic;
use crate::catalog::files::{DrawFile, QuizFile};
use crate::catalog::model::{Bank, CourseKind, Draw, FeedbackPolicy, Quiz, QuizRole, Selection};

const BANK_FILE: &str = "banque.toml";

/// The bank and every quiz of `dir`. A bank that cannot be read counts as empty, so the
/// quizzes are still checked (and report what they cannot find).
pub(super) fn check_quizzes(
    dir: &Path,
    kind: Option<CourseKind>,
    objectives: &HashSet<String>,
    configuration: &BTreeMap<String, String>,
    problems: &mut Vec<Diagnostic>,
) -> (Bank, Vec<Quiz>) {
    let bank =
        check_bank(&dir.join(BANK_FILE), objectives, configuration, problems).unwrap_or_default();
    let mut quizzes = Vec::new();
    for path in sorted_files(dir, "toml") {
        if path.file_name().is_some_and(|n| n == BANK_FILE) {
            continue;
        }
        if let Some(quiz) = check_quiz(&path, &bank, objectives, problems) {
            quizzes.push(quiz);
        }
    }
    check_quiz_set(dir, kind, &quizzes, &bank, problems);
    (bank, quizzes)
}

/// One quiz file; its id is the file name.
fn check_quiz(
    path: &Path,
    bank: &Bank,
    objectives: &HashSet<String>,
    problems: &mut Vec<Diagnostic>,
) -> Option<Quiz> {
    let text = read(path, problems)?;
    let mut r = FileReport::new(path, &text, problems);
    let file: QuizFile = r.parse("quiz invalide")?;
    let (role, feedback) = check_settings(&mut r, &file);
    let pool = file.pool.clone();
    let repeat = RepeatLimit::of(&file, role);
    let selection = match (file.draw.is_empty(), file.items) {
        (false, None) => Selection::Draw(check_draws(
            &mut r,
            file.draw,
            bank,
            objectives,
            pool.as_deref(),
            repeat,
        )),
        (true, Some(items)) => Selection::Items(check_items(&mut r, items, bank)),
        _ => {
            r.at(
                0,
                "un quiz a soit des [[draw]], soit une liste items, pas les deux ni aucun",
            );
            return None;
        }
    };
    let quiz = Quiz {
        id: stem(path),
        title: file.title,
        role: role?,
        pass_mark: (*file.pass_mark.get_ref()).clamp(0, 100) as u8,
        time_limit_minutes: file.time_limit_minutes.map(Spanned::into_inner),
        max_attempts: file.max_attempts.map(Spanned::into_inner),
        selection,
        feedback: feedback?,
        shuffle_questions: file.shuffle_questions.unwrap_or(true),
        shuffle_choices: file.shuffle_choices.unwrap_or(true),
        pool,
        after_lessons: file.after_lessons,
        after_quizzes: file
            .after_quizzes
            .into_iter()
            .map(Spanned::into_inner)
            .collect(),
        improvement_attempts: file.improvement_attempts,
        max_repeat_percent: repeat.percent,
        shares_items_with: file
            .shares_items_with
            .into_iter()
            .map(Spanned::into_inner)
            .collect(),
    };
    warn_on_longest_keys(&mut r, &quiz, bank);
    Some(quiz)
}

/// Over 40 % of the single-choice items a quiz can draw keyed on their longest option.
fn warn_on_longest_keys(r: &mut FileReport<'_>, quiz: &Quiz, bank: &Bank) {
    let items: Vec<&str> = candidate_items(quiz, bank).into_iter().collect();
    let (longest, single) = quality::longest_keys(bank, &items);
    if quality::too_many_longest(longest.len(), single) {
        r.warn_at(
            0,
            format!(
                "la bonne réponse est l'option la plus longue dans {} questions à choix unique sur {single} que ce quiz peut tirer (au plus {} %) : {}",
                longest.len(),
                quality::LONGEST_KEY_MAX_PERCENT,
                longest.join(", ")
            ),
        );
    }
}

/// How much of a retake may repeat the previous attempt, and whether it is checked: only
/// for a graded quiz or a post-test that can be taken again.
#[derive(Clone, Copy)]
struct RepeatLimit {
    percent: u8,
    checked: bool,
}

impl RepeatLimit {
    fn of(file: &QuizFile, role: Option<QuizRole>) -> Self {
        Self {
            percent: file
                .max_repeat_percent
                .as_ref()
                .map_or(50, |p| (*p.get_ref()).min(100)),
            checked: matches!(role, Some(QuizRole::Graded | QuizRole::PostTest))
                && file.max_attempts.as_ref().is_none_or(|m| *m.get_ref() > 1),
        }
    }

    /// Items of a retake's draw of `count` from `available` that must repeat the previous
    /// attempt (draws take the least-seen items first), if more than allowed.
    fn excess(self, count: u32, available: usize) -> Option<usize> {
        let repeated = (2 * count as usize).saturating_sub(available);
        (self.checked && repeated * 100 > usize::from(self.percent) * count as usize)
            .then_some(repeated)
    }
}

/// Role, feedback policy, pass mark and limits. An unknown role or policy is `None`
/// (reported) so that the selection is still checked before the quiz is dropped.
fn check_settings(
    r: &mut FileReport<'_>,
    file: &QuizFile,
) -> (Option<QuizRole>, Option<FeedbackPolicy>) {
    let role = QuizRole::parse(file.role.get_ref());
    if role.is_none() {
        r.on(&file.role, "role : pre_test, post_test, graded ou practice");
    }
    let feedback = match (&file.feedback, role) {
        (None, Some(role)) => Some(FeedbackPolicy::default_for(role)),
        (None, None) => None,
        (Some(raw), _) => {
            let policy = FeedbackPolicy::parse(raw.get_ref());
            if policy.is_none() {
                r.on(
                    raw,
                    "feedback : after_submit, after_pass, after_close ou never",
                );
            }
            // The post-test measures what the lessons taught, not what the pre-test showed.
            if role == Some(QuizRole::PreTest) && policy.is_some_and(|p| p != FeedbackPolicy::Never)
            {
                r.on(
                    raw,
                    "un pré-test ne montre jamais les réponses : feedback = \"never\"",
                );
            }
            policy
        }
    };
    if !(0..=100).contains(file.pass_mark.get_ref()) {
        r.on(&file.pass_mark, "pass_mark : pourcentage entre 0 et 100");
    }
    let counted = matches!(
        role,
        Some(QuizRole::Graded | QuizRole::PostTest | QuizRole::PreTest)
    );
    if counted && file.max_attempts.is_none() {
        r.on(
            &file.role,
            "un quiz évalué a un nombre de tentatives limité : max_attempts obligatoire",
        );
    }
    if matches!(role, Some(QuizRole::Graded | QuizRole::PostTest)) && *file.pass_mark.get_ref() < 1
    {
        r.on(
            &file.pass_mark,
            "un quiz noté a un seuil de réussite d'au moins 1 %",
        );
    }
    for limit in [&file.time_limit_minutes, &file.max_attempts]
        .into_iter()
        .flatten()
    {
        if *limit.get_ref() == 0 {
            r.on(limit, "doit être au moins 1");
        }
    }
    (role, feedback)
}

/// `[[draw]]`: each draw takes `count` items of one objective from the quiz's pool, so the
/// pool must have that many for it, and enough more that a retake repeats no more than
/// the quiz allows.
fn check_draws(
    r: &mut FileReport<'_>,
    draws: Vec<DrawFile>,
    bank: &Bank,
    objectives: &HashSet<String>,
    pool: Option<&str>,
    repeat: RepeatLimit,
) -> Vec<Draw> {
    let in_pool = pool.map_or(String::new(), |p| format!(" dans le pool « {p} »"));
    for d in &draws {
        let objective = d.objective.get_ref();
        let count = *d.count.get_ref();
        let available = bank.pool_items(objective, pool).len();
        if !objectives.contains(objective) {
            r.on(&d.objective, format!("objectif « {objective} » inconnu"));
        } else if count == 0 || count as usize > available {
            r.on(
                &d.count,
                format!(
                    "count = {count} : la banque n'a que {available} élément(s) pour l'objectif « {objective} »{in_pool}",
                ),
            );
        } else if let Some(repeated) = repeat.excess(count, available) {
            r.on(
                &d.count,
                format!(
                    "count = {count} sur {available} élément(s) de l'objectif « {objective} »{in_pool} : un nouvel essai en répéterait {repeated}, plus que max_repeat_percent = {} %",
                    repeat.percent
                ),
            );
        }
    }
    draws
        .into_iter()
        .map(|d| Draw {
            objective: d.objective.into_inner(),
            count: d.count.into_inner(),
        })
        .collect()
}

/// `items = [...]`: a fixed list of bank questions or vignettes, by id.
fn check_items(
    r: &mut FileReport<'_>,
    items: Spanned<Vec<Spanned<String>>>,
    bank: &Bank,
) -> Vec<String> {
    let known: HashSet<&str> = bank
        .questions
        .iter()
        .map(|q| q.id.as_str())
        .chain(bank.vignettes.iter().map(|v| v.id.as_str()))
        .collect();
    for item in items.get_ref() {
        if !known.contains(item.get_ref().as_str()) {
            r.on(
                item,
                format!(
                    "« {} » n'est ni une question ni une vignette de la banque",
                    item.get_ref()
                ),
            );
        }
    }
    if items.get_ref().is_empty() {
        r.on(&items, "items vide");
    }
    items
        .into_inner()
        .into_iter()
        .map(Spanned::into_inner)
        .collect()
}

/// The objectives a quiz covers.
fn quiz_objectives(quiz: &Quiz, bank: &Bank) -> BTreeSet<String> {
    match &quiz.selection {
        Selection::Draw(draws) => draws.iter().map(|d| d.objective.clone()).collect(),
        Selection::Items(items) => items
            .iter()
            .filter_map(|id| {
                bank.questions
                    .iter()
                    .find(|q| &q.id == id)
                    .map(|q| q.objective.clone())
                    .or_else(|| {
                        bank.vignettes
                            .iter()
                            .find(|v| &v.id == id)
                            .map(|v| v.objective.clone())
                    })
            })
            .collect(),
    }
}

/// The quizzes a kind of course needs. A DPC measures progress, so its pre- and
/// post-tests must cover the same objectives; other courses need a graded quiz.
/// Reported against the `quizzes/` folder, as no single file is at fault.
fn check_quiz_set(
    dir: &Path,
    kind: Option<CourseKind>,
    quizzes: &[Quiz],
    bank: &Bank,
    problems: &mut Vec<Diagnostic>,
) {
    let with_role = |role| quizzes.iter().find(|q| q.role == role);
    let message = match kind {
        Some(CourseKind::Dpc) => {
            match (with_role(QuizRole::PreTest), with_role(QuizRole::PostTest)) {
                (Some(pre), Some(post)) => (quiz_objectives(pre, bank)
                    != quiz_objectives(post, bank))
                .then(|| {
                    format!(
                        "le pré-test « {} » et le post-test « {} » doivent porter sur les mêmes objectifs",
                        pre.id, post.id
                    )
                }),
                _ => Some(
                    "une formation DPC a un quiz role = \"pre_test\" et un role = \"post_test\""
                        .into(),
                ),
            }
        }
        Some(_) if with_role(QuizRole::Graded).is_none() => {
            Some("il manque un quiz role = \"graded\"".into())
        }
        _ => None,
    };
    if let Some(message) = message {
        problems.push(whole(dir, message));
    }
    for message in prerequisite_problems(kind, quizzes)
        .into_iter()
        .chain(overlap_problems(quizzes, bank))
    {
        problems.push(whole(dir, message));
    }
}

/// Quizzes named by `after_quizzes` and `shares_items_with` must exist; a DPC post-test
/// opens only once the lessons are done and the pre-test is submitted, so that the gain
/// measures the course.
fn prerequisite_problems(kind: Option<CourseKind>, quizzes: &[Quiz]) -> Vec<String> {
    let known: HashSet<&str> = quizzes.iter().map(|q| q.id.as_str()).collect();
    let mut problems = Vec::new();
    for quiz in quizzes {
        for other in quiz.after_quizzes.iter().chain(&quiz.shares_items_with) {
            if !known.contains(other.as_str()) || other == &quiz.id {
                problems.push(format!(
                    "quiz « {} » : « {other} » n'est pas un autre quiz de la formation",
                    quiz.id
                ));
            }
        }
    }
    if kind == Some(CourseKind::Dpc) {
        let pre_tests: Vec<&Quiz> = quizzes
            .iter()
            .filter(|q| q.role == QuizRole::PreTest)
            .collect();
        for post in quizzes.iter().filter(|q| q.role == QuizRole::PostTest) {
            let after_pre = pre_tests
                .iter()
                .all(|pre| post.after_quizzes.contains(&pre.id));
            if !post.after_lessons || !after_pre {
                problems.push(format!(
                    "le post-test « {} » s'ouvre après les leçons et le pré-test : after_lessons = true, after_quizzes = [{}]",
                    post.id,
                    pre_tests
                        .iter()
                        .map(|p| format!("\"{}\"", p.id))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
    }
    problems
}

/// The items a quiz can put on a paper.
fn candidate_items<'a>(quiz: &'a Quiz, bank: &'a Bank) -> BTreeSet<&'a str> {
    match &quiz.selection {
        Selection::Draw(draws) => draws
            .iter()
            .flat_map(|d| bank.pool_items(&d.objective, quiz.pool.as_deref()))
            .collect(),
        Selection::Items(items) => items.iter().map(String::as_str).collect(),
    }
}

/// A practice quiz or a pre-test shares no item with a graded quiz or a post-test (unless
/// the practice quiz says `shares_items_with`): otherwise its feedback, or a learner's
/// memory of the pre-test, hands out the answers that the graded result is made of.
fn overlap_problems(quizzes: &[Quiz], bank: &Bank) -> Vec<String> {
    let mut problems = Vec::new();
    let graded = |q: &&Quiz| matches!(q.role, QuizRole::Graded | QuizRole::PostTest);
    for taught in quizzes.iter().filter(|q| !graded(q)) {
        for assessed in quizzes.iter().filter(graded) {
            let allowed = taught.role == QuizRole::Practice
                && (taught.shares_items_with.contains(&assessed.id)
                    || assessed.shares_items_with.contains(&taught.id));
            let shared: Vec<&str> = candidate_items(taught, bank)
                .intersection(&candidate_items(assessed, bank))
                .copied()
                .collect();
            if !allowed && !shared.is_empty() {
                problems.push(format!(
                    "les quiz « {} » et « {} » partagent {} élément(s) ({}) : tirez-les de pools distincts (pool = \"…\")",
                    taught.id,
                    assessed.id,
                    shared.len(),
                    shared.join(", ")
                ));
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use crate::catalog::load::testing::{assert_reported, Fixture};
    use crate::catalog::load::Diagnostic;
    use crate::catalog::model::Selection;

    const HEAD: &str = "title = \"Quiz\"\nrole = \"practice\"\npass_mark = 50\n";

    /// The fixture's problems but the overlap of these practice quizzes with the fixture's
    /// final quiz (tested on its own below).
    fn own_problems(fixture: &Fixture) -> Vec<Diagnostic> {
        let mut problems = fixture.problems();
        problems.retain(|p| !p.message.contains("partagent"));
        problems
    }

    /// The problems reported against one file of the fixture.
    fn of(problems: &[Diagnostic], fixture: &Fixture, name: &str) -> Vec<(usize, String)> {
        problems
            .iter()
            .filter(|p| p.path == fixture.path(name))
            .map(|p| (p.line, p.message.clone()))
            .collect()
    }

    #[test]
    fn settings_are_checked_on_their_lines() {
        let fixture = Fixture::new();
        fixture.write(
            "quizzes/entrainement.toml",
            "title = \"Quiz\"\nrole = \"practice\"\npass_mark = 150\nfeedback = \"bof\"\n\
             time_limit_minutes = 0\nmax_attempts = 0\nitems = [\"q01\"]\n",
        );
        fixture.write(
            "quizzes/examen.toml",
            "title = \"Quiz\"\nrole = \"exam\"\npass_mark = 50\nitems = [\"q01\"]\n",
        );
        let problems = own_problems(&fixture);
        assert_eq!(
            of(&problems, &fixture, "quizzes/entrainement.toml"),
            [
                (
                    4,
                    "feedback : after_submit, after_pass, after_close ou never".into()
                ),
                (3, "pass_mark : pourcentage entre 0 et 100".into()),
                (5, "doit être au moins 1".into()),
                (6, "doit être au moins 1".into()),
            ]
        );
        assert_eq!(
            of(&problems, &fixture, "quizzes/examen.toml"),
            [(
                2,
                "role : pre_test, post_test, graded ou practice".to_string()
            )]
        );
        assert_eq!(problems.len(), 5, "{problems:#?}");
    }

    #[test]
    fn draws_must_name_an_objective_the_bank_can_fill() {
        let fixture = Fixture::new();
        fixture.write(
            "quizzes/tirage.toml",
            &format!(
                "{HEAD}\n[[draw]]\nobjective = \"o1\"\ncount = 11\n\n\
                 [[draw]]\nobjective = \"o9\"\ncount = 1\n\n\
                 [[draw]]\nobjective = \"o2\"\ncount = 0\n"
            ),
        );
        let problems = own_problems(&fixture);
        assert_eq!(
            of(&problems, &fixture, "quizzes/tirage.toml"),
            [
                (
                    7,
                    "count = 11 : la banque n'a que 10 élément(s) pour l'objectif « o1 »".into()
                ),
                (10, "objectif « o9 » inconnu".into()),
                (
                    15,
                    "count = 0 : la banque n'a que 10 élément(s) pour l'objectif « o2 »".into()
                ),
            ]
        );
        assert_eq!(problems.len(), 3, "{problems:#?}");
    }

    #[test]
    fn items_name_bank_entries_and_exclude_draws() {
        let fixture = Fixture::new();
        fixture.write(
            "quizzes/liste.toml",
            &format!("{HEAD}items = [\n  \"q01\",\n  \"zz\",\n]\n"),
        );
        fixture.write("quizzes/vide.toml", &format!("{HEAD}items = []\n"));
        fixture.write(
            "quizzes/les-deux.toml",
            &format!("{HEAD}items = [\"q01\"]\n\n[[draw]]\nobjective = \"o1\"\ncount = 1\n"),
        );
        fixture.write("quizzes/rien.toml", HEAD);
        let problems = own_problems(&fixture);
        assert_reported(
            &problems,
            &fixture.path("quizzes/liste.toml"),
            6,
            "« zz » n'est ni une question ni une vignette de la banque",
        );
        assert_reported(
            &problems,
            &fixture.path("quizzes/vide.toml"),
            4,
            "items vide",
        );
        let neither = "un quiz a soit des [[draw]], soit une liste items, pas les deux ni aucun";
        assert_reported(
            &problems,
            &fixture.path("quizzes/les-deux.toml"),
            1,
            neither,
        );
        assert_reported(&problems, &fixture.path("quizzes/rien.toml"), 1, neither);
        assert_eq!(problems.len(), 4, "{problems:#?}");
    }

    #[test]
    fn a_course_needs_a_graded_quiz() {
        let fixture = Fixture::new();
        fixture.edit("quizzes/final.toml", |t| t.replace("graded", "practice"));
        assert_eq!(
            fixture.problems(),
            [Diagnostic {
                path: fixture.path("quizzes"),
                line: 1,
                message: "il manque un quiz role = \"graded\"".into(),
                warning: false,
            }]
        );
    }

    #[test]
    fn a_dpc_needs_parallel_pre_and_post_tests() {
        let fixture = Fixture::new();
        fixture.edit("course.toml", |t| {
            t.replace("\"initial_module\"", "\"dpc\"")
                + "\n[dpc]\naction_type = \"formation_continue\"\nmodality = \"e_learning\"\n"
        });
        let pre = |items: &str| {
            format!("title = \"T\"\nrole = \"pre_test\"\npass_mark = 0\nmax_attempts = 1\nitems = {items}\n")
        };
        let post = |items: &str, rest: &str| {
            format!(
                "title = \"T\"\nrole = \"post_test\"\npass_mark = 70\nmax_attempts = 3\n{rest}items = {items}\n"
            )
        };
        fixture.write("quizzes/pre.toml", &pre("[\"q02\"]"));
        let missing = "une formation DPC a un quiz role = \"pre_test\" et un role = \"post_test\"";
        assert_reported(&fixture.problems(), &fixture.path("quizzes"), 1, missing);

        // The same item on both, and a post-test open before the lessons and the pre-test.
        fixture.write("quizzes/post.toml", &post("[\"q02\", \"q04\"]", ""));
        let problems = fixture.problems();
        let quizzes = fixture.path("quizzes");
        assert_reported(&problems, &quizzes, 1, "les quiz « pre » et « post » partagent 1 élément(s) (q02) : tirez-les de pools distincts (pool = \"…\")");
        assert_reported(&problems, &quizzes, 1, "le post-test « post » s'ouvre après les leçons et le pré-test : after_lessons = true, after_quizzes = [\"pre\"]");
        // The final quiz of the fixture shares the post-test's items too.
        assert_eq!(problems.len(), 3, "{problems:#?}");

        // A pre-test that shows answers, or a graded one without a limit, is refused.
        fixture.write(
            "quizzes/pre.toml",
            "title = \"T\"\nrole = \"pre_test\"\npass_mark = 0\nfeedback = \"after_submit\"\nitems = [\"q01\"]\n",
        );
        let problems = fixture.problems();
        let file = fixture.path("quizzes/pre.toml");
        assert_reported(
            &problems,
            &file,
            4,
            "un pré-test ne montre jamais les réponses : feedback = \"never\"",
        );
        assert_reported(
            &problems,
            &file,
            2,
            "un quiz évalué a un nombre de tentatives limité : max_attempts obligatoire",
        );

        // Parallel forms: disjoint items, the post-test after the lessons and the pre-test.
        fixture.write("quizzes/pre.toml", &pre("[\"q06\"]"));
        fixture.edit("quizzes/final.toml", |t| {
            t.replace(
                "[[draw]]\nobjective = \"o1\"\ncount = 2\n",
                "items = [\"q08\", \"q10\"]\n",
            )
        });
        fixture.write(
            "quizzes/post.toml",
            &post(
                "[\"q02\", \"q04\"]",
                "after_lessons = true\nafter_quizzes = [\"pre\"]\n",
            ),
        );
        let course = fixture.load().course;
        let post = course.quizzes.iter().find(|q| q.id == "post").unwrap();
        assert!(matches!(&post.selection, Selection::Items(items) if items.len() == 2));
        assert_eq!(
            post.feedback,
            crate::catalog::model::FeedbackPolicy::AfterPass
        );
    }
}
