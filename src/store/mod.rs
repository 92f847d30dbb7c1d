//! The durable queue (sqlx): SQLite embedded by default, PostgreSQL when
//! several instances share the work.
//!
//! Each queue entry is one occurrence of the plan (its stable id), i.e. one
//! (post, account, language, slot). Its life, as a state machine in the
//! database (after River and Oban):
//!
//! ```text
//!             sync adds                 claim (lease)            begin_attempt
//!   (file) ─────────────▶ scheduled ───────────────▶ claimed ───────────────▶ publishing
//!                          ▲  │ ▲                       │ lease expires          │
//!        retry (operator)  │  │ └──── lease expires ────┘ (never called: safe)   │ finish
//!                          │  │                                                  ▼
//!   held ◀── unknown outcome on a non-idempotent platform, credentials,    published | retrying
//!   failed, cancelled, expired (past not_after), budget                   | failed | held
//! ```
//!
//! - `claimed` means a worker holds the lease and has NOT called the platform
//!   yet: if its lease expires, the entry goes back to `scheduled`.
//! - `publishing` means the attempt is recorded and the request may have
//!   reached the platform: if the lease expires, the entry is retried only on a
//!   platform with [`Idempotency::Keyed`](crate::platforms::Idempotency),
//!   resolved by asking a `Queryable` one, and otherwise `held` for an operator.
//! - `retrying` is `scheduled` with a later `run_at` after a transient fault.
//! - Terminal: `published`, `failed`, `cancelled`, `expired`. `held` waits for
//!   an operator (`berrah retry`, `berrah cancel`, `berrah accounts login`).
//!
//! Every transition is one statement or one transaction guarded by the
//! expected state and lease owner, so two instances can never both move the
//! same entry.

pub use self::types::*;

mod types;
