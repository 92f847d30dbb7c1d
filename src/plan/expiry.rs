//! Durations as comms teams write them in `expires_after`: `"6h"`, `"2 days"`,
//! `"1h30m"`, `"90 minutes"`, `"1 week"`.
//!
//! A day is 24 hours here (an expiry is a length of time, not a calendar
//! step), a week 7 days.

use jiff::SignedDuration;

/// The longest `expires_after` a campaign may give: ten years (of 365 days).
/// Longer is a slip of the keyboard (`"99999999999 days"`), not a plan.
pub const MAX_EXPIRY: SignedDuration = SignedDuration::from_hours(3650 * 24);

/// Parses a positive duration; the error says what to write instead.
///
/// jiff's friendly and ISO 8601 forms are read first (the same parser that
/// campaign validation uses, so that what it accepts plans the same way),
/// with days and weeks as 24 and 168 hours; then the forms of this module.
pub fn parse_duration(input: &str) -> Result<SignedDuration, String> {
    if let Ok(span) = input.trim().parse::<jiff::Span>()
        && span.is_positive()
        && let Ok(d) = span.to_duration(jiff::SpanRelativeTo::days_are_24_hours())
    {
        return Ok(d);
    }
    parse_simple(input)
}

fn parse_simple(input: &str) -> Result<SignedDuration, String> {
    let bad = || {
        format!(
            "`{input}` is not a duration; write a number and a unit, for example \"6h\", \
             \"90 minutes\", \"2 days\" or \"1h30m\""
        )
    };
    let s = input.trim().to_lowercase();
    let mut total: i64 = 0;
    let mut rest = s.as_str();
    let mut parts = 0;
    while !rest.is_empty() {
        rest = rest.trim_start();
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        let n: i64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = rest[digits..].trim_start();
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = &rest[..unit_len];
        rest = rest[unit_len..].trim_start_matches([' ', ',']);
        let seconds = match unit {
            "s" | "sec" | "secs" | "second" | "seconds" => 1,
            "m" | "min" | "mins" | "minute" | "minutes" => 60,
            "h" | "hr" | "hrs" | "hour" | "hours" => 3600,
            "d" | "day" | "days" => 86_400,
            "w" | "week" | "weeks" => 7 * 86_400,
            _ => return Err(bad()),
        };
        total = n
            .checked_mul(seconds)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
        parts += 1;
    }
    if parts == 0 || total <= 0 {
        return Err(bad());
    }
    Ok(SignedDuration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_people_write() {
        let h = |n| SignedDuration::from_hours(n);
        assert_eq!(parse_duration("24h"), Ok(h(24)));
        assert_eq!(parse_duration("6 hours"), Ok(h(6)));
        assert_eq!(parse_duration("2 days"), Ok(h(48)));
        assert_eq!(parse_duration("1 week"), Ok(h(168)));
        assert_eq!(parse_duration("1h30m"), Ok(SignedDuration::from_mins(90)));
        assert_eq!(
            parse_duration("1h, 30 min"),
            Ok(SignedDuration::from_mins(90))
        );
        assert_eq!(parse_duration("PT6H"), Ok(h(6)));
        assert_eq!(parse_duration("2d 3h"), Ok(h(51)));
        for bad in [
            "",
            "h",
            "0h",
            "6 fortnights",
            "-3h",
            "99999999999999999 days",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
