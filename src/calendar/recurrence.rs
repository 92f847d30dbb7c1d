//! Recurring posts: cron expressions read in the campaign's zone.
//!
//! The `cron` crate parses the expression; we do not let it iterate in a
//! time zone (it skips times in a spring-forward gap and fires twice in an
//! autumn overlap). Instead it iterates the **wall-clock timeline**: naive
//! local date-times, as if the zone had no transitions (chrono's UTC stands
//! for "no zone"). Each wall-clock time is then read in the real zone with
//! [`super::tz::resolve`] (gap: forward by the gap's length; overlap: the
//! earlier instant) and instants that coincide are kept once.
//!
//! Accepted forms:
//! - five fields, minute first (`"0 10 * * TUE"`: every Tuesday at 10:00).
//!   Days of the week by name (`MON`..`SUN`) or by the usual cron numbers
//!   (0 or 7 = Sunday, 1 = Monday, ... 6 = Saturday);
//! - the `cron` crate's six or seven fields, seconds first (and an optional
//!   year last); there days of the week are numbered 1 = Sunday .. 7 = Saturday.

use std::str::FromStr;

use chrono::{Datelike, NaiveDate, TimeZone as _, Timelike, Utc};
use jiff::civil;
use jiff::tz::TimeZone;

use super::tz::{Adjustment, resolve};

/// A cron expression that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid cron expression `{expression}`: {reason}")]
pub struct InvalidCron {
    pub expression: String,
    pub reason: String,
}

impl InvalidCron {
    /// What to write instead.
    pub fn help(&self) -> &'static str {
        "write five fields: minute hour day-of-month month day-of-week, for example \
         `cron = \"0 10 * * TUE\"` (every Tuesday at 10:00) or `cron = \"30 18 * * MON-FRI\"` \
         (weekdays at 18:30)"
    }
}

/// A parsed cron expression.
#[derive(Debug, Clone)]
pub struct Recurrence {
    schedule: cron::Schedule,
    expression: String,
}

/// One time of a recurrence, read in the zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fire {
    /// The wall-clock time the expression produced.
    pub wall: civil::DateTime,
    pub instant: jiff::Timestamp,
    pub zoned: jiff::Zoned,
    pub adjustment: Adjustment,
}

/// Every time of a recurrence within a window.
#[derive(Debug, Clone, Default)]
pub struct Fires {
    pub fires: Vec<Fire>,
    /// More times existed than the cap allowed; the list stops at the cap.
    pub truncated: bool,
}

impl Recurrence {
    pub fn parse(expression: &str) -> Result<Recurrence, InvalidCron> {
        let trimmed = expression.split_whitespace().collect::<Vec<_>>();
        let invalid = |reason: String| InvalidCron {
            expression: expression.to_string(),
            reason,
        };
        let normalized = match trimmed.len() {
            5 => {
                let dow = standard_days_of_week(trimmed[4]).map_err(invalid)?;
                format!(
                    "0 {} {} {} {} {dow}",
                    trimmed[0], trimmed[1], trimmed[2], trimmed[3]
                )
            }
            6 | 7 => trimmed.join(" "),
            n => {
                return Err(invalid(format!(
                    "it has {n} field{}; expected 5 (minute hour day-of-month month \
                     day-of-week), or 6-7 with seconds first",
                    if n == 1 { "" } else { "s" }
                )));
            }
        };
        let schedule = cron::Schedule::from_str(&normalized).map_err(|e| invalid(e.to_string()))?;
        Ok(Recurrence {
            schedule,
            expression: expression.to_string(),
        })
    }

    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// The wall-clock times in the local days `from..=to`, in order, at most `cap`.
    pub fn wall_times(
        &self,
        from: civil::Date,
        to: civil::Date,
        cap: usize,
    ) -> (Vec<civil::DateTime>, bool) {
        let mut out = Vec::new();
        let Some(start) = naive_date(from).and_then(|d| d.and_hms_opt(0, 0, 0)) else {
            return (out, false);
        };
        let Some(end) = naive_date(to)
            .and_then(|d| d.succ_opt())
            .and_then(|d| d.and_hms_opt(0, 0, 0))
        else {
            return (out, false);
        };
        // `after` is exclusive: start one second before midnight of `from`.
        let first = Utc.from_utc_datetime(&start) - chrono::Duration::seconds(1);
        for t in self.schedule.after(&first) {
            let naive = t.naive_utc();
            if naive >= end {
                break;
            }
            if out.len() >= cap {
                return (out, true);
            }
            let Some(wall) = to_civil(naive) else { break };
            out.push(wall);
        }
        (out, false)
    }

    /// The times in the local days `from..=to`, read in `tz`, in order,
    /// duplicates (two wall times landing on one instant) kept once.
    pub fn fires(&self, tz: &TimeZone, from: civil::Date, to: civil::Date, cap: usize) -> Fires {
        let (walls, truncated) = self.wall_times(from, to, cap);
        let mut fires: Vec<Fire> = Vec::with_capacity(walls.len());
        for wall in walls {
            let Ok(r) = resolve(tz, wall) else { continue };
            fires.push(Fire {
                wall,
                instant: r.instant,
                zoned: r.zoned,
                adjustment: r.adjustment,
            });
        }
        // A gap moves times forward, possibly past later wall times of the
        // same hour: sort by instant (stable, so the wall order breaks ties)
        // and keep the first of equal instants.
        fires.sort_by_key(|f| f.instant);
        fires.dedup_by_key(|f| f.instant);
        Fires { fires, truncated }
    }
}

/// Rewrites a standard cron day-of-week field (0/7 = Sunday, 1 = Monday) in
/// the `cron` crate's numbering (1 = Sunday .. 7 = Saturday). Names pass
/// through unchanged.
fn standard_days_of_week(field: &str) -> Result<String, String> {
    let map = |n: &str| -> Result<u8, String> {
        match n.parse::<u8>() {
            Ok(v @ 0..=7) => Ok(v % 7 + 1),
            _ => Err(format!(
                "`{n}` is not a day of the week: write 0-6 (0 = Sunday) or MON..SUN"
            )),
        }
    };
    let is_num = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let mut parts = Vec::new();
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => (r, Some(s)),
            None => (item, None),
        };
        let step = step.map(|s| format!("/{s}")).unwrap_or_default();
        match range.split_once('-') {
            Some((a, b)) if is_num(a) && is_num(b) => {
                let (a, b) = (map(a)?, map(b)?);
                if a <= b || step.is_empty() && b == 1 {
                    // "5-7" (Fri-Sun) is "6-7,1" in the crate's numbering.
                    if a > b {
                        parts.push(format!("{a}-7"));
                        parts.push("1".to_string());
                    } else {
                        parts.push(format!("{a}-{b}{step}"));
                    }
                } else {
                    return Err(format!("the range `{range}` goes backwards"));
                }
            }
            None if is_num(range) => {
                let a = map(range)?;
                if step.is_empty() {
                    parts.push(a.to_string());
                } else {
                    parts.push(format!("{a}-7{step}"));
                }
            }
            _ => parts.push(format!("{range}{step}")),
        }
    }
    Ok(parts.join(","))
}

fn naive_date(d: civil::Date) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(
        i32::from(d.year()),
        u32::try_from(d.month()).ok()?,
        u32::try_from(d.day()).ok()?,
    )
}

fn to_civil(n: chrono::NaiveDateTime) -> Option<civil::DateTime> {
    civil::DateTime::new(
        i16::try_from(n.year()).ok()?,
        i8::try_from(n.month()).ok()?,
        i8::try_from(n.day()).ok()?,
        i8::try_from(n.hour()).ok()?,
        i8::try_from(n.minute()).ok()?,
        i8::try_from(n.second()).ok()?,
        0,
    )
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::tz::zone;

    fn d(s: &str) -> civil::Date {
        s.parse().unwrap()
    }
    fn ts(s: &str) -> jiff::Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn five_fields_every_tuesday() {
        let r = Recurrence::parse("0 10 * * TUE").unwrap();
        let (w, truncated) = r.wall_times(d("2026-12-01"), d("2026-12-31"), 100);
        assert!(!truncated);
        let got: Vec<String> = w.iter().map(|t| t.to_string()).collect();
        assert_eq!(
            got,
            [
                "2026-12-01T10:00:00",
                "2026-12-08T10:00:00",
                "2026-12-15T10:00:00",
                "2026-12-22T10:00:00",
                "2026-12-29T10:00:00"
            ]
        );
    }

    #[test]
    fn standard_day_numbers() {
        // 2 = Tuesday in standard cron.
        let r = Recurrence::parse("0 10 * * 2").unwrap();
        let (w, _) = r.wall_times(d("2026-12-01"), d("2026-12-07"), 100);
        assert_eq!(w[0].to_string(), "2026-12-01T10:00:00");
        assert_eq!(w.len(), 1);
        // 0 and 7 are Sunday (2026-12-06 is a Sunday).
        for e in ["0 9 * * 0", "0 9 * * 7"] {
            let (w, _) =
                Recurrence::parse(e)
                    .unwrap()
                    .wall_times(d("2026-12-01"), d("2026-12-07"), 100);
            assert_eq!(w.len(), 1, "{e}");
            assert_eq!(w[0].to_string(), "2026-12-06T09:00:00", "{e}");
        }
        // 1-5: Monday to Friday; 5-7: Friday to Sunday.
        let (w, _) = Recurrence::parse("0 9 * * 1-5").unwrap().wall_times(
            d("2026-11-30"),
            d("2026-12-06"),
            100,
        );
        assert_eq!(w.len(), 5);
        let (w, _) = Recurrence::parse("0 9 * * 5-7").unwrap().wall_times(
            d("2026-11-30"),
            d("2026-12-06"),
            100,
        );
        let days: Vec<i8> = w.iter().map(|t| t.day()).collect();
        assert_eq!(days, [4, 5, 6]);
        assert!(Recurrence::parse("0 9 * * 8").is_err());
    }

    #[test]
    fn six_fields_and_errors() {
        assert!(Recurrence::parse("0 0 10 * * Tue").is_ok());
        let e = Recurrence::parse("0 10 * *").unwrap_err();
        assert!(e.reason.contains("4 fields"), "{e}");
        assert!(e.help().contains("0 10 * * TUE"));
        let e = Recurrence::parse("0 25 * * *").unwrap_err();
        assert!(!e.reason.is_empty());
    }

    #[test]
    fn cap_truncates() {
        let r = Recurrence::parse("* * * * *").unwrap();
        let (w, truncated) = r.wall_times(d("2026-12-01"), d("2026-12-31"), 10);
        assert_eq!(w.len(), 10);
        assert!(truncated);
    }

    #[test]
    fn daily_in_paris_across_both_transitions() {
        let paris = zone("Europe/Paris").unwrap();
        // 02:30 every day: on 2027-03-28 it does not exist (moved to 03:30
        // CEST = 01:30 UTC); on 2026-10-25 it exists twice (earlier taken once).
        let r = Recurrence::parse("30 2 * * *").unwrap();
        let f = r.fires(&paris, d("2027-03-27"), d("2027-03-29"), 100);
        let got: Vec<_> = f.fires.iter().map(|f| f.instant).collect();
        assert_eq!(
            got,
            [
                ts("2027-03-27T01:30:00Z"),
                ts("2027-03-28T01:30:00Z"),
                ts("2027-03-29T00:30:00Z")
            ]
        );
        assert!(matches!(f.fires[1].adjustment, Adjustment::Gap { .. }));
        let f = r.fires(&paris, d("2026-10-24"), d("2026-10-26"), 100);
        let got: Vec<_> = f.fires.iter().map(|f| f.instant).collect();
        assert_eq!(
            got,
            [
                ts("2026-10-24T00:30:00Z"),
                ts("2026-10-25T00:30:00Z"),
                ts("2026-10-26T01:30:00Z")
            ]
        );
    }

    #[test]
    fn sub_hourly_in_a_gap_is_deduplicated_and_ordered() {
        let paris = zone("Europe/Paris").unwrap();
        let r = Recurrence::parse("0,30 * * * *").unwrap();
        let f = r.fires(&paris, d("2027-03-28"), d("2027-03-28"), 100);
        let instants: Vec<_> = f.fires.iter().map(|f| f.instant).collect();
        let mut sorted = instants.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(instants, sorted);
        // 48 wall times, 02:00 and 02:30 land on 03:00 and 03:30: 46 instants.
        assert_eq!(instants.len(), 46);
        // On the autumn day, 48 wall times, one per instant (the repeated hour once).
        let f = r.fires(&paris, d("2026-10-25"), d("2026-10-25"), 100);
        assert_eq!(f.fires.len(), 48);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        #[test]
        fn fires_are_strictly_increasing_and_inside_the_window(
            minute in 0u8..60, hour in 0u8..24, step in 1u8..6,
            zone_name in proptest::sample::select(vec!["Europe/Paris", "Africa/Casablanca", "America/New_York", "UTC"]),
        ) {
            let tz = zone(zone_name).unwrap();
            let expr = format!("{minute} {hour},{}-23/{step} * * *", (hour + 1) % 24);
            let r = Recurrence::parse(&expr).unwrap();
            let (from, to) = (d("2026-10-20"), d("2027-04-05"));
            let f = r.fires(&tz, from, to, 10_000);
            proptest::prop_assert!(!f.truncated);
            for w in f.fires.windows(2) {
                proptest::prop_assert!(w[0].instant < w[1].instant);
            }
            for fire in &f.fires {
                proptest::prop_assert!(fire.wall.date() >= from && fire.wall.date() <= to);
            }
        }
    }
}
