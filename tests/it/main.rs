//! berrah's integration tests: one test binary (faster to link than one per
//! file), one module per area.

mod support;

mod auth;
mod check;
mod daemon;
mod plan;
mod platforms_big;
mod platforms_open;
mod store;
