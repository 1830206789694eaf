//! Discovery (RFC 8414 / OpenID Connect) for any driver: the core reads
//! the documents, the driver's `send` moves the bytes, and the loop
//! between them lives here once.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use auth_core::discovery::{Discovery, DiscoveryStep, Metadata};
use http::{Request, Response};

use crate::{Error, Failure};

/// Reads `issuer`'s metadata over an async `send`: the RFC 8414 document,
/// then, if that one is not found, the OpenID Connect one. Build the
/// provider with [`Metadata::provider`].
pub async fn discover_async<F, Fut>(issuer: &str, mut send: F) -> Result<Metadata, Error>
where
    F: FnMut(Request<Vec<u8>>) -> Fut,
    Fut: Future<Output = Result<Response<Vec<u8>>, Failure>>,
{
    let (mut discovery, mut request) = Discovery::start(issuer)?;
    loop {
        let response = send(request).await.map_err(auth_core::Error::from)?;
        match discovery.handle_response(&response)? {
            DiscoveryStep::Done(metadata) => return Ok(metadata),
            DiscoveryStep::Send(next) => request = next,
        }
    }
}

/// [`discover_async`] over a blocking `send`.
pub fn discover_blocking(
    issuer: &str,
    mut send: impl FnMut(Request<Vec<u8>>) -> Result<Response<Vec<u8>>, Failure>,
) -> Result<Metadata, Error> {
    // Every future in it is ready at once, so one poll runs it to the end.
    let run = pin!(discover_async(issuer, |r| std::future::ready(send(r))));
    match run.poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(result) => result,
        Poll::Pending => Err(Error::Misuse("discovery waited on a blocking send".into())),
    }
}
