//! CC Catalog / Openverse extras: self-registration and key status.

use std::time::SystemTime;

use auth_cell::{ApiCall, Limits};
use auth_core::{KeyStatus, Openverse, RegisteredClient, Registration};

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
        let openverse = self.cell().openverse()?;
        let mut call = ApiCall::new(true);
        loop {
            let token = self.token().await?;
            let request = openverse.key_status_request(&token)?;
            let response = self.inner.auth.send(request).await;
            let response =
                response.map_err(|f| self.cell().api_transport_error(&token, f.kind, &f.detail))?;
            let (status, headers) = (response.status(), response.headers());
            let j = call.judge(
                self.cell(),
                &token,
                status,
                headers,
                response.body().is_empty(),
            );
            self.run_detached(j.job);
            if !j.retry {
                return Ok(openverse.parse_key_status_response(&response, SystemTime::now())?);
            }
        }
    }
}
