//! A `reqwest-middleware` layer: every request gets a token, and a 401 that
//! rejects the token is retried once with a new one.

use auth_cell::ApiCall;
use http::header::AUTHORIZATION;
use http::Extensions;
use reqwest_middleware::{Middleware, Next};

use crate::TokenProvider;

/// Authorizes every request of a `reqwest_middleware::ClientWithMiddleware`.
#[derive(Clone, Debug)]
pub struct AuthMiddleware {
    provider: TokenProvider,
}

impl AuthMiddleware {
    /// A middleware drawing tokens from `provider`.
    #[must_use]
    pub fn new(provider: TokenProvider) -> Self {
        Self { provider }
    }
}

#[async_trait::async_trait]
impl Middleware for AuthMiddleware {
    async fn handle(
        &self,
        mut req: reqwest::Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        let mut replay = req.try_clone();
        let mut call = ApiCall::new(replay.is_some());
        loop {
            let token = self
                .provider
                .token()
                .await
                .map_err(reqwest_middleware::Error::middleware)?;
            req.headers_mut()
                .insert(AUTHORIZATION, token.authorization_header().clone());
            let response = next.clone().run(req, extensions).await?;
            let empty = response.content_length() == Some(0);
            let cell = self.provider.cell();
            let judged = call.judge(cell, &token, response.status(), response.headers(), empty);
            self.provider.run_detached(judged.job);
            match replay.take().filter(|_| judged.retry) {
                Some(again) => req = again,
                None => return Ok(response),
            }
        }
    }
}
