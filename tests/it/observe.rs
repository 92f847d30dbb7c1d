//! What an operator sees of a running daemon: `/healthz`, `/readyz` and
//! `/metrics` (scraped by a real Prometheus server too), systemd's
//! notifications on a socket of the test's own, and journald's priority
//! prefixes on a pipe the test passes off as the journal.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use berrah::auth::TokenStore;
use berrah::observe::{Metrics, ObserveState};
use berrah::scheduler::Daemon;
use berrah::store::Store;
use berrah::time::SimClock;
use jiff::Timestamp;
use tokio_util::sync::CancellationToken;

use crate::support::{daemon_config, eventually};

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// An outbox account that publishes, and a Mastodon account whose
/// credentials the daemon of these tests cannot reach: its posts are held
/// (cause `account`). Two posts each, due 2 and 3 December 2026.
fn project() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("berrah.toml"),
        "[accounts.oim-facebook]\nplatform = \"facebook\"\n\n\
         [accounts.oim-mastodon]\nplatform = \"mastodon\"\nbase_url = \"https://mastodon.example\"\n\
         credentials = \"env:BERRAH_OBSERVE_TEST_NEVER_SET\"\n",
    )
    .unwrap();
    std::fs::create_dir_all(tmp.path().join("campaigns")).unwrap();
    std::fs::write(
        tmp.path().join("campaigns/obs.toml"),
        "[campaign]\nid = \"obs\"\ntitle = \"Observe\"\ntimezone = \"UTC\"\n\
         start = 2026-12-01\nend = 2026-12-31\naccounts = [\"oim-facebook\", \"oim-mastodon\"]\n\
         languages = [\"fr\"]\n\n\
         [[posts]]\nid = \"p1\"\ndate_time = 2026-12-02T10:00:00\ntext = { fr = \"Premier message\" }\n\n\
         [[posts]]\nid = \"p2\"\ndate_time = 2026-12-03T10:00:00\ntext = { fr = \"Deuxième message\" }\n",
    )
    .unwrap();
    tmp
}

async fn get(url: &str) -> (u16, String) {
    let r = berrah::http::client().get(url).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.text().await.unwrap())
}

/// The value of the sample `line_start` (name and labels) in a scrape.
fn sample(metrics: &str, line_start: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(line_start)?.strip_prefix(' '))
        .map(|v| v.trim().parse().unwrap())
}

/// The endpoints on a daemon run in process (on a simulated clock): ready
/// only once synced and until shutdown, healthy while the database answers,
/// and metrics that match the queue.
async fn endpoints_tell_the_truth(store: Store) {
    let dir = project();
    let start = t("2026-12-01T00:00:00Z");
    let sim = SimClock::new(start);
    let mut cfg = daemon_config(dir.path(), store.clone(), Arc::new(sim.clone()));
    cfg.jump = Some(sim);
    let metrics: Metrics = cfg.metrics.clone();
    let shutdown = CancellationToken::new();
    // Scrapes read "now" from a clock of their own, two days later.
    let state = ObserveState {
        store: store.clone(),
        clock: Arc::new(SimClock::new(t("2026-12-05T00:00:00Z"))),
        metrics,
        shutdown: shutdown.clone(),
    };
    let observing = berrah::observe::start(Some("127.0.0.1:0".parse().unwrap()), state)
        .await
        .unwrap();
    let base = format!("http://{}", observing.address.unwrap());

    assert_eq!(get(&format!("{base}/healthz")).await, (200, "ok\n".into()));
    let (code, body) = get(&format!("{base}/readyz")).await;
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("not synced"), "{body}");

    // A stored token that expires in a week (from the scrape's "now").
    berrah::auth::SqlTokenStore::from_store(&store)
        .put(&berrah::auth::TokenRecord {
            account: "oim-mastodon".into(),
            platform: "mastodon".into(),
            blob: vec![0; 8],
            access_expires_at: Some(t("2026-12-12T00:00:00Z")),
            refresh_expires_at: None,
            refreshable: false,
            needs_operator: false,
            reason: None,
            updated_at: start,
        })
        .await
        .unwrap();

    tokio::time::timeout(
        Duration::from_secs(120),
        Daemon::new(cfg).run(CancellationToken::new()),
    )
    .await
    .expect("the simulated run hung")
    .expect("the daemon failed");

    assert_eq!(
        get(&format!("{base}/readyz")).await,
        (200, "ready\n".into())
    );

    let r = berrah::http::client()
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let content_type = r.headers()["content-type"].to_str().unwrap().to_string();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let m = r.text().await.unwrap();
    let published = r#"berrah_publications_total{platform="facebook",account="oim-facebook",outcome="published"}"#;
    assert_eq!(sample(&m, published), Some(2.0), "{m}");
    let needs = r#"berrah_publications_total{platform="mastodon",account="oim-mastodon",outcome="needs_operator"}"#;
    assert_eq!(sample(&m, needs), Some(1.0), "{m}");
    assert_eq!(
        sample(&m, r#"berrah_queue_entries{state="published"}"#),
        Some(2.0),
        "{m}"
    );
    assert_eq!(
        sample(&m, r#"berrah_queue_entries{state="held"}"#),
        Some(2.0),
        "{m}"
    );
    assert_eq!(
        sample(&m, r#"berrah_queue_entries{state="scheduled"}"#),
        Some(0.0),
        "{m}"
    );
    assert_eq!(
        sample(&m, r#"berrah_held_entries{cause="account"}"#),
        Some(2.0),
        "{m}"
    );
    assert_eq!(
        sample(&m, r#"berrah_held_entries{cause="outcome"}"#),
        Some(0.0),
        "{m}"
    );
    // On a simulated clock that jumps to each due time, nothing is late.
    let bucket = r#"berrah_publication_lateness_seconds_bucket{platform="facebook",le="0.05"}"#;
    assert_eq!(sample(&m, bucket), Some(2.0), "{m}");
    assert_eq!(
        sample(
            &m,
            r#"berrah_publication_lateness_seconds_count{platform="facebook"}"#
        ),
        Some(2.0),
        "{m}"
    );
    assert_eq!(sample(&m, "berrah_broken_campaign_files"), Some(0.0), "{m}");
    assert_eq!(
        sample(&m, "berrah_last_sync_timestamp_seconds"),
        Some(start.as_second() as f64),
        "{m}"
    );
    // Nothing waits: no next due time.
    assert!(!m.contains("\nberrah_next_due_timestamp_seconds "), "{m}");
    let expiry = r#"berrah_token_expires_in_seconds{account="oim-mastodon",platform="mastodon"}"#;
    assert_eq!(sample(&m, expiry), Some(7.0 * 86400.0), "{m}");
    assert_eq!(sample(&m, "berrah_database_up"), Some(1.0), "{m}");
    let version = format!(
        r#"berrah_build_info{{version="{}"}}"#,
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(sample(&m, &version), Some(1.0), "{m}");
    // No secret, no text of a post.
    assert!(!m.contains("BERRAH_OBSERVE_TEST_NEVER_SET"), "{m}");
    assert!(!m.contains("Premier message"), "{m}");

    // Retrying a held entry makes it wait again, but by the scrape's clock
    // (four days later) it is past its limit: it will be dropped, not
    // published, so it is no "next due time".
    let held = store
        .list(berrah::store::ListFilter {
            states: vec![berrah::store::EntryState::Held],
            ..Default::default()
        })
        .await
        .unwrap();
    store.retry(&held[0].id, start).await.unwrap();
    let (_, m) = get(&format!("{base}/metrics")).await;
    assert!(
        sample(&m, "berrah_next_due_timestamp_seconds").is_none(),
        "{m}"
    );

    shutdown.cancel();
    let (code, body) = get(&format!("{base}/readyz")).await;
    assert_eq!((code, body.as_str()), (503, "shutting down\n"));

    store.close().await;
    let (code, body) = get(&format!("{base}/healthz")).await;
    assert_eq!(code, 503, "{body}");
    assert!(body.starts_with("the database"), "{body}");
    let (code, m) = get(&format!("{base}/metrics")).await;
    assert_eq!(code, 200);
    assert_eq!(sample(&m, "berrah_database_up"), Some(0.0), "{m}");
    observing.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_tell_the_truth_sqlite() {
    let (_dir, store) = berrah::store::testing::sqlite_temp().await;
    endpoints_tell_the_truth(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_tell_the_truth_postgres() {
    let Some(store) =
        berrah::store::testing::postgres_or_skip("observe::endpoints_tell_the_truth_postgres")
            .await
    else {
        return;
    };
    endpoints_tell_the_truth(store).await;
}

// ---------------------------------------------------------------------------
// Through the binary.
// ---------------------------------------------------------------------------

/// `berrah run --no-watch` in `dir`, on its SQLite database, with none of
/// systemd's variables unless a test sets them.
fn berrah_run(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_berrah"));
    cmd.current_dir(dir)
        .env("BERRAH_TZDB", "bundled")
        .env("RUST_LOG", "warn,berrah=info")
        .env_remove("BERRAH_CONFIG")
        .env_remove("BERRAH_CAMPAIGNS")
        .env_remove("DATABASE_URL")
        .env_remove("BERRAH_NOW")
        .env_remove("BERRAH_LOG_FORMAT")
        .env_remove("NOTIFY_SOCKET")
        .env_remove("WATCHDOG_USEC")
        .env_remove("WATCHDOG_PID")
        .env_remove("JOURNAL_STREAM")
        .args(["--config", "berrah.toml", "run", "--no-watch"])
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    cmd
}

/// Reads a child's stderr on a thread: every line goes to `lines`, and is
/// kept for the failure messages.
fn read_lines(pipe: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

/// Waits (bounded) for a line containing `needle`; returns it and every
/// line read so far.
fn wait_for_line(lines: &mpsc::Receiver<String>, seen: &mut Vec<String>, needle: &str) -> String {
    let end = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let left = end.saturating_duration_since(std::time::Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => {
                seen.push(line.clone());
                if line.contains(needle) {
                    return line;
                }
            }
            Err(_) => panic!("no line with `{needle}`; the log:\n{}", seen.join("\n")),
        }
    }
}

/// The listener's address from its start line.
fn listen_address(line: &str) -> String {
    let at = line.find("http://127.0.0.1:").expect(line);
    line[at..]
        .split(|c: char| c.is_whitespace() || c == '"')
        .next()
        .unwrap()
        .to_string()
}

/// A child process that is killed if the test fails before stopping it.
struct Running(Option<Child>);

impl Running {
    fn new(child: Child) -> Running {
        Running(Some(child))
    }

    fn child(&mut self) -> &mut Child {
        self.0.as_mut().unwrap()
    }

    /// SIGTERM, then the exit status (bounded wait).
    fn stop(mut self) -> std::process::ExitStatus {
        let mut child = self.0.take().unwrap();
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let end = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if std::time::Instant::now() > end {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the process did not exit after SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A free port on 127.0.0.1 (free when this returns; taken by whoever asks next).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Debian's `prometheus` (scripts/test installs it); `None` after saying
/// so loudly, and a failure in CI, when it is missing.
fn prometheus_or_skip(test: &str) -> Option<std::path::PathBuf> {
    let candidates = [std::path::PathBuf::from("/usr/bin/prometheus")];
    let from_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("prometheus"))
            .find(|p| p.is_file())
    });
    if let Some(found) = candidates.into_iter().find(|p| p.is_file()).or(from_path) {
        return Some(found);
    }
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
        panic!(
            "{test}: Prometheus is not installed, and CI is set: scripts/test installs Debian's `prometheus` package"
        );
    }
    eprintln!(
        "SKIPPED (Prometheus): {test} — install it with `apt-get install --no-install-recommends prometheus` (scripts/test does)"
    );
    None
}

/// The daemon publishes two posts to a fake Mastodon; a real Prometheus
/// server scrapes its `/metrics` every second, and its HTTP API answers
/// `berrah_publications_total` with the two publications.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_the_publications() {
    let Some(prometheus) = prometheus_or_skip("observe::prometheus_scrapes_the_publications")
    else {
        return;
    };
    const TOKEN_VAR: &str = "BERRAH_OBSERVE_MASTODON_TOKEN";
    let mastodon = berrah_fakes::mastodon::FakeMastodon::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("berrah.toml"),
        format!(
            "[accounts.oim-mastodon]\nplatform = \"mastodon\"\nbase_url = \"{}\"\n\
             credentials = \"env:{TOKEN_VAR}\"\n",
            mastodon.url()
        ),
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("campaigns")).unwrap();
    // Two posts due a second ago (UTC): published at once.
    let now = Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC);
    let due = (now.clone() - jiff::SignedDuration::from_secs(1))
        .strftime("%Y-%m-%dT%H:%M:%S")
        .to_string();
    let day = now.date();
    std::fs::write(
        dir.path().join("campaigns/now.toml"),
        format!(
            "[campaign]\nid = \"now\"\ntitle = \"Now\"\ntimezone = \"UTC\"\nstart = {}\nend = {}\n\
             accounts = [\"oim-mastodon\"]\nlanguages = [\"fr\"]\n\n\
             [[posts]]\nid = \"a\"\ndate_time = {due}\ntext = {{ fr = \"Message A\" }}\n\n\
             [[posts]]\nid = \"b\"\ndate_time = {due}\ntext = {{ fr = \"Message B\" }}\n",
            day.yesterday().unwrap(),
            day.tomorrow().unwrap()
        ),
    )
    .unwrap();

    let mut child = Running::new(
        berrah_run(dir.path())
            .env(TOKEN_VAR, berrah_fakes::mastodon::DEFAULT_TOKEN)
            .args(["--listen", "127.0.0.1:0"])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let lines = read_lines(child.child().stderr.take().unwrap());
    let mut seen = Vec::new();
    let target = listen_address(&wait_for_line(&lines, &mut seen, "serving /healthz"));
    eventually("both posts on the fake Mastodon", 60, || {
        let n = mastodon.statuses().len();
        async move { n == 2 }
    })
    .await;

    // Prometheus, with a configuration and a storage folder of its own.
    let prom_dir = tempfile::tempdir().unwrap();
    let scraped = target.trim_start_matches("http://").to_string();
    std::fs::write(
        prom_dir.path().join("prometheus.yml"),
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: berrah\n    static_configs:\n      - targets: ['{scraped}']\n"
        ),
    )
    .unwrap();
    let port = free_port();
    let prom_log = std::fs::File::create(prom_dir.path().join("prometheus.log")).unwrap();
    let prom = Command::new(&prometheus)
        .current_dir(prom_dir.path())
        .arg(format!(
            "--config.file={}",
            prom_dir.path().join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            prom_dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .stdout(prom_log.try_clone().unwrap())
        .stderr(prom_log)
        .spawn()
        .unwrap();
    let prom = Running::new(prom);

    let query = format!("http://127.0.0.1:{port}/api/v1/query?query=berrah_publications_total");
    let mut last = String::new();
    let mut value = None;
    for _ in 0..480 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let Ok(r) = berrah::http::client().get(&query).send().await else {
            continue;
        };
        last = r.text().await.unwrap_or_default();
        let Ok(json) = serde_json::from_str::<serde_json::Value>(&last) else {
            continue;
        };
        let found = json["data"]["result"].as_array().and_then(|results| {
            results.iter().find_map(|r| {
                let m = &r["metric"];
                (m["outcome"] == "published"
                    && m["platform"] == "mastodon"
                    && m["account"] == "oim-mastodon"
                    && m["job"] == "berrah")
                    .then(|| r["value"][1].as_str().map(str::to_string))
                    .flatten()
            })
        });
        if found.is_some() {
            value = found;
            break;
        }
    }
    drop(prom);
    let status = child.stop();
    let prom_log = std::fs::read_to_string(prom_dir.path().join("prometheus.log")).unwrap();
    assert_eq!(
        value.as_deref(),
        Some("2"),
        "Prometheus's last answer: {last}\nits log:\n{prom_log}"
    );
    assert!(status.success(), "berrah's exit: {status}");
}

/// A project whose one post is due far ahead: the daemon syncs, then waits.
fn idle_project(config_extra: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("berrah.toml"),
        format!("{config_extra}[accounts.oim-facebook]\nplatform = \"facebook\"\n"),
    )
    .unwrap();
    std::fs::create_dir_all(tmp.path().join("campaigns")).unwrap();
    std::fs::write(
        tmp.path().join("campaigns/later.toml"),
        "[campaign]\nid = \"later\"\ntitle = \"Later\"\ntimezone = \"UTC\"\n\
         start = 2099-01-01\nend = 2099-01-31\naccounts = [\"oim-facebook\"]\nlanguages = [\"fr\"]\n\n\
         [[posts]]\nid = \"p\"\ndate_time = 2099-01-02T10:00:00\ntext = { fr = \"Plus tard\" }\n",
    )
    .unwrap();
    tmp
}

/// A datagram socket standing in for systemd's `NOTIFY_SOCKET`: every
/// message it receives goes to the returned channel.
fn notify_socket(dir: &std::path::Path) -> (std::path::PathBuf, mpsc::Receiver<String>) {
    let path = dir.join("notify.sock");
    let socket = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 4096];
        while let Ok(n) = socket.recv(&mut buf) {
            if tx
                .send(String::from_utf8_lossy(&buf[..n]).into_owned())
                .is_err()
            {
                return;
            }
        }
    });
    (path, rx)
}

/// Waits (bounded) for a datagram containing `needle`, keeping every one.
fn wait_for_message(rx: &mpsc::Receiver<String>, seen: &mut Vec<String>, needle: &str) {
    let end = std::time::Instant::now() + Duration::from_secs(60);
    while !seen.iter().any(|m| m.contains(needle)) {
        let left = end.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(m) => seen.push(m),
            Err(_) => panic!("no `{needle}` from berrah; received: {seen:?}"),
        }
    }
}

/// Under a (stand-in) systemd with a watchdog: `READY=1` with a status
/// once synced (and `/readyz` agrees, on the listener `daemon.listen`
/// asked for), `WATCHDOG=1` again and again, `STOPPING=1` at SIGTERM.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn systemd_hears_ready_watchdog_and_stopping() {
    let dir = idle_project("[daemon]\nlisten = \"127.0.0.1:0\"\n\n");
    let (socket, messages) = notify_socket(dir.path());
    let mut child = Running::new(
        berrah_run(dir.path())
            .env("NOTIFY_SOCKET", &socket)
            // A 200 ms watchdog: pinged every 100 ms.
            .env("WATCHDOG_USEC", "200000")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let lines = read_lines(child.child().stderr.take().unwrap());
    let mut log = Vec::new();
    let base = listen_address(&wait_for_line(&lines, &mut log, "serving /healthz"));

    let mut seen = Vec::new();
    wait_for_message(&messages, &mut seen, "READY=1");
    let ready = seen.iter().find(|m| m.contains("READY=1")).unwrap();
    assert!(
        ready.contains("STATUS=ready: 1 campaign, synced at "),
        "{ready:?}"
    );
    assert_eq!(
        get(&format!("{base}/readyz")).await,
        (200, "ready\n".into())
    );
    // Three pings at least (whenever they come: no timing is asserted).
    while seen.iter().filter(|m| m.contains("WATCHDOG=1")).count() < 3 {
        match messages.recv_timeout(Duration::from_secs(60)) {
            Ok(m) => seen.push(m),
            Err(_) => panic!("the watchdog pings stopped; received: {seen:?}"),
        }
    }
    assert!(!seen.iter().any(|m| m.contains("STOPPING=1")), "{seen:?}");

    let status = child.stop();
    assert!(status.success(), "{status}");
    while let Ok(m) = messages.recv_timeout(Duration::from_millis(200)) {
        seen.push(m);
    }
    let stopping = seen
        .iter()
        .position(|m| m.contains("STOPPING=1"))
        .unwrap_or_else(|| panic!("no STOPPING=1; received: {seen:?}"));
    let ready = seen.iter().position(|m| m.contains("READY=1")).unwrap();
    assert!(ready < stopping, "{seen:?}");
    assert!(seen[stopping].contains("STATUS=stopping"), "{seen:?}");
}

/// Without `WATCHDOG_USEC`, no watchdog timer runs: ready, stopping, and no
/// `WATCHDOG=1` in between.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_watchdog_pings_unless_systemd_asks() {
    let dir = idle_project("");
    let (socket, messages) = notify_socket(dir.path());
    let child = Running::new(
        berrah_run(dir.path())
            .env("NOTIFY_SOCKET", &socket)
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut seen = Vec::new();
    wait_for_message(&messages, &mut seen, "READY=1");
    assert!(child.stop().success());
    while let Ok(m) = messages.recv_timeout(Duration::from_millis(200)) {
        seen.push(m);
    }
    assert!(seen.iter().any(|m| m.contains("STOPPING=1")), "{seen:?}");
    assert!(!seen.iter().any(|m| m.contains("WATCHDOG")), "{seen:?}");
}

/// With stderr passed off as the journal (`JOURNAL_STREAM` names the pipe
/// the test reads), every line starts with its priority and a broken
/// campaign file's multi-line error is one line; without it, the same run
/// writes no prefix.
#[test]
fn journal_lines_carry_their_priority() {
    use std::os::fd::AsFd;
    use std::os::unix::fs::MetadataExt;

    let run = |journal: bool| -> Vec<String> {
        let dir = idle_project("");
        // No `[campaign]` table: an error of several lines.
        std::fs::write(
            dir.path().join("campaigns/broken.toml"),
            "[[posts]]\nid = \"x\"\ntext = { fr = \"?\" }\n",
        )
        .unwrap();
        let (reader, writer) = std::io::pipe().unwrap();
        let meta = std::fs::File::from(writer.as_fd().try_clone_to_owned().unwrap())
            .metadata()
            .unwrap();
        let mut cmd = berrah_run(dir.path());
        if journal {
            cmd.env("JOURNAL_STREAM", format!("{}:{}", meta.dev(), meta.ino()));
        }
        let child = Running::new(cmd.stderr(writer).spawn().unwrap());
        // The parent's end of the pipe closes with the command.
        drop(cmd);
        let lines = read_lines(reader);
        let mut seen = Vec::new();
        wait_for_line(&lines, &mut seen, "campaigns loaded");
        assert!(child.stop().success(), "{}", seen.join("\n"));
        seen.extend(lines.iter());
        seen
    };

    let lines = run(true);
    let all = lines.join("\n");
    for l in &lines {
        let prefixed = l.len() > 3
            && l.starts_with('<')
            && l.as_bytes()[1].is_ascii_digit()
            && l.as_bytes()[2] == b'>';
        assert!(prefixed, "a line without its priority: {l:?}\n{all}");
    }
    let error = lines
        .iter()
        .find(|l| l.contains("broken.toml"))
        .unwrap_or_else(|| panic!("no line about broken.toml:\n{all}"));
    assert!(error.starts_with("<3>"), "{all}");
    assert!(
        error.contains("\\n"),
        "the diagnostic's lines, escaped: {error}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("<6>") && l.contains("campaigns loaded")),
        "{all}"
    );

    let plain = run(false);
    let all = plain.join("\n");
    assert!(plain.iter().all(|l| !l.starts_with('<')), "{all}");
    assert!(
        plain.len() > lines.len(),
        "the error spans several lines outside the journal:\n{all}"
    );
}

/// A listen address that is not one: `berrah check` points at it in
/// `berrah.toml`, and `berrah run --listen` refuses to start.
#[test]
fn a_bad_listen_address_is_refused() {
    let dir = idle_project("[daemon]\nlisten = \"localhost\"\n\n");
    let out = Command::new(env!("CARGO_BIN_EXE_berrah"))
        .current_dir(dir.path())
        .env("BERRAH_TZDB", "bundled")
        .env_remove("BERRAH_CONFIG")
        .env_remove("BERRAH_CAMPAIGNS")
        .args(["--config", "berrah.toml", "check"])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("`localhost` is not an address to listen on"),
        "{text}"
    );
    assert!(text.contains("berrah.toml:2"), "{text}");

    let dir = idle_project("");
    let out = berrah_run(dir.path())
        .args(["--listen", "nonsense"])
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("`nonsense` is not an address to listen on"),
        "{stderr}"
    );
}
