//! Helpers for tests of every area that needs a store: a temporary SQLite
//! database, and a fresh PostgreSQL database per test when one is available.
//!
//! PostgreSQL tests read `BERRAH_TEST_POSTGRES_URL` (an admin URL, e.g.
//! `postgres://postgres@127.0.0.1:5432/postgres`). Without it they say loudly
//! that they skipped, and fail when `CI` is set: a green CI run must have
//! exercised PostgreSQL.

use sqlx::Connection;

use super::{Store, StoreOptions};

/// The variable that points the tests at a PostgreSQL server.
pub const POSTGRES_URL_VAR: &str = "BERRAH_TEST_POSTGRES_URL";

/// Creates a fresh, empty database `berrah_t_<random>` for `test_name` and
/// returns its URL; `None` (after saying so on stderr) when
/// `BERRAH_TEST_POSTGRES_URL` is unset. Panics when it is unset and `CI` is
/// set, or when the server cannot be reached.
///
/// Synchronous so that it can be called from any test, async or not (it
/// runs its own small runtime on a separate thread).
pub fn postgres_url_or_skip(test_name: &str) -> Option<String> {
    let admin = std::env::var(POSTGRES_URL_VAR)
        .ok()
        .filter(|u| !u.trim().is_empty());
    let Some(admin) = admin else {
        if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
            panic!(
                "{test_name}: {POSTGRES_URL_VAR} is not set, and CI is: PostgreSQL tests must run in CI"
            );
        }
        eprintln!(
            "SKIPPED (PostgreSQL): {test_name} — set {POSTGRES_URL_VAR}=postgres://postgres@127.0.0.1:5432/postgres"
        );
        return None;
    };
    // The creation time in the name lets later runs drop what a crashed or
    // finished run left behind (see `drop_stale`).
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let name = format!("berrah_t_{now}_{:08x}", rand::random::<u32>());
    let mut url = match url::Url::parse(&admin) {
        Ok(u) => u,
        Err(e) => panic!("{POSTGRES_URL_VAR} is not a URL: {e}"),
    };
    url.set_path(&format!("/{name}"));
    let create = format!("CREATE DATABASE \"{name}\"");
    let made = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(async {
            let mut conn = sqlx::PgConnection::connect(&admin)
                .await
                .map_err(|e| e.to_string())?;
            drop_stale(&mut conn, now).await;
            sqlx::query(sqlx::AssertSqlSafe(create))
                .execute(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
            conn.close().await.map_err(|e| e.to_string())
        })
    })
    .join();
    match made {
        Ok(Ok(())) => Some(url.to_string()),
        Ok(Err(e)) => panic!("{test_name}: cannot create a test database on PostgreSQL: {e}"),
        Err(_) => panic!("{test_name}: the thread creating the test database panicked"),
    }
}

/// Test databases older than this are dropped by later runs.
const STALE_AFTER_SECS: u64 = 3600;

/// Drops the test databases created more than [`STALE_AFTER_SECS`] ago, so
/// that repeated test runs do not fill the disk. Best effort: a database
/// still in use (or any error) is left for a later run.
async fn drop_stale(conn: &mut sqlx::PgConnection, now: u64) {
    let names: Vec<String> = match sqlx::query_scalar(
        "SELECT datname FROM pg_database WHERE datname LIKE 'berrah\\_t\\_%'",
    )
    .fetch_all(&mut *conn)
    .await
    {
        Ok(n) => n,
        Err(_) => return,
    };
    for name in names {
        let created = name
            .strip_prefix("berrah_t_")
            .and_then(|rest| rest.split('_').next())
            .and_then(|secs| secs.parse::<u64>().ok());
        let stale = match created {
            Some(secs) => now.saturating_sub(secs) > STALE_AFTER_SECS,
            // The first naming scheme had no time: those are from before.
            None => true,
        };
        if stale && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            let drop = format!("DROP DATABASE IF EXISTS \"{name}\"");
            let _ = sqlx::query(sqlx::AssertSqlSafe(drop))
                .execute(&mut *conn)
                .await;
        }
    }
}

/// Pool size of test stores: PostgreSQL allows 100 connections for every
/// helper's tests running at once.
const TEST_POOL: StoreOptions = StoreOptions { max_connections: 2 };

/// A store on a fresh PostgreSQL database, or `None` (skipped, see
/// [`postgres_url_or_skip`]).
pub async fn postgres_or_skip(test_name: &str) -> Option<Store> {
    let url = postgres_url_or_skip(test_name)?;
    match Store::connect_with(&url, &TEST_POOL).await {
        Ok(s) => Some(s),
        Err(e) => panic!("{test_name}: cannot connect to the test database: {e}"),
    }
}

/// A store on a new SQLite file in a temporary directory (kept while the
/// `TempDir` lives).
pub async fn sqlite_temp() -> (tempfile::TempDir, Store) {
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("cannot create a temporary directory: {e}"),
    };
    let url = sqlite_url(&dir.path().join("berrah.db"));
    match Store::connect_with(&url, &TEST_POOL).await {
        Ok(s) => (dir, s),
        Err(e) => panic!("cannot open a temporary SQLite store: {e}"),
    }
}

/// The `sqlite://` URL of a database file.
pub fn sqlite_url(path: &std::path::Path) -> String {
    format!("sqlite://{}", path.display())
}
