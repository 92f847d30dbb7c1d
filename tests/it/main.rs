//! berrah's integration tests: one test binary (faster to link than one per
//! file), one module per area.

mod support;

/// Runs each `$name(store)` on both backends: a temporary SQLite file, and a
/// fresh PostgreSQL database (which says loudly that it skipped without a
/// server, and fails in CI). Modules whose tests take other arguments have
/// a `both!` of their own.
macro_rules! both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let (_dir, store) = berrah::store::testing::sqlite_temp().await;
                super::$name(store).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(store) = berrah::store::testing::postgres_or_skip(module_path!()).await {
                    super::$name(store).await;
                }
            }
        }
    )*};
}

mod alerts;
mod auth;
mod bluesky;
mod browser;
mod browser_board;
mod browser_calendar;
mod check;
mod closed_pipe;
mod console_board;
mod console_calendar;
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
mod scale;
mod security;
mod store;
mod tzdb;
mod webhook;
mod x_youtube;
