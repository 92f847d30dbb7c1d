//! Sending one queued [`Message`] to where its rule says: Slack, Microsoft
//! Teams (Workflows) and Discord incoming webhooks, berrah's signed JSON
//! webhook, or e-mail over SMTP (lettre). The bodies are pure functions;
//! [`send`] resolves the rule's secrets at each use (a rotated variable or
//! file is picked up without a restart), posts with a bounded timeout and
//! says whether and when to try again. No error it returns carries a
//! secret: a webhook URL is never shown (reqwest's errors lose their URL,
//! answers are quoted cut and without it), nor the SMTP password.

use std::path::Path;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use super::config::{Rule, SecretRef, Smtp, SmtpSecurity, Target};
use super::group::{Message, cut};
use crate::auth::Credentials;
use crate::auth::sources::{EnvCredentials, FileCredentials, Source};
use crate::platforms::webhook::signature;

/// How long one delivery may take (connect, send, answer).
pub const SEND_TIMEOUT: Duration = Duration::from_secs(20);

/// Discord's `content` limit, in UTF-16 code units
/// (<https://discord.com/developers/docs/resources/webhook#execute-webhook>).
const DISCORD_CONTENT_MAX: usize = 2000;
/// Slack's limit of a message's `text` is 40 000 characters; alerts stay far below.
const SLACK_TEXT_MAX: usize = 38_000;

/// The headers of berrah's generic webhook (`src/platforms/webhook.rs`).
const DELIVERY_HEADER: &str = "X-Berrah-Delivery";
const TIMESTAMP_HEADER: &str = "X-Berrah-Timestamp";
const SIGNATURE_HEADER: &str = "X-Berrah-Signature";

/// Why a delivery did not happen, in words safe to log and store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{why}")]
pub struct NotSent {
    pub why: String,
    /// What the receiver asked for (HTTP 429 `Retry-After`, Discord's `retry_after`).
    pub retry_after: Option<SignedDuration>,
}

impl NotSent {
    fn new(why: impl Into<String>) -> NotSent {
        NotSent {
            why: why.into(),
            retry_after: None,
        }
    }
}

/// The secrets a rule uses now (to post, to sign, to log in), resolved from
/// their sources; relative `file:` paths are relative to `base_dir`.
pub struct Secrets {
    pub url: Option<SecretString>,
    pub key: Option<SecretString>,
    pub password: Option<SecretString>,
}

impl Secrets {
    /// Their values, to be hidden from whatever is sent or logged.
    pub fn values(&self) -> Vec<String> {
        [&self.url, &self.key, &self.password]
            .into_iter()
            .flatten()
            .map(|s| s.expose_secret().to_string())
            .collect()
    }
}

async fn resolve(rule: &str, source: &Source, base_dir: &Path) -> Result<SecretString, NotSent> {
    let creds: Box<dyn Credentials> = match source {
        Source::Env(var) => Box::new(EnvCredentials {
            account: format!("alert {rule}"),
            var: var.clone(),
        }),
        Source::File(p) => Box::new(FileCredentials {
            account: format!("alert {rule}"),
            path: base_dir.join(p),
        }),
        Source::Store => return Err(NotSent::new("alerts take secrets from env: or file: only")),
    };
    // The error names the variable or file, never a value.
    creds
        .secret()
        .await
        .map_err(|e| NotSent::new(e.to_string()))
}

/// Resolves the secrets of `rule`.
pub async fn secrets(rule: &Rule, base_dir: &Path) -> Result<Secrets, NotSent> {
    let url = match &rule.url {
        Some(SecretRef::Source(s)) => Some(resolve(&rule.name, s, base_dir).await?),
        Some(SecretRef::Plain(_)) | None => None,
    };
    let key = match &rule.secret {
        Some(s) => Some(resolve(&rule.name, s, base_dir).await?),
        None => None,
    };
    let password = match rule.smtp.as_ref().and_then(|s| s.password.as_ref()) {
        Some(s) => Some(resolve(&rule.name, s, base_dir).await?),
        None => None,
    };
    Ok(Secrets { url, key, password })
}

/// Slack's mrkdwn needs `&`, `<` and `>` escaped.
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Slack: `{"text": ...}` in mrkdwn, the title in bold.
pub fn slack_body(m: &Message) -> Value {
    let mut text = format!("*{}*", slack_escape(&m.title));
    for l in &m.lines {
        text.push_str("\n• ");
        text.push_str(&slack_escape(l));
    }
    json!({ "text": cut(&text, SLACK_TEXT_MAX) })
}

/// Microsoft Teams (a Workflows "when a Teams webhook request is received"
/// flow, or a legacy incoming webhook): a message with one Adaptive Card.
pub fn teams_body(m: &Message) -> Value {
    let mut body = vec![json!({
        "type": "TextBlock", "text": m.title, "weight": "Bolder", "size": "Medium", "wrap": true,
    })];
    for l in &m.lines {
        body.push(json!({"type": "TextBlock", "text": format!("- {l}"), "wrap": true}));
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": body,
            },
        }],
    })
}

/// Discord: `{"content": ...}` within 2000 UTF-16 units (whole lines, then
/// a note that more is in `berrah status`), mentions disabled.
pub fn discord_body(m: &Message) -> Value {
    let mut content = format!("**{}**", m.title);
    let more = "\n… more in `berrah status`";
    for l in &m.lines {
        let line = format!("\n- {l}");
        let units = |s: &str| s.encode_utf16().count();
        if units(&content) + units(&line) + units(more) > DISCORD_CONTENT_MAX {
            content.push_str(more);
            break;
        }
        content.push_str(&line);
    }
    if content.encode_utf16().count() > DISCORD_CONTENT_MAX {
        content = content.chars().take(DISCORD_CONTENT_MAX / 2).collect();
    }
    json!({"content": content, "allowed_mentions": {"parse": []}})
}

/// berrah's generic webhook: the message as JSON, signed like the webhook
/// platform's posts (`X-Berrah-Signature`).
pub fn webhook_body(m: &Message, delivery: &str, sent_at: Timestamp) -> Value {
    json!({
        "type": "alert",
        "delivery": delivery,
        "rule": m.rule,
        "account": m.account,
        "sent_at": sent_at,
        "title": m.title,
        "text": m.text(),
        "lines": m.lines,
        "counts": m.counts,
    })
}

/// The e-mail's plain text.
pub fn email_text(m: &Message, delivery: &str) -> String {
    let mut out = String::new();
    for l in &m.lines {
        out.push_str("- ");
        out.push_str(l);
        out.push_str("\n\n");
    }
    out.push_str(&format!(
        "-- \nSent by berrah's alert rule `{}` (delivery {delivery}).\n",
        m.rule
    ));
    out
}

/// Sends `m` (already redacted) as `rule` says, with `secrets` resolved.
pub async fn send(
    http: &reqwest::Client,
    rule: &Rule,
    secrets: &Secrets,
    m: &Message,
    delivery: &str,
    now: Timestamp,
) -> Result<(), NotSent> {
    let hide = secrets.values();
    let result = match rule.to {
        Target::Email => match &rule.smtp {
            Some(smtp) => send_email(smtp, secrets, m, delivery).await,
            None => Err(NotSent::new("the rule has no SMTP settings")),
        },
        _ => post(http, rule, secrets, m, delivery, now).await,
    };
    // Whatever an error quotes (a receiver's answer, a server's reply),
    // never one of the rule's secrets.
    result.map_err(|mut e| {
        for s in hide.iter().filter(|s| s.len() >= 4) {
            e.why = e.why.replace(s.as_str(), "***");
        }
        e
    })
}

async fn post(
    http: &reqwest::Client,
    rule: &Rule,
    secrets: &Secrets,
    m: &Message,
    delivery: &str,
    now: Timestamp,
) -> Result<(), NotSent> {
    let service = match rule.to {
        Target::Slack => "Slack",
        Target::Teams => "Teams",
        Target::Discord => "Discord",
        _ => "the webhook",
    };
    let address = match (&rule.url, &secrets.url) {
        (_, Some(secret)) => secret.expose_secret().to_string(),
        (Some(SecretRef::Plain(u)), None) => u.clone(),
        _ => return Err(NotSent::new("the rule has no `url`")),
    };
    let Ok(mut url) = url::Url::parse(address.trim()) else {
        return Err(NotSent::new(format!(
            "the {service} URL of the rule's `url` source is not a URL"
        )));
    };
    if crate::http::cleartext(&url) {
        return Err(NotSent::new(format!(
            "the {service} URL starts with `http://`, which would send it and the alert in clear: \
             use its `https://` URL (plain http is only for this machine)"
        )));
    }
    let body = match rule.to {
        Target::Slack => slack_body(m),
        Target::Teams => teams_body(m),
        Target::Discord => {
            // `wait=true`: Discord answers with the message (or an error)
            // instead of 204, so that a refusal is seen.
            url.query_pairs_mut().append_pair("wait", "true");
            discord_body(m)
        }
        _ => webhook_body(m, delivery, now),
    };
    let bytes = serde_json::to_vec(&body).map_err(|e| NotSent::new(e.to_string()))?;
    let mut req = http
        .post(url)
        .timeout(SEND_TIMEOUT)
        .header(reqwest::header::CONTENT_TYPE, "application/json");
    if rule.to == Target::Webhook {
        let ts = now.as_second().to_string();
        req = req
            .header(DELIVERY_HEADER, delivery)
            .header(TIMESTAMP_HEADER, &ts);
        if let Some(key) = &secrets.key {
            req = req.header(
                SIGNATURE_HEADER,
                signature(key.expose_secret().as_bytes(), &ts, &bytes),
            );
        }
    }
    let resp = req.body(bytes).send().await.map_err(|e| {
        // `without_url`: the URL is the secret of a chat webhook.
        NotSent::new(format!(
            "could not reach {service}: {}",
            crate::alerts::error_chain(&e.without_url())
        ))
    })?;
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    let header_wait = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok());
    let text = crate::http::read_error_text(resp).await;
    let body_wait = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v.get("retry_after").and_then(Value::as_f64));
    let retry_after = body_wait
        .or(header_wait)
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| SignedDuration::from_millis((s.min(86_400.0) * 1000.0).ceil() as i64));
    let quoted = cut(
        &crate::text::sanitize::for_terminal(text.trim()).replace('\n', " "),
        200,
    );
    Err(NotSent {
        why: format!(
            "{service} answered {}{}",
            status.as_u16(),
            if quoted.is_empty() {
                String::new()
            } else {
                format!(": {quoted}")
            }
        ),
        retry_after,
    })
}

async fn send_email(
    smtp: &Smtp,
    secrets: &Secrets,
    m: &Message,
    delivery: &str,
) -> Result<(), NotSent> {
    use lettre::message::header::ContentType;
    use lettre::transport::smtp::authentication::Credentials as SmtpCredentials;
    use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

    let bad = |what: &str, e: &dyn std::fmt::Display| NotSent::new(format!("{what}: {e}"));
    let from: lettre::message::Mailbox = smtp
        .from
        .parse()
        .map_err(|e| bad("the `from` address cannot be used", &e))?;
    let mut email = lettre::Message::builder()
        .from(from.clone())
        .subject(m.title.clone())
        .message_id(Some(format!("<{delivery}@berrah.alerts>")))
        .header(ContentType::TEXT_PLAIN);
    for r in &smtp.recipients {
        let to: lettre::message::Mailbox = r
            .parse()
            .map_err(|e| bad(&format!("the recipient `{r}` cannot be used"), &e))?;
        email = email.to(to);
    }
    let email = email
        .body(email_text(m, delivery))
        .map_err(|e| bad("the e-mail cannot be written", &e))?;
    let builder = match smtp.security {
        SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host)
            .map_err(|e| bad("TLS cannot be set up", &e))?,
        SmtpSecurity::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host)
            .map_err(|e| bad("TLS cannot be set up", &e))?,
        SmtpSecurity::Plain => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host),
    };
    let mut builder = builder.port(smtp.port).timeout(Some(SEND_TIMEOUT));
    if let Some(password) = &secrets.password {
        let user = smtp
            .username
            .clone()
            .unwrap_or_else(|| from.email.to_string());
        builder = builder.credentials(SmtpCredentials::new(
            user,
            password.expose_secret().to_string(),
        ));
    }
    let transport = builder.build();
    match tokio::time::timeout(SEND_TIMEOUT, transport.send(email)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(NotSent::new(format!(
            "the SMTP server {}:{} refused or failed: {}",
            smtp.host,
            smtp.port,
            crate::alerts::error_chain(&e)
        ))),
        Err(_) => Err(NotSent::new(format!(
            "the SMTP server {}:{} did not answer within {} s",
            smtp.host,
            smtp.port,
            SEND_TIMEOUT.as_secs()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn message(lines: usize) -> Message {
        Message {
            rule: "comms".into(),
            title: "berrah: 300 posts held".into(),
            lines: (0..lines)
                .map(|i| format!("{i}: 300 posts held on `a<b>` & more. Release them with `berrah retry --account a --state held`."))
                .collect(),
            counts: BTreeMap::from([("held".to_string(), 300)]),
            account: Some("a".into()),
        }
    }

    #[test]
    fn slack_is_escaped_mrkdwn_text() {
        let b = slack_body(&message(1));
        let text = b["text"].as_str().unwrap();
        assert!(
            text.starts_with(
                "*berrah: 300 posts held*\n• 0: 300 posts held on `a&lt;b&gt;` &amp; more."
            ),
            "{text}"
        );
    }

    #[test]
    fn teams_is_a_message_with_one_adaptive_card() {
        let b = teams_body(&message(2));
        assert_eq!(b["type"], "message");
        let att = &b["attachments"][0];
        assert_eq!(
            att["contentType"],
            "application/vnd.microsoft.card.adaptive"
        );
        assert_eq!(att["content"]["type"], "AdaptiveCard");
        assert_eq!(att["content"]["body"].as_array().unwrap().len(), 3);
        assert_eq!(att["content"]["body"][0]["weight"], "Bolder");
    }

    #[test]
    fn discord_stays_within_2000_units_with_whole_lines() {
        let b = discord_body(&message(40));
        let content = b["content"].as_str().unwrap();
        assert!(content.encode_utf16().count() <= 2000, "{}", content.len());
        assert!(content.ends_with("… more in `berrah status`"), "{content}");
        assert!(content.starts_with("**berrah: 300 posts held**\n- 0: "));
        assert_eq!(b["allowed_mentions"]["parse"], json!([]));
    }

    #[test]
    fn webhook_body_carries_delivery_time_and_counts() {
        let b = webhook_body(&message(1), "d-1", Timestamp::UNIX_EPOCH);
        assert_eq!(b["type"], "alert");
        assert_eq!(b["delivery"], "d-1");
        assert_eq!(b["counts"]["held"], 300);
        assert_eq!(b["account"], "a");
        assert!(
            b["text"]
                .as_str()
                .unwrap()
                .starts_with("berrah: 300 posts held\n- 0:")
        );
    }

    #[test]
    fn email_text_names_the_rule() {
        let t = email_text(&message(1), "d-1");
        assert!(t.starts_with("- 0: 300 posts held"));
        assert!(t.contains("alert rule `comms` (delivery d-1)"));
    }
}
