//! A fake YouTube Data API v3 with the resumable upload protocol, exactly
//! as `docs/platforms/youtube.md` describes it:
//!
//! - `POST /upload/youtube/v3/videos?uploadType=resumable&part=...` with the
//!   video resource (JSON), `X-Upload-Content-Length` and
//!   `X-Upload-Content-Type` ⇒ `200`, empty body, `Location: <session URI>`.
//! - `PUT <session>` with `Content-Range: bytes a-b/N`: contiguous with what
//!   was received, every non-final chunk a multiple of 256 KiB ⇒ `308` with
//!   `Range: bytes=0-b`; the last chunk ⇒ `201` with the video resource.
//! - `PUT <session>` with `Content-Range: bytes */N` and no body ⇒ `308`
//!   with `Range` (none when nothing was received) or the final answer replayed.
//! - Unknown or expired session ⇒ `404`.
//! - Errors in the `{"error":{"code","message","errors":[{"domain","reason","message"}]}}`
//!   shape: 401 `authError`, 403 `quotaExceeded`, 400 `uploadLimitExceeded`,
//!   403 `forbidden`, 400 `invalidTitle`...
//! - `POST /upload/youtube/v3/thumbnails/set?videoId=` (JPEG/PNG ≤ 2 MB).
//!
//! Fault knobs ([`YtFaults`]): interrupt an upload after N bytes (the
//! connection is dropped), 503 on chunks or on status queries, drop the final
//! answer, quota and permission errors, expired sessions.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::Running;

/// 256 KiB: non-final chunks are multiples of it.
pub const CHUNK_UNIT: u64 = 256 * 1024;

/// One upload session.
#[derive(Debug, Clone, Default)]
pub struct YtSession {
    pub metadata: Value,
    pub part: String,
    pub total: u64,
    pub content_type: String,
    pub received: Vec<u8>,
    /// The final answer (status, body), replayed to status queries.
    pub done: Option<(u16, Value)>,
}

/// A video the fake published.
#[derive(Debug, Clone)]
pub struct YtVideo {
    pub id: String,
    pub snippet: Value,
    pub status: Value,
    pub bytes: Vec<u8>,
}

/// A request the fake received (bodies kept only as lengths).
#[derive(Debug, Clone)]
pub struct YtRequest {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub content_range: Option<String>,
    pub body_len: usize,
    /// The `Host` it was sent to.
    pub host: Option<String>,
    /// Whether it carried an `Authorization` header.
    pub authorization: bool,
}

/// Fault knobs; counters are spent by the requests they affect.
#[derive(Debug, Clone, Default)]
pub struct YtFaults {
    /// While a chunk is received, drop the connection once the session holds
    /// this many bytes (once).
    pub interrupt_at: Option<u64>,
    /// The next N chunk PUTs answer 503 without keeping anything.
    pub chunk_unavailable: u32,
    /// The next N status queries (`bytes */N`) answer 503.
    pub query_unavailable: u32,
    /// The upload completes but the connection is dropped before the answer (once).
    pub drop_final_answer: bool,
    /// The next N session starts answer 403 `quotaExceeded`.
    pub quota_exceeded: u32,
    /// The next N session starts answer 400 `uploadLimitExceeded`.
    pub upload_limit: u32,
    /// The next N session starts answer 403 `forbidden`.
    pub forbidden: u32,
    /// The next N requests answer 401 `authError`.
    pub unauthorized: u32,
    /// The next N thumbnails answer 403 `forbidden` (unverified channel).
    pub thumbnail_forbidden: u32,
    /// Every known session answers 404 (expired).
    pub sessions_expired: bool,
}

/// Everything the fake holds.
#[derive(Debug)]
pub struct YtState {
    /// Bearer tokens the fake accepts.
    pub tokens: Vec<String>,
    pub sessions: BTreeMap<String, YtSession>,
    pub videos: Vec<YtVideo>,
    /// Thumbnails set, by video id: (content type, bytes).
    pub thumbnails: BTreeMap<String, (String, Vec<u8>)>,
    pub requests: Vec<YtRequest>,
    /// Requests that broke the protocol (answered 400).
    pub violations: Vec<String>,
    pub faults: YtFaults,
    /// The origin of the session URIs handed out (`http://HOST:PORT`);
    /// `None`: the origin the session was started on.
    pub session_origin: Option<String>,
    next: u64,
}

impl Default for YtState {
    fn default() -> Self {
        YtState {
            tokens: vec!["yt-token".into()],
            sessions: BTreeMap::new(),
            videos: Vec::new(),
            thumbnails: BTreeMap::new(),
            requests: Vec::new(),
            violations: Vec::new(),
            faults: YtFaults::default(),
            session_origin: None,
            next: 0,
        }
    }
}

/// A running fake YouTube.
pub struct FakeYouTube {
    pub running: Running,
    pub state: Arc<Mutex<YtState>>,
}

impl FakeYouTube {
    /// Starts the fake on 127.0.0.1.
    pub async fn start() -> std::io::Result<FakeYouTube> {
        let state = Arc::new(Mutex::new(YtState::default()));
        let running = crate::serve(router(state.clone())).await?;
        Ok(FakeYouTube { running, state })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.running.url()
    }

    /// Locks the state.
    pub fn lock(&self) -> std::sync::MutexGuard<'_, YtState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The fake's router.
pub fn router(state: Arc<Mutex<YtState>>) -> axum::Router {
    axum::Router::new().fallback(move |req: Request| {
        let state = state.clone();
        async move { handle(state, req).await }
    })
}

fn lock(state: &Mutex<YtState>) -> std::sync::MutexGuard<'_, YtState> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

/// A Data API error body.
pub fn error(code: u16, domain: &str, reason: &str, message: &str) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST);
    let body = json!({"error": {"code": code, "message": message, "errors": [{"message": message, "domain": domain, "reason": reason}]}});
    (status, axum::Json(body)).into_response()
}

fn violation(st: &mut YtState, what: String) -> Response {
    st.violations.push(what.clone());
    error(400, "global", "badRequest", &what)
}

fn drop_connection() -> ! {
    std::panic::resume_unwind(Box::new("fake YouTube: dropping the connection"))
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

async fn handle(state: Arc<Mutex<YtState>>, req: Request) -> Response {
    let method = req.method().clone();
    let uri = req.uri().clone();
    let headers = req.headers().clone();
    let path = uri.path().to_string();
    let query: BTreeMap<String, String> = uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    {
        let mut st = lock(&state);
        st.requests.push(YtRequest {
            method: method.to_string(),
            path: path.clone(),
            query: uri.query().map(str::to_string),
            content_range: header(&headers, "content-range").map(str::to_string),
            body_len: header(&headers, "content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
            host: header(&headers, "host").map(str::to_string),
            authorization: headers.contains_key("authorization"),
        });
        let token = header(&headers, "authorization").and_then(|v| v.strip_prefix("Bearer "));
        let ok = token.is_some_and(|t| st.tokens.iter().any(|k| k == t));
        if !ok || st.faults.unauthorized > 0 {
            st.faults.unauthorized = st.faults.unauthorized.saturating_sub(1);
            let body = json!({"error": {"code": 401,
                "message": "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
                "errors": [{"message": "Invalid Credentials", "domain": "global", "reason": "authError", "location": "Authorization", "locationType": "header"}],
                "status": "UNAUTHENTICATED"}});
            return (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response();
        }
    }
    let host = header(&headers, "host").unwrap_or("127.0.0.1").to_string();
    match (method, path.as_str()) {
        (Method::POST, "/upload/youtube/v3/videos") => {
            let body = match axum::body::to_bytes(req.into_body(), 1 << 20).await {
                Ok(b) => b,
                Err(_) => return error(400, "global", "badRequest", "body too large"),
            };
            start(&mut lock(&state), &host, &query, &headers, &body)
        }
        (Method::PUT, "/upload/youtube/v3/videos") => put(&state, &query, &headers, req).await,
        (Method::POST, "/upload/youtube/v3/thumbnails/set") => {
            let body = match axum::body::to_bytes(req.into_body(), 4 << 20).await {
                Ok(b) => b,
                Err(_) => return error(413, "global", "mediaBodyTooLarge", "too large"),
            };
            thumbnail(&mut lock(&state), &query, &headers, &body)
        }
        _ => error(404, "global", "notFound", "Not Found"),
    }
}

fn start(
    st: &mut YtState,
    host: &str,
    query: &BTreeMap<String, String>,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    if query.get("uploadType").map(String::as_str) != Some("resumable") {
        return violation(st, "uploadType=resumable is required".into());
    }
    let part = query.get("part").cloned().unwrap_or_default();
    let parts: Vec<&str> = part.split(',').map(str::trim).collect();
    if !parts.contains(&"snippet") {
        return violation(st, format!("part must name snippet (got {part:?})"));
    }
    let ct = header(headers, "content-type").unwrap_or("");
    if !ct.starts_with("application/json") {
        return violation(
            st,
            format!("Content-Type {ct:?} (application/json expected)"),
        );
    }
    let Some(total) =
        header(headers, "x-upload-content-length").and_then(|v| v.parse::<u64>().ok())
    else {
        return violation(st, "X-Upload-Content-Length is required".into());
    };
    let upload_type = header(headers, "x-upload-content-type")
        .unwrap_or("")
        .to_string();
    if !(upload_type.starts_with("video/") || upload_type == "application/octet-stream") {
        return violation(
            st,
            format!("X-Upload-Content-Type {upload_type:?} is not a video type"),
        );
    }
    let Ok(meta) = serde_json::from_slice::<Value>(body) else {
        return violation(st, "the video resource is not JSON".into());
    };
    if let Some(obj) = meta.as_object() {
        for k in obj.keys() {
            if !parts.contains(&k.as_str()) {
                return error(
                    400,
                    "youtube.part",
                    "unexpectedPart",
                    &format!(
                        "The request metadata specifies a part ({k}) that is not in the part parameter."
                    ),
                );
            }
        }
    }
    let f = &mut st.faults;
    if f.quota_exceeded > 0 {
        f.quota_exceeded -= 1;
        return error(
            403,
            "youtube.quota",
            "quotaExceeded",
            "The request cannot be completed because you have exceeded your <a href=\"/youtube/v3/getting-started#quota\">quota</a>.",
        );
    }
    if f.upload_limit > 0 {
        f.upload_limit -= 1;
        return error(
            400,
            "youtube.video",
            "uploadLimitExceeded",
            "The user has exceeded the number of videos they may upload.",
        );
    }
    if f.forbidden > 0 {
        f.forbidden -= 1;
        return error(
            403,
            "youtube.video",
            "forbidden",
            "The request is not properly authorized to upload this video.",
        );
    }
    let title = meta
        .pointer("/snippet/title")
        .and_then(Value::as_str)
        .unwrap_or("");
    if title.trim().is_empty() || title.chars().count() > 100 || title.contains(['<', '>']) {
        return error(
            400,
            "youtube.video",
            "invalidTitle",
            "The request metadata specifies an invalid or empty video title.",
        );
    }
    let description = meta
        .pointer("/snippet/description")
        .and_then(Value::as_str)
        .unwrap_or("");
    if description.len() > 5000 || description.contains(['<', '>']) {
        return error(
            400,
            "youtube.video",
            "invalidDescription",
            "The request metadata specifies an invalid video description.",
        );
    }
    if let Some(p) = meta
        .pointer("/status/privacyStatus")
        .and_then(Value::as_str)
        && !matches!(p, "public" | "private" | "unlisted")
    {
        return error(
            400,
            "youtube.video",
            "invalidVideoMetadata",
            "The request metadata is invalid.",
        );
    }
    if let Some(at) = meta.pointer("/status/publishAt") {
        let private = meta
            .pointer("/status/privacyStatus")
            .and_then(Value::as_str)
            == Some("private");
        let valid = at
            .as_str()
            .is_some_and(|s| s.parse::<jiff::Timestamp>().is_ok());
        if !private || !valid {
            return error(
                400,
                "youtube.video",
                "invalidPublishAt",
                "The request metadata specifies an invalid scheduled publishing time.",
            );
        }
    }
    st.next += 1;
    let id = format!("up{:06}", st.next);
    st.sessions.insert(
        id.clone(),
        YtSession {
            metadata: meta,
            part: part.clone(),
            total,
            content_type: upload_type,
            ..YtSession::default()
        },
    );
    let origin = st
        .session_origin
        .clone()
        .unwrap_or_else(|| format!("http://{host}"));
    let location = format!(
        "{origin}/upload/youtube/v3/videos?uploadType=resumable&upload_id={id}&part={part}"
    );
    let mut resp = StatusCode::OK.into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert("location", v);
    }
    resp
}

fn incomplete(received: u64) -> Response {
    let mut resp = StatusCode::PERMANENT_REDIRECT.into_response();
    if received > 0
        && let Ok(v) = HeaderValue::from_str(&format!("bytes=0-{}", received - 1))
    {
        resp.headers_mut().insert("range", v);
    }
    resp.headers_mut()
        .insert("content-length", HeaderValue::from(0));
    resp
}

fn replay(done: &(u16, Value)) -> Response {
    let status = StatusCode::from_u16(done.0).unwrap_or(StatusCode::OK);
    (status, axum::Json(done.1.clone())).into_response()
}

/// `bytes a-b/N` ⇒ `Some((Some((a, b)), N))`; `bytes */N` ⇒ `Some((None, N))`.
pub fn parse_content_range(v: &str) -> Option<(Option<(u64, u64)>, u64)> {
    let rest = v.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let total = total.trim().parse().ok()?;
    if range.trim() == "*" {
        return Some((None, total));
    }
    let (a, b) = range.split_once('-')?;
    Some((
        Some((a.trim().parse().ok()?, b.trim().parse().ok()?)),
        total,
    ))
}

async fn put(
    state: &Mutex<YtState>,
    query: &BTreeMap<String, String>,
    headers: &HeaderMap,
    req: Request,
) -> Response {
    let id = query.get("upload_id").cloned().unwrap_or_default();
    let range = header(headers, "content-range").and_then(parse_content_range);
    let length: Option<u64> = header(headers, "content-length").and_then(|v| v.parse().ok());
    let (chunk, total) = {
        let mut st = lock(state);
        let expired = st.faults.sessions_expired;
        let Some(session) = st.sessions.get(&id).cloned().filter(|_| !expired) else {
            return error(404, "global", "notFound", "Not Found");
        };
        let Some((chunk, total)) = range else {
            return violation(
                &mut st,
                format!(
                    "a PUT without a valid Content-Range ({:?})",
                    header(headers, "content-range")
                ),
            );
        };
        if total != session.total {
            return violation(
                &mut st,
                format!(
                    "Content-Range total {total} differs from X-Upload-Content-Length {}",
                    session.total
                ),
            );
        }
        match chunk {
            None => {
                if length.unwrap_or(0) != 0 {
                    return violation(&mut st, "a status query must have Content-Length: 0".into());
                }
                if st.faults.query_unavailable > 0 {
                    st.faults.query_unavailable -= 1;
                    return error(503, "global", "backendError", "Backend Error");
                }
                return match &session.done {
                    Some(done) => replay(done),
                    None => incomplete(session.received.len() as u64),
                };
            }
            Some((a, b)) => {
                if let Some(done) = &session.done {
                    return replay(done);
                }
                let got = session.received.len() as u64;
                let len = b.checked_sub(a).map(|d| d + 1).unwrap_or(0);
                let last = b + 1 == total;
                if a != got || b >= total || len == 0 {
                    return violation(
                        &mut st,
                        format!(
                            "chunk bytes {a}-{b}/{total} is not contiguous with the {got} bytes received"
                        ),
                    );
                }
                if !last && len % CHUNK_UNIT != 0 {
                    return violation(
                        &mut st,
                        format!("non-final chunk of {len} bytes is not a multiple of 256 KiB"),
                    );
                }
                if length != Some(len) {
                    return violation(
                        &mut st,
                        format!("Content-Length {length:?} differs from the range's {len} bytes"),
                    );
                }
                if st.faults.chunk_unavailable > 0 {
                    st.faults.chunk_unavailable -= 1;
                    return error(503, "global", "backendError", "Backend Error");
                }
                ((a, b), total)
            }
        }
    };
    let ((_, b), last) = (chunk, chunk.1 + 1 == total);
    // Receive the bytes, as they come.
    let mut stream = req.into_body().into_data_stream();
    while let Some(piece) = stream.next().await {
        let Ok(piece) = piece else {
            return error(400, "global", "badRequest", "the body ended early");
        };
        let mut st = lock(state);
        let cut = st.faults.interrupt_at;
        let Some(session) = st.sessions.get_mut(&id) else {
            return error(404, "global", "notFound", "Not Found");
        };
        let before = session.received.len() as u64;
        let keep = match cut {
            Some(n) if before + piece.len() as u64 >= n => (n.saturating_sub(before)) as usize,
            _ => piece.len(),
        };
        session
            .received
            .extend_from_slice(&piece[..keep.min(piece.len())]);
        if cut.is_some_and(|n| session.received.len() as u64 >= n) {
            st.faults.interrupt_at = None;
            drop(st);
            drop_connection();
        }
    }
    let mut st = lock(state);
    let Some(session) = st.sessions.get(&id).cloned() else {
        return error(404, "global", "notFound", "Not Found");
    };
    if session.received.len() as u64 != b + 1 {
        return violation(
            &mut st,
            format!(
                "chunk ended at byte {} instead of {b}",
                session.received.len()
            ),
        );
    }
    if !last {
        return incomplete(session.received.len() as u64);
    }
    st.next += 1;
    let video_id = format!("vid{:08}", st.next);
    let mut snippet = session
        .metadata
        .get("snippet")
        .cloned()
        .unwrap_or(json!({}));
    snippet["channelId"] = json!("UCfakechannel");
    let mut status = session.metadata.get("status").cloned().unwrap_or(json!({}));
    status["uploadStatus"] = json!("uploaded");
    let video = json!({"kind": "youtube#video", "etag": format!("etag-{video_id}"), "id": video_id, "snippet": snippet, "status": status});
    st.videos.push(YtVideo {
        id: video_id,
        snippet,
        status,
        bytes: session.received.clone(),
    });
    if let Some(s) = st.sessions.get_mut(&id) {
        s.done = Some((201, video.clone()));
    }
    if st.faults.drop_final_answer {
        st.faults.drop_final_answer = false;
        drop(st);
        drop_connection();
    }
    (StatusCode::CREATED, axum::Json(video)).into_response()
}

fn thumbnail(
    st: &mut YtState,
    query: &BTreeMap<String, String>,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let video_id = query.get("videoId").cloned().unwrap_or_default();
    if !st.videos.iter().any(|v| v.id == video_id) {
        return error(
            404,
            "youtube.video",
            "videoNotFound",
            "The video that you are trying to update cannot be found.",
        );
    }
    let ct = header(headers, "content-type").unwrap_or("").to_string();
    if !matches!(ct.as_str(), "image/jpeg" | "image/png") {
        return error(
            400,
            "youtube.thumbnail",
            "invalidImage",
            "The provided image content is invalid.",
        );
    }
    if body.len() as u64 > 2 * 1024 * 1024 {
        return error(
            400,
            "youtube.thumbnail",
            "mediaBodyTooLarge",
            "The thumbnail is larger than 2 MB.",
        );
    }
    if st.faults.thumbnail_forbidden > 0 {
        st.faults.thumbnail_forbidden -= 1;
        return error(
            403,
            "youtube.thumbnail",
            "forbidden",
            "The thumbnail can't be set for the specified video. The request might not be properly authorized.",
        );
    }
    st.thumbnails.insert(video_id.clone(), (ct, body.to_vec()));
    let body = json!({"kind": "youtube#thumbnailSetResponse", "items": [{"default": {"url": format!("https://i.ytimg.com/vi/{video_id}/default.jpg"), "width": 120, "height": 90}}]});
    (StatusCode::OK, axum::Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ranges() {
        assert_eq!(parse_content_range("bytes */100"), Some((None, 100)));
        assert_eq!(
            parse_content_range("bytes 0-99/100"),
            Some((Some((0, 99)), 100))
        );
        assert_eq!(parse_content_range("bytes 0-99"), None);
    }
}
