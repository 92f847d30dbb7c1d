//! The web console: the calendar the communication teams read and the board
//! the operators watch.
//!
//! Server-rendered HTML ([`maud`]: templates are Rust expressions, checked
//! and escaped at compile time, with no template files to ship), one small
//! stylesheet ([`layout::STYLESHEET`]), no JavaScript. It calls the same
//! `plan`, `text` and `store` functions as the command line: it never counts,
//! renders or changes the queue by a second implementation.
//!
//! - [`i18n`]: the interface's language (French or English, from the
//!   browser's `Accept-Language` or `?lang=`), never the content's;
//! - [`layout`]: the page shell (navigation, language switch, stylesheet);
//! - `calendar` and `post` (communication teams): the month calendar of the
//!   plan and a post rendered as each platform shows it; also written as
//!   static pages by `berrah preview --out DIR`;
//! - `board` (operators): instances, queue, recent outcomes, accounts, and
//!   the actions of `retry`/`cancel`/`pause`/`resume`;
//! - `server`: the routes, the access token, protection against cross-site
//!   requests and the security headers, merged into the daemon's listener
//!   ([`crate::observe::listener`]).

pub mod board;
pub mod cache;
pub mod calendar;
pub mod export;
pub mod i18n;
pub mod layout;
pub mod post;
pub mod security;
pub mod server;

use std::path::PathBuf;
use std::sync::Arc;

use crate::store::Store;
use crate::time::Clock;

/// What the served pages read: the daemon's store and clock, and where its
/// campaign files and configuration are. (The static pages of `berrah
/// preview` need none of it.)
#[derive(Clone)]
pub struct ConsoleState {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub campaigns_dir: PathBuf,
    pub config_path: Option<PathBuf>,
    /// The served calendar's last plans ([`cache`]).
    pub plans: Arc<cache::PlanCache>,
}
