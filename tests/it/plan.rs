//! Integration tests: plan. The binary's `plan` (table, JSON, iCalendar) and
//! `days` on the fixtures of `tests/fixtures/plan/`, id stability across
//! edits, Casablanca (UTC+00:00 all year since 2026-09-20, Ramadan included)
//! and the Paris (DST) changes of time end to end. Expected instants are
//! written by hand. Every run pins the bundled time-zone data (2026f).

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

const NOW: &str = "2026-11-23T00:00:00Z";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/plan")
}

fn berrah(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_berrah"));
    cmd.current_dir(dir)
        .env("BERRAH_TZDB", "bundled")
        .env_remove("BERRAH_CONFIG")
        .env_remove("BERRAH_CAMPAIGNS")
        .env_remove("DATABASE_URL")
        .env_remove("BERRAH_NOW")
        .args(["--config", "berrah.toml", "--now", NOW]);
    cmd
}

/// A copy of the fixtures in a temporary folder, to edit.
fn copy_fixtures() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixtures().join("berrah.toml"),
        tmp.path().join("berrah.toml"),
    )
    .unwrap();
    copy_dir(&fixtures().join("campaigns"), &tmp.path().join("campaigns"));
    tmp
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

fn plan_json(dir: &Path, extra: &[&str]) -> Vec<Value> {
    let out = berrah(dir)
        .args(["plan", "--format", "json"])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v.as_array().unwrap().clone()
}

/// `berrah plan --format json` as bytes.
fn plan_json_bytes(dir: &Path) -> Vec<u8> {
    let out = berrah(dir)
        .args(["plan", "--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Files saved on Windows (CRLF, a byte-order mark) plan byte for byte as
/// the same files with LF: no carriage return reaches a text, not even
/// from a multi-line string.
#[test]
fn crlf_and_a_bom_plan_exactly_as_lf() {
    let tmp = copy_fixtures();
    let camps = tmp.path().join("campaigns");
    let paris = std::fs::read_to_string(camps.join("paris.toml")).unwrap();
    std::fs::write(
        camps.join("paris.toml"),
        format!(
            "{paris}\n[[posts]]\nid = \"multi\"\ndate_time = 2027-04-01T10:00:00\n\
             text = {{ fr = \"\"\"\nPremière ligne\nDeuxième ligne\"\"\" }}\n"
        ),
    )
    .unwrap();
    let lf = plan_json_bytes(tmp.path());
    let lf_text = String::from_utf8(lf.clone()).unwrap();
    assert!(
        lf_text.contains("Première ligne\\nDeuxième ligne"),
        "{lf_text}"
    );
    for e in std::fs::read_dir(&camps).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "toml") {
            let text = std::fs::read_to_string(&p).unwrap();
            assert!(!text.contains('\r'));
            let mut bytes = b"\xEF\xBB\xBF".to_vec();
            bytes.extend(text.replace('\n', "\r\n").into_bytes());
            std::fs::write(&p, bytes).unwrap();
        }
    }
    let crlf = plan_json_bytes(tmp.path());
    assert!(!String::from_utf8_lossy(&crlf).contains("\\r"));
    assert!(
        lf == crlf,
        "CRLF plans differently:\n{}",
        String::from_utf8_lossy(&crlf)
    );
}

fn find<'a>(rows: &'a [Value], post: &str) -> Vec<&'a Value> {
    rows.iter().filter(|r| r["post"] == post).collect()
}

#[test]
fn plan_json_has_every_field_in_time_order() {
    let rows = plan_json(&fixtures(), &[]);
    assert!(!rows.is_empty());
    let dues: Vec<&str> = rows.iter().map(|r| r["due"].as_str().unwrap()).collect();
    let mut sorted = dues.clone();
    sorted.sort();
    assert_eq!(dues, sorted);
    for r in &rows {
        for field in [
            "id",
            "campaign",
            "capsule",
            "post",
            "account",
            "platform",
            "due",
            "local",
            "timezone",
            "language",
            "text",
            "media",
            "not_after",
        ] {
            assert!(r.get(field).is_some(), "{field} missing in {r}");
        }
        assert!(r["due"].as_str().unwrap().ends_with('Z'));
        assert!(r["id"].as_str().unwrap().starts_with("o-"));
    }
    // The teaser: two days before International Migrants Day (18 Dec), 10:00
    // in Casablanca (UTC+00:00 since 2026-09-20) = 10:00 UTC; facebook fr +
    // ar, x fr only.
    let teaser = find(&rows, "teaser");
    assert_eq!(teaser.len(), 3);
    for t in &teaser {
        assert_eq!(t["due"], "2026-12-16T10:00:00Z");
        assert_eq!(t["local"], "2026-12-16T10:00:00+00:00");
        assert_eq!(t["timezone"], "Africa/Casablanca");
        assert_eq!(t["tzdb"], "2026f");
        assert_eq!(t["capsule"], "ep1-migrants");
        assert_eq!(t["not_after"], "2026-12-17T00:00:00Z");
        assert!(t["media"][0].as_str().unwrap().ends_with("media/ep1.png"));
    }
    let ar = teaser.iter().find(|t| t["language"] == "ar").unwrap();
    assert_eq!(
        ar["text"],
        "قريبا: أمل، الحلقة الأولى. https://oim.ma/amal?utm_source=berrah&utm_medium=social&utm_campaign=amal\n\n#AMAL #B7alB7al"
    );
    // The X variant of the launch.
    let launch_x = find(&rows, "launch")
        .into_iter()
        .find(|r| r["platform"] == "x")
        .unwrap();
    assert_eq!(launch_x["text"], "AMAL ép. 1 : partir.\n\n#AMAL #B7alB7al");
    assert_eq!(launch_x["due"], "2026-12-18T18:30:00Z");
    // Weekly: Tuesdays from 2026-12-01 to 2027-01-26, a series, campaign-level.
    let weekly = find(&rows, "weekly");
    assert_eq!(weekly.len(), 9);
    assert!(weekly.iter().all(|w| w["capsule"].is_null()));
    assert_eq!(weekly[0]["due"], "2026-12-01T10:00:00Z");
    assert_eq!(weekly[8]["due"], "2027-01-26T10:00:00Z");
}

#[test]
fn paris_gap_and_overlap_end_to_end() {
    let rows = plan_json(&fixtures(), &[]);
    let gap = find(&rows, "in-the-gap");
    assert_eq!(gap[0]["due"], "2027-03-28T01:30:00Z");
    assert_eq!(gap[0]["local"], "2027-03-28T03:30:00+02:00");
    let overlap = find(&rows, "in-the-overlap");
    assert_eq!(overlap[0]["due"], "2026-10-25T00:30:00Z");
    assert_eq!(overlap[0]["local"], "2026-10-25T02:30:00+02:00");
}

#[test]
fn casablanca_ramadan_end_to_end() {
    let rows = plan_json(&fixtures(), &[]);
    let got: Vec<(&str, &str)> = find(&rows, "sundays")
        .iter()
        .map(|r| (r["local"].as_str().unwrap(), r["due"].as_str().unwrap()))
        .collect();
    assert_eq!(
        got,
        [
            // UTC+00:00 all along: no change of time for Ramadan since
            // tzdata 2026c (older data had UTC+01:00 on 31 January and
            // 14 March, 20:00 UTC).
            ("2027-01-31T21:00:00+00:00", "2027-01-31T21:00:00Z"),
            ("2027-02-07T21:00:00+00:00", "2027-02-07T21:00:00Z"),
            ("2027-02-14T21:00:00+00:00", "2027-02-14T21:00:00Z"),
            ("2027-02-21T21:00:00+00:00", "2027-02-21T21:00:00Z"),
            ("2027-02-28T21:00:00+00:00", "2027-02-28T21:00:00Z"),
            ("2027-03-07T21:00:00+00:00", "2027-03-07T21:00:00Z"),
            ("2027-03-14T21:00:00+00:00", "2027-03-14T21:00:00Z"),
        ]
    );
}

#[test]
fn from_and_until_are_utc_days_or_instants() {
    let rows = plan_json(
        &fixtures(),
        &["--from", "2026-12-16", "--until", "2026-12-16"],
    );
    assert!(
        rows.iter()
            .all(|r| r["due"].as_str().unwrap().starts_with("2026-12-16"))
    );
    assert_eq!(rows.len(), 3, "{rows:#?}");
    let rows = plan_json(
        &fixtures(),
        &[
            "--from",
            "2026-12-18T19:30:00+01:00",
            "--until",
            "2026-12-18T18:30:00Z",
        ],
    );
    assert!(rows.iter().all(|r| r["post"] == "launch"));
    assert_eq!(rows.len(), 3);
    berrah(&fixtures())
        .args(["plan", "--from", "18/12/2026"])
        .assert()
        .code(2);
}

#[test]
fn plan_table_shows_local_and_utc() {
    let out = berrah(&fixtures()).arg("plan").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    // The first line names the time-zone data (pinned to the bundled copy here).
    let zones = lines.next().unwrap();
    assert!(
        zones.starts_with("Time zones: bundled tzdata 2026f (tzdb = \"bundled\")"),
        "{zones}"
    );
    let header = lines.next().unwrap();
    for col in [
        "LOCAL",
        "UTC",
        "CAMPAIGN/CAPSULE",
        "ACCOUNT",
        "PLATFORM",
        "LANG",
        "TEXT",
    ] {
        assert!(header.contains(col), "{header}");
    }
    let teaser = text
        .lines()
        .find(|l| l.contains("2026-12-16T10:00:00+00:00") && l.contains(" ar "))
        .unwrap();
    assert!(teaser.contains("2026-12-16T10:00:00Z"), "{teaser}");
    assert!(teaser.contains("amal/ep1-migrants"), "{teaser}");
    assert!(teaser.contains("oim-facebook"), "{teaser}");
    assert!(teaser.contains("قريبا: أمل"), "{teaser}");
}

/// The VEVENTs of an unfolded calendar.
fn ics_events(unfolded: &str) -> Vec<&str> {
    unfolded.split("BEGIN:VEVENT").skip(1).collect()
}

/// One event per post and instant (the accounts and languages in its
/// description), with a UID from the post and instant alone.
#[test]
fn plan_ics_is_rfc5545() {
    let out = berrah(&fixtures())
        .args(["plan", "--format", "ics"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"));
    assert!(text.ends_with("END:VCALENDAR\r\n"));
    // CRLF only, every line at most 75 octets.
    assert!(!text.replace("\r\n", "").contains('\n'));
    for line in text.split("\r\n") {
        assert!(line.len() <= 75, "{} octets: {line}", line.len());
    }
    let unfolded = text.replace("\r\n ", "");
    let rows = plan_json(&fixtures(), &[]);
    let uid = |r: &Value| {
        berrah::plan::output::event_uid(
            r["campaign"].as_str().unwrap(),
            r["capsule"].as_str(),
            r["post"].as_str().unwrap(),
            r["due"].as_str().unwrap().parse().unwrap(),
        )
    };
    let mut posts_and_times: Vec<String> = rows.iter().map(uid).collect();
    posts_and_times.sort();
    posts_and_times.dedup();
    assert!(posts_and_times.len() < rows.len());
    assert_eq!(
        unfolded.matches("BEGIN:VEVENT").count(),
        posts_and_times.len()
    );
    // The teaser: on two accounts at 10:00 (oim-x publishes French only),
    // one event.
    let teaser = rows
        .iter()
        .find(|r| r["post"] == "teaser" && r["language"] == "ar")
        .unwrap();
    let uid_line = format!("UID:{}\r\n", uid(teaser));
    let events = ics_events(&unfolded);
    assert_eq!(events.iter().filter(|e| e.contains(&uid_line)).count(), 1);
    let event = events.iter().find(|e| e.contains(&uid_line)).unwrap();
    assert!(event.contains("DTSTART:20261216T100000Z\r\n"), "{event}");
    assert!(event.contains("DTEND:20261216T101500Z\r\n"), "{event}");
    assert!(event.contains("X-BERRAH-TZDB:2026f\r\n"), "{event}");
    assert!(event.contains("DTSTAMP:20261123T000000Z\r\n"), "{event}");
    assert!(event.contains("STATUS:CONFIRMED\r\n"), "{event}");
    assert!(event.contains("\r\nSUMMARY:teaser: "), "{event}");
    // The local time, the accounts and languages, each language's first
    // line: Arabic survives folding and escaping.
    assert!(
        event.contains(
            "DESCRIPTION:2026-12-16T10:00:00+00:00 (Africa/Casablanca)\\, 2026-12-16T10:00:00Z UTC\\n"
        ),
        "{event}"
    );
    assert!(
        event.contains("\\n- oim-facebook (facebook): ar\\, fr\\n- oim-x (x): fr\\n"),
        "{event}"
    );
    assert!(
        event.contains("\\nar: قريبا: أمل، الحلقة الأولى."),
        "{event}"
    );
    assert!(
        event.contains("\\nfr: Bientôt : AMAL\\, épisode 1."),
        "{event}"
    );
    let ids: Vec<&str> = rows
        .iter()
        .filter(|r| uid(r) == uid(teaser))
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 3);
    for id in ids {
        assert!(event.contains(id), "{id} in {event}");
    }
    let weekly = events.iter().find(|e| e.contains("Chaque mardi")).unwrap();
    assert!(
        weekly.contains("une histoire\\; de migration\\, d'espoir"),
        "{weekly}"
    );
}

/// Planned after the teaser's day: its occurrences are dropped, and its
/// event is cancelled (with the same UID).
#[test]
fn plan_ics_cancels_what_is_dropped() {
    let ics = |now: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_berrah"))
            .current_dir(fixtures())
            .env("BERRAH_TZDB", "bundled")
            .env_remove("BERRAH_CONFIG")
            .env_remove("BERRAH_CAMPAIGNS")
            .env_remove("DATABASE_URL")
            .env_remove("BERRAH_NOW")
            .args([
                "--config",
                "berrah.toml",
                "--now",
                now,
                "plan",
                "--format",
                "ics",
            ])
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap().replace("\r\n ", "")
    };
    let before = ics("2026-11-23T00:00:00Z");
    let after = ics("2026-12-17T12:00:00Z");
    let teaser = |text: &str| -> String {
        ics_events(text)
            .into_iter()
            .find(|e| e.contains("DTSTART:20261216T100000Z"))
            .unwrap()
            .to_string()
    };
    let uid = |e: &str| {
        e.split("\r\n")
            .find(|l| l.starts_with("UID:"))
            .unwrap()
            .to_string()
    };
    let (before, after) = (teaser(&before), teaser(&after));
    assert_eq!(uid(&before), uid(&after));
    assert!(before.contains("STATUS:CONFIRMED\r\n"), "{before}");
    assert!(after.contains("STATUS:CANCELLED\r\n"), "{after}");
    assert!(
        after.contains("- oim-facebook (facebook): ar (dropped)\\, fr (dropped)"),
        "{after}"
    );
}

#[test]
fn ids_are_stable_across_edits_end_to_end() {
    let tmp = copy_fixtures();
    let ids = |post: &str| -> Vec<String> {
        let mut v: Vec<String> = find(&plan_json(tmp.path(), &[]), post)
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    let launch = ids("launch");
    let weekly = ids("weekly");
    let path = tmp.path().join("campaigns/amal.toml");
    let original = std::fs::read_to_string(&path).unwrap();
    // Remove the teaser, edit the launch's text and time, add a post first.
    let start = original
        .find("[[capsules.posts]]\nid = \"teaser\"")
        .unwrap();
    let end = original
        .find("[[capsules.posts]]\nid = \"launch\"")
        .unwrap();
    let edited = format!(
        "{}[[capsules.posts]]\nid = \"new\"\nat = 08:00\ntext = {{ fr = \"n\", ar = \"ن\" }}\n\n{}",
        &original[..start],
        &original[end..]
    )
    .replace("at = 18:30", "at = 20:00")
    .replace("Regardez maintenant.", "Regardez-le maintenant !");
    std::fs::write(&path, edited).unwrap();
    assert_eq!(ids("launch"), launch);
    assert_eq!(ids("weekly"), weekly);
    assert!(ids("teaser").is_empty());
    let rows = plan_json(tmp.path(), &[]);
    assert_eq!(find(&rows, "launch")[0]["due"], "2026-12-18T20:00:00Z");
}

#[test]
fn a_broken_campaign_is_skipped_and_the_others_still_shown() {
    let tmp = copy_fixtures();
    std::fs::write(
        tmp.path().join("campaigns/broken.toml"),
        "[campaign]\nid = \"broken\"\ntitle = \"b\"\ntimezone = \"Africa/Casablance\"\n\
         start = 2026-12-01\nend = 2026-12-31\naccounts = [\"oim-facebook\"]\nlanguages = [\"fr\"]\n\n\
         [[posts]]\nid = \"p\"\ndate_time = 2026-12-10T10:00:00\ntext = { fr = \"x\" }\n",
    )
    .unwrap();
    let out = berrah(tmp.path())
        .args(["plan", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("broken"), "{stderr}");
    assert!(stderr.contains("Africa/Casablanca"), "{stderr}");
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(rows.iter().any(|r| r["campaign"] == "amal"));
    assert!(rows.iter().all(|r| r["campaign"] != "broken"));
}

#[test]
fn a_missing_campaign_folder_is_an_error() {
    let tmp = copy_fixtures();
    std::fs::remove_dir_all(tmp.path().join("campaigns")).unwrap();
    let out = berrah(tmp.path()).arg("plan").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("campaign folder"), "{stderr}");
}

#[test]
fn days_lists_the_calendar_in_three_languages() {
    let out = berrah(&fixtures())
        .args(["days", "--year", "2027", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let days: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(days.len() >= 40);
    let migrants = days.iter().find(|d| d["slug"] == "migrants").unwrap();
    assert_eq!(migrants["date"], "2027-12-18");
    assert_eq!(migrants["ar"], "اليوم الدولي للمهاجرين");
    assert_eq!(migrants["fr"], "Journée internationale des migrants");
    assert_eq!(migrants["en"], "International Migrants Day");
    let week = days
        .iter()
        .find(|d| d["slug"] == "interfaith-harmony-week")
        .unwrap();
    assert_eq!(week["date"], "2027-02-01");
    assert_eq!(week["last"], "2027-02-07");

    let out = berrah(&fixtures())
        .args(["days", "--year", "2026"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let children = text.lines().find(|l| l.contains(" children ")).unwrap();
    assert!(children.starts_with("2026-11-20"), "{children}");
    assert!(children.contains("World Children's Day"));
    assert!(children.contains("اليوم العالمي للطفل"));
}

/// `berrah schema campaign | true`, `berrah plan | head`: the reader closes
/// the pipe (here before anything is written); the command ends quietly
/// (killed by SIGPIPE, as Unix tools are, or done), never with a panic.
#[test]
fn a_closed_pipe_ends_the_command_quietly() {
    use std::os::unix::process::ExitStatusExt;
    use std::process::Stdio;
    for args in [
        &["schema", "campaign"][..],
        &["plan", "--format", "json"][..],
        &["days"][..],
    ] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_berrah"))
            .current_dir(fixtures())
            .env("BERRAH_TZDB", "bundled")
            .args(["--config", "berrah.toml", "--now", NOW])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The reader goes away at once, as `| true` does.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(
            out.status.success() || out.status.signal() == Some(libc::SIGPIPE),
            "{args:?}: {:?} {stderr}",
            out.status
        );
    }
}
