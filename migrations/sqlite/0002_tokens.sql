-- Stored credentials of accounts (`berrah accounts login`), one row per account.
-- `blob` is AES-256-GCM ciphertext (version || nonce || ciphertext+tag, the
-- account id as associated data); everything else is in clear so that
-- `accounts list` and `status` work without the key. Instants: Unix ms.
CREATE TABLE IF NOT EXISTS tokens (
    account            TEXT    PRIMARY KEY NOT NULL,
    platform           TEXT    NOT NULL,
    blob               BLOB    NOT NULL,
    access_expires_at  INTEGER,
    refresh_expires_at INTEGER,
    -- whether berrah can renew the access token itself (an OAuth refresh token)
    refreshable        BOOLEAN NOT NULL DEFAULT FALSE,
    needs_operator     BOOLEAN NOT NULL DEFAULT FALSE,
    reason             TEXT,
    updated_at         INTEGER NOT NULL
);
