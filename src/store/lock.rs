//! One daemon per SQLite file: an exclusive lock on `<database>.lock`.
//!
//! `berrah run` on a SQLite database takes an exclusive `flock(2)` on a file
//! beside it and holds it for the life of the process; the kernel releases
//! it when the process ends, however it ends (`kill -9` included). A second
//! daemon on the same file finds it taken and stops at once, naming the
//! holder (which wrote its process id, host and start time into the file).
//!
//! Holding the lock is also a proof: no other process can hold a lease on
//! this database, so the leases found at start belong to daemons that are
//! gone and are rescued at once instead of after their expiry.
//!
//! PostgreSQL takes no such lock: several daemons share its queue.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// The lock of a SQLite database, held until dropped (or the process ends).
#[derive(Debug)]
pub struct DaemonLock {
    // Kept open: closing it would release the lock.
    _file: File,
    path: PathBuf,
}

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds it.
    #[error(
        "another berrah daemon is already running on {database} ({holder}); \
         only one daemon may run on a SQLite database: stop it first, or use PostgreSQL \
         to run several"
    )]
    Held { database: String, holder: String },
    #[error("cannot lock {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// `<database>.lock`.
pub fn lock_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

impl DaemonLock {
    /// Takes the lock of `database` without waiting, and writes `holder`
    /// (who holds it, for the message another daemon will print) into it.
    pub fn acquire(database: &Path, holder: &str) -> Result<DaemonLock, LockError> {
        let path = lock_path(database);
        let io = |source| LockError::Io {
            path: path.display().to_string(),
            source,
        };
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
        {
            super::private::create_dir(parent).map_err(io)?;
        }
        let mut file = {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(&path)
                .map_err(io)?
        };
        // SAFETY: `flock` on a file descriptor this function owns; it has no
        // memory-safety requirement.
        let taken = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if taken != 0 {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                let holder = crate::text::sanitize::for_terminal(text.trim()).to_string();
                return Err(LockError::Held {
                    database: database.display().to_string(),
                    holder: if holder.is_empty() {
                        "a process that is still starting".into()
                    } else {
                        holder
                    },
                });
            }
            return Err(io(err));
        }
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        file.write_all(holder.as_bytes()).map_err(io)?;
        file.flush().map_err(io)?;
        Ok(DaemonLock { _file: file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_with_the_holder_named_and_freed_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("berrah.db");
        let first = DaemonLock::acquire(&db, "pid 42 on web1, running since 06:00").unwrap();
        assert_eq!(first.path(), dir.path().join("berrah.db.lock"));
        // flock locks belong to the open file description: a second open in
        // the same process conflicts as another process's would.
        match DaemonLock::acquire(&db, "pid 43") {
            Err(LockError::Held { holder, .. }) => {
                assert_eq!(holder, "pid 42 on web1, running since 06:00")
            }
            other => panic!("{other:?}"),
        }
        drop(first);
        let again = DaemonLock::acquire(&db, "pid 43").unwrap();
        drop(again);
        assert_eq!(
            std::fs::read_to_string(dir.path().join("berrah.db.lock")).unwrap(),
            "pid 43"
        );
    }
}
