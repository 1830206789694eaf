use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::Scheme;
use crate::error::EmulatorError;

/// An emulated endpoint, the unit of fault plans, latency and request counters.
///
/// Serialized in snake_case, e.g. `"openverse_token"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    /// `POST /v1/auth_tokens/token/`
    OpenverseToken,
    /// `POST /v1/auth_tokens/register/` (CC Catalog flavour: no slash)
    OpenverseRegister,
    /// `GET /v1/auth_tokens/verify/<code>/` (CC Catalog flavour: no slash)
    OpenverseVerify,
    /// `GET /v1/rate_limit/` (CC Catalog flavour: no slash)
    OpenverseRateLimit,
    /// `GET /v1/images/` (CC Catalog flavour: either form)
    OpenverseImages,
    /// `POST /auth/client/authorize`
    MarkableAuthorize,
    /// `GET /api/v1/search`, on the Markable API listener
    MarkableSearch,
    /// `POST /api/v1/catalogs`, on the Markable API listener
    MarkableCatalogs,
    /// `POST /oauth2/token`
    Oauth2Token,
    /// `GET /oauth2/resource`
    Oauth2Resource,
    /// `GET /.well-known/oauth-authorization-server` (RFC 8414 metadata)
    Oauth2Metadata,
    /// `GET /.well-known/openid-configuration` (OpenID Connect Discovery)
    OpenidConfiguration,
}

impl Endpoint {
    /// Every endpoint, in a fixed order.
    pub const ALL: [Endpoint; 12] = [
        Endpoint::OpenverseToken,
        Endpoint::OpenverseRegister,
        Endpoint::OpenverseVerify,
        Endpoint::OpenverseRateLimit,
        Endpoint::OpenverseImages,
        Endpoint::MarkableAuthorize,
        Endpoint::MarkableSearch,
        Endpoint::MarkableCatalogs,
        Endpoint::Oauth2Token,
        Endpoint::Oauth2Resource,
        Endpoint::Oauth2Metadata,
        Endpoint::OpenidConfiguration,
    ];

    /// The snake_case name used in JSON and in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::OpenverseToken => "openverse_token",
            Endpoint::OpenverseRegister => "openverse_register",
            Endpoint::OpenverseVerify => "openverse_verify",
            Endpoint::OpenverseRateLimit => "openverse_rate_limit",
            Endpoint::OpenverseImages => "openverse_images",
            Endpoint::MarkableAuthorize => "markable_authorize",
            Endpoint::MarkableSearch => "markable_search",
            Endpoint::MarkableCatalogs => "markable_catalogs",
            Endpoint::Oauth2Token => "oauth2_token",
            Endpoint::Oauth2Resource => "oauth2_resource",
            Endpoint::Oauth2Metadata => "oauth2_metadata",
            Endpoint::OpenidConfiguration => "openid_configuration",
        }
    }

    /// The scheme whose tokens this endpoint issues, if it is a token endpoint.
    pub fn token_scheme(self) -> Option<Scheme> {
        match self {
            Endpoint::OpenverseToken => Some(Scheme::Openverse),
            Endpoint::MarkableAuthorize => Some(Scheme::Markable),
            Endpoint::Oauth2Token => Some(Scheme::Oauth2),
            _ => None,
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One way to misbehave.
///
/// JSON form is internally tagged by `kind`, e.g. `{"kind":"server_error","status":503,"retry_after_secs":2}`,
/// `{"kind":"connection_reset"}`, `{"kind":"slow_body","duration_ms":2000}`.
///
/// Faults marked *replaces* answer without running the endpoint (no token is
/// issued); the others run the endpoint and then alter its response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Fault {
    /// Wait this long before answering normally. Stacks with one other fault.
    Latency {
        /// Added delay in milliseconds.
        ms: u64,
    },
    /// *Replaces*: a 5xx status (500, 502, 503, 504) with a small JSON body,
    /// and `Retry-After: N` when given.
    ServerError {
        /// The status code, 500..=599.
        status: u16,
        /// Seconds for `Retry-After`, if any.
        #[serde(default)]
        retry_after_secs: Option<u64>,
    },
    /// *Replaces*: 429 Too Many Requests with `Retry-After: N`.
    RateLimited {
        /// Seconds for `Retry-After`.
        retry_after_secs: u64,
    },
    /// *Replaces*: the TCP connection is reset (RST) instead of answering.
    ConnectionReset,
    /// Sends the headers with the full `Content-Length`, half the body,
    /// then closes the connection.
    TruncatedBody,
    /// *Replaces*: 200 with `Content-Type: application/json` and a body
    /// that is not JSON.
    NotJson,
    /// *Replaces*: 200 with an HTML page, as a captive portal or a
    /// misrouted proxy would send.
    Html,
    /// *Replaces*: 200 with a valid JSON body of just over 10 MiB.
    HugeBody,
    /// Sends the normal body in small pieces spread over this long.
    SlowBody {
        /// Time from the first to the last byte, in milliseconds.
        duration_ms: u64,
    },
    /// The normal body labelled `Content-Type: text/plain`.
    WrongContentType,
    /// *Replaces*: a redirect to `http://evil.example.invalid` + the request
    /// path, which a token client must not follow.
    Redirect {
        /// 301, 302, 303, 307 or 308; 302 when left out.
        #[serde(default = "found")]
        status: u16,
    },
    /// Token endpoints only: `token_type` is `"mac"` instead of `"Bearer"`.
    WrongTokenType,
    /// Token endpoints only: the response has no `access_token`.
    MissingAccessToken,
    /// Token endpoints only: `expires_in` is the string `"3600"` (Markable:
    /// `expires_at` is `"3600"`, not a timestamp).
    StringExpiresIn,
    /// Token endpoints only: `expires_in` is `-3600` (Markable: `expires_at`
    /// is an hour in the past).
    NegativeExpiresIn,
    /// *Replaces*: a 4xx status (e.g. 408, 409, 413) in the endpoint's own
    /// error shape — JSON:API `{"errors":[…]}` on Markable, `{"detail":…}`
    /// on Openverse, `{"error":"invalid_request"}` on OAuth 2.0.
    ClientError {
        /// The status code, 400..=499.
        status: u16,
    },
    /// The endpoint runs as if the request had no `Authorization` header,
    /// as behind a proxy or a cross-host redirect that drops it. Openverse
    /// then treats the caller as anonymous: a `page_size` over 20 answers
    /// DRF's 401 `NotAuthenticated`, whose challenge names no error, to a
    /// client that did send a valid token.
    DropAuthorization,
}

fn found() -> u16 {
    302
}

impl Fault {
    /// Whether the fault only makes sense on a token endpoint.
    pub fn is_token_shape(&self) -> bool {
        matches!(
            self,
            Fault::WrongTokenType
                | Fault::MissingAccessToken
                | Fault::StringExpiresIn
                | Fault::NegativeExpiresIn
        )
    }

    /// Whether the fault answers without running the endpoint.
    pub fn replaces_response(&self) -> bool {
        matches!(
            self,
            Fault::ServerError { .. }
                | Fault::RateLimited { .. }
                | Fault::ConnectionReset
                | Fault::NotJson
                | Fault::Html
                | Fault::HugeBody
                | Fault::Redirect { .. }
                | Fault::ClientError { .. }
        )
    }

    fn validate(&self, endpoint: Endpoint) -> Result<(), EmulatorError> {
        if self.is_token_shape() && endpoint.token_scheme().is_none() {
            return Err(EmulatorError::InvalidFault(format!(
                "{self:?} applies to token endpoints only, not {endpoint}"
            )));
        }
        match self {
            Fault::ServerError { status, .. } if !(500..=599).contains(status) => Err(
                EmulatorError::InvalidFault(format!("server_error status {status} is not 5xx")),
            ),
            Fault::Redirect { status } if ![301, 302, 303, 307, 308].contains(status) => Err(
                EmulatorError::InvalidFault(format!("redirect status {status} is not a redirect")),
            ),
            Fault::ClientError { status } if !(400..=499).contains(status) => Err(
                EmulatorError::InvalidFault(format!("client_error status {status} is not 4xx")),
            ),
            _ => Ok(()),
        }
    }
}

/// How many requests a [`FaultPlan`] hits.
///
/// JSON form: `{"next":3}`, `{"fraction":0.25}` or `"always"`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Times {
    /// The next N requests to the endpoint, then the plan is spent.
    Next(u32),
    /// This share (0.0..=1.0) of requests, spread evenly by a counter
    /// (0.5 hits every second request, starting with the second) so runs are
    /// reproducible.
    Fraction(f64),
    /// Every request until the faults are cleared.
    #[default]
    Always,
}

/// A fault to inject on an endpoint.
///
/// JSON form: `{"endpoint":"oauth2_token","fault":{"kind":"connection_reset"},"times":{"next":1}}`;
/// `times` defaults to `"always"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultPlan {
    /// Where the fault applies.
    pub endpoint: Endpoint,
    /// What goes wrong.
    pub fault: Fault,
    /// How often.
    #[serde(default)]
    pub times: Times,
}

impl FaultPlan {
    /// A plan hitting the next `n` requests.
    pub fn next(endpoint: Endpoint, fault: Fault, n: u32) -> Self {
        FaultPlan {
            endpoint,
            fault,
            times: Times::Next(n),
        }
    }

    /// A plan hitting a share of requests (see [`Times::Fraction`]).
    pub fn fraction(endpoint: Endpoint, fault: Fault, share: f64) -> Self {
        FaultPlan {
            endpoint,
            fault,
            times: Times::Fraction(share),
        }
    }

    /// A plan hitting every request.
    pub fn always(endpoint: Endpoint, fault: Fault) -> Self {
        FaultPlan {
            endpoint,
            fault,
            times: Times::Always,
        }
    }

    pub(crate) fn validate(&self) -> Result<(), EmulatorError> {
        self.fault.validate(self.endpoint)?;
        match self.times {
            Times::Fraction(f) if !(0.0..=1.0).contains(&f) => Err(EmulatorError::InvalidFault(
                format!("fraction {f} is outside 0..=1"),
            )),
            _ => Ok(()),
        }
    }
}

/// A plan plus how many requests it has seen, for [`Times::Fraction`].
#[derive(Debug)]
pub(crate) struct ActivePlan {
    pub(crate) plan: FaultPlan,
    seen: u64,
}

/// What the active plans decided for one request.
#[derive(Debug, Default)]
pub(crate) struct Decision {
    pub(crate) latency: Duration,
    pub(crate) fault: Option<Fault>,
}

impl Decision {
    pub(crate) fn is_faulted(&self) -> bool {
        self.fault.is_some() || !self.latency.is_zero()
    }
}

/// The plans in force, in the order they were added.
#[derive(Debug, Default)]
pub(crate) struct FaultBook {
    plans: Vec<ActivePlan>,
}

impl FaultBook {
    pub(crate) fn add(&mut self, plan: FaultPlan) {
        self.plans.push(ActivePlan { plan, seen: 0 });
    }

    pub(crate) fn clear(&mut self) {
        self.plans.clear();
    }

    pub(crate) fn plans(&self) -> Vec<FaultPlan> {
        self.plans.iter().map(|a| a.plan.clone()).collect()
    }

    /// Latency plans add up; of the other plans, the first one that fires
    /// wins. A `Next` plan is only used up when it actually applies, so two
    /// queued plans take turns rather than one shadowing the other's count.
    pub(crate) fn decide(&mut self, endpoint: Endpoint) -> Decision {
        let mut decision = Decision::default();
        for active in self
            .plans
            .iter_mut()
            .filter(|a| a.plan.endpoint == endpoint)
        {
            let is_latency = matches!(active.plan.fault, Fault::Latency { .. });
            if !is_latency && decision.fault.is_some() {
                continue;
            }
            if !active.fires() {
                continue;
            }
            match active.plan.fault {
                Fault::Latency { ms } => {
                    decision.latency = decision.latency.saturating_add(Duration::from_millis(ms));
                }
                ref other => decision.fault = Some(other.clone()),
            }
        }
        self.plans
            .retain(|a| !matches!(a.plan.times, Times::Next(0)));
        decision
    }
}

impl ActivePlan {
    fn fires(&mut self) -> bool {
        match &mut self.plan.times {
            Times::Always => true,
            Times::Next(0) => false,
            Times::Next(n) => {
                *n -= 1;
                true
            }
            Times::Fraction(share) => {
                // Bresenham-style: fire whenever the running total of
                // `share` crosses an integer, which spreads hits evenly and
                // needs no randomness.
                let before = (self.seen as f64 * *share).floor();
                self.seen += 1;
                let after = (self.seen as f64 * *share).floor();
                after > before
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fraction_fires_evenly() {
        let mut book = FaultBook::default();
        book.add(FaultPlan::fraction(
            Endpoint::Oauth2Token,
            Fault::ConnectionReset,
            0.25,
        ));
        let hits: Vec<bool> = (0..8)
            .map(|_| book.decide(Endpoint::Oauth2Token).fault.is_some())
            .collect();
        assert_eq!(hits, [false, false, false, true, false, false, false, true]);
    }

    #[test]
    fn next_plans_take_turns_and_expire() {
        let mut book = FaultBook::default();
        book.add(FaultPlan::next(Endpoint::Oauth2Token, Fault::Html, 1));
        book.add(FaultPlan::next(Endpoint::Oauth2Token, Fault::NotJson, 1));
        book.add(FaultPlan::next(
            Endpoint::Oauth2Token,
            Fault::Latency { ms: 5 },
            2,
        ));
        let first = book.decide(Endpoint::Oauth2Token);
        assert_eq!(first.fault, Some(Fault::Html));
        assert_eq!(first.latency, Duration::from_millis(5));
        assert_eq!(
            book.decide(Endpoint::Oauth2Token).fault,
            Some(Fault::NotJson)
        );
        let third = book.decide(Endpoint::Oauth2Token);
        assert!(!third.is_faulted());
        assert!(book.plans().is_empty());
    }

    #[test]
    fn token_shape_faults_need_a_token_endpoint() {
        let plan = FaultPlan::always(Endpoint::OpenverseImages, Fault::WrongTokenType);
        assert!(plan.validate().is_err());
        let plan = FaultPlan::always(Endpoint::MarkableAuthorize, Fault::WrongTokenType);
        assert!(plan.validate().is_ok());
    }

    #[test]
    fn plan_json_shape() {
        let plan: FaultPlan = serde_json::from_str(
            r#"{"endpoint":"oauth2_token","fault":{"kind":"server_error","status":503,"retry_after_secs":2},"times":{"next":2}}"#,
        )
        .unwrap();
        assert_eq!(
            plan,
            FaultPlan::next(
                Endpoint::Oauth2Token,
                Fault::ServerError {
                    status: 503,
                    retry_after_secs: Some(2)
                },
                2
            )
        );
        let plan: FaultPlan =
            serde_json::from_str(r#"{"endpoint":"openverse_images","fault":{"kind":"redirect"}}"#)
                .unwrap();
        assert_eq!(plan.times, Times::Always);
        assert_eq!(plan.fault, Fault::Redirect { status: 302 });
    }
}
