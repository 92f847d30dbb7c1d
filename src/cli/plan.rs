//! `berrah plan`.

use std::process::ExitCode;

use clap::Args;

use super::GlobalArgs;

#[derive(Debug, Args)]
pub struct PlanArgs {}

pub fn run(_global: &GlobalArgs, _args: PlanArgs) -> ExitCode {
    super::fail("`berrah plan` is not built yet")
}
