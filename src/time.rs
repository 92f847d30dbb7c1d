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
