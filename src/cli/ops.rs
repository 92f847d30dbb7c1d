//! `berrah retry | cancel | pause | resume | show`: an operator's hands on the queue.
//!
//! Every command works on the database directly, so it works whether or not
//! a daemon runs; the store wakes a running daemon itself (NOTIFY on
//! PostgreSQL, the file's change counter on SQLite), so a change takes effect
//! without a restart. Each command says exactly what it changed, in one line
//! on stdout; notes and warnings go to stderr.
//!
//! Exit codes: 0 done (or nothing to do, said so), 1 refused (unknown id, a
//! published entry, an entry being published...), 2 usage (an ambiguous id
//! prefix or name: say more).

use std::fmt::Write as _;
use std::process::ExitCode;

use clap::{ArgGroup, Args, ValueEnum};
use jiff::Timestamp;
use serde::Serialize;

use super::GlobalArgs;
use super::context::Loaded;
use super::format::{Hold, hold_for, local_time, short_id};
use super::queue::{open_store, prepare};
use crate::store::{Attempt, Entry, EntryState, ListFilter, PauseScope, Store, StoreError};
use crate::text::sanitize::{for_terminal, for_terminal_opt};

#[derive(Debug, Args)]
pub struct RetryArgs {
    /// The entry's id, or a unique prefix of it (as `berrah status` shows).
    pub id: String,
}

#[derive(Debug, Args)]
pub struct CancelArgs {
    /// The entry's id, or a unique prefix of it (as `berrah status` shows).
    pub id: String,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("target").required(true).args(["name", "campaign", "account"])))]
pub struct PauseArgs {
    /// A campaign or account name (berrah finds out which one it is).
    pub name: Option<String>,
    /// The campaign of this name.
    #[arg(long, value_name = "NAME")]
    pub campaign: Option<String>,
    /// The account of this id (as in berrah.toml).
    #[arg(long, value_name = "NAME")]
    pub account: Option<String>,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The entry's id, or a unique prefix of it (as `berrah status` shows).
    pub id: String,
    /// Output format: text for people, JSON for tools.
    #[arg(long, value_enum, default_value_t = ShowFormat::Table)]
    pub format: ShowFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ShowFormat {
    Table,
    Json,
}

/// Why a command did not do what it was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The request is understood but cannot be done (exit code 1).
    Refused(String),
    /// The request is unclear: say more (exit code 2).
    Usage(String),
}

impl Refusal {
    fn exit(self) -> ExitCode {
        match self {
            Refusal::Refused(m) => super::fail(m),
            Refusal::Usage(m) => {
                eprintln!("error: {m}");
                ExitCode::from(2)
            }
        }
    }
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Refusal {
        match e {
            StoreError::NotFound(id) if id.is_empty() => {
                Refusal::Usage("give an entry id (`berrah status` lists them)".into())
            }
            StoreError::NotFound(id) => Refusal::Refused(format!(
                "no queue entry with id `{id}`; `berrah status` lists the ids"
            )),
            e @ StoreError::Ambiguous { .. } => Refusal::Usage(e.to_string()),
            e => Refusal::Refused(e.to_string()),
        }
    }
}

/// Runs one command body on the store and turns its result into an exit code.
fn execute<F>(global: &GlobalArgs, body: F) -> ExitCode
where
    F: AsyncFnOnce(&Store, &Loaded) -> Result<String, Refusal>,
{
    let (runtime, loaded, url) = match prepare(global) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let result = runtime.block_on(async {
        let store = open_store(&url).await.map_err(Refusal::Refused)?;
        let out = body(&store, &loaded).await;
        store.close().await;
        out
    });
    match result {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(r) => r.exit(),
    }
}

/// `2026-12-18 10:00 +01:00 (09:00 UTC)`.
fn when(at: Timestamp, timezone: &str) -> String {
    let local = local_time(at, timezone);
    let shown = match local.split_at_checked(19) {
        Some((dt, offset)) => {
            let dt = dt.replacen('T', " ", 1);
            let dt = dt.strip_suffix(":00").unwrap_or(&dt).to_string();
            if offset == "Z" {
                format!("{dt} UTC")
            } else {
                format!("{dt} {offset}")
            }
        }
        None => local.clone(),
    };
    if local.ends_with('Z') {
        shown
    } else {
        format!("{shown} ({})", at.strftime("%H:%M UTC"))
    }
}

/// `o-3fa9c2d1e4b5 (amal/post-a on oim-mastodon, fr)`.
fn describe(e: &Entry) -> String {
    format!(
        "{} ({}/{} on {}, {})",
        short_id(&e.id),
        e.campaign,
        e.post,
        e.account,
        e.language
    )
}

fn published_at_words(e: &Entry) -> String {
    e.url
        .clone()
        .or_else(|| e.remote_id.as_ref().map(|id| format!("id {id}")))
        .unwrap_or_else(|| "an unknown URL".into())
}

/// What `retry` would refuse, before touching anything (pure).
pub fn retry_refusal(e: &Entry, now: Timestamp) -> Option<String> {
    let id = short_id(&e.id);
    match e.state {
        EntryState::Published => Some(format!(
            "{id} is already published at {}: retrying would post twice",
            published_at_words(e)
        )),
        EntryState::Claimed | EntryState::Publishing => Some(format!(
            "{id} is being published right now by {}{}: wait for the attempt to end, then see \
             `berrah show {id}`",
            e.lease_owner.as_deref().unwrap_or("a daemon"),
            e.lease_until
                .map(|t| format!(" (lease until {})", t.strftime("%Y-%m-%d %H:%M:%S UTC")))
                .unwrap_or_default()
        )),
        EntryState::Cancelled => Some(format!(
            "{id} was cancelled ({}): a cancelled entry is never sent again; to publish it, \
             put the post back in its campaign file (or copy it as a new post)",
            e.last_error.as_deref().unwrap_or("no reason recorded")
        )),
        _ if e.not_after < now => Some(format!(
            "{id} is past its limit (not after {}): the daemon would expire it again at once; \
             move the post's `not_after` (or its campaign's `expires_after`) in the campaign \
             file, or publish it by hand",
            when(e.not_after, &e.timezone)
        )),
        _ => None,
    }
}

/// `berrah retry ID`.
pub async fn retry_entry(store: &Store, id: &str, now: Timestamp) -> Result<String, Refusal> {
    let before = store.get(id).await?;
    if let Some(why) = retry_refusal(&before, now) {
        return Err(Refusal::Refused(why));
    }
    if before.state == EntryState::Scheduled {
        return Ok(format!(
            "{} is already scheduled for {}; nothing changed",
            describe(&before),
            when(before.run_at, &before.timezone)
        ));
    }
    let cause = store.held_cause(&before.id).await?;
    if before.state == EntryState::Held && cause.as_deref() == Some("file_pause") {
        return Err(Refusal::Refused(format!(
            "{} is held by `paused = true` in its campaign file: remove that line (the daemon \
             then schedules it again); a retry would be undone by the file",
            describe(&before)
        )));
    }
    let after = store.retry(&before.id, now).await?;
    if before.state == EntryState::Held && cause.as_deref() == Some("outcome") {
        eprintln!(
            "warning: the last attempt of {} may have reached {}; if it did, this publishes \
             it a second time",
            short_id(&before.id),
            before.account
        );
    }
    let goes = if after.run_at <= now {
        "goes out as soon as a daemon runs".to_string()
    } else {
        format!("goes out at {}", when(after.run_at, &after.timezone))
    };
    Ok(format!(
        "retried {}: {} → {}, {goes}",
        describe(&after),
        before.state,
        after.state
    ))
}

/// `berrah cancel ID`.
pub async fn cancel_entry(store: &Store, id: &str, now: Timestamp) -> Result<String, Refusal> {
    let before = store.get(id).await?;
    let short = short_id(&before.id);
    match before.state {
        EntryState::Published => {
            return Err(Refusal::Refused(format!(
                "{short} is already published at {}: berrah cannot take it back; delete it on \
                 the platform if it must go",
                published_at_words(&before)
            )));
        }
        EntryState::Publishing => {
            return Err(Refusal::Refused(format!(
                "{short} is being published right now by {}: it may already be on the \
                 platform; cancel it after the attempt ends (`berrah show {short}`)",
                before.lease_owner.as_deref().unwrap_or("a daemon")
            )));
        }
        EntryState::Cancelled => {
            return Ok(format!(
                "{} was already cancelled; nothing changed",
                describe(&before)
            ));
        }
        _ => {}
    }
    let after = store.cancel(&before.id, now).await?;
    Ok(format!(
        "cancelled {}: {} → {}; due {}, it will not be published",
        describe(&after),
        before.state,
        after.state,
        when(after.due, &after.timezone)
    ))
}

fn scope_word(scope: PauseScope) -> &'static str {
    match scope {
        PauseScope::Campaign => "campaign",
        PauseScope::Account => "account",
    }
}

/// Which campaign or account a bare name means: a campaign known to the
/// queue (entries or a saved source), an account of berrah.toml or the
/// queue, or (for resume) whatever is paused under that name.
async fn resolve_target(
    store: &Store,
    loaded: &Loaded,
    args: &PauseArgs,
    verb: &str,
) -> Result<(PauseScope, String), Refusal> {
    if let Some(c) = &args.campaign {
        return Ok((PauseScope::Campaign, c.clone()));
    }
    if let Some(a) = &args.account {
        return Ok((PauseScope::Account, a.clone()));
    }
    let Some(name) = args.name.clone() else {
        return Err(Refusal::Usage(format!(
            "say what to {verb}: a name, --campaign NAME or --account NAME"
        )));
    };
    let one = |campaign: Option<String>, account: Option<String>| ListFilter {
        campaign,
        account,
        limit: Some(1),
        ..ListFilter::default()
    };
    let pauses = store.pauses().await?;
    let is_campaign = !store
        .list_checked(one(Some(name.clone()), None))
        .await?
        .0
        .is_empty()
        || store.snapshots().await?.iter().any(|s| s.campaign == name)
        || pauses.contains(&(PauseScope::Campaign, name.clone()));
    let is_account = loaded.config.accounts.contains_key(&name)
        || !store
            .list_checked(one(None, Some(name.clone())))
            .await?
            .0
            .is_empty()
        || pauses.contains(&(PauseScope::Account, name.clone()));
    match (is_campaign, is_account) {
        (true, false) => Ok((PauseScope::Campaign, name)),
        (false, true) => Ok((PauseScope::Account, name)),
        (true, true) => Err(Refusal::Usage(format!(
            "`{name}` is both a campaign and an account: say which, with \
             `berrah {verb} --campaign {name}` or `berrah {verb} --account {name}`"
        ))),
        (false, false) => Err(Refusal::Refused(format!(
            "no campaign or account named `{name}` in the queue or berrah.toml; to {verb} it \
             anyway, say `berrah {verb} --campaign {name}` or `berrah {verb} --account {name}`"
        ))),
    }
}

/// Waiting (scheduled, retrying), overdue among them, and being published now.
async fn waiting(
    store: &Store,
    scope: PauseScope,
    name: &str,
    now: Timestamp,
) -> Result<(usize, usize, usize), StoreError> {
    let mut filter = ListFilter {
        states: vec![
            EntryState::Scheduled,
            EntryState::Retrying,
            EntryState::Claimed,
            EntryState::Publishing,
        ],
        ..ListFilter::default()
    };
    match scope {
        PauseScope::Campaign => filter.campaign = Some(name.to_string()),
        PauseScope::Account => filter.account = Some(name.to_string()),
    }
    let (list, _) = store.list_checked(filter).await?;
    let waiting: Vec<&Entry> = list
        .iter()
        .filter(|e| matches!(e.state, EntryState::Scheduled | EntryState::Retrying))
        .collect();
    let overdue = waiting.iter().filter(|e| e.run_at <= now).count();
    let publishing = list
        .iter()
        .filter(|e| e.state == EntryState::Publishing)
        .count();
    Ok((waiting.len(), overdue, publishing))
}

fn posts(n: usize) -> String {
    format!("{n} waiting post{}", if n == 1 { "" } else { "s" })
}

/// `berrah pause`.
pub async fn pause_target(
    store: &Store,
    loaded: &Loaded,
    args: &PauseArgs,
) -> Result<String, Refusal> {
    let (scope, name) = resolve_target(store, loaded, args, "pause").await?;
    let word = scope_word(scope);
    if store.pauses().await?.contains(&(scope, name.clone())) {
        return Ok(format!("{word} {name} was already paused; nothing changed"));
    }
    store.pause(scope, &name).await?;
    let (waiting, _, publishing) = waiting(store, scope, &name, loaded.now).await?;
    let in_flight = if publishing > 0 {
        format!(" ({publishing} being published right now will finish their attempt)")
    } else {
        String::new()
    };
    Ok(format!(
        "paused {word} {name}: its {} will not be published until \
         `berrah resume --{word} {name}`{in_flight}",
        posts(waiting)
    ))
}

/// `berrah resume`.
pub async fn resume_target(
    store: &Store,
    loaded: &Loaded,
    args: &PauseArgs,
) -> Result<String, Refusal> {
    let (scope, name) = resolve_target(store, loaded, args, "resume").await?;
    let word = scope_word(scope);
    if !store.pauses().await?.contains(&(scope, name.clone())) {
        return Ok(format!("{word} {name} was not paused; nothing changed"));
    }
    store.resume(scope, &name).await?;
    let (waiting, overdue, _) = waiting(store, scope, &name, loaded.now).await?;
    let overdue = if overdue > 0 {
        format!(
            " ({overdue} already due go out now, unless past their limit or superseded by \
             a later occurrence)"
        )
    } else {
        String::new()
    };
    Ok(format!(
        "resumed {word} {name}: its {} are scheduled again{overdue}",
        posts(waiting)
    ))
}

/// One entry with its attempts, as `berrah show --format json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct ShowReport {
    /// 1 for this shape.
    pub format_version: u32,
    pub short_id: String,
    /// The entry as stored (instants in UTC).
    pub entry: Entry,
    pub due_local: String,
    pub not_after_local: String,
    /// For a held entry: why, and what releases it.
    pub hold: Option<Hold>,
    /// Oldest first, with the platform's answers.
    pub attempts: Vec<Attempt>,
}

/// The text of `berrah show` (pure).
pub fn render_show(r: &ShowReport) -> String {
    let e = &r.entry;
    let tz = e.timezone.as_str();
    let mut out = String::new();
    let _ = writeln!(out, "{}  {}", e.id, e.state);
    let mut field = |name: &str, value: String| {
        let _ = writeln!(out, "  {name:<11}{value}");
    };
    field(
        "campaign",
        match &e.capsule {
            Some(c) => format!("{} (capsule {c}), post {}", e.campaign, e.post),
            None => format!("{}, post {}", e.campaign, e.post),
        },
    );
    field(
        "account",
        format!("{} ({}), language {}", e.account, e.platform, e.language),
    );
    field("due", format!("{} [{tz}]", when(e.due, tz)));
    field("not after", when(e.not_after, tz));
    if matches!(
        e.state,
        EntryState::Scheduled | EntryState::Retrying | EntryState::Held
    ) && e.run_at != e.due
    {
        field("next try", when(e.run_at, tz));
    }
    if let Some(at) = e.published_at {
        field("published", when(at, tz));
    }
    if let Some(u) = &e.url {
        field("url", u.clone());
    }
    if let Some(id) = &e.remote_id {
        field("remote id", id.clone());
    }
    if let Some(owner) = &e.lease_owner {
        field(
            "lease",
            format!(
                "{owner}{}",
                e.lease_until
                    .map(|t| format!(" until {}", t.strftime("%Y-%m-%d %H:%M:%S UTC")))
                    .unwrap_or_default()
            ),
        );
    }
    if let Some(err) = &e.last_error {
        field("last error", err.clone());
    }
    if let Some(h) = &r.hold {
        field("release", h.release.clone());
    }
    field("attempts", e.attempts.to_string());
    let p = &e.progress;
    let mut done = Vec::new();
    if let Some(id) = &p.remote_id {
        done.push(format!("post {id}"));
    }
    if !p.thread.is_empty() {
        done.push(format!("{} thread replies", p.thread.len()));
    }
    if p.first_comment.is_some() {
        done.push("first comment".into());
    }
    if !p.media.is_empty() {
        done.push(format!("{} media uploaded", p.media.len()));
    }
    if !p.extra.is_empty() {
        done.push(format!("an unfinished flow ({} keys)", p.extra.len()));
    }
    if !done.is_empty() {
        field("progress", done.join(", "));
    }
    let c = &e.content;
    if let Some(t) = &c.title {
        field("title", t.clone());
    }
    let mut lines = c.text.lines();
    field("text", lines.next().unwrap_or("").to_string());
    for l in lines {
        field("", l.to_string());
    }
    for m in &c.media {
        field(
            "media",
            match &m.alt {
                Some(alt) => format!("{} (alt: {alt})", m.file),
                None => m.file.clone(),
            },
        );
    }
    if !c.thread.is_empty() {
        field("thread", format!("{} replies", c.thread.len()));
    }
    if c.first_comment.is_some() {
        field("comment", "a first comment".into());
    }
    if r.attempts.is_empty() {
        let _ = writeln!(out, "no attempt yet");
    } else {
        let _ = writeln!(out, "attempts:");
        for a in &r.attempts {
            let ended = match a.finished_at {
                Some(t) => format!(" → {}", t.strftime("%H:%M:%S UTC")),
                None => " (running or interrupted)".into(),
            };
            let _ = writeln!(
                out,
                "  #{} {}{ended} by {}: {}{}",
                a.number,
                a.started_at.strftime("%Y-%m-%d %H:%M:%S UTC"),
                a.owner,
                a.outcome.as_deref().unwrap_or("no outcome"),
                a.detail
                    .as_deref()
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default()
            );
        }
    }
    out
}

/// `berrah show ID` as a report.
pub async fn show_entry(store: &Store, id: &str) -> Result<ShowReport, Refusal> {
    let mut entry = store.get(id).await?;
    let mut attempts = store.attempts(&entry.id).await?;
    // What the platforms answered, as stored (perhaps before berrah cleaned
    // it on the way in): never a terminal control sequence, in the table or
    // the JSON (which escapes C0 controls, but not C1 or bidi overrides).
    let clean = |t: &mut Option<String>| *t = for_terminal_opt(t.as_deref());
    clean(&mut entry.last_error);
    clean(&mut entry.url);
    clean(&mut entry.remote_id);
    let p = &mut entry.progress;
    clean(&mut p.remote_id);
    clean(&mut p.url);
    clean(&mut p.first_comment);
    for id in p
        .thread
        .iter_mut()
        .chain(p.media.values_mut())
        .chain(p.extra.values_mut())
    {
        *id = for_terminal(id).into_owned();
    }
    for a in &mut attempts {
        clean(&mut a.outcome);
        clean(&mut a.detail);
    }
    let hold = if entry.state == EntryState::Held {
        let cause = store.held_cause(&entry.id).await?;
        Some(hold_for(&entry, &entry.id, cause.as_deref()))
    } else {
        None
    };
    Ok(ShowReport {
        format_version: 1,
        short_id: short_id(&entry.id),
        due_local: local_time(entry.due, &entry.timezone),
        not_after_local: local_time(entry.not_after, &entry.timezone),
        hold,
        attempts,
        entry,
    })
}

pub fn retry(global: &GlobalArgs, args: RetryArgs) -> ExitCode {
    execute(global, async |store, loaded| {
        retry_entry(store, &args.id, loaded.now).await
    })
}

pub fn cancel(global: &GlobalArgs, args: CancelArgs) -> ExitCode {
    execute(global, async |store, loaded| {
        cancel_entry(store, &args.id, loaded.now).await
    })
}

pub fn pause(global: &GlobalArgs, args: PauseArgs) -> ExitCode {
    execute(global, async |store, loaded| {
        pause_target(store, loaded, &args).await
    })
}

pub fn resume(global: &GlobalArgs, args: PauseArgs) -> ExitCode {
    execute(global, async |store, loaded| {
        resume_target(store, loaded, &args).await
    })
}

pub fn show(global: &GlobalArgs, args: ShowArgs) -> ExitCode {
    execute(global, async |store, _loaded| {
        let report = show_entry(store, &args.id).await?;
        Ok(match args.format {
            ShowFormat::Table => render_show(&report).trim_end().to_string(),
            ShowFormat::Json => serde_json::to_string_pretty(&report)
                .map_err(|e| Refusal::Refused(format!("cannot write JSON: {e}")))?,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PlatformKind;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn entry(state: EntryState) -> Entry {
        Entry {
            id: "o-3fa9c2d1e4b5a6f7".into(),
            campaign: "amal".into(),
            capsule: None,
            post: "p1".into(),
            account: "oim-x".into(),
            platform: PlatformKind::X,
            language: "fr".into(),
            series: None,
            due: t("2026-12-18T09:00:00Z"),
            local: "2026-12-18T09:00:00+00:00".into(),
            timezone: "Africa/Casablanca".into(),
            not_after: t("2026-12-19T09:00:00Z"),
            run_at: t("2026-12-18T09:00:00Z"),
            state,
            attempts: 1,
            content: Default::default(),
            progress: Default::default(),
            lease_owner: None,
            lease_until: None,
            remote_id: None,
            url: None,
            published_at: None,
            last_error: None,
            updated_at: t("2026-12-18T09:00:00Z"),
        }
    }

    #[test]
    fn retry_refuses_what_would_post_twice_or_never() {
        let now = t("2026-12-18T10:00:00Z");
        let mut p = entry(EntryState::Published);
        p.url = Some("https://x.com/oim/status/1".into());
        let why = retry_refusal(&p, now).unwrap();
        assert!(
            why.contains(
                "already published at https://x.com/oim/status/1: retrying would post twice"
            ),
            "{why}"
        );
        let mut f = entry(EntryState::Publishing);
        f.lease_owner = Some("host-1".into());
        assert!(retry_refusal(&f, now).unwrap().contains("host-1"));
        assert!(retry_refusal(&entry(EntryState::Cancelled), now).is_some());
        assert!(retry_refusal(&entry(EntryState::Failed), now).is_none());
        let late = retry_refusal(&entry(EntryState::Expired), t("2026-12-20T00:00:00Z")).unwrap();
        assert!(late.contains("past its limit"), "{late}");
    }

    #[test]
    fn times_show_local_and_utc() {
        assert_eq!(
            when(t("2026-12-18T09:00:00Z"), "Europe/Paris"),
            "2026-12-18 10:00 +01:00 (09:00 UTC)"
        );
        assert_eq!(
            when(t("2026-12-18T09:00:00Z"), "UTC"),
            "2026-12-18 09:00 +00:00 (09:00 UTC)"
        );
        assert_eq!(
            when(t("2026-12-18T09:00:00Z"), "Bad/Zone"),
            "2026-12-18 09:00 UTC"
        );
    }

    #[test]
    fn show_text_has_attempts_and_answers() {
        let mut e = entry(EntryState::Retrying);
        e.run_at = t("2026-12-18T09:05:00Z");
        e.last_error = Some("HTTP 503: over capacity".into());
        e.content.text = "Bonjour\nالسلام".into();
        let r = ShowReport {
            format_version: 1,
            short_id: short_id(&e.id),
            due_local: local_time(e.due, &e.timezone),
            not_after_local: local_time(e.not_after, &e.timezone),
            hold: None,
            attempts: vec![Attempt {
                entry_id: e.id.clone(),
                number: 1,
                owner: "host-1".into(),
                started_at: t("2026-12-18T09:00:00Z"),
                finished_at: Some(t("2026-12-18T09:00:02Z")),
                outcome: Some("retry".into()),
                detail: Some("HTTP 503: over capacity".into()),
            }],
            entry: e,
        };
        let text = render_show(&r);
        assert!(
            text.contains("next try   2026-12-18 09:05 +00:00"),
            "{text}"
        );
        assert!(
            text.contains("#1 2026-12-18 09:00:00 UTC → 09:00:02 UTC by host-1: retry: HTTP 503"),
            "{text}"
        );
        assert!(text.contains("السلام"), "{text}");
    }
}
