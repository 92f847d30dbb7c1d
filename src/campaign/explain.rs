//! Explaining a TOML syntax error where the mistake is, in the words of the
//! people who write campaign files.
//!
//! The TOML parser stops where it can no longer go on, which is often after
//! the mistake (an unclosed quote is noticed at the end of its line, an
//! unclosed `"""` at the end of the file) and says so in its own terms
//! ("invalid basic string"). [`syntax_error`] looks at the lines up to that
//! place, recognises the usual shapes of a mistake (curly quotes from a word
//! processor, a note without `#`, `10h00`, `01/12/2026`, a Windows path, an
//! accented key, a missing `]`, a duplicate key...) and returns the span of
//! the cause, a message and a help line that works when followed. What it
//! does not recognise keeps the parser's place, with its message in plain
//! words. Pure: text in, explanation out.

use std::ops::Range;

use super::suggest;

/// A syntax error explained: where its cause is, what it is, what to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explained {
    pub span: Range<usize>,
    pub message: String,
    pub help: String,
}

/// Every key of the campaign format, for "did you mean" on a key that is
/// not even valid TOML (`début`).
pub const ALL_KEYS: &[&str] = &[
    "campaign",
    "days",
    "capsules",
    "posts",
    "id",
    "title",
    "timezone",
    "start",
    "end",
    "accounts",
    "languages",
    "hashtags",
    "utm",
    "expires_after",
    "paused",
    "slug",
    "month",
    "day",
    "date",
    "names",
    "year",
    "anchor",
    "media",
    "file",
    "alt",
    "thumbnail",
    "at",
    "days_before",
    "days_after",
    "date_time",
    "cron",
    "text",
    "variants",
    "first_comment",
    "thread",
    "not_after",
    "card",
    "description",
    "image",
    "source",
    "medium",
    "term",
    "content",
];

/// The key of the campaign format that a comms officer writing in French
/// (or in another word) most likely meant: accents are dropped first, so
/// `début`, `Début` and `debut` all give `start`.
pub fn key_for_word(word: &str) -> Option<&'static str> {
    let plain = strip_accents(&word.trim().to_lowercase()).replace([' ', '-'], "_");
    Some(match plain.as_str() {
        "debut" | "date_debut" | "date_de_debut" | "commence" | "begin" => "start",
        "fin" | "date_fin" | "date_de_fin" | "finish" => "end",
        "fuseau" | "fuseau_horaire" | "zone" | "tz" | "time_zone" => "timezone",
        "langue" | "langues" | "lang" | "langs" | "language" => "languages",
        "compte" | "comptes" | "account" | "reseaux" => "accounts",
        "titre" | "nom" => "title",
        "texte" | "textes" | "message" | "contenu" | "texts" => "text",
        "heure" | "horaire" | "time" | "hour" => "at",
        "image" | "images" | "photo" | "photos" | "video" | "videos" | "visuel" | "visuels"
        | "picture" | "pictures" | "medias" | "fichiers" => "media",
        "fichier" | "chemin" | "path" => "file",
        "legende" | "texte_alternatif" | "alt_text" | "alternative" | "description_image" => "alt",
        "miniature" | "vignette" | "thumb" | "cover" | "couverture" => "thumbnail",
        "annee" => "year",
        "jour" | "journee" => "day",
        "mois" => "month",
        "jours_avant" | "avant" | "before" | "day_before" => "days_before",
        "jours_apres" | "apres" | "after" | "day_after" => "days_after",
        "identifiant" | "ident" => "id",
        "expire" | "expire_apres" | "expiration" | "expires" => "expires_after",
        "pause" | "en_pause" | "suspendu" | "pause_campagne" => "paused",
        "commentaire" | "premier_commentaire" | "comment" => "first_comment",
        "fil" | "replies" | "reponses" => "thread",
        "carte" => "card",
        "ancre" => "anchor",
        "hashtag" | "tags" | "mots_cles" | "dieses" => "hashtags",
        "date_heure" | "datetime" | "date_et_heure" => "date_time",
        "recurrence" | "repetition" | "crontab" => "cron",
        "pas_apres" | "au_plus_tard" => "not_after",
        "campagne" => "campaign",
        "capsule" => "capsules",
        "post" | "publication" | "publications" => "posts",
        _ => return None,
    })
}

/// Where a key that is not allowed here belongs, when it belongs
/// somewhere else in the file: a help line saying where to move it.
/// `allowed` are the keys of the section it was found in, `value` the value
/// as written.
pub fn home_of(key: &str, allowed: &[&str], value: Option<&str>) -> Option<String> {
    let has = |k: &str| allowed.contains(&k);
    let value = value.map(str::trim).filter(|v| !v.is_empty());
    Some(match key {
        "date" | "day" | "year" | "jour" | "annee" if has("anchor") => {
            let key = match key {
                "jour" => "day",
                "annee" => "year",
                k => k,
            };
            let example = match key {
                "date" => "2026-12-18",
                "day" => "\"international-migrants-day\"",
                _ => "2026",
            };
            let v = value.unwrap_or(example);
            let also = if key == "date" && has("date_time") {
                " (or `date_time = 2026-12-18T10:00:00` for a date and a time)"
            } else {
                ""
            };
            format!("the day goes in the anchor: write `anchor = {{ {key} = {v} }}`{also}")
        }
        "timezone" | "start" | "end" | "utm" => {
            format!(
                "`{key}` belongs to the `[campaign]` section at the top of the file: move this line under `[campaign]`"
            )
        }
        "alt" | "thumbnail" | "file" if has("media") => format!(
            "`{key}` belongs to a media file: `media = [{{ file = \"media/photo.jpg\", {key} = {} }}]`",
            value.unwrap_or("...")
        ),
        "title" | "description" if has("variants") => format!(
            "a post's `{key}` is per platform: put it in a variant, e.g. under `[posts.variants.youtube]` write `{key}.fr = \"...\"`"
        ),
        "at" | "cron" | "date_time" | "days_before" | "days_after" | "text" | "first_comment"
        | "thread" | "not_after"
            if has("posts") && has("anchor") =>
        {
            format!(
                "`{key}` belongs to each post of the capsule: move this line under a `[[capsules.posts]]` header"
            )
        }
        "accounts" | "languages" | "hashtags" | "expires_after" | "paused" if has("anchor") => {
            format!(
                "`{key}` is set on the whole campaign (`[campaign]`) or on each post (`[[capsules.posts]]`), not on a capsule"
            )
        }
        "slug" | "names" | "month" => {
            format!(
                "`{key}` belongs to a day of the campaign's own: move it under a `[[days]]` header"
            )
        }
        _ => return None,
    })
}

/// The text with its Latin accents removed (`début` → `debut`).
pub fn strip_accents(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'à' | 'â' | 'ä' | 'á' | 'ã' => 'a',
            'À' | 'Â' | 'Ä' | 'Á' => 'A',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'É' | 'È' | 'Ê' | 'Ë' => 'E',
            'î' | 'ï' | 'í' => 'i',
            'Î' | 'Ï' => 'I',
            'ô' | 'ö' | 'ó' => 'o',
            'Ô' | 'Ö' => 'O',
            'ù' | 'û' | 'ü' | 'ú' => 'u',
            'Ù' | 'Û' | 'Ü' => 'U',
            'ç' => 'c',
            'Ç' => 'C',
            'ñ' => 'n',
            other => other,
        })
        .collect()
}

/// The byte range of the line holding `offset` (without its `\n`).
fn line_range(source: &str, offset: usize) -> Range<usize> {
    let mut offset = offset.min(source.len());
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    let start = source[..offset].rfind('\n').map_or(0, |i| i + 1);
    let end = source[offset..]
        .find('\n')
        .map_or(source.len(), |i| offset + i);
    start..end
}

/// 1-based line number of byte `offset`.
fn line_no(source: &str, offset: usize) -> usize {
    source[..offset.min(source.len())].matches('\n').count() + 1
}

/// The line split at its first `=` that is outside quotes: the key (trimmed)
/// with its offset, and the value (trimmed) with its offset, both relative
/// to the line.
struct Assignment<'a> {
    key: &'a str,
    key_at: usize,
    value: &'a str,
    value_at: usize,
}

fn assignment(line: &str) -> Option<Assignment<'_>> {
    let mut quote: Option<char> = None;
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '#') => return None,
            (None, '=') => {
                let raw_key = &line[..i];
                let key = raw_key.trim();
                let key_at = raw_key.len() - raw_key.trim_start().len();
                let raw_value = &line[i + 1..];
                let value = raw_value.trim();
                let value_at = i + 1 + (raw_value.len() - raw_value.trim_start().len());
                return Some(Assignment {
                    key,
                    key_at,
                    value,
                    value_at,
                });
            }
            _ => {}
        }
    }
    None
}

/// The key written before the value, as the help shows it (`text.fr`).
fn shown_key(key: &str) -> &str {
    key.trim_matches(|c: char| c == '{' || c == ',' || c.is_whitespace())
}

/// The value of a line with its trailing note (`# ...`) removed.
fn without_note(value: &str) -> &str {
    let mut quote: Option<char> = None;
    for (i, c) in value.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '#') => return value[..i].trim_end(),
            _ => {}
        }
    }
    value.trim_end()
}

fn explained(span: Range<usize>, message: impl Into<String>, help: impl Into<String>) -> Explained {
    Explained {
        span,
        message: message.into(),
        help: help.into(),
    }
}

const CURLY: &[char] = &['“', '”', '‘', '’', '„', '‟', '«', '»'];

/// Keys whose value may be a secret pasted by mistake: a help line never
/// repeats their value.
fn is_secret_key(key: &str) -> bool {
    let k = key.to_lowercase();
    [
        "credential",
        "token",
        "password",
        "secret",
        "api_key",
        "apikey",
    ]
    .iter()
    .any(|s| k.contains(s))
}

/// Explains the syntax error the TOML parser reported at `at` with
/// `parser` (its message), pointing at the cause. The help never repeats
/// the value of a key that may hold a secret (`credentials`, `token_key`).
pub fn syntax_error(source: &str, at: Range<usize>, parser: &str) -> Explained {
    let mut x = explain_syntax(source, at, parser);
    let line = &source[line_range(source, x.span.start)];
    if assignment(line).is_some_and(|a| is_secret_key(a.key)) {
        x.help = "write where the secret is, in double quotes: `credentials = \"env:VARIABLE\"`, `\"file:path/to/token\"` or `\"store\"` (never the secret itself)".into();
    }
    x
}

fn explain_syntax(source: &str, at: Range<usize>, parser: &str) -> Explained {
    let mut start = at.start.min(source.len());
    while !source.is_char_boundary(start) {
        start -= 1;
    }
    let at = start..at.end.clamp(start, source.len());
    let line = line_range(source, at.start);
    let text = &source[line.clone()];
    if parser.contains("multi-line")
        && let Some(e) = unclosed_triple(source, &at, parser)
    {
        return e;
    }
    if parser == "duplicate key" {
        return duplicate_key(source, &at);
    }
    if let Some(e) = curly_quotes(text, line.start) {
        return e;
    }
    if (parser.starts_with("invalid basic string") || parser.starts_with("invalid literal string"))
        && let Some(e) = unclosed_quote(text, line.start, parser.contains("literal"))
    {
        return e;
    }
    if (parser.contains("escape") || parser.contains("unicode"))
        && let Some(e) = backslash(text, line.start)
    {
        return e;
    }
    if parser.starts_with("unclosed")
        && text.trim_start().starts_with('[')
        && let Some(e) = unclosed_header(text, line.start)
    {
        return e;
    }
    if parser.contains("key")
        && !parser.contains("key-value")
        && let Some(e) = bad_key_line(text, line.start)
    {
        return e;
    }
    if parser.starts_with("missing comma between array elements") {
        if let Some(e) = unclosed_bracket(source, &at, '[', ']') {
            return e;
        }
        return explained(
            at,
            "two items of this list have no comma between them",
            "separate the items of a list with commas: `languages = [\"fr\", \"ar\"]`",
        );
    }
    if parser.starts_with("missing comma between key-value pairs")
        || parser.starts_with("missing key for inline table element")
    {
        if let Some(e) = unclosed_bracket(source, &at, '{', '}') {
            return e;
        }
        return explained(
            at,
            "two entries inside `{ ... }` have no comma between them",
            "separate the entries with commas: `text = { fr = \"...\", ar = \"...\" }`",
        );
    }
    if let Some(a) = assignment(text) {
        let value_at = line.start + a.value_at;
        let value = without_note(a.value);
        let value_span = value_at..value_at + value.len();
        if let Some(e) = bare_value(shown_key(a.key), value, value_span.clone(), parser) {
            return e;
        }
        if parser.starts_with("unexpected key or value") {
            return after_value(line.start, &a, &at);
        }
    }
    plain(at, parser)
}

/// An unclosed `"""` (or `'''`): its opening, found by pairing the
/// delimiters from the start of the file.
fn unclosed_triple(source: &str, at: &Range<usize>, parser: &str) -> Option<Explained> {
    let delim = if parser.contains("literal") {
        "'''"
    } else {
        "\"\"\""
    };
    let mut open: Option<usize> = None;
    let mut i = 0;
    let upto = &source[..at.start.min(source.len())];
    while let Some(j) = upto[i..].find(delim) {
        let pos = i + j;
        open = match open {
            None => Some(pos),
            Some(_) => None,
        };
        i = pos + 3;
        // `""""` closes a text that ends with a quote: skip extra quotes.
        while upto[i..].starts_with(&delim[..1]) {
            i += 1;
        }
    }
    let pos = open?;
    let line = line_no(source, pos);
    let key = assignment(&source[line_range(source, pos)])
        .map(|a| shown_key(a.key).to_string())
        .unwrap_or_default();
    let what = if key.is_empty() {
        String::new()
    } else {
        format!(" of `{key}`")
    };
    Some(explained(
        pos..pos + 3,
        format!("the text{what} that starts with {delim} on line {line} is never closed"),
        format!(
            "end the text with {delim} (everything from here to the end of the file is read as this text)"
        ),
    ))
}

/// A value that starts with a curly quote (a word processor's “...”).
fn curly_quotes(text: &str, line_start: usize) -> Option<Explained> {
    let a = assignment(text)?;
    let first = a.value.chars().next()?;
    if !CURLY.contains(&first) {
        return None;
    }
    let at = line_start + a.value_at;
    let value = without_note(a.value);
    let inner: String = value.trim_matches(CURLY).to_string();
    Some(explained(
        at..at + first.len_utf8(),
        format!(
            "this text is in curly quotes {first}…, as a word processor writes them; a campaign file needs straight quotes \""
        ),
        format!(
            "write it with straight double quotes: {} = \"{}\" (turn off \"smart quotes\", or type the text in a plain-text editor)",
            shown_key(a.key),
            inner.replace('"', "\\\"")
        ),
    ))
}

/// A quote opened on this line and never closed.
fn unclosed_quote(text: &str, line_start: usize, literal: bool) -> Option<Explained> {
    let a = assignment(text)?;
    let q = if literal { '\'' } else { '"' };
    let value = a.value;
    if !value.starts_with(q) || value.starts_with("\"\"\"") {
        // The quote opens later (inside a list or `{ ... }`): find the last
        // opening quote of the line.
        let open = text.rfind(q)?;
        let at = line_start + open;
        return Some(explained(
            at..at + 1,
            "this text in quotes is not closed on its line",
            format!("add the closing {q} at the end of the text"),
        ));
    }
    let at = line_start + a.value_at;
    let fixed = format!("{} = {}{q}", shown_key(a.key), value.trim_end());
    Some(explained(
        at..at + 1,
        "this text in quotes is not closed on its line",
        format!(
            "add the closing {q} at the end of the text: {fixed} (a text of several lines goes between triple quotes \"\"\")"
        ),
    ))
}

/// A backslash in a text in double quotes: a Windows path, or a `\` that
/// TOML reads as the start of a special character.
fn backslash(text: &str, line_start: usize) -> Option<Explained> {
    let a = assignment(text)?;
    let value = without_note(a.value);
    let inner = value
        .strip_prefix('"')?
        .strip_suffix('"')
        .unwrap_or(&value[1..]);
    let at = line_start + a.value_at;
    let span = at..at + value.len();
    let key = shown_key(a.key);
    let looks_like_path = inner.contains(":\\")
        || inner.starts_with("\\\\")
        || (inner.contains('\\')
            && !inner.contains(' ')
            && inner
                .rsplit('\\')
                .next()
                .is_some_and(|last| last.contains('.')));
    if looks_like_path {
        let drive = inner.len() > 2 && inner.as_bytes()[1] == b':';
        let help = if drive {
            format!(
                "media paths are relative to the campaign file: copy the file next to it (e.g. in `media/`) and write {key} = \"media/{}\" with forward slashes; a Windows path can only be written in single quotes: {key} = '{inner}'",
                inner.rsplit('\\').next().unwrap_or(inner)
            )
        } else {
            format!(
                "write the path with forward slashes: {key} = \"{}\" (or in single quotes: {key} = '{inner}')",
                inner.replace('\\', "/")
            )
        };
        return Some(explained(
            span,
            "this path is written with backslashes \\, which a text in double quotes reads as special characters",
            help,
        ));
    }
    let bs = inner.find('\\').map_or(at, |i| at + 1 + i);
    Some(explained(
        bs..bs + 1,
        "a backslash \\ in a text in double quotes starts a special character, and this one is not known",
        "to write a backslash itself, double it: \\\\ (or put the whole text in single quotes '...')",
    ))
}

/// `[campaign` or `[[posts]` without its closing brackets.
fn unclosed_header(text: &str, line_start: usize) -> Option<Explained> {
    let t = text.trim();
    if !t.starts_with('[') {
        return None;
    }
    let double = t.starts_with("[[");
    let name = t.trim_start_matches('[').trim_end_matches(']').trim();
    let at = line_start + (text.len() - text.trim_start().len());
    let fixed = if double {
        format!("[[{name}]]")
    } else {
        format!("[{name}]")
    };
    Some(explained(
        at..at + t.len(),
        format!("the section header `{t}` is missing its closing bracket"),
        format!("write `{fixed}`"),
    ))
}

/// A line the parser could not read as `key = value`: an accented key, a
/// key with spaces, or a note without `#`.
fn bad_key_line(text: &str, line_start: usize) -> Option<Explained> {
    let indent = text.len() - text.trim_start().len();
    let t = text.trim();
    if t.is_empty() || t.starts_with('[') {
        return None;
    }
    let at = line_start + indent;
    match assignment(text) {
        Some(a) => {
            let key = a.key;
            let key_start = line_start + a.key_at;
            let last = key
                .split('.')
                .map(str::trim)
                .find(|seg| !seg.is_ascii() || seg.contains(' '))?;
            let non_ascii = !last.is_ascii();
            let meant = key_for_word(last).or_else(|| {
                let plain = strip_accents(last).to_lowercase().replace(' ', "_");
                suggest::closest(&plain, ALL_KEYS.iter().copied())
            });
            let seg_at = key.find(last).unwrap_or(0);
            let (prefix, suffix) = (&key[..seg_at], &key[seg_at + last.len()..]);
            let message = if non_ascii {
                format!(
                    "`{last}` is not a key berrah knows: keys are English words without accents"
                )
            } else {
                format!("`{last}` is not a key berrah knows: a key has no spaces")
            };
            let help = match meant {
                Some(k) => format!("write `{prefix}{k}{suffix} = {}`", without_note(a.value)),
                None => "write the key in English without accents or spaces (`berrah schema` lists every key)".into(),
            };
            let at = key_start + seg_at;
            Some(explained(at..at + last.len(), message, help))
        }
        None => {
            // No `=` at all: a sentence is a note that lost its `#`.
            let words = t.split_whitespace().count();
            if words >= 2 || !t.is_ascii() {
                return Some(explained(
                    at..at + t.len(),
                    "this line is not `key = value`: is it a note?",
                    format!("start a note with #: `# {t}`"),
                ));
            }
            let meant = key_for_word(t).or_else(|| suggest::closest(t, ALL_KEYS.iter().copied()));
            Some(explained(
                at..at + t.len(),
                format!("`{t}` has no value: a line is `key = value`"),
                match meant {
                    Some(k) => {
                        format!("write `{k} = ...`, or start the line with # if it is a note")
                    }
                    None => "write `key = value`, or start the line with # if it is a note".into(),
                },
            ))
        }
    }
}

/// A list (`[`) or `{ ... }` opened on an earlier line and never closed:
/// the parser goes on to the next line and complains about a comma there.
fn unclosed_bracket(source: &str, at: &Range<usize>, open: char, close: char) -> Option<Explained> {
    // What follows the error: a new `key =` line or a section means the
    // bracket was never closed.
    let here = line_range(source, at.start);
    let next = if source[here.start..at.start.min(source.len())]
        .trim()
        .is_empty()
    {
        source[here].trim()
    } else {
        let rest = source[at.start.min(source.len())..].trim_start_matches([' ', '\t', ',']);
        rest.strip_prefix('\n')?
            .trim_start()
            .lines()
            .next()
            .unwrap_or("")
    };
    let starts_anew = next.starts_with('[') || assignment(next).is_some_and(|a| !a.key.is_empty());
    if !starts_anew {
        return None;
    }
    // The unmatched opening bracket before the error, outside quotes.
    let before = &source[..at.start.min(source.len())];
    let mut quote: Option<char> = None;
    // Walk forward to know quotes and notes, remembering unmatched openings.
    let mut stack: Vec<usize> = Vec::new();
    let mut in_note = false;
    for (i, c) in before.char_indices() {
        if in_note {
            if c == '\n' {
                in_note = false;
            }
            continue;
        }
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (Some(_), '\n') => quote = None,
            (None, '#') => in_note = true,
            (None, c) if c == open => stack.push(i),
            (None, c) if c == close => {
                stack.pop();
            }
            _ => {}
        }
    }
    let pos = *stack.last()?;
    let line = &source[line_range(source, pos)];
    let (key, whole) = match assignment(line) {
        Some(a) => (
            shown_key(a.key).to_string(),
            format!(
                "{} = {}{}{close}",
                shown_key(a.key),
                without_note(a.value).trim_end_matches(','),
                if open == '{' { " " } else { "" }
            ),
        ),
        None => (String::new(), String::new()),
    };
    let what = if open == '[' { "list" } else { "`{ ... }`" };
    let of = if key.is_empty() {
        String::new()
    } else {
        format!(" of `{key}`")
    };
    let help = if whole.is_empty() {
        format!("add `{close}` where the {what} ends")
    } else {
        format!("add `{close}` where the {what} ends: {whole}")
    };
    Some(explained(
        pos..pos + 1,
        format!("the {what}{of} opened here is never closed with `{close}`"),
        help,
    ))
}

/// A value written without quotes that TOML cannot read: French times and
/// dates, yes/no, words, nothing at all.
fn bare_value(key: &str, value: &str, span: Range<usize>, parser: &str) -> Option<Explained> {
    let v = value.trim();
    if v.is_empty() {
        return Some(explained(
            span.start..span.start,
            format!("`{key}` has no value after `=`"),
            match super::load::example_for(key, "") {
                Some(ex) => format!("write a value, for example: {ex}"),
                None => format!("write a value after `{key} =`, or remove the line"),
            },
        ));
    }
    if let Some((h, m)) = french_time(v) {
        return Some(explained(
            span,
            format!("`{v}` is not a time berrah can read"),
            format!("write the time as hours:minutes: {key} = \"{h:02}:{m:02}\""),
        ));
    }
    if let Some((y, m, d, time)) = french_date(v) {
        let iso = format!("{y:04}-{m:02}-{d:02}");
        let fixed = match time {
            Some((h, mi)) => format!("{iso}T{h:02}:{mi:02}:00"),
            None => iso,
        };
        return Some(explained(
            span,
            format!("`{v}` is a date written day first; berrah reads dates year first"),
            format!("write it as year-month-day: {key} = {fixed}"),
        ));
    }
    if parser.starts_with("invalid time") || parser.starts_with("invalid date") {
        return fix_date_time(key, v, span);
    }
    let boolean = match strip_accents(&v.to_lowercase()).as_str() {
        "oui" | "yes" | "vrai" | "true" | "on" => Some("true"),
        "non" | "no" | "faux" | "false" | "off" => Some("false"),
        _ => None,
    };
    if let Some(b) = boolean {
        return Some(explained(
            span,
            format!("`{v}` is not a value berrah can read here"),
            format!("write {key} = {b} (true or false, in lowercase, without quotes)"),
        ));
    }
    if !parser.starts_with("string values must be quoted") {
        return None;
    }
    Some(explained(
        span,
        "this text is not in quotes",
        format!(
            "put the text between double quotes: {key} = \"{}\"",
            v.replace('"', "\\\"")
        ),
    ))
}

/// `10h00`, `10h`, `9H30` → (10, 0).
pub(crate) fn french_time(v: &str) -> Option<(u32, u32)> {
    let lower = v.to_lowercase();
    let (h, m) = lower.split_once('h')?;
    let h: u32 = h.trim().parse().ok()?;
    let m: u32 = if m.trim().is_empty() {
        0
    } else {
        m.trim().parse().ok()?
    };
    (h < 24 && m < 60).then_some((h, m))
}

/// A date read day first: year, month, day, and a time of day (hour,
/// minute) when one follows.
pub(crate) type DayFirst = (u32, u32, u32, Option<(u32, u32)>);

/// `01/12/2026`, `1-12-2026`, `01.12.2026` (optionally followed by a time
/// `10:00` or `10h00`) → (2026, 12, 1, time).
pub(crate) fn french_date(v: &str) -> Option<DayFirst> {
    let (date, time) = match v.split_once([' ', 'T']) {
        Some((d, t)) => (d, Some(t.trim())),
        None => (v, None),
    };
    let parts: Vec<&str> = date.split(['/', '.', '-']).collect();
    if parts.len() != 3 || parts[2].len() != 4 || parts[0].len() > 2 {
        return None;
    }
    let d: u32 = parts[0].parse().ok()?;
    let m: u32 = parts[1].parse().ok()?;
    let y: u32 = parts[2].parse().ok()?;
    if !(1..=31).contains(&d) || !(1..=12).contains(&m) {
        return None;
    }
    let time = match time {
        None => None,
        Some(t) => Some(french_time(t).or_else(|| {
            let (h, m) = t.split_once(':')?;
            Some((h.parse().ok()?, m.get(..2)?.parse().ok()?))
        })?),
    };
    Some((y, m, d, time))
}

/// `9:00` → `09:00`, `2026-12-1` → `2026-12-01`.
fn fix_date_time(key: &str, v: &str, span: Range<usize>) -> Option<Explained> {
    let pad = |s: &str| -> Option<String> {
        let n: u32 = s.parse().ok()?;
        Some(format!("{n:02}"))
    };
    if let Some((h, m)) = v.split_once(':')
        && !v.contains('-')
    {
        let fixed = format!("{}:{}", pad(h)?, pad(m.get(..2)?)?);
        return Some(explained(
            span,
            format!("`{v}` is not a time berrah can read: hours and minutes take two digits"),
            format!("write {key} = {fixed}"),
        ));
    }
    let (date, time) = match v.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (v, None),
    };
    let parts: Vec<&str> = date.split('-').collect();
    if parts.len() == 3 {
        let mut fixed = format!("{}-{}-{}", parts[0], pad(parts[1])?, pad(parts[2])?);
        if let Some(t) = time {
            let (h, rest) = t.split_once(':')?;
            fixed.push_str(&format!("T{}:{rest}", pad(h)?));
        }
        return Some(explained(
            span,
            format!("`{v}` is not a date berrah can read: months and days take two digits"),
            format!("write {key} = {fixed}"),
        ));
    }
    None
}

/// Something follows a value on its line: quotes inside a text, or two
/// values.
fn after_value(line_start: usize, a: &Assignment<'_>, at: &Range<usize>) -> Explained {
    let value = without_note(a.value);
    if value.starts_with('"') && value.matches('"').count() > 2 {
        let start = line_start + a.value_at;
        let inner = value.trim_matches('"');
        return explained(
            start..start + value.len(),
            "this text has quotes \" inside it, and the first of them ends the text",
            format!(
                "use « » or single quotes ' inside the text, or write each inner quote as \\\": {} = \"{}\"",
                shown_key(a.key),
                inner.replace('"', "\\\"")
            ),
        );
    }
    explained(
        at.clone(),
        "something follows the value on this line",
        "put each `key = value` on a line of its own; a note after a value starts with #",
    )
}

/// The first place `key` is set in the section that holds `at`, for a
/// duplicate key: its line.
fn duplicate_key(source: &str, at: &Range<usize>) -> Explained {
    let written = source.get(at.clone()).unwrap_or("").trim();
    let line = line_range(source, at.start);
    let text = source[line.clone()].trim();
    let this_line = line_no(source, at.start);
    // A section header written twice: pointed at as a whole.
    if text.starts_with('[') {
        let indent = source[line.clone()].len() - source[line.clone()].trim_start().len();
        let at = &(line.start + indent..line.start + indent + text.len());
        let name = text.trim_matches(|c| c == '[' || c == ']').trim();
        let first = source[..line.start].lines().enumerate().find(|(_, l)| {
            let l = l.trim();
            l.starts_with('[') && l.trim_matches(|c| c == '[' || c == ']').trim() == name
        });
        return match first {
            Some((i, l)) if l.trim().starts_with("[[") && !text.starts_with("[[") => explained(
                at.clone(),
                format!(
                    "`[{name}]` is a list of sections (`[[{name}]]` on line {}), so this header needs double brackets",
                    i + 1
                ),
                format!("write `[[{name}]]`"),
            ),
            Some((i, _)) => explained(
                at.clone(),
                format!(
                    "the section `[{name}]` is written twice: first on line {}",
                    i + 1
                ),
                format!("keep one `[{name}]` and put all its keys under it"),
            ),
            None => explained(
                at.clone(),
                format!("`{name}` is already set before this section"),
                format!("set `{name}` in one place only"),
            ),
        };
    }
    // A key written twice in one section: look back to the section's header.
    let key = written.trim_matches('"');
    let section_start = source[..line.start]
        .match_indices('\n')
        .map(|(i, _)| i + 1)
        .chain(std::iter::once(0))
        .filter(|&i| source[i..].trim_start_matches([' ', '\t']).starts_with('['))
        .max()
        .unwrap_or(0);
    let full_key = assignment(&source[line.clone()])
        .map(|a| shown_key(a.key).trim_matches('"').to_string())
        .filter(|k| !k.is_empty())
        .unwrap_or_else(|| key.to_string());
    let mut first = None;
    let mut offset = section_start;
    for l in source[section_start..line.start].split_inclusive('\n') {
        if let Some(a) = assignment(l) {
            let k = shown_key(a.key).trim_matches('"');
            if k == full_key
                || k.starts_with(&format!("{full_key}."))
                || full_key.starts_with(&format!("{k}."))
            {
                first = Some((offset, k.to_string()));
                break;
            }
        }
        offset += l.len();
    }
    match first {
        Some((o, k)) => {
            let first_line = line_no(source, o);
            let message = if k == full_key {
                format!("`{full_key}` is set twice in this section: first on line {first_line}")
            } else {
                format!("`{full_key}` is already set on line {first_line} (`{k} = ...`)")
            };
            explained(
                at.clone(),
                message,
                format!(
                    "keep one of them: delete line {this_line} or line {first_line}, or merge them"
                ),
            )
        }
        None => explained(
            at.clone(),
            format!("`{key}` is set twice"),
            "keep one of them: each key is set once per section",
        ),
    }
}

/// The parser's message in plain words, at the parser's place.
fn plain(at: Range<usize>, parser: &str) -> Explained {
    let (message, help) = rephrase(parser);
    explained(at, message, help)
}

/// The parser's words turned into the team's: no "basic string", no
/// "inline table", no "u32".
pub fn rephrase(parser: &str) -> (String, String) {
    let (what, expected) = match parser.split_once(", expected ") {
        Some((w, e)) => (w, Some(e)),
        None => (parser, None),
    };
    let what = match what {
        "invalid basic string" => "this text in double quotes cannot be read",
        "invalid literal string" => "this text in single quotes cannot be read",
        "invalid multi-line basic string" | "invalid multi-line literal string" => {
            "this text in triple quotes cannot be read"
        }
        "string values must be quoted" => "this value cannot be read",
        "unexpected key or value" => "something follows the value on this line",
        "key with no value" => "this key has no value",
        "invalid unquoted key" => "this key has a character that keys cannot have",
        "unclosed table" => "this section header is not closed",
        "unclosed array" => "this list is not closed",
        "unclosed inline table" => "this `{ ... }` is not closed",
        "invalid inline table" => "this `{ ... }` cannot be read",
        "invalid array" => "this list cannot be read",
        "invalid integer" => "this number cannot be read",
        "invalid float" => "this number cannot be read",
        "invalid time" => "this time cannot be read",
        "invalid date" => "this date cannot be read",
        "invalid date-time" => "this date and time cannot be read",
        other => other,
    };
    let help = match expected {
        Some(e) if e.contains("literal string") => {
            "a text goes between double quotes: key = \"text\"".to_string()
        }
        Some(e) if e.contains("two-digit") => format!("write {}", e.trim_start_matches("a ")),
        Some(e) => format!(
            "berrah expected {}",
            e.replace("unicode hexadecimal value", "four hexadecimal digits")
        ),
        None => "check the line: `key = value`, texts in double quotes, sections in `[...]`".into(),
    };
    (what.to_string(), help)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The toml crate's own error for `src`, explained; with the text at the span.
    fn ex(src: &str) -> (Explained, String, usize) {
        let e = toml::from_str::<toml::Table>(src).unwrap_err();
        let x = syntax_error(src, e.span().unwrap(), e.message());
        let shown = src[x.span.clone()].to_string();
        let line = line_no(src, x.span.start);
        (x, shown, line)
    }

    #[test]
    fn an_unclosed_quote_points_at_its_opening() {
        let (x, shown, line) = ex("[campaign]\ntitle = \"Journée des migrants\nend = 1\n");
        assert_eq!((shown.as_str(), line), ("\"", 2));
        assert_eq!(x.message, "this text in quotes is not closed on its line");
        assert!(
            x.help.contains("title = \"Journée des migrants\""),
            "{}",
            x.help
        );
    }

    #[test]
    fn an_unclosed_triple_quote_points_at_its_opening_line() {
        let (x, shown, line) = ex(
            "[campaign]\nid = \"a\"\n[[posts]]\ntext.fr = \"\"\"\nBonjour\n\n[[posts]]\nid = \"b\"\n",
        );
        assert_eq!((shown.as_str(), line), ("\"\"\"", 4));
        assert!(x.message.contains("`text.fr`"), "{}", x.message);
        assert!(x.message.contains("line 4"), "{}", x.message);
    }

    #[test]
    fn curly_quotes_get_straight_ones() {
        let (x, shown, line) = ex("[campaign]\ntitle = “Journée”\n");
        assert_eq!((shown.as_str(), line), ("“", 2));
        assert!(x.help.contains("title = \"Journée\""), "{}", x.help);
    }

    #[test]
    fn a_note_without_hash() {
        let (x, _, line) = ex("[campaign]\nCeci est une note\nid = \"x\"\n");
        assert_eq!(line, 2);
        assert_eq!(x.help, "start a note with #: `# Ceci est une note`");
    }

    #[test]
    fn french_times_and_dates() {
        let (x, shown, _) = ex("[posts]\nat = 10h00\n");
        assert_eq!(shown, "10h00");
        assert_eq!(x.help, "write the time as hours:minutes: at = \"10:00\"");
        let (x, shown, _) = ex("[campaign]\nstart = 01/12/2026 # début\n");
        assert_eq!(shown, "01/12/2026");
        assert_eq!(x.help, "write it as year-month-day: start = 2026-12-01");
        let (x, _, _) = ex("[posts]\ndate_time = 18/12/2026 10h00\n");
        assert_eq!(
            x.help,
            "write it as year-month-day: date_time = 2026-12-18T10:00:00"
        );
        let (x, _, _) = ex("[campaign]\nat = 9:00\n");
        assert_eq!(x.help, "write at = 09:00");
        let (x, _, _) = ex("[campaign]\nend = 2026-12-1\n");
        assert_eq!(x.help, "write end = 2026-12-01");
        let (x, _, _) = ex("[campaign]\npaused = non\n");
        assert_eq!(
            x.help,
            "write paused = false (true or false, in lowercase, without quotes)"
        );
        let (x, shown, _) = ex("[[posts]\nid = 1\n");
        assert_eq!(
            (shown.as_str(), x.help.as_str()),
            ("[[posts]", "write `[[posts]]`")
        );
    }

    #[test]
    fn windows_paths() {
        let (x, shown, _) = ex("[x]\nfile = \"media\\photo.jpg\"\n");
        assert_eq!(shown, "\"media\\photo.jpg\"");
        assert!(x.help.contains("file = \"media/photo.jpg\""), "{}", x.help);
        let (x, _, _) = ex("[x]\nfile = \"C:\\Users\\amal\\photo.jpg\"\n");
        assert!(x.help.contains("file = \"media/photo.jpg\""), "{}", x.help);
    }

    #[test]
    fn accented_and_french_keys() {
        let (x, shown, _) = ex("[campaign]\ndébut = 2026-12-01\n");
        assert_eq!(shown, "début");
        assert_eq!(x.help, "write `start = 2026-12-01`");
        let (x, _, _) = ex("[x]\ntext.fr = \"a\"\nlégende.fr = \"b\"\n");
        assert_eq!(x.help, "write `alt.fr = \"b\"`");
        let (x, _, _) = ex("[x]\nannée = 2026\n");
        assert_eq!(x.help, "write `year = 2026`");
    }

    #[test]
    fn words_of_the_team_map_to_keys() {
        assert_eq!(key_for_word("Début"), Some("start"));
        assert_eq!(key_for_word("fuseau horaire"), Some("timezone"));
        assert_eq!(key_for_word("vidéo"), Some("media"));
        assert_eq!(key_for_word("légende"), Some("alt"));
        assert_eq!(key_for_word("xyz"), None);
        let post = [
            "id",
            "at",
            "anchor",
            "text",
            "media",
            "variants",
            "date_time",
        ];
        assert!(
            home_of("year", &post, Some("2026"))
                .unwrap()
                .contains("anchor = { year = 2026 }")
        );
        assert!(
            home_of("thumbnail", &post, None)
                .unwrap()
                .contains("media = [{")
        );
        assert!(home_of("slug", &post, None).unwrap().contains("[[days]]"));
        assert_eq!(home_of("zzz", &post, None), None);
    }

    #[test]
    fn missing_brackets() {
        let (x, shown, _) = ex("[campaign\nid = 1\n");
        assert_eq!(shown, "[campaign");
        assert_eq!(x.help, "write `[campaign]`");
        let (x, shown, line) = ex("[campaign]\nlanguages = [\"fr\", \"ar\"\naccounts = [\"a\"]\n");
        assert_eq!((shown.as_str(), line), ("[", 2));
        assert_eq!(
            x.help,
            "add `]` where the list ends: languages = [\"fr\", \"ar\"]"
        );
    }

    #[test]
    fn duplicate_keys_name_the_first_line() {
        let (x, shown, line) = ex("[campaign]\nid = \"a\"\ntitle = \"t\"\nid = \"b\"\n");
        assert_eq!((shown.as_str(), line), ("id", 4));
        assert_eq!(
            x.message,
            "`id` is set twice in this section: first on line 2"
        );
        let (x, _, _) = ex("[campaign]\nid = 1\n[campaign]\n");
        assert!(x.message.contains("first on line 1"), "{}", x.message);
        let (x, _, _) = ex("[[posts]]\nid = 1\n[posts]\n");
        assert_eq!(x.help, "write `[[posts]]`");
    }

    proptest::proptest! {
        /// Whatever the text, an explanation never panics and points into
        /// the text, on character boundaries.
        #[test]
        fn any_syntax_error_is_explained_inside_the_text(
            src in "(\\[|\\]|\"|'|“|=|\\\\|#|\n|é|ع|a|1|:|/|\\{|\\}|,|\\.| |h|-){0,60}"
        ) {
            if let Err(e) = toml::from_str::<toml::Table>(&src)
                && let Some(at) = e.span()
            {
                let x = syntax_error(&src, at, e.message());
                proptest::prop_assert!(x.span.start <= x.span.end && x.span.end <= src.len());
                proptest::prop_assert!(src.is_char_boundary(x.span.start) && src.is_char_boundary(x.span.end));
                proptest::prop_assert!(!x.message.is_empty() && !x.help.is_empty());
            }
        }
    }

    #[test]
    fn a_secret_is_never_repeated_in_the_help() {
        let (x, _, _) = ex("[accounts.a]\ncredentials = sk-SECRET123\n");
        assert!(!x.help.contains("SECRET"), "{}", x.help);
        let (x, _, _) = ex("[accounts.a]\ncredentials = \"sk-SECRET\\q\"\n");
        assert!(!x.help.contains("SECRET"), "{}", x.help);
    }

    #[test]
    fn other_errors_are_rephrased_without_jargon() {
        let (x, _, _) = ex("[x]\na = \"b\" c\n");
        assert_eq!(x.message, "something follows the value on this line");
        let (x, _, _) = ex("[x]\ntitle = \"Le \"grand\" jour\"\n");
        assert!(x.message.contains("quotes \" inside"), "{}", x.message);
        for m in [
            "invalid basic string, expected `\"`",
            "invalid inline table, expected `}`",
        ] {
            let (a, b) = rephrase(m);
            for jargon in ["basic string", "inline table", "u32"] {
                assert!(!a.contains(jargon) && !b.contains(jargon), "{a} / {b}");
            }
        }
    }
}
