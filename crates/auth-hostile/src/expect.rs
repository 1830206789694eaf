//! What a case expects: the error family a driver must report, the exit
//! code the CLI must give (docs/cli.md, `apiauth_cli::exit`), how many
//! requests it may take, and what its message must say.
//!
//! Expectations are written as issue 10 demands, not as the code behaves
//! on the day they were written; a case the code fails today is listed in
//! [`crate::KNOWN_FAILING`].

/// The transport failure kinds of `auth_core::TransportErrorKind`, mirrored
/// so this crate does not depend on the library it tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Could not connect.
    Connect,
    /// A timeout passed.
    Timeout,
    /// The connection was reset or closed before an answer.
    Reset,
    /// The body could not be read completely.
    Body,
    /// The body exceeded the cap.
    TooLarge,
    /// TLS failed.
    Tls,
    /// The server answered, not in HTTP a client can read.
    Protocol,
    /// Anything else.
    Other,
}

/// The family of an outcome, as a runner observed it. Drivers map their
/// error variants here; the CLI is judged by exit code instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Class {
    /// Success.
    Ok,
    /// RFC 6749 `invalid_client`, `unauthorized_client`, `invalid_grant`.
    Credentials,
    /// `invalid_scope`, or a scope the dialect refuses.
    Scope,
    /// `invalid_request`, `unsupported_grant_type`.
    BadRequest,
    /// Another §5.2 error code.
    OtherCode,
    /// HTTP 429.
    RateLimited,
    /// A 5xx answer.
    Server,
    /// An answer of the wrong shape.
    Malformed,
    /// No complete answer.
    Transport(Kind),
    /// A redirect, not followed.
    Redirect,
    /// Another unexpected status.
    Status(u16),
    /// A token type other than Bearer.
    TokenType,
    /// Registration refused with field errors.
    Registration,
    /// No token within the wait limit.
    WaitTimeout,
    /// Invalid configuration.
    Config,
    /// A variant this crate does not know (named by its `Debug`).
    Unknown(String),
}

/// What a case expects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expect {
    /// A token: the one the case legitimately issued.
    Token,
    /// A registration: the case's client id, its secret kept.
    Registered,
    /// The key's standing.
    KeyStatus,
    /// An API answer of `status` handed back (drivers); the CLI exits `exit`.
    ApiStatus {
        /// The status the API answered with.
        status: u16,
        /// The exit code docs/cli.md gives it.
        exit: i32,
    },
    /// The credentials were refused (CLI 3).
    Credentials,
    /// The scope was refused (CLI 4).
    Scope,
    /// The request was malformed in the server's eyes (CLI 2).
    BadRequest,
    /// Another §5.2 code (CLI 1).
    OtherCode,
    /// Rate limited (CLI 5).
    RateLimited,
    /// A 5xx (CLI 7).
    Server,
    /// An answer of the wrong shape (CLI 7).
    Malformed,
    /// Garbage instead of HTTP (CLI 7).
    Protocol,
    /// No answer in time (CLI 6).
    Timeout,
    /// The connection was reset or closed before an answer (CLI 6).
    Reset,
    /// The body broke off (CLI 6).
    Body,
    /// A body that cannot be read: broken off or broken framing (CLI 6 or 7).
    BrokenBody,
    /// A body over the cap (CLI 6 or 7: not a network failure, but not
    /// misdescribed as one either; the message says so).
    TooLarge,
    /// A redirect from an auth endpoint, not followed (CLI 2).
    Redirect,
    /// An unexpected status (CLI 1).
    Status(u16),
    /// A token type other than Bearer (CLI 1 or 7).
    TokenType,
    /// Registration refused with field errors (CLI 1).
    Registration,
    /// The server granted `granted` instead of the scope asked for: an
    /// error naming the scope and what was granted (CLI 4), nothing cached.
    ScopeNotGranted(&'static str),
    /// The server registered the client but its answer is half broken: an
    /// error saying the client was registered and the credentials were
    /// kept or shown, no secret in it (CLI 1).
    HalfRegistered,
    /// The key-status endpoint refused the token with `status` (CLI 3); the
    /// message names that endpoint, not the token endpoint.
    KeyRejected(u16),
    /// A redirect on an API call: handed back or refused as a
    /// configuration error, never as a network failure (CLI 2).
    ApiRedirect,
    /// An API body cut short or over the cap: the async driver hands the
    /// body back unread, the blocking one reports it (CLI 6 or 7).
    ApiBody,
    /// Either of two outcomes is right.
    Either(Box<Expect>, Box<Expect>),
}

impl Expect {
    /// Either `a` or `b`.
    #[must_use]
    pub fn either(a: Expect, b: Expect) -> Expect {
        Expect::Either(Box::new(a), Box::new(b))
    }

    /// Whether success is the expected outcome (or one of them).
    #[must_use]
    pub fn allows_success(&self) -> bool {
        match self {
            Expect::Token
            | Expect::Registered
            | Expect::KeyStatus
            | Expect::ApiStatus { .. }
            | Expect::ApiRedirect
            | Expect::ApiBody => true,
            Expect::Either(a, b) => a.allows_success() || b.allows_success(),
            _ => false,
        }
    }

    /// Whether a driver's outcome fits: `class` with `display` as its text
    /// and `retryable` as its `is_retryable()`.
    #[must_use]
    pub fn accepts(&self, class: &Class, display: &str, retryable: bool) -> bool {
        let says = |words: &[&str]| {
            let d = display.to_ascii_lowercase();
            words.iter().any(|w| d.contains(&w.to_ascii_lowercase()))
        };
        match self {
            Expect::Token | Expect::Registered | Expect::KeyStatus | Expect::ApiStatus { .. } => {
                *class == Class::Ok
            }
            Expect::Credentials => *class == Class::Credentials,
            Expect::Scope => *class == Class::Scope,
            Expect::BadRequest => *class == Class::BadRequest,
            Expect::OtherCode => *class == Class::OtherCode,
            Expect::RateLimited => *class == Class::RateLimited,
            Expect::Server => *class == Class::Server,
            Expect::Malformed => *class == Class::Malformed,
            Expect::Protocol => *class == Class::Transport(Kind::Protocol),
            Expect::Timeout => {
                matches!(class, Class::WaitTimeout | Class::Transport(Kind::Timeout))
            }
            Expect::Reset => *class == Class::Transport(Kind::Reset),
            Expect::Body => *class == Class::Transport(Kind::Body),
            Expect::BrokenBody => matches!(class, Class::Transport(Kind::Body | Kind::Protocol)),
            Expect::TooLarge => *class == Class::Transport(Kind::TooLarge),
            Expect::Redirect => *class == Class::Redirect,
            Expect::Status(s) => *class == Class::Status(*s),
            Expect::TokenType => *class == Class::TokenType,
            Expect::Registration => *class == Class::Registration,
            Expect::ScopeNotGranted(granted) => {
                *class != Class::Ok && says(&["scope"]) && says(&[granted])
            }
            Expect::HalfRegistered => {
                *class != Class::Ok
                    && says(&["registered"])
                    && says(&["kept", "keep", "shown", "saved"])
            }
            Expect::KeyRejected(s) => {
                matches!(class, Class::Credentials) || *class == Class::Status(*s)
            }
            Expect::ApiRedirect => *class == Class::Ok || (!retryable && says(&["redirect"])),
            Expect::ApiBody => matches!(
                class,
                Class::Ok | Class::Transport(Kind::Body | Kind::TooLarge)
            ),
            Expect::Either(a, b) => {
                a.accepts(class, display, retryable) || b.accepts(class, display, retryable)
            }
        }
    }

    /// The exit codes of `apiauth` that fit (docs/cli.md, "Exit codes").
    #[must_use]
    pub fn exit_codes(&self) -> Vec<i32> {
        match self {
            Expect::Token | Expect::Registered | Expect::KeyStatus => vec![0],
            Expect::ApiStatus { exit, .. } => vec![*exit],
            Expect::Credentials | Expect::KeyRejected(_) => vec![3],
            Expect::Scope | Expect::ScopeNotGranted(_) => vec![4],
            Expect::BadRequest | Expect::Redirect | Expect::ApiRedirect => vec![2],
            Expect::OtherCode
            | Expect::Status(_)
            | Expect::Registration
            | Expect::HalfRegistered => vec![1],
            Expect::RateLimited => vec![5],
            Expect::Server | Expect::Malformed | Expect::Protocol => vec![7],
            Expect::Timeout | Expect::Reset | Expect::Body => vec![6],
            Expect::BrokenBody | Expect::TooLarge | Expect::ApiBody => vec![6, 7],
            Expect::TokenType => vec![1, 7],
            Expect::Either(a, b) => {
                let mut v = a.exit_codes();
                v.extend(b.exit_codes());
                v.sort_unstable();
                v.dedup();
                v
            }
        }
    }

    /// Whether the outcome is final: reported after one request, never
    /// retried (architecture.md, "final failures").
    #[must_use]
    pub fn is_final(&self) -> bool {
        match self {
            Expect::Credentials
            | Expect::Scope
            | Expect::BadRequest
            | Expect::OtherCode
            | Expect::Redirect
            | Expect::Status(_)
            | Expect::TokenType
            | Expect::Registration
            | Expect::ScopeNotGranted(_)
            | Expect::HalfRegistered
            | Expect::TooLarge
            | Expect::Token
            | Expect::Registered
            | Expect::KeyStatus => true,
            Expect::Either(a, b) => a.is_final() && b.is_final(),
            _ => false,
        }
    }

    /// Word groups the message must contain (each group: any one of its
    /// words, case-insensitive). Empty for success.
    #[must_use]
    pub fn mentions(&self) -> Vec<Vec<&'static str>> {
        match self {
            Expect::Token
            | Expect::Registered
            | Expect::KeyStatus
            | Expect::ApiBody
            | Expect::Either(..) => Vec::new(),
            Expect::ApiStatus { status, .. } if *status < 400 => Vec::new(),
            Expect::ApiStatus { status, .. } => vec![vec![status_word(*status)]],
            Expect::Credentials => vec![vec![
                "invalid_client",
                "credentials",
                "client id",
                "unauthorized",
            ]],
            Expect::Scope => vec![vec!["scope"]],
            Expect::BadRequest => vec![vec!["invalid_request", "unsupported_grant_type"]],
            Expect::OtherCode => vec![vec!["refused", "error"]],
            Expect::RateLimited => vec![vec!["rate limit", "429"]],
            Expect::Server => vec![vec!["50"]],
            Expect::Malformed => vec![vec!["malformed", "expected", "not json", "shape"]],
            Expect::Protocol => vec![vec!["invalid http", "not valid http", "not http"]],
            Expect::Timeout => vec![vec!["time", "within", "slow"]],
            Expect::Reset => vec![vec!["reset", "closed"]],
            Expect::Body => vec![vec!["body", "incomplete", "closed"]],
            Expect::BrokenBody => vec![vec![
                "body",
                "incomplete",
                "chunk",
                "invalid http",
                "content-length",
            ]],
            Expect::TooLarge => vec![vec!["large", "limit", "cap"]],
            Expect::Redirect | Expect::ApiRedirect => vec![vec!["redirect"]],
            Expect::Status(s) => vec![vec![status_word(*s)]],
            Expect::TokenType => vec![vec!["token_type", "token type", "bearer"]],
            Expect::Registration => vec![vec!["registration"]],
            Expect::ScopeNotGranted(g) => vec![vec!["scope"], vec![g]],
            Expect::HalfRegistered => {
                vec![vec!["registered"], vec!["kept", "keep", "shown", "saved"]]
            }
            Expect::KeyRejected(s) => vec![
                vec![status_word(*s)],
                vec!["rate_limit", "key status", "key's standing"],
            ],
        }
    }

    /// Phrases the message must not hold, case-insensitive: a misleading
    /// word for what happened (issue 10, "Misleading errors").
    #[must_use]
    pub fn forbids(&self) -> Vec<&'static str> {
        match self {
            // The server answered: it was reached.
            Expect::Protocol
            | Expect::Server
            | Expect::Malformed
            | Expect::Status(_)
            | Expect::TooLarge
            | Expect::Redirect
            | Expect::TokenType => vec!["could not reach", "unreachable"],
            // Retrying never helps a final failure, nor a registration.
            Expect::Credentials
            | Expect::Scope
            | Expect::BadRequest
            | Expect::ScopeNotGranted(_)
            | Expect::HalfRegistered
            | Expect::ApiRedirect => vec!["try again", "network failure", "unreachable"],
            _ => Vec::new(),
        }
    }
}

fn status_word(status: u16) -> &'static str {
    match status {
        301 => "301",
        302 => "302",
        307 => "307",
        308 => "308",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        418 => "418",
        422 => "422",
        429 => "429",
        500 => "500",
        502 => "502",
        503 => "503",
        _ => "HTTP",
    }
}
