//! Post records (§2, §6 of the notes): `createRecord` at the key we chose,
//! and `getRecord` to adopt the post an earlier attempt already created at
//! that key.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::record::{self, StrongRef};
use super::xrpc::{Answer, Fault, ReqBody};
use super::{Bluesky, POST_COLLECTION, extra_cid, save};
use crate::platforms::{Checkpoint, Outcome, Progress, common};

impl Bluesky {
    /// `getRecord` of one of our posts: `None` when there is none at `rkey`.
    async fn get_post(&self, rkey: &str) -> Result<Option<StrongRef>, Fault> {
        let did = self.current_session().await?.did;
        let (answer, _) = self
            .authed(
                Method::GET,
                "com.atproto.repo.getRecord",
                &[
                    ("repo", did.as_str()),
                    ("collection", POST_COLLECTION),
                    ("rkey", rkey),
                ],
                &ReqBody::None,
            )
            .await?;
        if answer.ok() {
            return Ok(strong_ref(&answer.json));
        }
        if answer.status == StatusCode::BAD_REQUEST
            && matches!(answer.error(), "RecordNotFound" | "InvalidRequest")
        {
            return Ok(None);
        }
        Err(Fault::Outcome(self.classify(
            "reading a post back from Bluesky",
            &answer,
            None,
        )))
    }

    /// `createRecord` of a post at `rkey`, adopting the record already at
    /// that key when an earlier attempt created it.
    pub(super) async fn create_post(
        &self,
        rkey: &str,
        record: &Value,
        what: &str,
    ) -> Result<Created, Fault> {
        let did = self.current_session().await?.did;
        let body = json!({
            "repo": did,
            "collection": POST_COLLECTION,
            "rkey": rkey,
            "record": record,
        });
        let result = self
            .authed(
                Method::POST,
                "com.atproto.repo.createRecord",
                &[],
                &ReqBody::Json(&body),
            )
            .await;
        let answer = match result {
            Ok((answer, _)) => answer,
            Err(Fault::Transport(e)) => {
                // Keyed: sending it again cannot duplicate.
                return Err(Fault::Outcome(common::transport_outcome(what, &e, true)));
            }
            Err(f) => return Err(f),
        };
        if answer.ok() {
            return match strong_ref(&answer.json) {
                Some(r) => Ok(Created::Ref(r)),
                None => match self.get_post(rkey).await? {
                    Some(r) => Ok(Created::Ref(r)),
                    None => Err(Fault::Outcome(Outcome::Retry {
                        at: None,
                        reason: format!(
                            "{what}: Bluesky answered without uri/cid: {}",
                            common::excerpt(&answer.text)
                        ),
                    })),
                },
            };
        }
        if answer.error() == "BlobNotFound" {
            return Ok(Created::BlobNotFound(answer.message()));
        }
        if may_already_exist(&answer)
            && let Some(r) = self.get_post(rkey).await?
        {
            tracing::info!(
                account = %self.deps.account_id,
                rkey,
                "the Bluesky post was already created by an earlier attempt; adopting it"
            );
            return Ok(Created::Ref(r));
        }
        Err(Fault::Outcome(self.classify(what, &answer, None)))
    }

    /// The strong reference of a part already published, from the progress
    /// (its cid saved beside it) or read back from the PDS.
    pub(super) async fn known_ref(
        &self,
        uri: &str,
        part: u64,
        progress: &mut Progress,
        checkpoint: &dyn Checkpoint,
    ) -> Result<StrongRef, Fault> {
        if let Some(cid) = progress.extra.get(&extra_cid(part)) {
            return Ok(StrongRef {
                uri: uri.to_string(),
                cid: cid.clone(),
            });
        }
        let rkey = record::rkey_of(uri).unwrap_or_default().to_string();
        match self.get_post(&rkey).await? {
            Some(r) => {
                progress.extra.insert(extra_cid(part), r.cid.clone());
                save(checkpoint, progress).await?;
                Ok(r)
            }
            None => Err(Fault::Outcome(Outcome::Failed {
                reason: format!(
                    "the Bluesky post {uri} recorded as published is gone (deleted?): the rest of its thread cannot be attached to it"
                ),
            })),
        }
    }
}

/// What `createRecord` achieved.
pub(super) enum Created {
    Ref(StrongRef),
    /// The PDS no longer has an uploaded blob (unreferenced blobs expire).
    BlobNotFound(String),
}

/// Whether a failed `createRecord` may mean a record is already at the key
/// (an earlier attempt): the reference PDS answers 500 ("There is already a
/// value at key", indigo#873) or a 400 naming the conflict, depending on the
/// version.
fn may_already_exist(a: &Answer) -> bool {
    let msg = a.message().to_lowercase();
    a.status.is_server_error()
        || a.error() == "InvalidSwap"
        || msg.contains("already exist")
        || msg.contains("already a value")
}

/// `{uri, cid}` of a createRecord or getRecord answer.
fn strong_ref(v: &Value) -> Option<StrongRef> {
    Some(StrongRef {
        uri: v.get("uri")?.as_str()?.to_string(),
        cid: v.get("cid")?.as_str()?.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::answer;
    use super::*;
    use serde_json::json;

    #[test]
    fn duplicates_are_recognised() {
        assert!(may_already_exist(&answer(
            500,
            json!({"error": "InternalServerError", "message": "Internal Server Error"})
        )));
        assert!(may_already_exist(&answer(
            400,
            json!({"error": "InvalidRequest", "message": "Record already exists"})
        )));
        assert!(!may_already_exist(&answer(
            400,
            json!({"error": "InvalidRequest", "message": "Invalid record"})
        )));
    }
}
