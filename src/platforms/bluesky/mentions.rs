//! Mentions (§2.2 of the notes): `@handle`s resolved to DIDs with
//! `resolveHandle`, for the facets [`record`](super::record) builds; an
//! unknown handle stays plain text.

use std::collections::BTreeMap;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::Bluesky;
use super::xrpc::{Fault, ReqBody};

impl Bluesky {
    /// Resolves `@handle` mentions to DIDs (`None`: unknown, stays plain text).
    pub(super) async fn resolve_handles(
        &self,
        handles: &[String],
    ) -> Result<BTreeMap<String, Option<String>>, Fault> {
        let mut out = BTreeMap::new();
        for h in handles {
            if out.contains_key(h) {
                continue;
            }
            let (answer, _) = self
                .authed(
                    Method::GET,
                    "com.atproto.identity.resolveHandle",
                    &[("handle", h.as_str())],
                    &ReqBody::None,
                )
                .await?;
            let did = if answer.ok() {
                answer
                    .json
                    .get("did")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            } else if answer.status == StatusCode::BAD_REQUEST {
                tracing::info!(handle = %h, "Bluesky does not know this handle; the mention stays plain text");
                None
            } else {
                return Err(Fault::Outcome(self.classify(
                    &format!("resolving the mention @{h}"),
                    &answer,
                    None,
                )));
            };
            out.insert(h.clone(), did);
        }
        Ok(out)
    }
}
