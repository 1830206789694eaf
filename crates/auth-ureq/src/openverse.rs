//! CC Catalog / Openverse: self-registration and key status, built and read
//! by [`auth_core::Openverse`], sent here like token requests.

use std::time::SystemTime;

use auth_core::{KeyStatus, Openverse, RegisteredClient, Registration};

use auth_cell::{Limits, DEFAULT_MAX_BODY_BYTES};

use crate::transport::{agent, Transport};
use crate::{Error, TokenProvider};

/// Registers a new client with a CC Catalog / Openverse deployment.
///
/// The answer holds the new client secret, shown this once: store it. The
/// key is throttled like an anonymous caller until its owner follows the
/// link in the verification email.
///
/// Uses an agent with the default transport settings (10 s connect, 30 s
/// total, 64 KiB body cap, no redirects).
pub fn register(
    openverse: &Openverse,
    registration: &Registration,
) -> Result<RegisteredClient, Error> {
    register_with_agent(&agent(&Limits::default()), openverse, registration)
}

/// Like [`register`], over a caller's agent (for a proxy or custom TLS
/// roots). Redirects are still not followed and error statuses still reach
/// the parser, whatever the agent is configured to do; the agent's
/// timeouts apply.
pub fn register_with_agent(
    agent: &ureq::Agent,
    openverse: &Openverse,
    registration: &Registration,
) -> Result<RegisteredClient, Error> {
    let transport = Transport::new(agent.clone(), DEFAULT_MAX_BODY_BYTES, true);
    let request = openverse.register_request(registration)?;
    let span = tracing::info_span!("apiauth_register", url = %request.uri());
    let response = span.in_scope(|| transport.exchange(request, None));
    let response = response.map_err(auth_core::Error::from)?;
    Ok(openverse.parse_registration_response(&response, SystemTime::now())?)
}

impl TokenProvider {
    /// The key's standing (`GET /v1/rate_limit/`): requests made, rate-limit
    /// model, whether the owner verified the email.
    ///
    /// Only for an Openverse provider; any other answers with a misuse
    /// error. Sent like a token request (no redirects, capped body); a
    /// rejected token is invalidated and the call repeated once.
    pub fn key_status(&self) -> Result<KeyStatus, Error> {
        let openverse = self.cell().openverse()?;
        let mut used = None;
        let no_token = |r: &http::Response<Vec<u8>>| openverse.key_status_rejects_token(r);
        let response = self.call(&self.inner.auth, true, no_token, |token| {
            used = Some(token.access_token().clone());
            Ok(openverse.key_status_request(token)?)
        })?;
        let token = used.ok_or_else(|| Error::misuse("key status sent without a token"))?;
        Ok(openverse.parse_key_status_response(&response, &token, SystemTime::now())?)
    }
}
