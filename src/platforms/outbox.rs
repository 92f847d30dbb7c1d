//! The local outbox: accounts without credentials publish here (JSON Lines).
