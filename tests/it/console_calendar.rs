//! Integration tests: the console's calendar. `berrah preview --out DIR` on
//! the example campaigns (the AMAL capsule of 18 December 2026), through the
//! binary, with the bundled time-zone data and "now" pinned; and the served
//! routes (`console::calendar::routes`) on 127.0.0.1 with the queue's states.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use assert_cmd::Command;

use crate::support::{copy_project, planned, project_root};

const NOW: &str = "2026-12-07T09:00:00Z";

/// The start of the AMAL launch's card, found back to its `<li`.
const LAUNCH: &str =
    r#"data-campaign="amal-web-series" data-capsule="capsule-1-migrants" data-accounts="8""#;

fn berrah(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_berrah"));
    cmd.current_dir(dir)
        .env("BERRAH_TZDB", "bundled")
        .env("BERRAH_NOW", NOW)
        .env_remove("BERRAH_CONFIG")
        .env_remove("BERRAH_CAMPAIGNS")
        .env_remove("DATABASE_URL")
        .args(["--config", "berrah.toml"]);
    cmd
}

/// The examples previewed into `dir/out`; stderr.
fn preview(dir: &Path, extra: &[&str]) -> (i32, String) {
    let out = berrah(dir)
        .args(["preview", "--out", "out"])
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn read(p: PathBuf) -> String {
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The `<li class="post" ...>` items of a day's cell.
fn day_cell<'a>(html: &'a str, day: &str) -> &'a str {
    let start = html
        .find(&format!("data-day=\"{day}\""))
        .unwrap_or_else(|| panic!("no day {day}"));
    let rest = &html[start..];
    let end = rest[1..].find("data-day=\"").map_or(rest.len(), |i| i + 1);
    &rest[..end]
}

/// The value of attribute `name` in the first tag after `at`.
fn attr<'a>(html: &'a str, at: usize, name: &str) -> &'a str {
    let key = format!("{name}=\"");
    let i = at + html[at..].find(&key).unwrap() + key.len();
    &html[i..i + html[i..].find('"').unwrap()]
}

/// The text of the first element of class `class` inside `html`, unescaped
/// (the marks removed).
fn text_of(html: &str, class_and_lang: &str) -> String {
    let i = html
        .find(class_and_lang)
        .unwrap_or_else(|| panic!("no {class_and_lang}"));
    let open_end = i + html[i..].find('>').unwrap() + 1;
    let close = open_end + html[open_end..].find("</div>").unwrap();
    let inner = &html[open_end..close];
    let mut out = String::new();
    let mut in_tag = false;
    for c in inner.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

#[test]
fn preview_writes_the_calendar_of_the_examples_in_both_languages() {
    let tmp = copy_project(&project_root());
    let (code, stderr) = preview(tmp.path(), &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("month pages"), "{stderr}");
    let out = tmp.path().join("out");
    for f in [
        "index.html",
        "console.css",
        "fr/index.html",
        "en/index.html",
    ] {
        assert!(out.join(f).is_file(), "{f}");
    }
    let fr = read(out.join("fr/2026-12.html"));
    // Today, the international day in French, the capsule's band.
    assert!(fr.contains(r#"data-day="2026-12-07" aria-current="date""#));
    let day = day_cell(&fr, "2026-12-18");
    assert!(day.contains("Journée internationale des migrants"), "{day}");
    let band = fr
        .find(r#"data-capsule="capsule-1-migrants" data-from="2026-12-15" data-until="2026-12-20""#)
        .expect("the capsule's band");
    assert!(fr[..band].rfind("class=\"capsule from-").is_some());
    // The launch once, with its 8 accounts and 2 languages (13 queue entries).
    assert_eq!(
        day.matches(r#"data-capsule="capsule-1-migrants""#).count(),
        1,
        "{day}"
    );
    assert!(
        day.contains(
            r#"data-capsule="capsule-1-migrants" data-accounts="8" data-languages="ar fr""#
        ),
        "{day}"
    );
    let plan = planned(tmp.path(), NOW.parse().unwrap());
    let launch: Vec<_> = plan
        .iter()
        .filter(|o| o.post == "launch" && o.local.starts_with("2026-12-18"))
        .collect();
    assert_eq!(launch.len(), 13);
    // The English page names the day in English; the switch links both.
    let en = read(out.join("en/2026-12.html"));
    assert!(en.contains("International Migrants Day"));
    assert!(fr.contains(r#"href="../en/2026-12.html""#));
    assert!(en.contains(r#"href="../fr/2026-12.html""#));
    // Every link is relative: the folder opens from file://.
    for page in [&fr, &en] {
        assert!(!page.contains("href=\"/"), "an absolute link");
        assert!(!page.contains("src=\"/"), "an absolute source");
    }
    // Previous/next months within the range.
    assert!(fr.contains(r#"rel="next" href="2027-01.html""#));
}

#[test]
fn a_post_page_shows_each_platform_and_language_as_published() {
    let tmp = copy_project(&project_root());
    let (code, stderr) = preview(tmp.path(), &[]);
    assert_eq!(code, 0, "{stderr}");
    let out = tmp.path().join("out");
    let fr = read(out.join("fr/2026-12.html"));
    let day = day_cell(&fr, "2026-12-18");
    let id = attr(
        day,
        day[..day.find(LAUNCH).unwrap()].rfind("<li").unwrap(),
        "data-post",
    );
    let page = read(out.join(format!("fr/post/{id}.html")));
    let plan = planned(tmp.path(), NOW.parse().unwrap());
    let x_fr = plan
        .iter()
        .find(|o| o.post == "launch" && o.account == "oim-maroc-x" && o.language == "fr")
        .unwrap();
    let x_ar = plan
        .iter()
        .find(|o| o.post == "launch" && o.account == "oim-maroc-x" && o.language == "ar")
        .unwrap();
    // X's section in French and in Arabic, the final texts (UTM applied).
    let x = &page[page.find(r#"data-platform="x" data-lang="fr""#).unwrap()..];
    assert_eq!(
        text_of(x, r#"class="post-text main" lang="fr" dir="ltr""#),
        x_fr.content.text
    );
    assert!(x_fr.content.text.contains("utm_source=berrah"));
    let xa = &page[page.find(r#"data-platform="x" data-lang="ar""#).unwrap()..];
    assert_eq!(
        text_of(xa, r#"class="post-text main" lang="ar" dir="rtl""#),
        x_ar.content.text
    );
    // The link marked whole, UTM included, nothing after it.
    let link = x_fr
        .content
        .text
        .split_whitespace()
        .find(|w| w.starts_with("https://"))
        .unwrap();
    assert!(x.contains(&format!(
        "<mark class=\"link\">{}</mark>",
        link.replace('&', "&amp;")
    )));
    // X's count is the weighted length `check` judges.
    let i = x
        .find(r#"class="count" data-platform="x" data-part="text""#)
        .unwrap();
    assert_eq!(
        attr(x, i, "data-length"),
        berrah::text::limits::x_weighted_length(&x_fr.content.text).to_string()
    );
    assert_eq!(attr(x, i, "data-max"), "280");
    // The thread's reply and the first comment, in order.
    assert!(x.contains(r#"<li data-reply="1">"#));
    let fb = &page[page
        .find(r#"data-platform="facebook" data-lang="fr""#)
        .unwrap()..];
    assert!(fb.contains("post-text first-comment"));
    // The local time with its offset and zone, and UTC.
    assert!(page.contains("vendredi 18 décembre 2026, 10:00"), "{page}");
    assert!(page.contains("(UTC+00:00, Africa/Casablanca)"));
    assert!(page.contains("2026-12-18 10:00 UTC"));
    // The video's thumbnail, copied, with its alt text in its language.
    assert!(page.contains(r#"src="../../files/media/amal-capsule-1-miniature.jpg""#));
    assert!(
        out.join("files/media/amal-capsule-1-miniature.jpg")
            .is_file()
    );
    assert!(page.contains("Capsule vidéo AMAL n°1"));
    // The accounts, grouped per variant: Facebook's three in French.
    let fb_section = &fb[..fb[1..].find("<section").map_or(fb.len(), |i| i + 1)];
    assert_eq!(fb_section.matches("data-account=").count(), 3);
}

#[test]
fn a_broken_file_is_reported_and_the_others_are_still_written() {
    let tmp = copy_project(&project_root());
    std::fs::write(
        tmp.path().join("campaigns/broken.toml"),
        "[campaign]\nid = \"broken\"\ntimezone = \"Africa/Casablanca\"\nstart = 2026-12-01\n\
         end = 2026-12-31\naccounts = [\"nobody\"]\n",
    )
    .unwrap();
    let (code, stderr) = preview(tmp.path(), &[]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("error"), "{stderr}");
    assert!(
        stderr.contains("skipping a campaign (campaigns/broken.toml)"),
        "{stderr}"
    );
    assert!(stderr.contains("left out"), "{stderr}");
    let fr = read(tmp.path().join("out/fr/2026-12.html"));
    assert!(fr.contains("capsule-1-migrants"));
}

#[test]
fn bounds_choose_the_months() {
    let tmp = copy_project(&project_root());
    let (code, stderr) = preview(
        tmp.path(),
        &["--from", "2026-12-01", "--until", "2027-01-31"],
    );
    assert_eq!(code, 0, "{stderr}");
    let out = tmp.path().join("out");
    assert!(out.join("fr/2026-12.html").is_file());
    assert!(out.join("en/2027-01.html").is_file());
    assert!(!out.join("fr/2027-02.html").exists());
    let jan = read(out.join("fr/2027-01.html"));
    assert!(
        !jan.contains("rel=\"next\""),
        "no link to a month not written"
    );
    assert!(stderr.contains("2026-12 to 2027-01"), "{stderr}");
    // A usage error is clap's.
    let out = berrah(tmp.path())
        .args(["preview", "--out", "o", "--from", "18/12/2026"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// The served pages join the queue's states.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn served_pages_show_the_queue_states() {
    use berrah::console::{ConsoleState, calendar};
    let tmp = copy_project(&project_root());
    let (_db, store) = berrah::store::testing::sqlite_temp().await;
    let now: jiff::Timestamp = NOW.parse().unwrap();
    let plan = planned(tmp.path(), now);
    let amal: Vec<_> = plan
        .iter()
        .filter(|o| o.campaign == "amal-web-series")
        .cloned()
        .collect();
    store
        .sync_campaign("amal-web-series", &amal, now)
        .await
        .unwrap();
    store
        .hold_account("oim-maroc-x", "the token was revoked")
        .await
        .unwrap();
    let state = ConsoleState {
        store,
        clock: Arc::new(berrah::time::SimClock::new(now)),
        campaigns_dir: tmp.path().join("campaigns"),
        config_path: Some(tmp.path().join("berrah.toml")),
        plans: Default::default(),
    };
    let app = calendar::routes().with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let client = berrah::http::client();
    let get = |path: String, lang: &'static str| {
        let client = client.clone();
        async move {
            let r = client
                .get(format!("http://{addr}{path}"))
                .header("Accept-Language", lang)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let (status, month) = get("/calendar".into(), "en-US,en;q=0.9").await;
    assert_eq!(status, 200);
    assert!(month.contains("<h1>December 2026</h1>"), "{month}");
    let day = day_cell(&month, "2026-12-18");
    assert!(day.contains("data-state=\"held\""), "{day}");
    assert!(day.contains("data-state=\"scheduled\""), "{day}");
    let id = attr(
        day,
        day[..day.find(LAUNCH).unwrap()].rfind("<li").unwrap(),
        "data-post",
    )
    .to_string();
    let (status, post) = get(format!("/post/{id}?lang=fr"), "en").await;
    assert_eq!(status, 200);
    assert!(post.contains("<html lang=\"fr\""));
    assert!(post.contains("the token was revoked"), "{post}");
    assert!(post.contains("href=\"/calendar/2026-12?lang=fr\""));
    // The thumbnail is served from the campaign's folder.
    let i = post.find("<img src=\"").unwrap() + 10;
    let src = &post[i..i + post[i..].find('"').unwrap()];
    let r = client
        .get(format!("http://{addr}{src}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "{src}");
    assert_eq!(r.headers()["content-type"], "image/jpeg");
    let (status, _) = get("/post/o-0000000000000000".into(), "fr").await;
    assert_eq!(status, 404);
    let (status, _) = get("/calendar/2026-13".into(), "fr").await;
    assert_eq!(status, 404);
    // The plan is kept between pages, and made again once a file changes.
    let (_, again) = get("/calendar".into(), "en").await;
    assert!(again.contains("message-hebdomadaire"));
    std::fs::remove_file(tmp.path().join("campaigns/b7al-b7al.toml")).unwrap();
    let (status, after) = get("/calendar".into(), "en").await;
    assert_eq!(status, 200);
    assert!(!after.contains("message-hebdomadaire"), "{after}");
    assert!(after.contains(LAUNCH));
}
