//! Diagnostics: what `berrah check` (and the daemon, on a broken file) tells people.
//!
//! Every problem found in a file is a [`Diagnostic`] with a byte span into that
//! file. Rendering turns it into the form compilers use, which editors and CI
//! logs understand:
//!
//! ```text
//! campaigns/amal.toml:12:11: error: unknown time zone `Africa/Casablance`
//!    |
//! 12 | timezone = "Africa/Casablance"
//!    |            ^^^^^^^^^^^^^^^^^^^
//!    = help: did you mean `Africa/Casablanca`?
//! ```
//!
//! Lines and columns are 1-based; columns count characters, not bytes, so
//! that they are right in Arabic text too.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// One problem in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub path: PathBuf,
    /// Byte range in the file; `None` for problems of the file as a whole.
    pub span: Option<Range<usize>>,
    pub severity: Severity,
    pub message: String,
    /// What to write instead.
    pub help: Option<String>,
    /// The span may hold a secret (a token pasted where its source was
    /// expected): the rendered line shows `********` from the span's start
    /// to the end of the line, and the caret is as wide as the stars.
    pub masked: bool,
}

impl Diagnostic {
    pub fn error(
        path: impl Into<PathBuf>,
        span: Option<Range<usize>>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            path: path.into(),
            span,
            severity: Severity::Error,
            message: message.into(),
            help: None,
            masked: false,
        }
    }

    pub fn warning(
        path: impl Into<PathBuf>,
        span: Option<Range<usize>>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(path, span, message)
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Never shows the span's text: see [`Diagnostic::masked`].
    pub fn masked(mut self) -> Self {
        self.masked = true;
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// 1-based line and character column of the span's start in `source`.
    pub fn line_col(&self, source: &str) -> (usize, usize) {
        match &self.span {
            Some(span) => line_col(source, span.start),
            None => (1, 1),
        }
    }

    /// The compiler-style rendering: header, offending line, caret, help.
    /// `source` is the file's text (or `None` when it could not be read).
    pub fn render(&self, source: Option<&str>) -> String {
        let mut out = String::new();
        let (line, col) = source.map(|s| self.line_col(s)).unwrap_or((1, 1));
        out.push_str(&format!(
            "{}:{}:{}: {}: {}\n",
            self.path.display(),
            line,
            col,
            self.severity,
            self.message
        ));
        if let (Some(source), Some(span)) = (source, &self.span)
            && let Some(text) = source.lines().nth(line - 1)
        {
            let gutter = line.to_string().len();
            let pad = " ".repeat(gutter);
            // The caret covers the span on this line, at least one character.
            let line_start = source[..span.start.min(source.len())]
                .rfind('\n')
                .map_or(0, |i| i + 1);
            let end = span.end.min(line_start + text.len()).max(span.start);
            let mut width = source
                .get(span.start..end)
                .map_or(1, |s| s.chars().count())
                .max(1);
            let masked_text;
            let text = if self.masked {
                const STARS: &str = "********";
                let keep = text
                    .char_indices()
                    .nth(col - 1)
                    .map_or(text.len(), |(i, _)| i);
                masked_text = format!("{}{STARS}", &text[..keep]);
                width = STARS.len();
                masked_text.as_str()
            } else {
                text
            };
            out.push_str(&format!(
                "{pad} |\n{line} | {text}\n{pad} | {}{}\n",
                " ".repeat(col - 1),
                "^".repeat(width)
            ));
            if let Some(help) = &self.help {
                out.push_str(&format!("{pad} = help: {help}\n"));
            }
            return out;
        }
        if let Some(help) = &self.help {
            out.push_str(&format!("  = help: {help}\n"));
        }
        out
    }
}

/// 1-based line and character column of byte `offset` in `source`.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(source.len());
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = source[line_start..offset].chars().count() + 1;
    (line, col)
}

/// Diagnostics together with the sources they point into, ready to print.
#[derive(Debug, Default)]
pub struct Report {
    pub diagnostics: Vec<Diagnostic>,
    sources: Vec<(PathBuf, String)>,
}

impl Report {
    pub fn add_source(&mut self, path: impl Into<PathBuf>, text: impl Into<String>) {
        self.sources.push((path.into(), text.into()));
    }

    pub fn push(&mut self, d: Diagnostic) {
        self.diagnostics.push(d);
    }

    pub fn extend(&mut self, ds: impl IntoIterator<Item = Diagnostic>) {
        self.diagnostics.extend(ds);
    }

    /// Adds another report's diagnostics and sources.
    pub fn merge(&mut self, other: Report) {
        self.diagnostics.extend(other.diagnostics);
        self.sources.extend(other.sources);
    }

    pub fn source(&self, path: &Path) -> Option<&str> {
        self.sources
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, t)| t.as_str())
    }

    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    pub fn count(&self, severity: Severity) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == severity)
            .count()
    }

    /// Sorted by file, then position, then errors before warnings.
    pub fn sorted(&self) -> Vec<&Diagnostic> {
        let mut v: Vec<&Diagnostic> = self.diagnostics.iter().collect();
        v.sort_by(|a, b| {
            (
                &a.path,
                a.span.as_ref().map(|s| s.start),
                std::cmp::Reverse(a.severity),
            )
                .cmp(&(
                    &b.path,
                    b.span.as_ref().map(|s| s.start),
                    std::cmp::Reverse(b.severity),
                ))
        });
        v
    }

    /// Every diagnostic rendered, one after another.
    pub fn render(&self) -> String {
        self.sorted()
            .into_iter()
            .map(|d| d.render(self.source(&d.path)))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_path_line_column_caret_and_help() {
        let src = "[campaign]\ntimezone = \"Africa/Casablance\"\n";
        let start = src.find('"').unwrap();
        let d = Diagnostic::error(
            "c.toml",
            Some(start..start + 19),
            "unknown time zone `Africa/Casablance`",
        )
        .with_help("did you mean `Africa/Casablanca`?");
        let out = d.render(Some(src));
        assert!(
            out.starts_with("c.toml:2:12: error: unknown time zone"),
            "{out}"
        );
        assert!(
            out.contains(
                "2 | timezone = \"Africa/Casablance\"\n  |            ^^^^^^^^^^^^^^^^^^^\n"
            ),
            "{out}"
        );
        assert!(
            out.contains("= help: did you mean `Africa/Casablanca`?"),
            "{out}"
        );
    }

    #[test]
    fn a_masked_span_never_shows_its_text_nor_its_length() {
        let src = "[accounts.a]\ncredentials = \"sk-SECRET-123\" # pasted\nx = 1\n";
        let start = src.find("\"sk").unwrap();
        let d = Diagnostic::error("b.toml", Some(start..start + 15), "not a source").masked();
        let out = d.render(Some(src));
        assert!(!out.contains("SECRET"), "{out}");
        assert!(!out.contains("pasted"), "{out}");
        assert!(
            out.contains("2 | credentials = ********\n  |               ^^^^^^^^\n"),
            "{out}"
        );
        assert!(out.starts_with("b.toml:2:15: error: not a source"), "{out}");
    }

    #[test]
    fn columns_count_characters_in_arabic_text() {
        let src = "text = \"مرحبا\" x";
        let offset = src.rfind('x').unwrap();
        assert_eq!(line_col(src, offset), (1, 16));
    }

    #[test]
    fn offsets_past_the_end_or_inside_a_character_do_not_panic() {
        let src = "é";
        assert_eq!(line_col(src, 1), (1, 1));
        assert_eq!(line_col(src, 99), (1, 2));
        let d = Diagnostic::error("f", Some(50..60), "m");
        let _ = d.render(Some(src));
    }
}
