//! Ids (of the campaign, its days, capsules and posts) and language codes:
//! their shape, and ids used twice.

use std::collections::HashMap;
use std::ops::Range;

use super::{V, span};
use crate::campaign::model::Spanned;

/// Whether `id` is made of lowercase ASCII letters, digits and `-`, starting
/// with a letter or digit.
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && !id.starts_with('-')
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// A suggestion for an invalid id: lowercased, other characters turned into `-`.
fn id_suggestion(id: &str) -> String {
    let mut out = String::new();
    for c in id.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let out = out.trim_end_matches('-').to_string();
    if out.is_empty() { "my-id".into() } else { out }
}

/// Whether `code` looks like a BCP 47 language code (`fr`, `ar`, `en`, `fr-MA`, `ber`).
pub fn is_valid_lang(code: &str) -> bool {
    let mut parts = code.split('-');
    let Some(lang) = parts.next() else {
        return false;
    };
    (2..=3).contains(&lang.len())
        && lang.bytes().all(|b| b.is_ascii_lowercase())
        && parts.all(|p| (2..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

impl V<'_> {
    pub(super) fn id(&mut self, what: &str, id: &Spanned<String>) {
        let v = id.get_ref();
        if !is_valid_id(v) {
            self.error(
                span(id),
                format!("{what} id `{v}` may only have lowercase letters, digits and `-`"),
                format!("write it as `{}`", id_suggestion(v)),
            );
        }
    }

    pub(super) fn duplicates<'b>(
        &mut self,
        what: &str,
        ids: impl Iterator<Item = &'b Spanned<String>>,
        scope: &str,
    ) {
        // The first of each id, and its line once a second one is found:
        // counting lines for each repeat would cost the file's length each
        // time (a file of 10,000 posts with one id took minutes).
        let mut seen: HashMap<&str, (Range<usize>, Option<usize>)> = HashMap::new();
        for id in ids {
            if let Some((first, line)) = seen.get_mut(id.get_ref().as_str()) {
                let line = *line
                    .get_or_insert_with(|| crate::diag::line_col(&self.c.source, first.start).0);
                self.error(
                    span(id),
                    format!(
                        "{what} id `{}` is used twice {scope} (first on line {line})",
                        id.get_ref()
                    ),
                    format!("give each {what} its own id, e.g. `{}-2`", id.get_ref()),
                );
            } else {
                seen.insert(id.get_ref(), (id.span(), None));
            }
        }
    }

    pub(super) fn languages(&mut self, langs: &[Spanned<String>]) {
        for l in langs {
            if !is_valid_lang(l.get_ref()) {
                self.error(
                    span(l),
                    format!("`{}` is not a language code", l.get_ref()),
                    "write a lowercase code such as \"fr\", \"ar\" or \"en\"",
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_languages() {
        assert!(is_valid_id("amal-2026"));
        assert!(!is_valid_id("Amal_2026"));
        assert!(!is_valid_id("-a"));
        assert!(!is_valid_id(""));
        assert_eq!(id_suggestion("Migrants B7al!"), "migrants-b7al");
        assert!(is_valid_lang("fr") && is_valid_lang("fr-MA") && is_valid_lang("ber"));
        assert!(!is_valid_lang("FR") && !is_valid_lang("french") && !is_valid_lang(""));
    }
}
