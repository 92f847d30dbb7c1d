//! The example campaigns, run by the daemon on the simulated clock, reaching every fake platform.
//!
//! Each test copies a fixture folder (`berrah.toml`, `campaigns/` and their
//! media) into a temporary directory, points every account at a fake server
//! (`base_url`) with credentials read from files written by the test
//! (`credentials = "file:secrets/..."`: the daemon's own credential path,
//! without touching the process environment that other tests share), runs
//! the real daemon on a [`SimClock`] in jump mode from before the campaign to
//! after it, then checks three things against the plan (`plan_campaign`, as
//! `berrah plan` shows it):
//!
//! 1. each fake received exactly the posts planned for its accounts, each
//!    exactly once, with the final text (hashtags, UTM links, Arabic), the
//!    media with their alt text, thread replies in order and first comments;
//! 2. each queue entry is `published` with the URL the fake's answer implies;
//! 3. `berrah status --format json --all` (the binary, on the same SQLite
//!    file) shows those URLs.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use berrah::auth::{CredentialsFactory, MemoryTokenStore};
use berrah::plan::Occurrence;
use berrah::scheduler::{Daemon, Published};
use berrah::store::testing::{sqlite_temp, sqlite_url};
use berrah::store::{Entry, EntryState, ListFilter, Store};
use berrah::time::SimClock;
use jiff::Timestamp;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::support::{copy_dir, daemon_config, fixture, planned};

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

// ---------------------------------------------------------------- support

/// A temporary copy of `tests/fixtures/e2e/<name>` whose `berrah.toml` has
/// each placeholder host replaced by a fake's address and whose secrets are
/// written in `secrets/`.
fn project(name: &str, urls: &[(&str, String)], secrets: &[(&str, &str)]) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&fixture("e2e").join(name), tmp.path());
    let config = tmp.path().join("berrah.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    for (placeholder, url) in urls {
        assert!(
            text.contains(placeholder),
            "{placeholder} not in berrah.toml"
        );
        text = text.replace(placeholder, url);
    }
    std::fs::write(&config, text).unwrap();
    std::fs::create_dir_all(tmp.path().join("secrets")).unwrap();
    for (file, secret) in secrets {
        std::fs::write(tmp.path().join("secrets").join(file), secret).unwrap();
    }
    tmp
}

/// Runs the daemon of `dir` with its accounts' real clients (built from
/// their credentials, as `berrah run` does) on a SimClock that jumps from
/// due time to due time, from its current instant until nothing is left. Hang guard:
/// 60 s of real time.
async fn run_daemon(dir: &Path, store: Store, sim: Arc<SimClock>) -> Vec<Published> {
    if std::env::var_os("BERRAH_E2E_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("info,berrah=debug")
            .with_test_writer()
            .try_init();
    }
    let mut cfg = daemon_config(dir, store, Arc::new(sim.clone()));
    cfg.jump = Some(sim.clone());
    let sim_for_waker = sim.clone();
    cfg.credentials = Some(CredentialsFactory {
        store: Arc::new(MemoryTokenStore::new()),
        key: None,
        base_dir: dir.to_path_buf(),
        clock: Arc::new(sim),
    });
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    cfg.events = Some(tx);
    let stop = CancellationToken::new();
    let waker = tokio::spawn(wake_short_sleepers(sim_for_waker, stop.clone()));
    let run = Daemon::new(cfg).run(CancellationToken::new());
    let result = tokio::time::timeout(std::time::Duration::from_secs(60), run).await;
    stop.cancel();
    waker.await.unwrap();
    result
        .expect("the simulated run hung")
        .expect("the daemon failed");
    let mut events = Vec::new();
    while let Ok(e) = rx.try_recv() {
        events.push(e);
    }
    events
}

/// The longest sleep of a platform client on the clock that
/// [`wake_short_sleepers`] ends at once.
const SHORT_SLEEP: jiff::SignedDuration = jiff::SignedDuration::from_secs(10);

/// Works around the daemon's jump mode, which only moves the SimClock when
/// nothing is in flight: a client that sleeps on the clock while it
/// publishes (Telegram's one second between messages, Mastodon's and
/// Instagram's media polls) would wait forever. Every few real milliseconds,
/// the earliest sleeper due within [`SHORT_SLEEP`] is woken by moving the
/// clock to its deadline (never further: a due post still goes out at its
/// due instant).
async fn wake_short_sleepers(sim: Arc<SimClock>, stop: CancellationToken) {
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(std::time::Duration::from_millis(3)) => {}
        }
        if let Some(next) = sim.next_sleeper()
            && next.duration_since(sim.now()) <= SHORT_SLEEP
        {
            sim.set(next);
        }
    }
}

/// Every occurrence reported published once, at its due time give or take
/// the clients' own pauses on the clock (Telegram's second between
/// messages, media polls).
fn assert_on_time(events: &[Published], planned: &[Occurrence]) {
    assert_once(
        "a publication event",
        events.iter().map(|e| e.entry.id.clone()),
    );
    assert_eq!(events.len(), planned.len(), "publications reported");
    for e in events {
        let o = planned.iter().find(|o| o.id == e.entry.id).unwrap();
        let late = e.at.duration_since(o.due);
        assert!(
            late >= jiff::SignedDuration::ZERO && late <= jiff::SignedDuration::from_mins(1),
            "{} due {} published at {}",
            o.key,
            o.due,
            e.at
        );
    }
}

/// The SHA-256 (hex) of a file.
fn sha256_file(path: &Path) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(std::fs::read(path).unwrap()))
}

/// The SHA-256 (hex) of bytes.
fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// The planned occurrences of `account`.
fn of<'a>(planned: &'a [Occurrence], account: &str) -> Vec<&'a Occurrence> {
    planned.iter().filter(|o| o.account == account).collect()
}

/// The queue entry of each occurrence, by occurrence id; every one published.
async fn published_entries(store: &Store, planned: &[Occurrence]) -> BTreeMap<String, Entry> {
    let all = store.list(ListFilter::default()).await.unwrap();
    assert_eq!(
        all.len(),
        planned.len(),
        "queue entries nobody planned, or planned ones missing"
    );
    let not_published: Vec<_> = all
        .iter()
        .filter(|e| e.state != EntryState::Published)
        .map(|e| (&e.account, &e.post, &e.language, e.state, &e.last_error))
        .collect();
    assert!(
        not_published.is_empty(),
        "not published: {not_published:#?}"
    );
    all.into_iter().map(|e| (e.id.clone(), e)).collect()
}

/// `berrah status --format json --all` on the SQLite file of `db_dir`, at `now`.
async fn status_json(dir: &Path, db_dir: &Path, now: Timestamp) -> Value {
    let out = berrah_status(dir, db_dir, now, &["--format", "json", "--all"]).await;
    serde_json::from_str(&out).unwrap()
}

/// `berrah status ARGS` (the binary) on the SQLite file of `db_dir`, at `now`: its stdout.
async fn berrah_status(dir: &Path, db_dir: &Path, now: Timestamp, args: &[&str]) -> String {
    let url = sqlite_url(&db_dir.join("berrah.db"));
    let dir = dir.to_path_buf();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_berrah"))
            .current_dir(&dir)
            .env("BERRAH_TZDB", "bundled")
            .env_remove("BERRAH_CONFIG")
            .env_remove("BERRAH_CAMPAIGNS")
            .env_remove("DATABASE_URL")
            .env_remove("BERRAH_NOW")
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "warn")
            .args(["--database", &url, "--now", &now.to_string(), "status"])
            .args(&args)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "berrah status: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Every entry of `status`, by id, from every list of every campaign.
fn status_entries(status: &Value) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for c in status["campaigns"].as_array().unwrap() {
        for list in [
            "next",
            "in_flight",
            "published",
            "retrying",
            "failed",
            "held",
        ] {
            for e in c[list].as_array().unwrap() {
                out.insert(e["id"].as_str().unwrap().to_string(), e.clone());
            }
        }
    }
    out
}

/// `status` shows every entry published with the URL and id of the queue.
fn assert_status_shows(status: &Value, entries: &BTreeMap<String, Entry>) {
    let shown = status_entries(status);
    for (id, e) in entries {
        let s = shown
            .get(id)
            .unwrap_or_else(|| panic!("status does not show {id} ({} {})", e.account, e.post));
        assert_eq!(s["state"], "published", "{id}");
        assert_eq!(s["url"].as_str(), e.url.as_deref(), "status URL of {id}");
        assert_eq!(s["remote_id"].as_str(), e.remote_id.as_deref(), "{id}");
    }
}

/// Each `(key, n)` seen exactly once.
fn assert_once<K: Ord + std::fmt::Debug>(what: &str, keys: impl IntoIterator<Item = K>) {
    let mut seen: BTreeMap<K, usize> = BTreeMap::new();
    for k in keys {
        *seen.entry(k).or_default() += 1;
    }
    let dups: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(dups.is_empty(), "{what} received more than once: {dups:?}");
}

// ---------------------------------------------------------- open platforms

mod open {
    use berrah_fakes::bluesky::{FakeBluesky, FakeBlueskyConfig};
    use berrah_fakes::mastodon::{self as fm, FakeMastodon};
    use berrah_fakes::telegram::{self as ft, FakeTelegram};
    use berrah_fakes::webhook::{Kind, Receiver};
    use berrah_fakes::{Running, serve};

    use super::*;

    /// The generic webhook's signing key.
    const HOOK_KEY: &str = "e2e-hook-signing-key-5f1c";

    pub struct Fakes {
        pub mastodon: FakeMastodon,
        pub bluesky: FakeBluesky,
        pub bluesky_config: FakeBlueskyConfig,
        pub telegram: FakeTelegram,
        pub hook: Receiver,
        _hook_server: Running,
    }

    impl Fakes {
        pub async fn start() -> Fakes {
            let bluesky_config = FakeBlueskyConfig::default();
            let hook = Receiver::new(Kind::Json, Some(HOOK_KEY));
            let hook_server = serve(hook.router()).await.unwrap();
            Fakes {
                mastodon: FakeMastodon::start().await.unwrap(),
                bluesky: FakeBluesky::start(bluesky_config.clone()).await.unwrap(),
                bluesky_config,
                telegram: FakeTelegram::start().await.unwrap(),
                hook: hook.clone(),
                _hook_server: hook_server,
            }
        }

        /// The webhook receiver checks the signed timestamp on the
        /// daemon's simulated clock.
        pub fn follow(&self, sim: &std::sync::Arc<berrah::time::SimClock>) {
            let clock = sim.clone();
            self.hook.set_clock(move || clock.now());
        }

        /// The folder of the open-platforms campaign, pointed at these fakes.
        pub fn project(&self) -> tempfile::TempDir {
            let hook_url = format!("{}{}", self._hook_server.url(), self.hook.path());
            project(
                "open",
                &[
                    ("https://mastodon.e2e.invalid", self.mastodon.url()),
                    ("https://bluesky.e2e.invalid", self.bluesky.url()),
                    ("https://telegram.e2e.invalid", self.telegram.url()),
                    ("https://webhook.e2e.invalid/hooks/berrah", hook_url),
                ],
                &[
                    ("mastodon", fm::DEFAULT_TOKEN),
                    ("bluesky", &self.bluesky_config.password),
                    ("telegram", ft::DEFAULT_TOKEN),
                    ("webhook", HOOK_KEY),
                ],
            )
        }
    }

    /// Mastodon: one status per post, its media with their descriptions,
    /// the thread as replies in order, the first comment under the last.
    pub fn assert_mastodon(
        fake: &FakeMastodon,
        planned: &[Occurrence],
        entries: &BTreeMap<String, Entry>,
    ) {
        let statuses = fake.statuses();
        let media = fake.media();
        assert_once(
            "a Mastodon status",
            statuses
                .iter()
                .map(|s| (s.text.clone(), s.in_reply_to_id.clone())),
        );
        let mine = of(planned, "oim-mastodon");
        let mut expected = 0;
        for o in &mine {
            let c = &o.content;
            expected += 1 + c.thread.len() + usize::from(c.first_comment.is_some());
            let main: Vec<_> = statuses
                .iter()
                .filter(|s| s.text == c.text && s.in_reply_to_id.is_none())
                .collect();
            assert_eq!(main.len(), 1, "{}: {:?}", o.key, c.text);
            let main = main[0];
            assert_eq!(main.visibility, "public", "{}", o.key);
            assert_eq!(main.language.as_deref(), Some(o.language.as_str()));
            assert!(
                main.idempotency_key.is_some(),
                "{}: no Idempotency-Key",
                o.key
            );
            // The media, in order, with alt text as description.
            assert_eq!(main.media_ids.len(), c.media.len(), "{}", o.key);
            for (id, m) in main.media_ids.iter().zip(&c.media) {
                let got = media.iter().find(|x| &x.id == id).unwrap();
                assert_eq!(got.description, m.alt, "{}: alt of {}", o.key, m.file);
                assert_eq!(
                    got.size as u64,
                    std::fs::metadata(&m.path).unwrap().len(),
                    "{}: {}",
                    o.key,
                    m.file
                );
                let video = m.file.ends_with(".mp4");
                assert_eq!(got.kind, if video { "video" } else { "image" });
            }
            // The thread, each reply under the previous one, then the comment.
            let mut parent = main.id.clone();
            for reply in &c.thread {
                let r = statuses
                    .iter()
                    .find(|s| &s.text == reply && s.in_reply_to_id.as_ref() == Some(&parent))
                    .unwrap_or_else(|| panic!("{}: reply {reply:?} not under {parent}", o.key));
                parent = r.id.clone();
            }
            if let Some(comment) = &c.first_comment {
                assert!(
                    statuses.iter().any(|s| &s.text == comment
                        && s.in_reply_to_id.is_some()
                        && s.media_ids.is_empty()),
                    "{}: first comment {comment:?} missing",
                    o.key
                );
            }
            let e = &entries[&o.id];
            assert_eq!(e.remote_id.as_deref(), Some(main.id.as_str()), "{}", o.key);
            assert_eq!(e.url.as_deref(), Some(main.url.as_str()), "{}", o.key);
        }
        assert_eq!(statuses.len(), expected, "Mastodon statuses nobody planned");
    }

    /// Bluesky: one record per post, reply and comment, images with alt text.
    pub fn assert_bluesky(
        fake: &FakeBluesky,
        handle: &str,
        planned: &[Occurrence],
        entries: &BTreeMap<String, Entry>,
    ) {
        let records = fake.records();
        assert_once(
            "a Bluesky record",
            records.iter().map(|r| {
                (
                    r.value["text"].as_str().unwrap().to_string(),
                    r.value["reply"]["parent"]["uri"]
                        .as_str()
                        .map(str::to_string),
                )
            }),
        );
        let text = |r: &berrah_fakes::bluesky::StoredRecord| {
            r.value["text"].as_str().unwrap_or_default().to_string()
        };
        let mut expected = 0;
        for o in of(planned, "oim-bluesky") {
            let c = &o.content;
            expected += 1 + c.thread.len() + usize::from(c.first_comment.is_some());
            let main: Vec<_> = records
                .iter()
                .filter(|r| text(r) == c.text && r.value.get("reply").is_none())
                .collect();
            assert_eq!(main.len(), 1, "{}: {:?}", o.key, c.text);
            let main = main[0];
            assert_eq!(main.value["$type"], "app.bsky.feed.post");
            assert_eq!(main.value["langs"][0], o.language.as_str(), "{}", o.key);
            if c.media.is_empty() {
                assert!(
                    main.value["embed"]["$type"] != "app.bsky.embed.images",
                    "{}",
                    o.key
                );
            } else {
                assert_eq!(main.value["embed"]["$type"], "app.bsky.embed.images");
                let images = main.value["embed"]["images"].as_array().unwrap();
                assert_eq!(images.len(), c.media.len(), "{}", o.key);
                for (img, m) in images.iter().zip(&c.media) {
                    assert_eq!(img["alt"].as_str(), m.alt.as_deref(), "{}", m.file);
                    assert_eq!(
                        img["image"]["size"].as_u64(),
                        Some(std::fs::metadata(&m.path).unwrap().len()),
                        "{}",
                        m.file
                    );
                }
            }
            // Links and hashtags are facets (their byte offsets are the
            // Bluesky tests' business; here: they are there).
            let facets = main.value["facets"].as_array().cloned().unwrap_or_default();
            let kinds: Vec<&str> = facets
                .iter()
                .filter_map(|f| f["features"][0]["$type"].as_str())
                .collect();
            if c.text.contains("https://") {
                assert!(kinds.contains(&"app.bsky.richtext.facet#link"), "{kinds:?}");
            }
            assert!(kinds.contains(&"app.bsky.richtext.facet#tag"), "{kinds:?}");
            // The thread under the post, in order; then the comment.
            let mut parent = main.uri.clone();
            for reply in &c.thread {
                let r = records
                    .iter()
                    .find(|r| &text(r) == reply && r.value["reply"]["parent"]["uri"] == *parent)
                    .unwrap_or_else(|| panic!("{}: reply {reply:?} not under {parent}", o.key));
                assert_eq!(r.value["reply"]["root"]["uri"], *main.uri);
                parent = r.uri.clone();
            }
            if let Some(comment) = &c.first_comment {
                assert!(
                    records.iter().any(
                        |r| &text(r) == comment && r.value["reply"]["root"]["uri"] == *main.uri
                    ),
                    "{}: first comment {comment:?} missing",
                    o.key
                );
            }
            let e = &entries[&o.id];
            assert_eq!(e.remote_id.as_deref(), Some(main.uri.as_str()), "{}", o.key);
            assert_eq!(
                e.url.as_deref(),
                Some(format!("https://bsky.app/profile/{handle}/post/{}", main.rkey).as_str()),
                "{}",
                o.key
            );
        }
        assert_eq!(records.len(), expected, "Bluesky records nobody planned");
    }

    /// Telegram: photos as an album captioned with the text, a video with
    /// its caption, text alone as a message; thread and comment as replies.
    pub fn assert_telegram(
        fake: &FakeTelegram,
        planned: &[Occurrence],
        entries: &BTreeMap<String, Entry>,
    ) {
        let messages = fake.messages();
        let mut expected = 0;
        for o in of(planned, "oim-telegram") {
            let c = &o.content;
            expected += c.media.len().max(1) + c.thread.len();
            expected += usize::from(c.first_comment.is_some());
            let first: Vec<_> = messages
                .iter()
                .filter(|m| {
                    m.reply_to.is_none()
                        && (m.text.as_deref() == Some(&c.text)
                            || m.caption.as_deref() == Some(&c.text))
                })
                .collect();
            assert_eq!(first.len(), 1, "{}: {:?}", o.key, c.text);
            let first = first[0];
            assert_eq!(first.parse_mode, None, "{}: sent as plain text", o.key);
            match c.media.len() {
                0 => assert_eq!(first.kind, "text"),
                1 => {
                    assert_eq!(first.kind, "video", "{}", o.key);
                    assert!(first.supports_streaming, "{}", o.key);
                    assert_eq!(
                        first.file_size as u64,
                        std::fs::metadata(&c.media[0].path).unwrap().len()
                    );
                }
                n => {
                    let group = first.media_group_id.clone().expect("an album");
                    let album: Vec<_> = messages
                        .iter()
                        .filter(|m| m.media_group_id.as_ref() == Some(&group))
                        .collect();
                    assert_eq!(album.len(), n, "{}", o.key);
                    for (m, media) in album.iter().zip(&c.media) {
                        assert_eq!(m.kind, "photo");
                        // Uploaded the first time, then sent again by file_id.
                        let name = media.path.file_name().and_then(|f| f.to_str());
                        assert!(
                            m.file_name.as_deref() == name
                                || (m.file_name.is_none() && m.file_id.is_some()),
                            "{}: {m:?}",
                            o.key
                        );
                    }
                }
            }
            let mut parent = first.message_id;
            for reply in &c.thread {
                let r = messages
                    .iter()
                    .find(|m| m.text.as_ref() == Some(reply) && m.reply_to == Some(parent))
                    .unwrap_or_else(|| panic!("{}: reply {reply:?} not under {parent}", o.key));
                parent = r.message_id;
            }
            if let Some(comment) = &c.first_comment {
                assert!(
                    messages
                        .iter()
                        .any(|m| m.text.as_ref() == Some(comment) && m.reply_to.is_some()),
                    "{}: first comment {comment:?} missing",
                    o.key
                );
            }
            let e = &entries[&o.id];
            assert_eq!(
                e.url.as_deref(),
                Some(format!("https://t.me/{}/{}", ft::CHANNEL, first.message_id).as_str()),
                "{}",
                o.key
            );
        }
        assert_once(
            "a Telegram message",
            messages.iter().map(|m| {
                (
                    m.text.clone(),
                    m.caption.clone(),
                    m.file_name.clone(),
                    m.reply_to,
                    m.media_group_id.clone(),
                )
            }),
        );
        assert_eq!(messages.len(), expected, "Telegram messages nobody planned");
    }

    /// The webhook: one signed delivery per post, keyed on the occurrence id,
    /// carrying the text, media with alt text and public URL, thread and
    /// first comment.
    pub fn assert_webhook(
        hook: &Receiver,
        planned: &[Occurrence],
        entries: &BTreeMap<String, Entry>,
    ) {
        let received = hook.received();
        assert_once(
            "a webhook delivery",
            received.iter().map(|r| r.delivery.clone()),
        );
        let mine = of(planned, "oim-webhook");
        assert_eq!(
            received.len(),
            mine.len(),
            "webhook deliveries nobody planned"
        );
        for o in mine {
            let c = &o.content;
            let r = received
                .iter()
                .find(|r| r.delivery.as_deref() == Some(o.id.as_str()))
                .unwrap_or_else(|| panic!("{}: never delivered", o.key));
            assert_eq!(r.signature_valid, Some(true), "{}", o.key);
            assert_eq!(r.body["text"].as_str(), Some(c.text.as_str()), "{}", o.key);
            assert_eq!(r.body["language"], o.language.as_str());
            let media = r.body["media"].as_array().unwrap();
            assert_eq!(media.len(), c.media.len(), "{}", o.key);
            for (got, m) in media.iter().zip(&c.media) {
                assert_eq!(got["alt"].as_str(), m.alt.as_deref(), "{}", m.file);
                let name = m.path.file_name().unwrap().to_str().unwrap();
                assert!(
                    got["url"]
                        .as_str()
                        .is_some_and(|u| u.starts_with("https://cdn.example.org/ecole-ouverte/")
                            && u.ends_with(name)),
                    "{}: {got}",
                    o.key
                );
            }
            let thread: Vec<&str> = r.body["thread"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            assert_eq!(thread, c.thread, "{}", o.key);
            assert_eq!(
                r.body["first_comment"].as_str(),
                c.first_comment.as_deref(),
                "{}",
                o.key
            );
            let e = &entries[&o.id];
            assert_eq!(e.remote_id.as_deref(), Some(o.id.as_str()), "{}", o.key);
            assert_eq!(e.url, None, "the generic receiver gives no URL");
        }
    }
}

/// A campaign in French and Arabic with photos, a video, a thread and first
/// comments, on Mastodon, Bluesky, Telegram and a signed webhook, published
/// by the daemon over a week of simulated time: every fake receives exactly
/// what `berrah plan` says, once, and `berrah status` shows each URL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_platforms_campaign_reaches_every_fake_once() {
    let fakes = open::Fakes::start().await;
    let dir = fakes.project();
    let start = t("2027-01-15T00:00:00Z");
    let planned = planned(dir.path(), start);
    assert_eq!(planned.len(), 17, "the fixture's plan changed");
    // The rendered text carries the hashtags, the UTM links and the Arabic.
    assert!(planned.iter().all(|o| o.content.text.contains("#AMAL")));
    assert!(planned.iter().any(|o| o.language == "ar"
        && o.content.text.contains("المدرسة العمومية")
        && o.content.text.contains("utm_campaign=ecole-ouverte")));

    let (db, store) = sqlite_temp().await;
    let sim = SimClock::new(start);
    fakes.follow(&sim);
    let events = run_daemon(dir.path(), store.clone(), sim).await;
    assert_on_time(&events, &planned);

    let entries = published_entries(&store, &planned).await;
    open::assert_mastodon(&fakes.mastodon, &planned, &entries);
    open::assert_bluesky(
        &fakes.bluesky,
        &fakes.bluesky_config.handle,
        &planned,
        &entries,
    );
    open::assert_telegram(&fakes.telegram, &planned, &entries);
    open::assert_webhook(&fakes.hook, &planned, &entries);

    let status = status_json(dir.path(), db.path(), t("2027-02-01T00:00:00Z")).await;
    assert_eq!(status["counts"]["published"], planned.len());
    assert_status_shows(&status, &entries);
}

// ------------------------------------------------- the AMAL example campaign

mod amal {
    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};
    use std::sync::{Arc, Mutex};

    use berrah::time::SimClock;
    use berrah_fakes::graph::{FakeGraph, FakeGraphConfig, PostKind};
    use berrah_fakes::linkedin::{FakeLinkedin, FakeLinkedinConfig};
    use berrah_fakes::x::FakeX;
    use berrah_fakes::youtube::FakeYouTube;
    use berrah_fakes::{Running, serve};

    use super::*;

    /// The three agencies' Facebook Pages (UNICEF's also carries its Instagram account).
    pub const PAGES: [(&str, &str); 3] = [
        ("oim-maroc-facebook", "104857600001"),
        ("unhcr-maroc-facebook", "104857600002"),
        ("unicef-maroc-facebook", "104857600003"),
    ];
    pub const X_ACCOUNTS: [&str; 2] = ["oim-maroc-x", "unhcr-maroc-x"];

    /// A public web server for the campaign's media folder (Instagram
    /// fetches each file from `<media_base_url>/<file name>`), keeping
    /// the names asked for.
    pub struct MediaHost {
        pub running: Running,
        pub fetched: Arc<Mutex<Vec<String>>>,
    }

    impl MediaHost {
        pub async fn start(folder: PathBuf) -> MediaHost {
            let fetched: Arc<Mutex<Vec<String>>> = Arc::default();
            let log = fetched.clone();
            let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
                let folder = folder.clone();
                let log = log.clone();
                async move {
                    let name = uri.path().trim_start_matches("/media/").to_string();
                    log.lock().unwrap().push(name.clone());
                    let safe = !name.is_empty() && !name.contains('/') && !name.contains("..");
                    match std::fs::read(folder.join(&name)) {
                        Ok(bytes) if safe => (axum::http::StatusCode::OK, bytes),
                        _ => (axum::http::StatusCode::NOT_FOUND, Vec::new()),
                    }
                }
            });
            MediaHost {
                running: serve(app).await.unwrap(),
                fetched,
            }
        }

        pub fn base(&self) -> String {
            format!("{}/media", self.running.url())
        }
    }

    pub struct Fakes {
        /// Per Facebook account.
        pub graph: BTreeMap<&'static str, FakeGraph>,
        /// Per X account.
        pub x: BTreeMap<&'static str, FakeX>,
        pub linkedin: FakeLinkedin,
        pub youtube: FakeYouTube,
        pub media: MediaHost,
        pub dir: tempfile::TempDir,
    }

    impl Fakes {
        /// The real AMAL campaign and its media in a temporary folder, with
        /// a `berrah.toml` derived from the real one: every account of the
        /// campaign points at its fake with credentials from `secrets/`.
        pub async fn start(sim: &Arc<SimClock>) -> Fakes {
            let dir = tempfile::tempdir().unwrap();
            let root = super::super::support::project_root();
            let campaigns = dir.path().join("campaigns");
            std::fs::create_dir_all(&campaigns).unwrap();
            std::fs::copy(
                root.join("campaigns/amal-web-series.toml"),
                campaigns.join("amal-web-series.toml"),
            )
            .unwrap();
            copy_dir(&root.join("campaigns/media"), &campaigns.join("media"));

            let mut graph = BTreeMap::new();
            for (account, page) in PAGES {
                let fake = FakeGraph::start(FakeGraphConfig {
                    page_id: page.into(),
                    clock: Arc::new(sim.clone()),
                    ..FakeGraphConfig::default()
                })
                .await
                .unwrap();
                graph.insert(account, fake);
            }
            let mut x = BTreeMap::new();
            for account in X_ACCOUNTS {
                x.insert(account, FakeX::start().await.unwrap());
            }
            let linkedin = FakeLinkedin::start(FakeLinkedinConfig {
                organization: "urn:li:organization:0000001".into(),
                ..FakeLinkedinConfig::default()
            })
            .await
            .unwrap();
            let youtube = FakeYouTube::start().await.unwrap();
            let media = MediaHost::start(campaigns.join("media")).await;

            // berrah.toml: the real one, each account pointed at its fake.
            let real = std::fs::read_to_string(root.join("berrah.toml")).unwrap();
            let mut config: toml::Table = toml::from_str(&real).unwrap();
            let accounts = config["accounts"].as_table_mut().unwrap();
            let mut secrets: Vec<(String, String)> = Vec::new();
            let mut point = |id: &str, url: String, secret: &str, handle: Option<&str>| {
                let a = accounts[id].as_table_mut().unwrap();
                a.insert("base_url".into(), url.into());
                a.insert("credentials".into(), format!("file:secrets/{id}").into());
                if let Some(h) = handle {
                    a.insert("handle".into(), h.into());
                }
                secrets.push((id.to_string(), secret.to_string()));
            };
            for (account, page) in PAGES {
                let g = &graph[account];
                point(account, g.url(), &g.config().token.clone(), Some(page));
            }
            let unicef = &graph["unicef-maroc-facebook"];
            point(
                "unicef-maroc-instagram",
                unicef.url(),
                &unicef.config().token.clone(),
                Some(&unicef.config().ig_user_id.clone()),
            );
            for account in X_ACCOUNTS {
                point(account, x[account].url(), "x-token", None);
            }
            point(
                "oim-maroc-linkedin",
                linkedin.url(),
                &linkedin.config().token.clone(),
                None,
            );
            point("unicef-maroc-youtube", youtube.url(), "yt-token", None);
            let ig = accounts["unicef-maroc-instagram"].as_table_mut().unwrap();
            let mut options = toml::Table::new();
            options.insert("media_base_url".into(), media.base().into());
            ig.insert("options".into(), options.into());
            std::fs::write(
                dir.path().join("berrah.toml"),
                toml::to_string(&config).unwrap(),
            )
            .unwrap();
            std::fs::create_dir_all(dir.path().join("secrets")).unwrap();
            for (id, secret) in secrets {
                std::fs::write(dir.path().join("secrets").join(id), secret).unwrap();
            }
            Fakes {
                graph,
                x,
                linkedin,
                youtube,
                media,
                dir,
            }
        }
    }

    fn size(path: &Path) -> u64 {
        std::fs::metadata(path).unwrap().len()
    }

    fn is_video(m: &berrah::plan::MediaRef) -> bool {
        m.file.ends_with(".mp4")
    }

    /// A Facebook Page: a status, a photo with alt text or a chunked video
    /// per post, each once, and the first comment under it.
    pub fn assert_facebook(
        fake: &FakeGraph,
        account: &str,
        planned: &[Occurrence],
        entries: &BTreeMap<String, Entry>,
    ) {
        let posts = fake.posts();
        let comments = fake.comments();
        let videos = fake.videos();
        let mine = of(planned, account);
        assert!(!mine.is_empty(), "{account} has nothing planned");
        assert_once(
            &format!("a post of {account}"),
            posts.iter().map(|p| p.message.clone()),
        );
        assert_eq!(posts.len(), mine.len(), "{account}: posts nobody planned");
        let mut comments_expected = 0;
        for o in mine {
            let c = &o.content;
            let video = c.media.iter().find(|m| is_video(m));
            let post = posts
                .iter()
                .find(|p| {
                    p.message.as_deref() == Some(c.text.as_str())
                        || video.is_some()
                            && p.video.as_ref().is_some_and(|v| {
                                videos.iter().any(|fv| {
                                    &fv.id == v && fv.description.as_deref() == Some(&c.text)
                                })
                            })
                })
                .unwrap_or_else(|| panic!("{}: not posted: {:?}\n{posts:#?}", o.key, c.text));
            match (c.media.len(), video) {
                (0, _) => assert_eq!(post.kind, PostKind::Status, "{}", o.key),
                (_, Some(v)) => {
                    assert_eq!(post.kind, PostKind::Video, "{}", o.key);
                    let id = post.video.as_ref().unwrap();
                    let fv = videos.iter().find(|x| &x.id == id).unwrap();
                    assert!(fv.finished, "{}", o.key);
                    assert_eq!(fv.sha256(), sha256_file(&v.path), "{}", o.key);
                }
                (1, None) => {
                    assert_eq!(post.kind, PostKind::Photo, "{}", o.key);
                    let photo = fake.photo(&post.photos[0]).unwrap();
                    assert_eq!(photo.alt, c.media[0].alt, "{}: alt text", o.key);
                    assert_eq!(photo.sha256, sha256_file(&c.media[0].path), "{}", o.key);
                }
                (n, None) => panic!("{}: {n} photos not expected in AMAL", o.key),
            }
            if let Some(comment) = &c.first_comment {
                comments_expected += 1;
                assert!(
                    comments.iter().any(|k| k.message == *comment),
                    "{}: first comment missing: {comments:#?}",
                    o.key
                );
            }
            let e = &entries[&o.id];
            assert_eq!(e.remote_id.as_deref(), Some(post.id.as_str()), "{}", o.key);
            assert!(
                e.url
                    .as_deref()
                    .is_some_and(|u| u.starts_with("https://www.facebook.com/")),
                "{}: {:?}",
                o.key,
                e.url
            );
        }
        assert_eq!(
            comments
                .iter()
                .filter(|k| posts.iter().any(|p| p.id == k.on))
                .count(),
            comments_expected,
            "{account}: comments"
        );
    }

    /// X: each post once with its media (alt text, bytes), the thread as a
    /// chain of replies, the first comment as a reply to the post.
    pub fn assert_x(
        fake: &FakeX,
        account: &str,
        handle: &str,
        planned: &[Occurrence],
        entries: &BTreeMap<String, Entry>,
    ) {
        let state = fake.lock();
        assert!(
            state.violations.is_empty(),
            "{account}: requests outside X's OpenAPI description: {:#?}",
            state.violations
        );
        let posts = &state.posts;
        assert_once(
            &format!("a post of {account}"),
            posts.iter().map(|p| (p.text.clone(), p.reply_to.clone())),
        );
        let mut expected = 0;
        for o in of(planned, account) {
            let c = &o.content;
            expected += 1 + c.thread.len() + usize::from(c.first_comment.is_some());
            let main = posts
                .iter()
                .find(|p| p.text == c.text && p.reply_to.is_none())
                .unwrap_or_else(|| panic!("{}: not posted: {:?}", o.key, c.text));
            assert_eq!(main.media_ids.len(), c.media.len(), "{}", o.key);
            for (id, m) in main.media_ids.iter().zip(&c.media) {
                let up = &state.uploads[id];
                assert!(up.finalized, "{}", o.key);
                assert_eq!(up.total_bytes, size(&m.path), "{}", o.key);
                assert_eq!(sha256(&up.bytes()), sha256_file(&m.path), "{}", o.key);
                assert_eq!(up.alt_text, m.alt, "{}: alt text", o.key);
            }
            let mut parent = main.id.clone();
            for reply in &c.thread {
                let r = posts
                    .iter()
                    .find(|p| &p.text == reply && p.reply_to.as_ref() == Some(&parent))
                    .unwrap_or_else(|| panic!("{}: reply {reply:?} not under {parent}", o.key));
                parent = r.id.clone();
            }
            if let Some(comment) = &c.first_comment {
                assert!(
                    posts
                        .iter()
                        .any(|p| &p.text == comment && p.reply_to.is_some()),
                    "{}: first comment missing",
                    o.key
                );
            }
            let e = &entries[&o.id];
            assert_eq!(e.remote_id.as_deref(), Some(main.id.as_str()));
            assert_eq!(
                e.url.as_deref(),
                Some(format!("https://x.com/{handle}/status/{}", main.id).as_str()),
                "{}",
                o.key
            );
        }
        assert_eq!(posts.len(), expected, "{account}: posts nobody planned");
    }

    /// LinkedIn: each post once (commentary escaped as little text), its
    /// media uploaded and available, the first comment under it.
    pub fn assert_linkedin(
        fake: &FakeLinkedin,
        planned: &[Occurrence],
        entries: &BTreeMap<String, Entry>,
    ) {
        let posts = fake.posts();
        let comments = fake.comments();
        let media = fake.media();
        let mine = of(planned, "oim-maroc-linkedin");
        assert_eq!(posts.len(), mine.len(), "LinkedIn posts nobody planned");
        let mut comments_expected = 0;
        for o in mine {
            let c = &o.content;
            let commentary = berrah::platforms::linkedin::escape_little_text(&c.text);
            let found: Vec<_> = posts
                .iter()
                .filter(|p| p.commentary == commentary)
                .collect();
            assert_eq!(found.len(), 1, "{}: {commentary:?}", o.key);
            let post = found[0];
            assert_eq!(post.author, "urn:li:organization:0000001");
            if let Some(m) = c.media.first() {
                let urn = post.body["content"]["media"]["id"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{}: no media in {}", o.key, post.body));
                let up = media.iter().find(|x| x.urn == urn).unwrap();
                assert_eq!(up.size, size(&m.path), "{}", o.key);
                assert_eq!(up.status, "AVAILABLE", "{}", o.key);
                if is_video(m) {
                    assert!(up.urn.starts_with("urn:li:video:"), "{}", o.key);
                    if let Some(title) = &c.title {
                        assert_eq!(post.body["content"]["media"]["title"], title.as_str());
                    }
                } else {
                    assert_eq!(
                        post.body["content"]["media"]["altText"].as_str(),
                        m.alt.as_deref()
                    );
                }
            }
            if let Some(comment) = &c.first_comment {
                comments_expected += 1;
                assert!(
                    comments
                        .iter()
                        .any(|k| k.text == *comment && k.on == post.urn),
                    "{}: first comment missing: {comments:#?}",
                    o.key
                );
            }
            let e = &entries[&o.id];
            assert_eq!(e.remote_id.as_deref(), Some(post.urn.as_str()), "{}", o.key);
            assert_eq!(
                e.url.as_deref(),
                Some(format!("https://www.linkedin.com/feed/update/{}/", post.urn).as_str()),
                "{}",
                o.key
            );
        }
        assert_eq!(comments.len(), comments_expected, "LinkedIn comments");
    }

    /// Instagram: a reel or an image per post (fetched from the media
    /// host), caption, alt text, the first comment, the permalink as URL.
    pub fn assert_instagram(
        fake: &FakeGraph,
        host: &MediaHost,
        planned: &[Occurrence],
        entries: &BTreeMap<String, Entry>,
    ) {
        let published = fake.media();
        let containers = fake.containers();
        let comments = fake.comments();
        let mine = of(planned, "unicef-maroc-instagram");
        assert_eq!(
            published.len(),
            mine.len(),
            "Instagram media nobody planned"
        );
        let fetched = host.fetched.lock().unwrap().clone();
        for o in mine {
            let c = &o.content;
            let found: Vec<_> = published
                .iter()
                .filter(|m| m.caption.as_deref() == Some(c.text.as_str()))
                .collect();
            assert_eq!(found.len(), 1, "{}: {:?}", o.key, c.text);
            let media = found[0];
            let container = containers.iter().find(|k| k.id == media.container).unwrap();
            let m = &c.media[0];
            let name = m.path.file_name().unwrap().to_str().unwrap();
            assert!(
                container.url.as_deref().is_some_and(|u| u.ends_with(name)),
                "{}: {container:?}",
                o.key
            );
            assert!(fetched.iter().any(|f| f == name), "{name} never fetched");
            if is_video(m) {
                // A reel's container is REELS; the published media is a VIDEO.
                assert_eq!(container.media_type, "REELS", "{}", o.key);
                assert_eq!(media.media_type, "VIDEO", "{}", o.key);
            } else {
                assert_eq!(media.media_type, "IMAGE", "{}", o.key);
                assert_eq!(container.alt_text, m.alt, "{}: alt text", o.key);
            }
            if let Some(comment) = &c.first_comment {
                assert!(
                    comments
                        .iter()
                        .any(|k| k.message == *comment && k.on == media.id),
                    "{}: first comment missing",
                    o.key
                );
            }
            let e = &entries[&o.id];
            assert_eq!(e.remote_id.as_deref(), Some(media.id.as_str()), "{}", o.key);
            assert_eq!(
                e.url.as_deref(),
                Some(media.permalink.as_str()),
                "{}",
                o.key
            );
        }
    }

    /// YouTube: each capsule uploaded once through a resumable session,
    /// with its title, description, privacy and thumbnail.
    pub fn assert_youtube(
        fake: &FakeYouTube,
        planned: &[Occurrence],
        entries: &BTreeMap<String, Entry>,
    ) {
        let state = fake.lock();
        assert!(
            state.violations.is_empty(),
            "YouTube protocol violations: {:#?}",
            state.violations
        );
        let mine = of(planned, "unicef-maroc-youtube");
        assert_eq!(
            state.videos.len(),
            mine.len(),
            "YouTube videos nobody planned"
        );
        for o in mine {
            let c = &o.content;
            let title = c.title.as_deref().expect("a YouTube title");
            let found: Vec<_> = state
                .videos
                .iter()
                .filter(|v| v.snippet["title"] == title)
                .collect();
            assert_eq!(found.len(), 1, "{}: {title:?}", o.key);
            let v = found[0];
            assert_eq!(
                v.snippet["description"].as_str(),
                // The client trims the trailing newline of a TOML multi-line string.
                c.description.as_deref().map(str::trim_end),
                "{}",
                o.key
            );
            assert_eq!(v.status["privacyStatus"], "public", "{}", o.key);
            let m = &c.media[0];
            assert_eq!(sha256(&v.bytes), sha256_file(&m.path), "{}", o.key);
            let thumb = m.thumbnail.as_ref().expect("a thumbnail");
            let (_, bytes) = state
                .thumbnails
                .get(&v.id)
                .unwrap_or_else(|| panic!("{}: no thumbnail", o.key));
            assert_eq!(sha256(bytes), sha256_file(thumb), "{}", o.key);
            let e = &entries[&o.id];
            assert_eq!(e.remote_id.as_deref(), Some(v.id.as_str()), "{}", o.key);
            assert_eq!(
                e.url.as_deref(),
                Some(format!("https://www.youtube.com/watch?v={}", v.id).as_str())
            );
        }
    }
}

/// The AMAL example campaign (the real file and media, `berrah.toml`
/// derived from the real one), from before its first post to after its
/// last, reaches Facebook, Instagram, X, LinkedIn and YouTube exactly as
/// planned, once, and `berrah status` shows every URL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amal_campaign_reaches_every_big_platform_once() {
    let start = t("2026-12-01T00:00:00Z");
    let sim = SimClock::new(start);
    let fakes = amal::Fakes::start(&sim).await;
    let dir = fakes.dir.path();
    let planned = planned(dir, start);
    let accounts: std::collections::BTreeSet<&str> =
        planned.iter().map(|o| o.account.as_str()).collect();
    assert_eq!(accounts.len(), 8, "{accounts:?}");
    assert!(planned.iter().any(|o| o.language == "ar"
        && o.content.text.contains("أمل")
        && o.content.text.contains("#AMAL")));
    assert!(
        planned
            .iter()
            .any(|o| o.content.text.contains("utm_campaign=amal-web-serie"))
    );

    let (db, store) = sqlite_temp().await;
    let events = run_daemon(dir, store.clone(), sim).await;
    assert_on_time(&events, &planned);
    let entries = published_entries(&store, &planned).await;

    for (account, _) in amal::PAGES {
        amal::assert_facebook(&fakes.graph[account], account, &planned, &entries);
    }
    let config = super::support::read_config(dir);
    for account in amal::X_ACCOUNTS {
        let handle = config.accounts[account].handle.clone().unwrap();
        amal::assert_x(&fakes.x[account], account, &handle, &planned, &entries);
    }
    amal::assert_linkedin(&fakes.linkedin, &planned, &entries);
    amal::assert_instagram(
        &fakes.graph["unicef-maroc-facebook"],
        &fakes.media,
        &planned,
        &entries,
    );
    amal::assert_youtube(&fakes.youtube, &planned, &entries);

    let status = status_json(dir, db.path(), t("2027-03-01T00:00:00Z")).await;
    assert_eq!(status["counts"]["published"], planned.len());
    assert_status_shows(&status, &entries);
}

/// Faults through the daemon, on the open-platforms campaign: Mastodon
/// answers its first status with 503 (the post is retried later with the
/// same Idempotency-Key and published once), Telegram refuses the bot token
/// (every post of the account is held for an operator, and `berrah status`
/// says to put a working token in its file, never the token); Bluesky and
/// the webhook publish as if nothing happened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_5xx_is_retried_once_and_refused_credentials_hold_only_their_account() {
    use berrah_fakes::mastodon as fm;

    let fakes = open::Fakes::start().await;
    fakes
        .mastodon
        .fail_next(fm::Endpoint::Statuses, fm::Fault::ServerError(503));
    let dir = fakes.project();
    const WRONG_TOKEN: &str = "123456:revoked-bot-token-e2e";
    std::fs::write(dir.path().join("secrets/telegram"), WRONG_TOKEN).unwrap();
    let start = t("2027-01-15T00:00:00Z");
    let planned = planned(dir.path(), start);
    let (db, store) = sqlite_temp().await;
    let sim = SimClock::new(start);
    fakes.follow(&sim);
    run_daemon(dir.path(), store.clone(), sim).await;

    let all = store.list(ListFilter::default()).await.unwrap();
    assert_eq!(all.len(), planned.len());
    let (telegram, others): (Vec<Entry>, Vec<Entry>) =
        all.into_iter().partition(|e| e.account == "oim-telegram");
    assert_eq!(telegram.len(), of(&planned, "oim-telegram").len());
    for e in &telegram {
        assert_eq!(e.state, EntryState::Held, "{} {}", e.post, e.language);
    }
    assert!(
        fakes.telegram.messages().is_empty(),
        "nothing reached the channel"
    );
    let stuck: Vec<_> = others
        .iter()
        .filter(|e| e.state != EntryState::Published)
        .map(|e| (&e.account, &e.post, &e.language, e.state, &e.last_error))
        .collect();
    assert!(stuck.is_empty(), "{stuck:#?}");

    // The 503: one more attempt, published once, every fake as planned.
    assert_eq!(
        fakes
            .mastodon
            .requests()
            .iter()
            .filter(|r| r.path == "/api/v1/statuses" && r.status == 503)
            .count(),
        1,
        "the fake answered 503 once"
    );
    let retried: Vec<_> = others.iter().filter(|e| e.attempts > 1).collect();
    assert_eq!(retried.len(), 1, "one entry retried");
    assert_eq!(retried[0].account, "oim-mastodon");
    assert_eq!(retried[0].attempts, 2);
    let entries: BTreeMap<String, Entry> = others.into_iter().map(|e| (e.id.clone(), e)).collect();
    let planned_others: Vec<Occurrence> = planned
        .iter()
        .filter(|o| o.account != "oim-telegram")
        .cloned()
        .collect();
    open::assert_mastodon(&fakes.mastodon, &planned_others, &entries);
    open::assert_bluesky(
        &fakes.bluesky,
        &fakes.bluesky_config.handle,
        &planned_others,
        &entries,
    );
    open::assert_webhook(&fakes.hook, &planned_others, &entries);

    // status: the held posts, what releases them, never the token.
    let now = t("2027-02-01T00:00:00Z");
    let status = status_json(dir.path(), db.path(), now).await;
    assert_eq!(status["counts"]["held"], telegram.len());
    let shown = status_entries(&status);
    for e in &telegram {
        let s = &shown[&e.id];
        assert_eq!(s["state"], "held");
        assert_eq!(s["hold"]["cause"], "credentials", "{s}");
        // A `file:` account whose token was refused: a working token in the file.
        assert_eq!(
            s["hold"]["release"],
            "put a working token in secrets/telegram and restart berrah"
        );
    }
    let table = berrah_status(dir.path(), db.path(), now, &[]).await;
    assert!(
        table.contains("release: put a working token in secrets/telegram and restart berrah"),
        "{table}"
    );
    let json = status.to_string();
    for secret in [WRONG_TOKEN, "revoked-bot-token"] {
        assert!(
            !json.contains(secret) && !table.contains(secret),
            "the token leaked"
        );
    }
}
