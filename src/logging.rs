//! Logging through `tracing`: human-readable by default, JSON for pipelines.

use std::io::IsTerminal;

use clap::ValueEnum;
use tracing_subscriber::EnvFilter;

/// How logs are written (`--log-format`): lines for people, or JSON objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

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
        .with_writer(std::io::stderr)
        .with_ansi(colour(
            std::io::stderr().is_terminal(),
            std::env::var_os("NO_COLOR").as_deref(),
        ));
    let _ = match format {
        LogFormat::Human => builder.fmt_fields(human_fields()).try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
    };
}

/// How the human format writes an event's fields: the message, then
/// `name=value` pairs, each value stripped of terminal control sequences
/// (`text::sanitize::for_terminal`). Outside text (a platform's error, a file
/// name) may reach a field; the default formatter escapes the message but
/// writes field values as they are, and a terminal would obey them. JSON
/// escapes control characters itself.
fn human_fields() -> impl for<'w> tracing_subscriber::fmt::FormatFields<'w> + 'static {
    use tracing_subscriber::field::MakeExt;
    tracing_subscriber::fmt::format::debug_fn(|w, field, value| {
        let text = format!("{value:?}");
        let text = crate::text::sanitize::for_terminal(&text);
        if field.name() == "message" {
            write!(w, "{text}")
        } else {
            write!(w, "{field}={text}")
        }
    })
    .delimited(" ")
}

/// Colours only for a person at a terminal: not in a file, a pipe or the
/// journal, where escape codes would be noise, and not when `NO_COLOR` is
/// set to anything but the empty string (no-color.org).
fn colour(terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    terminal && no_color.is_none_or(|v| v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::colour;
    use std::ffi::OsStr;

    #[test]
    fn colour_only_at_a_terminal_without_no_color() {
        assert!(colour(true, None));
        assert!(colour(true, Some(OsStr::new(""))));
        assert!(!colour(true, Some(OsStr::new("1"))));
        assert!(!colour(false, None));
    }
}

/// Outside text (a platform's error message, a file name) reaches log lines
/// as fields and messages; berrah strips control sequences where such text
/// enters (`text::sanitize`), and the log formatter escapes what is left.
/// These tests pin the second guard for the `tracing-subscriber` in the lock
/// file: a terminal reading the log never receives a raw escape.
#[cfg(test)]
mod escaping {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn logged(json: bool) -> String {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let builder = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false);
        let hostile = "over capacity\x1b]0;pwned\x07\x1b[2J";
        if json {
            let subscriber = builder.json().flatten_event(true).finish();
            tracing::subscriber::with_default(subscriber, || {
                tracing::error!(reason = %hostile, "publication failed: {hostile}");
            });
        } else {
            let subscriber = builder.fmt_fields(super::human_fields()).finish();
            tracing::subscriber::with_default(subscriber, || {
                tracing::error!(reason = %hostile, "publication failed: {hostile}");
            });
        }
        let bytes = buffer.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    #[test]
    fn log_lines_never_carry_a_raw_escape() {
        for json in [false, true] {
            let out = logged(json);
            assert!(out.contains("publication failed"), "{out}");
            assert!(!out.contains('\x1b'), "raw ESC in {out:?}");
            assert!(!out.contains('\x07'), "raw BEL in {out:?}");
        }
    }
}
