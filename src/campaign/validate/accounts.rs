//! Where a post goes: its accounts (which berrah.toml must know) and its
//! languages on each of them.

use super::{V, span};
use crate::campaign::LoadedCampaign;
use crate::campaign::model::{Post, Spanned};
use crate::campaign::suggest;
use crate::config::AccountConfig;

/// The accounts a post goes to (its own, else the campaign's), as written.
pub fn post_accounts<'a>(c: &'a LoadedCampaign, post: &'a Post) -> &'a [Spanned<String>] {
    post.accounts
        .as_deref()
        .unwrap_or(&c.file.campaign.accounts)
}

/// The languages of a post on an account: the post's (else the campaign's,
/// else those its text has), kept to the account's `languages` when it sets them.
pub fn post_languages(
    c: &LoadedCampaign,
    post: &Post,
    account: Option<&AccountConfig>,
) -> Vec<String> {
    let declared: Vec<String> = post
        .languages
        .as_deref()
        .unwrap_or(&c.file.campaign.languages)
        .iter()
        .map(|l| l.get_ref().clone())
        .collect();
    let langs = if declared.is_empty() {
        post.text.keys().cloned().collect()
    } else {
        declared
    };
    match account.and_then(|a| a.languages.as_ref()) {
        Some(allowed) => langs.into_iter().filter(|l| allowed.contains(l)).collect(),
        None => langs,
    }
}

impl V<'_> {
    pub(super) fn accounts(&mut self, list: &[Spanned<String>]) {
        let known = &self.ctx.config.accounts;
        for a in list {
            let name = a.get_ref();
            // An account whose own lines in berrah.toml have errors is
            // reported there; saying "unknown" here would send the reader
            // looking for a typo that is not in the campaign.
            if known.contains_key(name) || self.ctx.config.broken_accounts.contains(name) {
                continue;
            }
            let help = suggest::did_you_mean(name, known.keys().map(String::as_str)).unwrap_or_else(|| {
                if known.is_empty() {
                    format!("berrah.toml has no valid account: add one as `[accounts.{name}]` with `platform = \"...\"`, or correct the errors reported in berrah.toml")
                } else {
                    format!(
                        "the accounts in berrah.toml are: {}",
                        known.keys().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
                    )
                }
            });
            self.error(span(a), format!("unknown account `{name}`"), help);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::campaign::validate::fixtures::{head, messages, run};

    #[test]
    fn account_languages_filter_required_texts() {
        let dir = tempfile::tempdir().unwrap();
        // `x` publishes French only: an Arabic-less post is fine there...
        let src = format!(
            "{}[[posts]]\nid = \"p\"\ndate_time = 2026-12-18T10:00:00\ntext = {{ fr = \"Salut\" }}\n",
            head("\"x\"")
        );
        let (_, d) = run(dir.path(), &src);
        assert!(d.is_empty(), "{:?}", messages(&d));
        // ...but not on Facebook.
        let (_, d) = run(dir.path(), &src.replace("\"x\"]", "\"fb\"]"));
        assert_eq!(
            messages(&d),
            ["error: post `p` has no `ar` text (it goes to fb)"]
        );
    }
}
