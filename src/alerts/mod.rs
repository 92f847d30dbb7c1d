//! Alerts: telling people when something needs them (`[[alerts]]` in
//! `berrah.toml`: Slack, Microsoft Teams, Discord, a signed JSON webhook or
//! e-mail).
//!
//! Decoupled and durable. Nothing in the publishing path calls the alerter:
//! the queue records facts in the table `alert_facts` (triggers on
//! `entries` and `attempts` write one when an entry becomes held, failed or
//! expired, or when a first attempt starts a minute or more late, in the
//! same transaction as that change), and the daemon adds its own (a broken
//! campaign file from its sync summary, a token about to expire, a restart
//! after a crash). The [`Alerter`] is a task of the daemon:
//!
//! 1. a turn ([`Store::alert_turn`], one transaction) folds the waiting
//!    facts into each rule's [`group::Group`] (one tally per event, account
//!    and cause) and closes the groups that are due into messages in the
//!    durable outbox (`alert_outbox`): a group is due `gather` after its
//!    first fact, and never sooner than `every` after the rule's last
//!    message, so a burst of 300 held posts is one message;
//! 2. it sends what is due in the outbox (a lease per message, bounded
//!    timeouts), and on failure tries again later with a growing backoff
//!    (or when the receiver says: HTTP 429), for up to three days;
//! 3. it sleeps until the daemon wakes it ([`Alerter::wake`], after each
//!    turn of the daemon's loop), the next group or message is due, or the
//!    hourly token check. Never a polling loop; it never delays publication
//!    (its own task, its own timeouts).
//!
//! A message queued but not sent when the process dies is in the outbox:
//! the next start sends it. Messages and logs never carry a secret: webhook
//! URLs, signing keys and SMTP passwords come from `env:` or `file:` at
//! each use, are never logged, and are masked out of anything sent.
//!
//! A restart after a crash is told by the daemon, which finds it in the
//! instance registry (`Store::unclean_predecessor`: the daemon before it
//! never recorded a clean stop, and is gone).

pub mod config;
pub mod group;
pub mod send;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use self::config::{AlertConfig, Event, Rule};
use self::group::{Group, Message};
use crate::auth::sources::expiry_warnings;
use crate::auth::tokens::TokenRecord;
use crate::scheduler::sync::SyncSummary;
use crate::store::Store;
use crate::store::alerts::{Decision, FactRow, NewAlert, RuleRow};
use crate::time::{Clock, from_millis};

/// How long a sender holds a message before another may take it.
const SEND_LEASE: SignedDuration = SignedDuration::from_secs(60);
/// After that long without success, a message is given up (and logged).
const GIVE_UP_AFTER: SignedDuration = SignedDuration::from_hours(72);
/// The first retry's delay; each next one doubles, up to [`RETRY_MAX`].
const RETRY_FIRST: SignedDuration = SignedDuration::from_secs(5);
const RETRY_MAX: SignedDuration = SignedDuration::from_mins(30);
/// How often stored tokens' expiries are looked at (and at start).
const TOKEN_CHECK_EVERY: SignedDuration = SignedDuration::from_hours(1);
/// The least time between two turns: a burst of wake-ups is one turn.
const SETTLE: Duration = Duration::from_millis(200);
/// Messages sent at once.
const SENDS_PER_TURN: i64 = 16;

/// The rules of a configuration that check (the others are reported by
/// `berrah check` and left out).
pub fn rules(alerts: &[AlertConfig]) -> Vec<Rule> {
    alerts.iter().filter_map(Rule::from_config).collect()
}

/// An error and its sources, as one sentence ("a: b: c").
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// The daemon's handle on its alerter task.
pub struct Alerter {
    inner: Option<Running>,
}

struct Running {
    campaigns_dir: PathBuf,
    wake: Arc<Notify>,
    shared: Arc<Shared>,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

/// What the task and the handle share.
struct Shared {
    rules: Mutex<Arc<Vec<Rule>>>,
    /// Facts from the daemon (sync summaries), written by the task.
    facts: Mutex<Vec<FactRow>>,
}

/// What the alerter runs with.
pub struct AlerterConfig {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub alerts: Vec<AlertConfig>,
    /// The folder relative `file:` sources are relative to (berrah.toml's).
    pub base_dir: PathBuf,
    /// The campaign folder (broken files are named relative to it).
    pub campaigns_dir: PathBuf,
    /// This daemon's lease owner name.
    pub owner: String,
}

impl Alerter {
    /// An alerter that does nothing (`berrah rehearse`: nothing real is sent).
    pub fn off() -> Alerter {
        Alerter { inner: None }
    }

    /// The alerter of a daemon: off for `rehearse` (every account on the
    /// outbox: nothing real happens, nothing is told).
    pub fn for_daemon(cfg: &crate::scheduler::DaemonConfig, owner: &str) -> Alerter {
        if cfg.outbox_only {
            return Alerter::off();
        }
        Alerter::start(AlerterConfig {
            store: cfg.store.clone(),
            clock: cfg.clock.clone(),
            alerts: cfg.config.alerts.clone(),
            base_dir: cfg
                .config_path
                .as_deref()
                .and_then(Path::parent)
                .map_or_else(|| PathBuf::from("."), Path::to_path_buf),
            campaigns_dir: cfg.campaigns_dir.clone(),
            owner: owner.to_string(),
        })
    }

    /// Starts the task, which runs turns until stopped.
    pub fn start(cfg: AlerterConfig) -> Alerter {
        let wake = Arc::new(Notify::new());
        let shared = Arc::new(Shared {
            rules: Mutex::new(Arc::new(rules(&cfg.alerts))),
            facts: Mutex::new(Vec::new()),
        });
        let stop = CancellationToken::new();
        let campaigns_dir = cfg.campaigns_dir.clone();
        let task = tokio::spawn(run(cfg, shared.clone(), wake.clone(), stop.clone()));
        // Whatever waits already (a message due when the daemon died).
        wake.notify_one();
        Alerter {
            inner: Some(Running {
                campaigns_dir,
                wake,
                shared,
                stop,
                task,
            }),
        }
    }

    /// Something may have happened (a turn of the daemon recorded outcomes,
    /// a sync ran): look at the facts soon. Cheap; wake-ups coalesce.
    pub fn wake(&self) {
        if let Some(r) = &self.inner {
            r.wake.notify_one();
        }
    }

    /// A sync ran: its broken files become facts.
    pub fn synced(&self, summary: &SyncSummary) {
        let Some(r) = &self.inner else { return };
        let campaigns_dir = r.campaigns_dir.as_path();
        if summary.broken.is_empty() {
            return;
        }
        let mut facts = r.shared.facts.lock().unwrap_or_else(|p| p.into_inner());
        for (path, _) in &summary.broken {
            let shown = path.strip_prefix(campaigns_dir).unwrap_or(path);
            facts.push(FactRow {
                kind: Event::CampaignBroken.as_str().to_string(),
                campaign: Some(
                    Path::new(campaigns_dir.file_name().unwrap_or_default())
                        .join(shown)
                        .display()
                        .to_string(),
                ),
                ..FactRow::default()
            });
        }
        drop(facts);
        r.wake.notify_one();
    }

    /// This daemon started after `previous` ended without a clean stop
    /// (`Store::unclean_predecessor`, from the instance registry).
    pub fn restarted_after_crash(&self, previous: &crate::store::Instance) {
        let Some(r) = &self.inner else { return };
        let since = previous.heartbeat.strftime("%Y-%m-%d %H:%M UTC");
        r.shared
            .facts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(FactRow {
                kind: Event::CrashRestart.as_str().to_string(),
                detail: Some(format!(
                    "the previous daemon ({}) did not stop cleanly; it was last heard of at {since}",
                    previous.label()
                )),
                ..FactRow::default()
            });
        r.wake.notify_one();
    }

    /// `berrah.toml` changed: the new rules apply from the next turn.
    pub fn configure(&self, alerts: &[AlertConfig]) {
        if let Some(r) = &self.inner {
            *r.shared.rules.lock().unwrap_or_else(|p| p.into_inner()) = Arc::new(rules(alerts));
            r.wake.notify_one();
        }
    }

    /// A clean stop: the task ends (what is queued stays queued for the
    /// next start) and the running mark goes.
    pub async fn stop(mut self) {
        let Some(r) = self.inner.take() else { return };
        r.stop.cancel();
        if tokio::time::timeout(Duration::from_secs(5), r.task)
            .await
            .is_err()
        {
            tracing::warn!(
                "the alerter did not stop within 5 s; what it was sending is sent at the next start"
            );
        }
    }
}

impl Drop for Alerter {
    /// A daemon dropped without [`Alerter::stop`] (an embedding program
    /// cancelled it) stops its alerter too.
    fn drop(&mut self) {
        if let Some(r) = &self.inner {
            r.stop.cancel();
        }
    }
}

/// The task: start-up, then turns until stopped.
async fn run(cfg: AlerterConfig, shared: Arc<Shared>, wake: Arc<Notify>, stop: CancellationToken) {
    let http = crate::http::client();
    // A secret that cannot be read is said at start, not first when an
    // alert is due.
    let at_start = shared
        .rules
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    for rule in at_start.iter() {
        if let Err(e) = send::secrets(rule, &cfg.base_dir).await {
            tracing::warn!(rule = %rule.name, to = rule.to.as_str(), error = %e.why, "this alert rule cannot send until its secret can be read");
        }
    }
    let mut state = TurnState {
        next_tokens: Timestamp::MIN,
        // The first turn always runs: a group gathered before a restart may be due.
        next_close: Some(Timestamp::MIN),
    };
    loop {
        // A stop cuts a delivery in flight: its lease expires and the next
        // start sends it (at least once).
        let next = tokio::select! {
            () = stop.cancelled() => break,
            next = one_turn(&cfg, &shared, &http, &mut state) => next,
        };
        tokio::select! {
            () = stop.cancelled() => break,
            () = wake.notified() => {}
            () = cfg.clock.sleep_until(next) => {}
        }
        // Let a burst of wake-ups settle into one turn.
        tokio::select! {
            () = stop.cancelled() => break,
            () = tokio::time::sleep(SETTLE) => {}
        }
    }
    if let Err(e) = cfg.store.release_alerts(&cfg.owner).await {
        tracing::warn!(error = %e, "could not give back the alerts being sent; they are sent after their lease");
    }
}

/// What the alerter remembers between turns.
struct TurnState {
    next_tokens: Timestamp,
    next_close: Option<Timestamp>,
}

/// One turn: the daemon's facts and expiring tokens recorded, the facts
/// folded into groups, what is due queued and sent. Returns when to look
/// again if nothing wakes the alerter first.
async fn one_turn(
    cfg: &AlerterConfig,
    shared: &Shared,
    http: &reqwest::Client,
    state: &mut TurnState,
) -> Timestamp {
    let now = cfg.clock.now();
    let rules = shared
        .rules
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    if now >= state.next_tokens {
        state.next_tokens = now.checked_add(TOKEN_CHECK_EVERY).unwrap_or(Timestamp::MAX);
        if let Err(e) = check_tokens(&cfg.store, &rules, now).await {
            tracing::warn!(error = %e, "could not look at stored tokens' expiry for alerts");
        }
    }
    let daemon_facts = std::mem::take(&mut *shared.facts.lock().unwrap_or_else(|p| p.into_inner()));
    if let Err(e) = cfg.store.add_alert_facts(daemon_facts).await {
        tracing::warn!(error = %e, "could not record facts for alerts");
    }
    match turn(&cfg.store, rules.clone(), now, state.next_close).await {
        Ok(n) => state.next_close = n,
        Err(e) => tracing::warn!(error = %e, "could not gather alerts; trying at the next wake-up"),
    }
    // Reads first: a turn with nothing due to send costs no write.
    let next_send = match cfg.store.next_alert_at().await {
        Ok(Some(t)) if t <= cfg.clock.now() => {
            send_due(cfg, http, &rules).await;
            cfg.store.next_alert_at().await
        }
        other => other,
    };
    let next_send = next_send.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "could not read when the next alert is due");
        now.checked_add(SignedDuration::from_secs(60)).ok()
    });
    [state.next_close, next_send, Some(state.next_tokens)]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(Timestamp::MAX)
}

/// Stored tokens that expire within a rule's `token_days` become facts,
/// once per account, expiry and threshold.
async fn check_tokens(
    store: &Store,
    rules: &[Rule],
    now: Timestamp,
) -> Result<(), crate::store::StoreError> {
    let mut thresholds: Vec<u32> = rules
        .iter()
        .filter(|r| r.listens(Event::TokenExpiring))
        .map(|r| r.token_days)
        .collect();
    thresholds.sort_unstable();
    thresholds.dedup();
    let Some(&widest) = thresholds.last() else {
        return Ok(());
    };
    let records: Vec<TokenRecord> = store
        .token_expiry_rows()
        .await?
        .into_iter()
        .map(|t| TokenRecord {
            account: t.account,
            platform: t.platform,
            blob: Vec::new(),
            access_expires_at: t.access_expires_at.map(from_millis),
            refresh_expires_at: t.refresh_expires_at.map(from_millis),
            refreshable: t.refreshable,
            // A refused refresh token already holds the account's posts.
            needs_operator: false,
            reason: None,
            updated_at: now,
        })
        .collect();
    let within = SignedDuration::from_hours(24 * i64::from(widest));
    let mut facts = Vec::new();
    for w in expiry_warnings(&records, now, within) {
        let (Some(at), Some(days)) = (w.expires_at, w.days_left) else {
            continue;
        };
        for &n in thresholds.iter().filter(|&&n| days <= i64::from(n)) {
            let name = format!("token:{n}:{}:{}", w.account, at.as_millisecond());
            if !store.alert_marks(&name).await?.is_empty() {
                continue;
            }
            store.set_alert_mark(&name, "alerted", now).await?;
            facts.push(FactRow {
                kind: Event::TokenExpiring.as_str().to_string(),
                account: Some(w.account.clone()),
                cause: Some(n.to_string()),
                detail: Some(w.message.clone()),
                ..FactRow::default()
            });
        }
    }
    store.add_alert_facts(facts).await
}

/// One turn: fold the waiting facts into the rules' groups and queue the
/// groups that are due. Returns when the next group is due. Costs no write
/// when no fact waits and no group is due.
async fn turn(
    store: &Store,
    rules: Arc<Vec<Rule>>,
    now: Timestamp,
    next_close: Option<Timestamp>,
) -> Result<Option<Timestamp>, crate::store::StoreError> {
    if !store.alert_facts_waiting().await? && next_close.is_none_or(|t| t > now) {
        return Ok(next_close);
    }
    let names = rules.iter().map(|r| r.name.clone()).collect();
    let next = Arc::new(Mutex::new(None));
    let out = next.clone();
    store
        .alert_turn(names, move |facts, rows| {
            let (decision, n) = decide(&rules, facts, rows, now);
            *out.lock().unwrap_or_else(|p| p.into_inner()) = n;
            decision
        })
        .await?;
    let n = *next.lock().unwrap_or_else(|p| p.into_inner());
    Ok(n)
}

/// The pure part of a turn: `facts` folded into the groups of `rows` (one
/// per rule), the groups due at `now` closed into messages. Returns the
/// changed rows, the new messages, and when the next open group is due.
pub fn decide(
    rules: &[Rule],
    facts: Vec<FactRow>,
    rows: Vec<RuleRow>,
    now: Timestamp,
) -> (Decision, Option<Timestamp>) {
    let now_ms = now.as_millisecond();
    let mut changed = Vec::new();
    let mut added = Vec::new();
    let mut next: Option<Timestamp> = None;
    for mut row in rows {
        let Some(rule) = rules.iter().find(|r| r.name == row.rule) else {
            continue;
        };
        let mut group: Group = serde_json::from_str(&row.pending).unwrap_or_default();
        let mut dirty = false;
        for f in &facts {
            if group.add(rule, f) {
                dirty = true;
                row.first_ms.get_or_insert(now_ms);
            }
        }
        if !group.is_empty() {
            let first = row.first_ms.unwrap_or(now_ms);
            let gathered = first.saturating_add(rule.gather.as_millis() as i64);
            let allowed = row.last_queued_ms.map_or(i64::MIN, |l| {
                l.saturating_add(rule.every.as_millis() as i64)
            });
            let due = gathered.max(allowed);
            if due <= now_ms {
                let message: Message = group.message(rule);
                added.push(NewAlert {
                    id: format!("{}-{}-{:08x}", rule.name, now_ms, rand::random::<u32>()),
                    rule: rule.name.clone(),
                    message: serde_json::to_string(&message).unwrap_or_default(),
                    next_ms: now_ms,
                });
                group = Group::default();
                row.first_ms = None;
                row.last_queued_ms = Some(now_ms);
                dirty = true;
            } else {
                let at = from_millis(due);
                next = Some(next.map_or(at, |n| n.min(at)));
            }
        }
        if dirty {
            row.pending = if group.is_empty() {
                String::new()
            } else {
                serde_json::to_string(&group).unwrap_or_default()
            };
            changed.push(row);
        }
    }
    ((changed, added), next)
}

/// Sends what is due in the outbox, each message in a task of its own
/// with a bounded timeout, and records the results.
async fn send_due(cfg: &AlerterConfig, http: &reqwest::Client, rules: &Arc<Vec<Rule>>) {
    let now = cfg.clock.now();
    let lease = now.checked_add(SEND_LEASE).unwrap_or(now);
    let due = match cfg
        .store
        .claim_alerts(now, &cfg.owner, lease, SENDS_PER_TURN)
        .await
    {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(error = %e, "could not read the alerts to send");
            return;
        }
    };
    let sends = due.into_iter().map(|row| {
        let rules = rules.clone();
        let http = http.clone();
        let store = cfg.store.clone();
        let clock = cfg.clock.clone();
        let base_dir = cfg.base_dir.clone();
        async move {
            let Some(rule) = rules.iter().find(|r| r.name == row.rule) else {
                tracing::warn!(rule = %row.rule, delivery = %row.id, "an alert of a rule no longer in berrah.toml is not sent");
                let _ = store
                    .alert_abandon(&row.id, "its rule is no longer in berrah.toml")
                    .await;
                return;
            };
            let result = match send::secrets(rule, &base_dir).await {
                Ok(secrets) => match serde_json::from_str::<Message>(&row.message) {
                    Ok(m) => {
                        let m = m.redacted(&secrets.values());
                        send::send(&http, rule, &secrets, &m, &row.id, clock.now()).await
                    }
                    Err(e) => Err(send::NotSent {
                        why: format!("the queued message cannot be read: {e}"),
                        retry_after: None,
                    }),
                },
                Err(e) => Err(e),
            };
            let now = clock.now();
            let recorded = match result {
                Ok(()) => {
                    tracing::info!(rule = %rule.name, to = rule.to.as_str(), delivery = %row.id, "alert sent");
                    store.alert_sent(&row.id, now).await
                }
                Err(e) if now.duration_since(from_millis(row.created_ms)) > GIVE_UP_AFTER => {
                    tracing::error!(rule = %rule.name, to = rule.to.as_str(), delivery = %row.id, attempts = row.attempts + 1, error = %e.why, "alert given up after three days of failures");
                    store.alert_abandon(&row.id, &e.why).await
                }
                Err(e) => {
                    let next = now
                        .checked_add(retry_delay(row.attempts, e.retry_after))
                        .unwrap_or(now);
                    tracing::warn!(rule = %rule.name, to = rule.to.as_str(), delivery = %row.id, attempt = row.attempts + 1, error = %e.why, retry_at = %next, "could not send an alert; trying again later");
                    store.alert_retry(&row.id, next, &e.why).await
                }
            };
            if let Err(e) = recorded {
                tracing::warn!(error = %e, delivery = %row.id, "could not record an alert's delivery");
            }
        }
    });
    futures_util::future::join_all(sends).await;
}

/// The delay before attempt `attempts + 2`: 5 s, doubling, at most 30
/// minutes, and never sooner than the receiver asked.
pub fn retry_delay(attempts: i64, asked: Option<SignedDuration>) -> SignedDuration {
    let exp = u32::try_from(attempts.clamp(0, 20)).unwrap_or(20);
    let backoff = RETRY_FIRST
        .checked_mul(2_i32.saturating_pow(exp))
        .unwrap_or(RETRY_MAX)
        .min(RETRY_MAX);
    match asked {
        Some(a) => backoff.max(a.min(SignedDuration::from_hours(24))),
        None => backoff,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::config::{SecretRef, Target};
    use crate::auth::sources::Source;

    fn rule(every_s: i64, gather_s: i64) -> Rule {
        Rule {
            name: "r".into(),
            to: Target::Discord,
            on: Event::ALL.to_vec(),
            every: SignedDuration::from_secs(every_s),
            gather: SignedDuration::from_secs(gather_s),
            token_days: 7,
            late_after: SignedDuration::from_mins(5),
            url: Some(SecretRef::Source(Source::Env("X".into()))),
            secret: None,
            smtp: None,
        }
    }

    fn held(n: usize) -> Vec<FactRow> {
        (0..n)
            .map(|i| FactRow {
                kind: "held".into(),
                entry_id: Some(format!("e{i}")),
                account: Some("a".into()),
                cause: Some("account".into()),
                ..FactRow::default()
            })
            .collect()
    }

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + s).unwrap()
    }

    fn row(r: RuleRow) -> Vec<RuleRow> {
        vec![r]
    }

    #[test]
    fn a_burst_is_gathered_then_one_message_then_one_per_interval() {
        let rules = vec![rule(900, 30)];
        let empty = RuleRow {
            rule: "r".into(),
            ..RuleRow::default()
        };
        // The burst arrives: gathered, due 30 s later.
        let ((changed, added), next) = decide(&rules, held(300), row(empty), t(0));
        assert!(added.is_empty());
        assert_eq!(next, Some(t(30)));
        let r = changed[0].clone();
        // 30 s later: one message counting 300.
        let ((changed, added), next) = decide(&rules, vec![], row(r), t(30));
        assert_eq!(added.len(), 1);
        assert!(added[0].message.contains("300 posts held"));
        assert_eq!(next, None);
        let r = changed[0].clone();
        assert_eq!(r.pending, "");
        // More within the interval: held until 15 minutes after the first message.
        let ((changed, added), next) = decide(&rules, held(5), row(r), t(60));
        assert!(added.is_empty());
        assert_eq!(next, Some(t(930)));
        let ((_, added), _) = decide(&rules, vec![], row(changed[0].clone()), t(930));
        assert_eq!(added.len(), 1);
        assert!(added[0].message.contains("5 posts held"));
    }

    #[test]
    fn facts_no_rule_listens_to_change_nothing() {
        let mut r = rule(900, 30);
        r.on = vec![Event::Failed];
        let empty = RuleRow {
            rule: "r".into(),
            ..RuleRow::default()
        };
        let ((changed, added), next) = decide(&[r], held(3), row(empty), t(0));
        assert!(changed.is_empty() && added.is_empty() && next.is_none());
    }

    #[test]
    fn retries_back_off_and_respect_what_the_receiver_asks() {
        assert_eq!(retry_delay(0, None), SignedDuration::from_secs(5));
        assert_eq!(retry_delay(3, None), SignedDuration::from_secs(40));
        assert_eq!(retry_delay(30, None), RETRY_MAX);
        assert_eq!(
            retry_delay(0, Some(SignedDuration::from_secs(90))),
            SignedDuration::from_secs(90)
        );
    }

    #[test]
    fn error_chains_read_as_one_sentence() {
        let e = std::io::Error::other("refused");
        assert_eq!(error_chain(&e), "refused");
    }
}
