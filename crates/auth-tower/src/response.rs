//! The answer's body, passed through unchanged, watched for a gRPC
//! `UNAUTHENTICATED` in the trailers: by then the answer is the caller's
//! and cannot be retried, but the token it rejects is dropped, so the next
//! call fetches a new one.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use auth_core::{is_grpc_unauthenticated, Token};
use auth_reqwest::TokenProvider;
use http_body::{Body, Frame, SizeHint};

/// The inner service's response body, unchanged, except that trailers
/// carrying `grpc-status: 16` invalidate the token the request was sent
/// with.
#[derive(Debug)]
pub struct AuthResponseBody<B> {
    body: Pin<Box<B>>,
    /// Present until trailers were seen (or never will be).
    sent_with: Option<(TokenProvider, Arc<Token>)>,
}

impl<B> AuthResponseBody<B> {
    pub(crate) fn new(body: B, provider: TokenProvider, token: Arc<Token>) -> Self {
        Self {
            body: Box::pin(body),
            sent_with: Some((provider, token)),
        }
    }

    /// The body without the watch.
    pub fn into_inner(self) -> Pin<Box<B>> {
        self.body
    }
}

impl<B: Body> Body for AuthResponseBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let this = self.get_mut();
        let polled = this.body.as_mut().poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(trailers) = frame.trailers_ref() {
                    if let Some((provider, token)) = this.sent_with.take() {
                        if is_grpc_unauthenticated(trailers) {
                            tracing::debug!(
                                "gRPC UNAUTHENTICATED in the trailers: invalidating the token"
                            );
                            provider.invalidate(&token);
                        }
                    }
                }
            }
            Poll::Ready(None | Some(Err(_))) => this.sent_with = None,
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
