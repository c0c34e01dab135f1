//! Bulk enrolment from a CSV export (`POST /sessions/{id}/enrolments/import`). Every row
//! is checked before anything is written; a real run writes all rows or none.

use std::collections::{HashMap, HashSet};

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::model::closed_reason;
use super::service::{administered_session, today};
use super::store::{self, Enrolment};
use crate::app::AppState;
use crate::catalog::model::CourseKind;
use crate::catalog::store as catalog;
use crate::db::schema::{accounts, enrolments, memberships, one_time_tokens, training_sessions};
use crate::db::{self, DbConn};
use crate::error::{AppError, FieldError};
use crate::identity::auth::CurrentUser;
use crate::identity::model::{Adeli, Email, FullName, Profession, Role, Rpps, StudentNumber};
use crate::identity::store::{self as identity, Account, Membership};
use crate::identity::tokens::{hash_token, random_token};
use crate::mail::{self, NewMail};

const INVITATION_DAYS: i64 = 14;

/// A row as read, before any check.
#[derive(Debug, Default, Clone)]
pub struct CsvRow {
    pub line: u64,
    pub email: String,
    pub last_name: String,
    pub first_name: String,
    pub student_number: String,
    pub profession: String,
    pub rpps: String,
    pub adeli: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Column {
    Email,
    LastName,
    FirstName,
    StudentNumber,
    Profession,
    Rpps,
    Adeli,
}

/// Header names as universities and schools export them, accents and case aside.
fn column_of(header: &str) -> Option<Column> {
    let folded: String = header
        .trim()
        .to_lowercase()
        .chars()
        .map(|c| match c {
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'à' | 'â' => 'a',
            'î' | 'ï' => 'i',
            'ô' => 'o',
            'û' | 'ù' => 'u',
            'ç' => 'c',
            other => other,
        })
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    Some(match folded.as_str() {
        "email" | "mail" | "courriel" | "adressemail" | "adresseemail" | "adressecourriel" => {
            Column::Email
        }
        "nom" | "lastname" | "nomdefamille" | "nomdusage" => Column::LastName,
        "prenom" | "firstname" => Column::FirstName,
        "numeroetudiant" | "numetudiant" | "noetudiant" | "netudiant" | "nodetudiant"
        | "studentnumber" | "numerodetudiant" => Column::StudentNumber,
        "profession" => Column::Profession,
        "rpps" | "numerorpps" => Column::Rpps,
        "adeli" | "numeroadeli" => Column::Adeli,
        _ => return None,
    })
}

/// Counts lines as records go by (the reader's own count skips blank lines, and
/// recounting from the start for each record would be quadratic).
struct LineCounter<'a> {
    bytes: &'a [u8],
    offset: usize,
    line: u64,
}

impl LineCounter<'_> {
    /// The line where the record at `byte` starts (past any blank lines before it).
    fn line_at(&mut self, byte: usize) -> u64 {
        let mut start = byte.min(self.bytes.len());
        while matches!(self.bytes.get(start), Some(b'\n' | b'\r')) {
            start += 1;
        }
        if start >= self.offset {
            self.line += self.bytes[self.offset..start]
                .iter()
                .filter(|b| **b == b'\n')
                .count() as u64;
            self.offset = start;
        }
        self.line
    }
}

/// Reads the CSV: UTF-8 (a BOM is fine), `;` or `,` chosen from the header line.
pub fn read_csv(bytes: &[u8]) -> Result<Vec<CsvRow>, AppError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        AppError::invalid(
            "csv",
            format!(
                "encodage UTF-8 attendu (octet {} invalide)",
                e.valid_up_to()
            ),
        )
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let header_line = text.lines().next().unwrap_or_default();
    let delimiter = if header_line.matches(';').count() >= header_line.matches(',').count() {
        b';'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| AppError::invalid("csv", format!("en-tête illisible : {e}")))?
        .clone();
    let columns: Vec<Option<Column>> = headers.iter().map(column_of).collect();
    for (needed, name) in [
        (Column::Email, "email"),
        (Column::LastName, "nom"),
        (Column::FirstName, "prénom"),
    ] {
        if !columns.contains(&Some(needed)) {
            return Err(AppError::invalid(
                "csv",
                format!("colonne « {name} » absente de l'en-tête"),
            ));
        }
    }
    let mut rows = Vec::new();
    let mut lines = LineCounter {
        bytes: text.as_bytes(),
        offset: 0,
        line: 1,
    };
    for record in reader.records() {
        let record =
            record.map_err(|e| AppError::invalid("csv", format!("ligne illisible : {e}")))?;
        let line = record
            .position()
            .map_or(0, |p| lines.line_at(p.byte() as usize));
        let mut row = CsvRow {
            line,
            ..CsvRow::default()
        };
        if record.iter().all(str::is_empty) {
            continue;
        }
        for (value, column) in record.iter().zip(&columns) {
            let slot = match column {
                Some(Column::Email) => &mut row.email,
                Some(Column::LastName) => &mut row.last_name,
                Some(Column::FirstName) => &mut row.first_name,
                Some(Column::StudentNumber) => &mut row.student_number,
                Some(Column::Profession) => &mut row.profession,
                Some(Column::Rpps) => &mut row.rpps,
                Some(Column::Adeli) => &mut row.adeli,
                None => continue,
            };
            *slot = value.to_owned();
        }
        rows.push(row);
    }
    if rows.is_empty() {
        return Err(AppError::invalid("csv", "aucune ligne après l'en-tête"));
    }
    Ok(rows)
}

/// A row once checked on its own.
struct Checked {
    email: Email,
    full_name: FullName,
    student_number: Option<StudentNumber>,
    profession: Option<Profession>,
    rpps: Option<Rpps>,
    adeli: Option<Adeli>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RowReport {
    pub line: u64,
    pub email: String,
    /// `new_account`, `existing_account`, `already_enrolled` or `error`.
    pub status: String,
    pub errors: Vec<FieldError>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ImportReport {
    pub dry_run: bool,
    pub rows: usize,
    pub new_accounts: usize,
    pub enrolled: usize,
    pub already_enrolled: usize,
    pub errors: usize,
    pub report: Vec<RowReport>,
}

fn optional<T>(
    raw: &str,
    parse: impl Fn(&str) -> Result<T, String>,
    field: &str,
    errors: &mut Vec<FieldError>,
) -> Option<T> {
    if raw.trim().is_empty() {
        return None;
    }
    parse(raw)
        .map_err(|m| errors.push(FieldError::new(field, m)))
        .ok()
}

fn check_row(row: &CsvRow) -> (Option<Checked>, Vec<FieldError>) {
    let mut errors = Vec::new();
    let email = Email::parse(&row.email)
        .map_err(|m| errors.push(FieldError::new("email", m)))
        .ok();
    if row.first_name.trim().is_empty() {
        errors.push(FieldError::new("prenom", "prénom obligatoire"));
    }
    if row.last_name.trim().is_empty() {
        errors.push(FieldError::new("nom", "nom obligatoire"));
    }
    let full_name = FullName::parse(&format!("{} {}", row.first_name, row.last_name))
        .map_err(|m| errors.push(FieldError::new("nom", m)))
        .ok();
    let student_number = optional(
        &row.student_number,
        StudentNumber::parse,
        "numero_etudiant",
        &mut errors,
    );
    let profession = optional(
        &row.profession,
        Profession::parse,
        "profession",
        &mut errors,
    );
    let rpps = optional(&row.rpps, Rpps::parse, "rpps", &mut errors);
    let adeli = optional(&row.adeli, Adeli::parse, "adeli", &mut errors);
    let checked = match (email, full_name, errors.is_empty()) {
        (Some(email), Some(full_name), true) => Some(Checked {
            email,
            full_name,
            student_number,
            profession,
            rpps,
            adeli,
        }),
        _ => None,
    };
    (checked, errors)
}

/// Checks every row against the session and the existing accounts, then (unless `dry_run`
/// or any row is wrong) creates the missing accounts, memberships and enrolments and queues
/// the mails, all in one transaction.
pub fn run(
    conn: &mut DbConn,
    user: &CurrentUser,
    session_id: &str,
    rows: Vec<CsvRow>,
    dry_run: bool,
    public_url: &str,
) -> Result<ImportReport, AppError> {
    conn.write(|conn| {
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
        let kind = CourseKind::parse(&catalog::version(conn, &session.course_version_id)?.kind)
            .expect("valid kind");
        let dpc = session.dpc_action_ref.is_some();

        let mut report = Vec::with_capacity(rows.len());
        let mut checked = Vec::with_capacity(rows.len());
        let mut first_line: HashMap<String, u64> = HashMap::new();
        for row in &rows {
            let (ok, mut errors) = check_row(row);
            if let Some(c) = &ok {
                if let Some(line) = first_line.insert(c.email.as_str().to_owned(), row.line) {
                    errors.push(FieldError::new(
                        "email",
                        format!("adresse déjà présente ligne {line}"),
                    ));
                }
            }
            report.push(RowReport {
                line: row.line,
                email: row.email.clone(),
                status: "error".into(),
                errors,
            });
            checked.push(ok);
        }

        let emails: Vec<String> = checked
            .iter()
            .flatten()
            .map(|c| c.email.as_str().to_owned())
            .collect();
        let mut existing: HashMap<String, Account> = HashMap::new();
        for chunk in emails.chunks(500) {
            for account in accounts::table
                .filter(accounts::email.eq_any(chunk))
                .select(Account::as_select())
                .load(conn)?
            {
                existing.insert(account.email.clone(), account);
            }
        }
        let existing_ids: Vec<String> = existing.values().map(|a| a.id.clone()).collect();
        let enrolled: HashSet<String> = store::actively_enrolled(conn, session_id, &existing_ids)?
            .into_iter()
            .collect();
        let mut members: HashSet<String> = HashSet::new();
        for chunk in existing_ids.chunks(500) {
            members.extend(
                memberships::table
                    .filter(memberships::organisation_id.eq(&session.organisation_id))
                    .filter(memberships::account_id.eq_any(chunk))
                    .select(memberships::account_id)
                    .load::<String>(conn)?,
            );
        }

        for (entry, checked) in report.iter_mut().zip(&checked) {
            let Some(c) = checked else { continue };
            if !entry.errors.is_empty() {
                continue;
            }
            match existing.get(c.email.as_str()) {
                Some(account) if !account.is_active() => entry
                    .errors
                    .push(FieldError::new("email", "compte désactivé ou supprimé")),
                Some(account) if enrolled.contains(&account.id) => {
                    entry.status = "already_enrolled".into()
                }
                Some(account) => {
                    if dpc && account.rpps.is_none() && account.adeli.is_none() {
                        entry.errors.push(FieldError::new(
                            "rpps",
                            "session DPC : ce compte n'a ni RPPS ni ADELI",
                        ));
                    } else {
                        entry.status = "existing_account".into();
                    }
                }
                None => {
                    if dpc && c.rpps.is_none() && c.adeli.is_none() {
                        entry.errors.push(FieldError::new(
                            "rpps",
                            "session DPC : numéro RPPS ou ADELI obligatoire",
                        ));
                    } else if c.profession.is_none() && kind == CourseKind::Dpc {
                        entry.errors.push(FieldError::new(
                            "profession",
                            "profession obligatoire pour un nouveau compte",
                        ));
                    } else {
                        entry.status = "new_account".into();
                    }
                }
            }
        }

        let to_enrol = report
            .iter()
            .filter(|r| r.status == "new_account" || r.status == "existing_account")
            .count();
        let errors = report.iter().filter(|r| !r.errors.is_empty()).count();
        let summary = |report: Vec<RowReport>| ImportReport {
            dry_run,
            rows: report.len(),
            new_accounts: report.iter().filter(|r| r.status == "new_account").count(),
            enrolled: to_enrol,
            already_enrolled: report
                .iter()
                .filter(|r| r.status == "already_enrolled")
                .count(),
            errors,
            report,
        };
        if let Some(capacity) = session.capacity {
            let left = (capacity - session.active_count).max(0) as usize;
            if to_enrol > left && errors == 0 {
                return Err(AppError::conflict(format!(
                    "{to_enrol} inscriptions demandées pour {left} place(s) restante(s)."
                )));
            }
        }
        if errors > 0 && !dry_run {
            let listed = report
                .iter()
                .flat_map(|r| {
                    r.errors.iter().map(move |e| {
                        FieldError::new(format!("rows[{}].{}", r.line, e.field), e.message.clone())
                    })
                })
                .collect();
            return Err(AppError::invalid_fields(listed).with_detail(format!(
                "{errors} ligne(s) invalide(s) : rien n'a été importé."
            )));
        }
        if dry_run {
            return Ok(summary(report));
        }

        // Every row is valid: write it all.
        let now = Utc::now().naive_utc();
        let mut new_accounts = Vec::new();
        let mut new_members = Vec::new();
        let mut new_enrolments = Vec::new();
        let mut invitations = Vec::new();
        let mut mails = Vec::new();
        let course_title = catalog::version(conn, &session.course_version_id)?.title;
        let organisation = identity::organisation(conn, &session.organisation_id)?;
        for (entry, checked) in report.iter().zip(&checked) {
            let Some(c) = checked else { continue };
            let account = match entry.status.as_str() {
                "existing_account" => existing[c.email.as_str()].clone(),
                "new_account" => {
                    let account = Account {
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
                    };
                    new_accounts.push(account.clone());
                    account
                }
                _ => continue,
            };
            if !members.contains(&account.id) {
                new_members.push(Membership {
                    organisation_id: session.organisation_id.clone(),
                    account_id: account.id.clone(),
                    role: Role::Learner.code().into(),
                    created_at: now,
                });
            }
            new_enrolments.push(Enrolment {
                id: identity::new_id(),
                session_id: session.id.clone(),
                account_id: account.id.clone(),
                course_version_id: session.course_version_id.clone(),
                status: store::ACTIVE.into(),
                enrolled_by: Some(user.id.clone()),
                enrolled_at: now,
                withdrawn_by: None,
                withdrawn_at: None,
            });
            let mut context = json!({
                "full_name": account.full_name,
                "course_title": course_title,
                "session_title": session.title,
                "organisation": organisation.name,
                "opens_on": session.opens_on.format("%d/%m/%Y").to_string(),
                "closes_on": session.closes_on.format("%d/%m/%Y").to_string(),
            });
            let template = if entry.status == "new_account" {
                let token = random_token();
                invitations.push(Invitation {
                    id: identity::new_id(),
                    account_id: account.id.clone(),
                    purpose: identity::INVITATION,
                    token_hash: hash_token(&token),
                    expires_at: now + chrono::Duration::days(INVITATION_DAYS),
                    created_at: now,
                });
                context["link"] = format!("{public_url}/definir-mot-de-passe?jeton={token}").into();
                "invitation"
            } else {
                "inscription_confirmee"
            };
            mails.push(NewMail::new(&account.email, template, context)?);
        }
        crate::batch_insert!(conn, accounts::table, &new_accounts);
        crate::batch_insert!(conn, memberships::table, &new_members);
        let seats = diesel::update(
            training_sessions::table.find(&session.id).filter(
                training_sessions::capacity
                    .is_null()
                    .or(
                        (training_sessions::active_count + new_enrolments.len() as i32)
                            .le(training_sessions::capacity.assume_not_null()),
                    ),
            ),
        )
        .set(
            training_sessions::active_count
                .eq(training_sessions::active_count + new_enrolments.len() as i32),
        )
        .execute(conn)?;
        if seats != 1 {
            return Err(AppError::conflict("Plus assez de places dans la session."));
        }
        crate::batch_insert!(conn, enrolments::table, &new_enrolments);
        crate::batch_insert!(conn, one_time_tokens::table, &invitations);
        mail::enqueue_many(conn, &mails)?;
        identity::audit(
            conn,
            Some(&user.id),
            "enrolment.imported",
            Some(&session.organisation_id),
            Some(&session.id),
            json!({ "enrolled": new_enrolments.len(), "new_accounts": new_accounts.len() }),
        )?;
        Ok(summary(report))
    })
}

#[derive(Insertable)]
#[diesel(table_name = one_time_tokens)]
struct Invitation {
    id: String,
    account_id: String,
    purpose: &'static str,
    token_hash: String,
    expires_at: chrono::NaiveDateTime,
    created_at: chrono::NaiveDateTime,
}

#[derive(Deserialize)]
pub struct ImportQuery {
    #[serde(default)]
    dry_run: bool,
}

/// Enrols the learners of a CSV file (`text/csv`, UTF-8, `;` or `,`; columns email, nom,
/// prénom, numéro étudiant, profession, RPPS, ADELI). `?dry_run=true` reports without
/// writing; a real run writes every row or none.
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
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let is_csv = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/csv") || v.starts_with("application/csv"));
    if !is_csv {
        return Err(AppError::unsupported_media_type("text/csv"));
    }
    let rows = read_csv(&body)?;
    let (session_id, dry_run) = (path.into_inner(), query.dry_run);
    let public_url = state.settings.public_url.clone();
    let report = db::run(&state.pool, move |conn| {
        run(conn, &user, &session_id, rows, dry_run, &public_url)
    })
    .await?;
    Ok(HttpResponse::Ok().json(report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semicolon_exports_with_french_headers_and_a_bom_are_read() {
        let csv = "\u{feff}Nom;Prénom;Courriel;N° étudiant;Profession\nMartin;Zoé;zoe@univ.fr;E123;etudiant\n\nDurand;Léo;leo@univ.fr;;\n";
        let rows = read_csv(csv.as_bytes()).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (
                rows[0].line,
                rows[0].first_name.as_str(),
                rows[0].email.as_str()
            ),
            (2, "Zoé", "zoe@univ.fr")
        );
        assert_eq!(rows[1].line, 4);
        assert_eq!(rows[0].student_number, "E123");
    }

    #[test]
    fn comma_exports_are_read_and_a_missing_column_is_named() {
        let rows = read_csv(b"email,last_name,first_name\na@b.fr,A,B\n").unwrap();
        assert_eq!(rows[0].last_name, "A");
        let err = read_csv(b"email;nom\na@b.fr;A\n").unwrap_err();
        assert_eq!(err.errors()[0].field, "csv");
    }

    #[test]
    fn every_bad_field_of_a_row_is_reported() {
        let row = CsvRow {
            line: 9,
            email: "pas-une-adresse".into(),
            last_name: "".into(),
            first_name: "Zoé".into(),
            rpps: "123".into(),
            ..Default::default()
        };
        let (checked, errors) = check_row(&row);
        assert!(checked.is_none());
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, vec!["email", "nom", "rpps"]);
    }
}
