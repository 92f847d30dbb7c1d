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
    // What `berrah run` needs before it opens the database.
    std::fs::write(dir.path().join("berrah.toml"), "").unwrap();
    std::fs::create_dir(dir.path().join("campaigns")).unwrap();
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

// ---------------------------------------------------------------------------
// Terminal control sequences in what platforms answered.
// ---------------------------------------------------------------------------

/// A platform's error message that would retitle the window (OSC 0),
/// clear the screen (CSI 2 J), hide text with a bidi override and move
/// the cursor back (CR, C1 CSI).
const DIRTY: &str =
    "HTTP 400: bad\u{1b}]0;pwned\u{7} request\u{1b}[2J here\r\u{202e}kcab\u{202c}\u{9b}1A end";

fn assert_clean(what: &str, text: &str) {
    for bad in ['\u{1b}', '\u{7}', '\r', '\u{202e}', '\u{9b}'] {
        assert!(!text.contains(bad), "{what} shows {bad:?}:\n{text:?}");
    }
    for bad in ["pwned", "[2J", "\\u001b", "\\u0007"] {
        assert!(!text.contains(bad), "{what} shows `{bad}`:\n{text}");
    }
    assert!(
        text.contains("HTTP 400: bad request here"),
        "{what}:\n{text}"
    );
}

/// An entry on `account`, due at `due`.
fn occurrence(id: &str, account: &str, due: jiff::Timestamp) -> berrah::plan::Occurrence {
    berrah::plan::Occurrence {
        id: id.into(),
        key: format!("amal/c1/p1/{account}/fr/0"),
        campaign: "amal".into(),
        capsule: Some("c1".into()),
        post: "p1".into(),
        account: account.into(),
        platform: berrah::config::PlatformKind::Mastodon,
        language: "fr".into(),
        due,
        local: "2026-12-18T10:00:00+01:00".into(),
        timezone: "Europe/Paris".into(),
        tzdb: "2026f".into(),
        not_after: due + jiff::SignedDuration::from_hours(24),
        series: None,
        paused: false,
        source: "campaigns/amal.toml".into(),
        content: berrah::plan::Content {
            text: "Texte — نص".into(),
            ..berrah::plan::Content::default()
        },
    }
}

/// An entry whose platform answered with control sequences: cleaned when
/// recorded; and a row stored before that (written here by hand) is
/// cleaned when `status` and `show` print it, as a table and as JSON.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_and_show_never_print_control_sequences() {
    use berrah::store::{Db, Finish, Store};
    let dir = tempfile::tempdir().unwrap();
    let url = berrah::store::testing::sqlite_url(&dir.path().join("berrah.db"));
    let store = Store::connect(&url).await.unwrap();
    let t: jiff::Timestamp = "2026-12-18T09:00:00Z".parse().unwrap();
    let (fresh, old) = ("o-1100000000000000", "o-1200000000000000");
    let occs = [occurrence(fresh, "oim-a", t), occurrence(old, "oim-b", t)];
    store.sync_campaign("amal", &occs, t).await.unwrap();
    let lease = t + jiff::SignedDuration::from_mins(40);
    for e in store.claim_due(t, 10, "host-a", lease).await.unwrap() {
        store.begin_attempt(&e.id, "host-a", t).await.unwrap();
        let reason = DIRTY.to_string();
        store
            .finish(&e.id, "host-a", Finish::Failed { reason }, t)
            .await
            .unwrap();
    }
    // Cleaned on the way in.
    let stored = store.get(fresh).await.unwrap();
    assert_clean("the stored error", stored.last_error.as_deref().unwrap());
    let attempts = store.attempts(fresh).await.unwrap();
    assert_clean("the stored attempt", attempts[0].detail.as_deref().unwrap());
    // A row from before the cleaning.
    let Db::Sqlite(pool) = store.db() else {
        unreachable!()
    };
    for sql in [
        "UPDATE entries SET last_error = $1 WHERE id = $2",
        "UPDATE attempts SET detail = $1 WHERE entry_id = $2",
    ] {
        sqlx::query(sql)
            .bind(DIRTY)
            .bind(old)
            .execute(pool)
            .await
            .unwrap();
    }
    assert_eq!(
        store.get(old).await.unwrap().last_error.as_deref(),
        Some(DIRTY)
    );
    store.close().await;

    let now = "2026-12-18T09:30:00Z";
    for args in [
        vec!["status"],
        vec!["status", "--format", "json"],
        vec!["show", old],
        vec!["show", old, "--format", "json"],
        vec!["show", fresh],
    ] {
        let out = berrah(dir.path())
            .args(["--database", &url, "--now", now])
            .args(&args)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{args:?}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_clean(&format!("{args:?}"), &stdout);
    }
}
