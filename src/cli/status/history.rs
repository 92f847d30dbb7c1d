//! `berrah status --history [--since WHEN] [--until WHEN]`: what happened in
//! a period, oldest first: each post published (with its URL), failed, held
//! or dropped (too late) and cancelled, then the held ones grouped by cause
//! with the command that releases each group. Built from the entries'
//! current state and the moment it was reached (pure).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use jiff::Timestamp;
use serde::Serialize;

use super::build::status_entry;
use super::filter::last_change;
use super::held::{HeldGroup, held_groups};
use super::report::{ReportFilter, StatusEntry};
use crate::cli::format::{local_time, short_ids};
use crate::store::{Entry, EntryState};

/// How far back `--history` looks without `--since`.
pub const DEFAULT_DAYS: i64 = 7;

/// What `--history --format json` prints.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryReport {
    /// 1 for this shape.
    pub format_version: u32,
    pub generated_at: Timestamp,
    pub database: String,
    /// The period: `from <= at < until` (UTC).
    pub from: Timestamp,
    pub until: Timestamp,
    pub filter: ReportFilter,
    /// Events per kind: `published`, `failed`, `held`, `dropped`, `cancelled`
    /// (every kind is present).
    pub counts: BTreeMap<String, u64>,
    /// Oldest first.
    pub events: Vec<HistoryEvent>,
    /// The held events grouped by cause and account.
    pub held_groups: Vec<HeldGroup>,
}

/// One thing that happened to an entry.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryEvent {
    /// `published`, `failed`, `held`, `dropped` or `cancelled`.
    pub event: String,
    /// When (UTC), and the same instant in the campaign's zone.
    pub at: Timestamp,
    pub at_local: String,
    /// The entry as `status` shows it.
    pub entry: StatusEntry,
}

fn event_word(state: EntryState) -> Option<&'static str> {
    Some(match state {
        EntryState::Published => "published",
        EntryState::Failed => "failed",
        EntryState::Held => "held",
        EntryState::Expired => "dropped",
        EntryState::Cancelled => "cancelled",
        _ => return None,
    })
}

/// The history of `entries` in `[from, until)`. `advise` fixes each hold's
/// release for the account's credentials source.
#[allow(clippy::too_many_arguments)]
pub fn build_history(
    entries: &[Entry],
    causes: &HashMap<String, Option<String>>,
    advise: &dyn Fn(&mut StatusEntry),
    from: Timestamp,
    until: Timestamp,
    filter: ReportFilter,
    now: Timestamp,
    database: &str,
) -> HistoryReport {
    let shorts = short_ids(entries.iter().map(|e| e.id.as_str()));
    let mut events: Vec<HistoryEvent> = entries
        .iter()
        .filter_map(|e| {
            let word = event_word(e.state)?;
            let at = last_change(e);
            (at >= from && at < until).then(|| {
                let mut shown = status_entry(e, false, causes, &shorts);
                advise(&mut shown);
                HistoryEvent {
                    event: word.into(),
                    at,
                    at_local: local_time(at, &e.timezone),
                    entry: shown,
                }
            })
        })
        .collect();
    events.sort_by(|a, b| (a.at, &a.entry.id).cmp(&(b.at, &b.entry.id)));
    let mut counts: BTreeMap<String, u64> = ["published", "failed", "held", "dropped", "cancelled"]
        .into_iter()
        .map(|k| (k.to_string(), 0))
        .collect();
    for e in &events {
        *counts.entry(e.event.clone()).or_default() += 1;
    }
    let held_groups = held_groups(
        events
            .iter()
            .filter(|e| e.event == "held")
            .map(|e| &e.entry),
    );
    HistoryReport {
        format_version: 1,
        generated_at: now,
        database: database.into(),
        from,
        until,
        filter,
        counts,
        events,
        held_groups,
    }
}

/// `2026-12-18 10:00 +01:00`.
fn short_local(local: &str) -> String {
    match local.split_at_checked(19) {
        Some((dt, offset)) if local.parse::<Timestamp>().is_ok() => {
            let dt = dt.replacen('T', " ", 1);
            format!("{} {offset}", dt.strip_suffix(":00").unwrap_or(&dt))
        }
        _ => local.to_string(),
    }
}

/// The history as text for people.
pub fn render_history(h: &HistoryReport) -> String {
    let mut out = String::new();
    let mut scope = String::new();
    if let Some(c) = &h.filter.campaign {
        let _ = write!(scope, ", campaign {c}");
    }
    if let Some(a) = &h.filter.account {
        let _ = write!(scope, ", account {a}");
    }
    let _ = writeln!(
        out,
        "berrah history from {} to {} ({}{scope})",
        h.from.strftime("%Y-%m-%d %H:%M UTC"),
        h.until.strftime("%Y-%m-%d %H:%M UTC"),
        h.database
    );
    let c = |k: &str| h.counts.get(k).copied().unwrap_or(0);
    let _ = writeln!(
        out,
        "{} published, {} failed, {} held, {} dropped (too late), {} cancelled",
        c("published"),
        c("failed"),
        c("held"),
        c("dropped"),
        c("cancelled")
    );
    if h.events.is_empty() {
        let _ = writeln!(out, "\nNothing happened in this period.");
        return out;
    }
    out.push('\n');
    for ev in &h.events {
        let e = &ev.entry;
        let post = match &e.capsule {
            Some(c) => format!("{}/{c}/{}", e.campaign, e.post),
            None => format!("{}/{}", e.campaign, e.post),
        };
        let tail = match ev.event.as_str() {
            "published" => e
                .url
                .clone()
                .or_else(|| e.remote_id.as_ref().map(|r| format!("id {r}")))
                .unwrap_or_else(|| "(no URL)".into()),
            // The cause and its release are said once per group below.
            "held" => e
                .hold
                .as_ref()
                .map(|h| format!("({})", h.cause.replace('_', " ")))
                .unwrap_or_default(),
            _ => e.last_error.clone().unwrap_or_default(),
        };
        let _ = writeln!(
            out,
            "{}  {:<9}  {}  {post}  {}/{}  {tail}",
            short_local(&ev.at_local),
            ev.event,
            e.short_id,
            e.account,
            e.language,
        );
    }
    if !h.held_groups.is_empty() {
        let _ = writeln!(out, "\nheld, by cause:");
        for g in &h.held_groups {
            render_group(&mut out, g);
        }
    }
    out
}

/// One group of held entries: the cause once, the count, the release.
pub fn render_group(out: &mut String, g: &HeldGroup) {
    let release = if g.release.starts_with("berrah ") {
        format!("`{}`", g.release)
    } else {
        g.release.clone()
    };
    let _ = writeln!(
        out,
        "  {} on {}: {}",
        if g.count == 1 {
            "1 post".to_string()
        } else {
            format!("{} posts", g.count)
        },
        g.account,
        g.reason
    );
    let _ = writeln!(out, "    release: {release}");
    let shown: Vec<&str> = g.ids.iter().take(10).map(String::as_str).collect();
    let more = if g.ids.len() > 10 {
        format!(" and {} more", g.ids.len() - 10)
    } else {
        String::new()
    };
    let _ = writeln!(out, "    entries: {}{more}", shown.join(", "));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::status::fixtures::{entry, t};

    #[test]
    fn events_in_the_period_oldest_first_with_urls() {
        let mut out = entry("o-1111111111111", "oim-mastodon", EntryState::Published);
        out.published_at = Some(t("2026-12-16T09:00:02Z"));
        out.url = Some("https://m.example/@oim/1".into());
        let mut old = entry("o-2222222222222", "oim-mastodon", EntryState::Published);
        old.published_at = Some(t("2026-12-01T09:00:00Z"));
        let mut failed = entry("o-3333333333333", "oim-x", EntryState::Failed);
        failed.updated_at = t("2026-12-15T10:00:00Z");
        failed.last_error = Some("HTTP 403: duplicate".into());
        let mut late = entry("o-4444444444444", "oim-x", EntryState::Expired);
        late.updated_at = t("2026-12-17T00:00:00Z");
        let waiting = entry("o-5555555555555", "oim-x", EntryState::Scheduled);
        let h = build_history(
            &[out, old, failed, late, waiting],
            &HashMap::new(),
            &|_| {},
            t("2026-12-14T00:00:00Z"),
            t("2026-12-18T10:00:00Z"),
            ReportFilter {
                campaign: None,
                account: None,
                states: vec![],
                since: None,
                until: None,
            },
            t("2026-12-18T10:00:00Z"),
            "sqlite",
        );
        let kinds: Vec<&str> = h.events.iter().map(|e| e.event.as_str()).collect();
        assert_eq!(kinds, vec!["failed", "published", "dropped"]);
        assert_eq!(h.counts["published"], 1);
        let text = render_history(&h);
        assert!(
            text.contains("2026-12-16 09:00:02 +00:00  published  o-1111111111  amal/p1  oim-mastodon/fr  https://m.example/@oim/1"),
            "{text}"
        );
        assert!(
            text.contains("1 published, 1 failed, 0 held, 1 dropped"),
            "{text}"
        );
    }
}
