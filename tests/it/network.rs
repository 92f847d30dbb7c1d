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
