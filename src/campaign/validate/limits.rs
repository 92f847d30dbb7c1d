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
    let mut done: Done<'_> = HashMap::new();
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
                    "write a shorter one for {name} under the post, in a `[{table}.variants.{}]` table: `{field}.{} = \"...\"` (at least {} {} shorter, counting hashtags and links)",
                    platform.as_str(),
                    o.language,
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
            let key = (
                o.capsule.clone(),
                o.post.clone(),
                platform,
                o.language.clone(),
                "hashtags".to_string(),
            );
            if n > limits::INSTAGRAM_MAX_HASHTAGS && seen.insert(key) {
                out.push(
                    Diagnostic::error(
                        &c.path,
                        text_span("text"),
                        format!(
                            "the Instagram text of post `{}` in `{}` has {n} hashtags; Instagram allows {}",
                            o.post, o.language, limits::INSTAGRAM_MAX_HASHTAGS
                        ),
                    )
                    .with_help(format!(
                        "remove {} hashtags (the campaign's `hashtags` are added to every post), or write an Instagram variant under `[{table}.variants.instagram]`",
                        n - limits::INSTAGRAM_MAX_HASHTAGS
                    )),
                );
            }
        }
    }
    out.extend(check_budgets(c, occurrences, ctx));
    out
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
