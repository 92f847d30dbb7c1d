//! Telegram channel publishing through the Bot API.
//!
//! What this relies on (`docs/platforms/telegram.md`, from
//! core.telegram.org/bots/api and the open-source Bot API server):
//!
//! - Every call is `POST <base>/bot<token>/<method>`: the token is in the URL
//!   path, so no error or log line here ever carries a URL (reqwest errors are
//!   stripped with `without_url`, answers are described by their JSON only).
//! - Answers are `{"ok":true,"result":..}` or `{"ok":false,"error_code":..,
//!   "description":..,"parameters":{"retry_after":N}}`, the HTTP status equal
//!   to `error_code`: 429 ⇒ retry after `retry_after` seconds; 401 (token
//!   revoked) and 403 (bot removed from the channel) need an operator; 400 is
//!   a permanent refusal whose `description` says why.
//! - `sendMessage` (plain text, no `parse_mode`: nothing to escape; ≤ 4096
//!   characters), `sendPhoto` / `sendVideo` (multipart upload streamed from
//!   disk; `supports_streaming`), `sendMediaGroup` for 2–10 media (files as
//!   `attach://<field>`); captions ≤ 1024. Lengths are counted in UTF-16 units
//!   (the notes leave code points vs UTF-16 open; UTF-16 is never shorter).
//!   A text too long for a caption goes out as the media without caption,
//!   then the text as a message replying to it, each checkpointed.
//! - No idempotency at all: a send that may have reached Telegram (timeout,
//!   dropped connection, 5xx) is [`Outcome::Unknown`], never sent again.
//! - Thread replies and the first comment are messages in the channel that
//!   reply to the previous one (`reply_parameters`): comments in a linked
//!   discussion group are out of reach of the channel send methods.
//! - The `file_id` of a sent photo or video is kept in the upload cache, so
//!   the same file is not uploaded again to this bot.
//! - Chat: the account's `handle`, `@channelusername` (public link
//!   `https://t.me/<username>/<message_id>`) or the numeric id `-100…`
//!   (private link `https://t.me/c/<id without -100>/<message_id>`).

use super::common::{after_main, auth_outcome};
use crate::http::BodyError;
use std::sync::Mutex;

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use reqwest::{RequestBuilder, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use super::common::{MediaFile, excerpt, file_body, header_str, media_file, transport_outcome};
use super::{Checkpoint, Idempotency, Outcome, Platform, PlatformDeps, Progress, PublishJob};
use crate::config::PlatformKind;
use crate::plan::MediaRef;
use crate::text::limits::{TELEGRAM_CAPTION_MAX, TELEGRAM_TEXT_MAX};

/// Bot uploads to the cloud Bot API: photos ≤ 10 MB, other files ≤ 50 MB.
const PHOTO_MAX_BYTES: u64 = 10 * 1024 * 1024;
const FILE_MAX_BYTES: u64 = 50 * 1024 * 1024;
/// The Bot FAQ: about one message per second in one chat.
const SEND_SPACING: SignedDuration = SignedDuration::from_secs(1);
/// Where the daemon's text lives in `progress.extra` when it went out as a
/// reply to captionless media.
const TEXT_MESSAGE: &str = "text_message";

/// Builds the client of one Telegram account.
pub fn build(deps: PlatformDeps) -> Box<dyn Platform> {
    Box::new(Telegram::new(deps))
}

/// A Telegram Bot API client bound to one account (one bot, one channel).
pub struct Telegram {
    deps: PlatformDeps,
    last_send: Mutex<Option<Timestamp>>,
}

/// Where messages go: the account's `handle`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chat {
    /// A public channel, by username (without `@`).
    Public(String),
    /// A numeric chat id (`-100…` for channels).
    Id(i64),
}

impl Chat {
    /// Reads an account's handle: `@name`, `name`, `https://t.me/name` or a numeric id.
    pub fn parse(account_id: &str, handle: Option<&str>) -> Result<Chat, String> {
        let hint = || {
            format!(
                "account `{account_id}`: set `handle` in berrah.toml to the channel, \
                 `@channelusername` or its numeric id `-100…`"
            )
        };
        let h = handle
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .ok_or_else(hint)?;
        if let Ok(id) = h.parse::<i64>() {
            return Ok(Chat::Id(id));
        }
        let name = h
            .trim_start_matches("https://t.me/")
            .trim_start_matches("t.me/")
            .trim_start_matches('@');
        let valid = (4..=32).contains(&name.len())
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if valid {
            Ok(Chat::Public(name.to_string()))
        } else {
            Err(format!("{} (`{h}` is neither)", hint()))
        }
    }

    /// The `chat_id` parameter as JSON.
    pub fn chat_id(&self) -> Value {
        match self {
            Chat::Public(name) => json!(format!("@{name}")),
            Chat::Id(id) => json!(id),
        }
    }

    /// The `chat_id` parameter as form text.
    pub fn chat_id_text(&self) -> String {
        match self {
            Chat::Public(name) => format!("@{name}"),
            Chat::Id(id) => id.to_string(),
        }
    }

    /// The public link of a message, where there is one.
    pub fn message_url(&self, message_id: i64) -> Option<String> {
        match self {
            Chat::Public(name) => Some(format!("https://t.me/{name}/{message_id}")),
            Chat::Id(id) => {
                let s = id.to_string();
                s.strip_prefix("-100")
                    .filter(|rest| !rest.is_empty())
                    .map(|rest| format!("https://t.me/c/{rest}/{message_id}"))
            }
        }
    }
}

/// Length as Telegram limits are counted here (UTF-16 code units).
pub fn telegram_length(text: &str) -> usize {
    text.encode_utf16().count()
}

/// The JSON body of `sendMessage`: plain text (no `parse_mode`, so nothing
/// needs escaping), optionally replying to a message of the same chat.
pub fn message_body(chat: &Chat, text: &str, reply_to: Option<i64>) -> Value {
    let mut body = serde_json::Map::new();
    body.insert("chat_id".into(), chat.chat_id());
    body.insert("text".into(), json!(text));
    if let Some(id) = reply_to {
        body.insert(
            "reply_parameters".into(),
            json!({"message_id": id, "allow_sending_without_reply": true}),
        );
    }
    Value::Object(body)
}

/// What a media file is sent as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Photo,
    Video,
}

impl Kind {
    /// From a sniffed MIME type; `None` for what Telegram's photo and video
    /// methods do not take.
    pub fn from_mime(mime: &str) -> Option<Kind> {
        if mime.starts_with("image/") {
            Some(Kind::Photo)
        } else if mime.starts_with("video/") {
            Some(Kind::Video)
        } else {
            None
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Kind::Photo => "photo",
            Kind::Video => "video",
        }
    }
}

/// The `media` parameter of `sendMediaGroup`: one InputMedia per file, the
/// caption on the first; `sources[i]` is a cached `file_id` or `None` for an
/// upload in the multipart field `m<i>`.
pub fn media_group_json(
    kinds: &[Kind],
    sources: &[Option<String>],
    caption: Option<&str>,
) -> Value {
    let items: Vec<Value> = kinds
        .iter()
        .enumerate()
        .map(|(i, kind)| {
            let media = sources
                .get(i)
                .cloned()
                .flatten()
                .unwrap_or_else(|| format!("attach://m{i}"));
            let mut item = serde_json::Map::new();
            item.insert("type".into(), json!(kind.as_str()));
            item.insert("media".into(), json!(media));
            if i == 0
                && let Some(c) = caption
            {
                item.insert("caption".into(), json!(c));
            }
            if *kind == Kind::Video {
                item.insert("supports_streaming".into(), json!(true));
            }
            Value::Object(item)
        })
        .collect();
    Value::Array(items)
}

/// The `file_id` of the media of a sent Message (the largest photo size).
pub fn message_file_id(message: &Value) -> Option<String> {
    if let Some(sizes) = message.get("photo").and_then(Value::as_array) {
        return sizes
            .iter()
            .max_by_key(|s| {
                s.get("width").and_then(Value::as_u64).unwrap_or(0)
                    * s.get("height").and_then(Value::as_u64).unwrap_or(0)
            })
            .and_then(|s| s.get("file_id"))
            .and_then(Value::as_str)
            .map(str::to_string);
    }
    message
        .pointer("/video/file_id")
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// Reads a failed Bot API answer as an [`Outcome`]. `what` says which part
/// was being sent, `chat` where.
pub fn classify_error(
    what: &str,
    chat: &Chat,
    http_status: u16,
    body: &Value,
    retry_after_header: Option<&str>,
    now: Timestamp,
) -> Outcome {
    let code = body
        .get("error_code")
        .and_then(Value::as_u64)
        .and_then(|c| u16::try_from(c).ok())
        .unwrap_or(http_status);
    let description = body
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or("no description")
        .to_string();
    let reason = format!("{what}: Telegram answered {code}: {description}");
    let target = chat.chat_id_text();
    match code {
        429 => {
            let secs = body
                .pointer("/parameters/retry_after")
                .and_then(Value::as_i64)
                .or_else(|| retry_after_header.and_then(|h| h.trim().parse().ok()))
                .unwrap_or(30)
                .max(1);
            Outcome::Retry {
                at: now.checked_add(SignedDuration::from_secs(secs)).ok(),
                reason,
            }
        }
        401 => Outcome::NeedsOperator {
            reason: format!(
                "{reason}; the bot token was refused (revoked or regenerated in @BotFather): \
                 put the bot's current token in this account's credentials"
            ),
        },
        403 => Outcome::NeedsOperator {
            reason: format!(
                "{reason}; the bot cannot post in {target}: add it to the channel as an \
                 administrator with the \"Post messages\" right"
            ),
        },
        400 if description.contains("administrator rights") => Outcome::NeedsOperator {
            reason: format!(
                "{reason}; make the bot an administrator of {target} with the \"Post messages\" right"
            ),
        },
        400 if description.contains("chat not found") => Outcome::Failed {
            reason: format!(
                "{reason}; check the account's `handle` in berrah.toml ({target}): \
                 `@channelusername` or the numeric id `-100…`, and that the bot is in it"
            ),
        },
        400 if description.contains("too long") => Outcome::Failed {
            reason: format!(
                "{reason}; shorten the text in the campaign file (Telegram: {TELEGRAM_TEXT_MAX} \
                 characters, {TELEGRAM_CAPTION_MAX} for a caption)"
            ),
        },
        400 if description.contains("replied not found") => Outcome::Failed {
            reason: format!("{reason}; the message this replies to was deleted from the channel"),
        },
        413 => Outcome::Failed {
            reason: format!(
                "{reason}; the file is too large for a bot: photos up to 10 MB, videos up to \
                 50 MB: make it smaller in the campaign file"
            ),
        },
        // The send may have been processed: Telegram cannot be asked, and
        // sending again could post twice.
        500..=599 => Outcome::Unknown {
            reason: format!(
                "{reason}; Telegram may have published it: check the channel {target} \
                 before releasing the post"
            ),
        },
        _ => Outcome::Failed { reason },
    }
}

/// A multipart file part streamed from the file's opened handle.
fn file_part(file: &MediaFile) -> Result<reqwest::multipart::Part, String> {
    reqwest::multipart::Part::stream_with_length(file_body(file), file.size)
        .file_name(file.file_name.clone())
        .mime_str(&file.mime)
        .map_err(|e| format!("unusable media type `{}`: {e}", file.mime))
}

/// One media of the post, read and classified.
struct Item<'a> {
    reference: &'a MediaRef,
    file: MediaFile,
    kind: Kind,
    /// A `file_id` this bot already has for the file.
    cached: Option<String>,
}

impl Telegram {
    /// A client for `deps.account`; nothing is called until [`Platform::publish`].
    pub fn new(deps: PlatformDeps) -> Telegram {
        Telegram {
            deps,
            last_send: Mutex::new(None),
        }
    }

    fn now(&self) -> Timestamp {
        self.deps.clock.now()
    }

    fn base(&self) -> String {
        self.deps
            .account
            .base_url()
            .unwrap_or("https://api.telegram.org")
            .trim_end_matches('/')
            .to_string()
    }

    fn official_host(&self) -> bool {
        self.base() == "https://api.telegram.org"
    }

    /// Waits (on the clock) so that two messages to the channel are at least
    /// a second apart, as the Bot FAQ asks.
    async fn pace(&self) {
        let last = *self.last_send.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(last) = last
            && let Ok(next) = last.checked_add(SEND_SPACING)
            && next > self.now()
        {
            self.deps.clock.sleep_until(next).await;
        }
    }

    fn sent(&self) {
        *self.last_send.lock().unwrap_or_else(|p| p.into_inner()) = Some(self.now());
    }

    /// Calls one Bot API method; `build` makes the request for a URL (which
    /// holds the token and must never be shown). On 401 the credentials are
    /// asked once for a renewed token.
    async fn call(
        &self,
        method: &str,
        what: &str,
        chat: &Chat,
        build: impl Fn(String) -> Result<RequestBuilder, Outcome>,
    ) -> Result<Value, Outcome> {
        let mut secret: SecretString =
            self.deps.credentials.secret().await.map_err(auth_outcome)?;
        let mut renewed = false;
        self.pace().await;
        loop {
            let url = format!("{}/bot{}/{method}", self.base(), secret.expose_secret());
            let sent = build(url)?.send().await;
            self.sent();
            // No idempotency: anything that may have reached Telegram is Unknown.
            let resp = sent.map_err(|e| transport_outcome(what, &e.without_url(), false))?;
            let status = resp.status();
            let retry_after = header_str(resp.headers(), "retry-after").map(str::to_string);
            let text = crate::http::read_answer(resp, crate::http::JSON_BODY_LIMIT)
                .await
                .map_err(|e| match e {
                    BodyError::Transport(e) => transport_outcome(what, &e.without_url(), false),
                    too_large => transport_outcome(what, &too_large, false),
                })?;
            let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            if status.is_success() && body.get("ok") == Some(&Value::Bool(true)) {
                return Ok(body.get("result").cloned().unwrap_or(Value::Null));
            }
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
            if body.is_null() {
                // Not the Bot API's envelope (a proxy's page): judge by status.
                let envelope = json!({
                    "error_code": status.as_u16(),
                    "description": format!("HTTP {}: {}", status.as_u16(), excerpt(&text)),
                });
                return Err(classify_error(
                    what,
                    chat,
                    status.as_u16(),
                    &envelope,
                    retry_after.as_deref(),
                    self.now(),
                ));
            }
            return Err(classify_error(
                what,
                chat,
                status.as_u16(),
                &body,
                retry_after.as_deref(),
                self.now(),
            ));
        }
    }

    async fn send_text(
        &self,
        chat: &Chat,
        what: &str,
        text: &str,
        reply_to: Option<i64>,
    ) -> Result<i64, Outcome> {
        let body = message_body(chat, text, reply_to);
        let result = self
            .call("sendMessage", what, chat, |url| {
                Ok(self.deps.http.post(url).json(&body))
            })
            .await?;
        message_id(what, &result)
    }

    /// Sends the post's media (one message or an album) with an optional
    /// caption: the message ids and each media's `file_id`, in order.
    async fn send_media(
        &self,
        chat: &Chat,
        items: &[Item<'_>],
        caption: Option<&str>,
        use_cache: bool,
    ) -> Result<(Vec<i64>, Vec<Option<String>>), Outcome> {
        let what = "sending the media";
        let failed = |reason: String| Outcome::Failed {
            reason: format!("{what}: {reason}"),
        };
        let source = |item: &Item| if use_cache { item.cached.clone() } else { None };
        if let [item] = items {
            let (method, field) = match item.kind {
                Kind::Photo => ("sendPhoto", "photo"),
                Kind::Video => ("sendVideo", "video"),
            };
            let what = format!("sending media `{}`", item.reference.file);
            let result = self
                .call(method, &what, chat, |url| {
                    let mut form =
                        reqwest::multipart::Form::new().text("chat_id", chat.chat_id_text());
                    form = match source(item) {
                        Some(file_id) => form.text(field, file_id),
                        None => form.part(field, file_part(&item.file).map_err(&failed)?),
                    };
                    if let Some(c) = caption {
                        form = form.text("caption", c.to_string());
                    }
                    if item.kind == Kind::Video {
                        form = form.text("supports_streaming", "true");
                    }
                    Ok(self.deps.http.post(url).multipart(form))
                })
                .await?;
            let id = message_id(&what, &result)?;
            return Ok((vec![id], vec![message_file_id(&result)]));
        }
        let kinds: Vec<Kind> = items.iter().map(|i| i.kind).collect();
        let sources: Vec<Option<String>> = items.iter().map(source).collect();
        let media = media_group_json(&kinds, &sources, caption).to_string();
        let result = self
            .call("sendMediaGroup", what, chat, |url| {
                let mut form = reqwest::multipart::Form::new()
                    .text("chat_id", chat.chat_id_text())
                    .text("media", media.clone());
                for (i, item) in items.iter().enumerate() {
                    if sources[i].is_none() {
                        form = form.part(format!("m{i}"), file_part(&item.file).map_err(&failed)?);
                    }
                }
                Ok(self.deps.http.post(url).multipart(form))
            })
            .await?;
        let messages = result.as_array().cloned().unwrap_or_default();
        if messages.is_empty() {
            return Err(Outcome::Unknown {
                reason: format!("{what}: Telegram's answer lists no message"),
            });
        }
        let mut ids = Vec::new();
        for m in &messages {
            ids.push(message_id(what, m)?);
        }
        Ok((ids, messages.iter().map(message_file_id).collect()))
    }

    async fn read_media<'a>(&self, job: &'a PublishJob) -> Result<Vec<Item<'a>>, Outcome> {
        let mut items = Vec::new();
        for m in &job.content.media {
            let file = media_file(m).await.map_err(|e| Outcome::Failed {
                reason: format!("media `{}`: {e}", m.file),
            })?;
            let Some(kind) = Kind::from_mime(&file.mime) else {
                return Err(Outcome::Failed {
                    reason: format!(
                        "media `{}` is {}: a Telegram post takes photos and videos only",
                        m.file, file.mime
                    ),
                });
            };
            let limit = if kind == Kind::Photo {
                PHOTO_MAX_BYTES
            } else {
                FILE_MAX_BYTES
            };
            if self.official_host() && file.size > limit {
                return Err(Outcome::Failed {
                    reason: format!(
                        "media `{}` is {} bytes; Telegram bots upload {} up to {} MB: make it \
                         smaller in the campaign file",
                        m.file,
                        file.size,
                        if kind == Kind::Photo {
                            "photos"
                        } else {
                            "videos"
                        },
                        limit / (1024 * 1024)
                    ),
                });
            }
            let cached = match job.progress.media.get(&file.sha256) {
                Some(id) => Some(id.clone()),
                None => self.deps.uploads.get(&job.account_id, &file.sha256).await,
            };
            items.push(Item {
                reference: m,
                file,
                kind,
                cached,
            });
        }
        Ok(items)
    }

    async fn run(&self, job: &PublishJob, checkpoint: &dyn Checkpoint) -> Result<Outcome, Outcome> {
        let chat = Chat::parse(&job.account_id, job.account.handle.as_deref())
            .map_err(|reason| Outcome::Failed { reason })?;
        let content = &job.content;
        let mut progress = job.progress.clone();
        let has_media = !content.media.is_empty();
        if content.media.len() > 10 {
            return Err(Outcome::Failed {
                reason: format!(
                    "the post has {} media files; a Telegram album holds at most 10: remove \
                     some from the post in the campaign file",
                    content.media.len()
                ),
            });
        }
        if !has_media && content.text.trim().is_empty() {
            return Err(Outcome::Failed {
                reason: "the post has neither text nor media: Telegram refuses an empty message"
                    .into(),
            });
        }
        // Everything must fit before the first message goes out.
        let mut parts = vec![("the main text".to_string(), content.text.as_str())];
        for (i, r) in content.thread.iter().enumerate() {
            parts.push((format!("thread reply {}", i + 1), r.as_str()));
        }
        if let Some(c) = &content.first_comment {
            parts.push(("the first comment".into(), c.as_str()));
        }
        for (label, text) in &parts {
            let n = telegram_length(text);
            if n > TELEGRAM_TEXT_MAX {
                return Err(Outcome::Failed {
                    reason: format!(
                        "{label} of {} is {n} characters, {} over Telegram's limit of \
                         {TELEGRAM_TEXT_MAX}: shorten it in the campaign file",
                        job.occurrence_id,
                        n - TELEGRAM_TEXT_MAX
                    ),
                });
            }
        }
        let caption_fits = telegram_length(&content.text) <= TELEGRAM_CAPTION_MAX;
        let text_empty = content.text.trim().is_empty();

        if progress.remote_id.is_none() {
            if has_media {
                let items = self.read_media(job).await?;
                let caption = (caption_fits && !text_empty).then_some(content.text.as_str());
                let sent = match self.send_media(&chat, &items, caption, true).await {
                    // A cached file_id the bot no longer has: upload instead
                    // (a 400 means nothing was sent).
                    Err(Outcome::Failed { reason })
                        if items.iter().any(|i| i.cached.is_some())
                            && (reason.contains("file identifier")
                                || reason.contains("file_id")) =>
                    {
                        self.send_media(&chat, &items, caption, false).await
                    }
                    other => other,
                };
                let (ids, file_ids) = sent?;
                for (item, file_id) in items.iter().zip(file_ids) {
                    if let Some(file_id) = file_id {
                        progress.media.insert(item.file.sha256.clone(), file_id);
                    }
                }
                let first = ids.first().copied().unwrap_or_default();
                progress.remote_id = Some(first.to_string());
                progress.url = chat.message_url(first);
                if ids.len() > 1 {
                    let all: Vec<String> = ids.iter().map(i64::to_string).collect();
                    progress.extra.insert("album".into(), all.join(","));
                }
                save(checkpoint, &progress).await?;
                for item in &items {
                    if let Some(file_id) = progress.media.get(&item.file.sha256) {
                        self.deps
                            .uploads
                            .put(&job.account_id, &item.file.sha256, file_id, None)
                            .await;
                    }
                }
            } else {
                let id = self
                    .send_text(&chat, "sending the text", &content.text, None)
                    .await?;
                progress.remote_id = Some(id.to_string());
                progress.url = chat.message_url(id);
                save(checkpoint, &progress).await?;
            }
        }
        let main_id: i64 = progress
            .remote_id
            .as_deref()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| Outcome::Failed {
                reason: format!(
                    "the saved progress holds a message id that is not a number ({:?})",
                    progress.remote_id
                ),
            })?;
        let url = progress.url.clone();

        // The text that did not fit in a caption, replying to the media.
        let mut last = main_id;
        if has_media && !caption_fits {
            match progress
                .extra
                .get(TEXT_MESSAGE)
                .and_then(|s| s.parse().ok())
            {
                Some(id) => last = id,
                None => {
                    let id = self
                        .send_text(
                            &chat,
                            "sending the text after the media",
                            &content.text,
                            Some(main_id),
                        )
                        .await
                        .map_err(|o| after_main(o, url.as_deref()))?;
                    progress.extra.insert(TEXT_MESSAGE.into(), id.to_string());
                    save(checkpoint, &progress).await?;
                    last = id;
                }
            }
        }

        for (i, reply) in content.thread.iter().enumerate() {
            if let Some(done) = progress.thread.get(i) {
                last = done.parse().unwrap_or(last);
                continue;
            }
            let what = format!("sending thread reply {}", i + 1);
            let id = self
                .send_text(&chat, &what, reply, Some(last))
                .await
                .map_err(|o| after_main(o, url.as_deref()))?;
            progress.thread.push(id.to_string());
            save(checkpoint, &progress).await?;
            last = id;
        }

        if let Some(comment) = &content.first_comment
            && progress.first_comment.is_none()
        {
            let id = self
                .send_text(&chat, "sending the first comment", comment, Some(main_id))
                .await
                .map_err(|o| after_main(o, url.as_deref()))?;
            progress.first_comment = Some(id.to_string());
            save(checkpoint, &progress).await?;
        }

        Ok(Outcome::Published {
            remote_id: main_id.to_string(),
            url,
        })
    }
}

#[async_trait]
impl Platform for Telegram {
    fn kind(&self) -> PlatformKind {
        PlatformKind::Telegram
    }

    fn idempotency(&self) -> Idempotency {
        Idempotency::None
    }

    async fn publish(&self, job: &PublishJob, checkpoint: &dyn Checkpoint) -> Outcome {
        match self.run(job, checkpoint).await {
            Ok(outcome) | Err(outcome) => outcome,
        }
    }
}

fn message_id(what: &str, message: &Value) -> Result<i64, Outcome> {
    message
        .get("message_id")
        .and_then(Value::as_i64)
        .ok_or_else(|| Outcome::Unknown {
            reason: format!(
                "{what}: Telegram answered ok without a message id: {}",
                excerpt(&message.to_string())
            ),
        })
}

async fn save(checkpoint: &dyn Checkpoint, progress: &Progress) -> Result<(), Outcome> {
    // Telegram cannot be asked later what went out: a confirmed message that
    // cannot be recorded is for an operator, never sent again.
    checkpoint
        .save(progress)
        .await
        .map_err(|e| Outcome::Unknown {
            reason: format!(
                "Telegram published message {} but {e}: check the channel before releasing it",
                progress
                    .thread
                    .last()
                    .or(progress.remote_id.as_ref())
                    .map(String::as_str)
                    .unwrap_or("?")
            ),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2026-12-18T09:00:00Z".parse().unwrap()
    }

    #[test]
    fn chats_and_links() {
        let c = Chat::parse("a", Some("@unicef_maroc")).unwrap();
        assert_eq!(c, Chat::Public("unicef_maroc".into()));
        assert_eq!(c.chat_id(), json!("@unicef_maroc"));
        assert_eq!(
            c.message_url(42).as_deref(),
            Some("https://t.me/unicef_maroc/42")
        );
        let c = Chat::parse("a", Some("-1001234567890")).unwrap();
        assert_eq!(c.chat_id(), json!(-1001234567890i64));
        assert_eq!(
            c.message_url(7).as_deref(),
            Some("https://t.me/c/1234567890/7")
        );
        assert_eq!(
            Chat::parse("a", Some("12345")).unwrap().message_url(7),
            None
        );
        assert_eq!(
            Chat::parse("a", Some("https://t.me/oim_maroc")).unwrap(),
            Chat::Public("oim_maroc".into())
        );
        assert!(Chat::parse("a", None).unwrap_err().contains("handle"));
        assert!(Chat::parse("a", Some("not a channel!")).is_err());
    }

    #[test]
    fn message_bodies_are_plain_text() {
        let c = Chat::Public("chan".into());
        let text = "مرحبا *bonjour* _x_ [lien](y) 🎉";
        assert_eq!(
            message_body(&c, text, None),
            json!({"chat_id": "@chan", "text": text})
        );
        assert_eq!(
            message_body(&c, "r", Some(42)),
            json!({"chat_id": "@chan", "text": "r",
                   "reply_parameters": {"message_id": 42, "allow_sending_without_reply": true}})
        );
    }

    #[test]
    fn media_groups_attach_uploads_and_reuse_file_ids() {
        let v = media_group_json(
            &[Kind::Photo, Kind::Video, Kind::Photo],
            &[None, None, Some("AgAC-9".into())],
            Some("légende"),
        );
        assert_eq!(
            v,
            json!([
                {"type": "photo", "media": "attach://m0", "caption": "légende"},
                {"type": "video", "media": "attach://m1", "supports_streaming": true},
                {"type": "photo", "media": "AgAC-9"}
            ])
        );
    }

    #[test]
    fn file_ids_are_read_from_messages() {
        let photo = json!({"message_id": 1, "photo": [
            {"file_id": "small", "width": 90, "height": 90},
            {"file_id": "big", "width": 1280, "height": 960}]});
        assert_eq!(message_file_id(&photo).as_deref(), Some("big"));
        let video = json!({"message_id": 2, "video": {"file_id": "vid"}});
        assert_eq!(message_file_id(&video).as_deref(), Some("vid"));
        assert_eq!(message_file_id(&json!({"text": "x"})), None);
    }

    #[test]
    fn lengths_count_utf16_units() {
        assert_eq!(telegram_length("abc"), 3);
        assert_eq!(telegram_length("مرحبا"), 5);
        assert_eq!(telegram_length("🎉"), 2);
    }

    #[test]
    fn errors_are_classified() {
        let chat = Chat::Public("chan".into());
        let c = |code: u16, description: &str, params: Value| {
            classify_error(
                "x",
                &chat,
                code,
                &json!({"ok": false, "error_code": code, "description": description,
                        "parameters": params}),
                None,
                now(),
            )
        };
        assert_eq!(
            c(
                429,
                "Too Many Requests: retry after 35",
                json!({"retry_after": 35})
            ),
            Outcome::Retry {
                at: Some("2026-12-18T09:00:35Z".parse().unwrap()),
                reason: "x: Telegram answered 429: Too Many Requests: retry after 35".into()
            }
        );
        assert!(matches!(
            c(401, "Unauthorized", json!({})),
            Outcome::NeedsOperator { .. }
        ));
        match c(
            403,
            "Forbidden: bot is not a member of the channel chat",
            json!({}),
        ) {
            Outcome::NeedsOperator { reason } => {
                assert!(
                    reason.contains("administrator") && reason.contains("@chan"),
                    "{reason}"
                )
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            c(
                400,
                "Bad Request: need administrator rights in the channel chat",
                json!({})
            ),
            Outcome::NeedsOperator { .. }
        ));
        match c(400, "Bad Request: chat not found", json!({})) {
            Outcome::Failed { reason } => assert!(reason.contains("handle"), "{reason}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            c(413, "Request Entity Too Large", json!({})),
            Outcome::Failed { .. }
        ));
        assert!(matches!(
            c(500, "Internal Server Error", json!({})),
            Outcome::Unknown { .. }
        ));
        // The header when the body has no parameters.
        let o = classify_error(
            "x",
            &chat,
            429,
            &json!({"ok": false, "error_code": 429, "description": "flood"}),
            Some("12"),
            now(),
        );
        assert!(
            matches!(o, Outcome::Retry { at: Some(at), .. } if at == "2026-12-18T09:00:12Z".parse::<Timestamp>().unwrap())
        );
    }
}
