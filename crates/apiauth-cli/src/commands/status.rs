//! `apiauth status`: the profile, its cached token, and for Openverse the
//! key's standing. Only the Openverse key status makes a request.

use std::time::SystemTime;

use auth_core::datetime::parse_iso8601;

use super::print_line;
use super::profile::describe;
use crate::cli::StatusArgs;
use crate::failure::{from_ureq, Failure};
use crate::target::{Cache, Target};

/// A key-status failure: the core's error names the endpoint; hints
/// about the network name it too.
fn key_status_failure(
    tokens: &auth_ureq::TokenProvider,
    target: &Target,
    e: &auth_ureq::Error,
) -> Failure {
    let mut cx = target.context();
    if let Ok(o) = tokens.cell().openverse() {
        cx.endpoint = Some(o.key_status_url().to_string());
    }
    from_ureq(e, &cx)
}

pub(crate) fn run(profile: Option<&str>, args: &StatusArgs) -> Result<(), Failure> {
    let target = Target::resolve(profile, &args.endpoint, &args.scopes.scopes)?;
    let store = target.store()?;
    let tokens = target.token_provider(&store)?;
    let key = tokens.cell().key();
    let mut lines = describe(&target);
    let mut add = |k: &str, v: String| lines.push(format!("{k:14} {v}"));
    match &store {
        Cache::File(f) => add("token cache:", f.path(key).display().to_string()),
        Cache::Redis(r) => {
            let reach = match r.ping() {
                Ok(rtt) => format!("reachable, PING {:.1} ms", rtt.as_secs_f64() * 1000.0),
                Err(e) => format!("unreachable: {e}; each run fetches its own token"),
            };
            let sealed = if r.config().is_encrypted() {
                "entries encrypted (AES-256-GCM)"
            } else {
                "entries not encrypted: anyone who can read this Redis can read the tokens"
            };
            add(
                "token cache:",
                format!("{} ({reach})", r.config().display_url()),
            );
            add("cache entry:", format!("{} ({sealed})", r.entry_key(key)));
        }
    }
    let cached = match store.load(key) {
        Ok(Some(entry)) => match entry.expires_at.as_deref() {
            None => "cached, no stated expiry (used until the API rejects it)".to_owned(),
            Some(at) => match parse_iso8601(at).map(|t| t.duration_since(SystemTime::now())) {
                Some(Ok(left)) => format!("valid until {at} ({} left)", human(left.as_secs())),
                _ => format!("expired at {at}; the next run fetches a new one"),
            },
        },
        Ok(None) => "none; the next run fetches one".to_owned(),
        Err(e) => format!("unreadable ({e})"),
    };
    add("cached token:", cached);
    if !target.profile.provider.is_openverse() {
        return print_line(&lines.join("\n"));
    }
    // Print what is known locally even when the key status fails, and
    // blame the endpoint that answered: the token endpoint for the token,
    // the key-status endpoint for the rest.
    if let Err(e) = tokens.token() {
        print_line(&lines.join("\n"))?;
        return Err(from_ureq(&e, &target.context()));
    }
    let status = match tokens.key_status() {
        Ok(status) => status,
        Err(e) => {
            print_line(&lines.join("\n"))?;
            return Err(key_status_failure(&tokens, &target, &e));
        }
    };
    let mut add = |k: &str, v: String| lines.push(format!("{k:14} {v}"));
    let verified = match status.verified {
        Some(true) => "yes".to_owned(),
        Some(false) => "no: follow the link in the registration email; until then the key is \
                        throttled like an anonymous caller"
            .to_owned(),
        None => "unknown (the server did not say)".to_owned(),
    };
    add("key verified:", verified);
    add(
        "rate limit:",
        status
            .rate_limit_model
            .unwrap_or_else(|| "unknown".to_owned()),
    );
    let count = |n: Option<u64>| n.map_or_else(|| "?".to_owned(), |n| n.to_string());
    let requests = if status.counts_unavailable {
        "unknown right now (the server cannot count at the moment, HTTP 424)".to_owned()
    } else if status.requests_this_minute.is_none() && status.requests_today.is_none() {
        // Openverse counts an unverified key's requests per IP, not per key.
        "not counted for this key (none yet, or counted per address until it is verified)"
            .to_owned()
    } else {
        format!(
            "{} this minute, {} today",
            count(status.requests_this_minute),
            count(status.requests_today)
        )
    };
    add("requests:", requests);
    if let Some(limits) = tokens.last_rate_limits() {
        for limit in &limits.scopes {
            add(
                "limit:",
                format!(
                    "{} {} ({} left)",
                    limit.scope,
                    limit.limit.as_deref().unwrap_or("?"),
                    count(limit.available)
                ),
            );
        }
    }
    print_line(&lines.join("\n"))
}

/// `3 h 12 min`, `4 min`, `35 s`.
fn human(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min", secs / 60),
        _ => format!("{} h {} min", secs / 3600, secs % 3600 / 60),
    }
}
