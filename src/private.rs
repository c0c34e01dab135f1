//! Folders and files that hold personal data or live secrets — the data folder, the
//! SQLite database (password hashes, identities), the mail outbox (one-time links) — are
//! readable by the service's own user only, whatever the umask.

use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::Context;

/// Creates `dir` (and its parents) if missing, and makes it 0700.
pub fn dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("cannot restrict {}", dir.display()))
}

/// Creates `file` if missing, and makes it 0600; so are the SQLite journal files beside
/// it (`-wal`, `-shm`), which SQLite creates with the database's own mode.
pub fn database_file(file: &Path) -> anyhow::Result<()> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(file)
        .with_context(|| format!("cannot create {}", file.display()))?;
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut name = file.as_os_str().to_owned();
        name.push(suffix);
        let path = Path::new(&name);
        if path.exists() {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                .with_context(|| format!("cannot restrict {}", path.display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn folders_and_databases_are_the_owners_alone_even_when_they_existed() {
        let root = tempfile::tempdir().unwrap();
        let data = root.path().join("data/deeper");
        dir(&data).unwrap();
        assert_eq!(mode(&data), 0o700);
        let db = data.join("base.sqlite3");
        std::fs::write(&db, b"").unwrap();
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
        let wal = data.join("base.sqlite3-wal");
        std::fs::write(&wal, b"").unwrap();
        database_file(&db).unwrap();
        assert_eq!(mode(&db), 0o600);
        assert_eq!(mode(&wal), 0o600);
    }
}
