//! Moving bytes: one request out, one capped response back, every failure
//! sorted into a [`TransportErrorKind`]; statuses and bodies go to the core.

use std::io::Read;
use std::time::Duration;

use std::net::{IpAddr, SocketAddr};

use auth_cell::Limits;
use auth_core::TransportErrorKind;
use http::{Method, Request, Response};
use ureq::config::Config;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};
use ureq::{Agent, AsSendBody};

const USER_AGENT: &str = concat!("apiauth-ureq/", env!("CARGO_PKG_VERSION"));

pub(crate) use auth_cell::Failure;

/// An agent plus the rules it is used under.
#[derive(Clone, Debug)]
pub(crate) struct Transport {
    agent: Agent,
    max_body: usize,
    /// Auth endpoints (token, registration, key status): never follow a
    /// redirect, whatever the agent says — it could carry the client
    /// secret to another host; a 3xx goes to the core, which names it.
    auth: bool,
}

impl Transport {
    /// Requests through `agent`, bodies capped at `max_body`; `auth` for
    /// the auth endpoints' rules.
    pub(crate) fn new(agent: Agent, max_body: usize, auth: bool) -> Self {
        Self {
            agent,
            max_body,
            auth,
        }
    }

    /// Sends `request` and reads the whole response, up to the cap, within
    /// `within` when that is shorter than the agent's own timeout (a
    /// caller's deadline bounds the request it sends itself).
    pub(crate) fn exchange(
        &self,
        request: Request<Vec<u8>>,
        within: Option<Duration>,
    ) -> Result<Response<Vec<u8>>, Failure> {
        // A GET with an empty Vec body would go out with `Content-Length: 0`,
        // which some servers and proxies refuse.
        let bodiless = request.body().is_empty()
            && matches!(
                *request.method(),
                Method::GET | Method::HEAD | Method::DELETE
            );
        let response = if bodiless {
            let (parts, _) = request.into_parts();
            self.run(Request::from_parts(parts, ()), within)
        } else {
            self.run(request, within)
        }
        .map_err(|e| failure(&e, false))?;
        let (parts, body) = response.into_parts();
        let body = read_capped(body.into_reader(), self.max_body)?;
        Ok(Response::from_parts(parts, body))
    }

    fn run<S: AsSendBody>(
        &self,
        request: Request<S>,
        within: Option<Duration>,
    ) -> Result<Response<ureq::Body>, ureq::Error> {
        // Per request, so a caller's agent built with ureq's defaults
        // (status as error) still hands a 401 back for the retry logic.
        let mut config = self
            .agent
            .configure_request(request)
            .http_status_as_error(false);
        if self.auth {
            config = config.max_redirects(0);
        }
        if let Some(within) = within {
            let agent_limit = self.agent.config().timeouts().global;
            if agent_limit.is_none_or(|l| within < l) {
                config = config.timeout_global(Some(within));
            }
        }
        self.agent.run(config.build())
    }
}

/// An agent apiauth configures itself, so a caller's agent settings
/// cannot weaken the auth endpoints' rules: 4xx/5xx reach the core (their
/// bodies hold the RFC 6749 §5.2 error), IP literals skip the resolver
/// thread, and no redirect is followed — on an auth endpoint it could
/// carry the secret away, on an API call the token (a 3xx is handed back
/// as the answer; pass an agent of your own to follow them).
pub(crate) fn agent(limits: &Limits) -> Agent {
    let config = Agent::config_builder()
        .max_redirects(0)
        .http_status_as_error(false)
        .timeout_connect(Some(limits.connect_timeout))
        .timeout_global(Some(limits.timeout))
        .user_agent(USER_AGENT)
        .build();
    Agent::with_parts(config, DefaultConnector::default(), LiteralFirst::default())
}

/// Reads at most `cap + 1` bytes: one past the cap proves the body too
/// large without trusting `Content-Length` or buffering the rest.
fn read_capped(reader: impl Read, cap: usize) -> Result<Vec<u8>, Failure> {
    let limit = u64::try_from(cap).unwrap_or(u64::MAX).saturating_add(1);
    let mut body = Vec::new();
    reader
        .take(limit)
        .read_to_end(&mut body)
        .map_err(|e| failure(&ureq::Error::from(e), true))?;
    if body.len() > cap {
        return Err(Failure {
            kind: TransportErrorKind::BodyTooLarge,
            detail: format!("the response body is larger than the {cap}-byte cap"),
        });
    }
    Ok(body)
}

/// Sorts a ureq failure for the core; `answered` once the status line and
/// headers were read (a broken connection then means an incomplete body).
fn failure(e: &ureq::Error, answered: bool) -> Failure {
    use ureq::Error as U;
    use TransportErrorKind as K;
    let kind = match e {
        U::Timeout(_) => K::Timeout,
        U::HostNotFound | U::ConnectionFailed | U::ConnectProxyFailed(_) => K::Connect,
        U::Tls(_) | U::Rustls(_) | U::Pem(_) | U::TlsRequired => K::Tls,
        U::Io(io) => K::from_io(io.kind(), answered),
        U::Protocol(_) | U::BodyStalled if answered => K::Body,
        // The server sent something, but not HTTP ureq can read.
        U::Protocol(_) | U::LargeResponseHeader(..) => K::Protocol,
        _ => K::Other,
    };
    let stage = if answered {
        "reading the response body"
    } else {
        "sending the request"
    };
    let detail = format!("{stage}: {e}");
    Failure { kind, detail }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_is_exact() {
        assert_eq!(read_capped(&b"abcd"[..], 4).unwrap(), b"abcd");
        let e = read_capped(&b"abcde"[..], 4).unwrap_err();
        assert_eq!(e.kind, TransportErrorKind::BodyTooLarge);
    }
}

/// A resolver that answers IP-literal hosts itself. ureq's default resolver
/// starts a thread per lookup whenever a timeout is set — even for
/// `127.0.0.1`, even on a pooled connection — which more than doubled the
/// cost of a token exchange on loopback (measured by `cargo xtask bench`).
/// Names still go to the default resolver, timeout and all.
#[derive(Debug, Default)]
struct LiteralFirst(DefaultResolver);

impl Resolver for LiteralFirst {
    fn resolve(
        &self,
        uri: &http::Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let literal = uri
            .host()
            .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
            .and_then(|h| h.parse::<IpAddr>().ok());
        match literal {
            Some(ip) => {
                let port = uri
                    .port_u16()
                    .unwrap_or(if uri.scheme_str() == Some("https") {
                        443
                    } else {
                        80
                    });
                let mut addrs = self.empty();
                addrs.push(SocketAddr::new(ip, port));
                Ok(addrs)
            }
            None => self.0.resolve(uri, config, timeout),
        }
    }
}
