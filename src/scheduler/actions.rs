//! Operators' actions in the daemon's log: `berrah retry`, `cancel`,
//! `pause`, `resume` and `accounts login` record what they did in the
//! database (table `operator_actions`) and wake the daemons; the daemon logs
//! each new one at INFO, with flat fields (`action`, `target`, `ids`,
//! `user`, `host`, `at`), so that the journal says who changed the queue,
//! when, and from where. With several instances on one PostgreSQL
//! database, one of them logs each action.

use std::sync::Arc;

use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::store::{OperatorAction, Store, StoreError};
use crate::time::Clock;

/// Logs operators' actions as they are recorded, until `shutdown`.
pub async fn watch(store: Store, clock: Arc<dyn Clock>, shutdown: CancellationToken) {
    let mut wakeups = store.wakeups();
    loop {
        if !log_new(&store, &*clock).await {
            // The daemon closed the store: it has stopped.
            return;
        }
        tokio::select! {
            () = shutdown.cancelled() => {
                log_new(&store, &*clock).await;
                return;
            }
            r = wakeups.recv() => {
                if let Err(broadcast::error::RecvError::Closed) = r {
                    return;
                }
            }
        }
    }
}

/// Logs the actions no daemon has logged yet; `false` once the store is closed.
pub async fn log_new(store: &Store, clock: &dyn Clock) -> bool {
    match store.take_unlogged_actions(clock.now()).await {
        Ok(actions) => actions.iter().for_each(log),
        Err(StoreError::Sql(sqlx::Error::PoolClosed)) => return false,
        Err(e) => tracing::warn!(error = %e, "cannot read the operators' actions"),
    }
    true
}

fn log(a: &OperatorAction) {
    let shown: Vec<&str> = a.ids.iter().take(20).map(|i| i.as_str()).collect();
    let ids = if a.ids.len() > shown.len() {
        format!("{} and {} more", shown.join(","), a.ids.len() - shown.len())
    } else {
        shown.join(",")
    };
    tracing::info!(
        action = %a.action,
        target = %a.target,
        ids = %ids,
        count = a.ids.len(),
        user = %a.user,
        host = %a.host,
        at = %a.at,
        "operator action: {}",
        a.detail
    );
}
