-- Time-zone data: which release each entry's due time was computed with, and
-- a record of the entries whose due time moved (a file edit, or new zone
-- data such as Morocco's move to UTC+00 in tzdata 2026c), for the daemon's
-- log and `berrah status`. Same shape as migrations/postgres/0005.
--
-- Entries queued before this migration have no recorded release (''): the
-- next sync re-plans them with the database in use and stamps it.
ALTER TABLE entries ADD COLUMN tzdb TEXT NOT NULL DEFAULT '';

CREATE TABLE moves (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    entry_id    TEXT NOT NULL,
    campaign    TEXT NOT NULL,
    post        TEXT NOT NULL,
    account     TEXT NOT NULL,
    language    TEXT NOT NULL,
    timezone    TEXT NOT NULL,
    from_due_ms INTEGER NOT NULL,
    from_local  TEXT NOT NULL,
    to_due_ms   INTEGER NOT NULL,
    to_local    TEXT NOT NULL,
    reason      TEXT NOT NULL,
    moved_ms    INTEGER NOT NULL
);
CREATE INDEX moves_moved ON moves (moved_ms);
