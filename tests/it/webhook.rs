//! Webhook publishing against fake receivers.
