//! Integration tests: check. `berrah check` and `berrah schema` as a comms
//! team runs them, on the fixture folders of `tests/fixtures/check/`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/check")
        .join(name)
}

/// Runs the binary in `dir` with a fixed "now" and none of the user's environment.
fn berrah(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_berrah"))
        .current_dir(dir)
        .env("BERRAH_TZDB", "bundled")
        .args(args)
        .args(["--now", "2026-11-23T12:00:00Z"])
        .env_remove("BERRAH_CONFIG")
        .env_remove("BERRAH_CAMPAIGNS")
        .env_remove("BERRAH_NOW")
        .env_remove("DATABASE_URL")
        .output()
        .expect("the berrah binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn valid_campaigns_exit_zero_with_a_summary() {
    let o = berrah(&fixture("valid"), &["check"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("1 campaign file checked: 0 errors"), "{err}");
}

#[test]
fn broken_files_exit_one_with_path_line_column_caret_and_help() {
    let o = berrah(&fixture("broken"), &["check"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains(
            "campaigns/a-typo.toml:7:1: error: unknown key `hashtag`\n  |\n7 | hashtag = [\"#B7alB7al\"]\n  | ^^^^^^^\n  = help: did you mean `hashtags`?\n"
        ),
        "{err}"
    );
    assert!(
        err.contains("campaigns/b-binary.toml:1:1: error: the file is binary"),
        "{err}"
    );
    assert!(
        err.contains("campaigns/c-empty.toml:1:1: error: the file is empty"),
        "{err}"
    );
    // The broken files hide nothing of the others.
    assert!(
        err.contains("campaigns/d-semantic.toml:7:13: error: unknown account `oim-maroc-facebok`"),
        "{err}"
    );
    assert!(err.contains("did you mean `oim-maroc-facebook`?"), "{err}");
    assert!(
        err.contains(
            "campaigns/d-semantic.toml:16:51: error: media file `../secret.png` is outside"
        ),
        "{err}"
    );
    assert!(
        err.contains("campaigns/e-dup.toml:2:6: error: campaign id `Migrants_B7al` is already used by `campaigns/d-semantic.toml`"),
        "{err}"
    );
    assert!(err.contains("5 campaign files checked:"), "{err}");
}

#[test]
fn github_format_annotates_each_problem_at_its_line() {
    let o = berrah(&fixture("broken"), &["check", "--format", "github"]);
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout);
    let first = out.lines().next().expect("annotations on stdout");
    assert!(
        first.starts_with(
            "::error file=campaigns/a-typo.toml,line=7,col=1,title=berrah check%3A error::"
        ),
        "{first}"
    );
    assert!(
        first.ends_with("%0Ahelp: did you mean `hashtags`?"),
        "{first}"
    );
    assert!(
        out.lines()
            .all(|l| l.starts_with("::error ") || l.starts_with("::warning ")),
        "{out}"
    );
    let valid = berrah(&fixture("valid"), &["check", "--format", "github"]);
    assert_eq!(valid.status.code(), Some(0), "{}", stderr(&valid));
}

#[test]
fn json_format_lists_every_diagnostic() {
    let o = berrah(&fixture("broken"), &["check", "--format", "json"]);
    assert_eq!(o.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON on stdout");
    assert_eq!(doc["files"], 5);
    let first = &doc["diagnostics"][0];
    assert_eq!(first["path"], "campaigns/a-typo.toml");
    assert_eq!(
        (first["line"].as_u64(), first["column"].as_u64()),
        (Some(7), Some(1))
    );
    assert_eq!(first["help"], "did you mean `hashtags`?");
}

#[test]
fn usage_errors_exit_two() {
    let o = berrah(&fixture("valid"), &["check", "--no-such-flag"]);
    assert_eq!(o.status.code(), Some(2));
    let o = berrah(&fixture("valid"), &["schema", "nonsense"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn config_problems_and_missing_folders_exit_one() {
    let dir = tempfile::tempdir().unwrap();
    // An explicit config that does not exist.
    let o = berrah(dir.path(), &["check", "--config", "nope.toml"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("nope.toml:1:1: error: the configuration file does not exist"));
    // A broken config: path:line:col and did-you-mean.
    std::fs::write(
        dir.path().join("berrah.toml"),
        "[accounts.a]\nplatform = \"mastodn\"\n",
    )
    .unwrap();
    let o = berrah(dir.path(), &["check"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("berrah.toml:2:12: error:"), "{err}");
    // No config and no campaigns folder.
    std::fs::remove_file(dir.path().join("berrah.toml")).unwrap();
    let o = berrah(dir.path(), &["check"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("cannot read the campaign folder"), "{err}");
    // An empty campaigns folder is valid.
    std::fs::create_dir(dir.path().join("campaigns")).unwrap();
    let o = berrah(dir.path(), &["check"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

/// A mistake in `berrah.toml` is reported with the campaigns' problems,
/// which are checked against the accounts that are valid (a broken
/// configuration used to stop `check` before any campaign).
#[test]
fn a_broken_config_hides_no_campaign_error() {
    let dir = campaign_dir(
        "[accounts.unhcr-x]\nplatform = \"x\"\n\
         [accounts.masto]\nplatform = \"mastodon\"\ncredentials = \"sk-PASTED-TOKEN\"\n",
        &campaign_with("text = { fr = \"Salut\" }\nhashtag = [\"#x\"]\n"),
    );
    let o = berrah(dir.path(), &["check"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("berrah.toml:"), "{err}");
    assert!(err.contains("needs a `base_url`"), "{err}");
    assert!(err.contains("must say where the secret is"), "{err}");
    assert!(!err.contains("PASTED"), "{err}");
    assert!(
        err.contains("campaigns/c.toml:15:1: error: unknown key `hashtag`"),
        "{err}"
    );
    // The valid account is known: no "unknown account" for `unhcr-x`.
    assert!(!err.contains("unknown account"), "{err}");
    // berrah.toml that is not even TOML: the campaigns are still checked.
    std::fs::write(dir.path().join("berrah.toml"), "[accounts.unhcr-x\n").unwrap();
    let o = berrah(dir.path(), &["check"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("berrah.toml:1:"), "{err}");
    assert!(err.contains("unknown key `hashtag`"), "{err}");
}

#[test]
fn huge_and_non_utf8_files_get_one_clear_diagnostic() {
    let dir = tempfile::tempdir().unwrap();
    let camps = dir.path().join("campaigns");
    std::fs::create_dir(&camps).unwrap();
    std::fs::write(camps.join("big.toml"), vec![b'#'; 2 * 1024 * 1024]).unwrap();
    std::fs::write(camps.join("latin1.toml"), b"title = \"Journ\xe9e\"\n").unwrap();
    let o = berrah(dir.path(), &["check"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("campaigns/big.toml:1:1: error: the file is 2097152 bytes"),
        "{err}"
    );
    assert!(
        // The first bad byte's line and column (it used to say 1:1 and a byte offset).
        err.contains("campaigns/latin1.toml:1:15: error: the file is not valid UTF-8 text: its first byte that is not UTF-8 is at line 1, column 15"),
        "{err}"
    );
    assert!(
        err.contains("2 campaign files checked: 2 errors, 0 warnings"),
        "{err}"
    );
}

/// A FIFO named `*.toml` is refused without blocking (no writer: a
/// blocking open would hang), and so is a link leading out of the folder;
/// the good campaign beside them is checked as usual.
#[test]
fn a_fifo_or_a_link_out_of_the_folder_is_an_error_never_a_wait() {
    let dir = campaign_dir(X_CONFIG, &campaign_with("text = { fr = \"Salut\" }\n"));
    let camps = dir.path().join("campaigns");
    let made = Command::new("mkfifo")
        .arg(camps.join("pipe.toml"))
        .status()
        .unwrap();
    assert!(made.success());
    std::fs::write(dir.path().join("secret.toml"), "token = \"s3cr3t\"\n").unwrap();
    std::os::unix::fs::symlink(dir.path().join("secret.toml"), camps.join("link.toml")).unwrap();
    std::os::unix::fs::symlink("c.toml", camps.join("inside.toml")).unwrap();
    let o = berrah(dir.path(), &["check"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("campaigns/pipe.toml:1:1: error: this is a named pipe (FIFO), not a file"),
        "{err}"
    );
    assert!(
        err.contains("campaigns/link.toml:1:1: error: this file is a link to a file outside the campaign folder"),
        "{err}"
    );
    assert!(!err.contains("s3cr3t"), "{err}");
    // A link that stays inside is read (here: the same campaign id twice).
    assert!(
        err.contains("campaigns/inside.toml") && err.contains("is already used by"),
        "{err}"
    );
    assert!(err.contains("4 campaign files checked: 3 errors"), "{err}");
}

#[test]
fn schema_prints_the_committed_schemas() {
    for kind in ["campaign", "config"] {
        let o = berrah(&fixture("valid"), &["schema", kind]);
        assert_eq!(o.status.code(), Some(0));
        let committed = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("schemas/{kind}.schema.json")),
        )
        .unwrap();
        assert_eq!(String::from_utf8_lossy(&o.stdout), committed);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert!(v["$schema"].is_string());
    }
}

/// A campaign folder in a temporary directory, with `berrah.toml` beside it.
fn campaign_dir(config: &str, campaign: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("berrah.toml"), config).unwrap();
    std::fs::create_dir_all(dir.path().join("campaigns/media")).unwrap();
    std::fs::write(dir.path().join("campaigns/c.toml"), campaign).unwrap();
    std::fs::copy(
        fixture("valid/campaigns/media/capsule-1.png"),
        dir.path().join("campaigns/media/photo.png"),
    )
    .unwrap();
    dir
}

const X_CONFIG: &str =
    "[accounts.unhcr-x]\nplatform = \"x\"\n[accounts.tg]\nplatform = \"telegram\"\n";

fn campaign_with(post: &str) -> String {
    format!(
        "[campaign]\nid = \"c\"\ntitle = \"t\"\ntimezone = \"Africa/Casablanca\"\n\
         start = 2026-12-01\nend = 2026-12-31\naccounts = [\"unhcr-x\"]\nlanguages = [\"fr\"]\n\
         hashtags = [\"#B7alB7al\"]\n\n[[posts]]\nid = \"p\"\ndate_time = 2026-12-18T10:00:00\n{post}"
    )
}

#[test]
fn a_rendered_text_over_the_x_limit_points_at_the_text_and_suggests_a_variant() {
    // 285 accented letters: over 280 before the campaign hashtag is added.
    let text = "é".repeat(285);
    let dir = campaign_dir(
        X_CONFIG,
        &campaign_with(&format!("text = {{ fr = \"{text}\" }}\n")),
    );
    let o = berrah(dir.path(), &["check"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("campaigns/c.toml:14:15: error: the X text of post `p` in `fr` is"),
        "{err}"
    );
    assert!(err.contains("over X's limit of 280"), "{err}");
    assert!(err.contains("[posts.variants.x]"), "{err}");
    // A shorter variant for X fixes it.
    let dir = campaign_dir(
        X_CONFIG,
        &campaign_with(&format!(
            "text = {{ fr = \"{text}\" }}\n[posts.variants.x]\ntext = {{ fr = \"Court.\" }}\n"
        )),
    );
    let o = berrah(dir.path(), &["check"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn warnings_alone_exit_zero() {
    let dir = campaign_dir(
        X_CONFIG,
        &campaign_with("text = { fr = \"Salut\" }\nmedia = [{ file = \"media/photo.png\" }]\n"),
    );
    let o = berrah(dir.path(), &["check"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        err.contains("warning: image `media/photo.png` has no alt text in fr"),
        "{err}"
    );
    assert!(
        err.contains("1 campaign file checked: 0 errors, 1 warning"),
        "{err}"
    );
}

#[test]
fn telegram_caption_limit_applies_with_media() {
    let text = "a".repeat(1100);
    let post = format!(
        "accounts = [\"tg\"]\ntext = {{ fr = \"{text}\" }}\nmedia = [{{ file = \"media/photo.png\", alt = {{ fr = \"x\" }} }}]\n"
    );
    let dir = campaign_dir(X_CONFIG, &campaign_with(&post));
    let o = berrah(dir.path(), &["check"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("over Telegram's limit of 1024"), "{err}");
}

#[test]
fn a_text_that_fits_without_its_hashtags_points_at_the_hashtags() {
    // 270 accented letters fit; the campaign hashtag makes 281.
    let text = "é".repeat(270);
    let dir = campaign_dir(
        X_CONFIG,
        &campaign_with(&format!("text = {{ fr = \"{text}\" }}\n")),
    );
    let o = berrah(dir.path(), &["check"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("campaigns/c.toml:9:12: error: the X text of post `p` in `fr` is 281 weighted characters long, 1 over X's limit of 280, because of these hashtags: the text alone fits"),
        "{err}"
    );
    assert!(
        err.contains("make it 1 weighted characters too long"),
        "{err}"
    );
}

#[test]
fn campaigns_sharing_an_account_are_held_to_its_budget_together() {
    let config = "[accounts.oim-fb]\nplatform = \"facebook\"\nbudget = { per_day = 1 }\n";
    let camp = |id: &str| {
        format!(
            "[campaign]\nid = \"{id}\"\ntitle = \"t\"\ntimezone = \"Africa/Casablanca\"\n\
             start = 2026-12-01\nend = 2026-12-31\naccounts = [\"oim-fb\"]\nlanguages = [\"fr\"]\n\n\
             [[posts]]\nid = \"p\"\ndate_time = 2026-12-18T10:00:00\ntext = {{ fr = \"Salut\" }}\n"
        )
    };
    let dir = campaign_dir(config, &camp("amal"));
    std::fs::write(dir.path().join("campaigns/d.toml"), camp("b7al")).unwrap();
    let o = berrah(dir.path(), &["check"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        err.contains("campaigns/d.toml:2:6: warning: account `oim-fb` has 2 publications planned on 2026-12-18 by campaigns amal, b7al, over its budget of 1 per day"),
        "{err}"
    );
}

#[test]
fn check_with_files_checks_only_those_files_in_every_format() {
    let dir = fixture("broken");
    let o = berrah(&dir, &["check", "campaigns/a-typo.toml"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("campaigns/a-typo.toml:7:1: error: unknown key `hashtag`"),
        "{err}"
    );
    assert!(!err.contains("d-semantic.toml"), "{err}");
    assert!(err.contains("1 campaign file checked: 1 error"), "{err}");
    let o = berrah(
        &dir,
        &[
            "check",
            "--format",
            "github",
            "campaigns/a-typo.toml",
            "campaigns/c-empty.toml",
        ],
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(
        out.starts_with("::error file=campaigns/a-typo.toml,line=7,col=1,"),
        "{out}"
    );
    let o = berrah(
        &dir,
        &["check", "--format", "json", "campaigns/d-semantic.toml"],
    );
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["files"], 1);
    assert!(
        doc["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["path"] == "campaigns/d-semantic.toml"),
        "{doc}"
    );
}

#[test]
fn days_marks_today_and_lists_the_coming_weeks() {
    let dir = fixture("valid");
    let run = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_berrah"))
            .current_dir(&dir)
            .env("BERRAH_TZDB", "bundled")
            .env("BERRAH_NOW", "2026-12-07T09:00:00Z")
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success());
        String::from_utf8(o.stdout).unwrap()
    };
    let all = run(&["days"]);
    let lines: Vec<&str> = all.lines().collect();
    let today = lines
        .iter()
        .position(|l| *l == "── today, 2026-12-07 ──")
        .unwrap();
    // Before the first day on or after today, a period going on included.
    assert!(lines[today - 1] < "2026-11-25", "{all}");
    assert!(lines[today + 1].contains("16-days-of-activism"), "{all}");
    let soon = run(&["days", "--upcoming", "1"]);
    assert!(soon.starts_with("International days of the next 1 weeks, from today (2026-12-07):\n"));
    assert!(soon.contains("human-rights"), "{soon}");
    assert!(!soon.contains("migrants"), "{soon}");
    // A period going on today (the 16 days of activism) is listed too.
    assert!(soon.contains("16-days-of-activism"), "{soon}");
    assert!(run(&["days", "--upcoming"]).starts_with("International days of the next 4 weeks"));
    let next_year = run(&["days", "--upcoming", "8"]);
    assert!(next_year.contains("2027-01-"), "{next_year}");
    let json: serde_json::Value =
        serde_json::from_str(&run(&["days", "--format", "json"])).unwrap();
    let activism = json
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["slug"] == "16-days-of-activism")
        .unwrap();
    assert_eq!(activism["today"], true);
}

#[test]
fn a_syntax_error_is_shown_at_its_cause_with_a_caret() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corpus");
    let o = berrah(
        &corpus,
        &[
            "--config",
            "berrah.toml",
            "check",
            "broken/01-unclosed-quote.toml",
        ],
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains(
            "broken/01-unclosed-quote.toml:4:9: error: this text in quotes is not closed on its line\n  |\n4 | title = \"Journée internationale des migrants 2026\n  |         ^\n  = help: add the closing \" at the end of the text"
        ),
        "{err}"
    );
}
