//! The upload cache backed by the store.
