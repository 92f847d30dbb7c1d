//! Watching the campaign folder and `berrah.toml` (`notify`, debounced
//! here): a burst of writes from an editor becomes one re-plan.
//!
//! The debouncing thread sleeps until an event comes, then until the folder
//! has been quiet for [`DEBOUNCE`]: it has no timer of its own while
//! nothing changes (an idle daemon sleeps).

use std::path::{Path, PathBuf};
use std::time::Duration;

use std::sync::mpsc as std_mpsc;
use std::time::Instant;

use notify::{Event, EventKind, RecursiveMode, Watcher};
use tokio::sync::mpsc;

use super::DaemonError;

/// How long the folder must be quiet before a change counts.
pub const DEBOUNCE: Duration = Duration::from_millis(300);

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Campaigns,
    Config,
    /// The time-zone database's folder (a `tzdata` update).
    Tzdb,
}

/// The longest a steady stream of changes delays the re-plan.
const DEBOUNCE_MAX: Duration = Duration::from_secs(3);

/// Keeps the watcher alive; dropping it stops watching (and its thread).
pub struct Watching {
    _watcher: notify::RecommendedWatcher,
}

/// Watches `campaigns` (recursively: media files count), the config file
/// (through its folder, so that an editor replacing the file is seen) and,
/// when given, the time-zone database's folder (its top level: a `tzdata`
/// update rewrites `tzdata.zi` and `+VERSION` there).
pub fn watch(
    campaigns: &Path,
    config: Option<&Path>,
    tzdb: Option<&Path>,
    tx: mpsc::UnboundedSender<Change>,
) -> Result<Watching, DaemonError> {
    let campaigns_abs = absolute(campaigns);
    let config_abs = config.map(absolute);
    let tzdb_abs = tzdb.map(absolute);
    let c_dir = campaigns_abs.clone();
    let c_file = config_abs.clone();
    let t_dir = tzdb_abs.clone();
    let handler = move |result: Result<Vec<Event>, Vec<notify::Error>>| match result {
        Ok(events) => {
            let mut campaigns = false;
            let mut config = false;
            let mut tzdb = false;
            for e in events {
                if matches!(e.kind, EventKind::Access(_)) {
                    continue;
                }
                for p in &e.paths {
                    if c_file.as_deref().is_some_and(|f| p == f) {
                        config = true;
                    } else if p.starts_with(&c_dir) {
                        campaigns = true;
                    } else if t_dir.as_deref().is_some_and(|d| p.starts_with(d)) {
                        tzdb = true;
                    }
                }
            }
            if config {
                let _ = tx.send(Change::Config);
            }
            if campaigns {
                let _ = tx.send(Change::Campaigns);
            }
            if tzdb {
                let _ = tx.send(Change::Tzdb);
            }
        }
        Err(errors) => {
            for e in errors {
                tracing::warn!(error = %e, "file watcher error");
            }
        }
    };
    let err = |path: &Path, e: notify::Error| DaemonError::Watch {
        path: path.display().to_string(),
        why: e.to_string(),
    };
    let (events_tx, events) = std_mpsc::channel();
    let mut watcher = notify::recommended_watcher(events_tx).map_err(|e| err(campaigns, e))?;
    std::thread::Builder::new()
        .name("berrah-watch".into())
        .spawn(move || debounce(&events, handler))
        .map_err(|e| DaemonError::Watch {
            path: campaigns.display().to_string(),
            why: e.to_string(),
        })?;
    watcher
        .watch(&campaigns_abs, RecursiveMode::Recursive)
        .map_err(|e| err(campaigns, e))?;
    if let Some(file) = &config_abs
        && let Some(dir) = file.parent()
        && dir != campaigns_abs
    {
        watcher
            .watch(dir, RecursiveMode::NonRecursive)
            .map_err(|e| err(dir, e))?;
    }
    if let Some(dir) = &tzdb_abs {
        // Not fatal: without it, a tzdata update is seen at the next start.
        if let Err(e) = watcher.watch(dir, RecursiveMode::NonRecursive) {
            tracing::warn!(folder = %dir.display(), error = %e, "not watching the time-zone data: restart after updating it");
        }
    }
    Ok(Watching { _watcher: watcher })
}

/// Gathers events until none came for [`DEBOUNCE`] (or for
/// [`DEBOUNCE_MAX`] in all), hands them to `handler`, and sleeps until the
/// next one; returns when the watcher is dropped.
fn debounce(
    events: &std_mpsc::Receiver<notify::Result<Event>>,
    handler: impl Fn(Result<Vec<Event>, Vec<notify::Error>>),
) {
    while let Ok(first) = events.recv() {
        let started = Instant::now();
        let mut got = Vec::new();
        let mut errors = Vec::new();
        let mut open = true;
        let mut add = |e: notify::Result<Event>| match e {
            Ok(e) => got.push(e),
            Err(e) => errors.push(e),
        };
        add(first);
        loop {
            let left = DEBOUNCE_MAX.saturating_sub(started.elapsed());
            if left.is_zero() {
                break;
            }
            match events.recv_timeout(DEBOUNCE.min(left)) {
                Ok(e) => add(e),
                Err(std_mpsc::RecvTimeoutError::Timeout) => break,
                Err(std_mpsc::RecvTimeoutError::Disconnected) => {
                    open = false;
                    break;
                }
            }
        }
        if !errors.is_empty() {
            handler(Err(errors));
        }
        if !got.is_empty() {
            handler(Ok(got));
        }
        if !open {
            return;
        }
    }
}

fn absolute(p: &Path) -> PathBuf {
    std::fs::canonicalize(p)
        .or_else(|_| std::path::absolute(p))
        .unwrap_or_else(|_| p.to_path_buf())
}
