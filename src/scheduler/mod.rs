//! The scheduler: syncing the plan into the queue, claiming due entries with a
//! lease, publishing them on time and recording the outcome.
//!
//! [`Daemon::run`] is `berrah run` (and, on a [`SimClock`](crate::time::SimClock),
//! `berrah rehearse` and the tests). One turn of its loop:
//!
//! 1. campaign files changed (or at start): re-plan and `sync_campaign` each
//!    valid campaign ([`sync`]); a broken file is logged like `berrah check`
//!    and its last valid version stays scheduled;
//! 2. rescue expired leases ([`crate::store::Store::expired_leases`]): a
//!    `claimed` entry goes back to the queue, a `publishing` one whose
//!    outcome is unknown is taken over and retried (keyed platforms),
//!    resolved (queryable ones) or held for an operator; and drop what is
//!    too late ([`crate::store::Store::expire_late`]). Both run at every
//!    wake-up, and at least once a second while a burst keeps the loop busy;
//! 3. take what is due, or due within the next 50 ms, in one write
//!    ([`crate::store::Store::claim_turn_by`]): only for accounts and
//!    platforms with room under their limits and backoff ([`limits`]),
//!    straight to `publishing` with the attempt recorded (an account with a
//!    posting budget is `claimed`, and its worker counts first), and publish
//!    each in a task of its own ([`worker`]), which waits for the due time
//!    before it calls the platform: the take's commit is not part of how
//!    late a post goes out, and nothing goes out early;
//! 4. sleep until what that write said is next (50 ms before a due time, a
//!    lease expiry), a store wake-up (another process's command, PostgreSQL
//!    NOTIFY), a file change, a platform's answer (its platform's slot frees
//!    while the worker records the outcome; the account's frees when the
//!    task ends), the end of a publication, or shutdown. Never a polling
//!    loop.
//!
//! On SQLite every queue write of the process goes through one connection
//! that commits them in batches ([`crate::store`]'s group commit): a burst
//! of publications shares its commits instead of waiting for the disk once
//! per write.
//!
//! Around the loop: the daemon registers itself as an instance of the
//! database ([`crate::store::instances`]), logs when its predecessor ended
//! without a clean stop, and (holding the SQLite lock,
//! [`DaemonConfig::exclusive`]) ends the leases a gone daemon left so that
//! the first rescue pass resolves them; a heartbeat task beats for the
//! instance and extends its leases; the next post due is logged whenever
//! its time changes; a clean stop is recorded at the end.
//!
//! Shutdown (first `SIGTERM`/`SIGINT`): stop claiming, let publications in
//! flight finish within [`DaemonConfig::grace`], give back claims not
//! started, exit. What is cut after the grace period is safe: its lease
//! expires and the next start rescues it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;

use crate::auth::CredentialsFactory;
use crate::calendar::tzdb::{Choice, TzdbError};
use crate::config::{AccountConfig, Config};
use crate::platforms::Platform;
use crate::platforms::outbox::Outbox;
use crate::store::{Entry, Store, StoreError};
use crate::time::{Clock, SimClock};

pub mod actions;
mod daemon;
pub mod limits;
pub mod sync;
mod watch;
mod worker;

pub use daemon::{Daemon, RunSummary};

/// Builds the platform client of an account, to point accounts at fakes in
/// tests and benchmarks. `None`: the daemon's default (the outbox for an
/// account without credentials, else the real platform).
pub trait PlatformFactory: Send + Sync {
    /// The client that publishes `account_id`'s entries.
    fn platform(&self, account_id: &str, account: &Arc<AccountConfig>)
    -> Option<Arc<dyn Platform>>;
}

impl<F> PlatformFactory for F
where
    F: Fn(&str, &Arc<AccountConfig>) -> Option<Arc<dyn Platform>> + Send + Sync,
{
    fn platform(
        &self,
        account_id: &str,
        account: &Arc<AccountConfig>,
    ) -> Option<Arc<dyn Platform>> {
        self(account_id, account)
    }
}

/// A publication, as the daemon reports it to [`DaemonConfig::events`]
/// (`berrah rehearse` prints them).
#[derive(Debug, Clone)]
pub struct Published {
    pub entry: Entry,
    pub remote_id: String,
    pub url: Option<String>,
    pub at: Timestamp,
}

/// Everything a daemon runs with.
pub struct DaemonConfig {
    pub config: Config,
    /// `berrah.toml`, watched and re-read on change when set.
    pub config_path: Option<PathBuf>,
    pub campaigns_dir: PathBuf,
    pub data_dir: PathBuf,
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    /// "Jump" mode: when nothing is in flight, the daemon moves this clock
    /// straight to the next due time instead of sleeping (`rehearse
    /// --speed 0`, tests), and returns once nothing is left to do.
    pub jump: Option<Arc<SimClock>>,
    /// In jump mode: before each jump, wait the gap divided by this speed in
    /// real time (at most a quarter of a second: idle months are skipped),
    /// so that `rehearse` shows the schedule at a readable pace while every
    /// publication still happens exactly at its due time.
    pub pace: Option<f64>,
    /// Return once the clock is past this instant and nothing is in flight.
    pub until: Option<Timestamp>,
    /// Per-account clients (tests, benchmarks).
    pub platforms: Option<Arc<dyn PlatformFactory>>,
    /// Credentials of accounts that have some (`None`: every such account is
    /// held for an operator, which `berrah run` never does).
    pub credentials: Option<CredentialsFactory>,
    /// The outbox (default `<data_dir>/outbox.jsonl`).
    pub outbox: Option<Arc<Outbox>>,
    /// Every account publishes to the outbox, credentials or not (`rehearse`).
    pub outbox_only: bool,
    /// Watch the campaign folder and the configuration for changes.
    pub watch: bool,
    /// How long publications in flight may take to finish at shutdown.
    pub grace: Duration,
    /// The lease owner name (default: host, process id and a random suffix).
    pub owner: Option<String>,
    /// Where publications are reported as they happen.
    pub events: Option<tokio::sync::mpsc::UnboundedSender<Published>>,
    /// Requests in flight per platform (per receiving host for webhooks),
    /// all accounts together.
    pub per_platform: usize,
    /// Return once nothing is scheduled any more and nothing is in flight
    /// (`rehearse`; always so in jump mode).
    pub stop_when_idle: bool,
    /// Hold this (scaled) clock still while publications are in flight
    /// (`rehearse`: publications are not made late by real time).
    pub freeze_while_busy: Option<Arc<SimClock>>,
    /// The time-zone database (`daemon.tzdb`); the bundled one unless set,
    /// so that embedding code and tests compute the same everywhere.
    pub tzdb: Choice,
    /// This process holds the database's lock ([`crate::store::lock`]): no
    /// other daemon works on it, so the leases found at start belong to
    /// daemons that are gone and are rescued at once.
    pub exclusive: bool,
    /// The metrics the daemon keeps (outcomes, lateness, syncs; `observe`).
    pub metrics: crate::observe::Metrics,
}

impl DaemonConfig {
    /// The defaults: watch files, 30 s of grace, the data folder's outbox.
    pub fn new(
        config: Config,
        campaigns_dir: PathBuf,
        data_dir: PathBuf,
        store: Store,
        clock: Arc<dyn Clock>,
    ) -> DaemonConfig {
        let per_platform = usize::try_from(config.daemon.per_platform)
            .unwrap_or(usize::MAX)
            .max(1);
        DaemonConfig {
            config,
            config_path: None,
            campaigns_dir,
            data_dir,
            store,
            clock,
            jump: None,
            pace: None,
            until: None,
            platforms: None,
            credentials: None,
            outbox: None,
            outbox_only: false,
            watch: true,
            grace: Duration::from_secs(30),
            owner: None,
            events: None,
            per_platform,
            stop_when_idle: false,
            freeze_while_busy: None,
            tzdb: Choice::Bundled,
            exclusive: false,
            metrics: crate::observe::Metrics::new(),
        }
    }
}

/// Why the daemon stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot watch {path}: {why}")]
    Watch { path: String, why: String },
    #[error(transparent)]
    Tzdb(#[from] TzdbError),
}

/// A lease owner name unique to this process: `host-pid-xxxx`.
pub fn default_owner() -> String {
    let host = crate::store::instances::host_name();
    format!(
        "{host}-{}-{:04x}",
        std::process::id(),
        rand::random::<u16>()
    )
}

/// Saves `berrah.toml` (read again from `path`, just found valid) as the
/// last valid configuration, so that a daemon started while the file is
/// broken runs with it. A failure is logged: the file itself is fine.
pub async fn remember_config(store: &Store, path: &std::path::Path, now: Timestamp) {
    let saved = match std::fs::read_to_string(path) {
        Ok(source) => store
            .save_config_snapshot(&path.display().to_string(), &source, now)
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    if let Err(e) = saved {
        tracing::warn!(
            file = %path.display(),
            error = %e,
            "could not save the configuration as its last valid version"
        );
    }
}
