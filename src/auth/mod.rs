//! Accounts' credentials: OAuth 2.0 and the encrypted token store.
//!
//! Platforms never read tokens from anywhere themselves: they get an
//! `Arc<dyn Credentials>` and ask it for the current secret each time they
//! need one, so refresh and rotation happen in one place.

use async_trait::async_trait;
use secrecy::SecretString;

pub mod crypto;
pub mod login;
pub mod oauth;
pub mod providers;
pub mod refresh;
pub mod sources;
pub mod tokens;
pub mod vars;

pub use self::crypto::{CryptoError, TokenKey};
pub use self::refresh::StoredCredentials;
pub use self::sources::{
    CredentialsFactory, EnvCredentials, ExpiryWarning, FileCredentials, check_key_available,
    credentials_for, expiry_warnings,
};
pub use self::tokens::{
    MemoryTokenStore, SqlTokenStore, TokenDb, TokenRecord, TokenSet, TokenStore,
};

/// The source of an account's current secret.
///
/// What the secret is depends on the platform: an OAuth access token (X,
/// LinkedIn, YouTube, Mastodon), a long-lived Page token (Facebook, Instagram),
/// an app password (Bluesky, which makes its own sessions from it), a bot token
/// (Telegram), or a signing secret (webhooks).
#[async_trait]
pub trait Credentials: Send + Sync {
    /// The secret to use now, refreshed first if it is about to expire.
    async fn secret(&self) -> Result<SecretString, AuthError>;

    /// The platform refused `rejected` (HTTP 401 before its expiry: revoked,
    /// or renewed elsewhere): renew it now if this source can, and return the
    /// secret to retry with ONCE. If it returns the same secret again, there
    /// is nothing better: the caller reports the account for an operator.
    ///
    /// The default (fixed secrets, variables, files) returns the current
    /// secret, which picks up a rotated file.
    async fn renew_rejected(&self, rejected: &SecretString) -> Result<SecretString, AuthError> {
        let _ = rejected;
        self.secret().await
    }
}

/// A fixed secret: from an environment variable or a file, and in tests.
pub struct StaticCredentials(pub SecretString);

impl std::fmt::Debug for StaticCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StaticCredentials([redacted])")
    }
}

#[async_trait]
impl Credentials for StaticCredentials {
    async fn secret(&self) -> Result<SecretString, AuthError> {
        Ok(self.0.clone())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The account needs an operator: `berrah accounts login ACCOUNT`.
    #[error("account `{account}` needs `berrah accounts login {account}`: {why}")]
    NeedsLogin { account: String, why: String },
    /// A transient failure (the token endpoint is down): try again later.
    #[error("cannot refresh the token of `{account}` now: {why}")]
    Transient { account: String, why: String },
    #[error("credentials of `{account}`: {why}")]
    Config { account: String, why: String },
}
