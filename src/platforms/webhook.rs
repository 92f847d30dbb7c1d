//! Webhook publishing: a generic JSON POST signed with HMAC-SHA256, and ready
//! formats for Slack, Microsoft Teams and Discord incoming webhooks.
//!
//! The account option `format` chooses the body: `"json"` (the default),
//! `"slack"`, `"teams"` or `"discord"`. The option `media_url`, when set, is
//! the public address the campaign's media folder is served from
//! (`https://cdn.example.org/campaigns/`): images are then shown in the
//! message (Slack image blocks, an Adaptive Card image, Discord embeds) and
//! every file gets a `url` in the generic JSON. Nothing is uploaded.
//!
//! Where the request goes, and the secret (`deps.credentials`):
//! - if the secret is itself a URL (`https://hooks.slack.com/services/...`,
//!   `https://discord.com/api/webhooks/ID/TOKEN`, a Teams workflow URL), the
//!   request goes there: for those services the URL IS the credential, so it
//!   never has to be written in berrah.toml (`base_url` then only names the
//!   service, e.g. `https://hooks.slack.com`);
//! - otherwise the request goes to `base_url` and the secret is the signing
//!   key of the generic format.
//!
//! Every request carries `X-Berrah-Delivery: <occurrence id>` (the same on
//! every attempt, so that a receiver can drop a duplicate) and
//! `X-Berrah-Timestamp: <Unix seconds>`; with a signing key, also
//! `X-Berrah-Signature: v1=<hex>`, the HMAC-SHA256 of the timestamp, a `.`
//! and the exact body bytes (as Slack and Stripe sign theirs). A receiver
//! recomputes the HMAC over `timestamp + "." + raw body` with the shared key,
//! compares in constant time, and refuses a timestamp more than a few
//! minutes old: a captured request cannot be replayed later.
//!
//! A webhook cannot deduplicate for us ([`Idempotency::None`]): a request
//! that may have reached the receiver without an answer is
//! [`Outcome::Unknown`], held for an operator, never sent blindly again.
//! Unless the account says `dedupe_by_delivery = true`: its receiver
//! promises to drop a request whose `X-Berrah-Delivery` it has already
//! received, so the delivery id works as an idempotency key
//! ([`Idempotency::Keyed`], like Mastodon's `Idempotency-Key`) and an
//! unknown outcome is sent again, with the same delivery id.
//!
//! Answers (official documentation relied on):
//! - Slack, <https://api.slack.com/messaging/webhooks> ("Handling errors"):
//!   `200 ok`; plain-text errors such as `400 invalid_payload`, `400 no_text`,
//!   `403 action_prohibited`, `404 no_service` (the webhook was removed),
//!   `410 channel_is_archived`; rate limit of about one message per second,
//!   `429` with `Retry-After` (<https://api.slack.com/docs/rate-limits>).
//!   Blocks: <https://api.slack.com/reference/block-kit/blocks> (section
//!   text ≤ 3000 characters, image `alt_text` ≤ 2000, ≤ 50 blocks).
//! - Microsoft Teams workflows ("Post to a channel when a webhook request is
//!   received", the replacement of Office 365 connectors):
//!   <https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/add-incoming-webhook>:
//!   a `message` whose attachment is an Adaptive Card
//!   (`application/vnd.microsoft.card.adaptive`, card version 1.4); the
//!   workflow answers `202 Accepted`; errors are JSON `{"error": {"code",
//!   "message"}}`.
//! - Discord, <https://discord.com/developers/docs/resources/webhook#execute-webhook>:
//!   `content` ≤ 2000 characters, ≤ 10 `embeds` (description ≤ 4096);
//!   `?wait=true` makes the answer the created message (with its `id`);
//!   errors are JSON `{"code", "message"}` (`10015 Unknown Webhook`,
//!   `50027 Invalid Webhook Token`); `429` carries `retry_after` in seconds
//!   in its JSON body and `Retry-After`
//!   (<https://discord.com/developers/docs/topics/rate-limits>).
//!   `allowed_mentions: {"parse": []}` keeps campaign text from pinging
//!   `@everyone`.

use async_trait::async_trait;
use hmac::{Hmac, Mac};
use jiff::Timestamp;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use sha2::Sha256;

use super::common::{excerpt, retry_at, transport_outcome};
use super::{Checkpoint, Idempotency, Outcome, Platform, PlatformDeps, PublishJob};
use crate::config::PlatformKind;

/// The header with the delivery id (the occurrence id).
pub const DELIVERY_HEADER: &str = "x-berrah-delivery";
/// The header with the sending time, Unix seconds.
pub const TIMESTAMP_HEADER: &str = "x-berrah-timestamp";
/// The header with `v1=<hex HMAC of timestamp "." body>`.
pub const SIGNATURE_HEADER: &str = "x-berrah-signature";

/// Slack: characters of one section block's text.
const SLACK_SECTION_MAX: usize = 3000;
/// Slack: characters of an image's alt text.
const SLACK_ALT_MAX: usize = 2000;
/// Slack: blocks per message.
const SLACK_BLOCKS_MAX: usize = 50;
/// Discord: characters of `content`.
pub const DISCORD_CONTENT_MAX: usize = 2000;
/// Discord: characters of an embed's description.
pub const DISCORD_DESCRIPTION_MAX: usize = 4096;
/// Discord: characters of an embed's title.
const DISCORD_TITLE_MAX: usize = 256;
/// Discord: embeds per message.
const DISCORD_EMBEDS_MAX: usize = 10;

/// The body a webhook account sends (account option `format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// berrah's own JSON document, signed.
    Json,
    Slack,
    Teams,
    Discord,
}

impl Format {
    /// Reads the `format` option (default `json`).
    pub fn from_option(value: Option<&str>) -> Result<Format, String> {
        match value.map(str::trim) {
            None | Some("json") => Ok(Format::Json),
            Some("slack") => Ok(Format::Slack),
            Some("teams") => Ok(Format::Teams),
            Some("discord") => Ok(Format::Discord),
            Some(other) => Err(format!(
                "the webhook option `format = \"{other}\"` is not one of \"json\", \"slack\", \
                 \"teams\", \"discord\": fix it in berrah.toml"
            )),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Format::Json => "webhook",
            Format::Slack => "Slack",
            Format::Teams => "Teams",
            Format::Discord => "Discord",
        }
    }
}

/// Builds the client of one Webhook account.
pub fn build(deps: PlatformDeps) -> Box<dyn Platform> {
    Box::new(Webhook { deps })
}

/// A webhook account's client.
pub struct Webhook {
    deps: PlatformDeps,
}

/// The HMAC-SHA256 of `timestamp + "." + body` with `key`.
fn mac_of(key: &[u8], timestamp: &str, body: &[u8]) -> Option<Hmac<Sha256>> {
    // HMAC accepts keys of any length: `new_from_slice` cannot fail here.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).ok()?;
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    Some(mac)
}

/// The signature header's value for a request sent at `timestamp` (the
/// `X-Berrah-Timestamp` value, Unix seconds) with `body`:
/// `v1=<lowercase hex HMAC-SHA256(key, timestamp "." body)>`.
pub fn signature(key: &[u8], timestamp: &str, body: &[u8]) -> String {
    match mac_of(key, timestamp, body) {
        Some(mac) => format!("v1={}", hex::encode(mac.finalize().into_bytes())),
        None => String::new(),
    }
}

/// Whether `header` is the right signature of `timestamp` and `body`
/// (constant-time compare). The timestamp's age is the receiver's to check.
pub fn verify_signature(key: &[u8], timestamp: &str, body: &[u8], header: &str) -> bool {
    let Some(hex_sig) = header.strip_prefix("v1=") else {
        return false;
    };
    let Ok(sig) = hex::decode(hex_sig) else {
        return false;
    };
    mac_of(key, timestamp, body).is_some_and(|mac| mac.verify_slice(&sig).is_ok())
}

/// A media file's public address under the `media_url` option (the file's
/// path as written in the campaign, percent-encoded).
fn public_url(media_url: Option<&str>, file: &str) -> Option<String> {
    let base = media_url?;
    let base = if base.ends_with('/') {
        base.to_string()
    } else {
        format!("{base}/")
    };
    let base = url::Url::parse(&base).ok()?;
    base.join(file.trim_start_matches('/'))
        .ok()
        .map(|u| u.to_string())
}

fn is_image(file: &str) -> bool {
    let lower = file.to_ascii_lowercase();
    [".jpg", ".jpeg", ".png", ".gif", ".webp"]
        .iter()
        .any(|ext| lower.ends_with(ext))
}

/// Cuts `s` to at most `max` characters, with `…` when cut.
fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Splits text into pieces of at most `max` characters, preferring line breaks.
fn pieces(text: &str, max: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut len = 0;
    for line in text.split_inclusive('\n') {
        let n = line.chars().count();
        if len + n > max && !current.is_empty() {
            out.push(std::mem::take(&mut current));
            len = 0;
        }
        if n > max {
            let chars: Vec<char> = line.chars().collect();
            for chunk in chars.chunks(max) {
                out.push(chunk.iter().collect());
            }
            continue;
        }
        current.push_str(line);
        len += n;
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Slack's mrkdwn needs `&`, `<` and `>` escaped
/// (<https://api.slack.com/reference/surfaces/formatting#escaping>).
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The images of a job that have a public URL, with their alt text.
fn images(job: &PublishJob, media_url: Option<&str>) -> Vec<(String, Option<String>)> {
    job.content
        .media
        .iter()
        .filter(|m| is_image(&m.file))
        .filter_map(|m| public_url(media_url, &m.file).map(|u| (u, m.alt.clone())))
        .collect()
}

/// The request body for `format` (pure). `sent_at` goes into the generic
/// JSON (signed with it). An error is a permanent, actionable reason.
pub fn body(
    format: Format,
    job: &PublishJob,
    media_url: Option<&str>,
    sent_at: Timestamp,
) -> Result<Value, String> {
    let c = &job.content;
    match format {
        Format::Json => Ok(json!({
            "delivery": job.occurrence_id,
            "attempt": job.attempt,
            "account": job.account_id,
            "language": job.language,
            "due": job.due,
            "sent_at": sent_at,
            "text": c.text,
            "title": c.title,
            "description": c.description,
            "media": c.media.iter().map(|m| json!({
                "file": m.file,
                "alt": m.alt,
                "url": public_url(media_url, &m.file),
            })).collect::<Vec<_>>(),
            "thread": c.thread,
            "first_comment": c.first_comment,
        })),
        Format::Slack => {
            let mut blocks = Vec::new();
            if let Some(t) = &c.title {
                blocks.push(json!({
                    "type": "header",
                    "text": {"type": "plain_text", "text": cut(t, 150), "emoji": true},
                }));
            }
            for p in pieces(&slack_escape(&c.text), SLACK_SECTION_MAX) {
                blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": p}}));
            }
            for (url, alt) in images(job, media_url) {
                blocks.push(json!({
                    "type": "image",
                    "image_url": url,
                    "alt_text": cut(alt.as_deref().unwrap_or("image"), SLACK_ALT_MAX),
                }));
            }
            if blocks.len() > SLACK_BLOCKS_MAX {
                return Err(format!(
                    "the post makes {} Slack blocks, more than Slack's {SLACK_BLOCKS_MAX}: \
                     shorten the text or use fewer images",
                    blocks.len()
                ));
            }
            if c.text.trim().is_empty() && blocks.is_empty() {
                return Err("the post has no text: Slack refuses an empty message".into());
            }
            // `text` is the notification's fallback when blocks are present.
            Ok(json!({"text": slack_escape(&c.text), "blocks": blocks}))
        }
        Format::Teams => {
            let mut body = Vec::new();
            if let Some(t) = &c.title {
                body.push(json!({
                    "type": "TextBlock", "text": t, "weight": "Bolder", "size": "Medium",
                    "wrap": true,
                }));
            }
            body.push(json!({"type": "TextBlock", "text": c.text, "wrap": true}));
            for (url, alt) in images(job, media_url) {
                let mut img = json!({"type": "Image", "url": url, "size": "Stretch"});
                if let Some(alt) = alt {
                    img["altText"] = json!(alt);
                }
                body.push(img);
            }
            Ok(json!({
                "type": "message",
                "attachments": [{
                    "contentType": "application/vnd.microsoft.card.adaptive",
                    "contentUrl": null,
                    "content": {
                        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                        "type": "AdaptiveCard",
                        "version": "1.4",
                        "body": body,
                    },
                }],
            }))
        }
        Format::Discord => {
            // Discord counts UTF-16 code units; counting them is never less
            // than counting characters, so a text that passes here passes there.
            let units = c.text.encode_utf16().count();
            let mut embeds = Vec::new();
            let content = if units <= DISCORD_CONTENT_MAX {
                c.text.clone()
            } else if units <= DISCORD_DESCRIPTION_MAX {
                // Too long for `content`: the whole text goes in an embed.
                embeds.push(json!({"description": c.text}));
                String::new()
            } else {
                return Err(format!(
                    "the text is {units} characters (UTF-16) long; a Discord message holds \
                     {DISCORD_CONTENT_MAX} (or {DISCORD_DESCRIPTION_MAX} in an embed): shorten \
                     the post's text or give Discord a `variant`"
                ));
            };
            if let Some(t) = &c.title {
                match embeds.first_mut() {
                    Some(e) => e["title"] = json!(cut(t, DISCORD_TITLE_MAX)),
                    None => embeds.push(json!({"title": cut(t, DISCORD_TITLE_MAX)})),
                }
            }
            for (i, (url, alt)) in images(job, media_url).into_iter().enumerate() {
                let image = json!({"url": url});
                if i == 0
                    && let Some(e) = embeds.first_mut()
                {
                    e["image"] = image;
                    continue;
                }
                let mut e = json!({"image": image});
                if let Some(alt) = alt {
                    // Embeds have no alt text: the description carries it.
                    e["description"] = json!(cut(&alt, DISCORD_DESCRIPTION_MAX));
                }
                embeds.push(e);
            }
            if embeds.len() > DISCORD_EMBEDS_MAX {
                embeds.truncate(DISCORD_EMBEDS_MAX);
            }
            if content.is_empty() && embeds.is_empty() {
                return Err("the post has no text: Discord refuses an empty message".into());
            }
            let mut v = json!({"allowed_mentions": {"parse": []}});
            if !content.is_empty() {
                v["content"] = json!(content);
            }
            if !embeds.is_empty() {
                v["embeds"] = json!(embeds);
            }
            Ok(v)
        }
    }
}

/// Where to send: the secret when it is a webhook URL, else `base_url`;
/// Discord gets `wait=true` so that its answer carries the message id.
pub fn target(
    format: Format,
    base_url: Option<&str>,
    secret: &str,
) -> Result<(url::Url, bool), String> {
    let secret_is_url = secret.starts_with("https://") || secret.starts_with("http://");
    let raw = if secret_is_url {
        secret
    } else {
        base_url.ok_or_else(|| {
            "the webhook account has no `base_url`: add it to berrah.toml (or store the \
             webhook URL as its secret with `berrah accounts login`)"
                .to_string()
        })?
    };
    let mut url = url::Url::parse(raw).map_err(|_| {
        if secret_is_url {
            "the webhook URL stored as this account's secret is not a valid URL: store it again \
             with `berrah accounts login`"
                .to_string()
        } else {
            "the account's `base_url` is not a valid URL: fix it in berrah.toml".to_string()
        }
    })?;
    if format == Format::Discord {
        let others: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| k != "wait")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        url.query_pairs_mut()
            .clear()
            .extend_pairs(others)
            .append_pair("wait", "true");
    }
    Ok((url, secret_is_url))
}

/// The receiver's own message from an error body (JSON `message`, `error`,
/// `error.message`, or the text itself), short.
pub fn receiver_message(body: &str) -> String {
    if let Ok(v) = serde_json::from_str::<Value>(body) {
        let found = v
            .get("message")
            .and_then(Value::as_str)
            .or_else(|| v.pointer("/error/message").and_then(Value::as_str))
            .or_else(|| v.get("error").and_then(Value::as_str));
        if let Some(m) = found {
            let code = v
                .get("code")
                .and_then(|c| c.as_i64().map(|n| n.to_string()))
                .or_else(|| {
                    v.pointer("/error/code")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                });
            return match code {
                Some(code) => format!("{} (code {code})", excerpt(m)),
                None => excerpt(m),
            };
        }
    }
    let text = excerpt(body);
    if text.is_empty() {
        "no message".into()
    } else {
        text
    }
}

/// What to tell an operator about a refusal, per format and status.
fn hint(format: Format, status: u16, message: &str) -> &'static str {
    match (format, status) {
        (Format::Slack, 400) if message.contains("invalid_payload") => {
            "Slack refused the message's shape; report it with `berrah show ID`"
        }
        (Format::Slack, 400) if message.contains("no_text") => {
            "the post has no text: add text to it in the campaign file"
        }
        (Format::Discord, 400) => {
            "Discord refused the message (text or embed limits); shorten the post's text"
        }
        (_, 413) => "the message is too large for the receiver: shorten the post",
        _ => "check the receiver and the account's settings",
    }
}

/// Reads an answer into an [`Outcome`] (pure). `delivery` is the occurrence
/// id, the published id when the receiver gives none.
pub fn classify(
    format: Format,
    status: StatusCode,
    headers: &HeaderMap,
    body: &str,
    delivery: &str,
    now: Timestamp,
) -> Outcome {
    let code = status.as_u16();
    let service = format.name();
    if status.is_success() {
        let answer: Option<Value> = serde_json::from_str(body).ok();
        return match format {
            Format::Discord => {
                let id = answer.as_ref().and_then(|v| v.get("id")).and_then(|id| {
                    id.as_str()
                        .map(str::to_string)
                        .or_else(|| id.as_u64().map(|n| n.to_string()))
                });
                let url = answer.as_ref().and_then(|v| {
                    let guild = v.get("guild_id")?.as_str()?;
                    let channel = v.get("channel_id")?.as_str()?;
                    let id = v.get("id")?.as_str()?;
                    Some(format!(
                        "https://discord.com/channels/{guild}/{channel}/{id}"
                    ))
                });
                Outcome::Published {
                    remote_id: id.unwrap_or_else(|| delivery.to_string()),
                    url,
                }
            }
            Format::Json => Outcome::Published {
                remote_id: delivery.to_string(),
                url: answer
                    .as_ref()
                    .and_then(|v| v.get("url"))
                    .and_then(Value::as_str)
                    .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
                    .map(str::to_string),
            },
            Format::Slack | Format::Teams => Outcome::Published {
                remote_id: delivery.to_string(),
                url: None,
            },
        };
    }
    let message = receiver_message(body);
    let reason = format!("{service} answered HTTP {code}: {message}");
    match code {
        429 => {
            // Discord's JSON `retry_after` (seconds, fractional) is the precise one.
            let from_body = serde_json::from_str::<Value>(body)
                .ok()
                .and_then(|v| v.get("retry_after").and_then(Value::as_f64))
                .filter(|s| s.is_finite() && *s >= 0.0)
                .and_then(|s| {
                    now.checked_add(jiff::SignedDuration::from_millis((s * 1000.0).ceil() as i64))
                        .ok()
                });
            Outcome::Retry {
                at: from_body.or_else(|| retry_at(headers, now)),
                reason,
            }
        }
        408 | 425 | 500..=599 => Outcome::Retry {
            at: retry_at(headers, now),
            reason,
        },
        401 | 403 => Outcome::NeedsOperator {
            reason: format!(
                "{reason} (the receiver refused the credentials or the signature: check its \
                 key, then `berrah accounts login ACCOUNT`)"
            ),
        },
        404 | 410 if format != Format::Json => Outcome::NeedsOperator {
            reason: format!(
                "{reason} (the {service} webhook was removed, disabled or its channel archived: \
                 make a new one and store its URL with `berrah accounts login ACCOUNT`)"
            ),
        },
        _ => Outcome::Failed {
            reason: format!("{reason} ({})", hint(format, code, &message)),
        },
    }
}

impl Webhook {
    /// One POST; `Err` is a transport fault.
    async fn send(
        &self,
        format: Format,
        job: &PublishJob,
        secret: &SecretString,
        now: Timestamp,
    ) -> Result<Result<(StatusCode, HeaderMap, String), Outcome>, reqwest::Error> {
        let media_url = self.deps.account.option_str("media_url");
        let (url, secret_is_url) =
            match target(format, self.deps.account.base_url(), secret.expose_secret()) {
                Ok(t) => t,
                Err(reason) => return Ok(Err(Outcome::Failed { reason })),
            };
        if secret_is_url && crate::http::cleartext(&url) {
            // The URL is the secret: in clear it would be readable on the way.
            return Ok(Err(Outcome::NeedsOperator {
                reason: "the webhook URL stored as this account's secret starts with \
                         `http://`, which would send it in clear: store its `https://` URL \
                         with `berrah accounts login` (plain http is only for this machine)"
                    .to_string(),
            }));
        }
        let body = match body(format, job, media_url, now) {
            Ok(b) => b,
            Err(reason) => return Ok(Err(Outcome::Failed { reason })),
        };
        let bytes = match serde_json::to_vec(&body) {
            Ok(b) => b,
            Err(e) => {
                return Ok(Err(Outcome::Failed {
                    reason: format!("the webhook body cannot be written: {e}"),
                }));
            }
        };
        let timestamp = now.as_second().to_string();
        let mut req = self
            .deps
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(DELIVERY_HEADER, &job.occurrence_id)
            .header(TIMESTAMP_HEADER, &timestamp);
        if !secret_is_url {
            req = req.header(
                SIGNATURE_HEADER,
                signature(secret.expose_secret().as_bytes(), &timestamp, &bytes),
            );
        }
        let resp = req.body(bytes).send().await?;
        let status = resp.status();
        let headers = resp.headers().clone();
        // An unreadable answer body after a status line still has its status
        // (so does one too large to read: a receiver's answer is bounded).
        let text = crate::http::read_answer(resp, crate::http::JSON_BODY_LIMIT)
            .await
            .unwrap_or_default();
        Ok(Ok((status, headers, text)))
    }
}

#[async_trait]
impl Platform for Webhook {
    fn kind(&self) -> PlatformKind {
        PlatformKind::Webhook
    }

    fn idempotency(&self) -> Idempotency {
        if self.deps.account.dedupe_by_delivery {
            Idempotency::Keyed
        } else {
            Idempotency::None
        }
    }

    async fn publish(&self, job: &PublishJob, _: &dyn Checkpoint) -> Outcome {
        // Already delivered by an earlier attempt: never send again.
        if let Some(id) = &job.progress.remote_id {
            return Outcome::Published {
                remote_id: id.clone(),
                url: job.progress.url.clone(),
            };
        }
        let format = match Format::from_option(self.deps.account.option_str("format")) {
            Ok(f) => f,
            Err(reason) => return Outcome::Failed { reason },
        };
        let mut secret = match self.deps.credentials.secret().await {
            Ok(s) => s,
            Err(e) => {
                return Outcome::NeedsOperator {
                    reason: e.to_string(),
                };
            }
        };
        let mut renewed = false;
        loop {
            let now = self.deps.clock.now();
            let (status, headers, text) = match self.send(format, job, &secret, now).await {
                Ok(Ok(answer)) => answer,
                Ok(Err(outcome)) => return outcome,
                Err(e) => {
                    return transport_outcome(
                        &format!("sending to the {} webhook", format.name()),
                        &e,
                        false,
                    );
                }
            };
            // 401: refused before anything was posted, so sending again with a
            // renewed secret is safe (once).
            if status == StatusCode::UNAUTHORIZED && !renewed {
                renewed = true;
                if let Ok(fresh) = self.deps.credentials.renew_rejected(&secret).await
                    && fresh.expose_secret() != secret.expose_secret()
                {
                    secret = fresh;
                    continue;
                }
            }
            // One step: the worker records the outcome at once (no
            // checkpoint first; see `Checkpoint`).
            return classify(format, status, &headers, &text, &job.occurrence_id, now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Content, MediaRef};
    use reqwest::header::HeaderValue;
    use std::sync::Arc;

    fn now() -> Timestamp {
        "2026-12-18T09:00:00Z".parse().unwrap()
    }

    fn job(text: &str) -> PublishJob {
        let account: crate::config::AccountConfig =
            toml::from_str("platform = \"webhook\"\nbase_url = \"https://h.example/x\"\n").unwrap();
        PublishJob {
            occurrence_id: "o-3fa9c2d1e4b5a6f7".into(),
            attempt: 1,
            account_id: "oim-hook".into(),
            account: Arc::new(account),
            language: "ar".into(),
            content: Content {
                text: text.into(),
                title: Some("Journée des migrants".into()),
                media: vec![
                    MediaRef {
                        file: "media/photo 1.jpg".into(),
                        path: "campaigns/media/photo 1.jpg".into(),
                        alt: Some("Des familles à Rabat".into()),
                        thumbnail: None,
                    },
                    MediaRef {
                        file: "media/clip.mp4".into(),
                        path: "campaigns/media/clip.mp4".into(),
                        alt: None,
                        thumbnail: None,
                    },
                ],
                ..Content::default()
            },
            progress: crate::platforms::Progress::default(),
            due: now(),
        }
    }

    #[test]
    fn signatures_round_trip_and_catch_changes() {
        let ts = "1797584700";
        let sig = signature(b"key", ts, b"{\"a\":1}");
        assert!(sig.starts_with("v1=") && sig.len() == 3 + 64);
        assert!(verify_signature(b"key", ts, b"{\"a\":1}", &sig));
        assert!(!verify_signature(b"key", ts, b"{\"a\":2}", &sig));
        assert!(!verify_signature(b"key", "1797584701", b"{\"a\":1}", &sig));
        assert!(!verify_signature(b"other", ts, b"{\"a\":1}", &sig));
        assert!(!verify_signature(b"key", ts, b"{\"a\":1}", "md5=00"));
        // Computed apart, with Python's `hmac`:
        // hmac.new(b"key", b'1797584700.{"a":1}', hashlib.sha256).hexdigest()
        assert_eq!(
            sig,
            "v1=a6451ed49e63ab280307fb300d655217fe4f147ab16b4e5783b7973181aa09b2"
        );
    }

    #[test]
    fn formats_parse_with_an_actionable_error() {
        assert_eq!(Format::from_option(None), Ok(Format::Json));
        assert_eq!(Format::from_option(Some("discord")), Ok(Format::Discord));
        let e = Format::from_option(Some("mattermost")).unwrap_err();
        assert!(e.contains("\"slack\"") && e.contains("berrah.toml"), "{e}");
    }

    #[test]
    fn slack_body_escapes_and_shows_public_images() {
        let b = body(
            Format::Slack,
            &job("Tous <ensemble> & solidaires — معًا"),
            Some("https://cdn.example.org/c"),
            now(),
        )
        .unwrap();
        assert_eq!(b["text"], "Tous &lt;ensemble&gt; &amp; solidaires — معًا");
        let blocks = b["blocks"].as_array().unwrap();
        assert_eq!(blocks[0]["type"], "header");
        assert_eq!(blocks[1]["text"]["type"], "mrkdwn");
        assert_eq!(blocks[2]["type"], "image");
        assert_eq!(
            blocks[2]["image_url"],
            "https://cdn.example.org/c/media/photo%201.jpg"
        );
        assert_eq!(blocks[2]["alt_text"], "Des familles à Rabat");
        assert_eq!(blocks.len(), 3, "the video is not an image block");
        // Without a public URL, no image block.
        let b = body(Format::Slack, &job("x"), None, now()).unwrap();
        assert_eq!(b["blocks"].as_array().unwrap().len(), 2);
        // Long text is split into sections of at most 3000 characters.
        let long = "ب".repeat(7000);
        let b = body(Format::Slack, &job(&long), None, now()).unwrap();
        let sections: Vec<&Value> = b["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|b| b["type"] == "section")
            .collect();
        assert_eq!(sections.len(), 3);
        assert!(
            sections
                .iter()
                .all(|s| s["text"]["text"].as_str().unwrap().chars().count() <= 3000)
        );
    }

    #[test]
    fn teams_body_is_an_adaptive_card_message() {
        let b = body(
            Format::Teams,
            &job("Bonjour"),
            Some("https://cdn.example.org/"),
            now(),
        )
        .unwrap();
        assert_eq!(b["type"], "message");
        let a = &b["attachments"][0];
        assert_eq!(a["contentType"], "application/vnd.microsoft.card.adaptive");
        assert_eq!(a["content"]["type"], "AdaptiveCard");
        assert_eq!(a["content"]["version"], "1.4");
        let body = a["content"]["body"].as_array().unwrap();
        assert_eq!(body[0]["weight"], "Bolder");
        assert_eq!(body[1]["text"], "Bonjour");
        assert_eq!(body[2]["type"], "Image");
        assert_eq!(body[2]["altText"], "Des familles à Rabat");
    }

    #[test]
    fn discord_body_respects_limits() {
        let b = body(Format::Discord, &job("Salut @everyone"), None, now()).unwrap();
        assert_eq!(b["content"], "Salut @everyone");
        assert_eq!(b["allowed_mentions"]["parse"], json!([]));
        assert_eq!(b["embeds"][0]["title"], "Journée des migrants");
        // 2001 UTF-16 units: into an embed.
        let long = "x".repeat(2001);
        let b = body(
            Format::Discord,
            &job(&long),
            Some("https://cdn.example.org"),
            now(),
        )
        .unwrap();
        assert!(b.get("content").is_none());
        assert_eq!(b["embeds"][0]["description"].as_str().unwrap().len(), 2001);
        assert_eq!(
            b["embeds"][0]["image"]["url"],
            "https://cdn.example.org/media/photo%201.jpg"
        );
        // Emoji count twice in UTF-16.
        let emoji = "😀".repeat(1001);
        let b = body(Format::Discord, &job(&emoji), None, now()).unwrap();
        assert!(b.get("content").is_none(), "2002 UTF-16 units do not fit");
        let e = body(Format::Discord, &job(&"x".repeat(5000)), None, now()).unwrap_err();
        assert!(e.contains("shorten"), "{e}");
    }

    #[test]
    fn json_body_carries_delivery_and_time() {
        let b = body(Format::Json, &job("Bonjour"), None, now()).unwrap();
        assert_eq!(b["delivery"], "o-3fa9c2d1e4b5a6f7");
        assert_eq!(b["sent_at"], "2026-12-18T09:00:00Z");
        assert_eq!(b["media"][0]["url"], Value::Null);
        assert_eq!(b["language"], "ar");
    }

    #[test]
    fn targets() {
        let (u, secret_url) = target(Format::Json, Some("https://h.example/x"), "key").unwrap();
        assert_eq!(u.as_str(), "https://h.example/x");
        assert!(!secret_url);
        let (u, secret_url) = target(
            Format::Discord,
            Some("https://discord.com"),
            "https://discord.com/api/webhooks/1/tok?wait=false&thread_id=9",
        )
        .unwrap();
        assert!(secret_url);
        assert_eq!(
            u.as_str(),
            "https://discord.com/api/webhooks/1/tok?thread_id=9&wait=true"
        );
        let e = target(Format::Json, None, "key").unwrap_err();
        assert!(e.contains("base_url"));
        let e = target(Format::Slack, None, "https://[hooks.slack.com/T0/B0/secret").unwrap_err();
        assert!(!e.contains("T0/B0"), "never echo a secret URL: {e}");
    }

    #[test]
    fn answers_are_classified() {
        let h = HeaderMap::new();
        let ok = classify(
            Format::Discord,
            StatusCode::OK,
            &h,
            r#"{"id":"1234","channel_id":"55","guild_id":"66"}"#,
            "o-1",
            now(),
        );
        assert_eq!(
            ok,
            Outcome::Published {
                remote_id: "1234".into(),
                url: Some("https://discord.com/channels/66/55/1234".into())
            }
        );
        assert_eq!(
            classify(Format::Slack, StatusCode::OK, &h, "ok", "o-1", now()),
            Outcome::Published {
                remote_id: "o-1".into(),
                url: None
            }
        );
        let limited = classify(
            Format::Discord,
            StatusCode::TOO_MANY_REQUESTS,
            &h,
            r#"{"message":"You are being rate limited.","retry_after":1.5,"global":false}"#,
            "o-1",
            now(),
        );
        assert_eq!(
            limited,
            Outcome::Retry {
                at: Some("2026-12-18T09:00:01.5Z".parse().unwrap()),
                reason: "Discord answered HTTP 429: You are being rate limited.".into()
            }
        );
        let mut ra = HeaderMap::new();
        ra.insert("retry-after", HeaderValue::from_static("30"));
        assert!(matches!(
            classify(Format::Slack, StatusCode::TOO_MANY_REQUESTS, &ra, "rate_limited", "o-1", now()),
            Outcome::Retry { at: Some(t), .. } if t == "2026-12-18T09:00:30Z".parse::<Timestamp>().unwrap()
        ));
        assert!(matches!(
            classify(Format::Teams, StatusCode::BAD_GATEWAY, &h, "", "o-1", now()),
            Outcome::Retry { .. }
        ));
        let gone = classify(
            Format::Slack,
            StatusCode::NOT_FOUND,
            &h,
            "no_service",
            "o-1",
            now(),
        );
        assert!(
            matches!(&gone, Outcome::NeedsOperator { reason } if reason.contains("no_service"))
        );
        let bad = classify(
            Format::Discord,
            StatusCode::BAD_REQUEST,
            &h,
            r#"{"message":"Invalid Form Body","code":50035}"#,
            "o-1",
            now(),
        );
        assert!(
            matches!(&bad, Outcome::Failed { reason } if reason.contains("Invalid Form Body (code 50035)")),
            "{bad:?}"
        );
        let teams = classify(
            Format::Teams,
            StatusCode::BAD_REQUEST,
            &h,
            r#"{"error":{"code":"InvalidRequestContent","message":"The input body for trigger 'manual' of type 'Request' did not match its schema definition."}}"#,
            "o-1",
            now(),
        );
        assert!(
            matches!(&teams, Outcome::Failed { reason } if reason.contains("did not match its schema") && reason.contains("InvalidRequestContent")),
            "{teams:?}"
        );
    }
}
