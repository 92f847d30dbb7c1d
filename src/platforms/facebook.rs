//! Facebook Pages through the Graph API (`docs/platforms/facebook.md`).
//!
//! The account's `handle` is the Page id, its secret a Page access token
//! (sent as `Authorization: Bearer`, never in a URL), its option
//! `graph_version` pins the API version (default [`graph::DEFAULT_GRAPH_VERSION`]).
//!
//! - text (and link) posts: `POST /{page}/feed` with `message` (§2);
//! - one photo: `POST /{page}/photos` multipart `source` + `caption` +
//!   `alt_text_custom` (§3.1); several photos: each uploaded with
//!   `published=false`, then a feed post with `attached_media[i]` (§3.2);
//! - a video: the chunked upload of `/{page}/videos` (§4.2): `upload_phase=start`
//!   with `file_size`, `transfer` of the byte ranges the server asks for
//!   (read from disk one chunk at a time), `finish` with the description;
//!   the session and offsets are saved after every step so a retry resumes;
//! - first comment: `POST /{post}/comments` (§5).
//!
//! Graph has no idempotency key (§7): a create that may have arrived is
//! [`Outcome::Unknown`], and [`Platform::resolve`] looks for the post among
//! the Page's posts created since the post was due, with exactly our text.
//! Error 506 (duplicate post) triggers the same lookup.

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use reqwest::header::AUTHORIZATION;
use reqwest::multipart::{Form, Part};
use secrecy::SecretString;
use std::collections::BTreeMap;

use super::common::{MediaFile, file_body, file_chunk, media_file};
use super::graph::{self, AuthScheme, CallError, Caller, GraphClass, Reply, str_field};
use super::{Checkpoint, Idempotency, Outcome, Platform, PlatformDeps, Progress, PublishJob};
use crate::config::PlatformKind;

/// When a create request was last sent (RFC 3339), so that a later lookup
/// knows from when to search.
const SENT_AT: &str = "fb_create_sent_at";
/// The video id of a chunked upload (its post id once finished).
const VIDEO_ID: &str = "fb_video_id";
/// The upload session of a chunked upload.
const SESSION: &str = "fb_upload_session";
/// The byte range the server asked for next.
const START: &str = "fb_start_offset";
const END: &str = "fb_end_offset";
/// The SHA-256 of the file being uploaded (a changed file restarts the upload).
const VIDEO_SHA: &str = "fb_video_sha256";

/// A chunk larger than this from the server is refused (it would be held in memory).
const MAX_CHUNK: u64 = 64 * 1024 * 1024;

/// Builds the client of one Facebook account.
pub fn build(deps: PlatformDeps) -> Box<dyn Platform> {
    Box::new(Facebook::new(deps))
}

/// A Facebook Page client.
pub struct Facebook {
    deps: PlatformDeps,
    caller: Caller,
    /// `https://graph.facebook.com/v25.0` (no trailing slash).
    api: String,
}

/// How a post is made, from its media.
#[derive(Debug)]
enum Shape {
    Text,
    Photo(MediaFile, Option<String>),
    Photos(Vec<(MediaFile, Option<String>)>),
    Video(MediaFile),
}

impl Facebook {
    /// A client for `deps.account`.
    pub fn new(deps: PlatformDeps) -> Facebook {
        let base = deps
            .account
            .base_url()
            .unwrap_or("https://graph.facebook.com")
            .trim_end_matches('/')
            .to_string();
        let api = format!("{base}/{}", graph::version(&deps.account));
        let caller = Caller::new(deps.credentials.clone(), deps.clock.clone());
        Facebook { deps, caller, api }
    }

    fn label(&self) -> String {
        format!("the Facebook Page `{}`", self.deps.account_id)
    }

    fn now(&self) -> Timestamp {
        self.deps.clock.now()
    }

    fn page_id(&self) -> Result<String, Outcome> {
        match self.deps.account.handle.as_deref().map(str::trim) {
            Some(h) if !h.is_empty() && !h.contains('/') => Ok(h.to_string()),
            _ => Err(Outcome::Failed {
                reason: format!(
                    "account `{}` has no Page id: set `handle` to the numeric id of the Facebook Page",
                    self.deps.account_id
                ),
            }),
        }
    }

    fn fail(&self, e: CallError, what: &str, create: bool) -> Outcome {
        e.outcome(what, &self.label(), self.now(), create)
    }

    async fn post_form(&self, path: &str, fields: &[(String, String)]) -> Result<Reply, CallError> {
        let url = format!("{}/{path}", self.api);
        self.caller.post_form(&self.deps.http, &url, fields).await
    }

    async fn get(&self, path: &str, query: &[(String, String)]) -> Result<Reply, CallError> {
        let url = format!("{}/{path}", self.api);
        self.caller.get(&self.deps.http, &url, query).await
    }

    /// A multipart POST with text fields and one file part, streamed from
    /// disk (`file`: part name, the file) or given as bytes (`chunk`).
    async fn post_multipart(
        &self,
        path: &str,
        fields: &[(String, String)],
        file: Option<(&str, &MediaFile)>,
        chunk: Option<(&str, Vec<u8>)>,
    ) -> Result<Reply, CallError> {
        let url = format!("{}/{path}", self.api);
        let http = &self.deps.http;
        self.caller
            .call(|secret: SecretString| {
                let fields = fields.to_vec();
                let file = file.map(|(n, f)| (n.to_string(), f.clone()));
                let chunk = chunk.clone();
                let req = http
                    .post(&url)
                    .header(AUTHORIZATION, AuthScheme::Bearer.header(&secret));
                async move {
                    let mut form = Form::new();
                    for (k, v) in fields {
                        form = form.text(k, v);
                    }
                    if let Some((name, f)) = file {
                        let body = file_body(&f);
                        let part = Part::stream_with_length(body, f.size)
                            .file_name(f.file_name.clone())
                            .mime_str(&f.mime)
                            .map_err(|e| format!("media type of `{}`: {e}", f.path.display()))?;
                        form = form.part(name, part);
                    }
                    if let Some((name, bytes)) = chunk {
                        let part = Part::bytes(bytes)
                            .file_name("chunk")
                            .mime_str("application/octet-stream")
                            .map_err(|e| e.to_string())?;
                        form = form.part(name.to_string(), part);
                    }
                    Ok(req.multipart(form))
                }
            })
            .await
    }

    async fn shape(&self, job: &PublishJob) -> Result<Shape, Outcome> {
        let mut images = Vec::new();
        let mut videos = Vec::new();
        for m in &job.content.media {
            let f = media_file(m).await.map_err(|e| Outcome::Failed {
                reason: format!("media `{}`: {e}", m.file),
            })?;
            if f.mime.starts_with("image/") {
                images.push((f, m.alt.clone()));
            } else if f.mime.starts_with("video/") {
                videos.push(f);
            } else {
                return Err(Outcome::Failed {
                    reason: format!(
                        "media `{}` is {}: Facebook Pages take photos and videos only",
                        m.file, f.mime
                    ),
                });
            }
        }
        match (images.len(), videos.len()) {
            (0, 0) if job.content.text.trim().is_empty() => Err(Outcome::Failed {
                reason: "the post has neither text nor media: Facebook needs one of them".into(),
            }),
            (0, 0) => Ok(Shape::Text),
            (1, 0) => {
                let (f, alt) = images.remove(0);
                Ok(Shape::Photo(f, alt))
            }
            (_, 0) => Ok(Shape::Photos(images)),
            (0, 1) => Ok(Shape::Video(videos.remove(0))),
            _ => Err(Outcome::Failed {
                reason: "a Facebook post carries either photos or one video, not both nor \
                         several videos: split the media over several posts"
                    .into(),
            }),
        }
    }

    async fn save(&self, checkpoint: &dyn Checkpoint, progress: &Progress) -> Result<(), Outcome> {
        checkpoint.save(progress).await.map_err(|e| Outcome::Retry {
            at: None,
            reason: format!("Facebook answered but {e}"),
        })
    }

    /// Records that a create is about to be sent (for a later lookup).
    async fn mark_sent(
        &self,
        checkpoint: &dyn Checkpoint,
        progress: &mut Progress,
    ) -> Result<(), Outcome> {
        progress
            .extra
            .insert(SENT_AT.into(), self.now().to_string());
        self.save(checkpoint, progress).await
    }

    /// Publishes the main post; `Ok` once `progress.remote_id` is set.
    async fn publish_main(
        &self,
        job: &PublishJob,
        progress: &mut Progress,
        checkpoint: &dyn Checkpoint,
    ) -> Result<(), Outcome> {
        let page = self.page_id()?;
        if let Some(at) = self.caller.blocked_until() {
            return Err(Outcome::Retry {
                at: Some(at),
                reason: format!("Meta's usage limit of {} is spent until {at}", self.label()),
            });
        }
        let text = job.content.text.clone();
        let (id, url) = match self.shape(job).await? {
            Shape::Text => {
                let mut fields = vec![("message".to_string(), text.clone())];
                // A link post: Facebook shows the preview of `link` (§2).
                if let Some(link) = first_url(&text) {
                    fields.push(("link".into(), link));
                }
                self.mark_sent(checkpoint, progress).await?;
                let r = self
                    .create(job, &format!("{page}/feed"), &fields, None)
                    .await?;
                let id = post_id(&r.json, "id")?;
                let url = post_url(&id);
                (id, url)
            }
            Shape::Photo(f, alt) => {
                let mut fields = vec![("caption".to_string(), text)];
                if let Some(alt) = alt {
                    fields.push(("alt_text_custom".into(), alt));
                }
                self.mark_sent(checkpoint, progress).await?;
                let r = self
                    .create(job, &format!("{page}/photos"), &fields, Some(&f))
                    .await?;
                // A published photo answers `{"id":photo,"post_id":page_post}`.
                let id = str_field(&r.json, "post_id")
                    .map(Ok)
                    .unwrap_or_else(|| post_id(&r.json, "id"))?;
                let url = post_url(&id);
                (id, url)
            }
            Shape::Photos(images) => {
                let mut fields = vec![("message".to_string(), text)];
                for (i, (f, alt)) in images.iter().enumerate() {
                    let photo = self
                        .unpublished_photo(&page, f, alt.as_deref(), progress, checkpoint)
                        .await?;
                    fields.push((
                        format!("attached_media[{i}]"),
                        serde_json::json!({ "media_fbid": photo }).to_string(),
                    ));
                }
                self.mark_sent(checkpoint, progress).await?;
                let r = self
                    .create(job, &format!("{page}/feed"), &fields, None)
                    .await?;
                let id = post_id(&r.json, "id")?;
                let url = post_url(&id);
                (id, url)
            }
            Shape::Video(f) => {
                let id = self.video(job, &page, &f, progress, checkpoint).await?;
                let url = self.video_url(&id).await;
                (id, url)
            }
        };
        progress.remote_id = Some(id);
        progress.url = Some(url);
        if let Err(e) = checkpoint.save(progress).await {
            // The outcome carries the id anyway.
            tracing::warn!(account = %self.deps.account_id, error = %e, "could not record a published Facebook post");
        }
        Ok(())
    }

    /// Sends a create (feed post, published photo); a duplicate answer is
    /// looked up among the Page's posts.
    async fn create(
        &self,
        job: &PublishJob,
        path: &str,
        fields: &[(String, String)],
        file: Option<&MediaFile>,
    ) -> Result<Reply, Outcome> {
        let result = match file {
            Some(f) => {
                self.post_multipart(path, fields, Some(("source", f)), None)
                    .await
            }
            None => self.post_form(path, fields).await,
        };
        match result {
            Ok(r) => Ok(r),
            Err(CallError::Status(f)) if f.class(self.now()) == GraphClass::Duplicate => {
                match self.find_in_feed(job).await {
                    Some(found) => Err(found),
                    None => Err(Outcome::Failed {
                        reason: format!(
                            "Facebook refuses this post as a duplicate of a recent post of {} \
                             ({}), and no post with this text was found since it was due: \
                             change the text",
                            self.label(),
                            f.message()
                        ),
                    }),
                }
            }
            Err(e) => Err(self.fail(e, "publishing the post", true)),
        }
    }

    /// Uploads one photo unpublished (or reuses this entry's earlier upload).
    ///
    /// Unpublished photos live about 24 h and are consumed by the post that
    /// attaches them, so they are remembered in this entry's progress only,
    /// not in the account-wide upload cache.
    async fn unpublished_photo(
        &self,
        page: &str,
        f: &MediaFile,
        alt: Option<&str>,
        progress: &mut Progress,
        checkpoint: &dyn Checkpoint,
    ) -> Result<String, Outcome> {
        if let Some(id) = progress.media.get(&f.sha256) {
            return Ok(id.clone());
        }
        let mut fields = vec![("published".to_string(), "false".to_string())];
        if let Some(alt) = alt {
            fields.push(("alt_text_custom".into(), alt.to_string()));
        }
        // An unpublished photo is invisible: sending it twice is harmless.
        let r = self
            .post_multipart(
                &format!("{page}/photos"),
                &fields,
                Some(("source", f)),
                None,
            )
            .await
            .map_err(|e| self.fail(e, &format!("uploading `{}`", f.path.display()), false))?;
        let id = post_id(&r.json, "id")?;
        progress.media.insert(f.sha256.clone(), id.clone());
        self.save(checkpoint, progress).await?;
        Ok(id)
    }

    /// The chunked video upload: start, transfer, finish. Returns the video id.
    async fn video(
        &self,
        job: &PublishJob,
        page: &str,
        f: &MediaFile,
        progress: &mut Progress,
        checkpoint: &dyn Checkpoint,
    ) -> Result<String, Outcome> {
        let what = format!("uploading `{}`", f.path.display());
        let path = format!("{page}/videos");
        if progress.extra.get(VIDEO_SHA) != Some(&f.sha256) {
            for k in [VIDEO_ID, SESSION, START, END] {
                progress.extra.remove(k);
            }
        }
        if !progress.extra.contains_key(SESSION) {
            let fields = vec![
                ("upload_phase".to_string(), "start".to_string()),
                ("file_size".to_string(), f.size.to_string()),
            ];
            let r = self
                .post_form(&path, &fields)
                .await
                .map_err(|e| self.fail(e, &what, false))?;
            let (Some(video), Some(session)) = (
                str_field(&r.json, "video_id"),
                str_field(&r.json, "upload_session_id"),
            ) else {
                return Err(bad_answer("the upload start", &r.json));
            };
            let extra = &mut progress.extra;
            extra.insert(VIDEO_SHA.into(), f.sha256.clone());
            extra.insert(VIDEO_ID.into(), video);
            extra.insert(SESSION.into(), session);
            extra.insert(START.into(), offset(&r.json, "start_offset")?.to_string());
            extra.insert(END.into(), offset(&r.json, "end_offset")?.to_string());
            self.save(checkpoint, progress).await?;
        }
        let session = progress.extra.get(SESSION).cloned().unwrap_or_default();
        loop {
            let start = extra_u64(&progress.extra, START);
            let end = extra_u64(&progress.extra, END);
            if start >= end {
                break;
            }
            if end > f.size || end - start > MAX_CHUNK {
                return Err(Outcome::Failed {
                    reason: format!(
                        "{what}: Facebook asked for bytes {start}..{end} of a {}-byte file",
                        f.size
                    ),
                });
            }
            let bytes = file_chunk(f, start, (end - start) as usize)
                .await
                .map_err(|e| Outcome::Failed { reason: e })?;
            let fields = vec![
                ("upload_phase".to_string(), "transfer".to_string()),
                ("upload_session_id".to_string(), session.clone()),
                ("start_offset".to_string(), start.to_string()),
            ];
            let r = self
                .post_multipart(&path, &fields, None, Some(("video_file_chunk", bytes)))
                .await
                .map_err(|e| self.fail(e, &what, false))?;
            let next_start = offset(&r.json, "start_offset")?;
            let next_end = offset(&r.json, "end_offset")?;
            if next_start <= start && next_start < next_end {
                return Err(Outcome::Retry {
                    at: None,
                    reason: format!("{what}: Facebook did not move past byte {start}"),
                });
            }
            progress.extra.insert(START.into(), next_start.to_string());
            progress.extra.insert(END.into(), next_end.to_string());
            self.save(checkpoint, progress).await?;
        }
        let mut fields = vec![
            ("upload_phase".to_string(), "finish".to_string()),
            ("upload_session_id".to_string(), session),
            ("description".to_string(), job.content.text.clone()),
        ];
        if let Some(title) = job.content.title.as_ref().filter(|t| !t.trim().is_empty()) {
            fields.push(("title".into(), title.clone()));
        }
        self.mark_sent(checkpoint, progress).await?;
        let r = match self.post_form(&path, &fields).await {
            Ok(r) => r,
            Err(CallError::Status(fail)) if fail.class(self.now()) == GraphClass::Duplicate => {
                return Err(self.find_in_feed(job).await.unwrap_or(Outcome::Failed {
                    reason: format!("publishing the video: {}", fail.message()),
                }));
            }
            Err(e) => return Err(self.fail(e, "publishing the video", true)),
        };
        if r.json.get("success").and_then(serde_json::Value::as_bool) == Some(false) {
            return Err(Outcome::Unknown {
                reason: "Facebook answered `success: false` to the video's finish phase".into(),
            });
        }
        progress
            .extra
            .get(VIDEO_ID)
            .cloned()
            .ok_or_else(|| Outcome::Failed {
                reason: "the video upload lost its id".into(),
            })
    }

    /// The public URL of a video (`permalink_url`, which Graph gives as a
    /// path), or the generic one when it cannot be read.
    async fn video_url(&self, video: &str) -> String {
        let q = vec![("fields".to_string(), "permalink_url".to_string())];
        match self.get(video, &q).await {
            Ok(r) => match str_field(&r.json, "permalink_url") {
                Some(p) if p.starts_with('/') => format!("https://www.facebook.com{p}"),
                Some(p) if p.starts_with("https://") => p,
                _ => post_url(video),
            },
            Err(_) => post_url(video),
        }
    }

    /// Looks for our post among the Page's posts created since it was due.
    async fn find_in_feed(&self, job: &PublishJob) -> Option<Outcome> {
        let page = self.page_id().ok()?;
        let since = job.due - SignedDuration::from_mins(10);
        let q = vec![
            (
                "fields".to_string(),
                "id,message,created_time,permalink_url".to_string(),
            ),
            ("since".to_string(), since.as_second().to_string()),
            ("limit".to_string(), "50".to_string()),
        ];
        let r = self.get(&format!("{page}/feed"), &q).await.ok()?;
        let id = find_post(&r.json, &job.content.text, since)?;
        let url = post_url(&id);
        Some(Outcome::Published {
            remote_id: id,
            url: Some(url),
        })
    }
}

#[async_trait]
impl Platform for Facebook {
    fn kind(&self) -> PlatformKind {
        PlatformKind::Facebook
    }

    fn idempotency(&self) -> Idempotency {
        Idempotency::Queryable
    }

    async fn publish(&self, job: &PublishJob, checkpoint: &dyn Checkpoint) -> Outcome {
        let mut progress = job.progress.clone();
        if progress.remote_id.is_none()
            && let Err(o) = self.publish_main(job, &mut progress, checkpoint).await
        {
            return o;
        }
        let comment = graph::first_comment(
            job,
            &mut progress,
            checkpoint,
            |path, fields| async move { self.post_form(&path, &fields).await },
            |e| self.fail(e, "publishing the first comment", true),
        );
        if let Err(o) = comment.await {
            return o;
        }
        match progress.remote_id {
            Some(remote_id) => Outcome::Published {
                url: progress.url.or_else(|| Some(post_url(&remote_id))),
                remote_id,
            },
            None => Outcome::Unknown {
                reason: "the post's id was not recorded".into(),
            },
        }
    }

    /// Finds the post after an unknown outcome: the recorded id, a finished
    /// video upload, else a Page post created since the post was due with
    /// exactly our text. `None` when nothing matches.
    async fn resolve(&self, job: &PublishJob) -> Option<Outcome> {
        if let Some(id) = &job.progress.remote_id {
            return Some(Outcome::Published {
                remote_id: id.clone(),
                url: job.progress.url.clone().or_else(|| Some(post_url(id))),
            });
        }
        if let Some(video) = job.progress.extra.get(VIDEO_ID) {
            let q = vec![("fields".to_string(), "status,permalink_url".to_string())];
            if let Ok(r) = self.get(video, &q).await
                && video_published(&r.json)
            {
                let url = self.video_url(video).await;
                return Some(Outcome::Published {
                    remote_id: video.clone(),
                    url: Some(url),
                });
            }
        }
        self.find_in_feed(job).await
    }
}

/// The first `http(s)://` URL of a text, trailing punctuation left out.
pub fn first_url(text: &str) -> Option<String> {
    text.split_whitespace()
        .find(|w| w.starts_with("https://") || w.starts_with("http://"))
        .map(|w| {
            w.trim_end_matches(['.', ',', ';', ':', '!', '?', ')', '»', '"', '\''])
                .to_string()
        })
        .filter(|u| u.len() > "https://".len())
}

/// `https://www.facebook.com/<page_post_id>` (facebook.md §2).
pub fn post_url(id: &str) -> String {
    format!("https://www.facebook.com/{id}")
}

fn post_id(json: &serde_json::Value, key: &str) -> Result<String, Outcome> {
    str_field(json, key).ok_or_else(|| bad_answer("the post", json))
}

fn bad_answer(what: &str, json: &serde_json::Value) -> Outcome {
    // A success without the id: it may well be published.
    Outcome::Unknown {
        reason: format!(
            "Facebook's answer to {what} has no id: {}",
            super::common::excerpt(&json.to_string())
        ),
    }
}

fn offset(json: &serde_json::Value, key: &str) -> Result<u64, Outcome> {
    str_field(json, key)
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| Outcome::Retry {
            at: None,
            reason: format!(
                "Facebook's upload answer has no `{key}`: {}",
                super::common::excerpt(&json.to_string())
            ),
        })
}

fn extra_u64(extra: &BTreeMap<String, String>, key: &str) -> u64 {
    extra.get(key).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// Graph's `created_time`: `2026-12-18T09:00:00+0000` (or RFC 3339).
pub fn parse_graph_time(s: &str) -> Option<Timestamp> {
    s.parse::<Timestamp>().ok().or_else(|| {
        jiff::fmt::strtime::parse("%Y-%m-%dT%H:%M:%S%z", s)
            .ok()?
            .to_timestamp()
            .ok()
    })
}

/// The id of the post of a `/{page}/feed` listing whose message is exactly
/// `text` (whitespace at the ends ignored) and created at or after `since`.
pub fn find_post(listing: &serde_json::Value, text: &str, since: Timestamp) -> Option<String> {
    let text = text.trim();
    listing
        .get("data")?
        .as_array()?
        .iter()
        .find(|p| {
            let same = p
                .get("message")
                .and_then(serde_json::Value::as_str)
                .is_some_and(|m| m.trim() == text);
            let recent = p
                .get("created_time")
                .and_then(serde_json::Value::as_str)
                .and_then(parse_graph_time)
                .is_some_and(|t| t >= since);
            same && recent
        })
        .and_then(|p| str_field(p, "id"))
}

/// Whether a video node's `status` says it is published.
pub fn video_published(json: &serde_json::Value) -> bool {
    let status = &json["status"];
    status["publishing_phase"]["status"].as_str() == Some("complete")
        || status["publishing_phase"]["publish_status"].as_str() == Some("published")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn graph_times() {
        assert_eq!(
            parse_graph_time("2026-12-18T09:00:00+0000"),
            Some("2026-12-18T09:00:00Z".parse().unwrap())
        );
        assert_eq!(
            parse_graph_time("2026-12-18T10:00:00+01:00"),
            Some("2026-12-18T09:00:00Z".parse().unwrap())
        );
        assert_eq!(parse_graph_time("yesterday"), None);
    }

    #[test]
    fn finds_our_post_by_exact_text_and_time() {
        let listing = json!({"data":[
            {"id":"1_old","message":"اليوم الدولي للمهاجرين","created_time":"2026-12-17T09:00:00+0000"},
            {"id":"1_other","message":"Autre chose","created_time":"2026-12-18T09:01:00+0000"},
            {"id":"1_ours","message":"اليوم الدولي للمهاجرين\n","created_time":"2026-12-18T09:00:30+0000"}
        ]});
        let since = "2026-12-18T08:50:00Z".parse().unwrap();
        assert_eq!(
            find_post(&listing, "اليوم الدولي للمهاجرين", since).as_deref(),
            Some("1_ours")
        );
        assert_eq!(find_post(&listing, "absent", since), None);
        assert_eq!(find_post(&json!({"nope":1}), "x", since), None);
    }

    #[test]
    fn links() {
        assert_eq!(
            first_url("Lisez : https://morocco.iom.int/fr?utm_source=facebook. Merci").as_deref(),
            Some("https://morocco.iom.int/fr?utm_source=facebook")
        );
        assert_eq!(first_url("pas de lien, https:// seul"), None);
    }

    #[test]
    fn video_status() {
        assert!(video_published(
            &json!({"status":{"video_status":"ready","publishing_phase":{"status":"complete"}}})
        ));
        assert!(!video_published(
            &json!({"status":{"video_status":"processing","publishing_phase":{"status":"not_started"}}})
        ));
        assert!(!video_published(&json!({})));
    }
}
