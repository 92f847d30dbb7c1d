-- Alerts (src/alerts): what happened, gathered per rule, and the messages to
-- send, so that an alert survives a restart. Same shape as
-- migrations/postgres/0008_alerts.sql. Instants are Unix milliseconds.

-- Facts waiting for the alerter: the queue's own transitions (written by the
-- triggers below, in the same transaction as the transition, so none is
-- lost or seen twice) and the daemon's (token expiry, broken campaign file,
-- restart after a crash). The alerter folds them into each rule's group and
-- deletes them in one transaction.
CREATE TABLE alert_facts (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    -- held | failed | dropped | late | token_expiring | campaign_broken | crash_restart
    kind     TEXT NOT NULL,
    entry_id TEXT,
    campaign TEXT,
    account  TEXT,
    -- held: the entry's state_cause; token_expiring: the rules' threshold in days
    cause    TEXT,
    -- the entry's last error, the file, the token's expiry: never a secret
    detail   TEXT,
    -- late: how late the first attempt started (ms after the due time)
    late_ms  INTEGER
);

-- An entry that became held (not by a pause in its file or by an operator),
-- failed, or expired (dropped as too late).
CREATE TRIGGER alert_facts_state AFTER UPDATE OF state ON entries
WHEN NEW.state IN ('held', 'failed', 'expired') AND OLD.state <> NEW.state
     AND COALESCE(NEW.state_cause, '') NOT IN ('file_pause', 'operator')
BEGIN
    INSERT INTO alert_facts (kind, entry_id, campaign, account, cause, detail)
    VALUES (CASE NEW.state WHEN 'expired' THEN 'dropped' ELSE NEW.state END,
            NEW.id, NEW.campaign, NEW.account, NEW.state_cause, NEW.last_error);
END;

-- A first attempt that started a minute or more after its due time (rules
-- choose their own threshold above that).
CREATE TRIGGER alert_facts_late AFTER INSERT ON attempts
WHEN NEW.number = 1
BEGIN
    INSERT INTO alert_facts (kind, entry_id, campaign, account, late_ms)
    SELECT 'late', e.id, e.campaign, e.account, NEW.started_ms - e.due_ms
    FROM entries e
    WHERE e.id = NEW.entry_id AND NEW.started_ms - e.due_ms >= 60000;
END;

-- Each rule's group being gathered, and when it last queued a message.
CREATE TABLE alert_rules (
    rule           TEXT PRIMARY KEY NOT NULL,
    -- JSON of the group gathered since the last message ('' when empty)
    pending        TEXT NOT NULL DEFAULT '',
    first_ms       INTEGER,
    last_queued_ms INTEGER
);

-- Messages to send (the durable outbox), one per rule and interval.
CREATE TABLE alert_outbox (
    id             TEXT PRIMARY KEY NOT NULL,  -- the delivery id
    rule           TEXT NOT NULL,
    message        TEXT NOT NULL,              -- JSON
    state          TEXT NOT NULL,              -- pending | sent | abandoned
    created_ms     INTEGER NOT NULL,
    next_ms        INTEGER NOT NULL,           -- when to (re)try
    attempts       INTEGER NOT NULL DEFAULT 0,
    last_error     TEXT,
    sent_ms        INTEGER,
    lease_owner    TEXT,
    lease_until_ms INTEGER
);
CREATE INDEX alert_outbox_due ON alert_outbox (state, next_ms);

-- Small marks: a daemon running (removed at a clean stop, so that one left
-- behind means a crash), and token expiries already alerted.
CREATE TABLE alert_marks (
    name  TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL,
    at_ms INTEGER NOT NULL
);
