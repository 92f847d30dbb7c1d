//! Integration tests: platforms_open.
