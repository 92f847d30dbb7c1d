//! Gathering what status shows from the store: the queue, the pauses, the
//! causes of holds and the accounts' stored token expiries.

use jiff::{SignedDuration, Timestamp};

use super::build::build_report;
use super::report::{MOVES_SHOWN_DAYS, StatusQuery, StatusReport};
use crate::auth::sources::stored_expiry_warnings;
use crate::auth::tokens::SqlTokenStore;
use crate::store::{ListFilter, Move, Store, StoreError};

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
