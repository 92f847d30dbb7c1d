//! Accounts' credentials: OAuth 2.0 and the encrypted token store.
