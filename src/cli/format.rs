//! How the queue commands (`status`, `show`, `retry`...) show entries to
//! people: ids shortened to a unique prefix, instants in the campaign's zone,
//! and what releases a held entry. Shared by `status` and `ops`, so neither
//! imports the other.

use std::collections::HashMap;

use jiff::Timestamp;
use serde::Serialize;

use crate::store::Entry;

/// How many characters of an id are shown (`get` accepts any unique prefix).
pub const SHORT_ID: usize = 12;

/// An instant shown in `timezone` with its offset (`2026-12-18T10:00:00+01:00`),
/// read with the time-zone data the command chose (never the machine's copy
/// blindly); in UTC when the zone is unknown (a hand-edited database).
pub fn local_time(at: Timestamp, timezone: &str) -> String {
    match crate::calendar::tz::zone_in(&crate::calendar::tzdb::in_use(), timezone) {
        Ok(tz) => at.to_zoned(tz).strftime("%Y-%m-%dT%H:%M:%S%:z").to_string(),
        Err(_) => at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
    }
}

/// The first [`SHORT_ID`] characters of an id.
pub fn short_id(id: &str) -> String {
    id.chars().take(SHORT_ID).collect()
}

/// The shortest prefix of each id, at least [`SHORT_ID`] characters long,
/// that no other id of `ids` starts with (ids are random hashes, so this is
/// nearly always the first 12 characters).
pub fn short_ids<'a>(ids: impl IntoIterator<Item = &'a str>) -> HashMap<String, String> {
    let mut sorted: Vec<&str> = ids.into_iter().collect();
    sorted.sort_unstable();
    sorted.dedup();
    let common = |a: &str, b: &str| a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count();
    let mut out = HashMap::with_capacity(sorted.len());
    for (i, id) in sorted.iter().enumerate() {
        let before = i.checked_sub(1).map_or(0, |j| common(sorted[j], id));
        let after = sorted.get(i + 1).map_or(0, |n| common(n, id));
        let len = SHORT_ID.max(before.max(after) + 1);
        out.insert((*id).to_string(), id.chars().take(len).collect());
    }
    out
}

/// What releases a held entry, from its stored cause (`state_cause`);
/// `short` is the id to show in commands.
pub fn hold_for(entry: &Entry, short: &str, cause: Option<&str>) -> Hold {
    match cause {
        Some("account") => Hold {
            cause: "credentials".into(),
            release: format!("berrah accounts login {}", entry.account),
        },
        Some("file_pause") => Hold {
            cause: "paused_in_file".into(),
            release: "remove `paused = true` from the campaign file".into(),
        },
        Some("outcome") => {
            // Where the platform cannot drop a duplicate, `retry` wants
            // `--force` (and says where to look when asked without it).
            use crate::config::PlatformKind;
            let force = match entry.platform {
                PlatformKind::X | PlatformKind::Telegram | PlatformKind::Webhook => " --force",
                _ => "",
            };
            Hold {
                cause: "unknown_outcome".into(),
                release: format!(
                    "look on {} whether it went out; if not, `berrah retry {short}{force}`, \
                     else `berrah cancel {short}`",
                    entry.account
                ),
            }
        }
        _ => Hold {
            cause: "operator".into(),
            release: format!("berrah retry {short}"),
        },
    }
}

/// A hold for credentials says what releases it for the account's source:
/// `set OIM_X_TOKEN and restart berrah` for `env:`, `make FILE readable and
/// restart berrah` for `file:`, `berrah accounts login NAME` for the token
/// store (what [`hold_for`] says without the configuration).
pub fn advise_credentials(
    hold: &mut Hold,
    account: &str,
    config: &crate::config::Config,
    base_dir: &std::path::Path,
) {
    if hold.cause == "credentials" {
        let source = config
            .accounts
            .get(account)
            .and_then(|a| a.credentials.as_ref())
            .map(|c| c.get_ref().as_str());
        hold.release = crate::auth::sources::release_advice_now(account, source, base_dir);
    }
}

/// Why an entry is held and what an operator does about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hold {
    /// `credentials` (the account needs a login), `unknown_outcome` (the
    /// last attempt may have reached the platform), `paused_in_file`
    /// (`paused = true` in the campaign file) or `operator`.
    pub cause: String,
    /// The command or action that releases it.
    pub release: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_ids_grow_only_to_stay_unique() {
        let s = short_ids([
            "o-3fa9c2d1e4b5a6f7",
            "o-3fa9c2d1e4b5ffff",
            "o-3fa9c2d1e4b4aaaa",
            "o-0000000000000000",
            "short",
        ]);
        assert_eq!(s["o-0000000000000000"], "o-0000000000");
        assert_eq!(s["o-3fa9c2d1e4b5a6f7"], "o-3fa9c2d1e4b5a");
        assert_eq!(s["o-3fa9c2d1e4b5ffff"], "o-3fa9c2d1e4b5f");
        assert_eq!(s["o-3fa9c2d1e4b4aaaa"], "o-3fa9c2d1e4b4");
        assert_eq!(s["short"], "short");
    }
}
