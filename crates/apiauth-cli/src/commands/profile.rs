//! `apiauth profile add|list|show|remove`.

use super::print_line;
use super::register::refuse_overwrite;
use crate::cli::{ProfileAddArgs, ProfileCommand};
use crate::failure::Failure;
use crate::profile::{check_name, Auth, Profile, Profiles};
use crate::secret_input::{self, CLIENT_ID_ENV};
use crate::target::{config_dir, profile_name, Target};

pub(crate) fn run(profile: Option<&str>, command: ProfileCommand) -> Result<(), Failure> {
    let profiles = Profiles::new(&config_dir()?);
    match command {
        ProfileCommand::Add(args) => add(&profiles, profile, &args),
        ProfileCommand::List => list(&profiles),
        ProfileCommand::Show { name, json } => {
            show(&profiles, &chosen(profile, name.as_deref())?, json)
        }
        ProfileCommand::Remove { name } => remove(&profiles, &chosen(profile, name.as_deref())?),
    }
}

/// The positional name, else `--profile`, else the default; both given
/// and different is a mistake worth stopping.
fn chosen(flag: Option<&str>, positional: Option<&str>) -> Result<String, Failure> {
    let name = match (positional, flag) {
        (Some(p), Some(f)) if p != f => {
            return Err(Failure::usage(format!(
                "two profile names given: `{p}` and --profile `{f}`"
            )))
        }
        (Some(p), _) => p.to_owned(),
        (None, f) => profile_name(f),
    };
    check_name(&name)?;
    Ok(name)
}

fn add(profiles: &Profiles, flag: Option<&str>, args: &ProfileAddArgs) -> Result<(), Failure> {
    let name = chosen(flag, args.name.as_deref())?;
    if profiles.exists(&name) && !args.force {
        return Err(refuse_overwrite(&name));
    }
    let client_id = args
        .endpoint
        .client_id
        .clone()
        .or_else(|| std::env::var(CLIENT_ID_ENV).ok().filter(|s| !s.is_empty()))
        .ok_or_else(|| {
            Failure::usage("--client-id is required").hint(format!(
                "or set {CLIENT_ID_ENV}; the secret goes on standard input"
            ))
        })?;
    if args.endpoint.provider.is_none() {
        return Err(Failure::usage("--provider is required")
            .hint("one of oauth2, openverse, cc-catalog, markable"));
    }
    // Flags are checked before the secret is asked for, so a typo does not
    // cost a paste.
    if let Some(url) = &args.cache {
        crate::target::redis_config(url)?;
    }
    let mut profile = if args.endpoint.private_key.is_some() {
        // A key file: nothing to read from standard input.
        Profile::from_flags(&args.endpoint, &args.scopes.scopes, client_id, None)?
    } else {
        if args.endpoint.issuer.is_none() {
            // Checked before the secret is asked for (discovery waits for
            // the secret: its one request is made once).
            Profile::from_flags(
                &args.endpoint,
                &args.scopes.scopes,
                client_id.clone(),
                Some("unchecked".into()),
            )?;
        }
        let secret = secret_input::read(&name)?;
        Profile::from_flags(&args.endpoint, &args.scopes.scopes, client_id, Some(secret))?
    };
    profile.cache = args.cache.clone();
    profile.check()?;
    let path = profiles.save(&name, &profile)?;
    eprintln!(
        "Saved profile `{name}` ({}, {}) to {}",
        profile.provider,
        profile.endpoint(),
        path.display()
    );
    Ok(())
}

fn list(profiles: &Profiles) -> Result<(), Failure> {
    let names = profiles.names()?;
    if names.is_empty() {
        eprintln!(
            "No profiles yet; add one with `apiauth profile add NAME --provider … --client-id …`."
        );
        return Ok(());
    }
    let width = names.iter().map(String::len).max().unwrap_or(0);
    let mut lines = Vec::with_capacity(names.len());
    for name in &names {
        // One unreadable profile must not hide the others.
        let line = match profiles.load(name) {
            Ok(p) => format!(
                "{name:width$}  {:9}  {}  {}",
                p.provider.as_str(),
                p.client_id.escape_default(),
                p.endpoint()
            ),
            Err(f) => format!("{name:width$}  (unusable: {})", f.message),
        };
        lines.push(line);
    }
    print_line(&lines.join("\n"))
}

fn show(profiles: &Profiles, name: &str, json: bool) -> Result<(), Failure> {
    let profile = profiles.load(name)?;
    if json {
        return print_line(&profile.public_json().to_string());
    }
    let target = Target {
        name: Some(name.to_owned()),
        profile,
        profile_path: Some(profiles.path(name)),
        config: config_dir()?,
    };
    print_line(&describe(&target).join("\n"))
}

/// `key: value` lines describing a target's profile; shared with `status`.
pub(crate) fn describe(target: &Target) -> Vec<String> {
    let p = &target.profile;
    let mut lines = Vec::new();
    let mut add = |k: &str, v: String| lines.push(format!("{k:14} {v}"));
    match (&target.name, &target.profile_path) {
        (Some(name), Some(path)) => add("profile:", format!("{name} ({})", path.display())),
        _ => add("profile:", "none (from flags and the environment)".into()),
    }
    add("provider:", p.provider.as_str().into());
    add("token url:", p.endpoint());
    if let Some(auth) = p.auth {
        let auth = match auth {
            Auth::Basic => "basic (client_secret_basic)",
            Auth::Post => "post (client_secret_post)",
            Auth::PrivateKeyJwt => "private_key_jwt (a signed assertion per request)",
        };
        add("auth:", auth.into());
    }
    if let Some(issuer) = &p.issuer {
        add("issuer:", auth_core::redact::sanitize(issuer));
    }
    let scopes = if p.scopes.is_empty() {
        "(the server's default)".to_owned()
    } else {
        p.scopes.join(" ")
    };
    add("scopes:", scopes);
    for r in &p.resource {
        add("resource:", auth_core::redact::sanitize(r));
    }
    if let Some(a) = &p.audience {
        add("audience:", auth_core::redact::sanitize(a));
    }
    add("client id:", p.client_id.escape_default().to_string());
    match &p.private_key {
        Some(path) => {
            let key = crate::profile::read_key(path).map_or_else(
                |_| "unreadable now".to_owned(),
                |k| match k.key_id() {
                    Some(kid) => format!(
                        "{}, kid {}",
                        k.algorithm(),
                        auth_core::redact::sanitize(kid)
                    ),
                    None => k.algorithm().to_owned(),
                },
            );
            let shown = auth_core::redact::sanitize(&path.display().to_string());
            add("private key:", format!("{shown} ({key})"));
        }
        None => add("client secret:", "[redacted]".into()),
    }
    if let Some(url) = &p.cache {
        add("cache:", crate::target::shown_cache_url(url));
    }
    lines
}

fn remove(profiles: &Profiles, name: &str) -> Result<(), Failure> {
    // Forget its cached token too, when the profile can still say which.
    if let Ok(profile) = profiles.load(name) {
        let target = Target {
            name: Some(name.to_owned()),
            profile,
            profile_path: None,
            config: config_dir()?,
        };
        if let Ok(store) = target.store() {
            if let Ok(tokens) = target.token_provider(&store) {
                store.forget(tokens.cell().key());
            }
        }
    }
    if !profiles.remove(name)? {
        return Err(
            Failure::usage(format!("no profile named `{name}`")).hint("see `apiauth profile list`")
        );
    }
    eprintln!("Removed profile `{name}`.");
    Ok(())
}
