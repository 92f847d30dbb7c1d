//! The command line: `berrah check | plan | days | run | status | ...`.
//!
//! Each command lives in its own file and returns an [`ExitCode`]; this file
//! only declares the arguments (clap) and dispatches. Exit codes follow the
//! usual convention: 0 success, 1 a problem found (invalid campaign, failed
//! command), 2 a usage error (clap's own).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

pub mod accounts;
pub mod check;
pub mod context;
pub mod days;
pub mod format;
pub mod names;
pub mod ops;
pub mod plan;
pub mod preview;
pub mod queue;
pub mod rehearse;
pub mod run;
pub mod schema;
pub mod status;

// The log format is the logging module's; `--log-format` and older paths name it here.
pub use crate::logging::LogFormat;

/// berrah: schedules and publishes social-media campaigns.
#[derive(Debug, Parser)]
#[command(name = "berrah", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command understands.
///
/// Every argument read from the environment says `hide_env_values`: `--help`
/// names the variable but never prints its value (a `DATABASE_URL` may hold
/// a password).
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// The configuration file (accounts, daemon settings).
    #[arg(
        long,
        global = true,
        env = "BERRAH_CONFIG",
        hide_env_values = true,
        default_value = "berrah.toml",
        value_name = "FILE"
    )]
    pub config: PathBuf,
    /// The folder of campaign files [default: the config's `daemon.campaigns`, else `campaigns`].
    #[arg(
        long,
        global = true,
        env = "BERRAH_CAMPAIGNS",
        hide_env_values = true,
        value_name = "DIR"
    )]
    pub campaigns: Option<PathBuf>,
    /// The database: `sqlite://PATH` or `postgres://...` [default: SQLite in the data folder].
    #[arg(
        long,
        global = true,
        env = "DATABASE_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub database: Option<String>,
    /// The time-zone database: auto, bundled, system or a zoneinfo folder [default: the config's `daemon.tzdb`, else auto].
    #[arg(
        long,
        global = true,
        env = "BERRAH_TZDB",
        hide_env_values = true,
        value_name = "auto|bundled|system|DIR"
    )]
    pub tzdb: Option<String>,
    /// Log format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Human, env = "BERRAH_LOG_FORMAT", hide_env_values = true)]
    pub log_format: LogFormat,
    /// Use this instant as "now" (RFC 3339), for reproducible checks and plans.
    #[arg(
        long,
        global = true,
        value_name = "INSTANT",
        hide = true,
        env = "BERRAH_NOW",
        hide_env_values = true
    )]
    pub now: Option<jiff::Timestamp>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate the campaign files and the configuration.
    Check(check::CheckArgs),
    /// Show every planned publication in time order.
    Plan(plan::PlanArgs),
    /// Write the calendar of the plan as static web pages (no daemon, no database).
    Preview(preview::PreviewArgs),
    /// List the international days of the shipped calendar.
    Days(days::DaysArgs),
    /// Print the JSON Schema of the campaign or config format.
    Schema(schema::SchemaArgs),
    /// Run the daemon: sync the campaign files into the queue and publish on time.
    Run(run::RunArgs),
    /// Show what is due, in flight, published, retrying, failed and held.
    Status(status::StatusArgs),
    /// Put a failed or held entry back in the queue.
    Retry(ops::RetryArgs),
    /// Cancel an entry that has not been published.
    Cancel(ops::CancelArgs),
    /// Pause a campaign or an account: nothing of it is published until resumed.
    Pause(ops::PauseArgs),
    /// Resume a paused campaign or account.
    Resume(ops::PauseArgs),
    /// Show one entry with all its attempts and the platform's answers.
    Show(ops::ShowArgs),
    /// Replay the schedule on a simulated clock into the local outbox.
    Rehearse(rehearse::RehearseArgs),
    /// Connect accounts and list them.
    Accounts(accounts::AccountsArgs),
}

/// For the commands that read every campaign file and end (`check`,
/// `plan`, `preview`): glibc's allocator keeps what is freed instead of
/// handing it back to the system at once. Each file's parse tree and plan
/// is freed as the next one is built; giving the pages back and taking them
/// again made a third of `berrah check`'s time on 1,000 files (page faults
/// and `mprotect` as the worker threads' heaps grew and shrank). The daemon
/// keeps the default: it gives memory back after a sync.
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only sets the allocator's parameters; called before
    // any other thread exists.
    unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
        libc::mallopt(libc::M_TOP_PAD, 64 << 20);
    }
}

/// Parses the command line and runs the command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Run(_)) {
        end_quietly_on_a_closed_pipe();
    }
    if matches!(
        cli.command,
        Command::Check(_) | Command::Plan(_) | Command::Preview(_)
    ) {
        keep_freed_memory();
    }
    match cli.command {
        Command::Check(args) => check::run(&cli.global, args),
        Command::Plan(args) => plan::run(&cli.global, args),
        Command::Preview(args) => preview::run(&cli.global, args),
        Command::Days(args) => days::run(&cli.global, args),
        Command::Schema(args) => schema::run(&cli.global, args),
        Command::Run(args) => run::run(&cli.global, args),
        Command::Status(args) => status::run(&cli.global, args),
        Command::Retry(args) => ops::retry(&cli.global, args),
        Command::Cancel(args) => ops::cancel(&cli.global, args),
        Command::Pause(args) => ops::pause(&cli.global, args),
        Command::Resume(args) => ops::resume(&cli.global, args),
        Command::Show(args) => ops::show(&cli.global, args),
        Command::Rehearse(args) => rehearse::run(&cli.global, args),
        Command::Accounts(args) => accounts::run(&cli.global, args),
    }
}

/// `berrah show ID | head`, `berrah plan | head`: once the reader has what it
/// wants and closes the pipe, the command ends quietly, as Unix tools do,
/// instead of panicking on the failed write (Rust ignores `SIGPIPE`, so
/// `println!` would panic). Not for the daemon, whose stderr may be a pipe
/// that a log collector restarts: it must outlive that. Sockets are not
/// concerned: the standard library sends with `MSG_NOSIGNAL`.
fn end_quietly_on_a_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE is a plain
    // `signal(2)` call, made once at start-up before any other thread runs.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Prints an error the way every command does (`error: ...` on stderr) and
/// returns exit code 1. An error may quote an outside server (an OAuth
/// `error_description`, a database's message): never a terminal control
/// sequence.
pub fn fail(message: impl std::fmt::Display) -> ExitCode {
    let message = message.to_string();
    // Not `eprintln!`: the daemon's stderr may be a closed pipe by now.
    crate::logging::to_stderr(&format!(
        "error: {}\n",
        crate::text::sanitize::for_terminal(&message)
    ));
    ExitCode::from(1)
}
