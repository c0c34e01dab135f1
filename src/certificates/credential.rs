//! The certificate as an Open Badges 3.0 credential (W3C Verifiable Credentials data
//! model 2.0), secured by OB 3.0's JSON Web Token proof format (§ 8.2): the JWS payload is
//! the credential itself plus the JWT claims mapped from it (`iss` = issuer, `jti` = id,
//! `nbf` = validFrom, `sub` = subject), signed RS256, `kid` the URL of the key. The issuer
//! is the organisation that awards it, described by a Profile at a stable URL
//! (`/issuers/{id}`). Also the status list credential, one per organisation and list.

use chrono::{DateTime, NaiveDateTime, Timelike, Utc};
use serde::{Deserialize, Serialize};

use super::model::Snapshot;
use super::store::Certificate;

pub const VC_CONTEXT: &str = "https://www.w3.org/ns/credentials/v2";
pub const OB_CONTEXT: &str = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json";
pub const PLATFORM_NAME: &str = "QVT Campus";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Profile {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: Vec<String>,
    pub name: String,
}

/// The stable URL of an organisation's issuer Profile.
pub fn issuer_url(public_url: &str, organisation_id: &str) -> String {
    format!("{public_url}/issuers/{}", url_segment(organisation_id))
}

/// The organisation `organisation_id` named `name`, as an issuer.
pub fn issuer(public_url: &str, organisation_id: &str, name: &str) -> Profile {
    Profile {
        id: issuer_url(public_url, organisation_id),
        kind: vec!["Profile".into()],
        name: name.to_owned(),
    }
}

/// An issuer's Profile document (OB 3.0 § B.1), served at its id: who awards, and where.
pub fn profile_document(public_url: &str, organisation_id: &str, name: &str) -> serde_json::Value {
    let profile = issuer(public_url, organisation_id, name);
    serde_json::json!({
        "@context": [VC_CONTEXT, OB_CONTEXT],
        "id": profile.id,
        "type": profile.kind,
        "name": profile.name,
        "url": public_url,
        "description": format!("{name}, qui délivre ses attestations de formation par la plateforme {PLATFORM_NAME}."),
    })
}

/// The status list `list` as published for an organisation's credentials.
pub fn status_list_url(public_url: &str, organisation_id: &str, list: i64) -> String {
    format!(
        "{}/status-lists/{list}",
        issuer_url(public_url, organisation_id)
    )
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
    /// A per-certificate identifier of the holder (`sub`): no identifier that would link
    /// one person's credentials together. Absent from credentials issued before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
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
    /// The JWT claims OB 3.0 maps from the credential (absent from those issued before).
    #[serde(flatten)]
    pub claims: Option<JwtClaims>,
}

/// `iss` = issuer.id, `jti` = id, `nbf` = validFrom, `sub` = credentialSubject.id.
#[derive(Debug, Serialize, Deserialize)]
pub struct JwtClaims {
    pub iss: String,
    pub jti: String,
    pub nbf: i64,
    pub sub: String,
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

/// A UUID URN derived from the certificate's id, distinct from it and the same at each
/// download.
fn subject_id(certificate_id: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("qvt-campus subject\0{certificate_id}"));
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    format!(
        "urn:uuid:{}",
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    )
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
    // `nbf` is whole seconds, and OB 3.0 wants it equal to validFrom.
    let issued = certificate
        .issued_at
        .and_utc()
        .with_nanosecond(0)
        .expect("0 is a valid nanosecond");
    let (list, index) = super::status::position(i64::from(certificate.status_index));
    let list_url = status_list_url(public_url, &certificate.organisation_id, list);
    let issuer = issuer(
        public_url,
        &certificate.organisation_id,
        &snapshot.organisation.name,
    );
    let subject = subject_id(&certificate.id);
    Credential {
        context: vec![VC_CONTEXT.into(), OB_CONTEXT.into()],
        claims: Some(JwtClaims {
            iss: issuer.id.clone(),
            jti: id.clone(),
            nbf: issued.timestamp(),
            sub: subject.clone(),
        }),
        id,
        kind: vec!["VerifiableCredential".into(), "OpenBadgeCredential".into()],
        issuer: issuer.clone(),
        valid_from: issued,
        valid_until: None,
        name: snapshot.course.title.clone(),
        credential_subject: Subject {
            id: Some(subject),
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
                // One objective per line, each ended, as the paper certificate lists them.
                description: objectives(&snapshot.course.objectives),
                criteria: Criteria {
                    narrative: criteria(&snapshot),
                },
                creator: issuer,
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

/// The objectives as one text: each on its own line, ended by a full stop.
fn objectives(objectives: &[String]) -> String {
    objectives
        .iter()
        .map(|o| {
            let o = o.trim();
            if o.ends_with(['.', '!', '?', '…']) {
                format!("- {o}")
            } else {
                format!("- {o}.")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Status list `list`'s credential, the payload of its VC-JWT: as an organisation's
/// (`issuer`: its id and name), whose credentials point there, or as published before
/// (the platform's, at `/status-lists/{list}`). The bits are the same either way.
pub fn status_list(
    public_url: &str,
    issuer: Option<(&str, &str)>,
    list: i64,
    encoded_list: &str,
    at: NaiveDateTime,
) -> serde_json::Value {
    let (url, profile) = match issuer {
        Some((id, name)) => (
            status_list_url(public_url, id, list),
            self::issuer(public_url, id, name),
        ),
        None => (
            format!("{public_url}/status-lists/{list}"),
            platform(public_url),
        ),
    };
    let at = at
        .and_utc()
        .with_nanosecond(0)
        .expect("0 is a valid nanosecond");
    serde_json::json!({
        "@context": [VC_CONTEXT],
        "id": url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": profile,
        "validFrom": at,
        "credentialSubject": {
            "id": format!("{url}#list"),
            "type": "BitstringStatusList",
            "statusPurpose": "revocation",
            "encodedList": encoded_list,
            // Milliseconds, as verifiers may cache it (the Cache-Control we send).
            "ttl": super::status::CACHE_SECONDS * 1000,
        },
        "iss": profile.id,
        "jti": url,
        "nbf": at.timestamp(),
    })
}
