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
use crate::store::{
    Attempt, Entry, EntryState, ListFilter, NewAction, PauseScope, Store, StoreError,
};
use crate::text::sanitize::{for_terminal, for_terminal_opt};

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("target").required(true).multiple(true).args(["id", "campaign", "account"])))]
pub struct RetryArgs {
    /// The entry's id, or a unique prefix of it (as `berrah status` shows).
    #[arg(conflicts_with_all = ["campaign", "account", "post", "state"])]
    pub id: Option<String>,
    #[command(flatten)]
    pub select: Selection,
    /// Retry even an entry whose last attempt may have reached a platform
    /// that cannot drop duplicates (X, Telegram, webhooks): look on the
    /// platform first.
    #[arg(long)]
    pub force: bool,
    /// Say what would be retried or refused, change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("target").required(true).multiple(true).args(["id", "campaign", "account"])))]
pub struct CancelArgs {
    /// The entry's id, or a unique prefix of it (as `berrah status` shows).
    #[arg(conflicts_with_all = ["campaign", "account", "post", "state"])]
    pub id: Option<String>,
    #[command(flatten)]
    pub select: Selection,
    /// Say what would be cancelled or refused, change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// The entries a bulk `retry` or `cancel` works on.
#[derive(Debug, Clone, Default, Args)]
pub struct Selection {
    /// Every entry of this campaign.
    #[arg(long, value_name = "CAMPAIGN")]
    pub campaign: Option<String>,
    /// Every entry of this account.
    #[arg(long, value_name = "ACCOUNT")]
    pub account: Option<String>,
    /// Only this post of the campaign.
    #[arg(long, value_name = "POST", requires = "campaign")]
    pub post: Option<String>,
    /// Only entries in these states (comma-separated) [retry: failed,held;
    /// cancel: every state not yet published].
    #[arg(long, value_name = "STATE", value_delimiter = ',', value_parser = super::status::parse_state)]
    pub state: Vec<EntryState>,
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
    /// A bulk command did part of it: the text goes to stdout, exit code 1.
    Partly(String),
}

impl Refusal {
    fn exit(self) -> ExitCode {
        match self {
            Refusal::Refused(m) => super::fail(m),
            Refusal::Usage(m) => {
                eprintln!("error: {m}");
                ExitCode::from(2)
            }
            Refusal::Partly(m) => {
                println!("{m}");
                ExitCode::from(1)
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
            StoreError::NotFound(id) => Refusal::Usage(format!(
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

/// Who changes the queue, and with what: the configuration and campaign
/// folder the names are checked against, "now", and the operator recorded
/// with the action for the daemon's log. The command line makes it from
/// what it loaded ([`Actor::cli`]); the console's board from the daemon's
/// configuration, so both go through the same functions and rules.
#[derive(Debug)]
pub struct Actor<'a> {
    pub config: &'a crate::config::Config,
    pub campaigns_dir: &'a std::path::Path,
    pub now: Timestamp,
    /// Who, as recorded (`operator_actions.user`).
    pub user: String,
    /// From where (`operator_actions.host`).
    pub host: String,
    /// What the operator should know beside the result (the command line
    /// prints them on stderr, the board beside its message).
    warnings: std::sync::Mutex<Vec<String>>,
}

impl<'a> Actor<'a> {
    pub fn new(
        config: &'a crate::config::Config,
        campaigns_dir: &'a std::path::Path,
        now: Timestamp,
        user: String,
        host: String,
    ) -> Actor<'a> {
        Actor {
            config,
            campaigns_dir,
            now,
            user,
            host,
            warnings: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// The operator at this terminal: the login name and the machine's name.
    pub fn cli(loaded: &'a Loaded) -> Actor<'a> {
        Actor::new(
            &loaded.config,
            &loaded.campaigns_dir,
            loaded.now,
            operator_user(),
            operator_host(),
        )
    }

    fn warn(&self, message: String) {
        if let Ok(mut w) = self.warnings.lock() {
            w.push(message);
        }
    }

    /// The warnings so far (taken: a second call returns the newer ones).
    pub fn take_warnings(&self) -> Vec<String> {
        self.warnings
            .lock()
            .map(|mut w| std::mem::take(&mut *w))
            .unwrap_or_default()
    }
}

/// [`execute`] for the commands that change the queue, as an [`Actor`]
/// whose warnings go to stderr.
fn act<F>(global: &GlobalArgs, body: F) -> ExitCode
where
    F: AsyncFnOnce(&Store, &Actor<'_>) -> Result<String, Refusal>,
{
    execute(global, async |store, loaded| {
        let actor = Actor::cli(loaded);
        let out = body(store, &actor).await;
        for w in actor.take_warnings() {
            eprintln!("warning: {w}");
        }
        out
    })
}

/// `2026-12-18 10:00 +01:00 (09:00 UTC)`.
pub fn when(at: Timestamp, timezone: &str) -> String {
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

/// The entry with this id or unique prefix; an unknown id is a usage error
/// with the closest id.
async fn entry(store: &Store, id: &str) -> Result<Entry, Refusal> {
    match store.get(id).await {
        Ok(e) => Ok(e),
        Err(StoreError::NotFound(missing)) if !missing.is_empty() => {
            let ids = store.entry_ids().await.unwrap_or_default();
            Err(Refusal::Usage(super::names::unknown_id(&missing, &ids)))
        }
        Err(e) => Err(e.into()),
    }
}

/// Where to look on the platform before retrying an entry whose last
/// attempt may have gone out on a platform that cannot drop duplicates
/// (X, Telegram, a webhook whose receiver does not drop them by
/// `X-Berrah-Delivery`); `None` for the others (pure).
pub fn look_first(
    e: &Entry,
    account: Option<&crate::config::AccountConfig>,
    attempted_at: Option<Timestamp>,
) -> Option<String> {
    use crate::config::PlatformKind;
    let at = attempted_at.unwrap_or(e.due);
    let time = when(at, &e.timezone);
    let start: String = e
        .content
        .text
        .lines()
        .next()
        .unwrap_or("")
        .chars()
        .take(50)
        .collect();
    let start = for_terminal(&start).into_owned();
    let handle = account.and_then(|a| a.handle.as_deref());
    match e.platform {
        PlatformKind::X => Some(format!(
            "open {} and look for a post at about {time} with text starting \"{start}\"",
            match handle {
                Some(h) => format!("https://x.com/{}", h.trim_start_matches('@')),
                None => format!("the X account of {}", e.account),
            }
        )),
        PlatformKind::Telegram => Some(format!(
            "open the Telegram chat {} and look for a message at about {time} starting \"{start}\"",
            handle.unwrap_or(&e.account)
        )),
        PlatformKind::Webhook => {
            let dedupes = account
                .and_then(|a| a.options.get("dedupe_by_delivery"))
                .and_then(toml::Value::as_bool)
                .unwrap_or(false);
            (!dedupes).then(|| {
                format!(
                    "ask the receiver of {} whether delivery {} (X-Berrah-Delivery) arrived at \
                     about {time}",
                    e.account, e.id
                )
            })
        }
        _ => None,
    }
}

/// Why a held entry is not retried without `--force`: its last attempt may
/// be on a platform that cannot drop a duplicate.
async fn unknown_outcome_refusal(
    store: &Store,
    actor: &Actor<'_>,
    e: &Entry,
    cause: Option<&str>,
) -> Result<Option<String>, Refusal> {
    if e.state != EntryState::Held || cause != Some("outcome") {
        return Ok(None);
    }
    let attempted = store.attempts(&e.id).await?.last().map(|a| a.started_at);
    let short = short_id(&e.id);
    Ok(
        look_first(e, actor.config.accounts.get(&e.account), attempted).map(|look| {
            format!(
                "the last attempt of {short} may have reached {} ({}), which cannot drop a \
                 duplicate: {look}; if it is not there, run `berrah retry {short} --force` \
                 (if it is, `berrah cancel {short}`)",
                e.account, e.platform
            )
        }),
    )
}

/// What `retry` would do to one entry, or why not (no change made).
async fn retry_check(
    store: &Store,
    actor: &Actor<'_>,
    e: &Entry,
    cause: Option<&str>,
    force: bool,
) -> Result<Option<String>, Refusal> {
    if let Some(why) = retry_refusal(e, actor.now) {
        return Ok(Some(why));
    }
    if e.state == EntryState::Held && cause == Some("file_pause") {
        return Ok(Some(format!(
            "{} is held by `paused = true` in its campaign file: remove that line (the daemon \
             then schedules it again); a retry would be undone by the file",
            describe(e)
        )));
    }
    if !force {
        return unknown_outcome_refusal(store, actor, e, cause).await;
    }
    Ok(None)
}

/// `berrah retry ID [--force]`.
pub async fn retry_entry(
    store: &Store,
    actor: &Actor<'_>,
    id: &str,
    force: bool,
) -> Result<String, Refusal> {
    let now = actor.now;
    let before = entry(store, id).await?;
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
    if let Some(why) = retry_check(store, actor, &before, cause.as_deref(), force).await? {
        return Err(Refusal::Refused(why));
    }
    let after = store.retry(&before.id, now).await?;
    if before.state == EntryState::Held && cause.as_deref() == Some("outcome") {
        actor.warn(format!(
            "the last attempt of {} may have reached {}; if it did, this publishes \
             it a second time",
            short_id(&before.id),
            before.account
        ));
    }
    let line = format!(
        "retried {}: {} → {}, {}",
        describe(&after),
        before.state,
        after.state,
        goes_out(&after, now)
    );
    record(
        store,
        actor,
        "retry",
        format!("entry {}", short_id(&after.id)),
        vec![after.id.clone()],
        &line,
    )
    .await;
    Ok(line)
}

fn goes_out(after: &Entry, now: Timestamp) -> String {
    if after.run_at <= now {
        "goes out as soon as a daemon runs".to_string()
    } else {
        format!("goes out at {}", when(after.run_at, &after.timezone))
    }
}

/// Why `cancel` leaves an entry alone (`Err`), or `Ok(false)` when it is
/// already cancelled (pure).
fn cancel_refusal(before: &Entry) -> Result<bool, String> {
    let short = short_id(&before.id);
    match before.state {
        EntryState::Published => Err(format!(
            "{short} is already published at {}: berrah cannot take it back; delete it on \
             the platform if it must go",
            published_at_words(before)
        )),
        EntryState::Publishing => Err(format!(
            "{short} is being published right now by {}: it may already be on the \
             platform; cancel it after the attempt ends (`berrah show {short}`)",
            before.lease_owner.as_deref().unwrap_or("a daemon")
        )),
        EntryState::Cancelled => Ok(false),
        _ => Ok(true),
    }
}

/// `berrah cancel ID`.
pub async fn cancel_entry(store: &Store, actor: &Actor<'_>, id: &str) -> Result<String, Refusal> {
    let before = entry(store, id).await?;
    if !cancel_refusal(&before).map_err(Refusal::Refused)? {
        return Ok(format!(
            "{} was already cancelled; nothing changed",
            describe(&before)
        ));
    }
    let after = store.cancel(&before.id, actor.now).await?;
    let line = format!(
        "cancelled {}: {} → {}; due {}, it will not be published",
        describe(&after),
        before.state,
        after.state,
        when(after.due, &after.timezone)
    );
    record(
        store,
        actor,
        "cancel",
        format!("entry {}", short_id(&after.id)),
        vec![after.id.clone()],
        &line,
    )
    .await;
    Ok(line)
}

/// `campaign amal, post p1, account oim-x, state held`.
fn selection_words(sel: &Selection) -> String {
    let mut parts = Vec::new();
    if let Some(c) = &sel.campaign {
        parts.push(format!("campaign {c}"));
    }
    if let Some(p) = &sel.post {
        parts.push(format!("post {p}"));
    }
    if let Some(a) = &sel.account {
        parts.push(format!("account {a}"));
    }
    if !sel.state.is_empty() {
        let states: Vec<&str> = sel.state.iter().map(|s| s.as_str()).collect();
        parts.push(format!("state {}", states.join(",")));
    }
    parts.join(", ")
}

/// The entries a bulk command selects, its names checked first (an unknown
/// one is a usage error with the closest name).
async fn select(
    store: &Store,
    actor: &Actor<'_>,
    sel: &Selection,
    default_states: &[EntryState],
) -> Result<Vec<Entry>, Refusal> {
    use super::names::{Kind, Known};
    let known = Known::gather(store, actor.config, actor.campaigns_dir).await?;
    if let Some(c) = &sel.campaign {
        known.check(Kind::Campaign, c).map_err(Refusal::Usage)?;
        if let Some(p) = &sel.post {
            known.check_post(c, p).map_err(Refusal::Usage)?;
        }
    }
    if let Some(a) = &sel.account {
        known.check(Kind::Account, a).map_err(Refusal::Usage)?;
    }
    let filter = ListFilter {
        campaign: sel.campaign.clone(),
        account: sel.account.clone(),
        states: if sel.state.is_empty() {
            default_states.to_vec()
        } else {
            sel.state.clone()
        },
        ..ListFilter::default()
    };
    let mut list = store.list(filter).await?;
    if let Some(p) = &sel.post {
        list.retain(|e| &e.post == p);
    }
    Ok(list)
}

fn entries(n: usize) -> String {
    format!("{n} {}", if n == 1 { "entry" } else { "entries" })
}

/// What a bulk command did: one line per entry, then a count.
fn bulk_report(
    verb: &str,
    done: &[String],
    refused: &[String],
    dry_run: bool,
    scope: &str,
) -> Result<String, Refusal> {
    let mut out = String::new();
    for l in done.iter().chain(refused) {
        let _ = writeln!(out, "{l}");
    }
    let would = if dry_run { "would be " } else { "" };
    let _ = write!(
        out,
        "{} {would}{verb} ({scope})",
        entries(done.len()),
        verb = verb
    );
    if !refused.is_empty() {
        let _ = write!(out, "; {} refused (see above)", refused.len());
    }
    if dry_run {
        let _ = write!(out, "; nothing changed (--dry-run)");
    }
    if refused.is_empty() || dry_run {
        Ok(out)
    } else {
        Err(Refusal::Partly(out))
    }
}

/// `berrah retry --campaign C | --account A [--post P] [--state S] [--force] [--dry-run]`.
pub async fn retry_many(
    store: &Store,
    actor: &Actor<'_>,
    sel: &Selection,
    force: bool,
    dry_run: bool,
) -> Result<String, Refusal> {
    let list = select(store, actor, sel, &[EntryState::Failed, EntryState::Held]).await?;
    let causes = store.held_causes().await?;
    let (mut done, mut refused, mut ids) = (Vec::new(), Vec::new(), Vec::new());
    for e in &list {
        if e.state == EntryState::Scheduled {
            continue;
        }
        let cause = causes.get(&e.id).cloned().flatten();
        if let Some(why) = retry_check(store, actor, e, cause.as_deref(), force).await? {
            refused.push(format!("refused: {why}"));
            continue;
        }
        if dry_run {
            done.push(format!("would retry {} ({})", describe(e), e.state));
            continue;
        }
        match store.retry(&e.id, actor.now).await {
            Ok(after) => {
                done.push(format!(
                    "retried {}: {} → {}, {}",
                    describe(&after),
                    e.state,
                    after.state,
                    goes_out(&after, actor.now)
                ));
                ids.push(after.id);
            }
            Err(err) => refused.push(format!("refused: {}: {err}", short_id(&e.id))),
        }
    }
    let scope = selection_words(sel);
    let report = bulk_report("retried", &done, &refused, dry_run, &scope);
    if !ids.is_empty() {
        let n = ids.len();
        record(
            store,
            actor,
            "retry",
            scope,
            ids,
            &format!("retried {}", entries(n)),
        )
        .await;
    }
    report
}

/// `berrah cancel --campaign C [--post P] | --account A [--state S] [--dry-run]`.
pub async fn cancel_many(
    store: &Store,
    actor: &Actor<'_>,
    sel: &Selection,
    dry_run: bool,
) -> Result<String, Refusal> {
    let list = select(
        store,
        actor,
        sel,
        &[
            EntryState::Scheduled,
            EntryState::Retrying,
            EntryState::Claimed,
            EntryState::Publishing,
            EntryState::Held,
            EntryState::Failed,
        ],
    )
    .await?;
    let (mut done, mut refused, mut ids) = (Vec::new(), Vec::new(), Vec::new());
    for e in &list {
        match cancel_refusal(e) {
            Err(why) => refused.push(format!("refused: {why}")),
            Ok(false) => {}
            Ok(true) if dry_run => done.push(format!("would cancel {} ({})", describe(e), e.state)),
            Ok(true) => match store.cancel(&e.id, actor.now).await {
                Ok(after) => {
                    done.push(format!(
                        "cancelled {}: {} → {}",
                        describe(&after),
                        e.state,
                        after.state
                    ));
                    ids.push(after.id);
                }
                Err(err) => refused.push(format!("refused: {}: {err}", short_id(&e.id))),
            },
        }
    }
    let scope = selection_words(sel);
    let report = bulk_report("cancelled", &done, &refused, dry_run, &scope);
    if !ids.is_empty() {
        let n = ids.len();
        record(
            store,
            actor,
            "cancel",
            scope,
            ids,
            &format!("cancelled {}", entries(n)),
        )
        .await;
    }
    report
}

/// Who runs this command: the login name when the environment says it.
pub fn operator_user() -> String {
    ["SUDO_USER", "USER", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.trim().is_empty()))
        .unwrap_or_else(|| "unknown".to_string())
}

/// This machine's name.
pub fn operator_host() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}

/// Records an operator's action for the daemon's log (a failure to record
/// is a warning: the action itself is done).
pub async fn record(
    store: &Store,
    actor: &Actor<'_>,
    action: &str,
    target: String,
    ids: Vec<String>,
    detail: &str,
) {
    let a = NewAction {
        action: action.to_string(),
        target,
        ids,
        detail: detail.to_string(),
        user: actor.user.clone(),
        host: actor.host.clone(),
        at: Some(actor.now),
    };
    if let Err(e) = store.record_action(&a).await {
        actor.warn(format!(
            "the {action} is done, but could not be recorded for the daemon's log: {e}"
        ));
    }
}

fn scope_word(scope: PauseScope) -> &'static str {
    match scope {
        PauseScope::Campaign => "campaign",
        PauseScope::Account => "account",
    }
}

/// Which campaign or account a name means: a campaign of the files, the
/// queue (entries or a saved source) or the pauses, an account of
/// berrah.toml, the queue or the pauses. An unknown name is a usage error
/// with the closest known one.
async fn resolve_target(
    store: &Store,
    actor: &Actor<'_>,
    args: &PauseArgs,
    verb: &str,
) -> Result<(PauseScope, String), Refusal> {
    use super::names::{Kind, Known};
    let known = Known::gather(store, actor.config, actor.campaigns_dir).await?;
    if let Some(c) = &args.campaign {
        known.check(Kind::Campaign, c).map_err(Refusal::Usage)?;
        return Ok((PauseScope::Campaign, c.clone()));
    }
    if let Some(a) = &args.account {
        known.check(Kind::Account, a).map_err(Refusal::Usage)?;
        return Ok((PauseScope::Account, a.clone()));
    }
    let Some(name) = args.name.clone() else {
        return Err(Refusal::Usage(format!(
            "say what to {verb}: a name, --campaign NAME or --account NAME"
        )));
    };
    let is_campaign = known.campaigns.contains(&name);
    let is_account = known.accounts.contains(&name);
    match (is_campaign, is_account) {
        (true, false) => Ok((PauseScope::Campaign, name)),
        (false, true) => Ok((PauseScope::Account, name)),
        (true, true) => Err(Refusal::Usage(format!(
            "`{name}` is both a campaign and an account: say which, with \
             `berrah {verb} --campaign {name}` or `berrah {verb} --account {name}`"
        ))),
        (false, false) => {
            let campaign = crate::campaign::suggest::closest(
                &name,
                known.campaigns.iter().map(String::as_str),
            );
            let account =
                crate::campaign::suggest::closest(&name, known.accounts.iter().map(String::as_str));
            let words = |c: &str| crate::campaign::suggest::distance(&name, c);
            Err(Refusal::Usage(match (campaign, account) {
                (Some(c), Some(a)) if words(a) < words(c) => {
                    format!("no account `{name}`; did you mean `{a}`?")
                }
                (Some(c), _) => format!("no campaign `{name}`; did you mean `{c}`?"),
                (None, Some(a)) => format!("no account `{name}`; did you mean `{a}`?"),
                (None, None) => format!(
                    "no campaign or account named `{name}` in the campaign files, the queue \
                     or berrah.toml"
                ),
            }))
        }
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
    actor: &Actor<'_>,
    args: &PauseArgs,
) -> Result<String, Refusal> {
    let (scope, name) = resolve_target(store, actor, args, "pause").await?;
    let word = scope_word(scope);
    if store.pauses().await?.contains(&(scope, name.clone())) {
        return Ok(format!("{word} {name} was already paused; nothing changed"));
    }
    store.pause(scope, &name).await?;
    let (waiting, _, publishing) = waiting(store, scope, &name, actor.now).await?;
    let in_flight = if publishing > 0 {
        format!(" ({publishing} being published right now will finish their attempt)")
    } else {
        String::new()
    };
    let line = format!(
        "paused {word} {name}: its {} will not be published until \
         `berrah resume --{word} {name}`{in_flight}",
        posts(waiting)
    );
    record(
        store,
        actor,
        "pause",
        format!("{word} {name}"),
        vec![],
        &line,
    )
    .await;
    Ok(line)
}

/// `berrah resume`.
pub async fn resume_target(
    store: &Store,
    actor: &Actor<'_>,
    args: &PauseArgs,
) -> Result<String, Refusal> {
    let (scope, name) = resolve_target(store, actor, args, "resume").await?;
    let word = scope_word(scope);
    if !store.pauses().await?.contains(&(scope, name.clone())) {
        return Ok(format!("{word} {name} was not paused; nothing changed"));
    }
    store.resume(scope, &name).await?;
    let (waiting, overdue, _) = waiting(store, scope, &name, actor.now).await?;
    let overdue = if overdue > 0 {
        format!(
            " ({overdue} already due go out now, unless past their limit or superseded by \
             a later occurrence)"
        )
    } else {
        String::new()
    };
    let line = format!(
        "resumed {word} {name}: its {} are scheduled again{overdue}",
        posts(waiting)
    );
    record(
        store,
        actor,
        "resume",
        format!("{word} {name}"),
        vec![],
        &line,
    )
    .await;
    Ok(line)
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
pub async fn show_entry(
    store: &Store,
    id: &str,
    config: &crate::config::Config,
    base_dir: &std::path::Path,
) -> Result<ShowReport, Refusal> {
    let mut entry = entry(store, id).await?;
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
        let mut hold = hold_for(&entry, &entry.id, cause.as_deref());
        super::format::advise_credentials(&mut hold, &entry.account, config, base_dir);
        Some(hold)
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
    act(global, async |store, actor| match &args.id {
        Some(id) => retry_entry(store, actor, id, args.force).await,
        None => retry_many(store, actor, &args.select, args.force, args.dry_run).await,
    })
}

pub fn cancel(global: &GlobalArgs, args: CancelArgs) -> ExitCode {
    act(global, async |store, actor| match &args.id {
        Some(id) => cancel_entry(store, actor, id).await,
        None => cancel_many(store, actor, &args.select, args.dry_run).await,
    })
}

pub fn pause(global: &GlobalArgs, args: PauseArgs) -> ExitCode {
    act(global, async |store, actor| {
        pause_target(store, actor, &args).await
    })
}

pub fn resume(global: &GlobalArgs, args: PauseArgs) -> ExitCode {
    act(global, async |store, actor| {
        resume_target(store, actor, &args).await
    })
}

pub fn show(global: &GlobalArgs, args: ShowArgs) -> ExitCode {
    execute(global, async |store, loaded| {
        let report = show_entry(store, &args.id, &loaded.config, &loaded.config_dir()).await?;
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
            platform: PlatformKind::X,
            ..Entry::sample("o-3fa9c2d1e4b5a6f7", "oim-x", state)
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
    fn an_unknown_outcome_says_where_to_look() {
        let mut e = entry(EntryState::Held);
        e.content.text = "Journée internationale des migrants : découvrez la capsule n°1, \
                          une web série\nsecond line"
            .into();
        let account =
            |toml: &str| -> crate::config::AccountConfig { toml::from_str(toml).unwrap() };
        let x = account("platform = \"x\"\nhandle = \"@OIM_Maroc\"\n");
        let look = look_first(&e, Some(&x), Some(t("2026-12-18T09:00:03Z"))).unwrap();
        assert_eq!(
            look,
            "open https://x.com/OIM_Maroc and look for a post at about 2026-12-18 09:00:03 +00:00 \
             (09:00 UTC) with text starting \"Journée internationale des migrants : découvrez la\""
        );
        e.platform = PlatformKind::Telegram;
        let tg = account("platform = \"telegram\"\nhandle = \"@oim_maroc\"\n");
        let look = look_first(&e, Some(&tg), None).unwrap();
        assert!(
            look.starts_with("open the Telegram chat @oim_maroc"),
            "{look}"
        );
        e.platform = PlatformKind::Webhook;
        let hook = account("platform = \"webhook\"\n");
        let look = look_first(&e, Some(&hook), None).unwrap();
        assert!(
            look.contains("delivery o-3fa9c2d1e4b5a6f7 (X-Berrah-Delivery)"),
            "{look}"
        );
        let dedupes = account("platform = \"webhook\"\noptions = { dedupe_by_delivery = true }\n");
        assert_eq!(look_first(&e, Some(&dedupes), None), None);
        e.platform = PlatformKind::Bluesky;
        assert_eq!(look_first(&e, None, None), None);
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
