//! Group commit for SQLite: the daemon's queue writes share commits.
//!
//! SQLite has one writer at a time, and with `synchronous = FULL` every
//! commit waits for the disk (an `fsync` of the WAL, 1–4 ms on these
//! machines). A publication takes several guarded writes (claim, attempt,
//! outcome), so one commit each would cap the daemon at a few hundred
//! publications per second, and connections of one pool competing for the
//! write lock would sleep in SQLite's busy handler (1, 2, 5, 10 ms...).
//!
//! So every queue write of this process goes to one writer, a task on a
//! thread of its own (see [`own_thread`]), that owns one connection. It
//! takes every write waiting (up to [`MAX_BATCH`]), runs them in one
//! `BEGIN IMMEDIATE` transaction, commits once, and only then answers
//! each caller: a write is durable before its caller hears it succeeded,
//! exactly as with a transaction of its own. A write that fails rolls the
//! batch back: it is answered with its error, the writes that ran before it
//! with "rolled back, try again" (each caller already handles a failed write),
//! and those not run yet go in the next batch. If the commit fails, every
//! write of the batch is answered with that error (none of them happened).
//!
//! Batches form by themselves: while one commit waits for the disk, the next
//! writes queue up. A lone write is committed at once (no added delay).
//!
//! PostgreSQL needs none of this: concurrent commits share WAL flushes in
//! the server, and `FOR UPDATE SKIP LOCKED` lets writers proceed in parallel.

use std::any::Any;
use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use sqlx::{Connection, SqliteConnection, SqlitePool};
use tokio::sync::{mpsc, oneshot};

use super::types::StoreError;

/// The most writes committed together.
pub const MAX_BATCH: usize = 512;

type Value = Box<dyn Any + Send>;

/// One write: `run` executes on the writer's connection, in the batch's
/// transaction; `reply` is told its final result once the batch's fate is
/// known.
struct Job {
    run: Run,
    reply: Reply,
    /// Run alone, outside any transaction (a read of the connection's own
    /// state: [`Writer::data_version`]).
    bare: bool,
}

/// A write's statements, run on the writer's connection.
type Run = Box<
    dyn for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, Result<Value, StoreError>> + Send,
>;

/// Tells a write's caller its result.
type Reply = Box<dyn FnOnce(Result<Value, StoreError>) + Send>;

/// The handle to the writer task; cheap to clone.
#[derive(Clone)]
pub(crate) struct Writer {
    jobs: mpsc::UnboundedSender<Job>,
    pool: SqlitePool,
}

impl Writer {
    /// Starts the writer on `pool` (its own one-connection pool for a file
    /// database, which need not test its connection before each batch: a
    /// connection that cannot begin a transaction is closed and replaced;
    /// the only pool for `:memory:`). It stops when every handle is dropped.
    pub fn start(pool: SqlitePool) -> Writer {
        let (jobs, rx) = mpsc::unbounded_channel();
        if let Err(e) = own_thread(pool.clone(), rx) {
            tracing::warn!(error = %e, "the database writer runs on the shared runtime: no thread of its own");
            let (jobs, rx) = mpsc::unbounded_channel();
            tokio::spawn(run(pool.clone(), rx));
            return Writer { jobs, pool };
        }
        Writer { jobs, pool }
    }

    /// Closes the writer's connection (waits for the batch in progress).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Runs `write` in the next batch and returns its result once the batch
    /// is committed. `write` must use only the connection it is given.
    pub async fn write<T, F>(&self, write: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, Result<T, StoreError>>
            + Send
            + 'static,
    {
        self.submit(write, false).await
    }

    /// `PRAGMA data_version` of the writer's own connection. SQLite changes
    /// it when another connection commits, never for this connection's own
    /// commits: so it tells the commits of other processes (and of this
    /// process's other connections) from the writes of this one, which the
    /// change watcher must not take for news (an idle daemon's heartbeat
    /// would wake it for a whole turn). Read between batches, outside any
    /// transaction.
    pub async fn data_version(&self) -> Result<i64, StoreError> {
        self.submit(
            |conn| {
                Box::pin(async move {
                    Ok(sqlx::query_scalar::<_, i64>("PRAGMA data_version")
                        .fetch_one(&mut *conn)
                        .await?)
                })
            },
            true,
        )
        .await
    }

    async fn submit<T, F>(&self, write: F, bare: bool) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, Result<T, StoreError>>
            + Send
            + 'static,
    {
        let (tx, rx) = oneshot::channel::<Result<T, StoreError>>();
        let job = Job {
            run: Box::new(move |conn| {
                Box::pin(async move {
                    match AssertUnwindSafe(write(conn)).catch_unwind().await {
                        Ok(r) => r.map(|v| Box::new(v) as Value),
                        Err(_) => Err(StoreError::Writer(
                            "a database write panicked; it was rolled back".into(),
                        )),
                    }
                })
            }),
            reply: Box::new(move |result| {
                let _ = tx.send(result.map(|v| {
                    *v.downcast::<T>()
                        .unwrap_or_else(|_| unreachable!("a write's value has the write's type"))
                }));
            }),
            bare,
        };
        self.jobs
            .send(job)
            .map_err(|_| StoreError::Writer("the database writer has stopped".into()))?;
        rx.await
            .map_err(|_| StoreError::Writer("the database writer stopped during a write".into()))?
    }
}

/// Runs the writer on a thread of its own, with a one-thread runtime. Each
/// statement of a batch is a round trip to the connection's own thread
/// (sqlx runs SQLite there); on the shared runtime every return would also
/// wait for a worker thread busy with HTTP, and the batch (and every write
/// waiting for it) with it. On its own thread it picks up each answer at
/// once. Measured with the daemon bench (10,000 posts due at once), in
/// alternating runs on a noisy 2-core machine: a median of 2,056
/// publications/s on its own thread against 1,836 on the shared runtime.
///
/// The runtime is built on that thread: one built here and dropped here
/// (when the thread cannot start) would panic, this being an async context.
/// If it cannot be built there, the writer runs on the shared runtime.
fn own_thread(pool: SqlitePool, rx: mpsc::UnboundedReceiver<Job>) -> std::io::Result<()> {
    let shared = tokio::runtime::Handle::current();
    std::thread::Builder::new()
        .name("berrah-db-writer".into())
        .spawn(move || {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime.block_on(run(pool, rx)),
                Err(e) => {
                    tracing::warn!(error = %e, "the database writer runs on the shared runtime: no runtime of its own");
                    shared.spawn(run(pool, rx));
                }
            }
        })?;
    Ok(())
}

async fn run(pool: SqlitePool, mut rx: mpsc::UnboundedReceiver<Job>) {
    let mut batch: VecDeque<Job> = VecDeque::new();
    let mut ran: Ran = Vec::new();
    loop {
        if batch.is_empty() {
            match rx.recv().await {
                Some(job) => batch.push_back(job),
                None => break,
            }
        }
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push_back(job),
                Err(_) => break,
            }
        }
        // Reads of the connection's state run first, each alone.
        if batch.iter().any(|j| j.bare) {
            let (bare, rest): (VecDeque<Job>, VecDeque<Job>) =
                batch.drain(..).partition(|j| j.bare);
            batch = rest;
            for job in bare {
                let result = match pool.acquire().await {
                    Ok(mut conn) => (job.run)(&mut conn).await,
                    Err(e) => Err(e.into()),
                };
                (job.reply)(result);
            }
            if batch.is_empty() {
                continue;
            }
        }
        let fate = commit_batch(&pool, &mut batch, &mut ran).await;
        let rolled_back = match &fate {
            Fate::Committed => None,
            Fate::RolledBack(why) | Fate::NotStarted(why) => Some(why.clone()),
        };
        for (result, reply) in ran.drain(..) {
            reply(match (result, &rolled_back) {
                (Err(e), _) => Err(e),
                (Ok(v), None) => Ok(v),
                (Ok(_), Some(why)) => Err(StoreError::Writer(why.clone())),
            });
        }
        // After a write failed, the writes not run yet go in the next batch;
        // when no transaction could start, they fail with it.
        if let Fate::NotStarted(why) = fate {
            for job in batch.drain(..) {
                (job.reply)(Err(StoreError::Writer(why.clone())));
            }
        }
    }
}

type Ran = Vec<(
    Result<Value, StoreError>,
    Box<dyn FnOnce(Result<Value, StoreError>) + Send>,
)>;

/// How a batch ended.
enum Fate {
    /// Every write that ran is durable.
    Committed,
    /// A write failed (the last one in `ran`, with its own error) or the
    /// commit did: nothing of the batch was written.
    RolledBack(String),
    /// No transaction could start: nothing ran.
    NotStarted(String),
}

/// Runs the jobs of `batch` in order in one transaction (taking each from
/// `batch` as it runs) and pushes each one's result and reply to `ran`. A
/// write that fails rolls the whole batch back and ends it there: savepoints
/// around each write would keep the others, but they cost two more round
/// trips to SQLite's thread per write, on every write, for a failure that
/// only a broken database or an unreadable row causes. The callers of the
/// writes rolled back with it are told so and try again as after any
/// failed write.
async fn commit_batch(pool: &SqlitePool, batch: &mut VecDeque<Job>, ran: &mut Ran) -> Fate {
    let mut conn = match pool.acquire().await {
        Ok(c) => c,
        Err(e) => return not_started(e),
    };
    let fate = run_batch(&mut conn, batch, ran).await;
    if matches!(fate, Fate::NotStarted(_)) {
        // The pool does not test its connection before handing it out (see
        // `Writer::start`): a fresh one for the next batch.
        conn.close_on_drop();
    }
    fate
}

fn not_started(e: sqlx::Error) -> Fate {
    Fate::NotStarted(format!("the database could not start a write: {e}"))
}

async fn run_batch(conn: &mut SqliteConnection, batch: &mut VecDeque<Job>, ran: &mut Ran) -> Fate {
    let mut tx = match conn.begin_with("BEGIN IMMEDIATE").await {
        Ok(tx) => tx,
        Err(e) => return not_started(e),
    };
    while let Some(job) = batch.pop_front() {
        let result = (job.run)(&mut tx).await;
        let failed = result.is_err();
        ran.push((result, job.reply));
        if failed {
            let _ = tx.rollback().await;
            return Fate::RolledBack(
                "not written: another write of the same batch failed, and the batch was rolled back; try again"
                    .into(),
            );
        }
    }
    match tx.commit().await {
        Ok(()) => Fate::Committed,
        Err(e) => Fate::RolledBack(format!("the batch of writes was not committed: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};

    use super::*;

    async fn table(dir: &std::path::Path) -> SqlitePool {
        let url = format!("sqlite://{}", dir.join("w.db").display());
        let options = SqliteConnectOptions::from_str(&url)
            .expect("a SQLite URL")
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .expect("open the database");
        sqlx::query("CREATE TABLE t (n INTEGER PRIMARY KEY)")
            .execute(&pool)
            .await
            .expect("create the table");
        pool
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_caller_is_told_exactly_what_was_written() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let pool = table(dir.path()).await;
        let writer = Writer::start(pool.clone());
        // All sent at the first poll, in this order (tasks of their own
        // would reach the writer in any order, and 299 could then share a
        // batch with a failing write queued after it).
        let writes = (0..300i64).map(|n| {
            writer.write(move |conn| {
                Box::pin(async move {
                    sqlx::query("INSERT INTO t (n) VALUES ($1)")
                        .bind(n)
                        .execute(&mut *conn)
                        .await?;
                    if n % 50 == 0 {
                        // Its first insert ran; this one fails.
                        sqlx::query("INSERT INTO t (n) VALUES ($1)")
                            .bind(n)
                            .execute(&mut *conn)
                            .await?;
                    }
                    Ok(n)
                })
            })
        });
        let results = futures_util::future::join_all(writes).await;
        let mut told_written = Vec::new();
        for (n, result) in results.into_iter().enumerate() {
            match result {
                Ok(v) => {
                    assert_eq!(v, n as i64);
                    assert_ne!(n % 50, 0, "a failing write was reported written");
                    told_written.push(v);
                }
                Err(StoreError::Sql(_)) => assert_eq!(n % 50, 0, "{n}"),
                // Rolled back with a failing write of its batch.
                Err(StoreError::Writer(_)) => assert_ne!(n % 50, 0),
                Err(e) => panic!("{n}: {e}"),
            }
        }
        let rows: Vec<i64> = sqlx::query_scalar("SELECT n FROM t ORDER BY n")
            .fetch_all(&pool)
            .await
            .expect("read back");
        assert_eq!(rows, told_written);
        // Writes queued behind a failing one go in the next batch.
        assert!(rows.contains(&299), "{rows:?}");
    }

    #[tokio::test]
    async fn a_panicking_write_is_an_error_and_the_writer_goes_on() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let pool = table(dir.path()).await;
        let writer = Writer::start(pool.clone());
        let panicked = writer
            .write(|_conn| -> BoxFuture<'_, Result<(), StoreError>> {
                Box::pin(async { panic!("a bug in a write") })
            })
            .await;
        assert!(
            matches!(panicked, Err(StoreError::Writer(_))),
            "{panicked:?}"
        );
        let n = writer
            .write(|conn| {
                Box::pin(async move {
                    sqlx::query("INSERT INTO t (n) VALUES (7)")
                        .execute(&mut *conn)
                        .await?;
                    Ok(7)
                })
            })
            .await
            .expect("the writer still writes");
        assert_eq!(n, 7);
    }
}
