//! Bluesky against the fake PDS and the reference PDS.
