//! The plan as the console reads it, and the calendar written as static
//! pages (`berrah preview --out DIR`): no daemon, no database, relative
//! links only, so that the folder opens from `file://` or as a CI artifact.
//!
//! ```text
//! DIR/index.html            the choice of language
//! DIR/console.css
//! DIR/fr/index.html         the month of today (else the first month)
//! DIR/fr/2026-12.html       one page per month
//! DIR/fr/post/o-….html      one page per post and due time
//! DIR/en/...                the same in English
//! DIR/files/media/….jpg     images and video thumbnails, copied
//! ```

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use jiff::civil::Date;
use maud::html;

use super::calendar::{self, Group, Links, Month, MonthPage, States};
use super::i18n::Lang;
use super::layout::{self, Page, Section};
use super::post::{self, PostPage};
use crate::calendar::Calendar;
use crate::campaign::{self, Checked, Context};
use crate::config::Config;
use crate::diag::{Report, Severity};
use crate::plan::output::{AsView, View};
use crate::plan::{Compact, Compactor, MediaRef};

/// The plan of a folder of campaign files, as `berrah plan` makes it: each
/// valid file checked and planned by [`campaign::check_dir_map`], its
/// occurrences kept in their compact form, in due order.
pub struct Planned {
    pub occurrences: Vec<Compact>,
    /// The files with errors, left out (their diagnostics are in `report`).
    pub broken: Vec<Checked>,
    pub report: Report,
    /// Files checked, valid or not.
    pub files: usize,
    /// The warnings of the valid files (`berrah check` shows them).
    pub warnings: usize,
}

impl Planned {
    /// The files with errors, each error rendered as `berrah check` shows
    /// it, then a note naming the file skipped (as `berrah plan` does).
    pub fn render_broken(&self) -> String {
        let mut out = String::new();
        for c in &self.broken {
            for d in c
                .diagnostics
                .iter()
                .filter(|d| d.severity == Severity::Error)
            {
                out.push_str(&d.render(self.report.source(&d.path)));
            }
            let path = c
                .campaign
                .as_ref()
                .map(|l| l.path.display().to_string())
                .or_else(|| c.diagnostics.first().map(|d| d.path.display().to_string()))
                .unwrap_or_default();
            let errors = c.diagnostics.iter().filter(|d| d.is_error()).count();
            out.push_str(&format!(
                "note: skipping {} ({path}): {errors} error{}; `berrah check` shows every problem\n",
                c.campaign_id
                    .as_deref()
                    .map_or_else(|| "a campaign".to_string(), |id| format!("campaign `{id}`")),
                if errors == 1 { "" } else { "s" }
            ));
        }
        out
    }
}

/// Plans every campaign file of `dir` (within the bounds, both inclusive).
pub fn plan(
    dir: &Path,
    ctx: &Context<'_>,
    from: Option<Timestamp>,
    until: Option<Timestamp>,
) -> Planned {
    let (checked, report) = campaign::check_dir_map(dir, ctx, |c| {
        if !c.is_valid() {
            c.shed();
            return Vec::new();
        }
        let mut compactor = Compactor::default();
        let mut compact = Vec::with_capacity(c.occurrences.len());
        compact.extend(
            std::mem::take(&mut c.occurrences)
                .into_iter()
                .filter(|o| from.is_none_or(|f| o.due >= f) && until.is_none_or(|u| o.due <= u))
                .map(|o| compactor.compact(o)),
        );
        c.shed();
        compact
    });
    let files = checked.len();
    let mut occurrences = Vec::new();
    let mut broken = Vec::new();
    let mut warnings = 0;
    for (c, compact) in checked {
        if c.is_valid() {
            warnings += c.diagnostics.len();
            occurrences.extend(compact);
        } else {
            broken.push(c);
        }
    }
    occurrences.sort_by(|a, b| a.due.cmp(&b.due).then_with(|| a.key().cmp(b.key())));
    Planned {
        occurrences,
        broken,
        report,
        files,
        warnings,
    }
}

/// What [`write`] wrote.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Written {
    pub months: Vec<Month>,
    /// Post pages per language.
    pub posts: usize,
    /// Media files copied.
    pub media: usize,
    /// Media files that could not be copied (missing, not a regular file...).
    pub media_missing: usize,
}

/// The months a preview shows: those of the bounds when given, else from
/// the first post's to the last's; the month of `today` when there is
/// nothing at all.
pub fn months<T: AsView>(
    occurrences: &[T],
    from: Option<Date>,
    until: Option<Date>,
    today: Date,
) -> Vec<Month> {
    let days: Vec<Date> = occurrences
        .iter()
        .map(|o| calendar::local_day(&o.view()))
        .collect();
    let first = from.or_else(|| days.iter().min().copied());
    let last = until.or_else(|| days.iter().max().copied());
    let (first, last) = match (first, last) {
        (Some(a), Some(b)) => (Month::of(a.min(b)), Month::of(b.max(a))),
        (Some(a), None) | (None, Some(a)) => (Month::of(a), Month::of(a)),
        (None, None) => (Month::of(today), Month::of(today)),
    };
    let mut out = vec![first];
    while let Some(&m) = out.last()
        && m < last
        && out.len() < 1200
    {
        out.push(m.next());
    }
    out
}

/// Percent-encodes what would end or change a relative address.
fn href_path(p: &Path) -> String {
    let mut out = String::new();
    for (i, c) in p.components().enumerate() {
        if i > 0 {
            out.push('/');
        }
        for ch in c.as_os_str().to_string_lossy().chars() {
            match ch {
                '%' | ' ' | '#' | '?' | '"' | '\'' | '<' | '>' | '\\' => {
                    let mut b = [0; 4];
                    for byte in ch.encode_utf8(&mut b).bytes() {
                        out.push_str(&format!("%{byte:02X}"));
                    }
                }
                c => out.push(c),
            }
        }
    }
    out
}

/// The largest media file copied into a preview.
const MAX_MEDIA_BYTES: u64 = 50 * 1024 * 1024;

/// Copies `rel` beneath `folder` to `out/files/rel` (opened as publishing
/// opens it: beneath its folder, regular files only); its address relative
/// to the root.
fn copy_medium(out: &Path, folder: &Path, rel: &Path) -> Option<String> {
    let opened = crate::media::open::open_beneath(folder, rel).ok()?;
    if opened.size > MAX_MEDIA_BYTES {
        return None;
    }
    let target = out.join("files").join(rel);
    std::fs::create_dir_all(target.parent()?).ok()?;
    let mut reader = opened.reader();
    let mut file = std::fs::File::create(&target).ok()?;
    io::copy(&mut reader, &mut file).ok()?;
    Some(format!("files/{}", href_path(rel)))
}

/// What a preview writes besides the plan.
pub struct Export<'a> {
    pub out: &'a Path,
    pub calendar: &'a Calendar,
    pub config: &'a Config,
    pub today: Date,
    pub months: Vec<Month>,
}

/// Writes the static pages of `occurrences` (in due order) into `e.out`.
pub fn write<T: AsView>(e: &Export<'_>, occurrences: &[T]) -> io::Result<Written> {
    let out = e.out;
    std::fs::create_dir_all(out)?;
    std::fs::write(out.join(layout::STYLESHEET_NAME), layout::STYLESHEET)?;
    let (lo, hi) = match (e.months.first(), e.months.last()) {
        (Some(a), Some(b)) => (
            a.weeks().first().map_or(a.first(), |w| w[0]),
            b.weeks().last().map_or(b.last(), |w| w[6]),
        ),
        _ => (e.today, e.today),
    };
    let shown: Vec<&T> = occurrences
        .iter()
        .filter(|o| {
            let d = calendar::local_day(&o.view());
            d >= lo && d <= hi
        })
        .collect();
    let groups: Vec<Group<'_>> = calendar::group(shown.iter().copied());
    // Media: each file once, its address relative to the root.
    let mut media: BTreeMap<PathBuf, Option<String>> = BTreeMap::new();
    let mut written = Written {
        months: e.months.clone(),
        ..Written::default()
    };
    for g in &groups {
        for m in &g.members {
            for medium in &m.content.media {
                let (folder, rel) = if post_is_image(medium) {
                    medium.beneath()
                } else {
                    match medium.thumbnail_beneath() {
                        Some(t) => t,
                        None => continue,
                    }
                };
                let key = folder.join(&rel);
                if media.contains_key(&key) {
                    continue;
                }
                let href = copy_medium(out, &folder, &rel);
                if href.is_some() {
                    written.media += 1;
                } else {
                    written.media_missing += 1;
                }
                media.insert(key, href);
            }
        }
    }
    let media_href = |_: &View<'_>, m: &MediaRef, thumbnail: bool| -> Option<String> {
        let (folder, rel) = if thumbnail {
            m.thumbnail_beneath()?
        } else {
            m.beneath()
        };
        media.get(&folder.join(rel)).cloned().flatten()
    };
    let states = States::new();
    let index_month = if e.months.contains(&Month::of(e.today)) {
        Month::of(e.today)
    } else {
        e.months.first().copied().unwrap_or(Month::of(e.today))
    };
    for lang in Lang::ALL {
        let dir = out.join(lang.code());
        std::fs::create_dir_all(dir.join("post"))?;
        for &month in &e.months {
            let page = MonthPage {
                lang,
                month,
                today: e.today,
                links: Links::Static,
                calendar: e.calendar,
                states: &states,
                months: Some(&e.months),
            };
            let html = calendar::month_page(&page, &shown).into_string();
            if month == index_month {
                std::fs::write(dir.join("index.html"), &html)?;
            }
            std::fs::write(dir.join(format!("{month}.html")), html)?;
        }
        let p = PostPage {
            lang,
            links: Links::Static,
            config: e.config,
            states: &states,
            media: &media_href,
        };
        for g in &groups {
            let html = post::post_page(&p, g).into_string();
            std::fs::write(dir.join("post").join(format!("{}.html", g.id())), html)?;
        }
    }
    written.posts = groups.len();
    std::fs::write(
        out.join("index.html"),
        index_page(index_month).into_string(),
    )?;
    Ok(written)
}

fn post_is_image(m: &MediaRef) -> bool {
    let lower = m.file.to_ascii_lowercase();
    [".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif"]
        .iter()
        .any(|e| lower.ends_with(e))
}

/// The folder's first page: the choice of language.
fn index_page(month: Month) -> maud::Markup {
    let page = Page {
        lang: Lang::Fr,
        title: "Calendrier · Calendar",
        section: Section::Calendar,
        root: "",
        board: false,
        alternates: Vec::new(),
    };
    layout::page(
        &page,
        html! {
            section.choose {
                h1 { "Calendrier des publications · Publication calendar" }
                ul.choose-lang {
                    @for l in Lang::ALL {
                        li {
                            a href={ (l.code()) "/index.html" } lang=(l.code()) hreflang=(l.code()) {
                                (l.name()) " · " (month.title(l))
                            }
                        }
                    }
                }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_follow_the_bounds_else_the_posts() {
        let today = Date::constant(2026, 12, 7);
        let none: Vec<crate::plan::Occurrence> = Vec::new();
        assert_eq!(months(&none, None, None, today), vec![Month::of(today)]);
        let m = months(
            &none,
            Some(Date::constant(2026, 11, 20)),
            Some(Date::constant(2027, 2, 1)),
            today,
        );
        assert_eq!(
            m.iter().map(ToString::to_string).collect::<Vec<_>>(),
            vec!["2026-11", "2026-12", "2027-01", "2027-02"]
        );
    }

    #[test]
    fn addresses_are_escaped() {
        assert_eq!(
            href_path(Path::new("media/a b#1.jpg")),
            "media/a%20b%231.jpg"
        );
    }
}
