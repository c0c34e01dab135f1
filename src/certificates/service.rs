//! Certificate records: writing one (inside the transaction `completion` or `du` issues it
//! in), showing them to whoever may see them, revoking them, and answering public
//! verification requests. What a certificate says of the learning comes from `completion`.

use chrono::{NaiveDateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::model::{self, AttestedCourse, AttestedDpc, AttestedOrganisation, AttestedSession};
use super::model::{Achievement, Holder, Snapshot};
use super::store::{self, Certificate};
use super::{credential, keys::IssuerKey, status};
use crate::catalog::model::Course;
use crate::certificates::model::{CertificateKind, Validity};
use crate::db::DbConn;
use crate::enrolment::store::{self as enrolment_store, Enrolment, Session};
use crate::error::AppError;
use crate::identity::auth::{require_org_admin, require_staff, CurrentUser};
use crate::identity::model::Profession;
use crate::identity::store::{self as identity, Organisation};
use crate::mail::{self, NewMail};

fn now() -> NaiveDateTime {
    Utc::now().naive_utc().trunc_subsecs(6)
}

fn not_found() -> AppError {
    AppError::not_found("Attestation introuvable.")
}

/// Everything the certificate will attest: the holder and the organisation read now from
/// the records, the learning as the completion rules found it (`achievement`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn snapshot(
    conn: &mut DbConn,
    course: &Course,
    enrolment: &Enrolment,
    session: &Session,
    completed_at: NaiveDateTime,
    measured_seconds: i64,
    issued_at: NaiveDateTime,
    achievement: Achievement,
) -> Result<Snapshot, AppError> {
    let account = identity::account(conn, &enrolment.account_id)?;
    let rpps_verified = identity::rpps_vouched(conn, &account.id, account.rpps.as_deref())?;
    let organisation = identity::organisation(conn, &session.organisation_id)?;
    let started_on = achievement
        .started_at
        .unwrap_or(enrolment.enrolled_at)
        .date();
    let odpc_number = session
        .odpc_number
        .clone()
        .or_else(|| organisation.odpc_number.clone());
    Ok(Snapshot {
        holder: Holder {
            name: account.full_name,
            profession: Profession::label_of(&account.profession).to_owned(),
            rpps: account.rpps,
            rpps_verified,
            adeli: account.adeli,
            student_number: account.student_number,
        },
        course: AttestedCourse {
            slug: course.slug.clone(),
            title: course.title.clone(),
            version: course.version_label.clone(),
            kind: course.kind.code().to_owned(),
            duration_hours: f64::from(course.duration_minutes) / 60.0,
            objectives: course.objectives.iter().map(|o| o.text.clone()).collect(),
        },
        session: AttestedSession {
            title: session.title.clone(),
            opens_on: session.opens_on,
            closes_on: session.closes_on,
            academic_year: session.academic_year.clone(),
            curriculum: session.curriculum.clone(),
        },
        dpc: course.dpc.as_ref().map(|dpc| AttestedDpc {
            action_reference: session.dpc_action_ref.clone(),
            session_number: session.dpc_session_no.clone(),
            odpc_number: odpc_number.clone(),
            action_type: dpc.action_type.code().to_owned(),
            modality: dpc.modality.code().to_owned(),
            // The orientation the training body declared for this session (the course's own
            // list only says what it was designed for).
            orientations: session
                .dpc_orientation
                .iter()
                .filter_map(|o| o.parse().ok())
                .collect(),
        }),
        organisation: AttestedOrganisation {
            name: organisation.name,
            kind: organisation.kind.code().to_owned(),
            siret: organisation.siret,
            uai: organisation.uai,
            odpc_number,
        },
        started_on,
        completed_on: completed_at.date(),
        measured_seconds,
        evaluation: achievement.evaluation,
        issued_at,
        du_record: None,
    })
}

/// Writes a certificate and queues the holder's mail; the caller's transaction makes it
/// one with the completion (or the revocation it replaces).
pub(crate) fn write(
    conn: &mut DbConn,
    enrolment: &Enrolment,
    session: &Session,
    snapshot: &Snapshot,
    kind: CertificateKind,
    replaces_id: Option<String>,
) -> Result<Certificate, AppError> {
    let mut certificate = Certificate {
        id: uuid::Uuid::new_v4().to_string(),
        enrolment_id: enrolment.id.clone(),
        organisation_id: session.organisation_id.clone(),
        session_id: session.id.clone(),
        account_id: enrolment.account_id.clone(),
        code: model::new_code(),
        kind,
        snapshot: serde_json::to_string(snapshot).map_err(anyhow::Error::from)?,
        issued_at: snapshot.issued_at,
        status_index: 0,
        revoked_at: None,
        revoked_by: None,
        revocation_reason: None,
        replaces_id,
    };
    // A random free bit of the lists (nothing to learn from its position). Each try is a
    // savepoint: two issuers drawing the same bit at once cost one more draw, not an error.
    let lists = store::take_status_bit(conn, status::LIST_SIZE)?;
    let mut tries = 0;
    loop {
        certificate.status_index = status::random_index(lists);
        match conn.write(|c| store::insert(c, &certificate)) {
            Ok(()) => break,
            Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                info,
            )) if tries < 20 && mentions_status_index(info.as_ref()) => tries += 1,
            Err(e) => return Err(e.into()),
        }
    }
    let account = identity::account(conn, &enrolment.account_id)?;
    let mail = NewMail::new(
        &account.email,
        "certificat_delivre",
        serde_json::json!({
            "full_name": account.full_name,
            "course_title": snapshot.course.title,
            "code": model::grouped(&certificate.code),
            "verify_path": format!("/verifier/{}", certificate.code),
            "pdf_path": format!("/api/v1/certificates/{}.pdf", certificate.id),
        }),
    )?;
    mail::enqueue(conn, &mail)?;
    tracing::info!(certificate_id = %certificate.id, enrolment_id = %enrolment.id, "certificate issued");
    Ok(certificate)
}

/// Whether a unique violation is the status bit's (PostgreSQL names the constraint,
/// SQLite the column).
fn mentions_status_index(
    info: &(dyn diesel::result::DatabaseErrorInformation + Send + Sync),
) -> bool {
    info.constraint_name()
        .is_some_and(|c| c.contains("status_index"))
        || info.message().contains("status_index")
}

/// A certificate as its holder and the issuing organisation's staff see it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CertificateView {
    pub id: String,
    /// Grouped for reading: `ABCD-EFGH-…`.
    pub code: String,
    pub kind: CertificateKind,
    pub status: Validity,
    #[serde(with = "crate::http::timestamps::utc")]
    pub issued_at: NaiveDateTime,
    #[serde(with = "crate::http::timestamps::utc_option")]
    pub revoked_at: Option<NaiveDateTime>,
    pub revocation_reason: Option<String>,
    pub replaces_id: Option<String>,
    pub replaced_by_id: Option<String>,
    pub verify_url: String,
    pub pdf_url: String,
    pub html_url: String,
    pub credential_url: String,
    pub attested: Snapshot,
}

pub fn snapshot_of(certificate: &Certificate) -> Result<Snapshot, AppError> {
    serde_json::from_str(&certificate.snapshot)
        .map_err(|e| AppError::internal(anyhow::anyhow!("certificate snapshot unreadable: {e}")))
}

pub fn verify_url(public_url: &str, certificate: &Certificate) -> String {
    format!("{public_url}/verifier/{}", certificate.code)
}

pub fn view(
    conn: &mut DbConn,
    public_url: &str,
    certificate: &Certificate,
) -> Result<CertificateView, AppError> {
    let api = format!("{public_url}/api/v1/certificates/{}", certificate.id);
    Ok(CertificateView {
        id: certificate.id.clone(),
        code: model::grouped(&certificate.code),
        kind: certificate.kind,
        status: Validity::of(certificate.revoked_at.is_some()),
        issued_at: certificate.issued_at,
        revoked_at: certificate.revoked_at,
        revocation_reason: certificate.revocation_reason.clone(),
        replaces_id: certificate.replaces_id.clone(),
        replaced_by_id: store::replacement_of(conn, &certificate.id)?.map(|c| c.id),
        verify_url: verify_url(public_url, certificate),
        pdf_url: format!("{api}.pdf"),
        html_url: format!("{api}.html"),
        credential_url: format!("{api}/credential"),
        attested: snapshot_of(certificate)?,
    })
}

/// The certificate, for its holder or the staff of the issuing organisation; anyone else
/// is told it does not exist.
pub fn readable(conn: &mut DbConn, user: &CurrentUser, id: &str) -> Result<Certificate, AppError> {
    let certificate = store::by_id(conn, id)?.ok_or_else(not_found)?;
    if certificate.account_id != user.id {
        require_staff(conn, user, &certificate.organisation_id)
            .map_err(|e| e.not_found_as(not_found))?;
    }
    Ok(certificate)
}

/// The caller's certificates, newest first.
pub fn mine(
    conn: &mut DbConn,
    public_url: &str,
    user: &CurrentUser,
) -> Result<Vec<CertificateView>, AppError> {
    store::of_account(conn, &user.id)?
        .iter()
        .map(|c| view(conn, public_url, c))
        .collect()
}

/// Who may list a session's certificates (its organisation's staff) or bundle them (its
/// admins): `require_staff` or `require_org_admin`.
pub type Gate = fn(&mut DbConn, &CurrentUser, &str) -> Result<Organisation, AppError>;

/// The certificates in force of a session, for whom `gate` lets in.
pub fn of_session(
    conn: &mut DbConn,
    user: &CurrentUser,
    session_id: &str,
    gate: Gate,
) -> Result<(Session, Vec<Certificate>), AppError> {
    let hidden = || AppError::not_found("Session introuvable.");
    let session = enrolment_store::session(conn, session_id)?.ok_or_else(hidden)?;
    gate(conn, user, &session.organisation_id).map_err(|e| e.not_found_as(hidden))?;
    let certificates = store::current_of_session(conn, session_id)?;
    Ok((session, certificates))
}

/// A revocation reason: said in words, kept short.
pub fn parse_reason(raw: &str) -> Result<String, AppError> {
    let reason = raw.trim();
    if reason.chars().count() < 3 || reason.chars().count() > 500 {
        return Err(AppError::invalid("reason", "motif de 3 à 500 caractères"));
    }
    if reason.chars().any(|c| c.is_control()) {
        return Err(AppError::invalid(
            "reason",
            "caractères de contrôle interdits",
        ));
    }
    Ok(reason.to_owned())
}

/// Only the issuing organisation's admins (or a platform admin) revoke.
pub(crate) fn revocable(
    conn: &mut DbConn,
    user: &CurrentUser,
    id: &str,
) -> Result<Certificate, AppError> {
    let certificate = store::by_id(conn, id)?.ok_or_else(not_found)?;
    require_org_admin(conn, user, &certificate.organisation_id).map_err(|e| {
        if certificate.account_id == user.id {
            AppError::forbidden(
                "Seule l'organisation qui l'a délivrée peut révoquer une attestation.",
            )
        } else {
            e.not_found_as(not_found)
        }
    })?;
    Ok(certificate)
}

pub fn revoke(
    conn: &mut DbConn,
    user: &CurrentUser,
    id: &str,
    reason: &str,
) -> Result<Certificate, AppError> {
    conn.write(|c| {
        let certificate = revocable(c, user, id)?;
        if !revoke_audited(c, user, &certificate, reason)? {
            return Err(AppError::conflict("Cette attestation est déjà révoquée."));
        }
        store::by_id(c, id)?.ok_or_else(not_found)
    })
}

/// Revokes a certificate the caller was allowed to revoke, with its audit entry; false if
/// it already was. Other capabilities (a jury changing its decision) call it too.
pub(crate) fn revoke_audited(
    conn: &mut DbConn,
    user: &CurrentUser,
    certificate: &Certificate,
    reason: &str,
) -> Result<bool, AppError> {
    if !store::revoke(conn, &certificate.id, &user.id, reason, now())? {
        return Ok(false);
    }
    identity::audit(
        conn,
        Some(&user.id),
        "certificate.revoke",
        Some(&certificate.organisation_id),
        Some(&certificate.id),
        serde_json::json!({ "reason": reason, "holder_id": certificate.account_id }),
    )?;
    Ok(true)
}

/// Revokes a certificate that a corrected one replaces (see `completion::service::reissue`),
/// with the audit entry of the re-issue.
pub(crate) fn revoke_for_reissue(
    conn: &mut DbConn,
    user: &CurrentUser,
    old: &Certificate,
    reason: &str,
    at: NaiveDateTime,
) -> Result<(), AppError> {
    store::revoke(conn, &old.id, &user.id, reason, at)?;
    identity::audit(
        conn,
        Some(&user.id),
        "certificate.reissue",
        Some(&old.organisation_id),
        Some(&old.id),
        serde_json::json!({ "reason": reason, "holder_id": old.account_id }),
    )?;
    Ok(())
}

/// The public answer about a verification code.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Verification {
    /// `valid`, `revoked` or `unknown`.
    pub status: Validity,
    pub code: Option<String>,
    #[serde(with = "crate::http::timestamps::utc_option")]
    pub issued_at: Option<NaiveDateTime>,
    #[serde(with = "crate::http::timestamps::utc_option")]
    pub revoked_at: Option<NaiveDateTime>,
    pub revocation_reason: Option<String>,
    /// The verification code of the corrected certificate that replaced a revoked one.
    pub replaced_by_code: Option<String>,
    pub attested: Option<Snapshot>,
}

impl Verification {
    fn unknown() -> Self {
        Self {
            status: Validity::Unknown,
            code: None,
            issued_at: None,
            revoked_at: None,
            revocation_reason: None,
            replaced_by_code: None,
            attested: None,
        }
    }
}

pub fn verify_code(conn: &mut DbConn, raw: &str) -> Result<Verification, AppError> {
    let Some(code) = model::parse_code(raw) else {
        return Ok(Verification::unknown());
    };
    let Some((certificate, replaced_by)) = store::by_code_with_replacement(conn, &code)? else {
        return Ok(Verification::unknown());
    };
    Ok(Verification {
        status: Validity::of(certificate.revoked_at.is_some()),
        code: Some(model::grouped(&certificate.code)),
        issued_at: Some(certificate.issued_at),
        revoked_at: certificate.revoked_at,
        revocation_reason: certificate.revocation_reason.clone(),
        replaced_by_code: replaced_by.map(|code| model::grouped(&code)),
        attested: Some(snapshot_of(&certificate)?),
    })
}

/// The signed status list `n`, as a VC-JWT.
///
/// With `organisation`, the list as that organisation publishes it (its credentials point
/// there); without, as the platform published it before.
pub fn status_list(
    conn: &mut DbConn,
    key: &IssuerKey,
    public_url: &str,
    organisation: Option<&str>,
    list: i64,
) -> Result<String, AppError> {
    let missing = || AppError::not_found("Liste de statuts introuvable.");
    let lists = store::lists_in_use(conn, status::LIST_SIZE)?;
    if !(0..lists).contains(&list) {
        return Err(missing());
    }
    let issuer = match organisation {
        Some(id) => {
            let org = diesel::OptionalExtension::optional(identity::organisation(conn, id))?
                .ok_or_else(missing)?;
            Some((org.id, org.name))
        }
        None => None,
    };
    let revoked = store::revoked_in_list(conn, list, status::LIST_SIZE)?;
    let payload = credential::status_list(
        public_url,
        issuer
            .as_ref()
            .map(|(id, name)| (id.as_str(), name.as_str())),
        list,
        &status::encode(revoked),
        now(),
    );
    Ok(key.sign(&payload, public_url)?)
}

/// What `POST /verify` says of a VC-JWT.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CredentialCheck {
    /// `valid`, `revoked` or `invalid`.
    pub status: Validity,
    /// Why it is invalid, in French.
    pub errors: Vec<String>,
    pub credential_id: Option<String>,
    #[serde(with = "crate::http::timestamps::utc_option")]
    pub revoked_at: Option<NaiveDateTime>,
    pub revocation_reason: Option<String>,
    pub attested: Option<Snapshot>,
}

/// Checks a VC-JWT: our issuer key and signature, its validity dates, then its bit in our
/// status list (read from the list we publish, not from a shortcut).
pub fn verify_credential(
    conn: &mut DbConn,
    key: &IssuerKey,
    public_url: &str,
    jwt: &str,
) -> Result<CredentialCheck, AppError> {
    let invalid = |why: &str| CredentialCheck {
        status: Validity::Invalid,
        errors: vec![why.to_owned()],
        credential_id: None,
        revoked_at: None,
        revocation_reason: None,
        attested: None,
    };
    let Some(vc) = key.verify::<credential::Credential>(jwt.trim()) else {
        return Ok(invalid("signature ou clé non reconnues"));
    };
    // An organisation's Profile here, or the platform (credentials issued before).
    let issuers = format!("{public_url}/issuers/");
    if vc.issuer.id != public_url && !vc.issuer.id.starts_with(&issuers) {
        return Ok(invalid("émetteur inconnu"));
    }
    let now = Utc::now();
    if vc.valid_until.is_some_and(|until| until < now) {
        return Ok(invalid("attestation expirée"));
    }
    if vc.valid_from > now + chrono::Duration::minutes(1) {
        return Ok(invalid("attestation pas encore valable"));
    }
    let entry = &vc.credential_status;
    // `…/issuers/{id}/status-lists/{n}`, or `…/status-lists/{n}` before: this site's.
    let (Some(list), Ok(index)) = (
        entry
            .status_list_credential
            .strip_prefix(public_url)
            .and_then(|path| path.rsplit_once("/status-lists/"))
            .filter(|(before, _)| before.is_empty() || before.starts_with("/issuers/"))
            .and_then(|(_, n)| n.parse::<i64>().ok()),
        entry.status_list_index.parse::<i64>(),
    ) else {
        return Ok(invalid("statut de révocation illisible"));
    };
    let revoked = store::revoked_in_list(conn, list, status::LIST_SIZE)?;
    let Some(is_revoked) = status::is_set(&status::encode(revoked), index) else {
        return Ok(invalid("statut de révocation illisible"));
    };
    let id = vc.id.trim_start_matches("urn:uuid:").to_owned();
    let certificate = store::by_id(conn, &id)?;
    Ok(CredentialCheck {
        status: Validity::of(is_revoked),
        errors: Vec::new(),
        credential_id: Some(vc.id.clone()),
        revoked_at: certificate.as_ref().and_then(|c| c.revoked_at),
        revocation_reason: certificate.and_then(|c| c.revocation_reason),
        attested: Some(vc.credential_subject.attestation),
    })
}
