//! The durable queue (sqlx): SQLite embedded by default, PostgreSQL when
//! several instances share the work.
//!
//! Each queue entry is one occurrence of the plan (its stable id), i.e. one
//! (post, account, language, slot). Its life, as a state machine in the
//! database (after River and Oban):
//!
//! ```text
//!                             take (lease + attempt, one write)
//!             sync adds    ┌───────────────────────────────────────────┐
//!   (file) ─────────────▶ scheduled ──────▶ claimed ──────────────▶ publishing
//!                          ▲  │ ▲  claim      │     begin_attempt      │
//!        retry (operator)  │  │ └─ lease expires (never called: safe)  │ finish
//!                          │  │                                        ▼
//!   held ◀── unknown outcome on a non-idempotent platform,  published | retrying
//!   credentials; failed, cancelled, expired (past not_after) | failed | held
//! ```
//!
//! The daemon takes what it can start straight to `publishing`
//! ([`Store::claim_turn`] with [`Take::Begin`]): the take is the re-read just
//! before the call. It claims first (`claimed`, then [`Store::begin_attempt`])
//! only for an account with a posting budget, whose worker counts in between.
//!
//! - `claimed` means a worker holds the lease and has NOT called the platform
//!   yet: if its lease expires, the entry goes back to `scheduled`.
//! - `publishing` means the attempt is recorded and the request may have
//!   reached the platform: if the lease expires, the entry is retried only on a
//!   platform with [`Idempotency::Keyed`](crate::platforms::Idempotency),
//!   resolved by asking a `Queryable` one, and otherwise `held` for an operator.
//! - `retrying` is `scheduled` with a later `run_at` after a transient fault.
//! - Terminal: `published`, `failed`, `cancelled`, `expired`. `held` waits for
//!   an operator (`berrah retry`, `berrah cancel`, `berrah accounts login`).
//!
//! Every transition is one statement or one transaction guarded by the
//! expected state and lease owner, so two instances can never both move the
//! same entry.
//!
//! How the scheduler drives it, per turn: [`Store::expired_leases`] (and
//! [`Store::take_over`] for unknown outcomes), [`Store::expire_late`],
//! [`Store::claim_turn`] (which also says when to look again); per entry:
//! the platform with an [`EntryCheckpoint`], then [`Store::finish`];
//! [`Store::heartbeat`] while work is in progress; sleep until then or a
//! [`Store::wakeups`] signal. [`Store::claim_due`], [`Store::begin_attempt`]
//! and [`Store::next_wakeup`] are the same steps one at a time.
//!
//! On SQLite, every queue write of the process goes through one connection
//! that commits waiting writes together (`writer.rs`: group commit), so that
//! a burst shares its disk flushes; on PostgreSQL the other writes commit
//! concurrently, and the outcomes of publications are recorded in batches,
//! one statement and one commit each (`queue_batch.rs`).
//!
//! Holds and cancels remember their cause (column `state_cause`), which
//! decides what may undo them: an entry cancelled by sync (its post left the
//! file) comes back if the post returns, an operator's cancel never does;
//! `paused = true` in a file holds its entries until the flag goes;
//! [`Store::release_account`] releases only what [`Store::hold_account`] or
//! [`Finish::NeedsOperator`] held, never a [`Finish::Held`] entry (an
//! unknown outcome that may be on the platform already: only an operator's
//! `berrah retry` sends it again).
//!
//! Both backends run the same SQL text wherever the dialects agree (numbered
//! `$n` parameters work in both); they differ only in how work is claimed
//! (`FOR UPDATE SKIP LOCKED` on PostgreSQL, SQLite's single writer), how a
//! writing transaction starts (`BEGIN IMMEDIATE` on SQLite, so concurrent
//! processes queue on the busy timeout instead of failing) and how wake-ups
//! travel (LISTEN/NOTIFY vs. an in-process broadcast).
//!
//! Beside the queue: the daemons registered on the database and the last
//! valid `berrah.toml` ([`instances`]), and the lock that keeps one daemon
//! per SQLite file ([`lock`]).
//!
//! Corrupt rows: single-entry reads ([`Store::get`]) return
//! [`StoreError::Corrupt`]; [`Store::list`] fails on the first corrupt row
//! while [`Store::list_checked`] returns the good entries and the errors of the
//! bad ones; queue operations (claim, lease expiry, expiry) log corrupt rows,
//! skip them and, when they had just been claimed, hold them for an operator
//! so that they never block the rows behind them.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgListener, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};
use tokio::sync::broadcast;
use tokio_util::sync::{CancellationToken, DropGuard};

pub use self::gauges::TokenExpiry;
pub use self::instances::{ConfigSnapshot, Instance, InstanceInfo, Liveness};
pub use self::ops::{ListFilter, NewAction, OperatorAction, QueueNames, Snapshot, SnapshotWrite};
pub use self::queue::{Candidate, ClaimSkip, Decide, EntryCheckpoint, Finish, Take};
pub use self::types::*;

pub mod alerts;
pub mod instances;
pub mod lock;

mod gauges;
mod ops;
pub mod private;
mod queue;
mod queue_batch;
mod row;
mod sync;
#[doc(hidden)]
pub mod testing;
mod types;
mod writer;

/// The PostgreSQL channel on which instances wake each other.
pub const WAKEUP_CHANNEL: &str = "berrah_wakeup";

/// How long a SQLite writer waits for another process's write lock.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// How many wake-ups may queue for a slow receiver before it sees `Lagged`
/// (which it should treat as one more wake-up).
const WAKEUP_CAPACITY: usize = 16;

/// Pool settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// Connections for queue work (PostgreSQL keeps one more for LISTEN;
    /// SQLite never uses more than 4, and 1 for `:memory:`).
    pub max_connections: u32,
}

impl Default for StoreOptions {
    fn default() -> StoreOptions {
        StoreOptions { max_connections: 8 }
    }
}

/// The connection pool of the backend in use, for modules with tables of
/// their own (auth's tokens).
#[derive(Debug, Clone)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// The durable queue. Cheap to clone: clones share the pool.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    /// The URL, without its secrets ([`redact_url`]).
    location: String,
    /// SQLite: the process's one queue writer (group commit, see [`writer`]).
    writer: Option<writer::Writer>,
    /// PostgreSQL: the outcomes recorded in batches (see [`queue_batch`]).
    batcher: Option<queue_batch::Batcher>,
    wake: broadcast::Sender<()>,
    /// Stops the wake-up task (PostgreSQL listener, SQLite change watcher)
    /// when the last clone is dropped.
    _listener: Option<DropGuard>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend_name())
            .finish()
    }
}

/// Runs `$body` with `$pool` bound to the pool of whichever backend is in
/// use: the same code, type-checked once per backend.
macro_rules! on_db {
    ($store:expr, |$pool:ident| $body:expr) => {
        match $store.db() {
            $crate::store::Db::Sqlite($pool) => $body,
            $crate::store::Db::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_db;

/// Runs `$body` as one durable write, with `$conn` the connection to write
/// on: on SQLite in the next batch of the group-commit [`writer`], on
/// PostgreSQL in a transaction of its own. The result is returned once
/// committed. `$body` is moved into a `'static` future: it may capture only
/// owned values, and must write through `$conn` only.
macro_rules! write_tx {
    ($store:expr, |$conn:ident| $body:expr) => {
        match $store.db() {
            $crate::store::Db::Sqlite(_) => {
                $store
                    .sqlite_writer()
                    .write(move |$conn| Box::pin(async move { $body }))
                    .await
            }
            $crate::store::Db::Postgres(pool) => {
                $crate::store::pg_write(pool, move |$conn| Box::pin(async move { $body })).await
            }
        }
    };
}
pub(crate) use write_tx;

/// [`write_tx!`] on PostgreSQL: `write` in a transaction of its own.
pub(crate) async fn pg_write<T, F>(pool: &PgPool, write: F) -> Result<T, StoreError>
where
    F: for<'c> FnOnce(
        &'c mut sqlx::PgConnection,
    ) -> futures_util::future::BoxFuture<'c, Result<T, StoreError>>,
{
    let mut tx = pool.begin().await?;
    let value = write(&mut tx).await?;
    tx.commit().await?;
    Ok(value)
}

/// Starts a transaction that will write. On SQLite it takes the write lock
/// at once (`BEGIN IMMEDIATE`): a deferred transaction that read first could
/// fail with SQLITE_BUSY instead of waiting when it tries to write.
pub(crate) trait WritePool {
    type Db: sqlx::Database;
    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<sqlx::Transaction<'static, Self::Db>, sqlx::Error>> + Send;
}

impl WritePool for SqlitePool {
    type Db = sqlx::Sqlite;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        self.begin_with("BEGIN IMMEDIATE").await
    }
}

impl WritePool for PgPool {
    type Db = sqlx::Postgres;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        self.begin().await
    }
}

impl Store {
    /// Opens (creating if needed) the database at `url` and applies the
    /// migrations. `sqlite://PATH` (or `sqlite:PATH`, `sqlite::memory:`) or
    /// `postgres://...` / `postgresql://...`. Connecting again to a migrated
    /// database is harmless.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        Store::connect_with(url, &StoreOptions::default()).await
    }

    /// [`Store::connect`] with explicit pool settings.
    pub async fn connect_with(url: &str, options: &StoreOptions) -> Result<Store, StoreError> {
        let connect_err = |source| StoreError::Connect {
            url: redact_url(url),
            source,
        };
        if url.starts_with("sqlite:") {
            let (pool, file) = open_sqlite(url, options).await.map_err(connect_err)?;
            migrate_sqlite(&pool).await?;
            // The queue's writer: one connection of its own for a file (the
            // pool's other connections read); the only one for `:memory:`.
            let writer_pool = match &file {
                Some(connect) => until_unlocked(|| {
                    SqlitePoolOptions::new()
                        .max_connections(1)
                        .acquire_timeout(SQLITE_BUSY_TIMEOUT)
                        // A ping before every batch was a tenth of the
                        // writer's time in a burst (see writer.rs).
                        .test_before_acquire(false)
                        // No reaper timer (see `open_sqlite`).
                        .idle_timeout(None)
                        .max_lifetime(None)
                        .connect_with(connect.clone())
                })
                .await
                .map_err(connect_err)?,
                None => pool.clone(),
            };
            let writer = writer::Writer::start(writer_pool);
            let (wake, _) = broadcast::channel(WAKEUP_CAPACITY);
            let token = CancellationToken::new();
            if file.is_some() {
                // Best effort: without the watcher, other processes' changes
                // are still found at the scheduler's next wake-up. It reads
                // `data_version` on the writer's connection, where this
                // process's own commits do not change it.
                let first = data_version(&writer).await;
                let changes = sqlite_file(url).and_then(|db| file_changes(&db));
                tokio::spawn(watch_sqlite(
                    writer.clone(),
                    first,
                    changes,
                    wake.clone(),
                    token.clone(),
                ));
            }
            let writer = Some(writer);
            Ok(Store {
                inner: Arc::new(Inner {
                    location: redact_url(url),
                    db: Db::Sqlite(pool),
                    writer,
                    batcher: None,
                    wake,
                    _listener: Some(token.drop_guard()),
                }),
            })
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = PgPoolOptions::new()
                // One more than asked: the wake-up listener keeps one.
                .max_connections(options.max_connections.max(1) + 1)
                .acquire_timeout(Duration::from_secs(30))
                // No reaper: with an idle timeout or a lifetime, sqlx wakes
                // a maintenance task at that period, an idle daemon's only
                // timer but its heartbeat. Connections opened in a burst
                // stay open (at most `max_connections`, each tested before
                // use, so one the server closed is replaced).
                .idle_timeout(None)
                .max_lifetime(None)
                .connect(url)
                .await
                .map_err(connect_err)?;
            // Concurrent instances serialize on the migrator's advisory lock.
            sqlx::sqlx_macros::migrate!("migrations/postgres")
                .run(&pool)
                .await?;
            let (wake, _) = broadcast::channel(WAKEUP_CAPACITY);
            let mut listener = PgListener::connect_with(&pool).await?;
            listener.listen(WAKEUP_CHANNEL).await?;
            let token = CancellationToken::new();
            tokio::spawn(forward_notifications(listener, wake.clone(), token.clone()));
            Ok(Store {
                inner: Arc::new(Inner {
                    location: redact_url(url),
                    batcher: Some(queue_batch::Batcher::start(pool.clone())),
                    db: Db::Postgres(pool),
                    writer: None,
                    wake,
                    _listener: Some(token.drop_guard()),
                }),
            })
        } else {
            Err(StoreError::UnsupportedUrl(redact_url(url)))
        }
    }

    /// The pool, for modules that keep tables of their own in the same database.
    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    /// The SQLite writer (only called on a SQLite store, by [`write_tx!`]).
    pub(crate) fn sqlite_writer(&self) -> &writer::Writer {
        self.inner
            .writer
            .as_ref()
            .expect("a SQLite store always has its writer")
    }

    /// Where the database is, for people: the SQLite file's path, or the
    /// PostgreSQL URL without its password.
    pub fn location(&self) -> String {
        match sqlite_file(&self.inner.location) {
            Some(path) => path.display().to_string(),
            None => self.inner.location.clone(),
        }
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn backend_name(&self) -> &'static str {
        match self.db() {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    /// Signals that the queue changed in a way that may make work due sooner
    /// (sync, retry, resume, cancel, pause, account release). On PostgreSQL
    /// every instance hears it through LISTEN/NOTIFY (channel
    /// [`WAKEUP_CHANNEL`]); on SQLite this process at once, and other
    /// processes on the same file within about a second (they watch
    /// `PRAGMA data_version`).
    ///
    /// A missed wake-up is never a lost post: the scheduler also sleeps only
    /// until [`Store::next_wakeup`]. A receiver that falls behind gets
    /// `RecvError::Lagged`, which means "wake up" too.
    pub fn wakeups(&self) -> broadcast::Receiver<()> {
        self.inner.wake.subscribe()
    }

    /// Closes the pool (waits for connections to be returned).
    pub async fn close(&self) {
        match self.db() {
            Db::Sqlite(p) => {
                p.close().await;
                if let Some(w) = &self.inner.writer {
                    w.close().await;
                }
            }
            Db::Postgres(p) => p.close().await,
        }
    }

    /// Wakes schedulers after a change: in-process at once, and on
    /// PostgreSQL every instance through NOTIFY. Failing to notify is logged,
    /// never an error: the change itself is committed.
    pub(crate) async fn notify(&self) {
        let _ = self.inner.wake.send(());
        if let Db::Postgres(pool) = self.db() {
            let sent = sqlx::query("SELECT pg_notify($1, '')")
                .bind(WAKEUP_CHANNEL)
                .execute(pool)
                .await;
            if let Err(e) = sent {
                tracing::warn!(error = %e, "could not notify other instances; they will poll");
            }
        }
    }
}

/// Applies the SQLite migrations. SQLite has no advisory lock: when two
/// processes open a new file at once, the slower one may try to apply a
/// migration the other just applied and fail; it then reads the applied
/// list again and finds nothing left to do.
async fn migrate_sqlite(pool: &SqlitePool) -> Result<(), StoreError> {
    let migrator = sqlx::sqlx_macros::migrate!("migrations/sqlite");
    let mut tries = 0;
    loop {
        match migrator.run(pool).await {
            Ok(()) => return Ok(()),
            Err(e) if tries < 3 => {
                tries += 1;
                tracing::debug!(error = %e, "SQLite migration raced another process; retrying");
                tokio::time::sleep(Duration::from_millis(50 * tries)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Opens the pool; also returns the connect options of a file database
/// (`None` in memory), for the change watcher.
async fn open_sqlite(
    url: &str,
    options: &StoreOptions,
) -> Result<(SqlitePool, Option<SqliteConnectOptions>), sqlx::Error> {
    let file = sqlite_file(url);
    let in_memory = file.is_none();
    if let Some(file) = &file {
        // The folder 0700 when berrah creates it, the files 0600 before
        // SQLite opens them (its -wal and -shm take the database's mode).
        if let Some(parent) = file.parent() {
            private::create_dir(parent).map_err(sqlx::Error::Io)?;
        }
        private::private_file(file).map_err(sqlx::Error::Io)?;
        tighten_sqlite_companions(file);
    }
    let connect = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(SQLITE_BUSY_TIMEOUT)
        .foreign_keys(true);
    // No idle timeout or lifetime: either starts a reaper task that wakes
    // at that period, a timer in an idle daemon. A file pool keeps the few
    // connections a burst opened (at most 4).
    let mut pool = SqlitePoolOptions::new()
        .acquire_timeout(SQLITE_BUSY_TIMEOUT)
        .idle_timeout(None)
        .max_lifetime(None);
    if in_memory {
        // Every connection to `:memory:` is its own database: keep exactly one.
        pool = pool.max_connections(1).min_connections(1);
    } else {
        pool = pool.max_connections(options.max_connections.clamp(1, 4));
    }
    let pool = until_unlocked(|| pool.clone().connect_with(connect.clone())).await?;
    if let Some(file) = &file {
        tighten_sqlite_companions(file);
    }
    Ok((pool, (!in_memory).then_some(connect)))
}

/// The file of a SQLite URL (`sqlite://PATH`, `sqlite:PATH`); `None` for
/// an in-memory database or another backend's URL.
pub fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    if !url.starts_with("sqlite:") {
        return None;
    }
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or(path);
    let in_memory = path.is_empty() || path.starts_with(":memory:") || url.contains("mode=memory");
    (!in_memory).then(|| std::path::PathBuf::from(path))
}

/// Tightens the `-wal`, `-shm` and `-journal` files beside a database, when
/// they exist and are more open than 0600 (made by an older berrah or by
/// hand). A failure is logged: the database itself is already private.
fn tighten_sqlite_companions(db: &std::path::Path) {
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        let companion = std::path::PathBuf::from(name);
        if let Err(e) = private::tighten(&companion, "file") {
            tracing::warn!(
                path = %companion.display(),
                error = %e,
                "could not make the file private: run `chmod 600` on it"
            );
        }
    }
}

/// Runs `open` again while SQLite answers "database is locked", up to
/// [`SQLITE_BUSY_TIMEOUT`]. Opening a connection sets `journal_mode = WAL`,
/// which on a new file takes an exclusive lock that SQLite's busy timeout
/// does not wait for: processes opening a new file together (or while one
/// of them migrates it) would otherwise fail at once.
/// SQLITE_BUSY, or one of its extended codes (the low byte is the primary).
fn is_busy(e: &dyn sqlx::error::DatabaseError) -> bool {
    e.code()
        .and_then(|c| c.parse::<i32>().ok())
        .is_some_and(|c| c & 0xff == 5)
}

async fn until_unlocked<T, F, Fut>(mut open: F) -> Result<T, sqlx::Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, sqlx::Error>>,
{
    let deadline = tokio::time::Instant::now() + SQLITE_BUSY_TIMEOUT;
    let mut pause = Duration::from_millis(5);
    loop {
        match open().await {
            Err(sqlx::Error::Database(e))
                if is_busy(&*e) && tokio::time::Instant::now() < deadline =>
            {
                tracing::debug!(error = %e, "the SQLite file is locked while opening it; trying again");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(200));
            }
            other => return other,
        }
    }
}

async fn data_version(writer: &writer::Writer) -> Option<i64> {
    match writer.data_version().await {
        Ok(v) => Some(v),
        Err(e) => {
            tracing::debug!(error = %e, "could not read the SQLite data version");
            None
        }
    }
}

/// How often, at most, a SQLite store looks for changes committed by other
/// processes (and how often it looks when the file cannot be watched).
const SQLITE_WATCH_EVERY: Duration = Duration::from_secs(1);

/// Writes to the SQLite file or its journals, as they happen (`notify`
/// watching its folder): `None` when the folder cannot be watched. Keep the
/// watcher with the receiver; dropping it stops watching.
fn file_changes(
    db: &std::path::Path,
) -> Option<(
    notify::RecommendedWatcher,
    tokio::sync::mpsc::UnboundedReceiver<()>,
)> {
    use notify::Watcher;
    let db = std::path::absolute(db).ok()?;
    let dir = db.parent()?.to_path_buf();
    let name = db.file_name()?.to_os_string();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let mut watcher = notify::recommended_watcher(move |e: notify::Result<notify::Event>| {
        let ours = match &e {
            Ok(e) => {
                !matches!(e.kind, notify::EventKind::Access(_))
                    && e.paths.iter().any(|p| {
                        p.file_name().is_some_and(|f| {
                            f.as_encoded_bytes().starts_with(name.as_encoded_bytes())
                        })
                    })
            }
            Err(_) => true,
        };
        if ours {
            let _ = tx.send(());
        }
    })
    .ok()?;
    match watcher.watch(&dir, notify::RecursiveMode::NonRecursive) {
        Ok(()) => Some((watcher, rx)),
        Err(e) => {
            tracing::debug!(error = %e, "cannot watch the database's folder; looking for other processes' changes every second");
            None
        }
    }
}

/// Wakes this process's scheduler when another process (`berrah retry`,
/// `berrah pause` run from a shell) commits to the same SQLite file:
/// `PRAGMA data_version` of the writer's connection changes when any other
/// connection commits, and only then (the queue writes of this process, its
/// heartbeat among them, go through that connection and leave it as it
/// was: they wake nobody). It looks when the file or its write-ahead log is
/// written (`changes`), at most once per [`SQLITE_WATCH_EVERY`], so an idle
/// daemon has no timer here. Without `changes` (the folder cannot be
/// watched) it looks every [`SQLITE_WATCH_EVERY`].
async fn watch_sqlite(
    writer: writer::Writer,
    // Read in `connect`, so that a commit made right after it returns is
    // seen as a change.
    mut last: Option<i64>,
    changes: Option<(
        notify::RecommendedWatcher,
        tokio::sync::mpsc::UnboundedReceiver<()>,
    )>,
    wake: broadcast::Sender<()>,
    stop: CancellationToken,
) {
    let (_watcher, mut changes) = match changes {
        Some((w, rx)) => (Some(w), Some(rx)),
        None => (None, None),
    };
    let mut looked: Option<tokio::time::Instant> = None;
    // A write to the log is seen before its commit is (the commit ends in
    // the shared-memory index, which makes no event): after the writes
    // stop, one more look a period later.
    let mut trailing = false;
    loop {
        match &mut changes {
            Some(rx) => {
                let again = looked.map(|at| at + SQLITE_WATCH_EVERY);
                let written = tokio::select! {
                    () = stop.cancelled() => break,
                    got = rx.recv() => {
                        if got.is_none() {
                            changes = None;
                        }
                        true
                    }
                    () = async {
                        match again {
                            Some(at) if trailing => tokio::time::sleep_until(at).await,
                            _ => std::future::pending().await,
                        }
                    } => false,
                };
                trailing = written;
                // At most one look per period: a burst of writes is one look.
                if written && let Some(at) = again {
                    tokio::select! {
                        () = stop.cancelled() => break,
                        () = tokio::time::sleep_until(at) => {}
                    }
                }
                if let Some(rx) = &mut changes {
                    while rx.try_recv().is_ok() {}
                }
            }
            None => {
                tokio::select! {
                    () = stop.cancelled() => break,
                    () = tokio::time::sleep(SQLITE_WATCH_EVERY) => {}
                }
            }
        }
        looked = Some(tokio::time::Instant::now());
        if let Some(v) = data_version(&writer).await {
            if last.is_some_and(|l| l != v) {
                let _ = wake.send(());
            }
            last = Some(v);
        }
    }
}

/// Forwards PostgreSQL notifications to the in-process broadcast until the
/// store is dropped. After a lost connection (notifications may have been
/// missed) it wakes everyone once, to be safe.
async fn forward_notifications(
    mut listener: PgListener,
    wake: broadcast::Sender<()>,
    stop: CancellationToken,
) {
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            got = listener.try_recv() => match got {
                Ok(Some(_)) | Ok(None) => {
                    let _ = wake.send(());
                }
                Err(sqlx::Error::PoolClosed) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "lost the PostgreSQL wake-up listener; retrying");
                    let _ = wake.send(());
                    tokio::select! {
                        () = stop.cancelled() => return,
                        () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
            }
        }
    }
}

/// The URL without its secrets, for error messages and logs (promise 4):
/// the password of the user part (`postgres://u:pw@h/db`) and the value of
/// every query parameter that holds one (`?password=`, `?sslpassword=`, any
/// name with `password`, `passwd`, `pwd`, `secret` or `token` in it) become
/// `***`. A URL the `url` crate cannot parse is redacted by hand, erring on
/// the side of hiding too much (everything between `://` and the last `@`).
pub(crate) fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        // `postgres://u:12/ss@h/db` parses (host `u`, port 12), but `12/ss`
        // was the password: an `@` after the host is redacted by hand.
        Ok(u)
            if !u.scheme().starts_with("sqlite")
                && [Some(u.path()), u.query(), u.fragment()]
                    .iter()
                    .any(|part| part.is_some_and(|p| p.contains('@'))) =>
        {
            redact_unparsed(url)
        }
        Ok(mut u) => {
            let mut changed = false;
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
                changed = true;
            }
            if u.query_pairs().any(|(k, _)| secret_param(&k)) {
                let pairs: Vec<(String, String)> = u
                    .query_pairs()
                    .map(|(k, v)| {
                        let v = if secret_param(&k) { "***".into() } else { v };
                        (k.into_owned(), v.into_owned())
                    })
                    .collect();
                u.query_pairs_mut().clear().extend_pairs(pairs);
                changed = true;
            }
            if changed {
                u.to_string()
            } else {
                url.to_string()
            }
        }
        Err(_) => redact_unparsed(url),
    }
}

/// Whether a query parameter's value is a secret.
fn secret_param(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["password", "passwd", "pwd", "secret", "token"]
        .iter()
        .any(|w| name.contains(w))
}

/// [`redact_url`] for text that is not a valid URL (a mistyped port, a
/// password with a character the parser refuses): the whole user part goes.
fn redact_unparsed(url: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (url, None),
    };
    let mut out = match (head.find("://"), url.rfind('@')) {
        // The last `@` of the whole text: a password may hold `?`, `/` or `@`.
        (Some(start), Some(at)) if at > start => {
            let after = &url[at + 1..];
            let host = after.split(['?', '#']).next().unwrap_or(after);
            return match after.find('?') {
                Some(i) => format!(
                    "{}://***@{host}?{}",
                    &url[..start],
                    redact_query(&after[i + 1..])
                ),
                None => format!("{}://***@{host}", &url[..start]),
            };
        }
        _ => head.to_string(),
    };
    if let Some(q) = query {
        out.push('?');
        out.push_str(&redact_query(q));
    }
    out
}

/// `a=1&password=x` → `a=1&password=***` (by hand, for unparsed URLs).
fn redact_query(query: &str) -> String {
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if secret_param(k) => format!("{k}=***"),
            _ => pair.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_error_messages() {
        let r = redact_url("postgres://berrah:s3cret@db:5432/berrah");
        assert!(!r.contains("s3cret"));
        assert!(r.contains("db:5432"));
        assert_eq!(redact_url("sqlite://x.db"), "sqlite://x.db");
        assert_eq!(redact_url("sqlite::memory:"), "sqlite::memory:");
        assert_eq!(
            redact_url("postgres://berrah@db/berrah?sslmode=require"),
            "postgres://berrah@db/berrah?sslmode=require"
        );
    }

    #[test]
    fn passwords_in_the_query_are_hidden_too() {
        for url in [
            "postgres://db/berrah?user=berrah&password=s3cret",
            "postgres://db/berrah?sslmode=verify-full&sslpassword=s3cret&application_name=b",
            "postgresql://u:s3cret@db/berrah?PASSWORD=s3cret",
            "postgres://db/berrah?password=s3cret%21",
        ] {
            let r = redact_url(url);
            assert!(!r.contains("s3cret"), "{url} -> {r}");
            assert!(r.contains("db") && r.contains("***"), "{url} -> {r}");
        }
        let r = redact_url("postgres://db/berrah?sslmode=require&password=s3cret");
        assert!(r.contains("sslmode=require"), "{r}");
    }

    #[test]
    fn urls_that_do_not_parse_are_redacted_by_hand() {
        for url in [
            // A port that is not a number: the parser refuses the URL.
            "postgres://berrah:s3cret@db:port/berrah",
            // A password with `/`, `?` or `@` that should have been percent-encoded.
            "postgres://berrah:s3/cr?et@db:5432/berrah",
            "postgres://berrah:s3@cret@db:x/berrah?password=s3cret",
            "postgres://db:x/berrah?sslpassword=s3cret",
            // Parses, as host `berrah` and port 12: the password was `12/s3cret`.
            "postgres://berrah:12/s3cret@db/berrah",
        ] {
            let r = redact_url(url);
            assert!(!r.contains("cret"), "{url} -> {r}");
            assert!(r.contains("db"), "{url} -> {r}");
        }
    }
}
