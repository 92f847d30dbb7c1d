//! A post's texts: none empty, one for every language it is published in,
//! none that is never published, variants for known platforms only, and
//! first comments and threads in every language of the post.

use std::collections::{BTreeMap, BTreeSet};

use super::accounts::{post_accounts, post_languages};
use super::posts::PostRef;
use super::{V, has_text, span};
use crate::campaign::suggest;
use crate::config::PlatformKind;

impl V<'_> {
    pub(super) fn texts(&mut self, p: &PostRef<'_>) {
        let post = p.post;
        let id = post.id.get_ref();
        for (lang, text) in &post.text {
            if text.get_ref().trim().is_empty() {
                self.error(
                    span(text),
                    format!("the `{lang}` text of post `{id}` is empty"),
                    format!("write the text, or remove `{lang}` from the post's languages"),
                );
            }
        }
        for (name, variant) in &post.variants {
            if PlatformKind::from_name(name).is_none() {
                let names = PlatformKind::ALL.map(PlatformKind::as_str);
                let help = suggest::did_you_mean(name, names)
                    .or_else(|| (name == "twitter").then(|| "did you mean `x`?".to_string()))
                    .unwrap_or_else(|| format!("platforms are: {}", names.join(", ")));
                let at = variant
                    .text
                    .values()
                    .next()
                    .map(|t| t.span())
                    .or(Some(post.id.span()));
                self.error(
                    at,
                    format!("post `{id}` has a variant for unknown platform `{name}`"),
                    help,
                );
            }
            for (lang, t) in variant
                .text
                .iter()
                .chain(&variant.title)
                .chain(&variant.description)
            {
                if t.get_ref().trim().is_empty() {
                    self.error(
                        span(t),
                        format!("the `{lang}` {name} variant of post `{id}` is empty"),
                        "write the text, or remove the line to use the post's own text",
                    );
                }
            }
        }
        // Every language the post is published in needs a text.
        let mut needed: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let accounts = post_accounts(self.c, post);
        if accounts.is_empty() {
            for l in post_languages(self.c, post, None) {
                needed.entry(l).or_default();
            }
        }
        for a in accounts {
            let acc = self.ctx.config.accounts.get(a.get_ref());
            for l in post_languages(self.c, post, acc) {
                needed.entry(l).or_default().push(a.get_ref().clone());
            }
        }
        for (lang, accs) in needed {
            // An invalid code (`FR`) is reported once, where it is written.
            if !post.text.contains_key(&lang) && super::ids::is_valid_lang(&lang) {
                let on = if accs.is_empty() {
                    String::new()
                } else {
                    format!(" (it goes to {})", accs.join(", "))
                };
                let style = crate::campaign::style::Style::of(&self.c.source);
                self.error(
                    span(&post.id),
                    format!("post `{id}` has no `{lang}` text{on}"),
                    style.add_text(p.table(), "text", &lang),
                );
            }
        }
        let published: BTreeSet<String> = if accounts.is_empty() {
            post_languages(self.c, post, None).into_iter().collect()
        } else {
            accounts
                .iter()
                .flat_map(|a| {
                    post_languages(self.c, post, self.ctx.config.accounts.get(a.get_ref()))
                })
                .collect()
        };
        // An account that publishes only some languages: say which, by name.
        let limited: Vec<(&str, &Vec<String>)> = accounts
            .iter()
            .filter_map(|a| {
                let langs = self
                    .ctx
                    .config
                    .accounts
                    .get(a.get_ref())?
                    .languages
                    .as_ref()?;
                Some((a.get_ref().as_str(), langs))
            })
            .collect();
        for a in accounts {
            let acc = self.ctx.config.accounts.get(a.get_ref());
            if let Some(allowed) = acc.and_then(|c| c.languages.as_ref())
                && post_languages(self.c, post, acc).is_empty()
                && !post_languages(self.c, post, None).is_empty()
            {
                let langs = post_languages(self.c, post, None).join(", ");
                self.error(
                    span(a),
                    format!(
                        "post `{id}` goes to account `{}`, which publishes only {}, but the post is in {langs}",
                        a.get_ref(),
                        allowed.join(", ")
                    ),
                    format!(
                        "add a text in {} (and that language to the post's `languages`), or send this post to another account",
                        allowed.join(" or ")
                    ),
                );
            }
        }
        for (lang, text) in &post.text {
            if !published.contains(lang) {
                let refusing: Vec<String> = limited
                    .iter()
                    .filter(|(_, l)| !l.contains(lang))
                    .map(|(a, l)| format!("`{a}` publishes only {}", l.join(", ")))
                    .collect();
                let declared_langs = post_languages(self.c, post, None);
                if declared_langs
                    .iter()
                    .any(|l| l != lang && l.to_lowercase() == *lang)
                {
                    // `languages = ["FR"]`: the code is the mistake, reported as such.
                    continue;
                }
                let declared = declared_langs.contains(lang);
                let (message, help) = if declared && !refusing.is_empty() {
                    (
                        format!(
                            "the `{lang}` text of post `{id}` is never published: account {}",
                            refusing.join(", account ")
                        ),
                        format!(
                            "send the post to an account that publishes {lang}, add \"{lang}\" to that account's `languages` in berrah.toml, or remove this text"
                        ),
                    )
                } else {
                    (
                        format!("the `{lang}` text of post `{id}` is never published"),
                        format!(
                            "add \"{lang}\" to the `languages` of the campaign or of the post, or remove this text"
                        ),
                    )
                };
                self.warning(span(text), message, help);
            }
        }
        // A first comment or a thread in some languages only: the other
        // languages' posts go out without it, which is rarely meant.
        let parts = std::iter::once(("first comment", &post.first_comment))
            .chain(post.thread.iter().map(|t| ("thread", t)));
        for (what, texts) in parts {
            let Some(first) = texts.values().next() else {
                continue;
            };
            let missing: Vec<&str> = published
                .iter()
                .filter(|l| !has_text(texts, l))
                .map(String::as_str)
                .collect();
            if !missing.is_empty() {
                self.warning(
                    span(first),
                    format!(
                        "the {what} of post `{id}` has no {} text: those posts go out without it",
                        missing.join(", ")
                    ),
                    match (what, missing.as_slice()) {
                        ("first comment", [l]) => crate::campaign::style::Style::of(&self.c.source)
                            .add_text(p.table(), "first_comment", l),
                        _ => format!(
                            "add {}",
                            missing
                                .iter()
                                .map(|l| format!("`{l} = \"...\"`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    },
                );
            }
        }
        if post_accounts(self.c, post).is_empty() {
            self.error(
                span(&post.id),
                format!("post `{id}` goes to no account"),
                "add `accounts = [\"...\"]` to `[campaign]` or to the post (ids from berrah.toml)",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::campaign::validate::fixtures::{head, messages, run};

    #[test]
    fn a_text_in_a_language_nobody_publishes_is_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        let src = format!(
            "{}[[posts]]\nid = \"p\"\ndate_time = 2026-12-18T10:00:00\ntext = {{ fr = \"a\", ar = \"b\", en = \"c\" }}\n",
            head("\"fb\"")
        );
        let (_, d) = run(dir.path(), &src);
        assert_eq!(
            messages(&d),
            ["warning: the `en` text of post `p` is never published"]
        );
        let src = src.replace(
            ", en = \"c\" }",
            " }\nfirst_comment = { fr = \"Lien\" }\nthread = [{ fr = \"1\", ar = \"١\" }]",
        );
        let (_, d) = run(dir.path(), &src);
        assert_eq!(
            messages(&d),
            [
                "warning: the first comment of post `p` has no ar text: those posts go out without it"
            ]
        );
    }
}
