//! A fake LinkedIn Posts, Images and Videos API on 127.0.0.1, strict where
//! the real one is and answering with its shapes (`docs/platforms/linkedin.md`).
//!
//! - Every `/rest/*` call needs `Authorization: Bearer <token>` (401 with
//!   LinkedIn's `EXPIRED_ACCESS_TOKEN` / `65600` bodies otherwise),
//!   `LinkedIn-Version` equal to the configured one (missing → 400, other →
//!   426 `NONEXISTENT_VERSION`) and `X-Restli-Protocol-Version: 2.0.0`.
//! - `POST /rest/posts`: the required fields (422 `ERROR :: /field :: ...`),
//!   the author must be the configured organization (403), commentary of at
//!   most 3,000 characters, media that exist, belong to the author and are
//!   `AVAILABLE`; 201 with an empty body and `x-restli-id`. The same
//!   commentary twice gets `422 "Content is a duplicate of urn:li:share:…"`.
//! - Images: `initializeUpload` → `uploadUrl` on this server, one `PUT`.
//! - Videos: `initializeUpload` with `fileSizeBytes` → parts of
//!   [`FakeLinkedinConfig::part_size`], each `PUT` must carry exactly its
//!   bytes and gets an `ETag`; `finalizeUpload` needs every ETag in order.
//! - Media turn `AVAILABLE` after [`FakeLinkedinConfig::processing_polls`]
//!   status reads (`GET /rest/images/{urn}`, `/rest/videos/{urn}`, URNs
//!   percent-encoded).
//! - `POST /rest/socialActions/{urn}/comments`.
//! - Faults ([`Fault`]) for the next request to an endpoint.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::Running;

/// How the fake behaves.
#[derive(Debug, Clone)]
pub struct FakeLinkedinConfig {
    /// The only accepted `LinkedIn-Version`.
    pub version: String,
    /// The organization the token may post as.
    pub organization: String,
    /// The accepted access token.
    pub token: String,
    /// Bytes per video part (LinkedIn: 4 MiB).
    pub part_size: u64,
    /// Status reads answering `PROCESSING` before `AVAILABLE`.
    pub processing_polls: u32,
}

impl Default for FakeLinkedinConfig {
    fn default() -> Self {
        FakeLinkedinConfig {
            // The `LinkedIn-Version` (YYYYMM) the fake serves
            // (`docs/platforms/linkedin.md`).
            version: "202606".into(),
            organization: "urn:li:organization:2414183".into(),
            token: "AQX-fake-linkedin-token-0123456789".into(),
            part_size: 4 * 1024 * 1024,
            processing_polls: 0,
        }
    }
}

/// The endpoint a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Posts,
    ImagesInit,
    ImageUpload,
    VideosInit,
    VideoPart,
    VideosFinalize,
    MediaStatus,
    Comments,
    Any,
}

/// What the fake does instead of (or after) answering normally.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answers this status and JSON body (and headers) without doing anything.
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
    fn body(status: u16, code: Option<&str>, service: Option<i64>, message: &str) -> Fault {
        let mut body = json!({ "status": status, "message": message });
        if let Some(c) = code {
            body["code"] = json!(c);
        }
        if let Some(s) = service {
            body["serviceErrorCode"] = json!(s);
        }
        Fault::Error {
            status,
            body,
            headers: Vec::new(),
        }
    }

    /// 429 as LinkedIn sends it (no rate-limit headers are documented).
    pub fn rate_limited() -> Fault {
        Fault::body(
            429,
            None,
            None,
            "Resource level throttle APPLICATION DAY limit for calls to this resource is reached.",
        )
    }

    /// 401 `EXPIRED_ACCESS_TOKEN` (65602).
    pub fn token_expired() -> Fault {
        Fault::body(
            401,
            Some("EXPIRED_ACCESS_TOKEN"),
            Some(65602),
            "The token used in the request has expired",
        )
    }

    /// 403: the member may not post as the organization.
    pub fn forbidden() -> Fault {
        Fault::body(
            403,
            None,
            Some(100),
            "Not enough permissions to access: partnerApiPostsExternal.CREATE.20260601",
        )
    }

    /// 500.
    pub fn server_error() -> Fault {
        Fault::body(500, None, None, "Internal Server Error")
    }

    /// 422 with a message.
    pub fn unprocessable(message: &str) -> Fault {
        Fault::body(422, None, None, message)
    }
}

/// A post received.
#[derive(Debug, Clone)]
pub struct LiPost {
    pub urn: String,
    pub author: String,
    /// The commentary as sent (little text, escaped).
    pub commentary: String,
    /// The whole body.
    pub body: Value,
}

/// An uploaded image or video.
#[derive(Debug, Clone)]
pub struct LiMedia {
    pub urn: String,
    pub owner: String,
    pub size: u64,
    /// SHA-256 (hex) of the bytes received, once complete.
    pub sha256: Option<String>,
    pub status: String,
    pub polls_left: u32,
    /// Video parts: (first, last, bytes received, etag).
    pub parts: Vec<(u64, u64, Option<Vec<u8>>, String)>,
    pub upload_token: String,
    pub finalized: bool,
    pub puts: u32,
}

/// A comment received.
#[derive(Debug, Clone)]
pub struct LiComment {
    pub urn: String,
    pub on: String,
    pub actor: String,
    pub text: String,
}

/// One request, without its token.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    pub version: Option<String>,
    pub restli: Option<String>,
    pub bearer: bool,
    /// The `Host` it was sent to (which listener, when uploads are elsewhere).
    pub host: Option<String>,
}

#[derive(Default)]
struct Inner {
    counter: u64,
    posts: Vec<LiPost>,
    media: HashMap<String, LiMedia>,
    /// upload path → media urn (and part index for videos)
    uploads: HashMap<String, (String, Option<usize>)>,
    comments: Vec<LiComment>,
    requests: Vec<Recorded>,
    faults: Vec<(Endpoint, Fault)>,
    tokens: Vec<String>,
}

struct Shared {
    config: FakeLinkedinConfig,
    inner: Mutex<Inner>,
    base: Mutex<String>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running fake LinkedIn API. Dropping it stops the server.
pub struct FakeLinkedin {
    running: Running,
    shared: Arc<Shared>,
    /// A second listener for upload URLs, when they are handed out on
    /// another origin ([`FakeLinkedin::upload_elsewhere`]).
    uploads: Option<Running>,
}

impl FakeLinkedin {
    /// Starts the fake on a free port.
    pub async fn start(config: FakeLinkedinConfig) -> std::io::Result<FakeLinkedin> {
        let inner = Inner {
            tokens: vec![config.token.clone()],
            ..Inner::default()
        };
        let shared = Arc::new(Shared {
            config,
            inner: Mutex::new(inner),
            base: Mutex::new(String::new()),
        });
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let running = crate::serve(app).await?;
        *shared.base.lock().unwrap_or_else(|p| p.into_inner()) = running.url();
        Ok(FakeLinkedin {
            running,
            shared,
            uploads: None,
        })
    }

    /// Hands out upload URLs on a second listener (another port, so another
    /// origin than the account's `base_url`), as LinkedIn does on
    /// `www.linkedin.com`; that listener is the same fake. Its URL.
    pub async fn upload_elsewhere(&mut self) -> std::io::Result<String> {
        let app = Router::new()
            .fallback(handle)
            .with_state(self.shared.clone());
        let running = crate::serve(app).await?;
        let url = running.url();
        *self.shared.base.lock().unwrap_or_else(|p| p.into_inner()) = url.clone();
        self.uploads = Some(running);
        Ok(url)
    }

    /// `http://127.0.0.1:PORT`: the account's `base_url`.
    pub fn url(&self) -> String {
        self.running.url()
    }

    /// The configuration.
    pub fn config(&self) -> &FakeLinkedinConfig {
        &self.shared.config
    }

    /// Makes the next request to `endpoint` fail with `fault`.
    pub fn fail_next(&self, endpoint: Endpoint, fault: Fault) {
        self.shared.lock().faults.push((endpoint, fault));
    }

    /// Only `token` is accepted from now on (the old one has expired).
    pub fn rotate_token(&self, token: &str) {
        self.shared.lock().tokens = vec![token.to_string()];
    }

    /// Posts received, oldest first.
    pub fn posts(&self) -> Vec<LiPost> {
        self.shared.lock().posts.clone()
    }

    /// Every image and video.
    pub fn media(&self) -> Vec<LiMedia> {
        self.shared.lock().media.values().cloned().collect()
    }

    /// Comments received.
    pub fn comments(&self) -> Vec<LiComment> {
        self.shared.lock().comments.clone()
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.lock().requests.clone()
    }
}

fn answer(status: u16, body: Option<Value>, headers: &[(String, String)]) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = match body {
        Some(b) => (status, axum::Json(b)).into_response(),
        None => status.into_response(),
    };
    let h = resp.headers_mut();
    h.insert(
        "x-li-fabric",
        axum::http::HeaderValue::from_static("prod-lva1"),
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

fn error(status: u16, code: Option<&str>, message: &str) -> Response {
    let mut body = json!({ "status": status, "message": message });
    if let Some(c) = code {
        body["code"] = json!(c);
    }
    answer(status, Some(body), &[])
}

fn drop_connection() -> ! {
    std::panic::resume_unwind(Box::new("fake linkedin: dropping the connection"))
}

fn decode_urn(segment: &str) -> Option<String> {
    if !segment.contains("%3A") && !segment.contains("%3a") {
        return None;
    }
    Some(segment.replace("%3A", ":").replace("%3a", ":"))
}

async fn handle(
    State(s): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let query = uri.query().unwrap_or("").to_string();
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let bearer = h("authorization").and_then(|a| a.strip_prefix("Bearer ").map(str::to_string));
    s.lock().requests.push(Recorded {
        method: method.to_string(),
        path: path.clone(),
        query: query.clone(),
        version: h("linkedin-version"),
        restli: h("x-restli-protocol-version"),
        bearer: bearer.is_some(),
        host: h("host"),
    });
    let upload = path.starts_with("/dms-uploads/");
    if !upload {
        match h("linkedin-version") {
            None => {
                return error(
                    400,
                    Some("VERSION_MISSING"),
                    "A version must be present. Please specify a version by adding the LinkedIn-Version header.",
                );
            }
            Some(v) if v != s.config.version => {
                return error(
                    426,
                    Some("NONEXISTENT_VERSION"),
                    &format!("Requested version {v} is not active"),
                );
            }
            _ => {}
        }
        if h("x-restli-protocol-version").as_deref() != Some("2.0.0") {
            return error(
                400,
                None,
                "X-Restli-Protocol-Version 2.0.0 is required for this endpoint",
            );
        }
    }
    let token_ok = |t: &str| s.lock().tokens.iter().any(|k| k == t);
    match &bearer {
        None if !upload => {
            return answer(
                401,
                Some(
                    json!({"status":401,"serviceErrorCode":401,"message":"Empty oauth2_access_token"}),
                ),
                &[],
            );
        }
        Some(t) if !token_ok(t) => {
            let Fault::Error { body, .. } = Fault::token_expired() else {
                unreachable!()
            };
            return answer(401, Some(body), &[]);
        }
        _ => {}
    }
    let json_body = || serde_json::from_slice::<Value>(&body).ok();
    let endpoint = match (&method, path.as_str(), query.as_str()) {
        (&Method::POST, "/rest/posts", _) => Endpoint::Posts,
        (&Method::POST, "/rest/images", "action=initializeUpload") => Endpoint::ImagesInit,
        (&Method::POST, "/rest/videos", "action=initializeUpload") => Endpoint::VideosInit,
        (&Method::POST, "/rest/videos", "action=finalizeUpload") => Endpoint::VideosFinalize,
        (&Method::PUT, p, _) if p.starts_with("/dms-uploads/image/") => Endpoint::ImageUpload,
        (&Method::PUT, p, _) if p.starts_with("/dms-uploads/video/") => Endpoint::VideoPart,
        (&Method::GET, p, _)
            if p.starts_with("/rest/images/") || p.starts_with("/rest/videos/") =>
        {
            Endpoint::MediaStatus
        }
        (&Method::POST, p, _) if p.starts_with("/rest/socialActions/") => Endpoint::Comments,
        _ => Endpoint::Any,
    };
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
        }) => return answer(status, Some(body), &headers),
        Some(Fault::DropBefore) => drop_connection(),
        Some(Fault::DropAfter) => true,
        None => false,
    };
    let resp = match endpoint {
        Endpoint::Posts => match json_body() {
            Some(b) => posts(&s, b),
            None => bad_json(),
        },
        Endpoint::ImagesInit | Endpoint::VideosInit => match json_body() {
            Some(b) => init(&s, b, endpoint == Endpoint::VideosInit),
            None => bad_json(),
        },
        Endpoint::VideosFinalize => match json_body() {
            Some(b) => finalize(&s, b),
            None => bad_json(),
        },
        Endpoint::ImageUpload | Endpoint::VideoPart => put(&s, &path, &body),
        Endpoint::MediaStatus => status(&s, &path),
        Endpoint::Comments => match json_body() {
            Some(b) => comment(&s, &path, b),
            None => bad_json(),
        },
        Endpoint::Any => error(404, None, &format!("No route for {method} {path}")),
    };
    if drop_after {
        drop_connection();
    }
    resp
}

fn bad_json() -> Response {
    error(
        400,
        Some("ILLEGAL_ARGUMENT"),
        "Request body could not be converted to data map",
    )
}

fn next(inner: &mut Inner) -> u64 {
    inner.counter += 1;
    inner.counter
}

fn posts(s: &Arc<Shared>, b: Value) -> Response {
    for field in [
        "author",
        "commentary",
        "visibility",
        "distribution",
        "lifecycleState",
    ] {
        if b.get(field).is_none() {
            return error(
                422,
                None,
                &format!(
                    "ERROR :: /{field} :: field is required but not found and has no default value"
                ),
            );
        }
    }
    let author = b["author"].as_str().unwrap_or("").to_string();
    if author != s.config.organization {
        return Fault::forbidden().into_response_parts();
    }
    let commentary = b["commentary"].as_str().unwrap_or("").to_string();
    if commentary.chars().count() > 3000 {
        return error(
            422,
            Some("FIELD_LENGTH_TOO_LONG"),
            "ERROR :: /commentary :: length of commentary exceeds 3000",
        );
    }
    if b["distribution"]["feedDistribution"].as_str().is_none() {
        return error(
            422,
            None,
            "ERROR :: /distribution/feedDistribution :: field is required but not found and has no default value",
        );
    }
    let mut refs = Vec::new();
    if let Some(id) = b["content"]["media"]["id"].as_str() {
        refs.push(id.to_string());
    }
    if let Some(list) = b["content"]["multiImage"]["images"].as_array() {
        if !(2..=20).contains(&list.len()) {
            return error(
                422,
                None,
                "ERROR :: /content/multiImage/images :: must have between 2 and 20 images",
            );
        }
        refs.extend(
            list.iter()
                .filter_map(|i| i["id"].as_str().map(str::to_string)),
        );
    }
    let mut inner = s.lock();
    for r in &refs {
        match inner.media.get(r) {
            Some(m) if m.owner == author && m.status == "AVAILABLE" => {}
            Some(m) if m.status != "AVAILABLE" => {
                return error(
                    422,
                    Some("MEDIA_ASSET_WAITING_UPLOAD"),
                    &format!("Media {r} is not ready ({})", m.status),
                );
            }
            _ => {
                return error(
                    422,
                    None,
                    &format!("ERROR :: /content/media/id :: {r} is not a media of the author"),
                );
            }
        }
    }
    if let Some(existing) = inner
        .posts
        .iter()
        .find(|p| p.author == author && p.commentary == commentary)
    {
        return error(
            422,
            Some("DUPLICATE_POST"),
            &format!("Content is a duplicate of {}", existing.urn),
        );
    }
    let n = next(&mut inner);
    let urn = format!("urn:li:share:74298624752795{n:05}");
    inner.posts.push(LiPost {
        urn: urn.clone(),
        author,
        commentary,
        body: b,
    });
    answer(201, None, &[("x-restli-id".to_string(), urn)])
}

impl Fault {
    fn into_response_parts(self) -> Response {
        match self {
            Fault::Error {
                status,
                body,
                headers,
            } => answer(status, Some(body), &headers),
            _ => error(500, None, "fault"),
        }
    }
}

fn init(s: &Arc<Shared>, b: Value, video: bool) -> Response {
    let req = &b["initializeUploadRequest"];
    let Some(owner) = req["owner"].as_str() else {
        return error(
            422,
            None,
            "ERROR :: /initializeUploadRequest/owner :: field is required but not found and has no default value",
        );
    };
    if owner != s.config.organization {
        return error(
            403,
            None,
            "Accessing this video resource is forbidden. Please check your permissions for this resource",
        );
    }
    let base = s.base.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let mut inner = s.lock();
    let n = next(&mut inner);
    let polls = s.config.processing_polls;
    if !video {
        let urn = format!("urn:li:image:C4E10AQFoyy{n:05}");
        let path = format!("/dms-uploads/image/{n}");
        inner.uploads.insert(path.clone(), (urn.clone(), None));
        inner.media.insert(
            urn.clone(),
            LiMedia {
                urn: urn.clone(),
                owner: owner.into(),
                size: 0,
                sha256: None,
                status: "WAITING_UPLOAD".into(),
                polls_left: polls,
                parts: Vec::new(),
                upload_token: String::new(),
                finalized: false,
                puts: 0,
            },
        );
        return answer(
            200,
            Some(json!({"value": {
                "uploadUrlExpiresAt": 1_798_000_000_000u64,
                "uploadUrl": format!("{base}{path}"),
                "image": urn
            }})),
            &[],
        );
    }
    let Some(size) = req["fileSizeBytes"].as_u64().filter(|s| *s > 0) else {
        return error(
            422,
            None,
            "ERROR :: /initializeUploadRequest/fileSizeBytes :: field is required",
        );
    };
    let urn = format!("urn:li:video:C5F10AQGKQg{n:05}");
    let part = s.config.part_size.max(1);
    let mut parts = Vec::new();
    let mut instructions = Vec::new();
    let mut first = 0;
    let mut i = 0;
    while first < size {
        let last = (first + part).min(size) - 1;
        let path = format!("/dms-uploads/video/{n}/{i}");
        inner.uploads.insert(path.clone(), (urn.clone(), Some(i)));
        instructions.push(
            json!({"uploadUrl": format!("{base}{path}"), "firstByte": first, "lastByte": last}),
        );
        parts.push((first, last, None, format!("etag-{n}-{i}")));
        first = last + 1;
        i += 1;
    }
    let token = format!("tok{n}");
    inner.media.insert(
        urn.clone(),
        LiMedia {
            urn: urn.clone(),
            owner: owner.into(),
            size,
            sha256: None,
            status: "WAITING_UPLOAD".into(),
            polls_left: polls,
            parts,
            upload_token: token.clone(),
            finalized: false,
            puts: 0,
        },
    );
    answer(
        200,
        Some(json!({"value": {
            "uploadUrlsExpireAt": 1_798_000_000_000u64,
            "video": urn,
            "uploadInstructions": instructions,
            "uploadToken": token
        }})),
        &[],
    )
}

fn put(s: &Arc<Shared>, path: &str, body: &[u8]) -> Response {
    let mut inner = s.lock();
    let Some((urn, part)) = inner.uploads.get(path).cloned() else {
        return error(404, None, "Unknown upload URL");
    };
    let Some(m) = inner.media.get_mut(&urn) else {
        return error(404, None, "Unknown upload URL");
    };
    m.puts += 1;
    match part {
        None => {
            if body.is_empty() {
                return error(400, None, "Empty upload");
            }
            m.size = body.len() as u64;
            m.sha256 = Some(hex::encode(Sha256::digest(body)));
            m.status = if m.polls_left == 0 {
                "AVAILABLE".into()
            } else {
                "PROCESSING".into()
            };
            answer(201, None, &[])
        }
        Some(i) => {
            let Some((first, last, data, etag)) = m.parts.get_mut(i) else {
                return error(404, None, "Unknown upload part");
            };
            if body.len() as u64 != *last - *first + 1 {
                return error(
                    400,
                    None,
                    &format!(
                        "Part {i} must have {} bytes, got {}",
                        *last - *first + 1,
                        body.len()
                    ),
                );
            }
            *data = Some(body.to_vec());
            let etag = format!("\"{etag}\"");
            answer(200, None, &[("etag".to_string(), etag)])
        }
    }
}

fn finalize(s: &Arc<Shared>, b: Value) -> Response {
    let req = &b["finalizeUploadRequest"];
    let urn = req["video"].as_str().unwrap_or("");
    let mut inner = s.lock();
    let Some(m) = inner.media.get_mut(urn) else {
        return error(
            422,
            None,
            "ERROR :: /finalizeUploadRequest/video :: unknown video",
        );
    };
    if req["uploadToken"].as_str() != Some(m.upload_token.as_str()) {
        return error(400, None, "The uploadToken does not match the upload");
    }
    let ids: Vec<&str> = req["uploadedPartIds"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let expected: Vec<&str> = m.parts.iter().map(|p| p.3.as_str()).collect();
    if ids != expected || m.parts.iter().any(|p| p.2.is_none()) {
        return error(
            400,
            None,
            "The uploadedPartIds do not match the uploaded parts",
        );
    }
    let mut all = Vec::new();
    for p in &m.parts {
        all.extend_from_slice(p.2.as_deref().unwrap_or_default());
    }
    m.sha256 = Some(hex::encode(Sha256::digest(&all)));
    m.finalized = true;
    m.status = if m.polls_left == 0 {
        "AVAILABLE".into()
    } else {
        "PROCESSING".into()
    };
    answer(200, None, &[])
}

fn status(s: &Arc<Shared>, path: &str) -> Response {
    let segment = path.rsplit('/').next().unwrap_or("");
    let Some(urn) = decode_urn(segment) else {
        return error(
            400,
            None,
            "The URN in the path must be percent-encoded (urn%3Ali%3A...)",
        );
    };
    let mut inner = s.lock();
    let Some(m) = inner.media.get_mut(&urn) else {
        return error(404, None, &format!("{urn} not found"));
    };
    if m.status == "PROCESSING" {
        if m.polls_left > 0 {
            m.polls_left -= 1;
        }
        if m.polls_left == 0 {
            m.status = "AVAILABLE".into();
        }
        return answer(200, Some(json!({"id": urn, "status": "PROCESSING"})), &[]);
    }
    answer(200, Some(json!({"id": urn, "status": m.status})), &[])
}

fn comment(s: &Arc<Shared>, path: &str, b: Value) -> Response {
    let segment = path
        .trim_start_matches("/rest/socialActions/")
        .trim_end_matches("/comments");
    let Some(on) = decode_urn(segment) else {
        return error(400, None, "The URN in the path must be percent-encoded");
    };
    let mut inner = s.lock();
    if !inner.posts.iter().any(|p| p.urn == on) {
        return error(404, None, &format!("{on} not found"));
    }
    if b["object"].as_str() != Some(on.as_str()) {
        return error(
            422,
            None,
            "ERROR :: /object :: must be the post commented on",
        );
    }
    let (Some(actor), Some(text)) = (b["actor"].as_str(), b["message"]["text"].as_str()) else {
        return error(
            422,
            None,
            "ERROR :: /actor or /message/text :: field is required",
        );
    };
    let n = next(&mut inner);
    let urn = format!("urn:li:comment:(urn:li:activity:{n},{n}0)");
    inner.comments.push(LiComment {
        urn: urn.clone(),
        on,
        actor: actor.into(),
        text: text.into(),
    });
    answer(201, None, &[("x-restli-id".to_string(), urn)])
}
