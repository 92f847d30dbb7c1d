//! Rendering the report: a table for people (colour only on a terminal, never
//! with `NO_COLOR` set) or JSON for tools.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::IsTerminal;

use jiff::Timestamp;

use super::report::{MOVES_SHOWN_DAYS, StatusEntry, StatusReport};
use crate::store::{EntryState, PauseScope};

/// The report as pretty JSON, ending with a newline.
pub fn render_json(report: &StatusReport) -> String {
    match serde_json::to_string_pretty(report) {
        Ok(mut s) => {
            s.push('\n');
            s
        }
        // Only plain data in the report: this cannot fail, but never panic.
        Err(e) => format!("{{\"error\": \"{e}\"}}\n"),
    }
}

/// ANSI styling, or none.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub colour: bool,
}

impl Style {
    /// Colour on a terminal unless `NO_COLOR` is set to something (no-color.org).
    pub fn detect() -> Style {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Style {
            colour: !no_color && std::io::stdout().is_terminal(),
        }
    }

    fn paint(self, code: &str, text: &str) -> String {
        if self.colour {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn bold(self, text: &str) -> String {
        self.paint("1", text)
    }

    fn state(self, state: EntryState, text: &str) -> String {
        let code = match state {
            EntryState::Published => "32",
            EntryState::Retrying => "33",
            EntryState::Failed => "31",
            EntryState::Held => "35",
            EntryState::Claimed | EntryState::Publishing => "36",
            EntryState::Cancelled | EntryState::Expired => "2",
            EntryState::Scheduled => "0",
        };
        self.paint(code, text)
    }
}

/// `2026-12-18T10:00:00+01:00` → `2026-12-18 10:00 +01:00`.
fn readable_local(local: &str) -> String {
    match local.parse::<jiff::Timestamp>() {
        Ok(_) if local.len() >= 19 => {
            let (date_time, offset) = local.split_at(19);
            let shown = date_time.replacen('T', " ", 1);
            let shown = shown.strip_suffix(":00").unwrap_or(&shown);
            format!("{shown} {offset}")
        }
        _ => local.to_string(),
    }
}

/// `2026-12-18 09:00 UTC`.
fn readable_utc(at: Timestamp) -> String {
    if at.as_second() % 60 == 0 && at.subsec_nanosecond() == 0 {
        at.strftime("%Y-%m-%d %H:%M UTC").to_string()
    } else {
        at.strftime("%Y-%m-%d %H:%M:%S UTC").to_string()
    }
}

/// How many moved entries the table lists (JSON has them all).
const MOVES_LISTED: usize = 20;

/// Local and UTC: `2026-12-18 10:00 +01:00 (09:00 UTC)`.
fn when(local: &str, utc: Timestamp) -> String {
    format!("{} ({})", readable_local(local), readable_utc(utc))
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn counts_line(counts: &BTreeMap<EntryState, u64>) -> String {
    let get = |s| counts.get(&s).copied().unwrap_or(0);
    let total: u64 = counts.values().sum();
    format!(
        "{}: {} scheduled, {} in flight, {} published, {} retrying, {} failed, {} held, \
         {} cancelled, {} expired",
        plural(total, "entry", "entries"),
        get(EntryState::Scheduled),
        get(EntryState::Claimed) + get(EntryState::Publishing),
        get(EntryState::Published),
        get(EntryState::Retrying),
        get(EntryState::Failed),
        get(EntryState::Held),
        get(EntryState::Cancelled),
        get(EntryState::Expired),
    )
}

fn line_head(e: &StatusEntry) -> String {
    format!(
        "{}  {}/{}  {}",
        e.short_id,
        e.account,
        e.language,
        match &e.capsule {
            Some(c) => format!("{c}/{}", e.post),
            None => e.post.clone(),
        }
    )
}

/// The report as text for people.
pub fn render_table(report: &StatusReport, style: Style) -> String {
    let mut out = String::new();
    let mut scope = String::new();
    if let Some(c) = &report.filter.campaign {
        let _ = write!(scope, ", campaign {c}");
    }
    if let Some(a) = &report.filter.account {
        let _ = write!(scope, ", account {a}");
    }
    let _ = writeln!(
        out,
        "{}",
        style.bold(&format!(
            "berrah status at {} ({}{scope})",
            readable_utc(report.generated_at),
            report.database
        ))
    );
    let _ = writeln!(out, "{}", counts_line(&report.counts));
    if let Some(t) = &report.tzdb {
        let _ = writeln!(out, "time zones: {t}");
    }
    super::instances::render(&mut out, report);
    if report.campaigns.is_empty() {
        let _ = writeln!(
            out,
            "\nThe queue is empty{}: `berrah run` fills it from the campaign files.",
            if scope.is_empty() {
                ""
            } else {
                " for this filter"
            }
        );
    }
    for c in &report.campaigns {
        let _ = writeln!(
            out,
            "\n{}{}",
            style.bold(&format!("campaign {}", c.name)),
            if c.paused {
                style.paint(
                    "33",
                    &format!("  [paused: `berrah resume --campaign {}`]", c.name),
                )
            } else {
                String::new()
            }
        );
        let _ = writeln!(out, "  {}", counts_line(&c.counts));
        let scheduled = c.counts.get(&EntryState::Scheduled).copied().unwrap_or(0);
        if !c.next.is_empty() {
            let _ = writeln!(
                out,
                "  next due ({} of {scheduled}):",
                c.next
                    .len()
                    .min(usize::try_from(scheduled).unwrap_or(usize::MAX))
            );
            for e in &c.next {
                let at = match (&e.next_attempt_local, e.next_attempt) {
                    (Some(l), Some(t)) => format!("{} (due {})", when(l, t), e.due_local),
                    _ => when(&e.due_local, e.due),
                };
                let paused = if e.paused { "  [paused]" } else { "" };
                let _ = writeln!(out, "    {at}  {}{paused}", line_head(e));
            }
        }
        if !c.in_flight.is_empty() {
            let _ = writeln!(out, "  in flight:");
            for e in &c.in_flight {
                let owner =
                    super::instances::holder(report, e.lease_owner.as_deref().unwrap_or("?"));
                let until = e
                    .lease_until
                    .map(|t| format!(", lease until {}", readable_utc(t)))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "    {}  {}  by {owner}{until}",
                    style.state(e.state, e.state.as_str()),
                    line_head(e)
                );
            }
        }
        if !c.retrying.is_empty() {
            let _ = writeln!(out, "  {}", style.state(EntryState::Retrying, "retrying:"));
            for e in &c.retrying {
                let next = match (&e.next_attempt_local, e.next_attempt) {
                    (Some(l), Some(t)) => when(l, t),
                    _ => "as soon as possible".into(),
                };
                let _ = writeln!(
                    out,
                    "    {}  {}, next attempt {next}: {}",
                    line_head(e),
                    plural(u64::from(e.attempts), "attempt", "attempts"),
                    e.last_error.as_deref().unwrap_or("no reason recorded")
                );
            }
        }
        if !c.failed.is_empty() {
            let _ = writeln!(out, "  {}", style.state(EntryState::Failed, "failed:"));
            for e in &c.failed {
                let _ = writeln!(
                    out,
                    "    {}  due {}: {}  (after a fix: `berrah retry {}`)",
                    line_head(e),
                    when(&e.due_local, e.due),
                    e.last_error.as_deref().unwrap_or("no reason recorded"),
                    e.short_id
                );
            }
        }
        if !c.held.is_empty() {
            // The cause and its release once per group, then the entries.
            let _ = writeln!(
                out,
                "  {}",
                style.state(EntryState::Held, &format!("held ({}):", c.held.len()))
            );
            for g in super::held::held_groups(&c.held) {
                let mut group = String::new();
                super::history::render_group(&mut group, &g);
                for line in group
                    .lines()
                    .filter(|l| !l.trim_start().starts_with("entries:"))
                {
                    let _ = writeln!(out, "  {line}");
                }
                for e in c.held.iter().filter(|e| {
                    e.account == g.account && e.hold.as_ref().is_some_and(|h| h.cause == g.cause)
                }) {
                    let _ = writeln!(
                        out,
                        "      {}  due {}",
                        line_head(e),
                        when(&e.due_local, e.due)
                    );
                }
            }
        }
        let published = c.counts.get(&EntryState::Published).copied().unwrap_or(0);
        if !c.published.is_empty() {
            let more = if (c.published.len() as u64) < published {
                format!(
                    ", the newest {} of {published}; --all for every one",
                    c.published.len()
                )
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "  {}",
                style.state(
                    EntryState::Published,
                    &format!("published (newest first{more}):")
                )
            );
            for e in &c.published {
                let at = match (&e.published_at_local, e.published_at) {
                    (Some(l), Some(t)) => when(l, t),
                    _ => when(&e.due_local, e.due),
                };
                let url = e
                    .url
                    .as_deref()
                    .or(e.remote_id.as_deref())
                    .unwrap_or("(no URL)");
                let _ = writeln!(out, "    {at}  {}  {url}", line_head(e));
            }
        }
        if !c.partly_published.is_empty() {
            let _ = writeln!(out, "  partly published:");
            for p in &c.partly_published {
                let on: Vec<String> = p
                    .published
                    .iter()
                    .map(|x| format!("{}/{}", x.account, x.language))
                    .collect();
                let off: Vec<String> = p
                    .missing
                    .iter()
                    .map(|x| format!("{}/{} ({} {})", x.account, x.language, x.state, x.short_id))
                    .collect();
                let _ = writeln!(
                    out,
                    "    {} due {}: out on {}; not on {}",
                    match &p.capsule {
                        Some(c) => format!("{c}/{}", p.post),
                        None => p.post.clone(),
                    },
                    when(&p.due_local, p.due),
                    on.join(", "),
                    off.join(", ")
                );
            }
        }
        let cancelled = c.counts.get(&EntryState::Cancelled).copied().unwrap_or(0);
        let expired = c.counts.get(&EntryState::Expired).copied().unwrap_or(0);
        if cancelled + expired > 0 {
            let _ = writeln!(out, "  {cancelled} cancelled, {expired} expired");
        }
    }
    if !report.moved.is_empty() {
        let _ = writeln!(
            out,
            "\n{}",
            style.bold(&format!(
                "moved in the last {MOVES_SHOWN_DAYS} days ({}, newest first):",
                report.moved.len()
            ))
        );
        for m in report.moved.iter().take(MOVES_LISTED) {
            let _ = writeln!(
                out,
                "  {}/{} on {}/{}: {} → {}: {}",
                m.campaign,
                m.post,
                m.account,
                m.language,
                when(&m.from_local, m.from_due),
                when(&m.to_local, m.to_due),
                m.reason
            );
        }
        if report.moved.len() > MOVES_LISTED {
            let _ = writeln!(
                out,
                "  … and {} more (`berrah status --format json` lists them all)",
                report.moved.len() - MOVES_LISTED
            );
        }
    }
    if !report.paused.is_empty() {
        let _ = writeln!(out, "\n{}", style.bold("paused:"));
        for p in &report.paused {
            let scope = match p.scope {
                PauseScope::Campaign => "campaign",
                PauseScope::Account => "account",
            };
            let _ = writeln!(
                out,
                "  {scope} {}  (`berrah resume --{scope} {}`)",
                p.name, p.name
            );
        }
    }
    if !report.accounts_needing_attention.is_empty() {
        let _ = writeln!(out, "\n{}", style.bold("accounts needing attention:"));
        for w in &report.accounts_needing_attention {
            let _ = writeln!(out, "  {}", w.message);
        }
    }
    if !report.corrupt.is_empty() {
        let _ = writeln!(
            out,
            "\n{}",
            style.paint("31", "unreadable rows in the database (not shown above):")
        );
        for c in &report.corrupt {
            let _ = writeln!(out, "  {}", c.error);
        }
    }
    for n in &report.notes {
        let _ = writeln!(out, "\nnote: {n}");
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::cli::format::local_time;
    use crate::cli::status::build::{PUBLISHED_SHOWN, build_report};
    use crate::cli::status::fixtures::{entry, query, t};
    use crate::cli::status::report::StatusQuery;
    use crate::store::{Entry, StoreError};

    #[test]
    fn local_times_carry_the_zone_offset() {
        assert_eq!(
            local_time(t("2026-12-18T09:00:00Z"), "Europe/Paris"),
            "2026-12-18T10:00:00+01:00"
        );
        assert_eq!(
            local_time(t("2026-12-18T09:00:00Z"), "Not/AZone"),
            "2026-12-18T09:00:00Z"
        );
        assert_eq!(
            readable_local("2026-12-18T10:00:00+01:00"),
            "2026-12-18 10:00 +01:00"
        );
        assert_eq!(readable_local("garbage"), "garbage");
    }

    #[test]
    fn partly_published_posts_name_both_sides() {
        let mut a = entry("o-aaaaaaaaaaaaaaaa", "oim-mastodon", EntryState::Published);
        a.url = Some("https://m.example/@oim/1".into());
        a.published_at = Some(t("2026-12-18T09:00:01Z"));
        let mut b = entry("o-bbbbbbbbbbbbbbbb", "oim-x", EntryState::Failed);
        b.last_error = Some("HTTP 403: duplicate content".into());
        let c = entry("o-cccccccccccccccc", "oim-bsky", EntryState::Published);
        let r = build_report(
            vec![a, b, c],
            vec![],
            vec![],
            &HashMap::new(),
            vec![],
            vec![],
            &query(),
            t("2026-12-18T10:00:00Z"),
            "sqlite",
        );
        let p = &r.campaigns[0].partly_published;
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].published.len(), 2);
        assert_eq!(p[0].missing[0].account, "oim-x");
        let text = render_table(&r, Style { colour: false });
        assert!(text.contains("partly published"), "{text}");
        assert!(
            text.contains("not on oim-x/fr (failed o-bbbbbbbbbb)"),
            "{text}"
        );
        assert!(!text.contains('\x1b'), "no colour when asked: {text}");
    }

    #[test]
    fn published_are_newest_first_and_bounded() {
        let entries: Vec<Entry> = (0..15)
            .map(|i| {
                let mut e = entry(&format!("o-{i:016}"), "a", EntryState::Published);
                e.post = format!("p{i}");
                e.published_at =
                    Some(t("2026-12-18T09:00:00Z") + jiff::SignedDuration::from_mins(i));
                e.url = Some(format!("https://x/{i}"));
                e
            })
            .collect();
        let r = build_report(
            entries.clone(),
            vec![],
            vec![],
            &HashMap::new(),
            vec![],
            vec![],
            &query(),
            t("2026-12-18T10:00:00Z"),
            "sqlite",
        );
        let c = &r.campaigns[0];
        assert_eq!(c.published.len(), PUBLISHED_SHOWN);
        assert_eq!(c.published[0].url.as_deref(), Some("https://x/14"));
        assert_eq!(c.counts[&EntryState::Published], 15);
        let all = StatusQuery {
            all: true,
            ..query()
        };
        let r = build_report(
            entries,
            vec![],
            vec![],
            &HashMap::new(),
            vec![],
            vec![],
            &all,
            t("2026-12-18T10:00:00Z"),
            "sqlite",
        );
        assert_eq!(r.campaigns[0].published.len(), 15);
        let json: serde_json::Value = serde_json::from_str(&render_json(&r)).unwrap();
        assert_eq!(json["format_version"], 1);
        assert_eq!(json["counts"]["published"], 15);
        assert_eq!(json["counts"]["failed"], 0);
        assert_eq!(
            json["campaigns"][0]["published"][0]["due"],
            "2026-12-18T09:00:00Z"
        );
        assert_eq!(
            json["campaigns"][0]["published"][0]["due_local"],
            "2026-12-18T09:00:00+00:00"
        );
    }

    #[test]
    fn colour_codes_only_when_asked() {
        let r = build_report(
            vec![entry("o-1", "a", EntryState::Failed)],
            vec![StoreError::Corrupt {
                id: "o-bad".into(),
                why: "column state: nonsense".into(),
            }],
            vec![],
            &HashMap::new(),
            vec![],
            vec![],
            &query(),
            t("2026-12-18T10:00:00Z"),
            "sqlite",
        );
        let text = render_table(&r, Style { colour: true });
        assert!(text.contains("\x1b[31mfailed:"), "{text}");
        assert!(text.contains("o-bad"), "{text}");
        assert_eq!(r.corrupt[0].id, "o-bad");
    }
}
