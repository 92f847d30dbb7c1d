//! A fake AT Protocol PDS (sessions, blobs, records with record keys).
