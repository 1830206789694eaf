//! Moving bytes: one request out, one capped response back, every failure
//! sorted into a [`TransportErrorKind`] for the core. Nothing here reads a
//! status code or a body: those go to `auth-core` unchanged.

use std::io::{self, Read};
use std::time::Duration;

use std::net::{IpAddr, SocketAddr};

use auth_core::TransportErrorKind;
use http::{Method, Request, Response};
use ureq::config::Config;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};
use ureq::{Agent, AsSendBody};

const USER_AGENT: &str = concat!("apiauth-ureq/", env!("CARGO_PKG_VERSION"));

/// A request that got no complete response.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) kind: TransportErrorKind,
    pub(crate) detail: String,
}

/// An agent plus the rules it is used under.
#[derive(Clone, Debug)]
pub(crate) struct Transport {
    agent: Agent,
    max_body: usize,
    /// Auth endpoints: never follow a redirect, whatever the agent says.
    no_redirects: bool,
}

impl Transport {
    /// The transport for token, registration and key-status requests: an
    /// agent apiauth configures itself, so a caller's agent settings
    /// (redirects, status-as-error, proxies of their choosing) cannot
    /// weaken the auth endpoints' rules.
    pub(crate) fn for_auth(connect: Duration, total: Duration, max_body: usize) -> Self {
        let config = Agent::config_builder()
            // A 3xx goes to the core, which names it; following it could
            // carry the client secret to another host.
            .max_redirects(0)
            // 4xx/5xx bodies hold the RFC 6749 §5.2 error the core parses.
            .http_status_as_error(false)
            .timeout_connect(Some(connect))
            .timeout_global(Some(total))
            .user_agent(USER_AGENT)
            .build();
        let agent = Agent::with_parts(config, DefaultConnector::default(), LiteralFirst::default());
        Self {
            agent,
            max_body,
            no_redirects: true,
        }
    }

    /// An auth transport over a caller's agent (for `register_with_agent`):
    /// redirects and status handling are forced per request.
    pub(crate) fn for_auth_with(agent: Agent, max_body: usize) -> Self {
        Self {
            agent,
            max_body,
            no_redirects: true,
        }
    }

    /// The default agent for API calls: the same timeouts, redirects as
    /// ureq follows them (it drops `Authorization` on the way).
    pub(crate) fn default_api_agent(connect: Duration, total: Duration) -> Agent {
        let config = Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(connect))
            .timeout_global(Some(total))
            .user_agent(USER_AGENT)
            .build();
        Agent::with_parts(config, DefaultConnector::default(), LiteralFirst::default())
    }

    /// A transport for API calls over `agent`.
    pub(crate) fn for_api(agent: Agent, max_body: usize) -> Self {
        Self {
            agent,
            max_body,
            no_redirects: false,
        }
    }

    /// Sends `request` and reads the whole response, up to the cap.
    pub(crate) fn exchange(&self, request: Request<Vec<u8>>) -> Result<Response<Vec<u8>>, Failure> {
        self.exchange_within(request, None)
    }

    /// Like [`exchange`](Self::exchange), ending within `within` (when
    /// shorter than the agent's own timeout): a caller's deadline bounds
    /// the request it sends itself.
    pub(crate) fn exchange_within(
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
        .map_err(|e| failure(&e, Phase::Head))?;
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
        if self.no_redirects {
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

/// Reads at most `cap + 1` bytes: one past the cap proves the body too
/// large without trusting `Content-Length` or buffering the rest.
fn read_capped(reader: impl Read, cap: usize) -> Result<Vec<u8>, Failure> {
    let limit = u64::try_from(cap).unwrap_or(u64::MAX).saturating_add(1);
    let mut body = Vec::new();
    reader
        .take(limit)
        .read_to_end(&mut body)
        .map_err(|e| failure(&ureq::Error::from(e), Phase::Body))?;
    if body.len() > cap {
        return Err(Failure {
            kind: TransportErrorKind::BodyTooLarge,
            detail: format!("the response body is larger than the {cap}-byte cap"),
        });
    }
    Ok(body)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Connecting, sending, waiting for the status line and headers.
    Head,
    /// Reading the body after complete headers.
    Body,
}

fn failure(e: &ureq::Error, phase: Phase) -> Failure {
    let kind = classify(e, phase);
    let stage = match phase {
        Phase::Head => "sending the request",
        Phase::Body => "reading the response body",
    };
    Failure {
        kind,
        detail: format!("{stage}: {e}"),
    }
}

fn classify(e: &ureq::Error, phase: Phase) -> TransportErrorKind {
    use ureq::Error as U;
    use TransportErrorKind as K;
    // Once the headers are in, anything but a timeout means the body broke.
    let broken = if phase == Phase::Body {
        K::Body
    } else {
        K::Reset
    };
    match e {
        U::Timeout(_) => K::Timeout,
        U::HostNotFound | U::ConnectionFailed | U::ConnectProxyFailed(_) => K::Connect,
        U::Tls(_) | U::Rustls(_) | U::Pem(_) | U::TlsRequired => K::Tls,
        U::Io(io) => match io.kind() {
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => K::Timeout,
            io::ErrorKind::ConnectionRefused
            | io::ErrorKind::AddrNotAvailable
            | io::ErrorKind::HostUnreachable
            | io::ErrorKind::NetworkUnreachable
            | io::ErrorKind::NotConnected => K::Connect,
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof => broken,
            _ if phase == Phase::Body => K::Body,
            _ => K::Other,
        },
        U::Protocol(_) | U::BodyStalled if phase == Phase::Body => K::Body,
        U::Protocol(_) => K::Reset,
        _ => K::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_kinds_map_by_phase() {
        let io = |k| ureq::Error::Io(io::Error::new(k, "x"));
        let reset = io(io::ErrorKind::ConnectionReset);
        assert_eq!(classify(&reset, Phase::Head), TransportErrorKind::Reset);
        assert_eq!(classify(&reset, Phase::Body), TransportErrorKind::Body);
        assert_eq!(
            classify(&io(io::ErrorKind::ConnectionRefused), Phase::Head),
            TransportErrorKind::Connect
        );
        assert_eq!(
            classify(&ureq::Error::Timeout(ureq::Timeout::Global), Phase::Body),
            TransportErrorKind::Timeout
        );
        assert_eq!(
            classify(&ureq::Error::HostNotFound, Phase::Head),
            TransportErrorKind::Connect
        );
    }

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
