//! `apiauth request`: one API call with the token, curl-style. A token the
//! API rejects (401) is renewed and the call repeated once (auth-ureq's
//! `send`). HTTP error statuses print the body and exit non-zero, as
//! `gh api` does, so a script's `set -e` notices.

use std::io::{Read, Write};
use std::net::IpAddr;
use std::time::Duration;

use http::header::{
    HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE,
};
use http::{Method, Request, Response, Uri};

use super::write_failed;
use crate::cli::RequestArgs;
use crate::exit;
use crate::failure::{from_ureq, Failure};
use crate::target::{token_with_min_valid, Target};

pub(crate) fn run(profile: Option<&str>, args: &RequestArgs) -> Result<(), Failure> {
    let target = Target::resolve(profile, &args.endpoint, &args.scopes.scopes)?;
    let request = build(args)?;
    let store = target.store()?;
    let tokens = target.token_provider(&store)?;
    let cx = target.context();
    token_with_min_valid(&tokens, &store, Duration::from_secs(args.min_valid), &cx)?;
    let response = tokens.send(request).map_err(|e| {
        // The API answered (or not), not the token endpoint.
        let mut api = cx.clone();
        api.endpoint = Some(auth_core::redact::Redactor::default().endpoint(&args.url));
        from_ureq(&e, &api)
    })?;
    print(&response, args.include)?;
    check_status(&response)
}

fn build(args: &RequestArgs) -> Result<Request<Vec<u8>>, Failure> {
    let uri = checked_url(&args.url)?;
    let body = match args.data.as_deref() {
        None => None,
        Some("@-") => {
            let mut bytes = Vec::new();
            std::io::stdin().read_to_end(&mut bytes).map_err(|e| {
                Failure::usage(format!("could not read the body from standard input: {e}"))
            })?;
            Some(bytes)
        }
        Some(d) if d.starts_with('@') => Some(std::fs::read(&d[1..]).map_err(|e| {
            Failure::usage(format!("could not read the body from {}: {e}", &d[1..]))
        })?),
        Some(d) => Some(d.as_bytes().to_vec()),
    };
    let method = match &args.method {
        Some(m) => Method::from_bytes(m.to_ascii_uppercase().as_bytes())
            .map_err(|_| Failure::usage(format!("invalid HTTP method `{}`", m.escape_default())))?,
        None if body.is_some() => Method::POST,
        None => Method::GET,
    };
    let mut request = Request::new(Vec::new());
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    for header in &args.headers {
        let (name, value) = parse_header(header)?;
        request.headers_mut().append(name, value);
    }
    if let Some(body) = body {
        if !request.headers().contains_key(CONTENT_TYPE) {
            // JSON when it parses as JSON, else curl's default for -d.
            let kind = if serde_json::from_slice::<serde_json::Value>(&body).is_ok() {
                "application/json"
            } else {
                "application/x-www-form-urlencoded"
            };
            request
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(kind));
        }
        *request.body_mut() = body;
    }
    Ok(request)
}

/// https anywhere, plain http only to this machine: a bearer token sent in
/// clear can be replayed by anyone on the path.
fn checked_url(url: &str) -> Result<Uri, Failure> {
    let uri: Uri = url
        .parse()
        .map_err(|e| Failure::usage(format!("invalid URL `{}`: {e}", url.escape_default())))?;
    let host = uri.host().unwrap_or("");
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match uri.scheme_str() {
        Some("https") if !host.is_empty() => Ok(uri),
        Some("http") if loopback => Ok(uri),
        Some("http") => Err(Failure::usage(format!(
            "refusing to send a token over plain http to `{host}`"
        ))
        .hint("use https (plain http is allowed to loopback only)")),
        _ => Err(
            Failure::usage(format!("`{}` is not an http(s) URL", url.escape_default()))
                .hint("give the full URL, e.g. https://api.example.com/items"),
        ),
    }
}

fn parse_header(header: &str) -> Result<(HeaderName, HeaderValue), Failure> {
    let bad = || {
        Failure::usage(format!("invalid header `{}`", header.escape_default()))
            .hint("write it as `Name: value`")
    };
    let (name, value) = header.split_once(':').ok_or_else(bad)?;
    let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| bad())?;
    if name == AUTHORIZATION {
        return Err(Failure::usage("-H Authorization is not allowed")
            .hint("apiauth sets Authorization from the profile's token"));
    }
    let value = HeaderValue::from_str(value.trim()).map_err(|_| bad())?;
    Ok((name, value))
}

fn print(response: &Response<Vec<u8>>, include: bool) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    if include {
        let status = response.status();
        let mut head = format!(
            "{:?} {} {}\n",
            response.version(),
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        );
        for (name, value) in response.headers() {
            head.push_str(name.as_str());
            head.push_str(": ");
            head.push_str(&String::from_utf8_lossy(value.as_bytes()));
            head.push('\n');
        }
        head.push('\n');
        out.write_all(head.as_bytes()).map_err(write_failed)?;
    }
    out.write_all(response.body())
        .and_then(|()| out.flush())
        .map_err(write_failed)
}

/// Success and redirects are fine; errors get the exit code of their kind.
fn check_status(response: &Response<Vec<u8>>) -> Result<(), Failure> {
    let status = response.status();
    if status.is_success() || status.is_informational() {
        return Ok(());
    }
    if status.is_redirection() {
        let to = response.headers().get(http::header::LOCATION).map_or_else(
            || "nowhere (no Location)".to_owned(),
            |l| auth_core::redact::Redactor::default().location(l.as_bytes()),
        );
        return Err(Failure::usage(format!(
            "the API answered HTTP {} redirecting to {to}",
            status.as_u16()
        ))
        .hint(
            "apiauth follows no redirect with a token: call the final URL (retrying will not help)",
        ));
    }
    let message = format!(
        "the API answered HTTP {} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    );
    let header = |name| {
        response
            .headers()
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .unwrap_or("")
    };
    let failure = match status.as_u16() {
        401 => Failure::new(exit::CREDENTIALS, message)
            .hint("the API refused a freshly fetched token too; check the client's rights"),
        403 if header(WWW_AUTHENTICATE).contains("insufficient_scope") => {
            Failure::new(exit::SCOPE, message)
                .hint("the token lacks a scope this call needs (--scope)")
        }
        403 => Failure::new(exit::CREDENTIALS, message)
            .hint("this client may not do that (a revoked key, or a token without the right)"),
        429 => {
            let wait = header(RETRY_AFTER);
            let hint = match wait.trim().parse::<u64>() {
                Ok(secs) => format!(
                    "the server asks to wait {} (Retry-After)",
                    auth_core::describe_wait(Duration::from_secs(secs))
                ),
                Err(_) if wait.is_empty() => "wait a while before trying again".to_owned(),
                Err(_) => format!(
                    "the server asks to wait until {} (Retry-After)",
                    auth_core::redact::sanitize(&auth_core::redact::shorten(wait, 40))
                ),
            };
            Failure::new(exit::RATE_LIMITED, message).hint(hint)
        }
        500..=599 => {
            Failure::new(exit::SERVER, message).hint("the API is failing; try again later")
        }
        _ => Failure::new(exit::OTHER, message),
    };
    Err(failure)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_go_over_https_or_to_loopback_only() {
        assert!(checked_url("https://api.example.com/x").is_ok());
        assert!(checked_url("http://127.0.0.1:8080/x").is_ok());
        assert!(checked_url("http://[::1]:8080/x").is_ok());
        assert!(checked_url("http://localhost/x").is_ok());
        assert!(checked_url("http://api.example.com/x").is_err());
        assert!(checked_url("ftp://api.example.com/x").is_err());
        assert!(checked_url("/relative").is_err());
    }

    #[test]
    fn headers_parse_and_authorization_is_ours() {
        let (n, v) = parse_header("X-Trace:  abc ").unwrap();
        assert_eq!(n, "x-trace");
        assert_eq!(v, "abc");
        assert!(parse_header("authorization: Bearer x").is_err());
        assert!(parse_header("no colon").is_err());
    }
}
