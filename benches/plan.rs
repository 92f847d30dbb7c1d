//! `cargo bench --bench plan`: plans 1,000 campaign files holding 100,000
//! occurrences in total and prints how long checking/planning and rendering
//! take, and the peak memory (VmHWM) of the process.
//!
//! Target on the project's 2-core machines: under 1 s and under 100 MB.

use std::path::{Path, PathBuf};
use std::time::Instant;

use berrah::calendar::Calendar;
use berrah::campaign::{self, CampaignFile, Context, LoadedCampaign};
use berrah::config::Config;
use berrah::plan::{self, output};

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

fn vm_hwm_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn write_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::create_dir(dir.join("media")).expect("media folder");
    std::fs::write(
        dir.join("media/ep1.png"),
        include_bytes!("../tests/fixtures/plan/campaigns/media/ep1.png"),
    )
    .expect("write the bench image");
    (0..FILES)
        .map(|i| {
            let p = dir.join(format!("bench-{i:04}.toml"));
            std::fs::write(&p, campaign(i)).expect("write a bench file");
            p
        })
        .collect()
}

fn main() {
    let tmp = tempfile::tempdir().expect("a temporary folder");
    let paths = write_files(tmp.path());
    let config: Config = toml::from_str(CONFIG).expect("bench config");
    let calendar = Calendar::shipped();
    let ctx = Context {
        config: &config,
        calendar: &calendar,
        now: "2026-11-23T00:00:00Z".parse().expect("an instant"),
    };
    println!(
        "bench plan: {FILES} campaign files in {}",
        tmp.path().display()
    );

    // 1. Read, parse and plan each file directly (plan's own cost).
    let t = Instant::now();
    let mut occurrences = Vec::new();
    for p in &paths {
        let source = std::fs::read_to_string(p).expect("read");
        let file: CampaignFile = toml::from_str(&source).expect("parse");
        let lc = LoadedCampaign {
            path: p.clone(),
            source,
            file,
        };
        let (occ, diags) = plan::plan_campaign(&lc, &ctx);
        assert!(diags.iter().all(|d| !d.is_error()), "{diags:?}");
        occurrences.extend(occ);
    }
    let direct = t.elapsed();
    println!(
        "  read + parse + plan_campaign: {:>8.1} ms  ({} occurrences)",
        direct.as_secs_f64() * 1e3,
        occurrences.len()
    );

    // 2. The whole check (load, validate, plan) through campaign::check_dir.
    let t = Instant::now();
    let (checked, report) = campaign::check_dir(tmp.path(), &ctx);
    let through_check = t.elapsed();
    let planned: usize = checked.iter().map(|c| c.occurrences.len()).sum();
    println!(
        "  campaign::check_dir:          {:>8.1} ms  ({} files, {} occurrences, {} errors)",
        through_check.as_secs_f64() * 1e3,
        checked.len(),
        planned,
        report.count(berrah::diag::Severity::Error)
    );
    drop(checked);

    // 3. Rendering the plan in the three formats.
    occurrences.sort_by(|a, b| a.due.cmp(&b.due).then_with(|| a.key.cmp(&b.key)));
    for (name, f) in [
        ("table", output::table as fn(&[plan::Occurrence]) -> String),
        ("json", output::json),
    ] {
        let t = Instant::now();
        let text = f(&occurrences);
        println!(
            "  render {name:<5}                  {:>8.1} ms  ({} bytes)",
            t.elapsed().as_secs_f64() * 1e3,
            text.len()
        );
    }
    let t = Instant::now();
    let text = output::ics(&occurrences, ctx.now);
    println!(
        "  render ics                    {:>8.1} ms  ({} bytes)",
        t.elapsed().as_secs_f64() * 1e3,
        text.len()
    );
    drop(text);
    match vm_hwm_kib() {
        Some(kib) => println!(
            "  peak memory (VmHWM):          {:>8.1} MB",
            kib as f64 / 1024.0
        ),
        None => println!("  peak memory: /proc/self/status unavailable"),
    }
}
