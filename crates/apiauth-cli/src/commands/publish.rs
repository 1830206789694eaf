//! `apiauth publish-token`: a Markable `search` token, the only kind that
//! may be shown to the world. Everything else is refused with the reason.

use auth_ureq::SearchTokenProvider;

use super::print_line;
use crate::cli::PublishArgs;
use crate::failure::{from_ureq, Failure};
use crate::profile::Kind;
use crate::target::Target;

pub(crate) fn run(profile: Option<&str>, args: &PublishArgs) -> Result<(), Failure> {
    let target = Target::resolve(profile, &args.endpoint, &[])?;
    let who = target
        .name
        .as_deref()
        .map_or_else(|| "this client".to_owned(), |n| format!("profile `{n}`"));
    if target.profile.provider != Kind::Markable {
        return Err(Failure::usage(format!(
            "{who} is for {}; only Markable `search` tokens may be published",
            target.profile.provider
        ))
        .hint("other tokens carry the client's full rights: keep them private"));
    }
    let scopes = target.scopes()?;
    if scopes.canonical() != "search" {
        let name = target.name.as_deref().unwrap_or("NAME");
        return Err(Failure::usage(format!(
            "{who} has the Markable `{}` scope, whose token allows every operation and must stay private",
            scopes.canonical()
        ))
        .hint(format!(
            "a `search` token may be published; add a search profile: \
             `apiauth profile add {name}-search --provider markable --scope search --client-id …`"
        )));
    }
    let store = target.store()?;
    let cx = target.context();
    let search =
        SearchTokenProvider::new(target.builder(&store)?).map_err(|e| from_ureq(&e, &cx))?;
    let token = search.publishable_token().map_err(|e| from_ureq(&e, &cx))?;
    print_line(token.as_str())
}
