//! `berrah rehearse`: the schedule replayed on a simulated clock into the outbox.
//!
//! The same daemon code as `berrah run`, on a [`SimClock`] and a temporary
//! SQLite database, with every account publishing to a temporary outbox
//! (never to a real platform). Each publication is printed as it happens,
//! with its local and UTC time.
//!
//! The simulated clock jumps from due time to due time, so that each post
//! goes out exactly at its planned instant (never late by the clock's own
//! granularity). `--speed N` paces the jumps: the wait before each one is
//! its simulated gap divided by N in real time (the default, 129 600, is a
//! day in about 0.7 s), but never more than a quarter of a second, so that
//! idle weeks and months go by at once: the example calendar takes a few
//! seconds. `--speed 0` (or `--instant`) does not wait at all.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use jiff::{Timestamp, civil};
use tokio_util::sync::CancellationToken;

use super::GlobalArgs;
use crate::scheduler::{Daemon, DaemonConfig, Published};
use crate::store::Store;
use crate::time::{Clock, SimClock};

/// Three months a minute.
pub const DEFAULT_SPEED: f64 = 129_600.0;

#[derive(Debug, Args)]
pub struct RehearseArgs {
    /// Start the simulated clock at this UTC day (YYYY-MM-DD) or instant (RFC 3339) [default: now].
    #[arg(long, value_name = "DATE", value_parser = parse_from)]
    pub from: Option<Timestamp>,
    /// Stop at the end of this UTC day or at this instant [default: when nothing is left].
    #[arg(long, value_name = "DATE", value_parser = parse_until)]
    pub until: Option<Timestamp>,
    /// Simulated seconds per real second between posts (each wait at most 0.25 s); 0 does not wait.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_SPEED)]
    pub speed: f64,
    /// The same as `--speed 0`.
    #[arg(long)]
    pub instant: bool,
}

/// A bound: a UTC day (its start, or for `until` its end) or an RFC 3339 instant.
fn parse_bound(s: &str, end_of_day: bool) -> Result<Timestamp, String> {
    let s = s.trim();
    if s.len() == 10
        && let Ok(date) = s.parse::<civil::Date>()
    {
        let day = if end_of_day {
            date.tomorrow().map_err(|e| e.to_string())?
        } else {
            date
        };
        let t = day
            .to_zoned(jiff::tz::TimeZone::UTC)
            .map_err(|e| e.to_string())?
            .timestamp();
        return Ok(if end_of_day {
            t.checked_sub(jiff::SignedDuration::from_millis(1))
                .map_err(|e| e.to_string())?
        } else {
            t
        });
    }
    s.parse::<Timestamp>().map_err(|_| {
        format!(
            "`{s}` is neither a day nor an instant; write 2026-12-18 (a UTC day) or \
             2026-12-18T10:00:00+01:00"
        )
    })
}

fn parse_from(s: &str) -> Result<Timestamp, String> {
    parse_bound(s, false)
}

fn parse_until(s: &str) -> Result<Timestamp, String> {
    parse_bound(s, true)
}

/// One printed line: local time (with offset), UTC, what and where.
pub fn line(p: &Published) -> String {
    let e = &p.entry;
    // The local time as planned (with the time-zone data the plan used):
    // `2026-12-18T10:00:00+00:00` → `2026-12-18 10:00 +00:00`.
    let local = match (e.local.get(..10), e.local.get(11..16), e.local.get(19..)) {
        (Some(day), Some(hm), Some(offset)) if !offset.is_empty() => {
            format!("{day} {hm} {offset}")
        }
        _ => e.local.clone(),
    };
    let late = p.at.duration_since(e.due);
    let late = if late > jiff::SignedDuration::from_secs(300) {
        format!("  [published {} min late]", late.as_secs() / 60)
    } else {
        String::new()
    };
    let text: String = e
        .content
        .text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let text = match text.char_indices().nth(60) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text,
    };
    format!(
        "{local} ({} UTC)  {}/{}/{}  {} ({}, {})  {text}{late}",
        e.due.strftime("%Y-%m-%d %H:%M"),
        e.campaign,
        e.capsule.as_deref().unwrap_or("-"),
        e.post,
        e.account,
        e.platform,
        e.language
    )
}

pub fn run(global: &GlobalArgs, args: RehearseArgs) -> ExitCode {
    crate::logging::init_with_default(global.log_format, "warn");
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return super::fail(format!("cannot start the runtime: {e}")),
    };
    runtime.block_on(rehearse(global, args))
}

async fn rehearse(global: &GlobalArgs, args: RehearseArgs) -> ExitCode {
    let loaded = match super::context::load(global) {
        Ok(l) => l,
        Err(report) => {
            eprint!("{}", report.render());
            return super::fail("the configuration cannot be loaded");
        }
    };
    let from = args.from.unwrap_or(loaded.now);
    if let Some(until) = args.until
        && until < from
    {
        return super::fail("`--until` is before `--from`");
    }
    if !args.speed.is_finite() || args.speed < 0.0 {
        return super::fail("`--speed` must be 0 (jump) or a positive number");
    }
    let speed = if args.instant { 0.0 } else { args.speed };
    let tmp = match tempfile::tempdir() {
        Ok(t) => t,
        Err(e) => return super::fail(format!("cannot create a temporary folder: {e}")),
    };
    let url = crate::store::testing::sqlite_url(&tmp.path().join("rehearse.db"));
    let store = match Store::connect(&url).await {
        Ok(s) => s,
        Err(e) => return super::fail(e),
    };
    // A clock moved only by the daemon's jumps: it stands still while
    // publications are in flight.
    let sim = SimClock::new(from);
    let clock: Arc<dyn Clock> = Arc::new(sim.clone());
    let config = loaded.config.clone();
    let mut cfg = DaemonConfig::new(
        config,
        loaded.campaigns_dir.clone(),
        tmp.path().to_path_buf(),
        store.clone(),
        clock,
    );
    cfg.watch = false;
    cfg.tzdb = loaded.tzdb.choice.clone();
    cfg.outbox_only = true;
    cfg.until = args.until;
    cfg.stop_when_idle = true;
    cfg.jump = Some(sim.clone());
    cfg.pace = (speed > 0.0).then_some(speed);
    // Nothing else works on this temporary database.
    cfg.exclusive = true;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Published>();
    cfg.events = Some(tx);
    println!(
        "rehearsing from {} at {}; every account publishes to a temporary outbox",
        from.strftime("%Y-%m-%d %H:%M UTC"),
        if speed == 0.0 {
            "full speed (jumping to each due time)".to_string()
        } else {
            format!("{speed}x between posts, skipping idle periods")
        }
    );
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            stop.cancel();
        }
    });
    let printer = tokio::spawn(async move {
        let mut n = 0usize;
        let mut out = std::io::stdout();
        while let Some(p) = rx.recv().await {
            n += 1;
            let _ = writeln!(out, "{}", line(&p));
        }
        n
    });
    let result = Daemon::new(cfg).run(shutdown).await;
    let published = printer.await.unwrap_or(0);
    let expired = store
        .list(crate::store::ListFilter {
            states: vec![crate::store::EntryState::Expired],
            ..Default::default()
        })
        .await
        .map(|l| l.len())
        .unwrap_or(0);
    store.close().await;
    match result {
        Ok(_) => {
            println!(
                "{published} publication(s), {expired} dropped as too late; the clock reached {}",
                sim.now().strftime("%Y-%m-%d %H:%M UTC")
            );
            ExitCode::SUCCESS
        }
        Err(e) => super::fail(e),
    }
}
