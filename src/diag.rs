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
        let (line, col) = source.map(|s| self.line_col(s)).unwrap_or((1, 1));
        self.render_at(source, line, col)
    }

    /// [`Self::render`] with the span's line and column already known (a
    /// [`Report`] counts lines once per file, not once per diagnostic).
    fn render_at(&self, source: Option<&str>, line: usize, col: usize) -> String {
        let mut out = String::new();
        out.push_str(&format!(
            "{}:{}:{}: {}: {}\n",
            self.path.display(),
            line,
            col,
            self.severity,
            self.message
        ));
        if let (Some(source), Some(span)) = (source, &self.span)
            && let Some(text) = line_at(source, span.start)
        {
            let gutter = line.to_string().len();
            let pad = " ".repeat(gutter);
            // The caret covers the span on this line, at least one character.
            let line_start = source[..floor_char_boundary(source, span.start)]
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

/// The line holding byte `offset` (as `str::lines` gives it: no `\n`, no
/// final `\r`), or `None` past the last line; in the line's length, not the
/// file's.
fn line_at(source: &str, offset: usize) -> Option<&str> {
    let offset = floor_char_boundary(source, offset);
    let start = source[..offset].rfind('\n').map_or(0, |i| i + 1);
    if start >= source.len() {
        return None;
    }
    let rest = &source[start..];
    let line = rest.find('\n').map_or(rest, |i| &rest[..i]);
    Some(line.strip_suffix('\r').unwrap_or(line))
}

/// `offset`, at most the end of `source`, moved back to a character's start.
fn floor_char_boundary(source: &str, offset: usize) -> usize {
    let mut offset = offset.min(source.len());
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
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

    /// [`Self::sorted`], each with its 1-based line and column ((1, 1) when
    /// it has no span or no source). Lines are counted on from the previous
    /// diagnostic of the same file: once per file, however many diagnostics
    /// it has (10,000 errors in a 1 MiB file counted from its start each
    /// time took minutes).
    pub fn sorted_with_positions(&self) -> Vec<(&Diagnostic, Option<&str>, usize, usize)> {
        let mut at: Option<(&Path, usize, usize)> = None;
        self.sorted()
            .into_iter()
            .map(|d| {
                let source = self.source(&d.path);
                let (Some(src), Some(span)) = (source, &d.span) else {
                    return (d, source, 1, 1);
                };
                let offset = floor_char_boundary(src, span.start);
                let (from, line) = match at {
                    Some((p, o, l)) if p == d.path.as_path() && o <= offset => (o, l),
                    _ => (0, 1),
                };
                let line = line + src[from..offset].bytes().filter(|b| *b == b'\n').count();
                at = Some((d.path.as_path(), offset, line));
                let line_start = src[..offset].rfind('\n').map_or(0, |i| i + 1);
                let col = src[line_start..offset].chars().count() + 1;
                (d, source, line, col)
            })
            .collect()
    }

    /// Every diagnostic rendered, one after another.
    pub fn render(&self) -> String {
        self.sorted_with_positions()
            .into_iter()
            .map(|(d, source, line, col)| d.render_at(source, line, col))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Counting lines once per file gives what counting from the start
        /// for each diagnostic gives, spans anywhere (CRLF, multibyte, past
        /// the end included).
        #[test]
        fn a_report_renders_each_diagnostic_as_it_renders_alone(
            text in "(a|é|\\r\\n|\\n|x y|مرحبا){0,40}",
            spans in proptest::collection::vec((0usize..200, 0usize..20), 0..12),
        ) {
            let mut report = Report::default();
            report.add_source("f.toml", text.clone());
            for (start, len) in &spans {
                report.push(Diagnostic::error("f.toml", Some(*start..start + len), "m").with_help("h"));
            }
            report.push(Diagnostic::warning("g.toml", Some(0..1), "no source"));
            let alone: Vec<String> = report
                .sorted()
                .into_iter()
                .map(|d| d.render(report.source(&d.path)))
                .collect();
            proptest::prop_assert_eq!(report.render(), alone.join("\n"));
        }
    }

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
