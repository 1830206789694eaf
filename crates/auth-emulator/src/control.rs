//! The synchronous control surface shared by [`crate::Emulator`],
//! [`crate::BlockingEmulator`] and the admin HTTP API.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::config::{
    ClientSpec, DiscoveryDocs, OAuth2Methods, OAuth2Variety, OpenverseFlavour, RateLimitModel,
    Scheme, Throttles,
};
use crate::error::EmulatorError;
use crate::fault::{Endpoint, FaultPlan};
use crate::state::{Client, Counters, Email, Shared};

/// Runtime settings, as read by [`Control::config`] / `GET /_emulator/config`
/// and changed by [`Control::apply`] / `POST /_emulator/config`.
///
/// Every field is optional when applying; only the given ones change.
/// JSON form:
/// `{"lifetimes_secs":{"oauth2":1},"latency_ms":{"oauth2_token":50},"throttles":{"anon_burst":"3/min"},
///   "oauth2_methods":{"basic":true,"post":false},"oauth2_variety":{"lowercase_bearer":true},
///   "markable_minimal_response":true,"cache_outage":false,"discovery":"oidc_only"}`.
/// A latency of 0 removes that endpoint's latency.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConfigPatch {
    /// Token lifetime per scheme, in seconds (at least 1).
    pub lifetimes_secs: BTreeMap<Scheme, u64>,
    /// Added latency per endpoint, in milliseconds.
    pub latency_ms: BTreeMap<Endpoint, u64>,
    /// Openverse and Markable throttles, replaced as a whole (a rate left
    /// out of the JSON takes its default; `null` switches it off).
    pub throttles: Option<Throttles>,
    /// Which client authentication methods `/oauth2/token` accepts.
    pub oauth2_methods: Option<OAuth2Methods>,
    /// Plain OAuth 2.0 habits of `/oauth2/token`.
    pub oauth2_variety: Option<OAuth2Variety>,
    /// Markable authorizations answer with only `access_token`.
    pub markable_minimal_response: Option<bool>,
    /// Openverse's throttle cache is down: `/v1/rate_limit/` answers 424
    /// (CC Catalog flavour: 500) and throttles let everything through.
    pub cache_outage: Option<bool>,
    /// Which discovery documents are served.
    pub discovery: Option<DiscoveryDocs>,
}

pub(crate) fn check_lifetime(lifetime: Duration) -> Result<(), EmulatorError> {
    if lifetime < Duration::from_secs(1) {
        return Err(EmulatorError::InvalidConfig(format!(
            "token lifetime {lifetime:?} is under one second"
        )));
    }
    Ok(())
}

/// A cheap, cloneable handle that steers a running emulator. Every method
/// is synchronous and safe to call from async or blocking code; it takes a
/// std mutex for a few microseconds and never waits on the network.
#[derive(Debug, Clone)]
pub struct Control {
    shared: Arc<Shared>,
}

impl Control {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Control { shared }
    }

    /// The base URL, e.g. `http://127.0.0.1:40123` (no trailing slash).
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    /// The address the emulator listens on.
    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// The base URL joined with `path`, which should start with `/`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.shared.base_url)
    }

    /// The base URL of the Markable Lens API host (search, catalogs), a
    /// second listener: e.g. `http://127.0.0.1:40124` (no trailing slash).
    /// The main listener answers 404 for the API's paths, as
    /// `auth.markable.ai` would.
    pub fn markable_api_url(&self) -> &str {
        &self.shared.markable_api_base_url
    }

    /// [`Control::markable_api_url`] joined with `path`, which should start
    /// with `/`, e.g. `markable_api_url_for("/api/v1/search?q=shoes")`.
    pub fn markable_api_url_for(&self, path: &str) -> String {
        format!("{}{path}", self.shared.markable_api_base_url)
    }

    /// The address the Markable API listener is bound to.
    pub fn markable_api_addr(&self) -> SocketAddr {
        self.shared.markable_api_addr
    }

    /// Which Openverse server generation this emulator routes like.
    pub fn flavour(&self) -> OpenverseFlavour {
        self.shared.flavour
    }

    /// Adds a client, or replaces one with the same scheme and id (which
    /// also lifts a revocation).
    ///
    /// A client needs an id and either a secret or, for OAuth 2.0, a
    /// `public_jwk` (not both): the JWK must be a public RSA key of 2048
    /// bits or more or a P-256 key, without private parts.
    pub fn add_client(&self, spec: ClientSpec) -> Result<(), EmulatorError> {
        let invalid = |m: String| Err(EmulatorError::InvalidConfig(m));
        if spec.client_id.is_empty() {
            return invalid("client_id must not be empty".to_owned());
        }
        match &spec.public_jwk {
            Some(_) if spec.scheme != Scheme::Oauth2 => {
                return invalid(format!(
                    "public_jwk is for oauth2 clients only, not {}",
                    spec.scheme
                ));
            }
            Some(_) if !spec.client_secret.is_empty() => {
                return invalid(
                    "a client with public_jwk authenticates with private_key_jwt only; leave client_secret out"
                        .to_owned(),
                );
            }
            Some(jwk) => {
                if let Err(e) = crate::jwt::RegisteredKey::from_jwk(jwk) {
                    return invalid(format!("public_jwk: {e}"));
                }
            }
            None if spec.client_secret.is_empty() => {
                return invalid(
                    "client_secret must not be empty (or give an oauth2 client a public_jwk)"
                        .to_owned(),
                );
            }
            None => {}
        }
        if spec.scheme == Scheme::Markable {
            if let Some(s) = spec
                .scopes
                .iter()
                .find(|s| !matches!(s.as_str(), "default" | "search"))
            {
                return Err(EmulatorError::InvalidConfig(format!(
                    "unknown markable scope {s}"
                )));
            }
        }
        let mut st = self.shared.lock();
        st.clients.insert(
            (spec.scheme, spec.client_id.clone()),
            Client {
                spec,
                revoked: false,
            },
        );
        Ok(())
    }

    /// Revokes a client. Openverse: its tokens get 403 on the API (new
    /// tokens are still issued, as on the real server). Markable and OAuth
    /// 2.0: token requests get `invalid_client` and its tokens 401.
    pub fn revoke(&self, scheme: Scheme, client_id: &str) -> Result<(), EmulatorError> {
        let mut st = self.shared.lock();
        match st.clients.get_mut(&(scheme, client_id.to_owned())) {
            Some(c) => {
                c.revoked = true;
                Ok(())
            }
            None => Err(EmulatorError::UnknownClient {
                scheme,
                client_id: client_id.to_owned(),
            }),
        }
    }

    /// Marks an Openverse key verified or not, as following the emailed
    /// link does.
    pub fn set_verified(&self, client_id: &str, verified: bool) -> Result<(), EmulatorError> {
        let mut st = self.shared.lock();
        match st
            .clients
            .get_mut(&(Scheme::Openverse, client_id.to_owned()))
        {
            Some(c) => {
                c.spec.verified = verified;
                Ok(())
            }
            None => Err(EmulatorError::UnknownClient {
                scheme: Scheme::Openverse,
                client_id: client_id.to_owned(),
            }),
        }
    }

    /// Sets the lifetime of tokens issued from now on (at least one second).
    pub fn set_lifetime(&self, scheme: Scheme, lifetime: Duration) -> Result<(), EmulatorError> {
        check_lifetime(lifetime)?;
        self.shared.lock().settings.lifetimes.set(scheme, lifetime);
        Ok(())
    }

    /// Adds latency before every response of an endpoint; zero removes it.
    pub fn set_latency(&self, endpoint: Endpoint, latency: Duration) {
        let mut st = self.shared.lock();
        if latency.is_zero() {
            st.settings.latency.remove(&endpoint);
        } else {
            st.settings.latency.insert(endpoint, latency);
        }
    }

    /// Replaces the throttles (histories so far are kept; see
    /// [`Control::reset_rate_limits`]).
    pub fn set_throttles(&self, throttles: Throttles) {
        self.shared.lock().settings.throttles = throttles;
    }

    /// The throttles in force.
    pub fn throttles(&self) -> Throttles {
        self.shared.lock().settings.throttles
    }

    /// Sets the plain OAuth 2.0 habits of `/oauth2/token`.
    pub fn set_oauth2_variety(&self, variety: OAuth2Variety) {
        self.shared.lock().settings.oauth2_variety = variety;
    }

    /// Simulates Openverse's throttle cache (Redis) being down, or back:
    /// `/v1/rate_limit/` answers 424 with null counts (CC Catalog flavour:
    /// Django's 500 page), and throttles let everything through.
    pub fn set_cache_outage(&self, down: bool) {
        self.shared.lock().settings.cache_outage = down;
    }

    /// Sets an Openverse key's rate-limit model.
    pub fn set_rate_limit_model(
        &self,
        client_id: &str,
        model: RateLimitModel,
    ) -> Result<(), EmulatorError> {
        let mut st = self.shared.lock();
        match st
            .clients
            .get_mut(&(Scheme::Openverse, client_id.to_owned()))
        {
            Some(c) => {
                c.spec.rate_limit_model = model;
                Ok(())
            }
            None => Err(EmulatorError::UnknownClient {
                scheme: Scheme::Openverse,
                client_id: client_id.to_owned(),
            }),
        }
    }

    /// Switches `client_secret_basic` / `client_secret_post` on `/oauth2/token`.
    pub fn set_oauth2_methods(&self, methods: OAuth2Methods) {
        self.shared.lock().settings.oauth2_methods = methods;
    }

    /// Chooses which discovery documents are served; the others answer 404.
    pub fn set_discovery(&self, docs: DiscoveryDocs) {
        self.shared.lock().settings.discovery = docs;
    }

    /// Makes Markable authorizations answer with only `access_token`, as
    /// the seed shows.
    pub fn set_markable_minimal_response(&self, minimal: bool) {
        self.shared.lock().settings.markable_minimal_response = minimal;
    }

    /// Applies a settings patch; nothing changes if any value is invalid.
    pub fn apply(&self, patch: &ConfigPatch) -> Result<(), EmulatorError> {
        for secs in patch.lifetimes_secs.values() {
            check_lifetime(Duration::from_secs(*secs))?;
        }
        let mut st = self.shared.lock();
        for (scheme, secs) in &patch.lifetimes_secs {
            st.settings
                .lifetimes
                .set(*scheme, Duration::from_secs(*secs));
        }
        for (endpoint, ms) in &patch.latency_ms {
            if *ms == 0 {
                st.settings.latency.remove(endpoint);
            } else {
                st.settings
                    .latency
                    .insert(*endpoint, Duration::from_millis(*ms));
            }
        }
        if let Some(throttles) = patch.throttles {
            st.settings.throttles = throttles;
        }
        if let Some(methods) = patch.oauth2_methods {
            st.settings.oauth2_methods = methods;
        }
        if let Some(variety) = patch.oauth2_variety {
            st.settings.oauth2_variety = variety;
        }
        if let Some(minimal) = patch.markable_minimal_response {
            st.settings.markable_minimal_response = minimal;
        }
        if let Some(down) = patch.cache_outage {
            st.settings.cache_outage = down;
        }
        if let Some(docs) = patch.discovery {
            st.settings.discovery = docs;
        }
        Ok(())
    }

    /// The current settings, every field filled in.
    pub fn config(&self) -> ConfigPatch {
        let st = self.shared.lock();
        let s = &st.settings;
        ConfigPatch {
            lifetimes_secs: Scheme::ALL
                .iter()
                .map(|sch| (*sch, s.lifetimes.get(*sch).as_secs()))
                .collect(),
            latency_ms: s
                .latency
                .iter()
                .map(|(e, d)| (*e, u64::try_from(d.as_millis()).unwrap_or(u64::MAX)))
                .collect(),
            throttles: Some(s.throttles),
            oauth2_methods: Some(s.oauth2_methods),
            oauth2_variety: Some(s.oauth2_variety),
            markable_minimal_response: Some(s.markable_minimal_response),
            cache_outage: Some(s.cache_outage),
            discovery: Some(s.discovery),
        }
    }

    /// Queues a fault plan after those already queued.
    pub fn add_fault(&self, plan: FaultPlan) -> Result<(), EmulatorError> {
        plan.validate()?;
        self.shared.lock().faults.add(plan);
        Ok(())
    }

    /// Drops every fault plan.
    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// The plans still in force, with `Next` counts as they stand now.
    pub fn faults(&self) -> Vec<FaultPlan> {
        self.shared.lock().faults.plans()
    }

    /// A snapshot of the counters.
    pub fn counters(&self) -> Counters {
        self.shared.lock().counters.clone()
    }

    /// Zeroes the counters (including the in-flight maxima).
    pub fn reset_counters(&self) {
        self.shared.lock().counters = Counters::default();
    }

    /// Forgets every throttle history, so every caller starts afresh
    /// without sleeping (also what `/v1/rate_limit/` counts).
    pub fn reset_rate_limits(&self) {
        self.shared.lock().reset_rate_limits();
    }

    /// Resets counters and rate limits and clears faults. Clients, tokens,
    /// settings and the outbox stay.
    pub fn reset(&self) {
        let mut st = self.shared.lock();
        st.counters = Counters::default();
        st.reset_rate_limits();
        st.faults.clear();
    }

    /// Every verification email sent so far, oldest first.
    pub fn outbox(&self) -> Vec<Email> {
        self.shared.lock().outbox.clone()
    }

    /// Makes every token issued so far expired, as if its lifetime had
    /// passed, so expiry can be tested without waiting.
    pub fn expire_tokens(&self) {
        let now = Instant::now();
        let mut st = self.shared.lock();
        for token in st.tokens.values_mut() {
            token.expires_at = token.expires_at.min(now);
        }
    }
}
