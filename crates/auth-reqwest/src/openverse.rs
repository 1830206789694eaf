//! CC Catalog / Openverse extras: self-registration and key status.

use std::time::SystemTime;

use auth_cell::{ApiCall, Limits, Verdict};
use auth_core::{KeyStatus, Openverse, Provider, RegisteredClient, Registration};

use crate::transport;
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
    let client = transport::client(&limits, false)?;
    let request = openverse.register_request(registration)?;
    let response = transport::send(&client, request, limits.max_body_bytes)
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
        let mut call = ApiCall::new(true);
        loop {
            let token = self.token().await?;
            let request = openverse.key_status_request(&token)?;
            let response = transport::send(
                &self.inner.token_client,
                request,
                self.inner.limits.max_body_bytes,
            )
            .await
            .map_err(|f| self.cell().api_transport_error(&token, f.kind, &f.detail))?;
            let verdict = call.judge(
                self.cell(),
                response.status(),
                response.headers(),
                response.body().is_empty(),
            );
            if verdict != Verdict::Deliver {
                self.invalidate(&token);
            }
            if verdict != Verdict::InvalidateAndRetry {
                return Ok(openverse.parse_key_status_response(&response, SystemTime::now())?);
            }
        }
    }
}
