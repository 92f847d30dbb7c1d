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

/// Months of schedule: AMAL (Africa/Casablanca, across Ramadan 2027 when
/// Morocco moves to UTC+0), a Paris campaign across both DST changes, and a
/// weekly post; each occurrence published once, at its due time.
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
    // Ramadan 2027: 21:00 in Casablanca is 20:00Z before, 21:00Z during (UTC+0).
    assert_eq!(at("sundays", "2027-01-31"), [t("2027-01-31T20:00:00Z")]);
    assert_eq!(at("sundays", "2027-02-14"), [t("2027-02-14T21:00:00Z")]);
    assert_eq!(at("sundays", "2027-03-07"), [t("2027-03-07T21:00:00Z")]);
    // Ramadan's UTC+0 ends in the early hours of 14 March.
    assert_eq!(at("sundays", "2027-03-14"), [t("2027-03-14T20:00:00Z")]);
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
    // Paris in summer time, Casablanca during Ramadan (UTC+0).
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
