//! Integration tests: support. Helpers shared by the daemon tests (and any
//! area that needs them): copying fixture folders, reading the config of a
//! folder, running the daemon on a simulated clock.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use berrah::config::Config;
use berrah::platforms::outbox::{Outbox, OutboxRecord};
use berrah::scheduler::{Daemon, DaemonConfig, Published};
use berrah::store::Store;
use berrah::time::SimClock;
use jiff::Timestamp;
use tokio_util::sync::CancellationToken;

/// `tests/fixtures/<name>`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The project's root (the example `berrah.toml` and `campaigns/`).
pub fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Copies a folder recursively.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// A temporary copy of a folder holding `berrah.toml` and `campaigns/`.
pub fn copy_project(from: &Path) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(from.join("berrah.toml"), tmp.path().join("berrah.toml")).unwrap();
    copy_dir(&from.join("campaigns"), &tmp.path().join("campaigns"));
    tmp
}

/// The parsed `berrah.toml` of a folder.
pub fn read_config(dir: &Path) -> Config {
    berrah::cli::context::read_config(&dir.join("berrah.toml"), true)
        .unwrap_or_else(|r| panic!("{}", r.render()))
        .unwrap()
}

/// The occurrences `berrah plan` would list for a folder at `now`, valid files only.
pub fn planned(dir: &Path, now: Timestamp) -> Vec<berrah::plan::Occurrence> {
    let config = read_config(dir);
    let calendar = berrah::calendar::Calendar::shipped();
    let ctx = berrah::campaign::Context {
        config: &config,
        calendar: &calendar,
        now,
    };
    let (checked, _) = berrah::campaign::check_dir(&dir.join("campaigns"), &ctx);
    checked
        .into_iter()
        .filter(|c| c.is_valid())
        .flat_map(|c| c.occurrences)
        .collect()
}

/// A daemon configuration for a folder: its config, campaigns, a data
/// folder inside it, no file watching.
pub fn daemon_config(
    dir: &Path,
    store: Store,
    clock: Arc<dyn berrah::time::Clock>,
) -> DaemonConfig {
    let mut cfg = DaemonConfig::new(
        read_config(dir),
        dir.join("campaigns"),
        dir.join("data"),
        store,
        clock,
    );
    cfg.config_path = Some(dir.join("berrah.toml"));
    cfg.watch = false;
    cfg.owner = Some(format!("test-{:04x}", rand::random::<u16>()));
    cfg
}

/// What a run on the simulated clock published.
pub struct SimRun {
    pub events: Vec<Published>,
    pub outbox: Vec<OutboxRecord>,
}

/// Runs the daemon of `dir` on a SimClock that jumps from due time to due
/// time, from `start` until nothing is left (or `until`), and returns what
/// it published. Hang guard: 120 s of real time.
pub async fn run_simulated(
    dir: &Path,
    store: Store,
    start: Timestamp,
    until: Option<Timestamp>,
) -> SimRun {
    let sim = SimClock::new(start);
    let mut cfg = daemon_config(dir, store, Arc::new(sim.clone()));
    cfg.jump = Some(sim);
    cfg.until = until;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    cfg.events = Some(tx);
    let outbox_path = dir.join("data").join(berrah::platforms::outbox::FILE_NAME);
    let run = Daemon::new(cfg).run(CancellationToken::new());
    tokio::time::timeout(std::time::Duration::from_secs(120), run)
        .await
        .expect("the simulated run hung")
        .expect("the daemon failed");
    let mut events = Vec::new();
    while let Ok(e) = rx.try_recv() {
        events.push(e);
    }
    SimRun {
        events,
        outbox: Outbox::read_all(&outbox_path).unwrap(),
    }
}

/// Waits (real time, bounded) until `f` holds.
pub async fn eventually<F, Fut>(what: &str, secs: u64, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let end = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if f().await {
            return;
        }
        if std::time::Instant::now() > end {
            panic!("timed out waiting for: {what}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
