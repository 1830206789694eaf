//! The command line, as clap parses it. Help texts live here; behaviour
//! lives in `commands`.

use clap::{Args, Parser, Subcommand, ValueEnum};
use clap_complete::Shell;

use crate::exit;

/// Get, cache and renew API access tokens for scripts.
///
/// Tokens are cached across runs (one request per token lifetime, however
/// often a script asks) and shared by concurrent runs (twenty scripts
/// starting together make one request). Client secrets are read from
/// APIAUTH_CLIENT_SECRET or standard input, never from arguments, and are
/// kept only in the profile file (mode 0600).
///
/// A profile's --cache (or APIAUTH_CACHE_URL) shares tokens through Redis
/// across machines instead; APIAUTH_CACHE_KEY (32 bytes, base64) encrypts
/// them there.
#[derive(Debug, Parser)]
#[command(name = "apiauth", version, after_help = exit::HELP, propagate_version = true)]
pub(crate) struct Cli {
    /// Profile to use [default: $APIAUTH_PROFILE, else `default`]
    #[arg(
        long,
        global = true,
        value_name = "NAME",
        help_heading = "Global options"
    )]
    pub profile: Option<String>,

    /// Longest a command that talks to a server may take, retries
    /// included, in seconds (prompts are not counted)
    #[arg(
        long,
        global = true,
        value_name = "SECONDS",
        env = "APIAUTH_TIMEOUT",
        default_value_t = crate::deadline::DEFAULT_SECONDS,
        value_parser = clap::value_parser!(u64).range(1..=86_400),
        help_heading = "Global options"
    )]
    pub timeout: u64,

    /// Log each step on stderr (never secrets)
    #[arg(short, long, global = true, help_heading = "Global options")]
    pub verbose: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Register a new CC Catalog / Openverse client and save it as a profile
    Register(RegisterArgs),
    /// Add, list, show or remove profiles
    #[command(subcommand)]
    Profile(ProfileCommand),
    /// Print an access token, from the cache when one is still good
    Token(TokenArgs),
    /// Show a profile, its cached token and (Openverse) the key's standing
    Status(StatusArgs),
    /// Make an HTTP request with the token (a rejected token is renewed once)
    Request(RequestArgs),
    /// Print a Markable `search` token, the only kind that may be published
    PublishToken(PublishArgs),
    /// Print a shell completion script
    Completions {
        /// The shell to complete for
        #[arg(value_enum)]
        shell: Shell,
    },
}

/// A provider dialect as the command line names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum ProviderArg {
    /// Any RFC 6749 client-credentials server (needs --token-url)
    Oauth2,
    /// Openverse, https://api.openverse.org (--base-url to override)
    Openverse,
    /// The CC Catalog API, https://api.creativecommons.engineering (--base-url to override)
    CcCatalog,
    /// Markable Lens, https://auth.markable.ai (--base-url to override)
    Markable,
}

/// Client authentication to an OAuth 2.0 token endpoint (RFC 6749 §2.3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum AuthArg {
    /// client_secret_basic: HTTP Basic (the default)
    Basic,
    /// client_secret_post: id and secret in the form body
    Post,
}

/// Where tokens come from: a provider and client, given on the command
/// line instead of read from a profile.
#[derive(Debug, Default, Args)]
pub(crate) struct EndpointArgs {
    /// Provider dialect; outside `profile add` it means: no profile, take the
    /// client from these flags and APIAUTH_CLIENT_ID / APIAUTH_CLIENT_SECRET
    #[arg(long, value_enum)]
    pub provider: Option<ProviderArg>,

    /// OAuth 2.0 token endpoint (https, or http to loopback)
    #[arg(long, value_name = "URL", requires = "provider")]
    pub token_url: Option<String>,

    /// OAuth 2.0: find the token endpoint and a client authentication method
    /// from the issuer's metadata (RFC 8414 / OpenID Connect discovery)
    #[arg(
        long,
        value_name = "URL",
        requires = "provider",
        conflicts_with_all = ["token_url", "base_url"]
    )]
    pub issuer: Option<String>,

    /// OAuth 2.0: authenticate with private_key_jwt, signing with this key
    /// (PEM or JWK; RS256 or ES256) instead of sending a secret
    #[arg(
        long,
        value_name = "FILE",
        requires = "provider",
        conflicts_with = "auth"
    )]
    pub private_key: Option<std::path::PathBuf>,

    /// Openverse / CC Catalog / Markable base URL, overriding the preset
    #[arg(
        long,
        value_name = "URL",
        requires = "provider",
        conflicts_with = "token_url"
    )]
    pub base_url: Option<String>,

    /// OAuth 2.0 client authentication [default: basic]
    #[arg(long, value_enum, requires = "provider")]
    pub auth: Option<AuthArg>,

    /// Client id [default: $APIAUTH_CLIENT_ID]
    #[arg(long, value_name = "ID", requires = "provider")]
    pub client_id: Option<String>,

    /// OAuth 2.0: ask for a token for this API (RFC 8707 `resource`; repeat for several)
    #[arg(long, value_name = "URI", requires = "provider")]
    pub resource: Vec<String>,

    /// OAuth 2.0: ask for a token for this audience (the `audience` parameter)
    #[arg(long, value_name = "AUDIENCE", requires = "provider")]
    pub audience: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct ScopeArgs {
    /// Scope to ask for; repeat or space-separate for several (Markable: `default` or `search`)
    #[arg(long = "scope", value_name = "SCOPE")]
    pub scopes: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct RegisterArgs {
    /// Application name; must be unique on the server
    #[arg(long)]
    pub name: String,
    /// What the application does
    #[arg(long)]
    pub description: String,
    /// Where the verification link is sent
    #[arg(long)]
    pub email: String,
    /// Which deployment to register with
    #[arg(long, value_enum, default_value = "openverse")]
    pub provider: RegisterProvider,
    /// Base URL overriding the preset (https, or http to loopback)
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// Replace an existing profile of the same name
    #[arg(long)]
    pub force: bool,
}

/// The deployments that accept self-registration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum RegisterProvider {
    /// https://api.openverse.org
    Openverse,
    /// https://api.creativecommons.engineering
    CcCatalog,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ProfileCommand {
    /// Save a provider and client as a profile; the secret comes from
    /// APIAUTH_CLIENT_SECRET or standard input (a hidden prompt on a terminal)
    Add(Box<ProfileAddArgs>),
    /// List profiles
    List,
    /// Show a profile (the secret is never shown)
    Show {
        /// Profile name [default: --profile]
        name: Option<String>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Remove a profile and its cached token
    Remove {
        /// Profile name [default: --profile]
        name: Option<String>,
    },
}

#[derive(Debug, Args)]
pub(crate) struct ProfileAddArgs {
    /// Profile name [default: --profile]
    pub name: Option<String>,
    #[command(flatten)]
    pub endpoint: EndpointArgs,
    #[command(flatten)]
    pub scopes: ScopeArgs,
    /// Share tokens through Redis instead of the file cache:
    /// redis://[:PASSWORD@]HOST:PORT/DB or rediss://… [default: $APIAUTH_CACHE_URL when set]
    #[arg(long, value_name = "URL")]
    pub cache: Option<String>,
    /// Replace an existing profile of the same name
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub(crate) struct TokenArgs {
    #[command(flatten)]
    pub endpoint: EndpointArgs,
    #[command(flatten)]
    pub scopes: ScopeArgs,
    /// Print {"access_token","token_type","expires_at","scope"} as JSON
    #[arg(long)]
    pub json: bool,
    /// A cached token with less time left than this is replaced
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub min_valid: u64,
}

#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    #[command(flatten)]
    pub endpoint: EndpointArgs,
    #[command(flatten)]
    pub scopes: ScopeArgs,
}

#[derive(Debug, Args)]
pub(crate) struct RequestArgs {
    /// The URL (https, or http to loopback)
    pub url: String,
    /// HTTP method [default: GET, or POST with --data]
    #[arg(short = 'X', long = "request", value_name = "METHOD")]
    pub method: Option<String>,
    /// Request body; `@file` reads a file, `@-` standard input
    #[arg(short, long, value_name = "BODY")]
    pub data: Option<String>,
    /// Extra header, `Name: value` (repeatable)
    #[arg(short = 'H', long = "header", value_name = "HEADER")]
    pub headers: Vec<String>,
    /// Print the status line and response headers before the body
    #[arg(short, long)]
    pub include: bool,
    #[command(flatten)]
    pub endpoint: EndpointArgs,
    #[command(flatten)]
    pub scopes: ScopeArgs,
    /// A cached token with less time left than this is replaced
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub min_valid: u64,
}

#[derive(Debug, Args)]
pub(crate) struct PublishArgs {
    #[command(flatten)]
    pub endpoint: EndpointArgs,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
