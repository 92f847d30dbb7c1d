//! The daemon's Prometheus metrics, through `prometheus-client` (the
//! Prometheus project's own Rust client; the text format is its encoder's,
//! never written by hand).
//!
//! Two kinds of values:
//!
//! - kept by the daemon as things happen, through a [`Metrics`] handle in its
//!   shared state: publications by outcome ([`Metrics::outcome`],
//!   [`Metrics::dropped_late`]), lateness at the first request
//!   ([`Metrics::requested`]), the last sync ([`Metrics::synced`]);
//! - read from the store at each scrape ([`Metrics::scrape`]): entries by
//!   state, held entries by cause, the next due time, each stored token's
//!   expiry. They are the database's truth, whichever process changed it
//!   (an operator's `berrah retry`, another instance on PostgreSQL).
//!
//! Labels carry only platform and account ids, states, outcomes and causes:
//! never a secret, never a post's text.

use std::sync::Arc;

use jiff::Timestamp;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};
use tokio::sync::watch;

use crate::scheduler::sync::SyncSummary;
use crate::store::{Entry, Finish, Store, StoreError};

/// The `Content-Type` of [`Metrics::encode`]'s output.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Upper bounds of the lateness histogram, in seconds: from "on time" (the
/// loop wakes within milliseconds of a due time) to a day late (a post
/// released by an operator, or after downtime, within its `not_after`).
pub const LATENESS_BUCKETS: [f64; 16] = [
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 10800.0, 21600.0,
    86400.0,
];

/// The causes of a hold, always listed (0 when none) so that a query over
/// them never finds a series missing: see `store::sync::cause`.
const HOLD_CAUSES: [&str; 3] = ["outcome", "account", "file_pause"];

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PublicationLabels {
    platform: String,
    account: String,
    outcome: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PlatformLabels {
    platform: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CauseLabels {
    cause: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AccountLabels {
    account: String,
    platform: String,
}

/// A gauge that has a value only sometimes (no sync yet, nothing due): a
/// family whose one child, without labels, exists only then.
type Optional = Family<Vec<(String, String)>, Gauge>;

type Lateness = Family<PlatformLabels, Histogram, fn() -> Histogram>;

/// What the last successful pass over the campaign files found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncState {
    pub at: Timestamp,
    /// Valid campaigns synced.
    pub campaigns: usize,
    /// Campaign files that do not check (their last valid version runs).
    pub broken: usize,
}

/// The daemon's metrics. Cheap to clone: clones share the registry.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    publications: Family<PublicationLabels, Counter>,
    lateness: Lateness,
    entries: Family<StateLabels, Gauge>,
    held: Family<CauseLabels, Gauge>,
    next_due: Optional,
    broken_files: Gauge,
    token_expiry: Family<AccountLabels, Gauge>,
    last_sync: Optional,
    database_up: Gauge,
    sync: watch::Sender<Option<SyncState>>,
    /// One scrape at a time: each reads the store, then encodes what it read.
    scrape: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

fn lateness_histogram() -> Histogram {
    Histogram::new(LATENESS_BUCKETS)
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("berrah");
        let publications = Family::<PublicationLabels, Counter>::default();
        registry.register(
            "publications",
            "Outcomes recorded for queue entries, by platform, account and outcome \
             (published, retry, failed, held, needs_operator; expired: dropped as too late, never sent)",
            publications.clone(),
        );
        let lateness: Lateness = Family::new_with_constructor(lateness_histogram);
        registry.register_with_unit(
            "publication_lateness",
            "Time from a post's due time to its first request to the platform",
            Unit::Seconds,
            lateness.clone(),
        );
        let entries = Family::<StateLabels, Gauge>::default();
        registry.register(
            "queue_entries",
            "Queue entries in each state, as the database says at the scrape",
            entries.clone(),
        );
        let held = Family::<CauseLabels, Gauge>::default();
        registry.register(
            "held_entries",
            "Entries held for an operator, by cause (outcome: unknown outcome; \
             account: credentials; file_pause: paused in the campaign file)",
            held.clone(),
        );
        let next_due = Optional::default();
        registry.register_with_unit(
            "next_due_timestamp",
            "When the next waiting entry may go out (Unix time); absent when nothing waits",
            Unit::Seconds,
            next_due.clone(),
        );
        let broken_files = Gauge::default();
        registry.register(
            "broken_campaign_files",
            "Campaign files that do not check at the last sync (their last valid version runs)",
            broken_files.clone(),
        );
        let token_expiry = Family::<AccountLabels, Gauge>::default();
        registry.register_with_unit(
            "token_expires_in",
            "Time until an account's stored credentials stop working without \
             `berrah accounts login` (negative: expired; 0 when refused)",
            Unit::Seconds,
            token_expiry.clone(),
        );
        let last_sync = Optional::default();
        registry.register_with_unit(
            "last_sync_timestamp",
            "When the campaign files were last synced into the queue (Unix time)",
            Unit::Seconds,
            last_sync.clone(),
        );
        let database_up = Gauge::default();
        registry.register(
            "database_up",
            "Whether the database answered this scrape's queries (1) or not (0)",
            database_up.clone(),
        );
        registry.register(
            "build",
            "The running berrah's version",
            Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
        );
        Metrics {
            inner: Arc::new(Inner {
                registry,
                publications,
                lateness,
                entries,
                held,
                next_due,
                broken_files,
                token_expiry,
                last_sync,
                database_up,
                sync: watch::Sender::new(None),
                scrape: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// An attempt ended with `finish` (recorded by the worker or a rescue).
    pub fn outcome(&self, entry: &Entry, finish: &Finish) {
        self.count(entry, outcome_name(finish));
    }

    /// An entry was dropped, not published: past its `not_after`.
    pub fn dropped_late(&self, entry: &Entry) {
        self.count(entry, "expired");
    }

    fn count(&self, entry: &Entry, outcome: &str) {
        self.inner
            .publications
            .get_or_create(&PublicationLabels {
                platform: entry.platform.as_str().to_string(),
                account: entry.account.clone(),
                outcome: outcome.to_string(),
            })
            .inc();
    }

    /// The platform is about to be called for `entry` at `now`: its first
    /// attempt's lateness is observed (a retry's wait is not lateness of
    /// the scheduler; retries are counted by outcome).
    pub fn requested(&self, entry: &Entry, now: Timestamp) {
        if entry.attempts > 1 {
            return;
        }
        let late = now.duration_since(entry.due).as_secs_f64().max(0.0);
        self.inner
            .lateness
            .get_or_create(&PlatformLabels {
                platform: entry.platform.as_str().to_string(),
            })
            .observe(late);
    }

    /// A pass over the campaign files ended: broken files, last sync time,
    /// and readiness (the first sync makes the daemon ready).
    pub fn synced(&self, summary: &SyncSummary, now: Timestamp) {
        let broken = summary.broken.len();
        self.inner
            .broken_files
            .set(i64::try_from(broken).unwrap_or(i64::MAX));
        self.inner
            .last_sync
            .get_or_create(&Vec::new())
            .set(now.as_second());
        self.inner.sync.send_replace(Some(SyncState {
            at: now,
            campaigns: summary.synced.len(),
            broken,
        }));
    }

    /// Whether the campaign files were synced at least once.
    pub fn is_synced(&self) -> bool {
        self.inner.sync.borrow().is_some()
    }

    /// Follows [`Metrics::synced`]: `None` until the first sync.
    pub fn sync_state(&self) -> watch::Receiver<Option<SyncState>> {
        self.inner.sync.subscribe()
    }

    /// Reads the store's gauges at `now`, then encodes every metric in the
    /// Prometheus text format. A database that does not answer leaves the
    /// store's gauges as last read and sets `berrah_database_up` to 0 (the
    /// error is returned beside the text, for the log).
    pub async fn scrape(&self, store: &Store, now: Timestamp) -> (String, Option<StoreError>) {
        let _one = self.inner.scrape.lock().await;
        let error = self.refresh(store, now).await.err();
        self.inner
            .database_up
            .set(if error.is_none() { 1 } else { 0 });
        (self.encode(), error)
    }

    async fn refresh(&self, store: &Store, now: Timestamp) -> Result<(), StoreError> {
        let i = &self.inner;
        let counts = store.count_by_state().await?;
        let held = store.held_by_cause().await?;
        let next = store.next_due(now).await?.map(|e| e.run_at);
        let tokens = store.token_expiries().await?;
        for (state, n) in counts {
            i.entries
                .get_or_create(&StateLabels {
                    state: state.as_str().to_string(),
                })
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        i.held.clear();
        for cause in HOLD_CAUSES {
            i.held
                .get_or_create(&CauseLabels {
                    cause: cause.to_string(),
                })
                .set(0);
        }
        for (cause, n) in held {
            i.held
                .get_or_create(&CauseLabels { cause })
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        i.next_due.clear();
        if let Some(at) = next {
            i.next_due.get_or_create(&Vec::new()).set(at.as_second());
        }
        i.token_expiry.clear();
        for t in tokens {
            let left = match t.expires_at {
                Some(at) => Some(at.duration_since(now).as_secs()),
                None if t.needs_operator => Some(0),
                None => None,
            };
            let Some(left) = left else { continue };
            let left = if t.needs_operator { left.min(0) } else { left };
            i.token_expiry
                .get_or_create(&AccountLabels {
                    account: t.account,
                    platform: t.platform,
                })
                .set(left);
        }
        Ok(())
    }

    /// Every metric in the Prometheus text format (version 0.0.4).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ =
            prometheus_client::encoding::prometheus_text::encode(&mut out, &self.inner.registry);
        out
    }
}

/// The `outcome` label of a finish: the names the attempts table uses.
pub fn outcome_name(finish: &Finish) -> &'static str {
    match finish {
        Finish::Published { .. } => "published",
        Finish::Retry { .. } => "retry",
        Finish::Failed { .. } => "failed",
        Finish::Held { .. } => "held",
        Finish::NeedsOperator { .. } => "needs_operator",
        Finish::Expired { .. } => "expired",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PlatformKind;
    use crate::store::EntryState;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn entry(attempts: u32) -> Entry {
        Entry {
            platform: PlatformKind::X,
            attempts,
            ..Entry::sample("o-1", "oim-x", EntryState::Publishing)
        }
    }

    fn line<'a>(text: &'a str, start: &str) -> Option<&'a str> {
        text.lines()
            .find_map(|l| l.strip_prefix(start)?.strip_prefix(' '))
    }

    #[test]
    fn outcomes_lateness_and_syncs_are_counted_as_they_happen() {
        let m = Metrics::new();
        assert!(!m.is_synced());
        let published = Finish::Published {
            remote_id: "1".into(),
            url: None,
        };
        m.outcome(&entry(1), &published);
        m.outcome(&entry(1), &published);
        m.outcome(
            &entry(2),
            &Finish::Held {
                reason: "unknown".into(),
            },
        );
        m.dropped_late(&entry(0));
        // 90 s late at the first attempt; a second attempt is not lateness.
        m.requested(&entry(1), t("2026-12-18T09:01:30Z"));
        m.requested(&entry(2), t("2026-12-18T12:00:00Z"));
        let summary = SyncSummary {
            synced: [("amal".to_string(), 3)].into_iter().collect(),
            broken: vec![("campaigns/b.toml".into(), None)],
            ..SyncSummary::default()
        };
        m.synced(&summary, t("2026-12-18T08:00:00Z"));
        assert!(m.is_synced());
        assert_eq!(
            *m.sync_state().borrow(),
            Some(SyncState {
                at: t("2026-12-18T08:00:00Z"),
                campaigns: 1,
                broken: 1
            })
        );

        let text = m.encode();
        let count = |outcome: &str| {
            line(
                &text,
                &format!(
                    r#"berrah_publications_total{{platform="x",account="oim-x",outcome="{outcome}"}}"#
                ),
            )
        };
        assert_eq!(count("published"), Some("2"), "{text}");
        assert_eq!(count("held"), Some("1"), "{text}");
        assert_eq!(count("expired"), Some("1"), "{text}");
        let bucket = |le: &str| {
            line(
                &text,
                &format!(r#"berrah_publication_lateness_seconds_bucket{{platform="x",le="{le}"}}"#),
            )
        };
        assert_eq!(bucket("60"), Some("0"), "{text}");
        assert_eq!(bucket("300"), Some("1"), "{text}");
        assert_eq!(
            line(
                &text,
                r#"berrah_publication_lateness_seconds_sum{platform="x"}"#
            ),
            Some("90.0"),
            "{text}"
        );
        assert_eq!(line(&text, "berrah_broken_campaign_files"), Some("1"));
        assert_eq!(
            line(&text, "berrah_last_sync_timestamp_seconds"),
            Some(t("2026-12-18T08:00:00Z").as_second().to_string().as_str())
        );
        assert!(text.contains("# TYPE berrah_publications_total counter"));
        assert!(text.contains("# TYPE berrah_publication_lateness_seconds histogram"));
    }
}
