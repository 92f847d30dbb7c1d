//! Browser tests: the calendar's static pages (`berrah preview --out DIR`)
//! opened from `file://` in a real headless Chromium (the harness of
//! `browser.rs`). The example campaigns, plus one file whose links end
//! sentences in French and Arabic; "now" pinned, bundled time-zone data.
//! With `BERRAH_SCREENSHOTS=1` they also refresh `docs/screenshots/`
//! (`calendar.png`, `post.png`) shown in the README.

use std::path::Path;

use assert_cmd::Command;

use crate::browser::{Browser, file_url};
use crate::support::{copy_project, planned, project_root};

const NOW: &str = "2026-12-07T09:00:00Z";

/// A campaign whose texts end sentences with links.
const PUNCTUATED: &str = r#"[campaign]
id = "liens"
title = "Liens en fin de phrase"
timezone = "Africa/Casablanca"
start = 2026-12-01
end = 2026-12-31
accounts = ["oim-maroc-x"]
languages = ["fr", "ar"]

[[posts]]
id = "liens"
date_time = 2026-12-22T11:00:00
text.fr = "Tout le programme : https://morocco.iom.int/fr. Merci !"
text.ar = "البرنامج كاملا: https://morocco.iom.int/ar؟ شكرا، https://iom.int/ma، انتهى"
"#;

/// `berrah preview --out DIR/OUT` of the folder's campaigns.
fn preview(dir: &Path, out: &str) {
    let out = Command::new(env!("CARGO_BIN_EXE_berrah"))
        .current_dir(dir)
        .env("BERRAH_TZDB", "bundled")
        .env("BERRAH_NOW", NOW)
        .env_remove("BERRAH_CONFIG")
        .env_remove("BERRAH_CAMPAIGNS")
        .env_remove("DATABASE_URL")
        .args(["--config", "berrah.toml", "preview", "--out", out])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Text as WebDriver returns it (white space collapsed), for comparison.
fn collapsed(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_capsule_of_18_december_and_a_post_as_published() {
    let tmp = copy_project(&project_root());
    // The examples as they are (the README's pictures), then with a file
    // whose links end sentences.
    preview(tmp.path(), "out");
    std::fs::write(tmp.path().join("campaigns/liens.toml"), PUNCTUATED).unwrap();
    preview(tmp.path(), "out2");
    let plan = planned(tmp.path(), NOW.parse().unwrap());
    let Some(browser) =
        Browser::start("browser_calendar::the_capsule_of_18_december_and_a_post_as_published")
            .await
    else {
        return;
    };
    // The folder's first page, then French.
    browser
        .open(&file_url(&tmp.path().join("out/index.html")))
        .await;
    browser.click("a[hreflang=\"fr\"]").await;
    browser
        .wait_for("section.month[data-month=\"2026-12\"]")
        .await;

    // The capsule's band covers 18 December, whose cell names the day.
    let day = ".day[data-day=\"2026-12-18\"]";
    let band = ".capsule[data-capsule=\"capsule-1-migrants\"]";
    assert!(browser.attr(band, "data-from").await.unwrap().as_str() <= "2026-12-18");
    assert!(browser.attr(band, "data-until").await.unwrap().as_str() >= "2026-12-18");
    let covers = browser
        .execute(
            "const b = document.querySelector(arguments[0]).getBoundingClientRect();\
             const d = document.querySelector(arguments[1]).getBoundingClientRect();\
             return b.left <= d.left + 1 && b.right >= d.right - 1 && b.bottom <= d.top + 1;",
            vec![band.into(), day.into()],
        )
        .await;
    assert_eq!(
        covers,
        serde_json::Value::Bool(true),
        "the band is over the day"
    );
    assert!(
        browser
            .text(&format!("{day} .intl-day"))
            .await
            .contains("Journée internationale des migrants")
    );
    // The launch is one card for its 13 queue entries.
    let launch = format!("{day} li.post[data-capsule=\"capsule-1-migrants\"]");
    assert_eq!(browser.count(&launch).await, 1);
    assert_eq!(
        browser.attr(&launch, "data-accounts").await.as_deref(),
        Some("8")
    );
    // The picture of the README: the capsule's week in view.
    browser
        .execute(
            "document.querySelector(arguments[0]).scrollIntoView({block: 'center'});",
            vec![band.into()],
        )
        .await;
    browser.docs_screenshot("calendar").await;

    // The post opened: French and Arabic as X will publish them.
    browser.click(&format!("{launch} a")).await;
    browser.wait_for("article.post-page").await;
    let x_text = |lang: &str| {
        plan.iter()
            .find(|o| o.post == "launch" && o.account == "oim-maroc-x" && o.language == lang)
            .unwrap()
            .content
            .text
            .clone()
    };
    let fr = "section.variant[data-platform=\"x\"][data-lang=\"fr\"] .post-text.main";
    let ar = "section.variant[data-platform=\"x\"][data-lang=\"ar\"] .post-text.main";
    assert_eq!(collapsed(&browser.text(fr).await), collapsed(&x_text("fr")));
    assert_eq!(collapsed(&browser.text(ar).await), collapsed(&x_text("ar")));
    assert_eq!(browser.computed_style(ar, "direction").await, "rtl");
    assert_eq!(browser.computed_style(fr, "direction").await, "ltr");
    assert_eq!(browser.attr(ar, "lang").await.as_deref(), Some("ar"));
    // X's count is the weighted length `check` judges.
    for (lang, selector) in [("fr", fr), ("ar", ar)] {
        let count = selector.replace(
            ".post-text.main",
            ".count[data-platform=\"x\"][data-part=\"text\"]",
        );
        assert_eq!(
            browser.attr(&count, "data-length").await.unwrap(),
            berrah::text::limits::x_weighted_length(&x_text(lang)).to_string(),
            "{lang}"
        );
    }
    browser.docs_screenshot("post").await;

    // Links that end sentences are marked without the punctuation.
    browser
        .open(&file_url(&tmp.path().join("out2/fr/2026-12.html")))
        .await;
    browser
        .click(".day[data-day=\"2026-12-22\"] li.post[data-campaign=\"liens\"] a")
        .await;
    browser.wait_for("article.post-page").await;
    let marks = |lang: &'static str| {
        let b = &browser;
        async move {
            let mut out = Vec::new();
            for m in b
                .find_all(&format!(
                    "section.variant[data-lang=\"{lang}\"] .post-text.main mark.link"
                ))
                .await
            {
                out.push(m.text().await.unwrap());
            }
            out
        }
    };
    assert_eq!(marks("fr").await, vec!["https://morocco.iom.int/fr"]);
    assert_eq!(
        marks("ar").await,
        vec!["https://morocco.iom.int/ar", "https://iom.int/ma"]
    );
    browser.close().await;
}
