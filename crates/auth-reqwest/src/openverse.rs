//! CC Catalog / Openverse extras: self-registration and key status.

use std::time::SystemTime;

use auth_cell::{ApiCall, Limits};
use auth_core::{KeyStatus, Openverse, RegisteredClient, Registration};

use crate::transport::{self, AuthTransport};
use crate::{Error, TokenProvider};

/// Registers a new client (default timeouts, body cap, no redirects). The
/// secret is shown once: store it. Until the owner follows the email's
/// link, the key is throttled like an anonymous caller.
pub async fn register(
    openverse: &Openverse,
    registration: &Registration,
) -> Result<RegisteredClient, Error> {
    let limits = Limits::default();
    register_with_client(&transport::client(&limits, false)?, openverse, registration).await
}

/// Like [`register`], over a caller's client (a proxy, custom roots; give
/// it `redirect(Policy::none())`), bounded by the default 30 s timeout.
pub async fn register_with_client(
    client: &reqwest::Client,
    openverse: &Openverse,
    registration: &Registration,
) -> Result<RegisteredClient, Error> {
    let auth = AuthTransport::new(client.clone(), None, &Limits::default());
    let request = openverse.register_request(registration)?;
    let response = auth.send(request).await.map_err(auth_core::Error::from)?;
    Ok(openverse.parse_registration_response(&response, SystemTime::now())?)
}

impl TokenProvider {
    /// The key's standing (`/v1/rate_limit/`; Openverse only), sent like a
    /// token request (no redirects, capped body); a rejected token is
    /// invalidated and the call repeated once.
    pub async fn key_status(&self) -> Result<KeyStatus, Error> {
        let openverse = self.cell().openverse()?;
        let mut call = ApiCall::new(true);
        loop {
            let token = self.token().await?;
            let request = openverse.key_status_request(&token)?;
            let uri = request.uri().clone();
            let response = self.inner.auth.send(request).await;
            let cell = self.cell();
            let response =
                response.map_err(|f| cell.api_transport_error(&token, &uri, f.kind, &f.detail))?;
            let (status, headers) = (response.status(), response.headers());
            let rejected = cell.is_rejected(status, headers, response.body().is_empty())
                || openverse.key_status_rejects_token(&response);
            let j = call.judge_rejected(cell, &token, rejected);
            self.run_detached(j.job);
            if !j.retry {
                let (access, now) = (token.access_token(), SystemTime::now());
                return Ok(openverse.parse_key_status_response(&response, access, now)?);
            }
        }
    }
}
