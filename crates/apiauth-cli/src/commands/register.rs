//! `apiauth register`: a new CC Catalog / Openverse client, saved as a
//! profile. The secret the server shows once goes straight into the
//! profile file and is never printed.

use auth_core::provider::openverse::{CC_CATALOG_BASE, OPENVERSE_BASE};
use auth_core::{Openverse, Registration};

use super::print_line;
use crate::cli::{RegisterArgs, RegisterProvider};
use crate::failure::{from_core, from_ureq, Context, Failure};
use crate::profile::{check_name, Kind, Profile, Profiles};
use crate::target::{config_dir, profile_name};

pub(crate) fn run(profile: Option<&str>, args: &RegisterArgs) -> Result<(), Failure> {
    let name = profile_name(profile);
    check_name(&name)?;
    let profiles = Profiles::new(&config_dir()?);
    // Checked before the request: a registration cannot be undone, and its
    // secret would have nowhere to go.
    if profiles.exists(&name) && !args.force {
        return Err(refuse_overwrite(&name));
    }
    let base = args
        .base_url
        .as_deref()
        .unwrap_or(match args.provider {
            RegisterProvider::Openverse => OPENVERSE_BASE,
            RegisterProvider::CcCatalog => CC_CATALOG_BASE,
        })
        .trim_end_matches('/')
        .to_owned();
    let cx = Context {
        profile: Some(name.clone()),
        endpoint: Some(base.clone()),
    };
    let openverse = Openverse::with_base(&base).map_err(|e| from_core(&e, &cx))?;
    let registration = Registration::new(&args.name, &args.description, &args.email);
    let client = auth_ureq::register(&openverse, &registration).map_err(|e| from_ureq(&e, &cx))?;
    let profile = Profile {
        provider: Kind::Openverse,
        token_url: None,
        base_url: Some(base.clone()),
        auth: None,
        scopes: Vec::new(),
        client_id: client.credentials.client_id().to_owned(),
        client_secret: client.credentials.client_secret().clone(),
    };
    let path = profiles.save(&name, &profile)?;
    print_line(client.credentials.client_id())?;
    eprintln!(
        "Registered `{}` with {base} as profile `{name}` ({}); the client secret is kept there only.",
        client.name,
        path.display()
    );
    if let Some(message) = &client.message {
        eprintln!("{message}");
    }
    eprintln!(
        "Follow the link in the email sent to {}: until then this key is throttled like an anonymous caller. \
         `apiauth status --profile {name}` shows whether it is verified.",
        args.email
    );
    Ok(())
}

pub(crate) fn refuse_overwrite(name: &str) -> Failure {
    Failure::usage(format!("profile `{name}` already exists")).hint(format!(
        "pass --force to replace it, or choose another name with --profile (`apiauth profile remove {name}` deletes it)"
    ))
}
