//! Mastodon and Telegram against their fake servers.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use berrah::auth::{AuthError, Credentials, StaticCredentials};
use berrah::config::AccountConfig;
use berrah::media::MemoryUploadCache;
use berrah::plan::{Content, MediaRef};
use berrah::platforms::{
    Checkpoint, CheckpointError, Idempotency, Outcome, Platform, PlatformDeps, Progress, PublishJob,
};
use berrah::time::{BoxFuture, Clock};
use berrah_fakes::mastodon::{self as fm, FakeMastodon};
use jiff::Timestamp;
use secrecy::{ExposeSecret, SecretString};

// ---------------------------------------------------------------- support

/// A clock that only moves when something sleeps on it (or the test moves it).
struct ManualClock(Mutex<Timestamp>);

impl ManualClock {
    fn new() -> Arc<ManualClock> {
        Arc::new(ManualClock(Mutex::new(t0())))
    }
    fn set(&self, t: Timestamp) {
        *self.0.lock().unwrap() = t;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap()
    }
    fn sleep_until(&self, deadline: Timestamp) -> BoxFuture<'static, ()> {
        let mut now = self.0.lock().unwrap();
        if deadline > *now {
            *now = deadline;
        }
        Box::pin(async {})
    }
}

fn t0() -> Timestamp {
    "2026-12-18T09:00:00Z".parse().unwrap()
}

/// Keeps every progress saved, in order.
#[derive(Default)]
struct Saved(Mutex<Vec<Progress>>);

impl Saved {
    fn last(&self) -> Progress {
        self.0.lock().unwrap().last().cloned().unwrap_or_default()
    }
}

#[async_trait]
impl Checkpoint for Saved {
    async fn save(&self, progress: &Progress) -> Result<(), CheckpointError> {
        self.0.lock().unwrap().push(progress.clone());
        Ok(())
    }
}

/// A token that was rotated elsewhere: the first is refused, renewing gives the new one.
struct Rotating {
    current: Mutex<String>,
    next: String,
    renewals: Mutex<u32>,
}

#[async_trait]
impl Credentials for Rotating {
    async fn secret(&self) -> Result<SecretString, AuthError> {
        Ok(SecretString::from(self.current.lock().unwrap().clone()))
    }
    async fn renew_rejected(&self, rejected: &SecretString) -> Result<SecretString, AuthError> {
        *self.renewals.lock().unwrap() += 1;
        let mut cur = self.current.lock().unwrap();
        if rejected.expose_secret() == cur.as_str() {
            *cur = self.next.clone();
        }
        Ok(SecretString::from(cur.clone()))
    }
}

fn media_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("campaigns/media")
        .join(name)
}

fn media(name: &str, alt: Option<&str>) -> MediaRef {
    MediaRef {
        file: format!("media/{name}"),
        path: media_path(name),
        alt: alt.map(str::to_string),
        thumbnail: None,
    }
}

fn account(toml_text: &str) -> Arc<AccountConfig> {
    Arc::new(toml::from_str(toml_text).unwrap())
}

struct Env {
    clock: Arc<ManualClock>,
    uploads: Arc<MemoryUploadCache>,
    http: reqwest::Client,
}

impl Env {
    fn new() -> Env {
        Env {
            clock: ManualClock::new(),
            uploads: Arc::new(MemoryUploadCache::default()),
            http: berrah::http::client(),
        }
    }

    fn deps(&self, account: &Arc<AccountConfig>, creds: Arc<dyn Credentials>) -> PlatformDeps {
        PlatformDeps {
            account_id: "acct".into(),
            account: account.clone(),
            credentials: creds,
            http: self.http.clone(),
            uploads: self.uploads.clone(),
            clock: self.clock.clone(),
        }
    }
}

fn token(t: &str) -> Arc<dyn Credentials> {
    Arc::new(StaticCredentials(SecretString::from(t.to_string())))
}

fn job(account: &Arc<AccountConfig>, id: &str, language: &str, content: Content) -> PublishJob {
    PublishJob {
        occurrence_id: id.into(),
        attempt: 1,
        account_id: "acct".into(),
        account: account.clone(),
        language: language.into(),
        content,
        progress: Progress::default(),
        due: t0(),
    }
}

const AR_FR: &str =
    "مرحبا بالجميع في حملتنا 🌍 Bonjour à toutes et à tous, l'école est un droit ✏️ #Éducation";

fn assert_no_secret(outcome: &Outcome, secret: &str) {
    assert!(
        !format!("{outcome:?}").contains(secret),
        "a secret leaked into {outcome:?}"
    );
}

// ---------------------------------------------------------------- Mastodon

fn masto_account(fake: &FakeMastodon, options: &str) -> Arc<AccountConfig> {
    account(&format!(
        "platform = \"mastodon\"\nbase_url = \"{}\"\ncredentials = \"env:MASTO\"\n[options]\n{options}",
        fake.url()
    ))
}

fn masto(env: &Env, account: &Arc<AccountConfig>) -> Box<dyn Platform> {
    berrah::platforms::build(env.deps(account, token(fm::DEFAULT_TOKEN)))
}

#[tokio::test]
async fn mastodon_publishes_photos_thread_and_first_comment_in_order() {
    let fake = FakeMastodon::start().await.unwrap();
    let env = Env::new();
    let acc = masto_account(&fake, "visibility = \"unlisted\"");
    let p = masto(&env, &acc);
    assert_eq!(p.idempotency(), Idempotency::Keyed);
    let content = Content {
        text: AR_FR.into(),
        media: vec![
            media(
                "amal-ecole-pour-tous.jpg",
                Some("أطفال في المدرسة، des enfants à l'école"),
            ),
            media("b7al-b7al-lancement.jpg", Some("Lancement 🚀")),
        ],
        thread: vec![
            "الجزء الثاني 2/3 🧵".into(),
            "Troisième partie 3/3 ✅".into(),
        ],
        first_comment: Some("Plus d'infos : https://example.org/amal?utm_source=mastodon".into()),
        ..Content::default()
    };
    let saved = Saved::default();
    let out = p.publish(&job(&acc, "o-abc", "ar", content), &saved).await;
    let statuses = fake.statuses();
    assert_eq!(statuses.len(), 4, "{out:?}");
    let (main, r1, r2, comment) = (&statuses[0], &statuses[1], &statuses[2], &statuses[3]);
    assert_eq!(
        out,
        Outcome::Published {
            remote_id: main.id.clone(),
            url: Some(main.url.clone())
        }
    );
    assert_eq!(main.text, AR_FR);
    assert_eq!(main.language.as_deref(), Some("ar"));
    assert_eq!(main.visibility, "unlisted");
    assert_eq!(main.idempotency_key.as_deref(), Some("o-abc"));
    assert_eq!(main.media_ids.len(), 2);
    let media = fake.media();
    assert_eq!(
        media
            .iter()
            .find(|m| m.id == main.media_ids[0])
            .unwrap()
            .description
            .as_deref(),
        Some("أطفال في المدرسة، des enfants à l'école")
    );
    assert_eq!(
        media
            .iter()
            .find(|m| m.id == main.media_ids[1])
            .unwrap()
            .description
            .as_deref(),
        Some("Lancement 🚀")
    );
    assert_eq!(r1.in_reply_to_id.as_deref(), Some(main.id.as_str()));
    assert_eq!(r2.in_reply_to_id.as_deref(), Some(r1.id.as_str()));
    assert_eq!(r2.text, "Troisième partie 3/3 ✅");
    assert_eq!(comment.in_reply_to_id.as_deref(), Some(main.id.as_str()));
    assert_eq!(r1.idempotency_key.as_deref(), Some("o-abc-1"));
    assert_eq!(comment.idempotency_key.as_deref(), Some("o-abc-c"));
    let last = saved.last();
    assert_eq!(last.remote_id.as_deref(), Some(main.id.as_str()));
    assert_eq!(last.thread, vec![r1.id.clone(), r2.id.clone()]);
    assert_eq!(last.first_comment.as_deref(), Some(comment.id.as_str()));
    assert_eq!(last.media.len(), 2);
    // The instance's limit was read once.
    assert_eq!(fake.count("GET", "/api/v2/instance"), 1);
}

#[tokio::test]
async fn mastodon_video_is_polled_until_processed() {
    let fake = FakeMastodon::start().await.unwrap();
    fake.set_processing_polls(3);
    let env = Env::new();
    let acc = masto_account(&fake, "");
    let p = masto(&env, &acc);
    let content = Content {
        text: "Capsule 1 : vivre ensemble 🎬 فيديو".into(),
        media: vec![media(
            "amal-capsule-1-migrants.mp4",
            Some("Vidéo, sous-titres en arabe"),
        )],
        ..Content::default()
    };
    let out = p
        .publish(&job(&acc, "o-vid", "fr-MA", content), &Saved::default())
        .await;
    assert!(matches!(out, Outcome::Published { .. }), "{out:?}");
    let s = &fake.statuses()[0];
    assert_eq!(s.language.as_deref(), Some("fr"));
    let m = &fake.media()[0];
    assert_eq!(m.kind, "video");
    assert_eq!(m.mime, "video/mp4");
    assert_eq!(m.status_id.as_deref(), Some(s.id.as_str()));
    assert_eq!(fake.count("GET", "/api/v1/media/:id"), 4);
}

#[tokio::test]
async fn mastodon_long_processing_is_retried_later_without_uploading_again() {
    let fake = FakeMastodon::start().await.unwrap();
    fake.set_processing_polls(60);
    let env = Env::new();
    let acc = masto_account(&fake, "");
    let p = masto(&env, &acc);
    let content = Content {
        text: "Vidéo longue à traiter".into(),
        media: vec![media("amal-capsule-2-education.mp4", None)],
        ..Content::default()
    };
    let saved = Saved::default();
    let mut j = job(&acc, "o-slowvid", "fr", content);
    let out = p.publish(&j, &saved).await;
    assert!(matches!(out, Outcome::Retry { at: Some(_), .. }), "{out:?}");
    assert!(fake.statuses().is_empty());
    assert_eq!(saved.last().media.len(), 1, "the upload is in the progress");
    j.progress = saved.last();
    j.attempt = 2;
    let out = p.publish(&j, &saved).await;
    assert!(matches!(out, Outcome::Published { .. }), "{out:?}");
    assert_eq!(fake.count("POST", "/api/v2/media"), 1);
    assert_eq!(fake.statuses().len(), 1);
}

#[tokio::test]
async fn mastodon_thread_resumes_after_a_failure_part_way() {
    let fake = FakeMastodon::start().await.unwrap();
    let env = Env::new();
    let acc = masto_account(&fake, "");
    let p = masto(&env, &acc);
    let content = Content {
        text: "1/4 Journée de l'enfance 🎈 يوم الطفل".into(),
        thread: vec!["2/4".into(), "3/4 ✨".into(), "4/4 🙏".into()],
        first_comment: Some("Commentaire".into()),
        ..Content::default()
    };
    // The main post and the first reply go out, the second reply meets a 503.
    fake.fail_after(fm::Endpoint::Statuses, 2, fm::Fault::ServerError(503));
    let saved = Saved::default();
    let mut j = job(&acc, "o-thread", "fr", content);
    let out = p.publish(&j, &saved).await;
    assert!(matches!(out, Outcome::Retry { .. }), "{out:?}");
    assert_eq!(fake.statuses().len(), 2);
    assert_eq!(saved.last().thread.len(), 1);
    j.progress = saved.last();
    j.attempt = 2;
    let out = p.publish(&j, &saved).await;
    assert!(matches!(out, Outcome::Published { .. }), "{out:?}");
    let texts: Vec<String> = fake.statuses().into_iter().map(|s| s.text).collect();
    assert_eq!(
        texts,
        vec![
            "1/4 Journée de l'enfance 🎈 يوم الطفل",
            "2/4",
            "3/4 ✨",
            "4/4 🙏",
            "Commentaire"
        ]
    );
    let s = fake.statuses();
    assert_eq!(s[2].in_reply_to_id.as_deref(), Some(s[1].id.as_str()));
}

#[tokio::test]
async fn mastodon_retry_after_a_dropped_answer_gives_one_status() {
    let fake = FakeMastodon::start().await.unwrap();
    let env = Env::new();
    let acc = masto_account(&fake, "");
    let p = masto(&env, &acc);
    let content = Content {
        text: "Un seul statut, même après une coupure 🔌 منشور واحد".into(),
        ..Content::default()
    };
    fake.fail_next(fm::Endpoint::Statuses, fm::Fault::DropAfterProcessing);
    let saved = Saved::default();
    let mut j = job(&acc, "o-drop", "fr", content);
    let out = p.publish(&j, &saved).await;
    assert!(
        matches!(out, Outcome::Retry { .. }),
        "keyed ⇒ retry: {out:?}"
    );
    assert_eq!(fake.statuses().len(), 1, "the instance did create it");
    j.progress = saved.last();
    j.attempt = 2;
    let out = p.publish(&j, &saved).await;
    let statuses = fake.statuses();
    assert_eq!(statuses.len(), 1, "same Idempotency-Key ⇒ the same status");
    assert_eq!(
        out,
        Outcome::Published {
            remote_id: statuses[0].id.clone(),
            url: Some(statuses[0].url.clone())
        }
    );
}

#[tokio::test]
async fn mastodon_ambiguous_attempt_older_than_the_key_lifetime_is_held() {
    let fake = FakeMastodon::start().await.unwrap();
    let env = Env::new();
    let acc = masto_account(&fake, "");
    let p = masto(&env, &acc);
    let content = Content {
        text: "Peut-être publié ❓ ربما".into(),
        ..Content::default()
    };
    fake.fail_next(fm::Endpoint::Statuses, fm::Fault::DropAfterProcessing);
    let saved = Saved::default();
    let mut j = job(&acc, "o-late", "fr", content);
    let out = p.publish(&j, &saved).await;
    assert!(matches!(out, Outcome::Retry { .. }), "{out:?}");
    assert!(saved.last().extra.contains_key("maybe_sent:o-late"));
    // 61 minutes later the instance may have forgotten the key: held, not re-sent.
    env.clock.set("2026-12-18T10:01:00Z".parse().unwrap());
    j.progress = saved.last();
    j.attempt = 2;
    let out = p.publish(&j, &saved).await;
    assert!(
        matches!(&out, Outcome::Unknown { reason } if reason.contains("one hour")),
        "{out:?}"
    );
    assert_eq!(fake.count("POST", "/api/v1/statuses"), 1);
    // A plain 429 is not ambiguous: nothing is marked.
    let fake = FakeMastodon::start().await.unwrap();
    let acc = masto_account(&fake, "");
    let p = masto(&env, &acc);
    fake.fail_next(
        fm::Endpoint::Statuses,
        fm::Fault::RateLimited {
            reset: "2026-12-18T10:02:00Z".parse().unwrap(),
        },
    );
    let saved = Saved::default();
    let j = job(
        &acc,
        "o-429b",
        "fr",
        Content {
            text: "x".into(),
            ..Content::default()
        },
    );
    let out = p.publish(&j, &saved).await;
    assert!(matches!(out, Outcome::Retry { .. }), "{out:?}");
    assert!(saved.last().extra.is_empty());
}

#[tokio::test]
async fn mastodon_slow_answer_times_out_into_a_keyed_retry() {
    let fake = FakeMastodon::start().await.unwrap();
    let mut env = Env::new();
    env.http = berrah::http::client_builder()
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let acc = masto_account(&fake, "");
    let p = masto(&env, &acc);
    fake.fail_next(
        fm::Endpoint::Statuses,
        fm::Fault::Slow(Duration::from_secs(3)),
    );
    let j = job(
        &acc,
        "o-slow",
        "fr",
        Content {
            text: "Lent".into(),
            ..Content::default()
        },
    );
    let out = p.publish(&j, &Saved::default()).await;
    assert!(matches!(out, Outcome::Retry { .. }), "{out:?}");
    let out = p.publish(&j, &Saved::default()).await;
    assert!(matches!(out, Outcome::Published { .. }), "{out:?}");
    assert_eq!(fake.statuses().len(), 1);
}

#[tokio::test]
async fn mastodon_over_the_instance_limit_fails_before_posting_anything() {
    let fake = FakeMastodon::start().await.unwrap();
    fake.set_max_characters(40);
    let env = Env::new();
    let acc = masto_account(&fake, "");
    let p = masto(&env, &acc);
    let content = Content {
        text: "Court".into(),
        thread: vec!["Une réponse bien trop longue pour cette instance 🙈 جدا".into()],
        ..Content::default()
    };
    let out = p
        .publish(&job(&acc, "o-long", "fr", content), &Saved::default())
        .await;
    match out {
        Outcome::Failed { reason } => {
            assert!(reason.contains("thread reply 1"), "{reason}");
            assert!(
                reason.contains("over the instance's limit of 40"),
                "{reason}"
            );
            assert!(reason.contains("max_chars"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert!(fake.statuses().is_empty());
}

#[tokio::test]
async fn mastodon_refused_token_is_renewed_once_else_needs_operator() {
    let fake = FakeMastodon::start().await.unwrap();
    fake.set_token("new-token");
    let env = Env::new();
    let acc = masto_account(&fake, "");
    // Renewed to the token the instance expects: published.
    let rotating = Arc::new(Rotating {
        current: Mutex::new("old-token".into()),
        next: "new-token".into(),
        renewals: Mutex::new(0),
    });
    let p = berrah::platforms::build(env.deps(&acc, rotating.clone()));
    let j = job(
        &acc,
        "o-auth",
        "fr",
        Content {
            text: "Jeton".into(),
            ..Content::default()
        },
    );
    let out = p.publish(&j, &Saved::default()).await;
    assert!(matches!(out, Outcome::Published { .. }), "{out:?}");
    assert_eq!(*rotating.renewals.lock().unwrap(), 1);
    // A fixed token the instance refuses: for an operator, no secret in the reason.
    fake.expire_token();
    let p = berrah::platforms::build(env.deps(&acc, token("new-token")));
    let j = job(
        &acc,
        "o-auth2",
        "fr",
        Content {
            text: "Jeton 2".into(),
            ..Content::default()
        },
    );
    let out = p.publish(&j, &Saved::default()).await;
    assert!(matches!(out, Outcome::NeedsOperator { .. }), "{out:?}");
    assert_no_secret(&out, "new-token");
    assert_eq!(fake.statuses().len(), 1);
}

#[tokio::test]
async fn mastodon_rate_limit_retries_at_reset_and_waits_instead_of_a_429() {
    let fake = FakeMastodon::start().await.unwrap();
    let env = Env::new();
    let acc = masto_account(&fake, "");
    let p = masto(&env, &acc);
    let reset: Timestamp = "2026-12-18T09:20:00Z".parse().unwrap();
    fake.fail_next(fm::Endpoint::Statuses, fm::Fault::RateLimited { reset });
    let j = job(
        &acc,
        "o-429",
        "fr",
        Content {
            text: "Limite".into(),
            ..Content::default()
        },
    );
    let out = p.publish(&j, &Saved::default()).await;
    match out {
        Outcome::Retry { at, .. } => assert_eq!(at, Some(reset)),
        other => panic!("{other:?}"),
    }
    // The client remembers the spent budget: no request until the reset.
    let before = fake.requests().len();
    let out = p.publish(&j, &Saved::default()).await;
    assert_eq!(out, p.publish(&j, &Saved::default()).await);
    assert!(
        matches!(out, Outcome::Retry { at: Some(a), .. } if a == reset),
        "{out:?}"
    );
    assert_eq!(fake.requests().len(), before);
    // After the reset (and the instance's budget back), it goes out.
    fake.set_rate_limit(300, "2026-12-18T09:25:00Z".parse().unwrap());
    env.clock.set("2026-12-18T09:21:00Z".parse().unwrap());
    let out = p.publish(&j, &Saved::default()).await;
    assert!(matches!(out, Outcome::Published { .. }), "{out:?}");
}

#[tokio::test]
async fn mastodon_budget_spent_by_the_last_answer_is_respected() {
    let fake = FakeMastodon::start().await.unwrap();
    let reset: Timestamp = "2026-12-18T09:05:00Z".parse().unwrap();
    fake.set_rate_limit(1, reset);
    let env = Env::new();
    let acc = masto_account(&fake, "");
    let p = masto(&env, &acc);
    let a = job(
        &acc,
        "o-a",
        "fr",
        Content {
            text: "A".into(),
            ..Content::default()
        },
    );
    let b = job(
        &acc,
        "o-b",
        "fr",
        Content {
            text: "B".into(),
            ..Content::default()
        },
    );
    assert!(matches!(
        p.publish(&a, &Saved::default()).await,
        Outcome::Published { .. }
    ));
    let out = p.publish(&b, &Saved::default()).await;
    assert!(
        matches!(out, Outcome::Retry { at: Some(at), .. } if at == reset),
        "{out:?}"
    );
    assert!(fake.requests().iter().all(|r| r.status != 429));
}

#[tokio::test]
async fn mastodon_error_classes() {
    let fake = FakeMastodon::start().await.unwrap();
    let env = Env::new();
    let acc = masto_account(&fake, "");
    let p = masto(&env, &acc);
    let text = |t: &str| Content {
        text: t.into(),
        ..Content::default()
    };

    fake.fail_next(fm::Endpoint::Statuses, fm::Fault::ServerError(502));
    let out = p
        .publish(&job(&acc, "o-1", "fr", text("a")), &Saved::default())
        .await;
    assert!(matches!(out, Outcome::Retry { at: None, .. }), "{out:?}");

    fake.fail_next(fm::Endpoint::Statuses, fm::Fault::Unauthorized);
    let out = p
        .publish(&job(&acc, "o-2", "fr", text("b")), &Saved::default())
        .await;
    assert!(matches!(out, Outcome::NeedsOperator { .. }), "{out:?}");
    assert_no_secret(&out, fm::DEFAULT_TOKEN);

    // Oversized media: the instance's validation (422) and the proxy's 413.
    fake.set_image_size_limit(1000);
    let photo = Content {
        text: "photo".into(),
        media: vec![media("journee-enfance-2027.jpg", Some("alt"))],
        ..Content::default()
    };
    let out = p
        .publish(&job(&acc, "o-3", "fr", photo.clone()), &Saved::default())
        .await;
    match &out {
        Outcome::Failed { reason } => {
            assert!(reason.contains("journee-enfance-2027.jpg"), "{reason}");
            assert!(reason.contains("smaller"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    fake.set_image_size_limit(16 << 20);
    fake.fail_next(fm::Endpoint::MediaUpload, fm::Fault::PayloadTooLarge);
    let out = p
        .publish(&job(&acc, "o-4", "fr", photo.clone()), &Saved::default())
        .await;
    assert!(
        matches!(&out, Outcome::Failed { reason } if reason.contains("larger")),
        "{out:?}"
    );

    // A video with images is refused before anything is uploaded.
    let mixed = Content {
        text: "mix".into(),
        media: vec![
            media("amal-capsule-1-migrants.mp4", None),
            media("journee-enfance-2027.jpg", None),
        ],
        ..Content::default()
    };
    let uploads = fake.count("POST", "/api/v2/media");
    let out = p
        .publish(&job(&acc, "o-5", "fr", mixed), &Saved::default())
        .await;
    assert!(matches!(out, Outcome::Failed { .. }), "{out:?}");
    assert_eq!(fake.count("POST", "/api/v2/media"), uploads);

    // A bad option names the setting.
    let bad = masto_account(&fake, "visibility = \"everyone\"");
    let out = masto(&env, &bad)
        .publish(&job(&bad, "o-6", "fr", text("c")), &Saved::default())
        .await;
    assert!(
        matches!(&out, Outcome::Failed { reason } if reason.contains("visibility")),
        "{out:?}"
    );

    // A reply whose parent is gone (404) fails and says the main post is out.
    let mut j = job(
        &acc,
        "o-7",
        "fr",
        Content {
            thread: vec!["r".into()],
            ..text("d")
        },
    );
    j.progress.remote_id = Some("999".into());
    j.progress.url = Some("https://m.example/@berrah/999".into());
    let out = p.publish(&j, &Saved::default()).await;
    assert!(
        matches!(&out, Outcome::Failed { reason } if reason.contains("main post is published")),
        "{out:?}"
    );
    assert!(fake.statuses().is_empty());
}

#[tokio::test]
async fn mastodon_upload_cache_reuses_an_unattached_upload_with_its_new_alt_text() {
    let fake = FakeMastodon::start().await.unwrap();
    let env = Env::new();
    let acc = masto_account(&fake, "");
    let p = masto(&env, &acc);
    let photo = |alt: &str| Content {
        text: "photo".into(),
        media: vec![media("b7al-b7al-semaine.jpg", Some(alt))],
        ..Content::default()
    };
    // The client reads the instance's limit once; then the instance lowers
    // it, and refuses the French status (422, nothing attached).
    let out = p
        .publish(
            &job(
                &acc,
                "o-first",
                "fr",
                Content {
                    text: "a".into(),
                    ..Content::default()
                },
            ),
            &Saved::default(),
        )
        .await;
    assert!(matches!(out, Outcome::Published { .. }), "{out:?}");
    fake.set_max_characters(3);
    let out = p
        .publish(
            &job(&acc, "o-fr", "fr", photo("Une semaine")),
            &Saved::default(),
        )
        .await;
    assert!(matches!(out, Outcome::Failed { .. }), "{out:?}");
    fake.set_max_characters(500);
    // The Arabic post takes the upload from the cache and corrects its alt text.
    let out = p
        .publish(&job(&acc, "o-ar", "ar", photo("أسبوع")), &Saved::default())
        .await;
    assert!(matches!(out, Outcome::Published { .. }), "{out:?}");
    assert_eq!(fake.count("POST", "/api/v2/media"), 1);
    assert_eq!(fake.media()[0].description.as_deref(), Some("أسبوع"));
    // The French post, published again, uploads again: the first upload is
    // the Arabic post's now.
    let out = p
        .publish(
            &job(&acc, "o-fr", "fr", photo("Une semaine")),
            &Saved::default(),
        )
        .await;
    assert!(matches!(out, Outcome::Published { .. }), "{out:?}");
    assert_eq!(fake.count("POST", "/api/v2/media"), 2);
    let statuses = fake.statuses();
    assert_ne!(statuses[1].media_ids, statuses[2].media_ids);
}

/// Two posts with the same image: each status gets an upload of its own,
/// on Mastodon (which refuses an attached media id) and on compatible
/// servers that would move the image off the first post instead.
#[tokio::test]
async fn mastodon_two_posts_with_the_same_image_upload_it_twice() {
    for moves in [false, true] {
        let fake = FakeMastodon::start().await.unwrap();
        fake.set_moves_attached_media(moves);
        let env = Env::new();
        let acc = masto_account(&fake, "");
        let p = masto(&env, &acc);
        let photo = Content {
            text: "photo".into(),
            media: vec![media("b7al-b7al-semaine.jpg", Some("Une semaine"))],
            ..Content::default()
        };
        for id in ["o-1", "o-2"] {
            let out = p
                .publish(&job(&acc, id, "fr", photo.clone()), &Saved::default())
                .await;
            assert!(matches!(out, Outcome::Published { .. }), "{out:?}");
        }
        assert_eq!(fake.count("POST", "/api/v2/media"), 2, "moves: {moves}");
        let statuses = fake.statuses();
        assert_eq!(statuses.len(), 2);
        assert_eq!(statuses[0].media_ids.len(), 1, "moves: {moves}");
        assert_eq!(statuses[1].media_ids.len(), 1, "moves: {moves}");
        assert_ne!(statuses[0].media_ids, statuses[1].media_ids);
    }
}

// ---------------------------------------------------------------- Telegram

use berrah_fakes::telegram::{self as ft, FakeTelegram};

fn tg_account(fake: &FakeTelegram, handle: &str) -> Arc<AccountConfig> {
    account(&format!(
        "platform = \"telegram\"\nbase_url = \"{}\"\nhandle = \"{handle}\"\ncredentials = \"env:TG\"",
        fake.url()
    ))
}

fn tg(env: &Env, account: &Arc<AccountConfig>) -> Box<dyn Platform> {
    berrah::platforms::build(env.deps(account, token(ft::DEFAULT_TOKEN)))
}

/// Arabic and French over 1,024 UTF-16 units: too long for a caption.
fn long_text() -> String {
    let mut t = String::new();
    while t.encode_utf16().count() <= 1100 {
        t.push_str("التعليم حق لكل طفل 📚 L'éducation est un droit (vraiment) ! ");
    }
    t
}

#[tokio::test]
async fn telegram_text_thread_and_comment_go_out_as_plain_replies() {
    let fake = FakeTelegram::start().await.unwrap();
    let env = Env::new();
    let acc = tg_account(&fake, "@berrah_test");
    let p = tg(&env, &acc);
    assert_eq!(p.idempotency(), Idempotency::None);
    let text = "مرحبا 👋 *Bonjour* _à tous_ [lien](https://example.org) #Maroc_2026 !";
    let content = Content {
        text: text.into(),
        thread: vec!["2/3 الجزء الثاني".into(), "3/3 fin ✅".into()],
        first_comment: Some("Commentaire 💬".into()),
        ..Content::default()
    };
    let saved = Saved::default();
    let out = p.publish(&job(&acc, "o-tg", "ar", content), &saved).await;
    let m = fake.messages();
    assert_eq!(m.len(), 4, "{out:?}");
    assert_eq!(
        out,
        Outcome::Published {
            remote_id: m[0].message_id.to_string(),
            url: Some(format!("https://t.me/berrah_test/{}", m[0].message_id))
        }
    );
    assert_eq!(m[0].text.as_deref(), Some(text));
    assert_eq!(m[0].parse_mode, None, "plain text: nothing to escape");
    assert_eq!(m[1].reply_to, Some(m[0].message_id));
    assert_eq!(m[2].reply_to, Some(m[1].message_id));
    assert_eq!(m[2].text.as_deref(), Some("3/3 fin ✅"));
    assert_eq!(m[3].reply_to, Some(m[0].message_id));
    let last = saved.last();
    assert_eq!(last.thread.len(), 2);
    assert_eq!(last.first_comment, Some(m[3].message_id.to_string()));
}

#[tokio::test]
async fn telegram_photo_with_caption_then_reused_by_file_id() {
    let fake = FakeTelegram::start().await.unwrap();
    let env = Env::new();
    let acc = tg_account(&fake, "@berrah_test");
    let p = tg(&env, &acc);
    let content = Content {
        text: "Journée de l'enfance 🎈 يوم الطفل".into(),
        media: vec![media(
            "journee-enfance-2027.jpg",
            Some("alt ignored by Telegram"),
        )],
        ..Content::default()
    };
    let out = p
        .publish(&job(&acc, "o-p1", "fr", content.clone()), &Saved::default())
        .await;
    assert!(matches!(out, Outcome::Published { .. }), "{out:?}");
    let out = p
        .publish(&job(&acc, "o-p2", "fr", content), &Saved::default())
        .await;
    assert!(matches!(out, Outcome::Published { .. }), "{out:?}");
    let m = fake.messages();
    assert_eq!(m.len(), 2);
    assert_eq!(m[0].kind, "photo");
    assert_eq!(
        m[0].caption.as_deref(),
        Some("Journée de l'enfance 🎈 يوم الطفل")
    );
    assert_eq!(m[0].file_name.as_deref(), Some("journee-enfance-2027.jpg"));
    assert_eq!(m[1].file_name, None, "sent again by file_id, not uploaded");
    assert_eq!(m[1].file_id, m[0].file_id);
}

#[tokio::test]
async fn telegram_video_is_streamed() {
    let fake = FakeTelegram::start().await.unwrap();
    let env = Env::new();
    let acc = tg_account(&fake, "-1001234567890");
    let p = tg(&env, &acc);
    let content = Content {
        text: "Capsule 3 : vivre ensemble 🎬".into(),
        media: vec![media("amal-capsule-3-vivre-ensemble.mp4", None)],
        ..Content::default()
    };
    let out = p
        .publish(&job(&acc, "o-v", "fr", content), &Saved::default())
        .await;
    let m = fake.messages();
    assert_eq!(
        out,
        Outcome::Published {
            remote_id: m[0].message_id.to_string(),
            url: Some(format!("https://t.me/c/1234567890/{}", m[0].message_id))
        }
    );
    assert_eq!(m[0].kind, "video");
    assert!(m[0].supports_streaming);
    let size = std::fs::metadata(media_path("amal-capsule-3-vivre-ensemble.mp4"))
        .unwrap()
        .len();
    assert_eq!(m[0].file_size as u64, size);
}

#[tokio::test]
async fn telegram_album_with_a_long_text_sends_the_text_as_a_reply() {
    let fake = FakeTelegram::start().await.unwrap();
    let env = Env::new();
    let acc = tg_account(&fake, "@berrah_test");
    let p = tg(&env, &acc);
    let text = long_text();
    let content = Content {
        text: text.clone(),
        media: vec![
            media("amal-ecole-pour-tous.jpg", Some("école")),
            media("amal-capsule-1-migrants.mp4", None),
            media("b7al-b7al-semaine.jpg", None),
        ],
        ..Content::default()
    };
    let saved = Saved::default();
    let out = p
        .publish(&job(&acc, "o-album", "ar", content), &saved)
        .await;
    assert!(matches!(out, Outcome::Published { .. }), "{out:?}");
    let m = fake.messages();
    assert_eq!(m.len(), 4);
    let group = m[0].media_group_id.clone();
    assert!(group.is_some());
    assert!(
        m[..3]
            .iter()
            .all(|x| x.media_group_id == group && x.caption.is_none())
    );
    assert_eq!(
        m.iter()
            .take(3)
            .map(|x| x.kind.as_str())
            .collect::<Vec<_>>(),
        ["photo", "video", "photo"]
    );
    assert!(m[1].supports_streaming);
    assert_eq!(m[3].text.as_deref(), Some(text.as_str()));
    assert_eq!(m[3].reply_to, Some(m[0].message_id));
    let last = saved.last();
    assert_eq!(
        last.extra.get("text_message"),
        Some(&m[3].message_id.to_string())
    );
    assert_eq!(last.media.len(), 3);
}

#[tokio::test]
async fn telegram_resumes_after_a_flood_wait_without_reposting_the_album() {
    let fake = FakeTelegram::start().await.unwrap();
    let env = Env::new();
    let acc = tg_account(&fake, "@berrah_test");
    let p = tg(&env, &acc);
    let content = Content {
        text: long_text(),
        media: vec![
            media("amal-capsule-1-miniature.jpg", None),
            media("amal-capsule-2-miniature.jpg", None),
        ],
        thread: vec!["suite 🧵".into()],
        ..Content::default()
    };
    fake.fail_next(
        Some("sendMessage"),
        ft::Fault::RateLimited { retry_after: 35 },
    );
    let saved = Saved::default();
    let mut j = job(&acc, "o-flood", "fr", content);
    let before = env.clock.now();
    let out = p.publish(&j, &saved).await;
    match &out {
        Outcome::Retry { at: Some(at), .. } => {
            assert!(
                *at >= before + jiff::SignedDuration::from_secs(35),
                "{out:?}"
            )
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(fake.messages().len(), 2, "the album went out");
    j.progress = saved.last();
    j.attempt = 2;
    let out = p.publish(&j, &saved).await;
    assert!(matches!(out, Outcome::Published { .. }), "{out:?}");
    assert_eq!(fake.count("sendMediaGroup"), 1);
    let m = fake.messages();
    assert_eq!(m.len(), 4);
    assert_eq!(m[2].reply_to, Some(m[0].message_id));
    assert_eq!(m[3].text.as_deref(), Some("suite 🧵"));
    assert_eq!(m[3].reply_to, Some(m[2].message_id));
}

#[tokio::test]
async fn telegram_dropped_or_slow_answers_are_unknown_never_resent() {
    let fake = FakeTelegram::start().await.unwrap();
    let mut env = Env::new();
    env.http = berrah::http::client_builder()
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let acc = tg_account(&fake, "@berrah_test");
    let p = tg(&env, &acc);
    let text = |t: &str| Content {
        text: t.into(),
        ..Content::default()
    };
    fake.fail_next(Some("sendMessage"), ft::Fault::DropAfterProcessing);
    let out = p
        .publish(&job(&acc, "o-d", "fr", text("coupé")), &Saved::default())
        .await;
    assert!(matches!(out, Outcome::Unknown { .. }), "{out:?}");
    assert_no_secret(&out, ft::DEFAULT_TOKEN);
    fake.fail_next(Some("sendMessage"), ft::Fault::Slow(Duration::from_secs(3)));
    let out = p
        .publish(&job(&acc, "o-s", "fr", text("lent")), &Saved::default())
        .await;
    assert!(matches!(out, Outcome::Unknown { .. }), "{out:?}");
    assert_no_secret(&out, ft::DEFAULT_TOKEN);
    fake.fail_next(Some("sendMessage"), ft::Fault::ServerError(500));
    let out = p
        .publish(&job(&acc, "o-5", "fr", text("500")), &Saved::default())
        .await;
    assert!(matches!(out, Outcome::Unknown { .. }), "{out:?}");
    assert_eq!(fake.count("sendMessage"), 3, "each sent once, never again");
}

#[tokio::test]
async fn telegram_error_classes() {
    let fake = FakeTelegram::start().await.unwrap();
    let env = Env::new();
    let acc = tg_account(&fake, "@berrah_test");
    let p = tg(&env, &acc);
    let text = |t: &str| Content {
        text: t.into(),
        ..Content::default()
    };

    // A revoked token: for an operator, and the token (in the URL path) never shown.
    fake.set_token("654321:NEW-token");
    let out = p
        .publish(&job(&acc, "o-1", "fr", text("a")), &Saved::default())
        .await;
    assert!(matches!(out, Outcome::NeedsOperator { .. }), "{out:?}");
    assert_no_secret(&out, ft::DEFAULT_TOKEN);
    // A token rotated in the credentials file: renewed once, published.
    let rotating = Arc::new(Rotating {
        current: Mutex::new(ft::DEFAULT_TOKEN.into()),
        next: "654321:NEW-token".into(),
        renewals: Mutex::new(0),
    });
    let p2 = berrah::platforms::build(env.deps(&acc, rotating.clone()));
    let out = p2
        .publish(&job(&acc, "o-2", "fr", text("b")), &Saved::default())
        .await;
    assert!(matches!(out, Outcome::Published { .. }), "{out:?}");
    assert_eq!(*rotating.renewals.lock().unwrap(), 1);
    fake.set_token(ft::DEFAULT_TOKEN);

    fake.fail_next(None, ft::Fault::BotRemoved);
    let out = p
        .publish(&job(&acc, "o-3", "fr", text("c")), &Saved::default())
        .await;
    assert!(
        matches!(&out, Outcome::NeedsOperator { reason } if reason.contains("administrator")),
        "{out:?}"
    );
    fake.fail_next(None, ft::Fault::NotAdmin);
    let out = p
        .publish(&job(&acc, "o-4", "fr", text("d")), &Saved::default())
        .await;
    assert!(matches!(out, Outcome::NeedsOperator { .. }), "{out:?}");

    // A wrong channel: the handle is named.
    let wrong = tg_account(&fake, "@another_channel");
    let out = tg(&env, &wrong)
        .publish(&job(&wrong, "o-5", "fr", text("e")), &Saved::default())
        .await;
    assert!(
        matches!(&out, Outcome::Failed { reason } if reason.contains("handle")),
        "{out:?}"
    );

    // Too long for Telegram: refused before anything is sent.
    let sent = fake.count("sendMessage");
    let long = "é".repeat(4097);
    let out = p
        .publish(&job(&acc, "o-6", "fr", text(&long)), &Saved::default())
        .await;
    assert!(
        matches!(&out, Outcome::Failed { reason } if reason.contains("1 over")),
        "{out:?}"
    );
    assert_eq!(fake.count("sendMessage"), sent);

    // An upload over the limit: 413, permanent, actionable.
    fake.set_upload_limits(1000, 1000);
    let photo = Content {
        text: "photo".into(),
        media: vec![media("b7al-b7al-lancement.jpg", None)],
        ..Content::default()
    };
    let out = p
        .publish(&job(&acc, "o-7", "fr", photo), &Saved::default())
        .await;
    assert!(
        matches!(&out, Outcome::Failed { reason } if reason.contains("smaller")),
        "{out:?}"
    );

    // A handle without `@` works; a 502 on a send is unknown (may be published).
    let bad = tg_account(&fake, "berrah_test");
    fake.fail_next(None, ft::Fault::ServerError(502));
    let out = tg(&env, &bad)
        .publish(&job(&bad, "o-8", "fr", text("f")), &Saved::default())
        .await;
    assert!(matches!(out, Outcome::Unknown { .. }), "{out:?}");
    assert!(
        fake.messages()
            .iter()
            .all(|m| m.text.as_deref() != Some("c"))
    );
}

#[tokio::test]
async fn telegram_forgotten_file_id_is_uploaded_again() {
    let fake = FakeTelegram::start().await.unwrap();
    let env = Env::new();
    let acc = tg_account(&fake, "@berrah_test");
    let p = tg(&env, &acc);
    let path = media_path("amal-activites-interculturelles.jpg");
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
        std::fs::read(&path).unwrap(),
    ));
    use berrah::media::UploadCache;
    env.uploads
        .put("acct", &sha, "AgAC-unknown-to-this-bot", None)
        .await;
    let content = Content {
        text: "Activités interculturelles 🤝 أنشطة".into(),
        media: vec![media("amal-activites-interculturelles.jpg", None)],
        ..Content::default()
    };
    let saved = Saved::default();
    let out = p.publish(&job(&acc, "o-fid", "fr", content), &saved).await;
    assert!(matches!(out, Outcome::Published { .. }), "{out:?}");
    let m = fake.messages();
    assert_eq!(m.len(), 1);
    assert_eq!(
        m[0].file_name.as_deref(),
        Some("amal-activites-interculturelles.jpg")
    );
    assert_eq!(saved.last().media.get(&sha), m[0].file_id.as_ref());
    assert_eq!(env.uploads.get("acct", &sha).await, m[0].file_id);
}
