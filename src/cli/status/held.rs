//! Held entries grouped by cause and account: a burst of 300 posts held for
//! one missing variable is one line with a count and the one command that
//! releases them, not 300 lines (pure).

use std::collections::BTreeMap;

use serde::Serialize;

use super::report::StatusEntry;

/// Entries held for one cause on one account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeldGroup {
    /// As in each entry's `hold.cause`: `credentials`, `unknown_outcome`,
    /// `paused_in_file` or `operator`.
    pub cause: String,
    pub account: String,
    pub count: u64,
    /// The reason of the group's first entry (the others say the same or close).
    pub reason: String,
    /// The one command (or action) that releases the whole group.
    pub release: String,
    /// The entries' short ids.
    pub ids: Vec<String>,
}

/// The groups of `held`, by cause then account.
pub fn held_groups<'a>(held: impl IntoIterator<Item = &'a StatusEntry>) -> Vec<HeldGroup> {
    let mut groups: BTreeMap<(String, String), HeldGroup> = BTreeMap::new();
    for e in held {
        let Some(hold) = &e.hold else { continue };
        let g = groups
            .entry((hold.cause.clone(), e.account.clone()))
            .or_insert_with(|| HeldGroup {
                cause: hold.cause.clone(),
                account: e.account.clone(),
                count: 0,
                reason: e
                    .last_error
                    .clone()
                    .unwrap_or_else(|| "held for an operator".into()),
                release: hold.release.clone(),
                ids: Vec::new(),
            });
        g.count += 1;
        g.ids.push(e.short_id.clone());
    }
    groups
        .into_values()
        .map(|mut g| {
            if g.count > 1 {
                g.release = group_release(&g);
            }
            g
        })
        .collect()
}

/// The command that releases a group of more than one entry.
fn group_release(g: &HeldGroup) -> String {
    match g.cause.as_str() {
        // Each entry's own hint is already the group's (login, variable, file).
        "credentials" | "paused_in_file" => g.release.clone(),
        // `retry` refuses, entry by entry, what may be on a platform that
        // cannot drop a duplicate, and says where to look first.
        _ => format!("berrah retry --account {} --state held", g.account),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::format::Hold;
    use crate::cli::status::build::status_entry;
    use crate::cli::status::fixtures::entry;
    use crate::store::EntryState;

    #[test]
    fn one_line_per_cause_and_account() {
        let mut shown = Vec::new();
        for (id, account, cause, release) in [
            (
                "o-1",
                "oim-x",
                "credentials",
                "set OIM_X_TOKEN and restart berrah",
            ),
            (
                "o-2",
                "oim-x",
                "credentials",
                "set OIM_X_TOKEN and restart berrah",
            ),
            ("o-3", "oim-x", "unknown_outcome", "look on oim-x …"),
            ("o-4", "oim-x", "unknown_outcome", "look on oim-x …"),
            ("o-5", "oim-fb", "operator", "berrah retry o-5"),
        ] {
            let mut e = status_entry(
                &entry(id, account, EntryState::Held),
                false,
                &Default::default(),
                &Default::default(),
            );
            e.hold = Some(Hold {
                cause: cause.into(),
                release: release.into(),
            });
            shown.push(e);
        }
        let g = held_groups(&shown);
        assert_eq!(g.len(), 3);
        assert_eq!(g[0].cause, "credentials");
        assert_eq!(g[0].count, 2);
        assert_eq!(g[0].release, "set OIM_X_TOKEN and restart berrah");
        assert_eq!(g[1].release, "berrah retry o-5");
        assert_eq!(g[2].release, "berrah retry --account oim-x --state held");
        assert_eq!(g[2].ids, vec!["o-3", "o-4"]);
    }
}
