//! Each platform's length rules, applied to text already rendered for it
//! (hashtags appended, links tagged): what the platform itself will count.
//!
//! Platforms count differently, and a post refused at publishing time is a
//! post lost for its day, so `berrah check` counts the way each one does
//! (figures from `docs/platforms/<name>.md`):
//!
//! - X: 280 *weighted* units (twitter-text v3): code points in U+0000–U+10FF,
//!   U+2000–U+200D, U+2010–U+201F, U+2032–U+2037 weigh 1, every other 2; an
//!   emoji sequence (a ZWJ family too) weighs 2; every URL weighs 23.
//! - Bluesky: 300 graphemes and 3,000 UTF-8 bytes.
//! - Mastodon: 500 graphemes (or the instance's own limit), URLs count 23.
//! - Instagram: 2,200 characters and at most 30 hashtags.
//! - LinkedIn: 3,000 characters. Facebook: 63,206 characters.
//! - Telegram: 4,096 UTF-16 units, 1,024 for a caption (a post with media);
//!   the notes leave code points vs UTF-16 open, so UTF-16 (the larger) is used.
//! - YouTube: title 100 characters, description 5,000 UTF-8 bytes.
//!
//! Pure functions, no I/O.

use unicode_normalization::UnicodeNormalization;
use unicode_segmentation::UnicodeSegmentation;

use super::links;

use crate::config::PlatformKind;

/// What a URL counts on X and Mastodon, whatever its length.
pub const URL_WEIGHT: usize = 23;
/// X's limit in weighted units.
pub const X_MAX: usize = 280;
pub const BLUESKY_MAX_GRAPHEMES: usize = 300;
pub const BLUESKY_MAX_BYTES: usize = 3000;
pub const MASTODON_DEFAULT_MAX: usize = 500;
pub const INSTAGRAM_MAX: usize = 2200;
pub const INSTAGRAM_MAX_HASHTAGS: usize = 30;
pub const LINKEDIN_MAX: usize = 3000;
pub const FACEBOOK_MAX: usize = 63_206;
pub const TELEGRAM_TEXT_MAX: usize = 4096;
pub const TELEGRAM_CAPTION_MAX: usize = 1024;
pub const YOUTUBE_TITLE_MAX: usize = 100;
pub const YOUTUBE_DESCRIPTION_MAX_BYTES: usize = 5000;

/// Which part of a publication a limit applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Text,
    Title,
    Description,
}

impl Part {
    pub fn as_str(self) -> &'static str {
        match self {
            Part::Text => "text",
            Part::Title => "title",
            Part::Description => "description",
        }
    }
}

/// A text measured against one of a platform's limits: over it when
/// [`check_text`] and the other `check_` functions return it, within it
/// possibly when the `measure_` functions do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overflow {
    pub platform: PlatformKind,
    pub part: Part,
    /// The length as the platform counts it.
    pub length: usize,
    pub max: usize,
    /// The unit the platform counts in (`"weighted characters"`, `"graphemes"`, ...).
    pub unit: &'static str,
}

impl Overflow {
    pub fn over_by(&self) -> usize {
        self.length.saturating_sub(self.max)
    }

    /// "is 312 weighted characters long, 32 over X's limit of 280".
    pub fn describe(&self) -> String {
        format!(
            "is {} {} long, {} over {}'s limit of {}",
            self.length,
            self.unit,
            self.over_by(),
            platform_title(self.platform),
            self.max
        )
    }
}

/// The platform's name as people write it.
pub fn platform_title(p: PlatformKind) -> &'static str {
    match p {
        PlatformKind::Mastodon => "Mastodon",
        PlatformKind::Bluesky => "Bluesky",
        PlatformKind::X => "X",
        PlatformKind::Facebook => "Facebook",
        PlatformKind::Instagram => "Instagram",
        PlatformKind::Linkedin => "LinkedIn",
        PlatformKind::Youtube => "YouTube",
        PlatformKind::Telegram => "Telegram",
        PlatformKind::Webhook => "the webhook",
    }
}

/// Checks a post's main text (or a reply, or a first comment) for `platform`.
/// `max_chars` is the account's own limit where the platform lets instances
/// choose (Mastodon); `with_media` makes a Telegram text a caption.
pub fn check_text(
    platform: PlatformKind,
    text: &str,
    max_chars: Option<usize>,
    with_media: bool,
) -> Vec<Overflow> {
    measure_text(platform, text, max_chars, with_media)
        .into_iter()
        .filter(|m| m.length > m.max)
        .collect()
}

/// Every limit of `platform` on a text with the text's length as the
/// platform counts it, over the limit or not (`over_by() == 0` when it
/// fits): what [`check_text`] judges, and what the console shows.
pub fn measure_text(
    platform: PlatformKind,
    text: &str,
    max_chars: Option<usize>,
    with_media: bool,
) -> Vec<Overflow> {
    let mut out = Vec::new();
    let mut push = |length: usize, max: usize, unit: &'static str| {
        out.push(Overflow {
            platform,
            part: Part::Text,
            length,
            max,
            unit,
        });
    };
    match platform {
        PlatformKind::X => push(x_weighted_length(text), X_MAX, "weighted characters"),
        PlatformKind::Bluesky => {
            push(graphemes(text), BLUESKY_MAX_GRAPHEMES, "graphemes");
            push(text.len(), BLUESKY_MAX_BYTES, "bytes");
        }
        PlatformKind::Mastodon => push(
            mastodon_length(text),
            max_chars.unwrap_or(MASTODON_DEFAULT_MAX),
            "characters",
        ),
        PlatformKind::Instagram => push(text.chars().count(), INSTAGRAM_MAX, "characters"),
        PlatformKind::Linkedin => push(text.chars().count(), LINKEDIN_MAX, "characters"),
        PlatformKind::Facebook => push(text.chars().count(), FACEBOOK_MAX, "characters"),
        PlatformKind::Telegram => {
            let max = if with_media {
                TELEGRAM_CAPTION_MAX
            } else {
                TELEGRAM_TEXT_MAX
            };
            push(text.encode_utf16().count(), max, "characters");
        }
        PlatformKind::Youtube => push(text.len(), YOUTUBE_DESCRIPTION_MAX_BYTES, "bytes (UTF-8)"),
        PlatformKind::Webhook => {}
    }
    out
}

/// A YouTube title's length against its limit (`None` on other platforms):
/// what [`check_title`] judges.
pub fn measure_title(platform: PlatformKind, title: &str) -> Option<Overflow> {
    (platform == PlatformKind::Youtube).then(|| Overflow {
        platform,
        part: Part::Title,
        length: title.chars().count(),
        max: YOUTUBE_TITLE_MAX,
        unit: "characters",
    })
}

/// A YouTube description's length against its limit (`None` on other
/// platforms): what [`check_description`] judges.
pub fn measure_description(platform: PlatformKind, description: &str) -> Option<Overflow> {
    (platform == PlatformKind::Youtube).then_some(Overflow {
        platform,
        part: Part::Description,
        length: description.len(),
        max: YOUTUBE_DESCRIPTION_MAX_BYTES,
        unit: "bytes (UTF-8)",
    })
}

/// Checks a YouTube title.
pub fn check_title(platform: PlatformKind, title: &str) -> Option<Overflow> {
    measure_title(platform, title).filter(|m| m.length > m.max)
}

/// Checks a YouTube description (5,000 UTF-8 bytes).
pub fn check_description(platform: PlatformKind, description: &str) -> Option<Overflow> {
    measure_description(platform, description).filter(|m| m.length > m.max)
}

/// Extended grapheme clusters: what people see as one character.
pub fn graphemes(text: &str) -> usize {
    text.graphemes(true).count()
}

/// The byte ranges of the URLs in `text` with a scheme (what Mastodon and
/// Bluesky link): [`links::find`].
pub fn url_ranges(text: &str) -> Vec<std::ops::Range<usize>> {
    links::find(text)
}

/// URLs as X sees them: with a scheme, and bare domains such as
/// `iom.int/morocco` or `www.unhcr.org` (twitter-text links those too, and
/// counts them 23): [`links::find_all`].
pub fn x_url_ranges(text: &str) -> Vec<std::ops::Range<usize>> {
    links::find_all(text).into_iter().map(|l| l.range).collect()
}

/// X's weighted length (twitter-text v3 configuration): the text is
/// normalized to NFC first, as X does, so a decomposed `é` counts once.
pub fn x_weighted_length(text: &str) -> usize {
    let text: String = text.nfc().collect();
    let mut total = 0;
    let mut at = 0;
    for url in x_url_ranges(&text) {
        total += x_plain_weight(&text[at..url.start]) + URL_WEIGHT;
        at = url.end;
    }
    total + x_plain_weight(&text[at..])
}

/// Characters twitter-text refuses anywhere in a post.
pub fn x_invalid_char(text: &str) -> Option<char> {
    text.chars()
        .find(|c| matches!(c, '\u{FFFE}' | '\u{FEFF}' | '\u{FFFF}'))
}

/// Whether X accepts `text` as a post's text (twitter-text's `isValid`): not
/// empty, at most 280 weighted units, no invalid character.
pub fn x_is_valid(text: &str) -> bool {
    !text.is_empty() && x_invalid_char(text).is_none() && x_weighted_length(text) <= X_MAX
}

fn x_plain_weight(text: &str) -> usize {
    text.graphemes(true)
        .map(|g| {
            if is_emoji_grapheme(g) {
                2
            } else {
                g.chars().map(x_char_weight).sum()
            }
        })
        .sum()
}

fn x_char_weight(c: char) -> usize {
    match u32::from(c) {
        0..=4351 | 8192..=8205 | 8208..=8223 | 8242..=8247 => 1,
        _ => 2,
    }
}

/// Whether a grapheme is an emoji (sequence): pictographs, flags, keycaps,
/// anything with the emoji presentation selector; X counts the whole as 2.
fn is_emoji_grapheme(g: &str) -> bool {
    g.chars().any(|c| {
        matches!(u32::from(c),
            0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0x2B00..=0x2BFF | 0x2300..=0x23FF
            | 0xFE0F | 0x20E3)
    })
}

/// Mastodon's length: graphemes, each URL counted 23, a remote mention
/// `@user@domain` counted as `@user`.
pub fn mastodon_length(text: &str) -> usize {
    let mut total = 0;
    let mut at = 0;
    for url in url_ranges(text) {
        total += mastodon_plain(&text[at..url.start]) + URL_WEIGHT;
        at = url.end;
    }
    total + mastodon_plain(&text[at..])
}

fn mastodon_plain(text: &str) -> usize {
    text.split_inclusive(char::is_whitespace)
        .map(|word| {
            let trimmed = word.trim_end();
            let tail = word.len() - trimmed.len();
            let counted = match trimmed.strip_prefix('@').and_then(|w| w.find('@')) {
                Some(i) if i > 0 => &trimmed[..i + 1],
                _ => trimmed,
            };
            graphemes(counted) + graphemes(&word[word.len() - tail..])
        })
        .sum()
}

/// The hashtags of a text (`#word`, letters of any script, digits, `_`).
pub fn hashtags(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for (i, c) in text.char_indices() {
        if c != '#' {
            continue;
        }
        let before_ok = text[..i]
            .chars()
            .next_back()
            .is_none_or(|p| !p.is_alphanumeric() && p != '_' && p != '&');
        let body_len: usize = text[i + 1..]
            .chars()
            .take_while(|ch| ch.is_alphanumeric() || *ch == '_')
            .map(char::len_utf8)
            .sum();
        if before_ok && body_len > 0 {
            out.push(&text[i..i + 1 + body_len]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every case of twitter-text's v3 weighted sections
    /// (`tests/fixtures/conformance/`): weighted length, validity, permillage.
    #[test]
    fn x_passes_twitter_text_v3_conformance() {
        let data: serde_json::Value = serde_json::from_str(include_str!(
            "../../tests/fixtures/conformance/validate.json"
        ))
        .unwrap();
        let mut failures = Vec::new();
        let mut cases = 0;
        for section in [
            "WeightedTweetsWithDiscountedEmojiCounterTest",
            "UnicodeDirectionalMarkerCounterTest",
        ] {
            for case in data["tests"][section].as_array().unwrap() {
                cases += 1;
                let text = case["text"].as_str().unwrap();
                let expected = &case["expected"];
                let length = x_weighted_length(text);
                let got = (length, x_is_valid(text), length * 1000 / X_MAX);
                let want = (
                    expected["weightedLength"].as_u64().unwrap() as usize,
                    expected["valid"].as_bool().unwrap(),
                    expected["permillage"].as_u64().unwrap() as usize,
                );
                if got != want {
                    failures.push(format!(
                        "{section}: {}: got {got:?}, want {want:?}",
                        case["description"]
                    ));
                }
            }
        }
        assert_eq!(cases, 24);
        assert!(failures.is_empty(), "{failures:#?}");
    }

    #[test]
    fn x_counts_latin_and_french_accents_once() {
        assert_eq!(x_weighted_length("Bonjour à tous, élève"), 21);
        assert_eq!(x_weighted_length(&"é".repeat(280)), 280);
        assert!(check_text(PlatformKind::X, &"é".repeat(280), None, false).is_empty());
        let over = check_text(PlatformKind::X, &"é".repeat(281), None, false);
        assert_eq!(over[0].over_by(), 1);
    }

    #[test]
    fn x_counts_arabic_once_per_code_point() {
        // Arabic (U+0600–U+06FF) is below U+10FF: weight 1.
        let s = "مرحبا بكم";
        assert_eq!(x_weighted_length(s), s.chars().count());
    }

    #[test]
    fn x_counts_cjk_twice() {
        assert_eq!(x_weighted_length("日本語"), 6);
        assert_eq!(x_weighted_length(&"字".repeat(140)), 280);
        assert_eq!(
            check_text(PlatformKind::X, &"字".repeat(141), None, false)[0].length,
            282
        );
    }

    #[test]
    fn x_counts_an_emoji_family_as_two() {
        assert_eq!(x_weighted_length("👨‍👩‍👧‍👦"), 2);
        assert_eq!(x_weighted_length("👍🏽"), 2);
        assert_eq!(x_weighted_length("🇲🇦"), 2);
        assert_eq!(x_weighted_length("a😀b"), 4);
        // Typographic quotes and dashes are in the weight-1 ranges.
        assert_eq!(x_weighted_length("“—”"), 3);
    }

    #[test]
    fn urls_count_23_on_x_and_mastodon() {
        let long = format!("https://example.org/{}", "a".repeat(200));
        let text = format!("Voir {long}.");
        assert_eq!(x_weighted_length(&text), 5 + 23 + 1);
        assert_eq!(mastodon_length(&text), 5 + 23 + 1);
        // A one-letter top-level domain does not exist: no link (twitter-text).
        assert_eq!(url_ranges("(http://a.ma)").len(), 1);
        assert!(url_ranges("(http://a.b)").is_empty());
        assert!(url_ranges("https:// nothing").is_empty());
    }

    #[test]
    fn x_counts_bare_domains_as_links() {
        assert_eq!(x_weighted_length("Voir iom.int."), 5 + 23 + 1);
        assert_eq!(x_weighted_length("(www.unhcr.org/ma)"), 1 + 23 + 1);
        assert_eq!(x_weighted_length("B7al.b7al fin.de"), 9 + 1 + 23);
        // Not domains: an e-mail address, a decimal, a sentence end.
        assert_eq!(x_weighted_length("a@iom.int"), 9);
        assert_eq!(x_weighted_length("3.5"), 3);
        assert_eq!(x_weighted_length("fin. Merci"), 10);
        // Mastodon does not link bare domains.
        assert_eq!(mastodon_length("iom.int"), 7);
    }

    #[test]
    fn mastodon_counts_graphemes_and_local_part_of_mentions() {
        assert_eq!(mastodon_length("👨‍👩‍👧‍👦 hi"), 4);
        assert_eq!(mastodon_length("@oim@mastodon.social salut"), 4 + 6);
        let text = "a".repeat(501);
        assert!(!check_text(PlatformKind::Mastodon, &text, None, false).is_empty());
        assert!(check_text(PlatformKind::Mastodon, &text, Some(1000), false).is_empty());
    }

    #[test]
    fn bluesky_counts_graphemes_and_bytes() {
        let family = "👨‍👩‍👧‍👦".repeat(300);
        assert_eq!(graphemes(&family), 300);
        // 300 graphemes but 25 bytes each: over the 3,000-byte limit.
        let over = check_text(PlatformKind::Bluesky, &family, None, false);
        assert_eq!(over.len(), 1);
        assert_eq!(over[0].unit, "bytes");
        assert!(check_text(PlatformKind::Bluesky, &"é".repeat(300), None, false).is_empty());
    }

    #[test]
    fn telegram_caption_is_shorter_than_text() {
        let text = "ب".repeat(2000);
        assert!(check_text(PlatformKind::Telegram, &text, None, false).is_empty());
        let over = check_text(PlatformKind::Telegram, &text, None, true);
        assert_eq!((over[0].max, over[0].over_by()), (1024, 976));
    }

    #[test]
    fn instagram_linkedin_facebook_count_characters() {
        assert!(check_text(PlatformKind::Instagram, &"é".repeat(2200), None, true).is_empty());
        assert!(!check_text(PlatformKind::Instagram, &"é".repeat(2201), None, true).is_empty());
        assert!(!check_text(PlatformKind::Linkedin, &"x".repeat(3001), None, false).is_empty());
        assert!(check_text(PlatformKind::Facebook, &"x".repeat(63_206), None, false).is_empty());
        assert!(check_text(PlatformKind::Webhook, &"x".repeat(100_000), None, false).is_empty());
    }

    #[test]
    fn youtube_title_and_description() {
        assert!(check_title(PlatformKind::Youtube, &"é".repeat(100)).is_none());
        let o = check_title(PlatformKind::Youtube, &"é".repeat(101)).unwrap();
        assert_eq!(
            o.describe(),
            "is 101 characters long, 1 over YouTube's limit of 100"
        );
        // 2,600 Arabic letters are 5,200 bytes.
        assert!(check_description(PlatformKind::Youtube, &"ع".repeat(2600)).is_some());
        assert!(check_title(PlatformKind::X, &"x".repeat(500)).is_none());
    }

    proptest::proptest! {
        #[test]
        fn counting_never_panics_and_ranges_are_slices(text in "\\PC{0,200}( https?://[a-z./]{0,20}| [a-z]{1,5}\\.(int|org|ma)| #[a-zé_]{0,6}| @a@b\\.c){0,4}\\PC{0,20}") {
            for r in x_url_ranges(&text) {
                proptest::prop_assert!(text.get(r).is_some());
            }
            let x = x_weighted_length(&text);
            // Every grapheme weighs at least 1 unless it is inside a link.
            proptest::prop_assert!(x <= 2 * text.chars().count() + 23 * text.len());
            let _ = mastodon_length(&text);
            let _ = hashtags(&text);
            for p in PlatformKind::ALL {
                let _ = check_text(p, &text, None, true);
            }
        }
    }

    #[test]
    fn hashtags_in_any_script() {
        let t = "Journée #B7al_b7al #مهاجرين &#39; a#b #";
        assert_eq!(hashtags(t), vec!["#B7al_b7al", "#مهاجرين"]);
    }
}
