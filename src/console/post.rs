//! A post opened: as each platform will show it, in each language.
//!
//! For each platform and language (and distinct content) of a post at one
//! due time: the final text (the occurrence's [`Content`], hashtags and UTM
//! already applied by `text::render`), with the links, hashtags and mentions
//! marked exactly where the platform finds them ([`features`]: the detectors
//! of `text::links`, `text::limits`, `text::mentions` and Bluesky's facets,
//! the same that count and publish), the length against each of the
//! platform's limits (`text::limits::measure_*`, which `berrah check`
//! judges), the media with their alternative text, the thread's replies and
//! the first comment in order, the local time with its offset and zone and
//! the UTC time, and, when the daemon serves the page, each account's state
//! in the queue.
//!
//! Every element holding content carries its `lang` and `dir` (Arabic right
//! to left), whatever the interface's language.

use std::ops::Range;

use maud::{Markup, html};

use super::calendar::{Group, Links, Month, PageKind, States, long_date, state_name};
use super::i18n::Lang;
use super::layout::{self, Page, Section};
use crate::config::{Config, PlatformKind};
use crate::plan::output::View;
use crate::plan::{Content, MediaRef};
use crate::store::EntryState;
use crate::text::limits::{self, Overflow, Part, platform_title};
use crate::text::{links, mentions};

/// What a marked span of text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feature {
    Link,
    Hashtag,
    Mention,
}

impl Feature {
    fn class(self) -> &'static str {
        match self {
            Feature::Link => "link",
            Feature::Hashtag => "hashtag",
            Feature::Mention => "mention",
        }
    }
}

/// The links, hashtags and mentions `platform` finds in `text`: byte
/// ranges, in order, never overlapping (a `#` or `@` inside a link belongs
/// to the link).
///
/// - Bluesky: its facets (`platforms::bluesky::record::detect`), what is
///   published.
/// - X: links with a scheme and bare domains (`links::find_all`, which X's
///   count uses); Instagram links nothing in a caption; the others link
///   URLs with a scheme (`links::find`, which UTM tagging and Mastodon's
///   count use).
/// - Hashtags: `limits::hashtags` (Instagram's count), not only digits.
/// - Mentions: [`mentions::find`].
pub fn features(platform: PlatformKind, text: &str) -> Vec<(Feature, Range<usize>)> {
    use crate::platforms::bluesky::record;
    if platform == PlatformKind::Bluesky {
        return record::detect(text)
            .into_iter()
            .map(|s| {
                let f = match s.feature {
                    record::Feature::Link(_) => Feature::Link,
                    record::Feature::Tag(_) => Feature::Hashtag,
                    record::Feature::Mention(_) => Feature::Mention,
                };
                (f, s.range)
            })
            .collect();
    }
    let mut out: Vec<(Feature, Range<usize>)> = match platform {
        PlatformKind::X => links::find_all(text)
            .into_iter()
            .map(|l| (Feature::Link, l.range))
            .collect(),
        PlatformKind::Instagram => Vec::new(),
        _ => links::find(text)
            .into_iter()
            .map(|r| (Feature::Link, r))
            .collect(),
    };
    let free = |out: &[(Feature, Range<usize>)], r: &Range<usize>| {
        !out.iter().any(|(_, s)| s.start < r.end && r.start < s.end)
    };
    for tag in limits::hashtags(text) {
        let start = tag.as_ptr() as usize - text.as_ptr() as usize;
        let r = start..start + tag.len();
        if !tag[1..].chars().all(|c| c.is_ascii_digit()) && free(&out, &r) {
            out.push((Feature::Hashtag, r));
        }
    }
    for r in mentions::find(platform, text) {
        if free(&out, &r) {
            out.push((Feature::Mention, r));
        }
    }
    out.sort_by_key(|(_, r)| r.start);
    out
}

/// The writing direction of a language (`ar`, `ar-MA`...).
pub fn dir_of(lang: &str) -> &'static str {
    let primary = lang.split(['-', '_']).next().unwrap_or_default();
    match primary.to_ascii_lowercase().as_str() {
        "ar" | "fa" | "he" | "ur" | "ps" | "yi" | "dv" | "ckb" | "sd" | "ug" => "rtl",
        _ => "ltr",
    }
}

/// `text` with its features marked (`mark.link`, `mark.hashtag`,
/// `mark.mention`), escaped.
pub fn marked(platform: PlatformKind, text: &str) -> Markup {
    // (plain text before, the feature and its text), then the rest.
    let mut parts: Vec<(&str, Feature, &str)> = Vec::new();
    let mut at = 0;
    for (f, r) in features(platform, text) {
        parts.push((&text[at..r.start], f, &text[r.clone()]));
        at = r.end;
    }
    let rest = &text[at..];
    html! {
        @for (before, f, inner) in &parts {
            (before)
            mark class=(f.class()) { (inner) }
        }
        (rest)
    }
}

/// A unit in the interface's words.
fn unit(lang: Lang, unit: &str) -> &str {
    match unit {
        "weighted characters" => lang.pick("caractères pondérés", unit),
        "graphemes" => lang.pick("graphèmes", unit),
        "bytes" => lang.pick("octets", unit),
        "bytes (UTF-8)" => lang.pick("octets (UTF-8)", unit),
        "characters" => lang.pick("caractères", unit),
        "hashtags" => lang.pick("hashtags", unit),
        other => other,
    }
}

fn count(lang: Lang, part: &str, m: &Overflow) -> Markup {
    let over = m.length > m.max;
    html! {
        span class={ "count" @if over { " over" } }
            data-platform=(m.platform.as_str()) data-part=(part)
            data-length=(m.length) data-max=(m.max) {
            (m.length) " / " (m.max) " " (unit(lang, m.unit))
            @if over {
                " · " (lang.pick("dépasse de ", "over by ")) (m.over_by())
            }
        }
    }
}

/// A content element: its text marked, with its language and direction.
fn content_text(platform: PlatformKind, language: &str, class: &str, text: &str) -> Markup {
    html! {
        div class={ "post-text " (class) } lang=(language) dir=(dir_of(language)) {
            (marked(platform, text))
        }
    }
}

/// Whether a media file is shown as an image (else a video or a document).
pub fn is_image(file: &str) -> bool {
    let lower = file.to_ascii_lowercase();
    [".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif"]
        .iter()
        .any(|e| lower.ends_with(e))
}

/// What a post page needs besides the post's occurrences.
pub struct PostPage<'a> {
    pub lang: Lang,
    pub links: Links,
    pub config: &'a Config,
    pub states: &'a States,
    /// The address of a media file (`thumbnail`: its thumbnail), relative to
    /// the console's root; `None` when it cannot be shown.
    pub media: &'a dyn Fn(&View<'_>, &MediaRef, bool) -> Option<String>,
}

/// One platform and language of a post, with the accounts that publish
/// the same content.
struct Variant<'a, 'g> {
    platform: PlatformKind,
    language: &'a str,
    content: &'a Content,
    max_chars: Option<usize>,
    members: Vec<&'g View<'a>>,
}

fn variants<'a, 'g>(config: &Config, g: &'g Group<'a>) -> Vec<Variant<'a, 'g>> {
    let mut out: Vec<Variant<'a, 'g>> = Vec::new();
    for m in &g.members {
        let max_chars = config.accounts.get(m.account).and_then(|a| a.max_chars);
        match out.iter_mut().find(|v| {
            v.platform == m.platform
                && v.language == m.language
                && v.max_chars == max_chars
                && *v.content == *m.content
        }) {
            Some(v) => v.members.push(m),
            None => out.push(Variant {
                platform: m.platform,
                language: m.language,
                content: m.content,
                max_chars,
                members: vec![m],
            }),
        }
    }
    let order = |p: PlatformKind| PlatformKind::ALL.iter().position(|x| *x == p);
    out.sort_by(|a, b| (order(a.platform), a.language).cmp(&(order(b.platform), b.language)));
    out
}

/// The post page of a group.
pub fn post_page(p: &PostPage<'_>, g: &Group<'_>) -> Markup {
    let lang = p.lang;
    let f = g.first();
    let title = format!("{} · {}", f.post, long_date(lang, g.day));
    let path = match p.links {
        Links::Served { .. } => format!("/post/{}", g.id()),
        Links::Static => format!("post/{}.html", g.id()),
    };
    let page = Page {
        lang,
        title: &title,
        section: Section::Calendar,
        root: p.links.root(PageKind::Post),
        board: matches!(p.links, Links::Served { .. }),
        alternates: p.links.alternates(PageKind::Post, &path),
    };
    let utc = g.due.to_zoned(jiff::tz::TimeZone::UTC);
    let offset = f.local.get(19..).unwrap_or_default();
    let offset = if offset == "Z" { "+00:00" } else { offset };
    let body = html! {
        article.post-page data-post=(g.id()) data-campaign=(f.campaign) data-capsule=[f.capsule] data-day=(g.day) {
            p.back {
                a href=(p.links.month(lang, PageKind::Post, Month::of(g.day))) {
                    "← " (Month::of(g.day).title(lang))
                }
            }
            h1 { (f.post) }
            p.where-from {
                (lang.pick("Campagne ", "Campaign ")) code { (f.campaign) }
                @if let Some(c) = f.capsule {
                    " · " (lang.pick("capsule ", "capsule ")) code.capsule-id { (c) }
                }
            }
            p.when {
                time.local datetime=(f.local) {
                    (long_date(lang, g.day)) ", " (g.time())
                }
                " " span.offset { "(UTC" (offset) ", " (f.timezone) ")" }
                " · "
                time.utc datetime=(g.due) {
                    (utc.strftime("%Y-%m-%d %H:%M")) " UTC"
                }
            }
            @for v in variants(p.config, g) {
                (variant(p, &v))
            }
        }
    };
    layout::page(&page, body)
}

fn variant(p: &PostPage<'_>, v: &Variant<'_, '_>) -> Markup {
    let lang = p.lang;
    let c = v.content;
    let platform = v.platform;
    let with_media = !c.media.is_empty();
    let youtube = platform == PlatformKind::Youtube;
    let description = c.description.as_deref().unwrap_or(&c.text);
    let main_counts: Vec<Overflow> = if youtube {
        limits::measure_description(platform, description)
            .into_iter()
            .collect()
    } else {
        limits::measure_text(platform, &c.text, v.max_chars, with_media)
    };
    let title_count = c
        .title
        .as_deref()
        .and_then(|t| limits::measure_title(platform, t));
    let hashtag_count = (platform == PlatformKind::Instagram).then(|| Overflow {
        platform,
        part: Part::Text,
        length: limits::hashtags(&c.text).len(),
        max: limits::INSTAGRAM_MAX_HASHTAGS,
        unit: "hashtags",
    });
    html! {
        section.variant data-platform=(platform.as_str()) data-lang=(v.language) {
            h2 {
                (platform_title(platform)) " · "
                span.lang-name { (language_name(lang, v.language)) }
            }
            ul.accounts {
                @for m in &v.members {
                    @let name = p.config.accounts.get(m.account).and_then(|a| a.name.as_deref()).unwrap_or(m.account);
                    li data-account=(m.account) data-occurrence=(m.id) {
                        (name)
                        @if let Some(s) = p.states.get(m.id) {
                            " "
                            span class={ "state state-" (s.state.as_str()) } data-state=(s.state.as_str()) {
                                (state_name(lang, s.state))
                            }
                            @if let (EntryState::Published, Some(url)) = (s.state, &s.url) {
                                " " a.published href=(url) rel="noopener noreferrer" { (lang.pick("voir la publication", "see the post")) }
                            }
                            @if s.state != EntryState::Published {
                                @if let Some(cause) = &s.cause {
                                    " " span.cause { (cause) }
                                }
                            }
                        }
                    }
                }
            }
            @if let Some(t) = &c.title {
                div.title-block {
                    h3 { (lang.pick("Titre", "Title")) }
                    div.post-title lang=(v.language) dir=(dir_of(v.language)) { (t) }
                    @if let Some(m) = &title_count { (count(lang, "title", m)) }
                }
            }
            @if youtube {
                h3 { (lang.pick("Description", "Description")) }
                (content_text(platform, v.language, "main", description))
            } @else {
                (content_text(platform, v.language, "main", &c.text))
            }
            div.counts {
                @for m in &main_counts {
                    (count(lang, if youtube { "description" } else { "text" }, m))
                }
                @if let Some(m) = &hashtag_count { (count(lang, "hashtags", m)) }
            }
            @if !c.media.is_empty() {
                div.media {
                    @for m in &c.media {
                        (media(p, v, m))
                    }
                }
            }
            @if let Some(card) = &c.card {
                div.card lang=(v.language) dir=(dir_of(v.language)) {
                    strong { (card.title) }
                    @if !card.description.is_empty() { p { (card.description) } }
                }
            }
            @if !c.thread.is_empty() {
                h3 { (lang.pick("Fil (réponses dans l'ordre)", "Thread (replies in order)")) }
                ol.thread {
                    @for (i, reply) in c.thread.iter().enumerate() {
                        li data-reply=(i + 1) {
                            (content_text(platform, v.language, "reply", reply))
                            div.counts {
                                @for m in limits::measure_text(platform, reply, v.max_chars, false) {
                                    (count(lang, "thread", &m))
                                }
                            }
                        }
                    }
                }
            }
            @if let Some(fc) = &c.first_comment {
                h3 { (lang.pick("Premier commentaire", "First comment")) }
                (content_text(platform, v.language, "first-comment", fc))
                div.counts {
                    @for m in limits::measure_text(platform, fc, v.max_chars, false) {
                        (count(lang, "first_comment", &m))
                    }
                }
            }
        }
    }
}

fn media(p: &PostPage<'_>, v: &Variant<'_, '_>, m: &MediaRef) -> Markup {
    let lang = p.lang;
    let first = v.members[0];
    let root = p.links.root(PageKind::Post);
    let image = is_image(&m.file);
    let shown = if image {
        (p.media)(first, m, false)
    } else {
        (p.media)(first, m, true)
    };
    let alt = m.alt.as_deref().unwrap_or_default();
    html! {
        figure class={ "medium " (if image { "image" } else { "video" }) } data-file=(m.file) {
            @if let Some(href) = &shown {
                img src={ (root) (href) } alt=(alt) lang=(v.language) dir=(dir_of(v.language)) loading="lazy";
            } @else {
                div.no-thumbnail { (lang.pick("(pas d'aperçu)", "(no preview)")) }
            }
            figcaption {
                @if !image { span.kind { "▶ " (lang.pick("vidéo", "video")) " · " } }
                code { (m.file) }
                @if m.alt.is_some() {
                    div.alt lang=(v.language) dir=(dir_of(v.language)) {
                        span.alt-label lang=(lang.code()) dir="ltr" { (lang.pick("Texte alternatif : ", "Alt text: ")) }
                        (alt)
                    }
                } @else {
                    div.alt.missing { (lang.pick("Pas de texte alternatif", "No alt text")) }
                }
            }
        }
    }
}

/// A content language's name in the interface's language.
fn language_name(lang: Lang, code: &str) -> String {
    let name = match code.split(['-', '_']).next().unwrap_or_default() {
        "fr" => lang.pick("français", "French"),
        "ar" => lang.pick("arabe", "Arabic"),
        "en" => lang.pick("anglais", "English"),
        "es" => lang.pick("espagnol", "Spanish"),
        "zgh" | "ber" | "tzm" => lang.pick("amazighe", "Amazigh"),
        _ => return code.to_string(),
    };
    format!("{name} ({code})")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(p: PlatformKind, text: &str) -> Vec<(Feature, &str)> {
        features(p, text)
            .into_iter()
            .map(|(f, r)| (f, &text[r]))
            .collect()
    }

    #[test]
    fn links_are_marked_without_the_punctuation_after_them() {
        let t = "En savoir plus : https://morocco.iom.int/fr. #AMAL";
        assert_eq!(
            spans(PlatformKind::Facebook, t),
            vec![
                (Feature::Link, "https://morocco.iom.int/fr"),
                (Feature::Hashtag, "#AMAL")
            ]
        );
        let ar = "لمعرفة المزيد: https://morocco.iom.int/ar؟ و https://iom.int/ma، #أمل";
        assert_eq!(
            spans(PlatformKind::X, ar),
            vec![
                (Feature::Link, "https://morocco.iom.int/ar"),
                (Feature::Link, "https://iom.int/ma"),
                (Feature::Hashtag, "#أمل")
            ]
        );
        let html = marked(PlatformKind::X, "Voir https://iom.int/ma. Merci").into_string();
        assert_eq!(
            html,
            r#"Voir <mark class="link">https://iom.int/ma</mark>. Merci"#
        );
    }

    #[test]
    fn each_platform_finds_its_own() {
        let t = "Voir iom.int et https://a.org/#x @OIM_Maroc #2026 #Migrants";
        assert_eq!(
            spans(PlatformKind::X, t),
            vec![
                (Feature::Link, "iom.int"),
                (Feature::Link, "https://a.org/#x"),
                (Feature::Mention, "@OIM_Maroc"),
                (Feature::Hashtag, "#Migrants")
            ]
        );
        assert_eq!(
            spans(PlatformKind::Mastodon, t)[0],
            (Feature::Link, "https://a.org/#x")
        );
        assert!(
            !spans(PlatformKind::Instagram, t)
                .iter()
                .any(|(f, _)| *f == Feature::Link)
        );
        assert_eq!(
            spans(PlatformKind::Bluesky, "hi @atproto.com https://a.org."),
            vec![
                (Feature::Mention, "@atproto.com"),
                (Feature::Link, "https://a.org")
            ]
        );
        assert!(
            marked(PlatformKind::X, "<b>")
                .into_string()
                .contains("&lt;b&gt;")
        );
    }

    #[test]
    fn counts_are_checks_counts() {
        let text = "Journée internationale des migrants https://morocco.iom.int/fr #AMAL";
        for p in PlatformKind::ALL {
            for m in limits::measure_text(p, text, None, false) {
                let length = match (p, m.unit) {
                    (PlatformKind::X, _) => limits::x_weighted_length(text),
                    (PlatformKind::Mastodon, _) => limits::mastodon_length(text),
                    (PlatformKind::Bluesky, "graphemes") => limits::graphemes(text),
                    (PlatformKind::Bluesky, _) | (PlatformKind::Youtube, _) => text.len(),
                    (PlatformKind::Telegram, _) => text.encode_utf16().count(),
                    _ => text.chars().count(),
                };
                assert_eq!(m.length, length, "{p:?}");
            }
        }
        let long = "é".repeat(281);
        assert_eq!(
            limits::check_text(PlatformKind::X, &long, None, false),
            limits::measure_text(PlatformKind::X, &long, None, false)
        );
        assert!(limits::check_text(PlatformKind::X, text, None, false).is_empty());
    }

    #[test]
    fn arabic_is_right_to_left() {
        assert_eq!(dir_of("ar"), "rtl");
        assert_eq!(dir_of("ar-MA"), "rtl");
        assert_eq!(dir_of("fr"), "ltr");
    }
}
