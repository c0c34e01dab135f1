//! Forms that send a file (`multipart/form-data`): every part read into memory under a
//! size limit, so a page can answer a file too large, or a post that is not such a form,
//! with a French message next to the form instead of a bare error.

use actix_multipart::{Field, Multipart, MultipartError};
use futures_util::StreamExt as _;

use crate::error::AppError;

/// More parts than any of our forms has: a post with more is not one of them.
const MAX_PARTS: usize = 16;

/// A file form's fields and files, as sent.
#[derive(Debug, Default)]
pub struct Upload {
    fields: Vec<(String, String)>,
    files: Vec<(String, UploadedFile)>,
}

#[derive(Debug, Default)]
pub struct UploadedFile {
    /// The name the browser gave, without any folder.
    pub name: String,
    pub bytes: Vec<u8>,
}

impl Upload {
    /// A text field's value, or "" when the form did not send it.
    pub fn field(&self, name: &str) -> &str {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// The file chosen in an input, or `None` when none was (browsers then send an empty
    /// part whose file name is empty).
    pub fn file(&self, name: &str) -> Option<&UploadedFile> {
        self.files
            .iter()
            .find(|(k, f)| k == name && !(f.bytes.is_empty() && f.name.is_empty()))
            .map(|(_, f)| f)
    }
}

/// Reads a whole form: each file up to `file_limit` bytes, each text field up to three
/// times that (a checked file sent back as text: Windows-1252 takes up to three bytes a
/// character in UTF-8).
pub async fn read(mut multipart: Multipart, file_limit: usize) -> Result<Upload, AppError> {
    let mut upload = Upload::default();
    let mut parts = 0;
    while let Some(field) = multipart.next().await {
        let mut field = field.map_err(unreadable)?;
        parts += 1;
        if parts > MAX_PARTS {
            return Err(AppError::malformed(
                "formulaire",
                "formulaire inattendu : trop de champs",
            ));
        }
        let name = field.name().unwrap_or_default().to_owned();
        let file_name = field
            .content_disposition()
            .and_then(|d| d.get_filename())
            .map(|n| n.rsplit(['/', '\\']).next().unwrap_or_default().to_owned());
        let limit = if file_name.is_some() {
            file_limit
        } else {
            3 * file_limit
        };
        let bytes = bytes_of(&mut field, limit).await.map_err(|e| match e {
            Read::TooLarge => too_large(file_limit),
            Read::Broken(e) => unreadable(e),
        })?;
        match file_name {
            Some(file_name) => upload.files.push((
                name,
                UploadedFile {
                    name: file_name,
                    bytes,
                },
            )),
            None => {
                let value = String::from_utf8(bytes).map_err(|_| {
                    AppError::malformed(name.clone(), "champ de formulaire illisible")
                })?;
                upload.fields.push((name, value));
            }
        }
    }
    Ok(upload)
}

enum Read {
    TooLarge,
    Broken(MultipartError),
}

async fn bytes_of(field: &mut Field, limit: usize) -> Result<Vec<u8>, Read> {
    match field.bytes(limit).await {
        Ok(Ok(bytes)) => Ok(bytes.to_vec()),
        Ok(Err(e)) => Err(Read::Broken(e)),
        Err(_) => Err(Read::TooLarge),
    }
}

fn too_large(file_limit: usize) -> AppError {
    let megabytes = file_limit / (1024 * 1024);
    AppError::payload_too_large(file_limit).with_detail(format!(
        "Fichier trop volumineux : {megabytes} Mo au plus. Envoyez la liste en plusieurs fichiers."
    ))
}

fn unreadable(e: MultipartError) -> AppError {
    match e {
        MultipartError::ContentTypeMissing
        | MultipartError::ContentTypeParse
        | MultipartError::ContentTypeIncompatible
        | MultipartError::BoundaryMissing => {
            AppError::unsupported_media_type("multipart/form-data")
        }
        other => {
            tracing::info!(error = %other, "unreadable multipart form");
            AppError::malformed("formulaire", "envoi interrompu ou illisible : recommencez")
        }
    }
}
