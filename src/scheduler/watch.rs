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
}

/// Keeps the watcher alive; dropping it stops watching.
pub struct Watching {
    _debouncer: Box<dyn Send>,
}

/// Watches `campaigns` (recursively: media files count) and the config file
/// (through its folder, so that an editor replacing the file is seen).
pub fn watch(
    campaigns: &Path,
    config: Option<&Path>,
    tx: mpsc::UnboundedSender<Change>,
) -> Result<Watching, DaemonError> {
    let campaigns_abs = absolute(campaigns);
    let config_abs = config.map(absolute);
    let c_dir = campaigns_abs.clone();
    let c_file = config_abs.clone();
    let handler = move |result: DebounceEventResult| match result {
        Ok(events) => {
            let mut campaigns = false;
            let mut config = false;
            for e in events {
                if matches!(e.kind, EventKind::Access(_)) {
                    continue;
                }
                for p in &e.paths {
                    if c_file.as_deref().is_some_and(|f| p == f) {
                        config = true;
                    } else if p.starts_with(&c_dir) {
                        campaigns = true;
                    }
                }
            }
            if config {
                let _ = tx.send(Change::Config);
            }
            if campaigns {
                let _ = tx.send(Change::Campaigns);
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
    Ok(Watching {
        _debouncer: Box::new(debouncer),
    })
}

fn absolute(p: &Path) -> PathBuf {
    std::fs::canonicalize(p)
        .or_else(|_| std::path::absolute(p))
        .unwrap_or_else(|_| p.to_path_buf())
}
