//! What `berrah plan` prints: a table for people, JSON for tools, iCalendar
//! for calendar apps. Pure: each function returns the whole text.

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use super::Occurrence;

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

/// The table of `berrah plan`: local time with offset, UTC, campaign/capsule,
/// account, platform, language and the text's first line.
pub fn table(occurrences: &[Occurrence]) -> String {
    let header = [
        "LOCAL",
        "UTC",
        "CAMPAIGN/CAPSULE",
        "ACCOUNT",
        "PLATFORM",
        "LANG",
        "TEXT",
    ];
    let rows: Vec<[String; 7]> = occurrences
        .iter()
        .map(|o| {
            let mut text = first_line(&o.content.text, 60);
            if o.paused {
                text = format!("[paused] {text}");
            }
            [
                o.local.clone(),
                o.due.to_string(),
                format!("{}/{}", o.campaign, o.capsule.as_deref().unwrap_or("-")),
                o.account.clone(),
                o.platform.to_string(),
                o.language.clone(),
                text,
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r.iter()) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[&str]| {
        let last = cells.len() - 1;
        for (i, cell) in cells.iter().enumerate() {
            out.push_str(cell);
            if i < last {
                let pad = widths[i] - cell.chars().count() + 2;
                out.push_str(&" ".repeat(pad));
            }
        }
        out.push('\n');
    };
    line(&header);
    for r in &rows {
        let cells: Vec<&str> = r.iter().map(String::as_str).collect();
        line(&cells);
    }
    out
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

impl<'a> From<&'a Occurrence> for JsonOccurrence<'a> {
    fn from(o: &'a Occurrence) -> Self {
        JsonOccurrence {
            id: &o.id,
            key: &o.key,
            campaign: &o.campaign,
            capsule: o.capsule.as_deref(),
            post: &o.post,
            account: &o.account,
            platform: o.platform.as_str(),
            due: o.due.to_string(),
            local: &o.local,
            timezone: &o.timezone,
            language: &o.language,
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
            series: o.series.as_deref(),
            paused: o.paused,
            source: o.source.display().to_string(),
        }
    }
}

/// `berrah plan --format json`: one array, pretty-printed.
pub fn json(occurrences: &[Occurrence]) -> String {
    let rows: Vec<JsonOccurrence<'_>> = occurrences.iter().map(JsonOccurrence::from).collect();
    // Serializing plain strings, numbers and booleans cannot fail.
    let mut s = serde_json::to_string_pretty(&rows).unwrap_or_else(|_| "[]".to_string());
    s.push('\n');
    s
}

/// How long each event lasts in the calendar (only so that it is visible).
pub const ICS_EVENT_LENGTH: SignedDuration = SignedDuration::from_mins(15);

/// `berrah plan --format ics`: an RFC 5545 calendar, one VEVENT per
/// occurrence (UID `<id>@berrah`, start at the due instant in UTC, 15
/// minutes long), CRLF line ends, lines folded at 75 octets on UTF-8
/// character boundaries. `stamp` is the DTSTAMP (the plan's "now").
pub fn ics(occurrences: &[Occurrence], stamp: Timestamp) -> String {
    let mut out = String::new();
    let mut put = |line: &str| fold_line(&mut out, line);
    put("BEGIN:VCALENDAR");
    put("VERSION:2.0");
    put("PRODID:-//berrah//plan//EN");
    put("CALSCALE:GREGORIAN");
    put("METHOD:PUBLISH");
    put("X-WR-CALNAME:berrah");
    for o in occurrences {
        let end = o.due.saturating_add(ICS_EVENT_LENGTH).unwrap_or(o.due);
        put("BEGIN:VEVENT");
        put(&format!("UID:{}@berrah", o.id));
        put(&format!("DTSTAMP:{}", ics_time(stamp)));
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
            o.capsule.as_deref().unwrap_or("-"),
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
            escape_text(&o.campaign)
        ));
        if o.paused {
            put("STATUS:TENTATIVE");
        } else {
            put("STATUS:CONFIRMED");
        }
        put("END:VEVENT");
    }
    put("END:VCALENDAR");
    out
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
