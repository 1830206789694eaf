//! Discovery: the metadata document fetched like a token request.

use auth_cell::Limits;
use auth_core::discovery::Metadata;

use crate::transport::{self, AuthTransport};
use crate::Error;

/// Reads `issuer`'s metadata (`/.well-known/oauth-authorization-server`,
/// then `/.well-known/openid-configuration`) with the default timeouts, a
/// capped body and no redirects; see [`auth_cell::discover_async`].
pub async fn discover(issuer: &str) -> Result<Metadata, Error> {
    let limits = Limits::default();
    let auth = AuthTransport::new(transport::client(&limits, false)?, None, &limits);
    auth_cell::discover_async(issuer, |r| auth.send(r)).await
}
