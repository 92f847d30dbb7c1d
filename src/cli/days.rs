//! `berrah days`.

use std::process::ExitCode;

use clap::Args;

use super::GlobalArgs;

#[derive(Debug, Args)]
pub struct DaysArgs {}

pub fn run(_global: &GlobalArgs, _args: DaysArgs) -> ExitCode {
    super::fail("`berrah days` is not built yet")
}
