//! Which provider and client a command talks to — a saved profile, or
//! flags and the environment for a one-off run — and the token provider
//! built for it, with the shared cache plugged in: the file cache, or
//! Redis when the profile's `cache` (else `APIAUTH_CACHE_URL`) names one.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use auth_cell::TokenStore as _;
use auth_core::{CacheKey, Provider, RefreshPolicy, Scopes, StoredToken, Token};
use auth_redis::{EncryptionKey, RedisConfig, RedisTokenStore, CACHE_URL_ENV};
use auth_store::FileTokenStore;
use auth_ureq::{TokenProvider, TokenProviderBuilder};

use crate::cli::EndpointArgs;
use crate::failure::{from_core, from_store, from_ureq, Context, Failure};
use crate::profile::{Profile, Profiles};
use crate::secret_input::{self, CLIENT_ID_ENV, SECRET_ENV};

/// Environment variable naming the profile when `--profile` is not given.
pub(crate) const PROFILE_ENV: &str = "APIAUTH_PROFILE";

/// The profile name: `--profile`, else `$APIAUTH_PROFILE`, else `default`.
pub(crate) fn profile_name(flag: Option<&str>) -> String {
    flag.map(str::to_owned)
        .or_else(|| std::env::var(PROFILE_ENV).ok().filter(|p| !p.is_empty()))
        .unwrap_or_else(|| "default".to_owned())
}

/// The configuration directory (`$APIAUTH_CONFIG_DIR` or the platform's).
pub(crate) fn config_dir() -> Result<PathBuf, Failure> {
    auth_store::config_dir().map_err(|e| from_store(&e))
}

/// A resolved provider and client.
pub(crate) struct Target {
    /// The profile name, or `None` for a one-off run from flags.
    pub name: Option<String>,
    pub profile: Profile,
    pub profile_path: Option<PathBuf>,
    pub config: PathBuf,
}

impl Target {
    /// A profile, or — when `--provider` is given — the flags and the
    /// environment. `scopes`, when not empty, replace the profile's.
    pub fn resolve(
        profile_flag: Option<&str>,
        endpoint: &EndpointArgs,
        scopes: &[String],
    ) -> Result<Target, Failure> {
        let config = config_dir()?;
        if endpoint.provider.is_some() {
            if profile_flag.is_some() {
                return Err(Failure::usage("--profile and --provider do not mix")
                    .hint("a profile already names its provider; drop one of them"));
            }
            let client_id = endpoint
                .client_id
                .clone()
                .or_else(|| std::env::var(CLIENT_ID_ENV).ok().filter(|s| !s.is_empty()))
                .ok_or_else(|| {
                    Failure::usage("no client id given")
                        .hint(format!("pass --client-id or set {CLIENT_ID_ENV}"))
                })?;
            let secret = match &endpoint.private_key {
                Some(_) => None,
                None => Some(secret_input::from_env().ok_or_else(|| {
                    Failure::usage(format!("no client secret: {SECRET_ENV} is not set")).hint(
                        "secrets are never taken from arguments; set the variable, pass \
                         --private-key, or save a profile with `apiauth profile add`",
                    )
                })?),
            };
            let profile = Profile::from_flags(endpoint, scopes, client_id, secret)?;
            return Ok(Target {
                name: None,
                profile,
                profile_path: None,
                config,
            });
        }
        let name = profile_name(profile_flag);
        let profiles = Profiles::new(&config);
        let mut profile = profiles.load(&name)?;
        if !scopes.is_empty() {
            profile.scopes = crate::profile::parse_scopes(scopes)?
                .iter()
                .map(|s| s.as_str().to_owned())
                .collect();
        }
        Ok(Target {
            profile_path: Some(profiles.path(&name)),
            name: Some(name),
            profile,
            config,
        })
    }

    /// What error hints should name.
    pub fn context(&self) -> Context {
        Context {
            profile: self.name.clone(),
            endpoint: Some(self.profile.endpoint()),
        }
    }

    pub fn provider(&self) -> Result<Provider, Failure> {
        self.profile
            .provider()
            .map_err(|e| from_core(&e, &self.context()))
    }

    pub fn scopes(&self) -> Result<Scopes, Failure> {
        self.profile.scopes()
    }

    /// The Redis URL tokens are shared through, if any: the profile's
    /// `cache`, else `APIAUTH_CACHE_URL`.
    pub fn cache_url(&self) -> Option<String> {
        self.profile
            .cache
            .clone()
            .or_else(|| std::env::var(CACHE_URL_ENV).ok().filter(|u| !u.is_empty()))
    }

    /// The shared token cache: Redis when configured, else the file cache
    /// under the config directory.
    pub fn store(&self) -> Result<Cache, Failure> {
        match self.cache_url() {
            Some(url) => RedisTokenStore::new(redis_config(&url)?)
                .map(Cache::Redis)
                .map_err(|e| Failure::usage(e).hint("fix the cache URL or APIAUTH_CACHE_KEY")),
            None => FileTokenStore::new(&self.config)
                .map(Cache::File)
                .map_err(|e| from_store(&e)),
        }
    }

    /// A builder with the CLI's policy and the cache; no scopes set.
    pub fn builder(&self, store: &Cache) -> Result<TokenProviderBuilder, Failure> {
        let cx = self.context();
        let credentials = self.profile.credentials().map_err(|e| from_core(&e, &cx))?;
        // Every request bound cut to the command's limit (see `deadline`).
        // The wait limit keeps the watchdog's grace on top, so the request
        // this process sends always fits in it and runs on this thread: a
        // request handed to a background thread would die, unsaved, when
        // the command exits.
        let (left, _) = crate::deadline::left();
        // API calls follow no redirect: a 3xx comes back as an answer the
        // `request` command reports as the configuration error it is.
        let api: ureq::Agent = ureq::Agent::config_builder()
            .max_redirects(0)
            .http_status_as_error(false)
            .timeout_global(Some(left.min(auth_ureq::DEFAULT_TIMEOUT)))
            .timeout_connect(Some(left.min(auth_ureq::DEFAULT_CONNECT_TIMEOUT)))
            .build()
            .into();
        Ok(TokenProvider::builder(self.provider()?, credentials)
            .api_client(api)
            .policy(policy())
            .wait_limit(left + crate::deadline::GRACE)
            .timeout(left.min(auth_ureq::DEFAULT_TIMEOUT))
            .connect_timeout(left.min(auth_ureq::DEFAULT_CONNECT_TIMEOUT))
            .store(store.shared()))
    }

    /// The token provider for this target. Makes no request.
    pub fn token_provider(&self, store: &Cache) -> Result<TokenProvider, Failure> {
        self.builder(store)?
            .scopes(self.scopes()?)
            .build()
            .map_err(|e| from_ureq(&e, &self.context()))
    }
}

/// The refresh policy of a process that lives for one command.
///
/// No refresh ahead: a background refresh would die with the process, so
/// a token is used until its safety margin and then fetched on the spot.
/// A wider safety margin than a service needs, because a script takes the
/// token away and uses it for a while.
fn policy() -> RefreshPolicy {
    RefreshPolicy::default()
        .with_refresh_ahead(Duration::ZERO)
        .with_refresh_jitter(0.0)
        .with_safety_margin(Duration::from_secs(60))
}

/// A token with at least `min_valid` left when the cache can give one.
///
/// The core sizes its safety margin from the lifetime it is shown, and a
/// token restored from the cache shows only what it has left, so an old
/// cached token could be handed out seconds before it expires. A restored
/// token (the one the cache held before the call) that is too close to its
/// end is retired and one new token fetched; a token fetched just now is
/// returned whatever its lifetime, so short-lived tokens never loop.
pub(crate) fn token_with_min_valid(
    tokens: &TokenProvider,
    store: &Cache,
    min_valid: Duration,
    cx: &Context,
) -> Result<Arc<Token>, Failure> {
    let cached_before = store.peek(tokens.cell().key());
    let token = tokens.token().map_err(|e| from_ureq(&e, cx))?;
    let restored = cached_before.is_some_and(|entry| {
        entry.access_token.expose_secret() == token.access_token().expose_secret()
    });
    let now = Instant::now();
    let short = token
        .expires_at()
        .is_some_and(|at| at.saturating_duration_since(now) < min_valid);
    let token = if restored && short {
        tracing::debug!("cached token is close to its expiry; fetching a new one");
        // Retired, not invalidated: the shared cache entry is left for the
        // new token to replace, never deleted (another process may have
        // saved a fresh one meanwhile).
        tokens
            .token_valid_for(min_valid)
            .map_err(|e| from_ureq(&e, cx))?
    } else {
        token
    };
    Ok(token)
}

/// Where tokens are shared: the file cache, or Redis.
pub(crate) enum Cache {
    File(FileTokenStore),
    Redis(RedisTokenStore),
}

impl Cache {
    /// The store for the provider.
    pub fn shared(&self) -> Arc<dyn auth_cell::TokenStore> {
        match self {
            Cache::File(f) => Arc::new(f.clone()),
            Cache::Redis(r) => Arc::new(r.clone()),
        }
    }

    /// The entry for `key`, read quietly (the driver reads it again and
    /// warns if it is corrupt).
    pub fn peek(&self, key: &CacheKey) -> Option<StoredToken> {
        match self {
            Cache::File(f) => auth_store::read_private(&f.path(key))
                .ok()
                .flatten()
                .and_then(|bytes| StoredToken::from_json(&bytes).ok()),
            Cache::Redis(r) => r.load(key).ok().flatten(),
        }
    }

    /// The entry for `key`, or why it cannot be read.
    pub fn load(&self, key: &CacheKey) -> Result<Option<StoredToken>, String> {
        match self {
            Cache::File(f) => f.load(key).map_err(|e| e.to_string()),
            Cache::Redis(r) => r.load(key).map_err(|e| e.to_string()),
        }
    }

    /// Forgets the entry for `key` (best effort).
    pub fn forget(&self, key: &CacheKey) {
        match self {
            Cache::File(f) => {
                if let Err(e) = f.remove(key) {
                    tracing::warn!(error = %e, "could not remove the cached token");
                }
            }
            Cache::Redis(r) => {
                if let Ok(Some(entry)) = r.load(key) {
                    let _ = r.remove(key, &entry);
                }
            }
        }
    }
}

/// The Redis store configuration for `url`, with the encryption key from
/// `APIAUTH_CACHE_KEY` / `APIAUTH_CACHE_KEY_FILE` and the private CA from
/// `APIAUTH_CACHE_CA_FILE` when set.
pub(crate) fn redis_config(url: &str) -> Result<RedisConfig, Failure> {
    let mut config = RedisConfig::new(url).map_err(|e| {
        Failure::usage(e).hint("a cache URL looks like redis://HOST:6379/0 or rediss://HOST:6380/0")
    })?;
    if let Some(ca) = std::env::var_os(auth_redis::CACHE_CA_FILE_ENV).filter(|p| !p.is_empty()) {
        config = config
            .with_root_ca_file(std::path::Path::new(&ca))
            .map_err(|e| {
                Failure::usage(e).hint("APIAUTH_CACHE_CA_FILE names a PEM file of CA certificates")
            })?;
    }
    let key = EncryptionKey::from_env().map_err(|e| {
        Failure::usage(e).hint("make a key with `head -c 32 /dev/urandom | base64`")
    })?;
    Ok(match key {
        Some(key) => config.with_encryption_key(key),
        None => config,
    })
}

/// A cache URL as it may be shown: without its user and password.
pub(crate) fn shown_cache_url(url: &str) -> String {
    RedisConfig::new(url).map_or_else(
        |_| "(an invalid redis URL)".to_owned(),
        |c| c.display_url().to_owned(),
    )
}
