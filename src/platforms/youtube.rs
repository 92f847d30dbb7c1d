//! YouTube publishing: a video uploaded with the resumable upload protocol,
//! its title, description, language, privacy, scheduled publication and
//! thumbnail.
//!
//! Everything here follows `docs/platforms/youtube.md` (Google's
//! guide "Resumable uploads", `videos.insert`, `thumbnails.set`, the Data
//! API error reference):
//!
//! 1. `POST /upload/youtube/v3/videos?uploadType=resumable&part=snippet,status`
//!    with the video resource as JSON and `X-Upload-Content-Length` /
//!    `X-Upload-Content-Type`: `200` with the session URI in `Location`, saved
//!    in `progress.extra` at once, before any byte is sent.
//! 2. `PUT <session>` per chunk with `Content-Range: bytes a-b/TOTAL` (every
//!    chunk but the last a multiple of 256 KiB): `308` with `Range: bytes=0-N`
//!    means "continue from N+1" (no `Range`: from 0); `200`/`201` carries the
//!    video resource and its `id`.
//! 3. After an interruption (transport fault, 5xx), `PUT <session>` with
//!    `Content-Range: bytes */TOTAL` and no body: `308` + `Range` gives the
//!    offset to resume from, or the server replays the final answer with the
//!    video id. `404`: the session expired; a new one starts from byte 0.
//!
//! The session makes the upload queryable ([`Idempotency::Queryable`]):
//! [`Platform::resolve`] asks it what happened after a crash.

use std::future::Future;

use async_trait::async_trait;
use jiff::Timestamp;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use super::common::{
    MediaFile, TokenScope, describe_transport, excerpt, file_body, file_section, header_str,
    media_file, media_size, retry_at, thumbnail_file,
};
use super::{Checkpoint, Idempotency, Outcome, Platform, PlatformDeps, Progress, PublishJob};
use crate::config::PlatformKind;
use crate::http::{JSON_BODY_LIMIT, read_answer, read_error_text};
use crate::plan::Content;
use crate::text::limits::{YOUTUBE_DESCRIPTION_MAX_BYTES, YOUTUBE_TITLE_MAX};

/// Chunks are multiples of 256 KiB (the protocol's rule for non-final chunks).
pub const CHUNK_UNIT: u64 = 256 * 1024;
/// Default chunk: 8 MiB (Google's clients use 10 MiB to 100 MiB).
pub const DEFAULT_CHUNK_BYTES: u64 = 32 * CHUNK_UNIT;
/// `thumbnails.set` takes JPEG or PNG up to 2 MB.
pub const THUMBNAIL_MAX_BYTES: u64 = 2 * 1024 * 1024;
/// Status queries after an interruption, within one attempt.
const MAX_QUERIES: u32 = 3;

/// `progress.extra` keys.
pub const SESSION_KEY: &str = "youtube.session";
/// The SHA-256 of the file the session uploads.
pub const SESSION_SHA_KEY: &str = "youtube.sha256";
/// Set just before the last chunk is sent: from then on, an expired session
/// may have produced a video.
pub const FINAL_SENT_KEY: &str = "youtube.final_sent";
/// The thumbnail is set (or was refused for good).
pub const THUMBNAIL_KEY: &str = "youtube.thumbnail";

/// Hosts besides the account's API origin that may receive its token: the
/// ones Google documents for YouTube's resumable uploads (session URIs).
pub const UPLOAD_HOSTS: &[&str] = &["www.googleapis.com", "youtube.googleapis.com"];

/// Builds the client of one YouTube channel.
///
/// Account options: `privacy` (`public`, default; `unlisted`, `private`),
/// `scheduled = true` (upload early as private with `publishAt` = the
/// occurrence's due time, when that is still ahead), `category` (id, default
/// 22 "People & Blogs"), `tags` (list), `made_for_kids` (default false),
/// `chunk_size` (bytes, a multiple of 256 KiB; default 8 MiB).
pub fn build(deps: PlatformDeps) -> Box<dyn Platform> {
    Box::new(YouTube::new(deps))
}

/// The YouTube client of one channel.
pub struct YouTube {
    deps: PlatformDeps,
    base: String,
    /// Where the token may go (the session URI comes from an answer).
    scope: TokenScope,
    chunk: u64,
}

enum Fault {
    Transport(crate::http::BodyError),
    Stop(Outcome),
}

struct Token {
    secret: SecretString,
    renewed: bool,
}

/// What the session said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionState {
    /// Bytes received so far: continue from this offset.
    Offset(u64),
    /// The upload is complete: the video's id.
    Done(String),
    /// `404`: the session expired or never existed.
    Gone,
}

impl YouTube {
    /// A client for `deps.account` (base URL `https://www.googleapis.com` unless set).
    pub fn new(deps: PlatformDeps) -> YouTube {
        let base = deps
            .account
            .base_url()
            .unwrap_or("https://www.googleapis.com")
            .trim_end_matches('/')
            .to_string();
        let chunk = deps
            .account
            .options
            .get("chunk_size")
            .and_then(|v| v.as_integer())
            .and_then(|n| u64::try_from(n).ok())
            .map(|n| (n / CHUNK_UNIT).max(1) * CHUNK_UNIT)
            .unwrap_or(DEFAULT_CHUNK_BYTES);
        let scope = TokenScope::new(&base, UPLOAD_HOSTS);
        YouTube {
            deps,
            base,
            scope,
            chunk,
        }
    }

    fn now(&self) -> Timestamp {
        self.deps.clock.now()
    }

    async fn token(&self) -> Result<Token, Outcome> {
        let secret = self
            .deps
            .credentials
            .secret()
            .await
            .map_err(super::common::auth_outcome)?;
        Ok(Token {
            secret,
            renewed: false,
        })
    }

    /// Sends what `build` makes with the bearer token; renews it once on a 401.
    async fn call<F, Fut>(&self, token: &mut Token, build: F) -> Result<reqwest::Response, Fault>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<reqwest::RequestBuilder, String>>,
    {
        loop {
            let req = build()
                .await
                .map_err(|reason| Fault::Stop(Outcome::Failed { reason }))?;
            // The session URI is the answer's `Location`: the token goes
            // with it only on YouTube's own hosts.
            let (client, request) = req.build_split();
            let request = request.map_err(|e| Fault::Transport(e.into()))?;
            let host = request.url().host_str().unwrap_or("").to_string();
            let with_token = self.scope.allows(request.url().as_str());
            let mut req = reqwest::RequestBuilder::from_parts(client, request);
            if with_token {
                req = req.bearer_auth(token.secret.expose_secret());
            }
            let resp = req.send().await.map_err(|e| Fault::Transport(e.into()))?;
            if resp.status() != StatusCode::UNAUTHORIZED {
                return Ok(resp);
            }
            if !with_token {
                return Err(Fault::Stop(Outcome::Failed {
                    reason: format!(
                        "the upload session is on `{host}`, which asked for the channel's \
                         token; berrah sends it only to {} (docs/platforms/youtube.md)",
                        self.scope.describe()
                    ),
                }));
            }
            let message = error_parts(&read_error_text(resp).await).1;
            if token.renewed {
                return Err(Fault::Stop(refused(&message)));
            }
            token.renewed = true;
            let renewed = self
                .deps
                .credentials
                .renew_rejected(&token.secret)
                .await
                .map_err(|e| Fault::Stop(super::common::auth_outcome(e)))?;
            if renewed.expose_secret() == token.secret.expose_secret() {
                return Err(Fault::Stop(refused(&message)));
            }
            token.secret = renewed;
        }
    }

    /// Starts an upload session; its URI.
    async fn start_session(
        &self,
        token: &mut Token,
        file: &MediaFile,
        metadata: &Value,
    ) -> Result<String, Outcome> {
        let url = format!(
            "{}/upload/youtube/v3/videos?uploadType=resumable&part=snippet,status",
            self.base
        );
        let what = "starting the YouTube upload";
        let resp = self
            .call(token, || async {
                Ok(self
                    .deps
                    .http
                    .post(&url)
                    .header("X-Upload-Content-Length", file.size.to_string())
                    .header("X-Upload-Content-Type", file.mime.as_str())
                    .json(metadata))
            })
            .await
            .map_err(|f| fault(f, what))?;
        let status = resp.status();
        let headers = resp.headers().clone();
        if !status.is_success() {
            let body = read_error_text(resp).await;
            return Err(classify(status, &headers, &body, self.now(), what));
        }
        let location = header_str(&headers, "location").ok_or_else(|| Outcome::Retry {
            at: None,
            reason: format!("{what}: YouTube answered without a session URI (Location)"),
        })?;
        // A relative Location is resolved against the API host.
        Ok(match url::Url::parse(location) {
            Ok(u) => u.to_string(),
            Err(_) => format!("{}{}", self.base, location),
        })
    }

    /// `PUT <session>` with `Content-Range: bytes */TOTAL`: where the upload is.
    async fn query(
        &self,
        token: &mut Token,
        session: &str,
        total: u64,
    ) -> Result<SessionState, Outcome> {
        let what = "asking YouTube where the upload stands";
        let resp = self
            .call(token, || async {
                Ok(self
                    .deps
                    .http
                    .put(session)
                    .header("Content-Length", "0")
                    .header("Content-Range", format!("bytes */{total}")))
            })
            .await
            .map_err(|f| fault(f, what))?;
        self.session_answer(resp, what).await
    }

    /// Reads an answer of the session URI.
    async fn session_answer(
        &self,
        resp: reqwest::Response,
        what: &str,
    ) -> Result<SessionState, Outcome> {
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = read_answer(resp, JSON_BODY_LIMIT)
            .await
            .map_err(|e| Outcome::Retry {
                at: None,
                reason: format!("{what}: {}", describe_transport(&e)),
            })?;
        match status.as_u16() {
            308 => Ok(SessionState::Offset(received(&headers))),
            200 | 201 => parse_video_id(&body)
                .map(SessionState::Done)
                .ok_or_else(|| Outcome::Retry {
                    at: None,
                    reason: format!(
                        "{what}: YouTube's final answer has no video id: {}",
                        excerpt(&body)
                    ),
                }),
            404 => Ok(SessionState::Gone),
            _ => Err(classify(status, &headers, &body, self.now(), what)),
        }
    }

    /// Sends the bytes from `offset` on, chunk by chunk; queries the session
    /// after an interruption and resumes from the offset it reports.
    async fn upload(
        &self,
        token: &mut Token,
        session: &str,
        file: &MediaFile,
        mut offset: u64,
        progress: &mut Progress,
        checkpoint: &dyn Checkpoint,
    ) -> Result<SessionState, Outcome> {
        let total = file.size;
        let mut interruptions = 0;
        loop {
            if offset >= total {
                // Everything is sent but no final answer was read: ask.
                match self.query(token, session, total).await? {
                    SessionState::Offset(o) if o >= total => {
                        return Err(Outcome::Retry {
                            at: None,
                            reason: "YouTube has every byte but has not answered yet".into(),
                        });
                    }
                    SessionState::Offset(o) => {
                        offset = o;
                        continue;
                    }
                    other => return Ok(other),
                }
            }
            let len = self.chunk.min(total - offset);
            if offset + len == total && !progress.extra.contains_key(FINAL_SENT_KEY) {
                progress.extra.insert(FINAL_SENT_KEY.into(), "true".into());
                save(checkpoint, progress).await?;
            }
            let what = format!("uploading `{}` to YouTube", file.path.display());
            let sent = self
                .call(token, || async {
                    let body = file_section(file, offset, len);
                    Ok(self
                        .deps
                        .http
                        .put(session)
                        .header("Content-Length", len.to_string())
                        .header("Content-Type", file.mime.as_str())
                        .header(
                            "Content-Range",
                            format!("bytes {offset}-{}/{total}", offset + len - 1),
                        )
                        .body(body))
                })
                .await;
            let answer = match sent {
                Ok(resp) if resp.status().is_server_error() => {
                    Err(format!("YouTube answered HTTP {}", resp.status().as_u16()))
                }
                Ok(resp) => Ok(self.session_answer(resp, &what).await?),
                Err(Fault::Stop(o)) => return Err(o),
                Err(Fault::Transport(e)) => Err(describe_transport(&e)),
            };
            match answer {
                Ok(SessionState::Offset(o)) => {
                    if o <= offset {
                        interruptions += 1;
                        if interruptions > MAX_QUERIES {
                            return Err(Outcome::Retry {
                                at: None,
                                reason: format!(
                                    "{what}: YouTube keeps refusing the chunk at byte {offset}"
                                ),
                            });
                        }
                    }
                    offset = o;
                }
                Ok(other) => return Ok(other),
                Err(why) => {
                    // Interrupted (5xx, connection lost): ask the session
                    // where it stands, and resume from there.
                    let mut last = why;
                    loop {
                        interruptions += 1;
                        if interruptions > MAX_QUERIES {
                            return Err(Outcome::Retry {
                                at: None,
                                reason: format!(
                                    "{what}: {last}; the session is saved and the next attempt resumes it"
                                ),
                            });
                        }
                        let wait = super::common::poll_interval(interruptions);
                        let until = self
                            .now()
                            .checked_add(jiff::SignedDuration::try_from(wait).unwrap_or_default())
                            .unwrap_or(Timestamp::MAX);
                        self.deps.clock.sleep_until(until).await;
                        match self.query(token, session, total).await {
                            Ok(SessionState::Offset(o)) => {
                                offset = o;
                                break;
                            }
                            Ok(other) => return Ok(other),
                            Err(Outcome::Retry { reason, .. }) => last = reason,
                            Err(o) => return Err(o),
                        }
                    }
                }
            }
        }
    }

    /// Sets the thumbnail, once. A refusal (custom thumbnails need a verified
    /// channel) does not undo the publication: it is logged.
    async fn thumbnail(
        &self,
        token: &mut Token,
        video_id: &str,
        progress: &mut Progress,
        checkpoint: &dyn Checkpoint,
        image: Option<&MediaFile>,
    ) -> Result<(), Outcome> {
        let Some(image) = image else {
            return Ok(());
        };
        if progress.extra.contains_key(THUMBNAIL_KEY) {
            return Ok(());
        }
        let url = format!(
            "{}/upload/youtube/v3/thumbnails/set?videoId={video_id}&uploadType=media",
            self.base
        );
        let what = format!("setting the thumbnail `{}`", image.path.display());
        let resp = self
            .call(token, || async {
                let body = file_body(image);
                Ok(self
                    .deps
                    .http
                    .post(&url)
                    .header("Content-Type", image.mime.as_str())
                    .header("Content-Length", image.size.to_string())
                    .body(body))
            })
            .await
            .map_err(|f| fault(f, &what))?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = read_answer(resp, JSON_BODY_LIMIT).await.unwrap_or_default();
        let state = if status.is_success() {
            "set".to_string()
        } else {
            match classify(status, &headers, &body, self.now(), &what) {
                Outcome::Failed { reason } => {
                    tracing::warn!(video = video_id, %reason, "the video is out without its thumbnail");
                    format!("refused: {reason}")
                }
                other => return Err(other),
            }
        };
        progress.extra.insert(THUMBNAIL_KEY.into(), state);
        save(checkpoint, progress).await
    }

    async fn run(&self, job: &PublishJob, checkpoint: &dyn Checkpoint) -> Result<Outcome, Outcome> {
        let mut progress = job.progress.clone();
        let video = video_of(&job.content)?;
        let metadata = if progress.remote_id.is_none() {
            Some(video_resource(job, self.now())?)
        } else {
            None
        };
        // Opened (beneath the campaign's folder) and checked before the
        // video goes out, then uploaded from the same handle.
        let thumbnail = check_thumbnail(&job.content).await?;
        let mut token = self.token().await?;
        let video_id = match (progress.remote_id.clone(), metadata) {
            (Some(id), _) => id,
            (None, metadata) => {
                let metadata = metadata.unwrap_or(Value::Null);
                let file = media_file(video)
                    .await
                    .map_err(|reason| Outcome::Failed { reason })?;
                if !file.mime.starts_with("video/") {
                    return Err(Outcome::Failed {
                        reason: format!(
                            "`{}` is {}, not a video: YouTube publishes videos only",
                            video.file, file.mime
                        ),
                    });
                }
                let id = self
                    .upload_video(&mut token, &file, &metadata, &mut progress, checkpoint)
                    .await?;
                progress.remote_id = Some(id.clone());
                progress.url = Some(watch_url(&id));
                for k in [SESSION_KEY, SESSION_SHA_KEY, FINAL_SENT_KEY] {
                    progress.extra.remove(k);
                }
                save(checkpoint, &progress).await?;
                id
            }
        };
        self.thumbnail(
            &mut token,
            &video_id,
            &mut progress,
            checkpoint,
            thumbnail.as_ref(),
        )
        .await?;
        Ok(Outcome::Published {
            url: Some(watch_url(&video_id)),
            remote_id: video_id,
        })
    }

    async fn upload_video(
        &self,
        token: &mut Token,
        file: &MediaFile,
        metadata: &Value,
        progress: &mut Progress,
        checkpoint: &dyn Checkpoint,
    ) -> Result<String, Outcome> {
        for _ in 0..2 {
            let saved = progress
                .extra
                .get(SESSION_KEY)
                .filter(|_| progress.extra.get(SESSION_SHA_KEY) == Some(&file.sha256))
                .cloned();
            let (session, offset) = match saved {
                Some(session) => match self.query(token, &session, file.size).await? {
                    SessionState::Done(id) => return Ok(id),
                    SessionState::Offset(o) => (session, o),
                    SessionState::Gone => {
                        self.forget_session(progress, checkpoint).await?;
                        continue;
                    }
                },
                None => {
                    let session = self.start_session(token, file, metadata).await?;
                    progress.extra.insert(SESSION_KEY.into(), session.clone());
                    progress
                        .extra
                        .insert(SESSION_SHA_KEY.into(), file.sha256.clone());
                    progress.extra.remove(FINAL_SENT_KEY);
                    save(checkpoint, progress).await?;
                    (session, 0)
                }
            };
            match self
                .upload(token, &session, file, offset, progress, checkpoint)
                .await?
            {
                SessionState::Done(id) => return Ok(id),
                SessionState::Gone => self.forget_session(progress, checkpoint).await?,
                SessionState::Offset(_) => {}
            }
        }
        Err(Outcome::Retry {
            at: None,
            reason: "YouTube's upload sessions keep expiring; trying again later".into(),
        })
    }

    /// An expired session is forgotten, unless its last chunk may have been
    /// received: then a new upload could publish the video twice.
    async fn forget_session(
        &self,
        progress: &mut Progress,
        checkpoint: &dyn Checkpoint,
    ) -> Result<(), Outcome> {
        if progress.extra.contains_key(FINAL_SENT_KEY) {
            return Err(Outcome::Unknown {
                reason: "YouTube's upload session expired after its last bytes were sent: the video may be on the channel; check its uploads before releasing the post".into(),
            });
        }
        progress.extra.remove(SESSION_KEY);
        progress.extra.remove(SESSION_SHA_KEY);
        save(checkpoint, progress).await
    }
}

#[async_trait]
impl Platform for YouTube {
    fn kind(&self) -> PlatformKind {
        PlatformKind::Youtube
    }

    fn idempotency(&self) -> Idempotency {
        Idempotency::Queryable
    }

    async fn publish(&self, job: &PublishJob, checkpoint: &dyn Checkpoint) -> Outcome {
        match self.run(job, checkpoint).await {
            Ok(o) | Err(o) => o,
        }
    }

    /// Asks the saved upload session: the final answer means published; an
    /// offset means the upload can resume (retry); no session means nothing
    /// can be told.
    async fn resolve(&self, job: &PublishJob) -> Option<Outcome> {
        if let Some(id) = &job.progress.remote_id {
            return Some(Outcome::Published {
                remote_id: id.clone(),
                url: Some(watch_url(id)),
            });
        }
        let session = job.progress.extra.get(SESSION_KEY)?;
        let video = video_of(&job.content).ok()?;
        let size = media_size(video).await.ok()?;
        let mut token = match self.token().await {
            Ok(t) => t,
            Err(o) => return Some(o),
        };
        match self.query(&mut token, session, size).await {
            Ok(SessionState::Done(id)) => Some(Outcome::Published {
                url: Some(watch_url(&id)),
                remote_id: id,
            }),
            Ok(SessionState::Offset(o)) => Some(Outcome::Retry {
                at: None,
                reason: format!(
                    "the YouTube upload stopped at byte {o} of {size}; it resumes from there"
                ),
            }),
            Ok(SessionState::Gone) if job.progress.extra.contains_key(FINAL_SENT_KEY) => None,
            Ok(SessionState::Gone) => Some(Outcome::Retry {
                at: None,
                reason: "the YouTube upload session expired before its last bytes: uploading again"
                    .into(),
            }),
            Err(o) => Some(o),
        }
    }
}

fn fault(f: Fault, what: &str) -> Outcome {
    match f {
        Fault::Stop(o) => o,
        // Session starts, chunks and queries create nothing by themselves:
        // the upload can always be resumed or asked about.
        Fault::Transport(e) => Outcome::Retry {
            at: None,
            reason: format!("{what}: {}", describe_transport(&e)),
        },
    }
}

fn refused(message: &str) -> Outcome {
    Outcome::NeedsOperator {
        reason: format!(
            "YouTube refused the channel's token (HTTP 401: {message}) even after renewing it: run `berrah accounts login`"
        ),
    }
}

async fn save(checkpoint: &dyn Checkpoint, progress: &Progress) -> Result<(), Outcome> {
    checkpoint
        .save(progress)
        .await
        .map_err(|e| Outcome::Unknown {
            reason: format!("YouTube confirmed a step but {e}"),
        })
}

/// `https://www.youtube.com/watch?v=<id>`.
pub fn watch_url(id: &str) -> String {
    format!("https://www.youtube.com/watch?v={id}")
}

/// The post's video (YouTube publishes videos only).
fn video_of(content: &Content) -> Result<&crate::plan::MediaRef, Outcome> {
    let video_ext = ["mp4", "mov", "m4v", "webm", "mkv", "avi"];
    content
        .media
        .iter()
        .find(|m| {
            m.path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| video_ext.contains(&e.to_ascii_lowercase().as_str()))
        })
        .or_else(|| content.media.first())
        .ok_or_else(|| Outcome::Failed {
            reason: "YouTube publishes videos, and this post has none: add a video under `media` or remove the YouTube account from the post".into(),
        })
}

/// The post's thumbnail, opened and checked against YouTube's rules.
async fn check_thumbnail(content: &Content) -> Result<Option<MediaFile>, Outcome> {
    let Some(image) = content.media.iter().find_map(|m| {
        m.thumbnail.as_ref()?;
        Some(thumbnail_file(m))
    }) else {
        return Ok(None);
    };
    let image = image
        .await
        .expect("a media with a thumbnail")
        .map_err(|reason| Outcome::Failed { reason })?;
    if !matches!(image.mime.as_str(), "image/jpeg" | "image/png")
        || image.size > THUMBNAIL_MAX_BYTES
    {
        return Err(Outcome::Failed {
            reason: format!(
                "the thumbnail `{}` is {} of {} bytes; YouTube takes JPEG or PNG up to 2 MB",
                image.path.display(),
                image.mime,
                image.size
            ),
        });
    }
    Ok(Some(image))
}

/// The title: `content.title`, else the text's first line (cut to 100 characters).
pub fn title(content: &Content) -> Result<String, Outcome> {
    let (title, explicit) = match content
        .title
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        Some(t) => (t.to_string(), true),
        None => {
            let line = content
                .text
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .unwrap_or("");
            let clean: String = line.chars().filter(|c| !matches!(c, '<' | '>')).collect();
            (cut(&clean, YOUTUBE_TITLE_MAX), false)
        }
    };
    if title.is_empty() {
        return Err(Outcome::Failed {
            reason: "the video has no title: give the post a `title` (or text) for YouTube".into(),
        });
    }
    let n = title.chars().count();
    if explicit && n > YOUTUBE_TITLE_MAX {
        return Err(Outcome::Failed {
            reason: format!(
                "the title is {n} characters long, {} over YouTube's limit of {YOUTUBE_TITLE_MAX}: shorten `title` in the campaign file",
                n - YOUTUBE_TITLE_MAX
            ),
        });
    }
    if title.contains(['<', '>']) {
        return Err(Outcome::Failed {
            reason: "YouTube refuses `<` and `>` in a title: remove them from `title` in the campaign file".into(),
        });
    }
    Ok(title)
}

fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out = out.trim_end().to_string();
    out.push('…');
    out
}

/// The description: `content.description`, else the text (≤ 5,000 bytes, no `<`/`>`).
pub fn description(content: &Content) -> Result<String, Outcome> {
    let d = content
        .description
        .as_deref()
        .filter(|d| !d.trim().is_empty())
        .unwrap_or(&content.text)
        .trim()
        .to_string();
    if d.len() > YOUTUBE_DESCRIPTION_MAX_BYTES {
        return Err(Outcome::Failed {
            reason: format!(
                "the description is {} bytes long (UTF-8), {} over YouTube's limit of {YOUTUBE_DESCRIPTION_MAX_BYTES}: shorten `description` in the campaign file",
                d.len(),
                d.len() - YOUTUBE_DESCRIPTION_MAX_BYTES
            ),
        });
    }
    if d.contains(['<', '>']) {
        return Err(Outcome::Failed {
            reason:
                "YouTube refuses `<` and `>` in a description: remove them from the campaign file"
                    .into(),
        });
    }
    Ok(d)
}

/// The video resource sent when the session starts (`snippet`, `status`).
pub fn video_resource(job: &PublishJob, now: Timestamp) -> Result<Value, Outcome> {
    let account = &job.account;
    let privacy = account.option_str("privacy").unwrap_or("public");
    if !matches!(privacy, "public" | "unlisted" | "private") {
        return Err(Outcome::Failed {
            reason: format!(
                "the account's option `privacy = \"{privacy}\"` is not one of public, unlisted, private"
            ),
        });
    }
    let category = match account.options.get("category") {
        Some(toml::Value::String(s)) => s.clone(),
        Some(toml::Value::Integer(n)) => n.to_string(),
        _ => "22".to_string(),
    };
    let mut snippet = json!({
        "title": title(&job.content)?,
        "description": description(&job.content)?,
        "categoryId": category,
        "defaultLanguage": job.language,
    });
    if let Some(tags) = account.options.get("tags").and_then(|v| v.as_array()) {
        let tags: Vec<&str> = tags.iter().filter_map(|t| t.as_str()).collect();
        if !tags.is_empty() {
            snippet["tags"] = json!(tags);
        }
    }
    let kids = account
        .options
        .get("made_for_kids")
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    let scheduled = account
        .options
        .get("scheduled")
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    let mut status = json!({ "privacyStatus": privacy, "selfDeclaredMadeForKids": kids });
    // publishAt needs privacyStatus=private and an instant still ahead.
    if scheduled && job.due > now {
        status["privacyStatus"] = json!("private");
        status["publishAt"] = json!(job.due.to_string());
    }
    Ok(json!({ "snippet": snippet, "status": status }))
}

/// Bytes received, from a 308's `Range: bytes=0-N` (none: 0).
pub fn received(headers: &HeaderMap) -> u64 {
    header_str(headers, "range")
        .and_then(|r| r.trim().strip_prefix("bytes="))
        .and_then(|r| r.split_once('-'))
        .and_then(|(_, end)| end.trim().parse::<u64>().ok())
        .map(|end| end + 1)
        .unwrap_or(0)
}

/// The `id` of a video resource.
pub fn parse_video_id(body: &str) -> Option<String> {
    let v: Value = serde_json::from_str(body).ok()?;
    let id = v.get("id")?.as_str()?;
    (!id.is_empty()).then(|| id.to_string())
}

/// `error.errors[0].reason` and `error.message` (HTML stripped) of a Data API error.
pub fn error_parts(body: &str) -> (String, String) {
    let Ok(v) = serde_json::from_str::<Value>(body) else {
        return (String::new(), excerpt(body));
    };
    let reason = v
        .pointer("/error/errors/0/reason")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let message = v
        .pointer("/error/message")
        .and_then(Value::as_str)
        .map(strip_tags)
        .unwrap_or_else(|| excerpt(body));
    (reason, message)
}

fn strip_tags(s: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for c in s.chars() {
        match c {
            '<' => inside = true,
            '>' => inside = false,
            c if !inside => out.push(c),
            _ => {}
        }
    }
    out
}

/// The next midnight in Pacific time, when YouTube's daily quota resets.
pub fn next_pacific_midnight(now: Timestamp) -> Timestamp {
    let fallback = now
        .checked_add(jiff::SignedDuration::from_hours(24))
        .unwrap_or(now);
    // The bundled zone data: never the machine's copy, which may be stale.
    let Ok(tz) = crate::calendar::tz::zone("America/Los_Angeles") else {
        return fallback;
    };
    let local = now.to_zoned(tz.clone());
    local
        .date()
        .tomorrow()
        .and_then(|d| d.to_zoned(tz))
        .map(|z| z.timestamp())
        .unwrap_or(fallback)
}

/// Reads a Data API error as an outcome, by `error.errors[0].reason`.
pub fn classify(
    status: StatusCode,
    headers: &HeaderMap,
    body: &str,
    now: Timestamp,
    what: &str,
) -> Outcome {
    let (reason, message) = error_parts(body);
    let code = status.as_u16();
    let detail = if reason.is_empty() {
        format!("HTTP {code}: {message}")
    } else {
        format!("HTTP {code} {reason}: {message}")
    };
    match (code, reason.as_str()) {
        (401, _) => refused(&message),
        (_, "quotaExceeded") => Outcome::Retry {
            at: Some(next_pacific_midnight(now)),
            reason: format!(
                "{what}: the project's daily YouTube quota is spent ({detail}); it resets at midnight Pacific time"
            ),
        },
        (_, "uploadLimitExceeded") => Outcome::Retry {
            at: now.checked_add(jiff::SignedDuration::from_hours(24)).ok(),
            reason: format!(
                "{what}: the channel reached its upload limit ({detail}); trying again in 24 hours"
            ),
        },
        (_, "rateLimitExceeded" | "userRateLimitExceeded") | (429, _) | (500..=599, _) => {
            Outcome::Retry {
                at: retry_at(headers, now),
                reason: format!("{what}: {detail}"),
            }
        }
        (_, r) if r.starts_with("authenticatedUser") => Outcome::NeedsOperator {
            reason: format!(
                "{what}: the connected Google account cannot upload to this channel ({detail}); run `berrah accounts login` with the channel's account"
            ),
        },
        (_, r) if r.starts_with("invalid") || r == "defaultLanguageNotSet" => Outcome::Failed {
            reason: format!(
                "{what}: YouTube refused the video's metadata ({detail}); fix the title, description or the account's options"
            ),
        },
        _ => Outcome::Failed {
            reason: format!("{what}: YouTube refused it ({detail})"),
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

    fn err(code: u16, reason: &str) -> String {
        json!({"error": {"code": code, "message": "The request cannot be completed because you have exceeded your <a href=\"/youtube/v3/getting-started#quota\">quota</a>.", "errors": [{"message": "m", "domain": "youtube.quota", "reason": reason}]}}).to_string()
    }

    #[test]
    fn quota_waits_for_pacific_midnight() {
        // 09:00 UTC on 18 December is 01:00 PST: the next midnight is 08:00 UTC on the 19th.
        assert_eq!(
            next_pacific_midnight(now()),
            "2026-12-19T08:00:00Z".parse().unwrap()
        );
        let o = classify(
            StatusCode::FORBIDDEN,
            &HeaderMap::new(),
            &err(403, "quotaExceeded"),
            now(),
            "up",
        );
        let Outcome::Retry { at, reason } = o else {
            panic!("{o:?}")
        };
        assert_eq!(at, Some("2026-12-19T08:00:00Z".parse().unwrap()));
        assert!(reason.contains("exceeded your quota."), "{reason}");
        let o = classify(
            StatusCode::BAD_REQUEST,
            &HeaderMap::new(),
            &err(400, "uploadLimitExceeded"),
            now(),
            "up",
        );
        assert!(matches!(o, Outcome::Retry { at: Some(_), .. }));
    }

    #[test]
    fn permanent_and_operator_errors() {
        let h = HeaderMap::new();
        assert!(matches!(
            classify(
                StatusCode::FORBIDDEN,
                &h,
                &err(403, "forbidden"),
                now(),
                "up"
            ),
            Outcome::Failed { .. }
        ));
        assert!(matches!(
            classify(
                StatusCode::BAD_REQUEST,
                &h,
                &err(400, "invalidTitle"),
                now(),
                "up"
            ),
            Outcome::Failed { .. }
        ));
        assert!(matches!(
            classify(
                StatusCode::UNAUTHORIZED,
                &h,
                &err(401, "authError"),
                now(),
                "up"
            ),
            Outcome::NeedsOperator { .. }
        ));
        assert!(matches!(
            classify(
                StatusCode::FORBIDDEN,
                &h,
                &err(403, "authenticatedUserNotChannel"),
                now(),
                "up"
            ),
            Outcome::NeedsOperator { .. }
        ));
        assert!(matches!(
            classify(
                StatusCode::FORBIDDEN,
                &h,
                &err(403, "rateLimitExceeded"),
                now(),
                "up"
            ),
            Outcome::Retry { .. }
        ));
        assert!(matches!(
            classify(StatusCode::SERVICE_UNAVAILABLE, &h, "", now(), "up"),
            Outcome::Retry { .. }
        ));
    }

    #[test]
    fn ranges() {
        let mut h = HeaderMap::new();
        assert_eq!(received(&h), 0);
        h.insert("range", HeaderValue::from_static("bytes=0-999999"));
        assert_eq!(received(&h), 1_000_000);
    }

    #[test]
    fn titles_and_descriptions() {
        let c = Content {
            text: "\n  Première ligne <b>\nsuite".into(),
            ..Content::default()
        };
        assert_eq!(title(&c).unwrap(), "Première ligne b");
        assert_eq!(description(&c), Err(Outcome::Failed { reason: "YouTube refuses `<` and `>` in a description: remove them from the campaign file".into() }));
        let long = Content {
            text: "م".repeat(150),
            ..Content::default()
        };
        assert_eq!(title(&long).unwrap().chars().count(), 100);
        let explicit = Content {
            title: Some("t".repeat(101)),
            ..Content::default()
        };
        assert!(title(&explicit).is_err());
        let big = Content {
            text: "é".repeat(2501),
            ..Content::default()
        };
        assert!(description(&big).is_err());
    }
}
