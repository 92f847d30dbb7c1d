//! Media: opening a file beneath its campaign's folder for publishing, once
//! and regular files only ([`open`]), sniffing and measuring files
//! ([`probe`]) and remembering what was uploaded per account
//! ([`UploadCache`]) so a retry or a second post does not upload the same
//! file again.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

pub mod cache;
pub mod open;
pub mod probe;

/// Media already uploaded, per account and content hash (SHA-256, hex).
#[async_trait]
pub trait UploadCache: Send + Sync {
    /// The platform's media id for this file on this account, if still usable.
    async fn get(&self, account: &str, sha256: &str) -> Option<String>;
    /// Remembers an upload (`expires_at`: when the platform forgets it, if it does).
    async fn put(
        &self,
        account: &str,
        sha256: &str,
        remote_id: &str,
        expires_at: Option<jiff::Timestamp>,
    );
    /// Like [`get`](UploadCache::get), and forgets the upload in the same
    /// step, so that one post only can use it: for platforms where a media
    /// id is attached once (Mastodon).
    async fn take(&self, account: &str, sha256: &str) -> Option<String>;
}

/// An upload cache in memory, for tests and `rehearse`.
#[derive(Default)]
pub struct MemoryUploadCache(Mutex<HashMap<(String, String), String>>);

#[async_trait]
impl UploadCache for MemoryUploadCache {
    async fn get(&self, account: &str, sha256: &str) -> Option<String> {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&(account.to_string(), sha256.to_string())).cloned()
    }

    async fn put(
        &self,
        account: &str,
        sha256: &str,
        remote_id: &str,
        _expires_at: Option<jiff::Timestamp>,
    ) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.insert(
            (account.to_string(), sha256.to_string()),
            remote_id.to_string(),
        );
    }

    async fn take(&self, account: &str, sha256: &str) -> Option<String> {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&(account.to_string(), sha256.to_string()))
    }
}
