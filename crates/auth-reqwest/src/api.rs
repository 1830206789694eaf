//! Calling the protected API: add the header, send, and let the cell judge
//! the answer (see [`auth_cell::ApiCall`]).

use std::sync::Arc;

use auth_cell::ApiCall;
use auth_core::{RateLimits, Token};
use http::header::AUTHORIZATION;

use crate::transport::classify;
use crate::{Error, TokenProvider};

impl TokenProvider {
    /// Adds `Authorization: Bearer …` to a request being built, and returns
    /// the token it attached, so a rejected one can be invalidated.
    pub async fn authorize(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<(reqwest::RequestBuilder, Arc<Token>), Error> {
        let token = self.token().await?;
        let request = request.header(AUTHORIZATION, token.authorization_header().clone());
        Ok((request, token))
    }

    /// Sends `request` with a token. When the answer rejects the token (by
    /// the provider's [`auth_core::RejectionPolicy`]), the token is
    /// invalidated, a new one fetched, and the request sent once more —
    /// when its body can be replayed (`try_clone` succeeds); otherwise the
    /// rejecting answer is returned. Use [`send_once`](Self::send_once) for
    /// requests that must not be repeated.
    ///
    /// The response body is left unread and uncapped: it is the caller's.
    pub async fn send(&self, request: reqwest::Request) -> Result<reqwest::Response, Error> {
        self.call(request, true).await
    }

    /// Sends `request` with a token, once. A rejected token is still
    /// invalidated, so the next call fetches a new one.
    pub async fn send_once(&self, request: reqwest::Request) -> Result<reqwest::Response, Error> {
        self.call(request, false).await
    }

    /// One API call, by the cell's retry-once rule.
    async fn call(
        &self,
        request: reqwest::Request,
        replay: bool,
    ) -> Result<reqwest::Response, Error> {
        let mut again = replay.then(|| request.try_clone()).flatten();
        let mut call = ApiCall::new(again.is_some());
        let mut next = Some(request);
        while let Some(mut request) = next.take().or_else(|| again.take()) {
            let token = self.token().await?;
            request
                .headers_mut()
                .insert(AUTHORIZATION, token.authorization_header().clone());
            let uri: http::Uri = request.url().as_str().parse().unwrap_or_default();
            let response = self.inner.api_client.execute(request).await.map_err(|e| {
                let f = classify(&e);
                self.cell()
                    .api_transport_error(&token, &uri, f.kind, &f.detail)
            })?;
            let empty = response.content_length() == Some(0);
            let (status, headers) = (response.status(), response.headers());
            let j = call.judge(self.cell(), &token, status, headers, empty);
            self.run_detached(j.job);
            if !j.retry {
                return Ok(response);
            }
        }
        Err(Error::misuse("a retry without a request to replay"))
    }

    /// The rate-limit headers of the last API answer that carried any
    /// (CC Catalog / Openverse send `X-RateLimit-*` pairs).
    #[must_use]
    pub fn last_rate_limits(&self) -> Option<RateLimits> {
        self.cell().last_rate_limits()
    }
}
