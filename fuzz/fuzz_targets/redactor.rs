//! The redactor itself, fed a random secret and random text that embeds
//! it in encodings the fuzzer picks.
//!
//! Input: line 1 is the secret (bytes mapped onto printable ASCII, 8 to 40
//! characters), line 2 the client id (printable ASCII, 1 to 20), the rest
//! the text, where `$S<c>` stands for the secret in form `<c>` (see
//! `apiauth_fuzz::FORMS`). Asserts: no panic, and no form of the secret
//! left in `Redactor::text`'s output.
#![no_main]

use apiauth_fuzz::{expand, Markers, Secret, REDACTED};
use auth_core::redact::Redactor;
use libfuzzer_sys::fuzz_target;

/// Maps bytes onto printable ASCII (space to `~`), dropping a trailing
/// `\r` so seeds may have Windows line ends.
fn printable(line: &[u8]) -> String {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    line.iter()
        .map(|&b| {
            if (0x20..=0x7e).contains(&b) {
                char::from(b)
            } else {
                char::from(0x20 + b % 95)
            }
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |&b| b == b'\n');
    let (Some(secret), Some(id), Some(text)) = (parts.next(), parts.next(), parts.next()) else {
        return;
    };
    let secret: String = printable(secret).chars().take(40).collect();
    let mut id: String = printable(id).chars().take(20).collect();
    if secret.len() < 8 || secret.contains(REDACTED) {
        return;
    }
    if id.is_empty() {
        id.push_str("client");
    }
    let oracle = Secret::new(&secret, &id);
    let text = expand(
        text,
        &Markers {
            secret: &oracle,
            id: &id,
            ..Markers::default()
        },
    );
    let text = String::from_utf8_lossy(&text);
    let out = Redactor::new([&secret, ""]).with_client_id(&id).text(&text);
    oracle.assert_no_leak("Redactor::text", &out);
});
