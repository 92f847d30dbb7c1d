//! Campaign files into the queue: plan every valid campaign and
//! `sync_campaign` it; keep the last valid version of a broken one; cancel
//! the waiting entries of a campaign whose file was removed.
//!
//! The last valid version lives in the queue itself (its entries) and, for
//! a restart while a file is broken, in [`Store::snapshots`]: the snapshot is
//! planned again in place of the broken file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use jiff::Timestamp;

use crate::calendar::Calendar;
use crate::campaign::{self, Context};
use crate::config::Config;
use crate::diag::Severity;
use crate::store::{Store, StoreError};

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
}

/// Logs each entry a sync moved: old and new time, local and UTC, and why.
/// A move made by new time-zone data is a warning: posts going out at
/// another instant than planned is what an operator must hear of.
fn log_moves(moves: &[crate::store::Move]) {
    for m in moves {
        let from = format!("{} ({} UTC)", m.from_local, m.from_due);
        let to = format!("{} ({} UTC)", m.to_local, m.to_due);
        if m.reason.contains("tzdata") {
            tracing::warn!(
                campaign = %m.campaign,
                post = %m.post,
                account = %m.account,
                language = %m.language,
                occurrence = %m.id,
                timezone = %m.timezone,
                from = %from,
                to = %to,
                reason = %m.reason,
                "post rescheduled from {from} to {to}: {}",
                m.reason
            );
        } else {
            tracing::info!(
                campaign = %m.campaign,
                post = %m.post,
                account = %m.account,
                language = %m.language,
                occurrence = %m.id,
                timezone = %m.timezone,
                from = %from,
                to = %to,
                reason = %m.reason,
                "post rescheduled from {from} to {to}: {}",
                m.reason
            );
        }
    }
}

/// The campaigns this process knows, to recognise a broken or removed file.
#[derive(Debug, Default)]
pub struct CampaignSync {
    /// Campaign id → the file of its last valid version.
    known: BTreeMap<String, PathBuf>,
    /// Whether the snapshots were read (once, at the first pass).
    loaded_snapshots: bool,
    /// The source last saved as each campaign's snapshot (to write only changes).
    saved: BTreeMap<String, String>,
}

impl CampaignSync {
    pub fn new() -> CampaignSync {
        CampaignSync::default()
    }

    /// One pass: check and plan every file of `dir`, sync what is valid, log
    /// what is not (the same `path:line:col` diagnostics as `berrah check`).
    /// A folder that cannot be read changes nothing (it is logged).
    pub async fn sync_all(
        &mut self,
        store: &Store,
        config: &Config,
        calendar: &Calendar,
        dir: &Path,
        now: Timestamp,
    ) -> Result<SyncSummary, StoreError> {
        let ctx = Context {
            config,
            calendar,
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
        let (checked, report) = campaign::check_dir(dir, &ctx);
        let snapshots = if self.loaded_snapshots {
            Vec::new()
        } else {
            self.loaded_snapshots = true;
            let all = store.snapshots().await?;
            for s in &all {
                self.saved.insert(s.campaign.clone(), s.source.clone());
            }
            all
        };
        let snapshot_of_path: BTreeMap<String, String> = snapshots
            .iter()
            .map(|s| (s.path.clone(), s.campaign.clone()))
            .collect();
        // Campaign ids that still have a file (valid or not).
        let mut present: BTreeSet<String> = BTreeSet::new();
        for c in &checked {
            let path = c
                .campaign
                .as_ref()
                .map(|l| l.path.clone())
                .or_else(|| c.diagnostics.first().map(|d| d.path.clone()));
            if c.is_valid()
                && let Some(loaded) = &c.campaign
            {
                let id = loaded.id().to_string();
                let warnings = c
                    .diagnostics
                    .iter()
                    .filter(|d| d.severity == Severity::Warning)
                    .count();
                let r = store.sync_campaign(&id, &c.occurrences, now).await?;
                log_moves(&r.moves);
                summary.moved += r.moves.len();
                store
                    .save_snapshot(&id, &loaded.path.display().to_string(), &loaded.source, now)
                    .await?;
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
                continue;
            }
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
                        let again = campaign::check_source(Path::new(&s.path), &s.source, &ctx);
                        if again.is_valid() {
                            let r = store.sync_campaign(id, &again.occurrences, now).await?;
                            log_moves(&r.moves);
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
        }
        Ok(summary)
    }
}
