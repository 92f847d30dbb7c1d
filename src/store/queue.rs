//! The scheduler's side of the queue: claim, attempt, checkpoint, finish,
//! leases and lateness. Every write is guarded by the state and lease owner
//! it expects, so two instances never both move one entry.

use jiff::Timestamp;

use super::row;
use super::sync::cause;
use super::types::{Entry, EntryState, StoreError};
use super::{Store, WritePool, on_db};
use crate::platforms::Progress;

/// How an attempt (or a decision about a claimed entry) ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finish {
    /// It is out: recorded whatever happened to the lease, because it is a
    /// fact on the platform and forgetting it could lead to a second post.
    Published {
        remote_id: String,
        url: Option<String>,
    },
    /// Transient fault: `retrying` until `run_at`.
    Retry { run_at: Timestamp, reason: String },
    /// Permanent refusal.
    Failed { reason: String },
    /// Waits for an operator (an unknown outcome on a platform that cannot be
    /// asked): only `berrah retry`/`cancel` moves it, never `release_account`.
    Held { reason: String },
    /// The account's credentials need an operator (Outcome::NeedsOperator):
    /// `held`, and released with the account's other posts by
    /// [`Store::release_account`] after `berrah accounts login`.
    NeedsOperator { reason: String },
    /// Too late to publish (past `not_after`, superseded).
    Expired { reason: String },
}

impl Finish {
    fn parts(&self) -> (EntryState, Option<&'static str>, &'static str, Option<&str>) {
        match self {
            Finish::Published { .. } => (EntryState::Published, None, "published", None),
            Finish::Retry { reason, .. } => (EntryState::Retrying, None, "retry", Some(reason)),
            Finish::Failed { reason } => (EntryState::Failed, None, "failed", Some(reason)),
            Finish::Held { reason } => {
                (EntryState::Held, Some(cause::OUTCOME), "held", Some(reason))
            }
            Finish::NeedsOperator { reason } => (
                EntryState::Held,
                Some(cause::ACCOUNT),
                "needs_operator",
                Some(reason),
            ),
            Finish::Expired { reason } => (EntryState::Expired, None, "expired", Some(reason)),
        }
    }
}

/// The entries not paused by campaign or account (`e` is the entries alias).
macro_rules! not_paused {
    () => {
        "NOT EXISTS (SELECT 1 FROM pauses p WHERE (p.scope = 'campaign' AND p.name = e.campaign) \
         OR (p.scope = 'account' AND p.name = e.account))"
    };
}

/// The claimable entries at `$1` (due, not too late, not paused).
macro_rules! claimable {
    () => {
        concat!(
            "e.state IN ('scheduled', 'retrying') AND e.run_at_ms <= $1 AND e.not_after_ms >= $1 AND ",
            not_paused!()
        )
    };
}

const CLAIM_SQLITE: &str = concat!(
    "UPDATE entries SET state = 'claimed', lease_owner = $2, lease_until_ms = $3, updated_ms = $1 \
     WHERE state IN ('scheduled', 'retrying') AND id IN (SELECT e.id FROM entries e WHERE ",
    claimable!(),
    " ORDER BY e.run_at_ms, e.id LIMIT $4) RETURNING *"
);

/// The CTE is an optimisation fence (as in Oban): without it the planner
/// may lock or update more rows than the limit.
const CLAIM_POSTGRES: &str = concat!(
    "WITH due AS (SELECT e.id FROM entries e WHERE ",
    claimable!(),
    " ORDER BY e.run_at_ms, e.id LIMIT $4 FOR UPDATE SKIP LOCKED) \
     UPDATE entries SET state = 'claimed', lease_owner = $2, lease_until_ms = $3, updated_ms = $1 \
     FROM due WHERE entries.id = due.id AND entries.state IN ('scheduled', 'retrying') \
     RETURNING entries.*"
);

const BEGIN_ATTEMPT: &str = concat!(
    "UPDATE entries SET state = 'publishing', attempts = attempts + 1, updated_ms = $3 \
     WHERE id = $1 AND state = 'claimed' AND lease_owner = $2 AND lease_until_ms > $3 AND id IN \
     (SELECT e.id FROM entries e WHERE e.id = $1 AND ",
    not_paused!(),
    ") RETURNING *"
);

impl Store {
    /// Claims up to `limit` due entries for `owner` until `lease_until`,
    /// in `run_at, id` order. Corrupt rows are held for an operator and
    /// logged instead of being returned.
    pub async fn claim_due(
        &self,
        now: Timestamp,
        limit: u32,
        owner: &str,
        lease_until: Timestamp,
    ) -> Result<Vec<Entry>, StoreError> {
        let now_ms = now.as_millisecond();
        let (mut good, bad) = on_db!(self, |pool| {
            let sql = if self.backend_name() == "sqlite" {
                CLAIM_SQLITE
            } else {
                CLAIM_POSTGRES
            };
            let rows = sqlx::query(sql)
                .bind(now_ms)
                .bind(owner)
                .bind(lease_until.as_millisecond())
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
            row::split_corrupt(&rows)
        });
        for e in bad {
            self.quarantine(&e, owner, now).await;
        }
        good.sort_by(|a, b| (a.run_at, &a.id).cmp(&(b.run_at, &b.id)));
        Ok(good)
    }

    /// A claimed row that does not decode: hold it (it cannot be published
    /// as it stands) so that it does not come back at every claim.
    async fn quarantine(&self, error: &StoreError, owner: &str, now: Timestamp) {
        tracing::error!(error = %error, "holding an unreadable queue entry for an operator");
        let StoreError::Corrupt { id, why } = error else {
            return;
        };
        let reason = format!("unreadable in the database: {why}");
        let done = on_db!(self, |pool| sqlx::query(
            "UPDATE entries SET state = 'held', state_cause = 'outcome', last_error = $3, \
             lease_owner = NULL, lease_until_ms = NULL, updated_ms = $4 \
             WHERE id = $1 AND state = 'claimed' AND lease_owner = $2"
        )
        .bind(id)
        .bind(owner)
        .bind(&reason)
        .bind(now.as_millisecond())
        .execute(pool)
        .await
        .map(|_| ()));
        if let Err(e) = done {
            tracing::error!(error = %e, id = %id, "could not hold an unreadable entry");
        }
    }

    /// Starts an attempt: only if `owner` still holds an unexpired lease and
    /// neither the campaign nor the account is paused. Returns the fresh
    /// entry (state `publishing`, attempts + 1, an attempt row recorded), or
    /// `None` when it must not go out now; an entry still claimed by `owner`
    /// (paused, lease expired) is then put back to `scheduled`.
    pub async fn begin_attempt(
        &self,
        id: &str,
        owner: &str,
        now: Timestamp,
    ) -> Result<Option<Entry>, StoreError> {
        let now_ms = now.as_millisecond();
        on_db!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let row = sqlx::query(BEGIN_ATTEMPT)
                .bind(id)
                .bind(owner)
                .bind(now_ms)
                .fetch_optional(&mut *tx)
                .await?;
            let result = match row {
                Some(row) => {
                    let entry = row::entry(&row);
                    let attempts: i64 = sqlx::Row::try_get(&row, "attempts")?;
                    sqlx::query(
                        "INSERT INTO attempts (entry_id, number, owner, started_ms) \
                         VALUES ($1, $2, $3, $4)",
                    )
                    .bind(id)
                    .bind(attempts)
                    .bind(owner)
                    .bind(now_ms)
                    .execute(&mut *tx)
                    .await?;
                    match entry {
                        Ok(e) => Some(e),
                        Err(err) => {
                            // Unreadable: it cannot be published; hold it.
                            tx.rollback().await?;
                            self.quarantine(&err, owner, now).await;
                            return Ok(None);
                        }
                    }
                }
                None => {
                    sqlx::query(
                        "UPDATE entries SET state = 'scheduled', lease_owner = NULL, \
                         lease_until_ms = NULL, updated_ms = $3 \
                         WHERE id = $1 AND state = 'claimed' AND lease_owner = $2",
                    )
                    .bind(id)
                    .bind(owner)
                    .bind(now_ms)
                    .execute(&mut *tx)
                    .await?;
                    None
                }
            };
            tx.commit().await?;
            Ok(result)
        })
    }

    /// Gives a claimed entry back: `scheduled` at `run_at` (a budget or a
    /// concurrency limit said "not now"). Returns whether it was still ours.
    pub async fn release(
        &self,
        id: &str,
        owner: &str,
        run_at: Timestamp,
    ) -> Result<bool, StoreError> {
        let done = on_db!(self, |pool| sqlx::query(
            "UPDATE entries SET state = 'scheduled', run_at_ms = $3, lease_owner = NULL, \
             lease_until_ms = NULL WHERE id = $1 AND state = 'claimed' AND lease_owner = $2"
        )
        .bind(id)
        .bind(owner)
        .bind(run_at.as_millisecond())
        .execute(pool)
        .await?
        .rows_affected());
        Ok(done == 1)
    }

    /// Records what the platform confirmed so far, at once (a crash after
    /// this never leads to a second post). `remote_id`/`url` are copied to
    /// the entry when set. Fails with `WrongState` when `owner` no longer
    /// holds the entry in `publishing`: the caller must stop.
    pub async fn checkpoint(
        &self,
        id: &str,
        owner: &str,
        progress: &Progress,
    ) -> Result<(), StoreError> {
        let json = serde_json::to_string(progress).map_err(|e| StoreError::Unstorable {
            id: id.to_string(),
            why: format!("its progress does not serialize: {e}"),
        })?;
        let done = on_db!(self, |pool| sqlx::query(
            "UPDATE entries SET progress = $3, remote_id = COALESCE($4, remote_id), \
             url = COALESCE($5, url) \
             WHERE id = $1 AND state = 'publishing' AND lease_owner = $2"
        )
        .bind(id)
        .bind(owner)
        .bind(&json)
        .bind(progress.remote_id.as_deref())
        .bind(progress.url.as_deref())
        .execute(pool)
        .await?
        .rows_affected());
        if done == 1 {
            Ok(())
        } else {
            Err(self.lease_lost(id, owner).await)
        }
    }

    /// The error for a guarded write that found the entry in other hands.
    async fn lease_lost(&self, id: &str, owner: &str) -> StoreError {
        match self.get_exact(id).await {
            Ok(Some(e)) => StoreError::WrongState {
                id: id.to_string(),
                state: e.state,
                why: format!(
                    "`{owner}` no longer holds it (lease owner: {})",
                    e.lease_owner.as_deref().unwrap_or("none")
                ),
            },
            Ok(None) => StoreError::NotFound(id.to_string()),
            Err(e) => e,
        }
    }

    /// Applies the end of an attempt (or a decision about a claimed entry):
    /// the new state, the attempt's outcome and detail, the lease cleared.
    /// Guarded by `owner` holding it `claimed`/`publishing`, except
    /// [`Finish::Published`], which is recorded unless already published.
    pub async fn finish(
        &self,
        id: &str,
        owner: &str,
        result: Finish,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let now_ms = now.as_millisecond();
        let (state, state_cause, outcome, reason) = result.parts();
        let (remote_id, url, published_at, run_at) = match &result {
            Finish::Published { remote_id, url } => {
                (Some(remote_id.as_str()), url.as_deref(), Some(now_ms), None)
            }
            Finish::Retry { run_at, .. } => (None, None, None, Some(run_at.as_millisecond())),
            _ => (None, None, None, None),
        };
        let done = on_db!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            // A publication is a fact: recorded even after a lost lease
            // (`$2 = $2` only keeps the parameter list the same).
            let sql = if matches!(result, Finish::Published { .. }) {
                "UPDATE entries SET state = $3, state_cause = $4, last_error = $5, \
                 remote_id = COALESCE($6, remote_id), url = COALESCE($7, url), \
                 published_at_ms = COALESCE($8, published_at_ms), run_at_ms = COALESCE($9, run_at_ms), \
                 lease_owner = NULL, lease_until_ms = NULL, updated_ms = $10 \
                 WHERE id = $1 AND state <> 'published' AND $2 = $2"
            } else {
                "UPDATE entries SET state = $3, state_cause = $4, last_error = $5, \
                 remote_id = COALESCE($6, remote_id), url = COALESCE($7, url), \
                 published_at_ms = COALESCE($8, published_at_ms), run_at_ms = COALESCE($9, run_at_ms), \
                 lease_owner = NULL, lease_until_ms = NULL, updated_ms = $10 \
                 WHERE id = $1 AND state IN ('claimed', 'publishing') AND lease_owner = $2"
            };
            let n = sqlx::query(sql)
                .bind(id)
                .bind(owner)
                .bind(state.as_str())
                .bind(state_cause)
                .bind(reason)
                .bind(remote_id)
                .bind(url)
                .bind(published_at)
                .bind(run_at)
                .bind(now_ms)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n == 1 {
                let detail = match &result {
                    Finish::Published { remote_id, url } => Some(match url {
                        Some(u) => format!("{remote_id} {u}"),
                        None => remote_id.clone(),
                    }),
                    _ => reason.map(str::to_string),
                };
                sqlx::query(
                    "UPDATE attempts SET finished_ms = $2, outcome = $3, detail = $4 \
                     WHERE entry_id = $1 AND finished_ms IS NULL \
                     AND number = (SELECT MAX(a.number) FROM attempts a WHERE a.entry_id = $1)",
                )
                .bind(id)
                .bind(now_ms)
                .bind(outcome)
                .bind(detail)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            n
        });
        if done == 1 {
            if matches!(result, Finish::Retry { .. }) {
                self.notify().await;
            }
            return Ok(());
        }
        if let Finish::Published { remote_id, .. } = &result
            && let Ok(Some(e)) = self.get_exact(id).await
            && e.remote_id.as_deref() == Some(remote_id.as_str())
        {
            // Already recorded with the same id: finishing twice is harmless.
            return Ok(());
        }
        Err(self.lease_lost(id, owner).await)
    }

    /// Extends the lease of every in-flight entry of `owner`; returns how many.
    pub async fn heartbeat(&self, owner: &str, lease_until: Timestamp) -> Result<u64, StoreError> {
        Ok(on_db!(self, |pool| sqlx::query(
            "UPDATE entries SET lease_until_ms = $2 \
             WHERE lease_owner = $1 AND state IN ('claimed', 'publishing')"
        )
        .bind(owner)
        .bind(lease_until.as_millisecond())
        .execute(pool)
        .await?
        .rows_affected()))
    }

    /// Leases that expired before `now`: `claimed` entries (the platform was
    /// never called) go back to `scheduled` and are returned as `requeued`;
    /// `publishing` ones are returned unchanged as `unknown`, for the
    /// scheduler to retry (keyed idempotency), resolve or hold.
    pub async fn expired_leases(
        &self,
        now: Timestamp,
    ) -> Result<(Vec<Entry>, Vec<Entry>), StoreError> {
        let now_ms = now.as_millisecond();
        let (requeued, unknown) = on_db!(self, |pool| {
            let requeued = sqlx::query(
                "UPDATE entries SET state = 'scheduled', lease_owner = NULL, \
                 lease_until_ms = NULL, updated_ms = $1 \
                 WHERE state = 'claimed' AND lease_until_ms < $1 RETURNING *",
            )
            .bind(now_ms)
            .fetch_all(pool)
            .await?;
            let unknown = sqlx::query(
                "SELECT * FROM entries WHERE state = 'publishing' AND lease_until_ms < $1 \
                 ORDER BY run_at_ms, id",
            )
            .bind(now_ms)
            .fetch_all(pool)
            .await?;
            (row::split_corrupt(&requeued), row::split_corrupt(&unknown))
        });
        Ok((log_corrupt(requeued), log_corrupt(unknown)))
    }

    /// Atomically moves an expired `publishing` entry from `expected_owner`
    /// to `new_owner` (to resolve its unknown outcome). `None` if someone
    /// else moved it first.
    pub async fn take_over(
        &self,
        id: &str,
        expected_owner: &str,
        new_owner: &str,
        lease_until: Timestamp,
    ) -> Result<Option<Entry>, StoreError> {
        let row = on_db!(self, |pool| sqlx::query(
            "UPDATE entries SET lease_owner = $3, lease_until_ms = $4 \
             WHERE id = $1 AND state = 'publishing' AND lease_owner = $2 RETURNING *"
        )
        .bind(id)
        .bind(expected_owner)
        .bind(new_owner)
        .bind(lease_until.as_millisecond())
        .fetch_optional(pool)
        .await?
        .map(|r| row::entry(&r))
        .transpose())?;
        Ok(row)
    }

    /// Expires what is too late: `scheduled`/`retrying` entries past
    /// `not_after`, and, in a series (a recurring post), every due entry
    /// that a later due occurrence supersedes, so that after downtime only
    /// the latest missed one goes out. Returns the expired entries.
    pub async fn expire_late(&self, now: Timestamp) -> Result<Vec<Entry>, StoreError> {
        let now_ms = now.as_millisecond();
        let (late, superseded) = on_db!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let late = sqlx::query(
                "UPDATE entries SET state = 'expired', state_cause = NULL, \
                 last_error = 'too late: past its not_after time, so it was not published', \
                 updated_ms = $1 \
                 WHERE state IN ('scheduled', 'retrying') AND not_after_ms < $1 RETURNING *",
            )
            .bind(now_ms)
            .fetch_all(&mut *tx)
            .await?;
            let superseded = sqlx::query(
                "UPDATE entries SET state = 'expired', state_cause = NULL, \
                 last_error = 'superseded by a later occurrence of the same recurring post', \
                 updated_ms = $1 \
                 WHERE state IN ('scheduled', 'retrying') AND series IS NOT NULL AND due_ms <= $1 \
                 AND EXISTS (SELECT 1 FROM entries l WHERE l.series = entries.series \
                   AND l.id <> entries.id AND l.due_ms <= $1 \
                   AND l.state IN ('scheduled', 'retrying', 'claimed', 'publishing', 'published') \
                   AND (l.due_ms > entries.due_ms OR (l.due_ms = entries.due_ms AND l.id > entries.id))) \
                 RETURNING *",
            )
            .bind(now_ms)
            .fetch_all(&mut *tx)
            .await?;
            tx.commit().await?;
            (row::split_corrupt(&late), row::split_corrupt(&superseded))
        });
        let mut all = log_corrupt(late);
        all.extend(log_corrupt(superseded));
        Ok(all)
    }

    /// When the scheduler should look again: the earliest `run_at` of a
    /// claimable entry (not paused, not too late) after... or the earliest
    /// lease expiry of an in-flight one.
    pub async fn next_wakeup(&self, now: Timestamp) -> Result<Option<Timestamp>, StoreError> {
        let now_ms = now.as_millisecond();
        let (run, lease): (Option<i64>, Option<i64>) = on_db!(self, |pool| {
            let run: Option<i64> = sqlx::query_scalar(concat!(
                "SELECT MIN(e.run_at_ms) FROM entries e WHERE e.state IN ('scheduled', 'retrying') \
                 AND e.not_after_ms >= $1 AND ",
                not_paused!()
            ))
            .bind(now_ms)
            .fetch_one(pool)
            .await?;
            let lease: Option<i64> = sqlx::query_scalar(
                "SELECT MIN(lease_until_ms) FROM entries WHERE state IN ('claimed', 'publishing')",
            )
            .fetch_one(pool)
            .await?;
            (run, lease)
        });
        let earliest = match (run, lease) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        earliest
            .map(|ms| {
                row::instant(ms, "run_at_ms").map_err(|why| StoreError::Corrupt {
                    id: "?".into(),
                    why,
                })
            })
            .transpose()
    }
}

/// Logs the corrupt rows of a batch and keeps the good entries.
fn log_corrupt((good, bad): (Vec<Entry>, Vec<StoreError>)) -> Vec<Entry> {
    for e in bad {
        tracing::error!(error = %e, "skipping an unreadable queue entry");
    }
    good
}
