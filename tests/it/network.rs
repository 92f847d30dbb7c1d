//! Integration tests: what berrah does with the network's answers and where
//! its tokens go (issue 15). Tiny axum servers on 127.0.0.1 play the part of
//! a misbehaving platform: an endless answer, an upload URL on another
//! origin.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::routing::{get, post};
use berrah::auth::{Credentials, StaticCredentials};
use berrah::config::AccountConfig;
use berrah::media::MemoryUploadCache;
use berrah::plan::Content;
use berrah::platforms::{NoCheckpoint, Outcome, PlatformDeps, Progress, PublishJob};
use berrah::time::{BoxFuture, Clock};
use berrah_fakes::serve;
use jiff::Timestamp;
use secrecy::SecretString;

const NOW: &str = "2026-12-18T09:00:00Z";
/// What the endless answers stream: far more than any limit.
const HUGE: u64 = 50 * 1024 * 1024;

struct FixedClock(Timestamp);

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        self.0
    }
    fn sleep_until(&self, _deadline: Timestamp) -> BoxFuture<'static, ()> {
        Box::pin(async {})
    }
}

fn account(toml_text: &str) -> Arc<AccountConfig> {
    Arc::new(toml::from_str(toml_text).unwrap())
}

fn deps(id: &str, account: Arc<AccountConfig>, secret: &str) -> PlatformDeps {
    let credentials: Arc<dyn Credentials> =
        Arc::new(StaticCredentials(SecretString::from(secret.to_string())));
    PlatformDeps {
        account_id: id.into(),
        account,
        credentials,
        http: berrah::http::client(),
        uploads: Arc::new(MemoryUploadCache::default()),
        clock: Arc::new(FixedClock(NOW.parse().unwrap())),
    }
}

fn job(account: Arc<AccountConfig>, id: &str, text: &str) -> PublishJob {
    PublishJob {
        occurrence_id: "o-3fa9c2d1e4b5a6f7".into(),
        attempt: 1,
        account_id: id.into(),
        account,
        language: "fr".into(),
        content: Content {
            text: text.into(),
            ..Content::default()
        },
        progress: Progress::default(),
        due: NOW.parse().unwrap(),
    }
}

/// An answer of [`HUGE`] bytes of JSON-looking filler, made as it is sent
/// (never held in memory), without a Content-Length; `sent` counts what
/// went out.
fn endless(sent: Arc<AtomicU64>) -> Body {
    let chunk = axum::body::Bytes::from(vec![b' '; 64 * 1024]);
    let stream = futures_util::stream::unfold(0u64, move |done| {
        let chunk = chunk.clone();
        let sent = sent.clone();
        async move {
            (done < HUGE).then(|| {
                sent.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                (
                    Ok::<_, std::io::Error>(chunk.clone()),
                    done + chunk.len() as u64,
                )
            })
        }
    });
    Body::from_stream(stream)
}

fn reason(outcome: &Outcome) -> &str {
    match outcome {
        Outcome::Retry { reason, .. }
        | Outcome::Failed { reason }
        | Outcome::NeedsOperator { reason }
        | Outcome::Unknown { reason } => reason,
        Outcome::Published { .. } => "",
    }
}

// ------------------------------------------------------ bounded answers

/// A Mastodon instance that answers a new status with 50 MiB: the answer is
/// refused after 1 MiB, quickly, and the (keyed) post is retried with a
/// reason that says why.
#[tokio::test]
async fn a_huge_answer_is_refused_unread_with_a_clear_outcome() {
    let sent = Arc::new(AtomicU64::new(0));
    let app = axum::Router::new()
        .route(
            "/api/v2/instance",
            get(|| async { axum::http::StatusCode::NOT_FOUND }),
        )
        .route(
            "/api/v1/statuses",
            post({
                let sent = sent.clone();
                move || async move {
                    axum::response::Response::builder()
                        .header("content-type", "application/json")
                        .body(endless(sent))
                        .unwrap()
                }
            }),
        );
    let server = serve(app).await.unwrap();
    let acc = account(&format!(
        "platform = \"mastodon\"\nbase_url = \"{}\"\ncredentials = \"env:T\"\n",
        server.url()
    ));
    let platform = berrah::platforms::build(deps("oim-masto", acc.clone(), "tok"));
    let started = Instant::now();
    let outcome = tokio::time::timeout(
        Duration::from_secs(20),
        platform.publish(
            &job(acc, "oim-masto", "Journée des migrants"),
            &NoCheckpoint,
        ),
    )
    .await
    .expect("a huge answer stalls the publication");
    assert!(matches!(outcome, Outcome::Retry { .. }), "{outcome:?}");
    assert!(
        reason(&outcome).contains("larger than the 1 MiB"),
        "{outcome:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    // The client stopped reading: the server could not send more than the
    // limit and what the sockets' buffers hold.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let out = sent.load(Ordering::Relaxed);
    assert!(
        out < HUGE / 4,
        "{out} bytes were sent: the answer was read on"
    );
}

/// A webhook receiver that answers an error with 50 MiB: the error body is
/// read up to 64 KiB only, and the status decides (a 500 is retried).
#[tokio::test]
async fn a_huge_error_answer_is_cut_and_its_status_decides() {
    let sent = Arc::new(AtomicU64::new(0));
    let app = axum::Router::new().route(
        "/hook",
        post({
            let sent = sent.clone();
            move || async move {
                axum::response::Response::builder()
                    .status(500)
                    .body(endless(sent))
                    .unwrap()
            }
        }),
    );
    let server = serve(app).await.unwrap();
    let acc = account(&format!(
        "platform = \"webhook\"\nbase_url = \"{}/hook\"\ncredentials = \"env:K\"\n",
        server.url()
    ));
    let platform = berrah::platforms::build(deps("oim-hook", acc.clone(), "key"));
    let outcome = tokio::time::timeout(
        Duration::from_secs(20),
        platform.publish(&job(acc, "oim-hook", "Journée des migrants"), &NoCheckpoint),
    )
    .await
    .expect("a huge error answer stalls the publication");
    assert!(matches!(outcome, Outcome::Retry { .. }), "{outcome:?}");
    assert!(reason(&outcome).contains("HTTP 500"), "{outcome:?}");
    assert!(reason(&outcome).len() < 2000, "{outcome:?}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(sent.load(Ordering::Relaxed) < HUGE / 4);
}

// ------------------------------------------------------ no credentials in clear

/// A webhook URL held as the account's secret that starts with `http://`
/// (and is not this machine) is refused before anything is sent: the
/// account needs an operator to store its https URL.
#[tokio::test]
async fn a_webhook_url_secret_in_clear_is_refused_at_publish_time() {
    let acc = account(
        "platform = \"webhook\"\nbase_url = \"https://hooks.example\"\ncredentials = \"store\"\n\
         [options]\nformat = \"slack\"\n",
    );
    // TEST-NET-1: nothing answers there, so trying to send would hang on
    // connecting; the refusal comes first.
    let platform = berrah::platforms::build(deps(
        "oim-slack",
        acc.clone(),
        "http://192.0.2.1/services/T000/B000/XXXX",
    ));
    let outcome = tokio::time::timeout(
        Duration::from_secs(3),
        platform.publish(
            &job(acc, "oim-slack", "Journée des migrants"),
            &NoCheckpoint,
        ),
    )
    .await
    .expect("the URL was tried");
    assert!(
        matches!(outcome, Outcome::NeedsOperator { .. }),
        "{outcome:?}"
    );
    assert!(reason(&outcome).contains("https://"), "{outcome:?}");
    assert!(
        !reason(&outcome).contains("XXXX"),
        "the secret is echoed: {outcome:?}"
    );
}

// ------------------------------------------------------ one damaged token

/// Two webhook accounts with stored secrets; the row of one is damaged in
/// the database. The daemon starts (the key opens the other row), the
/// healthy account publishes, and only the damaged one's post is held with
/// a reason an operator can act on.
#[tokio::test]
async fn one_undecryptable_stored_token_holds_only_its_own_account() {
    use berrah::auth::{CredentialsFactory, SqlTokenStore, TokenKey, TokenStore, login};
    use berrah::store::{EntryState, ListFilter};
    use berrah_fakes::webhook::{Kind, Receiver};

    let good = Receiver::new(Kind::Json, Some("key-of-hook-a"));
    let good_server = serve(good.router()).await.unwrap();
    let bad = Receiver::new(Kind::Json, Some("key-of-hook-b"));
    let bad_server = serve(bad.router()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("berrah.toml"),
        format!(
            "[accounts.hook-a]\nplatform = \"webhook\"\nbase_url = \"{}{}\"\n\
             credentials = \"store\"\noptions = {{ format = \"json\" }}\n\n\
             [accounts.hook-b]\nplatform = \"webhook\"\nbase_url = \"{}{}\"\n\
             credentials = \"store\"\noptions = {{ format = \"json\" }}\n",
            good_server.url(),
            good.path(),
            bad_server.url(),
            bad.path()
        ),
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("campaigns")).unwrap();
    std::fs::write(
        dir.path().join("campaigns/jim.toml"),
        "[campaign]\nid = \"jim\"\ntitle = \"JIM\"\ntimezone = \"UTC\"\n\
         start = 2026-12-18\nend = 2026-12-18\naccounts = [\"hook-a\", \"hook-b\"]\n\
         languages = [\"fr\"]\n\n[[posts]]\nid = \"annonce\"\n\
         date_time = 2026-12-18T10:00:00\ntext = { fr = \"Journée des migrants\" }\n",
    )
    .unwrap();

    let (_db, store) = berrah::store::testing::sqlite_temp().await;
    let key = TokenKey::generate();
    let tokens = SqlTokenStore::from_store(&store);
    for (account, secret) in [("hook-a", "key-of-hook-a"), ("hook-b", "key-of-hook-b")] {
        login::save_secret(
            &tokens,
            &key,
            account,
            berrah::config::PlatformKind::Webhook,
            SecretString::from(secret.to_string()),
            None,
            NOW.parse().unwrap(),
        )
        .await
        .unwrap();
    }
    let mut row = tokens.get("hook-b").await.unwrap().unwrap();
    let last = row.blob.len() - 1;
    row.blob[last] ^= 0x01;
    tokens.put(&row).await.unwrap();
    // The start check: the key opens a row, so it is the right key.
    berrah::auth::check_key_available(&tokens, Some(&key))
        .await
        .expect("one damaged row stops the daemon");

    let sim = berrah::time::SimClock::new(NOW.parse().unwrap());
    // The receivers refuse stale signature timestamps: they read the same clock.
    for receiver in [&good, &bad] {
        let clock = sim.clone();
        receiver.set_clock(move || berrah::time::Clock::now(&clock));
    }
    let mut cfg = super::support::daemon_config(dir.path(), store.clone(), Arc::new(sim.clone()));
    cfg.jump = Some(sim.clone());
    cfg.until = Some("2026-12-18T12:00:00Z".parse().unwrap());
    cfg.credentials = Some(CredentialsFactory {
        store: Arc::new(SqlTokenStore::from_store(&store)),
        key: Some(Arc::new(key)),
        base_dir: dir.path().to_path_buf(),
        clock: Arc::new(sim),
    });
    let run = berrah::scheduler::Daemon::new(cfg).run(tokio_util::sync::CancellationToken::new());
    tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("the run hung")
        .expect("the daemon failed");

    assert_eq!(good.received().len(), 1, "the healthy account publishes");
    assert!(bad.received().is_empty(), "nothing is sent without its key");
    let entries = store.list(ListFilter::default()).await.unwrap();
    let state = |account: &str| {
        entries
            .iter()
            .find(|e| e.account == account)
            .unwrap_or_else(|| panic!("no entry for {account}: {entries:#?}"))
    };
    assert_eq!(state("hook-a").state, EntryState::Published);
    let b = state("hook-b");
    assert_eq!(b.state, EntryState::Held, "{b:#?}");
    let why = b.last_error.clone().unwrap_or_default();
    assert!(why.contains("cannot decrypt"), "{why}");
    assert!(!why.contains("key-of-hook-b"), "{why}");
}
