//! Credentials from the token store, refreshed shortly before they expire.
//!
//! # Rotation and crashes
//!
//! X and Bluesky rotate refresh tokens: each refresh answer carries a new
//! refresh token and the one just used stops working. Between the moment the
//! token endpoint answers and the moment the new pair is durable, the only
//! copy of the new refresh token is in memory. berrah keeps that window as
//! small and as safe as it can be:
//!
//! 1. The refresh (request, answer, write) runs in a task of its own
//!    (`tokio::spawn`), so a caller that gives up (a publication timed out, the
//!    daemon shuts down and drops its futures) cannot abandon an answer
//!    half-way: once the request is sent, the answer is written.
//! 2. The new pair (the new refresh token, or the old one when the answer
//!    carries none) is written in ONE statement, a compare-and-swap on the
//!    blob it was refreshed from, BEFORE the new access token is handed to
//!    anyone. The old pair is never deleted first: the row holds either the
//!    old pair or the new one, never neither, never a mix.
//! 3. If the process dies inside the window (kill -9 between the answer and
//!    the commit), the row still holds the old, intact, decryptable pair. On a
//!    provider with a reuse grace period, the next refresh with it succeeds;
//!    on a strictly single-use provider (X) it is refused, the account is
//!    flagged `needs_operator` with that reason and its posts are held, never
//!    lost, until `berrah accounts login`. No client can do better: the server
//!    has rotated when it answers.
//! 4. A refused refresh first re-reads the row: if another instance (or a
//!    login) wrote a newer pair meanwhile, that pair is used instead of
//!    flagging the account.
//!
//! Single flight: refreshes of one account are serialised by a process-wide
//! lock per account, and each re-reads the row after taking it, so two
//! concurrent publications cause one refresh, not two (with a rotating
//! refresh token the second would be refused).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, LazyLock, Mutex};

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use secrecy::{ExposeSecret, SecretString};

use super::crypto::TokenKey;
use super::oauth::{self, ClientCredentials, OAuthError};
use super::providers::OAuthEndpoints;
use super::tokens::{TokenRecord, TokenSet, TokenStore, expiry_after, plus};
use super::{AuthError, Credentials};
use crate::config::{AccountConfig, PlatformKind};
use crate::time::Clock;

/// How long before expiry an access token is refreshed.
pub const REFRESH_MARGIN: SignedDuration = SignedDuration::from_secs(5 * 60);

static LOCKS: LazyLock<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>> =
    LazyLock::new(Default::default);

/// The process-wide refresh lock of an account.
fn account_lock(account: &str) -> Arc<tokio::sync::Mutex<()>> {
    let mut map = LOCKS.lock().unwrap_or_else(|p| p.into_inner());
    map.entry(account.to_string()).or_default().clone()
}

/// How to refresh an account's access token.
#[derive(Clone)]
pub struct Refresher {
    pub endpoints: OAuthEndpoints,
    /// The account's config, to read the client id/secret variables at each refresh.
    pub account: AccountConfig,
}

/// An account's credentials from the token store.
pub struct StoredCredentials {
    account: String,
    platform: PlatformKind,
    store: Arc<dyn TokenStore>,
    key: Arc<TokenKey>,
    clock: Arc<dyn Clock>,
    refresher: Option<Refresher>,
}

impl fmt::Debug for StoredCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredCredentials")
            .field("account", &self.account)
            .field("platform", &self.platform)
            .field("key", &"[redacted]")
            .field("refreshable", &self.refresher.is_some())
            .finish()
    }
}

impl StoredCredentials {
    pub fn new(
        account: &str,
        platform: PlatformKind,
        store: Arc<dyn TokenStore>,
        key: Arc<TokenKey>,
        clock: Arc<dyn Clock>,
        refresher: Option<Refresher>,
    ) -> StoredCredentials {
        StoredCredentials {
            account: account.to_string(),
            platform,
            store,
            key,
            clock,
            refresher,
        }
    }

    fn needs_login(&self, why: impl Into<String>) -> AuthError {
        AuthError::NeedsLogin {
            account: self.account.clone(),
            why: why.into(),
        }
    }

    async fn load(&self) -> Result<(TokenRecord, TokenSet), AuthError> {
        let record = self
            .store
            .get(&self.account)
            .await
            .map_err(|e| AuthError::Transient {
                account: self.account.clone(),
                why: e.to_string(),
            })?
            .ok_or_else(|| self.needs_login("no token is stored for it"))?;
        if record.needs_operator {
            let why = record
                .reason
                .clone()
                .unwrap_or_else(|| "its stored token was refused".into());
            return Err(self.needs_login(why));
        }
        let tokens = record.open(&self.key).map_err(|e| AuthError::Config {
            account: self.account.clone(),
            why: e.to_string(),
        })?;
        Ok((record, tokens))
    }

    fn fresh(&self, record: &TokenRecord, now: Timestamp) -> bool {
        match record.access_expires_at {
            None => true,
            Some(at) => at > plus(now, REFRESH_MARGIN),
        }
    }
}

#[async_trait]
impl Credentials for StoredCredentials {
    async fn secret(&self) -> Result<SecretString, AuthError> {
        let (record, tokens) = self.load().await?;
        let now = self.clock.now();
        if self.fresh(&record, now) {
            return Ok(tokens.access);
        }
        let expired = record.access_expires_at.is_some_and(|at| at <= now);
        let (Some(refresher), true) = (self.refresher.clone(), tokens.refresh.is_some()) else {
            if expired {
                return Err(self.needs_login(format!(
                    "its token expired at {} and cannot be renewed without an operator",
                    record.access_expires_at.unwrap_or(now)
                )));
            }
            return Ok(tokens.access);
        };

        let lock = account_lock(&self.account);
        let _guard = lock.lock().await;
        // Someone may have refreshed while we waited for the lock.
        let (record, tokens) = self.load().await?;
        let now = self.clock.now();
        if self.fresh(&record, now) {
            return Ok(tokens.access);
        }
        self.run_job(refresher, record, tokens, true).await
    }

    async fn renew_rejected(&self, rejected: &SecretString) -> Result<SecretString, AuthError> {
        let Some(refresher) = self.refresher.clone() else {
            return Err(self
                .needs_login("the platform refused the stored token and berrah cannot renew it"));
        };
        let lock = account_lock(&self.account);
        let _guard = lock.lock().await;
        let (record, tokens) = self.load().await?;
        if tokens.access.expose_secret() != rejected.expose_secret() {
            // Renewed meanwhile (by another publication, another instance, a login).
            return Ok(tokens.access);
        }
        if tokens.refresh.is_none() {
            return Err(self.needs_login(
                "the platform refused the stored token and there is no refresh token",
            ));
        }
        self.run_job(refresher, record, tokens, false).await
    }
}

impl StoredCredentials {
    /// Runs a refresh detached from the caller (module documentation, point 1).
    async fn run_job(
        &self,
        refresher: Refresher,
        record: TokenRecord,
        tokens: TokenSet,
        old_usable: bool,
    ) -> Result<SecretString, AuthError> {
        let job = RefreshJob {
            account: self.account.clone(),
            store: self.store.clone(),
            key: self.key.clone(),
            clock: self.clock.clone(),
            refresher,
            record,
            tokens,
            old_usable,
        };
        match tokio::spawn(job.run()).await {
            Ok(result) => result,
            Err(e) => Err(AuthError::Transient {
                account: self.account.clone(),
                why: format!("the refresh task stopped: {e}"),
            }),
        }
    }
}

struct RefreshJob {
    account: String,
    store: Arc<dyn TokenStore>,
    key: Arc<TokenKey>,
    clock: Arc<dyn Clock>,
    refresher: Refresher,
    record: TokenRecord,
    tokens: TokenSet,
    /// Whether the old access token may still be used if the refresh fails
    /// transiently (not when the platform just refused it).
    old_usable: bool,
}

impl RefreshJob {
    fn transient(&self, why: impl Into<String>) -> AuthError {
        AuthError::Transient {
            account: self.account.clone(),
            why: why.into(),
        }
    }

    /// A still-valid old access token is better than a failure.
    fn fallback(&self, err: AuthError) -> Result<SecretString, AuthError> {
        let now = self.clock.now();
        match self.record.access_expires_at {
            Some(at) if self.old_usable && at > now => Ok(self.tokens.access.clone()),
            _ => Err(err),
        }
    }

    async fn run(self) -> Result<SecretString, AuthError> {
        let creds = match ClientCredentials::from_config(&self.refresher.account) {
            Ok(c) => c,
            Err(why) => {
                tracing::error!(account = %self.account, why = %why, "cannot refresh the access token");
                return self.fallback(AuthError::Config {
                    account: self.account.clone(),
                    why,
                });
            }
        };
        let Some(refresh_token) = self.tokens.refresh.clone() else {
            return self.fallback(self.transient("no refresh token"));
        };
        tracing::info!(account = %self.account, "refreshing the access token");
        let answer = oauth::refresh(&self.refresher.endpoints, &creds, &refresh_token).await;
        match answer {
            Ok(answer) => {
                let now = self.clock.now();
                let merged = self.tokens.merged(answer.tokens());
                let access_expires_at = answer.expires_in_secs().map(|s| expiry_after(now, s));
                let refresh_expires_at = match answer.refresh_expires_in_secs() {
                    Some(s) => Some(expiry_after(now, s)),
                    None => self.record.refresh_expires_at,
                };
                let platform =
                    PlatformKind::from_name(&self.record.platform).unwrap_or(PlatformKind::Webhook);
                let mut new = TokenRecord::seal(
                    &self.key,
                    &self.account,
                    platform,
                    &merged,
                    access_expires_at,
                    refresh_expires_at,
                    now,
                );
                new.platform = self.record.platform.clone();
                // Durable before use (module documentation, point 2).
                match self.store.replace(&new, &self.record.blob).await {
                    Ok(true) => {
                        tracing::info!(account = %self.account, "access token refreshed and stored");
                        Ok(merged.access)
                    }
                    Ok(false) => {
                        // A login or another instance wrote a newer pair first: use it.
                        self.current_or(
                            self.transient("the stored token changed during the refresh"),
                        )
                        .await
                    }
                    Err(e) => {
                        tracing::error!(account = %self.account, error = %e,
                            "the refreshed token could not be stored; the previous one is kept");
                        Err(self.transient(format!("cannot store the refreshed token: {e}")))
                    }
                }
            }
            Err(OAuthError::Refused(why)) => {
                // Point 4: a newer pair may have been written meanwhile.
                if let Ok(Some(current)) = self.store.get(&self.account).await
                    && current.blob != self.record.blob
                    && !current.needs_operator
                    && let Ok(tokens) = current.open(&self.key)
                {
                    return Ok(tokens.access);
                }
                let reason = format!(
                    "the refresh token was refused ({why}); it was revoked or expired, or rotated by a refresh \
                     whose answer was lost"
                );
                tracing::warn!(account = %self.account, reason = %reason, "account needs an operator");
                let now = self.clock.now();
                if let Err(e) = self
                    .store
                    .mark_needs_operator(&self.account, &reason, now)
                    .await
                {
                    tracing::error!(account = %self.account, error = %e, "cannot flag the account");
                }
                Err(AuthError::NeedsLogin {
                    account: self.account.clone(),
                    why: reason,
                })
            }
            Err(e) => {
                tracing::warn!(account = %self.account, error = %e, "token refresh failed; will retry");
                self.fallback(self.transient(e.to_string()))
            }
        }
    }

    async fn current_or(&self, err: AuthError) -> Result<SecretString, AuthError> {
        match self.store.get(&self.account).await {
            Ok(Some(current)) if !current.needs_operator => match current.open(&self.key) {
                Ok(tokens) => Ok(tokens.access),
                Err(_) => Err(err),
            },
            _ => Err(err),
        }
    }
}
