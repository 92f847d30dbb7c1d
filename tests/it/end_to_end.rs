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
/// due time to due time, from `start` until nothing is left. Hang guard:
/// 60 s of real time.
async fn run_daemon(dir: &Path, store: Store, start: Timestamp) -> Vec<Published> {
    if std::env::var_os("BERRAH_E2E_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("info,berrah=debug")
            .with_test_writer()
            .try_init();
    }
    let sim = SimClock::new(start);
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
    let url = sqlite_url(&db_dir.join("berrah.db"));
    let dir = dir.to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_berrah"))
            .current_dir(&dir)
            .env_remove("BERRAH_CONFIG")
            .env_remove("BERRAH_CAMPAIGNS")
            .env_remove("DATABASE_URL")
            .env_remove("BERRAH_NOW")
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "warn")
            .args(["--database", &url, "--now", &now.to_string()])
            .args(["status", "--format", "json", "--all"])
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
    serde_json::from_slice(&out.stdout).unwrap()
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
    use berrah::fakes::bluesky::{FakeBluesky, FakeBlueskyConfig};
    use berrah::fakes::mastodon::{self as fm, FakeMastodon};
    use berrah::fakes::telegram::{self as ft, FakeTelegram};
    use berrah::fakes::webhook::{Kind, Receiver};
    use berrah::fakes::{Running, serve};

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
        let text = |r: &berrah::fakes::bluesky::StoredRecord| {
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
    let events = run_daemon(dir.path(), store.clone(), start).await;
    assert_eq!(events.len(), planned.len(), "publications reported");
    for e in &events {
        let o = planned.iter().find(|o| o.id == e.entry.id).unwrap();
        // At its due time, give or take the clients' own pauses on the clock
        // (Telegram's second between messages, media polls).
        let late = e.at.duration_since(o.due);
        assert!(
            late >= jiff::SignedDuration::ZERO && late <= jiff::SignedDuration::from_mins(1),
            "{} due {} published at {}",
            o.key,
            o.due,
            e.at
        );
    }

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
