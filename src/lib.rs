//! berrah: schedules and publishes social-media campaigns.
//!
//! The path of a post: a campaign file ([`campaign`]) is planned into dated
//! occurrences ([`plan`], with [`calendar`] for international days, time zones and
//! recurrence), synced into a durable queue ([`store`]), claimed and published on
//! time ([`scheduler`]) through one of the [`platforms`], and the outcome recorded
//! back in the store. See `ARCHITECTURE.md` for the map.

pub mod alerts;
pub mod auth;
pub mod calendar;
pub mod campaign;
pub mod cli;
pub mod config;
pub mod console;
pub mod diag;
pub mod http;
pub mod logging;
pub mod media;
pub mod observe;
pub mod plan;
pub mod platforms;
pub mod scheduler;
pub mod store;
pub mod text;
pub mod time;
