//! Validation of a parsed campaign file: everything TOML and serde cannot see.
//!
//! Two passes:
//! - [`validate`] on the file alone (ids, accounts, timing keys, languages,
//!   durations, media files);
//! - [`check_occurrences`] on what the plan produced (text limits of each
//!   platform on the rendered text, Instagram's hashtags, posting budgets).
//!
//! Every diagnostic points into the file and says what to write instead.
//! Zones, days, cron expressions, windows and past due times are the plan's
//! to report ([`crate::plan::plan_campaign`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Range;
use std::path::{Path, PathBuf};

use super::model::{Capsule, LangText, Media, Post, Spanned};
use super::{Context, LoadedCampaign, suggest};
use crate::config::{AccountConfig, PlatformKind};
use crate::diag::Diagnostic;
use crate::media::probe::{self, MediaInfo, MediaKind};
use crate::plan::Occurrence;
use crate::text::limits::{self, platform_title};

fn span<T>(s: &Spanned<T>) -> Option<Range<usize>> {
    Some(s.span())
}

/// Whether `id` is made of lowercase ASCII letters, digits and `-`, starting
/// with a letter or digit.
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && !id.starts_with('-')
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// A suggestion for an invalid id: lowercased, other characters turned into `-`.
fn id_suggestion(id: &str) -> String {
    let mut out = String::new();
    for c in id.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let out = out.trim_end_matches('-').to_string();
    if out.is_empty() { "my-id".into() } else { out }
}

/// Whether `code` looks like a BCP 47 language code (`fr`, `ar`, `en`, `fr-MA`, `ber`).
pub fn is_valid_lang(code: &str) -> bool {
    let mut parts = code.split('-');
    let Some(lang) = parts.next() else {
        return false;
    };
    (2..=3).contains(&lang.len())
        && lang.bytes().all(|b| b.is_ascii_lowercase())
        && parts.all(|p| (2..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// A post with where it sits in the file.
pub struct PostRef<'a> {
    pub capsule: Option<&'a Capsule>,
    pub post: &'a Post,
}

impl PostRef<'_> {
    /// The TOML table path of the post, for help messages: `capsules.posts` or `posts`.
    pub fn table(&self) -> &'static str {
        if self.capsule.is_some() {
            "capsules.posts"
        } else {
            "posts"
        }
    }

    /// The post's media: its own, else its capsule's.
    pub fn media(&self) -> &[Media] {
        match (&self.post.media, self.capsule) {
            (Some(m), _) => m,
            (None, Some(c)) => &c.media,
            (None, None) => &[],
        }
    }
}

/// Every post of the file, capsule posts first.
pub fn posts(c: &LoadedCampaign) -> Vec<PostRef<'_>> {
    let mut out: Vec<PostRef<'_>> = c
        .file
        .capsules
        .iter()
        .flat_map(|cap| {
            cap.posts.iter().map(move |post| PostRef {
                capsule: Some(cap),
                post,
            })
        })
        .collect();
    out.extend(c.file.posts.iter().map(|post| PostRef {
        capsule: None,
        post,
    }));
    out
}

/// The accounts a post goes to (its own, else the campaign's), as written.
pub fn post_accounts<'a>(c: &'a LoadedCampaign, post: &'a Post) -> &'a [Spanned<String>] {
    post.accounts
        .as_deref()
        .unwrap_or(&c.file.campaign.accounts)
}

/// The languages of a post on an account: the post's (else the campaign's,
/// else those its text has), kept to the account's `languages` when it sets them.
pub fn post_languages(
    c: &LoadedCampaign,
    post: &Post,
    account: Option<&AccountConfig>,
) -> Vec<String> {
    let declared: Vec<String> = post
        .languages
        .as_deref()
        .unwrap_or(&c.file.campaign.languages)
        .iter()
        .map(|l| l.get_ref().clone())
        .collect();
    let langs = if declared.is_empty() {
        post.text.keys().cloned().collect()
    } else {
        declared
    };
    match account.and_then(|a| a.languages.as_ref()) {
        Some(allowed) => langs.into_iter().filter(|l| allowed.contains(l)).collect(),
        None => langs,
    }
}

struct V<'a> {
    c: &'a LoadedCampaign,
    ctx: &'a Context<'a>,
    out: Vec<Diagnostic>,
    /// Probe results, once per canonical path.
    probed: HashMap<PathBuf, Result<MediaInfo, String>>,
    /// Media paths found inside the folder, once per path as written (a
    /// capsule's media is checked for each of its posts).
    resolved: HashMap<String, PathBuf>,
}

impl V<'_> {
    fn error(
        &mut self,
        span: Option<Range<usize>>,
        msg: impl Into<String>,
        help: impl Into<String>,
    ) {
        self.out
            .push(Diagnostic::error(&self.c.path, span, msg).with_help(help));
    }

    fn warning(
        &mut self,
        span: Option<Range<usize>>,
        msg: impl Into<String>,
        help: impl Into<String>,
    ) {
        self.out
            .push(Diagnostic::warning(&self.c.path, span, msg).with_help(help));
    }

    fn id(&mut self, what: &str, id: &Spanned<String>) {
        let v = id.get_ref();
        if !is_valid_id(v) {
            self.error(
                span(id),
                format!("{what} id `{v}` may only have lowercase letters, digits and `-`"),
                format!("write it as `{}`", id_suggestion(v)),
            );
        }
    }

    fn duplicates<'b>(
        &mut self,
        what: &str,
        ids: impl Iterator<Item = &'b Spanned<String>>,
        scope: &str,
    ) {
        let mut seen: HashMap<&str, Range<usize>> = HashMap::new();
        for id in ids {
            if let Some(first) = seen.get(id.get_ref().as_str()) {
                let (line, _) = crate::diag::line_col(&self.c.source, first.start);
                self.error(
                    span(id),
                    format!(
                        "{what} id `{}` is used twice {scope} (first on line {line})",
                        id.get_ref()
                    ),
                    format!("give each {what} its own id, e.g. `{}-2`", id.get_ref()),
                );
            } else {
                seen.insert(id.get_ref(), id.span());
            }
        }
    }

    fn languages(&mut self, langs: &[Spanned<String>]) {
        for l in langs {
            if !is_valid_lang(l.get_ref()) {
                self.error(
                    span(l),
                    format!("`{}` is not a language code", l.get_ref()),
                    "write a lowercase code such as \"fr\", \"ar\" or \"en\"",
                );
            }
        }
    }

    /// Read exactly as the plan reads it ([`crate::plan::parse_duration`]),
    /// so that what `check` accepts is what the daemon uses.
    fn duration(&mut self, value: &Spanned<String>) {
        let text = value.get_ref();
        match crate::plan::parse_duration(text) {
            Ok(d) if d.is_positive() => {}
            Ok(_) => self.error(
                span(value),
                format!("`expires_after = \"{text}\"` must be longer than zero"),
                "write a positive duration such as \"6h\" or \"2 days\"",
            ),
            Err(_) => self.error(
                span(value),
                format!("`{text}` is not a duration"),
                "write a duration such as \"6h\", \"90 minutes\" or \"2 days\"",
            ),
        }
    }

    fn accounts(&mut self, list: &[Spanned<String>]) {
        let known = &self.ctx.config.accounts;
        for a in list {
            let name = a.get_ref();
            if known.contains_key(name) {
                continue;
            }
            let help = suggest::did_you_mean(name, known.keys().map(String::as_str)).unwrap_or_else(|| {
                if known.is_empty() {
                    format!("berrah.toml has no accounts; add one as `[accounts.{name}]` with `platform = \"...\"`")
                } else {
                    format!(
                        "the accounts in berrah.toml are: {}",
                        known.keys().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
                    )
                }
            });
            self.error(span(a), format!("unknown account `{name}`"), help);
        }
    }

    fn anchor_shape(&mut self, anchor: &Spanned<super::model::Anchor>) {
        let a = anchor.get_ref();
        match (&a.day, &a.date) {
            (Some(_), Some(date)) => self.error(
                span(date),
                "an anchor has either `day` or `date`, not both",
                "keep `day = \"...\"` for a named day or `date = YYYY-MM-DD` for a fixed date",
            ),
            (None, None) => self.error(
                span(anchor),
                "this anchor names no day",
                "write `anchor = { day = \"international-migrants-day\" }` or `anchor = { date = 2026-12-18 }`",
            ),
            _ => {}
        }
    }

    fn timing(&mut self, p: &PostRef<'_>) {
        let post = p.post;
        let id = post.id.get_ref();
        let set: Vec<&str> = [
            post.at.as_ref().map(|_| "at"),
            post.date_time.as_ref().map(|_| "date_time"),
            post.cron.as_ref().map(|_| "cron"),
        ]
        .into_iter()
        .flatten()
        .collect();
        if set.is_empty() {
            self.error(
                span(&post.id),
                format!("post `{id}` does not say when it goes out"),
                "add one of: `at = 10:00` (on the anchor day), `date_time = 2026-12-18T10:00:00`, `cron = \"0 10 * * TUE\"`",
            );
        } else if set.len() > 1 {
            let second = if set[1] == "date_time" {
                post.date_time.as_ref().map(|s| s.span())
            } else {
                post.cron.as_ref().map(|s| s.span())
            };
            self.error(
                second,
                format!("post `{id}` has both `{}` and `{}`", set[0], set[1]),
                "keep exactly one of `at`, `date_time` and `cron`",
            );
        }
        if let (Some(_), Some(after)) = (&post.days_before, &post.days_after) {
            self.error(
                span(after),
                format!("post `{id}` has both `days_before` and `days_after`"),
                "keep one of them: `days_before = 2` or `days_after = 1`",
            );
        }
        if post.at.is_none() {
            for d in [&post.days_before, &post.days_after].into_iter().flatten() {
                self.error(
                    span(d),
                    "`days_before` and `days_after` only work with `at`",
                    "add `at = 10:00` (a time on the anchor day), or remove this line",
                );
            }
        }
        if let Some(at) = &post.at
            && post.anchor.is_none()
            && p.capsule.is_none()
        {
            self.error(
                span(at),
                format!("post `{id}` has `at` but no day to be on"),
                "add `anchor = { day = \"international-migrants-day\" }` (or `date = 2026-12-18`) to the post, or use `date_time = 2026-12-18T10:00:00`",
            );
        }
        if let Some(a) = &post.anchor {
            self.anchor_shape(a);
        }
    }

    fn texts(&mut self, p: &PostRef<'_>) {
        let post = p.post;
        let id = post.id.get_ref();
        for (lang, text) in &post.text {
            if text.get_ref().trim().is_empty() {
                self.error(
                    span(text),
                    format!("the `{lang}` text of post `{id}` is empty"),
                    format!("write the text, or remove `{lang}` from the post's languages"),
                );
            }
        }
        for (name, variant) in &post.variants {
            if PlatformKind::from_name(name).is_none() {
                let names = PlatformKind::ALL.map(PlatformKind::as_str);
                let help = suggest::did_you_mean(name, names)
                    .or_else(|| (name == "twitter").then(|| "did you mean `x`?".to_string()))
                    .unwrap_or_else(|| format!("platforms are: {}", names.join(", ")));
                let at = variant
                    .text
                    .values()
                    .next()
                    .map(|t| t.span())
                    .or(Some(post.id.span()));
                self.error(
                    at,
                    format!("post `{id}` has a variant for unknown platform `{name}`"),
                    help,
                );
            }
            for (lang, t) in variant
                .text
                .iter()
                .chain(&variant.title)
                .chain(&variant.description)
            {
                if t.get_ref().trim().is_empty() {
                    self.error(
                        span(t),
                        format!("the `{lang}` {name} variant of post `{id}` is empty"),
                        "write the text, or remove the line to use the post's own text",
                    );
                }
            }
        }
        // Every language the post is published in needs a text.
        let mut needed: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let accounts = post_accounts(self.c, post);
        if accounts.is_empty() {
            for l in post_languages(self.c, post, None) {
                needed.entry(l).or_default();
            }
        }
        for a in accounts {
            let acc = self.ctx.config.accounts.get(a.get_ref());
            for l in post_languages(self.c, post, acc) {
                needed.entry(l).or_default().push(a.get_ref().clone());
            }
        }
        for (lang, accs) in needed {
            if !post.text.contains_key(&lang) {
                let on = if accs.is_empty() {
                    String::new()
                } else {
                    format!(" (it goes to {})", accs.join(", "))
                };
                self.error(
                    span(&post.id),
                    format!("post `{id}` has no `{lang}` text{on}"),
                    format!(
                        "add `{lang} = \"...\"` to its text: `text = {{ {lang} = \"...\" }}` or a `[{}.text]` table",
                        p.table()
                    ),
                );
            }
        }
        let published: BTreeSet<String> = if accounts.is_empty() {
            post_languages(self.c, post, None).into_iter().collect()
        } else {
            accounts
                .iter()
                .flat_map(|a| {
                    post_languages(self.c, post, self.ctx.config.accounts.get(a.get_ref()))
                })
                .collect()
        };
        for (lang, text) in &post.text {
            if !published.contains(lang) {
                self.warning(
                    span(text),
                    format!("the `{lang}` text of post `{id}` is never published"),
                    format!(
                        "add \"{lang}\" to the `languages` of the campaign or of the post, or remove this text"
                    ),
                );
            }
        }
        // A first comment or a thread in some languages only: the other
        // languages' posts go out without it, which is rarely meant.
        let parts = std::iter::once(("first comment", &post.first_comment))
            .chain(post.thread.iter().map(|t| ("thread", t)));
        for (what, texts) in parts {
            let Some(first) = texts.values().next() else {
                continue;
            };
            let missing: Vec<&str> = published
                .iter()
                .filter(|l| !has_text(texts, l))
                .map(String::as_str)
                .collect();
            if !missing.is_empty() {
                self.warning(
                    span(first),
                    format!(
                        "the {what} of post `{id}` has no {} text: those posts go out without it",
                        missing.join(", ")
                    ),
                    format!(
                        "add {}",
                        missing
                            .iter()
                            .map(|l| format!("`{l} = \"...\"`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
            }
        }
        if post_accounts(self.c, post).is_empty() {
            self.error(
                span(&post.id),
                format!("post `{id}` goes to no account"),
                "add `accounts = [\"...\"]` to `[campaign]` or to the post (ids from berrah.toml)",
            );
        }
    }

    /// Resolves a media path inside the campaign file's folder; refuses
    /// absolute paths, `..` escapes and symlinks that lead outside.
    fn resolve(&mut self, file: &Spanned<String>) -> Option<PathBuf> {
        let rel = file.get_ref();
        // A bare file name (`amal.toml`) lives in the working directory.
        let dir = match self.c.dir() {
            d if d.as_os_str().is_empty() => Path::new("."),
            d => d,
        };
        let joined = dir.join(rel);
        let outside = Path::new(rel).is_absolute()
            || Path::new(rel)
                .components()
                .any(|c| matches!(c, std::path::Component::ParentDir));
        if outside {
            self.error(
                span(file),
                format!("media file `{rel}` is outside the campaign's folder"),
                "put the file in the campaign's folder (or a subfolder such as `media/`) and write its path relative to it",
            );
            return None;
        }
        if let Some(real) = self.resolved.get(rel) {
            return Some(real.clone());
        }
        let real = match joined.canonicalize() {
            Ok(p) => p,
            Err(_) => {
                let help = std::fs::read_dir(joined.parent().unwrap_or(dir))
                    .ok()
                    .and_then(|rd| {
                        let names: Vec<String> = rd
                            .flatten()
                            .map(|e| e.file_name().to_string_lossy().into_owned())
                            .collect();
                        let base = Path::new(rel).file_name()?.to_string_lossy().into_owned();
                        suggest::did_you_mean(&base, names.iter().map(String::as_str))
                    })
                    .unwrap_or_else(|| {
                        format!(
                            "the path is read from `{}`; check its spelling",
                            dir.display()
                        )
                    });
                self.error(
                    span(file),
                    format!("media file `{rel}` does not exist"),
                    help,
                );
                return None;
            }
        };
        let root = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        if !real.starts_with(&root) {
            self.error(
                span(file),
                format!("media file `{rel}` is a link to a file outside the campaign's folder"),
                "copy the file into the campaign's folder instead of linking to it",
            );
            return None;
        }
        self.resolved.insert(rel.clone(), real.clone());
        Some(real)
    }

    fn probe(&mut self, real: &Path) -> Result<MediaInfo, String> {
        self.probed
            .entry(real.to_path_buf())
            .or_insert_with(|| probe::probe(real).map_err(|e| e.to_string()))
            .clone()
    }

    fn media(&mut self, p: &PostRef<'_>) {
        let post = p.post;
        let id = post.id.get_ref();
        let media = p.media();
        let platforms: Vec<(String, PlatformKind)> = post_accounts(self.c, post)
            .iter()
            .filter_map(|a| {
                let acc = self.ctx.config.accounts.get(a.get_ref())?;
                Some((a.get_ref().clone(), acc.platform))
            })
            .collect();
        let mut infos: Vec<MediaInfo> = Vec::new();
        for m in media {
            let Some(real) = self.resolve(&m.file) else {
                continue;
            };
            let info = match self.probe(&real) {
                Ok(i) => i,
                Err(e) => {
                    self.error(
                        span(&m.file),
                        e,
                        "replace it with a JPEG or PNG image or an MP4 video",
                    );
                    continue;
                }
            };
            for (account, platform) in &platforms {
                if let Err(why) = probe::accepts(*platform, &info) {
                    self.error(
                        span(&m.file),
                        format!(
                            "`{}` cannot go to {} (account `{account}`): {why}",
                            m.file.get_ref(),
                            platform_title(*platform)
                        ),
                        format!(
                            "use another file for this post, or a post of its own for {}",
                            platform_title(*platform)
                        ),
                    );
                }
            }
            if info.kind == MediaKind::Image {
                let mut langs = BTreeSet::new();
                for a in post_accounts(self.c, post) {
                    let acc = self.ctx.config.accounts.get(a.get_ref());
                    langs.extend(post_languages(self.c, post, acc));
                }
                if post_accounts(self.c, post).is_empty() {
                    langs.extend(post_languages(self.c, post, None));
                }
                let missing: Vec<String> =
                    langs.into_iter().filter(|l| !has_text(&m.alt, l)).collect();
                if !missing.is_empty() {
                    self.warning(
                        span(&m.file),
                        format!(
                            "image `{}` has no alt text in {}",
                            m.file.get_ref(),
                            missing.join(", ")
                        ),
                        format!(
                            "describe the image for screen readers: `alt = {{ {} }}`",
                            missing
                                .iter()
                                .map(|l| format!("{l} = \"...\""))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    );
                }
            }
            if let Some(thumb) = &m.thumbnail
                && let Some(real) = self.resolve(thumb)
            {
                match self.probe(&real) {
                    Ok(i) if i.kind == MediaKind::Image => {}
                    Ok(i) => self.error(
                        span(thumb),
                        format!(
                            "thumbnail `{}` is {}, not an image",
                            thumb.get_ref(),
                            i.mime
                        ),
                        "use a JPEG or PNG image as thumbnail",
                    ),
                    Err(e) => self.error(span(thumb), e, "use a JPEG or PNG image as thumbnail"),
                }
            }
            infos.push(info);
        }
        let first = media.first().map(|m| m.file.span());
        let mut told = BTreeSet::new();
        for (account, platform) in &platforms {
            if let Err(why) = probe::accepts_set(*platform, &infos)
                && told.insert(*platform)
            {
                self.error(
                    first.clone(),
                    format!(
                        "post `{id}` cannot go to {} (account `{account}`): {why}",
                        platform_title(*platform)
                    ),
                    "split the media over several posts",
                );
            }
            match platform {
                PlatformKind::Instagram if media.is_empty() => self.error(
                    span(&post.id),
                    format!("post `{id}` goes to Instagram (account `{account}`) but has no image or video"),
                    "add `media = [{ file = \"media/photo.jpg\", alt = { fr = \"...\" } }]`, or remove the Instagram account from this post",
                ),
                PlatformKind::Youtube if !infos.iter().any(|i| i.kind == MediaKind::Video) && media.is_empty() => self.error(
                    span(&post.id),
                    format!("post `{id}` goes to YouTube (account `{account}`) but has no video"),
                    "add `media = [{ file = \"media/capsule.mp4\" }]`, or remove the YouTube account from this post",
                ),
                PlatformKind::Youtube if !infos.is_empty() && !infos.iter().any(|i| i.kind == MediaKind::Video) => self.error(
                    span(&post.id),
                    format!("post `{id}` goes to YouTube (account `{account}`) but its media has no video"),
                    "add an MP4 video to the post's media",
                ),
                _ => {}
            }
        }
    }
}

fn has_text(t: &LangText, lang: &str) -> bool {
    t.get(lang).is_some_and(|s| !s.get_ref().trim().is_empty())
}

/// Checks the file alone (see the module's doc).
pub fn validate(c: &LoadedCampaign, ctx: &Context<'_>) -> Vec<Diagnostic> {
    let mut v = V {
        c,
        ctx,
        out: Vec::new(),
        probed: HashMap::new(),
        resolved: HashMap::new(),
    };
    let camp = &c.file.campaign;
    v.id("campaign", &camp.id);
    if camp.start.get_ref() > camp.end.get_ref() {
        v.error(
            span(&camp.end),
            format!(
                "the campaign ends ({}) before it starts ({})",
                camp.end.get_ref(),
                camp.start.get_ref()
            ),
            "`end` is the last day of the campaign; it must be on or after `start`",
        );
    }
    v.accounts(&camp.accounts);
    v.languages(&camp.languages);
    if let Some(e) = &camp.expires_after {
        v.duration(e);
    }
    for day in &c.file.days {
        v.id("day", &day.slug);
    }
    v.duplicates("day", c.file.days.iter().map(|d| &d.slug), "in `[[days]]`");
    for cap in &c.file.capsules {
        v.id("capsule", &cap.id);
        v.anchor_shape(&cap.anchor);
        v.duplicates(
            "post",
            cap.posts.iter().map(|p| &p.id),
            &format!("in capsule `{}`", cap.id.get_ref()),
        );
    }
    v.duplicates(
        "capsule",
        c.file.capsules.iter().map(|cap| &cap.id),
        "in this file",
    );
    v.duplicates(
        "post",
        c.file.posts.iter().map(|p| &p.id),
        "among the campaign's `[[posts]]`",
    );
    for p in posts(c) {
        v.id("post", &p.post.id);
        if let Some(a) = &p.post.accounts {
            v.accounts(a);
        }
        if let Some(l) = &p.post.languages {
            v.languages(l);
        }
        if let Some(e) = &p.post.expires_after {
            v.duration(e);
        }
        v.timing(&p);
        v.texts(&p);
        v.media(&p);
    }
    // Capsule media are checked once per post of the capsule: say each thing once.
    let mut said = BTreeSet::new();
    v.out.retain(|d| {
        said.insert((
            d.span.as_ref().map(|s| (s.start, s.end)),
            d.severity,
            d.message.clone(),
        ))
    });
    v.out
}

/// The posts of a file by (capsule id, post id), to find the post an
/// occurrence comes from without a scan per occurrence.
fn post_index(c: &LoadedCampaign) -> HashMap<(Option<&str>, &str), PostRef<'_>> {
    posts(c)
        .into_iter()
        .map(|p| {
            (
                (
                    p.capsule.map(|cap| cap.id.get_ref().as_str()),
                    p.post.id.get_ref().as_str(),
                ),
                p,
            )
        })
        .collect()
}

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
    // check each such content once, not once per recurrence.
    type Done<'o> = HashMap<
        (Option<&'o str>, &'o str, PlatformKind, &'o str),
        Vec<(Option<usize>, &'o crate::plan::Content)>,
    >;
    let mut done: Done<'_> = HashMap::new();
    for o in occurrences {
        let acc = ctx.config.accounts.get(&o.account);
        let checked = done
            .entry((
                o.capsule.as_deref(),
                o.post.as_str(),
                o.platform,
                o.language.as_str(),
            ))
            .or_default();
        let limit = acc.and_then(|a| a.max_chars);
        if checked
            .iter()
            .any(|(m, content)| *m == limit && **content == o.content)
        {
            continue;
        }
        checked.push((limit, &o.content));
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

/// Warns when the planned occurrences on an account exceed its budget on a
/// local day or in a month (the daemon would hold the extra ones).
fn check_budgets(
    c: &LoadedCampaign,
    occurrences: &[Occurrence],
    ctx: &Context<'_>,
) -> Vec<Diagnostic> {
    let mut per_day: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    let mut per_month: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    // Paused occurrences are held, never published: they use no budget.
    for o in occurrences.iter().filter(|o| !o.paused) {
        let (Some(day), Some(month)) = (o.local.get(..10), o.local.get(..7)) else {
            continue;
        };
        *per_day.entry((o.account.as_str(), day)).or_default() += 1;
        *per_month.entry((o.account.as_str(), month)).or_default() += 1;
    }
    let at = Some(c.file.campaign.id.span());
    let mut out = Vec::new();
    for (counts, what) in [(&per_day, "day"), (&per_month, "month")] {
        for ((account, when), n) in counts {
            let Some(budget) = ctx.config.accounts.get(*account).and_then(|a| a.budget) else {
                continue;
            };
            let limit = if what == "day" {
                budget.per_day
            } else {
                budget.per_month
            };
            if let Some(limit) = limit
                && *n > limit as usize
            {
                out.push(
                    Diagnostic::warning(
                        &c.path,
                        at.clone(),
                        format!(
                            "account `{account}` has {n} publications planned on {when}, over its budget of {limit} per {what}; the extra ones will be held"
                        ),
                    )
                    .with_help(format!(
                        "spread the posts over more {what}s, or raise `budget.per_{what}` of `[accounts.{account}]` in berrah.toml"
                    )),
                );
            }
        }
    }
    out
}

/// How many unpaused occurrences of one campaign fall on each (account,
/// `"day"` or `"month"`, local day or month): all that
/// [`check_shared_budgets`] needs of a campaign, without its occurrences.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BudgetCounts(BTreeMap<(String, &'static str, String), usize>);

impl BudgetCounts {
    /// Counts `occurrences` (paused ones are held, never published: they use no budget).
    pub fn of(occurrences: &[Occurrence]) -> Self {
        let mut counts: BTreeMap<(&str, &'static str, &str), usize> = BTreeMap::new();
        for o in occurrences.iter().filter(|o| !o.paused) {
            let (Some(day), Some(month)) = (o.local.get(..10), o.local.get(..7)) else {
                continue;
            };
            for (what, when) in [("day", day), ("month", month)] {
                *counts.entry((o.account.as_str(), what, when)).or_default() += 1;
            }
        }
        BudgetCounts(
            counts
                .into_iter()
                .map(|((a, what, when), n)| ((a.to_string(), what, when.to_string()), n))
                .collect(),
        )
    }
}

/// Budgets are per account, and accounts are shared between campaigns (an
/// agency's page carries several): warns when the campaigns *together*
/// exceed an account's budget on a day or in a month while none does alone
/// (that case is reported per file by [`check_occurrences`]). The warning
/// goes on the last file that contributes.
pub fn check_shared_budgets(
    campaigns: &[(&LoadedCampaign, &[Occurrence])],
    ctx: &Context<'_>,
) -> Vec<Diagnostic> {
    let counts: Vec<BudgetCounts> = campaigns
        .iter()
        .map(|(_, occs)| BudgetCounts::of(occs))
        .collect();
    let with: Vec<(&LoadedCampaign, &BudgetCounts)> = campaigns
        .iter()
        .zip(&counts)
        .map(|((c, _), n)| (*c, n))
        .collect();
    check_shared_budget_counts(&with, ctx)
}

/// [`check_shared_budgets`] from each campaign's [`BudgetCounts`].
pub fn check_shared_budget_counts(
    campaigns: &[(&LoadedCampaign, &BudgetCounts)],
    ctx: &Context<'_>,
) -> Vec<Diagnostic> {
    // (account, period) → per campaign index, count
    let mut counts: BTreeMap<(&str, &str, &str), BTreeMap<usize, usize>> = BTreeMap::new();
    for (i, (_, per_campaign)) in campaigns.iter().enumerate() {
        for ((account, what, when), n) in &per_campaign.0 {
            *counts
                .entry((account.as_str(), what, when.as_str()))
                .or_default()
                .entry(i)
                .or_default() += n;
        }
    }
    let mut out = Vec::new();
    for ((account, what, when), per) in counts {
        let Some(budget) = ctx.config.accounts.get(account).and_then(|a| a.budget) else {
            continue;
        };
        let Some(limit) = (if what == "day" {
            budget.per_day
        } else {
            budget.per_month
        }) else {
            continue;
        };
        let limit = limit as usize;
        let total: usize = per.values().sum();
        if per.len() < 2 || total <= limit || per.values().any(|n| *n > limit) {
            continue;
        }
        let names: Vec<&str> = per.keys().map(|i| campaigns[*i].0.id()).collect();
        let Some(last) = per.keys().next_back().map(|i| campaigns[*i].0) else {
            continue;
        };
        out.push(
            Diagnostic::warning(
                &last.path,
                Some(last.file.campaign.id.span()),
                format!(
                    "account `{account}` has {total} publications planned on {when} by campaigns {}, over its budget of {limit} per {what}; the extra ones will be held",
                    names.join(", ")
                ),
            )
            .with_help(format!(
                "move some posts to other {what}s, or raise `budget.per_{what}` of `[accounts.{account}]` in berrah.toml"
            )),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::Calendar;
    use crate::config::Config;
    use crate::media::probe::tests::{jpeg, mp4, png};
    use crate::plan::Content;

    const CONFIG: &str = r#"
[accounts.fb]
platform = "facebook"
[accounts.x]
platform = "x"
languages = ["fr"]
[accounts.ig]
platform = "instagram"
[accounts.yt]
platform = "youtube"
[accounts.masto]
platform = "mastodon"
base_url = "https://m.example"
max_chars = 1000
budget = { per_day = 1, per_month = 2 }
"#;

    fn head(accounts: &str) -> String {
        format!(
            "[campaign]\nid = \"c\"\ntitle = \"t\"\ntimezone = \"Africa/Casablanca\"\n\
             start = 2026-12-01\nend = 2026-12-31\naccounts = [{accounts}]\nlanguages = [\"fr\", \"ar\"]\n"
        )
    }

    fn run(dir: &Path, source: &str) -> (LoadedCampaign, Vec<Diagnostic>) {
        let config: Config = toml::from_str(CONFIG).unwrap();
        let calendar = Calendar::shipped();
        let ctx = Context {
            config: &config,
            calendar: &calendar,
            now: "2026-11-01T00:00:00Z".parse().unwrap(),
        };
        let path = dir.join("c.toml");
        let file = toml::from_str(source).unwrap_or_else(|e| panic!("{e}"));
        let c = LoadedCampaign {
            path,
            source: source.to_string(),
            file,
        };
        let d = validate(&c, &ctx);
        (c, d)
    }

    fn messages(d: &[Diagnostic]) -> Vec<String> {
        d.iter()
            .map(|d| format!("{}: {}", d.severity, d.message))
            .collect()
    }

    #[test]
    fn ids_and_languages() {
        assert!(is_valid_id("amal-2026"));
        assert!(!is_valid_id("Amal_2026"));
        assert!(!is_valid_id("-a"));
        assert!(!is_valid_id(""));
        assert_eq!(id_suggestion("Migrants B7al!"), "migrants-b7al");
        assert!(is_valid_lang("fr") && is_valid_lang("fr-MA") && is_valid_lang("ber"));
        assert!(!is_valid_lang("FR") && !is_valid_lang("french") && !is_valid_lang(""));
    }

    #[test]
    fn account_languages_filter_required_texts() {
        let dir = tempfile::tempdir().unwrap();
        // `x` publishes French only: an Arabic-less post is fine there...
        let src = format!(
            "{}[[posts]]\nid = \"p\"\ndate_time = 2026-12-18T10:00:00\ntext = {{ fr = \"Salut\" }}\n",
            head("\"x\"")
        );
        let (_, d) = run(dir.path(), &src);
        assert!(d.is_empty(), "{:?}", messages(&d));
        // ...but not on Facebook.
        let (_, d) = run(dir.path(), &src.replace("\"x\"]", "\"fb\"]"));
        assert_eq!(
            messages(&d),
            ["error: post `p` has no `ar` text (it goes to fb)"]
        );
    }

    #[test]
    fn a_text_in_a_language_nobody_publishes_is_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        let src = format!(
            "{}[[posts]]\nid = \"p\"\ndate_time = 2026-12-18T10:00:00\ntext = {{ fr = \"a\", ar = \"b\", en = \"c\" }}\n",
            head("\"fb\"")
        );
        let (_, d) = run(dir.path(), &src);
        assert_eq!(
            messages(&d),
            ["warning: the `en` text of post `p` is never published"]
        );
        let src = src.replace(
            ", en = \"c\" }",
            " }\nfirst_comment = { fr = \"Lien\" }\nthread = [{ fr = \"1\", ar = \"١\" }]",
        );
        let (_, d) = run(dir.path(), &src);
        assert_eq!(
            messages(&d),
            [
                "warning: the first comment of post `p` has no ar text: those posts go out without it"
            ]
        );
    }

    #[test]
    fn media_checks_sniff_and_warn_about_alt_text() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("media")).unwrap();
        std::fs::write(dir.path().join("media/wide.jpg"), jpeg(2000, 1000)).unwrap();
        std::fs::write(dir.path().join("media/photo.jpg"), png(1080, 1080)).unwrap();
        std::fs::write(dir.path().join("media/clip.mp4"), mp4(1080, 1920, 4, true)).unwrap();
        let src = format!(
            "{}[[posts]]\nid = \"p\"\ndate_time = 2026-12-18T10:00:00\ntext = {{ fr = \"a\", ar = \"b\" }}\n\
             media = [{{ file = \"media/wide.jpg\", alt = {{ fr = \"x\" }} }}, {{ file = \"media/photo.jpg\", alt = {{ fr = \"x\", ar = \"y\" }} }}]\n\
             [[posts]]\nid = \"q\"\ndate_time = 2026-12-18T10:00:00\ntext = {{ fr = \"a\", ar = \"b\" }}\n\
             media = [{{ file = \"media/clip.mp4\", thumbnail = \"media/clip.mp4\" }}]\n",
            head("\"ig\", \"yt\"")
        );
        let (_, d) = run(dir.path(), &src);
        let m = messages(&d);
        // The wide JPEG: Instagram's aspect ratio; a PNG named .jpg: Instagram wants JPEG.
        assert!(
            m.iter()
                .any(|s| s.contains("wide.jpg") && s.contains("aspect ratio")),
            "{m:?}"
        );
        assert!(
            m.iter()
                .any(|s| s.contains("photo.jpg") && s.contains("image/png")),
            "{m:?}"
        );
        assert!(
            m.iter()
                .any(|s| s == "warning: image `media/wide.jpg` has no alt text in ar"),
            "{m:?}"
        );
        // YouTube cannot take the images-only post; the thumbnail must be an image.
        assert!(
            m.iter().any(|s| s.contains("post `p` goes to YouTube")),
            "{m:?}"
        );
        assert!(
            m.iter()
                .any(|s| s.contains("thumbnail `media/clip.mp4` is video/mp4")),
            "{m:?}"
        );
        assert!(
            !m.iter().any(|s| s.contains("post `q` goes to YouTube")),
            "{m:?}"
        );
    }

    #[test]
    fn capsule_media_problems_are_said_once() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("p.png"), png(100, 100)).unwrap();
        let src = format!(
            "{}[[capsules]]\nid = \"c1\"\ntitle = \"t\"\nanchor = {{ date = 2026-12-18 }}\nmedia = [{{ file = \"p.png\" }}]\n\
             [[capsules.posts]]\nid = \"a\"\nat = 10:00\ntext = {{ fr = \"a\", ar = \"b\" }}\n\
             [[capsules.posts]]\nid = \"b\"\nat = 12:00\ntext = {{ fr = \"a\", ar = \"b\" }}\n",
            head("\"fb\"")
        );
        let (_, d) = run(dir.path(), &src);
        assert_eq!(
            messages(&d),
            ["warning: image `p.png` has no alt text in ar, fr"]
        );
    }

    #[test]
    fn instagram_needs_media_and_paths_stay_inside() {
        let dir = tempfile::tempdir().unwrap();
        let inner = dir.path().join("camp");
        std::fs::create_dir(&inner).unwrap();
        std::fs::write(dir.path().join("outside.png"), png(10, 10)).unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(dir.path().join("outside.png"), inner.join("link.png")).unwrap();
        let src = format!(
            "{}[[posts]]\nid = \"p\"\ndate_time = 2026-12-18T10:00:00\ntext = {{ fr = \"a\", ar = \"b\" }}\n\
             [[posts]]\nid = \"q\"\ndate_time = 2026-12-18T10:00:00\ntext = {{ fr = \"a\", ar = \"b\" }}\n\
             media = [{{ file = \"link.png\" }}, {{ file = \"/etc/passwd\" }}, {{ file = \"sub/../../outside.png\" }}]\n",
            head("\"ig\"")
        );
        let (_, d) = run(&inner, &src);
        let m = messages(&d);
        assert!(
            m.iter()
                .any(|s| s.contains("post `p` goes to Instagram") && s.contains("no image")),
            "{m:?}"
        );
        #[cfg(unix)]
        assert!(
            m.iter()
                .any(|s| s.contains("`link.png` is a link to a file outside")),
            "{m:?}"
        );
        assert!(
            m.iter().any(|s| s.contains("`/etc/passwd` is outside")),
            "{m:?}"
        );
        assert!(
            m.iter()
                .any(|s| s.contains("`sub/../../outside.png` is outside")),
            "{m:?}"
        );
    }

    #[test]
    fn timing_keys() {
        let dir = tempfile::tempdir().unwrap();
        let src = format!(
            "{}[[posts]]\nid = \"none\"\ntext = {{ fr = \"a\", ar = \"b\" }}\n\
             [[posts]]\nid = \"orphan\"\ndays_after = 2\ndate_time = 2026-12-18T10:00:00\ntext = {{ fr = \"a\", ar = \"b\" }}\n\
             [[posts]]\nid = \"both\"\nat = 10:00\nanchor = {{ day = \"x\", date = 2026-12-18 }}\ntext = {{ fr = \"a\", ar = \"b\" }}\nexpires_after = \"2 days\"\n",
            head("\"fb\"")
        );
        let (_, d) = run(dir.path(), &src);
        let m = messages(&d);
        assert!(
            m.contains(&"error: post `none` does not say when it goes out".to_string()),
            "{m:?}"
        );
        assert!(m.iter().any(|s| s.contains("only work with `at`")), "{m:?}");
        assert!(
            m.iter().any(|s| s.contains("either `day` or `date`")),
            "{m:?}"
        );
        assert_eq!(m.len(), 3, "{m:?}");
    }

    fn occurrence(
        post: &str,
        account: &str,
        platform: PlatformKind,
        lang: &str,
        local: &str,
        text: &str,
    ) -> Occurrence {
        Occurrence {
            id: format!("o-{post}{local}"),
            key: String::new(),
            campaign: "c".into(),
            capsule: None,
            post: post.into(),
            account: account.into(),
            platform,
            language: lang.into(),
            due: "2026-12-18T10:00:00Z".parse().unwrap(),
            local: local.into(),
            timezone: "Africa/Casablanca".into(),
            tzdb: "2026f".into(),
            not_after: "2026-12-19T10:00:00Z".parse().unwrap(),
            series: None,
            paused: false,
            source: PathBuf::from("c.toml"),
            content: Content {
                text: text.into(),
                ..Content::default()
            },
        }
    }

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

    #[test]
    fn budgets_and_instagram_hashtags() {
        let dir = tempfile::tempdir().unwrap();
        let src = format!(
            "{}[[posts]]\nid = \"p\"\ncron = \"0 10 * * *\"\ntext = {{ fr = \"a\", ar = \"b\" }}\n",
            head("\"masto\"")
        );
        let (c, _) = run(dir.path(), &src);
        let config: Config = toml::from_str(CONFIG).unwrap();
        let calendar = Calendar::shipped();
        let ctx = Context {
            config: &config,
            calendar: &calendar,
            now: jiff::Timestamp::UNIX_EPOCH,
        };
        let occs = [
            occurrence(
                "p",
                "masto",
                PlatformKind::Mastodon,
                "fr",
                "2026-12-18T10:00:00+01:00",
                "a",
            ),
            occurrence(
                "p",
                "masto",
                PlatformKind::Mastodon,
                "ar",
                "2026-12-18T10:00:00+01:00",
                "b",
            ),
            occurrence(
                "p",
                "masto",
                PlatformKind::Mastodon,
                "fr",
                "2026-12-19T10:00:00+01:00",
                "a",
            ),
        ];
        let m = messages(&check_occurrences(&c, &occs, &ctx));
        assert_eq!(m.len(), 2, "{m:?}");
        assert!(
            m[0].starts_with("warning: account `masto` has 2 publications planned on 2026-12-18"),
            "{m:?}"
        );
        assert!(
            m[1].contains("3 publications planned on 2026-12, over its budget of 2 per month"),
            "{m:?}"
        );
        let long = "y".repeat(120);
        let yt = occurrence(
            "p",
            "yt",
            PlatformKind::Youtube,
            "fr",
            "2026-12-18T10:00:00+01:00",
            &long,
        );
        let m = messages(&check_occurrences(&c, &[yt.clone(), yt], &ctx));
        assert_eq!(m.len(), 1, "{m:?}");
        assert!(
            m[0].starts_with("warning: post `p` has no YouTube title in `fr`"),
            "{m:?}"
        );
        let tags: String = (0..31).map(|i| format!(" #t{i}")).collect();
        let occ = occurrence(
            "p",
            "ig",
            PlatformKind::Instagram,
            "fr",
            "2026-12-18T10:00:00+01:00",
            &tags,
        );
        let m = messages(&check_occurrences(&c, &[occ], &ctx));
        assert!(
            m[0].contains("has 31 hashtags; Instagram allows 30"),
            "{m:?}"
        );
    }
}
