//! Integration tests: the browser harness. A real headless Chromium driven
//! over WebDriver (Debian's `chromium` and `chromium-driver`, which
//! scripts/test installs), for the web console's tests (the calendar, the
//! post pages, the board) and anything else that must be seen as a browser
//! renders it: right-to-left text, computed styles, screenshots.
//!
//! A test starts one [`Browser`]:
//!
//! ```ignore
//! let Some(browser) = Browser::start("browser_calendar::month_is_rtl").await else {
//!     return; // skipped loudly: no chromedriver here (a failure when CI is set)
//! };
//! browser.open(&file_url(&dir.path().join("index.html"))).await;
//! assert_eq!(browser.computed_style("main", "direction").await, "rtl");
//! browser.docs_screenshot("calendar-month").await;
//! browser.close().await;
//! ```
//!
//! - **Skip or fail.** Without `chromedriver` or `chromium`, [`Browser::start`]
//!   says `SKIPPED (browser): ...` on stderr and returns `None`; when `CI` is
//!   set it panics instead, so CI never passes a browser test it did not run.
//! - **Deterministic.** Headless (`--headless=new`), a fixed window of
//!   1280x900 (CSS pixels, device scale 1), a fixed interface language and
//!   Accept-Language (`en-US` unless [`Options::lang`] says otherwise), the
//!   time zone UTC, the fonts the machine has installed (Debian's DejaVu and
//!   Liberation, which cover Arabic and Latin), no background networking, a
//!   fresh profile in a temporary folder. Only 127.0.0.1 is contacted.
//! - **One at a time.** Browsers are heavy for the 2-core machines: a
//!   [`Browser`] holds a process-wide permit, so browser tests of the same
//!   test binary run one after the other (the rest of the suite does not wait).
//! - **Pages.** [`file_url`] turns a file or folder into a `file://` URL (the
//!   static pages of `berrah preview --out DIR`); [`serve_dir`] serves a folder
//!   over a tiny HTTP server on 127.0.0.1 for pages that need `http://`
//!   (fetches, absolute links). The console's own server is tested as itself.
//! - **Screenshots.** [`Browser::screenshot_to`] writes a PNG where it is told
//!   (tests use a temporary folder). [`Browser::docs_screenshot`] writes
//!   `docs/screenshots/NAME.png` in the repository **only when
//!   `BERRAH_SCREENSHOTS=1`** (run the tests with it to refresh the README's
//!   pictures, then commit them); otherwise it writes nothing, so CI and
//!   ordinary runs never dirty the tree.
//! - **Clean up.** Dropping a [`Browser`] kills chromedriver and the Chromium
//!   it started (their whole process group); [`Browser::close`] first ends
//!   the WebDriver session politely.

#![allow(dead_code)]

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// How a [`Browser`] is set up; [`Options::default`] is what tests use
/// unless they check something language- or size-dependent.
#[derive(Debug, Clone)]
pub struct Options {
    /// Chromium's interface language and the Accept-Language it sends
    /// (`navigator.language`), e.g. `en-US`, `fr-FR`, `ar-MA`.
    pub lang: String,
    /// The viewport, in CSS pixels.
    pub width: u32,
    pub height: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            lang: "en-US".into(),
            width: 1280,
            height: 900,
        }
    }
}

/// The programs a browser test needs, found or not.
struct Programs {
    chromedriver: PathBuf,
    chromium: PathBuf,
}

fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty())
}

/// The first of `names` found in /usr/bin or on PATH.
fn find_program(names: &[&str]) -> Option<PathBuf> {
    for name in names {
        let usr = Path::new("/usr/bin").join(name);
        if usr.is_file() {
            return Some(usr);
        }
        if let Some(found) = std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|p| p.join(name))
                .find(|p| p.is_file())
        }) {
            return Some(found);
        }
    }
    None
}

/// chromedriver and chromium; `None` after saying so loudly (a panic when
/// CI is set) when one is missing.
fn programs_or_skip(test: &str) -> Option<Programs> {
    let chromedriver = find_program(&["chromedriver"]);
    let chromium = find_program(&["chromium", "chromium-browser"]);
    match (chromedriver, chromium) {
        (Some(chromedriver), Some(chromium)) => Some(Programs {
            chromedriver,
            chromium,
        }),
        (driver, browser) => {
            let missing = match (driver, browser) {
                (None, None) => "chromedriver and chromium are",
                (None, _) => "chromedriver is",
                _ => "chromium is",
            };
            if in_ci() {
                panic!(
                    "{test}: {missing} not installed, and CI is set: scripts/test installs Debian's `chromium` and `chromium-driver` packages"
                );
            }
            eprintln!(
                "SKIPPED (browser): {test} — {missing} missing; install them with `apt-get install --no-install-recommends chromium chromium-driver` (scripts/test does)"
            );
            None
        }
    }
}

/// One browser at a time per test binary (see the module comment).
static ONE_AT_A_TIME: LazyLock<Arc<tokio::sync::Semaphore>> =
    LazyLock::new(|| Arc::new(tokio::sync::Semaphore::new(1)));

/// A free TCP port on 127.0.0.1 (asked of the kernel, then released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A headless Chromium under chromedriver, with a WebDriver session.
pub struct Browser {
    client: Option<Client>,
    driver: Child,
    /// The profile and chromedriver's log.
    dir: tempfile::TempDir,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium with [`Options::default`].
    /// `None` when they are not installed (said on stderr; a panic in CI).
    /// `test` names the test in that message.
    pub async fn start(test: &str) -> Option<Browser> {
        Self::start_with(test, Options::default()).await
    }

    /// As [`Browser::start`], with other [`Options`].
    pub async fn start_with(test: &str, options: Options) -> Option<Browser> {
        let programs = programs_or_skip(test)?;
        let permit = ONE_AT_A_TIME.clone().acquire_owned().await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let log_path = dir.path().join("chromedriver.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let port = free_port();
        let driver = Command::new(&programs.chromedriver)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .env("TZ", "UTC")
            .env("LANG", "C.UTF-8")
            .env("LANGUAGE", options.lang.replace('-', "_"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            // its own process group, so that dropping the Browser kills
            // chromedriver and every Chromium process it started
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("{test}: cannot start chromedriver: {e}"));
        let mut browser = Browser {
            client: None,
            driver,
            dir,
            _permit: permit,
        };
        browser.wait_for_driver(test, port, &log_path).await;

        let profile = browser.dir.path().join("profile");
        let mut args = vec![
            "--headless=new".to_string(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            format!("--window-size={},{}", options.width, options.height),
            "--force-device-scale-factor=1".into(),
            "--hide-scrollbars".into(),
            "--font-render-hinting=none".into(),
            format!("--lang={}", options.lang),
            format!("--user-data-dir={}", profile.display()),
            "--no-first-run".into(),
            "--no-default-browser-check".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-default-apps".into(),
            "--disable-extensions".into(),
            "--disable-sync".into(),
            "--mute-audio".into(),
        ];
        // Chromium's sandbox refuses to run as root (containers, CI).
        // SAFETY: geteuid has no preconditions and cannot fail.
        if unsafe { libc::geteuid() } == 0 {
            args.push("--no-sandbox".into());
        }
        let accept_language = match options.lang.split_once('-') {
            Some((primary, _)) => format!("{},{primary}", options.lang),
            None => options.lang.clone(),
        };
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), json!("chrome"));
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": programs.chromium,
                "args": args,
                "prefs": { "intl.accept_languages": accept_language },
            }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "{test}: no WebDriver session with Chromium: {e}\nchromedriver's log:\n{}",
                    std::fs::read_to_string(&log_path).unwrap_or_default()
                )
            });
        browser.client = Some(client);
        browser.fit_viewport(&options).await;
        Some(browser)
    }

    /// Waits (20 s at most) until chromedriver answers on its port.
    async fn wait_for_driver(&mut self, test: &str, port: u16, log_path: &Path) {
        let end = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return;
            }
            let exited = self.driver.try_wait().unwrap();
            if exited.is_some() || std::time::Instant::now() > end {
                panic!(
                    "{test}: chromedriver did not answer on 127.0.0.1:{port} ({}); its log:\n{}",
                    match exited {
                        Some(status) => format!("it exited: {status}"),
                        None => "20 s".into(),
                    },
                    std::fs::read_to_string(log_path).unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `--window-size` is the window's outer size: headless Chromium still
    /// keeps room for its (invisible) toolbar. The window grows by that much,
    /// so that the viewport (`innerWidth` x `innerHeight`) is what was asked.
    async fn fit_viewport(&self, options: &Options) {
        let sizes = self
            .execute(
                "return [outerWidth - innerWidth, outerHeight - innerHeight];",
                vec![],
            )
            .await;
        let extra = |i: usize| {
            sizes[i]
                .as_u64()
                .and_then(|v| u32::try_from(v).ok())
                .unwrap_or(0)
        };
        if extra(0) > 0 || extra(1) > 0 {
            self.client()
                .set_window_size(options.width + extra(0), options.height + extra(1))
                .await
                .unwrap_or_else(|e| panic!("cannot size the window: {e}"));
        }
    }

    /// The fantoccini client, for what the helpers below do not cover.
    pub fn client(&self) -> &Client {
        self.client.as_ref().expect("a started browser")
    }

    /// Goes to `url` and waits until the page has loaded.
    pub async fn open(&self, url: &str) {
        self.client()
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("cannot open {url}: {e}"));
    }

    /// The first element matching the CSS `selector` (panics when none).
    pub async fn find(&self, selector: &str) -> Element {
        self.client()
            .find(Locator::Css(selector))
            .await
            .unwrap_or_else(|e| panic!("no element matches `{selector}`: {e}"))
    }

    /// Every element matching the CSS `selector`.
    pub async fn find_all(&self, selector: &str) -> Vec<Element> {
        self.client()
            .find_all(Locator::Css(selector))
            .await
            .unwrap_or_else(|e| panic!("cannot search `{selector}`: {e}"))
    }

    /// How many elements match the CSS `selector`.
    pub async fn count(&self, selector: &str) -> usize {
        self.find_all(selector).await.len()
    }

    /// Waits (10 s at most) until an element matches `selector`, e.g. after
    /// a click that loads another page.
    pub async fn wait_for(&self, selector: &str) -> Element {
        self.client()
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(selector))
            .await
            .unwrap_or_else(|e| panic!("no element matched `{selector}` within 10 s: {e}"))
    }

    /// The rendered text of the first element matching `selector` (as a
    /// reader sees it: hidden parts left out, white space collapsed).
    pub async fn text(&self, selector: &str) -> String {
        self.find(selector)
            .await
            .text()
            .await
            .unwrap_or_else(|e| panic!("no text for `{selector}`: {e}"))
    }

    /// An attribute of the first element matching `selector`.
    pub async fn attr(&self, selector: &str, name: &str) -> Option<String> {
        self.find(selector)
            .await
            .attr(name)
            .await
            .unwrap_or_else(|e| panic!("no attribute {name} for `{selector}`: {e}"))
    }

    /// Clicks the first element matching `selector`.
    pub async fn click(&self, selector: &str) {
        self.find(selector)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("cannot click `{selector}`: {e}"));
    }

    /// Runs JavaScript in the page (`arguments[i]` are `args`) and returns
    /// what it `return`s.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        self.client()
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// `getComputedStyle(element).getPropertyValue(property)` of the first
    /// element matching `selector`: e.g. `direction` → `rtl`, `color` →
    /// `rgb(…)`, `font-family`, `display`.
    pub async fn computed_style(&self, selector: &str, property: &str) -> String {
        let value = self
            .execute(
                "const e = document.querySelector(arguments[0]);\
                 return e === null ? null : getComputedStyle(e).getPropertyValue(arguments[1]);",
                vec![json!(selector), json!(property)],
            )
            .await;
        match value {
            Value::String(s) => s,
            _ => panic!("no element matches `{selector}` (computed style {property})"),
        }
    }

    /// A PNG of the viewport, written to `path` (its folder is created).
    pub async fn screenshot_to(&self, path: &Path) {
        let png = self
            .client()
            .screenshot()
            .await
            .unwrap_or_else(|e| panic!("no screenshot: {e}"));
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(path, png)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    }

    /// `docs/screenshots/NAME.png` in the repository, written only when
    /// `BERRAH_SCREENSHOTS=1` (see the module comment); its path then.
    pub async fn docs_screenshot(&self, name: &str) -> Option<PathBuf> {
        if std::env::var("BERRAH_SCREENSHOTS").as_deref() != Ok("1") {
            return None;
        }
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("docs/screenshots")
            .join(format!("{name}.png"));
        self.screenshot_to(&path).await;
        eprintln!("screenshot: docs/screenshots/{name}.png");
        Some(path)
    }

    /// Ends the WebDriver session (Chromium quits), then chromedriver.
    pub async fn close(mut self) {
        if let Some(client) = self.client.take() {
            let _ = client.close().await;
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // chromedriver and the Chromium it started share its process group.
        let pid = self.driver.id() as libc::pid_t;
        // SAFETY: kill has no memory-safety preconditions; the group is the
        // one chromedriver was started in (process_group(0)).
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
        let _ = self.driver.wait();
    }
}

/// `file://` URL of a file or folder (absolute, percent-encoded).
pub fn file_url(path: &Path) -> String {
    let path = std::path::absolute(path).unwrap();
    if path.is_dir() {
        url::Url::from_directory_path(&path)
    } else {
        url::Url::from_file_path(&path)
    }
    .unwrap_or_else(|()| panic!("no file URL for {}", path.display()))
    .to_string()
}

/// A folder served over HTTP on 127.0.0.1 (GET only; `/` and `…/` give
/// `index.html`); stops when dropped.
pub struct Served {
    /// `http://127.0.0.1:PORT/`.
    pub base: String,
    task: tokio::task::JoinHandle<()>,
}

impl Served {
    /// `base` joined with a path relative to the folder (`"2026/12/"`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path.trim_start_matches('/'))
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `dir` over a tiny HTTP server on 127.0.0.1, for pages that must
/// not be opened as `file://`. Runs on the test's tokio runtime.
pub async fn serve_dir(dir: &Path) -> Served {
    let root = std::path::absolute(dir).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let root = root.clone();
            tokio::spawn(async move {
                let _ = serve_one(stream, &root).await;
            });
        }
    });
    Served { base, task }
}

/// One request of [`serve_dir`], answered and closed.
async fn serve_one(mut stream: tokio::net::TcpStream, root: &Path) -> std::io::Result<()> {
    let mut request = Vec::new();
    let mut buf = [0u8; 4096];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await?;
        if n == 0 || request.len() > 64 * 1024 {
            return Ok(());
        }
        request.extend_from_slice(&buf[..n]);
    }
    let request = String::from_utf8_lossy(&request);
    let mut first = request.lines().next().unwrap_or("").split(' ');
    let (method, target) = (first.next().unwrap_or(""), first.next().unwrap_or("/"));
    let path = target.split(['?', '#']).next().unwrap_or("/");
    let decoded = percent_decode(path);
    let mut file = root.to_path_buf();
    let mut safe = method == "GET" || method == "HEAD";
    for segment in decoded.split('/').filter(|s| !s.is_empty() && *s != ".") {
        safe &= segment != ".." && !segment.contains('\\');
        file.push(segment);
    }
    if decoded.ends_with('/') || file.is_dir() {
        file.push("index.html");
    }
    let (status, body, kind) = match std::fs::read(&file) {
        Ok(body) if safe => (
            "200 OK",
            body,
            content_type(file.extension().and_then(|e| e.to_str()).unwrap_or("")),
        ),
        _ => (
            "404 Not Found",
            b"not found".to_vec(),
            "text/plain; charset=utf-8",
        ),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    if method != "HEAD" {
        stream.write_all(&body).await?;
    }
    stream.shutdown().await
}

fn content_type(extension: &str) -> &'static str {
    match extension {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "ics" => "text/calendar; charset=utf-8",
        "txt" => "text/plain; charset=utf-8",
        "woff2" => "font/woff2",
        _ => "application/octet-stream",
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The harness itself: a local page with an Arabic paragraph in `dir=rtl`
/// is laid out right to left, in the fixed window and language, served both
/// as `file://` and over HTTP; a screenshot is a PNG.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn harness_renders_arabic_right_to_left() {
    let Some(browser) = Browser::start("browser::harness_renders_arabic_right_to_left").await
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("index.html"),
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>harness</title>
<style>body { margin: 0; font-family: "DejaVu Sans", sans-serif; } p { margin: 1em; }</style></head>
<body>
<p id="ar" lang="ar" dir="rtl">حملة التلقيح: من ١٨ إلى ٢٤ دجنبر في جميع المراكز الصحية.</p>
<p id="en">Vaccination campaign, 18–24 December.</p>
</body></html>
"#,
    )
    .unwrap();

    browser
        .open(&file_url(&dir.path().join("index.html")))
        .await;
    assert_eq!(browser.computed_style("#ar", "direction").await, "rtl");
    assert_eq!(browser.computed_style("#en", "direction").await, "ltr");
    assert!(browser.text("#ar").await.starts_with("حملة التلقيح"));
    assert_eq!(browser.count("p").await, 2);
    // The Arabic line ends at the right edge: its text starts there.
    let (right_gap, left_gap) = {
        let v = browser
            .execute(
                "const p = document.getElementById('ar');\
                 const r = document.createRange(); r.selectNodeContents(p);\
                 const t = r.getBoundingClientRect(), b = p.getBoundingClientRect();\
                 return [b.right - t.right, t.left - b.left];",
                vec![],
            )
            .await;
        (v[0].as_f64().unwrap(), v[1].as_f64().unwrap())
    };
    assert!(
        right_gap < 1.0 && left_gap > 1.0,
        "right-aligned: gaps right {right_gap}, left {left_gap}"
    );
    // The fixed window and language.
    let env = browser
        .execute(
            "return [innerWidth, innerHeight, navigator.language, \
             Intl.DateTimeFormat().resolvedOptions().timeZone];",
            vec![],
        )
        .await;
    assert_eq!(env, json!([1280, 900, "en-US", "UTC"]));

    let shot = dir.path().join("shots/harness.png");
    browser.screenshot_to(&shot).await;
    let png = std::fs::read(&shot).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");

    // The same folder over HTTP.
    let served = serve_dir(dir.path()).await;
    browser.open(&served.base).await;
    assert_eq!(browser.computed_style("#ar", "direction").await, "rtl");
    browser.open(&served.url("missing.html")).await;
    assert_eq!(browser.text("body").await, "not found");

    browser.close().await;
}
