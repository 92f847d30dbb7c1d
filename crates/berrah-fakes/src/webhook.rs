//! Fake webhook receivers: generic JSON with HMAC signature, Slack, Microsoft
//! Teams and Discord incoming webhooks.
//!
//! Each receiver is strict like the real one (see `docs/platforms/webhook.md`
//! for the documentation relied on): method,
//! path (the secret part of the URL), content type, body shape and limits,
//! and for the generic format the signature, the delivery and timestamp
//! headers (a timestamp more than five minutes away from the receiver's
//! clock is refused, as a receiver refuses a replay). It answers with the real shapes: Slack's plain `ok` and error
//! words, Teams workflows' `202 Accepted` and JSON errors, Discord's message
//! object (with `?wait=true`) and JSON errors with codes. Everything received
//! is recorded, also when a fault is then played.
//!
//! Faults ([`Fault`]) are queued and used one per request: a rate limit with
//! the real headers and body, a server error, a refusal, or a dropped
//! connection after the request was read (the client cannot tell whether it
//! was received).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::{Value, json};

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The wire format of berrah's generic webhook, as its documentation gives
/// it (`docs/platforms/webhook.md`): the occurrence id, the sending time in
/// Unix seconds, and `v1=<64 lowercase hex digits>`, the HMAC-SHA256 with the
/// shared key of the timestamp header's value, a `.`, and the exact body
/// bytes.
const DELIVERY_HEADER: &str = "x-berrah-delivery";
const TIMESTAMP_HEADER: &str = "x-berrah-timestamp";
const SIGNATURE_HEADER: &str = "x-berrah-signature";

/// Discord: `content` and an embed's `description`, in characters
/// (<https://discord.com/developers/docs/resources/webhook#execute-webhook>).
const DISCORD_CONTENT_MAX: usize = 2000;
const DISCORD_DESCRIPTION_MAX: usize = 4096;

/// How far a request's timestamp may be from the receiver's clock.
pub const TIMESTAMP_TOLERANCE_SECS: i64 = 300;

/// Whether `header` is `v1=` and the lowercase hex HMAC-SHA256 under `key`
/// of `timestamp`, `.` and `body`, compared in constant time as a receiver
/// should.
pub fn signature_matches(key: &[u8], timestamp: &str, body: &[u8], header: &str) -> bool {
    let Some(digits) = header.strip_prefix("v1=") else {
        return false;
    };
    if digits.len() != 64
        || !digits
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return false;
    }
    let Ok(expected) = hex::decode(digits) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return false;
    };
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

/// Which receiver to imitate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A receiver of berrah's generic, signed JSON.
    Json,
    Slack,
    Teams,
    Discord,
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub query: String,
    pub content_type: Option<String>,
    pub delivery: Option<String>,
    pub timestamp: Option<String>,
    pub signature: Option<String>,
    /// Whether the signature matched (`None`: the receiver has no key).
    pub signature_valid: Option<bool>,
    /// The body as JSON (`Null` if it was not JSON).
    pub body: Value,
    pub raw: Vec<u8>,
}

/// What to do instead of (or before) answering normally, once.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// 429 with the receiver's headers (`Retry-After`, and for Discord the
    /// `X-RateLimit-*` headers and `retry_after` in the JSON body).
    RateLimited { retry_after_secs: f64 },
    /// This 5xx status with the receiver's error body.
    ServerError(u16),
    /// This status and body, as is.
    Reject(u16, String),
    /// Read the request, then close the connection without an answer.
    DropConnection,
    /// Take the request as usual (deliver it, or drop it as a duplicate),
    /// then close the connection without an answer: the receiver has it,
    /// the sender cannot know.
    DeliverThenDrop,
}

#[derive(Debug, Default)]
struct Inner {
    received: Vec<Received>,
    faults: VecDeque<Fault>,
    next_id: u64,
    /// The receiver's clock for the timestamp check (`None`: the wall clock).
    clock: Option<ReceiverClock>,
    /// Drops a request whose `X-Berrah-Delivery` was already delivered.
    dedupe: bool,
    /// The deliveries passed on, in order (generic format).
    delivered: Vec<String>,
    /// Requests answered as duplicates and not passed on.
    duplicates: usize,
}

/// A clock of the test's choosing (fixed, or following a simulated one).
#[derive(Clone)]
struct ReceiverClock(Arc<dyn Fn() -> jiff::Timestamp + Send + Sync>);

impl std::fmt::Debug for ReceiverClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReceiverClock")
    }
}

/// A fake receiver: build its [`router`](Receiver::router), serve it with
/// [`crate::serve`], post to `running.url() + receiver.path()`.
#[derive(Debug, Clone)]
pub struct Receiver {
    kind: Kind,
    key: Option<Vec<u8>>,
    inner: Arc<Mutex<Inner>>,
}

impl Receiver {
    /// A receiver of `kind`; `key` is the generic format's signing key
    /// (requests must then carry a valid signature).
    pub fn new(kind: Kind, key: Option<&str>) -> Receiver {
        Receiver {
            kind,
            key: key.map(|k| k.as_bytes().to_vec()),
            inner: Arc::new(Mutex::new(Inner {
                next_id: 1_180_000_000_000_000_001,
                ..Inner::default()
            })),
        }
    }

    /// The path the receiver listens on (the secret part of a real URL).
    pub fn path(&self) -> &'static str {
        match self.kind {
            Kind::Json => "/hooks/berrah",
            Kind::Slack => "/services/T0001/B0001/XXXXXXXXXXXXXXXXXXXXXXXX",
            Kind::Teams => "/workflows/8f1c/triggers/manual/paths/invoke",
            Kind::Discord => "/api/webhooks/1180000000000000000/discord-token-abc",
        }
    }

    /// The router to serve.
    pub fn router(&self) -> Router {
        Router::new().fallback(handle).with_state(self.clone())
    }

    /// What was received so far, in order.
    pub fn received(&self) -> Vec<Received> {
        self.lock().received.clone()
    }

    /// The receiver's clock for the timestamp check, for senders on a
    /// fixed or simulated clock (the default is the wall clock).
    pub fn set_clock(&self, now: impl Fn() -> jiff::Timestamp + Send + Sync + 'static) {
        self.lock().clock = Some(ReceiverClock(Arc::new(now)));
    }

    /// Makes this receiver drop a request whose `X-Berrah-Delivery` it has
    /// already passed on (answering it as a success), as the README's
    /// receiver for `dedupe_by_delivery = true` accounts does.
    pub fn dedupe_by_delivery(&self) {
        self.lock().dedupe = true;
    }

    /// The delivery ids passed on (generic format), in order: with
    /// deduplication, each at most once.
    pub fn delivered(&self) -> Vec<String> {
        self.lock().delivered.clone()
    }

    /// How many requests were dropped as duplicates.
    pub fn duplicates(&self) -> usize {
        self.lock().duplicates
    }

    /// Plays `fault` on the next request not yet answered.
    pub fn fail_next(&self, fault: Fault) {
        self.lock().faults.push_back(fault);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The receiver's "not found" answer (a removed webhook).
    fn not_found(&self) -> Response {
        match self.kind {
            Kind::Slack => (StatusCode::NOT_FOUND, "no_service").into_response(),
            Kind::Discord => discord_error(StatusCode::NOT_FOUND, 10015, "Unknown Webhook"),
            Kind::Teams => teams_error(
                StatusCode::NOT_FOUND,
                "WorkflowNotFound",
                "The workflow could not be found.",
            ),
            Kind::Json => (
                StatusCode::NOT_FOUND,
                Json(json!({"error": "no such hook"})),
            )
                .into_response(),
        }
    }

    fn bad_request(&self, why: &str) -> Response {
        match self.kind {
            Kind::Slack => (StatusCode::BAD_REQUEST, why.to_string()).into_response(),
            Kind::Discord => (
                StatusCode::BAD_REQUEST,
                Json(json!({"message": "Invalid Form Body", "code": 50035, "errors": {"_errors": [{"code": "BASE_TYPE_INVALID", "message": why}]}})),
            )
                .into_response(),
            Kind::Teams => teams_error(StatusCode::BAD_REQUEST, "InvalidRequestContent", why),
            Kind::Json => (StatusCode::BAD_REQUEST, Json(json!({"error": why}))).into_response(),
        }
    }

    fn fault(&self, fault: Fault) -> Response {
        match fault {
            Fault::RateLimited { retry_after_secs } => {
                let whole = retry_after_secs.ceil().max(0.0) as u64;
                match self.kind {
                    Kind::Discord => (
                        StatusCode::TOO_MANY_REQUESTS,
                        [
                            ("retry-after", whole.to_string()),
                            ("x-ratelimit-limit", "5".to_string()),
                            ("x-ratelimit-remaining", "0".to_string()),
                            ("x-ratelimit-reset-after", format!("{retry_after_secs}")),
                            ("x-ratelimit-scope", "shared".to_string()),
                        ],
                        Json(json!({
                            "message": "You are being rate limited.",
                            "retry_after": retry_after_secs,
                            "global": false,
                        })),
                    )
                        .into_response(),
                    Kind::Slack => (
                        StatusCode::TOO_MANY_REQUESTS,
                        [("retry-after", whole.to_string())],
                        "rate_limited",
                    )
                        .into_response(),
                    Kind::Teams => (
                        StatusCode::TOO_MANY_REQUESTS,
                        [("retry-after", whole.to_string())],
                        Json(json!({"error": {"code": "WorkflowTriggeredTooFrequently", "message": "The workflow was triggered too often."}})),
                    )
                        .into_response(),
                    Kind::Json => (
                        StatusCode::TOO_MANY_REQUESTS,
                        [("retry-after", whole.to_string())],
                        Json(json!({"error": "slow down"})),
                    )
                        .into_response(),
                }
            }
            Fault::ServerError(code) => {
                let status =
                    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                match self.kind {
                    Kind::Slack => (status, "rollup_error").into_response(),
                    Kind::Discord => discord_error(status, 0, "500: Internal Server Error"),
                    Kind::Teams => teams_error(status, "ServiceUnavailable", "Try again later."),
                    Kind::Json => (status, Json(json!({"error": "receiver down"}))).into_response(),
                }
            }
            Fault::Reject(code, body) => (
                StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST),
                body,
            )
                .into_response(),
            // Unwinds this connection's task without running the panic hook:
            // the socket is closed with no answer.
            Fault::DropConnection | Fault::DeliverThenDrop => {
                std::panic::resume_unwind(Box::new("dropped on purpose"))
            }
        }
    }
}

fn discord_error(status: StatusCode, code: u32, message: &str) -> Response {
    (status, Json(json!({"message": message, "code": code}))).into_response()
}

fn teams_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Checks the body's shape for `kind`; `Err` is the receiver's complaint.
fn check_shape(kind: Kind, body: &Value, query: &str) -> Result<(), String> {
    match kind {
        Kind::Json => {
            for field in ["delivery", "text", "sent_at", "account"] {
                if body.get(field).is_none() {
                    return Err(format!("missing field `{field}`"));
                }
            }
            Ok(())
        }
        Kind::Slack => {
            let text = body.get("text").and_then(Value::as_str).unwrap_or("");
            let blocks = body.get("blocks").and_then(Value::as_array);
            if text.is_empty() && blocks.is_none_or(|b| b.is_empty()) {
                return Err("no_text".into());
            }
            let blocks = blocks.map(Vec::as_slice).unwrap_or(&[]);
            if blocks.len() > 50 {
                return Err("invalid_blocks".into());
            }
            for b in blocks {
                let ok = match b.get("type").and_then(Value::as_str) {
                    Some("section") => b
                        .pointer("/text/text")
                        .and_then(Value::as_str)
                        .is_some_and(|t| !t.is_empty() && t.chars().count() <= 3000),
                    Some("header") => {
                        b.pointer("/text/text")
                            .and_then(Value::as_str)
                            .is_some_and(|t| t.chars().count() <= 150)
                            && b.pointer("/text/type") == Some(&json!("plain_text"))
                    }
                    Some("image") => {
                        b.get("image_url").and_then(Value::as_str).is_some()
                            && b.get("alt_text")
                                .and_then(Value::as_str)
                                .is_some_and(|a| a.chars().count() <= 2000)
                    }
                    _ => false,
                };
                if !ok {
                    return Err("invalid_blocks".into());
                }
            }
            Ok(())
        }
        Kind::Teams => {
            if body.get("type") != Some(&json!("message")) {
                return Err(
                    "The request body must be a message with an Adaptive Card attachment.".into(),
                );
            }
            let Some(att) = body.pointer("/attachments/0") else {
                return Err("The message has no attachments.".into());
            };
            if att.get("contentType") != Some(&json!("application/vnd.microsoft.card.adaptive")) {
                return Err("The attachment is not an Adaptive Card.".into());
            }
            let card = att.get("content").cloned().unwrap_or(Value::Null);
            if card.get("type") != Some(&json!("AdaptiveCard"))
                || card.get("version").and_then(Value::as_str).is_none()
                || card
                    .get("body")
                    .and_then(Value::as_array)
                    .is_none_or(|b| b.is_empty())
            {
                return Err("The Adaptive Card is not valid.".into());
            }
            Ok(())
        }
        Kind::Discord => {
            if !query.split('&').any(|p| p == "wait=true") {
                // The real API accepts it, but then answers 204 without an id:
                // berrah must always ask to wait.
                return Err("expected ?wait=true (berrah needs the message id)".into());
            }
            let content = body.get("content").and_then(Value::as_str).unwrap_or("");
            let embeds = body
                .get("embeds")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            if content.is_empty() && embeds.is_empty() {
                return Err("Cannot send an empty message".into());
            }
            if content.encode_utf16().count() > DISCORD_CONTENT_MAX {
                return Err("content: Must be 2000 or fewer in length.".into());
            }
            if embeds.len() > 10 {
                return Err("embeds: Must be 10 or fewer in length.".into());
            }
            for e in embeds {
                if e.get("description")
                    .and_then(Value::as_str)
                    .is_some_and(|d| d.encode_utf16().count() > DISCORD_DESCRIPTION_MAX)
                {
                    return Err("embeds.description: Must be 4096 or fewer in length.".into());
                }
            }
            Ok(())
        }
    }
}

async fn handle(
    State(r): State<Receiver>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    if method != Method::POST {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    if uri.path() != r.path() {
        return r.not_found();
    }
    let signature = header_str(&headers, SIGNATURE_HEADER);
    let timestamp = header_str(&headers, TIMESTAMP_HEADER);
    let signature_valid = r.key.as_ref().map(|k| {
        signature
            .as_deref()
            .is_some_and(|s| signature_matches(k, timestamp.as_deref().unwrap_or(""), &raw, s))
    });
    let body: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    let query = uri.query().unwrap_or("").to_string();
    let received = Received {
        path: uri.path().to_string(),
        query: query.clone(),
        content_type: header_str(&headers, header::CONTENT_TYPE.as_str()),
        delivery: header_str(&headers, DELIVERY_HEADER),
        timestamp,
        signature,
        signature_valid,
        body: body.clone(),
        raw: raw.to_vec(),
    };
    let (fault, id, now) = {
        let mut inner = r.lock();
        inner.received.push(received.clone());
        inner.next_id += 1;
        (inner.faults.pop_front(), inner.next_id, inner.clock.clone())
    };
    let drop_after = fault == Some(Fault::DeliverThenDrop);
    if let Some(f) = fault.filter(|f| *f != Fault::DeliverThenDrop) {
        return r.fault(f);
    }
    if !received
        .content_type
        .as_deref()
        .is_some_and(|c| c.starts_with("application/json"))
    {
        return r.bad_request("invalid_payload: expected application/json");
    }
    if body.is_null() {
        return r.bad_request("invalid_payload: the body is not JSON");
    }
    if r.kind == Kind::Json {
        if signature_valid == Some(false) {
            return (
                StatusCode::UNAUTHORIZED,
                Json(json!({"error": "the signature does not match"})),
            )
                .into_response();
        }
        let Some(sent) = received.timestamp.as_deref() else {
            return r.bad_request("missing X-Berrah-Timestamp");
        };
        let now = now
            .map_or_else(jiff::Timestamp::now, |c| (c.0)())
            .as_second();
        match sent.parse::<i64>() {
            Ok(s) if (now - s).abs() <= TIMESTAMP_TOLERANCE_SECS => {}
            _ => {
                return (
                    StatusCode::UNAUTHORIZED,
                    Json(json!({"error": "the timestamp is not within 5 minutes: a replay?"})),
                )
                    .into_response();
            }
        }
        if received.delivery.as_deref() != body.get("delivery").and_then(Value::as_str) {
            return r.bad_request("X-Berrah-Delivery differs from the body's delivery");
        }
        if let Some(delivery) = &received.delivery {
            let mut inner = r.lock();
            if inner.dedupe && inner.delivered.contains(delivery) {
                inner.duplicates += 1;
                drop(inner);
                if drop_after {
                    return r.fault(Fault::DeliverThenDrop);
                }
                return (StatusCode::OK, Json(json!({"ok": true, "duplicate": true})))
                    .into_response();
            }
            if check_shape(r.kind, &body, &query).is_ok() {
                inner.delivered.push(delivery.clone());
            }
        }
    }
    if let Err(why) = check_shape(r.kind, &body, &query) {
        return r.bad_request(&why);
    }
    if drop_after {
        return r.fault(Fault::DeliverThenDrop);
    }
    match r.kind {
        Kind::Json => (StatusCode::OK, Json(json!({"ok": true}))).into_response(),
        Kind::Slack => (StatusCode::OK, "ok").into_response(),
        Kind::Teams => StatusCode::ACCEPTED.into_response(),
        Kind::Discord => (
            StatusCode::OK,
            Json(json!({
                "id": id.to_string(),
                "type": 0,
                "channel_id": "1180000000000000100",
                "webhook_id": "1180000000000000000",
                "content": body.get("content").cloned().unwrap_or(json!("")),
                "embeds": body.get("embeds").cloned().unwrap_or(json!([])),
                "timestamp": "2026-12-18T09:00:00.000000+00:00",
            })),
        )
            .into_response(),
    }
}
