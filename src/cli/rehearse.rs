//! `berrah rehearse`: the schedule replayed on a simulated clock into the outbox.

use std::process::ExitCode;

use clap::Args;

use super::GlobalArgs;

#[derive(Debug, Args)]
pub struct RehearseArgs {}

pub fn run(_global: &GlobalArgs, _args: RehearseArgs) -> ExitCode {
    super::fail("`berrah rehearse` is not built yet")
}
