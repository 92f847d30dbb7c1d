//! The daemon's loop, its heartbeat, and shutdown. See the module
//! documentation of [`crate::scheduler`] for one turn of the loop.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::limits::{AccountRule, AccountRules, Limits, WebhookHosts, receiving_host};
use super::sync::{CampaignSync, SyncSummary};
use super::watch::{self, Change};
use super::worker::{self, Accounts, Report, Shared, post_event};
use super::{DaemonConfig, DaemonError, default_owner};
use crate::calendar::Calendar;
use crate::calendar::tzdb::{self, Choice};
use crate::platforms::outbox::Outbox;
use crate::store::instances::HEARTBEAT_EVERY;
use crate::store::{EntryState, InstanceInfo, ListFilter, Store};

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

/// How long before its due time a post is taken from the queue: its worker
/// then waits for the due time and calls the platform at once, so that the
/// claim's round trips and commit (a disk flush: a few ms, sometimes tens)
/// are not part of how late it goes out. A post is never sent early; taken
/// to `publishing` this early, it can no longer be cancelled in that last
/// moment (as when it has just gone out).
const CLAIM_AHEAD: SignedDuration = SignedDuration::from_millis(50);

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
        let workers = usize::try_from(daemon.workers.max(1)).unwrap_or(usize::MAX);
        let store = cfg.store.clone();
        let clock = cfg.clock.clone();
        // Simulated time stands still or jumps while the loop works: there
        // the worker could not wait for a due time ahead.
        let ahead = if cfg.jump.is_some() || cfg.freeze_while_busy.is_some() {
            SignedDuration::ZERO
        } else {
            CLAIM_AHEAD
        };
        let (answers_tx, mut answers) = mpsc::unbounded_channel();
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
            metrics: cfg.metrics.clone(),
            answers: answers_tx,
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

        let version = env!("CARGO_PKG_VERSION");
        let database = store.location();
        tracing::info!(
            version,
            database = %database,
            backend = store.backend_name(),
            owner = %owner,
            campaigns = %cfg.campaigns_dir.display(),
            outbox = %shared.outbox.path().display(),
            tzdb = %zones.describe(),
            "berrah daemon starting: version {version}, database {database}, time-zone data {}",
            zones.describe()
        );
        tokio::spawn(super::actions::watch(
            store.clone(),
            clock.clone(),
            shutdown.clone(),
        ));
        for note in &zones.notes {
            tracing::warn!(tzdb = %zones.tzdb.describe(), "{note}");
        }
        let predecessor = register(&shared, cfg.exclusive).await?;
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
        super::sync::give_back_memory();
        let mut next_due = NextDue::default();
        store
            .queue_grew(summary.added + summary.updated + summary.moved)
            .await;
        log_loaded(&summary);
        next_due.log(&store, clock.now()).await;
        shared.metrics.synced(&summary, clock.now());
        let alerts = crate::alerts::Alerter::for_daemon(&cfg, &owner);
        alerts.synced(&summary);
        if let Some(previous) = &predecessor {
            alerts.restarted_after_crash(previous);
        }

        let beat_stop = CancellationToken::new();
        // Whether publications are in flight: the heartbeat's pace.
        let (busy, busy_rx) = tokio::sync::watch::channel(false);
        let beat = tokio::spawn(heartbeat(
            shared.clone(),
            busy_rx,
            cfg.exclusive,
            beat_stop.clone(),
        ));
        let mut wakeups = store.wakeups();
        let mut tasks: JoinSet<Report> = JoinSet::new();
        let mut in_flight: HashSet<String> = HashSet::new();
        let mut limits = Limits::new(cfg.per_platform);
        limits.configure(cfg.per_platform, webhook_hosts(&shared));
        let mut resync = false;
        let mut reconfig = false;
        let mut rezone = false;

        // A worker tells the loop when the platform has answered (its
        // platform's slot frees and the backoff is updated), then records
        // the outcome and ends (its account's slot frees).
        let answered = |r: &Report, limits: &mut Limits| {
            limits.answered(&r.account, r.platform);
            let now = clock.now();
            match r.fault {
                Some(at) => {
                    limits.failed(&r.account, r.platform, at, now, rand::random::<f64>());
                }
                None if r.answered => limits.succeeded(&r.account, r.platform),
                None => {}
            }
        };
        let reap = |r: Result<Report, tokio::task::JoinError>,
                    limits: &mut Limits,
                    in_flight: &mut HashSet<String>,
                    answers: &mut mpsc::UnboundedReceiver<Report>| {
            // A task's answer is sent before it ends: count it first.
            while let Ok(a) = answers.try_recv() {
                answered(&a, limits);
            }
            match r {
                Ok(r) => {
                    in_flight.remove(&r.id);
                    if !r.told {
                        // Ended without telling (no call, a rescue, a
                        // closed channel): its platform's slot frees now.
                        answered(&r, limits);
                    }
                    limits.ended(&r.account);
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
        // What the last claim said is next, to log the next post due when it
        // changes (once a turn takes nothing: not at every turn of a burst).
        let mut last_after = None;
        let mut next_changed = false;
        loop {
            while let Ok(a) = answers.try_recv() {
                answered(&a, &mut limits);
            }
            while let Some(r) = tasks.try_join_next() {
                reap(r, &mut limits, &mut in_flight, &mut answers);
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
                        super::remember_config(&store, path, clock.now()).await;
                        *shared.accounts.write().unwrap_or_else(|p| p.into_inner()) =
                            Arc::new(Accounts::new(config));
                        shared
                            .built
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .clear();
                        rules = account_rules(&shared);
                        let per_platform =
                            usize::try_from(shared.accounts().config.daemon.per_platform)
                                .unwrap_or(cfg.per_platform);
                        limits.configure(per_platform, webhook_hosts(&shared));
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
                    Ok(summary) => {
                        store
                            .queue_grew(summary.added + summary.updated + summary.moved)
                            .await;
                        shared.metrics.synced(&summary, clock.now());
                        alerts.synced(&summary);
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "could not sync the campaign files; trying at the next change")
                    }
                }
                super::sync::give_back_memory();
                next_due.log(&store, clock.now()).await;
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
                    .claim_turn_by(
                        now,
                        now.checked_add(ahead).unwrap_or(now),
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
                        if after != last_after {
                            last_after = after;
                            next_changed = true;
                        }
                        if next_changed && list.is_empty() {
                            next_changed = false;
                            next_due.log(&store, now).await;
                        }
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
                        if let Some(speed) = cfg.pace.filter(|s| *s > 0.0) {
                            pace(t.duration_since(now), speed, &shutdown).await;
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
            let deadline = match next.map(|t| t.checked_sub(ahead).unwrap_or(t)) {
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
            tokio::pin!(sleep);
            // ... and runs only while it waits with nothing in flight.
            if let Some(c) = &cfg.freeze_while_busy
                && frozen
                && tasks.is_empty()
            {
                c.resume();
                frozen = false;
            }
            alerts.wake();
            let working = !tasks.is_empty();
            busy.send_if_modified(|b| std::mem::replace(b, working) != working);
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => {}
                    Some(r) = tasks.join_next(), if !tasks.is_empty() => {
                        reap(r, &mut limits, &mut in_flight, &mut answers);
                        woke_by_reap = true;
                    }
                    Some(a) = answers.recv() => {
                        // A turn only when the answer makes room that
                        // something may be waiting for (its lane was full).
                        let relieved = limits.lane_full(&a.account, a.platform);
                        answered(&a, &mut limits);
                        if !relieved {
                            continue;
                        }
                        woke_by_reap = true;
                    }
                    () = &mut sleep => {}
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
                break;
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
                Some(r) = tasks.join_next() => reap(r, &mut limits, &mut in_flight, &mut answers),
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
        if let Err(e) = store.stop_instance(&owner, clock.now()).await {
            tracing::warn!(error = %e, "could not record the clean stop; the next start will think this daemon crashed");
        }
        tracing::info!("berrah daemon stopped");
        Ok(summary)
    }
}

/// The longest real wait of a paced jump: idle weeks and months go by in
/// a blink, busy days at the chosen speed.
const PACE_MAX_WAIT: Duration = Duration::from_millis(250);

/// Before a paced jump over `gap` of simulated time: waits `gap / speed`
/// of real time, at most [`PACE_MAX_WAIT`].
async fn pace(gap: SignedDuration, speed: f64, shutdown: &CancellationToken) {
    let real = (gap.as_secs_f64().max(0.0) / speed).min(PACE_MAX_WAIT.as_secs_f64());
    tokio::select! {
        () = shutdown.cancelled() => {}
        () = tokio::time::sleep(Duration::from_secs_f64(real)) => {}
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

/// The receiving host of each webhook account, for the per-platform limit.
fn webhook_hosts(shared: &Shared) -> WebhookHosts {
    let accounts = shared.accounts();
    Arc::new(
        accounts
            .config
            .accounts
            .iter()
            .filter(|(_, a)| a.platform == crate::config::PlatformKind::Webhook)
            .filter_map(|(id, a)| Some((id.clone(), receiving_host(a.base_url()?)?)))
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
            let mut gone: Vec<String> = Vec::new();
            for e in requeued {
                post_event!(
                    tracing::Level::INFO,
                    e,
                    "a claim expired before any call to the platform; the post is back in the queue"
                );
            }
            for e in unknown {
                if in_flight.contains(&e.id) {
                    continue;
                }
                let old = e.lease_owner.clone().unwrap_or_default();
                match store.take_over(&e.id, &old, owner, lease_until).await {
                    Ok(Some(e)) => {
                        gone.push(old);
                        in_flight.insert(e.id.clone());
                        limits.start(&e.account, e.platform);
                        tasks.spawn(worker::rescue(shared.clone(), e));
                    }
                    Ok(None) => {}
                    Err(err) => post_event!(
                        tracing::Level::WARN,
                        e,
                        error = %err,
                        "could not take over an attempt whose lease expired"
                    ),
                }
            }
            gone.retain(|o| o != owner);
            gone.sort();
            gone.dedup();
            if !gone.is_empty()
                && let Err(e) = store.mark_rescued(&gone, owner, now).await
            {
                tracing::warn!(error = %e, "could not record the rescue of a gone daemon's work");
            }
        }
        Err(e) => tracing::warn!(error = %e, "could not look for expired leases"),
    }
    match store.expire_late(now).await {
        Ok(late) => {
            for e in late {
                shared.metrics.dropped_late(&e);
                post_event!(
                    tracing::Level::WARN,
                    e,
                    due_local = %e.local,
                    due_utc = %e.due,
                    not_after = %e.not_after,
                    reason = e.last_error.as_deref().unwrap_or("too late"),
                    "dropped without being published: {}",
                    e.last_error.as_deref().unwrap_or("too late")
                );
            }
        }
        Err(e) => tracing::warn!(error = %e, "could not expire late entries"),
    }
}

/// Tells the database this daemon is alive and extends its leases. While
/// publications are in flight (`busy`): every third of a lease, and at least
/// every [`HEARTBEAT_EVERY`]. While none is, the leases need nothing, and it
/// beats only every [`IDLE_HEARTBEAT_EVERY`] of real time, so that an idle
/// daemon sleeps (each beat is a write: the writer's threads, the disk, the
/// file watcher); [`GONE_AFTER`] allows for three idle beats missed. When
/// work starts, the next beat is a third of a lease later.
///
/// With the SQLite lock (`exclusive`) no other daemon can hold a lease, so
/// the beat does not look for silent ones.
///
/// [`IDLE_HEARTBEAT_EVERY`]: crate::store::instances::IDLE_HEARTBEAT_EVERY
/// [`GONE_AFTER`]: crate::store::instances::GONE_AFTER
async fn heartbeat(
    shared: Arc<Shared>,
    mut busy: tokio::sync::watch::Receiver<bool>,
    exclusive: bool,
    stop: CancellationToken,
) {
    // A third of a lease on the daemon's clock (simulated in `rehearse`
    // and the tests), and at least every beat in real time.
    let every = (shared.lease / 3).max(SignedDuration::from_millis(500));
    let beat = std::time::Duration::try_from(HEARTBEAT_EVERY).unwrap_or_default();
    let idle_beat = std::time::Duration::try_from(crate::store::instances::IDLE_HEARTBEAT_EVERY)
        .unwrap_or_default();
    let mut idle_until = tokio::time::Instant::now() + idle_beat;
    loop {
        let working = *busy.borrow_and_update();
        if working {
            let next = shared
                .clock
                .now()
                .checked_add(every)
                .unwrap_or(Timestamp::MAX);
            tokio::select! {
                () = stop.cancelled() => return,
                () = shared.clock.sleep_until(next) => {}
                () = tokio::time::sleep(beat) => {}
            }
        } else {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep_until(idle_until) => {}
                changed = busy.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    // Work started: its leases were just taken; beat a
                    // third of a lease from now.
                    continue;
                }
            }
        }
        let now = shared.clock.now();
        let until = working.then(|| shared.lease_until(now));
        if let Err(e) = shared.store.beat(&shared.owner, now, until).await {
            tracing::warn!(error = %e, "could not extend the leases of publications in flight");
        }
        idle_until = tokio::time::Instant::now() + idle_beat;
        if !exclusive {
            rescue_the_silent(&shared, now).await;
        }
    }
}

/// Daemons not heard of for long are gone (PostgreSQL: others may share
/// the queue): their leases end now, and the loop, woken, rescues their
/// publications in flight without waiting for the leases to expire.
async fn rescue_the_silent(shared: &Shared, now: Timestamp) {
    match shared.store.expire_leases_of_gone(&shared.owner, now).await {
        Ok(gone) if !gone.is_empty() => {
            tracing::warn!(
                instances = %gone.join(", "),
                "a daemon has not been heard of for {} s: its publications in flight are looked at now",
                crate::store::instances::GONE_AFTER.as_secs()
            );
            shared.store.notify().await;
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "could not look for daemons that are gone"),
    }
}

/// Registers this daemon as an instance of the database. With the
/// database's lock (`exclusive`), every other instance is gone: the leases
/// they left end now (the first rescue pass takes them over) and the
/// rescue is recorded. Either way, a predecessor that ended without a clean
/// stop is logged and returned (the alerts tell of it).
async fn register(
    shared: &Shared,
    exclusive: bool,
) -> Result<Option<crate::store::Instance>, DaemonError> {
    let store = &shared.store;
    let owner = &shared.owner;
    let now = shared.clock.now();
    store
        .register_instance(&InstanceInfo::this_process(owner.clone()), now)
        .await?;
    if exclusive {
        let owners = store.expire_leases_of_others(owner, now).await?;
        let mut gone: Vec<String> = store
            .instances()
            .await?
            .into_iter()
            .filter(|i| &i.id != owner && i.stopped.is_none() && i.rescued.is_none())
            .map(|i| i.id)
            .collect();
        gone.extend(owners.iter().cloned());
        gone.sort();
        gone.dedup();
        if !gone.is_empty() {
            store.mark_rescued(&gone, owner, now).await?;
        }
        if !owners.is_empty() {
            tracing::warn!(
                instances = %owners.join(", "),
                "publications in flight of a daemon that is gone are looked at now: \
                 this daemon holds the database's lock, so no other process can be working on them"
            );
        }
    }
    match store.unclean_predecessor(owner, now).await {
        Ok(Some(p)) => {
            tracing::warn!(
            instance = %p.id,
            host = %p.host,
            pid = p.pid,
            last_heard = %p.heartbeat,
            "the previous daemon on this database ({}, berrah {}) ended without a clean stop; \
             it was last heard of at {}",
            p.label(),
            p.version,
            p.heartbeat
            );
            Ok(Some(p))
        }
        Ok(None) => Ok(None),
        Err(e) => {
            tracing::warn!(error = %e, "could not read the previous daemon's record");
            Ok(None)
        }
    }
}

/// The start-up line: what was loaded.
fn log_loaded(summary: &SyncSummary) {
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
}

/// The next post due, logged whenever its time changes (at start, after a
/// sync, when a turn's claim finds another next time). "Nothing is
/// scheduled" only when no post waits at all, retries included.
#[derive(Debug, Default)]
struct NextDue {
    /// What was logged last: the next time a post may go out, or none.
    logged: Option<Option<Timestamp>>,
}

impl NextDue {
    async fn log(&mut self, store: &Store, now: Timestamp) {
        let next = match store.next_due(now).await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the next post due");
                return;
            }
        };
        let at = next.as_ref().map(|e| e.run_at);
        if self.logged == Some(at) {
            return;
        }
        if next.is_none() {
            // A publication in flight (here or in a daemon that is gone)
            // may yet come back to wait: not "nothing" yet.
            let in_flight = store
                .list(ListFilter {
                    states: vec![EntryState::Claimed, EntryState::Publishing],
                    limit: Some(1),
                    ..ListFilter::default()
                })
                .await;
            if !in_flight.is_ok_and(|l| l.is_empty()) {
                return;
            }
        }
        self.logged = Some(at);
        match next {
            Some(e) => {
                let when = if e.run_at == e.due {
                    format!("{} ({} UTC)", e.local, e.due)
                } else {
                    format!("{} UTC (a retry; first due {})", e.run_at, e.local)
                };
                post_event!(
                    tracing::Level::INFO,
                    e,
                    due_local = %e.local,
                    due_utc = %e.due,
                    run_at = %e.run_at,
                    timezone = %e.timezone,
                    "next post due {when}: {}/{} on {}",
                    e.campaign,
                    e.post,
                    e.account
                )
            }
            None => tracing::info!("nothing is scheduled: no post waits to go out"),
        }
    }
}
