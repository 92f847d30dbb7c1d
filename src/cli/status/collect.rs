//! Gathering what status shows from the store: the queue, the pauses, the
//! causes of holds and the accounts' stored token expiries.

use jiff::{SignedDuration, Timestamp};

use super::build::build_report;
use super::history::{HistoryReport, build_history};
use super::report::{MOVES_SHOWN_DAYS, ReportFilter, StatusEntry, StatusQuery, StatusReport};
use crate::auth::sources::stored_expiry_warnings;
use crate::auth::tokens::SqlTokenStore;
use crate::store::{EntryState, ListFilter, Move, Store, StoreError};

/// Reads everything status shows from the store (and its token table).
pub async fn collect(
    store: &Store,
    query: &StatusQuery,
    now: Timestamp,
) -> Result<StatusReport, StoreError> {
    let filter = ListFilter {
        campaign: query.campaign.clone(),
        account: query.account.clone(),
        ..ListFilter::default()
    };
    let (entries, corrupt) = store.list_checked(&filter).await?;
    let pauses = store.pauses().await?;
    let causes = store.held_causes().await?;
    let mut notes = Vec::new();
    let tokens = SqlTokenStore::from_store(store);
    let warnings = match stored_expiry_warnings(&tokens, now).await {
        Ok(w) => w,
        Err(e) => {
            notes.push(format!("the accounts' stored tokens cannot be read: {e}"));
            Vec::new()
        }
    };
    let since = now
        .checked_sub(SignedDuration::from_hours(24 * MOVES_SHOWN_DAYS))
        .unwrap_or(now);
    let moved: Vec<Move> = store
        .moves_since(since, 10_000)
        .await?
        .into_iter()
        .filter(|m| query.campaign.as_ref().is_none_or(|c| *c == m.campaign))
        .filter(|m| query.account.as_ref().is_none_or(|a| *a == m.account))
        .collect();
    let mut report = build_report(
        entries,
        corrupt,
        pauses,
        &causes,
        warnings,
        notes,
        query,
        now,
        store.backend_name(),
    );
    report.moved = moved;
    report.instances = Some(super::instances::collect(store, &report, now).await?);
    Ok(report)
}

/// Reads what `status --history` shows: the entries of the filter whose
/// outcome was reached in `[from, until)`.
pub async fn collect_history(
    store: &Store,
    query: &StatusQuery,
    from: Timestamp,
    until: Timestamp,
    now: Timestamp,
) -> Result<HistoryReport, StoreError> {
    let filter = ListFilter {
        campaign: query.campaign.clone(),
        account: query.account.clone(),
        states: if query.filter.states.is_empty() {
            vec![
                EntryState::Published,
                EntryState::Failed,
                EntryState::Held,
                EntryState::Expired,
                EntryState::Cancelled,
            ]
        } else {
            query.filter.states.clone()
        },
        ..ListFilter::default()
    };
    let (entries, _corrupt) = store.list_checked(&filter).await?;
    let causes = store.held_causes().await?;
    let advise = |e: &mut StatusEntry| {
        if let Some(h) = &mut e.hold
            && h.cause == "credentials"
            && let Some(advice) = query.credential_advice.get(&e.account)
        {
            h.release = advice.clone();
        }
    };
    Ok(build_history(
        &entries,
        &causes,
        &advise,
        from,
        until,
        ReportFilter {
            campaign: query.campaign.clone(),
            account: query.account.clone(),
            states: query.filter.states.clone(),
            since: Some(from),
            until: Some(until),
        },
        now,
        store.backend_name(),
    ))
}
