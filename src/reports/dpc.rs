//! DPC: the declaration list a training body sends the national agency, and the
//! practitioner's own record over the obligation's period.

use std::sync::LazyLock;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::catalog::model::DpcActionType;
use crate::certificates::model::Snapshot;
use crate::fr;
use crate::pdf::{Column, Document};

#[derive(Debug, Clone, Deserialize)]
pub struct Period {
    pub label: String,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub extended_to: Option<NaiveDate>,
}

impl Period {
    /// The last day that counts: the extension's, if any.
    pub fn last_day(&self) -> NaiveDate {
        self.extended_to.unwrap_or(self.ends_on)
    }
}

#[derive(Deserialize)]
struct Periods {
    periods: Vec<Period>,
}

static PERIODS: LazyLock<Vec<Period>> = LazyLock::new(|| {
    toml::from_str::<Periods>(include_str!("dpc_periods.toml"))
        .expect("dpc_periods.toml is valid (checked by a unit test)")
        .periods
});

/// The period `day` counts for (an extension included), newest first.
pub fn period_of(day: NaiveDate) -> Option<&'static Period> {
    let mut periods: Vec<&Period> = PERIODS.iter().collect();
    periods.sort_by_key(|p| std::cmp::Reverse(p.starts_on));
    periods
        .into_iter()
        .find(|p| p.starts_on <= day && day <= p.last_day())
}

/// One DPC action completed here, from its certificate.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct Action {
    pub course_title: String,
    pub action_type: String,
    pub action_reference: Option<String>,
    pub session_number: Option<String>,
    pub organisation: String,
    pub completed_on: NaiveDate,
    pub hours: f64,
    pub certificate_code: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct TypeTotal {
    pub action_type: String,
    pub label: String,
    pub actions: usize,
    pub hours: f64,
}

/// The practitioner's DPC record over one period.
#[derive(Debug, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct DpcRecord {
    pub period: String,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub actions: Vec<Action>,
    pub by_type: Vec<TypeTotal>,
    pub hours: f64,
    /// At least two actions of two different types, with what was done here.
    pub obligation_met: bool,
}

/// The action a valid DPC certificate attests, if it falls within the period.
pub fn action_of(snapshot: &Snapshot, code: &str, period: &Period) -> Option<Action> {
    let dpc = snapshot.dpc.as_ref()?;
    let day = snapshot.completed_on;
    (period.starts_on <= day && day <= period.last_day()).then(|| Action {
        course_title: snapshot.course.title.clone(),
        action_type: dpc.action_type.clone(),
        action_reference: dpc.action_reference.clone(),
        session_number: dpc.session_number.clone(),
        organisation: snapshot.organisation.name.clone(),
        completed_on: day,
        hours: snapshot.course.duration_hours,
        certificate_code: crate::certificates::model::grouped(code),
    })
}

pub fn record(period: &Period, mut actions: Vec<Action>) -> DpcRecord {
    actions.sort_by_key(|a| a.completed_on);
    let mut by_type: Vec<TypeTotal> = Vec::new();
    for action in &actions {
        match by_type
            .iter_mut()
            .find(|t| t.action_type == action.action_type)
        {
            Some(t) => {
                t.actions += 1;
                t.hours += action.hours;
            }
            None => by_type.push(TypeTotal {
                action_type: action.action_type.clone(),
                label: DpcActionType::label_of(&action.action_type).to_owned(),
                actions: 1,
                hours: action.hours,
            }),
        }
    }
    DpcRecord {
        period: period.label.clone(),
        starts_on: period.starts_on,
        ends_on: period.last_day(),
        hours: actions.iter().map(|a| a.hours).sum(),
        obligation_met: actions.len() >= 2 && by_type.len() >= 2,
        actions,
        by_type,
    }
}

/// « 7 h », « 4,5 h » (kept here for the pages, until they call `crate::fr` themselves).
pub use crate::fr::hours;

pub fn pdf(name: &str, record: &DpcRecord) -> anyhow::Result<Vec<u8>> {
    let mut doc = Document::new("Parcours de DPC");
    doc.paragraph(
        "Parcours de développement professionnel continu",
        16.0,
        true,
        true,
    );
    doc.paragraph(
        &format!("Actions suivies sur QVT Campus — période {}", record.period),
        10.0,
        false,
        true,
    );
    doc.space(10.0);
    doc.fields(&[
        ("Professionnel", name.to_owned()),
        (
            "Période",
            format!(
                "du {} au {}",
                fr::short_date(record.starts_on),
                fr::short_date(record.ends_on)
            ),
        ),
        ("Heures de formation", hours(record.hours)),
        (
            "Obligation (2 actions de 2 types)",
            if record.obligation_met {
                "satisfaite par les actions suivies ici".to_owned()
            } else {
                "non satisfaite par les seules actions suivies ici".to_owned()
            },
        ),
    ]);
    doc.heading("Actions");
    let rows: Vec<Vec<String>> = record
        .actions
        .iter()
        .map(|a| {
            vec![
                a.course_title.clone(),
                DpcActionType::label_of(&a.action_type).to_owned(),
                a.action_reference.clone().unwrap_or_default(),
                fr::short_date(a.completed_on),
                hours(a.hours),
                a.certificate_code.clone(),
            ]
        })
        .collect();
    doc.table(
        &[
            Column::text("Action"),
            Column::text("Type"),
            Column::whole("Référence"),
            Column::whole("Achevée le"),
            Column::number("Durée"),
            Column::whole("Code de vérification"),
        ],
        &rows,
    );
    doc.heading("Par type d'action");
    let totals: Vec<(&str, String)> = record
        .by_type
        .iter()
        .map(|t| {
            (
                t.label.as_str(),
                format!("{} action(s), {}", t.actions, hours(t.hours)),
            )
        })
        .collect();
    doc.fields(&totals);
    doc.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(kind: &str, day: (i32, u32, u32)) -> Action {
        Action {
            course_title: "X".into(),
            action_type: kind.into(),
            action_reference: None,
            session_number: None,
            organisation: "ODPC".into(),
            completed_on: NaiveDate::from_ymd_opt(day.0, day.1, day.2).unwrap(),
            hours: 7.0,
            certificate_code: "C".into(),
        }
    }

    #[test]
    fn periods_are_data_and_extensions_count() {
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(period_of(day(2024, 5, 1)).unwrap().label, "2023-2025");
        assert_eq!(period_of(day(2026, 12, 1)).unwrap().label, "2023-2025");
        assert_eq!(period_of(day(2021, 1, 1)).unwrap().label, "2020-2022");
        assert!(period_of(day(2019, 1, 1)).is_none());
    }

    #[test]
    fn the_obligation_needs_two_actions_of_two_types() {
        let period = period_of(NaiveDate::from_ymd_opt(2024, 1, 1).unwrap()).unwrap();
        let one_type = record(
            period,
            vec![
                action("formation_continue", (2024, 1, 1)),
                action("formation_continue", (2025, 1, 1)),
            ],
        );
        assert!(!one_type.obligation_met);
        assert_eq!(one_type.by_type.len(), 1);
        assert_eq!(one_type.hours, 14.0);
        let two = record(
            period,
            vec![
                action("epp", (2026, 3, 1)),
                action("formation_continue", (2024, 1, 1)),
            ],
        );
        assert!(two.obligation_met);
        assert_eq!(two.actions[0].action_type, "formation_continue", "by date");
    }
}
