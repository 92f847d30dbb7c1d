//! Logging through `tracing`: human-readable by default, JSON for pipelines.

use tracing_subscriber::EnvFilter;

use crate::cli::LogFormat;

/// Installs the global subscriber. `RUST_LOG` overrides the default level
/// (`info` for berrah, `warn` for libraries). Logs go to stderr.
pub fn init(format: LogFormat) {
    init_with_default(format, "warn,berrah=info");
}

/// [`init`] with another default filter (`RUST_LOG` still overrides it):
/// `berrah rehearse` prints publications itself and logs only warnings.
pub fn init_with_default(format: LogFormat, default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
    };
}
