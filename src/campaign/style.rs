//! The way a campaign file is written, so that a help line suggests a fix
//! in the file's own style: `text.ar = "..."` in a file that writes dotted
//! keys, `text = { ar = "..." }` in one that writes braces, a `[posts.text]`
//! section in one that writes sections. Pure.

/// How a file writes the texts of its posts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// `text.fr = "..."`
    Dotted,
    /// `text = { fr = "..." }`
    Braces,
    /// `[posts.text]` then `fr = "..."`
    Sections,
}

impl Style {
    /// The style most of the file's per-language texts are written in
    /// (braces when there is none yet).
    pub fn of(source: &str) -> Style {
        let (mut dotted, mut braces, mut sections) = (0usize, 0usize, 0usize);
        for line in source.lines() {
            let t = line.trim_start();
            if t.starts_with('#') {
                continue;
            }
            if t.starts_with('[') && !t.starts_with("[[") && t.trim_end().ends_with(".text]") {
                sections += 1;
                continue;
            }
            let Some((key, value)) = t.split_once('=') else {
                continue;
            };
            let key = key.trim();
            let is_text_key = |k: &str| {
                matches!(
                    k,
                    "text" | "first_comment" | "alt" | "title" | "description" | "names"
                )
            };
            match key.split_once('.') {
                Some((head, lang)) if is_text_key(head) && lang.len() <= 3 => dotted += 1,
                None if is_text_key(key) && value.trim_start().starts_with('{') => braces += 1,
                _ => {}
            }
        }
        if dotted > braces && dotted >= sections {
            Style::Dotted
        } else if sections > braces && sections > dotted {
            Style::Sections
        } else {
            Style::Braces
        }
    }

    /// How to add `field` in `lang` to the post of `table` (`posts` or
    /// `capsules.posts`), as a help line's fix.
    pub fn add_text(self, table: &str, field: &str, lang: &str) -> String {
        match self {
            Style::Dotted => format!("add a line `{field}.{lang} = \"...\"` under the post"),
            Style::Braces => {
                format!("add `{lang} = \"...\"` inside its `{field} = {{ ... }}`")
            }
            Style::Sections => {
                format!("add `{lang} = \"...\"` under its `[{table}.{field}]` section")
            }
        }
    }

    /// How to write a per-platform variant of `field` in `lang`.
    pub fn variant(self, table: &str, platform: &str, field: &str, lang: &str) -> String {
        match self {
            Style::Dotted => {
                format!("a line `variants.{platform}.{field}.{lang} = \"...\"` under the post")
            }
            Style::Braces | Style::Sections => format!(
                "a `[{table}.variants.{platform}]` section under the post: `{field}.{lang} = \"...\"`"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_style_of_the_file_is_the_style_of_the_fix() {
        let dotted = "[[posts]]\nid = \"a\"\ntext.fr = \"x\"\ntext.ar = \"y\"\n";
        assert_eq!(Style::of(dotted), Style::Dotted);
        assert_eq!(
            Style::of(dotted).add_text("posts", "text", "en"),
            "add a line `text.en = \"...\"` under the post"
        );
        let braces = "[[posts]]\ntext = { fr = \"x\" } # note\n";
        assert_eq!(Style::of(braces), Style::Braces);
        assert_eq!(
            Style::of(braces).add_text("posts", "text", "ar"),
            "add `ar = \"...\"` inside its `text = { ... }`"
        );
        let sections = "[[posts]]\nid = \"a\"\n[posts.text]\nfr = \"x\"\n";
        assert_eq!(Style::of(sections), Style::Sections);
        assert_eq!(Style::of(""), Style::Braces);
        assert_eq!(
            Style::Dotted.variant("posts", "x", "text", "fr"),
            "a line `variants.x.text.fr = \"...\"` under the post"
        );
    }
}
