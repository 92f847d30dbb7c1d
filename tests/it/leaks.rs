//! Integration tests: what must not leak to an operator's terminal or logs
//! (issue 15, "Leaks"): database passwords, environment values in `--help`,
//! terminal control sequences in text that came from outside.

use std::path::Path;
use std::process::Command;

/// A database URL with a password in the user part and one in the query.
const SECRET_URL: &str = "postgres://berrah:pw-in-user-part@127.0.0.1:5432/berrah?sslmode=require&sslpassword=pw-in-query";

fn assert_no_password(what: &str, text: &str) {
    for secret in ["pw-in-user-part", "pw-in-query"] {
        assert!(!text.contains(secret), "{what} shows `{secret}`:\n{text}");
    }
}

/// The binary in `dir`, with nothing of the developer's environment.
fn berrah(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_berrah"));
    cmd.current_dir(dir)
        .env("BERRAH_TZDB", "bundled")
        .env_remove("BERRAH_CONFIG")
        .env_remove("BERRAH_CAMPAIGNS")
        .env_remove("DATABASE_URL")
        .env_remove("BERRAH_NOW")
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "warn");
    cmd
}

/// `--help` names the environment variables but never prints their values.
#[test]
fn help_never_prints_environment_values() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["--help"][..],
        &["run", "--help"],
        &["status", "--help"],
        &["show", "--help"],
        &["accounts", "login", "--help"],
    ] {
        let out = berrah(dir.path())
            .env("DATABASE_URL", SECRET_URL)
            .env("BERRAH_CAMPAIGNS", "campaigns-from-the-env")
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}");
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(help.contains("DATABASE_URL"), "{args:?}: {help}");
        assert_no_password(&format!("{args:?}"), &help);
        assert!(!help.contains("campaigns-from-the-env"), "{args:?}: {help}");
    }
}

/// A database URL that cannot be opened is named in the error without its
/// passwords, from the environment or from `--database`.
#[test]
fn database_errors_never_show_a_password() {
    let dir = tempfile::tempdir().unwrap();
    // A port that is not a number: refused at once, before any connection.
    let bad = SECRET_URL.replace(":5432", ":not-a-port");
    for args in [&["status"][..], &["run", "--no-watch"], &["show", "x"]] {
        let out = berrah(dir.path())
            .env("DATABASE_URL", &bad)
            .args(args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("database"), "{args:?}: {stderr}");
        assert_no_password(&format!("{args:?}"), &stderr);
        assert_no_password(&format!("{args:?}"), &String::from_utf8_lossy(&out.stdout));

        let out = berrah(dir.path())
            .args(["--database", &bad])
            .args(args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?}");
        assert_no_password(&format!("{args:?}"), &String::from_utf8_lossy(&out.stderr));
    }
}
