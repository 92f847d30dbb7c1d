//! Gathering what status shows from the store: the queue, the pauses, the
//! causes of holds and the accounts' stored token expiries.

use jiff::Timestamp;

use super::build::build_report;
use super::report::{StatusQuery, StatusReport};
use crate::auth::sources::stored_expiry_warnings;
use crate::auth::tokens::SqlTokenStore;
use crate::store::{ListFilter, Store, StoreError};

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
    Ok(build_report(
        entries,
        corrupt,
        pauses,
        &causes,
        warnings,
        notes,
        query,
        now,
        store.backend_name(),
    ))
}
