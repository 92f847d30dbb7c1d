//! Mastodon and Telegram against their fake servers.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use berrah::auth::{AuthError, Credentials, StaticCredentials};
use berrah::config::AccountConfig;
use berrah::fakes::mastodon::{self as fm, FakeMastodon};
use berrah::media::MemoryUploadCache;
use berrah::plan::{Content, MediaRef};
use berrah::platforms::{
    Checkpoint, CheckpointError, Idempotency, Outcome, Platform, PlatformDeps, Progress, PublishJob,
};
use berrah::time::{BoxFuture, Clock};
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
    // The French post uploads, then the status fails permanently (too long).
    fake.fail_next(fm::Endpoint::Statuses, fm::Fault::ServerError(500));
    let out = p
        .publish(
            &job(&acc, "o-fr", "fr", photo("Une semaine")),
            &Saved::default(),
        )
        .await;
    assert!(matches!(out, Outcome::Retry { .. }), "{out:?}");
    // The Arabic post finds the upload in the cache and corrects its alt text.
    let out = p
        .publish(&job(&acc, "o-ar", "ar", photo("أسبوع")), &Saved::default())
        .await;
    assert!(matches!(out, Outcome::Published { .. }), "{out:?}");
    assert_eq!(fake.count("POST", "/api/v2/media"), 1);
    assert_eq!(fake.media()[0].description.as_deref(), Some("أسبوع"));
    // The French retry finds it attached (404) and uploads again.
    let out = p
        .publish(
            &job(&acc, "o-fr", "fr", photo("Une semaine")),
            &Saved::default(),
        )
        .await;
    assert!(matches!(out, Outcome::Published { .. }), "{out:?}");
    assert_eq!(fake.count("POST", "/api/v2/media"), 2);
    let statuses = fake.statuses();
    assert_ne!(statuses[0].media_ids, statuses[1].media_ids);
}
