//! What `berrah plan` prints: a table for people, JSON for tools, iCalendar
//! for calendar apps. [`table`], [`json`] and [`ics`] return the whole
//! text; `write_*` stream the same bytes to a writer (what the CLI uses, so
//! that a plan of 100,000 occurrences is never held as one string).

use std::io::{self, Write};
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
/// account, platform, language and the text's first line.
pub fn table(occurrences: &[Occurrence]) -> String {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = write_table(&mut out, occurrences);
    into_string(out)
}

const TABLE_HEADER: [&str; 7] = [
    "LOCAL",
    "UTC",
    "CAMPAIGN/CAPSULE",
    "ACCOUNT",
    "PLATFORM",
    "LANG",
    "TEXT",
];

fn table_row(o: &View<'_>) -> [String; 7] {
    let mut text = first_line(&o.content.text, 60);
    if o.paused {
        text = format!("[paused] {text}");
    }
    [
        o.local.to_string(),
        o.due.to_string(),
        format!("{}/{}", o.campaign, o.capsule.unwrap_or("-")),
        o.account.to_string(),
        o.platform.to_string(),
        o.language.to_string(),
        text,
    ]
}

/// [`table`], written to `w` row by row (two passes: the column widths
/// first), without holding the whole text.
pub fn write_table<W: Write, T: AsView>(w: &mut W, occurrences: &[T]) -> io::Result<()> {
    let mut widths = TABLE_HEADER.map(|h| h.chars().count());
    for o in occurrences {
        let r = table_row(&o.view());
        for (w, cell) in widths.iter_mut().zip(r.iter()) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |w: &mut W, cells: &[&str]| -> io::Result<()> {
        out.clear();
        let last = cells.len() - 1;
        for (i, cell) in cells.iter().enumerate() {
            out.push_str(cell);
            if i < last {
                let pad = widths[i] - cell.chars().count() + 2;
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push('\n');
        w.write_all(out.as_bytes())
    };
    line(w, &TABLE_HEADER)?;
    for o in occurrences {
        let r = table_row(&o.view());
        let cells: Vec<&str> = r.iter().map(String::as_str).collect();
        line(w, &cells)?;
    }
    Ok(())
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

/// [`json`], streamed to `w` one object at a time (the same bytes).
pub fn write_json<W: Write, T: AsView>(w: &mut W, occurrences: &[T]) -> io::Result<()> {
    let mut ser = serde_json::Serializer::pretty(&mut *w);
    serde::Serializer::collect_seq(
        &mut ser,
        occurrences.iter().map(|o| JsonOccurrence::from(o.view())),
    )
    .map_err(io::Error::from)?;
    w.write_all(b"\n")
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

/// [`ics`], streamed to `w` one event at a time (the same bytes).
pub fn write_ics<W: Write, T: AsView>(
    w: &mut W,
    occurrences: &[T],
    stamp: Timestamp,
) -> io::Result<()> {
    let mut out = String::new();
    let mut put = |line: &str| fold_line(&mut out, line);
    put("BEGIN:VCALENDAR");
    put("VERSION:2.0");
    put("PRODID:-//berrah//plan//EN");
    put("CALSCALE:GREGORIAN");
    put("METHOD:PUBLISH");
    put("X-WR-CALNAME:berrah");
    w.write_all(out.as_bytes())?;
    let dtstamp = format!("DTSTAMP:{}", ics_time(stamp));
    for o in occurrences {
        let o = o.view();
        out.clear();
        let mut put = |line: &str| fold_line(&mut out, line);
        let end = o.due.saturating_add(ICS_EVENT_LENGTH).unwrap_or(o.due);
        put("BEGIN:VEVENT");
        put(&format!("UID:{}@berrah", o.id));
        put(&dtstamp);
        put(&format!("DTSTART:{}", ics_time(o.due)));
        put(&format!("DTEND:{}", ics_time(end)));
        let summary = format!(
            "{} {} ({}): {}",
            o.account,
            o.language,
            o.platform,
            first_line(&o.content.text, 80)
        );
        put(&format!("SUMMARY:{}", escape_text(&summary)));
        let mut description = o.content.text.clone();
        description.push_str(&format!(
            "\n\n— {} / {} / {}\n{} ({}), {} UTC\nid {}",
            o.campaign,
            o.capsule.unwrap_or("-"),
            o.post,
            o.local,
            o.timezone,
            o.due,
            o.id
        ));
        put(&format!("DESCRIPTION:{}", escape_text(&description)));
        put(&format!(
            "CATEGORIES:{},{}",
            escape_text(o.platform.as_str()),
            escape_text(o.campaign)
        ));
        if o.paused {
            put("STATUS:TENTATIVE");
        } else {
            put("STATUS:CONFIRMED");
        }
        put("END:VEVENT");
        w.write_all(out.as_bytes())?;
    }
    out.clear();
    fold_line(&mut out, "END:VCALENDAR");
    w.write_all(out.as_bytes())
}

fn ics_time(t: Timestamp) -> String {
    t.strftime("%Y%m%dT%H%M%SZ").to_string()
}

/// RFC 5545 TEXT escaping: backslash, semicolon, comma, newline.
pub fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// Appends `line` folded at 75 octets (continuation lines start with one
/// space, which counts), never inside a UTF-8 character, ending in CRLF.
fn fold_line(out: &mut String, line: &str) {
    let mut budget = 75;
    let mut used = 0;
    for c in line.chars() {
        let n = c.len_utf8();
        if used + n > budget {
            out.push_str("\r\n ");
            used = 1;
            budget = 75;
        }
        out.push(c);
        used += n;
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

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
