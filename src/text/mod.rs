//! Text: rendering a post for a platform (variants, hashtags, UTM) and each
//! platform's length rules; outside text made safe for a terminal
//! (`sanitize`). Pure functions, no I/O.
pub mod limits;
pub mod links;
pub mod mentions;
pub mod render;
pub mod sanitize;
