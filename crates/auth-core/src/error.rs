//! The one error type of `auth-core`.
//!
//! Every variant is something a caller can act on; none carries a secret.
//! Text that came from a server (descriptions, body excerpts) passes through
//! [`crate::redact`] before it is stored here.

use std::fmt;
use std::time::Duration;

use http::StatusCode;

/// What went wrong while getting or using a token.
///
/// Errors are `Clone + PartialEq` so a state machine can hand the same error
/// to every waiting caller and tests can compare them.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The server refused the request with an RFC 6749 §5.2 error (or the
    /// Markable equivalent). Final: retrying the same request gives the same
    /// answer until the credentials or scopes change.
    #[error("the token endpoint refused the request: {0}")]
    Rejected(OAuthError),

    /// HTTP 429. Retryable after `retry_after`, when the server said.
    #[error("rate limited by the server (HTTP {status}){}", RetryHint(*retry_after))]
    RateLimited {
        /// The status, 429 unless a dialect maps something else here.
        status: StatusCode,
        /// How long the server asked us to wait (`Retry-After`), if it said.
        retry_after: Option<Duration>,
    },

    /// A 5xx answer. Retryable.
    #[error("the server failed (HTTP {status}){}; body: {excerpt}", RetryHint(*retry_after))]
    Server {
        /// The 5xx status.
        status: StatusCode,
        /// `Retry-After`, if the server sent one.
        retry_after: Option<Duration>,
        /// A short, redacted start of the body, for diagnosis.
        excerpt: String,
    },

    /// The request never got a complete answer: connect failure, timeout,
    /// reset, broken or oversized body. Reported by a driver.
    #[error("transport failure ({kind}): {detail}")]
    Transport {
        /// Which kind of failure, for backoff decisions.
        kind: TransportErrorKind,
        /// The driver's description, free of secrets.
        detail: String,
    },

    /// The server answered, but not in the shape the dialect expects.
    /// Retryable: a truncated or garbled body is usually a passing fault.
    #[error("malformed response (HTTP {status}): {reason}; body: {excerpt}")]
    MalformedResponse {
        /// The HTTP status of the response.
        status: StatusCode,
        /// What was wrong, in words.
        reason: String,
        /// A short, redacted start of the body.
        excerpt: String,
    },

    /// A status the dialect has no meaning for: a redirect (never followed
    /// on an auth endpoint), or a 4xx without a recognisable error body.
    #[error("unexpected HTTP {status}{}: {excerpt}", LocationHint(location.as_deref()))]
    UnexpectedStatus {
        /// The HTTP status.
        status: StatusCode,
        /// The `Location` header of a redirect, which is not followed.
        location: Option<String>,
        /// A short, redacted start of the body.
        excerpt: String,
    },

    /// The server issued a token of a type other than Bearer (RFC 6750).
    #[error(
        "the server issued a {}; apiauth can only send Bearer tokens (RFC 6750)",
        TokenTypeName(token_type)
    )]
    UnsupportedTokenType {
        /// The `token_type` the server sent (redacted if it held a secret).
        token_type: String,
    },

    /// CC Catalog / Openverse registration was refused with field errors.
    #[error("registration refused (HTTP {status}): {}", FieldList(fields))]
    Registration {
        /// The HTTP status, usually 400.
        status: StatusCode,
        /// Each field and what the server said about it.
        fields: Vec<FieldError>,
    },

    /// The server issued a token for other scopes than those asked for
    /// (fewer, or for Markable a different one). The token is not kept, so
    /// it is never served, nor cached, under the scopes asked for.
    #[error("the server granted scope `{granted}` when `{requested}` was asked; the token was not kept. Ask only for scopes this client is allowed, or fix the client's scopes at the provider")]
    ScopeNotGranted {
        /// The scopes asked for, canonical.
        requested: String,
        /// The scopes the server granted, canonical.
        granted: String,
    },

    /// The key-status endpoint (Openverse `/v1/rate_limit/`) answered with
    /// an error. 401 and 403 mean it refused the key's token: the key may
    /// be revoked, while the token endpoint still issues tokens.
    #[error("the key-status endpoint {endpoint} answered HTTP {status}{}{}{}; body: {excerpt}",
        KeyStatusHint(*status), LocationHint(location.as_deref()), RetryHint(*retry_after))]
    KeyStatusFailed {
        /// The status.
        status: StatusCode,
        /// The endpoint that answered.
        endpoint: String,
        /// `Retry-After`, if the server sent one.
        retry_after: Option<Duration>,
        /// A redirect's target, without its query.
        location: Option<String>,
        /// A short, redacted start of the body.
        excerpt: String,
    },

    /// The server registered the client (it answered with success), but
    /// its answer cannot be used as is: a `client_id` with a control
    /// character, an empty field. Registering again would make another
    /// client, so what the server sent is kept in [`sent`](Self::RegistrationIncomplete::sent)
    /// (the secret never shown) for the caller to save.
    #[error("the server registered the client, but its answer is unusable: {reason}. Registering again would make another client: keep what it sent (the secret is never shown) and ask the server's operators to fix the answer")]
    RegistrationIncomplete {
        /// What is wrong with the answer.
        reason: String,
        /// What the server sent, as sent.
        sent: Box<SentCredentials>,
    },

    /// A scope string that RFC 6749 §3.3 or the dialect does not allow.
    #[error("invalid scope `{scope}`: {reason}")]
    InvalidScope {
        /// The offending scope, escaped for display.
        scope: String,
        /// Why it was refused and what to do.
        reason: String,
    },

    /// The token endpoint answered with a token the API already rejected
    /// (a server that hands back its cached token until it expires).
    /// Retryable, with backoff: installing it would turn every API call
    /// into 401, fetch, 401 at the caller's rate.
    #[error("the token endpoint issued again a token the API already rejected; backing off before asking again")]
    ReissuedRejectedToken,

    /// Discovery: the server has no metadata document at this well-known
    /// URL (HTTP 404 or 410). Not a failure of discovery as a whole: try
    /// the next URL of [`discovery_requests`](crate::discovery::discovery_requests).
    #[error("no authorization server metadata at this URL (HTTP {status}); try the next well-known URL, or check the issuer")]
    MetadataNotFound {
        /// The status, 404 or 410.
        status: StatusCode,
    },

    /// Discovery: the metadata document names another issuer than the one
    /// asked for (RFC 8414 §3.3, OpenID Connect Discovery §4.3). It is not
    /// used: a document may only speak for its own issuer.
    #[error("the metadata names the issuer `{found}`, but `{expected}` was asked for; they must be identical (RFC 8414 §3.3): if this is the right server, configure the issuer exactly as its document writes it (a trailing slash counts)")]
    IssuerMismatch {
        /// The issuer asked for, sanitized.
        expected: String,
        /// The issuer the document names, sanitized and shortened.
        found: String,
    },

    /// Discovery: the server's metadata allows none of the ways these
    /// credentials can authenticate (RFC 8414
    /// `token_endpoint_auth_methods_supported`).
    #[error("the server accepts none of the ways these credentials can authenticate: it lists {}, and the credentials hold {have}; give the credentials it accepts (a private key for private_key_jwt, a secret for client_secret_basic or client_secret_post)", MethodList(supported))]
    NoAuthMethod {
        /// What the server lists, sanitized (with the signing algorithms
        /// it accepts for `private_key_jwt`, when it says).
        supported: Vec<String>,
        /// What the credentials hold: `a client secret`, `a private key (ES256)`.
        have: String,
    },

    /// The configuration cannot work (a bad URL, an empty id, …).
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),

    /// The caller used the API out of order (for example a response for a
    /// request that is not in flight).
    #[error("API misuse: {0}")]
    Misuse(String),
}

impl Error {
    /// Whether trying again later may succeed without any change by the
    /// caller: transport failures, 5xx, 429, malformed responses, and a
    /// reissued rejected token (the server's cache of it expires).
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::RateLimited { .. }
            | Error::Server { .. }
            | Error::MalformedResponse { .. }
            | Error::ReissuedRejectedToken => true,
            Error::KeyStatusFailed { status, .. } => {
                status.is_server_error() || *status == StatusCode::TOO_MANY_REQUESTS
            }
            Error::Transport { kind, .. } => kind.is_retryable(),
            _ => false,
        }
    }

    /// The delay the server asked for, if any.
    #[must_use]
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::RateLimited { retry_after, .. }
            | Error::Server { retry_after, .. }
            | Error::KeyStatusFailed { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The HTTP status behind the error, when there was a response.
    #[must_use]
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Error::Rejected(e) => Some(e.status),
            Error::RateLimited { status, .. }
            | Error::Server { status, .. }
            | Error::MalformedResponse { status, .. }
            | Error::UnexpectedStatus { status, .. }
            | Error::KeyStatusFailed { status, .. }
            | Error::MetadataNotFound { status }
            | Error::Registration { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The RFC 6749 §5.2 error code, when the server sent one.
    #[must_use]
    pub fn oauth_code(&self) -> Option<&OAuthErrorCode> {
        match self {
            Error::Rejected(e) => Some(&e.code),
            _ => None,
        }
    }
}

/// An RFC 6749 §5.2 error response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthError {
    /// The `error` code.
    pub code: OAuthErrorCode,
    /// `error_description`, redacted.
    pub description: Option<String>,
    /// `error_uri`.
    pub uri: Option<String>,
    /// The HTTP status of the response.
    pub status: StatusCode,
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (HTTP {})", self.code, self.status)?;
        if let Some(d) = &self.description {
            write!(f, ": {d}")?;
        }
        if let Some(u) = &self.uri {
            write!(f, " (see {u})")?;
        }
        write!(f, "; {}", self.code.hint())
    }
}

/// The error codes of RFC 6749 §5.2, plus anything else a server invents.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum OAuthErrorCode {
    /// `invalid_request`: a parameter is missing, repeated or malformed.
    InvalidRequest,
    /// `invalid_client`: the client id or secret is wrong.
    InvalidClient,
    /// `invalid_grant`: the grant is invalid or expired.
    InvalidGrant,
    /// `unauthorized_client`: this client may not use this grant type.
    UnauthorizedClient,
    /// `unsupported_grant_type`: the server does not do client credentials.
    UnsupportedGrantType,
    /// `invalid_scope`: a requested scope is unknown or not allowed.
    InvalidScope,
    /// Any other code, kept verbatim (redacted).
    Other(String),
}

impl OAuthErrorCode {
    /// Maps a wire code to the enum.
    #[must_use]
    pub fn from_wire(code: &str) -> Self {
        match code {
            "invalid_request" => Self::InvalidRequest,
            "invalid_client" => Self::InvalidClient,
            "invalid_grant" => Self::InvalidGrant,
            "unauthorized_client" => Self::UnauthorizedClient,
            "unsupported_grant_type" => Self::UnsupportedGrantType,
            "invalid_scope" => Self::InvalidScope,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The wire spelling.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::Other(s) => s,
        }
    }

    /// What a person should do about it.
    #[must_use]
    pub fn hint(&self) -> &'static str {
        match self {
            Self::InvalidClient => "check the client id and secret",
            Self::InvalidScope => "ask only for scopes this client is allowed",
            Self::UnauthorizedClient => {
                "this client may not use the client-credentials grant; check its registration"
            }
            Self::UnsupportedGrantType => {
                "this server does not support the client-credentials grant; check the token URL"
            }
            Self::InvalidGrant => "the grant was refused; check the client's registration",
            Self::InvalidRequest => {
                "the request was malformed; check the provider dialect and authentication method"
            }
            Self::Other(_) => "see the server's documentation for this code",
        }
    }
}

impl fmt::Display for OAuthErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One field a registration request got wrong, with the server's messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// The field name (`name`, `email`, …).
    pub field: String,
    /// What the server said about it.
    pub messages: Vec<String>,
}

/// How a request failed before a complete response arrived. Drivers map
/// their client's errors to one of these; the state machine backs off on them.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TransportErrorKind {
    /// Could not connect (refused, unreachable, DNS).
    Connect,
    /// The connect or total timeout passed.
    Timeout,
    /// The connection was reset or closed early.
    Reset,
    /// The body could not be read completely.
    Body,
    /// The body was larger than the driver's cap. Not retryable: a token
    /// endpoint that sends megabytes is misconfigured, not busy.
    BodyTooLarge,
    /// TLS failed (certificate, handshake). Not retryable.
    Tls,
    /// The server answered, but not in HTTP a client can read: a broken
    /// status line, too many or malformed headers, a bad `Content-Length`.
    /// Retried like a reset (a proxy may be misbehaving for a moment), but
    /// described as what it is: the host was reached.
    Protocol,
    /// Anything else.
    Other,
}

impl TransportErrorKind {
    /// Whether a later attempt may succeed.
    #[must_use]
    pub fn is_retryable(self) -> bool {
        !matches!(self, Self::BodyTooLarge | Self::Tls)
    }

    /// Sorts an I/O failure, the way both drivers do: `answered` is true
    /// once a status line and headers were read, after which a broken
    /// connection means an incomplete body rather than a reset.
    #[must_use]
    pub fn from_io(kind: std::io::ErrorKind, answered: bool) -> Self {
        use std::io::ErrorKind as K;
        match kind {
            K::TimedOut | K::WouldBlock => Self::Timeout,
            K::ConnectionRefused
            | K::AddrNotAvailable
            | K::HostUnreachable
            | K::NetworkUnreachable
            | K::NotConnected => Self::Connect,
            _ if answered => Self::Body,
            K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof => {
                Self::Reset
            }
            K::InvalidData => Self::Protocol,
            _ => Self::Other,
        }
    }
}

impl fmt::Display for TransportErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Connect => "connect",
            Self::Timeout => "timeout",
            Self::Reset => "connection reset",
            Self::Body => "incomplete body",
            Self::BodyTooLarge => "body too large",
            Self::Tls => "tls",
            Self::Protocol => "invalid HTTP answer",
            Self::Other => "other",
        })
    }
}

struct RetryHint(Option<Duration>);

impl fmt::Display for RetryHint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(d) => write!(f, "; retry after {}", describe_wait(d)),
            None => Ok(()),
        }
    }
}

/// A wait a server asked for, in words a person reads at a glance: `45 s`,
/// `12 min`, `3 h`, `2 days`; beyond a year, said to look wrong.
#[must_use]
pub fn describe_wait(d: Duration) -> String {
    let s = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    match s {
        0..=119 => format!("{s} s"),
        120..=7_199 => format!("{} min", s.div_ceil(60)),
        7_200..=172_799 => format!("{} h", s.div_ceil(3_600)),
        172_800..=31_536_000 => format!("{} days", s.div_ceil(86_400)),
        _ => "more than a year (the server's Retry-After looks wrong)".to_owned(),
    }
}

struct KeyStatusHint(StatusCode);

impl fmt::Display for KeyStatusHint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_u16() {
            401 | 403 => f.write_str(" (the token was refused: the key may be revoked)"),
            _ => Ok(()),
        }
    }
}

struct TokenTypeName<'a>(&'a str);

impl fmt::Display for TokenTypeName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("token with an empty `token_type`")
        } else {
            write!(f, "`{}` token", self.0)
        }
    }
}

struct LocationHint<'a>(Option<&'a str>);

impl fmt::Display for LocationHint<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(l) => write!(
                f,
                " redirecting to {l} (redirects are never followed on auth endpoints; configure the final URL)"
            ),
            None => Ok(()),
        }
    }
}

struct MethodList<'a>(&'a [String]);

impl fmt::Display for MethodList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("no client authentication method");
        }
        for (i, m) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "`{m}`")?;
        }
        Ok(())
    }
}

struct FieldList<'a>(&'a [FieldError]);

impl fmt::Display for FieldList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("no details given");
        }
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {}", e.field, e.messages.join(" "))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_lowercase_without_trailing_period() {
        let errors = [
            Error::RateLimited {
                status: StatusCode::TOO_MANY_REQUESTS,
                retry_after: Some(Duration::from_secs(7)),
            },
            Error::InvalidConfig("x".into()),
            Error::ReissuedRejectedToken,
            Error::Transport {
                kind: TransportErrorKind::Reset,
                detail: "peer closed".into(),
            },
            Error::MetadataNotFound {
                status: StatusCode::NOT_FOUND,
            },
            Error::IssuerMismatch {
                expected: "https://a.example".into(),
                found: "https://b.example".into(),
            },
            Error::NoAuthMethod {
                supported: vec!["client_secret_basic".into()],
                have: "a private key (ES256)".into(),
            },
        ];
        for e in errors {
            let s = e.to_string();
            assert!(s.chars().next().unwrap().is_lowercase(), "{s}");
            assert!(!s.ends_with('.'), "{s}");
        }
    }

    #[test]
    fn discovery_errors_are_final() {
        let not_found = Error::MetadataNotFound {
            status: StatusCode::GONE,
        };
        assert!(!not_found.is_retryable());
        assert_eq!(not_found.status(), Some(StatusCode::GONE));
        let none = Error::NoAuthMethod {
            supported: Vec::new(),
            have: "a client secret".into(),
        };
        assert!(!none.is_retryable());
        assert!(none
            .to_string()
            .contains("lists no client authentication method"));
    }

    #[test]
    fn retryability() {
        let rl = Error::RateLimited {
            status: StatusCode::TOO_MANY_REQUESTS,
            retry_after: Some(Duration::from_secs(7)),
        };
        assert!(rl.is_retryable());
        assert_eq!(rl.retry_after(), Some(Duration::from_secs(7)));
        assert!(rl.to_string().contains("retry after 7 s"));
        let rej = Error::Rejected(OAuthError {
            code: OAuthErrorCode::InvalidClient,
            description: None,
            uri: None,
            status: StatusCode::UNAUTHORIZED,
        });
        assert!(!rej.is_retryable());
        assert!(rej.to_string().contains("check the client id and secret"));
        assert!(Error::ReissuedRejectedToken.is_retryable());
        assert_eq!(Error::ReissuedRejectedToken.retry_after(), None);
        assert!(!Error::Transport {
            kind: TransportErrorKind::BodyTooLarge,
            detail: String::new()
        }
        .is_retryable());
    }
}

/// The credentials an unusable registration answer carried, kept so they
/// are not lost. `Debug` shows the id escaped and hides the secret.
#[derive(Clone)]
pub struct SentCredentials {
    /// The `client_id` as the server sent it (it may hold control
    /// characters: escape it before showing it).
    pub client_id: String,
    /// The `client_secret`, if the server sent one.
    pub client_secret: Option<crate::ClientSecret>,
}

impl PartialEq for SentCredentials {
    fn eq(&self, other: &Self) -> bool {
        let secret = |s: &Self| {
            s.client_secret
                .as_ref()
                .map(|c| c.expose_secret().to_owned())
        };
        self.client_id == other.client_id && secret(self) == secret(other)
    }
}

impl Eq for SentCredentials {}

impl fmt::Debug for SentCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secret = self
            .client_secret
            .as_ref()
            .map_or("", |s| s.expose_secret());
        let id = crate::redact::Redactor::new([secret, ""]).text(&self.client_id);
        f.debug_struct("SentCredentials")
            .field("client_id", &id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}
