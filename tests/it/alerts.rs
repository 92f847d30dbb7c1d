//! Integration tests: alerts (`[[alerts]]`). Through the binary against fake
//! Slack, Teams, Discord and webhook receivers (`berrah_fakes::webhook`)
//! and a real SMTP server (Python's aiosmtpd, `tests/fixtures/alerts/`);
//! the store's part (the triggers, one turn, the outbox) on SQLite and
//! PostgreSQL.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use berrah::config::PlatformKind;
use berrah::plan::{Content, Occurrence};
use berrah::store::alerts::{FactRow, NewAlert};
use berrah::store::{Db, Store};
use berrah_fakes::webhook::{Fault, Kind, Receiver};
use jiff::Timestamp;

use crate::support::eventually;

// ---------------------------------------------------------------------------
// Through the binary
// ---------------------------------------------------------------------------

/// The variables the tests set for the daemon (never a real secret).
const SLACK_VAR: &str = "BERRAH_IT_ALERT_SLACK";
const TEAMS_VAR: &str = "BERRAH_IT_ALERT_TEAMS";
const DISCORD_VAR: &str = "BERRAH_IT_ALERT_DISCORD";
const HOOK_KEY_VAR: &str = "BERRAH_IT_ALERT_HOOK_KEY";
const SMTP_PASSWORD_VAR: &str = "BERRAH_IT_ALERT_SMTP_PASSWORD";
const HOOK_KEY: &str = "hook-key-SECRET-7f3a9c";
const SMTP_PASSWORD: &str = "smtp-pw-SECRET-51d2e8";
/// The credential variable of the held accounts: left unset, so that their
/// first due post holds them (and the rest of their posts with it).
const UNSET_TOKEN_VAR: &str = "BERRAH_IT_ALERT_UNSET_TOKEN";

/// `berrah.toml` with two Mastodon accounts whose credentials are missing,
/// and `alerts` appended.
fn project(alerts: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("berrah.toml"),
        format!(
            "[daemon]\nlease_seconds = 5\n\n\
             [accounts.oim-x]\nplatform = \"mastodon\"\nbase_url = \"http://127.0.0.1:9\"\n\
             credentials = \"env:{UNSET_TOKEN_VAR}\"\n\n\
             [accounts.oim-y]\nplatform = \"mastodon\"\nbase_url = \"http://127.0.0.1:9\"\n\
             credentials = \"env:{UNSET_TOKEN_VAR}\"\n\n{alerts}"
        ),
    )
    .unwrap();
    std::fs::create_dir_all(tmp.path().join("campaigns")).unwrap();
    tmp
}

/// Campaign `id` with `posts` posts on `account`, due `in_secs` from now (UTC).
fn write_campaign(dir: &Path, id: &str, account: &str, posts: usize, in_secs: i64) {
    let now = Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC);
    let due = (now.clone() + jiff::SignedDuration::from_secs(in_secs))
        .strftime("%Y-%m-%dT%H:%M:%S")
        .to_string();
    let day = now.date();
    let mut text = format!(
        "[campaign]\nid = \"{id}\"\ntitle = \"{id}\"\ntimezone = \"UTC\"\n\
         start = {}\nend = {}\naccounts = [\"{account}\"]\nlanguages = [\"fr\"]\n",
        day.yesterday().unwrap(),
        day.tomorrow().unwrap()
    );
    for p in 0..posts {
        text.push_str(&format!(
            "\n[[posts]]\nid = \"p{p:03}\"\ndate_time = {due}\ntext = {{ fr = \"Message {p} de {id}\" }}\n"
        ));
    }
    std::fs::write(dir.join("campaigns").join(format!("{id}.toml")), text).unwrap();
}

/// `berrah run` in `dir` on its SQLite file, logging to `log`.
fn start_daemon(dir: &Path, log: &str, env: &[(&str, String)]) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_berrah"));
    cmd.current_dir(dir)
        .env("BERRAH_TZDB", "bundled")
        .env_remove("BERRAH_CONFIG")
        .env_remove("BERRAH_CAMPAIGNS")
        .env_remove("DATABASE_URL")
        .env_remove("BERRAH_NOW")
        .env_remove(UNSET_TOKEN_VAR)
        .env("RUST_LOG", "info")
        .args(["--config", "berrah.toml", "run", "--no-watch"])
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(dir.join(format!("{log}.out"))).unwrap())
        .stderr(std::fs::File::create(dir.join(format!("{log}.log"))).unwrap());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn().unwrap()
}

/// Stops the daemon as systemd would (SIGTERM) and waits for it.
fn stop_daemon(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    for _ in 0..300 {
        if child.try_wait().unwrap().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Everything the daemon logged in `dir` (every `*.log`).
fn logs(dir: &Path) -> String {
    let mut out = String::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "log" || x == "out") {
            out.push_str(&std::fs::read_to_string(&p).unwrap_or_default());
        }
    }
    out
}

/// A fake receiver served on 127.0.0.1, and its full URL.
async fn receiver(kind: Kind, key: Option<&str>) -> (Receiver, berrah_fakes::Running, String) {
    let r = Receiver::new(kind, key);
    let running = berrah_fakes::serve(r.router()).await.unwrap();
    let url = format!("{}{}", running.url(), r.path());
    (r, running, url)
}

/// The text of a received alert, whatever the receiver.
fn text_of(kind: Kind, body: &serde_json::Value) -> String {
    match kind {
        Kind::Slack | Kind::Json => body["text"].as_str().unwrap_or_default().to_string(),
        Kind::Discord => body["content"].as_str().unwrap_or_default().to_string(),
        Kind::Teams => body["attachments"][0]["content"]["body"]
            .as_array()
            .map(|b| {
                b.iter()
                    .filter_map(|t| t["text"].as_str())
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default(),
    }
}

/// A burst of 300 held posts is one message per receiver that counts them
/// and names the commands that list and release them; a second burst
/// within the interval waits for it and is the second message; Slack,
/// Teams, Discord and the signed webhook each get exactly those two. No
/// webhook URL, key or token is in any message or in the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_held_posts_is_one_message_per_interval_on_every_receiver() {
    let (slack, _s, slack_url) = receiver(Kind::Slack, None).await;
    let (teams, _t, teams_url) = receiver(Kind::Teams, None).await;
    let (discord, _d, discord_url) = receiver(Kind::Discord, None).await;
    let (hook, _h, hook_url) = receiver(Kind::Json, Some(HOOK_KEY)).await;
    let rule = |name: &str, to: &str, url: &str| {
        format!(
            "[[alerts]]\nname = \"{name}\"\nto = \"{to}\"\nurl = \"{url}\"\n\
             on = [\"held\", \"failed\"]\nevery = \"6s\"\ngather = \"1s\"\n"
        )
    };
    let dir = project(&format!(
        "{}{}{}{}secret = \"env:{HOOK_KEY_VAR}\"\n",
        rule("comms-slack", "slack", &format!("env:{SLACK_VAR}")),
        rule("comms-teams", "teams", &format!("env:{TEAMS_VAR}")),
        rule("comms-discord", "discord", "file:discord.url"),
        rule("ops-hook", "webhook", &hook_url),
    ));
    std::fs::write(dir.path().join("discord.url"), format!("{discord_url}\n")).unwrap();
    // 300 posts due now on oim-x; 5 on oim-y, due in 4 s: inside the interval.
    write_campaign(dir.path(), "burst", "oim-x", 300, -1);
    write_campaign(dir.path(), "later", "oim-y", 5, 4);
    let env = [
        (SLACK_VAR, slack_url.clone()),
        (TEAMS_VAR, teams_url.clone()),
        (HOOK_KEY_VAR, HOOK_KEY.to_string()),
    ];
    let daemon = start_daemon(dir.path(), "run", &env);
    let receivers = [
        (Kind::Slack, &slack),
        (Kind::Teams, &teams),
        (Kind::Discord, &discord),
        (Kind::Json, &hook),
    ];
    eventually("two alerts on every receiver", 90, || async {
        receivers.iter().all(|(_, r)| r.received().len() >= 2)
    })
    .await;
    // Nothing more comes: wait past another interval.
    tokio::time::sleep(Duration::from_secs(7)).await;
    stop_daemon(daemon);
    let log = logs(dir.path());
    for (kind, r) in receivers {
        let got = r.received();
        assert_eq!(got.len(), 2, "{kind:?}: {got:#?}\n{log}");
        let first = text_of(kind, &got[0].body);
        let second = text_of(kind, &got[1].body);
        assert!(first.contains("300 posts held"), "{kind:?}: {first}");
        assert!(first.contains("oim-x"), "{kind:?}: {first}");
        assert!(
            first.contains("berrah retry --account oim-x --state held"),
            "{kind:?}: {first}"
        );
        assert!(
            first.contains("berrah status --state held --account oim-x"),
            "{kind:?}: {first}"
        );
        assert!(
            first.contains(UNSET_TOKEN_VAR),
            "{kind:?}: the cause: {first}"
        );
        assert!(
            second.contains("5 posts held on `oim-y`"),
            "{kind:?}: {second}"
        );
        assert!(!second.contains("oim-x"), "{kind:?}: {second}");
        for g in &got {
            let raw = String::from_utf8_lossy(&g.raw);
            for secret in [
                slack_url.as_str(),
                teams_url.as_str(),
                discord_url.as_str(),
                HOOK_KEY,
                "XXXXXXXXXXXXXXXXXXXXXXXX",
                "discord-token-abc",
            ] {
                assert!(!raw.contains(secret), "{kind:?} received a secret: {raw}");
            }
        }
    }
    // The webhook is signed like berrah's webhook platform, with a delivery id.
    for g in hook.received() {
        assert_eq!(g.signature_valid, Some(true), "{g:#?}");
        assert!(
            g.delivery
                .as_deref()
                .is_some_and(|d| d.starts_with("ops-hook-"))
        );
    }
    for secret in [
        slack_url.as_str(),
        teams_url.as_str(),
        discord_url.as_str(),
        HOOK_KEY,
        "XXXXXXXXXXXXXXXXXXXXXXXX",
        "discord-token-abc",
    ] {
        assert!(!log.contains(secret), "the log shows a secret:\n{log}");
    }
    assert!(log.contains("alert sent"), "{log}");
}

/// A receiver that fails first gets the alert on retry; an alert still
/// waiting when the daemon is killed (SIGKILL) is sent after the restart,
/// exactly once, and the restart itself is reported as one after a crash.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_pending_at_a_kill_is_sent_once_after_restart() {
    let (slack, _s, slack_url) = receiver(Kind::Slack, None).await;
    let (discord, _d, discord_url) = receiver(Kind::Discord, None).await;
    // The first try fails (a 500); berrah tries again 5 s later.
    slack.fail_next(Fault::ServerError(500));
    let dir = project(&format!(
        "[[alerts]]\nname = \"comms\"\nto = \"slack\"\nurl = \"env:{SLACK_VAR}\"\n\
         on = [\"held\"]\ngather = \"1s\"\n\n\
         [[alerts]]\nname = \"ops\"\nto = \"discord\"\nurl = \"env:{DISCORD_VAR}\"\n\
         on = [\"crash_restart\"]\ngather = \"1s\"\n"
    ));
    write_campaign(dir.path(), "burst", "oim-x", 20, -1);
    let env = [
        (SLACK_VAR, slack_url.clone()),
        (DISCORD_VAR, discord_url.clone()),
    ];
    let mut first = start_daemon(dir.path(), "first", &env);
    eventually("the first, failing, delivery", 60, || async {
        !slack.received().is_empty()
    })
    .await;
    // Let it record the failure, then kill it before the retry.
    tokio::time::sleep(Duration::from_millis(500)).await;
    first.kill().unwrap();
    first.wait().unwrap();
    assert_eq!(slack.received().len(), 1);
    assert!(
        discord.received().is_empty(),
        "no crash before the first run"
    );

    let second = start_daemon(dir.path(), "second", &env);
    eventually("the alert after the restart", 90, || async {
        slack.received().len() >= 2
    })
    .await;
    eventually("the crash alert", 30, || async {
        !discord.received().is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_secs(7)).await;
    stop_daemon(second);
    let log = logs(dir.path());
    let got = slack.received();
    assert_eq!(
        got.len(),
        2,
        "one failed try, one delivery: {got:#?}\n{log}"
    );
    assert_eq!(got[0].body, got[1].body, "the same message, sent again");
    assert!(text_of(Kind::Slack, &got[1].body).contains("20 posts held on `oim-x`"));
    let crash = discord.received();
    assert_eq!(crash.len(), 1, "{crash:#?}");
    let text = text_of(Kind::Discord, &crash[0].body);
    assert!(text.contains("restarted after a crash"), "{text}");
    assert!(text.contains("did not stop cleanly"), "{text}");
    assert!(
        log.contains("could not send an alert; trying again later"),
        "{log}"
    );
    assert!(log.contains("Slack answered 500"), "{log}");
    for secret in [
        slack_url.as_str(),
        discord_url.as_str(),
        "XXXXXXXXXXXXXXXXXXXXXXXX",
    ] {
        assert!(!log.contains(secret), "the log shows a secret:\n{log}");
    }

    // A clean stop is not a crash: a third run reports nothing new.
    let third = start_daemon(dir.path(), "third", &env);
    tokio::time::sleep(Duration::from_secs(4)).await;
    stop_daemon(third);
    assert_eq!(discord.received().len(), 1);
    assert_eq!(slack.received().len(), 2);
}

/// The SMTP server of `tests/fixtures/alerts/smtp_server.py` (aiosmtpd),
/// requiring `user` and `password`; `None` (said loudly) when aiosmtpd is
/// missing outside CI. In CI it must run.
struct SmtpServer {
    child: Child,
    port: u16,
    folder: PathBuf,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn smtp_server_or_skip(
    test: &str,
    folder: &Path,
    user: &str,
    password: &str,
) -> Option<SmtpServer> {
    let has = Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !has {
        if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
            panic!("{test}: Python's aiosmtpd is missing, and CI is set: scripts/test installs it");
        }
        eprintln!(
            "SKIPPED (SMTP): {test} — install Python's aiosmtpd (`pip install aiosmtpd`), as scripts/test does"
        );
        return None;
    }
    std::fs::create_dir_all(folder).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/alerts/smtp_server.py");
    let mut child = Command::new("python3")
        .arg(script)
        .arg(folder)
        .args([user, password])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let port = line
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("the SMTP server did not start: {line:?}"));
    Some(SmtpServer {
        child,
        port,
        folder: folder.to_path_buf(),
    })
}

/// One grouped e-mail for a burst of held posts, through a real SMTP server
/// that requires a login; the password is in neither the e-mail nor the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_held_posts_is_one_e_mail_through_a_real_smtp_server() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(smtp) = smtp_server_or_skip(
        "alerts::a_burst_of_held_posts_is_one_e_mail_through_a_real_smtp_server",
        &tmp.path().join("mail"),
        "berrah-alerts",
        SMTP_PASSWORD,
    ) else {
        return;
    };
    let dir = project(&format!(
        "[[alerts]]\nname = \"comms-mail\"\nto = \"email\"\nsmtp = \"smtp://127.0.0.1:{}\"\n\
         from = \"berrah <berrah@example.org>\"\nrecipients = [\"comms@example.org\", \"ops@example.org\"]\n\
         username = \"berrah-alerts\"\npassword = \"env:{SMTP_PASSWORD_VAR}\"\n\
         on = [\"held\"]\ngather = \"1s\"\n",
        smtp.port
    ));
    write_campaign(dir.path(), "burst", "oim-x", 300, -1);
    let daemon = start_daemon(
        dir.path(),
        "run",
        &[(SMTP_PASSWORD_VAR, SMTP_PASSWORD.to_string())],
    );
    let count = || {
        std::fs::read_dir(&smtp.folder).map_or(0, |d| {
            d.filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "json"))
            })
            .count()
        })
    };
    eventually("the e-mail", 60, || async { count() >= 1 }).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop_daemon(daemon);
    let log = logs(dir.path());
    assert_eq!(count(), 1, "{log}");
    let mail: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(smtp.folder.join("0001.json")).unwrap())
            .unwrap();
    assert_eq!(mail["auth_user"], "berrah-alerts");
    assert_eq!(mail["mail_from"], "berrah@example.org");
    assert_eq!(
        mail["rcpt_tos"],
        serde_json::json!(["comms@example.org", "ops@example.org"])
    );
    assert_eq!(mail["subject"], "berrah: 300 posts held");
    let body = mail["body"].as_str().unwrap();
    assert!(body.contains("300 posts held on `oim-x`"), "{body}");
    assert!(
        body.contains("berrah retry --account oim-x --state held"),
        "{body}"
    );
    assert!(body.contains("alert rule `comms-mail`"), "{body}");
    let raw = mail["raw"].as_str().unwrap();
    assert!(!raw.contains(SMTP_PASSWORD), "{raw}");
    assert!(!log.contains(SMTP_PASSWORD), "{log}");
}

/// `berrah check` reports a chat webhook URL written in clear at its place
/// and never shows it.
#[test]
fn check_refuses_a_webhook_url_written_in_clear_without_showing_it() {
    let dir = project(
        "[[alerts]]\nname = \"comms\"\nto = \"slack\"\n\
         url = \"https://hooks.slack.com/services/T0/B0/SECRETPART123\"\n",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_berrah"))
        .current_dir(dir.path())
        .env("BERRAH_TZDB", "bundled")
        .env("NO_COLOR", "1")
        .env_remove("BERRAH_CONFIG")
        .env_remove("BERRAH_CAMPAIGNS")
        .args(["--config", "berrah.toml", "check"])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("berrah.toml:17:7: error: the `url` of alert `comms` must say where the Slack webhook URL is"),
        "{text}"
    );
    assert!(!text.contains("SECRETPART123"), "{text}");
}

/// A campaign file that does not check is reported by name (its last valid
/// version, if any, stays scheduled).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_campaign_file_is_reported_by_name() {
    let (slack, _s, slack_url) = receiver(Kind::Slack, None).await;
    let dir = project(&format!(
        "[[alerts]]\nname = \"comms\"\nto = \"slack\"\nurl = \"env:{SLACK_VAR}\"\n\
         on = [\"campaign_broken\"]\ngather = \"1s\"\n"
    ));
    write_campaign(dir.path(), "fine", "oim-x", 1, 3600);
    std::fs::write(
        dir.path().join("campaigns/casse.toml"),
        "[campaign]\nid = \"casse\"\ntimezone = \"Mars/Olympus\"\n",
    )
    .unwrap();
    let daemon = start_daemon(dir.path(), "run", &[(SLACK_VAR, slack_url)]);
    eventually("the alert", 60, || async { !slack.received().is_empty() }).await;
    stop_daemon(daemon);
    let got = slack.received();
    assert_eq!(got.len(), 1, "{got:#?}");
    let text = text_of(Kind::Slack, &got[0].body);
    assert!(
        text.starts_with("*berrah: 1 campaign file broken*"),
        "{text}"
    );
    assert!(text.contains("`campaigns/casse.toml`"), "{text}");
    assert!(text.contains("`berrah check` shows what to fix"), "{text}");
}

/// A post that went out more than `late_after` after its due time (here:
/// a post due 90 s before the daemon started) is reported with how late.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_publication_is_reported_with_how_late() {
    let (slack, _s, slack_url) = receiver(Kind::Slack, None).await;
    let dir = project(&format!(
        "[accounts.oim-web]\nplatform = \"facebook\"\n\n\
         [[alerts]]\nname = \"comms\"\nto = \"slack\"\nurl = \"env:{SLACK_VAR}\"\n\
         on = [\"late\"]\nlate_after = \"1m\"\ngather = \"1s\"\n"
    ));
    write_campaign(dir.path(), "retard", "oim-web", 2, -90);
    let daemon = start_daemon(dir.path(), "run", &[(SLACK_VAR, slack_url)]);
    eventually("the alert", 60, || async { !slack.received().is_empty() }).await;
    stop_daemon(daemon);
    let got = slack.received();
    assert_eq!(got.len(), 1, "{got:#?}");
    let text = text_of(Kind::Slack, &got[0].body);
    assert!(
        text.starts_with("*berrah: 2 posts published late*"),
        "{text}"
    );
    assert!(
        text.contains(
            "2 posts on `oim-web` went out more than 1m after their due time (the latest by "
        ),
        "{text}"
    );
}

/// A stored token that expires within `token_days` (and that berrah cannot
/// renew) is one alert, once; one that expires later is none. Only the
/// expiry is read, never the token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_expiring_soon_is_alerted_once() {
    let (discord, _d, discord_url) = receiver(Kind::Discord, None).await;
    let (_dir, store) = berrah::store::testing::sqlite_temp().await;
    let now = Timestamp::now();
    let in_days = |d: i64| (now + jiff::SignedDuration::from_hours(24 * d)).as_millisecond();
    for (account, expires) in [("oim-facebook", in_days(3)), ("oim-instagram", in_days(40))] {
        let Db::Sqlite(pool) = store.db() else {
            unreachable!()
        };
        sqlx::query(
            "INSERT INTO tokens (account, platform, blob, access_expires_at, refreshable, updated_at) \
             VALUES ($1, 'facebook', X'00', $2, FALSE, 0)",
        )
        .bind(account)
        .bind(expires)
        .execute(pool)
        .await
        .unwrap();
    }
    // The URL in a file (`file:`): no test sets the environment.
    let secrets = tempfile::tempdir().unwrap();
    let url_file = secrets.path().join("discord.url");
    std::fs::write(&url_file, &discord_url).unwrap();
    let config: berrah::config::Config = toml::from_str(&format!(
        "[[alerts]]\nname = \"tokens\"\nto = \"discord\"\nurl = \"file:{}\"\n\
         on = [\"token_expiring\"]\ntoken_days = 7\ngather = \"1s\"\n",
        url_file.display()
    ))
    .unwrap();
    let start = |store: Store| {
        berrah::alerts::Alerter::start(berrah::alerts::AlerterConfig {
            store,
            clock: std::sync::Arc::new(berrah::time::SystemClock),
            alerts: config.alerts.clone(),
            base_dir: PathBuf::from("."),
            campaigns_dir: PathBuf::from("campaigns"),
            owner: "test-tokens".into(),
        })
    };
    let alerter = start(store.clone());
    eventually("the token alert", 30, || async {
        !discord.received().is_empty()
    })
    .await;
    alerter.stop().await;
    // Started again: the same expiry is not told twice.
    let again = start(store.clone());
    tokio::time::sleep(Duration::from_secs(3)).await;
    again.stop().await;
    let got = discord.received();
    assert_eq!(got.len(), 1, "{got:#?}");
    let text = text_of(Kind::Discord, &got[0].body);
    assert!(text.starts_with("**berrah: 1 token expiring**"), "{text}");
    assert!(text.contains("`oim-facebook`"), "{text}");
    assert!(
        text.contains("berrah accounts login oim-facebook"),
        "{text}"
    );
    assert!(!text.contains("oim-instagram"), "{text}");
}

/// Discord's 429 says when to come back (`retry_after`, in seconds with a
/// fraction): berrah keeps it; a refusal quotes the answer without the URL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discord_rate_limits_say_when_to_try_again() {
    use berrah::alerts::config::{Event, Rule, SecretRef, Target};
    use berrah::alerts::group::Message;
    use berrah::alerts::send::{Secrets, send};
    use berrah::auth::sources::Source;

    let (discord, _d, url) = receiver(Kind::Discord, None).await;
    let rule = Rule {
        name: "ops".into(),
        to: Target::Discord,
        on: vec![Event::Held],
        every: jiff::SignedDuration::from_mins(15),
        gather: jiff::SignedDuration::from_secs(30),
        token_days: 7,
        late_after: jiff::SignedDuration::from_mins(5),
        url: Some(SecretRef::Source(Source::Env("UNUSED".into()))),
        secret: None,
        smtp: None,
    };
    let secrets = Secrets {
        url: Some(url.clone().into()),
        key: None,
        password: None,
    };
    let message = Message {
        rule: "ops".into(),
        title: "berrah: 1 post held".into(),
        lines: vec!["1 post held on `a`.".into()],
        counts: [("held".to_string(), 1)].into(),
        account: Some("a".into()),
    };
    let http = berrah::http::client();
    discord.fail_next(Fault::RateLimited {
        retry_after_secs: 7.5,
    });
    let err = send(&http, &rule, &secrets, &message, "ops-1", Timestamp::now())
        .await
        .unwrap_err();
    assert_eq!(
        err.retry_after,
        Some(jiff::SignedDuration::from_millis(7500))
    );
    assert!(err.why.starts_with("Discord answered 429"), "{}", err.why);
    assert!(!err.why.contains("discord-token-abc"), "{}", err.why);
    send(&http, &rule, &secrets, &message, "ops-1", Timestamp::now())
        .await
        .unwrap();
    let got = discord.received();
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].query, "wait=true");
    assert_eq!(
        text_of(Kind::Discord, &got[1].body),
        "**berrah: 1 post held**\n- 1 post held on `a`."
    );
    // A removed webhook: the answer is quoted, never the URL.
    discord.fail_next(Fault::Reject(
        404,
        format!("{{\"message\": \"Unknown Webhook {url}\"}}"),
    ));
    let err = send(&http, &rule, &secrets, &message, "ops-2", Timestamp::now())
        .await
        .unwrap_err();
    assert!(err.why.contains("Discord answered 404"), "{}", err.why);
    assert!(!err.why.contains("discord-token-abc"), "{}", err.why);
}

// ---------------------------------------------------------------------------
// The store's part, on both backends
// ---------------------------------------------------------------------------

both!(
    queue_transitions_become_facts_taken_once,
    the_outbox_leases_retries_and_sends
);

fn t(s: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + s).unwrap()
}

fn occ(id: &str, account: &str, due: i64) -> Occurrence {
    Occurrence {
        id: id.into(),
        key: format!("c/{id}"),
        campaign: "amal".into(),
        capsule: None,
        post: format!("post-{id}"),
        account: account.into(),
        platform: PlatformKind::Mastodon,
        language: "fr".into(),
        due: t(due),
        local: "2027-01-15T10:00:00+01:00".into(),
        timezone: "Africa/Casablanca".into(),
        tzdb: "2026f".into(),
        not_after: t(due + 60),
        series: None,
        paused: false,
        source: "campaigns/amal.toml".into(),
        content: Content {
            text: format!("text {id}"),
            ..Content::default()
        },
    }
}

async fn exec(store: &Store, sql: &'static str) {
    match store.db() {
        Db::Sqlite(p) => {
            sqlx::query(sql).execute(p).await.unwrap();
        }
        Db::Postgres(p) => {
            sqlx::query(sql).execute(p).await.unwrap();
        }
    }
}

/// Takes the waiting facts (one turn that decides nothing).
async fn take_facts(store: &Store) -> Vec<FactRow> {
    let taken = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let out = taken.clone();
    store
        .alert_turn(vec![], move |facts, _| {
            *out.lock().unwrap() = facts;
            (vec![], vec![])
        })
        .await
        .unwrap();
    taken.lock().unwrap().clone()
}

/// Held (by an account's credentials), expired and late entries leave one
/// fact each, written by the queue's own statements; a pause in a file does
/// not; a turn takes them once.
async fn queue_transitions_become_facts_taken_once(store: Store) {
    let mut paused = occ("p", "b", 1000);
    paused.paused = true;
    let occs = vec![
        occ("a1", "a", 1000),
        occ("a2", "a", 2000),
        occ("late", "b", 50),
        occ("e", "b", 10),
        paused,
    ];
    store.sync_campaign("amal", &occs, t(0)).await.unwrap();
    assert_eq!(
        store
            .hold_account("a", "the variable `A` is not set")
            .await
            .unwrap(),
        2
    );
    assert_eq!(store.expire_late(t(100)).await.unwrap().len(), 1);
    // A first attempt that started two minutes late, another on time.
    exec(
        &store,
        "INSERT INTO attempts (entry_id, number, owner, started_ms) \
         VALUES ('late', 1, 'o', 1800000170000), ('late', 2, 'o', 1800000200000), \
         ('e', 1, 'o', 1800000010000)",
    )
    .await;
    let mut facts = take_facts(&store).await;
    facts.sort_by(|a, b| (&a.kind, &a.entry_id).cmp(&(&b.kind, &b.entry_id)));
    let kinds: Vec<(&str, &str)> = facts
        .iter()
        .map(|f| (f.kind.as_str(), f.entry_id.as_deref().unwrap_or("")))
        .collect();
    assert_eq!(
        kinds,
        [
            ("dropped", "e"),
            ("held", "a1"),
            ("held", "a2"),
            ("late", "late")
        ],
        "{facts:#?}"
    );
    assert_eq!(facts[1].cause.as_deref(), Some("account"));
    assert_eq!(
        facts[1].detail.as_deref(),
        Some("the variable `A` is not set")
    );
    assert_eq!(facts[3].late_ms, Some(120_000));
    assert!(take_facts(&store).await.is_empty(), "taken once");
    // The daemon's own facts go the same way.
    store
        .add_alert_facts(vec![FactRow {
            kind: "crash_restart".into(),
            detail: Some("gone".into()),
            ..FactRow::default()
        }])
        .await
        .unwrap();
    assert!(store.alert_facts_waiting().await.unwrap());
    assert_eq!(take_facts(&store).await.len(), 1);
    assert!(!store.alert_facts_waiting().await.unwrap());
}

/// A queued message is leased to one sender at a time, retried at the time
/// set, sent once; marks are set and removed.
async fn the_outbox_leases_retries_and_sends(store: Store) {
    store
        .alert_turn(vec!["r".into()], |_, mut rows| {
            assert_eq!(rows.len(), 1);
            rows[0].pending = "{\"tallies\":[]}".into();
            rows[0].last_queued_ms = Some(7);
            let added = vec![NewAlert {
                id: "r-1".into(),
                rule: "r".into(),
                message: "{}".into(),
                next_ms: t(0).as_millisecond(),
            }];
            (rows, added)
        })
        .await
        .unwrap();
    assert_eq!(store.next_alert_at().await.unwrap(), Some(t(0)));
    let got = store.claim_alerts(t(1), "one", t(61), 10).await.unwrap();
    assert_eq!(got.len(), 1);
    assert!(
        store
            .claim_alerts(t(2), "two", t(62), 10)
            .await
            .unwrap()
            .is_empty()
    );
    store
        .alert_retry("r-1", t(10), "Slack answered 500")
        .await
        .unwrap();
    assert!(
        store
            .claim_alerts(t(5), "two", t(65), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.next_alert_at().await.unwrap(), Some(t(10)));
    let got = store.claim_alerts(t(10), "two", t(70), 10).await.unwrap();
    assert_eq!((got.len(), got[0].attempts), (1, 1));
    store.alert_sent("r-1", t(11)).await.unwrap();
    assert_eq!(store.next_alert_at().await.unwrap(), None);
    let outbox = store.alert_outbox().await.unwrap();
    assert_eq!(outbox[0].2, "sent");
    assert_eq!(outbox[0].3, 2);
    // The rule's row kept what the turn wrote.
    store
        .alert_turn(vec!["r".into()], |_, rows| {
            assert_eq!(rows[0].last_queued_ms, Some(7));
            assert_eq!(rows[0].pending, "{\"tallies\":[]}");
            (vec![], vec![])
        })
        .await
        .unwrap();
    store.set_alert_mark("running:x", "{}", t(0)).await.unwrap();
    store
        .set_alert_mark("token:7:a:1", "alerted", t(0))
        .await
        .unwrap();
    assert_eq!(store.alert_marks("running:").await.unwrap().len(), 1);
    assert!(store.remove_alert_mark("running:x").await.unwrap());
    assert!(!store.remove_alert_mark("running:x").await.unwrap());
    assert!(store.alert_marks("running:").await.unwrap().is_empty());
    assert!(store.token_expiries().await.unwrap().is_empty());
}
