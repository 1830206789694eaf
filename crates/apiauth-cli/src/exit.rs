//! Exit codes of `apiauth`, distinct per kind of failure so a script can
//! decide whether to retry, alert or fix its configuration.
//!
//! | code | meaning | retry? |
//! |---|---|---|
//! | 0 | success | |
//! | 1 | other failure | no |
//! | 2 | usage or configuration error (flags, profile, file permissions) | no: fix the command or the profile |
//! | 3 | credentials rejected (`invalid_client`, or the API refused the token) | no: fix the id or secret |
//! | 4 | scope rejected (`invalid_scope`) | no: ask for allowed scopes |
//! | 5 | rate limited (HTTP 429) | yes, after `Retry-After` |
//! | 6 | network or transient failure (connect, timeout, reset) | yes |
//! | 7 | server error (5xx, malformed answer) | yes, later |

/// Success.
pub const OK: u8 = 0;
/// Any failure without a more specific code.
pub const OTHER: u8 = 1;
/// A usage or configuration error: bad flags, a missing, malformed or
/// group/other-readable profile, an invalid URL. Also clap's code.
pub const USAGE: u8 = 2;
/// The server rejected the client credentials (RFC 6749 `invalid_client`
/// and friends), or the API rejected the token.
pub const CREDENTIALS: u8 = 3;
/// The server (or the provider's rules) rejected the requested scope.
pub const SCOPE: u8 = 4;
/// Rate limited (HTTP 429); the message says how long to wait.
pub const RATE_LIMITED: u8 = 5;
/// The request got no complete answer: connect failure, timeout, reset.
pub const NETWORK: u8 = 6;
/// The server failed (5xx) or answered in a shape it should not have.
pub const SERVER: u8 = 7;

/// The table printed at the end of `apiauth --help`.
pub(crate) const HELP: &str = "\
Exit codes:
  0  success
  1  other failure
  2  usage or configuration error (flags, profile file, permissions)
  3  credentials rejected (invalid_client; the API refused the token)
  4  scope rejected (invalid_scope)
  5  rate limited (HTTP 429; retry after the time given)
  6  network or transient failure (connect, timeout, reset)
  7  server error (5xx, malformed answer)

Environment:
  APIAUTH_PROFILE        profile used when --profile is not given (else `default`)
  APIAUTH_CONFIG_DIR     where profiles and cached tokens live
  APIAUTH_CLIENT_ID      client id for `token --provider …` without a profile
  APIAUTH_CLIENT_SECRET  client secret for `profile add` and `token --provider …`

Manual: docs/cli.md";
