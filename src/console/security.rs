//! The console's protections (pure, except reading the token at start):
//!
//! - the access token (`[console] token = "env:VAR" | "file:PATH"`, read
//!   through [`crate::auth::sources`]' credential sources): with one, every
//!   console request needs it, as `Authorization: Bearer TOKEN` or as the
//!   session cookie the login form sets (`HttpOnly; SameSite=Strict`), an
//!   HMAC of its issue time under a key derived from the token, valid
//!   [`SESSION_HOURS`] hours; comparisons are constant-time; the token
//!   itself is never logged, shown or put in a cookie;
//! - cross-site requests: every POST carries a form token tied to the
//!   browser's cookie ([`CSRF_COOKIE`], an HMAC under a key drawn at each
//!   start), and is refused when `Sec-Fetch-Site` says another site or
//!   `Origin` names another host than the one asked;
//! - the security headers of every console response ([`SECURITY_HEADERS`]).

use std::path::Path;

use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use hmac::{Hmac, Mac};
use jiff::Timestamp;
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

use crate::auth::Credentials;
use crate::auth::sources::{EnvCredentials, FileCredentials, Source};

type HmacSha256 = Hmac<Sha256>;

/// The login form's session cookie.
pub const SESSION_COOKIE: &str = "berrah_session";
/// The browser's random id, which the form tokens are tied to.
pub const CSRF_COOKIE: &str = "berrah_csrf";
/// The form field of the form token.
pub const CSRF_FIELD: &str = "csrf";
/// How long a login lasts.
pub const SESSION_HOURS: i64 = 12;

/// The Content-Security-Policy of every console page: its own stylesheet
/// and images, no script at all, no frame, forms posted only to itself.
pub const CSP: &str = "default-src 'self'; script-src 'none'; object-src 'none'; \
                       base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The headers every console response carries (the pages add
/// `Cache-Control: no-store`).
pub const SECURITY_HEADERS: [(&str, &str); 6] = [
    ("content-security-policy", CSP),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
];

/// Why the console cannot start or a token cannot be read. Never holds the
/// token.
#[derive(Debug, thiserror::Error)]
pub enum SecurityError {
    #[error(
        "`[console] token` must say where the token is (\"env:VAR\" or \"file:PATH\"), not be \
         the token (its value is not shown)"
    )]
    NotASource,
    #[error("the console's token cannot be read: {0}")]
    Unreadable(String),
}

/// Reads `[console] token`'s source: `env:VAR` or `file:PATH` only.
pub fn token_source(text: &str) -> Result<Source, SecurityError> {
    match Source::parse(text) {
        Ok(s @ (Source::Env(_) | Source::File(_))) => Ok(s),
        _ => Err(SecurityError::NotASource),
    }
}

/// Reads the token from its source (a `file:` path relative to
/// `config_dir`), trimmed, with the credential sources of the accounts.
pub async fn read_token(text: &str, config_dir: &Path) -> Result<SecretString, SecurityError> {
    let unreadable = |e: crate::auth::AuthError| {
        SecurityError::Unreadable(match e {
            crate::auth::AuthError::Config { why, .. } => why,
            other => other.to_string(),
        })
    };
    let account = "console".to_string();
    let secret = match token_source(text)? {
        Source::Env(var) => EnvCredentials { account, var }.secret().await,
        Source::File(path) => {
            let path = if path.is_absolute() {
                path
            } else {
                config_dir.join(path)
            };
            FileCredentials { account, path }.secret().await
        }
        Source::Store => return Err(SecurityError::NotASource),
    };
    secret.map_err(unreadable)
}

/// Equality of two byte strings in a time that depends on their lengths only.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn mac(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut m = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    for p in parts {
        m.update(p);
        m.update(&[0]);
    }
    m.finalize().into_bytes().to_vec()
}

/// The console's keys: the token (if any), the session key derived from
/// it, and the form-token key drawn at start.
pub struct Guard {
    token: Option<SecretString>,
    session_key: Vec<u8>,
    csrf_key: [u8; 32],
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("token", &self.token.as_ref().map(|_| "[set]"))
            .finish_non_exhaustive()
    }
}

impl Guard {
    /// A guard for `token` (`None`: the console is open, on loopback only).
    pub fn new(token: Option<SecretString>) -> Guard {
        let session_key = match &token {
            Some(t) => mac(
                t.expose_secret().as_bytes(),
                &[b"berrah console session v1"],
            ),
            None => Vec::new(),
        };
        Guard {
            token,
            session_key,
            csrf_key: rand::random(),
        }
    }

    /// Whether requests need the token.
    pub fn needs_token(&self) -> bool {
        self.token.is_some()
    }

    /// Whether `given` is the token (constant-time).
    pub fn token_ok(&self, given: &str) -> bool {
        match &self.token {
            Some(t) => constant_time_eq(t.expose_secret().as_bytes(), given.trim().as_bytes()),
            None => false,
        }
    }

    /// Whether an `Authorization` header carries the token as a bearer.
    pub fn bearer_ok(&self, authorization: Option<&str>) -> bool {
        authorization
            .and_then(|a| {
                let (scheme, rest) = a.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then_some(rest)
            })
            .is_some_and(|t| self.token_ok(t))
    }

    /// A session cookie's value issued at `now`: `SECONDS.MAC`.
    pub fn new_session(&self, now: Timestamp) -> String {
        let at = now.as_second().to_string();
        format!(
            "{at}.{}",
            hex::encode(mac(&self.session_key, &[b"session", at.as_bytes()]))
        )
    }

    /// Whether a session cookie's value is one of ours, issued less than
    /// [`SESSION_HOURS`] ago (and not in the future).
    pub fn session_ok(&self, value: &str, now: Timestamp) -> bool {
        if self.token.is_none() {
            return false;
        }
        let Some((at, tag)) = value.split_once('.') else {
            return false;
        };
        let Ok(issued) = at.parse::<i64>() else {
            return false;
        };
        let age = now.as_second() - issued;
        if !(-60..SESSION_HOURS * 3600).contains(&age) {
            return false;
        }
        let expected = hex::encode(mac(&self.session_key, &[b"session", at.as_bytes()]));
        constant_time_eq(expected.as_bytes(), tag.as_bytes())
    }

    /// The form token of the browser whose [`CSRF_COOKIE`] is `browser`.
    pub fn csrf_for(&self, browser: &str) -> String {
        hex::encode(mac(&self.csrf_key, &[b"csrf", browser.as_bytes()]))
    }

    /// The tag of a message the console put in a redirect (`?msg=`), so
    /// that a link made elsewhere cannot show its own words on the board.
    pub fn flash_tag(&self, message: &str) -> String {
        hex::encode(&mac(&self.csrf_key, &[b"flash", message.as_bytes()])[..16])
    }

    /// Whether `tag` is [`Guard::flash_tag`] of `message` (constant-time).
    pub fn flash_ok(&self, message: &str, tag: &str) -> bool {
        constant_time_eq(self.flash_tag(message).as_bytes(), tag.as_bytes())
    }

    /// Whether `given` is the form token of `browser` (constant-time).
    pub fn csrf_ok(&self, browser: &str, given: &str) -> bool {
        !browser.is_empty() && constant_time_eq(self.csrf_for(browser).as_bytes(), given.as_bytes())
    }
}

/// A new browser id for [`CSRF_COOKIE`]: 32 random bytes in hex.
pub fn new_browser_id() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// Whether a [`CSRF_COOKIE`] value has the shape we issue.
pub fn is_browser_id(value: &str) -> bool {
    value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, for the whole console;
/// `Secure` when a proxy says the browser came by HTTPS. `max_age` in
/// seconds, 0 to remove it, `None` for the browser's session.
pub fn set_cookie(name: &str, value: &str, max_age: Option<i64>, https: bool) -> String {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if https {
        c.push_str("; Secure");
    }
    c
}

/// Whether the request came through a proxy by HTTPS.
pub fn via_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"))
}

/// Why a state-changing request from another site is refused: `Err` with
/// the reason when `Sec-Fetch-Site` names another site, or `Origin` is not
/// the host the request was sent to (`Host`, or `X-Forwarded-Host` behind
/// a proxy); `Origin: null` passes only with `Sec-Fetch-Site: same-origin`
/// (the console's own forms under `no-referrer`). Requests without either
/// header (command-line clients) pass: the form token still guards them.
pub fn same_origin(headers: &HeaderMap) -> Result<(), &'static str> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = get("sec-fetch-site")
        && !matches!(site.trim(), "same-origin" | "none")
    {
        return Err("the request comes from another site (Sec-Fetch-Site)");
    }
    let Some(origin) = get("origin") else {
        return Ok(());
    };
    // With `Referrer-Policy: no-referrer` (the console's), browsers send
    // `Origin: null` on their own forms; `Sec-Fetch-Site`, which a page
    // cannot set, then says where the form was.
    if origin.trim() == "null" && get("sec-fetch-site").is_some() {
        return Ok(());
    }
    let authority = origin
        .trim()
        .strip_prefix("http://")
        .or_else(|| origin.trim().strip_prefix("https://"))
        .filter(|a| !a.is_empty() && !a.contains('/'));
    let Some(authority) = authority else {
        return Err("the request comes from another site (Origin)");
    };
    let hosts = [get("x-forwarded-host"), get("host")];
    if hosts
        .iter()
        .flatten()
        .any(|h| h.trim().eq_ignore_ascii_case(authority))
    {
        Ok(())
    } else {
        Err("the request comes from another site (Origin)")
    }
}

/// Adds [`SECURITY_HEADERS`] (and `Cache-Control: no-store` when `no_store`).
pub fn add_security_headers(headers: &mut HeaderMap, no_store: bool) {
    for (name, value) in SECURITY_HEADERS {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    if no_store {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard() -> Guard {
        Guard::new(Some(SecretString::from("s3cret-token-0123456789")))
    }

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn the_token_is_checked_exactly_and_as_a_bearer() {
        let g = guard();
        assert!(g.needs_token());
        assert!(g.token_ok("s3cret-token-0123456789"));
        assert!(!g.token_ok("s3cret-token-012345678"));
        assert!(!g.token_ok(""));
        assert!(g.bearer_ok(Some("Bearer s3cret-token-0123456789")));
        assert!(g.bearer_ok(Some("bearer s3cret-token-0123456789")));
        assert!(!g.bearer_ok(Some("Basic s3cret-token-0123456789")));
        assert!(!g.bearer_ok(Some("Bearer nope")));
        assert!(!g.bearer_ok(None));
        let open = Guard::new(None);
        assert!(!open.needs_token());
        assert!(!open.token_ok(""));
        assert!(!format!("{g:?}").contains("s3cret"));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }

    #[test]
    fn sessions_are_signed_expire_and_hold_no_token() {
        let g = guard();
        let now = t("2026-12-18T09:00:00Z");
        let s = g.new_session(now);
        assert!(!s.contains("s3cret"));
        assert!(g.session_ok(&s, now));
        assert!(g.session_ok(&s, t("2026-12-18T20:59:00Z")));
        assert!(!g.session_ok(&s, t("2026-12-18T21:00:00Z")), "expired");
        assert!(
            !g.session_ok(&s, t("2026-12-18T08:00:00Z")),
            "from the future"
        );
        let (at, tag) = s.split_once('.').unwrap();
        let later = (at.parse::<i64>().unwrap() + 3600).to_string();
        assert!(!g.session_ok(&format!("{later}.{tag}"), now), "time moved");
        assert!(!g.session_ok("garbage", now));
        // Another token: the same cookie is worthless.
        let other = Guard::new(Some(SecretString::from("another-token")));
        assert!(!other.session_ok(&s, now));
        // The same token after a restart: still valid.
        assert!(guard().session_ok(&s, now));
    }

    #[test]
    fn form_tokens_are_tied_to_the_browser_and_the_process() {
        let g = guard();
        let a = new_browser_id();
        let b = new_browser_id();
        assert!(is_browser_id(&a) && a != b);
        assert!(!is_browser_id("short"));
        let token = g.csrf_for(&a);
        assert!(g.csrf_ok(&a, &token));
        assert!(!g.csrf_ok(&b, &token));
        assert!(!g.csrf_ok("", &g.csrf_for("")));
        assert!(!g.csrf_ok(&a, ""));
        // Another start draws another key.
        assert!(!guard().csrf_ok(&a, &token));
        let tag = g.flash_tag("done\nretried o-1");
        assert!(g.flash_ok("done\nretried o-1", &tag));
        assert!(!g.flash_ok("done\nsomething else", &tag));
    }

    #[test]
    fn cross_site_requests_are_recognised() {
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut h = HeaderMap::new();
            for (k, v) in pairs {
                h.insert(*k, HeaderValue::from_static(v));
            }
            h
        };
        assert!(same_origin(&headers(&[])).is_ok());
        assert!(same_origin(&headers(&[("host", "127.0.0.1:9464")])).is_ok());
        assert!(
            same_origin(&headers(&[
                ("host", "127.0.0.1:9464"),
                ("origin", "http://127.0.0.1:9464"),
                ("sec-fetch-site", "same-origin"),
            ]))
            .is_ok()
        );
        assert!(
            same_origin(&headers(&[
                ("host", "127.0.0.1:9464"),
                ("origin", "https://evil.example"),
            ]))
            .is_err()
        );
        assert!(same_origin(&headers(&[("host", "127.0.0.1:9464"), ("origin", "null")])).is_err());
        assert!(
            same_origin(&headers(&[
                ("host", "127.0.0.1:9464"),
                ("origin", "null"),
                ("sec-fetch-site", "same-origin"),
            ]))
            .is_ok(),
            "a form of the console under no-referrer"
        );
        assert!(
            same_origin(&headers(&[
                ("host", "127.0.0.1:9464"),
                ("origin", "null"),
                ("sec-fetch-site", "cross-site"),
            ]))
            .is_err()
        );
        assert!(
            same_origin(&headers(&[
                ("host", "127.0.0.1:9464"),
                ("sec-fetch-site", "cross-site")
            ]))
            .is_err()
        );
        assert!(same_origin(&headers(&[("sec-fetch-site", "same-site")])).is_err());
        assert!(
            same_origin(&headers(&[
                ("host", "10.0.0.2:9464"),
                ("x-forwarded-host", "berrah.example.org"),
                ("origin", "https://berrah.example.org"),
            ]))
            .is_ok()
        );
    }

    #[test]
    fn cookies_are_read_and_set_strictly() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; berrah_csrf=abc ; b=2"),
        );
        assert_eq!(cookie(&h, CSRF_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, SESSION_COOKIE), None);
        let c = set_cookie(SESSION_COOKIE, "v", Some(60), true);
        assert_eq!(
            c,
            "berrah_session=v; Path=/; HttpOnly; SameSite=Strict; Max-Age=60; Secure"
        );
    }

    #[test]
    fn every_security_header_is_set() {
        let mut h = HeaderMap::new();
        add_security_headers(&mut h, true);
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.starts_with("default-src 'self'"));
        assert!(csp.contains("script-src 'none'"));
        assert!(csp.contains("frame-ancestors 'none'"));
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert_eq!(h["cache-control"], "no-store");
    }

    #[tokio::test]
    async fn tokens_come_from_a_file_or_a_variable_never_the_value() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("console.token"), "tok-from-file\n").unwrap();
        let t = read_token("file:console.token", dir.path()).await.unwrap();
        assert_eq!(t.expose_secret(), "tok-from-file");
        let e = read_token("env:BERRAH_CONSOLE_TEST_NEVER_SET", dir.path())
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("BERRAH_CONSOLE_TEST_NEVER_SET"), "{e}");
        let e = token_source("hunter2-the-token").unwrap_err().to_string();
        assert!(!e.contains("hunter2"), "{e}");
        assert!(token_source("store").is_err());
    }
}
