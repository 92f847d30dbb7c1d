//! The durable queue (sqlx): SQLite embedded by default, PostgreSQL when
//! several instances share the work.
//!
//! Each queue entry is one occurrence of the plan (its stable id), i.e. one
//! (post, account, language, slot). Its life, as a state machine in the
//! database (after River and Oban):
//!
//! ```text
//!             sync adds                 claim (lease)            begin_attempt
//!   (file) ─────────────▶ scheduled ───────────────▶ claimed ───────────────▶ publishing
//!                          ▲  │ ▲                       │ lease expires          │
//!        retry (operator)  │  │ └──── lease expires ────┘ (never called: safe)   │ finish
//!                          │  │                                                  ▼
//!   held ◀── unknown outcome on a non-idempotent platform, credentials,    published | retrying
//!   failed, cancelled, expired (past not_after), budget                   | failed | held
//! ```
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
//! Both backends run the same SQL text wherever the dialects agree (numbered
//! `$n` parameters work in both); they differ only in how work is claimed
//! (`FOR UPDATE SKIP LOCKED` on PostgreSQL, SQLite's single writer), how a
//! writing transaction starts (`BEGIN IMMEDIATE` on SQLite, so concurrent
//! processes queue on the busy timeout instead of failing) and how wake-ups
//! travel (LISTEN/NOTIFY vs. an in-process broadcast).
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

pub use self::ops::{ListFilter, Snapshot};
pub use self::queue::Finish;
pub use self::types::*;

mod ops;
mod queue;
mod row;
mod sync;
#[doc(hidden)]
pub mod testing;
mod types;

/// The PostgreSQL channel on which instances wake each other.
pub const WAKEUP_CHANNEL: &str = "berrah_wakeup";

/// How long a SQLite writer waits for another process's write lock.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(30);

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
    wake: broadcast::Sender<()>,
    /// Stops the PostgreSQL listener task when the last clone is dropped.
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
        let connect_err = |source| StoreError::Connect {
            url: redact_url(url),
            source,
        };
        if url.starts_with("sqlite:") {
            let pool = open_sqlite(url).await.map_err(connect_err)?;
            sqlx::sqlx_macros::migrate!("migrations/sqlite")
                .run(&pool)
                .await?;
            let (wake, _) = broadcast::channel(16);
            Ok(Store {
                inner: Arc::new(Inner {
                    db: Db::Sqlite(pool),
                    wake,
                    _listener: None,
                }),
            })
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = PgPoolOptions::new()
                .max_connections(10)
                .acquire_timeout(Duration::from_secs(30))
                .connect(url)
                .await
                .map_err(connect_err)?;
            sqlx::sqlx_macros::migrate!("migrations/postgres")
                .run(&pool)
                .await?;
            let (wake, _) = broadcast::channel(16);
            let mut listener = PgListener::connect_with(&pool).await?;
            listener.listen(WAKEUP_CHANNEL).await?;
            let token = CancellationToken::new();
            tokio::spawn(forward_notifications(listener, wake.clone(), token.clone()));
            Ok(Store {
                inner: Arc::new(Inner {
                    db: Db::Postgres(pool),
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
    /// [`WAKEUP_CHANNEL`]); on SQLite only this process does.
    ///
    /// A missed wake-up is never a lost post: the scheduler also sleeps only
    /// until [`Store::next_wakeup`].
    pub fn wakeups(&self) -> broadcast::Receiver<()> {
        self.inner.wake.subscribe()
    }

    /// Closes the pool (waits for connections to be returned).
    pub async fn close(&self) {
        match self.db() {
            Db::Sqlite(p) => p.close().await,
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

async fn open_sqlite(url: &str) -> Result<SqlitePool, sqlx::Error> {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or(path);
    let in_memory = path.is_empty() || path.starts_with(":memory:") || url.contains("mode=memory");
    if !in_memory
        && let Some(parent) = std::path::Path::new(path).parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent).map_err(sqlx::Error::Io)?;
    }
    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(SQLITE_BUSY_TIMEOUT)
        .foreign_keys(true);
    let mut pool = SqlitePoolOptions::new().acquire_timeout(SQLITE_BUSY_TIMEOUT);
    if in_memory {
        // Every connection to `:memory:` is its own database: keep exactly one.
        pool = pool
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None);
    } else {
        pool = pool.max_connections(4);
    }
    pool.connect_with(options).await
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

/// The URL without its password, for error messages (promise 4).
pub(crate) fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
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
    }
}
