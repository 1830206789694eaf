//! An oracle for secret leaks, written apart from the redactor it checks:
//! every form in which a client sends, or a server echoes, a secret.
#![allow(dead_code)]

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;

/// `s` percent-encoded, keeping the bytes `keep` accepts; `space` replaces
/// a space when given; hex in upper or lower case.
fn encode(s: &str, keep: fn(u8) -> bool, space: Option<&str>, upper: bool) -> String {
    s.bytes()
        .map(|b| match b {
            b' ' if space.is_some() => space.unwrap_or_default().to_owned(),
            b if keep(b) => (b as char).to_string(),
            b if upper => format!("%{b:02X}"),
            b => format!("%{b:02x}"),
        })
        .collect()
}

fn whatwg(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"*-._".contains(&b)
}

fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~".contains(&b)
}

/// The forms of `secret` a leak check looks for (with `id` for Basic).
pub fn forms(id: &str, secret: &str) -> Vec<String> {
    let quoted = |q: String| q[1..q.len() - 1].to_owned();
    let mut out = vec![
        secret.to_owned(),
        quoted(format!("{secret:?}")),
        quoted(serde_json::to_string(secret).unwrap()),
    ];
    for upper in [true, false] {
        out.push(encode(secret, whatwg, Some("+"), upper));
        out.push(encode(secret, whatwg, None, upper));
        out.push(encode(secret, unreserved, None, upper));
    }
    let form_id = encode(id, whatwg, Some("+"), true);
    let form_secret = encode(secret, whatwg, Some("+"), true);
    for pair in [format!("{id}:{secret}"), format!("{form_id}:{form_secret}")] {
        for engine in [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD] {
            out.push(engine.encode(&pair));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The first form of `secret` found in `text`, if any.
pub fn leaked(text: &str, id: &str, secret: &str) -> Option<String> {
    forms(id, secret)
        .into_iter()
        .find(|f| text.contains(f.as_str()))
}
