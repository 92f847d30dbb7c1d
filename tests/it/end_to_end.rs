//! The example campaigns, run by the daemon on the simulated clock, reaching every fake platform.
