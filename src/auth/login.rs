//! `berrah accounts login` as library functions, so that the whole flow runs
//! in tests without a terminal or a browser: the authorization URL goes to a
//! callback (the CLI prints it; a test visits it), the loopback listener
//! waits for the redirect, the code is exchanged and the tokens stored.

use std::time::Duration;

use jiff::Timestamp;
use secrecy::SecretString;

use super::crypto::TokenKey;
use super::oauth::{self, ClientCredentials, LoopbackListener, OAuthError, TokenAnswer};
use super::providers::{self, LoginKind, ProviderError};
use super::tokens::{TokenRecord, TokenSet, TokenStore, TokenStoreError, expiry_after};
use crate::config::{AccountConfig, PlatformKind};

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error(transparent)]
    OAuth(#[from] OAuthError),
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error("account `{account}`: {why}")]
    Client { account: String, why: String },
    #[error(transparent)]
    Store(#[from] TokenStoreError),
    #[error("cannot listen for the redirect on 127.0.0.1: {0}")]
    Listen(String),
    #[error(
        "account `{0}` signs in with a secret, not through a browser: use a prompt or `--from-env VAR`"
    )]
    NotOAuth(String),
}

/// What a login stored (no secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginSummary {
    pub account: String,
    pub access_expires_at: Option<Timestamp>,
    pub has_refresh_token: bool,
    /// The refresh token came from an earlier login (the answer carried none).
    pub kept_old_refresh_token: bool,
}

fn after(now: Timestamp, secs: Option<u64>) -> Option<Timestamp> {
    secs.map(|s| expiry_after(now, s))
}

/// Stores a token-endpoint answer for `account`, keeping the refresh token of
/// an earlier login when the answer carries none (a reconnect to Google
/// without `prompt=consent`, LinkedIn), and clearing `needs_operator`.
pub async fn save_answer(
    store: &dyn TokenStore,
    key: &TokenKey,
    account: &str,
    platform: PlatformKind,
    answer: &TokenAnswer,
    now: Timestamp,
) -> Result<LoginSummary, TokenStoreError> {
    let fresh = answer.tokens();
    let previous = store
        .get(account)
        .await?
        .and_then(|r| r.open(key).ok().map(|t| (r, t)));
    let had_new_refresh = fresh.refresh.is_some();
    let (tokens, refresh_expires_at) = match &previous {
        Some((old_record, old)) => {
            let merged = old.merged(fresh);
            let refresh_expires = match answer.refresh_expires_in_secs() {
                Some(s) => after(now, Some(s)),
                None if had_new_refresh => None,
                None => old_record.refresh_expires_at,
            };
            (merged, refresh_expires)
        }
        None => (fresh, after(now, answer.refresh_expires_in_secs())),
    };
    let kept_old = !had_new_refresh && tokens.refresh.is_some();
    let access_expires_at = after(now, answer.expires_in_secs());
    let record = TokenRecord::seal(
        key,
        account,
        platform,
        &tokens,
        access_expires_at,
        refresh_expires_at,
        now,
    );
    store.put(&record).await?;
    Ok(LoginSummary {
        account: account.to_string(),
        access_expires_at,
        has_refresh_token: tokens.refresh.is_some(),
        kept_old_refresh_token: kept_old,
    })
}

/// Stores a pasted secret (Page token, app password, bot token, webhook
/// secret), with its expiry if the operator knows it.
pub async fn save_secret(
    store: &dyn TokenStore,
    key: &TokenKey,
    account: &str,
    platform: PlatformKind,
    secret: SecretString,
    expires_at: Option<Timestamp>,
    now: Timestamp,
) -> Result<LoginSummary, TokenStoreError> {
    let tokens = TokenSet::new(secret, None);
    let record = TokenRecord::seal(key, account, platform, &tokens, expires_at, None, now);
    store.put(&record).await?;
    Ok(LoginSummary {
        account: account.to_string(),
        access_expires_at: expires_at,
        has_refresh_token: false,
        kept_old_refresh_token: false,
    })
}

/// The whole browser login of an OAuth account: listens on 127.0.0.1 (an
/// ephemeral port, or `options.redirect_port`), hands
/// the authorization URL to `show_url`, waits up to `timeout` for the
/// redirect that carries the login's `state` (a request without it gets an
/// error page and is ignored: the login keeps waiting), exchanges the code
/// with the PKCE verifier and stores the tokens.
pub async fn oauth_login(
    store: &dyn TokenStore,
    key: &TokenKey,
    account: &str,
    cfg: &AccountConfig,
    timeout: Duration,
    now: impl Fn() -> Timestamp,
    show_url: impl FnOnce(&url::Url),
) -> Result<LoginSummary, LoginError> {
    let LoginKind::OAuth(endpoints) = providers::login_kind(account, cfg)? else {
        return Err(LoginError::NotOAuth(account.to_string()));
    };
    let creds = ClientCredentials::from_config(cfg).map_err(|why| LoginError::Client {
        account: account.to_string(),
        why,
    })?;
    let port = match cfg.options.get("redirect_port") {
        None => 0,
        Some(v) => v
            .as_integer()
            .and_then(|p| u16::try_from(p).ok())
            .filter(|p| *p > 0)
            .ok_or_else(|| LoginError::Client {
                account: account.to_string(),
                why: "`options.redirect_port` must be a port number (1-65535), e.g. redirect_port = 8765"
                    .into(),
            })?,
    };
    let listener = LoopbackListener::bind_port(port)
        .await
        .map_err(|e| LoginError::Listen(format!("port {port}: {e}")))?;
    let pending = oauth::start_login(&endpoints, &creds, &listener.redirect_uri())?;
    show_url(&pending.url);
    let callback = listener.wait(timeout, pending.state_check()).await?;
    let answer = pending.finish(callback).await?;
    let summary = save_answer(store, key, account, cfg.platform, &answer, now()).await?;
    tracing::info!(account = %account, "account connected; tokens stored");
    Ok(summary)
}
