//! Campaign files: their format ([`model`]), loading and validation.
//!
//! The pipeline for one file is [`check_source`]: parse (TOML → [`model`]),
//! validate (ids, zones, accounts, days, media, text limits), plan (through
//! [`crate::plan`]) and collect every [`Diagnostic`] on the way. `berrah check`
//! prints them; the daemon keeps the last valid version of a file that has
//! errors.

use std::path::{Path, PathBuf};

use jiff::Timestamp;

use crate::calendar::Calendar;
use crate::config::Config;
use crate::diag::{Diagnostic, Report};
use crate::plan::Occurrence;

pub mod load;
pub mod model;
pub mod suggest;
pub mod validate;
pub mod values;

pub use model::CampaignFile;

/// A campaign file as read from disk and parsed.
#[derive(Debug, Clone)]
pub struct LoadedCampaign {
    pub path: PathBuf,
    pub source: String,
    pub file: CampaignFile,
}

impl LoadedCampaign {
    /// The folder that media paths are relative to.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    pub fn id(&self) -> &str {
        self.file.campaign.id.get_ref()
    }
}

/// What checking and planning need besides the file itself.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub config: &'a Config,
    pub calendar: &'a Calendar,
    /// "Now", for "due time already past" (from the injectable clock).
    pub now: Timestamp,
}

/// The result of checking one campaign file.
#[derive(Debug, Clone, Default)]
pub struct Checked {
    /// The campaign's id, when the file got far enough to have one.
    pub campaign_id: Option<String>,
    /// The parsed file, when it parsed.
    pub campaign: Option<LoadedCampaign>,
    /// Its occurrences (meaningful only when there is no error).
    pub occurrences: Vec<Occurrence>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Checked {
    pub fn is_valid(&self) -> bool {
        !self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Parses, validates and plans one campaign file.
///
/// Never panics, whatever `source` holds: a file that does not parse gets
/// one diagnostic and no campaign; a file that parses gets every problem
/// the validation and the plan find, all at once.
pub fn check_source(path: &Path, source: &str, ctx: &Context<'_>) -> Checked {
    let mut checked = Checked::default();
    if source.contains('\0') {
        if let Err(d) = load::text_of(path, source.as_bytes().to_vec()) {
            checked.diagnostics.push(d);
        }
        return checked;
    }
    let file: CampaignFile = match load::parse(path, source) {
        Ok(f) => f,
        Err(d) => {
            checked.diagnostics.push(d);
            return checked;
        }
    };
    let loaded = LoadedCampaign {
        path: path.to_path_buf(),
        source: source.to_string(),
        file,
    };
    checked.campaign_id = Some(loaded.id().to_string());
    checked.diagnostics = validate::validate(&loaded, ctx);
    let (occurrences, plan_diagnostics) = crate::plan::plan_campaign(&loaded, ctx);
    checked.diagnostics.extend(plan_diagnostics);
    checked
        .diagnostics
        .extend(validate::check_occurrences(&loaded, &occurrences, ctx));
    checked.occurrences = occurrences;
    checked.campaign = Some(loaded);
    checked
}

/// The campaign files (`*.toml`) of `dir`, in name order.
pub fn campaign_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    Ok(files)
}

/// Checks every campaign file (`*.toml`) of `dir`, in name order, and the
/// problems between files (two files with one campaign id). The report holds
/// every diagnostic with the sources they point into.
pub fn check_dir(dir: &Path, ctx: &Context<'_>) -> (Vec<Checked>, Report) {
    let mut report = Report::default();
    let files = match campaign_files(dir) {
        Ok(f) => f,
        Err(e) => {
            report.push(
                Diagnostic::error(
                    dir,
                    None,
                    format!("cannot read the campaign folder: {e}"),
                )
                .with_help("create the folder, or point to it with `--campaigns DIR` (or `daemon.campaigns` in berrah.toml)"),
            );
            return (Vec::new(), report);
        }
    };
    let mut all = Vec::new();
    let mut ids: std::collections::HashMap<String, PathBuf> = std::collections::HashMap::new();
    for path in files {
        let mut checked = match load::read_source(&path) {
            Ok(source) => {
                let c = check_source(&path, &source, ctx);
                report.add_source(&path, source);
                c
            }
            Err(d) => Checked {
                diagnostics: vec![d],
                ..Checked::default()
            },
        };
        if let Some(loaded) = &checked.campaign {
            let id = loaded.id().to_string();
            match ids.get(&id) {
                Some(first) => checked.diagnostics.push(
                    Diagnostic::error(
                        &path,
                        Some(loaded.file.campaign.id.span()),
                        format!(
                            "campaign id `{id}` is already used by `{}`",
                            first.display()
                        ),
                    )
                    .with_help("give each campaign file its own `id` (changing an id makes a new campaign)"),
                ),
                None => {
                    ids.insert(id, path.clone());
                }
            }
        }
        report.extend(checked.diagnostics.iter().cloned());
        all.push(checked);
    }
    (all, report)
}
