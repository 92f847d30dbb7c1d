//! Rendering a post for one platform and one language: what is published.
//!
//! Pure: no I/O (media paths are joined, never read).
//!
//! - **Text**: the platform's variant (`variants.<platform>.text.<lang>`),
//!   else the post's own text in that language, kept byte for byte.
//! - **Hashtags**: the campaign's, then the post's, with `#` added when
//!   missing, each once, and left out when the text already has it. They go on
//!   their own line after a blank line, so that an Arabic (right-to-left)
//!   sentence is never mixed with Latin tags on one line.
//! - **Links**: every `http(s)://` link gets the campaign's UTM parameters
//!   (existing query kept, `utm_` keys already there not overwritten, the
//!   `#fragment` kept at the end). Links are those of
//!   [`links::find`](super::links::find): punctuation right after a link
//!   (`.`, `,`, `)`, `»`, `؟`...) is not part of it.
//! - **Thread and first comment**: per language, the variant's replacing the
//!   post's. **Title and description** (YouTube, LinkedIn): the variant's.
//! - **Alt text**: the occurrence's language, else French, else any.
//! - **Link card** (`card`): title and description in the occurrence's
//!   language, the image's path joined to the campaign folder.

use std::collections::HashSet;
use std::path::Path;

use crate::campaign::model::{Campaign, LangText, Media, Post, Utm};
use crate::config::PlatformKind;
use crate::plan::{Content, LinkCard, MediaRef};

/// What [`render`] needs.
#[derive(Debug, Clone, Copy)]
pub struct RenderInput<'a> {
    pub campaign: &'a Campaign,
    pub post: &'a Post,
    pub platform: PlatformKind,
    pub language: &'a str,
    /// The post's media (its own, else its capsule's).
    pub media: &'a [Media],
    /// The campaign file's folder, that media paths are relative to.
    pub media_dir: &'a Path,
}

/// The text that would be published before hashtags and links are applied:
/// the variant's, else the post's. `None` when the post has no text in that
/// language (planning reports it).
pub fn base_text<'a>(post: &'a Post, platform: PlatformKind, language: &str) -> Option<&'a str> {
    post.variants
        .get(platform.as_str())
        .and_then(|v| v.text.get(language))
        .or_else(|| post.text.get(language))
        .map(|s| s.get_ref().as_str())
}

/// Renders one post for one platform and language.
pub fn render(input: &RenderInput<'_>) -> Content {
    let RenderInput {
        campaign,
        post,
        platform,
        language,
        media,
        media_dir,
    } = *input;
    let variant = post.variants.get(platform.as_str());
    let utm = campaign.utm.as_ref();
    let link = |s: &str| match utm {
        Some(u) => tag_links(s, u),
        None => s.to_string(),
    };

    let text = base_text(post, platform, language).unwrap_or_default();
    let tags: Vec<&str> = campaign
        .hashtags
        .iter()
        .chain(post.hashtags.iter())
        .map(String::as_str)
        .collect();
    let text = append_hashtags(&link(text), &tags);

    let in_lang = |t: &LangText| t.get(language).map(|s| s.get_ref().clone());
    let first_comment = variant
        .and_then(|v| in_lang(&v.first_comment))
        .or_else(|| in_lang(&post.first_comment))
        .map(|s| link(&s));
    let thread_source = variant
        .and_then(|v| v.thread.as_ref())
        .unwrap_or(&post.thread);
    let thread = thread_source
        .iter()
        .filter_map(in_lang)
        .map(|s| link(&s))
        .collect();
    let title = variant.and_then(|v| in_lang(&v.title));
    let description = variant
        .and_then(|v| in_lang(&v.description))
        .map(|s| link(&s));

    let media = media
        .iter()
        .map(|m| MediaRef {
            file: m.file.get_ref().clone(),
            path: media_dir.join(m.file.get_ref()),
            alt: alt_text(&m.alt, language),
            thumbnail: m.thumbnail.as_ref().map(|t| media_dir.join(t.get_ref())),
        })
        .collect();

    let card = post.card.as_ref().map(|c| LinkCard {
        title: in_lang(&c.title).unwrap_or_default(),
        description: in_lang(&c.description).unwrap_or_default(),
        image: c.image.as_ref().map(|i| MediaRef {
            file: i.get_ref().clone(),
            path: media_dir.join(i.get_ref()),
            alt: None,
            thumbnail: None,
        }),
    });

    Content {
        text,
        title,
        description,
        media,
        thread,
        first_comment,
        card,
    }
}

/// Alt text in `language`, else French (the campaigns' common language), else any.
pub fn alt_text(alt: &LangText, language: &str) -> Option<String> {
    alt.get(language)
        .or_else(|| alt.get("fr"))
        .or_else(|| alt.values().next())
        .map(|s| s.get_ref().clone())
}

/// Appends `tags` (with `#` added when missing) on their own line after a
/// blank line, leaving out tags the text already contains and repeated tags
/// (case-insensitive). The text itself is not changed, except trailing
/// whitespace before the tags.
pub fn append_hashtags(text: &str, tags: &[&str]) -> String {
    // Sets, so that thousands of tags cost thousands of steps, not millions:
    // the tags kept (lowercase), and the hashtags already in the text.
    let mut kept: Vec<String> = Vec::new();
    let mut kept_lower: HashSet<String> = HashSet::new();
    let mut present: Option<(String, HashSet<String>)> = None;
    for tag in tags {
        let tag = tag.trim();
        let bare = tag.trim_start_matches('#').trim();
        if bare.is_empty() {
            continue;
        }
        let tag = format!("#{bare}");
        let lower = tag.to_lowercase();
        if kept_lower.contains(&lower) {
            continue;
        }
        let (hay, words) = present.get_or_insert_with(|| {
            let hay = text.to_lowercase();
            let words = hashtag_words(&hay);
            (hay, words)
        });
        if !contains_hashtag(hay, words, &lower) {
            kept_lower.insert(lower);
            kept.push(tag);
        }
    }
    if kept.is_empty() {
        return text.to_string();
    }
    let body = text.trim_end();
    if body.is_empty() {
        kept.join(" ")
    } else {
        format!("{body}\n\n{}", kept.join(" "))
    }
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Each `#` of `hay` with the whole run of word characters after it
/// (`#amal2026`), in a set.
fn hashtag_words(hay: &str) -> HashSet<String> {
    hay.match_indices('#')
        .map(|(i, _)| {
            let word: String = hay[i + 1..].chars().take_while(|c| is_word(*c)).collect();
            format!("#{word}")
        })
        .collect()
}

/// Whether the lowercase text `hay` has the lowercase `needle` as a whole
/// hashtag (not as the start of a longer one). A tag of word characters only
/// is one look-up in `words` (the same answer as searching: the run of word
/// characters after that `#` is exactly the tag); others are searched.
fn contains_hashtag(hay: &str, words: &HashSet<String>, needle: &str) -> bool {
    if needle.chars().skip(1).all(is_word) {
        return words.contains(needle);
    }
    let mut from = 0;
    while let Some(i) = hay[from..].find(needle) {
        let end = from + i + needle.len();
        let next = hay[end..].chars().next();
        if !next.is_some_and(is_word) {
            return true;
        }
        from = end;
    }
    false
}

/// Adds UTM parameters to every `http://` and `https://` link of `text`.
pub fn tag_links(text: &str, utm: &Utm) -> String {
    let params: Vec<(&str, &str)> = [
        ("utm_source", &utm.source),
        ("utm_medium", &utm.medium),
        ("utm_campaign", &utm.campaign),
        ("utm_term", &utm.term),
        ("utm_content", &utm.content),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.as_deref().map(|v| (k, v)))
    .collect();
    if params.is_empty() {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 64);
    let mut at = 0;
    for link in super::links::find(text) {
        out.push_str(&text[at..link.start]);
        out.push_str(&add_params(&text[link.clone()], &params));
        at = link.end;
    }
    out.push_str(&text[at..]);
    out
}

fn add_params(link: &str, params: &[(&str, &str)]) -> String {
    let (base, fragment) = match link.find('#') {
        Some(i) => (&link[..i], Some(&link[i..])),
        None => (link, None),
    };
    let (path, query) = match base.find('?') {
        Some(i) => (&base[..i], Some(&base[i + 1..])),
        None => (base, None),
    };
    let existing: Vec<&str> = query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split('=').next().unwrap_or(p))
        .collect();
    let added: Vec<String> = params
        .iter()
        .filter(|(k, _)| !existing.iter().any(|e| e.eq_ignore_ascii_case(k)))
        .map(|(k, v)| {
            let v: String = url::form_urlencoded::byte_serialize(v.as_bytes()).collect();
            format!("{k}={v}")
        })
        .collect();
    if added.is_empty() {
        return link.to_string();
    }
    let mut out = String::from(path);
    out.push('?');
    match query {
        Some(q) if !q.is_empty() => {
            out.push_str(q);
            if !q.ends_with('&') {
                out.push('&');
            }
        }
        _ => {}
    }
    out.push_str(&added.join("&"));
    if let Some(f) = fragment {
        out.push_str(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::CampaignFile;

    fn utm() -> Utm {
        Utm {
            source: Some("facebook".into()),
            medium: Some("social".into()),
            campaign: Some("b7al b7al".into()),
            ..Utm::default()
        }
    }

    #[test]
    fn utm_goes_inside_the_link_before_french_and_arabic_punctuation() {
        let q = "?utm_source=facebook&utm_medium=social&utm_campaign=b7al+b7al";
        for p in ["؟", "،", "؛", "»", ".", ",", "!", "?", ":", ")"] {
            let text =
                format!("« https://iom.int/ma{p} » (https://iom.int) https://iom.int #Maroc");
            assert_eq!(
                tag_links(&text, &utm()),
                format!(
                    "« https://iom.int/ma{q}{p} » (https://iom.int{q}) https://iom.int{q} #Maroc"
                ),
                "after {p:?}"
            );
        }
    }

    #[test]
    fn links_get_utm_with_query_fragment_and_punctuation_kept() {
        let u = utm();
        assert_eq!(
            tag_links("Voir https://oim.ma/amal.", &u),
            "Voir https://oim.ma/amal?utm_source=facebook&utm_medium=social&utm_campaign=b7al+b7al."
        );
        assert_eq!(
            tag_links("(https://x.org/a?id=3&utm_source=mail#top), ok", &u),
            "(https://x.org/a?id=3&utm_source=mail&utm_medium=social&utm_campaign=b7al+b7al#top), ok"
        );
        assert_eq!(
            tag_links("https://fr.wikipedia.org/wiki/Paix_(homonymie)", &u),
            "https://fr.wikipedia.org/wiki/Paix_(homonymie)?utm_source=facebook&utm_medium=social&utm_campaign=b7al+b7al"
        );
        assert_eq!(
            tag_links("no link here, http or https", &u),
            "no link here, http or https"
        );
        assert_eq!(
            tag_links("a HTTPS://A.ORG b http://b.org", &u),
            "a HTTPS://A.ORG?utm_source=facebook&utm_medium=social&utm_campaign=b7al+b7al b http://b.org?utm_source=facebook&utm_medium=social&utm_campaign=b7al+b7al"
        );
        let full = Utm {
            source: Some("s".into()),
            medium: Some("m".into()),
            campaign: Some("c".into()),
            term: Some("t".into()),
            content: Some("x".into()),
        };
        let tagged = tag_links(
            "https://a.org/?utm_source=1&utm_medium=2&utm_campaign=3&utm_term=4&utm_content=5",
            &full,
        );
        assert_eq!(
            tagged,
            "https://a.org/?utm_source=1&utm_medium=2&utm_campaign=3&utm_term=4&utm_content=5"
        );
    }

    #[test]
    fn arabic_text_and_links_survive_byte_for_byte() {
        let u = utm();
        let text = "تعرفوا على أمل: https://oim.ma/ar/أمل، شاهدوا الحلقة";
        let out = tag_links(text, &u);
        assert_eq!(
            out,
            "تعرفوا على أمل: https://oim.ma/ar/أمل?utm_source=facebook&utm_medium=social&utm_campaign=b7al+b7al، شاهدوا الحلقة"
        );
        let mixed = "AMAL أمل — épisode 2 « الهجرة » ✨";
        assert_eq!(tag_links(mixed, &u), mixed);
        assert_eq!(append_hashtags(mixed, &[]), mixed);
    }

    /// The sets give what the first version's searches gave (each tag
    /// compared with every kept one, the text searched for each tag).
    fn append_hashtags_by_search(text: &str, tags: &[&str]) -> String {
        let mut kept: Vec<String> = Vec::new();
        for tag in tags {
            let bare = tag.trim().trim_start_matches('#').trim();
            if bare.is_empty() {
                continue;
            }
            let tag = format!("#{bare}");
            let dup = kept.iter().any(|k| k.to_lowercase() == tag.to_lowercase());
            let hay = text.to_lowercase();
            let needle = tag.to_lowercase();
            let mut found = false;
            let mut from = 0;
            while let Some(i) = hay[from..].find(&needle) {
                let end = from + i + needle.len();
                if !hay[end..].chars().next().is_some_and(is_word) {
                    found = true;
                    break;
                }
                from = end;
            }
            if !dup && !found {
                kept.push(tag);
            }
        }
        if kept.is_empty() {
            return text.to_string();
        }
        let body = text.trim_end();
        if body.is_empty() {
            kept.join(" ")
        } else {
            format!("{body}\n\n{}", kept.join(" "))
        }
    }

    proptest::proptest! {
        #[test]
        fn hashtags_by_sets_as_by_search(
            text in "(#|a|A|_|-| |é|É|#amal|#AMAL-2026|\\n){0,30}",
            tags in proptest::collection::vec("#?(a|A|_|-| |é|amal|AMAL-2026){0,4}", 0..8),
        ) {
            let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
            proptest::prop_assert_eq!(
                append_hashtags(&text, &tags),
                append_hashtags_by_search(&text, &tags)
            );
        }
    }

    #[test]
    fn hashtags_on_their_own_line_once() {
        let out = append_hashtags(
            "مرحبا بكم #AMAL\n",
            &["AMAL", "#B7alB7al", "b7alb7al", "  ", "#الهجرة"],
        );
        assert_eq!(out, "مرحبا بكم #AMAL\n\n#B7alB7al #الهجرة");
        // A longer tag in the text does not hide a shorter one.
        assert_eq!(
            append_hashtags("#AMAL2026", &["AMAL"]),
            "#AMAL2026\n\n#AMAL"
        );
    }

    proptest::proptest! {
        #[test]
        fn never_panics_and_keeps_text_without_links(s in "\\PC{0,80}", t in "[#a-zA-Zء-ي ]{0,12}") {
            let u = utm();
            let out = tag_links(&s, &u);
            if !s.to_ascii_lowercase().contains("http") {
                proptest::prop_assert_eq!(&out, &s);
            }
            let tagged = append_hashtags(&s, &[t.as_str()]);
            proptest::prop_assert!(tagged.starts_with(s.trim_end()));
        }

        #[test]
        fn links_inside_any_text(pre in "\\PC{0,20}", path in "[a-zA-Z0-9/_.-]{0,20}", post in "[ .,)»؟]{0,3}\\PC{0,10}") {
            let text = format!("{pre} https://oim.ma/{path}{post}");
            let out = tag_links(&text, &utm());
            proptest::prop_assert!(out.contains("utm_source=facebook"), "{}", out);
        }
    }

    const FILE: &str = r##"
[campaign]
id = "amal"
title = "AMAL"
timezone = "Africa/Casablanca"
start = 2026-12-01
end = 2027-03-31
hashtags = ["AMAL", "#B7alB7al"]
utm = { source = "berrah", medium = "social" }

[[posts]]
id = "p"
date_time = 2026-12-18T10:00:00
hashtags = ["Migrants"]
text = { fr = "Découvrez AMAL : https://oim.ma/amal", ar = "اكتشفوا أمل: https://oim.ma/amal" }
first_comment = { fr = "Lien : https://oim.ma" }
thread = [{ fr = "1/2", ar = "١/٢" }, { fr = "2/2" }]
media = [{ file = "media/ep1.mp4", alt = { fr = "Une jeune femme", en = "A young woman" }, thumbnail = "media/ep1.jpg" }]
card = { title = { fr = "AMAL, la série", ar = "أمل" }, description = { fr = "Six épisodes" }, image = "media/carte.png" }

[posts.variants.x]
text = { fr = "AMAL court" }
thread = [{ fr = "seul" }]

[posts.variants.youtube]
title = { fr = "AMAL — épisode 1" }
description = { fr = "Voir https://oim.ma" }
"##;

    #[test]
    fn render_variants_thread_comment_media() {
        let f: CampaignFile = toml::from_str(FILE).unwrap();
        let post = &f.posts[0];
        let media = post.media.clone().unwrap_or_default();
        let input = RenderInput {
            campaign: &f.campaign,
            post,
            platform: PlatformKind::Facebook,
            language: "ar",
            media: &media,
            media_dir: Path::new("/c"),
        };
        let c = render(&input);
        assert_eq!(
            c.text,
            "اكتشفوا أمل: https://oim.ma/amal?utm_source=berrah&utm_medium=social\n\n#AMAL #B7alB7al #Migrants"
        );
        assert_eq!(c.thread, ["١/٢"]);
        assert_eq!(c.first_comment, None);
        let card = c.card.as_ref().unwrap();
        assert_eq!(
            (card.title.as_str(), card.description.as_str()),
            ("أمل", "")
        );
        let image = card.image.as_ref().unwrap();
        assert_eq!(image.path, Path::new("/c/media/carte.png"));
        assert_eq!(image.file, "media/carte.png");
        assert_eq!(c.media[0].alt.as_deref(), Some("Une jeune femme"));
        assert_eq!(c.media[0].path, Path::new("/c/media/ep1.mp4"));
        assert_eq!(c.media[0].file, "media/ep1.mp4");
        assert_eq!(
            c.media[0].thumbnail.as_deref(),
            Some(Path::new("/c/media/ep1.jpg"))
        );

        let c = render(&RenderInput {
            platform: PlatformKind::X,
            language: "fr",
            ..input
        });
        assert_eq!(c.text, "AMAL court\n\n#AMAL #B7alB7al #Migrants");
        assert_eq!(c.thread, ["seul"]);
        assert_eq!(
            c.first_comment.as_deref(),
            Some("Lien : https://oim.ma?utm_source=berrah&utm_medium=social")
        );

        let c = render(&RenderInput {
            platform: PlatformKind::Youtube,
            language: "fr",
            ..input
        });
        assert_eq!(c.title.as_deref(), Some("AMAL — épisode 1"));
        assert_eq!(
            c.description.as_deref(),
            Some("Voir https://oim.ma?utm_source=berrah&utm_medium=social")
        );
        assert_eq!(c.thread, ["1/2", "2/2"]);
        let c = render(&RenderInput {
            language: "en",
            ..input
        });
        assert_eq!(c.media[0].alt.as_deref(), Some("A young woman"));
        assert_eq!(base_text(post, PlatformKind::Facebook, "en"), None);
    }
}
