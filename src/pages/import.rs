//! A session's CSV import from the page: a file upload (or pasted text) checked first,
//! then imported exactly as checked.

use actix_web::{web, HttpResponse};
use serde_json::{json, Value};

use super::admin::session_page;
use super::session::Visitor;
use super::{error_page, message};
use crate::app::AppState;
use crate::db;
use crate::enrolment::import;
use crate::error::AppError;

/// The largest file the import form takes: a promotion of 10,000 learners is about 1 MB.
const IMPORT_FILE_LIMIT: usize = 2 * 1024 * 1024;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/gestion/sessions/{id}/import").post(import_csv));
}

/// The import form (`multipart/form-data`): « Vérifier » checks the file chosen (or the
/// text pasted) and, when no row is wrong, sends back its decoded text in a hidden field;
/// « Importer » imports that text, so exactly what was checked, as the browser cannot
/// send the file again.
async fn import_csv(
    state: web::Data<AppState>,
    visitor: Visitor,
    path: web::Path<String>,
    multipart: actix_multipart::Multipart,
) -> HttpResponse {
    let session_id = path.into_inner();
    let mut pasted = String::new();
    let mut file_name = String::new();
    let mut checked = String::new();
    let outcome = async {
        // Nobody signed in: refused before the body is read.
        if visitor.user.is_none() {
            return Err(AppError::unauthorized("Connexion requise."));
        }
        let form = super::upload::read(multipart, IMPORT_FILE_LIMIT).await?;
        let user = visitor.for_form(form.field("csrf"))?.clone();
        pasted = form.field("contenu").to_owned();
        let dry_run = form.field("action") != "importer";
        let text = if !dry_run {
            form.field("verifie").to_owned()
        } else if let Some(file) = form.file("fichier") {
            file_name = file.name.clone();
            import::decode(&file.bytes)?.into_owned()
        } else {
            pasted.clone()
        };
        if text.trim().is_empty() {
            return Err(AppError::invalid(
                import::FILE_FIELD,
                if dry_run {
                    "choisissez un fichier CSV (ou collez son contenu)"
                } else {
                    "vérifiez d'abord le fichier"
                },
            )
            .with_detail("Rien n'a été importé."));
        }
        let rows = import::read_text(&text)
            .map_err(|e| e.with_detail("Le fichier ne peut pas être lu."))?;
        let (id, public_url) = (session_id.clone(), state.settings.public_url.clone());
        let (report, stale) = db::run(&state.pool, move |conn| {
            import::run(conn, &user, &id, rows, dry_run, &public_url)
        })
        .await?;
        for stale in stale {
            state.forget(stale);
        }
        if report.dry_run && report.errors == 0 {
            checked = text;
        }
        Ok::<_, AppError>(report)
    }
    .await;
    let import = match outcome {
        Ok(report) => {
            let mut report = json!(report);
            for row in report["report"].as_array_mut().into_iter().flatten() {
                french_fields(&mut row["errors"]);
            }
            json!({ "csv": if report["dry_run"] == true { pasted } else { String::new() },
                    "checked": checked, "file_name": file_name,
                    "report": report, "done": report["dry_run"] == false, "problem": null, "errors": [] })
        }
        // A refused form (expired CSRF token, no right) is a refusal, not a file to fix.
        Err(e) if e.status().is_client_error() && !refused(&e) => {
            let mut errors = json!(e.problem().errors);
            french_fields(&mut errors);
            json!({ "csv": pasted, "checked": "", "report": null, "done": false,
                    "problem": message(&e), "errors": errors })
        }
        Err(e) => return error_page(&state, &visitor, &e),
    };
    session_page(&state, &visitor, session_id, import)
        .await
        .unwrap_or_else(|e| error_page(&state, &visitor, &e))
}

fn refused(e: &AppError) -> bool {
    matches!(e.status().as_u16(), 401 | 403 | 404)
}

/// The import's field names as the page shows them: « Fichier », « Ligne 7, Prénom ».
fn french_fields(errors: &mut Value) {
    for error in errors.as_array_mut().into_iter().flatten() {
        let Some(field) = error["field"].as_str() else {
            continue;
        };
        let (line, field) = match field.strip_prefix("rows[").and_then(|f| f.split_once("].")) {
            Some((line, field)) => (Some(line), field),
            None => (None, field),
        };
        let name = match field {
            import::FILE_FIELD | "body" => "Fichier",
            "email" => "E-mail",
            "nom" => "Nom",
            "prenom" => "Prénom",
            "numero_etudiant" => "Numéro étudiant",
            "profession" => "Profession",
            "rpps" => "RPPS",
            "adeli" => "ADELI",
            "formulaire" => "Formulaire",
            other => other,
        };
        error["field"] = match line {
            Some(line) => format!("Ligne {line}, {name}"),
            None => name.to_owned(),
        }
        .into();
    }
}
