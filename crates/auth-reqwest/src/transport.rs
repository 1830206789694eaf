//! Moving bytes: the token client's settings, a capped body read, and the
//! mapping of reqwest failures onto the core's transport kinds.

use std::error::Error as _;
use std::time::Duration;

use auth_cell::Limits;
use auth_core::TransportErrorKind;

/// A failure before a complete response.
#[derive(Debug)]
pub(crate) struct Failure {
    pub kind: TransportErrorKind,
    pub detail: String,
}

/// A client with rustls and the connect timeout. Auth endpoints get no
/// redirects (`for_api` false: a redirect could carry the secret to another
/// host) and no client-level total timeout: [`AuthTransport`] bounds each
/// exchange with one timer of its own (a second one inside reqwest cost
/// every exchange extra wake-ups, measured). API clients keep reqwest's
/// total timeout, which also covers the body the caller reads later.
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
    pub(crate) client: reqwest::Client,
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
        self.bounded(exchange).await
    }

    /// Runs `f` within the total timeout.
    pub(crate) async fn bounded<T>(
        &self,
        f: impl std::future::Future<Output = Result<T, Failure>>,
    ) -> Result<T, Failure> {
        tokio::time::timeout(self.timeout, f)
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
pub(crate) async fn read_capped(
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
    let mut kind = if e.is_timeout() {
        TransportErrorKind::Timeout
    } else if e.is_connect() {
        TransportErrorKind::Connect
    } else if e.is_body() || e.is_decode() {
        TransportErrorKind::Body
    } else {
        TransportErrorKind::Other
    };
    let mut detail = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind as K;
            match io.kind() {
                K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof
                    if kind == TransportErrorKind::Other || kind == TransportErrorKind::Body =>
                {
                    kind = TransportErrorKind::Reset;
                }
                K::TimedOut => kind = TransportErrorKind::Timeout,
                _ => {}
            }
        }
        let text = s.to_string();
        if kind == TransportErrorKind::Other
            && (text.contains("connection closed") || text.contains("incomplete message"))
        {
            kind = TransportErrorKind::Reset;
        }
        if s.source().is_none() {
            detail = format!("{detail}: {text}");
        }
        source = s.source();
    }
    if kind == TransportErrorKind::Other && detail.contains("certificate") {
        kind = TransportErrorKind::Tls;
    }
    Failure { kind, detail }
}
