//! The daemons in `berrah status`: which run on this database, which ended
//! without a clean stop, and the work leased by a daemon that is gone
//! ("publishing by host/pid — not running since 06:41; rescued at 06:42").
//!
//! Whether a daemon runs is read from its heartbeat (see
//! [`crate::store::instances`]) and, on this machine, from whether its
//! process exists: after a `kill -9`, status says so at once.

use std::fmt::Write as _;

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use super::report::StatusReport;
use crate::store::instances::local_probe;
use crate::store::{Instance, Liveness, Store, StoreError};

/// How far back status lists daemons that ended without a clean stop.
pub const GONE_SHOWN_DAYS: i64 = 7;

/// The `instances` object of `--format json`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct InstancesStatus {
    /// Daemons running on this database now.
    pub running: Vec<InstanceStatus>,
    /// Daemons that ended without a clean stop in the last
    /// [`GONE_SHOWN_DAYS`] days, newest first.
    pub gone: Vec<InstanceStatus>,
    /// Entries in flight whose lease is held by a daemon that is gone (the
    /// next daemon to look rescues them).
    pub leased_by_gone: Vec<GoneLease>,
}

/// One daemon.
#[derive(Debug, Clone, Serialize)]
pub struct InstanceStatus {
    /// Its lease owner name (what `lease_owner` of an entry says).
    pub id: String,
    pub host: String,
    pub pid: u32,
    pub version: String,
    pub started: Timestamp,
    /// When it last said it was alive.
    pub heartbeat: Timestamp,
    /// `"running"`, `"stopped"` (cleanly) or `"gone"` (without a clean stop).
    pub state: &'static str,
    /// For a daemon that is not running: since when (its last heartbeat, or
    /// its clean stop).
    pub not_running_since: Option<Timestamp>,
    /// When another daemon took over the work it left, and which.
    pub rescued_at: Option<Timestamp>,
    pub rescued_by: Option<String>,
}

/// An entry in flight whose lease holder is gone.
#[derive(Debug, Clone, Serialize)]
pub struct GoneLease {
    pub id: String,
    pub short_id: String,
    /// `claimed` or `publishing`.
    pub state: crate::store::EntryState,
    pub campaign: String,
    /// The daemon holding its lease, as `host/pid`, and its id.
    pub instance: String,
    pub instance_id: String,
    pub not_running_since: Timestamp,
    pub rescued_at: Option<Timestamp>,
}

fn status_of(i: &Instance, now: Timestamp) -> InstanceStatus {
    let (state, since) = match i.liveness(now, local_probe) {
        Liveness::Running => ("running", None),
        Liveness::Stopped { at } => ("stopped", Some(at)),
        Liveness::Gone { since } => ("gone", Some(since)),
    };
    InstanceStatus {
        id: i.id.clone(),
        host: i.host.clone(),
        pid: i.pid,
        version: i.version.clone(),
        started: i.started,
        heartbeat: i.heartbeat,
        state,
        not_running_since: since,
        rescued_at: i.rescued,
        rescued_by: i.rescued_by.clone(),
    }
}

/// The daemons of the store, and the leases of `report`'s entries in
/// flight that a gone daemon holds.
pub async fn collect(
    store: &Store,
    report: &StatusReport,
    now: Timestamp,
) -> Result<InstancesStatus, StoreError> {
    let all = store.instances().await?;
    Ok(section(&all, report, now))
}

/// [`collect`] on instances already read (pure).
pub fn section(all: &[Instance], report: &StatusReport, now: Timestamp) -> InstancesStatus {
    let shown_since = now
        .checked_sub(SignedDuration::from_hours(24 * GONE_SHOWN_DAYS))
        .unwrap_or(now);
    let mut out = InstancesStatus::default();
    for i in all {
        let s = status_of(i, now);
        match s.state {
            "running" => out.running.push(s),
            "gone" if i.heartbeat >= shown_since => out.gone.push(s),
            _ => {}
        }
    }
    for c in &report.campaigns {
        for e in &c.in_flight {
            let Some(owner) = &e.lease_owner else {
                continue;
            };
            let Some(i) = all.iter().find(|i| &i.id == owner) else {
                continue;
            };
            let s = status_of(i, now);
            if s.state == "running" {
                continue;
            }
            out.leased_by_gone.push(GoneLease {
                id: e.id.clone(),
                short_id: e.short_id.clone(),
                state: e.state,
                campaign: e.campaign.clone(),
                instance: i.label(),
                instance_id: i.id.clone(),
                not_running_since: s.not_running_since.unwrap_or(i.heartbeat),
                rescued_at: i.rescued,
            });
        }
    }
    out
}

fn when(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M UTC").to_string()
}

/// Who holds a lease, as the in-flight lines say it: `host/pid`, and for
/// a daemon that is gone, since when and whether its work was rescued.
/// The owner name as it is when no daemon of that name is known.
pub fn holder(report: &StatusReport, owner: &str) -> String {
    let Some(section) = &report.instances else {
        return owner.to_string();
    };
    if let Some(i) = section.running.iter().find(|i| i.id == owner) {
        return format!("{}/{}", i.host, i.pid);
    }
    match section
        .leased_by_gone
        .iter()
        .find(|l| l.instance_id == owner)
    {
        Some(l) => {
            let mut s = format!(
                "{} — not running since {}",
                l.instance,
                when(l.not_running_since)
            );
            if let Some(r) = l.rescued_at {
                let _ = write!(s, "; rescued at {}", when(r));
            }
            s
        }
        None => owner.to_string(),
    }
}

/// The daemons' part of the table.
pub fn render(out: &mut String, report: &StatusReport) {
    let Some(section) = &report.instances else {
        return;
    };
    if section.running.is_empty() {
        let _ = writeln!(out, "daemons: none running on this database");
    } else {
        let _ = writeln!(out, "daemons running:");
        for i in &section.running {
            let _ = writeln!(
                out,
                "  {}/{}  berrah {}, since {}, last heard of {}",
                i.host,
                i.pid,
                i.version,
                when(i.started),
                when(i.heartbeat)
            );
        }
    }
    for i in &section.gone {
        let rescued = match (i.rescued_at, &i.rescued_by) {
            (Some(at), Some(by)) => format!("; its work was rescued at {} by {by}", when(at)),
            (Some(at), None) => format!("; its work was rescued at {}", when(at)),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "  {}/{}  ended without a clean stop: not running since {}{rescued}",
            i.host,
            i.pid,
            when(i.not_running_since.unwrap_or(i.heartbeat))
        );
    }
    if !section.leased_by_gone.is_empty() {
        let _ = writeln!(
            out,
            "  {} publication(s) in flight by a daemon that is gone: the next daemon to look rescues them",
            section.leased_by_gone.len()
        );
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::status::{build_report, fixtures};
    use crate::store::EntryState;

    fn instance(id: &str, heartbeat: &str) -> Instance {
        Instance {
            id: id.into(),
            host: "web1".into(),
            pid: 4242,
            version: "1.0.0".into(),
            started: fixtures::t("2026-12-18T06:00:00Z"),
            heartbeat: fixtures::t(heartbeat),
            stopped: None,
            rescued: None,
            rescued_by: None,
        }
    }

    #[test]
    fn work_of_a_gone_daemon_names_it_and_when_it_stopped() {
        let mut e = fixtures::entry("o-1111111111111111", "oim-x", EntryState::Publishing);
        e.lease_owner = Some("web1-4242-aaaa".into());
        e.lease_until = Some(fixtures::t("2026-12-18T06:42:00Z"));
        let now = fixtures::t("2026-12-18T07:00:00Z");
        let mut report = build_report(
            vec![e],
            vec![],
            vec![],
            &Default::default(),
            vec![],
            vec![],
            &fixtures::query(),
            now,
            "sqlite",
        );
        let mut gone = instance("web1-4242-aaaa", "2026-12-18T06:41:00Z");
        gone.host = "elsewhere".into();
        gone.rescued = Some(fixtures::t("2026-12-18T06:42:00Z"));
        let mut live = instance("web2-7-bbbb", "2026-12-18T06:59:50Z");
        live.host = "elsewhere".into();
        live.pid = 7;
        report.instances = Some(section(&[live, gone], &report, now));
        let s = report.instances.as_ref().unwrap();
        assert_eq!(s.running.len(), 1);
        assert_eq!(s.gone.len(), 1);
        assert_eq!(s.leased_by_gone.len(), 1);
        assert_eq!(
            holder(&report, "web1-4242-aaaa"),
            "elsewhere/4242 — not running since 2026-12-18 06:41 UTC; rescued at 2026-12-18 06:42 UTC"
        );
        assert_eq!(holder(&report, "web2-7-bbbb"), "elsewhere/7");
        let mut out = String::new();
        render(&mut out, &report);
        assert!(
            out.contains("daemons running:\n  elsewhere/7  berrah 1.0.0"),
            "{out}"
        );
        assert!(
            out.contains("elsewhere/4242  ended without a clean stop: not running since 2026-12-18 06:41 UTC; its work was rescued at 2026-12-18 06:42 UTC"),
            "{out}"
        );
    }
}
