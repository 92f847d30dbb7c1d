-- Fewer index entries moved per publication; the same changes as
-- migrations/sqlite/0004_steady_indexes.sql, where the reasons are written
-- out (attempts stays as it is: PostgreSQL has no WITHOUT ROWID, and its
-- primary key is already the only index).
--
-- - entries_campaign and entries_account no longer carry `state`, which every
--   transition changes; entries_account is ordered by publication time, which
--   the posting budgets count.
-- - entries_lease goes: the heartbeat and the lease checks find the few
--   entries in flight in entries_in_flight.
-- - The waiting and in-flight indexes end with `id`, the claim's order.
DROP INDEX entries_campaign;
CREATE INDEX entries_campaign ON entries (campaign);
DROP INDEX entries_account;
CREATE INDEX entries_account ON entries (account, published_at_ms);
DROP INDEX entries_lease;
DROP INDEX entries_waiting_not_after;
CREATE INDEX entries_waiting_not_after ON entries (not_after_ms, id) WHERE state IN ('scheduled', 'retrying');
DROP INDEX entries_in_flight;
CREATE INDEX entries_in_flight ON entries (lease_until_ms, id) WHERE state IN ('claimed', 'publishing');
