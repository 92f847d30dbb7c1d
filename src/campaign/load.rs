//! Reading campaign files and turning TOML errors into diagnostics that say
//! what to write instead.
//!
//! The `toml` crate's messages are written for programmers ("invalid type:
//! integer `1`, expected a string"); comms teams get the same facts in their
//! words, with the key, an example line and, for a misspelt key, the closest
//! expected one.

use std::path::Path;

use serde::de::DeserializeOwned;

use super::{explain, suggest};
use crate::diag::Diagnostic;

/// Files larger than this are refused: a campaign file is a few kilobytes, and
/// a huge one is a mistake (a video saved as `.toml`) that must not stall the daemon.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Why a file could not be read as text: the one diagnostic to show for it
/// and, when there is text to point into (a file that is not UTF-8, shown
/// with its bad bytes replaced), that text.
#[derive(Debug, Clone)]
pub struct Unreadable {
    pub diagnostic: Box<Diagnostic>,
    pub shown: Option<String>,
}

impl From<Diagnostic> for Unreadable {
    fn from(diagnostic: Diagnostic) -> Self {
        Unreadable {
            diagnostic: Box::new(diagnostic),
            shown: None,
        }
    }
}

/// Reads a configuration file as text, refusing what cannot be one: not a
/// regular file (a FIFO is opened without blocking and refused on its
/// handle), too large, binary, not UTF-8.
pub fn read_source(path: &Path) -> Result<String, Unreadable> {
    let opened = crate::media::open::open_regular(path).map_err(|e| open_error(path, e))?;
    read_opened(path, &opened)
}

/// Reads the campaign file `path`, which must be directly in `dir`, as
/// text: opened beneath `dir` (a link leading out of the folder is
/// refused), without blocking (a FIFO or a device named `*.toml` is an
/// error on its handle, never a wait), then as [`read_source`].
pub fn read_source_beneath(dir: &Path, path: &Path) -> Result<String, Unreadable> {
    let Some(name) = path.file_name() else {
        return Err(Diagnostic::error(path, None, "this is not a file").into());
    };
    let opened =
        crate::media::open::open_beneath(dir, Path::new(name)).map_err(|e| open_error(path, e))?;
    read_opened(path, &opened)
}

fn open_error(path: &Path, e: crate::media::open::MediaError) -> Unreadable {
    use crate::media::open::MediaError;
    let d = match e {
        MediaError::Escapes { dir, .. } => Diagnostic::error(
            path,
            None,
            format!(
                "this file is a link to a file outside the campaign folder `{}`: berrah does not open it",
                dir.display()
            ),
        )
        .with_help("put the campaign file itself in the folder, not a link to it"),
        MediaError::NotRegular { what, .. } => Diagnostic::error(
            path,
            None,
            format!("this is {what}, not a file (named like a campaign file?)"),
        )
        .with_help("rename it so that its name does not end in `.toml`"),
        MediaError::Missing { .. } => {
            Diagnostic::error(path, None, "cannot read the file: it does not exist (any more)")
        }
        MediaError::Folder { source, .. } | MediaError::Io { source, .. } => {
            Diagnostic::error(path, None, format!("cannot read the file: {source}"))
        }
        MediaError::Outside { .. } => Diagnostic::error(path, None, "cannot read the file"),
    };
    d.into()
}

fn read_opened(
    path: &Path,
    opened: &crate::media::open::OpenedMedia,
) -> Result<String, Unreadable> {
    use std::io::Read;
    let too_large = |len: u64| -> Unreadable {
        Diagnostic::error(
            path,
            None,
            format!("the file is {len} bytes, more than a campaign file can be (1 MiB)"),
        )
        .with_help("is this really a campaign file? Split a very large campaign into several files")
        .into()
    };
    if opened.size > MAX_FILE_BYTES {
        return Err(too_large(opened.size));
    }
    let mut bytes = Vec::new();
    opened
        .reader()
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Diagnostic::error(path, None, format!("cannot read the file: {e}")))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large(bytes.len() as u64));
    }
    text_of(path, bytes)
}

/// The bytes as text, or why they are not. A UTF-8 byte-order mark is
/// dropped and Windows line endings (CRLF) become LF, so that a file saved
/// on Windows plans exactly as the same file saved elsewhere (no carriage
/// return reaches a published text, not even from a multi-line string).
pub fn text_of(path: &Path, bytes: Vec<u8>) -> Result<String, Unreadable> {
    // Notepad's "Unicode" is UTF-16: NUL bytes everywhere, but no binary.
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        return Err(Diagnostic::error(
            path,
            None,
            "the file is saved as UTF-16 (\"Unicode\" in Notepad), not as UTF-8 text",
        )
        .with_help("save the file as UTF-8 (in Notepad: File → Save as → Encoding: UTF-8)")
        .into());
    }
    if bytes.contains(&0) {
        return Err(Diagnostic::error(
            path,
            None,
            "the file is binary (it contains NUL bytes), not a TOML text file",
        )
        .with_help(
            "save the campaign as plain text (UTF-8), or move this file out of the campaign folder",
        )
        .into());
    }
    let bytes = match bytes.strip_prefix(b"\xEF\xBB\xBF") {
        Some(rest) => rest.to_vec(),
        None => bytes,
    };
    match String::from_utf8(bytes) {
        Ok(text) => Ok(normalize_newlines(text)),
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            // The valid prefix is the same in the lossy text: the span and
            // its line and column point at the first bad byte.
            let shown = normalize_newlines(String::from_utf8_lossy(e.as_bytes()).into_owned());
            let prefix =
                normalize_newlines(String::from_utf8_lossy(&e.as_bytes()[..at]).into_owned());
            let start = prefix.len();
            let end = shown[start..]
                .chars()
                .next()
                .map_or(start, |c| start + c.len_utf8());
            let (line, col) = crate::diag::line_col(&shown, start);
            Err(Unreadable {
                diagnostic: Box::new(Diagnostic::error(
                    path,
                    Some(start..end),
                    format!(
                        "the file is not valid UTF-8 text: its first byte that is not UTF-8 is at line {line}, column {col} (an accent saved as Latin-1 or Windows-1252?)"
                    ),
                )
                .with_help("save the file as UTF-8 (in most editors: \"Save with encoding\" → UTF-8)")),
                shown: Some(shown),
            })
        }
    }
}

/// CRLF line endings as LF (a lone CR is left for TOML to refuse).
fn normalize_newlines(text: String) -> String {
    if text.contains("\r\n") {
        text.replace("\r\n", "\n")
    } else {
        text
    }
}

/// Parses TOML into `T`, turning the error into a diagnostic.
pub fn parse<T: DeserializeOwned>(path: &Path, source: &str) -> Result<T, Diagnostic> {
    if source.trim().is_empty() {
        return Err(
            Diagnostic::error(path, None, "the file is empty").with_help(
                "a campaign file starts with a `[campaign]` section with `id`, `title`, `timezone`, \
             `start` and `end`, e.g. `[campaign]` then `id = \"amal-2026\"` on the next line",
            ),
        );
    }
    toml::from_str(source).map_err(|e| from_toml_error(path, source, &e))
}

/// Maps a `toml` error (its span and message) to a diagnostic with help.
///
/// A syntax error is explained where its cause is ([`explain::syntax_error`]);
/// an error of the format (an unknown key, a value of the wrong kind) is
/// explained at the key or value serde points at.
pub fn from_toml_error(path: &Path, source: &str, e: &toml::de::Error) -> Diagnostic {
    let span = e.span().map(|s| {
        let start = s.start.min(source.len());
        start..s.end.clamp(start, source.len())
    });
    let message = e.message().trim().to_string();
    if is_syntax(&message) {
        let at = span.unwrap_or(0..0);
        let x = explain::syntax_error(source, at, &message);
        return Diagnostic::error(path, Some(x.span), x.message).with_help(x.help);
    }
    let (msg, help) = explain(&message, span.as_ref().map(|s| (source, s.clone())));
    let d = Diagnostic::error(path, span, msg);
    match help {
        Some(h) => d.with_help(h),
        None => d,
    }
}

/// Whether a `toml` message is the parser's (the text is not TOML) rather
/// than serde's (TOML that is not a campaign file) or one of our values'.
fn is_syntax(message: &str) -> bool {
    const FORMAT: &[&str] = &[
        "unknown field",
        "unknown variant",
        "missing field",
        "invalid type:",
        "invalid value:",
        "invalid length",
    ];
    !FORMAT.iter().any(|p| message.starts_with(p)) && !message.contains("; write ")
}

/// Text between the first pair of backticks after `prefix`.
fn quoted_after<'a>(message: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = message.strip_prefix(prefix)?;
    let rest = rest.strip_prefix('`')?;
    Some(&rest[..rest.find('`')?])
}

/// The names listed after "expected one of" in serde's unknown-field message.
fn expected_names(message: &str) -> Vec<&str> {
    let Some(i) = message.find("expected") else {
        return Vec::new();
    };
    message[i..].split('`').skip(1).step_by(2).collect()
}

/// The key being assigned at `span` in `source`: `key` in `key = value`.
fn key_at(source: &str, span: &std::ops::Range<usize>) -> Option<String> {
    let upto = source.get(..span.start)?;
    let line_start = upto.rfind('\n').map_or(0, |i| i + 1);
    let before = &upto[line_start..];
    let eq = before.rfind('=')?;
    let key = before[..eq]
        .trim()
        .rsplit(['{', ',', ' '])
        .next()?
        .trim()
        .trim_matches('"');
    let key = key.rsplit('.').next().unwrap_or(key);
    (!key.is_empty()).then(|| key.to_string())
}

/// An example line for a key of the campaign or config format.
pub fn example_for(key: &str, expected: &str) -> Option<&'static str> {
    Some(match key {
        "id" => "id = \"amal-2026\"",
        "title" => "title = \"AMAL, la série\"",
        "timezone" => "timezone = \"Africa/Casablanca\"",
        "start" => "start = 2026-12-01",
        "end" => "end = 2027-03-31",
        "accounts" => "accounts = [\"oim-maroc-facebook\", \"unhcr-x\"]",
        "languages" => "languages = [\"fr\", \"ar\"]",
        "hashtags" => "hashtags = [\"#B7alB7al\"]",
        "expires_after" => "expires_after = \"6h\"",
        "paused" => "paused = false",
        "slug" => "slug = \"journee-amal\"",
        "month" => "month = 12",
        "day" if expected.contains("u8") || expected.contains("integer") => "day = 18",
        "day" => "day = \"international-migrants-day\"",
        "year" => "year = 2026",
        "date" => "date = 2026-12-18",
        "anchor" => "anchor = { day = \"international-migrants-day\" }",
        "file" => "file = \"media/capsule-1.mp4\"",
        "alt" => "alt = { fr = \"Une famille ...\", ar = \"...\" }",
        "thumbnail" => "thumbnail = \"media/capsule-1.jpg\"",
        "at" => "at = 10:00",
        "days_before" => "days_before = 2",
        "days_after" => "days_after = 1",
        "date_time" => "date_time = 2026-12-18T10:00:00",
        "not_after" => "not_after = 2026-12-18T22:00:00",
        "cron" => "cron = \"0 10 * * TUE\"",
        "text" => "text = { fr = \"Bonjour ...\", ar = \"مرحبا ...\" }",
        "first_comment" => "first_comment = { fr = \"...\" }",
        "media" => "media = [{ file = \"media/photo.jpg\", alt = { fr = \"...\" } }]",
        "thread" => "thread = [{ fr = \"...\" }]",
        "platform" => "platform = \"mastodon\"",
        "handle" => "handle = \"@oim_maroc\"",
        "base_url" => "base_url = \"https://mastodon.social\"",
        "credentials" => "credentials = \"env:BERRAH_MASTODON_TOKEN\"",
        "max_chars" => "max_chars = 500",
        "campaign" => "[campaign]",
        _ => return None,
    })
}

/// What serde found, in words: `string "2"` → `the text "2"`.
fn found_in_words(found: &str) -> String {
    let f = found.trim();
    let inner = |p: &str| {
        f.strip_prefix(p)
            .map(|r| r.trim().trim_matches('`').to_string())
    };
    if let Some(s) = inner("string") {
        format!("the text {s}")
    } else if let Some(n) = inner("integer") {
        format!("the number {n}")
    } else if let Some(n) = inner("floating point") {
        format!("the number {n}")
    } else if let Some(b) = inner("boolean") {
        format!("`{b}`")
    } else if f.starts_with("sequence") {
        "a list".into()
    } else if f.starts_with("map") {
        "a group `{ ... }`".into()
    } else {
        f.to_string()
    }
}

/// What a serde "expected ..." means, in words.
fn expected_in_words(expected: &str) -> String {
    let e = expected.trim();
    if e.contains("string") {
        "a text in double quotes".into()
    } else if [
        "u8", "u16", "u32", "u64", "usize", "i16", "i32", "i64", "integer",
    ]
    .iter()
    .any(|t| e.ends_with(t))
    {
        "a whole number without quotes, like 3".into()
    } else if e.contains("sequence") {
        "a list in square brackets `[...]`".into()
    } else if e.contains("boolean") {
        "`true` or `false`, without quotes".into()
    } else if e.contains("map") || e.starts_with("struct") {
        "a group in braces `{ ... }`".into()
    } else {
        e.to_string()
    }
}

/// The value written on the line of `span`, for help lines that repeat it.
fn value_on_line(source: &str, span: &std::ops::Range<usize>) -> Option<String> {
    let start = source.get(..span.start)?.rfind('\n').map_or(0, |i| i + 1);
    let end = source[span.start..]
        .find('\n')
        .map_or(source.len(), |i| span.start + i);
    let line = &source[start..end];
    let (_, value) = line.split_once('=')?;
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_string())
}

/// The closest allowed key to an unknown one: a typo, a word of the same
/// concept (`image` → `media`, `début` → `start`), or where it belongs.
fn unknown_key_help(key: &str, names: &[&str], value: Option<&str>) -> Option<String> {
    if let Some(k) = explain::key_for_word(key).filter(|k| names.contains(k)) {
        // The value as written may not fit the key meant: say the whole line.
        let text = value.filter(|v| v.starts_with('"') || v.starts_with('\''));
        return Some(match (k, text) {
            ("media", Some(v)) => format!(
                "did you mean `media`? write `media = [{{ file = {v}, alt = {{ fr = \"...\" }} }}]`"
            ),
            ("hashtags" | "languages" | "accounts", Some(v)) => {
                format!("did you mean `{k}`? write `{k} = [{v}]`")
            }
            _ => format!("did you mean `{k}`?"),
        });
    }
    let plain = explain::strip_accents(&key.to_lowercase());
    if let Some(h) = explain::home_of(&plain, names, value) {
        return Some(h);
    }
    suggest::did_you_mean(key, names.iter().copied())
}

fn explain(message: &str, at: Option<(&str, std::ops::Range<usize>)>) -> (String, Option<String>) {
    if let Some(key) = quoted_after(message, "unknown field ") {
        let names = expected_names(message);
        let value = at.as_ref().and_then(|(src, s)| value_on_line(src, s));
        let mut help = unknown_key_help(key, &names, value.as_deref());
        if help.is_none() && !names.is_empty() {
            help = Some(format!(
                "the keys allowed here are: {}",
                names
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        return (format!("unknown key `{key}`"), help);
    }
    if let Some(value) = quoted_after(message, "unknown variant ") {
        let names = expected_names(message);
        let help = suggest::did_you_mean(value, names.iter().copied()).unwrap_or_else(|| {
            format!(
                "write one of: {}",
                names
                    .iter()
                    .map(|n| format!("\"{n}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        });
        return (
            format!("`{value}` is not one of the allowed values"),
            Some(help),
        );
    }
    if let Some(key) = quoted_after(message, "missing field ") {
        let table = at
            .as_ref()
            .and_then(|(src, s)| src.get(s.clone()))
            .map(str::trim)
            .filter(|t| t.starts_with('['))
            .map(|t| format!(" in `{t}`"))
            .unwrap_or_default();
        let help = match example_for(key, "") {
            Some(ex) if key == "campaign" => {
                format!(
                    "add a `{ex}` section at the top of the file, with `id`, `title`, `timezone`, `start` and `end`"
                )
            }
            Some(ex) => format!("add a line such as: {ex}"),
            None => format!("add `{key} = ...`"),
        };
        return (format!("missing key `{key}`{table}"), Some(help));
    }
    if let Some(rest) = message.strip_prefix("invalid type: ") {
        let (found, expected) = rest.split_once(", expected ").unwrap_or((rest, ""));
        let key = at.as_ref().and_then(|(src, s)| key_at(src, s));
        let want = expected_in_words(expected);
        let msg = match &key {
            Some(k) => format!("`{k}` must be {want}, not {}", found_in_words(found)),
            None => format!("this must be {want}, not {}", found_in_words(found)),
        };
        let help = key
            .as_deref()
            .and_then(|k| example_for(k, expected))
            .map(|ex| format!("for example: {ex}"));
        return (msg, help);
    }
    if let Some(rest) = message.strip_prefix("invalid value: ") {
        let (found, expected) = rest.split_once(", expected ").unwrap_or((rest, ""));
        let key = at.as_ref().and_then(|(src, s)| key_at(src, s));
        let number = found
            .strip_prefix("integer `")
            .and_then(|n| n.strip_suffix('`'))
            .and_then(|n| n.parse::<i64>().ok());
        if let (Some(k), Some(n)) = (key.as_deref(), number)
            && n < 0
        {
            let other = match k {
                "days_before" => Some("days_after"),
                "days_after" => Some("days_before"),
                _ => None,
            };
            let help = match other {
                Some(o) => {
                    let side = if o == "days_after" { "after" } else { "before" };
                    format!(
                        "for {} day{} {side} the anchor day, write `{o} = {}`",
                        -n,
                        if n == -1 { "" } else { "s" },
                        -n
                    )
                }
                None => format!("write a whole number of 0 or more, like `{k} = {}`", -n),
            };
            return (format!("`{k}` cannot be negative"), Some(help));
        }
        let want = expected_in_words(expected);
        let msg = match &key {
            Some(k) => format!("`{k}` must be {want}, not {}", found_in_words(found)),
            None => format!("this must be {want}, not {}", found_in_words(found)),
        };
        let help = key
            .as_deref()
            .and_then(|k| example_for(k, expected))
            .map(|ex| format!("for example: {ex}"));
        return (msg, help);
    }
    // Our own value messages (dates, times): "what is wrong; write ...".
    if let Some((what, write)) = message.split_once("; write ") {
        return (what.to_string(), Some(format!("write {write}")));
    }
    let (msg, help) = explain::rephrase(message);
    (msg, Some(help))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::CampaignFile;

    const BASE: &str = "[campaign]\nid = \"a\"\ntitle = \"t\"\ntimezone = \"Africa/Casablanca\"\nstart = 2026-01-01\nend = 2026-02-01\n";

    fn err(extra: &str) -> Diagnostic {
        let src = format!("{BASE}{extra}");
        parse::<CampaignFile>(Path::new("c.toml"), &src).unwrap_err()
    }

    #[test]
    fn unknown_key_suggests_the_closest() {
        let d = err("hashtag = [\"a\"]\n");
        assert_eq!(d.message, "unknown key `hashtag`");
        assert_eq!(d.help.as_deref(), Some("did you mean `hashtags`?"));
        let src = format!("{BASE}hashtag = [\"a\"]\n");
        assert!(
            d.render(Some(&src))
                .starts_with("c.toml:7:1: error: unknown key `hashtag`")
        );
        let d = err("[[posts]]\nid = \"p\"\ntext = { fr = \"x\" }\nmedia = [{ fil = \"a\" }]\n");
        assert_eq!(d.help.as_deref(), Some("did you mean `file`?"));
        let d = err("zzzzzz = 1\n");
        assert!(d.help.unwrap().contains("`timezone`"));
    }

    #[test]
    fn missing_key_names_it_and_shows_an_example() {
        let d = err("[[posts]]\nid = \"p\"\nat = 10:00:00\n");
        assert_eq!(d.message, "missing key `text` in `[[posts]]`");
        assert!(d.help.unwrap().contains("text = { fr ="));
        let d = parse::<CampaignFile>(Path::new("c.toml"), "[campaign]\nid = \"a\"\n").unwrap_err();
        assert!(
            d.message.starts_with("missing key `title`"),
            "{}",
            d.message
        );
        let d = parse::<CampaignFile>(Path::new("c.toml"), "x = 1\n").unwrap_err();
        assert!(d.message.contains("x"), "{}", d.message);
    }

    #[test]
    fn wrong_type_says_what_to_write() {
        let d = err("[[posts]]\nid = \"p\"\ntext = { fr = \"x\" }\ndays_before = \"2\"\n");
        assert_eq!(
            d.message,
            "`days_before` must be a whole number without quotes, like 3, not the text \"2\""
        );
        assert_eq!(d.help.as_deref(), Some("for example: days_before = 2"));
        let d = err("[[capsules]]\nid = 3\n");
        assert!(
            d.message
                .starts_with("`id` must be a text in double quotes"),
            "{}",
            d.message
        );
    }

    #[test]
    fn tables_lists_and_dates_of_the_wrong_kind() {
        let d = err("[[posts]]\nid = \"p\"\ntext = \"hello\"\n");
        assert!(
            d.message
                .starts_with("`text` must be a group in braces `{ ... }`"),
            "{}",
            d.message
        );
        assert!(d.help.unwrap().contains("text = { fr ="));
        let src = BASE.replace("end = 2026-02-01", "end = 2026-02-01\nlanguages = \"fr\"");
        let d = parse::<CampaignFile>(Path::new("c.toml"), &src).unwrap_err();
        assert!(
            d.message.starts_with("`languages` must be a list"),
            "{}",
            d.message
        );
        let src = BASE.replace("start = 2026-01-01", "start = \"2026-13-01\"");
        let d = parse::<CampaignFile>(Path::new("c.toml"), &src).unwrap_err();
        assert!(d.help.unwrap().contains("YYYY-MM-DD"), "{}", d.message);
        assert_eq!(&src[d.span.unwrap()], "\"2026-13-01\"");
    }

    #[test]
    fn a_bom_and_crlf_read_as_plain_lf() {
        let p = Path::new("c.toml");
        let crlf = b"\xEF\xBB\xBFa = \"\"\"\r\nx\r\ny\"\"\"\r\n".to_vec();
        assert_eq!(text_of(p, crlf).unwrap(), "a = \"\"\"\nx\ny\"\"\"\n");
    }

    #[test]
    fn empty_binary_and_non_utf8_files() {
        let p = Path::new("c.toml");
        assert_eq!(
            parse::<CampaignFile>(p, " \n").unwrap_err().message,
            "the file is empty"
        );
        assert!(
            text_of(p, b"a\0b".to_vec())
                .unwrap_err()
                .diagnostic
                .message
                .contains("binary")
        );
        assert!(
            text_of(p, vec![b'a', 0xFF])
                .unwrap_err()
                .diagnostic
                .message
                .contains("UTF-8")
        );
        // Latin-1: the line and column of the first bad byte, on the line shown.
        let u = text_of(p, b"[campaign]\ntitle = \"Journ\xe9e\"\n".to_vec()).unwrap_err();
        let shown = u.shown.as_deref().unwrap();
        let out = u.diagnostic.render(Some(shown));
        assert!(
            out.starts_with("c.toml:2:15: error: the file is not valid UTF-8 text: its first byte that is not UTF-8 is at line 2, column 15"),
            "{out}"
        );
        assert!(out.contains("help: save the file as UTF-8"), "{out}");
        assert!(out.contains("              ^\n"), "{out}");
        let d = parse::<CampaignFile>(p, "x = = 1").unwrap_err();
        assert!(d.span.is_some());
        let utf16: Vec<u8> = b"\xFF\xFE"
            .iter()
            .copied()
            .chain("[campaign]".encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        let u = text_of(p, utf16).unwrap_err();
        assert!(
            u.diagnostic.message.contains("UTF-16"),
            "{}",
            u.diagnostic.message
        );
    }

    #[test]
    fn keys_of_another_concept_or_section_get_where_they_belong() {
        let post = "[[posts]]\nid = \"p\"\ntext = { fr = \"x\" }\n";
        let d = err(&format!("{post}image = \"media/a.jpg\"\n"));
        assert_eq!(
            d.help.as_deref(),
            Some(
                "did you mean `media`? write `media = [{ file = \"media/a.jpg\", alt = { fr = \"...\" } }]`"
            )
        );
        let d = err(&format!("{post}photos = [{{ file = \"media/a.jpg\" }}]\n"));
        assert_eq!(d.help.as_deref(), Some("did you mean `media`?"));
        let d = err(&format!("{post}day = \"migrants\"\n"));
        assert!(
            d.help
                .as_deref()
                .unwrap()
                .starts_with("the day goes in the anchor: write `anchor = { day = \"migrants\" }`"),
            "{:?}",
            d.help
        );
        let d = err(&format!("{post}date = 2026-12-18\n"));
        assert!(
            d.help
                .as_deref()
                .unwrap()
                .starts_with("the day goes in the anchor: write `anchor = { date = 2026-12-18 }`"),
            "{:?}",
            d.help
        );
        let d = err(&format!("{post}timezone = \"Africa/Casablanca\"\n"));
        assert!(
            d.help
                .as_deref()
                .unwrap()
                .contains("move this line under `[campaign]`")
        );
        let d = err(&format!("{post}days_before = -2\n"));
        assert_eq!(d.message, "`days_before` cannot be negative");
        assert_eq!(
            d.help.as_deref(),
            Some("for 2 days after the anchor day, write `days_after = 2`")
        );
        let d = err(&format!("{post}not_after = \"18/12/2026\"\n"));
        assert!(
            d.message.contains("day first") || d.message.contains("not a local"),
            "{}",
            d.message
        );
    }
}
