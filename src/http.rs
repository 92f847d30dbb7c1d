//! The one HTTP client configuration every platform uses.

use std::sync::Once;
use std::time::Duration;

static PROVIDER: Once = Once::new();

/// Installs rustls' ring crypto provider once per process (reqwest is built
/// without a provider of its own, to avoid a C toolchain for aws-lc).
pub fn install_crypto_provider() {
    PROVIDER.call_once(|| {
        // Err means another provider was installed first, which is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// A client builder with berrah's defaults: a user agent, connect and request
/// timeouts, and no redirects (an API answer that redirects is an error to
/// report, and following redirects with a bearer token is a leak risk).
pub fn client_builder() -> reqwest::ClientBuilder {
    install_crypto_provider();
    reqwest::Client::builder()
        .user_agent(concat!("berrah/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(60))
        .redirect(reqwest::redirect::Policy::none())
}

/// A client with [`client_builder`]'s defaults.
pub fn client() -> reqwest::Client {
    client_builder()
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// Whether `url` would carry credentials in clear over the network: plain
/// `http://` to anything but the machine itself (127.0.0.0/8, `::1`,
/// `localhost`, where the tests' fakes and local relays live). Credentialed
/// base URLs and webhook URLs held as secrets must not be.
pub fn cleartext(url: &url::Url) -> bool {
    if url.scheme() != "http" {
        return false;
    }
    match url.host() {
        Some(url::Host::Ipv4(ip)) => !ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => !ip.is_loopback(),
        Some(url::Host::Domain(d)) => !d.eq_ignore_ascii_case("localhost"),
        None => true,
    }
}

/// The most berrah reads of an error answer: enough for any platform's error
/// document, little enough that a receiver answering megabytes costs nothing.
pub const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// The most berrah reads of a JSON answer it expects (a created post, an
/// upload session, a token): the platforms' documented answers are a few KiB.
pub const JSON_BODY_LIMIT: usize = 1024 * 1024;

/// Why an answer's body was not read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// The connection failed while reading (or before: a send error).
    #[error(transparent)]
    Transport(#[from] reqwest::Error),
    /// The answer is longer than what berrah expects of it; it was dropped
    /// after `limit` bytes, unread.
    #[error(
        "the answer is larger than the {} berrah reads of it, so it was not read",
        size_label(*limit)
    )]
    TooLarge { limit: usize },
}

fn size_label(bytes: usize) -> String {
    if bytes >= 1024 * 1024 && bytes.is_multiple_of(1024 * 1024) {
        format!("{} MiB", bytes / (1024 * 1024))
    } else if bytes >= 1024 && bytes.is_multiple_of(1024) {
        format!("{} KiB", bytes / 1024)
    } else {
        format!("{bytes} bytes")
    }
}

/// Reads an answer's body, chunk by chunk, refusing it as soon as it
/// announces or reaches more than `limit` bytes: a huge answer costs at most
/// `limit` bytes of memory and the time of reading them. Every answer berrah
/// reads goes through here (or [`read_text`], [`read_error_text`]).
pub async fn read_bytes(mut resp: reqwest::Response, limit: usize) -> Result<Vec<u8>, BodyError> {
    if resp
        .content_length()
        .is_some_and(|n| n > u64::try_from(limit).unwrap_or(u64::MAX))
    {
        return Err(BodyError::TooLarge { limit });
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The first `limit` bytes of an answer's body at most, and no more read
/// (for a document whose beginning is enough, like a page's `<head>`).
pub async fn read_prefix(mut resp: reqwest::Response, limit: usize) -> Result<Vec<u8>, BodyError> {
    let mut body = Vec::new();
    while body.len() < limit {
        let Some(chunk) = resp.chunk().await? else {
            break;
        };
        let room = limit - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
    }
    Ok(body)
}

/// [`read_bytes`] as text (invalid UTF-8 replaced, as reqwest's `text` does
/// for the UTF-8 answers every platform sends).
pub async fn read_text(resp: reqwest::Response, limit: usize) -> Result<String, BodyError> {
    let bytes = read_bytes(resp, limit).await?;
    Ok(match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

/// An error answer's body (at most [`ERROR_BODY_LIMIT`]), for messages:
/// never fails; what could not be read is said in its place.
pub async fn read_error_text(resp: reqwest::Response) -> String {
    match read_text(resp, ERROR_BODY_LIMIT).await {
        Ok(text) => text,
        Err(e @ BodyError::TooLarge { .. }) => format!("({e})"),
        Err(BodyError::Transport(_)) => String::new(),
    }
}

/// An answer's body as text: a success read up to `limit` (the document
/// expected), an error up to [`ERROR_BODY_LIMIT`]. An error answer too large
/// to read is not a fault (its status says what happened): its text is then
/// a note saying so.
pub async fn read_answer(resp: reqwest::Response, limit: usize) -> Result<String, BodyError> {
    if resp.status().is_success() {
        return read_text(resp, limit).await;
    }
    match read_text(resp, ERROR_BODY_LIMIT).await {
        Err(e @ BodyError::TooLarge { .. }) => Ok(format!("({e})")),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_is_cleartext_except_on_loopback() {
        let clear = |u: &str| cleartext(&url::Url::parse(u).unwrap());
        assert!(clear("http://hooks.example.org/x"));
        assert!(clear("http://10.0.0.1:8080/"));
        assert!(clear("http://[2001:db8::1]/"));
        assert!(clear("http://localhost.example.org/"));
        assert!(!clear("https://hooks.example.org/x"));
        assert!(!clear("http://127.0.0.1:4000/"));
        assert!(!clear("http://127.5.6.7/"));
        assert!(!clear("http://[::1]:4000/"));
        assert!(!clear("http://LOCALHOST:4000/"));
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(size_label(ERROR_BODY_LIMIT), "64 KiB");
        assert_eq!(size_label(JSON_BODY_LIMIT), "1 MiB");
        assert_eq!(size_label(1000), "1000 bytes");
    }
}
