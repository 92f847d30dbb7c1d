//! The plan pass on texts: each platform's limits on the rendered text,
//! title, description, thread and first comment, YouTube's title and
//! Instagram's hashtags.

use std::collections::{BTreeSet, HashMap};
use std::ops::Range;

use super::budgets::check_budgets;
use super::posts::post_index;
use crate::campaign::{Context, LoadedCampaign};
use crate::config::PlatformKind;
use crate::diag::Diagnostic;
use crate::plan::Occurrence;
use crate::text::limits::{self, platform_title};

/// Checks what the plan produced: text limits on the rendered text,
/// Instagram's hashtags, posting budgets. Each problem is reported once per
/// post, platform, language and part, however many times a post recurs.
pub fn check_occurrences(
    c: &LoadedCampaign,
    occurrences: &[Occurrence],
    ctx: &Context<'_>,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    let index = post_index(c);
    // Occurrences of one post, platform and language with the same content
    // and account limit get the same answers, each reported once (`seen`):
    // check each such content once, not once per recurrence. Keyed by the
    // text too, so that thousands of posts sharing an id (an error of their
    // own) are not each compared with all the others.
    type Done<'o> = HashMap<
        (
            Option<&'o str>,
            &'o str,
            PlatformKind,
            &'o str,
            Option<usize>,
            &'o str,
        ),
        Vec<&'o crate::plan::Content>,
    >;
    let mut done: Done<'_> = HashMap::with_capacity(occurrences.len());
    for o in occurrences {
        let acc = ctx.config.accounts.get(&o.account);
        let limit = acc.and_then(|a| a.max_chars);
        let checked = done
            .entry((
                o.capsule.as_deref(),
                o.post.as_str(),
                o.platform,
                o.language.as_str(),
                limit,
                o.content.text.as_str(),
            ))
            .or_default();
        if checked.iter().any(|content| **content == o.content) {
            continue;
        }
        checked.push(&o.content);
        let post = index.get(&(o.capsule.as_deref(), o.post.as_str()));
        let post_span = post.as_ref().map(|p| p.post.id.span());
        let table = post.as_ref().map_or("posts", |p| p.table());
        let platform = o.platform;
        // The span of the text that was used: the variant's, else the post's.
        let text_span = |field: &str| -> Option<Range<usize>> {
            let p = post.as_ref()?.post;
            let v = p.variants.get(platform.as_str());
            let from_variant = v.and_then(|v| match field {
                "title" => v.title.get(&o.language),
                "description" => v.description.get(&o.language),
                "first_comment" => v.first_comment.get(&o.language),
                _ => v.text.get(&o.language),
            });
            let own = match field {
                "first_comment" => p.first_comment.get(&o.language),
                _ => p.text.get(&o.language),
            };
            from_variant.or(own).map(|s| s.span()).or(post_span.clone())
        };
        if platform == PlatformKind::Youtube {
            let first_line = o.content.text.lines().next().unwrap_or_default();
            let key = (
                o.capsule.clone(),
                o.post.clone(),
                platform,
                o.language.clone(),
                "no title".to_string(),
            );
            if o.content.title.is_none()
                && first_line.chars().count() > limits::YOUTUBE_TITLE_MAX
                && seen.insert(key)
            {
                out.push(
                    Diagnostic::warning(
                        &c.path,
                        text_span("text"),
                        format!(
                            "post `{}` has no YouTube title in `{}`: the first line of its text will be cut to {} characters",
                            o.post, o.language, limits::YOUTUBE_TITLE_MAX
                        ),
                    )
                    .with_help(format!(
                        "add a title under the post: `[{table}.variants.youtube]` then `title.{} = \"...\"`",
                        o.language
                    )),
                );
            }
        }
        // Read the file's style only when a help line needs it: reading it
        // for every occurrence made `check` quadratic in a file's length.
        let style_cell = std::cell::OnceCell::new();
        let style = || *style_cell.get_or_init(|| crate::campaign::style::Style::of(&c.source));
        // The text without the hashtags appended to it, when some were.
        let (without_tags, tags_span) =
            appended_hashtags(c, post.as_ref().map(|p| p.post), &o.content.text);
        let max_chars_here = acc.and_then(|a| a.max_chars);
        let with_media_here = !o.content.media.is_empty();
        let fits_without_tags = without_tags.is_some_and(|t| {
            limits::check_text(platform, t, max_chars_here, with_media_here).is_empty()
        });
        let mut report = |part: &str, field: &str, overflow: limits::Overflow| {
            let key = (
                o.capsule.clone(),
                o.post.clone(),
                platform,
                o.language.clone(),
                part.to_string(),
            );
            if !seen.insert(key) {
                return;
            }
            let name = platform_title(platform);
            if part == "text" && fits_without_tags && tags_span.is_some() {
                out.push(
                    Diagnostic::error(
                        &c.path,
                        tags_span.clone(),
                        format!(
                            "the {name} text of post `{}` in `{}` {}, because of these hashtags: the text alone fits",
                            o.post,
                            o.language,
                            overflow.describe()
                        ),
                    )
                    .with_help(format!(
                        "the hashtags are added to the end of the text and make it {} {} too long: remove some hashtags, shorten the text by {}, or write a shorter text for {name} in {}",
                        overflow.over_by(),
                        overflow.unit,
                        overflow.over_by(),
                        style().variant(table, platform.as_str(), "text", &o.language)
                    )),
                );
                return;
            }
            out.push(
                Diagnostic::error(
                    &c.path,
                    text_span(field),
                    format!(
                        "the {name} {part} of post `{}` in `{}` {}",
                        o.post,
                        o.language,
                        overflow.describe()
                    ),
                )
                .with_help(format!(
                    "write a shorter one for {name} in {} (at least {} {} shorter, counting hashtags and links)",
                    style().variant(table, platform.as_str(), field, &o.language),
                    overflow.over_by(),
                    overflow.unit
                )),
            );
        };
        let with_media = !o.content.media.is_empty();
        let max_chars = acc.and_then(|a| a.max_chars);
        if platform == PlatformKind::Youtube {
            if let Some(title) = &o.content.title
                && let Some(ov) = limits::check_title(platform, title)
            {
                report("title", "title", ov);
            }
            let desc = o.content.description.as_deref().unwrap_or(&o.content.text);
            if let Some(ov) = limits::check_description(platform, desc) {
                report("description", "description", ov);
            }
        } else {
            for ov in limits::check_text(platform, &o.content.text, max_chars, with_media) {
                report("text", "text", ov);
            }
        }
        for (i, reply) in o.content.thread.iter().enumerate() {
            for ov in limits::check_text(platform, reply, max_chars, false) {
                report(&format!("reply {} of the thread", i + 1), "thread", ov);
            }
        }
        if let Some(fc) = &o.content.first_comment {
            for ov in limits::check_text(platform, fc, max_chars, false) {
                report("first comment", "first_comment", ov);
            }
        }
        if platform == PlatformKind::Instagram {
            let n = limits::hashtags(&o.content.text).len();
            // The text's own hashtags are within the limit: the list added
            // to every post is what to shorten, said once for all languages.
            let own = without_tags.map(|t| limits::hashtags(t).len());
            let list = match (own, &tags_span) {
                (Some(k), Some(s)) if k <= limits::INSTAGRAM_MAX_HASHTAGS => Some(s.clone()),
                _ => None,
            };
            let key = (
                o.capsule.clone(),
                o.post.clone(),
                platform,
                if list.is_some() {
                    String::new()
                } else {
                    o.language.clone()
                },
                "hashtags".to_string(),
            );
            if n > limits::INSTAGRAM_MAX_HASHTAGS && seen.insert(key) {
                let over = n - limits::INSTAGRAM_MAX_HASHTAGS;
                let plural = if over == 1 { "" } else { "s" };
                let d = match list {
                    Some(at) => Diagnostic::error(
                        &c.path,
                        Some(at),
                        format!(
                            "the Instagram text of post `{}` has {n} hashtags once these are added; Instagram allows {}",
                            o.post,
                            limits::INSTAGRAM_MAX_HASHTAGS
                        ),
                    )
                    .with_help(format!(
                        "remove {over} hashtag{plural} from this list: all of them are added to every post"
                    )),
                    None => Diagnostic::error(
                        &c.path,
                        text_span("text"),
                        format!(
                            "the Instagram text of post `{}` in `{}` has {n} hashtags; Instagram allows {}",
                            o.post,
                            o.language,
                            limits::INSTAGRAM_MAX_HASHTAGS
                        ),
                    )
                    .with_help(format!(
                        "remove {over} hashtag{plural}, or write an Instagram text in {}",
                        style().variant(table, "instagram", "text", &o.language)
                    )),
                };
                out.push(d);
            }
        }
    }
    out.extend(check_budgets(c, occurrences, ctx));
    out
}

/// The rendered text without the hashtags appended to its end (after a
/// blank line, as [`crate::text::render::append_hashtags`] puts them), and
/// the span of the `hashtags` list that brought them: the post's own when it
/// has some, else the campaign's.
fn appended_hashtags<'t>(
    c: &LoadedCampaign,
    post: Option<&crate::campaign::model::Post>,
    rendered: &'t str,
) -> (Option<&'t str>, Option<Range<usize>>) {
    let own = post.is_some_and(|p| !p.hashtags.is_empty());
    if !own && c.file.campaign.hashtags.is_empty() {
        return (None, None);
    }
    let Some(i) = rendered.rfind("\n\n") else {
        return (None, None);
    };
    let tail = &rendered[i + 2..];
    if tail.is_empty() || !tail.split_whitespace().all(|w| w.starts_with('#')) {
        return (None, None);
    }
    let from = if own {
        post.map_or(0, |p| p.id.span().end)
    } else {
        c.file.campaign.id.span().start.saturating_sub(1)
    };
    (
        Some(&rendered[..i]),
        key_value_span(&c.source, from, "hashtags"),
    )
}

/// The span of the value of the first `key = ...` line at or after byte
/// `from`, within the same section.
fn key_value_span(source: &str, from: usize, key: &str) -> Option<Range<usize>> {
    let from = source[..from.min(source.len())]
        .rfind('\n')
        .map_or(0, |i| i + 1);
    let mut at = from;
    for line in source[from..].split_inclusive('\n') {
        let t = line.trim_start();
        if at > from && t.starts_with('[') {
            return None;
        }
        if let Some(rest) = t.strip_prefix(key)
            && rest.trim_start().starts_with('=')
        {
            let eq = line.find('=')?;
            let value = line[eq + 1..].trim();
            let start = at + eq + 1 + (line[eq + 1..].len() - line[eq + 1..].trim_start().len());
            return Some(start..start + value.len());
        }
        at += line.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::Calendar;
    use crate::campaign::validate::fixtures::{CONFIG, head, occurrence, run};
    use crate::config::Config;

    #[test]
    fn rendered_texts_over_limits_point_at_the_text_and_suggest_a_variant() {
        let dir = tempfile::tempdir().unwrap();
        let long = "é".repeat(290);
        let src = format!(
            "{}[[posts]]\nid = \"p\"\ndate_time = 2026-12-18T10:00:00\ntext = {{ fr = \"{long}\", ar = \"b\" }}\n",
            head("\"x\"")
        );
        let (c, _) = run(dir.path(), &src);
        let config: Config = toml::from_str(CONFIG).unwrap();
        let calendar = Calendar::shipped();
        let ctx = Context {
            config: &config,
            calendar: &calendar,
            now: jiff::Timestamp::UNIX_EPOCH,
        };
        let occ = occurrence(
            "p",
            "x",
            PlatformKind::X,
            "fr",
            "2026-12-18T10:00:00+01:00",
            &format!("{long} #AMAL"),
        );
        let d = check_occurrences(&c, &[occ.clone(), occ], &ctx);
        assert_eq!(d.len(), 1, "reported once: {d:?}");
        assert_eq!(
            d[0].message,
            "the X text of post `p` in `fr` is 296 weighted characters long, 16 over X's limit of 280"
        );
        assert!(
            d[0].help.as_deref().unwrap().contains("[posts.variants.x]"),
            "{:?}",
            d[0].help
        );
        let span = d[0].span.clone().unwrap();
        assert!(src[span].starts_with("\"éé"));
    }
}
