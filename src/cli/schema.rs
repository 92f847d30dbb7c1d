//! `berrah schema [campaign|config]`: the JSON Schema of a file format, for
//! editors (Taplo / Even Better TOML complete keys and flag mistakes while
//! typing). The schemas are also committed under `schemas/`; a test fails
//! when they are stale.

use std::process::ExitCode;

use clap::{Args, ValueEnum};

use super::GlobalArgs;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum SchemaKind {
    /// A campaign file (`campaigns/*.toml`).
    #[default]
    Campaign,
    /// The configuration file (`berrah.toml`).
    Config,
}

#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Which format.
    #[arg(value_enum, default_value_t = SchemaKind::Campaign)]
    pub kind: SchemaKind,
}

/// The schema as pretty JSON, ending with a newline (as committed in `schemas/`).
pub fn schema_json(kind: SchemaKind) -> String {
    let schema = match kind {
        SchemaKind::Campaign => schemars::schema_for!(crate::campaign::CampaignFile),
        SchemaKind::Config => schemars::schema_for!(crate::config::Config),
    };
    // Serialising a schema (a JSON value) cannot fail.
    let mut s = serde_json::to_string_pretty(&schema).unwrap_or_default();
    s.push('\n');
    s
}

pub fn run(_global: &GlobalArgs, args: SchemaArgs) -> ExitCode {
    print!("{}", schema_json(args.kind));
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed schemas must match the format; regenerate them with
    /// `cargo run -- schema campaign > schemas/campaign.schema.json` and
    /// `cargo run -- schema config > schemas/config.schema.json`.
    #[test]
    fn committed_schemas_are_up_to_date() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
        for (kind, file) in [
            (SchemaKind::Campaign, "campaign.schema.json"),
            (SchemaKind::Config, "config.schema.json"),
        ] {
            let committed = std::fs::read_to_string(root.join(file)).unwrap_or_default();
            assert!(
                committed == schema_json(kind),
                "schemas/{file} is stale: run `cargo run -- schema {} > schemas/{file}`",
                if kind == SchemaKind::Campaign {
                    "campaign"
                } else {
                    "config"
                }
            );
        }
    }
}
