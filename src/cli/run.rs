//! `berrah run`: the long-running daemon.

use std::process::ExitCode;

use clap::Args;

use super::GlobalArgs;

#[derive(Debug, Args)]
pub struct RunArgs {}

pub fn run(_global: &GlobalArgs, _args: RunArgs) -> ExitCode {
    super::fail("`berrah run` is not built yet")
}
