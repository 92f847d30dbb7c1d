//! Campaign sync, snapshots and the operators' commands over the queue.

use std::borrow::Borrow;
use std::collections::BTreeSet;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::row;
use super::sync::{self, Action, Existing, Fingerprint, cause};
use super::types::{Attempt, Entry, EntryState, Move, PauseScope, StoreError, SyncReport};
use super::{Store, WritePool, on_db};
use crate::plan::Occurrence;

/// The last valid source text of a campaign file, so that the last valid
/// version keeps running across a restart while the file is broken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub campaign: String,
    pub path: String,
    pub source: String,
    pub saved_at: Timestamp,
    /// What it was planned with, and the occurrences it gave, when known
    /// ([`Store::mark_snapshot`]).
    pub fingerprint: Option<String>,
    pub occurrences: Option<u64>,
}

/// What `berrah list` asks for. Empty fields match everything; `from`/`until`
/// bound the due time (`from <= due < until`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    pub campaign: Option<String>,
    pub account: Option<String>,
    pub states: Vec<EntryState>,
    pub from: Option<Timestamp>,
    pub until: Option<Timestamp>,
    pub limit: Option<u32>,
}

fn scope_str(scope: PauseScope) -> &'static str {
    match scope {
        PauseScope::Campaign => "campaign",
        PauseScope::Account => "account",
    }
}

/// The names the queue knows (for "did you mean" on the command line).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueNames {
    pub campaigns: BTreeSet<String>,
    pub accounts: BTreeSet<String>,
    /// `(campaign, post)` pairs.
    pub posts: BTreeSet<(String, String)>,
}

/// An operator's action as a command records it ([`Store::record_action`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewAction {
    /// `retry`, `cancel`, `pause`, `resume` or `login`.
    pub action: String,
    /// What it was done to: `campaign amal`, `account oim-x`, `entry o-…`.
    pub target: String,
    /// The entries it changed (full ids).
    pub ids: Vec<String>,
    /// One sentence: what changed.
    pub detail: String,
    /// Who ran it (the login name, when known).
    pub user: String,
    /// The machine it ran on.
    pub host: String,
    pub at: Option<Timestamp>,
}

/// `seq, at_ms, action, target, ids, detail, user_name, host`.
type ActionRow = (i64, i64, String, String, String, String, String, String);

/// An operator's action as stored, for the daemon's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OperatorAction {
    pub seq: i64,
    pub at: Timestamp,
    pub action: String,
    pub target: String,
    pub ids: Vec<String>,
    pub detail: String,
    pub user: String,
    pub host: String,
}

/// Rows per `INSERT` of a sync: 21 parameters each, far below SQLite's
/// 32,766 and PostgreSQL's 65,535 parameters per statement.
const INSERT_ROWS: usize = 200;

/// [`Store::mark_snapshot`]: `$1` fingerprint, `$2` occurrences, `$3` campaign.
const MARK_SQL: &str =
    "UPDATE campaign_snapshots SET fingerprint = $1, occurrences = $2 WHERE campaign = $3";

/// [`Store::save_snapshot`]: `$1` campaign, `$2` path, `$3` source, `$4` now.
const SAVE_SQL: &str = "INSERT INTO campaign_snapshots (campaign, path, source, saved_ms) \
     VALUES ($1, $2, $3, $4) ON CONFLICT (campaign) DO UPDATE SET \
     path = excluded.path, source = excluded.source, saved_ms = excluded.saved_ms, \
     fingerprint = NULL, occurrences = NULL";

/// What [`Store::sync_campaign_with`] writes of the campaign's snapshot, in
/// this order, in the sync's transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnapshotWrite {
    /// Forget what the snapshot was planned with, before the queue changes.
    pub clear_mark: bool,
    /// Save a new last valid source: (path, source). Its mark is forgotten.
    pub save: Option<(String, String)>,
    /// Record what it was planned with: (fingerprint, occurrences).
    pub mark: Option<(String, u64)>,
}

const LIST_SQL: &str = "SELECT * FROM entries WHERE ($1 IS NULL OR campaign = $1) \
     AND ($2 IS NULL OR account = $2) \
     AND ($3 = '' OR (',' || $3 || ',') LIKE ('%,' || state || ',%')) \
     AND ($4 IS NULL OR due_ms >= $4) AND ($5 IS NULL OR due_ms < $5) \
     ORDER BY due_ms, id LIMIT $6";

impl Store {
    /// Brings this campaign's queue entries in line with its plan, in one
    /// transaction: adds new occurrences, updates waiting entries whose plan
    /// changed, cancels waiting entries no longer planned; never touches
    /// published, in-flight or finished entries (counted `frozen`). An entry
    /// that sync itself cancelled comes back when its post returns to the file.
    pub async fn sync_campaign(
        &self,
        campaign: &str,
        occurrences: &[Occurrence],
        now: Timestamp,
    ) -> Result<SyncReport, StoreError> {
        self.sync_campaign_with(campaign, occurrences, now, &SnapshotWrite::default())
            .await
    }

    /// [`Store::sync_campaign`], with the campaign's snapshot written in the
    /// same transaction (`snapshot`): one commit per campaign instead of up
    /// to four (at start with 1,000 files, 4,000 disk flushes on SQLite),
    /// and a mark that can never disagree with the queue after a crash.
    pub async fn sync_campaign_with(
        &self,
        campaign: &str,
        occurrences: &[Occurrence],
        now: Timestamp,
        snapshot: &SnapshotWrite,
    ) -> Result<SyncReport, StoreError> {
        let mut reports = self
            .sync_campaigns(&[(campaign, occurrences, snapshot.clone())], now)
            .await?;
        Ok(reports.pop().unwrap_or_default())
    }

    /// [`Store::sync_campaign_with`] for several campaigns (distinct ids),
    /// in one transaction: a first start with 1,000 campaign files commits
    /// (and waits for the disk) a few times instead of 1,000. Each campaign
    /// is synced by exactly the same rules as alone; if any write fails,
    /// none of them happened. One report per campaign, in order.
    pub async fn sync_campaigns(
        &self,
        campaigns: &[(&str, &[Occurrence], SnapshotWrite)],
        now: Timestamp,
    ) -> Result<Vec<SyncReport>, StoreError> {
        let all_wanted = campaigns
            .iter()
            .map(|(_, occurrences, _)| sync::wanted(occurrences))
            .collect::<Result<Vec<_>, _>>()?;
        let now_ms = now.as_millisecond();
        let reports = on_db!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let mut reports = Vec::with_capacity(campaigns.len());
            for ((campaign, _, snapshot), wanted) in campaigns.iter().zip(&all_wanted) {
                let (campaign, wanted) = (*campaign, wanted.as_slice());
                if snapshot.clear_mark {
                    sqlx::query(MARK_SQL)
                        .bind(None::<&str>)
                        .bind(0i64)
                        .bind(campaign)
                        .execute(&mut *tx)
                        .await?;
                }
                let rows = sqlx::query(
                    "SELECT id, state, state_cause, capsule, post, account, platform, language, \
                 series, due_ms, local, timezone, not_after_ms, content_hash, tzdb \
                 FROM entries WHERE campaign = $1",
                )
                .bind(campaign)
                .fetch_all(&mut *tx)
                .await?;
                let mut existing = Vec::with_capacity(rows.len());
                for r in &rows {
                    let fingerprint = || -> Result<Fingerprint, sqlx::Error> {
                        Ok(Fingerprint {
                            capsule: r.try_get("capsule")?,
                            post: r.try_get("post")?,
                            account: r.try_get("account")?,
                            platform: r.try_get("platform")?,
                            language: r.try_get("language")?,
                            series: r.try_get("series")?,
                            due_ms: r.try_get("due_ms")?,
                            local: r.try_get("local")?,
                            timezone: r.try_get("timezone")?,
                            not_after_ms: r.try_get("not_after_ms")?,
                            content_hash: r.try_get("content_hash")?,
                            tzdb: r.try_get("tzdb")?,
                        })
                    };
                    let Ok(id) = r.try_get::<String, _>("id") else {
                        tracing::error!(campaign, "skipping a queue row whose id is unreadable");
                        continue;
                    };
                    let state: Option<String> = r.try_get("state").ok();
                    let (state, fingerprint) =
                        match (state.as_deref().and_then(EntryState::parse), fingerprint()) {
                            (Some(state), Ok(f)) => (Some(state), f),
                            // Unreadable: sync leaves it alone (counted frozen);
                            // the operator sees it as corrupt in `berrah list`.
                            _ => (None, Fingerprint::default()),
                        };
                    existing.push(Existing {
                        id,
                        state,
                        cause: r.try_get("state_cause").unwrap_or(None),
                        fingerprint,
                    });
                }
                let (actions, mut report) = sync::plan_sync(&existing, wanted);
                // New entries go in by statements of many rows (one round trip
                // to the database per INSERT_ROWS rows, not per row).
                let mut inserts = Vec::new();
                for action in actions {
                    match action {
                        Action::Insert {
                            wanted: i,
                            state,
                            cause,
                        } => inserts.push((i, state, cause)),
                        Action::Update {
                            wanted: i,
                            expected,
                            state,
                            cause,
                            last_error,
                            reset_run_at,
                            revived,
                            moved,
                        } => {
                            let w = &wanted[i];
                            let o = w.occurrence;
                            let n = sqlx::query(
                            "UPDATE entries SET capsule = $3, post = $4, account = $5, \
                             platform = $6, language = $7, series = $8, due_ms = $9, local = $10, \
                             timezone = $11, not_after_ms = $12, content = $13, content_hash = $14, \
                             state = $15, state_cause = $16, \
                             last_error = CASE WHEN $17 IS NULL THEN last_error ELSE $17 END, \
                             run_at_ms = CASE WHEN $18 = 1 THEN $9 ELSE run_at_ms END, \
                             updated_ms = $19, tzdb = $20 WHERE id = $1 AND state = $2",
                        )
                        .bind(&o.id)
                        .bind(expected.as_str())
                        .bind(o.capsule.as_deref())
                        .bind(&o.post)
                        .bind(&o.account)
                        .bind(o.platform.as_str())
                        .bind(&o.language)
                        .bind(o.series.as_deref())
                        .bind(w.fingerprint.due_ms)
                        .bind(&o.local)
                        .bind(&o.timezone)
                        .bind(w.fingerprint.not_after_ms)
                        .bind(&w.content_json)
                        .bind(&w.fingerprint.content_hash)
                        .bind(state.as_str())
                        .bind(cause.as_deref())
                        .bind(last_error.as_deref())
                        .bind(i64::from(reset_run_at))
                        .bind(now_ms)
                        .bind(&o.tzdb)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                            if n == 1
                                && let Some(from) = moved
                            {
                                let m = sync::make_move(campaign, w, &from, now);
                                sqlx::query(
                                "INSERT INTO moves (entry_id, campaign, post, account, language, \
                                 timezone, from_due_ms, from_local, to_due_ms, to_local, reason, \
                                 moved_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                            )
                            .bind(&m.id)
                            .bind(&m.campaign)
                            .bind(&m.post)
                            .bind(&m.account)
                            .bind(&m.language)
                            .bind(&m.timezone)
                            .bind(from.due_ms)
                            .bind(&m.from_local)
                            .bind(w.fingerprint.due_ms)
                            .bind(&m.to_local)
                            .bind(&m.reason)
                            .bind(now_ms)
                            .execute(&mut *tx)
                            .await?;
                                report.moves.push(m);
                            }
                            match (n, revived) {
                                (1, true) => report.added += 1,
                                (1, false) => report.updated += 1,
                                // Claimed by another instance meanwhile: left alone.
                                _ => report.frozen += 1,
                            }
                        }
                        Action::Cancel { id, expected } => {
                            let n = sqlx::query(
                                "UPDATE entries SET state = 'cancelled', state_cause = $3, \
                             last_error = $4, updated_ms = $5 WHERE id = $1 AND state = $2",
                            )
                            .bind(&id)
                            .bind(expected.as_str())
                            .bind(cause::SYNC)
                            .bind(sync::REMOVED_FROM_FILE)
                            .bind(now_ms)
                            .execute(&mut *tx)
                            .await?
                            .rows_affected();
                            if n == 1 {
                                report.cancelled += 1;
                            } else {
                                report.frozen += 1;
                            }
                        }
                    }
                }
                for chunk in inserts.chunks(INSERT_ROWS) {
                    let mut q = sqlx::QueryBuilder::new(
                        "INSERT INTO entries (id, campaign, capsule, post, account, platform, \
                     language, series, due_ms, local, timezone, not_after_ms, run_at_ms, \
                     state, attempts, content, content_hash, progress, last_error, \
                     state_cause, created_ms, updated_ms, tzdb) ",
                    );
                    q.push_values(chunk, |mut b, (i, state, cause)| {
                        let w = &wanted[*i];
                        let o = w.occurrence;
                        let last_error = cause.map(|_| sync::PAUSED_IN_FILE);
                        b.push_bind(o.id.as_str())
                            .push_bind(campaign)
                            .push_bind(o.capsule.as_deref())
                            .push_bind(o.post.as_str())
                            .push_bind(o.account.as_str())
                            .push_bind(o.platform.as_str())
                            .push_bind(o.language.as_str())
                            .push_bind(o.series.as_deref())
                            .push_bind(w.fingerprint.due_ms)
                            .push_bind(o.local.as_str())
                            .push_bind(o.timezone.as_str())
                            .push_bind(w.fingerprint.not_after_ms)
                            .push_bind(w.fingerprint.due_ms)
                            .push_bind(state.as_str())
                            .push("0")
                            .push_bind(w.content_json.as_str())
                            .push_bind(w.fingerprint.content_hash.as_str())
                            .push("'{}'")
                            .push_bind(last_error)
                            .push_bind(*cause)
                            .push_bind(now_ms)
                            .push_bind(now_ms)
                            .push_bind(o.tzdb.as_str());
                    });
                    q.push(" ON CONFLICT (id) DO NOTHING");
                    let n = q.build().execute(&mut *tx).await?.rows_affected();
                    let n = usize::try_from(n).unwrap_or(chunk.len()).min(chunk.len());
                    report.added += n;
                    report.unchanged += chunk.len() - n;
                }
                if let Some((path, source)) = &snapshot.save {
                    sqlx::query(SAVE_SQL)
                        .bind(campaign)
                        .bind(path.as_str())
                        .bind(source.as_str())
                        .bind(now_ms)
                        .execute(&mut *tx)
                        .await?;
                }
                if let Some((fingerprint, n)) = &snapshot.mark {
                    sqlx::query(MARK_SQL)
                        .bind(Some(fingerprint.as_str()))
                        .bind(i64::try_from(*n).unwrap_or(i64::MAX))
                        .bind(campaign)
                        .execute(&mut *tx)
                        .await?;
                }
                reports.push(report);
            }
            tx.commit().await?;
            reports
        });
        if reports
            .iter()
            .any(|r| r.added + r.updated + r.cancelled > 0)
        {
            self.notify().await;
        }
        Ok(reports)
    }

    /// The moves recorded since `since`, newest first (at most `limit`).
    pub async fn moves_since(&self, since: Timestamp, limit: u32) -> Result<Vec<Move>, StoreError> {
        let out = on_db!(self, |pool| {
            let rows = sqlx::query(
                "SELECT * FROM moves WHERE moved_ms >= $1 ORDER BY moved_ms DESC, seq DESC LIMIT $2",
            )
            .bind(since.as_millisecond())
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                // An undecodable row is left out, as `status` does with entries.
                if let Ok(m) = move_row(r) {
                    out.push(m);
                }
            }
            out
        });
        Ok(out)
    }

    /// Records what the snapshot of `campaign` was planned and synced with
    /// (`None`: unknown, it must be planned again at the next start) and how
    /// many occurrences it gave.
    pub async fn mark_snapshot(
        &self,
        campaign: &str,
        fingerprint: Option<&str>,
        occurrences: u64,
    ) -> Result<(), StoreError> {
        on_db!(self, |pool| sqlx::query(MARK_SQL)
            .bind(fingerprint)
            .bind(i64::try_from(occurrences).unwrap_or(i64::MAX))
            .bind(campaign)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(())
    }

    /// Remembers the last valid source of a campaign file (what it was
    /// planned with becomes unknown until [`Store::mark_snapshot`]).
    pub async fn save_snapshot(
        &self,
        campaign: &str,
        path: &str,
        source: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        on_db!(self, |pool| sqlx::query(SAVE_SQL)
            .bind(campaign)
            .bind(path)
            .bind(source)
            .bind(now.as_millisecond())
            .execute(pool)
            .await?
            .rows_affected());
        Ok(())
    }

    /// Every campaign's last valid source, by campaign name.
    pub async fn snapshots(&self) -> Result<Vec<Snapshot>, StoreError> {
        on_db!(self, |pool| {
            let rows = sqlx::query(
                "SELECT campaign, path, source, saved_ms, fingerprint, occurrences \
                 FROM campaign_snapshots ORDER BY campaign",
            )
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    let campaign: String = r.try_get("campaign")?;
                    let saved_ms: i64 = r.try_get("saved_ms")?;
                    Ok(Snapshot {
                        saved_at: row::instant(saved_ms, "saved_ms").map_err(|why| {
                            StoreError::Corrupt {
                                id: format!("snapshot of {campaign}"),
                                why,
                            }
                        })?,
                        path: r.try_get("path")?,
                        source: r.try_get("source")?,
                        fingerprint: r.try_get("fingerprint")?,
                        occurrences: r
                            .try_get::<Option<i64>, _>("occurrences")?
                            .and_then(|n| u64::try_from(n).ok()),
                        campaign,
                    })
                })
                .collect()
        })
    }

    /// The entry with exactly this id, if any.
    pub(crate) async fn get_exact(&self, id: &str) -> Result<Option<Entry>, StoreError> {
        on_db!(self, |pool| sqlx::query(
            "SELECT * FROM entries WHERE id = $1"
        )
        .bind(id)
        .fetch_optional(pool)
        .await?
        .map(|r| row::entry(&r))
        .transpose())
    }

    /// The entry with this id, or the only one whose id starts with it.
    pub async fn get(&self, id_or_prefix: &str) -> Result<Entry, StoreError> {
        if let Some(e) = self.get_exact(id_or_prefix).await? {
            return Ok(e);
        }
        if id_or_prefix.is_empty() {
            return Err(StoreError::NotFound(String::new()));
        }
        // `substr` rather than LIKE: exact and case-sensitive on both
        // backends (SQLite's LIKE ignores ASCII case), no wildcards to escape.
        let ids: Vec<String> = on_db!(self, |pool| sqlx::query_scalar(
            "SELECT id FROM entries WHERE substr(id, 1, length($1)) = $1 ORDER BY id LIMIT 11"
        )
        .bind(id_or_prefix)
        .fetch_all(pool)
        .await?);
        match ids.as_slice() {
            [] => Err(StoreError::NotFound(id_or_prefix.to_string())),
            [one] => self
                .get_exact(one)
                .await?
                .ok_or_else(|| StoreError::NotFound(id_or_prefix.to_string())),
            _ => Err(StoreError::Ambiguous {
                prefix: id_or_prefix.to_string(),
                candidates: ids,
            }),
        }
    }

    /// The entries matching `filter` by due time; fails on the first
    /// unreadable row (see [`Store::list_checked`] to see the others too).
    /// Takes the filter by value or by reference.
    pub async fn list(&self, filter: impl Borrow<ListFilter>) -> Result<Vec<Entry>, StoreError> {
        let (good, mut bad) = self.list_checked(filter).await?;
        match bad.pop() {
            Some(e) => Err(e),
            None => Ok(good),
        }
    }

    /// The readable entries matching `filter`, and one `Corrupt` error per
    /// unreadable row, so that `berrah list` can show both.
    pub async fn list_checked(
        &self,
        filter: impl Borrow<ListFilter>,
    ) -> Result<(Vec<Entry>, Vec<StoreError>), StoreError> {
        let filter = filter.borrow();
        let states = filter
            .states
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(",");
        let limit = filter.limit.map_or(i64::MAX, i64::from);
        Ok(on_db!(self, |pool| {
            let rows = sqlx::query(LIST_SQL)
                .bind(filter.campaign.as_deref())
                .bind(filter.account.as_deref())
                .bind(&states)
                .bind(filter.from.map(|t| t.as_millisecond()))
                .bind(filter.until.map(|t| t.as_millisecond()))
                .bind(limit)
                .fetch_all(pool)
                .await?;
            row::split_corrupt(&rows)
        }))
    }

    /// The stored cause of every held entry (`state_cause`: see
    /// [`cause`]), which decides what may release it; [`Entry`] does not
    /// carry it.
    pub async fn held_causes(
        &self,
    ) -> Result<std::collections::HashMap<String, Option<String>>, StoreError> {
        // A row whose columns do not decode is left out (status still
        // shows the entry, as corrupt), not an error for the whole list.
        Ok(on_db!(self, |pool| sqlx::query(
            "SELECT id, state_cause FROM entries WHERE state = 'held'"
        )
        .fetch_all(pool)
        .await?
        .iter()
        .filter_map(|r| Some((r.try_get("id").ok()?, r.try_get("state_cause").ok()?)))
        .collect()))
    }

    /// The stored cause of one held entry (see [`Store::held_causes`]);
    /// `None` if it has none or is not held.
    pub async fn held_cause(&self, id: &str) -> Result<Option<String>, StoreError> {
        // As in `held_causes`, a cause that does not decode counts as none.
        Ok(on_db!(self, |pool| sqlx::query(
            "SELECT state_cause FROM entries WHERE id = $1 AND state = 'held'"
        )
        .bind(id)
        .fetch_optional(pool)
        .await?
        .and_then(|r| r.try_get("state_cause").ok().flatten())))
    }

    /// The attempts of an entry, oldest first.
    pub async fn attempts(&self, id: &str) -> Result<Vec<Attempt>, StoreError> {
        on_db!(self, |pool| {
            let rows = sqlx::query("SELECT * FROM attempts WHERE entry_id = $1 ORDER BY number")
                .bind(id)
                .fetch_all(pool)
                .await?;
            rows.iter().map(row::attempt).collect()
        })
    }

    /// `failed`/`held`/`expired` (or `retrying`, to skip its wait) →
    /// `scheduled` now, or at its due time if that is still ahead (a retry
    /// never publishes a post early). Refused for published, in-flight and cancelled entries.
    pub async fn retry(&self, id: &str, now: Timestamp) -> Result<Entry, StoreError> {
        let entry = self.get(id).await?;
        let row = on_db!(self, |pool| sqlx::query(
            "UPDATE entries SET state = 'scheduled', state_cause = NULL, \
             run_at_ms = CASE WHEN due_ms > $2 THEN due_ms ELSE $2 END, \
             lease_owner = NULL, lease_until_ms = NULL, updated_ms = $2 \
             WHERE id = $1 AND state IN ('failed', 'held', 'expired', 'retrying', 'scheduled') \
             RETURNING *"
        )
        .bind(&entry.id)
        .bind(now.as_millisecond())
        .fetch_optional(pool)
        .await?
        .map(|r| row::entry(&r))
        .transpose())?;
        match row {
            Some(e) => {
                self.notify().await;
                Ok(e)
            }
            None => Err(self
                .wrong_state(
                    &entry.id,
                    "only failed, held or expired entries can be retried",
                )
                .await),
        }
    }

    async fn wrong_state(&self, id: &str, why: &str) -> StoreError {
        match self.get_exact(id).await {
            Ok(Some(e)) => StoreError::WrongState {
                id: id.to_string(),
                state: e.state,
                why: why.to_string(),
            },
            Ok(None) => StoreError::NotFound(id.to_string()),
            Err(e) => e,
        }
    }

    /// Cancels an entry that has not been published. A `claimed` one is
    /// cancelled too (`begin_attempt` will refuse it); a `publishing` one is
    /// refused, since the request may already be on the platform: cancel
    /// after it finishes.
    pub async fn cancel(&self, id: &str, now: Timestamp) -> Result<Entry, StoreError> {
        let entry = self.get(id).await?;
        if entry.state == EntryState::Cancelled {
            return Ok(entry);
        }
        let row = on_db!(self, |pool| {
            sqlx::query(
            "UPDATE entries SET state = 'cancelled', state_cause = $2, \
             last_error = 'cancelled by an operator', \
             lease_owner = NULL, lease_until_ms = NULL, updated_ms = $3 \
             WHERE id = $1 AND state IN ('scheduled', 'retrying', 'claimed', 'held', 'failed', 'expired') \
             RETURNING *"
        )
        .bind(&entry.id)
        .bind(cause::OPERATOR)
        .bind(now.as_millisecond())
        .fetch_optional(pool)
        .await?
        .map(|r| row::entry(&r))
        .transpose()
        })?;
        match row {
            Some(e) => {
                self.notify().await;
                Ok(e)
            }
            None => Err(self
                .wrong_state(
                    &entry.id,
                    "a published entry cannot be cancelled, and one being published can be \
                     cancelled only after its attempt ends",
                )
                .await),
        }
    }

    /// Stops claiming a campaign's or an account's entries (idempotent).
    pub async fn pause(&self, scope: PauseScope, name: &str) -> Result<(), StoreError> {
        on_db!(self, |pool| sqlx::query(
            "INSERT INTO pauses (scope, name) VALUES ($1, $2) ON CONFLICT DO NOTHING"
        )
        .bind(scope_str(scope))
        .bind(name)
        .execute(pool)
        .await?
        .rows_affected());
        self.notify().await;
        Ok(())
    }

    /// Undoes [`Store::pause`] (idempotent).
    pub async fn resume(&self, scope: PauseScope, name: &str) -> Result<(), StoreError> {
        on_db!(self, |pool| sqlx::query(
            "DELETE FROM pauses WHERE scope = $1 AND name = $2"
        )
        .bind(scope_str(scope))
        .bind(name)
        .execute(pool)
        .await?
        .rows_affected());
        self.notify().await;
        Ok(())
    }

    /// Every pause in force. An unknown scope in the table is skipped and logged.
    pub async fn pauses(&self) -> Result<Vec<(PauseScope, String)>, StoreError> {
        let rows: Vec<(String, String)> = on_db!(self, |pool| sqlx::query_as(
            "SELECT scope, name FROM pauses ORDER BY scope, name"
        )
        .fetch_all(pool)
        .await?);
        Ok(rows
            .into_iter()
            .filter_map(|(scope, name)| match scope.as_str() {
                "campaign" => Some((PauseScope::Campaign, name)),
                "account" => Some((PauseScope::Account, name)),
                other => {
                    tracing::error!(scope = other, name = %name, "ignoring a pause with an unknown scope");
                    None
                }
            })
            .collect())
    }

    /// Holds the waiting posts of an account whose credentials need an
    /// operator; returns how many.
    pub async fn hold_account(&self, account: &str, reason: &str) -> Result<u64, StoreError> {
        Ok(on_db!(self, |pool| sqlx::query(
            "UPDATE entries SET state = 'held', state_cause = $2, last_error = $3 \
             WHERE account = $1 AND state IN ('scheduled', 'retrying')"
        )
        .bind(account)
        .bind(cause::ACCOUNT)
        .bind(crate::text::sanitize::for_terminal(reason).into_owned())
        .execute(pool)
        .await?
        .rows_affected()))
    }

    /// Back to `scheduled` the account's posts held by [`Store::hold_account`]
    /// or [`Finish::NeedsOperator`](super::Finish::NeedsOperator) (after
    /// `berrah accounts login`). Posts held for an unknown outcome stay held.
    pub async fn release_account(&self, account: &str) -> Result<u64, StoreError> {
        let n = on_db!(self, |pool| sqlx::query(
            "UPDATE entries SET state = 'scheduled', state_cause = NULL, last_error = NULL \
             WHERE account = $1 AND state = 'held' AND state_cause = $2"
        )
        .bind(account)
        .bind(cause::ACCOUNT)
        .execute(pool)
        .await?
        .rows_affected());
        if n > 0 {
            self.notify().await;
        }
        Ok(n)
    }

    /// Posts of `account` published in `[from, until)` (budgets).
    pub async fn count_published(
        &self,
        account: &str,
        from: Timestamp,
        until: Timestamp,
    ) -> Result<u64, StoreError> {
        let n: i64 = on_db!(self, |pool| sqlx::query_scalar(
            "SELECT COUNT(*) FROM entries WHERE account = $1 AND state = 'published' \
             AND published_at_ms >= $2 AND published_at_ms < $3"
        )
        .bind(account)
        .bind(from.as_millisecond())
        .bind(until.as_millisecond())
        .fetch_one(pool)
        .await?);
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// How many entries each campaign has in each state (status). Rows with
    /// an unreadable state are counted apart in the log, never hidden silently.
    pub async fn counts_by_campaign(&self) -> Result<Vec<(String, EntryState, u64)>, StoreError> {
        let rows: Vec<(String, String, i64)> = on_db!(self, |pool| sqlx::query_as(
            "SELECT campaign, state, COUNT(*) FROM entries GROUP BY campaign, state \
             ORDER BY campaign, state"
        )
        .fetch_all(pool)
        .await?);
        let mut out = Vec::with_capacity(rows.len());
        for (campaign, state, n) in rows {
            match EntryState::parse(&state) {
                Some(s) => out.push((campaign, s, u64::try_from(n).unwrap_or(0))),
                None => tracing::error!(
                    campaign = %campaign, state = %state, count = n,
                    "entries with an unreadable state"
                ),
            }
        }
        out.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        Ok(out)
    }

    /// The media id of a file already uploaded on this account, unless it
    /// expired by `now`.
    pub async fn media_upload_get(
        &self,
        account: &str,
        sha256: &str,
        now: Timestamp,
    ) -> Result<Option<String>, StoreError> {
        Ok(on_db!(self, |pool| sqlx::query_scalar(
            "SELECT remote_id FROM media_uploads WHERE account = $1 AND sha256 = $2 \
             AND (expires_ms IS NULL OR expires_ms > $3)"
        )
        .bind(account)
        .bind(sha256)
        .bind(now.as_millisecond())
        .fetch_optional(pool)
        .await?))
    }

    /// The media id of a usable upload, forgotten in the same statement so
    /// that a single caller gets it.
    pub async fn media_upload_take(
        &self,
        account: &str,
        sha256: &str,
        now: Timestamp,
    ) -> Result<Option<String>, StoreError> {
        Ok(on_db!(self, |pool| sqlx::query_scalar(
            "DELETE FROM media_uploads WHERE account = $1 AND sha256 = $2 \
             AND (expires_ms IS NULL OR expires_ms > $3) RETURNING remote_id"
        )
        .bind(account)
        .bind(sha256)
        .bind(now.as_millisecond())
        .fetch_optional(pool)
        .await?))
    }

    /// Remembers an upload (replacing an older one of the same file).
    pub async fn media_upload_put(
        &self,
        account: &str,
        sha256: &str,
        remote_id: &str,
        expires_at: Option<Timestamp>,
    ) -> Result<(), StoreError> {
        on_db!(self, |pool| sqlx::query(
            "INSERT INTO media_uploads (account, sha256, remote_id, expires_ms) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (account, sha256) DO UPDATE SET \
             remote_id = excluded.remote_id, expires_ms = excluded.expires_ms"
        )
        .bind(account)
        .bind(sha256)
        .bind(remote_id)
        .bind(expires_at.map(|t| t.as_millisecond()))
        .execute(pool)
        .await?
        .rows_affected());
        Ok(())
    }
}

impl Store {
    /// Every campaign, account and (campaign, post) the queue holds.
    pub async fn queue_names(&self) -> Result<QueueNames, StoreError> {
        let rows: Vec<(String, String, String)> = on_db!(self, |pool| sqlx::query_as(
            "SELECT DISTINCT campaign, account, post FROM entries"
        )
        .fetch_all(pool)
        .await?);
        let mut names = QueueNames::default();
        for (campaign, account, post) in rows {
            names.campaigns.insert(campaign.clone());
            names.accounts.insert(account);
            names.posts.insert((campaign, post));
        }
        Ok(names)
    }

    /// Every entry id (for "did you mean" after a mistyped id).
    pub async fn entry_ids(&self) -> Result<Vec<String>, StoreError> {
        Ok(on_db!(self, |pool| sqlx::query_scalar(
            "SELECT id FROM entries ORDER BY id"
        )
        .fetch_all(pool)
        .await?))
    }

    /// The accounts with posts held because their credentials need an
    /// operator (cause `account`), with how many.
    pub async fn accounts_held_for_credentials(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let rows: Vec<(String, i64)> = on_db!(self, |pool| sqlx::query_as(
            "SELECT account, COUNT(*) FROM entries WHERE state = 'held' AND state_cause = $1 \
             GROUP BY account ORDER BY account"
        )
        .bind(cause::ACCOUNT)
        .fetch_all(pool)
        .await?);
        Ok(rows
            .into_iter()
            .map(|(a, n)| (a, u64::try_from(n).unwrap_or(0)))
            .collect())
    }

    /// Records an operator's action and wakes the daemons, which log it.
    pub async fn record_action(&self, a: &NewAction) -> Result<(), StoreError> {
        let at = a.at.unwrap_or_else(Timestamp::now).as_millisecond();
        let clean = |t: &str| crate::text::sanitize::for_terminal(t).into_owned();
        on_db!(self, |pool| sqlx::query(
            "INSERT INTO operator_actions (at_ms, action, target, ids, detail, user_name, host) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)"
        )
        .bind(at)
        .bind(&a.action)
        .bind(clean(&a.target))
        .bind(a.ids.join(","))
        .bind(clean(&a.detail))
        .bind(clean(&a.user))
        .bind(clean(&a.host))
        .execute(pool)
        .await?
        .rows_affected());
        self.notify().await;
        Ok(())
    }

    /// The actions no daemon has logged yet, oldest first, marked logged in
    /// the same statement (so that of several instances one logs each).
    pub async fn take_unlogged_actions(
        &self,
        now: Timestamp,
    ) -> Result<Vec<OperatorAction>, StoreError> {
        // A read first: most wake-ups are not operators' actions, and a
        // read takes no write lock from the queue's writer.
        let waiting: Option<i64> = on_db!(self, |pool| sqlx::query_scalar(
            "SELECT seq FROM operator_actions WHERE logged_ms IS NULL LIMIT 1"
        )
        .fetch_optional(pool)
        .await?);
        if waiting.is_none() {
            return Ok(Vec::new());
        }
        let rows: Vec<ActionRow> = on_db!(self, |pool| sqlx::query_as(
            "UPDATE operator_actions SET logged_ms = $1 WHERE logged_ms IS NULL \
                 RETURNING seq, at_ms, action, target, ids, detail, user_name, host"
        )
        .bind(now.as_millisecond())
        .fetch_all(pool)
        .await?);
        let mut out: Vec<OperatorAction> = rows
            .into_iter()
            .map(
                |(seq, at_ms, action, target, ids, detail, user, host)| OperatorAction {
                    seq,
                    at: Timestamp::from_millisecond(at_ms).unwrap_or(Timestamp::UNIX_EPOCH),
                    action,
                    target,
                    ids: ids
                        .split(',')
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect(),
                    detail,
                    user,
                    host,
                },
            )
            .collect();
        out.sort_by_key(|a| a.seq);
        Ok(out)
    }
}

/// One row of `moves`.
fn move_row<'r, R>(r: &'r R) -> Result<Move, StoreError>
where
    R: Row,
    &'static str: sqlx::ColumnIndex<R>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let id: String = r.try_get("entry_id")?;
    let at = |col: &'static str| -> Result<Timestamp, StoreError> {
        let ms: i64 = r.try_get(col)?;
        row::instant(ms, col).map_err(|why| StoreError::Corrupt {
            id: format!("move of {id}"),
            why,
        })
    };
    Ok(Move {
        campaign: r.try_get("campaign")?,
        post: r.try_get("post")?,
        account: r.try_get("account")?,
        language: r.try_get("language")?,
        timezone: r.try_get("timezone")?,
        from_due: at("from_due_ms")?,
        from_local: r.try_get("from_local")?,
        to_due: at("to_due_ms")?,
        to_local: r.try_get("to_local")?,
        reason: r.try_get("reason")?,
        at: at("moved_ms")?,
        id,
    })
}
