//! OAuth 2.0 with the `oauth2` crate: the authorization-code flow with PKCE
//! (S256) through a loopback redirect listener (RFC 8252: a native app
//! listens on 127.0.0.1 at an ephemeral port), and refresh-token grants.
//!
//! `oauth2` is built without its own HTTP client (it would bring a second
//! reqwest); [`send`] adapts our reqwest client to it. That client never
//! follows redirects, as `oauth2`'s documentation requires against SSRF: a
//! token endpoint that redirects is an error, not a hop to another host.
//!
//! Client ids and secrets come from environment variables named by the
//! account's config (`options.client_id_env`, `options.client_secret_env`),
//! read at use and never logged.

use std::fmt;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::response::Html;
use oauth2::basic::{
    BasicErrorResponse, BasicErrorResponseType, BasicRevocationErrorResponse,
    BasicTokenIntrospectionResponse, BasicTokenType,
};
use oauth2::{
    AccessToken, AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    EndpointNotSet, EndpointSet, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken,
    RequestTokenError, Scope, StandardRevocableToken, TokenResponse, TokenUrl,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use super::providers::{ClientAuth, OAuthEndpoints};
use super::tokens::TokenSet;
use crate::config::AccountConfig;

/// A token-endpoint answer, lenient where providers differ: LinkedIn's may
/// lack `token_type`, Mastodon's lacks `expires_in`, Google's refreshes lack
/// `refresh_token`. LinkedIn adds `refresh_token_expires_in`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct TokenAnswer {
    access_token: AccessToken,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    token_type: Option<String>,
    #[serde(skip, default = "bearer")]
    basic_type: BasicTokenType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_in: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_token: Option<RefreshToken>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_token_expires_in: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    #[serde(skip)]
    scopes: Option<Vec<Scope>>,
}

fn bearer() -> BasicTokenType {
    BasicTokenType::Bearer
}

impl TokenResponse for TokenAnswer {
    type TokenType = BasicTokenType;
    fn access_token(&self) -> &AccessToken {
        &self.access_token
    }
    fn token_type(&self) -> &BasicTokenType {
        &self.basic_type
    }
    fn expires_in(&self) -> Option<Duration> {
        self.expires_in.map(Duration::from_secs)
    }
    fn refresh_token(&self) -> Option<&RefreshToken> {
        self.refresh_token.as_ref()
    }
    fn scopes(&self) -> Option<&Vec<Scope>> {
        self.scopes.as_ref()
    }
}

impl TokenAnswer {
    /// The secrets of this answer (not merged with older ones: see [`TokenSet::merged`]).
    pub fn tokens(&self) -> TokenSet {
        TokenSet {
            access: SecretString::from(self.access_token.secret().to_string()),
            refresh: self
                .refresh_token
                .as_ref()
                .map(|r| SecretString::from(r.secret().to_string())),
            scope: self.scope.clone(),
        }
    }

    /// Seconds until the access token expires, if the server said.
    pub fn expires_in_secs(&self) -> Option<u64> {
        self.expires_in
    }

    /// Seconds until the refresh token expires, if the server said (LinkedIn).
    pub fn refresh_expires_in_secs(&self) -> Option<u64> {
        self.refresh_token_expires_in
    }
}

type OAuthClient = oauth2::Client<
    BasicErrorResponse,
    TokenAnswer,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// A transport failure talking to a token endpoint. Carries no request data.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpError(String);

/// Sends one `oauth2` request with our reqwest client and returns the answer
/// as `oauth2` expects it.
pub async fn send(
    client: &reqwest::Client,
    request: oauth2::HttpRequest,
) -> Result<oauth2::HttpResponse, HttpError> {
    let request = reqwest::Request::try_from(request)
        .map_err(|e| HttpError(format!("bad request: {}", e.without_url())))?;
    let response = client
        .execute(request)
        .await
        // `without_url`: a URL may carry a query with a token in it.
        .map_err(|e| HttpError(e.without_url().to_string()))?;
    let status = response.status();
    let headers = response.headers().clone();
    // A token answer is a few hundred bytes; an error one as small.
    let limit = if status.is_success() {
        crate::http::JSON_BODY_LIMIT
    } else {
        crate::http::ERROR_BODY_LIMIT
    };
    let body = crate::http::read_bytes(response, limit)
        .await
        .map_err(|e| match e {
            crate::http::BodyError::Transport(e) => HttpError(e.without_url().to_string()),
            too_large => HttpError(format!("the token endpoint's {too_large}")),
        })?;
    let mut builder = oauth2::http::Response::builder().status(status.as_u16());
    for (name, value) in &headers {
        builder = builder.header(name.as_str(), value.as_bytes());
    }
    builder.body(body).map_err(|e| HttpError(e.to_string()))
}

/// The client's id and (optional) secret. `Debug` hides the secret.
#[derive(Clone)]
pub struct ClientCredentials {
    pub id: String,
    pub secret: Option<SecretString>,
}

impl fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("id", &self.id)
            .field("secret", &self.secret.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

impl ClientCredentials {
    /// Reads the variables named by `options.client_id_env` (required) and
    /// `options.client_secret_env` (optional: public clients have none).
    /// Errors name the option or variable, never a value.
    pub fn from_config(cfg: &AccountConfig) -> Result<ClientCredentials, String> {
        let id_var = cfg.option_str("client_id_env").ok_or_else(|| {
            "set `options.client_id_env` to the name of the environment variable holding the OAuth client id \
             (e.g. client_id_env = \"X_CLIENT_ID\")"
                .to_string()
        })?;
        let id = read_var(id_var)?;
        let secret = match cfg.option_str("client_secret_env") {
            Some(var) => Some(SecretString::from(read_var(var)?)),
            None => None,
        };
        Ok(ClientCredentials { id, secret })
    }
}

fn read_var(var: &str) -> Result<String, String> {
    let shown = super::vars::shown_var_name(var);
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Ok(v.trim().to_string()),
        Ok(_) => Err(format!("the environment variable {shown} is empty")),
        Err(_) => Err(format!("the environment variable {shown} is not set")),
    }
}

/// Why a login or a refresh failed.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// The server refused the grant: the refresh token or code is spent,
    /// revoked or expired, or the client is not allowed. Only a new login helps.
    #[error("the authorization server refused: {0}")]
    Refused(String),
    /// The server could not be reached or answered something unusable; try later.
    #[error("the authorization server could not answer: {0}")]
    Transient(String),
    /// The `state` of the redirect is not the one we sent: a forged or stale redirect.
    #[error(
        "the redirect's `state` does not match the one berrah sent: refused (a stale browser tab or a forged redirect); run the login again"
    )]
    StateMismatch,
    /// The operator declined, or the server reported an error in the redirect.
    #[error("the authorization was not granted: {0}")]
    Denied(String),
    #[error("no redirect arrived within {0} seconds; run the login again")]
    Timeout(u64),
    #[error("{0}")]
    Config(String),
}

fn build_client(
    endpoints: &OAuthEndpoints,
    creds: &ClientCredentials,
    redirect_uri: Option<&str>,
) -> Result<OAuthClient, OAuthError> {
    let auth = AuthUrl::new(endpoints.auth_url.clone())
        .map_err(|e| OAuthError::Config(format!("authorize URL: {e}")))?;
    let token = TokenUrl::new(endpoints.token_url.clone())
        .map_err(|e| OAuthError::Config(format!("token URL: {e}")))?;
    let mut client: OAuthClient = oauth2::Client::new(ClientId::new(creds.id.clone()))
        .set_auth_uri(auth)
        .set_token_uri(token);
    if let Some(secret) = &creds.secret {
        client = client.set_client_secret(ClientSecret::new(secret.expose_secret().to_string()));
    }
    client = client.set_auth_type(match (endpoints.client_auth, &creds.secret) {
        (ClientAuth::BasicIfSecret, Some(_)) => AuthType::BasicAuth,
        _ => AuthType::RequestBody,
    });
    if let Some(uri) = redirect_uri {
        client = client.set_redirect_uri(
            RedirectUrl::new(uri.to_string())
                .map_err(|e| OAuthError::Config(format!("redirect URI: {e}")))?,
        );
    }
    Ok(client)
}

fn http_client() -> reqwest::Client {
    // `client_builder` already disables redirects; built here once per call
    // of a rare operation (login, refresh), so no shared state is needed.
    crate::http::client_builder()
        .build()
        .unwrap_or_else(|_| crate::http::client())
}

/// Sorts a token-endpoint failure into "only a login helps" and "try later".
fn classify(e: RequestTokenError<HttpError, BasicErrorResponse>) -> OAuthError {
    match e {
        RequestTokenError::ServerResponse(resp) => {
            let code = resp.error().clone();
            // The server's words, printed by `accounts login` and logged by
            // refresh: never a terminal control sequence.
            let text = match resp.error_description() {
                Some(d) => format!("{code}: {d}"),
                None => code.to_string(),
            };
            let text = crate::text::sanitize::for_terminal_owned(text);
            match code {
                // X answers `invalid_request` for a spent or revoked refresh
                // token; everyone else `invalid_grant`.
                BasicErrorResponseType::InvalidGrant
                | BasicErrorResponseType::InvalidRequest
                | BasicErrorResponseType::InvalidClient
                | BasicErrorResponseType::UnauthorizedClient
                | BasicErrorResponseType::UnsupportedGrantType
                | BasicErrorResponseType::InvalidScope => OAuthError::Refused(text),
                // `server_error`, `temporarily_unavailable` and anything
                // unknown: not a reason to give up on the account.
                BasicErrorResponseType::Extension(_) => OAuthError::Transient(text),
            }
        }
        RequestTokenError::Request(e) => OAuthError::Transient(e.to_string()),
        RequestTokenError::Parse(_, body) => OAuthError::Transient(format!(
            "an answer that is not a token response ({} bytes)",
            body.len()
        )),
        RequestTokenError::Other(s) => {
            OAuthError::Transient(crate::text::sanitize::for_terminal_owned(s))
        }
    }
}

/// A login waiting for its redirect: the URL for the operator, and what
/// checks the answer (`state`, PKCE verifier). `Debug` hides both.
pub struct PendingLogin {
    pub url: url::Url,
    pub redirect_uri: String,
    state: CsrfToken,
    verifier: PkceCodeVerifier,
    client: OAuthClient,
}

impl fmt::Debug for PendingLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingLogin")
            .field("redirect_uri", &self.redirect_uri)
            .field("state", &"[redacted]")
            .field("verifier", &"[redacted]")
            .finish()
    }
}

/// Prepares a login: a fresh PKCE verifier (S256) and `state`, and the
/// authorization URL to open.
pub fn start_login(
    endpoints: &OAuthEndpoints,
    creds: &ClientCredentials,
    redirect_uri: &str,
) -> Result<PendingLogin, OAuthError> {
    let client = build_client(endpoints, creds, Some(redirect_uri))?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client
        .authorize_url(CsrfToken::new_random)
        .add_scopes(endpoints.scopes.iter().cloned().map(Scope::new))
        .set_pkce_challenge(challenge);
    for (k, v) in &endpoints.extra_auth_params {
        request = request.add_extra_param(k.clone(), v.clone());
    }
    let (url, state) = request.url();
    Ok(PendingLogin {
        url,
        redirect_uri: redirect_uri.to_string(),
        state,
        verifier,
        client,
    })
}

/// What the browser brought back to the redirect URI.
#[derive(Clone, Default, Deserialize)]
pub struct Callback {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

impl fmt::Debug for Callback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Callback")
            .field("code", &self.code.as_ref().map(|_| "[redacted]"))
            .field("state", &self.state.as_ref().map(|_| "[redacted]"))
            .field("error", &self.error)
            .field("error_description", &self.error_description)
            .finish()
    }
}

/// Tells the redirect of this login from any other request to the loopback
/// listener: the `state` it must carry, compared in constant time. `Debug`
/// hides it.
#[derive(Clone)]
pub struct StateCheck(String);

impl StateCheck {
    pub fn matches(&self, state: Option<&str>) -> bool {
        state.is_some_and(|s| constant_time_eq(s.as_bytes(), self.0.as_bytes()))
    }
}

impl fmt::Debug for StateCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StateCheck([redacted])")
    }
}

impl PendingLogin {
    /// What the loopback listener waits for ([`LoopbackListener::wait`]).
    pub fn state_check(&self) -> StateCheck {
        StateCheck(self.state.secret().clone())
    }

    /// Checks the redirect's `state`, then exchanges the code (with the PKCE
    /// verifier) for tokens.
    pub async fn finish(self, callback: Callback) -> Result<TokenAnswer, OAuthError> {
        // The listener only hands over a callback with the right `state`;
        // checked again here, before anything else of it is believed.
        if !self.state_check().matches(callback.state.as_deref()) {
            return Err(OAuthError::StateMismatch);
        }
        if let Some(error) = callback.error {
            let why = match callback.error_description {
                Some(d) => format!("{error}: {d}"),
                None => error,
            };
            return Err(OAuthError::Denied(
                crate::text::sanitize::for_terminal_owned(why),
            ));
        }
        let code = callback
            .code
            .filter(|c| !c.is_empty())
            .ok_or_else(|| OAuthError::Denied("the redirect carried no `code`".into()))?;
        let http = http_client();
        let send_fn = |req: oauth2::HttpRequest| {
            let http = http.clone();
            async move { send(&http, req).await }
        };
        self.client
            .exchange_code(AuthorizationCode::new(code))
            .set_pkce_verifier(self.verifier)
            .request_async(&send_fn)
            .await
            .map_err(classify)
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Exchanges a refresh token for a new access token (and, on rotating
/// platforms, a new refresh token).
pub async fn refresh(
    endpoints: &OAuthEndpoints,
    creds: &ClientCredentials,
    refresh_token: &SecretString,
) -> Result<TokenAnswer, OAuthError> {
    let client = build_client(endpoints, creds, None)?;
    let http = http_client();
    let send_fn = |req: oauth2::HttpRequest| {
        let http = http.clone();
        async move { send(&http, req).await }
    };
    let token = RefreshToken::new(refresh_token.expose_secret().to_string());
    client
        .exchange_refresh_token(&token)
        .request_async(&send_fn)
        .await
        .map_err(classify)
}

/// The loopback listener that receives the browser's redirect: 127.0.0.1 on
/// an ephemeral port (RFC 8252 §7.3), one callback, then it closes.
///
/// Any local process, or a web page the operator visits, can send requests
/// to it. Only a callback carrying the login's `state` counts (a grant or
/// an error): any other is answered with an error page and ignored, and
/// the login keeps waiting for the right one until its timeout, so that a
/// stray or forged request can neither plant its code nor end the login.
pub struct LoopbackListener {
    listener: tokio::net::TcpListener,
    port: u16,
}

impl LoopbackListener {
    pub async fn bind() -> std::io::Result<LoopbackListener> {
        LoopbackListener::bind_port(0).await
    }

    /// On a fixed port, for providers that match the registered redirect URI
    /// exactly, port included (LinkedIn, some X apps): `options.redirect_port`.
    pub async fn bind_port(port: u16) -> std::io::Result<LoopbackListener> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let port = listener.local_addr()?.port();
        Ok(LoopbackListener { listener, port })
    }

    /// The redirect URI to register and send: `http://127.0.0.1:PORT/callback`.
    pub fn redirect_uri(&self) -> String {
        format!("http://127.0.0.1:{}/callback", self.port)
    }

    /// Serves until a request with the right `state` reaches `/callback`
    /// (or `timeout` passes) and returns its query.
    pub async fn wait(self, timeout: Duration, state: StateCheck) -> Result<Callback, OAuthError> {
        let (tx, mut rx) = mpsc::channel::<Callback>(1);
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let app = axum::Router::new()
            .route("/callback", axum::routing::get(callback_handler))
            .with_state((tx, state));
        let server = tokio::spawn(async move {
            let _ = axum::serve(self.listener, app)
                .with_graceful_shutdown(async {
                    let _ = stop_rx.await;
                })
                .await;
        });
        let result = tokio::time::timeout(timeout, rx.recv()).await;
        let _ = stop_tx.send(());
        let _ = server.await;
        match result {
            Ok(Some(cb)) => Ok(cb),
            Ok(None) => Err(OAuthError::Transient(
                "the redirect listener stopped".into(),
            )),
            Err(_) => Err(OAuthError::Timeout(timeout.as_secs())),
        }
    }
}

async fn callback_handler(
    State((tx, state)): State<(mpsc::Sender<Callback>, StateCheck)>,
    Query(cb): Query<Callback>,
) -> (axum::http::StatusCode, Html<&'static str>) {
    if !state.matches(cb.state.as_deref()) {
        tracing::warn!(
            "ignored a request to the login's redirect address that does not carry this \
             login's `state` (a stale browser tab or a forged redirect); still waiting"
        );
        return (
            axum::http::StatusCode::BAD_REQUEST,
            Html(
                "<!doctype html><meta charset=utf-8><title>berrah</title><p>This is not the \
                 authorization berrah is waiting for (its <code>state</code> does not match): \
                 ignored. Use the address the terminal shows now.</p>",
            ),
        );
    }
    let ok = cb.error.is_none();
    let _ = tx.try_send(cb);
    let page = if ok {
        "<!doctype html><meta charset=utf-8><title>berrah</title><p>berrah received the authorization. You can close this tab and go back to the terminal.</p>"
    } else {
        "<!doctype html><meta charset=utf-8><title>berrah</title><p>The authorization was not granted. See the terminal.</p>"
    };
    (axum::http::StatusCode::OK, Html(page))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_answer_is_lenient_and_redacted() {
        let a: TokenAnswer =
            serde_json::from_str(r#"{"access_token":"AT-SECRET","expires_in":5184000}"#).unwrap();
        assert_eq!(a.expires_in_secs(), Some(5184000));
        assert!(a.tokens().refresh.is_none());
        assert!(!format!("{a:?}").contains("AT-SECRET"));
    }

    #[test]
    fn client_credentials_debug_hides_secret() {
        let c = ClientCredentials {
            id: "id".into(),
            secret: Some(SecretString::from("CS-SECRET".to_string())),
        };
        assert!(!format!("{c:?}").contains("CS-SECRET"));
    }

    fn check(state: &str) -> StateCheck {
        StateCheck(state.to_string())
    }

    #[tokio::test]
    async fn the_listener_gives_up_after_its_timeout_and_takes_one_callback() {
        let listener = LoopbackListener::bind().await.unwrap();
        let err = listener
            .wait(Duration::from_millis(20), check("s1"))
            .await
            .unwrap_err();
        assert!(matches!(err, OAuthError::Timeout(_)));

        let listener = LoopbackListener::bind().await.unwrap();
        let uri = listener.redirect_uri();
        assert!(uri.starts_with("http://127.0.0.1:") && uri.ends_with("/callback"));
        let waiting = tokio::spawn(listener.wait(Duration::from_secs(30), check("s1")));
        // Wrong, missing or empty `state`, with a code or an error: an error
        // page, and the listener keeps waiting.
        for query in [
            "code=planted&state=s2",
            "code=planted",
            "code=planted&state=",
            "error=access_denied&state=forged",
            "error=access_denied",
        ] {
            let page = crate::http::client()
                .get(format!("{uri}?{query}"))
                .send()
                .await
                .unwrap();
            assert_eq!(page.status().as_u16(), 400, "{query}");
            assert!(page.text().await.unwrap().contains("not the authorization"));
        }
        assert!(!waiting.is_finished(), "a wrong state ended the wait");
        let page = crate::http::client()
            .get(format!("{uri}?code=c1&state=s1"))
            .send()
            .await
            .unwrap();
        assert!(page.status().is_success());
        let cb = waiting.await.unwrap().unwrap();
        assert_eq!(cb.code.as_deref(), Some("c1"));
        assert_eq!(cb.state.as_deref(), Some("s1"));
        assert!(
            !format!("{cb:?}").contains("c1"),
            "the code is redacted in Debug"
        );
    }

    #[test]
    fn state_checks_hide_the_state() {
        let c = check("s3cret-state");
        assert!(c.matches(Some("s3cret-state")));
        assert!(!c.matches(Some("s3cret-stat")) && !c.matches(None));
        assert!(!format!("{c:?}").contains("s3cret"));
    }

    #[test]
    fn constant_time_eq_works() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
