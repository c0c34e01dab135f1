//! What an import does with each row of a file: checked on its own, against the rest of the
//! file, then against the accounts and enrolments the database already holds. Pure, so that
//! every outcome is tested here; the queries and the writes stay in `import`.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::CsvRow;
use crate::catalog::model::CourseKind;
use crate::error::FieldError;
use crate::identity::model::{Adeli, Email, FullName, Profession, Rpps, StudentNumber};
use crate::identity::store::Account;

/// What an import does with a row; sent as the row's `status`, in snake case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RowStatus {
    /// An account is created and invited, then enrolled.
    NewAccount,
    ExistingAccount,
    /// An existing account whose address was never confirmed: whoever registered it may
    /// not be its owner, so its credential is reset and the address invited (the link
    /// confirms it and sets a password), then the account is enrolled.
    InvitedExisting,
    /// Nothing to do: the account is an active learner of the session already.
    AlreadyEnrolled,
    Error,
}

impl RowStatus {
    pub fn enrols(self) -> bool {
        matches!(
            self,
            Self::NewAccount | Self::ExistingAccount | Self::InvitedExisting
        )
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RowReport {
    pub line: u64,
    pub email: String,
    /// What the organisation is told: `to_enrol` whether the address has an account, a
    /// never-confirmed one or none (an import does not reveal who is registered; each gets
    /// an invitation or a confirmation by mail), `already_enrolled` or `error`.
    #[serde(serialize_with = "told")]
    #[schema(value_type = ToldStatus)]
    pub status: RowStatus,
    pub errors: Vec<FieldError>,
}

/// A row's status as the report shows it (see [`RowReport::status`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ToldStatus {
    ToEnrol,
    AlreadyEnrolled,
    Error,
}

impl From<RowStatus> for ToldStatus {
    fn from(status: RowStatus) -> Self {
        match status {
            RowStatus::NewAccount | RowStatus::ExistingAccount | RowStatus::InvitedExisting => {
                Self::ToEnrol
            }
            RowStatus::AlreadyEnrolled => Self::AlreadyEnrolled,
            RowStatus::Error => Self::Error,
        }
    }
}

fn told<S: serde::Serializer>(status: &RowStatus, serializer: S) -> Result<S::Ok, S::Error> {
    ToldStatus::from(*status).serialize(serializer)
}

/// A row once checked on its own.
pub(super) struct Checked {
    pub email: Email,
    pub full_name: FullName,
    /// Apart, as the file gives them (spaces tidied).
    pub first_name: String,
    pub last_name: String,
    pub student_number: Option<StudentNumber>,
    pub profession: Option<Profession>,
    pub rpps: Option<Rpps>,
    pub adeli: Option<Adeli>,
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

fn tidy(name: &str) -> String {
    name.split_whitespace().collect::<Vec<_>>().join(" ")
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
        Profession::from_label,
        "profession",
        &mut errors,
    );
    let rpps = optional(&row.rpps, Rpps::parse, "rpps", &mut errors);
    let adeli = optional(&row.adeli, Adeli::parse, "adeli", &mut errors);
    let checked = match (email, full_name, errors.is_empty()) {
        (Some(email), Some(full_name), true) => Some(Checked {
            email,
            full_name,
            first_name: tidy(&row.first_name),
            last_name: tidy(&row.last_name),
            student_number,
            profession,
            rpps,
            adeli,
        }),
        _ => None,
    };
    (checked, errors)
}

/// A row checked on its own and against the rest of the file.
pub(super) struct Candidate {
    pub line: u64,
    /// As written, for the report.
    pub email: String,
    /// `None` when a field is wrong; a duplicate address keeps it but adds an error.
    pub checked: Option<Checked>,
    pub errors: Vec<FieldError>,
}

pub(super) fn candidates(rows: &[CsvRow]) -> Vec<Candidate> {
    let mut first_line: HashMap<String, u64> = HashMap::new();
    rows.iter()
        .map(|row| {
            let (checked, mut errors) = check_row(row);
            if let Some(c) = &checked {
                if let Some(line) = first_line.insert(c.email.as_str().to_owned(), row.line) {
                    errors.push(FieldError::new(
                        "email",
                        format!("adresse déjà présente ligne {line}"),
                    ));
                }
                for (field, value) in numbers_of(c) {
                    let Some(value) = value else { continue };
                    if let Some(line) = first_line.insert(number_key(field, value), row.line) {
                        errors.push(FieldError::new(
                            field,
                            format!("numéro déjà présent ligne {line}"),
                        ));
                    }
                }
            }
            Candidate {
                line: row.line,
                email: row.email.clone(),
                checked,
                errors,
            }
        })
        .collect()
}

/// The file's numbers, by field, of rows with no error yet.
pub(super) fn numbers(candidates: &[Candidate]) -> Vec<(&'static str, String)> {
    candidates
        .iter()
        .filter_map(|c| c.checked.as_ref())
        .flat_map(numbers_of)
        .filter_map(|(field, value)| Some((field, value?.to_owned())))
        .collect()
}

/// The addresses of a file that need a lookup: those of rows with no error yet.
pub(super) fn emails(candidates: &[Candidate]) -> Vec<String> {
    candidates
        .iter()
        .filter_map(|c| c.checked.as_ref())
        .map(|c| c.email.as_str().to_owned())
        .collect()
}

/// What the database already holds about the file's addresses.
#[derive(Default)]
pub(super) struct Known {
    /// By address.
    pub accounts: HashMap<String, Account>,
    /// Ids of the accounts already active in the session.
    pub enrolled: HashSet<String>,
    /// The accounts holding the file's RPPS and ADELI numbers, by [`number_key`].
    pub numbers: HashMap<String, String>,
}

/// What the session asks of the learners it enrols.
#[derive(Debug, Clone, Copy)]
pub(super) struct Requirements {
    /// A DPC action is declared to the ANDPC with each learner's RPPS or ADELI number.
    pub dpc_session: bool,
    pub course_kind: CourseKind,
}

/// The report of every row: its status, or the errors that stop the import.
pub(super) fn classify(
    candidates: &[Candidate],
    known: &Known,
    needs: Requirements,
) -> Vec<RowReport> {
    candidates
        .iter()
        .map(|candidate| {
            let mut errors = candidate.errors.clone();
            let status = match &candidate.checked {
                Some(c) if errors.is_empty() => status_of(c, known, needs).unwrap_or_else(|e| {
                    errors.push(e);
                    RowStatus::Error
                }),
                _ => RowStatus::Error,
            };
            RowReport {
                line: candidate.line,
                email: candidate.email.clone(),
                status,
                errors,
            }
        })
        .collect()
}

/// The key of a professional number in [`Known::numbers`] and the file's duplicate check.
pub(super) fn number_key(field: &str, value: &str) -> String {
    format!("{field}:{value}")
}

/// The row's numbers, by field.
fn numbers_of(c: &Checked) -> [(&'static str, Option<&str>); 2] {
    [
        ("rpps", c.rpps.as_ref().map(Rpps::as_str)),
        ("adeli", c.adeli.as_ref().map(Adeli::as_str)),
    ]
}

fn status_of(c: &Checked, known: &Known, needs: Requirements) -> Result<RowStatus, FieldError> {
    let status = status_by_account(c, known, needs)?;
    // Rows that write the file's numbers onto an account: each belongs to one account.
    if matches!(status, RowStatus::NewAccount | RowStatus::InvitedExisting) {
        let own = known.accounts.get(c.email.as_str()).map(|a| a.id.as_str());
        for (field, value) in numbers_of(c) {
            let holder = value.and_then(|v| known.numbers.get(&number_key(field, v)));
            if holder.is_some_and(|h| Some(h.as_str()) != own) {
                return Err(FieldError::new(
                    field,
                    "numéro déjà associé à un autre compte : la personne doit contacter l'organisme de formation",
                ));
            }
        }
    }
    Ok(status)
}

fn status_by_account(
    c: &Checked,
    known: &Known,
    needs: Requirements,
) -> Result<RowStatus, FieldError> {
    let no_number = |rpps: bool, adeli: bool| needs.dpc_session && !rpps && !adeli;
    match known.accounts.get(c.email.as_str()) {
        Some(account) if !account.is_active() => {
            Err(FieldError::new("email", "compte désactivé ou supprimé"))
        }
        // The file, not whoever registered the address, says who this is; an enrolment the
        // unconfirmed account got before this rule is kept (see `import::plan`).
        Some(account) if account.email_verified_at.is_none() => {
            if no_number(c.rpps.is_some(), c.adeli.is_some()) {
                Err(FieldError::new(
                    "rpps",
                    "session DPC : numéro RPPS ou ADELI obligatoire",
                ))
            } else {
                Ok(RowStatus::InvitedExisting)
            }
        }
        Some(account) if known.enrolled.contains(&account.id) => Ok(RowStatus::AlreadyEnrolled),
        Some(account) if no_number(account.rpps.is_some(), account.adeli.is_some()) => Err(
            FieldError::new("rpps", "session DPC : ce compte n'a ni RPPS ni ADELI"),
        ),
        Some(_) => Ok(RowStatus::ExistingAccount),
        None if no_number(c.rpps.is_some(), c.adeli.is_some()) => Err(FieldError::new(
            "rpps",
            "session DPC : numéro RPPS ou ADELI obligatoire",
        )),
        None if c.profession.is_none() && needs.course_kind == CourseKind::Dpc => {
            Err(FieldError::new(
                "profession",
                "profession obligatoire pour un nouveau compte",
            ))
        }
        None => Ok(RowStatus::NewAccount),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODULE: Requirements = Requirements {
        dpc_session: false,
        course_kind: CourseKind::InitialModule,
    };
    const DPC: Requirements = Requirements {
        dpc_session: true,
        course_kind: CourseKind::Dpc,
    };
    /// A DPC course run as a plain session: no numbers asked, a profession still is.
    const DPC_COURSE_ONLY: Requirements = Requirements {
        dpc_session: false,
        course_kind: CourseKind::Dpc,
    };

    fn row(line: u64, email: &str) -> CsvRow {
        CsvRow {
            line,
            email: email.into(),
            last_name: "Martin".into(),
            first_name: "Zoé".into(),
            ..Default::default()
        }
    }

    fn account(id: &str, email: &str) -> Account {
        let at = chrono::NaiveDate::from_ymd_opt(2025, 9, 1)
            .unwrap()
            .and_time(chrono::NaiveTime::MIN);
        Account {
            id: id.into(),
            email: email.into(),
            full_name: "Zoé Martin".into(),
            password_hash: String::new(),
            profession: "etudiant".into(),
            rpps: None,
            adeli: None,
            student_number: None,
            mode_exercice: None,
            is_platform_admin: false,
            email_verified_at: Some(at),
            disabled_at: None,
            erased_at: None,
            created_at: at,
            updated_at: at,
            page_session_epoch: 0,
            first_name: None,
            last_name: None,
        }
    }

    fn known(accounts: Vec<Account>, enrolled: &[&str]) -> Known {
        Known {
            accounts: accounts.into_iter().map(|a| (a.email.clone(), a)).collect(),
            enrolled: enrolled.iter().map(|id| (*id).to_owned()).collect(),
            numbers: HashMap::new(),
        }
    }

    fn classified(rows: &[CsvRow], known: &Known, needs: Requirements) -> Vec<RowReport> {
        classify(&candidates(rows), known, needs)
    }

    fn statuses(report: &[RowReport]) -> Vec<RowStatus> {
        report.iter().map(|r| r.status).collect()
    }

    fn fields(report: &RowReport) -> Vec<&str> {
        report.errors.iter().map(|e| e.field.as_str()).collect()
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

    #[test]
    fn statuses_are_sent_as_the_snake_case_strings_clients_compare() {
        let sent: Vec<String> = [
            RowStatus::NewAccount,
            RowStatus::ExistingAccount,
            RowStatus::InvitedExisting,
            RowStatus::AlreadyEnrolled,
            RowStatus::Error,
        ]
        .iter()
        .map(|s| {
            serde_json::to_value(s)
                .unwrap()
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
        assert_eq!(
            sent,
            [
                "new_account",
                "existing_account",
                "invited_existing",
                "already_enrolled",
                "error"
            ]
        );
    }

    #[test]
    fn unknown_known_and_enrolled_addresses_get_their_own_status() {
        let known = known(
            vec![
                account("a1", "ancien@univ.fr"),
                account("a2", "inscrit@univ.fr"),
            ],
            &["a2"],
        );
        let rows = [
            row(2, "nouveau@univ.fr"),
            row(3, "ancien@univ.fr"),
            row(4, "inscrit@univ.fr"),
        ];
        let report = classified(&rows, &known, MODULE);
        assert_eq!(
            statuses(&report),
            [
                RowStatus::NewAccount,
                RowStatus::ExistingAccount,
                RowStatus::AlreadyEnrolled
            ]
        );
        assert!(report.iter().all(|r| r.errors.is_empty()));
    }

    #[test]
    fn a_disabled_or_erased_account_is_an_error_even_if_enrolled() {
        let mut disabled = account("a1", "off@univ.fr");
        disabled.disabled_at = Some(disabled.created_at);
        let mut erased = account("a2", "gone@univ.fr");
        erased.erased_at = Some(erased.created_at);
        let known = known(vec![disabled, erased], &["a1", "a2"]);
        let report = classified(
            &[row(2, "off@univ.fr"), row(3, "gone@univ.fr")],
            &known,
            MODULE,
        );
        for r in &report {
            assert_eq!(r.status, RowStatus::Error);
            assert_eq!(r.errors[0].message, "compte désactivé ou supprimé");
        }
    }

    #[test]
    fn a_dpc_session_needs_an_rpps_or_adeli_number_old_or_new() {
        let mut numbered = account("a1", "rpps@univ.fr");
        numbered.rpps = Some("10000000008".into());
        let known = known(vec![numbered, account("a2", "sans@univ.fr")], &[]);
        let mut with_adeli = row(4, "adeli@univ.fr");
        with_adeli.adeli = "751234567".into();
        with_adeli.profession = "infirmier".into();
        let mut without = row(5, "rien@univ.fr");
        without.profession = "infirmier".into();
        let rows = [
            row(2, "rpps@univ.fr"),
            row(3, "sans@univ.fr"),
            with_adeli,
            without,
        ];
        let report = classified(&rows, &known, DPC);
        assert_eq!(
            statuses(&report),
            [
                RowStatus::ExistingAccount,
                RowStatus::Error,
                RowStatus::NewAccount,
                RowStatus::Error
            ],
            "{report:?}"
        );
        assert_eq!(
            report[1].errors[0].message,
            "session DPC : ce compte n'a ni RPPS ni ADELI"
        );
        assert_eq!(
            report[3].errors[0].message,
            "session DPC : numéro RPPS ou ADELI obligatoire"
        );
        // Outside a DPC session, the same rows need no number.
        let plain = classified(&rows, &known, MODULE);
        assert!(plain.iter().all(|r| r.status.enrols()), "{plain:?}");
    }

    #[test]
    fn a_new_account_for_a_dpc_course_needs_a_profession() {
        let mut nurse = row(3, "infirmier@univ.fr");
        nurse.profession = "infirmier".into();
        let known = known(vec![account("a1", "ancien@univ.fr")], &[]);
        let rows = [row(2, "sans@univ.fr"), nurse, row(4, "ancien@univ.fr")];
        let report = classified(&rows, &known, DPC_COURSE_ONLY);
        assert_eq!(
            statuses(&report),
            [
                RowStatus::Error,
                RowStatus::NewAccount,
                RowStatus::ExistingAccount
            ]
        );
        assert_eq!(fields(&report[0]), ["profession"]);
        assert_eq!(
            classified(&rows[..1], &known, MODULE)[0].status,
            RowStatus::NewAccount,
            "other courses default the profession"
        );
    }

    #[test]
    fn a_repeated_address_is_an_error_naming_its_first_line() {
        let rows = [
            row(2, "zoe@univ.fr"),
            row(3, "leo@univ.fr"),
            row(7, "ZOE@univ.fr"),
        ];
        let report = classified(&rows, &Known::default(), MODULE);
        assert_eq!(
            statuses(&report),
            [
                RowStatus::NewAccount,
                RowStatus::NewAccount,
                RowStatus::Error
            ]
        );
        assert_eq!(report[2].errors[0].message, "adresse déjà présente ligne 2");
    }

    #[test]
    fn a_mixed_file_reports_each_row_in_order_with_its_line_and_address_as_written() {
        let known = known(
            vec![
                account("a1", "ancien@univ.fr"),
                account("a2", "inscrit@univ.fr"),
            ],
            &["a2"],
        );
        let rows = [
            row(2, "nouveau@univ.fr"),
            row(3, "pas-une-adresse"),
            row(4, " ancien@univ.fr "),
            row(6, "inscrit@univ.fr"),
            row(7, "nouveau@univ.fr"),
        ];
        let report = classified(&rows, &known, MODULE);
        assert_eq!(
            report
                .iter()
                .map(|r| (r.line, r.email.as_str(), r.status))
                .collect::<Vec<_>>(),
            [
                (2, "nouveau@univ.fr", RowStatus::NewAccount),
                (3, "pas-une-adresse", RowStatus::Error),
                (4, " ancien@univ.fr ", RowStatus::ExistingAccount),
                (6, "inscrit@univ.fr", RowStatus::AlreadyEnrolled),
                (7, "nouveau@univ.fr", RowStatus::Error),
            ]
        );
        assert_eq!(fields(&report[1]), ["email"]);
        assert_eq!(
            emails(&candidates(&rows)),
            [
                "nouveau@univ.fr",
                "ancien@univ.fr",
                "inscrit@univ.fr",
                "nouveau@univ.fr"
            ],
            "only rows with valid fields are looked up"
        );
    }

    #[test]
    fn an_unconfirmed_existing_account_is_invited_not_taken_as_it_is() {
        let mut unconfirmed = account("u", "zoe@univ.fr");
        unconfirmed.email_verified_at = None;
        let report = classified(
            &[row(2, "zoe@univ.fr")],
            &known(vec![unconfirmed], &[]),
            MODULE,
        );
        assert_eq!(statuses(&report), [RowStatus::InvitedExisting]);
        assert!(RowStatus::InvitedExisting.enrols());
        // Even one enrolled already: whoever enrolled it never proved the address.
        let mut unconfirmed = account("u", "zoe@univ.fr");
        unconfirmed.email_verified_at = None;
        let report = classified(
            &[row(2, "zoe@univ.fr")],
            &known(vec![unconfirmed], &["u"]),
            MODULE,
        );
        assert_eq!(statuses(&report), [RowStatus::InvitedExisting]);
    }

    #[test]
    fn a_number_held_by_another_account_or_twice_in_the_file_is_a_row_error() {
        let with_rpps = |line, email: &str| CsvRow {
            rpps: "10000000009".into(),
            ..row(line, email)
        };
        let rows = [with_rpps(2, "a@univ.fr"), with_rpps(3, "b@univ.fr")];
        let report = classified(&rows, &known(vec![], &[]), MODULE);
        assert_eq!(statuses(&report), [RowStatus::NewAccount, RowStatus::Error]);
        assert_eq!(fields(&report[1]), ["rpps"]);

        let mut held = known(vec![], &[]);
        held.numbers
            .insert(number_key("rpps", "10000000009"), "someone".into());
        let report = classified(&rows[..1], &held, MODULE);
        assert_eq!(statuses(&report), [RowStatus::Error]);
        assert_eq!(fields(&report[0]), ["rpps"]);
    }
}
