//! The daemon: months on the simulated clock, crash safety, several instances, broken files, shutdown.

use std::collections::BTreeMap;

use berrah::store::testing::sqlite_temp;
use berrah::store::{EntryState, ListFilter};
use jiff::Timestamp;

use super::support::*;

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// Every occurrence of `planned` is in the outbox exactly once, published
/// at its due instant (the simulated clock jumps exactly there).
fn assert_exactly_once_on_time(
    planned: &[berrah::plan::Occurrence],
    outbox: &[berrah::platforms::outbox::OutboxRecord],
) {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for r in outbox {
        *seen.entry(r.occurrence.as_str()).or_default() += 1;
    }
    let dups: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(dups.is_empty(), "published more than once: {dups:?}");
    for o in planned {
        let r = outbox
            .iter()
            .find(|r| r.occurrence == o.id)
            .unwrap_or_else(|| panic!("never published: {} due {}", o.key, o.due));
        assert_eq!(r.published_at, o.due, "{} published late", o.key);
        assert_eq!(r.due_utc, o.due);
        assert_eq!(r.due_local, o.local);
        assert_eq!(r.text, o.content.text);
    }
    assert_eq!(outbox.len(), planned.len(), "publications nobody planned");
}

/// Months of schedule: AMAL (Africa/Casablanca, UTC+00:00 all year since
/// 2026-09-20, Ramadan 2027 included), a Paris campaign across both DST
/// changes, and a weekly post; each occurrence published once, at its due time.
#[tokio::test]
async fn months_of_schedule_publish_every_occurrence_once_on_time() {
    let dir = copy_project(&fixture("plan"));
    let start = t("2026-09-01T00:00:00Z");
    let planned = planned(dir.path(), start);
    assert!(
        planned.len() > 20,
        "the fixtures plan {} occurrences",
        planned.len()
    );
    let (_db, store) = sqlite_temp().await;
    let run = run_simulated(dir.path(), store.clone(), start, None).await;
    assert_exactly_once_on_time(&planned, &run.outbox);
    assert_eq!(run.events.len(), planned.len());

    // The changes of time, read from what was published.
    let at = |post: &str, day: &str| -> Vec<Timestamp> {
        run.outbox
            .iter()
            .filter(|r| r.post == post && r.due_local.starts_with(day))
            .map(|r| r.published_at)
            .collect()
    };
    // Casablanca: UTC+00:00 all year since 2026-09-20 (tzdata 2026c), so
    // 21:00 is 21:00Z before, during and after Ramadan 2027.
    assert_eq!(at("sundays", "2027-01-31"), [t("2027-01-31T21:00:00Z")]);
    assert_eq!(at("sundays", "2027-02-14"), [t("2027-02-14T21:00:00Z")]);
    assert_eq!(at("sundays", "2027-03-07"), [t("2027-03-07T21:00:00Z")]);
    assert_eq!(at("sundays", "2027-03-14"), [t("2027-03-14T21:00:00Z")]);
    assert_eq!(at("sundays", "2027-03-21"), Vec::<Timestamp>::new());
    // Paris: 02:30 on the spring-forward night does not exist (03:30 CEST),
    // on the fall-back night it happens twice (the first, CEST).
    assert_eq!(at("in-the-gap", "2027-03-28"), [t("2027-03-28T01:30:00Z")]);
    assert_eq!(
        at("in-the-overlap", "2026-10-25"),
        [t("2026-10-25T00:30:00Z")]
    );

    // The queue agrees: everything published, nothing else.
    let all = store.list(ListFilter::default()).await.unwrap();
    assert_eq!(all.len(), planned.len());
    assert!(
        all.iter().all(|e| e.state == EntryState::Published),
        "{:?}",
        all.iter().map(|e| (&e.id, e.state)).collect::<Vec<_>>()
    );
}

/// The example campaigns of the README, on their own config, from before
/// the first post to after the last: the whole job end to end.
#[tokio::test]
async fn the_example_campaigns_run_end_to_end() {
    let dir = copy_project(&project_root());
    let start = t("2026-11-23T00:00:00Z");
    let planned = planned(dir.path(), start);
    assert!(planned.len() > 50);
    let (_db, store) = sqlite_temp().await;
    let run = run_simulated(dir.path(), store, start, None).await;
    assert_exactly_once_on_time(&planned, &run.outbox);
}

/// A second run over the same database and outbox publishes nothing again.
#[tokio::test]
async fn a_second_run_publishes_nothing_again() {
    let dir = copy_project(&fixture("plan"));
    let start = t("2026-09-01T00:00:00Z");
    let (_db, store) = sqlite_temp().await;
    let first = run_simulated(
        dir.path(),
        store.clone(),
        start,
        Some(t("2026-12-20T00:00:00Z")),
    )
    .await;
    assert!(!first.events.is_empty());
    let second = run_simulated(dir.path(), store.clone(), t("2026-12-20T00:00:00Z"), None).await;
    let planned = planned(dir.path(), start);
    assert_exactly_once_on_time(&planned, &second.outbox);
    assert_eq!(first.events.len() + second.events.len(), planned.len());
}

// ---------------------------------------------------------------------------
// Crash safety: the real binary, killed with SIGKILL during bursts.
// ---------------------------------------------------------------------------

/// A folder whose three outbox accounts publish the rounds' campaign files.
fn crash_project() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("berrah.toml"),
        "[daemon]\nlease_seconds = 3\nworkers = 16\n\n\
         [accounts.a1]\nplatform = \"facebook\"\n\n\
         [accounts.a2]\nplatform = \"x\"\nconcurrency = 2\n\n\
         [accounts.a3]\nplatform = \"linkedin\"\n",
    )
    .unwrap();
    std::fs::create_dir_all(tmp.path().join("campaigns")).unwrap();
    tmp
}

/// Writes campaign `round-N` with `posts` posts on the three accounts, due a
/// second ago (UTC): a burst of `3 * posts` publications due now.
fn write_round(dir: &std::path::Path, round: usize, posts: usize) {
    let now = Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC);
    let due = (now.clone() - jiff::SignedDuration::from_secs(1))
        .strftime("%Y-%m-%dT%H:%M:%S")
        .to_string();
    let day = now.date();
    let mut text = format!(
        "[campaign]\nid = \"round-{round}\"\ntitle = \"Round {round}\"\ntimezone = \"UTC\"\n\
         start = {}\nend = {}\naccounts = [\"a1\", \"a2\", \"a3\"]\nlanguages = [\"fr\"]\n",
        day.yesterday().unwrap(),
        day.tomorrow().unwrap()
    );
    for p in 0..posts {
        text.push_str(&format!(
            "\n[[posts]]\nid = \"p{p:02}\"\ndate_time = {due}\ntext = {{ fr = \"Tour {round}, message {p}\" }}\n"
        ));
    }
    std::fs::write(
        dir.join("campaigns").join(format!("round-{round:03}.toml")),
        text,
    )
    .unwrap();
}

fn daemon_command(dir: &std::path::Path, database: &str) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_berrah"));
    cmd.current_dir(dir)
        .env("BERRAH_TZDB", "bundled")
        .env_remove("BERRAH_CONFIG")
        .env_remove("BERRAH_CAMPAIGNS")
        .env_remove("DATABASE_URL")
        .env_remove("BERRAH_NOW")
        .env("RUST_LOG", "warn,berrah=info")
        .args([
            "--config",
            "berrah.toml",
            "--database",
            database,
            "run",
            "--no-watch",
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null());
    cmd
}

/// Kills the binary at random moments of bursts of 30 publications, `rounds`
/// times, then lets it finish: every entry is published and written to the
/// outbox (keyed on the occurrence id) exactly once.
async fn crash_rounds(database: String, dir: tempfile::TempDir, rounds: usize) {
    const POSTS: usize = 10;
    let log = |round: usize| {
        std::fs::File::create(dir.path().join(format!("round-{round}.log"))).unwrap()
    };
    let outbox_path = dir.path().join("data").join("outbox.jsonl");
    let mut partial = 0;
    // The kill comes at a random moment within `window`, which adapts so
    // that kills land during the burst (start-up takes longer as rounds
    // accumulate, and longer on PostgreSQL).
    let mut window: u64 = 700;
    for round in 0..rounds {
        write_round(dir.path(), round, POSTS);
        let before = berrah::platforms::outbox::Outbox::read_all(&outbox_path)
            .unwrap()
            .len();
        let mut child = daemon_command(dir.path(), &database)
            .stderr(log(round))
            .spawn()
            .unwrap();
        let wait = rand::random::<u64>() % window;
        tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
        child.kill().unwrap();
        child.wait().unwrap();
        let after = berrah::platforms::outbox::Outbox::read_all(&outbox_path)
            .unwrap()
            .len();
        if after > before && after < (round + 1) * 3 * POSTS {
            partial += 1;
        } else if after == before {
            window += 150;
        } else {
            window = window.saturating_sub(100).max(200);
        }
    }
    // A last, undisturbed run finishes the work (expired leases rescued).
    let mut child = daemon_command(dir.path(), &database)
        .stderr(log(rounds))
        .spawn()
        .unwrap();
    let store = berrah::store::Store::connect(&database).await.unwrap();
    let total = rounds * 3 * POSTS;
    eventually("every entry published", 120, || {
        let store = store.clone();
        async move {
            let all = store.list(ListFilter::default()).await.unwrap();
            all.len() == total && all.iter().all(|e| e.state == EntryState::Published)
        }
    })
    .await;
    // A graceful stop exits 0.
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "SIGTERM exit: {status:?}");

    let records = berrah::platforms::outbox::Outbox::read_all(&outbox_path).unwrap();
    let mut count: BTreeMap<String, usize> = BTreeMap::new();
    for r in &records {
        *count.entry(r.occurrence.clone()).or_default() += 1;
    }
    let dups: Vec<_> = count.iter().filter(|(_, n)| **n > 1).collect();
    assert!(dups.is_empty(), "written twice: {dups:?}");
    assert_eq!(records.len(), total, "every entry written once");
    let all = store.list(ListFilter::default()).await.unwrap();
    for e in &all {
        assert_eq!(count.get(&e.id), Some(&1), "{} not in the outbox", e.id);
    }
    eprintln!(
        "crash safety: {rounds} kills, {partial} in the middle of a burst, {total} posts, no duplicate"
    );
    assert!(
        partial >= rounds / 10,
        "too few kills landed in the middle of a burst ({partial} of {rounds})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_safety_sigkill_during_bursts_sqlite() {
    let dir = crash_project();
    let url = berrah::store::testing::sqlite_url(&dir.path().join("data").join("berrah.db"));
    crash_rounds(url, dir, 50).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_safety_sigkill_during_bursts_postgres() {
    let Some(url) = berrah::store::testing::postgres_url_or_skip(
        "daemon::crash_safety_sigkill_during_bursts_postgres",
    ) else {
        return;
    };
    crash_rounds(url, crash_project(), 50).await;
}

/// `berrah rehearse --instant` prints every publication of the plan once,
/// with its local and UTC time, and never touches the data folder.
#[test]
fn rehearse_prints_every_publication_once() {
    let dir = copy_project(&fixture("plan"));
    let planned = planned(dir.path(), t("2026-09-01T00:00:00Z"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_berrah"))
        .current_dir(dir.path())
        .env("BERRAH_TZDB", "bundled")
        .env_remove("BERRAH_CONFIG")
        .env_remove("DATABASE_URL")
        .env_remove("BERRAH_NOW")
        .args([
            "--config",
            "berrah.toml",
            "rehearse",
            "--from",
            "2026-09-01",
            "--instant",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().filter(|l| l.contains(" UTC)  ")).collect();
    assert_eq!(lines.len(), planned.len(), "{stdout}");
    // Paris in summer time, Casablanca during Ramadan (UTC+00:00, as all year).
    assert!(
        stdout.contains("2027-03-28 03:30 +02:00 (2027-03-28 01:30 UTC)  paris/-/in-the-gap"),
        "{stdout}"
    );
    assert!(
        stdout.contains("2027-02-14 21:00 +00:00 (2027-02-14 21:00 UTC)  ramadan/-/sundays"),
        "{stdout}"
    );
    assert!(!stdout.contains("late]"), "{stdout}");
    assert!(
        !dir.path().join("data").exists(),
        "rehearse wrote to the data folder"
    );
}

// ---------------------------------------------------------------------------
// The daemon against the faulty fake: shutdown, several instances.
// ---------------------------------------------------------------------------

use std::sync::Arc;

use berrah::platforms::Platform;
use berrah::scheduler::{Daemon, PlatformFactory};
use berrah_fakes::faulty::{Faulty, FaultyClient, Mode};
use tokio_util::sync::CancellationToken;

/// Every account of the daemon publishes to `url` through one client.
fn faulty_factory(url: &str, keyed: bool, instance: &str) -> Arc<dyn PlatformFactory> {
    let mut client = FaultyClient::new(url, keyed);
    client.instance = instance.to_string();
    let client: Arc<dyn Platform> = Arc::new(client);
    Arc::new(move |_: &str, _: &Arc<berrah::config::AccountConfig>| Some(client.clone()))
}

/// Starts the daemon of `dir` on the real clock, every account publishing
/// as `instance` to the [`Faulty`] server at `url`; cancel the token to stop it.
fn run_on_faulty(
    dir: &std::path::Path,
    store: &berrah::store::Store,
    url: &str,
    instance: &str,
) -> (
    CancellationToken,
    tokio::task::JoinHandle<Result<berrah::scheduler::RunSummary, berrah::scheduler::DaemonError>>,
) {
    let mut cfg = daemon_config(dir, store.clone(), Arc::new(berrah::time::SystemClock));
    cfg.platforms = Some(faulty_factory(url, false, instance));
    let shutdown = CancellationToken::new();
    let run = tokio::spawn(Daemon::new(cfg).run(shutdown.clone()));
    (shutdown, run)
}

async fn states(store: &berrah::store::Store) -> BTreeMap<EntryState, usize> {
    let mut m = BTreeMap::new();
    for e in store.list(ListFilter::default()).await.unwrap() {
        *m.entry(e.state).or_default() += 1;
    }
    m
}

/// SIGTERM-like shutdown while slow publications are in flight: they
/// finish and are recorded, nothing new starts, claims not started are
/// given back; a restart publishes the rest; nothing is sent twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_lets_publications_in_flight_finish() {
    let dir = crash_project();
    write_round(dir.path(), 0, 4); // 12 posts due now on 3 accounts
    let fake = Faulty::new();
    fake.set_mode(Mode::Slow(std::time::Duration::from_millis(800)));
    let server = fake.serve().await.unwrap();
    let (_db, store) = sqlite_temp().await;
    let (shutdown, run) = run_on_faulty(dir.path(), &store, &server.url(), "one");
    eventually("publications in flight", 30, || {
        let fake = fake.clone();
        async move { fake.count() >= 2 }
    })
    .await;
    shutdown.cancel();
    let summary = tokio::time::timeout(std::time::Duration::from_secs(30), run)
        .await
        .expect("shutdown hung")
        .unwrap()
        .unwrap();
    assert_eq!(summary.unfinished, 0);
    let after = states(&store).await;
    let published = after.get(&EntryState::Published).copied().unwrap_or(0);
    assert_eq!(
        published,
        fake.count(),
        "every request received is recorded: {after:?}"
    );
    assert!(published < 12, "shutdown stopped claiming: {after:?}");
    assert_eq!(
        published + after.get(&EntryState::Scheduled).copied().unwrap_or(0),
        12,
        "nothing left claimed or publishing: {after:?}"
    );
    // A restart publishes the rest, once.
    fake.set_mode(Mode::Ok);
    let (shutdown, run) = run_on_faulty(dir.path(), &store, &server.url(), "two");
    eventually("the rest published", 60, || {
        let store = store.clone();
        async move { states(&store).await.get(&EntryState::Published) == Some(&12) }
    })
    .await;
    shutdown.cancel();
    run.await.unwrap().unwrap();
    let mut ids = fake.publications();
    assert_eq!(ids.len(), 12);
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 12, "a post was sent twice");
}

/// The daemon takes a post from the queue a moment before it is due (so
/// that the claim's commit is not part of how late it goes out), yet no
/// post reaches its platform before its due time, by the receiver's clock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_taken_ahead_of_time_never_go_out_early() {
    let dir = crash_project();
    let now = Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC);
    let first = now.clone() + jiff::SignedDuration::from_millis(1500);
    let mut text = format!(
        "[campaign]\nid = \"paced\"\ntitle = \"Paced\"\ntimezone = \"UTC\"\n\
         start = {}\nend = {}\naccounts = [\"a1\", \"a2\", \"a3\"]\nlanguages = [\"fr\"]\n",
        now.date().yesterday().unwrap(),
        now.date().tomorrow().unwrap()
    );
    // 24 posts, 37 ms apart: each account's next post is due while the
    // daemon is still recording the previous ones.
    for p in 0..24i64 {
        let due = (first.clone() + jiff::SignedDuration::from_millis(37 * p))
            .strftime("%Y-%m-%dT%H:%M:%S%.3f")
            .to_string();
        text.push_str(&format!(
            "\n[[posts]]\nid = \"p{p:02}\"\ndate_time = {due}\ntext = {{ fr = \"Message {p}\" }}\n"
        ));
    }
    std::fs::write(dir.path().join("campaigns/paced.toml"), text).unwrap();
    let fake = Faulty::new();
    let server = fake.serve().await.unwrap();
    let (_db, store) = sqlite_temp().await;
    let (shutdown, run) = run_on_faulty(dir.path(), &store, &server.url(), "one");
    eventually("every post published", 60, || {
        let store = store.clone();
        async move { states(&store).await.get(&EntryState::Published) == Some(&(24 * 3)) }
    })
    .await;
    shutdown.cancel();
    run.await.unwrap().unwrap();
    let due: BTreeMap<String, Timestamp> = store
        .list(ListFilter::default())
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.id, e.due))
        .collect();
    let received = fake.received();
    assert_eq!(received.len(), 24 * 3);
    for r in received {
        let post: berrah_fakes::faulty::FaultyPost = serde_json::from_str(&r.body).unwrap();
        let due = due[&post.occurrence];
        assert!(
            r.at >= due,
            "{} was received at {}, before its due time {due}",
            post.occurrence,
            r.at
        );
    }
}

/// `n` daemons on one PostgreSQL database share a burst: every post is
/// received exactly once and each instance published some.
async fn instances_share_the_work(n: usize) {
    let name = format!("daemon::{n}_instances_on_postgres");
    let Some(url) = berrah::store::testing::postgres_url_or_skip(&name) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut config = String::from("[daemon]\nlease_seconds = 10\nworkers = 8\n");
    let accounts: Vec<String> = (0..8).map(|i| format!("acc{i}")).collect();
    for a in &accounts {
        config.push_str(&format!(
            "\n[accounts.{a}]\nplatform = \"webhook\"\nbase_url = \"http://127.0.0.1:1/\"\n"
        ));
    }
    std::fs::write(dir.path().join("berrah.toml"), config).unwrap();
    std::fs::create_dir_all(dir.path().join("campaigns")).unwrap();
    let now = Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC);
    // Due once every instance is up (2 to 3 s from now): an instance that
    // starts while the others have already published the whole burst would
    // have nothing left to share.
    let due = (now.clone() + jiff::SignedDuration::from_secs(3))
        .strftime("%Y-%m-%dT%H:%M:%S")
        .to_string();
    let mut text = format!(
        "[campaign]\nid = \"burst\"\ntitle = \"Burst\"\ntimezone = \"UTC\"\nstart = {}\nend = {}\n\
         accounts = [{}]\nlanguages = [\"fr\"]\n",
        now.date().yesterday().unwrap(),
        now.date().tomorrow().unwrap(),
        accounts
            .iter()
            .map(|a| format!("\"{a}\""))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for p in 0..10 {
        text.push_str(&format!(
            "\n[[posts]]\nid = \"p{p}\"\ndate_time = {due}\ntext = {{ fr = \"Message {p}\" }}\n"
        ));
    }
    std::fs::write(dir.path().join("campaigns/burst.toml"), text).unwrap();
    let total = accounts.len() * 10;

    let fake = Faulty::new();
    fake.set_mode(Mode::Slow(std::time::Duration::from_millis(15)));
    let server = fake.serve().await.unwrap();
    let shutdown = CancellationToken::new();
    let mut runs = Vec::new();
    let mut first_store = None;
    for i in 0..n {
        let store = berrah::store::Store::connect_with(
            &url,
            &berrah::store::StoreOptions { max_connections: 3 },
        )
        .await
        .unwrap();
        first_store.get_or_insert(store.clone());
        let mut cfg = daemon_config(dir.path(), store, Arc::new(berrah::time::SystemClock));
        cfg.owner = Some(format!("instance-{i}"));
        cfg.platforms = Some(faulty_factory(
            &server.url(),
            false,
            &format!("instance-{i}"),
        ));
        runs.push(tokio::spawn(Daemon::new(cfg).run(shutdown.clone())));
    }
    let store = first_store.unwrap();
    eventually("the burst published", 90, || {
        let store = store.clone();
        async move { states(&store).await.get(&EntryState::Published) == Some(&total) }
    })
    .await;
    shutdown.cancel();
    for r in runs {
        r.await.unwrap().unwrap();
    }
    let received = fake.received();
    let mut ids = fake.publications();
    assert_eq!(ids.len(), total);
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), total, "a post was published twice");
    for i in 0..n {
        let by = received
            .iter()
            .filter(|r| r.header("x-instance") == Some(&format!("instance-{i}")))
            .count();
        eprintln!("{n} instances: instance-{i} published {by} of {total}");
        assert!(
            by > 0,
            "instance-{i} published nothing: the work was not shared"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_postgres_share_the_work_without_duplicates() {
    instances_share_the_work(2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_on_postgres_share_the_work_without_duplicates() {
    instances_share_the_work(3).await;
}

// ---------------------------------------------------------------------------
// Files changing while the daemon runs.
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
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// While the daemon runs (watching files): one campaign file is broken,
/// another edited, a third removed. The broken one is logged with
/// `path:line:col` and its last valid version stays scheduled (also after
/// a restart, from its snapshot); the edit is synced; the removed
/// campaign's waiting posts are cancelled. Then months go by: exactly the
/// expected posts go out, once each.
#[tokio::test]
async fn a_broken_file_keeps_its_last_valid_version_and_breaks_nothing_else() {
    let logs = LogBuf::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_ansi(false)
        .with_env_filter("berrah=info")
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let dir = copy_project(&fixture("plan"));
    let start = t("2026-09-01T00:00:00Z");
    let before = planned(dir.path(), start);
    let n_before = before.len();
    let (_db, store) = sqlite_temp().await;
    let sim = berrah::time::SimClock::new(start);
    let mut cfg = daemon_config(dir.path(), store.clone(), Arc::new(sim.clone()));
    cfg.watch = true;
    let shutdown = CancellationToken::new();
    let run = tokio::spawn(Daemon::new(cfg).run(shutdown.clone()));
    eventually("the first sync", 30, || {
        let store = store.clone();
        async move { store.list(ListFilter::default()).await.unwrap().len() == n_before }
    })
    .await;

    let campaigns = dir.path().join("campaigns");
    let amal = std::fs::read_to_string(campaigns.join("amal.toml")).unwrap();
    std::fs::write(
        campaigns.join("amal.toml"),
        amal.replace(
            "timezone = \"Africa/Casablanca\"",
            "timezone = \"Africa/Casablance\"",
        ),
    )
    .unwrap();
    let paris = std::fs::read_to_string(campaigns.join("paris.toml")).unwrap();
    std::fs::write(
        campaigns.join("paris.toml"),
        format!("{paris}\n[[posts]]\nid = \"added\"\ndate_time = 2027-04-01T10:00:00\ntext = {{ fr = \"Ajouté en marche\" }}\n"),
    )
    .unwrap();
    std::fs::remove_file(campaigns.join("ramadan.toml")).unwrap();

    eventually("the edit synced", 30, || {
        let store = store.clone();
        async move {
            let all = store.list(ListFilter::default()).await.unwrap();
            all.iter().any(|e| e.post == "added")
                && all
                    .iter()
                    .filter(|e| e.campaign == "ramadan")
                    .all(|e| e.state == EntryState::Cancelled)
        }
    })
    .await;
    let all = store.list(ListFilter::default()).await.unwrap();
    assert!(
        all.iter()
            .filter(|e| e.campaign == "amal")
            .all(|e| e.state == EntryState::Scheduled),
        "the broken campaign's entries are untouched"
    );
    let text = logs.text();
    assert!(text.contains("amal.toml:"), "{text}");
    assert!(text.contains("unknown time zone"), "{text}");
    assert!(
        text.contains("last valid version stays scheduled"),
        "{text}"
    );
    assert!(text.contains("campaign file removed"), "{text}");
    shutdown.cancel();
    run.await.unwrap().unwrap();

    // A restart while amal.toml is still broken, then months of schedule.
    let run = run_simulated(dir.path(), store.clone(), start, None).await;
    let mut expected: Vec<_> = before
        .into_iter()
        .filter(|o| o.campaign != "ramadan")
        .collect();
    expected.extend(
        planned(dir.path(), start)
            .into_iter()
            .filter(|o| o.post == "added"),
    );
    assert_exactly_once_on_time(&expected, &run.outbox);
}

// ---------------------------------------------------------------------------
// Crash safety against real platform clients: the binary publishes to a
// fake Mastodon (keyed) and a fake signed JSON webhook (no idempotency).
// ---------------------------------------------------------------------------

use berrah_fakes::mastodon::{self, FakeMastodon};
use berrah_fakes::webhook::{Kind, Receiver};

const CRASH_MASTODON_TOKEN_VAR: &str = "BERRAH_CRASH_MASTODON_TOKEN";
const CRASH_HOOK_KEY_VAR: &str = "BERRAH_CRASH_HOOK_KEY";
const CRASH_HOOK_KEY: &str = "crash-test-signing-key";

/// A random answer delay of 20 to 50 ms, so that kills land mid-request.
fn slow_ms() -> std::time::Duration {
    std::time::Duration::from_millis(20 + rand::random::<u64>() % 31)
}

/// Answers the webhook's requests 20 to 50 ms after the receiver has
/// recorded them (received, not yet answered: a kill in between leaves the
/// daemon not knowing).
async fn answer_slowly(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let answer = next.run(req).await;
    tokio::time::sleep(slow_ms()).await;
    answer
}

/// The fake Mastodon instance and webhook receivers (one that drops
/// duplicate deliveries), all answering slowly.
struct CrashFakes {
    mastodon: FakeMastodon,
    hook: Receiver,
    _hook_server: berrah_fakes::Running,
    hook_url: String,
    dedupe: Receiver,
    _dedupe_server: berrah_fakes::Running,
    dedupe_url: String,
}

async fn crash_fakes() -> CrashFakes {
    let mastodon = FakeMastodon::start().await.unwrap();
    // A budget no test spends, reset far away: kills, not 429s, are tested here.
    mastodon.set_rate_limit(
        1_000_000,
        Timestamp::now()
            .checked_add(jiff::SignedDuration::from_hours(24))
            .unwrap(),
    );
    // The fake creates the status, then answers late (one fault per request).
    for _ in 0..4000 {
        mastodon.fail_next(
            mastodon::Endpoint::Statuses,
            mastodon::Fault::Slow(slow_ms()),
        );
    }
    let hook = Receiver::new(Kind::Json, Some(CRASH_HOOK_KEY));
    let server = berrah_fakes::serve(
        hook.router()
            .layer(axum::middleware::from_fn(answer_slowly)),
    )
    .await
    .unwrap();
    let hook_url = format!("{}{}", server.url(), hook.path());
    let dedupe = Receiver::new(Kind::Json, Some(CRASH_HOOK_KEY));
    dedupe.dedupe_by_delivery();
    let dedupe_server = berrah_fakes::serve(
        dedupe
            .router()
            .layer(axum::middleware::from_fn(answer_slowly)),
    )
    .await
    .unwrap();
    let dedupe_url = format!("{}{}", dedupe_server.url(), dedupe.path());
    CrashFakes {
        mastodon,
        hook,
        _hook_server: server,
        hook_url,
        dedupe,
        _dedupe_server: dedupe_server,
        dedupe_url,
    }
}

/// A folder with one Mastodon account and two generic JSON webhook accounts
/// (one whose receiver drops duplicate deliveries), all with `env:`
/// credentials, publishing to the fakes.
fn platform_crash_project(fakes: &CrashFakes, lease_seconds: u32) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("berrah.toml"),
        format!(
            "[daemon]\nlease_seconds = {lease_seconds}\nworkers = 16\nmax_attempts = 100\n\n\
             [accounts.masto]\nplatform = \"mastodon\"\nbase_url = \"{}\"\n\
             credentials = \"env:{CRASH_MASTODON_TOKEN_VAR}\"\nconcurrency = 2\n\n\
             [accounts.hook]\nplatform = \"webhook\"\nbase_url = \"{}\"\n\
             credentials = \"env:{CRASH_HOOK_KEY_VAR}\"\nconcurrency = 2\n\
             options = {{ format = \"json\" }}\n\n\
             [accounts.hookd]\nplatform = \"webhook\"\nbase_url = \"{}\"\n\
             credentials = \"env:{CRASH_HOOK_KEY_VAR}\"\nconcurrency = 2\n\
             dedupe_by_delivery = true\n",
            fakes.mastodon.url(),
            fakes.hook_url,
            fakes.dedupe_url,
        ),
    )
    .unwrap();
    std::fs::create_dir_all(tmp.path().join("campaigns")).unwrap();
    tmp
}

/// Writes campaign `burst-N` with `posts` posts due a second ago on the
/// three accounts.
fn write_platform_round(dir: &std::path::Path, round: usize, posts: usize) {
    let now = Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC);
    let due = (now.clone() - jiff::SignedDuration::from_secs(1))
        .strftime("%Y-%m-%dT%H:%M:%S")
        .to_string();
    let day = now.date();
    let mut text = format!(
        "[campaign]\nid = \"burst-{round}\"\ntitle = \"Burst {round}\"\ntimezone = \"UTC\"\n\
         start = {}\nend = {}\naccounts = [\"masto\", \"hook\", \"hookd\"]\nlanguages = [\"fr\"]\n",
        day.yesterday().unwrap(),
        day.tomorrow().unwrap()
    );
    for p in 0..posts {
        text.push_str(&format!(
            "\n[[posts]]\nid = \"p{p:02}\"\ndate_time = {due}\ntext = {{ fr = \"Rafale {round}, message {p}\" }}\n"
        ));
    }
    std::fs::write(
        dir.join("campaigns").join(format!("burst-{round:03}.toml")),
        text,
    )
    .unwrap();
}

/// The binary with the accounts' secrets in its environment.
fn platform_daemon_command(dir: &std::path::Path, database: &str) -> std::process::Command {
    let mut cmd = daemon_command(dir, database);
    cmd.env(CRASH_MASTODON_TOKEN_VAR, mastodon::DEFAULT_TOKEN)
        .env(CRASH_HOOK_KEY_VAR, CRASH_HOOK_KEY);
    cmd
}

/// Requests that reached the fakes: distinct Mastodon keys, webhook deliveries.
fn reached(fakes: &CrashFakes) -> usize {
    let keys: std::collections::BTreeSet<_> = fakes
        .mastodon
        .statuses()
        .into_iter()
        .filter_map(|s| s.idempotency_key)
        .collect();
    let deliveries: std::collections::BTreeSet<_> = fakes
        .hook
        .received()
        .into_iter()
        .chain(fakes.dedupe.received())
        .filter_map(|r| r.delivery)
        .collect();
    keys.len() + deliveries.len()
}

/// SIGKILLs the binary at random moments of bursts against the fakes,
/// `rounds` times, then lets a last run finish and stops it with SIGTERM.
/// Mastodon got every post exactly once; the webhook got each post at most
/// once, and a post it did not answer for is `held`, never sent again.
async fn platform_crash_rounds(database: String, rounds: usize) {
    const FIRST_BURST: usize = 30;
    const POSTS: usize = 4;
    let fakes = crash_fakes().await;
    let dir = platform_crash_project(&fakes, 3);
    let log =
        |round: usize| std::fs::File::create(dir.path().join(format!("run-{round}.log"))).unwrap();
    let mut written = 0;
    let mut partial = 0;
    let mut window: u64 = 700;
    let started = std::time::Instant::now();
    for round in 0..rounds {
        let posts = if round % 10 == 0 { FIRST_BURST } else { POSTS };
        write_platform_round(dir.path(), round, posts);
        written += posts * 3;
        let before = reached(&fakes);
        let mut child = platform_daemon_command(dir.path(), &database)
            .stderr(log(round))
            .spawn()
            .unwrap();
        if round % 5 == 4 {
            // A blind kill: often during start-up, sync or lease rescue.
            let wait = rand::random::<u64>() % window;
            tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
        } else {
            // A kill during the burst: once the first request arrived (start-up
            // time varies a lot on a loaded machine), a random moment later.
            let end = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while reached(&fakes) == before && std::time::Instant::now() < end {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            let wait = rand::random::<u64>() % 400;
            tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let after = reached(&fakes);
        if after > before && after < written {
            partial += 1;
        } else if after == before {
            window += 150;
        } else {
            window = window.saturating_sub(100).max(200);
        }
    }
    let kills_took = started.elapsed();
    let mut child = platform_daemon_command(dir.path(), &database)
        .stderr(log(rounds))
        .spawn()
        .unwrap();
    let store = berrah::store::Store::connect(&database).await.unwrap();
    let end = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let all = store.list(ListFilter::default()).await.unwrap();
        if all.len() == written
            && all
                .iter()
                .all(|e| matches!(e.state, EntryState::Published | EntryState::Held))
        {
            break;
        }
        if std::time::Instant::now() > end {
            let _ = child.kill();
            let stuck: Vec<_> = all
                .iter()
                .filter(|e| !matches!(e.state, EntryState::Published | EntryState::Held))
                .map(|e| {
                    (
                        &e.id,
                        &e.account,
                        e.state,
                        e.attempts,
                        &e.run_at,
                        &e.last_error,
                    )
                })
                .collect();
            let kept = dir.keep();
            panic!(
                "not every entry published or held after the last run ({} of {written} in the \
                 queue; logs in {}): {stuck:#?}",
                all.len(),
                kept.display()
            );
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // The last run may have found nothing left to do: wait until it is up
    // (its signal handler is installed by then) before asking it to stop.
    let last_log = dir.path().join(format!("run-{rounds}.log"));
    eventually("the last run's start-up line", 60, || {
        let last_log = last_log.clone();
        async move {
            std::fs::read_to_string(&last_log).is_ok_and(|l| l.contains("campaigns loaded"))
        }
    })
    .await;
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "SIGTERM exit: {status:?}");

    let all = store.list(ListFilter::default()).await.unwrap();
    assert_eq!(all.len(), written, "every post is in the queue");
    let statuses = fakes.mastodon.statuses();
    let received = fakes.hook.received();
    assert!(
        received.iter().all(|r| r.signature_valid == Some(true)),
        "every webhook request was signed with the key from the environment"
    );
    let mut by_key: BTreeMap<String, usize> = BTreeMap::new();
    for s in &statuses {
        let key = s.idempotency_key.clone().expect("a status without a key");
        *by_key.entry(key).or_default() += 1;
    }
    let mut by_delivery: BTreeMap<String, usize> = BTreeMap::new();
    for r in &received {
        *by_delivery
            .entry(r.delivery.clone().expect("a delivery without its id"))
            .or_default() += 1;
    }
    let twice: Vec<_> = by_delivery.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "the webhook received twice: {twice:?}");
    let delivered = fakes.dedupe.delivered();
    let mut delivered_count: BTreeMap<&str, usize> = BTreeMap::new();
    for d in &delivered {
        *delivered_count.entry(d.as_str()).or_default() += 1;
    }
    let (mut masto, mut hook_published, mut hook_held, mut hookd) = (0, 0, 0, 0);
    for e in &all {
        match e.account.as_str() {
            "masto" => {
                masto += 1;
                assert_eq!(e.state, EntryState::Published, "{}", e.id);
                assert_eq!(
                    by_key.get(&e.id),
                    Some(&1),
                    "{}: Mastodon has not exactly one status",
                    e.id
                );
            }
            "hook" => match e.state {
                EntryState::Published => {
                    hook_published += 1;
                    assert_eq!(
                        by_delivery.get(&e.id),
                        Some(&1),
                        "{}: published but not received once",
                        e.id
                    );
                }
                EntryState::Held => hook_held += 1,
                other => panic!("{}: {other:?}", e.id),
            },
            "hookd" => {
                hookd += 1;
                assert_eq!(
                    e.state,
                    EntryState::Published,
                    "{}: an unknown outcome is sent again, never held, when the receiver dedupes",
                    e.id
                );
                assert_eq!(
                    delivered_count.get(e.id.as_str()),
                    Some(&1),
                    "{}: not delivered exactly once",
                    e.id
                );
            }
            other => panic!("an entry of an unknown account {other}"),
        }
    }
    assert_eq!(statuses.len(), masto, "statuses nobody planned");
    assert_eq!(masto * 3, written);
    assert_eq!(hookd * 3, written);
    assert_eq!(delivered.len(), hookd, "deliveries nobody planned");
    assert!(
        by_delivery.keys().all(|d| all.iter().any(|e| &e.id == d)),
        "deliveries nobody planned"
    );
    eprintln!(
        "crash safety against platforms: {rounds} kills, {partial} mid-burst, {written} posts: \
         Mastodon {masto} once each, webhook {hook_published} published, {hook_held} held, \
         deduplicating webhook {hookd} delivered once each ({} duplicates dropped) \
         (kills {kills_took:?}, last run {:?}, final window {window} ms)",
        fakes.dedupe.duplicates(),
        started.elapsed() - kills_took
    );
    assert!(
        partial >= rounds / 10,
        "too few kills landed in the middle of a burst ({partial} of {rounds})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_safety_against_mastodon_and_webhook_sqlite() {
    let data = tempfile::tempdir().unwrap();
    let url = berrah::store::testing::sqlite_url(&data.path().join("berrah.db"));
    platform_crash_rounds(url, 50).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_safety_against_mastodon_and_webhook_postgres() {
    let Some(url) = berrah::store::testing::postgres_url_or_skip(
        "daemon::crash_safety_against_mastodon_and_webhook_postgres",
    ) else {
        return;
    };
    platform_crash_rounds(url, 50).await;
}

// ---------------------------------------------------------------------------
// Budgets, downtime, operator commands.
// ---------------------------------------------------------------------------

/// A folder with `config` as `berrah.toml` and `campaign` as `campaigns/c.toml`.
fn project_with(config: &str, campaign: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("berrah.toml"), config).unwrap();
    std::fs::create_dir_all(tmp.path().join("campaigns")).unwrap();
    std::fs::write(tmp.path().join("campaigns/c.toml"), campaign).unwrap();
    tmp
}

/// Captures the `berrah` logs of the current thread's async code.
fn capture_logs() -> (LogBuf, tracing::subscriber::DefaultGuard) {
    let logs = LogBuf::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_ansi(false)
        .with_env_filter("berrah=info")
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    (logs, guard)
}

/// An account with `budget = { per_day = 2 }` and 5 posts due the same day:
/// 2 go out that day, the other 3 are deferred (still `scheduled`, not
/// failed, logged) to the next UTC day, where 2 more go, and the last one on
/// the day after.
#[tokio::test]
async fn a_daily_budget_defers_what_exceeds_it_to_the_following_days() {
    let (logs, _guard) = capture_logs();
    let mut campaign = String::from(
        "[campaign]\nid = \"budget\"\ntitle = \"Budget\"\ntimezone = \"UTC\"\n\
         start = 2027-03-01\nend = 2027-03-31\naccounts = [\"limited\"]\nlanguages = [\"fr\"]\n\
         expires_after = \"7 days\"\n",
    );
    for p in 0..5 {
        campaign.push_str(&format!(
            "\n[[posts]]\nid = \"p{p}\"\ndate_time = 2027-03-10T09:0{p}:00\ntext = {{ fr = \"Message {p}\" }}\n"
        ));
    }
    let dir = project_with(
        "[accounts.limited]\nplatform = \"x\"\nbudget = { per_day = 2 }\n",
        &campaign,
    );
    let (_db, store) = sqlite_temp().await;

    // The first day.
    let first = run_simulated(
        dir.path(),
        store.clone(),
        t("2027-03-10T00:00:00Z"),
        Some(t("2027-03-10T23:00:00Z")),
    )
    .await;
    let day1: Vec<_> = first
        .outbox
        .iter()
        .filter(|r| r.published_at < t("2027-03-11T00:00:00Z"))
        .collect();
    assert_eq!(day1.len(), 2, "{:?}", first.outbox);
    let after_day1 = states(&store).await;
    assert_eq!(after_day1.get(&EntryState::Failed), None, "{after_day1:?}");
    assert_eq!(after_day1.get(&EntryState::Held), None, "{after_day1:?}");
    let waiting: Vec<_> = store
        .list(ListFilter::default())
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.state != EntryState::Published)
        .collect();
    assert!(!waiting.is_empty(), "some posts wait for the next day");
    for e in &waiting {
        assert_eq!(
            e.state,
            EntryState::Scheduled,
            "{}: deferred, not failed",
            e.id
        );
        assert!(
            e.run_at >= t("2027-03-11T00:00:00Z"),
            "{}: {}",
            e.id,
            e.run_at
        );
    }
    let text = logs.text();
    assert!(
        text.contains("its budget of 2 per day is spent"),
        "the deferral is logged: {text}"
    );

    // The following days.
    let rest = run_simulated(dir.path(), store.clone(), t("2027-03-10T23:00:00Z"), None).await;
    let mut per_day: BTreeMap<String, usize> = BTreeMap::new();
    for r in &rest.outbox {
        let day = r
            .published_at
            .to_zoned(jiff::tz::TimeZone::UTC)
            .date()
            .to_string();
        *per_day.entry(day).or_default() += 1;
    }
    assert_eq!(
        per_day,
        BTreeMap::from([
            ("2027-03-10".to_string(), 2),
            ("2027-03-11".to_string(), 2),
            ("2027-03-12".to_string(), 1),
        ]),
        "{:?}",
        rest.outbox
    );
    let mut seen: Vec<_> = rest.outbox.iter().map(|r| r.post.clone()).collect();
    seen.sort();
    assert_eq!(seen, ["p0", "p1", "p2", "p3", "p4"], "each once");
    let all = store.list(ListFilter::default()).await.unwrap();
    assert!(all.iter().all(|e| e.state == EntryState::Published));
}

/// After 10 hours of downtime (the simulated clock moves with no daemon
/// running), only the latest missed occurrence of an hourly post goes out,
/// the one-off post past its `expires_after` is `expired`, nothing else
/// bursts out; the series then goes on, on time.
#[tokio::test]
async fn no_burst_after_downtime() {
    let dir = project_with(
        "[accounts.acc]\nplatform = \"x\"\n",
        "[campaign]\nid = \"hourly\"\ntitle = \"Hourly\"\ntimezone = \"UTC\"\n\
         start = 2027-03-10\nend = 2027-03-10\naccounts = [\"acc\"]\nlanguages = [\"fr\"]\n\n\
         [[posts]]\nid = \"every-hour\"\ncron = \"0 * * * *\"\ntext = { fr = \"Toutes les heures\" }\n\n\
         [[posts]]\nid = \"once\"\ndate_time = 2027-03-10T03:00:00\nexpires_after = \"2h\"\n\
         text = { fr = \"Une fois\" }\n",
    );
    let (_db, store) = sqlite_temp().await;
    let first = run_simulated(
        dir.path(),
        store.clone(),
        t("2027-03-10T00:00:00Z"),
        Some(t("2027-03-10T02:30:00Z")),
    )
    .await;
    let before: Vec<_> = first.outbox.iter().map(|r| r.published_at).collect();
    assert_eq!(
        before,
        [
            t("2027-03-10T00:00:00Z"),
            t("2027-03-10T01:00:00Z"),
            t("2027-03-10T02:00:00Z")
        ],
        "before the downtime"
    );

    // Down from 02:30 to 12:30.
    let second = run_simulated(dir.path(), store.clone(), t("2027-03-10T12:30:00Z"), None).await;
    let after: Vec<_> = second.outbox[before.len()..]
        .iter()
        .map(|r| (r.post.as_str(), r.due_utc, r.published_at))
        .collect();
    // 12:00 went out at 12:30 (late, within its limit); then 13:00 to 23:00 on time.
    let mut expected = vec![(
        "every-hour",
        t("2027-03-10T12:00:00Z"),
        t("2027-03-10T12:30:00Z"),
    )];
    for h in 13..24 {
        let at = t(&format!("2027-03-10T{h:02}:00:00Z"));
        expected.push(("every-hour", at, at));
    }
    assert_eq!(after, expected, "after the downtime");

    let all = store.list(ListFilter::default()).await.unwrap();
    let once = all.iter().find(|e| e.post == "once").unwrap();
    assert_eq!(once.state, EntryState::Expired, "{once:?}");
    let missed: Vec<_> = all
        .iter()
        .filter(|e| e.post == "every-hour" && e.state == EntryState::Expired)
        .map(|e| e.due)
        .collect();
    let expected_missed: Vec<_> = (3..12)
        .map(|h| t(&format!("2027-03-10T{h:02}:00:00Z")))
        .collect();
    let mut missed_sorted = missed.clone();
    missed_sorted.sort();
    assert_eq!(
        missed_sorted, expected_missed,
        "the missed ones are expired"
    );
    assert_eq!(
        all.iter()
            .filter(|e| e.state == EntryState::Published)
            .count(),
        3 + expected.len()
    );
}

/// `berrah` (the binary) on the database `url`, in an empty folder.
fn operator(url: &str, args: &[&str]) -> std::process::Output {
    let tmp = tempfile::tempdir().unwrap();
    std::process::Command::new(env!("CARGO_BIN_EXE_berrah"))
        .current_dir(tmp.path())
        .env("BERRAH_TZDB", "bundled")
        .env_remove("BERRAH_CONFIG")
        .env_remove("BERRAH_CAMPAIGNS")
        .env_remove("DATABASE_URL")
        .env_remove("BERRAH_NOW")
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "warn")
        .args(["--database", url])
        .args(args)
        .output()
        .unwrap()
}

async fn states_of(store: &berrah::store::Store, campaign: &str) -> Vec<EntryState> {
    store
        .list(ListFilter::default())
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.campaign == campaign)
        .map(|e| e.state)
        .collect()
}

/// While a daemon runs on SQLite, `berrah pause CAMPAIGN` from another
/// process keeps the campaign's next post from going out (another
/// campaign's later post does go out); `berrah resume CAMPAIGN` and it goes
/// out, without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_and_resume_from_another_process_while_the_daemon_runs() {
    let campaign = |id: &str, at: &str| {
        format!(
            "[campaign]\nid = \"{id}\"\ntitle = \"{id}\"\ntimezone = \"UTC\"\n\
             start = 2027-03-01\nend = 2027-03-31\naccounts = [\"acc\"]\nlanguages = [\"fr\"]\n\n\
             [[posts]]\nid = \"next\"\ndate_time = {at}\ntext = {{ fr = \"Message {id}\" }}\n"
        )
    };
    let dir = project_with(
        "[accounts.acc]\nplatform = \"x\"\n",
        &campaign("ops", "2027-03-10T10:00:00"),
    );
    std::fs::write(
        dir.path().join("campaigns/other.toml"),
        campaign("other", "2027-03-10T10:15:00"),
    )
    .unwrap();
    let db = tempfile::tempdir().unwrap();
    let url = berrah::store::testing::sqlite_url(&db.path().join("berrah.db"));
    let store = berrah::store::Store::connect(&url).await.unwrap();
    let sim = berrah::time::SimClock::new(t("2027-03-10T09:00:00Z"));
    let cfg = daemon_config(dir.path(), store.clone(), Arc::new(sim.clone()));
    let shutdown = CancellationToken::new();
    let run = tokio::spawn(Daemon::new(cfg).run(shutdown.clone()));
    eventually("the first sync", 30, || {
        let store = store.clone();
        async move { store.list(ListFilter::default()).await.unwrap().len() == 2 }
    })
    .await;

    let out = tokio::task::spawn_blocking({
        let url = url.clone();
        move || operator(&url, &["pause", "ops"])
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.starts_with("paused campaign ops"), "{said}");

    // Both posts are due; only the other campaign's goes out.
    sim.set(t("2027-03-10T10:30:00Z"));
    eventually("the other campaign's post published", 30, || {
        let store = store.clone();
        async move { states_of(&store, "other").await == [EntryState::Published] }
    })
    .await;
    // Give the daemon a moment more: the paused post still waits.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(states_of(&store, "ops").await, [EntryState::Scheduled]);

    let out = tokio::task::spawn_blocking({
        let url = url.clone();
        move || operator(&url, &["resume", "ops"])
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eventually("the resumed post published", 30, || {
        let store = store.clone();
        async move { states_of(&store, "ops").await == [EntryState::Published] }
    })
    .await;
    shutdown.cancel();
    tokio::time::timeout(std::time::Duration::from_secs(30), run)
        .await
        .expect("shutdown hung")
        .unwrap()
        .unwrap();
    let outbox = berrah::platforms::outbox::Outbox::read_all(
        &dir.path()
            .join("data")
            .join(berrah::platforms::outbox::FILE_NAME),
    )
    .unwrap();
    let posted: Vec<_> = outbox.iter().map(|r| r.campaign.as_str()).collect();
    assert_eq!(posted, ["other", "ops"], "each once, the paused one after");
}

/// `--grace` is a hard limit: publications that never end (the fakes take
/// the request and never answer) do not keep the process after SIGTERM
/// once the grace is over. The next start resolves each cut entry exactly
/// once: retried with its key on Mastodon (the fake keeps one status),
/// held on the webhook (never sent twice).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_grace_period_is_a_hard_limit() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let mastodon = FakeMastodon::start().await.unwrap();
    // The fake creates the status, then answers in an hour.
    mastodon.fail_next(
        mastodon::Endpoint::Statuses,
        mastodon::Fault::Slow(std::time::Duration::from_secs(3600)),
    );
    let hook = Receiver::new(Kind::Json, Some(CRASH_HOOK_KEY));
    let dedupe = Receiver::new(Kind::Json, Some(CRASH_HOOK_KEY));
    dedupe.dedupe_by_delivery();
    // The receivers record the request, then never answer while `hang`.
    let hang = Arc::new(AtomicBool::new(true));
    let hanging_router = |r: &Receiver| {
        let hanging = hang.clone();
        r.router().layer(axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| {
                let hanging = hanging.clone();
                async move {
                    let answer = next.run(req).await;
                    if hanging.load(Ordering::SeqCst) {
                        std::future::pending::<()>().await;
                    }
                    answer
                }
            },
        ))
    };
    let server = berrah_fakes::serve(hanging_router(&hook)).await.unwrap();
    let dedupe_server = berrah_fakes::serve(hanging_router(&dedupe)).await.unwrap();
    let fakes = CrashFakes {
        hook_url: format!("{}{}", server.url(), hook.path()),
        mastodon,
        hook,
        _hook_server: server,
        dedupe_url: format!("{}{}", dedupe_server.url(), dedupe.path()),
        dedupe,
        _dedupe_server: dedupe_server,
    };
    let dir = platform_crash_project(&fakes, 3);
    write_platform_round(dir.path(), 0, 1);
    let url = berrah::store::testing::sqlite_url(&dir.path().join("data").join("berrah.db"));
    let log = |name: &str| std::fs::File::create(dir.path().join(name)).unwrap();
    let mut child = platform_daemon_command(dir.path(), &url)
        .args(["--grace", "1"])
        .stderr(log("first.log"))
        .spawn()
        .unwrap();
    eventually("the three requests received", 60, || {
        let (m, h, d) = (
            fakes.mastodon.statuses().len(),
            fakes.hook.received().len(),
            fakes.dedupe.received().len(),
        );
        async move { m == 1 && h == 1 && d == 1 }
    })
    .await;
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let stopped = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if stopped.elapsed() > std::time::Duration::from_secs(15) {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "still running 15 s after SIGTERM with --grace 1:\n{}",
                std::fs::read_to_string(dir.path().join("first.log")).unwrap_or_default()
            );
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let took = stopped.elapsed();
    let first_log = std::fs::read_to_string(dir.path().join("first.log")).unwrap_or_default();
    assert!(
        took < std::time::Duration::from_secs(5),
        "exit {took:?} after SIGTERM:\n{first_log}"
    );
    assert_eq!(status.code(), Some(0), "{first_log}");
    let store = berrah::store::Store::connect(&url).await.unwrap();
    let all = store.list(ListFilter::default()).await.unwrap();
    assert_eq!(all.len(), 3);
    assert!(
        all.iter().all(|e| e.state == EntryState::Publishing),
        "all cut in flight: {all:?}"
    );

    // The next start, with receivers that answer: rescued once each.
    hang.store(false, Ordering::SeqCst);
    let mut child = platform_daemon_command(dir.path(), &url)
        .stderr(log("second.log"))
        .spawn()
        .unwrap();
    eventually("the entries resolved", 60, || {
        let store = store.clone();
        async move {
            let all = store.list(ListFilter::default()).await.unwrap();
            all.iter()
                .all(|e| matches!(e.state, EntryState::Published | EntryState::Held))
        }
    })
    .await;
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "SIGTERM exit: {status:?}");
    for e in store.list(ListFilter::default()).await.unwrap() {
        match e.account.as_str() {
            "masto" | "hookd" => assert_eq!(e.state, EntryState::Published, "{e:?}"),
            _ => assert_eq!(e.state, EntryState::Held, "{e:?}"),
        }
    }
    let statuses = fakes.mastodon.statuses();
    assert_eq!(statuses.len(), 1, "one status, whatever the retries");
    assert!(
        fakes.mastodon.count("POST", "/api/v1/statuses") >= 1,
        "the retry reached the fake with its key"
    );
    assert_eq!(
        fakes.hook.received().len(),
        1,
        "the webhook was not sent twice"
    );
    // The deduplicating receiver got the same delivery again and kept one.
    assert_eq!(fakes.dedupe.received().len(), 2, "sent again");
    assert_eq!(fakes.dedupe.delivered().len(), 1, "delivered once");
    assert_eq!(fakes.dedupe.duplicates(), 1);
}

/// The hard limit holds whatever the daemon is doing when the signal comes:
/// here still opening a database whose server accepts the connection and
/// never answers (sqlx would wait 30 s), SIGTERM with `--grace 1` ends the
/// process within a few seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_grace_period_holds_during_start_up() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (accepted_tx, mut accepted) = tokio::sync::mpsc::unbounded_channel();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
            let _ = accepted_tx.send(());
        }
    });
    let dir = crash_project();
    let url = format!("postgres://berrah@127.0.0.1:{port}/berrah");
    let mut child = daemon_command(dir.path(), &url)
        .args(["--grace", "1"])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(30), accepted.recv())
        .await
        .expect("the daemon connects");
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let stopped = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if stopped.elapsed() > std::time::Duration::from_secs(20) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("still running 20 s after SIGTERM with --grace 1");
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let took = stopped.elapsed();
    silent.abort();
    assert!(
        took < std::time::Duration::from_secs(6),
        "exit {took:?} after SIGTERM ({status:?})"
    );
}

/// While `berrah.toml` is broken (here: a token pasted as credentials), the
/// daemon keeps the configuration in force, says so in its log without
/// echoing the token, and goes on syncing campaign edits with it.
#[tokio::test]
async fn a_broken_config_keeps_the_last_valid_one() {
    let (logs, _guard) = capture_logs();
    let dir = copy_project(&fixture("plan"));
    let start = t("2026-09-01T00:00:00Z");
    let n_before = planned(dir.path(), start).len();
    let (_db, store) = sqlite_temp().await;
    let sim = berrah::time::SimClock::new(start);
    let mut cfg = daemon_config(dir.path(), store.clone(), Arc::new(sim.clone()));
    cfg.watch = true;
    let shutdown = CancellationToken::new();
    let run = tokio::spawn(Daemon::new(cfg).run(shutdown.clone()));
    eventually("the first sync", 30, || {
        let store = store.clone();
        async move { store.list(ListFilter::default()).await.unwrap().len() == n_before }
    })
    .await;

    let config = dir.path().join("berrah.toml");
    let good = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!(
            "{good}\n[accounts.leak]\nplatform = \"mastodon\"\nbase_url = \"https://m.example\"\n\
             credentials = \"sk-PASTED-SECRET\"\n"
        ),
    )
    .unwrap();
    eventually("the broken configuration logged", 30, || {
        let logs = logs.clone();
        async move { logs.text().contains("keeping the one in force") }
    })
    .await;
    let campaigns = dir.path().join("campaigns");
    let paris = std::fs::read_to_string(campaigns.join("paris.toml")).unwrap();
    std::fs::write(
        campaigns.join("paris.toml"),
        format!("{paris}\n[[posts]]\nid = \"added\"\ndate_time = 2027-04-01T10:00:00\ntext = {{ fr = \"Ajouté en marche\" }}\n"),
    )
    .unwrap();
    eventually(
        "the edit synced with the configuration in force",
        30,
        || {
            let store = store.clone();
            async move {
                let all = store.list(ListFilter::default()).await.unwrap();
                all.iter().any(|e| e.post == "added")
            }
        },
    )
    .await;
    let text = logs.text();
    assert!(text.contains("credentials of account `leak`"), "{text}");
    assert!(text.contains("credentials = ********"), "{text}");
    assert!(!text.contains("PASTED"), "{text}");
    assert!(!text.contains("configuration reloaded"), "{text}");
    shutdown.cancel();
    run.await.unwrap().unwrap();
}

/// SQLite: a restart after `kill -9` rescues its predecessor's leases at
/// once (the database's lock proves that no other process holds them),
/// instead of waiting for their expiry: here an hour, so that only the
/// rescue at start can resolve them within the test. Still exactly once:
/// Mastodon by its Idempotency-Key, the deduplicating webhook by its
/// delivery id; the plain webhook's unknown outcomes are held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_after_kill_rescues_at_once_sqlite() {
    const POSTS: usize = 10;
    let fakes = crash_fakes().await;
    let dir = platform_crash_project(&fakes, 3600);
    let database = berrah::store::testing::sqlite_url(&dir.path().join("data/berrah.db"));
    let log = |name: &str| std::fs::File::create(dir.path().join(name)).unwrap();
    let store = berrah::store::Store::connect(&database).await.unwrap();
    let in_flight = |store: berrah::store::Store| async move {
        store
            .list(ListFilter::default())
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.state.is_in_flight())
            .count()
    };
    // Kill during a burst until the kill leaves publications in flight.
    let mut round = 0;
    let cut = loop {
        assert!(round < 10, "no kill landed during a burst in 10 rounds");
        write_platform_round(dir.path(), round, POSTS);
        let before = reached(&fakes);
        let mut child = platform_daemon_command(dir.path(), &database)
            .stderr(log(&format!("kill-{round}.log")))
            .spawn()
            .unwrap();
        let end = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while reached(&fakes) == before && std::time::Instant::now() < end {
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(rand::random::<u64>() % 30)).await;
        child.kill().unwrap();
        child.wait().unwrap();
        round += 1;
        let n = in_flight(store.clone()).await;
        if n > 0 {
            break n;
        }
    };
    let written = round * POSTS * 3;

    // `status` names the gone daemon holding them.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_berrah"))
        .current_dir(dir.path())
        .env("BERRAH_TZDB", "bundled")
        .env_remove("BERRAH_CONFIG")
        .env_remove("DATABASE_URL")
        .env_remove("BERRAH_NOW")
        .env("NO_COLOR", "1")
        .args(["--database", &database, "status"])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("— not running since "), "{table}");
    assert!(table.contains("ended without a clean stop"), "{table}");

    let restart_log = dir.path().join("restart.log");
    let started = std::time::Instant::now();
    let mut child = platform_daemon_command(dir.path(), &database)
        .stderr(std::fs::File::create(&restart_log).unwrap())
        .spawn()
        .unwrap();
    eventually("the restart's start line", 60, || {
        let found = std::fs::read_to_string(&restart_log)
            .is_ok_and(|l| l.contains("berrah daemon starting"));
        async move { found }
    })
    .await;
    let up = started.elapsed();
    // Leases of an hour: only the rescue at start resolves them in time.
    eventually("the interrupted publications resolved", 30, || {
        let store = store.clone();
        async move { in_flight(store).await == 0 }
    })
    .await;
    let resolved = started.elapsed();
    eventually("every entry published or held", 60, || {
        let store = store.clone();
        async move {
            let all = store.list(ListFilter::default()).await.unwrap();
            all.len() == written
                && all
                    .iter()
                    .all(|e| matches!(e.state, EntryState::Published | EntryState::Held))
        }
    })
    .await;
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "SIGTERM exit: {status:?}");

    let all = store.list(ListFilter::default()).await.unwrap();
    let mut by_key: BTreeMap<String, usize> = BTreeMap::new();
    for s in fakes.mastodon.statuses() {
        *by_key.entry(s.idempotency_key.unwrap()).or_default() += 1;
    }
    let mut delivered: BTreeMap<String, usize> = BTreeMap::new();
    for d in fakes.dedupe.delivered() {
        *delivered.entry(d).or_default() += 1;
    }
    let mut hook: BTreeMap<String, usize> = BTreeMap::new();
    for r in fakes.hook.received() {
        *hook.entry(r.delivery.unwrap()).or_default() += 1;
    }
    for e in &all {
        match e.account.as_str() {
            "masto" => {
                assert_eq!(e.state, EntryState::Published, "{}", e.id);
                assert_eq!(by_key.get(&e.id), Some(&1), "{}", e.id);
            }
            "hookd" => {
                assert_eq!(e.state, EntryState::Published, "{}", e.id);
                assert_eq!(delivered.get(&e.id), Some(&1), "{}", e.id);
            }
            _ => assert!(hook.get(&e.id).is_none_or(|n| *n == 1), "{}", e.id),
        }
    }
    let text = std::fs::read_to_string(&restart_log).unwrap();
    assert!(
        text.contains("publications in flight of a daemon that is gone are looked at now"),
        "{text}"
    );
    eprintln!(
        "restart after kill -9: {cut} publication(s) in flight at the kill; the restart was up \
         after {up:?} and had resolved them {:?} later (leases of an hour)",
        resolved - up
    );
}

/// `berrah rehearse` with its defaults (paced, not `--instant`) runs the
/// example calendar, a year with idle months, in seconds: every planned
/// post once, at its planned local and UTC time, none reported late.
/// Prints how long it took (no assertion on time).
#[test]
fn rehearse_with_its_defaults_runs_the_example_calendar_each_post_at_its_time() {
    let dir = copy_project(&project_root());
    let from = t("2026-11-23T00:00:00Z");
    let planned = planned(dir.path(), from);
    let started = std::time::Instant::now();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_berrah"))
        .current_dir(dir.path())
        .env("BERRAH_TZDB", "bundled")
        .env_remove("BERRAH_CONFIG")
        .env_remove("DATABASE_URL")
        .env_remove("BERRAH_NOW")
        .args([
            "--config",
            "berrah.toml",
            "rehearse",
            "--from",
            "2026-11-23",
        ])
        .output()
        .unwrap();
    let took = started.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().filter(|l| l.contains(" UTC)  ")).collect();
    assert_eq!(lines.len(), planned.len(), "{stdout}");
    for o in &planned {
        // `2026-12-18T10:00:00+00:00` → `2026-12-18 10:00 +00:00`.
        let local = format!("{} {} {}", &o.local[..10], &o.local[11..16], &o.local[19..]);
        let utc = o.due.strftime("%Y-%m-%d %H:%M");
        let head = format!(
            "{local} ({utc} UTC)  {}/{}/{}  {} ({}, {})  ",
            o.campaign,
            o.capsule.as_deref().unwrap_or("-"),
            o.post,
            o.account,
            o.platform,
            o.language
        );
        assert_eq!(
            lines.iter().filter(|l| l.starts_with(&head)).count(),
            1,
            "{head} in\n{stdout}"
        );
    }
    assert!(!stdout.contains("late]"), "{stdout}");
    assert!(
        stdout.contains(&format!("{} publication(s), 0 dropped", planned.len())),
        "{stdout}"
    );
    eprintln!(
        "rehearse with its defaults: {} posts from 2026-11-23 to the last (a year) in {took:?}",
        planned.len()
    );
}
