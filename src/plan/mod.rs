//! The plan: a campaign turned into dated occurrences.

use sha2::{Digest, Sha256};

use crate::campaign::{Context, LoadedCampaign};
use crate::diag::Diagnostic;

mod occurrence;

pub use occurrence::{Content, MediaRef, Occurrence};

/// The stable id of an occurrence: `o-` and the first 16 hex digits of the
/// SHA-256 of its key (`campaign/capsule/post/account/language/slot`).
pub fn occurrence_id(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    format!("o-{}", &hex::encode(digest)[..16])
}

/// Every occurrence of one campaign, with the problems found on the way
/// (unknown zone or day, invalid cron, times outside the window or past, DST
/// adjustments), each pointing into the campaign file.
pub fn plan_campaign(
    campaign: &LoadedCampaign,
    ctx: &Context<'_>,
) -> (Vec<Occurrence>, Vec<Diagnostic>) {
    let _ = (campaign, ctx);
    (Vec::new(), Vec::new())
}
