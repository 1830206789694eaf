//! Turning server text into something safe to keep in an error, a log
//! line or a terminal.
//!
//! A server may echo what it was sent (the client secret, in whatever
//! encoding the client sent it in) or carry a token in a body we failed to
//! parse, and it may send control sequences meant for a terminal. Before
//! any server text enters an [`Error`] it goes through here:
//!
//! - every known secret is cut out in each form the client transmits it in
//!   and the forms servers echo it back in ([`Redactor::forms`]);
//! - an excerpt of a *successful* answer shows the body's shape only —
//!   keys, lengths, small numbers — never a string value, because a body
//!   we could not parse as a token may still hold the token under a key we
//!   do not know (or no key at all);
//! - an excerpt of an error answer keeps the server's words, with values
//!   under credential-like keys replaced;
//! - control characters, escape sequences, line breaks and bidirectional
//!   overrides are made visible ([`sanitize`]), so a server cannot clear a
//!   screen or forge a line of output;
//! - a redirect's `Location` loses its query ([`Redactor::location`]).
//!
//! [`Error`]: crate::Error

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;
use http::Response;
use serde_json::Value;

use crate::wire::form_encode;

/// The longest excerpt kept, in characters.
pub const EXCERPT_CHARS: usize = 160;

const REPLACEMENT: &str = "[redacted]";

/// JSON keys whose values are credentials wherever they appear.
const SENSITIVE_KEYS: &[&str] = &[
    "access_token",
    "refresh_token",
    "id_token",
    "client_secret",
    "token",
    "password",
    "secret",
];

/// Secrets known for an exchange, to be cut out of any server text.
///
/// Cheap to make (it borrows); the encoded forms are computed only when
/// text is redacted, which happens on error paths.
#[derive(Clone, Copy, Default)]
pub struct Redactor<'a> {
    secrets: [&'a str; 2],
    client_id: &'a str,
}

impl<'a> Redactor<'a> {
    /// Redacts the given secrets (empty strings are ignored): typically the
    /// client secret and an access token.
    #[must_use]
    pub fn new(secrets: [&'a str; 2]) -> Self {
        Self {
            secrets,
            client_id: "",
        }
    }

    /// Also redacts the HTTP Basic credentials built from `client_id` and
    /// the first secret (the base64 of `id:secret`, as apiauth and as
    /// other clients encode it). The id itself is not a secret.
    #[must_use]
    pub fn with_client_id(mut self, client_id: &'a str) -> Self {
        self.client_id = client_id;
        self
    }

    /// Every form a secret is cut out in, longest first:
    ///
    /// - raw, `{:?}`-escaped, JSON-escaped (also with `\/`), HTML-escaped;
    /// - form-urlencoded as the client sends it (space as `+`) and with
    ///   `%20`, percent-encoded (RFC 3986 unreserved characters kept), and
    ///   form-encoded then percent-encoded again (a URL query quoting a
    ///   form), each with upper- and lowercase hex;
    /// - base64 (standard and URL-safe, padded or not) of the secret, and
    ///   with a client id, of `id:secret` and `form(id):form(secret)`.
    #[must_use]
    pub fn forms(&self) -> Vec<String> {
        let mut out = Vec::new();
        for s in self.secrets.iter().filter(|s| !s.is_empty()) {
            out.push((*s).to_owned());
            out.push(s.escape_debug().to_string());
            let json = json_inner(s);
            // Escaped twice: a server quoting the JSON request inside a
            // JSON error string.
            out.push(json_inner(&json));
            out.push(json.replace('/', "\\/"));
            out.push(json);
            out.push(html_escape(s));
            let form = form(s);
            let encodings = [
                form.clone(),
                form.replace('+', "%20"),
                percent(s),
                percent(&form),
            ];
            for e in encodings {
                out.push(lower_hex(&e));
                out.push(e);
            }
            for engine in [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD] {
                out.push(engine.encode(s));
            }
        }
        let secret = self.secrets[0];
        if !self.client_id.is_empty() && !secret.is_empty() {
            let pairs = [
                format!("{}:{}", form(self.client_id), form(secret)),
                format!("{}:{secret}", self.client_id),
            ];
            for pair in pairs {
                for engine in [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD] {
                    out.push(engine.encode(&pair));
                }
            }
        }
        out.retain(|f| !f.is_empty());
        out.sort_by_key(|f| std::cmp::Reverse(f.len()));
        out.dedup();
        out
    }

    /// Cuts every known secret out of `text` in every form of
    /// [`forms`](Self::forms), then makes control characters visible
    /// ([`sanitize`]).
    #[must_use]
    pub fn text(&self, text: &str) -> String {
        let forms = self.forms();
        // Again after sanitizing: an escape it writes could complete a form.
        cut(&forms, sanitize(&cut(&forms, text.to_owned())))
    }

    /// A short, redacted, sanitized excerpt of a response body for an
    /// error message. A successful status shows the body's shape only.
    #[must_use]
    pub fn excerpt(&self, response: &Response<Vec<u8>>) -> String {
        let body = response.body();
        if body.is_empty() {
            return "(empty)".into();
        }
        let success = response.status().is_success();
        let text = match serde_json::from_slice::<Value>(body) {
            Ok(mut v) if success => {
                shape(&mut v);
                v.to_string()
            }
            Ok(mut v) => {
                scrub(&mut v);
                // Cut secrets out of each string before it is escaped again
                // by serializing: an echo JSON-escaped once by the server
                // would come out escaped twice.
                cut_strings(&self.forms(), &mut v);
                v.to_string()
            }
            Err(_) if success => {
                return format!(
                    "[withheld: {} bytes that are not JSON; a successful answer may hold the token]",
                    body.len()
                );
            }
            Err(_) => {
                let lossy = String::from_utf8_lossy(body);
                if SENSITIVE_KEYS[..4].iter().any(|k| lossy.contains(k)) {
                    // Not JSON, yet it names a credential (a form-encoded
                    // token response, say): too risky to quote.
                    return "[withheld: the body names a credential]".into();
                }
                lossy.into_owned()
            }
        };
        shorten(&self.text(&text), EXCERPT_CHARS)
    }

    /// A redirect target fit to show: the query and fragment withheld (a
    /// server may put anything there, the secret included), the rest
    /// redacted, sanitized and shortened.
    #[must_use]
    pub fn location(&self, raw: &[u8]) -> String {
        let text = String::from_utf8_lossy(raw);
        let shown = self.endpoint(&text);
        if text.contains(['?', '#']) {
            format!("{shown} (query withheld)")
        } else {
            shown
        }
    }

    /// Where a request went, fit to show: scheme, host and path, redacted,
    /// sanitized and shortened; the query and fragment left out.
    #[must_use]
    pub fn endpoint(&self, url: &str) -> String {
        let base = &url[..url.find(['?', '#']).unwrap_or(url.len())];
        shorten(&self.text(base), 120)
    }
}

/// Makes server text safe for a terminal or a log line: control
/// characters (C0, DEL, C1 — so ESC, CSI and OSC sequences, CR and LF too)
/// and invisible formatting characters (bidirectional overrides and
/// isolates, zero-width characters, BOM) are written as visible escapes
/// (`\n`, `\u{1b}`), so a server can neither drive a terminal nor forge a
/// line of output. Printable text, non-ASCII letters included, is kept.
#[must_use]
pub fn sanitize(text: &str) -> String {
    let needs = |c: char| c.is_control() || is_invisible_format(c);
    if !text.chars().any(needs) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || is_invisible_format(c) => {
                out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out
}

/// Characters that change how text reads without being seen.
fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}'
    )
}

/// `s` as it appears inside a JSON string, without the quotes.
fn json_inner(s: &str) -> String {
    let json = serde_json::to_string(s).unwrap_or_default();
    json[1..json.len().saturating_sub(1).max(1)].to_owned()
}

/// Form-urlencoding as the client sends it (WHATWG, uppercase hex).
fn form(s: &str) -> String {
    let mut out = String::new();
    form_encode(s, &mut out);
    out
}

/// RFC 3986 percent-encoding: unreserved characters kept, uppercase hex.
fn percent(s: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len() * 3);
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
    out
}

/// The same encoding with lowercase hex digits after each `%`.
fn lower_hex(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut hex_left = 0;
    for c in s.chars() {
        if hex_left > 0 {
            out.push(c.to_ascii_lowercase());
            hex_left -= 1;
        } else {
            if c == '%' {
                hex_left = 2;
            }
            out.push(c);
        }
    }
    out
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Replaces every form in `forms` (longest first) found in `out`.
fn cut(forms: &[String], mut out: String) -> String {
    for form in forms {
        if out.contains(form.as_str()) {
            out = out.replace(form.as_str(), REPLACEMENT);
        }
    }
    out
}

/// Cuts the forms out of every string (keys included) in a JSON value.
fn cut_strings(forms: &[String], v: &mut Value) {
    match v {
        Value::String(s) => *s = cut(forms, std::mem::take(s)),
        Value::Array(items) => items.iter_mut().for_each(|i| cut_strings(forms, i)),
        Value::Object(map) => {
            let old = std::mem::take(map);
            for (k, mut val) in old {
                cut_strings(forms, &mut val);
                map.insert(cut(forms, k), val);
            }
        }
        _ => {}
    }
}

/// Replaces values under credential-like keys, at any depth.
fn scrub(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                if SENSITIVE_KEYS.contains(&k.to_ascii_lowercase().as_str()) {
                    *val = Value::String(REPLACEMENT.into());
                } else {
                    scrub(val);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(scrub),
        _ => {}
    }
}

/// Keeps a body's structure and drops its values: strings become their
/// length, long numbers and long keys are withheld.
fn shape(v: &mut Value) {
    match v {
        Value::String(s) => *s = format!("[{} chars]", s.chars().count()),
        Value::Number(n) if n.to_string().len() > 10 => *v = Value::String("[number]".into()),
        Value::Array(items) => items.iter_mut().for_each(shape),
        Value::Object(map) => {
            let old = std::mem::take(map);
            for (i, (k, mut val)) in old.into_iter().enumerate() {
                shape(&mut val);
                let key = if k.chars().count() > 40 {
                    format!("[key {i}: {} chars]", k.chars().count())
                } else {
                    k
                };
                map.insert(key, val);
            }
        }
        _ => {}
    }
}

/// Cuts `s` to at most `max` characters, marking the cut.
#[must_use]
pub fn shorten(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_owned(),
        Some((i, _)) => format!("{}…", &s[..i]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, body: &[u8]) -> Response<Vec<u8>> {
        let mut r = Response::new(body.to_vec());
        *r.status_mut() = http::StatusCode::from_u16(status).unwrap();
        r
    }

    #[test]
    fn json_credentials_are_scrubbed_at_any_depth() {
        let r = Redactor::default();
        let e = r.excerpt(&response(
            400,
            br#"{"data":{"access_token":"tok123","x":1},"token_type":"mac"}"#,
        ));
        assert!(!e.contains("tok123"), "{e}");
        assert!(e.contains("mac"), "{e}");
    }

    #[test]
    fn a_successful_answer_shows_its_shape_only() {
        let r = Redactor::default();
        for body in [
            &br#""tok-abcdef-123456""#[..],
            br#"{"data":"tok-abcdef-123456"}"#,
            br#"{"accessToken":"tok-abcdef-123456","expiresIn":3600}"#,
            br#"[{"x":{"y":"tok-abcdef-123456"}}]"#,
            b"tok-abcdef-123456",
        ] {
            let e = r.excerpt(&response(200, body));
            assert!(!e.contains("abcdef"), "{e}");
        }
        let e = r.excerpt(&response(200, br#"{"accessToken":"tok","expiresIn":3600}"#));
        assert!(e.contains("accessToken") && e.contains("3600"), "{e}");
    }

    #[test]
    fn known_secrets_are_cut_from_plain_text() {
        let r = Redactor::new(["s3cret", ""]);
        let e = r.excerpt(&response(500, b"<html>you sent s3cret</html>"));
        assert!(!e.contains("s3cret"), "{e}");
        assert!(e.contains("[redacted]"), "{e}");
    }

    #[test]
    fn every_encoding_the_client_sends_is_cut() {
        let secret = "a b+c/d=e%f&g:h\"i\\j~k";
        let r = Redactor::new([secret, ""]).with_client_id("my id");
        let echoes = [
            "a+b%2Bc%2Fd%3De%25f%26g%3Ah%22i%5Cj%7Ek".to_owned(),
            "a%20b%2bc%2fd%3de%25f%26g%3ah%22i%5cj%7ek".to_owned(),
            "a%20b%2Bc%2Fd%3De%25f%26g%3Ah%22i%5Cj~k".to_owned(),
            STANDARD.encode(format!("my+id:{}", form(secret))),
            URL_SAFE_NO_PAD.encode(format!("my id:{secret}")),
            r#"a b+c\/d=e%f&g:h\"i\\j~k"#.to_owned(),
        ];
        for echo in echoes {
            let out = r.text(&format!("you sent [{echo}]"));
            assert_eq!(out, "you sent [[redacted]]", "{echo}");
        }
    }

    #[test]
    fn an_echo_of_the_json_request_inside_a_json_error_is_cut() {
        let secret = r#"Nd"J\b/x"#;
        let r = Redactor::new([secret, ""]).with_client_id("id");
        let request = serde_json::json!({ "client_id": "id", "client_secret": secret }).to_string();
        let body =
            serde_json::json!({ "errors": [{ "detail": format!("bad request {request}") }] });
        let e = r.excerpt(&response(400, body.to_string().as_bytes()));
        assert!(e.contains("[redacted]"), "{e}");
        for form in r.forms() {
            assert!(!e.contains(&form), "{form} in {e}");
        }
        assert!(!e.contains("Nd"), "{e}");
    }

    #[test]
    fn control_characters_are_made_visible() {
        let out = sanitize("a\u{1b}[2J\u{1b}]0;pwned\u{7}\nhint: run x\u{202e}\u{85}é");
        assert_eq!(
            out,
            "a\\u{1b}[2J\\u{1b}]0;pwned\\u{7}\\nhint: run x\\u{202e}\\u{85}é"
        );
        assert!(!out.chars().any(char::is_control));
    }

    #[test]
    fn a_location_loses_its_query() {
        let r = Redactor::new(["s3cret", ""]);
        let l = r.location(b"https://evil.example/cb?client_secret=s3cret%20x#frag");
        assert_eq!(l, "https://evil.example/cb (query withheld)");
    }

    #[test]
    fn form_bodies_naming_tokens_are_withheld() {
        let r = Redactor::default();
        let e = r.excerpt(&response(400, b"access_token=abc&token_type=bearer"));
        assert!(!e.contains("abc"), "{e}");
    }

    #[test]
    fn excerpts_are_short() {
        let r = Redactor::default();
        let body = "x".repeat(10_000);
        let e = r.excerpt(&response(500, body.as_bytes()));
        assert!(e.chars().count() <= EXCERPT_CHARS + 1);
        assert_eq!(shorten("héllo", 2), "hé…");
    }
}
