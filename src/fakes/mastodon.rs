//! A fake Mastodon instance (statuses with Idempotency-Key, v2 media with processing, instance limits).
