//! Session and enrolment use cases. Each runs on one connection (through `db::run`) and
//! writes in one transaction, mails included.

use chrono::{NaiveDate, Utc};
use diesel::OptionalExtension;
use serde_json::json;

pub use super::model::NewSession;
use super::model::{closed_reason, EnrolmentMode};
use super::store::{self, Enrolment, Session};
use crate::catalog::model::CourseKind;
use crate::catalog::store as catalog;
use crate::db::DbConn;
use crate::enrolment::model::EnrolmentStatus;
use crate::error::AppError;
use crate::identity::auth::{require_org_admin, CurrentUser};
use crate::identity::password;
use crate::identity::store::{self as identity, Account};
use crate::mail::{self, NewMail};
use crate::stale::Stale;
use crate::throttle;

/// Sessions open and close on Paris days.
pub fn today() -> NaiveDate {
    crate::fr::paris_today()
}

fn hash_key(key: Option<&str>) -> Result<Option<String>, AppError> {
    key.map(password::hash_secret)
        .transpose()
        .map_err(AppError::internal)
}

pub fn create_session(
    conn: &mut DbConn,
    user: &CurrentUser,
    organisation_id: &str,
    new: NewSession,
) -> Result<Session, AppError> {
    let key_hash = hash_key(new.key.as_deref())?;
    conn.write(|conn| {
        let organisation = require_org_admin(conn, user, organisation_id)?;
        let version = catalog::current_version(conn, &new.course)
            .optional()?
            .ok_or_else(|| {
                AppError::invalid("course", format!("aucune formation « {} »", new.course))
            })?;
        let kind = version.kind;
        super::model::may_run(organisation.kind, kind)
            .map_err(|why| AppError::invalid("course", why))?;
        let mut odpc_number = None;
        if kind == CourseKind::Dpc {
            odpc_number = organisation.odpc_number.clone();
            let mut missing = Vec::new();
            if new.dpc_action_ref.is_none() {
                missing.push(crate::error::FieldError::new(
                    "dpc_action_ref",
                    "obligatoire pour une session DPC",
                ));
            }
            if new.dpc_session_no.is_none() {
                missing.push(crate::error::FieldError::new(
                    "dpc_session_no",
                    "obligatoire pour une session DPC",
                ));
            }
            if new.dpc_orientation.is_none() {
                missing.push(crate::error::FieldError::new(
                    "dpc_orientation",
                    "obligatoire pour une session DPC (numéro de l'orientation prioritaire)",
                ));
            }
            if !missing.is_empty() {
                return Err(AppError::invalid_fields(missing));
            }
        } else if new.dpc_action_ref.is_some()
            || new.dpc_session_no.is_some()
            || new.dpc_orientation.is_some()
        {
            return Err(AppError::invalid(
                "dpc_action_ref",
                "réservé aux sessions DPC",
            ));
        }
        let now = Utc::now().naive_utc();
        let session = Session {
            id: identity::new_id(),
            organisation_id: organisation.id.clone(),
            course_slug: new.course.clone(),
            course_version_id: version.id,
            title: new.title.clone(),
            opens_on: new.opens_on,
            closes_on: new.closes_on,
            capacity: new.capacity,
            active_count: 0,
            enrolment_mode: new.mode,
            enrolment_key_hash: key_hash.clone(),
            dpc_action_ref: new.dpc_action_ref.clone(),
            dpc_session_no: new.dpc_session_no.clone(),
            dpc_orientation: new.dpc_orientation.clone(),
            odpc_number,
            academic_year: new.academic_year.clone(),
            curriculum: new.curriculum.clone(),
            closed_at: None,
            created_at: now,
            updated_at: now,
            lms_placed: false,
            requires_verified_rpps: new.requires_verified_rpps,
        };
        store::insert_session(conn, &session)?;
        identity::audit(
            conn,
            Some(&user.id),
            "session.created",
            Some(&organisation.id),
            Some(&session.id),
            json!({ "course": session.course_slug, "title": session.title }),
        )?;
        Ok(session)
    })
}

/// Loads a session the caller administers (404 to outsiders, 403 to mere members).
pub fn administered_session(
    conn: &mut DbConn,
    user: &CurrentUser,
    session_id: &str,
) -> Result<Session, AppError> {
    let session = store::session_for_update(conn, session_id)?.ok_or_else(session_not_found)?;
    require_org_admin(conn, user, &session.organisation_id)
        .map_err(|e| e.not_found_as(session_not_found))?;
    Ok(session)
}

pub fn session_not_found() -> AppError {
    AppError::not_found("Session introuvable.")
}

/// Changes to a session; `None` leaves a field as it is.
#[derive(Default)]
pub struct SessionPatch {
    pub title: Option<String>,
    pub opens_on: Option<NaiveDate>,
    pub closes_on: Option<NaiveDate>,
    /// `Some(None)` removes the limit.
    pub capacity: Option<Option<i32>>,
    pub mode: Option<EnrolmentMode>,
    pub key: Option<String>,
    pub closed: Option<bool>,
    pub requires_verified_rpps: Option<bool>,
}

/// Edits, closes or reopens a session. The caller applies the returned [`Stale`] once
/// this has committed: the session's heartbeats are checked again (a closed one stops
/// crediting time at once).
pub fn update_session(
    conn: &mut DbConn,
    user: &CurrentUser,
    session_id: &str,
    patch: SessionPatch,
) -> Result<(Session, Stale), AppError> {
    let key_hash = hash_key(patch.key.as_deref())?;
    let session = conn.write(|conn| {
        let mut session = administered_session(conn, user, session_id)?;
        if let Some(title) = patch.title {
            session.title = title;
        }
        session.opens_on = patch.opens_on.unwrap_or(session.opens_on);
        session.closes_on = patch.closes_on.unwrap_or(session.closes_on);
        if session.closes_on < session.opens_on {
            return Err(AppError::invalid(
                "closes_on",
                "la clôture précède l'ouverture",
            ));
        }
        if let Some(capacity) = patch.capacity {
            if capacity.is_some_and(|c| c < session.active_count) {
                return Err(AppError::invalid(
                    "capacity",
                    format!(
                        "{} inscrits actifs : la capacité ne peut pas être inférieure",
                        session.active_count
                    ),
                ));
            }
            session.capacity = capacity;
        }
        if let Some(mode) = patch.mode {
            session.enrolment_mode = mode;
        }
        if key_hash.is_some() {
            session.enrolment_key_hash = key_hash;
        }
        if session.enrolment_mode == EnrolmentMode::Key && session.enrolment_key_hash.is_none() {
            return Err(AppError::invalid(
                "enrolment_key",
                "obligatoire avec le mode « key »",
            ));
        }
        if let Some(required) = patch.requires_verified_rpps {
            session.requires_verified_rpps = required;
        }
        match patch.closed {
            Some(true) if session.closed_at.is_none() => {
                session.closed_at = Some(Utc::now().naive_utc())
            }
            Some(false) => session.closed_at = None,
            _ => {}
        }
        session.updated_at = Utc::now().naive_utc();
        store::update_session(conn, &session)?;
        identity::audit(
            conn,
            Some(&user.id),
            "session.updated",
            Some(&session.organisation_id),
            Some(&session.id),
            json!({}),
        )?;
        Ok(session)
    })?;
    let stale = Stale::Session(session.id.clone());
    Ok((session, stale))
}

/// Who asks for an enrolment.
pub enum Enroller<'a> {
    /// The learner, with the key if the session needs one, from a client address.
    Learner { key: Option<&'a str>, from: &'a str },
    /// An admin of the organisation, enrolling a member.
    Admin { account_id: &'a str },
}

/// Enrols someone in a session: dates, mode, key, DPC identifiers, duplicates and
/// capacity are checked, the seat taken and the confirmation mail queued in one transaction.
pub fn enrol(
    conn: &mut DbConn,
    user: &CurrentUser,
    session_id: &str,
    who: Enroller<'_>,
) -> Result<Enrolment, AppError> {
    if let Enroller::Learner { .. } = who {
        user.require_confirmed()?;
    }
    let visible = visible_session(conn, user, session_id)?;
    // The key check (argon2) runs before the transaction, so the write lock is short.
    // Each try counts against the learner and the address before the check (parallel
    // guesses cannot slip under the limit); a right key forgets the learner's.
    if let Enroller::Learner { key, from } = who {
        let mode = visible.enrolment_mode;
        if let Some(key) = key_to_check(mode, key)? {
            let learner = format!("{}:{}", visible.id, user.id);
            throttle::take(
                conn,
                &[
                    (throttle::KEY_PER_LEARNER, &learner),
                    (throttle::KEY_PER_ADDRESS, from),
                ],
            )?;
            if !password::verify(key, visible.enrolment_key_hash.as_deref()) {
                return Err(AppError::invalid(
                    "enrolment_key",
                    "clé d'inscription incorrecte",
                ));
            }
            conn.write(|c| throttle::KEY_PER_LEARNER.clear(c, &learner))?;
        }
    }
    conn.write(|conn| {
        let (account_id, by_admin) = enrolled_account(conn, user, &visible, who)?;
        let session = store::session(conn, session_id)?.ok_or_else(session_not_found)?;
        let account = identity::account(conn, &account_id).optional()?;
        let account = admit(today(), &session, account, by_admin)?;
        require_verified_rpps(conn, &session, &account, by_admin)?;
        record_enrolment(
            conn,
            by_admin.then_some(user.id.as_str()),
            &session,
            &account,
        )
    })
}

/// The key a learner enrolling themself must prove, by the session's mode: none in an open
/// session (a key sent is ignored), the one sent in a `key` session; an `admin_only`
/// session refuses them.
fn key_to_check(mode: EnrolmentMode, key: Option<&str>) -> Result<Option<&str>, AppError> {
    match mode {
        EnrolmentMode::AdminOnly => Err(AppError::forbidden(
            "Les inscriptions à cette session sont faites par l'organisation.",
        )),
        EnrolmentMode::Key => key.map(Some).ok_or_else(|| {
            AppError::invalid(
                "enrolment_key",
                "clé d'inscription obligatoire pour cette session",
            )
        }),
        EnrolmentMode::Open => Ok(None),
    }
}

/// The account to enrol, and whether an admin enrols it: the caller, or a member of the
/// session's organisation named by one of its admins.
fn enrolled_account(
    conn: &mut DbConn,
    user: &CurrentUser,
    visible: &Session,
    who: Enroller<'_>,
) -> Result<(String, bool), AppError> {
    match who {
        Enroller::Learner { .. } => Ok((user.id.clone(), false)),
        Enroller::Admin { account_id } => {
            administered_session(conn, user, &visible.id)?;
            let member = identity::membership(conn, &visible.organisation_id, account_id)?;
            if member.is_none() {
                return Err(AppError::invalid(
                    "user_id",
                    "ce compte n'est pas membre de l'organisation",
                ));
            }
            Ok((account_id.to_owned(), true))
        }
    }
}

/// Whether the session admits the account today: the session takes enrolments (an admin
/// may enrol before it opens), the account is active, and a DPC session's learner has an
/// RPPS or ADELI number (a learner is pointed at their profile, an admin at whom they named).
fn admit(
    today: NaiveDate,
    session: &Session,
    account: Option<Account>,
    by_admin: bool,
) -> Result<Account, AppError> {
    if let Some(reason) = closed_reason(
        today,
        session.opens_on,
        session.closes_on,
        session.closed_at.is_some(),
        by_admin,
    ) {
        return Err(AppError::conflict(reason));
    }
    let account = account
        .filter(Account::is_active)
        .ok_or_else(|| AppError::invalid("user_id", "compte introuvable ou désactivé"))?;
    if session.dpc_action_ref.is_some() && account.rpps.is_none() && account.adeli.is_none() {
        return Err(AppError::invalid(
            if by_admin { "user_id" } else { "rpps" },
            "une session DPC exige un numéro RPPS ou ADELI : complétez le profil",
        ));
    }
    Ok(account)
}

/// A session that requires it admits only an account whose RPPS a provider verified.
fn require_verified_rpps(
    conn: &mut DbConn,
    session: &Session,
    account: &Account,
    by_admin: bool,
) -> Result<(), AppError> {
    if !session.requires_verified_rpps
        || identity::rpps_vouched(conn, &account.id, account.rpps.as_deref())?
    {
        return Ok(());
    }
    Err(AppError::invalid(
        if by_admin { "user_id" } else { "rpps" },
        "cette session exige un numéro RPPS vérifié : connectez-vous avec Pro Santé Connect \
         (ou liez-le depuis « Mon compte »)",
    ))
}

/// Takes a seat for an admitted account, unless it is already enrolled or the session is
/// full; records the enrolment, queues its confirmation and audits an admin's enrolment.
fn record_enrolment(
    conn: &mut DbConn,
    admin: Option<&str>,
    session: &Session,
    account: &Account,
) -> Result<Enrolment, AppError> {
    if store::active_enrolment(conn, &session.id, &account.id)?.is_some() {
        return Err(AppError::conflict("Déjà inscrit à cette session."));
    }
    if !store::take_seat(conn, &session.id)? {
        return Err(AppError::conflict(
            "Session complète : plus aucune place disponible.",
        ));
    }
    let enrolment = Enrolment {
        id: identity::new_id(),
        session_id: session.id.clone(),
        account_id: account.id.clone(),
        course_version_id: session.course_version_id.clone(),
        status: EnrolmentStatus::Active,
        enrolled_by: admin.map(str::to_owned),
        enrolled_at: Utc::now().naive_utc(),
        withdrawn_by: None,
        withdrawn_at: None,
    };
    store::insert_enrolment(conn, &enrolment)?;
    queue_mail(conn, account, "inscription_confirmee", session)?;
    if let Some(admin) = admin {
        identity::audit(
            conn,
            Some(admin),
            "enrolment.created",
            Some(&session.organisation_id),
            Some(&account.id),
            json!({ "session_id": session.id }),
        )?;
    }
    Ok(enrolment)
}

/// Enrols a learner its organisation's learning platform (LTI) sent, in the caller's
/// transaction: the platform enrolled them in the LMS course the session is placed in, so
/// the session's mode and key do not apply; its dates, capacity and DPC rules do.
pub fn enrol_from_platform(
    conn: &mut DbConn,
    session_id: &str,
    account_id: &str,
) -> Result<Enrolment, AppError> {
    let session = store::session(conn, session_id)?.ok_or_else(session_not_found)?;
    if let Some(active) = store::active_enrolment(conn, session_id, account_id)? {
        return Ok(active);
    }
    let account = identity::account(conn, account_id).optional()?;
    let account = admit(today(), &session, account, false)?;
    require_verified_rpps(conn, &session, &account, false)?;
    record_enrolment(conn, None, &session, &account)
}

/// Opens the session an LMS course places `course` in, at the first launch of one of the
/// LMS's teachers (in the caller's transaction): for a year from today, enrolments made by
/// the platform only. A DPC session needs its ANDPC identifiers, which an LMS does not
/// know: it is opened on this site first.
pub fn open_for_platform(
    conn: &mut DbConn,
    organisation_id: &str,
    course: &str,
    title: &str,
    by: &str,
) -> Result<Session, AppError> {
    let organisation = identity::organisation(conn, organisation_id)?;
    let version = catalog::current_version(conn, course)
        .optional()?
        .ok_or_else(|| AppError::invalid("course", format!("aucune formation « {course} »")))?;
    super::model::may_run(organisation.kind, version.kind)
        .map_err(|why| AppError::invalid("course", why))?;
    if version.kind == CourseKind::Dpc {
        return Err(AppError::conflict(
            "Une session DPC se crée sur la plateforme (référence de l'action ANDPC, \
             numéro de session) : créez-la, puis placez-la dans le cours.",
        ));
    }
    let now = Utc::now().naive_utc();
    let opens_on = today();
    let session = Session {
        id: identity::new_id(),
        organisation_id: organisation.id.clone(),
        course_slug: course.to_owned(),
        course_version_id: version.id,
        title: super::model::parse_title(title).unwrap_or_else(|_| version.title.clone()),
        opens_on,
        closes_on: opens_on + chrono::Duration::days(365),
        capacity: None,
        active_count: 0,
        enrolment_mode: EnrolmentMode::AdminOnly,
        enrolment_key_hash: None,
        dpc_action_ref: None,
        dpc_session_no: None,
        dpc_orientation: None,
        odpc_number: None,
        academic_year: None,
        curriculum: None,
        closed_at: None,
        created_at: now,
        updated_at: now,
        lms_placed: true,
        requires_verified_rpps: false,
    };
    store::insert_session(conn, &session)?;
    identity::audit(
        conn,
        Some(by),
        "session.created",
        Some(&organisation.id),
        Some(&session.id),
        json!({ "course": session.course_slug, "title": session.title, "from": "lti" }),
    )?;
    Ok(session)
}

fn queue_mail(
    conn: &mut DbConn,
    account: &Account,
    template: &str,
    session: &Session,
) -> Result<(), AppError> {
    let course_title = catalog::version(conn, &session.course_version_id)?.title;
    let mail = NewMail::new(
        &account.email,
        template,
        json!({
            "full_name": account.full_name,
            "course_title": course_title,
            "session_title": session.title,
            "opens_on": crate::fr::short_date(session.opens_on),
            "closes_on": crate::fr::short_date(session.closes_on),
        }),
    )?;
    mail::enqueue(conn, &mail)?;
    Ok(())
}

/// A session the caller may see: members and platform admins see every session of their
/// organisation; others only sessions open to self-enrolment.
pub fn visible_session(
    conn: &mut DbConn,
    user: &CurrentUser,
    session_id: &str,
) -> Result<Session, AppError> {
    let session = store::session(conn, session_id)?.ok_or_else(session_not_found)?;
    if user.is_platform_admin
        || identity::membership(conn, &session.organisation_id, &user.id)?.is_some()
    {
        return Ok(session);
    }
    if session.enrolment_mode == EnrolmentMode::AdminOnly {
        return Err(session_not_found());
    }
    Ok(session)
}

/// Withdraws an enrolment (by its learner or an admin of the organisation); history stays.
/// The caller applies the returned [`Stale`] once this has committed: the enrolment's
/// heartbeats stop crediting time at once.
pub fn withdraw(
    conn: &mut DbConn,
    user: &CurrentUser,
    enrolment_id: &str,
) -> Result<(Enrolment, Stale), AppError> {
    let enrolment = conn.write(|conn| {
        let not_found = || AppError::not_found("Inscription introuvable.");
        let enrolment = store::enrolment(conn, enrolment_id)?.ok_or_else(not_found)?;
        let session = store::session(conn, &enrolment.session_id)?.ok_or_else(not_found)?;
        let by_admin = enrolment.account_id != user.id;
        if by_admin {
            require_org_admin(conn, user, &session.organisation_id)
                .map_err(|e| e.not_found_as(not_found))?;
        }
        let at = Utc::now().naive_utc();
        if !store::withdraw(conn, enrolment_id, &user.id, at)? {
            return Err(AppError::conflict("Cette inscription est déjà retirée."));
        }
        store::release_seat(conn, &session.id)?;
        let account = identity::account(conn, &enrolment.account_id)?;
        if account.erased_at.is_none() {
            queue_mail(conn, &account, "desinscription", &session)?;
        }
        if by_admin {
            identity::audit(
                conn,
                Some(&user.id),
                "enrolment.withdrawn",
                Some(&session.organisation_id),
                Some(&enrolment.account_id),
                json!({ "session_id": session.id }),
            )?;
        }
        Ok(store::enrolment(conn, enrolment_id)?.expect("just updated"))
    })?;
    let stale = Stale::Enrolment(enrolment.id.clone());
    Ok((enrolment, stale))
}

/// Who may list a session's learners: its organisation's tutors and admins.
pub fn staff_session(
    conn: &mut DbConn,
    user: &CurrentUser,
    session_id: &str,
) -> Result<Session, AppError> {
    let session = store::session(conn, session_id)?.ok_or_else(session_not_found)?;
    crate::identity::auth::require_staff(conn, user, &session.organisation_id)
        .map_err(|e| e.not_found_as(session_not_found))?;
    Ok(session)
}

#[cfg(test)]
mod tests {
    use actix_web::http::StatusCode;

    use super::*;
    use crate::enrolment::model::parse_date;

    fn fields(e: &AppError) -> Vec<&str> {
        e.errors().iter().map(|f| f.field.as_str()).collect()
    }

    #[test]
    fn a_learner_shows_a_key_only_to_a_key_session_and_never_enrols_in_an_admin_only_one() {
        assert_eq!(
            key_to_check(EnrolmentMode::Open, Some("ignorée")).unwrap(),
            None
        );
        assert_eq!(
            key_to_check(EnrolmentMode::Key, Some("clé-secrète")).unwrap(),
            Some("clé-secrète")
        );
        let missing = key_to_check(EnrolmentMode::Key, None).unwrap_err();
        assert_eq!(missing.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(fields(&missing), ["enrolment_key"]);
        let refused = key_to_check(EnrolmentMode::AdminOnly, Some("clé-secrète")).unwrap_err();
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    }

    fn session(dpc: bool, closed: bool) -> Session {
        let at = Utc::now().naive_utc();
        Session {
            id: "s".into(),
            organisation_id: "o".into(),
            course_slug: "c".into(),
            course_version_id: "v".into(),
            title: "Session".into(),
            opens_on: parse_date("2026-09-01").unwrap(),
            closes_on: parse_date("2026-12-31").unwrap(),
            capacity: None,
            active_count: 0,
            enrolment_mode: EnrolmentMode::Open,
            enrolment_key_hash: None,
            dpc_action_ref: dpc.then(|| "12345678901".into()),
            dpc_session_no: dpc.then(|| "1".into()),
            dpc_orientation: None,
            odpc_number: None,
            academic_year: None,
            curriculum: None,
            closed_at: closed.then_some(at),
            created_at: at,
            updated_at: at,
            lms_placed: false,
            requires_verified_rpps: false,
        }
    }

    fn account(adeli: Option<&str>, disabled: bool) -> Account {
        let at = Utc::now().naive_utc();
        Account {
            id: "a".into(),
            email: "a@exemple.fr".into(),
            full_name: "A".into(),
            password_hash: String::new(),
            profession: "infirmier".into(),
            rpps: None,
            adeli: adeli.map(Into::into),
            student_number: None,
            mode_exercice: None,
            is_platform_admin: false,
            email_verified_at: Some(at),
            disabled_at: disabled.then_some(at),
            erased_at: None,
            created_at: at,
            updated_at: at,
            page_session_epoch: 0,
            first_name: None,
            last_name: None,
        }
    }

    #[test]
    fn a_session_admits_an_active_account_while_open_and_a_dpc_one_needs_an_identifier() {
        let day = parse_date("2026-10-01").unwrap();
        let ok = admit(
            day,
            &session(false, false),
            Some(account(None, false)),
            false,
        );
        assert_eq!(ok.unwrap().id, "a");
        let closed = admit(day, &session(false, true), Some(account(None, false)), true);
        assert_eq!(closed.unwrap_err().status(), StatusCode::CONFLICT);
        for gone in [None, Some(account(None, true))] {
            let e = admit(day, &session(false, false), gone, true).unwrap_err();
            assert_eq!(fields(&e), ["user_id"]);
        }
        let learner = admit(
            day,
            &session(true, false),
            Some(account(None, false)),
            false,
        );
        assert_eq!(fields(&learner.unwrap_err()), ["rpps"]);
        let admin = admit(day, &session(true, false), Some(account(None, false)), true);
        assert_eq!(fields(&admin.unwrap_err()), ["user_id"]);
        let identified = admit(
            day,
            &session(true, false),
            Some(account(Some("123456789"), false)),
            false,
        );
        assert!(identified.is_ok());
    }
}
