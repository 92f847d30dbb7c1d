//! Integration tests: platforms_big.
