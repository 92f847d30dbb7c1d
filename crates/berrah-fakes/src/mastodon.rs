//! A fake Mastodon instance (statuses with Idempotency-Key, v2 media with
//! processing, instance limits), strict where the real server is
//! (`docs/platforms/mastodon.md` lists what a double must do):
//!
//! - `GET /api/v2/instance` (public): `configuration.statuses.max_characters`.
//! - `POST /api/v1/statuses` (JSON or form): `Authorization: Bearer`, text or
//!   media required, the character limit counted as the server does, at most
//!   4 media, one video alone, media processed and not attached elsewhere,
//!   `in_reply_to_id` known, `Idempotency-Key` dedup returning the original
//!   status (HTTP 200) without comparing the parameters.
//! - `POST /api/v2/media` (multipart, `file` with a type, `description` ≤
//!   1500): images 200, videos 202 then `GET /api/v1/media/:id` 206 for N
//!   polls and 200 with a `url`; attached media answer 404.
//! - `PUT /api/v1/media/:id` (form `description`).
//! - Media already attached to a status: Mastodon answers 404 to `GET` and
//!   `PUT /api/v1/media/:id` and refuses them in a new status (422 "Media
//!   with IDs … not found or already attached to another post");
//!   [`FakeMastodon::set_moves_attached_media`] plays the servers that instead
//!   answer 200 and move the attachment to the new status (the first one
//!   loses its image).
//! - Rate-limit headers on every answer (`X-RateLimit-Limit`, `-Remaining`,
//!   `-Reset` as an RFC 3339 instant with microseconds); 429 once spent.
//! - Faults on demand ([`Fault`]) and accessors for what was received.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use jiff::Timestamp;
use serde_json::{Value, json};

use crate::count::mastodon_length;
use crate::{Running, serve};

/// The endpoints a fault can target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// Whichever request comes next.
    Any,
    Instance,
    Statuses,
    MediaUpload,
    MediaGet,
    MediaUpdate,
}

/// A fault the fake plays once, on the next request to its endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// 429 `Too many requests` with `X-RateLimit-Remaining: 0` and the reset.
    RateLimited { reset: Timestamp },
    /// This HTTP status with a Mastodon error body (500, 502, 503).
    ServerError(u16),
    /// 401 `The access token is invalid`, whatever the token.
    Unauthorized,
    /// 413 from the reverse proxy (an HTML page, as nginx answers).
    PayloadTooLarge,
    /// Processes the request, then waits this long before answering.
    Slow(Duration),
    /// Processes the request, then drops the connection without answering.
    DropAfterProcessing,
}

/// A status the fake created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeStatus {
    pub id: String,
    pub text: String,
    pub media_ids: Vec<String>,
    pub in_reply_to_id: Option<String>,
    pub visibility: String,
    pub language: Option<String>,
    pub sensitive: bool,
    pub spoiler_text: String,
    pub idempotency_key: Option<String>,
    pub url: String,
}

/// A media attachment the fake received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeMedia {
    pub id: String,
    /// `image` or `video`.
    pub kind: String,
    pub mime: String,
    pub file_name: Option<String>,
    pub size: usize,
    pub description: Option<String>,
    /// The status it is attached to.
    pub status_id: Option<String>,
    polls_left: u32,
}

/// One request the fake answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub status: u16,
}

struct Inner {
    base_url: String,
    username: String,
    token: String,
    token_expired: bool,
    max_characters: usize,
    image_size_limit: usize,
    video_size_limit: usize,
    processing_polls: u32,
    moves_attached_media: bool,
    next_id: u64,
    statuses: Vec<FakeStatus>,
    idempotency: HashMap<String, String>,
    media: BTreeMap<String, FakeMedia>,
    faults: VecDeque<(Endpoint, u32, Fault)>,
    limit: u64,
    remaining: u64,
    reset: Timestamp,
    requests: Vec<Recorded>,
}

struct Shared(Mutex<Inner>);

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running fake Mastodon instance. Dropping it stops the server.
pub struct FakeMastodon {
    running: Running,
    shared: Arc<Shared>,
}

/// The token the fake expects until told otherwise.
pub const DEFAULT_TOKEN: &str = "fake-mastodon-token";

impl FakeMastodon {
    /// Starts a fake instance on 127.0.0.1 expecting [`DEFAULT_TOKEN`].
    pub async fn start() -> std::io::Result<FakeMastodon> {
        let shared = Arc::new(Shared(Mutex::new(Inner {
            base_url: String::new(),
            username: "berrah".into(),
            token: DEFAULT_TOKEN.into(),
            token_expired: false,
            max_characters: crate::count::MASTODON_LIMIT,
            image_size_limit: 16 * 1024 * 1024,
            video_size_limit: 99 * 1024 * 1024,
            processing_polls: 2,
            moves_attached_media: false,
            next_id: 113_000_000_000_000_000,
            statuses: Vec::new(),
            idempotency: HashMap::new(),
            media: BTreeMap::new(),
            faults: VecDeque::new(),
            limit: 300,
            remaining: 300,
            reset: Timestamp::now()
                .checked_add(jiff::SignedDuration::from_mins(5))
                .unwrap_or(Timestamp::MAX),
            requests: Vec::new(),
        })));
        let app = Router::new()
            .route("/api/v2/instance", get(instance))
            .route("/api/v1/statuses", post(create_status))
            .route("/api/v2/media", post(upload_media))
            .route("/api/v1/media/{id}", get(get_media).put(update_media))
            .fallback(not_found)
            .layer(DefaultBodyLimit::disable())
            .with_state(shared.clone());
        let running = serve(app).await?;
        shared.lock().base_url = running.url();
        Ok(FakeMastodon { running, shared })
    }

    /// `http://127.0.0.1:PORT`, the account's `base_url`.
    pub fn url(&self) -> String {
        self.running.url()
    }

    /// The token the fake accepts from now on (and no other).
    pub fn set_token(&self, token: &str) {
        let mut inner = self.shared.lock();
        inner.token = token.to_string();
        inner.token_expired = false;
    }

    /// The current token is refused (401) until [`set_token`](Self::set_token).
    pub fn expire_token(&self) {
        self.shared.lock().token_expired = true;
    }

    /// The instance's `max_characters`.
    pub fn set_max_characters(&self, n: usize) {
        self.shared.lock().max_characters = n;
    }

    /// Image size limit in bytes (default 16 MiB); videos have their own.
    pub fn set_image_size_limit(&self, bytes: usize) {
        self.shared.lock().image_size_limit = bytes;
    }

    /// Video size limit in bytes (default 99 MiB).
    pub fn set_video_size_limit(&self, bytes: usize) {
        self.shared.lock().video_size_limit = bytes;
    }

    /// How many polls a video answers 206 before it is processed (default 2;
    /// 0: videos are processed at once).
    /// Plays a Mastodon-compatible server that answers 200 for media already
    /// attached and moves them to the new status when attached again.
    pub fn set_moves_attached_media(&self, moves: bool) {
        self.shared.lock().moves_attached_media = moves;
    }

    pub fn set_processing_polls(&self, n: u32) {
        self.shared.lock().processing_polls = n;
    }

    /// The rate-limit budget left and its reset, sent on every answer; at 0
    /// every authenticated request is refused with 429.
    pub fn set_rate_limit(&self, remaining: u64, reset: Timestamp) {
        let mut inner = self.shared.lock();
        inner.remaining = remaining;
        inner.reset = reset;
    }

    /// Plays `fault` on the next request to `endpoint` (faults queue up).
    pub fn fail_next(&self, endpoint: Endpoint, fault: Fault) {
        self.fail_after(endpoint, 0, fault);
    }

    /// Lets `skip` requests to `endpoint` through, then plays `fault` on the next.
    pub fn fail_after(&self, endpoint: Endpoint, skip: u32, fault: Fault) {
        self.shared.lock().faults.push_back((endpoint, skip, fault));
    }

    /// Every status created, in order.
    pub fn statuses(&self) -> Vec<FakeStatus> {
        self.shared.lock().statuses.clone()
    }

    /// Every media received, by id.
    pub fn media(&self) -> Vec<FakeMedia> {
        self.shared.lock().media.values().cloned().collect()
    }

    /// Every request answered, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.lock().requests.clone()
    }

    /// How many requests had this method and path (e.g. `POST /api/v2/media`).
    pub fn count(&self, method: &str, path: &str) -> usize {
        self.shared
            .lock()
            .requests
            .iter()
            .filter(|r| r.method == method && r.path == path)
            .count()
    }
}

/// What to do after processing a request.
enum After {
    Answer,
    Slow(Duration),
    Drop,
}

fn error(status: StatusCode, message: &str) -> (StatusCode, Value) {
    (status, json!({ "error": message }))
}

/// The common prelude: faults, the token, the rate limit. `Err` is the answer.
fn prelude(
    inner: &mut Inner,
    endpoint: Endpoint,
    headers: &HeaderMap,
    authenticated: bool,
) -> Result<After, Box<Response>> {
    let fault = take_fault(&mut inner.faults, endpoint);
    let mut after = After::Answer;
    match fault {
        Some(Fault::RateLimited { reset }) => {
            inner.remaining = 0;
            inner.reset = reset;
            return Err(Box::new(finish(
                inner,
                error(StatusCode::TOO_MANY_REQUESTS, "Too many requests"),
            )));
        }
        Some(Fault::ServerError(code)) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return Err(Box::new(finish(
                inner,
                error(
                    status,
                    "There was a temporary problem serving your request, please try again",
                ),
            )));
        }
        Some(Fault::Unauthorized) => return Err(Box::new(unauthorized(inner))),
        Some(Fault::PayloadTooLarge) => {
            let mut r = (
                StatusCode::PAYLOAD_TOO_LARGE,
                "<html><head><title>413 Request Entity Too Large</title></head>\
                 <body><center><h1>413 Request Entity Too Large</h1></center>\
                 <hr><center>nginx</center></body></html>",
            )
                .into_response();
            r.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
            return Err(Box::new(r));
        }
        Some(Fault::Slow(d)) => after = After::Slow(d),
        Some(Fault::DropAfterProcessing) => after = After::Drop,
        None => {}
    }
    if authenticated {
        let expected = format!("Bearer {}", inner.token);
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if inner.token_expired || given != Some(expected.as_str()) {
            return Err(Box::new(unauthorized(inner)));
        }
        if inner.remaining == 0 {
            return Err(Box::new(finish(
                inner,
                error(StatusCode::TOO_MANY_REQUESTS, "Too many requests"),
            )));
        }
        inner.remaining -= 1;
    }
    Ok(after)
}

/// The fault for this request: the first queued for its endpoint, once its
/// skip count is spent.
fn take_fault(faults: &mut VecDeque<(Endpoint, u32, Fault)>, endpoint: Endpoint) -> Option<Fault> {
    let i = faults
        .iter()
        .position(|(e, _, _)| *e == endpoint || *e == Endpoint::Any)?;
    if faults[i].1 > 0 {
        faults[i].1 -= 1;
        return None;
    }
    faults.remove(i).map(|(_, _, f)| f)
}

fn unauthorized(inner: &mut Inner) -> Response {
    let mut r = finish(
        inner,
        error(StatusCode::UNAUTHORIZED, "The access token is invalid"),
    );
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(
            "Bearer realm=\"Doorkeeper\", error=\"invalid_token\", \
             error_description=\"The access token is invalid\"",
        ),
    );
    r
}

/// A JSON answer with the rate-limit headers.
fn finish(inner: &Inner, (status, body): (StatusCode, Value)) -> Response {
    let mut r = (status, axum::Json(body)).into_response();
    let h = r.headers_mut();
    h.insert("x-ratelimit-limit", HeaderValue::from(inner.limit));
    h.insert("x-ratelimit-remaining", HeaderValue::from(inner.remaining));
    let reset = inner.reset.strftime("%Y-%m-%dT%H:%M:%S.%6fZ").to_string();
    if let Ok(v) = HeaderValue::from_str(&reset) {
        h.insert("x-ratelimit-reset", v);
    }
    r
}

async fn deliver(shared: &Shared, method: &str, path: &str, after: After, r: Response) -> Response {
    shared.lock().requests.push(Recorded {
        method: method.to_string(),
        path: path.to_string(),
        status: r.status().as_u16(),
    });
    match after {
        After::Answer => r,
        After::Slow(d) => {
            tokio::time::sleep(d).await;
            r
        }
        // Unwinding without the panic hook: the connection task ends and the
        // socket closes with no answer, as when a proxy or the network drops it.
        After::Drop => std::panic::resume_unwind(Box::new("fake: connection dropped")),
    }
}

async fn not_found(
    method: Method,
    uri: axum::http::Uri,
    State(shared): State<Arc<Shared>>,
) -> Response {
    let r = finish(
        &shared.lock(),
        error(StatusCode::NOT_FOUND, "Record not found"),
    );
    deliver(&shared, method.as_str(), uri.path(), After::Answer, r).await
}

async fn instance(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let (after, r) = {
        let mut inner = shared.lock();
        match prelude(&mut inner, Endpoint::Instance, &headers, false) {
            Err(r) => (After::Answer, *r),
            Ok(after) => {
                let body = json!({
                    "domain": inner.base_url.trim_start_matches("http://"),
                    "title": "Fake Mastodon",
                    "version": "4.3.0",
                    "source_url": "https://github.com/mastodon/mastodon",
                    "configuration": {
                        "urls": {"streaming": format!("{}/api/v1/streaming", inner.base_url)},
                        "accounts": {"max_featured_tags": 10},
                        "statuses": {
                            "max_characters": inner.max_characters,
                            "max_media_attachments": 4,
                            "characters_reserved_per_url": 23
                        },
                        "media_attachments": {
                            "supported_mime_types": ["image/jpeg", "image/png", "image/gif",
                                "image/webp", "video/mp4", "video/quicktime", "video/webm"],
                            "description_limit": 1500,
                            "image_size_limit": inner.image_size_limit,
                            "image_matrix_limit": 33_177_600,
                            "video_size_limit": inner.video_size_limit,
                            "video_frame_rate_limit": 120,
                            "video_matrix_limit": 8_294_400
                        }
                    }
                });
                (after, finish(&inner, (StatusCode::OK, body)))
            }
        }
    };
    deliver(&shared, "GET", "/api/v2/instance", after, r).await
}

/// The parameters of `POST /api/v1/statuses`, from JSON, a form or multipart
/// (Rails accepts all three).
#[derive(Debug, Default)]
struct StatusParams {
    status: Option<String>,
    media_ids: Vec<String>,
    in_reply_to_id: Option<String>,
    visibility: Option<String>,
    language: Option<String>,
    sensitive: bool,
    spoiler_text: Option<String>,
}

fn parse_status_params(headers: &HeaderMap, body: &[u8]) -> Result<StatusParams, String> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut p = StatusParams::default();
    if ct.starts_with("application/json") {
        let v: Value = serde_json::from_slice(body).map_err(|e| format!("invalid JSON: {e}"))?;
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        p.status = s("status");
        p.in_reply_to_id = s("in_reply_to_id");
        p.visibility = s("visibility");
        p.language = s("language");
        p.spoiler_text = s("spoiler_text");
        p.sensitive = match v.get("sensitive") {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s == "true" || s == "1",
            _ => false,
        };
        if let Some(ids) = v.get("media_ids") {
            let ids = ids.as_array().ok_or("media_ids must be an array")?;
            for id in ids {
                match id {
                    Value::String(s) => p.media_ids.push(s.clone()),
                    Value::Number(n) => p.media_ids.push(n.to_string()),
                    _ => return Err("media_ids must hold ids".into()),
                }
            }
        }
    } else if ct.starts_with("application/x-www-form-urlencoded")
        || ct.starts_with("multipart/form-data")
    {
        let pairs: Vec<(String, String)> = if ct.starts_with("multipart/form-data") {
            parse_multipart(ct, body)?
                .into_iter()
                .map(|p| (p.name, String::from_utf8_lossy(&p.data).into_owned()))
                .collect()
        } else {
            url::form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        };
        for (k, v) in pairs {
            match k.as_str() {
                "status" => p.status = Some(v),
                "media_ids[]" => p.media_ids.push(v),
                "in_reply_to_id" => p.in_reply_to_id = Some(v),
                "visibility" => p.visibility = Some(v),
                "language" => p.language = Some(v),
                "spoiler_text" => p.spoiler_text = Some(v),
                "sensitive" => p.sensitive = v == "true" || v == "1",
                _ => {}
            }
        }
    } else {
        return Err(format!("unsupported content type `{ct}`"));
    }
    Ok(p)
}

fn status_json(inner: &Inner, s: &FakeStatus) -> Value {
    let media: Vec<Value> = s
        .media_ids
        .iter()
        .filter_map(|id| inner.media.get(id))
        .map(|m| media_json(inner, m))
        .collect();
    json!({
        "id": s.id,
        "created_at": "2026-12-18T09:00:00.000Z",
        "in_reply_to_id": s.in_reply_to_id,
        "in_reply_to_account_id": s.in_reply_to_id.as_ref().map(|_| "1"),
        "sensitive": s.sensitive,
        "spoiler_text": s.spoiler_text,
        "visibility": s.visibility,
        "language": s.language,
        "uri": format!("{}/users/{}/statuses/{}", inner.base_url, inner.username, s.id),
        "url": s.url,
        "replies_count": 0, "reblogs_count": 0, "favourites_count": 0,
        "content": format!("<p>{}</p>", html_escape(&s.text)),
        "reblog": null,
        "application": {"name": "berrah", "website": null},
        "account": {"id": "1", "username": inner.username, "acct": inner.username},
        "media_attachments": media,
        "mentions": [], "tags": [], "emojis": [], "card": null, "poll": null
    })
}

fn media_json(inner: &Inner, m: &FakeMedia) -> Value {
    let processed = m.polls_left == 0;
    let url = format!(
        "{}/system/media_attachments/files/{}/original/{}",
        inner.base_url,
        m.id,
        m.file_name.as_deref().unwrap_or("file")
    );
    json!({
        "id": m.id,
        "type": m.kind,
        "url": if processed { Some(url) } else { None },
        "preview_url": format!("{}/system/media_attachments/files/{}/small/preview.jpg", inner.base_url, m.id),
        "remote_url": null,
        "text_url": null,
        "meta": {},
        "description": m.description,
        "blurhash": "UFBWY:8_0Jxv4mx]t8t64.%M-:IUWGWAt6M}"
    })
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn validate_status(inner: &Inner, p: &StatusParams) -> Result<(), (StatusCode, Value)> {
    let unprocessable = |m: &str| Err(error(StatusCode::UNPROCESSABLE_ENTITY, m));
    let text = p.status.as_deref().unwrap_or("");
    if text.trim().is_empty() && p.media_ids.is_empty() {
        return unprocessable("Validation failed: Text can't be blank");
    }
    if let Some(v) = &p.visibility
        && !matches!(v.as_str(), "public" | "unlisted" | "private" | "direct")
    {
        return unprocessable(&format!("'{v}' is not a valid visibility"));
    }
    if p.media_ids.len() > 4 {
        return unprocessable("Cannot attach more than 4 files");
    }
    let mut kinds = Vec::new();
    for id in &p.media_ids {
        match inner.media.get(id) {
            Some(m) if m.status_id.is_none() || inner.moves_attached_media => {
                if m.polls_left > 0 {
                    return unprocessable(
                        "Cannot attach files that have not finished processing. Try again in a moment!",
                    );
                }
                kinds.push(m.kind.as_str());
            }
            _ => {
                return unprocessable(&format!(
                    "Media with IDs {id} not found or already attached to another post"
                ));
            }
        }
    }
    if kinds.contains(&"video") && kinds.len() > 1 {
        return unprocessable("Cannot attach a video to a post that already contains images");
    }
    let spoiler = p.spoiler_text.as_deref().unwrap_or("");
    if mastodon_length(spoiler, text) > inner.max_characters {
        return unprocessable(&format!(
            "Validation failed: Text character limit of {} exceeded",
            inner.max_characters
        ));
    }
    if let Some(parent) = &p.in_reply_to_id
        && !inner.statuses.iter().any(|s| &s.id == parent)
    {
        return Err(error(StatusCode::NOT_FOUND, "Record not found"));
    }
    Ok(())
}

async fn create_status(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (after, r) = {
        let mut inner = shared.lock();
        match prelude(&mut inner, Endpoint::Statuses, &headers, true) {
            Err(r) => (After::Answer, *r),
            Ok(after) => {
                let answer = create_status_inner(&mut inner, &headers, &body);
                (after, finish(&inner, answer))
            }
        }
    };
    deliver(&shared, "POST", "/api/v1/statuses", after, r).await
}

fn create_status_inner(inner: &mut Inner, headers: &HeaderMap, body: &[u8]) -> (StatusCode, Value) {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    // The original status, whatever the parameters (post_status_service.rb).
    if let Some(k) = &key
        && let Some(id) = inner.idempotency.get(k)
        && let Some(s) = inner.statuses.iter().find(|s| &s.id == id)
    {
        return (StatusCode::OK, status_json(inner, s));
    }
    let p = match parse_status_params(headers, body) {
        Ok(p) => p,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e),
    };
    if let Err(e) = validate_status(inner, &p) {
        return e;
    }
    inner.next_id += 1;
    let id = inner.next_id.to_string();
    let language = p
        .language
        .filter(|l| matches!(l.len(), 2 | 3) && l.bytes().all(|b| b.is_ascii_lowercase()));
    let status = FakeStatus {
        url: format!("{}/@{}/{}", inner.base_url, inner.username, id),
        id: id.clone(),
        text: p.status.unwrap_or_default(),
        media_ids: p.media_ids.clone(),
        in_reply_to_id: p.in_reply_to_id,
        visibility: p.visibility.unwrap_or_else(|| "public".into()),
        language,
        sensitive: p.sensitive,
        spoiler_text: p.spoiler_text.unwrap_or_default(),
        idempotency_key: key.clone(),
    };
    for m in &p.media_ids {
        let moved_from = inner
            .media
            .get_mut(m)
            .and_then(|media| media.status_id.replace(id.clone()));
        if let Some(old) = moved_from {
            for s in inner.statuses.iter_mut().filter(|s| s.id == old) {
                s.media_ids.retain(|x| x != m);
            }
        }
    }
    if let Some(k) = key {
        inner.idempotency.insert(k, id.clone());
    }
    let json = status_json(inner, &status);
    inner.statuses.push(status);
    (StatusCode::OK, json)
}

async fn upload_media(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (after, r) = {
        let mut inner = shared.lock();
        match prelude(&mut inner, Endpoint::MediaUpload, &headers, true) {
            Err(r) => (After::Answer, *r),
            Ok(after) => {
                let answer = upload_inner(&mut inner, &headers, &body);
                (after, finish(&inner, answer))
            }
        }
    };
    deliver(&shared, "POST", "/api/v2/media", after, r).await
}

fn upload_inner(inner: &mut Inner, headers: &HeaderMap, body: &[u8]) -> (StatusCode, Value) {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let parts = match parse_multipart(ct, body) {
        Ok(p) => p,
        Err(e) => return error(StatusCode::UNPROCESSABLE_ENTITY, &e),
    };
    let Some(file) = parts.iter().find(|p| p.name == "file") else {
        return error(
            StatusCode::BAD_REQUEST,
            "param is missing or the value is empty: file",
        );
    };
    let mime = file.content_type.clone().unwrap_or_default();
    let kind = if mime.starts_with("image/") {
        "image"
    } else if mime.starts_with("video/") {
        "video"
    } else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Validation failed: File content type is invalid, File is invalid",
        );
    };
    let limit = if kind == "image" {
        inner.image_size_limit
    } else {
        inner.video_size_limit
    };
    if file.data.len() > limit {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!(
                "Validation failed: File file size must be less than {} MB",
                limit / (1024 * 1024)
            ),
        );
    }
    let description = parts
        .iter()
        .find(|p| p.name == "description")
        .map(|p| String::from_utf8_lossy(&p.data).into_owned());
    if description
        .as_ref()
        .is_some_and(|d| d.chars().count() > 1500)
    {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Validation failed: Description is too long (maximum is 1500 characters)",
        );
    }
    inner.next_id += 1;
    let id = inner.next_id.to_string();
    let polls_left = if kind == "video" {
        inner.processing_polls
    } else {
        0
    };
    let media = FakeMedia {
        id: id.clone(),
        kind: kind.into(),
        mime,
        file_name: file.file_name.clone(),
        size: file.data.len(),
        description,
        status_id: None,
        polls_left,
    };
    let json = media_json(inner, &media);
    inner.media.insert(id, media);
    let status = if polls_left > 0 {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    (status, json)
}

async fn get_media(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let (after, r) = {
        let mut inner = shared.lock();
        match prelude(&mut inner, Endpoint::MediaGet, &headers, true) {
            Err(r) => (After::Answer, *r),
            Ok(after) => {
                let moves = inner.moves_attached_media;
                let answer = match inner.media.get_mut(&id) {
                    Some(m) if m.status_id.is_none() || moves => {
                        let processing = m.polls_left > 0;
                        m.polls_left = m.polls_left.saturating_sub(1);
                        let m = m.clone();
                        let mut json = media_json(&inner, &m);
                        if processing {
                            json["url"] = Value::Null;
                        }
                        let code = if processing {
                            StatusCode::PARTIAL_CONTENT
                        } else {
                            StatusCode::OK
                        };
                        (code, json)
                    }
                    _ => error(StatusCode::NOT_FOUND, "Record not found"),
                };
                (after, finish(&inner, answer))
            }
        }
    };
    deliver(&shared, "GET", "/api/v1/media/:id", after, r).await
}

async fn update_media(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (after, r) = {
        let mut inner = shared.lock();
        match prelude(&mut inner, Endpoint::MediaUpdate, &headers, true) {
            Err(r) => (After::Answer, *r),
            Ok(after) => {
                let description = url::form_urlencoded::parse(&body)
                    .find(|(k, _)| k == "description")
                    .map(|(_, v)| v.into_owned());
                let moves = inner.moves_attached_media;
                let answer = match inner.media.get_mut(&id) {
                    Some(m) if m.status_id.is_none() || moves => {
                        if let Some(d) = description {
                            m.description = Some(d);
                        }
                        let m = m.clone();
                        let code = if m.polls_left > 0 {
                            StatusCode::PARTIAL_CONTENT
                        } else {
                            StatusCode::OK
                        };
                        (code, media_json(&inner, &m))
                    }
                    _ => error(StatusCode::NOT_FOUND, "Record not found"),
                };
                (after, finish(&inner, answer))
            }
        }
    };
    deliver(&shared, "PUT", "/api/v1/media/:id", after, r).await
}

/// One part of a `multipart/form-data` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormPart {
    pub name: String,
    pub file_name: Option<String>,
    pub content_type: Option<String>,
    pub data: Vec<u8>,
}

/// Parses a `multipart/form-data` body (RFC 7578), strictly: a boundary in
/// the content type, every part with a `Content-Disposition: form-data`
/// name, the closing delimiter present. Shared by the fakes.
pub fn parse_multipart(content_type: &str, body: &[u8]) -> Result<Vec<FormPart>, String> {
    let mut pieces = content_type.split(';');
    if pieces.next().map(str::trim) != Some("multipart/form-data") {
        return Err(format!(
            "expected multipart/form-data, got `{content_type}`"
        ));
    }
    let boundary = pieces
        .filter_map(|p| p.trim().strip_prefix("boundary="))
        .next()
        .map(|b| b.trim_matches('"').to_string())
        .ok_or("multipart/form-data without a boundary")?;
    let delimiter = format!("--{boundary}").into_bytes();
    let mut at = find(body, &delimiter, 0).ok_or("no multipart boundary in the body")?;
    let mut parts = Vec::new();
    loop {
        at += delimiter.len();
        if body[at..].starts_with(b"--") {
            return Ok(parts);
        }
        if !body[at..].starts_with(b"\r\n") {
            return Err("malformed multipart delimiter".into());
        }
        at += 2;
        let head_end = find(body, b"\r\n\r\n", at).ok_or("multipart part without headers end")?;
        let head =
            std::str::from_utf8(&body[at..head_end]).map_err(|_| "non-UTF-8 part headers")?;
        let data_start = head_end + 4;
        let mut closing = b"\r\n".to_vec();
        closing.extend_from_slice(&delimiter);
        let data_end = find(body, &closing, data_start).ok_or("multipart body not closed")?;
        let mut part = FormPart {
            name: String::new(),
            file_name: None,
            content_type: None,
            data: body[data_start..data_end].to_vec(),
        };
        for line in head.split("\r\n") {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            match k.trim().to_ascii_lowercase().as_str() {
                "content-disposition" => {
                    for param in v.split(';').skip(1) {
                        if let Some((pk, pv)) = param.trim().split_once('=') {
                            let pv = pv.trim_matches('"').to_string();
                            match pk {
                                "name" => part.name = pv,
                                "filename" => part.file_name = Some(pv),
                                _ => {}
                            }
                        }
                    }
                }
                "content-type" => part.content_type = Some(v.trim().to_string()),
                _ => {}
            }
        }
        if part.name.is_empty() {
            return Err("multipart part without a name".into());
        }
        parts.push(part);
        at = data_end + 2;
    }
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if from > hay.len() {
        return None;
    }
    hay[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_is_parsed() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"description\"\r\n\r\nalt \xd9\x85\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n\xff\xd8\r\n\xff\r\n--XyZ--\r\n";
        let parts = parse_multipart("multipart/form-data; boundary=XyZ", body).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name, "description");
        assert_eq!(parts[0].data, "alt م".as_bytes());
        assert_eq!(parts[1].file_name.as_deref(), Some("a.jpg"));
        assert_eq!(parts[1].content_type.as_deref(), Some("image/jpeg"));
        assert_eq!(parts[1].data, b"\xff\xd8\r\n\xff");
        assert!(parse_multipart("application/json", body).is_err());
        assert!(parse_multipart("multipart/form-data; boundary=XyZ", b"--XyZ\r\nbroken").is_err());
    }

    #[test]
    fn status_params_from_json_and_form() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        let p = parse_status_params(
            &h,
            br#"{"status":"s","media_ids":["1",2],"sensitive":true,"visibility":"unlisted"}"#,
        )
        .unwrap();
        assert_eq!(p.media_ids, vec!["1", "2"]);
        assert!(p.sensitive);
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        let p = parse_status_params(
            &h,
            b"status=%D9%85&media_ids[]=7&media_ids[]=8&in_reply_to_id=3",
        )
        .unwrap();
        assert_eq!(p.status.as_deref(), Some("م"));
        assert_eq!(p.media_ids, vec!["7", "8"]);
        assert_eq!(p.in_reply_to_id.as_deref(), Some("3"));
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        assert!(parse_status_params(&h, b"x").is_err());
    }
}
