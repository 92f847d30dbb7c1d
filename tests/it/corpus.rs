//! The corpus of campaign files (`tests/fixtures/corpus/`): realistic
//! mistakes a comms officer makes, one per file under `broken/`, each with
//! the exact diagnostics `berrah check` must give in `NN-name.expected`
//! (`path:line:col: severity: message`, then `help: ...`); and near misses
//! under `valid/` (CRLF, a BOM, Arabic with diacritics, a hashtag already in
//! the text, dotted keys, notes everywhere...) that must pass with no error
//! and no warning. A case may bring its own configuration
//! (`NN-name.berrah.toml`); the others share `berrah.toml`.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corpus")
}

/// The campaign files of `kind` (`broken` or `valid`), relative to the corpus.
fn cases(kind: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(corpus().join(kind))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".toml") && !n.ends_with(".berrah.toml"))
        .map(|n| format!("{kind}/{n}"))
        .collect();
    v.sort();
    v
}

/// `berrah check --format json FILE` in the corpus folder, with the case's
/// configuration: the exit code and the diagnostics as the expected files
/// write them.
fn check(case: &str) -> (Option<i32>, String) {
    let own = format!("{}.berrah.toml", case.trim_end_matches(".toml"));
    let config = if corpus().join(&own).exists() {
        own
    } else {
        "berrah.toml".to_string()
    };
    let out = Command::new(env!("CARGO_BIN_EXE_berrah"))
        .current_dir(corpus())
        .env("BERRAH_TZDB", "bundled")
        .env_remove("BERRAH_CONFIG")
        .env_remove("BERRAH_CAMPAIGNS")
        .env_remove("BERRAH_NOW")
        .env_remove("DATABASE_URL")
        .args(["--config", &config, "--now", "2026-11-23T12:00:00Z"])
        .args(["check", "--format", "json", case])
        .output()
        .expect("the berrah binary runs");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{case}: no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let mut shown = String::new();
    for d in doc["diagnostics"].as_array().unwrap() {
        shown.push_str(&format!(
            "{}:{}:{}: {}: {}\n",
            d["path"].as_str().unwrap(),
            d["line"],
            d["column"],
            d["severity"].as_str().unwrap(),
            d["message"].as_str().unwrap()
        ));
        if let Some(h) = d["help"].as_str() {
            shown.push_str(&format!("help: {h}\n"));
        }
    }
    (out.status.code(), shown)
}

#[test]
fn every_broken_file_gets_its_exact_place_message_and_help() {
    let cases = cases("broken");
    assert!(cases.len() >= 60, "{} broken files", cases.len());
    let mut wrong = Vec::new();
    for case in &cases {
        let expected_path = corpus().join(case.replace(".toml", ".expected"));
        let expected = std::fs::read_to_string(&expected_path)
            .unwrap_or_else(|e| panic!("{}: {e}", expected_path.display()));
        assert!(
            expected.contains(": error: ") || expected.contains(": warning: "),
            "{case}: the expected file names no problem"
        );
        assert!(expected.contains("\nhelp: "), "{case}: no help line");
        let (code, shown) = check(case);
        let want = if expected.contains(": error: ") { 1 } else { 0 };
        if shown != expected || code != Some(want) {
            wrong.push(format!(
                "{case} (exit {code:?}, want {want}):\n--- expected\n{expected}--- got\n{shown}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn every_near_miss_passes_cleanly() {
    let cases = cases("valid");
    assert!(cases.len() >= 60, "{} valid files", cases.len());
    let mut wrong = Vec::new();
    for case in &cases {
        let (code, shown) = check(case);
        if code != Some(0) || !shown.is_empty() {
            wrong.push(format!("{case} (exit {code:?}):\n{shown}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn line_endings_and_byte_order_marks_survive_git() {
    // `.gitattributes` keeps these bytes as written (`-text`).
    let crlf = std::fs::read(corpus().join("valid/02-crlf-line-endings.toml")).unwrap();
    assert!(crlf.windows(2).any(|w| w == b"\r\n"));
    let bom = std::fs::read(corpus().join("valid/03-bom.toml")).unwrap();
    assert!(bom.starts_with(b"\xEF\xBB\xBF"));
}
