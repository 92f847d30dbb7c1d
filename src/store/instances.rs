//! Daemon instances: which `berrah run` processes work on this database,
//! whether they are still alive, and whether the last one stopped cleanly.
//!
//! Each daemon registers itself ([`Store::register_instance`]) under its
//! lease owner name, so that a lease names its instance; it beats every
//! [`HEARTBEAT_EVERY`] ([`Store::beat`], which also extends its leases) and
//! marks a clean stop ([`Store::stop_instance`]). From those rows
//! ([`Store::instances`]) and what a process can see of its own host
//! ([`local_probe`]), [`Instance::liveness`] tells a running daemon from one
//! that is gone: stopped cleanly, or not heard of since its last beat.
//!
//! A daemon that holds the SQLite file's lock ([`super::lock`]) knows that
//! every other instance is gone: it takes their leases back at once
//! ([`Store::expire_leases_of_others`]) and records the rescue
//! ([`Store::mark_rescued`]). [`Store::unclean_predecessor`] tells whether
//! the previous daemon on this database ended without a clean stop, and
//! when it was last heard of (for an operator's "restarted after a crash").
//!
//! The same table-per-concern file keeps the last valid `berrah.toml`
//! ([`Store::save_config_snapshot`], [`Store::config_snapshot`]) and answers
//! "which post is due next" ([`Store::next_due`]) for the daemon's log.

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use sqlx::Row;

use super::row;
use super::types::{Entry, StoreError};
use super::{Store, on_db, write_tx};

/// How often, at least, a daemon with publications in flight tells the
/// database it is alive (and extends their leases).
pub const HEARTBEAT_EVERY: SignedDuration = SignedDuration::from_secs(20);

/// How often a daemon with nothing in flight tells the database it is
/// alive. It holds no lease then, so the beat only says "running": rare
/// enough that an idle daemon sleeps (a beat is a write: a few wake-ups of
/// the writer's threads, a disk flush, the file watcher's look), frequent
/// enough that `status` on another host tells a dead daemon within
/// [`GONE_AFTER`].
pub const IDLE_HEARTBEAT_EVERY: SignedDuration = SignedDuration::from_secs(300);

/// An instance not heard of for this long (three idle beats missed, and a
/// minute) is gone. The trade-off of a quiet idle daemon: on another host
/// a dead daemon is told this late (on its own host at once: its process
/// is missing), and other daemons end a dead one's leases early only when
/// leases are longer than this; with the default `lease_seconds` (60) they
/// expire by themselves first, so rescue is no slower.
pub const GONE_AFTER: SignedDuration = SignedDuration::from_secs(960);

/// How long the rows of stopped or gone instances are kept.
const KEPT_FOR: SignedDuration = SignedDuration::from_hours(24 * 30);

/// What a daemon registers about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceInfo {
    /// Its lease owner name (`host-pid-xxxx`).
    pub id: String,
    pub host: String,
    pub pid: u32,
    /// berrah's version.
    pub version: String,
}

impl InstanceInfo {
    /// This process: `id` on this host, with this process id and version.
    pub fn this_process(id: impl Into<String>) -> InstanceInfo {
        InstanceInfo {
            id: id.into(),
            host: host_name(),
            pid: std::process::id(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

/// A registered daemon, as the database remembers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Instance {
    /// Its lease owner name.
    pub id: String,
    pub host: String,
    pub pid: u32,
    pub version: String,
    pub started: Timestamp,
    /// When it last said it was alive.
    pub heartbeat: Timestamp,
    /// When it stopped cleanly (`None`: still running, or it died).
    pub stopped: Option<Timestamp>,
    /// When another instance took over the work it left (after it died).
    pub rescued: Option<Timestamp>,
    pub rescued_by: Option<String>,
}

/// Whether an instance runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum Liveness {
    Running,
    /// It stopped cleanly at this time.
    Stopped {
        at: Timestamp,
    },
    /// It ended without a clean stop; last heard of at `since`.
    Gone {
        since: Timestamp,
    },
}

impl Instance {
    /// `host/pid`, as people name a process.
    pub fn label(&self) -> String {
        format!("{}/{}", self.host, self.pid)
    }

    /// Whether it stopped cleanly.
    pub fn ended_cleanly(&self) -> bool {
        self.stopped.is_some()
    }

    /// Running, stopped or gone at `now`. `probe` says what this machine can
    /// see of the process (`Some(false)`: it does not exist; `None`: cannot
    /// tell, e.g. another host); without it, an instance is gone once not
    /// heard of for [`GONE_AFTER`], or once its work was rescued.
    pub fn liveness(&self, now: Timestamp, probe: impl Fn(&Instance) -> Option<bool>) -> Liveness {
        if let Some(at) = self.stopped {
            return Liveness::Stopped { at };
        }
        let silent = now.duration_since(self.heartbeat) > GONE_AFTER;
        if self.rescued.is_some() || silent || probe(self) == Some(false) {
            return Liveness::Gone {
                since: self.heartbeat,
            };
        }
        Liveness::Running
    }
}

/// This machine's name (`/etc/hostname`, else the `HOSTNAME` variable, else
/// `berrah`).
pub fn host_name() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "berrah".to_string())
}

/// What this machine can see of an instance: on this host, whether its
/// process exists (`/proc/<pid>`); elsewhere, nothing.
pub fn local_probe(instance: &Instance) -> Option<bool> {
    if instance.host != host_name() {
        return None;
    }
    let proc = std::path::Path::new("/proc");
    if !proc.join("self").exists() {
        return None;
    }
    Some(proc.join(instance.pid.to_string()).exists())
}

/// The last valid `berrah.toml`, as saved by the daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigSnapshot {
    pub path: String,
    pub source: String,
    pub saved_at: Timestamp,
}

/// The name of the configuration's snapshot row.
const CONFIG_NAME: &str = "berrah.toml";

fn instance_of<R>(r: &R) -> Result<Instance, StoreError>
where
    R: Row,
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let id: String = r.try_get("id")?;
    let corrupt = |why: String| StoreError::Corrupt {
        id: format!("instance {id}"),
        why,
    };
    let at = |col: &str| -> Result<Timestamp, StoreError> {
        let ms: i64 = r.try_get(col)?;
        row::instant(ms, col).map_err(corrupt)
    };
    let opt_at = |col: &str| -> Result<Option<Timestamp>, StoreError> {
        let ms: Option<i64> = r.try_get(col)?;
        ms.map(|ms| row::instant(ms, col).map_err(corrupt))
            .transpose()
    };
    let pid: i64 = r.try_get("pid")?;
    Ok(Instance {
        host: r.try_get("host")?,
        pid: u32::try_from(pid).map_err(|_| corrupt(format!("pid = {pid} is not a process id")))?,
        version: r.try_get("version")?,
        started: at("started_ms")?,
        heartbeat: at("heartbeat_ms")?,
        stopped: opt_at("stopped_ms")?,
        rescued: opt_at("rescued_ms")?,
        rescued_by: r.try_get("rescued_by")?,
        id,
    })
}

impl Store {
    /// Registers a daemon starting at `now` (again, if the id is known) and
    /// forgets instances stopped or gone for more than 30 days.
    pub async fn register_instance(
        &self,
        info: &InstanceInfo,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let info = info.clone();
        let now_ms = now.as_millisecond();
        let old_ms = now.checked_sub(KEPT_FOR).unwrap_or(now).as_millisecond();
        write_tx!(self, |conn| {
            sqlx::query("DELETE FROM instances WHERE heartbeat_ms < $1 AND id <> $2")
                .bind(old_ms)
                .bind(&info.id)
                .execute(&mut *conn)
                .await?;
            sqlx::query(
                "INSERT INTO instances (id, host, pid, version, started_ms, heartbeat_ms) \
                 VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (id) DO UPDATE SET \
                 host = excluded.host, pid = excluded.pid, version = excluded.version, \
                 started_ms = excluded.started_ms, heartbeat_ms = excluded.heartbeat_ms, \
                 stopped_ms = NULL, rescued_ms = NULL, rescued_by = NULL",
            )
            .bind(&info.id)
            .bind(&info.host)
            .bind(i64::from(info.pid))
            .bind(&info.version)
            .bind(now_ms)
            .execute(&mut *conn)
            .await?;
            Ok(())
        })
    }

    /// One beat of instance `id` at `now`: it is alive, and (with
    /// `lease_until`) the leases of its publications in flight run until
    /// then. One write; returns how many leases were extended.
    pub async fn beat(
        &self,
        id: &str,
        now: Timestamp,
        lease_until: Option<Timestamp>,
    ) -> Result<u64, StoreError> {
        let id = id.to_string();
        let now_ms = now.as_millisecond();
        write_tx!(self, |conn| {
            sqlx::query("UPDATE instances SET heartbeat_ms = $2 WHERE id = $1")
                .bind(&id)
                .bind(now_ms)
                .execute(&mut *conn)
                .await?;
            let Some(until) = lease_until else {
                return Ok(0);
            };
            Ok(sqlx::query(
                "UPDATE entries SET lease_until_ms = $2 \
                 WHERE lease_owner = $1 AND state IN ('claimed', 'publishing')",
            )
            .bind(&id)
            .bind(until.as_millisecond())
            .execute(&mut *conn)
            .await?
            .rows_affected())
        })
    }

    /// Marks instance `id` as stopped cleanly at `now`.
    pub async fn stop_instance(&self, id: &str, now: Timestamp) -> Result<(), StoreError> {
        let id = id.to_string();
        let now_ms = now.as_millisecond();
        write_tx!(self, |conn| {
            sqlx::query("UPDATE instances SET stopped_ms = $2, heartbeat_ms = $2 WHERE id = $1")
                .bind(&id)
                .bind(now_ms)
                .execute(&mut *conn)
                .await?;
            Ok(())
        })
    }

    /// The instances known (at most 100), newest first.
    pub async fn instances(&self) -> Result<Vec<Instance>, StoreError> {
        on_db!(self, |pool| {
            let rows =
                sqlx::query("SELECT * FROM instances ORDER BY started_ms DESC, id LIMIT 100")
                    .fetch_all(pool)
                    .await?;
            rows.iter().map(instance_of).collect()
        })
    }

    /// The instance that started on this database last before `me`, if it
    /// ended without a clean stop: the daemon that `me` restarts after a
    /// crash (or a `kill -9`, a power cut). Its `heartbeat` says when it was
    /// last heard of. `None` when it stopped cleanly, when `me` is the first,
    /// or when it still runs (PostgreSQL: heard of within [`GONE_AFTER`] of
    /// `now`, and not rescued; on SQLite the lock proved it gone and the
    /// daemon marked it rescued at start).
    pub async fn unclean_predecessor(
        &self,
        me: &str,
        now: Timestamp,
    ) -> Result<Option<Instance>, StoreError> {
        let me = me.to_string();
        let previous = on_db!(self, |pool| {
            sqlx::query(
                "SELECT * FROM instances WHERE id <> $1 AND started_ms <= \
                 COALESCE((SELECT started_ms FROM instances WHERE id = $1), $2) \
                 ORDER BY started_ms DESC, id DESC LIMIT 1",
            )
            .bind(&me)
            .bind(now.as_millisecond())
            .fetch_optional(pool)
            .await?
            .map(|r| instance_of(&r))
            .transpose()?
        });
        Ok(previous.filter(|p| matches!(p.liveness(now, local_probe), Liveness::Gone { .. })))
    }

    /// Records that `by` took over, at `now`, the work the instances `gone`
    /// left (those not already marked).
    pub async fn mark_rescued(
        &self,
        gone: &[String],
        by: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let gone = serde_json::to_string(gone).unwrap_or_else(|_| "[]".into());
        let by = by.to_string();
        let now_ms = now.as_millisecond();
        let list = if self.backend_name() == "sqlite" {
            "SELECT value FROM json_each($1)"
        } else {
            "SELECT json_array_elements_text($1::json)"
        };
        let sql = format!(
            "UPDATE instances SET rescued_ms = $3, rescued_by = $2 \
             WHERE id IN ({list}) AND stopped_ms IS NULL AND rescued_ms IS NULL"
        );
        write_tx!(self, |conn| {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(&gone)
                .bind(&by)
                .bind(now_ms)
                .execute(&mut *conn)
                .await?;
            Ok(())
        })
    }

    /// Ends at once the leases that `me` does not hold (only for a daemon
    /// that knows no other process works on this database: the SQLite
    /// lock's holder). The next rescue pass then takes them over as it would
    /// after their expiry. Returns the lease owners whose leases ended.
    pub async fn expire_leases_of_others(
        &self,
        me: &str,
        now: Timestamp,
    ) -> Result<Vec<String>, StoreError> {
        let me = me.to_string();
        let past = now.as_millisecond().saturating_sub(1);
        write_tx!(self, |conn| {
            let owners: Vec<String> = sqlx::query_scalar(
                "SELECT DISTINCT lease_owner FROM entries WHERE state IN ('claimed', 'publishing') \
                 AND lease_owner IS NOT NULL AND lease_owner <> $1",
            )
            .bind(&me)
            .fetch_all(&mut *conn)
            .await?;
            sqlx::query(
                "UPDATE entries SET lease_until_ms = $2 WHERE state IN ('claimed', 'publishing') \
                 AND (lease_owner IS NULL OR lease_owner <> $1) \
                 AND (lease_until_ms IS NULL OR lease_until_ms > $2)",
            )
            .bind(&me)
            .bind(past)
            .execute(&mut *conn)
            .await?;
            Ok(owners)
        })
    }

    /// Ends at once the leases held by registered daemons other than `me`
    /// that are gone by their silence: not stopped, not heard of for
    /// [`GONE_AFTER`] before `now` (PostgreSQL, where several daemons share
    /// the queue: a dead one's work need not wait for a long lease). The
    /// next rescue pass takes them over. Reads first: no write while every
    /// daemon beats. Returns the gone daemons whose leases ended.
    pub async fn expire_leases_of_gone(
        &self,
        me: &str,
        now: Timestamp,
    ) -> Result<Vec<String>, StoreError> {
        let me = me.to_string();
        let past = now.as_millisecond().saturating_sub(1);
        let silent = now.checked_sub(GONE_AFTER).unwrap_or(now).as_millisecond();
        const GONE: &str = "SELECT i.id FROM instances i WHERE i.id <> $1 \
             AND i.stopped_ms IS NULL AND i.heartbeat_ms < $2";
        let any: bool = on_db!(self, |pool| sqlx::query_scalar(sqlx::AssertSqlSafe(
            format!(
                "SELECT EXISTS (SELECT 1 FROM entries WHERE state IN ('claimed', 'publishing') \
             AND lease_until_ms > $3 AND lease_owner IN ({GONE}))"
            )
        ))
        .bind(&me)
        .bind(silent)
        .bind(past)
        .fetch_one(pool)
        .await?);
        if !any {
            return Ok(Vec::new());
        }
        let mut owners: Vec<String> = write_tx!(self, |conn| {
            Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "UPDATE entries SET lease_until_ms = $3 WHERE state IN ('claimed', 'publishing') \
                 AND lease_until_ms > $3 AND lease_owner IN ({GONE}) RETURNING lease_owner"
            )))
            .bind(&me)
            .bind(silent)
            .bind(past)
            .fetch_all(&mut *conn)
            .await?)
        })?;
        owners.sort();
        owners.dedup();
        Ok(owners)
    }

    /// Remembers `source` as the last valid `berrah.toml` (read from `path`).
    pub async fn save_config_snapshot(
        &self,
        path: &str,
        source: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        on_db!(self, |pool| sqlx::query(
            "INSERT INTO config_snapshots (name, path, source, saved_ms) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO UPDATE SET \
             path = excluded.path, source = excluded.source, saved_ms = excluded.saved_ms"
        )
        .bind(CONFIG_NAME)
        .bind(path)
        .bind(source)
        .bind(now.as_millisecond())
        .execute(pool)
        .await?
        .rows_affected());
        Ok(())
    }

    /// The last valid `berrah.toml` saved, if any.
    pub async fn config_snapshot(&self) -> Result<Option<ConfigSnapshot>, StoreError> {
        on_db!(self, |pool| {
            let row =
                sqlx::query("SELECT path, source, saved_ms FROM config_snapshots WHERE name = $1")
                    .bind(CONFIG_NAME)
                    .fetch_optional(pool)
                    .await?;
            row.map(|r| {
                let saved_ms: i64 = r.try_get("saved_ms")?;
                Ok(ConfigSnapshot {
                    path: r.try_get("path")?,
                    source: r.try_get("source")?,
                    saved_at: row::instant(saved_ms, "saved_ms").map_err(|why| {
                        StoreError::Corrupt {
                            id: "the saved berrah.toml".into(),
                            why,
                        }
                    })?,
                })
            })
            .transpose()
        })
    }

    /// The entry that goes out next: of those waiting (scheduled or
    /// retrying, not paused, not past their limit), the one with the
    /// earliest time it may go out (`run_at`, which may be before `now`).
    pub async fn next_due(&self, now: Timestamp) -> Result<Option<Entry>, StoreError> {
        let now_ms = now.as_millisecond();
        on_db!(self, |pool| sqlx::query(
            "SELECT * FROM entries e WHERE e.state IN ('scheduled', 'retrying') \
             AND +e.not_after_ms >= $1 AND NOT EXISTS (SELECT 1 FROM pauses p WHERE \
             (p.scope = 'campaign' AND p.name = e.campaign) OR \
             (p.scope = 'account' AND p.name = e.account)) \
             ORDER BY e.run_at_ms, e.id LIMIT 1"
        )
        .bind(now_ms)
        .fetch_optional(pool)
        .await?
        .map(|r| row::entry(&r))
        .transpose())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn instance() -> Instance {
        Instance {
            id: "web1-42-abcd".into(),
            host: "web1".into(),
            pid: 42,
            version: "1.0.0".into(),
            started: t("2026-12-07T06:00:00Z"),
            heartbeat: t("2026-12-07T06:41:00Z"),
            stopped: None,
            rescued: None,
            rescued_by: None,
        }
    }

    #[test]
    fn an_instance_heard_of_lately_runs() {
        let i = instance();
        assert_eq!(
            i.liveness(t("2026-12-07T06:41:30Z"), |_| None),
            Liveness::Running
        );
        assert_eq!(
            i.liveness(t("2026-12-07T06:41:30Z"), |_| Some(true)),
            Liveness::Running
        );
    }

    #[test]
    fn silence_a_missing_process_or_a_rescue_mean_gone() {
        let i = instance();
        let gone = Liveness::Gone {
            since: t("2026-12-07T06:41:00Z"),
        };
        // Silent for longer than `GONE_AFTER` (16 min: three idle beats).
        assert_eq!(i.liveness(t("2026-12-07T06:57:01Z"), |_| None), gone);
        assert_eq!(
            i.liveness(t("2026-12-07T06:56:59Z"), |_| None),
            Liveness::Running
        );
        assert_eq!(i.liveness(t("2026-12-07T06:41:05Z"), |_| Some(false)), gone);
        let rescued = Instance {
            rescued: Some(t("2026-12-07T06:42:00Z")),
            ..instance()
        };
        assert_eq!(rescued.liveness(t("2026-12-07T06:42:01Z"), |_| None), gone);
    }

    #[test]
    fn a_clean_stop_is_a_stop_whatever_else() {
        let i = Instance {
            stopped: Some(t("2026-12-07T06:41:00Z")),
            ..instance()
        };
        assert!(i.ended_cleanly());
        assert_eq!(
            i.liveness(t("2026-12-08T00:00:00Z"), |_| Some(false)),
            Liveness::Stopped {
                at: t("2026-12-07T06:41:00Z")
            }
        );
        assert_eq!(i.label(), "web1/42");
    }
}
