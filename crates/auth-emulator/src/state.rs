//! Everything the emulator remembers, behind one std mutex so that async
//! handlers and synchronous test code can both reach it.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};

use crate::config::{
    ClientSpec, DiscoveryDocs, EmulatorConfig, Lifetimes, OAuth2Methods, OAuth2Variety,
    OpenverseFlavour, Scheme, Throttles,
};
use crate::fault::{Decision, Endpoint, FaultBook};
use crate::throttle::Buckets;
use crate::wire::Rng;

/// A verification email, delivered to the outbox instead of SMTP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Email {
    /// The address given at registration.
    pub to: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body; contains [`Email::link`].
    pub body: String,
    /// `{base}/v1/auth_tokens/verify/<code>/` (CC Catalog flavour: no
    /// trailing slash).
    pub link: String,
    /// The verification code inside the link: 86 characters of URL-safe
    /// base64, as Python's `secrets.token_urlsafe(64)`. It is deleted once
    /// used.
    pub code: String,
    /// The client id the code verifies.
    pub client_id: String,
}

/// Per-scheme token endpoint counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenCounters {
    /// Every request that reached the token endpoint, faulted or not.
    pub total: u64,
    /// Requests by the client id they presented (only requests the endpoint
    /// actually read, so not those a replacing fault answered).
    pub per_client: BTreeMap<String, u64>,
    /// Tokens handed out.
    pub issued: u64,
    /// The most token requests of this scheme being served at once.
    pub max_in_flight: u64,
}

/// A snapshot of the request counters since start or the last reset.
///
/// JSON form (`GET /_emulator/counters`):
/// `{"token_requests":{"oauth2":{"total":3,"per_client":{"demo-oauth2-client":3},"issued":2,"max_in_flight":1}},
///   "token_requests_total":3,"max_token_in_flight":1,"requests":{"oauth2_token":3},"rejected":1,"faults_injected":0}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Token endpoint counters by scheme; a scheme appears once it is asked.
    pub token_requests: BTreeMap<Scheme, TokenCounters>,
    /// Requests to all three token endpoints.
    pub token_requests_total: u64,
    /// The most token requests (all schemes together) being served at once.
    pub max_token_in_flight: u64,
    /// Requests per endpoint (admin requests are not counted).
    pub requests: BTreeMap<Endpoint, u64>,
    /// Requests the emulator refused by its own rules with a 4xx status
    /// (bad credentials, validation, rate limits, bad tokens…).
    pub rejected: u64,
    /// Requests a fault plan touched.
    pub faults_injected: u64,
}

impl Counters {
    /// Token requests of one scheme (0 if none).
    pub fn token_total(&self, scheme: Scheme) -> u64 {
        self.token_requests.get(&scheme).map_or(0, |c| c.total)
    }

    /// Token requests a client presented itself in (0 if none).
    pub fn token_requests_by(&self, scheme: Scheme, client_id: &str) -> u64 {
        self.token_requests
            .get(&scheme)
            .and_then(|c| c.per_client.get(client_id))
            .copied()
            .unwrap_or(0)
    }

    /// Requests to one endpoint (0 if none).
    pub fn requests_to(&self, endpoint: Endpoint) -> u64 {
        self.requests.get(&endpoint).copied().unwrap_or(0)
    }
}

/// Settings that can change while running.
///
/// JSON form (`GET`/`POST /_emulator/config`): see [`crate::ConfigPatch`].
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) lifetimes: Lifetimes,
    pub(crate) throttles: Throttles,
    pub(crate) oauth2_methods: OAuth2Methods,
    pub(crate) oauth2_variety: OAuth2Variety,
    /// Which discovery documents are served.
    pub(crate) discovery: DiscoveryDocs,
    /// Openverse's throttle cache (Redis) is down: `/v1/rate_limit/`
    /// answers 424 and throttles let everything through.
    pub(crate) cache_outage: bool,
    pub(crate) markable_minimal_response: bool,
    pub(crate) latency: BTreeMap<Endpoint, Duration>,
}

#[derive(Debug)]
pub(crate) struct Client {
    pub(crate) spec: ClientSpec,
    pub(crate) revoked: bool,
}

#[derive(Debug)]
pub(crate) struct TokenRecord {
    pub(crate) scheme: Scheme,
    pub(crate) client_id: String,
    pub(crate) scopes: Vec<String>,
    pub(crate) expires_at: Instant,
}

pub(crate) struct State {
    pub(crate) rng: Rng,
    pub(crate) settings: Settings,
    pub(crate) clients: HashMap<(Scheme, String), Client>,
    pub(crate) tokens: HashMap<String, TokenRecord>,
    /// Openverse application names already taken.
    pub(crate) app_names: Vec<String>,
    /// Openverse verification code → client id.
    pub(crate) codes: HashMap<String, String>,
    pub(crate) outbox: Vec<Email>,
    /// Throttle histories by cache key (`<scope>:<ip or client id>`).
    pub(crate) buckets: Buckets,
    /// Markable catalog names taken, by client id.
    pub(crate) catalogs: HashSet<(String, String)>,
    pub(crate) counters: Counters,
    pub(crate) faults: FaultBook,
    /// `jti`s of accepted client assertions, as (client id, jti): kept while
    /// an assertion carrying the id could still be accepted, so a replay is
    /// refused.
    seen_jtis: HashSet<(String, String)>,
    /// The same ids ordered by `exp`, so forgetting the stale ones costs
    /// only what is forgotten.
    jti_expiry: BTreeSet<(i64, String, String)>,
    in_flight: BTreeMap<Scheme, u64>,
}

/// Counts only: the state holds issued tokens, verification codes and the
/// generator they come from, none of which may reach a log.
impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("clients", &self.clients.len())
            .field("tokens", &self.tokens.len())
            .field("codes", &self.codes.len())
            .field("outbox", &self.outbox.len())
            .finish_non_exhaustive()
    }
}

/// State shared by the server tasks and every control handle.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) base_url: String,
    pub(crate) addr: SocketAddr,
    /// The Markable API listener's base URL and address.
    pub(crate) markable_api_base_url: String,
    pub(crate) markable_api_addr: SocketAddr,
    /// Fixed at start: the routes depend on it.
    pub(crate) flavour: OpenverseFlavour,
    state: Mutex<State>,
}

fn base_url_of(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) => format!("http://{}:{}", a.ip(), a.port()),
        SocketAddr::V6(a) => format!("http://[{}]:{}", a.ip(), a.port()),
    }
}

impl Shared {
    pub(crate) fn new(config: &EmulatorConfig, addr: SocketAddr, api_addr: SocketAddr) -> Self {
        let base_url = base_url_of(addr);
        let mut clients = HashMap::new();
        for spec in config.initial_clients() {
            clients.insert(
                (spec.scheme, spec.client_id.clone()),
                Client {
                    spec,
                    revoked: false,
                },
            );
        }
        let state = State {
            rng: Rng::new(config.seed),
            settings: Settings {
                lifetimes: config.lifetimes,
                throttles: config.throttles,
                oauth2_methods: config.oauth2_methods,
                oauth2_variety: config.oauth2_variety,
                discovery: config.discovery,
                cache_outage: false,
                markable_minimal_response: config.markable_minimal_response,
                latency: config.latency.clone(),
            },
            clients,
            tokens: HashMap::new(),
            app_names: Vec::new(),
            codes: HashMap::new(),
            outbox: Vec::new(),
            buckets: Buckets::default(),
            catalogs: HashSet::new(),
            counters: Counters::default(),
            faults: FaultBook::default(),
            seen_jtis: HashSet::new(),
            jti_expiry: BTreeSet::new(),
            in_flight: BTreeMap::new(),
        };
        Shared {
            base_url,
            addr,
            markable_api_base_url: base_url_of(api_addr),
            markable_api_addr: api_addr,
            flavour: config.flavour,
            state: Mutex::new(state),
        }
    }

    /// Locks the state. A panic while holding the lock cannot leave it
    /// half-updated in a way that matters for an emulator, so a poisoned
    /// lock is simply taken over rather than propagated as a panic.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Books a request and decides its faults and latency.
    pub(crate) fn begin(&self, endpoint: Endpoint) -> (Decision, Duration) {
        let mut st = self.lock();
        *st.counters.requests.entry(endpoint).or_insert(0) += 1;
        if let Some(scheme) = endpoint.token_scheme() {
            st.counters.token_requests.entry(scheme).or_default().total += 1;
            st.counters.token_requests_total += 1;
            let now_scheme = {
                let n = st.in_flight.entry(scheme).or_insert(0);
                *n += 1;
                *n
            };
            let now_total: u64 = st.in_flight.values().sum();
            let c = st.counters.token_requests.entry(scheme).or_default();
            c.max_in_flight = c.max_in_flight.max(now_scheme);
            st.counters.max_token_in_flight = st.counters.max_token_in_flight.max(now_total);
        }
        let decision = st.faults.decide(endpoint);
        if decision.is_faulted() {
            st.counters.faults_injected += 1;
        }
        let latency = st
            .settings
            .latency
            .get(&endpoint)
            .copied()
            .unwrap_or_default();
        (decision, latency)
    }

    pub(crate) fn end_in_flight(&self, scheme: Scheme) {
        let mut st = self.lock();
        if let Some(n) = st.in_flight.get_mut(&scheme) {
            *n = n.saturating_sub(1);
        }
    }
}

impl State {
    pub(crate) fn count_rejected(&mut self) {
        self.counters.rejected += 1;
    }

    pub(crate) fn count_client_token_request(&mut self, scheme: Scheme, client_id: &str) {
        let c = self.counters.token_requests.entry(scheme).or_default();
        // Only ids of known clients get their own entry, so a flood of
        // made-up ids cannot grow the map without bound.
        let key = if self.clients.contains_key(&(scheme, client_id.to_owned())) {
            client_id.to_owned()
        } else {
            "<unknown>".to_owned()
        };
        *c.per_client.entry(key).or_insert(0) += 1;
    }

    /// The client with this id if its secret matches. A client with a
    /// registered key (or no secret) never authenticates by secret.
    pub(crate) fn authenticate(
        &self,
        scheme: Scheme,
        client_id: &str,
        secret: &str,
    ) -> Option<&Client> {
        let client = self.clients.get(&(scheme, client_id.to_owned()))?;
        if client.spec.public_jwk.is_some() || client.spec.client_secret.is_empty() {
            return None;
        }
        let expected = client.spec.client_secret.as_bytes();
        // Constant-time in spirit: an emulator has nothing to protect, but
        // it should not teach clients to rely on timing either way.
        let same = expected.len() == secret.len()
            && expected
                .iter()
                .zip(secret.as_bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        same.then_some(client)
    }

    /// Stores and returns a fresh token.
    pub(crate) fn issue_token(
        &mut self,
        scheme: Scheme,
        client_id: &str,
        scopes: Vec<String>,
        len: usize,
    ) -> (String, Duration) {
        let now = Instant::now();
        if self.tokens.len() > 50_000 {
            // Benchmarks may issue many tokens; forgetting expired ones
            // changes nothing observable (unknown and expired both get 401).
            self.tokens.retain(|_, t| t.expires_at > now);
        }
        let lifetime = self.settings.lifetimes.get(scheme);
        let token = self.rng.alphanumeric(len);
        self.tokens.insert(
            token.clone(),
            TokenRecord {
                scheme,
                client_id: client_id.to_owned(),
                scopes,
                expires_at: far_or(now.checked_add(lifetime), now),
            },
        );
        self.counters
            .token_requests
            .entry(scheme)
            .or_default()
            .issued += 1;
        (token, lifetime)
    }

    /// Looks up a bearer token of a scheme.
    pub(crate) fn bearer(&self, scheme: Scheme, token: &str) -> BearerCheck<'_> {
        let Some(record) = self.tokens.get(token).filter(|t| t.scheme == scheme) else {
            return BearerCheck::Unknown;
        };
        if Instant::now() >= record.expires_at {
            return BearerCheck::Expired;
        }
        match self.clients.get(&(scheme, record.client_id.clone())) {
            None => BearerCheck::Unknown,
            Some(c) if c.revoked => BearerCheck::Revoked,
            Some(c) => BearerCheck::Valid(record, c),
        }
    }

    /// Records the `jti` of an accepted assertion; false if the client
    /// already used it (a replay, RFC 7523 §3 item 7). Ids whose assertions
    /// can no longer be accepted (`exp` plus the leeway is past) are
    /// forgotten first.
    pub(crate) fn remember_jti(&mut self, client_id: &str, jti: &str, exp: i64, now: i64) -> bool {
        let leeway = crate::jwt::LEEWAY_SECS;
        while let Some(first) = self.jti_expiry.first() {
            if first.0.saturating_add(leeway) > now {
                break;
            }
            if let Some((_, id, jti)) = self.jti_expiry.pop_first() {
                self.seen_jtis.remove(&(id, jti));
            }
        }
        let key = (client_id.to_owned(), jti.to_owned());
        if self.seen_jtis.contains(&key) {
            return false;
        }
        self.jti_expiry
            .insert((exp, client_id.to_owned(), jti.to_owned()));
        self.seen_jtis.insert(key);
        true
    }

    pub(crate) fn reset_rate_limits(&mut self) {
        self.buckets.clear();
    }
}

/// The verdict on a bearer token.
pub(crate) enum BearerCheck<'a> {
    Unknown,
    Expired,
    Revoked,
    Valid(&'a TokenRecord, &'a Client),
}

/// Wall-clock time `lifetime` from now, for `expires_at` fields.
pub(crate) fn wall_clock_after(lifetime: Duration) -> SystemTime {
    let now = SystemTime::now();
    now.checked_add(lifetime)
        .or_else(|| now.checked_add(CENTURY))
        .unwrap_or(now)
}

/// Stands in for "never" when a configured lifetime is too large to add.
const CENTURY: Duration = Duration::from_secs(100 * 365 * 86_400);

/// `sum` if it did not overflow, else a century after `base` (or `base`
/// itself on a platform where even that overflows).
fn far_or(sum: Option<Instant>, base: Instant) -> Instant {
    sum.or_else(|| base.checked_add(CENTURY)).unwrap_or(base)
}
