//! Fake webhook receivers: generic JSON with HMAC signature, Slack, Microsoft Teams and Discord incoming webhooks.
