//! The link card of a post without media (`app.bsky.embed.external`): the
//! post's first link ([`crate::text::links`]), with a title and a
//! description that never repeat the post:
//!
//! 1. the post's `card` in the campaign file (`title`, `description`, and
//!    `image` uploaded as the card's thumbnail), when given;
//! 2. else the linked page's Open Graph metadata (`og:title`, and
//!    `og:description` or the `description` meta), fetched when publishing:
//!    at most [`PAGE_PREFIX_LIMIT`] bytes of it, within [`PAGE_TIMEOUT`],
//!    following at most [`MAX_REDIRECTS`] redirects;
//! 3. else no card. Fetching is never fatal: a page that is slow, too
//!    large before its metadata, not HTML, unreachable or without `og:title`
//!    means a post without card, published all the same.
//!
//! The account option `link_preview = "off"` turns step 2 off (berrah then
//! never requests the linked page: nothing reaches the page's site before
//! the post is out, and no address is fetched that a comms officer typed).

use std::time::Duration;

use serde_json::Value;

use super::Bluesky;
use super::media::Prepared;
use super::record::{Embed, truncate_graphemes};
use super::xrpc::Fault;
use crate::http::read_prefix;
use crate::media::probe::MediaKind;
use crate::plan::{Content, MediaRef};
use crate::platforms::common;
use crate::text::links;

/// How much of a page is read for its metadata (it is in the `<head>`).
pub const PAGE_PREFIX_LIMIT: usize = 256 * 1024;
/// How long fetching a page may take, redirects included.
pub const PAGE_TIMEOUT: Duration = Duration::from_secs(5);
/// Redirects followed when fetching a page.
pub const MAX_REDIRECTS: usize = 3;
/// The card thumbnail's largest size (the lexicon's `maxSize`).
const MAX_THUMB_BYTES: u64 = 1_000_000;

/// A card's title and description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageCard {
    pub title: String,
    pub description: String,
}

impl Bluesky {
    /// The link card of a post without media, or [`Embed::None`].
    pub(super) async fn link_card(&self, content: &Content) -> Embed {
        let Some(first) = links::find(&content.text).into_iter().next() else {
            return Embed::None;
        };
        let uri = content.text[first].to_string();
        let (card, thumb) = match &content.card {
            Some(c) => {
                let thumb = match &c.image {
                    Some(m) => self.card_thumb(m).await,
                    None => None,
                };
                let card = PageCard {
                    title: c.title.clone(),
                    description: c.description.clone(),
                };
                (card, thumb)
            }
            None if self.deps.account.option_str("link_preview") == Some("off") => {
                return Embed::None;
            }
            None => {
                let fetched =
                    tokio::time::timeout(PAGE_TIMEOUT, fetch_page(&self.deps.http, &uri)).await;
                match fetched {
                    Ok(Ok(card)) => (card, None),
                    Ok(Err(why)) => {
                        tracing::info!(%uri, why, "no link card: the page gave no title");
                        return Embed::None;
                    }
                    Err(_) => {
                        tracing::info!(%uri, "no link card: the page took too long");
                        return Embed::None;
                    }
                }
            }
        };
        Embed::External {
            uri,
            title: truncate_graphemes(&card.title, 300),
            description: truncate_graphemes(&card.description, 1000),
            thumb,
        }
    }

    /// The card's image uploaded as a blob; a problem only loses the
    /// thumbnail (said in the log), never the post.
    async fn card_thumb(&self, m: &MediaRef) -> Option<Value> {
        let file = match common::media_file(m).await {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(file = %m.file, error = %e, "link card without its image");
                return None;
            }
        };
        if file.info.kind != MediaKind::Image || file.size > MAX_THUMB_BYTES {
            tracing::warn!(
                file = %m.file,
                "link card without its image: Bluesky takes an image of at most 1 MB"
            );
            return None;
        }
        let prepared = Prepared {
            file: m.file.clone(),
            mime: file.mime.clone(),
            size: file.size,
            sha256: file.sha256.clone(),
            alt: String::new(),
            dims: file.info.width.zip(file.info.height),
            video: false,
            media: file,
        };
        match self.upload(&prepared).await {
            Ok(blob) => Some(blob),
            Err(e) => {
                let error = match e {
                    Fault::Transport(e) => e.to_string(),
                    Fault::Outcome(o) => format!("{o:?}"),
                };
                tracing::warn!(file = %m.file, error, "link card without its image");
                None
            }
        }
    }
}

/// Fetches the beginning of a page and reads its Open Graph metadata.
async fn fetch_page(http: &reqwest::Client, uri: &str) -> Result<PageCard, String> {
    let mut url = url::Url::parse(uri).map_err(|e| e.to_string())?;
    for _ in 0..=MAX_REDIRECTS {
        let resp = http
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "text/html")
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = resp.status();
        if status.is_redirection() {
            let next = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .and_then(|l| url.join(l).ok())
                .filter(|u| matches!(u.scheme(), "http" | "https"))
                .ok_or("a redirect without a usable Location")?;
            url = next;
            continue;
        }
        if !status.is_success() {
            return Err(format!("HTTP {}", status.as_u16()));
        }
        let html = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|c| c.to_str().ok())
            .is_some_and(|c| c.to_ascii_lowercase().contains("html"));
        if !html {
            return Err("not an HTML page".into());
        }
        let body = read_prefix(resp, PAGE_PREFIX_LIMIT)
            .await
            .map_err(|e| e.to_string())?;
        return open_graph(&String::from_utf8_lossy(&body)).ok_or_else(|| "no og:title".into());
    }
    Err("too many redirects".into())
}

/// The Open Graph title and description of an HTML page: `og:title` (else
/// none), `og:description`, else the `description` meta, else empty.
pub fn open_graph(html: &str) -> Option<PageCard> {
    let mut title = None;
    let mut og_description = None;
    let mut description = None;
    let lower = html.to_ascii_lowercase();
    let mut from = 0;
    while let Some(rel) = lower[from..].find("<meta") {
        let start = from + rel + 5;
        let end = lower[start..].find('>').map_or(html.len(), |i| start + i);
        from = end;
        let attrs = attributes(&html[start..end]);
        let key = attrs
            .iter()
            .find(|(k, _)| k == "property" || k == "name")
            .map(|(_, v)| v.to_ascii_lowercase());
        let Some(content) = attrs.iter().find(|(k, _)| k == "content").map(|(_, v)| v) else {
            continue;
        };
        let content = decode_entities(content).trim().to_string();
        match key.as_deref() {
            Some("og:title") if title.is_none() => title = Some(content),
            Some("og:description") if og_description.is_none() => og_description = Some(content),
            Some("description") if description.is_none() => description = Some(content),
            _ => {}
        }
    }
    let title = title.filter(|t| !t.is_empty())?;
    Some(PageCard {
        title,
        description: og_description.or(description).unwrap_or_default(),
    })
}

/// The attributes of a tag's inside: names lowercased, values unquoted.
fn attributes(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = s.trim_start_matches('/');
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '/');
        let name_len = rest
            .find(|c: char| c.is_whitespace() || c == '=' || c == '/')
            .unwrap_or(rest.len());
        if name_len == 0 {
            break;
        }
        let name = rest[..name_len].to_ascii_lowercase();
        rest = rest[name_len..].trim_start();
        let Some(after) = rest.strip_prefix('=') else {
            out.push((name, String::new()));
            continue;
        };
        let after = after.trim_start();
        let (value, tail) = match after.chars().next() {
            Some(q @ ('"' | '\'')) => {
                let body = &after[1..];
                let end = body.find(q).unwrap_or(body.len());
                (&body[..end], body.get(end + 1..).unwrap_or(""))
            }
            _ => {
                let end = after.find(char::is_whitespace).unwrap_or(after.len());
                (&after[..end], &after[end..])
            }
        };
        out.push((name, value.to_string()));
        rest = tail;
    }
    out
}

/// HTML character references in an attribute value (the common named ones
/// and numeric ones).
fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let end = rest.find(';').filter(|&e| e <= 10);
        let decoded = end.and_then(|e| {
            let name = &rest[1..e];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some('\u{a0}'),
                n if n.starts_with("#x") || n.starts_with("#X") => u32::from_str_radix(&n[2..], 16)
                    .ok()
                    .and_then(char::from_u32),
                n if n.starts_with('#') => n[1..].parse().ok().and_then(char::from_u32),
                _ => None,
            };
            c.map(|c| (c, e))
        });
        match decoded {
            Some((c, e)) => {
                out.push(c);
                rest = &rest[e + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_graph_title_and_description() {
        let html = r#"<html><head><title>Ignored</title>
            <meta name="description" content="Plain description">
            <META property='og:title' content="Journ&eacute;e &amp; migrants &#8211; l&#x27;OIM">
            <meta content="Le programme de la journée" property="og:description" />
            </head><body>…</body></html>"#;
        assert_eq!(
            open_graph(html),
            Some(PageCard {
                title: "Journ&eacute;e & migrants – l'OIM".into(),
                description: "Le programme de la journée".into(),
            })
        );
        let plain = r#"<meta property="og:title" content="اليوم الدولي للمهاجرين"><meta name=description content=Programme>"#;
        assert_eq!(
            open_graph(plain),
            Some(PageCard {
                title: "اليوم الدولي للمهاجرين".into(),
                description: "Programme".into(),
            })
        );
        assert_eq!(open_graph("<title>No Open Graph</title>"), None);
        assert_eq!(
            open_graph(r#"<meta property="og:title" content="  ">"#),
            None
        );
        assert_eq!(open_graph("<meta property=\"og:title"), None);
    }
}
