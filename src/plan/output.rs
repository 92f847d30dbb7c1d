//! What `berrah plan` prints: a table for people, JSON for tools, iCalendar
//! for calendar apps. [`table`], [`json`] and [`ics`] return the whole
//! text; `write_*` stream the same bytes to a writer (what the CLI uses, so
//! that a plan of 100,000 occurrences is never held as one string).

use std::fmt::Write as _;
use std::io::{self, Write};
use std::ops::ControlFlow;
use std::path::Path;

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use super::{Content, Occurrence};
use crate::config::PlatformKind;

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
    pub media: Vec<String>,
    pub thread: &'a [String],
    pub first_comment: Option<&'a str>,
    /// RFC 3339 UTC.
    pub not_after: String,
    pub series: Option<&'a str>,
    pub paused: bool,
    pub source: String,
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
                .map(|m| m.path.display().to_string())
                .collect(),
            thread: &o.content.thread,
            first_comment: o.content.first_comment.as_deref(),
            not_after: o.not_after.to_string(),
            series: o.series,
            paused: o.paused,
            source: o.source.display().to_string(),
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
        let mut one = Vec::new();
        for (i, o) in chunk.iter().enumerate() {
            out.push_str(if start + i == 0 { "\n  " } else { ",\n  " });
            one.clear();
            // Into a Vec, of strings, numbers and booleans: cannot fail.
            let _ = serde_json::to_writer_pretty(&mut one, &JsonOccurrence::from(o.view()));
            // serde_json escapes newlines inside strings: each one is a line end.
            let one = String::from_utf8_lossy(&one);
            for (n, line) in one.split('\n').enumerate() {
                if n > 0 {
                    out.push_str("\n  ");
                }
                out.push_str(line);
            }
        }
    })?;
    w.write_all(b"\n]\n")
}

/// How long each event lasts in the calendar (only so that it is visible).
pub const ICS_EVENT_LENGTH: SignedDuration = SignedDuration::from_mins(15);

/// `berrah plan --format ics`: an RFC 5545 calendar, one VEVENT per
/// occurrence (UID `<id>@berrah`, start at the due instant in UTC, 15
/// minutes long), CRLF line ends, lines folded at 75 octets on UTF-8
/// character boundaries. `stamp` is the DTSTAMP (the plan's "now").
pub fn ics(occurrences: &[Occurrence], stamp: Timestamp) -> String {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = write_ics(&mut out, occurrences, stamp);
    into_string(out)
}

/// [`ics`], streamed to `w` (the same bytes; events formatted on every core).
pub fn write_ics<W: Write, T: AsView + Sync>(
    w: &mut W,
    occurrences: &[T],
    stamp: Timestamp,
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
    let stamp = ics_time(stamp);
    write_chunks(w, &chunks(occurrences), |_, chunk, out| {
        for o in chunk {
            ics_event(out, &o.view(), &stamp);
        }
    })?;
    out.clear();
    fold_line(&mut out, "END:VCALENDAR");
    w.write_all(out.as_bytes())
}

/// One VEVENT, each line written straight into `out`, folded.
fn ics_event(out: &mut String, o: &View<'_>, stamp: &str) {
    // Writing into a String cannot fail.
    let end = o.due.saturating_add(ICS_EVENT_LENGTH).unwrap_or(o.due);
    fold_line(out, "BEGIN:VEVENT");
    let _ = write!(Folded::line(out), "UID:{}@berrah", o.id);
    let _ = write!(Folded::line(out), "DTSTAMP:{stamp}");
    let _ = write!(Folded::line(out), "DTSTART:{}", ics_time(o.due));
    let _ = write!(Folded::line(out), "DTEND:{}", ics_time(end));
    let _ = write!(Folded::line(out), "X-BERRAH-TZDB:{}", o.tzdb);
    let mut line = Folded::line(out);
    let _ = line.write_str("SUMMARY:");
    let _ = write!(
        Escaped(&mut line),
        "{} {} ({}): {}",
        o.account,
        o.language,
        o.platform,
        first_line(&o.content.text, 80)
    );
    drop(line);
    let mut line = Folded::line(out);
    let _ = line.write_str("DESCRIPTION:");
    let _ = write!(
        Escaped(&mut line),
        "{}\n\n— {} / {} / {}\n{} ({}), {} UTC\nid {}",
        o.content.text,
        o.campaign,
        o.capsule.unwrap_or("-"),
        o.post,
        o.local,
        o.timezone,
        o.due,
        o.id
    );
    drop(line);
    let mut line = Folded::line(out);
    let _ = line.write_str("CATEGORIES:");
    let _ = write!(Escaped(&mut line), "{}", o.platform.as_str());
    let _ = line.write_str(",");
    let _ = write!(Escaped(&mut line), "{}", o.campaign);
    drop(line);
    fold_line(
        out,
        if o.paused {
            "STATUS:TENTATIVE"
        } else {
            "STATUS:CONFIRMED"
        },
    );
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
