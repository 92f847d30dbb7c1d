//! X and YouTube against their fake servers.
//!
//! Every request berrah sends to the fake X is validated against X's own
//! OpenAPI description; each X test ends with [`assert_spec_clean`].

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use berrah::auth::{AuthError, Credentials, StaticCredentials};
use berrah::config::AccountConfig;
use berrah::media::MemoryUploadCache;
use berrah::plan::{Content, MediaRef};
use berrah::platforms::{
    Checkpoint, CheckpointError, Idempotency, Outcome, PlatformDeps, Progress, PublishJob,
};
use berrah::time::{BoxFuture, Clock};
use berrah_fakes::x::FakeX;
use jiff::Timestamp;
use secrecy::{ExposeSecret, SecretString};

// ---------------------------------------------------------------- support

/// A clock that jumps to any deadline it is asked to sleep until.
struct TestClock(Mutex<Timestamp>);

impl TestClock {
    fn new() -> Arc<TestClock> {
        Arc::new(TestClock(Mutex::new(
            "2026-12-18T09:00:00Z".parse().unwrap(),
        )))
    }
}

impl Clock for TestClock {
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

/// Keeps every saved progress.
#[derive(Default)]
struct Saved(Mutex<Vec<Progress>>);

impl Saved {
    fn all(&self) -> Vec<Progress> {
        self.0.lock().unwrap().clone()
    }
    fn last(&self) -> Progress {
        self.all().last().cloned().unwrap_or_default()
    }
}

#[async_trait]
impl Checkpoint for Saved {
    async fn save(&self, progress: &Progress) -> Result<(), CheckpointError> {
        self.0.lock().unwrap().push(progress.clone());
        Ok(())
    }
}

/// Credentials whose current secret was revoked; renewing gives `fresh`.
struct Renewing {
    stale: &'static str,
    fresh: &'static str,
    renewals: AtomicU32,
}

#[async_trait]
impl Credentials for Renewing {
    async fn secret(&self) -> Result<SecretString, AuthError> {
        Ok(SecretString::from(self.stale))
    }
    async fn renew_rejected(&self, rejected: &SecretString) -> Result<SecretString, AuthError> {
        assert_eq!(rejected.expose_secret(), self.stale);
        self.renewals.fetch_add(1, Ordering::SeqCst);
        Ok(SecretString::from(self.fresh))
    }
}

fn account(toml_text: &str) -> Arc<AccountConfig> {
    Arc::new(toml::from_str(toml_text).unwrap())
}

fn deps_with(
    account: Arc<AccountConfig>,
    credentials: Arc<dyn Credentials>,
    clock: Arc<TestClock>,
) -> PlatformDeps {
    PlatformDeps {
        account_id: "acct".to_string(),
        account,
        credentials,
        http: berrah::http::client(),
        uploads: Arc::new(MemoryUploadCache::default()),
        clock,
    }
}

fn token(t: &'static str) -> Arc<dyn Credentials> {
    Arc::new(StaticCredentials(SecretString::from(t)))
}

fn job(account: Arc<AccountConfig>, language: &str, content: Content) -> PublishJob {
    PublishJob {
        occurrence_id: "occ-1".to_string(),
        attempt: 1,
        account_id: "acct".to_string(),
        account,
        language: language.to_string(),
        content,
        progress: Progress::default(),
        due: "2026-12-18T09:00:00Z".parse().unwrap(),
    }
}

fn media(path: &Path, alt: Option<&str>) -> MediaRef {
    MediaRef {
        file: path.file_name().unwrap().to_string_lossy().into_owned(),
        path: path.to_path_buf(),
        alt: alt.map(str::to_string),
        thumbnail: None,
    }
}

/// A PNG of `extra` padding bytes after a valid header (sniffed and measured).
fn png_file(dir: &Path, name: &str, extra: usize) -> PathBuf {
    let mut v = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    v.extend_from_slice(&13u32.to_be_bytes());
    v.extend_from_slice(b"IHDR");
    v.extend_from_slice(&1200u32.to_be_bytes());
    v.extend_from_slice(&675u32.to_be_bytes());
    v.extend_from_slice(&[8, 6, 0, 0, 0]);
    v.extend_from_slice(&[0, 0, 0, 0]);
    v.extend((0..extra).map(|i| (i * 31 % 251) as u8));
    v.extend_from_slice(&0u32.to_be_bytes());
    v.extend_from_slice(b"IEND");
    v.extend_from_slice(&[0xAE, 0x42, 0x60, 0x82]);
    let p = dir.join(name);
    std::fs::write(&p, v).unwrap();
    p
}

/// A real MP4 of the example campaign, followed by a `free` box of `pad`
/// bytes (valid MP4, skipped by readers) to make it span several chunks.
fn mp4_file(dir: &Path, name: &str, pad: u32) -> PathBuf {
    let src =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("campaigns/media/amal-capsule-1-migrants.mp4");
    let mut v = std::fs::read(src).unwrap();
    v.extend_from_slice(&(pad + 8).to_be_bytes());
    v.extend_from_slice(b"free");
    v.extend((0..pad).map(|i| (i % 253) as u8));
    let p = dir.join(name);
    std::fs::write(&p, v).unwrap();
    p
}

// ---------------------------------------------------------------- X

fn x_account(fake: &FakeX, extra: &str) -> Arc<AccountConfig> {
    account(&format!(
        "platform = \"x\"\nhandle = \"OIM_Maroc\"\nbase_url = \"{}\"\ncredentials = \"env:X\"\n{extra}",
        fake.url()
    ))
}

fn x_client(
    fake: &FakeX,
    extra: &str,
) -> (
    Box<dyn berrah::platforms::Platform>,
    Arc<AccountConfig>,
    Arc<TestClock>,
) {
    let acct = x_account(fake, extra);
    let clock = TestClock::new();
    let p = berrah::platforms::x::build(deps_with(acct.clone(), token("x-token"), clock.clone()));
    (p, acct, clock)
}

/// Every request was checked against X's OpenAPI description and none failed.
fn assert_spec_clean(fake: &FakeX) {
    let st = fake.lock();
    assert!(st.violations.is_empty(), "{:#?}", st.violations);
    assert!(st.validated > 0);
    assert!(
        st.requests.iter().all(|r| r.token.as_deref().is_some()),
        "a request went without a token"
    );
    // The fake's own answers have the shapes the description gives.
    let spec = berrah_fakes::x::OpenApi::locate().unwrap();
    for (method, template, status, body) in &st.answers {
        let schema = spec
            .response_schema(method, template, *status)
            .unwrap_or_else(|| panic!("no {status} answer for {method} {template}"));
        let errors = spec.validate(schema, body, "answer");
        assert!(errors.is_empty(), "{method} {template}: {errors:?}");
    }
}

#[tokio::test]
async fn x_thread_with_images_alt_texts_and_first_comment() {
    let fake = FakeX::start().await.unwrap();
    let (x, acct, _) = x_client(&fake, "");
    assert_eq!(x.idempotency(), Idempotency::None);
    let dir = tempfile::tempdir().unwrap();
    let a = png_file(dir.path(), "a.png", 3000);
    let b = png_file(dir.path(), "b.png", 5000);
    let content = Content {
        text: "اليوم الدولي للمهاجرين 🌍 اكتشفوا سلسلة \"أمل\" https://morocco.iom.int/ar".into(),
        media: vec![
            media(&a, Some("أطفال خلال نشاط ثقافي")),
            media(&b, Some("Des jeunes lors d'un atelier de théâtre 🎭")),
        ],
        thread: vec![
            "Le programme AMAL agit à Oujda, Tanger, Casablanca et Rabat 👧🏽👦🏿".into(),
            "Deuxième réponse du fil, avec des accents : é, è, ç, à.".into(),
        ],
        first_comment: Some("La web série AMAL est portée par l'OIM, le HCR et l'UNICEF.".into()),
        ..Content::default()
    };
    let saved = Saved::default();
    let outcome = x.publish(&job(acct, "ar", content.clone()), &saved).await;
    let Outcome::Published { remote_id, url } = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(
        url.as_deref(),
        Some(format!("https://x.com/OIM_Maroc/status/{remote_id}").as_str())
    );
    let st = fake.lock();
    assert_eq!(st.posts.len(), 4);
    let main = &st.posts[0];
    assert_eq!(main.id, remote_id);
    assert_eq!(main.text, content.text);
    assert_eq!(main.media_ids.len(), 2);
    // The thread is a chain; the first comment answers the post itself.
    assert_eq!(st.posts[1].reply_to.as_deref(), Some(main.id.as_str()));
    assert_eq!(
        st.posts[2].reply_to.as_deref(),
        Some(st.posts[1].id.as_str())
    );
    assert_eq!(st.posts[3].reply_to.as_deref(), Some(main.id.as_str()));
    assert_eq!(st.posts[3].text, content.first_comment.clone().unwrap());
    // Both images uploaded whole, with their alt texts.
    let up = &st.uploads[&main.media_ids[0]];
    assert_eq!(up.bytes(), std::fs::read(&a).unwrap());
    assert_eq!(up.category, "tweet_image");
    assert_eq!(up.alt_text.as_deref(), Some("أطفال خلال نشاط ثقافي"));
    assert_eq!(
        st.uploads[&main.media_ids[1]].alt_text.as_deref(),
        Some("Des jeunes lors d'un atelier de théâtre 🎭")
    );
    drop(st);
    // Every step was checkpointed: media, post, each reply, the comment.
    let last = saved.last();
    assert_eq!(last.remote_id.as_deref(), Some(remote_id.as_str()));
    assert_eq!(last.thread.len(), 2);
    assert!(last.first_comment.is_some());
    assert_eq!(last.media.len(), 2);
    let first_with_post = saved
        .all()
        .iter()
        .position(|p| p.remote_id.is_some())
        .unwrap();
    assert!(
        saved.all()[..first_with_post]
            .iter()
            .any(|p| p.media.len() == 2)
    );
    assert_spec_clean(&fake);
}

#[tokio::test]
async fn x_video_is_uploaded_in_chunks_and_waited_for() {
    let fake = FakeX::start().await.unwrap();
    fake.lock().faults.processing_polls = 3;
    let (x, acct, clock) = x_client(&fake, "options = { chunk_size = 262144 }");
    let dir = tempfile::tempdir().unwrap();
    let video = mp4_file(dir.path(), "capsule.mp4", 600_000);
    let start = clock.now();
    let content = Content {
        text: "Capsule n°1 de la web série AMAL 🎬".into(),
        media: vec![media(&video, None)],
        ..Content::default()
    };
    let saved = Saved::default();
    let outcome = x
        .publish(&job(acct.clone(), "fr", content.clone()), &saved)
        .await;
    assert!(matches!(outcome, Outcome::Published { .. }), "{outcome:?}");
    {
        let st = fake.lock();
        let id = &st.posts[0].media_ids[0];
        let up = &st.uploads[id];
        assert_eq!(up.category, "tweet_video");
        assert_eq!(up.media_type, "video/mp4");
        assert_eq!(up.segments.len(), 3);
        assert_eq!(up.bytes(), std::fs::read(&video).unwrap());
        let polls = st
            .requests
            .iter()
            .filter(|r| r.method == "GET" && r.path == "/2/media/upload")
            .count();
        assert_eq!(polls, 4, "three in_progress answers, then succeeded");
    }
    // It waited check_after_secs on the injected clock between polls.
    assert!(clock.now() >= start + jiff::SignedDuration::from_secs(6));
    // A second post with the same file reuses the upload (cache), no new INIT.
    let inits_before = fake.lock().uploads.len();
    let mut second = job(
        acct,
        "fr",
        Content {
            text: "Deuxième diffusion".into(),
            ..content
        },
    );
    second.occurrence_id = "occ-2".into();
    let outcome = x.publish(&second, &Saved::default()).await;
    assert!(matches!(outcome, Outcome::Published { .. }), "{outcome:?}");
    assert_eq!(fake.lock().uploads.len(), inits_before);
    assert_spec_clean(&fake);
}

#[tokio::test]
async fn x_failed_processing_is_permanent() {
    let fake = FakeX::start().await.unwrap();
    {
        let mut st = fake.lock();
        st.faults.processing_polls = 1;
        st.faults.processing_fails = true;
    }
    let (x, acct, _) = x_client(&fake, "");
    let dir = tempfile::tempdir().unwrap();
    let video = mp4_file(dir.path(), "bad.mp4", 10);
    let content = Content {
        text: "vidéo".into(),
        media: vec![media(&video, None)],
        ..Content::default()
    };
    let outcome = x
        .publish(&job(acct, "fr", content), &Saved::default())
        .await;
    let Outcome::Failed { reason } = outcome else {
        panic!("{outcome:?}")
    };
    assert!(
        reason.contains("could not process") && reason.contains("bad.mp4"),
        "{reason}"
    );
    assert!(fake.lock().posts.is_empty());
    assert_spec_clean(&fake);
}

#[tokio::test]
async fn x_refuses_a_video_mixed_with_images_before_uploading() {
    let fake = FakeX::start().await.unwrap();
    let (x, acct, _) = x_client(&fake, "");
    let dir = tempfile::tempdir().unwrap();
    let content = Content {
        text: "mélange".into(),
        media: vec![
            media(&png_file(dir.path(), "a.png", 10), None),
            media(&mp4_file(dir.path(), "v.mp4", 10), None),
        ],
        ..Content::default()
    };
    let outcome = x
        .publish(&job(acct, "fr", content), &Saved::default())
        .await;
    let Outcome::Failed { reason } = outcome else {
        panic!("{outcome:?}")
    };
    assert!(reason.contains("v.mp4"), "{reason}");
    assert!(fake.lock().requests.is_empty());
}

#[tokio::test]
async fn x_text_over_280_weighted_fails_before_any_call() {
    let fake = FakeX::start().await.unwrap();
    let (x, acct, _) = x_client(&fake, "");
    // 141 Arabic letters weigh 1 each... but 141 emoji weigh 2 each: 282.
    let content = Content {
        text: "🌍".repeat(141),
        ..Content::default()
    };
    let outcome = x
        .publish(&job(acct.clone(), "ar", content), &Saved::default())
        .await;
    let Outcome::Failed { reason } = outcome else {
        panic!("{outcome:?}")
    };
    assert!(reason.contains("282 weighted characters"), "{reason}");
    // A thread reply over the limit is caught before the post goes out.
    let content = Content {
        text: "Bonjour".into(),
        thread: vec!["漢".repeat(141)],
        ..Content::default()
    };
    let outcome = x
        .publish(&job(acct, "fr", content), &Saved::default())
        .await;
    assert!(matches!(outcome, Outcome::Failed { .. }), "{outcome:?}");
    assert!(fake.lock().requests.is_empty());
}

#[tokio::test]
async fn x_resumes_a_thread_from_saved_progress() {
    let fake = FakeX::start().await.unwrap();
    let (x, acct, _) = x_client(&fake, "");
    let content = Content {
        text: "Premier".into(),
        thread: vec!["Deuxième".into(), "Troisième".into()],
        ..Content::default()
    };
    // A first attempt published the post and the first reply, then died.
    let saved = Saved::default();
    let first = x
        .publish(
            &job(
                acct.clone(),
                "fr",
                Content {
                    thread: vec![],
                    ..content.clone()
                },
            ),
            &saved,
        )
        .await;
    let Outcome::Published { remote_id, .. } = first else {
        panic!("{first:?}")
    };
    let reply_id = {
        let mut st = fake.lock();
        let reply = berrah_fakes::x::XPost {
            id: "1870000000000000999".into(),
            text: "Deuxième".into(),
            media_ids: vec![],
            reply_to: Some(remote_id.clone()),
        };
        st.posts.push(reply.clone());
        reply.id
    };
    let mut again = job(acct, "fr", content);
    again.attempt = 2;
    again.progress = Progress {
        remote_id: Some(remote_id.clone()),
        url: None,
        thread: vec![reply_id.clone()],
        ..Progress::default()
    };
    let outcome = x.publish(&again, &saved).await;
    assert!(matches!(outcome, Outcome::Published { .. }), "{outcome:?}");
    let st = fake.lock();
    assert_eq!(st.posts.len(), 3, "only the missing reply was sent");
    assert_eq!(st.posts[2].text, "Troisième");
    assert_eq!(st.posts[2].reply_to.as_deref(), Some(reply_id.as_str()));
    drop(st);
    assert_spec_clean(&fake);
}

#[tokio::test]
async fn x_duplicate_content_is_failed_with_a_clear_message() {
    let fake = FakeX::start().await.unwrap();
    let (x, acct, _) = x_client(&fake, "");
    let content = Content {
        text: "Même texte, deux fois ✨".into(),
        ..Content::default()
    };
    let first = x
        .publish(&job(acct.clone(), "fr", content.clone()), &Saved::default())
        .await;
    assert!(matches!(first, Outcome::Published { .. }));
    let outcome = x
        .publish(&job(acct, "fr", content), &Saved::default())
        .await;
    let Outcome::Failed { reason } = outcome else {
        panic!("{outcome:?}")
    };
    assert!(
        reason.contains("duplicate") && reason.contains("change the text"),
        "{reason}"
    );
    assert_spec_clean(&fake);
}

#[tokio::test]
async fn x_rate_limit_retries_at_reset_and_then_waits_without_calling() {
    let fake = FakeX::start().await.unwrap();
    fake.lock().faults.rate_limited = 1;
    let reset = fake.lock().reset;
    let (x, acct, _) = x_client(&fake, "");
    let content = Content {
        text: "Limité".into(),
        ..Content::default()
    };
    let outcome = x
        .publish(&job(acct.clone(), "fr", content.clone()), &Saved::default())
        .await;
    // The 24-hour user budget is spent: its reset, not the 15-minute one.
    let Outcome::Retry { at, .. } = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(at, Timestamp::from_second(reset + 3600).ok());
    // The client remembers remaining = 0 until the reset: no request is spent.
    let before = fake.lock().requests.len();
    let outcome = x
        .publish(&job(acct, "fr", content), &Saved::default())
        .await;
    let Outcome::Retry { at, .. } = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(at, Timestamp::from_second(reset).ok());
    assert_eq!(fake.lock().requests.len(), before);
    assert_spec_clean(&fake);
}

#[tokio::test]
async fn x_revoked_token_is_renewed_once_then_needs_an_operator() {
    let fake = FakeX::start().await.unwrap();
    let acct = x_account(&fake, "");
    let creds = Arc::new(Renewing {
        stale: "revoked",
        fresh: "x-token",
        renewals: AtomicU32::new(0),
    });
    let x = berrah::platforms::x::build(deps_with(acct.clone(), creds.clone(), TestClock::new()));
    let content = Content {
        text: "Après renouvellement".into(),
        ..Content::default()
    };
    let outcome = x
        .publish(&job(acct.clone(), "fr", content), &Saved::default())
        .await;
    assert!(matches!(outcome, Outcome::Published { .. }), "{outcome:?}");
    assert_eq!(creds.renewals.load(Ordering::SeqCst), 1);
    // A token that nothing can renew: held for an operator, never a secret in the reason.
    let x = berrah::platforms::x::build(deps_with(acct.clone(), token("gone"), TestClock::new()));
    let content = Content {
        text: "Refusé".into(),
        ..Content::default()
    };
    let outcome = x
        .publish(&job(acct, "fr", content), &Saved::default())
        .await;
    let Outcome::NeedsOperator { reason } = outcome else {
        panic!("{outcome:?}")
    };
    assert!(
        reason.contains("accounts login") && !reason.contains("gone"),
        "{reason}"
    );
    assert_eq!(fake.lock().posts.len(), 1);
}

#[tokio::test]
async fn x_dropped_connection_after_create_is_unknown_and_server_errors_too() {
    let fake = FakeX::start().await.unwrap();
    fake.lock().faults.drop_after_create = 1;
    let (x, acct, _) = x_client(&fake, "");
    let content = Content {
        text: "Perdu en route".into(),
        ..Content::default()
    };
    let saved = Saved::default();
    let outcome = x.publish(&job(acct.clone(), "fr", content), &saved).await;
    assert!(matches!(outcome, Outcome::Unknown { .. }), "{outcome:?}");
    // It did go out, and nothing was claimed as published.
    assert_eq!(fake.lock().posts.len(), 1);
    assert!(saved.all().iter().all(|p| p.remote_id.is_none()));
    fake.lock().faults.server_error = 1;
    let content = Content {
        text: "Serveur en panne".into(),
        ..Content::default()
    };
    let outcome = x
        .publish(&job(acct, "fr", content), &Saved::default())
        .await;
    let Outcome::Unknown { reason } = outcome else {
        panic!("{outcome:?}")
    };
    assert!(reason.contains("503"), "{reason}");
}

#[tokio::test]
async fn x_permission_errors_are_classified() {
    let fake = FakeX::start().await.unwrap();
    let (x, acct, _) = x_client(&fake, "");
    // App not allowed to post: the operator must act, posts are held.
    fake.lock().faults.client_forbidden = 1;
    let c = |t: &str| Content {
        text: t.into(),
        ..Content::default()
    };
    let outcome = x
        .publish(&job(acct.clone(), "fr", c("a")), &Saved::default())
        .await;
    assert!(
        matches!(outcome, Outcome::NeedsOperator { .. }),
        "{outcome:?}"
    );
    fake.lock().faults.payment_required = 1;
    let outcome = x
        .publish(&job(acct.clone(), "fr", c("b")), &Saved::default())
        .await;
    let Outcome::NeedsOperator { reason } = outcome else {
        panic!("{outcome:?}")
    };
    assert!(reason.contains("credits"), "{reason}");
    // A reply X does not permit: the post is out, the failure says where.
    fake.lock().faults.forbid_replies = 1;
    let content = Content {
        text: "Post".into(),
        thread: vec!["Réponse".into()],
        ..Content::default()
    };
    let saved = Saved::default();
    let outcome = x.publish(&job(acct, "fr", content), &saved).await;
    let Outcome::Failed { reason } = outcome else {
        panic!("{outcome:?}")
    };
    let id = saved.last().remote_id.unwrap();
    assert!(
        reason.contains(&format!("/status/{id}")) && reason.contains("403"),
        "{reason}"
    );
    assert_spec_clean(&fake);
}

// ---------------------------------------------------------------- YouTube

use berrah::platforms::youtube::{FINAL_SENT_KEY, SESSION_KEY, THUMBNAIL_KEY};
use berrah_fakes::youtube::FakeYouTube;

fn yt_account(fake: &FakeYouTube, extra: &str) -> Arc<AccountConfig> {
    account(&format!(
        "platform = \"youtube\"\nhandle = \"UNICEFMaroc\"\nbase_url = \"{}\"\ncredentials = \"env:YT\"\n{extra}",
        fake.url()
    ))
}

fn yt_client(
    fake: &FakeYouTube,
    extra: &str,
) -> (
    Box<dyn berrah::platforms::Platform>,
    Arc<AccountConfig>,
    Arc<TestClock>,
) {
    let acct = yt_account(fake, extra);
    let clock = TestClock::new();
    let p = berrah::platforms::youtube::build(deps_with(
        acct.clone(),
        token("yt-token"),
        clock.clone(),
    ));
    (p, acct, clock)
}

fn jpeg_file(dir: &Path, name: &str) -> PathBuf {
    let src =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("campaigns/media/amal-capsule-1-miniature.jpg");
    let p = dir.join(name);
    std::fs::copy(src, &p).unwrap();
    p
}

fn capsule(video: &Path, thumbnail: Option<PathBuf>) -> Content {
    Content {
        text: "AMAL, capsule 1 🎬\nLa parole aux enfants et jeunes réfugiés et migrants du Maroc."
            .into(),
        title: Some(
            "AMAL, capsule 1 : enfants et jeunes réfugiés et migrants face à la COVID-19".into(),
        ),
        description: Some("Première capsule de la web série AMAL — برنامج \"أمل\" 🌍".into()),
        media: vec![MediaRef {
            thumbnail,
            ..media(video, None)
        }],
        ..Content::default()
    }
}

fn assert_protocol_clean(fake: &FakeYouTube) {
    let st = fake.lock();
    assert!(st.violations.is_empty(), "{:#?}", st.violations);
}

#[tokio::test]
async fn youtube_upload_in_chunks_with_metadata_and_thumbnail() {
    let fake = FakeYouTube::start().await.unwrap();
    let (yt, acct, _) = yt_client(
        &fake,
        "options = { privacy = \"unlisted\", chunk_size = 262144, category = 29, tags = [\"AMAL\", \"UNICEF\"] }",
    );
    assert_eq!(yt.idempotency(), Idempotency::Queryable);
    let dir = tempfile::tempdir().unwrap();
    let video = mp4_file(dir.path(), "capsule.mp4", 700_000);
    let thumb = jpeg_file(dir.path(), "mini.jpg");
    let saved = Saved::default();
    let outcome = yt
        .publish(
            &job(acct, "fr", capsule(&video, Some(thumb.clone()))),
            &saved,
        )
        .await;
    let Outcome::Published { remote_id, url } = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(
        url,
        Some(format!("https://www.youtube.com/watch?v={remote_id}"))
    );
    let st = fake.lock();
    assert_eq!(st.videos.len(), 1);
    let v = &st.videos[0];
    assert_eq!(v.id, remote_id);
    assert_eq!(v.bytes, std::fs::read(&video).unwrap());
    assert_eq!(
        v.snippet["title"],
        "AMAL, capsule 1 : enfants et jeunes réfugiés et migrants face à la COVID-19"
    );
    assert_eq!(
        v.snippet["description"],
        "Première capsule de la web série AMAL — برنامج \"أمل\" 🌍"
    );
    assert_eq!(v.snippet["defaultLanguage"], "fr");
    assert_eq!(v.snippet["categoryId"], "29");
    assert_eq!(v.snippet["tags"], serde_json::json!(["AMAL", "UNICEF"]));
    assert_eq!(v.status["privacyStatus"], "unlisted");
    assert!(v.status.get("publishAt").is_none());
    // 725 KB in 256 KiB chunks: three PUTs with byte ranges.
    let puts: Vec<_> = st
        .requests
        .iter()
        .filter(|r| r.method == "PUT")
        .map(|r| r.content_range.clone().unwrap())
        .collect();
    assert_eq!(puts.len(), 3, "{puts:?}");
    assert!(puts[0].starts_with("bytes 0-262143/"));
    assert_eq!(st.thumbnails[&remote_id].1, std::fs::read(&thumb).unwrap());
    drop(st);
    // The session was saved before any byte was sent.
    let all = saved.all();
    assert!(all[0].extra.contains_key(SESSION_KEY));
    let last = saved.last();
    assert_eq!(last.remote_id.as_deref(), Some(remote_id.as_str()));
    assert!(!last.extra.contains_key(SESSION_KEY));
    assert_eq!(
        last.extra.get(THUMBNAIL_KEY).map(String::as_str),
        Some("set")
    );
    assert_protocol_clean(&fake);
}

#[tokio::test]
async fn youtube_interrupted_upload_resumes_from_the_servers_offset() {
    let fake = FakeYouTube::start().await.unwrap();
    fake.lock().faults.interrupt_at = Some(300_000);
    let (yt, acct, _) = yt_client(&fake, "options = { chunk_size = 524288 }");
    let dir = tempfile::tempdir().unwrap();
    let video = mp4_file(dir.path(), "capsule.mp4", 700_000);
    let total = std::fs::metadata(&video).unwrap().len();
    let outcome = yt
        .publish(&job(acct, "fr", capsule(&video, None)), &Saved::default())
        .await;
    assert!(matches!(outcome, Outcome::Published { .. }), "{outcome:?}");
    let st = fake.lock();
    assert_eq!(st.videos.len(), 1);
    assert_eq!(st.videos[0].bytes, std::fs::read(&video).unwrap());
    let ranges: Vec<String> = st
        .requests
        .iter()
        .filter(|r| r.method == "PUT")
        .map(|r| r.content_range.clone().unwrap())
        .collect();
    // The first chunk broke at 300,000 bytes; the status query said so; the
    // upload resumed exactly there.
    assert_eq!(ranges[0], format!("bytes 0-524287/{total}"));
    assert_eq!(ranges[1], format!("bytes */{total}"));
    assert!(ranges[2].starts_with("bytes 300000-"), "{ranges:?}");
    drop(st);
    assert_protocol_clean(&fake);
}

#[tokio::test]
async fn youtube_resolve_after_a_crash_asks_the_session() {
    let fake = FakeYouTube::start().await.unwrap();
    // The last chunk arrives, the answer is lost, and the session cannot be
    // asked for now: the attempt ends with its session saved.
    {
        let mut st = fake.lock();
        st.faults.drop_final_answer = true;
        st.faults.query_unavailable = 10;
    }
    let (yt, acct, _) = yt_client(&fake, "");
    let dir = tempfile::tempdir().unwrap();
    let video = mp4_file(dir.path(), "capsule.mp4", 1000);
    let saved = Saved::default();
    let mut j = job(acct.clone(), "fr", capsule(&video, None));
    let outcome = yt.publish(&j, &saved).await;
    assert!(matches!(outcome, Outcome::Retry { .. }), "{outcome:?}");
    let progress = saved.last();
    assert!(progress.extra.contains_key(SESSION_KEY));
    assert!(progress.extra.contains_key(FINAL_SENT_KEY));
    assert_eq!(fake.lock().videos.len(), 1);
    // After the "crash", the queue asks: the session replays the final answer.
    fake.lock().faults.query_unavailable = 0;
    j.progress = progress.clone();
    let resolved = yt.resolve(&j).await;
    let video_id = fake.lock().videos[0].id.clone();
    assert_eq!(
        resolved,
        Some(Outcome::Published {
            remote_id: video_id.clone(),
            url: Some(format!("https://www.youtube.com/watch?v={video_id}")),
        })
    );
    // Publishing again (instead of resolving) also adopts it: no second video.
    let outcome = yt.publish(&j, &Saved::default()).await;
    assert_eq!(
        outcome,
        Outcome::Published {
            remote_id: video_id.clone(),
            url: Some(format!("https://www.youtube.com/watch?v={video_id}")),
        }
    );
    assert_eq!(fake.lock().videos.len(), 1);
    // No session saved: nothing to ask.
    let fresh = job(acct, "fr", capsule(&video, None));
    assert_eq!(yt.resolve(&fresh).await, None);
    assert_protocol_clean(&fake);
}

#[tokio::test]
async fn youtube_resolve_of_a_partial_upload_resumes_it() {
    let fake = FakeYouTube::start().await.unwrap();
    {
        let mut st = fake.lock();
        st.faults.interrupt_at = Some(262_144);
        st.faults.query_unavailable = 10;
    }
    let (yt, acct, _) = yt_client(&fake, "options = { chunk_size = 524288 }");
    let dir = tempfile::tempdir().unwrap();
    let video = mp4_file(dir.path(), "capsule.mp4", 700_000);
    let saved = Saved::default();
    let mut j = job(acct, "ar", capsule(&video, None));
    let outcome = yt.publish(&j, &saved).await;
    assert!(matches!(outcome, Outcome::Retry { .. }), "{outcome:?}");
    fake.lock().faults.query_unavailable = 0;
    j.progress = saved.last();
    let resolved = yt.resolve(&j).await;
    let Some(Outcome::Retry { reason, .. }) = resolved else {
        panic!("{resolved:?}")
    };
    assert!(reason.contains("byte 262144"), "{reason}");
    j.attempt = 2;
    let outcome = yt.publish(&j, &Saved::default()).await;
    assert!(matches!(outcome, Outcome::Published { .. }), "{outcome:?}");
    let st = fake.lock();
    assert_eq!(st.videos.len(), 1);
    assert_eq!(st.videos[0].bytes, std::fs::read(&video).unwrap());
    assert_eq!(
        st.sessions.len(),
        1,
        "the saved session was resumed, not a new one"
    );
    drop(st);
    assert_protocol_clean(&fake);
}

#[tokio::test]
async fn youtube_expired_session_restarts_unless_its_last_bytes_were_sent() {
    let fake = FakeYouTube::start().await.unwrap();
    let (yt, acct, _) = yt_client(&fake, "");
    let dir = tempfile::tempdir().unwrap();
    let video = mp4_file(dir.path(), "capsule.mp4", 1000);
    let mut j = job(acct, "fr", capsule(&video, None));
    let sha = berrah::platforms::common::media_file(&j.content.media[0])
        .await
        .unwrap()
        .sha256;
    j.progress.extra.insert(
        SESSION_KEY.into(),
        format!(
            "{}/upload/youtube/v3/videos?uploadType=resumable&upload_id=gone",
            fake.url()
        ),
    );
    j.progress.extra.insert("youtube.sha256".into(), sha);
    let outcome = yt.publish(&j, &Saved::default()).await;
    assert!(matches!(outcome, Outcome::Published { .. }), "{outcome:?}");
    assert_eq!(fake.lock().videos.len(), 1);
    // The same, but the last chunk had been sent: the video may exist.
    j.progress
        .extra
        .insert(FINAL_SENT_KEY.into(), "true".into());
    let outcome = yt.publish(&j, &Saved::default()).await;
    assert!(matches!(outcome, Outcome::Unknown { .. }), "{outcome:?}");
    assert_eq!(yt.resolve(&j).await, None);
    assert_eq!(fake.lock().videos.len(), 1);
}

#[tokio::test]
async fn youtube_quota_permission_and_token_errors_are_classified() {
    let fake = FakeYouTube::start().await.unwrap();
    let (yt, acct, _) = yt_client(&fake, "");
    let dir = tempfile::tempdir().unwrap();
    let video = mp4_file(dir.path(), "capsule.mp4", 1000);
    let j = job(acct.clone(), "fr", capsule(&video, None));
    fake.lock().faults.quota_exceeded = 1;
    let outcome = yt.publish(&j, &Saved::default()).await;
    // 09:00 UTC is 01:00 in California: the quota resets at 08:00 UTC the next day.
    let Outcome::Retry { at, reason } = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(at, Some("2026-12-19T08:00:00Z".parse().unwrap()));
    assert!(
        reason.contains("quotaExceeded") && !reason.contains("<a"),
        "{reason}"
    );
    fake.lock().faults.upload_limit = 1;
    let outcome = yt.publish(&j, &Saved::default()).await;
    let Outcome::Retry { at, .. } = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(at, Some("2026-12-19T09:00:00Z".parse().unwrap()));
    fake.lock().faults.forbidden = 1;
    let outcome = yt.publish(&j, &Saved::default()).await;
    let Outcome::Failed { reason } = outcome else {
        panic!("{outcome:?}")
    };
    assert!(reason.contains("forbidden"), "{reason}");
    // A bad title is caught before any call.
    let before = fake.lock().requests.len();
    let mut bad = capsule(&video, None);
    bad.title = Some("x".repeat(101));
    let outcome = yt
        .publish(&job(acct.clone(), "fr", bad), &Saved::default())
        .await;
    let Outcome::Failed { reason } = outcome else {
        panic!("{outcome:?}")
    };
    assert!(reason.contains("title"), "{reason}");
    assert_eq!(fake.lock().requests.len(), before);
    // A post without a video.
    let text_only = Content {
        text: "Texte seul".into(),
        ..Content::default()
    };
    let outcome = yt
        .publish(&job(acct.clone(), "fr", text_only), &Saved::default())
        .await;
    assert!(matches!(outcome, Outcome::Failed { .. }), "{outcome:?}");
    // 401: renewed once, then an operator.
    let creds = Arc::new(Renewing {
        stale: "expired",
        fresh: "yt-token",
        renewals: AtomicU32::new(0),
    });
    let yt2 =
        berrah::platforms::youtube::build(deps_with(acct.clone(), creds.clone(), TestClock::new()));
    let outcome = yt2.publish(&j, &Saved::default()).await;
    assert!(matches!(outcome, Outcome::Published { .. }), "{outcome:?}");
    assert_eq!(creds.renewals.load(Ordering::SeqCst), 1);
    let yt3 =
        berrah::platforms::youtube::build(deps_with(acct, token("revoked"), TestClock::new()));
    let outcome = yt3.publish(&j, &Saved::default()).await;
    let Outcome::NeedsOperator { reason } = outcome else {
        panic!("{outcome:?}")
    };
    assert!(!reason.contains("revoked"), "{reason}");
    assert_protocol_clean(&fake);
}

#[tokio::test]
async fn youtube_schedules_with_publish_at_and_survives_a_refused_thumbnail() {
    let fake = FakeYouTube::start().await.unwrap();
    fake.lock().faults.thumbnail_forbidden = 1;
    let (yt, acct, clock) = yt_client(&fake, "options = { scheduled = true }");
    let dir = tempfile::tempdir().unwrap();
    let video = mp4_file(dir.path(), "capsule.mp4", 1000);
    let thumb = jpeg_file(dir.path(), "mini.jpg");
    let mut j = job(acct, "ar", capsule(&video, Some(thumb)));
    j.content.title = None;
    j.content.description = None;
    j.due = clock.now() + jiff::SignedDuration::from_hours(6);
    let saved = Saved::default();
    let outcome = yt.publish(&j, &saved).await;
    assert!(matches!(outcome, Outcome::Published { .. }), "{outcome:?}");
    let st = fake.lock();
    let v = &st.videos[0];
    assert_eq!(v.status["privacyStatus"], "private");
    assert_eq!(v.status["publishAt"], "2026-12-18T15:00:00Z");
    // Title from the text's first line, description from the text.
    assert_eq!(v.snippet["title"], "AMAL, capsule 1 🎬");
    assert_eq!(v.snippet["defaultLanguage"], "ar");
    assert!(st.thumbnails.is_empty());
    drop(st);
    assert!(saved.last().extra[THUMBNAIL_KEY].starts_with("refused"));
    assert_protocol_clean(&fake);
}

/// A session URI (`Location`) on another origin than the account's API gets
/// no token: the fake, served there too, asks for one, and the upload fails
/// with a message naming where tokens go, instead of sending it.
#[tokio::test]
async fn youtube_session_on_another_origin_gets_no_token() {
    let fake = FakeYouTube::start().await.unwrap();
    let elsewhere = berrah_fakes::serve(berrah_fakes::youtube::router(fake.state.clone()))
        .await
        .unwrap();
    fake.lock().session_origin = Some(elsewhere.url());
    let (yt, acct, _) = yt_client(&fake, "options = { chunk_size = 262144 }");
    let dir = tempfile::tempdir().unwrap();
    let video = mp4_file(dir.path(), "capsule.mp4", 300_000);
    let outcome = yt
        .publish(&job(acct, "fr", capsule(&video, None)), &Saved::default())
        .await;
    let Outcome::Failed { reason } = &outcome else {
        panic!("{outcome:?}")
    };
    assert!(reason.contains("sends it only to"), "{reason}");
    let other_host = elsewhere.url().trim_start_matches("http://").to_string();
    let st = fake.lock();
    let there: Vec<_> = st
        .requests
        .iter()
        .filter(|r| r.host.as_deref() == Some(other_host.as_str()))
        .collect();
    assert!(!there.is_empty(), "{:?}", st.requests);
    for r in &there {
        assert!(!r.authorization, "the token went to another origin: {r:?}");
    }
    assert!(
        st.requests
            .iter()
            .filter(|r| r.host.as_deref() != Some(other_host.as_str()))
            .all(|r| r.authorization)
    );
    assert!(st.videos.is_empty());
}
