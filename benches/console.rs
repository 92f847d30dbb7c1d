//! `cargo bench --bench console`: the console's month page of a plan of
//! 100,000 occurrences. Writes 1,000 campaign files (2 accounts × 2
//! languages × 25 posts each), plans them as `berrah preview` and the served
//! console do (`console::export::plan`), then renders one month page
//! (`console::calendar::month_page`: cutting the month out of the plan,
//! grouping, the page's HTML) several times and prints the times.
//!
//! Two shapes: every post in January 2027 (the whole plan on one page:
//! 25,000 posts of 4 occurrences each), and the posts spread over 2027 (a
//! month of about 8,300 occurrences out of the 100,000).
//!
//! Target on the project's 2-core machines: under 200 ms per page. Prints
//! figures, asserts nothing.

use std::time::Instant;

use berrah::calendar::Calendar;
use berrah::console::calendar::{Links, Month, MonthPage, States, month_page};
use berrah::console::export;
use berrah::console::i18n::Lang;

const FILES: usize = 1_000;
const POSTS: usize = 25;

const CONFIG: &str = r#"
[accounts.oim-facebook]
platform = "facebook"

[accounts.oim-x]
platform = "x"
"#;

/// One campaign file: 25 posts on 2 accounts in 2 languages; in January
/// (`spread` false) or one every two weeks of 2027.
fn campaign(i: usize, spread: bool) -> String {
    let mut s = format!(
        r##"[campaign]
id = "bench-{i:04}"
title = "Bench {i}"
timezone = "Africa/Casablanca"
start = 2027-01-01
end = 2027-12-31
accounts = ["oim-facebook", "oim-x"]
languages = ["fr", "ar"]
hashtags = ["AMAL"]
utm = {{ source = "berrah", medium = "social", campaign = "bench-{i}" }}
"##
    );
    for p in 0..POSTS {
        let day = if spread {
            jiff::civil::date(2027, 1, 1)
                .checked_add(jiff::Span::new().days((p * 14 + i % 14) as i64))
                .unwrap()
        } else {
            jiff::civil::date(2027, 1, 1 + (p % 28) as i8)
        };
        s.push_str(&format!(
            "\n[[posts]]\nid = \"p{p:02}\"\ndate_time = {day}T{:02}:{:02}:00\n\
             text.fr = \"Message {p} de la campagne {i} : https://morocco.iom.int/fr\"\n\
             text.ar = \"الرسالة {p} من الحملة {i}: https://morocco.iom.int/ar\"\n",
            8 + p % 10,
            i % 60
        ));
    }
    s
}

fn run(spread: bool) {
    let dir = tempfile::tempdir().unwrap();
    let campaigns = dir.path().join("campaigns");
    std::fs::create_dir_all(&campaigns).unwrap();
    for i in 0..FILES {
        std::fs::write(campaigns.join(format!("c{i:04}.toml")), campaign(i, spread)).unwrap();
    }
    let config: berrah::config::Config = toml::from_str(CONFIG).unwrap();
    let calendar = Calendar::shipped();
    let now: jiff::Timestamp = "2026-12-01T00:00:00Z".parse().unwrap();
    let ctx = berrah::campaign::Context {
        config: &config,
        calendar: &calendar,
        now,
    };
    let t = Instant::now();
    let planned = export::plan(&campaigns, &ctx, None, None);
    let plan_ms = t.elapsed().as_millis();
    assert!(planned.broken.is_empty(), "{}", planned.render_broken());
    let month = Month::parse("2027-01").unwrap();
    let states = States::new();
    let page = MonthPage {
        lang: Lang::Fr,
        month,
        today: jiff::civil::date(2027, 1, 12),
        links: Links::Static,
        calendar: &calendar,
        states: &states,
        months: None,
    };
    let mut times = Vec::new();
    let mut size = 0;
    for _ in 0..5 {
        let t = Instant::now();
        let html = month_page(&page, &planned.occurrences).into_string();
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        size = html.len();
    }
    times.sort_by(f64::total_cmp);
    let shown = berrah::console::calendar::within(&planned.occurrences, month).count();
    println!(
        "{:<28} plan {:>7} occurrences in {plan_ms} ms; month page of {shown} occurrences: \
         best {:.1} ms, median {:.1} ms, worst {:.1} ms, {:.1} MB of HTML",
        if spread {
            "posts spread over 2027:"
        } else {
            "every post in January 2027:"
        },
        planned.occurrences.len(),
        times[0],
        times[times.len() / 2],
        times[times.len() - 1],
        size as f64 / 1e6
    );
}

fn main() {
    run(false);
    run(true);
}
