//! Django REST Framework's `SimpleRateThrottle`, as Openverse runs it
//! (`api/api/utils/throttle.py` on top of `rest_framework/throttling.py`).
//!
//! Each throttle keeps, per cache key, the times of the requests it let
//! through, newest first. A request is allowed while fewer than `requests`
//! of them fall inside the window; an allowed request is recorded and the
//! list stored again with the window as its cache timeout. A refused one is
//! not recorded. Every throttle of a view is asked (DRF does not stop at the
//! first refusal), so a request refused by the burst throttle still counts
//! against a sustained one that let it pass. The answer then waits for the
//! longest of the refusals' waits.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use axum::http::header::{HeaderName, RETRY_AFTER};
use axum::http::StatusCode;
use serde_json::json;

use crate::config::Rate;
use crate::reply::Reply;

/// One cache entry: the recorded request times, newest first, and when the
/// entry expires (the window after the last recorded request).
#[derive(Debug)]
pub(crate) struct Bucket {
    history: VecDeque<Instant>,
    expires: Instant,
}

/// Every throttle cache entry, by key (`<scope>:<ident>`).
#[derive(Debug, Default)]
pub(crate) struct Buckets {
    entries: HashMap<String, Bucket>,
}

/// One throttle to consult: the header suffix it reports under, its rate
/// (`None`: off, as DRF's `None` rate), and its cache key.
pub(crate) struct Throttle {
    pub(crate) suffix: &'static str,
    pub(crate) rate: Option<Rate>,
    pub(crate) key: String,
}

/// What the throttles of one request decided.
#[derive(Debug, Default)]
pub(crate) struct Verdict {
    /// `X-RateLimit-Limit-*` / `X-RateLimit-Available-*` pairs.
    headers: Vec<(String, String)>,
    /// Some when a throttle refused: the longest wait in seconds, or `None`
    /// when no refusal could say (DRF then sends no `Retry-After`).
    refused: Option<Option<f64>>,
}

impl Buckets {
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }

    /// Runs the throttles of one request, in order.
    pub(crate) fn check(&mut self, throttles: &[Throttle], now: Instant) -> Verdict {
        let mut verdict = Verdict::default();
        for t in throttles {
            let Some(rate) = t.rate else { continue };
            let (allowed, available, wait) = self.allow(&t.key, rate, now);
            verdict
                .headers
                .push((format!("x-ratelimit-limit-{}", t.suffix), rate.to_string()));
            verdict.headers.push((
                format!("x-ratelimit-available-{}", t.suffix),
                available.to_string(),
            ));
            if !allowed {
                let longest = match verdict.refused {
                    Some(Some(w)) => Some(wait.map_or(w, |x| x.max(w))),
                    _ => wait,
                };
                verdict.refused = Some(longest);
            }
        }
        verdict
    }

    /// `SimpleRateThrottle.allow_request`: whether to let the request pass,
    /// the requests left, and (when refused) `wait()`.
    fn allow(&mut self, key: &str, rate: Rate, now: Instant) -> (bool, i64, Option<f64>) {
        let window = rate.period.duration();
        let bucket = self.entries.entry(key.to_owned()).or_insert(Bucket {
            history: VecDeque::new(),
            expires: now,
        });
        if now >= bucket.expires {
            // The cache entry timed out: no history.
            bucket.history.clear();
        }
        while bucket
            .history
            .back()
            .is_some_and(|oldest| now.duration_since(*oldest) >= window)
        {
            bucket.history.pop_back();
        }
        let limit = i64::from(rate.requests);
        let len = i64::try_from(bucket.history.len()).unwrap_or(i64::MAX);
        if len >= limit {
            let remaining = match bucket.history.back() {
                Some(oldest) => window.saturating_sub(now.duration_since(*oldest)),
                None => window,
            };
            let slots = limit - len + 1;
            let wait = (slots > 0).then(|| remaining.as_secs_f64() / slots as f64);
            return (false, limit - len, wait);
        }
        bucket.history.push_front(now);
        bucket.expires = now + window;
        (true, limit - len - 1, None)
    }

    /// What `cache.get(key)` returns to `CheckRates`: the stored list's
    /// length, or `None` for no entry or an empty one.
    pub(crate) fn recorded(&self, key: &str, now: Instant) -> Option<u64> {
        self.entries
            .get(key)
            .filter(|b| now < b.expires && !b.history.is_empty())
            .and_then(|b| u64::try_from(b.history.len()).ok())
    }
}

impl Verdict {
    /// Whether a throttle refused the request.
    pub(crate) fn is_refused(&self) -> bool {
        self.refused.is_some()
    }

    /// DRF's `Throttled` answer: 429 with the wait rounded up, in the body
    /// and in `Retry-After` (left out when the wait is unknown or zero).
    pub(crate) fn refusal(&self) -> Reply {
        let wait = self.refused.flatten().map(|w| w.ceil().max(0.0) as u64);
        let detail = match wait {
            Some(1) => "Request was throttled. Expected available in 1 second.".to_owned(),
            Some(n) => format!("Request was throttled. Expected available in {n} seconds."),
            None => "Request was throttled.".to_owned(),
        };
        let reply = Reply::json(StatusCode::TOO_MANY_REQUESTS, json!({ "detail": detail }));
        match wait {
            Some(n) if n > 0 => reply.header(RETRY_AFTER, &n.to_string()),
            _ => reply,
        }
    }

    /// Adds the `X-RateLimit-*` pairs to a reply (DRF adds them to every
    /// answer of a view whose throttles ran, refusals included).
    pub(crate) fn decorate(&self, mut reply: Reply) -> Reply {
        for (name, value) in &self.headers {
            if let Ok(name) = HeaderName::try_from(name.as_str()) {
                reply = reply.header(name, value);
            }
        }
        reply
    }

    /// The refusal if there was one, with the headers either way: `Err`
    /// ends the request.
    pub(crate) fn gate(&self) -> Result<(), Box<Reply>> {
        if self.is_refused() {
            Err(Box::new(self.decorate(self.refusal())))
        } else {
            Ok(())
        }
    }
}

/// The wait before a refused request would pass, for Markable's 429.
pub(crate) fn wait_secs(verdict: &Verdict) -> Option<u64> {
    verdict.refused.flatten().map(|w| w.ceil().max(1.0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn t(rate: &str, key: &str) -> Throttle {
        Throttle {
            suffix: "anon_burst",
            rate: Some(rate.parse().unwrap()),
            key: key.to_owned(),
        }
    }

    #[test]
    fn sliding_window_and_wait() {
        let mut b = Buckets::default();
        let start = Instant::now();
        for i in 0..3 {
            let v = b.check(&[t("3/min", "k")], start + Duration::from_secs(i * 10));
            assert!(!v.is_refused());
            assert_eq!(v.headers[1].1, (2 - i).to_string());
        }
        // At 30 s the oldest (0 s) leaves the window at 60 s: wait 30 s.
        let v = b.check(&[t("3/min", "k")], start + Duration::from_secs(30));
        assert!(v.is_refused());
        assert_eq!(wait_secs(&v), Some(30));
        assert_eq!(v.headers[1].1, "0");
        // At 60 s the first request has left the window.
        let v = b.check(&[t("3/min", "k")], start + Duration::from_secs(60));
        assert!(!v.is_refused());
        assert_eq!(b.recorded("k", start + Duration::from_secs(61)), Some(3));
        assert_eq!(b.recorded("k", start + Duration::from_secs(121)), None);
    }

    #[test]
    fn every_throttle_is_asked_and_the_longest_wait_wins() {
        let mut b = Buckets::default();
        let now = Instant::now();
        let both = [t("1/min", "burst"), t("5/day", "sustained")];
        assert!(!b.check(&both, now).is_refused());
        let v = b.check(&both, now);
        assert!(v.is_refused());
        // The sustained throttle let the refused request pass and recorded it.
        assert_eq!(b.recorded("sustained", now), Some(2));
        assert_eq!(v.refusal().status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            v.refusal().body["detail"],
            "Request was throttled. Expected available in 60 seconds."
        );
    }

    #[test]
    fn off_throttles_say_nothing() {
        let mut b = Buckets::default();
        let off = Throttle {
            suffix: "anon_burst",
            rate: None,
            key: "k".into(),
        };
        let v = b.check(&[off], Instant::now());
        assert!(!v.is_refused());
        assert!(v.headers.is_empty());
    }
}
