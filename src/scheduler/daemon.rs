//! The daemon's loop, its heartbeat, and shutdown. See the module
//! documentation of [`crate::scheduler`] for one turn of the loop.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::limits::{AccountRule, AccountRules, Limits};
use super::sync::{CampaignSync, SyncSummary};
use super::watch::{self, Change};
use super::worker::{self, Accounts, Report, Shared, post_span};
use super::{DaemonConfig, DaemonError, default_owner};
use crate::calendar::Calendar;
use crate::calendar::tzdb::{self, Choice};
use crate::platforms::outbox::Outbox;
use crate::store::{EntryState, ListFilter, Store};

/// The daemon. Build it with [`Daemon::new`], run it with [`Daemon::run`].
pub struct Daemon {
    cfg: DaemonConfig,
}

/// How a run ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunSummary {
    /// Publications still in flight when the grace period ended (their
    /// leases expire; the next start rescues them).
    pub unfinished: usize,
}

/// What the loop waits for when nothing is due.
const GUARD_SLEEP: Duration = Duration::from_millis(100);

/// How often, at least, a busy loop rescues expired leases and drops late
/// entries (an idle one does at every wake-up).
const MAINTENANCE_EVERY: SignedDuration = SignedDuration::from_secs(1);

impl Daemon {
    pub fn new(cfg: DaemonConfig) -> Daemon {
        Daemon { cfg }
    }

    /// Runs until `shutdown` is cancelled (or, with [`DaemonConfig::until`]
    /// or [`DaemonConfig::jump`], until there is nothing left to do).
    pub async fn run(self, shutdown: CancellationToken) -> Result<RunSummary, DaemonError> {
        let cfg = self.cfg;
        let owner = cfg.owner.clone().unwrap_or_else(default_owner);
        let daemon = cfg.config.daemon.clone();
        let lease = SignedDuration::from_secs(i64::from(daemon.lease_seconds.max(3)));
        let workers = usize::try_from(daemon.workers.max(1)).unwrap_or(16);
        let store = cfg.store.clone();
        let clock = cfg.clock.clone();
        let shared = Arc::new(Shared {
            store: store.clone(),
            clock: clock.clone(),
            owner: owner.clone(),
            accounts: RwLock::new(Arc::new(Accounts::new(cfg.config.clone()))),
            outbox: cfg
                .outbox
                .clone()
                .unwrap_or_else(|| Outbox::in_dir(&cfg.data_dir)),
            outbox_only: cfg.outbox_only,
            factory: cfg.platforms.clone(),
            credentials: cfg.credentials.clone(),
            http: crate::http::client(),
            built: Mutex::new(Default::default()),
            lease,
            max_attempts: daemon.max_attempts.max(1),
            events: cfg.events.clone(),
            shutdown: shutdown.clone(),
        });
        let mut zones = tzdb::select(&cfg.tzdb)?;
        let mut calendar = Calendar::shipped().with_tzdb(zones.tzdb.clone());
        let tz_folder = match &cfg.tzdb {
            Choice::Auto | Choice::System => tzdb::system_folder(),
            Choice::Folder(dir) => Some(dir.clone()),
            Choice::Bundled => None,
        };
        let (tx, mut changes) = mpsc::unbounded_channel();
        let _watching = if cfg.watch {
            match watch::watch(
                &cfg.campaigns_dir,
                cfg.config_path.as_deref(),
                tz_folder.as_deref(),
                tx,
            ) {
                Ok(w) => Some(w),
                Err(e) => {
                    tracing::warn!(error = %e, "not watching files: restart to pick up changes");
                    None
                }
            }
        } else {
            drop(tx);
            None
        };

        tracing::info!(
            owner = %owner,
            database = store.backend_name(),
            campaigns = %cfg.campaigns_dir.display(),
            outbox = %shared.outbox.path().display(),
            tzdb = %zones.describe(),
            "berrah daemon starting"
        );
        for note in &zones.notes {
            tracing::warn!(tzdb = %zones.tzdb.describe(), "{note}");
        }
        let mut campaigns = CampaignSync::new();
        let summary = campaigns
            .sync_all(
                &store,
                &shared.accounts().config,
                &calendar,
                &cfg.campaigns_dir,
                clock.now(),
            )
            .await?;
        log_loaded(&store, &summary, clock.now()).await;
        let alerts = crate::alerts::Alerter::for_daemon(&cfg, &owner);
        alerts.synced(&summary);

        let beat_stop = CancellationToken::new();
        let beat = tokio::spawn(heartbeat(shared.clone(), beat_stop.clone()));
        let mut wakeups = store.wakeups();
        let mut tasks: JoinSet<Report> = JoinSet::new();
        let mut in_flight: HashSet<String> = HashSet::new();
        let mut limits = Limits::new(cfg.per_platform);
        let mut resync = false;
        let mut reconfig = false;
        let mut rezone = false;

        let reap = |r: Result<Report, tokio::task::JoinError>,
                    limits: &mut Limits,
                    in_flight: &mut HashSet<String>| {
            match r {
                Ok(r) => {
                    in_flight.remove(&r.id);
                    limits.end(&r.account, r.platform);
                    let now = clock.now();
                    match r.fault {
                        Some(at) => {
                            limits.failed(&r.account, r.platform, at, now, rand::random::<f64>());
                        }
                        None if r.answered => limits.succeeded(&r.account, r.platform),
                        None => {}
                    }
                }
                Err(e) => {
                    // A panicking worker: its lease expires and it is rescued.
                    tracing::error!(error = %e, "a publication task ended abnormally");
                }
            }
        };

        let mut rules = account_rules(&shared);
        let mut frozen = false;
        let mut woke_by_reap = false;
        let mut next_maintenance = Timestamp::MIN;
        loop {
            while let Some(r) = tasks.try_join_next() {
                reap(r, &mut limits, &mut in_flight);
            }
            // Simulated time stands still while the loop works.
            if let Some(c) = &cfg.freeze_while_busy
                && !frozen
            {
                c.pause();
                frozen = true;
            }
            if shutdown.is_cancelled() {
                break;
            }
            while let Ok(c) = changes.try_recv() {
                match c {
                    Change::Campaigns => resync = true,
                    Change::Config => reconfig = true,
                    Change::Tzdb => rezone = true,
                }
            }
            if std::mem::take(&mut rezone) {
                match tzdb::select(&cfg.tzdb) {
                    Ok(new) if new.tzdb.describe() != zones.tzdb.describe() => {
                        tracing::warn!(
                            from = %zones.tzdb.describe(),
                            to = %new.tzdb.describe(),
                            "the time-zone data changed: every campaign is planned again and waiting posts move where their due time changed"
                        );
                        for note in &new.notes {
                            tracing::warn!(tzdb = %new.tzdb.describe(), "{note}");
                        }
                        calendar = Calendar::shipped().with_tzdb(new.tzdb.clone());
                        zones = new;
                        resync = true;
                    }
                    Ok(_) => {}
                    Err(e) => tracing::error!(
                        error = %e,
                        in_use = %zones.tzdb.describe(),
                        "the time-zone data cannot be read again; keeping the data in use"
                    ),
                }
            }
            if std::mem::take(&mut reconfig)
                && let Some(path) = &cfg.config_path
            {
                match crate::config::read_config(path, true) {
                    Ok(Some(config)) => {
                        tracing::info!(file = %path.display(), accounts = config.accounts.len(), "configuration reloaded");
                        *shared.accounts.write().unwrap_or_else(|p| p.into_inner()) =
                            Arc::new(Accounts::new(config));
                        shared
                            .built
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .clear();
                        rules = account_rules(&shared);
                        alerts.configure(&shared.accounts().config.alerts);
                        resync = true;
                    }
                    Ok(None) => {}
                    Err(report) => tracing::error!(
                        file = %path.display(),
                        "the configuration has errors; keeping the one in force:\n{}",
                        report.render().trim_end()
                    ),
                }
            }
            if std::mem::take(&mut resync) {
                let config = shared.accounts().config.clone();
                match campaigns
                    .sync_all(&store, &config, &calendar, &cfg.campaigns_dir, clock.now())
                    .await
                {
                    Ok(summary) => alerts.synced(&summary),
                    Err(e) => {
                        tracing::error!(error = %e, "could not sync the campaign files; trying at the next change")
                    }
                }
            }
            let now = clock.now();
            if cfg.until.is_some_and(|u| now > u) && tasks.is_empty() {
                break;
            }
            let lease_until = shared.lease_until(now);

            // Rescue what crashed workers left and drop what is too late:
            // at every turn but those woken only by publications ending
            // (a burst), and then at least once a second. (Claims never
            // take a late entry either way.)
            let maintain = !std::mem::take(&mut woke_by_reap) || now >= next_maintenance;
            if maintain {
                next_maintenance = now.checked_add(MAINTENANCE_EVERY).unwrap_or(now);
                maintenance(&shared, &mut limits, &mut in_flight, &mut tasks, now).await;
            }
            // Take and start what is due: only what the limits admit, so
            // that nothing is claimed only to be handed back.
            let free = workers.saturating_sub(tasks.len());
            let skip = limits.full(|a| rules.get(a).map_or(1, |r| r.concurrency));
            // Due entries may be waiting for a publication in flight to end.
            let mut blocked = !skip.accounts.is_empty() || !skip.platforms.is_empty();
            let mut claimed_any = false;
            // When to look again, if nothing else wakes the loop first.
            let mut next = None;
            if free > 0 {
                let admission = limits.admission(rules.clone(), in_flight.clone(), now);
                match store
                    .claim_turn(
                        now,
                        u32::try_from(free).unwrap_or(u32::MAX),
                        &owner,
                        lease_until,
                        &skip,
                        admission,
                    )
                    .await
                {
                    Ok((list, after, admission)) => {
                        next = after;
                        blocked |= admission.left > 0;
                        for e in list {
                            claimed_any = true;
                            in_flight.insert(e.id.clone());
                            limits.start(&e.account, e.platform);
                            let others = limits.in_flight_on(&e.account).saturating_sub(1) as u64;
                            tasks.spawn(worker::publish(shared.clone(), e, others));
                        }
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "could not claim due posts; trying again shortly");
                        woke_by_reap = false;
                        tokio::select! {
                            () = shutdown.cancelled() => {}
                            () = tokio::time::sleep(Duration::from_secs(1)) => {}
                        }
                        continue;
                    }
                }
            }
            if let Some(sim) = &cfg.jump
                && tasks.is_empty()
                && !blocked
            {
                match next {
                    Some(t) if t > now => {
                        if let Some(u) = cfg.until
                            && t > u
                        {
                            sim.set(u);
                            break;
                        }
                        sim.set(t);
                        continue;
                    }
                    Some(_) => {
                        if !claimed_any {
                            tokio::time::sleep(Duration::from_millis(1)).await;
                        }
                        continue;
                    }
                    None => break,
                }
            }
            if cfg.stop_when_idle && next.is_none() && tasks.is_empty() && !blocked {
                break;
            }
            let full = free == 0 || tasks.len() >= workers || blocked;
            let deadline = match next {
                Some(t) if t > now => Some(t),
                // Due now, but every slot is busy: wait for one to free.
                Some(_) if full => None,
                // The queue was not read: a publication ending wakes the loop.
                None if free == 0 => None,
                Some(_) => now
                    .checked_add(SignedDuration::try_from(GUARD_SLEEP).unwrap_or_default())
                    .ok(),
                None => None,
            };
            let deadline = match (deadline, cfg.until) {
                (Some(d), Some(u)) => {
                    Some(d.min(u.checked_add(SignedDuration::from_millis(1)).unwrap_or(u)))
                }
                (None, Some(u)) => u.checked_add(SignedDuration::from_millis(1)).ok(),
                (d, None) => d,
            };
            let sleep = async {
                match deadline {
                    Some(d) => clock.sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            // ... and runs only while it waits with nothing in flight.
            if let Some(c) = &cfg.freeze_while_busy
                && frozen
                && tasks.is_empty()
            {
                c.resume();
                frozen = false;
            }
            alerts.wake();
            tokio::select! {
                () = shutdown.cancelled() => {}
                Some(r) = tasks.join_next(), if !tasks.is_empty() => {
                    reap(r, &mut limits, &mut in_flight);
                    woke_by_reap = true;
                }
                () = sleep => {}
                r = wakeups.recv() => {
                    if let Err(broadcast::error::RecvError::Closed) = r {
                        wakeups = store.wakeups();
                    }
                }
                Some(c) = changes.recv() => match c {
                    Change::Campaigns => resync = true,
                    Change::Config => reconfig = true,
                    Change::Tzdb => rezone = true,
                },
            }
        }

        if let Some(c) = &cfg.freeze_while_busy
            && frozen
        {
            c.resume();
        }
        // Shutdown: nothing new starts; let what is in flight finish.
        let mut summary = RunSummary::default();
        if !tasks.is_empty() {
            tracing::info!(
                in_flight = tasks.len(),
                grace_s = cfg.grace.as_secs(),
                "stopping: letting publications in flight finish"
            );
        }
        let deadline = tokio::time::Instant::now() + cfg.grace;
        while !tasks.is_empty() {
            tokio::select! {
                Some(r) = tasks.join_next() => reap(r, &mut limits, &mut in_flight),
                () = tokio::time::sleep_until(deadline) => break,
            }
        }
        if !tasks.is_empty() {
            summary.unfinished = tasks.len();
            tracing::warn!(
                unfinished = tasks.len(),
                "publications still in flight after the grace period are cut; their leases expire and the next start looks at them"
            );
            tasks.abort_all();
            while tasks.join_next().await.is_some() {}
        }
        beat_stop.cancel();
        let _ = beat.await;
        alerts.stop().await;
        tracing::info!("berrah daemon stopped");
        Ok(summary)
    }
}

/// The concurrency and budget of each configured account.
fn account_rules(shared: &Shared) -> AccountRules {
    let accounts = shared.accounts();
    Arc::new(
        accounts
            .accounts
            .iter()
            .map(|(id, a)| {
                let rule = AccountRule {
                    concurrency: a.concurrency.map_or(1, |c| usize::try_from(c).unwrap_or(1)),
                    budget: a.budget.is_some(),
                };
                (id.clone(), rule)
            })
            .collect(),
    )
}

/// Rescues what crashed workers left (a claim whose lease expired goes back
/// to the queue; an attempt whose outcome is unknown is taken over: retried,
/// resolved or held) and drops what is too late.
async fn maintenance(
    shared: &Arc<Shared>,
    limits: &mut Limits,
    in_flight: &mut HashSet<String>,
    tasks: &mut JoinSet<Report>,
    now: Timestamp,
) {
    let store = &shared.store;
    let owner = &shared.owner;
    let lease_until = shared.lease_until(now);
    match store.expired_leases(now).await {
        Ok((requeued, unknown)) => {
            for e in requeued {
                post_span(&e).in_scope(|| {
                    tracing::info!("a claim expired before any call; back in the queue")
                });
            }
            for e in unknown {
                if in_flight.contains(&e.id) {
                    continue;
                }
                let old = e.lease_owner.clone().unwrap_or_default();
                match store.take_over(&e.id, &old, owner, lease_until).await {
                    Ok(Some(e)) => {
                        in_flight.insert(e.id.clone());
                        limits.start(&e.account, e.platform);
                        tasks.spawn(worker::rescue(shared.clone(), e));
                    }
                    Ok(None) => {}
                    Err(err) => {
                        tracing::warn!(error = %err, id = %e.id, "could not take over an expired attempt")
                    }
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "could not look for expired leases"),
    }
    match store.expire_late(now).await {
        Ok(late) => {
            for e in late {
                post_span(&e).in_scope(|| {
                    tracing::warn!(
                        due_local = %e.local,
                        due_utc = %e.due,
                        not_after = %e.not_after,
                        reason = e.last_error.as_deref().unwrap_or("too late"),
                        "dropped, not published"
                    )
                });
            }
        }
        Err(e) => tracing::warn!(error = %e, "could not expire late entries"),
    }
}

/// Extends this daemon's leases while it works, every third of a lease.
async fn heartbeat(shared: Arc<Shared>, stop: CancellationToken) {
    let every = shared.lease / 3;
    loop {
        let next = shared
            .clock
            .now()
            .checked_add(every)
            .unwrap_or(Timestamp::MAX);
        tokio::select! {
            () = stop.cancelled() => return,
            () = shared.clock.sleep_until(next) => {}
        }
        let until = shared.lease_until(shared.clock.now());
        if let Err(e) = shared.store.heartbeat(&shared.owner, until).await {
            tracing::warn!(error = %e, "could not extend the leases of publications in flight");
        }
    }
}

/// The start-up line: what was loaded and when the next post is due.
async fn log_loaded(store: &Store, summary: &SyncSummary, now: Timestamp) {
    let campaigns: Vec<&str> = summary.synced.keys().map(String::as_str).collect();
    tracing::info!(
        campaigns = %campaigns.join(", "),
        occurrences = summary.synced.values().sum::<usize>(),
        broken = summary.broken.len(),
        added = summary.added,
        updated = summary.updated,
        cancelled = summary.cancelled,
        "campaigns loaded"
    );
    let next = store
        .list(ListFilter {
            states: vec![EntryState::Scheduled, EntryState::Retrying],
            from: Some(now),
            limit: Some(1),
            ..ListFilter::default()
        })
        .await;
    match next {
        Ok(list) => match list.first() {
            Some(e) => tracing::info!(
                due_local = %e.local,
                due_utc = %e.due,
                timezone = %e.timezone,
                campaign = %e.campaign,
                post = %e.post,
                account = %e.account,
                "next post due {} ({} UTC)",
                e.local,
                e.due
            ),
            None => tracing::info!("nothing is scheduled"),
        },
        Err(e) => tracing::warn!(error = %e, "could not read the next due post"),
    }
}
