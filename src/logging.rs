//! Logging through `tracing`: human-readable by default, JSON for pipelines.
//!
//! Under systemd, when stderr is the journal (`JOURNAL_STREAM` names its
//! device and inode, sd-daemon(3)), each line starts with its syslog
//! priority (`<3>` error, `<4>` warning, `<6>` info, `<7>` debug) so that
//! `journalctl -p warning` shows warnings and errors only, and an event is
//! always one line (a message's own line breaks are written `\n`): one
//! journal entry, never an error cut in pieces. The human format leaves the
//! time to the journal there.
//!
//! A closed stderr (`berrah run 2>&1 | head`, a log collector that went
//! away) never stops the daemon: the first write that finds the pipe closed
//! turns logging into a no-op ([`LogStderr`]), and tracing-subscriber is told
//! not to report its own write errors (it would report them with
//! `eprintln!`, which panics on the same closed pipe).

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};

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
    let journal = stderr_is_journal();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| LogStderr)
        .log_internal_errors(false)
        .with_ansi(
            !journal
                && colour(
                    std::io::stderr().is_terminal(),
                    std::env::var_os("NO_COLOR").as_deref(),
                ),
        );
    let _ = match (format, journal) {
        (LogFormat::Human, false) => builder.fmt_fields(human_fields()).try_init(),
        (LogFormat::Human, true) => builder
            .fmt_fields(human_fields())
            .without_time()
            .map_event_format(Journal)
            .try_init(),
        (LogFormat::Json, false) => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
        (LogFormat::Json, true) => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .map_event_format(Journal)
            .try_init(),
    };
}

/// Set once a log write found stderr's pipe closed: nothing is written after.
static STDERR_CLOSED: AtomicBool = AtomicBool::new(false);

/// The log's writer: stderr, until a write finds its pipe closed (`EPIPE`:
/// SIGPIPE is ignored for the daemon, see `cli::main`); from then on every
/// log line is dropped quietly and the process goes on. There is nowhere
/// left to say so.
pub struct LogStderr;

impl LogStderr {
    /// Whether stderr was found closed (a broken pipe).
    pub fn closed() -> bool {
        STDERR_CLOSED.load(Ordering::Relaxed)
    }
}

impl Write for LogStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if Self::closed() {
            return Ok(buf.len());
        }
        match std::io::stderr().write(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                STDERR_CLOSED.store(true, Ordering::Relaxed);
                Ok(buf.len())
            }
            other => other,
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if Self::closed() {
            return Ok(());
        }
        std::io::stderr().flush()
    }
}

/// Writes `text` to stderr unless it is closed: for the daemon's messages
/// outside the log (a usage error, a configuration report), which must not
/// panic on a closed pipe as `eprint!` would.
pub fn to_stderr(text: &str) {
    let _ = LogStderr.write_all(text.as_bytes());
}

/// Whether stderr is connected to the journal: `JOURNAL_STREAM` is
/// `DEVICE:INODE` of the stream systemd connected, and stderr is still
/// that stream (not redirected by a wrapper script).
pub fn stderr_is_journal() -> bool {
    let Some(named) = std::env::var("JOURNAL_STREAM")
        .ok()
        .and_then(|v| parse_journal_stream(&v))
    else {
        return false;
    };
    stderr_identity() == Some(named)
}

/// `DEVICE:INODE`, both decimal, as systemd writes `JOURNAL_STREAM`.
fn parse_journal_stream(value: &str) -> Option<(u64, u64)> {
    let (dev, ino) = value.trim().split_once(':')?;
    Some((dev.parse().ok()?, ino.parse().ok()?))
}

/// The device and inode of what stderr is open on.
fn stderr_identity() -> Option<(u64, u64)> {
    use std::os::fd::AsFd;
    use std::os::unix::fs::MetadataExt;
    let fd = std::io::stderr().as_fd().try_clone_to_owned().ok()?;
    let meta = std::fs::File::from(fd).metadata().ok()?;
    Some((meta.dev(), meta.ino()))
}

/// The syslog priority of a level, as journald reads it from a `<N>` prefix.
pub fn priority(level: tracing::Level) -> u8 {
    match level {
        tracing::Level::ERROR => 3,
        tracing::Level::WARN => 4,
        tracing::Level::INFO => 6,
        tracing::Level::DEBUG | tracing::Level::TRACE => 7,
    }
}

/// One formatted event as one journal line: its priority prefix, then the
/// text with its own line breaks written `\n` (and carriage returns `\r`).
pub fn journal_line(level: tracing::Level, formatted: &str) -> String {
    // The level is padded to a width (" INFO"): the journal needs no padding.
    let body = formatted.strip_suffix('\n').unwrap_or(formatted);
    let body = body.trim_start_matches(' ');
    let mut line = String::with_capacity(body.len() + 5);
    line.push('<');
    line.push(char::from(b'0' + priority(level)));
    line.push('>');
    for c in body.chars() {
        match c {
            '\n' => line.push_str("\\n"),
            '\r' => line.push_str("\\r"),
            c => line.push(c),
        }
    }
    line.push('\n');
    line
}

/// Wraps an event format: each event is formatted by it, then written as
/// one journal line ([`journal_line`]).
struct Journal<F>(F);

impl<S, N, F> tracing_subscriber::fmt::FormatEvent<S, N> for Journal<F>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
    F: tracing_subscriber::fmt::FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let mut formatted = String::new();
        self.0.format_event(
            ctx,
            tracing_subscriber::fmt::format::Writer::new(&mut formatted),
            event,
        )?;
        writer.write_str(&journal_line(*event.metadata().level(), &formatted))
    }
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
    fn journal_lines_carry_their_priority_and_stay_one_line() {
        use tracing::Level;
        assert_eq!(
            super::journal_line(Level::ERROR, "ERROR failed\n"),
            "<3>ERROR failed\n"
        );
        assert_eq!(super::journal_line(Level::WARN, "w"), "<4>w\n");
        assert_eq!(super::journal_line(Level::INFO, "i\n"), "<6>i\n");
        assert_eq!(super::journal_line(Level::DEBUG, "d\n"), "<7>d\n");
        assert_eq!(super::journal_line(Level::TRACE, "t\n"), "<7>t\n");
        assert_eq!(
            super::journal_line(Level::ERROR, "errors:\r\n  a.toml:1:2\n  b\n"),
            "<3>errors:\\r\\n  a.toml:1:2\\n  b\n"
        );
    }

    #[test]
    fn journal_stream_is_device_colon_inode() {
        assert_eq!(super::parse_journal_stream("8:12345"), Some((8, 12345)));
        assert_eq!(super::parse_journal_stream("8:12345\n"), Some((8, 12345)));
        assert_eq!(super::parse_journal_stream("8"), None);
        assert_eq!(super::parse_journal_stream("a:1"), None);
    }

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

    /// Through a real subscriber: the human format wrapped for the journal
    /// writes one line per event, priority first, no time, no escape code.
    #[test]
    fn the_journal_format_writes_one_prefixed_line_per_event() {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::DEBUG)
            .fmt_fields(super::human_fields())
            .without_time()
            .map_event_format(super::Journal)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::error!(
                file = "a.toml",
                "the configuration has errors:\n  line 1\n  line 2"
            );
            tracing::warn!("a warning");
            tracing::info!(account = "oim", "published");
            tracing::debug!("details");
        });
        let bytes = buffer.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let out = String::from_utf8(bytes).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 4, "{out}");
        assert!(lines[0].starts_with("<3>"), "{out}");
        assert!(lines[0].contains("errors:\\n  line 1\\n  line 2"), "{out}");
        assert!(lines[0].contains("file=\"a.toml\""), "{out}");
        assert!(
            lines[1].starts_with("<4>WARN") && lines[1].contains("a warning"),
            "{out}"
        );
        assert!(
            lines[2].starts_with("<6>") && lines[2].contains("account=\"oim\""),
            "{out}"
        );
        assert!(
            lines[3].starts_with("<7>") && lines[3].contains("details"),
            "{out}"
        );
        // No timestamp: the journal records its own.
        assert!(!lines[2].starts_with("<6>20"), "{out}");
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
