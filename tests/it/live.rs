//! Integration tests: a daemon an operator can see and trust. Through the
//! binary: one daemon per SQLite file, `status` naming the daemons that run
//! and those gone, the start line, `run` without its files, a broken
//! berrah.toml at start. In process: what the log says of a post.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use berrah::scheduler::{Daemon, PlatformFactory};
use berrah::store::{EntryState, ListFilter};
use berrah_fakes::faulty::{Faulty, FaultyClient, Mode};
use jiff::Timestamp;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::support::*;

fn berrah(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_berrah"));
    cmd.current_dir(dir)
        .env("BERRAH_TZDB", "bundled")
        .env_remove("BERRAH_CONFIG")
        .env_remove("BERRAH_CAMPAIGNS")
        .env_remove("DATABASE_URL")
        .env_remove("BERRAH_NOW")
        .env_remove("BERRAH_LOG_FORMAT")
        .env("RUST_LOG", "warn,berrah=info")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    cmd
}

/// A folder with one outbox account and a campaign whose one post is due
/// `due_in` seconds from now (UTC; negative: already due).
fn project(due_in: i64) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("berrah.toml"),
        "[accounts.out]\nplatform = \"x\"\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("campaigns")).unwrap();
    write_campaign(dir.path(), "first", due_in);
    dir
}

fn write_campaign(dir: &Path, id: &str, due_in: i64) {
    let now = Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC);
    let due = (now.clone() + jiff::SignedDuration::from_secs(due_in))
        .strftime("%Y-%m-%dT%H:%M:%S")
        .to_string();
    let text = format!(
        "[campaign]\nid = \"{id}\"\ntitle = \"T\"\ntimezone = \"UTC\"\nstart = {}\nend = {}\n\
         accounts = [\"out\"]\nlanguages = [\"fr\"]\n\n[[posts]]\nid = \"p\"\ndate_time = {due}\n\
         text = {{ fr = \"Message {id}\" }}\n",
        now.date().yesterday().unwrap(),
        now.date().tomorrow().unwrap().tomorrow().unwrap()
    );
    std::fs::write(dir.join("campaigns").join(format!("{id}.toml")), text).unwrap();
}

/// A daemon of the test, stopped (SIGKILL) if the test ends first.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Running {
    fn pid(&self) -> u32 {
        self.0.id()
    }

    /// SIGTERM, then the exit status.
    fn stop(mut self) -> std::process::ExitStatus {
        Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status()
            .unwrap();
        self.0.wait().unwrap()
    }

    /// SIGKILL, and waits for the process to be gone.
    fn kill(mut self) {
        self.0.kill().unwrap();
        self.0.wait().unwrap();
    }
}

/// Starts `berrah run` in `dir`, its log in `log`, and waits for its start line.
async fn start(dir: &Path, log: &str) -> Running {
    let path = dir.join(log);
    let child = berrah(dir)
        .args(["run", "--no-watch"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&path).unwrap())
        .spawn()
        .unwrap();
    let running = Running(child);
    wait_for_log(&path, "campaigns loaded").await;
    running
}

async fn wait_for_log(path: &Path, what: &str) {
    let owned = path.to_path_buf();
    eventually(&format!("`{what}` in {}", path.display()), 60, || {
        let found = std::fs::read_to_string(&owned).is_ok_and(|l| l.contains(what));
        async move { found }
    })
    .await;
}

fn status(dir: &Path) -> String {
    let out = berrah(dir).arg("status").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn status_json(dir: &Path) -> Value {
    let out = berrah(dir)
        .args(["status", "--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A second `berrah run` on the same SQLite file stops at once, naming the
/// one that runs; status lists the running daemon, then (after `kill -9`)
/// says it ended without a clean stop; a restart runs and records the
/// rescue; after a clean stop, status says no daemon runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_daemon_per_sqlite_file_and_status_tells_which_runs() {
    let dir = project(3600);
    let first = start(dir.path(), "first.log").await;
    let pid = first.pid();

    // The start line: version, database, time-zone data.
    let log = std::fs::read_to_string(dir.path().join("first.log")).unwrap();
    let line = log
        .lines()
        .find(|l| l.contains("berrah daemon starting"))
        .unwrap();
    assert!(
        line.contains(&format!("version {}", env!("CARGO_PKG_VERSION"))),
        "{line}"
    );
    assert!(line.contains("database data/berrah.db"), "{line}");
    assert!(line.contains("time-zone data bundled tzdata"), "{line}");

    // A second daemon on the same file.
    let out = berrah(dir.path())
        .args(["run", "--no-watch"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("another berrah daemon is already running on data/berrah.db"),
        "{err}"
    );
    assert!(err.contains(&format!("pid {pid} on ")), "{err}");
    assert!(err.contains("running since 20"), "{err}");

    let table = status(dir.path());
    assert!(table.contains("daemons running:"), "{table}");
    assert!(table.contains(&format!("/{pid}  berrah ")), "{table}");
    let json = status_json(dir.path());
    assert_eq!(json["instances"]["running"][0]["pid"], pid);
    assert_eq!(json["instances"]["running"][0]["state"], "running");

    // kill -9: status says so at once (its process is gone).
    first.kill();
    let table = status(dir.path());
    assert!(
        table.contains("daemons: none running on this database"),
        "{table}"
    );
    assert!(
        table.contains(&format!(
            "/{pid}  ended without a clean stop: not running since "
        )),
        "{table}"
    );
    let json = status_json(dir.path());
    assert_eq!(json["instances"]["gone"][0]["pid"], pid);
    assert_eq!(json["instances"]["gone"][0]["state"], "gone");

    // The lock went with the process: a restart runs, and takes over.
    let second = start(dir.path(), "second.log").await;
    let log = std::fs::read_to_string(dir.path().join("second.log")).unwrap();
    assert!(
        log.contains("the previous daemon on this database")
            && log.contains("ended without a clean stop"),
        "{log}"
    );
    let json = status_json(dir.path());
    assert_eq!(json["instances"]["running"][0]["pid"], second.pid());
    assert!(
        json["instances"]["gone"][0]["rescued_at"].is_string(),
        "{json}"
    );
    let table = status(dir.path());
    assert!(table.contains("its work was rescued at"), "{table}");
    let status_code = second.stop();
    assert!(status_code.success(), "{status_code:?}");
    let table = status(dir.path());
    assert!(
        table.contains("daemons: none running on this database"),
        "{table}"
    );
}

/// `berrah run` without berrah.toml, or without a campaign folder, says so
/// and exits 2.
#[test]
fn run_without_its_files_says_so_and_exits_2() {
    let empty = tempfile::tempdir().unwrap();
    let out = berrah(empty.path())
        .args(["run", "--no-watch"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("there is no configuration file berrah.toml here"),
        "{err}"
    );

    std::fs::write(empty.path().join("berrah.toml"), "").unwrap();
    let out = berrah(empty.path())
        .args(["run", "--no-watch"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("there is no campaign folder campaigns"),
        "{err}"
    );
    assert!(!empty.path().join("data").exists(), "nothing was created");
}

/// berrah.toml broken before a start: the daemon runs with the last valid
/// version saved in the database and logs the file's errors; without a
/// saved version it refuses to start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_config_at_start_runs_with_the_last_valid_one() {
    let dir = project(-1);
    let outbox = dir.path().join("data/outbox.jsonl");
    let first = start(dir.path(), "first.log").await;
    eventually("the first post in the outbox", 60, || {
        let n = berrah::platforms::outbox::Outbox::read_all(&outbox)
            .map(|r| r.len())
            .unwrap_or(0);
        async move { n == 1 }
    })
    .await;
    assert!(first.stop().success());

    std::fs::write(
        dir.path().join("berrah.toml"),
        "[accounts.out]\nplatform = \"x\"\n\n[accounts.new]\nplatform = \"myspace\"\n",
    )
    .unwrap();
    write_campaign(dir.path(), "second", -1);
    let second = start(dir.path(), "second.log").await;
    eventually("the second post in the outbox", 60, || {
        let n = berrah::platforms::outbox::Outbox::read_all(&outbox)
            .map(|r| r.len())
            .unwrap_or(0);
        async move { n == 2 }
    })
    .await;
    assert!(second.stop().success());
    let log = std::fs::read_to_string(dir.path().join("second.log")).unwrap();
    assert!(
        log.contains("the configuration has errors; running with its last valid version"),
        "{log}"
    );
    assert!(
        log.contains("berrah.toml:5:"),
        "the file's problem is named: {log}"
    );
    assert!(log.contains("myspace"), "{log}");

    // A database that never saw a valid berrah.toml: no start.
    let fresh = project(3600);
    std::fs::write(
        fresh.path().join("berrah.toml"),
        "[accounts.out]\nplatform = \"myspace\"\n",
    )
    .unwrap();
    let out = berrah(fresh.path())
        .args(["run", "--no-watch"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("myspace"), "{err}");
    assert!(err.contains("no earlier valid version"), "{err}");
}

// ---------------------------------------------------------------------------
// What the log says (in process, JSON as `--log-format json` writes it).
// ---------------------------------------------------------------------------

#[derive(Clone, Default)]
struct LogBuf(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogBuf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuf {
    type Writer = LogBuf;
    fn make_writer(&'a self) -> LogBuf {
        self.clone()
    }
}

impl LogBuf {
    fn lines(&self) -> Vec<Value> {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }
}

fn faulty_factory(url: &str) -> Arc<dyn PlatformFactory> {
    let client: Arc<dyn berrah::platforms::Platform> = Arc::new(FaultyClient::new(url, false));
    Arc::new(move |_: &str, _: &Arc<berrah::config::AccountConfig>| Some(client.clone()))
}

/// A webhook post cut mid-request (its daemon stopped with no grace), then
/// a restart after its lease expired: the rescue holds it and logs the hold
/// at ERROR, with every field of the post flat on the line; the log's
/// messages read as sentences, and "nothing is scheduled" is said only
/// when nothing waits.
#[tokio::test]
async fn a_hold_by_a_rescue_is_an_error_with_every_field_of_the_post() {
    let logs = LogBuf::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_ansi(false)
        .with_env_filter("berrah=info")
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("berrah.toml"),
        "[daemon]\nlease_seconds = 60\n\n[accounts.hook]\nplatform = \"webhook\"\n\
         base_url = \"http://127.0.0.1:1/\"\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("campaigns")).unwrap();
    let now = Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC);
    let due = (now.clone() - jiff::SignedDuration::from_secs(1))
        .strftime("%Y-%m-%dT%H:%M:%S")
        .to_string();
    std::fs::write(
        dir.path().join("campaigns/cut.toml"),
        format!(
            "[campaign]\nid = \"cut\"\ntitle = \"Cut\"\ntimezone = \"UTC\"\nstart = {}\nend = {}\n\
             accounts = [\"hook\"]\nlanguages = [\"fr\"]\n\n[[capsules]]\nid = \"caps\"\n\
             title = \"Caps\"\nanchor = {{ date = {} }}\n\n\
             [[capsules.posts]]\nid = \"p\"\ndate_time = {due}\ntext = {{ fr = \"Coupé\" }}\n",
            now.date().yesterday().unwrap(),
            now.date().tomorrow().unwrap(),
            now.date()
        ),
    )
    .unwrap();

    let fake = Faulty::new();
    fake.set_mode(Mode::Slow(std::time::Duration::from_secs(30)));
    let server = fake.serve().await.unwrap();
    let (_db, store) = berrah::store::testing::sqlite_temp().await;
    let mut cfg = daemon_config(
        dir.path(),
        store.clone(),
        Arc::new(berrah::time::SystemClock),
    );
    cfg.platforms = Some(faulty_factory(&server.url()));
    cfg.grace = std::time::Duration::ZERO;
    let shutdown = CancellationToken::new();
    let run = tokio::spawn(Daemon::new(cfg).run(shutdown.clone()));
    eventually("the request reached the receiver", 30, || {
        let fake = fake.clone();
        async move { fake.count() == 1 }
    })
    .await;
    shutdown.cancel();
    assert_eq!(run.await.unwrap().unwrap().unfinished, 1);

    // The restart, two minutes later on a simulated clock: the lease expired.
    let later = Timestamp::now()
        .checked_add(jiff::SignedDuration::from_secs(120))
        .unwrap();
    let sim = berrah::time::SimClock::new(later);
    let mut cfg = daemon_config(dir.path(), store.clone(), Arc::new(sim.clone()));
    cfg.platforms = Some(faulty_factory(&server.url()));
    cfg.jump = Some(sim);
    tokio::time::timeout(
        std::time::Duration::from_secs(60),
        Daemon::new(cfg).run(CancellationToken::new()),
    )
    .await
    .expect("the restart hung")
    .unwrap();
    let all = store.list(ListFilter::default()).await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].state, EntryState::Held, "{:?}", all[0]);
    assert_eq!(fake.count(), 1, "never sent again");

    let lines = logs.lines();
    let hold = lines
        .iter()
        .find(|l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("held for an operator"))
        })
        .unwrap_or_else(|| panic!("no hold logged: {lines:#?}"));
    assert_eq!(hold["level"], "ERROR", "{hold}");
    for (field, value) in [
        ("campaign", "cut"),
        ("capsule", "caps"),
        ("post", "p"),
        ("account", "hook"),
        ("platform", "webhook"),
        ("language", "fr"),
        ("occurrence", all[0].id.as_str()),
    ] {
        assert_eq!(hold[field], value, "{field} in {hold}");
    }
    for l in &lines {
        let m = l["message"].as_str().unwrap_or_default();
        assert!(!m.contains("Finish"), "Rust debug output: {m}");
        let words: Vec<&str> = m.split_whitespace().collect();
        assert!(
            !words
                .windows(2)
                .any(|w| w[0] == w[1] && w[0].chars().all(char::is_alphabetic)),
            "a doubled word: {m}"
        );
    }
    // The first run logged its next post due, the second (all held) that
    // nothing is scheduled, never while the post waited.
    let messages: Vec<&str> = lines.iter().filter_map(|l| l["message"].as_str()).collect();
    let next = messages
        .iter()
        .position(|m| m.starts_with("next post due"))
        .unwrap_or_else(|| panic!("{messages:#?}"));
    let nothing: Vec<usize> = messages
        .iter()
        .enumerate()
        .filter(|(_, m)| m.starts_with("nothing is scheduled"))
        .map(|(i, _)| i)
        .collect();
    let held_at = messages
        .iter()
        .position(|m| m.starts_with("held for an operator"))
        .unwrap();
    assert!(
        nothing.iter().all(|i| *i > held_at && *i > next),
        "{messages:#?}"
    );
}

/// While an entry waits to be retried, the daemon's start names it as the
/// next post due, never "nothing is scheduled".
#[tokio::test]
async fn a_retry_waiting_is_the_next_post_due_not_nothing() {
    let logs = LogBuf::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_ansi(false)
        .with_env_filter("berrah=info")
        .json()
        .flatten_event(true)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let dir = project(-1);
    let (_db, store) = berrah::store::testing::sqlite_temp().await;
    let now = Timestamp::now();
    // Sync, take and fail the post for now: it waits to be retried in an hour.
    let planned = planned(dir.path(), now);
    store.sync_campaign("first", &planned, now).await.unwrap();
    let taken = store
        .claim_due(
            now,
            1,
            "other",
            now.checked_add(jiff::SignedDuration::from_secs(60))
                .unwrap(),
        )
        .await
        .unwrap();
    store
        .begin_attempt(&taken[0].id, "other", now)
        .await
        .unwrap();
    let retry_at = now
        .checked_add(jiff::SignedDuration::from_hours(1))
        .unwrap();
    store
        .finish(
            &taken[0].id,
            "other",
            berrah::store::Finish::Retry {
                run_at: retry_at,
                reason: "503".into(),
            },
            now,
        )
        .await
        .unwrap();
    let mut cfg = daemon_config(
        dir.path(),
        store.clone(),
        Arc::new(berrah::time::SystemClock),
    );
    cfg.until = Some(
        now.checked_add(jiff::SignedDuration::from_millis(300))
            .unwrap(),
    );
    Daemon::new(cfg)
        .run(CancellationToken::new())
        .await
        .unwrap();
    let lines = logs.lines();
    let messages: Vec<&str> = lines.iter().filter_map(|l| l["message"].as_str()).collect();
    assert!(
        !messages
            .iter()
            .any(|m| m.starts_with("nothing is scheduled")),
        "{messages:#?}"
    );
    let next = lines
        .iter()
        .find(|l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("next post due"))
        })
        .unwrap_or_else(|| panic!("{messages:#?}"));
    assert!(
        next["message"].as_str().unwrap().contains("a retry"),
        "{next}"
    );
    assert_eq!(next["campaign"], "first");
    assert_eq!(next["language"], "fr");
}
