//! A [tower] layer that puts apiauth tokens on the requests of any tower
//! HTTP client — tonic's gRPC channels, hyper's client, or your own stack —
//! and retries once with a new token when the server rejects one.
//!
//! [`AuthLayer`] takes an [`auth_reqwest::TokenProvider`] (the async driver:
//! tokens are fetched over reqwest, shared by every clone of the provider,
//! renewed ahead of expiry). Each request gets `Authorization: Bearer …`;
//! an HTTP 401 about the token, or gRPC `UNAUTHENTICATED`, invalidates that
//! token and sends the request once more with a new one when its body can
//! be replayed (see [`AuthLayer`] for exactly when).
//!
//! The inner service receives [`AuthBody<B>`] bodies. hyper's client takes
//! any body type; tonic's `Channel` wants its own, so map the body after the
//! layer:
//!
//! ```no_run
//! # async fn demo(provider: auth_reqwest::TokenProvider) {
//! use auth_tower::{AuthBody, AuthLayer};
//! use tonic::body::Body;
//!
//! let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:50051").connect_lazy();
//! let authorized = tower::ServiceBuilder::new()
//!     .layer(AuthLayer::new(provider))
//!     .map_request(|r: http::Request<AuthBody<Body>>| r.map(Body::new))
//!     .service(channel);
//! // Any tonic-generated client takes it: `GreeterClient::new(authorized)`.
//! let grpc = tonic::client::Grpc::new(authorized);
//! # drop(grpc);
//! # }
//! ```
//!
//! `tests/tonic.rs` runs this stack against a tonic server on loopback that
//! rejects the first token; `tests/hyper.rs` runs a hyper client against
//! the emulator.
//!
//! A call's future can be dropped at any point (a timeout, a cancelled
//! task, a runtime shutting down) without harm to the others: a token
//! request it started is finished for the next caller, not sent again; a
//! token the server rejected stays retired even when the retry never
//! happens; and a panic in the inner service is the caller's alone.
//! `tests/edges.rs` checks each of these, and a second runtime taking over
//! after the first is dropped mid-call.
//!
//! [tower]: https://docs.rs/tower

#![forbid(unsafe_code)]

mod layer;
mod replay;
mod response;

pub use layer::{AuthLayer, AuthService, ResponseFuture, DEFAULT_REPLAY_LIMIT};
pub use replay::AuthBody;
pub use response::AuthResponseBody;

/// A boxed error, as tower services commonly have.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why a call through [`AuthService`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No token could be had: the driver's error says why and what to do.
    #[error(transparent)]
    Token(auth_reqwest::Error),
    /// The inner service failed (connection refused, timeout, …).
    #[error(transparent)]
    Service(BoxError),
}
