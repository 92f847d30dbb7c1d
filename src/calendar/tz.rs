//! IANA time zones and the exact rules that turn a local time into an instant.
//!
//! # Which database
//!
//! Zones come from a [`Tzdb`](super::tzdb::Tzdb): the one the command or the
//! daemon chose ([`super::tzdb::select`]: the newer of the system's and the
//! bundled copy, by default), or the bundled copy for code that does not
//! choose (and for every test), so that answers never depend on the machine.
//!
//! # Local time → instant
//!
//! A local date and time is read in the campaign's zone with two documented
//! rules ([`resolve`]):
//!
//! - **Gap** (spring forward: the local time does not exist, e.g. 02:30 in
//!   Paris on 2027-03-28): the time moves **forward by the gap's length**
//!   (02:30 → 03:30 CEST), and planning warns.
//! - **Overlap** (fall back: the local time happens twice, e.g. 02:30 in Paris
//!   on 2026-10-25): the **earlier** instant is taken (02:30 CEST = 00:30 UTC,
//!   not 02:30 CET), once, and planning warns naming the instant chosen.

use jiff::civil;
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{SignedDuration, Timestamp, Zoned};

use super::tzdb::Tzdb;

/// A zone name that no database knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown time zone `{name}`")]
pub struct UnknownZone {
    pub name: String,
    /// The closest known zone name ("did you mean").
    pub suggestion: Option<String>,
}

/// The zone named `name` (an IANA name such as `Africa/Casablanca`; case is
/// forgiven) in the bundled database: what code that has no
/// [`Calendar`](super::Calendar) at hand uses.
pub fn zone(name: &str) -> Result<TimeZone, UnknownZone> {
    zone_in(&Tzdb::bundled(), name)
}

/// The zone named `name` in `db`.
pub fn zone_in(db: &Tzdb, name: &str) -> Result<TimeZone, UnknownZone> {
    let name = name.trim();
    // `UTC` and `Etc/UTC` always exist, even without any database.
    if name.eq_ignore_ascii_case("utc") || name.eq_ignore_ascii_case("etc/utc") {
        return Ok(TimeZone::UTC);
    }
    if !name.is_empty()
        && !name.starts_with('/')
        && !name.contains("..")
        && let Some(tz) = db.get(name)
    {
        return Ok(tz);
    }
    Err(UnknownZone {
        name: name.to_string(),
        suggestion: suggest_zone(db, name),
    })
}

/// The known zone name closest to a mistyped one: same name in another case,
/// the same city under another region, or a small edit distance.
pub fn suggest_zone(db: &Tzdb, name: &str) -> Option<String> {
    let names = db.names();
    let lowered = name.trim().to_lowercase().replace(' ', "_");
    if let Some(n) = names.iter().find(|n| n.to_lowercase() == lowered) {
        return Some(n.clone());
    }
    // "Casablanca" or "Europe/Casablanca" → "Africa/Casablanca".
    let city = lowered.rsplit('/').next().unwrap_or(&lowered);
    if let Some(n) = names.iter().find(|n| {
        n.rsplit('/')
            .next()
            .is_some_and(|c| c.to_lowercase() == city)
    }) {
        return Some(n.clone());
    }
    super::closest(&lowered, names.iter().map(String::as_str)).map(str::to_string)
}

/// How a local time mapped to an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adjustment {
    /// The local time exists once.
    Exact,
    /// The local time fell in a spring-forward gap of length `gap` and was
    /// moved forward by it.
    Gap { gap: SignedDuration },
    /// The local time happens twice; the earlier instant was taken and
    /// `later` is the one left out.
    Overlap { later: Timestamp },
}

/// A local time read in a zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub instant: Timestamp,
    /// The same instant in the zone, with its offset.
    pub zoned: Zoned,
    pub adjustment: Adjustment,
}

impl Resolved {
    /// RFC 3339 with the zone's offset, e.g. `2026-12-18T10:00:00+01:00`.
    pub fn local_rfc3339(&self) -> String {
        rfc3339_local(&self.zoned)
    }
}

/// `2026-12-18T10:00:00+01:00`: RFC 3339 local time with its offset (seconds
/// always shown, sub-seconds never: planned times are whole seconds).
pub fn rfc3339_local(z: &Zoned) -> String {
    let dt = z.datetime();
    let offset = z.offset().seconds();
    // The common case written by hand (100,000 of them per plan); a year
    // outside 0..=9999 or an offset with seconds (old local mean times)
    // goes through `strftime`, which the hand-written form equals.
    if !(0..=9999).contains(&dt.year()) || offset % 60 != 0 {
        return z.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string();
    }
    let (sign, minutes) = if offset < 0 {
        ('-', -offset / 60)
    } else {
        ('+', offset / 60)
    };
    // `n` (not negative) in `width` digits, zeros first.
    fn digits(out: &mut String, n: i32, width: u32) {
        for i in (0..width).rev() {
            let d = (n / 10_i32.pow(i)) % 10;
            out.push(char::from(b'0' + d as u8));
        }
    }
    let mut out = String::with_capacity(25);
    digits(&mut out, i32::from(dt.year()), 4);
    out.push('-');
    digits(&mut out, i32::from(dt.month()), 2);
    out.push('-');
    digits(&mut out, i32::from(dt.day()), 2);
    out.push('T');
    digits(&mut out, i32::from(dt.hour()), 2);
    out.push(':');
    digits(&mut out, i32::from(dt.minute()), 2);
    out.push(':');
    digits(&mut out, i32::from(dt.second()), 2);
    out.push(sign);
    digits(&mut out, minutes / 60, 2);
    out.push(':');
    digits(&mut out, minutes % 60, 2);
    out
}

/// Reads `local` in `tz` with the module's rules (gap: forward by the gap's
/// length; overlap: the earlier instant). Fails only at the edges of jiff's
/// supported range (years -9999..=9999).
pub fn resolve(tz: &TimeZone, local: civil::DateTime) -> Result<Resolved, jiff::Error> {
    let ambiguous = tz.to_ambiguous_timestamp(local);
    let (instant, adjustment) = match ambiguous.offset() {
        AmbiguousOffset::Unambiguous { offset } => (offset.to_timestamp(local)?, Adjustment::Exact),
        AmbiguousOffset::Gap { before, after } => {
            // Read with the offset in force before the gap, the local time lands
            // after the transition, as far past it as it was past the gap's
            // start: that is "moved forward by the gap's length".
            let instant = before.to_timestamp(local)?;
            let gap = after.duration_since(before);
            (instant, Adjustment::Gap { gap })
        }
        AmbiguousOffset::Fold { before, after } => {
            let earlier = before.to_timestamp(local)?;
            let later = after.to_timestamp(local)?;
            (
                earlier.min(later),
                Adjustment::Overlap {
                    later: earlier.max(later),
                },
            )
        }
    };
    Ok(Resolved {
        zoned: instant.to_zoned(tz.clone()),
        instant,
        adjustment,
    })
}

/// The instant a local day begins in `tz` (midnight, or the first existing
/// time when midnight falls in a gap).
pub fn start_of_day(tz: &TimeZone, date: civil::Date) -> Result<Timestamp, jiff::Error> {
    Ok(date.to_zoned(tz.clone())?.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(s: &str) -> civil::DateTime {
        s.parse().unwrap()
    }
    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn the_local_time_written_by_hand_is_strftimes() {
        let offsets = [0, 3600, -3600, 19800, -34200, 45900, -36000];
        let times = [
            "0001-01-01T00:00:00Z",
            "2026-03-29T01:30:00Z",
            "2026-12-18T09:05:07Z",
            "9999-12-30T00:00:00Z",
        ];
        for o in offsets {
            let tz = TimeZone::fixed(jiff::tz::Offset::from_seconds(o).unwrap());
            for t in times {
                let z = ts(t).to_zoned(tz.clone());
                assert_eq!(
                    rfc3339_local(&z),
                    z.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string(),
                    "{t} at {o}"
                );
            }
        }
        let paris = ts("2026-12-18T09:00:00Z").to_zoned(zone("Europe/Paris").unwrap());
        assert_eq!(rfc3339_local(&paris), "2026-12-18T10:00:00+01:00");
    }

    #[test]
    fn known_zones_and_suggestions() {
        assert!(zone("Africa/Casablanca").is_ok());
        assert!(zone("UTC").is_ok());
        let e = zone("Africa/Casablance").unwrap_err();
        assert_eq!(e.suggestion.as_deref(), Some("Africa/Casablanca"));
        let e = zone("Europe/Casablanca").unwrap_err();
        assert_eq!(e.suggestion.as_deref(), Some("Africa/Casablanca"));
        let e = zone("africa/casablanca");
        // Case is forgiven by the lookup itself.
        assert!(e.is_ok());
        assert!(zone("../etc/passwd").is_err());
        assert!(zone("").is_err());
    }

    // Expected instants below are written by hand from the tzdata rules:
    // Paris is UTC+1 in winter, UTC+2 in summer; the 2027 spring change is on
    // 2027-03-28 at 01:00 UTC, the 2026 autumn change on 2026-10-25 at 01:00 UTC.
    #[test]
    fn paris_spring_gap_moves_forward_by_the_gap() {
        let paris = zone("Europe/Paris").unwrap();
        let r = resolve(&paris, dt("2027-03-28T02:30:00")).unwrap();
        assert_eq!(r.instant, ts("2027-03-28T01:30:00Z"));
        assert_eq!(r.local_rfc3339(), "2027-03-28T03:30:00+02:00");
        assert_eq!(
            r.adjustment,
            Adjustment::Gap {
                gap: SignedDuration::from_hours(1)
            }
        );
        let r = resolve(&paris, dt("2027-03-28T02:00:00")).unwrap();
        assert_eq!(r.instant, ts("2027-03-28T01:00:00Z"));
        let r = resolve(&paris, dt("2027-03-28T03:00:00")).unwrap();
        assert_eq!(r.instant, ts("2027-03-28T01:00:00Z"));
        assert_eq!(r.adjustment, Adjustment::Exact);
        let r = resolve(&paris, dt("2027-03-28T01:59:00")).unwrap();
        assert_eq!(r.instant, ts("2027-03-28T00:59:00Z"));
    }

    #[test]
    fn paris_autumn_overlap_takes_the_earlier_instant() {
        let paris = zone("Europe/Paris").unwrap();
        let r = resolve(&paris, dt("2026-10-25T02:30:00")).unwrap();
        assert_eq!(r.instant, ts("2026-10-25T00:30:00Z"));
        assert_eq!(r.local_rfc3339(), "2026-10-25T02:30:00+02:00");
        assert_eq!(
            r.adjustment,
            Adjustment::Overlap {
                later: ts("2026-10-25T01:30:00Z")
            }
        );
        let r = resolve(&paris, dt("2026-10-25T03:00:00")).unwrap();
        assert_eq!(r.instant, ts("2026-10-25T02:00:00Z"));
        assert_eq!(r.adjustment, Adjustment::Exact);
    }

    // Morocco (tzdata 2026c and later): UTC+1 outside Ramadan until
    // 2026-09-20, when clocks went back at 02:00 local (01:00 UTC) to
    // 01:00, and UTC+0 for good from then on: no Ramadan change after 2026.
    // Checked against Python's zoneinfo with IANA tzdata 2026f (PyPI `tzdata`).
    #[test]
    fn casablanca_is_utc_from_2026_09_20() {
        let casa = zone("Africa/Casablanca").unwrap();
        let r = resolve(&casa, dt("2026-09-19T10:00:00")).unwrap();
        assert_eq!(r.instant, ts("2026-09-19T09:00:00Z"));
        assert_eq!(r.local_rfc3339(), "2026-09-19T10:00:00+01:00");
        // 01:00-02:00 local happens twice on 2026-09-20: the earlier is taken.
        let r = resolve(&casa, dt("2026-09-20T01:30:00")).unwrap();
        assert_eq!(r.instant, ts("2026-09-20T00:30:00Z"));
        assert_eq!(
            r.adjustment,
            Adjustment::Overlap {
                later: ts("2026-09-20T01:30:00Z")
            }
        );
        for local in [
            "2026-09-20T02:00:00",
            "2026-09-20T10:00:00",
            // The AMAL capsules: International Migrants Day, Education Day,
            // February; Ramadan 2027 (no change any more); World Children's Day.
            "2026-12-18T10:00:00",
            "2027-01-24T10:00:00",
            "2027-02-15T10:00:00",
            "2027-02-20T10:00:00",
            "2027-03-20T10:00:00",
            "2027-11-20T10:00:00",
        ] {
            let r = resolve(&casa, dt(local)).unwrap();
            assert_eq!(r.instant, ts(&format!("{local}Z")), "{local}");
            assert_eq!(r.local_rfc3339(), format!("{local}+00:00"));
            assert_eq!(r.adjustment, Adjustment::Exact, "{local}");
        }
        let aaiun = zone("Africa/El_Aaiun").unwrap();
        let r = resolve(&aaiun, dt("2026-12-18T10:00:00")).unwrap();
        assert_eq!(r.instant, ts("2026-12-18T10:00:00Z"));
    }

    // Ramadan 2026 (tzdata): UTC+0 from 2026-02-15 02:00 UTC to 2026-03-22 02:00 UTC.
    #[test]
    fn casablanca_ramadan_2026() {
        let casa = zone("Africa/Casablanca").unwrap();
        let r = resolve(&casa, dt("2026-02-14T12:00:00")).unwrap();
        assert_eq!(r.instant, ts("2026-02-14T11:00:00Z"));
        let r = resolve(&casa, dt("2026-03-01T12:00:00")).unwrap();
        assert_eq!(r.instant, ts("2026-03-01T12:00:00Z"));
        let r = resolve(&casa, dt("2026-03-23T12:00:00")).unwrap();
        assert_eq!(r.instant, ts("2026-03-23T11:00:00Z"));
    }
}
