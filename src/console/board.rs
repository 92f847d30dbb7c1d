//! The operators' board (`GET /board`): the daemons on the database
//! (running, gone), the queue's counts by state, what waits for an
//! operator (held with its cause and what releases it, failed, retrying),
//! what is in flight, the next posts due, what happened recently
//! (published with the post's link, failed, held, dropped, cancelled), the
//! campaigns and the accounts (token expiry, what needs attention, pauses).
//! Filters by campaign, account, state and period are `status`'s own
//! (`cli::status`: the same parsing, the same gathering, the same report).
//! Times are shown as `status` and the commands show them: local time in
//! the campaign's zone with its offset, and UTC.
//!
//! Actions are POST forms (`/board/retry`, `/board/cancel`, `/board/pause`,
//! `/board/resume`) that call the functions of `berrah retry | cancel |
//! pause | resume` ([`crate::cli::ops`]) with the same rules and refusals,
//! recorded as an operator's action (user `console`, host the browser's
//! address) for the daemon's log; the answer is a 303 back to the board
//! with the command's own message. No JavaScript.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
use jiff::Timestamp;
use maud::{Markup, html};
use serde::Deserialize;

use super::ConsoleState;
use super::i18n::Lang;
use super::layout::{self, Page, Section};
use super::server::{Shared, Visit, lang_of};
use crate::cli::names::Known;
use crate::cli::ops::{self, Actor, PauseArgs, Refusal, when};
use crate::cli::status::{
    EntryFilter, HISTORY_DAYS, HistoryEvent, HistoryReport, NameError, StatusEntry, StatusQuery,
    StatusReport, check_names, collect, collect_history, parse_state, parse_when,
};
use crate::store::{EntryState, PauseScope, TokenExpiry};

/// How many of the next posts due the board lists.
pub const NEXT_SHOWN: usize = 10;
/// How many recent events the board lists (newest first).
pub const RECENT_SHOWN: usize = 50;

/// The board's routes.
pub fn routes() -> Router<ConsoleState> {
    Router::new()
        .route("/board", get(board))
        .route("/board/retry", post(retry))
        .route("/board/cancel", post(cancel))
        .route("/board/pause", post(pause))
        .route("/board/resume", post(resume))
}

/// The board's query: `status`'s filters, the interface language, and the
/// message of the last action.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct BoardQuery {
    pub campaign: Option<String>,
    pub account: Option<String>,
    /// A state or several, comma-separated, in `--state`'s words.
    pub state: Option<String>,
    /// `--since`'s and `--until`'s words (`7d`, `today`, `2026-12-14`...).
    pub since: Option<String>,
    pub until: Option<String>,
    pub lang: Option<String>,
    /// The last action's message, and `done` or `refused`, with the tag
    /// that shows they come from the console itself.
    pub msg: Option<String>,
    pub result: Option<String>,
    pub tag: Option<String>,
}

impl BoardQuery {
    /// Empty form fields are no filter.
    fn cleaned(mut self) -> BoardQuery {
        for f in [
            &mut self.campaign,
            &mut self.account,
            &mut self.state,
            &mut self.since,
            &mut self.until,
            &mut self.lang,
            &mut self.msg,
            &mut self.result,
            &mut self.tag,
        ] {
            if f.as_deref().is_some_and(|v| v.trim().is_empty()) {
                *f = None;
            }
        }
        self
    }

    /// The filters and language as a query string (no message).
    pub fn filters(&self) -> String {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("campaign", &self.campaign),
            ("account", &self.account),
            ("state", &self.state),
            ("since", &self.since),
            ("until", &self.until),
            ("lang", &self.lang),
        ] {
            if let Some(v) = v {
                s.append_pair(k, v);
            }
        }
        s.finish()
    }
}

fn config_dir(state: &ConsoleState) -> PathBuf {
    state
        .config_path
        .as_deref()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Everything the page shows.
struct Board {
    query: BoardQuery,
    report: StatusReport,
    history: Option<HistoryReport>,
    expiries: Vec<TokenExpiry>,
    known: Known,
    pauses: Vec<(PauseScope, String)>,
    accounts: Vec<(String, String)>,
    problems: Vec<String>,
}

async fn board(
    State(st): State<ConsoleState>,
    Extension(shared): Extension<Arc<Shared>>,
    Extension(visit): Extension<Visit>,
    headers: HeaderMap,
    Query(q): Query<BoardQuery>,
) -> Response {
    let mut q = q.cleaned();
    // A message shows only if the console wrote it (not a link made elsewhere).
    let genuine = match (&q.msg, &q.result, &q.tag) {
        (Some(m), Some(r), Some(t)) => shared.guard.flash_ok(&format!("{r}\n{m}"), t),
        _ => false,
    };
    if !genuine {
        q.msg = None;
    }
    let lang = lang_of(q.lang.as_deref(), &headers);
    let now = st.clock.now();
    let config = shared.current_config(&st);
    let dir = config_dir(&st);
    let mut problems = Vec::new();
    let zone = crate::cli::status::operator_zone();
    let mut states = Vec::new();
    for word in q.state.iter().flat_map(|s| s.split(',')) {
        if word.trim().is_empty() {
            continue;
        }
        match parse_state(word) {
            Ok(s) => states.push(s),
            Err(e) => problems.push(e),
        }
    }
    let mut moment = |text: &Option<String>| {
        text.as_deref()
            .and_then(|t| parse_when(t, now, &zone).map_err(|e| problems.push(e)).ok())
    };
    let since = moment(&q.since);
    let until = moment(&q.until);
    let mut query = StatusQuery {
        campaign: q.campaign.clone(),
        account: q.account.clone(),
        filter: EntryFilter {
            states,
            since,
            until,
        },
        ..StatusQuery::for_config(&config, &dir)
    };
    match check_names(&st.store, &config, &st.campaigns_dir, &query).await {
        Ok(()) => {}
        Err(NameError::Unknown(m)) => {
            problems.push(m);
            query.campaign = None;
            query.account = None;
        }
        Err(e) => return error_page(lang, &e.to_string()),
    }
    let report = match collect(&st.store, &query, now).await {
        Ok(r) => r,
        Err(e) => return error_page(lang, &format!("cannot read the queue: {e}")),
    };
    let from = since.unwrap_or_else(|| {
        now.checked_sub(jiff::SignedDuration::from_hours(24 * HISTORY_DAYS))
            .unwrap_or(now)
    });
    let history = match collect_history(&st.store, &query, from, until.unwrap_or(now), now).await {
        Ok(h) => Some(h),
        Err(e) => {
            problems.push(format!("cannot read the history: {e}"));
            None
        }
    };
    let expiries = st.store.token_expiries().await.unwrap_or_else(|e| {
        problems.push(format!("cannot read the stored tokens' expiry: {e}"));
        Vec::new()
    });
    let known = Known::gather(&st.store, &config, &st.campaigns_dir)
        .await
        .unwrap_or_default();
    let pauses = st.store.pauses().await.unwrap_or_default();
    let accounts = known
        .accounts
        .iter()
        .map(|a| {
            let platform = config
                .accounts
                .get(a)
                .map(|c| c.platform.to_string())
                .or_else(|| {
                    expiries
                        .iter()
                        .find(|x| &x.account == a)
                        .map(|x| x.platform.clone())
                })
                .unwrap_or_default();
            (a.clone(), platform)
        })
        .collect();
    let b = Board {
        query: q,
        report,
        history,
        expiries,
        known,
        pauses,
        accounts,
        problems,
    };
    render(&b, lang, &visit, now).into_response()
}

fn error_page(lang: Lang, message: &str) -> Response {
    let page = layout::page(
        &shell(lang, lang.pick("Tableau de bord", "Board"), Vec::new()),
        html! {
            h1 { (lang.pick("Tableau de bord", "Board")) }
            p.flash.refused role="alert" { (message) }
        },
    );
    (StatusCode::INTERNAL_SERVER_ERROR, page).into_response()
}

fn shell<'a>(lang: Lang, title: &'a str, alternates: Vec<(Lang, String)>) -> Page<'a> {
    Page {
        lang,
        title,
        section: Section::Board,
        root: "/",
        board: true,
        alternates,
    }
}

/// A state's name in the interface's language (the CLI's word beside it).
fn state_word(lang: Lang, s: EntryState) -> &'static str {
    match s {
        EntryState::Scheduled => lang.pick("programmé", "scheduled"),
        EntryState::Claimed => lang.pick("réservé", "claimed"),
        EntryState::Publishing => lang.pick("en publication", "publishing"),
        EntryState::Published => lang.pick("publié", "published"),
        EntryState::Retrying => lang.pick("nouvel essai prévu", "retrying"),
        EntryState::Failed => lang.pick("échoué", "failed"),
        EntryState::Held => lang.pick("retenu", "held"),
        EntryState::Expired => lang.pick("abandonné (trop tard)", "dropped (too late)"),
        EntryState::Cancelled => lang.pick("annulé", "cancelled"),
    }
}

fn event_word(lang: Lang, event: &str) -> &'static str {
    match event {
        "published" => lang.pick("publié", "published"),
        "failed" => lang.pick("échoué", "failed"),
        "held" => lang.pick("retenu", "held"),
        "dropped" => lang.pick("abandonné", "dropped"),
        _ => lang.pick("annulé", "cancelled"),
    }
}

fn cause_word(lang: Lang, cause: &str) -> &'static str {
    match cause {
        "credentials" => lang.pick("identifiants du compte", "account credentials"),
        "unknown_outcome" => lang.pick("issue inconnue", "unknown outcome"),
        "paused_in_file" => lang.pick("en pause dans le fichier", "paused in its file"),
        _ => lang.pick("opérateur", "operator"),
    }
}

fn time_of(at: Timestamp, timezone: &str) -> Markup {
    html! { time datetime=(at.to_string()) { (when(at, timezone)) } }
}

fn utc(at: Timestamp) -> String {
    at.strftime("%Y-%m-%d %H:%M UTC").to_string()
}

/// A POST form of one action, with the form token and the board's filters.
fn action(
    v: &Visit,
    back: &str,
    verb: &str,
    fields: &[(&str, &str)],
    label: &str,
    extra: Markup,
) -> Markup {
    html! {
        form.action method="post" action={ "/board/" (verb) } {
            input type="hidden" name=(super::security::CSRF_FIELD) value=(v.csrf);
            input type="hidden" name="back" value=(back);
            @for (k, val) in fields { input type="hidden" name=(*k) value=(*val); }
            (extra)
            button type="submit" class=(verb) { (label) }
        }
    }
}

fn entry_actions(lang: Lang, v: &Visit, back: &str, e: &StatusEntry) -> Markup {
    let retryable = matches!(e.state, EntryState::Held | EntryState::Failed);
    let cancellable = !matches!(
        e.state,
        EntryState::Published | EntryState::Publishing | EntryState::Cancelled
    );
    let unknown = e
        .hold
        .as_ref()
        .is_some_and(|h| h.cause == "unknown_outcome");
    html! {
        div.actions {
            @if retryable {
                (action(v, back, "retry", &[("id", &e.id)], lang.pick("Réessayer", "Retry"), html! {
                    @if unknown {
                        label.force {
                            input type="checkbox" name="force" value="1";
                            " " (lang.pick("j'ai vérifié : il n'est pas en ligne", "I looked: it is not online"))
                        }
                    }
                }))
            }
            @if cancellable {
                (action(v, back, "cancel", &[("id", &e.id)], lang.pick("Annuler", "Cancel"), html! {}))
            }
        }
    }
}

fn entry_row(lang: Lang, v: &Visit, back: &str, e: &StatusEntry, detail: Markup) -> Markup {
    html! {
        tr id={ "e-" (e.short_id) } data-id=(e.id) data-state=(e.state.as_str()) {
            td { code { (e.short_id) } }
            td { (e.campaign) " / " @if let Some(c) = &e.capsule { (c) " / " } (e.post) }
            td { (e.account) " " span.muted { "(" (e.platform) ", " (e.language) ")" } }
            td { (time_of(e.due, &e.timezone)) }
            td.state { span class={ "st st-" (e.state.as_str()) } { (state_word(lang, e.state)) } }
            td { (detail) }
            td { (entry_actions(lang, v, back, e)) }
        }
    }
}

fn entry_table(
    lang: Lang,
    v: &Visit,
    back: &str,
    id: &str,
    title: &str,
    rows: &[(&StatusEntry, Markup)],
) -> Markup {
    html! {
        section id=(id) {
            h2 { (title) " " span.count { "(" (rows.len()) ")" } }
            @if rows.is_empty() {
                p.muted { (lang.pick("Aucun.", "None.")) }
            } @else {
                table.entries {
                    thead { tr {
                        th { "id" }
                        th { (lang.pick("Campagne / publication", "Campaign / post")) }
                        th { (lang.pick("Compte", "Account")) }
                        th { (lang.pick("Prévu", "Due")) }
                        th { (lang.pick("État", "State")) }
                        th { (lang.pick("Détail", "Detail")) }
                        th { (lang.pick("Actions", "Actions")) }
                    } }
                    tbody {
                        @for (e, detail) in rows { (entry_row(lang, v, back, e, detail.clone())) }
                    }
                }
            }
        }
    }
}

fn filters_form(lang: Lang, b: &Board) -> Markup {
    let q = &b.query;
    let selected = |have: &Option<String>, v: &str| have.as_deref() == Some(v);
    html! {
        form.filters method="get" action="/board" {
            @if let Some(l) = &q.lang { input type="hidden" name="lang" value=(l); }
            label { (lang.pick("Campagne", "Campaign")) " "
                select name="campaign" {
                    option value="" { (lang.pick("toutes", "all")) }
                    @for c in &b.known.campaigns {
                        option value=(c) selected[selected(&q.campaign, c)] { (c) }
                    }
                }
            }
            label { (lang.pick("Compte", "Account")) " "
                select name="account" {
                    option value="" { (lang.pick("tous", "all")) }
                    @for (a, _) in &b.accounts {
                        option value=(a) selected[selected(&q.account, a)] { (a) }
                    }
                }
            }
            label { (lang.pick("État", "State")) " "
                select name="state" {
                    option value="" { (lang.pick("tous", "all")) }
                    @for s in EntryState::ALL {
                        option value=(s.as_str()) selected[selected(&q.state, s.as_str())] { (state_word(lang, s)) }
                    }
                }
            }
            label { (lang.pick("Depuis", "Since")) " "
                input type="text" name="since" size="12" value=[q.since.as_deref()]
                    placeholder=(lang.pick("7d, today, 2026-12-14", "7d, today, 2026-12-14"));
            }
            label { (lang.pick("Jusqu'à", "Until")) " "
                input type="text" name="until" size="12" value=[q.until.as_deref()];
            }
            button type="submit" { (lang.pick("Filtrer", "Filter")) }
            " "
            a href={ "/board" @if let Some(l) = &q.lang { "?lang=" (l) } } { (lang.pick("Tout voir", "Show all")) }
        }
    }
}

fn render(b: &Board, lang: Lang, v: &Visit, now: Timestamp) -> Markup {
    let r = &b.report;
    let back = b.query.filters();
    let alternates = Lang::ALL
        .iter()
        .map(|l| {
            let mut q = b.query.clone();
            q.lang = Some(l.code().to_string());
            q.msg = None;
            (*l, format!("/board?{}", q.filters()))
        })
        .collect();
    let title = lang.pick("Tableau de bord", "Board");
    let held: Vec<(&StatusEntry, Markup)> = r
        .campaigns
        .iter()
        .flat_map(|c| &c.held)
        .map(|e| {
            let detail = html! {
                @if let Some(h) = &e.hold {
                    strong.cause { (cause_word(lang, &h.cause)) } br;
                    @if let Some(err) = &e.last_error { span.error { (err) } br; }
                    span.release { (lang.pick("Ce qui le libère : ", "What releases it: ")) (h.release) }
                }
            };
            (e, detail)
        })
        .collect();
    let failed: Vec<(&StatusEntry, Markup)> = r
        .campaigns
        .iter()
        .flat_map(|c| &c.failed)
        .map(|e| {
            (
                e,
                html! { @if let Some(err) = &e.last_error { span.error { (err) } } },
            )
        })
        .collect();
    let retrying: Vec<(&StatusEntry, Markup)> = r
        .campaigns
        .iter()
        .flat_map(|c| &c.retrying)
        .map(|e| {
            (e, html! {
                (lang.pick("essai ", "attempt ")) (e.attempts)
                @if let Some(n) = e.next_attempt { ", " (lang.pick("suivant ", "next ")) (time_of(n, &e.timezone)) }
                @if let Some(err) = &e.last_error { br; span.error { (err) } }
            })
        })
        .collect();
    let in_flight: Vec<(&StatusEntry, Markup)> = r
        .campaigns
        .iter()
        .flat_map(|c| &c.in_flight)
        .map(|e| {
            (e, html! {
                @if let Some(owner) = &e.lease_owner {
                    (crate::cli::status::instances::holder(r, owner))
                    @if let Some(u) = e.lease_until { " · " (lang.pick("bail jusqu'à ", "lease until ")) (utc(u)) }
                }
            })
        })
        .collect();
    let mut next: Vec<&StatusEntry> = r.campaigns.iter().flat_map(|c| &c.next).collect();
    next.sort_by(|a, b| (a.due, &a.id).cmp(&(b.due, &b.id)));
    next.truncate(NEXT_SHOWN);
    let next: Vec<(&StatusEntry, Markup)> = next
        .into_iter()
        .map(|e| {
            (
                e,
                html! {
                    @if e.paused { strong.paused { (lang.pick("en pause", "paused")) } }
                },
            )
        })
        .collect();
    let body = html! {
        h1 { (title) }
        p.generated {
            (lang.pick("État au ", "As of ")) time datetime=(now.to_string()) { (utc(now)) }
            " · " (r.database)
        }
        @if let Some(m) = &b.query.msg {
            @let ok = b.query.result.as_deref() == Some("done");
            div id="flash" class={ "flash " (if ok { "done" } else { "refused" }) } role=(if ok { "status" } else { "alert" }) {
                @for line in m.lines() { p { (line) } }
            }
        }
        @for p in &b.problems { p.flash.refused role="alert" { (p) } }
        (filters_form(lang, b))
        section id="instances" {
            h2 { (lang.pick("Démons", "Daemons")) }
            @if let Some(i) = &r.instances {
                @if i.running.is_empty() {
                    p.warn { (lang.pick("Aucun démon ne tourne sur cette base.", "No daemon is running on this database.")) }
                }
                ul.instances {
                    @for d in &i.running {
                        li.alive {
                            strong { (d.host) "/" (d.pid) } " · berrah " (d.version) " · "
                            (lang.pick("depuis ", "since ")) (utc(d.started)) " · "
                            (lang.pick("dernier signe ", "last heard of ")) (utc(d.heartbeat))
                        }
                    }
                    @for d in &i.gone {
                        li.gone {
                            strong { (d.host) "/" (d.pid) } " · "
                            (lang.pick("arrêté sans arrêt propre, plus là depuis ", "ended without a clean stop, not running since "))
                            (utc(d.not_running_since.unwrap_or(d.heartbeat)))
                            @if let Some(at) = d.rescued_at {
                                " · " (lang.pick("travail repris à ", "work rescued at ")) (utc(at))
                                @if let Some(by) = &d.rescued_by { " (" (by) ")" }
                            }
                        }
                    }
                }
                @if !i.leased_by_gone.is_empty() {
                    p.warn { (i.leased_by_gone.len()) " " (lang.pick(
                        "publication(s) en cours par un démon disparu : le prochain démon les reprend.",
                        "publication(s) in flight by a daemon that is gone: the next daemon rescues them.")) }
                }
            }
        }
        section id="counts" {
            h2 { (lang.pick("File d'attente", "Queue")) }
            table.counts {
                tr { @for (s, _) in &r.counts { th { a href={ "/board?" (with_state(&b.query, *s)) } { (state_word(lang, *s)) } } } }
                tr { @for (s, n) in &r.counts { td data-state=(s.as_str()) class=[(*n > 0).then_some("some")] { (n) } } }
            }
        }
        (entry_table(lang, v, &back, "held", lang.pick("Retenus (attendent un opérateur)", "Held (waiting for an operator)"), &held))
        (entry_table(lang, v, &back, "failed", lang.pick("Échoués", "Failed"), &failed))
        (entry_table(lang, v, &back, "retrying", lang.pick("Nouvel essai prévu", "Retrying"), &retrying))
        (entry_table(lang, v, &back, "in-flight", lang.pick("En cours de publication", "In flight"), &in_flight))
        (entry_table(lang, v, &back, "next", lang.pick("Prochaines publications", "Next posts due"), &next))
        (recent(lang, b))
        (campaigns(lang, v, &back, b))
        (accounts(lang, v, &back, b, now))
    };
    layout::page(&shell(lang, title, alternates), body)
}

fn with_state(q: &BoardQuery, s: EntryState) -> String {
    let mut q = q.clone();
    q.state = Some(s.as_str().to_string());
    q.filters()
}

fn recent(lang: Lang, b: &Board) -> Markup {
    let Some(h) = &b.history else {
        return html! {};
    };
    let events: Vec<&HistoryEvent> = h.events.iter().rev().take(RECENT_SHOWN).collect();
    html! {
        section id="recent" {
            h2 { (lang.pick("Récemment", "Recently")) " "
                span.muted { "(" (utc(h.from)) " → " (utc(h.until)) ")" } }
            @if events.is_empty() {
                p.muted { (lang.pick("Rien dans cette période.", "Nothing in this period.")) }
            } @else {
                table.recent {
                    thead { tr {
                        th { (lang.pick("Quand", "When")) }
                        th { (lang.pick("Quoi", "What")) }
                        th { "id" }
                        th { (lang.pick("Campagne / publication", "Campaign / post")) }
                        th { (lang.pick("Compte", "Account")) }
                        th { (lang.pick("Détail", "Detail")) }
                    } }
                    tbody {
                        @for ev in events {
                            @let e = &ev.entry;
                            tr data-id=(e.id) data-event=(ev.event) {
                                td { (time_of(ev.at, &e.timezone)) }
                                td { span class={ "ev ev-" (ev.event) } { (event_word(lang, &ev.event)) } }
                                td { code { (e.short_id) } }
                                td { (e.campaign) " / " @if let Some(c) = &e.capsule { (c) " / " } (e.post) }
                                td { (e.account) " " span.muted { "(" (e.language) ")" } }
                                td {
                                    @if ev.event == "published" {
                                        @if let Some(u) = e.url.as_deref().filter(|u| u.starts_with("https://") || u.starts_with("http://")) {
                                            a href=(u) rel="noopener noreferrer" { (lang.pick("voir la publication", "see the post")) }
                                        } @else if let Some(id) = &e.remote_id { "id " (id) }
                                    } @else if let Some(hold) = &e.hold {
                                        strong.cause { (cause_word(lang, &hold.cause)) }
                                        @if let Some(err) = &e.last_error { " · " span.error { (err) } }
                                    } @else if let Some(err) = &e.last_error {
                                        span.error { (err) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn pause_button(
    lang: Lang,
    v: &Visit,
    back: &str,
    scope: &str,
    name: &str,
    paused: bool,
) -> Markup {
    if paused {
        action(
            v,
            back,
            "resume",
            &[("scope", scope), ("name", name)],
            lang.pick("Reprendre", "Resume"),
            html! {},
        )
    } else {
        action(
            v,
            back,
            "pause",
            &[("scope", scope), ("name", name)],
            lang.pick("Mettre en pause", "Pause"),
            html! {},
        )
    }
}

fn campaigns(lang: Lang, v: &Visit, back: &str, b: &Board) -> Markup {
    let names: BTreeSet<&String> = b
        .known
        .campaigns
        .iter()
        .chain(b.report.campaigns.iter().map(|c| &c.name))
        .collect();
    html! {
        section id="campaigns" {
            h2 { (lang.pick("Campagnes", "Campaigns")) }
            table.campaigns {
                thead { tr {
                    th { (lang.pick("Campagne", "Campaign")) }
                    th { (lang.pick("File", "Queue")) }
                    th { (lang.pick("Pause", "Pause")) }
                } }
                tbody {
                    @for name in names {
                        @let paused = b.pauses.contains(&(PauseScope::Campaign, name.clone()));
                        tr data-campaign=(name) {
                            td { a href={ "/board?campaign=" (urlencode(name)) } { (name) } }
                            td {
                                @if let Some(c) = b.report.campaigns.iter().find(|c| &c.name == name) {
                                    @for (s, n) in c.counts.iter().filter(|(_, n)| **n > 0) {
                                        span class={ "st st-" (s.as_str()) } { (state_word(lang, *s)) " " (n) } " "
                                    }
                                }
                            }
                            td {
                                @if paused { strong.paused { (lang.pick("en pause", "paused")) } " " }
                                (pause_button(lang, v, back, "campaign", name, paused))
                            }
                        }
                    }
                }
            }
        }
    }
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn accounts(lang: Lang, v: &Visit, back: &str, b: &Board, now: Timestamp) -> Markup {
    html! {
        section id="accounts" {
            h2 { (lang.pick("Comptes", "Accounts")) }
            table.accounts {
                thead { tr {
                    th { (lang.pick("Compte", "Account")) }
                    th { (lang.pick("Jeton enregistré", "Stored token")) }
                    th { (lang.pick("À voir", "Needs attention")) }
                    th { (lang.pick("Pause", "Pause")) }
                } }
                tbody {
                    @for (name, platform) in &b.accounts {
                        @let paused = b.pauses.contains(&(PauseScope::Account, name.clone()));
                        @let token = b.expiries.iter().find(|x| &x.account == name);
                        tr data-account=(name) {
                            td { a href={ "/board?account=" (urlencode(name)) } { (name) } " " span.muted { "(" (platform) ")" } }
                            td {
                                @match token {
                                    None => span.muted { "—" },
                                    Some(t) if t.needs_operator => strong.bad { (lang.pick("refusé : connexion à refaire", "refused: log in again")) },
                                    Some(t) => @match t.expires_at {
                                        None => (lang.pick("n'expire pas", "does not expire")),
                                        Some(at) => {
                                            @let days = (at.as_second() - now.as_second()).div_euclid(86_400);
                                            span class=[(days < 14).then_some("warn")] {
                                                (lang.pick("expire le ", "expires ")) (utc(at))
                                                " (" (days) (lang.pick(" j)", " d)"))
                                            }
                                        }
                                    },
                                }
                            }
                            td {
                                @for a in b.report.accounts_needing_attention.iter().filter(|a| &a.account == name) {
                                    p.attention { (a.message) }
                                }
                            }
                            td {
                                @if paused { strong.paused { (lang.pick("en pause", "paused")) } " " }
                                (pause_button(lang, v, back, "account", name, paused))
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The form of an action on an entry.
#[derive(Debug, Deserialize)]
struct EntryForm {
    #[serde(default)]
    id: String,
    #[serde(default)]
    force: Option<String>,
    #[serde(default)]
    back: String,
}

/// The form of a pause or a resume.
#[derive(Debug, Deserialize)]
struct ScopeForm {
    #[serde(default)]
    scope: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    back: String,
}

/// What the board asks of `cli::ops`.
enum Act {
    Retry { id: String, force: bool },
    Cancel { id: String },
    Pause(PauseArgs),
    Resume(PauseArgs),
}

fn pause_args(f: &ScopeForm) -> PauseArgs {
    let name = Some(f.name.clone());
    match f.scope.as_str() {
        "campaign" => PauseArgs {
            name: None,
            campaign: name,
            account: None,
        },
        "account" => PauseArgs {
            name: None,
            campaign: None,
            account: name,
        },
        _ => PauseArgs {
            name,
            campaign: None,
            account: None,
        },
    }
}

async fn retry(
    State(st): State<ConsoleState>,
    Extension(shared): Extension<Arc<Shared>>,
    Extension(visit): Extension<Visit>,
    Form(f): Form<EntryForm>,
) -> Response {
    let force = f.force.as_deref().is_some_and(|v| !v.is_empty());
    let act = Act::Retry { id: f.id, force };
    perform(&st, &shared, &visit, act, &f.back).await
}

async fn cancel(
    State(st): State<ConsoleState>,
    Extension(shared): Extension<Arc<Shared>>,
    Extension(visit): Extension<Visit>,
    Form(f): Form<EntryForm>,
) -> Response {
    perform(&st, &shared, &visit, Act::Cancel { id: f.id }, &f.back).await
}

async fn pause(
    State(st): State<ConsoleState>,
    Extension(shared): Extension<Arc<Shared>>,
    Extension(visit): Extension<Visit>,
    Form(f): Form<ScopeForm>,
) -> Response {
    perform(&st, &shared, &visit, Act::Pause(pause_args(&f)), &f.back).await
}

async fn resume(
    State(st): State<ConsoleState>,
    Extension(shared): Extension<Arc<Shared>>,
    Extension(visit): Extension<Visit>,
    Form(f): Form<ScopeForm>,
) -> Response {
    perform(&st, &shared, &visit, Act::Resume(pause_args(&f)), &f.back).await
}

/// Runs an action with the command line's functions, then 303 back to the
/// board with its message.
async fn perform(
    st: &ConsoleState,
    shared: &Shared,
    visit: &Visit,
    act: Act,
    back: &str,
) -> Response {
    let config = shared.current_config(st);
    let actor = Actor::new(
        &config,
        &st.campaigns_dir,
        st.clock.now(),
        "console".to_string(),
        visit.peer.clone(),
    );
    let store = &st.store;
    let result = match &act {
        Act::Retry { id, force } => ops::retry_entry(store, &actor, id.trim(), *force).await,
        Act::Cancel { id } => ops::cancel_entry(store, &actor, id.trim()).await,
        Act::Pause(args) => ops::pause_target(store, &actor, args).await,
        Act::Resume(args) => ops::resume_target(store, &actor, args).await,
    };
    let (done, mut message) = match result {
        Ok(line) => (true, line),
        Err(Refusal::Refused(m) | Refusal::Usage(m) | Refusal::Partly(m)) => (false, m),
    };
    for w in actor.take_warnings() {
        message.push_str("\nwarning: ");
        message.push_str(&w);
    }
    let mut q: BoardQuery = serde_urlencoded_board(back).unwrap_or_default();
    q.msg = None;
    q.result = None;
    q.tag = None;
    let mut target = format!("/board?{}", q.filters());
    if !target.ends_with('?') {
        target.push('&');
    }
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    let result = if done { "done" } else { "refused" };
    s.append_pair("result", result);
    s.append_pair("msg", &message);
    s.append_pair(
        "tag",
        &shared.guard.flash_tag(&format!("{result}\n{message}")),
    );
    target.push_str(&s.finish());
    target.push_str("#flash");
    Redirect::to(&target).into_response()
}

/// The board's filters from a query string (what the forms carry back).
fn serde_urlencoded_board(text: &str) -> Option<BoardQuery> {
    let mut q = BoardQuery::default();
    for (k, v) in url::form_urlencoded::parse(text.trim_start_matches('?').as_bytes()) {
        let v = Some(v.into_owned());
        match k.as_ref() {
            "campaign" => q.campaign = v,
            "account" => q.account = v,
            "state" => q.state = v,
            "since" => q.since = v,
            "until" => q.until = v,
            "lang" => q.lang = v,
            _ => {}
        }
    }
    Some(q.cleaned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filters_travel_through_the_forms_and_nothing_else() {
        let q = serde_urlencoded_board("campaign=amal&state=held&msg=x&lang=en&evil=1").unwrap();
        assert_eq!(q.campaign.as_deref(), Some("amal"));
        assert_eq!(q.msg, None);
        assert_eq!(q.filters(), "campaign=amal&state=held&lang=en");
        let empty = serde_urlencoded_board("campaign=&since=").unwrap();
        assert_eq!(empty.filters(), "");
    }
}
