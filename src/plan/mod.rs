//! The plan: a campaign turned into dated occurrences.

use sha2::{Digest, Sha256};

mod occurrence;

pub use occurrence::{Content, MediaRef, Occurrence};

/// The stable id of an occurrence: `o-` and the first 16 hex digits of the
/// SHA-256 of its key (`campaign/capsule/post/account/language/slot`).
pub fn occurrence_id(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    format!("o-{}", &hex::encode(digest)[..16])
}
