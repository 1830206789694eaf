//! The layer and its service: one token per request, judged by the cell's
//! retry-once rule.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use auth_cell::ApiCall;
use auth_reqwest::TokenProvider;
use http::header::AUTHORIZATION;
use http::{Request, Response};
use http_body::Body;
use tower_layer::Layer;
use tower_service::Service;

use crate::replay::{AuthBody, Recording};
use crate::response::AuthResponseBody;
use crate::{BoxError, Error};

/// How many request body bytes are kept for a replay by default: a unary
/// gRPC message or a JSON request fits; an upload does not and is sent
/// once.
pub const DEFAULT_REPLAY_LIMIT: usize = 64 * 1024;

/// A [`tower_layer::Layer`] that puts `Authorization: Bearer …` from a
/// [`TokenProvider`] on every request, and when the answer rejects the
/// token, invalidates it and sends the request once more with a new one.
///
/// An answer rejects the token when the provider's
/// [`RejectionPolicy`](auth_core::RejectionPolicy) says so (by default an
/// HTTP 401 about the token), or when it carries gRPC status
/// `UNAUTHENTICATED` (16) in its headers (a trailers-only gRPC answer, which
/// is how servers reject a call before running it). A gRPC
/// `UNAUTHENTICATED` that arrives in the trailers, after the answer was
/// handed to the caller, cannot be retried: the token is still invalidated
/// when the caller reads the trailers, so the next call gets a new one.
///
/// The retry needs the request body again. The layer records the body as
/// it is sent, up to [`replay_limit`](Self::replay_limit) bytes, so
/// streaming bodies keep streaming; a body longer than that (or one that
/// failed) is not sent twice, and the rejecting answer goes to the caller.
///
/// `poll_ready` is the inner service's own: it never waits for a token.
/// The token is awaited in the call's future, where the caller's timeout
/// applies.
#[derive(Clone, Debug)]
pub struct AuthLayer {
    provider: TokenProvider,
    replay_limit: usize,
}

impl AuthLayer {
    /// A layer taking tokens from `provider`, replaying bodies up to
    /// [`DEFAULT_REPLAY_LIMIT`] bytes.
    #[must_use]
    pub fn new(provider: TokenProvider) -> Self {
        Self {
            provider,
            replay_limit: DEFAULT_REPLAY_LIMIT,
        }
    }

    /// Keeps up to `bytes` of each request body for the one retry; `0`
    /// turns retries off (a rejected token is still invalidated).
    #[must_use]
    pub fn replay_limit(mut self, bytes: usize) -> Self {
        self.replay_limit = bytes;
        self
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> AuthService<S> {
        AuthService {
            inner,
            provider: self.provider.clone(),
            replay_limit: self.replay_limit,
        }
    }
}

/// The service [`AuthLayer`] makes: see there.
#[derive(Clone, Debug)]
pub struct AuthService<S> {
    inner: S,
    provider: TokenProvider,
    replay_limit: usize,
}

impl<S> AuthService<S> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

/// The future of [`AuthService::call`].
pub type ResponseFuture<R> = Pin<Box<dyn Future<Output = Result<R, Error>> + Send>>;

impl<S, B, RB> Service<Request<B>> for AuthService<S>
where
    S: Service<Request<AuthBody<B>>, Response = Response<RB>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Into<BoxError>,
    B: Body + Send + 'static,
    B::Error: Into<BoxError>,
    RB: Body + Send + 'static,
{
    type Response = Response<AuthResponseBody<RB>>;
    type Error = Error;
    type Future = ResponseFuture<Self::Response>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.inner
            .poll_ready(cx)
            .map_err(|e| Error::Service(e.into()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        // The service polled ready is the one to call; the clone takes
        // its place for the next caller (the usual tower idiom).
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        let provider = self.provider.clone();
        let limit = self.replay_limit;
        Box::pin(call(inner, provider, limit, request))
    }
}

async fn call<S, B, RB>(
    mut inner: S,
    provider: TokenProvider,
    limit: usize,
    request: Request<B>,
) -> Result<Response<AuthResponseBody<RB>>, Error>
where
    S: Service<Request<AuthBody<B>>, Response = Response<RB>>,
    S::Error: Into<BoxError>,
    B: Body,
    B::Error: Into<BoxError>,
    RB: Body,
{
    let (parts, body) = request.into_parts();
    let recording = Recording::new(body, limit);
    let mut judge = ApiCall::new(true);
    let mut attempt = 1;
    loop {
        let token = provider.token().await.map_err(Error::Token)?;
        let mut request = Request::new(recording.attempt(attempt));
        *request.method_mut() = parts.method.clone();
        *request.uri_mut() = parts.uri.clone();
        *request.version_mut() = parts.version;
        *request.headers_mut() = parts.headers.clone();
        *request.extensions_mut() = parts.extensions.clone();
        request
            .headers_mut()
            .insert(AUTHORIZATION, token.authorization_header().clone());
        if attempt > 1 {
            std::future::poll_fn(|cx| inner.poll_ready(cx))
                .await
                .map_err(|e| Error::Service(e.into()))?;
        }
        let response = inner
            .call(request)
            .await
            .map_err(|e| Error::Service(e.into()))?;
        let empty = response.body().is_end_stream();
        let verdict = judge.judge(
            provider.cell(),
            &token,
            response.status(),
            response.headers(),
            empty,
        );
        provider.run_detached(verdict.job);
        attempt += 1;
        if verdict.retry && recording.replay_as(attempt) {
            continue;
        }
        if verdict.retry {
            tracing::debug!(
                "the request body is over the replay limit or failed: the rejecting answer goes to the caller"
            );
        }
        return Ok(response.map(|b| AuthResponseBody::new(b, provider, token)));
    }
}
