//! `cargo bench --bench daemon`: the daemon against the [`Faulty`] fake
//! server on loopback, with the real clock. Prints plain lines the README
//! quotes:
//!
//! 1. publications per second through the whole pipeline (claim → record
//!    the attempt → `POST` to the fake over loopback HTTP → record the
//!    outcome) for 10,000 posts due at once, on SQLite and (when
//!    `BERRAH_TEST_POSTGRES_URL` is set) PostgreSQL; beside it the rate
//!    `wrk -t2 -c16 -d5s` reaches against the same fake server in the same
//!    run (when `wrk` is on `PATH`), so the figure reads as a fraction of
//!    the loopback limit;
//! 2. lateness (due time → request received by the fake) p50/p99/max for
//!    200 posts due one by one, 50 ms apart;
//! 3. peak memory (VmHWM) of a daemon with 100,000 queued posts (synced, not
//!    yet due), measured in a child process of its own so that the bench's
//!    own data does not count;
//! 4. CPU time (user + sys) of that idle daemon over `BERRAH_BENCH_IDLE_SECS`
//!    seconds (default 60; the first argument that is a number also sets it).
//!
//! Targets on the project's 2-core machines (issue 3): at least 2,000
//! publications per second on SQLite, lateness p99 under 10 ms, under 50 MB
//! with 100,000 queued, idle CPU under 0.1 %.
//!
//! The burst is spread over [`ACCOUNTS`] webhook accounts, one publication in
//! flight per account (the daemon's default), with `workers` and the
//! per-platform limit raised to match ([`ACCOUNTS`] each; the daemon's
//! defaults, 16 and 8, would run 8 at a time). Knobs (environment):
//! `BERRAH_BENCH_ACCOUNTS`, `BERRAH_BENCH_ACCOUNT_CONCURRENCY` (publications
//! in flight per account), `BERRAH_BENCH_PER_PLATFORM`, `BERRAH_BENCH_WORKERS`
//! (`default` for the daemon's own defaults of these two),
//! `BERRAH_BENCH_BURST` (posts due at once, default 10,000), `BERRAH_BENCH_ONLY`
//! (e.g. `lateness,sqlite`: run only those parts; see [`Only`]).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use berrah::config::{Config, PlatformKind};
use berrah::plan::{Content, Occurrence};
use berrah::platforms::Platform;
use berrah::scheduler::{Daemon, DaemonConfig, PlatformFactory};
use berrah::store::Store;
use berrah::time::SystemClock;
use berrah_fakes::faulty::{Faulty, FaultyClient, FaultyPost};
use jiff::{SignedDuration, Timestamp};
use tokio_util::sync::CancellationToken;

/// Webhook accounts the posts are spread over (`BERRAH_BENCH_ACCOUNTS`).
const ACCOUNTS: usize = 64;
/// Posts due at once for the throughput figure (`BERRAH_BENCH_BURST` to change).
const BURST: usize = 10_000;
/// Posts due one by one for the lateness figure, and how far apart.
const ONE_BY_ONE: usize = 200;
const APART: Duration = Duration::from_millis(50);
/// Posts queued for the memory and idle figures.
const QUEUED: usize = 100_000;
/// Occurrences per generated campaign (one `sync_campaign` each).
const PER_CAMPAIGN: usize = 1_000;

fn env_usize(name: &str) -> Option<usize> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

/// The bench's settings, printed with the figures.
#[derive(Debug, Clone, Copy)]
struct Settings {
    accounts: usize,
    account_concurrency: usize,
    per_platform: usize,
    workers: Option<usize>,
    idle_secs: u64,
    burst: usize,
}

impl Settings {
    fn read(args: &[String]) -> Settings {
        let idle_secs = args
            .iter()
            .find_map(|a| a.parse::<u64>().ok())
            .or_else(|| env_usize("BERRAH_BENCH_IDLE_SECS").map(|n| n as u64))
            .unwrap_or(60);
        let daemon_defaults = |name: &str| std::env::var(name).is_ok_and(|v| v.trim() == "default");
        Settings {
            accounts: env_usize("BERRAH_BENCH_ACCOUNTS")
                .unwrap_or(ACCOUNTS)
                .max(1),
            account_concurrency: env_usize("BERRAH_BENCH_ACCOUNT_CONCURRENCY")
                .unwrap_or(1)
                .max(1),
            per_platform: if daemon_defaults("BERRAH_BENCH_PER_PLATFORM") {
                berrah::config::DaemonConfig::default().per_platform as usize
            } else {
                env_usize("BERRAH_BENCH_PER_PLATFORM")
                    .unwrap_or(ACCOUNTS)
                    .max(1)
            },
            workers: if daemon_defaults("BERRAH_BENCH_WORKERS") {
                None
            } else {
                Some(env_usize("BERRAH_BENCH_WORKERS").unwrap_or(ACCOUNTS))
            },
            idle_secs,
            burst: env_usize("BERRAH_BENCH_BURST").unwrap_or(BURST).max(1),
        }
    }

    fn account(&self, i: usize) -> String {
        format!("acc{:02}", i % self.accounts)
    }

    /// `berrah.toml`: the webhook accounts (their client is the fake's).
    fn config(&self) -> Config {
        let mut s = String::from("[daemon]\n");
        if let Some(w) = self.workers {
            s.push_str(&format!("workers = {w}\n"));
        }
        for i in 0..self.accounts {
            s.push_str(&format!(
                "\n[accounts.{}]\nplatform = \"webhook\"\nbase_url = \"http://127.0.0.1:1/\"\nconcurrency = {}\n",
                self.account(i),
                self.account_concurrency
            ));
        }
        toml::from_str(&s).expect("the bench configuration")
    }
}

/// One generated occurrence on a webhook account.
fn occurrence(campaign: &str, n: usize, account: &str, due: Timestamp) -> Occurrence {
    let key = format!("{campaign}//p{n}/{account}/fr/0");
    Occurrence {
        id: berrah::plan::occurrence_id(&key),
        key,
        campaign: campaign.to_string(),
        capsule: None,
        post: format!("p{n}"),
        account: account.to_string(),
        platform: PlatformKind::Webhook,
        language: "fr".into(),
        due,
        local: due.to_string(),
        timezone: "UTC".into(),
        tzdb: "2026f".into(),
        not_after: due
            .checked_add(SignedDuration::from_hours(24))
            .expect("a due time in range"),
        series: None,
        paused: false,
        source: format!("campaigns/{campaign}.toml").into(),
        content: Content {
            text: format!(
                "Post {n} of {campaign}: découvrez AMAL https://oim.ma/amal?utm_source=berrah #AMAL"
            ),
            ..Content::default()
        },
    }
}

/// Syncs `count` posts into the store, campaign by campaign; `due(i)` is
/// the due time of post `i`. Returns the occurrence ids with their due time.
async fn queue_posts(
    store: &Store,
    settings: &Settings,
    prefix: &str,
    count: usize,
    due: impl Fn(usize) -> Timestamp,
) -> HashMap<String, Timestamp> {
    let mut ids = HashMap::with_capacity(count);
    let now = Timestamp::now();
    for (c, start) in (0..count).step_by(PER_CAMPAIGN).enumerate() {
        let campaign = format!("{prefix}-{c:03}");
        let occ: Vec<Occurrence> = (start..(start + PER_CAMPAIGN).min(count))
            .map(|i| occurrence(&campaign, i, &settings.account(i), due(i)))
            .collect();
        store
            .sync_campaign(&campaign, &occ, now)
            .await
            .expect("sync the generated posts");
        ids.extend(occ.into_iter().map(|o| (o.id, o.due)));
    }
    ids
}

/// Every account publishes to `url` through one [`FaultyClient`] (a
/// webhook-like client: no idempotency key, so every attempt is recorded
/// before the call, as for X, Telegram and webhooks).
fn factory(url: &str) -> Arc<dyn PlatformFactory> {
    let client: Arc<dyn Platform> = Arc::new(FaultyClient::new(url, false));
    Arc::new(move |_: &str, _: &Arc<berrah::config::AccountConfig>| Some(client.clone()))
}

/// A daemon on `store` publishing to `url` with the real clock, no file
/// watching, reporting publications on the returned channel.
fn daemon(
    settings: &Settings,
    store: Store,
    dir: &Path,
    url: &str,
) -> (
    DaemonConfig,
    tokio::sync::mpsc::UnboundedReceiver<berrah::scheduler::Published>,
) {
    let campaigns = dir.join("campaigns");
    std::fs::create_dir_all(&campaigns).expect("a campaign folder");
    let mut cfg = DaemonConfig::new(
        settings.config(),
        campaigns,
        dir.join("data"),
        store,
        Arc::new(SystemClock),
    );
    cfg.watch = false;
    cfg.grace = Duration::from_secs(10);
    cfg.per_platform = settings.per_platform;
    cfg.platforms = Some(factory(url));
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    cfg.events = Some(tx);
    (cfg, rx)
}

/// Waits for `n` publications (or `limit`); returns how many came and when
/// the last one did.
async fn wait_published(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<berrah::scheduler::Published>,
    n: usize,
    limit: Duration,
) -> (usize, Instant) {
    let end = tokio::time::Instant::now() + limit;
    let mut got = 0;
    let mut last = Instant::now();
    while got < n {
        match tokio::time::timeout_at(end, rx.recv()).await {
            Ok(Some(_)) => {
                got += 1;
                last = Instant::now();
            }
            Ok(None) | Err(_) => break,
        }
    }
    (got, last)
}

/// A store on a fresh database of `backend` (`None`: PostgreSQL not configured).
async fn open(backend: &str, dir: &Path) -> Option<Store> {
    let url = match backend {
        "sqlite" => berrah::store::testing::sqlite_url(&dir.join("berrah.db")),
        _ => berrah::store::testing::postgres_url_or_skip("bench daemon")?,
    };
    // The pool `berrah run` uses.
    Some(Store::connect(&url).await.expect("open the bench database"))
}

/// Publications per second for `settings.burst` posts due at once.
async fn throughput(backend: &str, settings: &Settings, wrk_rate: &mut Option<f64>) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let Some(store) = open(backend, dir.path()).await else {
        println!("  {backend}: skipped (set BERRAH_TEST_POSTGRES_URL)");
        return;
    };
    let fake = Faulty::new();
    let server = fake.serve().await.expect("serve the fake");
    let due = Timestamp::now() - SignedDuration::from_secs(1);
    let t = Instant::now();
    let burst = settings.burst;
    let ids = queue_posts(&store, settings, "burst", burst, |_| due).await;
    let synced = t.elapsed();
    let (cfg, mut rx) = daemon(settings, store.clone(), dir.path(), &server.url());
    let shutdown = CancellationToken::new();
    let t = Instant::now();
    let run = tokio::spawn(Daemon::new(cfg).run(shutdown.clone()));
    let (got, last) = wait_published(&mut rx, burst, Duration::from_secs(1800)).await;
    let took = last.duration_since(t);
    shutdown.cancel();
    let _ = run.await;
    let mut sent = fake.publications();
    let requests = sent.len();
    sent.sort();
    sent.dedup();
    let rate = got as f64 / took.as_secs_f64();
    println!(
        "  {backend:<8} {got} of {burst} published in {:.2} s: {rate:.0} publications/s \
         (sync of the {} posts beforehand: {:.2} s; fake received {requests} requests, {} distinct)",
        took.as_secs_f64(),
        ids.len(),
        synced.as_secs_f64(),
        sent.len()
    );
    if let Some(w) = wrk_at(&server.url()) {
        println!(
            "  {backend:<8} wrk -t2 -c16 -d5s POST /publish against the same fake: {w:.0} requests/s; \
             the pipeline reaches {:.1} % of it",
            100.0 * rate / w
        );
        *wrk_rate = Some(w);
    }
    drop(server);
    store.close().await;
}

/// `wrk -t2 -c16 -d5s` posting a [`FaultyPost`] to `url/publish`: its
/// requests per second, or `None` when `wrk` is not installed.
fn wrk_at(url: &str) -> Option<f64> {
    let script = tempfile::Builder::new()
        .suffix(".lua")
        .tempfile()
        .expect("a temporary file");
    let body = serde_json::to_string(&FaultyPost {
        occurrence: "o-0000000000000000".into(),
        account: "acc00".into(),
        text: "Post 0 of burst-000: découvrez AMAL https://oim.ma/amal?utm_source=berrah #AMAL"
            .into(),
    })
    .expect("a JSON body");
    let lua = format!(
        "wrk.method = \"POST\"\nwrk.body = {}\nwrk.headers[\"Content-Type\"] = \"application/json\"\n",
        lua_string(&body)
    );
    std::fs::write(script.path(), lua).expect("write the wrk script");
    let out = std::process::Command::new("wrk")
        .args(["-t2", "-c16", "-d5s", "-s"])
        .arg(script.path())
        .arg(format!("{url}/publish"))
        .output();
    let out = match out {
        Ok(o) if o.status.success() => o,
        Ok(o) => {
            println!(
                "  wrk failed: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            );
            return None;
        }
        Err(_) => {
            println!("  wrk is not installed (Debian: apt-get install wrk): no loopback limit");
            return None;
        }
    };
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
}

/// A Lua string literal.
fn lua_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            _ => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Lateness of `ONE_BY_ONE` posts due `APART` apart on the real clock.
async fn lateness(backend: &str, settings: &Settings) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let Some(store) = open(backend, dir.path()).await else {
        println!("  {backend}: skipped (set BERRAH_TEST_POSTGRES_URL)");
        return;
    };
    let fake = Faulty::new();
    let server = fake.serve().await.expect("serve the fake");
    // Whole milliseconds: the queue stores due times in milliseconds.
    let first =
        Timestamp::from_millisecond(Timestamp::now().as_millisecond() + 2_000).expect("a due time");
    let apart = SignedDuration::try_from(APART).expect("a duration");
    let ids = queue_posts(&store, settings, "one-by-one", ONE_BY_ONE, |i| {
        first + apart * i as i32
    })
    .await;
    let (cfg, mut rx) = daemon(settings, store.clone(), dir.path(), &server.url());
    let shutdown = CancellationToken::new();
    let run = tokio::spawn(Daemon::new(cfg).run(shutdown.clone()));
    let span = APART * ONE_BY_ONE as u32 + Duration::from_secs(30);
    let (got, _) = wait_published(&mut rx, ONE_BY_ONE, span).await;
    shutdown.cancel();
    let _ = run.await;
    let mut late: Vec<f64> = fake
        .received()
        .iter()
        .filter_map(|r| {
            let post: FaultyPost = serde_json::from_str(&r.body).ok()?;
            let due = ids.get(&post.occurrence)?;
            Some(r.at.duration_since(*due).as_secs_f64() * 1e3)
        })
        .collect();
    late.sort_by(f64::total_cmp);
    if late.is_empty() {
        println!("  {backend:<8} nothing received ({got} published)");
    } else {
        let pct = |p: f64| late[((late.len() - 1) as f64 * p).round() as usize];
        println!(
            "  {backend:<8} {got} of {ONE_BY_ONE} posts due {} ms apart: lateness p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (min {:.1} ms)",
            APART.as_millis(),
            pct(0.50),
            pct(0.99),
            late[late.len() - 1],
            late[0],
        );
    }
    drop(server);
    store.close().await;
}

/// The median time to write 4 KiB and `fdatasync` it in the temporary
/// folder (where the SQLite databases of this bench live), in
/// milliseconds: each SQLite commit waits for at least one.
fn fsync_ms() -> Option<f64> {
    use std::io::Write;
    let mut f = tempfile::tempfile().ok()?;
    let block = [0u8; 4096];
    let mut times = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        f.write_all(&block).ok()?;
        f.sync_data().ok()?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    Some(times[times.len() / 2])
}

/// `VmHWM` or `VmRSS` of this process, in KiB.
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// User + system CPU time of this process (all threads) from
/// `/proc/self/stat`, in seconds. Linux reports it in clock ticks of
/// `USER_HZ`, which is 100 on every architecture Debian ships.
fn cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) in parentheses.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 here.
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / 100.0)
}

/// Child process: a daemon on the SQLite file `db` (holding `QUEUED`
/// posts, none due), its peak memory, then its CPU time over `idle_secs`.
async fn idle_child(db: &Path, dir: &Path, settings: &Settings) {
    let store = Store::connect(&berrah::store::testing::sqlite_url(db))
        .await
        .expect("open the queued database");
    let (cfg, _rx) = daemon(settings, store, dir, "http://127.0.0.1:1");
    let shutdown = CancellationToken::new();
    let run = tokio::spawn(Daemon::new(cfg).run(shutdown.clone()));
    // Start-up: sync (an empty folder), rescue, claim nothing, sleep.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let hwm = status_kib("VmHWM:").unwrap_or(0);
    let rss = status_kib("VmRSS:").unwrap_or(0);
    println!(
        "  peak memory (VmHWM) of a daemon with {QUEUED} queued posts: {:.1} MB (VmRSS {:.1} MB)",
        hwm as f64 / 1024.0,
        rss as f64 / 1024.0
    );
    let (Some(c0), t0) = (cpu_secs(), Instant::now()) else {
        println!("  idle CPU: /proc/self/stat unavailable");
        return;
    };
    tokio::time::sleep(Duration::from_secs(settings.idle_secs)).await;
    let wall = t0.elapsed().as_secs_f64();
    let used = cpu_secs().unwrap_or(c0) - c0;
    println!(
        "  idle daemon (same {QUEUED} queued, SQLite) over {wall:.0} s: CPU time {:.0} ms = {:.3} % of one core",
        used * 1e3,
        100.0 * used / wall
    );
    let hwm_after = status_kib("VmHWM:").unwrap_or(0);
    if hwm_after > hwm {
        println!(
            "  peak memory after the idle period: {:.1} MB",
            hwm_after as f64 / 1024.0
        );
    }
    shutdown.cancel();
    let _ = run.await;
}

/// Fills a SQLite file with `QUEUED` posts due over the coming year, then
/// runs [`idle_child`] on it in a process of its own.
async fn memory_and_idle(settings: &Settings) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let db = dir.path().join("berrah.db");
    let store = open("sqlite", dir.path()).await.expect("SQLite");
    let start = Timestamp::now() + SignedDuration::from_hours(24);
    let t = Instant::now();
    queue_posts(&store, settings, "queued", QUEUED, |i| {
        // Spread over a year, one post every ~5 minutes.
        start + SignedDuration::from_secs(315 * i as i64)
    })
    .await;
    println!(
        "  {QUEUED} posts synced into SQLite in {:.1} s ({} campaigns of {PER_CAMPAIGN})",
        t.elapsed().as_secs_f64(),
        QUEUED / PER_CAMPAIGN
    );
    store.close().await;
    drop(store);
    let exe = std::env::current_exe().expect("the bench executable");
    let status = std::process::Command::new(exe)
        .arg("--idle-child")
        .arg(&db)
        .arg(dir.path())
        .arg(settings.idle_secs.to_string())
        .status();
    match status {
        Ok(s) if s.success() => {}
        other => println!("  the memory/idle child failed: {other:?}"),
    }
}

/// `BERRAH_BENCH_ONLY`: a comma-separated choice among `throughput`,
/// `lateness`, `memory` (none: all three) and `sqlite`, `postgres` (none:
/// both), e.g. `lateness,sqlite`.
struct Only(Vec<String>);

impl Only {
    const PARTS: [&str; 3] = ["throughput", "lateness", "memory"];
    const BACKENDS: [&str; 2] = ["sqlite", "postgres"];

    fn read() -> Only {
        let words = std::env::var("BERRAH_BENCH_ONLY").unwrap_or_default();
        Only(
            words
                .split(',')
                .map(|w| w.trim().to_string())
                .filter(|w| !w.is_empty())
                .collect(),
        )
    }

    fn chosen<'a>(&self, among: &[&'a str]) -> Vec<&'a str> {
        let picked: Vec<&str> = among
            .iter()
            .copied()
            .filter(|a| self.0.iter().any(|w| w == a))
            .collect();
        if picked.is_empty() {
            among.to_vec()
        } else {
            picked
        }
    }

    fn part(&self, part: &str) -> bool {
        self.chosen(&Self::PARTS).contains(&part)
    }

    fn backends(&self) -> Vec<&'static str> {
        self.chosen(&Self::BACKENDS)
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("warn,sqlx=error"))
        .with_writer(std::io::stderr)
        .try_init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    if let Some(pos) = args.iter().position(|a| a == "--idle-child") {
        let db = args.get(pos + 1).expect("the database path");
        let dir = args.get(pos + 2).expect("the folder");
        let settings = Settings::read(&args[pos + 3..]);
        rt.block_on(idle_child(Path::new(db), Path::new(dir), &settings));
        return;
    }
    let settings = Settings::read(&args);
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "bench daemon: {cores} cores, {} build; {} webhook accounts × concurrency {}, {} per platform, {} workers; \
         fake server on loopback, real clock",
        if cfg!(debug_assertions) {
            "DEBUG"
        } else {
            "release"
        },
        settings.accounts,
        settings.account_concurrency,
        settings.per_platform,
        settings
            .workers
            .map_or_else(|| "default".to_string(), |w| w.to_string()),
    );
    rt.block_on(async {
        println!(
            "  fsync of a 4 KiB write in the temporary folder (SQLite commits with synchronous=FULL): {}",
            fsync_ms().map_or_else(|| "unknown".to_string(), |ms| format!("{ms:.2} ms"))
        );
        let only = Only::read();
        if only.part("throughput") {
            println!("publications/s, {} posts due at once:", settings.burst);
            let mut wrk = None;
            for b in only.backends() {
                throughput(b, &settings, &mut wrk).await;
            }
        }
        if only.part("lateness") {
            println!("lateness, due time → request received by the fake:");
            for b in only.backends() {
                lateness(b, &settings).await;
            }
        }
        if only.part("memory") {
            println!(
                "memory and idle CPU ({QUEUED} queued; idle period {} s):",
                settings.idle_secs
            );
            memory_and_idle(&settings).await;
        }
    });
}
