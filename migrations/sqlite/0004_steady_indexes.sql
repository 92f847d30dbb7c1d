-- Fewer pages written per publication. Every commit writes each page it
-- changed to the write-ahead log and waits for the disk (synchronous = FULL),
-- so the cost of a publication is mostly the index pages its two transitions
-- (take, outcome) touch. Measured with the daemon bench: about 12 pages per
-- publication before this migration.
--
-- - entries_campaign and entries_account no longer carry `state`: with it,
--   every transition moved the entry in both (up to 8 pages). The campaign's
--   entries are read together (sync); an account's are counted by publication
--   time (posting budgets), which changes once, when it is published.
-- - entries_lease goes: the in-flight entries (entries_in_flight) are few,
--   and the heartbeat and lease checks find them there.
-- - The waiting and in-flight indexes end with `id`, the claim's order, so
--   that a burst of entries due together leaves them page by page instead
--   of at random.
-- - attempts is stored by its key (WITHOUT ROWID): one b-tree instead of a
--   table and an index, for rows of a few dozen bytes.
DROP INDEX entries_campaign;
CREATE INDEX entries_campaign ON entries (campaign);
DROP INDEX entries_account;
CREATE INDEX entries_account ON entries (account, published_at_ms);
DROP INDEX entries_lease;
DROP INDEX entries_waiting_not_after;
CREATE INDEX entries_waiting_not_after ON entries (not_after_ms, id) WHERE state IN ('scheduled', 'retrying');
DROP INDEX entries_in_flight;
CREATE INDEX entries_in_flight ON entries (lease_until_ms, id) WHERE state IN ('claimed', 'publishing');

CREATE TABLE attempts_by_key (
    entry_id    TEXT NOT NULL REFERENCES entries (id) ON DELETE CASCADE,
    number      INTEGER NOT NULL,
    owner       TEXT NOT NULL,
    started_ms  INTEGER NOT NULL,
    finished_ms INTEGER,
    outcome     TEXT,
    detail      TEXT,
    PRIMARY KEY (entry_id, number)
) WITHOUT ROWID;
INSERT INTO attempts_by_key SELECT entry_id, number, owner, started_ms, finished_ms, outcome, detail FROM attempts;
DROP TABLE attempts;
ALTER TABLE attempts_by_key RENAME TO attempts;
