//! CC Catalog / Openverse extras: self-registration and key status.

use std::time::SystemTime;

use auth_core::{KeyStatus, Openverse, Provider, RegisteredClient, Registration};

use crate::transport::{self, Limits};
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
    let limits = Limits {
        connect_timeout: crate::DEFAULT_CONNECT_TIMEOUT,
        timeout: crate::DEFAULT_TIMEOUT,
        max_body_bytes: crate::DEFAULT_MAX_BODY_BYTES,
    };
    let client = transport::token_client(&limits)?;
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
    pub async fn key_status(&self) -> Result<KeyStatus, Error> {
        let Provider::Openverse(openverse) = self.provider() else {
            return Err(Error::Misuse(
                "key_status is only for CC Catalog / Openverse providers".into(),
            ));
        };
        let token = self.token().await?;
        let request = openverse.key_status_request(&token)?;
        let request = reqwest::Request::try_from(request).map_err(|e| {
            let f = transport::classify(&e);
            Error::Transport {
                kind: f.kind,
                detail: f.detail,
            }
        })?;
        let response = self.send(request).await?;
        let response = transport::read_capped(response, self.inner.limits.max_body_bytes)
            .await
            .map_err(|f| Error::Transport {
                kind: f.kind,
                detail: f.detail,
            })?;
        Ok(openverse.parse_key_status_response(&response, SystemTime::now())?)
    }
}
