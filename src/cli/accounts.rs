//! `berrah accounts login | list | logout`: connecting accounts.
//!
//! Secrets never come from the command line (they would land in shell
//! history and `ps`): OAuth accounts sign in through the browser, and the
//! others paste their secret at a prompt that does not echo, or name an
//! environment variable with `--from-env VAR`.

use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use jiff::{SignedDuration, Timestamp};
use secrecy::SecretString;

use super::GlobalArgs;
use super::context::{self, Loaded};
use crate::auth::crypto::TokenKey;
use crate::auth::login;
use crate::auth::providers::{self, LoginKind};
use crate::auth::sources::{self, Source};
use crate::auth::tokens::{SqlTokenStore, TokenRecord, TokenStore};
use crate::config::{AccountConfig, Config, PlatformKind};
use crate::store::Store;

#[derive(Debug, Args)]
pub struct AccountsArgs {
    #[command(subcommand)]
    pub command: AccountsCommand,
}

#[derive(Debug, Subcommand)]
pub enum AccountsCommand {
    /// Connect an account: browser sign-in (OAuth) or a secret read without echo.
    Login(LoginArgs),
    /// List the accounts of berrah.toml with their credentials' state (never a secret).
    List(ListArgs),
    /// Remove an account's stored tokens.
    Logout(LogoutArgs),
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The account id, as in `[accounts.<id>]` of berrah.toml.
    pub account: String,
    /// Read the secret from this environment variable instead of a prompt
    /// (for accounts that sign in with a secret, or a ready-made access token).
    #[arg(long, value_name = "VAR")]
    pub from_env: Option<String>,
    /// Do not try to open a browser: only print the authorization URL.
    #[arg(long)]
    pub no_browser: bool,
    /// When a pasted token stops working, in days from now (Facebook/Instagram
    /// long-lived tokens: 60), so that berrah warns before it does.
    #[arg(long, value_name = "DAYS", conflicts_with = "expires_at")]
    pub expires_in_days: Option<u32>,
    /// When a pasted token stops working (RFC 3339, e.g. 2027-01-20T00:00:00Z).
    #[arg(long, value_name = "INSTANT")]
    pub expires_at: Option<Timestamp>,
    /// How long to wait for the browser's redirect, in seconds.
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    pub timeout: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
}

#[derive(Debug, Args)]
pub struct LogoutArgs {
    pub account: String,
}

pub fn run(global: &GlobalArgs, args: AccountsArgs) -> ExitCode {
    crate::logging::init(global.log_format);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return super::fail(format!("cannot start the runtime: {e}")),
    };
    let result = runtime.block_on(async {
        match args.command {
            AccountsCommand::Login(a) => login_cmd(global, a).await,
            AccountsCommand::List(a) => list_cmd(global, a).await,
            AccountsCommand::Logout(a) => logout_cmd(global, a).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(message) => super::fail(message),
    }
}

/// berrah.toml (checked as every command checks it), its folder and "now".
fn load(global: &GlobalArgs) -> Result<Loaded, String> {
    context::load(global).map_err(|report| {
        eprint!("{}", report.render());
        "the configuration cannot be loaded".to_string()
    })
}

/// Opens the daemon's database (migrating it if needed) and its token store.
async fn open_store(url: &str) -> Result<(Store, SqlTokenStore), String> {
    let store = Store::connect(url)
        .await
        .map_err(|e| format!("cannot open the database: {e}"))?;
    let tokens = SqlTokenStore::from_store(&store);
    Ok((store, tokens))
}

fn account<'a>(loaded: &'a Loaded, id: &str) -> Result<&'a AccountConfig, String> {
    loaded.config.accounts.get(id).ok_or_else(|| {
        let known: Vec<&str> = loaded.config.accounts.keys().map(String::as_str).collect();
        if loaded.config_path.is_none() {
            format!(
                "no account `{id}`: there is no configuration file (`{}`); create it with \
                 `[accounts.{id}]`, or name it with `--config FILE`",
                context::DEFAULT_CONFIG
            )
        } else if known.is_empty() {
            format!("no account `{id}`: berrah.toml declares no accounts (add `[accounts.{id}]`)")
        } else {
            super::names::unknown("account", id, known.iter().copied())
        }
    })
}

async fn login_cmd(global: &GlobalArgs, args: LoginArgs) -> Result<ExitCode, String> {
    let loaded = load(global)?;
    let cfg = match account(&loaded, &args.account) {
        Ok(c) => c.clone(),
        Err(message) => {
            eprintln!("error: {message}");
            return Ok(ExitCode::from(2));
        }
    };
    let key = TokenKey::require(
        loaded.config.daemon.token_key.as_deref(),
        &loaded.config_dir(),
    )
    .map_err(|e| e.to_string())?;
    let (queue, store) = open_store(&context::database_url(global, &loaded)).await?;
    let kind = providers::login_kind(&args.account, &cfg).map_err(|e| e.to_string())?;
    let expires_at = match (args.expires_at, args.expires_in_days) {
        (Some(at), _) => Some(at),
        (None, Some(days)) => Some(crate::auth::tokens::plus(
            loaded.now,
            SignedDuration::from_hours(24 * i64::from(days)),
        )),
        (None, None) => None,
    };

    let summary = match (&kind, &args.from_env) {
        (_, Some(var)) => {
            let value = std::env::var(var)
                .map_err(|_| format!("the environment variable `{var}` is not set"))?;
            let value = value.trim();
            if value.is_empty() {
                return Err(format!("the environment variable `{var}` is empty"));
            }
            refuse_cleartext_webhook(cfg.platform, value)?;
            login::save_secret(
                &store,
                &key,
                &args.account,
                cfg.platform,
                SecretString::from(value.to_string()),
                expires_at,
                loaded.now,
            )
            .await
            .map_err(|e| e.to_string())?
        }
        (LoginKind::Secret { what }, None) => {
            let prompt = format!(
                "Paste {what} for `{}` (nothing is shown as you type), then Enter: ",
                args.account
            );
            let value = rpassword::prompt_password(prompt).map_err(|e| {
                format!(
                    "cannot read the secret from the terminal ({e}); without a terminal, use `--from-env VAR`"
                )
            })?;
            let value = value.trim();
            if value.is_empty() {
                return Err("nothing was pasted; nothing stored".into());
            }
            refuse_cleartext_webhook(cfg.platform, value)?;
            login::save_secret(
                &store,
                &key,
                &args.account,
                cfg.platform,
                SecretString::from(value.to_string()),
                expires_at,
                loaded.now,
            )
            .await
            .map_err(|e| e.to_string())?
        }
        (LoginKind::OAuth(_), None) => {
            let no_browser = args.no_browser;
            login::oauth_login(
                &store,
                &key,
                &args.account,
                &cfg,
                Duration::from_secs(args.timeout),
                Timestamp::now,
                |url| {
                    let mut out = std::io::stdout().lock();
                    let _ = writeln!(
                        out,
                        "Open this address in a browser signed in as the account's owner:\n\n  {url}\n\nWaiting for the authorization (up to {} seconds)...",
                        args.timeout
                    );
                    let _ = out.flush();
                    if !no_browser {
                        try_open_browser(url.as_str());
                    }
                },
            )
            .await
            .map_err(|e| e.to_string())?
        }
    };

    let until = match summary.access_expires_at {
        Some(at) => format!("valid until {}", at.strftime("%Y-%m-%d %H:%M UTC")),
        None => "no expiry given".to_string(),
    };
    let renew = if summary.has_refresh_token {
        "berrah renews it itself"
    } else {
        "berrah cannot renew it: log in again before it expires"
    };
    println!(
        "Connected `{}`: token stored ({until}; {renew}).",
        args.account
    );
    // Posts held because this account needed an operator go back in the queue.
    match queue.release_account(&args.account).await {
        Ok(0) => {}
        Ok(n) => println!(
            "{n} held post(s) of `{}` are scheduled again.",
            args.account
        ),
        Err(e) => eprintln!(
            "warning: the token is stored, but the held posts of `{}` could not be released: {e}; \
             run `berrah retry` on them",
            args.account
        ),
    }
    let actor = super::ops::Actor::cli(&loaded);
    super::ops::record(
        &queue,
        &actor,
        "login",
        format!("account {}", args.account),
        vec![],
        &format!("connected `{}`: token stored", args.account),
    )
    .await;
    for w in actor.take_warnings() {
        eprintln!("warning: {w}");
    }
    match cfg.credentials.as_ref().map(|c| Source::parse(c.get_ref())) {
        Some(Ok(Source::Store)) => {}
        _ => println!(
            "note: berrah.toml does not say `credentials = \"store\"` for `{}`; add it so that the daemon uses the stored token.",
            args.account
        ),
    }
    Ok(ExitCode::SUCCESS)
}

/// A webhook URL kept as a secret (Slack, Teams, Discord) carries its own
/// credential: over plain `http://` to anything but loopback anyone on the
/// way could read and reuse it, so it is refused here, before it is stored,
/// as the daemon would refuse it at publish time. The value is never shown.
fn refuse_cleartext_webhook(platform: PlatformKind, value: &str) -> Result<(), String> {
    if platform == PlatformKind::Webhook
        && url::Url::parse(value).is_ok_and(|u| crate::http::cleartext(&u))
    {
        return Err(
            "this webhook URL uses plain http:// to a host that is not this machine: anyone on \
             the way could read it and post with it. Nothing was stored: paste the https:// URL \
             the receiving service gives"
                .into(),
        );
    }
    Ok(())
}

/// Best effort: opens the URL in the desktop's browser where there is one.
/// Failure is fine: the URL is printed anyway.
///
/// The opener (and the browser it starts, which may run long after berrah
/// exits) gets only what a desktop program needs ([`browser_env`]): never
/// the token key or a client secret that berrah's environment may hold.
fn try_open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") {
        Some("open")
    } else if std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some()
    {
        Some("xdg-open")
    } else {
        None
    };
    if let Some(cmd) = opener {
        let _ = std::process::Command::new(cmd)
            .arg(url)
            .env_clear()
            .envs(browser_env(std::env::vars_os()))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
    }
}

/// The variables a browser needs to find the desktop session, the user's
/// profile and language, out of `vars`: nothing else (`BERRAH_TOKEN_KEY`,
/// client secrets, `DATABASE_URL` stay behind), and no name that looks like
/// a secret even under an allowed prefix.
fn browser_env(
    vars: impl Iterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
) -> Vec<(std::ffi::OsString, std::ffi::OsString)> {
    const NAMES: &[&str] = &[
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "SHELL",
        "TMPDIR",
        "LANG",
        "LANGUAGE",
        "DISPLAY",
        "WAYLAND_DISPLAY",
        "XAUTHORITY",
        "DBUS_SESSION_BUS_ADDRESS",
        "BROWSER",
        "DESKTOP_SESSION",
        "KDE_FULL_SESSION",
        "KDE_SESSION_VERSION",
        "GNOME_DESKTOP_SESSION_ID",
    ];
    const PREFIXES: &[&str] = &["XDG_", "LC_"];
    const SECRET_WORDS: &[&str] = &["KEY", "SECRET", "TOKEN", "PASSWORD", "PASSWD", "CREDENTIAL"];
    vars.filter(|(name, _)| {
        let Some(name) = name.to_str() else {
            return false;
        };
        let upper = name.to_ascii_uppercase();
        (NAMES.contains(&name) || PREFIXES.iter().any(|p| name.starts_with(p)))
            && !SECRET_WORDS.iter().any(|w| upper.contains(w))
    })
    .collect()
}

/// Shown instead of a `credentials` value that is not a source.
const INVALID_SOURCE: &str = "invalid (write env:VAR, file:PATH or store)";

#[derive(serde::Serialize)]
struct Row {
    account: String,
    platform: String,
    handle: Option<String>,
    credentials: String,
    /// For `env:`/`file:`: `set`, `missing`, `empty`, `readable`,
    /// `unreadable` (never the value).
    credential_state: Option<sources::CredentialState>,
    /// What is wrong with it, and what fixes it.
    credential_problem: Option<String>,
    credential_fix: Option<String>,
    token_stored: bool,
    access_expires_at: Option<Timestamp>,
    refresh_expires_at: Option<Timestamp>,
    renewable: Option<bool>,
    needs_operator: bool,
    reason: Option<String>,
}

fn rows(config: &Config, tokens: &[TokenRecord]) -> Vec<Row> {
    let mut out = Vec::new();
    for (id, cfg) in &config.accounts {
        let token = tokens.iter().find(|t| &t.account == id);
        // Only a well-formed source is shown: a value that is not one may be
        // a secret pasted into berrah.toml by mistake.
        let credentials = match &cfg.credentials {
            None => "outbox".to_string(),
            Some(c) => match Source::parse(c.get_ref()) {
                Ok(source) => source.to_string(),
                Err(_) => INVALID_SOURCE.to_string(),
            },
        };
        out.push(Row {
            account: id.clone(),
            platform: cfg.platform.to_string(),
            handle: cfg.handle.clone(),
            credentials,
            credential_state: None,
            credential_problem: None,
            credential_fix: None,
            token_stored: token.is_some(),
            access_expires_at: token.and_then(|t| t.access_expires_at),
            refresh_expires_at: token.and_then(|t| t.refresh_expires_at),
            renewable: token.map(|t| t.refreshable),
            needs_operator: token.is_some_and(|t| t.needs_operator)
                || (token.is_none()
                    && cfg
                        .credentials
                        .as_ref()
                        .is_some_and(|c| c.get_ref().trim() == "store")),
            reason: match token {
                Some(t) => t.reason.clone(),
                None if cfg
                    .credentials
                    .as_ref()
                    .is_some_and(|c| c.get_ref().trim() == "store") =>
                {
                    Some(format!("no token stored: run `berrah accounts login {id}`"))
                }
                None => None,
            },
        });
    }
    for t in tokens {
        if !config.accounts.contains_key(&t.account) {
            out.push(Row {
                account: t.account.clone(),
                platform: t.platform.clone(),
                handle: None,
                credentials: "(not in berrah.toml)".into(),
                credential_state: None,
                credential_problem: None,
                credential_fix: None,
                token_stored: true,
                access_expires_at: t.access_expires_at,
                refresh_expires_at: t.refresh_expires_at,
                renewable: Some(t.refreshable),
                needs_operator: t.needs_operator,
                reason: t.reason.clone(),
            });
        }
    }
    out
}

async fn list_cmd(global: &GlobalArgs, args: ListArgs) -> Result<ExitCode, String> {
    let loaded = load(global)?;
    let (_queue, store) = open_store(&context::database_url(global, &loaded)).await?;
    let tokens = store.list().await.map_err(|e| e.to_string())?;
    let mut rows = rows(&loaded.config, &tokens);
    for c in sources::check_credentials(&loaded.config, &loaded.config_dir()) {
        if let Some(r) = rows.iter_mut().find(|r| r.account == c.account) {
            r.credential_state = Some(c.state);
            r.credential_problem = c.problem;
            r.credential_fix = c.fix;
        }
    }
    let warnings = sources::expiry_warnings(&tokens, loaded.now, sources::WARN_BEFORE);
    match args.format {
        ListFormat::Json => {
            let doc = serde_json::json!({ "accounts": rows, "warnings": warnings });
            println!(
                "{}",
                serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?
            );
        }
        ListFormat::Table => {
            let headers = [
                "ACCOUNT",
                "PLATFORM",
                "HANDLE",
                "CREDENTIALS",
                "EXPIRES",
                "STATE",
            ];
            let table: Vec<[String; 6]> = rows
                .iter()
                .map(|r| {
                    let expires = match (r.token_stored, r.access_expires_at) {
                        (false, _) => "-".to_string(),
                        (true, None) => "never".to_string(),
                        (true, Some(at)) => at.strftime("%Y-%m-%d %H:%M UTC").to_string(),
                    };
                    use sources::CredentialState as C;
                    let state = if r.credentials == INVALID_SOURCE {
                        "NEEDS FIX in berrah.toml".to_string()
                    } else if let Some(c) = r.credential_state {
                        match c {
                            C::Set => "ok (variable set)",
                            C::Readable => "ok (file readable)",
                            C::Missing => "NEEDS FIX: variable not set",
                            C::Empty => "NEEDS FIX: empty",
                            C::Unreadable => "NEEDS FIX: file unreadable",
                            C::Invalid => "NEEDS FIX in berrah.toml",
                        }
                        .to_string()
                    } else if r.needs_operator {
                        "NEEDS LOGIN".to_string()
                    } else if r.credentials == "outbox" {
                        "local outbox".to_string()
                    } else if r.renewable == Some(true) {
                        "ok (renewed by berrah)".to_string()
                    } else {
                        "ok".to_string()
                    };
                    [
                        r.account.clone(),
                        r.platform.clone(),
                        r.handle.clone().unwrap_or_else(|| "-".into()),
                        r.credentials.clone(),
                        expires,
                        state,
                    ]
                })
                .collect();
            let mut widths = headers.map(str::len);
            for row in &table {
                for (w, cell) in widths.iter_mut().zip(row) {
                    *w = (*w).max(cell.chars().count());
                }
            }
            let line = |cells: &[String]| {
                cells
                    .iter()
                    .zip(widths)
                    .map(|(c, w)| format!("{c:<w$}"))
                    .collect::<Vec<_>>()
                    .join("  ")
                    .trim_end()
                    .to_string()
            };
            println!("{}", line(&headers.map(String::from)));
            for row in &table {
                println!("{}", line(row));
            }
            for r in &rows {
                if let (Some(problem), Some(fix)) = (&r.credential_problem, &r.credential_fix) {
                    println!("\n{}: {problem}: {fix}", r.account);
                }
            }
            for r in rows.iter().filter(|r| r.needs_operator) {
                if let Some(reason) = &r.reason {
                    println!("\n{}: {reason}", r.account);
                }
            }
            for w in &warnings {
                if w.kind != sources::ExpiryKind::NeedsLogin {
                    println!("\nwarning: {}", w.message);
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn logout_cmd(global: &GlobalArgs, args: LogoutArgs) -> Result<ExitCode, String> {
    let loaded = load(global)?;
    let (_queue, store) = open_store(&context::database_url(global, &loaded)).await?;
    let store: Arc<dyn TokenStore> = Arc::new(store);
    if store
        .delete(&args.account)
        .await
        .map_err(|e| e.to_string())?
    {
        println!("Removed the stored tokens of `{}`.", args.account);
        Ok(ExitCode::SUCCESS)
    } else if loaded.config.accounts.contains_key(&args.account) {
        Err(format!("no stored token for `{}`", args.account))
    } else {
        // Neither in berrah.toml nor stored: a typo, most likely.
        let stored = store.list().await.map_err(|e| e.to_string())?;
        let known: std::collections::BTreeSet<&str> = loaded
            .config
            .accounts
            .keys()
            .map(String::as_str)
            .chain(stored.iter().map(|t| t.account.as_str()))
            .collect();
        eprintln!(
            "error: {}",
            super::names::unknown("account", &args.account, known)
        );
        Ok(ExitCode::from(2))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_webhook_url_in_clear_is_refused_before_it_is_stored() {
        let e = refuse_cleartext_webhook(PlatformKind::Webhook, "http://hooks.example/T0/B1/abc")
            .unwrap_err();
        assert!(e.contains("plain http://"), "{e}");
        assert!(!e.contains("abc"), "the URL is never shown: {e}");
        for fine in [
            "https://hooks.slack.com/services/T0/B1/abc",
            "http://127.0.0.1:8080/hook",
            "http://localhost/hook",
            "not a URL at all",
        ] {
            assert!(
                refuse_cleartext_webhook(PlatformKind::Webhook, fine).is_ok(),
                "{fine}"
            );
        }
        // Other platforms' secrets are tokens, not URLs.
        assert!(refuse_cleartext_webhook(PlatformKind::Telegram, "http://x.example/").is_ok());
    }

    #[test]
    fn the_browser_gets_the_desktop_and_no_secret() {
        let vars = [
            ("PATH", "/usr/bin"),
            ("HOME", "/var/lib/op"),
            ("DISPLAY", ":0"),
            ("WAYLAND_DISPLAY", "wayland-0"),
            ("XDG_RUNTIME_DIR", "/run/user/1000"),
            ("LANG", "fr_MA.UTF-8"),
            ("LC_TIME", "fr_FR.UTF-8"),
            ("BERRAH_TOKEN_KEY", "k"),
            ("TEST_X_CLIENT_SECRET", "s"),
            ("LINKEDIN_CLIENT_SECRET", "s"),
            ("DATABASE_URL", "postgres://u:pw@h/db"),
            ("XDG_SESSION_TOKEN", "t"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
        ]
        .map(|(k, v)| (k.into(), v.into()));
        let kept: Vec<String> = browser_env(vars.into_iter())
            .into_iter()
            .map(|(k, _)| k.into_string().unwrap())
            .collect();
        assert_eq!(
            kept,
            [
                "PATH",
                "HOME",
                "DISPLAY",
                "WAYLAND_DISPLAY",
                "XDG_RUNTIME_DIR",
                "LANG",
                "LC_TIME"
            ]
        );
    }
}
