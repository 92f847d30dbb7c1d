//! Bluesky publishing over the AT Protocol (XRPC), with an app password.
//!
//! What this client relies on (`/work/shared/platforms/bluesky.md`, from the
//! `bluesky-social/atproto` lexicons and PDS, and docs.bsky.app):
//!
//! - **Sessions** (§1): `com.atproto.server.createSession` with the account's
//!   `handle` and its app password (the secret of `deps.credentials`), kept in
//!   memory (createSession is limited to 30 per 5 minutes). An expired access
//!   JWT is answered `400 ExpiredToken`: the session is refreshed with
//!   `com.atproto.server.refreshSession` (Bearer refresh JWT, both tokens
//!   rotate) and the request sent again once; when the refresh fails the
//!   session is created again from the app password. A refused app password
//!   (`401 AuthenticationRequired`) is asked again from the credentials once,
//!   then the account needs an operator.
//! - **Where**: a configured `base_url` is the account's PDS and gets every
//!   call (self-hosted PDS, test servers). With the default (the `bsky.social`
//!   entryway), calls after the session go to the PDS named in the session's
//!   DID document (`#atproto_pds`), as atrium's `get_endpoint` does.
//! - **Records** (§2, §6): posts are created with
//!   `com.atproto.repo.createRecord` and a record key we choose: a TID derived
//!   from the occurrence id ([`record::KeyBase`]), saved in the progress
//!   before the first attempt. A retry sends the same key, so it cannot make a
//!   second post: the PDS refuses a second record at that key (HTTP 500 or an
//!   "already exists" 400, depending on the version), and we then find ours
//!   with `com.atproto.repo.getRecord` and adopt it. Hence
//!   [`Idempotency::Keyed`]. Each thread reply and the first comment have
//!   their own derived key and are checkpointed one by one.
//! - **Media** (§3.1): images go through `com.atproto.repo.uploadBlob`
//!   (streamed from disk), at most 4 per post, each at most 1,000,000 bytes
//!   (the limit older PDS and AppView versions still enforce), with alt text
//!   and `aspectRatio`. A video (one per post, MP4, at most 300 MB) goes
//!   through Bluesky's video service (§3.2, [`Bluesky`]'s `video`), whose
//!   processed blob is embedded as `app.bsky.embed.video`.
//! - **Rich text** (§2.2): links, hashtags and mentions become facets with
//!   UTF-8 byte offsets; mentions are resolved with
//!   `com.atproto.identity.resolveHandle` (an unknown handle stays plain text).
//!   A post without media gets a link card (`app.bsky.embed.external`) of its
//!   first link, titled with its first line.
//! - **Errors** (§5): `{"error","message"}` bodies; 429 waits until
//!   `RateLimit-Reset` (or `Retry-After`), and the `RateLimit-*` headers are
//!   remembered so that a spent budget waits instead of calling; 413 names
//!   the file; 5xx and network faults retry (every request here is keyed or
//!   read-only).

use std::collections::BTreeMap;
use std::path::PathBuf;

use async_trait::async_trait;
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use super::common::{self, RateLimits};
use super::{Checkpoint, Idempotency, Outcome, Platform, PlatformDeps, Progress, PublishJob};
use crate::auth::AuthError;
use crate::config::PlatformKind;
use crate::media::probe::MediaKind;
use crate::text::limits;

pub mod record;

use record::{Embed, ImageEmbed, KeyBase, PostParts, StrongRef};

/// The largest image blob berrah sends (bytes): the limit of older PDS and
/// AppView versions; the newest lexicon allows 2,000,000.
pub const MAX_IMAGE_BYTES: u64 = 1_000_000;
/// Images per post (`app.bsky.embed.images`).
pub const MAX_IMAGES: usize = 4;
/// The largest video (`app.bsky.embed.video` lexicon, "formerly limited to 100mb").
pub const MAX_VIDEO_BYTES: u64 = 300_000_000;
/// Bluesky's video service (`video_service` account option to change it).
pub const VIDEO_SERVICE: &str = "https://video.bsky.app";
/// How long one attempt waits for the video service before retrying later
/// (the job id is kept, so the next attempt resumes polling).
const VIDEO_WAIT: std::time::Duration = std::time::Duration::from_secs(300);
/// Failed processing jobs of one video before the post fails.
const VIDEO_MAX_FAILURES: u32 = 3;
/// The collection of posts.
pub const POST_COLLECTION: &str = "app.bsky.feed.post";

/// Keys of [`Progress::extra`] used by this client.
const EXTRA_RKEY: &str = "bluesky.rkey";
/// The video service's job id of a video being processed.
const EXTRA_VIDEO_JOB: &str = "bluesky.video_job";
/// How many processing jobs of the video failed.
const EXTRA_VIDEO_FAILURES: &str = "bluesky.video_failures";
fn extra_cid(part: u64) -> String {
    format!("bluesky.cid.{part}")
}

/// Builds the client of one Bluesky account.
pub fn build(deps: PlatformDeps) -> Box<dyn Platform> {
    Box::new(Bluesky::new(deps))
}

/// The Bluesky client of one account.
pub struct Bluesky {
    deps: PlatformDeps,
    /// The configured host (`base_url`), without a trailing slash.
    base: String,
    /// Whether to send calls to the PDS of the session's DID document.
    follow_did_document: bool,
    session: tokio::sync::Mutex<Option<Session>>,
    limits: RateLimits,
}

/// A session: the account's DID and handle, its tokens, the PDS to call.
#[derive(Clone)]
struct Session {
    did: String,
    handle: String,
    access: SecretString,
    refresh: SecretString,
    pds: String,
}

/// An answer of an XRPC call.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    json: Value,
    text: String,
}

impl Answer {
    fn ok(&self) -> bool {
        self.status.is_success()
    }

    /// The XRPC error name (`ExpiredToken`, `InvalidRequest`, ...).
    fn error(&self) -> &str {
        self.json.get("error").and_then(Value::as_str).unwrap_or("")
    }

    /// The platform's own message, or an excerpt of the body.
    fn message(&self) -> String {
        match self.json.get("message").and_then(Value::as_str) {
            Some(m) => m.to_string(),
            None if !self.text.trim().is_empty() => common::excerpt(&self.text),
            None => self
                .status
                .canonical_reason()
                .unwrap_or("no message")
                .to_string(),
        }
    }

    /// `HTTP 400 InvalidRequest: message`.
    fn describe(&self) -> String {
        let name = self.error();
        if name.is_empty() {
            format!("HTTP {}: {}", self.status.as_u16(), self.message())
        } else {
            format!("HTTP {} {}: {}", self.status.as_u16(), name, self.message())
        }
    }
}

/// What went wrong with a call: a transport fault, or an outcome to return.
enum Fault {
    Transport(reqwest::Error),
    Outcome(Outcome),
}

impl From<Outcome> for Fault {
    fn from(o: Outcome) -> Self {
        Fault::Outcome(o)
    }
}

/// The body of a request.
enum ReqBody<'a> {
    None,
    Json(&'a Value),
    /// A file streamed from disk, with its type and size.
    File(&'a Prepared),
}

/// A media file measured and checked for Bluesky.
#[derive(Debug, Clone)]
struct Prepared {
    path: PathBuf,
    /// The path as the campaign file names it.
    file: String,
    mime: String,
    size: u64,
    sha256: String,
    alt: String,
    dims: Option<(u32, u32)>,
    /// A video (through the video service) rather than an image blob.
    video: bool,
}

impl Bluesky {
    /// A client for `deps.account`.
    pub fn new(deps: PlatformDeps) -> Bluesky {
        let configured = deps.account.base_url.is_some();
        let base = deps
            .account
            .base_url()
            .unwrap_or("https://bsky.social")
            .trim_end_matches('/')
            .to_string();
        Bluesky {
            deps,
            base,
            follow_did_document: !configured,
            session: tokio::sync::Mutex::new(None),
            limits: RateLimits::default(),
        }
    }

    fn now(&self) -> jiff::Timestamp {
        self.deps.clock.now()
    }

    /// Sends one XRPC request to `host`.
    async fn send(
        &self,
        host: &str,
        method: Method,
        nsid: &str,
        query: &[(&str, &str)],
        body: &ReqBody<'_>,
        bearer: Option<&SecretString>,
    ) -> Result<Answer, Fault> {
        let url = format!("{host}/xrpc/{nsid}");
        let mut req = self.deps.http.request(method, &url);
        if !query.is_empty() {
            req = req.query(query);
        }
        if let Some(token) = bearer {
            req = req.header(
                reqwest::header::AUTHORIZATION,
                format!("Bearer {}", token.expose_secret()),
            );
        }
        req = match body {
            ReqBody::None => req,
            ReqBody::Json(v) => req.json(v),
            ReqBody::File(p) => {
                let stream = common::file_body(&p.path)
                    .await
                    .map_err(|reason| Fault::Outcome(Outcome::Failed { reason }))?;
                req.header(reqwest::header::CONTENT_TYPE, p.mime.as_str())
                    .header(reqwest::header::CONTENT_LENGTH, p.size)
                    .body(stream)
            }
        };
        let resp = req.send().await.map_err(Fault::Transport)?;
        let status = resp.status();
        let headers = resp.headers().clone();
        self.limits.observe(&headers, self.now());
        let text = resp.text().await.map_err(Fault::Transport)?;
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(Answer {
            status,
            headers,
            json,
            text,
        })
    }

    /// Sends a request with the session's access token, refreshing or
    /// recreating the session once when the PDS says the token is expired
    /// or not valid.
    async fn authed(
        &self,
        method: Method,
        nsid: &str,
        query: &[(&str, &str)],
        body: &ReqBody<'_>,
    ) -> Result<(Answer, Session), Fault> {
        let session = self.current_session().await?;
        let answer = self
            .send(
                &session.pds,
                method.clone(),
                nsid,
                query,
                body,
                Some(&session.access),
            )
            .await?;
        let renew = match auth_problem(&answer) {
            None => return Ok((answer, session)),
            Some(r) => r,
        };
        let session = self.renew(&session, renew).await?;
        let answer = self
            .send(
                &session.pds,
                method,
                nsid,
                query,
                body,
                Some(&session.access),
            )
            .await?;
        if auth_problem(&answer).is_some() {
            return Err(Fault::Outcome(Outcome::NeedsOperator {
                reason: format!(
                    "Bluesky refused a fresh session of `{}` ({}): check the account and its app password, then `berrah accounts login {}`",
                    session.handle,
                    answer.describe(),
                    self.deps.account_id
                ),
            }));
        }
        Ok((answer, session))
    }

    /// The session in memory, created first if there is none.
    async fn current_session(&self) -> Result<Session, Fault> {
        let mut guard = self.session.lock().await;
        if let Some(s) = guard.as_ref() {
            return Ok(s.clone());
        }
        let s = self.login().await?;
        *guard = Some(s.clone());
        Ok(s)
    }

    /// Replaces a session the PDS refused: refreshed (or recreated when
    /// `how` says so or the refresh fails), unless another task already did.
    async fn renew(&self, stale: &Session, how: Renew) -> Result<Session, Fault> {
        let mut guard = self.session.lock().await;
        if let Some(current) = guard.as_ref()
            && current.access.expose_secret() != stale.access.expose_secret()
        {
            return Ok(current.clone());
        }
        let fresh = match how {
            Renew::Refresh => match self.refresh(stale).await? {
                Some(s) => s,
                None => self.login().await?,
            },
            Renew::Login => self.login().await?,
        };
        *guard = Some(fresh.clone());
        Ok(fresh)
    }

    /// `refreshSession`: `None` when the refresh token is no longer accepted.
    async fn refresh(&self, stale: &Session) -> Result<Option<Session>, Fault> {
        let answer = self
            .send(
                &stale.pds,
                Method::POST,
                "com.atproto.server.refreshSession",
                &[],
                &ReqBody::None,
                Some(&stale.refresh),
            )
            .await?;
        if answer.ok() {
            return self.parse_session(&answer).map(Some);
        }
        match answer.status.as_u16() {
            429 | 500..=599 => Err(Fault::Outcome(self.classify(
                "refreshing the session",
                &answer,
                None,
            ))),
            _ => {
                tracing::info!(
                    account = %self.deps.account_id,
                    answer = %answer.describe(),
                    "Bluesky refresh token refused; creating a new session"
                );
                Ok(None)
            }
        }
    }

    /// `createSession` with the account's handle and app password.
    async fn login(&self) -> Result<Session, Fault> {
        let account = &self.deps.account_id;
        let Some(handle) = self
            .deps
            .account
            .handle
            .as_deref()
            .filter(|h| !h.is_empty())
        else {
            return Err(Fault::Outcome(Outcome::NeedsOperator {
                reason: format!(
                    "account `{account}` has no `handle` in berrah.toml: set it to the Bluesky handle (e.g. `alice.bsky.social`)"
                ),
            }));
        };
        let mut secret = self.deps.credentials.secret().await.map_err(auth_outcome)?;
        let mut renewed = false;
        loop {
            let body = json!({"identifier": handle, "password": secret.expose_secret()});
            let answer = self
                .send(
                    &self.base,
                    Method::POST,
                    "com.atproto.server.createSession",
                    &[],
                    &ReqBody::Json(&body),
                    None,
                )
                .await?;
            if answer.ok() {
                return self.parse_session(&answer);
            }
            if answer.status == StatusCode::UNAUTHORIZED
                && answer.error() == "AuthenticationRequired"
                && !renewed
            {
                renewed = true;
                let next = self
                    .deps
                    .credentials
                    .renew_rejected(&secret)
                    .await
                    .map_err(auth_outcome)?;
                if next.expose_secret() != secret.expose_secret() {
                    secret = next;
                    continue;
                }
            }
            return Err(Fault::Outcome(
                match (answer.status.as_u16(), answer.error()) {
                    (401, "AuthFactorTokenRequired") => Outcome::NeedsOperator {
                        reason: format!(
                            "Bluesky asks for an email code for `{handle}` ({}): give berrah an app password (Settings → Privacy and security → App passwords), not the main password",
                            answer.describe()
                        ),
                    },
                    (401, _) | (400, "AccountTakedown") => Outcome::NeedsOperator {
                        reason: format!(
                            "Bluesky refused the app password of `{handle}` ({}): create a new app password and update account `{account}`'s credentials",
                            answer.describe()
                        ),
                    },
                    _ => self.classify("creating a Bluesky session", &answer, None),
                },
            ));
        }
    }

    fn parse_session(&self, answer: &Answer) -> Result<Session, Fault> {
        let field = |k: &str| {
            answer
                .json
                .get(k)
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let (Some(did), Some(handle), Some(access), Some(refresh)) = (
            field("did"),
            field("handle"),
            field("accessJwt"),
            field("refreshJwt"),
        ) else {
            return Err(Fault::Outcome(Outcome::Retry {
                at: None,
                reason: format!(
                    "Bluesky answered a session without did, handle or tokens (HTTP {})",
                    answer.status.as_u16()
                ),
            }));
        };
        let pds = if self.follow_did_document {
            pds_endpoint(answer.json.get("didDoc")).unwrap_or_else(|| self.base.clone())
        } else {
            self.base.clone()
        };
        Ok(Session {
            did,
            handle,
            access: SecretString::from(access),
            refresh: SecretString::from(refresh),
            pds,
        })
    }

    /// Turns a failed answer into an outcome. `file` names the media file
    /// of an upload, for an actionable message.
    fn classify(&self, what: &str, answer: &Answer, file: Option<&Prepared>) -> Outcome {
        classify_answer(what, answer, file, self.now())
    }

    /// Resolves `@handle` mentions to DIDs (`None`: unknown, stays plain text).
    async fn resolve_handles(
        &self,
        handles: &[String],
    ) -> Result<BTreeMap<String, Option<String>>, Fault> {
        let mut out = BTreeMap::new();
        for h in handles {
            if out.contains_key(h) {
                continue;
            }
            let (answer, _) = self
                .authed(
                    Method::GET,
                    "com.atproto.identity.resolveHandle",
                    &[("handle", h.as_str())],
                    &ReqBody::None,
                )
                .await?;
            let did = if answer.ok() {
                answer
                    .json
                    .get("did")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            } else if answer.status == StatusCode::BAD_REQUEST {
                tracing::info!(handle = %h, "Bluesky does not know this handle; the mention stays plain text");
                None
            } else {
                return Err(Fault::Outcome(self.classify(
                    &format!("resolving the mention @{h}"),
                    &answer,
                    None,
                )));
            };
            out.insert(h.clone(), did);
        }
        Ok(out)
    }

    /// Measures the media of a post and checks them against Bluesky's rules.
    async fn prepare_media(&self, job: &PublishJob) -> Result<Vec<Prepared>, Outcome> {
        let mut out = Vec::new();
        for m in &job.content.media {
            let path = m.path.clone();
            let info = tokio::task::spawn_blocking({
                let path = path.clone();
                move || crate::media::probe::probe(&path)
            })
            .await
            .map_err(|e| Outcome::Failed {
                reason: format!("could not read `{}`: {e}", m.file),
            })?
            .map_err(|e| Outcome::Failed {
                reason: e.to_string(),
            })?;
            match info.kind {
                MediaKind::Image => {
                    if info.size > MAX_IMAGE_BYTES {
                        return Err(Outcome::Failed {
                            reason: format!(
                                "`{}` is {} bytes, over Bluesky's limit of {MAX_IMAGE_BYTES} bytes per image: resize or recompress it",
                                m.file, info.size
                            ),
                        });
                    }
                }
                MediaKind::Video => {
                    if info.mime != "video/mp4" {
                        return Err(Outcome::Failed {
                            reason: format!(
                                "`{}` is {}; Bluesky takes MP4 videos only: convert it",
                                m.file, info.mime
                            ),
                        });
                    }
                    if info.size > MAX_VIDEO_BYTES {
                        return Err(Outcome::Failed {
                            reason: format!(
                                "`{}` is {} bytes, over Bluesky's limit of {MAX_VIDEO_BYTES} bytes per video: make a smaller export",
                                m.file, info.size
                            ),
                        });
                    }
                }
                MediaKind::Other => {
                    return Err(Outcome::Failed {
                        reason: format!(
                            "`{}` is {}, which Bluesky does not accept as post media",
                            m.file, info.mime
                        ),
                    });
                }
            }
            let file = common::media_file(&path)
                .await
                .map_err(|reason| Outcome::Failed { reason })?;
            out.push(Prepared {
                path,
                file: m.file.clone(),
                mime: file.mime,
                size: file.size,
                sha256: file.sha256,
                alt: m.alt.clone().unwrap_or_default(),
                dims: info.width.zip(info.height),
                video: info.kind == MediaKind::Video,
            });
        }
        if out.iter().any(|m| m.video) && out.len() > 1 {
            return Err(Outcome::Failed {
                reason: format!(
                    "Bluesky takes one video per post, without images; this post has {} media files: keep only the video",
                    out.len()
                ),
            });
        }
        if out.len() > MAX_IMAGES {
            return Err(Outcome::Failed {
                reason: format!(
                    "Bluesky takes at most {MAX_IMAGES} images per post, this post has {}: remove some",
                    out.len()
                ),
            });
        }
        Ok(out)
    }

    /// The blobs of the post's images: from the progress or the upload
    /// cache, else uploaded now (and checkpointed). `fresh`: ignore both and
    /// upload again (the PDS forgot an unreferenced blob).
    async fn blobs(
        &self,
        media: &[Prepared],
        progress: &mut Progress,
        checkpoint: &dyn Checkpoint,
        fresh: bool,
    ) -> Result<Vec<ImageEmbed>, Fault> {
        let mut out = Vec::new();
        for m in media {
            let known = if fresh {
                None
            } else {
                match progress.media.get(&m.sha256) {
                    Some(b) => Some(b.clone()),
                    None => {
                        self.deps
                            .uploads
                            .get(&self.deps.account_id, &m.sha256)
                            .await
                    }
                }
            };
            let blob = match known.and_then(|b| parse_blob(&b, m)) {
                Some(b) => b,
                None => {
                    let blob = self.upload(m).await?;
                    let text = blob.to_string();
                    progress.media.insert(m.sha256.clone(), text.clone());
                    save(checkpoint, progress).await?;
                    // An unreferenced blob is kept only minutes by the PDS.
                    let expires = self
                        .now()
                        .checked_add(jiff::SignedDuration::from_mins(5))
                        .ok();
                    self.deps
                        .uploads
                        .put(&self.deps.account_id, &m.sha256, &text, expires)
                        .await;
                    blob
                }
            };
            out.push(ImageEmbed {
                blob,
                alt: m.alt.clone(),
                size: m.dims,
            });
        }
        Ok(out)
    }

    /// The processed blob of a video, through Bluesky's video service (§3.2
    /// of the notes, docs.bsky.app "tutorials/video"): a service token from
    /// the PDS (`getServiceAuth`, audience the PDS's `did:web`, method
    /// `uploadBlob`), `app.bsky.video.uploadVideo` (streamed), then
    /// `getJobStatus` until the job carries a blob. The job id is
    /// checkpointed, so a later attempt resumes polling instead of
    /// uploading again.
    async fn video(
        &self,
        m: &Prepared,
        progress: &mut Progress,
        checkpoint: &dyn Checkpoint,
        fresh: bool,
    ) -> Result<ImageEmbed, Fault> {
        let embed = |blob: Value| ImageEmbed {
            blob,
            alt: m.alt.clone(),
            size: m.dims,
        };
        if fresh {
            progress.media.remove(&m.sha256);
            progress.extra.remove(EXTRA_VIDEO_JOB);
        } else if let Some(b) = progress
            .media
            .get(&m.sha256)
            .and_then(|b| parse_video_blob(b))
        {
            return Ok(embed(b));
        }
        let service = self
            .deps
            .account
            .option_str("video_service")
            .unwrap_or(VIDEO_SERVICE)
            .trim_end_matches('/')
            .to_string();
        let mut job = progress.extra.get(EXTRA_VIDEO_JOB).cloned();
        if job.is_none() {
            let status = self.upload_video(m, &service).await?;
            match job_state(&status, &m.file) {
                JobState::Done(blob) => {
                    return self
                        .video_done(m, blob, progress, checkpoint)
                        .await
                        .map(embed);
                }
                JobState::Pending(id) => {
                    progress.extra.insert(EXTRA_VIDEO_JOB.into(), id.clone());
                    save(checkpoint, progress).await?;
                    job = Some(id);
                }
                JobState::Failed(reason) => {
                    return Err(self.video_failed(reason, progress, checkpoint).await);
                }
            }
        }
        let Some(job) = job else {
            return Err(Fault::Outcome(Outcome::Retry {
                at: None,
                reason: format!("the video service gave no job for `{}`", m.file),
            }));
        };
        let started = std::time::Instant::now();
        let mut polls = 0u32;
        loop {
            let answer = self
                .send(
                    &service,
                    Method::GET,
                    "app.bsky.video.getJobStatus",
                    &[("jobId", job.as_str())],
                    &ReqBody::None,
                    None,
                )
                .await
                .map_err(|f| match f {
                    Fault::Transport(e) => Fault::Outcome(common::transport_outcome(
                        &format!("asking the video service about `{}`", m.file),
                        &e,
                        true,
                    )),
                    other => other,
                })?;
            if !answer.ok() {
                return Err(Fault::Outcome(self.classify(
                    &format!("asking the video service about `{}`", m.file),
                    &answer,
                    Some(m),
                )));
            }
            match job_state(&answer.json, &m.file) {
                JobState::Done(blob) => {
                    return self
                        .video_done(m, blob, progress, checkpoint)
                        .await
                        .map(embed);
                }
                JobState::Failed(reason) => {
                    return Err(self.video_failed(reason, progress, checkpoint).await);
                }
                JobState::Pending(_) => {}
            }
            if started.elapsed() >= VIDEO_WAIT {
                return Err(Fault::Outcome(Outcome::Retry {
                    at: None,
                    reason: format!(
                        "the video service is still processing `{}` (job {job}); the next attempt goes on waiting",
                        m.file
                    ),
                }));
            }
            tokio::time::sleep(common::poll_interval(polls)).await;
            polls += 1;
        }
    }

    /// `getServiceAuth` then `uploadVideo`; answers the job status.
    async fn upload_video(&self, m: &Prepared, service: &str) -> Result<Value, Fault> {
        let session = self.current_session().await?;
        let aud = did_web(&session.pds);
        let exp = (self.now().as_second() + 1800).to_string();
        let (answer, session) = self
            .authed(
                Method::GET,
                "com.atproto.server.getServiceAuth",
                &[
                    ("aud", aud.as_str()),
                    ("lxm", "com.atproto.repo.uploadBlob"),
                    ("exp", exp.as_str()),
                ],
                &ReqBody::None,
            )
            .await?;
        let token = match answer.json.get("token").and_then(Value::as_str) {
            Some(t) if answer.ok() => SecretString::from(t.to_string()),
            _ => {
                return Err(Fault::Outcome(self.classify(
                    "getting a service token for the video upload",
                    &answer,
                    None,
                )));
            }
        };
        let name = m
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "video.mp4".into());
        let answer = self
            .send(
                service,
                Method::POST,
                "app.bsky.video.uploadVideo",
                &[("did", session.did.as_str()), ("name", name.as_str())],
                &ReqBody::File(m),
                Some(&token),
            )
            .await
            .map_err(|f| match f {
                Fault::Transport(e) => Fault::Outcome(common::transport_outcome(
                    &format!("uploading `{}` to the video service", m.file),
                    &e,
                    true,
                )),
                other => other,
            })?;
        // "already_exists" (reportedly a 409) still carries the job and blob.
        let status = answer.json.get("jobStatus").unwrap_or(&answer.json);
        if answer.ok()
            || status
                .get("jobId")
                .and_then(Value::as_str)
                .is_some_and(|j| !j.is_empty())
        {
            return Ok(answer.json.clone());
        }
        if status.get("error").and_then(Value::as_str) == Some("unconfirmed_email") {
            return Err(Fault::Outcome(Outcome::Failed {
                reason: format!(
                    "Bluesky posts videos only from accounts with a verified email: verify the email of `{}`, then retry `{}`",
                    session.handle, m.file
                ),
            }));
        }
        Err(Fault::Outcome(self.classify(
            &format!("uploading `{}` to the video service", m.file),
            &answer,
            Some(m),
        )))
    }

    async fn video_done(
        &self,
        m: &Prepared,
        blob: Value,
        progress: &mut Progress,
        checkpoint: &dyn Checkpoint,
    ) -> Result<Value, Fault> {
        progress.extra.remove(EXTRA_VIDEO_JOB);
        progress.extra.remove(EXTRA_VIDEO_FAILURES);
        progress.media.insert(m.sha256.clone(), blob.to_string());
        save(checkpoint, progress).await?;
        Ok(blob)
    }

    /// A failed processing job: try again later with a new upload, a few times.
    async fn video_failed(
        &self,
        reason: String,
        progress: &mut Progress,
        checkpoint: &dyn Checkpoint,
    ) -> Fault {
        let failures = progress
            .extra
            .get(EXTRA_VIDEO_FAILURES)
            .and_then(|n| n.parse::<u32>().ok())
            .unwrap_or(0)
            + 1;
        progress.extra.remove(EXTRA_VIDEO_JOB);
        progress
            .extra
            .insert(EXTRA_VIDEO_FAILURES.into(), failures.to_string());
        if let Err(f) = save(checkpoint, progress).await {
            return f;
        }
        Fault::Outcome(if failures >= VIDEO_MAX_FAILURES {
            Outcome::Failed {
                reason: format!(
                    "{reason} ({failures} times): check the video's format, or publish it elsewhere"
                ),
            }
        } else {
            Outcome::Retry { at: None, reason }
        })
    }

    /// `uploadBlob`, streamed from disk.
    async fn upload(&self, m: &Prepared) -> Result<Value, Fault> {
        let (answer, _) = self
            .authed(
                Method::POST,
                "com.atproto.repo.uploadBlob",
                &[],
                &ReqBody::File(m),
            )
            .await
            .map_err(|f| match f {
                Fault::Transport(e) => Fault::Outcome(common::transport_outcome(
                    &format!("uploading `{}` to Bluesky", m.file),
                    &e,
                    true,
                )),
                other => other,
            })?;
        if !answer.ok() {
            return Err(Fault::Outcome(self.classify(
                &format!("uploading `{}` to Bluesky", m.file),
                &answer,
                Some(m),
            )));
        }
        match answer.json.get("blob") {
            Some(b) if b.get("ref").is_some() => Ok(b.clone()),
            _ => Err(Fault::Outcome(Outcome::Retry {
                at: None,
                reason: format!(
                    "Bluesky answered the upload of `{}` without a blob: {}",
                    m.file,
                    common::excerpt(&answer.text)
                ),
            })),
        }
    }

    /// `getRecord` of one of our posts: `None` when there is none at `rkey`.
    async fn get_post(&self, rkey: &str) -> Result<Option<StrongRef>, Fault> {
        let did = self.current_session().await?.did;
        let (answer, _) = self
            .authed(
                Method::GET,
                "com.atproto.repo.getRecord",
                &[
                    ("repo", did.as_str()),
                    ("collection", POST_COLLECTION),
                    ("rkey", rkey),
                ],
                &ReqBody::None,
            )
            .await?;
        if answer.ok() {
            return Ok(strong_ref(&answer.json));
        }
        if answer.status == StatusCode::BAD_REQUEST
            && matches!(answer.error(), "RecordNotFound" | "InvalidRequest")
        {
            return Ok(None);
        }
        Err(Fault::Outcome(self.classify(
            "reading a post back from Bluesky",
            &answer,
            None,
        )))
    }

    /// `createRecord` of a post at `rkey`, adopting the record already at
    /// that key when an earlier attempt created it.
    async fn create_post(&self, rkey: &str, record: &Value, what: &str) -> Result<Created, Fault> {
        let did = self.current_session().await?.did;
        let body = json!({
            "repo": did,
            "collection": POST_COLLECTION,
            "rkey": rkey,
            "record": record,
        });
        let result = self
            .authed(
                Method::POST,
                "com.atproto.repo.createRecord",
                &[],
                &ReqBody::Json(&body),
            )
            .await;
        let answer = match result {
            Ok((answer, _)) => answer,
            Err(Fault::Transport(e)) => {
                // Keyed: sending it again cannot duplicate.
                return Err(Fault::Outcome(common::transport_outcome(what, &e, true)));
            }
            Err(f) => return Err(f),
        };
        if answer.ok() {
            return match strong_ref(&answer.json) {
                Some(r) => Ok(Created::Ref(r)),
                None => match self.get_post(rkey).await? {
                    Some(r) => Ok(Created::Ref(r)),
                    None => Err(Fault::Outcome(Outcome::Retry {
                        at: None,
                        reason: format!(
                            "{what}: Bluesky answered without uri/cid: {}",
                            common::excerpt(&answer.text)
                        ),
                    })),
                },
            };
        }
        if answer.error() == "BlobNotFound" {
            return Ok(Created::BlobNotFound(answer.message()));
        }
        if may_already_exist(&answer)
            && let Some(r) = self.get_post(rkey).await?
        {
            tracing::info!(
                account = %self.deps.account_id,
                rkey,
                "the Bluesky post was already created by an earlier attempt; adopting it"
            );
            return Ok(Created::Ref(r));
        }
        Err(Fault::Outcome(self.classify(what, &answer, None)))
    }

    /// The strong reference of a part already published, from the progress
    /// (its cid saved beside it) or read back from the PDS.
    async fn known_ref(
        &self,
        uri: &str,
        part: u64,
        progress: &mut Progress,
        checkpoint: &dyn Checkpoint,
    ) -> Result<StrongRef, Fault> {
        if let Some(cid) = progress.extra.get(&extra_cid(part)) {
            return Ok(StrongRef {
                uri: uri.to_string(),
                cid: cid.clone(),
            });
        }
        let rkey = record::rkey_of(uri).unwrap_or_default().to_string();
        match self.get_post(&rkey).await? {
            Some(r) => {
                progress.extra.insert(extra_cid(part), r.cid.clone());
                save(checkpoint, progress).await?;
                Ok(r)
            }
            None => Err(Fault::Outcome(Outcome::Failed {
                reason: format!(
                    "the Bluesky post {uri} recorded as published is gone (deleted?): the rest of its thread cannot be attached to it"
                ),
            })),
        }
    }

    async fn publish_inner(
        &self,
        job: &PublishJob,
        checkpoint: &dyn Checkpoint,
    ) -> Result<Outcome, Fault> {
        if let Some(o) = self.limits.exhausted(self.now()) {
            return Ok(o);
        }
        let content = &job.content;
        check_text("the post", &content.text)?;
        for (i, t) in content.thread.iter().enumerate() {
            check_text(&format!("thread reply {}", i + 1), t)?;
        }
        if let Some(c) = &content.first_comment {
            check_text("the first comment", c)?;
        }
        if content.thread.len() as u64 >= record::FIRST_COMMENT_PART {
            return Err(Fault::Outcome(Outcome::Failed {
                reason: format!(
                    "a thread of {} replies is longer than berrah publishes on Bluesky; split it",
                    content.thread.len()
                ),
            }));
        }
        let mut progress = job.progress.clone();
        let media = if progress.remote_id.is_none() {
            self.prepare_media(job).await?
        } else {
            Vec::new()
        };
        if content.text.trim().is_empty() && media.is_empty() && progress.remote_id.is_none() {
            return Err(Fault::Outcome(Outcome::Failed {
                reason: "the post has neither text nor media".into(),
            }));
        }

        // The record keys, fixed before anything can reach the PDS.
        let base = match progress
            .extra
            .get(EXTRA_RKEY)
            .and_then(|s| KeyBase::from_progress(s))
        {
            Some(b) => b,
            None => {
                let b = KeyBase::derive(&job.occurrence_id, job.due);
                progress.extra.insert(EXTRA_RKEY.into(), b.to_progress());
                save(checkpoint, &progress).await?;
                b
            }
        };
        let session = self.current_session().await?;
        let lang = Some(job.language.as_str()).filter(|l| !l.is_empty() && *l != "und");

        // Mentions of what is still to publish.
        let mut pending: Vec<&str> = Vec::new();
        if progress.remote_id.is_none() {
            pending.push(&content.text);
        }
        pending.extend(
            content
                .thread
                .iter()
                .skip(progress.thread.len())
                .map(String::as_str),
        );
        if progress.first_comment.is_none()
            && let Some(c) = &content.first_comment
        {
            pending.push(c);
        }
        let handles: Vec<String> = pending
            .iter()
            .flat_map(|t| record::detect(t))
            .filter_map(|s| match s.feature {
                record::Feature::Mention(h) => Some(h),
                _ => None,
            })
            .collect();
        let dids = self.resolve_handles(&handles).await?;
        let facets = |text: &str| {
            record::facets_json(&record::detect(text), |h| dids.get(h).cloned().flatten())
        };

        // 1. The main post.
        let root = match progress.remote_id.clone() {
            Some(uri) => self.known_ref(&uri, 0, &mut progress, checkpoint).await?,
            None => {
                let rkey = base.rkey(0);
                let mut fresh = false;
                let root = loop {
                    let embed = if media.is_empty() {
                        record::link_card(&content.text).unwrap_or(Embed::None)
                    } else if media[0].video {
                        Embed::Video(
                            self.video(&media[0], &mut progress, checkpoint, fresh)
                                .await?,
                        )
                    } else {
                        Embed::Images(self.blobs(&media, &mut progress, checkpoint, fresh).await?)
                    };
                    let rec = record::post_record(&PostParts {
                        text: &content.text,
                        created_at: self.now(),
                        lang,
                        facets: facets(&content.text),
                        embed,
                        reply: None,
                    });
                    match self.create_post(&rkey, &rec, "publishing the post").await? {
                        Created::Ref(r) => break r,
                        Created::BlobNotFound(msg) if !fresh && !media.is_empty() => {
                            tracing::info!(%msg, "Bluesky forgot an uploaded image; uploading again");
                            fresh = true;
                        }
                        Created::BlobNotFound(msg) => {
                            return Err(Fault::Outcome(Outcome::Retry {
                                at: None,
                                reason: format!("Bluesky lost the uploaded images: {msg}"),
                            }));
                        }
                    }
                };
                progress.remote_id = Some(root.uri.clone());
                progress.url = Some(record::post_url(&session.handle, &rkey));
                progress.extra.insert(extra_cid(0), root.cid.clone());
                save(checkpoint, &progress).await?;
                for m in &media {
                    if let Some(b) = progress.media.get(&m.sha256) {
                        // Referenced by a post now: the PDS keeps it.
                        self.deps
                            .uploads
                            .put(&self.deps.account_id, &m.sha256, b, None)
                            .await;
                    }
                }
                root
            }
        };
        let remote_id = root.uri.clone();
        let url = progress.url.clone();

        // 2. The thread, each reply under the previous one.
        let mut parent = match progress.thread.last().cloned() {
            Some(uri) => {
                let part = progress.thread.len() as u64;
                self.known_ref(&uri, part, &mut progress, checkpoint)
                    .await?
            }
            None => root.clone(),
        };
        for i in progress.thread.len()..content.thread.len() {
            let part = i as u64 + 1;
            let text = &content.thread[i];
            let rec = record::post_record(&PostParts {
                text,
                created_at: self.now(),
                lang,
                facets: facets(text),
                embed: Embed::None,
                reply: Some((root.clone(), parent.clone())),
            });
            let what = format!(
                "publishing thread reply {} (the post is out at {remote_id})",
                i + 1
            );
            let created = match self.create_post(&base.rkey(part), &rec, &what).await? {
                Created::Ref(r) => r,
                Created::BlobNotFound(msg) => {
                    return Err(Fault::Outcome(Outcome::Failed {
                        reason: format!("{what}: {msg}"),
                    }));
                }
            };
            progress.thread.push(created.uri.clone());
            progress.extra.insert(extra_cid(part), created.cid.clone());
            save(checkpoint, &progress).await?;
            parent = created;
        }

        // 3. The first comment, under the post.
        if progress.first_comment.is_none()
            && let Some(text) = &content.first_comment
        {
            let rec = record::post_record(&PostParts {
                text,
                created_at: self.now(),
                lang,
                facets: facets(text),
                embed: Embed::None,
                reply: Some((root.clone(), root.clone())),
            });
            let what = format!("publishing the first comment (the post is out at {remote_id})");
            let part = record::FIRST_COMMENT_PART;
            match self.create_post(&base.rkey(part), &rec, &what).await? {
                Created::Ref(r) => {
                    progress.first_comment = Some(r.uri.clone());
                    progress.extra.insert(extra_cid(part), r.cid);
                    save(checkpoint, &progress).await?;
                }
                Created::BlobNotFound(msg) => {
                    return Err(Fault::Outcome(Outcome::Failed {
                        reason: format!("{what}: {msg}"),
                    }));
                }
            }
        }
        Ok(Outcome::Published { remote_id, url })
    }
}

/// What `createRecord` achieved.
enum Created {
    Ref(StrongRef),
    /// The PDS no longer has an uploaded blob (unreferenced blobs expire).
    BlobNotFound(String),
}

/// How to replace a refused session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Renew {
    Refresh,
    Login,
}

/// Whether an answer says the access token must be renewed, and how:
/// `400 ExpiredToken` (refresh), `400 InvalidToken` or `401` without a
/// takedown (a new session).
fn auth_problem(a: &Answer) -> Option<Renew> {
    match (a.status.as_u16(), a.error()) {
        (400, "ExpiredToken") => Some(Renew::Refresh),
        (400, "InvalidToken") => Some(Renew::Login),
        (401, "AccountTakedown") => None,
        (401, _) => Some(Renew::Login),
        _ => None,
    }
}

/// Whether a failed `createRecord` may mean a record is already at the key
/// (an earlier attempt): the reference PDS answers 500 ("There is already a
/// value at key", indigo#873) or a 400 naming the conflict, depending on the
/// version.
fn may_already_exist(a: &Answer) -> bool {
    let msg = a.message().to_lowercase();
    a.status.is_server_error()
        || a.error() == "InvalidSwap"
        || msg.contains("already exist")
        || msg.contains("already a value")
}

/// The outcome of a failed answer (pure: tested).
fn classify_answer(
    what: &str,
    answer: &Answer,
    file: Option<&Prepared>,
    now: jiff::Timestamp,
) -> Outcome {
    let described = answer.describe();
    match answer.status.as_u16() {
        413 => Outcome::Failed {
            reason: match file {
                Some(f) => format!(
                    "{what}: Bluesky refused `{}` ({} bytes) as too large ({described}): make it smaller",
                    f.file, f.size
                ),
                None => format!("{what}: Bluesky refused the request as too large ({described})"),
            },
        },
        415 => Outcome::Failed {
            reason: format!(
                "{what}: Bluesky does not accept this type ({}): {described}",
                file.map(|f| f.mime.as_str()).unwrap_or("unknown")
            ),
        },
        401 => Outcome::NeedsOperator {
            reason: format!(
                "{what}: {described} (the session was refused: check the app password, then `berrah accounts login`)"
            ),
        },
        400 if matches!(answer.error(), "ExpiredToken" | "InvalidToken") => {
            Outcome::NeedsOperator {
                reason: format!("{what}: {described} (the session was refused)"),
            }
        }
        408 | 425 | 429 | 500..=599 => Outcome::Retry {
            at: common::retry_at(&answer.headers, now),
            reason: format!("{what}: {described}"),
        },
        _ => Outcome::Failed {
            reason: match file {
                Some(f) => format!("{what}: Bluesky refused `{}`: {described}", f.file),
                None => format!("{what}: Bluesky refused it: {described}"),
            },
        },
    }
}

/// Where a video job stands.
enum JobState {
    Done(Value),
    Pending(String),
    Failed(String),
}

/// Reads a job status, bare (`uploadVideo`) or wrapped in `jobStatus`
/// (`getJobStatus`): done when it carries a blob, failed on
/// `JOB_STATE_FAILED`, pending otherwise (unknown states too).
fn job_state(v: &Value, file: &str) -> JobState {
    let st = v.get("jobStatus").unwrap_or(v);
    if let Some(blob) = st.get("blob").filter(|b| b.get("ref").is_some()) {
        return JobState::Done(blob.clone());
    }
    let state = st.get("state").and_then(Value::as_str).unwrap_or("");
    if state == "JOB_STATE_FAILED" {
        let what = [st.get("failureCode"), st.get("error"), st.get("message")]
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(": ");
        return JobState::Failed(format!(
            "Bluesky's video service could not process `{file}` ({})",
            if what.is_empty() {
                "no reason given"
            } else {
                &what
            }
        ));
    }
    match st.get("jobId").and_then(Value::as_str) {
        Some(id) if !id.is_empty() => JobState::Pending(id.to_string()),
        _ => JobState::Failed(format!(
            "Bluesky's video service answered no job for `{file}`: {}",
            common::excerpt(&v.to_string())
        )),
    }
}

/// The `did:web` of a PDS URL (the audience of a video service token).
fn did_web(pds: &str) -> String {
    let host = url::Url::parse(pds)
        .ok()
        .and_then(|u| {
            u.host_str().map(|h| match u.port() {
                Some(p) => format!("{h}%3A{p}"),
                None => h.to_string(),
            })
        })
        .unwrap_or_default();
    format!("did:web:{host}")
}

/// A processed video blob saved in the progress.
fn parse_video_blob(saved: &str) -> Option<Value> {
    let v: Value = serde_json::from_str(saved).ok()?;
    let ok = v.get("ref").and_then(|r| r.get("$link")).is_some()
        && v.get("mimeType")
            .and_then(Value::as_str)
            .is_some_and(|m| m.starts_with("video/"));
    ok.then_some(v)
}

/// `{uri, cid}` of a createRecord or getRecord answer.
fn strong_ref(v: &Value) -> Option<StrongRef> {
    Some(StrongRef {
        uri: v.get("uri")?.as_str()?.to_string(),
        cid: v.get("cid")?.as_str()?.to_string(),
    })
}

/// A blob object saved in the progress or the upload cache, checked against
/// the file it stands for.
fn parse_blob(saved: &str, m: &Prepared) -> Option<Value> {
    let v: Value = serde_json::from_str(saved).ok()?;
    let ok = v.get("ref").and_then(|r| r.get("$link")).is_some()
        && v.get("size").and_then(Value::as_u64) == Some(m.size);
    ok.then_some(v)
}

/// The `#atproto_pds` service endpoint of a DID document.
fn pds_endpoint(did_doc: Option<&Value>) -> Option<String> {
    did_doc?
        .get("service")?
        .as_array()?
        .iter()
        .find(|s| {
            s.get("id")
                .and_then(Value::as_str)
                .is_some_and(|id| id == "#atproto_pds" || id.ends_with("#atproto_pds"))
        })?
        .get("serviceEndpoint")?
        .as_str()
        .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
        .map(|u| u.trim_end_matches('/').to_string())
}

fn check_text(what: &str, text: &str) -> Result<(), Fault> {
    let over = limits::check_text(PlatformKind::Bluesky, text, None, false);
    match over.first() {
        None => Ok(()),
        Some(o) => Err(Fault::Outcome(Outcome::Failed {
            reason: format!(
                "{what} {}: shorten it (Bluesky counts 300 graphemes and 3,000 bytes)",
                o.describe()
            ),
        })),
    }
}

async fn save(checkpoint: &dyn Checkpoint, progress: &Progress) -> Result<(), Fault> {
    checkpoint.save(progress).await.map_err(|e| {
        Fault::Outcome(Outcome::Retry {
            at: None,
            reason: e.to_string(),
        })
    })
}

fn auth_outcome(e: AuthError) -> Fault {
    Fault::Outcome(match e {
        AuthError::Transient { .. } => Outcome::Retry {
            at: None,
            reason: e.to_string(),
        },
        AuthError::NeedsLogin { .. } | AuthError::Config { .. } => Outcome::NeedsOperator {
            reason: e.to_string(),
        },
    })
}

#[async_trait]
impl Platform for Bluesky {
    fn kind(&self) -> PlatformKind {
        PlatformKind::Bluesky
    }

    fn idempotency(&self) -> Idempotency {
        Idempotency::Keyed
    }

    async fn publish(&self, job: &PublishJob, checkpoint: &dyn Checkpoint) -> Outcome {
        match self.publish_inner(job, checkpoint).await {
            Ok(o) => o,
            Err(Fault::Outcome(o)) => o,
            // Every request here is keyed or read-only: safe to send again.
            Err(Fault::Transport(e)) => common::transport_outcome("calling Bluesky", &e, true),
        }
    }
}

/// Names the account, never a token.
impl std::fmt::Debug for Bluesky {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bluesky")
            .field("account", &self.deps.account_id)
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn answer(status: u16, body: Value) -> Answer {
        Answer {
            status: StatusCode::from_u16(status).unwrap(),
            headers: HeaderMap::new(),
            text: body.to_string(),
            json: body,
        }
    }

    fn now() -> jiff::Timestamp {
        "2026-12-18T09:00:00Z".parse().unwrap()
    }

    #[test]
    fn auth_problems_are_told_apart() {
        let expired = answer(
            400,
            json!({"error": "ExpiredToken", "message": "Token has expired"}),
        );
        assert_eq!(auth_problem(&expired), Some(Renew::Refresh));
        let invalid = answer(
            400,
            json!({"error": "InvalidToken", "message": "Bad token"}),
        );
        assert_eq!(auth_problem(&invalid), Some(Renew::Login));
        let missing = answer(
            401,
            json!({"error": "AuthMissing", "message": "Authentication Required"}),
        );
        assert_eq!(auth_problem(&missing), Some(Renew::Login));
        let takedown = answer(401, json!({"error": "AccountTakedown", "message": "x"}));
        assert_eq!(auth_problem(&takedown), None);
        let other = answer(400, json!({"error": "InvalidRequest", "message": "x"}));
        assert_eq!(auth_problem(&other), None);
    }

    #[test]
    fn answers_become_outcomes() {
        let mut limited = answer(
            429,
            json!({"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}),
        );
        limited
            .headers
            .insert("ratelimit-reset", HeaderValue::from_static("1797584700"));
        assert_eq!(
            classify_answer("x", &limited, None, now()),
            Outcome::Retry {
                at: jiff::Timestamp::from_second(1797584700).ok(),
                reason: "x: HTTP 429 RateLimitExceeded: Rate Limit Exceeded".into()
            }
        );
        let file = Prepared {
            path: "/c/photo.jpg".into(),
            file: "media/photo.jpg".into(),
            mime: "image/jpeg".into(),
            size: 6_000_000,
            sha256: "00".into(),
            alt: String::new(),
            dims: None,
            video: false,
        };
        let big = answer(
            413,
            json!({"error": "PayloadTooLarge", "message": "request entity too large"}),
        );
        match classify_answer("uploading", &big, Some(&file), now()) {
            Outcome::Failed { reason } => assert!(reason.contains("`media/photo.jpg`"), "{reason}"),
            o => panic!("{o:?}"),
        }
        let down = answer(502, json!({"error": "UpstreamFailure", "message": "x"}));
        assert!(matches!(
            classify_answer("x", &down, None, now()),
            Outcome::Retry { .. }
        ));
        let bad = answer(
            400,
            json!({"error": "InvalidRequest", "message": "Invalid app.bsky.feed.post record"}),
        );
        match classify_answer("x", &bad, None, now()) {
            Outcome::Failed { reason } => {
                assert!(reason.contains("Invalid app.bsky.feed.post record"))
            }
            o => panic!("{o:?}"),
        }
        let html = answer(503, Value::Null);
        assert!(matches!(
            classify_answer("x", &html, None, now()),
            Outcome::Retry { .. }
        ));
    }

    #[test]
    fn duplicates_are_recognised() {
        assert!(may_already_exist(&answer(
            500,
            json!({"error": "InternalServerError", "message": "Internal Server Error"})
        )));
        assert!(may_already_exist(&answer(
            400,
            json!({"error": "InvalidRequest", "message": "Record already exists"})
        )));
        assert!(!may_already_exist(&answer(
            400,
            json!({"error": "InvalidRequest", "message": "Invalid record"})
        )));
    }

    #[test]
    fn the_pds_comes_from_the_did_document() {
        let doc = json!({"id": "did:plc:x", "service": [
            {"id": "#other", "type": "X", "serviceEndpoint": "https://nope"},
            {"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": "https://amanita.us-east.host.bsky.network/"}
        ]});
        assert_eq!(
            pds_endpoint(Some(&doc)).as_deref(),
            Some("https://amanita.us-east.host.bsky.network")
        );
        assert_eq!(pds_endpoint(Some(&json!({"service": "bad"}))), None);
        assert_eq!(pds_endpoint(None), None);
    }

    #[test]
    fn saved_blobs_must_match_the_file() {
        let m = Prepared {
            path: "/c/p.png".into(),
            file: "p.png".into(),
            mime: "image/png".into(),
            size: 42,
            sha256: "00".into(),
            alt: String::new(),
            dims: None,
            video: false,
        };
        let blob =
            json!({"$type": "blob", "ref": {"$link": "bafk"}, "mimeType": "image/png", "size": 42});
        assert_eq!(parse_blob(&blob.to_string(), &m), Some(blob));
        assert_eq!(parse_blob("bafkrei", &m), None);
        let other =
            json!({"$type": "blob", "ref": {"$link": "bafk"}, "mimeType": "image/png", "size": 7});
        assert_eq!(parse_blob(&other.to_string(), &m), None);
    }

    #[test]
    fn video_jobs_bare_or_wrapped() {
        let bare = json!({"did": "did:plc:x", "jobId": "j1", "state": "JOB_STATE_CREATED"});
        assert!(matches!(job_state(&bare, "v.mp4"), JobState::Pending(id) if id == "j1"));
        let wrapped = json!({"jobStatus": {"jobId": "j1", "state": "JOB_STATE_SOMETHING_NEW"}});
        assert!(matches!(job_state(&wrapped, "v.mp4"), JobState::Pending(_)));
        let done = json!({"jobStatus": {"jobId": "j1", "state": "JOB_STATE_COMPLETED",
            "blob": {"$type": "blob", "ref": {"$link": "bafk"}, "mimeType": "video/mp4", "size": 9}}});
        assert!(matches!(job_state(&done, "v.mp4"), JobState::Done(_)));
        // "already_exists" still carries the blob.
        let exists = json!({"did": "d", "error": "already_exists", "jobId": "j2", "state": "JOB_STATE_COMPLETED",
            "blob": {"$type": "blob", "ref": {"$link": "bafk"}, "mimeType": "video/mp4", "size": 9}});
        assert!(matches!(job_state(&exists, "v.mp4"), JobState::Done(_)));
        let failed = json!({"jobStatus": {"jobId": "j1", "state": "JOB_STATE_FAILED", "failureCode": "encoding_failure"}});
        match job_state(&failed, "media/v.mp4") {
            JobState::Failed(r) => assert!(
                r.contains("media/v.mp4") && r.contains("encoding_failure"),
                "{r}"
            ),
            _ => panic!(),
        }
        assert_eq!(
            did_web("https://amanita.us-east.host.bsky.network"),
            "did:web:amanita.us-east.host.bsky.network"
        );
        assert_eq!(
            did_web("http://127.0.0.1:2583/"),
            "did:web:127.0.0.1%3A2583"
        );
    }
}
