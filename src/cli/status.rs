//! `berrah status`: what is due, in flight, published, retrying, failed, held.

use std::process::ExitCode;

use clap::Args;

use super::GlobalArgs;

#[derive(Debug, Args)]
pub struct StatusArgs {}

pub fn run(_global: &GlobalArgs, _args: StatusArgs) -> ExitCode {
    super::fail("`berrah status` is not built yet")
}
