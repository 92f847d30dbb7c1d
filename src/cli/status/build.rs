//! Building the report from what was read from the store (pure: no I/O, no
//! clock): entries grouped per campaign and state, each shown with its short
//! id, local times and hold (see `cli::format`), and the posts published on
//! some accounts only.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use jiff::Timestamp;

use super::attention::needing_attention;
use super::held::held_groups;
use super::report::{
    CampaignStatus, CorruptRow, Part, PartlyPublished, PauseItem, ReportFilter, StatusEntry,
    StatusQuery, StatusReport,
};
use crate::auth::ExpiryWarning;
use crate::cli::format::{hold_for, local_time, short_id, short_ids};
use crate::store::{Entry, EntryState, PauseScope, StoreError};
use crate::text::sanitize::{for_terminal, for_terminal_opt};

/// Published entries shown per campaign without `--all`.
pub const PUBLISHED_SHOWN: usize = 10;

fn empty_counts() -> BTreeMap<EntryState, u64> {
    EntryState::ALL.into_iter().map(|s| (s, 0)).collect()
}

pub(super) fn status_entry(
    e: &Entry,
    paused: bool,
    causes: &HashMap<String, Option<String>>,
    shorts: &HashMap<String, String>,
) -> StatusEntry {
    let short = shorts
        .get(&e.id)
        .cloned()
        .unwrap_or_else(|| short_id(&e.id));
    let waits_later = matches!(
        e.state,
        EntryState::Scheduled | EntryState::Retrying | EntryState::Held
    ) && e.run_at > e.due;
    let next_attempt = waits_later.then_some(e.run_at);
    StatusEntry {
        id: e.id.clone(),
        state: e.state,
        campaign: e.campaign.clone(),
        capsule: e.capsule.clone(),
        post: e.post.clone(),
        account: e.account.clone(),
        platform: e.platform,
        language: e.language.clone(),
        due: e.due,
        due_local: if e.local.is_empty() {
            local_time(e.due, &e.timezone)
        } else {
            e.local.clone()
        },
        timezone: e.timezone.clone(),
        next_attempt,
        next_attempt_local: next_attempt.map(|t| local_time(t, &e.timezone)),
        attempts: e.attempts,
        // What the platforms answered: never a terminal control sequence.
        url: for_terminal_opt(e.url.as_deref()),
        remote_id: for_terminal_opt(e.remote_id.as_deref()),
        published_at: e.published_at,
        published_at_local: e.published_at.map(|t| local_time(t, &e.timezone)),
        last_error: for_terminal_opt(e.last_error.as_deref()),
        lease_owner: e.lease_owner.clone(),
        lease_until: e.lease_until,
        paused,
        hold: (e.state == EntryState::Held)
            .then(|| hold_for(e, &short, causes.get(&e.id).and_then(|c| c.as_deref()))),
        short_id: short,
    }
}

/// Builds the report from what was read (pure: no I/O, no clock).
/// `causes` maps held entries' ids to their stored cause.
#[allow(clippy::too_many_arguments)]
pub fn build_report(
    entries: Vec<Entry>,
    corrupt: Vec<StoreError>,
    pauses: Vec<(PauseScope, String)>,
    causes: &HashMap<String, Option<String>>,
    warnings: Vec<ExpiryWarning>,
    notes: Vec<String>,
    query: &StatusQuery,
    now: Timestamp,
    database: &str,
) -> StatusReport {
    let paused_campaigns: BTreeSet<&str> = pauses
        .iter()
        .filter(|(s, _)| *s == PauseScope::Campaign)
        .map(|(_, n)| n.as_str())
        .collect();
    let paused_accounts: BTreeSet<&str> = pauses
        .iter()
        .filter(|(s, _)| *s == PauseScope::Account)
        .map(|(_, n)| n.as_str())
        .collect();
    let accounts_seen: BTreeSet<String> = entries.iter().map(|e| e.account.clone()).collect();
    let platforms: HashMap<String, String> = entries
        .iter()
        .map(|e| (e.account.clone(), e.platform.to_string()))
        .collect();
    let mut entries = entries;
    entries.retain(|e| query.filter.keeps(e));
    let shorts = short_ids(entries.iter().map(|e| e.id.as_str()));

    let mut by_campaign: BTreeMap<String, Vec<Entry>> = BTreeMap::new();
    for e in entries {
        by_campaign.entry(e.campaign.clone()).or_default().push(e);
    }
    // A paused campaign with nothing queued is still worth a line.
    if query.account.is_none() {
        for c in &paused_campaigns {
            if query.campaign.as_deref().is_none_or(|q| q == *c) {
                by_campaign.entry((*c).to_string()).or_default();
            }
        }
    }

    let mut counts = empty_counts();
    let mut campaigns = Vec::new();
    for (name, mut list) in by_campaign {
        let campaign_paused = paused_campaigns.contains(name.as_str());
        let is_paused = |e: &Entry| campaign_paused || paused_accounts.contains(e.account.as_str());
        let mut c = CampaignStatus {
            paused: campaign_paused,
            counts: empty_counts(),
            next: vec![],
            in_flight: vec![],
            published: vec![],
            retrying: vec![],
            failed: vec![],
            held: vec![],
            partly_published: partly_published(&list, &shorts),
            name,
        };
        list.sort_by(|a, b| (a.run_at, &a.id).cmp(&(b.run_at, &b.id)));
        let mut published = Vec::new();
        for e in &list {
            *c.counts.entry(e.state).or_default() += 1;
            *counts.entry(e.state).or_default() += 1;
            let shown = || status_entry(e, is_paused(e), causes, &shorts);
            match e.state {
                EntryState::Scheduled if c.next.len() < query.next => c.next.push(shown()),
                EntryState::Claimed | EntryState::Publishing => c.in_flight.push(shown()),
                EntryState::Retrying => c.retrying.push(shown()),
                EntryState::Failed => c.failed.push(shown()),
                EntryState::Held => c.held.push(shown()),
                EntryState::Published => published.push(e),
                _ => {}
            }
        }
        published.sort_by(|a, b| {
            (b.published_at.unwrap_or(b.due), &b.id).cmp(&(a.published_at.unwrap_or(a.due), &a.id))
        });
        let keep = if query.all {
            published.len()
        } else {
            PUBLISHED_SHOWN
        };
        c.published = published
            .into_iter()
            .take(keep)
            .map(|e| status_entry(e, is_paused(e), causes, &shorts))
            .collect();
        for e in &mut c.held {
            if let Some(h) = &mut e.hold
                && h.cause == "credentials"
                && let Some(advice) = query.credential_advice.get(&e.account)
            {
                h.release = advice.clone();
            }
        }
        campaigns.push(c);
    }

    let paused = pauses
        .iter()
        .filter(|(scope, name)| match scope {
            PauseScope::Campaign => query.campaign.as_deref().is_none_or(|q| q == name),
            PauseScope::Account => {
                query.account.as_deref().is_none_or(|q| q == name)
                    && (query.campaign.is_none() || accounts_seen.contains(name))
            }
        })
        .map(|(scope, name)| PauseItem {
            scope: *scope,
            name: name.clone(),
        })
        .collect();
    let concerned = |account: &str| match (&query.account, &query.campaign) {
        (Some(a), _) => account == a,
        (None, Some(_)) => accounts_seen.contains(account),
        (None, None) => true,
    };
    let warnings = warnings
        .into_iter()
        .filter(|w| concerned(&w.account))
        .collect();
    let checks: Vec<_> = query
        .credentials
        .iter()
        .filter(|c| concerned(&c.account))
        .cloned()
        .collect();
    let held_groups = held_groups(campaigns.iter().flat_map(|c| &c.held));
    let accounts_needing_attention = needing_attention(&checks, warnings, &held_groups, &|a| {
        platforms.get(a).cloned().unwrap_or_default()
    });
    let corrupt = corrupt
        .into_iter()
        .map(|e| CorruptRow {
            id: match &e {
                StoreError::Corrupt { id, .. } => id.clone(),
                _ => "?".into(),
            },
            error: for_terminal(&e.to_string()).into_owned(),
        })
        .collect();
    StatusReport {
        format_version: 1,
        generated_at: now,
        database: database.to_string(),
        filter: ReportFilter {
            campaign: query.campaign.clone(),
            account: query.account.clone(),
            states: query.filter.states.clone(),
            since: query.filter.since,
            until: query.filter.until,
        },
        counts,
        campaigns,
        paused,
        accounts_needing_attention,
        held_groups,
        corrupt,
        tzdb: None,
        moved: Vec::new(),
        notes,
        instances: None,
    }
}

/// The posts of a campaign that are out on some accounts or languages and
/// not on the others (grouped by capsule, post and due time).
fn partly_published(list: &[Entry], shorts: &HashMap<String, String>) -> Vec<PartlyPublished> {
    let mut groups: BTreeMap<(Timestamp, Option<&str>, &str), Vec<&Entry>> = BTreeMap::new();
    for e in list {
        groups
            .entry((e.due, e.capsule.as_deref(), e.post.as_str()))
            .or_default()
            .push(e);
    }
    let part = |e: &Entry| Part {
        short_id: shorts
            .get(&e.id)
            .cloned()
            .unwrap_or_else(|| short_id(&e.id)),
        account: e.account.clone(),
        language: e.language.clone(),
        state: e.state,
        url: for_terminal_opt(e.url.as_deref()),
    };
    groups
        .into_values()
        .filter_map(|g| {
            let (out, not): (Vec<&Entry>, Vec<&Entry>) = g
                .into_iter()
                .partition(|e| e.state == EntryState::Published);
            let first = *out.first()?;
            if not.is_empty() {
                return None;
            }
            Some(PartlyPublished {
                capsule: first.capsule.clone(),
                post: first.post.clone(),
                due: first.due,
                due_local: if first.local.is_empty() {
                    local_time(first.due, &first.timezone)
                } else {
                    first.local.clone()
                },
                published: out.iter().map(|e| part(e)).collect(),
                missing: not.iter().map(|e| part(e)).collect(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::status::fixtures::{entry, query, t};

    #[test]
    fn held_entries_say_what_releases_them() {
        let creds = entry("o-1111111111111", "oim-fb", EntryState::Held);
        let unknown = entry("o-2222222222222", "oim-x", EntryState::Held);
        let file = entry("o-3333333333333", "oim-x", EntryState::Held);
        let causes: HashMap<String, Option<String>> = [
            (creds.id.clone(), Some("account".to_string())),
            (unknown.id.clone(), Some("outcome".to_string())),
            (file.id.clone(), Some("file_pause".to_string())),
        ]
        .into_iter()
        .collect();
        let r = build_report(
            vec![creds, unknown, file],
            vec![],
            vec![(PauseScope::Account, "oim-x".into())],
            &causes,
            vec![],
            vec![],
            &query(),
            t("2026-12-18T10:00:00Z"),
            "sqlite",
        );
        let held = &r.campaigns[0].held;
        let releases: Vec<&str> = held
            .iter()
            .map(|e| e.hold.as_ref().unwrap().release.as_str())
            .collect();
        assert_eq!(releases[0], "berrah accounts login oim-fb");
        assert!(releases[1].contains("berrah retry o-2222222222"));
        assert!(releases[2].contains("paused = true"));
        assert!(held[1].paused && !held[0].paused);
        assert_eq!(r.paused[0].name, "oim-x");
    }
}
