//! Links in a post's text: the one detector behind UTM tagging
//! ([`render`](super::render)), X's and Mastodon's counts
//! ([`limits`](super::limits)) and Bluesky's link facets and card.
//!
//! A link is `http://` or `https://` (any case) not glued to a word before
//! it, then a host, then an optional port, path, query and fragment. Its
//! rules follow twitter-text's extractor (the reference the conformance data
//! in `tests/fixtures/conformance/` checks), since X is the strictest reader:
//!
//! - It ends at whitespace, at a control or invisible formatting character
//!   (bidirectional marks and isolates, zero-width characters), and at
//!   `< > " « » \``.
//! - Punctuation closing a sentence is not part of it: the last character
//!   must be a letter, a digit or one of `/ = _ - + & # @ ~ % *`, or a `)`
//!   (or `]`) that closes one opened inside the link. So `https://iom.int.`,
//!   `https://iom.int؟`, `(https://iom.int)` and `https://iom.int»` all link
//!   `https://iom.int`.
//! - The host has at least two labels (or is `localhost` or an IPv4
//!   address), each made of letters, digits and `-`, and at most 63
//!   characters once encoded for DNS (punycode, `xn--`…): a longer label is no
//!   domain, so the text is no link and counts as plain text.
//! - The top-level domain is letters (any script: `پاکستان` is one).
//!
//! [`find_all`] also finds the bare domains X links without a scheme
//! (`iom.int/morocco`, `www.unhcr.org`): ASCII, top-level domain from a list
//! of common ones, not part of an e-mail address. Mastodon and Bluesky link
//! only URLs with a scheme ([`find`]).
//!
//! Offsets are UTF-8 byte ranges into the text given. Pure, no I/O.

use std::ops::Range;

/// One link found in a text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    /// UTF-8 byte range of the link in the text.
    pub range: Range<usize>,
    /// Whether it starts with `http://` or `https://` (else a bare domain).
    pub scheme: bool,
}

/// The links with a scheme (`http://`, `https://`): what Mastodon and
/// Bluesky link, and what UTM parameters are added to.
pub fn find(text: &str) -> Vec<Range<usize>> {
    find_all(text)
        .into_iter()
        .filter(|l| l.scheme)
        .map(|l| l.range)
        .collect()
}

/// Every link X sees: with a scheme, and bare domains.
pub fn find_all(text: &str) -> Vec<Link> {
    let mut out: Vec<Link> = Vec::new();
    let lower = text.to_ascii_lowercase();
    let mut from = 0;
    while let Some(rel) = lower[from..].find("http") {
        let start = from + rel;
        let scheme = if lower[start..].starts_with("https://") {
            8
        } else if lower[start..].starts_with("http://") {
            7
        } else {
            from = start + 4;
            continue;
        };
        let glued = text[..start]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || matches!(c, '@' | '$' | '#'));
        let end = if glued {
            None
        } else {
            link_end(text, start, start + scheme, false)
        };
        match end {
            Some(end) => {
                out.push(Link {
                    range: start..end,
                    scheme: true,
                });
                from = end;
            }
            None => from = start + scheme,
        }
    }
    bare_domains(text, &mut out);
    out.sort_by_key(|l| l.range.start);
    out
}

/// Whether a character ends a link outright.
fn is_stop(c: char) -> bool {
    c.is_whitespace()
        || c.is_control()
        || matches!(c, '<' | '>' | '"' | '«' | '»' | '`' | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFF}')
}

/// The end of the link whose host starts at `host`, or `None` when the host
/// is no domain. `ascii_only` for bare domains.
fn link_end(text: &str, start: usize, host: usize, ascii_only: bool) -> Option<usize> {
    let rest = &text[host..];
    let raw_len = rest.find(is_stop).unwrap_or(rest.len());
    let raw = &rest[..raw_len];
    let host_len = raw.find(['/', '?', '#', ':']).unwrap_or(raw.len());
    // Trailing punctuation may cut into the host ("iom.int." → "iom.int").
    let mut end = host + trim_trailing(raw);
    let host_end = end.min(host + host_len);
    if !valid_host(&text[host..host_end], ascii_only) {
        return None;
    }
    if end <= start {
        return None;
    }
    // A port must be digits.
    if let Some(port) = text[host_end..end].strip_prefix(':') {
        let digits = port.find(['/', '?', '#']).unwrap_or(port.len());
        if digits == 0 || !port[..digits].bytes().all(|b| b.is_ascii_digit()) {
            end = host_end;
        }
    }
    Some(end)
}

/// The length of `s` without the punctuation that closes a sentence rather
/// than the link.
fn trim_trailing(s: &str) -> usize {
    let mut end = s.len();
    while let Some(c) = s[..end].chars().next_back() {
        let keep = match c {
            ')' => s[..end].matches('(').count() >= s[..end].matches(')').count(),
            ']' => s[..end].matches('[').count() >= s[..end].matches(']').count(),
            '/' | '=' | '_' | '-' | '+' | '&' | '#' | '@' | '~' | '%' | '*' => true,
            c => c.is_alphanumeric(),
        };
        if keep {
            break;
        }
        end -= c.len_utf8();
    }
    end
}

/// Whether `host` is a domain twitter-text would link (or `localhost`, or an
/// IPv4 address, which Mastodon and Bluesky link).
fn valid_host(host: &str, ascii_only: bool) -> bool {
    if !ascii_only && (host.eq_ignore_ascii_case("localhost") || is_ipv4(host)) {
        return true;
    }
    let labels: Vec<&str> = host.split('.').collect();
    if labels.len() < 2 {
        return false;
    }
    let Some(tld) = labels.last() else {
        return false;
    };
    if !tld.chars().all(char::is_alphabetic) || tld.chars().count() < 2 {
        return false;
    }
    labels.iter().all(|label| {
        !label.is_empty()
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| {
                c == '-'
                    || if ascii_only {
                        c.is_ascii_alphanumeric()
                    } else {
                        c.is_alphanumeric()
                    }
            })
            && dns_len(label) <= 63
    })
}

fn is_ipv4(host: &str) -> bool {
    host.parse::<std::net::Ipv4Addr>().is_ok()
}

/// A label's length in DNS: itself when ASCII, else `xn--` and its punycode.
fn dns_len(label: &str) -> usize {
    if label.is_ascii() {
        return label.len();
    }
    let lower: String = label.chars().flat_map(char::to_lowercase).collect();
    idna::punycode::encode_str(&lower).map_or(usize::MAX, |p| 4 + p.len())
}

/// Top-level domains that twitter-text links without `https://` (the common
/// ones in these campaigns; twitter-text knows them all).
const BARE_TLDS: &[&str] = &[
    "com", "org", "net", "int", "gov", "edu", "info", "io", "co", "me", "ly", "ma", "fr", "be",
    "ch", "ca", "uk", "de", "es", "it", "eu", "tn", "dz", "sn", "news", "app", "dev", "tv", "jp",
    "us", "nl", "pt", "ng", "eg", "mr", "ml", "ci", "cm", "ly", "global", "online", "site",
];

/// Bare domains (`iom.int/morocco`), outside the links already found.
fn bare_domains(text: &str, out: &mut Vec<Link>) {
    let found: Vec<Range<usize>> = out.iter().map(|l| l.range.clone()).collect();
    let mut at = 0;
    for word in text.split_inclusive(is_stop) {
        let word_start = at;
        at += word.len();
        let token = word.trim_end_matches(is_stop);
        let lead = token.len() - token.trim_start_matches(['(', '"', '\'', '«', '[']).len();
        let start = word_start + lead;
        let token = &token[lead..];
        if token.contains("://")
            || token.contains('@')
            || found.iter().any(|r| r.start <= start && start < r.end)
        {
            continue;
        }
        let Some(end) = link_end(text, start, start, true) else {
            continue;
        };
        let host_end = text[start..end]
            .find(['/', '?', '#', ':'])
            .map_or(end, |i| start + i);
        let tld = text[start..host_end].rsplit('.').next().unwrap_or_default();
        if BARE_TLDS.contains(&tld.to_ascii_lowercase().as_str()) {
            out.push(Link {
                range: start..end,
                scheme: false,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links(text: &str) -> Vec<&str> {
        find(text).into_iter().map(|r| &text[r]).collect()
    }

    #[test]
    fn punctuation_after_a_link_is_not_part_of_it() {
        let url = "https://morocco.iom.int/fr/news?id=3";
        for p in [
            "؟", "،", "؛", "«", "»", ".", ",", "!", "?", ":", ")", ";", "'", "\"", "...", ").",
            "؟!",
        ] {
            let text = format!("Voir {url}{p} suite");
            assert_eq!(links(&text), vec![url], "after {p:?}");
            let text = format!("اقرأ المزيد {url}{p}");
            assert_eq!(links(&text), vec![url], "after {p:?} (Arabic)");
        }
    }

    #[test]
    fn links_in_parentheses_and_before_hashtags() {
        assert_eq!(links("(https://iom.int/ma)"), vec!["https://iom.int/ma"]);
        assert_eq!(links("« https://iom.int »"), vec!["https://iom.int"]);
        assert_eq!(
            links("https://en.wikipedia.org/wiki/Rabat_(city)."),
            vec!["https://en.wikipedia.org/wiki/Rabat_(city)"]
        );
        assert_eq!(
            links("https://iom.int/ma #Migration"),
            vec!["https://iom.int/ma"]
        );
        assert_eq!(
            links("https://iom.int/ma\n#Migration"),
            vec!["https://iom.int/ma"]
        );
        assert_eq!(
            links("https://iom.int/ma?a=1#top."),
            vec!["https://iom.int/ma?a=1#top"]
        );
    }

    #[test]
    fn not_links() {
        assert!(links("https:// nothing").is_empty());
        assert!(links("xhttps://iom.int").is_empty());
        assert!(links("https://nodot").is_empty());
        assert!(links(&format!("https://{}.com", "a".repeat(64))).is_empty());
        assert_eq!(links(&format!("https://{}.com", "a".repeat(63))).len(), 1);
        assert_eq!(links("HTTPS://IOM.INT"), vec!["HTTPS://IOM.INT"]);
        assert_eq!(
            links("http://127.0.0.1:8080/x."),
            vec!["http://127.0.0.1:8080/x"]
        );
        assert_eq!(
            links("http://localhost:3000/a"),
            vec!["http://localhost:3000/a"]
        );
    }

    #[test]
    fn bare_domains_only_in_find_all() {
        let text = "Voir iom.int/morocco, a@iom.int, 3.5 et www.unhcr.org.";
        let all: Vec<&str> = find_all(text).into_iter().map(|l| &text[l.range]).collect();
        assert_eq!(all, vec!["iom.int/morocco", "www.unhcr.org"]);
        assert!(find(text).is_empty());
    }
}
