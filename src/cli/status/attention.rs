//! `accounts_needing_attention`: every account with held posts or a
//! credential problem (a missing variable, an unreadable file, a token
//! expired, expiring or refused), each with the reason and what fixes it
//! (pure).

use jiff::Timestamp;
use serde::Serialize;

use super::held::HeldGroup;
use crate::auth::ExpiryWarning;
use crate::auth::sources::{CredentialCheck, CredentialState, ExpiryKind};

/// One account and what needs an operator about it. The first six fields
/// are those of the token warnings `status` listed before (same names).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attention {
    pub account: String,
    pub platform: String,
    /// `access_token`, `refresh_token`, `needs_login` (stored tokens),
    /// `credential_missing`, `credential_empty`, `credential_unreadable`,
    /// `credential_invalid` (`env:`/`file:` sources), `credentials_refused`
    /// (posts held for credentials the platform refused) or `held_posts`.
    pub kind: String,
    pub expires_at: Option<Timestamp>,
    pub days_left: Option<i64>,
    /// One sentence: the reason and the fix.
    pub message: String,
    /// What is wrong.
    pub reason: String,
    /// The command or action that fixes it.
    pub action: String,
    /// The account's posts held for this reason.
    pub held_posts: u64,
}

fn posts(n: u64) -> String {
    match n {
        0 => String::new(),
        1 => "; 1 post held".into(),
        n => format!("; {n} posts held"),
    }
}

fn quoted(action: &str) -> String {
    if action.starts_with("berrah ") {
        format!("`{action}`")
    } else {
        action.to_string()
    }
}

/// Everything that needs an operator, per account: credential problems
/// first, then stored tokens' warnings, then other held posts.
pub fn needing_attention(
    checks: &[CredentialCheck],
    warnings: Vec<ExpiryWarning>,
    groups: &[HeldGroup],
    platform_of: &dyn Fn(&str) -> String,
) -> Vec<Attention> {
    let held_for_credentials = |account: &str| {
        groups
            .iter()
            .filter(|g| g.account == account && g.cause == "credentials")
            .map(|g| g.count)
            .sum::<u64>()
    };
    let mut out = Vec::new();
    for c in checks.iter().filter(|c| !c.state.is_ok()) {
        let kind = match c.state {
            CredentialState::Missing => "credential_missing",
            CredentialState::Empty => "credential_empty",
            CredentialState::Invalid => "credential_invalid",
            _ => "credential_unreadable",
        };
        let reason = c
            .problem
            .clone()
            .unwrap_or_else(|| "the credential cannot be read".into());
        let action = c.fix.clone().unwrap_or_default();
        let held = held_for_credentials(&c.account);
        out.push(Attention {
            account: c.account.clone(),
            platform: c.platform.clone(),
            kind: kind.into(),
            expires_at: None,
            days_left: None,
            message: format!("{reason}{}: {}", posts(held), quoted(&action)),
            reason,
            action,
            held_posts: held,
        });
    }
    for w in warnings {
        let held = held_for_credentials(&w.account);
        let kind = match w.kind {
            ExpiryKind::AccessToken => "access_token",
            ExpiryKind::RefreshToken => "refresh_token",
            ExpiryKind::NeedsLogin => "needs_login",
        };
        out.push(Attention {
            action: format!("berrah accounts login {}", w.account),
            reason: w.message.clone(),
            message: format!("{}{}", w.message, posts(held)),
            account: w.account,
            platform: w.platform,
            kind: kind.into(),
            expires_at: w.expires_at,
            days_left: w.days_left,
            held_posts: held,
        });
    }
    for g in groups {
        let covered = g.cause == "credentials" && out.iter().any(|a| a.account == g.account);
        if covered {
            continue;
        }
        let kind = if g.cause == "credentials" {
            "credentials_refused"
        } else {
            "held_posts"
        };
        let what = match g.cause.as_str() {
            "credentials" => "held until its credentials work again",
            "unknown_outcome" => "held: the outcome of their last attempt is unknown",
            "paused_in_file" => "held by `paused = true` in their campaign file",
            _ => "held for an operator",
        };
        let reason = format!(
            "{} {what} ({})",
            if g.count == 1 {
                "1 post".to_string()
            } else {
                format!("{} posts", g.count)
            },
            g.reason
        );
        out.push(Attention {
            account: g.account.clone(),
            platform: platform_of(&g.account),
            kind: kind.into(),
            expires_at: None,
            days_left: None,
            message: format!("`{}`: {reason}: {}", g.account, quoted(&g.release)),
            reason,
            action: g.release.clone(),
            held_posts: g.count,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_variable_counts_its_held_posts() {
        let checks = vec![CredentialCheck {
            account: "oim-x".into(),
            platform: "x".into(),
            source: "env:OIM_X_TOKEN".into(),
            state: CredentialState::Missing,
            problem: Some("the environment variable `OIM_X_TOKEN` of `oim-x` is not set".into()),
            fix: Some("set OIM_X_TOKEN and restart berrah".into()),
        }];
        let groups = vec![
            HeldGroup {
                cause: "credentials".into(),
                account: "oim-x".into(),
                count: 3,
                reason: "credentials of `oim-x`: …".into(),
                release: "set OIM_X_TOKEN and restart berrah".into(),
                ids: vec![],
            },
            HeldGroup {
                cause: "unknown_outcome".into(),
                account: "oim-tg".into(),
                count: 1,
                reason: "the connection dropped".into(),
                release: "look on oim-tg …".into(),
                ids: vec![],
            },
        ];
        let a = needing_attention(&checks, vec![], &groups, &|_| "telegram".into());
        assert_eq!(a.len(), 2);
        assert_eq!(a[0].kind, "credential_missing");
        assert_eq!(a[0].held_posts, 3);
        assert_eq!(
            a[0].message,
            "the environment variable `OIM_X_TOKEN` of `oim-x` is not set; 3 posts held: \
             set OIM_X_TOKEN and restart berrah"
        );
        assert_eq!(a[1].kind, "held_posts");
        assert_eq!(a[1].platform, "telegram");
    }
}
