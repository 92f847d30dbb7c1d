//! Facebook publishing.

use super::{Platform, PlatformDeps, Unsupported};

/// Builds the client of one Facebook account.
pub fn build(deps: PlatformDeps) -> Box<dyn Platform> {
    Box::new(Unsupported(deps.account.platform))
}
