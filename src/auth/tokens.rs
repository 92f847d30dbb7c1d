//! The token store: one row per account in the `tokens` table, the secrets
//! encrypted (see [`crypto`](super::crypto)), the expiries and the
//! "needs an operator" flag in clear so that `accounts list` and `status` can
//! show them without the key.
//!
//! Two implementations of [`TokenStore`]: [`MemoryTokenStore`] (tests) and
//! [`SqlTokenStore`] (SQLite or PostgreSQL, the daemon's database).
//!
//! Writes are single statements, hence atomic. A refresh result is written
//! with [`TokenStore::replace`], a compare-and-swap on the blob it was
//! refreshed from, so two instances (or a login during a refresh) never
//! overwrite a newer pair with an older one.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Mutex;

use async_trait::async_trait;
use jiff::Timestamp;
use secrecy::zeroize::Zeroize;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
// Every SQL string here is built from constants only (column lists and
// placeholders); values always go through binds.
use sqlx::AssertSqlSafe;

use super::crypto::{CryptoError, TokenKey};
use crate::config::PlatformKind;
use crate::time::{from_millis, to_millis};

/// The decrypted secrets of one account. `Debug` shows no secret.
#[derive(Clone)]
pub struct TokenSet {
    /// The access token, page token, app password, bot token or signing secret.
    pub access: SecretString,
    /// The OAuth refresh token, when the platform issued one.
    pub refresh: Option<SecretString>,
    /// The scopes granted, as the server said (not secret).
    pub scope: Option<String>,
}

impl fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSet")
            .field("access", &"[redacted]")
            .field("refresh", &self.refresh.as_ref().map(|_| "[redacted]"))
            .field("scope", &self.scope)
            .finish()
    }
}

/// The JSON inside the encrypted blob.
#[derive(Serialize, Deserialize)]
struct Sealed {
    access: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
}

impl TokenSet {
    pub fn new(access: SecretString, refresh: Option<SecretString>) -> TokenSet {
        TokenSet {
            access,
            refresh,
            scope: None,
        }
    }

    /// Encrypts this set for `account`.
    pub fn seal(&self, key: &TokenKey, account: &str) -> Vec<u8> {
        let mut sealed = Sealed {
            access: self.access.expose_secret().to_string(),
            refresh: self.refresh.as_ref().map(|r| r.expose_secret().to_string()),
            scope: self.scope.clone(),
        };
        // Serializing a struct of strings to JSON cannot fail.
        let mut json = serde_json::to_vec(&sealed).unwrap_or_default();
        let blob = key.seal(account, &json);
        // Plaintext copies are wiped, not left in freed memory.
        json.zeroize();
        sealed.access.zeroize();
        if let Some(r) = sealed.refresh.as_mut() {
            r.zeroize();
        }
        blob
    }

    /// Decrypts a blob sealed for `account`.
    pub fn open(key: &TokenKey, account: &str, blob: &[u8]) -> Result<TokenSet, CryptoError> {
        let mut json = key.open(account, blob)?;
        let parsed = serde_json::from_slice::<Sealed>(&json);
        json.zeroize();
        let sealed = parsed.map_err(|_| CryptoError::Format)?;
        Ok(TokenSet {
            access: SecretString::from(sealed.access),
            refresh: sealed.refresh.map(SecretString::from),
            scope: sealed.scope,
        })
    }

    /// The set after a token-endpoint answer: the new access token, and the
    /// new refresh token if the answer carried a non-empty one, else the old
    /// one. A refresh token is never replaced by nothing: Google and LinkedIn
    /// answer refreshes without one, and a reconnect may too.
    pub fn merged(&self, answer: TokenSet) -> TokenSet {
        let refresh = match answer.refresh {
            Some(new) if !new.expose_secret().trim().is_empty() => Some(new),
            _ => self.refresh.clone(),
        };
        TokenSet {
            access: answer.access,
            refresh,
            scope: answer.scope.or_else(|| self.scope.clone()),
        }
    }
}

/// One row of the `tokens` table. The blob is encrypted; `Debug` shows only its length.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub account: String,
    pub platform: String,
    pub blob: Vec<u8>,
    /// When the access token (or stored secret) stops working; `None` = never / unknown.
    pub access_expires_at: Option<Timestamp>,
    /// When the refresh token stops working; `None` = never / unknown / no refresh token.
    pub refresh_expires_at: Option<Timestamp>,
    /// Whether berrah renews the access token itself (it holds an OAuth
    /// refresh token); if not, an expiring token needs an operator in time.
    pub refreshable: bool,
    /// Whether the refresh token has no more use (it was refused): an
    /// operator must run `berrah accounts login`.
    pub needs_operator: bool,
    pub reason: Option<String>,
    pub updated_at: Timestamp,
}

impl fmt::Debug for TokenRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenRecord")
            .field("account", &self.account)
            .field("platform", &self.platform)
            .field(
                "blob",
                &format_args!("[redacted: {} bytes]", self.blob.len()),
            )
            .field("access_expires_at", &self.access_expires_at)
            .field("refresh_expires_at", &self.refresh_expires_at)
            .field("refreshable", &self.refreshable)
            .field("needs_operator", &self.needs_operator)
            .field("reason", &self.reason)
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

impl TokenRecord {
    /// A fresh record for `tokens`, sealed with `key`.
    pub fn seal(
        key: &TokenKey,
        account: &str,
        platform: PlatformKind,
        tokens: &TokenSet,
        access_expires_at: Option<Timestamp>,
        refresh_expires_at: Option<Timestamp>,
        now: Timestamp,
    ) -> TokenRecord {
        TokenRecord {
            account: account.to_string(),
            platform: platform.as_str().to_string(),
            blob: tokens.seal(key, account),
            access_expires_at,
            refresh_expires_at,
            refreshable: tokens.refresh.is_some(),
            needs_operator: false,
            reason: None,
            updated_at: now,
        }
    }

    pub fn open(&self, key: &TokenKey) -> Result<TokenSet, CryptoError> {
        TokenSet::open(key, &self.account, &self.blob)
    }
}

/// `now + secs` for an `expires_in` from a server: clamped to 100 years and
/// never overflowing (a hostile or broken answer must not panic).
pub fn expiry_after(now: Timestamp, secs: u64) -> Timestamp {
    let secs = secs.min(100 * 365 * 86_400) as i64;
    plus(now, jiff::SignedDuration::from_secs(secs))
}

/// `t + d`, saturating at jiff's bounds.
pub fn plus(t: Timestamp, d: jiff::SignedDuration) -> Timestamp {
    t.checked_add(d).unwrap_or(if d.is_negative() {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}

/// A failure of the token store's database.
#[derive(Debug, thiserror::Error)]
pub enum TokenStoreError {
    #[error("token store: {0}")]
    Db(String),
    /// Only from test doubles that simulate a crash.
    #[error("token store: simulated crash")]
    Crashed,
}

impl From<sqlx::Error> for TokenStoreError {
    fn from(e: sqlx::Error) -> Self {
        TokenStoreError::Db(e.to_string())
    }
}

/// Where encrypted tokens live.
#[async_trait]
pub trait TokenStore: Send + Sync {
    async fn get(&self, account: &str) -> Result<Option<TokenRecord>, TokenStoreError>;
    /// Inserts or replaces the account's row (login).
    async fn put(&self, record: &TokenRecord) -> Result<(), TokenStoreError>;
    /// Replaces the row only if its blob is still `expected_blob` (a refresh
    /// result). `false`: someone else wrote first; nothing was changed.
    async fn replace(
        &self,
        record: &TokenRecord,
        expected_blob: &[u8],
    ) -> Result<bool, TokenStoreError>;
    /// Flags the account for an operator, keeping its tokens (they may still
    /// tell what happened, and a later login replaces them).
    async fn mark_needs_operator(
        &self,
        account: &str,
        reason: &str,
        now: Timestamp,
    ) -> Result<(), TokenStoreError>;
    /// Removes the account's row; `true` if there was one.
    async fn delete(&self, account: &str) -> Result<bool, TokenStoreError>;
    /// Every row, by account id.
    async fn list(&self) -> Result<Vec<TokenRecord>, TokenStoreError>;
}

/// A token store in memory, for tests.
#[derive(Debug, Default)]
pub struct MemoryTokenStore {
    rows: Mutex<BTreeMap<String, TokenRecord>>,
}

impl MemoryTokenStore {
    pub fn new() -> MemoryTokenStore {
        MemoryTokenStore::default()
    }

    fn rows(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, TokenRecord>> {
        // A poisoned lock only means a test panicked while holding it; the
        // map itself is always in a consistent state (single inserts).
        self.rows.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl TokenStore for MemoryTokenStore {
    async fn get(&self, account: &str) -> Result<Option<TokenRecord>, TokenStoreError> {
        Ok(self.rows().get(account).cloned())
    }

    async fn put(&self, record: &TokenRecord) -> Result<(), TokenStoreError> {
        self.rows().insert(record.account.clone(), record.clone());
        Ok(())
    }

    async fn replace(
        &self,
        record: &TokenRecord,
        expected_blob: &[u8],
    ) -> Result<bool, TokenStoreError> {
        let mut rows = self.rows();
        match rows.get(&record.account) {
            Some(current) if current.blob == expected_blob => {
                rows.insert(record.account.clone(), record.clone());
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn mark_needs_operator(
        &self,
        account: &str,
        reason: &str,
        now: Timestamp,
    ) -> Result<(), TokenStoreError> {
        if let Some(row) = self.rows().get_mut(account) {
            row.needs_operator = true;
            row.reason = Some(reason.to_string());
            row.updated_at = now;
        }
        Ok(())
    }

    async fn delete(&self, account: &str) -> Result<bool, TokenStoreError> {
        Ok(self.rows().remove(account).is_some())
    }

    async fn list(&self) -> Result<Vec<TokenRecord>, TokenStoreError> {
        Ok(self.rows().values().cloned().collect())
    }
}

/// The database a [`SqlTokenStore`] uses: the daemon's own ([`Store::db`](crate::store::Store::db)).
pub type TokenDb = crate::store::Db;

/// The `tokens` table of SQLite or PostgreSQL (migration `0002_tokens.sql`).
#[derive(Debug, Clone)]
pub struct SqlTokenStore {
    db: TokenDb,
}

const COLUMNS: &str = "account, platform, blob, access_expires_at, refresh_expires_at, refreshable, needs_operator, reason, updated_at";

/// `$1` placeholders are PostgreSQL's; SQLite's numbered ones are `?1`.
fn sqlite_sql(sql: &str) -> String {
    sql.replace('$', "?")
}

type RawRow = (
    String,
    String,
    Vec<u8>,
    Option<i64>,
    Option<i64>,
    bool,
    bool,
    Option<String>,
    i64,
);

fn from_raw(r: RawRow) -> TokenRecord {
    TokenRecord {
        account: r.0,
        platform: r.1,
        blob: r.2,
        access_expires_at: r.3.map(from_millis),
        refresh_expires_at: r.4.map(from_millis),
        refreshable: r.5,
        needs_operator: r.6,
        reason: r.7,
        updated_at: from_millis(r.8),
    }
}

impl SqlTokenStore {
    pub fn new(db: TokenDb) -> SqlTokenStore {
        SqlTokenStore { db }
    }

    /// The `tokens` table of the daemon's database (migrated by `Store::connect`).
    pub fn from_store(store: &crate::store::Store) -> SqlTokenStore {
        SqlTokenStore::new(store.db().clone())
    }

    async fn execute(
        &self,
        sql: &str,
        bind: impl Fn(Binder) -> Binder,
    ) -> Result<u64, TokenStoreError> {
        let binds = bind(Binder::default()).0;
        Ok(match &self.db {
            TokenDb::Sqlite(pool) => {
                let sql = sqlite_sql(sql);
                let mut q = sqlx::query(AssertSqlSafe(sql));
                for b in &binds {
                    q = match b {
                        Bind::Text(s) => q.bind(s.clone()),
                        Bind::OptText(s) => q.bind(s.clone()),
                        Bind::Bytes(v) => q.bind(v.clone()),
                        Bind::Int(i) => q.bind(*i),
                        Bind::OptInt(i) => q.bind(*i),
                        Bind::Bool(b) => q.bind(*b),
                    };
                }
                q.execute(pool).await?.rows_affected()
            }
            TokenDb::Postgres(pool) => {
                let mut q = sqlx::query(AssertSqlSafe(sql.to_string()));
                for b in &binds {
                    q = match b {
                        Bind::Text(s) => q.bind(s.clone()),
                        Bind::OptText(s) => q.bind(s.clone()),
                        Bind::Bytes(v) => q.bind(v.clone()),
                        Bind::Int(i) => q.bind(*i),
                        Bind::OptInt(i) => q.bind(*i),
                        Bind::Bool(b) => q.bind(*b),
                    };
                }
                q.execute(pool).await?.rows_affected()
            }
        })
    }

    fn record_binds(record: &TokenRecord) -> impl Fn(Binder) -> Binder + '_ {
        move |b: Binder| {
            b.text(&record.account)
                .text(&record.platform)
                .bytes(&record.blob)
                .opt_int(record.access_expires_at.map(to_millis))
                .opt_int(record.refresh_expires_at.map(to_millis))
                .bool(record.refreshable)
                .bool(record.needs_operator)
                .opt_text(record.reason.as_deref())
                .int(to_millis(record.updated_at))
        }
    }
}

#[derive(Clone)]
enum Bind {
    Text(String),
    OptText(Option<String>),
    Bytes(Vec<u8>),
    Int(i64),
    OptInt(Option<i64>),
    Bool(bool),
}

/// Bind values collected once, applied to either backend's query.
#[derive(Default)]
struct Binder(Vec<Bind>);

impl Binder {
    fn text(mut self, s: &str) -> Binder {
        self.0.push(Bind::Text(s.to_string()));
        self
    }
    fn opt_text(mut self, s: Option<&str>) -> Binder {
        self.0.push(Bind::OptText(s.map(str::to_string)));
        self
    }
    fn bytes(mut self, v: &[u8]) -> Binder {
        self.0.push(Bind::Bytes(v.to_vec()));
        self
    }
    fn int(mut self, i: i64) -> Binder {
        self.0.push(Bind::Int(i));
        self
    }
    fn opt_int(mut self, i: Option<i64>) -> Binder {
        self.0.push(Bind::OptInt(i));
        self
    }
    fn bool(mut self, b: bool) -> Binder {
        self.0.push(Bind::Bool(b));
        self
    }
}

#[async_trait]
impl TokenStore for SqlTokenStore {
    async fn get(&self, account: &str) -> Result<Option<TokenRecord>, TokenStoreError> {
        let sql = format!("SELECT {COLUMNS} FROM tokens WHERE account = $1");
        let row: Option<RawRow> = match &self.db {
            TokenDb::Sqlite(pool) => {
                sqlx::query_as(AssertSqlSafe(sqlite_sql(&sql)))
                    .bind(account)
                    .fetch_optional(pool)
                    .await?
            }
            TokenDb::Postgres(pool) => {
                sqlx::query_as(AssertSqlSafe(sql))
                    .bind(account)
                    .fetch_optional(pool)
                    .await?
            }
        };
        Ok(row.map(from_raw))
    }

    async fn put(&self, record: &TokenRecord) -> Result<(), TokenStoreError> {
        let sql = format!(
            "INSERT INTO tokens ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (account) DO UPDATE SET platform = excluded.platform, blob = excluded.blob,
               access_expires_at = excluded.access_expires_at,
               refresh_expires_at = excluded.refresh_expires_at,
               refreshable = excluded.refreshable,
               needs_operator = excluded.needs_operator, reason = excluded.reason,
               updated_at = excluded.updated_at"
        );
        self.execute(&sql, Self::record_binds(record)).await?;
        Ok(())
    }

    async fn replace(
        &self,
        record: &TokenRecord,
        expected_blob: &[u8],
    ) -> Result<bool, TokenStoreError> {
        let sql = "UPDATE tokens SET platform = $2, blob = $3, access_expires_at = $4,
               refresh_expires_at = $5, refreshable = $6, needs_operator = $7, reason = $8,
               updated_at = $9
             WHERE account = $1 AND blob = $10";
        let binds = Self::record_binds(record);
        let n = self.execute(sql, |b| binds(b).bytes(expected_blob)).await?;
        Ok(n == 1)
    }

    async fn mark_needs_operator(
        &self,
        account: &str,
        reason: &str,
        now: Timestamp,
    ) -> Result<(), TokenStoreError> {
        let sql = "UPDATE tokens SET needs_operator = TRUE, reason = $2, updated_at = $3 WHERE account = $1";
        self.execute(sql, |b| b.text(account).text(reason).int(to_millis(now)))
            .await?;
        Ok(())
    }

    async fn delete(&self, account: &str) -> Result<bool, TokenStoreError> {
        let n = self
            .execute("DELETE FROM tokens WHERE account = $1", |b| b.text(account))
            .await?;
        Ok(n > 0)
    }

    async fn list(&self) -> Result<Vec<TokenRecord>, TokenStoreError> {
        let sql = format!("SELECT {COLUMNS} FROM tokens ORDER BY account");
        let rows: Vec<RawRow> = match &self.db {
            TokenDb::Sqlite(pool) => sqlx::query_as(AssertSqlSafe(sql)).fetch_all(pool).await?,
            TokenDb::Postgres(pool) => sqlx::query_as(AssertSqlSafe(sql)).fetch_all(pool).await?,
        };
        Ok(rows.into_iter().map(from_raw).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> SecretString {
        SecretString::from(v.to_string())
    }

    #[test]
    fn merge_keeps_the_old_refresh_token_when_none_or_empty_comes_back() {
        let old = TokenSet::new(s("a1"), Some(s("r1")));
        let m = old.merged(TokenSet::new(s("a2"), None));
        assert_eq!(m.access.expose_secret(), "a2");
        assert_eq!(m.refresh.as_ref().unwrap().expose_secret(), "r1");
        let m = old.merged(TokenSet::new(s("a3"), Some(s("  "))));
        assert_eq!(m.refresh.as_ref().unwrap().expose_secret(), "r1");
        let m = old.merged(TokenSet::new(s("a4"), Some(s("r2"))));
        assert_eq!(m.refresh.as_ref().unwrap().expose_secret(), "r2");
    }

    #[test]
    fn seal_open_round_trip_and_debug_redacted() {
        let key = TokenKey::generate();
        let set = TokenSet {
            access: s("ACCESS-SECRET"),
            refresh: Some(s("REFRESH-SECRET")),
            scope: Some("a b".into()),
        };
        let rec = TokenRecord::seal(
            &key,
            "acct",
            PlatformKind::X,
            &set,
            None,
            None,
            Timestamp::UNIX_EPOCH,
        );
        let back = rec.open(&key).unwrap();
        assert_eq!(back.access.expose_secret(), "ACCESS-SECRET");
        assert_eq!(back.refresh.unwrap().expose_secret(), "REFRESH-SECRET");
        let shown = format!("{set:?} {rec:?}");
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(shown.contains("[redacted"));
    }

    #[tokio::test]
    async fn memory_store_compare_and_swap() {
        let key = TokenKey::generate();
        let store = MemoryTokenStore::new();
        let set = TokenSet::new(s("a"), Some(s("r")));
        let now = Timestamp::UNIX_EPOCH;
        let rec = TokenRecord::seal(&key, "acct", PlatformKind::X, &set, None, None, now);
        store.put(&rec).await.unwrap();
        let newer = TokenRecord::seal(&key, "acct", PlatformKind::X, &set, None, None, now);
        assert!(store.replace(&newer, &rec.blob).await.unwrap());
        assert!(!store.replace(&rec, &rec.blob).await.unwrap(), "stale");
        assert_eq!(store.get("acct").await.unwrap().unwrap().blob, newer.blob);
        store.mark_needs_operator("acct", "why", now).await.unwrap();
        assert!(store.get("acct").await.unwrap().unwrap().needs_operator);
        assert!(store.delete("acct").await.unwrap());
        assert!(store.list().await.unwrap().is_empty());
    }
}
