//! The platforms berrah publishes to, behind one small trait.
//!
//! A platform turns a [`PublishJob`] (an occurrence's rendered content, the
//! account, what earlier attempts already achieved) into an [`Outcome`] that the
//! queue understands. Everything platform-specific (endpoints, bodies, media
//! flows, error codes, rate-limit headers) stays inside its module; the
//! scheduler only ever sees this trait.
//!
//! Rules every implementation follows:
//! - Call [`Checkpoint::save`] the moment the platform confirms something
//!   (the post's id, each reply of a thread, each uploaded media), before doing
//!   anything else: that is how a crash never leads to a second post and a
//!   thread resumes where it stopped.
//! - Read [`PublishJob::progress`] first and skip what is already done.
//! - Never retry a non-idempotent request internally after it may have reached
//!   the platform: return [`Outcome::Unknown`] and let the queue decide.
//! - Never put a token in an error message or a log line.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::auth::Credentials;
use crate::config::{AccountConfig, PlatformKind};
use crate::media::UploadCache;
use crate::plan::Content;

pub mod bluesky;
pub mod common;
pub mod facebook;
pub mod graph;
pub mod instagram;
pub mod linkedin;
pub mod mastodon;
pub mod outbox;
pub mod telegram;
pub mod webhook;
pub mod x;
pub mod youtube;

/// Everything a platform needs to publish one queue entry.
#[derive(Debug, Clone)]
pub struct PublishJob {
    /// The occurrence id: also the idempotency key (Mastodon) or record key (Bluesky).
    pub occurrence_id: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub account_id: String,
    pub account: Arc<AccountConfig>,
    pub language: String,
    pub content: Content,
    /// What earlier attempts already achieved (saved through [`Checkpoint`]).
    pub progress: Progress,
    /// When the occurrence was due (some platforms schedule server-side).
    pub due: Timestamp,
}

/// What has been confirmed by the platform so far for one queue entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// The main post's id on the platform, once confirmed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_id: Option<String>,
    /// Its public URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Ids of the thread replies published so far, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thread: Vec<String>,
    /// Id of the first comment, once published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_comment: Option<String>,
    /// Uploaded media of this entry: content hash → platform media id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub media: BTreeMap<String, String>,
    /// Platform-specific state of an unfinished flow (an upload session URL and
    /// offset, a container id), so that an interrupted attempt can resume.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, String>,
}

/// The result of one attempt, in the categories the queue knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// It is out: the platform's id and the public URL.
    Published {
        remote_id: String,
        url: Option<String>,
    },
    /// A transient fault (5xx, timeout, 429): try again, at `at` when the
    /// platform said when (rate-limit reset, Retry-After), else with backoff.
    Retry {
        at: Option<Timestamp>,
        reason: String,
    },
    /// A permanent refusal, with the platform's own message made actionable.
    Failed { reason: String },
    /// Credentials need an operator (revoked, expired, missing permission):
    /// the account's posts are held until `berrah accounts login`.
    NeedsOperator { reason: String },
    /// The request may have reached the platform and we cannot tell whether it
    /// was published (connection dropped after sending, crash mid-call).
    Unknown { reason: String },
}

/// How safe it is to send the same publication again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// The platform deduplicates on a key we choose (Mastodon's Idempotency-Key,
    /// Bluesky's record key): a retry cannot duplicate.
    Keyed,
    /// The platform can be asked what happened ([`Platform::resolve`]).
    Queryable,
    /// Neither: an attempt that may have reached the platform is held for an operator.
    None,
}

/// Where a platform saves progress the moment the platform confirms it.
///
/// Save what a later step of the same attempt depends on (the post's id
/// before its first comment, each post of a thread, an upload before the
/// post that uses it): a crash between two steps then resumes after the
/// last confirmed one instead of repeating it. The outcome `publish`
/// returns is recorded durably by the worker at once ([`Store::finish`]),
/// so a one-step publication (a webhook, the outbox) returns its
/// `Published` without saving it first: that save would cost a commit and
/// shorten no window (the outcome's own write comes as soon as the save
/// would have).
///
/// [`Store::finish`]: crate::store::Store::finish
#[async_trait]
pub trait Checkpoint: Send + Sync {
    /// Durably records `progress` for the entry being published.
    async fn save(&self, progress: &Progress) -> Result<(), CheckpointError>;
}

#[derive(Debug, thiserror::Error)]
#[error("could not record progress: {0}")]
pub struct CheckpointError(pub String);

/// A checkpoint that keeps nothing, for tests and `rehearse`.
pub struct NoCheckpoint;

#[async_trait]
impl Checkpoint for NoCheckpoint {
    async fn save(&self, _: &Progress) -> Result<(), CheckpointError> {
        Ok(())
    }
}

/// One platform client, bound to one account.
#[async_trait]
pub trait Platform: Send + Sync {
    fn kind(&self) -> PlatformKind;

    fn idempotency(&self) -> Idempotency;

    /// Publishes the job (main post, then media-dependent parts, thread and
    /// first comment), saving progress as it goes.
    async fn publish(&self, job: &PublishJob, checkpoint: &dyn Checkpoint) -> Outcome;

    /// After a crash or timeout left an attempt's outcome unknown, asks the
    /// platform what happened. `None` means it cannot tell: hold for an operator.
    async fn resolve(&self, _job: &PublishJob) -> Option<Outcome> {
        None
    }
}

/// What every platform client is built from.
#[derive(Clone)]
pub struct PlatformDeps {
    pub account_id: String,
    pub account: Arc<AccountConfig>,
    pub credentials: Arc<dyn Credentials>,
    pub http: reqwest::Client,
    /// Media already uploaded per account and content hash.
    pub uploads: Arc<dyn UploadCache>,
    /// The clock (simulated in `rehearse` and tests): never call `Timestamp::now()`.
    pub clock: Arc<dyn crate::time::Clock>,
}

/// Builds the client of an account with credentials, for its platform.
/// (Accounts without credentials publish to the [`outbox`] instead.)
pub fn build(deps: PlatformDeps) -> Box<dyn Platform> {
    match deps.account.platform {
        PlatformKind::Mastodon => mastodon::build(deps),
        PlatformKind::Bluesky => bluesky::build(deps),
        PlatformKind::Telegram => telegram::build(deps),
        PlatformKind::Webhook => webhook::build(deps),
        PlatformKind::X => x::build(deps),
        PlatformKind::Facebook => facebook::build(deps),
        PlatformKind::Instagram => instagram::build(deps),
        PlatformKind::Linkedin => linkedin::build(deps),
        PlatformKind::Youtube => youtube::build(deps),
    }
}

/// A platform whose client is not available in this build: every attempt
/// fails permanently with a message saying so (never silently dropped).
pub struct Unsupported(pub PlatformKind);

#[async_trait]
impl Platform for Unsupported {
    fn kind(&self) -> PlatformKind {
        self.0
    }

    fn idempotency(&self) -> Idempotency {
        Idempotency::None
    }

    async fn publish(&self, _job: &PublishJob, _checkpoint: &dyn Checkpoint) -> Outcome {
        Outcome::Failed {
            reason: format!(
                "publishing to {} is not supported by this build of berrah",
                self.0
            ),
        }
    }
}
