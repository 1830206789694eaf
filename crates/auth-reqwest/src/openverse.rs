//! CC Catalog / Openverse extras: self-registration and key status.

use std::time::SystemTime;

use auth_cell::Limits;
use auth_core::{KeyStatus, Openverse, Provider, RegisteredClient, Registration};

use crate::transport::{self, AuthTransport};
use crate::{Error, TokenProvider};

/// Registers a new client. The returned secret is shown once: store it
/// (the CLI keeps it in a 0600 file). The owner must then follow the link
/// in the verification email, or the key stays throttled like an anonymous
/// caller.
///
/// Uses a client with the default timeouts, body cap and no redirects.
pub async fn register(
    openverse: &Openverse,
    registration: &Registration,
) -> Result<RegisteredClient, Error> {
    let limits = Limits::default();
    let auth = AuthTransport::new(transport::client(&limits, false)?, None, &limits);
    let request = openverse.register_request(registration)?;
    let response = auth
        .send(request)
        .await
        .map_err(|f| auth_core::Error::Transport {
            kind: f.kind,
            detail: f.detail,
        })?;
    Ok(openverse.parse_registration_response(&response, SystemTime::now())?)
}

impl TokenProvider {
    /// The key's standing (`/v1/rate_limit/`): verified or not, its
    /// rate-limit model and request counts. Openverse providers only.
    ///
    /// Sent like a token request (no redirects, capped body); a rejected
    /// token is invalidated and the call repeated once.
    pub async fn key_status(&self) -> Result<KeyStatus, Error> {
        let Provider::Openverse(openverse) = self.provider() else {
            return Err(Error::misuse(format!(
                "key_status needs a CC Catalog / Openverse provider, not {}",
                self.provider().kind()
            )));
        };
        let token = self.token().await?;
        let request = reqwest::Request::try_from(openverse.key_status_request(&token)?)
            .map_err(|e| Error::misuse(format!("the key-status request is invalid: {e}")))?;
        let auth = &self.inner.auth;
        let exchange = async {
            let response = self.call(&auth.client, request, true).await?;
            transport::read_capped(response, self.inner.limits.max_body_bytes)
                .await
                .map_err(|f| self.cell().api_transport_error(&token, f.kind, &f.detail))
        };
        // The token client has no total timeout of its own: bound the call.
        let response = auth
            .bounded(async { Ok(exchange.await) })
            .await
            .map_err(|f| self.cell().api_transport_error(&token, f.kind, &f.detail))??;
        Ok(openverse.parse_key_status_response(&response, SystemTime::now())?)
    }
}
