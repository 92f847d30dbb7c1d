//! `cargo bench --bench plan`: writes 1,000 campaign files holding 100,000
//! occurrences in total, then runs `berrah check` and `berrah plan` (json,
//! table, ics) over them, each in a child process of this binary running
//! the CLI's own code (`berrah::cli::{check, plan}::run`, the plan streamed
//! to /dev/null), and prints each one's time and peak memory (VmHWM): the
//! figures of the user's command, one process each.
//!
//! Target on the project's 2-core machines: under 1 s and under 100 MB.
//!
//! Then the worst shapes of one file (issue 14): a 1 MiB campaign file made
//! of tens of thousands of hashtags, posts, posts with one id, cron posts or
//! missing media files, each checked (`berrah check`) in a child process.
//! Target: well under 1 s each. `BERRAH_BENCH_SHAPES=only` runs only these.
//!
//! To profile one command: `plan-* --write-files DIR` writes the files
//! (`DIR/berrah.toml`, `DIR/campaigns/`), then `plan-* --bench-child
//! plan-json DIR` runs one command on them (under `perf record` or
//! `valgrind --tool=callgrind`), its output on stdout.

use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use berrah::cli::GlobalArgs;
use berrah::cli::check::{CheckArgs, CheckFormat};
use berrah::cli::plan::{PlanArgs, PlanFormat};

const FILES: usize = 1_000;

const CONFIG: &str = r#"
[accounts.oim-facebook]
platform = "facebook"

[accounts.oim-x]
platform = "x"
"#;

/// One campaign: 2 accounts × 2 languages × (5 one-off posts + a weekly post
/// on 20 Mondays) = 100 occurrences.
fn campaign(i: usize) -> String {
    let mut s = format!(
        r##"[campaign]
id = "bench-{i:04}"
title = "Bench {i}"
timezone = "Africa/Casablanca"
start = 2027-01-04
end = 2027-05-23
accounts = ["oim-facebook", "oim-x"]
languages = ["fr", "ar"]
hashtags = ["AMAL", "B7alB7al"]
utm = {{ source = "berrah", medium = "social", campaign = "bench-{i}" }}

[[capsules]]
id = "ep1"
title = "Episode 1"
anchor = {{ day = "human-fraternity" }}
media = [{{ file = "media/ep1.png", alt = {{ fr = "Amal", ar = "أمل" }} }}]
"##
    );
    for (n, (at, before)) in [
        ("09:00", 3),
        ("10:00", 2),
        ("11:00", 1),
        ("12:00", 0),
        ("18:30", 0),
    ]
    .iter()
    .enumerate()
    {
        s.push_str(&format!(
            r#"
[[capsules.posts]]
id = "p{n}"
at = {at}
days_before = {before}
text = {{ fr = "Épisode {n} : découvrez AMAL https://oim.ma/amal?ep={n}", ar = "الحلقة {n}: اكتشفوا أمل https://oim.ma/ar/amal" }}
"#
        ));
    }
    s.push_str(
        r#"
[[posts]]
id = "weekly"
cron = "0 10 * * MON"
text = { fr = "Chaque lundi, une histoire", ar = "كل يوم اثنين، قصة" }
"#,
    );
    s
}

/// The size of each worst-shape file: just under the 1 MiB a campaign file may be.
const SHAPE_BYTES: usize = (1 << 20) - 1024;

/// The worst shapes of one campaign file, by name: what repeats in it.
const SHAPES: [(&str, &str); 6] = [
    ("hashtags", "campaign hashtags (one post)"),
    ("posts", "one-off posts"),
    ("duplicate-ids", "posts, all with one id"),
    ("cron-posts", "weekly cron posts (4 weeks)"),
    ("every-minute", "cron posts `* * * * *`"),
    ("missing-media", "posts with a missing media file"),
];

/// A campaign file of about [`SHAPE_BYTES`] of the shape `name`, and how
/// many times its part repeats.
fn shape(name: &str) -> (String, usize) {
    let head = |hashtags: &str| {
        format!(
            "[campaign]\nid = \"shape-{name}\"\ntitle = \"Shape\"\ntimezone = \"Africa/Casablanca\"\n\
             start = 2027-01-04\nend = 2027-01-31\naccounts = [\"oim-facebook\", \"oim-x\"]\n\
             languages = [\"fr\"]\nhashtags = [{hashtags}]\n"
        )
    };
    let mut n = 0;
    if name == "hashtags" {
        let mut tags = String::new();
        loop {
            let tag = format!("\"t{n}\", ");
            if tags.len() + tag.len() > SHAPE_BYTES - 400 {
                break;
            }
            tags.push_str(&tag);
            n += 1;
        }
        let mut s = head(&tags);
        s.push_str(
            "\n[[posts]]\nid = \"p\"\ndate_time = 2027-01-05T10:00:00\ntext = { fr = \"Bonjour\" }\n",
        );
        return (s, n);
    }
    let mut s = head("\"AMAL\"");
    loop {
        let id = if name == "duplicate-ids" {
            "same".to_string()
        } else {
            format!("p{n}")
        };
        let when = match name {
            "cron-posts" => "cron = \"0 10 * * TUE\"".to_string(),
            "every-minute" => "cron = \"* * * * *\"".to_string(),
            _ => format!("date_time = 2027-01-{:02}T10:00:00", 5 + n % 26),
        };
        let media = if name == "missing-media" {
            format!("media = [{{ file = \"media/missing-{n}.png\", alt = {{ fr = \"x\" }} }}]\n")
        } else {
            String::new()
        };
        let post = format!(
            "\n[[posts]]\nid = \"{id}\"\n{when}\n{media}text = {{ fr = \"Post {n} https://oim.ma/a\" }}\n"
        );
        if s.len() + post.len() > SHAPE_BYTES {
            break;
        }
        s.push_str(&post);
        n += 1;
    }
    (s, n)
}

/// `dir/berrah.toml` and `dir/campaigns/` with the one file of shape `name`.
fn write_shape_dir(dir: &Path, name: &str) -> usize {
    let campaigns = dir.join("campaigns");
    std::fs::create_dir_all(campaigns.join("media")).expect("campaigns folder");
    std::fs::write(
        campaigns.join("media/ep1.png"),
        include_bytes!("../tests/fixtures/plan/campaigns/media/ep1.png"),
    )
    .expect("write the bench image");
    let (text, n) = shape(name);
    std::fs::write(campaigns.join(format!("{name}.toml")), text).expect("write a shape");
    std::fs::write(dir.join("berrah.toml"), CONFIG).expect("bench config");
    n
}

/// Runs `phase` in a child on `dir`: (ms, peak KiB); an error when it did
/// not finish, or when `must_succeed` and it exited with an error.
fn run_child(
    exe: &Path,
    phase: &str,
    dir: &Path,
    must_succeed: bool,
) -> Result<(f64, f64), String> {
    let out = Command::new(exe)
        .arg("--bench-child")
        .arg(phase)
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| e.to_string())?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if must_succeed && !out.status.success() {
        return Err(format!("{}\n{stderr}", out.status));
    }
    stderr
        .lines()
        .find_map(|l| l.strip_prefix("bench-result "))
        .and_then(|r| {
            let (ms, kib) = r.split_once(' ')?;
            Some((ms.parse::<f64>().ok()?, kib.parse::<f64>().ok()?))
        })
        .ok_or_else(|| format!("{}\n{stderr}", out.status))
}

fn bench_shapes(exe: &Path) -> ExitCode {
    println!(
        "bench plan, worst shapes: one file of {} KiB each, `berrah check`",
        SHAPE_BYTES / 1024
    );
    for (name, what) in SHAPES {
        let tmp = tempfile::tempdir().expect("a temporary folder");
        let n = write_shape_dir(tmp.path(), name);
        // `check` exits 1 on a file with errors (duplicate ids, missing
        // files): the time is what counts.
        match run_child(exe, "check", tmp.path(), false) {
            Ok((ms, kib)) => println!(
                "  {name:<14} {n:>7} {what:<32} {ms:>8.1} ms  {:>7.1} MB peak (VmHWM)",
                kib / 1024.0
            ),
            Err(e) => {
                println!("  {name}: failed ({e})");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}

fn vm_hwm_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn write_files(dir: &Path) {
    std::fs::create_dir(dir.join("media")).expect("media folder");
    std::fs::write(
        dir.join("media/ep1.png"),
        include_bytes!("../tests/fixtures/plan/campaigns/media/ep1.png"),
    )
    .expect("write the bench image");
    for i in 0..FILES {
        let p = dir.join(format!("bench-{i:04}.toml"));
        std::fs::write(&p, campaign(i)).expect("write a bench file");
    }
}

/// `dir/berrah.toml` and the campaign files in `dir/campaigns/`.
fn write_dir(dir: &Path) {
    let campaigns = dir.join("campaigns");
    std::fs::create_dir_all(&campaigns).expect("campaigns folder");
    write_files(&campaigns);
    std::fs::write(dir.join("berrah.toml"), CONFIG).expect("bench config");
}

/// The child: runs one command in `dir` (`berrah.toml`, `campaigns/`) as the CLI does, then prints
/// `bench-result <ms> <VmHWM KiB>` on stderr.
fn child(phase: &str, dir: &Path) -> ExitCode {
    let global = GlobalArgs {
        config: dir.join("berrah.toml"),
        campaigns: Some(dir.join("campaigns")),
        database: None,
        tzdb: None,
        log_format: berrah::cli::LogFormat::Human,
        now: Some("2026-11-23T00:00:00Z".parse().expect("an instant")),
    };
    let plan = |format| PlanArgs {
        from: None,
        until: None,
        format,
    };
    let t = Instant::now();
    let code = match phase {
        "check" => berrah::cli::check::run(
            &global,
            CheckArgs {
                files: Vec::new(),
                format: CheckFormat::Human,
            },
        ),
        "plan-json" => berrah::cli::plan::run(&global, plan(PlanFormat::Json)),
        "plan-table" => berrah::cli::plan::run(&global, plan(PlanFormat::Table)),
        "plan-ics" => berrah::cli::plan::run(&global, plan(PlanFormat::Ics)),
        other => panic!("unknown bench phase {other}"),
    };
    let ms = t.elapsed().as_secs_f64() * 1e3;
    eprintln!("bench-result {ms:.1} {}", vm_hwm_kib().unwrap_or(0));
    code
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--bench-child") {
        return child(&args[i + 1], Path::new(&args[i + 2]));
    }
    if let Some(i) = args.iter().position(|a| a == "--write-files") {
        write_dir(Path::new(&args[i + 1]));
        return ExitCode::SUCCESS;
    }
    let exe = std::env::current_exe().expect("the bench binary");
    if std::env::var("BERRAH_BENCH_SHAPES").is_ok_and(|v| v == "only") {
        return bench_shapes(&exe);
    }
    let tmp = tempfile::tempdir().expect("a temporary folder");
    write_dir(tmp.path());
    println!(
        "bench plan: {FILES} campaign files (100,000 occurrences) in {}",
        tmp.path().display()
    );
    for (phase, what) in [
        ("check", "berrah check"),
        ("plan-json", "berrah plan --format json"),
        ("plan-table", "berrah plan"),
        ("plan-ics", "berrah plan --format ics"),
    ] {
        match run_child(&exe, phase, tmp.path(), true) {
            Ok((ms, kib)) => println!(
                "  {what:<27} {ms:>8.1} ms  {:>7.1} MB peak (VmHWM)",
                kib / 1024.0
            ),
            Err(e) => {
                println!("  {what}: failed ({e})");
                return ExitCode::FAILURE;
            }
        }
    }
    bench_shapes(&exe)
}
