-- The durable queue (SQLite). Same shape as migrations/postgres/0001_queue.sql.
-- Instants are Unix milliseconds; JSON is stored as text and decoded (and
-- checked) in Rust. Never edit this file once released: add a new migration.

CREATE TABLE entries (
    id              TEXT PRIMARY KEY NOT NULL,  -- the occurrence id
    campaign        TEXT NOT NULL,
    capsule         TEXT,
    post            TEXT NOT NULL,
    account         TEXT NOT NULL,
    platform        TEXT NOT NULL,
    language        TEXT NOT NULL,
    series          TEXT,
    due_ms          INTEGER NOT NULL,
    local           TEXT NOT NULL,
    timezone        TEXT NOT NULL,
    not_after_ms    INTEGER NOT NULL,
    run_at_ms       INTEGER NOT NULL,
    state           TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    content         TEXT NOT NULL,               -- JSON
    content_hash    TEXT NOT NULL,
    progress        TEXT NOT NULL DEFAULT '{}',  -- JSON
    lease_owner     TEXT,
    lease_until_ms  INTEGER,
    remote_id       TEXT,
    url             TEXT,
    published_at_ms INTEGER,
    last_error      TEXT,
    -- Why it is held or cancelled, when that decides what may undo it:
    -- sync | operator | file_pause | account | outcome (see src/store/sync.rs).
    state_cause     TEXT,
    created_ms      INTEGER NOT NULL,
    updated_ms      INTEGER NOT NULL
);

CREATE INDEX entries_claim ON entries (state, run_at_ms, id);
CREATE INDEX entries_campaign ON entries (campaign, state);
CREATE INDEX entries_account ON entries (account, state);
CREATE INDEX entries_series ON entries (series, due_ms) WHERE series IS NOT NULL;
CREATE INDEX entries_lease ON entries (lease_owner, lease_until_ms) WHERE lease_owner IS NOT NULL;

CREATE TABLE attempts (
    entry_id    TEXT NOT NULL REFERENCES entries (id) ON DELETE CASCADE,
    number      INTEGER NOT NULL,
    owner       TEXT NOT NULL,
    started_ms  INTEGER NOT NULL,
    finished_ms INTEGER,
    outcome     TEXT,
    detail      TEXT,
    PRIMARY KEY (entry_id, number)
);

CREATE TABLE campaign_snapshots (
    campaign TEXT PRIMARY KEY NOT NULL,
    path     TEXT NOT NULL,
    source   TEXT NOT NULL,
    saved_ms INTEGER NOT NULL
);

CREATE TABLE pauses (
    scope TEXT NOT NULL,  -- 'campaign' | 'account'
    name  TEXT NOT NULL,
    PRIMARY KEY (scope, name)
);

CREATE TABLE media_uploads (
    account    TEXT NOT NULL,
    sha256     TEXT NOT NULL,
    remote_id  TEXT NOT NULL,
    expires_ms INTEGER,
    PRIMARY KEY (account, sha256)
);
