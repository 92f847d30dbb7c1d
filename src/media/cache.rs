//! The upload cache backed by the store: uploads survive restarts and are
//! shared by every instance, so a retry or a second post never uploads the
//! same file twice to the same account.

use std::sync::Arc;

use async_trait::async_trait;

use super::UploadCache;
use crate::store::Store;
use crate::time::Clock;

/// [`UploadCache`] over the `media_uploads` table.
///
/// The trait cannot fail: a database error is logged and treated as a cache
/// miss (the file is uploaded again, which is safe) or a lost remember.
pub struct StoreUploadCache {
    store: Store,
    clock: Arc<dyn Clock>,
}

impl StoreUploadCache {
    /// `clock` decides when a cached upload has expired.
    pub fn new(store: Store, clock: Arc<dyn Clock>) -> StoreUploadCache {
        StoreUploadCache { store, clock }
    }
}

#[async_trait]
impl UploadCache for StoreUploadCache {
    async fn get(&self, account: &str, sha256: &str) -> Option<String> {
        match self
            .store
            .media_upload_get(account, sha256, self.clock.now())
            .await
        {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(error = %e, account, "upload cache unavailable; uploading again");
                None
            }
        }
    }

    async fn put(
        &self,
        account: &str,
        sha256: &str,
        remote_id: &str,
        expires_at: Option<jiff::Timestamp>,
    ) {
        if let Err(e) = self
            .store
            .media_upload_put(account, sha256, remote_id, expires_at)
            .await
        {
            tracing::warn!(error = %e, account, "could not remember an upload");
        }
    }

    async fn take(&self, account: &str, sha256: &str) -> Option<String> {
        match self
            .store
            .media_upload_take(account, sha256, self.clock.now())
            .await
        {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(error = %e, account, "upload cache unavailable; uploading again");
                None
            }
        }
    }
}
