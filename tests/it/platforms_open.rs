//! Mastodon and Telegram against their fake servers.
