//! `berrah accounts login | list`: connecting accounts.

use std::process::ExitCode;

use clap::Args;

use super::GlobalArgs;

#[derive(Debug, Args)]
pub struct AccountsArgs {}

pub fn run(_global: &GlobalArgs, _args: AccountsArgs) -> ExitCode {
    super::fail("`berrah accounts` is not built yet")
}
