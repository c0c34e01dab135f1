//! The course files as written (`course.toml`, lesson front matter, `quizzes/*.toml`):
//! serde structs that refuse unknown keys and keep the position of every value that a
//! later check may need to point at.

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CourseFile {
    pub slug: Spanned<String>,
    pub title: String,
    pub kind: Spanned<String>,
    pub audience: String,
    pub language: Spanned<String>,
    pub version: String,
    pub duration_hours: Spanned<f64>,
    pub summary: String,
    #[serde(default)]
    pub objectives: Vec<ObjectiveFile>,
    pub dpc: Option<Spanned<DpcFile>>,
    #[serde(default)]
    pub units: Vec<UnitFile>,
    pub thesis: Option<Spanned<ThesisFile>>,
    #[serde(default)]
    pub configuration: std::collections::BTreeMap<String, String>,
    pub completion: Option<Spanned<CompletionFile>>,
    pub du_rules: Option<Spanned<DuRulesFile>>,
}

/// `[du_rules]`: every key optional, defaults as in `DuRules::default`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DuRulesFile {
    pub unit_pass_mark: Option<Spanned<f64>>,
    pub thesis_pass_mark: Option<Spanned<f64>>,
    pub attendance_required: Option<bool>,
    pub compensation: Option<bool>,
    pub online_required: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompletionFile {
    /// Minimum total time on task, in minutes (DPC e-learning).
    pub min_minutes: Option<Spanned<u32>>,
    /// Lessons unlock in order.
    #[serde(default)]
    pub sequential: bool,
    /// Seconds a lesson must have been read before it can be marked done.
    pub min_lesson_seconds: Option<Spanned<u32>>,
    /// Quizzes that must be passed.
    #[serde(default)]
    pub required_quizzes: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectiveFile {
    pub id: Spanned<String>,
    pub text: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DpcFile {
    pub action_type: Spanned<String>,
    pub modality: Spanned<String>,
    #[serde(default)]
    pub target_professions: Vec<Spanned<String>>,
    pub updated_on: Option<Spanned<toml::value::Datetime>>,
    /// Orientations the course was designed for, each with the text that defines it.
    #[serde(default)]
    pub orientations: Vec<Spanned<OrientationFile>>,
    #[serde(default)]
    pub designers: Vec<Spanned<DesignerFile>>,
    #[serde(default)]
    pub references: Vec<Spanned<ReferenceFile>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrientationFile {
    pub number: u32,
    pub title: String,
    pub source: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DesignerFile {
    pub name: String,
    pub role: String,
    /// The declaration of interests.
    pub interests: Option<String>,
}

/// A public source: a lesson's or a programme's reference.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferenceFile {
    pub title: String,
    pub publisher: String,
    pub year: Spanned<u32>,
    pub url: Option<Spanned<String>>,
    /// The file of `shared/seeds/` it is, if it is one.
    pub seed: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitFile {
    pub id: Spanned<String>,
    pub title: String,
    pub lessons: Vec<Spanned<String>>,
    /// DU: the graded quiz whose best score is the unit's online grade.
    pub assessment: Option<Spanned<String>>,
    #[serde(default)]
    pub seminars: Vec<SeminarFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeminarFile {
    pub title: String,
    pub hours: Spanned<f64>,
    pub programme: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThesisFile {
    pub title: String,
    pub description: String,
    #[serde(default)]
    pub criteria: Vec<Spanned<CriterionFile>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CriterionFile {
    pub name: String,
    pub weight: u32,
    pub description: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LessonFrontMatter {
    pub title: String,
    pub minutes: Spanned<u32>,
    #[serde(default)]
    pub objectives: Vec<Spanned<String>>,
    pub reviewed_on: Option<Spanned<toml::value::Datetime>>,
    #[serde(default)]
    pub references: Vec<Spanned<ReferenceFile>>,
    #[serde(default)]
    pub activities: Vec<Spanned<ActivityFile>>,
}

/// Work the learner does on a lesson's page (see `model::Activity`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivityFile {
    pub id: Spanned<String>,
    pub kind: Spanned<String>,
    pub title: String,
    pub minutes: Spanned<u32>,
    pub prompt: String,
    #[serde(default)]
    pub items: Vec<AuditItemFile>,
    pub commentary: Option<String>,
    pub min_chars: Option<Spanned<u32>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditItemFile {
    pub text: String,
    pub advice: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BankFile {
    #[serde(default)]
    pub questions: Vec<QuestionFile>,
    #[serde(default)]
    pub vignettes: Vec<VignetteFile>,
}

/// Every key any question type may use; the type decides which are required or refused.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuestionFile {
    pub id: Spanned<String>,
    #[serde(rename = "type")]
    pub kind: Spanned<String>,
    pub objective: Spanned<String>,
    pub prompt: String,
    pub points: Option<Spanned<u32>>,
    pub feedback: Option<String>,
    pub choices: Option<Spanned<Vec<ChoiceFile>>>,
    pub correct: Option<Spanned<Correct>>,
    pub answer: Option<Spanned<Answer>>,
    pub tolerance: Option<Spanned<f64>>,
    pub unit: Option<String>,
    pub pairs: Option<Spanned<Vec<PairFile>>>,
    pub items: Option<Spanned<Vec<String>>>,
    pub scoring: Option<Spanned<String>>,
    /// The item pool (see `Question::pool`); on a vignette, not its questions.
    pub pool: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChoiceFile {
    pub id: String,
    pub text: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PairFile {
    pub left: String,
    pub right: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VignetteFile {
    pub id: Spanned<String>,
    pub objective: Spanned<String>,
    pub title: String,
    pub case: Spanned<String>,
    pub questions: Vec<QuestionFile>,
    pub pool: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuizFile {
    pub title: String,
    pub role: Spanned<String>,
    pub pass_mark: Spanned<i64>,
    pub time_limit_minutes: Option<Spanned<u32>>,
    pub max_attempts: Option<Spanned<u32>>,
    #[serde(default)]
    pub draw: Vec<DrawFile>,
    pub items: Option<Spanned<Vec<Spanned<String>>>>,
    pub feedback: Option<Spanned<String>>,
    pub shuffle_questions: Option<bool>,
    pub shuffle_choices: Option<bool>,
    pub pool: Option<String>,
    #[serde(default)]
    pub after_lessons: bool,
    #[serde(default)]
    pub after_quizzes: Vec<Spanned<String>>,
    #[serde(default)]
    pub improvement_attempts: bool,
    pub max_repeat_percent: Option<Spanned<u8>>,
    #[serde(default)]
    pub shares_items_with: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrawFile {
    pub objective: Spanned<String>,
    pub count: Spanned<u32>,
}

/// `correct = "b"` (single choice) or `correct = ["a", "c"]` (multiple choice).
#[derive(Debug)]
pub enum Correct {
    One(String),
    Many(Vec<String>),
}

impl<'de> Deserialize<'de> for Correct {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Correct;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a choice id or a list of choice ids")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Correct, E> {
                Ok(Correct::One(v.to_owned()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Correct, A::Error> {
                let mut ids = Vec::new();
                while let Some(id) = seq.next_element::<String>()? {
                    ids.push(id);
                }
                Ok(Correct::Many(ids))
            }
        }
        d.deserialize_any(V)
    }
}

/// `answer = true` (true/false) or `answer = 15` (numeric).
#[derive(Debug)]
pub enum Answer {
    Bool(bool),
    Number(f64),
}

impl<'de> Deserialize<'de> for Answer {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Answer;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("true, false or a number")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Answer, E> {
                Ok(Answer::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Answer, E> {
                Ok(Answer::Number(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Answer, E> {
                Ok(Answer::Number(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Answer, E> {
                Ok(Answer::Number(v))
            }
        }
        d.deserialize_any(V)
    }
}
