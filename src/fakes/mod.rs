//! Fake platform servers on 127.0.0.1, faithful to the real APIs, for the tests
//! and the benchmarks. Each one checks requests as the real API does and
//! answers with its shapes and errors.

pub mod oauth;
