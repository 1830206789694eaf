//! Calling the protected API: add the header, send, and let the cell judge
//! the answer (see [`auth_cell::ApiCall`]).

use std::sync::Arc;

use auth_cell::{copy_request, ApiCall};
use auth_core::{RateLimits, Token};
use http::header::AUTHORIZATION;
use http::{Request, Response};

use crate::transport::Transport;
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
        let template = copy_request(&request);
        let mut first = Some(request);
        self.call(
            &self.inner.api,
            true,
            |_| false,
            |_| Ok(first.take().unwrap_or_else(|| copy_request(&template))),
        )
    }

    /// Like [`send`](Self::send) but never repeats the request: a rejected
    /// token is invalidated (so the next call gets a new one) and the
    /// rejecting answer returned.
    pub fn send_once(&self, request: Request<Vec<u8>>) -> Result<Response<Vec<u8>>, Error> {
        let mut first = Some(request);
        self.call(
            &self.inner.api,
            false,
            |_| false,
            |_| {
                first
                    .take()
                    .ok_or_else(|| Error::misuse("send_once sends once"))
            },
        )
    }

    /// One API call through `transport`, by the cell's retry-once rule
    /// (`also` names answers that reject the token beyond the provider's
    /// policy); `make` gives the request for each attempt (at most two).
    pub(crate) fn call(
        &self,
        transport: &Transport,
        replay: bool,
        also: impl Fn(&Response<Vec<u8>>) -> bool,
        mut make: impl FnMut(&Token) -> Result<Request<Vec<u8>>, Error>,
    ) -> Result<Response<Vec<u8>>, Error> {
        let mut call = ApiCall::new(replay);
        loop {
            let token = self.token()?;
            let mut request = make(&token)?;
            request
                .headers_mut()
                .insert(AUTHORIZATION, token.authorization_header().clone());
            let uri = request.uri().clone();
            let response = transport.exchange(request, None).map_err(|f| {
                self.cell()
                    .api_transport_error(&token, &uri, f.kind, &f.detail)
            })?;
            let (status, headers) = (response.status(), response.headers());
            let rejected = self
                .cell()
                .is_rejected(status, headers, response.body().is_empty())
                || also(&response);
            let j = call.judge_rejected(self.cell(), &token, rejected);
            self.run_detached(j.job);
            if !j.retry {
                return Ok(response);
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
