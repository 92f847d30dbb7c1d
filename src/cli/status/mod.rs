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

mod build;
mod collect;
pub mod instances;
mod render;
mod report;

use std::io::Write as _;
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use super::GlobalArgs;
use super::queue;

pub use self::build::{PUBLISHED_SHOWN, build_report};
pub use self::collect::collect;
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

pub fn run(global: &GlobalArgs, args: StatusArgs) -> ExitCode {
    let (runtime, loaded, url) = match queue::prepare(global) {
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
        let store = queue::open_store(&url).await?;
        let report = collect(&store, &query, now)
            .await
            .map(|mut r| {
                r.tzdb = Some(loaded.tzdb.summary());
                r
            })
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

/// Queue entries for the tests of building and rendering a report.
#[cfg(test)]
mod fixtures {
    use jiff::Timestamp;

    use super::StatusQuery;
    use crate::config::PlatformKind;
    use crate::plan::Content;
    use crate::platforms::Progress;
    use crate::store::{Entry, EntryState};

    pub(super) fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    pub(super) fn entry(id: &str, account: &str, state: EntryState) -> Entry {
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
            local: "2026-12-18T09:00:00+00:00".into(),
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

    pub(super) fn query() -> StatusQuery {
        StatusQuery {
            next: 5,
            ..StatusQuery::default()
        }
    }
}
