//! A `reqwest-middleware` layer: every request gets a token, and a 401 that
//! rejects the token is retried once with a new one.

use auth_core::{classify_api_response, ApiOutcome};
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
        let token = self
            .provider
            .token()
            .await
            .map_err(reqwest_middleware::Error::middleware)?;
        req.headers_mut()
            .insert(AUTHORIZATION, token.authorization_header().clone());
        let replay = req.try_clone();
        let response = next.clone().run(req, extensions).await?;
        let rejected = classify_api_response(
            response.status(),
            response.headers(),
            std::time::SystemTime::now(),
        ) == ApiOutcome::TokenRejected;
        match (rejected, replay) {
            (true, Some(mut replay)) => {
                self.provider.invalidate(&token);
                let token = self
                    .provider
                    .token()
                    .await
                    .map_err(reqwest_middleware::Error::middleware)?;
                replay
                    .headers_mut()
                    .insert(AUTHORIZATION, token.authorization_header().clone());
                next.run(replay, extensions).await
            }
            (true, None) => {
                self.provider.invalidate(&token);
                Ok(response)
            }
            _ => Ok(response),
        }
    }
}
