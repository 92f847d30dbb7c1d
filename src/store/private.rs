//! Files only berrah's own user may read: the data folder (0700), the
//! SQLite database with its `-wal` and `-shm` (0600) and the outbox (0600).
//!
//! The database holds the encrypted tokens and what every post says before
//! it is out; the outbox holds unpublished texts. Their modes are set
//! explicitly, whatever the umask: a folder or file berrah creates gets them
//! from the start (`DirBuilder::mode`, `OpenOptions::mode`, before SQLite
//! ever opens the file), and an existing one that is more open is tightened
//! and the change logged. A folder berrah did not create for itself (the
//! parent of a `daemon.database` path elsewhere) is never changed.

use std::fs::{DirBuilder, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// The mode of berrah's folders.
pub const DIR_MODE: u32 = 0o700;
/// The mode of berrah's files.
pub const FILE_MODE: u32 = 0o600;

/// Creates `dir` (and missing parents) with mode 0700; an existing one
/// open to group or others is tightened to its owner's bits, and logged.
pub fn private_dir(dir: &Path) -> io::Result<()> {
    create_dir(dir)?;
    tighten(dir, "folder")
}

/// Creates `dir` (and missing parents) with mode 0700, leaving an
/// existing one as it is.
pub fn create_dir(dir: &Path) -> io::Result<()> {
    if dir.as_os_str().is_empty() {
        return Ok(());
    }
    DirBuilder::new().recursive(true).mode(DIR_MODE).create(dir)
}

/// Creates `file` with mode 0600 if it is missing (empty; never truncates);
/// an existing one open to group or others is tightened, and logged.
pub fn private_file(file: &Path) -> io::Result<()> {
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(file)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => tighten(file, "file"),
        Err(e) => Err(e),
    }
}

/// Tightens `path` (a file or folder) to its owner's bits when group or
/// others have any; a missing path is fine. Logs what it changed.
pub fn tighten(path: &Path, what: &str) -> io::Result<()> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 == 0 {
        return Ok(());
    }
    let tight = mode & 0o700;
    std::fs::set_permissions(path, Permissions::from_mode(tight))?;
    tracing::warn!(
        path = %path.display(),
        was = format!("{mode:o}"),
        now = format!("{tight:o}"),
        "the {what} was readable by other users; tightened to the owner only"
    );
    Ok(())
}

/// The mode bits of `path` (tests and diagnostics).
pub fn mode(path: &Path) -> io::Result<u32> {
    Ok(std::fs::metadata(path)?.permissions().mode() & 0o7777)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_folders_and_files_are_private_whatever_the_umask() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/data");
        private_dir(&dir).unwrap();
        assert_eq!(mode(&dir).unwrap(), 0o700);
        let file = dir.join("berrah.db");
        private_file(&file).unwrap();
        assert_eq!(mode(&file).unwrap(), 0o600);
        // Idempotent, and never truncates.
        std::fs::write(&file, b"kept").unwrap();
        private_file(&file).unwrap();
        assert_eq!(std::fs::read(&file).unwrap(), b"kept");
    }

    #[test]
    fn open_ones_are_tightened_to_the_owner() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("data");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, Permissions::from_mode(0o755)).unwrap();
        let file = dir.join("outbox.jsonl");
        std::fs::write(&file, b"{}\n").unwrap();
        std::fs::set_permissions(&file, Permissions::from_mode(0o644)).unwrap();
        private_dir(&dir).unwrap();
        private_file(&file).unwrap();
        assert_eq!(mode(&dir).unwrap(), 0o700);
        assert_eq!(mode(&file).unwrap(), 0o600);
        // Tighter than ours is left alone.
        std::fs::set_permissions(&file, Permissions::from_mode(0o400)).unwrap();
        private_file(&file).unwrap();
        assert_eq!(mode(&file).unwrap(), 0o400);
        assert!(tighten(&dir.join("missing"), "file").is_ok());
    }
}
