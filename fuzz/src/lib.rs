//! What the apiauth fuzz targets share: the credentials every parser is
//! given, the text format the seed corpora are written in, and the leak
//! oracle.
//!
//! The oracle is written here on purpose, not imported from
//! `auth_core::redact`: a fuzz target that asked the redactor which forms
//! to look for could never catch a form the redactor forgot.
//!
//! # The input format
//!
//! Targets that read an HTTP response take it as text, so that a seed is
//! a readable response and byte mutations stay meaningful:
//!
//! ```text
//! 400 read write            <- status, then (optional) the requested scopes
//! content-type: application/json
//!                           <- an empty line ends the headers
//! {"error":"invalid_client","error_description":"bad secret $S4"}
//! ```
//!
//! Before parsing, markers are expanded (see [`expand`]): `$S<c>` becomes
//! the client secret in the encoding that `<c>` selects ([`FORMS`]), `$T<c>`
//! the known access token likewise, `$I` the client id, `$K` the cache key.
//! The fuzzer can thus move the secret, in any encoding, anywhere a server
//! could echo it, and the oracle knows exactly what to look for.

use std::fmt::{Debug, Display};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Response, StatusCode};

/// The client id every parser is given. A space and a colon make its
/// form-encoding and its place in `id:secret` differ from the raw text.
pub const CLIENT_ID: &str = "fz client:7";

/// The client secret every parser is given: it holds each printable
/// special that changes shape under some encoding (`+ / = % & : " \` and a
/// space), and no `[` or `]`, so it cannot overlap the redactor's marker.
pub const CLIENT_SECRET: &str = r#"Zq8+Wm/Rv=Tx%Kp&Hy:Nd"Jb\Lc Fs"#;

/// An access token the targets can plant (`$T<c>`): visible ASCII, so a
/// parser accepts it, with specials that change under encoding.
pub const ACCESS_TOKEN: &str = "tok-Qx/Wz+Lm=Rb%Yc&Vn:Pk~Ge";

/// What the redactor writes in place of a secret. The oracle splits output
/// at it, so that a marker next to text that happens to complete a secret
/// (`[redac` + `ted]…`) is not read as a leak.
pub const REDACTED: &str = "[redacted]";

/// Wall time for every parser: 2026-11-22T18:25:43Z.
#[must_use]
pub fn wall() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_795_371_943)
}

/// The known credentials.
#[must_use]
pub fn credentials() -> auth_core::ClientCredentials {
    match auth_core::ClientCredentials::new(CLIENT_ID, CLIENT_SECRET) {
        Ok(c) => c,
        Err(e) => panic!("the fuzz credentials are refused: {e}"),
    }
}

// ---------------------------------------------------------------------------
// Encodings

/// The encodings a secret is planted in and looked for, by name. The index
/// of a form is what the character after `$S` selects.
pub const FORMS: &[&str] = &[
    "raw",
    "json-escaped",
    "debug-escaped",
    "escape_debug",
    "form-urlencoded, + for space, uppercase hex",
    "form-urlencoded, + for space, lowercase hex",
    "form-urlencoded, %20 for space, uppercase hex",
    "form-urlencoded, %20 for space, lowercase hex",
    "percent-encoded, uppercase hex",
    "percent-encoded, lowercase hex",
    "base64 standard of form(id):form(secret)",
    "base64 url-safe of form(id):form(secret)",
    "base64 standard of id:secret",
    "base64 url-safe of id:secret",
];

/// `secret` in form `index` (modulo the number of forms). Base64 is padded
/// here, as a server would echo it; the oracle looks for the unpadded
/// prefix, which every padded or cut-short echo of the whole value holds.
#[must_use]
pub fn encode(index: usize, secret: &str, id: &str) -> String {
    encode_with(index, secret, id, true)
}

fn encode_with(index: usize, secret: &str, id: &str, pad: bool) -> String {
    match index % FORMS.len() {
        0 => secret.to_owned(),
        1 => json_escape(secret),
        2 => debug_escape(secret),
        3 => secret.escape_debug().to_string(),
        4 => form_urlencode(secret, "+", HEX_UPPER),
        5 => form_urlencode(secret, "+", HEX_LOWER),
        6 => form_urlencode(secret, "%20", HEX_UPPER),
        7 => form_urlencode(secret, "%20", HEX_LOWER),
        8 => percent_encode(secret, HEX_UPPER),
        9 => percent_encode(secret, HEX_LOWER),
        10 | 11 => {
            let pair = format!(
                "{}:{}",
                form_urlencode(id, "+", HEX_UPPER),
                form_urlencode(secret, "+", HEX_UPPER)
            );
            base64(pair.as_bytes(), index % FORMS.len() == 11, pad)
        }
        _ => base64(
            format!("{id}:{secret}").as_bytes(),
            index % FORMS.len() == 13,
            pad,
        ),
    }
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";
const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";

fn push_hex(out: &mut String, b: u8, hex: &[u8; 16]) {
    out.push('%');
    out.push(char::from(hex[usize::from(b >> 4)]));
    out.push(char::from(hex[usize::from(b & 0x0f)]));
}

/// The body of a JSON string (RFC 8259 §7), without the quotes.
#[must_use]
pub fn json_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}

/// What `{:?}` prints for a string, without the quotes: how a secret that
/// sits in a field of an error looks in the error's `Debug`.
#[must_use]
pub fn debug_escape(s: &str) -> String {
    let d = format!("{s:?}");
    d[1..d.len() - 1].to_owned()
}

/// WHATWG `application/x-www-form-urlencoded`: what the client sends in a
/// form body and, per RFC 6749 §2.3.1, inside the Basic credentials.
#[must_use]
pub fn form_urlencode(s: &str, space: &str, hex: &[u8; 16]) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for &b in s.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(char::from(b));
            }
            b' ' => out.push_str(space),
            _ => push_hex(&mut out, b, hex),
        }
    }
    out
}

/// RFC 3986 percent-encoding: unreserved characters kept, all else encoded.
#[must_use]
pub fn percent_encode(s: &str, hex: &[u8; 16]) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            push_hex(&mut out, b, hex);
        }
    }
    out
}

/// RFC 4648 base64, standard (§4) or URL-safe (§5) alphabet.
#[must_use]
pub fn base64(bytes: &[u8], url_safe: bool, pad: bool) -> String {
    const STD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let alphabet = if url_safe { URL } else { STD };
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | u32::from(b) << (16 - 8 * i));
        let chars = chunk.len() + 1;
        for i in 0..4 {
            if i < chars {
                out.push(char::from(alphabet[((n >> (18 - 6 * i)) & 0x3f) as usize]));
            } else if pad {
                out.push('=');
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------
// The oracle

/// A secret, with every form it is planted in and looked for, computed once.
#[derive(Clone, Debug)]
pub struct Secret {
    value: String,
    id: String,
    /// By [`FORMS`] index; base64 padded, as a server would echo it.
    planted: Vec<String>,
    /// What the oracle looks for: [`FORMS`] with base64 unpadded (the
    /// prefix every padded or cut-short echo of the whole value holds),
    /// deduplicated, none holding [`REDACTED`].
    looked_for: Vec<(&'static str, String)>,
    /// The same, `{:?}`-escaped, as they show in a `Debug` that holds them.
    escaped: Vec<(&'static str, String)>,
}

impl Secret {
    /// `value`, whose base64 forms pair it with `id` (`id:value`).
    #[must_use]
    pub fn new(value: &str, id: &str) -> Self {
        let planted = (0..FORMS.len())
            .map(|i| encode_with(i, value, id, true))
            .collect();
        let mut looked_for: Vec<(&'static str, String)> = Vec::with_capacity(FORMS.len());
        for (i, name) in FORMS.iter().enumerate() {
            let form = encode_with(i, value, id, false);
            if !form.is_empty()
                && !form.contains(REDACTED)
                && !looked_for.iter().any(|(_, f)| *f == form)
            {
                looked_for.push((name, form));
            }
        }
        let escaped = looked_for
            .iter()
            .map(|(name, form)| (*name, debug_escape(form)))
            .filter(|(_, form)| !form.contains(REDACTED))
            .collect();
        Self {
            value: value.to_owned(),
            id: id.to_owned(),
            planted,
            looked_for,
            escaped,
        }
    }

    /// `value` with no id known: the base64 forms of `id:value` are left
    /// out (a parser that was never told the id cannot be asked to find
    /// them).
    #[must_use]
    pub fn without_id(value: &str) -> Self {
        let mut s = Self::new(value, "");
        s.looked_for.retain(|(name, _)| !name.starts_with("base64"));
        s.escaped.retain(|(name, _)| !name.starts_with("base64"));
        s
    }

    /// [`CLIENT_SECRET`] of [`CLIENT_ID`].
    #[must_use]
    pub fn client() -> &'static Secret {
        static S: OnceLock<Secret> = OnceLock::new();
        S.get_or_init(|| Secret::new(CLIENT_SECRET, CLIENT_ID))
    }

    /// [`ACCESS_TOKEN`].
    #[must_use]
    pub fn token() -> &'static Secret {
        static S: OnceLock<Secret> = OnceLock::new();
        S.get_or_init(|| Secret::new(ACCESS_TOKEN, CLIENT_ID))
    }

    /// The secret itself.
    #[must_use]
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The id its base64 forms pair it with.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The secret in form `index` (modulo the number of forms).
    #[must_use]
    pub fn planted(&self, index: usize) -> &str {
        &self.planted[index % self.planted.len()]
    }

    /// Where `text` shows the secret, if it does: the form's name and the
    /// form. Text is split at [`REDACTED`] first. With `escaped`, also
    /// looks for each form `{:?}`-escaped (the name then says so).
    #[must_use]
    pub fn find_leak(&self, text: &str, escaped: bool) -> Option<(String, &str)> {
        let plain = self.looked_for.iter().map(|(n, f)| (*n, f, false));
        let extra = self
            .escaped
            .iter()
            .filter(|_| escaped)
            .map(|(n, f)| (*n, f, true));
        let forms: Vec<(&'static str, &String, bool)> = plain.chain(extra).collect();
        text.split(REDACTED).find_map(|piece| {
            forms
                .iter()
                .find(|(_, form, _)| piece.contains(form.as_str()))
                .map(|(name, form, esc)| {
                    let name = if *esc {
                        format!("{name}, then escaped again as {{:?}} or JSON do")
                    } else {
                        (*name).to_owned()
                    };
                    (name, form.as_str())
                })
        })
    }

    /// Panics if `text` shows the secret in any form. `what` names it.
    pub fn assert_no_leak(&self, what: &str, text: &str) {
        if let Some((name, form)) = self.find_leak(text, false) {
            panic!("secret leaked ({name}: {form}) in {what}:\n{text}");
        }
    }

    /// Panics if the `Display` or the `Debug` of `value` shows the secret
    /// in any form, or in any form escaped once more: `Debug` escapes what
    /// a field holds, and an excerpt re-serializes JSON, so a form the
    /// server sent inside a JSON string (a request echoed in an error)
    /// shows escaped twice.
    pub fn assert_clean<E: Display + Debug>(&self, value: &E) {
        for (what, text) in [
            ("Display", value.to_string()),
            ("Debug", format!("{value:?}")),
        ] {
            if let Some((name, form)) = self.find_leak(&text, true) {
                panic!("secret leaked ({name}: {form}) in the {what} output:\n{text}");
            }
        }
    }
}

/// Panics unless the error's `Display` and `Debug` are free of the known
/// client secret.
pub fn assert_no_client_secret<E: Display + Debug>(value: &E) {
    Secret::client().assert_clean(value);
}

// ---------------------------------------------------------------------------
// Markers and the response text format

/// Values the markers expand to.
#[derive(Clone, Debug)]
pub struct Markers<'a> {
    /// `$S<c>`.
    pub secret: &'a Secret,
    /// `$T<c>`.
    pub token: &'a Secret,
    /// `$I`.
    pub id: &'a str,
    /// `$K` (JSON-escaped, as it sits in a stored token).
    pub key: &'a str,
}

impl Default for Markers<'_> {
    fn default() -> Self {
        Self {
            secret: Secret::client(),
            token: Secret::token(),
            id: CLIENT_ID,
            key: "",
        }
    }
}

/// Which form the byte after `$S` / `$T` selects: `0`–`9` then `a`–`z`
/// count up from 0 (readable seeds); any other byte selects by its value.
fn form_index(c: u8) -> usize {
    match c {
        b'0'..=b'9' => usize::from(c - b'0'),
        b'a'..=b'z' => usize::from(c - b'a') + 10,
        _ => usize::from(c),
    }
}

/// Expands the markers in `input`; a `$` that starts none is kept.
#[must_use]
pub fn expand(input: &[u8], m: &Markers<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() + 64);
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        if b == b'$' {
            match (input.get(i + 1), input.get(i + 2)) {
                (Some(b'S'), Some(&c)) => {
                    out.extend_from_slice(m.secret.planted(form_index(c)).as_bytes());
                    i += 3;
                    continue;
                }
                (Some(b'T'), Some(&c)) => {
                    out.extend_from_slice(m.token.planted(form_index(c)).as_bytes());
                    i += 3;
                    continue;
                }
                (Some(b'I'), _) => {
                    out.extend_from_slice(m.id.as_bytes());
                    i += 2;
                    continue;
                }
                (Some(b'K'), _) => {
                    out.extend_from_slice(json_escape(m.key).as_bytes());
                    i += 2;
                    continue;
                }
                _ => {}
            }
        }
        out.push(b);
        i += 1;
    }
    out
}

/// The scopes a status line can ask for.
pub const SCOPE_WORDS: &[&str] = &[
    "read", "write", "groups", "search", "default", "admin", "profile",
];

/// A response read from the text format.
#[derive(Debug)]
pub struct Input {
    /// Status, headers and body.
    pub response: Response<Vec<u8>>,
    /// The rest of the status line (the targets read scopes from it).
    pub words: String,
}

impl Input {
    /// The scopes asked for: the words of the status line found in
    /// [`SCOPE_WORDS`]. A fixed vocabulary, because the scopes asked for
    /// are the client's own configuration, not server bytes: were they
    /// free text, the fuzzer could put the secret there and "find" it
    /// echoed in an error that quotes the request.
    #[must_use]
    pub fn scopes(&self) -> auth_core::Scopes {
        let words = self.words.split(' ').filter(|w| SCOPE_WORDS.contains(w));
        auth_core::Scopes::from_tokens(words).unwrap_or_else(|_| auth_core::Scopes::empty())
    }
}

/// Splits off the first line (without its `\r\n` / `\n`).
fn split_line(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == b'\n') {
        Some(i) => {
            let line = &data[..i];
            (line.strip_suffix(b"\r").unwrap_or(line), &data[i + 1..])
        }
        None => (data, &[]),
    }
}

/// A status from the first word of the status line. Anything that is not a
/// valid status still picks one (from the bytes), so mutations of the
/// status line keep exploring statuses instead of falling on a default.
fn status(word: &[u8]) -> StatusCode {
    std::str::from_utf8(word)
        .ok()
        .and_then(|w| w.parse::<u16>().ok())
        .and_then(|n| StatusCode::from_u16(n).ok())
        .unwrap_or_else(|| {
            let sum = word
                .iter()
                .fold(0u32, |acc, &b| acc.wrapping_mul(31) ^ u32::from(b));
            let n = 100 + (sum % 500) as u16;
            StatusCode::from_u16(n).unwrap_or(StatusCode::OK)
        })
}

/// Reads `name: value` lines up to an empty line (or the end) into
/// `headers`; returns what follows. Lines that are no valid header are
/// skipped, as a client's HTTP parser would have refused them.
pub fn read_headers<'d>(mut data: &'d [u8], headers: &mut HeaderMap) -> &'d [u8] {
    while !data.is_empty() {
        let (line, rest) = split_line(data);
        data = rest;
        if line.is_empty() {
            break;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = line[..colon].trim_ascii();
        let value = line[colon + 1..].trim_ascii_start();
        if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name), HeaderValue::from_bytes(value)) {
            headers.append(n, v);
        }
    }
    data
}

/// Reads a response in the text format (markers already expanded).
#[must_use]
pub fn parse_response(data: &[u8]) -> Input {
    let (status_line, rest) = split_line(data);
    let (code, words) = match status_line.iter().position(|&b| b == b' ') {
        Some(i) => (&status_line[..i], &status_line[i + 1..]),
        None => (status_line, &[][..]),
    };
    let mut response = Response::new(Vec::new());
    *response.status_mut() = status(code);
    let body = read_headers(rest, response.headers_mut());
    *response.body_mut() = body.to_vec();
    Input {
        response,
        words: String::from_utf8_lossy(words).into_owned(),
    }
}

/// Expands the default markers and reads the response.
#[must_use]
pub fn response_from(data: &[u8]) -> Input {
    parse_response(&expand(data, &Markers::default()))
}

/// Invariants of any accepted token, whatever the dialect: the value can
/// go in an `Authorization` header, and a stated lifetime is not zero.
pub fn check_token(t: &auth_core::TokenResponse) {
    let v = t.access_token.expose_secret();
    assert!(!v.is_empty(), "an empty access token was accepted");
    assert!(
        v.bytes().all(|b| (0x21..=0x7e).contains(&b)),
        "an access token that cannot go in a header was accepted: {v:?}"
    );
    if let auth_core::Lifetime::ExpiresIn(d) = t.lifetime {
        assert!(!d.is_zero(), "expires_in 0 must read as unknown");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_match_known_values() {
        let s = "a b+c/d=e%f&g:h\"i\\j~k";
        assert_eq!(
            form_urlencode(s, "+", HEX_UPPER),
            "a+b%2Bc%2Fd%3De%25f%26g%3Ah%22i%5Cj%7Ek"
        );
        assert_eq!(
            percent_encode(s, HEX_LOWER),
            "a%20b%2bc%2fd%3de%25f%26g%3ah%22i%5cj~k"
        );
        assert_eq!(json_escape(s), r#"a b+c/d=e%f&g:h\"i\\j~k"#);
        assert_eq!(base64(b"my id:s", false, true), "bXkgaWQ6cw==");
        assert_eq!(base64(b"my id:s", false, false), "bXkgaWQ6cw");
        assert_eq!(base64(&[0xfb, 0xff], true, true), "-_8=");
        assert_eq!(base64(&[0xfb, 0xff], false, true), "+/8=");
    }

    #[test]
    fn the_oracle_sees_every_form_and_ignores_the_marker() {
        let s = Secret::client();
        for i in 0..FORMS.len() {
            let planted = format!("x {} y", encode(i, CLIENT_SECRET, CLIENT_ID));
            assert!(s.find_leak(&planted, false).is_some(), "{i}");
            assert_eq!(planted, format!("x {} y", s.planted(i)));
        }
        assert!(s.find_leak("x [redacted] y", true).is_none());
        let odd = Secret::new("redacted]x", "i");
        assert!(odd.find_leak("[redac[redacted]ted]", false).is_none());
        assert!(odd.find_leak("redacted]x", false).is_some());
    }

    #[test]
    fn the_text_format_reads_a_response() {
        let input = response_from(
            b"400 read write\ncontent-type: application/json\nbad line\n\n{\"e\":\"$S4\"}",
        );
        assert_eq!(input.response.status(), 400);
        assert_eq!(input.scopes().canonical(), "read write");
        assert_eq!(input.response.headers().len(), 1);
        let body = String::from_utf8(input.response.body().clone()).unwrap();
        assert_eq!(
            body,
            format!(
                "{{\"e\":\"{}\"}}",
                form_urlencode(CLIENT_SECRET, "+", HEX_UPPER)
            )
        );
    }
}
