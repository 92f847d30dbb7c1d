//! The console's routes as the daemon serves them, merged into its
//! listener beside `/healthz` and `/metrics` ([`crate::observe`]):
//!
//! - `GET /` (to the board until the calendar is merged), `GET /board` and
//!   its actions `POST /board/{retry,cancel,pause,resume}` ([`super::board`]);
//! - the calendar's routes (`GET /calendar`, `/calendar/{YYYY-MM}`,
//!   `/post/{id}`), merged on one marked line;
//! - `GET /console.css` ([`super::layout::STYLESHEET`]);
//! - `GET|POST /login`, `POST /logout` when a token is configured.
//!
//! Every route goes through [`guard`]: the access token when one is
//! configured (401 with the login form otherwise), the same-origin checks
//! and the form token on every POST (403), and the security headers on
//! every answer ([`super::security`]).
//!
//! Where the console listens ([`listen_address`]): with the metrics, on
//! `daemon.listen`/`--listen`, `127.0.0.1:9464` when the console is on and
//! neither is set; any address other than loopback needs the token.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use secrecy::SecretString;
use serde::Deserialize;

use super::ConsoleState;
use super::i18n::Lang;
use super::layout::{self, Page, Section};
use super::security::{self, CSRF_COOKIE, CSRF_FIELD, Guard, SESSION_COOKIE};
use crate::config::Config;

/// The largest form the console reads (its forms are a few hundred bytes).
const FORM_LIMIT: usize = 64 * 1024;

/// How the console is served, beside its [`ConsoleState`].
#[derive(Clone)]
pub struct ConsoleOptions {
    /// The access token (`[console] token`); `None`: no token, which only a
    /// loopback address allows.
    pub token: Option<SecretString>,
    /// The configuration the daemon runs with: the board acts with
    /// `berrah.toml` as it is on disk (as the command line does), and with
    /// this one when the file cannot be read.
    pub config: Arc<Config>,
}

/// What the routes share besides the [`ConsoleState`].
pub(crate) struct Shared {
    pub guard: Guard,
    pub config: Arc<Config>,
}

impl Shared {
    /// `berrah.toml` as the command line would read it now, or the
    /// daemon's when it cannot be read.
    pub fn current_config(&self, state: &ConsoleState) -> Arc<Config> {
        match &state.config_path {
            Some(path) => match crate::config::read_config(path, true) {
                Ok(Some(c)) => Arc::new(c),
                _ => self.config.clone(),
            },
            None => self.config.clone(),
        }
    }
}

/// What the guard learned of a request, for the handlers (a request
/// extension).
#[derive(Debug, Clone)]
pub struct Visit {
    /// The form token to put in every form.
    pub csrf: String,
    /// Whether the console has a token (and so a logout button).
    pub token: bool,
    /// Where the request came from (recorded with actions).
    pub peer: String,
}

/// The console's routes with their state, guarded: a plain [`Router`] to
/// merge into the daemon's listener.
pub fn router(state: ConsoleState, options: ConsoleOptions) -> Router {
    let shared = Arc::new(Shared {
        guard: Guard::new(options.token),
        config: options.config,
    });
    let routes: Router<ConsoleState> = Router::new()
        // The console opens on the calendar, the communication teams' page;
        // the board is one link away.
        .route("/", get(|| async { Redirect::to("/calendar") }))
        .merge(super::board::routes())
        .merge(super::calendar::routes())
        .route("/console.css", get(stylesheet))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout));
    routes
        .layer(axum::middleware::from_fn_with_state(
            (state.clone(), shared.clone()),
            guard,
        ))
        .layer(axum::Extension(shared))
        .with_state(state)
}

/// The interface language of a request: `?lang=`, else `Accept-Language`.
pub fn lang_of(query_lang: Option<&str>, headers: &HeaderMap) -> Lang {
    query_lang.and_then(Lang::parse).unwrap_or_else(|| {
        Lang::from_accept_language(
            headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or(""),
        )
    })
}

fn query_lang(uri: &axum::http::Uri) -> Option<String> {
    uri.query().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "lang")
            .map(|(_, v)| v.into_owned())
    })
}

/// The guard around every console route (see the module documentation).
async fn guard(
    State((state, shared)): State<(ConsoleState, Arc<Shared>)>,
    req: Request,
    next: Next,
) -> Response {
    let headers = req.headers().clone();
    let path = req.uri().path().to_string();
    let lang = lang_of(query_lang(req.uri()).as_deref(), &headers);
    let https = security::via_https(&headers);
    let now = state.clock.now();
    let g = &shared.guard;
    let (browser, fresh) = match security::cookie(&headers, CSRF_COOKIE) {
        Some(b) if security::is_browser_id(b) => (b.to_string(), false),
        _ => (security::new_browser_id(), true),
    };
    let csrf = g.csrf_for(&browser);
    let authorized = !g.needs_token()
        || g.bearer_ok(
            headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok()),
        )
        || security::cookie(&headers, SESSION_COOKIE).is_some_and(|s| g.session_ok(s, now));
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into());
    let visit = Visit {
        csrf: csrf.clone(),
        token: g.needs_token(),
        peer,
    };
    let public = path == "/login" || path == "/console.css";
    let safe = matches!(*req.method(), Method::GET | Method::HEAD);
    let mut response = if !authorized && !public {
        unauthorized(lang, &csrf, &path)
    } else if safe {
        let mut req = req;
        req.extensions_mut().insert(visit);
        next.run(req).await
    } else if let Err(why) = security::same_origin(&headers) {
        forbidden(lang, why)
    } else {
        let (parts, body) = req.into_parts();
        match axum::body::to_bytes(body, FORM_LIMIT).await {
            Err(_) => (StatusCode::PAYLOAD_TOO_LARGE, "the form is too large").into_response(),
            Ok(bytes) => {
                let given = url::form_urlencoded::parse(&bytes)
                    .find(|(k, _)| k == CSRF_FIELD)
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default();
                if fresh || !g.csrf_ok(&browser, &given) {
                    forbidden(
                        lang,
                        "the form's token is missing or out of date (the daemon restarted, or \
                         the form comes from another site): reload the page and try again",
                    )
                } else {
                    let mut req = Request::from_parts(parts, Body::from(bytes));
                    req.extensions_mut().insert(visit);
                    next.run(req).await
                }
            }
        }
    };
    let h = response.headers_mut();
    security::add_security_headers(h, path != "/console.css");
    if fresh
        && let Ok(v) =
            HeaderValue::from_str(&security::set_cookie(CSRF_COOKIE, &browser, None, https))
    {
        h.append(header::SET_COOKIE, v);
    }
    response
}

/// A page of the console's own (login, refusals) in the shell.
fn shell(lang: Lang, title: &str, body: Markup) -> Markup {
    layout::page(
        &Page {
            lang,
            title,
            section: Section::Board,
            root: "/",
            board: true,
            alternates: Vec::new(),
        },
        body,
    )
}

fn login_form(lang: Lang, csrf: &str, next: &str, error: Option<&str>) -> Markup {
    shell(
        lang,
        lang.pick("Connexion", "Sign in"),
        html! {
            section.login {
                h1 { (lang.pick("Connexion à la console", "Sign in to the console")) }
                p { (lang.pick(
                    "Cette console demande le jeton d'accès de la configuration ([console] token).",
                    "This console asks for the access token of the configuration ([console] token).")) }
                @if let Some(e) = error { p.flash.refused role="alert" { (e) } }
                form method="post" action="/login" {
                    input type="hidden" name=(CSRF_FIELD) value=(csrf);
                    input type="hidden" name="next" value=(next);
                    label { (lang.pick("Jeton d'accès", "Access token")) " "
                        input type="password" name="token" autocomplete="current-password" required; }
                    " "
                    button type="submit" { (lang.pick("Se connecter", "Sign in")) }
                }
            }
        },
    )
}

fn unauthorized(lang: Lang, csrf: &str, path: &str) -> Response {
    let next = if path.starts_with('/') && !path.starts_with("//") {
        path
    } else {
        "/board"
    };
    let mut r = (StatusCode::UNAUTHORIZED, login_form(lang, csrf, next, None)).into_response();
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"berrah console\""),
    );
    r
}

fn forbidden(lang: Lang, why: &str) -> Response {
    (
        StatusCode::FORBIDDEN,
        shell(
            lang,
            lang.pick("Refusé", "Refused"),
            html! {
                h1 { (lang.pick("Requête refusée", "Request refused")) }
                p.flash.refused role="alert" { (why) }
                p { a href="/board" { (lang.pick("Retour au tableau de bord", "Back to the board")) } }
            },
        ),
    )
        .into_response()
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        layout::STYLESHEET,
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
struct LangQuery {
    lang: Option<String>,
}

async fn login_page(
    axum::Extension(visit): axum::Extension<Visit>,
    axum::extract::Query(q): axum::extract::Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(q.lang.as_deref(), &headers);
    if !visit.token {
        return Redirect::to("/board").into_response();
    }
    login_form(lang, &visit.csrf, "/board", None).into_response()
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    next: String,
}

async fn login(
    State(state): State<ConsoleState>,
    axum::Extension(shared): axum::Extension<Arc<Shared>>,
    axum::Extension(visit): axum::Extension<Visit>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<LoginForm>,
) -> Response {
    let lang = lang_of(None, &headers);
    let g = &shared.guard;
    if !g.needs_token() {
        return Redirect::to("/board").into_response();
    }
    if !g.token_ok(&form.token) {
        tracing::warn!(peer = %visit.peer, "console: a sign-in with a wrong token was refused");
        let mut r = (
            StatusCode::UNAUTHORIZED,
            login_form(
                lang,
                &visit.csrf,
                &form.next,
                Some(lang.pick("Ce jeton n'est pas le bon.", "This is not the token.")),
            ),
        )
            .into_response();
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"berrah console\""),
        );
        return r;
    }
    let next = if form.next.starts_with('/')
        && !form.next.starts_with("//")
        && !form.next.contains('\\')
    {
        form.next.as_str()
    } else {
        "/board"
    };
    let session = g.new_session(state.clock.now());
    let cookie = security::set_cookie(
        SESSION_COOKIE,
        &session,
        Some(security::SESSION_HOURS * 3600),
        security::via_https(&headers),
    );
    let mut r = Redirect::to(next).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

async fn logout(headers: HeaderMap) -> Response {
    let mut r = Redirect::to("/login").into_response();
    let cookie = security::set_cookie(SESSION_COOKIE, "", Some(0), security::via_https(&headers));
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

/// Why the console cannot listen as configured.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleListenError {
    #[error(
        "the console would be reachable from other machines on {0} without an access token: \
         set `token = \"env:BERRAH_CONSOLE_TOKEN\"` (or `\"file:PATH\"`) under `[console]` in \
         berrah.toml, or listen on a loopback address such as 127.0.0.1:9464"
    )]
    NeedsToken(SocketAddr),
    #[error(transparent)]
    Address(#[from] crate::observe::ListenError),
}

/// Where the listener binds: `listen` as written (`--listen`, else
/// `daemon.listen`), the default address when the console is on and
/// neither is set; refused when the console would be reachable from
/// another machine without a token (pure).
pub fn listen_address(
    listen: Option<&str>,
    console: bool,
    token: bool,
) -> Result<Option<SocketAddr>, ConsoleListenError> {
    let listen = match listen {
        Some(l) => Some(crate::observe::listener::parse_address(l)?),
        None if console => Some(crate::observe::listener::parse_address(
            crate::observe::listener::DEFAULT_ADDRESS,
        )?),
        None => None,
    };
    if let Some(addr) = listen
        && console
        && !token
        && !addr.ip().is_loopback()
    {
        return Err(ConsoleListenError::NeedsToken(addr));
    }
    Ok(listen)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_console_needs_a_token_off_loopback() {
        assert_eq!(listen_address(None, false, false).unwrap(), None);
        assert_eq!(
            listen_address(None, true, false).unwrap(),
            Some("127.0.0.1:9464".parse().unwrap())
        );
        assert_eq!(
            listen_address(Some("[::1]:80"), true, false).unwrap(),
            Some("[::1]:80".parse().unwrap())
        );
        let e = listen_address(Some("0.0.0.0:9464"), true, false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("[console]") && e.contains("token"), "{e}");
        assert!(listen_address(Some("0.0.0.0:9464"), true, true).is_ok());
        // The metrics alone may listen anywhere (they change nothing).
        assert!(listen_address(Some("0.0.0.0:9464"), false, false).is_ok());
    }

    #[test]
    fn the_language_comes_from_the_query_then_the_browser() {
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT_LANGUAGE,
            HeaderValue::from_static("en-GB,en;q=0.9,fr;q=0.5"),
        );
        assert_eq!(lang_of(None, &h), Lang::En);
        assert_eq!(lang_of(Some("fr"), &h), Lang::Fr);
        assert_eq!(lang_of(Some("de"), &h), Lang::En);
        assert_eq!(lang_of(None, &HeaderMap::new()), Lang::Fr);
    }
}
