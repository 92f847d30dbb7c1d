//! Facebook Pages, Instagram and LinkedIn against their fake servers.
//!
//! Each test builds the platform client exactly as the daemon does
//! (`berrah::platforms::build`) on an account pointing at the fake, with a
//! simulated clock whose sleeps return at once (container and media
//! polling), and checks both the outcome and what the fake received.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use berrah::auth::StaticCredentials;
use berrah::config::AccountConfig;
use berrah::media::MemoryUploadCache;
use berrah::plan::{Content, MediaRef};
use berrah::platforms::{
    Checkpoint, CheckpointError, Idempotency, Outcome, Platform, PlatformDeps, Progress, PublishJob,
};
use berrah::time::{BoxFuture, Clock};
use berrah_fakes::graph::{self as fg, FakeGraph, FakeGraphConfig};
use jiff::Timestamp;
use secrecy::SecretString;
use sha2::{Digest, Sha256};

// ---------------------------------------------------------------- support

/// A clock that only moves when something sleeps (sleeps return at once).
struct TestClock(Mutex<Timestamp>);

impl TestClock {
    fn at(t: &str) -> Arc<TestClock> {
        Arc::new(TestClock(Mutex::new(t.parse().unwrap())))
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

const NOW: &str = "2026-12-18T09:00:00Z";

/// Records every saved progress.
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

fn account(toml_text: &str) -> Arc<AccountConfig> {
    Arc::new(toml::from_str(toml_text).unwrap())
}

fn deps(
    account_id: &str,
    account: Arc<AccountConfig>,
    token: &str,
    clock: Arc<TestClock>,
) -> PlatformDeps {
    PlatformDeps {
        account_id: account_id.into(),
        account,
        credentials: Arc::new(StaticCredentials(SecretString::from(token.to_string()))),
        http: berrah::http::client_builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .unwrap(),
        uploads: Arc::new(MemoryUploadCache::default()),
        clock,
    }
}

fn job(account_id: &str, account: Arc<AccountConfig>, content: Content) -> PublishJob {
    PublishJob {
        occurrence_id: "amal-2026-12-18-fb".into(),
        attempt: 1,
        account_id: account_id.into(),
        account,
        language: "ar".into(),
        content,
        progress: Progress::default(),
        due: NOW.parse().unwrap(),
    }
}

fn text(t: &str) -> Content {
    Content {
        text: t.into(),
        ..Content::default()
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

/// A baseline JPEG header (SOI, APP0, SOF0) of the given size.
fn jpeg(width: u16, height: u16, salt: u8) -> Vec<u8> {
    let mut v = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10];
    v.extend_from_slice(b"JFIF\0");
    v.extend_from_slice(&[1, 1, 0, 0, 1, 0, 1, 0, 0]);
    v.extend_from_slice(&[0xFF, 0xC0, 0x00, 0x11, 8]);
    v.extend_from_slice(&height.to_be_bytes());
    v.extend_from_slice(&width.to_be_bytes());
    v.extend_from_slice(&[3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
    v.extend_from_slice(&[0xFF, 0xFE, 0x00, 0x03, salt]); // a comment: distinct files
    v.extend_from_slice(&[0xFF, 0xD9]);
    v
}

/// A real MP4 (H.264 + AAC) of `seconds` seconds, `sample` bytes per second.
fn mp4(width: u16, height: u16, seconds: u32, sample: usize) -> Vec<u8> {
    use mp4::{
        AacConfig, AvcConfig, MediaConfig, Mp4Config, Mp4Sample, Mp4Writer, TrackConfig, TrackType,
    };
    let config = Mp4Config {
        major_brand: "isom".parse().unwrap(),
        minor_version: 512,
        compatible_brands: vec!["isom".parse().unwrap(), "avc1".parse().unwrap()],
        timescale: 1000,
    };
    let mut w = Mp4Writer::write_start(std::io::Cursor::new(Vec::new()), &config).unwrap();
    w.add_track(&TrackConfig {
        track_type: TrackType::Video,
        timescale: 1000,
        language: "und".to_string(),
        media_conf: MediaConfig::AvcConfig(AvcConfig {
            width,
            height,
            seq_param_set: vec![0x67, 0x64, 0x00, 0x1F, 0xAC],
            pic_param_set: vec![0x68, 0xEE, 0x3C, 0x80],
        }),
    })
    .unwrap();
    w.add_track(&TrackConfig {
        track_type: TrackType::Audio,
        timescale: 1000,
        language: "und".to_string(),
        media_conf: MediaConfig::AacConfig(AacConfig::default()),
    })
    .unwrap();
    for i in 0..seconds {
        let s = Mp4Sample {
            start_time: u64::from(i) * 1000,
            duration: 1000,
            rendering_offset: 0,
            is_sync: true,
            bytes: vec![(i % 251) as u8; sample].into(),
        };
        w.write_sample(1, &s).unwrap();
        w.write_sample(2, &s).unwrap();
    }
    w.write_end().unwrap();
    w.into_writer().into_inner()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn assert_no_secret(outcome: &Outcome, secret: &str) {
    let text = format!("{outcome:?}");
    assert!(!text.contains(secret), "the token leaked: {text}");
}

// ---------------------------------------------------------------- Facebook

const AR_TEXT: &str =
    "في اليوم الدولي للمهاجرين، نحتفي بمساهمات المهاجرين في المغرب. #اليوم_الدولي_للمهاجرين";
const FR_TEXT: &str =
    "Journée internationale des migrants : célébrons leurs contributions au Maroc ! #JIM2026";

struct Fb {
    fake: FakeGraph,
    clock: Arc<TestClock>,
    account: Arc<AccountConfig>,
    client: Box<dyn Platform>,
}

async fn facebook(config: FakeGraphConfig) -> Fb {
    let clock = TestClock::at(NOW);
    let config = FakeGraphConfig {
        clock: clock.clone(),
        ..config
    };
    let fake = FakeGraph::start(config).await.unwrap();
    let account = account(&format!(
        "platform = \"facebook\"\nhandle = \"{}\"\nbase_url = \"{}\"\ncredentials = \"env:FB_TOKEN\"\n",
        fake.config().page_id,
        fake.url()
    ));
    let client = berrah::platforms::build(deps(
        "oim-facebook",
        account.clone(),
        &fake.config().token,
        clock.clone(),
    ));
    Fb {
        fake,
        clock,
        account,
        client,
    }
}

fn fb_job(fb: &Fb, content: Content) -> PublishJob {
    job("oim-facebook", fb.account.clone(), content)
}

fn assert_token_in_headers_only(fake: &FakeGraph) {
    for r in fake.requests() {
        assert!(!r.token_in_params, "token in the URL or body of {r:?}");
        assert!(r.auth_scheme.is_some(), "no Authorization header on {r:?}");
    }
}

#[tokio::test]
async fn facebook_text_post_in_arabic_with_first_comment() {
    let fb = facebook(FakeGraphConfig::default()).await;
    assert_eq!(fb.client.idempotency(), Idempotency::Queryable);
    let saved = Saved::default();
    let mut content = text(AR_TEXT);
    content.first_comment = Some("التفاصيل: https://morocco.iom.int".into());
    let outcome = fb.client.publish(&fb_job(&fb, content), &saved).await;
    // (the first comment's link stays in the comment)
    let posts = fb.fake.posts();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].message.as_deref(), Some(AR_TEXT));
    assert_eq!(posts[0].kind, fg::PostKind::Status);
    assert_eq!(posts[0].link, None);
    assert_eq!(
        outcome,
        Outcome::Published {
            remote_id: posts[0].id.clone(),
            url: Some(format!("https://www.facebook.com/{}", posts[0].id)),
        }
    );
    let comments = fb.fake.comments();
    assert_eq!(comments.len(), 1);
    assert_eq!(comments[0].on, posts[0].id);
    assert_eq!(
        saved.last().first_comment.as_deref(),
        Some(comments[0].id.as_str())
    );
    assert_eq!(
        saved.last().remote_id.as_deref(),
        Some(posts[0].id.as_str())
    );
    assert!(fb.fake.requests()[0].path.starts_with("/v25.0/"));
    assert_token_in_headers_only(&fb.fake);

    // Publishing again with the saved progress does nothing more.
    let mut again = fb_job(&fb, text(AR_TEXT));
    again.content.first_comment = Some("التفاصيل: https://morocco.iom.int".into());
    again.progress = saved.last();
    let outcome2 = fb.client.publish(&again, &saved).await;
    assert_eq!(outcome2, outcome);
    assert_eq!(fb.fake.posts().len(), 1);
    assert_eq!(fb.fake.comments().len(), 1);
}

#[tokio::test]
async fn facebook_link_post_sends_the_link() {
    let fb = facebook(FakeGraphConfig::default()).await;
    let t = "Lisez notre rapport : https://morocco.iom.int/fr/rapport?utm_source=facebook.";
    let o = fb
        .client
        .publish(&fb_job(&fb, text(t)), &Saved::default())
        .await;
    assert!(matches!(o, Outcome::Published { .. }), "{o:?}");
    let posts = fb.fake.posts();
    assert_eq!(posts[0].message.as_deref(), Some(t));
    assert_eq!(
        posts[0].link.as_deref(),
        Some("https://morocco.iom.int/fr/rapport?utm_source=facebook")
    );
}

#[tokio::test]
async fn facebook_single_photo_in_french_with_alt_text() {
    let fb = facebook(FakeGraphConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let bytes = jpeg(1200, 628, 1);
    let photo = write(dir.path(), "affiche.jpg", &bytes);
    let mut content = text(FR_TEXT);
    content.media = vec![media(&photo, Some("Affiche de la journée"))];
    let outcome = fb
        .client
        .publish(&fb_job(&fb, content), &Saved::default())
        .await;
    let posts = fb.fake.posts();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].kind, fg::PostKind::Photo);
    assert_eq!(posts[0].message.as_deref(), Some(FR_TEXT));
    let p = fb.fake.photo(&posts[0].photos[0]).unwrap();
    assert_eq!(p.sha256, sha(&bytes));
    assert_eq!(p.alt.as_deref(), Some("Affiche de la journée"));
    assert!(p.published);
    assert!(matches!(outcome, Outcome::Published { remote_id, .. } if remote_id == posts[0].id));
    assert_token_in_headers_only(&fb.fake);
}

#[tokio::test]
async fn facebook_multi_photo_post_attaches_unpublished_photos() {
    let fb = facebook(FakeGraphConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let a = jpeg(1080, 1080, 1);
    let b = jpeg(1080, 1080, 2);
    let mut content = text(AR_TEXT);
    content.media = vec![
        media(&write(dir.path(), "a.jpg", &a), Some("صورة أولى")),
        media(&write(dir.path(), "b.jpg", &b), None),
    ];
    let saved = Saved::default();
    let outcome = fb.client.publish(&fb_job(&fb, content), &saved).await;
    let posts = fb.fake.posts();
    assert_eq!(posts.len(), 1, "{outcome:?}");
    assert_eq!(posts[0].kind, fg::PostKind::MultiPhoto);
    assert_eq!(posts[0].photos.len(), 2);
    let first = fb.fake.photo(&posts[0].photos[0]).unwrap();
    assert!(!first.published);
    assert_eq!(first.sha256, sha(&a));
    assert_eq!(first.alt.as_deref(), Some("صورة أولى"));
    assert_eq!(fb.fake.photo(&posts[0].photos[1]).unwrap().sha256, sha(&b));
    // Each upload was saved before the post.
    let progress = saved.last();
    assert_eq!(progress.media.len(), 2);
    assert_eq!(progress.media[&sha(&a)], posts[0].photos[0]);
    assert!(matches!(outcome, Outcome::Published { .. }));
}

#[tokio::test]
async fn facebook_video_chunked_upload_resumes_from_the_servers_offset() {
    let fb = facebook(FakeGraphConfig {
        chunk_size: 16 * 1024,
        ..FakeGraphConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let bytes = mp4(1080, 1920, 12, 2048);
    assert!(bytes.len() > 3 * 16 * 1024, "{}", bytes.len());
    let video = write(dir.path(), "capsule.mp4", &bytes);
    let mut content = text(FR_TEXT);
    content.title = Some("Capsule AMAL".into());
    content.media = vec![media(&video, None)];

    // The second transfer fails: a retry later.
    fb.fake.fail_next(
        fg::Endpoint::VideoTransfer,
        fg::Fault::Error {
            status: 200,
            body: serde_json::json!({}),
            headers: vec![],
        },
    );
    let saved = Saved::default();
    let first = fb
        .client
        .publish(&fb_job(&fb, content.clone()), &saved)
        .await;
    assert!(matches!(first, Outcome::Retry { .. }), "{first:?}");
    // The first transfer never happened (the fault answered it), the session was saved.
    let progress = saved.last();
    assert!(progress.extra.contains_key("fb_upload_session"));

    // A transient error in the middle of the transfers.
    let second = {
        let mut j = fb_job(&fb, content.clone());
        j.progress = progress;
        fb.fake
            .fail_next(fg::Endpoint::VideoTransfer, fg::Fault::transient());
        // The resumed transfer (from the saved offset) fails at once.
        fb.client.publish(&j, &saved).await
    };
    assert!(matches!(second, Outcome::Retry { .. }), "{second:?}");

    let mut j = fb_job(&fb, content);
    j.progress = saved.last();
    let outcome = fb.client.publish(&j, &saved).await;
    let videos = fb.fake.videos();
    assert_eq!(videos.len(), 1, "one upload session only");
    let v = &videos[0];
    assert!(v.finished);
    assert_eq!(v.sha256(), sha(&bytes));
    assert_eq!(v.description.as_deref(), Some(FR_TEXT));
    assert_eq!(v.title.as_deref(), Some("Capsule AMAL"));
    assert!(v.transfers >= 4);
    assert_eq!(
        outcome,
        Outcome::Published {
            remote_id: v.id.clone(),
            url: Some(format!(
                "https://www.facebook.com/{}/videos/{}/",
                fb.fake.config().page_id,
                v.id
            )),
        }
    );
    assert_token_in_headers_only(&fb.fake);
}

#[tokio::test]
async fn facebook_graph_errors_are_classified() {
    let fb = facebook(FakeGraphConfig::default()).await;
    let token = fb.fake.config().token.clone();
    let fbr = &fb;
    let run = |fault: fg::Fault| async move {
        fbr.fake.fail_next(fg::Endpoint::FeedPost, fault);
        let j = fb_job(fbr, text(FR_TEXT));
        fbr.client.publish(&j, &Saved::default()).await
    };
    for code in [4, 17, 32, 613] {
        let now = fb.clock.now();
        let o = run(fg::Fault::rate_limited(code, 12)).await;
        assert_eq!(
            o,
            match &o {
                Outcome::Retry { reason, .. } => Outcome::Retry {
                    at: Some(now + jiff::SignedDuration::from_mins(12)),
                    reason: reason.clone()
                },
                other => panic!("code {code}: {other:?}"),
            }
        );
        // The client remembers the throttling until then.
        fb.clock
            .sleep_until(now + jiff::SignedDuration::from_mins(13))
            .await;
    }
    match run(fg::Fault::token_expired()).await {
        Outcome::NeedsOperator { reason } => {
            assert!(reason.contains("berrah accounts login"), "{reason}");
            assert!(reason.contains("Session has expired"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    match run(fg::Fault::permission("pages_manage_posts")).await {
        Outcome::NeedsOperator { reason } => {
            assert!(reason.contains("`pages_manage_posts`"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        run(fg::Fault::transient()).await,
        Outcome::Retry { at: None, .. }
    ));
    assert!(matches!(
        run(fg::Fault::graph(1, None, "An unknown error occurred")).await,
        Outcome::Retry { .. }
    ));
    match run(fg::Fault::graph(100, None, "(#100) Invalid parameter")).await {
        Outcome::Failed { reason } => assert!(reason.contains("Invalid parameter"), "{reason}"),
        other => panic!("{other:?}"),
    }
    // A wrong token everywhere: 190 without subcode.
    fb.fake.expire_token();
    let o = run(fg::Fault::DropBefore).await; // the expired token answers first
    assert!(matches!(o, Outcome::NeedsOperator { .. }), "{o:?}");
    assert_no_secret(&o, &token);
    assert!(fb.fake.posts().is_empty());
}

#[tokio::test]
async fn facebook_spent_usage_waits_without_calling() {
    let fb = facebook(FakeGraphConfig::default()).await;
    fb.fake
        .fail_next(fg::Endpoint::FeedPost, fg::Fault::rate_limited(80001, 30));
    let o = fb
        .client
        .publish(&fb_job(&fb, text(FR_TEXT)), &Saved::default())
        .await;
    assert!(matches!(o, Outcome::Retry { at: Some(_), .. }), "{o:?}");
    let calls = fb.fake.requests().len();
    let o = fb
        .client
        .publish(&fb_job(&fb, text(AR_TEXT)), &Saved::default())
        .await;
    assert!(matches!(o, Outcome::Retry { at: Some(_), .. }), "{o:?}");
    assert_eq!(
        fb.fake.requests().len(),
        calls,
        "no request while throttled"
    );
    // Once the announced time has passed, it calls again.
    fb.clock
        .sleep_until(NOW.parse::<Timestamp>().unwrap() + jiff::SignedDuration::from_mins(31))
        .await;
    let o = fb
        .client
        .publish(&fb_job(&fb, text(AR_TEXT)), &Saved::default())
        .await;
    assert!(matches!(o, Outcome::Published { .. }), "{o:?}");
}

#[tokio::test]
async fn facebook_unknown_outcome_is_resolved_from_the_feed_and_the_duplicate_error() {
    let fb = facebook(FakeGraphConfig::default()).await;
    // The post is created but the answer is lost.
    fb.fake
        .fail_next(fg::Endpoint::FeedPost, fg::Fault::DropAfter);
    let saved = Saved::default();
    let j = fb_job(&fb, text(AR_TEXT));
    let o = fb.client.publish(&j, &saved).await;
    assert!(matches!(o, Outcome::Unknown { .. }), "{o:?}");
    let posts = fb.fake.posts();
    assert_eq!(posts.len(), 1);

    // resolve finds it among the Page's posts.
    let mut j = j;
    j.progress = saved.last();
    let resolved = fb.client.resolve(&j).await;
    assert_eq!(
        resolved,
        Some(Outcome::Published {
            remote_id: posts[0].id.clone(),
            url: Some(format!("https://www.facebook.com/{}", posts[0].id)),
        })
    );

    // Publishing again gets 506 (duplicate) and adopts the same post.
    j.attempt = 2;
    let again = fb.client.publish(&j, &saved).await;
    assert_eq!(Some(again), resolved);
    assert_eq!(fb.fake.posts().len(), 1, "never twice");
}

#[tokio::test]
async fn facebook_resolve_says_none_when_nothing_was_posted() {
    let fb = facebook(FakeGraphConfig::default()).await;
    fb.fake
        .fail_next(fg::Endpoint::FeedPost, fg::Fault::DropBefore);
    let j = fb_job(&fb, text(FR_TEXT));
    let o = fb.client.publish(&j, &Saved::default()).await;
    assert!(matches!(o, Outcome::Unknown { .. }), "{o:?}");
    assert_eq!(fb.client.resolve(&j).await, None);
    // An older post with the same text (before the due time) is not ours.
    assert!(fb.fake.posts().is_empty());
}

// ---------------------------------------------------------------- Instagram

/// A public web server for the campaign's media (Instagram fetches them).
struct MediaHost {
    running: berrah_fakes::Running,
    files: Arc<Mutex<std::collections::HashMap<String, Vec<u8>>>>,
}

impl MediaHost {
    async fn start() -> MediaHost {
        let files: Arc<Mutex<std::collections::HashMap<String, Vec<u8>>>> = Arc::default();
        let f = files.clone();
        let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
            let f = f.clone();
            async move {
                let name = uri.path().trim_start_matches("/media/").to_string();
                match f.lock().unwrap().get(&name) {
                    Some(b) => (axum::http::StatusCode::OK, b.clone()),
                    None => (axum::http::StatusCode::NOT_FOUND, Vec::new()),
                }
            }
        });
        MediaHost {
            running: berrah_fakes::serve(app).await.unwrap(),
            files,
        }
    }

    fn base(&self) -> String {
        format!("{}/media", self.running.url())
    }

    /// Writes the file in `dir` and publishes it under its name.
    fn put(&self, dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        self.files
            .lock()
            .unwrap()
            .insert(name.to_string(), bytes.to_vec());
        write(dir, name, bytes)
    }
}

struct Ig {
    fake: FakeGraph,
    host: MediaHost,
    account: Arc<AccountConfig>,
    client: Box<dyn Platform>,
    dir: tempfile::TempDir,
}

async fn instagram_with(config: FakeGraphConfig, media_base_url: bool) -> Ig {
    let clock = TestClock::at(NOW);
    let fake = FakeGraph::start(FakeGraphConfig {
        clock: clock.clone(),
        ..config
    })
    .await
    .unwrap();
    let host = MediaHost::start().await;
    let mut toml_text = format!(
        "platform = \"instagram\"\nhandle = \"{}\"\nbase_url = \"{}\"\ncredentials = \"env:IG_TOKEN\"\n",
        fake.config().ig_user_id,
        fake.url()
    );
    if media_base_url {
        toml_text.push_str(&format!(
            "[options]\nmedia_base_url = \"{}\"\n",
            host.base()
        ));
    }
    let account = account(&toml_text);
    let client = berrah::platforms::build(deps(
        "unhcr-instagram",
        account.clone(),
        &fake.config().token,
        clock,
    ));
    Ig {
        fake,
        host,
        account,
        client,
        dir: tempfile::tempdir().unwrap(),
    }
}

async fn instagram(config: FakeGraphConfig) -> Ig {
    instagram_with(config, true).await
}

fn ig_job(ig: &Ig, content: Content) -> PublishJob {
    job("unhcr-instagram", ig.account.clone(), content)
}

#[tokio::test]
async fn instagram_image_with_alt_text_and_first_comment() {
    let ig = instagram(FakeGraphConfig::default()).await;
    assert_eq!(ig.client.idempotency(), Idempotency::Queryable);
    let photo = ig
        .host
        .put(ig.dir.path(), "affiche-ar.jpg", &jpeg(1080, 1350, 3));
    let mut content = text(AR_TEXT);
    content.media = vec![media(&photo, Some("ملصق اليوم الدولي للمهاجرين"))];
    content.first_comment = Some("#مهاجرون #المغرب".into());
    let saved = Saved::default();
    let outcome = ig.client.publish(&ig_job(&ig, content), &saved).await;
    let published = ig.fake.media();
    assert_eq!(published.len(), 1, "{outcome:?}");
    let m = &published[0];
    assert_eq!(m.caption.as_deref(), Some(AR_TEXT));
    assert_eq!(m.media_type, "IMAGE");
    let containers = ig.fake.containers();
    assert_eq!(containers.len(), 1);
    assert_eq!(
        containers[0].url.as_deref(),
        Some(format!("{}/affiche-ar.jpg", ig.host.base()).as_str())
    );
    assert_eq!(
        containers[0].alt_text.as_deref(),
        Some("ملصق اليوم الدولي للمهاجرين")
    );
    assert_eq!(
        outcome,
        Outcome::Published {
            remote_id: m.id.clone(),
            url: Some(m.permalink.clone()),
        }
    );
    assert!(m.permalink.starts_with("https://www.instagram.com/p/"));
    let comments = ig.fake.comments();
    assert_eq!(comments.len(), 1);
    assert_eq!(comments[0].on, m.id);
    assert_eq!(
        saved.last().first_comment.as_deref(),
        Some(comments[0].id.as_str())
    );
    assert_token_in_headers_only(&ig.fake);
}

#[tokio::test]
async fn instagram_carousel_of_images_and_a_video() {
    let ig = instagram(FakeGraphConfig::default()).await;
    let a = ig.host.put(ig.dir.path(), "un.jpg", &jpeg(1080, 1080, 1));
    let b = ig.host.put(ig.dir.path(), "deux.jpg", &jpeg(1080, 1080, 2));
    let v = ig
        .host
        .put(ig.dir.path(), "trois.mp4", &mp4(1080, 1080, 4, 512));
    let mut content = text(FR_TEXT);
    content.media = vec![
        media(&a, Some("Première image")),
        media(&b, None),
        media(&v, None),
    ];
    let outcome = ig
        .client
        .publish(&ig_job(&ig, content), &Saved::default())
        .await;
    let published = ig.fake.media();
    assert_eq!(published.len(), 1, "{outcome:?}");
    assert_eq!(published[0].media_type, "CAROUSEL_ALBUM");
    assert_eq!(published[0].children, 3);
    assert_eq!(published[0].caption.as_deref(), Some(FR_TEXT));
    let containers = ig.fake.containers();
    let items: Vec<_> = containers.iter().filter(|c| c.is_carousel_item).collect();
    assert_eq!(items.len(), 3);
    assert!(items.iter().any(|c| c.media_type == "VIDEO"));
    assert!(items.iter().all(|c| c.caption.is_none()));
    assert!(
        items
            .iter()
            .any(|c| c.alt_text.as_deref() == Some("Première image"))
    );
    assert!(matches!(outcome, Outcome::Published { .. }));
}

#[tokio::test]
async fn instagram_reel_polls_its_container_and_saves_it_first() {
    let ig = instagram(FakeGraphConfig {
        container_polls: 3,
        ..FakeGraphConfig::default()
    })
    .await;
    let v = ig
        .host
        .put(ig.dir.path(), "capsule.mp4", &mp4(1080, 1920, 5, 512));
    let mut content = text(AR_TEXT);
    content.media = vec![media(&v, None)];
    let saved = Saved::default();
    let outcome = ig.client.publish(&ig_job(&ig, content), &saved).await;
    let containers = ig.fake.containers();
    assert_eq!(containers.len(), 1);
    assert_eq!(containers[0].media_type, "REELS");
    // The container id was saved before anything else.
    let first = saved.0.lock().unwrap()[0].clone();
    assert_eq!(first.extra.get("ig_container"), Some(&containers[0].id));
    assert!(first.remote_id.is_none());
    let polls = ig
        .fake
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path.ends_with(&containers[0].id))
        .count();
    assert!(polls >= 3, "{polls} polls");
    let m = &ig.fake.media()[0];
    assert!(m.permalink.starts_with("https://www.instagram.com/reel/"));
    assert_eq!(
        outcome,
        Outcome::Published {
            remote_id: m.id.clone(),
            url: Some(m.permalink.clone())
        }
    );
}

#[tokio::test]
async fn instagram_still_processing_retries_later_with_the_same_container() {
    let ig = instagram(FakeGraphConfig {
        container_polls: 10_000,
        ..FakeGraphConfig::default()
    })
    .await;
    let v = ig
        .host
        .put(ig.dir.path(), "long.mp4", &mp4(1080, 1920, 5, 512));
    let mut content = text(FR_TEXT);
    content.media = vec![media(&v, None)];
    let saved = Saved::default();
    let j = ig_job(&ig, content);
    let o = ig.client.publish(&j, &saved).await;
    assert!(matches!(o, Outcome::Retry { at: Some(_), .. }), "{o:?}");
    let mut j = j;
    j.progress = saved.last();
    let o = ig.client.publish(&j, &saved).await;
    assert!(matches!(o, Outcome::Retry { .. }), "{o:?}");
    assert_eq!(ig.fake.containers().len(), 1, "the container is reused");
    assert!(ig.fake.media().is_empty());
}

#[tokio::test]
async fn instagram_refuses_bad_input_before_calling() {
    // No media.
    let ig = instagram(FakeGraphConfig::default()).await;
    match ig
        .client
        .publish(&ig_job(&ig, text(FR_TEXT)), &Saved::default())
        .await
    {
        Outcome::Failed { reason } => assert!(reason.contains("image or a video"), "{reason}"),
        other => panic!("{other:?}"),
    }
    // Too many hashtags.
    let photo = ig.host.put(ig.dir.path(), "a.jpg", &jpeg(1080, 1080, 1));
    let tags: String = (0..31).map(|i| format!(" #tag{i}")).collect();
    let mut content = text(&format!("{FR_TEXT}{tags}"));
    content.media = vec![media(&photo, None)];
    match ig
        .client
        .publish(&ig_job(&ig, content), &Saved::default())
        .await
    {
        Outcome::Failed { reason } => assert!(reason.contains("32 hashtags"), "{reason}"),
        other => panic!("{other:?}"),
    }
    // More than ten media.
    let mut content = text(FR_TEXT);
    content.media = (0..11).map(|_| media(&photo, None)).collect();
    assert!(matches!(
        ig.client
            .publish(&ig_job(&ig, content), &Saved::default())
            .await,
        Outcome::Failed { .. }
    ));
    // A PNG.
    let png = write(ig.dir.path(), "b.png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10\0\0\0\x10\x08\x06\0\0\0\0\0\0\0\0\0\0\0IEND\xaeB`\x82");
    let mut content = text(FR_TEXT);
    content.media = vec![media(&png, None)];
    match ig
        .client
        .publish(&ig_job(&ig, content), &Saved::default())
        .await
    {
        Outcome::Failed { reason } => assert!(reason.contains("JPEG"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert!(ig.fake.requests().is_empty());

    // No media_base_url: said clearly.
    let ig = instagram_with(FakeGraphConfig::default(), false).await;
    let photo = write(ig.dir.path(), "a.jpg", &jpeg(1080, 1080, 1));
    let mut content = text(FR_TEXT);
    content.media = vec![media(&photo, None)];
    match ig
        .client
        .publish(&ig_job(&ig, content), &Saved::default())
        .await
    {
        Outcome::Failed { reason } => assert!(reason.contains("media_base_url"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn instagram_unreachable_media_is_a_clear_failure() {
    let ig = instagram(FakeGraphConfig::default()).await;
    // Written locally but not published on the media host.
    let photo = write(ig.dir.path(), "absent.jpg", &jpeg(1080, 1080, 1));
    let mut content = text(FR_TEXT);
    content.media = vec![media(&photo, None)];
    match ig
        .client
        .publish(&ig_job(&ig, content), &Saved::default())
        .await
    {
        Outcome::Failed { reason } => {
            assert!(reason.contains("could not be fetched"), "{reason}");
            assert!(reason.contains("2207052"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn instagram_graph_errors_are_classified() {
    let ig = instagram(FakeGraphConfig::default()).await;
    let photo = ig.host.put(ig.dir.path(), "a.jpg", &jpeg(1080, 1080, 1));
    let mut content = text(AR_TEXT);
    content.media = vec![media(&photo, None)];
    let j = ig_job(&ig, content);
    let run = |endpoint: fg::Endpoint, fault: fg::Fault| {
        let j = j.clone();
        let ig = &ig;
        async move {
            ig.fake.fail_next(endpoint, fault);
            ig.client.publish(&j, &Saved::default()).await
        }
    };
    match run(fg::Endpoint::IgMedia, fg::Fault::token_expired()).await {
        Outcome::NeedsOperator { reason } => assert!(reason.contains("accounts login"), "{reason}"),
        other => panic!("{other:?}"),
    }
    match run(
        fg::Endpoint::IgMedia,
        fg::Fault::permission("instagram_content_publish"),
    )
    .await
    {
        Outcome::NeedsOperator { reason } => {
            assert!(reason.contains("`instagram_content_publish`"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        run(fg::Endpoint::IgMedia, fg::Fault::transient()).await,
        Outcome::Retry { at: None, .. }
    ));
    match run(
        fg::Endpoint::IgMedia,
        fg::Fault::graph(36003, Some(2207009), "The aspect ratio is not supported."),
    )
    .await
    {
        Outcome::Failed { reason } => assert!(reason.contains("aspect ratio"), "{reason}"),
        other => panic!("{other:?}"),
    }
    // The daily publishing cap, at media_publish: retried later.
    match run(
        fg::Endpoint::IgPublish,
        fg::Fault::graph(9, Some(2207042), "Application request limit reached"),
    )
    .await
    {
        Outcome::Retry { at: Some(_), .. } => {}
        other => panic!("{other:?}"),
    }
    assert!(ig.fake.media().is_empty());
}

#[tokio::test]
async fn instagram_resolve_adopts_a_published_container() {
    let ig = instagram(FakeGraphConfig::default()).await;
    let photo = ig.host.put(ig.dir.path(), "a.jpg", &jpeg(1080, 1080, 1));
    let mut content = text(FR_TEXT);
    content.media = vec![media(&photo, None)];
    ig.fake
        .fail_next(fg::Endpoint::IgPublish, fg::Fault::DropAfter);
    let saved = Saved::default();
    let mut j = ig_job(&ig, content);
    let o = ig.client.publish(&j, &saved).await;
    assert!(matches!(o, Outcome::Unknown { .. }), "{o:?}");
    assert_eq!(ig.fake.media().len(), 1);
    j.progress = saved.last();
    let m = ig.fake.media()[0].clone();
    let expected = Outcome::Published {
        remote_id: m.id.clone(),
        url: Some(m.permalink.clone()),
    };
    assert_eq!(ig.client.resolve(&j).await, Some(expected.clone()));
    // Publishing again adopts it too, never a second media.
    j.attempt = 2;
    assert_eq!(ig.client.publish(&j, &saved).await, expected);
    assert_eq!(ig.fake.media().len(), 1);
}

#[tokio::test]
async fn instagram_resolve_publishes_a_finished_container() {
    let ig = instagram(FakeGraphConfig::default()).await;
    let photo = ig.host.put(ig.dir.path(), "a.jpg", &jpeg(1080, 1080, 1));
    let mut content = text(AR_TEXT);
    content.media = vec![media(&photo, None)];
    ig.fake
        .fail_next(fg::Endpoint::IgPublish, fg::Fault::DropBefore);
    let saved = Saved::default();
    let mut j = ig_job(&ig, content);
    let o = ig.client.publish(&j, &saved).await;
    assert!(matches!(o, Outcome::Unknown { .. }), "{o:?}");
    assert!(ig.fake.media().is_empty());
    j.progress = saved.last();
    let resolved = ig.client.resolve(&j).await;
    let media = ig.fake.media();
    assert_eq!(media.len(), 1);
    assert_eq!(
        resolved,
        Some(Outcome::Published {
            remote_id: media[0].id.clone(),
            url: Some(media[0].permalink.clone()),
        })
    );
    // Without a container there is nothing to ask.
    assert_eq!(ig.client.resolve(&ig_job(&ig, text("x"))).await, None);
}

// ---------------------------------------------------------------- LinkedIn

use berrah_fakes::linkedin::{self as fl, FakeLinkedin, FakeLinkedinConfig};

struct Li {
    fake: FakeLinkedin,
    account: Arc<AccountConfig>,
    client: Box<dyn Platform>,
    dir: tempfile::TempDir,
}

/// Credentials whose token was rotated elsewhere: `secret()` still gives the
/// old one, `renew_rejected` the new one.
struct Rotated {
    old: String,
    new: String,
    renewals: Mutex<u32>,
}

#[async_trait]
impl berrah::auth::Credentials for Rotated {
    async fn secret(&self) -> Result<SecretString, berrah::auth::AuthError> {
        Ok(SecretString::from(self.old.clone()))
    }
    async fn renew_rejected(
        &self,
        _: &SecretString,
    ) -> Result<SecretString, berrah::auth::AuthError> {
        *self.renewals.lock().unwrap() += 1;
        Ok(SecretString::from(self.new.clone()))
    }
}

async fn linkedin_with(
    config: FakeLinkedinConfig,
    credentials: Option<Arc<dyn berrah::auth::Credentials>>,
) -> Li {
    let fake = FakeLinkedin::start(config).await.unwrap();
    let account = account(&format!(
        "platform = \"linkedin\"\nhandle = \"2414183\"\nbase_url = \"{}\"\ncredentials = \"store\"\n",
        fake.url()
    ));
    let mut d = deps(
        "unicef-linkedin",
        account.clone(),
        &fake.config().token,
        TestClock::at(NOW),
    );
    if let Some(c) = credentials {
        d.credentials = c;
    }
    Li {
        client: berrah::platforms::build(d),
        fake,
        account,
        dir: tempfile::tempdir().unwrap(),
    }
}

async fn linkedin(config: FakeLinkedinConfig) -> Li {
    linkedin_with(config, None).await
}

fn li_job(li: &Li, content: Content) -> PublishJob {
    job("unicef-linkedin", li.account.clone(), content)
}

fn assert_versioned(fake: &FakeLinkedin) {
    for r in fake.requests() {
        if r.path.starts_with("/rest/") {
            assert_eq!(
                r.version.as_deref(),
                Some(fake.config().version.as_str()),
                "{r:?}"
            );
            assert_eq!(r.restli.as_deref(), Some("2.0.0"), "{r:?}");
        }
        assert!(r.bearer, "{r:?}");
    }
}

#[tokio::test]
async fn linkedin_text_post_in_french_with_first_comment() {
    let li = linkedin(FakeLinkedinConfig::default()).await;
    assert_eq!(li.client.idempotency(), Idempotency::Queryable);
    let mut content = text("Journée (JIM) : nos équipes @Rabat #JIM2026");
    content.first_comment = Some("Plus d'infos : https://www.unicef.org/morocco".into());
    let saved = Saved::default();
    let outcome = li.client.publish(&li_job(&li, content), &saved).await;
    let posts = li.fake.posts();
    assert_eq!(posts.len(), 1, "{outcome:?}");
    let p = &posts[0];
    assert_eq!(p.author, "urn:li:organization:2414183");
    assert_eq!(
        p.commentary,
        "Journée \\(JIM\\) : nos équipes \\@Rabat #JIM2026"
    );
    assert_eq!(p.body["visibility"], "PUBLIC");
    assert_eq!(
        outcome,
        Outcome::Published {
            remote_id: p.urn.clone(),
            url: Some(format!("https://www.linkedin.com/feed/update/{}/", p.urn)),
        }
    );
    let comments = li.fake.comments();
    assert_eq!(comments.len(), 1);
    assert_eq!(comments[0].on, p.urn);
    assert_eq!(comments[0].actor, "urn:li:organization:2414183");
    assert_eq!(
        saved.last().first_comment.as_deref(),
        Some(comments[0].urn.as_str())
    );
    assert_versioned(&li.fake);
}

#[tokio::test]
async fn linkedin_images_with_alt_text_wait_until_available() {
    let li = linkedin(FakeLinkedinConfig {
        processing_polls: 2,
        ..FakeLinkedinConfig::default()
    })
    .await;
    let a = jpeg(1200, 628, 1);
    let b = jpeg(1200, 628, 2);
    let mut content = text(AR_TEXT);
    content.media = vec![
        media(&write(li.dir.path(), "a.jpg", &a), Some("أطفال في المدرسة")),
        media(&write(li.dir.path(), "b.jpg", &b), None),
    ];
    let saved = Saved::default();
    let outcome = li.client.publish(&li_job(&li, content), &saved).await;
    let posts = li.fake.posts();
    assert_eq!(posts.len(), 1, "{outcome:?}");
    let images = posts[0].body["content"]["multiImage"]["images"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(images.len(), 2);
    assert_eq!(images[0]["altText"], "أطفال في المدرسة");
    let uploaded = li.fake.media();
    let first = uploaded
        .iter()
        .find(|m| m.urn == images[0]["id"].as_str().unwrap())
        .unwrap();
    assert_eq!(first.sha256.as_deref(), Some(sha(&a).as_str()));
    assert_eq!(first.puts, 1, "one PUT per image");
    assert_eq!(saved.last().media.len(), 2);
    assert!(matches!(outcome, Outcome::Published { .. }));
    assert_versioned(&li.fake);

    // A second post with the same image reuses the upload (account cache).
    let mut content = text(FR_TEXT);
    content.media = vec![media(&write(li.dir.path(), "again.jpg", &a), Some("alt"))];
    let o = li
        .client
        .publish(&li_job(&li, content), &Saved::default())
        .await;
    assert!(matches!(o, Outcome::Published { .. }), "{o:?}");
    assert_eq!(li.fake.media().len(), 2, "no new upload");
}

#[tokio::test]
async fn linkedin_video_multipart_upload_resumes_after_a_failed_part() {
    let li = linkedin(FakeLinkedinConfig {
        part_size: 16 * 1024,
        processing_polls: 1,
        ..FakeLinkedinConfig::default()
    })
    .await;
    let bytes = mp4(1920, 1080, 12, 2048);
    let video = write(li.dir.path(), "capsule.mp4", &bytes);
    let mut content = text(FR_TEXT);
    content.title = Some("Capsule UNICEF".into());
    content.media = vec![media(&video, None)];
    li.fake
        .fail_next(fl::Endpoint::VideoPart, fl::Fault::server_error());
    let saved = Saved::default();
    let j = li_job(&li, content);
    let o = li.client.publish(&j, &saved).await;
    assert!(matches!(o, Outcome::Retry { .. }), "{o:?}");
    let mut j = j;
    j.progress = saved.last();
    assert!(j.progress.extra.contains_key("li_video"));
    let outcome = li.client.publish(&j, &saved).await;
    let media = li.fake.media();
    assert_eq!(media.len(), 1, "one initializeUpload only");
    let v = &media[0];
    assert!(v.finalized);
    assert!(v.parts.len() >= 4);
    assert_eq!(v.sha256.as_deref(), Some(sha(&bytes).as_str()));
    let posts = li.fake.posts();
    assert_eq!(posts.len(), 1, "{outcome:?}");
    assert_eq!(posts[0].body["content"]["media"]["id"], v.urn.as_str());
    assert_eq!(posts[0].body["content"]["media"]["title"], "Capsule UNICEF");
    assert!(matches!(outcome, Outcome::Published { .. }));
}

#[tokio::test]
async fn linkedin_errors_are_classified() {
    let li = linkedin(FakeLinkedinConfig::default()).await;
    let token = li.fake.config().token.clone();
    let run = |fault: fl::Fault| {
        let li = &li;
        async move {
            li.fake.fail_next(fl::Endpoint::Posts, fault);
            li.client
                .publish(&li_job(li, text(FR_TEXT)), &Saved::default())
                .await
        }
    };
    assert!(matches!(
        run(fl::Fault::rate_limited()).await,
        Outcome::Retry { .. }
    ));
    match run(fl::Fault::token_expired()).await {
        Outcome::NeedsOperator { reason } => {
            assert!(reason.contains("EXPIRED_ACCESS_TOKEN"), "{reason}");
            assert!(reason.contains("berrah accounts login"), "{reason}");
            assert!(!reason.contains(&token));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        run(fl::Fault::forbidden()).await,
        Outcome::NeedsOperator { .. }
    ));
    // A 5xx on the create: it may exist.
    assert!(matches!(
        run(fl::Fault::server_error()).await,
        Outcome::Unknown { .. }
    ));
    match run(fl::Fault::unprocessable(
        "ERROR :: /commentary :: FIELD_LENGTH_TOO_LONG",
    ))
    .await
    {
        Outcome::Failed { reason } => assert!(reason.contains("FIELD_LENGTH_TOO_LONG"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert!(li.fake.posts().is_empty());

    // A retired version.
    let old = linkedin(FakeLinkedinConfig {
        version: "202701".into(),
        ..FakeLinkedinConfig::default()
    })
    .await;
    match old
        .client
        .publish(&li_job(&old, text(FR_TEXT)), &Saved::default())
        .await
    {
        Outcome::Failed { reason } => assert!(reason.contains("linkedin_version"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn linkedin_renews_a_refused_token_once() {
    let cfg = FakeLinkedinConfig::default();
    let creds = Arc::new(Rotated {
        old: "AQX-old-token-000000000".into(),
        new: cfg.token.clone(),
        renewals: Mutex::new(0),
    });
    let li = linkedin_with(cfg, Some(creds.clone())).await;
    let o = li
        .client
        .publish(&li_job(&li, text(AR_TEXT)), &Saved::default())
        .await;
    assert!(matches!(o, Outcome::Published { .. }), "{o:?}");
    assert_eq!(li.fake.posts().len(), 1);
    assert!(*creds.renewals.lock().unwrap() >= 1);

    // The renewed token is refused too: an operator is needed, once asked.
    li.fake.rotate_token("AQX-somewhere-else-99999");
    let before = *creds.renewals.lock().unwrap();
    let o = li
        .client
        .publish(&li_job(&li, text(FR_TEXT)), &Saved::default())
        .await;
    assert!(matches!(o, Outcome::NeedsOperator { .. }), "{o:?}");
    assert_eq!(*creds.renewals.lock().unwrap(), before + 1);
}

#[tokio::test]
async fn linkedin_duplicate_answer_resolves_an_unknown_outcome() {
    let li = linkedin(FakeLinkedinConfig::default()).await;
    li.fake.fail_next(fl::Endpoint::Posts, fl::Fault::DropAfter);
    let saved = Saved::default();
    let mut j = li_job(&li, text(AR_TEXT));
    let o = li.client.publish(&j, &saved).await;
    assert!(matches!(o, Outcome::Unknown { .. }), "{o:?}");
    let posts = li.fake.posts();
    assert_eq!(posts.len(), 1);
    j.progress = saved.last();
    let expected = Outcome::Published {
        remote_id: posts[0].urn.clone(),
        url: Some(format!(
            "https://www.linkedin.com/feed/update/{}/",
            posts[0].urn
        )),
    };
    assert_eq!(li.client.resolve(&j).await, Some(expected.clone()));
    // And a retry of the publication adopts it too.
    j.attempt = 2;
    assert_eq!(li.client.publish(&j, &saved).await, expected);
    assert_eq!(li.fake.posts().len(), 1, "never twice");

    // A first attempt that meets a duplicate of an older post fails instead.
    let fresh = li_job(&li, text(AR_TEXT));
    match li.client.publish(&fresh, &Saved::default()).await {
        Outcome::Failed { reason } => assert!(reason.contains("duplicate"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn linkedin_resolve_publishes_when_the_first_create_never_arrived() {
    let li = linkedin(FakeLinkedinConfig::default()).await;
    li.fake
        .fail_next(fl::Endpoint::Posts, fl::Fault::DropBefore);
    let saved = Saved::default();
    let mut j = li_job(&li, text(FR_TEXT));
    let o = li.client.publish(&j, &saved).await;
    assert!(matches!(o, Outcome::Unknown { .. }), "{o:?}");
    assert!(li.fake.posts().is_empty());
    j.progress = saved.last();
    let resolved = li.client.resolve(&j).await;
    let posts = li.fake.posts();
    assert_eq!(posts.len(), 1);
    assert!(
        matches!(&resolved, Some(Outcome::Published { remote_id, .. }) if *remote_id == posts[0].urn),
        "{resolved:?}"
    );
    // Nothing was ever sent for this one: nothing to ask.
    assert_eq!(li.client.resolve(&li_job(&li, text("x"))).await, None);
}

/// Upload URLs handed out on another origin (as LinkedIn's are on
/// `www.linkedin.com`) get the file but not the token: only LinkedIn's own
/// hosts do (docs/platforms/linkedin.md), and a loopback fake's other port
/// is not one of them.
#[tokio::test]
async fn linkedin_upload_urls_on_another_origin_get_no_token() {
    let mut li = linkedin(FakeLinkedinConfig::default()).await;
    let elsewhere = li.fake.upload_elsewhere().await.unwrap();
    let other_host = elsewhere.trim_start_matches("http://").to_string();
    let a = jpeg(1200, 628, 7);
    let mut content = text(FR_TEXT);
    content.media = vec![media(&write(li.dir.path(), "a.jpg", &a), Some("alt"))];
    let outcome = li
        .client
        .publish(&li_job(&li, content), &Saved::default())
        .await;
    assert!(matches!(outcome, Outcome::Published { .. }), "{outcome:?}");
    let requests = li.fake.requests();
    let uploads: Vec<_> = requests
        .iter()
        .filter(|r| r.path.starts_with("/dms-uploads/"))
        .collect();
    assert_eq!(uploads.len(), 1, "{requests:?}");
    for r in &uploads {
        assert_eq!(r.host.as_deref(), Some(other_host.as_str()), "{r:?}");
        assert!(!r.bearer, "the token went to another origin: {r:?}");
    }
    for r in requests.iter().filter(|r| r.path.starts_with("/rest/")) {
        assert!(r.bearer, "{r:?}");
    }
}
