//! Text: rendering a post for a platform (variants, hashtags, UTM) and each
//! platform's length rules. Pure functions, no I/O.
pub mod limits;
pub mod render;
