//! berrah's integration tests: one test binary (faster to link than one per
//! file), one module per area.

mod support;

mod auth;
mod bluesky;
mod check;
mod corpus;
mod daemon;
mod end_to_end;
mod leaks;
mod meta_linkedin;
mod mutations;
mod network;
mod ops;
mod plan;
mod platforms_open;
mod security;
mod store;
mod tzdb;
mod webhook;
mod x_youtube;
