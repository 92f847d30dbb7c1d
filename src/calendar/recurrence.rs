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
//! - nothing else: six or seven fields (seconds first, a year last) are
//!   refused with the five-field expression meant; French and full English
//!   names (`MER`, `WEDNESDAY`, `FÉVR`) with the English three-letter name
//!   (`WED`, `FEB`). The seconds-first form handed to the `cron` crate is
//!   internal and never appears in a message.

use std::ops::Range;
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
    /// What to write instead.
    pub help: String,
    /// The bytes of `expression` at fault (a field, a name), when one is.
    pub at: Option<Range<usize>>,
}

const GENERAL_HELP: &str = "write five fields: minute hour day-of-month month day-of-week, for \
     example `cron = \"0 10 * * TUE\"` (every Tuesday at 10:00) or `cron = \"30 18 * * MON-FRI\"` \
     (weekdays at 18:30)";

impl InvalidCron {
    /// What to write instead.
    pub fn help(&self) -> &str {
        &self.help
    }
}

/// The five fields, in order, with the range of their numbers.
const FIELDS: [(&str, u32, u32); 5] = [
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day-of-month", 1, 31),
    ("month", 1, 12),
    ("day-of-week", 0, 7),
];

const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];

/// Names people write for days and months that cron does not read, and the
/// name it does: French (with or without accents and a final dot) and full
/// English names. Compared in upper case, accents removed.
const DAY_ALIASES: [(&str, &str); 14] = [
    ("LUN", "MON"),
    ("MAR", "TUE"),
    ("MER", "WED"),
    ("JEU", "THU"),
    ("VEN", "FRI"),
    ("SAM", "SAT"),
    ("DIM", "SUN"),
    ("MONDAY", "MON"),
    ("TUESDAY", "TUE"),
    ("WEDNESDAY", "WED"),
    ("THURSDAY", "THU"),
    ("FRIDAY", "FRI"),
    ("SATURDAY", "SAT"),
    ("SUNDAY", "SUN"),
];
const MONTH_ALIASES: [(&str, &str); 22] = [
    ("JANV", "JAN"),
    ("FEVR", "FEB"),
    ("MARS", "MAR"),
    ("AVR", "APR"),
    ("MAI", "MAY"),
    ("JUIN", "JUN"),
    ("JUIL", "JUL"),
    ("AOUT", "AUG"),
    ("SEPT", "SEP"),
    ("DEC", "DEC"),
    ("JANUARY", "JAN"),
    ("FEBRUARY", "FEB"),
    ("MARCH", "MAR"),
    ("APRIL", "APR"),
    ("JUNE", "JUN"),
    ("JULY", "JUL"),
    ("AUGUST", "AUG"),
    ("SEPTEMBER", "SEP"),
    ("OCTOBER", "OCT"),
    ("NOVEMBER", "NOV"),
    ("DECEMBER", "DEC"),
    ("FEV", "FEB"),
];

/// Upper case, French accents removed, a final dot dropped (`févr.` → `FEVR`).
fn fold_name(name: &str) -> String {
    name.trim_end_matches('.')
        .chars()
        .map(|c| match c {
            'é' | 'É' | 'è' | 'È' | 'ê' | 'Ê' => 'E',
            'û' | 'Û' | 'ù' | 'Ù' => 'U',
            'à' | 'À' | 'â' | 'Â' => 'A',
            'ô' | 'Ô' => 'O',
            'î' | 'Î' => 'I',
            c => c.to_ascii_uppercase(),
        })
        .collect()
}

/// The fields of an expression with their byte ranges in it.
fn fields_of(expression: &str) -> Vec<(&str, Range<usize>)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in expression.char_indices().chain([(expression.len(), ' ')]) {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                out.push((&expression[s..i], s..i));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    out
}

/// A six- or seven-field expression (seconds first, years last) written as
/// the five fields berrah reads: seconds and years dropped, days of the
/// week renumbered from the seconds-first form's 1 = Sunday to 0 = Sunday.
fn five_field_form(fields: &[&str]) -> String {
    let dow: Vec<String> = fields[5]
        .split(',')
        .map(|item| {
            let (range, step) = match item.split_once('/') {
                Some((r, s)) => (r, format!("/{s}")),
                None => (item, String::new()),
            };
            let renumber = |n: &str| match n.parse::<u8>() {
                Ok(v @ 1..=7) => (v - 1).to_string(),
                _ => n.to_string(),
            };
            let range = match range.split_once('-') {
                Some((a, b)) => format!("{}-{}", renumber(a), renumber(b)),
                None => renumber(range),
            };
            format!("{range}{step}")
        })
        .collect();
    format!(
        "{} {} {} {} {}",
        fields[1],
        fields[2],
        fields[3],
        fields[4],
        dow.join(",")
    )
}

/// A problem in one field: the reason, what to write, where (bytes of the expression).
type FieldError = (String, String, Range<usize>);

/// Reads one value of field `f` (a number in its range, or for months and
/// days of the week an English three-letter name); `at` is where it starts
/// in the expression.
fn check_value(f: usize, value: &str, at: usize) -> Result<u32, FieldError> {
    let (what, lo, hi) = FIELDS[f];
    let here = at..at + value.len();
    if value.is_empty() {
        return Err((
            format!("the {what} field has an empty value"),
            format!("write a number from {lo} to {hi}, or `*`"),
            here,
        ));
    }
    if value.bytes().all(|b| b.is_ascii_digit()) {
        return match value.parse::<u32>() {
            Ok(n) if (lo..=hi).contains(&n) => Ok(n),
            _ => Err((
                format!("`{value}` is not a {what}: it goes from {lo} to {hi}"),
                format!("write a number from {lo} to {hi}"),
                here,
            )),
        };
    }
    let (names, aliases): (&[&str], &[(&str, &str)]) = match f {
        3 => (&MONTHS, &MONTH_ALIASES),
        4 => (&DAYS, &DAY_ALIASES),
        _ => {
            return Err((
                format!("`{value}` is not a {what}: it goes from {lo} to {hi}"),
                format!("write a number from {lo} to {hi}"),
                here,
            ));
        }
    };
    let upper = value.to_ascii_uppercase();
    if let Some(i) = names.iter().position(|n| *n == upper) {
        // Months are 1-12; days of the week 0 (SUN) to 6.
        return Ok(u32::try_from(i).unwrap_or(0) + u32::from(f == 3));
    }
    let folded = fold_name(value);
    let meant = aliases
        .iter()
        .find(|(alias, _)| *alias == folded)
        .map(|(_, n)| *n)
        .or_else(|| names.iter().copied().find(|n| *n == folded));
    let list = if f == 3 {
        "JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC (or 1-12)"
    } else {
        "MON TUE WED THU FRI SAT SUN (or 0-6, 0 = Sunday)"
    };
    let kind = if f == 3 { "month" } else { "day of the week" };
    Err(match meant {
        Some(n) => (
            format!(
                "`{value}` is not a {kind} name cron reads: it reads English three-letter names"
            ),
            format!("did you mean `{n}`?"),
            here,
        ),
        None => (
            format!("`{value}` is not a {kind}"),
            format!("write one of {list}"),
            here,
        ),
    })
}

/// Checks one field: items separated by `,`, each `*`, a value or a range
/// `a-b`, with an optional step `/n`.
fn check_field(f: usize, field: &str, at: usize) -> Result<(), FieldError> {
    let (what, lo, hi) = FIELDS[f];
    let mut offset = at;
    for item in field.split(',') {
        let item_at = offset;
        offset += item.len() + 1;
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => (r, Some(s)),
            None => (item, None),
        };
        if let Some(step) = step {
            let step_at = item_at + range.len() + 1;
            match step.parse::<u32>() {
                Ok(n) if n >= 1 && n <= hi - lo + 1 => {}
                _ => {
                    return Err((
                        format!("`/{step}` is not a step for the {what} field"),
                        format!("write a step from 1 to {}, as in `*/15`", hi - lo + 1),
                        step_at..step_at + step.len(),
                    ));
                }
            }
        }
        if range == "*" {
            continue;
        }
        match range.split_once('-') {
            Some((a, b)) => {
                let x = check_value(f, a, item_at)?;
                let y = check_value(f, b, item_at + a.len() + 1)?;
                // Days of the week may wrap past Sunday (`FRI-SUN`, `5-7`).
                let wraps = f == 4 && (y == 0 || y == 7);
                if x > y && !wraps {
                    return Err((
                        format!("the range `{range}` goes backwards"),
                        format!(
                            "write the smaller {what} first: `{b}-{a}` is not the same, `{a}-{hi}` may be what you mean"
                        ),
                        item_at..item_at + range.len(),
                    ));
                }
            }
            None => {
                check_value(f, range, item_at)?;
            }
        }
    }
    Ok(())
}

/// A parsed cron expression.
#[derive(Debug, Clone)]
pub struct Recurrence {
    schedule: cron::Schedule,
    /// The same days at midnight only: one time per day the expression fires on.
    days: cron::Schedule,
    /// How many times it fires on each of those days (minutes × hours).
    per_day: usize,
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
        let fields = fields_of(expression);
        let invalid = |reason: String, help: String, at: Option<Range<usize>>| InvalidCron {
            expression: expression.to_string(),
            reason,
            help,
            at,
        };
        let texts: Vec<&str> = fields.iter().map(|(t, _)| *t).collect();
        match texts.len() {
            5 => {}
            n @ (6 | 7) => {
                let meant = five_field_form(&texts);
                let mut reason = format!(
                    "it has {n} fields; a cron expression has 5 (minute hour day-of-month month \
                     day-of-week), without seconds"
                );
                if n == 7 {
                    reason.push_str(" or years (the campaign's `start` and `end` bound the years)");
                }
                return Err(invalid(reason, format!("write `{meant}`"), None));
            }
            n => {
                return Err(invalid(
                    format!(
                        "it has {n} field{}; expected 5 (minute hour day-of-month month day-of-week)",
                        if n == 1 { "" } else { "s" }
                    ),
                    GENERAL_HELP.to_string(),
                    None,
                ));
            }
        }
        for (f, (text, range)) in fields.iter().enumerate() {
            check_field(f, text, range.start)
                .map_err(|(reason, help, at)| invalid(reason, help, Some(at)))?;
        }
        // Days of the week by name become standard numbers (SUN = 0), then
        // the `cron` crate's numbering.
        let dow_numbers: String = {
            let mut out = String::new();
            let mut word = String::new();
            for c in texts[4].chars().chain([',']) {
                if c.is_ascii_alphabetic() {
                    word.push(c);
                    continue;
                }
                if !word.is_empty() {
                    let upper = word.to_ascii_uppercase();
                    match DAYS.iter().position(|d| *d == upper) {
                        Some(i) => out.push_str(&i.to_string()),
                        None => out.push_str(&word),
                    }
                    word.clear();
                }
                out.push(c);
            }
            out.pop();
            out
        };
        let dow = standard_days_of_week(&dow_numbers).map_err(|reason| {
            invalid(reason, GENERAL_HELP.to_string(), Some(fields[4].1.clone()))
        })?;
        let normalized = format!(
            "0 {} {} {} {} {dow}",
            texts[0], texts[1], texts[2], texts[3]
        );
        // The crate's own message would show the seconds-first form, which
        // nobody wrote: say it in the five fields' terms.
        let schedule = cron::Schedule::from_str(&normalized).map_err(|_| {
            invalid(
                "it is not a cron expression berrah can read".to_string(),
                GENERAL_HELP.to_string(),
                None,
            )
        })?;
        let days = cron::Schedule::from_str(&format!("0 0 0 {} {} {dow}", texts[2], texts[3]))
            .map_err(|_| {
                invalid(
                    "it is not a cron expression berrah can read".to_string(),
                    GENERAL_HELP.to_string(),
                    None,
                )
            })?;
        Ok(Recurrence {
            schedule,
            days,
            per_day: values_in(texts[0], 0, 59) * values_in(texts[1], 0, 23),
            expression: expression.to_string(),
        })
    }

    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// The wall-clock times in the local days `from..=to`, in order, at most
    /// `cap`; `true` when there are more (then the list may be cut short
    /// anywhere, even empty: a list over the cap is never used).
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
        // Over the cap? Count the days it fires on (each gives `per_day`
        // times) rather than every time: `* * * * *` in every post of a file
        // would otherwise step through the cap's worth of times for each.
        if self.per_day > 1 {
            let mut times = 0usize;
            for t in self.days.after(&first) {
                if t.naive_utc() >= end {
                    break;
                }
                times = times.saturating_add(self.per_day);
                if times > cap {
                    return (out, true);
                }
            }
        }
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

/// How many values a checked minute or hour field (`lo..=hi`) stands for.
fn values_in(field: &str, lo: u32, hi: u32) -> usize {
    let mut set = 0u64;
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => (r, s.parse::<u32>().unwrap_or(1).max(1)),
            None => (item, 1),
        };
        let (a, b) = match range.split_once('-') {
            Some((a, b)) => (a.parse().unwrap_or(lo), b.parse().unwrap_or(hi)),
            None if range == "*" => (lo, hi),
            None => {
                let a = range.parse().unwrap_or(lo);
                (a, if step > 1 { hi } else { a })
            }
        };
        let mut v = a;
        while v <= b.min(hi) {
            set |= 1 << v;
            v += step;
        }
    }
    set.count_ones() as usize
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
    fn six_and_seven_fields_show_the_five_meant() {
        // Six and seven fields used to be read seconds first, with their own
        // day numbers (1 = Sunday): an error now, with the five fields meant.
        let e = Recurrence::parse("0 0 10 * * WED").unwrap_err();
        assert!(e.reason.contains("6 fields"), "{e}");
        assert_eq!(e.help(), "write `0 10 * * WED`");
        let e = Recurrence::parse("0 30 18 * * 2-6 2027").unwrap_err();
        assert!(e.reason.contains("7 fields"), "{e}");
        assert_eq!(e.help(), "write `30 18 * * 1-5`");
        for e in [e, Recurrence::parse("0 0 10 * * Tue").unwrap_err()] {
            // The seconds-first form is nobody's to read.
            assert!(!e.to_string().contains("0 0 10") || e.expression.contains("0 0 10"));
            assert!(!e.help().contains("0 0 10"), "{}", e.help());
        }
    }

    #[test]
    fn errors_point_at_the_field_and_say_what_to_write() {
        let e = Recurrence::parse("0 10 * *").unwrap_err();
        assert!(e.reason.contains("4 fields"), "{e}");
        assert!(e.help().contains("0 10 * * TUE"));
        let e = Recurrence::parse("0 25 * * *").unwrap_err();
        assert_eq!(e.at, Some(2..4));
        assert!(e.reason.contains("0 to 23"), "{e}");
        // French and full English names: the English three-letter name, at their column.
        for (expr, name, meant) in [
            ("0 10 * * MER", "MER", "WED"),
            ("0 10 * * mer", "mer", "WED"),
            ("0 10 * * WEDNESDAY", "WEDNESDAY", "WED"),
            ("0 10 * * LUN-VEN", "LUN", "MON"),
            ("0 10 * * MON-VEN", "VEN", "FRI"),
            ("0 10 * * DIM", "DIM", "SUN"),
            ("0 10 1 FÉVR *", "FÉVR", "FEB"),
            ("0 10 1 févr. *", "févr.", "FEB"),
            ("0 10 1 AOÛT *", "AOÛT", "AUG"),
            ("0 10 1 aout *", "aout", "AUG"),
            ("0 10 1 DÉC *", "DÉC", "DEC"),
            ("0 10 1 JANV,JUIN *", "JANV", "JAN"),
            ("0 10 1 JAN,JUIN *", "JUIN", "JUN"),
            ("0 10 1 MARS *", "MARS", "MAR"),
            ("0 10 1 JANUARY *", "JANUARY", "JAN"),
            ("0 10 1 MAI *", "MAI", "MAY"),
        ] {
            let e = Recurrence::parse(expr).unwrap_err();
            let at = e.at.clone().unwrap();
            assert_eq!(&expr[at], name, "{expr}");
            assert_eq!(e.help(), format!("did you mean `{meant}`?"), "{expr}");
            assert!(!e.to_string().contains("0 0 10"), "{e}");
        }
        // MAR is Tuesday in French but March in English: read by its field.
        assert!(Recurrence::parse("0 10 1 MAR *").is_ok());
        assert_eq!(
            Recurrence::parse("0 10 * * MAR").unwrap_err().help(),
            "did you mean `TUE`?"
        );
        let e = Recurrence::parse("0 10 * * XYZ").unwrap_err();
        assert!(e.help().contains("MON TUE"), "{e:?}");
        assert!(Recurrence::parse("*/0 10 * * *").is_err());
        assert!(Recurrence::parse("0 10 * 12-1 *").is_err());
    }

    #[test]
    fn english_names_and_wrapping_day_ranges() {
        let days = |e: &str| -> Vec<i8> {
            let (w, _) =
                Recurrence::parse(e)
                    .unwrap()
                    .wall_times(d("2026-11-30"), d("2026-12-06"), 100);
            w.iter().map(|t| t.day()).collect()
        };
        assert_eq!(days("0 9 * * MON-FRI"), [30, 1, 2, 3, 4]);
        assert_eq!(days("0 9 * * fri-sun"), [4, 5, 6]);
        assert_eq!(days("0 9 * * SUN,WED"), [2, 6]);
        assert_eq!(days("0 9 * DEC SAT"), [5]);
    }

    #[test]
    fn cap_truncates() {
        let r = Recurrence::parse("* * * * *").unwrap();
        let (_, truncated) = r.wall_times(d("2026-12-01"), d("2026-12-31"), 10);
        assert!(truncated);
        // Found over the cap by days, not by stepping through the times.
        let (_, truncated) = r.wall_times(d("2026-12-01"), d("2026-12-06"), 6 * 1440);
        assert!(!truncated);
        let (_, truncated) = r.wall_times(d("2026-12-01"), d("2026-12-06"), 6 * 1440 - 1);
        assert!(truncated);
        let r = Recurrence::parse("0 10 * * TUE").unwrap();
        let (w, truncated) = r.wall_times(d("2026-12-01"), d("2026-12-31"), 5);
        assert_eq!((w.len(), truncated), (5, false));
        let (w, truncated) = r.wall_times(d("2026-12-01"), d("2026-12-31"), 4);
        assert_eq!((w.len(), truncated), (4, true));
        assert_eq!(values_in("*/15", 0, 59), 4);
        assert_eq!(values_in("0,30", 0, 59), 2);
        assert_eq!(values_in("5/20", 0, 59), 3);
        assert_eq!(values_in("9-17/2,20", 0, 23), 6);
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
