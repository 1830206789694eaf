//! Discovery: the metadata document fetched like a token request.

use auth_cell::{Limits, DEFAULT_MAX_BODY_BYTES};
use auth_core::discovery::Metadata;

use crate::transport::{agent, Transport};
use crate::Error;

/// Reads `issuer`'s metadata (`/.well-known/oauth-authorization-server`,
/// then `/.well-known/openid-configuration`) with the default timeouts, a
/// capped body and no redirects; see [`auth_cell::discover_blocking`].
pub fn discover(issuer: &str) -> Result<Metadata, Error> {
    let transport = Transport::new(agent(&Limits::default()), DEFAULT_MAX_BODY_BYTES, true);
    auth_cell::discover_blocking(issuer, |r| transport.exchange(r, None))
}
