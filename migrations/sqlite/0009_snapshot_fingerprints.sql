-- What a campaign's last valid snapshot was planned with (a hash of the
-- file's bytes, the time-zone data release, the accounts and berrah's
-- version) and how many occurrences it gave: a restart that finds every file
-- as it was neither re-plans nor re-syncs them (src/scheduler/sync.rs).
-- NULL: unknown (saved before this migration, or the campaign was removed).
-- Same shape as migrations/postgres/0009_snapshot_fingerprints.sql.
ALTER TABLE campaign_snapshots ADD COLUMN fingerprint TEXT;
ALTER TABLE campaign_snapshots ADD COLUMN occurrences INTEGER;
