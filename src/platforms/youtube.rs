//! Youtube publishing.

use super::{Platform, PlatformDeps, Unsupported};

/// Builds the client of one Youtube account.
pub fn build(deps: PlatformDeps) -> Box<dyn Platform> {
    Box::new(Unsupported(deps.account.platform))
}
