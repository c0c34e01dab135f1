//! The rules of a university diploma as pure functions: grades out of 20, jury decisions
//! and mentions, the jury's proposal from the course's `[du_rules]`, record numbers.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::catalog::model::DuRules;

/// One teaching unit of one learner's file: named fields, so the two ids (both strings)
/// cannot be passed the wrong way round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnitAt<'a> {
    pub enrolment_id: &'a str,
    pub unit_id: &'a str,
}

/// A grade out of 20, to the hundredth, kept exactly as hundredths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Grade(i32);

impl Grade {
    pub fn parse(value: f64) -> Result<Self, String> {
        if !value.is_finite() || !(0.0..=20.0).contains(&value) {
            return Err("note sur 20 attendue (de 0 à 20)".into());
        }
        let hundredths = (value * 100.0).round();
        if (hundredths - value * 100.0).abs() > 1e-6 {
            return Err("deux décimales au plus".into());
        }
        Ok(Self(hundredths as i32))
    }

    pub fn from_hundredths(hundredths: i32) -> Self {
        Self(hundredths)
    }

    pub fn hundredths(self) -> i32 {
        self.0
    }

    pub fn value(self) -> f64 {
        f64::from(self.0) / 100.0
    }

    /// "12,5/20" as printed in French.
    pub fn printed(self) -> String {
        crate::fr::grade(self.value())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Admis,
    Ajourne,
    Absent,
}

impl Decision {
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "admis" => Ok(Self::Admis),
            "ajourne" => Ok(Self::Ajourne),
            "absent" => Ok(Self::Absent),
            _ => Err("admis, ajourne ou absent".into()),
        }
    }
    pub fn code(self) -> &'static str {
        match self {
            Self::Admis => "admis",
            Self::Ajourne => "ajourne",
            Self::Absent => "absent",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Self::Admis => "Admis",
            Self::Ajourne => "Ajourné",
            Self::Absent => "Absent",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mention {
    Passable,
    AssezBien,
    Bien,
    TresBien,
}

impl Mention {
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "passable" => Ok(Self::Passable),
            "assez_bien" => Ok(Self::AssezBien),
            "bien" => Ok(Self::Bien),
            "tres_bien" => Ok(Self::TresBien),
            _ => Err("passable, assez_bien, bien ou tres_bien".into()),
        }
    }
    pub fn code(self) -> &'static str {
        match self {
            Self::Passable => "passable",
            Self::AssezBien => "assez_bien",
            Self::Bien => "bien",
            Self::TresBien => "tres_bien",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Self::Passable => "Passable",
            Self::AssezBien => "Assez bien",
            Self::Bien => "Bien",
            Self::TresBien => "Très bien",
        }
    }
}

/// What is known of one unit for one learner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UnitFacts {
    pub unit_id: String,
    pub title: String,
    /// The unit's grade out of 20, as the rules weigh it (see [`unit_grade`]).
    pub grade: Option<f64>,
    /// What the tutors entered (seminar work, written assessment), out of 20.
    #[serde(default)]
    pub tutor_grade: Option<f64>,
    /// The best score at the unit's graded online assessment, out of 20.
    #[serde(default)]
    pub online_grade: Option<f64>,
    pub seminar_days_recorded: usize,
    pub seminar_days_present: usize,
    pub lessons_done: usize,
    pub lessons_total: usize,
}

/// A unit's grade: with a graded online assessment, the mean of the tutors' grade and the
/// online grade (the online part weighs half, so that it counts and cannot be skipped);
/// the tutors' grade alone when the unit has none, or when the rules leave the online part
/// out and the learner has not taken it. Rounded to the hundredth.
pub fn unit_grade(
    tutor: Option<f64>,
    online: Option<f64>,
    has_assessment: bool,
    online_required: bool,
) -> Option<f64> {
    match (tutor, online) {
        (Some(t), _) if !has_assessment => Some(t),
        (Some(t), Some(o)) => {
            // In hundredths, so that x.xx5 always rounds up.
            let hundredths = |g: f64| (g * 100.0).round() as i64;
            Some(((hundredths(t) + hundredths(o) + 1) / 2) as f64 / 100.0)
        }
        (Some(t), None) if !online_required => Some(t),
        _ => None,
    }
}

/// A percent score as a grade out of 20, to the hundredth.
pub fn out_of_twenty(percent: f64) -> f64 {
    (percent.clamp(0.0, 100.0) / 5.0 * 100.0).round() / 100.0
}

/// The jury's proposal under the course's rules; no decision while something is missing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Proposal {
    pub decision: Option<Decision>,
    /// What is not yet entered (grades, attendance), in French.
    pub missing: Vec<String>,
    /// Why the rules do not validate the diploma, in French.
    pub unmet: Vec<String>,
}

pub fn propose(
    rules: &DuRules,
    units: &[UnitFacts],
    thesis_grade: Option<f64>,
    online_complete: bool,
) -> Proposal {
    let mut missing = Vec::new();
    let mut unmet = Vec::new();
    for unit in units {
        if unit.grade.is_none() {
            missing.push(if unit.tutor_grade.is_some() {
                format!("évaluation en ligne de l'unité « {} »", unit.title)
            } else {
                format!("note de l'unité « {} »", unit.title)
            });
        }
        if rules.attendance_required {
            if unit.seminar_days_recorded == 0 {
                missing.push(format!(
                    "présence au séminaire de l'unité « {} »",
                    unit.title
                ));
            } else if unit.seminar_days_present < unit.seminar_days_recorded {
                unmet.push(format!(
                    "absence au séminaire de l'unité « {} » ({} jour(s) sur {})",
                    unit.title, unit.seminar_days_present, unit.seminar_days_recorded
                ));
            }
        }
    }
    match thesis_grade {
        None => missing.push("note du mémoire".into()),
        Some(g) if g < rules.thesis_pass_mark => {
            unmet.push(format!("mémoire sous {}/20", rules.thesis_pass_mark))
        }
        Some(_) => {}
    }
    let grades: Vec<f64> = units.iter().filter_map(|u| u.grade).collect();
    if grades.len() == units.len() && !units.is_empty() {
        if rules.compensation {
            let average = grades.iter().sum::<f64>() / grades.len() as f64;
            if average < rules.unit_pass_mark {
                unmet.push(format!(
                    "moyenne des unités sous {}/20",
                    rules.unit_pass_mark
                ));
            }
        } else {
            for unit in units {
                if unit.grade.is_some_and(|g| g < rules.unit_pass_mark) {
                    unmet.push(format!(
                        "unité « {} » sous {}/20",
                        unit.title, rules.unit_pass_mark
                    ));
                }
            }
        }
    }
    if rules.online_required && !online_complete {
        unmet.push("parcours en ligne non terminé".into());
    }
    let decision = missing.is_empty().then_some(if unmet.is_empty() {
        Decision::Admis
    } else {
        Decision::Ajourne
    });
    Proposal {
        decision,
        missing,
        unmet,
    }
}

/// `<university code>-<year>-<sequence>`, the sequence on four digits at least.
pub fn record_number(university_code: &str, year: i32, sequence: i32) -> String {
    format!("{university_code}-{year}-{sequence:04}")
}

/// The first year of an academic year ("2026-2027" → 2026).
pub fn first_year(academic_year: &str) -> Option<i32> {
    academic_year.get(..4)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(id: &str, grade: Option<f64>, recorded: usize, present: usize) -> UnitFacts {
        UnitFacts {
            unit_id: id.into(),
            title: id.into(),
            grade,
            tutor_grade: grade,
            online_grade: None,
            seminar_days_recorded: recorded,
            seminar_days_present: present,
            lessons_done: 2,
            lessons_total: 2,
        }
    }

    #[test]
    fn the_online_assessment_weighs_half_of_a_units_grade() {
        assert_eq!(unit_grade(Some(12.0), Some(15.55), true, true), Some(13.78));
        assert_eq!(
            unit_grade(Some(12.0), None, true, true),
            None,
            "not taken yet"
        );
        assert_eq!(unit_grade(Some(12.0), None, true, false), Some(12.0));
        assert_eq!(unit_grade(Some(12.0), Some(4.0), false, true), Some(12.0));
        assert_eq!(unit_grade(None, Some(18.0), true, true), None);
        assert_eq!(out_of_twenty(77.75), 15.55);
        assert_eq!(unit_grade(Some(0.02), Some(10.01), true, true), Some(5.02));
    }

    #[test]
    fn grades_are_out_of_twenty_to_the_hundredth() {
        assert_eq!(Grade::parse(12.5).unwrap().hundredths(), 1250);
        assert_eq!(Grade::parse(20.0).unwrap().printed(), "20/20");
        assert_eq!(Grade::parse(12.5).unwrap().printed(), "12,5/20");
        assert_eq!(Grade::parse(9.75).unwrap().printed(), "9,75/20");
        for bad in [-0.5, 20.01, f64::NAN, 12.345] {
            assert!(Grade::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_proposal_follows_the_rules_and_waits_for_missing_grades() {
        let rules = DuRules::default();
        let good = [unit("u1", Some(12.0), 2, 2), unit("u2", Some(10.0), 1, 1)];
        let p = propose(&rules, &good, Some(14.0), true);
        assert_eq!(p.decision, Some(Decision::Admis), "{p:?}");

        let p = propose(&rules, &good, None, true);
        assert_eq!(p.decision, None);
        assert_eq!(p.missing, vec!["note du mémoire"]);

        let weak = [unit("u1", Some(16.0), 2, 2), unit("u2", Some(8.0), 1, 1)];
        let p = propose(&rules, &weak, Some(14.0), true);
        assert_eq!(p.decision, Some(Decision::Ajourne));
        assert_eq!(p.unmet, vec!["unité « u2 » sous 10/20"]);
        let compensating = DuRules {
            compensation: true,
            ..DuRules::default()
        };
        let p = propose(&compensating, &weak, Some(14.0), true);
        assert_eq!(p.decision, Some(Decision::Admis), "{p:?}");

        let absent = [unit("u1", Some(12.0), 2, 1), unit("u2", Some(12.0), 0, 0)];
        let p = propose(&rules, &absent, Some(14.0), false);
        assert_eq!(p.decision, None, "attendance of u2 not recorded");
        assert_eq!(p.unmet.len(), 2, "{p:?}");
        let lenient = DuRules {
            attendance_required: false,
            online_required: false,
            ..DuRules::default()
        };
        assert_eq!(
            propose(&lenient, &absent, Some(14.0), false).decision,
            Some(Decision::Admis)
        );
    }

    #[test]
    fn record_numbers_read_well() {
        assert_eq!(record_number("0755976N", 2026, 7), "0755976N-2026-0007");
        assert_eq!(first_year("2026-2027"), Some(2026));
        assert_eq!(first_year("x"), None);
    }
}
