//! The store's vocabulary, shared with the scheduler and the CLI.

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::config::PlatformKind;
use crate::plan::Content;
use crate::platforms::Progress;

/// The state of a queue entry. See the module documentation for the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryState {
    Scheduled,
    Claimed,
    Publishing,
    Retrying,
    Published,
    Failed,
    Held,
    Cancelled,
    Expired,
}

impl EntryState {
    pub const ALL: [EntryState; 9] = [
        EntryState::Scheduled,
        EntryState::Claimed,
        EntryState::Publishing,
        EntryState::Retrying,
        EntryState::Published,
        EntryState::Failed,
        EntryState::Held,
        EntryState::Cancelled,
        EntryState::Expired,
    ];

    /// The name stored in the database and shown in status.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryState::Scheduled => "scheduled",
            EntryState::Claimed => "claimed",
            EntryState::Publishing => "publishing",
            EntryState::Retrying => "retrying",
            EntryState::Published => "published",
            EntryState::Failed => "failed",
            EntryState::Held => "held",
            EntryState::Cancelled => "cancelled",
            EntryState::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<EntryState> {
        EntryState::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Published, failed, cancelled or expired: nothing will happen to it any more.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            EntryState::Published
                | EntryState::Failed
                | EntryState::Cancelled
                | EntryState::Expired
        )
    }

    /// Claimed or publishing: a worker holds it; sync never touches it.
    pub fn is_in_flight(self) -> bool {
        matches!(self, EntryState::Claimed | EntryState::Publishing)
    }
}

impl fmt::Display for EntryState {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A queue entry as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The occurrence id from the plan.
    pub id: String,
    pub campaign: String,
    pub capsule: Option<String>,
    pub post: String,
    pub account: String,
    pub platform: PlatformKind,
    pub language: String,
    pub series: Option<String>,
    pub due: Timestamp,
    pub local: String,
    pub timezone: String,
    pub not_after: Timestamp,
    /// When it may next be claimed (`due`, or later after a retry).
    pub run_at: Timestamp,
    pub state: EntryState,
    /// Attempts started so far.
    pub attempts: u32,
    pub content: Content,
    pub progress: Progress,
    pub lease_owner: Option<String>,
    pub lease_until: Option<Timestamp>,
    pub remote_id: Option<String>,
    pub url: Option<String>,
    pub published_at: Option<Timestamp>,
    /// The last error or the reason it is held, in words an operator can act on.
    pub last_error: Option<String>,
    pub updated_at: Timestamp,
}

/// One attempt at publishing an entry, as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    pub entry_id: String,
    pub number: u32,
    pub owner: String,
    pub started_at: Timestamp,
    pub finished_at: Option<Timestamp>,
    /// `published`, `retry`, `failed`, `needs_operator`, `unknown`, or `None` while running.
    pub outcome: Option<String>,
    /// The platform's answer (status, body excerpt), never a secret.
    pub detail: Option<String>,
}

/// What a sync of one campaign's occurrences changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncReport {
    pub added: usize,
    pub updated: usize,
    pub cancelled: usize,
    pub unchanged: usize,
    /// Edits that arrived for entries already published or in flight, left as they are.
    pub frozen: usize,
    /// Waiting entries whose due time this sync moved.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub moves: Vec<Move>,
}

/// A waiting entry whose due time a sync moved, and why: the daemon logs
/// each one, and `berrah status` lists those of the last week.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Move {
    pub id: String,
    pub campaign: String,
    pub post: String,
    pub account: String,
    pub language: String,
    pub timezone: String,
    pub from_due: Timestamp,
    /// RFC 3339 local time with its offset, as planned before.
    pub from_local: String,
    pub to_due: Timestamp,
    pub to_local: String,
    /// `tzdata 2025b → 2026f`, `campaign file edited`, or both.
    pub reason: String,
    pub at: Timestamp,
}

/// What `berrah pause` applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PauseScope {
    Campaign,
    Account,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the database {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("cannot migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
    /// A row that does not decode (a corrupted or hand-edited database):
    /// reported with the row's id, never a panic.
    #[error("entry {id} in the database is unreadable: {why}")]
    Corrupt { id: String, why: String },
    #[error("no queue entry with id `{0}`")]
    NotFound(String),
    #[error("entry {id} is {state}: {why}")]
    WrongState {
        id: String,
        state: EntryState,
        why: String,
    },
    #[error("unsupported database URL `{0}`: use sqlite://PATH or postgres://...")]
    UnsupportedUrl(String),
    /// An id prefix that matches several entries (`berrah show o-3f`).
    #[error("`{prefix}` matches several entries: {}; give more characters", candidates.join(", "))]
    Ambiguous {
        prefix: String,
        candidates: Vec<String>,
    },
    /// A write of the SQLite group-commit writer that did not commit (why).
    #[error("database write failed: {0}")]
    Writer(String),
    /// An occurrence that cannot be written (its content does not serialize,
    /// e.g. a media path that is not UTF-8).
    #[error("entry {id} cannot be stored: {why}")]
    Unstorable { id: String, why: String },
}

impl Entry {
    /// An entry of the AMAL campaign due on 18 December 2026 at 09:00 UTC,
    /// for unit tests of whatever shows or counts entries.
    #[cfg(test)]
    pub(crate) fn sample(id: &str, account: &str, state: EntryState) -> Entry {
        let t = |s: &str| -> Timestamp { s.parse().unwrap() };
        Entry {
            id: id.into(),
            campaign: "amal".into(),
            capsule: None,
            post: "p1".into(),
            account: account.into(),
            platform: crate::config::PlatformKind::Mastodon,
            language: "fr".into(),
            series: None,
            due: t("2026-12-18T09:00:00Z"),
            local: "2026-12-18T09:00:00+00:00".into(),
            timezone: "Africa/Casablanca".into(),
            not_after: t("2026-12-19T09:00:00Z"),
            run_at: t("2026-12-18T09:00:00Z"),
            state,
            attempts: 0,
            content: crate::plan::Content::default(),
            progress: crate::platforms::Progress::default(),
            lease_owner: None,
            lease_until: None,
            remote_id: None,
            url: None,
            published_at: None,
            last_error: None,
            updated_at: t("2026-12-18T09:00:00Z"),
        }
    }
}
