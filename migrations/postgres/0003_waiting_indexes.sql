-- Indexes for the daemon's hot queries, on the small part of a queue that
-- keeps its history: the entries waiting to be claimed, and those in flight.
-- The claim walks the waiting entries in run_at order without sorting them;
-- the lateness checks (past not_after, superseded in a series) and the lease
-- checks probe instead of scanning every due entry. The WHERE clauses repeat
-- the queries' own terms word for word, which is how both SQLite and
-- PostgreSQL know they may use them.
--
-- entries_claim (state, run_at_ms, id) goes: SQLite, without statistics,
-- preferred it to the partial indexes and then sorted every due entry at each
-- claim (10,000 at once in a burst).
DROP INDEX entries_claim;
CREATE INDEX entries_waiting ON entries (run_at_ms, id) WHERE state IN ('scheduled', 'retrying');
CREATE INDEX entries_waiting_not_after ON entries (not_after_ms) WHERE state IN ('scheduled', 'retrying');
CREATE INDEX entries_waiting_series ON entries (due_ms) WHERE state IN ('scheduled', 'retrying') AND series IS NOT NULL;
CREATE INDEX entries_in_flight ON entries (lease_until_ms) WHERE state IN ('claimed', 'publishing');
