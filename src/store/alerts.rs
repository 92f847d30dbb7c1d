//! The alerter's tables (migration `0008_alerts.sql`): facts waiting to be
//! gathered (written by triggers on `entries` and `attempts`, and by the
//! daemon), each rule's group, the durable outbox of messages, and small
//! marks. The logic lives in [`crate::alerts`]; these are its queries.
//!
//! One alerter turn ([`Store::alert_turn`]) is one transaction: it takes the
//! waiting facts and the rules' rows, lets the alerter fold them and close
//! what is due into messages, writes the rows and the new messages, and
//! deletes the facts it took. A crash before the commit leaves everything
//! as it was; after it, nothing is seen twice.
//!
//! Sending takes a message with a short lease ([`Store::claim_alerts`]), so
//! that two instances on PostgreSQL never send the same one at once, and
//! records the result ([`Store::alert_sent`], [`Store::alert_retry`],
//! [`Store::alert_abandon`]).

use jiff::Timestamp;

use super::{Store, StoreError, on_db, write_tx};

/// One fact waiting for the alerter (a row of `alert_facts`).
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct FactRow {
    pub kind: String,
    pub entry_id: Option<String>,
    pub campaign: Option<String>,
    pub account: Option<String>,
    pub cause: Option<String>,
    pub detail: Option<String>,
    pub late_ms: Option<i64>,
}

/// A fact with its number (to delete exactly the facts taken).
#[derive(sqlx::FromRow)]
struct NumberedFact {
    seq: i64,
    #[sqlx(flatten)]
    fact: FactRow,
}

/// One rule's row: the group gathered since its last message.
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct RuleRow {
    pub rule: String,
    /// JSON of the group ('' when empty).
    pub pending: String,
    pub first_ms: Option<i64>,
    pub last_queued_ms: Option<i64>,
}

/// A message to add to the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAlert {
    pub id: String,
    pub rule: String,
    /// JSON.
    pub message: String,
    pub next_ms: i64,
}

/// A message taken from the outbox to be sent.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OutboxRow {
    pub id: String,
    pub rule: String,
    pub message: String,
    pub attempts: i64,
    pub created_ms: i64,
}

/// A stored token's expiry (never the token).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TokenExpiryRow {
    pub account: String,
    pub platform: String,
    pub access_expires_at: Option<i64>,
    pub refresh_expires_at: Option<i64>,
    pub refreshable: bool,
    pub needs_operator: bool,
}

/// What the alerter decided in one turn.
pub type Decision = (Vec<RuleRow>, Vec<NewAlert>);

/// How many facts one turn takes at most (the rest waits for the next).
const FACTS_PER_TURN: i64 = 20_000;

impl Store {
    /// One alerter turn in one transaction: the waiting facts (oldest first,
    /// at most 20 000) and the rows of `rules`, given to `decide`, whose
    /// rule rows and new messages are written before the facts taken are
    /// deleted. Returns how many facts were taken.
    pub async fn alert_turn<F>(&self, rules: Vec<String>, decide: F) -> Result<usize, StoreError>
    where
        F: FnOnce(Vec<FactRow>, Vec<RuleRow>) -> Decision + Send + 'static,
    {
        let pg = self.backend_name() == "postgres";
        write_tx!(self, |conn| {
            // PostgreSQL: instances never take the same facts.
            let facts_sql = if pg {
                "SELECT seq, kind, entry_id, campaign, account, cause, detail, late_ms \
                 FROM alert_facts ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED"
            } else {
                "SELECT seq, kind, entry_id, campaign, account, cause, detail, late_ms \
                 FROM alert_facts ORDER BY seq LIMIT $1"
            };
            let rows: Vec<NumberedFact> = sqlx::query_as(facts_sql)
                .bind(FACTS_PER_TURN)
                .fetch_all(&mut *conn)
                .await?;
            let seqs: Vec<i64> = rows.iter().map(|r| r.seq).collect();
            let facts: Vec<FactRow> = rows.into_iter().map(|r| r.fact).collect();
            for rule in &rules {
                sqlx::query(
                    "INSERT INTO alert_rules (rule, pending) VALUES ($1, '') \
                     ON CONFLICT (rule) DO NOTHING",
                )
                .bind(rule)
                .execute(&mut *conn)
                .await?;
            }
            let rules_sql = if pg {
                "SELECT rule, pending, first_ms, last_queued_ms FROM alert_rules ORDER BY rule FOR UPDATE"
            } else {
                "SELECT rule, pending, first_ms, last_queued_ms FROM alert_rules ORDER BY rule"
            };
            let rows: Vec<RuleRow> = sqlx::query_as(rules_sql).fetch_all(&mut *conn).await?;
            let rows = rows
                .into_iter()
                .filter(|r| rules.contains(&r.rule))
                .collect();
            let (changed, added) = decide(facts, rows);
            for r in changed {
                sqlx::query(
                    "UPDATE alert_rules SET pending = $2, first_ms = $3, last_queued_ms = $4 \
                     WHERE rule = $1",
                )
                .bind(r.rule)
                .bind(r.pending)
                .bind(r.first_ms)
                .bind(r.last_queued_ms)
                .execute(&mut *conn)
                .await?;
            }
            for a in added {
                sqlx::query(
                    "INSERT INTO alert_outbox (id, rule, message, state, created_ms, next_ms) \
                     VALUES ($1, $2, $3, 'pending', $4, $4)",
                )
                .bind(a.id)
                .bind(a.rule)
                .bind(a.message)
                .bind(a.next_ms)
                .execute(&mut *conn)
                .await?;
            }
            // By their numbers, never by range: on PostgreSQL a fact with a
            // number in between may commit after the read above.
            for chunk in seqs.chunks(1000) {
                let list: Vec<String> = chunk.iter().map(i64::to_string).collect();
                let sql = format!("DELETE FROM alert_facts WHERE seq IN ({})", list.join(", "));
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .execute(&mut *conn)
                    .await?;
            }
            Ok(seqs.len())
        })
    }

    /// Facts of the daemon's own (token expiry, broken campaign file, a
    /// restart after a crash), for the alerter's next turn.
    pub async fn add_alert_facts(&self, facts: Vec<FactRow>) -> Result<(), StoreError> {
        if facts.is_empty() {
            return Ok(());
        }
        write_tx!(self, |conn| {
            for f in facts {
                sqlx::query(
                    "INSERT INTO alert_facts (kind, entry_id, campaign, account, cause, detail, late_ms) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(f.kind)
                .bind(f.entry_id)
                .bind(f.campaign)
                .bind(f.account)
                .bind(f.cause)
                .bind(f.detail)
                .bind(f.late_ms)
                .execute(&mut *conn)
                .await?;
            }
            Ok(())
        })
    }

    /// Whether facts wait for the alerter.
    pub async fn alert_facts_waiting(&self) -> Result<bool, StoreError> {
        Ok(on_db!(self, |pool| sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM alert_facts)"
        )
        .fetch_one(pool)
        .await?))
    }

    /// Takes up to `limit` messages due at `now` (not leased by a live
    /// sender), leased to `owner` until `lease_until`.
    pub async fn claim_alerts(
        &self,
        now: Timestamp,
        owner: &str,
        lease_until: Timestamp,
        limit: i64,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        let pg = self.backend_name() == "postgres";
        let owner = owner.to_string();
        let now_ms = now.as_millisecond();
        let until_ms = lease_until.as_millisecond();
        write_tx!(self, |conn| {
            let sql = if pg {
                "UPDATE alert_outbox SET lease_owner = $2, lease_until_ms = $3 WHERE id IN \
                 (SELECT id FROM alert_outbox WHERE state = 'pending' AND next_ms <= $1 \
                  AND (lease_until_ms IS NULL OR lease_until_ms < $1) \
                  ORDER BY next_ms, id LIMIT $4 FOR UPDATE SKIP LOCKED) \
                 RETURNING id, rule, message, attempts, created_ms"
            } else {
                "UPDATE alert_outbox SET lease_owner = $2, lease_until_ms = $3 WHERE id IN \
                 (SELECT id FROM alert_outbox WHERE state = 'pending' AND next_ms <= $1 \
                  AND (lease_until_ms IS NULL OR lease_until_ms < $1) \
                  ORDER BY next_ms, id LIMIT $4) \
                 RETURNING id, rule, message, attempts, created_ms"
            };
            let rows: Vec<OutboxRow> = sqlx::query_as(sql)
                .bind(now_ms)
                .bind(owner)
                .bind(until_ms)
                .bind(limit)
                .fetch_all(&mut *conn)
                .await?;
            Ok(rows)
        })
    }

    /// Gives back the messages `owner` holds (a clean stop cut their
    /// delivery): the next sender takes them at once.
    pub async fn release_alerts(&self, owner: &str) -> Result<(), StoreError> {
        let owner = owner.to_string();
        write_tx!(self, |conn| {
            sqlx::query(
                "UPDATE alert_outbox SET lease_owner = NULL, lease_until_ms = NULL \
                 WHERE lease_owner = $1 AND state = 'pending'",
            )
            .bind(owner)
            .execute(&mut *conn)
            .await?;
            Ok(())
        })
    }

    /// The message was delivered.
    pub async fn alert_sent(&self, id: &str, now: Timestamp) -> Result<(), StoreError> {
        let id = id.to_string();
        let now_ms = now.as_millisecond();
        write_tx!(self, |conn| {
            sqlx::query(
                "UPDATE alert_outbox SET state = 'sent', sent_ms = $2, attempts = attempts + 1, \
                 last_error = NULL, lease_owner = NULL, lease_until_ms = NULL WHERE id = $1",
            )
            .bind(id)
            .bind(now_ms)
            .execute(&mut *conn)
            .await?;
            Ok(())
        })
    }

    /// The message was not delivered: try again at `next`.
    pub async fn alert_retry(
        &self,
        id: &str,
        next: Timestamp,
        error: &str,
    ) -> Result<(), StoreError> {
        let id = id.to_string();
        let error = error.to_string();
        let next_ms = next.as_millisecond();
        write_tx!(self, |conn| {
            sqlx::query(
                "UPDATE alert_outbox SET attempts = attempts + 1, next_ms = $2, last_error = $3, \
                 lease_owner = NULL, lease_until_ms = NULL WHERE id = $1 AND state = 'pending'",
            )
            .bind(id)
            .bind(next_ms)
            .bind(error)
            .execute(&mut *conn)
            .await?;
            Ok(())
        })
    }

    /// The message will never be sent (too old, or its rule is gone).
    pub async fn alert_abandon(&self, id: &str, error: &str) -> Result<(), StoreError> {
        let id = id.to_string();
        let error = error.to_string();
        write_tx!(self, |conn| {
            sqlx::query(
                "UPDATE alert_outbox SET state = 'abandoned', last_error = $2, \
                 lease_owner = NULL, lease_until_ms = NULL WHERE id = $1",
            )
            .bind(id)
            .bind(error)
            .execute(&mut *conn)
            .await?;
            Ok(())
        })
    }

    /// When the next waiting message is due (its retry time, or the end of
    /// another sender's lease).
    pub async fn next_alert_at(&self) -> Result<Option<Timestamp>, StoreError> {
        let ms: Option<i64> = on_db!(self, |pool| sqlx::query_scalar(
            "SELECT MIN(CASE WHEN lease_until_ms IS NOT NULL AND lease_until_ms > next_ms \
             THEN lease_until_ms ELSE next_ms END) FROM alert_outbox WHERE state = 'pending'"
        )
        .fetch_one(pool)
        .await?);
        Ok(ms.map(crate::time::from_millis))
    }

    /// The messages of the outbox, newest last: (id, rule, state, attempts,
    /// message JSON), for tests and `status`.
    pub async fn alert_outbox(
        &self,
    ) -> Result<Vec<(String, String, String, i64, String)>, StoreError> {
        Ok(on_db!(self, |pool| sqlx::query_as(
            "SELECT id, rule, state, attempts, message FROM alert_outbox ORDER BY created_ms, id"
        )
        .fetch_all(pool)
        .await?))
    }

    /// The marks whose name starts with `prefix`: (name, value, at).
    pub async fn alert_marks(
        &self,
        prefix: &str,
    ) -> Result<Vec<(String, String, i64)>, StoreError> {
        let like = format!("{}%", prefix.replace('%', "\\%").replace('_', "\\_"));
        Ok(on_db!(self, |pool| {
            sqlx::query_as(
            "SELECT name, value, at_ms FROM alert_marks WHERE name LIKE $1 ESCAPE '\\' ORDER BY name"
        )
        .bind(like)
        .fetch_all(pool)
        .await?
        }))
    }

    /// Sets a mark (replacing one of the same name).
    pub async fn set_alert_mark(
        &self,
        name: &str,
        value: &str,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        let (name, value) = (name.to_string(), value.to_string());
        let at_ms = at.as_millisecond();
        write_tx!(self, |conn| {
            sqlx::query(
                "INSERT INTO alert_marks (name, value, at_ms) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO UPDATE SET value = $2, at_ms = $3",
            )
            .bind(name)
            .bind(value)
            .bind(at_ms)
            .execute(&mut *conn)
            .await?;
            Ok(())
        })
    }

    /// Removes a mark; whether it was there.
    pub async fn remove_alert_mark(&self, name: &str) -> Result<bool, StoreError> {
        let name = name.to_string();
        write_tx!(self, |conn| {
            Ok(sqlx::query("DELETE FROM alert_marks WHERE name = $1")
                .bind(name)
                .execute(&mut *conn)
                .await?
                .rows_affected()
                > 0)
        })
    }

    /// Every stored token's expiry (the `tokens` table without its secrets).
    pub async fn token_expiry_rows(&self) -> Result<Vec<TokenExpiryRow>, StoreError> {
        Ok(on_db!(self, |pool| sqlx::query_as(
            "SELECT account, platform, access_expires_at, refresh_expires_at, refreshable, \
             needs_operator FROM tokens ORDER BY account"
        )
        .fetch_all(pool)
        .await?))
    }
}
