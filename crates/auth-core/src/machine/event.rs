//! What the machine hands out: requests to send and events to act on.

use std::fmt;
use std::sync::Arc;

use crate::error::Error;
use crate::token::Token;

/// Identifies one token request, so a late response cannot be mistaken for
/// the current one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub(crate) u64);

/// A request the machine wants sent. Send it, then report the outcome with
/// [`TokenSource::handle_response`](crate::TokenSource::handle_response) or
/// [`TokenSource::handle_transport_error`](crate::TokenSource::handle_transport_error).
///
/// `Debug` shows the method and URL only: the headers and body carry the
/// client secret.
pub struct Transmit {
    /// Quote this id when reporting the outcome.
    pub id: RequestId,
    /// The request, complete with headers and body.
    pub request: http::Request<Vec<u8>>,
}

impl fmt::Debug for Transmit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transmit")
            .field("id", &self.id.0)
            .field("method", self.request.method())
            .field("uri", self.request.uri())
            .finish_non_exhaustive()
    }
}

/// Something the machine decided that the driver must act on.
#[non_exhaustive]
#[derive(Clone, Debug)]
pub enum Event {
    /// A new token is held. Wake the callers waiting for one and publish it
    /// to the cache readers.
    TokenReady(Arc<Token>),
    /// Callers waiting for a token must give up with this error: there is no
    /// usable token and none will come soon.
    Failed(Error),
    /// A refresh failed while nobody was waiting (a still-valid token may be
    /// served meanwhile). For logs and metrics; the machine retries itself.
    RefreshFailed(Error),
}
