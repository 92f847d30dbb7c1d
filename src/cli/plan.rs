//! `berrah plan`: every planned publication, in time order.
//!
//! `--from` and `--until` take a day (`YYYY-MM-DD`, read as a UTC day:
//! `--from 2026-12-18` starts at 2026-12-18T00:00:00Z, `--until 2026-12-18`
//! ends at the end of that day) or an RFC 3339 instant
//! (`2026-12-18T10:00:00+01:00`, `2026-12-18T09:00:00Z`); both bounds are
//! inclusive. Campaign files with errors are skipped with a note on stderr
//! (exit code 1); the others are still shown.

use std::io::Write;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use jiff::{Timestamp, civil};

use super::GlobalArgs;
use crate::plan::{Occurrence, output};

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Only what is due from this UTC day (YYYY-MM-DD) or instant (RFC 3339).
    #[arg(long, value_name = "DATE", value_parser = parse_from)]
    pub from: Option<Timestamp>,
    /// Only what is due until the end of this UTC day (YYYY-MM-DD) or until this instant (RFC 3339).
    #[arg(long, value_name = "DATE", value_parser = parse_until)]
    pub until: Option<Timestamp>,
    /// Output format: a table for people, JSON for tools, iCalendar for calendar apps.
    #[arg(long, value_enum, default_value_t = PlanFormat::Table)]
    pub format: PlanFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    Table,
    Json,
    Ics,
}

/// A bound: a UTC day (its start, or for `until` the end) or an RFC 3339 instant.
fn parse_bound(s: &str, end_of_day: bool) -> Result<Timestamp, String> {
    let s = s.trim();
    if let Ok(date) = s.parse::<civil::Date>()
        && s.len() == 10
    {
        let day = if end_of_day {
            date.tomorrow().map_err(|e| e.to_string())?
        } else {
            date
        };
        let t = day
            .to_zoned(jiff::tz::TimeZone::UTC)
            .map_err(|e| e.to_string())?
            .timestamp();
        return Ok(if end_of_day {
            t.checked_sub(jiff::SignedDuration::from_nanos(1))
                .map_err(|e| e.to_string())?
        } else {
            t
        });
    }
    s.parse::<Timestamp>().map_err(|_| {
        format!(
            "`{s}` is neither a day nor an instant; write 2026-12-18 (a UTC day) or \
             2026-12-18T10:00:00+01:00"
        )
    })
}

pub(crate) fn parse_from(s: &str) -> Result<Timestamp, String> {
    parse_bound(s, false)
}

pub(crate) fn parse_until(s: &str) -> Result<Timestamp, String> {
    parse_bound(s, true)
}

/// Whether `due` falls inside the bounds (both inclusive).
fn in_bounds(due: Timestamp, from: Option<Timestamp>, until: Option<Timestamp>) -> bool {
    from.is_none_or(|f| due >= f) && until.is_none_or(|u| due <= u)
}

/// Keeps what falls inside the bounds, in time order.
pub fn select(
    mut occurrences: Vec<Occurrence>,
    from: Option<Timestamp>,
    until: Option<Timestamp>,
) -> Vec<Occurrence> {
    occurrences.retain(|o| in_bounds(o.due, from, until));
    occurrences.sort_by(|a, b| a.due.cmp(&b.due).then_with(|| a.key.cmp(&b.key)));
    occurrences
}

pub fn run(global: &GlobalArgs, args: PlanArgs) -> ExitCode {
    let loaded = match super::context::load(global) {
        Ok(l) => l,
        Err(report) => {
            eprint!("{}", report.render());
            return super::fail("the configuration cannot be loaded");
        }
    };
    let ctx = loaded.context();
    let now = ctx.now;
    // Old zone data is how posts go out an hour off: say so before anything.
    for note in &loaded.tzdb.notes {
        eprintln!("warning: {note}");
    }
    // The plan as the console and `berrah preview` make it: each valid
    // file's occurrences compacted as soon as it is checked, in time order.
    let planned = crate::console::export::plan(&loaded.campaigns_dir, &ctx, args.from, args.until);
    if planned.files == 0 && planned.report.has_errors() {
        // The folder itself could not be read.
        eprint!("{}", planned.report.render());
        return ExitCode::from(1);
    }
    eprint!("{}", planned.render_broken());
    let failed = !planned.broken.is_empty();
    let warnings = planned.warnings;
    if warnings > 0 {
        eprintln!(
            "note: {warnings} warning{} (times moved by a change of time, times already past...); \
             `berrah check` shows them",
            if warnings == 1 { "" } else { "s" }
        );
    }
    let occurrences = planned.occurrences;
    // Streamed: the text of the whole plan is never held in memory.
    let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
    let written = match args.format {
        PlanFormat::Table => writeln!(stdout, "Time zones: {}", loaded.tzdb.describe())
            .and_then(|()| output::write_table(&mut stdout, &occurrences)),
        PlanFormat::Json => output::write_json(&mut stdout, &occurrences),
        PlanFormat::Ics => {
            // Each account's handle beside it in the events' descriptions.
            let handles: std::collections::BTreeMap<String, String> = loaded
                .config
                .accounts
                .iter()
                .filter_map(|(id, a)| Some((id.clone(), a.handle.clone()?)))
                .collect();
            let extra = output::IcsExtra {
                handles: Some(&handles),
                ..output::IcsExtra::default()
            };
            output::write_ics_with(&mut stdout, &occurrences, now, &extra)
        }
    };
    // A closed pipe (`berrah plan | head`) is not an error worth a panic.
    let _ = written.and_then(|()| stdout.flush());
    // The process ends here: freeing 100,000 occurrences one by one would
    // take a tenth of the command's time for nothing.
    std::mem::forget(occurrences);
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds() {
        assert_eq!(
            parse_from("2026-12-18").unwrap(),
            "2026-12-18T00:00:00Z".parse::<Timestamp>().unwrap()
        );
        assert_eq!(
            parse_until("2026-12-18").unwrap(),
            "2026-12-18T23:59:59.999999999Z"
                .parse::<Timestamp>()
                .unwrap()
        );
        assert_eq!(
            parse_from("2026-12-18T10:00:00+01:00").unwrap(),
            "2026-12-18T09:00:00Z".parse::<Timestamp>().unwrap()
        );
        assert!(parse_from("18/12/2026").unwrap_err().contains("2026-12-18"));
    }
}
