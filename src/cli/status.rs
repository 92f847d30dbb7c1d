//! `berrah status`: what is due, in flight, published, retrying, failed and
//! held, per campaign, read from the database (so it works whether or not a
//! daemon is running).
//!
//! The table is for people: per campaign, the next posts due (local time in
//! the campaign's zone and UTC), what is in flight (by which instance, lease
//! until when), what was published (newest first, with the platform's URL),
//! what is retrying (attempts, next attempt, last reason), what failed (the
//! platform's message), what is held (why, and the command that releases
//! it), posts published on some accounts and not on others, then the paused
//! campaigns and accounts and the accounts whose credentials need an operator
//! soon. Ids are shortened to their first 12 characters (every command takes
//! a prefix). Colour only on a terminal, never with `NO_COLOR` set.
//!
//! `--format json` prints one object, documented on [`StatusReport`]; its
//! `format_version` changes only when a field changes meaning or goes away
//! (new fields may appear). Instants are RFC 3339 in UTC (`...Z`); each
//! `*_local` field is the same instant in the campaign's zone with its offset.
//!
//! Unreadable (corrupt) rows are listed with the reason, never a crash.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::io::{IsTerminal, Write as _};
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use jiff::Timestamp;
use serde::Serialize;

use super::GlobalArgs;
use crate::auth::ExpiryWarning;
use crate::auth::sources::stored_expiry_warnings;
use crate::auth::tokens::SqlTokenStore;
use crate::config::PlatformKind;
use crate::store::{Entry, EntryState, ListFilter, PauseScope, Store, StoreError};

/// How many characters of an id are shown (`get` accepts any unique prefix).
pub const SHORT_ID: usize = 12;

/// Published entries shown per campaign without `--all`.
pub const PUBLISHED_SHOWN: usize = 10;

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Output format: a table for people, JSON for tools.
    #[arg(long, value_enum, default_value_t = StatusFormat::Table)]
    pub format: StatusFormat,
    /// Only this campaign.
    #[arg(long, value_name = "CAMPAIGN")]
    pub campaign: Option<String>,
    /// Only this account.
    #[arg(long, value_name = "ACCOUNT")]
    pub account: Option<String>,
    /// Show every published entry (default: the newest 10 per campaign).
    #[arg(long)]
    pub all: bool,
    /// How many of the next posts due to show per campaign.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub next: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusFormat {
    Table,
    Json,
}

/// What status shows and how much of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusQuery {
    pub campaign: Option<String>,
    pub account: Option<String>,
    /// Every published entry instead of the newest [`PUBLISHED_SHOWN`].
    pub all: bool,
    /// How many upcoming entries per campaign.
    pub next: usize,
}

/// The whole status, as printed by `--format json`.
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    /// 1 for this shape.
    pub format_version: u32,
    /// The "now" the report was made at (UTC).
    pub generated_at: Timestamp,
    /// `"sqlite"` or `"postgres"`.
    pub database: String,
    /// The filters applied (`null` when absent).
    pub filter: ReportFilter,
    /// Entries per state over everything shown (every state is present).
    pub counts: BTreeMap<EntryState, u64>,
    pub campaigns: Vec<CampaignStatus>,
    /// Pauses in force (`berrah pause`), as `{scope, name}`.
    pub paused: Vec<PauseItem>,
    /// Accounts whose credentials need an operator now or soon (never a secret).
    pub accounts_needing_attention: Vec<ExpiryWarning>,
    /// Rows of the database that cannot be read, with the reason.
    pub corrupt: Vec<CorruptRow>,
    /// Anything else worth knowing (e.g. the token store could not be read).
    pub notes: Vec<String>,
}

/// The filters of a report.
#[derive(Debug, Clone, Serialize)]
pub struct ReportFilter {
    pub campaign: Option<String>,
    pub account: Option<String>,
}

/// One campaign's queue.
#[derive(Debug, Clone, Serialize)]
pub struct CampaignStatus {
    pub name: String,
    /// Paused by `berrah pause` (nothing of it is published until resumed).
    pub paused: bool,
    /// Entries per state (every state is present).
    pub counts: BTreeMap<EntryState, u64>,
    /// The next scheduled entries by the time they may go out (at most `--next`).
    pub next: Vec<StatusEntry>,
    /// Claimed or being published by a daemon.
    pub in_flight: Vec<StatusEntry>,
    /// Published, newest first (the newest 10 unless `--all`; see `counts`).
    pub published: Vec<StatusEntry>,
    /// Waiting to be tried again after a transient fault.
    pub retrying: Vec<StatusEntry>,
    /// Refused for good, with the platform's message.
    pub failed: Vec<StatusEntry>,
    /// Waiting for an operator; `hold` says why and what releases them.
    pub held: Vec<StatusEntry>,
    /// Posts published on some accounts (or languages) and not on others.
    pub partly_published: Vec<PartlyPublished>,
}

/// One queue entry as status shows it.
#[derive(Debug, Clone, Serialize)]
pub struct StatusEntry {
    pub id: String,
    /// The first 12 characters of `id`, enough for every command.
    pub short_id: String,
    pub state: EntryState,
    pub campaign: String,
    pub capsule: Option<String>,
    pub post: String,
    pub account: String,
    pub platform: PlatformKind,
    pub language: String,
    /// When it is due (UTC).
    pub due: Timestamp,
    /// The same instant in the campaign's zone, with its offset.
    pub due_local: String,
    /// The campaign's IANA time zone.
    pub timezone: String,
    /// When it will be tried (again), if it waits for a later time than `due`
    /// (retrying, or rescheduled by an operator).
    pub next_attempt: Option<Timestamp>,
    pub next_attempt_local: Option<String>,
    /// Attempts started so far.
    pub attempts: u32,
    /// The post's public URL, once published.
    pub url: Option<String>,
    /// The platform's id of the post.
    pub remote_id: Option<String>,
    pub published_at: Option<Timestamp>,
    pub published_at_local: Option<String>,
    /// The last error, or why it is held, cancelled or expired.
    pub last_error: Option<String>,
    /// The daemon instance holding it (in flight).
    pub lease_owner: Option<String>,
    pub lease_until: Option<Timestamp>,
    /// Its campaign or account is paused by `berrah pause`.
    pub paused: bool,
    /// For held entries: why, and what releases them.
    pub hold: Option<Hold>,
}

/// Why an entry is held and what an operator does about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hold {
    /// `credentials` (the account needs a login), `unknown_outcome` (the
    /// last attempt may have reached the platform), `paused_in_file`
    /// (`paused = true` in the campaign file) or `operator`.
    pub cause: String,
    /// The command or action that releases it.
    pub release: String,
}

/// A post (one slot of it) published on some accounts and not others.
#[derive(Debug, Clone, Serialize)]
pub struct PartlyPublished {
    pub capsule: Option<String>,
    pub post: String,
    pub due: Timestamp,
    pub due_local: String,
    /// `account/language` where it is out, with the URL.
    pub published: Vec<Part>,
    /// `account/language` where it is not, with the entry's state.
    pub missing: Vec<Part>,
}

/// One entry of a [`PartlyPublished`] post.
#[derive(Debug, Clone, Serialize)]
pub struct Part {
    pub short_id: String,
    pub account: String,
    pub language: String,
    pub state: EntryState,
    pub url: Option<String>,
}

/// A pause in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PauseItem {
    /// `campaign` or `account`.
    pub scope: PauseScope,
    pub name: String,
}

/// A database row that cannot be read.
#[derive(Debug, Clone, Serialize)]
pub struct CorruptRow {
    pub id: String,
    pub error: String,
}

/// An instant shown in `timezone` with its offset (`2026-12-18T10:00:00+01:00`);
/// in UTC when the zone is unknown (a hand-edited database).
pub fn local_time(at: Timestamp, timezone: &str) -> String {
    match at.in_tz(timezone) {
        Ok(z) => z.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string(),
        Err(_) => at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
    }
}

/// The first [`SHORT_ID`] characters of an id.
pub fn short_id(id: &str) -> String {
    id.chars().take(SHORT_ID).collect()
}

/// The shortest prefix of each id, at least [`SHORT_ID`] characters long,
/// that no other id of `ids` starts with (ids are random hashes, so this is
/// nearly always the first 12 characters).
pub fn short_ids<'a>(ids: impl IntoIterator<Item = &'a str>) -> HashMap<String, String> {
    let mut sorted: Vec<&str> = ids.into_iter().collect();
    sorted.sort_unstable();
    sorted.dedup();
    let common = |a: &str, b: &str| a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count();
    let mut out = HashMap::with_capacity(sorted.len());
    for (i, id) in sorted.iter().enumerate() {
        let before = i.checked_sub(1).map_or(0, |j| common(sorted[j], id));
        let after = sorted.get(i + 1).map_or(0, |n| common(n, id));
        let len = SHORT_ID.max(before.max(after) + 1);
        out.insert((*id).to_string(), id.chars().take(len).collect());
    }
    out
}

/// What releases a held entry, from its stored cause (`state_cause`);
/// `short` is the id to show in commands.
pub fn hold_for(entry: &Entry, short: &str, cause: Option<&str>) -> Hold {
    match cause {
        Some("account") => Hold {
            cause: "credentials".into(),
            release: format!("berrah accounts login {}", entry.account),
        },
        Some("file_pause") => Hold {
            cause: "paused_in_file".into(),
            release: "remove `paused = true` from the campaign file".into(),
        },
        Some("outcome") => Hold {
            cause: "unknown_outcome".into(),
            release: format!(
                "look on {} whether it went out; if not, `berrah retry {short}`, \
                 else `berrah cancel {short}`",
                entry.account
            ),
        },
        _ => Hold {
            cause: "operator".into(),
            release: format!("berrah retry {short}"),
        },
    }
}

fn empty_counts() -> BTreeMap<EntryState, u64> {
    EntryState::ALL.into_iter().map(|s| (s, 0)).collect()
}

fn status_entry(
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
        url: e.url.clone(),
        remote_id: e.remote_id.clone(),
        published_at: e.published_at,
        published_at_local: e.published_at.map(|t| local_time(t, &e.timezone)),
        last_error: e.last_error.clone(),
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
    let accounts_needing_attention = warnings
        .into_iter()
        .filter(|w| match (&query.account, &query.campaign) {
            (Some(a), _) => &w.account == a,
            (None, Some(_)) => accounts_seen.contains(&w.account),
            (None, None) => true,
        })
        .collect();
    let corrupt = corrupt
        .into_iter()
        .map(|e| CorruptRow {
            id: match &e {
                StoreError::Corrupt { id, .. } => id.clone(),
                _ => "?".into(),
            },
            error: e.to_string(),
        })
        .collect();
    StatusReport {
        format_version: 1,
        generated_at: now,
        database: database.to_string(),
        filter: ReportFilter {
            campaign: query.campaign.clone(),
            account: query.account.clone(),
        },
        counts,
        campaigns,
        paused,
        accounts_needing_attention,
        corrupt,
        notes,
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
        url: e.url.clone(),
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

/// Reads everything status shows from the store (and its token table).
pub async fn collect(
    store: &Store,
    query: &StatusQuery,
    now: Timestamp,
) -> Result<StatusReport, StoreError> {
    let filter = ListFilter {
        campaign: query.campaign.clone(),
        account: query.account.clone(),
        ..ListFilter::default()
    };
    let (entries, corrupt) = store.list_checked(&filter).await?;
    let pauses = store.pauses().await?;
    let causes = store.held_causes().await?;
    let mut notes = Vec::new();
    let tokens = SqlTokenStore::from_store(store);
    let warnings = match stored_expiry_warnings(&tokens, now).await {
        Ok(w) => w,
        Err(e) => {
            notes.push(format!("the accounts' stored tokens cannot be read: {e}"));
            Vec::new()
        }
    };
    Ok(build_report(
        entries,
        corrupt,
        pauses,
        &causes,
        warnings,
        notes,
        query,
        now,
        store.backend_name(),
    ))
}

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
                let owner = e.lease_owner.as_deref().unwrap_or("?");
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
            let _ = writeln!(out, "  {}", style.state(EntryState::Held, "held:"));
            for e in &c.held {
                let release = e
                    .hold
                    .as_ref()
                    .map(|h| {
                        if h.release.starts_with("berrah ") {
                            format!("`{}`", h.release)
                        } else {
                            h.release.clone()
                        }
                    })
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "    {}  due {}: {}; release: {release}",
                    line_head(e),
                    when(&e.due_local, e.due),
                    e.last_error.as_deref().unwrap_or("held for an operator"),
                );
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

pub fn run(global: &GlobalArgs, args: StatusArgs) -> ExitCode {
    let (runtime, loaded, url) = match super::ops::prepare(global) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let query = StatusQuery {
        campaign: args.campaign,
        account: args.account,
        all: args.all,
        next: args.next,
    };
    let now = loaded.now;
    let result = runtime.block_on(async {
        let store = super::ops::open_store(&url).await?;
        let report = collect(&store, &query, now)
            .await
            .map_err(|e| format!("cannot read the queue: {e}"));
        store.close().await;
        report
    });
    let report = match result {
        Ok(r) => r,
        Err(message) => return super::fail(message),
    };
    let text = match args.format {
        StatusFormat::Table => render_table(&report, Style::detect()),
        StatusFormat::Json => render_json(&report),
    };
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Content;
    use crate::platforms::Progress;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn entry(id: &str, account: &str, state: EntryState) -> Entry {
        Entry {
            id: id.into(),
            campaign: "amal".into(),
            capsule: None,
            post: "p1".into(),
            account: account.into(),
            platform: PlatformKind::Mastodon,
            language: "fr".into(),
            series: None,
            due: t("2026-12-18T09:00:00Z"),
            local: "2026-12-18T10:00:00+01:00".into(),
            timezone: "Africa/Casablanca".into(),
            not_after: t("2026-12-19T09:00:00Z"),
            run_at: t("2026-12-18T09:00:00Z"),
            state,
            attempts: 0,
            content: Content::default(),
            progress: Progress::default(),
            lease_owner: None,
            lease_until: None,
            remote_id: None,
            url: None,
            published_at: None,
            last_error: None,
            updated_at: t("2026-12-18T09:00:00Z"),
        }
    }

    fn query() -> StatusQuery {
        StatusQuery {
            next: 5,
            ..StatusQuery::default()
        }
    }

    #[test]
    fn short_ids_grow_only_to_stay_unique() {
        let s = short_ids([
            "o-3fa9c2d1e4b5a6f7",
            "o-3fa9c2d1e4b5ffff",
            "o-3fa9c2d1e4b4aaaa",
            "o-0000000000000000",
            "short",
        ]);
        assert_eq!(s["o-0000000000000000"], "o-0000000000");
        assert_eq!(s["o-3fa9c2d1e4b5a6f7"], "o-3fa9c2d1e4b5a");
        assert_eq!(s["o-3fa9c2d1e4b5ffff"], "o-3fa9c2d1e4b5f");
        assert_eq!(s["o-3fa9c2d1e4b4aaaa"], "o-3fa9c2d1e4b4");
        assert_eq!(s["short"], "short");
    }

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
            "2026-12-18T10:00:00+01:00"
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
