//! Sessions (§1 of the notes): `createSession` with the app password,
//! `refreshSession` when the access token expires, a new session when it is
//! refused, and the PDS named in the session's DID document.

use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use super::Bluesky;
use super::xrpc::{Answer, Fault, ReqBody};
use crate::auth::AuthError;
use crate::platforms::Outcome;

/// A session: the account's DID and handle, its tokens, the PDS to call.
#[derive(Clone)]
pub(super) struct Session {
    pub(super) did: String,
    pub(super) handle: String,
    pub(super) access: SecretString,
    pub(super) refresh: SecretString,
    pub(super) pds: String,
}

impl Bluesky {
    /// Sends a request with the session's access token, refreshing or
    /// recreating the session once when the PDS says the token is expired
    /// or not valid.
    pub(super) async fn authed(
        &self,
        method: Method,
        nsid: &str,
        query: &[(&str, &str)],
        body: &ReqBody<'_>,
    ) -> Result<(Answer, Session), Fault> {
        let session = self.current_session().await?;
        let answer = self
            .send(
                &session.pds,
                method.clone(),
                nsid,
                query,
                body,
                Some(&session.access),
            )
            .await?;
        let renew = match auth_problem(&answer) {
            None => return Ok((answer, session)),
            Some(r) => r,
        };
        let session = self.renew(&session, renew).await?;
        let answer = self
            .send(
                &session.pds,
                method,
                nsid,
                query,
                body,
                Some(&session.access),
            )
            .await?;
        if auth_problem(&answer).is_some() {
            return Err(Fault::Outcome(Outcome::NeedsOperator {
                reason: format!(
                    "Bluesky refused a fresh session of `{}` ({}): check the account and its app password, then `berrah accounts login {}`",
                    session.handle,
                    answer.describe(),
                    self.deps.account_id
                ),
            }));
        }
        Ok((answer, session))
    }

    /// The session in memory, created first if there is none.
    pub(super) async fn current_session(&self) -> Result<Session, Fault> {
        let mut guard = self.session.lock().await;
        if let Some(s) = guard.as_ref() {
            return Ok(s.clone());
        }
        let s = self.login().await?;
        *guard = Some(s.clone());
        Ok(s)
    }

    /// Replaces a session the PDS refused: refreshed (or recreated when
    /// `how` says so or the refresh fails), unless another task already did.
    async fn renew(&self, stale: &Session, how: Renew) -> Result<Session, Fault> {
        let mut guard = self.session.lock().await;
        if let Some(current) = guard.as_ref()
            && current.access.expose_secret() != stale.access.expose_secret()
        {
            return Ok(current.clone());
        }
        let fresh = match how {
            Renew::Refresh => match self.refresh(stale).await? {
                Some(s) => s,
                None => self.login().await?,
            },
            Renew::Login => self.login().await?,
        };
        *guard = Some(fresh.clone());
        Ok(fresh)
    }

    /// `refreshSession`: `None` when the refresh token is no longer accepted.
    async fn refresh(&self, stale: &Session) -> Result<Option<Session>, Fault> {
        let answer = self
            .send(
                &stale.pds,
                Method::POST,
                "com.atproto.server.refreshSession",
                &[],
                &ReqBody::None,
                Some(&stale.refresh),
            )
            .await?;
        if answer.ok() {
            return self.parse_session(&answer).map(Some);
        }
        match answer.status.as_u16() {
            429 | 500..=599 => Err(Fault::Outcome(self.classify(
                "refreshing the session",
                &answer,
                None,
            ))),
            _ => {
                tracing::info!(
                    account = %self.deps.account_id,
                    answer = %answer.describe(),
                    "Bluesky refresh token refused; creating a new session"
                );
                Ok(None)
            }
        }
    }

    /// `createSession` with the account's handle and app password.
    async fn login(&self) -> Result<Session, Fault> {
        let account = &self.deps.account_id;
        let Some(handle) = self
            .deps
            .account
            .handle
            .as_deref()
            .filter(|h| !h.is_empty())
        else {
            return Err(Fault::Outcome(Outcome::NeedsOperator {
                reason: format!(
                    "account `{account}` has no `handle` in berrah.toml: set it to the Bluesky handle (e.g. `alice.bsky.social`)"
                ),
            }));
        };
        let mut secret = self.deps.credentials.secret().await.map_err(auth_outcome)?;
        let mut renewed = false;
        loop {
            let body = json!({"identifier": handle, "password": secret.expose_secret()});
            let answer = self
                .send(
                    &self.base,
                    Method::POST,
                    "com.atproto.server.createSession",
                    &[],
                    &ReqBody::Json(&body),
                    None,
                )
                .await?;
            if answer.ok() {
                return self.parse_session(&answer);
            }
            if answer.status == StatusCode::UNAUTHORIZED
                && answer.error() == "AuthenticationRequired"
                && !renewed
            {
                renewed = true;
                let next = self
                    .deps
                    .credentials
                    .renew_rejected(&secret)
                    .await
                    .map_err(auth_outcome)?;
                if next.expose_secret() != secret.expose_secret() {
                    secret = next;
                    continue;
                }
            }
            return Err(Fault::Outcome(
                match (answer.status.as_u16(), answer.error()) {
                    (401, "AuthFactorTokenRequired") => Outcome::NeedsOperator {
                        reason: format!(
                            "Bluesky asks for an email code for `{handle}` ({}): give berrah an app password (Settings → Privacy and security → App passwords), not the main password",
                            answer.describe()
                        ),
                    },
                    (401, _) | (400, "AccountTakedown") => Outcome::NeedsOperator {
                        reason: format!(
                            "Bluesky refused the app password of `{handle}` ({}): create a new app password and update account `{account}`'s credentials",
                            answer.describe()
                        ),
                    },
                    _ => self.classify("creating a Bluesky session", &answer, None),
                },
            ));
        }
    }

    fn parse_session(&self, answer: &Answer) -> Result<Session, Fault> {
        let field = |k: &str| {
            answer
                .json
                .get(k)
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let (Some(did), Some(handle), Some(access), Some(refresh)) = (
            field("did"),
            field("handle"),
            field("accessJwt"),
            field("refreshJwt"),
        ) else {
            return Err(Fault::Outcome(Outcome::Retry {
                at: None,
                reason: format!(
                    "Bluesky answered a session without did, handle or tokens (HTTP {})",
                    answer.status.as_u16()
                ),
            }));
        };
        let pds = if self.follow_did_document {
            pds_endpoint(answer.json.get("didDoc")).unwrap_or_else(|| self.base.clone())
        } else {
            self.base.clone()
        };
        Ok(Session {
            did,
            handle,
            access: SecretString::from(access),
            refresh: SecretString::from(refresh),
            pds,
        })
    }
}

/// How to replace a refused session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Renew {
    Refresh,
    Login,
}

/// Whether an answer says the access token must be renewed, and how:
/// `400 ExpiredToken` (refresh), `400 InvalidToken` or `401` without a
/// takedown (a new session).
fn auth_problem(a: &Answer) -> Option<Renew> {
    match (a.status.as_u16(), a.error()) {
        (400, "ExpiredToken") => Some(Renew::Refresh),
        (400, "InvalidToken") => Some(Renew::Login),
        (401, "AccountTakedown") => None,
        (401, _) => Some(Renew::Login),
        _ => None,
    }
}

/// The `#atproto_pds` service endpoint of a DID document.
fn pds_endpoint(did_doc: Option<&Value>) -> Option<String> {
    did_doc?
        .get("service")?
        .as_array()?
        .iter()
        .find(|s| {
            s.get("id")
                .and_then(Value::as_str)
                .is_some_and(|id| id == "#atproto_pds" || id.ends_with("#atproto_pds"))
        })?
        .get("serviceEndpoint")?
        .as_str()
        .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
        .map(|u| u.trim_end_matches('/').to_string())
}

fn auth_outcome(e: AuthError) -> Fault {
    Fault::Outcome(match e {
        AuthError::Transient { .. } => Outcome::Retry {
            at: None,
            reason: e.to_string(),
        },
        AuthError::NeedsLogin { .. } | AuthError::Config { .. } => Outcome::NeedsOperator {
            reason: e.to_string(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::answer;
    use super::*;

    #[test]
    fn auth_problems_are_told_apart() {
        let expired = answer(
            400,
            json!({"error": "ExpiredToken", "message": "Token has expired"}),
        );
        assert_eq!(auth_problem(&expired), Some(Renew::Refresh));
        let invalid = answer(
            400,
            json!({"error": "InvalidToken", "message": "Bad token"}),
        );
        assert_eq!(auth_problem(&invalid), Some(Renew::Login));
        let missing = answer(
            401,
            json!({"error": "AuthMissing", "message": "Authentication Required"}),
        );
        assert_eq!(auth_problem(&missing), Some(Renew::Login));
        let takedown = answer(401, json!({"error": "AccountTakedown", "message": "x"}));
        assert_eq!(auth_problem(&takedown), None);
        let other = answer(400, json!({"error": "InvalidRequest", "message": "x"}));
        assert_eq!(auth_problem(&other), None);
    }

    #[test]
    fn the_pds_comes_from_the_did_document() {
        let doc = json!({"id": "did:plc:x", "service": [
            {"id": "#other", "type": "X", "serviceEndpoint": "https://nope"},
            {"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": "https://amanita.us-east.host.bsky.network/"}
        ]});
        assert_eq!(
            pds_endpoint(Some(&doc)).as_deref(),
            Some("https://amanita.us-east.host.bsky.network")
        );
        assert_eq!(pds_endpoint(Some(&json!({"service": "bad"}))), None);
        assert_eq!(pds_endpoint(None), None);
    }
}
