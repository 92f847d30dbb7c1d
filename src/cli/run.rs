//! `berrah run`: the long-running daemon.
//!
//! The database is `--database URL` / `DATABASE_URL`, else `daemon.database`
//! in berrah.toml, else SQLite at `<data_dir>/berrah.db` (created and
//! migrated on first start, WAL). Accounts without credentials publish to
//! `<data_dir>/outbox.jsonl`. The daemon refuses to start when tokens are
//! stored but the key that opens them is missing or wrong.
//!
//! Before anything else: without `berrah.toml` (or the file `--config`
//! names) or without the campaign folder, it says so and exits 2. A broken
//! `berrah.toml` is replaced by the last valid one saved in the database
//! (each start with a valid file, and each valid reload, saves it), its
//! errors logged; with none saved, it exits 1.
//!
//! On SQLite it takes the database's lock (`<database>.lock`, see
//! [`crate::store::lock`]) for the life of the process: a second daemon on
//! the same file exits 1 at once, naming the first (pid, host, since when).
//! Holding the lock, the daemon rescues at once the publications a crashed
//! predecessor left in flight ([`DaemonConfig::exclusive`]).
//!
//! `SIGTERM`/`SIGINT`: stop claiming, let publications in flight finish
//! (`--grace`, 30 s at most), exit 0. The grace is a hard limit: what is
//! still in flight then is cut, and if closing the database or a blocked
//! file operation holds the process [`CLEANUP`] longer, it exits anyway. A
//! second signal exits at once (exit code 130). Both are safe: leases
//! expire and the next start rescues what was cut (retried where the
//! platform deduplicates, resolved or held otherwise).

use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use tokio_util::sync::CancellationToken;

use super::GlobalArgs;
use crate::auth::{CredentialsFactory, SqlTokenStore};
use crate::scheduler::{Daemon, DaemonConfig};
use crate::store::Store;
use crate::store::lock::DaemonLock;
use crate::time::{Clock, SimClock, SystemClock};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Seconds publications in flight may take to finish after SIGTERM/SIGINT;
    /// then they are cut and the process exits (the next start rescues them).
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    pub grace: u64,
    /// Do not watch the campaign folder and berrah.toml for changes.
    #[arg(long)]
    pub no_watch: bool,
    /// Serve /healthz, /readyz and /metrics (and the console, when
    /// `[console] enabled`) on this address (IP:PORT; overrides `daemon.listen`).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
}

/// How long, after the grace period, the stop may take to close the
/// database before the process exits anyway.
pub const CLEANUP: std::time::Duration = std::time::Duration::from_secs(2);

pub fn run(global: &GlobalArgs, args: RunArgs) -> ExitCode {
    crate::logging::init(global.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return super::fail(format!("cannot start the runtime: {e}")),
    };
    let code = runtime.block_on(run_async(global, args));
    // A blocking task (an outbox write, a media file read) still running
    // does not hold the process: its entry's lease expires.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    code
}

async fn run_async(global: &GlobalArgs, args: RunArgs) -> ExitCode {
    let shutdown = CancellationToken::new();
    tokio::spawn(signals(shutdown.clone()));
    tokio::spawn(hard_stop(
        shutdown.clone(),
        std::time::Duration::from_secs(args.grace),
    ));
    if !global.config.is_file() {
        return usage(format!(
            "there is no configuration file {} here ({}): `berrah run` needs one, with the \
             accounts to publish to; run it from the folder that holds berrah.toml, or name \
             the file with `--config FILE`",
            global.config.display(),
            std::env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_else(|_| "the working directory".into())
        ));
    }
    // A broken berrah.toml: the daemon runs with the last valid one saved in
    // the database, if there is one (read below, once the database is open).
    let (mut loaded, broken) = match super::context::load(global) {
        Ok(l) => (l, None),
        Err(report) => match super::context::load_for_check(global) {
            Ok((partial, _)) => (partial, Some(report)),
            Err(_) => {
                crate::logging::to_stderr(&report.render());
                return super::fail("the configuration cannot be loaded");
            }
        },
    };
    if !loaded.campaigns_dir.is_dir() {
        return usage(format!(
            "there is no campaign folder {}: create it and put the campaign files there, or \
             set `daemon.campaigns` in berrah.toml (or `--campaigns DIR`)",
            loaded.campaigns_dir.display()
        ));
    }
    if crate::campaign::campaign_files(&loaded.campaigns_dir).is_ok_and(|f| f.is_empty()) {
        tracing::warn!(
            folder = %loaded.campaigns_dir.display(),
            "the campaign folder has no campaign file yet: nothing is published until one is added"
        );
    }
    let listen = args
        .listen
        .as_deref()
        .or(loaded.config.daemon.listen.as_deref());
    let listen = match crate::console::server::listen_address(
        listen,
        loaded.config.console.enabled,
        loaded.config.console.token.is_some(),
    ) {
        Ok(l) => l,
        Err(e) => return usage(e.to_string()),
    };
    // A fixed "now" (BERRAH_NOW, for demonstrations and tests) starts a
    // clock that runs at the normal speed from there.
    let clock: Arc<dyn Clock> = match global.now {
        Some(start) => Arc::new(SimClock::scaled(start, 1.0)),
        None => Arc::new(SystemClock),
    };
    // The data folder (database, outbox) is berrah's user's alone: 0700.
    if let Err(e) = crate::store::private::private_dir(&loaded.data_dir) {
        tracing::error!(
            path = %loaded.data_dir.display(),
            error = %e,
            "could not make the data folder private: run `chmod 700` on it"
        );
    }
    let url = super::context::database_url(global, &loaded);
    // One daemon per SQLite file, held until the process ends.
    let _lock = match crate::store::sqlite_file(&url) {
        Some(file) => match DaemonLock::acquire(&file, &lock_holder(clock.now())) {
            Ok(lock) => Some(lock),
            Err(e) => return super::fail(e),
        },
        None => None,
    };
    let store = match Store::connect(&url).await {
        Ok(s) => s,
        Err(e) => return super::fail(e),
    };
    match broken {
        Some(report) => match last_valid_config(&store).await {
            Ok(Some((config, saved_at))) => {
                tracing::error!(
                    file = %global.config.display(),
                    saved_at = %saved_at,
                    "the configuration has errors; running with its last valid version, saved at {saved_at}:\n{}",
                    report.render().trim_end()
                );
                loaded.config = config;
                let base = loaded.config_dir();
                let rel = |p: &std::path::Path| {
                    if p.is_absolute() || base.as_os_str().is_empty() {
                        p.to_path_buf()
                    } else {
                        base.join(p)
                    }
                };
                if global.campaigns.is_none() {
                    loaded.campaigns_dir = rel(&loaded.config.daemon.campaigns);
                }
                loaded.data_dir = rel(&loaded.config.daemon.data_dir);
            }
            Ok(None) => {
                crate::logging::to_stderr(&report.render());
                store.close().await;
                return super::fail(
                    "the configuration has errors, and no earlier valid version of it is saved in the database",
                );
            }
            Err(e) => {
                crate::logging::to_stderr(&report.render());
                store.close().await;
                return super::fail(format!(
                    "the configuration has errors, and its last valid version cannot be read: {e}"
                ));
            }
        },
        None => {
            if let Some(path) = &loaded.config_path {
                crate::scheduler::remember_config(&store, path, clock.now()).await;
            }
        }
    }
    let config_dir = loaded.config_dir();
    let key = match crate::auth::sources::daemon_key(
        &store,
        loaded.config.daemon.token_key.as_deref(),
        &config_dir,
    )
    .await
    {
        Ok(k) => k,
        Err(e) => {
            return super::fail(format!(
                "{e}; set `daemon.token_key` in berrah.toml or BERRAH_TOKEN_KEY"
            ));
        }
    };
    let credentials = CredentialsFactory {
        store: Arc::new(SqlTokenStore::from_store(&store)),
        key,
        base_dir: config_dir,
        clock: clock.clone(),
    };
    tokio::spawn(expiry_watch(store.clone(), clock.clone(), shutdown.clone()));
    let mut cfg = DaemonConfig::new(
        loaded.config.clone(),
        loaded.campaigns_dir.clone(),
        loaded.data_dir.clone(),
        store.clone(),
        clock,
    );
    cfg.config_path = loaded.config_path.clone();
    cfg.tzdb = loaded.tzdb.choice.clone();
    cfg.credentials = Some(credentials);
    cfg.watch = !args.no_watch;
    cfg.grace = std::time::Duration::from_secs(args.grace);
    cfg.exclusive = _lock.is_some();

    crate::auth::sources::check_at_daemon_start(&store, &loaded.config, &loaded.config_dir()).await;
    let console = &loaded.config.console;
    let console_options = if console.enabled {
        let token = match &console.token {
            Some(source) => {
                match crate::console::security::read_token(source, &loaded.config_dir()).await {
                    Ok(t) => Some(t),
                    Err(e) => {
                        store.close().await;
                        return usage(format!(
                            "{e}; set it, or remove `token` from `[console]` and listen on 127.0.0.1"
                        ));
                    }
                }
            }
            None => None,
        };
        Some(crate::console::server::ConsoleOptions {
            token,
            config: Arc::new(loaded.config.clone()),
        })
    } else {
        None
    };
    let observing = match crate::observe::start_for(listen, &cfg, &shutdown, console_options).await
    {
        Ok(o) => o,
        Err(e) => return super::fail(e),
    };
    let result = Daemon::new(cfg).run(shutdown).await;
    observing.stop().await;
    store.close().await;
    match result {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => super::fail(e),
    }
}

/// A usage error: the message on stderr, exit status 2.
fn usage(message: String) -> ExitCode {
    crate::logging::to_stderr(&format!("error: {message}\n"));
    ExitCode::from(2)
}

/// What the lock file says of this process, for a second daemon's error.
fn lock_holder(now: jiff::Timestamp) -> String {
    format!(
        "pid {} on {}, running since {} (berrah {})",
        std::process::id(),
        crate::store::instances::host_name(),
        now.strftime("%Y-%m-%d %H:%M:%S UTC"),
        env!("CARGO_PKG_VERSION")
    )
}

/// The last valid berrah.toml saved in the database, read as the daemon
/// would read the file, and when it was saved.
async fn last_valid_config(
    store: &Store,
) -> Result<Option<(crate::config::Config, jiff::Timestamp)>, String> {
    let Some(snapshot) = store.config_snapshot().await.map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let file = dir.path().join("berrah.toml");
    std::fs::write(&file, &snapshot.source).map_err(|e| e.to_string())?;
    match crate::config::read_config(&file, true) {
        Ok(Some(config)) => Ok(Some((config, snapshot.saved_at))),
        Ok(None) => Ok(None),
        Err(report) => Err(format!(
            "the saved version is not valid either:\n{}",
            report.render().trim_end()
        )),
    }
}

/// How often the daemon repeats its warnings about tokens that expire soon.
const EXPIRY_WARNING_EVERY: jiff::SignedDuration = jiff::SignedDuration::from_hours(12);

/// Logs, at start and every 12 hours, the accounts whose stored tokens
/// expire within 14 days and cannot be renewed by berrah (Facebook and
/// Instagram long-lived tokens), or already need `berrah accounts login`.
async fn expiry_watch(
    store: Store,
    clock: Arc<dyn crate::time::Clock>,
    shutdown: CancellationToken,
) {
    let tokens = SqlTokenStore::from_store(&store);
    loop {
        let now = clock.now();
        match crate::auth::sources::stored_expiry_warnings(&tokens, now).await {
            Ok(warnings) => {
                for w in warnings {
                    tracing::warn!(account = %w.account, platform = %w.platform, "{}", w.message);
                }
            }
            Err(e) => tracing::warn!("cannot read the stored tokens' expiry: {e}"),
        }
        let next = now
            .checked_add(EXPIRY_WARNING_EVERY)
            .unwrap_or(jiff::Timestamp::MAX);
        tokio::select! {
            _ = clock.sleep_until(next) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}

/// Once a stop is asked, the process ends within `grace` + [`CLEANUP`],
/// whatever is still running (the daemon cuts publications in flight at
/// `grace` itself; this covers a stop that hangs after that, or one asked
/// while the daemon was still starting).
async fn hard_stop(shutdown: CancellationToken, grace: std::time::Duration) {
    shutdown.cancelled().await;
    tokio::time::sleep(grace.saturating_add(CLEANUP)).await;
    tracing::warn!(
        "the stop took longer than the grace period: exiting now; what was cut is rescued at the next start"
    );
    std::process::exit(0);
}

/// First SIGTERM/SIGINT: graceful stop. Second: exit at once.
///
/// The handlers are registered here, before the daemon starts, so that a
/// signal arriving during start-up is a graceful stop too (not the default
/// action, which would kill the process).
fn signals(shutdown: CancellationToken) -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let handlers = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    );
    async move {
        let (Ok(mut term), Ok(mut int)) = handlers else {
            tracing::warn!("cannot listen for SIGTERM/SIGINT");
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        tracing::info!("signal received: stopping (send it again to exit at once)");
        shutdown.cancel();
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        tracing::warn!(
            "second signal: exiting now; publications cut here are rescued at the next start"
        );
        std::process::exit(130);
    }
}
