//! What `berrah plan` prints: a table for people, JSON for tools, iCalendar
//! for calendar apps. [`table`], [`json`] and [`ics`] return the whole
//! text; `write_*` stream the same bytes to a writer (what the CLI uses, so
//! that a plan of 100,000 occurrences is never held as one string).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::{self, Write};
use std::ops::ControlFlow;
use std::path::Path;

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use sha2::{Digest as _, Sha256};

use super::{Content, Occurrence};
use crate::config::PlatformKind;
use crate::store::EntryState;

/// First line of a text, at most `max` characters (an ellipsis when cut).
pub fn first_line(text: &str, max: usize) -> String {
    let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let line = line.trim();
    if line.chars().count() <= max {
        line.to_string()
    } else {
        let cut: String = line.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

/// Everything the outputs show of one occurrence, borrowed: built from an
/// [`Occurrence`] or from the plan's compact form ([`super::Compact`]), so
/// that the writers below serve both.
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    pub id: &'a str,
    pub key: &'a str,
    pub campaign: &'a str,
    pub capsule: Option<&'a str>,
    pub post: &'a str,
    pub account: &'a str,
    pub platform: PlatformKind,
    pub language: &'a str,
    pub due: Timestamp,
    pub local: &'a str,
    pub timezone: &'a str,
    /// The time-zone database release the due time was computed with.
    pub tzdb: &'a str,
    pub not_after: Timestamp,
    pub series: Option<&'a str>,
    pub paused: bool,
    pub source: &'a Path,
    pub content: &'a Content,
}

/// Something the plan's writers can show.
pub trait AsView {
    /// The borrowed view of it.
    fn view(&self) -> View<'_>;
}

impl AsView for Occurrence {
    fn view(&self) -> View<'_> {
        View {
            id: &self.id,
            key: &self.key,
            campaign: &self.campaign,
            capsule: self.capsule.as_deref(),
            post: &self.post,
            account: &self.account,
            platform: self.platform,
            language: &self.language,
            due: self.due,
            local: &self.local,
            timezone: &self.timezone,
            tzdb: &self.tzdb,
            not_after: self.not_after,
            series: self.series.as_deref(),
            paused: self.paused,
            source: &self.source,
            content: &self.content,
        }
    }
}

impl<T: AsView + ?Sized> AsView for &T {
    fn view(&self) -> View<'_> {
        (**self).view()
    }
}

fn into_string(bytes: Vec<u8>) -> String {
    // The writers only write `str`s: always UTF-8.
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// The table of `berrah plan`: local time with offset, UTC, campaign/capsule,
/// post id, account, platform, language, media (file names, shortened) and
/// the text's first line (last, so that right-to-left text never shifts
/// the columns).
pub fn table(occurrences: &[Occurrence]) -> String {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = write_table(&mut out, occurrences);
    into_string(out)
}

const COLUMNS: usize = 9;

const TABLE_HEADER: [&str; COLUMNS] = [
    "LOCAL",
    "UTC",
    "CAMPAIGN/CAPSULE",
    "POST",
    "ACCOUNT",
    "PLATFORM",
    "LANG",
    "MEDIA",
    "TEXT",
];

fn table_row(o: &View<'_>) -> [String; COLUMNS] {
    let mut text = first_line(&o.content.text, 60);
    if o.paused {
        text = format!("[paused] {text}");
    }
    [
        o.local.to_string(),
        o.due.to_string(),
        format!("{}/{}", o.campaign, o.capsule.unwrap_or("-")),
        o.post.to_string(),
        o.account.to_string(),
        o.platform.to_string(),
        o.language.to_string(),
        media_cell(&o.content.media),
        text,
    ]
}

/// The media of a row: file names without their folders, each shortened,
/// at most two named and how many more.
fn media_cell(media: &[crate::plan::MediaRef]) -> String {
    const NAME_MAX: usize = 24;
    if media.is_empty() {
        return "-".into();
    }
    let short = |file: &str| -> String {
        let name = file.rsplit(['/', '\\']).next().unwrap_or(file);
        if name.chars().count() <= NAME_MAX {
            return name.to_string();
        }
        // Keep the end, where the extension and the number are.
        let tail: String = {
            let chars: Vec<char> = name.chars().collect();
            chars[chars.len() - (NAME_MAX - 1)..].iter().collect()
        };
        format!("…{tail}")
    };
    let mut cell = media
        .iter()
        .take(2)
        .map(|m| short(&m.file))
        .collect::<Vec<_>>()
        .join(",");
    if media.len() > 2 {
        cell.push_str(&format!(" +{}", media.len() - 2));
    }
    cell
}

/// [`table`], written to `w` row by row (two passes: the column widths
/// first), without holding the whole text; both passes on every core.
pub fn write_table<W: Write, T: AsView + Sync>(w: &mut W, occurrences: &[T]) -> io::Result<()> {
    let mut widths = TABLE_HEADER.map(|h| h.chars().count());
    let chunks = chunks(occurrences);
    crate::plan::map_in_order(
        &chunks,
        |(_, chunk)| {
            let mut widths = [0; COLUMNS];
            for o in *chunk {
                for (w, cell) in widths.iter_mut().zip(table_row(&o.view()).iter()) {
                    *w = (*w).max(cell.chars().count());
                }
            }
            widths
        },
        |_, chunk_widths| {
            for (w, c) in widths.iter_mut().zip(chunk_widths) {
                *w = (*w).max(c);
            }
            ControlFlow::Continue(())
        },
    );
    let mut header = String::new();
    table_line(&mut header, &widths, &TABLE_HEADER);
    w.write_all(header.as_bytes())?;
    write_chunks(w, &chunks, |_, chunk, out| {
        for o in chunk {
            let r = table_row(&o.view());
            table_line(out, &widths, &r.each_ref().map(String::as_str));
        }
    })
}

/// One line of the table: each cell but the last padded to its column's
/// width and two spaces.
fn table_line(out: &mut String, widths: &[usize; COLUMNS], cells: &[&str; COLUMNS]) {
    let last = cells.len() - 1;
    for (i, cell) in cells.iter().enumerate() {
        out.push_str(cell);
        if i < last {
            let pad = widths[i] - cell.chars().count() + 2;
            out.extend(std::iter::repeat_n(' ', pad));
        }
    }
    out.push('\n');
}

/// How many occurrences a worker formats at once.
const CHUNK: usize = 1024;

/// The occurrences in chunks, each with the index of its first occurrence.
fn chunks<T>(occurrences: &[T]) -> Vec<(usize, &[T])> {
    occurrences
        .chunks(CHUNK)
        .enumerate()
        .map(|(i, c)| (i * CHUNK, c))
        .collect()
}

/// Formats the chunks on every core (`format(first index, chunk, text)`)
/// and writes their text to `w` in order: the same bytes as formatting them
/// one after the other, with only a few chunks' text in memory.
fn write_chunks<W: Write, T: Sync>(
    w: &mut W,
    chunks: &[(usize, &[T])],
    format: impl Fn(usize, &[T], &mut String) + Sync,
) -> io::Result<()> {
    let mut written = Ok(());
    crate::plan::map_in_order(
        chunks,
        |(start, chunk)| {
            let mut text = String::new();
            format(*start, chunk, &mut text);
            text
        },
        |_, text| match w.write_all(text.as_bytes()) {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => {
                written = Err(e);
                ControlFlow::Break(())
            }
        },
    );
    written
}

/// One object of `berrah plan --format json`.
#[derive(Debug, Serialize)]
pub struct JsonOccurrence<'a> {
    pub id: &'a str,
    pub key: &'a str,
    pub campaign: &'a str,
    pub capsule: Option<&'a str>,
    pub post: &'a str,
    pub account: &'a str,
    pub platform: &'a str,
    /// RFC 3339 UTC, with `Z`.
    pub due: String,
    /// RFC 3339 local time with its offset.
    pub local: &'a str,
    pub timezone: &'a str,
    /// The time-zone database release `due` was computed with (`2026f`).
    pub tzdb: &'a str,
    pub language: &'a str,
    /// The final text, as published.
    pub text: &'a str,
    pub title: Option<&'a str>,
    pub description: Option<&'a str>,
    /// Media paths, as read from disk.
    pub media: Vec<Cow<'a, str>>,
    pub thread: &'a [String],
    pub first_comment: Option<&'a str>,
    /// RFC 3339 UTC.
    pub not_after: String,
    pub series: Option<&'a str>,
    pub paused: bool,
    pub source: Cow<'a, str>,
}

impl<'a> From<View<'a>> for JsonOccurrence<'a> {
    fn from(o: View<'a>) -> Self {
        JsonOccurrence {
            id: o.id,
            key: o.key,
            campaign: o.campaign,
            capsule: o.capsule,
            post: o.post,
            account: o.account,
            platform: o.platform.as_str(),
            due: o.due.to_string(),
            local: o.local,
            timezone: o.timezone,
            tzdb: o.tzdb,
            language: o.language,
            text: &o.content.text,
            title: o.content.title.as_deref(),
            description: o.content.description.as_deref(),
            media: o
                .content
                .media
                .iter()
                .map(|m| m.path.to_string_lossy())
                .collect(),
            thread: &o.content.thread,
            first_comment: o.content.first_comment.as_deref(),
            not_after: o.not_after.to_string(),
            series: o.series,
            paused: o.paused,
            source: o.source.to_string_lossy(),
        }
    }
}

impl<'a> From<&'a Occurrence> for JsonOccurrence<'a> {
    fn from(o: &'a Occurrence) -> Self {
        JsonOccurrence::from(o.view())
    }
}

/// `berrah plan --format json`: one array, pretty-printed.
pub fn json(occurrences: &[Occurrence]) -> String {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    if write_json(&mut out, occurrences).is_err() {
        return "[]\n".to_string();
    }
    into_string(out)
}

/// [`json`], streamed to `w` (the same bytes as serde_json's pretty array:
/// each object is formatted on its own, on every core, and indented one level).
pub fn write_json<W: Write, T: AsView + Sync>(w: &mut W, occurrences: &[T]) -> io::Result<()> {
    if occurrences.is_empty() {
        return w.write_all(b"[]\n");
    }
    w.write_all(b"[")?;
    write_chunks(w, &chunks(occurrences), |start, chunk, out| {
        let mut one = Vec::with_capacity(2048);
        out.reserve(chunk.len() * 1024);
        for (i, o) in chunk.iter().enumerate() {
            out.push_str(if start + i == 0 { "\n" } else { ",\n" });
            one.clear();
            // As the only member of an array, the object comes out indented
            // as a member of the whole plan's array: `[\n  {\n    ...\n  }\n]`,
            // of which the brackets and their line ends are left out. Into a
            // Vec, of strings, numbers and booleans: cannot fail, and is UTF-8.
            let _ = serde_json::to_writer_pretty(&mut one, &[JsonOccurrence::from(o.view())]);
            let inner = one
                .get(2..one.len().saturating_sub(2))
                .and_then(|b| std::str::from_utf8(b).ok())
                .unwrap_or_default();
            out.push_str(inner);
        }
    })?;
    w.write_all(b"\n]\n")
}

/// How long each event lasts in the calendar (only so that it is visible).
pub const ICS_EVENT_LENGTH: SignedDuration = SignedDuration::from_mins(15);

/// What the queue says of occurrences, by occurrence id, for
/// [`IcsExtra::states`] (the console reads it from the store).
pub type QueueStates = HashMap<String, EntryState>;

/// What the calendar may know beyond the plan ([`write_ics_with`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct IcsExtra<'a> {
    /// Occurrence id → its state in the queue: cancelled and expired
    /// entries are marked, and so are published, failed and held ones.
    pub states: Option<&'a QueueStates>,
    /// Account id → the handle it publishes as (`handle` in berrah.toml),
    /// shown beside the account.
    pub handles: Option<&'a BTreeMap<String, String>>,
}

/// `berrah plan --format ics`: an RFC 5545 calendar, one VEVENT per post and
/// due instant (the accounts and languages it goes out on are listed in its
/// description), CRLF line ends, lines folded at 75 octets on UTF-8
/// character boundaries. `stamp` is the DTSTAMP (the plan's "now"); an
/// occurrence past its `not_after` at `stamp` is dropped. See
/// [`write_ics_with`].
pub fn ics(occurrences: &[Occurrence], stamp: Timestamp) -> String {
    ics_with(occurrences, stamp, &IcsExtra::default())
}

/// [`ics`], with what the queue and the configuration add ([`write_ics_with`]).
pub fn ics_with(occurrences: &[Occurrence], stamp: Timestamp, extra: &IcsExtra<'_>) -> String {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = write_ics_with(&mut out, occurrences, stamp, extra);
    into_string(out)
}

/// [`ics`], streamed to `w` (the same bytes; events formatted on every core).
pub fn write_ics<W: Write, T: AsView + Sync>(
    w: &mut W,
    occurrences: &[T],
    stamp: Timestamp,
) -> io::Result<()> {
    write_ics_with(w, occurrences, stamp, &IcsExtra::default())
}

/// The calendar of [`ics`], streamed to `w`. The occurrences of one post
/// (campaign, capsule, post) due at one instant make one event, whatever
/// their order in `occurrences`:
///
/// - `UID`: [`event_uid`], from the campaign, capsule, post and instant
///   only: the same event in every export, as long as the post keeps its
///   time.
/// - `DTSTART` the due instant in UTC, `DTEND` 15 minutes later; the local
///   time and zone are in the description.
/// - `SUMMARY`: the post and the first line of its text.
/// - `DESCRIPTION`: the local and UTC times, campaign / capsule / post, each
///   account (platform, and handle when [`IcsExtra::handles`] has it) with
///   its languages, then the first line of each language's text. An
///   occurrence that will not go out as planned is marked after its
///   language: `(dropped)`, `(cancelled)`, `(paused)`, `(held)`,
///   `(published)`, `(failed)`.
/// - `STATUS`: `CANCELLED` when every occurrence of the event is dropped or
///   cancelled, `TENTATIVE` when those left are all paused or held,
///   `CONFIRMED` otherwise.
/// - `X-BERRAH-OCCURRENCES`: the occurrence ids, in the description's order.
///
/// An occurrence is dropped when its `not_after` is before `stamp` (it is
/// late beyond its limit), or when [`IcsExtra::states`] says it expired;
/// cancelled when the states say so (`None` for the plan alone, as
/// `berrah plan` has it).
pub fn write_ics_with<W: Write, T: AsView + Sync>(
    w: &mut W,
    occurrences: &[T],
    stamp: Timestamp,
    extra: &IcsExtra<'_>,
) -> io::Result<()> {
    let mut out = String::new();
    for line in [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//berrah//plan//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "X-WR-CALNAME:berrah",
    ] {
        fold_line(&mut out, line);
    }
    w.write_all(out.as_bytes())?;
    let order = event_order(occurrences);
    let events: Vec<&[usize]> = order
        .chunk_by(|&a, &b| same_event(&occurrences[a].view(), &occurrences[b].view()))
        .collect();
    let ics_stamp = ics_time(stamp);
    write_chunks(w, &chunks(&events), |_, chunk, out| {
        let mut members = Vec::new();
        for event in chunk {
            members.clear();
            members.extend(event.iter().map(|&i| {
                let o = occurrences[i].view();
                let fate = Fate::of(&o, stamp, extra.states);
                (o, fate)
            }));
            ics_event(out, &members, &ics_stamp, extra.handles);
        }
    })?;
    out.clear();
    fold_line(&mut out, "END:VCALENDAR");
    w.write_all(out.as_bytes())
}

/// The UID of the event of one post at one instant: `p-` and the first 16
/// hex digits of the SHA-256 of `campaign/capsule-or-_/post/instant`
/// (the instant in RFC 3339 UTC), then `@berrah`.
pub fn event_uid(campaign: &str, capsule: Option<&str>, post: &str, due: Timestamp) -> String {
    let key = format!("{campaign}/{}/{post}/{due}", capsule.unwrap_or("_"));
    let mut uid = super::short_id("p-", Sha256::new_with_prefix(key));
    uid.push_str("@berrah");
    uid
}

/// The indices of `occurrences` ordered by event (instant, campaign,
/// capsule, post), and within one by account and language: the output never
/// depends on the order it was given.
fn event_order<T: AsView>(occurrences: &[T]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..occurrences.len()).collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (occurrences[a].view(), occurrences[b].view());
        a.due
            .cmp(&b.due)
            .then_with(|| a.campaign.cmp(b.campaign))
            .then_with(|| a.capsule.cmp(&b.capsule))
            .then_with(|| a.post.cmp(b.post))
            .then_with(|| a.account.cmp(b.account))
            .then_with(|| a.language.cmp(b.language))
            .then_with(|| a.key.cmp(b.key))
    });
    order
}

/// Whether two occurrences are the same post at the same instant.
fn same_event(a: &View<'_>, b: &View<'_>) -> bool {
    a.due == b.due && a.post == b.post && a.capsule == b.capsule && a.campaign == b.campaign
}

/// What becomes of one occurrence, as the calendar shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Planned,
    Paused,
    Held,
    Published,
    Failed,
    Dropped,
    Cancelled,
}

impl Fate {
    fn of(o: &View<'_>, stamp: Timestamp, states: Option<&QueueStates>) -> Fate {
        let late = o.not_after < stamp;
        match states.and_then(|s| s.get(o.id)) {
            Some(EntryState::Cancelled) => Fate::Cancelled,
            Some(EntryState::Expired) => Fate::Dropped,
            Some(EntryState::Published) => Fate::Published,
            Some(EntryState::Failed) => Fate::Failed,
            // In a worker's hands: it may still go out.
            Some(EntryState::Claimed | EntryState::Publishing) => Fate::Planned,
            Some(EntryState::Held) if !late => Fate::Held,
            _ if late => Fate::Dropped,
            _ if o.paused => Fate::Paused,
            _ => Fate::Planned,
        }
    }

    /// Dropped or cancelled: it will never be published.
    fn is_gone(self) -> bool {
        matches!(self, Fate::Dropped | Fate::Cancelled)
    }

    /// The mark after its language in the description.
    fn mark(self) -> Option<&'static str> {
        match self {
            Fate::Planned => None,
            Fate::Paused => Some("paused"),
            Fate::Held => Some("held"),
            Fate::Published => Some("published"),
            Fate::Failed => Some("failed"),
            Fate::Dropped => Some("dropped"),
            Fate::Cancelled => Some("cancelled"),
        }
    }
}

/// The STATUS of an event from its occurrences' fates.
fn event_status(fates: impl Iterator<Item = Fate> + Clone) -> &'static str {
    if fates.clone().all(Fate::is_gone) {
        "STATUS:CANCELLED"
    } else if fates
        .filter(|f| !f.is_gone())
        .all(|f| matches!(f, Fate::Paused | Fate::Held))
    {
        "STATUS:TENTATIVE"
    } else {
        "STATUS:CONFIRMED"
    }
}

/// One VEVENT for the occurrences of one post at one instant (sorted by
/// account and language, never empty), each line written straight into
/// `out`, folded.
fn ics_event(
    out: &mut String,
    members: &[(View<'_>, Fate)],
    stamp: &str,
    handles: Option<&BTreeMap<String, String>>,
) {
    let Some((first, _)) = members.first() else {
        return;
    };
    // Writing into a String cannot fail.
    let end = first
        .due
        .saturating_add(ICS_EVENT_LENGTH)
        .unwrap_or(first.due);
    fold_line(out, "BEGIN:VEVENT");
    let _ = write!(
        Folded::line(out),
        "UID:{}",
        event_uid(first.campaign, first.capsule, first.post, first.due)
    );
    let _ = write!(Folded::line(out), "DTSTAMP:{stamp}");
    let _ = write!(Folded::line(out), "DTSTART:{}", ics_time(first.due));
    let _ = write!(Folded::line(out), "DTEND:{}", ics_time(end));
    let _ = write!(Folded::line(out), "X-BERRAH-TZDB:{}", first.tzdb);

    let mut line = Folded::line(out);
    let _ = line.write_str("SUMMARY:");
    let _ = write!(
        Escaped(&mut line),
        "{}: {}",
        first.post,
        first_line(&first.content.text, 80)
    );
    drop(line);

    // The languages in order, each with the first of its texts.
    let mut languages: Vec<(&str, &str)> = Vec::new();
    for (o, _) in members {
        if !languages.iter().any(|(l, _)| *l == o.language) {
            languages.push((o.language, &o.content.text));
        }
    }
    languages.sort_by(|a, b| a.0.cmp(b.0));
    let mut line = Folded::line(out);
    let _ = line.write_str("DESCRIPTION:");
    let mut text = Escaped(&mut line);
    let _ = write!(
        text,
        "{} ({}), {} UTC\n{} / {} / {}\n\nAccounts:",
        first.local,
        first.timezone,
        first.due,
        first.campaign,
        first.capsule.unwrap_or("-"),
        first.post,
    );
    for account in members.chunk_by(|a, b| a.0.account == b.0.account) {
        let (o, _) = &account[0];
        let _ = write!(text, "\n- {} ({}", o.account, o.platform);
        if let Some(handle) = handles.and_then(|h| h.get(o.account)) {
            let _ = write!(text, ", {handle}");
        }
        let _ = text.write_str("): ");
        for (n, (o, fate)) in account.iter().enumerate() {
            let _ = text.write_str(if n == 0 { "" } else { ", " });
            let _ = text.write_str(o.language);
            if let Some(mark) = fate.mark() {
                let _ = write!(text, " ({mark})");
            }
        }
    }
    let _ = text.write_str("\n\nTexts:");
    for (language, body) in &languages {
        let _ = write!(text, "\n{language}: {}", first_line(body, 120));
    }
    drop(line);

    let mut line = Folded::line(out);
    let _ = line.write_str("CATEGORIES:");
    let _ = Escaped(&mut line).write_str(first.campaign);
    let mut platforms: Vec<&str> = members.iter().map(|(o, _)| o.platform.as_str()).collect();
    platforms.sort_unstable();
    platforms.dedup();
    for p in platforms {
        let _ = line.write_str(",");
        let _ = Escaped(&mut line).write_str(p);
    }
    drop(line);

    let mut line = Folded::line(out);
    let _ = line.write_str("X-BERRAH-OCCURRENCES:");
    for (n, (o, _)) in members.iter().enumerate() {
        let _ = line.write_str(if n == 0 { "" } else { "," });
        let _ = Escaped(&mut line).write_str(o.id);
    }
    drop(line);
    fold_line(out, event_status(members.iter().map(|(_, f)| *f)));
    fold_line(out, "END:VEVENT");
}

fn ics_time(t: Timestamp) -> String {
    t.strftime("%Y%m%dT%H%M%SZ").to_string()
}

/// RFC 5545 TEXT escaping: backslash, semicolon, comma, newline.
pub fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    // Writing into a String cannot fail.
    let _ = Escaped(&mut out).write_str(s);
    out
}

/// Writes what it is given [`escape_text`]-escaped.
struct Escaped<'a, W: std::fmt::Write>(&'a mut W);

impl<W: std::fmt::Write> std::fmt::Write for Escaped<'_, W> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let mut rest = s;
        while let Some(i) = rest.find(['\\', ';', ',', '\n', '\r']) {
            self.0.write_str(&rest[..i])?;
            match rest.as_bytes()[i] {
                b'\\' => self.0.write_str("\\\\")?,
                b';' => self.0.write_str("\\;")?,
                b',' => self.0.write_str("\\,")?,
                b'\n' => self.0.write_str("\\n")?,
                _ => {}
            }
            rest = &rest[i + 1..];
        }
        self.0.write_str(rest)
    }
}

/// One content line being written into a String: folded at 75 octets
/// (continuation lines start with one space, which counts), never inside a
/// UTF-8 character; ended with CRLF when dropped.
struct Folded<'a> {
    out: &'a mut String,
    /// Octets on the current physical line.
    used: usize,
}

impl<'a> Folded<'a> {
    const MAX: usize = 75;

    fn line(out: &'a mut String) -> Folded<'a> {
        Folded { out, used: 0 }
    }
}

impl std::fmt::Write for Folded<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        if self.used + s.len() <= Self::MAX {
            self.out.push_str(s);
            self.used += s.len();
            return Ok(());
        }
        for c in s.chars() {
            let n = c.len_utf8();
            if self.used + n > Self::MAX {
                self.out.push_str("\r\n ");
                self.used = 1;
            }
            self.out.push(c);
            self.used += n;
        }
        Ok(())
    }
}

impl Drop for Folded<'_> {
    fn drop(&mut self) {
        self.out.push_str("\r\n");
    }
}

/// Appends `line` folded at 75 octets (continuation lines start with one
/// space, which counts), never inside a UTF-8 character, ending in CRLF.
fn fold_line(out: &mut String, line: &str) {
    // Writing into a String cannot fail.
    let _ = Folded::line(out).write_str(line);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_media_cell_names_files_shortly() {
        let m = |f: &str| crate::plan::MediaRef {
            file: f.into(),
            path: f.into(),
            alt: None,
            thumbnail: None,
        };
        assert_eq!(media_cell(&[]), "-");
        assert_eq!(media_cell(&[m("media/a.jpg")]), "a.jpg");
        assert_eq!(
            media_cell(&[m("media/amal-capsule-1-migrants-version-longue.mp4")]),
            "…ants-version-longue.mp4"
        );
        assert_eq!(
            media_cell(&[m("a.jpg"), m("b.jpg"), m("c.jpg"), m("d.jpg")]),
            "a.jpg,b.jpg +2"
        );
    }

    #[test]
    fn folding_respects_octets_and_characters() {
        let mut out = String::new();
        let line = format!("DESCRIPTION:{}", "م".repeat(100));
        fold_line(&mut out, &line);
        for l in out.split("\r\n").filter(|l| !l.is_empty()) {
            assert!(l.len() <= 75, "{} octets", l.len());
        }
        // Unfolding gives the line back.
        assert_eq!(out.replace("\r\n ", "").trim_end_matches("\r\n"), line);
    }

    proptest::proptest! {
        #[test]
        fn folding_any_text(s in "\\PC{0,300}") {
            let mut out = String::new();
            let line = format!("DESCRIPTION:{}", escape_text(&s));
            fold_line(&mut out, &line);
            for l in out.split("\r\n") {
                proptest::prop_assert!(l.len() <= 75);
            }
            let unfolded = out.replace("\r\n ", "");
            proptest::prop_assert_eq!(unfolded.trim_end_matches("\r\n"), line.as_str());
        }
    }

    #[test]
    fn text_escaping() {
        assert_eq!(escape_text("a;b,c\\d\ne\r\n"), "a\\;b\\,c\\\\d\\ne\\n");
    }

    #[test]
    fn first_lines() {
        assert_eq!(first_line("\n  أمل  \nsuite", 10), "أمل");
        assert_eq!(first_line("abcdefghijkl", 5), "abcd…");
    }
}

#[cfg(test)]
mod ics_tests {
    use super::*;

    fn occ(
        post: &str,
        account: &str,
        platform: PlatformKind,
        language: &str,
        due: &str,
    ) -> Occurrence {
        let due: Timestamp = due.parse().unwrap();
        let key = format!("amal/ep1/{post}/{account}/{language}/once");
        Occurrence {
            id: crate::plan::occurrence_id(&key),
            key,
            campaign: "amal".into(),
            capsule: Some("ep1".into()),
            post: post.into(),
            account: account.into(),
            platform,
            language: language.into(),
            due,
            local: due
                .to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::offset(1)))
                .strftime("%Y-%m-%dT%H:%M:%S%:z")
                .to_string(),
            timezone: "Africa/Casablanca".into(),
            tzdb: "2026f".into(),
            not_after: due.saturating_add(SignedDuration::from_hours(6)).unwrap(),
            series: None,
            paused: false,
            source: "campaigns/amal.toml".into(),
            content: Content {
                text: format!("{language}: {post}, {account}\nsecond line"),
                ..Content::default()
            },
        }
    }

    /// Thirteen occurrences of one post at 10:00 (five accounts, three
    /// languages) and one of another post at the same instant.
    fn plan() -> Vec<Occurrence> {
        let at = "2026-12-18T09:00:00Z";
        let mut v = Vec::new();
        for (account, platform, languages) in [
            (
                "oim-facebook",
                PlatformKind::Facebook,
                &["ar", "fr", "en"][..],
            ),
            ("oim-x", PlatformKind::X, &["ar", "fr", "en"]),
            ("unicef-facebook", PlatformKind::Facebook, &["ar", "fr"]),
            ("unicef-x", PlatformKind::X, &["ar", "fr"]),
            ("onu-linkedin", PlatformKind::Linkedin, &["fr", "en", "ar"]),
        ] {
            for l in languages {
                v.push(occ("teaser", account, platform, l, at));
            }
        }
        v.push(occ("other", "oim-x", PlatformKind::X, "fr", at));
        v
    }

    fn events(ics: &str) -> Vec<String> {
        let unfolded = ics.replace("\r\n ", "");
        unfolded
            .split("BEGIN:VEVENT\r\n")
            .skip(1)
            .map(|e| e.split("END:VEVENT").next().unwrap().to_string())
            .collect()
    }

    fn property<'a>(event: &'a str, name: &str) -> &'a str {
        event
            .split("\r\n")
            .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(':')))
            .unwrap_or_else(|| panic!("no {name} in {event}"))
    }

    fn stamp() -> Timestamp {
        "2026-12-01T00:00:00Z".parse().unwrap()
    }

    #[test]
    fn one_event_per_post_and_instant() {
        let plan = plan();
        let ics = ics(&plan, stamp());
        let all = events(&ics);
        assert_eq!(all.len(), 2, "{ics}");
        // Ordered by post within the instant: `other`, then `teaser`.
        let teaser = &all[1];
        assert_eq!(
            property(teaser, "SUMMARY"),
            "teaser: ar: teaser\\, oim-facebook"
        );
        assert_eq!(property(teaser, "DTSTART"), "20261218T090000Z");
        assert_eq!(property(teaser, "DTEND"), "20261218T091500Z");
        assert_eq!(property(teaser, "STATUS"), "CONFIRMED");
        assert_eq!(property(teaser, "CATEGORIES"), "amal,facebook,linkedin,x");
        let description = property(teaser, "DESCRIPTION");
        assert!(
            description.starts_with(
                "2026-12-18T10:00:00+01:00 (Africa/Casablanca)\\, 2026-12-18T09:00:00Z UTC\\namal / ep1 / teaser\\n\\nAccounts:\\n"
            ),
            "{description}"
        );
        assert!(
            description.contains("\\n- oim-facebook (facebook): ar\\, en\\, fr\\n"),
            "{description}"
        );
        assert!(
            description.contains("\\n- onu-linkedin (linkedin): ar\\, en\\, fr\\n"),
            "{description}"
        );
        assert!(
            description.contains("\\n- unicef-x (x): ar\\, fr\\n"),
            "{description}"
        );
        // Each language's first line, once.
        assert!(
            description.ends_with(
                "\\n\\nTexts:\\nar: ar: teaser\\, oim-facebook\\nen: en: teaser\\, oim-facebook\\nfr: fr: teaser\\, oim-facebook"
            ),
            "{description}"
        );
        assert_eq!(
            property(teaser, "X-BERRAH-OCCURRENCES").split(',').count(),
            13
        );
        // With the handles of berrah.toml beside the accounts.
        let handles = BTreeMap::from([("oim-x".to_string(), "OIM_Maroc".to_string())]);
        let with_handles = ics_with(
            &plan,
            stamp(),
            &IcsExtra {
                handles: Some(&handles),
                ..IcsExtra::default()
            },
        );
        let description = property(&events(&with_handles)[1], "DESCRIPTION").to_string();
        assert!(
            description.contains("\\n- oim-x (x\\, OIM_Maroc): ar\\, en\\, fr\\n"),
            "{description}"
        );
        assert!(
            description.contains("\\n- unicef-x (x): ar\\, fr\\n"),
            "{description}"
        );
        // Lines folded at 75 octets, CRLF only.
        for line in ics.split("\r\n") {
            assert!(line.len() <= 75, "{line}");
        }
        assert!(!ics.replace("\r\n", "").contains('\n'));
    }

    #[test]
    fn the_uid_depends_on_the_post_and_instant_only() {
        let plan = plan();
        let mut reordered = plan.clone();
        reordered.reverse();
        reordered.swap(2, 9);
        assert_eq!(ics(&plan, stamp()), ics(&reordered, stamp()));
        let uid = property(&events(&ics(&plan, stamp()))[1], "UID").to_string();
        assert_eq!(
            uid,
            event_uid(
                "amal",
                Some("ep1"),
                "teaser",
                "2026-12-18T09:00:00Z".parse().unwrap()
            )
        );
        assert!(uid.starts_with("p-") && uid.ends_with("@berrah") && uid.len() == 2 + 16 + 7);
        // Fewer accounts: the same event.
        let fewer: Vec<Occurrence> = plan
            .iter()
            .filter(|o| o.account != "oim-x")
            .cloned()
            .collect();
        // (`other` was on oim-x alone: the teaser is the only event left.)
        assert_eq!(property(&events(&ics(&fewer, stamp()))[0], "UID"), uid);
        // Another instant or post: another event.
        let other = event_uid(
            "amal",
            Some("ep1"),
            "teaser",
            "2026-12-18T09:30:00Z".parse().unwrap(),
        );
        assert_ne!(other, uid);
        assert_ne!(
            event_uid(
                "amal",
                None,
                "teaser",
                "2026-12-18T09:00:00Z".parse().unwrap()
            ),
            uid
        );
    }

    #[test]
    fn dropped_and_cancelled_occurrences() {
        let plan = plan();
        // Planned after its `not_after`: every occurrence is dropped.
        let late: Timestamp = "2026-12-18T16:00:00Z".parse().unwrap();
        let events_late = events(&ics(&plan, late));
        for e in &events_late {
            assert_eq!(property(e, "STATUS"), "CANCELLED", "{e}");
        }
        assert!(
            property(&events_late[1], "DESCRIPTION")
                .contains("- unicef-x (x): ar (dropped)\\, fr (dropped)")
        );

        // The queue's word: some cancelled, some expired, the rest planned.
        let teaser: Vec<&Occurrence> = plan.iter().filter(|o| o.post == "teaser").collect();
        let mut states = QueueStates::new();
        for (n, o) in teaser.iter().enumerate() {
            states.insert(
                o.id.clone(),
                if n % 2 == 0 {
                    EntryState::Cancelled
                } else {
                    EntryState::Expired
                },
            );
        }
        let all_gone = events(&ics_with(
            &plan,
            stamp(),
            &IcsExtra {
                states: Some(&states),
                ..IcsExtra::default()
            },
        ));
        assert_eq!(property(&all_gone[1], "STATUS"), "CANCELLED");
        assert_eq!(property(&all_gone[0], "STATUS"), "CONFIRMED");
        let d = property(&all_gone[1], "DESCRIPTION");
        assert!(d.contains("(cancelled)") && d.contains("(dropped)"), "{d}");

        // One still scheduled: the event stands, the others marked.
        states.insert(teaser[0].id.clone(), EntryState::Scheduled);
        let partly = events(&ics_with(
            &plan,
            stamp(),
            &IcsExtra {
                states: Some(&states),
                ..IcsExtra::default()
            },
        ));
        assert_eq!(property(&partly[1], "STATUS"), "CONFIRMED");

        // Paused (or held) for the rest: tentative.
        let mut paused = plan.clone();
        for o in &mut paused {
            o.paused = true;
        }
        let tentative = events(&ics_with(
            &paused,
            stamp(),
            &IcsExtra {
                states: Some(&states),
                ..IcsExtra::default()
            },
        ));
        assert_eq!(property(&tentative[1], "STATUS"), "TENTATIVE");
        assert!(property(&tentative[1], "DESCRIPTION").contains("(paused)"));
    }
}
