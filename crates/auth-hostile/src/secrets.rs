//! Client secrets drawn from the whole printable ASCII set: the characters
//! that change shape under every encoding (`+ / = % & : " \ space ~ #`) are
//! where a redactor that only knows the raw form goes blind.

/// Fixed secrets, each built to break one naive redactor or another.
pub const FIXED_SECRETS: &[&str] = &[
    // The brief's secret, minus its non-ASCII letter.
    r#"s3 cr+t/=%&:"\~#"#,
    // Looks already encoded: a decoder applied twice changes it.
    "%41%2B already+encoded/== %25",
    // Every form-encoding special at once, with spaces inside.
    r#"p+l/u=s&a:b"c\d e~f#g?h;i@j"#,
    // Quotes and backslashes: JSON and Debug escaping differ.
    r#"q"u\o\"t'e"s\\ and 'more' "#,
    // Base64 look-alike: the alphabet's own specials.
    "==base64+/look-alike_AZaz09==",
    // Brackets, braces and HTML-ish text.
    "<b>{brace}[br]|pipe|^c$!?`tick`</b>",
];

/// A small deterministic generator (xorshift64*), so a case's secret is the
/// same in every run without pulling in a property-testing crate.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed` (zero is replaced: xorshift needs a set bit).
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Self(if seed == 0 {
            0x9e37_79b9_7f4a_7c15
        } else {
            seed
        })
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        // n is small; the modulo bias is irrelevant for test data.
        (self.next_u64() % (n.max(1) as u64)) as usize
    }
}

/// The characters that change shape under some encoding.
const SPECIALS: &[u8] = br#"+/=%&:"\ ~#"#;

/// A secret of 20 to 36 printable ASCII characters that holds at least four
/// of `SPECIALS`, with no space at either end (a secret read from a line
/// keeps inner spaces only, in most tools).
#[must_use]
pub fn generated_secret(seed: u64) -> String {
    let mut rng = Rng::new(seed);
    let len = 20 + rng.below(17);
    let mut bytes: Vec<u8> = (0..len)
        .map(|_| 0x20 + u8::try_from(rng.below(95)).unwrap_or(0))
        .collect();
    for _ in 0..4 {
        let at = rng.below(len);
        bytes[at] = SPECIALS[rng.below(SPECIALS.len())];
    }
    for end in [0, len - 1] {
        if bytes[end] == b' ' {
            bytes[end] = b'~';
        }
    }
    String::from_utf8(bytes).unwrap_or_else(|_| "fallback secret +/=%&:\"\\".to_owned())
}

/// FNV-1a of `s`: a stable seed for a case name.
#[must_use]
pub fn fnv(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in s.as_bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The secret a case named `name` uses: one of [`FIXED_SECRETS`] or a
/// generated one, chosen by the name's hash so it never changes between
/// runs and adding a case does not reshuffle the others.
#[must_use]
pub fn secret_for(name: &str) -> String {
    let h = fnv(name);
    let pick = (h % (FIXED_SECRETS.len() as u64 + 4)) as usize;
    match FIXED_SECRETS.get(pick) {
        Some(s) => (*s).to_owned(),
        None => generated_secret(h),
    }
}

/// The client id a case named `name` uses. Some hold a colon, a space or a
/// plus, which RFC 6749 §2.3.1 form-encodes before the Basic header joins
/// id and secret.
#[must_use]
pub fn client_id_for(name: &str) -> String {
    let h = fnv(name);
    match h % 3 {
        0 => format!("hostile-client-{:04x}", h & 0xffff),
        1 => format!("hostile:client {:04x}", h & 0xffff),
        _ => format!("hostile+client/{:04x}", h & 0xffff),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_are_printable_and_special() {
        for seed in 0..500 {
            let s = generated_secret(seed);
            assert!(s.bytes().all(|b| (0x20..0x7f).contains(&b)), "{s:?}");
            assert!(s.len() >= 20 && s.len() <= 36, "{s:?}");
            assert!(!s.starts_with(' ') && !s.ends_with(' '), "{s:?}");
            let specials = s.bytes().filter(|b| SPECIALS.contains(b)).count();
            assert!(specials >= 1, "{s:?}");
        }
        assert_eq!(generated_secret(7), generated_secret(7));
        assert_ne!(generated_secret(7), generated_secret(8));
    }

    #[test]
    fn fixed_secrets_cover_the_specials() {
        let all: String = FIXED_SECRETS.concat();
        for c in SPECIALS {
            assert!(all.as_bytes().contains(c), "{}", char::from(*c));
        }
        for s in FIXED_SECRETS {
            assert!(s.len() >= 16, "{s}");
        }
    }
}
