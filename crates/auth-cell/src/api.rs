//! Calling the protected API with a token: which answers reject it, and the
//! rule that a rejected token costs one invalidation and at most one retry.

use crate::TokenCell;

/// What to do with an API answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verdict {
    /// Hand the answer to the caller.
    Deliver,
    /// The token was rejected: invalidate it and hand the answer back (the
    /// request cannot be replayed, or was retried once already).
    Invalidate,
    /// The token was rejected: invalidate it, get a new one and send the
    /// replayed request once more.
    InvalidateAndRetry,
}

/// The retry-once decision for one API call, the same in every driver.
#[derive(Clone, Debug)]
pub struct ApiCall {
    replayable: bool,
    retried: bool,
}

impl ApiCall {
    /// A call whose request can (`replayable`) or cannot be sent twice.
    #[must_use]
    pub fn new(replayable: bool) -> Self {
        Self {
            replayable,
            retried: false,
        }
    }

    /// Judges an answer by `cell`'s rejection policy (and records its
    /// rate-limit headers).
    pub fn judge(
        &mut self,
        cell: &TokenCell,
        status: http::StatusCode,
        headers: &http::HeaderMap,
        body_is_empty: bool,
    ) -> Verdict {
        if !cell.is_rejected(status, headers, body_is_empty) {
            return Verdict::Deliver;
        }
        if self.replayable && !self.retried {
            self.retried = true;
            Verdict::InvalidateAndRetry
        } else {
            Verdict::Invalidate
        }
    }
}

/// A copy of a request for the one retry after a rejected token
/// (extensions are not copied: `http` cannot clone them).
#[must_use]
pub fn copy_request(request: &http::Request<Vec<u8>>) -> http::Request<Vec<u8>> {
    let mut copy = http::Request::new(request.body().clone());
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.version_mut() = request.version();
    *copy.headers_mut() = request.headers().clone();
    copy
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_copied_for_the_retry() {
        let original = http::Request::post("https://api.example.com/x")
            .header("x-a", "1")
            .body(b"body".to_vec())
            .unwrap();
        let copy = copy_request(&original);
        assert_eq!(copy.method(), original.method());
        assert_eq!(copy.uri(), original.uri());
        assert_eq!(copy.headers(), original.headers());
        assert_eq!(copy.body(), original.body());
    }
}
