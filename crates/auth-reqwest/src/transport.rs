//! Moving bytes: client settings, a capped body read, failures sorted.

use std::error::Error as _;
use std::time::Duration;

use auth_cell::Limits;
use auth_core::TransportErrorKind;

pub(crate) use auth_cell::Failure;

/// A rustls client with the connect timeout. Auth clients follow no
/// redirect (it could carry the secret away) and have no total timeout of
/// their own: [`AuthTransport`] times each exchange (two timers cost
/// wake-ups, measured). API clients keep reqwest's total timeout, which
/// also covers the body the caller reads later.
pub(crate) fn client(limits: &Limits, for_api: bool) -> Result<reqwest::Client, auth_cell::Error> {
    let builder = reqwest::Client::builder()
        .connect_timeout(limits.connect_timeout)
        .use_rustls_tls();
    let builder = if for_api {
        builder.timeout(limits.timeout)
    } else {
        // The provider already refused non-loopback http.
        builder
            .redirect(reqwest::redirect::Policy::none())
            .https_only(false)
    };
    builder
        .build()
        .map_err(|e| auth_cell::Error::config(format!("could not build the HTTP client: {e}")))
}

/// Sends auth-endpoint requests (token, registration, key status): the
/// whole exchange, body included, within one total timeout, the body capped.
#[derive(Clone, Debug)]
pub(crate) struct AuthTransport {
    client: reqwest::Client,
    /// The token URL, parsed for reqwest once (it was re-parsed per fetch).
    url: Option<(http::Uri, reqwest::Url)>,
    timeout: Duration,
    max_body: usize,
}

impl AuthTransport {
    pub(crate) fn new(
        client: reqwest::Client,
        token_url: Option<&http::Uri>,
        limits: &Limits,
    ) -> Self {
        let url =
            token_url.and_then(|u| Some((u.clone(), reqwest::Url::parse(&u.to_string()).ok()?)));
        Self {
            client,
            url,
            timeout: limits.timeout,
            max_body: limits.max_body_bytes,
        }
    }

    /// Sends `request` and reads at most the cap of its body, all within
    /// the total timeout.
    pub(crate) async fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, Failure> {
        let exchange = async {
            let request = match &self.url {
                Some((uri, url)) if request.uri() == uri => {
                    let (parts, body) = request.into_parts();
                    let mut r = reqwest::Request::new(parts.method, url.clone());
                    *r.headers_mut() = parts.headers;
                    *r.version_mut() = parts.version;
                    *r.body_mut() = Some(body.into());
                    r
                }
                _ => reqwest::Request::try_from(request).map_err(|e| classify(&e))?,
            };
            let response = self
                .client
                .execute(request)
                .await
                .map_err(|e| classify(&e))?;
            read_capped(response, self.max_body).await
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .unwrap_or_else(|_| {
                Err(Failure {
                    kind: TransportErrorKind::Timeout,
                    detail: format!("no complete answer within {:?}", self.timeout),
                })
            })
    }
}

/// Turns a reqwest response into an `http` one, refusing bodies over `cap`.
/// Content-Length is only a hint: the count is kept while reading.
async fn read_capped(
    mut response: reqwest::Response,
    cap: usize,
) -> Result<http::Response<Vec<u8>>, Failure> {
    let too_large = || Failure {
        kind: TransportErrorKind::BodyTooLarge,
        detail: format!("the response body exceeds the {cap}-byte limit"),
    };
    if response.content_length().is_some_and(|n| n > cap as u64) {
        return Err(too_large());
    }
    let mut builder = http::Response::builder()
        .status(response.status())
        .version(response.version());
    if let Some(h) = builder.headers_mut() {
        *h = std::mem::take(response.headers_mut());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| classify(&e))? {
        if body.len() + chunk.len() > cap {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    builder.body(body).map_err(|e| Failure {
        kind: TransportErrorKind::Other,
        detail: e.to_string(),
    })
}

/// Maps a reqwest error to the kind the core backs off on. The detail is
/// reqwest's message plus its root cause; neither holds a secret (the
/// secret travels in headers and bodies, which reqwest never prints).
pub(crate) fn classify(e: &reqwest::Error) -> Failure {
    use TransportErrorKind as K;
    let mut kind = if e.is_timeout() {
        K::Timeout
    } else if e.is_connect() {
        K::Connect
    } else if e.is_body() || e.is_decode() {
        K::Body
    } else {
        K::Other
    };
    let mut detail = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            let by_io = K::from_io(io.kind(), kind == K::Body);
            if matches!(kind, K::Other | K::Body) || by_io == K::Timeout {
                kind = by_io;
            }
        } else if kind == K::Other {
            // hyper's parse errors ("invalid content-length parsed", "message
            // head is too large", …): the server answered, not in HTTP.
            let parsed = text.starts_with("invalid ") && text.ends_with(" parsed");
            if parsed || text.contains("invalid HTTP") || text.contains("message head is too") {
                kind = K::Protocol;
            } else if text.contains("connection closed") || text.contains("incomplete message") {
                kind = K::Reset;
            }
        }
        if s.source().is_none() {
            detail = format!("{detail}: {text}");
        }
        source = s.source();
    }
    if kind == K::Other && detail.contains("certificate") {
        kind = K::Tls;
    }
    Failure { kind, detail }
}
