//! Tokens: what a token endpoint answered, and the dated token the machine holds.

use std::fmt;
use std::time::{Duration, Instant, SystemTime};

use http::HeaderValue;

use crate::error::Error;
use crate::scope::Scopes;
use crate::secret::AccessToken;

/// The token type. Only Bearer (RFC 6750) is sent by apiauth; the name is
/// matched case-insensitively as RFC 6749 §5.1 requires.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TokenType {
    /// `Bearer` (RFC 6750).
    Bearer,
}

impl TokenType {
    /// Parses `token_type`, refusing anything but Bearer with an error that
    /// names the type.
    pub fn parse(s: &str) -> Result<Self, Error> {
        if s.eq_ignore_ascii_case("bearer") {
            Ok(TokenType::Bearer)
        } else {
            Err(Error::UnsupportedTokenType {
                token_type: crate::redact::shorten(&s.escape_debug().to_string(), 40),
            })
        }
    }

    /// The canonical spelling, as used in the `Authorization` header.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            TokenType::Bearer => "Bearer",
        }
    }
}

impl fmt::Display for TokenType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How long a token lives, as the server stated it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lifetime {
    /// `expires_in` seconds from issue (RFC 6749 §5.1).
    ExpiresIn(Duration),
    /// An absolute expiry (Markable's `expires_at`, or a stored token).
    ExpiresAt(SystemTime),
    /// The server did not say (or said `expires_in: 0`, which some servers
    /// use for "no expiry"). The token is used until the API rejects it,
    /// unless [`RefreshPolicy::unknown_lifetime`] says otherwise.
    ///
    /// [`RefreshPolicy::unknown_lifetime`]: crate::RefreshPolicy::unknown_lifetime
    Unknown,
}

/// A successful token response, parsed but not yet dated.
///
/// Provider dialects produce it; [`crate::TokenSource`] turns it into a
/// [`Token`]. A persistent cache can store one (with
/// [`Lifetime::ExpiresAt`]) and hand it back through
/// [`crate::TokenSource::handle_cached`].
#[derive(Clone, Debug)]
pub struct TokenResponse {
    /// The token value.
    pub access_token: AccessToken,
    /// The token type (always Bearer once parsed).
    pub token_type: TokenType,
    /// How long it lives.
    pub lifetime: Lifetime,
    /// The scopes the server says it granted; `None` means "as requested"
    /// (RFC 6749 §5.1 lets the server omit `scope` in that case).
    pub granted_scopes: Option<Scopes>,
    /// The response's `Date` header: with an absolute expiry, `expires_at -
    /// date` is the lifetime on the server's own clock, immune to skew.
    pub server_date: Option<SystemTime>,
    /// Whether the token may be published (Markable `search` scope only).
    pub publishable: bool,
    /// When the token was issued, if known (a stored token): margins then
    /// scale with its whole lifetime, not with what is left of it.
    pub issued_at: Option<SystemTime>,
}

/// Identifies one token a machine issued, so that a late "this token was
/// rejected" cannot throw away a newer one — nor a token of another
/// machine: ids carry the issuing machine's number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TokenId {
    pub(crate) source: u64,
    pub(crate) serial: u64,
}

/// A token as the machine holds it: the value, when it stops being usable,
/// and the scopes it carries.
#[derive(Clone)]
pub struct Token {
    pub(crate) id: TokenId,
    access_token: AccessToken,
    token_type: TokenType,
    header: HeaderValue,
    issued_at: Instant,
    expires_at: Option<Instant>,
    usable_until: Option<Instant>,
    expires_at_wall: Option<SystemTime>,
    issued_at_wall: Option<SystemTime>,
    requested: Scopes,
    granted: Scopes,
    publishable: bool,
}

/// The dates the machine computed for a new token.
pub(crate) struct Dating {
    pub issued_at: Instant,
    pub expires_at: Option<Instant>,
    pub usable_until: Option<Instant>,
    pub expires_at_wall: Option<SystemTime>,
    pub issued_at_wall: Option<SystemTime>,
}

impl Token {
    pub(crate) fn new(
        id: TokenId,
        response: TokenResponse,
        requested: &Scopes,
        dating: Dating,
    ) -> Result<Self, Error> {
        let mut header = HeaderValue::try_from(format!(
            "{} {}",
            response.token_type,
            response.access_token.expose_secret()
        ))
        .map_err(|_| Error::MalformedResponse {
            status: http::StatusCode::OK,
            reason: "the access token holds characters that cannot go in an HTTP header".into(),
            excerpt: "[redacted]".into(),
        })?;
        header.set_sensitive(true);
        Ok(Self {
            id,
            access_token: response.access_token,
            token_type: response.token_type,
            header,
            issued_at: dating.issued_at,
            expires_at: dating.expires_at,
            usable_until: dating.usable_until,
            expires_at_wall: dating.expires_at_wall,
            issued_at_wall: dating.issued_at_wall,
            granted: response.granted_scopes.unwrap_or_else(|| requested.clone()),
            requested: requested.clone(),
            publishable: response.publishable,
        })
    }

    /// The machine's id for this token; pass it to
    /// [`crate::TokenSource::handle_invalidate`] when the API rejects it.
    #[must_use]
    pub fn id(&self) -> TokenId {
        self.id
    }

    /// The token value, still wrapped.
    #[must_use]
    pub fn access_token(&self) -> &AccessToken {
        &self.access_token
    }

    /// The token type.
    #[must_use]
    pub fn token_type(&self) -> TokenType {
        self.token_type
    }

    /// The ready-made `Authorization` header value (`Bearer <token>`),
    /// marked sensitive so `http` hides it in `Debug` and HPACK never indexes it.
    #[must_use]
    pub fn authorization_header(&self) -> &HeaderValue {
        &self.header
    }

    /// When the request that produced this token was started.
    #[must_use]
    pub fn issued_at(&self) -> Instant {
        self.issued_at
    }

    /// When the server says the token expires, if it said.
    #[must_use]
    pub fn expires_at(&self) -> Option<Instant> {
        self.expires_at
    }

    /// The last instant the machine hands the token out: the expiry minus the
    /// safety margin. `None` for a token with no known expiry.
    #[must_use]
    pub fn usable_until(&self) -> Option<Instant> {
        self.usable_until
    }

    /// When the token was issued, as wall-clock time (for persistent caches).
    #[must_use]
    pub fn issued_at_wall(&self) -> Option<SystemTime> {
        self.issued_at_wall
    }

    /// The expiry as wall-clock time, for display and persistent caches.
    #[must_use]
    pub fn expires_at_wall(&self) -> Option<SystemTime> {
        self.expires_at_wall
    }

    /// Whether the token may be handed out at `now`.
    #[must_use]
    pub fn is_usable(&self, now: Instant) -> bool {
        self.usable_until.is_none_or(|u| now < u)
    }

    /// The time left before the token stops being handed out.
    #[must_use]
    pub fn remaining(&self, now: Instant) -> Option<Duration> {
        self.usable_until.map(|u| u.saturating_duration_since(now))
    }

    /// The scopes asked for.
    #[must_use]
    pub fn requested_scopes(&self) -> &Scopes {
        &self.requested
    }

    /// The scopes the server granted (the requested ones when it did not say).
    #[must_use]
    pub fn granted_scopes(&self) -> &Scopes {
        &self.granted
    }

    /// Requested scopes the server did not grant. Always empty for a token
    /// from a token endpoint (such a token is refused with
    /// [`Error::ScopeNotGranted`](crate::Error::ScopeNotGranted)); kept for
    /// tokens built by hand.
    #[must_use]
    pub fn missing_scopes(&self) -> Scopes {
        self.requested.difference(&self.granted)
    }

    /// Granted scopes that were not requested (Openverse grants
    /// `read write groups` whatever was asked).
    #[must_use]
    pub fn extra_scopes(&self) -> Scopes {
        self.granted.difference(&self.requested)
    }

    /// The token as a value that may be published, e.g. embedded in a web
    /// page. Only a Markable token granted the `search` scope alone has this
    /// door; every other token answers `None`.
    #[must_use]
    pub fn publishable(&self) -> Option<PublishableToken> {
        self.publishable
            .then(|| PublishableToken(self.access_token.expose_secret().to_owned()))
    }

    /// This token as a response again, with its absolute expiry, for a
    /// persistent cache to store.
    #[must_use]
    pub fn to_response(&self) -> TokenResponse {
        TokenResponse {
            access_token: self.access_token.clone(),
            token_type: self.token_type,
            lifetime: self
                .expires_at_wall
                .map_or(Lifetime::Unknown, Lifetime::ExpiresAt),
            granted_scopes: Some(self.granted.clone()),
            server_date: None,
            publishable: self.publishable,
            issued_at: self.issued_at_wall,
        }
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("id", &self.id)
            .field("access_token", &self.access_token)
            .field("token_type", &self.token_type)
            .field("usable_until", &self.usable_until)
            .field("granted", &self.granted.canonical())
            .field("publishable", &self.publishable)
            .finish_non_exhaustive()
    }
}

/// A token that may be shown to the world: a Markable `search`-scoped token.
///
/// It deliberately implements `Display`, unlike every other token type, and
/// it can only be obtained from [`Token::publishable`].
#[derive(Clone, PartialEq, Eq)]
pub struct PublishableToken(String);

impl PublishableToken {
    /// The token value.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PublishableToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for PublishableToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PublishableToken").field(&self.0).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_is_case_insensitive_and_others_are_named() {
        assert_eq!(TokenType::parse("bearer").unwrap(), TokenType::Bearer);
        assert_eq!(TokenType::parse("BEARER").unwrap(), TokenType::Bearer);
        let e = TokenType::parse("mac").unwrap_err();
        assert!(e.to_string().contains("`mac`"), "{e}");
    }
}
