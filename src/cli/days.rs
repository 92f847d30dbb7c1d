//! `berrah days`: the shipped calendar of international days, with their
//! dates in a year and their names in French, Arabic and English.

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
}

fn rows(calendar: &Calendar, year: i16) -> Vec<(Option<civil::Date>, &Day)> {
    let mut rows: Vec<_> = calendar.days().map(|d| (d.date_in(year), d)).collect();
    rows.sort_by(|a, b| (a.0, &a.1.slug).cmp(&(b.0, &b.1.slug)));
    rows
}

pub fn run(global: &GlobalArgs, args: DaysArgs) -> ExitCode {
    let year = args.year.unwrap_or_else(|| {
        global
            .now
            .unwrap_or_else(jiff::Timestamp::now)
            .to_zoned(jiff::tz::TimeZone::UTC)
            .year()
    });
    let calendar = Calendar::shipped();
    let rows = rows(&calendar, year);
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
                        .and_then(|x| {
                            x.checked_add(jiff::Span::new().days(i64::from(d.length) - 1))
                                .ok()
                        })
                        .map(|x| x.to_string()),
                    length: d.length,
                    rule: d.describe_rule(),
                    fr: d.name("fr"),
                    ar: d.name("ar"),
                    en: d.name("en"),
                    source: d.source.as_deref(),
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
            out.push_str(&format!(
                "{:<10}  {:<4}  {:<slug_w$}  {:<en_w$}  {:<fr_w$}  AR\n",
                "DATE", "DAYS", "SLUG", "EN", "FR"
            ));
            for (date, d) in &rows {
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
        }
    }
    let mut stdout = std::io::stdout().lock();
    // A closed pipe (`berrah days | head`) is not an error worth a panic.
    let _ = stdout.write_all(out.as_bytes());
    let _ = stdout.flush();
    ExitCode::SUCCESS
}
