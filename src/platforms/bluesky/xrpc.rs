//! One XRPC call: the request (JSON, or a file streamed from disk), its
//! answer (`{"error","message"}` bodies), and the outcome a failed answer
//! means (§5 of the notes).

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::Bluesky;
use super::media::Prepared;
use crate::platforms::{Outcome, common};

/// An answer of an XRPC call.
#[derive(Debug)]
pub(super) struct Answer {
    pub(super) status: StatusCode,
    pub(super) headers: HeaderMap,
    pub(super) json: Value,
    pub(super) text: String,
}

impl Answer {
    pub(super) fn ok(&self) -> bool {
        self.status.is_success()
    }

    /// The XRPC error name (`ExpiredToken`, `InvalidRequest`, ...).
    pub(super) fn error(&self) -> &str {
        self.json.get("error").and_then(Value::as_str).unwrap_or("")
    }

    /// The platform's own message, or an excerpt of the body.
    pub(super) fn message(&self) -> String {
        match self.json.get("message").and_then(Value::as_str) {
            Some(m) => m.to_string(),
            None if !self.text.trim().is_empty() => common::excerpt(&self.text),
            None => self
                .status
                .canonical_reason()
                .unwrap_or("no message")
                .to_string(),
        }
    }

    /// `HTTP 400 InvalidRequest: message`.
    pub(super) fn describe(&self) -> String {
        let name = self.error();
        if name.is_empty() {
            format!("HTTP {}: {}", self.status.as_u16(), self.message())
        } else {
            format!("HTTP {} {}: {}", self.status.as_u16(), name, self.message())
        }
    }
}

/// What went wrong with a call: a transport fault, or an outcome to return.
pub(super) enum Fault {
    /// A send error, or an answer that could not be read (too large included).
    Transport(crate::http::BodyError),
    Outcome(Outcome),
}

impl From<Outcome> for Fault {
    fn from(o: Outcome) -> Self {
        Fault::Outcome(o)
    }
}

/// The body of a request.
pub(super) enum ReqBody<'a> {
    None,
    Json(&'a Value),
    /// A file streamed from disk, with its type and size.
    File(&'a Prepared),
}

impl Bluesky {
    /// Sends one XRPC request to `host`.
    pub(super) async fn send(
        &self,
        host: &str,
        method: Method,
        nsid: &str,
        query: &[(&str, &str)],
        body: &ReqBody<'_>,
        bearer: Option<&SecretString>,
    ) -> Result<Answer, Fault> {
        let url = format!("{host}/xrpc/{nsid}");
        let mut req = self.deps.http.request(method, &url);
        if !query.is_empty() {
            req = req.query(query);
        }
        if let Some(token) = bearer {
            req = req.header(
                reqwest::header::AUTHORIZATION,
                format!("Bearer {}", token.expose_secret()),
            );
        }
        req = match body {
            ReqBody::None => req,
            ReqBody::Json(v) => req.json(v),
            ReqBody::File(p) => {
                let stream = common::file_body(&p.media);
                req.header(reqwest::header::CONTENT_TYPE, p.mime.as_str())
                    .header(reqwest::header::CONTENT_LENGTH, p.size)
                    .body(stream)
            }
        };
        let resp = req.send().await.map_err(|e| Fault::Transport(e.into()))?;
        let status = resp.status();
        let headers = resp.headers().clone();
        self.limits.observe(&headers, self.now());
        let text = crate::http::read_answer(resp, crate::http::JSON_BODY_LIMIT)
            .await
            .map_err(Fault::Transport)?;
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(Answer {
            status,
            headers,
            json,
            text,
        })
    }

    /// Turns a failed answer into an outcome. `file` names the media file
    /// of an upload, for an actionable message.
    pub(super) fn classify(&self, what: &str, answer: &Answer, file: Option<&Prepared>) -> Outcome {
        classify_answer(what, answer, file, self.now())
    }
}

/// The outcome of a failed answer (pure: tested).
fn classify_answer(
    what: &str,
    answer: &Answer,
    file: Option<&Prepared>,
    now: jiff::Timestamp,
) -> Outcome {
    let described = answer.describe();
    match answer.status.as_u16() {
        413 => Outcome::Failed {
            reason: match file {
                Some(f) => format!(
                    "{what}: Bluesky refused `{}` ({} bytes) as too large ({described}): make it smaller",
                    f.file, f.size
                ),
                None => format!("{what}: Bluesky refused the request as too large ({described})"),
            },
        },
        415 => Outcome::Failed {
            reason: format!(
                "{what}: Bluesky does not accept this type ({}): {described}",
                file.map(|f| f.mime.as_str()).unwrap_or("unknown")
            ),
        },
        401 => Outcome::NeedsOperator {
            reason: format!(
                "{what}: {described} (the session was refused: check the app password, then `berrah accounts login`)"
            ),
        },
        400 if matches!(answer.error(), "ExpiredToken" | "InvalidToken") => {
            Outcome::NeedsOperator {
                reason: format!("{what}: {described} (the session was refused)"),
            }
        }
        408 | 425 | 429 | 500..=599 => Outcome::Retry {
            at: common::retry_at(&answer.headers, now),
            reason: format!("{what}: {described}"),
        },
        _ => Outcome::Failed {
            reason: match file {
                Some(f) => format!("{what}: Bluesky refused `{}`: {described}", f.file),
                None => format!("{what}: Bluesky refused it: {described}"),
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{answer, now};
    use super::*;
    use reqwest::header::HeaderValue;
    use serde_json::json;

    #[test]
    fn answers_become_outcomes() {
        let mut limited = answer(
            429,
            json!({"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}),
        );
        limited
            .headers
            .insert("ratelimit-reset", HeaderValue::from_static("1797584700"));
        assert_eq!(
            classify_answer("x", &limited, None, now()),
            Outcome::Retry {
                at: jiff::Timestamp::from_second(1797584700).ok(),
                reason: "x: HTTP 429 RateLimitExceeded: Rate Limit Exceeded".into()
            }
        );
        let file = Prepared {
            media: common::test_media_file("/c/photo.jpg", "image/jpeg", 6_000_000),
            file: "media/photo.jpg".into(),
            mime: "image/jpeg".into(),
            size: 6_000_000,
            sha256: "00".into(),
            alt: String::new(),
            dims: None,
            video: false,
        };
        let big = answer(
            413,
            json!({"error": "PayloadTooLarge", "message": "request entity too large"}),
        );
        match classify_answer("uploading", &big, Some(&file), now()) {
            Outcome::Failed { reason } => assert!(reason.contains("`media/photo.jpg`"), "{reason}"),
            o => panic!("{o:?}"),
        }
        let down = answer(502, json!({"error": "UpstreamFailure", "message": "x"}));
        assert!(matches!(
            classify_answer("x", &down, None, now()),
            Outcome::Retry { .. }
        ));
        let bad = answer(
            400,
            json!({"error": "InvalidRequest", "message": "Invalid app.bsky.feed.post record"}),
        );
        match classify_answer("x", &bad, None, now()) {
            Outcome::Failed { reason } => {
                assert!(reason.contains("Invalid app.bsky.feed.post record"))
            }
            o => panic!("{o:?}"),
        }
        let html = answer(503, Value::Null);
        assert!(matches!(
            classify_answer("x", &html, None, now()),
            Outcome::Retry { .. }
        ));
    }
}
