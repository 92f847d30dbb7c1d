//! Helpers for tests of every area that needs a store: a temporary SQLite
//! database, and a fresh PostgreSQL database per test when one is available.
//!
//! PostgreSQL tests read `BERRAH_TEST_POSTGRES_URL` (an admin URL, e.g.
//! `postgres://postgres@127.0.0.1:5432/postgres`). Without it they say loudly
//! that they skipped, and fail when `CI` is set: a green CI run must have
//! exercised PostgreSQL.

use sqlx::Connection;

use super::Store;

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
    let Ok(admin) = std::env::var(POSTGRES_URL_VAR) else {
        if std::env::var_os("CI").is_some() {
            panic!(
                "{test_name}: {POSTGRES_URL_VAR} is not set, and CI is: PostgreSQL tests must run in CI"
            );
        }
        eprintln!(
            "SKIPPED (PostgreSQL): {test_name} — set {POSTGRES_URL_VAR}=postgres://postgres@127.0.0.1:5432/postgres"
        );
        return None;
    };
    let name = format!("berrah_t_{:016x}", rand::random::<u64>());
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

/// A store on a fresh PostgreSQL database, or `None` (skipped, see
/// [`postgres_url_or_skip`]).
pub async fn postgres_or_skip(test_name: &str) -> Option<Store> {
    let url = postgres_url_or_skip(test_name)?;
    match Store::connect(&url).await {
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
    match Store::connect(&url).await {
        Ok(s) => (dir, s),
        Err(e) => panic!("cannot open a temporary SQLite store: {e}"),
    }
}

/// The `sqlite://` URL of a database file.
pub fn sqlite_url(path: &std::path::Path) -> String {
    format!("sqlite://{}", path.display())
}
