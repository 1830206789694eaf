//! Calling the protected API: add the header, and when the provider's
//! rejection policy says the answer rejects the token, invalidate it and
//! (when the request can be replayed) retry once — the cell decides.

use std::sync::Arc;

use auth_cell::{ApiCall, Verdict};
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
        let replay = request.try_clone();
        self.call(request, replay).await
    }

    /// Sends `request` with a token, once. A rejected token is still
    /// invalidated, so the next call fetches a new one.
    pub async fn send_once(&self, request: reqwest::Request) -> Result<reqwest::Response, Error> {
        self.call(request, None).await
    }

    async fn call(
        &self,
        mut request: reqwest::Request,
        mut replay: Option<reqwest::Request>,
    ) -> Result<reqwest::Response, Error> {
        let mut call = ApiCall::new(replay.is_some());
        loop {
            let token = self.token().await?;
            let response = self.execute(request, &token).await?;
            let verdict = call.judge(
                self.cell(),
                response.status(),
                response.headers(),
                response.content_length() == Some(0),
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

    pub(crate) async fn execute(
        &self,
        mut request: reqwest::Request,
        token: &Token,
    ) -> Result<reqwest::Response, Error> {
        request
            .headers_mut()
            .insert(AUTHORIZATION, token.authorization_header().clone());
        self.inner.api_client.execute(request).await.map_err(|e| {
            let f = classify(&e);
            self.cell().api_transport_error(token, f.kind, &f.detail)
        })
    }
}
