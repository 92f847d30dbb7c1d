//! `berrah retry | cancel | pause | resume`: an operator's hands on the queue.

use std::process::ExitCode;

use clap::Args;

use super::GlobalArgs;

#[derive(Debug, Args)]
pub struct RetryArgs {}

#[derive(Debug, Args)]
pub struct CancelArgs {}

#[derive(Debug, Args)]
pub struct PauseArgs {}

pub fn retry(_global: &GlobalArgs, _args: RetryArgs) -> ExitCode {
    super::fail("`berrah retry` is not built yet")
}

pub fn cancel(_global: &GlobalArgs, _args: CancelArgs) -> ExitCode {
    super::fail("`berrah cancel` is not built yet")
}

pub fn pause(_global: &GlobalArgs, _args: PauseArgs) -> ExitCode {
    super::fail("`berrah pause` is not built yet")
}

pub fn resume(_global: &GlobalArgs, _args: PauseArgs) -> ExitCode {
    super::fail("`berrah resume` is not built yet")
}
