-- Daemon instances and the last valid berrah.toml. Same shape as
-- migrations/postgres/0006.
--
-- Each `berrah run` registers itself (its id is the lease owner name it
-- writes on the entries it takes), beats every 20 seconds or so, and marks a
-- clean stop. `status` tells from them which daemons are running and whose
-- leases were left by a daemon that is gone; a start after a crash finds its
-- predecessor without `stopped_ms`. `rescued_ms`/`rescued_by`: when (and by
-- which instance) the work a dead instance left was taken over.
CREATE TABLE instances (
    id           TEXT PRIMARY KEY NOT NULL,
    host         TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    version      TEXT NOT NULL,
    started_ms   INTEGER NOT NULL,
    heartbeat_ms INTEGER NOT NULL,
    stopped_ms   INTEGER,
    rescued_ms   INTEGER,
    rescued_by   TEXT
);
CREATE INDEX instances_started ON instances (started_ms);

-- The last valid source of berrah.toml (one row, name 'berrah.toml'), so
-- that a daemon started while the file is broken runs with it, as it does
-- with a campaign file's snapshot.
CREATE TABLE config_snapshots (
    name     TEXT PRIMARY KEY NOT NULL,
    path     TEXT NOT NULL,
    source   TEXT NOT NULL,
    saved_ms INTEGER NOT NULL
);
