//! `berrah check`.

use std::process::ExitCode;

use clap::Args;

use super::GlobalArgs;

#[derive(Debug, Args)]
pub struct CheckArgs {}

pub fn run(_global: &GlobalArgs, _args: CheckArgs) -> ExitCode {
    super::fail("`berrah check` is not built yet")
}
