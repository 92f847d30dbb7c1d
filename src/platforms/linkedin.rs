//! LinkedIn organization posts through the versioned Posts API
//! (`docs/platforms/linkedin.md`).
//!
//! The account's `handle` is the organization id (`12345`) or a full URN
//! (`urn:li:organization:12345`); its secret an OAuth access token with
//! `w_organization_social`; its option `linkedin_version` the `YYYYMM`
//! version sent in `LinkedIn-Version` (default [`DEFAULT_VERSION`]; versions
//! are retired about a year after release, which LinkedIn answers with 426).
//! Every `/rest/*` call carries `X-Restli-Protocol-Version: 2.0.0` (§2).
//!
//! - images: `POST /rest/images?action=initializeUpload`, one `PUT` of the
//!   file (streamed) to the `uploadUrl` (§4a);
//! - videos: `POST /rest/videos?action=initializeUpload` with the size, one
//!   `PUT` per upload instruction (byte ranges read from disk, ETags kept),
//!   `POST /rest/videos?action=finalizeUpload` with the ETags in order (§4b);
//!   the instructions and ETags are saved as they come so a retry resumes;
//! - each media is waited for until `AVAILABLE` (bounded), then
//!   `POST /rest/posts` (`content.media` with `altText`/`title`, or
//!   `content.multiImage` for 2–20 images); the post URN comes back in the
//!   `x-restli-id` header (§3);
//! - first comment: `POST /rest/socialActions/{urn}/comments` (§5).
//!
//! Commentary is "little text" (<https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/little-text-format>):
//! reserved characters are escaped, hashtags (`#word`) kept as hashtag elements.
//!
//! Idempotency (§6, §7): no key, but LinkedIn refuses identical commentary
//! with `422 "Content is a duplicate of urn:li:share:…"`, naming the existing
//! post. After an attempt whose create may have reached LinkedIn, that post
//! is adopted as ours; [`Platform::resolve`] sends the same post again to
//! get either a new post (the first never arrived) or that answer.

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use reqwest::header::AUTHORIZATION;
use secrecy::SecretString;
use serde_json::{Value, json};

use super::common::TokenScope;
use super::common::{MediaFile, file_body, file_chunk, media_file, poll_interval, retry_at};
use super::graph::{AuthScheme, CallError, Caller, GraphFailure, Reply};
use super::{Checkpoint, Idempotency, Outcome, Platform, PlatformDeps, Progress, PublishJob};
use crate::config::PlatformKind;

/// The `LinkedIn-Version` sent when the account sets no `linkedin_version`.
pub const DEFAULT_VERSION: &str = "202606";
/// Images in one multi-image post (§4a).
pub const MAX_IMAGES: usize = 20;

/// When the post create was last sent.
const SENT_AT: &str = "li_create_sent_at";
/// A video upload in progress: its URN, upload token, instructions (JSON)
/// and the ETag of each part sent (`li_etag.<i>`).
const VIDEO: &str = "li_video";
const VIDEO_SHA: &str = "li_video_sha256";
const UPLOAD_TOKEN: &str = "li_upload_token";
const INSTRUCTIONS: &str = "li_upload_instructions";
const ETAG: &str = "li_etag.";

/// How long one attempt waits for uploaded media to become `AVAILABLE`.
const MEDIA_WAIT: SignedDuration = SignedDuration::from_secs(300);

/// Builds the client of one LinkedIn account.
pub fn build(deps: PlatformDeps) -> Box<dyn Platform> {
    Box::new(Linkedin::new(deps))
}

/// A LinkedIn organization client.
pub struct Linkedin {
    deps: PlatformDeps,
    caller: Caller,
    base: String,
    /// Where the token may go (upload URLs come from answers).
    scope: TokenScope,
    version: String,
}

/// Hosts besides the account's API origin that may receive its token: the
/// one LinkedIn's Images and Videos APIs hand out upload URLs on.
pub const UPLOAD_HOSTS: &[&str] = &["api.linkedin.com", "www.linkedin.com"];

/// Escapes commentary for LinkedIn's "little text" format: the reserved
/// characters `| { } @ [ ] ( ) < > # \ * _ ~` get a backslash, except a `#`
/// that starts a hashtag (followed by a letter or digit), whose word is kept.
pub fn escape_little_text(text: &str) -> String {
    const RESERVED: &[char] = &[
        '|', '{', '}', '@', '[', ']', '(', ')', '<', '>', '#', '\\', '*', '_', '~',
    ];
    let mut out = String::with_capacity(text.len() + 16);
    let mut chars = text.chars().peekable();
    let mut in_hashtag = false;
    let mut prev: Option<char> = None;
    while let Some(c) = chars.next() {
        let word_char = |c: char| c.is_alphanumeric() || c == '_';
        if c == '#'
            && chars.peek().is_some_and(|n| n.is_alphanumeric())
            && !prev.is_some_and(word_char)
        {
            in_hashtag = true;
            out.push(c);
        } else if in_hashtag && word_char(c) {
            out.push(c);
        } else {
            in_hashtag = false;
            if RESERVED.contains(&c) {
                out.push('\\');
            }
            out.push(c);
        }
        prev = Some(c);
    }
    out
}

/// The author URN from the account's handle.
pub fn author_urn(handle: &str) -> Option<String> {
    let h = handle.trim();
    if h.starts_with("urn:li:organization:") || h.starts_with("urn:li:person:") {
        Some(h.to_string())
    } else if !h.is_empty() && h.bytes().all(|b| b.is_ascii_digit()) {
        Some(format!("urn:li:organization:{h}"))
    } else {
        None
    }
}

/// The post URN a duplicate answer names (`urn:li:share|ugcPost|activity:<digits>`),
/// if it names a post (some duplicate answers name a person: not ours to adopt).
pub fn duplicate_of(message: &str) -> Option<String> {
    if !message.to_ascii_lowercase().contains("duplicate") {
        return None;
    }
    for kind in ["share", "ugcPost", "activity"] {
        let prefix = format!("urn:li:{kind}:");
        if let Some(i) = message.find(&prefix) {
            let digits: String = message[i + prefix.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            if !digits.is_empty() {
                return Some(format!("{prefix}{digits}"));
            }
        }
    }
    None
}

/// The public URL of a post.
pub fn post_url(urn: &str) -> String {
    format!("https://www.linkedin.com/feed/update/{urn}/")
}

/// Percent-encodes a URN for a URL path (§2: `urn%3Ali%3Ashare%3A123`).
pub fn encode_urn(urn: &str) -> String {
    let mut out = String::new();
    for b in urn.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// One media of a post, uploaded: its URN and what the post says about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Uploaded {
    pub urn: String,
    pub alt: Option<String>,
}

/// The body of `POST /rest/posts` (§3, §4).
pub fn post_body(
    author: &str,
    commentary: &str,
    images: &[Uploaded],
    video: Option<(&str, Option<&str>)>,
) -> Value {
    let mut body = json!({
        "author": author,
        "commentary": escape_little_text(commentary),
        "visibility": "PUBLIC",
        "distribution": {
            "feedDistribution": "MAIN_FEED",
            "targetEntities": [],
            "thirdPartyDistributionChannels": []
        },
        "lifecycleState": "PUBLISHED",
        "isReshareDisabledByAuthor": false
    });
    let with_alt = |u: &Uploaded| {
        let mut m = json!({ "id": u.urn });
        if let Some(alt) = &u.alt {
            m["altText"] = json!(alt);
        }
        m
    };
    if let Some((urn, title)) = video {
        let mut m = json!({ "id": urn });
        if let Some(t) = title {
            m["title"] = json!(t);
        }
        body["content"] = json!({ "media": m });
    } else if images.len() == 1 {
        body["content"] = json!({ "media": with_alt(&images[0]) });
    } else if images.len() > 1 {
        let list: Vec<Value> = images.iter().map(with_alt).collect();
        body["content"] = json!({ "multiImage": { "images": list } });
    }
    body
}

/// One part of a video upload: where to PUT which bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    pub url: String,
    pub first: u64,
    pub last: u64,
}

/// Reads `uploadInstructions` and checks that they are contiguous and cover
/// exactly `size` bytes (§4b: "validate that instructions are contiguous").
pub fn instructions(value: &Value, size: u64) -> Result<Vec<Instruction>, String> {
    let list = value
        .as_array()
        .ok_or("the answer has no uploadInstructions")?;
    let mut out = Vec::new();
    let mut next = 0u64;
    for i in list {
        let url = i["uploadUrl"]
            .as_str()
            .ok_or("an instruction has no uploadUrl")?;
        let first = i["firstByte"]
            .as_u64()
            .ok_or("an instruction has no firstByte")?;
        let last = i["lastByte"]
            .as_u64()
            .ok_or("an instruction has no lastByte")?;
        if first != next || last < first {
            return Err(format!(
                "the upload instructions are not contiguous (bytes {first}..={last} after {next})"
            ));
        }
        next = last + 1;
        out.push(Instruction {
            url: url.to_string(),
            first,
            last,
        });
    }
    if next != size {
        return Err(format!(
            "the upload instructions cover {next} bytes of a {size}-byte file"
        ));
    }
    Ok(out)
}

fn instructions_json(list: &[Instruction]) -> String {
    Value::Array(
        list.iter()
            .map(|i| json!({"uploadUrl": i.url, "firstByte": i.first, "lastByte": i.last}))
            .collect(),
    )
    .to_string()
}

/// LinkedIn's error body: `{"message","serviceErrorCode","status","code"}`.
fn li_message(f: &GraphFailure) -> String {
    let parsed = f
        .body
        .split_once('{')
        .and_then(|_| serde_json::from_str::<Value>(&f.body).ok());
    match parsed {
        Some(v) => {
            let msg = v["message"].as_str().unwrap_or("").to_string();
            let code = v["code"]
                .as_str()
                .map(str::to_string)
                .or_else(|| v["serviceErrorCode"].as_i64().map(|c| c.to_string()));
            match code {
                Some(c) => format!("HTTP {}: {msg} [{c}]", f.status.as_u16()),
                None => format!("HTTP {}: {msg}", f.status.as_u16()),
            }
        }
        None => format!("HTTP {}: {}", f.status.as_u16(), f.body),
    }
}

impl Linkedin {
    /// A client for `deps.account`.
    pub fn new(deps: PlatformDeps) -> Linkedin {
        let base = deps
            .account
            .base_url()
            .unwrap_or("https://api.linkedin.com")
            .trim_end_matches('/')
            .to_string();
        let version = deps
            .account
            .option_str("linkedin_version")
            .unwrap_or(DEFAULT_VERSION)
            .trim()
            .to_string();
        let caller = Caller::new(deps.credentials.clone(), deps.clock.clone());
        let scope = TokenScope::new(&base, UPLOAD_HOSTS);
        Linkedin {
            deps,
            caller,
            base,
            scope,
            version,
        }
    }

    fn now(&self) -> Timestamp {
        self.deps.clock.now()
    }

    fn label(&self) -> String {
        format!("the LinkedIn account `{}`", self.deps.account_id)
    }

    fn author(&self) -> Result<String, Outcome> {
        self.deps
            .account
            .handle
            .as_deref()
            .and_then(author_urn)
            .ok_or_else(|| Outcome::Failed {
                reason: format!(
                    "account `{}` has no organization: set `handle` to the organization id \
                     (the number in its admin URL) or `urn:li:organization:<id>`",
                    self.deps.account_id
                ),
            })
    }

    /// The outcome of a failed call. `create`: a post or comment that
    /// LinkedIn does not deduplicate by key.
    fn fail(&self, e: CallError, what: &str, create: bool) -> Outcome {
        let f = match e {
            CallError::Status(f) => f,
            other => return other.outcome(what, &self.label(), self.now(), create),
        };
        let msg = li_message(&f);
        match f.status.as_u16() {
            401 => Outcome::NeedsOperator {
                reason: format!(
                    "{what}: LinkedIn refused the access token of {} ({msg}); \
                     reconnect it with `berrah accounts login {}`",
                    self.label(),
                    self.deps.account_id
                ),
            },
            403 => Outcome::NeedsOperator {
                reason: format!(
                    "{what}: LinkedIn forbids it ({msg}): the connected member needs the \
                     ADMINISTRATOR or CONTENT_ADMIN role on the organization and the \
                     `w_organization_social` permission"
                ),
            },
            426 => Outcome::Failed {
                reason: format!(
                    "{what}: LinkedIn no longer serves version {} ({msg}): set the account \
                     option `linkedin_version` to a current YYYYMM version",
                    self.version
                ),
            },
            429 => Outcome::Retry {
                at: retry_at(&f.headers, self.now()),
                reason: format!("{what}: LinkedIn's rate limit ({msg})"),
            },
            500..=599 if create => Outcome::Unknown {
                reason: format!("{what}: LinkedIn failed and may have created it ({msg})"),
            },
            500..=599 => Outcome::Retry {
                at: retry_at(&f.headers, self.now()),
                reason: format!("{what}: LinkedIn is unavailable ({msg})"),
            },
            _ => Outcome::Failed {
                reason: format!("{what}: LinkedIn refused it: {msg}"),
            },
        }
    }

    fn rest(&self, req: reqwest::RequestBuilder, secret: &SecretString) -> reqwest::RequestBuilder {
        req.header(AUTHORIZATION, AuthScheme::Bearer.header(secret))
            .header("LinkedIn-Version", &self.version)
            .header("X-Restli-Protocol-Version", "2.0.0")
    }

    async fn post_json(&self, path: &str, body: &Value) -> Result<Reply, CallError> {
        let url = format!("{}{path}", self.base);
        let http = &self.deps.http;
        self.caller
            .call(|secret: SecretString| {
                let req = self.rest(http.post(&url), &secret).json(body);
                async move { Ok(req) }
            })
            .await
    }

    async fn get(&self, path: &str) -> Result<Reply, CallError> {
        let url = format!("{}{path}", self.base);
        let http = &self.deps.http;
        self.caller
            .call(|secret: SecretString| {
                let req = self.rest(http.get(&url), &secret);
                async move { Ok(req) }
            })
            .await
    }

    /// `PUT` bytes to an upload URL: the whole file (streamed) or one part.
    async fn put(
        &self,
        url: &str,
        file: &MediaFile,
        part: Option<(u64, u64)>,
    ) -> Result<Reply, CallError> {
        let http = &self.deps.http;
        let make = |secret: Option<SecretString>| {
            let mut req = http
                .put(url)
                .header("content-type", "application/octet-stream");
            if let Some(secret) = secret {
                req = req.header(AUTHORIZATION, AuthScheme::Bearer.header(&secret));
            }
            let file = file.clone();
            let size = file.size;
            async move {
                Ok(match part {
                    Some((first, last)) => {
                        let bytes = file_chunk(&file, first, (last - first + 1) as usize).await?;
                        req.body(bytes)
                    }
                    None => req.header("content-length", size).body(file_body(&file)),
                })
            }
        };
        // The upload URL comes from LinkedIn's answer: the token goes with it
        // only to LinkedIn's own hosts.
        if self.scope.allows(url) {
            self.caller.call(|secret| make(Some(secret))).await
        } else {
            match self.caller.call_without_token(|| make(None)).await {
                Err(CallError::Status(f)) if f.status == reqwest::StatusCode::UNAUTHORIZED => {
                    Err(CallError::Local(format!(
                        "the upload URL's host `{}` asked for the account's token; berrah \
                         sends it only to {} (docs/platforms/linkedin.md)",
                        url::Url::parse(url)
                            .ok()
                            .and_then(|u| u.host_str().map(str::to_string))
                            .unwrap_or_default(),
                        self.scope.describe()
                    )))
                }
                other => other,
            }
        }
    }

    async fn save(&self, checkpoint: &dyn Checkpoint, progress: &Progress) -> Result<(), Outcome> {
        checkpoint.save(progress).await.map_err(|e| Outcome::Retry {
            at: None,
            reason: format!("LinkedIn answered but {e}"),
        })
    }

    /// Records an uploaded media in the progress, the checkpoint and the cache.
    async fn remember(
        &self,
        file: &MediaFile,
        urn: &str,
        progress: &mut Progress,
        checkpoint: &dyn Checkpoint,
    ) -> Result<(), Outcome> {
        progress.media.insert(file.sha256.clone(), urn.to_string());
        self.save(checkpoint, progress).await?;
        self.deps
            .uploads
            .put(&self.deps.account_id, &file.sha256, urn, None)
            .await;
        Ok(())
    }

    async fn image(
        &self,
        author: &str,
        file: &MediaFile,
        progress: &mut Progress,
        checkpoint: &dyn Checkpoint,
    ) -> Result<String, Outcome> {
        if let Some(urn) = progress.media.get(&file.sha256) {
            return Ok(urn.clone());
        }
        if let Some(urn) = self
            .deps
            .uploads
            .get(&self.deps.account_id, &file.sha256)
            .await
        {
            progress.media.insert(file.sha256.clone(), urn.clone());
            self.save(checkpoint, progress).await?;
            return Ok(urn);
        }
        let what = format!("uploading `{}`", file.path.display());
        let body = json!({ "initializeUploadRequest": { "owner": author } });
        let r = self
            .post_json("/rest/images?action=initializeUpload", &body)
            .await
            .map_err(|e| self.fail(e, &what, false))?;
        let (Some(url), Some(urn)) = (
            r.json["value"]["uploadUrl"].as_str(),
            r.json["value"]["image"].as_str(),
        ) else {
            return Err(Outcome::Retry {
                at: None,
                reason: format!("{what}: LinkedIn's answer has no uploadUrl or image"),
            });
        };
        self.put(url, file, None)
            .await
            .map_err(|e| self.fail(e, &what, false))?;
        self.remember(file, urn, progress, checkpoint).await?;
        Ok(urn.to_string())
    }

    async fn video(
        &self,
        author: &str,
        file: &MediaFile,
        progress: &mut Progress,
        checkpoint: &dyn Checkpoint,
    ) -> Result<String, Outcome> {
        if let Some(urn) = progress.media.get(&file.sha256) {
            return Ok(urn.clone());
        }
        if let Some(urn) = self
            .deps
            .uploads
            .get(&self.deps.account_id, &file.sha256)
            .await
        {
            progress.media.insert(file.sha256.clone(), urn.clone());
            self.save(checkpoint, progress).await?;
            return Ok(urn);
        }
        let what = format!("uploading `{}`", file.path.display());
        if progress.extra.get(VIDEO_SHA) != Some(&file.sha256) {
            progress.extra.retain(|k, _| {
                !(k == VIDEO || k == UPLOAD_TOKEN || k == INSTRUCTIONS || k.starts_with(ETAG))
            });
        }
        if !progress.extra.contains_key(VIDEO) {
            let body = json!({ "initializeUploadRequest": {
                "owner": author, "fileSizeBytes": file.size,
                "uploadCaptions": false, "uploadThumbnail": false
            }});
            let r = self
                .post_json("/rest/videos?action=initializeUpload", &body)
                .await
                .map_err(|e| self.fail(e, &what, false))?;
            let value = &r.json["value"];
            let Some(urn) = value["video"].as_str() else {
                return Err(Outcome::Retry {
                    at: None,
                    reason: format!("{what}: LinkedIn's answer has no video URN"),
                });
            };
            let list = instructions(&value["uploadInstructions"], file.size).map_err(|e| {
                Outcome::Retry {
                    at: None,
                    reason: format!("{what}: {e}"),
                }
            })?;
            let extra = &mut progress.extra;
            extra.insert(VIDEO.into(), urn.to_string());
            extra.insert(VIDEO_SHA.into(), file.sha256.clone());
            extra.insert(
                UPLOAD_TOKEN.into(),
                value["uploadToken"].as_str().unwrap_or("").to_string(),
            );
            extra.insert(INSTRUCTIONS.into(), instructions_json(&list));
            self.save(checkpoint, progress).await?;
        }
        let urn = progress.extra.get(VIDEO).cloned().unwrap_or_default();
        let saved: Value = progress
            .extra
            .get(INSTRUCTIONS)
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or(Value::Null);
        let list = instructions(&saved, file.size).map_err(|e| Outcome::Failed {
            reason: format!("{what}: saved upload state is unusable: {e}"),
        })?;
        let mut etags = Vec::new();
        for (i, part) in list.iter().enumerate() {
            let key = format!("{ETAG}{i}");
            if let Some(tag) = progress.extra.get(&key) {
                etags.push(tag.clone());
                continue;
            }
            let r = self
                .put(&part.url, file, Some((part.first, part.last)))
                .await
                .map_err(|e| self.fail(e, &what, false))?;
            let Some(tag) = super::common::header_str(&r.headers, "etag") else {
                return Err(Outcome::Retry {
                    at: None,
                    reason: format!("{what}: LinkedIn's answer to part {} has no ETag", i + 1),
                });
            };
            let tag = tag.trim().trim_matches('"').to_string();
            progress.extra.insert(key, tag.clone());
            self.save(checkpoint, progress).await?;
            etags.push(tag);
        }
        let body = json!({ "finalizeUploadRequest": {
            "video": urn,
            "uploadToken": progress.extra.get(UPLOAD_TOKEN).cloned().unwrap_or_default(),
            "uploadedPartIds": etags,
        }});
        self.post_json("/rest/videos?action=finalizeUpload", &body)
            .await
            .map_err(|e| self.fail(e, &what, false))?;
        progress.extra.retain(|k, _| {
            !(k == VIDEO
                || k == VIDEO_SHA
                || k == UPLOAD_TOKEN
                || k == INSTRUCTIONS
                || k.starts_with(ETAG))
        });
        self.remember(file, &urn, progress, checkpoint).await?;
        Ok(urn)
    }

    /// Waits (bounded) until LinkedIn says the media is `AVAILABLE`.
    async fn wait_available(&self, urn: &str, what: &str) -> Result<(), Outcome> {
        let kind = if urn.starts_with("urn:li:video:") {
            "videos"
        } else {
            "images"
        };
        let deadline = self.now() + MEDIA_WAIT;
        let mut attempt = 0;
        loop {
            let r = self
                .get(&format!("/rest/{kind}/{}", encode_urn(urn)))
                .await
                .map_err(|e| self.fail(e, what, false))?;
            match r.json["status"].as_str().unwrap_or("") {
                "AVAILABLE" => return Ok(()),
                "PROCESSING_FAILED" => {
                    return Err(Outcome::Failed {
                        reason: format!(
                            "LinkedIn could not process {what}: check it against LinkedIn's \
                             specifications (MP4 of 3 s to 30 min and 75 KB to 500 MB; JPG, PNG or GIF images)"
                        ),
                    });
                }
                _ => {}
            }
            let now = self.now();
            if now >= deadline {
                return Err(Outcome::Retry {
                    at: Some(now + SignedDuration::from_mins(1)),
                    reason: format!("LinkedIn is still processing {what}"),
                });
            }
            let pause = SignedDuration::try_from(poll_interval(attempt))
                .unwrap_or(SignedDuration::from_secs(5));
            self.deps.clock.sleep_until(now + pause).await;
            attempt += 1;
        }
    }

    /// Uploads what is missing; the post body.
    async fn prepare(
        &self,
        job: &PublishJob,
        author: &str,
        progress: &mut Progress,
        checkpoint: &dyn Checkpoint,
    ) -> Result<Value, Outcome> {
        let mut images = Vec::new();
        let mut videos = Vec::new();
        for m in &job.content.media {
            let f = media_file(m).await.map_err(|e| Outcome::Failed {
                reason: format!("media `{}`: {e}", m.file),
            })?;
            if f.mime.starts_with("video/") {
                videos.push(f);
            } else if matches!(f.mime.as_str(), "image/jpeg" | "image/png" | "image/gif") {
                images.push((f, m.alt.clone()));
            } else {
                return Err(Outcome::Failed {
                    reason: format!(
                        "media `{}` is {}: LinkedIn takes JPG, PNG or GIF images and MP4 videos",
                        m.file, f.mime
                    ),
                });
            }
        }
        if !videos.is_empty() && (videos.len() > 1 || !images.is_empty()) {
            return Err(Outcome::Failed {
                reason: "a LinkedIn post carries one video alone, or images: split the media over several posts".into(),
            });
        }
        if images.len() > MAX_IMAGES {
            return Err(Outcome::Failed {
                reason: format!(
                    "the post has {} images; LinkedIn takes at most {MAX_IMAGES}",
                    images.len()
                ),
            });
        }
        if let Some(v) = videos.first() {
            let urn = self.video(author, v, progress, checkpoint).await?;
            self.wait_available(&urn, &format!("`{}`", v.path.display()))
                .await?;
            let title = job
                .content
                .title
                .as_deref()
                .filter(|t| !t.trim().is_empty());
            return Ok(post_body(
                author,
                &job.content.text,
                &[],
                Some((&urn, title)),
            ));
        }
        let mut uploaded = Vec::new();
        for (f, alt) in &images {
            let urn = self.image(author, f, progress, checkpoint).await?;
            uploaded.push(Uploaded {
                urn,
                alt: alt.clone(),
            });
        }
        for (u, (f, _)) in uploaded.iter().zip(&images) {
            self.wait_available(&u.urn, &format!("`{}`", f.path.display()))
                .await?;
        }
        Ok(post_body(author, &job.content.text, &uploaded, None))
    }

    /// Sends the post. `adopt`: an earlier create may have reached LinkedIn,
    /// so a duplicate answer names our own post.
    async fn create(&self, body: &Value, adopt: bool) -> Result<String, Outcome> {
        match self.post_json("/rest/posts", body).await {
            Ok(r) => super::common::header_str(&r.headers, "x-restli-id")
                .map(str::to_string)
                .or_else(|| r.json["id"].as_str().map(str::to_string))
                .ok_or_else(|| Outcome::Unknown {
                    reason: "LinkedIn accepted the post but sent no x-restli-id".into(),
                }),
            Err(CallError::Status(f)) if f.status.as_u16() == 422 => {
                let msg = li_message(&f);
                match duplicate_of(&msg) {
                    Some(urn) if adopt => Ok(urn),
                    Some(urn) => Err(Outcome::Failed {
                        reason: format!(
                            "LinkedIn refuses this post as a duplicate of {} ({msg}): change the text",
                            post_url(&urn)
                        ),
                    }),
                    None => Err(Outcome::Failed {
                        reason: format!("publishing the post: LinkedIn refused it: {msg}"),
                    }),
                }
            }
            Err(e) => Err(self.fail(e, "publishing the post", true)),
        }
    }

    async fn first_comment(
        &self,
        job: &PublishJob,
        author: &str,
        progress: &mut Progress,
        checkpoint: &dyn Checkpoint,
    ) -> Result<(), Outcome> {
        let (Some(comment), Some(post)) = (&job.content.first_comment, &progress.remote_id) else {
            return Ok(());
        };
        if progress.first_comment.is_some() || comment.trim().is_empty() {
            return Ok(());
        }
        let body = json!({ "actor": author, "object": post, "message": { "text": comment } });
        let path = format!("/rest/socialActions/{}/comments", encode_urn(post));
        match self.post_json(&path, &body).await {
            Ok(r) => {
                let id = super::common::header_str(&r.headers, "x-restli-id")
                    .map(str::to_string)
                    .or_else(|| r.json["commentUrn"].as_str().map(str::to_string))
                    .or_else(|| r.json["id"].as_str().map(str::to_string))
                    .unwrap_or_else(|| "comment".into());
                progress.first_comment = Some(id);
                let _ = checkpoint.save(progress).await;
                Ok(())
            }
            Err(e) => match self.fail(e, "publishing the first comment", true) {
                o @ Outcome::Retry { .. } => Err(o),
                o => {
                    tracing::warn!(account = %self.deps.account_id, outcome = ?o, "the first comment was not published");
                    Ok(())
                }
            },
        }
    }

    async fn run(&self, job: &PublishJob, checkpoint: &dyn Checkpoint, resolving: bool) -> Outcome {
        let author = match self.author() {
            Ok(a) => a,
            Err(o) => return o,
        };
        let mut progress = job.progress.clone();
        if progress.remote_id.is_none() {
            let body = match self.prepare(job, &author, &mut progress, checkpoint).await {
                Ok(b) => b,
                Err(o) => return o,
            };
            let adopt = resolving || job.progress.extra.contains_key(SENT_AT);
            progress
                .extra
                .insert(SENT_AT.into(), self.now().to_string());
            if let Err(o) = self.save(checkpoint, &progress).await {
                return o;
            }
            let urn = match self.create(&body, adopt).await {
                Ok(u) => u,
                Err(o) => return o,
            };
            progress.url = Some(post_url(&urn));
            progress.remote_id = Some(urn);
            if let Err(e) = checkpoint.save(&progress).await {
                tracing::warn!(account = %self.deps.account_id, error = %e, "could not record a published LinkedIn post");
            }
        }
        if let Err(o) = self
            .first_comment(job, &author, &mut progress, checkpoint)
            .await
        {
            return o;
        }
        match progress.remote_id {
            Some(urn) => Outcome::Published {
                url: Some(post_url(&urn)),
                remote_id: urn,
            },
            None => Outcome::Unknown {
                reason: "the post's URN was not recorded".into(),
            },
        }
    }
}

#[async_trait]
impl Platform for Linkedin {
    fn kind(&self) -> PlatformKind {
        PlatformKind::Linkedin
    }

    fn idempotency(&self) -> Idempotency {
        Idempotency::Queryable
    }

    async fn publish(&self, job: &PublishJob, checkpoint: &dyn Checkpoint) -> Outcome {
        self.run(job, checkpoint, false).await
    }

    /// Sends the same post again: LinkedIn either creates it (the first
    /// attempt never arrived) or answers that it duplicates the post the
    /// first attempt made, which is adopted. `None` when no create was ever
    /// sent for this entry (nothing to ask) or LinkedIn cannot be reached.
    async fn resolve(&self, job: &PublishJob) -> Option<Outcome> {
        if let Some(urn) = &job.progress.remote_id {
            return Some(Outcome::Published {
                remote_id: urn.clone(),
                url: Some(post_url(urn)),
            });
        }
        if !job.progress.extra.contains_key(SENT_AT) {
            return None;
        }
        match self.run(job, &super::NoCheckpoint, true).await {
            o @ Outcome::Published { .. } => Some(o),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn little_text_escapes_reserved_characters_but_keeps_hashtags() {
        assert_eq!(
            escape_little_text("Journée (JIM) : 50% <3 @OIM [lien] a_b #JIM2026 #اليوم_الدولي"),
            "Journée \\(JIM\\) : 50% \\<3 \\@OIM \\[lien\\] a\\_b #JIM2026 #اليوم_الدولي"
        );
        assert_eq!(escape_little_text("# alone, C#"), "\\# alone, C\\#");
        assert_eq!(
            escape_little_text("a\\b*c~d|e{f}"),
            "a\\\\b\\*c\\~d\\|e\\{f\\}"
        );
    }

    #[test]
    fn authors() {
        assert_eq!(
            author_urn("2414183").as_deref(),
            Some("urn:li:organization:2414183")
        );
        assert_eq!(
            author_urn("urn:li:organization:5").as_deref(),
            Some("urn:li:organization:5")
        );
        assert_eq!(author_urn("oim-maroc"), None);
    }

    #[test]
    fn duplicate_answers_name_the_post() {
        assert_eq!(
            duplicate_of("Content is a duplicate of urn:li:share:7429862475279511552").as_deref(),
            Some("urn:li:share:7429862475279511552")
        );
        assert_eq!(
            duplicate_of("DUPLICATE_POST: duplicate of urn:li:ugcPost:123.").as_deref(),
            Some("urn:li:ugcPost:123")
        );
        assert_eq!(
            duplicate_of("Content is a duplicate of urn:li:person:abc"),
            None
        );
        assert_eq!(duplicate_of("ERROR :: /author :: field is required"), None);
    }

    #[test]
    fn bodies() {
        let b = post_body(
            "urn:li:organization:1",
            "Salam (OIM)",
            &[Uploaded {
                urn: "urn:li:image:A".into(),
                alt: Some("alt".into()),
            }],
            None,
        );
        assert_eq!(b["commentary"], "Salam \\(OIM\\)");
        assert_eq!(b["content"]["media"]["altText"], "alt");
        assert_eq!(b["lifecycleState"], "PUBLISHED");
        assert_eq!(b["distribution"]["feedDistribution"], "MAIN_FEED");
        let two = [
            Uploaded {
                urn: "urn:li:image:A".into(),
                alt: None,
            },
            Uploaded {
                urn: "urn:li:image:B".into(),
                alt: None,
            },
        ];
        let b = post_body("a", "t", &two, None);
        assert_eq!(
            b["content"]["multiImage"]["images"][1]["id"],
            "urn:li:image:B"
        );
        let b = post_body("a", "t", &[], Some(("urn:li:video:V", Some("Titre"))));
        assert_eq!(b["content"]["media"]["title"], "Titre");
        assert!(post_body("a", "t", &[], None).get("content").is_none());
    }

    #[test]
    fn upload_instructions_must_cover_the_file() {
        let v = json!([
            {"uploadUrl":"u1","firstByte":0,"lastByte":4194303},
            {"uploadUrl":"u2","firstByte":4194304,"lastByte":4999999}
        ]);
        assert_eq!(instructions(&v, 5_000_000).unwrap().len(), 2);
        assert!(instructions(&v, 6_000_000).is_err());
        let gap = json!([{"uploadUrl":"u1","firstByte":0,"lastByte":9},{"uploadUrl":"u2","firstByte":11,"lastByte":20}]);
        assert!(instructions(&gap, 21).unwrap_err().contains("contiguous"));
        assert!(instructions(&json!({}), 1).is_err());
        let round = instructions(&v, 5_000_000).unwrap();
        let back: Value = serde_json::from_str(&instructions_json(&round)).unwrap();
        assert_eq!(instructions(&back, 5_000_000).unwrap(), round);
    }

    #[test]
    fn urns_in_paths_are_encoded() {
        assert_eq!(encode_urn("urn:li:share:123"), "urn%3Ali%3Ashare%3A123");
        assert_eq!(
            post_url("urn:li:share:1"),
            "https://www.linkedin.com/feed/update/urn:li:share:1/"
        );
    }
}
