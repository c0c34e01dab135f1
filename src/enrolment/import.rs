//! Bulk enrolment from a CSV export (`POST /sessions/{id}/enrolments/import`). Every row
//! is checked before anything is written; a real run writes all rows or none.

use std::collections::HashSet;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

pub use self::file::{decode, read_csv, read_text, CsvRow, FIELD as FILE_FIELD};
use self::rows::{Candidate, Checked, Known, Requirements};
pub use self::rows::{RowReport, RowStatus};
use super::model::closed_reason;
use super::service::{administered_session, today};
use super::store::{self, Enrolment, Session};
use crate::app::AppState;
use crate::catalog::store as catalog;
use crate::db::{self, DbConn};
use crate::enrolment::model::EnrolmentStatus;
use crate::error::{AppError, FieldError};
use crate::identity::auth::CurrentUser;
use crate::identity::model::{Profession, Role};
use crate::identity::numbers;
use crate::identity::store::{self as identity, Account, Membership, NewOneTimeToken};
use crate::identity::tokens::{hash_token, random_token};
use crate::mail::{self, NewMail};
use crate::stale::Stale;

mod file;
mod rows;

const INVITATION_DAYS: i64 = 14;

#[derive(Debug, Serialize, ToSchema)]
pub struct ImportReport {
    pub dry_run: bool,
    pub rows: usize,
    /// Accounts created (not sent: the report does not tell who had an account).
    #[serde(skip)]
    pub new_accounts: usize,
    /// Existing accounts never confirmed: credential reset, address invited, then enrolled.
    #[serde(skip)]
    pub invited_existing: usize,
    /// Rows enrolled (to enrol, in a dry run); each person gets an invitation or a
    /// confirmation by mail.
    pub enrolled: usize,
    pub already_enrolled: usize,
    pub errors: usize,
    pub report: Vec<RowReport>,
}

impl ImportReport {
    fn new(dry_run: bool, report: Vec<RowReport>) -> Self {
        let count = |wanted: fn(&RowReport) -> bool| report.iter().filter(|r| wanted(r)).count();
        Self {
            dry_run,
            rows: report.len(),
            new_accounts: count(|r| r.status == RowStatus::NewAccount),
            invited_existing: count(|r| r.status == RowStatus::InvitedExisting),
            enrolled: count(|r| r.status.enrols()),
            already_enrolled: count(|r| r.status == RowStatus::AlreadyEnrolled),
            errors: count(|r| !r.errors.is_empty()),
            report,
        }
    }

    /// Every error of every row, as `rows[LINE].field`.
    fn rejection(&self) -> AppError {
        let listed = self
            .report
            .iter()
            .flat_map(|r| {
                r.errors.iter().map(move |e| {
                    FieldError::new(format!("rows[{}].{}", r.line, e.field), e.message.clone())
                })
            })
            .collect();
        AppError::invalid_fields(listed).with_detail(format!(
            "{} ligne(s) invalide(s) : rien n'a été importé.",
            self.errors
        ))
    }
}

/// Checks every row against the session and the existing accounts, then (unless `dry_run`
/// or any row is wrong) creates the missing accounts, memberships and enrolments and queues
/// the mails, all in one transaction. The caller applies the returned [`Stale`]s (accounts
/// taken back from whoever registered them unconfirmed) once it has committed.
pub fn run(
    conn: &mut DbConn,
    user: &CurrentUser,
    session_id: &str,
    rows: Vec<CsvRow>,
    dry_run: bool,
    public_url: &str,
) -> Result<(ImportReport, Vec<Stale>), AppError> {
    conn.write(|conn| {
        let session = open_session(conn, user, session_id)?;
        if session.requires_verified_rpps {
            // A file's numbers are typed: here each practitioner enrols after signing in
            // with Pro Santé Connect.
            return Err(AppError::conflict(
                "Cette session n'accepte que des RPPS vérifiés par Pro Santé Connect : \
                 chaque participant s'inscrit lui-même après s'être connecté avec Pro Santé Connect.",
            ));
        }
        let version = catalog::version(conn, &session.course_version_id)?;
        let needs = Requirements {
            dpc_session: session.dpc_action_ref.is_some(),
            course_kind: version.kind,
        };
        let candidates = rows::candidates(&rows);
        let known = known(conn, &session.id, &candidates)?;
        let mut report = ImportReport::new(dry_run, rows::classify(&candidates, &known, needs));
        report.enrolled -= reinvited_enrolled(&candidates, &report.report, &known);
        if report.errors == 0 {
            check_capacity(&session, report.enrolled)?;
        }
        if dry_run {
            return Ok((report, Vec::new()));
        }
        if report.errors > 0 {
            return Err(report.rejection());
        }
        let organisation = identity::organisation(conn, &session.organisation_id)?;
        let target = Target {
            session: &session,
            enrolled_by: &user.id,
            course_title: &version.title,
            organisation: &organisation.name,
            public_url,
            now: Utc::now().naive_utc(),
        };
        let account_ids: Vec<String> = known.accounts.values().map(|a| a.id.clone()).collect();
        let members = identity::members_among(conn, &session.organisation_id, &account_ids)?;
        let writes = plan(&target, &candidates, &report.report, &known, &members)?;
        write(conn, user, &session, &writes)?;
        let stale = writes
            .reclaimed
            .iter()
            .map(|a| Stale::Account(a.id.clone()))
            .collect();
        Ok((report, stale))
    })
}

/// The session, if the user administers it and it takes enrolments today.
fn open_session(
    conn: &mut DbConn,
    user: &CurrentUser,
    session_id: &str,
) -> Result<Session, AppError> {
    let session = administered_session(conn, user, session_id)?;
    if let Some(reason) = closed_reason(
        today(),
        session.opens_on,
        session.closes_on,
        session.closed_at.is_some(),
        true,
    ) {
        return Err(AppError::conflict(reason));
    }
    Ok(session)
}

/// Looks up the file's addresses in chunks, as a file may hold tens of thousands of rows.
fn known(conn: &mut DbConn, session_id: &str, candidates: &[Candidate]) -> Result<Known, AppError> {
    let accounts = identity::accounts_by_email(conn, &rows::emails(candidates))?;
    let ids: Vec<String> = accounts.values().map(|a| a.id.clone()).collect();
    let enrolled = store::actively_enrolled(conn, session_id, &ids)?
        .into_iter()
        .collect();
    let wanted = rows::numbers(candidates);
    let mut holders = std::collections::HashMap::new();
    for field in numbers::FIELDS {
        let values: Vec<String> = wanted
            .iter()
            .filter(|(f, _)| *f == field)
            .map(|(_, v)| v.clone())
            .collect();
        for (value, holder) in identity::number_holders(conn, field, &values)? {
            holders.insert(rows::number_key(field, &value), holder);
        }
    }
    Ok(Known {
        accounts,
        enrolled,
        numbers: holders,
    })
}

/// Rows that invite an unconfirmed account already enrolled: the enrolment stays, and no
/// seat is taken again.
fn reinvited_enrolled(candidates: &[Candidate], report: &[RowReport], known: &Known) -> usize {
    report
        .iter()
        .zip(candidates)
        .filter(|(r, _)| r.status == RowStatus::InvitedExisting)
        .filter_map(|(_, c)| known.accounts.get(c.checked.as_ref()?.email.as_str()))
        .filter(|a| known.enrolled.contains(&a.id))
        .count()
}

/// Refuses a file that would overbook the session, before the writes find out row by row.
fn check_capacity(session: &Session, to_enrol: usize) -> Result<(), AppError> {
    if let Some(capacity) = session.capacity {
        let left = (capacity - session.active_count).max(0) as usize;
        if to_enrol > left {
            return Err(AppError::conflict(format!(
                "{to_enrol} inscriptions demandées pour {left} place(s) restante(s)."
            )));
        }
    }
    Ok(())
}

/// The session's side of every row and mail an import writes.
struct Target<'a> {
    session: &'a Session,
    enrolled_by: &'a str,
    course_title: &'a str,
    organisation: &'a str,
    public_url: &'a str,
    now: NaiveDateTime,
}

/// Everything a valid file adds, built before any of it is written.
#[derive(Default)]
struct Writes {
    accounts: Vec<Account>,
    /// Unconfirmed accounts taken back for the address's owner (see [`reclaimed`]).
    reclaimed: Vec<Account>,
    memberships: Vec<Membership>,
    enrolments: Vec<Enrolment>,
    invitations: Vec<NewOneTimeToken>,
    mails: Vec<NewMail>,
}

fn plan(
    target: &Target<'_>,
    candidates: &[Candidate],
    report: &[RowReport],
    known: &Known,
    members: &HashSet<String>,
) -> Result<Writes, AppError> {
    let mut writes = Writes::default();
    for (entry, candidate) in report.iter().zip(candidates) {
        let Some(c) = &candidate.checked else {
            continue;
        };
        let account = match entry.status {
            RowStatus::ExistingAccount => known.accounts[c.email.as_str()].clone(),
            RowStatus::InvitedExisting => {
                let account = reclaimed(&known.accounts[c.email.as_str()], c, target.now);
                writes.reclaimed.push(account.clone());
                account
            }
            RowStatus::NewAccount => {
                let account = new_account(c, target.now);
                writes.accounts.push(account.clone());
                account
            }
            RowStatus::AlreadyEnrolled | RowStatus::Error => continue,
        };
        if !members.contains(&account.id) {
            writes.memberships.push(Membership {
                organisation_id: target.session.organisation_id.clone(),
                account_id: account.id.clone(),
                role: Role::Learner,
                created_at: target.now,
            });
        }
        if !known.enrolled.contains(&account.id) {
            writes.enrolments.push(target.enrolment(&account));
        }
        let mut context = target.mail_context(&account);
        let template = if entry.status != RowStatus::ExistingAccount {
            let token = random_token();
            writes.invitations.push(target.invitation(&account, &token));
            context["link"] =
                format!("{}/definir-mot-de-passe?jeton={token}", target.public_url).into();
            context["reclaimed"] = (entry.status == RowStatus::InvitedExisting).into();
            "invitation"
        } else {
            "inscription_confirmee"
        };
        writes
            .mails
            .push(NewMail::new(&account.email, template, context)?);
    }
    Ok(writes)
}

/// An unconfirmed account as the file says it is: whoever registered the address first
/// proved nothing, so their password, sessions and identity fields go, and the invitation
/// lets the address's owner set the password (which confirms the address).
fn reclaimed(existing: &Account, c: &Checked, now: NaiveDateTime) -> Account {
    let fresh = new_account(c, now);
    Account {
        id: existing.id.clone(),
        created_at: existing.created_at,
        // Page sessions opened with the old password end; bearer tokens are refused by
        // `Account::awaits_owner` (an empty password on an unconfirmed account).
        page_session_epoch: existing.page_session_epoch + 1,
        ..fresh
    }
}

fn new_account(c: &Checked, now: NaiveDateTime) -> Account {
    Account {
        id: identity::new_id(),
        email: c.email.as_str().to_owned(),
        full_name: c.full_name.as_str().to_owned(),
        // No password until the invitation link is used.
        password_hash: String::new(),
        profession: c
            .profession
            .unwrap_or(Profession::Etudiant)
            .code()
            .to_owned(),
        rpps: c.rpps.as_ref().map(|r| r.as_str().to_owned()),
        adeli: c.adeli.as_ref().map(|a| a.as_str().to_owned()),
        student_number: c.student_number.as_ref().map(|s| s.as_str().to_owned()),
        mode_exercice: None,
        is_platform_admin: false,
        email_verified_at: None,
        disabled_at: None,
        erased_at: None,
        created_at: now,
        updated_at: now,
        page_session_epoch: 0,
        first_name: Some(c.first_name.clone()),
        last_name: Some(c.last_name.clone()),
    }
}

impl Target<'_> {
    fn enrolment(&self, account: &Account) -> Enrolment {
        Enrolment {
            id: identity::new_id(),
            session_id: self.session.id.clone(),
            account_id: account.id.clone(),
            course_version_id: self.session.course_version_id.clone(),
            status: EnrolmentStatus::Active,
            enrolled_by: Some(self.enrolled_by.to_owned()),
            enrolled_at: self.now,
            withdrawn_by: None,
            withdrawn_at: None,
        }
    }

    fn invitation(&self, account: &Account, token: &str) -> NewOneTimeToken {
        NewOneTimeToken {
            id: identity::new_id(),
            account_id: account.id.clone(),
            purpose: identity::INVITATION,
            token_hash: hash_token(token),
            expires_at: self.now + chrono::Duration::days(INVITATION_DAYS),
            created_at: self.now,
        }
    }

    fn mail_context(&self, account: &Account) -> serde_json::Value {
        json!({
            "full_name": account.full_name,
            "course_title": self.course_title,
            "session_title": self.session.title,
            "organisation": self.organisation,
            "opens_on": crate::fr::short_date(self.session.opens_on),
            "closes_on": crate::fr::short_date(self.session.closes_on),
        })
    }
}

/// Accounts and memberships go in before the enrolments that refer to them; the seats are
/// taken in one conditional update, so a concurrent enrolment cannot overbook the session.
fn write(
    conn: &mut DbConn,
    user: &CurrentUser,
    session: &Session,
    writes: &Writes,
) -> Result<(), AppError> {
    identity::insert_accounts(conn, &writes.accounts).map_err(numbers::claimed)?;
    for account in &writes.reclaimed {
        identity::update_account(conn, account).map_err(numbers::claimed)?;
        identity::revoke_all_refresh(conn, &account.id)?;
    }
    identity::insert_memberships(conn, &writes.memberships)?;
    if !store::take_seats(conn, &session.id, writes.enrolments.len() as i32)? {
        return Err(AppError::conflict("Plus assez de places dans la session."));
    }
    store::insert_enrolments(conn, &writes.enrolments)?;
    identity::insert_one_time_tokens(conn, &writes.invitations)?;
    mail::enqueue_many(conn, &writes.mails)?;
    identity::audit(
        conn,
        Some(&user.id),
        "enrolment.imported",
        Some(&session.organisation_id),
        Some(&session.id),
        json!({ "enrolled": writes.enrolments.len(), "new_accounts": writes.accounts.len(),
                "invited_existing": writes.reclaimed.iter().map(|a| &a.id).collect::<Vec<_>>() }),
    )?;
    Ok(())
}

#[derive(Deserialize)]
pub struct ImportQuery {
    #[serde(default)]
    dry_run: bool,
}

/// Enrols the learners of a CSV file (`text/csv`; UTF-8, Windows-1252 or UTF-16 with its
/// mark; `;`, `,` or tab; columns email, nom, prénom, numéro étudiant, profession, RPPS,
/// ADELI, or a Moodle user export's). `?dry_run=true` reports without writing; a real run
/// writes every row or none.
/// A school's whole promotion fits: 10,000 rows are about 1 MB.
pub const IMPORT_BODY_LIMIT: usize = 16 * 1024 * 1024;

#[utoipa::path(post, path = "/api/v1/sessions/{id}/enrolments/import", tag = "enrolment", security(("bearer" = [])),
    params(("dry_run" = Option<bool>, Query, description = "check only")),
    request_body(content = String, content_type = "text/csv"),
    responses(
        (status = 200, body = ImportReport), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem), (status = 415, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem, description = "every invalid row, as rows[LINE].field"),
    ))]
pub async fn import(
    state: web::Data<AppState>,
    user: CurrentUser,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<ImportQuery>,
    mut body: web::Payload,
) -> Result<HttpResponse, AppError> {
    let is_csv = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/csv") || v.starts_with("application/csv"));
    if !is_csv {
        return Err(AppError::unsupported_media_type("text/csv"));
    }
    let (session_id, dry_run) = (path.into_inner(), query.dry_run);
    // Who may import is known before the file is read: a stranger's 16 MB upload is
    // refused unread (404 as for any session they do not administer).
    let (id, caller) = (session_id.clone(), user.clone());
    db::run(&state.pool, move |conn| {
        administered_session(conn, &caller, &id).map(drop)
    })
    .await?;
    let mut bytes = web::BytesMut::new();
    while let Some(chunk) = futures_util::StreamExt::next(&mut body).await {
        let chunk = chunk.map_err(|e| AppError::malformed("body", e.to_string()))?;
        if bytes.len() + chunk.len() > IMPORT_BODY_LIMIT {
            return Err(AppError::payload_too_large(IMPORT_BODY_LIMIT));
        }
        bytes.extend_from_slice(&chunk);
    }
    let rows = read_csv(&bytes)?;
    let public_url = state.settings.public_url.clone();
    let (report, stale) = db::run(&state.pool, move |conn| {
        run(conn, &user, &session_id, rows, dry_run, &public_url)
    })
    .await?;
    for stale in stale {
        state.forget(stale);
    }
    Ok(HttpResponse::Ok().json(report))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::model::CourseKind;

    #[test]
    fn the_summary_counts_rows_by_status_and_lists_errors_by_line() {
        let csv =
            "email;nom;prenom\nzoe@univ.fr;Martin;Zoé\nfaux;Durand;Léo\nzoe@univ.fr;Martin;Zoé\n";
        let candidates = rows::candidates(&read_csv(csv.as_bytes()).unwrap());
        let needs = Requirements {
            dpc_session: false,
            course_kind: CourseKind::InitialModule,
        };
        let report = rows::classify(&candidates, &Known::default(), needs);
        let summary = ImportReport::new(true, report);
        assert_eq!(
            (
                summary.rows,
                summary.new_accounts,
                summary.enrolled,
                summary.already_enrolled,
                summary.errors
            ),
            (3, 1, 1, 0, 2)
        );
        let fields: Vec<String> = summary
            .rejection()
            .errors()
            .iter()
            .map(|e| e.field.clone())
            .collect();
        assert_eq!(fields, ["rows[3].email", "rows[4].email"]);
    }
}
