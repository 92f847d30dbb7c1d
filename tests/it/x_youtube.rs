//! X and YouTube against their fake servers.
