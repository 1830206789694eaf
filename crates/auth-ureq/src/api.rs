//! Calling the protected API: add the header, and when the provider's
//! rejection policy says the answer rejects the token, invalidate it and
//! retry once — the cell decides, this file only sends.

use std::sync::Arc;

use auth_cell::{copy_request, ApiCall, Verdict};
use auth_core::{RateLimits, Token};
use http::header::AUTHORIZATION;
use http::{Request, Response};

use crate::{Error, TokenProvider};

impl TokenProvider {
    /// Adds `Authorization: Bearer <token>` to `request`, and returns the
    /// token it attached, so a rejected one can be invalidated.
    pub fn authorize<B>(&self, mut request: Request<B>) -> Result<(Request<B>, Arc<Token>), Error> {
        let token = self.token()?;
        request
            .headers_mut()
            .insert(AUTHORIZATION, token.authorization_header().clone());
        Ok((request, token))
    }

    /// Sends `request` with a token, using the configured agent, and reads
    /// the response (any status) up to `max_api_body_bytes`.
    ///
    /// When the answer rejects the token (by the provider's
    /// [`auth_core::RejectionPolicy`]), the token is invalidated, a new one
    /// fetched and the request sent once more; the second answer is
    /// returned whatever it is. Use [`send_once`](Self::send_once) for
    /// requests that must not be repeated.
    ///
    /// Errors are token failures ([`Error::Auth`]) and transport failures of
    /// the API call ([`Error::Transport`]); HTTP error statuses are not errors.
    pub fn send(&self, request: Request<Vec<u8>>) -> Result<Response<Vec<u8>>, Error> {
        let replay = copy_request(&request);
        self.call(request, Some(replay))
    }

    /// Like [`send`](Self::send) but never repeats the request: a rejected
    /// token is invalidated (so the next call gets a new one) and the
    /// rejecting answer returned.
    pub fn send_once(&self, request: Request<Vec<u8>>) -> Result<Response<Vec<u8>>, Error> {
        self.call(request, None)
    }

    fn call(
        &self,
        mut request: Request<Vec<u8>>,
        mut replay: Option<Request<Vec<u8>>>,
    ) -> Result<Response<Vec<u8>>, Error> {
        let mut call = ApiCall::new(replay.is_some());
        loop {
            let token = self.token()?;
            request
                .headers_mut()
                .insert(AUTHORIZATION, token.authorization_header().clone());
            let response = self
                .inner
                .api
                .exchange(request)
                .map_err(|f| self.cell().api_transport_error(&token, f.kind, &f.detail))?;
            let verdict = call.judge(
                self.cell(),
                response.status(),
                response.headers(),
                response.body().is_empty(),
            );
            if verdict == Verdict::Deliver {
                return Ok(response);
            }
            self.invalidate(&token);
            match (verdict, replay.take()) {
                (Verdict::InvalidateAndRetry, Some(next)) => {
                    tracing::debug!(status = %response.status(), "the API rejected the token; retrying once with a new one");
                    request = next;
                }
                _ => return Ok(response),
            }
        }
    }

    /// The rate-limit headers of the last API answer that carried any
    /// (CC Catalog / Openverse send `X-RateLimit-*` pairs).
    #[must_use]
    pub fn last_rate_limits(&self) -> Option<RateLimits> {
        self.cell().last_rate_limits()
    }
}
