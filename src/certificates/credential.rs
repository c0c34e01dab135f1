//! The certificate as an Open Badges 3.0 credential (W3C Verifiable Credentials data
//! model 2.0), secured as VC-JOSE-COSE has it: the JWS payload is the credential itself,
//! typed `vc+jwt`, signed RS256 by the issuer key. Also the status list credential.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use super::model::Snapshot;
use super::store::Certificate;

pub const VC_CONTEXT: &str = "https://www.w3.org/ns/credentials/v2";
pub const OB_CONTEXT: &str = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json";
pub const PLATFORM_NAME: &str = "QVT Campus";

#[derive(Debug, Serialize, Deserialize)]
pub struct Profile {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: Vec<String>,
    pub name: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusEntry {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub status_purpose: String,
    /// A string of digits, as the specification has it.
    pub status_list_index: String,
    pub status_list_credential: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Criteria {
    pub narrative: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Achievement {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: Vec<String>,
    pub achievement_type: String,
    pub name: String,
    pub description: String,
    pub criteria: Criteria,
    pub creator: Profile,
}

/// Who the credential is about (Open Badges requires an `id` or an `identifier`).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdentityObject {
    #[serde(rename = "type")]
    pub kind: String,
    pub identity_hash: String,
    pub identity_type: String,
    pub hashed: bool,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subject {
    #[serde(rename = "type")]
    pub kind: Vec<String>,
    pub identifier: Vec<IdentityObject>,
    pub achievement: Achievement,
    /// Extension: the facts the certificate attests, as frozen at issuance.
    pub attestation: Snapshot,
    /// Extension: the code printed on the paper certificate.
    pub verification_code: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Credential {
    #[serde(rename = "@context")]
    pub context: Vec<String>,
    pub id: String,
    #[serde(rename = "type")]
    pub kind: Vec<String>,
    pub issuer: Profile,
    pub valid_from: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<DateTime<Utc>>,
    pub name: String,
    pub credential_subject: Subject,
    pub credential_status: StatusEntry,
}

/// Percent-encodes everything but the unreserved characters of RFC 3986.
fn url_segment(raw: &str) -> String {
    raw.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn platform(public_url: &str) -> Profile {
    Profile {
        id: public_url.to_owned(),
        kind: vec!["Profile".into()],
        name: PLATFORM_NAME.into(),
    }
}

fn criteria(snapshot: &Snapshot) -> String {
    format!(
        "A suivi l'intégralité de la formation « {} » (version {}, {} h) et satisfait à ses \
         conditions d'achèvement : toutes les leçons, le temps de formation minimal et les \
         évaluations requises.",
        snapshot.course.title, snapshot.course.version, snapshot.course.duration_hours
    )
}

/// A certificate's credential, the payload of its VC-JWT.
pub fn credential(public_url: &str, certificate: &Certificate, snapshot: Snapshot) -> Credential {
    let id = format!("urn:uuid:{}", certificate.id);
    let issued = certificate.issued_at.and_utc();
    let (list, index) = super::status::position(i64::from(certificate.status_index));
    let list_url = format!("{public_url}/status-lists/{list}");
    let organisation_id = format!(
        "{public_url}/api/v1/organisations/{}",
        certificate.organisation_id
    );
    Credential {
        context: vec![VC_CONTEXT.into(), OB_CONTEXT.into()],
        id,
        kind: vec!["VerifiableCredential".into(), "OpenBadgeCredential".into()],
        issuer: platform(public_url),
        valid_from: issued,
        valid_until: None,
        name: snapshot.course.title.clone(),
        credential_subject: Subject {
            kind: vec!["AchievementSubject".into()],
            identifier: vec![IdentityObject {
                kind: "IdentityObject".into(),
                identity_hash: snapshot.holder.name.clone(),
                identity_type: "name".into(),
                hashed: false,
            }],
            achievement: Achievement {
                id: format!(
                    "{public_url}/api/v1/courses/{}",
                    url_segment(&snapshot.course.slug)
                ),
                kind: vec!["Achievement".into()],
                achievement_type: "Certificate".into(),
                name: snapshot.course.title.clone(),
                description: snapshot.course.objectives.join(" "),
                criteria: Criteria {
                    narrative: criteria(&snapshot),
                },
                creator: Profile {
                    id: organisation_id,
                    kind: vec!["Profile".into()],
                    name: snapshot.organisation.name.clone(),
                },
            },
            verification_code: super::model::grouped(&certificate.code),
            attestation: snapshot,
        },
        credential_status: StatusEntry {
            id: format!("{list_url}#{index}"),
            kind: "BitstringStatusListEntry".into(),
            status_purpose: "revocation".into(),
            status_list_index: index.to_string(),
            status_list_credential: list_url,
        },
    }
}

/// Status list `list`'s credential, the payload of its VC-JWT.
pub fn status_list(
    public_url: &str,
    list: i64,
    encoded_list: &str,
    at: NaiveDateTime,
) -> serde_json::Value {
    let url = format!("{public_url}/status-lists/{list}");
    let at = at.and_utc();
    serde_json::json!({
        "@context": [VC_CONTEXT],
        "id": url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": platform(public_url),
        "validFrom": at,
        "credentialSubject": {
            "id": format!("{url}#list"),
            "type": "BitstringStatusList",
            "statusPurpose": "revocation",
            "encodedList": encoded_list,
        },
    })
}
