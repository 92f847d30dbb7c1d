//! Integration tests: time-zone data. Through the binary, with a stand-in for
//! an out-of-date system database (`tests/fixtures/tzdb/2025b`: Morocco still
//! at UTC+01:00): `auto` never uses an older system copy, `system` does and
//! warns, and a daemon whose data changes moves its waiting posts and logs
//! each move. Expected instants are written by hand from the IANA rules
//! (checked against Python's zoneinfo with tzdata 2026f).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use crate::support::{copy_dir, copy_project, eventually, fixture};

const NOW: &str = "2026-11-23T00:00:00Z";

/// A temporary copy of the 2025b stand-in (to change while a daemon watches it).
fn old_system_copy() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&fixture("tzdb/2025b"), tmp.path());
    tmp
}

/// The binary in `dir`, with the machine's own zone data out of reach:
/// `TZDIR` names the folder the test gives as "the system's".
fn berrah(dir: &Path, tzdb: &str, system: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_berrah"));
    cmd.current_dir(dir)
        .env("BERRAH_TZDB", tzdb)
        .env("TZDIR", system)
        .env_remove("BERRAH_CONFIG")
        .env_remove("BERRAH_CAMPAIGNS")
        .env_remove("DATABASE_URL")
        .env_remove("BERRAH_NOW")
        .args(["--config", "berrah.toml", "--now", NOW]);
    cmd
}

fn plan_json(dir: &Path, tzdb: &str, system: &Path) -> (Vec<Value>, String) {
    let out = berrah(dir, tzdb, system)
        .args(["plan", "--format", "json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "stderr: {stderr}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    (v.as_array().unwrap().clone(), stderr)
}

/// The teaser of the plan fixture: 16 December 2026, 10:00 in Casablanca.
fn teaser(rows: &[Value]) -> &Value {
    rows.iter()
        .find(|r| r["post"] == "teaser" && r["language"] == "fr" && r["platform"] == "facebook")
        .expect("the teaser is planned")
}

#[test]
fn auto_never_uses_an_older_system_copy_and_says_so() {
    let system = old_system_copy();
    let (rows, stderr) = plan_json(&fixture("plan"), "auto", system.path());
    let t = teaser(&rows);
    assert_eq!(t["local"], "2026-12-16T10:00:00+00:00");
    assert_eq!(t["due"], "2026-12-16T10:00:00Z");
    assert_eq!(t["tzdb"], "2026f");
    assert!(rows.iter().all(|r| r["tzdb"] == "2026f"));
    assert!(
        stderr.contains("warning: the system's time-zone data (system tzdata 2025b at ")
            && stderr.contains("is older than the copy bundled in berrah (2026f) and is not used"),
        "{stderr}"
    );
    // The table's first line names the data in use and the one left out.
    let out = berrah(&fixture("plan"), "auto", system.path())
        .arg("plan")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let first = text.lines().next().unwrap();
    assert!(
        first.starts_with("Time zones: bundled tzdata 2026f (tzdb = \"auto\"; system 2025b at "),
        "{first}"
    );
    // ICS events carry it too.
    let out = berrah(&fixture("plan"), "auto", system.path())
        .args(["plan", "--format", "ics"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .contains("\r\nX-BERRAH-TZDB:2026f\r\n")
    );
}

#[test]
fn system_uses_the_older_copy_and_warns() {
    let system = old_system_copy();
    let (rows, stderr) = plan_json(&fixture("plan"), "system", system.path());
    let t = teaser(&rows);
    // What tzdata 2025b says: Morocco at UTC+01:00, an hour earlier in UTC.
    assert_eq!(t["local"], "2026-12-16T10:00:00+01:00");
    assert_eq!(t["due"], "2026-12-16T09:00:00Z");
    assert_eq!(t["tzdb"], "2025b");
    assert!(
        stderr.contains("is older than the copy bundled in berrah (2026f)")
            && stderr.contains("apt-get install tzdata"),
        "{stderr}"
    );
    // A folder named in berrah.toml is read relative to it.
    let dir = copy_project(&fixture("plan"));
    copy_dir(system.path(), &dir.path().join("zoneinfo"));
    let config = std::fs::read_to_string(dir.path().join("berrah.toml")).unwrap();
    std::fs::write(
        dir.path().join("berrah.toml"),
        format!("[daemon]\ntzdb = \"zoneinfo\"\n\n{config}"),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_berrah"))
        .current_dir(dir.path())
        .env_remove("BERRAH_TZDB")
        .env("TZDIR", system.path())
        .args([
            "--config",
            "berrah.toml",
            "--now",
            NOW,
            "plan",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(teaser(&rows)["tzdb"], "2025b");
}

#[test]
fn check_names_the_data_in_use_and_refuses_a_folder_that_is_not_one() {
    let system = old_system_copy();
    let out = berrah(&fixture("plan"), "auto", system.path())
        .arg("check")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("time zones: bundled tzdata 2026f (tzdb = \"auto\"; system 2025b at "),
        "{stderr}"
    );
    assert!(
        stderr.contains("warning: the system's time-zone data"),
        "{stderr}"
    );
    let out = berrah(&fixture("plan"), "auto", system.path())
        .args(["check", "--format", "json"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["tzdb"]["release"], "2026f");
    assert_eq!(v["tzdb"]["source"], "bundled");
    assert_eq!(v["tzdb"]["system"], "2025b");
    // A folder that does not exist: an error that says what to write.
    let missing = system.path().join("nowhere");
    let out = berrah(&fixture("plan"), missing.to_str().unwrap(), system.path())
        .arg("check")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("is not a folder of time-zone files"),
        "{stderr}"
    );
    assert!(stderr.contains("tzdb = \"auto\""), "{stderr}");
}

/// Kills the daemon when dropped, so that a failing test leaves none behind.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `berrah run` (watching its files) and hands its stderr lines over
/// a channel.
fn start_daemon(
    dir: &Path,
    tzdb: &str,
    system: &Path,
) -> (Running, std::sync::mpsc::Receiver<String>) {
    let mut child = berrah(dir, tzdb, system)
        .env("RUST_LOG", "warn,berrah=info")
        .env("BERRAH_LOG_FORMAT", "json")
        .args(["--database", &db_url(dir), "run"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (Running(child), rx)
}

fn db_path(dir: &Path) -> PathBuf {
    dir.join("data").join("berrah.db")
}

fn db_url(dir: &Path) -> String {
    berrah::store::testing::sqlite_url(&db_path(dir))
}

/// Waits (bounded) for a log line containing every one of `needles`.
fn wait_for_line(
    rx: &std::sync::mpsc::Receiver<String>,
    needles: &[&str],
    seen: &mut Vec<String>,
) -> String {
    let end = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        if let Some(l) = seen.iter().find(|l| needles.iter().all(|n| l.contains(n))) {
            return l.clone();
        }
        let left = end.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => seen.push(line),
            Err(_) => panic!("no log line with {needles:?}; got:\n{}", seen.join("\n")),
        }
    }
}

/// The stored due time, local time and release of the teaser's entries.
async fn teaser_entries(store: &berrah::store::Store) -> Vec<(i64, String, String, String)> {
    let berrah::store::Db::Sqlite(pool) = store.db() else {
        unreachable!("the test runs on SQLite")
    };
    sqlx::query_as(
        "SELECT due_ms, local, tzdb, state FROM entries WHERE post = 'teaser' ORDER BY id",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

/// A system update while the daemon runs: the data in use changes (here the
/// stand-in becomes "newer" than the bundled copy, as an update would make
/// it), and every waiting post whose instant changed moves at once, each
/// move logged with old and new local and UTC times and the reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_daemon_moves_waiting_posts_when_the_data_changes() {
    let dir = copy_project(&fixture("plan"));
    let system = old_system_copy();
    let (daemon, rx) = start_daemon(dir.path(), "auto", system.path());
    let mut seen = Vec::new();
    let start = wait_for_line(&rx, &["berrah daemon starting"], &mut seen);
    assert!(start.contains("bundled tzdata 2026f"), "{start}");
    wait_for_line(
        &rx,
        &["is older than the copy bundled in berrah"],
        &mut seen,
    );
    wait_for_line(&rx, &["next post due"], &mut seen);
    let store = berrah::store::Store::connect(&db_url(dir.path()))
        .await
        .unwrap();
    let before = teaser_entries(&store).await;
    assert_eq!(before.len(), 3);
    for (due, local, tzdb, state) in &before {
        assert_eq!(*due, 1_797_415_200_000, "2026-12-16T10:00:00Z");
        assert_eq!(local, "2026-12-16T10:00:00+00:00");
        assert_eq!(tzdb, "2026f");
        assert_eq!(state, "scheduled");
    }

    // The system's copy is updated: it now says it is release 2099a (its
    // Casablanca rules still put Morocco at UTC+01:00).
    std::fs::write(system.path().join("+VERSION"), "2099a\n").unwrap();
    let changed = wait_for_line(&rx, &["the time-zone data changed"], &mut seen);
    assert!(changed.contains("system tzdata 2099a"), "{changed}");
    let moved = wait_for_line(&rx, &["post rescheduled", "teaser"], &mut seen);
    let v: Value = serde_json::from_str(&moved).unwrap();
    assert_eq!(v["level"], "WARN", "{moved}");
    // JSON logs are flat: the fields beside the message.
    let fields = &v;
    assert_eq!(fields["reason"], "tzdata 2026f → 2099a", "{moved}");
    assert_eq!(
        fields["from"],
        "2026-12-16T10:00:00+00:00 (2026-12-16T10:00:00Z UTC)"
    );
    assert_eq!(
        fields["to"],
        "2026-12-16T10:00:00+01:00 (2026-12-16T09:00:00Z UTC)"
    );
    eventually("the teaser moved in the queue", 30, || {
        let store = store.clone();
        async move {
            teaser_entries(&store)
                .await
                .iter()
                .all(|(due, _, tzdb, _)| *due == 1_797_411_600_000 && tzdb == "2099a")
        }
    })
    .await;
    drop(daemon);

    // The move is kept for `status`, with its reason.
    let since: jiff::Timestamp = "2000-01-01T00:00:00Z".parse().unwrap();
    let moves = store.moves_since(since, 1000).await.unwrap();
    let teaser_moves: Vec<_> = moves.iter().filter(|m| m.post == "teaser").collect();
    assert_eq!(teaser_moves.len(), 3);
    assert!(
        teaser_moves
            .iter()
            .all(|m| m.reason == "tzdata 2026f → 2099a")
    );

    // A restart with the bundled data (a new berrah, say) moves them back at
    // once, before anything is published.
    let (daemon, rx) = start_daemon(dir.path(), "bundled", system.path());
    let mut seen = Vec::new();
    let moved = wait_for_line(&rx, &["post rescheduled", "teaser"], &mut seen);
    assert!(moved.contains("tzdata 2099a → 2026f"), "{moved}");
    eventually("the teaser moved back", 30, || {
        let store = store.clone();
        async move {
            teaser_entries(&store)
                .await
                .iter()
                .all(|(due, local, tzdb, _)| {
                    *due == 1_797_415_200_000
                        && local == "2026-12-16T10:00:00+00:00"
                        && tzdb == "2026f"
                })
        }
    })
    .await;
    drop(daemon);
}
