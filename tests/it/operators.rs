//! Integration tests: what operators are told about credentials, and what
//! the daemon does about them, through the real binary against the fake
//! Mastodon server, on SQLite and PostgreSQL (when `BERRAH_TEST_POSTGRES_URL`
//! is set; loudly skipped else).
//!
//! An `env:` credential whose variable is not set: `check` warns, `accounts
//! list` says it is missing, the daemon warns at start and holds the posts,
//! `status` names the account with the held posts and the fix ("set VAR and
//! restart berrah"); once the variable is set and the daemon restarted, the
//! posts go out, exactly once, without any other command. The daemon logs
//! an operator's `pause` from another process.

use std::path::Path;
use std::time::Duration;

use berrah::store::{EntryState, ListFilter, Store};
use berrah_fakes::mastodon::{self, FakeMastodon};
use jiff::Timestamp;
use serde_json::Value;

use super::support::eventually;

const VAR: &str = "BERRAH_IT_OPERATORS_MASTO_TOKEN";

macro_rules! both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let dir = tempfile::tempdir().unwrap();
                std::fs::create_dir_all(dir.path().join("data")).unwrap();
                let url = berrah::store::testing::sqlite_url(&dir.path().join("data/berrah.db"));
                super::$name(dir, url).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let name = concat!("operators::", stringify!($name));
                if let Some(url) = berrah::store::testing::postgres_url_or_skip(name) {
                    super::$name(tempfile::tempdir().unwrap(), url).await;
                }
            }
        }
    )*};
}

both!(a_missing_variable_holds_until_set_and_restarted);

/// berrah.toml with one Mastodon account reading `VAR`, and a campaign of
/// two posts due a second ago.
fn project(dir: &Path, fake: &FakeMastodon) {
    std::fs::write(
        dir.join("berrah.toml"),
        format!(
            "[accounts.oim-masto]\nplatform = \"mastodon\"\nbase_url = \"{}\"\n\
             credentials = \"env:{VAR}\"\n",
            fake.url()
        ),
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("campaigns")).unwrap();
    let now = Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC);
    let due = (now.clone() - jiff::SignedDuration::from_secs(1))
        .strftime("%Y-%m-%dT%H:%M:%S")
        .to_string();
    let day = now.date();
    let mut text = format!(
        "[campaign]\nid = \"creds\"\ntitle = \"Creds\"\ntimezone = \"UTC\"\n\
         start = {}\nend = {}\naccounts = [\"oim-masto\"]\nlanguages = [\"fr\"]\n",
        day.yesterday().unwrap(),
        day.tomorrow().unwrap()
    );
    for p in 0..2 {
        text.push_str(&format!(
            "\n[[posts]]\nid = \"p{p}\"\ndate_time = {due}\ntext = {{ fr = \"Message {p}\" }}\n"
        ));
    }
    std::fs::write(dir.join("campaigns/creds.toml"), text).unwrap();
}

fn berrah(dir: &Path, url: &str) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_berrah"));
    cmd.current_dir(dir)
        .env("BERRAH_TZDB", "bundled")
        .env_remove("BERRAH_CONFIG")
        .env_remove("BERRAH_CAMPAIGNS")
        .env_remove("DATABASE_URL")
        .env_remove("BERRAH_NOW")
        .env_remove(VAR)
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "warn,berrah=info")
        .args(["--config", "berrah.toml", "--database", url])
        .stdin(std::process::Stdio::null());
    cmd
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

async fn run(dir: &Path, url: &str, args: &[&str]) -> Out {
    let mut cmd = berrah(dir, url);
    cmd.args(args);
    tokio::task::spawn_blocking(move || {
        let out = cmd.output().unwrap();
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    })
    .await
    .unwrap()
}

/// `berrah run` with its log in `log`; `token` sets the variable.
fn daemon(dir: &Path, url: &str, log: &Path, token: Option<&str>) -> std::process::Child {
    let mut cmd = berrah(dir, url);
    cmd.args(["run", "--no-watch"])
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(log).unwrap());
    if let Some(t) = token {
        cmd.env(VAR, t);
    }
    cmd.spawn().unwrap()
}

async fn stop(mut child: std::process::Child) {
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "SIGTERM exit: {status:?}");
}

async fn states(store: &Store) -> Vec<EntryState> {
    store
        .list(ListFilter::default())
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.state)
        .collect()
}

async fn a_missing_variable_holds_until_set_and_restarted(dir: tempfile::TempDir, url: String) {
    let fake = FakeMastodon::start().await.unwrap();
    let d = dir.path();
    project(d, &fake);

    // `check` warns (a campaigns repository's CI has no secrets: not an error).
    let r = run(d, &url, &["check"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    // At the account's `credentials` value, line 4.
    assert!(r.stderr.contains("berrah.toml:4:15"), "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "the environment variable `{VAR}` of `oim-masto` is not set"
        )),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains(&format!("help: set {VAR} and restart berrah")),
        "{}",
        r.stderr
    );

    // The first daemon: a warning at start, then both posts held.
    let log1 = d.join("run-1.log");
    let child = daemon(d, &url, &log1, None);
    let store = Store::connect(&url).await.unwrap();
    eventually("both posts held", 60, || {
        let store = store.clone();
        async move { states(&store).await == [EntryState::Held, EntryState::Held] }
    })
    .await;
    stop(child).await;
    let text = std::fs::read_to_string(&log1).unwrap();
    assert!(
        text.contains(&format!(
            "is not set: its posts will be held until you set {VAR} and restart berrah"
        )),
        "{text}"
    );
    // Never the advice for a stored token.
    assert!(!text.contains("accounts login"), "{text}");
    assert!(fake.statuses().is_empty());

    // `accounts list` says the variable is missing, never a value.
    let r = run(d, &url, &["accounts", "list", "--format", "json"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(j["accounts"][0]["credential_state"], "missing");
    assert_eq!(
        j["accounts"][0]["credential_fix"],
        format!("set {VAR} and restart berrah")
    );
    let r = run(d, &url, &["accounts", "list"]).await;
    assert!(
        r.stdout.contains("NEEDS FIX: variable not set"),
        "{}",
        r.stdout
    );

    // `status` names the account, its held posts and the fix, once.
    let r = run(d, &url, &["status", "--format", "json"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j: Value = serde_json::from_str(&r.stdout).unwrap();
    let a = &j["accounts_needing_attention"];
    assert_eq!(a.as_array().unwrap().len(), 1, "{a}");
    assert_eq!(a[0]["account"], "oim-masto");
    assert_eq!(a[0]["kind"], "credential_missing");
    assert_eq!(a[0]["held_posts"], 2);
    assert_eq!(a[0]["action"], format!("set {VAR} and restart berrah"));
    assert_eq!(j["held_groups"][0]["count"], 2);
    assert_eq!(
        j["held_groups"][0]["release"],
        format!("set {VAR} and restart berrah")
    );
    let r = run(d, &url, &["status"]).await;
    let release = format!("release: set {VAR} and restart berrah");
    assert_eq!(r.stdout.matches(&release).count(), 1, "{}", r.stdout);
    assert!(r.stdout.contains("2 posts on oim-masto"), "{}", r.stdout);
    assert!(!r.stdout.contains("accounts login"), "{}", r.stdout);

    // Set the variable, restart: both go out, once each, with no other command.
    let log2 = d.join("run-2.log");
    let child = daemon(d, &url, &log2, Some(mastodon::DEFAULT_TOKEN));
    eventually("both posts published", 60, || {
        let store = store.clone();
        async move { states(&store).await == [EntryState::Published, EntryState::Published] }
    })
    .await;

    // An operator's command from another process shows in the daemon's log.
    let r = run(d, &url, &["pause", "--campaign", "creds"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.starts_with("paused campaign creds"),
        "{}",
        r.stdout
    );
    let mut text = String::new();
    for _ in 0..100 {
        text = std::fs::read_to_string(&log2).unwrap_or_default();
        if text.contains("operator action") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop(child).await;
    let text = std::fs::read_to_string(&log2).unwrap_or(text);
    assert!(
        text.contains("its held posts are scheduled again"),
        "{text}"
    );
    assert!(
        text.contains("operator action: paused campaign creds"),
        "{text}"
    );
    assert!(text.contains("action=pause"), "{text}");
    assert!(!text.contains(mastodon::DEFAULT_TOKEN), "{text}");
    let out = fake.statuses();
    assert_eq!(out.len(), 2, "exactly once each");
    let mut texts: Vec<String> = out.iter().map(|s| s.text.clone()).collect();
    texts.sort();
    texts.dedup();
    assert_eq!(texts.len(), 2, "{texts:?}");

    // The history shows both, with their URLs.
    let r = run(d, &url, &["status", "--history", "--since", "today"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout.matches("published  ").count(), 2, "{}", r.stdout);
    assert!(r.stdout.contains(&fake.url()), "{}", r.stdout);
    store.close().await;
}

/// `accounts login` is recorded for the daemon's log like the queue commands.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_is_recorded_for_the_daemons_log() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("data")).unwrap();
    std::fs::write(
        d.join("berrah.toml"),
        "[accounts.oim-fb]\nplatform = \"facebook\"\nhandle = \"123456\"\ncredentials = \"store\"\n",
    )
    .unwrap();
    let url = berrah::store::testing::sqlite_url(&d.join("data/berrah.db"));
    let mut cmd = berrah(d, &url);
    cmd.args(["accounts", "login", "oim-fb", "--from-env", "PAGE_TOKEN"])
        .env("PAGE_TOKEN", "EAAG-page-token-secret")
        .env("BERRAH_TOKEN_KEY", "ab".repeat(32))
        .env("USER", "operator-a")
        .env_remove("SUDO_USER");
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // A mistyped account: the closest one, exit status 2.
    let mut cmd = berrah(d, &url);
    cmd.args(["accounts", "login", "oim-fbb", "--from-env", "PAGE_TOKEN"])
        .env("PAGE_TOKEN", "x")
        .env("BERRAH_TOKEN_KEY", "ab".repeat(32));
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no account `oim-fbb`; did you mean `oim-fb`?"),
        "{err}"
    );

    let mut cmd = berrah(d, &url);
    cmd.args(["accounts", "logout", "oim-fbx"]);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no account `oim-fbx`; did you mean `oim-fb`?"),
        "{err}"
    );

    let store = Store::connect(&url).await.unwrap();
    let actions = store.take_unlogged_actions(Timestamp::now()).await.unwrap();
    assert_eq!(actions.len(), 1, "{actions:?}");
    assert_eq!(actions[0].action, "login");
    assert_eq!(actions[0].target, "account oim-fb");
    assert_eq!(actions[0].user, "operator-a");
    assert!(!actions[0].detail.contains("EAAG"), "{:?}", actions[0]);
    store.close().await;
}
