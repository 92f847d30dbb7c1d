//! The month calendar of the plan, for the communication teams.
//!
//! Weeks start on Monday; today (the UTC day of the clock, as `berrah days`
//! reads it) is marked; international days carry their names in the
//! interface's language; a capsule is a band over the days its posts fall
//! on (in the campaign's zone); and each post shows **once** per due time,
//! with its accounts and languages grouped ([`group`]), not once per
//! account and language as the queue holds them.
//!
//! Everything here is pure: the pages are functions of the plan's
//! occurrences (seen through [`AsView`], so the compact form of `berrah
//! plan` serves too), the queue's states when the daemon serves them
//! ([`States`]), "today" and how links are written ([`Links`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use jiff::Timestamp;
use jiff::civil::{Date, Weekday};
use maud::{Markup, html};

use super::i18n::Lang;
use super::layout::{self, Page, Section};
use crate::calendar::Calendar;
use crate::plan::output::{AsView, View};
use crate::store::{Entry, EntryState};

/// One post at one due time: its occurrences on every account and language.
#[derive(Debug, Clone)]
pub struct Group<'a> {
    pub due: Timestamp,
    /// Its day in the campaign's zone.
    pub day: Date,
    /// The occurrences, by account then language.
    pub members: Vec<View<'a>>,
}

impl<'a> Group<'a> {
    /// The first occurrence (every group has one).
    pub fn first(&self) -> &View<'a> {
        &self.members[0]
    }

    /// The group's id, used in its page's address: its first occurrence's.
    /// The post page of any of its occurrences ids shows the whole group.
    pub fn id(&self) -> &'a str {
        self.members[0].id
    }

    /// The accounts, in order, each once.
    pub fn accounts(&self) -> Vec<&'a str> {
        let mut out: Vec<&str> = Vec::new();
        for m in &self.members {
            if !out.contains(&m.account) {
                out.push(m.account);
            }
        }
        out
    }

    /// The languages, each once, in the order of the first account's.
    pub fn languages(&self) -> Vec<&'a str> {
        let mut out: Vec<&str> = Vec::new();
        for m in &self.members {
            if !out.contains(&m.language) {
                out.push(m.language);
            }
        }
        out
    }

    /// The local time (`HH:MM`) in the campaign's zone.
    pub fn time(&self) -> &'a str {
        self.members[0].local.get(11..16).unwrap_or_default()
    }
}

/// The day of an occurrence in its campaign's zone (the date of its local
/// time), else its UTC day.
pub fn local_day(v: &View<'_>) -> Date {
    v.local
        .get(..10)
        .and_then(|d| d.parse::<Date>().ok())
        .unwrap_or_else(|| v.due.to_zoned(jiff::tz::TimeZone::UTC).date())
}

/// Groups occurrences by post and due time: one [`Group`] per campaign,
/// capsule, post and due instant, in time order; its members by account
/// and language.
pub fn group<'a, T: AsView + 'a>(occurrences: impl IntoIterator<Item = &'a T>) -> Vec<Group<'a>> {
    let mut views: Vec<View<'a>> = occurrences.into_iter().map(AsView::view).collect();
    views.sort_by(|a, b| {
        (a.due, a.campaign, a.capsule, a.post, a.account, a.language)
            .cmp(&(b.due, b.campaign, b.capsule, b.post, b.account, b.language))
    });
    let mut out: Vec<Group<'a>> = Vec::new();
    for v in views {
        if let Some(last) = out.last_mut() {
            let f = &last.members[0];
            if f.due == v.due
                && f.post == v.post
                && f.capsule == v.capsule
                && f.campaign == v.campaign
            {
                last.members.push(v);
                continue;
            }
        }
        out.push(Group {
            due: v.due,
            day: local_day(&v),
            members: vec![v],
        });
    }
    out
}

/// What the queue says of one occurrence, when the daemon serves the pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueState {
    pub state: EntryState,
    /// The published post's address.
    pub url: Option<String>,
    /// Why it is held, failed or dropped, in the operator's words.
    pub cause: Option<String>,
}

impl QueueState {
    pub fn of(e: &Entry) -> QueueState {
        QueueState {
            state: e.state,
            url: e.url.clone(),
            cause: e.last_error.clone(),
        }
    }
}

/// The queue's states by occurrence id (empty in the static pages).
pub type States = HashMap<String, QueueState>;

/// A state in the interface's words.
pub fn state_name(lang: Lang, s: EntryState) -> &'static str {
    match s {
        EntryState::Scheduled => lang.pick("programmé", "scheduled"),
        EntryState::Claimed | EntryState::Publishing => lang.pick("en cours", "publishing"),
        EntryState::Retrying => lang.pick("nouvel essai", "retrying"),
        EntryState::Published => lang.pick("publié", "published"),
        EntryState::Failed => lang.pick("échec", "failed"),
        EntryState::Held => lang.pick("retenu", "held"),
        EntryState::Cancelled => lang.pick("annulé", "cancelled"),
        EntryState::Expired => lang.pick("abandonné (trop tard)", "dropped (too late)"),
    }
}

/// A year and a month, the address of a month page (`2026-12`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    pub year: i16,
    pub month: i8,
}

impl Month {
    pub fn of(d: Date) -> Month {
        Month {
            year: d.year(),
            month: d.month(),
        }
    }

    /// `2026-12` (also `2026-1`); `None` for anything else.
    pub fn parse(s: &str) -> Option<Month> {
        let (y, m) = s.split_once('-')?;
        let year: i16 = y.parse().ok()?;
        let month: i8 = m.parse().ok()?;
        Date::new(year, month, 1).ok()?;
        Some(Month { year, month })
    }

    pub fn first(self) -> Date {
        Date::new(self.year, self.month, 1).unwrap_or_default()
    }

    pub fn last(self) -> Date {
        self.first().last_of_month()
    }

    pub fn next(self) -> Month {
        if self.month == 12 {
            Month {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Month {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    pub fn prev(self) -> Month {
        if self.month == 1 {
            Month {
                year: self.year - 1,
                month: 12,
            }
        } else {
            Month {
                year: self.year,
                month: self.month - 1,
            }
        }
    }

    /// "décembre 2026", "December 2026".
    pub fn title(self, lang: Lang) -> String {
        format!("{} {}", month_name(lang, self.month), self.year)
    }

    /// The weeks shown for the month, Monday first: from the Monday on or
    /// before its first day to the Sunday on or after its last.
    pub fn weeks(self) -> Vec<[Date; 7]> {
        let first = self.first();
        let back = i64::from(first.weekday().to_monday_zero_offset());
        let mut monday = first
            .checked_sub(jiff::Span::new().days(back))
            .unwrap_or(first);
        let last = self.last();
        let mut out = Vec::new();
        while monday <= last {
            let mut week = [monday; 7];
            for (i, d) in week.iter_mut().enumerate() {
                *d = monday
                    .checked_add(jiff::Span::new().days(i as i64))
                    .unwrap_or(monday);
            }
            out.push(week);
            monday = week[6].tomorrow().unwrap_or(week[6]);
        }
        out
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

pub fn month_name(lang: Lang, m: i8) -> &'static str {
    const FR: [&str; 12] = [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ];
    let i = usize::try_from(m - 1).unwrap_or(0).min(11);
    // English: the calendar's own names (`berrah days` shows them).
    lang.pick(FR[i], crate::calendar::days::month_name(m))
}

pub fn weekday_name(lang: Lang, w: Weekday) -> &'static str {
    const FR: [&str; 7] = [
        "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche",
    ];
    const EN: [&str; 7] = [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ];
    let i = usize::try_from(w.to_monday_zero_offset()).unwrap_or(0);
    lang.pick(FR[i], EN[i])
}

/// "jeudi 18 décembre 2026", "Thursday 18 December 2026".
pub fn long_date(lang: Lang, d: Date) -> String {
    format!(
        "{} {} {} {}",
        weekday_name(lang, d.weekday()),
        d.day(),
        month_name(lang, d.month()),
        d.year()
    )
}

/// Where the pages' links lead: to the daemon's routes, or to the files
/// `berrah preview` writes (relative, so that the folder opens from
/// `file://`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Links {
    /// Served: `/calendar/2026-12`, `/post/ID`; with `?lang=` when the
    /// language was asked in the address.
    Served { lang_in_query: bool },
    /// Static: `DIR/fr/2026-12.html`, `DIR/fr/post/ID.html`.
    Static,
}

/// Which kind of page a link is written from (static pages sit at
/// different depths).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageKind {
    Month,
    Post,
}

impl Links {
    /// The prefix to the console's root from a page.
    pub fn root(self, from: PageKind) -> &'static str {
        match (self, from) {
            (Links::Served { .. }, _) => "/",
            (Links::Static, PageKind::Month) => "../",
            (Links::Static, PageKind::Post) => "../../",
        }
    }

    fn query(self, lang: Lang) -> String {
        match self {
            Links::Served {
                lang_in_query: true,
            } => format!("?lang={}", lang.code()),
            _ => String::new(),
        }
    }

    pub fn month(self, lang: Lang, from: PageKind, m: Month) -> String {
        match (self, from) {
            (Links::Served { .. }, _) => format!("/calendar/{m}{}", self.query(lang)),
            (Links::Static, PageKind::Month) => format!("{m}.html"),
            (Links::Static, PageKind::Post) => format!("../{m}.html"),
        }
    }

    pub fn post(self, lang: Lang, from: PageKind, id: &str) -> String {
        match (self, from) {
            (Links::Served { .. }, _) => format!("/post/{id}{}", self.query(lang)),
            (Links::Static, PageKind::Month) => format!("post/{id}.html"),
            (Links::Static, PageKind::Post) => format!("{id}.html"),
        }
    }

    /// The same page in each interface language, for the switch: `path` is
    /// the served path (without query) or the static file's name in its
    /// language's folder (`2026-12.html`, `post/ID.html`).
    pub fn alternates(self, from: PageKind, path: &str) -> Vec<(Lang, String)> {
        Lang::ALL
            .into_iter()
            .map(|l| {
                let href = match self {
                    Links::Served { .. } => format!("{path}?lang={}", l.code()),
                    Links::Static => format!("{}{}/{path}", self.root(from), l.code()),
                };
                (l, href)
            })
            .collect()
    }
}

/// Everything a month page shows besides the plan.
pub struct MonthPage<'a> {
    pub lang: Lang,
    pub month: Month,
    pub today: Date,
    pub links: Links,
    /// International days (the shipped calendar).
    pub calendar: &'a Calendar,
    pub states: &'a States,
    /// The months that have a page (static pages: those written); `None`:
    /// every month (served).
    pub months: Option<&'a [Month]>,
}

/// The capsule bands of a week: (campaign, capsule, first day, last day).
type Band<'a> = (&'a str, &'a str, Date, Date);

/// The international days on each date of `dates` (periods included), in
/// the interface's language: (slug, name).
fn international_days(
    calendar: &Calendar,
    lang: Lang,
    first: Date,
    last: Date,
) -> BTreeMap<Date, Vec<(String, String)>> {
    let mut out: BTreeMap<Date, Vec<(String, String)>> = BTreeMap::new();
    for day in calendar.days() {
        for year in [first.year() - 1, first.year(), last.year()] {
            let Some(start) = day.date_in(year) else {
                continue;
            };
            for i in 0..i64::from(day.length.max(1)) {
                let Ok(d) = start.checked_add(jiff::Span::new().days(i)) else {
                    break;
                };
                if d < first || d > last {
                    continue;
                }
                let list = out.entry(d).or_default();
                if !list.iter().any(|(s, _)| *s == day.slug) {
                    list.push((day.slug.clone(), day.name(lang.code()).to_string()));
                }
            }
        }
    }
    out
}

/// The occurrences due within a month's weeks (by their day in their zone).
/// `occurrences` in due order (as `berrah plan` sorts them) are cut with a
/// binary search; any order works, only slower.
pub fn within<T: AsView>(occurrences: &[T], month: Month) -> impl Iterator<Item = &T> {
    let weeks = month.weeks();
    let first = weeks[0][0];
    let last = weeks[weeks.len() - 1][6];
    // A local day is at most 26 hours away from the UTC day.
    let day_start = |d: Date| {
        d.to_zoned(jiff::tz::TimeZone::UTC)
            .map(|z| z.timestamp())
            .unwrap_or(Timestamp::MIN)
    };
    let lo = day_start(first)
        .saturating_sub(jiff::SignedDuration::from_hours(26))
        .unwrap_or(Timestamp::MIN);
    let hi = day_start(last.tomorrow().unwrap_or(last))
        .saturating_add(jiff::SignedDuration::from_hours(26))
        .unwrap_or(Timestamp::MAX);
    let sorted = occurrences.is_sorted_by_key(|o| o.view().due);
    let (a, b) = if sorted {
        (
            occurrences.partition_point(|o| o.view().due < lo),
            occurrences.partition_point(|o| o.view().due <= hi),
        )
    } else {
        (0, occurrences.len())
    };
    occurrences[a..b].iter().filter(move |o| {
        let v = o.view();
        let d = local_day(&v);
        v.due >= lo && v.due <= hi && d >= first && d <= last
    })
}

/// The month page: the shell, the month's navigation and its weeks.
pub fn month_page<T: AsView>(p: &MonthPage<'_>, occurrences: &[T]) -> Markup {
    let lang = p.lang;
    let title = p.month.title(lang);
    let path = match p.links {
        Links::Served { .. } => format!("/calendar/{}", p.month),
        Links::Static => format!("{}.html", p.month),
    };
    let page = Page {
        lang,
        title: &title,
        section: Section::Calendar,
        root: p.links.root(PageKind::Month),
        board: matches!(p.links, Links::Served { .. }),
        alternates: p.links.alternates(PageKind::Month, &path),
    };
    let groups = group(within(occurrences, p.month));
    layout::page(&page, month_body(p, &title, &groups))
}

fn month_body(p: &MonthPage<'_>, title: &str, groups: &[Group<'_>]) -> Markup {
    let lang = p.lang;
    let weeks = p.month.weeks();
    let first = weeks[0][0];
    let last = weeks[weeks.len() - 1][6];
    let intl = international_days(p.calendar, lang, first, last);
    let mut by_day: BTreeMap<Date, Vec<&Group<'_>>> = BTreeMap::new();
    // Each capsule's first and last day within the weeks shown.
    let mut capsules: BTreeMap<(&str, &str), (Date, Date)> = BTreeMap::new();
    for g in groups {
        by_day.entry(g.day).or_default().push(g);
        if let Some(capsule) = g.first().capsule {
            let e = capsules
                .entry((g.first().campaign, capsule))
                .or_insert((g.day, g.day));
            e.0 = e.0.min(g.day);
            e.1 = e.1.max(g.day);
        }
    }
    let has = |m: Month| p.months.is_none_or(|ms| ms.contains(&m));
    let (prev, next) = (p.month.prev(), p.month.next());
    let no_groups: Vec<&Group<'_>> = Vec::new();
    html! {
        section.month data-month=(p.month) {
            nav.month-nav aria-label=(lang.pick("Mois", "Months")) {
                @if has(prev) {
                    a.prev rel="prev" href=(p.links.month(lang, PageKind::Month, prev)) { "← " (prev.title(lang)) }
                } @else {
                    span.prev.none {}
                }
                h1 { (title) }
                @if has(next) {
                    a.next rel="next" href=(p.links.month(lang, PageKind::Month, next)) { (next.title(lang)) " →" }
                } @else {
                    span.next.none {}
                }
            }
            div.weekdays aria-hidden="true" {
                @for d in weeks[0] {
                    div { (weekday_name(lang, d.weekday())) }
                }
            }
            @for week in &weeks {
                @let bands: Vec<Band<'_>> = capsules
                    .iter()
                    .filter(|(_, (a, b))| *a <= week[6] && *b >= week[0])
                    .map(|((c, k), (a, b))| (*c, *k, *a, *b))
                    .collect();
                div.week data-week=(week[0]) {
                    @if !bands.is_empty() {
                        div.bands {
                            @for (campaign, capsule, a, b) in &bands {
                                @let from = (*a).max(week[0]);
                                @let until = (*b).min(week[6]);
                                @let col = from.weekday().to_monday_one_offset();
                                @let span = (until - from).get_days() + 1;
                                div class={ "capsule from-" (col) " span-" (span) }
                                    data-campaign=(campaign) data-capsule=(capsule)
                                    data-from=(a) data-until=(b)
                                    title={ (campaign) " · " (capsule) " · " (a) " → " (b) } {
                                    (capsule)
                                }
                            }
                        }
                    }
                    div.days {
                        @for d in week {
                            @let posts = by_day.get(d).unwrap_or(&no_groups);
                            @let days = intl.get(d);
                            div class={ "day"
                                    @if Month::of(*d) != p.month { " other-month" }
                                    @if *d == p.today { " today" }
                                    @if days.is_some() { " international" } }
                                data-day=(d)
                                aria-current=[(*d == p.today).then_some("date")] {
                                div.day-head {
                                    span.num title=(long_date(lang, *d)) { (d.day()) }
                                    @if *d == p.today {
                                        span.today-mark { (lang.pick("aujourd'hui", "today")) }
                                    }
                                }
                                @if let Some(days) = days {
                                    ul.intl {
                                        @for (slug, name) in days {
                                            li.intl-day data-slug=(slug) { (name) }
                                        }
                                    }
                                }
                                @if !posts.is_empty() {
                                    ul.posts {
                                        @for g in posts {
                                            (post_card(p, g))
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// One post in a day: its time, id, where it comes from, its accounts and
/// languages, and the queue's states.
fn post_card(p: &MonthPage<'_>, g: &Group<'_>) -> Markup {
    let lang = p.lang;
    let f = g.first();
    let accounts = g.accounts();
    let languages = g.languages();
    let mut states: BTreeMap<EntryState, usize> = BTreeMap::new();
    for m in &g.members {
        if let Some(s) = p.states.get(m.id) {
            *states.entry(s.state).or_default() += 1;
        }
    }
    html! {
        li.post data-post=(g.id()) data-campaign=(f.campaign) data-capsule=[f.capsule]
            data-accounts=(accounts.len()) data-languages=(languages.join(" ")) {
            a href=(p.links.post(lang, PageKind::Month, g.id())) {
                time datetime=(g.due) { (g.time()) }
                " "
                span.post-id { (f.post) }
            }
            span.accounts title=(accounts.join(", ")) {
                (accounts.len()) " "
                (if accounts.len() == 1 { lang.pick("compte", "account") } else { lang.pick("comptes", "accounts") })
            }
            span.langs {
                @for l in &languages {
                    span.lang lang=(l) { (l) }
                }
            }
            @if !states.is_empty() {
                span.states {
                    @for (s, n) in &states {
                        span class={ "state state-" (s.as_str()) } data-state=(s.as_str()) {
                            (state_name(lang, *s)) @if *n > 1 { " ×" (n) }
                        }
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Served by the daemon: `/calendar`, `/calendar/{YYYY-MM}`, `/post/{id}`,
// `/media/{id}/{n}`, each planning the campaign files as `berrah plan` does
// and reading the queue's states from the store.
// ---------------------------------------------------------------------------

use axum::Router;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::ConsoleState;
use super::cache::Key;
use super::export::{self, Planned};
use super::post::{self, PostPage};
use crate::config::Config;

/// The calendar's routes (merged into the console's server).
pub fn routes() -> Router<ConsoleState> {
    Router::new()
        .route("/calendar", get(current_month))
        .route("/calendar/{month}", get(month_route))
        .route("/post/{id}", get(post_route))
        .route("/media/{id}/{n}", get(media_route))
}

#[derive(Debug, serde::Deserialize)]
pub struct LangQuery {
    lang: Option<String>,
}

/// The interface language: `?lang=`, else the browser's `Accept-Language`;
/// and whether links must carry it.
fn interface_lang(q: &LangQuery, headers: &HeaderMap) -> (Lang, bool) {
    if let Some(l) = q.lang.as_deref().and_then(Lang::parse) {
        return (l, true);
    }
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    (Lang::from_accept_language(accept), false)
}

fn problem(status: StatusCode, lang: Lang, fr: &str, en: &str) -> Response {
    let page = Page {
        lang,
        title: lang.pick("Erreur", "Error"),
        section: Section::Calendar,
        root: "/",
        board: true,
        alternates: Vec::new(),
    };
    let body = html! { section.problem { h1 { (lang.pick(fr, en)) } } };
    (status, layout::page(&page, body)).into_response()
}

/// The configuration, the calendar and the plan (within the bounds), as
/// `berrah plan` makes them, off the async runtime; the plan is taken from
/// [`super::cache`] while nothing it depends on changed.
async fn plan_now(
    state: &ConsoleState,
    lang: Lang,
    from: Option<Timestamp>,
    until: Option<Timestamp>,
) -> Result<(Config, Calendar, Arc<Planned>, Timestamp), Response> {
    let now = state.clock.now();
    let config = match &state.config_path {
        Some(p) => match crate::config::read_config(p, true) {
            Ok(c) => c.unwrap_or_default(),
            Err(_) => {
                return Err(problem(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    lang,
                    "La configuration a des erreurs : `berrah check` les montre.",
                    "The configuration has errors: `berrah check` shows them.",
                ));
            }
        },
        None => Config::default(),
    };
    let tzdb = crate::calendar::tzdb::in_use();
    // The data in use is swapped whole when it changes: its address tells.
    let tzdb_id = Arc::as_ptr(&tzdb) as usize;
    let calendar = Calendar::shipped().with_tzdb(tzdb);
    let dir = state.campaigns_dir.clone();
    let config_path = state.config_path.clone();
    let plans = state.plans.clone();
    let joined = tokio::task::spawn_blocking(move || {
        let key = Key::of(&dir, config_path.as_deref(), tzdb_id, now, from, until);
        if let Some(planned) = key.as_ref().and_then(|k| plans.get(k)) {
            return (config, calendar, planned);
        }
        let ctx = crate::campaign::Context {
            config: &config,
            calendar: &calendar,
            now,
        };
        let planned = Arc::new(export::plan(&dir, &ctx, from, until));
        if let Some(key) = key {
            plans.put(key, planned.clone());
        }
        (config, calendar, planned)
    })
    .await;
    match joined {
        Ok((config, calendar, planned)) => Ok((config, calendar, planned, now)),
        Err(_) => Err(problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            lang,
            "Le plan n'a pas pu être calculé.",
            "The plan could not be made.",
        )),
    }
}

/// The queue's states of the entries due between the bounds.
async fn states_between(state: &ConsoleState, from: Timestamp, until: Timestamp) -> States {
    let filter = crate::store::ListFilter {
        from: Some(from),
        until: Some(until),
        ..Default::default()
    };
    match state.store.list(filter).await {
        Ok(entries) => entries
            .iter()
            .map(|e| (e.id.clone(), QueueState::of(e)))
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, "the console could not read the queue's states");
            States::new()
        }
    }
}

fn utc_day(t: Timestamp) -> Date {
    t.to_zoned(jiff::tz::TimeZone::UTC).date()
}

async fn current_month(
    State(state): State<ConsoleState>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    let month = Month::of(utc_day(state.clock.now()));
    month_response(state, q, headers, month).await
}

async fn month_route(
    State(state): State<ConsoleState>,
    UrlPath(month): UrlPath<String>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    let Some(month) = Month::parse(&month) else {
        let (lang, _) = interface_lang(&q, &headers);
        return problem(
            StatusCode::NOT_FOUND,
            lang,
            "Mois inconnu : écrivez /calendar/2026-12.",
            "Unknown month: write /calendar/2026-12.",
        );
    };
    month_response(state, q, headers, month).await
}

async fn month_response(
    state: ConsoleState,
    q: LangQuery,
    headers: HeaderMap,
    month: Month,
) -> Response {
    let (lang, lang_in_query) = interface_lang(&q, &headers);
    let weeks = month.weeks();
    let day_start = |d: Date| {
        d.to_zoned(jiff::tz::TimeZone::UTC)
            .map(|z| z.timestamp())
            .unwrap_or(Timestamp::MIN)
    };
    let margin = jiff::SignedDuration::from_hours(26);
    let from = day_start(weeks[0][0])
        .saturating_sub(margin)
        .unwrap_or(Timestamp::MIN);
    let last = weeks[weeks.len() - 1][6];
    let until = day_start(last.tomorrow().unwrap_or(last))
        .saturating_add(margin)
        .unwrap_or(Timestamp::MAX);
    let (_config, calendar, planned, now) =
        match plan_now(&state, lang, Some(from), Some(until)).await {
            Ok(p) => p,
            Err(r) => return r,
        };
    let states = states_between(&state, from, until).await;
    let page = MonthPage {
        lang,
        month,
        today: utc_day(now),
        links: Links::Served { lang_in_query },
        calendar: &calendar,
        states: &states,
        months: None,
    };
    month_page(&page, &planned.occurrences).into_response()
}

/// The group of the occurrence `id` in the plan: the same post at the same
/// due time on every account and language.
fn group_of<'a>(planned: &'a Planned, id: &str) -> Option<Group<'a>> {
    let o = planned
        .occurrences
        .iter()
        .find(|o| o.view().id == id)?
        .view();
    group(planned.occurrences.iter().filter(|x| {
        let v = x.view();
        v.due == o.due && v.post == o.post && v.capsule == o.capsule && v.campaign == o.campaign
    }))
    .into_iter()
    .next()
}

async fn post_route(
    State(state): State<ConsoleState>,
    UrlPath(id): UrlPath<String>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    let (lang, lang_in_query) = interface_lang(&q, &headers);
    let (config, _calendar, planned, _now) = match plan_now(&state, lang, None, None).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let Some(g) = group_of(&planned, &id) else {
        return problem(
            StatusCode::NOT_FOUND,
            lang,
            "Cette publication n'est pas (ou plus) dans le plan.",
            "This post is not (or no longer) in the plan.",
        );
    };
    let mut states = States::new();
    for m in &g.members {
        if let Ok(e) = state.store.get(m.id).await
            && e.id == m.id
        {
            states.insert(e.id.clone(), QueueState::of(&e));
        }
    }
    let media = |v: &View<'_>, m: &crate::plan::MediaRef, _thumbnail: bool| -> Option<String> {
        let n = v.content.media.iter().position(|x| std::ptr::eq(x, m))?;
        Some(format!("media/{}/{n}", v.id))
    };
    let p = PostPage {
        lang,
        links: Links::Served { lang_in_query },
        config: &config,
        states: &states,
        media: &media,
    };
    post::post_page(&p, &g).into_response()
}

/// A post's image, or a video's thumbnail, opened beneath its campaign's
/// folder as publishing opens it.
async fn media_route(
    State(state): State<ConsoleState>,
    UrlPath((id, n)): UrlPath<(String, usize)>,
    headers: HeaderMap,
) -> Response {
    let (lang, _) = interface_lang(&LangQuery { lang: None }, &headers);
    let (_config, _calendar, planned, _now) = match plan_now(&state, lang, None, None).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let found = planned
        .occurrences
        .iter()
        .find(|o| o.view().id == id)
        .and_then(|o| o.view().content.media.get(n).cloned());
    let Some(m) = found else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let (folder, rel) = if post::is_image(&m.file) {
        m.beneath()
    } else {
        match m.thumbnail_beneath() {
            Some(t) => t,
            None => return StatusCode::NOT_FOUND.into_response(),
        }
    };
    let read = tokio::task::spawn_blocking(move || -> Option<(&'static str, Vec<u8>)> {
        let opened = crate::media::open::open_beneath(&folder, &rel).ok()?;
        if opened.size > 50 * 1024 * 1024 {
            return None;
        }
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut opened.reader(), &mut bytes).ok()?;
        let extension = rel
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        let kind = match extension.as_deref() {
            Some("png") => "image/png",
            Some("gif") => "image/gif",
            Some("webp") => "image/webp",
            Some("avif") => "image/avif",
            _ => "image/jpeg",
        };
        Some((kind, bytes))
    })
    .await
    .ok()
    .flatten();
    match read {
        Some((kind, body)) => ([(header::CONTENT_TYPE, kind)], body).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PlatformKind;
    use crate::plan::{Content, Occurrence};
    use std::path::PathBuf;

    pub(crate) fn occ(post: &str, account: &str, lang: &str, local: &str) -> Occurrence {
        let due: jiff::Zoned = local
            .parse::<jiff::Timestamp>()
            .unwrap()
            .to_zoned(jiff::tz::TimeZone::UTC);
        let key = format!("c/cap/{post}/{account}/{lang}/once");
        Occurrence {
            id: crate::plan::occurrence_id(&key),
            key,
            campaign: "c".into(),
            capsule: Some("cap".into()),
            post: post.into(),
            account: account.into(),
            platform: PlatformKind::X,
            language: lang.into(),
            due: due.timestamp(),
            local: local.into(),
            timezone: "Africa/Casablanca".into(),
            tzdb: "2026f".into(),
            not_after: due.timestamp(),
            series: None,
            paused: false,
            source: PathBuf::from("c.toml"),
            content: Content {
                text: format!("{post} {lang}"),
                ..Content::default()
            },
        }
    }

    #[test]
    fn a_post_is_one_group_per_due_time_with_its_accounts_and_languages() {
        let occs = vec![
            occ("launch", "b-x", "ar", "2026-12-18T10:00:00+00:00"),
            occ("launch", "a-fb", "fr", "2026-12-18T10:00:00+00:00"),
            occ("launch", "a-fb", "ar", "2026-12-18T10:00:00+00:00"),
            occ("launch", "b-x", "fr", "2026-12-18T10:00:00+00:00"),
            occ("teaser", "a-fb", "fr", "2026-12-15T10:00:00+00:00"),
            occ("launch", "a-fb", "fr", "2026-12-19T10:00:00+00:00"),
        ];
        let groups = group(&occs);
        assert_eq!(groups.len(), 3);
        assert_eq!(groups[0].first().post, "teaser");
        assert_eq!(groups[1].members.len(), 4);
        assert_eq!(groups[1].accounts(), vec!["a-fb", "b-x"]);
        assert_eq!(groups[1].languages(), vec!["ar", "fr"]);
        assert_eq!(groups[1].day, Date::constant(2026, 12, 18));
        assert_eq!(groups[1].time(), "10:00");
        assert_eq!(groups[1].id(), occs[2].id);
        assert_eq!(groups[2].members.len(), 1);
    }

    #[test]
    fn weeks_start_on_monday_and_cover_the_month() {
        let m = Month::parse("2026-12").unwrap();
        let weeks = m.weeks();
        assert_eq!(weeks.len(), 5);
        assert_eq!(weeks[0][0], Date::constant(2026, 11, 30));
        assert_eq!(weeks[0][0].weekday(), Weekday::Monday);
        assert_eq!(weeks[4][6], Date::constant(2027, 1, 3));
        // February 2027 starts on a Monday and ends on a Sunday: four weeks.
        let feb = Month::parse("2027-02").unwrap();
        assert_eq!(feb.weeks().len(), 4);
        assert_eq!(feb.weeks()[0][0], Date::constant(2027, 2, 1));
        // A month of six weeks.
        assert_eq!(Month::parse("2026-08").unwrap().weeks().len(), 6);
        assert_eq!(m.next(), Month::parse("2027-01").unwrap());
        assert_eq!(Month::parse("2027-01").unwrap().prev(), m);
        assert_eq!(Month::parse("2026-13"), None);
        assert_eq!(m.to_string(), "2026-12");
    }

    #[test]
    fn the_month_page_marks_today_days_capsules_and_groups() {
        let occs = vec![
            occ("teaser", "a-fb", "fr", "2026-12-15T10:00:00+00:00"),
            occ("launch", "a-fb", "fr", "2026-12-18T10:00:00+00:00"),
            occ("launch", "a-fb", "ar", "2026-12-18T10:00:00+00:00"),
            occ("launch", "b-x", "ar", "2026-12-18T10:00:00+00:00"),
            occ("later", "a-fb", "fr", "2027-01-18T10:00:00+00:00"),
        ];
        let calendar = Calendar::shipped();
        let states = States::new();
        let page = MonthPage {
            lang: Lang::Fr,
            month: Month::parse("2026-12").unwrap(),
            today: Date::constant(2026, 12, 7),
            links: Links::Static,
            calendar: &calendar,
            states: &states,
            months: None,
        };
        let html = month_page(&page, &occs).into_string();
        assert!(html.contains("<h1>décembre 2026</h1>"));
        assert!(html.contains(r#"data-day="2026-12-07" aria-current="date""#));
        assert!(html.contains("Journée internationale des migrants"));
        assert_eq!(html.matches("class=\"post\"").count(), 2, "{html}");
        assert!(html.contains(r#"data-accounts="2" data-languages="ar fr""#));
        assert!(html.contains(
            r#"class="capsule from-2 span-4" data-campaign="c" data-capsule="cap" data-from="2026-12-15" data-until="2026-12-18""#
        ));
        assert!(!html.contains("later"));
        assert!(html.contains(r#"href="2027-01.html""#));
        let en = month_page(
            &MonthPage {
                lang: Lang::En,
                ..page
            },
            &occs,
        )
        .into_string();
        assert!(en.contains("International Migrants Day"));
        assert!(en.contains("<h1>December 2026</h1>"));
    }
}
