//! berrah's integration tests: one test binary (faster to link than one per
//! file), one module per area.

mod support;

mod alerts;
mod auth;
mod bluesky;
mod check;
mod corpus;
mod daemon;
mod end_to_end;
mod instances;
mod leaks;
mod live;
mod meta_linkedin;
mod mutations;
mod network;
mod observe;
mod operators;
mod ops;
mod plan;
mod platforms_open;
mod security;
mod store;
mod tzdb;
mod webhook;
mod x_youtube;
