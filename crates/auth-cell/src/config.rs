//! The builder checks both drivers share: one place decides what a valid
//! configuration is and what the defaults are.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use auth_core::{
    ClientCredentials, FingerprintKey, MarkableScope, Provider, RefreshPolicy, RejectionPolicy,
    Scopes, TokenSource,
};

use crate::cell::TokenCell;
use crate::clock::{Clock, SystemClock};
use crate::Error;

/// Default connect timeout of every request.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default total timeout of one request, body included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default cap on a token-endpoint (and registration, key status) body.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;
/// Default cap on an API body read by the blocking driver's `send`.
pub const DEFAULT_MAX_API_BODY_BYTES: usize = 10 * 1024 * 1024;

/// Transport limits, the same for both drivers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Connect timeout of every request.
    pub connect_timeout: Duration,
    /// Total timeout of one request: connect, send, headers and body.
    pub timeout: Duration,
    /// Largest token-endpoint response body read.
    pub max_body_bytes: usize,
    /// Largest API response body read where the driver reads it.
    pub max_api_body_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            timeout: DEFAULT_TIMEOUT,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_api_body_bytes: DEFAULT_MAX_API_BODY_BYTES,
        }
    }
}

impl Limits {
    /// Refuses limits no request could live with.
    pub fn check(&self) -> Result<(), Error> {
        if self.connect_timeout.is_zero() || self.timeout.is_zero() {
            return Err(Error::config(
                "timeouts must be longer than zero (a zero timeout fails every request)",
            ));
        }
        if self.max_body_bytes < 1024 {
            return Err(Error::config(
                "max_body_bytes below 1 KiB cannot hold a token response; raise it",
            ));
        }
        if self.max_api_body_bytes == 0 {
            return Err(Error::config(
                "max_api_body_bytes must be at least one byte",
            ));
        }
        Ok(())
    }
}

/// What a driver's builder collects for its cell. Drivers wrap it and add
/// their transport settings; [`CellBuilder::build`] checks everything.
#[must_use]
#[derive(Clone)]
pub struct CellBuilder {
    provider: Provider,
    credentials: ClientCredentials,
    scopes: Option<Scopes>,
    policy: RefreshPolicy,
    seed: Option<u64>,
    wait_limit: Option<Duration>,
    clock: Option<Arc<dyn Clock>>,
    rejection: Option<RejectionPolicy>,
    fingerprint_key: Option<FingerprintKey>,
}

impl CellBuilder {
    /// A builder for `provider` and `credentials` with every default.
    pub fn new(provider: Provider, credentials: ClientCredentials) -> Self {
        Self {
            provider,
            credentials,
            scopes: None,
            policy: RefreshPolicy::default(),
            seed: None,
            wait_limit: None,
            clock: None,
            rejection: None,
            fingerprint_key: None,
        }
    }

    /// The scopes to ask for (default: none, the server's default;
    /// Markable: `default`).
    pub fn scopes(mut self, scopes: Scopes) -> Self {
        self.scopes = Some(scopes);
        self
    }

    /// Refresh and retry policy (default: [`RefreshPolicy::default`]).
    pub fn policy(mut self, policy: RefreshPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Seed of the refresh and backoff jitter (default: mixed from the
    /// clock, the process id and a counter, so a fleet does not refresh in
    /// lockstep). With `private_key_jwt` it also seeds the assertion ids
    /// (`jti`): processes given the same seed send the same ids, which a
    /// server with a replay cache refuses; give each process its own.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// The longest any caller waits for a token, the first one included
    /// (default: [`RefreshPolicy::max_caller_wait`] of the request timeout,
    /// room for every retry the policy allows).
    pub fn wait_limit(mut self, limit: Duration) -> Self {
        self.wait_limit = Some(limit);
        self
    }

    /// The key cache keys fingerprint the client secret under (default:
    /// the store's [`TokenStore::fingerprint_key`](crate::TokenStore::fingerprint_key),
    /// else one private to this process: see [`process_key`]).
    pub fn fingerprint_key(mut self, key: FingerprintKey) -> Self {
        self.fingerprint_key = Some(key);
        self
    }

    /// The clock every decision reads (default: the system clocks). Tests
    /// pass a [`crate::ManualClock`].
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Which API answers reject a token (default: the provider's,
    /// [`Provider::default_rejection`]).
    pub fn rejection(mut self, rejection: RejectionPolicy) -> Self {
        self.rejection = Some(rejection);
        self
    }

    /// The provider being configured.
    #[must_use]
    pub fn provider(&self) -> &Provider {
        &self.provider
    }

    /// Checks the configuration and builds the cell. `has_store` says
    /// whether the driver will carry out store steps.
    pub fn build(self, limits: &Limits, has_store: bool) -> Result<TokenCell, Error> {
        limits.check()?;
        if self.wait_limit.is_some_and(|l| l.is_zero()) {
            return Err(Error::config(
                "a zero wait limit fails every cold token request; leave it unset for the default",
            ));
        }
        let wait_limit = self
            .wait_limit
            .unwrap_or_else(|| self.policy.max_caller_wait(limits.timeout));
        let rejection = self
            .rejection
            .unwrap_or_else(|| self.provider.default_rejection());
        let machine = TokenSource::new(
            self.provider,
            self.credentials,
            self.scopes.unwrap_or_default(),
            self.policy,
            self.seed.unwrap_or_else(default_seed),
        )?;
        let clock = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let key = self.fingerprint_key.unwrap_or_else(process_key);
        Ok(TokenCell::new(
            machine, &key, clock, wait_limit, rejection, has_store,
        ))
    }

    /// Like [`build`](Self::build), for Markable's publishable `search`
    /// tokens: the provider must be Markable, and scopes other than
    /// `search` are refused rather than silently replaced.
    pub fn build_search(mut self, limits: &Limits, has_store: bool) -> Result<TokenCell, Error> {
        if !matches!(self.provider, Provider::Markable(_)) {
            return Err(Error::config(format!(
                "a search token provider needs a Markable provider, not {}",
                self.provider.kind()
            )));
        }
        let search = Scopes::from(MarkableScope::Search);
        if let Some(other) = self.scopes.as_ref().filter(|s| **s != search) {
            return Err(Error::config(format!(
                "a search token provider asks for `search` only, not `{other}`; drop the scopes setting"
            )));
        }
        self.scopes = Some(search);
        self.build(limits, has_store)
    }
}

impl std::fmt::Debug for CellBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CellBuilder")
            .field("provider", &self.provider.kind())
            .field("token_url", &self.provider.token_url())
            .field("credentials", &self.credentials)
            .field("scopes", &self.scopes)
            .field("policy", &self.policy)
            .field("wait_limit", &self.wait_limit)
            .finish_non_exhaustive()
    }
}

/// This process's fingerprint key: 32 bytes from the OS's random source,
/// drawn once. Cache keys made with it match only in this process, so a
/// store without a key of its own is never read across processes.
#[must_use]
pub fn process_key() -> FingerprintKey {
    static KEY: std::sync::OnceLock<FingerprintKey> = std::sync::OnceLock::new();
    KEY.get_or_init(|| {
        let mut bytes = [0u8; 32];
        if getrandom::getrandom(&mut bytes).is_err() {
            // No OS randomness (very rare): std's hasher keys are drawn
            // from it when it works, and differ per process otherwise.
            use std::hash::{BuildHasher, Hasher};
            for chunk in bytes.chunks_mut(8) {
                let mut h = std::collections::hash_map::RandomState::new().build_hasher();
                h.write_u64(default_seed());
                chunk.copy_from_slice(&h.finish().to_le_bytes());
            }
        }
        FingerprintKey::new(bytes)
    })
    .clone()
}

fn default_seed() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let pid = u64::from(std::process::id());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    nanos ^ pid.rotate_left(32) ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15)
}
