//! Read-only questions the metrics endpoint asks at each scrape
//! ([`crate::observe`]): is the database there, how many entries are in
//! each state, why the held ones are held, when the next one is due, when
//! each stored token expires. Each is one small query on the read pool (on
//! SQLite never through the queue's writer), so a scrape never waits for
//! the publications, nor they for it.

use jiff::Timestamp;

use super::types::{EntryState, StoreError};
use super::{Store, on_db};

/// The expiry of one account's stored credentials, as the `tokens` table
/// says (no secret: the encrypted blob is never read here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenExpiry {
    pub account: String,
    pub platform: String,
    /// When the credentials stop working unless an operator logs in again:
    /// the refresh token's end for a token berrah renews itself, else the
    /// access token's; `None` when it does not expire.
    pub expires_at: Option<Timestamp>,
    /// The platform refused the token: it works no more, whatever its date.
    pub needs_operator: bool,
}

impl Store {
    /// Whether the database answers a trivial query.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let _: i64 = on_db!(self, |pool| sqlx::query_scalar("SELECT CAST(1 AS BIGINT)")
            .fetch_one(pool)
            .await?);
        Ok(())
    }

    /// How many entries are in each state; every state is listed, with 0
    /// when it has none. Rows whose state is unreadable are left out.
    pub async fn count_by_state(&self) -> Result<Vec<(EntryState, u64)>, StoreError> {
        let rows: Vec<(String, i64)> = on_db!(self, |pool| sqlx::query_as(
            "SELECT state, COUNT(*) FROM entries GROUP BY state"
        )
        .fetch_all(pool)
        .await?);
        Ok(EntryState::ALL
            .into_iter()
            .map(|s| {
                let n = rows
                    .iter()
                    .filter(|(name, _)| name == s.as_str())
                    .map(|(_, n)| u64::try_from(*n).unwrap_or(0))
                    .sum();
                (s, n)
            })
            .collect())
    }

    /// How many entries are held, by stored cause (`outcome`, `account`,
    /// `file_pause`, or `unknown` for a hold without one).
    pub async fn held_by_cause(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let rows: Vec<(Option<String>, i64)> = on_db!(self, |pool| {
            sqlx::query_as(
            "SELECT state_cause, COUNT(*) FROM entries WHERE state = 'held' GROUP BY state_cause"
        )
        .fetch_all(pool)
        .await?
        });
        let mut out: Vec<(String, u64)> = Vec::new();
        for (cause, n) in rows {
            let cause = cause.unwrap_or_else(|| "unknown".to_string());
            let n = u64::try_from(n).unwrap_or(0);
            match out.iter_mut().find(|(c, _)| *c == cause) {
                Some((_, total)) => *total += n,
                None => out.push((cause, n)),
            }
        }
        out.sort();
        Ok(out)
    }

    /// The expiry of every account's stored credentials (`berrah accounts
    /// login`), by account.
    pub async fn token_expiries(&self) -> Result<Vec<TokenExpiry>, StoreError> {
        let at = |ms: Option<i64>| ms.and_then(|ms| Timestamp::from_millisecond(ms).ok());
        Ok(self
            .token_expiry_rows()
            .await?
            .into_iter()
            .map(|r| TokenExpiry {
                expires_at: if r.refreshable {
                    at(r.refresh_expires_at)
                } else {
                    at(r.access_expires_at)
                },
                account: r.account,
                platform: r.platform,
                needs_operator: r.needs_operator,
            })
            .collect())
    }
}
