//! A fake Telegram Bot API (sendMessage, sendPhoto, sendVideo,
//! sendMediaGroup), strict where the real server is
//! (`docs/platforms/telegram.md` has the checklist):
//!
//! - Path `/bot<token>/<method>`, method names case-insensitive; a wrong
//!   token answers 401 `Unauthorized`, an unknown method 404 `Not Found`.
//! - Parameters from the query string, a form, JSON or multipart (uploads
//!   only in multipart; `attach://<field>` resolved in albums).
//! - The envelope `{"ok":..}` with the HTTP status equal to `error_code`;
//!   channel Messages with `sender_chat` and `chat.type = "channel"`.
//! - `chat_id` must be the channel (`@username` or its numeric id); text
//!   1–4096 and captions ≤ 1024 (UTF-16 units); photos ≤ 10 MB and videos
//!   ≤ 50 MB uploaded (413 above); albums of 2–10 photos and videos; a reply
//!   to a message that does not exist is refused.
//! - Faults on demand ([`Fault`]): 429 with `parameters.retry_after` and
//!   `Retry-After`, 5xx, revoked token, bot removed from the channel, slow
//!   answers and connections dropped after the message was posted.
//!
//! Telegram sends no rate-limit headers, so neither does this fake.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::{Value, json};

use crate::mastodon::parse_multipart;
use crate::{Running, serve};

/// The bot token the fake expects until told otherwise.
pub const DEFAULT_TOKEN: &str = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11";
/// The channel the bot may post in.
pub const CHANNEL: &str = "berrah_test";
/// That channel's numeric id.
pub const CHANNEL_ID: i64 = -1_001_234_567_890;

/// A fault the fake plays once, on the next request to its method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// 429 `Too Many Requests: retry after N`.
    RateLimited { retry_after: u64 },
    /// This HTTP status with the envelope (`Internal Server Error`, ...).
    ServerError(u16),
    /// 401 `Unauthorized`, whatever the token.
    Unauthorized,
    /// 403 `Forbidden: bot is not a member of the channel chat`.
    BotRemoved,
    /// 400 `Bad Request: need administrator rights in the channel chat`.
    NotAdmin,
    /// 413 `Request Entity Too Large`.
    TooLarge,
    /// Posts the message, then waits this long before answering.
    Slow(Duration),
    /// Posts the message, then drops the connection without answering.
    DropAfterProcessing,
}

/// A message the fake posted in the channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeMessage {
    pub message_id: i64,
    /// `text`, `photo` or `video`.
    pub kind: String,
    pub text: Option<String>,
    pub caption: Option<String>,
    pub reply_to: Option<i64>,
    pub media_group_id: Option<String>,
    /// The uploaded file's name, or `None` when sent by `file_id`.
    pub file_name: Option<String>,
    pub file_size: usize,
    pub file_id: Option<String>,
    pub supports_streaming: bool,
    pub parse_mode: Option<String>,
}

/// One request the fake answered (the method, never the token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub method: String,
    pub status: u16,
}

struct StoredFile {
    kind: String,
    size: usize,
}

struct Inner {
    token: String,
    next_message: i64,
    next_group: u64,
    messages: Vec<FakeMessage>,
    files: HashMap<String, StoredFile>,
    photo_limit: usize,
    file_limit: usize,
    faults: VecDeque<(Option<String>, u32, Fault)>,
    requests: Vec<Recorded>,
}

struct Shared(Mutex<Inner>);

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running fake Bot API. Dropping it stops the server.
pub struct FakeTelegram {
    running: Running,
    shared: Arc<Shared>,
}

impl FakeTelegram {
    /// Starts a fake Bot API on 127.0.0.1 expecting [`DEFAULT_TOKEN`], with
    /// the bot an administrator of `@`[`CHANNEL`].
    pub async fn start() -> std::io::Result<FakeTelegram> {
        let shared = Arc::new(Shared(Mutex::new(Inner {
            token: DEFAULT_TOKEN.into(),
            next_message: 100,
            next_group: 13_000_000_000_000_000,
            messages: Vec::new(),
            files: HashMap::new(),
            photo_limit: 10 * 1024 * 1024,
            file_limit: 50 * 1024 * 1024,
            faults: VecDeque::new(),
            requests: Vec::new(),
        })));
        let app = Router::new()
            .route("/{bot}/{method}", any(method))
            .layer(DefaultBodyLimit::disable())
            .with_state(shared.clone());
        let running = serve(app).await?;
        Ok(FakeTelegram { running, shared })
    }

    /// `http://127.0.0.1:PORT`, the account's `base_url`.
    pub fn url(&self) -> String {
        self.running.url()
    }

    /// The bot token the fake accepts from now on (and no other).
    pub fn set_token(&self, token: &str) {
        self.shared.lock().token = token.to_string();
    }

    /// Upload limits in bytes (defaults: photos 10 MB, other files 50 MB).
    pub fn set_upload_limits(&self, photo: usize, other: usize) {
        let mut inner = self.shared.lock();
        inner.photo_limit = photo;
        inner.file_limit = other;
    }

    /// Plays `fault` on the next request to `method` (any method: `None`).
    pub fn fail_next(&self, method: Option<&str>, fault: Fault) {
        self.fail_after(method, 0, fault);
    }

    /// Lets `skip` requests to `method` through, then plays `fault`.
    pub fn fail_after(&self, method: Option<&str>, skip: u32, fault: Fault) {
        self.shared
            .lock()
            .faults
            .push_back((method.map(str::to_ascii_lowercase), skip, fault));
    }

    /// Every message posted in the channel, in order.
    pub fn messages(&self) -> Vec<FakeMessage> {
        self.shared.lock().messages.clone()
    }

    /// Every request answered, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.lock().requests.clone()
    }

    /// How many requests called `method` (case-insensitive).
    pub fn count(&self, method: &str) -> usize {
        let m = method.to_ascii_lowercase();
        self.shared
            .lock()
            .requests
            .iter()
            .filter(|r| r.method == m)
            .count()
    }
}

/// A parameter: text, or an uploaded file.
enum Param {
    Text(String),
    File {
        name: Option<String>,
        data_len: usize,
    },
}

impl Param {
    fn text(&self) -> Option<&str> {
        match self {
            Param::Text(s) => Some(s),
            Param::File { .. } => None,
        }
    }
}

type Params = HashMap<String, Param>;

fn envelope(code: u16, description: &str) -> (StatusCode, Value) {
    (
        StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST),
        json!({"ok": false, "error_code": code, "description": description}),
    )
}

fn bad(description: &str) -> (StatusCode, Value) {
    envelope(400, &format!("Bad Request: {description}"))
}

fn parse_params(query: Option<&str>, headers: &HeaderMap, body: &[u8]) -> Result<Params, String> {
    let mut params = Params::new();
    if let Some(q) = query {
        for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
            params.insert(k.into_owned(), Param::Text(v.into_owned()));
        }
    }
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if body.is_empty() {
        return Ok(params);
    }
    if ct.starts_with("application/json") {
        let v: Value = serde_json::from_slice(body).map_err(|_| "can't parse JSON object")?;
        let obj = v.as_object().ok_or("can't parse JSON object")?;
        for (k, v) in obj {
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            params.insert(k.clone(), Param::Text(text));
        }
    } else if ct.starts_with("application/x-www-form-urlencoded") {
        for (k, v) in url::form_urlencoded::parse(body) {
            params.insert(k.into_owned(), Param::Text(v.into_owned()));
        }
    } else if ct.starts_with("multipart/form-data") {
        for part in parse_multipart(ct, body)? {
            let param = if part.file_name.is_some() {
                Param::File {
                    name: part.file_name,
                    data_len: part.data.len(),
                }
            } else {
                Param::Text(
                    String::from_utf8(part.data).map_err(|_| "strings must be encoded in UTF-8")?,
                )
            };
            params.insert(part.name, param);
        }
    } else {
        return Err(format!("unsupported content type `{ct}`"));
    }
    Ok(params)
}

fn take_fault(inner: &mut Inner, method: &str) -> Option<Fault> {
    let i = inner
        .faults
        .iter()
        .position(|(m, _, _)| m.as_deref().is_none_or(|m| m == method))?;
    if inner.faults[i].1 > 0 {
        inner.faults[i].1 -= 1;
        return None;
    }
    inner.faults.remove(i).map(|(_, _, f)| f)
}

enum After {
    Answer,
    Slow(Duration),
    Drop,
}

async fn method(
    State(shared): State<Arc<Shared>>,
    Path((bot, method)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let method = method.to_ascii_lowercase();
    let (after, (status, json), retry_after) = {
        let mut inner = shared.lock();
        let result = handle(&mut inner, &bot, &method, query.as_deref(), &headers, &body);
        inner.requests.push(Recorded {
            method: method.clone(),
            status: result.1.0.as_u16(),
        });
        result
    };
    let mut response = (status, axum::Json(json)).into_response();
    if let Some(secs) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    match after {
        After::Answer => response,
        After::Slow(d) => {
            tokio::time::sleep(d).await;
            response
        }
        // Unwinding without the panic hook: the connection closes unanswered.
        After::Drop => std::panic::resume_unwind(Box::new("fake: connection dropped")),
    }
}

fn handle(
    inner: &mut Inner,
    bot: &str,
    method: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> (After, (StatusCode, Value), Option<u64>) {
    let now = |answer| (After::Answer, answer, None);
    let Some(token) = bot.strip_prefix("bot") else {
        return now(envelope(404, "Not Found"));
    };
    let fault = take_fault(inner, method);
    let mut after = After::Answer;
    match fault {
        Some(Fault::RateLimited { retry_after }) => {
            let (s, mut v) = envelope(
                429,
                &format!("Too Many Requests: retry after {retry_after}"),
            );
            v["parameters"] = json!({"retry_after": retry_after});
            return (After::Answer, (s, v), Some(retry_after));
        }
        Some(Fault::ServerError(code)) => return now(envelope(code, "Internal Server Error")),
        Some(Fault::Unauthorized) => return now(envelope(401, "Unauthorized")),
        Some(Fault::BotRemoved) => {
            return now(envelope(
                403,
                "Forbidden: bot is not a member of the channel chat",
            ));
        }
        Some(Fault::NotAdmin) => return now(bad("need administrator rights in the channel chat")),
        Some(Fault::TooLarge) => return now(envelope(413, "Request Entity Too Large")),
        Some(Fault::Slow(d)) => after = After::Slow(d),
        Some(Fault::DropAfterProcessing) => after = After::Drop,
        None => {}
    }
    if token != inner.token {
        let description = if token.contains(':') {
            "Unauthorized"
        } else {
            "Unauthorized: invalid token specified"
        };
        return now(envelope(401, description));
    }
    let params = match parse_params(query, headers, body) {
        Ok(p) => p,
        Err(e) => return now(bad(&e)),
    };
    let answer = match method {
        "sendmessage" => send_message(inner, &params),
        "sendphoto" => send_single(inner, &params, "photo"),
        "sendvideo" => send_single(inner, &params, "video"),
        "sendmediagroup" => send_group(inner, &params),
        "getme" => Ok(json!({"id": 123456, "is_bot": true, "first_name": "berrah",
                             "username": "berrah_bot"})),
        _ => return now(envelope(404, "Not Found")),
    };
    let answer = match answer {
        Ok(result) => (StatusCode::OK, json!({"ok": true, "result": result})),
        Err(e) => e,
    };
    (after, answer, None)
}

fn utf16(s: &str) -> usize {
    s.encode_utf16().count()
}

fn check_chat(params: &Params) -> Result<(), (StatusCode, Value)> {
    let chat = params
        .get("chat_id")
        .and_then(Param::text)
        .ok_or_else(|| bad("chat_id is empty"))?;
    if chat == format!("@{CHANNEL}") || chat == CHANNEL_ID.to_string() {
        Ok(())
    } else {
        Err(bad("chat not found"))
    }
}

fn check_parse_mode(params: &Params) -> Result<Option<String>, (StatusCode, Value)> {
    match params.get("parse_mode").and_then(Param::text) {
        None | Some("") => Ok(None),
        Some(m @ ("HTML" | "MarkdownV2" | "Markdown")) => Ok(Some(m.to_string())),
        Some(other) => Err(bad(&format!("unsupported parse_mode \"{other}\""))),
    }
}

fn reply_target(inner: &Inner, params: &Params) -> Result<Option<i64>, (StatusCode, Value)> {
    let (id, allow) = if let Some(rp) = params.get("reply_parameters").and_then(Param::text) {
        let v: Value = serde_json::from_str(rp)
            .map_err(|_| bad("can't parse reply parameters JSON object"))?;
        let id = v
            .get("message_id")
            .and_then(Value::as_i64)
            .ok_or_else(|| bad("message to be replied not found"))?;
        let allow = v.get("allow_sending_without_reply") == Some(&Value::Bool(true));
        (id, allow)
    } else if let Some(id) = params.get("reply_to_message_id").and_then(Param::text) {
        let id = id
            .parse::<i64>()
            .map_err(|_| bad("message to be replied not found"))?;
        (id, false)
    } else {
        return Ok(None);
    };
    if inner.messages.iter().any(|m| m.message_id == id) {
        Ok(Some(id))
    } else if allow {
        Ok(None)
    } else {
        Err(bad("message to be replied not found"))
    }
}

fn chat_json() -> Value {
    json!({"id": CHANNEL_ID, "title": "Berrah test", "username": CHANNEL, "type": "channel"})
}

fn message_json(inner: &Inner, m: &FakeMessage) -> Value {
    let mut v = json!({
        "message_id": m.message_id,
        "sender_chat": chat_json(),
        "chat": chat_json(),
        "date": 1_797_584_400 + m.message_id,
    });
    if let Some(t) = &m.text {
        v["text"] = json!(t);
    }
    if let Some(c) = &m.caption {
        v["caption"] = json!(c);
    }
    if let Some(g) = &m.media_group_id {
        v["media_group_id"] = json!(g);
    }
    if let Some(parent) = m.reply_to
        && let Some(p) = inner.messages.iter().find(|x| x.message_id == parent)
    {
        v["reply_to_message"] = json!({"message_id": p.message_id, "chat": chat_json(),
                                       "date": 1_797_584_400 + p.message_id});
    }
    let file_id = m.file_id.clone().unwrap_or_default();
    match m.kind.as_str() {
        "photo" => {
            v["photo"] = json!([
                {"file_id": format!("{file_id}-s"), "file_unique_id": "s", "width": 90, "height": 68, "file_size": 1200},
                {"file_id": file_id, "file_unique_id": "x", "width": 1280, "height": 960, "file_size": m.file_size}
            ]);
        }
        "video" => {
            v["video"] = json!({"file_id": file_id, "file_unique_id": "v", "width": 1280,
                                "height": 720, "duration": 12, "mime_type": "video/mp4",
                                "file_size": m.file_size});
        }
        _ => {}
    }
    v
}

fn send_message(inner: &mut Inner, params: &Params) -> Result<Value, (StatusCode, Value)> {
    check_chat(params)?;
    let parse_mode = check_parse_mode(params)?;
    let text = params.get("text").and_then(Param::text).unwrap_or("");
    if text.trim().is_empty() {
        return Err(bad("message text is empty"));
    }
    if utf16(text) > 4096 {
        return Err(bad("message is too long"));
    }
    let reply_to = reply_target(inner, params)?;
    inner.next_message += 1;
    let m = FakeMessage {
        message_id: inner.next_message,
        kind: "text".into(),
        text: Some(text.to_string()),
        caption: None,
        reply_to,
        media_group_id: None,
        file_name: None,
        file_size: 0,
        file_id: None,
        supports_streaming: false,
        parse_mode,
    };
    let v = message_json(inner, &m);
    inner.messages.push(m);
    Ok(v)
}

/// A media parameter resolved: an upload or a known `file_id`.
struct Media {
    file_name: Option<String>,
    size: usize,
    file_id: String,
}

fn resolve_media(
    inner: &mut Inner,
    params: &Params,
    field: &str,
    kind: &str,
) -> Result<Media, (StatusCode, Value)> {
    let value = params
        .get(field)
        .ok_or_else(|| bad(&format!("there is no {kind} in the request")))?;
    match value {
        Param::File { name, data_len } => {
            if *data_len == 0 {
                return Err(bad("file must be non-empty"));
            }
            let limit = if kind == "photo" {
                inner.photo_limit
            } else {
                inner.file_limit
            };
            if *data_len > limit {
                return Err(envelope(413, "Request Entity Too Large"));
            }
            let prefix = if kind == "photo" { "AgAC" } else { "BAAC" };
            let file_id = format!("{prefix}-{}", inner.files.len() + 1);
            inner.files.insert(
                file_id.clone(),
                StoredFile {
                    kind: kind.into(),
                    size: *data_len,
                },
            );
            Ok(Media {
                file_name: name.clone(),
                size: *data_len,
                file_id,
            })
        }
        Param::Text(id) => match inner.files.get(id) {
            Some(f) if f.kind == kind => Ok(Media {
                file_name: None,
                size: f.size,
                file_id: id.clone(),
            }),
            _ => Err(bad("wrong file identifier/HTTP URL specified")),
        },
    }
}

fn check_caption(caption: Option<&str>) -> Result<(), (StatusCode, Value)> {
    if caption.is_some_and(|c| utf16(c) > 1024) {
        return Err(bad("message caption is too long"));
    }
    Ok(())
}

fn send_single(
    inner: &mut Inner,
    params: &Params,
    kind: &str,
) -> Result<Value, (StatusCode, Value)> {
    check_chat(params)?;
    let parse_mode = check_parse_mode(params)?;
    let caption = params
        .get("caption")
        .and_then(Param::text)
        .filter(|c| !c.is_empty());
    check_caption(caption)?;
    let reply_to = reply_target(inner, params)?;
    let media = resolve_media(inner, params, kind, kind)?;
    inner.next_message += 1;
    let m = FakeMessage {
        message_id: inner.next_message,
        kind: kind.into(),
        text: None,
        caption: caption.map(str::to_string),
        reply_to,
        media_group_id: None,
        file_name: media.file_name,
        file_size: media.size,
        file_id: Some(media.file_id),
        supports_streaming: params.get("supports_streaming").and_then(Param::text) == Some("true"),
        parse_mode,
    };
    let v = message_json(inner, &m);
    inner.messages.push(m);
    Ok(v)
}

fn send_group(inner: &mut Inner, params: &Params) -> Result<Value, (StatusCode, Value)> {
    check_chat(params)?;
    let media = params
        .get("media")
        .and_then(Param::text)
        .ok_or_else(|| bad("parameter \"media\" is required"))?;
    let items: Vec<Value> =
        serde_json::from_str(media).map_err(|_| bad("can't parse media JSON object"))?;
    if !(2..=10).contains(&items.len()) {
        return Err(bad("media must include 2-10 items"));
    }
    let reply_to = reply_target(inner, params)?;
    // Validate everything before posting anything: an album is all or nothing.
    let mut resolved = Vec::new();
    for item in &items {
        let kind = item.get("type").and_then(Value::as_str).unwrap_or("");
        if kind != "photo" && kind != "video" {
            return Err(bad(
                "Can't use the media of the specified type in the album",
            ));
        }
        let caption = item.get("caption").and_then(Value::as_str);
        check_caption(caption)?;
        let reference = item
            .get("media")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("there is no media in the request"))?;
        let media = if let Some(field) = reference.strip_prefix("attach://") {
            if !matches!(params.get(field), Some(Param::File { .. })) {
                return Err(bad("wrong file identifier/HTTP URL specified"));
            }
            resolve_media(inner, params, field, kind)?
        } else {
            let mut p = Params::new();
            p.insert("m".into(), Param::Text(reference.to_string()));
            resolve_media(inner, &p, "m", kind)?
        };
        resolved.push((
            kind.to_string(),
            caption.map(str::to_string),
            media,
            item.clone(),
        ));
    }
    inner.next_group += 1;
    let group = inner.next_group.to_string();
    let mut out = Vec::new();
    for (kind, caption, media, item) in resolved {
        inner.next_message += 1;
        let m = FakeMessage {
            message_id: inner.next_message,
            kind,
            text: None,
            caption,
            reply_to,
            media_group_id: Some(group.clone()),
            file_name: media.file_name,
            file_size: media.size,
            file_id: Some(media.file_id),
            supports_streaming: item.get("supports_streaming") == Some(&Value::Bool(true)),
            parse_mode: None,
        };
        out.push(message_json(inner, &m));
        inner.messages.push(m);
    }
    Ok(Value::Array(out))
}
