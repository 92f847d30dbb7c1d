//! The durable queue (sqlx; SQLite embedded by default, PostgreSQL for several instances).
