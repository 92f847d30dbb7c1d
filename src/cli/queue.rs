//! Opening the queue for the commands that read or change it (`status`,
//! `retry`, `cancel`, `pause`, `resume`, `show`): logging, the configuration,
//! a runtime, and the database the daemon uses.

use std::process::ExitCode;

use super::GlobalArgs;
use super::context::{self, Loaded};
use crate::store::Store;

/// Logging, the configuration, the database URL and a runtime: what every
/// queue command needs first. On error the message is printed and the exit
/// code returned.
pub(super) fn prepare(
    global: &GlobalArgs,
) -> Result<(tokio::runtime::Runtime, Loaded, String), ExitCode> {
    crate::logging::init(global.log_format);
    let loaded = match context::load(global) {
        Ok(l) => l,
        Err(report) => {
            eprint!("{}", report.render());
            return Err(super::fail("the configuration cannot be loaded"));
        }
    };
    let url = context::database_url(global, &loaded);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| super::fail(format!("cannot start the runtime: {e}")))?;
    Ok((runtime, loaded, url))
}

/// The SQLite file a URL names, unless it is an in-memory database.
fn sqlite_file(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && !path.starts_with(":memory:") && !url.contains("mode=memory"))
        .then_some(path)
}

/// Opens the queue. A SQLite file that does not exist is an error (not a new
/// empty database in the wrong folder).
pub(super) async fn open_store(url: &str) -> Result<Store, String> {
    if let Some(path) = sqlite_file(url)
        && !std::path::Path::new(path).exists()
    {
        return Err(format!(
            "no database at `{path}` yet: `berrah run` creates it; or point at the \
             daemon's database with --database URL (or DATABASE_URL, or `database` in berrah.toml)"
        ));
    }
    Store::connect(url)
        .await
        .map_err(|e| format!("cannot open the database: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_files_are_found_in_urls() {
        assert_eq!(sqlite_file("sqlite://data/b.db"), Some("data/b.db"));
        assert_eq!(sqlite_file("sqlite:b.db?mode=rwc"), Some("b.db"));
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://h/db"), None);
    }
}
