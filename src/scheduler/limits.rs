//! Limits: publications in flight per account and per platform, backoff
//! per account and platform after transient faults, retry delays, and
//! posting budgets (per day, per month).
//!
//! Everything here is pure bookkeeping kept by the daemon's loop; only
//! [`budget_deferral`] reads the store (what was published in the window).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp, ToSpan};

use crate::config::{Budget, PlatformKind};
use crate::store::{Candidate, ClaimSkip, Decide, Store, StoreError, Take};

/// The first retry delay after a transient fault; it doubles per attempt.
pub const RETRY_BASE: SignedDuration = SignedDuration::from_secs(30);

/// The longest retry delay.
pub const RETRY_MAX: SignedDuration = SignedDuration::from_secs(30 * 60);

/// The delay before attempt `attempt + 1` after `attempt` transient faults
/// (1-based): `RETRY_BASE * 2^(attempt-1)`, capped at [`RETRY_MAX`], with
/// `jitter` in `[0, 1)` taking off up to a quarter (so that many posts
/// failing at once do not come back at once).
pub fn retry_delay(attempt: u32, jitter: f64) -> SignedDuration {
    let exp = attempt.saturating_sub(1).min(16);
    let base = RETRY_BASE.as_secs_f64() * f64::from(1u32 << exp);
    let capped = base.min(RETRY_MAX.as_secs_f64());
    let jitter = jitter.clamp(0.0, 1.0);
    SignedDuration::from_secs_f64(capped * (1.0 - 0.25 * jitter))
}

/// Whether an entry may start now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Start it.
    Go,
    /// The account or platform is at its concurrency limit: give it back
    /// and try when a publication ends.
    Busy,
    /// The account is backing off until then.
    Later(Timestamp),
}

/// An account's rules as the daemon reads them from `berrah.toml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountRule {
    /// Publications in flight at once (`concurrency`, default 1).
    pub concurrency: usize,
    /// It has a posting budget: its worker counts before it begins.
    pub budget: bool,
}

impl Default for AccountRule {
    fn default() -> AccountRule {
        AccountRule {
            concurrency: 1,
            budget: false,
        }
    }
}

/// The rules of every configured account (others get the defaults).
pub type AccountRules = Arc<HashMap<String, AccountRule>>;

/// The decisions of one claim turn ([`Store::claim_turn`]): a copy of the
/// limits that counts what it admits as it goes ([`Limits::admit`], then
/// [`Limits::start`]), so that one turn never takes more than they allow.
#[derive(Debug)]
pub struct Admission {
    limits: Limits,
    rules: AccountRules,
    in_flight: HashSet<String>,
    now: Timestamp,
    /// Candidates left for want of room (a publication ending frees some).
    pub left: usize,
}

impl Admission {
    /// What to do with `c`: [`Take::Begin`] when its account and platform
    /// have room ([`Take::Claim`] when the account has a budget, which its
    /// worker checks first), [`Take::Park`] while its account backs off,
    /// else [`Take::Leave`].
    pub fn decide(&mut self, c: &Candidate) -> Take {
        if self.in_flight.contains(&c.id) {
            // Our own task recorded its outcome (a retry due now) and has
            // not been reaped yet: the next turn takes it.
            self.left += 1;
            return Take::Leave;
        }
        let Some(platform) = c.platform else {
            // Unreadable: taken to be held for an operator.
            return Take::Claim;
        };
        let rule = self.rules.get(&c.account).copied().unwrap_or_default();
        match self
            .limits
            .admit(&c.account, platform, rule.concurrency, self.now)
        {
            Admit::Later(until) => {
                // Rounded up to the queue's milliseconds, else an entry due
                // a few µs before the backoff ends would be parked forever.
                let ms =
                    until.as_millisecond() + i64::from(until.subsec_nanosecond() % 1_000_000 != 0);
                Take::Park(Timestamp::from_millisecond(ms).unwrap_or(until))
            }
            Admit::Busy => {
                self.left += 1;
                Take::Leave
            }
            Admit::Go => {
                self.limits.start(&c.account, platform);
                if rule.budget {
                    Take::Claim
                } else {
                    Take::Begin
                }
            }
        }
    }
}

impl Decide for Admission {
    fn decide(&mut self, candidate: &Candidate) -> Take {
        Admission::decide(self, candidate)
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Backoff {
    until: Option<Timestamp>,
    failures: u32,
}

/// What the per-platform limit counts in: a platform, or for webhooks the
/// host that receives them (two agencies' receivers are not one platform).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Lane {
    Platform(PlatformKind),
    Host(String),
}

/// The receiving host of each webhook account (the host of its
/// `base_url`), by account id; accounts not in it count on their platform.
pub type WebhookHosts = Arc<HashMap<String, String>>;

/// The host of a `base_url`, lower-cased, with its port when it has one
/// (`None` when the URL cannot be read: the account counts on its platform).
pub fn receiving_host(base_url: &str) -> Option<String> {
    let url = url::Url::parse(base_url).ok()?;
    let host = url.host_str()?.to_ascii_lowercase();
    Some(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    })
}

/// In-flight counts and backoff per account and platform.
#[derive(Debug, Default, Clone)]
pub struct Limits {
    /// In flight per account, and the lane they count in (fixed while any
    /// is in flight, so that a reloaded `base_url` keeps the counts even).
    per_account: HashMap<String, (usize, Lane)>,
    per_lane: HashMap<Lane, usize>,
    backoff: HashMap<(String, PlatformKind), Backoff>,
    platform_limit: usize,
    hosts: WebhookHosts,
}

impl Limits {
    /// `platform_limit`: publications in flight per platform (per
    /// receiving host for webhooks).
    pub fn new(platform_limit: usize) -> Limits {
        Limits {
            platform_limit: platform_limit.max(1),
            ..Limits::default()
        }
    }

    /// The limit per platform and the webhook accounts' receiving hosts,
    /// as the configuration now says.
    pub fn configure(&mut self, platform_limit: usize, hosts: WebhookHosts) {
        self.platform_limit = platform_limit.max(1);
        self.hosts = hosts;
    }

    /// The lane `account` counts in.
    fn lane(&self, account: &str, platform: PlatformKind) -> Lane {
        if let Some((_, lane)) = self.per_account.get(account) {
            return lane.clone();
        }
        match self.hosts.get(account) {
            Some(host) if platform == PlatformKind::Webhook => Lane::Host(host.clone()),
            _ => Lane::Platform(platform),
        }
    }

    /// May a publication on `account` (`account_limit` at once) start at `now`?
    pub fn admit(
        &self,
        account: &str,
        platform: PlatformKind,
        account_limit: usize,
        now: Timestamp,
    ) -> Admit {
        if let Some(b) = self.backoff.get(&(account.to_string(), platform))
            && let Some(until) = b.until
            && until > now
        {
            return Admit::Later(until);
        }
        let a = self.in_flight_on(account);
        let lane = self.lane(account, platform);
        let p = self.per_lane.get(&lane).copied().unwrap_or(0);
        if a >= account_limit.max(1) || p >= self.platform_limit {
            Admit::Busy
        } else {
            Admit::Go
        }
    }

    /// What a claim should leave alone now: the accounts at their limit
    /// (`account_limit` gives each one's), the webhook accounts whose
    /// receiving host is at its limit, and the platforms at theirs, so
    /// that the daemon claims only what it can start. (Accounts backing off
    /// are claimed and given back with the time they may go: their entries
    /// then wait in the queue, not in a loop.)
    pub fn full(&self, account_limit: impl Fn(&str) -> usize) -> ClaimSkip {
        let full_lane =
            |lane: &Lane| self.per_lane.get(lane).copied().unwrap_or(0) >= self.platform_limit;
        let mut accounts: Vec<String> = self
            .per_account
            .iter()
            .filter(|(a, (n, _))| *n >= account_limit(a).max(1))
            .map(|(a, _)| a.clone())
            .collect();
        let full_hosts: HashSet<&String> = self
            .per_lane
            .keys()
            .filter_map(|l| match l {
                Lane::Host(h) if full_lane(l) => Some(h),
                _ => None,
            })
            .collect();
        if !full_hosts.is_empty() {
            accounts.extend(
                self.hosts
                    .iter()
                    .filter(|(_, h)| full_hosts.contains(h))
                    .map(|(a, _)| a.clone()),
            );
            accounts.extend(
                self.per_account
                    .iter()
                    .filter(|(_, (_, l))| matches!(l, Lane::Host(h) if full_hosts.contains(h)))
                    .map(|(a, _)| a.clone()),
            );
        }
        accounts.sort();
        accounts.dedup();
        let mut platforms: Vec<PlatformKind> = self
            .per_lane
            .keys()
            .filter_map(|l| match l {
                Lane::Platform(p) if full_lane(l) => Some(*p),
                _ => None,
            })
            .collect();
        platforms.sort_by_key(|p| p.as_str());
        ClaimSkip {
            accounts,
            platforms,
        }
    }

    /// The decisions of a claim turn at `now`, starting from what is in
    /// flight (`in_flight`: the entries our tasks hold).
    pub fn admission(
        &self,
        rules: AccountRules,
        in_flight: HashSet<String>,
        now: Timestamp,
    ) -> Admission {
        Admission {
            limits: self.clone(),
            rules,
            in_flight,
            now,
            left: 0,
        }
    }

    /// Publications in flight on `account`.
    pub fn in_flight_on(&self, account: &str) -> usize {
        self.per_account.get(account).map_or(0, |(n, _)| *n)
    }

    /// A publication started.
    pub fn start(&mut self, account: &str, platform: PlatformKind) {
        let lane = self.lane(account, platform);
        *self.per_lane.entry(lane.clone()).or_default() += 1;
        self.per_account
            .entry(account.to_string())
            .or_insert((0, lane))
            .0 += 1;
    }

    /// A publication ended: [`Limits::answered`] and [`Limits::ended`]
    /// (the tests' shorthand; the daemon calls each when it happens).
    #[cfg(test)]
    pub fn end(&mut self, account: &str, platform: PlatformKind) {
        self.answered(account, platform);
        self.ended(account);
    }

    /// Whether the lane of `account` (its platform, or its webhook's
    /// receiving host) is at its limit: only then does an answer there
    /// make room for what waits.
    pub fn lane_full(&self, account: &str, platform: PlatformKind) -> bool {
        let lane = self.lane(account, platform);
        self.per_lane.get(&lane).copied().unwrap_or(0) >= self.platform_limit
    }

    /// The platform answered a publication on `account`: its platform's
    /// (or receiving host's) slot frees, while the account's stays taken
    /// until [`Limits::ended`] (its outcome recorded).
    pub fn answered(&mut self, account: &str, platform: PlatformKind) {
        let lane = self.lane(account, platform);
        if let Some(n) = self.per_lane.get_mut(&lane) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_lane.remove(&lane);
            }
        }
    }

    /// A publication's task ended: its account's slot frees (call
    /// [`Limits::answered`] first when the platform's was not freed yet).
    pub fn ended(&mut self, account: &str) {
        if let Some((n, _)) = self.per_account.get_mut(account) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_account.remove(account);
            }
        }
    }

    /// A transient fault on `account`: it backs off until `at` when the
    /// platform said (rate limit reset), else for a delay that doubles with
    /// each consecutive fault. Returns until when.
    pub fn failed(
        &mut self,
        account: &str,
        platform: PlatformKind,
        at: Option<Timestamp>,
        now: Timestamp,
        jitter: f64,
    ) -> Timestamp {
        let b = self
            .backoff
            .entry((account.to_string(), platform))
            .or_default();
        b.failures = b.failures.saturating_add(1);
        let until = match at {
            Some(at) if at > now => at,
            _ => now
                .checked_add(retry_delay(b.failures, jitter) / 4)
                .unwrap_or(now),
        };
        b.until = Some(until);
        until
    }

    /// A success (or a permanent answer) on `account`: no more backoff.
    pub fn succeeded(&mut self, account: &str, platform: PlatformKind) {
        self.backoff.remove(&(account.to_string(), platform));
    }
}

/// The windows a budget counts in: the UTC day and the UTC month of `now`
/// (X's daily limits reset on a rolling or UTC basis; the UTC day is the
/// conservative reading).
pub fn windows(now: Timestamp) -> ((Timestamp, Timestamp), (Timestamp, Timestamp)) {
    let utc = now.to_zoned(jiff::tz::TimeZone::UTC);
    let day = utc.date();
    let to_ts = |d: jiff::civil::Date| {
        d.to_zoned(jiff::tz::TimeZone::UTC)
            .map(|z| z.timestamp())
            .unwrap_or(now)
    };
    let day_start = to_ts(day);
    let day_end = to_ts(day.tomorrow().unwrap_or(day));
    let month = day.first_of_month();
    let month_end = to_ts(month.checked_add(1.month()).unwrap_or(month));
    ((day_start, day_end), (to_ts(month), month_end))
}

/// When a publication on an account with `budget` may go out, if not now:
/// the end of the UTC day (or month) whose budget is spent. `in_flight`
/// counts this account's publications not yet recorded.
pub async fn budget_deferral(
    store: &Store,
    account: &str,
    budget: Option<Budget>,
    in_flight: u64,
    now: Timestamp,
) -> Result<Option<(Timestamp, String)>, StoreError> {
    let Some(budget) = budget else {
        return Ok(None);
    };
    let ((day_start, day_end), (month_start, month_end)) = windows(now);
    if let Some(per_day) = budget.per_day {
        let n = store.count_published(account, day_start, day_end).await? + in_flight;
        if n >= u64::from(per_day) {
            return Ok(Some((
                day_end,
                format!("its budget of {per_day} per day is spent ({n} published today, UTC)"),
            )));
        }
    }
    if let Some(per_month) = budget.per_month {
        let n = store
            .count_published(account, month_start, month_end)
            .await?
            + in_flight;
        if n >= u64::from(per_month) {
            return Ok(Some((
                month_end,
                format!(
                    "its budget of {per_month} per month is spent ({n} published this month, UTC)"
                ),
            )));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn retry_delays_double_and_are_capped() {
        assert_eq!(retry_delay(1, 0.0), SignedDuration::from_secs(30));
        assert_eq!(retry_delay(2, 0.0), SignedDuration::from_secs(60));
        assert_eq!(retry_delay(3, 0.0), SignedDuration::from_secs(120));
        assert_eq!(retry_delay(30, 0.0), RETRY_MAX);
        assert!(retry_delay(2, 0.99) < SignedDuration::from_secs(60));
        assert!(retry_delay(2, 0.99) >= SignedDuration::from_secs(45));
    }

    #[test]
    fn concurrency_per_account_and_platform() {
        let mut l = Limits::new(2);
        let now = t("2027-01-01T00:00:00Z");
        assert_eq!(l.admit("a", PlatformKind::X, 1, now), Admit::Go);
        l.start("a", PlatformKind::X);
        assert_eq!(l.admit("a", PlatformKind::X, 1, now), Admit::Busy);
        assert_eq!(l.admit("b", PlatformKind::X, 1, now), Admit::Go);
        l.start("b", PlatformKind::X);
        // The platform is full: a third account waits too.
        assert_eq!(l.admit("c", PlatformKind::X, 1, now), Admit::Busy);
        assert_eq!(l.admit("c", PlatformKind::Mastodon, 1, now), Admit::Go);
        l.end("a", PlatformKind::X);
        assert_eq!(l.admit("c", PlatformKind::X, 1, now), Admit::Go);
    }

    fn candidate(id: &str, account: &str, platform: PlatformKind) -> Candidate {
        Candidate {
            id: id.into(),
            account: account.into(),
            platform: Some(platform),
        }
    }

    #[test]
    fn admission_takes_what_has_room_and_parks_what_backs_off() {
        let now = t("2027-01-01T00:00:00Z");
        let mut l = Limits::new(3);
        l.start("busy", PlatformKind::X);
        let reset = t("2027-01-01T00:15:00.000400Z");
        l.failed("slow", PlatformKind::Mastodon, Some(reset), now, 0.0);
        let rules: AccountRules = Arc::new(HashMap::from([
            (
                "two".to_string(),
                AccountRule {
                    concurrency: 2,
                    budget: false,
                },
            ),
            (
                "counted".to_string(),
                AccountRule {
                    concurrency: 1,
                    budget: true,
                },
            ),
        ]));
        let mut a = l.admission(rules, HashSet::from(["o-mine".to_string()]), now);
        assert_eq!(
            a.decide(&candidate("o-1", "busy", PlatformKind::X)),
            Take::Leave
        );
        assert_eq!(
            a.decide(&candidate("o-2", "two", PlatformKind::X)),
            Take::Begin
        );
        assert_eq!(
            a.decide(&candidate("o-3", "two", PlatformKind::X)),
            Take::Begin
        );
        // The platform's 3 are now taken.
        assert_eq!(
            a.decide(&candidate("o-4", "free", PlatformKind::X)),
            Take::Leave
        );
        assert_eq!(
            a.decide(&candidate("o-5", "counted", PlatformKind::Bluesky)),
            Take::Claim
        );
        assert_eq!(
            a.decide(&candidate("o-6", "counted", PlatformKind::Bluesky)),
            Take::Leave
        );
        // Parked until the backoff ends, rounded up to the millisecond.
        assert_eq!(
            a.decide(&candidate("o-7", "slow", PlatformKind::Mastodon)),
            Take::Park(t("2027-01-01T00:15:00.001Z"))
        );
        assert_eq!(
            a.decide(&candidate("o-mine", "free", PlatformKind::Telegram)),
            Take::Leave
        );
        assert_eq!(a.left, 4);
        // The snapshot never changes the limits themselves.
        assert_eq!(l.in_flight_on("two"), 0);
    }

    #[test]
    fn a_claim_skips_full_accounts_and_platforms() {
        let mut l = Limits::new(2);
        l.start("a", PlatformKind::X);
        l.start("b", PlatformKind::Mastodon);
        // "b" may have two at once; "a" one.
        let limit = |a: &str| if a == "b" { 2 } else { 1 };
        let skip = l.full(limit);
        assert_eq!(skip.accounts, vec!["a".to_string()]);
        assert!(skip.platforms.is_empty());
        l.start("c", PlatformKind::X);
        let skip = l.full(limit);
        assert_eq!(skip.accounts, vec!["a".to_string(), "c".to_string()]);
        assert_eq!(skip.platforms, vec![PlatformKind::X]);
        l.end("a", PlatformKind::X);
        l.end("c", PlatformKind::X);
        assert_eq!(l.full(limit), ClaimSkip::default());
    }

    fn hosts(pairs: &[(&str, &str)]) -> WebhookHosts {
        Arc::new(
            pairs
                .iter()
                .map(|(a, h)| (a.to_string(), h.to_string()))
                .collect(),
        )
    }

    #[test]
    fn webhooks_count_per_receiving_host() {
        let now = t("2027-01-01T00:00:00Z");
        let mut l = Limits::new(8);
        l.configure(
            2,
            hosts(&[
                ("a", "one.example"),
                ("b", "one.example"),
                ("c", "two.example"),
                ("d", "one.example"),
            ]),
        );
        let w = PlatformKind::Webhook;
        l.start("a", w);
        l.start("b", w);
        // one.example has its 2; two.example and the accounts without a
        // host of their own ("e": counted on the platform) have room.
        assert_eq!(l.admit("d", w, 1, now), Admit::Busy);
        assert_eq!(l.admit("c", w, 1, now), Admit::Go);
        assert_eq!(l.admit("e", w, 1, now), Admit::Go);
        let skip = l.full(|_| 4);
        assert_eq!(skip.accounts, vec!["a", "b", "d"]);
        assert!(skip.platforms.is_empty());
        l.start("c", w);
        l.start("e", w);
        l.start("f", w);
        let skip = l.full(|_| 4);
        assert_eq!(skip.platforms, vec![PlatformKind::Webhook]);
        l.end("a", w);
        assert_eq!(l.admit("d", w, 1, now), Admit::Go);
        assert_eq!(l.full(|_| 4).accounts, Vec::<String>::new());
    }

    #[test]
    fn an_answer_frees_the_platform_and_the_recorded_outcome_the_account() {
        let now = t("2027-01-01T00:00:00Z");
        let mut l = Limits::new(1);
        let w = PlatformKind::Webhook;
        l.configure(1, hosts(&[("a", "one.example"), ("b", "one.example")]));
        l.start("a", w);
        assert_eq!(l.admit("b", w, 1, now), Admit::Busy);
        assert!(l.lane_full("b", w));
        // The receiver answered a's request; its outcome is being recorded.
        l.answered("a", w);
        assert!(!l.lane_full("b", w));
        assert_eq!(l.admit("b", w, 1, now), Admit::Go);
        assert_eq!(
            l.admit("a", w, 1, now),
            Admit::Busy,
            "a's own slot is still taken"
        );
        assert_eq!(l.full(|_| 1).accounts, vec!["a"]);
        // A host changed in the meantime: a still counts where it started.
        l.configure(1, hosts(&[("a", "two.example"), ("b", "one.example")]));
        l.start("b", w);
        l.ended("a");
        assert_eq!(l.in_flight_on("a"), 0);
        assert_eq!(l.admit("a", w, 1, now), Admit::Go);
        assert_eq!(l.full(|_| 1).accounts, vec!["b"]);
        l.answered("b", w);
        l.ended("b");
        assert!(l.per_lane.is_empty() && l.per_account.is_empty());
    }

    #[test]
    fn a_host_changed_while_in_flight_keeps_the_counts_even() {
        let now = t("2027-01-01T00:00:00Z");
        let mut l = Limits::new(1);
        let w = PlatformKind::Webhook;
        l.configure(1, hosts(&[("a", "old.example")]));
        l.start("a", w);
        l.configure(1, hosts(&[("a", "new.example"), ("b", "old.example")]));
        assert_eq!(l.admit("b", w, 1, now), Admit::Busy);
        l.end("a", w);
        assert_eq!(l.admit("b", w, 1, now), Admit::Go);
        assert_eq!(l.admit("a", w, 1, now), Admit::Go);
    }

    #[test]
    fn receiving_hosts_are_read_from_base_urls() {
        assert_eq!(
            receiving_host("https://Hooks.Example.org/a/b").as_deref(),
            Some("hooks.example.org")
        );
        assert_eq!(
            receiving_host("http://127.0.0.1:8080/x").as_deref(),
            Some("127.0.0.1:8080")
        );
        assert_eq!(receiving_host("not a url"), None);
    }

    #[test]
    fn backoff_is_per_account_and_platform() {
        let mut l = Limits::new(8);
        let now = t("2027-01-01T00:00:00Z");
        let reset = t("2027-01-01T00:15:00Z");
        assert_eq!(l.failed("a", PlatformKind::X, Some(reset), now, 0.0), reset);
        assert_eq!(l.admit("a", PlatformKind::X, 1, now), Admit::Later(reset));
        assert_eq!(l.admit("b", PlatformKind::X, 1, now), Admit::Go);
        assert_eq!(l.admit("a", PlatformKind::Mastodon, 1, now), Admit::Go);
        assert_eq!(l.admit("a", PlatformKind::X, 1, reset), Admit::Go);
        l.succeeded("a", PlatformKind::X);
        assert_eq!(l.admit("a", PlatformKind::X, 1, now), Admit::Go);
        // Without a time from the platform, the backoff grows.
        let first = l.failed("a", PlatformKind::X, None, now, 0.0);
        let second = l.failed("a", PlatformKind::X, None, now, 0.0);
        assert!(first > now && second > first);
    }

    #[test]
    fn budget_windows_are_utc_days_and_months() {
        let ((ds, de), (ms, me)) = windows(t("2027-02-14T23:30:00Z"));
        assert_eq!(ds, t("2027-02-14T00:00:00Z"));
        assert_eq!(de, t("2027-02-15T00:00:00Z"));
        assert_eq!(ms, t("2027-02-01T00:00:00Z"));
        assert_eq!(me, t("2027-03-01T00:00:00Z"));
    }
}
