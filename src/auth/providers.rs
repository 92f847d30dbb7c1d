//! Each platform's way of getting credentials: OAuth 2.0 endpoints and scopes
//! (from `docs/platforms/oauth.md`), or a secret the operator pastes.
//!
//! Every endpoint can be overridden from the account's config so that tests
//! (and self-hosted servers) use another host: `base_url` moves both
//! endpoints to that host with the platform's paths; `options.auth_url` and
//! `options.token_url` replace one endpoint outright; `options.scopes` (a
//! string or an array) replaces the scopes.

use crate::config::{AccountConfig, PlatformKind};

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// `Authorization: Basic` when there is a secret (X's confidential
    /// clients require it), `client_id` in the body otherwise (public clients).
    BasicIfSecret,
    /// `client_id` and `client_secret` in the form body (Google, LinkedIn, Mastodon).
    Body,
}

/// OAuth 2.0 authorization-code settings of an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthEndpoints {
    pub auth_url: String,
    pub token_url: String,
    pub scopes: Vec<String>,
    /// Extra authorization query parameters (Google's `access_type=offline`).
    pub extra_auth_params: Vec<(String, String)>,
    pub client_auth: ClientAuth,
}

/// How an account gets its credentials with `berrah accounts login`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginKind {
    /// The authorization-code flow with PKCE through the operator's browser.
    OAuth(OAuthEndpoints),
    /// A secret the operator pastes (or names in a variable): long-lived Page
    /// tokens, app passwords, bot tokens, webhook signing secrets.
    Secret { what: &'static str },
}

/// An account whose login settings cannot be worked out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("account `{account}`: {why}")]
pub struct ProviderError {
    pub account: String,
    pub why: String,
}

fn default_oauth(platform: PlatformKind) -> Option<(&'static str, &'static str, &'static str)> {
    // (official authorize URL, official token URL, scopes)
    match platform {
        PlatformKind::X => Some((
            "https://x.com/i/oauth2/authorize",
            "https://api.x.com/2/oauth2/token",
            "tweet.read tweet.write users.read media.write offline.access",
        )),
        PlatformKind::Linkedin => Some((
            "https://www.linkedin.com/oauth/v2/authorization",
            "https://www.linkedin.com/oauth/v2/accessToken",
            "openid profile w_member_social w_organization_social",
        )),
        PlatformKind::Youtube => Some((
            "https://accounts.google.com/o/oauth2/v2/auth",
            "https://oauth2.googleapis.com/token",
            "https://www.googleapis.com/auth/youtube.upload https://www.googleapis.com/auth/youtube.force-ssl",
        )),
        // Every instance is its own server: no official host.
        PlatformKind::Mastodon => Some(("", "", "write:statuses write:media read:accounts")),
        _ => None,
    }
}

/// The authorize and token paths of a platform on an overridden host.
fn paths(platform: PlatformKind) -> (&'static str, &'static str) {
    match platform {
        PlatformKind::X => ("/2/oauth2/authorize", "/2/oauth2/token"),
        PlatformKind::Linkedin => ("/oauth/v2/authorization", "/oauth/v2/accessToken"),
        PlatformKind::Youtube => ("/o/oauth2/v2/auth", "/token"),
        _ => ("/oauth/authorize", "/oauth/token"),
    }
}

/// How `account` logs in, with its config's overrides applied.
pub fn login_kind(account: &str, cfg: &AccountConfig) -> Result<LoginKind, ProviderError> {
    let err = |why: String| ProviderError {
        account: account.to_string(),
        why,
    };
    let Some((auth, token, scopes)) = default_oauth(cfg.platform) else {
        let what = match cfg.platform {
            PlatformKind::Facebook => "the long-lived Page access token",
            PlatformKind::Instagram => "the long-lived Instagram access token",
            PlatformKind::Bluesky => {
                "the app password (Settings → Privacy and security → App passwords)"
            }
            PlatformKind::Telegram => "the bot token from @BotFather",
            _ => "the webhook signing secret",
        };
        return Ok(LoginKind::Secret { what });
    };
    // `base_url` set explicitly (not the platform default) moves both endpoints.
    let host = cfg.base_url.as_deref().map(|b| b.trim_end_matches('/'));
    let (auth_path, token_path) = paths(cfg.platform);
    let pick = |option: &str, official: &str, path: &str| -> Option<String> {
        if let Some(url) = cfg.option_str(option) {
            return Some(url.to_string());
        }
        match host {
            Some(h) => Some(format!("{h}{path}")),
            None if !official.is_empty() => Some(official.to_string()),
            None => None,
        }
    };
    let auth_url = pick("auth_url", auth, auth_path).ok_or_else(|| {
        err(
            "a Mastodon account needs `base_url` (its instance, e.g. \"https://mastodon.social\")"
                .into(),
        )
    })?;
    let token_url = pick("token_url", token, token_path).ok_or_else(|| {
        err(
            "a Mastodon account needs `base_url` (its instance, e.g. \"https://mastodon.social\")"
                .into(),
        )
    })?;
    for (name, url) in [("authorize", &auth_url), ("token", &token_url)] {
        if url::Url::parse(url).is_err() {
            return Err(err(format!(
                "the {name} endpoint `{url}` is not a URL; write e.g. \"https://example.org/oauth/{name}\""
            )));
        }
    }
    let scopes = match cfg.options.get("scopes") {
        Some(toml::Value::String(s)) => s.split_whitespace().map(str::to_string).collect(),
        Some(toml::Value::Array(items)) => {
            let mut out = Vec::new();
            for item in items {
                match item.as_str() {
                    Some(s) => out.push(s.to_string()),
                    None => return Err(err("`options.scopes` must list strings".into())),
                }
            }
            out
        }
        Some(_) => {
            return Err(err(
                "`options.scopes` must be a string (\"a b\") or an array ([\"a\", \"b\"])".into(),
            ));
        }
        None => scopes.split_whitespace().map(str::to_string).collect(),
    };
    let extra_auth_params = match cfg.platform {
        // Without `access_type=offline` Google issues no refresh token, and
        // without `prompt=consent` a second login gets none either.
        PlatformKind::Youtube => vec![
            ("access_type".to_string(), "offline".to_string()),
            ("prompt".to_string(), "consent".to_string()),
        ],
        _ => Vec::new(),
    };
    let client_auth = match cfg.platform {
        PlatformKind::X => ClientAuth::BasicIfSecret,
        _ => ClientAuth::Body,
    };
    Ok(LoginKind::OAuth(OAuthEndpoints {
        auth_url,
        token_url,
        scopes,
        extra_auth_params,
        client_auth,
    }))
}

/// The OAuth endpoints of an account, or `None` for secret-only platforms.
pub fn oauth_endpoints(
    account: &str,
    cfg: &AccountConfig,
) -> Result<Option<OAuthEndpoints>, ProviderError> {
    Ok(match login_kind(account, cfg)? {
        LoginKind::OAuth(e) => Some(e),
        LoginKind::Secret { .. } => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(toml_text: &str) -> AccountConfig {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn official_endpoints_by_default() {
        let cfg = account("platform = \"x\"");
        let LoginKind::OAuth(e) = login_kind("a", &cfg).unwrap() else {
            panic!("x uses OAuth")
        };
        assert_eq!(e.token_url, "https://api.x.com/2/oauth2/token");
        assert!(e.scopes.contains(&"offline.access".to_string()));
        assert_eq!(e.client_auth, ClientAuth::BasicIfSecret);
    }

    #[test]
    fn overrides_from_base_url_and_options() {
        let cfg = account(
            "platform = \"youtube\"\nbase_url = \"http://127.0.0.1:9/\"\n[options]\ntoken_url = \"http://127.0.0.1:8/t\"\nscopes = [\"s1\"]",
        );
        let e = oauth_endpoints("a", &cfg).unwrap().unwrap();
        assert_eq!(e.auth_url, "http://127.0.0.1:9/o/oauth2/v2/auth");
        assert_eq!(e.token_url, "http://127.0.0.1:8/t");
        assert_eq!(e.scopes, vec!["s1"]);
        assert!(e.extra_auth_params.iter().any(|(k, _)| k == "access_type"));
    }

    #[test]
    fn mastodon_needs_its_instance_and_secret_platforms_prompt() {
        let err = login_kind("m", &account("platform = \"mastodon\"")).unwrap_err();
        assert!(err.why.contains("base_url"));
        let m = account("platform = \"mastodon\"\nbase_url = \"https://mastodon.social\"");
        let e = oauth_endpoints("m", &m).unwrap().unwrap();
        assert_eq!(e.token_url, "https://mastodon.social/oauth/token");
        for p in ["facebook", "instagram", "bluesky", "telegram", "webhook"] {
            let cfg = account(&format!("platform = \"{p}\""));
            assert!(matches!(
                login_kind("a", &cfg).unwrap(),
                LoginKind::Secret { .. }
            ));
        }
    }
}
