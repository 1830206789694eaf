use std::collections::BTreeMap;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use serde::{Deserialize, Serialize};

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
/// `verified` (Openverse, default true), `grant_allowed` (OAuth 2.0, default
/// true) and `default_scopes` may be left out.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientSpec {
    /// Which scheme this client belongs to.
    pub scheme: Scheme,
    /// The public client id.
    pub client_id: String,
    /// The client secret.
    pub client_secret: String,
    /// Scopes the client may ask for. Markable: a subset of `default`,
    /// `search`. OAuth 2.0: any scope tokens. Openverse: ignored (tokens
    /// always carry `read write groups`).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// OAuth 2.0: scopes granted when the request names none.
    #[serde(default)]
    pub default_scopes: Vec<String>,
    /// Openverse: whether the owner followed the verification link, which
    /// lifts the key from the unverified to the verified rate limit.
    #[serde(default = "yes")]
    pub verified: bool,
    /// OAuth 2.0: whether the client may use the client_credentials grant;
    /// false makes the token endpoint answer `unauthorized_client`.
    #[serde(default = "yes")]
    pub grant_allowed: bool,
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
            .field("grant_allowed", &self.grant_allowed)
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
            grant_allowed: true,
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
            grant_allowed: true,
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
            grant_allowed: true,
        }
    }

    /// Sets whether an OAuth 2.0 client may use the client_credentials grant.
    #[must_use]
    pub fn with_grant_allowed(mut self, allowed: bool) -> Self {
        self.grant_allowed = allowed;
        self
    }
}

/// Token lifetimes per scheme. Each must be at least one second.
///
/// JSON form: `{"openverse":36000,"markable":3600,"oauth2":3600}` (seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lifetimes {
    /// Openverse `expires_in`; the seed shows 36000.
    #[serde(with = "secs")]
    pub openverse: Duration,
    /// Markable `expires_at` minus now.
    #[serde(with = "secs")]
    pub markable: Duration,
    /// RFC 6749 `expires_in`.
    #[serde(with = "secs")]
    pub oauth2: Duration,
}

impl Default for Lifetimes {
    fn default() -> Self {
        Lifetimes {
            openverse: Duration::from_secs(36_000),
            markable: Duration::from_secs(3_600),
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

/// Per-minute burst limits of `GET /v1/images/`, by caller tier.
///
/// JSON form: `{"anonymous":5,"unverified":10,"verified":100}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimits {
    /// No `Authorization` header; scope `anon_burst`.
    pub anonymous: u32,
    /// A valid token of a key whose email is not verified; scope `unverified_burst`.
    pub unverified: u32,
    /// A valid token of a verified key; scope `standard_burst`.
    pub verified: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            anonymous: 5,
            unverified: 10,
            verified: 100,
        }
    }
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

/// How to start an emulator. `EmulatorConfig::default()` listens on
/// `127.0.0.1:0` with the [`demo`] clients seeded.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// Where to listen; must be a loopback address. Port 0 picks a free port.
    pub addr: SocketAddr,
    /// Seed of the generator behind ids, secrets, tokens and verification
    /// codes, so runs are reproducible.
    pub seed: u64,
    /// Whether to seed the three [`demo`] clients.
    pub demo_clients: bool,
    /// Further clients to seed.
    pub clients: Vec<ClientSpec>,
    /// Token lifetimes per scheme.
    pub lifetimes: Lifetimes,
    /// Openverse image search rate limits.
    pub rate_limits: RateLimits,
    /// Which client authentication methods `/oauth2/token` accepts.
    pub oauth2_methods: OAuth2Methods,
    /// Answer Markable authorizations with only `access_token`, as the seed
    /// shows, instead of the full `data` object.
    pub markable_minimal_response: bool,
    /// Added latency per endpoint, applied before every response.
    pub latency: BTreeMap<Endpoint, Duration>,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            seed: 0x5eed_a11c_e5e5_0001,
            demo_clients: true,
            clients: Vec::new(),
            lifetimes: Lifetimes::default(),
            rate_limits: RateLimits::default(),
            oauth2_methods: OAuth2Methods::default(),
            markable_minimal_response: false,
            latency: BTreeMap::new(),
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
