use std::collections::BTreeMap;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::fault::Endpoint;

/// Fixed, fake credentials that every emulator seeds unless
/// [`EmulatorConfig::demo_clients`] is false. They are printed by the
/// `auth-emulator` binary and documented in `docs/emulator.md`; they are not
/// secrets.
pub mod demo {
    /// Openverse / CC Catalog client id (a verified key).
    pub const OPENVERSE_CLIENT_ID: &str = "demo-openverse-client";
    /// Openverse / CC Catalog client secret.
    pub const OPENVERSE_CLIENT_SECRET: &str = "demo-openverse-secret";
    /// Markable Lens client id (allowed scopes `default` and `search`).
    pub const MARKABLE_CLIENT_ID: &str = "demo-markable-client";
    /// Markable Lens client secret.
    pub const MARKABLE_CLIENT_SECRET: &str = "demo-markable-secret";
    /// RFC 6749 client id (allowed `read write admin`, default `read`).
    pub const OAUTH2_CLIENT_ID: &str = "demo-oauth2-client";
    /// RFC 6749 client secret.
    pub const OAUTH2_CLIENT_SECRET: &str = "demo-oauth2-secret";
    /// RFC 6749 client that authenticates with `private_key_jwt` (RFC 7523)
    /// only, with [`OAUTH2_JWT_PRIVATE_KEY_PEM`] (allowed `read write
    /// admin`, default `read`, like [`OAUTH2_CLIENT_ID`]).
    pub const OAUTH2_JWT_CLIENT_ID: &str = "demo-oauth2-jwt-client";
    /// The private key of [`OAUTH2_JWT_CLIENT_ID`]: a P-256 key (ES256) in
    /// PKCS#8 PEM, made once with `openssl genpkey -algorithm EC -pkeyopt
    /// ec_paramgen_curve:P-256`. Published here and in `docs/emulator.md`,
    /// so it protects nothing and is no secret: never register it with a
    /// real server.
    pub const OAUTH2_JWT_PRIVATE_KEY_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgDvVoTCft7tHS+0K9
g80v1V+cbYMlMuQWPRhxooBBw/mhRANCAARAlSUDgGyJSyrqXbVy8+uLpLaI/DOl
T+VVBqb0aX8gQHxe+iGsTSWSxebYaFV4XV50RcEMjRlpCT6FBFSM73uk
-----END PRIVATE KEY-----
";
    /// The public half of [`OAUTH2_JWT_PRIVATE_KEY_PEM`] as a JWK (RFC 7517)
    /// in JSON, with key id `demo-es256`: what the emulator has registered
    /// for [`OAUTH2_JWT_CLIENT_ID`].
    pub const OAUTH2_JWT_PUBLIC_JWK: &str = r#"{"kty":"EC","crv":"P-256","kid":"demo-es256","alg":"ES256","use":"sig","x":"QJUlA4BsiUsq6l21cvPri6S2iPwzpU_lVQam9Gl_IEA","y":"fF76IaxNJZLF5thoVXhdXnRFwQyNGWkJPoUEVIzve6Q"}"#;
    /// The key id in [`OAUTH2_JWT_PUBLIC_JWK`].
    pub const OAUTH2_JWT_KEY_ID: &str = "demo-es256";
}

/// One of the three token schemes the emulator speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scheme {
    /// Creative Commons Catalog API / Openverse: self-registration, email
    /// verification and client credentials at `/v1/auth_tokens/token/`.
    Openverse,
    /// Markable Lens: JSON envelope at `/auth/client/authorize`.
    Markable,
    /// Plain RFC 6749 §4.4 client credentials at `/oauth2/token`.
    Oauth2,
}

impl Scheme {
    /// All schemes, in a fixed order.
    pub const ALL: [Scheme; 3] = [Scheme::Openverse, Scheme::Markable, Scheme::Oauth2];

    /// The snake_case name used in JSON and in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Openverse => "openverse",
            Scheme::Markable => "markable",
            Scheme::Oauth2 => "oauth2",
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A client the emulator accepts, for one scheme.
///
/// JSON form (for `POST /_emulator/clients`):
/// `{"scheme":"oauth2","client_id":"a","client_secret":"b","scopes":["read","write"],"default_scopes":["read"]}`;
/// `verified` (Openverse, default true), `rate_limit_model` (Openverse,
/// default `standard`), `grant_allowed` (OAuth 2.0, default true) and
/// `default_scopes` may be left out. A `private_key_jwt` client has a
/// `public_jwk` instead of a `client_secret`:
/// `{"scheme":"oauth2","client_id":"a","public_jwk":{"kty":"EC","crv":"P-256","x":"…","y":"…"},"scopes":["read"]}`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientSpec {
    /// Which scheme this client belongs to.
    pub scheme: Scheme,
    /// The public client id.
    pub client_id: String,
    /// The client secret; empty (or left out of the JSON) for a client
    /// with a [`public_jwk`](Self::public_jwk).
    #[serde(default)]
    pub client_secret: String,
    /// Scopes the client may ask for. Markable: a subset of `default`,
    /// `search`. OAuth 2.0: any scope tokens. Openverse: ignored (the server
    /// knows `read write`, the CC Catalog flavour `read write groups`).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// OAuth 2.0: scopes granted when the request names none.
    #[serde(default)]
    pub default_scopes: Vec<String>,
    /// Openverse: whether the owner followed the verification link, which
    /// lifts the key from the unverified to the verified rate limit.
    #[serde(default = "yes")]
    pub verified: bool,
    /// Openverse: which throttles a verified key gets and what
    /// `/v1/rate_limit/` reports (`ThrottledApplication.rate_limit_model`).
    #[serde(default)]
    pub rate_limit_model: RateLimitModel,
    /// OAuth 2.0: whether the client may use the client_credentials grant;
    /// false makes the token endpoint answer `unauthorized_client`.
    #[serde(default = "yes")]
    pub grant_allowed: bool,
    /// OAuth 2.0 only: the client's public key as a JWK (RFC 7517; RSA of
    /// 2048 bits or more, or EC P-256). A client with a key authenticates
    /// only with `private_key_jwt` (RFC 7523 §2.2): a signed assertion,
    /// never a secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_jwk: Option<serde_json::Value>,
}

fn yes() -> bool {
    true
}

// The secret is the whole point of the type, so Debug leaves it out.
impl fmt::Debug for ClientSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientSpec")
            .field("scheme", &self.scheme)
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("scopes", &self.scopes)
            .field("default_scopes", &self.default_scopes)
            .field("verified", &self.verified)
            .field("rate_limit_model", &self.rate_limit_model)
            .field("grant_allowed", &self.grant_allowed)
            .field("public_jwk", &self.public_jwk)
            .finish()
    }
}

impl ClientSpec {
    /// An Openverse key; `verified` picks its rate-limit tier.
    pub fn openverse(client_id: &str, client_secret: &str, verified: bool) -> Self {
        ClientSpec {
            scheme: Scheme::Openverse,
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            scopes: Vec::new(),
            default_scopes: Vec::new(),
            verified,
            rate_limit_model: RateLimitModel::Standard,
            grant_allowed: true,
            public_jwk: None,
        }
    }

    /// A Markable client allowed the given scopes (`default`, `search`).
    pub fn markable(client_id: &str, client_secret: &str, scopes: &[&str]) -> Self {
        ClientSpec {
            scheme: Scheme::Markable,
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            default_scopes: Vec::new(),
            verified: true,
            rate_limit_model: RateLimitModel::Standard,
            grant_allowed: true,
            public_jwk: None,
        }
    }

    /// An RFC 6749 client allowed `scopes`, granted `default_scopes` when it
    /// asks for none.
    pub fn oauth2(
        client_id: &str,
        client_secret: &str,
        scopes: &[&str],
        default_scopes: &[&str],
    ) -> Self {
        ClientSpec {
            scheme: Scheme::Oauth2,
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            default_scopes: default_scopes.iter().map(|s| (*s).to_owned()).collect(),
            verified: true,
            rate_limit_model: RateLimitModel::Standard,
            grant_allowed: true,
            public_jwk: None,
        }
    }

    /// An RFC 6749 client that authenticates with `private_key_jwt` only,
    /// by assertions signed with the private half of `public_jwk` (a public
    /// JWK: RSA of 2048 bits or more, or EC P-256), allowed `scopes` and
    /// granted `default_scopes` when it asks for none. The JWK is checked
    /// when the client is added ([`Control::add_client`](crate::Control::add_client)).
    pub fn oauth2_with_key(
        client_id: &str,
        public_jwk: serde_json::Value,
        scopes: &[&str],
        default_scopes: &[&str],
    ) -> Self {
        ClientSpec {
            client_secret: String::new(),
            public_jwk: Some(public_jwk),
            ..ClientSpec::oauth2(client_id, "", scopes, default_scopes)
        }
    }

    /// Sets whether an OAuth 2.0 client may use the client_credentials grant.
    #[must_use]
    pub fn with_grant_allowed(mut self, allowed: bool) -> Self {
        self.grant_allowed = allowed;
        self
    }

    /// Sets an Openverse key's rate-limit model.
    #[must_use]
    pub fn with_rate_limit_model(mut self, model: RateLimitModel) -> Self {
        self.rate_limit_model = model;
        self
    }
}

/// An Openverse key's rate-limit model (`ThrottledApplication.rate_limit_model`
/// in `api/api/models/oauth.py`): which `oauth2_client_credentials_*`
/// throttles a verified key gets.
///
/// Serialized in snake_case: `"standard"`, `"enhanced"`, `"exempt"`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RateLimitModel {
    /// `oauth2_client_credentials_burst` / `_sustained`.
    #[default]
    Standard,
    /// `enhanced_oauth2_client_credentials_burst` / `_sustained`.
    Enhanced,
    /// Not throttled at all; `/v1/rate_limit/` reports null counts.
    Exempt,
}

impl RateLimitModel {
    /// The name the server reports in `rate_limit_model`.
    pub fn as_str(self) -> &'static str {
        match self {
            RateLimitModel::Standard => "standard",
            RateLimitModel::Enhanced => "enhanced",
            RateLimitModel::Exempt => "exempt",
        }
    }
}

/// Which generation of the CC Catalog / Openverse server the emulator
/// routes and answers like.
///
/// Serialized in snake_case (`"openverse"`, `"cc_catalog"`); the
/// `auth-emulator` binary takes `--flavour openverse|cc-catalog`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpenverseFlavour {
    /// Today's Openverse (`WordPress/openverse`, `api/conf/urls/auth_tokens.py`):
    /// every route ends in a slash, and the slash-less form answers 301 to
    /// it (Django's `APPEND_SLASH`).
    #[default]
    Openverse,
    /// The seed's CC Catalog API (`cccatalog-api`, `cccatalog/urls.py`):
    /// `v1/auth_tokens/register`, `v1/rate_limit` and
    /// `v1/auth_tokens/verify/<code>` without the slash (their slash forms
    /// answer 404), the token endpoint `v1/auth_tokens/token/` with it.
    CcCatalog,
}

impl OpenverseFlavour {
    /// The snake_case name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            OpenverseFlavour::Openverse => "openverse",
            OpenverseFlavour::CcCatalog => "cc_catalog",
        }
    }
}

impl fmt::Display for OpenverseFlavour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OpenverseFlavour {
    type Err = String;

    /// `openverse`, or `cc-catalog` / `cc_catalog`.
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "openverse" => Ok(OpenverseFlavour::Openverse),
            "cc-catalog" | "cc_catalog" => Ok(OpenverseFlavour::CcCatalog),
            other => Err(format!(
                "unknown flavour {other:?}; expected openverse or cc-catalog"
            )),
        }
    }
}

/// Token lifetimes per scheme. Each must be at least one second.
///
/// JSON form: `{"openverse":43200,"markable":157680000,"oauth2":3600}` (seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lifetimes {
    /// Openverse `expires_in`: 43200 by default (`ACCESS_TOKEN_EXPIRE_SECONDS`
    /// in `api/conf/settings/oauth2.py`); the seed shows 36000.
    #[serde(with = "secs")]
    pub openverse: Duration,
    /// Markable `expires_at` minus now: five years by default, as Markable
    /// client tokens last years.
    #[serde(with = "secs")]
    pub markable: Duration,
    /// RFC 6749 `expires_in`.
    #[serde(with = "secs")]
    pub oauth2: Duration,
}

impl Default for Lifetimes {
    fn default() -> Self {
        Lifetimes {
            openverse: Duration::from_secs(43_200),
            markable: Duration::from_secs(5 * 365 * 86_400),
            oauth2: Duration::from_secs(3_600),
        }
    }
}

impl Lifetimes {
    /// The lifetime for one scheme.
    pub fn get(&self, scheme: Scheme) -> Duration {
        match scheme {
            Scheme::Openverse => self.openverse,
            Scheme::Markable => self.markable,
            Scheme::Oauth2 => self.oauth2,
        }
    }

    /// Sets the lifetime for one scheme.
    pub fn set(&mut self, scheme: Scheme, lifetime: Duration) {
        match scheme {
            Scheme::Openverse => self.openverse = lifetime,
            Scheme::Markable => self.markable = lifetime,
            Scheme::Oauth2 => self.oauth2 = lifetime,
        }
    }
}

/// The unit of a [`Rate`], read as Django REST Framework reads it: by the
/// first letter of what follows the `/` (`s`, `m`, `h`, `d`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Period {
    /// One second; written `second`.
    Second,
    /// One minute; written `min`, as Openverse's settings write it.
    Minute,
    /// One hour; written `hour`.
    Hour,
    /// One day; written `day`.
    Day,
}

impl Period {
    /// The window length.
    pub fn duration(self) -> Duration {
        Duration::from_secs(match self {
            Period::Second => 1,
            Period::Minute => 60,
            Period::Hour => 3_600,
            Period::Day => 86_400,
        })
    }

    fn word(self) -> &'static str {
        match self {
            Period::Second => "second",
            Period::Minute => "min",
            Period::Hour => "hour",
            Period::Day => "day",
        }
    }
}

/// A DRF throttle rate: `requests` per sliding `period`.
///
/// Written and parsed as DRF settings write it: `5/hour`, `100/day`,
/// `100/min`, `1/second` (only the unit's first letter counts, so
/// `100/minute` reads as `100/min`). That text is also what
/// `X-RateLimit-Limit-<scope>` carries. JSON form: the same string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rate {
    /// Requests allowed in any window of one `period`.
    pub requests: u32,
    /// The window.
    pub period: Period,
}

impl Rate {
    /// `requests` per `period`.
    pub const fn new(requests: u32, period: Period) -> Self {
        Rate { requests, period }
    }

    /// `n/second`.
    pub const fn per_second(n: u32) -> Self {
        Rate::new(n, Period::Second)
    }

    /// `n/min`.
    pub const fn per_minute(n: u32) -> Self {
        Rate::new(n, Period::Minute)
    }

    /// `n/hour`.
    pub const fn per_hour(n: u32) -> Self {
        Rate::new(n, Period::Hour)
    }

    /// `n/day`.
    pub const fn per_day(n: u32) -> Self {
        Rate::new(n, Period::Day)
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.requests, self.period.word())
    }
}

impl FromStr for Rate {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("rate {s:?} is not N/second, N/min, N/hour or N/day");
        let (n, unit) = s.split_once('/').ok_or_else(bad)?;
        let requests = n.trim().parse::<u32>().map_err(|_| bad())?;
        let period = match unit.trim().chars().next() {
            Some('s') => Period::Second,
            Some('m') => Period::Minute,
            Some('h') => Period::Hour,
            Some('d') => Period::Day,
            _ => return Err(bad()),
        };
        Ok(Rate { requests, period })
    }
}

impl Serialize for Rate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The throttles of the emulated servers, on by default with the values the
/// real Openverse runs (`api/conf/settings/rest_framework.py`,
/// `api/api/utils/throttle.py`); `None` switches one off.
///
/// Each is a DRF `SimpleRateThrottle`: a sliding window per cache key, and
/// over it 429 `{"detail":"Request was throttled. Expected available in N seconds."}`
/// with `Retry-After: N` (which can be hours). Responses that pass a
/// throttle carry `X-RateLimit-Limit-<scope>: <rate>` and
/// `X-RateLimit-Available-<scope>: <left>`.
///
/// JSON form (for `POST /_emulator/config` as `"throttles"`): the field
/// names below with rates as strings or `null`, e.g.
/// `{"anon_burst":"3/min","anon_sustained":null}`; a field left out takes
/// its default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Throttles {
    /// Callers without a valid token, and keys whose owner has not verified
    /// the email, keyed by IP (`anon_burst`, default `5/hour`). Includes
    /// every Openverse token request: the token endpoint is throttled too.
    pub anon_burst: Option<Rate>,
    /// Same callers, `anon_sustained` (default `100/day`).
    pub anon_sustained: Option<Rate>,
    /// Verified `standard` keys, by client id
    /// (`oauth2_client_credentials_burst`, default `100/min`).
    pub oauth2_client_credentials_burst: Option<Rate>,
    /// Verified `standard` keys, `oauth2_client_credentials_sustained`
    /// (default `10000/day`).
    pub oauth2_client_credentials_sustained: Option<Rate>,
    /// Verified `enhanced` keys, `enhanced_oauth2_client_credentials_burst`
    /// (default `200/min`).
    pub enhanced_oauth2_client_credentials_burst: Option<Rate>,
    /// Verified `enhanced` keys,
    /// `enhanced_oauth2_client_credentials_sustained` (default `20000/day`).
    pub enhanced_oauth2_client_credentials_sustained: Option<Rate>,
    /// Registration per IP (`TenPerDay`, default `10/day`; its headers say
    /// `tenperday`).
    pub registration: Option<Rate>,
    /// `/v1/rate_limit/` per IP for callers without a verified key
    /// (`OnePerSecond`, default `1/second`; headers say `onepersecond`).
    /// On the real server it shares its cache key with `registration`, and
    /// so it does here.
    pub key_status: Option<Rate>,
    /// Markable, per IP, on the authorization endpoint and, separately, on
    /// the API host (default `25/min`).
    pub markable: Option<Rate>,
}

impl Default for Throttles {
    fn default() -> Self {
        Throttles {
            anon_burst: Some(Rate::per_hour(5)),
            anon_sustained: Some(Rate::per_day(100)),
            oauth2_client_credentials_burst: Some(Rate::per_minute(100)),
            oauth2_client_credentials_sustained: Some(Rate::per_day(10_000)),
            enhanced_oauth2_client_credentials_burst: Some(Rate::per_minute(200)),
            enhanced_oauth2_client_credentials_sustained: Some(Rate::per_day(20_000)),
            registration: Some(Rate::per_day(10)),
            key_status: Some(Rate::per_second(1)),
            markable: Some(Rate::per_minute(25)),
        }
    }
}

impl Throttles {
    /// Every throttle off, as DRF runs with `DEFAULT_THROTTLE_RATES` all
    /// `None`: no 429s, no `X-RateLimit-*` headers, and `/v1/rate_limit/`
    /// reports null counts. For benchmarks and tests that make many requests.
    pub fn off() -> Self {
        Throttles {
            anon_burst: None,
            anon_sustained: None,
            oauth2_client_credentials_burst: None,
            oauth2_client_credentials_sustained: None,
            enhanced_oauth2_client_credentials_burst: None,
            enhanced_oauth2_client_credentials_sustained: None,
            registration: None,
            key_status: None,
            markable: None,
        }
    }

    /// The rates of the seed's CC Catalog API (`cccatalog/settings.py`):
    /// `anon_burst` `60/min`, `anon_sustained` `5000/day`, the key rates as
    /// today's.
    pub fn cc_catalog() -> Self {
        Throttles {
            anon_burst: Some(Rate::per_minute(60)),
            anon_sustained: Some(Rate::per_day(5_000)),
            ..Throttles::default()
        }
    }
}

/// Plain OAuth 2.0 server habits the emulator can adopt on `/oauth2/token`,
/// all off by default (the emulator then answers the strictest way).
///
/// JSON form: `{"lowercase_bearer":true,"omit_scope":false,"narrow_scopes":false}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OAuth2Variety {
    /// `token_type` `bearer` instead of `Bearer` (RFC 6749 §7.1 makes the
    /// type case-insensitive; many servers send it lowercase).
    pub lowercase_bearer: bool,
    /// Leave `scope` out of the answer when it equals what was asked
    /// (RFC 6749 §5.1 makes it optional then).
    pub omit_scope: bool,
    /// Grant the allowed part of the asked scope instead of refusing with
    /// `invalid_scope` (RFC 6749 §3.3 lets the server narrow; it must then
    /// name the granted scope). Nothing allowed is still `invalid_scope`.
    pub narrow_scopes: bool,
}

/// OAuth 2.0 token endpoint switches.
///
/// JSON form: `{"basic":true,"post":true}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuth2Methods {
    /// Accept `client_secret_basic` (HTTP Basic, RFC 6749 §2.3.1).
    pub basic: bool,
    /// Accept `client_secret_post` (credentials in the form body).
    pub post: bool,
}

impl Default for OAuth2Methods {
    fn default() -> Self {
        OAuth2Methods {
            basic: true,
            post: true,
        }
    }
}

/// Which authorization server metadata documents the emulator serves
/// (RFC 8414 §3 at `/.well-known/oauth-authorization-server`, OpenID
/// Connect Discovery §4 at `/.well-known/openid-configuration`); the
/// others answer 404, so tests can check a client's fallback from one to
/// the other.
///
/// Serialized in snake_case: `"both"`, `"oidc_only"`, `"oauth_only"`, `"none"`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiscoveryDocs {
    /// Both documents.
    #[default]
    Both,
    /// Only `/.well-known/openid-configuration`.
    OidcOnly,
    /// Only `/.well-known/oauth-authorization-server`.
    OauthOnly,
    /// Neither.
    None,
}

impl DiscoveryDocs {
    /// Whether `/.well-known/oauth-authorization-server` is served.
    pub fn serves_oauth(self) -> bool {
        matches!(self, DiscoveryDocs::Both | DiscoveryDocs::OauthOnly)
    }

    /// Whether `/.well-known/openid-configuration` is served.
    pub fn serves_oidc(self) -> bool {
        matches!(self, DiscoveryDocs::Both | DiscoveryDocs::OidcOnly)
    }
}

/// How to start an emulator. `EmulatorConfig::default()` listens on
/// `127.0.0.1:0` (and the Markable API on another free port) with the
/// [`demo`] clients seeded, the Openverse flavour and the real throttles.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// Where to listen; must be a loopback address. Port 0 picks a free port.
    pub addr: SocketAddr,
    /// Seed of the generator behind ids, secrets, tokens and verification
    /// codes, so runs are reproducible.
    pub seed: u64,
    /// Whether to seed the [`demo`] clients (one per scheme, and the
    /// `private_key_jwt` OAuth 2.0 client).
    pub demo_clients: bool,
    /// Further clients to seed.
    pub clients: Vec<ClientSpec>,
    /// Token lifetimes per scheme.
    pub lifetimes: Lifetimes,
    /// Which generation of the Openverse server to route and answer like.
    pub flavour: OpenverseFlavour,
    /// Openverse and Markable throttles; [`Throttles::off`] for benchmarks.
    pub throttles: Throttles,
    /// Which client authentication methods `/oauth2/token` accepts.
    pub oauth2_methods: OAuth2Methods,
    /// Plain OAuth 2.0 habits of `/oauth2/token` (lowercase `bearer`, …).
    pub oauth2_variety: OAuth2Variety,
    /// Which discovery documents are served ([`DiscoveryDocs::Both`] by
    /// default).
    pub discovery: DiscoveryDocs,
    /// Answer Markable authorizations with only `access_token`, as the seed
    /// shows, instead of the full `data` object.
    pub markable_minimal_response: bool,
    /// Added latency per endpoint, applied before every response.
    pub latency: BTreeMap<Endpoint, Duration>,
    /// Where the Markable Lens API (search, catalogs) listens: a second
    /// loopback listener, because the real API lives on another host than
    /// its authorization server. `None`: the IP of `addr`, a free port.
    pub markable_api_addr: Option<SocketAddr>,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            seed: 0x5eed_a11c_e5e5_0001,
            demo_clients: true,
            clients: Vec::new(),
            lifetimes: Lifetimes::default(),
            flavour: OpenverseFlavour::default(),
            throttles: Throttles::default(),
            oauth2_methods: OAuth2Methods::default(),
            oauth2_variety: OAuth2Variety::default(),
            discovery: DiscoveryDocs::default(),
            markable_minimal_response: false,
            latency: BTreeMap::new(),
            markable_api_addr: None,
        }
    }
}

impl EmulatorConfig {
    /// The clients the emulator starts with: the demo clients (if enabled)
    /// followed by [`EmulatorConfig::clients`].
    pub fn initial_clients(&self) -> Vec<ClientSpec> {
        let mut all = Vec::new();
        if self.demo_clients {
            all.push(ClientSpec::openverse(
                demo::OPENVERSE_CLIENT_ID,
                demo::OPENVERSE_CLIENT_SECRET,
                true,
            ));
            all.push(ClientSpec::markable(
                demo::MARKABLE_CLIENT_ID,
                demo::MARKABLE_CLIENT_SECRET,
                &["default", "search"],
            ));
            all.push(ClientSpec::oauth2(
                demo::OAUTH2_CLIENT_ID,
                demo::OAUTH2_CLIENT_SECRET,
                &["read", "write", "admin"],
                &["read"],
            ));
            // A fixed constant, checked by a unit test: it always parses.
            match serde_json::from_str(demo::OAUTH2_JWT_PUBLIC_JWK) {
                Ok(jwk) => all.push(ClientSpec::oauth2_with_key(
                    demo::OAUTH2_JWT_CLIENT_ID,
                    jwk,
                    &["read", "write", "admin"],
                    &["read"],
                )),
                Err(e) => tracing::error!(error = %e, "the demo JWK does not parse"),
            }
        }
        all.extend(self.clients.iter().cloned());
        all
    }
}

/// Serde adapter: a [`Duration`] as whole seconds.
mod secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_secs)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    /// The demo key's halves belong together: the public JWK auth-core
    /// derives from the PEM is the one the emulator registers.
    #[test]
    fn demo_pem_and_jwk_are_one_key() {
        let key = auth_core::PrivateKey::from_pem(demo::OAUTH2_JWT_PRIVATE_KEY_PEM)
            .unwrap()
            .with_key_id(demo::OAUTH2_JWT_KEY_ID);
        assert_eq!(key.algorithm(), "ES256");
        let derived = key.public_jwk();
        let registered: Value = serde_json::from_str(demo::OAUTH2_JWT_PUBLIC_JWK).unwrap();
        for field in ["kty", "crv", "x", "y", "kid", "alg"] {
            assert_eq!(derived[field], registered[field], "{field}");
        }
        assert!(registered.get("d").is_none());
        assert_eq!(registered["kid"], "demo-es256");
    }

    #[test]
    fn demo_clients_include_the_jwt_client() {
        let clients = EmulatorConfig::default().initial_clients();
        let jwt = clients
            .iter()
            .find(|c| c.client_id == demo::OAUTH2_JWT_CLIENT_ID)
            .unwrap();
        assert_eq!(jwt.scheme, Scheme::Oauth2);
        assert!(jwt.client_secret.is_empty());
        assert!(jwt.public_jwk.is_some());
        assert_eq!(jwt.scopes, ["read", "write", "admin"]);
        assert_eq!(jwt.default_scopes, ["read"]);
    }

    #[test]
    fn client_spec_json_with_a_key() {
        let spec: ClientSpec = serde_json::from_str(
            r#"{"scheme":"oauth2","client_id":"k","public_jwk":{"kty":"EC"},"scopes":["read"]}"#,
        )
        .unwrap();
        assert!(spec.client_secret.is_empty());
        assert_eq!(spec.public_jwk, Some(serde_json::json!({"kty":"EC"})));
        // A client without a key writes no `public_jwk`.
        let plain = serde_json::to_value(ClientSpec::oauth2("a", "b", &[], &[])).unwrap();
        assert!(plain.get("public_jwk").is_none());
    }
}
