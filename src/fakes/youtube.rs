//! A fake YouTube Data API v3 with the resumable upload protocol.
