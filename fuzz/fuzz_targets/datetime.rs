//! ISO 8601 / RFC 3339 date-times (Markable's `expires_at`, the stored
//! token's `expires_at` and `issued_at`) as `datetime::parse_iso8601` reads
//! them, and HTTP-dates (`Date`) as `wire::date` reads them.
//!
//! Asserts: no panic; whatever parses formats back (RFC 3339, UTC, whole
//! seconds) to a string that parses to the same second; formatting any
//! instant gives a well-formed string that parses.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use auth_core::datetime::{format_rfc3339, parse_iso8601};
use http::header::DATE;
use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;

/// 9999-12-31T23:59:59Z, the last instant RFC 3339 can write.
const LAST: u64 = 253_402_300_799;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Some(t) = parse_iso8601(&text) {
        let secs = t
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let formatted = format_rfc3339(t);
        let back = parse_iso8601(&formatted);
        let want = UNIX_EPOCH + Duration::from_secs(secs.min(LAST));
        assert_eq!(back, Some(want), "{text:?} -> {formatted}");
    }

    // Any instant formats to 20 well-formed characters that parse back.
    if data.len() >= 8 {
        let mut b = [0u8; 8];
        b.copy_from_slice(&data[..8]);
        let secs = u64::from_le_bytes(b);
        if let Some(t) = UNIX_EPOCH.checked_add(Duration::from_secs(secs)) {
            let s = format_rfc3339(t);
            assert_eq!(s.len(), 20, "{s}");
            assert_eq!(
                parse_iso8601(&s),
                Some(UNIX_EPOCH + Duration::from_secs(secs.min(LAST))),
                "{s}"
            );
        }
    }

    if let Ok(v) = HeaderValue::from_bytes(data) {
        let mut h = HeaderMap::new();
        h.insert(DATE, v);
        let _ = auth_core::wire::date(&h);
    }
});
