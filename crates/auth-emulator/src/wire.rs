//! Small wire-format helpers: form bodies, HTTP Basic, timestamps, ids.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::HeaderMap;
use base64::Engine as _;

/// Why a form body or credential could not be read.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum WireError {
    BadEncoding,
    Duplicate(String),
}

/// Parses `application/x-www-form-urlencoded`. A parameter sent twice is an
/// error because RFC 6749 §3.2 says parameters "MUST NOT be included more
/// than once" and a server must not guess which one was meant.
pub(crate) fn parse_form(body: &[u8]) -> Result<Vec<(String, String)>, WireError> {
    let mut out: Vec<(String, String)> = Vec::new();
    for pair in body.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        let (name, value) = match pair.iter().position(|b| *b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &b""[..]),
        };
        let name = form_decode(name)?;
        let value = form_decode(value)?;
        if out.iter().any(|(n, _)| *n == name) {
            return Err(WireError::Duplicate(name));
        }
        out.push((name, value));
    }
    Ok(out)
}

/// Parses `multipart/form-data` (RFC 7578) into name/value pairs, as Django
/// does for `request.POST`; file parts are read as text too. `None` if the
/// boundary is missing or the body is not multipart. A name sent twice is
/// an error, as in [`parse_form`].
pub(crate) fn parse_multipart(
    headers: &HeaderMap,
    body: &[u8],
) -> Option<Result<Vec<(String, String)>, WireError>> {
    let ctype = headers
        .get(axum::http::header::CONTENT_TYPE)?
        .to_str()
        .ok()?;
    let boundary = ctype.split(';').skip(1).find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"').to_owned())
    })?;
    let delimiter = format!("--{boundary}");
    let text = std::str::from_utf8(body).ok()?;
    let mut out: Vec<(String, String)> = Vec::new();
    for part in text.split(delimiter.as_str()).skip(1) {
        if part.starts_with("--") {
            break;
        }
        let part = part.strip_prefix("\r\n").unwrap_or(part);
        let (head, value) = part.split_once("\r\n\r\n")?;
        let value = value.strip_suffix("\r\n").unwrap_or(value);
        let name = head.lines().find_map(|line| {
            let (k, v) = line.split_once(':')?;
            if !k.trim().eq_ignore_ascii_case("content-disposition") {
                return None;
            }
            v.split(';').find_map(|p| {
                let (k, v) = p.trim().split_once('=')?;
                (k.trim() == "name").then(|| v.trim().trim_matches('"').to_owned())
            })
        })?;
        if out.iter().any(|(n, _)| *n == name) {
            return Some(Err(WireError::Duplicate(name)));
        }
        out.push((name, value.to_owned()));
    }
    Some(Ok(out))
}

/// Looks a parameter up in a parsed form.
pub(crate) fn form_get<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// Decodes one form-urlencoded component: `+` is a space, `%XX` a byte.
pub(crate) fn form_decode(raw: &[u8]) -> Result<String, WireError> {
    let mut bytes = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => bytes.push(b' '),
            b'%' => {
                let hi = raw.get(i + 1).and_then(|b| hex(*b));
                let lo = raw.get(i + 2).and_then(|b| hex(*b));
                match (hi, lo) {
                    (Some(h), Some(l)) => bytes.push(h << 4 | l),
                    _ => return Err(WireError::BadEncoding),
                }
                i += 2;
            }
            b => bytes.push(b),
        }
        i += 1;
    }
    String::from_utf8(bytes).map_err(|_| WireError::BadEncoding)
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// What the `Authorization` header carries.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Authorization {
    None,
    Bearer(String),
    /// RFC 6749 §2.3.1: id and secret form-urlencoded, joined by `:`, base64.
    Basic {
        id: String,
        secret: String,
    },
    /// Present but unreadable, or of another scheme.
    Malformed {
        was_basic: bool,
    },
}

pub(crate) fn authorization(headers: &HeaderMap) -> Authorization {
    let Some(value) = headers.get(axum::http::header::AUTHORIZATION) else {
        return Authorization::None;
    };
    let Ok(value) = value.to_str() else {
        return Authorization::Malformed { was_basic: false };
    };
    let (scheme, rest) = match value.split_once(' ') {
        Some((s, r)) => (s, r.trim()),
        None => (value, ""),
    };
    if scheme.eq_ignore_ascii_case("bearer") {
        if rest.is_empty() {
            return Authorization::Malformed { was_basic: false };
        }
        return Authorization::Bearer(rest.to_owned());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        return decode_basic(rest).unwrap_or(Authorization::Malformed { was_basic: true });
    }
    Authorization::Malformed { was_basic: false }
}

fn decode_basic(encoded: &str) -> Option<Authorization> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let colon = raw.iter().position(|b| *b == b':')?;
    let id = form_decode(&raw[..colon]).ok()?;
    let secret = form_decode(&raw[colon + 1..]).ok()?;
    Some(Authorization::Basic { id, secret })
}

/// The media type of a request, lowercased, without parameters.
pub(crate) fn media_type(headers: &HeaderMap) -> Option<String> {
    let value = headers
        .get(axum::http::header::CONTENT_TYPE)?
        .to_str()
        .ok()?;
    let essence = value.split(';').next().unwrap_or("").trim();
    Some(essence.to_ascii_lowercase())
}

/// Milliseconds since the Unix epoch, as Markable writes its timestamps.
pub(crate) fn unix_millis(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// RFC 9110 §5.6.7 IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`, for
/// `Expires`.
pub(crate) fn http_date(time: SystemTime) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = time
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{}, {d:02} {} {y:04} {:02}:{:02}:{:02} GMT",
        DAYS[(days % 7) as usize],
        MONTHS[(m - 1) as usize],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date, after Howard
/// Hinnant's public-domain `civil_from_days`.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// SplitMix64: tiny, seedable and good enough for ids and tokens that only
/// need to be unique and reproducible, never unguessable.
#[derive(Debug)]
pub(crate) struct Rng(u64);

const ALPHANUMERIC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Python's `secrets.token_urlsafe(n)`: `n` random bytes in URL-safe
    /// base64 without padding (86 characters for 64 bytes).
    pub(crate) fn token_urlsafe(&mut self, n: usize) -> String {
        let bytes: Vec<u8> = (0..n).map(|_| (self.next_u64() >> 56) as u8).collect();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    pub(crate) fn alphanumeric(&mut self, len: usize) -> String {
        (0..len)
            .map(|_| {
                let i = (self.next_u64() % ALPHANUMERIC.len() as u64) as usize;
                char::from(ALPHANUMERIC[i])
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn form_round_trip() {
        let form = parse_form(b"a=1+2&b=%41%2b&c").unwrap();
        assert_eq!(form_get(&form, "a"), Some("1 2"));
        assert_eq!(form_get(&form, "b"), Some("A+"));
        assert_eq!(form_get(&form, "c"), Some(""));
        assert_eq!(
            parse_form(b"a=1&a=2"),
            Err(WireError::Duplicate("a".into()))
        );
        assert_eq!(parse_form(b"a=%zz"), Err(WireError::BadEncoding));
    }

    #[test]
    fn multipart_fields() {
        let mut headers = HeaderMap::new();
        headers.insert(
            axum::http::header::CONTENT_TYPE,
            "multipart/form-data; boundary=XyZ".parse().unwrap(),
        );
        let body = "--XyZ\r\nContent-Disposition: form-data; name=\"grant_type\"\r\n\r\nclient_credentials\r\n\
                    --XyZ\r\nContent-Disposition: form-data; name=\"client_id\"\r\n\r\na b\r\n--XyZ--\r\n";
        let form = parse_multipart(&headers, body.as_bytes()).unwrap().unwrap();
        assert_eq!(form_get(&form, "grant_type"), Some("client_credentials"));
        assert_eq!(form_get(&form, "client_id"), Some("a b"));
    }

    #[test]
    fn basic_is_form_decoded() {
        let mut headers = HeaderMap::new();
        // "a%3Ab:s+%26" → id "a:b", secret "s &"
        let encoded = base64::engine::general_purpose::STANDARD.encode("a%3Ab:s+%26");
        headers.insert(
            axum::http::header::AUTHORIZATION,
            format!("Basic {encoded}").parse().unwrap(),
        );
        assert_eq!(
            authorization(&headers),
            Authorization::Basic {
                id: "a:b".into(),
                secret: "s &".into()
            }
        );
    }

    #[test]
    fn http_dates_and_codes() {
        assert_eq!(
            http_date(UNIX_EPOCH + Duration::from_secs(784_111_777)),
            "Sun, 06 Nov 1994 08:49:37 GMT"
        );
        assert_eq!(http_date(UNIX_EPOCH), "Thu, 01 Jan 1970 00:00:00 GMT");
        let code = Rng::new(1).token_urlsafe(64);
        assert_eq!(code.len(), 86);
        assert!(code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_ne!(code, Rng::new(2).token_urlsafe(64));
    }
}
