//! [`plan_campaign`]: one campaign file → its occurrences and diagnostics.

use std::collections::HashMap;
use std::ops::Range;

use jiff::civil;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use super::expiry::parse_duration;
use super::{Content, IdHasher, Occurrence};
use crate::calendar::Calendar;
use crate::calendar::recurrence::{Fire, Recurrence};
use crate::calendar::tz::{Adjustment, Resolved, resolve, rfc3339_local, start_of_day};
use crate::campaign::model::{Anchor, Capsule, Media, Post, Spanned};
use crate::campaign::{Context, LoadedCampaign};
use crate::config::PlatformKind;
use crate::diag::Diagnostic;
use crate::text::render::{RenderInput, base_text, render};

/// At most this many occurrences of one recurring post: more is almost
/// certainly a mistake (`* * * * *`), and would flood the queue.
pub const MAX_OCCURRENCES_PER_POST: usize = 10_000;

/// At most this many times of recurring posts in one file, all together:
/// each post under its own cap, thousands of them could still plan
/// hundreds of millions of posts (and the memory they take).
pub const MAX_RECURRING_TIMES_PER_FILE: usize = 50_000;

/// Every occurrence of one campaign, in time order, with the problems found
/// on the way, each pointing into the campaign file. See the module docs of
/// [`crate::plan`] for ids and expiry rules.
pub fn plan_campaign(
    campaign: &LoadedCampaign,
    ctx: &Context<'_>,
) -> (Vec<Occurrence>, Vec<Diagnostic>) {
    let mut planner = Planner {
        lc: campaign,
        ctx,
        diags: Vec::new(),
        out: Vec::new(),
        recurring_left: MAX_RECURRING_TIMES_PER_FILE,
    };
    planner.run();
    let Planner {
        mut out, mut diags, ..
    } = planner;
    out.sort_by(|a, b| a.due.cmp(&b.due).then_with(|| a.key.cmp(&b.key)));
    diags.sort_by_key(|d| (d.span.as_ref().map(|s| s.start), d.severity));
    (out, diags)
}

struct Planner<'a, 'c> {
    lc: &'a LoadedCampaign,
    ctx: &'a Context<'c>,
    diags: Vec<Diagnostic>,
    out: Vec<Occurrence>,
    /// Times of recurring posts this file may still have
    /// ([`MAX_RECURRING_TIMES_PER_FILE`]); 0 once over, reported once.
    recurring_left: usize,
}

/// What the whole campaign fixes for each post.
struct Frame {
    campaign_id: String,
    tz: TimeZone,
    tz_name: String,
    /// The release of the database `tz` comes from, stamped on each occurrence.
    tzdb: String,
    calendar: Calendar,
    start: civil::Date,
    end: civil::Date,
    campaign_expiry: Option<SignedDuration>,
    default_expiry: SignedDuration,
}

/// One time a post is due.
struct Slot {
    slot: String,
    resolved: Resolved,
    /// The end of the local due day, for `at` posts.
    end_of_day: Option<Timestamp>,
}

fn span<T>(s: &Spanned<T>) -> Option<Range<usize>> {
    Some(s.span())
}

impl Planner<'_, '_> {
    fn error(&mut self, span: Option<Range<usize>>, msg: impl Into<String>) -> &mut Diagnostic {
        self.diags
            .push(Diagnostic::error(self.lc.path.clone(), span, msg));
        // Invariant: just pushed.
        self.diags.last_mut().expect("just pushed")
    }

    fn warning(&mut self, span: Option<Range<usize>>, msg: impl Into<String>) -> &mut Diagnostic {
        self.diags
            .push(Diagnostic::warning(self.lc.path.clone(), span, msg));
        // Invariant: just pushed.
        self.diags.last_mut().expect("just pushed")
    }

    fn run(&mut self) {
        let lc = self.lc;
        let c = &lc.file.campaign;
        let tz = match self.ctx.calendar.zone(c.timezone.get_ref()) {
            Ok(tz) => tz,
            Err(e) => {
                let help = crate::campaign::suggest::zone_help(
                    c.timezone.get_ref(),
                    e.suggestion.as_deref(),
                );
                self.error(span(&c.timezone), e.to_string()).help = Some(help);
                return;
            }
        };
        let start = c.start.get_ref().0;
        let end = c.end.get_ref().0;
        if end < start {
            // Reported by campaign validation.
            return;
        }
        // An invalid duration is reported by campaign validation.
        let campaign_expiry = c
            .expires_after
            .as_ref()
            .and_then(|e| parse_duration(e.get_ref()).ok());
        let default_expiry = parse_duration(&self.ctx.config.daemon.expires_after)
            .unwrap_or(SignedDuration::from_hours(24));
        let frame = Frame {
            campaign_id: c.id.get_ref().clone(),
            tz_name: tz
                .iana_name()
                .unwrap_or(c.timezone.get_ref().trim())
                .to_string(),
            tz,
            tzdb: self.ctx.calendar.tzdb().label(),
            calendar: self.ctx.calendar.with_custom(&lc.file.days),
            start,
            end,
            campaign_expiry,
            default_expiry,
        };
        for capsule in &lc.file.capsules {
            let anchor = self.anchor_date(&frame, &capsule.anchor);
            for post in &capsule.posts {
                self.plan_post(&frame, Some(capsule), anchor, post);
            }
        }
        for post in &lc.file.posts {
            self.plan_post(&frame, None, None, post);
        }
    }

    /// The date of an anchor, with diagnostics; `None` when it has none.
    fn anchor_date(&mut self, frame: &Frame, anchor: &Spanned<Anchor>) -> Option<civil::Date> {
        let a: &Anchor = anchor.get_ref();
        match (&a.day, &a.date) {
            // Both or neither: reported by campaign validation.
            (Some(_), Some(_)) | (None, None) => None,
            (None, Some(date)) => Some(date.get_ref().0),
            (Some(slug), None) => {
                let Some(day) = frame.calendar.get(slug.get_ref()) else {
                    let help = match frame.calendar.suggest(slug.get_ref()) {
                        Some(s) => format!("did you mean `{s}`? (`berrah days` lists every day)"),
                        None => "`berrah days` lists every day; a day of the campaign's own goes \
                                 in a `[[days]]` table"
                            .to_string(),
                    };
                    self.error(span(slug), format!("unknown day `{}`", slug.get_ref()))
                        .help = Some(help);
                    return None;
                };
                if let Some(year_at) = &a.year {
                    let year = *year_at.get_ref();
                    if !(1..=9999).contains(&year) {
                        self.error(span(year_at), format!("`year = {year}` is out of range"))
                            .help = Some(format!(
                            "write the year of the day, such as `year = {}`, or leave `year` out \
                             to take the first one inside the campaign",
                            frame.start.year()
                        ));
                        return None;
                    }
                    let date = day.date_in(year);
                    if date.is_none() {
                        self.error(
                            span(slug),
                            format!("`{}` has no date in {year}", slug.get_ref()),
                        )
                        .help = Some(format!(
                            "its rule is \"{}\"; choose another `year`",
                            day.describe_rule()
                        ));
                    }
                    // A year that puts the day outside the window: the
                    // year is the mistake, not each post of the anchor.
                    if let Some(d) = date
                        && !(frame.start..=frame.end).contains(&d)
                    {
                        let inside = (frame.start.year()..=frame.end.year())
                            .filter_map(|y| day.date_in(y))
                            .find(|d| (frame.start..=frame.end).contains(d));
                        self.error(
                            span(year_at),
                            format!(
                                "`{}` falls on {d} in {year}, outside the campaign ({} to {})",
                                slug.get_ref(),
                                frame.start,
                                frame.end
                            ),
                        )
                        .help = Some(match inside {
                            Some(i) => format!(
                                "write `year = {}` (the day is on {i} inside the campaign), or leave `year` out",
                                i.year()
                            ),
                            None => "widen the campaign's `start`/`end` to include the day".into(),
                        });
                        return None;
                    }
                    return date;
                }
                let found = (frame.start.year()..=frame.end.year())
                    .filter_map(|y| day.date_in(y))
                    .find(|d| (frame.start..=frame.end).contains(d));
                if found.is_none() {
                    self.error(
                        span(slug),
                        format!(
                            "`{}` ({}) does not fall inside the campaign ({} to {})",
                            slug.get_ref(),
                            day.describe_rule(),
                            frame.start,
                            frame.end
                        ),
                    )
                    .help = Some("widen `start`/`end`, or give the anchor a `year`".into());
                }
                found
            }
        }
    }

    fn adjust_warning(
        &mut self,
        sp: Option<Range<usize>>,
        wall: civil::DateTime,
        r: &Resolved,
        zone_name: &str,
    ) {
        match r.adjustment {
            Adjustment::Exact => {}
            Adjustment::Gap { gap } => {
                self.warning(
                    sp,
                    format!(
                        "{wall} does not exist in {zone_name} (the clocks go forward): \
                         moved forward by {} to {}",
                        fmt_duration(gap),
                        r.local_rfc3339()
                    ),
                )
                .help = Some("choose a time outside the change of time to silence this".into());
            }
            Adjustment::Overlap { later } => {
                self.warning(
                    sp,
                    format!(
                        "{wall} happens twice in {zone_name} (the clocks go back): the earlier \
                         one is used, {} ({} UTC), not {} UTC",
                        r.local_rfc3339(),
                        r.instant,
                        later
                    ),
                )
                .help = Some("choose a time outside the change of time to silence this".into());
            }
        }
    }

    fn plan_post(
        &mut self,
        frame: &Frame,
        capsule: Option<&Capsule>,
        capsule_anchor: Option<civil::Date>,
        post: &Post,
    ) {
        let kinds = usize::from(post.at.is_some())
            + usize::from(post.date_time.is_some())
            + usize::from(post.cron.is_some());
        if kinds != 1 {
            // No time, or several: reported by campaign validation.
            return;
        }
        let Some(slots) = self.slots(frame, capsule_anchor, post) else {
            return;
        };
        let recurring = post.cron.is_some();

        // Expiry.
        let explicit = match &post.not_after {
            Some(na) => match resolve(&frame.tz, na.get_ref().0) {
                Ok(r) => Some((r.instant, na)),
                Err(e) => {
                    self.error(span(na), format!("`not_after` cannot be read: {e}"));
                    return;
                }
            },
            None => None,
        };
        let post_expiry = post
            .expires_after
            .as_ref()
            .and_then(|e| parse_duration(e.get_ref()).ok());
        let mut not_afters: Vec<Timestamp> = Vec::with_capacity(slots.len());
        for (i, s) in slots.iter().enumerate() {
            let due = s.resolved.instant;
            let mut na = match (
                explicit,
                post_expiry.or(frame.campaign_expiry),
                s.end_of_day,
            ) {
                (Some((t, _)), _, _) => t,
                (None, Some(d), _) => due.saturating_add(d).unwrap_or(Timestamp::MAX),
                (None, None, Some(eod)) => eod,
                (None, None, None) => due
                    .saturating_add(frame.default_expiry)
                    .unwrap_or(Timestamp::MAX),
            };
            if recurring && let Some(next) = slots.get(i + 1) {
                na = na.min(next.resolved.instant);
            }
            not_afters.push(na);
        }
        if let Some((t, na)) = explicit
            && let Some(first_late) = slots.iter().find(|s| s.resolved.instant > t)
        {
            self.error(
                span(na),
                format!(
                    "`not_after` ({}) is before the time the post is due ({})",
                    na.get_ref(),
                    first_late.resolved.local_rfc3339()
                ),
            )
            .help = Some("set `not_after` later than the due time, or remove it".into());
            return;
        }

        // Already past?
        let time_span = post
            .at
            .as_ref()
            .map(|s| s.span())
            .or(post.date_time.as_ref().map(|s| s.span()))
            .or(post.cron.as_ref().map(|s| s.span()));
        let now = self.ctx.now;
        let dead = not_afters.iter().filter(|na| **na <= now).count();
        if dead > 0 {
            let msg = if recurring {
                format!(
                    "{dead} of the {} times of post `{}` are already past: they will not be published",
                    slots.len(),
                    post.id.get_ref()
                )
            } else {
                format!(
                    "post `{}` was due {} and its time is past: it will not be published",
                    post.id.get_ref(),
                    slots[0].resolved.local_rfc3339()
                )
            };
            self.warning(time_span.clone(), msg);
        } else if let Some((s, na)) = slots
            .iter()
            .zip(&not_afters)
            .find(|(s, _)| s.resolved.instant < now)
        {
            self.warning(
                time_span,
                format!(
                    "post `{}` was due {}, already past: it goes out late, as soon as possible, \
                     until {}",
                    post.id.get_ref(),
                    s.resolved.local_rfc3339(),
                    local_of(*na, &frame.tz)
                ),
            );
        }

        // Accounts × languages.
        let c = &self.lc.file.campaign;
        let accounts = post.accounts.as_ref().unwrap_or(&c.accounts);
        let languages = post.languages.as_ref().unwrap_or(&c.languages);
        let media: &[Media] = match &post.media {
            Some(m) => m,
            None => capsule.map_or(&[], |cap| cap.media.as_slice()),
        };
        let capsule_id = capsule.map(|cap| cap.id.get_ref().clone());
        // The same for every account and language: formatted once per slot.
        let locals: Vec<String> = slots.iter().map(|s| s.resolved.local_rfc3339()).collect();
        let mut contents: HashMap<(PlatformKind, &str), Content> = HashMap::new();
        self.out
            .reserve(slots.len() * accounts.len() * languages.len());
        for account in accounts {
            let account_id = account.get_ref();
            // Unknown accounts are reported by campaign validation.
            let Some(cfg) = self.ctx.config.accounts.get(account_id) else {
                continue;
            };
            for lang in languages {
                let lang = lang.get_ref().as_str();
                if cfg
                    .languages
                    .as_ref()
                    .is_some_and(|ls| !ls.iter().any(|l| l == lang))
                {
                    continue;
                }
                if base_text(post, cfg.platform, lang).is_none() {
                    // A missing text is reported by campaign validation.
                    continue;
                }
                let content = contents.entry((cfg.platform, lang)).or_insert_with(|| {
                    render(&RenderInput {
                        campaign: c,
                        post,
                        platform: cfg.platform,
                        language: lang,
                        media,
                        media_dir: self.lc.dir(),
                    })
                });
                let prefix = format!(
                    "{}/{}/{}/{}/{}",
                    frame.campaign_id,
                    capsule_id.as_deref().unwrap_or("_"),
                    post.id.get_ref(),
                    account_id,
                    lang
                );
                let ids = IdHasher::new(&prefix);
                let series = recurring.then(|| ids.series_id());
                for ((s, na), local) in slots.iter().zip(&not_afters).zip(&locals) {
                    let mut key = String::with_capacity(prefix.len() + 1 + s.slot.len());
                    key.push_str(&prefix);
                    key.push('/');
                    key.push_str(&s.slot);
                    self.out.push(Occurrence {
                        id: ids.occurrence_id(&s.slot),
                        key,
                        campaign: frame.campaign_id.clone(),
                        capsule: capsule_id.clone(),
                        post: post.id.get_ref().clone(),
                        account: account_id.clone(),
                        platform: cfg.platform,
                        language: lang.to_string(),
                        due: s.resolved.instant,
                        local: local.clone(),
                        timezone: frame.tz_name.clone(),
                        tzdb: frame.tzdb.clone(),
                        not_after: *na,
                        series: series.clone(),
                        paused: c.paused || post.paused,
                        source: self.lc.path.clone(),
                        content: content.clone(),
                    });
                }
            }
        }
    }

    /// The times a post is due, or `None` after an error.
    fn slots(
        &mut self,
        frame: &Frame,
        capsule_anchor: Option<civil::Date>,
        post: &Post,
    ) -> Option<Vec<Slot>> {
        if let Some(at) = &post.at {
            let anchor = match &post.anchor {
                Some(a) => self.anchor_date(frame, a)?,
                // No anchor at all is reported by campaign validation; a
                // capsule anchor that failed has been reported above.
                None => capsule_anchor?,
            };
            if post.days_before.is_some() && post.days_after.is_some() {
                // Reported by campaign validation.
                return None;
            }
            // A `u32` from the file: any shift past a few thousand years has
            // no date (jiff's `Span::days` would panic on it), so each value
            // is checked before any arithmetic.
            let shift = match (&post.days_before, &post.days_after) {
                (Some(d), None) => (d, -i64::from(*d.get_ref()), "days_before"),
                (None, Some(d)) => (d, i64::from(*d.get_ref()), "days_after"),
                _ => return self.at_slot(frame, anchor, at),
            };
            let (value, days, key) = shift;
            let Some(date) = jiff::Span::new()
                .try_days(days)
                .ok()
                .and_then(|s| anchor.checked_add(s).ok())
            else {
                self.error(
                    span(value),
                    format!(
                        "`{key} = {}` is out of range: that many days from {anchor} is no date",
                        value.get_ref()
                    ),
                )
                .help = Some(format!(
                    "write a number of days such that the post falls inside the campaign \
                     ({} to {}), such as `{key} = 2`",
                    frame.start, frame.end
                ));
                return None;
            };
            return self.at_slot(frame, date, at);
        }
        if let Some(dt) = &post.date_time {
            return self
                .single(frame, dt.get_ref().0, span(dt))
                .map(|s| vec![s]);
        }
        let cron = post.cron.as_ref()?;
        let rec = match Recurrence::parse(cron.get_ref()) {
            Ok(r) => r,
            Err(e) => {
                let at =
                    e.at.as_ref()
                        .and_then(|r| inside_string(&self.lc.source, cron, r.clone()))
                        .or(span(cron));
                self.error(at, e.to_string()).help = Some(e.help().to_string());
                return None;
            }
        };
        if self.recurring_left == 0 {
            // The file is over its budget of recurring times: reported once.
            return None;
        }
        let cap = MAX_OCCURRENCES_PER_POST.min(self.recurring_left);
        let fires = rec.fires(&frame.tz, frame.start, frame.end, cap);
        if fires.truncated && cap < MAX_OCCURRENCES_PER_POST {
            self.recurring_left = 0;
            self.error(
                span(cron),
                format!(
                    "with this post, the recurring posts of this file go out more than \
                     {MAX_RECURRING_TIMES_PER_FILE} times in all ({} to {}); the ones after it \
                     are not planned",
                    frame.start, frame.end
                ),
            )
            .help = Some(
                "check the cron expressions of this file (`berrah plan` lists every time): \
                 `0 10 * * TUE` is once a week, `*/5 * * * *` every five minutes; or split the \
                 campaign into several files"
                    .into(),
            );
            return None;
        }
        self.recurring_left -= fires.fires.len();
        if fires.truncated {
            self.error(
                span(cron),
                format!(
                    "`{}` gives more than {MAX_OCCURRENCES_PER_POST} times in the campaign \
                     ({} to {})",
                    cron.get_ref(),
                    frame.start,
                    frame.end
                ),
            )
            .help = Some(
                "a post every minute or hour is almost certainly a mistake: \
                          for example `cron = \"0 10 * * TUE\"` is every Tuesday at 10:00"
                    .into(),
            );
            return None;
        }
        if fires.fires.is_empty() {
            self.warning(
                span(cron),
                format!(
                    "`{}` never happens between {} and {}",
                    cron.get_ref(),
                    frame.start,
                    frame.end
                ),
            );
        }
        self.several_a_day(frame, cron, &fires.fires);
        let mut slots = Vec::with_capacity(fires.fires.len());
        let mut per_day: HashMap<civil::Date, u32> = HashMap::new();
        let mut warned = false;
        for f in fires.fires {
            let n = per_day.entry(f.wall.date()).or_insert(0);
            *n += 1;
            let resolved = Resolved {
                instant: f.instant,
                zoned: f.zoned,
                adjustment: f.adjustment,
            };
            if !warned && resolved.adjustment != Adjustment::Exact {
                warned = true;
                self.adjust_warning(span(cron), f.wall, &resolved, &frame.tz_name);
            }
            slots.push(Slot {
                slot: format!("{}#{n}", f.wall.date()),
                resolved,
                end_of_day: None,
            });
        }
        Some(slots)
    }

    /// A recurring post that fires more than once on some day: almost always
    /// a slip (`*/30` for `30`, `*` for `0`) that multiplies the posts.
    fn several_a_day(&mut self, frame: &Frame, cron: &Spanned<String>, fires: &[Fire]) {
        let mut most = 0usize;
        let mut run = 0usize;
        for (i, f) in fires.iter().enumerate() {
            let same_day = i > 0 && fires[i - 1].wall.date() == f.wall.date();
            run = if same_day { run + 1 } else { 1 };
            most = most.max(run);
        }
        if most <= 1 {
            return;
        }
        let days = fires
            .windows(2)
            .filter(|w| w[0].wall.date() != w[1].wall.date())
            .count()
            + 1;
        let first = &fires[0].wall;
        let fields: Vec<&str> = cron.get_ref().split_whitespace().collect();
        let once = match fields.as_slice() {
            [_, _, dom, month, dow] => {
                format!("`{} {} {dom} {month} {dow}`", first.minute(), first.hour())
            }
            _ => "a single minute and hour".to_string(),
        };
        self.warning(
            span(cron),
            format!(
                "`{}` fires up to {most} times a day: {} times in all, on {days} day{} \
                 ({} to {})",
                cron.get_ref(),
                fires.len(),
                if days == 1 { "" } else { "s" },
                frame.start,
                frame.end
            ),
        )
        .help = Some(format!(
            "to post once on each of those days, write {once} (minute first, then the hour); \
             if several posts a day are meant, keep it"
        ));
    }

    /// The slot of an `at` post on `date`, due until the end of that day.
    fn at_slot(
        &mut self,
        frame: &Frame,
        date: civil::Date,
        at: &Spanned<crate::campaign::values::LocalTime>,
    ) -> Option<Vec<Slot>> {
        let wall = date.to_datetime(at.get_ref().0);
        let slot = self.single(frame, wall, span(at))?;
        let end_of_day = date
            .tomorrow()
            .ok()
            .and_then(|d| start_of_day(&frame.tz, d).ok());
        Some(vec![Slot { end_of_day, ..slot }])
    }

    /// A one-off time (`at` or `date_time`): window check, reading in the zone.
    fn single(
        &mut self,
        frame: &Frame,
        wall: civil::DateTime,
        sp: Option<Range<usize>>,
    ) -> Option<Slot> {
        if !(frame.start..=frame.end).contains(&wall.date()) {
            self.error(
                sp,
                format!(
                    "this post is due on {}, outside the campaign ({} to {})",
                    wall.strftime("%Y-%m-%d %H:%M"),
                    frame.start,
                    frame.end
                ),
            )
            .help = Some("move the post inside the campaign, or change its `start`/`end`".into());
            return None;
        }
        let resolved = match resolve(&frame.tz, wall) {
            Ok(r) => r,
            Err(e) => {
                self.error(
                    sp,
                    format!("{wall} cannot be read in {}: {e}", frame.tz_name),
                );
                return None;
            }
        };
        self.adjust_warning(sp, wall, &resolved, &frame.tz_name);
        Some(Slot {
            slot: "once".to_string(),
            resolved,
            end_of_day: None,
        })
    }
}

/// The bytes `at` of a string value, as a span of the file: when the value
/// is written as a plain quoted string (no escapes), its text starts right
/// after the quote; otherwise the whole value.
fn inside_string(source: &str, value: &Spanned<String>, at: Range<usize>) -> Option<Range<usize>> {
    let whole = value.span();
    let written = source.get(whole.clone())?;
    let inner = written
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .or_else(|| {
            written
                .strip_prefix('\'')
                .and_then(|s| s.strip_suffix('\''))
        })?;
    (inner == value.get_ref() && at.end <= inner.len())
        .then(|| whole.start + 1 + at.start..whole.start + 1 + at.end)
}

fn fmt_duration(d: SignedDuration) -> String {
    let mins = d.as_mins();
    if mins % 60 == 0 {
        let h = mins / 60;
        format!("{h} hour{}", if h == 1 { "" } else { "s" })
    } else {
        format!("{mins} minutes")
    }
}

/// RFC 3339 local form of an instant in a zone (for messages and outputs).
pub(crate) fn local_of(t: Timestamp, tz: &TimeZone) -> String {
    rfc3339_local(&t.to_zoned(tz.clone()))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::campaign::CampaignFile;
    use crate::config::Config;
    use crate::diag::Severity;
    use crate::plan::occurrence_id;

    const CONFIG: &str = r#"
[accounts.oim-facebook]
platform = "facebook"

[accounts.oim-x]
platform = "x"
languages = ["fr"]

[accounts.unicef-youtube]
platform = "youtube"
"#;

    const AMAL: &str = r##"
[campaign]
id = "amal"
title = "AMAL"
timezone = "Africa/Casablanca"
start = 2026-12-01
end = 2027-03-31
accounts = ["oim-facebook", "oim-x", "ghost-account"]
languages = ["fr", "ar"]
hashtags = ["AMAL"]

[[capsules]]
id = "ep1"
title = "Episode 1"
anchor = { day = "migrants" }
media = [{ file = "media/ep1.mp4", alt = { fr = "Amal" } }]

[[capsules.posts]]
id = "teaser"
at = 10:00
days_before = 2
text = { fr = "Bientôt", ar = "قريبا" }

[[capsules.posts]]
id = "launch"
at = 18:30
text = { fr = "C'est parti", ar = "انطلقنا" }

[[posts]]
id = "weekly"
cron = "0 10 * * TUE"
accounts = ["oim-x"]
text = { fr = "Chaque mardi" }
languages = ["fr"]
"##;

    fn plan_str(src: &str, now: &str) -> (Vec<Occurrence>, Vec<Diagnostic>) {
        let config: Config = toml::from_str(CONFIG).unwrap();
        let calendar = Calendar::shipped();
        let ctx = Context {
            config: &config,
            calendar: &calendar,
            now: now.parse().unwrap(),
        };
        let file: CampaignFile = toml::from_str(src).unwrap();
        let lc = LoadedCampaign {
            path: PathBuf::from("/c/amal.toml"),
            source: src.to_string(),
            file,
        };
        plan_campaign(&lc, &ctx)
    }

    fn plan(src: &str) -> (Vec<Occurrence>, Vec<Diagnostic>) {
        plan_str(src, "2026-11-23T00:00:00Z")
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn errors(d: &[Diagnostic]) -> Vec<&str> {
        d.iter()
            .filter(|d| d.severity == Severity::Error)
            .map(|d| d.message.as_str())
            .collect()
    }

    #[test]
    fn amal_capsule_accounts_languages_and_times() {
        let (occ, diags) = plan(AMAL);
        assert!(errors(&diags).is_empty(), "{diags:#?}");
        let teaser: Vec<_> = occ.iter().filter(|o| o.post == "teaser").collect();
        // facebook fr+ar, x fr only; the unknown account is skipped.
        assert_eq!(teaser.len(), 3);
        // 16 December 10:00 in Casablanca (UTC+00:00 since 2026-09-20) is 10:00 UTC.
        for o in &teaser {
            assert_eq!(o.due, ts("2026-12-16T10:00:00Z"));
            assert_eq!(o.local, "2026-12-16T10:00:00+00:00");
            assert_eq!(o.timezone, "Africa/Casablanca");
            // An `at` post expires at the end of its local day.
            assert_eq!(o.not_after, ts("2026-12-17T00:00:00Z"));
            assert_eq!(o.capsule.as_deref(), Some("ep1"));
            assert_eq!(o.series, None);
            assert_eq!(o.content.media[0].path, PathBuf::from("/c/media/ep1.mp4"));
        }
        let ar = teaser.iter().find(|o| o.language == "ar").unwrap();
        assert_eq!(ar.key, "amal/ep1/teaser/oim-facebook/ar/once");
        assert_eq!(ar.id, occurrence_id("amal/ep1/teaser/oim-facebook/ar/once"));
        assert_eq!(ar.content.text, "قريبا\n\n#AMAL");
        let launch = occ.iter().find(|o| o.post == "launch").unwrap();
        assert_eq!(launch.due, ts("2026-12-18T18:30:00Z"));

        let weekly: Vec<_> = occ.iter().filter(|o| o.post == "weekly").collect();
        // Tuesdays from 2026-12-01 to 2027-03-30: 18 of them.
        assert_eq!(weekly.len(), 18);
        assert_eq!(weekly[0].key, "amal/_/weekly/oim-x/fr/2026-12-01#1");
        assert!(weekly.iter().all(|o| o.series == weekly[0].series));
        assert!(weekly[0].series.as_deref().unwrap().starts_with("s-"));
        // The daemon's default: 24 hours.
        let day = SignedDuration::from_hours(24);
        assert_eq!(
            weekly[0].not_after,
            weekly[0].due.saturating_add(day).unwrap()
        );
        // With a longer expiry, each expires when the next one is due.
        let (occ, _) = plan(&AMAL.replace(
            "cron = \"0 10 * * TUE\"\n",
            "cron = \"0 10 * * TUE\"\nexpires_after = \"2 weeks\"\n",
        ));
        let weekly: Vec<_> = occ.iter().filter(|o| o.post == "weekly").collect();
        assert_eq!(weekly[0].not_after, weekly[1].due);
        let last = weekly.last().unwrap();
        assert_eq!(last.not_after, last.due.saturating_add(day * 14).unwrap());
        // Time order overall.
        assert!(occ.windows(2).all(|w| w[0].due <= w[1].due));
    }

    #[test]
    fn casablanca_weekly_across_the_2026_change_and_ramadan_2027() {
        // Sundays at 10:00 local. Morocco left UTC+01:00 for good on
        // 2026-09-20 at 02:00 local (tzdata 2026c): 10:00 is 09:00 UTC
        // before, 10:00 UTC from that day on, Ramadan 2027 included (older
        // data had UTC+00:00 only from 2027-02-07 to 2027-03-14). Expected
        // values written by hand, checked against Python's zoneinfo (2026f).
        let src = AMAL
            .replace("start = 2026-12-01", "start = 2026-09-06")
            .replace("cron = \"0 10 * * TUE\"", "cron = \"0 10 * * SUN\"")
            .replace("end = 2027-03-31", "end = 2027-03-21")
            .replace("day = \"migrants\"", "date = 2027-02-10");
        let (occ, diags) = plan(&src);
        assert!(errors(&diags).is_empty(), "{diags:#?}");
        let got: Vec<(String, Timestamp)> = occ
            .iter()
            .filter(|o| o.post == "weekly")
            .map(|o| (o.local.clone(), o.due))
            .collect();
        assert_eq!(got.len(), 29);
        let want = [
            ("2026-09-06T10:00:00+01:00", "2026-09-06T09:00:00Z"),
            ("2026-09-13T10:00:00+01:00", "2026-09-13T09:00:00Z"),
            ("2026-09-20T10:00:00+00:00", "2026-09-20T10:00:00Z"),
            ("2026-09-27T10:00:00+00:00", "2026-09-27T10:00:00Z"),
        ];
        let want: Vec<(String, Timestamp)> =
            want.iter().map(|(l, u)| (l.to_string(), ts(u))).collect();
        assert_eq!(got[..4], want[..]);
        // From then on, 10:00 local is 10:00 UTC every Sunday: no change
        // of time for Ramadan 2027 (7 February to 14 March).
        for (local, due) in &got[2..] {
            assert!(local.ends_with("T10:00:00+00:00"), "{local}");
            assert_eq!(due.to_string(), format!("{}Z", &local[..19]));
        }
        assert!(got.iter().any(|(l, _)| l == "2027-02-14T10:00:00+00:00"));
        assert!(got.iter().any(|(l, _)| l == "2027-03-14T10:00:00+00:00"));
    }

    #[test]
    fn ids_survive_edits_reorders_additions_and_removals() {
        let ids = |src: &str, post: &str| -> Vec<String> {
            let (occ, diags) = plan(src);
            assert!(errors(&diags).is_empty(), "{diags:#?}");
            let mut v: Vec<_> = occ
                .iter()
                .filter(|o| o.post == post)
                .map(|o| o.id.clone())
                .collect();
            v.sort();
            v
        };
        let before = ids(AMAL, "launch");
        let weekly_before = ids(AMAL, "weekly");
        assert_eq!(before.len(), 3);

        // Another post added before it, and the teaser removed.
        let edited = AMAL.replace(
            "[[capsules.posts]]\nid = \"teaser\"\nat = 10:00\ndays_before = 2\ntext = { fr = \"Bientôt\", ar = \"قريبا\" }\n",
            "[[capsules.posts]]\nid = \"new-one\"\nat = 09:00\ntext = { fr = \"Nouveau\", ar = \"جديد\" }\n",
        );
        assert_ne!(edited, AMAL);
        assert_eq!(ids(&edited, "launch"), before);
        assert_eq!(ids(&edited, "weekly"), weekly_before);

        // Its own text and time edited: same ids (rescheduled, not a new post).
        let edited = AMAL
            .replace("at = 18:30", "at = 20:00")
            .replace("C'est parti", "C'est parti !");
        assert_ne!(edited, AMAL);
        assert_eq!(ids(&edited, "launch"), before);
        let (occ, _) = plan(&edited);
        let launch = occ.iter().find(|o| o.post == "launch").unwrap();
        assert_eq!(launch.due, ts("2026-12-18T20:00:00Z"));

        // Posts reordered: capsule posts swapped, campaign post moved first.
        let teaser = "[[capsules.posts]]\nid = \"teaser\"\nat = 10:00\ndays_before = 2\ntext = { fr = \"Bientôt\", ar = \"قريبا\" }\n\n";
        let reordered = AMAL
            .replace(teaser, "")
            .replace("[[posts]]", &format!("{teaser}[[posts]]"));
        assert_ne!(reordered, AMAL);
        assert_eq!(ids(&reordered, "launch"), before);
        assert_eq!(ids(&reordered, "teaser"), ids(AMAL, "teaser"));

        // The recurring post's text edited: same ids; a different post id: new ones.
        let edited = AMAL.replace("Chaque mardi", "Tous les mardis");
        assert_eq!(ids(&edited, "weekly"), weekly_before);
        let renamed = AMAL.replace("id = \"launch\"", "id = \"launch-2\"");
        let new_ids = ids(&renamed, "launch-2");
        assert!(new_ids.iter().all(|i| !before.contains(i)));
    }

    #[test]
    fn every_kind_of_problem_points_into_the_file() {
        let src = AMAL.replace("Africa/Casablanca", "Africa/Casablance");
        let (occ, d) = plan(&src);
        assert!(occ.is_empty());
        assert_eq!(d[0].message, "unknown time zone `Africa/Casablance`");
        assert_eq!(
            d[0].help.as_deref(),
            Some("did you mean `Africa/Casablanca`?")
        );
        let span = d[0].span.clone().unwrap();
        assert_eq!(&src[span], "\"Africa/Casablance\"");

        let src = AMAL.replace("day = \"migrants\"", "day = \"migrant\"");
        let (_, d) = plan(&src);
        assert_eq!(errors(&d), ["unknown day `migrant`"]);
        assert!(d[0].help.as_deref().unwrap().contains("`migrants`"));

        let src = AMAL.replace("cron = \"0 10 * * TUE\"", "cron = \"0 10 * *\"");
        let (_, d) = plan(&src);
        let e = errors(&d);
        assert_eq!(e.len(), 1);
        assert!(e[0].starts_with("invalid cron expression"), "{e:?}");
        assert!(d.iter().any(|d| {
            d.help
                .as_deref()
                .is_some_and(|h| h.contains("0 10 * * TUE"))
        }));

        // Outside the window.
        let src = AMAL.replace("days_before = 2", "days_before = 20");
        let (_, d) = plan(&src);
        assert_eq!(errors(&d).len(), 1);
        assert!(errors(&d)[0].contains("outside the campaign"), "{d:?}");

        // A day that does not fall in the window, and one with no date that year.
        let src = AMAL.replace("day = \"migrants\"", "day = \"youth\"");
        let (_, d) = plan(&src);
        assert!(errors(&d)[0].contains("does not fall inside"), "{d:?}");
        let src = format!(
            "{}\n[[days]]\nslug = \"leap\"\nmonth = 2\nday = 29\n",
            AMAL.replace("day = \"migrants\" }", "day = \"leap\", year = 2027 }")
        );
        let (_, d) = plan(&src);
        assert_eq!(errors(&d), ["`leap` has no date in 2027"]);

        // not_after before due.
        let src = AMAL.replace(
            "at = 18:30\n",
            "at = 18:30\nnot_after = 2026-12-18T12:00:00\n",
        );
        let (_, d) = plan(&src);
        assert_eq!(errors(&d).len(), 1);
        assert!(errors(&d)[0].contains("`not_after`"), "{d:?}");

        // Missing text in a language: validation reports it; the plan skips it.
        let src = AMAL.replace(
            "text = { fr = \"C'est parti\", ar = \"انطلقنا\" }",
            "text = { fr = \"C'est parti\" }",
        );
        let (occ, d) = plan(&src);
        assert!(errors(&d).is_empty());
        assert!(!occ.iter().any(|o| o.post == "launch" && o.language == "ar"));
        assert!(occ.iter().any(|o| o.post == "launch" && o.language == "fr"));
    }

    #[test]
    fn cron_names_are_pointed_at_and_several_a_day_is_a_warning() {
        // A French day name: the error points at the name itself.
        let src = AMAL.replace("cron = \"0 10 * * TUE\"", "cron = \"0 10 * * MAR\"");
        let (_, d) = plan(&src);
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(&src[d[0].span.clone().unwrap()], "MAR");
        assert_eq!(d[0].help.as_deref(), Some("did you mean `TUE`?"));
        // Six fields: the five meant, never the seconds-first form.
        let src = AMAL.replace("cron = \"0 10 * * TUE\"", "cron = \"0 0 10 * * TUE\"");
        let (_, d) = plan(&src);
        assert_eq!(d[0].help.as_deref(), Some("write `0 10 * * TUE`"));
        assert_eq!(&src[d[0].span.clone().unwrap()], "\"0 0 10 * * TUE\"");

        // `*/30` for `30`: 13 Tuesdays became 624 posts, silently.
        let (occ, d) = plan(AMAL);
        assert!(!d.iter().any(|d| d.message.contains("a day")), "{d:?}");
        let weekly = occ.iter().filter(|o| o.post == "weekly").count();
        let src = AMAL.replace("cron = \"0 10 * * TUE\"", "cron = \"*/30 * * * TUE\"");
        let (occ, d) = plan(&src);
        let tuesdays = occ.iter().filter(|o| o.post == "weekly").count() / 48;
        assert_eq!(tuesdays * 48, weekly * 48);
        let w: Vec<_> = d.iter().filter(|d| d.message.contains("a day")).collect();
        assert_eq!(w.len(), 1, "{d:?}");
        assert_eq!(w[0].severity, Severity::Warning);
        assert!(
            w[0].message.contains("up to 48 times a day"),
            "{}",
            w[0].message
        );
        assert!(
            w[0].message
                .contains(&format!("{} times in all", tuesdays * 48)),
            "{}",
            w[0].message
        );
        assert!(
            w[0].help.as_deref().unwrap().contains("`0 0 * * TUE`"),
            "{:?}",
            w[0].help
        );
    }

    #[test]
    fn out_of_range_numbers_are_diagnostics_at_their_value() {
        for (from, to, key) in [
            ("days_before = 2", "days_before = 4000000000", "4000000000"),
            ("days_before = 2", "days_after = 4294967295", "4294967295"),
        ] {
            let src = AMAL.replace(from, to);
            let (_, d) = plan(&src);
            assert_eq!(errors(&d).len(), 1, "{d:?}");
            assert!(errors(&d)[0].contains("is out of range"), "{d:?}");
            assert_eq!(&src[d[0].span.clone().unwrap()], key);
        }
        let src = AMAL.replace("day = \"migrants\" }", "day = \"migrants\", year = 32767 }");
        let (_, d) = plan(&src);
        assert_eq!(errors(&d), ["`year = 32767` is out of range"]);
        assert_eq!(&src[d[0].span.clone().unwrap()], "32767");
    }

    #[test]
    fn recurring_times_have_a_budget_per_file() {
        // 18 Tuesdays × 48: 864 times a post; 58 such posts are over 50,000.
        let mut src = AMAL.to_string();
        for i in 0..60 {
            src.push_str(&format!(
                "\n[[posts]]\nid = \"r{i}\"\ncron = \"*/30 * * * TUE\"\ntext = {{ fr = \"x\", ar = \"y\" }}\n"
            ));
        }
        let (occ, d) = plan(&src);
        let e = errors(&d);
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].contains("more than 50000 times in all"), "{e:?}");
        assert!(
            occ.len() <= MAX_RECURRING_TIMES_PER_FILE * 3,
            "{}",
            occ.len()
        );
    }

    #[test]
    fn past_times_warn() {
        // Now is after the teaser's day but before the launch.
        let (occ, d) = plan_str(AMAL, "2026-12-17T12:00:00Z");
        assert!(errors(&d).is_empty());
        assert!(
            d.iter()
                .any(|d| d.message.contains("`teaser`")
                    && d.message.contains("will not be published")),
            "{d:#?}"
        );
        assert!(
            d.iter()
                .any(|d| d.message.contains("of the 18 times of post `weekly`")),
            "{d:#?}"
        );
        // Still planned (the daemon decides), the ids are the same.
        assert!(occ.iter().any(|o| o.post == "teaser"));
        // Due an hour ago, not yet expired: it goes out late.
        let (_, d) = plan_str(AMAL, "2026-12-16T11:00:00Z");
        assert!(
            d.iter().any(|d| d.message.contains("goes out late")),
            "{d:#?}"
        );
    }

    #[test]
    fn paris_gap_and_overlap_warnings() {
        let base = AMAL
            .replace("Africa/Casablanca", "Europe/Paris")
            .replace("start = 2026-12-01", "start = 2026-10-01")
            .replace("end = 2027-03-31", "end = 2027-04-30");
        let src = base.replace(
            "[[posts]]",
            "[[posts]]\nid = \"gap\"\ndate_time = 2027-03-28T02:30:00\ntext = { fr = \"g\", ar = \"g\" }\n\n[[posts]]\nid = \"overlap\"\ndate_time = 2026-10-25T02:30:00\ntext = { fr = \"o\", ar = \"o\" }\n\n[[posts]]",
        );
        let (occ, d) = plan(&src);
        assert!(errors(&d).is_empty(), "{d:#?}");
        let gap = occ.iter().find(|o| o.post == "gap").unwrap();
        assert_eq!(gap.due, ts("2027-03-28T01:30:00Z"));
        assert_eq!(gap.local, "2027-03-28T03:30:00+02:00");
        let over = occ.iter().find(|o| o.post == "overlap").unwrap();
        assert_eq!(over.due, ts("2026-10-25T00:30:00Z"));
        assert_eq!(over.local, "2026-10-25T02:30:00+02:00");
        let w: Vec<&str> = d.iter().map(|d| d.message.as_str()).collect();
        assert!(
            w.iter()
                .any(|m| m.contains("does not exist") && m.contains("2027-03-28T03:30:00+02:00")),
            "{w:?}"
        );
        assert!(
            w.iter()
                .any(|m| m.contains("happens twice") && m.contains("2026-10-25T00:30:00Z")),
            "{w:?}"
        );
    }

    #[test]
    fn expiry_rules() {
        let src = AMAL
            .replace(
                "title = \"AMAL\"\n",
                "title = \"AMAL\"\nexpires_after = \"6h\"\n",
            )
            .replace("at = 18:30\n", "at = 18:30\nexpires_after = \"2h\"\n");
        let (occ, d) = plan(&src);
        assert!(errors(&d).is_empty(), "{d:#?}");
        let get = |p: &str| occ.iter().find(|o| o.post == p).unwrap();
        assert_eq!(get("launch").not_after, ts("2026-12-18T20:30:00Z"));
        assert_eq!(get("teaser").not_after, ts("2026-12-16T16:00:00Z"));
        let src = AMAL.replace(
            "at = 18:30\n",
            "at = 18:30\nnot_after = 2026-12-18T21:00:00\n",
        );
        let (occ, _) = plan(&src);
        assert_eq!(
            occ.iter().find(|o| o.post == "launch").unwrap().not_after,
            ts("2026-12-18T21:00:00Z")
        );
        let src = AMAL.replace(
            "title = \"AMAL\"\n",
            "title = \"AMAL\"\nexpires_after = \"soon\"\n",
        );
        // Validation reports the bad duration; the plan falls back to the default.
        let (occ, d) = plan(&src);
        assert!(errors(&d).is_empty());
        assert_eq!(
            occ.iter().find(|o| o.post == "launch").unwrap().not_after,
            ts("2026-12-19T00:00:00Z")
        );
    }

    #[test]
    fn paused() {
        let src = AMAL.replace(
            "[[posts]]\nid = \"weekly\"",
            "[[posts]]\nid = \"weekly\"\npaused = true",
        );
        let (occ, _) = plan(&src);
        assert!(occ.iter().filter(|o| o.post == "weekly").all(|o| o.paused));
        assert!(occ.iter().filter(|o| o.post == "launch").all(|o| !o.paused));
    }
}
