//! Campaign files into the queue: plan every valid campaign and
//! `sync_campaign` it; keep the last valid version of a broken one; cancel
//! the waiting entries of a campaign whose file was removed.
//!
//! The last valid version lives in the queue itself (its entries) and, for
//! a restart while a file is broken, in [`Store::snapshots`]: the snapshot is
//! planned again in place of the broken file.
//!
//! Each snapshot also records what it was planned with ([`context_fingerprint`]:
//! berrah's version, the time-zone data, the accounts) hashed with the
//! file's bytes ([`file_fingerprint`]). At start, when every campaign file is
//! byte for byte its snapshot and the fingerprints match, nothing is planned
//! or synced again: the queue already holds that plan ("unchanged, not
//! re-planned"). Any difference plans and syncs every file, as before.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use jiff::Timestamp;

use crate::calendar::Calendar;
use crate::campaign;
use crate::config::Config;
use crate::diag::Severity;
use crate::store::{Snapshot, SnapshotWrite, Store, StoreError};

/// What one pass over the campaign folder found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncSummary {
    /// Valid campaigns synced from their files, by id: occurrences planned.
    pub synced: BTreeMap<String, usize>,
    /// Broken files (their path) and the campaign kept at its last valid version, if known.
    pub broken: Vec<(PathBuf, Option<String>)>,
    /// Campaigns whose file is gone (their waiting entries cancelled).
    pub removed: Vec<String>,
    /// Entries added, updated, cancelled in this pass.
    pub added: usize,
    pub updated: usize,
    pub cancelled: usize,
    /// Waiting entries whose due time moved (each one is logged).
    pub moved: usize,
    /// Campaigns recognised as unchanged at start: neither planned nor
    /// synced again (their occurrences in `synced` are the recorded ones).
    pub unchanged: usize,
}

/// What planning depends on besides a campaign file's bytes: berrah's
/// version, the time-zone data (`tzdb`: its description, release
/// included), the accounts and the default expiry of posts.
pub fn context_fingerprint(config: &Config, tzdb: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"berrah ");
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    h.update([0]);
    h.update(tzdb.as_bytes());
    h.update([0]);
    // A hash input, never shown: any change of an account plans again.
    h.update(format!("{:?}", config.accounts).as_bytes());
    h.update([0]);
    h.update(config.daemon.expires_after.as_bytes());
    format!("{:x}", h.finalize())
}

/// The fingerprint of a campaign file's bytes planned in `context`.
pub fn file_fingerprint(context: &str, bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(context.as_bytes());
    h.update([0]);
    h.update(bytes);
    format!("{:x}", h.finalize())
}

/// Gives the memory freed after a sync back to the system. glibc keeps
/// what a pass freed (the plans of every campaign file, tens of megabytes
/// with 1,000 files) in its heaps for reuse, so the daemon would stay at
/// its peak for its whole life; `malloc_trim` returns the free pages.
pub fn give_back_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` only releases free memory of the allocator's
    // heaps; it is safe to call at any time, from any thread.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// What [`CampaignSync`] remembers of a saved source.
fn source_hash(source: &str) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::digest(source.as_bytes()).into()
}

/// The campaign files of `dir` and their bytes, when every one is a regular
/// file (a link, a FIFO or an unreadable file: `None`, they are for the
/// full check to report).
fn read_files(dir: &Path) -> Option<Vec<(String, Vec<u8>)>> {
    campaign::campaign_files(dir)
        .ok()?
        .iter()
        .map(|p| {
            let meta = std::fs::symlink_metadata(p).ok()?;
            if !meta.is_file() || meta.len() > campaign::load::MAX_FILE_BYTES {
                return None;
            }
            Some((p.display().to_string(), std::fs::read(p).ok()?))
        })
        .collect()
}

/// Logs each entry a sync moved: old and new time, local and UTC, and why,
/// with every field of the post (its capsule and platform from the
/// occurrences just planned). A move made by new time-zone data is a
/// warning: posts going out at another instant than planned is what an
/// operator must hear of.
fn log_moves(moves: &[crate::store::Move], planned: &[crate::plan::Occurrence]) {
    // One event, at the level the reason calls for (tracing's levels are
    // constants per call site).
    macro_rules! moved {
        ($level:expr, $m:expr, $o:expr, $from:expr, $to:expr) => {
            tracing::event!(
                $level,
                campaign = %$m.campaign,
                capsule = $o.and_then(|o| o.capsule.as_deref()).unwrap_or("-"),
                post = %$m.post,
                account = %$m.account,
                platform = $o.map_or("-", |o| o.platform.as_str()),
                language = %$m.language,
                occurrence = %$m.id,
                timezone = %$m.timezone,
                from = %$from,
                to = %$to,
                reason = %$m.reason,
                "post rescheduled from {} to {}: {}",
                $from,
                $to,
                $m.reason
            )
        };
    }
    for m in moves {
        let from = format!("{} ({} UTC)", m.from_local, m.from_due);
        let to = format!("{} ({} UTC)", m.to_local, m.to_due);
        let o = planned.iter().find(|o| o.id == m.id);
        if m.reason.contains("tzdata") {
            moved!(tracing::Level::WARN, m, o, from, to);
        } else {
            moved!(tracing::Level::INFO, m, o, from, to);
        }
    }
}

/// How long one pass may spend checking and planning the files: a file
/// whose check has not ended by then is reported broken (its last valid
/// version stays scheduled) and the other campaigns are synced.
pub const PASS_BUDGET: std::time::Duration = std::time::Duration::from_secs(10);

/// The most occurrences synced in one transaction (campaigns are grouped
/// up to this; one larger campaign is a group of its own).
const GROUP_OCCURRENCES: usize = 5_000;

/// The most campaigns synced in one transaction.
const GROUP_CAMPAIGNS: usize = 100;

/// The campaigns this process knows, to recognise a broken or removed file.
#[derive(Debug)]
pub struct CampaignSync {
    /// See [`PASS_BUDGET`].
    budget: std::time::Duration,
    /// Campaign id → the file of its last valid version.
    known: BTreeMap<String, PathBuf>,
    /// Whether the snapshots were read (once, at the first pass).
    loaded_snapshots: bool,
    /// The hash of the source last saved as each campaign's snapshot (to
    /// write only changes; a hash, not the source: 1,000 files would keep
    /// megabytes alive for the daemon's life).
    saved: BTreeMap<String, [u8; 32]>,
    /// The fingerprint and occurrences last recorded with each snapshot.
    marks: BTreeMap<String, (String, usize)>,
}

impl Default for CampaignSync {
    fn default() -> Self {
        CampaignSync {
            budget: PASS_BUDGET,
            known: BTreeMap::new(),
            loaded_snapshots: false,
            saved: BTreeMap::new(),
            marks: BTreeMap::new(),
        }
    }
}

impl CampaignSync {
    pub fn new() -> CampaignSync {
        CampaignSync::default()
    }

    /// One pass: check and plan every file of `dir`, sync what is valid, log
    /// what is not (the same `path:line:col` diagnostics as `berrah check`).
    /// A folder that cannot be read changes nothing (it is logged).
    ///
    /// Checking and planning run off the async runtime (`spawn_blocking`)
    /// under the pass's time budget: a slow or stuck file never stalls the
    /// publications in flight, and costs only its own campaign an update.
    pub async fn sync_all(
        &mut self,
        store: &Store,
        config: &Config,
        calendar: &Calendar,
        dir: &Path,
        now: Timestamp,
    ) -> Result<SyncSummary, StoreError> {
        let owned = campaign::OwnedContext {
            config: Arc::new(config.clone()),
            calendar: Arc::new(calendar.clone()),
            now,
        };
        let mut summary = SyncSummary::default();
        if !dir.is_dir() {
            tracing::error!(
                folder = %dir.display(),
                "cannot read the campaign folder; the queue is left as it is"
            );
            return Ok(summary);
        }
        let context = context_fingerprint(config, &calendar.tzdb().describe());
        let snapshots = if self.loaded_snapshots {
            Vec::new()
        } else {
            self.loaded_snapshots = true;
            let all = store.snapshots().await?;
            for s in &all {
                self.saved
                    .insert(s.campaign.clone(), source_hash(&s.source));
                if let (Some(f), Some(n)) = (&s.fingerprint, s.occurrences) {
                    self.marks.insert(
                        s.campaign.clone(),
                        (f.clone(), usize::try_from(n).unwrap_or(0)),
                    );
                }
            }
            if let Some(summary) = self.unchanged(dir, &all, &context).await {
                return Ok(summary);
            }
            all
        };
        let (mut checked, report) = {
            let (owned, folder, budget) = (owned.clone(), dir.to_path_buf(), self.budget);
            match tokio::task::spawn_blocking(move || {
                campaign::check_dir_within(&folder, &owned, budget)
            })
            .await
            {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(error = %e, "checking the campaign files failed; the queue is left as it is");
                    return Ok(summary);
                }
            }
        };
        let snapshot_of_path: BTreeMap<String, String> = snapshots
            .iter()
            .map(|s| (s.path.clone(), s.campaign.clone()))
            .collect();
        // Campaign ids that still have a file (valid or not).
        let mut present: BTreeSet<String> = BTreeSet::new();
        // Valid campaigns first, synced in groups, each group one
        // transaction (a first start with 1,000 files commits about 20
        // times, not 1,000), small enough that publications' writes never
        // wait long behind one.
        let valid: Vec<usize> = (0..checked.len())
            .filter(|&i| checked[i].is_valid() && checked[i].campaign.is_some())
            .collect();
        let mut start = 0;
        while start < valid.len() {
            let mut end = start;
            let mut size = 0;
            while end < valid.len()
                && (end == start
                    || (size + checked[valid[end]].occurrences.len() <= GROUP_OCCURRENCES
                        && end - start < GROUP_CAMPAIGNS))
            {
                size += checked[valid[end]].occurrences.len();
                end += 1;
            }
            let group = &valid[start..end];
            start = end;
            // (id, mark, hash of the source, snapshot write) of each.
            let mut prepared = Vec::with_capacity(group.len());
            for &i in group {
                let c = &checked[i];
                let Some(loaded) = &c.campaign else { continue };
                let id = loaded.id().to_string();
                let mark = (
                    file_fingerprint(&context, loaded.source.as_bytes()),
                    c.occurrences.len(),
                );
                // The queue, the snapshot and its mark change in one
                // transaction: a crash never leaves a mark that a restart
                // would trust beside a queue that does not hold its plan.
                let saved = source_hash(&loaded.source);
                let save = self.saved.get(&id) != Some(&saved);
                let write = SnapshotWrite {
                    clear_mark: self.marks.get(&id).is_some_and(|m| m != &mark),
                    save: save.then(|| (loaded.path.display().to_string(), loaded.source.clone())),
                    mark: (save || self.marks.get(&id) != Some(&mark))
                        .then(|| (mark.0.clone(), mark.1 as u64)),
                };
                prepared.push((i, id, mark, saved, write));
            }
            let items: Vec<(&str, &[crate::plan::Occurrence], SnapshotWrite)> = prepared
                .iter_mut()
                .map(|(i, id, _, _, write)| {
                    (
                        id.as_str(),
                        checked[*i].occurrences.as_slice(),
                        std::mem::take(write),
                    )
                })
                .collect();
            let reports = store.sync_campaigns(&items, now).await?;
            drop(items);
            for ((i, id, mark, saved, _), r) in prepared.into_iter().zip(reports) {
                let c = &mut checked[i];
                let Some(loaded) = &c.campaign else { continue };
                let warnings = c
                    .diagnostics
                    .iter()
                    .filter(|d| d.severity == Severity::Warning)
                    .count();
                log_moves(&r.moves, &c.occurrences);
                summary.moved += r.moves.len();
                self.saved.insert(id.clone(), saved);
                self.marks.insert(id.clone(), mark);
                if r.added + r.updated + r.cancelled > 0 {
                    tracing::info!(
                        campaign = %id,
                        file = %loaded.path.display(),
                        occurrences = c.occurrences.len(),
                        added = r.added,
                        updated = r.updated,
                        cancelled = r.cancelled,
                        unchanged = r.unchanged,
                        frozen = r.frozen,
                        moved = r.moves.len(),
                        warnings,
                        "campaign synced"
                    );
                } else {
                    tracing::debug!(campaign = %id, "campaign unchanged");
                }
                for d in c.diagnostics.iter() {
                    tracing::debug!(campaign = %id, "{}", d.render(report.source(&d.path)).trim_end());
                }
                summary.added += r.added;
                summary.updated += r.updated;
                summary.cancelled += r.cancelled;
                summary.synced.insert(id.clone(), c.occurrences.len());
                present.insert(id.clone());
                self.known.insert(id, loaded.path.clone());
                // Synced: the queue holds them now (100,000 occurrences
                // are tens of megabytes).
                c.occurrences = Vec::new();
            }
        }
        for c in &checked {
            if c.is_valid() && c.campaign.is_some() {
                continue;
            }
            let path = c
                .campaign
                .as_ref()
                .map(|l| l.path.clone())
                .or_else(|| c.diagnostics.first().map(|d| d.path.clone()));
            // Broken: which campaign was it?
            let path_text = path.as_ref().map(|p| p.display().to_string());
            let id = c
                .campaign_id
                .clone()
                .or_else(|| {
                    let p = path.as_ref()?;
                    self.known
                        .iter()
                        .find(|(_, kp)| *kp == p)
                        .map(|(id, _)| id.clone())
                })
                .or_else(|| {
                    path_text
                        .as_ref()
                        .and_then(|p| snapshot_of_path.get(p).cloned())
                });
            let rendered: String = c
                .diagnostics
                .iter()
                .filter(|d| d.is_error())
                .map(|d| d.render(report.source(&d.path)))
                .collect();
            let file = path_text.clone().unwrap_or_else(|| "?".into());
            match &id {
                Some(id) => {
                    present.insert(id.clone());
                    let kept = if self.known.contains_key(id) {
                        true
                    } else if let Some(s) = snapshots.iter().find(|s| &s.campaign == id) {
                        // After a restart: plan the last valid version again.
                        let again = {
                            let (owned, path, source) =
                                (owned.clone(), s.path.clone(), s.source.clone());
                            tokio::task::spawn_blocking(move || {
                                campaign::check_source(Path::new(&path), &source, &owned.context())
                            })
                            .await
                            .unwrap_or_else(|e| campaign::Checked {
                                diagnostics: vec![crate::diag::Diagnostic::error(
                                    &s.path,
                                    None,
                                    format!("could not plan the saved version again: {e}"),
                                )],
                                ..campaign::Checked::default()
                            })
                        };
                        if again.is_valid() {
                            let r = store.sync_campaign(id, &again.occurrences, now).await?;
                            log_moves(&r.moves, &again.occurrences);
                            summary.moved += r.moves.len();
                            summary.added += r.added;
                            summary.updated += r.updated;
                            summary.cancelled += r.cancelled;
                            self.known.insert(id.clone(), PathBuf::from(&s.path));
                            true
                        } else {
                            false
                        }
                    } else {
                        false
                    };
                    if kept {
                        tracing::error!(
                            campaign = %id,
                            file = %file,
                            "campaign file has errors; its last valid version stays scheduled:\n{}",
                            rendered.trim_end()
                        );
                    } else {
                        tracing::error!(
                            campaign = %id,
                            file = %file,
                            "campaign file has errors and no earlier valid version; nothing of it is scheduled:\n{}",
                            rendered.trim_end()
                        );
                    }
                }
                None => tracing::error!(
                    file = %file,
                    "campaign file has errors; nothing of it is scheduled:\n{}",
                    rendered.trim_end()
                ),
            }
            if let Some(p) = path {
                summary.broken.push((p, id));
            }
        }
        // Campaigns whose file is gone: cancel what waits.
        let mut gone: BTreeSet<String> = self.known.keys().cloned().collect();
        gone.extend(snapshots.iter().map(|s| s.campaign.clone()));
        for id in gone.difference(&present) {
            let r = store.sync_campaign(id, &[], now).await?;
            if r.cancelled > 0 {
                tracing::warn!(
                    campaign = %id,
                    cancelled = r.cancelled,
                    "campaign file removed: its waiting posts are cancelled"
                );
            }
            summary.cancelled += r.cancelled;
            summary.removed.push(id.clone());
            self.known.remove(id);
            // Its snapshot no longer stands for a file of the folder.
            if self.marks.remove(id).is_some()
                || snapshots
                    .iter()
                    .any(|s| &s.campaign == id && s.fingerprint.is_some())
            {
                store.mark_snapshot(id, None, 0).await?;
            }
        }
        Ok(summary)
    }

    /// At start: when every campaign file of `dir` is byte for byte the
    /// snapshot of a campaign, planned in this `context`, and no other
    /// snapshot stands for a file, the summary of the plan the queue already
    /// holds; otherwise `None` (every file is planned and synced).
    async fn unchanged(
        &mut self,
        dir: &Path,
        snapshots: &[Snapshot],
        context: &str,
    ) -> Option<SyncSummary> {
        let marked: BTreeMap<&str, &Snapshot> = snapshots
            .iter()
            .filter(|s| s.fingerprint.is_some())
            .map(|s| (s.path.as_str(), s))
            .collect();
        let counted = snapshots.iter().filter(|s| s.fingerprint.is_some()).count();
        if marked.is_empty() || marked.len() != counted {
            return None;
        }
        let folder = dir.to_path_buf();
        let files = tokio::task::spawn_blocking(move || read_files(&folder))
            .await
            .ok()??;
        if files.len() != marked.len() {
            return None;
        }
        let mut summary = SyncSummary::default();
        for (path, bytes) in &files {
            let s = marked.get(path.as_str())?;
            if s.source.as_bytes() != bytes.as_slice()
                || s.fingerprint.as_deref() != Some(file_fingerprint(context, bytes).as_str())
            {
                return None;
            }
            let n = usize::try_from(s.occurrences?).ok()?;
            summary.synced.insert(s.campaign.clone(), n);
        }
        for s in marked.values() {
            self.known
                .insert(s.campaign.clone(), PathBuf::from(&s.path));
        }
        summary.unchanged = files.len();
        tracing::info!(
            campaigns = summary.unchanged,
            "campaign files unchanged since they were last synced: not re-planned"
        );
        Some(summary)
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use tokio_util::sync::CancellationToken;

    use super::*;
    use crate::campaign::test_hooks;
    use crate::store::testing::sqlite_temp;

    const CONFIG: &str = "[accounts.x]\nplatform = \"x\"\n";

    fn campaign(id: &str, extra: &str) -> String {
        format!(
            "[campaign]\nid = \"{id}\"\ntitle = \"t\"\ntimezone = \"Africa/Casablanca\"\n\
             start = 2026-12-01\nend = 2026-12-31\naccounts = [\"x\"]\nlanguages = [\"fr\"]\n\
             {extra}\n[[posts]]\nid = \"p\"\ndate_time = 2026-12-18T10:00:00\ntext = {{ fr = \"Salut {id}\" }}\n"
        )
    }

    fn mkfifo(path: &Path) {
        let made = std::process::Command::new("mkfifo")
            .arg(path)
            .status()
            .unwrap();
        assert!(made.success());
    }

    /// A project whose folder has one good campaign and files that would
    /// crash, stall or hang a careless reader: a panic in the check, a FIFO
    /// and a link to a file outside the folder.
    fn project() -> tempfile::TempDir {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("berrah.toml"), CONFIG).unwrap();
        let dir = tmp.path().join("campaigns");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("good.toml"), campaign("good", "")).unwrap();
        std::fs::write(
            dir.join("panics.toml"),
            campaign("panics", test_hooks::PANIC),
        )
        .unwrap();
        mkfifo(&dir.join("pipe.toml"));
        std::fs::write(tmp.path().join("outside.toml"), campaign("outside", "")).unwrap();
        std::os::unix::fs::symlink(tmp.path().join("outside.toml"), dir.join("link.toml")).unwrap();
        tmp
    }

    fn config() -> Config {
        toml::from_str(CONFIG).unwrap()
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    /// A restart: a new [`CampaignSync`] (nothing in memory) over the store.
    async fn restart(store: &Store, config: &Config, dir: &Path) -> SyncSummary {
        CampaignSync::new()
            .sync_all(
                store,
                config,
                &Calendar::shipped(),
                dir,
                at("2026-12-01T00:00:00Z"),
            )
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_restart_with_unchanged_files_does_not_plan_again() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("campaigns");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a.toml"), campaign("a", "")).unwrap();
        std::fs::write(dir.join("b.toml"), campaign("b", "")).unwrap();
        let (_db, store) = sqlite_temp().await;

        let first = restart(&store, &config(), &dir).await;
        assert_eq!((first.unchanged, first.added), (0, 2));
        let again = restart(&store, &config(), &dir).await;
        assert_eq!(again.unchanged, 2, "unchanged, not re-planned");
        assert_eq!(again.synced, first.synced);

        // Another account list plans again, then is recognised in turn.
        let more: Config =
            toml::from_str("[accounts.x]\nplatform = \"x\"\n\n[accounts.y]\nplatform = \"x\"\n")
                .unwrap();
        assert_eq!(restart(&store, &more, &dir).await.unchanged, 0);
        assert_eq!(restart(&store, &more, &dir).await.unchanged, 2);
        assert_eq!(restart(&store, &config(), &dir).await.unchanged, 0);

        // A changed file plans again (every file: one pass checks them all).
        std::fs::write(dir.join("b.toml"), campaign("b", "# edited")).unwrap();
        assert_eq!(restart(&store, &config(), &dir).await.unchanged, 0);
        assert_eq!(restart(&store, &config(), &dir).await.unchanged, 2);

        // A removed file cancels its posts, and the rest is then recognised.
        std::fs::remove_file(dir.join("b.toml")).unwrap();
        let removed = restart(&store, &config(), &dir).await;
        assert_eq!((removed.unchanged, removed.removed.len()), (0, 1));
        assert_eq!(restart(&store, &config(), &dir).await.unchanged, 1);

        // A new file plans again.
        std::fs::write(dir.join("c.toml"), campaign("c", "")).unwrap();
        assert_eq!(restart(&store, &config(), &dir).await.unchanged, 0);
    }

    #[test]
    fn fingerprints_change_with_the_tzdb_the_accounts_and_the_bytes() {
        let base = context_fingerprint(&config(), "bundled tzdata 2026f");
        assert_eq!(base, context_fingerprint(&config(), "bundled tzdata 2026f"));
        assert_ne!(base, context_fingerprint(&config(), "bundled tzdata 2027a"));
        let other: Config = toml::from_str("[accounts.x]\nplatform = \"mastodon\"\n").unwrap();
        assert_ne!(base, context_fingerprint(&other, "bundled tzdata 2026f"));
        let mut later = config();
        later.daemon.expires_after = "2h".into();
        assert_ne!(base, context_fingerprint(&later, "bundled tzdata 2026f"));
        assert_ne!(file_fingerprint(&base, b"a"), file_fingerprint(&base, b"b"));
        assert_ne!(
            file_fingerprint(&base, b"a"),
            file_fingerprint(&context_fingerprint(&other, "x"), b"a")
        );
    }

    #[tokio::test]
    async fn a_panicking_slow_or_special_file_costs_only_itself() {
        let tmp = project();
        let dir = tmp.path().join("campaigns");
        std::fs::write(dir.join("slow.toml"), campaign("slow", test_hooks::SLOW)).unwrap();
        let (_db, store) = sqlite_temp().await;
        let mut sync = CampaignSync::new();
        sync.budget = Duration::from_millis(500);
        let started = Instant::now();
        let summary = sync
            .sync_all(
                &store,
                &config(),
                &Calendar::shipped(),
                &dir,
                "2026-12-01T00:00:00Z".parse().unwrap(),
            )
            .await
            .unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "the slow file held the pass for {:?}",
            started.elapsed()
        );
        assert_eq!(summary.synced.keys().collect::<Vec<_>>(), ["good"]);
        let mut broken: Vec<_> = summary
            .broken
            .iter()
            .map(|(p, _)| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        broken.sort();
        assert_eq!(
            broken,
            ["link.toml", "panics.toml", "pipe.toml", "slow.toml"]
        );
        let (checked, report) = campaign::check_dir_within(
            &dir,
            &campaign::OwnedContext {
                config: Arc::new(config()),
                calendar: Arc::new(Calendar::shipped()),
                now: "2026-12-01T00:00:00Z".parse().unwrap(),
            },
            Duration::from_millis(500),
        );
        assert_eq!(checked.len(), 5);
        let out = report.render();
        assert!(
            out.contains(
                "panics.toml:1:1: error: berrah could not check this file: internal error"
            ),
            "{out}"
        );
        assert!(out.contains("please report it"), "{out}");
        assert!(
            out.contains("pipe.toml:1:1: error: this is a named pipe (FIFO)"),
            "{out}"
        );
        assert!(
            out.contains("link.toml:1:1: error: this file is a link to a file outside"),
            "{out}"
        );
        assert!(
            out.contains("slow.toml:1:1: error: checking this file took more than 0.5 s"),
            "{out}"
        );
    }

    /// Through the daemon: the good campaign is published on time although
    /// the folder holds a file whose check panics, a FIFO and a link out.
    #[tokio::test]
    async fn the_daemon_publishes_the_other_campaigns() {
        let tmp = project();
        let (_db, store) = sqlite_temp().await;
        let start: Timestamp = "2026-12-01T00:00:00Z".parse().unwrap();
        let sim = crate::time::SimClock::new(start);
        let mut cfg = crate::scheduler::DaemonConfig::new(
            config(),
            tmp.path().join("campaigns"),
            tmp.path().join("data"),
            store.clone(),
            Arc::new(sim.clone()),
        );
        cfg.watch = false;
        cfg.jump = Some(sim);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        cfg.events = Some(tx);
        let run = crate::scheduler::Daemon::new(cfg).run(CancellationToken::new());
        tokio::time::timeout(Duration::from_secs(60), run)
            .await
            .expect("the daemon stalled")
            .unwrap();
        let mut published = Vec::new();
        while let Ok(p) = rx.try_recv() {
            published.push(p);
        }
        assert_eq!(published.len(), 1, "{published:?}");
        assert_eq!(published[0].entry.campaign, "good");
        // On time: at its due instant on the simulated clock.
        assert_eq!(published[0].at, published[0].entry.due);
    }
}
