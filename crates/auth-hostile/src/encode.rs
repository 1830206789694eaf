//! Every form a client secret can take on the wire or in text, written
//! here from the specifications and independently of `auth-core`, so the
//! leak oracle does not share a blind spot with the redactor it checks.
//!
//! The server uses the same functions to echo a secret back in a chosen
//! form; the oracle uses them to look for it.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;

/// Hex case of a percent-encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hex {
    /// `%2F` (what RFC 3986 §2.1 recommends and most encoders write).
    Upper,
    /// `%2f` (equivalent, and what some servers write back).
    Lower,
}

/// How `application/x-www-form-urlencoded` writes a space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Space {
    /// WHATWG URL §5.2: `+`.
    Plus,
    /// `%20`, as encoders that do not special-case the space write it.
    Percent,
}

fn push_pct(out: &mut String, b: u8, hex: Hex) {
    let digits: &[u8; 16] = match hex {
        Hex::Upper => b"0123456789ABCDEF",
        Hex::Lower => b"0123456789abcdef",
    };
    out.push('%');
    out.push(char::from(digits[usize::from(b >> 4)]));
    out.push(char::from(digits[usize::from(b & 0x0f)]));
}

/// `application/x-www-form-urlencoded` (WHATWG URL §5.2): alphanumerics and
/// `*-._` stay, a space becomes `space`, every other byte `%XX`.
#[must_use]
pub fn form(s: &str, space: Space, hex: Hex) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for &b in s.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(char::from(b));
            }
            b' ' if space == Space::Plus => out.push('+'),
            _ => push_pct(&mut out, b, hex),
        }
    }
    out
}

/// The WHATWG form encoding with `+` and uppercase hex: what RFC 6749
/// §2.3.1 prescribes for the id and secret inside a Basic header.
#[must_use]
pub fn form_std(s: &str) -> String {
    form(s, Space::Plus, Hex::Upper)
}

/// RFC 3986 §2.3 percent-encoding: unreserved `A-Z a-z 0-9 - . _ ~` stay,
/// every other byte `%XX`.
#[must_use]
pub fn percent(s: &str, hex: Hex) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for &b in s.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(b));
            }
            _ => push_pct(&mut out, b, hex),
        }
    }
    out
}

/// The inside of a JSON string literal (RFC 8259 §7) as `serde_json` writes
/// it: `"` and `\` escaped, control characters as `\n` or `\u00XX`.
#[must_use]
pub fn json(s: &str) -> String {
    let quoted = serde_json::Value::String(s.to_owned()).to_string();
    quoted[1..quoted.len() - 1].to_owned()
}

/// The inside of a JSON string literal with `/` escaped too (`\/`), as PHP
/// and some Java encoders write it.
#[must_use]
pub fn json_slash(s: &str) -> String {
    json(s).replace('/', "\\/")
}

/// What `{:?}` prints inside the quotes.
#[must_use]
pub fn debug(s: &str) -> String {
    let quoted = format!("{s:?}");
    quoted[1..quoted.len() - 1].to_owned()
}

/// Base64 alphabets and padding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum B64 {
    /// RFC 4648 §4, padded (what HTTP Basic uses).
    Standard,
    /// RFC 4648 §4, unpadded.
    StandardNoPad,
    /// RFC 4648 §5 (URL-safe), padded.
    UrlSafe,
    /// RFC 4648 §5, unpadded.
    UrlSafeNoPad,
}

impl B64 {
    /// Every alphabet and padding.
    pub const ALL: [B64; 4] = [
        B64::Standard,
        B64::StandardNoPad,
        B64::UrlSafe,
        B64::UrlSafeNoPad,
    ];
}

/// Base64 of `bytes` in `alphabet`.
#[must_use]
pub fn base64(bytes: &[u8], alphabet: B64) -> String {
    match alphabet {
        B64::Standard => STANDARD.encode(bytes),
        B64::StandardNoPad => STANDARD_NO_PAD.encode(bytes),
        B64::UrlSafe => URL_SAFE.encode(bytes),
        B64::UrlSafeNoPad => URL_SAFE_NO_PAD.encode(bytes),
    }
}

/// The index of the first base64 character that depends on input byte
/// `byte` and later ones only: characters before it mix in earlier bytes
/// (the client id, say), so only what follows carries the secret alone.
#[must_use]
pub fn base64_char_after(byte: usize) -> usize {
    (byte * 4).div_ceil(3)
}

/// Decodes WHATWG form encoding (`+` is a space). `None` if it is not
/// valid UTF-8 after decoding.
#[must_use]
pub fn form_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// Decodes standard base64, padded or not.
#[must_use]
pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    STANDARD
        .decode(s)
        .or_else(|_| STANDARD_NO_PAD.decode(s))
        .ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn form_encoding_follows_whatwg() {
        let s = "a+b/c:d%e&f=g h~\"\\#";
        assert_eq!(
            form(s, Space::Plus, Hex::Upper),
            "a%2Bb%2Fc%3Ad%25e%26f%3Dg+h%7E%22%5C%23"
        );
        assert_eq!(
            form(s, Space::Percent, Hex::Lower),
            "a%2bb%2fc%3ad%25e%26f%3dg%20h%7e%22%5c%23"
        );
        assert_eq!(form_decode(&form_std(s)).unwrap(), s);
        assert_eq!(form_decode("%").unwrap(), "%");
        assert_eq!(form_decode("a%2").unwrap(), "a%2");
    }

    #[test]
    fn percent_encoding_keeps_unreserved() {
        assert_eq!(percent("a~b c/", Hex::Upper), "a~b%20c%2F");
        assert_eq!(percent("a~b c/", Hex::Lower), "a~b%20c%2f");
    }

    #[test]
    fn text_escapes() {
        assert_eq!(json("a\"b\\c/\n"), "a\\\"b\\\\c/\\n");
        assert_eq!(json_slash("a/b"), "a\\/b");
        assert_eq!(debug("a\"b\\c'\n"), "a\\\"b\\\\c'\\n");
    }

    #[test]
    fn base64_alphabets() {
        assert_eq!(base64(b"id:s?>", B64::Standard), "aWQ6cz8+");
        assert_eq!(base64(b"id:s?>", B64::UrlSafe), "aWQ6cz8-");
        assert_eq!(base64(b"ab", B64::Standard), "YWI=");
        assert_eq!(base64(b"ab", B64::StandardNoPad), "YWI");
        assert_eq!(base64_char_after(3), 4);
        assert_eq!(base64_char_after(4), 6);
        assert_eq!(base64_decode("YWI").unwrap(), b"ab");
    }
}
