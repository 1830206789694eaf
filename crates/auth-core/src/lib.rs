//! # auth-core: the sans-IO heart of apiauth
//!
//! This crate decides everything about getting, caching and renewing an API
//! access token — what to send, how to read the answer, when to refresh,
//! how long to back off — and does none of the IO. It never opens a socket,
//! reads a clock, sleeps or draws OS randomness; the drivers
//! (`auth-reqwest`, `auth-ureq`) do, and they decide nothing.
//!
//! ## The driving contract
//!
//! 1. Build a [`TokenSource`] from a [`Provider`], [`ClientCredentials`],
//!    [`Scopes`], a [`RefreshPolicy`] and a random seed.
//! 2. When a caller wants a token, read [`TokenSource::token`]`(now)`. If it
//!    is `Some`, use it; if [`TokenSource::is_refresh_due`]`(now)` also
//!    holds, continue with step 3 in the background.
//! 3. Otherwise call [`TokenSource::handle_demand`]`(now)`.
//! 4. After **every** `handle_*` call, drain
//!    [`TokenSource::poll_transmit`]`(wall)`, giving the wall-clock time of
//!    sending (a `private_key_jwt` request is signed then): send each
//!    [`Transmit`]'s request as is — no redirects, a capped body — and
//!    report back with [`TokenSource::handle_response`] (any status) or
//!    [`TokenSource::handle_transport_error`].
//! 5. After every `handle_*` call, drain [`TokenSource::poll_event`]:
//!    [`Event::TokenReady`] wakes waiting callers, [`Event::Failed`] gives
//!    them the error, [`Event::RefreshFailed`] is for logs.
//! 6. Ask [`TokenSource::poll_timeout`] when to call
//!    [`TokenSource::handle_timeout`] next, and call it then.
//! 7. When an API answer rejects a token — by the provider's
//!    [`RejectionPolicy`] ([`Provider::default_rejection`] unless the API
//!    needs another; for the plain 401 rule [`classify_api_response`] says
//!    [`ApiOutcome::TokenRejected`]) — call
//!    [`TokenSource::handle_invalidate`] with its [`Token::id`], then demand
//!    a new one and retry the request once. Should the token endpoint hand
//!    the rejected token back, the machine refuses it and backs off
//!    ([`Error::ReissuedRejectedToken`]).
//!
//! ## Keys and discovery
//!
//! Besides a client secret, a client can prove who it is with a private key
//! (`private_key_jwt`, module `assertion`, behind the `private-key-jwt`
//! feature): `ClientCredentials::with_private_key` with
//! [`ClientAuth::PrivateKeyJwt`].
//! Each request then carries a new signed assertion, made when
//! [`TokenSource::poll_transmit`] hands the request out. A provider can also
//! be found from its issuer URL (module [`discovery`]): the driver fetches
//! [`discovery::discovery_requests`], the core reads the answer with
//! [`discovery::Metadata::parse`] and picks the authentication method with
//! [`discovery::Metadata::provider`].
//!
//! ## States
//!
//! ```text
//!   Empty ──demand──▶ Fetching ──ok──▶ Fresh ──refresh_at──▶ Refreshing ──ok──▶ Fresh
//!     ▲                  │                                        │
//!     │                  │ transient failure                      │ failure: keep the
//!     │                  ▼                                        ▼ token while usable
//!     └──final error── BackingOff ◀───────────────────────────────┘
//!        (or retries    (no request before the backoff or Retry-After ends)
//!         spent)
//! ```
//!
//! A token is handed out until its expiry minus a safety margin; a refresh
//! starts ahead of that with jitter, so callers never wait while a valid
//! token exists; at most one request is in flight; transient failures back
//! off exponentially and honour `Retry-After`; final failures are reported
//! once and not retried for a cooldown; an invalidated token never returns.
//!
//! ## A whole fetch, with a canned response
//!
//! ```
//! use std::time::{Duration, Instant, SystemTime};
//! use auth_core::{ClientAuth, ClientCredentials, Event, OAuth2, RefreshPolicy, TokenSource};
//!
//! let provider = OAuth2::new("https://auth.example.com/token", ClientAuth::Basic)?;
//! let creds = ClientCredentials::new("my-client", "my-secret")?;
//! let mut source = TokenSource::new(
//!     provider.into(), creds, "read".parse()?, RefreshPolicy::default(), 42)?;
//!
//! let now = Instant::now();
//! source.handle_demand(now);
//! let transmit = source.poll_transmit(SystemTime::now()).expect("a token request");
//! assert_eq!(transmit.request.uri(), "https://auth.example.com/token");
//!
//! // The driver would send transmit.request; here the answer is canned.
//! let response = http::Response::builder()
//!     .status(200)
//!     .header("content-type", "application/json")
//!     .body(br#"{"access_token":"abc","token_type":"bearer","expires_in":3600}"#.to_vec())?;
//! source.handle_response(transmit.id, response, now, SystemTime::now());
//!
//! let Some(Event::TokenReady(token)) = source.poll_event() else { panic!("no token") };
//! assert_eq!(token.authorization_header(), "Bearer abc");
//! assert!(source.token(now + Duration::from_secs(3000)).is_some());
//! // Refresh is scheduled ahead of expiry, not at it.
//! assert!(source.poll_timeout().unwrap() < now + Duration::from_secs(3570));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod api;
#[cfg(feature = "private-key-jwt")]
pub mod assertion;
mod credentials;
pub mod datetime;
pub mod discovery;
mod error;
mod machine;
pub mod provider;
pub mod redact;
mod scope;
mod secret;
pub mod store;
mod token;
pub mod wire;

pub use api::{classify_api_response, is_grpc_unauthenticated, ApiOutcome, RejectionPolicy};
#[cfg(feature = "private-key-jwt")]
pub use assertion::PrivateKey;
pub use credentials::ClientCredentials;
pub use error::{
    describe_wait, Error, FieldError, OAuthError, OAuthErrorCode, SentCredentials,
    TransportErrorKind,
};
pub use machine::{Event, Phase, RefreshPolicy, RequestId, TokenSource, Transmit};
pub use provider::openverse::{
    KeyStatus, RateLimit, RateLimits, RegisteredClient, Registration, Routes,
};
pub use provider::{
    AssertionInput, ClientAuth, Markable, OAuth2, Openverse, Provider, ResponseContext,
};
pub use scope::{MarkableScope, Scope, Scopes};
pub use secret::{AccessToken, ClientAssertion, ClientSecret};
pub use store::{CacheKey, FingerprintKey, StoredToken};
pub use token::{Lifetime, PublishableToken, Token, TokenId, TokenResponse, TokenType};
