//! A fake AT Protocol PDS on 127.0.0.1 (sessions, blobs, post records with
//! caller-chosen keys), as strict as the reference PDS and stricter where a
//! mistake would only show in the app (facet byte offsets, reply refs).
//!
//! Behaviour follows `docs/platforms/bluesky.md` and what the
//! reference PDS (`@atproto/pds` 0.5.35) answered here:
//!
//! - `createSession` (handle or DID + app password; wrong ⇒ `401
//!   AuthenticationRequired`), `refreshSession` (Bearer refresh JWT; both
//!   tokens rotate, the old refresh token is revoked ⇒ `400 ExpiredToken`).
//! - Every other write needs `Authorization: Bearer <access JWT>`: missing ⇒
//!   `401 AuthMissing`, unknown ⇒ `400 InvalidToken`, expired ⇒
//!   `400 ExpiredToken` (a 400, not a 401, as the PDS does).
//! - `uploadBlob`: a content type is required, the body is limited (default
//!   5 MiB as a self-hosted PDS; over ⇒ `413 PayloadTooLarge`); answers the
//!   blob object.
//! - `createRecord`: JSON body; `repo` must be the session's DID or handle,
//!   `collection` `app.bsky.feed.post`, `rkey` a TID, the record's `$type`
//!   the collection, `createdAt` an RFC 3339 instant, text within 300
//!   graphemes and 3,000 bytes, `langs` at most 3, facets sorted, not
//!   overlapping, on character boundaries and landing on the right text
//!   (`#tag`, the link's URL, `@handle` of the mentioned DID), at most 4
//!   images with `alt` and blobs that were uploaded (else `400 BlobNotFound`),
//!   replies pointing at existing records with their cids. A second record at
//!   an existing key ⇒ `500 InternalServerError`, as the PDS answers.
//! - `getRecord` (`400 RecordNotFound`), `listRecords`, `resolveHandle`
//!   (`400 HandleNotFound`).
//! - The video service on the same host: `getServiceAuth` (a service token),
//!   `app.bsky.video.uploadVideo` (that token, `video/mp4`, answers a bare
//!   JobStatus) and `getJobStatus` (wrapped in `jobStatus`, "encoding" a set
//!   number of times, then the blob; or `JOB_STATE_FAILED` on demand).
//! - `RateLimit-*` headers on writes; fault knobs: 429 with the real headers,
//!   5xx, a write that succeeds but answers 500, a slow answer, expired
//!   tokens, revoked refresh tokens, a changed app password.

// Handlers answer `Result<_, Response>`: the error is the answer itself.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine as _;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use unicode_segmentation::UnicodeSegmentation;

use crate::Running;

/// How the fake PDS is set up.
#[derive(Debug, Clone)]
pub struct FakeBlueskyConfig {
    pub handle: String,
    pub did: String,
    /// The app password `createSession` accepts.
    pub password: String,
    /// Largest blob accepted (bytes).
    pub blob_limit: usize,
    /// Other accounts `resolveHandle` knows: handle → DID.
    pub known_handles: BTreeMap<String, String>,
    /// Writes allowed per window before 429 (`RateLimit-Remaining`).
    pub write_budget: u64,
}

impl Default for FakeBlueskyConfig {
    fn default() -> Self {
        FakeBlueskyConfig {
            handle: "oim-maroc.bsky.social".into(),
            did: "did:plc:u5cwb2mwiv2bfq53cjufe6yn".into(),
            password: "abcd-efgh-ijkl-mnop".into(),
            blob_limit: 5 * 1024 * 1024,
            known_handles: BTreeMap::from([(
                "unhcr.org".to_string(),
                "did:plc:unhcrunhcrunhcrunhcrunhc".to_string(),
            )]),
            write_budget: 5000,
        }
    }
}

/// A stored post record.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRecord {
    pub rkey: String,
    pub uri: String,
    pub cid: String,
    pub value: Value,
}

/// A stored blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBlob {
    pub cid: String,
    pub mime: String,
    pub size: usize,
}

/// One request the fake received (never a secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// The XRPC method (NSID).
    pub nsid: String,
    pub status: u16,
    /// The XRPC error name of a refusal.
    pub error: Option<String>,
}

/// A fault to answer instead of (or after) handling a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer this status with the real error body (429 carries the
    /// `RateLimit-*` and `Retry-After` headers), without handling the request.
    Status(u16),
    /// Handle the request (a record is written) then answer 500, as if the
    /// PDS failed after its commit.
    FailAfterWrite,
    /// Handle the request, then wait this long before answering.
    SlowAfterWrite(Duration),
}

struct Session {
    did: String,
    expired: bool,
}

#[derive(Default)]
struct Inner {
    url: String,
    password: String,
    counter: u64,
    access: HashMap<String, Session>,
    refresh: HashMap<String, bool>,
    records: Vec<StoredRecord>,
    blobs: HashMap<String, StoredBlob>,
    requests: Vec<Recorded>,
    faults: HashMap<String, Vec<Option<Fault>>>,
    remaining: u64,
    sessions_created: u32,
    refreshes: u32,
    /// Service tokens issued by `getServiceAuth`.
    service_tokens: Vec<String>,
    /// Video jobs by id.
    jobs: HashMap<String, VideoJob>,
    /// `getJobStatus` answers "encoding" this many times before the blob.
    video_polls: u32,
    /// The next this-many video jobs fail.
    failing_jobs: u32,
}

struct VideoJob {
    blob: StoredBlob,
    polls_left: u32,
    fails: bool,
}

struct Shared {
    config: FakeBlueskyConfig,
    inner: Mutex<Inner>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running fake PDS. Dropping it stops the server.
pub struct FakeBluesky {
    running: Running,
    shared: Arc<Shared>,
}

/// The collection of posts, the only one this fake stores.
const POSTS: &str = "app.bsky.feed.post";

impl FakeBluesky {
    /// Starts a fake PDS on a free port of 127.0.0.1.
    pub async fn start(config: FakeBlueskyConfig) -> std::io::Result<FakeBluesky> {
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                password: config.password.clone(),
                remaining: config.write_budget,
                video_polls: 1,
                ..Inner::default()
            }),
            config,
        });
        let app = Router::new()
            .route("/xrpc/{nsid}", get(query_route).post(procedure_route))
            .with_state(shared.clone());
        let running = crate::serve(app).await?;
        shared.lock().url = running.url();
        Ok(FakeBluesky { running, shared })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.running.url()
    }

    /// The account's DID.
    pub fn did(&self) -> &str {
        &self.shared.config.did
    }

    /// Every post record, in creation order.
    pub fn records(&self) -> Vec<StoredRecord> {
        self.shared.lock().records.clone()
    }

    /// Every uploaded blob.
    pub fn blobs(&self) -> Vec<StoredBlob> {
        self.shared.lock().blobs.values().cloned().collect()
    }

    /// Every request, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.lock().requests.clone()
    }

    /// How many requests of one method were received.
    pub fn count(&self, nsid: &str) -> usize {
        self.shared
            .lock()
            .requests
            .iter()
            .filter(|r| r.nsid == nsid)
            .count()
    }

    /// How many sessions `createSession` made.
    pub fn sessions_created(&self) -> u32 {
        self.shared.lock().sessions_created
    }

    /// How many times `refreshSession` rotated tokens.
    pub fn refreshes(&self) -> u32 {
        self.shared.lock().refreshes
    }

    /// Queues a fault for the next request of `nsid` (several queue in order).
    pub fn fail_next(&self, nsid: &str, fault: Fault) {
        self.shared
            .lock()
            .faults
            .entry(nsid.to_string())
            .or_default()
            .push(Some(fault));
    }

    /// Lets the next request of `nsid` through before the queued faults
    /// (to fail, say, the third `createRecord` of a thread).
    pub fn pass_next(&self, nsid: &str) {
        self.shared
            .lock()
            .faults
            .entry(nsid.to_string())
            .or_default()
            .push(None);
    }

    /// Every access token issued so far is now expired.
    pub fn expire_access_tokens(&self) {
        for s in self.shared.lock().access.values_mut() {
            s.expired = true;
        }
    }

    /// Every refresh token issued so far is now revoked.
    pub fn revoke_refresh_tokens(&self) {
        for v in self.shared.lock().refresh.values_mut() {
            *v = false;
        }
    }

    /// The app password changes (the old one is revoked).
    pub fn set_password(&self, password: &str) {
        self.shared.lock().password = password.to_string();
    }

    /// Sets how many writes are left before 429.
    pub fn set_remaining(&self, n: u64) {
        self.shared.lock().remaining = n;
    }

    /// `getJobStatus` answers "encoding" `n` times before a video is done.
    pub fn set_video_polls(&self, n: u32) {
        self.shared.lock().video_polls = n;
    }

    /// The next `n` video processing jobs end in `JOB_STATE_FAILED`.
    pub fn fail_video_jobs(&self, n: u32) {
        self.shared.lock().failing_jobs = n;
    }

    /// Deletes a record (as a person could in the app).
    pub fn delete_record(&self, rkey: &str) {
        self.shared.lock().records.retain(|r| r.rkey != rkey);
    }

    /// Forgets every blob (unreferenced blobs expire on a real PDS).
    pub fn forget_blobs(&self) {
        self.shared.lock().blobs.clear();
    }
}

/// An XRPC error answer.
fn xrpc_error(status: u16, error: &str, message: &str) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = (code, Json(json!({"error": error, "message": message}))).into_response();
    resp.extensions_mut().insert(ErrorName(error.to_string()));
    resp
}

/// The XRPC error name of an answer, for the request log.
#[derive(Clone)]
struct ErrorName(String);

fn status_name(status: u16) -> &'static str {
    match status {
        400 => "InvalidRequest",
        401 => "AuthenticationRequired",
        403 => "Forbidden",
        404 => "XRPCNotSupported",
        413 => "PayloadTooLarge",
        429 => "RateLimitExceeded",
        501 => "MethodNotImplemented",
        502 => "UpstreamFailure",
        503 => "NotEnoughResources",
        504 => "UpstreamTimeout",
        _ => "InternalServerError",
    }
}

/// Timestamp identifiers, the record keys of `app.bsky.feed.post`, as the AT
/// Protocol specifies them (`docs/platforms/bluesky.md`; atproto.com,
/// "Record Key" and "TID"): a 64-bit integer, top bit 0, then 53 bits of
/// microseconds since the Unix epoch and 10 bits of clock id, written
/// big-endian as 13 characters of the base32-sortable alphabet.
pub mod tid {
    /// The base32-sortable alphabet: a character's index is its 5-bit value.
    const ALPHABET: &str = "234567abcdefghijklmnopqrstuvwxyz";

    /// The TID of `micros` and `clock_id` (the clock id's low 10 bits).
    pub fn new(micros: u64, clock_id: u16) -> String {
        let micros = micros % (1 << 53);
        let mut value = (micros << 10) | u64::from(clock_id % 1024);
        let mut out = [b'2'; 13];
        for slot in out.iter_mut().rev() {
            *slot = ALPHABET.as_bytes()[(value % 32) as usize];
            value /= 32;
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    /// The integer of a TID, or `None` when `s` is not one: not 13
    /// characters, a character outside the alphabet, or a first character
    /// that would set the top bit (past `j`).
    pub fn parse(s: &str) -> Option<u64> {
        if s.len() != 13 {
            return None;
        }
        let mut value: u64 = 0;
        for (i, c) in s.chars().enumerate() {
            let digit = ALPHABET.find(c)? as u64;
            // 13 × 5 = 65 bits: the first character carries only 4.
            if i == 0 && digit >= 16 {
                return None;
            }
            value = value * 32 + digit;
        }
        Some(value)
    }
}

fn epoch_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The `RateLimit-*` headers of a write answer.
fn rate_headers(resp: &mut Response, limit: u64, remaining: u64) {
    let reset = epoch_now() + 3600;
    let h = resp.headers_mut();
    let mut put = |name: &'static str, v: String| {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(name, v);
        }
    };
    put("ratelimit-limit", limit.to_string());
    put("ratelimit-remaining", remaining.to_string());
    put("ratelimit-reset", reset.to_string());
    put("ratelimit-policy", format!("{limit};w=3600"));
}

fn too_many(limit: u64) -> Response {
    let mut resp = xrpc_error(429, "RateLimitExceeded", "Rate Limit Exceeded");
    rate_headers(&mut resp, limit, 0);
    resp.headers_mut()
        .insert("retry-after", HeaderValue::from_static("3600"));
    resp
}

/// A JWT-shaped token (unsigned; only its shape and `exp` matter to clients).
fn jwt(kind: &str, did: &str, n: u64, ttl: u64) -> String {
    let b64 = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let now = epoch_now();
    format!(
        "{}.{}.{}",
        b64(json!({"typ": kind, "alg": "HS256"})),
        b64(json!({"sub": did, "iat": now, "exp": now + ttl, "jti": n})),
        b64(json!(format!("fake-signature-{n}")))
    )
}

fn fake_cid(prefix: &str, bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    // base32-looking lower-case text, like real CIDs.
    let alphabet = b"abcdefghijklmnopqrstuvwxyz234567";
    let tail: String = digest
        .iter()
        .map(|b| alphabet[(*b & 31) as usize] as char)
        .collect();
    format!("{prefix}{tail}")
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
}

impl Shared {
    /// Records an answer and returns it.
    fn record(&self, nsid: &str, resp: Response) -> Response {
        let status = resp.status().as_u16();
        let error = resp.extensions().get::<ErrorName>().map(|e| e.0.clone());
        self.lock().requests.push(Recorded {
            nsid: nsid.to_string(),
            status,
            error,
        });
        resp
    }

    fn take_fault(&self, nsid: &str) -> Option<Fault> {
        let mut inner = self.lock();
        let queue = inner.faults.get_mut(nsid)?;
        if queue.is_empty() {
            None
        } else {
            queue.remove(0)
        }
    }

    /// The DID of a valid access token, or the error answer.
    fn check_access(&self, headers: &HeaderMap) -> Result<String, Response> {
        let Some(token) = bearer(headers) else {
            return Err(xrpc_error(401, "AuthMissing", "Authentication Required"));
        };
        let inner = self.lock();
        match inner.access.get(token) {
            None => Err(xrpc_error(
                400,
                "InvalidToken",
                "Token could not be verified",
            )),
            Some(s) if s.expired => Err(xrpc_error(400, "ExpiredToken", "Token has expired")),
            Some(s) => Ok(s.did.clone()),
        }
    }

    fn new_session(&self) -> Value {
        let mut inner = self.lock();
        inner.counter += 1;
        let n = inner.counter;
        let did = self.config.did.clone();
        let access = jwt("at+jwt", &did, n, 7200);
        let refresh = jwt("refresh+jwt", &did, n, 90 * 86400);
        inner.access.insert(
            access.clone(),
            Session {
                did: did.clone(),
                expired: false,
            },
        );
        inner.refresh.insert(refresh.clone(), true);
        let url = inner.url.clone();
        json!({
            "did": did,
            "handle": self.config.handle,
            "accessJwt": access,
            "refreshJwt": refresh,
            "didDoc": {
                "@context": ["https://www.w3.org/ns/did/v1"],
                "id": did,
                "alsoKnownAs": [format!("at://{}", self.config.handle)],
                "service": [{"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": url}],
            },
            "email": "comms@example.org",
            "emailConfirmed": true,
            "active": true,
        })
    }
}

async fn query_route(
    State(shared): State<Arc<Shared>>,
    Path(nsid): Path<String>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let resp = if let Some(Fault::Status(code)) = shared.take_fault(&nsid) {
        fault_answer(&shared, code)
    } else {
        match nsid.as_str() {
            "com.atproto.repo.getRecord" => get_record(&shared, &q),
            "com.atproto.repo.listRecords" => list_records(&shared, &q),
            "com.atproto.identity.resolveHandle" => resolve_handle(&shared, &q),
            "com.atproto.server.getServiceAuth" => service_auth(&shared, &headers, &q),
            "app.bsky.video.getJobStatus" => job_status(&shared, &q),
            "_health" => Json(json!({"version": "fake"})).into_response(),
            _ => xrpc_error(501, "MethodNotImplemented", "Method Not Implemented"),
        }
    };
    shared.record(&nsid, resp)
}

fn fault_answer(shared: &Shared, code: u16) -> Response {
    if code == 429 {
        too_many(shared.config.write_budget)
    } else if code >= 500 {
        xrpc_error(code, status_name(code), "Internal Server Error")
    } else {
        xrpc_error(code, status_name(code), "fault injected by the test")
    }
}

async fn procedure_route(
    State(shared): State<Arc<Shared>>,
    Path(nsid): Path<String>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let fault = shared.take_fault(&nsid);
    if let Some(Fault::Status(code)) = fault {
        let resp = fault_answer(&shared, code);
        return shared.record(&nsid, resp);
    }
    let resp = match nsid.as_str() {
        "com.atproto.server.createSession" => create_session(&shared, &headers, &body),
        "com.atproto.server.refreshSession" => refresh_session(&shared, &headers),
        "com.atproto.repo.uploadBlob" => upload_blob(&shared, &headers, &body),
        "com.atproto.repo.createRecord" => create_record(&shared, &headers, &body),
        "app.bsky.video.uploadVideo" => upload_video(&shared, &headers, &q, &body),
        _ => xrpc_error(501, "MethodNotImplemented", "Method Not Implemented"),
    };
    let resp = match fault {
        Some(Fault::FailAfterWrite) => {
            xrpc_error(500, "InternalServerError", "Internal Server Error")
        }
        Some(Fault::SlowAfterWrite(d)) => {
            tokio::time::sleep(d).await;
            resp
        }
        _ => resp,
    };
    shared.record(&nsid, resp)
}

fn json_body(headers: &HeaderMap, body: &[u8]) -> Result<Value, Response> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.starts_with("application/json") {
        return Err(xrpc_error(
            400,
            "InvalidRequest",
            "Wrong request encoding (Content-Type): expected application/json",
        ));
    }
    serde_json::from_slice(body)
        .map_err(|_| xrpc_error(400, "InvalidRequest", "Request body is not valid JSON"))
}

fn create_session(shared: &Shared, headers: &HeaderMap, body: &[u8]) -> Response {
    let v = match json_body(headers, body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let (Some(identifier), Some(password)) = (
        v.get("identifier").and_then(Value::as_str),
        v.get("password").and_then(Value::as_str),
    ) else {
        return xrpc_error(
            400,
            "InvalidRequest",
            "Input must have the property \"identifier\" and \"password\"",
        );
    };
    let cfg = &shared.config;
    let known = identifier.eq_ignore_ascii_case(&cfg.handle) || identifier == cfg.did;
    if !known || password != shared.lock().password {
        return xrpc_error(
            401,
            "AuthenticationRequired",
            "Invalid identifier or password",
        );
    }
    let session = shared.new_session();
    shared.lock().sessions_created += 1;
    Json(session).into_response()
}

fn refresh_session(shared: &Shared, headers: &HeaderMap) -> Response {
    let Some(token) = bearer(headers).map(str::to_string) else {
        return xrpc_error(401, "AuthMissing", "Authentication Required");
    };
    {
        let mut inner = shared.lock();
        match inner.refresh.get(&token) {
            None => return xrpc_error(400, "InvalidToken", "Token could not be verified"),
            Some(false) => return xrpc_error(400, "ExpiredToken", "Token has been revoked"),
            Some(true) => {}
        }
        inner.refresh.insert(token, false);
        inner.refreshes += 1;
    }
    Json(shared.new_session()).into_response()
}

fn upload_blob(shared: &Shared, headers: &HeaderMap, body: &[u8]) -> Response {
    if let Err(r) = shared.check_access(headers) {
        return r;
    }
    if body.len() > shared.config.blob_limit {
        return xrpc_error(413, "PayloadTooLarge", "request entity too large");
    }
    let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|c| !c.is_empty())
    else {
        return xrpc_error(
            400,
            "InvalidRequest",
            "Request encoding (Content-Type) required but not provided",
        );
    };
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        && len != body.len()
    {
        return xrpc_error(
            400,
            "InvalidRequest",
            "Content-Length does not match the body",
        );
    }
    // The PDS sniffs the type; a declared type that disagrees is kept as sniffed.
    let mime = infer::get(body)
        .map(|k| k.mime_type().to_string())
        .unwrap_or_else(|| ct.to_string());
    let cid = fake_cid("bafkrei", body);
    let blob = StoredBlob {
        cid: cid.clone(),
        mime: mime.clone(),
        size: body.len(),
    };
    shared.lock().blobs.insert(cid.clone(), blob);
    Json(json!({"blob": {"$type": "blob", "ref": {"$link": cid}, "mimeType": mime, "size": body.len()}}))
        .into_response()
}

fn invalid(msg: impl std::fmt::Display) -> Response {
    xrpc_error(
        400,
        "InvalidRequest",
        &format!("Invalid app.bsky.feed.post record: {msg}"),
    )
}

fn create_record(shared: &Shared, headers: &HeaderMap, body: &[u8]) -> Response {
    let did = match shared.check_access(headers) {
        Ok(d) => d,
        Err(r) => return r,
    };
    let v = match json_body(headers, body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let cfg = &shared.config;
    let repo = v.get("repo").and_then(Value::as_str).unwrap_or("");
    if repo.is_empty() {
        return xrpc_error(
            400,
            "InvalidRequest",
            "Input must have the property \"repo\"",
        );
    }
    if repo != did && !repo.eq_ignore_ascii_case(&cfg.handle) {
        return xrpc_error(403, "Forbidden", "Unauthorized to write to this repo");
    }
    let collection = v.get("collection").and_then(Value::as_str).unwrap_or("");
    if collection != POSTS {
        return xrpc_error(
            400,
            "InvalidRequest",
            &format!("this fake PDS only stores {POSTS} records, not `{collection}`"),
        );
    }
    let Some(record) = v.get("record").filter(|r| r.is_object()) else {
        return xrpc_error(
            400,
            "InvalidRequest",
            "Input must have the property \"record\"",
        );
    };
    let rkey = match v.get("rkey") {
        None | Some(Value::Null) => {
            let mut inner = shared.lock();
            inner.counter += 1;
            tid::new(epoch_now() * 1_000_000 + inner.counter, 0)
        }
        Some(Value::String(k)) if tid::parse(k).is_some() => k.clone(),
        Some(other) => {
            return xrpc_error(
                400,
                "InvalidRequest",
                &format!("Invalid record key for {POSTS}: Invalid TID string (got {other}) at $"),
            );
        }
    };
    if let Err(msg) = check_post(shared, record) {
        return match msg.strip_prefix("BLOB:") {
            Some(m) => xrpc_error(400, "BlobNotFound", m),
            None => invalid(msg),
        };
    }
    let uri = format!("at://{}/{POSTS}/{rkey}", cfg.did);
    let cid = fake_cid("bafyrei", record.to_string().as_bytes());
    let mut inner = shared.lock();
    if inner.remaining == 0 {
        return too_many(cfg.write_budget);
    }
    if inner.records.iter().any(|r| r.rkey == rkey) {
        // The reference PDS fails in its MST: "There is already a value at key".
        return xrpc_error(500, "InternalServerError", "Internal Server Error");
    }
    inner.remaining -= 1;
    let remaining = inner.remaining;
    inner.records.push(StoredRecord {
        rkey,
        uri: uri.clone(),
        cid: cid.clone(),
        value: record.clone(),
    });
    inner.counter += 1;
    let rev = tid::new(epoch_now() * 1_000_000, 0);
    drop(inner);
    let mut resp = Json(json!({
        "uri": uri,
        "cid": cid,
        "commit": {"cid": fake_cid("bafyrei", rev.as_bytes()), "rev": rev},
        "validationStatus": "valid",
    }))
    .into_response();
    rate_headers(&mut resp, cfg.write_budget, remaining);
    resp
}

/// Validates a post record like the lexicon, and its facets and replies
/// like the app would need them.
fn check_post(shared: &Shared, r: &Value) -> Result<(), String> {
    if r.get("$type").and_then(Value::as_str) != Some(POSTS) {
        return Err("Record/$type must be app.bsky.feed.post".into());
    }
    let text = r
        .get("text")
        .and_then(Value::as_str)
        .ok_or("Record must have the property \"text\"")?;
    let graphemes = text.graphemes(true).count();
    if graphemes > 300 {
        return Err(format!(
            "Record/text must not be longer than 300 graphemes (it has {graphemes})"
        ));
    }
    if text.len() > 3000 {
        return Err("Record/text must not be longer than 3000 characters".into());
    }
    let created = r
        .get("createdAt")
        .and_then(Value::as_str)
        .ok_or("Record must have the property \"createdAt\"")?;
    if created.parse::<jiff::Timestamp>().is_err() {
        return Err(
            "Record/createdAt must be an valid atproto datetime (both RFC-3339 and ISO-8601)"
                .into(),
        );
    }
    if let Some(langs) = r.get("langs") {
        let langs = langs.as_array().ok_or("Record/langs must be an array")?;
        if langs.len() > 3 || langs.iter().any(|l| l.as_str().is_none_or(str::is_empty)) {
            return Err("Record/langs must be at most 3 language tags".into());
        }
    }
    if let Some(facets) = r.get("facets") {
        check_facets(shared, text, facets)?;
    }
    if let Some(embed) = r.get("embed") {
        check_embed(shared, embed)?;
    }
    if let Some(reply) = r.get("reply") {
        let inner = shared.lock();
        for part in ["root", "parent"] {
            let uri = reply[part]["uri"]
                .as_str()
                .ok_or(format!("Record/reply/{part} must have uri"))?;
            let cid = reply[part]["cid"]
                .as_str()
                .ok_or(format!("Record/reply/{part} must have cid"))?;
            if !inner.records.iter().any(|s| s.uri == uri && s.cid == cid) {
                return Err(format!(
                    "Record/reply/{part} does not point at an existing post ({uri} {cid})"
                ));
            }
        }
    }
    Ok(())
}

fn check_facets(shared: &Shared, text: &str, facets: &Value) -> Result<(), String> {
    let facets = facets.as_array().ok_or("Record/facets must be an array")?;
    let mut last_end = 0usize;
    for (i, f) in facets.iter().enumerate() {
        let start = f["index"]["byteStart"].as_u64().ok_or(format!(
            "Record/facets/{i}/index/byteStart must be an integer"
        ))? as usize;
        let end = f["index"]["byteEnd"].as_u64().ok_or(format!(
            "Record/facets/{i}/index/byteEnd must be an integer"
        ))? as usize;
        if start >= end
            || end > text.len()
            || !text.is_char_boundary(start)
            || !text.is_char_boundary(end)
        {
            return Err(format!(
                "Record/facets/{i}/index {start}..{end} is not a range of whole characters of the text ({} bytes)",
                text.len()
            ));
        }
        if start < last_end {
            return Err(format!(
                "Record/facets/{i} overlaps the previous facet or is out of order"
            ));
        }
        last_end = end;
        let span = &text[start..end];
        let features = f["features"]
            .as_array()
            .filter(|a| !a.is_empty())
            .ok_or(format!(
                "Record/facets/{i}/features must be a non-empty array"
            ))?;
        for feat in features {
            match feat["$type"].as_str().unwrap_or("") {
                "app.bsky.richtext.facet#link" => {
                    let uri = feat["uri"]
                        .as_str()
                        .ok_or(format!("Record/facets/{i} link must have uri"))?;
                    if uri != span {
                        return Err(format!("Record/facets/{i} link {uri} lands on `{span}`"));
                    }
                }
                "app.bsky.richtext.facet#tag" => {
                    let tag = feat["tag"]
                        .as_str()
                        .ok_or(format!("Record/facets/{i} tag must have tag"))?;
                    if tag.starts_with('#') || format!("#{tag}") != span {
                        return Err(format!("Record/facets/{i} tag `{tag}` lands on `{span}`"));
                    }
                    if tag.graphemes(true).count() > 64 || tag.len() > 640 {
                        return Err(format!("Record/facets/{i} tag is too long"));
                    }
                }
                "app.bsky.richtext.facet#mention" => {
                    let did = feat["did"]
                        .as_str()
                        .ok_or(format!("Record/facets/{i} mention must have did"))?;
                    let handle = if did == shared.config.did {
                        Some(shared.config.handle.clone())
                    } else {
                        shared
                            .config
                            .known_handles
                            .iter()
                            .find(|(_, d)| *d == did)
                            .map(|(h, _)| h.clone())
                    };
                    match handle {
                        Some(h) if span == format!("@{h}") => {}
                        _ => {
                            return Err(format!(
                                "Record/facets/{i} mention of {did} lands on `{span}`"
                            ));
                        }
                    }
                }
                other => {
                    return Err(format!(
                        "Record/facets/{i} has an unknown feature type `{other}`"
                    ));
                }
            }
        }
    }
    Ok(())
}

fn check_blob(shared: &Shared, blob: &Value, what: &str) -> Result<(), String> {
    if blob["$type"].as_str() != Some("blob") {
        return Err(format!("{what} must be a blob"));
    }
    let cid = blob["ref"]["$link"]
        .as_str()
        .ok_or(format!("{what}/ref must be a cid link"))?;
    let inner = shared.lock();
    let Some(stored) = inner.blobs.get(cid) else {
        return Err(format!("BLOB:Could not find blob: {cid}"));
    };
    if blob["mimeType"].as_str() != Some(stored.mime.as_str()) {
        return Err(format!(
            "{what} has mimeType {} but the blob is {}",
            blob["mimeType"], stored.mime
        ));
    }
    if blob["size"].as_u64() != Some(stored.size as u64) {
        return Err(format!(
            "{what} has size {} but the blob has {}",
            blob["size"], stored.size
        ));
    }
    Ok(())
}

fn check_embed(shared: &Shared, embed: &Value) -> Result<(), String> {
    match embed["$type"].as_str().unwrap_or("") {
        "app.bsky.embed.images" => {
            let images = embed["images"]
                .as_array()
                .ok_or("Record/embed/images must be an array")?;
            if images.is_empty() || images.len() > 4 {
                return Err("Record/embed/images must have 1 to 4 images".into());
            }
            for (i, img) in images.iter().enumerate() {
                if img["alt"].as_str().is_none() {
                    return Err(format!(
                        "Record/embed/images/{i} must have the property \"alt\""
                    ));
                }
                check_blob(
                    shared,
                    &img["image"],
                    &format!("Record/embed/images/{i}/image"),
                )?;
                if let Some(mime) = img["image"]["mimeType"].as_str()
                    && !mime.starts_with("image/")
                {
                    return Err(format!(
                        "Record/embed/images/{i}/image mimeType must be image/*"
                    ));
                }
                if let Some(r) = img.get("aspectRatio") {
                    let ok = r["width"].as_u64().is_some_and(|w| w >= 1)
                        && r["height"].as_u64().is_some_and(|h| h >= 1);
                    if !ok {
                        return Err(format!(
                            "Record/embed/images/{i}/aspectRatio must have width and height ≥ 1"
                        ));
                    }
                }
            }
            Ok(())
        }
        "app.bsky.embed.external" => {
            let ext = &embed["external"];
            for k in ["uri", "title", "description"] {
                if ext[k].as_str().is_none() {
                    return Err(format!(
                        "Record/embed/external must have the property \"{k}\""
                    ));
                }
            }
            Ok(())
        }
        "app.bsky.embed.video" => check_blob(shared, &embed["video"], "Record/embed/video"),
        other => Err(format!("Record/embed has an unsupported type `{other}`")),
    }
}

fn get_record(shared: &Shared, q: &HashMap<String, String>) -> Response {
    let (Some(repo), Some(collection), Some(rkey)) =
        (q.get("repo"), q.get("collection"), q.get("rkey"))
    else {
        return xrpc_error(
            400,
            "InvalidRequest",
            "Params must have the properties \"repo\", \"collection\" and \"rkey\"",
        );
    };
    let cfg = &shared.config;
    let ours = *repo == cfg.did || repo.eq_ignore_ascii_case(&cfg.handle);
    let inner = shared.lock();
    let found = inner
        .records
        .iter()
        .find(|r| ours && collection == POSTS && r.rkey == *rkey);
    match found {
        Some(r) => Json(json!({"uri": r.uri, "cid": r.cid, "value": r.value})).into_response(),
        None => xrpc_error(
            400,
            "RecordNotFound",
            &format!("Could not locate record: at://{repo}/{collection}/{rkey}"),
        ),
    }
}

fn list_records(shared: &Shared, q: &HashMap<String, String>) -> Response {
    let inner = shared.lock();
    let records: Vec<Value> = inner
        .records
        .iter()
        .filter(|_| q.get("collection").map(String::as_str) == Some(POSTS))
        .map(|r| json!({"uri": r.uri, "cid": r.cid, "value": r.value}))
        .collect();
    Json(json!({"records": records})).into_response()
}

fn resolve_handle(shared: &Shared, q: &HashMap<String, String>) -> Response {
    let Some(handle) = q.get("handle") else {
        return xrpc_error(
            400,
            "InvalidRequest",
            "Params must have the property \"handle\"",
        );
    };
    let cfg = &shared.config;
    let did = if handle.eq_ignore_ascii_case(&cfg.handle) {
        Some(cfg.did.clone())
    } else {
        cfg.known_handles.get(&handle.to_lowercase()).cloned()
    };
    match did {
        Some(did) => Json(json!({"did": did})).into_response(),
        None => xrpc_error(400, "HandleNotFound", "Unable to resolve handle"),
    }
}

/// `getServiceAuth`: a token for the video service to write to this PDS.
fn service_auth(shared: &Shared, headers: &HeaderMap, q: &HashMap<String, String>) -> Response {
    if let Err(r) = shared.check_access(headers) {
        return r;
    }
    let aud_ok = q.get("aud").is_some_and(|a| a.starts_with("did:web:"));
    let lxm_ok = q.get("lxm").map(String::as_str) == Some("com.atproto.repo.uploadBlob");
    if !aud_ok || !lxm_ok {
        return xrpc_error(
            400,
            "InvalidRequest",
            "aud must be the PDS's did:web and lxm com.atproto.repo.uploadBlob",
        );
    }
    let mut inner = shared.lock();
    inner.counter += 1;
    let token = jwt("service+jwt", &shared.config.did, inner.counter, 1800);
    inner.service_tokens.push(token.clone());
    Json(json!({"token": token})).into_response()
}

/// `app.bsky.video.uploadVideo`: answers a bare JobStatus (not wrapped in
/// `jobStatus`, as the real service does, unlike its lexicon).
fn upload_video(
    shared: &Shared,
    headers: &HeaderMap,
    q: &HashMap<String, String>,
    body: &[u8],
) -> Response {
    let Some(token) = bearer(headers) else {
        return xrpc_error(401, "AuthMissing", "Authentication Required");
    };
    if !shared.lock().service_tokens.iter().any(|t| t == token) {
        return xrpc_error(400, "InvalidToken", "Token could not be verified");
    }
    if q.get("did") != Some(&shared.config.did) || q.get("name").is_none_or(|n| n.is_empty()) {
        return xrpc_error(400, "InvalidRequest", "did and name are required");
    }
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if ct != "video/mp4" {
        return xrpc_error(400, "InvalidRequest", "Content-Type must be video/mp4");
    }
    if body.len() > 300_000_000 {
        return xrpc_error(413, "PayloadTooLarge", "request entity too large");
    }
    let mut inner = shared.lock();
    inner.counter += 1;
    let id = format!("job-{}", inner.counter);
    let fails = inner.failing_jobs > 0;
    inner.failing_jobs = inner.failing_jobs.saturating_sub(1);
    let polls_left = inner.video_polls;
    inner.jobs.insert(
        id.clone(),
        VideoJob {
            blob: StoredBlob {
                cid: fake_cid("bafkreivid", body),
                mime: "video/mp4".into(),
                size: body.len(),
            },
            polls_left,
            fails,
        },
    );
    Json(json!({"did": shared.config.did, "jobId": id, "state": "JOB_STATE_CREATED"}))
        .into_response()
}

/// `app.bsky.video.getJobStatus`: wrapped in `jobStatus`; the blob appears
/// (and becomes usable in a record) when processing is done.
fn job_status(shared: &Shared, q: &HashMap<String, String>) -> Response {
    let Some(id) = q.get("jobId") else {
        return xrpc_error(
            400,
            "InvalidRequest",
            "Params must have the property \"jobId\"",
        );
    };
    let mut inner = shared.lock();
    let Some(job) = inner.jobs.get_mut(id) else {
        return xrpc_error(404, "NotFound", "job not found");
    };
    let did = shared.config.did.clone();
    if job.fails {
        return Json(
            json!({"jobStatus": {"did": did, "jobId": id, "state": "JOB_STATE_FAILED",
            "error": "encoding failed", "failureCode": "encoding_failure"}}),
        )
        .into_response();
    }
    if job.polls_left > 0 {
        job.polls_left -= 1;
        return Json(json!({"jobStatus": {"did": did, "jobId": id, "state": "JOB_STATE_ENCODING", "progress": 50}}))
            .into_response();
    }
    let blob = job.blob.clone();
    inner.blobs.insert(blob.cid.clone(), blob.clone());
    Json(json!({"jobStatus": {"did": did, "jobId": id, "state": "JOB_STATE_COMPLETED", "progress": 100,
        "blob": {"$type": "blob", "ref": {"$link": blob.cid}, "mimeType": blob.mime, "size": blob.size}}}))
    .into_response()
}
