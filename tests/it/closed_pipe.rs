//! Integration tests: `berrah run 2>&1 | head`. The daemon ignores SIGPIPE
//! on purpose (its stderr may be a pipe to a log collector that restarts),
//! so a write to a closed pipe fails with `EPIPE` instead of killing it; it
//! must then go on publishing, with its log lines dropped, and stop
//! cleanly on SIGTERM: never the panic (exit 101) of a failed `eprintln!`.

use std::io::Read as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The daemon's stdout and stderr are one pipe (`2>&1 | head -1`): the
/// reader takes the first line and closes it, then three posts fall due
/// (each logged: writes to the closed pipe). All three are published, and
/// SIGTERM (logged too) ends the process with 0.
#[test]
fn the_daemon_outlives_a_closed_log_pipe() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("berrah.toml"),
        "[accounts.a1]\nplatform = \"x\"\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("campaigns")).unwrap();
    // The daemon's clock starts at BERRAH_NOW and runs at the normal speed:
    // the posts are due 2, 3 and 4 seconds after it starts.
    let mut campaign = String::from(
        "[campaign]\nid = \"pipe\"\ntitle = \"Pipe\"\ntimezone = \"UTC\"\n\
         start = 2026-12-17\nend = 2026-12-19\naccounts = [\"a1\"]\nlanguages = [\"fr\"]\n",
    );
    for (p, second) in ["00", "01", "02"].iter().enumerate() {
        campaign.push_str(&format!(
            "\n[[posts]]\nid = \"p{p}\"\ndate_time = 2026-12-18T10:00:{second}\n\
             text = {{ fr = \"Message {p}\" }}\n"
        ));
    }
    std::fs::write(dir.path().join("campaigns/pipe.toml"), campaign).unwrap();

    let (mut reader, writer) = std::io::pipe().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_berrah"))
        .current_dir(dir.path())
        .env("BERRAH_TZDB", "bundled")
        .env("BERRAH_NOW", "2026-12-18T09:59:58Z")
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .env_remove("BERRAH_CONFIG")
        .env_remove("BERRAH_CAMPAIGNS")
        .env_remove("DATABASE_URL")
        .env_remove("JOURNAL_STREAM")
        .args([
            "--config",
            "berrah.toml",
            "run",
            "--no-watch",
            "--grace",
            "5",
        ])
        .stdin(Stdio::null())
        .stdout(writer.try_clone().unwrap())
        .stderr(writer)
        .spawn()
        .unwrap();
    // The Command is gone: the child holds the only write ends.

    // `head -1`: the first line, then the read end is closed.
    let mut first = Vec::new();
    let mut byte = [0u8; 1];
    while !first.ends_with(b"\n") {
        match reader.read(&mut byte) {
            Ok(0) => break,
            Ok(_) => first.push(byte[0]),
            Err(e) => panic!("reading the daemon's output: {e}"),
        }
    }
    drop(reader);
    assert!(
        !first.is_empty(),
        "the daemon wrote nothing before ending: {:?}",
        child.wait()
    );

    // It goes on: the three posts reach the outbox.
    let outbox = dir.path().join("data").join("outbox.jsonl");
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        let published = berrah::platforms::outbox::Outbox::read_all(&outbox)
            .map(|r| r.len())
            .unwrap_or(0);
        if published == 3 {
            break;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "the daemon ended after its output was closed ({status}), {published} of 3 published"
            );
        }
        assert!(
            Instant::now() < end,
            "{published} of 3 published after 60 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // A graceful stop, logged into the closed pipe too, still exits 0.
    // SAFETY: kill has no memory-safety preconditions; the pid is our child's.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
    let end = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > end {
            let _ = child.kill();
            panic!("still running 30 s after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(
        status.code(),
        Some(0),
        "exit after SIGTERM with a closed output pipe: {status} (101 is a panic)"
    );
}
