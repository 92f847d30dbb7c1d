//! A plain webhook receiver on loopback for `scripts/bench-throughput`: it
//! answers every `POST` at once with `200 {"ok":true}` and, for requests
//! under `/hook/`, notes when each arrived (its own clock) and the `due`
//! time and `delivery` id of berrah's JSON body, so that the bench reads
//! throughput and lateness (due → received) from the receiver's side.
//! `POST /wrk` parses the body the same way but notes nothing: `wrk` runs
//! against it in the same run for the loopback ceiling.
//!
//! `cargo run --release --example bench_receiver [PORT]` prints the port it
//! listens on (0: any free port), then serves until killed:
//! - `GET /stats`: one JSON object (`received`, `distinct`, `first_us`,
//!   `last_us` (Unix microseconds), `late_ms` p50/p99/max/min);
//! - `POST /reset`: forget what was noted.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::{get, post};
use serde_json::{Value, json};

#[derive(Default)]
struct Noted {
    /// (arrival, due), Unix microseconds.
    times: Vec<(i64, i64)>,
    deliveries: HashSet<String>,
}

type Shared = Arc<Mutex<Noted>>;

fn now_us() -> i64 {
    jiff::Timestamp::now().as_microsecond()
}

/// The `due` and `delivery` of berrah's generic JSON body.
fn read(body: &[u8]) -> Option<(i64, String)> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let due: jiff::Timestamp = v.get("due")?.as_str()?.parse().ok()?;
    let delivery = v.get("delivery")?.as_str()?.to_string();
    Some((due.as_microsecond(), delivery))
}

async fn hook(State(noted): State<Shared>, body: Bytes) -> &'static str {
    let at = now_us();
    if let Some((due, delivery)) = read(&body) {
        let mut n = noted.lock().unwrap_or_else(|p| p.into_inner());
        n.times.push((at, due));
        n.deliveries.insert(delivery);
    }
    "{\"ok\":true}"
}

async fn wrk(body: Bytes) -> &'static str {
    std::hint::black_box(read(&body));
    "{\"ok\":true}"
}

async fn stats(State(noted): State<Shared>) -> String {
    let n = noted.lock().unwrap_or_else(|p| p.into_inner());
    let mut late: Vec<f64> = n
        .times
        .iter()
        .map(|(at, due)| (at - due) as f64 / 1e3)
        .collect();
    late.sort_by(f64::total_cmp);
    let pct =
        |p: f64| (!late.is_empty()).then(|| late[((late.len() - 1) as f64 * p).round() as usize]);
    json!({
        "received": n.times.len(),
        "distinct": n.deliveries.len(),
        "first_us": n.times.iter().map(|t| t.0).min(),
        "last_us": n.times.iter().map(|t| t.0).max(),
        "late_ms": {
            "min": late.first(),
            "p50": pct(0.50),
            "p99": pct(0.99),
            "max": late.last(),
        },
    })
    .to_string()
}

async fn reset(State(noted): State<Shared>) -> &'static str {
    *noted.lock().unwrap_or_else(|p| p.into_inner()) = Noted::default();
    "{\"ok\":true}"
}

fn main() {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    rt.block_on(async move {
        let noted = Shared::default();
        let app = Router::new()
            .route("/hook/{*rest}", post(hook))
            .route("/wrk", post(wrk))
            .route("/stats", get(stats))
            .route("/reset", post(reset))
            .with_state(noted);
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind 127.0.0.1");
        let port = listener.local_addr().expect("an address").port();
        println!("{port}");
        axum::serve(listener, app).await.expect("serve");
    });
}
