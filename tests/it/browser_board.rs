//! The board in a real browser (headless Chromium, [`super::browser`]): a
//! daemon (`berrah run`, "now" pinned with `BERRAH_NOW`) holds a post whose
//! Mastodon credentials file is missing; the file is written, the operator
//! presses Retry on the board, the board says what the command says, and
//! the daemon publishes the post to the fake Mastodon, which the board
//! then lists as published with its link. `BERRAH_SCREENSHOTS=1` refreshes
//! `docs/screenshots/board.png`.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use berrah_fakes::mastodon::{DEFAULT_TOKEN, FakeMastodon};

use super::browser::Browser;

/// The daemon's "now": the post is due at once.
const NOW: &str = "2026-12-18T09:00:00Z";

/// A child process killed if the test fails before stopping it.
struct Daemon(Option<Child>);

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The board's HTML as a client without a browser sees it.
async fn board_html(base: &str) -> String {
    match berrah::http::client()
        .get(format!("{base}/board?lang=en"))
        .send()
        .await
    {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Polls the board (30 s at most) until `needle` is in it.
async fn board_until(base: &str, needle: &str) -> String {
    for _ in 0..300 {
        let html = board_html(base).await;
        if html.contains(needle) {
            return html;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "the board never showed `{needle}`:\n{}",
        board_html(base).await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_a_held_post_from_the_board() {
    let Some(browser) = Browser::start("browser_board::retry_a_held_post_from_the_board").await
    else {
        return;
    };
    let fake = FakeMastodon::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("berrah.toml"),
        format!(
            "[daemon]\ndatabase = \"sqlite://data/berrah.db\"\n\n[console]\nenabled = true\n\n\
             [accounts.oim-mastodon]\nplatform = \"mastodon\"\nhandle = \"@oim_maroc\"\n\
             base_url = \"{}\"\ncredentials = \"file:secrets/oim-mastodon.token\"\n",
            fake.url()
        ),
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("campaigns")).unwrap();
    std::fs::create_dir_all(dir.path().join("secrets")).unwrap();
    std::fs::write(
        dir.path().join("campaigns/migrants.toml"),
        "[campaign]\nid = \"migrants-2026\"\ntitle = \"Journée internationale des migrants\"\n\
         timezone = \"Africa/Casablanca\"\nstart = 2026-12-01\nend = 2026-12-31\n\
         accounts = [\"oim-mastodon\"]\nlanguages = [\"fr\"]\n\n\
         [[posts]]\nid = \"capsule-1\"\ndate_time = 2026-12-18T09:00:00\n\
         text = { fr = \"Journée internationale des migrants : découvrez la capsule n°1.\" }\n\n\
         [[posts]]\nid = \"capsule-2\"\ndate_time = 2026-12-19T09:00:00\n\
         text = { fr = \"Capsule n°2 : les parcours.\" }\n",
    )
    .unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let child = Command::new(env!("CARGO_BIN_EXE_berrah"))
        .current_dir(dir.path())
        .env("BERRAH_TZDB", "bundled")
        .env("BERRAH_NOW", NOW)
        .env("RUST_LOG", "warn,berrah=info")
        .env_remove("BERRAH_CONFIG")
        .env_remove("BERRAH_CAMPAIGNS")
        .env_remove("DATABASE_URL")
        .env_remove("NOTIFY_SOCKET")
        .env_remove("JOURNAL_STREAM")
        .args(["--config", "berrah.toml", "run", "--no-watch"])
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("daemon.log")).unwrap())
        .spawn()
        .unwrap();
    let mut daemon = Daemon(Some(child));

    // The first post is held: its credentials file is missing.
    board_until(&base, "<td data-state=\"held\" class=\"some\">2</td>").await;
    browser.open(&format!("{base}/board")).await;
    let row = "#held tr[data-state=\"held\"]";
    browser.wait_for(row).await;
    // Both posts of the account are held; the first due is first.
    let first = browser.text(row).await;
    assert!(first.contains("migrants-2026 / capsule-1"), "{first}");
    assert!(first.contains("account credentials"), "{first}");
    assert_eq!(browser.text("#counts td[data-state=\"held\"]").await, "2");
    browser.docs_screenshot("board").await;

    // The operator fixes the file, then presses Retry.
    std::fs::write(
        dir.path().join("secrets/oim-mastodon.token"),
        format!("{DEFAULT_TOKEN}\n"),
    )
    .unwrap();
    browser
        .click(&format!("{row} form.action button.retry"))
        .await;
    let flash = browser.wait_for("#flash").await;
    let said = flash.text().await.unwrap();
    assert!(said.contains("retried"), "{said}");
    assert!(said.contains("held → scheduled"), "{said}");
    assert!(
        browser
            .attr("#flash", "class")
            .await
            .unwrap()
            .contains("done"),
        "the message is a success"
    );

    // The daemon publishes it: the board lists it as published, with its link.
    board_until(&base, "data-event=\"published\"").await;
    browser.open(&format!("{base}/board")).await;
    let published = "#recent tr[data-event=\"published\"]";
    browser.wait_for(published).await;
    let link = browser
        .attr(&format!("{published} a"), "href")
        .await
        .unwrap();
    assert!(link.starts_with(&fake.url()), "{link}");
    assert_eq!(browser.text("#counts td[data-state=\"held\"]").await, "1");
    assert_eq!(fake.statuses().len(), 1, "published once");
    browser.close().await;

    let child = daemon.0.take().unwrap();
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let mut child = child;
    let _ = child.wait();
    // The daemon logged the board's action as it logs the command's.
    let log = std::fs::read_to_string(dir.path().join("daemon.log")).unwrap();
    let line = log
        .lines()
        .find(|l| l.contains("operator action: retried"))
        .unwrap_or_else(|| panic!("no operator action in the log:\n{log}"));
    assert!(line.contains("user=console"), "{line}");
    assert!(line.contains("host=127.0.0.1"), "{line}");
}

/// A console listening on every address asks for its token: the login
/// form refuses a wrong one, and the right one opens the board (the session
/// cookie, SameSite=Strict, and the form token work in a real browser).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_open_to_the_network_asks_for_its_token() {
    let Some(browser) =
        Browser::start("browser_board::a_console_open_to_the_network_asks_for_its_token").await
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let token = "9c1f3e0b7a5d4c2e8f6a1b3d5c7e9f0a";
    std::fs::write(
        dir.path().join("berrah.toml"),
        "[daemon]\ndatabase = \"sqlite://data/berrah.db\"\n\n\
         [console]\nenabled = true\ntoken = \"file:console.token\"\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("console.token"), format!("{token}\n")).unwrap();
    std::fs::create_dir_all(dir.path().join("campaigns")).unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let child = Command::new(env!("CARGO_BIN_EXE_berrah"))
        .current_dir(dir.path())
        .env("BERRAH_TZDB", "bundled")
        .env("BERRAH_NOW", NOW)
        .env("RUST_LOG", "warn")
        .env_remove("BERRAH_CONFIG")
        .env_remove("BERRAH_CAMPAIGNS")
        .env_remove("DATABASE_URL")
        .env_remove("NOTIFY_SOCKET")
        .env_remove("JOURNAL_STREAM")
        .args(["--config", "berrah.toml", "run", "--no-watch"])
        .args(["--listen", &format!("0.0.0.0:{port}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _daemon = Daemon(Some(child));
    let client = berrah::http::client();
    let mut up = false;
    for _ in 0..300 {
        if client
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "the daemon did not start listening");

    browser.open(&format!("{base}/board")).await;
    browser.wait_for("input[name=\"token\"]").await;
    assert_eq!(
        browser.count("#counts").await,
        0,
        "no board without the token"
    );
    let field = browser.find("input[name=\"token\"]").await;
    field.send_keys("not-the-token").await.unwrap();
    browser.click("section.login button[type=\"submit\"]").await;
    let refused = browser.wait_for("section.login .flash.refused").await;
    assert_eq!(refused.text().await.unwrap(), "This is not the token.");
    let field = browser.find("input[name=\"token\"]").await;
    field.send_keys(token).await.unwrap();
    browser.click("section.login button[type=\"submit\"]").await;
    browser.wait_for("#counts").await;
    assert_eq!(browser.text("h1").await, "Board");
    let html = browser
        .execute("return document.documentElement.outerHTML", vec![])
        .await;
    assert!(!html.as_str().unwrap().contains(token));
    browser.close().await;
}
