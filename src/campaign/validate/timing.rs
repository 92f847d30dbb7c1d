//! When a post goes out: exactly one of `at`, `date_time` and `cron`, the
//! day an `at` is on (an anchor), `days_before`/`days_after`, and the
//! `expires_after` window. Zones, days and cron expressions themselves are
//! the plan's to check.

use super::posts::PostRef;
use super::{V, span};
use crate::campaign::model::{Anchor, Spanned};

impl V<'_> {
    /// Read exactly as the plan reads it ([`crate::plan::parse_duration`]),
    /// so that what `check` accepts is what the daemon uses.
    pub(super) fn duration(&mut self, value: &Spanned<String>) {
        let text = value.get_ref();
        match crate::plan::parse_duration(text) {
            Ok(d) if d > crate::plan::MAX_EXPIRY => self.error(
                span(value),
                format!(
                    "`expires_after = \"{text}\"` is too long: at most {} days",
                    crate::plan::MAX_EXPIRY.as_hours() / 24
                ),
                "write how late the post may still go out, such as \"6h\" or \"2 days\"",
            ),
            Ok(d) if d.is_positive() => {}
            Ok(_) => self.error(
                span(value),
                format!("`expires_after = \"{text}\"` must be longer than zero"),
                "write a positive duration such as \"6h\" or \"2 days\"",
            ),
            Err(_) => self.error(
                span(value),
                format!("`{text}` is not a duration"),
                match french_duration(text) {
                    Some(d) => format!("write it in English: `expires_after = \"{d}\"`"),
                    None => "write a duration such as \"6h\", \"90 minutes\" or \"2 days\"".into(),
                },
            ),
        }
    }

    pub(super) fn anchor_shape(&mut self, anchor: &Spanned<Anchor>) {
        let a = anchor.get_ref();
        match (&a.day, &a.date) {
            (Some(_), Some(date)) => self.error(
                span(date),
                "an anchor has either `day` or `date`, not both",
                "keep `day = \"...\"` for a named day or `date = YYYY-MM-DD` for a fixed date",
            ),
            (None, None) => self.error(
                span(anchor),
                "this anchor names no day",
                "write `anchor = { day = \"international-migrants-day\" }` or `anchor = { date = 2026-12-18 }`",
            ),
            _ => {}
        }
    }

    pub(super) fn timing(&mut self, p: &PostRef<'_>) {
        let post = p.post;
        let id = post.id.get_ref();
        let set: Vec<&str> = [
            post.at.as_ref().map(|_| "at"),
            post.date_time.as_ref().map(|_| "date_time"),
            post.cron.as_ref().map(|_| "cron"),
        ]
        .into_iter()
        .flatten()
        .collect();
        if set.is_empty() {
            self.error(
                span(&post.id),
                format!("post `{id}` does not say when it goes out"),
                "add one of: `at = 10:00` (on the anchor day), `date_time = 2026-12-18T10:00:00`, `cron = \"0 10 * * TUE\"`",
            );
        } else if set.len() > 1 {
            let second = if set[1] == "date_time" {
                post.date_time.as_ref().map(|s| s.span())
            } else {
                post.cron.as_ref().map(|s| s.span())
            };
            self.error(
                second,
                format!("post `{id}` has both `{}` and `{}`", set[0], set[1]),
                "keep exactly one of `at`, `date_time` and `cron`",
            );
        }
        if let (Some(_), Some(after)) = (&post.days_before, &post.days_after) {
            self.error(
                span(after),
                format!("post `{id}` has both `days_before` and `days_after`"),
                "keep one of them: `days_before = 2` or `days_after = 1`",
            );
        }
        if post.at.is_none() {
            for d in [&post.days_before, &post.days_after].into_iter().flatten() {
                self.error(
                    span(d),
                    "`days_before` and `days_after` only work with `at`",
                    "add `at = 10:00` (a time on the anchor day), or remove this line",
                );
            }
        }
        if let Some(at) = &post.at
            && post.anchor.is_none()
            && p.capsule.is_none()
        {
            self.error(
                span(at),
                format!("post `{id}` has `at` but no day to be on"),
                "add `anchor = { day = \"international-migrants-day\" }` (or `date = 2026-12-18`) to the post, or use `date_time = 2026-12-18T10:00:00`",
            );
        }
        if let Some(a) = &post.anchor {
            self.anchor_shape(a);
        }
    }
}

/// A duration written in French (`6 heures`, `2 jours`, `30 min`, `1 semaine`)
/// as berrah reads it (`6h`, `2 days`, `30 minutes`, `7 days`).
fn french_duration(text: &str) -> Option<String> {
    let t = crate::campaign::explain::strip_accents(&text.trim().to_lowercase());
    let digits: String = t.chars().take_while(char::is_ascii_digit).collect();
    let n: u64 = digits.parse().ok()?;
    let unit = t[digits.len()..].trim();
    Some(match unit {
        "heure" | "heures" | "hr" | "hrs" => format!("{n}h"),
        "jour" | "jours" | "j" => format!("{n} days"),
        "semaine" | "semaines" | "sem" => format!("{} days", n.checked_mul(7)?),
        "mn" | "minute" | "minutes" => format!("{n} minutes"),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use crate::campaign::validate::fixtures::{head, messages, run};

    #[test]
    fn timing_keys() {
        let dir = tempfile::tempdir().unwrap();
        let src = format!(
            "{}[[posts]]\nid = \"none\"\ntext = {{ fr = \"a\", ar = \"b\" }}\n\
             [[posts]]\nid = \"orphan\"\ndays_after = 2\ndate_time = 2026-12-18T10:00:00\ntext = {{ fr = \"a\", ar = \"b\" }}\n\
             [[posts]]\nid = \"both\"\nat = 10:00\nanchor = {{ day = \"x\", date = 2026-12-18 }}\ntext = {{ fr = \"a\", ar = \"b\" }}\nexpires_after = \"2 days\"\n",
            head("\"fb\"")
        );
        let (_, d) = run(dir.path(), &src);
        let m = messages(&d);
        assert!(
            m.contains(&"error: post `none` does not say when it goes out".to_string()),
            "{m:?}"
        );
        assert!(m.iter().any(|s| s.contains("only work with `at`")), "{m:?}");
        assert!(
            m.iter().any(|s| s.contains("either `day` or `date`")),
            "{m:?}"
        );
        assert_eq!(m.len(), 3, "{m:?}");
    }

    #[test]
    fn an_absurd_expiry_is_an_error_at_its_value() {
        let dir = tempfile::tempdir().unwrap();
        let src = format!(
            "{}[[posts]]\nid = \"p\"\ndate_time = 2026-12-18T10:00:00\ntext = {{ fr = \"a\", ar = \"b\" }}\nexpires_after = \"99999999999 days\"\n",
            head("\"fb\"")
        );
        let (c, d) = run(dir.path(), &src);
        assert_eq!(
            messages(&d),
            ["error: `expires_after = \"99999999999 days\"` is too long: at most 3650 days"]
        );
        assert_eq!(
            &c.source[d[0].span.clone().unwrap()],
            "\"99999999999 days\""
        );
    }

    #[test]
    fn french_durations_get_the_english_form() {
        use super::french_duration;
        assert_eq!(french_duration("6 heures").as_deref(), Some("6h"));
        assert_eq!(french_duration("2 jours").as_deref(), Some("2 days"));
        assert_eq!(french_duration("1 semaine").as_deref(), Some("7 days"));
        assert_eq!(french_duration("bientôt"), None);
    }
}
