//! The operators' board and the console's server: the board's page and
//! actions over HTTP on a real store (SQLite and PostgreSQL), the access
//! token and the login form, the refusals of cross-site requests, and
//! `berrah run` refusing a console reachable from other machines without a
//! token.

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use berrah::config::PlatformKind;
use berrah::console::ConsoleState;
use berrah::console::server::{ConsoleOptions, router};
use berrah::plan::{Content, Occurrence};
use berrah::store::{EntryState, Finish, Store};
use berrah::time::SimClock;
use jiff::Timestamp;
use secrecy::SecretString;

/// "Now" of every test: half an hour after the first posts were due.
const NOW: &str = "2026-12-18T09:30:00Z";

/// The held entry on X (unknown outcome: no retry without force).
const HELD_X: &str = "o-c100000000000000";
/// The held entry on Bluesky (unknown outcome, but the record key dedupes).
const HELD_BSKY: &str = "o-c200000000000000";
const PUBLISHED: &str = "o-c300000000000000";
const NEXT: &str = "o-c400000000000000";

both!(
    board_shows_the_queue_and_acts_like_the_cli,
    board_refuses_cross_site_and_tokenless_posts,
    a_token_guards_every_console_request,
);

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn occ(id: &str, post: &str, account: &str, due: &str) -> Occurrence {
    let due = at(due);
    let platform = match account {
        "oim-x" => PlatformKind::X,
        "oim-bsky" => PlatformKind::Bluesky,
        _ => PlatformKind::Mastodon,
    };
    Occurrence {
        id: id.into(),
        key: format!("amal/c1/{post}/{account}/fr/0"),
        campaign: "amal".into(),
        capsule: Some("c1".into()),
        post: post.into(),
        account: account.into(),
        platform,
        language: "fr".into(),
        due,
        local: due
            .in_tz("Europe/Paris")
            .unwrap()
            .strftime("%Y-%m-%dT%H:%M:%S%:z")
            .to_string(),
        timezone: "Europe/Paris".into(),
        tzdb: "2026f".into(),
        not_after: due + jiff::SignedDuration::from_hours(24),
        series: None,
        paused: false,
        source: "campaigns/amal.toml".into(),
        content: Content {
            text: format!("Texte de {post} — نص"),
            ..Content::default()
        },
    }
}

/// Two entries held after an unknown outcome (X, Bluesky), one published,
/// one scheduled later.
async fn fill(store: &Store) {
    let t0 = "2026-12-18T09:00:00Z";
    let list = vec![
        occ(HELD_X, "p1", "oim-x", t0),
        occ(HELD_BSKY, "p1", "oim-bsky", t0),
        occ(PUBLISHED, "p2", "oim-mastodon", t0),
        occ(NEXT, "p3", "oim-mastodon", "2026-12-18T11:00:00Z"),
    ];
    store
        .sync_campaign("amal", &list, at("2026-12-18T08:00:00Z"))
        .await
        .unwrap();
    let t = at(t0);
    let lease = at("2026-12-18T09:40:00Z");
    let claimed = store.claim_due(t, 20, "host-a", lease).await.unwrap();
    assert_eq!(claimed.len(), 3, "{claimed:?}");
    for e in &claimed {
        store
            .begin_attempt(&e.id, "host-a", t)
            .await
            .unwrap()
            .unwrap();
    }
    let done = at("2026-12-18T09:00:05Z");
    for id in [HELD_X, HELD_BSKY] {
        store
            .finish(
                id,
                "host-a",
                Finish::Held {
                    reason: "the connection dropped after the request was sent".into(),
                },
                done,
            )
            .await
            .unwrap();
    }
    store
        .finish(
            PUBLISHED,
            "host-a",
            Finish::Published {
                remote_id: "111".into(),
                url: Some("https://mastodon.example/@oim/111".into()),
            },
            done,
        )
        .await
        .unwrap();
}

/// A project folder: berrah.toml with the three accounts, an empty campaign folder.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("berrah.toml"),
        "[accounts.oim-x]\nplatform = \"x\"\nhandle = \"@OIM_Maroc\"\n\n\
         [accounts.oim-bsky]\nplatform = \"bluesky\"\n\n\
         [accounts.oim-mastodon]\nplatform = \"mastodon\"\nbase_url = \"https://mastodon.example\"\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("campaigns")).unwrap();
    dir
}

/// Serves the console of `store` on 127.0.0.1 (port chosen by the system).
async fn serve(store: &Store, dir: &std::path::Path, token: Option<&str>) -> String {
    let state = ConsoleState {
        store: store.clone(),
        clock: Arc::new(SimClock::new(at(NOW))),
        campaigns_dir: dir.join("campaigns"),
        config_path: Some(dir.join("berrah.toml")),
        plans: Default::default(),
    };
    let config = berrah::config::read_config(&dir.join("berrah.toml"), true)
        .unwrap()
        .unwrap();
    let app = router(
        state,
        ConsoleOptions {
            token: token.map(|t| SecretString::from(t.to_string())),
            config: Arc::new(config),
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    format!("http://{addr}")
}

/// A browser of sorts: keeps the cookies it is given.
struct Browser {
    base: String,
    cookies: Vec<(String, String)>,
    client: reqwest::Client,
}

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Browser {
    fn new(base: &str) -> Browser {
        Browser {
            base: base.to_string(),
            cookies: Vec::new(),
            client: berrah::http::client(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn send(&mut self, req: reqwest::RequestBuilder) -> Answer {
        let req = if self.cookies.is_empty() {
            req
        } else {
            req.header("cookie", self.cookie_header())
        };
        let r = req.send().await.unwrap();
        for c in r.headers().get_all("set-cookie") {
            let c = c.to_str().unwrap();
            let (pair, _) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = pair.split_once('=').unwrap();
            self.cookies.retain(|(n, _)| n != k);
            if !v.is_empty() {
                self.cookies.push((k.to_string(), v.to_string()));
            }
        }
        Answer {
            status: r.status().as_u16(),
            headers: r.headers().clone(),
            body: r.text().await.unwrap(),
        }
    }

    async fn get(&mut self, path: &str) -> Answer {
        let req = self.client.get(format!("{}{path}", self.base));
        self.send(req).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)], extra: &[(&str, &str)]) -> Answer {
        let mut req = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(
                url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(form)
                    .finish(),
            );
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        self.send(req).await
    }
}

/// The form token of a page.
fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a form token") + 19;
    html[at..].split('"').next().unwrap().to_string()
}

fn location(a: &Answer) -> String {
    a.headers
        .get("location")
        .expect("a redirect")
        .to_str()
        .unwrap()
        .to_string()
}

async fn state(store: &Store, id: &str) -> EntryState {
    store.get(id).await.unwrap().state
}

async fn board_shows_the_queue_and_acts_like_the_cli(store: Store) {
    fill(&store).await;
    let dir = project();
    let base = serve(&store, dir.path(), None).await;
    let mut b = Browser::new(&base);

    let root = b.get("/").await;
    assert_eq!(root.status, 303);
    assert_eq!(location(&root), "/calendar");
    let set = root.headers["set-cookie"].to_str().unwrap();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );

    let page = b.get("/board?lang=en").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let h = &page.headers;
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src 'none'")
    );
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["cache-control"], "no-store");
    assert!(!h.contains_key("set-cookie"), "the browser's id is kept");
    let body = &page.body;
    for needle in [
        "Held (waiting for an operator)",
        "o-c100000000",
        "o-c200000000",
        "unknown outcome",
        // Local time with its offset, and UTC, as the commands show it.
        "2026-12-18 10:00 +01:00 (09:00 UTC)",
        "href=\"https://mastodon.example/@oim/111\"",
        "Next posts due",
        "oim-mastodon",
    ] {
        assert!(body.contains(needle), "missing `{needle}` in {body}");
    }
    assert!(!body.contains("<script"), "no script");
    let csrf = csrf_of(body);

    // A retry of a held entry on Bluesky: done, recorded as the CLI's.
    let r = b
        .post(
            "/board/retry",
            &[("csrf", &csrf), ("id", HELD_BSKY), ("back", "lang=en")],
            &[],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let to = location(&r);
    assert!(
        to.starts_with("/board?lang=en&result=done&msg=retried+o-c200000000"),
        "{to}"
    );
    assert_eq!(state(&store, HELD_BSKY).await, EntryState::Scheduled);
    let actions = store.take_unlogged_actions(at(NOW)).await.unwrap();
    assert_eq!(actions.len(), 1, "{actions:?}");
    assert_eq!(actions[0].action, "retry");
    assert_eq!(actions[0].user, "console");
    assert_eq!(actions[0].host, "127.0.0.1");
    assert_eq!(actions[0].ids, vec![HELD_BSKY.to_string()]);
    let shown = b.get(&to).await;
    assert!(
        shown.body.contains("retried o-c200000000"),
        "{}",
        shown.body
    );
    assert!(shown.body.contains("held → scheduled"), "{}", shown.body);

    // The same retry on X refuses as `berrah retry` does, and says why.
    let r = b
        .post("/board/retry", &[("csrf", &csrf), ("id", HELD_X)], &[])
        .await;
    let to = location(&r);
    assert!(to.contains("result=refused"), "{to}");
    assert_eq!(state(&store, HELD_X).await, EntryState::Held);
    let shown = b.get(&to).await;
    for needle in [
        "may have reached oim-x (x), which cannot drop a duplicate",
        "open https://x.com/OIM_Maroc",
        "class=\"flash refused\"",
    ] {
        assert!(
            shown.body.contains(needle),
            "missing `{needle}` in {}",
            shown.body
        );
    }
    // With the box ticked (`--force`), it goes.
    let r = b
        .post(
            "/board/retry",
            &[("csrf", &csrf), ("id", HELD_X), ("force", "1")],
            &[],
        )
        .await;
    assert!(location(&r).contains("result=done"), "{}", location(&r));
    assert_eq!(state(&store, HELD_X).await, EntryState::Scheduled);

    // Cancel, pause and resume: the CLI's functions and words.
    let r = b
        .post("/board/cancel", &[("csrf", &csrf), ("id", NEXT)], &[])
        .await;
    assert!(
        location(&r).contains("msg=cancelled+o-c400000000"),
        "{}",
        location(&r)
    );
    assert_eq!(state(&store, NEXT).await, EntryState::Cancelled);
    let r = b
        .post("/board/cancel", &[("csrf", &csrf), ("id", PUBLISHED)], &[])
        .await;
    assert!(location(&r).contains("result=refused"), "{}", location(&r));
    let r = b
        .post(
            "/board/pause",
            &[("csrf", &csrf), ("scope", "account"), ("name", "oim-x")],
            &[],
        )
        .await;
    assert!(
        location(&r).contains("msg=paused+account+oim-x"),
        "{}",
        location(&r)
    );
    let pauses = store.pauses().await.unwrap();
    assert_eq!(pauses.len(), 1, "{pauses:?}");
    let page = b.get("/board").await;
    assert!(page.body.contains("Reprendre"), "a resume button in French");
    let r = b
        .post(
            "/board/resume",
            &[("csrf", &csrf), ("scope", "account"), ("name", "oim-x")],
            &[],
        )
        .await;
    assert!(
        location(&r).contains("msg=resumed+account+oim-x"),
        "{}",
        location(&r)
    );
    assert!(store.pauses().await.unwrap().is_empty());
    let r = b
        .post(
            "/board/pause",
            &[("csrf", &csrf), ("scope", "campaign"), ("name", "amall")],
            &[],
        )
        .await;
    assert!(location(&r).contains("did+you+mean"), "{}", location(&r));

    // A message in a link made elsewhere is not shown.
    let forged = b
        .get("/board?result=done&msg=Your+token+expired%3A+sign+in+at+evil.example&tag=00")
        .await;
    assert!(!forged.body.contains("evil.example"), "{}", forged.body);

    // Filters are status's: by state, by account, and a bad word says so.
    let page = b.get("/board?state=cancelled&lang=en").await;
    assert!(
        page.body.contains("data-state=\"cancelled\""),
        "{}",
        page.body
    );
    let page = b.get("/board?since=fortnight&lang=en").await;
    assert!(
        page.body.contains("cannot read `fortnight` as a moment"),
        "{}",
        page.body
    );
    let page = b.get("/board?account=oim-xx&lang=en").await;
    assert!(page.body.contains("did you mean `oim-x`?"), "{}", page.body);
    // The stylesheet is served.
    let css = b.get("/console.css").await;
    assert_eq!(css.status, 200);
    assert!(
        css.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
}

async fn board_refuses_cross_site_and_tokenless_posts(store: Store) {
    fill(&store).await;
    let dir = project();
    let base = serve(&store, dir.path(), None).await;
    let mut b = Browser::new(&base);
    let page = b.get("/board").await;
    let csrf = csrf_of(&page.body);

    // No form token: 403, nothing changed.
    let r = b.post("/board/retry", &[("id", HELD_BSKY)], &[]).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(state(&store, HELD_BSKY).await, EntryState::Held);
    // Another browser's token (no cookie): 403.
    let mut other = Browser::new(&base);
    let r = other
        .post("/board/retry", &[("csrf", &csrf), ("id", HELD_BSKY)], &[])
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    // A page of another site posting with the victim's cookie and token: 403.
    let r = b
        .post(
            "/board/retry",
            &[("csrf", &csrf), ("id", HELD_BSKY)],
            &[("origin", "https://evil.example")],
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = b
        .post(
            "/board/retry",
            &[("csrf", &csrf), ("id", HELD_BSKY)],
            &[("sec-fetch-site", "cross-site")],
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(state(&store, HELD_BSKY).await, EntryState::Held);
    assert!(
        store
            .take_unlogged_actions(at(NOW))
            .await
            .unwrap()
            .is_empty()
    );
    // The same origin passes.
    let origin = base.clone();
    let r = b
        .post(
            "/board/retry",
            &[("csrf", &csrf), ("id", HELD_BSKY)],
            &[("origin", &origin), ("sec-fetch-site", "same-origin")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(state(&store, HELD_BSKY).await, EntryState::Scheduled);
    // Actions are POST only.
    let r = b.get(&format!("/board/retry?id={HELD_X}")).await;
    assert_eq!(r.status, 405);
}

async fn a_token_guards_every_console_request(store: Store) {
    fill(&store).await;
    let dir = project();
    let token = "console-token-for-the-tests-7f3a";
    let base = serve(&store, dir.path(), Some(token)).await;
    let mut b = Browser::new(&base);
    for path in ["/board", "/", "/board?lang=en"] {
        let r = b.get(path).await;
        assert_eq!(r.status, 401, "{path}: {}", r.body);
        assert!(r.headers.contains_key("www-authenticate"));
        assert!(r.body.contains("name=\"token\""), "the login form");
        assert!(!r.body.contains(token));
    }
    // A POST without the token is refused before anything else.
    let r = b.post("/board/retry", &[("id", HELD_BSKY)], &[]).await;
    assert_eq!(r.status, 401);
    // A bearer token opens it.
    let client = berrah::http::client();
    let r = client
        .get(format!("{base}/board"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let r = client
        .get(format!("{base}/board"))
        .bearer_auth("not-the-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    // The login form: a wrong token refused, the right one gives a session
    // cookie (not the token) that opens the board.
    let login = b.get("/login").await;
    assert_eq!(login.status, 200);
    let csrf = csrf_of(&login.body);
    let r = b
        .post(
            "/login",
            &[("csrf", &csrf), ("token", "wrong"), ("next", "/board")],
            &[],
        )
        .await;
    assert_eq!(r.status, 401);
    let r = b
        .post(
            "/login",
            &[("csrf", &csrf), ("token", token), ("next", "/board")],
            &[],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(location(&r), "/board");
    let set = r.headers["set-cookie"].to_str().unwrap();
    assert!(set.starts_with("berrah_session="), "{set}");
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    assert!(!set.contains(token));
    let page = b.get("/board").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(!page.body.contains(token));
    // Signed in, an action still needs its form token.
    let r = b.post("/board/retry", &[("id", HELD_BSKY)], &[]).await;
    assert_eq!(r.status, 403);
    let csrf = csrf_of(&page.body);
    let r = b
        .post("/board/retry", &[("csrf", &csrf), ("id", HELD_BSKY)], &[])
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(state(&store, HELD_BSKY).await, EntryState::Scheduled);
    // An open redirect is not offered by the login form.
    let r = b
        .post(
            "/login",
            &[
                ("csrf", &csrf),
                ("token", token),
                ("next", "//evil.example/"),
            ],
            &[],
        )
        .await;
    assert_eq!(location(&r), "/board");
}

// ---------------------------------------------------------------------------
// Through the binary.
// ---------------------------------------------------------------------------

fn binary_project(console: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("berrah.toml"),
        format!(
            "[daemon]\ndatabase = \"sqlite://data/berrah.db\"\n\n[console]\n{console}\n\n\
             [accounts.oim-mastodon]\nplatform = \"mastodon\"\nbase_url = \"https://mastodon.example\"\n"
        ),
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("campaigns")).unwrap();
    dir
}

fn berrah_run(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_berrah"));
    cmd.current_dir(dir)
        .env("BERRAH_TZDB", "bundled")
        .env("BERRAH_NOW", NOW)
        .env("RUST_LOG", "warn,berrah=info")
        .env_remove("BERRAH_CONFIG")
        .env_remove("BERRAH_CAMPAIGNS")
        .env_remove("DATABASE_URL")
        .env_remove("BERRAH_LOG_FORMAT")
        .env_remove("NOTIFY_SOCKET")
        .env_remove("JOURNAL_STREAM")
        .args(["--config", "berrah.toml", "run", "--no-watch"])
        .stdin(Stdio::null());
    cmd
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn run_refuses_a_console_open_to_other_machines_without_a_token() {
    let dir = binary_project("enabled = true");
    let port = free_port();
    let out = berrah_run(dir.path())
        .args(["--listen", &format!("0.0.0.0:{port}")])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "the console would be reachable from other machines on 0.0.0.0:{port} without an access token"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("token = \"env:BERRAH_CONSOLE_TOKEN\""),
        "{stderr}"
    );
    assert!(
        !dir.path().join("data/berrah.db").exists(),
        "nothing was started"
    );
    // A token source that cannot be read stops it too, without its value.
    let dir = binary_project("enabled = true\ntoken = \"env:BERRAH_CONSOLE_TEST_NEVER_SET\"");
    let out = berrah_run(dir.path())
        .env_remove("BERRAH_CONSOLE_TEST_NEVER_SET")
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("BERRAH_CONSOLE_TEST_NEVER_SET` is not set"),
        "{stderr}"
    );
    // The token itself in berrah.toml is a configuration error that does not repeat it.
    let dir = binary_project("enabled = true\ntoken = \"hunter2-pasted-token\"");
    let out = berrah_run(dir.path()).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("not be the token"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_serves_the_console_behind_its_token() {
    let dir = binary_project("enabled = true\ntoken = \"file:console.token\"");
    let token = "a-long-console-token-from-a-file";
    std::fs::write(dir.path().join("console.token"), format!("{token}\n")).unwrap();
    let port = free_port();
    let child = berrah_run(dir.path())
        .args(["--listen", &format!("0.0.0.0:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = Killed(Some(child));
    let base = format!("http://127.0.0.1:{port}");
    let client = berrah::http::client();
    let mut ready = false;
    for _ in 0..600 {
        if let Ok(r) = client.get(format!("{base}/healthz")).send().await
            && r.status().is_success()
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    {
        assert!(ready, "the daemon did not start listening");
        let r = client.get(format!("{base}/board")).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 401);
        let r = client
            .get(format!("{base}/board"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let body = r.text().await.unwrap();
        assert!(body.contains("berrah"), "{body}");
        assert!(!body.contains(token));
        // The metrics stay where they were.
        let r = client.get(format!("{base}/metrics")).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200);
    }
    let child = child.0.take().unwrap();
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let out = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(!log.contains(token), "the token is never logged: {log}");
    assert!(log.contains("serving the console on"), "{log}");
}

/// A child process killed if the test fails before stopping it.
struct Killed(Option<std::process::Child>);

impl Drop for Killed {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
