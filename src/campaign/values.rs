//! Local dates and times as comms teams write them.
//!
//! Each accepts both TOML's own values (`start = 2026-12-01`, `at = 10:00`,
//! `date_time = 2026-12-18T10:00:00`) and the same written as strings
//! (`"2026-12-01"`, `"10:00"`), because both are natural to type. A value of
//! the wrong kind (a time where a date is expected, an offset where a local
//! time is expected) is refused with a message that shows the expected form.

use std::fmt;

use jiff::civil;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

/// A local calendar date, e.g. `2026-12-18`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LocalDate(pub civil::Date);

/// A local time of day, e.g. `10:00` or `10:00:00`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LocalTime(pub civil::Time);

/// A local date and time without offset, e.g. `2026-12-18T10:00:00`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LocalDateTime(pub civil::DateTime);

fn parse_date(s: &str) -> Result<civil::Date, String> {
    if let Some((y, m, d, None)) = super::explain::french_date(s.trim()) {
        return Err(format!(
            "`{s}` is a date written day first; write it year first: {y:04}-{m:02}-{d:02}"
        ));
    }
    s.trim()
        .parse::<civil::Date>()
        .map_err(|_| format!("`{s}` is not a date; write it as YYYY-MM-DD, for example 2026-12-18"))
}

fn parse_time(s: &str) -> Result<civil::Time, String> {
    let t = s.trim();
    if let Some((h, m)) = super::explain::french_time(t) {
        return Err(format!(
            "`{s}` is not a time berrah can read; write it as hours:minutes: {h:02}:{m:02}"
        ));
    }
    // TOML writes "10:00:00"; people write "10:00". Accept both, nothing else.
    let parsed = if t.len() == 5 && t.as_bytes().get(2) == Some(&b':') {
        format!("{t}:00").parse::<civil::Time>()
    } else {
        t.parse::<civil::Time>()
    };
    parsed.map_err(|_| format!("`{s}` is not a time of day; write it as HH:MM, for example 10:00"))
}

fn parse_datetime(s: &str) -> Result<civil::DateTime, String> {
    let t = s.trim();
    if let Some((y, m, d, time)) = super::explain::french_date(t) {
        let (h, mi) = time.unwrap_or((0, 0));
        return Err(format!(
            "`{s}` is a date written day first; write it year first: {y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:00"
        ));
    }
    if t.ends_with('Z') || t.contains('+') || t.rfind('-').is_some_and(|i| i > 10) {
        return Err(format!(
            "`{s}` has a UTC offset; write the local date and time without one, for example \
             2026-12-18T10:00:00 (it is read in the campaign's time zone)"
        ));
    }
    let t = if t.len() == 16 {
        format!("{t}:00")
    } else {
        t.to_string()
    };
    t.replacen(' ', "T", 1)
        .parse::<civil::DateTime>()
        .map_err(|_| format!("`{s}` is not a local date and time; write it as YYYY-MM-DDTHH:MM:SS, for example 2026-12-18T10:00:00"))
}

/// Visits either a string or TOML's datetime (which the toml deserializer
/// presents as a one-entry map) and hands its text to `parse`.
struct TextOrTomlDatetime<T> {
    expecting: &'static str,
    parse: fn(&str) -> Result<T, String>,
    /// TOML's own value of the expected kind, without going through text
    /// (100,000 posts' times are read per `check`).
    native: fn(&toml::value::Datetime) -> Option<T>,
}

fn native_date(d: &toml::value::Date) -> Option<civil::Date> {
    civil::Date::new(
        i16::try_from(d.year).ok()?,
        i8::try_from(d.month).ok()?,
        i8::try_from(d.day).ok()?,
    )
    .ok()
}

fn native_time(t: &toml::value::Time) -> Option<civil::Time> {
    if t.nanosecond.is_some() {
        return None;
    }
    civil::Time::new(
        i8::try_from(t.hour).ok()?,
        i8::try_from(t.minute).ok()?,
        i8::try_from(t.second.unwrap_or(0)).ok()?,
        0,
    )
    .ok()
}

fn native_local_date(v: &toml::value::Datetime) -> Option<civil::Date> {
    match v {
        toml::value::Datetime {
            date: Some(d),
            time: None,
            offset: None,
        } => native_date(d),
        _ => None,
    }
}

fn native_local_time(v: &toml::value::Datetime) -> Option<civil::Time> {
    match v {
        toml::value::Datetime {
            date: None,
            time: Some(t),
            offset: None,
        } => native_time(t),
        _ => None,
    }
}

fn native_local_datetime(v: &toml::value::Datetime) -> Option<civil::DateTime> {
    match v {
        toml::value::Datetime {
            date: Some(d),
            time: Some(t),
            offset: None,
        } => Some(civil::DateTime::from_parts(
            native_date(d)?,
            native_time(t)?,
        )),
        _ => None,
    }
}

impl<'de, T> Visitor<'de> for TextOrTomlDatetime<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        (self.parse)(v).map_err(E::custom)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        let dt = toml::value::Datetime::deserialize(de::value::MapAccessDeserializer::new(map))?;
        // The common forms are taken as they are; any other (an offset,
        // fractions of a second, the wrong kind) goes through the text and
        // its message.
        if let Some(v) = (self.native)(&dt) {
            return Ok(v);
        }
        (self.parse)(&dt.to_string()).map_err(de::Error::custom)
    }
}

impl<'de> Deserialize<'de> for LocalDate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TextOrTomlDatetime {
            expecting: "a date such as 2026-12-18",
            parse: parse_date,
            native: native_local_date,
        })
        .map(LocalDate)
    }
}

impl<'de> Deserialize<'de> for LocalTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TextOrTomlDatetime {
            expecting: "a time of day such as 10:00",
            parse: parse_time,
            native: native_local_time,
        })
        .map(LocalTime)
    }
}

impl<'de> Deserialize<'de> for LocalDateTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TextOrTomlDatetime {
            expecting: "a local date and time such as 2026-12-18T10:00:00",
            parse: parse_datetime,
            native: native_local_datetime,
        })
        .map(LocalDateTime)
    }
}

impl fmt::Display for LocalDate {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for LocalTime {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}", self.0.strftime("%H:%M"))
    }
}

impl fmt::Display for LocalDateTime {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}", self.0.strftime("%Y-%m-%dT%H:%M:%S"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Probe {
        d: LocalDate,
        t: LocalTime,
        dt: LocalDateTime,
    }

    #[test]
    fn toml_native_values() {
        let p: Probe =
            toml::from_str("d = 2026-12-18\nt = 10:00:00\ndt = 2026-12-18T10:30:00").unwrap();
        assert_eq!(p.d.to_string(), "2026-12-18");
        assert_eq!(p.t.to_string(), "10:00");
        assert_eq!(p.dt.to_string(), "2026-12-18T10:30:00");
    }

    #[test]
    fn strings_as_people_type_them() {
        let p: Probe =
            toml::from_str("d = \"2026-12-18\"\nt = \"10:00\"\ndt = \"2026-12-18 10:30\"").unwrap();
        assert_eq!(p.t.to_string(), "10:00");
        assert_eq!(p.dt.to_string(), "2026-12-18T10:30:00");
    }

    #[test]
    fn french_forms_get_the_form_to_write() {
        let e =
            toml::from_str::<Probe>("d = \"18/12/2026\"\nt = \"10h30\"\ndt = \"18/12/2026 10h00\"")
                .unwrap_err()
                .to_string();
        assert!(e.contains("write it year first: 2026-12-18"), "{e}");
        assert_eq!(
            parse_time("10h30").unwrap_err(),
            "`10h30` is not a time berrah can read; write it as hours:minutes: 10:30"
        );
        assert!(
            parse_datetime("18/12/2026 10h00")
                .unwrap_err()
                .ends_with("2026-12-18T10:00:00")
        );
    }

    #[test]
    fn offsets_and_wrong_kinds_are_refused_with_the_expected_form() {
        let e = toml::from_str::<Probe>("d = 2026-12-18\nt = 10:00:00\ndt = 2026-12-18T10:30:00Z")
            .unwrap_err()
            .to_string();
        assert!(e.contains("without one"), "{e}");
        let e = toml::from_str::<Probe>("d = 10:00:00\nt = 10:00:00\ndt = 2026-12-18T10:30:00")
            .unwrap_err()
            .to_string();
        assert!(e.contains("YYYY-MM-DD"), "{e}");
    }
}
