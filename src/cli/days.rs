//! `berrah days`: the shipped calendar of international days, with their
//! dates in a year and their names in French, Arabic and English; today's
//! place is marked (today from the injectable clock, `--now`, in UTC), and
//! `--upcoming [WEEKS]` lists only the days of the next weeks.

use std::io::Write;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use jiff::civil;
use serde::Serialize;

use super::GlobalArgs;
use crate::calendar::{Calendar, Day};

#[derive(Debug, Args)]
pub struct DaysArgs {
    /// The year whose dates are shown [default: the current year, UTC].
    #[arg(long, value_name = "YEAR", value_parser = clap::value_parser!(i16).range(1..=9998))]
    pub year: Option<i16>,
    /// Only the days of the next weeks, from today [WEEKS: 4].
    #[arg(
        long,
        value_name = "WEEKS",
        num_args = 0..=1,
        default_missing_value = "4",
        value_parser = clap::value_parser!(u16).range(1..=104),
        conflicts_with = "year"
    )]
    pub upcoming: Option<u16>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = DaysFormat::Table)]
    pub format: DaysFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DaysFormat {
    Table,
    Json,
}

/// One day of `berrah days --format json`.
#[derive(Debug, Serialize)]
struct DayRow<'a> {
    slug: &'a str,
    /// Its (first) date that year.
    date: Option<String>,
    /// Its last date, for a week or a period.
    last: Option<String>,
    length: u16,
    rule: String,
    fr: &'a str,
    ar: &'a str,
    en: &'a str,
    source: Option<&'a str>,
    /// Whether the day (or the period) is today.
    today: bool,
}

fn rows(calendar: &Calendar, year: i16) -> Vec<(Option<civil::Date>, &Day)> {
    let mut rows: Vec<_> = calendar.days().map(|d| (d.date_in(year), d)).collect();
    rows.sort_by(|a, b| (a.0, &a.1.slug).cmp(&(b.0, &b.1.slug)));
    rows
}

/// The last date of a day that starts on `date` (a week or a period lasts
/// several days).
fn last_date(date: civil::Date, day: &Day) -> civil::Date {
    date.checked_add(jiff::Span::new().days(i64::from(day.length.max(1)) - 1))
        .unwrap_or(date)
}

/// Whether a day that starts on `date` covers `today`.
fn covers(date: Option<civil::Date>, day: &Day, today: civil::Date) -> bool {
    date.is_some_and(|d| d <= today && today <= last_date(d, day))
}

/// The days from `today` to `weeks` weeks later (those going on today
/// included), across the turn of the year, in date order.
fn upcoming(
    calendar: &Calendar,
    today: civil::Date,
    weeks: u16,
) -> Vec<(Option<civil::Date>, &Day)> {
    let until = today
        .checked_add(jiff::Span::new().days(i64::from(weeks) * 7))
        .unwrap_or(civil::Date::MAX);
    let mut out: Vec<(Option<civil::Date>, &Day)> = Vec::new();
    for year in today.year().saturating_sub(1)..=until.year() {
        for (date, day) in rows(calendar, year) {
            let Some(d) = date else { continue };
            let ongoing = covers(Some(d), day, today);
            if (ongoing || (today <= d && d < until))
                && !out.iter().any(|(x, y)| *x == Some(d) && y.slug == day.slug)
            {
                out.push((Some(d), day));
            }
        }
    }
    out.sort_by(|a, b| (a.0, &a.1.slug).cmp(&(b.0, &b.1.slug)));
    out
}

pub fn run(global: &GlobalArgs, args: DaysArgs) -> ExitCode {
    // "Today" comes from the injectable clock (`--now`, `BERRAH_NOW`).
    let today = global
        .now
        .unwrap_or_else(jiff::Timestamp::now)
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date();
    let year = args.year.unwrap_or(today.year());
    let calendar = Calendar::shipped();
    let rows = match args.upcoming {
        Some(weeks) => upcoming(&calendar, today, weeks),
        None => rows(&calendar, year),
    };
    let mut out = String::new();
    match args.format {
        DaysFormat::Json => {
            let json_rows: Vec<DayRow<'_>> = rows
                .iter()
                .map(|(date, d)| DayRow {
                    slug: &d.slug,
                    date: date.map(|x| x.to_string()),
                    last: date
                        .filter(|_| d.length > 1)
                        .map(|x| last_date(x, d).to_string()),
                    length: d.length,
                    rule: d.describe_rule(),
                    fr: d.name("fr"),
                    ar: d.name("ar"),
                    en: d.name("en"),
                    source: d.source.as_deref(),
                    today: covers(*date, d, today),
                })
                .collect();
            match serde_json::to_string_pretty(&json_rows) {
                Ok(s) => {
                    out.push_str(&s);
                    out.push('\n');
                }
                Err(e) => return super::fail(e),
            }
        }
        DaysFormat::Table => {
            let slug_w = rows.iter().map(|(_, d)| d.slug.len()).max().unwrap_or(4);
            let en_w = rows
                .iter()
                .map(|(_, d)| d.name("en").chars().count())
                .max()
                .unwrap_or(2);
            let fr_w = rows
                .iter()
                .map(|(_, d)| d.name("fr").chars().count())
                .max()
                .unwrap_or(2);
            if let Some(weeks) = args.upcoming {
                out.push_str(&format!(
                    "International days of the next {weeks} weeks, from today ({today}):\n"
                ));
            }
            out.push_str(&format!(
                "{:<10}  {:<4}  {:<slug_w$}  {:<en_w$}  {:<fr_w$}  AR\n",
                "DATE", "DAYS", "SLUG", "EN", "FR"
            ));
            let mut marked = false;
            for (date, d) in &rows {
                // Today's place in the list: before the first day on or
                // after it (a week going on today included).
                if !marked
                    && date.is_some_and(|x| x >= today || covers(Some(x), d, today))
                    && (args.upcoming.is_some() || year == today.year())
                {
                    out.push_str(&format!("── today, {today} ──\n"));
                    marked = true;
                }
                let date = date.map_or_else(|| "-".to_string(), |x| x.to_string());
                // Arabic last, so that right-to-left text never shifts the columns.
                out.push_str(&format!(
                    "{:<10}  {:<4}  {:<slug_w$}  {}{}  {}{}  {}\n",
                    date,
                    d.length,
                    d.slug,
                    d.name("en"),
                    " ".repeat(en_w - d.name("en").chars().count()),
                    d.name("fr"),
                    " ".repeat(fr_w - d.name("fr").chars().count()),
                    d.name("ar"),
                ));
            }
            if !marked && (args.upcoming.is_some() || year == today.year()) {
                out.push_str(&format!("── today, {today} ──\n"));
            }
        }
    }
    let mut stdout = std::io::stdout().lock();
    // A closed pipe (`berrah days | head`) is not an error worth a panic.
    let _ = stdout.write_all(out.as_bytes());
    let _ = stdout.flush();
    ExitCode::SUCCESS
}
