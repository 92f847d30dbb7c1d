//! Campaign files: their format ([`model`]), loading and validation.
//!
//! The pipeline for one file is [`check_source`]: parse (TOML → [`model`]),
//! validate (ids, zones, accounts, days, media, text limits), plan (through
//! [`crate::plan`]) and collect every [`Diagnostic`] on the way. `berrah check`
//! prints them; the daemon keeps the last valid version of a file that has
//! errors.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use jiff::Timestamp;

use crate::calendar::Calendar;
use crate::config::Config;
use crate::diag::{Diagnostic, Report};
use crate::plan::Occurrence;

pub mod explain;
pub mod load;
pub mod model;
pub mod style;
pub mod suggest;
pub mod validate;
pub mod values;

pub use model::CampaignFile;

/// A campaign file as read from disk and parsed.
#[derive(Debug, Clone)]
pub struct LoadedCampaign {
    pub path: PathBuf,
    pub source: String,
    pub file: CampaignFile,
}

impl LoadedCampaign {
    /// The folder that media paths are relative to.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    pub fn id(&self) -> &str {
        self.file.campaign.id.get_ref()
    }
}

/// What checking and planning need besides the file itself.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub config: &'a Config,
    pub calendar: &'a Calendar,
    /// "Now", for "due time already past" (from the injectable clock).
    pub now: Timestamp,
}

/// The result of checking one campaign file.
#[derive(Debug, Clone, Default)]
pub struct Checked {
    /// The campaign's id, when the file got far enough to have one.
    pub campaign_id: Option<String>,
    /// The parsed file, when it parsed.
    pub campaign: Option<LoadedCampaign>,
    /// Its occurrences (meaningful only when there is no error).
    pub occurrences: Vec<Occurrence>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Checked {
    pub fn is_valid(&self) -> bool {
        !self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// Drops what is held only for planning: the occurrences, the posts and
    /// capsules, and the campaign's copy of its source. What is checked
    /// between files (ids, shared budgets) needs only the `[campaign]`
    /// table; the report keeps the sources the diagnostics point into.
    /// With 1,000 files of 100 posts, holding them all costs hundreds of
    /// megabytes.
    pub fn shed(&mut self) {
        self.occurrences = Vec::new();
        if let Some(l) = &mut self.campaign {
            l.file.posts = Vec::new();
            l.file.capsules = Vec::new();
            l.source = String::new();
        }
    }
}

/// Parses, validates and plans one campaign file.
///
/// Never panics, whatever `source` holds: a file that does not parse gets
/// one diagnostic and no campaign; a file that parses gets every problem
/// the validation and the plan find, all at once. Should a bug still panic
/// while checking this file, the panic stops here: the file gets an
/// internal-error diagnostic (and so keeps its last valid version in the
/// daemon), and every other file is checked as usual.
pub fn check_source(path: &Path, source: &str, ctx: &Context<'_>) -> Checked {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        check_source_unguarded(path, source, ctx)
    }))
    .unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".into());
        tracing::error!(file = %path.display(), panic = %what, "internal error while checking a campaign file");
        Checked {
            diagnostics: vec![internal_error(path, &what)],
            ..Checked::default()
        }
    })
}

/// The diagnostic of a file whose check hit a bug in berrah.
fn internal_error(path: &Path, what: &str) -> Diagnostic {
    Diagnostic::error(
        path,
        None,
        format!("berrah could not check this file: internal error ({what}), please report it"),
    )
    .with_help(
        "this is a bug in berrah, not a mistake in the file: send the file and this message to the berrah maintainers; meanwhile the last valid version of this campaign stays scheduled",
    )
}

fn check_source_unguarded(path: &Path, source: &str, ctx: &Context<'_>) -> Checked {
    #[cfg(test)]
    test_hooks::run(source);
    let mut checked = Checked::default();
    if source.contains('\0') {
        if let Err(u) = load::text_of(path, source.as_bytes().to_vec()) {
            checked.diagnostics.push(*u.diagnostic);
        }
        return checked;
    }
    let file: CampaignFile = match load::parse(path, source) {
        Ok(f) => f,
        Err(d) => {
            checked.diagnostics.push(d);
            return checked;
        }
    };
    let loaded = LoadedCampaign {
        path: path.to_path_buf(),
        source: source.to_string(),
        file,
    };
    checked.campaign_id = Some(loaded.id().to_string());
    checked.diagnostics = validate::validate(&loaded, ctx);
    let (occurrences, plan_diagnostics) = crate::plan::plan_campaign(&loaded, ctx);
    checked.diagnostics.extend(plan_diagnostics);
    checked
        .diagnostics
        .extend(validate::check_occurrences(&loaded, &occurrences, ctx));
    checked.occurrences = occurrences;
    checked.campaign = Some(loaded);
    checked
}

/// The campaign files (`*.toml`) of `dir`, in name order. Hidden files
/// (`.name.toml`, such as an editor's lock file `.#amal.toml`) are not
/// campaign files.
pub fn campaign_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| !n.to_string_lossy().starts_with('.'))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// Checks every campaign file (`*.toml`) of `dir`, in name order, and the
/// problems between files (two files with one campaign id). The report holds
/// every diagnostic with the sources they point into.
pub fn check_dir(dir: &Path, ctx: &Context<'_>) -> (Vec<Checked>, Report) {
    let (all, report) = check_dir_map(dir, ctx, |_| ());
    (all.into_iter().map(|(c, ())| c).collect(), report)
}

/// One file read, checked and handed to `take`, on a worker thread.
struct FileDone<R> {
    source: Option<String>,
    checked: Checked,
    /// What the budgets shared between files need, counted before `take`
    /// may take the occurrences away; `None` for a file with errors.
    counts: Option<validate::BudgetCounts>,
    taken: R,
}

/// [`check_dir`], the files checked on every core, handing each file's
/// [`Checked`] to `take` as soon as it is checked (its own problems found,
/// not yet those between files), on the thread that checked it: the caller
/// can take its occurrences away (`std::mem::take(&mut c.occurrences)`)
/// instead of keeping every file's occurrences in memory at once, and turn
/// them into what it keeps, `R`. What `take` leaves in the `Checked` is
/// returned, with its `R`, in name order; the diagnostics and their order
/// are those of checking the files one after the other.
///
/// `take` sees a file before the problems between files are known: a file
/// valid there may have an error in the end (its campaign id used by an
/// earlier file), so look at the returned `Checked`, not only in `take`.
pub fn check_dir_map<R: Send>(
    dir: &Path,
    ctx: &Context<'_>,
    take: impl Fn(&mut Checked) -> R + Sync,
) -> (Vec<(Checked, R)>, Report) {
    let mut gather = Gather::default();
    let Some(files) = list_files(dir, &mut gather.report) else {
        return (Vec::new(), gather.report);
    };
    let work = |path: &PathBuf| {
        let (source, mut checked) = read_and_check(dir, path, ctx);
        let counts = (checked.is_valid() && checked.campaign.is_some())
            .then(|| validate::BudgetCounts::of(&checked.occurrences, ctx));
        let taken = take(&mut checked);
        FileDone {
            source,
            checked,
            counts,
            taken,
        }
    };
    // Taken here in name order, whatever order the workers finish in.
    crate::plan::map_in_order(&files, work, |path, done| {
        gather.add(path, done);
        ControlFlow::Continue(())
    });
    gather.finish(ctx)
}

/// Checks only the campaign files `files` (each read beneath its own
/// folder, as [`check_dir`] reads a folder's files), in the order given,
/// and the problems between them: `berrah check FILE...`.
pub fn check_files(files: &[PathBuf], ctx: &Context<'_>) -> (Vec<Checked>, Report) {
    let mut gather: Gather<()> = Gather::default();
    for path in files {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let (source, checked) = read_and_check(dir, path, ctx);
        let counts = (checked.is_valid() && checked.campaign.is_some())
            .then(|| validate::BudgetCounts::of(&checked.occurrences, ctx));
        gather.add(
            path,
            FileDone {
                source,
                checked,
                counts,
                taken: (),
            },
        );
    }
    let (all, report) = gather.finish(ctx);
    (all.into_iter().map(|(c, ())| c).collect(), report)
}

/// The campaign files of `dir`, or `None` with the folder's error in `report`.
fn list_files(dir: &Path, report: &mut Report) -> Option<Vec<PathBuf>> {
    match campaign_files(dir) {
        Ok(f) => Some(f),
        Err(e) => {
            report.push(
                Diagnostic::error(
                    dir,
                    None,
                    format!("cannot read the campaign folder: {e}"),
                )
                .with_help("create the folder, or point to it with `--campaigns DIR` (or `daemon.campaigns` in berrah.toml)"),
            );
            None
        }
    }
}

/// Reads the campaign file `path` of `dir` (beneath the folder, regular
/// files only, never blocking) and checks it: the text read (or shown, for
/// a file that is not UTF-8) and the result.
fn read_and_check(dir: &Path, path: &Path, ctx: &Context<'_>) -> (Option<String>, Checked) {
    match load::read_source_beneath(dir, path) {
        Ok(source) => {
            let checked = check_source(path, &source, ctx);
            (Some(source), checked)
        }
        Err(u) => (
            u.shown,
            Checked {
                diagnostics: vec![*u.diagnostic],
                ..Checked::default()
            },
        ),
    }
}

/// The files' results taken in name order, then the problems between files.
struct Gather<R> {
    report: Report,
    all: Vec<(Checked, Option<validate::BudgetCounts>, R)>,
    ids: std::collections::HashMap<String, PathBuf>,
}

impl<R> Default for Gather<R> {
    fn default() -> Self {
        Gather {
            report: Report::default(),
            all: Vec::new(),
            ids: Default::default(),
        }
    }
}

impl<R> Gather<R> {
    fn add(&mut self, path: &Path, done: FileDone<R>) {
        let FileDone {
            source,
            mut checked,
            mut counts,
            taken,
        } = done;
        if let Some(source) = source {
            self.report.add_source(path, source);
        }
        if let Some(loaded) = &checked.campaign {
            let id = loaded.id().to_string();
            match self.ids.get(&id) {
                Some(first) => {
                    checked.diagnostics.push(
                        Diagnostic::error(
                            path,
                            Some(loaded.file.campaign.id.span()),
                            format!(
                                "campaign id `{id}` is already used by `{}`",
                                first.display()
                            ),
                        )
                        .with_help("give each campaign file its own `id` (changing an id makes a new campaign)"),
                    );
                    counts = None;
                }
                None => {
                    self.ids.insert(id, path.to_path_buf());
                }
            }
        }
        self.all.push((checked, counts, taken));
    }

    fn finish(self, ctx: &Context<'_>) -> (Vec<(Checked, R)>, Report) {
        let Gather {
            mut report, all, ..
        } = self;
        let valid: Vec<(&LoadedCampaign, &validate::BudgetCounts)> = all
            .iter()
            .filter_map(|(c, n, _)| Some((c.campaign.as_ref()?, n.as_ref()?)))
            .collect();
        let shared = validate::check_shared_budget_counts(&valid, ctx);
        let mut all: Vec<(Checked, R)> = all.into_iter().map(|(c, _, r)| (c, r)).collect();
        for d in shared {
            if let Some((c, _)) = all
                .iter_mut()
                .find(|(c, _)| c.campaign.as_ref().is_some_and(|l| l.path == d.path))
            {
                c.diagnostics.push(d);
            }
        }
        for (c, _) in &all {
            report.extend(c.diagnostics.iter().cloned());
        }
        (all, report)
    }
}

/// What checking needs, owned: for checking on threads that may outlive
/// the caller (a file over its time budget is left to finish alone).
#[derive(Debug, Clone)]
pub struct OwnedContext {
    pub config: std::sync::Arc<Config>,
    pub calendar: std::sync::Arc<Calendar>,
    pub now: Timestamp,
}

impl OwnedContext {
    pub fn context(&self) -> Context<'_> {
        Context {
            config: &self.config,
            calendar: &self.calendar,
            now: self.now,
        }
    }
}

/// [`check_dir`] under a time budget, for the daemon: the files are checked
/// on threads of their own, and a file whose check has not ended when
/// `budget` has passed is reported broken ("took too long"), so that its
/// campaign keeps its last valid version and the others go on. Its thread
/// is left to finish alone; nothing waits for it.
pub fn check_dir_within(
    dir: &Path,
    owned: &OwnedContext,
    budget: std::time::Duration,
) -> (Vec<Checked>, Report) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let started = std::time::Instant::now();
    let mut gather = Gather::default();
    let Some(files) = list_files(dir, &mut gather.report) else {
        return (Vec::new(), gather.report);
    };
    let files = Arc::new(files);
    let folder = Arc::new(dir.to_path_buf());
    let next = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = std::sync::mpsc::channel();
    let workers = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(files.len());
    for _ in 0..workers {
        let (files, folder, next, stop, tx, owned) = (
            files.clone(),
            folder.clone(),
            next.clone(),
            stop.clone(),
            tx.clone(),
            owned.clone(),
        );
        let spawned = std::thread::Builder::new()
            .name("berrah-check".into())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(path) = files.get(i) else { break };
                    let ctx = owned.context();
                    let (source, checked) = read_and_check(&folder, path, &ctx);
                    let counts = (checked.is_valid() && checked.campaign.is_some())
                        .then(|| validate::BudgetCounts::of(&checked.occurrences, &ctx));
                    let done = FileDone {
                        source,
                        checked,
                        counts,
                        taken: (),
                    };
                    if tx.send((i, done)).is_err() {
                        break;
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "could not start a thread to check campaign files");
        }
    }
    drop(tx);
    let mut results: Vec<Option<FileDone<()>>> = (0..files.len()).map(|_| None).collect();
    let mut left = files.len();
    let deadline = started + budget;
    while left > 0 {
        let wait = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(wait) {
            Ok((i, done)) => {
                results[i] = Some(done);
                left -= 1;
            }
            Err(_) => break,
        }
    }
    stop.store(true, Ordering::Relaxed);
    for (path, done) in files.iter().zip(results) {
        let done = done.unwrap_or_else(|| FileDone {
            source: None,
            checked: Checked {
                diagnostics: vec![over_budget(path, budget)],
                ..Checked::default()
            },
            counts: None,
            taken: (),
        });
        gather.add(path, done);
    }
    let ctx = owned.context();
    let (all, report) = gather.finish(&ctx);
    (all.into_iter().map(|(c, ())| c).collect(), report)
}

/// The diagnostic of a file whose check did not end within its budget.
fn over_budget(path: &Path, budget: std::time::Duration) -> Diagnostic {
    Diagnostic::error(
        path,
        None,
        format!(
            "checking this file took more than {} s: berrah stopped waiting for it",
            budget.as_secs_f64()
        ),
    )
    .with_help(
        "a schedule that makes a great many posts (a cron every minute over years?) is this slow: make it smaller, or split it into several files; if the file is small, this is a bug in berrah, please report it",
    )
}

/// Test-only ways to make the check of one file fail like a bug would: a
/// line `# berrah-test: panic` panics, `# berrah-test: slow` takes 3 s.
/// Compiled only into the unit tests, never into the product.
#[cfg(test)]
pub(crate) mod test_hooks {
    pub const PANIC: &str = "# berrah-test: panic";
    pub const SLOW: &str = "# berrah-test: slow";

    pub fn run(source: &str) {
        if source.contains(PANIC) {
            panic!("test hook: a bug while checking this file");
        }
        if source.contains(SLOW) {
            std::thread::sleep(std::time::Duration::from_secs(3));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ctx_check(source: &str) -> Checked {
        let config: Config = toml::from_str(
            "[accounts.fb]\nplatform = \"facebook\"\n[accounts.x]\nplatform = \"x\"\n",
        )
        .unwrap_or_default();
        let calendar = Calendar::shipped();
        let ctx = Context {
            config: &config,
            calendar: &calendar,
            now: Timestamp::UNIX_EPOCH,
        };
        let checked = check_source(Path::new("/nonexistent/c.toml"), source, &ctx);
        // Rendering every diagnostic must not panic either.
        for d in &checked.diagnostics {
            let _ = d.render(Some(source));
        }
        checked
    }

    const VALID: &str = "[campaign]\nid = \"c\"\ntitle = \"t\"\ntimezone = \"Africa/Casablanca\"\n\
        start = 2026-12-01\nend = 2026-12-31\naccounts = [\"fb\"]\nlanguages = [\"fr\"]\n\
        [[posts]]\nid = \"p\"\ndate_time = 2026-12-18T10:00:00\ntext = { fr = \"Salut\" }\n";

    #[test]
    fn a_valid_file_has_no_error_and_a_campaign() {
        let c = ctx_check(VALID);
        assert!(c.is_valid(), "{:?}", c.diagnostics);
        assert_eq!(c.campaign_id.as_deref(), Some("c"));
        assert!(c.campaign.is_some());
    }

    #[test]
    fn nul_bytes_are_reported_as_binary() {
        let c = ctx_check("a\0b");
        assert_eq!(c.diagnostics.len(), 1);
        assert!(c.diagnostics[0].message.contains("binary"));
    }

    #[test]
    fn two_files_with_one_id_error_on_the_second() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.toml"), VALID).unwrap();
        std::fs::write(dir.path().join("b.toml"), VALID).unwrap();
        std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
        std::fs::write(dir.path().join(".#a.toml"), "lock file").unwrap();
        let config = Config::default();
        let calendar = Calendar::shipped();
        let ctx = Context {
            config: &config,
            calendar: &calendar,
            now: Timestamp::UNIX_EPOCH,
        };
        let (checked, report) = check_dir(dir.path(), &ctx);
        assert_eq!(checked.len(), 2);
        let dup: Vec<_> = report
            .diagnostics
            .iter()
            .filter(|d| d.message.contains("already used"))
            .collect();
        assert_eq!(dup.len(), 1);
        assert!(dup[0].path.ends_with("b.toml"));
        assert!(!checked[1].is_valid());
    }

    const PIECES: &[&str] = &[
        "[campaign]",
        "[[posts]]",
        "[[capsules]]",
        "[[capsules.posts]]",
        "[[days]]",
        "[posts.variants.x]",
        "[capsules.posts.text]",
        "id",
        "title",
        "timezone",
        "start",
        "end",
        "accounts",
        "languages",
        "text",
        "at",
        "cron",
        "date_time",
        "days_before",
        "days_after",
        "anchor",
        "media",
        "file",
        "alt",
        "expires_after",
        "hashtags",
        " = ",
        "=",
        "\n",
        "\"",
        "\"c\"",
        "\"fb\"",
        "\"x\"",
        "[\"fb\"]",
        "[\"fr\", \"ar\"]",
        "{ fr = \"é 👨‍👩‍👧‍👦\" }",
        "{ day = \"x\" }",
        "2026-12-18",
        "10:00",
        "2026-12-18T10:00:00",
        "\"0 10 * * TUE\"",
        "\"6h\"",
        "\"../x.png\"",
        "\"مرحبا\"",
        "1",
        "-1",
        "99999999999",
        "true",
        "[",
        "]",
        "{",
        "}",
        ",",
        "'",
        "#",
        ".",
        "\t",
        "\r\n",
    ];

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let text = String::from_utf8_lossy(&bytes);
            let _ = ctx_check(&text);
        }

        #[test]
        fn toml_like_text_never_panics(idx in proptest::collection::vec(0..PIECES.len(), 0..80)) {
            let text: String = idx.iter().map(|i| PIECES[*i]).collect();
            let _ = ctx_check(&text);
        }

        #[test]
        fn a_valid_file_with_a_mutation_never_panics(at in 0usize..400, piece in 0..PIECES.len()) {
            let mut text = VALID.to_string();
            let mut at = at.min(text.len());
            while !text.is_char_boundary(at) { at -= 1; }
            text.insert_str(at, PIECES[piece]);
            let _ = ctx_check(&text);
        }
    }
}
