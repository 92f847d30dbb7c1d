//! What Facebook Pages and Instagram share: the Meta Graph API's error body,
//! its classification by `code` / `error_subcode`, the usage headers that say
//! when a throttled app or Page may call again, and one authenticated request
//! helper that renews a refused token once.
//!
//! Sources (see `docs/platforms/facebook.md` §1.3 and §6,
//! `instagram.md` §6): Graph "Handling Errors" guide
//! (<https://developers.facebook.com/docs/graph-api/guides/error-handling>)
//! and "Rate Limiting" (<https://developers.facebook.com/docs/graph-api/overview/rate-limiting/>).
//! The HTTP status of a Graph error is usually 400 whatever the cause, so the
//! classification reads the JSON `error` object, not the status.
//!
//! Tokens travel in the `Authorization` header (the Graph hosts accept
//! `Bearer`, upload endpoints `OAuth`), never in a URL, so no URL we log or
//! report can carry one; messages are also scrubbed of the secret itself.

use super::common::auth_outcome;
use std::future::Future;
use std::sync::{Arc, Mutex};

use jiff::{SignedDuration, Timestamp};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, HeaderMap};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::Outcome;
use super::common::{excerpt, header_str};
use crate::auth::Credentials;

/// The Graph API version used when an account sets no `graph_version`
/// option. Meta's docs show v25.0/v26.0 in 2026; a version must always be
/// pinned in the path (facebook.md header).
pub const DEFAULT_GRAPH_VERSION: &str = "v25.0";

/// The `error` object of a Graph API error answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct GraphError {
    #[serde(default)]
    pub message: String,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub code: i64,
    #[serde(default)]
    pub error_subcode: Option<i64>,
    #[serde(default)]
    pub error_user_title: Option<String>,
    #[serde(default)]
    pub error_user_msg: Option<String>,
    #[serde(default)]
    pub is_transient: Option<bool>,
    #[serde(default)]
    pub fbtrace_id: Option<String>,
}

#[derive(Deserialize)]
struct Envelope {
    error: GraphError,
}

impl GraphError {
    /// Parses `{"error":{...}}`; `None` when the body is not a Graph error.
    pub fn parse(body: &str) -> Option<GraphError> {
        serde_json::from_str::<Envelope>(body).ok().map(|e| e.error)
    }

    /// The message for people: Meta's own text, the user-facing message when
    /// there is one, and the codes (which support and the docs use).
    pub fn describe(&self) -> String {
        let mut s = self.message.trim().to_string();
        if let Some(user) = self
            .error_user_msg
            .as_deref()
            .filter(|m| !m.trim().is_empty())
            && !s.contains(user.trim())
        {
            if s.is_empty() {
                s = user.trim().to_string();
            } else {
                s = format!("{s} ({})", user.trim());
            }
        }
        match self.error_subcode {
            Some(sub) => format!("{s} [code {}, subcode {sub}]", self.code),
            None => format!("{s} [code {}]", self.code),
        }
    }
}

/// What a Graph error means for the post, before each client words it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GraphClass {
    /// Throttled (codes 4, 17, 32, 613, 80001, 80002, 341; Instagram's daily
    /// publishing cap, 9/2207042): come back at `at`.
    RateLimited { at: Timestamp },
    /// The token is expired, revoked or invalid (190, 102; subcodes 458, 459,
    /// 460, 463, 464, 467, 492): an operator must reconnect the account.
    Token,
    /// A permission is missing or was removed (10, 200–299); `permission` is
    /// the one the message names, when it names one.
    Permission { permission: Option<String> },
    /// 506: Facebook refuses the same content twice in a row; the post is
    /// probably already there.
    Duplicate,
    /// 9007 / 2207027: an Instagram container is not ready to publish yet.
    NotReady,
    /// Temporary on Meta's side (1, 2, 6001, `is_transient`, Instagram's
    /// -1/-2 server and download timeouts, HTTP 5xx without a Graph body).
    Transient,
    /// Anything else: permanent, with Meta's message.
    Failed,
}

/// The minutes Meta tells a throttled caller to wait when no usage header
/// says how long (`docs/platforms/facebook.md` §6.3).
const DEFAULT_THROTTLE_MINUTES: i64 = 60;

/// The most berrah reads of a Graph or LinkedIn answer: the largest it asks
/// for is a Page feed listing of 50 posts (each message up to 63,206
/// characters, rarely more than a few hundred), read when searching for a
/// post whose answer was lost; every other answer is a few KiB.
const ANSWER_LIMIT: usize = 4 * 1024 * 1024;

/// Classifies a Graph error answer (`error` is `None` when the body was not
/// a Graph error: a proxy page, an empty 5xx).
pub fn classify(
    status: StatusCode,
    error: Option<&GraphError>,
    headers: &HeaderMap,
    now: Timestamp,
) -> GraphClass {
    let Some(e) = error else {
        return if status.is_server_error() || status.as_u16() == 429 {
            GraphClass::Transient
        } else if status.as_u16() == 401 {
            GraphClass::Token
        } else {
            GraphClass::Failed
        };
    };
    let throttled = || GraphClass::RateLimited {
        at: Usage::from_headers(headers)
            .regain_at(now)
            .unwrap_or_else(|| now + SignedDuration::from_mins(DEFAULT_THROTTLE_MINUTES)),
    };
    match (e.code, e.error_subcode) {
        (4 | 17 | 32 | 613 | 80001 | 80002 | 341, _) => throttled(),
        (9, Some(2207042)) => throttled(),
        (102 | 190, _) => GraphClass::Token,
        (10 | 200..=299, _) => GraphClass::Permission {
            permission: missing_permission(&e.message),
        },
        (506, _) => GraphClass::Duplicate,
        (9007, _) | (_, Some(2207027)) => GraphClass::NotReady,
        (1 | 2 | 6001, _) => GraphClass::Transient,
        (-1, Some(2207001 | 2207032 | 2207053)) | (-2, Some(2207003)) => GraphClass::Transient,
        _ if e.is_transient == Some(true) => GraphClass::Transient,
        _ if status.is_server_error() => GraphClass::Transient,
        _ => GraphClass::Failed,
    }
}

/// The permission a Graph permission error names, e.g. `pages_manage_posts`
/// in "(#200) Requires pages_manage_posts permission to manage the object".
pub fn missing_permission(message: &str) -> Option<String> {
    const PREFIXES: [&str; 6] = [
        "pages_",
        "instagram_",
        "publish_",
        "business_",
        "ads_",
        "read_insights",
    ];
    message
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .find(|w| PREFIXES.iter().any(|p| w.starts_with(p)) && w.len() > 4)
        .map(str::to_string)
}

/// Usage percentages and the wait Meta announces, read from `X-App-Usage`,
/// `X-Page-Usage` and `X-Business-Use-Case-Usage` (JSON header values).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Usage {
    /// The highest percentage of any limit (call count, CPU time, total time).
    pub max_percent: Option<f64>,
    /// The longest `estimated_time_to_regain_access`, in minutes.
    pub regain_minutes: Option<i64>,
}

impl Usage {
    /// Reads the usage headers; unreadable values are ignored.
    pub fn from_headers(headers: &HeaderMap) -> Usage {
        let mut usage = Usage::default();
        let mut percent = |v: &serde_json::Value| {
            for key in ["call_count", "total_time", "total_cputime"] {
                if let Some(p) = v.get(key).and_then(serde_json::Value::as_f64) {
                    usage.max_percent = Some(usage.max_percent.map_or(p, |m: f64| m.max(p)));
                }
            }
        };
        for name in ["x-app-usage", "x-page-usage"] {
            if let Some(v) = header_str(headers, name)
                .and_then(|s| serde_json::from_str::<serde_json::Value>(s).ok())
            {
                percent(&v);
            }
        }
        let mut regain: Option<i64> = None;
        if let Some(serde_json::Value::Object(map)) =
            header_str(headers, "x-business-use-case-usage")
                .and_then(|s| serde_json::from_str::<serde_json::Value>(s).ok())
        {
            for entries in map.values() {
                for entry in entries.as_array().into_iter().flatten() {
                    percent(entry);
                    if let Some(m) = entry
                        .get("estimated_time_to_regain_access")
                        .and_then(serde_json::Value::as_i64)
                    {
                        regain = Some(regain.map_or(m, |r| r.max(m)));
                    }
                }
            }
        }
        usage.regain_minutes = regain;
        usage
    }

    /// When access comes back, if a usage header announced a wait.
    pub fn regain_at(&self, now: Timestamp) -> Option<Timestamp> {
        match self.regain_minutes {
            Some(m) if m > 0 => now.checked_add(SignedDuration::from_mins(m)).ok(),
            _ => None,
        }
    }

    /// Whether a limit is spent (100 % or more): the next call would be throttled.
    pub fn spent(&self) -> bool {
        self.max_percent.is_some_and(|p| p >= 100.0)
    }
}

/// Replaces every occurrence of the secret in `text` (belt and braces: the
/// token is only ever sent in a header, but an answer could echo it).
pub fn scrub(text: &str, secret: &SecretString) -> String {
    let s = secret.expose_secret();
    if s.len() < 8 {
        return text.to_string();
    }
    text.replace(s, "[redacted]")
}

/// A Graph answer that is not a success.
#[derive(Debug, Clone)]
pub struct GraphFailure {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub error: Option<GraphError>,
    /// An excerpt of the body, scrubbed of the secret.
    pub body: String,
}

impl GraphFailure {
    /// Meta's message, or the body's excerpt when it was not a Graph error.
    pub fn message(&self) -> String {
        match &self.error {
            Some(e) => e.describe(),
            None if self.body.is_empty() => format!("HTTP {}", self.status.as_u16()),
            None => format!("HTTP {}: {}", self.status.as_u16(), self.body),
        }
    }

    /// See [`classify`].
    pub fn class(&self, now: Timestamp) -> GraphClass {
        classify(self.status, self.error.as_ref(), &self.headers, now)
    }

    /// Whether this answer says the token itself was refused.
    fn token_refused(&self) -> bool {
        self.status.as_u16() == 401
            || self
                .error
                .as_ref()
                .is_some_and(|e| matches!(e.code, 102 | 190))
    }

    /// The generic outcome of this failure. `account` names the account for
    /// people ("the Facebook Page `oim-fb`"); `what` the step that failed.
    /// Callers handle [`GraphClass::Duplicate`] and [`GraphClass::NotReady`]
    /// themselves where it matters; here they are permanent.
    pub fn outcome(&self, what: &str, account: &str, now: Timestamp) -> Outcome {
        let msg = self.message();
        match self.class(now) {
            GraphClass::RateLimited { at } => Outcome::Retry {
                at: Some(at),
                reason: format!("{what}: Meta throttles {account} until {at}: {msg}"),
            },
            GraphClass::Token => Outcome::NeedsOperator {
                reason: format!(
                    "{what}: Meta refused the access token of {account} ({msg}); \
                     reconnect it with `berrah accounts login`"
                ),
            },
            GraphClass::Permission { permission } => Outcome::NeedsOperator {
                reason: match permission {
                    Some(p) => format!(
                        "{what}: {account} lacks the `{p}` permission ({msg}); \
                         grant it and reconnect with `berrah accounts login`"
                    ),
                    None => format!(
                        "{what}: {account} lacks a permission ({msg}); \
                         check the app's permissions and reconnect with `berrah accounts login`"
                    ),
                },
            },
            GraphClass::Transient | GraphClass::NotReady => Outcome::Retry {
                at: None,
                reason: format!("{what}: temporary error at Meta: {msg}"),
            },
            GraphClass::Duplicate | GraphClass::Failed => Outcome::Failed {
                reason: format!("{what}: Meta refused it: {msg}"),
            },
        }
    }
}

/// A transport fault or a refused answer.
#[derive(Debug)]
pub enum CallError {
    /// The request failed on the way, or its answer could not be read (see
    /// [`super::common::transport_outcome`]).
    Transport(crate::http::BodyError),
    /// The platform answered with an error.
    Status(Box<GraphFailure>),
    /// The credentials could not be read at all (already an outcome:
    /// needs an operator, or try later when the token endpoint is down).
    Credentials(Outcome),
    /// A local problem preparing the request (a media file that cannot be read).
    Local(String),
}

impl CallError {
    /// The generic outcome of a failed call. `create`: the request creates
    /// something the platform does not deduplicate, so a request that may
    /// have arrived is [`Outcome::Unknown`].
    pub fn outcome(self, what: &str, account: &str, now: Timestamp, create: bool) -> Outcome {
        match self {
            CallError::Transport(e) => super::common::transport_outcome(what, &e, !create),
            CallError::Status(f) => f.outcome(what, account, now),
            CallError::Credentials(o) => o,
            CallError::Local(m) => Outcome::Failed {
                reason: format!("{what}: {m}"),
            },
        }
    }
}

/// Publishes the first comment under the post or media `progress` names
/// (`POST /{id}/comments`, the same on Facebook Pages and Instagram), once: its
/// id goes into `progress`, checkpointed, so that a retry of the attempt never
/// comments twice. `post` sends the form; `fail` turns a failed call into an
/// outcome. `Err` (a retry) when only the comment should be tried again
/// later; any other failure is logged and the publication stands.
pub async fn first_comment<Fut>(
    job: &super::PublishJob,
    progress: &mut super::Progress,
    checkpoint: &dyn super::Checkpoint,
    post: impl FnOnce(String, Vec<(String, String)>) -> Fut,
    fail: impl FnOnce(CallError) -> Outcome,
) -> Result<(), Outcome>
where
    Fut: Future<Output = Result<Reply, CallError>>,
{
    let (Some(comment), Some(parent)) = (&job.content.first_comment, &progress.remote_id) else {
        return Ok(());
    };
    if progress.first_comment.is_some() || comment.trim().is_empty() {
        return Ok(());
    }
    let fields = vec![("message".to_string(), comment.clone())];
    match post(format!("{parent}/comments"), fields).await {
        Ok(r) => {
            if let Some(id) = str_field(&r.json, "id") {
                progress.first_comment = Some(id);
                if let Err(e) = checkpoint.save(progress).await {
                    tracing::warn!(
                        account = %job.account_id,
                        error = %e.0,
                        "the first comment is out but could not be recorded; if this attempt is retried it may be posted again"
                    );
                }
            }
            Ok(())
        }
        Err(e) => match fail(e) {
            // The post is out: retry only the comment later.
            o @ Outcome::Retry { .. } => Err(o),
            o => {
                tracing::warn!(account = %job.account_id, outcome = ?o, "the first comment was not published");
                Ok(())
            }
        },
    }
}

/// A successful answer: status, headers and the body as JSON (`Null` when empty).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub json: serde_json::Value,
}

/// How a request carries the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthScheme {
    /// `Authorization: Bearer <token>` (Graph hosts, LinkedIn).
    Bearer,
    /// `Authorization: OAuth <token>` (Meta's upload endpoints).
    OAuth,
}

impl AuthScheme {
    /// The header value for `token`.
    pub fn header(self, token: &SecretString) -> String {
        match self {
            AuthScheme::Bearer => format!("Bearer {}", token.expose_secret()),
            AuthScheme::OAuth => format!("OAuth {}", token.expose_secret()),
        }
    }
}

/// The authenticated caller shared by the Graph clients: gets the secret,
/// renews it ONCE when the answer says it was refused, records usage headers
/// and refuses to call while a limit is known to be spent.
pub struct Caller {
    pub credentials: Arc<dyn Credentials>,
    pub clock: Arc<dyn crate::time::Clock>,
    /// Until when Meta said we are throttled (from usage headers).
    blocked_until: Mutex<Option<Timestamp>>,
}

impl Caller {
    /// A caller over these credentials and clock.
    pub fn new(credentials: Arc<dyn Credentials>, clock: Arc<dyn crate::time::Clock>) -> Caller {
        Caller {
            credentials,
            clock,
            blocked_until: Mutex::new(None),
        }
    }

    /// `Some(at)` while a previous answer said the usage is spent.
    pub fn blocked_until(&self) -> Option<Timestamp> {
        let now = self.clock.now();
        let b = *self.blocked_until.lock().unwrap_or_else(|p| p.into_inner());
        b.filter(|at| *at > now)
    }

    fn observe(&self, headers: &HeaderMap) {
        let usage = Usage::from_headers(headers);
        if usage.spent() {
            let now = self.clock.now();
            let at = usage
                .regain_at(now)
                .unwrap_or_else(|| now + SignedDuration::from_mins(DEFAULT_THROTTLE_MINUTES));
            *self.blocked_until.lock().unwrap_or_else(|p| p.into_inner()) = Some(at);
        }
    }

    /// Sends the request `make` builds with the secret, and reads its answer.
    /// `make` is called again (with the renewed secret) only when the first
    /// answer refused the token: such a request did nothing, so it is safe.
    pub async fn call<F, Fut>(&self, make: F) -> Result<Reply, CallError>
    where
        F: Fn(SecretString) -> Fut,
        Fut: Future<Output = Result<reqwest::RequestBuilder, String>>,
    {
        let secret = self
            .credentials
            .secret()
            .await
            .map_err(|e| CallError::Credentials(auth_outcome(e)))?;
        match self.once(&make, &secret).await {
            Err(CallError::Status(f)) if f.token_refused() => {
                let renewed = self
                    .credentials
                    .renew_rejected(&secret)
                    .await
                    .map_err(|e| CallError::Credentials(auth_outcome(e)))?;
                if renewed.expose_secret() == secret.expose_secret() {
                    return Err(CallError::Status(f));
                }
                self.once(&make, &renewed).await
            }
            other => other,
        }
    }

    /// Sends the request `make` builds without any token (to a URL the
    /// token must not go to), and reads its answer; never renews the token.
    pub async fn call_without_token<F, Fut>(&self, make: F) -> Result<Reply, CallError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<reqwest::RequestBuilder, String>>,
    {
        // No secret to scrub from the answer: an empty one leaves it as is.
        let none = SecretString::from(String::new());
        self.once(&|_: SecretString| make(), &none).await
    }

    /// A form POST to `url`, the secret as a Bearer token (Graph's writes).
    pub async fn post_form(
        &self,
        http: &reqwest::Client,
        url: &str,
        fields: &[(String, String)],
    ) -> Result<Reply, CallError> {
        self.call(|secret: SecretString| {
            let req = http
                .post(url)
                .header(AUTHORIZATION, AuthScheme::Bearer.header(&secret))
                .form(fields);
            async move { Ok(req) }
        })
        .await
    }

    /// A GET of `url` with `query`, the secret as a Bearer token.
    pub async fn get(
        &self,
        http: &reqwest::Client,
        url: &str,
        query: &[(String, String)],
    ) -> Result<Reply, CallError> {
        self.call(|secret: SecretString| {
            let req = http
                .get(url)
                .header(AUTHORIZATION, AuthScheme::Bearer.header(&secret))
                .query(query);
            async move { Ok(req) }
        })
        .await
    }

    async fn once<F, Fut>(&self, make: &F, secret: &SecretString) -> Result<Reply, CallError>
    where
        F: Fn(SecretString) -> Fut,
        Fut: Future<Output = Result<reqwest::RequestBuilder, String>>,
    {
        let req = make(secret.clone()).await.map_err(CallError::Local)?;
        let resp = req
            .send()
            .await
            .map_err(|e| CallError::Transport(e.into()))?;
        let status = resp.status();
        let headers = resp.headers().clone();
        self.observe(&headers);
        let body = crate::http::read_answer(resp, ANSWER_LIMIT)
            .await
            .map_err(CallError::Transport)?;
        if status.is_success() {
            let json = if body.trim().is_empty() {
                serde_json::Value::Null
            } else {
                serde_json::from_str(&body).map_err(|_| {
                    CallError::Status(Box::new(GraphFailure {
                        status: StatusCode::BAD_GATEWAY,
                        headers: headers.clone(),
                        error: None,
                        body: format!("the answer is not JSON: {}", excerpt(&scrub(&body, secret))),
                    }))
                })?
            };
            Ok(Reply {
                status,
                headers,
                json,
            })
        } else {
            let error = GraphError::parse(&body).map(|mut e| {
                e.message = scrub(&e.message, secret);
                e.error_user_msg = e.error_user_msg.map(|m| scrub(&m, secret));
                e
            });
            Err(CallError::Status(Box::new(GraphFailure {
                status,
                headers,
                error,
                body: excerpt(&scrub(&body, secret)),
            })))
        }
    }
}

/// A string field of a JSON answer; Graph sends ids and offsets as strings
/// or numbers depending on the endpoint, both are accepted.
pub fn str_field(v: &serde_json::Value, key: &str) -> Option<String> {
    match v.get(key)? {
        serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The account option `graph_version` (e.g. `"v25.0"`), else [`DEFAULT_GRAPH_VERSION`].
pub fn version(account: &crate::config::AccountConfig) -> String {
    let v = account
        .option_str("graph_version")
        .unwrap_or(DEFAULT_GRAPH_VERSION)
        .trim()
        .trim_matches('/');
    if v.starts_with('v') {
        v.to_string()
    } else {
        format!("v{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn now() -> Timestamp {
        "2026-12-18T09:00:00Z".parse().unwrap()
    }

    fn err(code: i64, sub: Option<i64>, message: &str) -> GraphError {
        GraphError {
            message: message.into(),
            code,
            error_subcode: sub,
            ..Default::default()
        }
    }

    fn class(e: &GraphError, h: &HeaderMap) -> GraphClass {
        classify(StatusCode::BAD_REQUEST, Some(e), h, now())
    }

    #[test]
    fn parses_real_error_bodies() {
        let body = r#"{"error":{"message":"Error validating access token: The session has been invalidated because the user changed their password.","type":"OAuthException","code":190,"error_subcode":460,"fbtrace_id":"EJplcsCHuLu"}}"#;
        let e = GraphError::parse(body).unwrap();
        assert_eq!((e.code, e.error_subcode), (190, Some(460)));
        assert_eq!(e.kind.as_deref(), Some("OAuthException"));
        assert!(e.describe().contains("[code 190, subcode 460]"));
        assert!(GraphError::parse("<html>bad gateway</html>").is_none());
    }

    #[test]
    fn throttling_waits_for_the_business_use_case_regain_time() {
        let mut h = HeaderMap::new();
        h.insert(
            "x-business-use-case-usage",
            HeaderValue::from_static(
                r#"{"1234":[{"type":"pages","call_count":100,"total_cputime":20,"total_time":25,"estimated_time_to_regain_access":12}]}"#,
            ),
        );
        for code in [4, 17, 32, 613, 80001] {
            assert_eq!(
                class(&err(code, None, "limit"), &h),
                GraphClass::RateLimited {
                    at: "2026-12-18T09:12:00Z".parse().unwrap()
                }
            );
        }
        // Without a regain time: an hour.
        assert_eq!(
            class(
                &err(4, None, "Application request limit reached"),
                &HeaderMap::new()
            ),
            GraphClass::RateLimited {
                at: "2026-12-18T10:00:00Z".parse().unwrap()
            }
        );
    }

    #[test]
    fn usage_headers() {
        let mut h = HeaderMap::new();
        h.insert(
            "x-app-usage",
            HeaderValue::from_static(r#"{"call_count":28,"total_time":25,"total_cputime":25}"#),
        );
        let u = Usage::from_headers(&h);
        assert_eq!(u.max_percent, Some(28.0));
        assert!(!u.spent());
        h.insert(
            "x-business-use-case-usage",
            HeaderValue::from_static(
                r#"{"1":[{"type":"instagram","call_count":100,"total_cputime":1,"total_time":1,"estimated_time_to_regain_access":5}],"2":[{"type":"pages","call_count":3,"estimated_time_to_regain_access":9}]}"#,
            ),
        );
        let u = Usage::from_headers(&h);
        assert!(u.spent());
        assert_eq!(u.regain_minutes, Some(9));
        h.insert("x-app-usage", HeaderValue::from_static("not json"));
        let _ = Usage::from_headers(&h); // no panic
    }

    #[test]
    fn token_permission_duplicate_transient_and_others() {
        let h = HeaderMap::new();
        for sub in [None, Some(458), Some(460), Some(463), Some(467), Some(492)] {
            assert_eq!(class(&err(190, sub, "x"), &h), GraphClass::Token);
        }
        assert_eq!(
            class(
                &err(
                    200,
                    None,
                    "(#200) Requires pages_manage_posts permission to manage the object"
                ),
                &h
            ),
            GraphClass::Permission {
                permission: Some("pages_manage_posts".into())
            }
        );
        assert_eq!(
            class(
                &err(
                    10,
                    None,
                    "(#10) Application does not have permission for this action"
                ),
                &h
            ),
            GraphClass::Permission { permission: None }
        );
        assert_eq!(
            class(&err(506, None, "Duplicate status message"), &h),
            GraphClass::Duplicate
        );
        assert_eq!(
            class(&err(1, None, "An unknown error occurred"), &h),
            GraphClass::Transient
        );
        assert_eq!(
            class(&err(2, None, "Service temporarily unavailable"), &h),
            GraphClass::Transient
        );
        assert_eq!(
            class(&err(9007, Some(2207027), "not ready"), &h),
            GraphClass::NotReady
        );
        assert_eq!(
            class(&err(100, None, "Invalid parameter"), &h),
            GraphClass::Failed
        );
        let mut transient = err(-1, Some(2207001), "server error");
        assert_eq!(class(&transient, &h), GraphClass::Transient);
        transient.code = 12345;
        transient.is_transient = Some(true);
        assert_eq!(class(&transient, &h), GraphClass::Transient);
        assert_eq!(
            classify(StatusCode::BAD_GATEWAY, None, &h, now()),
            GraphClass::Transient
        );
        assert_eq!(
            classify(StatusCode::NOT_FOUND, None, &h, now()),
            GraphClass::Failed
        );
    }

    #[test]
    fn outcomes_say_what_to_do() {
        let f = GraphFailure {
            status: StatusCode::BAD_REQUEST,
            headers: HeaderMap::new(),
            error: Some(err(
                190,
                Some(463),
                "Error validating access token: Session has expired",
            )),
            body: String::new(),
        };
        match f.outcome("posting", "the Facebook Page `oim`", now()) {
            Outcome::NeedsOperator { reason } => {
                assert!(reason.contains("berrah accounts login"), "{reason}");
                assert!(reason.contains("Session has expired"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        let f = GraphFailure {
            error: Some(err(
                200,
                None,
                "(#200) Requires instagram_content_publish permission",
            )),
            ..f
        };
        match f.outcome("publishing", "x", now()) {
            Outcome::NeedsOperator { reason } => {
                assert!(reason.contains("`instagram_content_publish`"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn scrub_removes_the_secret() {
        let s = SecretString::from("EAAB-page-token-123".to_string());
        assert_eq!(
            scrub("bad token EAAB-page-token-123 here", &s),
            "bad token [redacted] here"
        );
    }

    #[test]
    fn versions() {
        assert_eq!(missing_permission("no permission named"), None);
        let v = str_field(&serde_json::json!({"a":"1","b":2,"c":""}), "b");
        assert_eq!(v.as_deref(), Some("2"));
        assert_eq!(str_field(&serde_json::json!({"c":""}), "c"), None);
    }
}
