//! Instants and the injectable clock.
//!
//! Every instant berrah stores is a [`jiff::Timestamp`] (UTC), kept in the
//! database as Unix milliseconds. Local times exist only at the edges: in
//! campaign files and in what we show people (both local and UTC).
//!
//! Nothing in the library calls `Timestamp::now()` directly: it asks a [`Clock`],
//! so that `berrah rehearse` and the tests can run months of schedule in seconds.

use std::future::Future;
use std::pin::Pin;

use jiff::Timestamp;

/// A boxed future, as returned by [`Clock::sleep_until`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The source of "now" and of sleeping.
pub trait Clock: Send + Sync + 'static {
    /// The current instant on this clock.
    fn now(&self) -> Timestamp;
    /// Resolves once this clock reaches `deadline` (at once if it already has).
    fn sleep_until(&self, deadline: Timestamp) -> BoxFuture<'static, ()>;
}

/// The real wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }

    fn sleep_until(&self, deadline: Timestamp) -> BoxFuture<'static, ()> {
        let now = Timestamp::now();
        let wait = if deadline > now {
            std::time::Duration::try_from(deadline.duration_since(now)).unwrap_or_default()
        } else {
            std::time::Duration::ZERO
        };
        Box::pin(tokio::time::sleep(wait))
    }
}

/// Unix milliseconds, the database representation of an instant.
pub fn to_millis(ts: Timestamp) -> i64 {
    ts.as_millisecond()
}

/// The inverse of [`to_millis`]; out-of-range values (only possible from a
/// corrupted database) are clamped to jiff's bounds rather than panicking.
pub fn from_millis(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(if ms < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}

/// A simulated clock for `berrah rehearse` and the tests: months of schedule
/// in seconds.
///
/// Two ways to make time pass:
/// - by hand: [`SimClock::advance`], [`SimClock::set`], or
///   [`SimClock::jump_to_next_sleeper`] (straight to the earliest deadline
///   anyone is sleeping until);
/// - by itself: [`SimClock::scaled`] runs `speed` times faster than the wall
///   clock (`speed = 86_400`: a day per second). A jump by hand moves a
///   scaled clock too.
///
/// Time never goes backwards: `set` to an earlier instant is ignored.
pub struct SimClock {
    state: std::sync::Mutex<SimState>,
    /// Bumped at every change of "now", so that sleepers look again.
    changed: tokio::sync::watch::Sender<u64>,
}

struct SimState {
    /// "Now" at `origin` (real instant) for a scaled clock; "now" for a manual one.
    base: Timestamp,
    origin: std::time::Instant,
    /// Simulated seconds per real second; 0 for a clock moved only by hand.
    speed: f64,
    /// Pending deadlines (with a serial number, so equal deadlines coexist).
    sleepers: std::collections::BTreeSet<(Timestamp, u64)>,
    serial: u64,
    /// Nested [`SimClock::pause`]s, and the speed to resume at.
    paused: u32,
    resume_speed: f64,
}

impl SimState {
    fn now(&self) -> Timestamp {
        if self.speed <= 0.0 {
            return self.base;
        }
        let real = self.origin.elapsed().as_secs_f64() * self.speed;
        let sim =
            jiff::SignedDuration::try_from_secs_f64(real).unwrap_or(jiff::SignedDuration::MAX);
        self.base.checked_add(sim).unwrap_or(Timestamp::MAX)
    }
}

impl std::fmt::Debug for SimClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimClock")
            .field("now", &self.now())
            .finish()
    }
}

impl SimClock {
    /// A clock standing still at `start`, moved only by hand.
    pub fn new(start: Timestamp) -> std::sync::Arc<SimClock> {
        SimClock::scaled(start, 0.0)
    }

    /// A clock starting at `start` and running `speed` times faster than the
    /// wall clock (0 or less: it stands still until moved by hand).
    pub fn scaled(start: Timestamp, speed: f64) -> std::sync::Arc<SimClock> {
        let (changed, _) = tokio::sync::watch::channel(0);
        std::sync::Arc::new(SimClock {
            state: std::sync::Mutex::new(SimState {
                base: start,
                origin: std::time::Instant::now(),
                speed: if speed.is_finite() { speed } else { 0.0 },
                sleepers: std::collections::BTreeSet::new(),
                serial: 0,
                paused: 0,
                resume_speed: 0.0,
            }),
            changed,
        })
    }

    /// The current simulated instant.
    pub fn now(&self) -> Timestamp {
        self.lock().now()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SimState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Moves the clock to `to` (never backwards) and wakes the sleepers it reaches.
    pub fn set(&self, to: Timestamp) {
        {
            let mut s = self.lock();
            if to <= s.now() {
                return;
            }
            s.base = to;
            s.origin = std::time::Instant::now();
        }
        self.changed.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// Moves the clock forward by `by` (a negative duration does nothing).
    pub fn advance(&self, by: jiff::SignedDuration) {
        let to = self.now().checked_add(by).unwrap_or(Timestamp::MAX);
        self.set(to);
    }

    /// Stops a scaled clock until as many [`SimClock::resume`]s (`rehearse`
    /// holds the time still while a publication is in flight, so that the
    /// real time it takes does not make it late in simulated time).
    pub fn pause(&self) {
        let mut s = self.lock();
        if s.paused == 0 {
            s.base = s.now();
            s.origin = std::time::Instant::now();
            s.resume_speed = s.speed;
            s.speed = 0.0;
        }
        s.paused += 1;
    }

    /// Undoes one [`SimClock::pause`].
    pub fn resume(&self) {
        {
            let mut s = self.lock();
            if s.paused == 0 {
                return;
            }
            s.paused -= 1;
            if s.paused == 0 {
                s.origin = std::time::Instant::now();
                s.speed = s.resume_speed;
            }
        }
        self.changed.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// The earliest deadline someone is sleeping until, if any.
    pub fn next_sleeper(&self) -> Option<Timestamp> {
        self.lock().sleepers.first().map(|(t, _)| *t)
    }

    /// Jumps to the earliest deadline anyone sleeps until (and wakes that
    /// sleeper); returns it, or `None` when nobody sleeps.
    pub fn jump_to_next_sleeper(&self) -> Option<Timestamp> {
        let next = self.next_sleeper()?;
        self.set(next);
        Some(next)
    }

    /// How long, in real time, until the clock reaches `deadline` by itself
    /// (`None`: never, it stands still).
    fn real_wait(&self, deadline: Timestamp) -> Option<std::time::Duration> {
        let s = self.lock();
        if s.speed <= 0.0 {
            return None;
        }
        let left = deadline.duration_since(s.now()).as_secs_f64().max(0.0) / s.speed;
        Some(std::time::Duration::from_secs_f64(left.min(1.0e9)))
    }
}

/// Removes a sleeper's deadline when its future ends or is dropped.
struct SleeperGuard {
    clock: std::sync::Arc<SimClock>,
    key: (Timestamp, u64),
}

impl Drop for SleeperGuard {
    fn drop(&mut self) {
        self.clock.lock().sleepers.remove(&self.key);
    }
}

/// The [`Clock`] of a shared [`SimClock`].
impl Clock for std::sync::Arc<SimClock> {
    fn now(&self) -> Timestamp {
        SimClock::now(self)
    }

    fn sleep_until(&self, deadline: Timestamp) -> BoxFuture<'static, ()> {
        let clock = self.clone();
        Box::pin(async move {
            let mut changed = clock.changed.subscribe();
            let key = {
                let mut s = clock.lock();
                if s.now() >= deadline {
                    return;
                }
                s.serial += 1;
                let key = (deadline, s.serial);
                s.sleepers.insert(key);
                key
            };
            let _guard = SleeperGuard {
                clock: clock.clone(),
                key,
            };
            loop {
                if clock.now() >= deadline {
                    return;
                }
                match clock.real_wait(deadline) {
                    Some(wait) => {
                        tokio::select! {
                            _ = tokio::time::sleep(wait) => {}
                            r = changed.changed() => if r.is_err() { return },
                        }
                    }
                    None => {
                        if changed.changed().await.is_err() {
                            return;
                        }
                    }
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[tokio::test]
    async fn manual_clock_wakes_sleepers_in_order() {
        let clock = SimClock::new(t("2027-01-01T00:00:00Z"));
        let c = clock.clone();
        let late = tokio::spawn(async move { c.sleep_until(t("2027-03-01T00:00:00Z")).await });
        let c = clock.clone();
        let early = tokio::spawn(async move { c.sleep_until(t("2027-02-01T00:00:00Z")).await });
        for _ in 0..100 {
            if clock.lock().sleepers.len() == 2 {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert_eq!(clock.next_sleeper(), Some(t("2027-02-01T00:00:00Z")));
        assert_eq!(
            clock.jump_to_next_sleeper(),
            Some(t("2027-02-01T00:00:00Z"))
        );
        early.await.unwrap();
        assert!(!late.is_finished());
        assert_eq!(clock.next_sleeper(), Some(t("2027-03-01T00:00:00Z")));
        clock.advance(jiff::SignedDuration::from_hours(24 * 40));
        late.await.unwrap();
        assert_eq!(clock.next_sleeper(), None);
        // Never backwards.
        clock.set(t("2026-01-01T00:00:00Z"));
        assert_eq!(clock.now(), t("2027-03-13T00:00:00Z"));
    }

    #[tokio::test]
    async fn scaled_clock_runs_fast() {
        let clock = SimClock::scaled(t("2027-01-01T00:00:00Z"), 86_400.0 * 1000.0);
        // A day in about a millisecond of real time.
        tokio::time::timeout(
            std::time::Duration::from_secs(10),
            clock.sleep_until(t("2027-01-02T00:00:00Z")),
        )
        .await
        .unwrap();
        assert!(clock.now() >= t("2027-01-02T00:00:00Z"));
    }
}
