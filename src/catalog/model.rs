//! A validated course: what the loader produces from the files and what a course version
//! stores. Answers are in here (the quiz engine grades with them), so these types are never
//! sent to clients as they are; [`CourseOutline`] is the public view.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::codes::code_list;

code_list!(
    /// The three kinds of training the platform hosts.
    CourseKind, "type de formation" {
    InitialModule = "initial_module": "Module de formation initiale",
    Dpc = "dpc": "Développement professionnel continu",
    Du = "du": "Diplôme d'université",
});

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Objective {
    pub id: String,
    pub text: String,
}

code_list!(
    /// The type of a DPC action (the ANDPC's categories).
    DpcActionType, "action_type" {
    FormationContinue = "formation_continue": "Formation continue",
    Epp = "epp": "Évaluation des pratiques professionnelles",
    GestionRisques = "gestion_risques": "Gestion des risques",
    /// Continuing training together with EPP or risk management.
    ProgrammeIntegre = "programme_integre": "Programme intégré",
});

code_list!(
    /// How a DPC action is delivered.
    DpcModality, "modality" {
    ELearning = "e_learning": "Formation non présentielle (e-learning)",
    Mixte = "mixte": "Formation mixte",
});

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Dpc {
    pub action_type: DpcActionType,
    pub modality: DpcModality,
    /// Profession codes (`identity::model::Profession`), DPC-eligible ones only.
    #[serde(default)]
    pub target_professions: Vec<String>,
    #[serde(default)]
    pub updated_on: Option<NaiveDate>,
    /// Orientations the course was designed for; the one declared is the session's.
    #[serde(default)]
    pub orientations: Vec<Orientation>,
    #[serde(default)]
    pub designers: Vec<Designer>,
    #[serde(default)]
    pub references: Vec<Reference>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Orientation {
    pub number: u32,
    pub title: String,
    pub source: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Designer {
    pub name: String,
    pub role: String,
    /// Declaration of interests.
    pub interests: String,
}

/// A public source of a lesson or a programme.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Reference {
    pub title: String,
    pub publisher: String,
    pub year: u32,
    pub url: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Unit {
    pub id: String,
    pub title: String,
    pub lessons: Vec<String>,
    /// DU: the graded quiz whose best score, out of 20, is the unit's online grade.
    #[serde(default)]
    pub assessment: Option<String>,
    #[serde(default)]
    pub seminars: Vec<Seminar>,
}

/// A seminar of a DU unit: its programme; the cohort sets the dates.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Seminar {
    pub title: String,
    pub hours: f64,
    pub programme: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Thesis {
    pub title: String,
    pub description: String,
    /// The rubric the jury grades with; weights sum to 100.
    #[serde(default)]
    pub criteria: Vec<Criterion>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Criterion {
    pub name: String,
    pub weight: u32,
    pub description: String,
}

code_list!(
    /// What a lesson's activity asks of the learner.
    ActivityKind, "type d'activité" {
    SelfAudit = "self_audit": "Autodiagnostic",
    Case = "case": "Analyse de cas",
    Reflection = "reflection": "Analyse réflexive",
    ActionPlan = "action_plan": "Plan d'action",
});

/// Work the learner does on a lesson's page; the answer is stored and in the trace.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Activity {
    pub id: String,
    pub kind: ActivityKind,
    pub title: String,
    pub minutes: u32,
    /// Sanitised HTML of the instructions (for a case: the situation and the question).
    pub prompt_html: String,
    /// Self-audit only.
    pub items: Vec<AuditItem>,
    /// Sanitised HTML shown once the learner has answered.
    pub commentary_html: Option<String>,
    /// Free-text kinds: the shortest answer accepted, in characters.
    pub min_chars: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditItem {
    pub text: String,
    pub advice: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Lesson {
    pub id: String,
    pub position: u32,
    pub unit: Option<String>,
    pub title: String,
    pub minutes: u32,
    pub objectives: Vec<String>,
    /// Sanitised HTML, rendered once at import.
    pub html: String,
    #[serde(default)]
    pub reviewed_on: Option<NaiveDate>,
    #[serde(default)]
    pub references: Vec<Reference>,
    #[serde(default)]
    pub activities: Vec<Activity>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Choice {
    pub id: String,
    pub text: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pair {
    pub left: String,
    pub right: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum QuestionKind {
    SingleChoice {
        choices: Vec<Choice>,
        correct: String,
    },
    MultipleChoice {
        choices: Vec<Choice>,
        correct: Vec<String>,
        /// Partial credit (`scoring = "partial"`) rather than all-or-nothing.
        #[serde(default)]
        partial: bool,
    },
    TrueFalse {
        answer: bool,
    },
    /// The pairs as written are the right matching; they are shuffled when shown.
    Matching {
        pairs: Vec<Pair>,
    },
    /// The items as written are the right order; they are shuffled when shown.
    Ordering {
        items: Vec<String>,
    },
    Numeric {
        answer: f64,
        tolerance: f64,
        unit: Option<String>,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Question {
    pub id: String,
    pub objective: String,
    pub prompt: String,
    pub points: u32,
    pub feedback: String,
    #[serde(flatten)]
    pub kind: QuestionKind,
    /// The item pool it belongs to (`pool = "…"` in the bank; none is the common pool).
    #[serde(default)]
    pub pool: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Vignette {
    pub id: String,
    pub objective: String,
    pub title: String,
    pub case_html: String,
    pub questions: Vec<Question>,
    /// As for a standalone question.
    #[serde(default)]
    pub pool: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Bank {
    pub questions: Vec<Question>,
    pub vignettes: Vec<Vignette>,
}

impl Bank {
    /// The drawable items (ids of standalone questions and vignettes) of an objective in a
    /// pool, in bank order.
    pub fn pool_items<'a>(&'a self, objective: &'a str, pool: Option<&'a str>) -> Vec<&'a str> {
        self.questions
            .iter()
            .filter(|q| q.objective == objective && q.pool.as_deref() == pool)
            .map(|q| q.id.as_str())
            .chain(
                self.vignettes
                    .iter()
                    .filter(|v| v.objective == objective && v.pool.as_deref() == pool)
                    .map(|v| v.id.as_str()),
            )
            .collect()
    }

    /// The objective of a drawable item (standalone question or vignette).
    pub fn item_objective(&self, id: &str) -> Option<&str> {
        self.questions
            .iter()
            .find(|q| q.id == id)
            .map(|q| q.objective.as_str())
            .or_else(|| {
                self.vignettes
                    .iter()
                    .find(|v| v.id == id)
                    .map(|v| v.objective.as_str())
            })
    }

    /// A question by id, standalone or inside a vignette.
    pub fn find_question(&self, id: &str) -> Option<&Question> {
        self.questions
            .iter()
            .chain(self.vignettes.iter().flat_map(|v| v.questions.iter()))
            .find(|q| q.id == id)
    }

    pub fn question_count(&self) -> usize {
        self.questions.len()
            + self
                .vignettes
                .iter()
                .map(|v| v.questions.len())
                .sum::<usize>()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum QuizRole {
    PreTest,
    PostTest,
    Graded,
    Practice,
}

impl QuizRole {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "pre_test" => Some(Self::PreTest),
            "post_test" => Some(Self::PostTest),
            "graded" => Some(Self::Graded),
            "practice" => Some(Self::Practice),
            _ => None,
        }
    }
}

/// When a learner sees the correct answers and the feedback of a submitted attempt.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FeedbackPolicy {
    /// Right after each submit: for practice, where answers teach.
    #[default]
    AfterSubmit,
    /// Once the learner's result is settled: the quiz passed (with no improvement attempts
    /// allowed) or no attempt left. A failed attempt with attempts left shows the score and
    /// the objectives to work on, never the answers of a paper the next one may repeat.
    AfterPass,
    /// Once the session has closed (so that answers cannot circulate during it).
    AfterClose,
    Never,
}

impl FeedbackPolicy {
    /// Whether the correct answers and feedback may be shown at `at`, to a learner whose
    /// result is `settled` (see [`FeedbackPolicy::AfterPass`]), in a session closed at
    /// `closed_at` (if it is). `after_close` waits for the session to be closed, the
    /// moment attempts stop being accepted: its `closes_on` date only ends enrolment, and
    /// learners may still take the quiz after it, so showing answers then would hand
    /// them out.
    pub fn allows(
        self,
        settled: bool,
        closed_at: Option<chrono::NaiveDateTime>,
        at: chrono::NaiveDateTime,
    ) -> bool {
        match self {
            Self::AfterSubmit => true,
            Self::AfterPass => settled,
            Self::Never => false,
            Self::AfterClose => closed_at.is_some_and(|closed| closed <= at),
        }
    }

    /// Whether a certificate may print the quiz's score at `at`: answers never follow
    /// from a score, but a cohort sitting an `after_close` exam keeps its scores
    /// confidential until the session is closed.
    pub fn shows_scores(
        self,
        closed_at: Option<chrono::NaiveDateTime>,
        at: chrono::NaiveDateTime,
    ) -> bool {
        match self {
            Self::AfterClose => closed_at.is_some_and(|closed| closed <= at),
            _ => true,
        }
    }

    /// The policy a quiz of `role` has unless its file says otherwise: a pre-test never
    /// shows answers (the post-test measures what the lessons taught), graded quizzes
    /// and post-tests once settled, practice right away.
    pub fn default_for(role: QuizRole) -> Self {
        match role {
            QuizRole::PreTest => Self::Never,
            QuizRole::PostTest | QuizRole::Graded => Self::AfterPass,
            QuizRole::Practice => Self::AfterSubmit,
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "after_submit" => Some(Self::AfterSubmit),
            "after_pass" => Some(Self::AfterPass),
            "after_close" => Some(Self::AfterClose),
            "never" => Some(Self::Never),
            _ => None,
        }
    }

    /// What the learner is told, in one sentence.
    pub fn sentence(self) -> &'static str {
        match self {
            Self::AfterSubmit => "Les réponses attendues sont affichées après chaque tentative.",
            Self::AfterPass => {
                "Les réponses attendues sont affichées une fois le quiz réussi ou les tentatives épuisées ; avant, vous voyez votre score et les objectifs à retravailler."
            }
            Self::AfterClose => "Les réponses attendues sont affichées après la clôture de la session.",
            Self::Never => {
                "Les réponses ne sont pas affichées : vous voyez votre score et les objectifs à retravailler."
            }
        }
    }
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Draw {
    pub objective: String,
    pub count: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Selection {
    Draw(Vec<Draw>),
    Items(Vec<String>),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Quiz {
    pub id: String,
    pub title: String,
    pub role: QuizRole,
    pub pass_mark: u8,
    pub time_limit_minutes: Option<u32>,
    pub max_attempts: Option<u32>,
    pub selection: Selection,
    #[serde(default)]
    pub feedback: FeedbackPolicy,
    #[serde(default = "yes")]
    pub shuffle_questions: bool,
    #[serde(default = "yes")]
    pub shuffle_choices: bool,
    /// Draws take items of this pool only (none: the common pool).
    #[serde(default)]
    pub pool: Option<String>,
    /// Opens once every lesson of the course is done.
    #[serde(default)]
    pub after_lessons: bool,
    /// Opens once each of these quizzes has a submitted attempt.
    #[serde(default)]
    pub after_quizzes: Vec<String>,
    /// A passed quiz may be taken again to improve the score.
    #[serde(default)]
    pub improvement_attempts: bool,
    /// At most this share (percent) of a retake's items were on the previous attempt;
    /// `courses check` verifies the pool allows it.
    #[serde(default = "half")]
    pub max_repeat_percent: u8,
    /// Quizzes this one may share items with (otherwise a practice or pre-test quiz and a
    /// graded or post-test one draw from disjoint items).
    #[serde(default)]
    pub shares_items_with: Vec<String>,
}

fn half() -> u8 {
    50
}

impl Quiz {
    pub fn item_count(&self) -> u32 {
        match &self.selection {
            Selection::Draw(draws) => draws.iter().map(|d| d.count).sum(),
            Selection::Items(items) => items.len() as u32,
        }
    }
}

/// What completing the course takes, besides every lesson being done.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Completion {
    /// Minimum total time on task, in minutes.
    pub min_minutes: u32,
    /// Lessons unlock in order.
    pub sequential: bool,
    /// Seconds of reading before a lesson can be marked done.
    pub min_lesson_seconds: u32,
    /// Quizzes that must be passed.
    pub required_quizzes: Vec<String>,
}

/// How a DU jury's proposal is computed (`[du_rules]`); the jury may still decide otherwise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DuRules {
    /// Grade out of 20 that validates a unit (or, with compensation, the units' average).
    pub unit_pass_mark: f64,
    /// Grade out of 20 that validates the thesis.
    pub thesis_pass_mark: f64,
    /// Every recorded seminar day of a unit must have been attended.
    pub attendance_required: bool,
    /// Units compensate one another: their average must reach the pass mark.
    pub compensation: bool,
    /// The online part (the course's completion rules) must be complete.
    pub online_required: bool,
}

impl Default for DuRules {
    fn default() -> Self {
        Self {
            unit_pass_mark: 10.0,
            thesis_pass_mark: 10.0,
            attendance_required: true,
            compensation: false,
            online_required: true,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Course {
    pub slug: String,
    pub title: String,
    pub kind: CourseKind,
    pub audience: String,
    pub language: String,
    pub version_label: String,
    pub duration_minutes: u32,
    pub summary: String,
    pub objectives: Vec<Objective>,
    pub dpc: Option<Dpc>,
    pub units: Vec<Unit>,
    pub thesis: Option<Thesis>,
    /// What each institution fills in: key → description.
    pub configuration: BTreeMap<String, String>,
    #[serde(default)]
    pub completion: Completion,
    /// For a DU: its validation rules.
    #[serde(default)]
    pub du_rules: Option<DuRules>,
    pub lessons: Vec<Lesson>,
    pub bank: Bank,
    pub quizzes: Vec<Quiz>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LessonOutline {
    pub id: String,
    pub title: String,
    pub minutes: u32,
    pub unit: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct QuizOutline {
    pub id: String,
    pub title: String,
    pub role: QuizRole,
    /// Percent needed to pass.
    pub pass_mark: u8,
    /// Questions or case vignettes per attempt.
    pub item_count: u32,
    pub time_limit_minutes: Option<u32>,
    pub max_attempts: Option<u32>,
}

/// The public outline of a course version: structure and texts, never questions or answers.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CourseOutline {
    pub slug: String,
    pub title: String,
    pub kind: CourseKind,
    pub audience: String,
    pub language: String,
    pub version: String,
    pub version_id: String,
    pub duration_hours: f64,
    pub summary: String,
    pub objectives: Vec<Objective>,
    pub dpc: Option<Dpc>,
    pub units: Vec<Unit>,
    pub thesis: Option<Thesis>,
    pub completion: Completion,
    pub lessons: Vec<LessonOutline>,
    pub quizzes: Vec<QuizOutline>,
}

impl CourseOutline {
    pub fn of(course: Course, version_id: String) -> Self {
        Self {
            version: course.version_label,
            version_id,
            duration_hours: f64::from(course.duration_minutes) / 60.0,
            lessons: course
                .lessons
                .into_iter()
                .map(|l| LessonOutline {
                    id: l.id,
                    title: l.title,
                    minutes: l.minutes,
                    unit: l.unit,
                })
                .collect(),
            quizzes: course
                .quizzes
                .iter()
                .map(|q| QuizOutline {
                    id: q.id.clone(),
                    title: q.title.clone(),
                    role: q.role,
                    pass_mark: q.pass_mark,
                    item_count: q.item_count(),
                    time_limit_minutes: q.time_limit_minutes,
                    max_attempts: q.max_attempts,
                })
                .collect(),
            slug: course.slug,
            title: course.title,
            kind: course.kind,
            audience: course.audience,
            language: course.language,
            summary: course.summary,
            objectives: course.objectives,
            dpc: course.dpc,
            units: course.units,
            thesis: course.thesis,
            completion: course.completion,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn after_close_feedback_waits_for_the_session_to_be_closed_not_for_its_end_date() {
        let day = |d: u32| NaiveDate::from_ymd_opt(2026, 12, d).unwrap();
        let at = day(20).and_hms_opt(10, 0, 0).unwrap();
        // Past its end date but not closed: attempts are still accepted, so no answers.
        let running = None;
        assert!(!FeedbackPolicy::AfterClose.allows(true, running, at));
        let closed = Some(day(19).and_hms_opt(18, 0, 0).unwrap());
        assert!(FeedbackPolicy::AfterClose.allows(false, closed, at));
        assert!(!FeedbackPolicy::AfterClose.allows(
            true,
            Some(day(21).and_hms_opt(8, 0, 0).unwrap()),
            at
        ));
        assert!(FeedbackPolicy::AfterSubmit.allows(false, running, at));
        assert!(!FeedbackPolicy::Never.allows(true, closed, at));
    }

    #[test]
    fn after_pass_waits_for_a_settled_result_whatever_the_session() {
        let at = NaiveDate::from_ymd_opt(2026, 12, 20)
            .unwrap()
            .and_hms_opt(10, 0, 0)
            .unwrap();
        assert!(!FeedbackPolicy::AfterPass.allows(false, Some(at), at));
        assert!(FeedbackPolicy::AfterPass.allows(true, None, at));
    }
}
