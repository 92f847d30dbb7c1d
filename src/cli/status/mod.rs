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
//! Filters: `--campaign`, `--account` (unknown names are usage errors with
//! the closest known one, exit status 2), `--state` and `--since`/`--until`
//! ([`filter`]: the entries whose last change falls in the period). Held
//! entries are shown once per cause and account ([`held`]), with the one
//! command that releases the group; `accounts_needing_attention`
//! ([`attention`]) lists every account with held posts or a credential
//! problem. `--history` ([`history`]) shows instead what happened in a
//! period: published (with URLs), failed, held, dropped, cancelled.
//!
//! Unreadable (corrupt) rows are listed with the reason, never a crash.

mod attention;
mod build;
mod collect;
mod filter;
mod held;
mod history;
pub mod instances;
mod render;
mod report;

use std::io::Write as _;
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use super::GlobalArgs;
use super::queue;

pub use self::attention::Attention;
pub use self::build::{PUBLISHED_SHOWN, build_report};
pub use self::collect::{collect, collect_history};
pub use self::filter::{EntryFilter, operator_zone, parse_state, parse_when};
pub use self::held::HeldGroup;
pub use self::history::{
    DEFAULT_DAYS as HISTORY_DAYS, HistoryEvent, HistoryReport, render_history,
};
// Shown by status, shared with `ops`: public here as they were before `cli::format`.
pub use self::render::{Style, render_json, render_table};
pub use self::report::{
    CampaignStatus, CorruptRow, MOVES_SHOWN_DAYS, Part, PartlyPublished, PauseItem, ReportFilter,
    StatusEntry, StatusQuery, StatusReport,
};
pub use super::format::{Hold, SHORT_ID, hold_for, local_time, short_id, short_ids};

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
    /// Only entries in these states (comma-separated: scheduled, published,
    /// retrying, failed, held, dropped (expired), cancelled...).
    #[arg(long, value_name = "STATE", value_delimiter = ',', value_parser = parse_state)]
    pub state: Vec<crate::store::EntryState>,
    /// Only entries that changed since then: a date (2026-12-14), a date and
    /// time, a duration back (7d, 36h) or today, yesterday, "this week",
    /// "last week", "this month" (in the system's time zone).
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Only entries that changed before then (same forms as --since).
    #[arg(long, value_name = "WHEN")]
    pub until: Option<String>,
    /// What happened in the period instead (published with URLs, failed,
    /// held, dropped, cancelled), oldest first [default --since: 7d].
    #[arg(long)]
    pub history: bool,
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

/// A usage error (exit status 2): an unknown name, an unreadable moment.
fn usage(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

pub fn run(global: &GlobalArgs, args: StatusArgs) -> ExitCode {
    let (runtime, loaded, url) = match queue::prepare(global) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let now = loaded.now;
    let zone = filter::operator_zone();
    let when = |text: &Option<String>| -> Result<Option<jiff::Timestamp>, String> {
        text.as_deref()
            .map(|t| parse_when(t, now, &zone))
            .transpose()
    };
    let (since, until) = match (when(&args.since), when(&args.until)) {
        (Ok(s), Ok(u)) => (s, u),
        (Err(e), _) | (_, Err(e)) => return usage(e),
    };
    let query = StatusQuery {
        campaign: args.campaign,
        account: args.account,
        all: args.all,
        next: args.next,
        filter: EntryFilter {
            states: args.state,
            since,
            until,
        },
        ..StatusQuery::for_config(&loaded.config, &loaded.config_dir())
    };
    enum Shown {
        Status(Box<StatusReport>),
        History(Box<HistoryReport>),
    }
    let result = runtime.block_on(async {
        let store = queue::open_store(&url)
            .await
            .map_err(|e| (1u8, e.to_string()))?;
        let shown = async {
            check_names(&store, &loaded.config, &loaded.campaigns_dir, &query)
                .await
                .map_err(|e| match e {
                    NameError::Unknown(m) => (2u8, m),
                    e @ NameError::Read(_) => (1u8, e.to_string()),
                })?;
            let read = |e: crate::store::StoreError| (1u8, format!("cannot read the queue: {e}"));
            if args.history {
                let from = query.filter.since.unwrap_or_else(|| {
                    now.checked_sub(jiff::SignedDuration::from_hours(24 * history::DEFAULT_DAYS))
                        .unwrap_or(now)
                });
                let until = query.filter.until.unwrap_or(now);
                collect_history(&store, &query, from, until, now)
                    .await
                    .map(|h| Shown::History(Box::new(h)))
                    .map_err(read)
            } else {
                collect(&store, &query, now)
                    .await
                    .map(|mut r| {
                        r.tzdb = Some(loaded.tzdb.summary());
                        Shown::Status(Box::new(r))
                    })
                    .map_err(read)
            }
        }
        .await;
        store.close().await;
        shown
    });
    let shown = match result {
        Ok(r) => r,
        Err((2, message)) => return usage(message),
        Err((_, message)) => return super::fail(message),
    };
    let text = match (shown, args.format) {
        (Shown::Status(r), StatusFormat::Table) => render_table(&r, Style::detect()),
        (Shown::Status(r), StatusFormat::Json) => render_json(&r),
        (Shown::History(h), StatusFormat::Table) => render_history(&h),
        (Shown::History(h), StatusFormat::Json) => match serde_json::to_string_pretty(&h) {
            Ok(s) => s + "\n",
            Err(e) => return super::fail(format!("cannot write JSON: {e}")),
        },
    };
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
    ExitCode::SUCCESS
}

impl StatusQuery {
    /// A query with the credentials of `config` checked (its `env:`/`file:`
    /// sources, and what releases each account's posts held for them),
    /// `config_dir` the folder its relative paths start from; five posts
    /// due per campaign, no filter.
    pub fn for_config(config: &crate::config::Config, config_dir: &std::path::Path) -> StatusQuery {
        StatusQuery {
            next: 5,
            credentials: crate::auth::sources::check_credentials(config, config_dir),
            credential_advice: config
                .accounts
                .iter()
                .filter_map(|(a, c)| {
                    let source = c.credentials.as_ref()?.get_ref();
                    let advice =
                        crate::auth::sources::release_advice_now(a, Some(source), config_dir);
                    Some((a.clone(), advice))
                })
                .collect(),
            ..StatusQuery::default()
        }
    }
}

/// Why a query's names cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum NameError {
    /// No such campaign or account (the message names the closest one).
    #[error("{0}")]
    Unknown(String),
    #[error("cannot read the queue: {0}")]
    Read(#[from] crate::store::StoreError),
}

/// Checks the campaign and account a query filters on against the campaign
/// files, the queue and `config` (as every command does).
pub async fn check_names(
    store: &crate::store::Store,
    config: &crate::config::Config,
    campaigns_dir: &std::path::Path,
    query: &StatusQuery,
) -> Result<(), NameError> {
    if query.campaign.is_none() && query.account.is_none() {
        return Ok(());
    }
    let known = super::names::Known::gather(store, config, campaigns_dir).await?;
    if let Some(c) = &query.campaign {
        known
            .check(super::names::Kind::Campaign, c)
            .map_err(NameError::Unknown)?;
    }
    if let Some(a) = &query.account {
        known
            .check(super::names::Kind::Account, a)
            .map_err(NameError::Unknown)?;
    }
    Ok(())
}

/// Queue entries for the tests of building and rendering a report.
#[cfg(test)]
mod fixtures {
    use jiff::Timestamp;

    use super::StatusQuery;
    use crate::store::{Entry, EntryState};

    pub(super) fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    pub(super) fn entry(id: &str, account: &str, state: EntryState) -> Entry {
        Entry::sample(id, account, state)
    }

    pub(super) fn query() -> StatusQuery {
        StatusQuery {
            next: 5,
            ..StatusQuery::default()
        }
    }
}
