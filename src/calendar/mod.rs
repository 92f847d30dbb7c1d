//! The calendar: international days ([`days`]), IANA time zones ([`tz`]) and
//! cron recurrence ([`recurrence`]).
//!
//! Everything here is pure (no I/O besides reading the time-zone database) and
//! works on local civil dates and times; the exact rules that turn a local time
//! into an instant live in [`tz`].

pub mod days;
pub mod recurrence;
pub mod tz;
pub mod tzdb;

pub use days::{Calendar, Day, DayRule};

/// The candidate closest to `input` (Levenshtein distance, case-insensitive),
/// when it is close enough to be a plausible typo: used for every "did you
/// mean" (zones, days).
pub fn closest<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let needle = input.to_lowercase();
    let limit = (needle.chars().count() / 3).max(2);
    let mut best: Option<(usize, &'a str)> = None;
    for candidate in candidates {
        let d = levenshtein(&needle, &candidate.to_lowercase());
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// Edit distance in characters (so that it is meaningful on Arabic too).
pub fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_finds_typos_and_refuses_strangers() {
        let c = ["migrants", "refugees", "children"];
        assert_eq!(closest("migrant", c), Some("migrants"));
        assert_eq!(closest("Refugess", c), Some("refugees"));
        assert_eq!(closest("xyz", c), None);
        assert_eq!(levenshtein("مهاجر", "مهاجرين"), 2);
    }
}
