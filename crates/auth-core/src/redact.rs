//! Turning server text into something safe to keep in an error.
//!
//! A server may echo what it was sent (the client secret) or carry a token
//! in a body we failed to parse. Before any server text enters an [`Error`]
//! it goes through here: JSON values under credential-like keys are
//! replaced, every known secret is cut out, and the result is shortened.
//!
//! [`Error`]: crate::Error

use serde_json::Value;

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

/// Secrets known for this exchange, to be cut out of any server text.
#[derive(Clone, Copy, Default)]
pub struct Redactor<'a> {
    secrets: [&'a str; 2],
}

impl<'a> Redactor<'a> {
    /// Redacts the given secrets (empty strings are ignored).
    #[must_use]
    pub fn new(secrets: [&'a str; 2]) -> Self {
        Self { secrets }
    }

    /// Cuts every known secret out of `text`, also in the escaped forms
    /// `{:?}` and JSON give it (a secret holding `"` or `\` changes shape
    /// when quoted).
    #[must_use]
    pub fn text(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for s in self.secrets.iter().filter(|s| !s.is_empty()) {
            let debug = s.escape_debug().to_string();
            let json = serde_json::to_string(s).unwrap_or_default();
            let json = json.trim_matches('"');
            for form in [*s, debug.as_str(), json] {
                if !form.is_empty() && out.contains(form) {
                    out = out.replace(form, REPLACEMENT);
                }
            }
        }
        out
    }

    /// A short, redacted excerpt of a body, for an error message.
    #[must_use]
    pub fn excerpt(&self, body: &[u8]) -> String {
        if body.is_empty() {
            return "(empty)".into();
        }
        let text = match serde_json::from_slice::<Value>(body) {
            Ok(mut v) => {
                scrub(&mut v);
                v.to_string()
            }
            Err(_) => {
                let lossy = String::from_utf8_lossy(body);
                if SENSITIVE_KEYS[..4].iter().any(|k| lossy.contains(k)) {
                    // Not JSON, yet it names a credential (a form-encoded
                    // token response, say): too risky to quote.
                    return "[withheld: the body names a credential]".into();
                }
                lossy
                    .chars()
                    .map(|c| if c.is_control() { ' ' } else { c })
                    .collect()
            }
        };
        shorten(&self.text(&text), EXCERPT_CHARS)
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

    #[test]
    fn json_credentials_are_scrubbed_at_any_depth() {
        let r = Redactor::default();
        let e = r.excerpt(br#"{"data":{"access_token":"tok123","x":1},"token_type":"mac"}"#);
        assert!(!e.contains("tok123"), "{e}");
        assert!(e.contains("mac"), "{e}");
    }

    #[test]
    fn known_secrets_are_cut_from_plain_text() {
        let r = Redactor::new(["s3cret", ""]);
        let e = r.excerpt(b"<html>you sent s3cret</html>");
        assert!(!e.contains("s3cret"), "{e}");
        assert!(e.contains("[redacted]"), "{e}");
    }

    #[test]
    fn form_bodies_naming_tokens_are_withheld() {
        let r = Redactor::default();
        let e = r.excerpt(b"access_token=abc&token_type=bearer");
        assert!(!e.contains("abc"), "{e}");
    }

    #[test]
    fn excerpts_are_short() {
        let r = Redactor::default();
        let body = "x".repeat(10_000);
        let e = r.excerpt(body.as_bytes());
        assert!(e.chars().count() <= EXCERPT_CHARS + 1);
        assert_eq!(shorten("héllo", 2), "hé…");
    }
}
