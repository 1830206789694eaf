//! `apiauth token`: the access token alone on stdout, for `$(apiauth token)`.

use std::time::Duration;

use auth_core::datetime::format_rfc3339;

use super::print_line;
use crate::cli::TokenArgs;
use crate::failure::Failure;
use crate::target::{token_with_min_valid, Target};

pub(crate) fn run(profile: Option<&str>, args: &TokenArgs) -> Result<(), Failure> {
    let target = Target::resolve(profile, &args.endpoint, &args.scopes.scopes)?;
    let store = target.store()?;
    let tokens = target.token_provider(&store)?;
    let token = token_with_min_valid(
        &tokens,
        &store,
        Duration::from_secs(args.min_valid),
        &target.context(),
    )?;
    if args.json {
        let json = serde_json::json!({
            "access_token": token.access_token().expose_secret(),
            "token_type": token.token_type().as_str(),
            "expires_at": token.expires_at_wall().map(format_rfc3339),
            "scope": token.granted_scopes().canonical(),
        });
        print_line(&json.to_string())
    } else {
        print_line(token.access_token().expose_secret())
    }
}
