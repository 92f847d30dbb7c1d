//! Linkedin publishing.

use super::{Platform, PlatformDeps, Unsupported};

/// Builds the client of one Linkedin account.
pub fn build(deps: PlatformDeps) -> Box<dyn Platform> {
    Box::new(Unsupported(deps.account.platform))
}
