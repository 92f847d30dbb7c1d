//! The daemon: months on the simulated clock, crash safety, several instances, broken files, shutdown.
