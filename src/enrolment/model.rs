//! Session and enrolment rules as pure functions: what a session must say for its kind of
//! course, when it accepts enrolments, and the identifiers it carries; a new session parsed
//! from what the API or the admin page sent.

use chrono::NaiveDate;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::catalog::model::CourseKind;
use crate::codes::code_list;
use crate::error::AppError;
use crate::http::Fields;
use crate::identity::model::OrgKind;

/// Which organisations may run a kind of course: DPC actions are a training body's (it
/// holds the ODPC registration), the diploma a university's; the initial-training module
/// belongs to the curricula of universities and schools. The platform runs anything.
/// `Err` says why not, in words for the form.
pub fn may_run(organisation: OrgKind, course: CourseKind) -> Result<(), &'static str> {
    match (course, organisation) {
        (_, OrgKind::Platform)
        | (CourseKind::Dpc, OrgKind::TrainingBody)
        | (CourseKind::Du, OrgKind::University)
        | (CourseKind::InitialModule, OrgKind::University | OrgKind::NursingSchool) => Ok(()),
        (CourseKind::Dpc, _) => Err("seul un organisme de DPC peut ouvrir une session DPC"),
        (CourseKind::Du, _) => Err("seule une université peut ouvrir une session de diplôme d'université"),
        (CourseKind::InitialModule, _) => {
            Err("le module de formation initiale est ouvert par une université ou un institut de formation")
        }
    }
}

code_list!(
    /// Where an enrolment stands: active until withdrawn (never deleted, for the proof).
    EnrolmentStatus, "statut d'inscription" {
    Active = "active": "Inscrit",
    Withdrawn = "withdrawn": "Désinscrit",
});

code_list!(
    /// Who may enrol in a session.
    EnrolmentMode, "mode d'inscription" {
    /// Anyone signed in may enrol.
    Open = "open": "Ouverte",
    /// Enrolment needs the session's key.
    Key = "key": "Sur clé d'inscription",
    /// Only the organisation's admins enrol people.
    AdminOnly = "admin_only": "Par l'organisation",
});

pub fn parse_date(raw: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
        .map_err(|_| "date attendue au format AAAA-MM-JJ".to_string())
}

/// ANDPC reference of a DPC action: 11 digits.
pub fn parse_dpc_action_ref(raw: &str) -> Result<String, String> {
    let value: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
    if value.len() == 11 && value.bytes().all(|b| b.is_ascii_digit()) {
        Ok(value)
    } else {
        Err("référence de l'action DPC : 11 chiffres attendus".into())
    }
}

/// The orientation prioritaire of a DPC action, as the ANDPC numbers them in the decree in
/// force: a number from 1 to 999 (the training body declares it; we check the shape only).
pub fn parse_dpc_orientation(raw: &str) -> Result<String, String> {
    let value = raw.trim().trim_start_matches("n°").trim();
    match value.parse::<u16>() {
        Ok(n) if (1..=999).contains(&n) && value.bytes().all(|b| b.is_ascii_digit()) => {
            Ok(n.to_string())
        }
        _ => {
            Err("orientation prioritaire : numéro de 1 à 999 (celui de l'arrêté en vigueur)".into())
        }
    }
}

/// Session number of a DPC action: 1 to 4 digits.
pub fn parse_dpc_session_no(raw: &str) -> Result<String, String> {
    let value = raw.trim();
    if (1..=4).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_digit()) {
        Ok(value.to_owned())
    } else {
        Err("numéro de session DPC : 1 à 4 chiffres".into())
    }
}

/// `2026-2027`: two consecutive years.
pub fn parse_academic_year(raw: &str) -> Result<String, String> {
    let value = raw.trim();
    let consecutive = value
        .split_once('-')
        .and_then(|(a, b)| Some((a.parse::<u16>().ok()?, b.parse::<u16>().ok()?)))
        .is_some_and(|(a, b)| a >= 2000 && b == a + 1);
    if consecutive {
        Ok(value.to_owned())
    } else {
        Err("année universitaire attendue sous la forme 2026-2027".into())
    }
}

pub fn parse_title(raw: &str) -> Result<String, String> {
    let value = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    // A NUL or an escape would reach pages, PDFs and CSV files as is.
    if value.chars().any(char::is_control) {
        return Err("caractères de contrôle interdits".into());
    }
    match value.chars().count() {
        0 => Err("titre obligatoire".into()),
        n if n > 200 => Err("au plus 200 caractères".into()),
        _ => Ok(value),
    }
}

/// Curriculum of a promotion (DFGSM, DFASM, IFSI…): short free text.
pub fn parse_curriculum(raw: &str) -> Result<String, String> {
    let value = raw.trim();
    if value.is_empty() || value.chars().count() > 60 {
        Err("cursus : 1 à 60 caractères (DFGSM, DFASM, IFSI…)".into())
    } else {
        Ok(value.to_owned())
    }
}

pub fn parse_enrolment_key(raw: &str) -> Result<String, String> {
    let value = raw.trim();
    if (6..=64).contains(&value.chars().count()) {
        Ok(value.to_owned())
    } else {
        Err("clé d'inscription : 6 à 64 caractères".into())
    }
}

pub fn parse_capacity(value: i64) -> Result<i32, String> {
    if (1..=100_000).contains(&value) {
        Ok(value as i32)
    } else {
        Err("capacité : entre 1 et 100 000".into())
    }
}

/// Why a session refuses an enrolment today, if it does.
pub fn closed_reason(
    today: NaiveDate,
    opens_on: NaiveDate,
    closes_on: NaiveDate,
    closed: bool,
    by_admin: bool,
) -> Option<&'static str> {
    if closed {
        Some("Cette session est close.")
    } else if today > closes_on {
        Some("Les inscriptions à cette session sont terminées.")
    } else if today < opens_on && !by_admin {
        Some("Les inscriptions à cette session ne sont pas encore ouvertes.")
    } else {
        None
    }
}

/// A new session as sent, to the API as JSON or from the admin page's form: every field as
/// typed. [`NewSession::try_from`] parses it.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSession {
    /// Course slug.
    pub course: Option<String>,
    pub title: Option<String>,
    /// `YYYY-MM-DD`.
    pub opens_on: Option<String>,
    pub closes_on: Option<String>,
    pub capacity: Option<i64>,
    /// `open`, `key` or `admin_only`.
    pub enrolment_mode: Option<String>,
    pub enrolment_key: Option<String>,
    /// DPC only: ANDPC action reference, 11 digits.
    pub dpc_action_ref: Option<String>,
    /// DPC only.
    pub dpc_session_no: Option<String>,
    /// DPC only: the orientation prioritaire's number in the decree in force.
    pub dpc_orientation: Option<String>,
    /// `2026-2027`.
    pub academic_year: Option<String>,
    /// DFGSM, DFASM, IFSI…
    pub curriculum: Option<String>,
    /// Only practitioners whose RPPS Pro Santé Connect verified may enrol (default false).
    pub requires_verified_rpps: Option<bool>,
}

impl TryFrom<CreateSession> for NewSession {
    type Error = AppError;

    /// Parses every field, naming each invalid one; dates in order, a key with (only) the
    /// `key` mode.
    fn try_from(body: CreateSession) -> Result<Self, AppError> {
        let mut f = Fields::new();
        let course = f.required("course", body.course.as_deref(), |r| {
            Ok(r.trim().to_owned())
        });
        let title = f.required("title", body.title.as_deref(), parse_title);
        let opens_on = f.required("opens_on", body.opens_on.as_deref(), parse_date);
        let closes_on = f.required("closes_on", body.closes_on.as_deref(), parse_date);
        let capacity = body
            .capacity
            .and_then(|c| f.check("capacity", parse_capacity(c)));
        let mode = f.required(
            "enrolment_mode",
            body.enrolment_mode.as_deref(),
            EnrolmentMode::parse,
        );
        let key = f.optional(
            "enrolment_key",
            body.enrolment_key.as_deref(),
            parse_enrolment_key,
        );
        let dpc_action_ref = f.optional(
            "dpc_action_ref",
            body.dpc_action_ref.as_deref(),
            parse_dpc_action_ref,
        );
        let dpc_session_no = f.optional(
            "dpc_session_no",
            body.dpc_session_no.as_deref(),
            parse_dpc_session_no,
        );
        let dpc_orientation = f.optional(
            "dpc_orientation",
            body.dpc_orientation.as_deref(),
            parse_dpc_orientation,
        );
        let academic_year = f.optional(
            "academic_year",
            body.academic_year.as_deref(),
            parse_academic_year,
        );
        let curriculum = f.optional("curriculum", body.curriculum.as_deref(), parse_curriculum);
        if let (Some(o), Some(c)) = (opens_on, closes_on) {
            if c < o {
                f.error("closes_on", "la clôture précède l'ouverture");
            }
        }
        match (mode, &key) {
            (Some(EnrolmentMode::Key), None) => {
                f.error("enrolment_key", "obligatoire avec le mode « key »")
            }
            (Some(m), Some(_)) if m != EnrolmentMode::Key => {
                f.error("enrolment_key", "seulement avec le mode « key »")
            }
            _ => {}
        }
        f.finish()?;
        Ok(NewSession {
            course: course.expect("checked"),
            title: title.expect("checked"),
            opens_on: opens_on.expect("checked"),
            closes_on: closes_on.expect("checked"),
            capacity,
            mode: mode.expect("checked"),
            key,
            dpc_action_ref,
            dpc_session_no,
            dpc_orientation,
            academic_year,
            curriculum,
            requires_verified_rpps: body.requires_verified_rpps.unwrap_or(false),
        })
    }
}

/// What an org admin asks for, every field parsed: what `service::create_session` opens.
pub struct NewSession {
    pub course: String,
    pub title: String,
    pub opens_on: NaiveDate,
    pub closes_on: NaiveDate,
    pub capacity: Option<i32>,
    pub mode: EnrolmentMode,
    pub key: Option<String>,
    pub dpc_action_ref: Option<String>,
    pub dpc_session_no: Option<String>,
    pub dpc_orientation: Option<String>,
    pub academic_year: Option<String>,
    pub curriculum: Option<String>,
    pub requires_verified_rpps: bool,
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_title_has_no_control_character_and_its_spaces_are_collapsed() {
        use super::parse_title;
        assert_eq!(
            parse_title("  Session\t de\nprintemps ").unwrap(),
            "Session de printemps"
        );
        assert!(parse_title("Session\u{0}1").is_err());
        assert!(parse_title("Session \u{1b}[31m").is_err());
    }

    #[test]
    fn each_kind_of_organisation_runs_its_own_kind_of_course() {
        use super::may_run;
        use crate::catalog::model::CourseKind::*;
        use crate::identity::model::OrgKind::*;
        assert!(may_run(TrainingBody, Dpc).is_ok());
        assert!(may_run(University, Dpc).is_err());
        assert!(may_run(University, Du).is_ok());
        assert!(may_run(TrainingBody, Du)
            .unwrap_err()
            .contains("université"));
        assert!(may_run(NursingSchool, Du).is_err());
        assert!(may_run(NursingSchool, InitialModule).is_ok());
        assert!(may_run(TrainingBody, InitialModule).is_err());
        assert!(may_run(Platform, Du).is_ok());
    }

    use super::*;

    fn d(s: &str) -> NaiveDate {
        parse_date(s).unwrap()
    }

    #[test]
    fn a_session_takes_enrolments_between_its_dates_and_admins_may_enrol_early() {
        let (opens, closes) = (d("2026-09-01"), d("2026-12-31"));
        assert!(closed_reason(d("2026-10-01"), opens, closes, false, false).is_none());
        assert!(closed_reason(d("2026-12-31"), opens, closes, false, false).is_none());
        assert!(closed_reason(d("2027-01-01"), opens, closes, false, true).is_some());
        assert!(closed_reason(d("2026-08-31"), opens, closes, false, false).is_some());
        assert!(closed_reason(d("2026-08-31"), opens, closes, false, true).is_none());
        assert!(closed_reason(d("2026-10-01"), opens, closes, true, true).is_some());
    }

    #[test]
    fn a_new_session_names_every_invalid_field_at_once() {
        let raw = CreateSession {
            requires_verified_rpps: None,
            course: Some("qvt".into()),
            title: Some("  Promotion   2026 ".into()),
            opens_on: Some("2026-09-01".into()),
            closes_on: Some("2026-08-01".into()),
            capacity: Some(0),
            enrolment_mode: Some("key".into()),
            enrolment_key: None,
            dpc_action_ref: None,
            dpc_session_no: None,
            dpc_orientation: None,
            academic_year: None,
            curriculum: None,
        };
        let e = NewSession::try_from(raw).err().expect("invalid");
        let fields: Vec<&str> = e.errors().iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["capacity", "closes_on", "enrolment_key"]);
        let ok = NewSession::try_from(CreateSession {
            requires_verified_rpps: None,
            closes_on: Some("2026-12-31".into()),
            capacity: Some(30),
            enrolment_mode: Some("open".into()),
            course: Some(" qvt ".into()),
            title: Some("  Promotion   2026 ".into()),
            opens_on: Some("2026-09-01".into()),
            enrolment_key: None,
            dpc_action_ref: None,
            dpc_session_no: None,
            dpc_orientation: None,
            academic_year: None,
            curriculum: None,
        })
        .unwrap();
        assert_eq!(
            (ok.course.as_str(), ok.title.as_str()),
            ("qvt", "Promotion 2026")
        );
        assert_eq!((ok.capacity, ok.mode), (Some(30), EnrolmentMode::Open));
    }

    #[test]
    fn identifiers_are_checked() {
        assert_eq!(
            parse_dpc_action_ref("1234 567 8901").unwrap(),
            "12345678901"
        );
        assert!(parse_dpc_action_ref("1234567890").is_err());
        assert!(parse_dpc_session_no("12345").is_err());
        assert_eq!(parse_dpc_orientation(" n° 016 ").unwrap(), "16");
        assert!(parse_dpc_orientation("0").is_err());
        assert!(parse_dpc_orientation("1000").is_err());
        assert!(parse_dpc_orientation("12a").is_err());
        assert_eq!(parse_academic_year("2026-2027").unwrap(), "2026-2027");
        assert!(parse_academic_year("2026-2028").is_err());
        assert!(parse_date("31/12/2026").is_err());
        assert!(EnrolmentMode::parse("invite").is_err());
        assert!(parse_capacity(0).is_err());
    }
}
