//! Opening a media file beneath its campaign's folder, once, for publishing.
//!
//! `berrah check` validates media paths, but a file can be swapped between
//! the check and the publication: for a symlink to a file outside the folder
//! (a credential, another agency's embargoed video), or for a FIFO that
//! would block a worker forever. So at publish time a file is opened exactly
//! once, by [`open_beneath`]:
//!
//! - the path is relative, without `..` (refused lexically, as `check` does);
//! - it is resolved beneath the folder by `cap-std` (`openat2` with
//!   `RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS` on Linux, a component-by-component
//!   walk elsewhere): a symlink inside the folder that stays inside is
//!   followed, one that leads out is refused;
//! - it is opened non-blocking (a FIFO never blocks the open), and the type
//!   is checked with `fstat` on that same handle: regular files only.
//!
//! Everything after (probe, hash, upload) reads from the returned handle
//! with positional reads ([`OpenedMedia::reader`], [`OpenedMedia::read_at`]),
//! never by path again: replacing the directory entry afterwards changes
//! nothing that is sent.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use cap_std::ambient_authority;
use cap_std::fs::{Dir, OpenOptions, OpenOptionsExt};

/// Why a media file could not be opened. Each message names the file and
/// says how to fix it; the caller adds what it means there (at publish time:
/// nothing was sent).
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error(
        "media file `{file}` is outside the campaign's folder `{}`: write its path relative to that folder, without `..`",
        dir.display()
    )]
    Outside { dir: PathBuf, file: String },
    #[error(
        "media file `{}` leads outside the campaign's folder `{}` (a link to a file elsewhere?): put the file itself in the folder, not a link",
        path.display(), dir.display()
    )]
    Escapes { dir: PathBuf, path: PathBuf },
    #[error(
        "media file `{}` is {what}, not a regular file: put the image or video itself there",
        path.display()
    )]
    NotRegular { path: PathBuf, what: &'static str },
    #[error(
        "media file `{}` does not exist: put it back, or correct its path in the campaign file",
        path.display()
    )]
    Missing { path: PathBuf },
    #[error("cannot open the campaign's folder `{}`: {source}", dir.display())]
    Folder {
        dir: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot open media file `{}`: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// A media file opened for publishing: the one handle everything reads from.
#[derive(Debug, Clone)]
pub struct OpenedMedia {
    file: Arc<File>,
    /// The folder joined with the relative path, for messages only (never reopened).
    pub path: PathBuf,
    /// The size when it was opened (`fstat` on the handle).
    pub size: u64,
}

impl OpenedMedia {
    /// Reads at `offset` into `buf`; short only at the end of the file.
    pub fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let mut done = 0;
        while done < buf.len() {
            match self.file.read_at(&mut buf[done..], offset + done as u64) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }

    /// An empty temporary file standing for `path`, for unit tests.
    #[cfg(test)]
    pub(crate) fn for_tests(path: PathBuf, size: u64) -> Self {
        OpenedMedia {
            file: Arc::new(tempfile::tempfile().expect("a temporary file")),
            path,
            size,
        }
    }

    /// A reader (and seeker) over the handle with its own position, so that
    /// several readers never disturb each other.
    pub fn reader(&self) -> MediaReader {
        MediaReader {
            file: self.file.clone(),
            pos: 0,
            size: self.size,
        }
    }
}

/// A `Read + Seek` view of an [`OpenedMedia`] by positional reads.
#[derive(Debug)]
pub struct MediaReader {
    file: Arc<File>,
    pos: u64,
    size: u64,
}

impl Read for MediaReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read_at(buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for MediaReader {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let pos = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.size.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        match pos {
            Some(p) => {
                self.pos = p;
                Ok(p)
            }
            None => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the start of the file",
            )),
        }
    }
}

/// Opens `relative` beneath `dir` for reading: see the module's doc for the
/// rules. `dir` empty means the working directory (a campaign file given by
/// bare name).
pub fn open_beneath(dir: &Path, relative: &Path) -> Result<OpenedMedia, MediaError> {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let lexically_inside = !relative.as_os_str().is_empty()
        && relative
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    if !lexically_inside {
        return Err(MediaError::Outside {
            dir: dir.to_path_buf(),
            file: relative.display().to_string(),
        });
    }
    let path = dir.join(relative);
    let root =
        Dir::open_ambient_dir(dir, ambient_authority()).map_err(|source| MediaError::Folder {
            dir: dir.to_path_buf(),
            source,
        })?;
    let mut options = OpenOptions::new();
    // Non-blocking: opening a FIFO with no writer would otherwise wait
    // forever. No controlling terminal from a tty either.
    options
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY);
    let file = match root.open_with(relative, &options) {
        Ok(f) => f.into_std(),
        Err(e) => return Err(open_error(&root, dir, relative, path, e)),
    };
    let meta = file.metadata().map_err(|source| MediaError::Io {
        path: path.clone(),
        source,
    })?;
    if !meta.is_file() {
        return Err(MediaError::NotRegular {
            path,
            what: describe_type(&meta.file_type()),
        });
    }
    Ok(OpenedMedia {
        file: Arc::new(file),
        path,
        size: meta.len(),
    })
}

/// Opens a file by path for reading without blocking on a FIFO and refuses
/// anything but a regular file (checked on the handle). For `berrah check`,
/// which has already resolved the path inside the folder.
pub fn open_regular(path: &Path) -> Result<OpenedMedia, MediaError> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|source| match source.kind() {
            io::ErrorKind::NotFound => MediaError::Missing {
                path: path.to_path_buf(),
            },
            _ => MediaError::Io {
                path: path.to_path_buf(),
                source,
            },
        })?;
    let meta = file.metadata().map_err(|source| MediaError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if !meta.is_file() {
        return Err(MediaError::NotRegular {
            path: path.to_path_buf(),
            what: describe_type(&meta.file_type()),
        });
    }
    Ok(OpenedMedia {
        file: Arc::new(file),
        path: path.to_path_buf(),
        size: meta.len(),
    })
}

fn open_error(root: &Dir, dir: &Path, relative: &Path, path: PathBuf, e: io::Error) -> MediaError {
    // cap-std reports an escape as its own PermissionDenied (no OS error).
    if e.kind() == io::ErrorKind::PermissionDenied && e.raw_os_error().is_none() {
        return MediaError::Escapes {
            dir: dir.to_path_buf(),
            path,
        };
    }
    if e.kind() == io::ErrorKind::NotFound {
        return MediaError::Missing { path };
    }
    // A socket cannot be opened (ENXIO): say what it is when we can tell.
    if let Ok(meta) = root.symlink_metadata(relative)
        && !meta.is_file()
        && !meta.is_symlink()
    {
        return MediaError::NotRegular {
            path,
            what: describe_cap_type(&meta.file_type()),
        };
    }
    MediaError::Io { path, source: e }
}

/// What a file that is not a regular file is, in words.
fn describe_type(t: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    describe(
        t.is_dir(),
        t.is_fifo(),
        t.is_socket(),
        t.is_block_device() || t.is_char_device(),
    )
}

fn describe_cap_type(t: &cap_std::fs::FileType) -> &'static str {
    use cap_std::fs::FileTypeExt;
    describe(
        t.is_dir(),
        t.is_fifo(),
        t.is_socket(),
        t.is_block_device() || t.is_char_device(),
    )
}

fn describe(dir: bool, fifo: bool, socket: bool, device: bool) -> &'static str {
    if dir {
        "a folder"
    } else if fifo {
        "a named pipe (FIFO)"
    } else if socket {
        "a socket"
    } else if device {
        "a device"
    } else {
        "a special file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn folder() -> (tempfile::TempDir, PathBuf) {
        let root = tempfile::tempdir().unwrap();
        let campaign = root.path().join("campaign");
        std::fs::create_dir_all(campaign.join("media")).unwrap();
        std::fs::write(campaign.join("media/a.png"), b"inside").unwrap();
        std::fs::write(root.path().join("secret.txt"), b"outside").unwrap();
        (root, campaign)
    }

    fn read_all(o: &OpenedMedia) -> Vec<u8> {
        let mut v = Vec::new();
        o.reader().read_to_end(&mut v).unwrap();
        v
    }

    #[test]
    fn a_regular_file_and_a_link_that_stays_inside_open() {
        let (_root, dir) = folder();
        let o = open_beneath(&dir, Path::new("media/a.png")).unwrap();
        assert_eq!((o.size, read_all(&o)), (6, b"inside".to_vec()));
        assert_eq!(o.path, dir.join("media/a.png"));
        symlink("media/a.png", dir.join("link.png")).unwrap();
        symlink("../media/a.png", dir.join("media/../media/up.png")).unwrap();
        assert_eq!(
            read_all(&open_beneath(&dir, Path::new("link.png")).unwrap()),
            b"inside"
        );
        assert_eq!(
            read_all(&open_beneath(&dir, Path::new("./media/up.png")).unwrap()),
            b"inside"
        );
    }

    #[test]
    fn dot_dot_and_absolute_paths_are_refused_before_any_open() {
        let (root, dir) = folder();
        for rel in [
            "../secret.txt".to_string(),
            "media/../../secret.txt".to_string(),
            root.path().join("secret.txt").display().to_string(),
            String::new(),
        ] {
            let e = open_beneath(&dir, Path::new(&rel)).unwrap_err();
            assert!(matches!(e, MediaError::Outside { .. }), "{rel}: {e:?}");
            assert!(
                e.to_string().contains("outside the campaign's folder"),
                "{e}"
            );
        }
    }

    #[test]
    fn links_that_lead_out_are_refused() {
        let (root, dir) = folder();
        symlink(root.path().join("secret.txt"), dir.join("media/abs.png")).unwrap();
        symlink("../../secret.txt", dir.join("media/rel.png")).unwrap();
        symlink(root.path(), dir.join("up")).unwrap();
        for rel in ["media/abs.png", "media/rel.png", "up/secret.txt"] {
            let e = open_beneath(&dir, Path::new(rel)).unwrap_err();
            assert!(matches!(e, MediaError::Escapes { .. }), "{rel}: {e:?}");
            let msg = e.to_string();
            assert!(msg.contains(rel) && msg.contains("leads outside"), "{msg}");
        }
    }

    #[test]
    fn a_fifo_never_blocks_and_is_refused_like_a_folder_or_a_socket() {
        let (_root, dir) = folder();
        let fifo = dir.join("media/pipe.mp4");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        // No writer: a blocking open would hang this test.
        let e = open_beneath(&dir, Path::new("media/pipe.mp4")).unwrap_err();
        assert!(
            matches!(
                e,
                MediaError::NotRegular {
                    what: "a named pipe (FIFO)",
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(e.to_string().contains("pipe.mp4"), "{e}");
        // `check` opens by path, with the same rule.
        assert!(matches!(
            open_regular(&fifo),
            Err(MediaError::NotRegular { .. })
        ));

        let e = open_beneath(&dir, Path::new("media")).unwrap_err();
        assert!(
            matches!(
                e,
                MediaError::NotRegular {
                    what: "a folder",
                    ..
                }
            ),
            "{e:?}"
        );

        let _listener = std::os::unix::net::UnixListener::bind(dir.join("media/sock.png")).unwrap();
        let e = open_beneath(&dir, Path::new("media/sock.png")).unwrap_err();
        assert!(
            matches!(
                e,
                MediaError::NotRegular {
                    what: "a socket",
                    ..
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn missing_files_and_folders_say_so() {
        let (_root, dir) = folder();
        let e = open_beneath(&dir, Path::new("media/nope.png")).unwrap_err();
        assert!(matches!(e, MediaError::Missing { .. }), "{e:?}");
        let e = open_beneath(&dir.join("gone"), Path::new("a.png")).unwrap_err();
        assert!(matches!(e, MediaError::Folder { .. }), "{e:?}");
    }

    #[test]
    fn the_handle_keeps_reading_the_file_it_opened() {
        let (root, dir) = folder();
        let o = open_beneath(&dir, Path::new("media/a.png")).unwrap();
        // Swapped after the open for a link to a file outside.
        std::fs::remove_file(dir.join("media/a.png")).unwrap();
        symlink(root.path().join("secret.txt"), dir.join("media/a.png")).unwrap();
        assert_eq!(read_all(&o), b"inside");
        let mut buf = [0u8; 3];
        assert_eq!(o.read_at(&mut buf, 3).unwrap(), 3);
        assert_eq!(&buf, b"ide");
        let mut r = o.reader();
        assert_eq!(r.seek(SeekFrom::End(-2)).unwrap(), 4);
        let mut rest = Vec::new();
        r.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, b"de");
    }
}
