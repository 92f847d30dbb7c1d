//! `berrah schema`.

use std::process::ExitCode;

use clap::Args;

use super::GlobalArgs;

#[derive(Debug, Args)]
pub struct SchemaArgs {}

pub fn run(_global: &GlobalArgs, _args: SchemaArgs) -> ExitCode {
    super::fail("`berrah schema` is not built yet")
}
