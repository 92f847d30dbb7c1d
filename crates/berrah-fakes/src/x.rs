//! A fake X API v2 (posts, chunked media upload, alt text), whose request
//! validation is driven by X's own OpenAPI description.
//!
//! Every JSON request (and every multipart APPEND, read as an object of its
//! fields) is checked against the request schema that
//! `x-api-v2-openapi.json` gives for its path and method, with [`OpenApi`]:
//! a small validator for the subset of JSON Schema the description uses
//! (`$ref`, `type`, `nullable`, `properties`, `required`,
//! `additionalProperties`, `items`, `enum`, `minLength`/`maxLength`,
//! `minItems`/`maxItems`, `minimum`/`maximum`, `pattern`, `oneOf`/`anyOf`/`allOf`).
//! A request that does not match is answered `400 invalid-request` and kept
//! in [`XState::violations`], which tests assert is empty.
//!
//! Behaviour per `docs/platforms/x.md`: `201 {"data":{"id","text"}}`
//! for posts, 403 duplicate-content for a text already posted, 401 problem
//! bodies without rate-limit headers, 429 with `x-rate-limit-*` (and 24-hour)
//! headers, media processing states with `check_after_secs`, and fault knobs
//! ([`XFaults`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::Running;

/// The OpenAPI description's file name.
pub const SPEC_FILE: &str = "x-api-v2-openapi.json";

/// X's OpenAPI description, and a validator of values against its schemas.
pub struct OpenApi {
    doc: Value,
}

impl OpenApi {
    /// Reads the description from a file.
    pub fn load(path: &Path) -> Result<OpenApi, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
        let doc = serde_json::from_str(&text)
            .map_err(|e| format!("`{}` is not JSON: {e}", path.display()))?;
        Ok(OpenApi { doc })
    }

    /// The copy committed under this crate's `fixtures/`: the repository
    /// never reads anything outside itself, so every clone tests the same.
    pub fn locate() -> Result<OpenApi, String> {
        Self::load(&Self::default_path())
    }

    /// Where [`OpenApi::locate`] reads the description from.
    pub fn default_path() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures")
            .join(SPEC_FILE)
    }

    /// The request body schema of `method path` (`path` as the description
    /// writes it, e.g. `/2/media/upload/{id}/append`) for `content_type`.
    pub fn request_schema(&self, method: &str, path: &str, content_type: &str) -> Option<&Value> {
        self.doc
            .get("paths")?
            .get(path)?
            .get(method.to_ascii_lowercase())?
            .get("requestBody")?
            .get("content")?
            .get(content_type)?
            .get("schema")
    }

    /// The JSON schema of the `status` answer of `method path`.
    pub fn response_schema(&self, method: &str, path: &str, status: u16) -> Option<&Value> {
        self.doc
            .get("paths")?
            .get(path)?
            .get(method.to_ascii_lowercase())?
            .get("responses")?
            .get(status.to_string())?
            .get("content")?
            .get("application/json")?
            .get("schema")
    }

    /// The parameters (`in`: `query` or `path`) of `method path`.
    pub fn parameters(&self, method: &str, path: &str) -> Vec<&Value> {
        self.doc
            .get("paths")
            .and_then(|p| p.get(path))
            .and_then(|p| p.get(method.to_ascii_lowercase()))
            .and_then(|o| o.get("parameters"))
            .and_then(Value::as_array)
            .map(|a| a.iter().map(|p| self.resolve(p)).collect())
            .unwrap_or_default()
    }

    /// Checks the parameters of a request: required ones present, each value
    /// valid against its schema (query values are strings; integer schemas
    /// are checked on the parsed number).
    pub fn validate_parameters(
        &self,
        method: &str,
        path: &str,
        given: &BTreeMap<String, String>,
    ) -> Vec<String> {
        let mut errors = Vec::new();
        for p in self.parameters(method, path) {
            let Some(name) = p.get("name").and_then(Value::as_str) else {
                continue;
            };
            let place = p.get("in").and_then(Value::as_str).unwrap_or("query");
            match given.get(name) {
                None if p.get("required") == Some(&Value::Bool(true)) => {
                    errors.push(format!("{place} parameter `{name}` is required"));
                }
                None => {}
                Some(v) => {
                    if let Some(schema) = p.get("schema") {
                        let value = match self.resolve(schema).get("type").and_then(Value::as_str) {
                            Some("integer") | Some("number") => v
                                .parse::<f64>()
                                .ok()
                                .and_then(|n| serde_json::Number::from_f64(n).map(Value::Number))
                                .unwrap_or_else(|| Value::String(v.clone())),
                            _ => Value::String(v.clone()),
                        };
                        errors.extend(self.validate(schema, &value, &format!("{place}.{name}")));
                    }
                }
            }
        }
        errors
    }

    fn resolve<'a>(&'a self, mut schema: &'a Value) -> &'a Value {
        for _ in 0..32 {
            match schema.get("$ref").and_then(Value::as_str) {
                Some(r) => match r.strip_prefix('#').and_then(|p| self.doc.pointer(p)) {
                    Some(target) => schema = target,
                    None => return schema,
                },
                None => return schema,
            }
        }
        schema
    }

    /// The problems of `value` against `schema`, each with its JSON path
    /// (`at`); empty when it is valid.
    pub fn validate(&self, schema: &Value, value: &Value, at: &str) -> Vec<String> {
        let mut errors = Vec::new();
        self.check(schema, value, at, &mut errors, 0);
        errors
    }

    fn check(&self, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>, depth: u32) {
        if depth > 64 {
            errors.push(format!("{at}: schema nesting too deep"));
            return;
        }
        if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
            match r.strip_prefix('#').and_then(|p| self.doc.pointer(p)) {
                Some(target) => self.check(target, value, at, errors, depth + 1),
                None => errors.push(format!("{at}: unresolvable $ref {r}")),
            }
            return;
        }
        if value.is_null() && schema.get("nullable") == Some(&Value::Bool(true)) {
            return;
        }
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            for s in all {
                self.check(s, value, at, errors, depth + 1);
            }
        }
        if let Some(any) = schema.get("anyOf").and_then(Value::as_array)
            && !any
                .iter()
                .any(|s| self.validate_depth(s, value, at, depth).is_empty())
        {
            errors.push(format!("{at}: matches none of anyOf"));
        }
        if let Some(one) = schema.get("oneOf").and_then(Value::as_array) {
            let n = one
                .iter()
                .filter(|s| self.validate_depth(s, value, at, depth).is_empty())
                .count();
            if n != 1 {
                errors.push(format!("{at}: matches {n} of oneOf, not exactly one"));
            }
        }
        if let Some(t) = schema.get("type").and_then(Value::as_str) {
            let ok = match t {
                "string" => value.is_string(),
                "integer" => value.is_i64() || value.is_u64(),
                "number" => value.is_number(),
                "boolean" => value.is_boolean(),
                "array" => value.is_array(),
                "object" => value.is_object(),
                "null" => value.is_null(),
                _ => true,
            };
            if !ok {
                errors.push(format!("{at}: expected {t}, found {}", kind(value)));
                return;
            }
        }
        if let Some(options) = schema.get("enum").and_then(Value::as_array)
            && !options.contains(value)
        {
            errors.push(format!(
                "{at}: {value} is not one of {}",
                Value::Array(options.clone())
            ));
        }
        match value {
            Value::String(s) => {
                let len = s.chars().count() as u64;
                if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
                    && len < min
                {
                    errors.push(format!("{at}: shorter than {min} characters"));
                }
                if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
                    && len > max
                {
                    errors.push(format!("{at}: longer than {max} characters"));
                }
                if let Some(p) = schema.get("pattern").and_then(Value::as_str)
                    && pattern_matches(p, s) == Some(false)
                {
                    errors.push(format!("{at}: {s:?} does not match {p}"));
                }
            }
            Value::Number(n) => {
                let x = n.as_f64().unwrap_or(0.0);
                if let Some(min) = schema.get("minimum").and_then(Value::as_f64)
                    && x < min
                {
                    errors.push(format!("{at}: {x} is below the minimum {min}"));
                }
                if let Some(max) = schema.get("maximum").and_then(Value::as_f64)
                    && x > max
                {
                    errors.push(format!("{at}: {x} is above the maximum {max}"));
                }
            }
            Value::Array(items) => {
                let len = items.len() as u64;
                if let Some(min) = schema.get("minItems").and_then(Value::as_u64)
                    && len < min
                {
                    errors.push(format!("{at}: fewer than {min} items"));
                }
                if let Some(max) = schema.get("maxItems").and_then(Value::as_u64)
                    && len > max
                {
                    errors.push(format!("{at}: more than {max} items"));
                }
                if let Some(item) = schema.get("items") {
                    for (i, v) in items.iter().enumerate() {
                        self.check(item, v, &format!("{at}[{i}]"), errors, depth + 1);
                    }
                }
            }
            Value::Object(map) => {
                if let Some(required) = schema.get("required").and_then(Value::as_array) {
                    for r in required.iter().filter_map(Value::as_str) {
                        if !map.contains_key(r) {
                            errors.push(format!("{at}: required property `{r}` is missing"));
                        }
                    }
                }
                let props = schema.get("properties").and_then(Value::as_object);
                for (k, v) in map {
                    let here = format!("{at}.{k}");
                    match props.and_then(|p| p.get(k)) {
                        Some(s) => self.check(s, v, &here, errors, depth + 1),
                        None => match schema.get("additionalProperties") {
                            Some(Value::Bool(false)) => {
                                errors.push(format!("{at}: unknown property `{k}`"));
                            }
                            Some(s @ Value::Object(_)) => {
                                self.check(s, v, &here, errors, depth + 1)
                            }
                            _ => {}
                        },
                    }
                }
            }
            _ => {}
        }
    }

    fn validate_depth(&self, schema: &Value, value: &Value, at: &str, depth: u32) -> Vec<String> {
        let mut errors = Vec::new();
        self.check(schema, value, at, &mut errors, depth + 1);
        errors
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Matches the simple patterns the description uses (`^[0-9]{1,19}$`,
/// `^[A-Za-z0-9_]{1,40}$`, `^[0-9]+$`...): anchors, character classes with
/// ranges, literals, and the quantifiers `{n}`, `{m,n}`, `+`, `*`, `?`.
/// `None` for a pattern outside that subset (lookaheads): not checked.
pub fn pattern_matches(pattern: &str, text: &str) -> Option<bool> {
    let p = pattern.strip_prefix('^')?.strip_suffix('$')?;
    let mut atoms: Vec<Atom> = Vec::new();
    let mut chars = p.chars().peekable();
    while let Some(c) = chars.next() {
        let set = match c {
            '[' => {
                let mut set = Vec::new();
                let mut prev: Option<char> = None;
                loop {
                    let c = chars.next()?;
                    match c {
                        ']' => break,
                        '\\' => {
                            let e = chars.next()?;
                            set.push((e, e));
                            prev = Some(e);
                        }
                        '-' if prev.is_some() && chars.peek().is_some_and(|n| *n != ']') => {
                            let hi = chars.next()?;
                            let lo = prev.take()?;
                            set.pop();
                            set.push((lo, hi));
                        }
                        c => {
                            set.push((c, c));
                            prev = Some(c);
                        }
                    }
                }
                set
            }
            '(' | ')' | '|' | '.' | '{' | '}' | '+' | '*' | '?' => return None,
            '\\' => {
                let e = chars.next()?;
                if e.is_ascii_alphanumeric() {
                    return None;
                }
                vec![(e, e)]
            }
            c => vec![(c, c)],
        };
        let (min, max) = match chars.peek() {
            Some('+') => {
                chars.next();
                (1, usize::MAX)
            }
            Some('*') => {
                chars.next();
                (0, usize::MAX)
            }
            Some('?') => {
                chars.next();
                (0, 1)
            }
            Some('{') => {
                chars.next();
                let mut spec = String::new();
                loop {
                    let c = chars.next()?;
                    if c == '}' {
                        break;
                    }
                    spec.push(c);
                }
                match spec.split_once(',') {
                    Some((a, b)) => (
                        a.trim().parse().ok()?,
                        if b.trim().is_empty() {
                            usize::MAX
                        } else {
                            b.trim().parse().ok()?
                        },
                    ),
                    None => {
                        let n = spec.trim().parse().ok()?;
                        (n, n)
                    }
                }
            }
            _ => (1, 1),
        };
        atoms.push((set, min, max));
    }
    let text: Vec<char> = text.chars().collect();
    Some(match_atoms(&atoms, &text))
}

/// One element of a pattern: a set of character ranges, repeated min..=max times.
type Atom = (Vec<(char, char)>, usize, usize);

fn match_atoms(atoms: &[Atom], text: &[char]) -> bool {
    let Some(((set, min, max), rest)) = atoms.split_first() else {
        return text.is_empty();
    };
    let in_set = |c: &char| set.iter().any(|(lo, hi)| lo <= c && c <= hi);
    let run = text.iter().take_while(|c| in_set(c)).count().min(*max);
    if run < *min {
        return false;
    }
    (*min..=run).rev().any(|n| match_atoms(rest, &text[n..]))
}

/// A post the fake accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XPost {
    pub id: String,
    pub text: String,
    pub media_ids: Vec<String>,
    pub reply_to: Option<String>,
}

/// A media upload the fake knows.
#[derive(Debug, Clone, Default)]
pub struct XUpload {
    pub media_type: String,
    pub category: String,
    pub total_bytes: u64,
    /// Segments received, by `segment_index`.
    pub segments: BTreeMap<u64, Vec<u8>>,
    pub finalized: bool,
    /// STATUS polls left before `succeeded` (videos and GIFs).
    pub polls_left: u32,
    pub failed: bool,
    pub alt_text: Option<String>,
}

impl XUpload {
    /// The bytes received, in segment order.
    pub fn bytes(&self) -> Vec<u8> {
        self.segments.values().flatten().copied().collect()
    }
}

/// A request the fake received.
#[derive(Debug, Clone)]
pub struct XRequest {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// The JSON body, or the multipart fields as an object (`media` as its length).
    pub body: Option<Value>,
    /// The bearer token it carried.
    pub token: Option<String>,
}

/// Fault knobs: each counter is spent by the matching requests.
#[derive(Debug, Clone, Default)]
pub struct XFaults {
    /// The next N requests (any endpoint) answer 401.
    pub unauthorized: u32,
    /// The next N `POST /2/tweets` answer 429 (with the 24-hour headers spent).
    pub rate_limited: u32,
    /// The next N `POST /2/tweets` answer 503 without creating anything.
    pub server_error: u32,
    /// The next N `POST /2/tweets` create the post, then drop the connection
    /// without answering.
    pub drop_after_create: u32,
    /// The next N `POST /2/tweets` that are replies answer 403 (reply not permitted).
    pub forbid_replies: u32,
    /// The next N `POST /2/tweets` answer 402 (credits spent).
    pub payment_required: u32,
    /// The next N `POST /2/tweets` answer 403 client-forbidden.
    pub client_forbidden: u32,
    /// STATUS polls answering `in_progress` before `succeeded`, per video.
    pub processing_polls: u32,
    /// Video processing ends `failed`.
    pub processing_fails: bool,
}

/// Everything the fake holds; tests read and change it through [`FakeX::state`].
#[derive(Debug)]
pub struct XState {
    /// Bearer tokens the fake accepts.
    pub tokens: Vec<String>,
    pub posts: Vec<XPost>,
    pub uploads: BTreeMap<String, XUpload>,
    pub requests: Vec<XRequest>,
    /// Requests that did not match X's OpenAPI description (answered 400).
    pub violations: Vec<String>,
    /// How many request bodies or parameter sets were checked against the description.
    pub validated: usize,
    pub faults: XFaults,
    /// `x-rate-limit-remaining` of `POST /2/tweets` (decremented per post; 0 ⇒ 429).
    pub tweets_remaining: u64,
    /// Every successful answer: (method, path template, status, body), for
    /// checking the fake's own answers against the description's response schemas.
    pub answers: Vec<(String, String, u16, Value)>,
    /// The operation being answered.
    current: (String, String),
    /// `x-rate-limit-reset` (Unix seconds) sent on every answer.
    pub reset: i64,
    next_id: u64,
}

impl Default for XState {
    fn default() -> Self {
        XState {
            tokens: vec!["x-token".to_string()],
            posts: Vec::new(),
            uploads: BTreeMap::new(),
            requests: Vec::new(),
            violations: Vec::new(),
            validated: 0,
            faults: XFaults::default(),
            tweets_remaining: 100,
            answers: Vec::new(),
            current: (String::new(), String::new()),
            reset: 1_797_584_700,
            next_id: 1_870_000_000_000_000_000,
        }
    }
}

impl XState {
    fn id(&mut self) -> String {
        self.next_id += 1;
        self.next_id.to_string()
    }
}

/// A running fake X.
pub struct FakeX {
    pub running: Running,
    pub state: Arc<Mutex<XState>>,
}

impl FakeX {
    /// Starts a fake X validating against the description at [`OpenApi::locate`].
    pub async fn start() -> Result<FakeX, String> {
        let spec = OpenApi::locate()?;
        Self::start_with(spec).await
    }

    /// Starts a fake X validating against `spec`.
    pub async fn start_with(spec: OpenApi) -> Result<FakeX, String> {
        let state = Arc::new(Mutex::new(XState::default()));
        let running = crate::serve(router(state.clone(), Arc::new(spec)))
            .await
            .map_err(|e| e.to_string())?;
        Ok(FakeX { running, state })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.running.url()
    }

    /// Locks the state (poisoning ignored: a test panicked elsewhere).
    pub fn lock(&self) -> std::sync::MutexGuard<'_, XState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The fake's router over `state`, checking requests against `spec`.
pub fn router(state: Arc<Mutex<XState>>, spec: Arc<OpenApi>) -> axum::Router {
    axum::Router::new().fallback(
        move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let state = state.clone();
            let spec = spec.clone();
            async move { handle(&state, &spec, method, uri, headers, body) }
        },
    )
}

fn problem(status: StatusCode, kind: &str, title: &str, detail: &str) -> Value {
    json!({"title": title, "detail": detail, "type": kind, "status": status.as_u16()})
}

fn answer(status: StatusCode, body: Value, st: &mut XState, tweets: bool) -> Response {
    if status.is_success() {
        let (method, template) = st.current.clone();
        st.answers
            .push((method, template, status.as_u16(), body.clone()));
    }
    let mut resp = (status, axum::Json(body)).into_response();
    let h = resp.headers_mut();
    let (limit, remaining) = if tweets {
        (100, st.tweets_remaining)
    } else {
        (1875, 1800)
    };
    h.insert("x-rate-limit-limit", HeaderValue::from(limit));
    h.insert("x-rate-limit-remaining", HeaderValue::from(remaining));
    h.insert("x-rate-limit-reset", HeaderValue::from(st.reset));
    resp
}

fn invalid(st: &mut XState, errors: Vec<String>, what: &str) -> Response {
    let detail = format!("{what}: {}", errors.join("; "));
    st.violations.push(detail.clone());
    let body = json!({
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": "https://api.x.com/2/problems/invalid-request",
        "errors": [{"message": detail}],
    });
    answer(StatusCode::BAD_REQUEST, body, st, false)
}

/// Drops the connection without an answer: the handler unwinds, hyper
/// closes the socket (no panic message is printed).
fn drop_connection() -> ! {
    std::panic::resume_unwind(Box::new("fake X: dropping the connection"))
}

fn handle(
    state: &Mutex<XState>,
    spec: &OpenApi,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut guard = state.lock().unwrap_or_else(|p| p.into_inner());
    let st = &mut *guard;
    let path = uri.path().to_string();
    let query: BTreeMap<String, String> = uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string);
    let mut record = XRequest {
        method: method.to_string(),
        path: path.clone(),
        query: uri.query().map(str::to_string),
        body: None,
        token: token.clone(),
    };
    // Which operation of the description this is.
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (template, media_id) = match (method.as_str(), segments.as_slice()) {
        ("POST", ["2", "tweets"]) => ("/2/tweets", None),
        ("POST", ["2", "media", "upload", "initialize"]) => ("/2/media/upload/initialize", None),
        ("POST", ["2", "media", "upload", id, "append"]) => {
            ("/2/media/upload/{id}/append", Some(id.to_string()))
        }
        ("POST", ["2", "media", "upload", id, "finalize"]) => {
            ("/2/media/upload/{id}/finalize", Some(id.to_string()))
        }
        ("GET", ["2", "media", "upload"]) => ("/2/media/upload", None),
        ("POST", ["2", "media", "metadata"]) => ("/2/media/metadata", None),
        _ => {
            st.requests.push(record);
            let body = problem(
                StatusCode::NOT_FOUND,
                "about:blank",
                "Not Found",
                "Sorry, that page does not exist",
            );
            return answer(StatusCode::NOT_FOUND, body, st, false);
        }
    };
    st.current = (method.to_string(), template.to_string());
    // Authentication first, as X does (401 answers carry no rate-limit headers).
    let authorized = token.as_ref().is_some_and(|t| st.tokens.contains(t));
    if !authorized || st.faults.unauthorized > 0 {
        st.faults.unauthorized = st.faults.unauthorized.saturating_sub(1);
        st.requests.push(record);
        let body = json!({"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"});
        return (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response();
    }
    // Parameters (path and query) against the description.
    let mut params = query.clone();
    if let Some(id) = &media_id {
        params.insert("id".to_string(), id.clone());
    }
    let errors = spec.validate_parameters(method.as_str(), template, &params);
    st.validated += 1;
    if !errors.is_empty() {
        st.requests.push(record);
        return invalid(st, errors, &format!("{method} {template} parameters"));
    }
    // The body against the description's request schema.
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_string();
    let parsed: Option<Value> = match template {
        "/2/media/upload/{id}/finalize" | "/2/media/upload" => None,
        "/2/media/upload/{id}/append" => {
            if mime != "multipart/form-data" {
                st.requests.push(record);
                return invalid(
                    st,
                    vec![format!(
                        "content type {mime} (multipart/form-data expected)"
                    )],
                    "append",
                );
            }
            match parse_multipart(&content_type, &body) {
                Some(fields) => Some(fields),
                None => {
                    st.requests.push(record);
                    return invalid(st, vec!["unreadable multipart body".into()], "append");
                }
            }
        }
        _ => {
            if mime != "application/json" {
                st.requests.push(record);
                return invalid(
                    st,
                    vec![format!("content type {mime:?} (application/json expected)")],
                    template,
                );
            }
            match serde_json::from_slice::<Value>(&body) {
                Ok(v) => Some(v),
                Err(e) => {
                    st.requests.push(record);
                    return invalid(st, vec![format!("body is not JSON: {e}")], template);
                }
            }
        }
    };
    if let Some(value) = &parsed {
        // Multipart APPEND: the schema's `media` is a binary string; the
        // recorded copy keeps the chunk's length, the check sees a string.
        let checked = match (template, value) {
            ("/2/media/upload/{id}/append", Value::Object(m)) => {
                let mut m = m.clone();
                if m.contains_key("media") {
                    m.insert("media".into(), json!("<binary>"));
                }
                if let Some(Value::String(i)) = m.get("segment_index").cloned() {
                    m.insert(
                        "segment_index".into(),
                        i.parse::<i64>()
                            .map(Value::from)
                            .unwrap_or(Value::String(i)),
                    );
                }
                Value::Object(m)
            }
            _ => value.clone(),
        };
        let schema_ct = if template.ends_with("/append") {
            "multipart/form-data"
        } else {
            "application/json"
        };
        match spec.request_schema(method.as_str(), template, schema_ct) {
            Some(schema) => {
                st.validated += 1;
                let errors = spec.validate(schema, &checked, "body");
                if !errors.is_empty() {
                    record.body = Some(checked);
                    st.requests.push(record);
                    return invalid(st, errors, &format!("{method} {template}"));
                }
            }
            None => {
                st.requests.push(record);
                return invalid(
                    st,
                    vec!["no request schema in the description".into()],
                    template,
                );
            }
        }
        record.body = Some(match template {
            "/2/media/upload/{id}/append" => {
                let mut c = checked.clone();
                let len = value
                    .get("media")
                    .and_then(Value::as_str)
                    .map(|s| s.len())
                    .unwrap_or(0);
                c["media"] = json!(len);
                c
            }
            _ => value.clone(),
        });
    }
    st.requests.push(record);
    match template {
        "/2/tweets" => create_post(st, parsed.unwrap_or(Value::Null)),
        "/2/media/upload/initialize" => initialize(st, parsed.unwrap_or(Value::Null)),
        "/2/media/upload/{id}/append" => {
            append(st, media_id.unwrap_or_default(), &content_type, &body)
        }
        "/2/media/upload/{id}/finalize" => finalize(st, media_id.unwrap_or_default()),
        "/2/media/upload" => status(st, query.get("media_id").cloned().unwrap_or_default()),
        _ => metadata(st, parsed.unwrap_or(Value::Null)),
    }
}

fn create_post(st: &mut XState, body: Value) -> Response {
    let text = body
        .get("text")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let media_ids: Vec<String> = body
        .pointer("/media/media_ids")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let reply_to = body
        .pointer("/reply/in_reply_to_tweet_id")
        .and_then(Value::as_str)
        .map(str::to_string);
    let f = &mut st.faults;
    if f.rate_limited > 0 || st.tweets_remaining == 0 {
        f.rate_limited = f.rate_limited.saturating_sub(1);
        let body = problem(
            StatusCode::TOO_MANY_REQUESTS,
            "about:blank",
            "Too Many Requests",
            "Too Many Requests",
        );
        st.tweets_remaining = 0;
        let mut resp = answer(StatusCode::TOO_MANY_REQUESTS, body, st, true);
        let h = resp.headers_mut();
        h.insert("x-user-limit-24hour-limit", HeaderValue::from(17));
        h.insert("x-user-limit-24hour-remaining", HeaderValue::from(0));
        h.insert(
            "x-user-limit-24hour-reset",
            HeaderValue::from(st.reset + 3600),
        );
        return resp;
    }
    st.tweets_remaining -= 1;
    if f.server_error > 0 {
        f.server_error -= 1;
        let body = problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "about:blank",
            "Service Unavailable",
            "Service Unavailable",
        );
        return answer(StatusCode::SERVICE_UNAVAILABLE, body, st, true);
    }
    if f.payment_required > 0 {
        f.payment_required -= 1;
        let body = problem(
            StatusCode::PAYMENT_REQUIRED,
            "about:blank",
            "Payment Required",
            "Your enrolled account does not have any credits to fulfill this request.",
        );
        return answer(StatusCode::PAYMENT_REQUIRED, body, st, true);
    }
    if f.client_forbidden > 0 {
        f.client_forbidden -= 1;
        let body = json!({
            "title": "Client Forbidden",
            "detail": "When authenticating requests to the Twitter API v2 endpoints, you must use keys and tokens from a Twitter developer App that is attached to a Project.",
            "type": "https://api.x.com/2/problems/client-forbidden",
            "reason": "client-not-enrolled",
            "status": 403,
        });
        return answer(StatusCode::FORBIDDEN, body, st, true);
    }
    if reply_to.is_some() && f.forbid_replies > 0 {
        f.forbid_replies -= 1;
        let body = problem(
            StatusCode::FORBIDDEN,
            "about:blank",
            "Forbidden",
            "Reply to this conversation is not allowed because you have not been mentioned or otherwise engaged by the author of the post you are replying to.",
        );
        return answer(StatusCode::FORBIDDEN, body, st, true);
    }
    if text.trim().is_empty() && media_ids.is_empty() {
        let body = problem(
            StatusCode::BAD_REQUEST,
            "https://api.x.com/2/problems/invalid-request",
            "Invalid Request",
            "Post text or media is required.",
        );
        return answer(StatusCode::BAD_REQUEST, body, st, true);
    }
    if crate::count::x_weighted_length(&text) > crate::count::X_LIMIT {
        let body = problem(
            StatusCode::BAD_REQUEST,
            "https://api.x.com/2/problems/invalid-request",
            "Invalid Request",
            "Your Tweet text is too long.",
        );
        return answer(StatusCode::BAD_REQUEST, body, st, true);
    }
    for id in &media_ids {
        let ready = st
            .uploads
            .get(id)
            .is_some_and(|u| u.finalized && u.polls_left == 0 && !u.failed);
        if !ready {
            let body = problem(
                StatusCode::BAD_REQUEST,
                "https://api.x.com/2/problems/invalid-request",
                "Invalid Request",
                &format!("Your media IDs are invalid: {id}"),
            );
            return answer(StatusCode::BAD_REQUEST, body, st, true);
        }
    }
    if let Some(r) = &reply_to
        && !st.posts.iter().any(|p| &p.id == r)
    {
        let body = problem(
            StatusCode::BAD_REQUEST,
            "https://api.x.com/2/problems/invalid-request",
            "Invalid Request",
            "The post you are replying to does not exist.",
        );
        return answer(StatusCode::BAD_REQUEST, body, st, true);
    }
    if !text.is_empty() && st.posts.iter().any(|p| p.text == text) {
        let body = json!({"detail": "You are not allowed to create a Tweet with duplicate content.", "type": "about:blank", "title": "Forbidden", "status": 403});
        return answer(StatusCode::FORBIDDEN, body, st, true);
    }
    let id = st.id();
    st.posts.push(XPost {
        id: id.clone(),
        text: text.clone(),
        media_ids,
        reply_to,
    });
    if st.faults.drop_after_create > 0 {
        st.faults.drop_after_create -= 1;
        drop_connection();
    }
    let body = json!({"data": {"id": id, "text": text, "edit_history_post_ids": [id]}});
    answer(StatusCode::CREATED, body, st, true)
}

fn initialize(st: &mut XState, body: Value) -> Response {
    let media_type = body.get("media_type").and_then(Value::as_str).unwrap_or("");
    let category = body
        .get("media_category")
        .and_then(Value::as_str)
        .unwrap_or("");
    let total = body.get("total_bytes").and_then(Value::as_u64);
    let (Some(total), false, false) = (total, media_type.is_empty(), category.is_empty()) else {
        let body = problem(
            StatusCode::BAD_REQUEST,
            "https://api.x.com/2/problems/invalid-request",
            "Invalid Request",
            "media_type, total_bytes and media_category are required",
        );
        return answer(StatusCode::BAD_REQUEST, body, st, false);
    };
    let max = match category {
        "tweet_image" => 5 * 1024 * 1024,
        "tweet_gif" => 15 * 1024 * 1024,
        _ => 512 * 1024 * 1024,
    };
    if total > max {
        let body = problem(
            StatusCode::BAD_REQUEST,
            "https://api.x.com/2/problems/invalid-request",
            "Invalid Request",
            &format!("File size exceeds {max} bytes."),
        );
        return answer(StatusCode::BAD_REQUEST, body, st, false);
    }
    let id = st.id();
    let polls = if category == "tweet_image" {
        0
    } else {
        st.faults.processing_polls
    };
    st.uploads.insert(
        id.clone(),
        XUpload {
            media_type: media_type.to_string(),
            category: category.to_string(),
            total_bytes: total,
            polls_left: polls,
            ..XUpload::default()
        },
    );
    let body =
        json!({"data": {"id": id, "media_key": format!("3_{id}"), "expires_after_secs": 86399}});
    answer(StatusCode::OK, body, st, false)
}

fn not_found_media(st: &mut XState, id: &str) -> Response {
    let body = json!({
        "title": "Not Found Error",
        "detail": format!("Could not find media with id: [{id}]."),
        "type": "https://api.x.com/2/problems/resource-not-found",
    });
    answer(StatusCode::NOT_FOUND, body, st, false)
}

fn append(st: &mut XState, id: String, content_type: &str, body: &Bytes) -> Response {
    let fields = parse_multipart_raw(content_type, body).unwrap_or_default();
    let index = fields
        .get("segment_index")
        .and_then(|v| std::str::from_utf8(v).ok())
        .and_then(|v| v.parse::<u64>().ok());
    let reset = st.reset;
    let Some(upload) = st.uploads.get_mut(&id) else {
        return not_found_media(st, &id);
    };
    let (Some(index), Some(media)) = (index, fields.get("media")) else {
        let body = problem(
            StatusCode::BAD_REQUEST,
            "https://api.x.com/2/problems/invalid-request",
            "Invalid Request",
            "segment_index and media are required",
        );
        return answer(StatusCode::BAD_REQUEST, body, st, false);
    };
    if upload.finalized || media.len() > 5 * 1000 * 1000 {
        let body = problem(
            StatusCode::BAD_REQUEST,
            "https://api.x.com/2/problems/invalid-request",
            "Invalid Request",
            "Segment refused (upload finalized or segment over 5 MB)",
        );
        return answer(StatusCode::BAD_REQUEST, body, st, false);
    }
    upload.segments.insert(index, media.clone());
    answer(
        StatusCode::OK,
        json!({"data": {"expires_at": reset + 86400}}),
        st,
        false,
    )
}

fn media_data(id: &str, u: &XUpload) -> Value {
    let mut data = json!({
        "id": id,
        "media_key": format!("{}_{id}", if u.category == "tweet_image" { 3 } else { 7 }),
        "size": u.total_bytes,
        "expires_after_secs": 86399,
    });
    if u.category != "tweet_image" {
        let info = if u.failed {
            // The description's `processing_info` has no `error` (v1.1 had one);
            // the fake follows the description.
            json!({"state": "failed", "progress_percent": 100})
        } else if u.polls_left > 0 {
            json!({"state": "in_progress", "check_after_secs": 2, "progress_percent": 50})
        } else {
            json!({"state": "succeeded", "progress_percent": 100})
        };
        data["processing_info"] = info;
    }
    data
}

fn finalize(st: &mut XState, id: String) -> Response {
    let fails = st.faults.processing_fails;
    let Some(upload) = st.uploads.get_mut(&id) else {
        return not_found_media(st, &id);
    };
    let contiguous = upload
        .segments
        .keys()
        .copied()
        .eq(0..upload.segments.len() as u64);
    let size: u64 = upload.segments.values().map(|s| s.len() as u64).sum();
    if !contiguous || size != upload.total_bytes {
        let detail = format!(
            "File size mismatch: {size} bytes received in segments {:?}, {} declared",
            upload.segments.keys().collect::<Vec<_>>(),
            upload.total_bytes
        );
        let body = problem(
            StatusCode::BAD_REQUEST,
            "https://api.x.com/2/problems/invalid-request",
            "Invalid Request",
            &detail,
        );
        return answer(StatusCode::BAD_REQUEST, body, st, false);
    }
    upload.finalized = true;
    let mut data = media_data(&id, upload);
    if upload.category != "tweet_image" {
        upload.failed = fails && upload.polls_left == 0;
        // Even a quick video is pending at FINALIZE; STATUS tells the rest.
        data["processing_info"] = json!({"state": "pending", "check_after_secs": 1});
    }
    answer(StatusCode::OK, json!({"data": data}), st, false)
}

fn status(st: &mut XState, id: String) -> Response {
    let fails = st.faults.processing_fails;
    let Some(upload) = st.uploads.get_mut(&id) else {
        return not_found_media(st, &id);
    };
    if !upload.finalized {
        let body = problem(
            StatusCode::BAD_REQUEST,
            "https://api.x.com/2/problems/invalid-request",
            "Invalid Request",
            "Media upload is not finalized",
        );
        return answer(StatusCode::BAD_REQUEST, body, st, false);
    }
    let data = media_data(&id, upload);
    if upload.polls_left > 0 {
        upload.polls_left -= 1;
        if upload.polls_left == 0 {
            upload.failed = fails;
        }
    }
    answer(StatusCode::OK, json!({"data": data}), st, false)
}

fn metadata(st: &mut XState, body: Value) -> Response {
    let id = body
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let alt = body
        .pointer("/metadata/alt_text/text")
        .and_then(Value::as_str)
        .map(str::to_string);
    let Some(upload) = st.uploads.get_mut(&id) else {
        return not_found_media(st, &id);
    };
    upload.alt_text = alt.clone();
    let body = json!({"data": {"id": id, "associated_metadata": {"alt_text": {"text": alt}}}});
    answer(StatusCode::OK, body, st, false)
}

/// The fields of a multipart body (`media` as a string of its bytes' length
/// placeholder), or `None` when unreadable.
fn parse_multipart(content_type: &str, body: &[u8]) -> Option<Value> {
    let fields = parse_multipart_raw(content_type, body)?;
    let mut map = serde_json::Map::new();
    for (name, value) in fields {
        let v = match name.as_str() {
            // Binary: keep a string of the same length for the record.
            "media" => Value::String("x".repeat(value.len())),
            _ => Value::String(String::from_utf8_lossy(&value).into_owned()),
        };
        map.insert(name, v);
    }
    Some(Value::Object(map))
}

/// Splits a `multipart/form-data` body into its named parts.
pub fn parse_multipart_raw(content_type: &str, body: &[u8]) -> Option<BTreeMap<String, Vec<u8>>> {
    let boundary = content_type
        .split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("boundary="))?
        .trim_matches('"');
    let delimiter = format!("--{boundary}");
    let mut out = BTreeMap::new();
    let mut rest = body;
    let start = find(rest, delimiter.as_bytes())?;
    rest = &rest[start + delimiter.len()..];
    loop {
        if rest.starts_with(b"--") {
            return Some(out);
        }
        rest = rest.strip_prefix(b"\r\n")?;
        let head_end = find(rest, b"\r\n\r\n")?;
        let head = std::str::from_utf8(&rest[..head_end]).ok()?;
        rest = &rest[head_end + 4..];
        let end = find(rest, format!("\r\n{delimiter}").as_bytes())?;
        let content = rest[..end].to_vec();
        rest = &rest[end + 2 + delimiter.len()..];
        let name = head
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("content-disposition"))?
            .split(';')
            .map(str::trim)
            .find_map(|p| p.strip_prefix("name="))?
            .trim_matches('"')
            .to_string();
        out.insert(name, content);
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        assert_eq!(
            pattern_matches("^[0-9]{1,19}$", "1346889436626259968"),
            Some(true)
        );
        assert_eq!(pattern_matches("^[0-9]{1,19}$", ""), Some(false));
        assert_eq!(pattern_matches("^[0-9]{1,19}$", "12a"), Some(false));
        assert_eq!(
            pattern_matches("^[0-9]{1,19}$", &"1".repeat(20)),
            Some(false)
        );
        assert_eq!(
            pattern_matches("^[A-Za-z0-9_]{1,40}$", "OIM_Maroc"),
            Some(true)
        );
        assert_eq!(pattern_matches("^[A-Za-z0-9+/=_-]+$", "ab-_=/"), Some(true));
        assert_eq!(pattern_matches("^[A-Z]{2}$", "MA"), Some(true));
        assert_eq!(
            pattern_matches("^(?=[\\s\\S]*https?://\\S+)[\\s\\S]+$", "x"),
            None
        );
    }

    #[test]
    fn the_description_validates_post_bodies() {
        let spec = OpenApi::locate().unwrap();
        let schema = spec
            .request_schema("POST", "/2/tweets", "application/json")
            .unwrap();
        assert!(
            spec.validate(schema, &json!({"text": "سلام 👋"}), "body")
                .is_empty()
        );
        let ok = json!({"text": "t", "media": {"media_ids": ["1"]}, "reply": {"in_reply_to_tweet_id": "2"}});
        assert!(spec.validate(schema, &ok, "body").is_empty());
        let errors = spec.validate(schema, &json!({"text": "t", "media_ids": ["1"]}), "body");
        assert!(
            errors[0].contains("unknown property `media_ids`"),
            "{errors:?}"
        );
        let errors = spec.validate(schema, &json!({"media": {"media_ids": [1]}}), "body");
        assert!(errors[0].contains("expected string"), "{errors:?}");
        let errors = spec.validate(schema, &json!({"media": {"media_ids": []}}), "body");
        assert!(errors[0].contains("fewer than 1"), "{errors:?}");
        let errors = spec.validate(schema, &json!({"reply": {}}), "body");
        assert!(errors[0].contains("in_reply_to_tweet_id"), "{errors:?}");
        let errors = spec.validate(schema, &json!({"reply_settings": "everyone"}), "body");
        assert!(errors[0].contains("not one of"), "{errors:?}");
        let init = spec
            .request_schema("POST", "/2/media/upload/initialize", "application/json")
            .unwrap();
        let errors = spec.validate(
            init,
            &json!({"media_type": "video/avi", "total_bytes": -1}),
            "body",
        );
        assert_eq!(errors.len(), 2, "{errors:?}");
    }

    #[test]
    fn parameters_are_checked() {
        let spec = OpenApi::locate().unwrap();
        let mut q = BTreeMap::new();
        assert!(
            !spec
                .validate_parameters("GET", "/2/media/upload", &q)
                .is_empty()
        );
        q.insert("media_id".to_string(), "123".to_string());
        q.insert("command".to_string(), "STATUS".to_string());
        assert!(
            spec.validate_parameters("GET", "/2/media/upload", &q)
                .is_empty()
        );
        q.insert("command".to_string(), "INIT".to_string());
        assert!(
            !spec
                .validate_parameters("GET", "/2/media/upload", &q)
                .is_empty()
        );
    }

    #[test]
    fn multipart_bodies_split() {
        let body = b"--b1\r\nContent-Disposition: form-data; name=\"segment_index\"\r\n\r\n3\r\n--b1\r\nContent-Disposition: form-data; name=\"media\"; filename=\"blob\"\r\nContent-Type: application/octet-stream\r\n\r\n\x00\x01\r\n\x02\r\n--b1--\r\n";
        let parts = parse_multipart_raw("multipart/form-data; boundary=b1", body).unwrap();
        assert_eq!(parts["segment_index"], b"3");
        assert_eq!(parts["media"], b"\x00\x01\r\n\x02");
    }
}
