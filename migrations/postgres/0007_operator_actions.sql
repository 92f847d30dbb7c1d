-- Operators' actions (`berrah retry`, `cancel`, `pause`, `resume`,
-- `accounts login`), recorded by the command that did them so that the
-- daemon logs each one (what, which ids, by whom, from which host). The
-- daemon marks a row `logged_ms` once it has logged it: with several
-- instances one of them logs it. Same shape as migrations/sqlite/0007.
CREATE TABLE operator_actions (
    seq       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at_ms     BIGINT NOT NULL,
    action    TEXT NOT NULL,
    target    TEXT NOT NULL,
    ids       TEXT NOT NULL,
    detail    TEXT NOT NULL,
    user_name TEXT NOT NULL,
    host      TEXT NOT NULL,
    logged_ms BIGINT
);
CREATE INDEX operator_actions_unlogged ON operator_actions (seq) WHERE logged_ms IS NULL;
