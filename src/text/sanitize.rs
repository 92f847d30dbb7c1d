//! Text from outside (a platform's error message, an OAuth server's
//! `error_description`, a webhook receiver's answer) made safe to print on
//! an operator's terminal.
//!
//! A terminal obeys the control sequences it is sent: an answer holding
//! `ESC ] 0 ; ... BEL` retitles the window, `ESC [ 2 J` clears the screen,
//! OSC 8 makes a link whose text lies about its target, and some terminals
//! answer queries by typing into the shell. [`for_terminal`] removes them,
//! with the C0 and C1 controls (newline and tab stay) and the bidirectional
//! overrides and isolates that make a line read differently from what it
//! holds. It is applied where such text enters berrah (an outcome recorded
//! by the worker or the store, an OAuth error) and again where it is printed
//! (`status`, `show`, the errors of `accounts login`), for rows stored
//! before.

use std::borrow::Cow;

/// `text` without terminal control sequences, C0/C1 controls other than
/// `\n` and `\t`, and bidi overrides/isolates. Borrowed when already clean.
pub fn for_terminal(text: &str) -> Cow<'_, str> {
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.peek() {
                // CSI: parameters and intermediates, up to a final byte.
                Some('[') => {
                    chars.next();
                    skip_csi(&mut chars);
                }
                // OSC, DCS, SOS, PM, APC: a string up to BEL or ST.
                Some(']' | 'P' | 'X' | '^' | '_') => {
                    chars.next();
                    skip_string(&mut chars);
                }
                // Other escapes: intermediates (0x20-0x2F), then one final character.
                Some(_) => {
                    while chars
                        .next_if(|c| ('\u{20}'..='\u{2f}').contains(c))
                        .is_some()
                    {}
                    chars.next_if(|c| ('\u{30}'..='\u{7e}').contains(c));
                }
                None => {}
            },
            // The 8-bit forms: CSI, and the string introducers.
            '\u{9b}' => skip_csi(&mut chars),
            '\u{90}' | '\u{98}' | '\u{9d}' | '\u{9e}' | '\u{9f}' => skip_string(&mut chars),
            c if unsafe_char(c) => {}
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// [`for_terminal`] into an owned `String`.
pub fn for_terminal_owned(text: String) -> String {
    match for_terminal(&text) {
        Cow::Borrowed(_) => text,
        Cow::Owned(clean) => clean,
    }
}

/// [`for_terminal`] of an optional text.
pub fn for_terminal_opt(text: Option<&str>) -> Option<String> {
    text.map(|t| for_terminal(t).into_owned())
}

/// A character never printed as is.
fn unsafe_char(c: char) -> bool {
    match c {
        '\n' | '\t' => false,
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' => true,
        // LRE, RLE, PDF, LRO, RLO; LRI, RLI, FSI, PDI.
        '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => true,
        _ => false,
    }
}

type Chars<'a> = std::iter::Peekable<std::str::Chars<'a>>;

/// Skips a CSI sequence's parameter and intermediate bytes and its final
/// byte (0x40-0x7E); stops at anything else, which is then handled alone.
fn skip_csi(chars: &mut Chars<'_>) {
    while chars
        .next_if(|c| ('\u{20}'..='\u{3f}').contains(c))
        .is_some()
    {}
    chars.next_if(|c| ('\u{40}'..='\u{7e}').contains(c));
}

/// Skips a control string up to its end: BEL, ST (`ESC \` or U+009C), or
/// the end of the text (a string left open is dropped whole).
fn skip_string(chars: &mut Chars<'_>) {
    while let Some(c) = chars.next() {
        match c {
            '\u{7}' | '\u{9c}' => return,
            '\u{1b}' => {
                chars.next_if_eq(&'\\');
                return;
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_text_is_borrowed_and_unchanged() {
        let t = "Bonjour\tRabat\nمرحبا — 2026 ✓";
        assert!(matches!(for_terminal(t), Cow::Borrowed(s) if s == t));
    }

    #[test]
    fn escape_sequences_are_removed() {
        let cases = [
            ("a\u{1b}]0;pwned\u{7}b", "ab"),
            ("a\u{1b}[2Jb", "ab"),
            ("\u{1b}[1;31mred\u{1b}[0m", "red"),
            (
                "a\u{1b}]8;;https://evil.example\u{1b}\\link\u{1b}]8;;\u{1b}\\b",
                "alinkb",
            ),
            ("a\u{1b}P+q544e\u{1b}\\b", "ab"),
            ("a\u{1b}(Bb", "ab"),
            ("a\u{1b}cb", "ab"),
            ("a\u{9b}2Jb", "ab"),
            ("a\u{9d}0;t\u{9c}b", "ab"),
            ("open \u{1b}]0;never closed", "open "),
            ("trailing \u{1b}", "trailing "),
        ];
        for (dirty, clean) in cases {
            assert_eq!(for_terminal(dirty), clean, "{dirty:?}");
        }
    }

    #[test]
    fn controls_and_bidi_overrides_go_newline_and_tab_stay() {
        assert_eq!(
            for_terminal("a\rb\u{8}c\u{0}d\u{7f}e\u{85}f\n\tg"),
            "abcdef\n\tg"
        );
        assert_eq!(
            for_terminal("x\u{202e}gnp.exe\u{202c}y\u{2066}z\u{2069}"),
            "xgnp.exeyz"
        );
        assert_eq!(for_terminal_owned("ok".into()), "ok");
    }
}
