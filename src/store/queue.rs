//! The scheduler's side of the queue: claim, attempt, checkpoint, finish,
//! leases and lateness. Every write is guarded by the state and lease owner
//! it expects, so two instances never both move one entry.

use jiff::Timestamp;

use super::row;
use super::sync::cause;
use super::types::{Entry, EntryState, StoreError};
use super::{Db, Store, on_db, queue_batch, write_tx};
use crate::config::PlatformKind;
use crate::platforms::Progress;
use crate::text::sanitize::{for_terminal, for_terminal_opt};

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

/// A later due occurrence of the same series exists (`e` is superseded and
/// must not go out: after downtime only the latest missed one does).
/// `$1` is now.
macro_rules! superseded {
    () => {
        "(e.series IS NOT NULL AND EXISTS (SELECT 1 FROM entries l WHERE l.series = e.series \
         AND l.id <> e.id AND l.due_ms <= $1 \
         AND l.state IN ('scheduled', 'retrying', 'claimed', 'publishing', 'published') \
         AND (l.due_ms > e.due_ms OR (l.due_ms = e.due_ms AND l.id > e.id))))"
    };
}

/// Entries waiting to be claimed at `$1`, now or later: not too late, not
/// paused, not superseded. (The unary `+` keeps SQLite from walking the
/// `not_after` index and sorting: these queries walk `entries_waiting` in
/// `run_at` order and stop at the first rows that qualify.)
macro_rules! waiting {
    () => {
        concat!(
            "e.state IN ('scheduled', 'retrying') AND +e.not_after_ms >= $1 AND ",
            not_paused!(),
            " AND NOT ",
            superseded!()
        )
    };
}

/// The claimable entries at `$1` whose `run_at` is by `$7` (`$1`, or a
/// little later when the daemon takes what is about to be due).
macro_rules! claimable {
    () => {
        concat!(waiting!(), " AND e.run_at_ms <= $7")
    };
}

/// Leaves alone the accounts (`$5`) and platforms (`$6`) of a [`ClaimSkip`],
/// given as JSON arrays of strings.
macro_rules! not_skipped_sqlite {
    () => {
        " AND e.account NOT IN (SELECT value FROM json_each($5)) \
         AND e.platform NOT IN (SELECT value FROM json_each($6))"
    };
}
macro_rules! not_skipped_postgres {
    () => {
        " AND e.account NOT IN (SELECT json_array_elements_text($5::json)) \
         AND e.platform NOT IN (SELECT json_array_elements_text($6::json))"
    };
}

/// The due entries a turn may take, in `run_at, id` order (`$4` of them at
/// most), outside the skipped accounts and platforms.
const CANDIDATES_SQLITE: &str = concat!(
    "SELECT e.id, e.account, e.platform, e.run_at_ms FROM entries e WHERE ",
    claimable!(),
    not_skipped_sqlite!(),
    " AND $2 = $2 AND $3 = $3 ORDER BY e.run_at_ms, e.id LIMIT $4"
);

/// Locks what it returns, skipping what another instance is taking (as in
/// River and Oban): two instances never take one entry.
const CANDIDATES_POSTGRES: &str = concat!(
    "SELECT e.id, e.account, e.platform, e.run_at_ms FROM entries e WHERE ",
    claimable!(),
    not_skipped_postgres!(),
    " AND $2 = $2 AND $3 = $3 ORDER BY e.run_at_ms, e.id LIMIT $4 FOR UPDATE SKIP LOCKED"
);

/// Takes the entries whose ids are the JSON array `$4`: `claimed` (`$5` =
/// 'claimed', `$6` = 0) or straight to `publishing` with the attempt counted
/// (`$5` = 'publishing', `$6` = 1).
macro_rules! take_sqlite {
    () => {
        "UPDATE entries SET state = $5, attempts = attempts + $6, \
         lease_owner = $2, lease_until_ms = $3, updated_ms = $1 \
         WHERE id IN (SELECT value FROM json_each($4)) AND state IN ('scheduled', 'retrying') \
         RETURNING *"
    };
}
const TAKE_SQLITE: &str = take_sqlite!();
/// On PostgreSQL, the take and the attempts it begins (`$6` = 1) are one
/// statement (a data-modifying CTE): one round trip.
const TAKE_POSTGRES: &str = "WITH t AS (UPDATE entries SET state = $5, attempts = attempts + $6, \
     lease_owner = $2, lease_until_ms = $3, updated_ms = $1 \
     WHERE id IN (SELECT json_array_elements_text($4::json)) \
     AND state IN ('scheduled', 'retrying') RETURNING *), \
     a AS (INSERT INTO attempts (entry_id, number, owner, started_ms) \
     SELECT id, attempts, $2, $1 FROM t WHERE $6 = 1) SELECT * FROM t";

/// On SQLite, a take straight to `publishing` and the attempts it begins go
/// to the connection's thread as one request (a round trip is most of what
/// a statement costs there); the attempts' statement reads the ids as `$4`,
/// like the take, and returns no rows, so the request's rows are the take's.
const TAKE_BEGIN_SQLITE: &str = concat!(
    take_sqlite!(),
    "; INSERT INTO attempts (entry_id, number, owner, started_ms) \
     SELECT id, attempts, $2, $1 FROM entries WHERE id IN (SELECT value FROM json_each($4)) \
     AND state = 'publishing' AND lease_owner = $2"
);

/// After a claim: the earliest `run_at` of what waits outside `skip`, and
/// the earliest lease expiry of what is in flight ($2..$4 only keep the
/// parameter numbers of the claim).
macro_rules! after_claim {
    ($not_skipped:expr) => {
        concat!(
            "SELECT (SELECT e.run_at_ms FROM entries e WHERE ",
            waiting!(),
            $not_skipped,
            " AND $2 = $2 AND $3 = $3 AND $4 = $4 ORDER BY e.run_at_ms, e.id LIMIT 1), \
             (SELECT MIN(lease_until_ms) FROM entries WHERE state IN ('claimed', 'publishing'))"
        )
    };
}
const AFTER_CLAIM_SQLITE: &str = after_claim!(not_skipped_sqlite!());
const AFTER_CLAIM_POSTGRES: &str = after_claim!(not_skipped_postgres!());

const BEGIN_ATTEMPT: &str = concat!(
    "UPDATE entries SET state = 'publishing', attempts = attempts + 1, updated_ms = $3 \
     WHERE id = $1 AND state = 'claimed' AND lease_owner = $2 AND lease_until_ms > $3 \
     AND not_after_ms >= $3 AND id IN \
     (SELECT e.id FROM entries e WHERE e.id = $1 AND ",
    not_paused!(),
    ") RETURNING *"
);

/// What a claim leaves alone: accounts and platforms that have no room for
/// another publication now (so that the daemon takes only what it can
/// start, instead of claiming and handing back).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClaimSkip {
    pub accounts: Vec<String>,
    pub platforms: Vec<PlatformKind>,
}

/// A due entry a turn may take, as the daemon sees it before deciding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub id: String,
    pub account: String,
    /// `None`: the row names no platform berrah knows (it is held when taken).
    pub platform: Option<PlatformKind>,
}

/// What the daemon does with a [`Candidate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Take {
    /// Straight to `publishing`, its attempt recorded: the platform is
    /// called next, with no step in between that could give it back.
    Begin,
    /// `claimed`: the worker checks something first (a posting budget), then
    /// calls [`Store::begin_attempt`] or gives it back.
    Claim,
    /// Not now (no room): it stays as it is.
    Leave,
    /// Not before this time (the account backs off): its `run_at` moves
    /// there, so that it waits in the queue rather than in a loop.
    Park(Timestamp),
}

/// What decides, candidate by candidate, what a claim turn takes: a closure
/// `FnMut(&Candidate) -> Take`, or the scheduler's admission.
pub trait Decide: Send + 'static {
    fn decide(&mut self, candidate: &Candidate) -> Take;
}

impl<F> Decide for F
where
    F: FnMut(&Candidate) -> Take + Send + 'static,
{
    fn decide(&mut self, candidate: &Candidate) -> Take {
        self(candidate)
    }
}

impl Store {
    /// Claims up to `limit` due entries for `owner` until `lease_until`,
    /// in `run_at, id` order (state `claimed`). Corrupt rows are held for an
    /// operator and logged instead of being returned.
    pub async fn claim_due(
        &self,
        now: Timestamp,
        limit: u32,
        owner: &str,
        lease_until: Timestamp,
    ) -> Result<Vec<Entry>, StoreError> {
        let (claimed, _, _) = self
            .claim_turn(
                now,
                limit,
                owner,
                lease_until,
                &ClaimSkip::default(),
                |_: &Candidate| Take::Claim,
            )
            .await?;
        Ok(claimed)
    }

    /// One turn of the daemon's queue work, in one write: walks the due
    /// entries outside `skip` in `run_at, id` order, asks `decide` what to
    /// do with each, takes up to `limit` of them for `owner` until
    /// `lease_until` ([`Take::Begin`]: `publishing` with the attempt recorded;
    /// [`Take::Claim`]: `claimed`), and says when to look again: the earliest
    /// `run_at` of what waits outside `skip` (in the past when more is due
    /// now) or the earliest lease expiry of what is in flight, as
    /// [`Store::next_wakeup`] does. Returns the taken entries in order; corrupt
    /// rows are held for an operator and logged instead; `decide` is handed
    /// back (to read what it counted).
    pub async fn claim_turn<D>(
        &self,
        now: Timestamp,
        limit: u32,
        owner: &str,
        lease_until: Timestamp,
        skip: &ClaimSkip,
        decide: D,
    ) -> Result<(Vec<Entry>, Option<Timestamp>, D), StoreError>
    where
        D: Decide,
    {
        self.claim_turn_by(now, now, limit, owner, lease_until, skip, decide)
            .await
    }

    /// [`Store::claim_turn`], taking also what becomes due by `by` (later
    /// than `now`): the daemon takes a post a moment before it is due and
    /// its worker waits for the due time, so that the claim's commit is not
    /// part of the post's lateness. Entries taken are returned with their
    /// `run_at`; never call the platform before it.
    #[allow(clippy::too_many_arguments)]
    pub async fn claim_turn_by<D>(
        &self,
        now: Timestamp,
        by: Timestamp,
        limit: u32,
        owner: &str,
        lease_until: Timestamp,
        skip: &ClaimSkip,
        mut decide: D,
    ) -> Result<(Vec<Entry>, Option<Timestamp>, D), StoreError>
    where
        D: Decide,
    {
        let now_ms = now.as_millisecond();
        let by_ms = by.as_millisecond().max(now_ms);
        let accounts = json_list(skip.accounts.iter().map(String::as_str));
        let platforms = json_list(skip.platforms.iter().map(|p| p.as_str()));
        let sqlite = self.backend_name() == "sqlite";
        // The take straight to `publishing` and its attempts: one request.
        let (candidates, take, take_begin, after) = if sqlite {
            (
                CANDIDATES_SQLITE,
                TAKE_SQLITE,
                TAKE_BEGIN_SQLITE,
                AFTER_CLAIM_SQLITE,
            )
        } else {
            (
                CANDIDATES_POSTGRES,
                TAKE_POSTGRES,
                TAKE_POSTGRES,
                AFTER_CLAIM_POSTGRES,
            )
        };
        let owned = owner.to_string();
        let lease_ms = lease_until.as_millisecond();
        let wanted = usize::try_from(limit).unwrap_or(usize::MAX);
        // Room for the candidates `decide` leaves (two on one account).
        let look_at = i64::from(limit.saturating_mul(2).saturating_add(8));
        let ((mut good, bad), (run, lease), decide) = write_tx!(self, |conn| {
            let mut rows = Vec::new();
            // The earliest `run_at` of the due candidates this turn left.
            let mut still_due: Option<i64> = None;
            if wanted > 0 {
                let found = sqlx::query(candidates)
                    .bind(now_ms)
                    .bind(&owned)
                    .bind(lease_ms)
                    .bind(look_at)
                    .bind(&accounts)
                    .bind(&platforms)
                    .bind(by_ms)
                    .fetch_all(&mut *conn)
                    .await?;
                let (mut begin, mut claim, mut park) = (Vec::new(), Vec::new(), Vec::new());
                for (i, row) in found.iter().enumerate() {
                    if begin.len() + claim.len() >= wanted {
                        // What this turn does not reach is still due.
                        still_due = found[i..]
                            .iter()
                            .filter_map(|r| sqlx::Row::try_get::<i64, _>(r, "run_at_ms").ok())
                            .chain(still_due)
                            .min();
                        break;
                    }
                    let run_at: i64 = sqlx::Row::try_get(row, "run_at_ms")?;
                    let platform: String = sqlx::Row::try_get(row, "platform")?;
                    let candidate = Candidate {
                        id: sqlx::Row::try_get(row, "id")?,
                        account: sqlx::Row::try_get(row, "account")?,
                        platform: PlatformKind::from_name(&platform),
                    };
                    match decide.decide(&candidate) {
                        Take::Begin => begin.push(candidate.id),
                        Take::Claim => claim.push(candidate.id),
                        Take::Leave => {
                            still_due = Some(still_due.map_or(run_at, |d: i64| d.min(run_at)));
                        }
                        Take::Park(at) => park.push((candidate.id, at)),
                    }
                }
                for (ids, state, counted) in [(begin, "publishing", 1i64), (claim, "claimed", 0)] {
                    if ids.is_empty() {
                        continue;
                    }
                    let ids = json_list(ids.iter().map(String::as_str));
                    rows.extend(
                        sqlx::query(if counted == 1 { take_begin } else { take })
                            .bind(now_ms)
                            .bind(&owned)
                            .bind(lease_ms)
                            .bind(&ids)
                            .bind(state)
                            .bind(counted)
                            .fetch_all(&mut *conn)
                            .await?,
                    );
                }
                for (id, at) in park {
                    sqlx::query(
                        "UPDATE entries SET run_at_ms = $2 \
                         WHERE id = $1 AND state IN ('scheduled', 'retrying')",
                    )
                    .bind(id)
                    .bind(at.as_millisecond())
                    .execute(&mut *conn)
                    .await?;
                }
            }
            // Due entries left behind: the loop looks again as soon as it
            // has room (the lease expiries of what is in flight come later
            // than now), so the second walk of the waiting entries is not
            // needed. (On PostgreSQL that walk steps over every entry the
            // burst has taken so far, dead index entries until a vacuum.)
            if still_due.is_some() {
                return Ok((row::split_corrupt(&rows), (still_due, None), decide));
            }
            let next: (Option<i64>, Option<i64>) = sqlx::query_as(after)
                .bind(now_ms)
                .bind(&owned)
                .bind(lease_ms)
                .bind(look_at)
                .bind(&accounts)
                .bind(&platforms)
                .fetch_one(&mut *conn)
                .await?;
            Ok((row::split_corrupt(&rows), next, decide))
        })?;
        for e in bad {
            self.quarantine(&e, owner, now).await;
        }
        good.sort_by(|a, b| (a.run_at, &a.id).cmp(&(b.run_at, &b.id)));
        Ok((good, earliest(run, lease)?, decide))
    }

    /// A claimed row that does not decode: hold it (it cannot be published
    /// as it stands) so that it does not come back at every claim.
    async fn quarantine(&self, error: &StoreError, owner: &str, now: Timestamp) {
        tracing::error!(error = %error, "holding an unreadable queue entry for an operator");
        let StoreError::Corrupt { id, why } = error else {
            return;
        };
        let reason = format!("unreadable in the database: {why}");
        let (id_owned, owner_owned) = (id.clone(), owner.to_string());
        let done = write_tx!(self, |conn| {
            sqlx::query(
                "UPDATE entries SET state = 'held', state_cause = 'outcome', last_error = $3, \
                 lease_owner = NULL, lease_until_ms = NULL, updated_ms = $4 \
                 WHERE id = $1 AND state IN ('claimed', 'publishing') AND lease_owner = $2",
            )
            .bind(id_owned)
            .bind(owner_owned)
            .bind(reason)
            .bind(now.as_millisecond())
            .execute(&mut *conn)
            .await?;
            Ok(())
        });
        if let Err(e) = done {
            tracing::error!(error = %e, id = %id, "could not hold an unreadable entry");
        }
    }

    /// Starts an attempt: only if `owner` still holds an unexpired lease, the
    /// entry is not past `not_after`, and neither the campaign nor the
    /// account is paused. Returns the fresh
    /// entry (state `publishing`, attempts + 1, an attempt row recorded), or
    /// `None` when it must not go out now; an entry still claimed by `owner`
    /// (paused, lease expired, too late) is then put back to `scheduled`
    /// (where `expire_late` finds the late ones).
    pub async fn begin_attempt(
        &self,
        id: &str,
        owner: &str,
        now: Timestamp,
    ) -> Result<Option<Entry>, StoreError> {
        let now_ms = now.as_millisecond();
        let (id_owned, owner_owned) = (id.to_string(), owner.to_string());
        let begun = write_tx!(self, |conn| {
            let row = sqlx::query(BEGIN_ATTEMPT)
                .bind(&id_owned)
                .bind(&owner_owned)
                .bind(now_ms)
                .fetch_optional(&mut *conn)
                .await?;
            match row {
                Some(row) => {
                    // Unreadable: it is held below (an error here would roll
                    // back the other writes of its batch).
                    let entry = match row::entry(&row) {
                        Ok(e) => e,
                        Err(corrupt) => return Ok(Err(corrupt)),
                    };
                    sqlx::query(
                        "INSERT INTO attempts (entry_id, number, owner, started_ms) \
                         VALUES ($1, $2, $3, $4)",
                    )
                    .bind(&id_owned)
                    .bind(i64::from(entry.attempts))
                    .bind(&owner_owned)
                    .bind(now_ms)
                    .execute(&mut *conn)
                    .await?;
                    Ok(Ok(Some(entry)))
                }
                None => {
                    sqlx::query(
                        "UPDATE entries SET state = 'scheduled', lease_owner = NULL, \
                         lease_until_ms = NULL, updated_ms = $3 \
                         WHERE id = $1 AND state = 'claimed' AND lease_owner = $2",
                    )
                    .bind(&id_owned)
                    .bind(&owner_owned)
                    .bind(now_ms)
                    .execute(&mut *conn)
                    .await?;
                    Ok(Ok(None))
                }
            }
        })?;
        match begun {
            Err(corrupt) => {
                self.quarantine(&corrupt, owner, now).await;
                Ok(None)
            }
            Ok(entry) => Ok(entry),
        }
    }

    /// Gives a claimed entry back: `scheduled` at `run_at` (a budget or a
    /// concurrency limit said "not now"). Returns whether it was still ours.
    pub async fn release(
        &self,
        id: &str,
        owner: &str,
        run_at: Timestamp,
    ) -> Result<bool, StoreError> {
        let (id, owner) = (id.to_string(), owner.to_string());
        let done = write_tx!(self, |conn| {
            Ok(sqlx::query(
                "UPDATE entries SET state = 'scheduled', run_at_ms = $3, lease_owner = NULL, \
                 lease_until_ms = NULL WHERE id = $1 AND state = 'claimed' AND lease_owner = $2",
            )
            .bind(id)
            .bind(owner)
            .bind(run_at.as_millisecond())
            .execute(&mut *conn)
            .await?
            .rows_affected())
        })?;
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
        let (id_owned, owner_owned) = (id.to_string(), owner.to_string());
        let (remote_id, url) = (progress.remote_id.clone(), progress.url.clone());
        let done = write_tx!(self, |conn| {
            Ok(sqlx::query(
                "UPDATE entries SET progress = $3, remote_id = COALESCE($4, remote_id), \
                 url = COALESCE($5, url) \
                 WHERE id = $1 AND state = 'publishing' AND lease_owner = $2",
            )
            .bind(id_owned)
            .bind(owner_owned)
            .bind(json)
            .bind(remote_id)
            .bind(url)
            .execute(&mut *conn)
            .await?
            .rows_affected())
        })?;
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
        // Outside text is stored without terminal control sequences (the
        // worker cleans outcomes already; this covers every other caller).
        let reason = for_terminal_opt(reason);
        let (remote_id, url, published_at, run_at) = match &result {
            Finish::Published { remote_id, url } => (
                Some(for_terminal(remote_id).into_owned()),
                for_terminal_opt(url.as_deref()),
                Some(now_ms),
                None,
            ),
            Finish::Retry { run_at, .. } => (None, None, None, Some(run_at.as_millisecond())),
            _ => (None, None, None, None),
        };
        let published = matches!(result, Finish::Published { .. });
        let detail = match (&remote_id, &url) {
            (Some(remote_id), Some(u)) => Some(format!("{remote_id} {u}")),
            (Some(remote_id), None) => Some(remote_id.clone()),
            _ => reason.clone(),
        };
        let (id_owned, owner_owned) = (id.to_string(), owner.to_string());
        let recorded_id = remote_id.clone();
        // PostgreSQL: in the next batch of outcomes, one statement and one
        // commit for all of them (`queue_batch.rs`).
        if let Some(batcher) = &self.inner.batcher {
            let recorded = batcher
                .finish(queue_batch::Outcome {
                    id: id.to_string(),
                    owner: owner.to_string(),
                    state: state.as_str(),
                    cause: state_cause,
                    reason,
                    remote_id,
                    url,
                    published_at,
                    run_at,
                    now: now_ms,
                    outcome,
                    detail,
                    published,
                })
                .await?;
            if recorded == queue_batch::Recorded::AsFact {
                tracing::warn!(
                    id = %id,
                    owner = %owner,
                    "recorded a publication although this worker no longer held the entry: \
                     another worker may be resolving it and will find it published"
                );
            }
            return self
                .finished(
                    id,
                    owner,
                    &result,
                    recorded_id,
                    recorded != queue_batch::Recorded::No,
                )
                .await;
        }
        // On SQLite, the entry's and its attempt's statements go to the
        // connection's thread as one (a round trip each is most of what a
        // write costs there).
        let together = self.backend_name() == "sqlite";
        let done = write_tx!(self, |conn| {
            // The owner's guarded write first; for a publication, the fact
            // write when the entry turned out to be in other hands.
            let writes: &[&'static str] = match (published, together) {
                (true, true) => &[FINISH_GUARDED_SQLITE, FINISH_FACT_SQLITE],
                (false, true) => &[FINISH_GUARDED_SQLITE],
                (true, false) => &[FINISH_GUARDED, FINISH_FACT],
                (false, false) => &[FINISH_GUARDED],
            };
            let mut n = 0;
            let mut lost_lease = false;
            for (i, sql) in writes.iter().enumerate() {
                // With the attempt's statement, its row counts too (the
                // attempt is written only when the entry was).
                let mut q = sqlx::query(*sql)
                    .bind(&id_owned)
                    .bind(&owner_owned)
                    .bind(state.as_str())
                    .bind(state_cause)
                    .bind(&reason)
                    .bind(&remote_id)
                    .bind(&url)
                    .bind(published_at)
                    .bind(run_at)
                    .bind(now_ms);
                if together {
                    q = q.bind(outcome).bind(&detail);
                }
                n = q.execute(&mut *conn).await?.rows_affected();
                if n > 0 {
                    lost_lease = i > 0;
                    break;
                }
            }
            if n > 0 && lost_lease {
                tracing::warn!(
                    id = %id_owned,
                    owner = %owner_owned,
                    "recorded a publication although this worker no longer held the entry: \
                     another worker may be resolving it and will find it published"
                );
            }
            if n > 0 && !together {
                sqlx::query(FINISH_ATTEMPT)
                    .bind(&id_owned)
                    .bind(outcome)
                    .bind(&detail)
                    .bind(now_ms)
                    .execute(&mut *conn)
                    .await?;
            }
            Ok(n.min(1))
        })?;
        self.finished(id, owner, &result, recorded_id, done == 1)
            .await
    }

    /// After [`Store::finish`]'s write: a retry wakes the schedulers; a
    /// write that changed nothing is fine for a publication already
    /// recorded with the same id, and otherwise says who holds the entry.
    async fn finished(
        &self,
        id: &str,
        owner: &str,
        result: &Finish,
        recorded_id: Option<String>,
        done: bool,
    ) -> Result<(), StoreError> {
        if done {
            if matches!(result, Finish::Retry { .. }) {
                self.notify().await;
            }
            return Ok(());
        }
        if let Some(remote_id) = &recorded_id
            && let Ok(Some(e)) = self.get_exact(id).await
            && e.state == EntryState::Published
        {
            if e.remote_id.as_deref() == Some(remote_id.as_str()) {
                // Already recorded with the same id: finishing twice is harmless.
                return Ok(());
            }
            return Err(StoreError::WrongState {
                id: id.to_string(),
                state: e.state,
                why: format!(
                    "already published as {}, now reported as {remote_id}: check the account for a duplicate",
                    e.remote_id.as_deref().unwrap_or("an unknown id")
                ),
            });
        }
        Err(self.lease_lost(id, owner).await)
    }

    /// After a sync that changed `changed` entries: on PostgreSQL, when
    /// that is many, the planner's statistics of the queue are refreshed
    /// (`ANALYZE entries`) at once instead of at autovacuum's next pass (a
    /// minute or more). Without them, a queue that just grew by thousands
    /// of due posts looks empty to the planner, which then sorts every due
    /// entry at each claim (25 ms for 6,000) instead of walking the
    /// waiting index and stopping at the first few. SQLite needs nothing.
    pub async fn queue_grew(&self, changed: usize) {
        const MANY: usize = 500;
        if let Db::Postgres(pool) = self.db()
            && changed >= MANY
            && let Err(e) = sqlx::query("ANALYZE entries").execute(pool).await
        {
            tracing::warn!(error = %e, "could not refresh the queue's statistics");
        }
    }

    /// Extends the lease of every in-flight entry of `owner`; returns how many.
    pub async fn heartbeat(&self, owner: &str, lease_until: Timestamp) -> Result<u64, StoreError> {
        let owner = owner.to_string();
        write_tx!(self, |conn| {
            Ok(sqlx::query(
                "UPDATE entries SET lease_until_ms = $2 \
                 WHERE lease_owner = $1 AND state IN ('claimed', 'publishing')",
            )
            .bind(owner)
            .bind(lease_until.as_millisecond())
            .execute(&mut *conn)
            .await?
            .rows_affected())
        })
    }

    /// Leases that expired before `now`: `claimed` entries (the platform was
    /// never called) go back to `scheduled` and are returned as `requeued`;
    /// `publishing` ones are returned unchanged as `unknown`, for the
    /// scheduler to retry (keyed idempotency), resolve or hold. Reads first,
    /// so that a queue with no expired lease costs no write.
    pub async fn expired_leases(
        &self,
        now: Timestamp,
    ) -> Result<(Vec<Entry>, Vec<Entry>), StoreError> {
        let now_ms = now.as_millisecond();
        let any: bool = on_db!(self, |pool| sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM entries WHERE state IN ('claimed', 'publishing') \
             AND lease_until_ms < $1)"
        )
        .bind(now_ms)
        .fetch_one(pool)
        .await?);
        if !any {
            return Ok((Vec::new(), Vec::new()));
        }
        let (requeued, unknown) = write_tx!(self, |conn| {
            // `state IN (...)` repeats entries_in_flight's own condition,
            // word for word, so that SQLite searches that small index instead
            // of the whole queue.
            let requeued = sqlx::query(
                "UPDATE entries SET state = 'scheduled', lease_owner = NULL, \
                 lease_until_ms = NULL, updated_ms = $1 \
                 WHERE state IN ('claimed', 'publishing') AND state = 'claimed' \
                 AND lease_until_ms < $1 RETURNING *",
            )
            .bind(now_ms)
            .fetch_all(&mut *conn)
            .await?;
            let unknown = sqlx::query(
                "SELECT * FROM entries WHERE state IN ('claimed', 'publishing') \
                 AND state = 'publishing' AND lease_until_ms < $1 ORDER BY run_at_ms, id",
            )
            .bind(now_ms)
            .fetch_all(&mut *conn)
            .await?;
            Ok((row::split_corrupt(&requeued), row::split_corrupt(&unknown)))
        })?;
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
        let (id, expected, new) = (
            id.to_string(),
            expected_owner.to_string(),
            new_owner.to_string(),
        );
        write_tx!(self, |conn| {
            sqlx::query(
                "UPDATE entries SET lease_owner = $3, lease_until_ms = $4 \
                 WHERE id = $1 AND state = 'publishing' AND lease_owner = $2 RETURNING *",
            )
            .bind(id)
            .bind(expected)
            .bind(new)
            .bind(lease_until.as_millisecond())
            .fetch_optional(&mut *conn)
            .await?
            .map(|r| row::entry(&r))
            .transpose()
        })
    }

    /// Expires what is too late: `scheduled`/`retrying` entries past
    /// `not_after`, and, in a series (a recurring post), every due entry
    /// that a later due occurrence supersedes, so that after downtime only
    /// the latest missed one goes out. Returns the expired entries.
    pub async fn expire_late(&self, now: Timestamp) -> Result<Vec<Entry>, StoreError> {
        let now_ms = now.as_millisecond();
        // Read first (on the partial indexes of waiting entries): a queue
        // with nothing late costs no write.
        let any: bool = on_db!(self, |pool| sqlx::query_scalar(concat!(
            "SELECT EXISTS (SELECT 1 FROM entries e WHERE e.state IN ('scheduled', 'retrying') \
             AND e.not_after_ms < $1) OR EXISTS (SELECT 1 FROM entries e \
             WHERE e.state IN ('scheduled', 'retrying') AND e.series IS NOT NULL \
             AND e.due_ms <= $1 AND ",
            superseded!(),
            ")"
        ))
        .bind(now_ms)
        .fetch_one(pool)
        .await?);
        if !any {
            return Ok(Vec::new());
        }
        let (late, superseded) = write_tx!(self, |conn| {
            let late = sqlx::query(
                "UPDATE entries SET state = 'expired', state_cause = NULL, \
                 last_error = 'too late: past its not_after time, so it was not published', \
                 updated_ms = $1 \
                 WHERE state IN ('scheduled', 'retrying') AND not_after_ms < $1 RETURNING *",
            )
            .bind(now_ms)
            .fetch_all(&mut *conn)
            .await?;
            let superseded = sqlx::query(concat!(
                "UPDATE entries SET state = 'expired', state_cause = NULL, \
                 last_error = 'superseded by a later occurrence of the same recurring post', \
                 updated_ms = $1 WHERE state IN ('scheduled', 'retrying') AND id IN \
                 (SELECT e.id FROM entries e WHERE e.state IN ('scheduled', 'retrying') \
                 AND e.due_ms <= $1 AND ",
                superseded!(),
                ") RETURNING *"
            ))
            .bind(now_ms)
            .fetch_all(&mut *conn)
            .await?;
            Ok((row::split_corrupt(&late), row::split_corrupt(&superseded)))
        })?;
        let mut all = log_corrupt(late);
        all.extend(log_corrupt(superseded));
        Ok(all)
    }

    /// When the scheduler should look again: the earliest `run_at` of an
    /// entry waiting to be claimed (not paused, not too late, not superseded;
    /// in the past when one is due now) or the earliest lease expiry of an
    /// in-flight one.
    pub async fn next_wakeup(&self, now: Timestamp) -> Result<Option<Timestamp>, StoreError> {
        let now_ms = now.as_millisecond();
        let (run, lease): (Option<i64>, Option<i64>) = on_db!(self, |pool| {
            let run: Option<i64> = sqlx::query_scalar(concat!(
                "SELECT e.run_at_ms FROM entries e WHERE ",
                waiting!(),
                " ORDER BY e.run_at_ms, e.id LIMIT 1"
            ))
            .bind(now_ms)
            .fetch_optional(pool)
            .await?;
            let lease: Option<i64> = sqlx::query_scalar(
                "SELECT MIN(lease_until_ms) FROM entries WHERE state IN ('claimed', 'publishing')",
            )
            .fetch_one(pool)
            .await?;
            (run, lease)
        });
        earliest(run, lease)
    }
}

/// The earlier of a `run_at` and a lease expiry (Unix milliseconds).
fn earliest(run: Option<i64>, lease: Option<i64>) -> Result<Option<Timestamp>, StoreError> {
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

/// A JSON array of strings, for `json_each` / `json_array_elements_text`.
fn json_list<'a>(items: impl Iterator<Item = &'a str>) -> String {
    serde_json::to_string(&items.collect::<Vec<_>>()).unwrap_or_else(|_| "[]".into())
}

/// Logs the corrupt rows of a batch and keeps the good entries.
fn log_corrupt((good, bad): (Vec<Entry>, Vec<StoreError>)) -> Vec<Entry> {
    for e in bad {
        tracing::error!(error = %e, "skipping an unreadable queue entry");
    }
    good
}

/// [`Store::finish`]: what the entry's write sets (`$3` state, `$4` cause,
/// `$5` error, `$6` remote id, `$7` URL, `$8` published at, `$9` next run,
/// `$10` now), before its `WHERE` (`$1` id, `$2` owner).
macro_rules! finish_set {
    () => {
        "UPDATE entries SET state = $3, state_cause = $4, last_error = $5, \
         remote_id = COALESCE($6, remote_id), url = COALESCE($7, url), \
         published_at_ms = COALESCE($8, published_at_ms), run_at_ms = COALESCE($9, run_at_ms), \
         lease_owner = NULL, lease_until_ms = NULL, updated_ms = $10 WHERE "
    };
}

/// [`Store::finish`]: the owner's write, guarded by its lease.
macro_rules! finish_guarded {
    () => {
        concat!(
            finish_set!(),
            "id = $1 AND state IN ('claimed', 'publishing') AND lease_owner = $2"
        )
    };
}

/// [`Store::finish`]: a publication is a fact, recorded even after a lost
/// lease as long as an attempt was ever started (`$2 = $2` only keeps the
/// parameter list the same).
macro_rules! finish_fact {
    () => {
        concat!(
            finish_set!(),
            "id = $1 AND state <> 'published' AND attempts > 0 AND $2 = $2"
        )
    };
}

/// [`Store::finish`]: the outcome of the entry's open attempt, after the
/// entry's write (`$1` id; outcome, detail and now as given). On SQLite it
/// runs in the same request as that write (numbered parameters are shared
/// by its statements), and only when that write changed the entry:
/// `changes()` is the row count of the statement before it.
macro_rules! finish_attempt {
    ($outcome:literal, $detail:literal, $now:literal, $guard:literal) => {
        concat!(
            "UPDATE attempts SET finished_ms = ",
            $now,
            ", outcome = ",
            $outcome,
            ", detail = ",
            $detail,
            " WHERE ",
            $guard,
            "entry_id = $1 AND finished_ms IS NULL \
             AND number = (SELECT MAX(a.number) FROM attempts a WHERE a.entry_id = $1)"
        )
    };
}

const FINISH_GUARDED: &str = finish_guarded!();
const FINISH_FACT: &str = finish_fact!();
const FINISH_ATTEMPT: &str = finish_attempt!("$2", "$3", "$4", "");
const FINISH_GUARDED_SQLITE: &str = concat!(
    finish_guarded!(),
    "; ",
    finish_attempt!("$11", "$12", "$10", "changes() = 1 AND ")
);
const FINISH_FACT_SQLITE: &str = concat!(
    finish_fact!(),
    "; ",
    finish_attempt!("$11", "$12", "$10", "changes() = 1 AND ")
);

/// The [`Checkpoint`](crate::platforms::Checkpoint) of one entry being
/// published by `owner`: what the platform confirms is written at once.
pub struct EntryCheckpoint {
    store: Store,
    id: String,
    owner: String,
}

impl EntryCheckpoint {
    pub fn new(store: Store, id: impl Into<String>, owner: impl Into<String>) -> EntryCheckpoint {
        EntryCheckpoint {
            store,
            id: id.into(),
            owner: owner.into(),
        }
    }
}

#[async_trait::async_trait]
impl crate::platforms::Checkpoint for EntryCheckpoint {
    async fn save(&self, progress: &Progress) -> Result<(), crate::platforms::CheckpointError> {
        self.store
            .checkpoint(&self.id, &self.owner, progress)
            .await
            .map_err(|e| crate::platforms::CheckpointError(e.to_string()))
    }
}
