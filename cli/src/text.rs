//! Text from a store or a request, printed safely to a terminal.

/// `text` as one unambiguous token: bare when it is plain printable text,
/// otherwise quoted with Rust's escapes. Control characters (ESC, `\r`,
/// `\n`, C1 codes) and other non-printables (bidi overrides, zero-width
/// characters) then show as `\u{1b}`-style escapes instead of moving the
/// cursor, recolouring or rewriting the developer's terminal.
pub fn token(text: &str, also_quote: &[char]) -> String {
    let plain = !text.is_empty()
        && text.chars().all(|c| {
            // `escape_debug` leaves exactly the printable characters alone
            // (and escapes `"` and `\`, which a bare token must not hold).
            c == '\''
                || (!c.is_whitespace() && !also_quote.contains(&c) && c.escape_debug().len() == 1)
        });
    if plain {
        text.to_owned()
    } else {
        format!("{text:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::token;

    #[test]
    fn tokens_are_plain_or_quoted_and_escaped() {
        assert_eq!(token("Home", &[]), "Home");
        assert_eq!(token("café's", &[]), "café's");
        assert_eq!(token("", &[]), r#""""#);
        assert_eq!(token("Hello World", &[]), r#""Hello World""#);
        assert_eq!(token("a=b", &['=']), r#""a=b""#);
        assert_eq!(token("say \"hi\"\\", &[]), r#""say \"hi\"\\""#);
        assert_eq!(token("\x1b[2J\r\n\x07", &[]), r#""\u{1b}[2J\r\n\u{7}""#);
        assert_eq!(token("\u{9b}31m\u{7f}", &[]), r#""\u{9b}31m\u{7f}""#);
        assert_eq!(
            token("\u{202e}txt.exe\u{200b}", &[]),
            r#""\u{202e}txt.exe\u{200b}""#
        );
    }
}
