//! Where a client secret may come from: the environment or standard input,
//! never an argument (arguments show in `ps` and shell history).

use std::io::{self, BufRead, IsTerminal};

use auth_core::ClientSecret;

use crate::failure::Failure;

/// Environment variable holding a client secret.
pub(crate) const SECRET_ENV: &str = "APIAUTH_CLIENT_SECRET";
/// Environment variable holding a client id (for runs without a profile).
pub(crate) const CLIENT_ID_ENV: &str = "APIAUTH_CLIENT_ID";

/// The secret from `APIAUTH_CLIENT_SECRET`, if set and not empty.
pub(crate) fn from_env() -> Option<ClientSecret> {
    std::env::var(SECRET_ENV)
        .ok()
        .filter(|s| !s.is_empty())
        .map(ClientSecret::new)
}

/// The secret for `profile add`: `APIAUTH_CLIENT_SECRET`, else a hidden
/// prompt on a terminal, else one line of standard input.
pub(crate) fn read(profile: &str) -> Result<ClientSecret, Failure> {
    if let Some(secret) = from_env() {
        return Ok(secret);
    }
    let stdin = io::stdin();
    let mut line = if stdin.is_terminal() {
        rpassword::prompt_password(format!("Client secret for profile `{profile}`: ")).map_err(
            |e| {
                Failure::usage(format!(
                    "could not read the client secret from the terminal: {e}"
                ))
            },
        )?
    } else {
        let mut line = String::new();
        stdin.lock().read_line(&mut line).map_err(|e| {
            Failure::usage(format!(
                "could not read the client secret from standard input: {e}"
            ))
        })?;
        line
    };
    // Only the line ending goes: `<<<"$SECRET"` and `echo` add one.
    while line.ends_with(['\n', '\r']) {
        line.pop();
    }
    if line.is_empty() {
        return Err(Failure::usage("no client secret given").hint(format!(
            "pipe it on standard input (`apiauth profile add {profile} … <<<\"$SECRET\"`) or set {SECRET_ENV}"
        )));
    }
    Ok(ClientSecret::new(line))
}
