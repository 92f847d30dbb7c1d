//! A receiving server for the daemon's tests and benchmark, and the tiny
//! platform clients that publish to it.
//!
//! [`Faulty`] records every request it receives (method, path, headers,
//! body, when) and answers as told: at once, slowly, with 429 and
//! `Retry-After`, with 5xx, or by dropping the connection after reading the
//! request. It deduplicates on the `Idempotency-Key` header the way
//! Mastodon does (the same key within its memory returns the first answer,
//! and is recorded as a repeat, not a new publication).
//!
//! [`FaultyClient`] is a [`Platform`] used only in tests and benchmarks: a
//! webhook-like client (`Idempotency::None`) or, with a key, a keyed one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::Running;
use berrah::config::PlatformKind;
use berrah::platforms::common::{retry_at, transport_outcome};
use berrah::platforms::{Checkpoint, Idempotency, Outcome, Platform, PublishJob};

/// How the server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// 200 with `{"id", "url"}` at once.
    Ok,
    /// 200 after this delay.
    Slow(Duration),
    /// 429 with `Retry-After: secs`.
    TooMany { retry_after_secs: u64 },
    /// 503.
    ServerError,
    /// Reads the request, records it, and closes the connection without an answer.
    Drop,
}

/// One request as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// Wall-clock time of receipt.
    pub at: Timestamp,
    /// The `Idempotency-Key` header, if any.
    pub key: Option<String>,
    /// Whether the key had been seen before (a deduplicated repeat).
    pub repeat: bool,
}

impl Received {
    /// A header's value (names are lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug)]
struct FaultyState {
    mode: Mode,
    /// Modes for the next requests, used before `mode`.
    script: std::collections::VecDeque<Mode>,
    received: Vec<Received>,
    keys: HashMap<String, String>,
    next_id: u64,
}

/// The fake's shared state: the test reads what it received and tells it
/// how to answer.
#[derive(Clone)]
pub struct Faulty {
    state: Arc<Mutex<FaultyState>>,
}

impl Default for Faulty {
    fn default() -> Self {
        Faulty::new()
    }
}

/// The body [`FaultyClient`] sends.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FaultyPost {
    pub occurrence: String,
    pub account: String,
    pub text: String,
}

impl Faulty {
    pub fn new() -> Faulty {
        Faulty {
            state: Arc::new(Mutex::new(FaultyState {
                mode: Mode::Ok,
                script: Default::default(),
                received: Vec::new(),
                keys: HashMap::new(),
                next_id: 1,
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FaultyState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How to answer from now on.
    pub fn set_mode(&self, mode: Mode) {
        self.lock().mode = mode;
    }

    /// Answers the next requests with these modes, then with the set mode.
    pub fn script(&self, modes: impl IntoIterator<Item = Mode>) {
        self.lock().script.extend(modes);
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.lock().received.clone()
    }

    /// How many requests were received.
    pub fn count(&self) -> usize {
        self.lock().received.len()
    }

    /// The occurrence ids of the publications received (repeats of a known
    /// key excluded), one per request.
    pub fn publications(&self) -> Vec<String> {
        self.lock()
            .received
            .iter()
            .filter(|r| !r.repeat)
            .filter_map(|r| serde_json::from_str::<FaultyPost>(&r.body).ok())
            .map(|p| p.occurrence)
            .collect()
    }

    /// The router: every path, every method.
    pub fn router(&self) -> axum::Router {
        axum::Router::new()
            .fallback(handle)
            .with_state(self.clone())
    }

    /// Serves it on 127.0.0.1.
    pub async fn serve(&self) -> std::io::Result<Running> {
        crate::serve(self.router()).await
    }
}

async fn handle(
    State(fake): State<Faulty>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let (mode, known, id) = {
        let mut s = fake.lock();
        let mode = s.script.pop_front().unwrap_or(s.mode);
        let known = key.as_ref().and_then(|k| s.keys.get(k).cloned());
        let id = match &known {
            Some(id) => id.clone(),
            None => {
                let id = s.next_id.to_string();
                s.next_id += 1;
                id
            }
        };
        // A request refused with 429/5xx did not publish; one dropped may have.
        let publishes = matches!(mode, Mode::Ok | Mode::Slow(_) | Mode::Drop);
        if publishes && let (Some(k), None) = (&key, &known) {
            s.keys.insert(k.clone(), id.clone());
        }
        s.received.push(Received {
            method: method.to_string(),
            path: uri.path().to_string(),
            headers: headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_string(),
                        v.to_str().unwrap_or("(binary)").to_string(),
                    )
                })
                .collect(),
            body: String::from_utf8_lossy(&body).into_owned(),
            at: Timestamp::now(),
            key: key.clone(),
            repeat: known.is_some() || !publishes,
        });
        (mode, known, id)
    };
    let ok = || {
        let body = serde_json::json!({ "id": id, "url": format!("https://faulty.example/p/{id}") });
        (StatusCode::OK, axum::Json(body)).into_response()
    };
    if known.is_some() {
        return ok();
    }
    match mode {
        Mode::Ok => ok(),
        Mode::Slow(d) => {
            tokio::time::sleep(d).await;
            ok()
        }
        Mode::TooMany { retry_after_secs } => (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", retry_after_secs.to_string())],
            "slow down",
        )
            .into_response(),
        Mode::ServerError => (StatusCode::SERVICE_UNAVAILABLE, "try later").into_response(),
        Mode::Drop => {
            // Ends this connection's task without an answer: the client
            // sees the connection closed after sending its request.
            std::panic::resume_unwind(Box::new("faulty: dropping the connection"))
        }
    }
}

/// A test platform posting to a [`Faulty`] server: `POST {base}/publish`
/// with a JSON [`FaultyPost`]; with `keyed`, an `Idempotency-Key` header of
/// the occurrence id.
pub struct FaultyClient {
    pub base_url: String,
    pub keyed: bool,
    pub kind: PlatformKind,
    pub http: reqwest::Client,
    /// Sent as `X-Instance`, to tell instances apart in tests.
    pub instance: String,
}

impl FaultyClient {
    pub fn new(base_url: impl Into<String>, keyed: bool) -> FaultyClient {
        FaultyClient {
            base_url: base_url.into(),
            keyed,
            kind: PlatformKind::Webhook,
            http: berrah::http::client_builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap_or_default(),
            instance: String::new(),
        }
    }
}

#[async_trait]
impl Platform for FaultyClient {
    fn kind(&self) -> PlatformKind {
        self.kind
    }

    fn idempotency(&self) -> Idempotency {
        if self.keyed {
            Idempotency::Keyed
        } else {
            Idempotency::None
        }
    }

    async fn publish(&self, job: &PublishJob, _: &dyn Checkpoint) -> Outcome {
        let body = FaultyPost {
            occurrence: job.occurrence_id.clone(),
            account: job.account_id.clone(),
            text: job.content.text.clone(),
        };
        let mut req = self
            .http
            .post(format!("{}/publish", self.base_url))
            .header("x-instance", &self.instance)
            .json(&body);
        if self.keyed {
            req = req.header("idempotency-key", &job.occurrence_id);
        }
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => return transport_outcome("publishing", &e, self.keyed),
        };
        let status = resp.status();
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Outcome::Retry {
                at: retry_at(resp.headers(), Timestamp::now()),
                reason: "429 Too Many Requests".into(),
            };
        }
        if status.is_server_error() {
            return Outcome::Retry {
                at: None,
                reason: format!("HTTP {status}"),
            };
        }
        if !status.is_success() {
            return Outcome::Failed {
                reason: format!("HTTP {status}"),
            };
        }
        #[derive(Deserialize)]
        struct Answer {
            id: String,
            url: Option<String>,
        }
        match resp.json::<Answer>().await {
            // One step, like the webhook client: the worker records the
            // outcome at once (see `Checkpoint`).
            Ok(a) => Outcome::Published {
                remote_id: a.id,
                url: a.url,
            },
            Err(e) => transport_outcome("reading the answer", &e, self.keyed),
        }
    }
}
