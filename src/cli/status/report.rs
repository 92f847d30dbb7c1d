//! What `berrah status` reports: the shape of `--format json`, documented
//! field by field (its `format_version` changes only when a field changes
//! meaning or goes away).

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Serialize;

use super::attention::Attention;
use super::filter::EntryFilter;
use super::held::HeldGroup;
use crate::auth::sources::CredentialCheck;
use crate::cli::format::Hold;
use crate::config::PlatformKind;
use crate::store::{EntryState, PauseScope};

/// How far back status lists moved entries.
pub const MOVES_SHOWN_DAYS: i64 = 7;

/// What status shows and how much of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusQuery {
    pub campaign: Option<String>,
    pub account: Option<String>,
    /// Every published entry instead of the newest [`PUBLISHED_SHOWN`](super::PUBLISHED_SHOWN).
    pub all: bool,
    /// How many upcoming entries per campaign.
    pub next: usize,
    /// `--state`, `--since`, `--until`.
    pub filter: EntryFilter,
    /// The `env:`/`file:` credentials of berrah.toml, checked.
    pub credentials: Vec<CredentialCheck>,
    /// What releases each account's posts held for credentials, for its
    /// source (`set OIM_X_TOKEN and restart berrah`...); an account not
    /// listed gets `berrah accounts login NAME`.
    pub credential_advice: BTreeMap<String, String>,
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
    /// Every account with held posts or a credential problem (a missing
    /// variable, an unreadable file, a token expired, expiring or refused),
    /// with the reason and the fix (never a secret).
    pub accounts_needing_attention: Vec<Attention>,
    /// Held entries grouped by cause and account, each group with the one
    /// command that releases it.
    pub held_groups: Vec<HeldGroup>,
    /// Rows of the database that cannot be read, with the reason.
    pub corrupt: Vec<CorruptRow>,
    /// The time-zone data this report reads local times with (`null` when
    /// built without a command, as in tests).
    pub tzdb: Option<crate::calendar::tzdb::Summary>,
    /// Waiting entries whose due time moved in the last [`MOVES_SHOWN_DAYS`]
    /// days (a campaign file edited, or new time-zone data), newest first.
    pub moved: Vec<crate::store::Move>,
    /// Anything else worth knowing (e.g. the token store could not be read).
    pub notes: Vec<String>,
    /// The daemons on this database (`null` when built without a store).
    pub instances: Option<super::instances::InstancesStatus>,
}

/// The filters of a report.
#[derive(Debug, Clone, Serialize)]
pub struct ReportFilter {
    pub campaign: Option<String>,
    pub account: Option<String>,
    /// `--state` (empty: every state).
    pub states: Vec<EntryState>,
    /// `--since` and `--until`, read as instants (UTC).
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
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
