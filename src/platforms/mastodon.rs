//! Mastodon publishing: statuses with an `Idempotency-Key`, media through the
//! asynchronous v2 endpoint, threads and first comments as replies.
//!
//! What this relies on (`docs/platforms/mastodon.md`, from
//! the official documentation, docs.joinmastodon.org `methods/statuses`,
//! `methods/media`, `methods/instance`, `api/rate-limits`, and the server's
//! `post_status_service.rb`):
//!
//! - `POST /api/v1/statuses` (JSON body) with `Idempotency-Key`: the same key
//!   from the same account within an hour returns the original status (HTTP
//!   200), so every create here is keyed and a retry cannot duplicate: the
//!   main post uses the occurrence id, thread reply `i` (1-based) the
//!   occurrence id + `-i`, the first comment the occurrence id + `-c`.
//! - `POST /api/v2/media` (multipart, `file` + `description`): 200 when
//!   processed, 202 while processing; then `GET /api/v1/media/:id` answers 206
//!   until processed, 200 with a non-null `url` when ready, 404 once attached.
//!   An upload has no idempotency, but a repeated one only leaves an unattached
//!   attachment that the server removes after about a day: harmless. A media
//!   id attached to a status is never attached again (Mastodon refuses it;
//!   other compatible servers move the image off the first post): an upload
//!   belongs to its post, and goes to the account's cache for another post
//!   only when the instance refused the status, and is *taken* from it.
//! - `GET /api/v2/instance` (public): `configuration.statuses.max_characters`,
//!   read once per client. Length is counted as the server does
//!   ([`crate::text::limits::mastodon_length`] of `spoiler_text` + `status`).
//! - Errors are `{"error": "..."}`; 401 invalid token, 403 scopes or account
//!   state, 422 validation (except "not finished processing", retryable),
//!   429 with `X-RateLimit-Reset` (an RFC 3339 instant, no `Retry-After`).
//!
//! Account options (`[accounts.<id>.options]`): `visibility` (`public`,
//! `unlisted`, `private`, `direct`; default: the account's preference),
//! `sensitive` (bool), `spoiler_text` (a content warning on every post).

use super::common::{after_main, auth_outcome};
use crate::http::{BodyError, JSON_BODY_LIMIT, read_answer, read_text};
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use reqwest::header::HeaderMap;
use reqwest::{RequestBuilder, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};

use super::common::{
    self, MediaFile, RateLimits, excerpt, media_file, poll_interval, retry_at, transport_outcome,
};
use super::{Checkpoint, Idempotency, Outcome, Platform, PlatformDeps, Progress, PublishJob};
use crate::config::{AccountConfig, PlatformKind};
use crate::plan::MediaRef;
use crate::text::limits::{MASTODON_DEFAULT_MAX, mastodon_length};

/// Most polls of one media's processing within one attempt.
const MAX_POLLS: u32 = 40;
/// Longest wait for one media's processing within one attempt (on the
/// injected clock); past it the attempt is retried later, the upload kept.
const MAX_PROCESSING_WAIT: SignedDuration = SignedDuration::from_secs(300);
/// When to come back after the processing wait ran out.
const PROCESSING_RETRY: SignedDuration = SignedDuration::from_secs(60);
/// How long an unattached upload stays usable (the server removes unattached
/// media after roughly a day; half of it to be safe).
const UPLOAD_TTL: SignedDuration = SignedDuration::from_hours(12);
/// How long after an ambiguous attempt its Idempotency-Key still surely
/// protects a retry (the server keeps keys for 3600 s; margin for clocks).
const KEY_SAFE_FOR: SignedDuration = SignedDuration::from_mins(50);
/// `progress.extra` key prefix: when a create with this key may have reached the instance.
const MAYBE_SENT: &str = "maybe_sent:";
/// Upstream `Status::MEDIA_ATTACHMENTS_LIMIT`.
const MAX_MEDIA: usize = 4;

/// Builds the client of one Mastodon account.
pub fn build(deps: PlatformDeps) -> Box<dyn Platform> {
    Box::new(Mastodon::new(deps))
}

/// A Mastodon client bound to one account (one instance, one token).
pub struct Mastodon {
    deps: PlatformDeps,
    limits: RateLimits,
    /// The instance's character limit, read once.
    max_chars: tokio::sync::OnceCell<usize>,
}

impl Mastodon {
    /// A client for `deps.account`; nothing is called until [`Platform::publish`].
    pub fn new(deps: PlatformDeps) -> Mastodon {
        Mastodon {
            deps,
            limits: RateLimits::default(),
            max_chars: tokio::sync::OnceCell::new(),
        }
    }

    fn now(&self) -> Timestamp {
        self.deps.clock.now()
    }

    fn base(&self) -> Result<String, Outcome> {
        match self.deps.account.base_url() {
            Some(b) => Ok(b.trim_end_matches('/').to_string()),
            None => Err(Outcome::Failed {
                reason: format!(
                    "account `{}` has no `base_url`: set it to the Mastodon instance \
                     (e.g. `base_url = \"https://mastodon.social\"`) in berrah.toml",
                    self.deps.account_id
                ),
            }),
        }
    }

    /// The instance's character limit, read once from `GET /api/v2/instance`;
    /// if the instance does not say, the account's `max_chars`, else 500.
    async fn max_chars(&self, base: &str) -> usize {
        let fallback = self.deps.account.max_chars.unwrap_or(MASTODON_DEFAULT_MAX);
        let read = self
            .max_chars
            .get_or_try_init(|| async {
                let resp = self
                    .deps
                    .http
                    .get(format!("{base}/api/v2/instance"))
                    .send()
                    .await
                    .map_err(|e| common::describe_transport(&e))?;
                let status = resp.status();
                if !status.is_success() {
                    return Err(format!("HTTP {}", status.as_u16()));
                }
                let body = read_text(resp, JSON_BODY_LIMIT)
                    .await
                    .map_err(|e| common::describe_transport(&e))?;
                let body: Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
                instance_max_chars(&body).ok_or_else(|| "no max_characters".to_string())
            })
            .await;
        match read {
            Ok(n) => *n,
            Err(e) => {
                tracing::warn!(
                    account = %self.deps.account_id,
                    error = %e,
                    fallback,
                    "could not read the instance's character limit"
                );
                fallback
            }
        }
    }

    async fn secret(&self) -> Result<SecretString, Outcome> {
        self.deps.credentials.secret().await.map_err(auth_outcome)
    }

    /// Sends one request (built again for a retry with a renewed token),
    /// records the rate-limit headers, and reads the answer. On 401 the
    /// credentials are asked once for a renewed token.
    async fn call(
        &self,
        what: &str,
        build: impl Fn(&SecretString) -> Result<RequestBuilder, Outcome>,
    ) -> Result<Answer, Outcome> {
        self.call_flagged(what, None, build).await
    }

    /// [`call`](Self::call), setting `maybe_sent` when a transport fault
    /// happened after the request may have reached the instance.
    async fn call_flagged(
        &self,
        what: &str,
        maybe_sent: Option<&AtomicBool>,
        build: impl Fn(&SecretString) -> Result<RequestBuilder, Outcome>,
    ) -> Result<Answer, Outcome> {
        let fault = |e: BodyError| {
            let e = match e {
                BodyError::Transport(e) => BodyError::Transport(e.without_url()),
                too_large => too_large,
            };
            if let Some(flag) = maybe_sent
                && common::TransportFault::sent(&e) == common::Sent::Maybe
            {
                flag.store(true, Ordering::Relaxed);
            }
            // Every Mastodon request here is keyed or harmless to repeat.
            transport_outcome(what, &e, true)
        };
        let mut secret = self.secret().await?;
        let mut renewed = false;
        loop {
            if let Some(wait) = self.limits.exhausted(self.now()) {
                return Err(wait);
            }
            let resp = build(&secret)?.send().await.map_err(|e| fault(e.into()))?;
            let status = resp.status();
            let headers = resp.headers().clone();
            self.limits.observe(&headers, self.now());
            let body = read_answer(resp, JSON_BODY_LIMIT).await.map_err(fault)?;
            if status == StatusCode::UNAUTHORIZED && !renewed {
                renewed = true;
                let fresh = self
                    .deps
                    .credentials
                    .renew_rejected(&secret)
                    .await
                    .map_err(auth_outcome)?;
                if fresh.expose_secret() != secret.expose_secret() {
                    secret = fresh;
                    continue;
                }
            }
            return Ok(Answer {
                status,
                headers,
                body,
            });
        }
    }

    /// `POST /api/v1/statuses` with an idempotency key.
    ///
    /// The instance remembers a key for one hour only: when an earlier
    /// attempt with this key may have reached it (a transport fault after
    /// sending, a 5xx) and that was longer ago than [`KEY_SAFE_FOR`], sending
    /// again could post twice, so the post is held for an operator instead.
    async fn post_status(
        &self,
        base: &str,
        what: &str,
        key: &str,
        body: &Value,
        progress: &mut Progress,
        checkpoint: &dyn Checkpoint,
    ) -> Reply {
        let marker = format!("{MAYBE_SENT}{key}");
        if let Some(at) = progress
            .extra
            .get(&marker)
            .and_then(|t| t.parse::<Timestamp>().ok())
            && self.now().duration_since(at) > KEY_SAFE_FOR
        {
            return Err(Outcome::Unknown {
                reason: format!(
                    "{what}: an attempt at {at} may have reached the instance, and Mastodon \
                     remembers an Idempotency-Key for one hour only: check the account for \
                     this post, then release or cancel it"
                ),
            });
        }
        let url = format!("{base}/api/v1/statuses");
        let maybe_sent = AtomicBool::new(false);
        let answer = self
            .call_flagged(what, Some(&maybe_sent), |secret| {
                Ok(self
                    .deps
                    .http
                    .post(&url)
                    .bearer_auth(secret.expose_secret())
                    .header("Idempotency-Key", key)
                    .json(body))
            })
            .await;
        let result = match answer {
            Ok(answer) if answer.status.is_success() => {
                serde_json::from_str::<StatusAnswer>(&answer.body).map_err(|e| {
                    maybe_sent.store(true, Ordering::Relaxed);
                    Outcome::Retry {
                        at: None,
                        reason: format!(
                            "{what}: the instance's answer could not be read ({e}): {}",
                            excerpt(&answer.body)
                        ),
                    }
                })
            }
            Ok(answer) => {
                if answer.status.is_server_error() {
                    maybe_sent.store(true, Ordering::Relaxed);
                }
                Err(classify(what, &answer, self.now()))
            }
            Err(outcome) => Err(outcome),
        };
        match &result {
            Ok(_) => {
                progress.extra.remove(&marker);
            }
            Err(_)
                if maybe_sent.load(Ordering::Relaxed) && !progress.extra.contains_key(&marker) =>
            {
                progress.extra.insert(marker, self.now().to_string());
                save(checkpoint, progress).await?;
            }
            Err(_) => {}
        }
        result
    }

    /// Makes sure every media of the post is uploaded and processed, and
    /// returns their ids in the post's order.
    async fn media(
        &self,
        base: &str,
        job: &PublishJob,
        progress: &mut Progress,
        checkpoint: &dyn Checkpoint,
    ) -> Result<Vec<String>, Outcome> {
        let media = &job.content.media;
        if media.len() > MAX_MEDIA {
            return Err(Outcome::Failed {
                reason: format!(
                    "the post has {} media files and Mastodon attaches at most {MAX_MEDIA}: \
                     remove some from the post in the campaign file",
                    media.len()
                ),
            });
        }
        let mut files = Vec::with_capacity(media.len());
        for m in media {
            let file = media_file(m).await.map_err(|e| Outcome::Failed {
                reason: format!("media `{}`: {e}", m.file),
            })?;
            files.push(file);
        }
        let videos = files
            .iter()
            .filter(|f| !f.mime.starts_with("image/"))
            .count();
        if videos > 0 && files.len() > 1 {
            return Err(Outcome::Failed {
                reason: "Mastodon attaches one video alone, never with other media: \
                         keep only the video or only the images in the post"
                    .to_string(),
            });
        }
        let mut ids = Vec::with_capacity(media.len());
        for (m, file) in media.iter().zip(&files) {
            let id = self
                .one_media(base, job, m, file, progress, checkpoint)
                .await?;
            ids.push(id);
        }
        Ok(ids)
    }

    async fn one_media(
        &self,
        base: &str,
        job: &PublishJob,
        m: &MediaRef,
        file: &MediaFile,
        progress: &mut Progress,
        checkpoint: &dyn Checkpoint,
    ) -> Result<String, Outcome> {
        let what = format!("media `{}`", m.file);
        let known = match progress.media.get(&file.sha256) {
            Some(id) => Some(id.clone()),
            // Taken, not read: an upload goes to one status only.
            None => self.deps.uploads.take(&job.account_id, &file.sha256).await,
        };
        if let Some(id) = known {
            match self.media_state(base, &what, &id).await? {
                MediaState::Gone => {}
                state => {
                    if state.description() != m.alt.as_deref().unwrap_or("") {
                        self.set_description(base, &what, &id, m.alt.as_deref().unwrap_or(""))
                            .await?;
                    }
                    if progress.media.get(&file.sha256) != Some(&id) {
                        progress.media.insert(file.sha256.clone(), id.clone());
                        save(checkpoint, progress).await?;
                    }
                    if matches!(state, MediaState::Processing { .. }) {
                        self.wait_processed(base, &what, &id).await?;
                    }
                    return Ok(id);
                }
            }
        }
        let (id, ready) = self.upload(base, &what, m, file).await?;
        // Recorded the moment the instance confirms it, before anything else.
        progress.media.insert(file.sha256.clone(), id.clone());
        save(checkpoint, progress).await?;
        // Not shared yet: it is this post's until a refusal gives it back
        // (`give_back_uploads`).
        if !ready {
            self.wait_processed(base, &what, &id).await?;
        }
        Ok(id)
    }

    /// After the instance refused the status (so attached nothing), its
    /// uploads go to the shared cache for another post, and leave this one.
    /// Never after an attempt whose outcome is unknown: the status may exist
    /// with them, and attaching a media id twice is refused (Mastodon) or
    /// moves the image off the first post (other servers).
    async fn give_back_uploads(
        &self,
        job: &PublishJob,
        progress: &mut Progress,
        checkpoint: &dyn Checkpoint,
    ) -> Result<(), Outcome> {
        if progress.media.is_empty() {
            return Ok(());
        }
        let expires = self.now().checked_add(UPLOAD_TTL).ok();
        for (sha256, id) in std::mem::take(&mut progress.media) {
            self.deps
                .uploads
                .put(&job.account_id, &sha256, &id, expires)
                .await;
        }
        save(checkpoint, progress).await
    }

    /// `POST /api/v2/media`: the media id and whether it is already processed.
    async fn upload(
        &self,
        base: &str,
        what: &str,
        m: &MediaRef,
        file: &MediaFile,
    ) -> Result<(String, bool), Outcome> {
        let url = format!("{base}/api/v2/media");
        let answer = self
            .call(what, |secret| {
                let part = reqwest::multipart::Part::stream_with_length(
                    common::file_body(file),
                    file.size,
                )
                .file_name(file.file_name.clone())
                .mime_str(&file.mime)
                .map_err(|e| Outcome::Failed {
                    reason: format!("{what}: unusable media type `{}`: {e}", file.mime),
                })?;
                let mut form = reqwest::multipart::Form::new().part("file", part);
                if let Some(alt) = &m.alt {
                    form = form.text("description", alt.clone());
                }
                Ok(self
                    .deps
                    .http
                    .post(&url)
                    .bearer_auth(secret.expose_secret())
                    .multipart(form))
            })
            .await?;
        match answer.status.as_u16() {
            200 | 202 => {
                let media: MediaAnswer =
                    serde_json::from_str(&answer.body).map_err(|e| Outcome::Retry {
                        at: None,
                        reason: format!(
                            "{what}: the instance's answer could not be read ({e}): {}",
                            excerpt(&answer.body)
                        ),
                    })?;
                let ready = answer.status == StatusCode::OK && media.url.is_some();
                Ok((media.id, ready))
            }
            413 => Err(Outcome::Failed {
                reason: format!(
                    "{what} ({} bytes) is larger than the instance accepts: \
                     make it smaller or replace it in the campaign file",
                    file.size
                ),
            }),
            _ => Err(classify(what, &answer, self.now())),
        }
    }

    /// `GET /api/v1/media/:id`.
    async fn media_state(&self, base: &str, what: &str, id: &str) -> Result<MediaState, Outcome> {
        let url = format!("{base}/api/v1/media/{id}");
        let answer = self
            .call(what, |secret| {
                Ok(self.deps.http.get(&url).bearer_auth(secret.expose_secret()))
            })
            .await?;
        match answer.status.as_u16() {
            200 | 206 => {
                let media: MediaAnswer =
                    serde_json::from_str(&answer.body).map_err(|e| Outcome::Retry {
                        at: None,
                        reason: format!("{what}: the instance's answer could not be read ({e})"),
                    })?;
                let description = media.description.unwrap_or_default();
                if answer.status == StatusCode::OK && media.url.is_some() {
                    Ok(MediaState::Ready { description })
                } else {
                    Ok(MediaState::Processing { description })
                }
            }
            // Attached to a status already, deleted, or not this account's.
            404 => Ok(MediaState::Gone),
            422 => Err(Outcome::Failed {
                reason: format!(
                    "{what}: the instance could not process it ({}): check that the file \
                     plays or opens, or replace it in the campaign file",
                    error_message(&answer.body)
                ),
            }),
            _ => Err(classify(what, &answer, self.now())),
        }
    }

    /// `PUT /api/v1/media/:id` with a new alt text (a reused upload whose
    /// description was written for another language).
    async fn set_description(
        &self,
        base: &str,
        what: &str,
        id: &str,
        description: &str,
    ) -> Result<(), Outcome> {
        let url = format!("{base}/api/v1/media/{id}");
        let answer = self
            .call(what, |secret| {
                Ok(self
                    .deps
                    .http
                    .put(&url)
                    .bearer_auth(secret.expose_secret())
                    .form(&[("description", description)]))
            })
            .await?;
        if answer.status.is_success() {
            Ok(())
        } else {
            Err(classify(what, &answer, self.now()))
        }
    }

    /// Polls a media until processed, within a bounded wait; past it the
    /// attempt is retried later (the upload is in the progress already).
    async fn wait_processed(&self, base: &str, what: &str, id: &str) -> Result<(), Outcome> {
        let start = self.now();
        for poll in 0..MAX_POLLS {
            let wait = SignedDuration::try_from(poll_interval(poll)).unwrap_or_default();
            if let Ok(deadline) = self.now().checked_add(wait) {
                self.deps.clock.sleep_until(deadline).await;
            }
            match self.media_state(base, what, id).await? {
                MediaState::Ready { .. } => return Ok(()),
                MediaState::Processing { .. } => {}
                MediaState::Gone => {
                    return Err(Outcome::Retry {
                        at: None,
                        reason: format!(
                            "{what}: the instance no longer knows upload {id}; \
                             it will be uploaded again"
                        ),
                    });
                }
            }
            if self.now().duration_since(start) >= MAX_PROCESSING_WAIT {
                break;
            }
        }
        let waited = self.now().duration_since(start).as_secs();
        Err(Outcome::Retry {
            at: self.now().checked_add(PROCESSING_RETRY).ok(),
            reason: format!(
                "{what} is still being processed by the instance after {waited} s; \
                 the upload is kept and the post will be tried again"
            ),
        })
    }

    async fn run(&self, job: &PublishJob, checkpoint: &dyn Checkpoint) -> Result<Outcome, Outcome> {
        let base = self.base()?;
        let options = StatusOptions::from_account(&job.account_id, &job.account)
            .map_err(|reason| Outcome::Failed { reason })?;
        let mut progress = job.progress.clone();

        // Every part not yet published must fit before the first is posted:
        // a thread never stops half-way on a length it could have known.
        let max = self.max_chars(&base).await;
        let mut parts = Vec::new();
        if progress.remote_id.is_none() {
            parts.push(("the main text".to_string(), job.content.text.as_str()));
        }
        for (i, reply) in job.content.thread.iter().enumerate() {
            if i >= progress.thread.len() {
                parts.push((format!("thread reply {}", i + 1), reply.as_str()));
            }
        }
        if let Some(comment) = &job.content.first_comment
            && progress.first_comment.is_none()
        {
            parts.push(("the first comment".to_string(), comment.as_str()));
        }
        if let Some(reason) = length_problem(
            &job.occurrence_id,
            &job.account_id,
            &parts,
            options.spoiler_text.as_deref(),
            max,
        ) {
            return Err(Outcome::Failed { reason });
        }

        let language = language_code(&job.language);
        if progress.remote_id.is_none() {
            let media_ids = self.media(&base, job, &mut progress, checkpoint).await?;
            let body = status_body(
                &job.content.text,
                &options,
                language.as_deref(),
                &media_ids,
                None,
            );
            let what = "posting the main text";
            let status = match self
                .post_status(
                    &base,
                    what,
                    &job.occurrence_id,
                    &body,
                    &mut progress,
                    checkpoint,
                )
                .await
            {
                Ok(s) => s,
                Err(Outcome::Failed { reason }) if is_not_processed(&reason) => {
                    return Err(Outcome::Retry { at: None, reason });
                }
                Err(Outcome::Failed { reason }) if is_media_gone(&reason) => {
                    // Another post attached a cached upload first: upload again.
                    progress.media.clear();
                    save(checkpoint, &progress).await?;
                    return Err(Outcome::Retry {
                        at: None,
                        reason: format!("{reason} (the media will be uploaded again)"),
                    });
                }
                Err(Outcome::Failed { reason }) => {
                    self.give_back_uploads(job, &mut progress, checkpoint)
                        .await?;
                    return Err(Outcome::Failed { reason });
                }
                Err(other) => return Err(other),
            };
            progress.remote_id = Some(status.id.clone());
            progress.url = status.url.or(status.uri);
            save(checkpoint, &progress).await?;
        }
        let main_id = progress.remote_id.clone().unwrap_or_default();

        for (i, reply) in job.content.thread.iter().enumerate() {
            if i < progress.thread.len() {
                continue;
            }
            let parent = progress
                .thread
                .last()
                .cloned()
                .unwrap_or_else(|| main_id.clone());
            let body = status_body(reply, &options, language.as_deref(), &[], Some(&parent));
            let what = format!("posting thread reply {}", i + 1);
            let key = reply_key(&job.occurrence_id, i);
            let status = self
                .post_status(&base, &what, &key, &body, &mut progress, checkpoint)
                .await
                .map_err(|o| after_main(o, progress.url.as_deref()))?;
            progress.thread.push(status.id);
            save(checkpoint, &progress).await?;
        }

        if let Some(comment) = &job.content.first_comment
            && progress.first_comment.is_none()
        {
            let body = status_body(comment, &options, language.as_deref(), &[], Some(&main_id));
            let key = comment_key(&job.occurrence_id);
            let status = self
                .post_status(
                    &base,
                    "posting the first comment",
                    &key,
                    &body,
                    &mut progress,
                    checkpoint,
                )
                .await
                .map_err(|o| after_main(o, progress.url.as_deref()))?;
            progress.first_comment = Some(status.id);
            save(checkpoint, &progress).await?;
        }

        Ok(Outcome::Published {
            remote_id: main_id,
            url: progress.url.clone(),
        })
    }
}

#[async_trait]
impl Platform for Mastodon {
    fn kind(&self) -> PlatformKind {
        PlatformKind::Mastodon
    }

    fn idempotency(&self) -> Idempotency {
        Idempotency::Keyed
    }

    async fn publish(&self, job: &PublishJob, checkpoint: &dyn Checkpoint) -> Outcome {
        match self.run(job, checkpoint).await {
            Ok(outcome) | Err(outcome) => outcome,
        }
    }
}

/// One HTTP answer, read whole (API answers are small).
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

type Reply = Result<StatusAnswer, Outcome>;

/// The fields of a Status entity berrah needs.
#[derive(Debug, Deserialize)]
struct StatusAnswer {
    id: String,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    uri: Option<String>,
}

/// The fields of a MediaAttachment entity berrah needs.
#[derive(Debug, Deserialize)]
struct MediaAnswer {
    id: String,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    description: Option<String>,
}

enum MediaState {
    Ready { description: String },
    Processing { description: String },
    Gone,
}

impl MediaState {
    fn description(&self) -> &str {
        match self {
            MediaState::Ready { description } | MediaState::Processing { description } => {
                description
            }
            MediaState::Gone => "",
        }
    }
}

async fn save(checkpoint: &dyn Checkpoint, progress: &Progress) -> Result<(), Outcome> {
    // A keyed platform: coming back later returns the same status, so a
    // progress that cannot be recorded is a retry, never a guess.
    checkpoint.save(progress).await.map_err(|e| Outcome::Retry {
        at: None,
        reason: e.to_string(),
    })
}

/// The options every status of an account carries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusOptions {
    pub visibility: Option<String>,
    pub sensitive: bool,
    pub spoiler_text: Option<String>,
}

impl StatusOptions {
    /// Reads `visibility`, `sensitive` and `spoiler_text` from the account's
    /// options; a wrong value is an error naming the setting to fix.
    pub fn from_account(
        account_id: &str,
        account: &AccountConfig,
    ) -> Result<StatusOptions, String> {
        let mut out = StatusOptions::default();
        if let Some(v) = account.options.get("visibility") {
            match v.as_str() {
                Some(s @ ("public" | "unlisted" | "private" | "direct")) => {
                    out.visibility = Some(s.to_string());
                }
                _ => {
                    return Err(format!(
                        "account `{account_id}`: option `visibility = {v}` is not one of \
                         \"public\", \"unlisted\", \"private\", \"direct\": fix it in berrah.toml"
                    ));
                }
            }
        }
        if let Some(v) = account.options.get("sensitive") {
            out.sensitive = v.as_bool().ok_or_else(|| {
                format!(
                    "account `{account_id}`: option `sensitive = {v}` must be true or false \
                     in berrah.toml"
                )
            })?;
        }
        if let Some(v) = account
            .options
            .get("spoiler_text")
            .or_else(|| account.options.get("spoiler"))
        {
            let s = v.as_str().ok_or_else(|| {
                format!("account `{account_id}`: option `spoiler_text = {v}` must be a string in berrah.toml")
            })?;
            if !s.trim().is_empty() {
                out.spoiler_text = Some(s.to_string());
            }
        }
        Ok(out)
    }
}

/// The JSON body of `POST /api/v1/statuses` (in JSON, `media_ids` is a plain array).
pub fn status_body(
    text: &str,
    options: &StatusOptions,
    language: Option<&str>,
    media_ids: &[String],
    in_reply_to: Option<&str>,
) -> Value {
    let mut map = serde_json::Map::new();
    map.insert("status".into(), json!(text));
    if !media_ids.is_empty() {
        map.insert("media_ids".into(), json!(media_ids));
    }
    if let Some(parent) = in_reply_to {
        map.insert("in_reply_to_id".into(), json!(parent));
    }
    if let Some(v) = &options.visibility {
        map.insert("visibility".into(), json!(v));
    }
    if let Some(l) = language {
        map.insert("language".into(), json!(l));
    }
    if options.sensitive {
        map.insert("sensitive".into(), json!(true));
    }
    if let Some(s) = &options.spoiler_text {
        map.insert("spoiler_text".into(), json!(s));
    }
    Value::Object(map)
}

/// The idempotency key of thread reply `index` (0-based) of an occurrence.
pub fn reply_key(occurrence_id: &str, index: usize) -> String {
    format!("{occurrence_id}-{}", index + 1)
}

/// The idempotency key of an occurrence's first comment.
pub fn comment_key(occurrence_id: &str) -> String {
    format!("{occurrence_id}-c")
}

/// The ISO 639 code Mastodon takes from a BCP 47 tag (`fr-MA` → `fr`);
/// `None` when the tag does not start with one.
pub fn language_code(tag: &str) -> Option<String> {
    let primary = tag.split(['-', '_']).next()?.to_ascii_lowercase();
    (matches!(primary.len(), 2 | 3) && primary.bytes().all(|b| b.is_ascii_lowercase()))
        .then_some(primary)
}

/// `configuration.statuses.max_characters` of a v2 Instance entity (or
/// `max_toot_chars` of some forks).
pub fn instance_max_chars(instance: &Value) -> Option<usize> {
    instance
        .pointer("/configuration/statuses/max_characters")
        .or_else(|| instance.get("max_toot_chars"))
        .and_then(Value::as_u64)
        .and_then(|n| usize::try_from(n).ok())
        .filter(|n| *n > 0)
}

/// The first part over the instance's limit, as an actionable message.
pub fn length_problem(
    occurrence_id: &str,
    account_id: &str,
    parts: &[(String, &str)],
    spoiler: Option<&str>,
    max: usize,
) -> Option<String> {
    let spoiler_len = spoiler.map(mastodon_length).unwrap_or(0);
    parts.iter().find_map(|(label, text)| {
        let length = mastodon_length(text) + spoiler_len;
        (length > max).then(|| {
            format!(
                "{label} of {occurrence_id} is {length} characters{}, {} over the instance's \
                 limit of {max}: shorten it in the campaign file (and set `max_chars = {max}` \
                 for account `{account_id}` in berrah.toml so that `berrah check` catches it)",
                if spoiler_len > 0 {
                    " with the account's spoiler_text"
                } else {
                    ""
                },
                length - max
            )
        })
    })
}

/// The message of a Mastodon error body (`{"error": ..}` and, on OAuth
/// endpoints, `error_description`), else an excerpt of the body.
pub fn error_message(body: &str) -> String {
    #[derive(Deserialize)]
    struct ErrorBody {
        error: String,
        #[serde(default)]
        error_description: Option<String>,
    }
    match serde_json::from_str::<ErrorBody>(body) {
        Ok(ErrorBody {
            error,
            error_description: Some(d),
        }) => format!("{error}: {d}"),
        Ok(ErrorBody { error, .. }) => error,
        Err(_) if body.trim().is_empty() => "no message".to_string(),
        Err(_) => excerpt(body),
    }
}

fn is_not_processed(reason: &str) -> bool {
    reason.contains("not finished processing")
}

fn is_media_gone(reason: &str) -> bool {
    reason.contains("already attached") || reason.contains("Media with IDs")
}

fn classify(what: &str, answer: &Answer, now: Timestamp) -> Outcome {
    classify_answer(what, answer.status, &answer.headers, &answer.body, now)
}

/// Reads a non-success answer of the Mastodon API as an [`Outcome`].
pub fn classify_answer(
    what: &str,
    status: StatusCode,
    headers: &HeaderMap,
    body: &str,
    now: Timestamp,
) -> Outcome {
    let message = error_message(body);
    let code = status.as_u16();
    let reason = format!("{what}: HTTP {code}: {message}");
    match code {
        401 => Outcome::NeedsOperator {
            reason: format!(
                "{reason}; the instance refused the access token (revoked, or the app was \
                 removed): run `berrah accounts login` for this account"
            ),
        },
        403 => Outcome::NeedsOperator {
            reason: format!(
                "{reason}; the token lacks the `write:statuses write:media` scopes or the \
                 account is disabled: log in again with those scopes or check the account"
            ),
        },
        422 if is_not_processed(&message) => Outcome::Retry { at: None, reason },
        422 if message.contains("character limit") => Outcome::Failed {
            reason: format!(
                "{reason}; shorten the text in the campaign file, and set `max_chars` \
                 for this account in berrah.toml to the instance's limit"
            ),
        },
        422 if message.contains("content type") || message.contains("could not be verified") => {
            Outcome::Failed {
                reason: format!(
                    "{reason}; the instance does not accept this file's type: convert it \
                     (JPEG, PNG, WebP, MP4) or replace it in the campaign file"
                ),
            }
        }
        422 if message.contains("size") => Outcome::Failed {
            reason: format!("{reason}; make the file smaller or replace it in the campaign file"),
        },
        404 => Outcome::Failed {
            reason: format!(
                "{reason}; the post being replied to is gone (deleted?), or the instance \
                 URL is wrong"
            ),
        },
        429 => Outcome::Retry {
            at: retry_at(headers, now),
            reason,
        },
        // Rate-limit headers ride on every answer: only an explicit
        // Retry-After says when a failing server wants us back.
        408 | 425 | 500..=599 => Outcome::Retry {
            at: headers
                .contains_key("retry-after")
                .then(|| retry_at(headers, now))
                .flatten(),
            reason,
        },
        _ => Outcome::Failed { reason },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn now() -> Timestamp {
        "2026-12-18T09:00:00Z".parse().unwrap()
    }

    fn account(options: &str) -> AccountConfig {
        toml::from_str(&format!(
            "platform = \"mastodon\"\nbase_url = \"https://m.example\"\n[options]\n{options}"
        ))
        .unwrap()
    }

    #[test]
    fn body_carries_options_language_media_and_parent() {
        let opts = StatusOptions::from_account(
            "a",
            &account("visibility = \"unlisted\"\nsensitive = true\nspoiler_text = \"CW\""),
        )
        .unwrap();
        let body = status_body(
            "مرحبا 👋 bonjour",
            &opts,
            Some("ar"),
            &["1".into(), "2".into()],
            Some("99"),
        );
        assert_eq!(
            body,
            json!({"status": "مرحبا 👋 bonjour", "media_ids": ["1", "2"], "in_reply_to_id": "99",
                   "visibility": "unlisted", "language": "ar", "sensitive": true,
                   "spoiler_text": "CW"})
        );
        let plain = status_body("x", &StatusOptions::default(), None, &[], None);
        assert_eq!(plain, json!({"status": "x"}));
    }

    #[test]
    fn bad_options_name_the_setting() {
        let e =
            StatusOptions::from_account("iom", &account("visibility = \"everyone\"")).unwrap_err();
        assert!(e.contains("visibility") && e.contains("iom"), "{e}");
        let e = StatusOptions::from_account("iom", &account("sensitive = \"yes\"")).unwrap_err();
        assert!(e.contains("sensitive"), "{e}");
    }

    #[test]
    fn keys_are_stable_and_distinct() {
        assert_eq!(reply_key("o-1", 0), "o-1-1");
        assert_eq!(reply_key("o-1", 1), "o-1-2");
        assert_eq!(comment_key("o-1"), "o-1-c");
    }

    #[test]
    fn language_codes() {
        assert_eq!(language_code("fr-MA").as_deref(), Some("fr"));
        assert_eq!(language_code("ar").as_deref(), Some("ar"));
        assert_eq!(language_code("zgh").as_deref(), Some("zgh"));
        assert_eq!(language_code("").as_deref(), None);
        assert_eq!(language_code("123").as_deref(), None);
    }

    #[test]
    fn instance_limit_is_read() {
        let v = json!({"configuration": {"statuses": {"max_characters": 1000}}});
        assert_eq!(instance_max_chars(&v), Some(1000));
        assert_eq!(
            instance_max_chars(&json!({"max_toot_chars": 5000})),
            Some(5000)
        );
        assert_eq!(instance_max_chars(&json!({})), None);
    }

    #[test]
    fn length_problem_names_the_part_and_the_excess() {
        let long = "é".repeat(510);
        let parts = vec![
            ("the main text".to_string(), "short"),
            ("thread reply 2".to_string(), long.as_str()),
        ];
        let msg = length_problem("o-1", "iom", &parts, None, 500).unwrap();
        assert!(msg.contains("thread reply 2"), "{msg}");
        assert!(msg.contains("10 over"), "{msg}");
        assert!(msg.contains("max_chars = 500"), "{msg}");
        assert!(length_problem("o-1", "iom", &parts[..1], None, 500).is_none());
        // The spoiler text counts too.
        let msg = length_problem("o-1", "iom", &parts[..1], Some(&"x".repeat(498)), 500).unwrap();
        assert!(msg.contains("3 over"), "{msg}");
    }

    #[test]
    fn error_bodies_are_read() {
        assert_eq!(
            error_message(r#"{"error":"The access token is invalid"}"#),
            "The access token is invalid"
        );
        assert_eq!(
            error_message(r#"{"error":"invalid_grant","error_description":"expired"}"#),
            "invalid_grant: expired"
        );
        assert_eq!(
            error_message("<html>bad gateway</html>"),
            "<html>bad gateway</html>"
        );
        assert_eq!(error_message(""), "no message");
    }

    #[test]
    fn answers_are_classified() {
        let h = HeaderMap::new();
        let c = |code: u16, body: &str| {
            classify_answer("x", StatusCode::from_u16(code).unwrap(), &h, body, now())
        };
        assert!(matches!(
            c(401, r#"{"error":"The access token is invalid"}"#),
            Outcome::NeedsOperator { .. }
        ));
        assert!(matches!(
            c(
                403,
                r#"{"error":"This action is outside the authorized scopes"}"#
            ),
            Outcome::NeedsOperator { .. }
        ));
        assert!(matches!(
            c(
                422,
                r#"{"error":"Cannot attach files that have not finished processing. Try again in a moment!"}"#
            ),
            Outcome::Retry { .. }
        ));
        match c(
            422,
            r#"{"error":"Validation failed: Text character limit of 500 exceeded"}"#,
        ) {
            Outcome::Failed { reason } => assert!(reason.contains("max_chars"), "{reason}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            c(404, r#"{"error":"Record not found"}"#),
            Outcome::Failed { .. }
        ));
        assert!(matches!(c(503, "oops"), Outcome::Retry { at: None, .. }));
        // The reset of the rate limit says nothing about a failing server.
        let mut reset_only = HeaderMap::new();
        reset_only.insert(
            "x-ratelimit-reset",
            HeaderValue::from_static("2026-12-18T09:15:00Z"),
        );
        assert!(matches!(
            classify_answer("x", StatusCode::BAD_GATEWAY, &reset_only, "", now()),
            Outcome::Retry { at: None, .. }
        ));
        let mut h429 = HeaderMap::new();
        h429.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        h429.insert(
            "x-ratelimit-reset",
            HeaderValue::from_static("2026-12-18T09:15:00.000000Z"),
        );
        assert_eq!(
            classify_answer(
                "x",
                StatusCode::TOO_MANY_REQUESTS,
                &h429,
                r#"{"error":"Too many requests"}"#,
                now()
            ),
            Outcome::Retry {
                at: Some("2026-12-18T09:15:00Z".parse().unwrap()),
                reason: "x: HTTP 429: Too many requests".into()
            }
        );
    }

    #[test]
    fn after_main_keeps_the_class() {
        let o = after_main(
            Outcome::Failed { reason: "r".into() },
            Some("https://m.example/@a/1"),
        );
        match o {
            Outcome::Failed { reason } => assert!(reason.contains("https://m.example/@a/1")),
            other => panic!("{other:?}"),
        }
    }
}
