//! Outputs of `berrah plan`.
