//! `status --state S --since WHEN --until WHEN`: which entries a report
//! keeps (pure), and reading the operator's words for a moment: a date
//! (`2026-12-14`), a date and time (`2026-12-14T10:00`, or RFC 3339 with
//! its offset), a duration back from now (`7d`, `36h`, `90m`, `2w`) or a
//! word (`now`, `today`, `yesterday`, `this week`, `last week`, `this
//! month`, `last month`), read in the operator's time zone (the system's
//! zone name, with berrah's time-zone data; UTC when unknown). Weeks start
//! on Monday.

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use crate::store::{Entry, EntryState};

/// `published`, `held`...; `dropped` is `expired`, `in_flight` both in-flight states.
pub fn parse_state(text: &str) -> Result<EntryState, String> {
    let word = text.trim().to_ascii_lowercase();
    if let Some(s) = EntryState::parse(&word) {
        return Ok(s);
    }
    match word.as_str() {
        "dropped" | "late" => return Ok(EntryState::Expired),
        "canceled" => return Ok(EntryState::Cancelled),
        _ => {}
    }
    let names = EntryState::ALL.map(EntryState::as_str);
    Err(match crate::campaign::suggest::closest(&word, names) {
        Some(c) => format!("no state `{text}`; did you mean `{c}`?"),
        None => format!("no state `{text}`; the states are: {}", names.join(", ")),
    })
}

/// The zone the operator's words (`today`, a bare date) are read in: the
/// system's zone by name, with the time-zone data berrah chose; UTC when
/// the system names none.
pub fn operator_zone() -> TimeZone {
    let name = std::env::var("TZ")
        .ok()
        .map(|t| t.trim_start_matches(':').to_string())
        .filter(|t| !t.is_empty() && !t.starts_with('/'))
        .or_else(|| {
            TimeZone::try_system()
                .ok()
                .and_then(|tz| tz.iana_name().map(str::to_string))
        });
    name.and_then(|n| crate::calendar::tz::zone_in(&crate::calendar::tzdb::in_use(), &n).ok())
        .unwrap_or(TimeZone::UTC)
}

/// Reads `--since`/`--until` (see the module documentation).
pub fn parse_when(text: &str, now: Timestamp, tz: &TimeZone) -> Result<Timestamp, String> {
    let t = text.trim().to_ascii_lowercase();
    let today = now.to_zoned(tz.clone()).date();
    let midnight = |d: Date| -> Result<Timestamp, String> {
        d.to_zoned(tz.clone())
            .map(|z| z.timestamp())
            .map_err(|e| format!("`{text}`: {e}"))
    };
    let monday = |d: Date| {
        d.checked_sub(SignedDuration::from_hours(
            24 * i64::from(d.weekday().to_monday_zero_offset()),
        ))
        .unwrap_or(d)
    };
    let day = SignedDuration::from_hours(24);
    match t.as_str() {
        "now" => return Ok(now),
        "today" => return midnight(today),
        "yesterday" => return midnight(today.checked_sub(day).unwrap_or(today)),
        "this week" | "week" => return midnight(monday(today)),
        "last week" => {
            return midnight(monday(today).checked_sub(day * 7).unwrap_or(today));
        }
        "this month" | "month" => return midnight(today.first_of_month()),
        "last month" => {
            let first = today.first_of_month();
            return midnight(first.checked_sub(day).unwrap_or(first).first_of_month());
        }
        _ => {}
    }
    if let Some(back) = parse_duration(&t) {
        return now.checked_sub(back).map_err(|e| format!("`{text}`: {e}"));
    }
    if let Ok(ts) = text.trim().parse::<Timestamp>() {
        return Ok(ts);
    }
    if let Ok(dt) = text.trim().parse::<DateTime>()
        && text.contains(['T', ' ', ':'])
    {
        return dt
            .to_zoned(tz.clone())
            .map(|z| z.timestamp())
            .map_err(|e| format!("`{text}`: {e}"));
    }
    if let Ok(d) = text.trim().parse::<Date>() {
        return midnight(d);
    }
    Err(format!(
        "cannot read `{text}` as a moment: write a date (2026-12-14), a date and time \
         (2026-12-14T10:00), a duration back from now (7d, 36h, 90m, 2w) or one of today, \
         yesterday, \"this week\", \"last week\", \"this month\", \"last month\""
    ))
}

/// `7d`, `36h`, `90m`, `2w`, `45s`.
fn parse_duration(t: &str) -> Option<SignedDuration> {
    let unit = t.chars().last()?;
    let n: i64 = t[..t.len() - unit.len_utf8()].trim().parse().ok()?;
    let secs = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3_600,
        'd' => 86_400,
        'w' => 7 * 86_400,
        _ => return None,
    };
    (n >= 0).then(|| SignedDuration::from_secs(n.saturating_mul(secs)))
}

/// When an entry last changed: its publication for a published one, else
/// its last update (a failure, a hold, a cancel, a sync).
pub fn last_change(e: &Entry) -> Timestamp {
    match (e.state, e.published_at) {
        (EntryState::Published, Some(at)) => at,
        _ => e.updated_at,
    }
}

/// Which entries a report keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntryFilter {
    /// Only these states (all when empty).
    pub states: Vec<EntryState>,
    /// Only entries whose [`last_change`] is at or after this.
    pub since: Option<Timestamp>,
    /// Only entries whose [`last_change`] is before this.
    pub until: Option<Timestamp>,
}

impl EntryFilter {
    pub fn is_empty(&self) -> bool {
        self.states.is_empty() && self.since.is_none() && self.until.is_none()
    }

    pub fn keeps(&self, e: &Entry) -> bool {
        let at = last_change(e);
        (self.states.is_empty() || self.states.contains(&e.state))
            && self.since.is_none_or(|s| at >= s)
            && self.until.is_none_or(|u| at < u)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn words_durations_and_dates_are_moments() {
        // Friday 18 December 2026, 09:30 UTC.
        let now = t("2026-12-18T09:30:00Z");
        let utc = TimeZone::UTC;
        let at = |s: &str| parse_when(s, now, &utc).unwrap().to_string();
        assert_eq!(at("today"), "2026-12-18T00:00:00Z");
        assert_eq!(at("yesterday"), "2026-12-17T00:00:00Z");
        assert_eq!(at("this week"), "2026-12-14T00:00:00Z");
        assert_eq!(at("Last Week"), "2026-12-07T00:00:00Z");
        assert_eq!(at("this month"), "2026-12-01T00:00:00Z");
        assert_eq!(at("last month"), "2026-11-01T00:00:00Z");
        assert_eq!(at("7d"), "2026-12-11T09:30:00Z");
        assert_eq!(at("36h"), "2026-12-16T21:30:00Z");
        assert_eq!(at("2026-12-01"), "2026-12-01T00:00:00Z");
        assert_eq!(at("2026-12-01T10:00"), "2026-12-01T10:00:00Z");
        assert_eq!(at("2026-12-01T10:00:00+01:00"), "2026-12-01T09:00:00Z");
        let paris =
            crate::calendar::tz::zone_in(&crate::calendar::tzdb::in_use(), "Europe/Paris").unwrap();
        assert_eq!(
            parse_when("today", now, &paris).unwrap().to_string(),
            "2026-12-17T23:00:00Z"
        );
        let err = parse_when("last fortnight", now, &utc).unwrap_err();
        assert!(err.contains("this week"), "{err}");
    }

    #[test]
    fn states_have_words_and_suggestions() {
        assert_eq!(parse_state("held"), Ok(EntryState::Held));
        assert_eq!(parse_state("dropped"), Ok(EntryState::Expired));
        assert_eq!(
            parse_state("publishd").unwrap_err(),
            "no state `publishd`; did you mean `published`?"
        );
    }
}
