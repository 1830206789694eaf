//! Why a command failed, as a person and a script need it: one line, a
//! hint, and an exit code. Nothing here formats a secret: the messages come
//! from errors that redact, or are written in this crate from names, paths
//! and URLs.

use std::fmt::Display;

use auth_core::redact::sanitize;
use auth_core::{Error as CoreError, OAuthErrorCode, TransportErrorKind};

use crate::exit;

/// A failed command.
#[derive(Debug)]
pub(crate) struct Failure {
    pub code: u8,
    pub message: String,
    pub hint: Option<String>,
}

impl Failure {
    pub fn new(code: u8, message: impl Display) -> Self {
        Self {
            code,
            message: message.to_string(),
            hint: None,
        }
    }

    /// A failure already explained (or needing no words): only the code.
    pub fn quiet(code: u8) -> Self {
        Self {
            code,
            message: String::new(),
            hint: None,
        }
    }

    pub fn usage(message: impl Display) -> Self {
        Self::new(exit::USAGE, message)
    }

    pub fn hint(mut self, hint: impl Display) -> Self {
        self.hint = Some(hint.to_string());
        self
    }

    /// Prints `apiauth: <message>` and `hint: <hint>` on stderr.
    pub fn report(&self) {
        if self.message.is_empty() {
            return;
        }
        // The terminal boundary: whatever a server managed to put in a
        // message is shown, never obeyed (no escape sequences, no forged
        // lines).
        eprintln!("apiauth: {}", sanitize(&self.message));
        if let Some(hint) = &self.hint {
            eprintln!("hint: {}", sanitize(hint));
        }
    }
}

/// What the command was doing, for hints that name the right thing.
#[derive(Clone, Debug, Default)]
pub(crate) struct Context {
    /// The profile in use, if any (ad hoc runs have none).
    pub profile: Option<String>,
    /// The token endpoint.
    pub endpoint: Option<String>,
}

impl Context {
    fn fix_credentials(&self) -> String {
        match &self.profile {
            Some(p) => format!(
                "check the client id and secret; replace them with `apiauth profile add {p} --force …`"
            ),
            None => "check APIAUTH_CLIENT_ID / --client-id and APIAUTH_CLIENT_SECRET".into(),
        }
    }

    fn endpoint(&self) -> String {
        self.endpoint
            .as_deref()
            .map_or_else(|| "the server".to_owned(), |e| format!("`{e}`"))
    }
}

/// Maps a driver error to a failure with an exit code and a hint.
pub(crate) fn from_ureq(error: &auth_ureq::Error, cx: &Context) -> Failure {
    match error {
        auth_ureq::Error::Auth(e) => from_core(e, cx),
        // The message names the endpoint; the kind says whether it answered.
        auth_ureq::Error::Transport { kind, .. } => match kind {
            TransportErrorKind::Protocol => Failure::new(exit::SERVER, error)
                .hint("the server answered, but not in valid HTTP; check that the URL points at the right server"),
            TransportErrorKind::BodyTooLarge => Failure::new(exit::SERVER, error)
                .hint("the server answered with a body over the size cap; check the URL"),
            TransportErrorKind::Timeout => Failure::new(exit::NETWORK, error)
                .hint("no complete answer in time; try again later, or allow more with --timeout"),
            _ => Failure::new(exit::NETWORK, error).hint(
                "the request got no complete answer; check the URL and the network, then try again",
            ),
        },
        auth_ureq::Error::Misuse(_) => Failure::new(exit::OTHER, error),
        auth_ureq::Error::Store(_) => Failure::new(exit::OTHER, error)
            .hint("check the token cache directory (see `apiauth status`)"),
        // Variants added later: the driver knows whether waiting helps.
        other if other.is_retryable() => Failure::new(exit::NETWORK, other).hint(format!(
            "{} is slow or unreachable; try again later",
            cx.endpoint()
        )),
        other => Failure::new(exit::OTHER, other),
    }
}

/// Maps a core error to a failure with an exit code and a hint.
pub(crate) fn from_core(error: &CoreError, cx: &Context) -> Failure {
    let f = |code| Failure::new(code, error);
    match error {
        CoreError::Rejected(o) => match &o.code {
            OAuthErrorCode::InvalidClient
            | OAuthErrorCode::UnauthorizedClient
            | OAuthErrorCode::InvalidGrant => f(exit::CREDENTIALS).hint(cx.fix_credentials()),
            OAuthErrorCode::InvalidScope => {
                f(exit::SCOPE).hint("ask only for scopes this client is allowed (--scope)")
            }
            OAuthErrorCode::InvalidRequest | OAuthErrorCode::UnsupportedGrantType => f(exit::USAGE)
                .hint(
                    "check the provider, the token URL and --auth (basic or post) of the profile",
                ),
            _ => f(exit::OTHER).hint(o.code.hint()),
        },
        CoreError::ScopeNotGranted { .. } => f(exit::SCOPE)
            .hint("ask only for scopes this client is allowed (--scope), or change the client's scopes at the provider"),
        CoreError::InvalidScope { .. } => {
            f(exit::SCOPE).hint("ask only for scopes the provider allows (--scope)")
        }
        CoreError::RateLimited { retry_after, .. } => {
            let hint = match retry_after {
                Some(d) => format!(
                    "the server asks to wait {}; try again then",
                    auth_core::describe_wait(*d)
                ),
                None => "wait a while before trying again".to_owned(),
            };
            f(exit::RATE_LIMITED).hint(hint)
        }
        CoreError::Transport {
            kind: TransportErrorKind::Protocol,
            ..
        } => f(exit::SERVER).hint(format!(
            "{} answered, but not in valid HTTP; check that the URL points at the right server",
            cx.endpoint()
        )),
        CoreError::Transport {
            kind: TransportErrorKind::Timeout,
            ..
        } => f(exit::NETWORK).hint(format!(
            "{} did not answer in time; check the URL and the network, then try again",
            cx.endpoint()
        )),
        CoreError::Transport {
            kind: TransportErrorKind::BodyTooLarge,
            ..
        } => f(exit::SERVER).hint(format!(
            "{} answered with a body over the size cap; check that the URL points at the right server",
            cx.endpoint()
        )),
        CoreError::Transport {
            kind: TransportErrorKind::Body,
            ..
        } => f(exit::NETWORK).hint(format!(
            "{} answered, but the body broke off; try again",
            cx.endpoint()
        )),
        CoreError::Transport { .. } => f(exit::NETWORK).hint(format!(
            "could not reach {}; check the URL and the network, then try again",
            cx.endpoint()
        )),
        CoreError::KeyStatusFailed { status, .. }
            if matches!(status.as_u16(), 401 | 403) =>
        {
            f(exit::CREDENTIALS).hint("the token endpoint still issues tokens, but the key is refused: check the key with the provider (it may be revoked)")
        }
        CoreError::KeyStatusFailed { status, .. } if status.as_u16() == 429 => {
            f(exit::RATE_LIMITED).hint("the key-status endpoint allows one call a second; wait and try again")
        }
        CoreError::KeyStatusFailed { status, .. } if status.is_server_error() => {
            f(exit::SERVER).hint("the key-status endpoint is failing; try again later")
        }
        CoreError::KeyStatusFailed { status, .. } if status.is_redirection() => {
            f(exit::USAGE).hint("configure the final URL (--base-url); apiauth never follows redirects with a token")
        }
        CoreError::KeyStatusFailed { .. } => f(exit::OTHER),
        CoreError::Server { .. } | CoreError::MalformedResponse { .. } => {
            f(exit::SERVER).hint(format!("{} is failing; try again later", cx.endpoint()))
        }
        CoreError::UnexpectedStatus { status, .. } if status.is_redirection() => {
            f(exit::USAGE).hint("configure the final URL; apiauth never follows redirects there")
        }
        CoreError::UnexpectedStatus { status, .. } if status.is_server_error() => {
            f(exit::SERVER).hint(format!("{} is failing; try again later", cx.endpoint()))
        }
        CoreError::UnexpectedStatus { .. } => f(exit::OTHER).hint(format!(
            "check that {} is the right endpoint for this provider",
            cx.endpoint()
        )),
        CoreError::InvalidConfig(_) => f(exit::USAGE),
        CoreError::Registration { .. } => {
            f(exit::OTHER).hint("fix the fields the server named and register again")
        }
        _ => f(exit::OTHER),
    }
}

/// Maps a file-store error: permission refusals and malformed files are
/// the user's configuration to fix.
pub(crate) fn from_store(error: &auth_store::Error) -> Failure {
    match error {
        auth_store::Error::TooOpen { path, want, .. } => Failure::usage(error).hint(format!(
            "only you should be able to read it: chmod {want:o} {}",
            path.display()
        )),
        auth_store::Error::NoConfigDir => {
            Failure::usage(error).hint("set APIAUTH_CONFIG_DIR to a directory only you can read")
        }
        auth_store::Error::LockTimeout { .. } => Failure::new(exit::OTHER, error),
        _ => Failure::new(exit::OTHER, error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use auth_core::{OAuthError, TransportErrorKind};
    use http::StatusCode;
    use std::time::Duration;

    fn rejected(code: OAuthErrorCode) -> CoreError {
        CoreError::Rejected(OAuthError {
            code,
            description: None,
            uri: None,
            status: StatusCode::BAD_REQUEST,
        })
    }

    #[test]
    fn each_kind_of_failure_has_its_code() {
        let cx = Context::default();
        let code = |e: CoreError| from_core(&e, &cx).code;
        assert_eq!(
            code(rejected(OAuthErrorCode::InvalidClient)),
            exit::CREDENTIALS
        );
        assert_eq!(code(rejected(OAuthErrorCode::InvalidScope)), exit::SCOPE);
        assert_eq!(code(rejected(OAuthErrorCode::InvalidRequest)), exit::USAGE);
        assert_eq!(
            code(CoreError::RateLimited {
                status: StatusCode::TOO_MANY_REQUESTS,
                retry_after: Some(Duration::from_secs(9)),
            }),
            exit::RATE_LIMITED
        );
        assert_eq!(
            code(CoreError::Transport {
                kind: TransportErrorKind::Connect,
                detail: "refused".into(),
            }),
            exit::NETWORK
        );
        assert_eq!(
            code(CoreError::Server {
                status: StatusCode::SERVICE_UNAVAILABLE,
                retry_after: None,
                excerpt: String::new(),
            }),
            exit::SERVER
        );
        assert_eq!(code(CoreError::InvalidConfig("x".into())), exit::USAGE);
        assert_eq!(
            code(CoreError::UnexpectedStatus {
                status: StatusCode::FOUND,
                location: Some("https://elsewhere.example".into()),
                excerpt: String::new(),
            }),
            exit::USAGE
        );
        let transport = auth_ureq::Error::Transport {
            kind: TransportErrorKind::Reset,
            endpoint: "https://api.example/x".into(),
            detail: "reset".into(),
        };
        assert_eq!(from_ureq(&transport, &cx).code, exit::NETWORK);
    }

    #[test]
    fn a_profile_in_context_names_the_fix() {
        let cx = Context {
            profile: Some("ci".into()),
            endpoint: None,
        };
        let f = from_core(&rejected(OAuthErrorCode::InvalidClient), &cx);
        assert!(f.hint.unwrap().contains("apiauth profile add ci --force"));
    }
}
