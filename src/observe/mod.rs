//! What an operator sees of a running daemon besides its log: health,
//! readiness and Prometheus metrics on an optional HTTP listener
//! ([`listener`], [`metrics`]), and systemd's readiness and watchdog
//! protocol ([`systemd`]). journald priorities are [`crate::logging`]'s.
//!
//! The daemon holds a [`Metrics`] handle (in
//! [`DaemonConfig::metrics`](crate::scheduler::DaemonConfig)) and tells it
//! about outcomes, first requests and syncs; `berrah run` starts what is
//! around it with [`start`] and stops it with [`Observing::stop`].

pub mod listener;
pub mod metrics;
pub mod systemd;

use std::net::SocketAddr;

use tokio_util::sync::CancellationToken;

pub use listener::{ListenError, ObserveState};
pub use metrics::Metrics;

/// The listener and the systemd notifier of a running daemon.
pub struct Observing {
    /// The address the listener is bound to (its port when asked for 0).
    pub address: Option<SocketAddr>,
    stop: CancellationToken,
    listener: Option<tokio::task::JoinHandle<()>>,
    notifier: tokio::task::JoinHandle<()>,
}

/// Starts the listener on `listen` (when set) and the systemd notifier.
/// `state.shutdown` is the daemon's: readiness turns 503 and systemd hears
/// `STOPPING=1` as soon as it is cancelled; the listener itself serves
/// until [`Observing::stop`], after the daemon has ended.
pub async fn start(
    listen: Option<SocketAddr>,
    state: ObserveState,
) -> Result<Observing, ListenError> {
    start_with(listen, state, None).await
}

/// [`start`] with the web console's routes (`console`, see
/// [`crate::console::server::router`]) merged into the same listener.
pub async fn start_with(
    listen: Option<SocketAddr>,
    state: ObserveState,
    console: Option<axum::Router>,
) -> Result<Observing, ListenError> {
    let stop = CancellationToken::new();
    let mut listening = None;
    let mut address = None;
    if let Some(addr) = listen {
        let bound = listener::bind(addr).await?;
        let local = bound.local_addr().unwrap_or(addr);
        if console.is_some() {
            tracing::info!(
                address = %local,
                "serving the console on http://{local}/board, and /healthz, /readyz and /metrics"
            );
        } else {
            tracing::info!(
                address = %local,
                "serving /healthz, /readyz and /metrics on http://{local}"
            );
        }
        address = Some(local);
        let mut router = listener::router(state.clone());
        if let Some(console) = console {
            router = router.merge(console);
        }
        listening = Some(tokio::spawn(listener::serve(bound, router, stop.clone())));
    }
    let notifier = tokio::spawn(systemd::notify(
        state.metrics.clone(),
        state.shutdown.clone(),
    ));
    Ok(Observing {
        address,
        stop,
        listener: listening,
        notifier,
    })
}

/// [`start`] for a daemon about to run with `cfg`: its store, clock and
/// metrics, `shutdown` its stop signal; `listen` the address to bind
/// (see [`crate::console::server::listen_address`]); with `console`, the
/// web console on the same listener, reading the daemon's store, clock,
/// campaign folder and configuration.
pub async fn start_for(
    listen: Option<SocketAddr>,
    cfg: &crate::scheduler::DaemonConfig,
    shutdown: &CancellationToken,
    console: Option<crate::console::server::ConsoleOptions>,
) -> Result<Observing, ListenError> {
    let state = ObserveState {
        store: cfg.store.clone(),
        clock: cfg.clock.clone(),
        metrics: cfg.metrics.clone(),
        shutdown: shutdown.clone(),
    };
    let console = console.map(|options| {
        crate::console::server::router(
            crate::console::ConsoleState {
                store: cfg.store.clone(),
                clock: cfg.clock.clone(),
                campaigns_dir: cfg.campaigns_dir.clone(),
                config_path: cfg.config_path.clone(),
                plans: Default::default(),
            },
            options,
        )
    });
    start_with(listen, state, console).await
}

impl Observing {
    /// Stops the listener (requests in progress finish) and the notifier.
    pub async fn stop(self) {
        self.stop.cancel();
        if let Some(listener) = self.listener {
            // A scrape in progress gets a moment to finish, not more.
            let _ = tokio::time::timeout(std::time::Duration::from_secs(1), listener).await;
        }
        // With a watchdog, the notifier pings until the process ends.
        self.notifier.abort();
        let _ = self.notifier.await;
    }
}
