//! What a certificate attests (an immutable snapshot taken at issuance) and its public
//! verification code: 140 random bits in Crockford base32, printed in groups of four.

use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::catalog::model::CourseKind;
use crate::codes::code_list;

code_list!(
    /// What a certificate attests: a course's completion, or a DU's completion record.
    CertificateKind, "type d'attestation" {
    InitialModule = "initial_module": "Attestation de formation initiale",
    Dpc = "dpc": "Attestation de DPC",
    Du = "du": "Attestation de diplôme d'université",
    DuRecord = "du_record": "Relevé de diplôme d'université",
});

impl From<CourseKind> for CertificateKind {
    fn from(kind: CourseKind) -> Self {
        match kind {
            CourseKind::InitialModule => Self::InitialModule,
            CourseKind::Dpc => Self::Dpc,
            CourseKind::Du => Self::Du,
        }
    }
}

code_list!(
    /// What a verification finds.
    Validity, "statut d'attestation" {
    Valid = "valid": "Valide",
    Revoked = "revoked": "Révoquée",
    Unknown = "unknown": "Inconnue",
    Invalid = "invalid": "Invalide",
});

impl Validity {
    pub fn of(revoked: bool) -> Self {
        if revoked {
            Self::Revoked
        } else {
            Self::Valid
        }
    }
}

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// 28 symbols of 5 bits: 140 bits of randomness.
pub const CODE_SYMBOLS: usize = 28;

/// A fresh random code, without separators.
pub fn new_code() -> String {
    let mut bytes = [0u8; CODE_SYMBOLS];
    getrandom::fill(&mut bytes).expect("the OS random source works");
    // 256 is a multiple of 32: taking the low 5 bits keeps every symbol uniform.
    bytes
        .iter()
        .map(|b| CROCKFORD[(b & 31) as usize] as char)
        .collect()
}

/// "ABCD-EFGH-…": how the code is printed and read aloud.
pub fn grouped(code: &str) -> String {
    code.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

/// Reads a code as people type it: any case, with or without dashes and spaces, O for 0
/// and I or L for 1. None unless it has exactly the right number of valid symbols.
pub fn parse_code(raw: &str) -> Option<String> {
    let mut code = String::with_capacity(CODE_SYMBOLS);
    for c in raw.chars() {
        let c = match c.to_ascii_uppercase() {
            '-' | ' ' => continue,
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        };
        if !CROCKFORD.contains(&(c as u8)) || !c.is_ascii() {
            return None;
        }
        code.push(c);
        if code.len() > CODE_SYMBOLS {
            return None;
        }
    }
    (code.len() == CODE_SYMBOLS).then_some(code)
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct Holder {
    pub name: String,
    pub profession: String,
    pub rpps: Option<String>,
    /// The RPPS was verified by Pro Santé Connect (absent from older snapshots: false).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rpps_verified: bool,
    pub adeli: Option<String>,
    pub student_number: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct AttestedCourse {
    pub slug: String,
    pub title: String,
    pub version: String,
    /// `initial_module`, `dpc` or `du`.
    pub kind: String,
    pub duration_hours: f64,
    pub objectives: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct AttestedSession {
    pub title: String,
    pub opens_on: NaiveDate,
    pub closes_on: NaiveDate,
    pub academic_year: Option<String>,
    pub curriculum: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct AttestedOrganisation {
    pub name: String,
    pub kind: String,
    pub siret: Option<String>,
    pub uai: Option<String>,
    pub odpc_number: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct AttestedDpc {
    pub action_reference: Option<String>,
    pub session_number: Option<String>,
    pub odpc_number: Option<String>,
    pub action_type: String,
    pub modality: String,
    pub orientations: Vec<u32>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct Evaluation {
    /// Percent.
    pub pre_test: Option<f64>,
    pub post_test: Option<f64>,
    /// Percentage points.
    pub gain: Option<f64>,
    /// Best score at the graded quizzes required for completion, percent.
    pub final_score: Option<f64>,
}

/// What the learning records say of the holder, as the completion rules gathered them:
/// certificates write it down but never read those records themselves.
#[derive(Debug, Clone)]
pub struct Achievement {
    /// The first view of a lesson, if any.
    pub started_at: Option<chrono::NaiveDateTime>,
    pub evaluation: Evaluation,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct AttestedUnit {
    pub title: String,
    /// As printed: "12,5/20".
    pub grade: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct AttestedThesis {
    pub title: String,
    pub supervisor: String,
    pub grade: String,
    pub defended_on: Option<NaiveDate>,
}

/// What a DU completion record adds: the jury's decision on units and thesis.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct AttestedDuRecord {
    /// `<university code>-<year>-<sequence>`.
    pub number: String,
    /// The issuing university and, for an inter-university diploma, its partner.
    pub universities: Vec<String>,
    pub responsibles: Vec<String>,
    pub units: Vec<AttestedUnit>,
    pub thesis: AttestedThesis,
    pub decision: String,
    pub mention: Option<String>,
    pub decided_on: NaiveDate,
    pub jury: Vec<String>,
}

/// Everything the certificate attests, frozen at issuance.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct Snapshot {
    pub holder: Holder,
    pub course: AttestedCourse,
    pub session: AttestedSession,
    pub organisation: AttestedOrganisation,
    pub dpc: Option<AttestedDpc>,
    pub started_on: NaiveDate,
    pub completed_on: NaiveDate,
    /// Time on task measured by the platform.
    pub measured_seconds: i64,
    pub evaluation: Evaluation,
    #[serde(with = "crate::http::timestamps::utc")]
    pub issued_at: NaiveDateTime,
    /// For a DU completion record only.
    #[serde(default)]
    pub du_record: Option<AttestedDuRecord>,
}

impl Snapshot {
    /// "3 h 25 min": the measured time as printed.
    pub fn measured_time(&self) -> String {
        crate::fr::duration_minutes(self.measured_seconds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_names_the_dpc_kind_as_certificates_do() {
        assert_eq!(
            CertificateKind::Dpc.code(),
            crate::identity::store::DPC_CERTIFICATE_KIND
        );
    }

    #[test]
    fn codes_are_long_random_and_read_back_however_typed() {
        let code = new_code();
        assert_eq!(code.len(), CODE_SYMBOLS);
        assert_ne!(code, new_code());
        let printed = grouped(&code);
        assert_eq!(printed.len(), CODE_SYMBOLS + CODE_SYMBOLS / 4 - 1);
        assert_eq!(parse_code(&printed), Some(code.clone()));
        assert_eq!(
            parse_code(&printed.to_lowercase().replace('-', " ")),
            Some(code)
        );
        assert_eq!(parse_code("0O1IL").map(|c| c.len()), None);
        assert_eq!(
            parse_code("OOOO-IIII-LLLL-0000-1111-2222-3333"),
            Some("0000111111110000111122223333".into())
        );
        assert_eq!(parse_code("UUUU-0000-0000-0000-0000-0000-0000"), None);
        assert_eq!(parse_code(&"0".repeat(29)), None);
        assert_eq!(parse_code("é"), None);
    }
}
