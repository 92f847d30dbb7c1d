//! No campaign file can crash, hang or multiply posts: the example campaigns
//! (`campaigns/*.toml`), mutated at random (values swapped for extreme or
//! malformed ones, lines inserted, deleted or repeated), are parsed, checked
//! and planned without a panic, and the work each does stays bounded.
//!
//! The examples and `berrah.toml` are read once; each case is pure
//! (`check_source` on text, media looked for in a folder that does not exist).
//! `BERRAH_MUTATION_CASES` changes the number of cases (10,000 by default).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use berrah::calendar::Calendar;
use berrah::campaign::{Context, check_source};
use berrah::config::Config;
use berrah::plan::MAX_OCCURRENCES_PER_POST;
use proptest::prelude::*;

struct Fixture {
    config: Config,
    calendar: Calendar,
    examples: Vec<(PathBuf, String)>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let config = toml::from_str(
            &std::fs::read_to_string(root.join("berrah.toml")).expect("berrah.toml"),
        )
        .expect("the example berrah.toml parses");
        let mut examples: Vec<(PathBuf, String)> =
            berrah::campaign::campaign_files(&root.join("campaigns"))
                .expect("the example campaigns")
                .into_iter()
                .map(|p| {
                    let text = std::fs::read_to_string(&p).expect("an example campaign");
                    // Media are looked for beside a file that is nowhere: no I/O.
                    let name = p.file_name().expect("a file name").to_owned();
                    (Path::new("/nonexistent-berrah-mutations").join(name), text)
                })
                .collect();
        examples.sort();
        assert!(examples.len() >= 3, "the example campaigns are missing");
        Fixture {
            config,
            calendar: Calendar::shipped(),
            examples,
        }
    })
}

/// Values that have crashed, hung or multiplied posts, or could.
const VALUES: &[&str] = &[
    "4000000000",
    "4294967295",
    "0",
    "-1",
    "99999",
    "32767",
    "-32768",
    "9223372036854775807",
    "1e308",
    "nan",
    "inf",
    "\"\"",
    "\"99999999999 days\"",
    "\"99999999999999999999 days\"",
    "\"9223372036854775807s\"",
    "\"P99999Y\"",
    "\"PT0S\"",
    "\"-3h\"",
    "\"1 week\"",
    "\"* * * * *\"",
    "\"*/1 * * * *\"",
    "\"*/30 * * * TUE\"",
    "\"0 0 10 * * WED\"",
    "\"0 0 10 * * WED 2027\"",
    "\"0 10 * * MER\"",
    "\"0 10 * * WEDNESDAY\"",
    "\"0 10 1 FÉVR *\"",
    "\"0 10 31 2 *\"",
    "\"0 10 * * 8\"",
    "\"0 10 * * 7-0/3\"",
    "\"0 10 * * SUN-SAT/9\"",
    "\"60 24 32 13 8\"",
    "\"0 10 * * FRI-SUN\"",
    "\"a b c d e\"",
    "\"Africa/Casablanca\"",
    "\"Europe/Paris\"",
    "\"Mars/Olympus\"",
    "\"UTC\"",
    "\"../../etc/passwd\"",
    "\"/etc/passwd\"",
    "\"media/nope.png\"",
    "0001-01-01",
    "9999-12-31",
    "2026-02-29",
    "2027-03-28T02:30:00",
    "2026-10-25T02:30:00",
    "9999-12-31T23:59:59",
    "0001-01-01T00:00:00",
    "23:59",
    "00:00",
    "02:30",
    "true",
    "[]",
    "{}",
    "[\"x\", \"x\", \"x\"]",
    "{ day = \"migrants\", year = 32767 }",
    "{ day = \"migrants\", year = -32768 }",
    "{ date = 9999-12-31 }",
    "{ day = \"leap\" }",
    "\"\u{202e}\u{0645}\u{0631}\u{062d}\u{0628}\u{0627}\"",
];

/// Lines inserted whole, as a comms officer might paste them.
const LINES: &[&str] = &[
    "days_before = 4000000000",
    "days_after = 4294967295",
    "days_before = 4294967295",
    "expires_after = \"99999999999 days\"",
    "expires_after = \"9999 weeks\"",
    "cron = \"* * * * *\"",
    "cron = \"0 0 10 * * WED\"",
    "cron = \"*/5 * * * *\"",
    "at = 23:59",
    "at = 00:00",
    "not_after = 9999-12-31T23:59:59",
    "not_after = 0001-01-01T00:00:00",
    "date_time = 9999-12-31T23:59:59",
    "date_time = 0001-01-01T00:00:00",
    "anchor = { day = \"migrants\", year = 32767 }",
    "anchor = { day = \"migrants\", year = -32768 }",
    "anchor = { date = 9999-12-31 }",
    "start = 0001-01-01",
    "end = 9999-12-31",
    "start = 9999-12-31",
    "hashtags = [\"a\", \"a\", \"#A\", \"\"]",
    "media = [{ file = \"nope.png\" }, { file = \"nope.png\" }]",
    "[[posts]]",
    "[[capsules]]",
    "[[capsules.posts]]",
    "[[days]]",
    "slug = \"leap\"\nmonth = 2\nday = 29",
    "month = 255\nday = 255",
    "month = 0\nday = 0",
    "id = \"dup\"",
    "id = \"\"",
    "text = { fr = \"x\" }",
    "languages = []",
    "accounts = []",
    "paused = true",
];

#[derive(Debug, Clone)]
enum Mutation {
    /// Replace the value of the `n`-th `key = value` line.
    Value(usize, usize),
    /// Insert a line before the `n`-th line.
    Insert(usize, usize),
    /// Delete the `n`-th line.
    Delete(usize),
    /// Repeat the `n`-th line, `k` times.
    Repeat(usize, usize),
    /// Repeat the block of lines `n..n + len`.
    RepeatBlock(usize, usize),
    /// Cut the file at byte `n` (on a character boundary).
    Truncate(usize),
    /// Replace a byte of the file by one of a few troublesome characters.
    Byte(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), 0..VALUES.len()).prop_map(|(n, v)| Mutation::Value(n, v)),
        3 => (any::<usize>(), 0..LINES.len()).prop_map(|(n, l)| Mutation::Insert(n, l)),
        1 => any::<usize>().prop_map(Mutation::Delete),
        1 => (any::<usize>(), 1usize..4).prop_map(|(n, k)| Mutation::Repeat(n, k)),
        1 => (any::<usize>(), 1usize..20).prop_map(|(n, k)| Mutation::RepeatBlock(n, k)),
        1 => any::<usize>().prop_map(Mutation::Truncate),
        1 => (any::<usize>(), 0usize..8).prop_map(|(n, c)| Mutation::Byte(n, c)),
    ]
}

fn apply(text: &str, m: &Mutation) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    if lines.is_empty() {
        lines.push(String::new());
    }
    let len = lines.len();
    match *m {
        Mutation::Value(n, v) => {
            let keyed: Vec<usize> = (0..len).filter(|i| lines[*i].contains(" = ")).collect();
            if let Some(&i) = keyed.get(n % keyed.len().max(1)) {
                let key = lines[i].split(" = ").next().unwrap_or("").to_string();
                lines[i] = format!("{key} = {}", VALUES[v]);
            }
        }
        Mutation::Insert(n, l) => lines.insert(n % (len + 1), LINES[l].to_string()),
        Mutation::Delete(n) => {
            lines.remove(n % len);
        }
        Mutation::Repeat(n, k) => {
            let i = n % len;
            for _ in 0..k {
                lines.insert(i, lines[i].clone());
            }
        }
        Mutation::RepeatBlock(n, k) => {
            let i = n % len;
            let block: Vec<String> = lines[i..(i + k).min(len)].to_vec();
            for (j, l) in block.into_iter().enumerate() {
                lines.insert(i + j, l);
            }
        }
        Mutation::Truncate(n) => {
            let mut at = n % (text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            return text[..at].to_string();
        }
        Mutation::Byte(n, c) => {
            let chars = ["\"", "'", "[", "]", "=", "\n", "\\", "\u{0}"];
            let mut at = n % (text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            let end = text[at..].chars().next().map_or(at, |c| at + c.len_utf8());
            return format!("{}{}{}", &text[..at], chars[c], &text[end..]);
        }
    }
    lines.join("\n")
}

/// Parses, checks and plans one text; asserts that the work is bounded.
fn check_bounded(path: &Path, text: &str) -> Result<(), TestCaseError> {
    let f = fixture();
    let ctx = Context {
        config: &f.config,
        calendar: &f.calendar,
        now: "2026-11-01T00:00:00Z".parse().expect("an instant"),
    };
    let t = Instant::now();
    let checked = check_source(path, text, &ctx);
    for d in &checked.diagnostics {
        let _ = d.render(Some(text));
    }
    let took = t.elapsed();
    // Bound the work, not the clock: each post gives at most the cap of
    // times, for each of its accounts and languages.
    if let Some(c) = &checked.campaign {
        let posts =
            c.file.posts.len() + c.file.capsules.iter().map(|c| c.posts.len()).sum::<usize>();
        let accounts = f.config.accounts.len().max(1);
        let langs = text.matches(" = ").count().max(1);
        let bound = posts * MAX_OCCURRENCES_PER_POST * accounts * langs;
        prop_assert!(
            checked.occurrences.len() <= bound,
            "{} occurrences from {posts} posts",
            checked.occurrences.len()
        );
    }
    // A hang shows as a case that never ends; this bound is only for a
    // case that ends absurdly late, far above any loaded machine's noise.
    prop_assert!(took < Duration::from_secs(60), "one case took {took:?}");
    Ok(())
}

fn cases() -> u32 {
    std::env::var("BERRAH_MUTATION_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn mutated_example_campaigns_never_panic_hang_or_multiply(
        file in any::<usize>(),
        mutations in proptest::collection::vec(mutation(), 1..4),
    ) {
        let f = fixture();
        let (path, text) = &f.examples[file % f.examples.len()];
        let mut text = text.clone();
        for m in &mutations {
            text = apply(&text, m);
        }
        check_bounded(path, &text)?;
    }
}

/// Each troublesome line, right after each table header of each example:
/// no panic, bounded work.
#[test]
fn every_troublesome_line_in_every_table_is_harmless() {
    let f = fixture();
    for (path, text) in &f.examples {
        let headers: Vec<usize> = text
            .lines()
            .enumerate()
            .filter(|(_, l)| l.starts_with('['))
            .map(|(i, _)| i + 1)
            .collect();
        for line in LINES {
            for &at in &headers {
                let mut lines: Vec<&str> = text.lines().collect();
                lines.insert(at, line);
                let text = lines.join("\n");
                check_bounded(path, &text).expect("bounded");
            }
        }
    }
}
