//! X (API v2) publishing: posts, threads, first comments, media through the
//! chunked upload flow, alt text.
//!
//! Everything here follows `docs/platforms/x.md` (X's docs, snapshot
//! API 2.167, and its OpenAPI description `tests/fixtures/x-api-v2-openapi.json`):
//!
//! - `POST /2/tweets` with `text`, `media.media_ids` and
//!   `reply.in_reply_to_tweet_id` (a thread is a chain of replies, the first
//!   comment a reply to the post); `201 {"data":{"id","text"}}`.
//! - Media through the dedicated chunked endpoints (2025-04-30):
//!   `POST /2/media/upload/initialize` (JSON), `POST /2/media/upload/{id}/append`
//!   (multipart `segment_index` + `media`, chunks streamed from disk),
//!   `POST /2/media/upload/{id}/finalize`, then `GET /2/media/upload?media_id=&command=STATUS`
//!   while `processing_info.state` is `pending`/`in_progress`, waiting
//!   `check_after_secs` between polls. Alt text through `POST /2/media/metadata`.
//! - Weighted character counting (twitter-text v3): a post over 280 units is
//!   refused before any call ([`crate::text::limits::x_weighted_length`]).
//! - Errors: the problem format (`title`, `detail`, `type`) or the legacy
//!   `errors` array; `403 "duplicate content"` is permanent; 429 waits for the
//!   latest relevant reset (`x-rate-limit-reset`, or the 24-hour reset when a
//!   24-hour budget is spent).
//!
//! X has no idempotency key and cannot be asked whether a post went out
//! ([`Idempotency::None`]): a create that may have reached X (transport fault
//! after sending, 5xx) is [`Outcome::Unknown`] and held for an operator.

use super::common::auth_outcome;
use std::future::Future;
use std::path::Path;

use async_trait::async_trait;
use jiff::Timestamp;
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use super::common::{
    RateLimits, classify_status, describe_transport, excerpt, file_section, header_str, media_file,
    retry_at, transport_outcome,
};
use super::{Checkpoint, Idempotency, Outcome, Platform, PlatformDeps, Progress, PublishJob};
use crate::config::PlatformKind;
use crate::http::{JSON_BODY_LIMIT, read_answer, read_error_text};
use crate::plan::MediaRef;
use crate::text::limits::{X_MAX, x_weighted_length};

/// Default size of one APPEND segment: 4 MiB, as X's official Python sample
/// uses (the v1.1 docs cap a segment at 5 MB; at most 1,000 segments).
pub const DEFAULT_CHUNK_BYTES: u64 = 4 * 1024 * 1024;
/// X's cap on one segment (v1.1 docs: 5 MB).
pub const MAX_CHUNK_BYTES: u64 = 5 * 1000 * 1000;
/// `segment_index` goes from 0 to 999 (OpenAPI `AppendMediaUploadRequest`).
pub const MAX_SEGMENTS: u64 = 1000;
/// `alt_text.text` max length (OpenAPI `CreateMediaMetadataMetadataAltText`).
pub const ALT_MAX_CHARS: usize = 1000;
/// How many STATUS polls one attempt makes before coming back later.
const MAX_STATUS_POLLS: u32 = 60;

/// Builds the client of one X account.
///
/// Account options: `chunk_size` (bytes per APPEND segment, default 4 MiB,
/// at most 5 MB).
pub fn build(deps: PlatformDeps) -> Box<dyn Platform> {
    Box::new(XClient::new(deps))
}

/// The X client of one account.
pub struct XClient {
    deps: PlatformDeps,
    base: String,
    chunk: u64,
    /// What `POST /2/tweets` answers said about the per-user budget.
    tweet_limits: RateLimits,
    /// What the media endpoints said about theirs.
    media_limits: RateLimits,
}

/// Why a call did not produce an answer to read.
enum Fault {
    /// A transport fault (what was sent decides the outcome).
    Transport(crate::http::BodyError),
    /// The attempt stops with this outcome (credentials, unreadable file).
    Stop(Outcome),
}

/// The step of a publication, which decides how a fault is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Media upload, status or metadata: nothing is published by these.
    Media,
    /// `POST /2/tweets`: not idempotent.
    Create,
}

/// The bearer token of one attempt, renewed at most once on a 401.
struct Token {
    secret: SecretString,
    renewed: bool,
}

impl XClient {
    /// A client for `deps.account` (base URL `https://api.x.com` unless the account sets one).
    pub fn new(deps: PlatformDeps) -> XClient {
        let base = deps
            .account
            .base_url()
            .unwrap_or("https://api.x.com")
            .trim_end_matches('/')
            .to_string();
        let chunk = deps
            .account
            .options
            .get("chunk_size")
            .and_then(|v| v.as_integer())
            .and_then(|n| u64::try_from(n).ok())
            .filter(|n| *n > 0)
            .map(|n| n.min(MAX_CHUNK_BYTES))
            .unwrap_or(DEFAULT_CHUNK_BYTES);
        XClient {
            deps,
            base,
            chunk,
            tweet_limits: RateLimits::default(),
            media_limits: RateLimits::default(),
        }
    }

    fn now(&self) -> Timestamp {
        self.deps.clock.now()
    }

    /// Sends the request `build` makes (rebuilt for a retry with a renewed
    /// token), with the bearer token; on a 401, renews the token once.
    async fn call<F, Fut>(
        &self,
        token: &mut Token,
        limits: &RateLimits,
        build: F,
    ) -> Result<reqwest::Response, Fault>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<reqwest::RequestBuilder, String>>,
    {
        loop {
            let req = build()
                .await
                .map_err(|reason| Fault::Stop(Outcome::Failed { reason }))?;
            let resp = req
                .bearer_auth(token.secret.expose_secret())
                .send()
                .await
                .map_err(|e| Fault::Transport(e.into()))?;
            limits.observe(resp.headers(), self.now());
            if resp.status() != StatusCode::UNAUTHORIZED {
                return Ok(resp);
            }
            let message = error_message(&read_error_text(resp).await);
            if token.renewed {
                return Err(Fault::Stop(refused_credentials(&message)));
            }
            token.renewed = true;
            let renewed = self
                .deps
                .credentials
                .renew_rejected(&token.secret)
                .await
                .map_err(|e| Fault::Stop(auth_outcome(e)))?;
            if renewed.expose_secret() == token.secret.expose_secret() {
                return Err(Fault::Stop(refused_credentials(&message)));
            }
            token.secret = renewed;
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    fn json_request(&self, method: Method, path: &str, body: &Value) -> reqwest::RequestBuilder {
        self.deps.http.request(method, self.url(path)).json(body)
    }

    /// `POST /2/tweets`; the new post's id.
    async fn create(&self, token: &mut Token, body: &Value, what: &str) -> Result<String, Outcome> {
        if let Some(wait) = self.tweet_limits.exhausted(self.now()) {
            return Err(wait);
        }
        let resp = self
            .call(token, &self.tweet_limits, || async {
                Ok(self.json_request(Method::POST, "/2/tweets", body))
            })
            .await
            .map_err(|f| self.fault(f, what, Step::Create))?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = read_answer(resp, JSON_BODY_LIMIT).await.map_err(|e| Outcome::Unknown {
            reason: format!(
                "{what}: X answered HTTP {} but the answer could not be read, so the post may be out: {}",
                status.as_u16(),
                describe_transport(&e)
            ),
        })?;
        if !status.is_success() {
            return Err(classify(
                status,
                &headers,
                &text,
                self.now(),
                Step::Create,
                what,
            ));
        }
        parse_created_id(&text).ok_or_else(|| Outcome::Unknown {
            reason: format!(
                "{what}: X answered HTTP {} without a post id, so the post may be out: {}",
                status.as_u16(),
                excerpt(&text)
            ),
        })
    }

    fn fault(&self, fault: Fault, what: &str, step: Step) -> Outcome {
        match fault {
            Fault::Stop(o) => o,
            Fault::Transport(e) => transport_outcome(what, &e, step == Step::Media),
        }
    }

    /// Reads a media answer: the parsed JSON on success, else the outcome.
    async fn media_answer(&self, resp: reqwest::Response, what: &str) -> Result<Value, Outcome> {
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = read_answer(resp, JSON_BODY_LIMIT)
            .await
            .map_err(|e| Outcome::Retry {
                at: None,
                reason: format!("{what}: {}", describe_transport(&e)),
            })?;
        if !status.is_success() {
            return Err(classify(
                status,
                &headers,
                &text,
                self.now(),
                Step::Media,
                what,
            ));
        }
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).map_err(|_| Outcome::Retry {
            at: None,
            reason: format!("{what}: X's answer is not JSON: {}", excerpt(&text)),
        })
    }

    /// Uploads (or finds already uploaded) every media of the post, with its
    /// alt text; returns the media ids in order.
    async fn media(
        &self,
        token: &mut Token,
        job: &PublishJob,
        progress: &mut Progress,
        checkpoint: &dyn Checkpoint,
    ) -> Result<Vec<String>, Outcome> {
        let mut files = Vec::new();
        for media in &job.content.media {
            let file = media_file(media)
                .await
                .map_err(|reason| Outcome::Failed { reason })?;
            files.push(file);
        }
        check_mix(&files)?;
        let mut ids = Vec::new();
        for (media, file) in job.content.media.iter().zip(files) {
            let id = match progress.media.get(&file.sha256) {
                Some(id) => id.clone(),
                None => {
                    // X keeps alt text per media id: an upload is reused only
                    // by a post with the same alt text, or setting it here
                    // would change the other post's.
                    let cache_key = upload_cache_key(&file.sha256, media.alt.as_deref());
                    let id = match self
                        .deps
                        .uploads
                        .get(&self.deps.account_id, &cache_key)
                        .await
                    {
                        Some(id) => id,
                        None => {
                            self.upload(token, &file, &cache_key, progress, checkpoint)
                                .await?
                        }
                    };
                    progress.media.insert(file.sha256.clone(), id.clone());
                    progress.extra.remove(&processing_key(&file.sha256));
                    save(checkpoint, progress).await?;
                    id
                }
            };
            self.alt_text(token, media, &id, progress, checkpoint)
                .await?;
            ids.push(id);
        }
        Ok(ids)
    }

    /// The chunked upload of one file: INITIALIZE, APPEND, FINALIZE, STATUS.
    async fn upload(
        &self,
        token: &mut Token,
        file: &super::common::MediaFile,
        cache_key: &str,
        progress: &mut Progress,
        checkpoint: &dyn Checkpoint,
    ) -> Result<String, Outcome> {
        if let Some(wait) = self.media_limits.exhausted(self.now()) {
            return Err(wait);
        }
        let key = processing_key(&file.sha256);
        // A previous attempt finalized this file and left it processing: poll it.
        if let Some(id) = progress.extra.get(&key).cloned() {
            let expires = self.wait_processed(token, &id, &file.path).await?;
            self.remember(cache_key, &id, expires).await;
            return Ok(id);
        }
        let category = media_category(&file.mime).ok_or_else(|| Outcome::Failed {
            reason: format!(
                "`{}` is {}, which X does not accept (JPEG, PNG, GIF, WebP images; MP4, MOV, WebM videos)",
                file.path.display(),
                file.mime
            ),
        })?;
        let segments = file.size.div_ceil(self.chunk);
        if segments > MAX_SEGMENTS {
            return Err(Outcome::Failed {
                reason: format!(
                    "`{}` ({} bytes) needs more than {MAX_SEGMENTS} segments of {} bytes: raise the account's `chunk_size` (at most 5 MB)",
                    file.path.display(),
                    file.size,
                    self.chunk
                ),
            });
        }
        let init = init_body(&file.mime, file.size, category);
        let what = format!("uploading `{}` to X", file.path.display());
        let resp = self
            .call(token, &self.media_limits, || async {
                Ok(self.json_request(Method::POST, "/2/media/upload/initialize", &init))
            })
            .await
            .map_err(|f| self.fault(f, &what, Step::Media))?;
        let answer = self.media_answer(resp, &what).await?;
        let id = answer
            .pointer("/data/id")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| Outcome::Retry {
                at: None,
                reason: format!("{what}: INITIALIZE answered without a media id"),
            })?;
        for index in 0..segments {
            let offset = index * self.chunk;
            let len = self.chunk.min(file.size - offset);
            let path = format!("/2/media/upload/{id}/append");
            let resp = self
                .call(token, &self.media_limits, || async {
                    let body = file_section(file, offset, len);
                    let part = reqwest::multipart::Part::stream_with_length(body, len)
                        .file_name("blob")
                        .mime_str("application/octet-stream")
                        .map_err(|e| e.to_string())?;
                    let form = reqwest::multipart::Form::new()
                        .text("segment_index", index.to_string())
                        .part("media", part);
                    Ok(self.deps.http.post(self.url(&path)).multipart(form))
                })
                .await
                .map_err(|f| self.fault(f, &what, Step::Media))?;
            self.media_answer(resp, &what).await?;
        }
        let path = format!("/2/media/upload/{id}/finalize");
        let resp = self
            .call(token, &self.media_limits, || async {
                Ok(self.deps.http.post(self.url(&path)))
            })
            .await
            .map_err(|f| self.fault(f, &what, Step::Media))?;
        let answer = self.media_answer(resp, &what).await?;
        let mut expires = expiry(&answer, self.now());
        match processing(&answer) {
            Processing::Ready => {}
            Processing::Failed(message) => return Err(media_failed(&file.path, &message)),
            Processing::Pending(_) => {
                // Remember the finalized upload so that a later attempt polls
                // it instead of uploading the file again.
                progress.extra.insert(key, id.clone());
                save(checkpoint, progress).await?;
                if let Some(e) = self.wait_processed(token, &id, &file.path).await? {
                    expires = Some(e);
                }
            }
        }
        self.remember(cache_key, &id, expires).await;
        Ok(id)
    }

    async fn remember(&self, cache_key: &str, id: &str, expires: Option<Timestamp>) {
        self.deps
            .uploads
            .put(&self.deps.account_id, cache_key, id, expires)
            .await;
    }

    /// Polls STATUS until the media is processed, waiting `check_after_secs`
    /// (on the injected clock) between polls.
    async fn wait_processed(
        &self,
        token: &mut Token,
        id: &str,
        path: &Path,
    ) -> Result<Option<Timestamp>, Outcome> {
        let what = format!("checking X's processing of `{}`", path.display());
        for _ in 0..MAX_STATUS_POLLS {
            let resp = self
                .call(token, &self.media_limits, || async {
                    Ok(self
                        .deps
                        .http
                        .get(self.url("/2/media/upload"))
                        .query(&[("media_id", id), ("command", "STATUS")]))
                })
                .await
                .map_err(|f| self.fault(f, &what, Step::Media))?;
            let answer = self.media_answer(resp, &what).await?;
            match processing(&answer) {
                Processing::Ready => return Ok(expiry(&answer, self.now())),
                Processing::Failed(message) => return Err(media_failed(path, &message)),
                Processing::Pending(secs) => {
                    let wait = jiff::SignedDuration::from_secs(secs.clamp(1, 600) as i64);
                    let until = self.now().checked_add(wait).unwrap_or(Timestamp::MAX);
                    self.deps.clock.sleep_until(until).await;
                }
            }
        }
        Err(Outcome::Retry {
            at: None,
            reason: format!("{what}: still processing after {MAX_STATUS_POLLS} checks"),
        })
    }

    /// Sets a media's alt text once (remembered in `progress.extra`).
    async fn alt_text(
        &self,
        token: &mut Token,
        media: &MediaRef,
        id: &str,
        progress: &mut Progress,
        checkpoint: &dyn Checkpoint,
    ) -> Result<(), Outcome> {
        let Some(alt) = media
            .alt
            .as_deref()
            .map(str::trim)
            .filter(|a| !a.is_empty())
        else {
            return Ok(());
        };
        let key = format!("x.alt.{id}");
        if progress.extra.contains_key(&key) {
            return Ok(());
        }
        let body = metadata_body(id, alt);
        let what = format!("setting the alt text of `{}` on X", media.file);
        let resp = self
            .call(token, &self.media_limits, || async {
                Ok(self.json_request(Method::POST, "/2/media/metadata", &body))
            })
            .await
            .map_err(|f| self.fault(f, &what, Step::Media))?;
        self.media_answer(resp, &what).await?;
        progress.extra.insert(key, "set".to_string());
        save(checkpoint, progress).await
    }

    fn post_url(&self, id: &str) -> String {
        post_url(self.deps.account.handle.as_deref(), id)
    }

    async fn run(&self, job: &PublishJob, checkpoint: &dyn Checkpoint) -> Result<Outcome, Outcome> {
        check_job(job)?;
        let mut progress = job.progress.clone();
        let done = progress.remote_id.is_some()
            && progress.thread.len() >= job.content.thread.len()
            && (job.content.first_comment.is_none() || progress.first_comment.is_some());
        if let (true, Some(id)) = (done, progress.remote_id.clone()) {
            let url = progress.url.clone().unwrap_or_else(|| self.post_url(&id));
            return Ok(Outcome::Published {
                remote_id: id,
                url: Some(url),
            });
        }
        let secret = self.deps.credentials.secret().await.map_err(auth_outcome)?;
        let mut token = Token {
            secret,
            renewed: false,
        };
        let post_id = match progress.remote_id.clone() {
            Some(id) => id,
            None => {
                let media = self
                    .media(&mut token, job, &mut progress, checkpoint)
                    .await?;
                let body = tweet_body(&job.content.text, &media, None);
                let id = self.create(&mut token, &body, "publishing on X").await?;
                progress.url = Some(self.post_url(&id));
                progress.remote_id = Some(id.clone());
                save(checkpoint, &progress).await?;
                id
            }
        };
        let url = progress
            .url
            .clone()
            .unwrap_or_else(|| self.post_url(&post_id));
        let partial = |o: Outcome| partial_outcome(o, &url);
        for (i, reply) in job.content.thread.iter().enumerate() {
            if i < progress.thread.len() {
                continue;
            }
            let previous = progress.thread.last().unwrap_or(&post_id).clone();
            let body = tweet_body(reply, &[], Some(&previous));
            let what = format!("publishing reply {} of the thread on X", i + 1);
            let id = self
                .create(&mut token, &body, &what)
                .await
                .map_err(partial)?;
            progress.thread.push(id);
            save(checkpoint, &progress).await?;
        }
        if let (Some(comment), None) = (&job.content.first_comment, &progress.first_comment) {
            let body = tweet_body(comment, &[], Some(&post_id));
            let id = self
                .create(&mut token, &body, "publishing the first comment on X")
                .await
                .map_err(partial)?;
            progress.first_comment = Some(id);
            save(checkpoint, &progress).await?;
        }
        Ok(Outcome::Published {
            remote_id: post_id,
            url: Some(url),
        })
    }
}

#[async_trait]
impl Platform for XClient {
    fn kind(&self) -> PlatformKind {
        PlatformKind::X
    }

    fn idempotency(&self) -> Idempotency {
        Idempotency::None
    }

    async fn publish(&self, job: &PublishJob, checkpoint: &dyn Checkpoint) -> Outcome {
        match self.run(job, checkpoint).await {
            Ok(o) | Err(o) => o,
        }
    }
}

async fn save(checkpoint: &dyn Checkpoint, progress: &Progress) -> Result<(), Outcome> {
    // What X confirmed could not be recorded: going on could publish twice.
    checkpoint
        .save(progress)
        .await
        .map_err(|e| Outcome::Unknown {
            reason: format!("X confirmed a step but {e}"),
        })
}

/// The upload cache's key of a file with its alt text: the content hash,
/// plus a hash of the alt text when there is one.
fn upload_cache_key(sha256: &str, alt: Option<&str>) -> String {
    use sha2::{Digest, Sha256};
    match alt {
        Some(alt) if !alt.is_empty() => {
            let h = hex::encode(Sha256::digest(alt.as_bytes()));
            format!("{sha256}+alt-{}", &h[..16])
        }
        _ => sha256.to_string(),
    }
}

fn processing_key(sha256: &str) -> String {
    format!("x.processing.{sha256}")
}

fn refused_credentials(message: &str) -> Outcome {
    Outcome::NeedsOperator {
        reason: format!(
            "X refused the account's token (HTTP 401: {message}) even after renewing it: run `berrah accounts login`"
        ),
    }
}

/// A failure after the post itself went out says so, with its URL.
fn partial_outcome(outcome: Outcome, url: &str) -> Outcome {
    match outcome {
        Outcome::Failed { reason } => Outcome::Failed {
            reason: format!("the post is out ({url}) but {reason}"),
        },
        Outcome::Unknown { reason } => Outcome::Unknown {
            reason: format!("the post is out ({url}) but {reason}"),
        },
        other => other,
    }
}

/// Refuses, before any call, a post X would refuse: texts over 280 weighted
/// units, an empty post, more media than X attaches, alt texts over 1,000.
pub fn check_job(job: &PublishJob) -> Result<(), Outcome> {
    let c = &job.content;
    if c.text.trim().is_empty() && c.media.is_empty() {
        return Err(Outcome::Failed {
            reason: "the post has neither text nor media for X".to_string(),
        });
    }
    let texts = std::iter::once(("the text".to_string(), &c.text))
        .chain(
            c.thread
                .iter()
                .enumerate()
                .map(|(i, t)| (format!("thread reply {}", i + 1), t)),
        )
        .chain(
            c.first_comment
                .iter()
                .map(|t| ("the first comment".to_string(), t)),
        );
    for (what, text) in texts {
        let length = x_weighted_length(text);
        if length > X_MAX {
            return Err(Outcome::Failed {
                reason: format!(
                    "{what} is {length} weighted characters long, {} over X's limit of {X_MAX} (URLs count 23, emoji and most non-Latin characters 2): shorten it or give the post an `x` variant in the campaign file",
                    length - X_MAX
                ),
            });
        }
        if what != "the text" && text.trim().is_empty() {
            return Err(Outcome::Failed {
                reason: format!("{what} is empty"),
            });
        }
    }
    if c.media.len() > 4 {
        return Err(Outcome::Failed {
            reason: format!(
                "the post has {} media; X attaches at most 4 images, or 1 video or GIF",
                c.media.len()
            ),
        });
    }
    for m in &c.media {
        if let Some(alt) = &m.alt
            && alt.chars().count() > ALT_MAX_CHARS
        {
            return Err(Outcome::Failed {
                reason: format!(
                    "the alt text of `{}` is {} characters long; X takes at most {ALT_MAX_CHARS}",
                    m.file,
                    alt.chars().count()
                ),
            });
        }
    }
    Ok(())
}

/// X attaches up to 4 images, or one video, or one GIF, never a mix.
fn check_mix(files: &[super::common::MediaFile]) -> Result<(), Outcome> {
    let single = files
        .iter()
        .find(|f| f.mime.starts_with("video/") || f.mime == "image/gif");
    match single {
        Some(f) if files.len() > 1 => Err(Outcome::Failed {
            reason: format!(
                "`{}` is a video or GIF, which X attaches alone: the post has {} media; keep it alone or publish the images in another post",
                f.path.display(),
                files.len()
            ),
        }),
        _ => Ok(()),
    }
}

/// `https://x.com/<handle>/status/<id>` (`i` when the handle is unknown).
pub fn post_url(handle: Option<&str>, id: &str) -> String {
    let handle = handle
        .map(|h| h.trim().trim_start_matches('@'))
        .filter(|h| !h.is_empty())
        .unwrap_or("i");
    format!("https://x.com/{handle}/status/{id}")
}

/// The `POST /2/tweets` body (OpenAPI `CreatePostsRequest`).
pub fn tweet_body(text: &str, media_ids: &[String], reply_to: Option<&str>) -> Value {
    let mut body = serde_json::Map::new();
    body.insert("text".into(), json!(text));
    if !media_ids.is_empty() {
        body.insert("media".into(), json!({ "media_ids": media_ids }));
    }
    if let Some(id) = reply_to {
        body.insert("reply".into(), json!({ "in_reply_to_tweet_id": id }));
    }
    Value::Object(body)
}

/// The INITIALIZE body (OpenAPI `InitializeMediaUploadRequest`).
pub fn init_body(mime: &str, total_bytes: u64, category: &str) -> Value {
    json!({ "media_type": mime, "total_bytes": total_bytes, "media_category": category })
}

/// The alt text body (OpenAPI `CreateMediaMetadataRequest`).
pub fn metadata_body(id: &str, alt: &str) -> Value {
    json!({ "id": id, "metadata": { "alt_text": { "text": alt } } })
}

/// X's `media_category` for a sniffed type, `None` for a type X refuses.
pub fn media_category(mime: &str) -> Option<&'static str> {
    match mime {
        "image/gif" => Some("tweet_gif"),
        "image/jpeg" | "image/png" | "image/webp" => Some("tweet_image"),
        "video/mp4" | "video/quicktime" | "video/webm" => Some("tweet_video"),
        _ => None,
    }
}

/// Where a media is in X's processing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Processing {
    /// No `processing_info`, or `succeeded`.
    Ready,
    /// `pending` / `in_progress`: check again after this many seconds.
    Pending(u64),
    /// `failed`, with X's message.
    Failed(String),
}

/// Reads `data.processing_info` of a FINALIZE or STATUS answer.
pub fn processing(answer: &Value) -> Processing {
    let Some(info) = answer.pointer("/data/processing_info") else {
        return Processing::Ready;
    };
    let after = info
        .get("check_after_secs")
        .and_then(Value::as_u64)
        .unwrap_or(1);
    match info.get("state").and_then(Value::as_str) {
        Some("succeeded") | None => Processing::Ready,
        Some("failed") => Processing::Failed(
            info.pointer("/error/message")
                .or_else(|| info.pointer("/error/name"))
                .and_then(Value::as_str)
                .unwrap_or("its processing failed")
                .to_string(),
        ),
        Some(_) => Processing::Pending(after),
    }
}

fn media_failed(path: &Path, message: &str) -> Outcome {
    Outcome::Failed {
        reason: format!(
            "X could not process `{}`: {message}; replace the file (X takes MP4/MOV H.264 + AAC videos of 0.5 to 140 s, up to 1280x1024)",
            path.display()
        ),
    }
}

/// When an uploaded media stops being usable (`expires_after_secs`).
fn expiry(answer: &Value, now: Timestamp) -> Option<Timestamp> {
    let secs = answer.pointer("/data/expires_after_secs")?.as_i64()?;
    now.checked_add(jiff::SignedDuration::from_secs(secs)).ok()
}

/// The id of a created post (`data.id`, a decimal string).
pub fn parse_created_id(body: &str) -> Option<String> {
    let v: Value = serde_json::from_str(body).ok()?;
    let id = v.pointer("/data/id")?.as_str()?;
    (!id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())).then(|| id.to_string())
}

/// X's own message from an error body: the problem format (`detail`,
/// `title`) or the legacy `errors` array.
pub fn error_message(body: &str) -> String {
    let Ok(v) = serde_json::from_str::<Value>(body) else {
        return excerpt(body);
    };
    let problem = v
        .get("detail")
        .or_else(|| v.get("title"))
        .and_then(Value::as_str);
    let legacy = v
        .pointer("/errors/0/message")
        .or_else(|| v.pointer("/errors/0/detail"))
        .and_then(Value::as_str);
    problem
        .or(legacy)
        .map(str::to_string)
        .unwrap_or_else(|| excerpt(body))
}

fn problem_type(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v.get("type").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_default()
}

/// When a 429 should be retried: the 24-hour reset when a 24-hour budget is
/// spent (`x-user-limit-24hour-*`, `x-app-limit-24hour-*`), else
/// `x-rate-limit-reset` (Unix seconds), else `Retry-After`.
pub fn rate_limited_until(headers: &HeaderMap, now: Timestamp) -> Option<Timestamp> {
    let reset = |name: &str| {
        header_str(headers, name)
            .and_then(|v| v.trim().parse::<i64>().ok())
            .and_then(|s| Timestamp::from_second(s).ok())
    };
    let spent = |name: &str| {
        header_str(headers, name).and_then(|v| v.trim().parse::<u64>().ok()) == Some(0)
    };
    let mut at: Option<Timestamp> = None;
    for who in ["user", "app"] {
        if spent(&format!("x-{who}-limit-24hour-remaining"))
            && let Some(r) = reset(&format!("x-{who}-limit-24hour-reset"))
        {
            at = Some(at.map_or(r, |a| a.max(r)));
        }
    }
    at.or_else(|| reset("x-rate-limit-reset"))
        .or_else(|| retry_at(headers, now))
}

/// Reads an error answer of X as an outcome. `step` decides what a 5xx
/// means: on a create it may have gone through ([`Outcome::Unknown`]).
pub fn classify(
    status: StatusCode,
    headers: &HeaderMap,
    body: &str,
    now: Timestamp,
    step: Step,
    what: &str,
) -> Outcome {
    let message = error_message(body);
    let kind = problem_type(body);
    let code = status.as_u16();
    match code {
        429 => Outcome::Retry {
            at: rate_limited_until(headers, now),
            reason: format!("{what}: X's rate limit is spent (HTTP 429: {message})"),
        },
        401 => refused_credentials(&message),
        402 => Outcome::NeedsOperator {
            reason: format!(
                "{what}: X refused with HTTP 402 ({message}): the app's API credits are spent; top them up in the X developer console"
            ),
        },
        403 if message.to_lowercase().contains("duplicate content") => Outcome::Failed {
            reason: format!(
                "{what}: X refuses this text as a duplicate of a post already published on the account (HTTP 403: {message}); change the text in the campaign file to publish it again"
            ),
        },
        403 if kind.ends_with("/client-forbidden")
            || kind.ends_with("/unsupported-authentication") =>
        {
            Outcome::NeedsOperator {
                reason: format!(
                    "{what}: X does not allow this app or token to post (HTTP 403: {message}); check the app's access level and run `berrah accounts login` with the scopes tweet.write, media.write, offline.access"
                ),
            }
        }
        403 => Outcome::Failed {
            reason: format!("{what}: X refused it (HTTP 403: {message})"),
        },
        500..=599 if step == Step::Create => Outcome::Unknown {
            reason: format!(
                "{what}: X answered HTTP {code} ({message}); X cannot be asked whether the post went out, check the account's timeline"
            ),
        },
        _ => match classify_status(status, headers, &message, now) {
            Outcome::Failed { reason } => Outcome::Failed {
                reason: format!("{what}: X refused it ({reason})"),
            },
            Outcome::Retry { at, reason } => Outcome::Retry {
                at,
                reason: format!("{what}: {reason}"),
            },
            other => other,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn now() -> Timestamp {
        "2026-12-18T09:00:00Z".parse().unwrap()
    }

    #[test]
    fn bodies_follow_the_openapi_shapes() {
        assert_eq!(tweet_body("مرحبا", &[], None), json!({"text": "مرحبا"}));
        assert_eq!(
            tweet_body("t", &["1".into(), "2".into()], Some("9")),
            json!({"text": "t", "media": {"media_ids": ["1", "2"]}, "reply": {"in_reply_to_tweet_id": "9"}})
        );
        assert_eq!(
            metadata_body("5", "un chat"),
            json!({"id": "5", "metadata": {"alt_text": {"text": "un chat"}}})
        );
        assert_eq!(init_body("video/mp4", 10, "tweet_video")["total_bytes"], 10);
    }

    #[test]
    fn urls_use_the_handle() {
        assert_eq!(
            post_url(Some("@OIM_Maroc"), "12"),
            "https://x.com/OIM_Maroc/status/12"
        );
        assert_eq!(post_url(None, "12"), "https://x.com/i/status/12");
    }

    #[test]
    fn categories() {
        assert_eq!(media_category("image/gif"), Some("tweet_gif"));
        assert_eq!(media_category("video/quicktime"), Some("tweet_video"));
        assert_eq!(media_category("image/bmp"), None);
    }

    #[test]
    fn processing_states() {
        assert_eq!(processing(&json!({"data": {"id": "1"}})), Processing::Ready);
        assert_eq!(
            processing(
                &json!({"data": {"processing_info": {"state": "in_progress", "check_after_secs": 5}}})
            ),
            Processing::Pending(5)
        );
        assert_eq!(
            processing(
                &json!({"data": {"processing_info": {"state": "failed", "error": {"code": 1, "name": "InvalidMedia", "message": "Unsupported video format"}}}})
            ),
            Processing::Failed("Unsupported video format".into())
        );
    }

    #[test]
    fn created_ids_are_decimal_strings() {
        assert_eq!(
            parse_created_id(r#"{"data":{"id":"1346889436626259968","text":"x"}}"#),
            Some("1346889436626259968".into())
        );
        assert_eq!(parse_created_id(r#"{"data":{"id":1}}"#), None);
        assert_eq!(parse_created_id("<html>"), None);
    }

    #[test]
    fn duplicate_content_is_permanent() {
        let body = r#"{"detail":"You are not allowed to create a Tweet with duplicate content.","type":"about:blank","title":"Forbidden","status":403}"#;
        let o = classify(
            StatusCode::FORBIDDEN,
            &HeaderMap::new(),
            body,
            now(),
            Step::Create,
            "publishing",
        );
        let Outcome::Failed { reason } = o else {
            panic!("{o:?}")
        };
        assert!(reason.contains("duplicate"), "{reason}");
    }

    #[test]
    fn rate_limits_wait_for_the_latest_relevant_reset() {
        let mut h = HeaderMap::new();
        h.insert("x-rate-limit-remaining", HeaderValue::from_static("0"));
        h.insert("x-rate-limit-reset", HeaderValue::from_static("1797584700"));
        let body = r#"{"title":"Too Many Requests","detail":"Too Many Requests","type":"about:blank","status":429}"#;
        let o = classify(
            StatusCode::TOO_MANY_REQUESTS,
            &h,
            body,
            now(),
            Step::Create,
            "p",
        );
        assert_eq!(
            o,
            Outcome::Retry {
                at: Timestamp::from_second(1797584700).ok(),
                reason: "p: X's rate limit is spent (HTTP 429: Too Many Requests)".into()
            }
        );
        h.insert(
            "x-user-limit-24hour-remaining",
            HeaderValue::from_static("0"),
        );
        h.insert(
            "x-user-limit-24hour-reset",
            HeaderValue::from_static("1797650000"),
        );
        assert_eq!(
            rate_limited_until(&h, now()),
            Timestamp::from_second(1797650000).ok()
        );
        let legacy = r#"{"errors":[{"code":88,"message":"Rate limit exceeded"}]}"#;
        assert_eq!(error_message(legacy), "Rate limit exceeded");
    }

    #[test]
    fn server_errors_on_a_create_are_unknown_elsewhere_retried() {
        let h = HeaderMap::new();
        assert!(matches!(
            classify(StatusCode::BAD_GATEWAY, &h, "", now(), Step::Create, "p"),
            Outcome::Unknown { .. }
        ));
        assert!(matches!(
            classify(StatusCode::BAD_GATEWAY, &h, "", now(), Step::Media, "p"),
            Outcome::Retry { .. }
        ));
        assert!(matches!(
            classify(
                StatusCode::PAYMENT_REQUIRED,
                &h,
                "",
                now(),
                Step::Create,
                "p"
            ),
            Outcome::NeedsOperator { .. }
        ));
        let forbidden = r#"{"title":"Client Forbidden","type":"https://api.x.com/2/problems/client-forbidden","detail":"enrolled"}"#;
        assert!(matches!(
            classify(
                StatusCode::FORBIDDEN,
                &h,
                forbidden,
                now(),
                Step::Create,
                "p"
            ),
            Outcome::NeedsOperator { .. }
        ));
        assert!(matches!(
            classify(
                StatusCode::BAD_REQUEST,
                &h,
                r#"{"detail":"bad"}"#,
                now(),
                Step::Create,
                "p"
            ),
            Outcome::Failed { .. }
        ));
    }
}
