//! Bluesky publishing over the AT Protocol (XRPC), with an app password.
//!
//! What this client relies on (`docs/platforms/bluesky.md`, from the
//! `bluesky-social/atproto` lexicons and PDS, and docs.bsky.app):
//!
//! - **Sessions** (§1): `com.atproto.server.createSession` with the account's
//!   `handle` and its app password (the secret of `deps.credentials`), kept in
//!   memory (createSession is limited to 30 per 5 minutes). An expired access
//!   JWT is answered `400 ExpiredToken`: the session is refreshed with
//!   `com.atproto.server.refreshSession` (Bearer refresh JWT, both tokens
//!   rotate) and the request sent again once; when the refresh fails the
//!   session is created again from the app password. A refused app password
//!   (`401 AuthenticationRequired`) is asked again from the credentials once,
//!   then the account needs an operator.
//! - **Where**: a configured `base_url` is the account's PDS and gets every
//!   call (self-hosted PDS, test servers). With the default (the `bsky.social`
//!   entryway), calls after the session go to the PDS named in the session's
//!   DID document (`#atproto_pds`), as atrium's `get_endpoint` does.
//! - **Records** (§2, §6): posts are created with
//!   `com.atproto.repo.createRecord` and a record key we choose: a TID derived
//!   from the occurrence id ([`record::KeyBase`]), saved in the progress
//!   before the first attempt. A retry sends the same key, so it cannot make a
//!   second post: the PDS refuses a second record at that key (HTTP 500 or an
//!   "already exists" 400, depending on the version), and we then find ours
//!   with `com.atproto.repo.getRecord` and adopt it. Hence
//!   [`Idempotency::Keyed`]. Each thread reply and the first comment have
//!   their own derived key and are checkpointed one by one.
//! - **Media** (§3.1): images go through `com.atproto.repo.uploadBlob`
//!   (streamed from disk), at most 4 per post, each at most 1,000,000 bytes
//!   (the limit older PDS and AppView versions still enforce), with alt text
//!   and `aspectRatio`. A video (one per post, MP4, at most 300 MB) goes
//!   through Bluesky's video service (§3.2, [`Bluesky`]'s `video`), whose
//!   processed blob is embedded as `app.bsky.embed.video`.
//! - **Rich text** (§2.2): links, hashtags and mentions become facets with
//!   UTF-8 byte offsets; mentions are resolved with
//!   `com.atproto.identity.resolveHandle` (an unknown handle stays plain text).
//!   A post without media gets a link card (`app.bsky.embed.external`) of its
//!   first link ([`card`]): the post's `card` from the campaign file, else the
//!   page's Open Graph title and description, else none; never the post's
//!   own text again.
//! - **Errors** (§5): `{"error","message"}` bodies; 429 waits until
//!   `RateLimit-Reset` (or `Retry-After`), and the `RateLimit-*` headers are
//!   remembered so that a spent budget waits instead of calling; 413 names
//!   the file; 5xx and network faults retry (every request here is keyed or
//!   read-only).
//!
//! The client is split by what it talks to: `xrpc` (one request, its answer
//! and what a failed answer means), `session` (sessions and the app
//! password), `media` (image blobs), `video` (the video service),
//! `mentions` (handles to DIDs for the facets), `records` (creating a post
//! at our key, or adopting it), and `publish` (the post, its thread and its
//! first comment, in that order). [`record`] holds the pure pieces.

use async_trait::async_trait;

use super::common::{self, RateLimits};
use super::{Checkpoint, Idempotency, Outcome, Platform, PlatformDeps, Progress, PublishJob};
use crate::config::PlatformKind;

pub mod card;
mod media;
mod mentions;
mod publish;
pub mod record;
mod records;
mod session;
mod video;
mod xrpc;

use self::session::Session;
use self::xrpc::Fault;

/// The largest image blob berrah sends (bytes): the limit of older PDS and
/// AppView versions; the newest lexicon allows 2,000,000.
pub const MAX_IMAGE_BYTES: u64 = 1_000_000;
/// Images per post (`app.bsky.embed.images`).
pub const MAX_IMAGES: usize = 4;
/// The largest video (`app.bsky.embed.video` lexicon, "formerly limited to 100mb").
pub const MAX_VIDEO_BYTES: u64 = 300_000_000;
/// Bluesky's video service (`video_service` account option to change it).
pub const VIDEO_SERVICE: &str = "https://video.bsky.app";
/// How long one attempt waits for the video service before retrying later
/// (the job id is kept, so the next attempt resumes polling).
const VIDEO_WAIT: std::time::Duration = std::time::Duration::from_secs(300);
/// Failed processing jobs of one video before the post fails.
const VIDEO_MAX_FAILURES: u32 = 3;
/// The collection of posts.
pub const POST_COLLECTION: &str = "app.bsky.feed.post";

/// Keys of [`Progress::extra`] used by this client.
const EXTRA_RKEY: &str = "bluesky.rkey";
/// The video service's job id of a video being processed.
const EXTRA_VIDEO_JOB: &str = "bluesky.video_job";
/// How many processing jobs of the video failed.
const EXTRA_VIDEO_FAILURES: &str = "bluesky.video_failures";
fn extra_cid(part: u64) -> String {
    format!("bluesky.cid.{part}")
}

/// Builds the client of one Bluesky account.
pub fn build(deps: PlatformDeps) -> Box<dyn Platform> {
    Box::new(Bluesky::new(deps))
}

/// The Bluesky client of one account.
pub struct Bluesky {
    deps: PlatformDeps,
    /// The configured host (`base_url`), without a trailing slash.
    base: String,
    /// Whether to send calls to the PDS of the session's DID document.
    follow_did_document: bool,
    session: tokio::sync::Mutex<Option<Session>>,
    limits: RateLimits,
}

impl Bluesky {
    /// A client for `deps.account`.
    pub fn new(deps: PlatformDeps) -> Bluesky {
        let configured = deps.account.base_url.is_some();
        let base = deps
            .account
            .base_url()
            .unwrap_or("https://bsky.social")
            .trim_end_matches('/')
            .to_string();
        Bluesky {
            deps,
            base,
            follow_did_document: !configured,
            session: tokio::sync::Mutex::new(None),
            limits: RateLimits::default(),
        }
    }

    fn now(&self) -> jiff::Timestamp {
        self.deps.clock.now()
    }
}

async fn save(checkpoint: &dyn Checkpoint, progress: &Progress) -> Result<(), Fault> {
    checkpoint.save(progress).await.map_err(|e| {
        Fault::Outcome(Outcome::Retry {
            at: None,
            reason: e.to_string(),
        })
    })
}

#[async_trait]
impl Platform for Bluesky {
    fn kind(&self) -> PlatformKind {
        PlatformKind::Bluesky
    }

    fn idempotency(&self) -> Idempotency {
        Idempotency::Keyed
    }

    async fn publish(&self, job: &PublishJob, checkpoint: &dyn Checkpoint) -> Outcome {
        match self.publish_inner(job, checkpoint).await {
            Ok(o) => o,
            Err(Fault::Outcome(o)) => o,
            // Every request here is keyed or read-only: safe to send again.
            Err(Fault::Transport(e)) => common::transport_outcome("calling Bluesky", &e, true),
        }
    }
}

/// Names the account, never a token.
impl std::fmt::Debug for Bluesky {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bluesky")
            .field("account", &self.deps.account_id)
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// Answers for the tests of each part of the client.
#[cfg(test)]
mod fixtures {
    use reqwest::StatusCode;
    use reqwest::header::HeaderMap;
    use serde_json::Value;

    use super::xrpc::Answer;

    pub(super) fn answer(status: u16, body: Value) -> Answer {
        Answer {
            status: StatusCode::from_u16(status).unwrap(),
            headers: HeaderMap::new(),
            text: body.to_string(),
            json: body,
        }
    }

    pub(super) fn now() -> jiff::Timestamp {
        "2026-12-18T09:00:00Z".parse().unwrap()
    }
}
