//! `[[alerts]]` in `berrah.toml`: where an alert goes, on what, and how often.
//!
//! ```toml
//! [[alerts]]
//! name = "comms-slack"
//! to = "slack"                        # slack | teams | discord | webhook | email
//! url = "env:BERRAH_SLACK_WEBHOOK"    # the webhook URL is a secret: env: or file:
//! on = ["held", "failed", "dropped", "token_expiring", "campaign_broken", "crash_restart", "late"]
//! every = "15m"                       # at most one message per interval
//! token_days = 7                      # token_expiring: within this many days
//! late_after = "5m"                   # late: a post that went out this late
//! ```
//!
//! E-mail: `smtp = "smtps://host"` (TLS from the start), `"smtp://host"`
//! (STARTTLS, required) or `"smtp://127.0.0.1:2525"` (plain, this machine
//! only), `from`, `recipients`, and `username` / `password = "env:VAR"`.
//! The generic webhook: `url` (its address, or `env:`/`file:`) and
//! `secret = "env:VAR"`, the key that signs each request like berrah's
//! webhook platform does.
//!
//! [`check`] finds what TOML cannot see, at `path:line:col`; [`Rule::from_config`]
//! turns a checked rule into what the alerter runs with.

use std::path::Path;

use jiff::SignedDuration;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_spanned::Spanned;

use crate::auth::sources::Source;
use crate::diag::Diagnostic;

/// One `[[alerts]]` table, as written.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertConfig {
    /// The rule's name, unique in the file (`comms-slack`): in logs and messages.
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// Where the alert goes.
    pub to: Target,
    /// Slack, Teams, Discord: `env:VAR` or `file:PATH` holding the incoming
    /// webhook's URL (a secret). Webhook: its URL, or `env:`/`file:`.
    #[schemars(with = "Option<String>")]
    pub url: Option<Spanned<String>>,
    /// Webhook: `env:VAR` or `file:PATH` holding the key that signs requests.
    #[schemars(with = "Option<String>")]
    pub secret: Option<Spanned<String>>,
    /// What to alert on (default: everything).
    pub on: Option<Vec<Event>>,
    /// At most one message per interval (default `"15m"`).
    #[schemars(with = "Option<String>")]
    pub every: Option<Spanned<String>>,
    /// How long to gather a burst after its first event before sending
    /// (default `"30s"`; never sooner than `every` allows).
    #[schemars(with = "Option<String>")]
    pub gather: Option<Spanned<String>>,
    /// `token_expiring`: a token that expires within this many days (default 7).
    pub token_days: Option<u32>,
    /// `late`: a post whose publication started this long after its due time
    /// (default `"5m"`, at least `"1m"`).
    #[schemars(with = "Option<String>")]
    pub late_after: Option<Spanned<String>>,
    /// E-mail: the SMTP server, `smtps://host[:port]`, `smtp://host[:port]`
    /// (STARTTLS) or `smtp://127.0.0.1:port` (plain, this machine only).
    #[schemars(with = "Option<String>")]
    pub smtp: Option<Spanned<String>>,
    /// E-mail: the sender address.
    #[schemars(with = "Option<String>")]
    pub from: Option<Spanned<String>>,
    /// E-mail: who receives the alerts.
    pub recipients: Option<Vec<String>>,
    /// E-mail: the SMTP user (default: `from`'s address, when a password is set).
    pub username: Option<String>,
    /// E-mail: `env:VAR` or `file:PATH` holding the SMTP password.
    #[schemars(with = "Option<String>")]
    pub password: Option<Spanned<String>>,
}

/// Where an alert goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    Slack,
    Teams,
    Discord,
    Webhook,
    Email,
}

impl Target {
    pub fn as_str(self) -> &'static str {
        match self {
            Target::Slack => "slack",
            Target::Teams => "teams",
            Target::Discord => "discord",
            Target::Webhook => "webhook",
            Target::Email => "email",
        }
    }

    fn service(self) -> &'static str {
        match self {
            Target::Slack => "Slack",
            Target::Teams => "Microsoft Teams",
            Target::Discord => "Discord",
            Target::Webhook => "webhook",
            Target::Email => "e-mail",
        }
    }
}

/// What an alert rule listens to.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// Posts held for an operator (credentials, unknown outcome).
    Held,
    /// Posts that failed for good.
    Failed,
    /// Posts dropped because they were too late (past their `not_after`).
    Dropped,
    /// A stored token that expires within `token_days` and that berrah cannot renew.
    TokenExpiring,
    /// A campaign file that does not check (its last valid version stays scheduled).
    CampaignBroken,
    /// The daemon started after a previous run that did not stop cleanly.
    CrashRestart,
    /// A post that went out more than `late_after` after its due time.
    Late,
}

impl Event {
    pub const ALL: [Event; 7] = [
        Event::Held,
        Event::Failed,
        Event::Dropped,
        Event::TokenExpiring,
        Event::CampaignBroken,
        Event::CrashRestart,
        Event::Late,
    ];

    /// The name in files, in the facts table and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Event::Held => "held",
            Event::Failed => "failed",
            Event::Dropped => "dropped",
            Event::TokenExpiring => "token_expiring",
            Event::CampaignBroken => "campaign_broken",
            Event::CrashRestart => "crash_restart",
            Event::Late => "late",
        }
    }

    pub fn parse(s: &str) -> Option<Event> {
        Event::ALL.into_iter().find(|e| e.as_str() == s)
    }
}

/// The defaults of a rule's optional keys.
pub const DEFAULT_EVERY: SignedDuration = SignedDuration::from_mins(15);
pub const DEFAULT_GATHER: SignedDuration = SignedDuration::from_secs(30);
pub const DEFAULT_TOKEN_DAYS: u32 = 7;
pub const DEFAULT_LATE_AFTER: SignedDuration = SignedDuration::from_mins(5);
/// The least `late_after`: the queue records lateness from one minute on.
pub const MIN_LATE_AFTER: SignedDuration = SignedDuration::from_mins(1);

/// Where a secret of a rule comes from (never the secret itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// `env:` or `file:` (a relative file is relative to berrah.toml's folder).
    Source(Source),
    /// A webhook's plain URL (not a secret: its requests are signed).
    Plain(String),
}

/// How e-mail reaches the SMTP server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// TLS from the first byte (`smtps://`, port 465 by default).
    Tls,
    /// STARTTLS, required (`smtp://`, port 587 by default).
    StartTls,
    /// No TLS: only to this machine (a local relay, tests).
    Plain,
}

/// The SMTP side of an e-mail rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub from: String,
    pub recipients: Vec<String>,
    pub username: Option<String>,
    pub password: Option<Source>,
}

/// A checked rule, as the alerter runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub name: String,
    pub to: Target,
    pub on: Vec<Event>,
    pub every: SignedDuration,
    pub gather: SignedDuration,
    pub token_days: u32,
    pub late_after: SignedDuration,
    /// Slack, Teams, Discord, webhook: where to post.
    pub url: Option<SecretRef>,
    /// Webhook: the signing key.
    pub secret: Option<Source>,
    /// E-mail.
    pub smtp: Option<Smtp>,
}

impl Rule {
    /// The rule of a checked `[[alerts]]` table (`None` if it has errors:
    /// [`check`] says which).
    pub fn from_config(c: &AlertConfig) -> Option<Rule> {
        let duration = |v: &Option<Spanned<String>>, default| match v {
            Some(s) => crate::plan::parse_duration(s.get_ref()).ok(),
            None => Some(default),
        };
        let url = match &c.url {
            Some(u) => Some(secret_ref(c.to, u.get_ref()).ok()?),
            None => None,
        };
        let secret = match &c.secret {
            Some(s) => Some(Source::parse(s.get_ref()).ok()?),
            None => None,
        };
        let smtp = if c.to == Target::Email {
            let (host, port, security) = parse_smtp(c.smtp.as_ref()?.get_ref()).ok()?;
            Some(Smtp {
                host,
                port,
                security,
                from: c.from.as_ref()?.get_ref().clone(),
                recipients: c.recipients.clone()?,
                username: c.username.clone(),
                password: match &c.password {
                    Some(p) => Some(Source::parse(p.get_ref()).ok()?),
                    None => None,
                },
            })
        } else {
            None
        };
        let mut on = c.on.clone().unwrap_or_else(|| Event::ALL.to_vec());
        on.sort();
        on.dedup();
        Some(Rule {
            name: c.name.get_ref().clone(),
            to: c.to,
            on,
            every: duration(&c.every, DEFAULT_EVERY)?,
            gather: duration(&c.gather, DEFAULT_GATHER)?,
            token_days: c.token_days.unwrap_or(DEFAULT_TOKEN_DAYS),
            late_after: duration(&c.late_after, DEFAULT_LATE_AFTER)?,
            url,
            secret,
            smtp,
        })
    }

    pub fn listens(&self, event: Event) -> bool {
        self.on.contains(&event)
    }
}

/// `url` for a target: a source for chat services (the URL is the secret),
/// a source or a plain URL for the generic webhook.
fn secret_ref(to: Target, value: &str) -> Result<SecretRef, ()> {
    let v = value.trim();
    if v.starts_with("env:") || v.starts_with("file:") {
        return match Source::parse(v) {
            Ok(s @ (Source::Env(_) | Source::File(_))) => Ok(SecretRef::Source(s)),
            _ => Err(()),
        };
    }
    if to == Target::Webhook && url::Url::parse(v).is_ok() {
        return Ok(SecretRef::Plain(v.to_string()));
    }
    Err(())
}

/// `smtps://host[:port]`, `smtp://host[:port]`: host, port, security.
fn parse_smtp(value: &str) -> Result<(String, u16, SmtpSecurity), String> {
    let url = url::Url::parse(value.trim()).map_err(|_| {
        format!("`{value}` is not an SMTP URL; write \"smtps://smtp.example.org\" or \"smtp://smtp.example.org:587\"")
    })?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "the SMTP URL must not carry a user or password: write them in `username` and \
             `password = \"env:VAR\"`"
                .into(),
        );
    }
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| format!("`{value}` names no host"))?
        .trim_matches(['[', ']'])
        .to_string();
    // `smtp:` is not a special scheme: its host is never parsed as an address.
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match url.scheme() {
        "smtps" => Ok((host, url.port().unwrap_or(465), SmtpSecurity::Tls)),
        "smtp" if loopback => Ok((host, url.port().unwrap_or(25), SmtpSecurity::Plain)),
        "smtp" => Ok((host, url.port().unwrap_or(587), SmtpSecurity::StartTls)),
        other => Err(format!(
            "`{other}://` is not SMTP; write \"smtps://host\" (TLS) or \"smtp://host:587\" (STARTTLS)"
        )),
    }
}

/// Whether `s` looks like an e-mail address (`local@domain`, nothing more:
/// the SMTP server is the judge).
fn is_address(s: &str) -> bool {
    let s = s.trim();
    let bare = match (s.rfind('<'), s.ends_with('>')) {
        (Some(i), true) => &s[i + 1..s.len() - 1],
        _ => s,
    };
    matches!(bare.split_once('@'), Some((l, d)) if !l.is_empty() && (d.contains('.') || d == "localhost"))
        && !bare.contains(char::is_whitespace)
}

/// The byte span of the `[[alerts]]` header of the `index`-th rule, for
/// problems of the rule as a whole.
fn header_span(source: &str, index: usize) -> Option<std::ops::Range<usize>> {
    let mut from = 0;
    let mut seen = 0;
    while let Some(i) = source[from..].find("[[alerts]]") {
        let at = from + i;
        let line_start = source[..at].rfind('\n').map_or(0, |n| n + 1);
        if source[line_start..at].trim().is_empty() {
            if seen == index {
                return Some(at..at + "[[alerts]]".len());
            }
            seen += 1;
        }
        from = at + 1;
    }
    None
}

/// What TOML cannot see in the `[[alerts]]` tables.
pub fn check(path: &Path, source: &str, rules: &[AlertConfig]) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut names = std::collections::HashSet::new();
    for (i, rule) in rules.iter().enumerate() {
        let name = rule.name.get_ref();
        if !names.insert(name.clone()) {
            out.push(
                Diagnostic::error(
                    path,
                    Some(rule.name.span()),
                    format!("two alert rules are named `{name}`"),
                )
                .with_help("give each `[[alerts]]` table a name of its own"),
            );
        }
        out.extend(check_rule(path, source, i, rule));
    }
    out
}

/// The rules of `rules` without errors (for a configuration with errors
/// elsewhere: `berrah check` still runs with the valid part).
pub fn valid(path: &Path, source: &str, rules: &[AlertConfig]) -> Vec<AlertConfig> {
    rules
        .iter()
        .enumerate()
        .filter(|(i, r)| {
            !check_rule(path, source, *i, r)
                .iter()
                .any(Diagnostic::is_error)
        })
        .map(|(_, r)| r.clone())
        .collect()
}

/// What TOML cannot see in one `[[alerts]]` table (the `index`-th).
pub fn check_rule(path: &Path, source: &str, index: usize, rule: &AlertConfig) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let name = rule.name.get_ref();
    let at = header_span(source, index).or(Some(rule.name.span()));
    let err =
        |span: Option<std::ops::Range<usize>>, msg: String| Diagnostic::error(path, span, msg);
    if !crate::campaign::validate::is_valid_id(name) {
        out.push(
            err(
                Some(rule.name.span()),
                format!("alert name `{name}` may only have lowercase letters, digits and `-`"),
            )
            .with_help("write it like `comms-slack`"),
        );
    }
    let service = rule.to.service();
    let only_for = |key: &str, value_span: std::ops::Range<usize>, targets: &str| {
        Diagnostic::error(
            path,
            Some(value_span),
            format!("alert `{name}` ({service}) has `{key}`, which only {targets} use"),
        )
        .with_help(format!("remove `{key}`"))
    };
    match rule.to {
        Target::Slack | Target::Teams | Target::Discord => {
            match &rule.url {
                None => out.push(
                    err(at.clone(), format!("alert `{name}` ({service}) needs a `url`")).with_help(
                        format!(
                            "the incoming webhook's URL is a secret: write `url = \"env:BERRAH_{}_WEBHOOK\"` and set that variable (or `\"file:PATH\"`)",
                            rule.to.as_str().to_uppercase()
                        ),
                    ),
                ),
                Some(u) if secret_ref(rule.to, u.get_ref()).is_err() => out.push(
                    // Never echo the value: it may be the webhook's URL itself.
                    err(
                        Some(u.span()),
                        format!(
                            "the `url` of alert `{name}` must say where the {service} webhook URL is, not be the URL"
                        ),
                    )
                    .with_help(format!(
                        "anyone with the URL can post to the channel: write `url = \"env:BERRAH_{}_WEBHOOK\"` or `\"file:PATH\"`; if the URL was written here, make a new one",
                        rule.to.as_str().to_uppercase()
                    ))
                    .masked(),
                ),
                Some(_) => {}
            }
            if let Some(s) = &rule.secret {
                out.push(only_for("secret", s.span(), "webhook alerts"));
            }
        }
        Target::Webhook => {
            match &rule.url {
                None => out.push(
                    err(
                        at.clone(),
                        format!("alert `{name}` (webhook) needs a `url`"),
                    )
                    .with_help(
                        "write `url = \"https://example.org/berrah-alerts\"` (or `\"env:VAR\"`)",
                    ),
                ),
                Some(u) => match secret_ref(rule.to, u.get_ref()) {
                    Err(()) => out.push(
                        err(
                            Some(u.span()),
                            format!(
                                "the `url` of alert `{name}` is neither a URL nor `env:`/`file:`"
                            ),
                        )
                        .with_help(
                            "write `url = \"https://example.org/berrah-alerts\"` or `\"env:VAR\"`",
                        )
                        .masked(),
                    ),
                    Ok(SecretRef::Plain(p)) => {
                        if url::Url::parse(&p).is_ok_and(|u| crate::http::cleartext(&u)) {
                            out.push(
                                err(
                                    Some(u.span()),
                                    format!("alert `{name}` would send its signed alerts to `{p}` in clear: `http://` is only allowed on this machine"),
                                )
                                .with_help("write its `https://` address"),
                            );
                        }
                    }
                    Ok(SecretRef::Source(_)) => {}
                },
            }
            match &rule.secret {
                None => out.push(
                    err(at.clone(), format!("alert `{name}` (webhook) needs a `secret`, the key that signs its requests"))
                        .with_help("write `secret = \"env:BERRAH_ALERT_KEY\"` (or `\"file:PATH\"`) and give the receiver the same key"),
                ),
                Some(s) if !matches!(Source::parse(s.get_ref()), Ok(Source::Env(_) | Source::File(_))) => out.push(
                    err(
                        Some(s.span()),
                        format!("the `secret` of alert `{name}` must say where the key is, not be the key"),
                    )
                    .with_help("write `secret = \"env:BERRAH_ALERT_KEY\"` or `\"file:PATH\"`; if a key was written here, make a new one")
                    .masked(),
                ),
                Some(_) => {}
            }
        }
        Target::Email => {
            if let Some(u) = &rule.url {
                out.push(only_for("url", u.span(), "chat and webhook alerts"));
            }
            if let Some(s) = &rule.secret {
                out.push(only_for("secret", s.span(), "webhook alerts"));
            }
            match &rule.smtp {
                None => out.push(
                    err(at.clone(), format!("alert `{name}` (e-mail) needs `smtp`"))
                        .with_help("write `smtp = \"smtps://smtp.example.org\"` (or \"smtp://smtp.example.org:587\" for STARTTLS)"),
                ),
                Some(s) => {
                    if let Err(why) = parse_smtp(s.get_ref()) {
                        out.push(err(Some(s.span()), why).masked());
                    }
                }
            }
            match &rule.from {
                None => out.push(
                    err(at.clone(), format!("alert `{name}` (e-mail) needs `from`"))
                        .with_help("write `from = \"berrah@example.org\"`"),
                ),
                Some(f) if !is_address(f.get_ref()) => out.push(
                    err(Some(f.span()), format!("`{}` is not an e-mail address", f.get_ref()))
                        .with_help("write `from = \"berrah@example.org\"` or `\"berrah <berrah@example.org>\"`"),
                ),
                Some(_) => {}
            }
            match &rule.recipients {
                None => out.push(
                    err(
                        at.clone(),
                        format!("alert `{name}` (e-mail) needs `recipients`"),
                    )
                    .with_help("write `recipients = [\"comms@example.org\"]`"),
                ),
                Some(r) if r.is_empty() => out.push(
                    err(
                        at.clone(),
                        format!("alert `{name}` (e-mail) has no recipients"),
                    )
                    .with_help("write `recipients = [\"comms@example.org\"]`"),
                ),
                Some(r) => {
                    for a in r.iter().filter(|a| !is_address(a)) {
                        out.push(
                            err(
                                at.clone(),
                                format!("alert `{name}`: `{a}` is not an e-mail address"),
                            )
                            .with_help("write addresses such as \"comms@example.org\""),
                        );
                    }
                }
            }
            if let Some(p) = &rule.password
                && !matches!(
                    Source::parse(p.get_ref()),
                    Ok(Source::Env(_) | Source::File(_))
                )
            {
                out.push(
                    err(
                        Some(p.span()),
                        format!("the `password` of alert `{name}` must say where the password is, not be the password"),
                    )
                    .with_help("write `password = \"env:BERRAH_SMTP_PASSWORD\"` or `\"file:PATH\"`; if the password was written here, change it")
                    .masked(),
                );
            }
        }
    }
    if rule.to != Target::Email {
        for (key, present) in [
            ("smtp", rule.smtp.is_some()),
            ("from", rule.from.is_some()),
            ("recipients", rule.recipients.is_some()),
            ("username", rule.username.is_some()),
            ("password", rule.password.is_some()),
        ] {
            if present {
                out.push(
                    err(
                        at.clone(),
                        format!(
                            "alert `{name}` ({service}) has `{key}`, which only e-mail alerts use"
                        ),
                    )
                    .with_help(format!("remove `{key}`, or write `to = \"email\"`")),
                );
            }
        }
    }
    for (key, value) in [
        ("every", &rule.every),
        ("gather", &rule.gather),
        ("late_after", &rule.late_after),
    ] {
        let Some(v) = value else { continue };
        match crate::plan::parse_duration(v.get_ref()) {
            Err(_) => out.push(
                err(
                    Some(v.span()),
                    format!("`{}` is not a duration", v.get_ref()),
                )
                .with_help(format!(
                    "write a duration such as \"{}\"",
                    match key {
                        "every" => "15m",
                        "gather" => "30s",
                        _ => "5m",
                    }
                )),
            ),
            Ok(d) if key == "late_after" && d < MIN_LATE_AFTER => out.push(
                err(
                    Some(v.span()),
                    format!("`late_after` of alert `{name}` is under a minute"),
                )
                .with_help("write \"1m\" or more: lateness is recorded from one minute on"),
            ),
            Ok(d) if d < SignedDuration::from_secs(1) => out.push(
                err(
                    Some(v.span()),
                    format!("`{key}` of alert `{name}` is under a second"),
                )
                .with_help("write \"1s\" or more"),
            ),
            Ok(_) => {}
        }
    }
    if let Some(d) = rule.token_days
        && !(1..=365).contains(&d)
    {
        out.push(
            err(
                at.clone(),
                format!("`token_days` of alert `{name}` must be between 1 and 365"),
            )
            .with_help("write `token_days = 7`"),
        );
    }
    if let Some(on) = &rule.on
        && on.is_empty()
    {
        out.push(
            err(
                at.clone(),
                format!("alert `{name}` listens to nothing (`on = []`)"),
            )
            .with_help("list events, or leave `on` out to listen to all of them"),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> (Vec<AlertConfig>, Vec<Diagnostic>) {
        #[derive(Deserialize)]
        struct File {
            alerts: Vec<AlertConfig>,
        }
        let f: File = toml::from_str(text).unwrap();
        let d = check(Path::new("berrah.toml"), text, &f.alerts);
        (f.alerts, d)
    }

    fn rendered(text: &str, d: &[Diagnostic]) -> String {
        d.iter().map(|d| d.render(Some(text))).collect()
    }

    #[test]
    fn a_full_rule_of_each_kind_checks_and_resolves() {
        let text = "[[alerts]]\nname = \"comms-slack\"\nto = \"slack\"\nurl = \"env:BERRAH_SLACK_WEBHOOK\"\n\
             on = [\"held\", \"late\"]\nevery = \"15m\"\ntoken_days = 3\nlate_after = \"10m\"\n\
             [[alerts]]\nname = \"hook\"\nto = \"webhook\"\nurl = \"https://ops.example.org/in\"\nsecret = \"env:K\"\n\
             [[alerts]]\nname = \"mail\"\nto = \"email\"\nsmtp = \"smtp://127.0.0.1:2525\"\n\
             from = \"berrah@example.org\"\nrecipients = [\"comms@example.org\"]\npassword = \"env:P\"\n";
        let (rules, d) = parse(text);
        assert!(d.is_empty(), "{}", rendered(text, &d));
        let slack = Rule::from_config(&rules[0]).unwrap();
        assert_eq!(slack.on, vec![Event::Held, Event::Late]);
        assert_eq!(slack.late_after, SignedDuration::from_mins(10));
        assert_eq!(slack.gather, DEFAULT_GATHER);
        assert_eq!(
            slack.url,
            Some(SecretRef::Source(Source::Env(
                "BERRAH_SLACK_WEBHOOK".into()
            )))
        );
        let hook = Rule::from_config(&rules[1]).unwrap();
        assert_eq!(hook.on.len(), Event::ALL.len());
        let mail = Rule::from_config(&rules[2]).unwrap();
        let smtp = mail.smtp.unwrap();
        assert_eq!((smtp.port, smtp.security), (2525, SmtpSecurity::Plain));
    }

    #[test]
    fn a_chat_webhook_url_written_in_clear_is_refused_and_never_shown() {
        let text = "[[alerts]]\nname = \"s\"\nto = \"slack\"\n\
                    url = \"https://hooks.slack.com/services/T0/B0/SECRETSECRET\"\n";
        let (rules, d) = parse(text);
        let out = rendered(text, &d);
        assert!(
            out.contains("berrah.toml:4:7: error: the `url` of alert `s` must say where"),
            "{out}"
        );
        assert!(!out.contains("SECRET"), "{out}");
        assert!(Rule::from_config(&rules[0]).is_none());
    }

    #[test]
    fn missing_and_misplaced_keys_are_named_with_their_place() {
        let text = "[[alerts]]\nname = \"m\"\nto = \"email\"\nsmtp = \"smtp://mail.example.org\"\n\
                    password = \"hunter2\"\nurl = \"env:X\"\n\
                    [[alerts]]\nname = \"m\"\nto = \"discord\"\nurl = \"env:D\"\nevery = \"soon\"\n\
                    late_after = \"10s\"\nrecipients = [\"a@b.org\"]\n";
        let (_, d) = parse(text);
        let out = rendered(text, &d);
        for want in [
            "berrah.toml:1:1: error: alert `m` (e-mail) needs `from`",
            "needs `recipients`",
            "berrah.toml:5:12: error: the `password` of alert `m` must say where",
            "has `url`, which only chat and webhook alerts use",
            "berrah.toml:8:8: error: two alert rules are named `m`",
            "berrah.toml:11:9: error: `soon` is not a duration",
            "`late_after` of alert `m` is under a minute",
            "has `recipients`, which only e-mail alerts use",
        ] {
            assert!(out.contains(want), "{want}\n{out}");
        }
        assert!(!out.contains("hunter2"), "{out}");
    }

    #[test]
    fn smtp_urls_choose_tls_and_plain_only_on_this_machine() {
        assert_eq!(
            parse_smtp("smtps://smtp.example.org").unwrap(),
            ("smtp.example.org".into(), 465, SmtpSecurity::Tls)
        );
        assert_eq!(
            parse_smtp("smtp://smtp.example.org").unwrap(),
            ("smtp.example.org".into(), 587, SmtpSecurity::StartTls)
        );
        assert_eq!(
            parse_smtp("smtp://localhost:2525").unwrap().2,
            SmtpSecurity::Plain
        );
        assert!(
            parse_smtp("smtp://u:pw@h.example.org")
                .unwrap_err()
                .contains("password")
        );
        assert!(parse_smtp("http://h.example.org").is_err());
    }

    #[test]
    fn the_readme_example_checks() {
        let readme = include_str!("../../README.md");
        let section = &readme[readme
            .find("### Alerts")
            .expect("README has an Alerts section")..];
        let start = section.find("```toml\n").expect("a TOML example") + 8;
        let text = &section[start..start + section[start..].find("```").unwrap()];
        let (rules, d) = parse(text);
        assert!(d.is_empty(), "{}", rendered(text, &d));
        assert_eq!(rules.len(), 5);
        assert!(rules.iter().all(|r| Rule::from_config(r).is_some()));
    }

    #[test]
    fn addresses() {
        assert!(is_address("berrah@example.org"));
        assert!(is_address("berrah <berrah@example.org>"));
        assert!(is_address("root@localhost"));
        assert!(!is_address("berrah"));
        assert!(!is_address("a b@example.org"));
    }
}
