//! Calling the protected API: add the header, and when the API says the
//! token was rejected, drop it, get a new one and retry once.

use std::time::SystemTime;

use auth_core::{classify_api_response, ApiOutcome, RateLimits, Token};
use http::header::AUTHORIZATION;

use crate::transport::classify;
use crate::{Error, TokenProvider};

impl TokenProvider {
    /// Adds `Authorization: Bearer …` to a request being built.
    pub async fn authorize(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::RequestBuilder, Error> {
        let token = self.token().await?;
        Ok(request.header(AUTHORIZATION, token.authorization_header().clone()))
    }

    /// Sends `request` with a token. If the API answers 401 for that token
    /// (`invalid_token`, see [`auth_core::classify_api_response`]), the token
    /// is invalidated, a new one fetched, and the request sent once more —
    /// when its body can be replayed. Use [`send_once`](Self::send_once) for
    /// requests that must not be repeated.
    ///
    /// The response body is left unread and uncapped: it is the API's.
    pub async fn send(&self, request: reqwest::Request) -> Result<reqwest::Response, Error> {
        let replay = request.try_clone();
        let token = self.token().await?;
        let response = self.execute(request, &token).await?;
        let outcome =
            classify_api_response(response.status(), response.headers(), SystemTime::now());
        match (outcome, replay) {
            (ApiOutcome::TokenRejected, Some(replay)) => {
                tracing::debug!(status = %response.status(), "API rejected the token; fetching a new one and retrying once");
                self.invalidate(&token);
                let token = self.token().await?;
                self.execute(replay, &token).await
            }
            (ApiOutcome::TokenRejected, None) => {
                self.invalidate(&token);
                Ok(response)
            }
            _ => Ok(response),
        }
    }

    /// Sends `request` with a token, once. A 401 still invalidates the token
    /// so the next call fetches a new one.
    pub async fn send_once(&self, request: reqwest::Request) -> Result<reqwest::Response, Error> {
        let token = self.token().await?;
        let response = self.execute(request, &token).await?;
        if classify_api_response(response.status(), response.headers(), SystemTime::now())
            == ApiOutcome::TokenRejected
        {
            self.invalidate(&token);
        }
        Ok(response)
    }

    /// The rate-limit headers of the last API response (CC Catalog /
    /// Openverse send `X-RateLimit-*` pairs), if any came.
    #[must_use]
    pub fn last_rate_limits(&self) -> Option<RateLimits> {
        self.inner.rate_limits.lock().ok().and_then(|r| r.clone())
    }

    pub(crate) async fn execute(
        &self,
        mut request: reqwest::Request,
        token: &Token,
    ) -> Result<reqwest::Response, Error> {
        request
            .headers_mut()
            .insert(AUTHORIZATION, token.authorization_header().clone());
        let response = self.inner.api_client.execute(request).await.map_err(|e| {
            let f = classify(&e);
            Error::Transport {
                kind: f.kind,
                detail: f.detail,
            }
        })?;
        let limits = RateLimits::from_headers(response.headers(), SystemTime::now());
        if !limits.scopes.is_empty() || limits.retry_after.is_some() {
            if let Ok(mut slot) = self.inner.rate_limits.lock() {
                *slot = Some(limits);
            }
        }
        Ok(response)
    }
}
