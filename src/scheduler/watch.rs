//! Watching the campaign folder and `berrah.toml` (`notify`, debounced by
//! `notify-debouncer-full`): a burst of writes from an editor becomes one
//! re-plan.

use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{EventKind, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, new_debouncer};
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

/// Keeps the watcher alive; dropping it stops watching.
pub struct Watching {
    _debouncer: Box<dyn Send>,
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
    let handler = move |result: DebounceEventResult| match result {
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
    let mut debouncer =
        new_debouncer(DEBOUNCE, Some(DEBOUNCE), handler).map_err(|e| err(campaigns, e))?;
    debouncer
        .watch(&campaigns_abs, RecursiveMode::Recursive)
        .map_err(|e| err(campaigns, e))?;
    if let Some(file) = &config_abs
        && let Some(dir) = file.parent()
        && dir != campaigns_abs
    {
        debouncer
            .watch(dir, RecursiveMode::NonRecursive)
            .map_err(|e| err(dir, e))?;
    }
    if let Some(dir) = &tzdb_abs {
        // Not fatal: without it, a tzdata update is seen at the next start.
        if let Err(e) = debouncer.watch(dir, RecursiveMode::NonRecursive) {
            tracing::warn!(folder = %dir.display(), error = %e, "not watching the time-zone data: restart after updating it");
        }
    }
    Ok(Watching {
        _debouncer: Box::new(debouncer),
    })
}

fn absolute(p: &Path) -> PathBuf {
    std::fs::canonicalize(p)
        .or_else(|_| std::path::absolute(p))
        .unwrap_or_else(|_| p.to_path_buf())
}
