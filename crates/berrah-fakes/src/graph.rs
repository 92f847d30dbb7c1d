//! A fake Meta Graph API: Facebook Pages and Instagram (containers), on
//! 127.0.0.1, strict where the real one is and answering with its shapes
//! (`docs/platforms/facebook.md`, `docs/platforms/instagram.md`).
//!
//! - Every path starts with the configured version (`/v25.0/...`); every
//!   request carries the token as `Authorization: Bearer` / `OAuth` (a token
//!   in the query string is accepted, as Graph does, but recorded so tests
//!   can check berrah never sends one there).
//! - Facebook: `POST /{page}/feed` (form or JSON: `message`, `link`,
//!   `attached_media[i]` of unpublished photos; the same message twice in a
//!   row is refused with code 506 as Facebook does), `POST /{page}/photos`
//!   (multipart `source`, checked to be an image of at most 10 MB, or `url`;
//!   `published=false` answers only the photo id), the chunked
//!   `POST /{page}/videos` (`upload_phase=start|transfer|finish`, offsets
//!   enforced, chunks of [`FakeGraphConfig::chunk_size`]), `POST /{id}/comments`,
//!   `GET /{page}/feed?since=`, `GET /{video}?fields=status,permalink_url`.
//! - Instagram: `POST /{ig-user}/media` (image, REELS, carousel items and
//!   CAROUSEL; the media URL is fetched when [`FakeGraphConfig::fetch_media`]
//!   is set: unreachable → 9004/2207052, non-JPEG image → 36001/2207005),
//!   `GET /{container}?fields=status_code` (IN_PROGRESS for
//!   [`FakeGraphConfig::container_polls`] polls, then FINISHED; PUBLISHED
//!   after publishing), `POST /{ig-user}/media_publish` (9007/2207027 before
//!   FINISHED), `GET /{media}?fields=permalink`, `GET /{ig-user}/media`,
//!   `POST /{media}/comments`; captions over 2,200 characters or 30 hashtags
//!   are refused.
//! - Faults ([`Fault`]) for the next matching request: any Graph error body
//!   with its usage headers, or dropping the connection before or after the
//!   request was processed (so the outcome is unknown to the client).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::Running;
use berrah::time::{Clock, SystemClock};

/// How the fake behaves.
#[derive(Clone)]
pub struct FakeGraphConfig {
    /// The API version every path must start with.
    pub version: String,
    /// The Facebook Page id.
    pub page_id: String,
    /// The Instagram professional account id.
    pub ig_user_id: String,
    /// The only accepted access token.
    pub token: String,
    /// The byte range the chunked video upload asks for at a time.
    pub chunk_size: u64,
    /// Status polls a container answers `IN_PROGRESS` before `FINISHED`.
    pub container_polls: u32,
    /// Fetch `image_url` / `video_url` as Instagram does.
    pub fetch_media: bool,
    /// The clock of `created_time` / `timestamp`.
    pub clock: Arc<dyn Clock>,
}

impl Default for FakeGraphConfig {
    fn default() -> Self {
        FakeGraphConfig {
            // The Graph API version the fake serves (`docs/platforms/facebook.md`):
            // a client calling another version is answered as Meta does.
            version: "v25.0".into(),
            page_id: "104857600123".into(),
            ig_user_id: "17841400008460056".into(),
            token: "EAAB-fake-page-token-0123456789".into(),
            chunk_size: 1024 * 1024,
            container_polls: 0,
            fetch_media: true,
            clock: Arc::new(SystemClock),
        }
    }
}

/// The endpoint a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /{page}/feed`.
    FeedPost,
    /// `POST /{page}/photos`.
    Photos,
    /// `POST /{page}/videos` with `upload_phase=start`.
    VideoStart,
    /// `POST /{page}/videos` with `upload_phase=transfer`.
    VideoTransfer,
    /// `POST /{page}/videos` with `upload_phase=finish`.
    VideoFinish,
    /// `POST /{id}/comments` (Facebook and Instagram).
    Comments,
    /// `GET /{page}/feed`.
    FeedList,
    /// `POST /{ig-user}/media`.
    IgMedia,
    /// `POST /{ig-user}/media_publish`.
    IgPublish,
    /// `GET /{container}`.
    IgStatus,
    /// Any request.
    Any,
}

/// What the fake does instead of (or after) answering normally.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answers this status, body and headers without doing anything.
    Error {
        status: u16,
        body: Value,
        headers: Vec<(String, String)>,
    },
    /// Closes the connection after reading the request, doing nothing.
    DropBefore,
    /// Does what was asked, then closes the connection without answering.
    DropAfter,
}

impl Fault {
    /// A Graph error body (`{"error":{...}}`) with HTTP 400.
    pub fn graph(code: i64, subcode: Option<i64>, message: &str) -> Fault {
        let mut error = json!({
            "message": message,
            "type": "OAuthException",
            "code": code,
            "fbtrace_id": "AbCdEfGhIjK",
        });
        if let Some(sub) = subcode {
            error["error_subcode"] = json!(sub);
        }
        Fault::Error {
            status: 400,
            body: json!({ "error": error }),
            headers: Vec::new(),
        }
    }

    /// A throttling error (4, 17, 32, 613, 80001, 80002) with the usage
    /// headers Meta sends: 100 % used, access back in `regain_minutes`.
    pub fn rate_limited(code: i64, regain_minutes: i64) -> Fault {
        let message = match code {
            4 => "(#4) Application request limit reached",
            17 => "(#17) User request limit reached",
            32 => "(#32) Page request limit reached",
            613 => "(#613) Calls to this api have exceeded the rate limit.",
            _ => {
                "(#80001) There have been too many calls to this Page account. Wait a bit and try again."
            }
        };
        let Fault::Error { status, body, .. } = Fault::graph(code, None, message) else {
            unreachable!("graph() builds an Error")
        };
        let buc = json!({ "104857600123": [{
            "type": "pages", "call_count": 100, "total_cputime": 35, "total_time": 40,
            "estimated_time_to_regain_access": regain_minutes
        }]});
        Fault::Error {
            status,
            body,
            headers: vec![
                ("x-business-use-case-usage".into(), buc.to_string()),
                (
                    "x-app-usage".into(),
                    json!({"call_count":100,"total_time":40,"total_cputime":35}).to_string(),
                ),
            ],
        }
    }

    /// An expired Page token (190 / 463).
    pub fn token_expired() -> Fault {
        Fault::graph(
            190,
            Some(463),
            "Error validating access token: Session has expired on Friday, 18-Dec-26 08:00:00 PST.",
        )
    }

    /// A missing permission (200), naming it as Graph does.
    pub fn permission(permission: &str) -> Fault {
        Fault::graph(
            200,
            None,
            &format!("(#200) Requires {permission} permission to manage the object"),
        )
    }

    /// A temporary error (code 2, `is_transient`), HTTP 500.
    pub fn transient() -> Fault {
        Fault::Error {
            status: 500,
            body: json!({"error":{"message":"An unexpected error has occurred. Please retry your request later.",
                "type":"OAuthException","is_transient":true,"code":2,"fbtrace_id":"AbCdEfGhIjK"}}),
            headers: Vec::new(),
        }
    }
}

/// What a Facebook Page post is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostKind {
    Status,
    Photo,
    MultiPhoto,
    Video,
}

/// A post published on the fake Page.
#[derive(Debug, Clone)]
pub struct FbPost {
    pub id: String,
    pub kind: PostKind,
    pub message: Option<String>,
    pub link: Option<String>,
    /// Photo ids attached (one for a photo post).
    pub photos: Vec<String>,
    pub video: Option<String>,
    pub created_time: Timestamp,
}

/// A photo received by the fake Page.
#[derive(Debug, Clone)]
pub struct FbPhoto {
    pub id: String,
    pub size: usize,
    pub sha256: String,
    pub alt: Option<String>,
    pub published: bool,
}

/// A chunked video upload.
#[derive(Debug, Clone)]
pub struct FbVideo {
    pub id: String,
    pub session: String,
    pub size: u64,
    pub received: Vec<u8>,
    pub transfers: u32,
    pub finished: bool,
    pub description: Option<String>,
    pub title: Option<String>,
}

impl FbVideo {
    /// The SHA-256 (hex) of the bytes received.
    pub fn sha256(&self) -> String {
        hex::encode(Sha256::digest(&self.received))
    }
}

/// A comment (Facebook or Instagram).
#[derive(Debug, Clone)]
pub struct Comment {
    pub id: String,
    pub on: String,
    pub message: String,
}

/// An Instagram container.
#[derive(Debug, Clone)]
pub struct IgContainer {
    pub id: String,
    /// `IMAGE`, `REELS`, `VIDEO` (carousel item) or `CAROUSEL`.
    pub media_type: String,
    pub url: Option<String>,
    pub caption: Option<String>,
    pub alt_text: Option<String>,
    pub is_carousel_item: bool,
    pub children: Vec<String>,
    pub status_code: String,
    pub polls_left: u32,
}

/// A published Instagram media.
#[derive(Debug, Clone)]
pub struct IgMedia {
    pub id: String,
    pub container: String,
    pub media_type: String,
    pub caption: Option<String>,
    pub permalink: String,
    pub timestamp: Timestamp,
    pub children: usize,
}

/// One request, without its token.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// The path, version included.
    pub path: String,
    /// The parameters (query, form, JSON, multipart text fields), without `access_token`.
    pub params: BTreeMap<String, String>,
    /// `Bearer` or `OAuth`, when the token came in the header.
    pub auth_scheme: Option<String>,
    /// An `access_token` was found in the query string or the body.
    pub token_in_params: bool,
}

#[derive(Default)]
struct Inner {
    counter: u64,
    posts: Vec<FbPost>,
    photos: HashMap<String, FbPhoto>,
    videos: HashMap<String, FbVideo>,
    comments: Vec<Comment>,
    containers: HashMap<String, IgContainer>,
    media: Vec<IgMedia>,
    requests: Vec<Recorded>,
    faults: Vec<(Endpoint, Fault)>,
    token_expired: bool,
    fail_containers: bool,
}

struct Shared {
    config: FakeGraphConfig,
    inner: Mutex<Inner>,
    http: reqwest::Client,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running fake Graph API. Dropping it stops the server.
pub struct FakeGraph {
    running: Running,
    shared: Arc<Shared>,
}

impl FakeGraph {
    /// Starts the fake on a free port.
    pub async fn start(config: FakeGraphConfig) -> std::io::Result<FakeGraph> {
        let shared = Arc::new(Shared {
            config,
            inner: Mutex::new(Inner::default()),
            http: berrah::http::client(),
        });
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let running = crate::serve(app).await?;
        Ok(FakeGraph { running, shared })
    }

    /// `http://127.0.0.1:PORT`: the account's `base_url`.
    pub fn url(&self) -> String {
        self.running.url()
    }

    /// The configuration.
    pub fn config(&self) -> &FakeGraphConfig {
        &self.shared.config
    }

    /// Makes the next request to `endpoint` fail with `fault`.
    pub fn fail_next(&self, endpoint: Endpoint, fault: Fault) {
        self.shared.lock().faults.push((endpoint, fault));
    }

    /// From now on every request is refused with 190 / 463 (expired token).
    pub fn expire_token(&self) {
        self.shared.lock().token_expired = true;
    }

    /// From now on new Instagram containers end in `ERROR`.
    pub fn fail_containers(&self) {
        self.shared.lock().fail_containers = true;
    }

    /// Posts on the Page, oldest first.
    pub fn posts(&self) -> Vec<FbPost> {
        self.shared.lock().posts.clone()
    }

    /// A photo by id.
    pub fn photo(&self, id: &str) -> Option<FbPhoto> {
        self.shared.lock().photos.get(id).cloned()
    }

    /// Every photo received.
    pub fn photos(&self) -> Vec<FbPhoto> {
        self.shared.lock().photos.values().cloned().collect()
    }

    /// Every video upload.
    pub fn videos(&self) -> Vec<FbVideo> {
        self.shared.lock().videos.values().cloned().collect()
    }

    /// Every comment.
    pub fn comments(&self) -> Vec<Comment> {
        self.shared.lock().comments.clone()
    }

    /// Every Instagram container.
    pub fn containers(&self) -> Vec<IgContainer> {
        self.shared.lock().containers.values().cloned().collect()
    }

    /// Published Instagram media, oldest first.
    pub fn media(&self) -> Vec<IgMedia> {
        self.shared.lock().media.clone()
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.lock().requests.clone()
    }
}

/// The request's parameters and file parts.
#[derive(Default)]
struct Params {
    fields: BTreeMap<String, String>,
    files: HashMap<String, Vec<u8>>,
}

impl Params {
    fn get(&self, k: &str) -> Option<&str> {
        self.fields.get(k).map(String::as_str)
    }
}

fn graph_error(status: u16, code: i64, subcode: Option<i64>, message: &str) -> Response {
    let Fault::Error { body, .. } = Fault::graph(code, subcode, message) else {
        unreachable!("graph() builds an Error")
    };
    answer(status, body, &[])
}

fn answer(status: u16, body: Value, headers: &[(String, String)]) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = (status, axum::Json(body)).into_response();
    let h = resp.headers_mut();
    h.insert(
        "x-app-usage",
        axum::http::HeaderValue::from_static(
            r#"{"call_count":2,"total_time":1,"total_cputime":1}"#,
        ),
    );
    for (k, v) in headers {
        if let (Ok(k), Ok(v)) = (
            axum::http::HeaderName::from_bytes(k.as_bytes()),
            axum::http::HeaderValue::from_str(v),
        ) {
            h.insert(k, v);
        }
    }
    resp
}

fn ok(body: Value) -> Response {
    answer(200, body, &[])
}

/// Closes the connection without an answer (the panic ends the connection's
/// task; `resume_unwind` skips the panic hook, so nothing is printed).
fn drop_connection() -> ! {
    std::panic::resume_unwind(Box::new("fake graph: dropping the connection"))
}

async fn handle(
    State(s): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let mut params = Params::default();
    if let Some(q) = uri.query() {
        for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
            params.fields.insert(k.into_owned(), v.into_owned());
        }
    }
    let ctype = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    if method == Method::POST && !body.is_empty() {
        if ctype.starts_with("application/x-www-form-urlencoded") {
            for (k, v) in url::form_urlencoded::parse(&body) {
                params.fields.insert(k.into_owned(), v.into_owned());
            }
        } else if ctype.starts_with("application/json") {
            match serde_json::from_slice::<Value>(&body) {
                Ok(Value::Object(map)) => {
                    for (k, v) in map {
                        let v = match v {
                            Value::String(s) => s,
                            other => other.to_string(),
                        };
                        params.fields.insert(k, v);
                    }
                }
                _ => return graph_error(400, 100, None, "(#100) Invalid JSON body"),
            }
        } else if ctype.starts_with("multipart/form-data") {
            let Some(parts) = parse_multipart(&ctype, &body) else {
                return graph_error(400, 100, None, "(#100) Malformed multipart body");
            };
            for p in parts {
                if p.filename.is_some() {
                    params.files.insert(p.name, p.data);
                } else {
                    params
                        .fields
                        .insert(p.name, String::from_utf8_lossy(&p.data).into_owned());
                }
            }
        } else {
            return graph_error(400, 100, None, "(#100) Unsupported content type");
        }
    }
    let token_in_params = params.fields.remove("access_token");
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .map(|(scheme, tok)| (scheme.to_string(), tok.trim().to_string()));
    s.lock().requests.push(Recorded {
        method: method.to_string(),
        path: path.clone(),
        params: params.fields.clone(),
        auth_scheme: auth.as_ref().map(|(s, _)| s.clone()),
        token_in_params: token_in_params.is_some(),
    });

    // Version, then token.
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let Some((version, rest)) = segments.split_first() else {
        return graph_error(400, 100, None, "Unknown path components");
    };
    if *version != s.config.version {
        return graph_error(
            400,
            2635,
            None,
            &format!("(#2635) You are calling an unsupported version ({version}) of the Graph API"),
        );
    }
    let token = auth
        .filter(|(scheme, _)| scheme == "Bearer" || scheme == "OAuth")
        .map(|(_, t)| t)
        .or(token_in_params);
    match token {
        None => {
            return graph_error(
                400,
                2500,
                None,
                "An active access token must be used to query information about the current user.",
            );
        }
        Some(t) if t != s.config.token => {
            return graph_error(
                400,
                190,
                None,
                "Invalid OAuth access token - Cannot parse access token",
            );
        }
        Some(_) => {}
    }
    if s.lock().token_expired {
        let Fault::Error { body, .. } = Fault::token_expired() else {
            unreachable!()
        };
        return answer(400, body, &[]);
    }

    let endpoint = endpoint_of(&s.config, &method, rest, &params);
    let fault = {
        let mut inner = s.lock();
        let pos = inner
            .faults
            .iter()
            .position(|(e, _)| *e == endpoint || *e == Endpoint::Any);
        pos.map(|i| inner.faults.remove(i).1)
    };
    let drop_after = match fault {
        Some(Fault::Error {
            status,
            body,
            headers,
        }) => return answer(status, body, &headers),
        Some(Fault::DropBefore) => drop_connection(),
        Some(Fault::DropAfter) => true,
        None => false,
    };
    let resp = route(&s, &method, rest, &params).await;
    if drop_after {
        drop_connection();
    }
    resp
}

fn endpoint_of(c: &FakeGraphConfig, method: &Method, rest: &[&str], p: &Params) -> Endpoint {
    let post = *method == Method::POST;
    match (post, rest) {
        (true, [page, "feed"]) if *page == c.page_id => Endpoint::FeedPost,
        (false, [page, "feed"]) if *page == c.page_id => Endpoint::FeedList,
        (true, [page, "photos"]) if *page == c.page_id => Endpoint::Photos,
        (true, [page, "videos"]) if *page == c.page_id => match p.get("upload_phase") {
            Some("start") => Endpoint::VideoStart,
            Some("transfer") => Endpoint::VideoTransfer,
            _ => Endpoint::VideoFinish,
        },
        (true, [_, "comments"]) => Endpoint::Comments,
        (true, [ig, "media"]) if *ig == c.ig_user_id => Endpoint::IgMedia,
        (true, [ig, "media_publish"]) if *ig == c.ig_user_id => Endpoint::IgPublish,
        (false, [_]) => Endpoint::IgStatus,
        _ => Endpoint::Any,
    }
}

async fn route(s: &Arc<Shared>, method: &Method, rest: &[&str], p: &Params) -> Response {
    let c = &s.config;
    let post = *method == Method::POST;
    match (post, rest) {
        (true, [page, "feed"]) if *page == c.page_id => feed_post(s, p),
        (false, [page, "feed"]) if *page == c.page_id => feed_list(s, p),
        (true, [page, "photos"]) if *page == c.page_id => photos(s, p),
        (true, [page, "videos"]) if *page == c.page_id => videos(s, p),
        (true, [id, "comments"]) => comment(s, id, p),
        (true, [ig, "media"]) if *ig == c.ig_user_id => ig_create(s, p).await,
        (false, [ig, "media"]) if *ig == c.ig_user_id => ig_list(s),
        (true, [ig, "media_publish"]) if *ig == c.ig_user_id => ig_publish(s, p),
        (false, [id]) => node(s, id, p),
        (_, [id, ..]) => graph_error(
            400,
            100,
            Some(33),
            &format!(
                "Unsupported {} request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.",
                if post { "post" } else { "get" }
            ),
        ),
        _ => graph_error(400, 100, None, "Unknown path components"),
    }
}

fn next_id(inner: &mut Inner) -> u64 {
    inner.counter += 1;
    inner.counter
}

fn graph_time(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S+0000").to_string()
}

fn feed_post(s: &Arc<Shared>, p: &Params) -> Response {
    let message = p.get("message").map(str::to_string);
    let link = p.get("link").map(str::to_string);
    let mut attached = Vec::new();
    for i in 0.. {
        let Some(v) = p.get(&format!("attached_media[{i}]")) else {
            break;
        };
        let Some(id) = serde_json::from_str::<Value>(v)
            .ok()
            .and_then(|v| v.get("media_fbid")?.as_str().map(str::to_string))
        else {
            return graph_error(
                400,
                100,
                None,
                "(#100) param attached_media must be an array of objects with media_fbid",
            );
        };
        attached.push(id);
    }
    if message.is_none() && link.is_none() && attached.is_empty() {
        return graph_error(
            400,
            100,
            None,
            "(#100) The parameter message or link is required",
        );
    }
    if p.get("published") == Some("false") && p.get("scheduled_publish_time").is_none() {
        return graph_error(
            400,
            100,
            None,
            "(#100) Unpublished posts must be scheduled with scheduled_publish_time",
        );
    }
    let mut inner = s.lock();
    for id in &attached {
        match inner.photos.get(id) {
            Some(photo) if !photo.published => {}
            _ => {
                return graph_error(
                    400,
                    100,
                    None,
                    &format!("(#100) attached_media {id} is not an unpublished photo of this Page"),
                );
            }
        }
    }
    if message.is_some()
        && inner
            .posts
            .last()
            .is_some_and(|last| last.message == message)
    {
        return graph_error(400, 506, None, "(#506) Duplicate status message");
    }
    let n = next_id(&mut inner);
    let id = format!("{}_{}", s.config.page_id, 900_000 + n);
    let kind = if attached.is_empty() {
        PostKind::Status
    } else {
        PostKind::MultiPhoto
    };
    inner.posts.push(FbPost {
        id: id.clone(),
        kind,
        message,
        link,
        photos: attached,
        video: None,
        created_time: s.config.clock.now(),
    });
    ok(json!({ "id": id }))
}

fn feed_list(s: &Arc<Shared>, p: &Params) -> Response {
    let since = p
        .get("since")
        .and_then(|v| v.parse::<i64>().ok())
        .and_then(|v| Timestamp::from_second(v).ok());
    let limit = p
        .get("limit")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(25);
    let inner = s.lock();
    let data: Vec<Value> = inner
        .posts
        .iter()
        .rev()
        .filter(|post| since.is_none_or(|t| post.created_time >= t))
        .take(limit)
        .map(|post| {
            let mut v = json!({
                "id": post.id,
                "created_time": graph_time(post.created_time),
                "permalink_url": format!("https://www.facebook.com/{}", post.id),
            });
            if let Some(m) = &post.message {
                v["message"] = json!(m);
            }
            v
        })
        .collect();
    ok(json!({ "data": data, "paging": { "cursors": { "before": "QVFIU", "after": "QVFIU" } } }))
}

fn is_image(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0xFF, 0xD8, 0xFF])
        || bytes.starts_with(b"\x89PNG\r\n\x1a\n")
        || bytes.starts_with(b"GIF8")
        || bytes.starts_with(b"BM")
}

fn photos(s: &Arc<Shared>, p: &Params) -> Response {
    let bytes = match (p.files.get("source"), p.get("url")) {
        (Some(b), _) => b.clone(),
        (None, Some(_)) => b"\xFF\xD8\xFF fetched".to_vec(),
        (None, None) => {
            return graph_error(400, 324, None, "(#324) Requires upload file");
        }
    };
    if !is_image(&bytes) {
        return graph_error(400, 324, None, "(#324) Missing or invalid image file");
    }
    if bytes.len() > 10 * 1024 * 1024 {
        return graph_error(400, 100, None, "(#100) The photo is larger than 10 MB");
    }
    let published = p.get("published") != Some("false");
    let mut inner = s.lock();
    let n = next_id(&mut inner);
    let photo_id = format!("{}", 500_000 + n);
    inner.photos.insert(
        photo_id.clone(),
        FbPhoto {
            id: photo_id.clone(),
            size: bytes.len(),
            sha256: hex::encode(Sha256::digest(&bytes)),
            alt: p.get("alt_text_custom").map(str::to_string),
            published,
        },
    );
    if !published {
        return ok(json!({ "id": photo_id }));
    }
    let post_id = format!("{}_{}", s.config.page_id, 900_000 + n);
    inner.posts.push(FbPost {
        id: post_id.clone(),
        kind: PostKind::Photo,
        message: p.get("caption").map(str::to_string),
        link: None,
        photos: vec![photo_id.clone()],
        video: None,
        created_time: s.config.clock.now(),
    });
    ok(json!({ "id": photo_id, "post_id": post_id }))
}

fn videos(s: &Arc<Shared>, p: &Params) -> Response {
    let chunk = s.config.chunk_size.max(1);
    let mut inner = s.lock();
    match p.get("upload_phase") {
        Some("start") => {
            let Some(size) = p.get("file_size").and_then(|v| v.parse::<u64>().ok()) else {
                return graph_error(
                    400,
                    100,
                    None,
                    "(#100) file_size is required for upload_phase=start",
                );
            };
            if size < 1024 {
                return graph_error(
                    400,
                    382,
                    None,
                    "(#382) The video file you tried to upload is too small.",
                );
            }
            let n = next_id(&mut inner);
            let id = format!("{}", 700_000 + n);
            let session = format!("{}", 800_000 + n);
            inner.videos.insert(
                session.clone(),
                FbVideo {
                    id: id.clone(),
                    session: session.clone(),
                    size,
                    received: Vec::new(),
                    transfers: 0,
                    finished: false,
                    description: None,
                    title: None,
                },
            );
            ok(json!({
                "video_id": id, "upload_session_id": session,
                "start_offset": "0", "end_offset": chunk.min(size).to_string()
            }))
        }
        Some("transfer") => {
            let session = p.get("upload_session_id").unwrap_or("");
            let Some(v) = inner.videos.get_mut(session) else {
                return graph_error(
                    400,
                    6000,
                    Some(1363020),
                    "(#6000) There was a problem uploading your video file. Please try again with another file.",
                );
            };
            let start = p.get("start_offset").and_then(|x| x.parse::<u64>().ok());
            let received = v.received.len() as u64;
            if start != Some(received) {
                return graph_error(
                    400,
                    6000,
                    Some(1363037),
                    &format!("(#6000) Invalid start_offset: expected {received}"),
                );
            }
            let Some(bytes) = p.files.get("video_file_chunk") else {
                return graph_error(400, 100, None, "(#100) video_file_chunk is required");
            };
            let expected = chunk.min(v.size - received);
            if bytes.len() as u64 != expected {
                return graph_error(
                    400,
                    6000,
                    Some(1363038),
                    &format!(
                        "(#6000) The chunk has {} bytes; expected {expected}",
                        bytes.len()
                    ),
                );
            }
            v.received.extend_from_slice(bytes);
            v.transfers += 1;
            let start = v.received.len() as u64;
            let end = (start + chunk).min(v.size);
            ok(json!({ "start_offset": start.to_string(), "end_offset": end.to_string() }))
        }
        Some("finish") => {
            let session = p.get("upload_session_id").unwrap_or("").to_string();
            let Some(v) = inner.videos.get_mut(&session) else {
                return graph_error(
                    400,
                    6000,
                    Some(1363020),
                    "(#6000) There was a problem uploading your video file. Please try again with another file.",
                );
            };
            if v.received.len() as u64 != v.size {
                return graph_error(
                    400,
                    6000,
                    Some(1363019),
                    "(#6000) The video upload is incomplete",
                );
            }
            if v.finished {
                return graph_error(
                    400,
                    6000,
                    Some(1363040),
                    "(#6000) This upload session was already finished",
                );
            }
            v.finished = true;
            v.description = p.get("description").map(str::to_string);
            v.title = p.get("title").map(str::to_string);
            let video_id = v.id.clone();
            let description = v.description.clone();
            inner.posts.push(FbPost {
                id: video_id.clone(),
                kind: PostKind::Video,
                message: description,
                link: None,
                photos: Vec::new(),
                video: Some(video_id),
                created_time: s.config.clock.now(),
            });
            ok(json!({ "success": true }))
        }
        _ => graph_error(
            400,
            100,
            None,
            "(#100) berrah's fake only accepts the chunked upload (upload_phase=start|transfer|finish)",
        ),
    }
}

fn comment(s: &Arc<Shared>, on: &str, p: &Params) -> Response {
    let Some(message) = p.get("message").filter(|m| !m.trim().is_empty()) else {
        return graph_error(400, 100, None, "(#100) The parameter message is required");
    };
    let mut inner = s.lock();
    let known =
        inner.posts.iter().any(|post| post.id == on) || inner.media.iter().any(|m| m.id == on);
    if !known {
        return graph_error(
            400,
            100,
            Some(33),
            &format!("Unsupported post request. Object with ID '{on}' does not exist"),
        );
    }
    let n = next_id(&mut inner);
    let id = format!("{on}_c{n}");
    inner.comments.push(Comment {
        id: id.clone(),
        on: on.to_string(),
        message: message.to_string(),
    });
    ok(json!({ "id": id }))
}

fn count_hashtags(caption: &str) -> usize {
    caption
        .split_whitespace()
        .filter(|w| w.starts_with('#') && w.chars().count() > 1)
        .count()
}

async fn ig_create(s: &Arc<Shared>, p: &Params) -> Response {
    let media_type = p.get("media_type").map(str::to_string);
    let carousel_item = p.get("is_carousel_item") == Some("true");
    let caption = p.get("caption").map(str::to_string);
    if let Some(c) = &caption {
        if c.chars().count() > 2200 {
            return graph_error(400, 36004, Some(2207010), "The caption is too long.");
        }
        if count_hashtags(c) > 30 {
            return graph_error(
                400,
                100,
                Some(2207040),
                "The caption has more than 30 hashtags.",
            );
        }
    }
    if carousel_item && caption.is_some() {
        return graph_error(
            400,
            100,
            None,
            "(#100) Carousel items cannot have a caption",
        );
    }
    let (kind, url) = match media_type.as_deref() {
        None | Some("IMAGE") => match p.get("image_url") {
            Some(u) => ("IMAGE", Some(u.to_string())),
            None => {
                return graph_error(
                    400,
                    100,
                    None,
                    "(#100) The parameter image_url is required.",
                );
            }
        },
        Some("REELS") | Some("VIDEO") => {
            if media_type.as_deref() == Some("VIDEO") && !carousel_item {
                return graph_error(
                    400,
                    100,
                    Some(2207023),
                    "The media type VIDEO is only for carousel items; use REELS.",
                );
            }
            match p.get("video_url") {
                Some(u) => (
                    if carousel_item { "VIDEO" } else { "REELS" },
                    Some(u.to_string()),
                ),
                None => {
                    return graph_error(
                        400,
                        100,
                        None,
                        "(#100) The parameter video_url is required.",
                    );
                }
            }
        }
        Some("CAROUSEL") => ("CAROUSEL", None),
        Some(other) => {
            return graph_error(
                400,
                100,
                None,
                &format!("(#100) Unsupported media_type {other}"),
            );
        }
    };
    let mut children = Vec::new();
    if kind == "CAROUSEL" {
        children = p
            .get("children")
            .unwrap_or("")
            .split(',')
            .filter(|c| !c.is_empty())
            .map(str::to_string)
            .collect();
        if !(2..=10).contains(&children.len()) {
            return graph_error(
                400,
                100,
                Some(2207028),
                "The carousel must have between 2 and 10 items.",
            );
        }
        let inner = s.lock();
        for c in &children {
            match inner.containers.get(c) {
                Some(child) if child.is_carousel_item && child.status_code == "FINISHED" => {}
                _ => {
                    return graph_error(
                        400,
                        100,
                        Some(2207028),
                        &format!("Carousel item {c} is not a finished carousel item container"),
                    );
                }
            }
        }
    }
    if let Some(u) = &url
        && s.config.fetch_media
    {
        let fetched = s.http.get(u).send().await;
        let bytes = match fetched {
            Ok(r) if r.status().is_success() => r.bytes().await.ok(),
            _ => None,
        };
        let Some(bytes) = bytes else {
            return graph_error(
                400,
                9004,
                Some(2207052),
                "The media could not be fetched from this uri.",
            );
        };
        if kind == "IMAGE" && !bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            return graph_error(
                400,
                36001,
                Some(2207005),
                "The image format is not supported. Only JPEG is supported.",
            );
        }
    }
    let mut inner = s.lock();
    let n = next_id(&mut inner);
    let id = format!("1789000000{:07}", n);
    let status_code = if inner.fail_containers {
        "ERROR"
    } else if s.config.container_polls == 0 {
        "FINISHED"
    } else {
        "IN_PROGRESS"
    };
    inner.containers.insert(
        id.clone(),
        IgContainer {
            id: id.clone(),
            media_type: kind.to_string(),
            url,
            caption,
            alt_text: p.get("alt_text").map(str::to_string),
            is_carousel_item: carousel_item,
            children,
            status_code: status_code.to_string(),
            polls_left: s.config.container_polls,
        },
    );
    ok(json!({ "id": id }))
}

fn ig_publish(s: &Arc<Shared>, p: &Params) -> Response {
    let Some(creation) = p.get("creation_id").map(str::to_string) else {
        return graph_error(
            400,
            100,
            None,
            "(#100) The parameter creation_id is required.",
        );
    };
    let mut inner = s.lock();
    let Some(c) = inner.containers.get(&creation).cloned() else {
        return graph_error(
            400,
            100,
            Some(33),
            &format!("Object with ID '{creation}' does not exist"),
        );
    };
    if c.is_carousel_item {
        return graph_error(
            400,
            100,
            None,
            "(#100) A carousel item cannot be published on its own",
        );
    }
    match c.status_code.as_str() {
        "FINISHED" => {}
        "PUBLISHED" => {
            return graph_error(
                400,
                100,
                None,
                "(#100) This media has already been published",
            );
        }
        "IN_PROGRESS" => {
            return graph_error(
                400,
                9007,
                Some(2207027),
                "The media is not ready for publishing, please wait for a moment",
            );
        }
        _ => {
            return graph_error(
                400,
                -2,
                Some(2207020),
                "The media you are trying to access has expired or failed. Please create a new container.",
            );
        }
    }
    let n = next_id(&mut inner);
    let id = format!("1790000000{:07}", n);
    let shortcode = format!("C{n:09}x");
    let permalink = if c.media_type == "REELS" {
        format!("https://www.instagram.com/reel/{shortcode}/")
    } else {
        format!("https://www.instagram.com/p/{shortcode}/")
    };
    inner.media.push(IgMedia {
        id: id.clone(),
        container: creation.clone(),
        media_type: if c.media_type == "CAROUSEL" {
            "CAROUSEL_ALBUM".into()
        } else if c.media_type == "REELS" {
            "VIDEO".into()
        } else {
            c.media_type.clone()
        },
        caption: c.caption.clone(),
        permalink,
        timestamp: s.config.clock.now(),
        children: c.children.len(),
    });
    if let Some(c) = inner.containers.get_mut(&creation) {
        c.status_code = "PUBLISHED".into();
    }
    ok(json!({ "id": id }))
}

fn ig_list(s: &Arc<Shared>) -> Response {
    let inner = s.lock();
    let data: Vec<Value> = inner
        .media
        .iter()
        .rev()
        .map(|m| {
            json!({"id": m.id, "caption": m.caption, "timestamp": graph_time(m.timestamp),
                   "permalink": m.permalink, "media_type": m.media_type})
        })
        .collect();
    ok(json!({ "data": data }))
}

fn node(s: &Arc<Shared>, id: &str, p: &Params) -> Response {
    let mut inner = s.lock();
    if let Some(c) = inner.containers.get_mut(id) {
        if c.status_code == "IN_PROGRESS" {
            if c.polls_left > 0 {
                c.polls_left -= 1;
            }
            if c.polls_left == 0 {
                c.status_code = "FINISHED".into();
                return ok(
                    json!({ "status_code": "IN_PROGRESS", "status": "In Progress", "id": id }),
                );
            }
            return ok(json!({ "status_code": "IN_PROGRESS", "status": "In Progress", "id": id }));
        }
        let status = match c.status_code.as_str() {
            "ERROR" => "Error: 2207026",
            "FINISHED" => "Finished",
            "PUBLISHED" => "Published",
            other => other,
        };
        return ok(json!({ "status_code": c.status_code, "status": status, "id": id }));
    }
    if let Some(m) = inner.media.iter().find(|m| m.id == id) {
        return ok(json!({
            "id": m.id, "permalink": m.permalink, "caption": m.caption,
            "timestamp": graph_time(m.timestamp), "media_type": m.media_type,
            "shortcode": m.permalink.trim_end_matches('/').rsplit('/').next().unwrap_or(""),
        }));
    }
    if let Some(v) = inner.videos.values().find(|v| v.id == id) {
        let (video_status, publishing) = if v.finished {
            ("ready", "complete")
        } else {
            ("upload_complete", "not_started")
        };
        return ok(json!({
            "id": v.id,
            "permalink_url": format!("/{}/videos/{}/", s.config.page_id, v.id),
            "status": {
                "video_status": video_status,
                "uploading_phase": {"status": "complete", "bytes_transfered": v.received.len()},
                "processing_phase": {"status": "complete"},
                "publishing_phase": {"status": publishing,
                    "publish_status": if v.finished { "published" } else { "draft" }}
            }
        }));
    }
    if let Some(post) = inner.posts.iter().find(|post| post.id == id) {
        return ok(json!({
            "id": post.id, "message": post.message,
            "created_time": graph_time(post.created_time),
            "permalink_url": format!("https://www.facebook.com/{}", post.id),
        }));
    }
    let _ = p;
    graph_error(
        400,
        100,
        Some(33),
        &format!("Unsupported get request. Object with ID '{id}' does not exist"),
    )
}

/// One part of a multipart body.
struct Part {
    name: String,
    filename: Option<String>,
    data: Vec<u8>,
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    (from..=hay.len() - needle.len()).find(|&i| &hay[i..i + needle.len()] == needle)
}

/// A small `multipart/form-data` reader (RFC 7578), enough for a fake.
fn parse_multipart(content_type: &str, body: &[u8]) -> Option<Vec<Part>> {
    let boundary = content_type
        .split(';')
        .find_map(|p| p.trim().strip_prefix("boundary="))?
        .trim_matches('"');
    let delim = format!("--{boundary}").into_bytes();
    let next_delim = format!("\r\n--{boundary}").into_bytes();
    let mut pos = find(body, &delim, 0)? + delim.len();
    let mut parts = Vec::new();
    loop {
        if body.get(pos..pos + 2) == Some(b"--") {
            return Some(parts);
        }
        if body.get(pos..pos + 2) != Some(b"\r\n") {
            return None;
        }
        pos += 2;
        let head_end = find(body, b"\r\n\r\n", pos)?;
        let head = String::from_utf8_lossy(&body[pos..head_end]).into_owned();
        let data_start = head_end + 4;
        let data_end = find(body, &next_delim, data_start)?;
        let mut name = None;
        let mut filename = None;
        for line in head.split("\r\n") {
            let (k, v) = line.split_once(':')?;
            if k.trim().eq_ignore_ascii_case("content-disposition") {
                for attr in v.split(';') {
                    let attr = attr.trim();
                    if let Some(n) = attr.strip_prefix("name=") {
                        name = Some(n.trim_matches('"').to_string());
                    } else if let Some(f) = attr.strip_prefix("filename=") {
                        filename = Some(f.trim_matches('"').to_string());
                    }
                }
            }
        }
        parts.push(Part {
            name: name?,
            filename,
            data: body[data_start..data_end].to_vec(),
        });
        pos = data_end + next_delim.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_reader() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"caption\"\r\n\r\nSalam \xd8\xb3\r\n--XyZ\r\nContent-Disposition: form-data; name=\"source\"; filename=\"a.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n\xff\xd8\xff\r\n\x00\r\n--XyZ--\r\n";
        let parts = parse_multipart("multipart/form-data; boundary=XyZ", body).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name, "caption");
        assert_eq!(parts[0].data, "Salam س".as_bytes());
        assert_eq!(parts[1].filename.as_deref(), Some("a.jpg"));
        assert_eq!(parts[1].data, b"\xff\xd8\xff\r\n\x00");
        assert!(parse_multipart("multipart/form-data; boundary=XyZ", b"garbage").is_none());
    }

    #[test]
    fn hashtags_are_counted() {
        assert_eq!(count_hashtags("#a #b # c#d #مهاجرين"), 3);
    }
}
