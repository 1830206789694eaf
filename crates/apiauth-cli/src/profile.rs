//! Profiles: a provider, a client and its secret, in
//! `<config>/profiles/<name>.json` (mode 0600, directory 0700). The profile
//! file is the only file that ever holds a client secret.
//!
//! ```json
//! {
//!   "provider": "oauth2",
//!   "token_url": "https://auth.example.com/token",
//!   "auth": "basic",
//!   "scopes": ["read"],
//!   "client_id": "my-client",
//!   "client_secret": "…"
//! }
//! ```
//!
//! Openverse and Markable profiles carry `base_url` instead of `token_url`
//! and `auth`; a Markable profile's `scopes` is `["default"]` or `["search"]`.
//! An OAuth 2.0 profile that signs with a key has `"auth": "private_key_jwt"`
//! and `"private_key": "/path/to/key.pem"` instead of a secret (the key
//! stays in its own file, read at each use); one set up by discovery also
//! records the `issuer` its token URL came from.
//! A profile sharing tokens through Redis has `"cache": "redis://…"` (its
//! password, if any, is kept here like the secret and never shown).

use std::fmt;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use auth_core::provider::markable::MARKABLE_BASE;
use auth_core::provider::openverse::{Routes, CC_CATALOG_BASE, OPENVERSE_BASE};
use auth_core::{
    ClientAuth, ClientCredentials, ClientSecret, Markable, MarkableScope, OAuth2, Openverse,
    PrivateKey, Provider, Scopes,
};
use serde::{Deserialize, Serialize};

use crate::cli::{AuthArg, EndpointArgs, ProviderArg};
use crate::failure::{from_core, from_store, Context, Failure};

/// The directory under the config directory that holds profiles.
const PROFILES_DIR: &str = "profiles";
/// Longest profile name; names become file names.
const MAX_NAME: usize = 64;

/// A provider dialect as a profile file names it. `cc-catalog` is the
/// Openverse dialect on the legacy server's routes (the seed's, without
/// trailing slashes); a profile written before it existed says `openverse`
/// with the CC Catalog base URL and keeps the slash routes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Kind {
    Oauth2,
    Openverse,
    #[serde(rename = "cc-catalog")]
    CcCatalog,
    Markable,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Oauth2 => "oauth2",
            Kind::Openverse => "openverse",
            Kind::CcCatalog => "cc-catalog",
            Kind::Markable => "markable",
        }
    }

    /// Openverse or CC Catalog: self-registration and key status.
    pub fn is_openverse(self) -> bool {
        matches!(self, Kind::Openverse | Kind::CcCatalog)
    }
}

/// OAuth 2.0 client authentication as a profile file names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Auth {
    Basic,
    Post,
    #[serde(rename = "private_key_jwt")]
    PrivateKeyJwt,
}

impl Auth {
    /// What the core calls it.
    pub fn client_auth(self) -> ClientAuth {
        match self {
            Auth::Basic => ClientAuth::Basic,
            Auth::Post => ClientAuth::Post,
            Auth::PrivateKeyJwt => ClientAuth::PrivateKeyJwt,
        }
    }

    fn from_client_auth(a: ClientAuth) -> Self {
        match a {
            ClientAuth::Basic => Auth::Basic,
            ClientAuth::Post => Auth::Post,
            ClientAuth::PrivateKeyJwt => Auth::PrivateKeyJwt,
        }
    }
}

impl From<AuthArg> for Auth {
    fn from(a: AuthArg) -> Self {
        match a {
            AuthArg::Basic => Auth::Basic,
            AuthArg::Post => Auth::Post,
        }
    }
}

/// One profile file. `Debug` shows the secret as `[redacted]`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Profile {
    pub provider: Kind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<Auth>,
    #[serde(default)]
    pub scopes: Vec<String>,
    pub client_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "exposed")]
    pub client_secret: Option<ClientSecret>,
    /// The private key file of a `private_key_jwt` client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key: Option<PathBuf>,
    /// The issuer the token URL was discovered from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// A Redis URL to share tokens through instead of the file cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<String>,
    /// OAuth 2.0 RFC 8707 `resource` parameters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource: Vec<String>,
    /// OAuth 2.0 `audience` parameter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
}

impl Profile {
    /// A profile from command-line flags, checked: the URL flags fit the
    /// provider, the URL is https (or http to loopback), the scopes suit it.
    /// `client_secret` is `None` with `--private-key`. With `--issuer` the
    /// issuer's metadata is fetched here (the one request this makes).
    pub fn from_flags(
        endpoint: &EndpointArgs,
        scopes: &[String],
        client_id: String,
        client_secret: Option<ClientSecret>,
    ) -> Result<Profile, Failure> {
        let Some(provider) = endpoint.provider else {
            return Err(Failure::usage("--provider is required")
                .hint("one of oauth2, openverse, cc-catalog, markable"));
        };
        let kind = match provider {
            ProviderArg::Oauth2 => Kind::Oauth2,
            ProviderArg::Openverse => Kind::Openverse,
            ProviderArg::CcCatalog => Kind::CcCatalog,
            ProviderArg::Markable => Kind::Markable,
        };
        if kind != Kind::Oauth2 {
            if endpoint.token_url.is_some() {
                return Err(Failure::usage(format!(
                    "--token-url is for oauth2; {} takes --base-url",
                    kind.as_str()
                ))
                .hint("the token path under the base URL is fixed by the provider"));
            }
            if endpoint.auth.is_some() {
                return Err(Failure::usage(format!(
                    "--auth is for oauth2; {} has one way to send the secret",
                    kind.as_str()
                )));
            }
            if !endpoint.resource.is_empty() || endpoint.audience.is_some() {
                return Err(Failure::usage(format!(
                    "--resource and --audience are for oauth2; {} does not take them",
                    kind.as_str()
                )));
            }
            if endpoint.issuer.is_some() || endpoint.private_key.is_some() {
                return Err(Failure::usage(format!(
                    "--issuer and --private-key are for oauth2; {} takes a client secret at fixed URLs",
                    kind.as_str()
                )));
            }
        }
        let private_key = match &endpoint.private_key {
            Some(path) => Some(key_path(path)?),
            None => None,
        };
        let signs = private_key.is_some();
        let (token_url, base_url, auth) = match provider {
            ProviderArg::Oauth2 if endpoint.issuer.is_some() => {
                let issuer = endpoint.issuer.as_deref().unwrap_or_default();
                let (url, auth) =
                    discover(issuer, &client_id, private_key.as_deref(), endpoint.auth)?;
                (Some(url), None, Some(auth))
            }
            ProviderArg::Oauth2 => {
                let Some(url) = endpoint.token_url.clone() else {
                    return Err(Failure::usage("--provider oauth2 needs --token-url or --issuer")
                        .hint("the full URL of the token endpoint, e.g. https://auth.example.com/oauth2/token"));
                };
                if endpoint.base_url.is_some() {
                    return Err(Failure::usage(
                        "--base-url is not for oauth2; use --token-url",
                    ));
                }
                let auth = if signs {
                    Auth::PrivateKeyJwt
                } else {
                    endpoint.auth.map_or(Auth::Basic, Auth::from)
                };
                (Some(url), None, Some(auth))
            }
            ProviderArg::Openverse => (None, Some(base_or(endpoint, OPENVERSE_BASE)), None),
            ProviderArg::CcCatalog => (None, Some(base_or(endpoint, CC_CATALOG_BASE)), None),
            ProviderArg::Markable => (None, Some(base_or(endpoint, MARKABLE_BASE)), None),
        };
        let mut scopes = parse_scopes(scopes)?;
        if kind == Kind::Markable && scopes.is_empty() {
            scopes = Scopes::from(MarkableScope::Default);
        }
        let profile = Profile {
            provider: kind,
            token_url,
            base_url,
            auth,
            scopes: scopes.iter().map(|s| s.as_str().to_owned()).collect(),
            client_id,
            client_secret: if signs { None } else { client_secret },
            private_key,
            issuer: endpoint.issuer.clone(),
            cache: None,
            resource: endpoint.resource.clone(),
            audience: endpoint.audience.clone(),
        };
        profile.check()?;
        Ok(profile)
    }

    /// Everything a later command will need, checked now so a broken
    /// profile is refused when it is written, not when a script runs.
    pub fn check(&self) -> Result<(), Failure> {
        let cx = Context::default();
        let provider = self.provider().map_err(|e| from_core(&e, &cx))?;
        let scopes = self.scopes()?;
        provider
            .check_scopes(&scopes)
            .map_err(|e| from_core(&e, &cx))?;
        self.credentials().map_err(|e| from_core(&e, &cx))?;
        if let Some(url) = &self.cache {
            crate::target::redis_config(url)?;
        }
        Ok(())
    }

    /// The provider dialect and endpoint.
    pub fn provider(&self) -> Result<Provider, auth_core::Error> {
        let missing = |field: &str| {
            auth_core::Error::InvalidConfig(format!(
                "a {} profile needs `{field}`",
                self.provider.as_str()
            ))
        };
        Ok(match self.provider {
            Kind::Oauth2 => {
                let url = self
                    .token_url
                    .as_deref()
                    .ok_or_else(|| missing("token_url"))?;
                let auth = self.auth.unwrap_or(Auth::Basic).client_auth();
                let mut p = OAuth2::new(url, auth)?;
                for r in &self.resource {
                    p = p.with_resource(r)?;
                }
                if let Some(a) = &self.audience {
                    p = p.with_audience(a)?;
                }
                p.into()
            }
            Kind::Openverse => {
                Openverse::with_base(self.base_url.as_deref().unwrap_or(OPENVERSE_BASE))?.into()
            }
            Kind::CcCatalog => Openverse::with_routes(
                self.base_url.as_deref().unwrap_or(CC_CATALOG_BASE),
                Routes::CcCatalog,
            )?
            .into(),
            Kind::Markable => {
                Markable::with_base(self.base_url.as_deref().unwrap_or(MARKABLE_BASE))?.into()
            }
        })
    }

    /// The scopes as a set.
    pub fn scopes(&self) -> Result<Scopes, Failure> {
        parse_scopes(&self.scopes)
    }

    /// The client credentials: the secret, or the private key read from
    /// its file.
    pub fn credentials(&self) -> Result<ClientCredentials, auth_core::Error> {
        match (&self.private_key, &self.client_secret) {
            (Some(path), _) => {
                ClientCredentials::with_private_key(self.client_id.clone(), read_key(path)?)
            }
            (None, Some(secret)) => ClientCredentials::new(self.client_id.clone(), secret.clone()),
            (None, None) => Err(auth_core::Error::InvalidConfig(
                "the profile has neither a client_secret nor a private_key; add it again with \
                 `apiauth profile add --force`"
                    .into(),
            )),
        }
    }

    /// The URL tokens come from, for display.
    pub fn endpoint(&self) -> String {
        match self.provider() {
            Ok(p) => p.token_url().to_string(),
            Err(_) => self
                .token_url
                .clone()
                .or_else(|| self.base_url.clone())
                .unwrap_or_default(),
        }
    }

    /// The profile as JSON for `profile show --json`: the secret redacted.
    pub fn public_json(&self) -> serde_json::Value {
        let mut v = serde_json::json!({
            "provider": self.provider.as_str(),
            "scopes": self.scopes,
            "client_id": self.client_id,
            "client_secret": "[redacted]",
        });
        if let Some(map) = v.as_object_mut() {
            if let Some(u) = &self.token_url {
                map.insert("token_url".into(), u.clone().into());
            }
            if let Some(u) = &self.base_url {
                map.insert("base_url".into(), u.clone().into());
            }
            if let Some(url) = &self.cache {
                let shown = crate::target::shown_cache_url(url);
                map.insert("cache".into(), shown.into());
            }
            if let Some(a) = self.auth {
                let name = match a {
                    Auth::Basic => "basic",
                    Auth::Post => "post",
                    Auth::PrivateKeyJwt => "private_key_jwt",
                };
                map.insert("auth".into(), name.into());
            }
            if let Some(path) = &self.private_key {
                map.insert("private_key".into(), path.display().to_string().into());
                map.remove("client_secret");
            }
            if let Some(issuer) = &self.issuer {
                map.insert("issuer".into(), issuer.clone().into());
            }
        }
        v
    }

    /// Encodes the profile for its file.
    fn to_json(&self) -> Result<Vec<u8>, Failure> {
        let mut bytes = serde_json::to_vec_pretty(self).map_err(|e| {
            Failure::new(
                crate::exit::OTHER,
                format!("could not encode the profile: {e}"),
            )
        })?;
        bytes.push(b'\n');
        Ok(bytes)
    }
}

fn base_or(endpoint: &EndpointArgs, preset: &str) -> String {
    endpoint
        .base_url
        .clone()
        .unwrap_or_else(|| preset.to_owned())
        .trim_end_matches('/')
        .to_owned()
}

/// Scope flags: each value may hold several space-separated scopes.
pub(crate) fn parse_scopes(values: &[String]) -> Result<Scopes, Failure> {
    Scopes::from_tokens(values.iter().flat_map(|v| v.split_whitespace()))
        .map_err(|e| from_core(&e, &Context::default()))
}

/// Refuses names that are not plain file names: a name becomes
/// `profiles/<name>.json`, so a separator or `..` would escape the directory.
pub(crate) fn check_name(name: &str) -> Result<(), Failure> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    let valid = !name.is_empty()
        && name.len() <= MAX_NAME
        && name.chars().all(ok_char)
        && !name.starts_with(['.', '-']);
    if valid {
        Ok(())
    } else {
        Err(Failure::usage(format!(
            "invalid profile name `{}`",
            name.escape_default()
        ))
        .hint(format!(
            "use up to {MAX_NAME} letters, digits, `-`, `_` and `.`, starting with a letter or digit"
        )))
    }
}

/// The profile directory of a config directory.
#[derive(Clone, Debug)]
pub(crate) struct Profiles {
    config: PathBuf,
    dir: PathBuf,
}

impl Profiles {
    pub fn new(config: &Path) -> Self {
        Self {
            config: config.to_path_buf(),
            dir: config.join(PROFILES_DIR),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.json"))
    }

    pub fn exists(&self, name: &str) -> bool {
        fs::symlink_metadata(self.path(name)).is_ok()
    }

    /// Reads a profile. Missing, too-open and malformed files are
    /// configuration errors with a hint that says what to do.
    pub fn load(&self, name: &str) -> Result<Profile, Failure> {
        check_name(name)?;
        let path = self.path(name);
        let bytes = auth_store::read_private(&path)
            .map_err(|e| from_store(&e))?
            .ok_or_else(|| {
                Failure::usage(format!("no profile named `{name}` ({})", path.display())).hint(
                    format!(
                        "create it with `apiauth profile add {name} --provider … --client-id …`, \
                         or see `apiauth profile list`"
                    ),
                )
            })?;
        parse(&bytes).map_err(|reason| {
            Failure::usage(format!(
                "profile `{name}` ({}) is malformed: {reason}",
                path.display()
            ))
            .hint(format!(
                "fix the file, or write it again with `apiauth profile add {name} --force …`"
            ))
        })
    }

    /// Writes a profile: 0700 directories, a 0600 file, an atomic replace.
    pub fn save(&self, name: &str, profile: &Profile) -> Result<PathBuf, Failure> {
        check_name(name)?;
        auth_store::ensure_private_dir(&self.config).map_err(|e| from_store(&e))?;
        auth_store::ensure_private_dir(&self.dir).map_err(|e| from_store(&e))?;
        let path = self.path(name);
        auth_store::write_private(&path, &profile.to_json()?).map_err(|e| from_store(&e))?;
        Ok(path)
    }

    /// The configuration directory the profiles live in.
    pub fn config(&self) -> &Path {
        &self.config
    }

    /// Creates the profiles directory (0700) if missing.
    pub fn ensure_dir(&self) -> Result<(), String> {
        auth_store::ensure_private_dir(&self.config).map_err(|e| e.to_string())?;
        auth_store::ensure_private_dir(&self.dir).map_err(|e| e.to_string())
    }

    /// Deletes a profile; `false` if there was none.
    pub fn remove(&self, name: &str) -> Result<bool, Failure> {
        check_name(name)?;
        let existed = self.exists(name);
        auth_store::remove(&self.path(name)).map_err(|e| from_store(&e))?;
        Ok(existed)
    }

    /// Names of every profile, sorted.
    pub fn names(&self) -> Result<Vec<String>, Failure> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(Failure::new(
                    crate::exit::OTHER,
                    format!("reading {}: {e}", self.dir.display()),
                ))
            }
        };
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let stem = name.strip_suffix(".json")?.to_owned();
                check_name(&stem).ok().map(|()| stem)
            })
            .collect();
        names.sort();
        Ok(names)
    }
}

/// Parses a profile file. The reason never holds the secret: serde names
/// values in some messages, so the secret is cut out if it appears.
fn parse(bytes: &[u8]) -> Result<Profile, String> {
    serde_json::from_slice::<Profile>(bytes).map_err(|e| {
        let secret = serde_json::from_slice::<serde_json::Value>(bytes)
            .ok()
            .and_then(|v| v.get("client_secret")?.as_str().map(str::to_owned))
            .filter(|s| !s.is_empty());
        let message = e.to_string();
        match secret {
            Some(s) => message.replace(&s, "[redacted]"),
            None => message,
        }
    })
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The secret goes into the profile file as is: that file is its one home.
mod exposed {
    use auth_core::ClientSecret;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(
        secret: &Option<ClientSecret>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match secret {
            Some(secret) => s.serialize_str(secret.expose_secret()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<ClientSecret>, D::Error> {
        Option::<String>::deserialize(d).map(|s| s.map(ClientSecret::new))
    }
}

/// The key file's path as the profile keeps it: absolute, so the profile
/// works from any directory. The file must exist and hold a usable key.
fn key_path(path: &Path) -> Result<PathBuf, Failure> {
    let absolute = std::path::absolute(path).map_err(|e| {
        Failure::usage(format!(
            "cannot resolve the key path {}: {e}",
            path.display()
        ))
    })?;
    read_key(&absolute).map_err(|e| from_core(&e, &Context::default()))?;
    warn_if_readable_by_others(&absolute);
    Ok(absolute)
}

/// Reads a private key file: a JWK (it starts with `{`) or PEM. Errors name
/// the file, never its contents.
pub(crate) fn read_key(path: &Path) -> Result<PrivateKey, auth_core::Error> {
    let text = zeroize::Zeroizing::new(fs::read_to_string(path).map_err(|e| {
        auth_core::Error::InvalidConfig(format!(
            "cannot read the private key file {}: {e}",
            path.display()
        ))
    })?);
    let parsed = if text.trim_start().starts_with('{') {
        PrivateKey::from_jwk(&text)
    } else {
        PrivateKey::from_pem(&text)
    };
    parsed.map_err(|e| {
        auth_core::Error::InvalidConfig(format!("the private key file {}: {e}", path.display()))
    })
}

/// ssh refuses such keys; a warning is enough here, the file is the user's.
fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if let Ok(meta) = fs::metadata(path) {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                eprintln!(
                    "warning: {} can be read by other users (mode {mode:o}); `chmod 600` it",
                    path.display()
                );
            }
        }
    }
}

/// The token URL and method from `issuer`'s metadata, for these
/// credentials: a key signs (`private_key_jwt` must be listed), a secret
/// takes `--auth` if given (and listed), else basic, else post.
fn discover(
    issuer: &str,
    client_id: &str,
    private_key: Option<&Path>,
    asked: Option<AuthArg>,
) -> Result<(String, Auth), Failure> {
    let cx = Context {
        profile: None,
        endpoint: Some(auth_core::redact::sanitize(issuer)),
    };
    let metadata = auth_ureq::discover(issuer).map_err(|e| crate::failure::from_ureq(&e, &cx))?;
    let auth = match (private_key, asked) {
        (None, Some(a)) => {
            let a = Auth::from(a);
            let name = a.client_auth().as_str();
            if !metadata.lists(a.client_auth()) {
                return Err(Failure::usage(format!(
                    "--auth {name}: the issuer's metadata does not list it (it lists {})",
                    auth_core::redact::sanitize(&metadata.token_endpoint_auth_methods().join(", "))
                ))
                .hint("leave --auth out to let apiauth pick"));
            }
            a
        }
        _ => {
            let probe = match private_key {
                Some(path) => ClientCredentials::with_private_key(
                    client_id,
                    read_key(path).map_err(|e| from_core(&e, &cx))?,
                ),
                // Only the kind of credentials matters for the choice.
                None => ClientCredentials::new(client_id, "probe"),
            }
            .map_err(|e| from_core(&e, &cx))?;
            let method = metadata
                .auth_method_for(&probe)
                .map_err(|e| from_core(&e, &cx))?;
            Auth::from_client_auth(method)
        }
    };
    Ok((metadata.token_endpoint().to_owned(), auth))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_escape_the_directory() {
        for bad in [
            "", "../x", "a/b", "a\\b", ".hidden", "-x", "a b", "é", "x\n",
        ] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        for good in ["default", "ci", "my-app_2", "prod.eu"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        assert!(check_name(&"a".repeat(65)).is_err());
    }

    #[test]
    fn parse_errors_never_echo_the_secret() {
        let text = br#"{"provider":"oauth2","client_id":"id","client_secret":"s3cr3t-value","scopes":"s3cr3t-value"}"#;
        let e = parse(text).unwrap_err();
        assert!(!e.contains("s3cr3t-value"), "{e}");
        let debug = format!(
            "{:?}",
            parse(br#"{"provider":"oauth2","token_url":"https://a.example/t","client_id":"id","client_secret":"s3cr3t-value"}"#).unwrap()
        );
        assert!(!debug.contains("s3cr3t-value"), "{debug}");
    }

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../auth-core/tests/fixtures")
            .join(name)
    }

    #[test]
    fn a_private_key_profile_keeps_the_path_and_no_secret() {
        for (file, alg) in [("p256.pkcs8.pem", "ES256"), ("rsa2048.jwk.json", "RS256")] {
            let flags = EndpointArgs {
                provider: Some(ProviderArg::Oauth2),
                token_url: Some("https://auth.example.com/token".into()),
                private_key: Some(fixture(file)),
                ..EndpointArgs::default()
            };
            // A secret given anyway is not kept: the key authenticates.
            let p = Profile::from_flags(&flags, &[], "id".into(), Some("unused".into())).unwrap();
            assert_eq!(p.auth, Some(Auth::PrivateKeyJwt));
            assert!(p.client_secret.is_none());
            assert!(p.private_key.as_ref().unwrap().is_absolute());
            let json = String::from_utf8(p.to_json().unwrap()).unwrap();
            assert!(json.contains(r#""auth": "private_key_jwt""#), "{json}");
            assert!(!json.contains("client_secret"), "{json}");
            assert!(
                !json.contains("PRIVATE KEY") && !json.contains(r#""d""#),
                "{json}"
            );
            let back = parse(json.as_bytes()).unwrap();
            let creds = back.credentials().unwrap();
            assert_eq!(creds.private_key().unwrap().algorithm(), alg);
            assert!(back.provider().is_ok());
        }
    }

    #[test]
    fn a_bad_key_file_is_named_and_never_quoted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.pem");
        std::fs::write(
            &path,
            "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1ieXRlcw==\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        let flags = EndpointArgs {
            provider: Some(ProviderArg::Oauth2),
            token_url: Some("https://auth.example.com/token".into()),
            private_key: Some(path.clone()),
            ..EndpointArgs::default()
        };
        let e = Profile::from_flags(&flags, &[], "id".into(), None).unwrap_err();
        let text = format!("{e:?}");
        assert!(text.contains("key.pem"), "{text}");
        assert!(!text.contains("c2VjcmV0"), "{text}");
        let flags = EndpointArgs {
            private_key: Some(dir.path().join("missing.pem")),
            ..flags
        };
        let e = Profile::from_flags(&flags, &[], "id".into(), None).unwrap_err();
        assert!(format!("{e:?}").contains("missing.pem"));
        // Keys are for OAuth 2.0 only.
        let flags = EndpointArgs {
            provider: Some(ProviderArg::Openverse),
            private_key: Some(fixture("p256.pkcs8.pem")),
            ..EndpointArgs::default()
        };
        assert!(Profile::from_flags(&flags, &[], "id".into(), None).is_err());
    }

    #[test]
    fn flags_become_a_checked_profile() {
        let flags = EndpointArgs {
            provider: Some(ProviderArg::CcCatalog),
            ..EndpointArgs::default()
        };
        let p = Profile::from_flags(&flags, &[], "id".into(), Some("s".into())).unwrap();
        assert_eq!(p.base_url.as_deref(), Some(CC_CATALOG_BASE));
        assert_eq!(p.provider, Kind::CcCatalog);
        let key_status = p.provider().unwrap();
        let auth_core::Provider::Openverse(o) = key_status else {
            panic!("the Openverse dialect")
        };
        assert!(
            o.key_status_url().path().ends_with("/v1/rate_limit"),
            "the seed's route, without the slash: {}",
            o.key_status_url()
        );

        let flags = EndpointArgs {
            provider: Some(ProviderArg::Markable),
            ..EndpointArgs::default()
        };
        let p = Profile::from_flags(&flags, &[], "id".into(), Some("s".into())).unwrap();
        assert_eq!(p.scopes, ["default"]);
        assert!(Profile::from_flags(
            &flags,
            &["default search".into()],
            "id".into(),
            Some("s".into())
        )
        .is_err());

        let flags = EndpointArgs {
            provider: Some(ProviderArg::Oauth2),
            token_url: Some("http://auth.example.com/token".into()),
            ..EndpointArgs::default()
        };
        let e = Profile::from_flags(&flags, &[], "id".into(), Some("s".into())).unwrap_err();
        assert_eq!(e.code, crate::exit::USAGE);
    }
}
