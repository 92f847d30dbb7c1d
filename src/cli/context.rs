//! What most commands load first: the configuration, the campaign folder, "now".
//!
//! `berrah.toml` is optional: without it there are no accounts, which is
//! enough to check campaign files' syntax. A file named explicitly
//! (`--config FILE`, `BERRAH_CONFIG`) must exist. Paths in the file are
//! relative to its folder, so that `berrah` behaves the same from any
//! working directory.

use std::path::{Path, PathBuf};

use jiff::Timestamp;

use super::GlobalArgs;
use crate::calendar::Calendar;
use crate::calendar::tzdb::{self, Choice, Selection};
use crate::config::Config;
pub use crate::config::{check_config, read_config};
use crate::diag::{Diagnostic, Report};

/// The default name of the configuration file.
pub const DEFAULT_CONFIG: &str = "berrah.toml";

/// Everything loaded before a command runs.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    /// The configuration file, when there is one.
    pub config_path: Option<PathBuf>,
    pub campaigns_dir: PathBuf,
    pub data_dir: PathBuf,
    pub calendar: Calendar,
    /// The time-zone database chosen, with what an operator should know of it.
    pub tzdb: Selection,
    pub now: Timestamp,
}

impl Loaded {
    /// The configuration file's folder, against which its relative paths
    /// (key files, credential files) are read; empty (the working
    /// directory) without a file.
    pub fn config_dir(&self) -> PathBuf {
        folder_of(self.config_path.as_deref())
    }

    /// The context campaign checking and planning need.
    pub fn context(&self) -> crate::campaign::Context<'_> {
        crate::campaign::Context {
            config: &self.config,
            calendar: &self.calendar,
            now: self.now,
        }
    }
}

/// The folder of the configuration file; empty without one.
fn folder_of(config_path: Option<&Path>) -> PathBuf {
    config_path
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Loads the configuration and resolves the folders and "now".
/// The error is a report to print as is (it holds the file's text).
pub fn load(global: &GlobalArgs) -> Result<Loaded, Report> {
    let config = read_config(&global.config, explicit(global))?.map(|c| (c, global.config.clone()));
    load_with(global, config)
}

/// Whether the configuration file was named (`--config`, `BERRAH_CONFIG`).
fn explicit(global: &GlobalArgs) -> bool {
    global.config != Path::new(DEFAULT_CONFIG) || std::env::var_os("BERRAH_CONFIG").is_some()
}

/// [`load`] for `berrah check`: the configuration's errors are returned
/// beside what was loaded instead of stopping there, and the campaigns are
/// checked against the part of `berrah.toml` that is valid (see
/// [`crate::config::read_config_partial`]). Only what leaves nothing to
/// check with (the time-zone data) is an `Err`.
pub fn load_for_check(global: &GlobalArgs) -> Result<(Loaded, Report), Report> {
    let (config, report) = crate::config::read_config_partial(&global.config, explicit(global));
    let config = match config {
        Some(c) => Some((c, global.config.clone())),
        // A file that exists but is not TOML: its folder still anchors the paths.
        None if global.config.is_file() => Some((Config::default(), global.config.clone())),
        None => None,
    };
    match load_with(global, config) {
        Ok(loaded) => Ok((loaded, report)),
        Err(mut e) => {
            let mut all = report;
            all.merge(std::mem::take(&mut e));
            Err(all)
        }
    }
}

fn load_with(global: &GlobalArgs, config: Option<(Config, PathBuf)>) -> Result<Loaded, Report> {
    let (config, config_path) = match config {
        Some((c, p)) => (c, Some(p)),
        None => (Config::default(), None),
    };
    let base = folder_of(config_path.as_deref());
    let rel = |p: &Path| -> PathBuf {
        if p.is_absolute() || base.as_os_str().is_empty() {
            p.to_path_buf()
        } else {
            base.join(p)
        }
    };
    let campaigns_dir = match &global.campaigns {
        Some(d) => d.clone(),
        None => rel(&config.daemon.campaigns),
    };
    let data_dir = rel(&config.daemon.data_dir);
    let selection = select_tzdb(global, &config, config_path.as_deref(), &rel)?;
    // What the command shows (local times read back from the queue) uses it too.
    tzdb::set_in_use(selection.tzdb.clone());
    Ok(Loaded {
        config,
        config_path,
        campaigns_dir,
        data_dir,
        calendar: Calendar::shipped().with_tzdb(selection.tzdb.clone()),
        tzdb: selection,
        now: global.now.unwrap_or_else(Timestamp::now),
    })
}

/// The time-zone database: `--tzdb`/`BERRAH_TZDB`, else `daemon.tzdb` (a
/// folder relative to the configuration file), else `auto`.
fn select_tzdb(
    global: &GlobalArgs,
    config: &Config,
    config_path: Option<&Path>,
    rel: &dyn Fn(&Path) -> PathBuf,
) -> Result<Selection, Report> {
    let (choice, from_config) = match global.tzdb.as_deref().filter(|s| !s.trim().is_empty()) {
        Some(s) => (s.parse::<Choice>(), false),
        None => (config.daemon.tzdb.parse::<Choice>(), true),
    };
    let choice = match choice {
        Ok(Choice::Folder(dir)) if from_config => Choice::Folder(rel(&dir)),
        Ok(c) => c,
        Err(never) => match never {},
    };
    tzdb::select(&choice).map_err(|e| {
        let mut report = Report::default();
        let (path, span) = match (from_config, config_path) {
            (true, Some(p)) => {
                let source = std::fs::read_to_string(p).unwrap_or_default();
                let span = source.find("tzdb").map(|i| i..i + 4);
                report.add_source(p, source);
                (p.to_path_buf(), span)
            }
            _ => (PathBuf::from("--tzdb"), None),
        };
        report.push(Diagnostic::error(path, span, e.to_string()).with_help(e.help()));
        report
    })
}

/// The database to open: `--database` / `DATABASE_URL`, else the config's
/// `daemon.database`, else `sqlite://<data_dir>/berrah.db`.
pub fn database_url(global: &GlobalArgs, loaded: &Loaded) -> String {
    global
        .database
        .clone()
        .filter(|u| !u.trim().is_empty())
        .or_else(|| loaded.config.daemon.database.clone())
        .unwrap_or_else(|| format!("sqlite://{}", loaded.data_dir.join("berrah.db").display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, text: &str) -> PathBuf {
        let p = dir.join("berrah.toml");
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn valid_config_and_relative_paths() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "[daemon]\ncampaigns = \"camps\"\n[accounts.oim-x]\nplatform = \"x\"\ncredentials = \"env:X_TOKEN\"\n",
        );
        let global = GlobalArgs {
            config: p,
            campaigns: None,
            database: None,
            tzdb: None,
            log_format: super::super::LogFormat::Human,
            now: Some("2026-12-01T00:00:00Z".parse().unwrap()),
        };
        let loaded = load(&global).unwrap();
        assert_eq!(loaded.campaigns_dir, dir.path().join("camps"));
        assert_eq!(loaded.data_dir, dir.path().join("data"));
        assert_eq!(loaded.config.accounts.len(), 1);
        assert_eq!(loaded.now.to_string(), "2026-12-01T00:00:00Z");
    }
}
