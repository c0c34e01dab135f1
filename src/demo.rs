//! `qvt-campus serve --demo`: a university, a nursing school and a training body, an open
//! session of each programme, and an account for each role, created through the same
//! services the API uses. Run twice, it changes nothing. Demo passwords are printed at
//! start, and only in a demo run.

use chrono::{Datelike, Duration};

use crate::config::Settings;
use crate::db::{DbConn, Pool};
use crate::enrolment::model::EnrolmentMode;
use crate::enrolment::service::{self as enrolment, Enroller, NewSession};
use crate::identity::auth::CurrentUser;
use crate::identity::model::{Email, FullName, OrgKind, Password, Profession, Role};
use crate::identity::service::{self as identity, NewAccount};
use crate::identity::store::{self, Membership, Organisation};

pub const PASSWORD: &str = "demo-qvt-campus-2026";
const ADMIN: &str = "admin@demo.qvt-campus.fr";

/// (role, e-mail) of every demo account.
pub const ACCOUNTS: [(&str, &str); 7] = [
    ("administrateur de la plateforme", ADMIN),
    (
        "administratrice de l'université",
        "doyenne@demo-universite.fr",
    ),
    ("tutrice (université)", "tutrice@demo-universite.fr"),
    ("administrateur de l'IFSI", "direction@demo-ifsi.fr"),
    (
        "administratrice de l'organisme de DPC",
        "direction@demo-odpc.fr",
    ),
    ("étudiante", "etudiante@demo-universite.fr"),
    ("infirmier libéral", "infirmier@demo-cabinet.fr"),
];

fn user(conn: &mut DbConn, email: &str) -> anyhow::Result<CurrentUser> {
    let account = store::account_by_email(conn, email)?
        .ok_or_else(|| anyhow::anyhow!("demo account {email} missing"))?;
    Ok(CurrentUser {
        id: account.id,
        email: account.email,
        is_platform_admin: account.is_platform_admin,
        email_verified: account.email_verified_at.is_some(),
    })
}

fn account(
    conn: &mut DbConn,
    settings: &Settings,
    (email, name, profession, adeli): (&str, &str, Profession, Option<&str>),
) -> anyhow::Result<()> {
    let new = NewAccount {
        email: Email::parse(email).map_err(anyhow::Error::msg)?,
        password: Password::parse(PASSWORD).map_err(anyhow::Error::msg)?,
        full_name: FullName::parse(name).map_err(anyhow::Error::msg)?,
        profession,
        rpps: None,
        adeli: adeli
            .map(crate::identity::model::Adeli::parse)
            .transpose()
            .map_err(anyhow::Error::msg)?,
        student_number: (profession == Profession::Etudiant)
            .then(|| crate::identity::model::StudentNumber::parse("22001234"))
            .transpose()
            .map_err(anyhow::Error::msg)?,
        mode_exercice: None,
    };
    let created = identity::register(conn, &settings.identity, &settings.public_url, new)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    // Demo addresses are not real: they are confirmed here rather than by mail.
    let mut account = store::account_for_update(conn, &created.id)?;
    account.email_verified_at = Some(store::now());
    store::update_account(conn, &account)?;
    Ok(())
}

fn organisation(
    conn: &mut DbConn,
    kind: OrgKind,
    name: &str,
    uai: Option<&str>,
    odpc: Option<&str>,
    members: &[(&str, Role)],
) -> anyhow::Result<String> {
    let org = Organisation {
        id: store::new_id(),
        kind,
        name: name.into(),
        siret: None,
        uai: uai.map(Into::into),
        odpc_number: odpc.map(Into::into),
        created_at: store::now(),
    };
    store::insert_organisation(conn, &org)?;
    for (email, role) in members {
        let member = user(conn, email)?;
        store::insert_membership(
            conn,
            &Membership {
                organisation_id: org.id.clone(),
                account_id: member.id,
                role: *role,
                created_at: store::now(),
            },
        )?;
    }
    Ok(org.id)
}

fn session(
    conn: &mut DbConn,
    by: &str,
    organisation: &str,
    course: &str,
    title: &str,
    (mode, key): (EnrolmentMode, Option<&str>),
    dpc: bool,
) -> anyhow::Result<String> {
    let today = enrolment::today();
    let year = today.year();
    let new = NewSession {
        course: course.into(),
        title: title.into(),
        opens_on: today - Duration::days(1),
        closes_on: today + Duration::days(180),
        capacity: None,
        mode,
        key: key.map(Into::into),
        dpc_action_ref: dpc.then(|| "12345678901".into()),
        dpc_session_no: dpc.then(|| "1".into()),
        dpc_orientation: dpc.then(|| "1".into()),
        academic_year: (!dpc).then(|| format!("{year}-{}", year + 1)),
        curriculum: None,
    };
    let admin = user(conn, by)?;
    let created = enrolment::create_session(conn, &admin, organisation, new)
        .map_err(|e| anyhow::anyhow!("demo session {title}: {e}"))?;
    Ok(created.id)
}

/// Seeds the demo once; returns whether it did anything.
pub fn seed(pool: &Pool, settings: &Settings) -> anyhow::Result<bool> {
    let mut conn = pool.get()?;
    let conn = &mut *conn;
    if store::account_by_email(conn, ADMIN)?.is_some() {
        return Ok(false);
    }
    identity::create_platform_admin(
        conn,
        &Email::parse(ADMIN).map_err(anyhow::Error::msg)?,
        &FullName::parse("Admin Démo").map_err(anyhow::Error::msg)?,
        &Password::parse(PASSWORD).map_err(anyhow::Error::msg)?,
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    for person in PEOPLE {
        account(conn, settings, *person)?;
    }
    let [university, school, training_body] = organisations(conn)?;
    let [qvt, dpc] = sessions(
        conn,
        [&university, &school, &training_body].map(String::as_str),
    )?;
    for (email, session) in [
        ("etudiante@demo-universite.fr", &qvt),
        ("infirmier@demo-cabinet.fr", &dpc),
    ] {
        let learner = user(conn, email)?;
        enrolment::enrol(conn, &learner, session, Enroller::Learner { key: None })
            .map_err(|e| anyhow::anyhow!("demo enrolment: {e}"))?;
    }
    Ok(true)
}

/// The demo's people: e-mail, name, profession, ADELI number.
const PEOPLE: &[(&str, &str, Profession, Option<&str>)] = &[
    (
        "doyenne@demo-universite.fr",
        "Anne Martin",
        Profession::Medecin,
        None,
    ),
    (
        "tutrice@demo-universite.fr",
        "Léa Petit",
        Profession::Medecin,
        None,
    ),
    (
        "direction@demo-ifsi.fr",
        "Paul Durand",
        Profession::Infirmier,
        None,
    ),
    (
        "direction@demo-odpc.fr",
        "Claire Moreau",
        Profession::Pharmacien,
        None,
    ),
    (
        "etudiante@demo-universite.fr",
        "Zoé Lefèvre",
        Profession::Etudiant,
        None,
    ),
    (
        "infirmier@demo-cabinet.fr",
        "Hugo Bernard",
        Profession::Infirmier,
        Some("691234567"),
    ),
];

/// The university, the nursing school and the training body, with their staff.
fn organisations(conn: &mut DbConn) -> anyhow::Result<[String; 3]> {
    let university = organisation(
        conn,
        OrgKind::University,
        "Université Démo",
        Some("0751717J"),
        None,
        &[
            ("doyenne@demo-universite.fr", Role::OrgAdmin),
            ("tutrice@demo-universite.fr", Role::Tutor),
        ],
    )?;
    let school = organisation(
        conn,
        OrgKind::NursingSchool,
        "IFSI Démo",
        None,
        None,
        &[("direction@demo-ifsi.fr", Role::OrgAdmin)],
    )?;
    let training_body = organisation(
        conn,
        OrgKind::TrainingBody,
        "Organisme de DPC Démo",
        None,
        Some("1234"),
        &[("direction@demo-odpc.fr", Role::OrgAdmin)],
    )?;
    Ok([university, school, training_body])
}

/// One session of each course; returns the open QVT and DPC sessions the learners join.
fn sessions(
    conn: &mut DbConn,
    [university, school, training_body]: [&str; 3],
) -> anyhow::Result<[String; 2]> {
    let qvt = session(
        conn,
        "doyenne@demo-universite.fr",
        university,
        "qvt-formation-initiale",
        "Module QVT — promotion démo",
        (EnrolmentMode::Open, None),
        false,
    )?;
    session(
        conn,
        "direction@demo-ifsi.fr",
        school,
        "qvt-formation-initiale",
        "Module QVT — IFSI démo",
        (EnrolmentMode::Key, Some("IFSI-DEMO")),
        false,
    )?;
    let dpc = session(
        conn,
        "direction@demo-odpc.fr",
        training_body,
        "dpc-securite-exercice",
        "Sécurité de l'exercice — session démo",
        (EnrolmentMode::Open, None),
        true,
    )?;
    session(
        conn,
        "doyenne@demo-universite.fr",
        university,
        "du-soigner-les-soignants",
        "DU Soigner les soignants — cohorte démo",
        (EnrolmentMode::Open, None),
        false,
    )?;
    Ok([qvt, dpc])
}
