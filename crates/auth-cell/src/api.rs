//! Calling the protected API with a token: which answers reject it, and the
//! rule that a rejected token costs one invalidation and at most one retry.

use auth_core::Token;

use crate::{Job, TokenCell};

/// What an API answer means for the call.
#[derive(Debug)]
#[must_use = "run the job: it carries the store removal of the rejected token"]
pub struct Judgement {
    /// The token was rejected, and invalidated.
    pub rejected: bool,
    /// Send the request once more with a new token (rejected, replayable,
    /// not retried yet); otherwise hand the answer to the caller.
    pub retry: bool,
    /// The store work of the invalidation, when nobody else will run it:
    /// run it (in the background is fine).
    pub job: Option<Job>,
}

/// The rejected → invalidate → retry-once rule for one API call, the same
/// in every driver.
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

    /// Judges the answer to a request sent with `token` by `cell`'s
    /// rejection policy, records its rate-limit headers, and invalidates a
    /// rejected token.
    pub fn judge(
        &mut self,
        cell: &TokenCell,
        token: &Token,
        status: http::StatusCode,
        headers: &http::HeaderMap,
        body_is_empty: bool,
    ) -> Judgement {
        let rejected = cell.is_rejected(status, headers, body_is_empty);
        if rejected {
            tracing::debug!(%status, "the API rejected the token");
        }
        self.judge_rejected(cell, token, rejected)
    }

    /// The same rule for an answer the caller has judged itself (an
    /// endpoint with its own way of saying "no valid token", such as the
    /// Openverse key status's 403 `Forbidden`).
    pub fn judge_rejected(&mut self, cell: &TokenCell, token: &Token, rejected: bool) -> Judgement {
        if !rejected {
            return Judgement {
                rejected: false,
                retry: false,
                job: None,
            };
        }
        let retry = self.replayable && !self.retried;
        self.retried |= retry;
        if retry {
            tracing::debug!("retrying once with a new token");
        }
        Judgement {
            rejected: true,
            retry,
            job: cell.invalidate(token),
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
