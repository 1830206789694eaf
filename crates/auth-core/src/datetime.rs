//! ISO 8601 / RFC 3339 timestamps, as Markable's `expires_at` carries them.
//!
//! Hand-written because the need is narrow (UTC instants, whole seconds plus
//! an optional fraction) and a date-time crate would be the core's largest
//! dependency. Accepted: `2026-11-22T18:25:43Z`, `…43.511Z`, `…43+02:00`,
//! `…43+0200`, a space instead of `T`, and no offset at all (read as UTC,
//! which is what the APIs that omit it mean).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Parses an ISO 8601 date-time into a `SystemTime`. `None` if it is not one.
#[must_use]
pub fn parse_iso8601(s: &str) -> Option<SystemTime> {
    let s = s.trim();
    let b = s.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let year = digits(&b[0..4])?;
    let month = digits(&b[5..7])?;
    let day = digits(&b[8..10])?;
    let hour = digits(&b[11..13])?;
    let minute = digits(&b[14..16])?;
    let second = digits(&b[17..19])?;
    if !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut rest = &b[19..];
    let mut nanos: u64 = 0;
    if let Some((&b'.', frac)) = rest.split_first() {
        let n = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        for (i, c) in frac[..n].iter().enumerate() {
            if i < 9 {
                nanos = nanos * 10 + u64::from(c - b'0');
            }
        }
        for _ in n.min(9)..9 {
            nanos *= 10;
        }
        rest = &frac[n..];
    }
    let offset_secs: i64 = match rest {
        [] | [b'Z'] | [b'z'] => 0,
        [sign @ (b'+' | b'-'), tail @ ..] => {
            let (h, m) = match tail {
                [h1, h2, b':', m1, m2] | [h1, h2, m1, m2] => {
                    (digits(&[*h1, *h2])?, digits(&[*m1, *m2])?)
                }
                [h1, h2] => (digits(&[*h1, *h2])?, 0),
                _ => return None,
            };
            if h > 23 || m > 59 {
                return None;
            }
            let v = i64::from(h * 3600 + m * 60);
            if *sign == b'+' {
                v
            } else {
                -v
            }
        }
        _ => return None,
    };
    let days = days_from_civil(i64::from(year), month, day);
    let secs = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second) - offset_secs;
    let secs = u64::try_from(secs).ok()?;
    UNIX_EPOCH.checked_add(Duration::new(secs, u32::try_from(nanos).ok()?))
}

/// Formats a `SystemTime` as RFC 3339 UTC with whole seconds
/// (`2026-11-22T18:25:43Z`). Times before 1970 print as the epoch, and
/// times after 9999 as its last second: RFC 3339 years have four digits,
/// and a longer one would make a stored expiry unreadable for
/// [`parse_iso8601`] (a token with an absurd lifetime still round-trips as
/// "far ahead").
#[must_use]
pub fn format_rfc3339(t: SystemTime) -> String {
    /// 9999-12-31T23:59:59Z.
    const LAST: u64 = 253_402_300_799;
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
        .min(LAST);
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
    })
}

fn is_leap(y: u32) -> bool {
    (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400)
}

fn days_in_month(y: u32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

// Howard Hinnant's civil-calendar algorithms: exact for the proleptic
// Gregorian calendar, with no table and no loop.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn known_instants() {
        assert_eq!(parse_iso8601("1970-01-01T00:00:00Z"), Some(at(0)));
        assert_eq!(
            parse_iso8601("2026-11-22T18:25:43Z"),
            Some(at(1_795_371_943))
        );
        assert_eq!(
            parse_iso8601("2026-11-22T20:25:43+02:00"),
            Some(at(1_795_371_943))
        );
        assert_eq!(
            parse_iso8601("2026-11-22T18:25:43"),
            Some(at(1_795_371_943))
        );
        assert_eq!(
            parse_iso8601("2026-11-22T18:25:43.5Z"),
            Some(at(1_795_371_943) + Duration::from_millis(500))
        );
        assert_eq!(
            parse_iso8601("2024-02-29T00:00:00Z"),
            Some(at(1_709_164_800))
        );
    }

    #[test]
    fn rejects_garbage() {
        for s in [
            "",
            "2026-11-22",
            "2026-13-01T00:00:00Z",
            "2025-02-29T00:00:00Z",
            "2026-11-22T24:00:00Z",
            "2026-11-22T18:25:43.Z",
            "2026-11-22T18:25:43+2",
            "1969-12-31T23:59:59Z",
            "tomorrow at noon",
        ] {
            assert_eq!(parse_iso8601(s), None, "{s}");
        }
    }

    #[test]
    fn formats_utc() {
        assert_eq!(format_rfc3339(at(1_795_371_943)), "2026-11-22T18:25:43Z");
    }

    #[test]
    fn far_future_formats_as_the_last_four_digit_second() {
        let far = UNIX_EPOCH
            .checked_add(Duration::from_secs(u64::MAX / 4))
            .unwrap_or(at(253_402_300_800));
        assert_eq!(format_rfc3339(far), "9999-12-31T23:59:59Z");
        assert_eq!(
            parse_iso8601(&format_rfc3339(far)),
            Some(at(253_402_300_799))
        );
        assert_eq!(format_rfc3339(at(253_402_300_799)), "9999-12-31T23:59:59Z");
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(secs in 0u64..253_402_300_799) {
            prop_assert_eq!(parse_iso8601(&format_rfc3339(at(secs))), Some(at(secs)));
        }

        #[test]
        fn never_panics(s in "\\PC{0,40}") {
            let _ = parse_iso8601(&s);
        }
    }
}
