//! `apiauth register`: a new CC Catalog / Openverse client, saved as a
//! profile. The secret the server shows once goes straight into the
//! profile file and is never printed.

use auth_core::provider::openverse::{CC_CATALOG_BASE, OPENVERSE_BASE};
use auth_core::redact::sanitize;
use auth_core::{Openverse, Registration, Routes, SentCredentials};

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
    // Each generation of the server routes registration its own way.
    let routes = match args.provider {
        RegisterProvider::Openverse => Routes::Openverse,
        RegisterProvider::CcCatalog => Routes::CcCatalog,
    };
    let openverse = Openverse::with_routes(&base, routes).map_err(|e| from_core(&e, &cx))?;
    let registration = Registration::new(&args.name, &args.description, &args.email);
    let (left, _) = crate::deadline::left();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(left))
        .timeout_connect(Some(left.min(auth_ureq::DEFAULT_CONNECT_TIMEOUT)))
        .build()
        .into();
    let client = match auth_ureq::register_with_agent(&agent, &openverse, &registration) {
        Ok(client) => client,
        Err(auth_ureq::Error::Auth(auth_core::Error::RegistrationIncomplete { reason, sent })) => {
            return Err(keep_sent(&profiles, &name, &reason, &sent));
        }
        Err(e) => return Err(from_ureq(&e, &cx)),
    };
    // Registration always issues a secret; the core builds the credentials from it.
    let client_secret = client.credentials.client_secret().cloned().ok_or_else(|| {
        let e = auth_core::Error::Misuse("the registered client has no secret".into());
        from_core(&e, &cx)
    })?;
    let profile = Profile {
        provider: match args.provider {
            RegisterProvider::Openverse => Kind::Openverse,
            RegisterProvider::CcCatalog => Kind::CcCatalog,
        },
        token_url: None,
        base_url: Some(base.clone()),
        auth: None,
        scopes: Vec::new(),
        client_id: client.credentials.client_id().to_owned(),
        client_secret: Some(client_secret),
        private_key: None,
        issuer: None,
        cache: None,
        resource: Vec::new(),
        audience: None,
    };
    let path = profiles.save(&name, &profile)?;
    print_line(client.credentials.client_id())?;
    // The server's name and message come sanitized (and without the new
    // secret) from the core; sanitized again here, at the terminal.
    eprintln!(
        "Registered `{}` with {base} as profile `{name}` ({}); the client secret is kept there only.",
        sanitize(&client.name),
        path.display()
    );
    if let Some(message) = &client.message {
        eprintln!("{}", sanitize(message));
    }
    eprintln!(
        "Follow the link in the email sent to {}: until then this key is throttled like an anonymous caller. \
         `apiauth status --profile {name}` shows whether it is verified.",
        args.email
    );
    Ok(())
}

/// The server registered a client but its answer cannot make a profile:
/// what it sent is saved privately so the client is not lost.
fn keep_sent(profiles: &Profiles, name: &str, reason: &str, sent: &SentCredentials) -> Failure {
    let path = profiles.config().join(format!("registration-{name}.json"));
    let json = serde_json::json!({
        "note": "apiauth register: the server registered this client but its answer was unusable",
        "reason": reason,
        "client_id": sent.client_id,
        "client_secret": sent.client_secret.as_ref().map(|s| s.expose_secret()),
    });
    let saved = serde_json::to_vec_pretty(&json)
        .map_err(|e| e.to_string())
        .and_then(|bytes| {
            profiles.ensure_dir()?;
            auth_store::write_private(&path, &bytes).map_err(|e| e.to_string())
        });
    let message = format!("the server registered the client, but its answer is unusable: {reason}");
    // Not "retry later" (7): registering again would make another client.
    let f = Failure::new(crate::exit::OTHER, message);
    match saved {
        Ok(()) => f.hint(format!(
            "do not register again (that makes another client): what the server sent, secret included, is saved privately in {}; ask the server's operators to fix the answer",
            path.display()
        )),
        Err(e) => f.hint(format!(
            "the answer could not be saved ({e}); do not register again, ask the server's operators for the client's credentials"
        )),
    }
}

pub(crate) fn refuse_overwrite(name: &str) -> Failure {
    Failure::usage(format!("profile `{name}` already exists")).hint(format!(
        "pass --force to replace it, or choose another name with --profile (`apiauth profile remove {name}` deletes it)"
    ))
}
