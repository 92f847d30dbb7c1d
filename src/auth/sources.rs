//! Where an account's credentials come from (`credentials = "env:VAR"`,
//! `"file:PATH"` or `"store"` in berrah.toml), what the daemon checks at start
//! (the token key), and the expiry warnings it logs and `status` shows.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use secrecy::SecretString;

use super::crypto::{CryptoError, TokenKey};
use super::providers;
use super::refresh::{Refresher, StoredCredentials};
use super::tokens::{TokenRecord, TokenStore, TokenStoreError, plus};
pub use super::vars::shown_var_name;
use super::{AuthError, Credentials};
use crate::config::AccountConfig;
use crate::time::{Clock, SystemClock};

/// A secret read from an environment variable at each use (so a rotated
/// value is picked up without a restart), trimmed.
pub struct EnvCredentials {
    pub account: String,
    pub var: String,
}

impl fmt::Debug for EnvCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "EnvCredentials({}: {})",
            self.account,
            shown_var_name(&self.var)
        )
    }
}

#[async_trait]
impl Credentials for EnvCredentials {
    async fn secret(&self) -> Result<SecretString, AuthError> {
        let config = |why: String| AuthError::Config {
            account: self.account.clone(),
            why,
        };
        match std::env::var(&self.var) {
            Ok(v) if !v.trim().is_empty() => Ok(SecretString::from(v.trim().to_string())),
            Ok(_) => Err(config(format!(
                "the environment variable `{}` is empty",
                self.var
            ))),
            Err(_) => Err(config(format!(
                "the environment variable `{}` is not set",
                self.var
            ))),
        }
    }
}

/// A secret read from a file at each use, trimmed.
pub struct FileCredentials {
    pub account: String,
    pub path: PathBuf,
}

impl fmt::Debug for FileCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "FileCredentials({}: {})",
            self.account,
            self.path.display()
        )
    }
}

#[async_trait]
impl Credentials for FileCredentials {
    async fn secret(&self) -> Result<SecretString, AuthError> {
        let config = |why: String| AuthError::Config {
            account: self.account.clone(),
            why,
        };
        warn_if_others_may_read(&self.account, &self.path).await;
        match tokio::fs::read_to_string(&self.path).await {
            Ok(v) if !v.trim().is_empty() => Ok(SecretString::from(v.trim().to_string())),
            Ok(_) => Err(config(format!(
                "the file `{}` is empty",
                self.path.display()
            ))),
            Err(e) => Err(config(format!(
                "cannot read `{}`: {}",
                self.path.display(),
                e.kind()
            ))),
        }
    }
}

/// Logs once per file (per process) that a `file:` credential file is
/// readable by group or others, with the `chmod` to run.
///
/// Warned, not refused as the token key file is: the key is read once at
/// start, where a refusal stops the daemon in front of its operator, while
/// a credential file is read at each publication of an unattended daemon,
/// where a refusal would hold posts mid-campaign; and the usual secret
/// mounts (Kubernetes secrets are 0644 by default, Docker's 0444) give that
/// mode inside a container where no other user exists.
async fn warn_if_others_may_read(account: &str, path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    static WARNED: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
    let Ok(meta) = tokio::fs::metadata(path).await else {
        return;
    };
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 == 0 {
        return;
    }
    {
        let mut warned = WARNED.lock().unwrap_or_else(|p| p.into_inner());
        if warned.iter().any(|p| p == path) {
            return;
        }
        warned.push(path.to_path_buf());
    }
    tracing::warn!(
        account,
        path = %path.display(),
        mode = format!("{mode:o}"),
        "the account's credential file is readable by other users: run `chmod 600 {}`",
        path.display()
    );
}

/// Where an account's `credentials` says its secret comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Env(String),
    File(PathBuf),
    Store,
}

impl Source {
    /// Parses `env:VAR`, `file:PATH` or `store`.
    pub fn parse(text: &str) -> Result<Source, String> {
        let text = text.trim();
        if let Some(var) = text.strip_prefix("env:") {
            if var.is_empty() {
                return Err("`env:` needs a variable name, e.g. \"env:OIM_FACEBOOK_TOKEN\"".into());
            }
            Ok(Source::Env(var.to_string()))
        } else if let Some(path) = text.strip_prefix("file:") {
            if path.is_empty() {
                return Err("`file:` needs a path, e.g. \"file:/run/secrets/oim-facebook\"".into());
            }
            Ok(Source::File(PathBuf::from(path)))
        } else if text == "store" {
            Ok(Source::Store)
        } else {
            // The value is not repeated: it may be a secret pasted by mistake.
            Err("`credentials` is not a source (its value is not shown, in case it is a secret): \
                 write \"env:VAR\", \"file:PATH\" or \"store\", and keep the secret itself out of berrah.toml"
                .to_string())
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Env(v) => write!(f, "env:{v}"),
            Source::File(p) => write!(f, "file:{}", p.display()),
            Source::Store => f.write_str("store"),
        }
    }
}

/// Builds accounts' credentials for the daemon.
#[derive(Clone)]
pub struct CredentialsFactory {
    pub store: Arc<dyn TokenStore>,
    pub key: Option<Arc<TokenKey>>,
    /// The folder relative `file:` paths are relative to (berrah.toml's).
    pub base_dir: PathBuf,
    pub clock: Arc<dyn Clock>,
}

impl CredentialsFactory {
    /// The credentials of one account. An account without `credentials`
    /// (the outbox) has none: `AuthError::Config`.
    pub fn for_account(
        &self,
        account: &str,
        cfg: &AccountConfig,
    ) -> Result<Arc<dyn Credentials>, AuthError> {
        let config = |why: String| AuthError::Config {
            account: account.to_string(),
            why,
        };
        let Some(spec) = &cfg.credentials else {
            return Err(config(
                "no `credentials` in berrah.toml: this account publishes to the local outbox"
                    .into(),
            ));
        };
        match Source::parse(spec.get_ref()).map_err(config)? {
            Source::Env(var) => Ok(Arc::new(EnvCredentials {
                account: account.to_string(),
                var,
            })),
            Source::File(path) => Ok(Arc::new(FileCredentials {
                account: account.to_string(),
                path: self.base_dir.join(path),
            })),
            Source::Store => {
                let key = self
                    .key
                    .clone()
                    .ok_or_else(|| config(CryptoError::NoKey.to_string()))?;
                let refresher = providers::oauth_endpoints(account, cfg)
                    .map_err(|e| config(e.why))?
                    .map(|endpoints| Refresher {
                        endpoints,
                        account: cfg.clone(),
                    });
                Ok(Arc::new(StoredCredentials::new(
                    account,
                    cfg.platform,
                    self.store.clone(),
                    key,
                    self.clock.clone(),
                    refresher,
                )))
            }
        }
    }
}

/// The credentials of one account, with the system clock and relative
/// `file:` paths taken from the current directory. The daemon, which knows
/// berrah.toml's folder, uses a [`CredentialsFactory`].
pub fn credentials_for(
    account: &str,
    cfg: &AccountConfig,
    store: Arc<dyn TokenStore>,
    key: Option<Arc<TokenKey>>,
) -> Result<Arc<dyn Credentials>, AuthError> {
    CredentialsFactory {
        store,
        key,
        base_dir: PathBuf::from("."),
        clock: Arc::new(SystemClock),
    }
    .for_account(account, cfg)
}

/// Why the daemon must not start.
#[derive(Debug, thiserror::Error)]
pub enum KeyCheckError {
    #[error("{count} account(s) have stored tokens ({accounts}) but {source}")]
    NoKey {
        count: usize,
        accounts: String,
        source: CryptoError,
    },
    #[error("the token key does not open the stored tokens of `{account}`: {source}")]
    WrongKey {
        account: String,
        source: CryptoError,
    },
    #[error(transparent)]
    Store(#[from] TokenStoreError),
    #[error(transparent)]
    Key(CryptoError),
}

/// The daemon calls this at start: once tokens are stored, it refuses to run
/// without a key, or with a key that opens none of them (a key that opens
/// some is right: the rows it cannot open hold only their own accounts).
pub async fn check_key_available(
    store: &dyn TokenStore,
    key: Option<&TokenKey>,
) -> Result<(), KeyCheckError> {
    let rows = store.list().await?;
    if rows.is_empty() {
        return Ok(());
    }
    let Some(key) = key else {
        return Err(KeyCheckError::NoKey {
            count: rows.len(),
            accounts: rows
                .iter()
                .map(|r| r.account.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            source: CryptoError::NoKey,
        });
    };
    // A key that opens no stored token is the wrong key: refuse to start.
    // One that opens some is the right one, and a row it cannot open was
    // altered or damaged: that account alone is held (its credentials say
    // so at each attempt) while the others publish.
    let mut unopened = Vec::new();
    for row in &rows {
        if let Err(source) = row.open(key) {
            unopened.push((row.account.as_str(), source));
        }
    }
    if unopened.len() == rows.len() {
        let (account, source) = unopened.swap_remove(0);
        return Err(KeyCheckError::WrongKey {
            account: account.to_string(),
            source,
        });
    }
    for (account, error) in unopened {
        tracing::error!(
            account,
            %error,
            "the stored token of this account cannot be opened with the key that opens the \
             others: its posts are held until `berrah accounts login {account}`"
        );
    }
    Ok(())
}

/// What the daemon calls at start: loads the key (`daemon.token_key`,
/// relative to `config_dir`, else `BERRAH_TOKEN_KEY`) and checks it against
/// the stored tokens. `Ok(None)`: no key and nothing stored (accounts use
/// variables, files or the outbox). Refuses a missing key once tokens exist,
/// a key that does not open them, and a malformed key.
pub async fn daemon_key(
    store: &crate::store::Store,
    token_key: Option<&str>,
    config_dir: &Path,
) -> Result<Option<Arc<TokenKey>>, KeyCheckError> {
    let key = TokenKey::load(token_key, config_dir).map_err(KeyCheckError::Key)?;
    let tokens = super::tokens::SqlTokenStore::from_store(store);
    check_key_available(&tokens, key.as_ref()).await?;
    Ok(key.map(Arc::new))
}

/// Loads the key from the config's `daemon.token_key` (relative to
/// `config_dir`) or `BERRAH_TOKEN_KEY`; `None` when neither is set.
pub fn load_key(
    token_key: Option<&str>,
    config_dir: &Path,
) -> Result<Option<TokenKey>, CryptoError> {
    TokenKey::load(token_key, config_dir)
}

/// What an expiry warning is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpiryKind {
    /// A token berrah cannot renew itself (Facebook/Instagram ~60 days, LinkedIn without refresh).
    AccessToken,
    /// A refresh token with a fixed end (LinkedIn's 365 days).
    RefreshToken,
    /// Already flagged: the refresh token was refused.
    NeedsLogin,
}

/// One account whose credentials need an operator soon (or now).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ExpiryWarning {
    pub account: String,
    pub platform: String,
    pub kind: ExpiryKind,
    pub expires_at: Option<Timestamp>,
    /// Whole days left (negative: expired that many days ago).
    pub days_left: Option<i64>,
    pub message: String,
}

/// How long before expiry warnings start.
pub const WARN_BEFORE: SignedDuration = SignedDuration::from_hours(14 * 24);

/// The warnings for these stored records at `now`, for tokens expiring
/// within `within` (pure: the daemon logs them, `status` shows them).
pub fn expiry_warnings(
    records: &[TokenRecord],
    now: Timestamp,
    within: SignedDuration,
) -> Vec<ExpiryWarning> {
    let mut out = Vec::new();
    for r in records {
        if r.needs_operator {
            out.push(ExpiryWarning {
                account: r.account.clone(),
                platform: r.platform.clone(),
                kind: ExpiryKind::NeedsLogin,
                expires_at: None,
                days_left: None,
                message: format!(
                    "`{}` needs `berrah accounts login {}`: {}",
                    r.account,
                    r.account,
                    r.reason.as_deref().unwrap_or("its token was refused")
                ),
            });
            continue;
        }
        let (kind, at) = if r.refreshable {
            (ExpiryKind::RefreshToken, r.refresh_expires_at)
        } else {
            (ExpiryKind::AccessToken, r.access_expires_at)
        };
        let Some(at) = at else { continue };
        if at > plus(now, within) {
            continue;
        }
        // Rounded to the nearest day: "in 9 days" right after a 9-day token.
        let secs = at.duration_since(now).as_secs();
        let days = if secs >= 0 {
            (secs + 43_200) / 86_400
        } else {
            -((-secs + 43_200) / 86_400)
        };
        let shown = at.strftime("%Y-%m-%d %H:%M UTC");
        let what = match kind {
            ExpiryKind::RefreshToken => "refresh token",
            _ => "token",
        };
        let message = if at <= now {
            format!(
                "the {what} of `{}` ({}) expired on {shown}: run `berrah accounts login {}`",
                r.account, r.platform, r.account
            )
        } else {
            format!(
                "the {what} of `{}` ({}) expires on {shown} (in {days} day(s)) and berrah cannot renew it: \
                 run `berrah accounts login {}` before then",
                r.account, r.platform, r.account
            )
        };
        out.push(ExpiryWarning {
            account: r.account.clone(),
            platform: r.platform.clone(),
            kind,
            expires_at: Some(at),
            days_left: Some(days),
            message,
        });
    }
    out
}

/// [`expiry_warnings`] over the whole store, with the default 14 days.
pub async fn stored_expiry_warnings(
    store: &dyn TokenStore,
    now: Timestamp,
) -> Result<Vec<ExpiryWarning>, TokenStoreError> {
    Ok(expiry_warnings(&store.list().await?, now, WARN_BEFORE))
}

/// What an `env:` or `file:` credential looks like now (never its value).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialState {
    /// The variable is set (and not blank).
    Set,
    /// The variable is not set.
    Missing,
    /// The variable or the file is there but empty.
    Empty,
    /// The file can be read.
    Readable,
    /// The file cannot be read (absent, permissions, a folder).
    Unreadable,
    /// `credentials` is not `env:VAR`, `file:PATH` or `store`.
    Invalid,
}

impl CredentialState {
    /// Whether the daemon can read the secret.
    pub fn is_ok(self) -> bool {
        matches!(self, CredentialState::Set | CredentialState::Readable)
    }
}

/// One account's `env:` or `file:` credential, checked (no secret in it).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CredentialCheck {
    pub account: String,
    pub platform: String,
    /// `env:OIM_X_TOKEN` or `file:PATH` (an unusual variable name is not shown).
    pub source: String,
    pub state: CredentialState,
    /// What is wrong, as a sentence (`None` when it is fine).
    pub problem: Option<String>,
    /// What fixes it (`None` when it is fine).
    pub fix: Option<String>,
}

/// What releases the posts an account holds because its credentials need
/// an operator, for its `credentials` source: `set OIM_X_TOKEN and restart
/// berrah` (env), `make FILE readable and restart berrah` (file), `berrah
/// accounts login NAME` (store, or anything else).
pub fn release_advice(account: &str, credentials: Option<&str>) -> String {
    match credentials.map(Source::parse) {
        Some(Ok(Source::Env(var))) => {
            let shown = shown_var_name(&var);
            if shown.starts_with('`') {
                format!("set {var} and restart berrah")
            } else {
                "set the variable named in berrah.toml's `credentials` and restart berrah"
                    .to_string()
            }
        }
        Some(Ok(Source::File(path))) => {
            format!("make {} readable and restart berrah", path.display())
        }
        Some(Err(_)) => format!(
            "fix `credentials` of `{account}` in berrah.toml (env:VAR, file:PATH or store) and \
             restart berrah"
        ),
        _ => format!("berrah accounts login {account}"),
    }
}

/// What releases an account's posts held for credentials, given what its
/// `env:` variable or `file:` (relative to `base_dir`) holds now: when it is
/// missing or unreadable, [`release_advice`]; when it is there (so the
/// platform refused its value), `set OIM_X_TOKEN to a working token and
/// restart berrah` or `put a working token in FILE and restart berrah`.
pub fn release_advice_now(account: &str, credentials: Option<&str>, base_dir: &Path) -> String {
    match credentials.map(Source::parse) {
        Some(Ok(Source::Env(var)))
            if shown_var_name(&var).starts_with('`')
                && std::env::var_os(&var)
                    .is_some_and(|v| !v.to_string_lossy().trim().is_empty()) =>
        {
            format!("set {var} to a working token and restart berrah")
        }
        Some(Ok(Source::File(path)))
            if std::fs::metadata(base_dir.join(&path))
                .is_ok_and(|m| m.is_file() && m.len() > 0) =>
        {
            format!(
                "put a working token in {} and restart berrah",
                path.display()
            )
        }
        _ => release_advice(account, credentials),
    }
}

/// [`release_advice_now`] for an account of berrah.toml (relative `file:`
/// paths against the factory's folder), as words after "until you": a
/// command is quoted (`` `berrah accounts login oim-x` ``).
pub fn held_release_words(
    account: &str,
    cfg: Option<&AccountConfig>,
    factory: Option<&CredentialsFactory>,
) -> String {
    let source = cfg
        .and_then(|c| c.credentials.as_ref())
        .map(|c| c.get_ref().as_str());
    let base_dir = factory
        .map(|f| f.base_dir.as_path())
        .unwrap_or(Path::new(""));
    let advice = release_advice_now(account, source, base_dir);
    if advice.starts_with("berrah ") {
        format!("run `{advice}`")
    } else {
        advice
    }
}

/// Checks every `env:` and `file:` credential of `config` (relative paths
/// against `base_dir`, berrah.toml's folder): set or missing, readable or
/// not. Never reads more of a file than its size, never shows a value.
/// Accounts on the outbox or the token store are not listed.
pub fn check_credentials(config: &crate::config::Config, base_dir: &Path) -> Vec<CredentialCheck> {
    let mut out = Vec::new();
    for (account, cfg) in &config.accounts {
        let Some(spec) = &cfg.credentials else {
            continue;
        };
        let platform = cfg.platform.to_string();
        let (source, state, problem) = match Source::parse(spec.get_ref()) {
            Ok(Source::Store) => continue,
            Ok(Source::Env(var)) => {
                let shown = shown_var_name(&var);
                let source = if shown.starts_with('`') {
                    format!("env:{var}")
                } else {
                    "env:(name not shown)".to_string()
                };
                match std::env::var_os(&var) {
                    None => (
                        source,
                        CredentialState::Missing,
                        Some(format!(
                            "the environment variable {shown} of `{account}` is not set"
                        )),
                    ),
                    Some(v) if v.to_string_lossy().trim().is_empty() => (
                        source,
                        CredentialState::Empty,
                        Some(format!(
                            "the environment variable {shown} of `{account}` is empty"
                        )),
                    ),
                    Some(_) => (source, CredentialState::Set, None),
                }
            }
            Ok(Source::File(path)) => {
                let full = base_dir.join(&path);
                let source = format!("file:{}", path.display());
                let state = match std::fs::File::open(&full).and_then(|f| f.metadata()) {
                    Ok(m) if m.is_dir() => Err("it is a folder".to_string()),
                    Ok(m) if m.len() == 0 => Ok(CredentialState::Empty),
                    Ok(_) => Ok(CredentialState::Readable),
                    Err(e) => Err(e.kind().to_string()),
                };
                match state {
                    Ok(CredentialState::Empty) => (
                        source,
                        CredentialState::Empty,
                        Some(format!(
                            "the credential file `{}` of `{account}` is empty",
                            full.display()
                        )),
                    ),
                    Ok(state) => (source, state, None),
                    Err(why) => (
                        source,
                        CredentialState::Unreadable,
                        Some(format!(
                            "the credential file `{}` of `{account}` cannot be read: {why}",
                            full.display()
                        )),
                    ),
                }
            }
            Err(_) => (
                "invalid".to_string(),
                CredentialState::Invalid,
                Some(format!(
                    "`credentials` of `{account}` is not env:VAR, file:PATH or store"
                )),
            ),
        };
        let fix = problem
            .as_ref()
            .map(|_| release_advice(account, Some(spec.get_ref())));
        out.push(CredentialCheck {
            account: account.clone(),
            platform,
            source,
            state,
            problem,
            fix,
        });
    }
    out
}

/// The `env:`/`file:` credentials that the daemon could not read now
/// (for `berrah check`, `status` and the daemon's start).
pub fn credential_problems(
    config: &crate::config::Config,
    base_dir: &Path,
) -> Vec<CredentialCheck> {
    check_credentials(config, base_dir)
        .into_iter()
        .filter(|c| !c.state.is_ok())
        .collect()
}

/// What the daemon does at start about `env:` and `file:` credentials: a
/// warning per missing or unreadable one (with the fix), and, for each
/// account whose credential is readable now, its posts held because the
/// credentials needed an operator go back in the queue (the operator set
/// the variable or fixed the file, then restarted: nothing else to run).
pub async fn check_at_daemon_start(
    store: &crate::store::Store,
    config: &crate::config::Config,
    base_dir: &Path,
) {
    let checks = check_credentials(config, base_dir);
    for c in checks.iter().filter(|c| !c.state.is_ok()) {
        tracing::warn!(
            account = %c.account,
            platform = %c.platform,
            source = %c.source,
            "{}: its posts will be held until you {}",
            c.problem.as_deref().unwrap_or("the credential cannot be read"),
            c.fix.as_deref().unwrap_or("fix it")
        );
    }
    let held = match store.accounts_held_for_credentials().await {
        Ok(h) => h,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the posts held for credentials");
            return;
        }
    };
    for (account, n) in held {
        let Some(c) = checks.iter().find(|c| c.account == account) else {
            continue;
        };
        if !c.state.is_ok() {
            continue;
        }
        match store.release_account(&account).await {
            Ok(released) if released > 0 => tracing::info!(
                account = %account,
                source = %c.source,
                held = n,
                released,
                "the account's credential can be read now: its held posts are scheduled again"
            ),
            Ok(_) => {}
            Err(e) => tracing::error!(
                account = %account,
                error = %e,
                "could not release the account's held posts"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_advice_matches_the_source() {
        assert_eq!(
            release_advice("oim-x", Some("env:OIM_X_TOKEN")),
            "set OIM_X_TOKEN and restart berrah"
        );
        assert_eq!(
            release_advice("oim-fb", Some("file:/run/secrets/fb")),
            "make /run/secrets/fb readable and restart berrah"
        );
        assert_eq!(
            release_advice("oim-li", Some("store")),
            "berrah accounts login oim-li"
        );
        assert_eq!(
            release_advice("oim-li", None),
            "berrah accounts login oim-li"
        );
        assert!(!release_advice("a", Some("env:EAAGsecret")).contains("EAAG"));
        // Present but refused by the platform: a working value, then restart.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("tg"), "123:refused").unwrap();
        assert_eq!(
            release_advice_now("oim-tg", Some("file:tg"), dir.path()),
            "put a working token in tg and restart berrah"
        );
        assert_eq!(
            release_advice_now("oim-tg", Some("file:nope"), dir.path()),
            "make nope readable and restart berrah"
        );
        assert_eq!(
            release_advice_now("oim-x", Some("env:PATH"), dir.path()),
            "set PATH to a working token and restart berrah"
        );
    }

    #[test]
    fn credentials_are_checked_without_showing_values() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ok"), "tok").unwrap();
        std::fs::write(dir.path().join("empty"), "").unwrap();
        let toml = "[accounts.a]\nplatform = \"x\"\ncredentials = \"env:BERRAH_TEST_UNSET_VAR_Q\"\n\
                    [accounts.b]\nplatform = \"x\"\ncredentials = \"file:ok\"\n\
                    [accounts.c]\nplatform = \"x\"\ncredentials = \"file:empty\"\n\
                    [accounts.d]\nplatform = \"x\"\ncredentials = \"file:nope\"\n\
                    [accounts.e]\nplatform = \"x\"\ncredentials = \"store\"\n\
                    [accounts.f]\nplatform = \"x\"\n";
        let config: crate::config::Config = toml::from_str(toml).unwrap();
        let checks = check_credentials(&config, dir.path());
        let states: Vec<(&str, CredentialState)> = checks
            .iter()
            .map(|c| (c.account.as_str(), c.state))
            .collect();
        assert_eq!(
            states,
            vec![
                ("a", CredentialState::Missing),
                ("b", CredentialState::Readable),
                ("c", CredentialState::Empty),
                ("d", CredentialState::Unreadable),
            ]
        );
        assert_eq!(
            checks[0].fix.as_deref(),
            Some("set BERRAH_TEST_UNSET_VAR_Q and restart berrah")
        );
        assert!(
            checks[3]
                .fix
                .as_deref()
                .unwrap()
                .starts_with("make nope readable")
        );
        assert_eq!(credential_problems(&config, dir.path()).len(), 3);
    }

    fn rec(
        account: &str,
        refreshable: bool,
        access: Option<i64>,
        refresh: Option<i64>,
    ) -> TokenRecord {
        TokenRecord {
            account: account.into(),
            platform: "facebook".into(),
            blob: vec![],
            access_expires_at: access
                .map(|d| Timestamp::UNIX_EPOCH + SignedDuration::from_hours(24 * d)),
            refresh_expires_at: refresh
                .map(|d| Timestamp::UNIX_EPOCH + SignedDuration::from_hours(24 * d)),
            refreshable,
            needs_operator: false,
            reason: None,
            updated_at: Timestamp::UNIX_EPOCH,
        }
    }

    #[test]
    fn warns_only_for_what_cannot_be_renewed_soon() {
        let now = Timestamp::UNIX_EPOCH;
        let records = vec![
            rec("fb-soon", false, Some(10), None),
            rec("fb-later", false, Some(50), None),
            rec("x-refreshable", true, Some(0), None),
            rec("li-refresh-ending", true, Some(50), Some(5)),
            rec("fb-expired", false, Some(-2), None),
            rec("tg-never", false, None, None),
        ];
        let w = expiry_warnings(&records, now, WARN_BEFORE);
        let names: Vec<_> = w.iter().map(|w| w.account.as_str()).collect();
        assert_eq!(names, vec!["fb-soon", "li-refresh-ending", "fb-expired"]);
        assert_eq!(w[0].days_left, Some(10));
        assert!(w[2].message.contains("expired"));
        assert_eq!(w[1].kind, ExpiryKind::RefreshToken);
    }

    #[test]
    fn sources_parse_with_helpful_errors() {
        assert_eq!(Source::parse("env:A"), Ok(Source::Env("A".into())));
        assert_eq!(Source::parse("store"), Ok(Source::Store));
        assert!(Source::parse("env:").is_err());
        let err = Source::parse("secret123").unwrap_err();
        assert!(err.contains("env:VAR") && !err.contains("secret123"));
    }

    #[tokio::test]
    async fn env_credentials_name_the_variable_never_a_value() {
        let c = EnvCredentials {
            account: "a".into(),
            var: "BERRAH_TEST_UNSET_VARIABLE_XYZ".into(),
        };
        let err = c.secret().await.unwrap_err();
        assert!(matches!(err, AuthError::Config { .. }));
        assert!(err.to_string().contains("BERRAH_TEST_UNSET_VARIABLE_XYZ"));
    }

    #[tokio::test]
    async fn file_credentials_trim() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s");
        std::fs::write(&p, "  tok \n").unwrap();
        let c = FileCredentials {
            account: "a".into(),
            path: p,
        };
        use secrecy::ExposeSecret;
        assert_eq!(c.secret().await.unwrap().expose_secret(), "tok");
    }
}
