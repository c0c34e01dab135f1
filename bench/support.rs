//! What the benchmark (`bench/load.rs`) and the fault suite (`scripts/fault-suite/`) share:
//! the bench's course, learners seeded through the library with access tokens signed by the
//! server's keys, answers to whatever paper the server sends, and HAProxy's configuration
//! in front of several instances.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::Utc;
use qvt_campus::config::Settings;
use qvt_campus::db::{DbConn, Pool};
use qvt_campus::enrolment::model::EnrolmentStatus;
use qvt_campus::enrolment::store::Enrolment;
use qvt_campus::identity::model::{OrgKind, Role};
use qvt_campus::identity::store::{self as identity, Account};
use qvt_campus::identity::tokens::KeyRing;
use serde_json::{json, Value};

/// The bench's copy of the QVT module: its final quiz with attempts enough (a graded quiz
/// must have a limit) and retakes once passed, so one learner may submit again and again;
/// it opens without the lessons done, as load needs no reading first.
pub(crate) fn bench_courses(dir: &Path) -> PathBuf {
    let target = dir.join("courses");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("courses/qvt-formation-initiale");
    copy_dir(&source, &target.join("qvt-formation-initiale"));
    let quiz = target.join("qvt-formation-initiale/quizzes/quiz-final.toml");
    let text = std::fs::read_to_string(&quiz).unwrap();
    let text: String = text
        .lines()
        .filter(|l| {
            !["max_attempts", "improvement_attempts", "after_lessons"]
                .iter()
                .any(|key| l.starts_with(key))
        })
        .map(|l| format!("{l}\n"))
        .collect();
    // Top-level keys go before the first table.
    let text = text.replacen(
        "[[draw]]",
        "max_attempts = 1000000\nimprovement_attempts = true\n\n[[draw]]",
        1,
    );
    std::fs::write(&quiz, text).unwrap();
    target
}

pub(crate) fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let dest = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &dest);
        } else {
            std::fs::copy(&path, &dest).unwrap();
        }
    }
}

/// A verified student account (`<prefix><i>@banc-essai.fr`).
pub(crate) fn student(id: String, prefix: &str, i: usize, password_hash: &str) -> Account {
    let now = Utc::now().naive_utc();
    Account {
        id,
        email: format!("{prefix}{i}@banc-essai.fr"),
        full_name: format!("Apprenant {i}"),
        password_hash: password_hash.to_owned(),
        profession: "etudiant".into(),
        rpps: None,
        adeli: None,
        student_number: Some(format!("{i:08}")),
        mode_exercice: None,
        is_platform_admin: false,
        email_verified_at: Some(now),
        disabled_at: None,
        erased_at: None,
        created_at: now,
        updated_at: now,
        page_session_epoch: 0,
        first_name: None,
        last_name: None,
    }
}

/// Creates students `numbers` and enrols them in `session`, 5,000 per transaction.
pub(crate) fn enrol_students(
    conn: &mut DbConn,
    session: &qvt_campus::enrolment::store::Session,
    prefix: &str,
    numbers: impl Iterator<Item = usize>,
    password_hash: &str,
) -> anyhow::Result<Vec<(Account, Enrolment)>> {
    let now = Utc::now().naive_utc();
    let mut all = Vec::new();
    for chunk in numbers.collect::<Vec<_>>().chunks(5_000) {
        let people: Vec<Account> = chunk
            .iter()
            .map(|i| student(identity::new_id(), prefix, *i, password_hash))
            .collect();
        let enrolled: Vec<Enrolment> = people
            .iter()
            .map(|a| Enrolment {
                id: identity::new_id(),
                session_id: session.id.clone(),
                account_id: a.id.clone(),
                course_version_id: session.course_version_id.clone(),
                status: EnrolmentStatus::Active,
                enrolled_by: None,
                enrolled_at: now,
                withdrawn_by: None,
                withdrawn_at: None,
            })
            .collect();
        conn.write(|c| -> diesel::QueryResult<()> {
            identity::insert_accounts(c, &people)?;
            qvt_campus::enrolment::store::insert_enrolments(c, &enrolled)?;
            Ok(())
        })?;
        all.extend(people.into_iter().zip(enrolled));
    }
    Ok(all)
}

pub(crate) struct Seeded {
    /// The access token of the organisation's admin (who runs the session).
    #[allow(dead_code)] // The fault suite's; the bench drives learners only.
    pub(crate) admin: String,
    pub(crate) session: String,
    /// (enrolment id, access token), one per learner.
    pub(crate) learners: Vec<(String, String)>,
    pub(crate) lesson: String,
}

/// An organisation, a QVT session and `n` learners enrolled, with access tokens signed by
/// the server's own keys.
pub(crate) fn seed(pool: &Pool, settings: &Settings, n: usize) -> anyhow::Result<Seeded> {
    let mut conn = pool.get()?;
    let conn: &mut DbConn = &mut conn;
    let now = Utc::now().naive_utc();
    let hash = qvt_campus::identity::password::hash(
        &qvt_campus::identity::model::Password::parse("bench password 2026")
            .map_err(anyhow::Error::msg)?,
    )?;
    let admin_id = identity::new_id();
    let org = identity::Organisation {
        id: identity::new_id(),
        kind: OrgKind::University,
        name: "Université du banc d'essai".into(),
        siret: None,
        uai: Some("0751717J".into()),
        odpc_number: None,
        created_at: now,
    };
    let admin_account = student(admin_id.clone(), "apprenant", 0, &hash);
    conn.write(|c| -> anyhow::Result<()> {
        identity::insert_account(c, &admin_account)?;
        identity::insert_organisation(c, &org)?;
        identity::insert_membership(
            c,
            &identity::Membership {
                organisation_id: org.id.clone(),
                account_id: admin_id.clone(),
                role: Role::OrgAdmin,
                created_at: now,
            },
        )?;
        Ok(())
    })?;
    let admin = qvt_campus::identity::auth::CurrentUser {
        id: admin_id,
        email: "apprenant0@banc-essai.fr".into(),
        is_platform_admin: false,
        email_verified: true,
    };
    let today = Utc::now().date_naive();
    let session = qvt_campus::enrolment::service::create_session(
        conn,
        &admin,
        &org.id,
        qvt_campus::enrolment::service::NewSession {
            course: "qvt-formation-initiale".into(),
            title: "Banc d'essai".into(),
            opens_on: today - chrono::Duration::days(1),
            closes_on: today + chrono::Duration::days(30),
            capacity: None,
            mode: qvt_campus::enrolment::model::EnrolmentMode::Open,
            key: None,
            dpc_action_ref: None,
            dpc_session_no: None,
            dpc_orientation: None,
            academic_year: Some("2026-2027".into()),
            curriculum: None,
            requires_verified_rpps: false,
        },
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let keys = KeyRing::load_or_create(&settings.identity.keys_dir, &settings.public_url)?;
    let mut learners = Vec::with_capacity(n);
    for (account, enrolment) in enrol_students(conn, &session, "apprenant", 1..=n, &hash)? {
        learners.push((
            enrolment.id,
            keys.issue_access(
                &account.id,
                Duration::from_secs(4 * 3600),
                account.page_session_epoch,
            )?,
        ));
    }
    let course = qvt_campus::catalog::store::version(conn, &session.course_version_id)?.course()?;
    Ok(Seeded {
        admin: keys.issue_access(
            &admin_account.id,
            Duration::from_secs(4 * 3600),
            admin_account.page_session_epoch,
        )?,
        session: session.id,
        learners,
        lesson: course.lessons[0].id.clone(),
    })
}

/// What the load driver reads of a started attempt: the ids it answers with, borrowed from
/// the response (the prompts and texts are skipped unread). Parsed as a `Value` and cloned,
/// the paper was half of this process's CPU, on a machine it shares with the server.
#[derive(serde::Deserialize)]
pub(crate) struct Paper<'a> {
    #[serde(borrow)]
    pub(crate) id: Cow<'a, str>,
    #[serde(borrow)]
    pub(crate) items: Vec<Item<'a>>,
}

/// A question, or a group of them (`questions`).
#[derive(serde::Deserialize)]
pub(crate) struct Item<'a> {
    #[serde(borrow)]
    pub(crate) id: Cow<'a, str>,
    #[serde(borrow, rename = "type", default)]
    pub(crate) kind: Cow<'a, str>,
    #[serde(borrow, default)]
    pub(crate) choices: Vec<Ref<'a>>,
    #[serde(borrow, default)]
    pub(crate) items: Vec<Ref<'a>>,
    #[serde(borrow, default)]
    pub(crate) left: Vec<Ref<'a>>,
    #[serde(borrow, default)]
    pub(crate) right: Vec<Ref<'a>>,
    #[serde(borrow, default)]
    pub(crate) questions: Option<Vec<Item<'a>>>,
}

#[derive(serde::Deserialize)]
pub(crate) struct Ref<'a> {
    #[serde(borrow)]
    pub(crate) id: Cow<'a, str>,
}

/// One answer per question of a paper, whatever it is: enough to be graded.
pub(crate) fn answers_for(items: &[Item<'_>]) -> Value {
    let ids = |refs: &[Ref<'_>]| -> Vec<Value> { refs.iter().map(|r| json!(r.id)).collect() };
    let mut answers = serde_json::Map::new();
    let mut add = |q: &Item<'_>| {
        let answer = match &*q.kind {
            "single_choice" if !q.choices.is_empty() => json!(q.choices[0].id),
            "multiple_choice" if !q.choices.is_empty() => json!([q.choices[0].id]),
            "true_false" => json!(true),
            "numeric" => json!(1),
            "ordering" => Value::Array(ids(&q.items)),
            "matching" => Value::Object(
                q.left
                    .iter()
                    .zip(&q.right)
                    .map(|(l, r)| (l.id.to_string(), json!(r.id)))
                    .collect(),
            ),
            _ => return,
        };
        answers.insert(q.id.to_string(), answer);
    };
    for item in items {
        match &item.questions {
            Some(questions) => questions.iter().for_each(&mut add),
            None => add(item),
        }
    }
    Value::Object(answers)
}

/// HAProxy's configuration with `instances` (ports) behind `port` and its statistics on
/// `stats_port`: `scripts/haproxy.cfg`, the one `scripts/cluster` runs.
pub fn haproxy_config(port: u16, instances: &[u16], stats_port: u16) -> String {
    let servers: String = instances
        .iter()
        .enumerate()
        .map(|(i, p)| format!("    server i{i} 127.0.0.1:{p} check\n"))
        .collect();
    include_str!("../scripts/haproxy.cfg")
        .replace("@PORT@", &port.to_string())
        .replace("@STATS_PORT@", &stats_port.to_string())
        .replace("@SERVERS@\n", &servers)
}

/// A loopback port nobody listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
