//! Grouping (pure): the facts a rule listens to are folded into its
//! [`Group`], one tally per (event, account, cause), until the group is
//! closed into one [`Message`] that counts them, names the causes and the
//! commands that show and release them. A burst of 300 held posts is one
//! tally, so one line of one message.

use std::collections::BTreeMap;

use jiff::SignedDuration;
use serde::{Deserialize, Serialize};

use super::config::{Event, Rule};
use crate::store::alerts::FactRow;

/// The longest detail (an entry's last error) quoted in a message.
const DETAIL_MAX: usize = 240;
/// The most tallies a message lists; the rest is counted in one line.
const TALLIES_MAX: usize = 20;
/// The most items (files, notes) one tally keeps.
const ITEMS_MAX: usize = 10;

/// What a rule gathered since its last message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    pub tallies: Vec<Tally>,
}

/// How many facts of one event, account and cause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    pub event: Event,
    pub account: Option<String>,
    pub cause: Option<String>,
    pub count: u64,
    /// The first detail seen (an entry's last error, a token's note).
    pub detail: Option<String>,
    /// `late`: the worst lateness, in milliseconds.
    pub worst_ms: Option<i64>,
    /// `campaign_broken`: the files; others: distinct details after the first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<String>,
}

impl Group {
    pub fn is_empty(&self) -> bool {
        self.tallies.is_empty()
    }

    /// Adds `fact` if `rule` listens to it; whether it did.
    pub fn add(&mut self, rule: &Rule, fact: &FactRow) -> bool {
        let Some(event) = Event::parse(&fact.kind) else {
            return false;
        };
        if !rule.listens(event) {
            return false;
        }
        let over_threshold = match event {
            Event::Late => fact.late_ms.unwrap_or(0) >= rule.late_after.as_millis() as i64,
            // A token fact is made once for each threshold in use.
            Event::TokenExpiring => {
                fact.cause.as_deref() == Some(rule.token_days.to_string().as_str())
            }
            _ => true,
        };
        if !over_threshold {
            return false;
        }
        let cause = match event {
            Event::Held => fact.cause.clone(),
            _ => None,
        };
        let detail = fact.detail.as_deref().map(|d| cut(d.trim(), DETAIL_MAX));
        let tally = match self
            .tallies
            .iter_mut()
            .find(|t| t.event == event && t.account == fact.account && t.cause == cause)
        {
            Some(t) => t,
            None => {
                self.tallies.push(Tally {
                    event,
                    account: fact.account.clone(),
                    cause,
                    count: 0,
                    detail: detail.clone(),
                    worst_ms: None,
                    items: Vec::new(),
                });
                self.tallies.last_mut().expect("just pushed")
            }
        };
        tally.count += 1;
        if let Some(l) = fact.late_ms {
            tally.worst_ms = Some(tally.worst_ms.map_or(l, |w| w.max(l)));
        }
        let item = match event {
            Event::CampaignBroken => fact.campaign.clone().or(detail),
            _ => detail.filter(|d| tally.detail.as_ref() != Some(d)),
        };
        if let Some(item) = item
            && tally.items.len() < ITEMS_MAX
            && !tally.items.contains(&item)
        {
            tally.items.push(item);
        }
        true
    }

    /// The message that reports this group for `rule`.
    pub fn message(&self, rule: &Rule) -> Message {
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        for t in &self.tallies {
            *counts.entry(t.event.as_str().to_string()).or_default() += t.count;
        }
        let mut tallies: Vec<&Tally> = self.tallies.iter().collect();
        // By event in the order of `Event::ALL`, then the largest first.
        tallies.sort_by_key(|t| (t.event, std::cmp::Reverse(t.count)));
        let mut lines: Vec<String> = tallies
            .iter()
            .take(TALLIES_MAX)
            .map(|t| line(t, rule))
            .collect();
        if tallies.len() > TALLIES_MAX {
            let more: u64 = tallies[TALLIES_MAX..].iter().map(|t| t.count).sum();
            lines.push(format!(
                "… and {more} more in {} other groups: `berrah status` lists them.",
                tallies.len() - TALLIES_MAX
            ));
        }
        let mut accounts: Vec<&str> = self
            .tallies
            .iter()
            .filter_map(|t| t.account.as_deref())
            .collect();
        accounts.sort_unstable();
        accounts.dedup();
        Message {
            rule: rule.name.clone(),
            title: title(&counts),
            lines,
            counts,
            account: match accounts.as_slice() {
                [one] => Some((*one).to_string()),
                _ => None,
            },
        }
    }
}

/// A message as queued: the same words for every target, formatted for
/// each by [`super::send`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub rule: String,
    pub title: String,
    /// One sentence per tally, with the commands in backquotes.
    pub lines: Vec<String>,
    /// How many facts of each event.
    pub counts: BTreeMap<String, u64>,
    /// The one account concerned, when there is only one.
    pub account: Option<String>,
}

impl Message {
    /// The message with every occurrence of `secrets` replaced by `***`
    /// (defence in depth: nothing berrah writes in a message should be one).
    pub fn redacted(mut self, secrets: &[String]) -> Message {
        let hide = |s: &mut String| {
            for secret in secrets.iter().filter(|s| s.len() >= 4) {
                if s.contains(secret.as_str()) {
                    *s = s.replace(secret.as_str(), "***");
                }
            }
        };
        hide(&mut self.title);
        for l in &mut self.lines {
            hide(l);
        }
        self
    }

    /// The plain text: the title, then one line per tally.
    pub fn text(&self) -> String {
        let mut out = self.title.clone();
        for l in &self.lines {
            out.push_str("\n- ");
            out.push_str(l);
        }
        out
    }
}

/// "berrah: 300 posts held, 2 failed".
fn title(counts: &BTreeMap<String, u64>) -> String {
    let mut parts = Vec::new();
    for e in Event::ALL {
        let Some(&n) = counts.get(e.as_str()) else {
            continue;
        };
        parts.push(match e {
            Event::Held => format!("{} held", posts(n)),
            Event::Failed => format!("{} failed", posts(n)),
            Event::Dropped => format!("{} dropped as too late", posts(n)),
            Event::Late => format!("{} published late", posts(n)),
            Event::TokenExpiring => plural(n, "token expiring", "tokens expiring"),
            Event::CampaignBroken => plural(n, "campaign file broken", "campaign files broken"),
            Event::CrashRestart => plural(n, "restart after a crash", "restarts after a crash"),
        });
    }
    format!("berrah: {}", parts.join(", "))
}

fn plural(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

fn posts(n: u64) -> String {
    plural(n, "post", "posts")
}

/// One sentence for one tally, with what to run.
fn line(t: &Tally, rule: &Rule) -> String {
    let acc = t.account.as_deref().unwrap_or("?");
    let why = t
        .detail
        .as_deref()
        .map(|d| format!(" ({d})"))
        .unwrap_or_default();
    let n = t.count;
    match t.event {
        Event::Held => {
            let list = format!("`berrah status --state held --account {acc}`");
            let release = format!("`berrah retry --account {acc} --state held`");
            match t.cause.as_deref() {
                Some("account") => format!(
                    "{} held on `{acc}`: its credentials need an operator{why}. Once they are fixed, release them with {release}; list them with {list}.",
                    posts(n)
                ),
                Some("outcome") => format!(
                    "{} held on `{acc}`: the last attempt may have reached the platform{why}. Look on the platform first; then release those that did not go out with {release} (or `berrah cancel`); list them with {list}.",
                    posts(n)
                ),
                _ => format!(
                    "{} held on `{acc}`{why}. Release them with {release}; list them with {list}.",
                    posts(n)
                ),
            }
        }
        Event::Failed => format!(
            "{} failed on `{acc}`{why}. List them with `berrah status --state failed --account {acc}`; `berrah retry ID` sends one again.",
            posts(n)
        ),
        Event::Dropped => format!(
            "{} on `{acc}` dropped, too late to publish{why}. List them with `berrah status --state expired --account {acc}`.",
            posts(n)
        ),
        Event::Late => format!(
            "{} on `{acc}` went out more than {} after their due time (the latest by {}).",
            posts(n),
            human(rule.late_after),
            human(SignedDuration::from_millis(t.worst_ms.unwrap_or(0)))
        ),
        Event::TokenExpiring => {
            let mut notes = vec![t.detail.clone().unwrap_or_default()];
            notes.extend(t.items.iter().cloned());
            format!("{}.", capitalized(&notes.join("; ")))
        }
        Event::CampaignBroken => format!(
            "{} not valid: {}; the last valid version of each stays scheduled. `berrah check` shows what to fix.",
            if t.items.len() > 1 {
                "Campaign files are"
            } else {
                "A campaign file is"
            },
            t.items
                .iter()
                .map(|f| format!("`{f}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Event::CrashRestart => format!(
            "The daemon restarted after a crash{why}; the work it left is rescued. `berrah status` shows where things stand.",
        ),
    }
}

/// "5m", "1h 30m", "45s": a duration for people.
pub fn human(d: SignedDuration) -> String {
    let secs = d.as_secs().max(0);
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    let mut parts = Vec::new();
    if h > 0 {
        parts.push(format!("{h}h"));
    }
    if m > 0 {
        parts.push(format!("{m}m"));
    }
    if s > 0 || parts.is_empty() {
        parts.push(format!("{s}s"));
    }
    parts.join(" ")
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// At most `max` characters, with `…` when cut.
pub fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::config::{SecretRef, Target};
    use crate::auth::sources::Source;

    fn rule(on: &[Event]) -> Rule {
        Rule {
            name: "comms".into(),
            to: Target::Slack,
            on: on.to_vec(),
            every: SignedDuration::from_mins(15),
            gather: SignedDuration::from_secs(30),
            token_days: 7,
            late_after: SignedDuration::from_mins(5),
            url: Some(SecretRef::Source(Source::Env("X".into()))),
            secret: None,
            smtp: None,
        }
    }

    fn fact(kind: &str, account: &str, cause: Option<&str>, detail: &str) -> FactRow {
        FactRow {
            kind: kind.into(),
            account: Some(account.into()),
            cause: cause.map(Into::into),
            detail: Some(detail.into()),
            ..FactRow::default()
        }
    }

    #[test]
    fn a_burst_of_300_held_posts_is_one_counted_line_with_the_release_command() {
        let r = rule(&Event::ALL);
        let mut g = Group::default();
        for _ in 0..300 {
            assert!(g.add(
                &r,
                &fact(
                    "held",
                    "oim-x",
                    Some("account"),
                    "the environment variable `OIM_X` is not set"
                )
            ));
        }
        assert!(g.add(
            &r,
            &fact("failed", "oim-fb", None, "400: the text is too long")
        ));
        let m = g.message(&r);
        assert_eq!(m.title, "berrah: 300 posts held, 1 post failed");
        assert_eq!(m.lines.len(), 2);
        assert!(m.lines[0].starts_with("300 posts held on `oim-x`: its credentials need an operator (the environment variable `OIM_X` is not set)."), "{}", m.lines[0]);
        assert!(m.lines[0].contains("`berrah retry --account oim-x --state held`"));
        assert!(m.lines[0].contains("`berrah status --state held --account oim-x`"));
        assert!(m.lines[1].contains("1 post failed on `oim-fb`"));
        assert_eq!(m.counts["held"], 300);
        assert_eq!(m.account, None);
    }

    #[test]
    fn rules_take_only_what_they_listen_to_over_their_thresholds() {
        let r = rule(&[Event::Late, Event::TokenExpiring]);
        let mut g = Group::default();
        assert!(!g.add(&r, &fact("held", "a", Some("account"), "x")));
        let late = |ms| FactRow {
            kind: "late".into(),
            account: Some("a".into()),
            late_ms: Some(ms),
            ..FactRow::default()
        };
        assert!(!g.add(&r, &late(4 * 60_000)));
        assert!(g.add(&r, &late(6 * 60_000)));
        assert!(g.add(&r, &late(12 * 60_000 + 30_000)));
        assert!(!g.add(
            &r,
            &fact(
                "token_expiring",
                "fb",
                Some("30"),
                "the token of `fb` expires"
            )
        ));
        assert!(g.add(
            &r,
            &fact(
                "token_expiring",
                "fb",
                Some("7"),
                "the token of `fb` expires on 2027-01-01"
            )
        ));
        let m = g.message(&r);
        assert!(
            m.lines[0].contains("The token of `fb` expires on 2027-01-01."),
            "{:?}",
            m.lines
        );
        assert!(
            m.lines[1].contains(
                "2 posts on `a` went out more than 5m after their due time (the latest by 12m 30s)"
            ),
            "{:?}",
            m.lines
        );
    }

    #[test]
    fn broken_files_are_listed_and_secrets_redacted() {
        let r = rule(&Event::ALL);
        let mut g = Group::default();
        for f in ["campaigns/a.toml", "campaigns/b.toml", "campaigns/a.toml"] {
            g.add(
                &r,
                &FactRow {
                    kind: "campaign_broken".into(),
                    campaign: Some(f.into()),
                    ..FactRow::default()
                },
            );
        }
        g.add(
            &r,
            &fact(
                "failed",
                "w",
                None,
                "refused by https://hooks.example/SECRET-PATH",
            ),
        );
        let m = g
            .message(&r)
            .redacted(&["https://hooks.example/SECRET-PATH".to_string()]);
        let text = m.text();
        assert!(
            text.contains("`campaigns/a.toml`, `campaigns/b.toml`"),
            "{text}"
        );
        assert!(!text.contains("SECRET"), "{text}");
        assert!(text.contains("refused by ***"), "{text}");
    }

    #[test]
    fn groups_round_trip_through_json() {
        let r = rule(&Event::ALL);
        let mut g = Group::default();
        g.add(&r, &fact("dropped", "a", None, "past its limit"));
        let back: Group = serde_json::from_str(&serde_json::to_string(&g).unwrap()).unwrap();
        assert_eq!(back, g);
    }

    #[test]
    fn human_durations() {
        assert_eq!(human(SignedDuration::from_mins(5)), "5m");
        assert_eq!(human(SignedDuration::from_secs(5430)), "1h 30m 30s");
        assert_eq!(human(SignedDuration::ZERO), "0s");
    }
}
