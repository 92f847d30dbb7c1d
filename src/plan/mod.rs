//! The plan: a campaign turned into dated occurrences.
//!
//! [`plan_campaign`] turns each post of a campaign (in its capsules and its
//! own `[[posts]]`) into one [`Occurrence`] per target account, language and
//! due time:
//!
//! - **Accounts**: the post's `accounts`, else the campaign's. Accounts absent
//!   from `berrah.toml` are skipped here (campaign validation reports them).
//! - **Languages**: the post's `languages`, else the campaign's, keeping those
//!   the account publishes (`languages` in `berrah.toml`).
//! - **Due time**: `at` on the anchor day (the post's anchor, else its
//!   capsule's; shifted by `days_before`/`days_after`), `date_time`, or each
//!   time of `cron` within the campaign's days; all read in the campaign's zone
//!   with the rules of [`crate::calendar::tz`] (a time in a gap moves forward by
//!   the gap's length; a time in an overlap is the earlier instant).
//! - **`not_after`** (past it a late occurrence is dropped): the post's
//!   `not_after`; else due + `expires_after` (the post's, else the campaign's);
//!   else, for an `at` post, the end of its local due day; else due + the
//!   daemon's `expires_after` (24 hours by default). A recurring occurrence
//!   never expires later than the next occurrence of its series is due.
//!
//! # Occurrence ids
//!
//! An occurrence's id is [`occurrence_id`] of its key:
//!
//! ```text
//! campaign/capsule-or-_/post/account/language/slot
//! amal/ep1-migrants/teaser/oim-facebook/ar/once
//! amal/_/weekly/oim-x/fr/2026-12-22#1
//! ```
//!
//! where `slot` is `once` for `at` and `date_time` posts, and for `cron` posts
//! the occurrence's local (wall-clock) date and its rank that day from 1
//! (`2026-12-22#1`, `2026-12-22#2` for a second time that day). The key holds
//! nothing about a post's position, text or time, so:
//!
//! - adding, removing or reordering other posts keeps every id;
//! - editing a post's text, media or time keeps its id: the queue entry is
//!   rescheduled or updated, it never becomes a second post;
//! - changing a post's `id` (or its capsule's, or the campaign's) makes a new
//!   post, on purpose.
//!
//! A recurring post's occurrences on one account and language share a
//! [`series_id`], so that after downtime only the latest missed one goes out.

use sha2::{Digest, Sha256};

mod compact;
mod expiry;
mod occurrence;
pub mod output;
mod parallel;
mod planner;

pub use compact::{Compact, Compactor};
pub use expiry::{MAX_EXPIRY, parse_duration};
pub use occurrence::{Content, LinkCard, MediaRef, Occurrence};
pub use parallel::map_in_order;
pub use planner::{MAX_OCCURRENCES_PER_POST, MAX_RECURRING_TIMES_PER_FILE, plan_campaign};

/// The stable id of an occurrence: `o-` and the first 16 hex digits of the
/// SHA-256 of its key (`campaign/capsule/post/account/language/slot`).
pub fn occurrence_id(key: &str) -> String {
    short_id("o-", Sha256::new_with_prefix(key))
}

/// The id shared by a recurring post's occurrences on one account and
/// language: `s-` and 16 hex digits of the SHA-256 of
/// `campaign/capsule/post/account/language`.
pub fn series_id(prefix: &str) -> String {
    short_id("s-", Sha256::new_with_prefix(prefix))
}

/// The ids of the occurrences of one post on one account and language,
/// whose keys share `campaign/capsule/post/account/language`: that prefix is
/// hashed once, and only each slot per occurrence (the same ids as
/// [`occurrence_id`] and [`series_id`]).
#[derive(Clone)]
pub(crate) struct IdHasher {
    /// The prefix hashed.
    prefix: Sha256,
}

impl IdHasher {
    pub(crate) fn new(prefix: &str) -> IdHasher {
        IdHasher {
            prefix: Sha256::new_with_prefix(prefix),
        }
    }

    /// [`series_id`] of the prefix.
    pub(crate) fn series_id(&self) -> String {
        short_id("s-", self.prefix.clone())
    }

    /// [`occurrence_id`] of `prefix/slot`.
    pub(crate) fn occurrence_id(&self, slot: &str) -> String {
        let mut h = self.prefix.clone();
        h.update(b"/");
        h.update(slot.as_bytes());
        short_id("o-", h)
    }
}

/// `tag` and the first 16 hex digits of the hash.
fn short_id(tag: &str, hasher: Sha256) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = hasher.finalize();
    let mut id = String::with_capacity(tag.len() + 16);
    id.push_str(tag);
    for b in &digest[..8] {
        id.push(char::from(HEX[usize::from(b >> 4)]));
        id.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_the_documented_hashes() {
        let key = "amal/ep1-migrants/teaser/oim-facebook/ar/once";
        let full = hex::encode(Sha256::digest(key.as_bytes()));
        assert_eq!(occurrence_id(key), format!("o-{}", &full[..16]));
        let prefix = "amal/_/weekly/oim-x/fr";
        let full = hex::encode(Sha256::digest(prefix.as_bytes()));
        assert_eq!(series_id(prefix), format!("s-{}", &full[..16]));
        // Pinned: ids are stored in queues and must never change.
        assert_eq!(occurrence_id(key), "o-a38adf78e9ca3163");
        assert_eq!(series_id(prefix), "s-57d66ccf78f2c328");
        let h = IdHasher::new(prefix);
        assert_eq!(h.series_id(), series_id(prefix));
        assert_eq!(
            h.occurrence_id("2026-12-22#1"),
            occurrence_id("amal/_/weekly/oim-x/fr/2026-12-22#1")
        );
        assert_eq!(h.occurrence_id("2026-12-22#1"), "o-c94c4d1a0f45449e");
    }
}
