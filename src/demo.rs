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

/// A password for the demo accounts, new for each demo: a fixed one would be known to
/// anyone who read this file, on any server started with `--demo`.
pub fn new_password() -> String {
    format!("demo-{}", &crate::identity::tokens::random_token()[..16])
}
const ADMIN: &str = "admin@demo.qvt-campus.fr";

/// (role, e-mail) of every demo account.
pub const ACCOUNTS: [(&str, &str); 10] = [
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
    ("étudiant, module QVT terminé", "diplome@demo-universite.fr"),
    (
        "infirmière libérale, action DPC terminée",
        "infirmiere@demo-cabinet.fr",
    ),
    ("candidat au DU, notes saisies", "candidat@demo-chu.fr"),
];

/// The enrolment keys of the demo sessions that ask for one: (session, key).
pub const KEYS: [(&str, &str); 1] = [("Module QVT — IFSI démo", "IFSI-DEMO")];

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
    password: &str,
    (email, name, profession, adeli, rpps): Person,
) -> anyhow::Result<()> {
    // A practitioner says how they practise (the DPC declarations carry it).
    let practises =
        !matches!(profession, Profession::Etudiant) && (adeli.is_some() || rpps.is_some());
    let new = NewAccount {
        email: Email::parse(email).map_err(anyhow::Error::msg)?,
        password: Password::parse(password).map_err(anyhow::Error::msg)?,
        full_name: FullName::parse(name).map_err(anyhow::Error::msg)?,
        names: name.split_once(' ').and_then(|(first, last)| {
            Some((FullName::parse(first).ok()?, FullName::parse(last).ok()?))
        }),
        profession,
        rpps: rpps
            .map(crate::identity::model::Rpps::parse)
            .transpose()
            .map_err(anyhow::Error::msg)?,
        adeli: adeli
            .map(crate::identity::model::Adeli::parse)
            .transpose()
            .map_err(anyhow::Error::msg)?,
        student_number: (profession == Profession::Etudiant)
            .then(|| crate::identity::model::StudentNumber::parse("22001234"))
            .transpose()
            .map_err(anyhow::Error::msg)?,
        mode_exercice: practises.then_some(crate::identity::model::ModeExercice::Liberal),
    };
    // Demo addresses are not real: they are confirmed here rather than by mail, and the
    // confirmation mail queued for them is dropped in the same transaction (so the mail
    // worker never sees it).
    conn.write(|conn| {
        let created =
            identity::register(conn, &settings.identity, &settings.public_url, new, "demo")
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut account = store::account_for_update(conn, &created.id)?;
        account.email_verified_at = Some(store::now());
        store::update_account(conn, &account)?;
        crate::mail::outbox::drop_queued_to(conn, email)?;
        Ok(())
    })
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
        opens_on: today - Duration::days(10),
        closes_on: today + Duration::days(180),
        capacity: None,
        mode,
        key: key.map(Into::into),
        dpc_action_ref: dpc.then(|| "12345678901".into()),
        dpc_session_no: dpc.then(|| "1".into()),
        dpc_orientation: dpc.then(|| "1".into()),
        academic_year: (!dpc).then(|| format!("{year}-{}", year + 1)),
        curriculum: None,
        requires_verified_rpps: false,
    };
    let admin = user(conn, by)?;
    let created = enrolment::create_session(conn, &admin, organisation, new)
        .map_err(|e| anyhow::anyhow!("demo session {title}: {e}"))?;
    Ok(created.id)
}

/// Seeds the demo once, every account with `password`; returns whether it did anything.
pub fn seed(pool: &Pool, settings: &Settings, password: &str) -> anyhow::Result<bool> {
    let mut conn = pool.get()?;
    let conn = &mut *conn;
    if store::account_by_email(conn, ADMIN)?.is_some() {
        return Ok(false);
    }
    identity::create_platform_admin(
        conn,
        &Email::parse(ADMIN).map_err(anyhow::Error::msg)?,
        &FullName::parse("Admin Démo").map_err(anyhow::Error::msg)?,
        &Password::parse(password).map_err(anyhow::Error::msg)?,
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    for person in PEOPLE {
        account(conn, settings, password, *person)?;
    }
    let [university, school, training_body] = organisations(conn)?;
    let [qvt, dpc, du] = sessions(
        conn,
        [&university, &school, &training_body].map(String::as_str),
    )?;
    for (email, session) in [
        ("etudiante@demo-universite.fr", &qvt),
        ("infirmier@demo-cabinet.fr", &dpc),
    ] {
        enrol(conn, email, session)?;
    }
    // Journeys already done, to look at and to verify: the QVT module and a DPC action,
    // each lesson read for its planned minutes, with their certificates.
    for (email, session) in [
        ("diplome@demo-universite.fr", &qvt),
        ("infirmiere@demo-cabinet.fr", &dpc),
    ] {
        completed(conn, email, session)?;
    }
    du_candidate(conn, &du)?;
    Ok(true)
}

fn enrol(conn: &mut DbConn, email: &str, session: &str) -> anyhow::Result<String> {
    let learner = user(conn, email)?;
    let enrolment = enrolment::enrol(
        conn,
        &learner,
        session,
        Enroller::Learner {
            key: None,
            from: "demo",
        },
    )
    .map_err(|e| anyhow::anyhow!("demo enrolment: {e}"))?;
    Ok(enrolment.id)
}

/// A completed enrolment, as if each lesson had been read for its planned minutes over the
/// last days: lessons done, time intervals, the completion and its certificate. Demo data:
/// the demo organisations' certificates prove nothing outside a demo run.
fn completed(conn: &mut DbConn, email: &str, session: &str) -> anyhow::Result<()> {
    use crate::learning::LessonAt;
    let id = enrol(conn, email, session)?;
    let enrolment = crate::enrolment::store::enrolment_with_session(conn, &id)?
        .ok_or_else(|| anyhow::anyhow!("demo enrolment {id} missing"))?
        .0;
    let course = crate::catalog::store::version(conn, &enrolment.course_version_id)?.course()?;
    let start = store::now() - Duration::days(3);
    let mut seconds = 0i64;
    for (i, lesson) in course.lessons.iter().enumerate() {
        let at = start + Duration::minutes(90 * i as i64);
        let lesson_at = LessonAt {
            enrolment_id: &id,
            lesson_id: &lesson.id,
        };
        crate::learning::store::mark_viewed(conn, lesson_at, at)?;
        crate::learning::store::mark_completed(
            conn,
            lesson_at,
            at + Duration::minutes(lesson.minutes.into()),
        )?;
        seconds += i64::from(lesson.minutes) * 60;
    }
    let completed_at = store::now() - Duration::days(1);
    crate::completion::store::insert_completion(conn, &id, completed_at, seconds)?;
    crate::completion::service::issue_certificate(conn, &course, &id, completed_at, seconds)
        .map_err(|e| anyhow::anyhow!("demo certificate: {e}"))?;
    Ok(())
}

/// A DU candidate whose tutor has entered each unit's grade, the seminar days and the
/// thesis: the coordinator's grid has something to show.
fn du_candidate(conn: &mut DbConn, du: &str) -> anyhow::Result<()> {
    use crate::du::model::{Grade, UnitAt};
    use crate::du::service::{self as du_service, SeminarDay, ThesisInput};
    let id = enrol(conn, "candidat@demo-chu.fr", du)?;
    let tutor = user(conn, "tutrice@demo-universite.fr")?;
    let courses = crate::catalog::cache::CourseCache::default();
    let enrolment = crate::enrolment::store::enrolment_with_session(conn, &id)?
        .ok_or_else(|| anyhow::anyhow!("demo enrolment {id} missing"))?
        .0;
    let course = courses.get(conn, &enrolment.course_version_id)?;
    let day = enrolment::today() - Duration::days(30);
    for (i, unit) in course.units.iter().enumerate() {
        let at = UnitAt {
            enrolment_id: &id,
            unit_id: &unit.id,
        };
        let grade = Grade::parse(12.0 + i as f64 * 1.5).map_err(anyhow::Error::msg)?;
        du_service::set_grade(conn, &courses, &tutor, at, grade)
            .map_err(|e| anyhow::anyhow!("demo grade: {e}"))?;
        let days = [SeminarDay {
            day: day + Duration::days(7 * i as i64),
            present: true,
        }];
        du_service::set_attendance(conn, &courses, &tutor, at, &days)
            .map_err(|e| anyhow::anyhow!("demo attendance: {e}"))?;
    }
    let thesis = ThesisInput {
        title: "Le soignant face à l'erreur : récit et soutien entre pairs".into(),
        supervisor: "Dr Léa Petit".into(),
        grade: Some(Grade::parse(15.5).map_err(anyhow::Error::msg)?),
        defended_on: None,
    };
    du_service::set_thesis(conn, &courses, &tutor, &id, thesis)
        .map_err(|e| anyhow::anyhow!("demo thesis: {e}"))?;
    Ok(())
}

/// A demo person: e-mail, name, profession, ADELI number, RPPS number.
type Person = (
    &'static str,
    &'static str,
    Profession,
    Option<&'static str>,
    Option<&'static str>,
);

/// The demo's people.
const PEOPLE: &[Person] = &[
    (
        "doyenne@demo-universite.fr",
        "Anne Martin",
        Profession::Medecin,
        None,
        None,
    ),
    (
        "tutrice@demo-universite.fr",
        "Léa Petit",
        Profession::Medecin,
        None,
        None,
    ),
    (
        "direction@demo-ifsi.fr",
        "Paul Durand",
        Profession::Infirmier,
        None,
        None,
    ),
    (
        "direction@demo-odpc.fr",
        "Claire Moreau",
        Profession::Pharmacien,
        None,
        None,
    ),
    (
        "etudiante@demo-universite.fr",
        "Zoé Lefèvre",
        Profession::Etudiant,
        None,
        None,
    ),
    (
        "infirmier@demo-cabinet.fr",
        "Hugo Bernard",
        Profession::Infirmier,
        None,
        Some("10012345673"),
    ),
    (
        "diplome@demo-universite.fr",
        "Yanis Morel",
        Profession::Etudiant,
        None,
        None,
    ),
    (
        "infirmiere@demo-cabinet.fr",
        "Inès Garnier",
        Profession::Infirmier,
        Some("751234567"),
        None,
    ),
    (
        "candidat@demo-chu.fr",
        "Karim Haddad",
        Profession::Medecin,
        None,
        None,
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

/// One session of each course; returns the open QVT, DPC and DU sessions the learners join.
fn sessions(
    conn: &mut DbConn,
    [university, school, training_body]: [&str; 3],
) -> anyhow::Result<[String; 3]> {
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
    let du = session(
        conn,
        "doyenne@demo-universite.fr",
        university,
        "du-soigner-les-soignants",
        "DU Soigner les soignants — cohorte démo",
        (EnrolmentMode::Open, None),
        false,
    )?;
    Ok([qvt, dpc, du])
}
