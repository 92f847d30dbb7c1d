//! Pure pieces of a Bluesky publication: record keys (TIDs) derived from the
//! occurrence id, rich-text facets with UTF-8 byte offsets, and the
//! `app.bsky.feed.post` record itself. No I/O here.
//!
//! References (`docs/platforms/bluesky.md`): the TID format of
//! `packages/syntax/src/tid.ts` (§6), facets of
//! `lexicons/app/bsky/richtext/facet.json` and docs.bsky.app's
//! "post-richtext" guide (§2.2), the post record of
//! `lexicons/app/bsky/feed/post.json` (§2.1), embeds of
//! `lexicons/app/bsky/embed/{images,external}.json` (§3.1, §4).

use std::ops::Range;

use jiff::Timestamp;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use unicode_segmentation::UnicodeSegmentation;

use crate::text::{limits, links};

/// The base32-sortable alphabet of TIDs.
const S32: &[u8; 32] = b"234567abcdefghijklmnopqrstuvwxyz";

/// The highest part index: the main post is 0, thread replies 1, 2, ...
/// and the first comment [`FIRST_COMMENT_PART`].
pub const FIRST_COMMENT_PART: u64 = 900;

/// Encodes a TID from its microseconds since the Unix epoch (53 bits) and its
/// clock id (10 bits): 13 characters, `s32(micros)` then `s32(clock_id)`
/// padded to 2, exactly like the reference implementation.
pub fn encode_tid(micros: u64, clock_id: u16) -> String {
    let value = ((micros & ((1u64 << 53) - 1)) << 10) | u64::from(clock_id & 0x3ff);
    (0..13)
        .map(|i| S32[((value >> (60 - 5 * i)) & 31) as usize] as char)
        .collect()
}

/// Whether `s` is a syntactically valid TID
/// (`^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$`).
pub fn is_tid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 13 && b.iter().all(|c| S32.contains(c)) && S32[..16].contains(&b[0])
}

/// The deterministic key base of an occurrence: a TID instant inside the
/// second the occurrence was due, and a clock id, both chosen by the
/// SHA-256 of the occurrence id.
///
/// Why: `app.bsky.feed.post` record keys must be TIDs, and a key we choose
/// before the first attempt makes a retry unable to duplicate (the PDS
/// refuses a second record at the same key, and we then adopt the first).
/// The TID's time is the due second (a plausible, near-present time, as the
/// notes advise, never a far-future one), the sub-second microseconds and the
/// clock id come from the hash so two posts due the same second differ.
/// The base is saved in the entry's progress at the first attempt, so a
/// later edit of the due time never changes the keys of what may be out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyBase {
    /// Microseconds since the Unix epoch of the main post's TID.
    pub micros: u64,
    pub clock_id: u16,
}

impl KeyBase {
    /// Derives the base from the occurrence id and its due instant.
    pub fn derive(occurrence_id: &str, due: Timestamp) -> KeyBase {
        let digest = Sha256::digest(format!("berrah/bluesky/rkey/{occurrence_id}").as_bytes());
        let mut head = [0u8; 8];
        head.copy_from_slice(&digest[..8]);
        // Leave room for the parts (replies, first comment) inside the second.
        let sub = u64::from_be_bytes(head) % (1_000_000 - FIRST_COMMENT_PART - 1);
        let clock_id = u16::from_be_bytes([digest[8], digest[9]]) & 0x3ff;
        let second = u64::try_from(due.as_second()).unwrap_or(0);
        KeyBase {
            micros: second.saturating_mul(1_000_000) + sub,
            clock_id,
        }
    }

    /// The record key of one part: 0 is the main post, `1..` thread replies,
    /// [`FIRST_COMMENT_PART`] the first comment.
    pub fn rkey(&self, part: u64) -> String {
        encode_tid(self.micros + part, self.clock_id)
    }

    /// The text kept in the progress (`extra["rkey"]`): the main post's TID.
    pub fn to_progress(&self) -> String {
        self.rkey(0)
    }

    /// Reads a base saved by [`KeyBase::to_progress`].
    pub fn from_progress(s: &str) -> Option<KeyBase> {
        if !is_tid(s) {
            return None;
        }
        let mut value = 0u64;
        for c in s.bytes() {
            let digit = S32.iter().position(|&a| a == c)? as u64;
            value = (value << 5) | digit;
        }
        Some(KeyBase {
            micros: value >> 10,
            clock_id: (value & 0x3ff) as u16,
        })
    }
}

/// One rich-text feature over a byte range of the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Feature {
    Link(String),
    /// A mention, by handle (without `@`); resolved to a DID before posting.
    Mention(String),
    /// A hashtag without its `#`.
    Tag(String),
}

/// A feature with its UTF-8 byte range (`byteStart` inclusive, `byteEnd` exclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub range: Range<usize>,
    pub feature: Feature,
}

/// The longest a tag may be (graphemes), per the facet lexicon.
const MAX_TAG_GRAPHEMES: usize = 64;
/// The longest a tag may be (UTF-8 bytes), per the facet lexicon.
const MAX_TAG_BYTES: usize = 640;

/// Finds links, hashtags and mentions in `text`, sorted by start and never
/// overlapping (a `#` or `@` inside a link is part of the link).
/// Offsets are UTF-8 byte offsets, which is what Rust's `str` indices are.
pub fn detect(text: &str) -> Vec<Span> {
    let mut spans: Vec<Span> = links::find(text)
        .into_iter()
        .map(|r| Span {
            feature: Feature::Link(text[r.clone()].to_string()),
            range: r,
        })
        .collect();
    let overlaps = |spans: &[Span], r: &Range<usize>| {
        spans
            .iter()
            .any(|s| s.range.start < r.end && r.start < s.range.end)
    };
    for tag in limits::hashtags(text) {
        let start = tag.as_ptr() as usize - text.as_ptr() as usize;
        let range = start..start + tag.len();
        let name = &tag[1..];
        let usable = !name.chars().all(|c| c.is_ascii_digit())
            && name.graphemes(true).count() <= MAX_TAG_GRAPHEMES
            && name.len() <= MAX_TAG_BYTES;
        if usable && !overlaps(&spans, &range) {
            spans.push(Span {
                range,
                feature: Feature::Tag(name.to_string()),
            });
        }
    }
    for range in mention_ranges(text) {
        if !overlaps(&spans, &range) {
            spans.push(Span {
                feature: Feature::Mention(text[range.start + 1..range.end].to_string()),
                range,
            });
        }
    }
    spans.sort_by_key(|s| s.range.start);
    spans
}

/// `@handle.domain` mentions: an `@` at the start or after a character that
/// is not a letter, digit or `_`, then a handle of ASCII letters, digits,
/// `-` and `.` with at least one dot, without a trailing dot. The range
/// includes the `@`.
pub fn mention_ranges(text: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    for (i, c) in text.char_indices() {
        if c != '@' {
            continue;
        }
        let before_ok = text[..i]
            .chars()
            .next_back()
            .is_none_or(|p| !p.is_alphanumeric() && p != '_');
        if !before_ok {
            continue;
        }
        let body = &text[i + 1..];
        let mut len = body
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'.')
            .count();
        while len > 0 && matches!(body.as_bytes()[len - 1], b'.' | b'-') {
            len -= 1;
        }
        let handle = &body[..len];
        let labels_ok = handle
            .split('.')
            .all(|l| !l.is_empty() && !l.starts_with('-'));
        if handle.contains('.') && labels_ok && handle.len() <= 253 {
            out.push(i..i + 1 + len);
        }
    }
    out
}

/// The `facets` array of a record. Mentions whose handle did not resolve
/// (`did` returns `None`) stay plain text.
pub fn facets_json(spans: &[Span], did: impl Fn(&str) -> Option<String>) -> Vec<Value> {
    spans
        .iter()
        .filter_map(|s| {
            let feature = match &s.feature {
                Feature::Link(uri) => {
                    json!({"$type": "app.bsky.richtext.facet#link", "uri": uri})
                }
                Feature::Tag(tag) => json!({"$type": "app.bsky.richtext.facet#tag", "tag": tag}),
                Feature::Mention(handle) => {
                    json!({"$type": "app.bsky.richtext.facet#mention", "did": did(handle)?})
                }
            };
            Some(json!({
                "index": {"byteStart": s.range.start, "byteEnd": s.range.end},
                "features": [feature],
            }))
        })
        .collect()
}

/// One image of an `app.bsky.embed.images` embed.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageEmbed {
    /// The blob object exactly as `uploadBlob` returned it.
    pub blob: Value,
    pub alt: String,
    /// Width and height in pixels, when known (omitted rather than guessed).
    pub size: Option<(u32, u32)>,
}

/// What a post embeds.
#[derive(Debug, Clone, PartialEq)]
pub enum Embed {
    None,
    /// Up to 4 images.
    Images(Vec<ImageEmbed>),
    /// A link card.
    External {
        uri: String,
        title: String,
        description: String,
        /// The thumbnail's blob, if any.
        thumb: Option<Value>,
    },
    /// One video blob (from the video service), with its alt text and size.
    Video(ImageEmbed),
}

impl Embed {
    fn to_json(&self) -> Option<Value> {
        let ratio = |size: &Option<(u32, u32)>| {
            size.filter(|(w, h)| *w >= 1 && *h >= 1)
                .map(|(w, h)| json!({"width": w, "height": h}))
        };
        match self {
            Embed::None => None,
            Embed::Images(images) => Some(json!({
                "$type": "app.bsky.embed.images",
                "images": images.iter().map(|i| {
                    let mut v = json!({"alt": i.alt, "image": i.blob});
                    if let Some(r) = ratio(&i.size) {
                        v["aspectRatio"] = r;
                    }
                    v
                }).collect::<Vec<_>>(),
            })),
            Embed::External {
                uri,
                title,
                description,
                thumb,
            } => {
                let mut external = json!({"uri": uri, "title": title, "description": description});
                if let Some(t) = thumb {
                    external["thumb"] = t.clone();
                }
                Some(json!({"$type": "app.bsky.embed.external", "external": external}))
            }
            Embed::Video(v) => {
                let mut out = json!({
                    "$type": "app.bsky.embed.video",
                    "video": v.blob,
                    "alt": v.alt,
                });
                if let Some(r) = ratio(&v.size) {
                    out["aspectRatio"] = r;
                }
                Some(out)
            }
        }
    }
}

/// A strong reference to a record (`com.atproto.repo.strongRef`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StrongRef {
    pub uri: String,
    pub cid: String,
}

impl StrongRef {
    fn to_json(&self) -> Value {
        json!({"uri": self.uri, "cid": self.cid})
    }
}

/// Everything one `app.bsky.feed.post` record is built from.
#[derive(Debug, Clone)]
pub struct PostParts<'a> {
    pub text: &'a str,
    pub created_at: Timestamp,
    /// BCP-47 language of the text (`ar`, `fr`), if any.
    pub lang: Option<&'a str>,
    pub facets: Vec<Value>,
    pub embed: Embed,
    /// `(root, parent)` for a reply.
    pub reply: Option<(StrongRef, StrongRef)>,
}

/// The `app.bsky.feed.post` record.
pub fn post_record(parts: &PostParts<'_>) -> Value {
    let mut record = json!({
        "$type": "app.bsky.feed.post",
        "text": parts.text,
        "createdAt": created_at(parts.created_at),
    });
    if let Some(lang) = parts.lang.filter(|l| !l.is_empty()) {
        record["langs"] = json!([lang]);
    }
    if !parts.facets.is_empty() {
        record["facets"] = Value::Array(parts.facets.clone());
    }
    if let Some(embed) = parts.embed.to_json() {
        record["embed"] = embed;
    }
    if let Some((root, parent)) = &parts.reply {
        record["reply"] = json!({"root": root.to_json(), "parent": parent.to_json()});
    }
    record
}

/// An RFC 3339 instant in UTC with millisecond precision and a trailing `Z`.
pub fn created_at(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// `s` cut to `max` graphemes, with `…` when cut.
pub(super) fn truncate_graphemes(s: &str, max: usize) -> String {
    let mut g = s.graphemes(true);
    let out: String = g.by_ref().take(max).collect();
    if g.next().is_some() {
        format!("{out}…")
    } else {
        out
    }
}

/// The public web address of a post.
pub fn post_url(handle: &str, rkey: &str) -> String {
    format!("https://bsky.app/profile/{handle}/post/{rkey}")
}

/// The record key (last path segment) of an `at://` URI.
pub fn rkey_of(uri: &str) -> Option<&str> {
    uri.rsplit('/').next().filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tid_encoding_matches_the_reference() {
        // From atproto's packages/syntax tests: 0 micros, clock 0.
        assert_eq!(encode_tid(0, 0), "2222222222222");
        assert!(is_tid(&encode_tid((1u64 << 53) - 1, 1023)));
        // 53 + 10 bits: the first character never goes past `b`.
        assert_eq!(encode_tid((1u64 << 53) - 1, 1023), "bzzzzzzzzzzzz");
        // The notes' example key has the same shape.
        assert!(is_tid("3k4duaz5vfs2b"));
        assert!(!is_tid("kzzzzzzzzzzzz"));
        assert!(!is_tid("3k4duaz5vfs2"));
        assert!(!is_tid("3k4duaz5vfs21"));
    }

    #[test]
    fn key_base_is_deterministic_valid_and_round_trips() {
        let due: Timestamp = "2026-12-18T09:00:00Z".parse().unwrap();
        let a = KeyBase::derive("o-3fa9c2d1e4b5a6f7", due);
        assert_eq!(a, KeyBase::derive("o-3fa9c2d1e4b5a6f7", due));
        assert_ne!(a, KeyBase::derive("o-3fa9c2d1e4b5a6f8", due));
        assert_eq!(a.micros / 1_000_000, due.as_second() as u64);
        for part in [0, 1, 2, FIRST_COMMENT_PART] {
            let key = a.rkey(part);
            assert!(is_tid(&key), "{key}");
            // Still inside the due second.
            assert_eq!((a.micros + part) / 1_000_000, due.as_second() as u64);
        }
        let keys: std::collections::HashSet<_> =
            [0, 1, 2, FIRST_COMMENT_PART].map(|p| a.rkey(p)).into();
        assert_eq!(keys.len(), 4);
        assert_eq!(KeyBase::from_progress(&a.to_progress()), Some(a));
        assert_eq!(KeyBase::from_progress("not a tid"), None);
        // Keys sort like time (base32-sortable).
        assert!(a.rkey(0) < a.rkey(1) && a.rkey(1) < a.rkey(FIRST_COMMENT_PART));
    }

    #[test]
    fn facets_use_utf8_byte_offsets_in_arabic_and_emoji_text() {
        let text =
            "مرحبا 👋🏽 #اللاجئين https://unhcr.org/ma?utm_source=bsky#top @unhcr.org 👨‍👩‍👧 #Maroc2026.";
        let spans = detect(text);
        let got: Vec<(&str, &Feature)> = spans
            .iter()
            .map(|s| (&text[s.range.clone()], &s.feature))
            .collect();
        assert_eq!(
            got,
            vec![
                ("#اللاجئين", &Feature::Tag("اللاجئين".into())),
                (
                    "https://unhcr.org/ma?utm_source=bsky#top",
                    &Feature::Link("https://unhcr.org/ma?utm_source=bsky#top".into())
                ),
                ("@unhcr.org", &Feature::Mention("unhcr.org".into())),
                ("#Maroc2026", &Feature::Tag("Maroc2026".into())),
            ]
        );
        // "مرحبا " is 11 bytes, "👋🏽 " 9 more: the tag starts at byte 20.
        assert_eq!(spans[0].range, 20..37);
        let facets = facets_json(&spans, |h| (h == "unhcr.org").then(|| "did:plc:x".into()));
        assert_eq!(facets.len(), 4);
        assert_eq!(facets[0]["index"]["byteStart"], 20);
        assert_eq!(facets[0]["features"][0]["tag"], "اللاجئين");
        assert_eq!(facets[2]["features"][0]["did"], "did:plc:x");
    }

    #[test]
    fn the_docs_worked_example() {
        let text = "✨ example mentioning @atproto.com to share the URL 👨‍❤️‍👨 https://en.wikipedia.org/wiki/CBOR.";
        let spans = detect(text);
        assert_eq!(spans[0].range, 23..35);
        assert_eq!(spans[1].range, 74..108);
    }

    #[test]
    fn unresolved_mentions_and_odd_tags_stay_plain() {
        let text = "mail me@example.org, @nodot, #2026 and @x.y.";
        let spans = detect(text);
        assert_eq!(spans.len(), 1);
        assert_eq!(&text[spans[0].range.clone()], "@x.y");
        assert!(facets_json(&spans, |_| None).is_empty());
    }

    #[test]
    fn records_carry_langs_facets_embeds_and_replies() {
        let at: Timestamp = "2026-12-18T09:00:00.5Z".parse().unwrap();
        let root = StrongRef {
            uri: "at://did:plc:a/app.bsky.feed.post/3k".into(),
            cid: "bafy1".into(),
        };
        let record = post_record(&PostParts {
            text: "hi #x",
            created_at: at,
            lang: Some("fr"),
            facets: facets_json(&detect("hi #x"), |_| None),
            embed: Embed::Images(vec![ImageEmbed {
                blob: json!({"$type": "blob", "ref": {"$link": "bafk"}, "mimeType": "image/png", "size": 3}),
                alt: "une photo".into(),
                size: Some((1280, 760)),
            }]),
            reply: Some((root.clone(), root)),
        });
        assert_eq!(record["$type"], "app.bsky.feed.post");
        assert_eq!(record["createdAt"], "2026-12-18T09:00:00.500Z");
        assert_eq!(record["langs"], json!(["fr"]));
        assert_eq!(record["facets"][0]["index"]["byteStart"], 3);
        assert_eq!(record["embed"]["images"][0]["alt"], "une photo");
        assert_eq!(record["embed"]["images"][0]["aspectRatio"]["width"], 1280);
        assert_eq!(record["reply"]["parent"]["cid"], "bafy1");
    }

    #[test]
    fn record_keys_and_urls() {
        assert_eq!(
            rkey_of("at://did:plc:a/app.bsky.feed.post/3kabc"),
            Some("3kabc")
        );
        assert_eq!(
            post_url("alice.test", "3kabc"),
            "https://bsky.app/profile/alice.test/post/3kabc"
        );
    }
}
