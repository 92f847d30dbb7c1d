//! What every platform client shares: turning HTTP answers and transport
//! faults into [`Outcome`]s, reading rate-limit headers, and reading media
//! files (hashed once, streamed from disk).
//!
//! Platform modules keep their own endpoints, bodies and error codes; only
//! the rules that are the same everywhere live here.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use jiff::Timestamp;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use sha2::{Digest, Sha256};

use super::Outcome;
use crate::media::open::{OpenedMedia, open_beneath};
use crate::media::probe::{MediaInfo, probe_opened};
use crate::plan::MediaRef;

/// How far a request got before a transport fault, which decides whether it
/// may have reached the platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// The connection was never made: the platform cannot have seen it.
    No,
    /// The request may have been received (timeout, connection dropped while
    /// waiting for the answer, body error).
    Maybe,
}

/// Classifies a reqwest error: `connect` failures never reached the platform.
pub fn sent(err: &reqwest::Error) -> Sent {
    if err.is_connect() || err.is_builder() || is_connect_refused(err) {
        Sent::No
    } else {
        Sent::Maybe
    }
}

fn is_connect_refused(err: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            return true;
        }
        source = e.source();
    }
    false
}

/// A fault on the way to or from the platform: a reqwest error, or an answer
/// whose body could not be read ([`crate::http::BodyError`], which includes
/// an answer refused for its size).
pub trait TransportFault {
    /// How far the request got.
    fn sent(&self) -> Sent;
    /// What happened, without the URL (which may hold a token).
    fn describe(&self) -> String;
}

impl TransportFault for reqwest::Error {
    fn sent(&self) -> Sent {
        sent(self)
    }
    fn describe(&self) -> String {
        let kind = if self.is_timeout() {
            "the platform did not answer in time"
        } else if self.is_connect() {
            "could not connect to the platform"
        } else if self.is_body() || self.is_decode() {
            "the platform's answer could not be read"
        } else {
            "the connection failed"
        };
        // `err_chain` leaves out reqwest's own message, which holds the URL
        // (it can carry an access token: Graph API).
        let detail = err_chain(self);
        format!("{kind} ({detail})")
    }
}

impl TransportFault for crate::http::BodyError {
    fn sent(&self) -> Sent {
        match self {
            crate::http::BodyError::Transport(e) => sent(e),
            // The platform answered: the request arrived.
            crate::http::BodyError::TooLarge { .. } => Sent::Maybe,
        }
    }
    fn describe(&self) -> String {
        match self {
            crate::http::BodyError::Transport(e) => e.describe(),
            too_large => format!("the platform's answer could not be read ({too_large})"),
        }
    }
}

/// The outcome of a transport fault on a request that creates something.
///
/// `keyed`: the platform deduplicates this request on a key we chose, so
/// sending it again is safe. Otherwise a request that may have reached the
/// platform is [`Outcome::Unknown`], never retried blindly.
pub fn transport_outcome(what: &str, err: &dyn TransportFault, keyed: bool) -> Outcome {
    let reason = format!("{what}: {}", err.describe());
    match (err.sent(), keyed) {
        (Sent::No, _) | (Sent::Maybe, true) => Outcome::Retry { at: None, reason },
        (Sent::Maybe, false) => Outcome::Unknown { reason },
    }
}

/// A transport fault described without the URL's query (which may hold a token).
pub fn describe_transport(err: &dyn TransportFault) -> String {
    err.describe()
}

fn err_chain(err: &reqwest::Error) -> String {
    let mut parts = Vec::new();
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(err);
    while let Some(e) = source {
        parts.push(e.to_string());
        source = e.source();
    }
    if parts.is_empty() {
        "no detail".to_string()
    } else {
        parts.join(": ")
    }
}

/// The instant a rate-limited or unavailable platform asks us to come back:
/// `Retry-After` (seconds or an HTTP date), else the reset header of
/// `x-ratelimit-reset` / `x-rate-limit-reset` / `ratelimit-reset` (Unix
/// seconds, seconds from now, or an RFC 3339 instant as Mastodon sends).
pub fn retry_at(headers: &HeaderMap, now: Timestamp) -> Option<Timestamp> {
    if let Some(v) = header_str(headers, "retry-after") {
        if let Ok(secs) = v.trim().parse::<i64>() {
            return now
                .checked_add(jiff::SignedDuration::from_secs(secs.max(0)))
                .ok();
        }
        if let Ok(t) = httpdate_to_timestamp(v) {
            return Some(t);
        }
    }
    for name in ["x-ratelimit-reset", "x-rate-limit-reset", "ratelimit-reset"] {
        if let Some(v) = header_str(headers, name) {
            return reset_value(v.trim(), now);
        }
    }
    None
}

fn reset_value(v: &str, now: Timestamp) -> Option<Timestamp> {
    if let Ok(n) = v.parse::<i64>() {
        // Unix seconds are large; small numbers are "seconds from now".
        return if n > 1_000_000_000 {
            Timestamp::from_second(n).ok()
        } else {
            now.checked_add(jiff::SignedDuration::from_secs(n.max(0)))
                .ok()
        };
    }
    v.parse::<Timestamp>().ok()
}

fn httpdate_to_timestamp(v: &str) -> Result<Timestamp, ()> {
    // RFC 7231 IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
    let v = v.trim().trim_end_matches(" GMT");
    let dt = jiff::civil::DateTime::strptime("%a, %d %b %Y %H:%M:%S", v).map_err(|_| ())?;
    dt.to_zoned(jiff::tz::TimeZone::UTC)
        .map(|z| z.timestamp())
        .map_err(|_| ())
}

/// A header's value as text, if present and readable.
pub fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The generic reading of a non-success HTTP status, for platforms whose
/// error bodies add nothing more specific. `message` is the platform's own
/// message, already extracted from its error body.
pub fn classify_status(
    status: StatusCode,
    headers: &HeaderMap,
    message: &str,
    now: Timestamp,
) -> Outcome {
    let reason = format!("HTTP {}: {}", status.as_u16(), message);
    match status.as_u16() {
        401 => Outcome::NeedsOperator {
            reason: format!("{reason} (the credentials were refused: run `berrah accounts login`)"),
        },
        408 | 425 | 429 | 500..=599 => Outcome::Retry {
            at: retry_at(headers, now),
            reason,
        },
        _ => Outcome::Failed { reason },
    }
}

/// A short excerpt of an answer body for messages (never the whole body).
pub fn excerpt(body: &str) -> String {
    const MAX: usize = 300;
    let body = body.trim();
    if body.len() <= MAX {
        return body.to_string();
    }
    let mut end = MAX;
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &body[..end])
}

/// Remembers what a platform's rate-limit headers said, per client (one
/// client is one account), so that a publication that would surely be
/// refused waits for the reset instead of spending a request on a 429.
#[derive(Debug, Default)]
pub struct RateLimits {
    state: Mutex<Option<(u64, Timestamp)>>,
}

impl RateLimits {
    /// Records `remaining` and `reset` from an answer's headers
    /// (`x-ratelimit-remaining` / `x-rate-limit-remaining` / `ratelimit-remaining`).
    pub fn observe(&self, headers: &HeaderMap, now: Timestamp) {
        let remaining = [
            "x-ratelimit-remaining",
            "x-rate-limit-remaining",
            "ratelimit-remaining",
        ]
        .iter()
        .find_map(|n| header_str(headers, n))
        .and_then(|v| v.trim().parse::<u64>().ok());
        let reset = ["x-ratelimit-reset", "x-rate-limit-reset", "ratelimit-reset"]
            .iter()
            .find_map(|n| header_str(headers, n))
            .and_then(|v| reset_value(v.trim(), now));
        if let (Some(remaining), Some(reset)) = (remaining, reset) {
            *self.state.lock().unwrap_or_else(|p| p.into_inner()) = Some((remaining, reset));
        }
    }

    /// `Some(reset)` when the last answer said no request is left before `reset`.
    pub fn wait_until(&self, now: Timestamp) -> Option<Timestamp> {
        let state = *self.state.lock().unwrap_or_else(|p| p.into_inner());
        match state {
            Some((0, reset)) if reset > now => Some(reset),
            _ => None,
        }
    }

    /// The outcome to return instead of calling the platform, when the budget is spent.
    pub fn exhausted(&self, now: Timestamp) -> Option<Outcome> {
        self.wait_until(now).map(|at| Outcome::Retry {
            at: Some(at),
            reason: format!(
                "the platform's rate limit is spent until {at}; waiting instead of calling"
            ),
        })
    }
}

/// A media file opened for upload: its size, sniffed type, measures and
/// SHA-256 (the key of the upload cache), all read from the one handle
/// opened beneath the campaign's folder ([`crate::media::open`]), which the
/// upload then streams from too. The file is never opened by path again.
#[derive(Debug, Clone)]
pub struct MediaFile {
    /// The file's path, for messages only.
    pub path: std::path::PathBuf,
    pub size: u64,
    pub mime: String,
    pub sha256: String,
    /// The file name to send in multipart forms.
    pub file_name: String,
    /// What probing the handle found (dimensions, duration, codec).
    pub info: MediaInfo,
    opened: OpenedMedia,
}

/// Opens a post's media file beneath its campaign's folder, probes and hashes it.
pub async fn media_file(m: &MediaRef) -> Result<MediaFile, String> {
    let (dir, rel) = m.beneath();
    open_media(dir, rel).await
}

/// The same for a media's thumbnail, when it has one.
pub async fn thumbnail_file(m: &MediaRef) -> Option<Result<MediaFile, String>> {
    let (dir, rel) = m.thumbnail_beneath()?;
    Some(open_media(dir, rel).await)
}

/// The size of a post's media file, opened beneath its campaign's folder
/// like [`media_file`] (for asking a platform about an upload in progress).
pub async fn media_size(m: &MediaRef) -> Result<u64, String> {
    let (dir, rel) = m.beneath();
    tokio::task::spawn_blocking(move || open_beneath(&dir, &rel).map(|o| o.size))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
}

async fn open_media(dir: PathBuf, rel: PathBuf) -> Result<MediaFile, String> {
    let shown = dir.join(&rel);
    tokio::task::spawn_blocking(move || read_media(&dir, &rel))
        .await
        .map_err(|e| format!("could not read `{}`: {e}", shown.display()))?
}

/// Opens once, checks, probes and hashes, all on the same handle.
fn read_media(dir: &Path, rel: &Path) -> Result<MediaFile, String> {
    let opened = open_beneath(dir, rel).map_err(|e| {
        format!("{e}; nothing of it was read or sent: once it is fixed, `berrah retry` the entry")
    })?;
    let path = opened.path.clone();
    let info = probe_opened(&opened).map_err(|e| e.to_string())?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut reader = opened.reader();
    loop {
        let n = reader
            .read(&mut buf)
            .map_err(|e| format!("could not read `{}`: {e}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    let file_name = rel
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| format!("media.{}", info.extension));
    Ok(MediaFile {
        path,
        size: opened.size,
        mime: info.mime.clone(),
        sha256: hex::encode(hasher.finalize()),
        file_name,
        info,
        opened,
    })
}

/// A media file over an empty temporary file, for unit tests of messages
/// and of what is sent (never opened beneath a folder).
#[cfg(test)]
pub(crate) fn test_media_file(path: &str, mime: &str, size: u64) -> MediaFile {
    let path = PathBuf::from(path);
    MediaFile {
        file_name: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        size,
        mime: mime.to_string(),
        sha256: "00".into(),
        info: MediaInfo {
            size,
            mime: mime.to_string(),
            extension: String::new(),
            kind: crate::media::probe::MediaKind::Other,
            width: None,
            height: None,
            duration: None,
            video_codec: None,
            has_audio: None,
        },
        opened: OpenedMedia::for_tests(path.clone(), size),
        path,
    }
}

/// How much one read of a streamed upload takes from the file.
const STREAM_CHUNK: u64 = 256 * 1024;

/// A streaming request body over the whole file (never loaded into memory).
pub fn file_body(file: &MediaFile) -> reqwest::Body {
    file_section(file, 0, file.size)
}

/// A streaming body over `len` bytes of the file from `offset`, read from
/// the opened handle. A file that got shorter since it was opened ends the
/// stream with an error rather than sending less than announced.
pub fn file_section(file: &MediaFile, offset: u64, len: u64) -> reqwest::Body {
    let state = (file.opened.clone(), offset, offset.saturating_add(len));
    let stream = futures_util::stream::try_unfold(state, |(opened, at, end)| async move {
        if at >= end {
            return Ok(None);
        }
        let want = (end - at).min(STREAM_CHUNK) as usize;
        let reading = opened.clone();
        let buf = tokio::task::spawn_blocking(move || {
            let mut buf = vec![0u8; want];
            let n = reading.read_at(&mut buf, at)?;
            buf.truncate(n);
            Ok::<_, std::io::Error>(buf)
        })
        .await
        .map_err(std::io::Error::other)??;
        if buf.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!(
                    "`{}` became shorter while it was sent",
                    opened.path.display()
                ),
            ));
        }
        let next = at + buf.len() as u64;
        Ok(Some((buf, (opened, next, end))))
    });
    reqwest::Body::wrap_stream(stream)
}

/// Reads `len` bytes of the file from `offset` (one chunk of a chunked upload).
pub async fn file_chunk(file: &MediaFile, offset: u64, len: usize) -> Result<Vec<u8>, String> {
    let opened = file.opened.clone();
    let path = file.path.clone();
    tokio::task::spawn_blocking(move || {
        let mut buf = vec![0u8; len];
        let n = opened.read_at(&mut buf, offset)?;
        buf.truncate(n);
        Ok::<_, std::io::Error>(buf)
    })
    .await
    .map_err(std::io::Error::other)
    .and_then(|r| r)
    .map_err(|e| format!("could not read `{}`: {e}", path.display()))
}

/// Where an account's bearer token may be sent: its API's own origin
/// (scheme, host and port of the account's base URL), or, over HTTPS on the
/// default port, one of the platform's documented upload hosts (listed in
/// `docs/platforms/<name>.md`). An upload URL or a `Location` an answer
/// hands out elsewhere gets no `Authorization` header.
#[derive(Debug, Clone)]
pub struct TokenScope {
    origin: Option<url::Origin>,
    upload_hosts: &'static [&'static str],
}

impl TokenScope {
    /// The scope of an account whose API is at `base`.
    pub fn new(base: &str, upload_hosts: &'static [&'static str]) -> TokenScope {
        TokenScope {
            origin: url::Url::parse(base)
                .ok()
                .map(|u| u.origin())
                .filter(url::Origin::is_tuple),
            upload_hosts,
        }
    }

    /// Whether the token may go with a request to `url`.
    pub fn allows(&self, url: &str) -> bool {
        let Ok(url) = url::Url::parse(url) else {
            return false;
        };
        if self.origin.as_ref() == Some(&url.origin()) {
            return true;
        }
        url.scheme() == "https"
            && url.port().is_none()
            && url.host_str().is_some_and(|h| {
                self.upload_hosts
                    .iter()
                    .any(|allowed| allowed.eq_ignore_ascii_case(h))
            })
    }

    /// The hosts besides the API's own origin, for messages.
    pub fn describe(&self) -> String {
        let origin = self
            .origin
            .as_ref()
            .map(url::Origin::ascii_serialization)
            .unwrap_or_else(|| "(no valid base URL)".to_string());
        if self.upload_hosts.is_empty() {
            origin
        } else {
            format!(
                "{origin} and https://{}",
                self.upload_hosts.join(", https://")
            )
        }
    }
}

/// The outcome of credentials that cannot be read: a transient fault of the
/// token source is retried, anything else needs an operator.
pub fn auth_outcome(e: crate::auth::AuthError) -> Outcome {
    use crate::auth::AuthError;
    match e {
        AuthError::Transient { .. } => Outcome::Retry {
            at: None,
            reason: e.to_string(),
        },
        AuthError::NeedsLogin { .. } | AuthError::Config { .. } => Outcome::NeedsOperator {
            reason: e.to_string(),
        },
    }
}

/// A thread reply or first comment failed after the main post went out: say
/// so in the outcome's reason, so that nobody re-posts the main post by hand.
pub fn after_main(outcome: Outcome, url: Option<&str>) -> Outcome {
    let note = format!(
        " (the main post is published{}; the rest resumes on the next attempt)",
        url.map(|u| format!(" at {u}")).unwrap_or_default()
    );
    match outcome {
        Outcome::Failed { reason } => Outcome::Failed {
            reason: reason + &note,
        },
        Outcome::Retry { at, reason } => Outcome::Retry {
            at,
            reason: reason + &note,
        },
        Outcome::NeedsOperator { reason } => Outcome::NeedsOperator {
            reason: reason + &note,
        },
        Outcome::Unknown { reason } => Outcome::Unknown {
            reason: reason + &note,
        },
        published @ Outcome::Published { .. } => published,
    }
}

/// How long to wait between polls of a platform's processing status.
pub fn poll_interval(attempt: u32) -> Duration {
    Duration::from_millis((500u64 << attempt.min(4)).min(5_000))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn now() -> Timestamp {
        "2026-12-18T09:00:00Z".parse().unwrap()
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("120"));
        assert_eq!(
            retry_at(&h, now()),
            Some("2026-12-18T09:02:00Z".parse().unwrap())
        );
        h.insert(
            "retry-after",
            HeaderValue::from_static("Fri, 18 Dec 2026 09:05:00 GMT"),
        );
        assert_eq!(
            retry_at(&h, now()),
            Some("2026-12-18T09:05:00Z".parse().unwrap())
        );
    }

    #[test]
    fn reset_headers_in_three_shapes() {
        let mut h = HeaderMap::new();
        h.insert("x-rate-limit-reset", HeaderValue::from_static("1797584700"));
        assert_eq!(retry_at(&h, now()), Timestamp::from_second(1797584700).ok());
        let mut h = HeaderMap::new();
        h.insert(
            "x-ratelimit-reset",
            HeaderValue::from_static("2026-12-18T09:10:00.000Z"),
        );
        assert_eq!(
            retry_at(&h, now()),
            Some("2026-12-18T09:10:00Z".parse().unwrap())
        );
        let mut h = HeaderMap::new();
        h.insert("ratelimit-reset", HeaderValue::from_static("30"));
        assert_eq!(
            retry_at(&h, now()),
            Some("2026-12-18T09:00:30Z".parse().unwrap())
        );
    }

    #[test]
    fn spent_rate_limit_waits_for_reset() {
        let limits = RateLimits::default();
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        h.insert(
            "x-ratelimit-reset",
            HeaderValue::from_static("2026-12-18T09:10:00Z"),
        );
        limits.observe(&h, now());
        assert!(matches!(
            limits.exhausted(now()),
            Some(Outcome::Retry { at: Some(_), .. })
        ));
        let later: Timestamp = "2026-12-18T09:11:00Z".parse().unwrap();
        assert_eq!(limits.exhausted(later), None);
    }

    #[test]
    fn statuses() {
        let h = HeaderMap::new();
        assert!(matches!(
            classify_status(StatusCode::UNAUTHORIZED, &h, "x", now()),
            Outcome::NeedsOperator { .. }
        ));
        assert!(matches!(
            classify_status(StatusCode::BAD_GATEWAY, &h, "x", now()),
            Outcome::Retry { .. }
        ));
        assert!(matches!(
            classify_status(StatusCode::UNPROCESSABLE_ENTITY, &h, "x", now()),
            Outcome::Failed { .. }
        ));
    }

    #[test]
    fn tokens_go_to_the_api_origin_and_documented_upload_hosts_only() {
        let yt = TokenScope::new("https://www.googleapis.com", &["youtube.googleapis.com"]);
        assert!(yt.allows("https://www.googleapis.com/upload/youtube/v3/videos?upload_id=x"));
        assert!(yt.allows("https://youtube.googleapis.com/upload/youtube/v3/videos?upload_id=x"));
        assert!(yt.allows("https://YouTube.GoogleAPIs.com/x"));
        for elsewhere in [
            "https://uploads.example.org/x",
            "http://youtube.googleapis.com/x",
            "https://youtube.googleapis.com:8443/x",
            "https://www.googleapis.com.evil.example/x",
            "https://evil.example/?https://www.googleapis.com",
            "not a url",
        ] {
            assert!(!yt.allows(elsewhere), "{elsewhere}");
        }
        // A fake on loopback: its own origin only, port included.
        let fake = TokenScope::new("http://127.0.0.1:4000/", &["youtube.googleapis.com"]);
        assert!(fake.allows("http://127.0.0.1:4000/upload?id=1"));
        assert!(!fake.allows("http://127.0.0.1:4001/upload?id=1"));
        assert!(!fake.allows("http://127.0.0.2:4000/upload?id=1"));
        assert!(!TokenScope::new("not a url", &[]).allows("not a url"));
    }

    #[test]
    fn excerpts_cut_on_char_boundaries() {
        let long = "م".repeat(400);
        let e = excerpt(&long);
        assert!(e.ends_with('…'));
        assert!(e.len() <= 304);
    }
}
