//! A fake OAuth 2.0 authorization server on 127.0.0.1, strict where the real
//! ones are (`docs/platforms/oauth.md`; X's notes in `docs/platforms/x.md`, Google's
//! in `docs/platforms/youtube.md`):
//!
//! - `GET /oauth/authorize`: checks the client id, `response_type=code`, an
//!   S256 PKCE challenge and a loopback redirect URI, then redirects (302) to
//!   it with a single-use code and the `state` (or a wrong state on demand,
//!   or `error=access_denied` with the `state`, as RFC 6749 §4.1.2.1 requires
//!   of an error redirect, and an `error_description` that can be set).
//! - `POST /oauth/token` (form): `authorization_code` (checks the code, the
//!   redirect URI, the PKCE verifier against the challenge and the client
//!   credentials, Basic or in the body) and `refresh_token` (optionally
//!   rotating and single-use like X, or keeping the refresh token like Google,
//!   whose answers then carry none). Revoked, spent or unknown refresh tokens
//!   get `400 invalid_grant`. Can answer `503` on demand (transient).
//! - Records every request (grant type, client auth, outcome), never a secret.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::sync::Notify;

/// How the fake behaves.
#[derive(Debug, Clone)]
pub struct FakeOAuthConfig {
    pub client_id: String,
    /// `Some`: a confidential client that must authenticate.
    pub client_secret: Option<String>,
    /// `expires_in` of access tokens (seconds); `None`: no expiry (Mastodon).
    pub access_ttl: Option<u64>,
    /// Issue a refresh token at the code exchange.
    pub issue_refresh: bool,
    /// Refreshes answer a new refresh token and spend the old one (X).
    /// `false`: the answer carries no refresh token and the old one stays valid (Google).
    pub rotate_refresh: bool,
    /// With rotation: the old refresh token stays usable until its successor
    /// is first used (providers with a reuse grace). Default `false` (strict, X).
    pub rotation_grace: bool,
}

impl Default for FakeOAuthConfig {
    fn default() -> Self {
        FakeOAuthConfig {
            client_id: "berrah-test-client".into(),
            client_secret: Some("berrah-test-client-secret".into()),
            access_ttl: Some(7200),
            issue_refresh: true,
            rotate_refresh: true,
            rotation_grace: false,
        }
    }
}

/// One request the fake received (no secrets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub endpoint: &'static str,
    pub grant_type: Option<String>,
    pub basic_auth: bool,
    pub pkce_verified: bool,
    /// `200`, `302`, `400`, `401`, `503`.
    pub status: u16,
    pub error: Option<String>,
}

struct CodeGrant {
    redirect_uri: String,
    challenge: String,
}

struct RefreshState {
    /// Still accepted.
    valid: bool,
    /// The token this one replaced (grace mode: spent when this one is used).
    predecessor: Option<String>,
}

#[derive(Default)]
struct Inner {
    counter: u64,
    codes: HashMap<String, CodeGrant>,
    refresh: HashMap<String, RefreshState>,
    access: HashSet<String>,
    requests: Vec<Recorded>,
    wrong_state_next: bool,
    deny_next: Option<String>,
    unavailable_next: u32,
}

struct Shared {
    config: FakeOAuthConfig,
    inner: Mutex<Inner>,
    token_answered: Notify,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running fake authorization server. Dropping it stops the server.
pub struct FakeOAuth {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeOAuth {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeOAuth {
    pub async fn start(config: FakeOAuthConfig) -> std::io::Result<FakeOAuth> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            config,
            inner: Mutex::new(Inner::default()),
            token_answered: Notify::new(),
        });
        let app = Router::new()
            .route("/oauth/authorize", get(authorize))
            .route("/oauth/token", post(token))
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(FakeOAuth { addr, shared, task })
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
    pub fn auth_url(&self) -> String {
        format!("{}/oauth/authorize", self.base_url())
    }
    pub fn token_url(&self) -> String {
        format!("{}/oauth/token", self.base_url())
    }
    pub fn config(&self) -> &FakeOAuthConfig {
        &self.shared.config
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.lock().requests.clone()
    }

    /// Requests to the token endpoint with this grant type.
    pub fn token_requests(&self, grant_type: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.endpoint == "token" && r.grant_type.as_deref() == Some(grant_type))
            .count()
    }

    /// The next authorization redirects with a `state` that is not the one sent.
    pub fn send_wrong_state_next(&self) {
        self.shared.lock().wrong_state_next = true;
    }

    /// The next authorization redirects with `error=access_denied`.
    pub fn deny_next(&self) {
        self.deny_next_saying("The user denied the request");
    }

    /// The same, with this `error_description` (any text: a hostile server
    /// may send terminal control sequences).
    pub fn deny_next_saying(&self, description: &str) {
        self.shared.lock().deny_next = Some(description.to_string());
    }

    /// The next `n` token requests answer `503` with an HTML page.
    pub fn unavailable_next(&self, n: u32) {
        self.shared.lock().unavailable_next = n;
    }

    /// Revokes every refresh token issued so far: they now get `invalid_grant`.
    pub fn revoke_all_refresh_tokens(&self) {
        for state in self.shared.lock().refresh.values_mut() {
            state.valid = false;
        }
    }

    /// Revokes one refresh token.
    pub fn revoke_refresh_token(&self, token: &str) {
        if let Some(s) = self.shared.lock().refresh.get_mut(token) {
            s.valid = false;
        }
    }

    /// Whether this refresh token would be accepted now.
    pub fn refresh_token_valid(&self, token: &str) -> bool {
        self.shared
            .lock()
            .refresh
            .get(token)
            .is_some_and(|s| s.valid)
    }

    /// Whether this access token was issued by the fake.
    pub fn access_token_issued(&self, token: &str) -> bool {
        self.shared.lock().access.contains(token)
    }

    /// Resolves after the token endpoint has computed its next answer (the
    /// server's state already changed: a rotated refresh token is spent).
    pub async fn token_answered(&self) {
        self.shared.token_answered.notified().await;
    }
}

#[derive(Deserialize)]
struct AuthorizeQuery {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    state: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
}

fn bad_request(error: &str, description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

async fn authorize(State(shared): State<Arc<Shared>>, Query(q): Query<AuthorizeQuery>) -> Response {
    let mut inner = shared.lock();
    let record = |status: u16, error: Option<&str>| Recorded {
        endpoint: "authorize",
        grant_type: None,
        basic_auth: false,
        pkce_verified: false,
        status,
        error: error.map(str::to_string),
    };
    let checks: Result<(String, String), &str> = (|| {
        if q.response_type.as_deref() != Some("code") {
            return Err("unsupported_response_type");
        }
        if q.client_id.as_deref() != Some(shared.config.client_id.as_str()) {
            return Err("invalid_client");
        }
        let redirect = q.redirect_uri.clone().ok_or("invalid_request")?;
        let parsed = url::Url::parse(&redirect).map_err(|_| "invalid_request")?;
        if parsed.host_str() != Some("127.0.0.1") || parsed.scheme() != "http" {
            return Err("invalid_request");
        }
        if q.code_challenge_method.as_deref() != Some("S256") {
            return Err("invalid_request");
        }
        let challenge = q.code_challenge.clone().ok_or("invalid_request")?;
        Ok((redirect, challenge))
    })();
    let (redirect, challenge) = match checks {
        Ok(v) => v,
        Err(e) => {
            let r = record(400, Some(e));
            inner.requests.push(r);
            return bad_request(e, "the authorization request is invalid");
        }
    };
    let Ok(mut location) = url::Url::parse(&redirect) else {
        return bad_request("invalid_request", "bad redirect_uri");
    };
    if let Some(description) = inner.deny_next.take() {
        location
            .query_pairs_mut()
            .append_pair("error", "access_denied")
            .append_pair("error_description", &description)
            .append_pair("state", q.state.as_deref().unwrap_or_default());
        let r = record(302, Some("access_denied"));
        inner.requests.push(r);
    } else {
        inner.counter += 1;
        let code = format!("code-{}", inner.counter);
        inner.codes.insert(
            code.clone(),
            CodeGrant {
                redirect_uri: redirect.clone(),
                challenge,
            },
        );
        let state = if std::mem::take(&mut inner.wrong_state_next) {
            "forged-state".to_string()
        } else {
            q.state.clone().unwrap_or_default()
        };
        location
            .query_pairs_mut()
            .append_pair("code", &code)
            .append_pair("state", &state);
        let r = record(302, None);
        inner.requests.push(r);
    }
    (
        StatusCode::FOUND,
        [(header::LOCATION, location.to_string())],
    )
        .into_response()
}

#[derive(Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    refresh_token: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// `(client_id, client_secret)` from a Basic header.
fn basic_auth(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    // RFC 6749 §2.3.1: both are form-urlencoded inside the header.
    let unescape = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Some((unescape(id), unescape(secret)))
}

fn s256(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

async fn token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Form(form): Form<TokenForm>,
) -> Response {
    let response = token_inner(&shared, &headers, form);
    shared.token_answered.notify_waiters();
    response
}

fn token_inner(shared: &Shared, headers: &HeaderMap, form: TokenForm) -> Response {
    let config = &shared.config;
    let mut inner = shared.lock();
    let basic = basic_auth(headers);
    let mut rec = Recorded {
        endpoint: "token",
        grant_type: form.grant_type.clone(),
        basic_auth: basic.is_some(),
        pkce_verified: false,
        status: 200,
        error: None,
    };
    if inner.unavailable_next > 0 {
        inner.unavailable_next -= 1;
        rec.status = 503;
        inner.requests.push(rec);
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "text/html")],
            "<html><body>Service Unavailable</body></html>",
        )
            .into_response();
    }
    let fail = |inner: &mut Inner, mut rec: Recorded, status: StatusCode, error: &str| {
        rec.status = status.as_u16();
        rec.error = Some(error.to_string());
        inner.requests.push(rec);
        (
            status,
            Json(json!({"error": error, "error_description": format!("fake: {error}")})),
        )
            .into_response()
    };
    // Client authentication.
    let (id, secret) = match &basic {
        Some((id, secret)) => (Some(id.clone()), Some(secret.clone())),
        None => (form.client_id.clone(), form.client_secret.clone()),
    };
    if id.as_deref() != Some(config.client_id.as_str()) {
        return fail(&mut inner, rec, StatusCode::UNAUTHORIZED, "invalid_client");
    }
    if let Some(expected) = &config.client_secret
        && secret.as_deref() != Some(expected.as_str())
    {
        return fail(&mut inner, rec, StatusCode::UNAUTHORIZED, "invalid_client");
    }
    let issue_refresh;
    match form.grant_type.as_deref() {
        Some("authorization_code") => {
            let Some(grant) = form.code.as_deref().and_then(|c| inner.codes.remove(c)) else {
                return fail(&mut inner, rec, StatusCode::BAD_REQUEST, "invalid_grant");
            };
            if form.redirect_uri.as_deref() != Some(grant.redirect_uri.as_str()) {
                return fail(&mut inner, rec, StatusCode::BAD_REQUEST, "invalid_grant");
            }
            match form.code_verifier.as_deref() {
                Some(v) if s256(v) == grant.challenge => rec.pkce_verified = true,
                _ => return fail(&mut inner, rec, StatusCode::BAD_REQUEST, "invalid_grant"),
            }
            issue_refresh = config.issue_refresh;
        }
        Some("refresh_token") => {
            let Some(presented) = form.refresh_token.clone() else {
                return fail(&mut inner, rec, StatusCode::BAD_REQUEST, "invalid_request");
            };
            let valid = inner.refresh.get(&presented).is_some_and(|s| s.valid);
            if !valid {
                return fail(&mut inner, rec, StatusCode::BAD_REQUEST, "invalid_grant");
            }
            // Using a successor spends its predecessor (grace mode).
            let predecessor = inner
                .refresh
                .get_mut(&presented)
                .and_then(|s| s.predecessor.take());
            if let Some(p) = predecessor
                && let Some(state) = inner.refresh.get_mut(&p)
            {
                state.valid = false;
            }
            if config.rotate_refresh {
                if !config.rotation_grace
                    && let Some(state) = inner.refresh.get_mut(&presented)
                {
                    state.valid = false;
                }
                issue_refresh = true;
            } else {
                issue_refresh = false;
            }
            if issue_refresh {
                inner.counter += 1;
                let new = format!("rt-{}", inner.counter);
                inner.refresh.insert(
                    new.clone(),
                    RefreshState {
                        valid: true,
                        predecessor: config.rotation_grace.then(|| presented.clone()),
                    },
                );
                return answer(&mut inner, rec, config, Some(new));
            }
            return answer(&mut inner, rec, config, None);
        }
        _ => {
            return fail(
                &mut inner,
                rec,
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
            );
        }
    }
    let refresh = if issue_refresh {
        inner.counter += 1;
        let rt = format!("rt-{}", inner.counter);
        inner.refresh.insert(
            rt.clone(),
            RefreshState {
                valid: true,
                predecessor: None,
            },
        );
        Some(rt)
    } else {
        None
    };
    answer(&mut inner, rec, config, refresh)
}

fn answer(
    inner: &mut Inner,
    rec: Recorded,
    config: &FakeOAuthConfig,
    refresh: Option<String>,
) -> Response {
    inner.counter += 1;
    let access = format!("at-{}", inner.counter);
    inner.access.insert(access.clone());
    inner.requests.push(rec);
    let mut body = json!({"access_token": access, "token_type": "bearer", "scope": "tweet.read tweet.write offline.access"});
    if let Some(ttl) = config.access_ttl {
        body["expires_in"] = json!(ttl);
    }
    if let Some(rt) = refresh {
        body["refresh_token"] = json!(rt);
    }
    (StatusCode::OK, Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s256_matches_rfc7636_example() {
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
