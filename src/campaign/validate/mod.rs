//! Validation of a parsed campaign file: everything TOML and serde cannot see.
//!
//! Two passes:
//! - [`validate`] on the file alone (ids, accounts, timing keys, languages,
//!   durations, media files);
//! - [`check_occurrences`] on what the plan produced (text limits of each
//!   platform on the rendered text, Instagram's hashtags, posting budgets).
//!
//! Every diagnostic points into the file and says what to write instead.
//! Zones, days, cron expressions, windows and past due times are the plan's
//! to report ([`crate::plan::plan_campaign`]).
//!
//! The file pass is one `V` walking the file; its checks are grouped by
//! what they look at: `ids` (ids and language codes), `accounts` (where a
//! post goes), `timing` (timing keys and durations), `texts`, `media`. The
//! plan pass is `limits` (rendered texts) and `budgets` (posting budgets,
//! per file and across files). `posts` lists a file's posts for both.

mod accounts;
mod budgets;
mod ids;
mod limits;
mod media;
mod posts;
mod texts;
mod timing;

use std::collections::{BTreeSet, HashMap};
use std::ops::Range;
use std::path::PathBuf;

use super::model::{LangText, Spanned};
use super::{Context, LoadedCampaign};
use crate::diag::Diagnostic;
use crate::media::probe::MediaInfo;

pub use self::accounts::{post_accounts, post_languages};
pub use self::budgets::{BudgetCounts, check_shared_budget_counts, check_shared_budgets};
pub use self::ids::{is_valid_id, is_valid_lang};
pub use self::limits::check_occurrences;
pub use self::posts::{PostRef, posts};

fn span<T>(s: &Spanned<T>) -> Option<Range<usize>> {
    Some(s.span())
}

struct V<'a> {
    c: &'a LoadedCampaign,
    ctx: &'a Context<'a>,
    out: Vec<Diagnostic>,
    /// Probe results, once per canonical path.
    probed: HashMap<PathBuf, Result<MediaInfo, (String, &'static str)>>,
    /// Media paths found inside the folder, once per path as written (a
    /// capsule's media is checked for each of its posts).
    resolved: HashMap<String, PathBuf>,
    /// The names in each folder a missing media file was looked for in
    /// ("did you mean"), read once per folder.
    listings: HashMap<PathBuf, Option<Vec<String>>>,
}

impl V<'_> {
    fn error(
        &mut self,
        span: Option<Range<usize>>,
        msg: impl Into<String>,
        help: impl Into<String>,
    ) {
        self.out
            .push(Diagnostic::error(&self.c.path, span, msg).with_help(help));
    }

    fn warning(
        &mut self,
        span: Option<Range<usize>>,
        msg: impl Into<String>,
        help: impl Into<String>,
    ) {
        self.out
            .push(Diagnostic::warning(&self.c.path, span, msg).with_help(help));
    }
}

fn has_text(t: &LangText, lang: &str) -> bool {
    t.get(lang).is_some_and(|s| !s.get_ref().trim().is_empty())
}

/// Checks the file alone (see the module's doc).
pub fn validate(c: &LoadedCampaign, ctx: &Context<'_>) -> Vec<Diagnostic> {
    let mut v = V {
        c,
        ctx,
        out: Vec::new(),
        probed: HashMap::new(),
        resolved: HashMap::new(),
        listings: HashMap::new(),
    };
    let camp = &c.file.campaign;
    v.id("campaign", &camp.id);
    if camp.start.get_ref() > camp.end.get_ref() {
        v.error(
            span(&camp.end),
            format!(
                "the campaign ends ({}) before it starts ({})",
                camp.end.get_ref(),
                camp.start.get_ref()
            ),
            "`end` is the last day of the campaign; it must be on or after `start`",
        );
    }
    let zone = camp.timezone.get_ref();
    if crate::campaign::suggest::is_offset(zone) && ctx.calendar.zone(zone).is_ok() {
        v.warning(
            span(&camp.timezone),
            format!("`{zone}` is a fixed offset, not a place: it never follows the changes of time of the place the campaign is for"),
            crate::campaign::suggest::zone_help(zone, None),
        );
    }
    v.accounts(&camp.accounts);
    v.languages(&camp.languages);
    if let Some(e) = &camp.expires_after {
        v.duration(e);
    }
    for day in &c.file.days {
        v.id("day", &day.slug);
    }
    v.duplicates("day", c.file.days.iter().map(|d| &d.slug), "in `[[days]]`");
    for cap in &c.file.capsules {
        v.id("capsule", &cap.id);
        v.anchor_shape(&cap.anchor);
        v.duplicates(
            "post",
            cap.posts.iter().map(|p| &p.id),
            &format!("in capsule `{}`", cap.id.get_ref()),
        );
    }
    v.duplicates(
        "capsule",
        c.file.capsules.iter().map(|cap| &cap.id),
        "in this file",
    );
    v.duplicates(
        "post",
        c.file.posts.iter().map(|p| &p.id),
        "among the campaign's `[[posts]]`",
    );
    for p in posts(c) {
        v.id("post", &p.post.id);
        if let Some(a) = &p.post.accounts {
            v.accounts(a);
        }
        if let Some(l) = &p.post.languages {
            v.languages(l);
        }
        if let Some(e) = &p.post.expires_after {
            v.duration(e);
        }
        v.timing(&p);
        v.texts(&p);
        v.media(&p);
    }
    // Capsule media are checked once per post of the capsule: say each thing once.
    let mut said = BTreeSet::new();
    v.out.retain(|d| {
        said.insert((
            d.span.as_ref().map(|s| (s.start, s.end)),
            d.severity,
            d.message.clone(),
        ))
    });
    v.out
}

/// A configuration, a campaign head and helpers for the tests of every check.
#[cfg(test)]
mod fixtures {
    use std::path::{Path, PathBuf};

    use super::validate;
    use crate::calendar::Calendar;
    use crate::campaign::{Context, LoadedCampaign};
    use crate::config::{Config, PlatformKind};
    use crate::diag::Diagnostic;
    use crate::plan::{Content, Occurrence};

    pub(super) const CONFIG: &str = r#"
[accounts.fb]
platform = "facebook"
[accounts.x]
platform = "x"
languages = ["fr"]
[accounts.ig]
platform = "instagram"
[accounts.yt]
platform = "youtube"
[accounts.masto]
platform = "mastodon"
base_url = "https://m.example"
max_chars = 1000
budget = { per_day = 1, per_month = 2 }
"#;

    pub(super) fn head(accounts: &str) -> String {
        format!(
            "[campaign]\nid = \"c\"\ntitle = \"t\"\ntimezone = \"Africa/Casablanca\"\n\
             start = 2026-12-01\nend = 2026-12-31\naccounts = [{accounts}]\nlanguages = [\"fr\", \"ar\"]\n"
        )
    }

    pub(super) fn run(dir: &Path, source: &str) -> (LoadedCampaign, Vec<Diagnostic>) {
        let config: Config = toml::from_str(CONFIG).unwrap();
        let calendar = Calendar::shipped();
        let ctx = Context {
            config: &config,
            calendar: &calendar,
            now: "2026-11-01T00:00:00Z".parse().unwrap(),
        };
        let path = dir.join("c.toml");
        let file = toml::from_str(source).unwrap_or_else(|e| panic!("{e}"));
        let c = LoadedCampaign {
            path,
            source: source.to_string(),
            file,
        };
        let d = validate(&c, &ctx);
        (c, d)
    }

    pub(super) fn messages(d: &[Diagnostic]) -> Vec<String> {
        d.iter()
            .map(|d| format!("{}: {}", d.severity, d.message))
            .collect()
    }

    pub(super) fn occurrence(
        post: &str,
        account: &str,
        platform: PlatformKind,
        lang: &str,
        local: &str,
        text: &str,
    ) -> Occurrence {
        Occurrence {
            id: format!("o-{post}{local}"),
            key: String::new(),
            campaign: "c".into(),
            capsule: None,
            post: post.into(),
            account: account.into(),
            platform,
            language: lang.into(),
            due: "2026-12-18T10:00:00Z".parse().unwrap(),
            local: local.into(),
            timezone: "Africa/Casablanca".into(),
            tzdb: "2026f".into(),
            not_after: "2026-12-19T10:00:00Z".parse().unwrap(),
            series: None,
            paused: false,
            source: PathBuf::from("c.toml"),
            content: Content {
                text: text.into(),
                ..Content::default()
            },
        }
    }
}
