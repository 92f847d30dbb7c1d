//! Integration tests: the operators' commands (`status`, `retry`, `cancel`,
//! `pause`, `resume`, `show`), run as the real binary on a queue filled
//! through the store (`sync_campaign`, `claim_due`, `begin_attempt`,
//! `finish`), on SQLite and on PostgreSQL (when `BERRAH_TEST_POSTGRES_URL`
//! is set; loudly skipped else).

use std::path::Path;

use assert_cmd::Command;
use berrah::config::PlatformKind;
use berrah::plan::{Content, Occurrence};
use berrah::store::{Db, EntryState, Finish, Store};
use jiff::Timestamp;
use serde_json::Value;

/// "Now" for every command: half an hour after the first posts were due.
const NOW: &str = "2026-12-18T09:30:00Z";

/// Runs `$name(store, url)` on both backends.
macro_rules! both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let dir = tempfile::tempdir().unwrap();
                let url = berrah::store::testing::sqlite_url(&dir.path().join("berrah.db"));
                let store = berrah::store::Store::connect(&url).await.unwrap();
                super::$name(store, url).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let name = concat!("ops::", stringify!($name));
                if let Some(url) = berrah::store::testing::postgres_url_or_skip(name) {
                    let store = berrah::store::Store::connect_with(
                        &url,
                        &berrah::store::StoreOptions { max_connections: 2 },
                    )
                    .await
                    .unwrap();
                    super::$name(store, url).await;
                }
            }
        }
    )*};
}

both!(
    status_shows_every_state,
    status_reports_corrupt_rows,
    retry_and_cancel,
    pause_and_resume,
    show_lists_attempts_and_answers,
    status_shows_accounts_needing_attention,
    status_filters_and_history,
    retry_force_and_bulk_forms,
    unknown_names_suggest_the_closest,
);

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// The entries of [`fill`], by role.
mod ids {
    pub const OUT_MASTODON: &str = "o-1100000000000000";
    pub const FAILED_X: &str = "o-1200000000000000";
    pub const UNKNOWN_BSKY: &str = "o-1300000000000000";
    pub const RETRYING: &str = "o-2100000000000000";
    pub const NEEDS_LOGIN_FB: &str = "o-3100000000000000";
    pub const IN_FLIGHT: &str = "o-4100000000000000";
    pub const NEXT_1: &str = "o-5100000000000000";
    pub const NEXT_2: &str = "o-5200000000000000";
    pub const CANCELLED: &str = "o-6100000000000000";
    pub const EXPIRED: &str = "o-7100000000000000";
    pub const OTHER_CAMPAIGN: &str = "o-8100000000000000";
}

fn occ(id: &str, campaign: &str, post: &str, account: &str, due: &str) -> Occurrence {
    let due = at(due);
    let platform = match account {
        "oim-x" | "unicef-x" => PlatformKind::X,
        "oim-bsky" => PlatformKind::Bluesky,
        "oim-fb" => PlatformKind::Facebook,
        _ => PlatformKind::Mastodon,
    };
    Occurrence {
        id: id.into(),
        key: format!("{campaign}/c1/{post}/{account}/fr/0"),
        campaign: campaign.into(),
        capsule: Some("c1".into()),
        post: post.into(),
        account: account.into(),
        platform,
        language: "fr".into(),
        due,
        local: due
            .in_tz("Europe/Paris")
            .unwrap()
            .strftime("%Y-%m-%dT%H:%M:%S%:z")
            .to_string(),
        timezone: "Europe/Paris".into(),
        tzdb: "2026f".into(),
        not_after: due + jiff::SignedDuration::from_hours(24),
        series: None,
        paused: false,
        source: format!("campaigns/{campaign}.toml").into(),
        content: Content {
            text: format!("Texte de {post} — نص"),
            ..Content::default()
        },
    }
}

/// A queue with an entry in every state: post p1 out on Mastodon, failed on
/// X and unknown on Bluesky (partly published); p2 retrying; p3 held for a
/// login; p4 being published by `host-a`; p5 due later twice; p6 cancelled;
/// p7 expired; and campaign `sahha` with one scheduled entry.
async fn fill(store: &Store) {
    use ids::*;
    let t0 = "2026-12-18T09:00:00Z";
    let amal = vec![
        occ(OUT_MASTODON, "amal", "p1", "oim-mastodon", t0),
        occ(FAILED_X, "amal", "p1", "oim-x", t0),
        occ(UNKNOWN_BSKY, "amal", "p1", "oim-bsky", t0),
        occ(RETRYING, "amal", "p2", "oim-mastodon", t0),
        occ(NEEDS_LOGIN_FB, "amal", "p3", "oim-fb", t0),
        occ(IN_FLIGHT, "amal", "p4", "oim-mastodon", t0),
        occ(NEXT_1, "amal", "p5", "oim-mastodon", "2026-12-18T11:00:00Z"),
        occ(NEXT_2, "amal", "p5", "oim-x", "2026-12-18T12:00:00Z"),
        occ(CANCELLED, "amal", "p6", "oim-mastodon", t0),
        occ(EXPIRED, "amal", "p7", "oim-mastodon", t0),
    ];
    let sync_at = at("2026-12-18T08:00:00Z");
    store.sync_campaign("amal", &amal, sync_at).await.unwrap();
    let sahha = vec![occ(
        OTHER_CAMPAIGN,
        "sahha",
        "q1",
        "unicef-x",
        "2026-12-20T09:00:00Z",
    )];
    store.sync_campaign("sahha", &sahha, sync_at).await.unwrap();
    store.cancel(CANCELLED, sync_at).await.unwrap();

    let t = at(t0);
    let lease = at("2026-12-18T09:40:00Z");
    let claimed = store.claim_due(t, 20, "host-a", lease).await.unwrap();
    assert_eq!(claimed.len(), 7, "{claimed:?}");
    for e in &claimed {
        store
            .begin_attempt(&e.id, "host-a", t)
            .await
            .unwrap()
            .unwrap();
    }
    let done = at("2026-12-18T09:00:05Z");
    let finish = |id: &'static str, f: Finish| async move {
        store.finish(id, "host-a", f, done).await.unwrap();
    };
    finish(
        OUT_MASTODON,
        Finish::Published {
            remote_id: "111".into(),
            url: Some("https://mastodon.example/@oim/111".into()),
        },
    )
    .await;
    finish(
        FAILED_X,
        Finish::Failed {
            reason: "HTTP 403: You are not allowed to create a Tweet with duplicate content."
                .into(),
        },
    )
    .await;
    finish(
        UNKNOWN_BSKY,
        Finish::Held {
            reason: "the connection dropped after the request was sent".into(),
        },
    )
    .await;
    finish(
        RETRYING,
        Finish::Retry {
            run_at: at("2026-12-18T09:35:00Z"),
            reason: "HTTP 503: over capacity".into(),
        },
    )
    .await;
    finish(
        NEEDS_LOGIN_FB,
        Finish::NeedsOperator {
            reason: "HTTP 401: the Page token expired".into(),
        },
    )
    .await;
    finish(
        EXPIRED,
        Finish::Expired {
            reason: "too late".into(),
        },
    )
    .await;
    // IN_FLIGHT stays `publishing` for host-a.
}

/// The binary in an empty folder (no berrah.toml), on `url`, at [`NOW`].
fn berrah(dir: &Path, url: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_berrah"));
    cmd.current_dir(dir)
        .env("BERRAH_TZDB", "bundled")
        .env_remove("BERRAH_CONFIG")
        .env_remove("BERRAH_CAMPAIGNS")
        .env_remove("DATABASE_URL")
        .env_remove("BERRAH_NOW")
        .env("NO_COLOR", "1")
        .env("TZ", "UTC")
        .env("RUST_LOG", "warn")
        .args(["--database", url, "--now", NOW]);
    cmd
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs the binary off the async workers.
async fn run(url: &str, args: &[&str]) -> Run {
    run_in(None, url, args).await
}

async fn run_in(dir: Option<&Path>, url: &str, args: &[&str]) -> Run {
    let url = url.to_string();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let dir = dir.map(Path::to_path_buf);
    tokio::task::spawn_blocking(move || {
        let tmp = tempfile::tempdir().unwrap();
        let dir = dir.unwrap_or_else(|| tmp.path().to_path_buf());
        let out = berrah(&dir, &url).args(&args).output().unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    })
    .await
    .unwrap()
}

fn ok(r: &Run) -> &str {
    assert_eq!(r.code, 0, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    &r.stdout
}

fn json(r: &Run) -> Value {
    serde_json::from_str(ok(r)).unwrap_or_else(|e| panic!("not JSON ({e}): {}", r.stdout))
}

fn ids_of(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect()
}

async fn state(store: &Store, id: &str) -> EntryState {
    store.get(id).await.unwrap().state
}

async fn status_shows_every_state(store: Store, url: String) {
    use ids::*;
    fill(&store).await;
    let j = json(&run(&url, &["status", "--format", "json"]).await);
    assert_eq!(j["format_version"], 1);
    assert_eq!(j["generated_at"], NOW);
    let counts = &j["counts"];
    for (state, n) in [
        ("scheduled", 3),
        ("publishing", 1),
        ("published", 1),
        ("retrying", 1),
        ("failed", 1),
        ("held", 2),
        ("cancelled", 1),
        ("expired", 1),
        ("claimed", 0),
    ] {
        assert_eq!(counts[state], n, "{state}: {counts}");
    }
    let campaigns = j["campaigns"].as_array().unwrap();
    assert_eq!(campaigns.len(), 2);
    let amal = &campaigns[0];
    assert_eq!(amal["name"], "amal");
    assert_eq!(ids_of(&amal["next"]), vec![NEXT_1, NEXT_2]);
    let next = &amal["next"][0];
    assert_eq!(next["due"], "2026-12-18T11:00:00Z");
    assert_eq!(next["due_local"], "2026-12-18T12:00:00+01:00");
    assert_eq!(next["short_id"], "o-5100000000");
    assert_eq!(ids_of(&amal["in_flight"]), vec![IN_FLIGHT]);
    assert_eq!(amal["in_flight"][0]["lease_owner"], "host-a");
    assert_eq!(amal["in_flight"][0]["lease_until"], "2026-12-18T09:40:00Z");
    assert_eq!(
        amal["published"][0]["url"],
        "https://mastodon.example/@oim/111"
    );
    let retrying = &amal["retrying"][0];
    assert_eq!(retrying["attempts"], 1);
    assert_eq!(retrying["next_attempt"], "2026-12-18T09:35:00Z");
    assert_eq!(retrying["next_attempt_local"], "2026-12-18T10:35:00+01:00");
    assert_eq!(retrying["last_error"], "HTTP 503: over capacity");
    assert!(
        amal["failed"][0]["last_error"]
            .as_str()
            .unwrap()
            .contains("duplicate content")
    );
    let held = amal["held"].as_array().unwrap();
    let hold_of = |id: &str| {
        held.iter()
            .find(|e| e["id"] == id)
            .unwrap_or_else(|| panic!("{id} held"))["hold"]
            .clone()
    };
    assert_eq!(hold_of(NEEDS_LOGIN_FB)["cause"], "credentials");
    assert_eq!(
        hold_of(NEEDS_LOGIN_FB)["release"],
        "berrah accounts login oim-fb"
    );
    assert_eq!(hold_of(UNKNOWN_BSKY)["cause"], "unknown_outcome");
    assert!(
        hold_of(UNKNOWN_BSKY)["release"]
            .as_str()
            .unwrap()
            .contains("berrah retry o-1300000000")
    );
    let partly = amal["partly_published"].as_array().unwrap();
    assert_eq!(partly.len(), 1, "{partly:?}");
    assert_eq!(partly[0]["post"], "p1");
    assert_eq!(partly[0]["published"][0]["account"], "oim-mastodon");
    let missing: Vec<&str> = partly[0]["missing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["account"].as_str().unwrap())
        .collect();
    assert_eq!(missing, vec!["oim-x", "oim-bsky"]);
    assert_eq!(amal["counts"]["cancelled"], 1);
    assert_eq!(amal["counts"]["expired"], 1);

    // The table says the same for people.
    let table = run(&url, &["status"]).await;
    let text = ok(&table);
    for needle in [
        "11 entries: 3 scheduled, 1 in flight, 1 published, 1 retrying, 1 failed, 2 held, \
         1 cancelled, 1 expired",
        "campaign amal",
        "2026-12-18 12:00 +01:00 (2026-12-18 11:00 UTC)  o-5100000000  oim-mastodon/fr  c1/p5",
        "publishing  o-4100000000  oim-mastodon/fr  c1/p4  by host-a, lease until 2026-12-18 09:40 UTC",
        "https://mastodon.example/@oim/111",
        "1 attempt, next attempt 2026-12-18 10:35 +01:00 (2026-12-18 09:35 UTC): HTTP 503: over capacity",
        "release: `berrah accounts login oim-fb`",
        "partly published:",
        "out on oim-mastodon/fr; not on oim-x/fr (failed o-1200000000), oim-bsky/fr (held o-1300000000)",
        "1 cancelled, 1 expired",
        "campaign sahha",
    ] {
        assert!(text.contains(needle), "missing `{needle}` in:\n{text}");
    }
    assert!(!text.contains('\x1b'), "NO_COLOR is respected:\n{text}");
    // The full ids are never needed: short ones everywhere.
    assert!(!text.contains(NEXT_1), "{text}");

    // Filters.
    let j = json(&run(&url, &["status", "--format", "json", "--campaign", "sahha"]).await);
    assert_eq!(j["campaigns"].as_array().unwrap().len(), 1);
    assert_eq!(ids_of(&j["campaigns"][0]["next"]), vec![OTHER_CAMPAIGN]);
    let j = json(&run(&url, &["status", "--format", "json", "--account", "oim-x"]).await);
    let c = j["campaigns"].as_array().unwrap();
    assert_eq!(c.len(), 1);
    assert_eq!(ids_of(&c[0]["failed"]), vec![FAILED_X]);
    assert_eq!(ids_of(&c[0]["next"]), vec![NEXT_2]);
    assert_eq!(j["counts"]["published"], 0);
}

async fn exec(store: &Store, sql: &'static str) {
    match store.db() {
        Db::Sqlite(p) => {
            sqlx::query(sql).execute(p).await.unwrap();
        }
        Db::Postgres(p) => {
            sqlx::query(sql).execute(p).await.unwrap();
        }
    }
}

async fn status_reports_corrupt_rows(store: Store, url: String) {
    fill(&store).await;
    exec(
        &store,
        "UPDATE entries SET content = 'not json {' WHERE id = 'o-5200000000000000'",
    )
    .await;
    let r = run(&url, &["status", "--format", "json"]).await;
    let j = json(&r);
    assert_eq!(j["corrupt"][0]["id"], "o-5200000000000000");
    assert!(
        j["corrupt"][0]["error"]
            .as_str()
            .unwrap()
            .contains("unreadable")
    );
    // The others are all there.
    assert_eq!(j["counts"]["scheduled"], 2);
    let text = ok(&run(&url, &["status"]).await).to_string();
    assert!(text.contains("unreadable rows"), "{text}");
    assert!(text.contains("o-5200000000000000"), "{text}");
}

async fn retry_and_cancel(store: Store, url: String) {
    use ids::*;
    fill(&store).await;

    // Retry a failed entry: back to scheduled, at once (it is overdue).
    let r = run(&url, &["retry", "o-1"]).await;
    // `o-1` is a prefix of three entries: ask for more.
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("matches several entries"), "{}", r.stderr);
    assert!(r.stderr.contains(FAILED_X), "{}", r.stderr);
    let r = run(&url, &["retry", "o-1200000000000000"]).await;
    let line = ok(&r);
    assert!(
        line.starts_with(
            "retried o-1200000000 (amal/p1 on oim-x, fr): failed → scheduled, goes out as soon as a daemon runs"
        ),
        "{line}"
    );
    assert_eq!(line.lines().count(), 1, "{line}");
    assert_eq!(state(&store, FAILED_X).await, EntryState::Scheduled);

    // A published entry is never sent again.
    let r = run(&url, &["retry", OUT_MASTODON]).await;
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains(
            "is already published at https://mastodon.example/@oim/111: retrying would post twice"
        ),
        "{}",
        r.stderr
    );
    // Unknown id: a usage error.
    let r = run(&url, &["retry", "o-nothing"]).await;
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("no queue entry with id `o-nothing`"),
        "{}",
        r.stderr
    );
    // In flight.
    let r = run(&url, &["retry", IN_FLIGHT]).await;
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("being published right now by host-a"));
    // A held unknown outcome can be retried, with a warning.
    let r = run(&url, &["retry", UNKNOWN_BSKY]).await;
    assert!(ok(&r).contains("held → scheduled"), "{}", r.stdout);
    assert!(
        r.stderr.contains("may have reached oim-bsky"),
        "{}",
        r.stderr
    );
    // Retrying a scheduled entry changes nothing and says so.
    let r = run(&url, &["retry", NEXT_1]).await;
    assert!(ok(&r).contains("already scheduled"), "{}", r.stdout);

    // Cancel a future entry; again is harmless.
    let r = run(&url, &["cancel", NEXT_1]).await;
    assert!(
        ok(&r).starts_with(
            "cancelled o-5100000000 (amal/p5 on oim-mastodon, fr): scheduled → cancelled; due 2026-12-18 12:00 +01:00 (11:00 UTC)"
        ),
        "{}",
        r.stdout
    );
    assert_eq!(state(&store, NEXT_1).await, EntryState::Cancelled);
    let r = run(&url, &["cancel", NEXT_1]).await;
    assert!(ok(&r).contains("was already cancelled; nothing changed"));
    // Refused: being published, already published.
    let r = run(&url, &["cancel", IN_FLIGHT]).await;
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("may already be on the platform"),
        "{}",
        r.stderr
    );
    assert_eq!(state(&store, IN_FLIGHT).await, EntryState::Publishing);
    let r = run(&url, &["cancel", OUT_MASTODON]).await;
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("already published at"), "{}", r.stderr);
    // A cancelled entry cannot be retried.
    let r = run(&url, &["retry", CANCELLED]).await;
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("was cancelled"), "{}", r.stderr);
    // Usage errors are clap's: exit 2.
    assert_eq!(run(&url, &["retry"]).await.code, 2);
}

async fn pause_and_resume(store: Store, url: String) {
    fill(&store).await;
    // By bare name: a campaign of the queue.
    let r = run(&url, &["pause", "amal"]).await;
    assert_eq!(
        ok(&r).trim(),
        "paused campaign amal: its 3 waiting posts will not be published until \
         `berrah resume --campaign amal` (1 being published right now will finish their attempt)"
    );
    let r = run(&url, &["pause", "--campaign", "amal"]).await;
    assert_eq!(
        ok(&r).trim(),
        "campaign amal was already paused; nothing changed"
    );
    // An account of the queue.
    let r = run(&url, &["pause", "unicef-x"]).await;
    assert!(ok(&r).starts_with("paused account unicef-x: its 1 waiting post "));
    let paused = store.pauses().await.unwrap();
    assert_eq!(paused.len(), 2, "{paused:?}");
    let j = json(&run(&url, &["status", "--format", "json"]).await);
    assert_eq!(j["campaigns"][0]["paused"], true);
    assert_eq!(j["campaigns"][0]["next"][0]["paused"], true);
    assert_eq!(j["paused"].as_array().unwrap().len(), 2);
    let text = ok(&run(&url, &["status"]).await).to_string();
    assert!(
        text.contains("[paused: `berrah resume --campaign amal`]"),
        "{text}"
    );
    assert!(
        text.contains("account unicef-x  (`berrah resume --account unicef-x`)"),
        "{text}"
    );

    // Resume: says how many are overdue.
    let r = run(&url, &["resume", "amal"]).await;
    assert_eq!(
        ok(&r).trim(),
        "resumed campaign amal: its 3 waiting posts are scheduled again"
    );
    let r = run(&url, &["resume", "amal"]).await;
    assert_eq!(
        ok(&r).trim(),
        "campaign amal was not paused; nothing changed"
    );
    let r = run(&url, &["resume", "--account", "unicef-x"]).await;
    assert!(ok(&r).starts_with("resumed account unicef-x"));
    assert!(store.pauses().await.unwrap().is_empty());

    // Unknown name: a usage error with the closest known name.
    let r = run(&url, &["pause", "nobody"]).await;
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("no campaign or account named `nobody`"),
        "{}",
        r.stderr
    );
    let r = run(&url, &["pause", "sahh"]).await;
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("no campaign `sahh`; did you mean `sahha`?"),
        "{}",
        r.stderr
    );
    let r = run(&url, &["pause", "--account", "unicef-xx"]).await;
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("no account `unicef-xx`; did you mean `unicef-x`?"),
        "{}",
        r.stderr
    );
    assert!(store.pauses().await.unwrap().is_empty());

    // A name that is both: ask which (usage, exit 2).
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("berrah.toml"),
        "[accounts.amal]\nplatform = \"x\"\n",
    )
    .unwrap();
    let r = run_in(
        Some(dir.path()),
        &url,
        &["--config", "berrah.toml", "pause", "amal"],
    )
    .await;
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains("`amal` is both a campaign and an account: say which"),
        "{}",
        r.stderr
    );
    // Neither name nor flag: clap's usage error.
    assert_eq!(run(&url, &["pause"]).await.code, 2);
}

async fn show_lists_attempts_and_answers(store: Store, url: String) {
    use ids::*;
    fill(&store).await;
    let r = run(&url, &["show", "o-2"]).await;
    let text = ok(&r);
    for needle in [
        "o-2100000000000000  retrying",
        "account    oim-mastodon (mastodon), language fr",
        "due        2026-12-18 10:00 +01:00 (09:00 UTC) [Europe/Paris]",
        "next try   2026-12-18 10:35 +01:00 (09:35 UTC)",
        "text       Texte de p2 — نص",
        "#1 2026-12-18 09:00:00 UTC → 09:00:05 UTC by host-a: retry: HTTP 503: over capacity",
    ] {
        assert!(text.contains(needle), "missing `{needle}` in:\n{text}");
    }
    let j = json(&run(&url, &["show", OUT_MASTODON, "--format", "json"]).await);
    assert_eq!(j["entry"]["url"], "https://mastodon.example/@oim/111");
    assert_eq!(j["attempts"][0]["outcome"], "published");
    assert_eq!(
        j["attempts"][0]["detail"],
        "111 https://mastodon.example/@oim/111"
    );
    let j = json(&run(&url, &["show", NEEDS_LOGIN_FB, "--format", "json"]).await);
    assert_eq!(j["hold"]["release"], "berrah accounts login oim-fb");
    let r = run(&url, &["show", "o-9"]).await;
    assert_eq!(r.code, 2);
}

#[test]
fn a_missing_sqlite_database_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("nowhere/berrah.db");
    let url = berrah::store::testing::sqlite_url(&db);
    let out = berrah(dir.path(), &url).arg("status").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no database at"), "{err}");
    assert!(!db.exists(), "status never creates a database");
}

async fn status_shows_accounts_needing_attention(store: Store, url: String) {
    use berrah::auth::{SqlTokenStore, TokenRecord, TokenStore};
    fill(&store).await;
    let tokens = SqlTokenStore::from_store(&store);
    let now = at(NOW);
    let record = |account: &str, expires_in_days: Option<i64>, needs_operator: bool| TokenRecord {
        account: account.into(),
        platform: "facebook".into(),
        blob: b"SEALED-SECRET-BLOB".to_vec(),
        access_expires_at: expires_in_days.map(|d| now + jiff::SignedDuration::from_hours(24 * d)),
        refresh_expires_at: None,
        refreshable: false,
        needs_operator,
        reason: needs_operator.then(|| "the refresh token was refused".to_string()),
        updated_at: now,
    };
    tokens.put(&record("oim-fb", Some(5), false)).await.unwrap();
    tokens.put(&record("oim-x", None, true)).await.unwrap();
    tokens
        .put(&record("oim-later", Some(50), false))
        .await
        .unwrap();
    let j = json(&run(&url, &["status", "--format", "json"]).await);
    let warned: Vec<&str> = j["accounts_needing_attention"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["account"].as_str().unwrap())
        .collect();
    // The two token warnings, then the posts held for an unknown outcome;
    // oim-fb's held post is counted with its token warning.
    assert_eq!(warned, vec!["oim-fb", "oim-x", "oim-bsky"]);
    let fb = &j["accounts_needing_attention"][0];
    assert_eq!(fb["kind"], "access_token");
    assert_eq!(fb["held_posts"], 1);
    assert_eq!(fb["action"], "berrah accounts login oim-fb");
    let bsky = &j["accounts_needing_attention"][2];
    assert_eq!(bsky["kind"], "held_posts");
    assert_eq!(bsky["held_posts"], 1);
    assert!(
        bsky["action"]
            .as_str()
            .unwrap()
            .contains("berrah retry o-1300000000"),
        "{bsky}"
    );
    let r = run(&url, &["status"]).await;
    let text = ok(&r);
    assert!(text.contains("accounts needing attention:"), "{text}");
    assert!(text.contains("berrah accounts login oim-x"), "{text}");
    assert!(
        !text.contains("SEALED") && !r.stderr.contains("SEALED"),
        "{text}"
    );
    // Filtered by account: only that account's warning.
    let j = json(&run(&url, &["status", "--format", "json", "--account", "oim-x"]).await);
    assert_eq!(j["accounts_needing_attention"].as_array().unwrap().len(), 1);
}

async fn status_filters_and_history(store: Store, url: String) {
    use ids::*;
    fill(&store).await;
    // --state: only those states, counted over what is shown.
    let j = json(
        &run(
            &url,
            &["status", "--format", "json", "--state", "held,failed"],
        )
        .await,
    );
    assert_eq!(j["counts"]["held"], 2);
    assert_eq!(j["counts"]["failed"], 1);
    assert_eq!(j["counts"]["scheduled"], 0);
    assert_eq!(j["filter"]["states"], serde_json::json!(["held", "failed"]));
    let r = run(&url, &["status", "--state", "publishd"]).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("did you mean `published`?"),
        "{}",
        r.stderr
    );
    // --since: entries that changed since then (the sync was at 08:00).
    let j = json(
        &run(
            &url,
            &[
                "status",
                "--format",
                "json",
                "--since",
                "2026-12-18T08:30:00Z",
            ],
        )
        .await,
    );
    assert_eq!(j["counts"]["scheduled"], 0, "{}", j["counts"]);
    assert_eq!(j["counts"]["cancelled"], 0);
    assert_eq!(j["counts"]["published"], 1);
    assert_eq!(j["filter"]["since"], "2026-12-18T08:30:00Z");
    let j = json(&run(&url, &["status", "--format", "json", "--since", "today"]).await);
    assert_eq!(j["counts"]["scheduled"], 3);
    let r = run(&url, &["status", "--since", "a while ago"]).await;
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("\"this week\""), "{}", r.stderr);

    // The history of this week (Monday 14 December, UTC: TZ=UTC).
    let j = json(
        &run(
            &url,
            &[
                "status",
                "--history",
                "--since",
                "this week",
                "--format",
                "json",
            ],
        )
        .await,
    );
    assert_eq!(j["from"], "2026-12-14T00:00:00Z");
    assert_eq!(j["until"], NOW);
    for (kind, n) in [
        ("published", 1),
        ("failed", 1),
        ("held", 2),
        ("dropped", 1),
        ("cancelled", 1),
    ] {
        assert_eq!(j["counts"][kind], n, "{kind}: {}", j["counts"]);
    }
    let events = j["events"].as_array().unwrap();
    assert_eq!(events[0]["event"], "cancelled");
    let published = events.iter().find(|e| e["event"] == "published").unwrap();
    assert_eq!(published["entry"]["id"], OUT_MASTODON);
    assert_eq!(
        published["entry"]["url"],
        "https://mastodon.example/@oim/111"
    );
    assert_eq!(published["at"], "2026-12-18T09:00:05Z");
    let groups = j["held_groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2, "{groups:?}");
    assert_eq!(groups[0]["cause"], "credentials");
    assert_eq!(groups[0]["release"], "berrah accounts login oim-fb");
    assert_eq!(groups[1]["cause"], "unknown_outcome");

    let text = ok(&run(&url, &["status", "--history", "--since", "this week"]).await).to_string();
    for needle in [
        "berrah history from 2026-12-14 00:00 UTC to 2026-12-18 09:30 UTC",
        "1 published, 1 failed, 2 held, 1 dropped (too late), 1 cancelled",
        "published  o-1100000000  amal/c1/p1  oim-mastodon/fr  https://mastodon.example/@oim/111",
        "held, by cause:",
        "1 post on oim-fb: HTTP 401: the Page token expired",
        "release: `berrah accounts login oim-fb`",
    ] {
        assert!(text.contains(needle), "missing `{needle}` in:\n{text}");
    }
    // A period before the failures: only the cancel.
    let j = json(
        &run(
            &url,
            &[
                "status",
                "--history",
                "--since",
                "yesterday",
                "--until",
                "2026-12-18T08:30:00Z",
                "--format",
                "json",
            ],
        )
        .await,
    );
    assert_eq!(ids_of_events(&j["events"]), vec![CANCELLED]);
    // Filtered by account.
    let j = json(
        &run(
            &url,
            &[
                "status",
                "--history",
                "--account",
                "oim-x",
                "--format",
                "json",
            ],
        )
        .await,
    );
    assert_eq!(ids_of_events(&j["events"]), vec![FAILED_X]);
}

fn ids_of_events(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|e| e["entry"]["id"].as_str().unwrap().to_string())
        .collect()
}

/// A folder with a berrah.toml naming oim-x's handle.
fn config_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("berrah.toml"),
        "[accounts.oim-x]\nplatform = \"x\"\nhandle = \"OIM_Maroc\"\n",
    )
    .unwrap();
    dir
}

async fn retry_force_and_bulk_forms(store: Store, url: String) {
    use ids::*;
    fill(&store).await;
    // The unknown outcome is now on X, which cannot drop a duplicate.
    exec(
        &store,
        "UPDATE entries SET platform = 'x', account = 'oim-x' WHERE id = 'o-1300000000000000'",
    )
    .await;
    let dir = config_dir();
    let with_config = |args: &[&str]| {
        let mut all = vec!["--config", "berrah.toml"];
        all.extend_from_slice(args);
        all.into_iter().map(String::from).collect::<Vec<String>>()
    };
    let go = async |args: &[&str]| {
        let args = with_config(args);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_in(Some(dir.path()), &url, &args).await
    };
    let r = go(&["retry", UNKNOWN_BSKY]).await;
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    for needle in [
        "may have reached oim-x (x), which cannot drop a duplicate",
        "open https://x.com/OIM_Maroc and look for a post at about \
         2026-12-18 10:00 +01:00 (09:00 UTC) with text starting \"Texte de p1 — نص\"",
        "if it is not there, run `berrah retry o-1300000000 --force`",
    ] {
        assert!(
            r.stderr.contains(needle),
            "missing `{needle}` in {}",
            r.stderr
        );
    }
    assert_eq!(state(&store, UNKNOWN_BSKY).await, EntryState::Held);
    // The bulk form refuses it the same way, and says so in its count.
    let r = go(&["retry", "--account", "oim-x", "--state", "held"]).await;
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("refused: the last attempt of o-1300000000"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("0 entries retried (account oim-x, state held); 1 refused (see above)"),
        "{}",
        r.stdout
    );
    // With --force it goes.
    let r = go(&["retry", UNKNOWN_BSKY, "--force"]).await;
    assert!(ok(&r).contains("held → scheduled"), "{}", r.stdout);
    assert_eq!(state(&store, UNKNOWN_BSKY).await, EntryState::Scheduled);

    // Bulk cancel of one post: a dry run first, then for real.
    let r = go(&["cancel", "--campaign", "amal", "--post", "p5", "--dry-run"]).await;
    let out = ok(&r);
    assert!(out.contains("would cancel o-5100000000"), "{out}");
    assert!(
        out.contains("2 entries would be cancelled (campaign amal, post p5); nothing changed"),
        "{out}"
    );
    assert_eq!(state(&store, NEXT_1).await, EntryState::Scheduled);
    let r = go(&["cancel", "--campaign", "amal", "--post", "p5"]).await;
    assert!(
        ok(&r).contains("2 entries cancelled (campaign amal, post p5)"),
        "{}",
        r.stdout
    );
    assert_eq!(state(&store, NEXT_2).await, EntryState::Cancelled);
    // The whole campaign: what is being published is refused, the rest goes.
    let r = go(&["cancel", "--campaign", "amal"]).await;
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("refused: o-4100000000 is being published right now by host-a"),
        "{}",
        r.stdout
    );
    assert_eq!(state(&store, IN_FLIGHT).await, EntryState::Publishing);
    assert_eq!(state(&store, RETRYING).await, EntryState::Cancelled);
    assert_eq!(state(&store, OUT_MASTODON).await, EntryState::Published);

    // Each action is recorded for the daemon's log, with its ids.
    let actions = store.take_unlogged_actions(at(NOW)).await.unwrap();
    let summary: Vec<(String, usize)> = actions
        .iter()
        .map(|a| (a.action.clone(), a.ids.len()))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("retry".to_string(), 1),
            ("cancel".to_string(), 2),
            ("cancel".to_string(), 4)
        ]
    );
    assert_eq!(actions[0].ids, vec![UNKNOWN_BSKY.to_string()]);
    assert_eq!(actions[1].target, "campaign amal, post p5");
    assert!(!actions[0].host.is_empty() && !actions[0].user.is_empty());
    // Logged once: a second look finds nothing new.
    assert!(
        store
            .take_unlogged_actions(at(NOW))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn unknown_names_suggest_the_closest(store: Store, url: String) {
    fill(&store).await;
    for (args, needle) in [
        (
            &["status", "--campaign", "amall"][..],
            "no campaign `amall`; did you mean `amal`?",
        ),
        (
            &["status", "--account", "oim-mastodn"][..],
            "no account `oim-mastodn`; did you mean `oim-mastodon`?",
        ),
        (
            &["cancel", "--campaign", "amal", "--post", "p55"][..],
            "did you mean `p5`?",
        ),
        (
            &["retry", "--account", "oim-xx"][..],
            "no account `oim-xx`; did you mean `oim-x`?",
        ),
        (
            &["retry", "o-12000000000x"][..],
            "no queue entry with id `o-12000000000x`; did you mean `o-120000000000`?",
        ),
        (
            &["show", "o-5x000000000"][..],
            "did you mean `o-51000000000`?",
        ),
    ] {
        let r = run(&url, args).await;
        assert_eq!(r.code, 2, "{args:?}: {}{}", r.stdout, r.stderr);
        assert!(r.stderr.contains(needle), "{args:?}: {}", r.stderr);
    }
    // The example campaigns' own ids, from the files.
    let dir = tempfile::tempdir().unwrap();
    copy_examples(dir.path());
    let r = run_in(
        Some(dir.path()),
        &url,
        &["--config", "berrah.toml", "pause", "b7al"],
    )
    .await;
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains("no campaign `b7al`; did you mean `b7al-b7al`?"),
        "{}",
        r.stderr
    );
    // Known from its file even before a daemon synced it.
    let r = run_in(
        Some(dir.path()),
        &url,
        &["--config", "berrah.toml", "pause", "b7al-b7al"],
    )
    .await;
    assert!(
        ok(&r).starts_with("paused campaign b7al-b7al"),
        "{}",
        r.stdout
    );
}

/// The example berrah.toml and campaigns/ in `dir`.
fn copy_examples(dir: &Path) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::copy(root.join("berrah.toml"), dir.join("berrah.toml")).unwrap();
    crate::support::copy_dir(&root.join("campaigns"), &dir.join("campaigns"));
}
