//! systemd's notification protocol (`Type=notify`), through the `sd-notify`
//! crate (a datagram to `$NOTIFY_SOCKET`; no libsystemd):
//!
//! - `READY=1` once the campaign files were synced for the first time, with
//!   a `STATUS=` line; each later sync updates the status line;
//! - `WATCHDOG=1` every half of `$WATCHDOG_USEC`, only when systemd set it
//!   (`WatchdogSec=`): no timer runs otherwise;
//! - `STOPPING=1` when a stop begins (SIGTERM), with a status line.
//!
//! Outside systemd (`NOTIFY_SOCKET` unset) every message is a no-op.

use std::time::Duration;

use sd_notify::NotifyState;
use tokio_util::sync::CancellationToken;

use super::Metrics;
use super::metrics::SyncState;

/// The `STATUS=` line for a sync state (what `systemctl status` shows).
pub fn status_line(state: &SyncState) -> String {
    let campaigns = match state.campaigns {
        1 => "1 campaign".to_string(),
        n => format!("{n} campaigns"),
    };
    let broken = match state.broken {
        0 => String::new(),
        1 => ", 1 broken file".to_string(),
        n => format!(", {n} broken files"),
    };
    format!(
        "ready: {campaigns}{broken}, synced at {}",
        state.at.strftime("%Y-%m-%d %H:%M:%S UTC")
    )
}

/// How often to ping the watchdog: half its period, as sd_watchdog_enabled(3)
/// advises; `None` when systemd asked for no watchdog.
pub fn watchdog_every(watchdog: Option<Duration>) -> Option<Duration> {
    watchdog
        .filter(|d| !d.is_zero())
        .map(|d| (d / 2).max(Duration::from_millis(1)))
}

fn send(states: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::debug!(error = %e, "could not notify systemd");
    }
}

/// Tells systemd about the daemon's life until the process ends: ready
/// after the first sync, the status after each one, the watchdog's pings,
/// stopping when `shutdown` is cancelled.
pub async fn notify(metrics: Metrics, shutdown: CancellationToken) {
    let every = watchdog_every(sd_notify::watchdog_enabled());
    let mut watchdog = every.map(|e| {
        let mut t = tokio::time::interval(e);
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        t
    });
    let mut sync = metrics.sync_state();
    let mut ready = false;
    let mut stopping = false;
    send(&[NotifyState::Status("starting: syncing the campaign files")]);
    loop {
        let tick = async {
            match watchdog.as_mut() {
                Some(t) => {
                    t.tick().await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = shutdown.cancelled(), if !stopping => {
                stopping = true;
                send(&[
                    NotifyState::Stopping,
                    NotifyState::Status("stopping: letting publications in flight finish"),
                ]);
                if watchdog.is_none() {
                    return;
                }
            }
            changed = sync.changed(), if !stopping => {
                if changed.is_err() {
                    // The metrics are gone: only the watchdog is left.
                    stopping = true;
                    continue;
                }
                let state = sync.borrow_and_update().clone();
                let Some(state) = state else { continue };
                let line = status_line(&state);
                if ready {
                    send(&[NotifyState::Status(&line)]);
                } else {
                    ready = true;
                    send(&[NotifyState::Ready, NotifyState::Status(&line)]);
                }
            }
            () = tick => send(&[NotifyState::Watchdog]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_line_counts_campaigns_and_broken_files() {
        let at: jiff::Timestamp = "2026-12-07T12:03:04Z".parse().unwrap();
        let s = |campaigns, broken| {
            status_line(&SyncState {
                at,
                campaigns,
                broken,
            })
        };
        assert_eq!(
            s(3, 0),
            "ready: 3 campaigns, synced at 2026-12-07 12:03:04 UTC"
        );
        assert_eq!(
            s(1, 1),
            "ready: 1 campaign, 1 broken file, synced at 2026-12-07 12:03:04 UTC"
        );
        assert!(s(0, 2).contains("0 campaigns, 2 broken files"));
    }

    #[test]
    fn the_watchdog_is_pinged_at_half_its_period_and_only_when_asked() {
        assert_eq!(watchdog_every(None), None);
        assert_eq!(watchdog_every(Some(Duration::ZERO)), None);
        assert_eq!(
            watchdog_every(Some(Duration::from_secs(60))),
            Some(Duration::from_secs(30))
        );
    }
}
