//! PostgreSQL: outcomes recorded in batches (group commit), as the SQLite
//! writer does for every write (`writer.rs`).
//!
//! Each [`Store::finish`](super::Store::finish) on PostgreSQL was a
//! transaction of its own: `BEGIN`, the entry's guarded `UPDATE`, the
//! attempt's `UPDATE`, `COMMIT`, four round trips and one WAL flush per
//! publication. Here one task per store takes every outcome waiting (those
//! that arrived while the previous batch committed; no timer, so a lone
//! outcome is written at once) and records them with ONE statement: a
//! multi-row `UPDATE` of the entries, guarded per row by state and lease
//! owner exactly as before, and in the same statement (a data-modifying
//! CTE) the `UPDATE` of the attempts of the rows it changed. One round trip
//! and one commit (with `synchronous_commit` as the server has it: on by
//! default, so a recorded publication survives a crash of the server) for
//! the whole batch.
//!
//! What each caller gets back is what its own statement would have said:
//! whether its row was changed. A publication whose guarded write found the
//! entry in other hands is then recorded as a fact (its own statement, as
//! before: rare); every other decision about a lost lease stays with
//! [`Store::finish`](super::Store::finish). An entry never appears twice in
//! one batch (a second outcome for it waits for the next), so each row's
//! write is the one its caller asked for.

use std::collections::HashSet;

use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot};

use super::types::StoreError;

/// The most outcomes one statement records.
const MAX_BATCH: usize = 512;

/// One outcome to record (the parameters of `finish_set!`, and the
/// attempt's outcome and detail).
#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    pub id: String,
    pub owner: String,
    pub state: &'static str,
    pub cause: Option<&'static str>,
    pub reason: Option<String>,
    pub remote_id: Option<String>,
    pub url: Option<String>,
    pub published_at: Option<i64>,
    pub run_at: Option<i64>,
    pub now: i64,
    pub outcome: &'static str,
    pub detail: Option<String>,
    /// A publication: recorded as a fact when the guarded write misses.
    pub published: bool,
}

/// What a recorded outcome says: the row was changed by the owner's guarded
/// write, by the fact write of a publication (the lease was lost), or not
/// at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Recorded {
    Guarded,
    AsFact,
    No,
}

type Request = (Outcome, oneshot::Sender<Result<Recorded, StoreError>>);

/// The handle of a store's outcome batcher; the task ends when the last
/// handle is dropped.
pub(crate) struct Batcher {
    tx: mpsc::UnboundedSender<Request>,
}

impl Batcher {
    pub(crate) fn start(pool: PgPool) -> Batcher {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(pool, rx));
        Batcher { tx }
    }

    /// Records `outcome` in the next batch; returns once committed.
    pub(crate) async fn finish(&self, outcome: Outcome) -> Result<Recorded, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send((outcome, reply))
            .map_err(|_| StoreError::Writer("the store is closed".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Writer("the store is closed".into()))?
    }
}

async fn run(pool: PgPool, mut rx: mpsc::UnboundedReceiver<Request>) {
    // An outcome for an entry already in the batch waits for the next.
    let mut held: Option<Request> = None;
    loop {
        let first = match held.take() {
            Some(r) => r,
            None => match rx.recv().await {
                Some(r) => r,
                None => return,
            },
        };
        let mut batch = vec![first];
        let mut ids: HashSet<String> = HashSet::from([batch[0].0.id.clone()]);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(r) if ids.contains(&r.0.id) => {
                    held = Some(r);
                    break;
                }
                Ok(r) => {
                    ids.insert(r.0.id.clone());
                    batch.push(r);
                }
                Err(_) => break,
            }
        }
        let outcomes: Vec<&Outcome> = batch.iter().map(|(o, _)| o).collect();
        match record(&pool, &outcomes).await {
            Ok(done) => {
                for (outcome, reply) in batch {
                    let answer = if done.contains(&outcome.id) {
                        Ok(Recorded::Guarded)
                    } else if outcome.published {
                        as_fact(&pool, &outcome).await
                    } else {
                        Ok(Recorded::No)
                    };
                    let _ = reply.send(answer);
                }
            }
            Err(e) => {
                let why = e.to_string();
                for (_, reply) in batch {
                    let _ = reply.send(Err(StoreError::Writer(why.clone())));
                }
            }
        }
    }
}

/// The batch's statement: the entries' guarded writes and their attempts'
/// outcomes. Returns the ids whose entry it changed.
const RECORD: &str = "WITH v AS (SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], \
     $4::text[], $5::text[], $6::text[], $7::text[], $8::int8[], $9::int8[], $10::int8[], \
     $11::text[], $12::text[]) AS v(id, owner, state, cause, reason, remote_id, url, \
     published_at, run_at, now, outcome, detail)), \
     done AS (UPDATE entries e SET state = v.state, state_cause = v.cause, \
     last_error = v.reason, remote_id = COALESCE(v.remote_id, e.remote_id), \
     url = COALESCE(v.url, e.url), published_at_ms = COALESCE(v.published_at, e.published_at_ms), \
     run_at_ms = COALESCE(v.run_at, e.run_at_ms), lease_owner = NULL, lease_until_ms = NULL, \
     updated_ms = v.now FROM v WHERE e.id = v.id AND e.state IN ('claimed', 'publishing') \
     AND e.lease_owner = v.owner RETURNING e.id), \
     att AS (UPDATE attempts a SET finished_ms = v.now, outcome = v.outcome, detail = v.detail \
     FROM v WHERE a.entry_id = v.id AND v.id IN (SELECT id FROM done) \
     AND a.finished_ms IS NULL \
     AND a.number = (SELECT MAX(b.number) FROM attempts b WHERE b.entry_id = v.id)) \
     SELECT id FROM done";

async fn record(pool: &PgPool, batch: &[&Outcome]) -> Result<HashSet<String>, sqlx::Error> {
    let col = |f: fn(&Outcome) -> Option<String>| batch.iter().map(|o| f(o)).collect::<Vec<_>>();
    let num = |f: fn(&Outcome) -> Option<i64>| batch.iter().map(|o| f(o)).collect::<Vec<_>>();
    let ids: Vec<String> = sqlx::query_scalar(RECORD)
        .bind(col(|o| Some(o.id.clone())))
        .bind(col(|o| Some(o.owner.clone())))
        .bind(col(|o| Some(o.state.to_string())))
        .bind(col(|o| o.cause.map(str::to_string)))
        .bind(col(|o| o.reason.clone()))
        .bind(col(|o| o.remote_id.clone()))
        .bind(col(|o| o.url.clone()))
        .bind(num(|o| o.published_at))
        .bind(num(|o| o.run_at))
        .bind(num(|o| Some(o.now)))
        .bind(col(|o| Some(o.outcome.to_string())))
        .bind(col(|o| o.detail.clone()))
        .fetch_all(pool)
        .await?;
    Ok(ids.into_iter().collect())
}

/// A publication is a fact: recorded even after a lost lease, as long as an
/// attempt was ever started and it is not recorded already (with its
/// attempt's outcome, in the same statement).
const AS_FACT: &str = concat!(
    "WITH done AS (",
    "UPDATE entries SET state = $3, state_cause = $4, last_error = $5, \
     remote_id = COALESCE($6, remote_id), url = COALESCE($7, url), \
     published_at_ms = COALESCE($8, published_at_ms), run_at_ms = COALESCE($9, run_at_ms), \
     lease_owner = NULL, lease_until_ms = NULL, updated_ms = $10 \
     WHERE id = $1 AND state <> 'published' AND attempts > 0 AND $2 = $2 RETURNING id), ",
    "att AS (UPDATE attempts SET finished_ms = $10, outcome = $11, detail = $12 \
     WHERE entry_id IN (SELECT id FROM done) AND finished_ms IS NULL \
     AND number = (SELECT MAX(a.number) FROM attempts a WHERE a.entry_id = $1)) ",
    "SELECT COUNT(*) FROM done"
);

async fn as_fact(pool: &PgPool, o: &Outcome) -> Result<Recorded, StoreError> {
    let n: i64 = sqlx::query_scalar(AS_FACT)
        .bind(&o.id)
        .bind(&o.owner)
        .bind(o.state)
        .bind(o.cause)
        .bind(&o.reason)
        .bind(&o.remote_id)
        .bind(&o.url)
        .bind(o.published_at)
        .bind(o.run_at)
        .bind(o.now)
        .bind(o.outcome)
        .bind(&o.detail)
        .fetch_one(pool)
        .await?;
    Ok(if n > 0 {
        Recorded::AsFact
    } else {
        Recorded::No
    })
}
