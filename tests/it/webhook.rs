//! Integration tests: webhooks. The client publishes to the fake receivers
//! (generic signed JSON, Slack, Teams, Discord) on 127.0.0.1; each checks the
//! request as the real one does. Faults: 429, 5xx, a dropped connection, a
//! removed webhook, a wrong signing key.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use berrah::auth::{AuthError, Credentials, StaticCredentials};
use berrah::config::AccountConfig;
use berrah::media::MemoryUploadCache;
use berrah::plan::{Content, MediaRef};
use berrah::platforms::{
    Checkpoint, CheckpointError, Idempotency, Outcome, PlatformDeps, Progress, PublishJob, webhook,
};
use berrah::time::{BoxFuture, Clock};
use berrah_fakes::webhook::{Fault, Kind, Receiver};
use berrah_fakes::{Running, serve};
use jiff::Timestamp;
use secrecy::{ExposeSecret, SecretString};

const NOW: &str = "2026-12-18T09:00:00Z";
const KEY: &str = "shared-signing-key";

struct FixedClock(Timestamp);

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        self.0
    }
    fn sleep_until(&self, _deadline: Timestamp) -> BoxFuture<'static, ()> {
        Box::pin(async {})
    }
}

/// Remembers every saved progress.
#[derive(Default)]
struct Saved(Mutex<Vec<Progress>>);

#[async_trait]
impl Checkpoint for Saved {
    async fn save(&self, progress: &Progress) -> Result<(), CheckpointError> {
        self.0.lock().unwrap().push(progress.clone());
        Ok(())
    }
}

/// A secret that was rotated: the first one is refused, renewing gives the new one.
struct Rotated {
    old: String,
    new: String,
    renewed: Mutex<u32>,
}

#[async_trait]
impl Credentials for Rotated {
    async fn secret(&self) -> Result<SecretString, AuthError> {
        Ok(SecretString::from(self.old.clone()))
    }
    async fn renew_rejected(&self, rejected: &SecretString) -> Result<SecretString, AuthError> {
        assert_eq!(rejected.expose_secret(), self.old);
        *self.renewed.lock().unwrap() += 1;
        Ok(SecretString::from(self.new.clone()))
    }
}

struct Setup {
    receiver: Receiver,
    running: Running,
}

async fn receiver(kind: Kind, key: Option<&str>) -> Setup {
    let receiver = Receiver::new(kind, key);
    // The requests are signed at NOW (the publishing clock's).
    receiver.set_clock(|| NOW.parse().unwrap());
    let running = serve(receiver.router()).await.unwrap();
    Setup { receiver, running }
}

impl Setup {
    fn hook_url(&self) -> String {
        format!("{}{}", self.running.url(), self.receiver.path())
    }
}

fn account(toml_text: &str) -> Arc<AccountConfig> {
    Arc::new(toml::from_str(toml_text).unwrap())
}

fn deps(account: Arc<AccountConfig>, credentials: Arc<dyn Credentials>) -> PlatformDeps {
    PlatformDeps {
        account_id: "oim-hook".into(),
        account,
        credentials,
        http: berrah::http::client(),
        uploads: Arc::new(MemoryUploadCache::default()),
        clock: Arc::new(FixedClock(NOW.parse().unwrap())),
    }
}

fn job(account: Arc<AccountConfig>, text: &str) -> PublishJob {
    PublishJob {
        occurrence_id: "o-3fa9c2d1e4b5a6f7".into(),
        attempt: 1,
        account_id: "oim-hook".into(),
        account,
        language: "fr".into(),
        content: Content {
            text: text.into(),
            media: vec![MediaRef {
                file: "media/famille.jpg".into(),
                path: "campaigns/media/famille.jpg".into(),
                alt: Some("Une famille à Oujda".into()),
                thumbnail: None,
            }],
            ..Content::default()
        },
        progress: Progress::default(),
        due: NOW.parse().unwrap(),
    }
}

fn secret(s: &str) -> Arc<dyn Credentials> {
    Arc::new(StaticCredentials(SecretString::from(s.to_string())))
}

/// A generic JSON account posting to `url`, signed with `KEY`.
fn json_account(url: &str) -> Arc<AccountConfig> {
    account(&format!(
        "platform = \"webhook\"\nbase_url = \"{url}\"\ncredentials = \"env:HOOK_KEY\"\n"
    ))
}

/// A ready-format account whose secret is the hook URL.
fn ready_account(format: &str) -> Arc<AccountConfig> {
    account(&format!(
        "platform = \"webhook\"\nbase_url = \"https://hooks.example\"\n\
         credentials = \"store\"\n[options]\nformat = \"{format}\"\n\
         media_url = \"https://cdn.example.org/campagnes/\"\n"
    ))
}

async fn publish(deps: PlatformDeps, job: &PublishJob, saved: &Saved) -> Outcome {
    let platform = webhook::build(deps);
    assert_eq!(platform.idempotency(), Idempotency::None);
    tokio::time::timeout(
        std::time::Duration::from_secs(30),
        platform.publish(job, saved),
    )
    .await
    .expect("publish hangs")
}

#[tokio::test]
async fn json_is_signed_and_delivered_once() {
    let s = receiver(Kind::Json, Some(KEY)).await;
    let acc = json_account(&s.hook_url());
    let saved = Saved::default();
    let j = job(acc.clone(), "Bonjour — مرحبا 👋");
    let out = publish(deps(acc, secret(KEY)), &j, &saved).await;
    assert_eq!(
        out,
        Outcome::Published {
            remote_id: "o-3fa9c2d1e4b5a6f7".into(),
            url: None
        }
    );
    let got = s.receiver.received();
    assert_eq!(got.len(), 1);
    let r = &got[0];
    assert_eq!(r.signature_valid, Some(true));
    assert!(r.signature.as_deref().unwrap().starts_with("v1="));
    assert_eq!(r.delivery.as_deref(), Some("o-3fa9c2d1e4b5a6f7"));
    assert_eq!(r.timestamp.as_deref(), Some("1797584400"));
    assert_eq!(r.body["text"], "Bonjour — مرحبا 👋");
    assert_eq!(r.body["sent_at"], NOW);
    assert_eq!(r.body["media"][0]["alt"], "Une famille à Oujda");
    // One step: nothing to checkpoint before the worker records the outcome.
    assert!(saved.0.lock().unwrap().is_empty());

    // A later attempt that finds the delivery in its progress sends nothing.
    let mut again = j.clone();
    again.progress.remote_id = Some("o-3fa9c2d1e4b5a6f7".into());
    let acc = json_account(&s.hook_url());
    let out = publish(deps(acc, secret(KEY)), &again, &Saved::default()).await;
    assert!(matches!(out, Outcome::Published { .. }));
    assert_eq!(s.receiver.received().len(), 1, "never sent twice");
}

#[tokio::test]
async fn a_wrong_key_needs_an_operator_and_a_rotated_one_is_used_once() {
    let s = receiver(Kind::Json, Some(KEY)).await;
    let acc = json_account(&s.hook_url());
    let out = publish(
        deps(acc.clone(), secret("not-the-key")),
        &job(acc.clone(), "x"),
        &Saved::default(),
    )
    .await;
    match out {
        Outcome::NeedsOperator { reason } => {
            assert!(reason.contains("signature does not match"), "{reason}");
            assert!(
                !reason.contains("not-the-key"),
                "never the secret: {reason}"
            );
        }
        other => panic!("{other:?}"),
    }
    // A key rotated elsewhere: renewed once, then delivered.
    let rotated = Arc::new(Rotated {
        old: "old-key".into(),
        new: KEY.into(),
        renewed: Mutex::new(0),
    });
    let out = publish(
        deps(acc.clone(), rotated.clone()),
        &job(acc, "x"),
        &Saved::default(),
    )
    .await;
    assert!(matches!(out, Outcome::Published { .. }), "{out:?}");
    assert_eq!(*rotated.renewed.lock().unwrap(), 1);
    let got = s.receiver.received();
    assert_eq!(got.len(), 3);
    assert_eq!(got[2].signature_valid, Some(true));
}

#[tokio::test]
async fn slack_gets_mrkdwn_blocks_and_an_image() {
    let s = receiver(Kind::Slack, None).await;
    let acc = ready_account("slack");
    let out = publish(
        deps(acc.clone(), secret(&s.hook_url())),
        &job(acc, "Journée <internationale> des migrants & réfugiés"),
        &Saved::default(),
    )
    .await;
    assert_eq!(
        out,
        Outcome::Published {
            remote_id: "o-3fa9c2d1e4b5a6f7".into(),
            url: None
        }
    );
    let r = &s.receiver.received()[0];
    assert_eq!(r.signature, None, "a Slack URL is its own credential");
    assert_eq!(
        r.body["text"],
        "Journée &lt;internationale&gt; des migrants &amp; réfugiés"
    );
    assert_eq!(r.body["blocks"][0]["type"], "section");
    assert_eq!(r.body["blocks"][1]["type"], "image");
    assert_eq!(
        r.body["blocks"][1]["image_url"],
        "https://cdn.example.org/campagnes/media/famille.jpg"
    );
}

#[tokio::test]
async fn teams_gets_an_adaptive_card() {
    let s = receiver(Kind::Teams, None).await;
    let acc = ready_account("teams");
    let out = publish(
        deps(acc.clone(), secret(&s.hook_url())),
        &job(acc, "Bonjour l'équipe"),
        &Saved::default(),
    )
    .await;
    assert!(matches!(out, Outcome::Published { .. }), "{out:?}");
    let r = &s.receiver.received()[0];
    let card = &r.body["attachments"][0]["content"];
    assert_eq!(card["type"], "AdaptiveCard");
    assert_eq!(card["body"][0]["text"], "Bonjour l'équipe");
    assert_eq!(card["body"][1]["altText"], "Une famille à Oujda");
}

#[tokio::test]
async fn discord_waits_for_the_message_id() {
    let s = receiver(Kind::Discord, None).await;
    let acc = ready_account("discord");
    let out = publish(
        deps(acc.clone(), secret(&s.hook_url())),
        &job(acc.clone(), "Salut @everyone"),
        &Saved::default(),
    )
    .await;
    match &out {
        Outcome::Published { remote_id, .. } => assert_eq!(remote_id, "1180000000000000002"),
        other => panic!("{other:?}"),
    }
    let r = &s.receiver.received()[0];
    assert_eq!(r.query, "wait=true");
    assert_eq!(r.body["content"], "Salut @everyone");
    assert_eq!(r.body["allowed_mentions"]["parse"], serde_json::json!([]));
    assert_eq!(
        r.body["embeds"][0]["image"]["url"],
        "https://cdn.example.org/campagnes/media/famille.jpg"
    );

    // A removed webhook (wrong token): the operator must give a new URL.
    let gone = format!(
        "{}/api/webhooks/1180000000000000000/revoked",
        s.running.url()
    );
    let out = publish(
        deps(acc.clone(), secret(&gone)),
        &job(acc, "x"),
        &Saved::default(),
    )
    .await;
    match out {
        Outcome::NeedsOperator { reason } => {
            assert!(reason.contains("Unknown Webhook (code 10015)"), "{reason}");
            assert!(
                !reason.contains("revoked"),
                "never the secret URL: {reason}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn rate_limits_retry_at_the_receivers_time() {
    let now: Timestamp = NOW.parse().unwrap();
    // Discord: `retry_after` in the JSON body, to the millisecond.
    let s = receiver(Kind::Discord, None).await;
    s.receiver.fail_next(Fault::RateLimited {
        retry_after_secs: 2.5,
    });
    let acc = ready_account("discord");
    let out = publish(
        deps(acc.clone(), secret(&s.hook_url())),
        &job(acc, "x"),
        &Saved::default(),
    )
    .await;
    match out {
        Outcome::Retry { at, reason } => {
            assert_eq!(at, Some(now + jiff::SignedDuration::from_millis(2500)));
            assert!(reason.contains("429"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    // Slack: `Retry-After` seconds.
    let s = receiver(Kind::Slack, None).await;
    s.receiver.fail_next(Fault::RateLimited {
        retry_after_secs: 30.0,
    });
    let acc = ready_account("slack");
    let out = publish(
        deps(acc.clone(), secret(&s.hook_url())),
        &job(acc, "x"),
        &Saved::default(),
    )
    .await;
    assert!(
        matches!(out, Outcome::Retry { at: Some(t), .. } if t == now + jiff::SignedDuration::from_secs(30)),
        "{out:?}"
    );
}

#[tokio::test]
async fn server_errors_retry_and_refusals_fail_with_the_receivers_message() {
    let s = receiver(Kind::Teams, None).await;
    s.receiver.fail_next(Fault::ServerError(503));
    let acc = ready_account("teams");
    let out = publish(
        deps(acc.clone(), secret(&s.hook_url())),
        &job(acc.clone(), "x"),
        &Saved::default(),
    )
    .await;
    assert!(
        matches!(&out, Outcome::Retry { reason, .. } if reason.contains("HTTP 503")),
        "{out:?}"
    );
    s.receiver.fail_next(Fault::Reject(
        400,
        r#"{"error":{"code":"InvalidTemplate","message":"Unable to process template language expressions."}}"#
            .into(),
    ));
    let out = publish(
        deps(acc.clone(), secret(&s.hook_url())),
        &job(acc, "x"),
        &Saved::default(),
    )
    .await;
    assert!(
        matches!(&out, Outcome::Failed { reason } if reason.contains("Unable to process template language expressions. (code InvalidTemplate)")),
        "{out:?}"
    );
}

#[tokio::test]
async fn a_dropped_connection_is_an_unknown_outcome() {
    let s = receiver(Kind::Json, Some(KEY)).await;
    s.receiver.fail_next(Fault::DropConnection);
    let acc = json_account(&s.hook_url());
    let out = publish(
        deps(acc.clone(), secret(KEY)),
        &job(acc, "x"),
        &Saved::default(),
    )
    .await;
    match out {
        Outcome::Unknown { reason } => assert!(reason.contains("webhook"), "{reason}"),
        other => panic!("{other:?}"),
    }
    // It did reach the receiver: sending again blindly would duplicate it.
    assert_eq!(s.receiver.received().len(), 1);
}

#[tokio::test]
async fn nothing_listening_is_a_safe_retry() {
    // Bind and drop a listener: the port refuses connections.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let acc = json_account(&format!("http://127.0.0.1:{port}/hook"));
    let out = publish(
        deps(acc.clone(), secret(KEY)),
        &job(acc, "x"),
        &Saved::default(),
    )
    .await;
    assert!(matches!(out, Outcome::Retry { .. }), "{out:?}");
}

#[tokio::test]
async fn a_bad_format_option_fails_with_the_fix() {
    let acc = account(
        "platform = \"webhook\"\nbase_url = \"https://h.example\"\n[options]\nformat = \"mattermost\"\n",
    );
    let out = publish(
        deps(acc.clone(), secret(KEY)),
        &job(acc, "x"),
        &Saved::default(),
    )
    .await;
    assert!(
        matches!(&out, Outcome::Failed { reason } if reason.contains("\"discord\"")),
        "{out:?}"
    );
}

/// `dedupe_by_delivery = true`: the delivery id is an idempotency key. The
/// receiver took the request and the answer was lost (unknown outcome); the
/// attempt sent again carries the same `X-Berrah-Delivery`, and the
/// receiver drops it as a duplicate and answers: published, delivered once.
#[tokio::test]
async fn a_deduplicating_receiver_makes_an_unknown_outcome_safe_to_send_again() {
    let s = receiver(Kind::Json, Some(KEY)).await;
    s.receiver.dedupe_by_delivery();
    let acc = account(&format!(
        "platform = \"webhook\"\nbase_url = \"{}\"\ncredentials = \"env:HOOK_KEY\"\n\
         dedupe_by_delivery = true\n",
        s.hook_url()
    ));
    let platform = webhook::build(deps(acc.clone(), secret(KEY)));
    assert_eq!(platform.idempotency(), Idempotency::Keyed);
    let j = job(acc.clone(), "Une fois");
    s.receiver.fail_next(Fault::DeliverThenDrop);
    let first = platform.publish(&j, &Saved::default()).await;
    assert!(matches!(first, Outcome::Unknown { .. }), "{first:?}");
    assert_eq!(
        s.receiver.delivered(),
        ["o-3fa9c2d1e4b5a6f7"],
        "it got there"
    );

    let mut again = j.clone();
    again.attempt = 2;
    let second = platform.publish(&again, &Saved::default()).await;
    assert_eq!(
        second,
        Outcome::Published {
            remote_id: "o-3fa9c2d1e4b5a6f7".into(),
            url: None
        }
    );
    let got = s.receiver.received();
    assert_eq!(got.len(), 2);
    assert!(
        got.iter()
            .all(|r| r.delivery.as_deref() == Some("o-3fa9c2d1e4b5a6f7"))
    );
    assert_eq!(s.receiver.delivered().len(), 1, "delivered once");
    assert_eq!(s.receiver.duplicates(), 1);

    // Without the option, the same account cannot be sent again blindly.
    let plain = json_account(&s.hook_url());
    assert_eq!(
        webhook::build(deps(plain, secret(KEY))).idempotency(),
        Idempotency::None
    );
}

/// The option belongs to webhook accounts only: elsewhere it is an error
/// pointing at it.
#[test]
fn dedupe_by_delivery_is_for_webhook_accounts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("berrah.toml");
    std::fs::write(
        &path,
        "[accounts.oim-x]\nplatform = \"x\"\ndedupe_by_delivery = true\n",
    )
    .unwrap();
    let report = berrah::config::read_config(&path, true).unwrap_err();
    let text = report.render();
    assert!(
        text.contains("`dedupe_by_delivery` is for webhook accounts; account `oim-x` is x"),
        "{text}"
    );
    assert!(text.contains("berrah.toml:3:"), "{text}");
}
