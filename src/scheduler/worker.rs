//! One publication: taken by the loop straight to `publishing` (the take is
//! the re-read just before the call; an account with a posting budget is
//! `claimed` instead, and its worker counts, then calls `begin_attempt`) →
//! the platform, with an [`EntryCheckpoint`] → `finish`; and the rescue of an
//! attempt whose outcome is unknown after a crash.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use jiff::{SignedDuration, Timestamp};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::{PlatformFactory, Published, limits};
use crate::auth::CredentialsFactory;
use crate::config::{AccountConfig, Config, PlatformKind};
use crate::media::cache::StoreUploadCache;
use crate::platforms::outbox::{Outbox, OutboxPlatform};
use crate::platforms::{self, Idempotency, Outcome, Platform, PlatformDeps, PublishJob};
use crate::store::{Entry, EntryCheckpoint, EntryState, Finish, Store, StoreError};
use crate::time::Clock;

/// Logs an event about a post at `$level` (a `tracing::Level`), with the
/// post's fields flat on the event (`campaign`, `capsule`, `post`,
/// `account`, `platform`, `language`, `occurrence`: stable names, the same
/// in JSON), then the event's own fields and message.
macro_rules! post_event {
    ($level:expr, $e:expr, $($rest:tt)+) => {
        tracing::event!(
            $level,
            campaign = %$e.campaign,
            capsule = $e.capsule.as_deref().unwrap_or("-"),
            post = %$e.post,
            account = %$e.account,
            platform = %$e.platform,
            language = %$e.language,
            occurrence = %$e.id,
            $($rest)+
        )
    };
}
pub(super) use post_event;

/// The configuration in force, with each account shared as an `Arc`.
pub(super) struct Accounts {
    pub config: Arc<Config>,
    pub accounts: HashMap<String, Arc<AccountConfig>>,
}

impl Accounts {
    pub fn new(config: Config) -> Accounts {
        let accounts = config
            .accounts
            .iter()
            .map(|(k, v)| (k.clone(), Arc::new(v.clone())))
            .collect();
        Accounts {
            config: Arc::new(config),
            accounts,
        }
    }
}

/// What every worker shares.
pub(super) struct Shared {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub owner: String,
    pub accounts: RwLock<Arc<Accounts>>,
    pub outbox: Arc<Outbox>,
    pub outbox_only: bool,
    pub factory: Option<Arc<dyn PlatformFactory>>,
    pub credentials: Option<CredentialsFactory>,
    pub http: reqwest::Client,
    /// Clients built from credentials, per account (reset when the config changes).
    pub built: Mutex<HashMap<String, Arc<dyn Platform>>>,
    pub lease: SignedDuration,
    pub max_attempts: u32,
    pub events: Option<tokio::sync::mpsc::UnboundedSender<Published>>,
    pub shutdown: CancellationToken,
    pub metrics: crate::observe::Metrics,
    /// Where a worker tells the loop that the platform has answered, before
    /// it records the outcome: the platform's (or receiving host's) slot
    /// frees then, not after the database's commit.
    pub answers: tokio::sync::mpsc::UnboundedSender<Report>,
}

/// What a worker tells the loop when the platform has answered and when it
/// ends (for limits and backoff).
#[derive(Debug, Clone)]
pub(super) struct Report {
    pub id: String,
    pub account: String,
    pub platform: PlatformKind,
    /// `Some`: a transient fault; the platform's own time when it said.
    pub fault: Option<Option<Timestamp>>,
    /// It got an answer that was not a transient fault.
    pub answered: bool,
    /// The loop was told of the answer ([`Shared::answers`]): the
    /// platform's slot and the backoff were dealt with then.
    pub told: bool,
}

impl Shared {
    pub fn accounts(&self) -> Arc<Accounts> {
        self.accounts
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn lease_until(&self, now: Timestamp) -> Timestamp {
        now.checked_add(self.lease).unwrap_or(now)
    }

    /// The client that publishes `entry`, or why there is none (for an operator).
    fn platform_for(&self, entry: &Entry) -> Result<Arc<dyn Platform>, String> {
        let accounts = self.accounts();
        let Some(account) = accounts.accounts.get(&entry.account) else {
            return Err(format!(
                "account `{}` is no longer in berrah.toml: add it back, or `berrah cancel {}`",
                entry.account, entry.id
            ));
        };
        if let Some(f) = &self.factory
            && let Some(p) = f.platform(&entry.account, account)
        {
            return Ok(p);
        }
        if self.outbox_only || account.uses_outbox() {
            return Ok(Arc::new(OutboxPlatform::new(
                self.outbox.clone(),
                entry.clone(),
                self.clock.clone(),
            )));
        }
        let mut built = self.built.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = built.get(&entry.account) {
            return Ok(p.clone());
        }
        let Some(factory) = &self.credentials else {
            return Err(format!(
                "account `{}` has credentials but this daemon was started without access to them",
                entry.account
            ));
        };
        let credentials = factory
            .for_account(&entry.account, account)
            .map_err(|e| e.to_string())?;
        let p: Arc<dyn Platform> = Arc::from(platforms::build(PlatformDeps {
            account_id: entry.account.clone(),
            account: account.clone(),
            credentials,
            http: self.http.clone(),
            uploads: Arc::new(StoreUploadCache::new(
                self.store.clone(),
                self.clock.clone(),
            )),
            clock: self.clock.clone(),
        }));
        built.insert(entry.account.clone(), p.clone());
        Ok(p)
    }

    fn job(&self, entry: &Entry) -> Option<PublishJob> {
        let accounts = self.accounts();
        Some(PublishJob {
            occurrence_id: entry.id.clone(),
            attempt: entry.attempts,
            account_id: entry.account.clone(),
            account: accounts.accounts.get(&entry.account)?.clone(),
            language: entry.language.clone(),
            content: entry.content.clone(),
            progress: entry.progress.clone(),
            due: entry.due,
        })
    }

    /// Records `finish`, retrying a failed database write a few times (a
    /// write that never lands leaves the lease to expire: safe, rescued).
    async fn finish(&self, entry: &Entry, finish: Finish) {
        for n in 0..3u64 {
            match self
                .store
                .finish(&entry.id, &self.owner, finish.clone(), self.clock.now())
                .await
            {
                Ok(()) => return,
                Err(e @ (StoreError::WrongState { .. } | StoreError::NotFound(_))) => {
                    post_event!(tracing::Level::ERROR, entry, error = %e, "could not record the outcome");
                    return;
                }
                Err(e) => {
                    post_event!(tracing::Level::WARN, entry, error = %e, "could not record the outcome; trying again");
                    tokio::time::sleep(std::time::Duration::from_millis(200 * (n + 1))).await;
                }
            }
        }
        post_event!(
            tracing::Level::ERROR,
            entry,
            "gave up recording the outcome; the lease will expire and it will be looked at again"
        );
    }

    /// The `Finish` for an outcome (after `attempts` attempts).
    async fn decide(
        &self,
        entry: &Entry,
        platform: &dyn Platform,
        job: &PublishJob,
        outcome: Outcome,
        resolving: bool,
    ) -> Finish {
        let now = self.clock.now();
        match clean(outcome) {
            Outcome::Published { remote_id, url } => Finish::Published { remote_id, url },
            Outcome::Retry { at, reason } => self.retry(entry, at, reason, now),
            Outcome::Failed { reason } => Finish::Failed { reason },
            Outcome::NeedsOperator { reason } => Finish::NeedsOperator { reason },
            Outcome::Unknown { reason } => match platform.idempotency() {
                Idempotency::Keyed => self.retry(
                    entry,
                    None,
                    format!("{reason} (sent again with the same idempotency key)"),
                    now,
                ),
                Idempotency::Queryable if !resolving => match platform.resolve(job).await {
                    Some(o) => Box::pin(self.decide(entry, platform, job, o, true)).await,
                    None => Finish::Held {
                        reason: format!(
                            "{reason}; {} could not tell whether it was published: check the account, then `berrah retry {}` or `berrah cancel {}`",
                            entry.platform, entry.id, entry.id
                        ),
                    },
                },
                _ => Finish::Held {
                    reason: format!(
                        "{reason}; {} cannot be asked whether it was published and has no idempotency key, so it is not sent again blindly: check the account, then `berrah retry {}` or `berrah cancel {}`",
                        entry.platform, entry.id, entry.id
                    ),
                },
            },
        }
    }

    fn retry(
        &self,
        entry: &Entry,
        at: Option<Timestamp>,
        reason: String,
        now: Timestamp,
    ) -> Finish {
        if entry.attempts >= self.max_attempts {
            return Finish::Failed {
                reason: format!(
                    "gave up after {} attempts; the last: {reason}",
                    entry.attempts
                ),
            };
        }
        let delay = limits::retry_delay(entry.attempts.max(1), rand::random::<f64>());
        let run_at = match at {
            Some(at) if at > now => at,
            _ => now.checked_add(delay).unwrap_or(now),
        };
        Finish::Retry { run_at, reason }
    }
}

/// An outcome's text as the platform gave it (an error message, an id, a
/// URL) without terminal control sequences, before it is logged or stored
/// (`text::sanitize`).
fn clean(outcome: Outcome) -> Outcome {
    use crate::text::sanitize::for_terminal_owned as c;
    match outcome {
        Outcome::Published { remote_id, url } => Outcome::Published {
            remote_id: c(remote_id),
            url: url.map(c),
        },
        Outcome::Retry { at, reason } => Outcome::Retry {
            at,
            reason: c(reason),
        },
        Outcome::Failed { reason } => Outcome::Failed { reason: c(reason) },
        Outcome::NeedsOperator { reason } => Outcome::NeedsOperator { reason: c(reason) },
        Outcome::Unknown { reason } => Outcome::Unknown { reason: c(reason) },
    }
}

/// The span a publication runs in: what a platform client logs during it
/// names the occurrence (the worker's own lines carry every field of the
/// post, [`post_event!`]). At the error level, so that it is never filtered
/// out while one of its lines is shown.
pub(super) fn post_span(entry: &Entry) -> tracing::Span {
    tracing::error_span!("post", occurrence = %entry.id)
}

/// Publishes one claimed entry. `in_flight_on_account`: this account's
/// other publications in flight (for its budget).
pub(super) async fn publish(
    shared: Arc<Shared>,
    entry: Entry,
    in_flight_on_account: u64,
) -> Report {
    let span = post_span(&entry);
    let mut report = Report {
        id: entry.id.clone(),
        account: entry.account.clone(),
        platform: entry.platform,
        fault: None,
        answered: false,
        told: false,
    };
    async {
        let store = &shared.store;
        let owner = shared.owner.as_str();
        // Taken straight to `publishing` by the loop (its attempt recorded):
        // the platform is called next. Else it is `claimed` and its budget
        // is checked first.
        let begun = entry.state == EntryState::Publishing;
        if !begun && shared.shutdown.is_cancelled() {
            // Never started: give it back as it was.
            if let Err(e) = store.release(&entry.id, owner, entry.run_at).await {
                post_event!(
                    tracing::Level::WARN,
                    entry,
                    error = %e,
                    "could not give back a claim at shutdown; its lease will expire"
                );
            }
            return;
        }
        let account = shared.accounts().accounts.get(&entry.account).cloned();
        let budget = account.as_ref().and_then(|a| a.budget).filter(|_| !begun);
        let now = shared.clock.now();
        match limits::budget_deferral(store, &entry.account, budget, in_flight_on_account, now)
            .await
        {
            Ok(Some((until, why))) => {
                post_event!(
                    tracing::Level::INFO,
                    entry,
                    until = %until,
                    "deferred: {why}; it goes out when the budget frees"
                );
                if let Err(e) = store.release(&entry.id, owner, until).await {
                    post_event!(tracing::Level::WARN, entry, error = %e, "could not defer; its lease will expire");
                }
                return;
            }
            Ok(None) => {}
            Err(e) => {
                post_event!(
                    tracing::Level::WARN,
                    entry,
                    error = %e,
                    "could not count the account's publications; trying later"
                );
                let later = now
                    .checked_add(SignedDuration::from_secs(30))
                    .unwrap_or(entry.run_at);
                let _ = store.release(&entry.id, owner, later).await;
                return;
            }
        }
        let platform = match shared.platform_for(&entry) {
            Ok(p) => p,
            Err(reason) => {
                let finish = Finish::NeedsOperator {
                    reason: reason.clone(),
                };
                log_finish(&finish, &entry, shared.clock.now());
                shared.metrics.outcome(&entry, &finish);
                shared.finish(&entry, finish).await;
                hold_account(&shared, &entry.account, &reason).await;
                return;
            }
        };
        // The re-read just before the call: paused, removed, too late or
        // lost lease since the claim means it does not go out.
        let fresh = if begun {
            entry
        } else {
            match store
                .begin_attempt(&entry.id, owner, shared.clock.now())
                .await
            {
                Ok(Some(e)) => e,
                Ok(None) => {
                    post_event!(
                        tracing::Level::INFO,
                        entry,
                        "not published: paused, cancelled, past its limit \
                         or taken over since it was claimed"
                    );
                    return;
                }
                Err(e) => {
                    post_event!(
                        tracing::Level::WARN,
                        entry,
                        error = %e,
                        "could not start the attempt; its lease will expire"
                    );
                    return;
                }
            }
        };
        let Some(job) = shared.job(&fresh) else {
            let finish = Finish::Held {
                reason: "its account left berrah.toml during the attempt".into(),
            };
            log_finish(&finish, &fresh, shared.clock.now());
            shared.finish(&fresh, finish).await;
            return;
        };
        let checkpoint = EntryCheckpoint::new(store.clone(), fresh.id.clone(), owner);
        // Taken a moment before its time (the loop's `CLAIM_AHEAD`): it
        // waits for it here, and never goes out early by the clock.
        while shared.clock.now() < fresh.run_at {
            shared.clock.sleep_until(fresh.run_at).await;
        }
        post_event!(tracing::Level::DEBUG, fresh, attempt = fresh.attempts, due = %fresh.due, "publishing");
        shared.metrics.requested(&fresh, shared.clock.now());
        let outcome = platform.publish(&job, &checkpoint).await;
        match &outcome {
            Outcome::Retry { at, .. } => report.fault = Some(*at),
            Outcome::Unknown { .. } if platform.idempotency() == Idempotency::Keyed => {
                report.fault = Some(None)
            }
            _ => report.answered = true,
        }
        let finish = shared
            .decide(&fresh, &*platform, &job, outcome, false)
            .await;
        // The platform is done with it: its slot frees while the outcome
        // is recorded (the account's stays taken until the task ends).
        report.told = shared.answers.send(report.clone()).is_ok();
        log_finish(&finish, &fresh, shared.clock.now());
        shared.metrics.outcome(&fresh, &finish);
        shared.finish(&fresh, finish.clone()).await;
        match finish {
            Finish::NeedsOperator { reason } => {
                hold_account(&shared, &fresh.account, &reason).await
            }
            Finish::Published { remote_id, url } => {
                if let Some(tx) = &shared.events {
                    let _ = tx.send(Published {
                        entry: fresh,
                        remote_id,
                        url,
                        at: shared.clock.now(),
                    });
                }
            }
            _ => {}
        }
    }
    .instrument(span)
    .await;
    report
}

async fn hold_account(shared: &Shared, account: &str, reason: &str) {
    match shared.store.hold_account(account, reason).await {
        Ok(n) if n > 0 => tracing::warn!(
            account,
            held = n,
            "the account's other waiting posts are held until you {}",
            crate::auth::sources::held_release_words(
                account,
                shared.accounts().accounts.get(account).map(|a| &**a),
                shared.credentials.as_ref()
            )
        ),
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, account, "could not hold the account's posts"),
    }
}

fn log_finish(finish: &Finish, entry: &Entry, now: Timestamp) {
    use tracing::Level;
    let late = now.duration_since(entry.due);
    match finish {
        Finish::Published { remote_id, url } => post_event!(
            Level::INFO,
            entry,
            remote_id = %remote_id,
            url = url.as_deref().unwrap_or("-"),
            due_local = %entry.local,
            due_utc = %entry.due,
            late_ms = late.as_millis(),
            "published"
        ),
        Finish::Retry { run_at, reason } => post_event!(
            Level::WARN,
            entry,
            attempt = entry.attempts,
            next_attempt = %run_at,
            reason = %reason,
            "attempt {} did not go through; trying again at {run_at}: {reason}",
            entry.attempts
        ),
        Finish::Failed { reason } => post_event!(
            Level::ERROR,
            entry,
            attempt = entry.attempts,
            reason = %reason,
            "failed: {reason}"
        ),
        Finish::Held { reason } => post_event!(
            Level::ERROR,
            entry,
            reason = %reason,
            "held for an operator, as its outcome is unknown: {reason}"
        ),
        Finish::NeedsOperator { reason } => post_event!(
            Level::ERROR,
            entry,
            reason = %reason,
            "held until an operator fixes the account: {reason}"
        ),
        Finish::Expired { reason } => post_event!(
            Level::WARN,
            entry,
            reason = %reason,
            "dropped without being published: {reason}"
        ),
    }
}

/// An attempt whose lease expired in `publishing` (its worker died): this
/// daemon took it over; retry it (keyed platform), ask the platform
/// (queryable), or hold it for an operator.
pub(super) async fn rescue(shared: Arc<Shared>, entry: Entry) -> Report {
    let span = post_span(&entry);
    let report = Report {
        id: entry.id.clone(),
        account: entry.account.clone(),
        platform: entry.platform,
        fault: None,
        answered: true,
        told: false,
    };
    async {
        let reason = format!(
            "attempt {} stopped without an answer (the process handling it stopped or lost its lease)",
            entry.attempts
        );
        let finish = match shared.platform_for(&entry) {
            Err(why) => Finish::Held {
                reason: format!("{reason}; {why}"),
            },
            Ok(platform) => match shared.job(&entry) {
                None => Finish::Held { reason: reason.clone() },
                Some(job) => {
                    shared
                        .decide(&entry, &*platform, &job, Outcome::Unknown { reason: reason.clone() }, false)
                        .await
                }
            },
        };
        // A keyed retry goes out at once, not after a backoff.
        let finish = match finish {
            Finish::Retry { reason, .. } => Finish::Retry {
                run_at: shared.clock.now(),
                reason,
            },
            f => f,
        };
        post_event!(
            tracing::Level::WARN,
            entry,
            attempt = entry.attempts,
            "took over attempt {} whose outcome was unknown after its daemon stopped or lost its lease",
            entry.attempts
        );
        log_finish(&finish, &entry, shared.clock.now());
        shared.metrics.outcome(&entry, &finish);
        shared.finish(&entry, finish.clone()).await;
        if let Finish::Published { remote_id, url } = finish
            && let Some(tx) = &shared.events
        {
            let _ = tx.send(Published {
                entry,
                remote_id,
                url,
                at: shared.clock.now(),
            });
        }
    }
    .instrument(span)
    .await;
    report
}
