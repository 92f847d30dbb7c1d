//! `berrah preview --out DIR [--from DATE] [--until DATE]`: the console's
//! calendar and post pages written as static files, in French and English
//! (`console::export`), from the campaign files alone: no daemon, no
//! database. A campaigns repository's CI attaches the folder to each pull
//! request beside `berrah check`'s annotations (README, "Console and
//! previews").
//!
//! `--from` and `--until` are read as `berrah plan` reads them; the pages
//! cover the months between them (else the months that have posts). A
//! campaign file with errors is reported as `berrah plan` reports it and
//! left out, the others are still written (exit code 1); exit code 0 when
//! every file is valid.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use jiff::Timestamp;

use super::GlobalArgs;
use crate::console::export::{self, Export};

#[derive(Debug, Args)]
pub struct PreviewArgs {
    /// The folder to write the pages into (created if needed; its pages are replaced).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Only what is due from this UTC day (YYYY-MM-DD) or instant (RFC 3339).
    #[arg(long, value_name = "DATE", value_parser = super::plan::parse_from)]
    pub from: Option<Timestamp>,
    /// Only what is due until the end of this UTC day (YYYY-MM-DD) or until this instant (RFC 3339).
    #[arg(long, value_name = "DATE", value_parser = super::plan::parse_until)]
    pub until: Option<Timestamp>,
}

fn utc_day(t: Timestamp) -> jiff::civil::Date {
    t.to_zoned(jiff::tz::TimeZone::UTC).date()
}

pub fn run(global: &GlobalArgs, args: PreviewArgs) -> ExitCode {
    let loaded = match super::context::load(global) {
        Ok(l) => l,
        Err(report) => {
            eprint!("{}", report.render());
            return super::fail("the configuration cannot be loaded");
        }
    };
    for note in &loaded.tzdb.notes {
        eprintln!("warning: {note}");
    }
    let ctx = loaded.context();
    let planned = export::plan(&loaded.campaigns_dir, &ctx, args.from, args.until);
    if planned.files == 0 && planned.report.has_errors() {
        // The folder itself could not be read.
        eprint!("{}", planned.report.render());
        return ExitCode::from(1);
    }
    eprint!("{}", planned.render_broken());
    let today = utc_day(loaded.now);
    let months = export::months(
        &planned.occurrences,
        args.from.map(utc_day),
        args.until.map(utc_day),
        today,
    );
    let e = Export {
        out: &args.out,
        calendar: &loaded.calendar,
        config: &loaded.config,
        today,
        months,
    };
    let written = match export::write(&e, &planned.occurrences) {
        Ok(w) => w,
        Err(err) => {
            return super::fail(format!(
                "cannot write the pages into {}: {err}",
                args.out.display()
            ));
        }
    };
    let (first, last) = (written.months.first(), written.months.last());
    let span = match (first, last) {
        (Some(a), Some(b)) if a != b => format!("{a} to {b}"),
        (Some(a), _) => a.to_string(),
        _ => String::new(),
    };
    let s = |n: usize| if n == 1 { "" } else { "s" };
    eprintln!(
        "wrote {} month page{} ({span}) and {} post page{}, in French and English, \
         and {} media file{} to {}; open {}",
        written.months.len(),
        s(written.months.len()),
        written.posts,
        s(written.posts),
        written.media,
        s(written.media),
        args.out.display(),
        args.out.join("index.html").display()
    );
    if written.media_missing > 0 {
        eprintln!(
            "note: {} media file{} could not be copied (missing or not a regular file); \
             `berrah check` names them",
            written.media_missing,
            s(written.media_missing)
        );
    }
    if planned.broken.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "note: {} of {} campaign file{} left out for their errors",
            planned.broken.len(),
            planned.files,
            s(planned.files)
        );
        ExitCode::from(1)
    }
}
