//! `berrah.toml`: the accounts and the daemon's settings.
//!
//! Accounts live here, never in campaign files: an account id maps to a
//! platform, a handle or page/channel id, an optional API base URL and where its
//! credentials come from. No secret is ever written in this file either: a
//! credential source names an environment variable, a file, or the encrypted
//! token store filled by `berrah accounts login`.
//!
//! An account without `credentials` publishes to the local outbox (a JSON Lines
//! file), so that the example campaigns run end to end on a fresh machine.

mod read;

pub use read::{check_config, read_config, read_config_partial};

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_spanned::Spanned;

/// The platforms berrah publishes to.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum PlatformKind {
    Mastodon,
    Bluesky,
    X,
    Facebook,
    Instagram,
    Linkedin,
    Youtube,
    Telegram,
    Webhook,
}

impl PlatformKind {
    pub const ALL: [PlatformKind; 9] = [
        PlatformKind::Mastodon,
        PlatformKind::Bluesky,
        PlatformKind::X,
        PlatformKind::Facebook,
        PlatformKind::Instagram,
        PlatformKind::Linkedin,
        PlatformKind::Youtube,
        PlatformKind::Telegram,
        PlatformKind::Webhook,
    ];

    /// The name used in files, logs and JSON (`"x"`, `"facebook"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            PlatformKind::Mastodon => "mastodon",
            PlatformKind::Bluesky => "bluesky",
            PlatformKind::X => "x",
            PlatformKind::Facebook => "facebook",
            PlatformKind::Instagram => "instagram",
            PlatformKind::Linkedin => "linkedin",
            PlatformKind::Youtube => "youtube",
            PlatformKind::Telegram => "telegram",
            PlatformKind::Webhook => "webhook",
        }
    }

    pub fn from_name(name: &str) -> Option<PlatformKind> {
        PlatformKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The official API host, used when an account sets no `base_url`.
    /// Mastodon and webhooks have none: every instance or receiver is its own.
    pub fn default_base_url(self) -> Option<&'static str> {
        match self {
            PlatformKind::Mastodon | PlatformKind::Webhook => None,
            PlatformKind::Bluesky => Some("https://bsky.social"),
            PlatformKind::X => Some("https://api.x.com"),
            PlatformKind::Facebook | PlatformKind::Instagram => Some("https://graph.facebook.com"),
            PlatformKind::Linkedin => Some("https://api.linkedin.com"),
            PlatformKind::Youtube => Some("https://www.googleapis.com"),
            PlatformKind::Telegram => Some("https://api.telegram.org"),
        }
    }
}

impl fmt::Display for PlatformKind {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The whole `berrah.toml`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub daemon: DaemonConfig,
    /// Accounts by id: `[accounts.oim-maroc-facebook]`.
    #[serde(default)]
    pub accounts: BTreeMap<String, AccountConfig>,
    /// Where alerts go and on what: `[[alerts]]` (see `crate::alerts::config`).
    #[serde(default)]
    pub alerts: Vec<crate::alerts::config::AlertConfig>,
    /// The web console served by `berrah run`: `[console]`.
    #[serde(default)]
    pub console: ConsoleConfig,
    /// Accounts written in the file but left out for their errors (`berrah
    /// check` with a broken `berrah.toml`): campaigns naming them get no
    /// knock-on "unknown account" error, the file's own error says it all.
    #[serde(skip)]
    #[schemars(skip)]
    pub broken_accounts: std::collections::BTreeSet<String>,
}

/// The `[daemon]` table. Every field has a default; command-line flags and
/// environment variables override it.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct DaemonConfig {
    /// Folder of the campaign files, relative to `berrah.toml`.
    pub campaigns: PathBuf,
    /// Folder of the SQLite database, the outbox and other state, relative to `berrah.toml`.
    pub data_dir: PathBuf,
    /// `sqlite://...` or `postgres://...`; default: `sqlite://<data_dir>/berrah.db`.
    /// `DATABASE_URL` and `--database` override it.
    pub database: Option<String>,
    /// How late a post may go out when neither its campaign nor the post says (default `"24h"`).
    pub expires_after: String,
    /// Attempts before a transiently failing post is marked failed.
    pub max_attempts: u32,
    /// Lease of a claimed post, renewed while it is being published.
    pub lease_seconds: u32,
    /// Publications under way at once, all accounts together, from the
    /// claim to the recorded outcome (default 32).
    pub workers: u32,
    /// Requests in flight at once to one platform, all its accounts
    /// together (default 16): a publication's slot frees when the platform
    /// answers, while its outcome is recorded. Webhooks count per receiving
    /// host (the host of each account's `base_url`), not as one platform.
    /// An account's own `concurrency` (default 1) limits it further, from
    /// the claim to the recorded outcome.
    pub per_platform: u32,
    /// Where the key that encrypts stored tokens comes from (`env:VAR` or `file:PATH`).
    pub token_key: Option<String>,
    /// The time-zone database: `"auto"` (the newer of the system's and the
    /// copy bundled in berrah), `"bundled"`, `"system"`, or a zoneinfo folder.
    /// `--tzdb` and `BERRAH_TZDB` override it.
    pub tzdb: String,
    /// Serve `/healthz`, `/readyz` and `/metrics` (Prometheus) on this
    /// address, e.g. `"127.0.0.1:9464"` (a port alone means 127.0.0.1); off
    /// when unset. `--listen` overrides it.
    pub listen: Option<String>,
}

impl Default for DaemonConfig {
    fn default() -> Self {
        DaemonConfig {
            campaigns: PathBuf::from("campaigns"),
            data_dir: PathBuf::from("data"),
            database: None,
            expires_after: "24h".to_string(),
            max_attempts: 8,
            lease_seconds: 60,
            workers: 32,
            per_platform: 16,
            token_key: None,
            tzdb: "auto".to_string(),
            listen: None,
        }
    }
}

/// The `[console]` table: the web console (the calendar and the operators'
/// board) that `berrah run` serves on its listener.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ConsoleConfig {
    /// Serve the console on the daemon's listener (`daemon.listen` or
    /// `--listen`; `127.0.0.1:9464` when neither is set). Off by default.
    pub enabled: bool,
    /// Where the console's access token comes from: `"env:VAR"` or
    /// `"file:PATH"` (relative to `berrah.toml`), never the token itself.
    /// Required to listen on an address other than loopback; when set, every
    /// console request must carry it (`Authorization: Bearer`, or the login
    /// form's cookie).
    pub token: Option<String>,
}

/// One account, `[accounts.<id>]`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountConfig {
    pub platform: PlatformKind,
    /// A name for people (`"OIM Maroc"`), shown in status and logs.
    pub name: Option<String>,
    /// The handle, page id, channel id, chat id or organization URN the account publishes as.
    pub handle: Option<String>,
    /// The API base URL: a Mastodon instance, a self-hosted PDS, a webhook URL, a test server.
    pub base_url: Option<String>,
    /// Where credentials come from: `env:VAR`, `file:PATH` or `store` (after `berrah accounts login`).
    /// Without credentials the account publishes to the local outbox.
    #[schemars(with = "Option<String>")]
    pub credentials: Option<Spanned<String>>,
    /// Languages this account publishes; default: every language of the post.
    pub languages: Option<Vec<String>>,
    /// Character limit, where the platform's own is configurable (Mastodon: 500).
    pub max_chars: Option<usize>,
    /// A posting budget: the daemon holds (never fails) what would exceed it.
    pub budget: Option<Budget>,
    /// Publications in flight at once on this account (default 1).
    pub concurrency: Option<u32>,
    /// Webhook accounts: the receiver drops a request whose `X-Berrah-Delivery`
    /// it has already received, so an attempt whose outcome is unknown is sent
    /// again with the same delivery id instead of being held for an operator.
    #[serde(default)]
    pub dedupe_by_delivery: bool,
    /// Platform-specific settings (Mastodon `visibility`, YouTube `privacy`, webhook `format`, ...).
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, serde_json::Value>")]
    pub options: toml::Table,
}

impl AccountConfig {
    /// The API base URL: the account's own, or the platform's official host.
    pub fn base_url(&self) -> Option<&str> {
        self.base_url
            .as_deref()
            .or(self.platform.default_base_url())
    }

    /// Whether this account publishes to a real platform (it has credentials)
    /// or to the local outbox.
    pub fn uses_outbox(&self) -> bool {
        self.credentials.is_none()
    }

    /// A platform option as a string, e.g. `visibility` for Mastodon.
    pub fn option_str(&self, key: &str) -> Option<&str> {
        self.options.get(key).and_then(|v| v.as_str())
    }
}

/// A posting budget of an account.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    pub per_day: Option<u32>,
    pub per_month: Option<u32>,
}
