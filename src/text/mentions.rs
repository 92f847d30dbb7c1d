//! Mentions (`@name`) in a post's text, where each platform turns them into
//! a link to an account: what the console highlights. Bluesky's
//! `@handle.domain` mentions are its facets' (`platforms::bluesky::record`),
//! not repeated here.
//!
//! - X (twitter-text's extractor): `@` not glued to a letter, digit or one of
//!   `_ ! # $ % & * @`, then 1 to 20 of `A-Z a-z 0-9 _`, not followed by `@`,
//!   a Latin accented letter or `://` (then it is no mention at all).
//! - Mastodon: `@user` or `@user@domain`, not after `/` or a word character;
//!   a user is letters, digits and `_`, with `.` or `-` only inside.
//! - Instagram: `@` and 1 to 30 of letters, digits, `_` and `.` (not ending
//!   with `.`). Telegram: `@` and 5 to 32 of letters, digits and `_`.
//! - Facebook, LinkedIn and YouTube tag accounts through their APIs, not from
//!   `@` in the text; webhooks pass the text on: no mention.
//!
//! Offsets are UTF-8 byte ranges into the text given. Pure, no I/O.

use std::ops::Range;

use crate::config::PlatformKind;

/// The mentions `platform` finds in `text`, in order.
pub fn find(platform: PlatformKind, text: &str) -> Vec<Range<usize>> {
    match platform {
        PlatformKind::X => scan(text, x_mention),
        PlatformKind::Mastodon => scan(text, mastodon_mention),
        PlatformKind::Instagram => scan(text, |t, i| simple(t, i, 1, 30, true)),
        PlatformKind::Telegram => scan(text, |t, i| simple(t, i, 5, 32, false)),
        _ => Vec::new(),
    }
}

/// Each `@` at `i` handed to `at`, which gives the mention's end.
fn scan(text: &str, at: impl Fn(&str, usize) -> Option<usize>) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(rel) = text[from..].find('@') {
        let i = from + rel;
        match at(text, i) {
            Some(end) => {
                out.push(i..end);
                from = end;
            }
            None => from = i + 1,
        }
    }
    out
}

fn before(text: &str, i: usize) -> Option<char> {
    text[..i].chars().next_back()
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn x_mention(text: &str, i: usize) -> Option<usize> {
    if before(text, i).is_some_and(|c| c.is_ascii_alphanumeric() || "_!#$%&*@＠".contains(c)) {
        return None;
    }
    let body = &text[i + 1..];
    let len = body
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
        .count();
    if len == 0 {
        return None;
    }
    let len = len.min(20);
    let rest = &body[len..];
    let next = rest.chars().next();
    if next.is_some_and(|c| c == '@' || c == '＠' || ('\u{C0}'..='\u{24F}').contains(&c))
        || rest.starts_with("://")
    {
        return None;
    }
    Some(i + 1 + len)
}

fn mastodon_mention(text: &str, i: usize) -> Option<usize> {
    if before(text, i).is_some_and(|c| c == '/' || is_word(c)) {
        return None;
    }
    let user = name_len(&text[i + 1..], |c| c.is_ascii_alphanumeric() || c == '_')?;
    let mut end = i + 1 + user;
    if let Some(domain) = text[end..].strip_prefix('@')
        && let Some(d) = name_len(domain, is_word)
    {
        end += 1 + d;
    }
    Some(end)
}

/// The length of a name of `word` characters with `.` or `-` allowed only
/// between them; `None` when there is none.
fn name_len(s: &str, word: impl Fn(char) -> bool) -> Option<usize> {
    let mut end = 0;
    let mut len = 0;
    for c in s.chars() {
        if word(c) {
            len += c.len_utf8();
            end = len;
        } else if matches!(c, '.' | '-') && end > 0 {
            len += 1;
        } else {
            break;
        }
    }
    (end > 0).then_some(end)
}

fn simple(text: &str, i: usize, min: usize, max: usize, dots: bool) -> Option<usize> {
    if before(text, i).is_some_and(is_word) {
        return None;
    }
    let body = &text[i + 1..];
    let mut len = body
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_' || (dots && *b == b'.'))
        .count();
    while len > 0 && body.as_bytes()[len - 1] == b'.' {
        len -= 1;
    }
    (min..=max).contains(&len).then_some(i + 1 + len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(p: PlatformKind, text: &str) -> Vec<&str> {
        find(p, text).into_iter().map(|r| &text[r]).collect()
    }

    #[test]
    fn x_mentions_follow_twitter_text() {
        assert_eq!(
            names(PlatformKind::X, "Merci @OIM_Maroc, et @UNHCR_Morocco."),
            vec!["@OIM_Maroc", "@UNHCR_Morocco"]
        );
        assert!(names(PlatformKind::X, "a@iom.int").is_empty());
        assert!(names(PlatformKind::X, "@user@host").is_empty());
        assert!(names(PlatformKind::X, "@josé").is_empty());
        assert_eq!(
            names(PlatformKind::X, "شكرا @OIM_Maroc؟"),
            vec!["@OIM_Maroc"]
        );
    }

    #[test]
    fn mastodon_mentions_with_domains() {
        assert_eq!(
            names(PlatformKind::Mastodon, "Avec @oim@mastodon.social et @a.b."),
            vec!["@oim@mastodon.social", "@a.b"]
        );
        assert!(names(PlatformKind::Mastodon, "https://x.org/@oim").is_empty());
    }

    #[test]
    fn other_platforms() {
        assert_eq!(
            names(PlatformKind::Instagram, "@unicef.maroc."),
            vec!["@unicef.maroc"]
        );
        assert!(names(PlatformKind::Telegram, "@abc").is_empty());
        assert_eq!(names(PlatformKind::Telegram, "@abcde"), vec!["@abcde"]);
        assert!(names(PlatformKind::Facebook, "@OIMMaroc").is_empty());
    }
}
